"""Hyperparameter tuning: its configuration, the construct's props, and the states and IAM it synthesizes.
Executions are in tests/test_training_execution.py; the three-model platform's fraud model is tuned, so
tests/test_iam_reference.py and tests/test_state_machines.py check what tuning synthesizes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_cdk import Duration

from mlops_constructs import PropsError
from mlops_constructs.config import ConfigError, PlatformConfig
from mlops_constructs.training import CategoricalRange, ContinuousRange, IntegerRange, Tuning, TuningObjective
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, default_config_data, resources
from tests.test_training_pipeline import definition, main_path, standalone, standalone_template, states

AUC = {"metric": "validation:auc", "type": "Maximize"}
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-trainer:1.0"


def tuning_problems(tuning: dict[str, Any], training: dict[str, Any] | None = None) -> list[str]:
    data = copy.deepcopy(default_config_data())
    model = data["models"][0]
    model["tuning"] = tuning
    if training is not None:
        model["training"] = training
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(data, source="test.yaml")
    return caught.value.problems


def numeric(kind: str = "continuous", **keys: Any) -> dict[str, Any]:
    return {"type": kind, "min": 0.1, "max": 0.5, **keys}


@pytest.mark.parametrize(
    ("tuning", "expected"),
    [
        ({"objective": AUC, "ranges": {}},
         "models[0].tuning.ranges: must name at least one hyperparameter to search, each with its range (got {})"),
        ({"objective": AUC, "ranges": {"alpha": numeric(min=0.5, max=0.1)}},
         "models[0].tuning.ranges.alpha.max: must be above min (0.5) (got 0.1)"),
        ({"objective": AUC, "ranges": {"alpha": numeric("integer", min=4, max=4)}},
         "models[0].tuning.ranges.alpha.max: must be above min (4) (got 4)"),
        ({"objective": AUC, "ranges": {"alpha": numeric(min=0, max=1, scaling="Logarithmic")}},
         "models[0].tuning.ranges.alpha.min: must be above 0 with Logarithmic scaling (got 0)"),
        ({"objective": AUC, "ranges": {"alpha": numeric("integer", min=1, max=9, scaling="ReverseLogarithmic")}},
         "models[0].tuning.ranges.alpha.scaling: is for continuous ranges only: use Auto, Linear or Logarithmic (got 'ReverseLogarithmic')"),
        ({"objective": AUC, "ranges": {"alpha": numeric("integer", min=1.5, max=9)}},
         "models[0].tuning.ranges.alpha.min: must be an integer (got 1.5)"),
        ({"objective": AUC, "ranges": {"alpha": numeric()}, "strategy": "Annealing"},
         "models[0].tuning.strategy: must be 'Bayesian', 'Random', 'Hyperband' or 'Grid' (got 'Annealing')"),
        ({"objective": AUC, "ranges": {"alpha": numeric()}, "max_jobs": 4, "max_parallel_jobs": 5},
         "models[0].tuning.max_parallel_jobs: must be at most max_jobs (4) (got 5)"),
        ({"objective": AUC, "ranges": {"alpha": numeric()}, "max_parallel_jobs": 11},
         "models[0].tuning.max_parallel_jobs: must be at most max_jobs (10) (got 11)"),
        ({"objective": AUC, "ranges": {"alpha": numeric()}, "max_jobs": 0},
         "models[0].tuning.max_jobs: must be greater than or equal to 1 (got 0)"),
        ({"objective": AUC, "ranges": {"alpha": numeric()}, "strategy": "Hyperband", "early_stopping": "Auto"},
         "models[0].tuning.early_stopping: must be Off with strategy Hyperband, which stops training jobs early itself (got 'Auto')"),
        ({"objective": AUC, "ranges": {"alpha": numeric()}, "strategy": "Grid"},
         "models[0].tuning.ranges.alpha: must be categorical with strategy Grid, which searches combinations of categorical values only (got 'ContinuousRange')"),
        ({"objective": AUC, "ranges": {"booster": {"type": "categorical", "values": ["gbtree", "dart"]},
                                       "lambda": {"type": "categorical", "values": [0, 1, 10]}}, "strategy": "Grid", "max_jobs": 5},
         "models[0].tuning.max_jobs: must equal the number of combinations of the categorical values (6) with strategy Grid, or be left out (got 5)"),
        ({"objective": AUC, "ranges": {"booster": {"type": "categorical", "values": ["gbtree", "gbtree"]}}},
         "models[0].tuning.ranges.booster.values: must not repeat a value (got ['gbtree', 'gbtree'])"),
        ({"objective": AUC, "ranges": {"booster": {"type": "categorical", "values": ["gbtree"], "min": 1}}},
         "models[0].tuning.ranges.booster.min: does not apply to a categorical range: remove it (got 1)"),
        ({"objective": AUC, "ranges": {"alpha": {"type": "continuous", "max": 1}}},
         "models[0].tuning.ranges.alpha.min: is required for a continuous range (got None)"),
        ({"objective": {**AUC, "type": "Maximise"}, "ranges": {"alpha": numeric()}},
         "models[0].tuning.objective.type: must be 'Maximize' or 'Minimize' (got 'Maximise')"),
        # a static hyperparameter of the default config
        ({"objective": AUC, "ranges": {"eta": numeric()}},
         "models[0].tuning.ranges.eta: is also a static hyperparameter (training.hyperparameters): a tuned hyperparameter takes the "
         "values of its range; remove it from one of the two (got 'eta')"),
        ({"objective": {**AUC, "regex": "auc=([0-9.]+)"}, "ranges": {"alpha": numeric()}},
         "models[0].tuning.objective.regex: must not be set with SageMaker's built-in xgboost algorithm, which reports its own "
         "metrics: name one of them as the objective's metric (e.g. validation:auc for xgboost) (got 'auc=([0-9.]+)')"),
    ],
    ids=["empty-ranges", "inverted", "integer-empty", "log-from-zero", "reverse-log-integer", "integer-fraction", "unknown-strategy",
         "parallel-over-max", "parallel-over-default-max", "no-jobs", "hyperband-early-stopping", "grid-continuous", "grid-count",
         "repeated-value", "key-of-other-type", "missing-min", "objective-type", "static-and-tuned", "regex-with-builtin"],
)
def test_bad_tuning_is_one_line_naming_its_path(tuning: dict[str, Any], expected: str) -> None:
    assert tuning_problems(tuning) == [expected]


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (None, "models[0].tuning.objective.regex: is required with training.image: SageMaker reads the objective from the training "
               "logs with it, e.g. 'validation-auc=([0-9.]+)' (got None)"),
        ("auc=([0-9.]+", "models[0].tuning.objective.regex: must be a valid regular expression (missing ), unterminated subpattern at "
                         "position 4) (got 'auc=([0-9.]+')"),
        ("auc=[0-9.]+", "models[0].tuning.objective.regex: must capture the metric's value in a group, e.g. "
                        "'validation-auc=([0-9.]+)' (got 'auc=[0-9.]+')"),
    ],
    ids=["missing", "does-not-compile", "no-group"],
)
def test_an_image_of_your_own_needs_a_regex_that_compiles(regex: str | None, expected: str) -> None:
    objective = {"metric": "validation:auc", "type": "Maximize", **({"regex": regex} if regex else {})}
    assert tuning_problems({"objective": objective, "ranges": {"alpha": numeric()}}, {"image": IMAGE}) == [expected]


def test_a_framework_image_needs_a_regex_too() -> None:
    problems = tuning_problems({"objective": AUC, "ranges": {"alpha": numeric()}}, {"algorithm": {"framework": "sklearn", "version": "1.2-1"}})
    assert problems[-1].startswith("models[0].tuning.objective.regex: is required with the sklearn framework image")


def test_tuning_is_refused_with_spot_training() -> None:
    problems = tuning_problems({"objective": AUC, "ranges": {"alpha": numeric()}}, {"spot": {"max_wait_hours": 30}})
    assert problems == ["models[0].tuning: cannot be combined with training.spot yet: the tuning job's training jobs would share one "
                        "checkpoint location; remove one of them (got 'spot')"]


# -- the construct --------------------------------------------------------------------------------------

def tuning(**changes: Any) -> Tuning:
    props: dict[str, Any] = {"objective": TuningObjective(metric="validation:auc", type="Maximize"),
                             "ranges": {"alpha": ContinuousRange(min=0.1, max=1.0)}}
    return Tuning(**{**props, **changes})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"tuning": tuning(ranges={})}, r"TrainingPipeline: tuning.ranges: must name at least one hyperparameter .* \(got \{\}\)"),
        ({"tuning": tuning(ranges={"alpha": IntegerRange(min=9, max=1)})}, r"tuning.ranges.alpha.max: must be above min \(9\) \(got 1\)"),
        ({"tuning": tuning(objective=TuningObjective(metric="m", type="Maximize", regex="("))},
         r"tuning.objective.regex: must be a valid regular expression"),
        ({"tuning": tuning(strategy="Annealing")}, r"tuning.strategy: must be one of Bayesian, Random, Hyperband, Grid \(got 'Annealing'\)"),
        ({"tuning": tuning(max_jobs=2, max_parallel_jobs=3)}, r"tuning.max_parallel_jobs: must be at most max_jobs \(2\) \(got 3\)"),
        ({"tuning": tuning(), "hyperparameters": {"alpha": "0.3"}}, r"tuning.ranges.alpha: is also a static hyperparameter"),
        ({"tuning": tuning(), "spot_max_wait": Duration.hours(30)}, r"tuning: cannot be combined with managed spot training"),
        ({"tuning": {"ranges": {}}}, r"TrainingPipeline: tuning: must be a Tuning"),
    ],
    ids=["empty-ranges", "inverted", "bad-regex", "unknown-strategy", "parallel-over-max", "static-and-tuned", "spot", "not-a-tuning"],
)
def test_bad_tuning_props_are_rejected_naming_the_field(props: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(**props)


def test_the_stack_reports_a_tuning_prop_error_at_its_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The configuration already refuses what the construct would; make the construct alone object, to see
    # the training stack's mapping of its tuning props onto config paths.
    import aws_cdk as cdk

    from mlops_constructs.training import training_pipeline
    from stacks import build_platform

    data = copy.deepcopy(default_config_data())
    data["models"][0]["tuning"] = {"objective": AUC, "ranges": {"alpha": numeric()}}
    config = PlatformConfig.from_mapping(data, source="test.yaml")
    monkeypatch.setattr(training_pipeline, "tuning_problems", lambda *_: iter([(("ranges", "alpha", "max"), 0.5, "must be odd")]))
    with pytest.raises(ConfigError) as caught:
        build_platform(cdk.App(context=CDK_CONTEXT), config)
    assert caught.value.problems == ["models[0].tuning.ranges.alpha.max: must be odd (got 0.5; TrainingPipeline's tuning.ranges.alpha.max)"]


# -- what it synthesizes --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    """The same pipeline without tuning."""
    return standalone_template()


@pytest.fixture(scope="module")
def tuned() -> dict[str, Any]:
    return standalone_template(
        hyperparameters={"objective": "binary:logistic", "num_round": "100"},
        tuning=Tuning(
            objective=TuningObjective(metric="validation:rmse", type="Minimize", regex=r"validation-rmse:([0-9.]+)"),
            ranges={"eta": ContinuousRange(min=0.01, max=0.3, scaling="Logarithmic"), "max_depth": IntegerRange(min=3, max=9),
                    "booster": CategoricalRange(values=("gbtree", "dart"))},
            strategy="Random", max_jobs=9, max_parallel_jobs=3, early_stopping="Auto",
        ),
        max_training_runtime=Duration.hours(2),
    )


def test_tuning_replaces_the_train_state(tuned: dict[str, Any], plain: dict[str, Any]) -> None:
    path = main_path(definition(tuned))
    assert path[path.index("Preprocess"):path.index("Evaluate") + 1] == ["Preprocess", "NameTuningJob", "Tune", "HasBestTrainingJob", "BestTrainingJob",
                                                                            "DescribeBestTrainingJob", "Evaluate"]
    assert "Train" not in states(tuned)
    assert "Tune" not in states(plain) and "NameTuningJob" not in states(plain)


def test_the_tuning_job_trains_as_the_train_state_would(tuned: dict[str, Any], plain: dict[str, Any]) -> None:
    tune, train = states(tuned)["Tune"], states(plain)["Train"]
    assert tune["Resource"].endswith(":states:::sagemaker:createHyperParameterTuningJob.sync")
    job = tune["Parameters"]["TrainingJobDefinition"]
    own = ("TrainingJobName.$", "HyperParameters", "AlgorithmSpecification", "StaticHyperParameters", "StoppingCondition")
    trained = {k: v for k, v in train["Parameters"].items() if k not in own}
    assert {k: v for k, v in job.items() if k not in own} == trained  # the VPC, keys, role, channels, output, resources
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}  # each training job's own limit
    assert job["StaticHyperParameters"] == {"objective": "binary:logistic", "num_round": "100"}
    assert job["AlgorithmSpecification"] == {**train["Parameters"]["AlgorithmSpecification"],
                                             "MetricDefinitions": [{"Name": "validation:rmse", "Regex": r"validation-rmse:([0-9.]+)"}]}
    assert job["EnableNetworkIsolation"] is True and job["EnableInterContainerTrafficEncryption"] is True
    assert tune["Retry"] == train["Retry"] and tune["Catch"] == train["Catch"]


def test_the_tuning_config_carries_objective_ranges_and_limits(tuned: dict[str, Any]) -> None:
    config = states(tuned)["Tune"]["Parameters"]["HyperParameterTuningJobConfig"]
    assert config == {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
        # 9 jobs, 3 at a time, each up to 2 hours
        "ResourceLimits": {"MaxParallelTrainingJobs": 3, "MaxRuntimeInSeconds": 3 * 7200, "MaxNumberOfTrainingJobs": 9},
        "ParameterRanges": {
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "9", "ScalingType": "Auto"}],
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"}],
            "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
        },
        "TrainingJobEarlyStoppingType": "Auto",
    }
    # the execution may last as long as the tuning job, and the two processing jobs
    assert definition(tuned)["TimeoutSeconds"] == 3 * 7200 + 2 * 7200 + 3600


def test_the_tuning_job_name_fits_the_api(tuned: dict[str, Any]) -> None:
    name = states(tuned)["NameTuningJob"]
    assert name["QueryLanguage"] == "JSONata"
    # "churn-" + 24 hex digits + "-<retry>": 32 characters, the API's limit
    assert name["Output"] == "{% $merge([$states.input, {'tuning': {'job_prefix': 'churn-' & $substring($states.input.run.suffix, 0, 24)}}]) %}"
    assert states(tuned)["Tune"]["Parameters"]["HyperParameterTuningJobName.$"] == "States.Format('{}-{}', $.tuning.job_prefix, $$.State.RetryCount)"


def test_the_best_training_jobs_model_lands_where_the_train_state_put_it(tuned: dict[str, Any], plain: dict[str, Any]) -> None:
    best = states(tuned)["DescribeBestTrainingJob"]
    assert best["Resource"].endswith(":states:::aws-sdk:sagemaker:describeTrainingJob")
    assert best["Parameters"] == {"TrainingJobName.$": "$.tune.BestTrainingJobName"}
    assert best["ResultPath"] == states(plain)["Train"]["ResultPath"] == "$.train"
    assert best["ResultSelector"] == states(plain)["Train"]["ResultSelector"]
    assert states(tuned)["Evaluate"] == states(plain)["Evaluate"]
    metadata = states(tuned)["Register"]["Parameters"]["CustomerMetadataProperties"]
    assert metadata == {"DriftBaselineS3Uri.$": "$.run.baseline_uri", "TuningJob.$": "$.tune.HyperParameterTuningJobArn"}
    assert "TuningJob.$" not in states(plain)["Register"]["Parameters"]["CustomerMetadataProperties"]


def statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The state machine role's statements, from its policy and, when it tunes, its tuning policy."""
    policies = resources(template, "AWS::IAM::ManagedPolicy")
    machine = [p for logical_id, p in policies.items() if logical_id.startswith(("PipelineStateMachinePolicy", "PipelineTuningPolicy"))]
    return {s["Sid"]: s for p in machine for s in p["Properties"]["PolicyDocument"]["Statement"]}


