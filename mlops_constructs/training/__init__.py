from mlops_constructs.training.gate import BUNDLED_REPORT, PROBLEM_TYPES, GateCondition, bundled_paths
from mlops_constructs.training.images import builtin_image_uri
from mlops_constructs.training.training_pipeline import (
    DRIFT_BASELINE_KEY, RETRAIN_EVENT_DETAIL_TYPE, RETRAIN_EVENT_SOURCE, Preprocessing, ScriptStep, TrainingPipeline, TrainingPipelineBase,
)
from mlops_constructs.training.source_archive import source_archive
from mlops_constructs.training.tuning import TUNING_JOB_KEY, CategoricalRange, ContinuousRange, IntegerRange, Tuning, TuningObjective

__all__ = [
    "BUNDLED_REPORT", "DRIFT_BASELINE_KEY", "PROBLEM_TYPES", "RETRAIN_EVENT_DETAIL_TYPE", "RETRAIN_EVENT_SOURCE", "GateCondition",
    "Preprocessing", "ScriptStep", "TrainingPipeline", "TrainingPipelineBase", "bundled_paths", "builtin_image_uri", "source_archive",
    "TUNING_JOB_KEY", "CategoricalRange", "ContinuousRange", "IntegerRange", "Tuning", "TuningObjective",
]
