from mlops_constructs.training.images import builtin_image_uri
from mlops_constructs.training.training_pipeline import BUNDLED_METRICS, DRIFT_BASELINE_KEY, RETRAIN_EVENT_DETAIL_TYPE, RETRAIN_EVENT_SOURCE, Preprocessing, TrainingPipeline

__all__ = ["BUNDLED_METRICS", "DRIFT_BASELINE_KEY", "Preprocessing", "RETRAIN_EVENT_DETAIL_TYPE", "RETRAIN_EVENT_SOURCE", "TrainingPipeline", "builtin_image_uri"]