def test_the_tuning_permissions_are_a_policy_of_their_own_on_the_machines_role(tuned: dict[str, Any], plain: dict[str, Any]) -> None:
    policies = resources(tuned, "AWS::IAM::ManagedPolicy")
    (tuning,) = [p["Properties"] for logical_id, p in policies.items() if logical_id.startswith("PipelineTuningPolicy")]
    (machine,) = [p["Properties"] for logical_id, p in policies.items() if logical_id.startswith("PipelineStateMachinePolicy")]
    assert tuning["Roles"] == machine["Roles"]
    assert {s["Sid"] for s in tuning["PolicyDocument"]["Statement"]} == {"CreateTuningJobsInsideGuardrails", "FollowAndStopTuningJobs", "FollowTuningJobs"}
    assert not [k for k in resources(plain, "AWS::IAM::ManagedPolicy") if k.startswith("PipelineTuningPolicy")]
    (machine_id,) = resources(tuned, "AWS::StepFunctions::StateMachine")
    tuning_id = next(k for k in policies if k.startswith("PipelineTuningPolicy"))
    assert tuning_id in tuned["Resources"][machine_id]["DependsOn"]  # created after its permissions


def test_tuning_jobs_may_only_be_created_inside_the_guardrails(tuned: dict[str, Any], plain: dict[str, Any]) -> None:
    granted, jobs = statements(tuned), statements(plain)
    create = granted["CreateTuningJobsInsideGuardrails"]
    assert create["Action"] == "sagemaker:CreateHyperParameterTuningJob"
    assert create["Resource"] == "arn:aws:sagemaker:eu-west-1:222222222222:hyper-parameter-tuning-job/churn-*"
    # the very conditions the training and processing jobs are created under
    assert create["Condition"] == jobs["CreateJobsInsideGuardrails"]["Condition"]
    assert set(create["Condition"]["Bool"]) == {"sagemaker:NetworkIsolation", "sagemaker:InterContainerTrafficEncryption"}
    assert set(create["Condition"]["ArnEquals"]) == {"sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey"}
    follow = granted["FollowAndStopTuningJobs"]
    assert set(follow["Action"]) == {"sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
                                     "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:AddTags", "sagemaker:ListTags"}
    assert follow["Resource"] == create["Resource"]
    assert granted["FollowTuningJobs"]["Resource"] == "arn:aws:events:eu-west-1:222222222222:rule/StepFunctionsGetEventsForSageMakerTuningJobsRule"
    # the best training job is described under the grant that already covers the model's training jobs
    assert "sagemaker:DescribeTrainingJob" in granted["FollowAndStopJobs"]["Action"]
    assert not {"CreateTuningJobsInsideGuardrails", "FollowAndStopTuningJobs", "FollowTuningJobs"} & set(jobs)


def test_the_three_model_platform_tunes_only_fraud(three_model_platform: SynthesizedPlatform) -> None:
    tuned_states = states(three_model_platform.templates["Dev/Models-1/Training-fraud"])
    assert "Tune" in tuned_states and "Train" not in tuned_states
    assert "Tune" not in states(three_model_platform.templates["Dev/Models-1/Training-churn"])


def test_tuning_a_script_needs_a_regex_for_its_objective() -> None:
    """A training script reports its metrics in its own log lines: SageMaker reads the objective with the
    regex, which the configuration requires (and does not mistake the script for the built-in algorithm)."""
    from mlops_constructs.config import ConfigError, PlatformConfig
    from tests.conftest import three_model_config_data

    data = three_model_config_data()
    churn = data["models"][0]
    assert churn["code"]["train"]
    churn["tuning"] = {"objective": {"metric": "validation:mse", "type": "Minimize"}, "ranges": {"max_leaf_nodes": {"type": "integer", "min": 8, "max": 64}}}
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(data, source="t.yaml")
    assert caught.value.problems == [
        "models[0].tuning.objective.regex: is required with your script (code.train): SageMaker reads the objective from the "
        "training logs with it, e.g. 'validation-auc=([0-9.]+)' (got None)"
    ]
    churn["tuning"]["objective"]["regex"] = "validation-mse=([0-9.]+)"
    assert PlatformConfig.from_mapping(data, source="t.yaml").models[0].tuning is not None
