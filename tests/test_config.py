"""The configuration loader: valid files load, and every kind of invalid input is reported as one line
per problem naming the field path, the value received and what is allowed."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_constructs import schedules
from mlops_constructs.config import STAGES, ConfigError, PlatformConfig, load_config
from tests.conftest import DEFAULT_CONFIG, default_config_data, three_model_config_data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(data, source="test.yaml")
    return caught.value.problems


def mutated(**changes: Any) -> dict[str, Any]:
    """The default config with dotted-path keys replaced, e.g. ``mutated(**{"accounts.dev": "1"})``."""
    data = copy.deepcopy(default_config_data())
    for dotted, value in changes.items():
        node: Any = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def test_default_config_loads_with_a_realtime_and_a_batch_only_model() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.project == "mlops-demo"
    assert [m.name for m in config.models] == ["churn", "lead-scoring"]
    churn, leads = config.models
    assert churn.serving == ["realtime"] and churn.batch is None
    assert leads.serving == ["batch"] and not leads.realtime
    assert [s for s in STAGES if leads.batch_in(s)] == ["staging", "prod"]
    assert leads.batch is not None and leads.batch.join_source == "Input" and leads.batch_input_prefix == "lead-scoring/batch-input/"
    # its batch rows are lead_id,f1,f2 and its model was trained on the features: the id column is kept from the model
    assert (leads.batch.input_filter, leads.batch.output_filter) == ("$[1:]", "$")
    assert list(leads.batch.output_columns) == ["lead_id", "f1", "f2", "score"]
    assert config.stage("dev").retain_stateful_resources is False
    assert config.stage("prod").retain_stateful_resources is True
    assert config.accounts.for_stage("staging") == "333333333333"


def test_three_models_load_with_their_overrides() -> None:
    config = PlatformConfig.from_mapping(three_model_config_data())
    assert [m.name for m in config.models] == ["churn", "fraud", "demand-forecast"]
    forecast = config.models[2]
    assert forecast.endpoint("prod", config.stage("prod").endpoint).instance_count == 3
    assert forecast.endpoint("dev", config.stage("dev").endpoint) == config.stage("dev").endpoint
    assert config.models[1].training.instance_type == "ml.p3.2xlarge"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"accounts.dev": "12345"}, "accounts.dev: must be an AWS account id, a quoted string of exactly 12 digits (got '12345')"),
        ({"accounts.prod": 444444444444}, "accounts.prod: must be an AWS account id, a quoted string of exactly 12 digits (got 444444444444)"),
        ({"accounts.tooling": "11111111111a"}, "accounts.tooling: must be an AWS account id"),
        ({"region": "eu-west-9"}, "region: must be an AWS region where SageMaker is offered; did you mean eu-west-3? (got 'eu-west-9')"),
        ({"region": "mars-north-1"}, "region: must be an AWS region where SageMaker is offered"),
        ({"availability_zones.1": "us-east-1b"}, "availability_zones[1]: must be an availability zone of region eu-west-1, e.g. eu-west-1a (got 'us-east-1b')"),
        ({"availability_zones.2": "eu-west-1a"}, "availability_zones[2]: duplicate zone; list each zone once (got 'eu-west-1a')"),
        ({"availability_zones": ["eu-west-1a"]}, "availability_zones: must have at least 2 items"),
        ({"project": "MLOps"}, "project: must be a lowercase slug of 3 to 16 characters"),
        ({"project": "a-very-long-project-name"}, "project: must be a lowercase slug of 3 to 16 characters"),
        ({"project": "sthree"}, "project: must not make bucket names start with 'sthree-' (the platform's start with '<project>-<stage>-'), which S3 reserves (got 'sthree')"),
        ({"project": "amzn-s3-demo"}, "project: must not make bucket names start with 'amzn-s3-demo-'"),
        ({"stages.dev.endpoint.instance_type": "ml.m5.huge"}, "stages.dev.endpoint.instance_type: must be a SageMaker real-time inference instance type name (ml.<family>.<size>); did you mean"),
        ({"stages.prod.endpoint.instance_type": "m5.large"}, "stages.prod.endpoint.instance_type: must be a SageMaker real-time inference instance type name"),
        ({"models.0.training.instance_type": "ml.t2.medium"}, "models[0].training.instance_type: must be a SageMaker training instance type name"),
        # the staging endpoint deploys by CANARY (its default): SageMaker deploys to ml.inf1 all at once
        ({"stages.staging.endpoint.instance_type": "ml.inf1.xlarge"}, "stages.staging.endpoint.instance_type: cannot be used with deployment CANARY"),
        # lead-scoring's batch joins CSV input: the joined output is CSV, which a JSON results table would read as nulls
        ({"models.1.batch.accept": "application/jsonlines"}, "models[1].batch.accept: must be text/csv with join_source Input and content_type text/csv"),
        ({"models.0.training.instance_count": 0}, "models[0].training.instance_count: must be greater than or equal to 1 (got 0)"),
        ({"models.0.training.instance_count": 101}, "models[0].training.instance_count: must be less than or equal to 100 (got 101)"),
        ({"stages.staging.endpoint.instance_count": 21}, "stages.staging.endpoint.instance_count: must be less than or equal to 20 (got 21)"),
        ({"stages.prod.endpoint.data_capture_percent": 150}, "stages.prod.endpoint.data_capture_percent: must be less than or equal to 100 (got 150)"),
        ({"stages.dev.endpoint.data_capture_percent": -1}, "stages.dev.endpoint.data_capture_percent: must be greater than or equal to 0 (got -1)"),
        ({"stages.prod.endpoint.instance_count": "2"}, "stages.prod.endpoint.instance_count: must be a valid integer (got '2')"),
        ({"stages.dev.log_retention_days": 31}, "stages.dev.log_retention_days: must be one of the CloudWatch Logs retention periods: 1, 3, 5"),
        ({"stages.dev.vpc_cidr": "10.0.0.1/16"}, "stages.dev.vpc_cidr: must be an IPv4 network in CIDR notation with no host bits set"),
        ({"stages.dev.vpc_cidr": "10.0.0.0/8"}, "stages.dev.vpc_cidr: must have a prefix length from /16 to /22"),
        ({"stages.dev.vpc_cidr": 167772160}, "stages.dev.vpc_cidr: must be an IPv4 network in CIDR notation with no host bits set, e.g. 10.20.0.0/16 (got 167772160)"),
        ({"stages.dev.vpc_cidr": "8.8.0.0/16"}, "stages.dev.vpc_cidr: must be inside a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (got '8.8.0.0/16')"),
        ({"stages.prod.retain_stateful_resources": False}, "stages.prod.retain_stateful_resources: must be true: only dev may let its keys, buckets and log groups go with their stacks (got False)"),
        ({"models": []}, "models: must have at least 1 item"),
    ],
)
def test_invalid_value_is_one_line_naming_path_value_and_rule(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(mutated(**change))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_duplicate_model_names_name_the_second_occurrence() -> None:
    data = mutated(models=[{"name": "churn"}, {"name": "fraud"}, {"name": "churn"}])
    assert problems_of(data) == ["models[2].name: duplicate model name; model names must be unique (got 'churn')"]


@pytest.mark.parametrize(
    ("path", "typo", "expected"),
    [
        ((), "projekt", "projekt: unknown key; allowed keys here: accounts, availability_zones, delivery, models, project, region, stages; did you mean 'project'?"),
        (("stages", "prod"), "retain_stateful_resource", "stages.prod.retain_stateful_resource: unknown key; allowed keys here:"),
        (("models", 0, "training"), "instance_typ", "models[0].training.instance_typ: unknown key; allowed keys here: algorithm, content_type, hyperparameters, image, instance_count, instance_type, max_runtime_hours, spot, volume_size_gb; did you mean 'instance_type'?"),
        (("stages", "dev", "endpoint"), "sampling", "stages.dev.endpoint.sampling: unknown key; allowed keys here: alarms, autoscaling, data_capture_percent, deployment, instance_count, instance_type, serverless"),
    ],
)
def test_unknown_keys_are_errors_not_ignored(path: tuple[Any, ...], typo: str, expected: str) -> None:
    data = default_config_data()
    node: Any = data
    for part in path:
        node = node[part]
    node[typo] = 1
    problems = problems_of(data)
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems[0]


def test_unknown_stage_in_model_endpoints_is_named() -> None:
    data = mutated(**{"models.0": {"name": "churn", "endpoints": {"qa": {}}}})
    assert problems_of(data) == ["models[0].endpoints.qa: key must be 'dev', 'staging' or 'prod' (got 'qa')"]


def test_every_independent_problem_is_reported_at_once() -> None:
    data = mutated(**{"accounts.dev": "1", "region": "nowhere-1", "stages.prod.endpoint.data_capture_percent": 101})
    data["typo"] = True
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == [
        "region",
        "accounts.dev",
        "stages.prod.endpoint.data_capture_percent",
        "typo",
    ]


def test_missing_required_keys_are_named() -> None:
    data = default_config_data()
    del data["accounts"]["staging"]
    del data["region"]
    assert problems_of(data) == ["region: required key is missing", "accounts.staging: required key is missing"]


def test_error_text_prefixes_every_line_with_the_source() -> None:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(mutated(**{"accounts.dev": "1", "accounts.prod": "2"}), source="config/acme.yaml")
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith("config/acme.yaml: accounts.") for line in lines)


def test_file_level_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the configuration file"):
        load_config(missing)

    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("project: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+, column \d+: not valid YAML"):
        load_config(not_yaml)

    a_list = tmp_path / "list.yaml"
    a_list.write_text("- one\n- two\n")
    with pytest.raises(ConfigError, match=r"the file must hold a mapping of settings \(got \['one', 'two'\]\)"):
        load_config(a_list)


def test_duplicate_yaml_keys_are_rejected_not_overwritten(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text().replace("region: eu-west-1\n", "region: eu-west-1\nregion: us-east-1\n", 1)
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"dup.yaml: line \d+, column 1: not valid YAML: duplicate key 'region'"):
        load_config(path)


def test_loaded_config_is_immutable(default_config: PlatformConfig) -> None:
    with pytest.raises(Exception, match="frozen"):
        default_config.project = "other"  # type: ignore[misc]


def test_stage_lookup_rejects_unknown_stage(default_config: PlatformConfig) -> None:
    assert [default_config.stage(s).vpc_cidr for s in STAGES] == ["10.10.0.0/16", "10.20.0.0/16", "10.30.0.0/16"]
    with pytest.raises(ValueError, match="stage: got 'qa'; expected one of dev, staging, prod"):
        default_config.stage("qa")


def test_default_yaml_round_trips_through_the_model() -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config = PlatformConfig.from_mapping(data)
    again = PlatformConfig.from_mapping(config.model_dump(mode="json"))
    assert again == config


def test_a_key_with_a_line_break_stays_on_one_line() -> None:
    data = default_config_data()
    data["stages"]["prod"]["endpoint"]["\r\nsampling"] = 5
    problems = problems_of(data)
    assert problems == [
        "stages.prod.endpoint['\\r\\nsampling']: unknown key; "
        "allowed keys here: alarms, autoscaling, data_capture_percent, deployment, instance_count, instance_type, serverless"
    ]


def test_project_and_region_must_leave_room_in_bucket_names() -> None:
    data = mutated(project="a-sixteen-charsx", region="ap-southeast-1", availability_zones=["ap-southeast-1a", "ap-southeast-1b"],
                   models=[{"name": "churn"}])  # the default's package ARN names the default project and region
    assert problems_of(data) == [
        "project: is too long for region ap-southeast-1: bucket names like "
        "'a-sixteen-charsx-staging-access-logs-000000000000-ap-southeast-1' would have 64 characters and S3 "
        "allows 63; use at most 15 characters here (got 'a-sixteen-charsx')"
    ]
    assert PlatformConfig.from_mapping(mutated(project="a-sixteen-charsx", models=[{"name": "churn"}])).project == "a-sixteen-charsx"  # eu-west-1 fits


@pytest.mark.parametrize("cidr", ["127.0.0.0/16", "169.254.0.0/16", "100.64.0.0/16", "172.32.0.0/16"])
def test_vpc_cidr_must_be_rfc1918(cidr: str) -> None:
    assert problems_of(mutated(**{"stages.dev.vpc_cidr": cidr})) == [
        f"stages.dev.vpc_cidr: must be inside a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (got '{cidr}')"
    ]


def test_model_endpoint_override_keeps_the_stage_values_it_does_not_name() -> None:
    data = mutated(**{"models.0": {"name": "churn", "endpoints": {"prod": {"instance_count": 5}}}})
    config = PlatformConfig.from_mapping(data)
    prod = config.models[0].endpoint("prod", config.stage("prod").endpoint)
    assert (prod.instance_type, prod.instance_count, prod.data_capture_percent) == ("ml.m5.xlarge", 5, 20)


def test_unknown_key_inside_a_model_endpoint_override_lists_the_allowed_keys() -> None:
    data = mutated(**{"models.0": {"name": "churn", "endpoints": {"prod": {"sampling": 5}}}})
    assert problems_of(data) == [
        "models[0].endpoints.prod.sampling: unknown key; allowed keys here: data_capture_percent, instance_count, instance_type"
    ]


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        ({"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn:1", "algorithm": {"framework": "xgboost"}},
         "models[0].training.image: must not be given together with algorithm: choose one"),
        ({"image": "churn:latest"}, "models[0].training.image: must be an ECR image URI"),
        ({"spot": {"max_wait_hours": 2}, "max_runtime_hours": 4}, "models[0].training.spot.max_wait_hours: must be at least max_runtime_hours (4) (got 2)"),
        ({"hyperparameters": {"bad name": 1}}, "models[0].training.hyperparameters['bad name']: key must match pattern '^[A-Za-z0-9_.:-]{1,256}$' (got 'bad name')"),
        ({"algorithm": {"framework": "XGBoost"}}, "models[0].training.algorithm.framework: must match pattern"),
    ],
)
def test_training_settings_are_checked(training: dict, expected: str) -> None:
    data = mutated(**{"models.0": {"name": "churn", "training": training}})
    problems = problems_of(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("daily", schedules.daily_cron("churn")),  # a time of the model's own, 00:00-05:59 UTC
        ("weekly", schedules.weekly_cron("churn")),
        ("cron(0 3 ? * MON *)", "cron(0 3 ? * MON *)"),  # as written
        ("rate(7 days)", "rate(7 days)"),
        (None, None),
    ],
)
def test_training_schedule_shorthands_resolve_to_the_models_own_time(schedule: str | None, expected: str | None) -> None:
    config = PlatformConfig.from_mapping(mutated(**{"models.0.triggers.schedule": schedule}))
    model = config.models[0]
    assert model.triggers.schedule == schedule  # the configuration keeps what it was given
    assert model.triggers.schedule_expression(model.name) == expected


def test_off_hours_scaling_takes_no_training_shorthand() -> None:
    problems = problems_of(mutated(**{"stages.staging.endpoint.autoscaling.off_hours.scale_down": "daily"}))
    assert problems == ["stages.staging.endpoint.autoscaling.off_hours.scale_down: must be an EventBridge schedule expression: "
                        "rate(<n> <minutes|hours|days>) or cron(<6 fields>) (got 'daily')"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"triggers": {"schedule": "every monday"}}, "models[0].triggers.schedule: must be daily, weekly, or an EventBridge schedule expression"),
        ({"triggers": {"schedule": "hourly"}}, "models[0].triggers.schedule: must be daily, weekly, or an EventBridge schedule expression"),
        ({"triggers": {"on_new_data": "yes"}}, "models[0].triggers.on_new_data: must be a valid boolean (got 'yes')"),
        ({"data_prefix": "/churn/raw"}, "models[0].data_prefix: must be an S3 key prefix without a leading slash and ending with '/'"),
        ({"gate": {"direction": "up"}}, "models[0].gate.direction: must be 'maximize' or 'minimize' (got 'up')"),
        ({"gate": {"threshold": "high"}}, "models[0].gate.threshold: must be a valid number (got 'high')"),
        ({"processing": {"instance_type": "ml.m5.huge"}}, "models[0].processing.instance_type: must be a SageMaker processing instance type name"),
    ],
)
def test_model_pipeline_settings_are_checked(model: dict, expected: str) -> None:
    problems = problems_of(mutated(**{"models.0": {"name": "churn", **model}}))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/preprocess:1"


@pytest.mark.parametrize(
    ("processing", "expected"),
    [
        ({"split": {"train": 0.7, "validation": 0.2, "test": 0.2}},
         "models[0].processing.split: train, validation and test must sum to 1 (within 1e-6); they sum to 1.1 "
         "(a key left out keeps its default: train 0.8, validation 0.1, test 0.1) (got {'train': 0.7, 'validation': 0.2, 'test': 0.2})"),
        ({"split": {"train": 0.9, "validation": 0.1}}, "models[0].processing.split: train, validation and test must sum to 1 (within 1e-6); they sum to 1.1"),
        ({"split": {"train": 0.9, "validation": 0.1, "test": 0}}, "models[0].processing.split.test: must be greater than 0 (got 0)"),
        ({"split": {"train": "80%"}}, "models[0].processing.split.train: must be a valid number (got '80%')"),
        ({"split": {"tran": 0.8}}, "models[0].processing.split.tran: unknown key; allowed keys here: test, train, validation; did you mean 'train'?"),
        ({"header": "yes"}, "models[0].processing.header: must be a valid boolean (got 'yes')"),
        ({"label": "rings"}, "models[0].processing.label: names a column, which needs header: true; without a header row give the "
                             "label's 0-based index (-1 for the last column) (got 'rings')"),
        ({"label": True}, "models[0].processing.label: must be a 0-based column index (negative from the end, -1 the last) or, "
                          "with header: true, a column name (got True)"),
        ({"label": 8.0}, "models[0].processing.label: must be a 0-based column index"),
        ({"header": True, "label": ""}, "models[0].processing.label: must be a column name of 1 to 256 characters, or a 0-based column index (got '')"),
        ({"seed": -1}, "models[0].processing.seed: must be greater than or equal to 0 (got -1)"),
        ({"seed": 2**32}, "models[0].processing.seed: must be less than or equal to 4294967295 (got 4294967296)"),
        ({"seed": "42"}, "models[0].processing.seed: must be a valid integer (got '42')"),
        ({"categorical": "ordinal"}, "models[0].processing.categorical: must be 'one_hot' or 'refuse' (got 'ordinal')"),
        ({"preprocess_image": IMAGE, "header": True},
         "models[0].processing.header: configures the bundled preprocessing script, which preprocess_image replaces: remove one or the other (got True)"),
        ({"preprocess_image": IMAGE, "split": {"train": 0.6, "validation": 0.2, "test": 0.2}},
         "models[0].processing.split: configures the bundled preprocessing script, which preprocess_image replaces"),
    ],
)
def test_bundled_preprocessing_settings_are_checked(processing: dict, expected: str) -> None:
    problems = problems_of(mutated(**{"models.0": {"name": "churn", "processing": processing}}))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_bundled_preprocessing_settings_default_to_the_historical_behaviour_and_load_when_valid() -> None:
    processing = PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn"}})).models[0].processing
    assert (processing.split.fractions(), processing.header, processing.label, processing.seed, processing.categorical) == (
        (0.8, 0.1, 0.1), False, 0, 42, "one_hot")
    given = {"split": {"train": 0.7, "validation": 0.2, "test": 0.1}, "header": True, "label": "rings", "seed": 0, "categorical": "refuse"}
    processing = PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn", "processing": given}})).models[0].processing
    assert (processing.split.fractions(), processing.header, processing.label, processing.seed, processing.categorical) == (
        (0.7, 0.2, 0.1), True, "rings", 0, "refuse")
    assert PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn", "processing": {"label": -1}}})).models[0].processing.label == -1
    # An image of the model's own keeps the other processing keys, and the bundled script's at their defaults.
    own_image = {"preprocess_image": IMAGE, "instance_type": "ml.m5.large", "header": False, "split": {"train": 0.8}}
    config = PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn", "processing": own_image}}))
    assert PlatformConfig.from_mapping(config.model_dump(mode="json")) == config


def test_training_defaults_to_builtin_xgboost_and_a_named_image_replaces_it() -> None:
    config = PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn"}}))
    algorithm = config.models[0].training.builtin_algorithm()
    assert (algorithm.framework, algorithm.version) == ("xgboost", "1.7-1")
    assert config.models[0].data_location == "churn/"
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn@sha256:" + "a" * 64
    config = PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn", "training": {"image": image}}}))
    assert config.models[0].training.builtin_algorithm() is None
    assert config.models[0].training.image == image


def test_a_builtin_algorithm_without_an_image_in_the_region_is_a_config_error() -> None:
    data = mutated(**{"models.0": {"name": "churn", "training": {"algorithm": {"framework": "xgboost", "version": "9.9-9"}}}})
    (problem,) = problems_of(data)
    assert problem.startswith("models[0].training.algorithm: is not a known SageMaker image: Unsupported xgboost version: 9.9-9.")
    assert "Supported xgboost version(s):" in problem and "1.7-1" in problem
    assert problem.endswith("(got {'framework': 'xgboost', 'version': '9.9-9'})")


def test_an_unknown_builtin_framework_is_named_with_suggestions() -> None:
    data = mutated(**{"models.0": {"name": "churn", "training": {"algorithm": {"framework": "xgbost", "version": "1.7-1"}}}})
    assert problems_of(data) == [
        "models[0].training.algorithm: is not a SageMaker framework the SDK knows; did you mean xgboost, xgboost-neo? "
        "(got {'framework': 'xgbost', 'version': '1.7-1'})"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"models.0.model_package_arn": "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/mlops-demo-churn"},
         "models[0].model_package_arn: must be a versioned model package ARN"),
        ({"models.0.model_package_arn": "arn:aws:sagemaker:eu-west-1:999999999999:model-package/mlops-demo-churn/3"},
         "models[0].model_package_arn: must be a version of this model's group in the dev account: arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-churn/<version>"),
        ({"stages.prod.endpoint.serverless": {"memory_size_mb": 2048}}, "stages.prod.endpoint.serverless: must not be set: serverless inference supports no VPC"),
        ({"stages.dev.endpoint.serverless": {"memory_size_mb": 1000}}, "stages.dev.endpoint.serverless.memory_size_mb: must be 1024, 2048, 3072, 4096, 5120 or 6144 (got 1000)"),
        ({"stages.prod.endpoint.autoscaling": {"off_hours": {"scale_down": "cron(0 20 ? * MON-FRI *)", "scale_up": "cron(0 6 ? * MON-FRI *)"}}},
         "stages.prod.endpoint.autoscaling.off_hours: must not be set: prod keeps its capacity around the clock"),
        ({"stages.staging.endpoint.deployment": {"strategy": "BLUE"}}, "stages.staging.endpoint.deployment.strategy: must be 'CANARY', 'LINEAR' or 'ALL_AT_ONCE' (got 'BLUE')"),
        ({"stages.staging.endpoint.deployment": {"strategy": "CANARY", "traffic_step_percent": 60}}, "stages.staging.endpoint.deployment.traffic_step_percent: must be less than or equal to 50 (got 60)"),
        ({"stages.prod.endpoint.alarms": {"p99_latency_ms": 0}}, "stages.prod.endpoint.alarms.p99_latency_ms: must be greater than or equal to 1 (got 0)"),
    ],
)
def test_serving_settings_are_checked(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(mutated(**change))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_deployment_defaults_to_canary_outside_dev_and_all_at_once_in_dev(default_config: PlatformConfig) -> None:
    assert [default_config.stage(s).endpoint.deployment_for(s).strategy for s in STAGES] == ["ALL_AT_ONCE", "CANARY", "CANARY"]


# --------------------------------------------------------------------------------------------------
# Configurations that used to synthesize but could not work
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"accounts.prod": "222222222222"},
         ["accounts.prod: is the same account as accounts.dev: tooling, dev, staging and prod each need their own account; "
          "set accounts.allow_shared: true for a single-account trial (got '222222222222')"]),
        ({"accounts.staging": "111111111111"}, ["accounts.staging: is the same account as accounts.tooling: "]),
        ({"accounts.dev": "111111111111"}, ["accounts.dev: is the same account as accounts.tooling: "]),
        ({"accounts": {"tooling": "111111111111", "dev": "111111111111", "staging": "111111111111", "prod": "111111111111"}},
         ["accounts.dev: is the same account as accounts.tooling: ", "accounts.staging: is the same account as accounts.tooling: ",
          "accounts.prod: is the same account as accounts.tooling: "]),
        ({"accounts.allow_shared": "yes"}, ["accounts.allow_shared: must be a valid boolean (got 'yes')"]),
    ],
)
def test_an_account_serves_one_role_unless_sharing_is_allowed(change: dict[str, Any], expected: list[str]) -> None:
    problems = problems_of(mutated(**change))
    assert len(problems) == len(expected), problems
    assert all(problem.startswith(start) for problem, start in zip(problems, expected, strict=True)), problems


def test_allow_shared_accepts_a_single_account() -> None:
    one = "222222222222"  # the dev account the default's model package names
    config = PlatformConfig.from_mapping(mutated(accounts={"tooling": one, "dev": one, "staging": one, "prod": one, "allow_shared": True}))
    assert {config.accounts.for_stage(stage) for stage in STAGES} == {one}


def test_a_single_account_platform_synthesizes_without_name_collisions(tmp_path: Path) -> None:
    from tests.conftest import synthesize

    one = "222222222222"
    data = mutated(accounts={"tooling": one, "dev": one, "staging": one, "prod": one, "allow_shared": True})
    data["models"] = data["models"][:1]  # the realtime model: its stacks and names are the ones that could collide
    data["models"][0]["smoke_test"] = {"body": "1,2,3"}
    platform = synthesize(PlatformConfig.from_mapping(data, source="single-account.yaml"), tmp_path)
    stacks = [stack for _, stack in platform.stacks()]
    assert {stack.account for stack in stacks} == {one}
    stack_names = [stack.stack_name for stack in stacks]
    # delivery, release tooling, the model's release pipeline, 3 x (network, storage, endpoint), registry, training
    assert len(stack_names) == len(set(stack_names)) == 14, stack_names
    # Every literal physical name (roles, buckets, endpoints, aliases, alarms, schedules...) is unique in the
    # account. Not physical names: metric, VPC endpoint service and display names; a PolicyName is unique
    # only within its role or scalable target, a StageName within its REST API.
    not_physical = {"MetricName", "ServiceName", "DisplayName", "PolicyName", "StageName"}
    seen: dict[tuple[str, str, str], str] = {}
    for path, template in platform.templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            for key, value in resource.get("Properties", {}).items():
                if key.endswith("Name") and key not in not_physical and isinstance(value, str):
                    where = f"{path}/{logical_id}"
                    named = (resource["Type"], key, value)
                    assert named not in seen, f"{named} in both {seen[named]} and {where}"
                    seen[named] = where
    assert ("AWS::SageMaker::Endpoint", "EndpointName", "mlops-demo-prod-churn") in seen
    assert ("AWS::IAM::Role", "RoleName", "mlops-demo-staging-churn-smoke") in seen
    # Drift alarms are already on the training account's bus: nothing forwards them, no bus policy admits them.
    for path, template in platform.templates.items():
        types = {resource["Type"] for resource in template.get("Resources", {}).values()}
        assert "AWS::Events::EventBusPolicy" not in types, path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"stages.staging.endpoint.data_capture_percent": 0},
         "stages.staging.endpoint.data_capture_percent: must be above 0 while models[0].monitoring is set: the drift job reads "
         "the captured requests, and training listens for this endpoint's drift alarm; capture some here or in "
         "models[0].endpoints.staging.data_capture_percent, or remove the monitoring (got 0)"),
        ({"models.0.endpoints": {"prod": {"data_capture_percent": 0}}},
         "models[0].endpoints.prod.data_capture_percent: must be above 0 while models[0].monitoring is set: "),
        ({"stages.dev.endpoint.serverless": {"memory_size_mb": 2048}},
         "stages.dev.endpoint.serverless: must not be set: serverless inference supports no VPC configuration or network isolation"),
    ],
)
def test_a_monitored_model_captures_data_in_every_stage(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(mutated(**change))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


@pytest.mark.parametrize(
    "change",
    [
        {"stages.dev.endpoint.data_capture_percent": 0, "models.0.endpoints": {"dev": {"data_capture_percent": 5}}},
        {"stages.prod.endpoint.data_capture_percent": 0, "models.0.monitoring": None},
    ],
)
def test_capture_may_be_off_where_nothing_monitors_it(change: dict[str, Any]) -> None:
    PlatformConfig.from_mapping(mutated(**change))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"models.0.gate": {"metric": "rmse"}},
         "models[0].gate.metric: must be one of auc, accuracy, precision, recall, f1, true_positive_rate, true_negative_rate, "
         "false_positive_rate, false_negative_rate, the metrics the bundled evaluation script writes for problem_type "
         "binary_classification (models[0].problem_type); for another, set models[0].processing.evaluate_image to an image "
         "whose report has it (got 'rmse')"),
        ({"stages.staging.endpoint.autoscaling": {"min_capacity": 5}},
         "stages.staging.endpoint.autoscaling.min_capacity: must be at most the maximum capacity, twice "
         "stages.staging.endpoint.instance_count (4) (got 5)"),
        ({"stages.staging.endpoint.autoscaling": {"min_capacity": 3, "max_capacity": 2}},
         "stages.staging.endpoint.autoscaling.min_capacity: must be at most stages.staging.endpoint.autoscaling.max_capacity (2) (got 3)"),
        ({"stages.prod.endpoint.autoscaling": {"max_capacity": 1}},
         "stages.prod.endpoint.instance_count: must be at most stages.prod.endpoint.autoscaling.max_capacity (1): the instance "
         "count is also autoscaling's minimum unless stages.prod.endpoint.autoscaling.min_capacity is set (got 2)"),
        ({"stages.prod.endpoint.autoscaling": {"max_capacity": 4}, "models.0.endpoints": {"prod": {"instance_count": 5}}},
         "models[0].endpoints.prod.instance_count: must be at most stages.prod.endpoint.autoscaling.max_capacity (4)"),
        ({"stages.staging.endpoint.autoscaling.off_hours.capacity": 5},
         "stages.staging.endpoint.autoscaling.off_hours.capacity: must be at most the maximum capacity, twice "
         "stages.staging.endpoint.instance_count (4) (got 5)"),
    ],
)
def test_values_the_constructs_would_refuse_are_config_errors(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(mutated(**change))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_another_metric_is_fine_with_an_evaluation_image() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/eval:1"
    config = PlatformConfig.from_mapping(mutated(**{"models.0.gate": {"metric": "log_loss"}, "models.0.processing": {"evaluate_image": image}}))
    assert config.models[0].gate.metric == "log_loss"
    # the report of an image of your own keeps the format of before
    assert config.models[0].gate.conditions_for("binary_classification", custom_report=True) == [(("metric",), "metrics.log_loss.value", ">=", 0.8)]


# -- the gate --------------------------------------------------------------------------------------------


ABALONE_GATE = {"conditions": [
    {"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6},
    {"path": "regression_metrics.r2.value", "direction": "maximize", "threshold": 0.4},
]}


def test_a_gate_of_several_conditions_in_either_direction() -> None:
    config = PlatformConfig.from_mapping(mutated(**{"models.0.problem_type": "regression", "models.0.gate": ABALONE_GATE}))
    model = config.models[0]
    assert model.gate.conditions_for(model.problem_type, custom_report=False) == [
        (("conditions", 0), "regression_metrics.mse.value", "<=", 6),
        (("conditions", 1), "regression_metrics.r2.value", ">=", 0.4),
    ]


@pytest.mark.parametrize(
    ("gate", "problem_type", "expected"),
    [
        ({}, "binary_classification", ("binary_classification_metrics.auc.value", ">=", 0.8)),
        ({"metric": "accuracy", "threshold": 0.9}, "binary_classification", ("binary_classification_metrics.accuracy.value", ">=", 0.9)),
        ({"metric": "rmse", "threshold": 2.5, "direction": "minimize"}, "regression", ("regression_metrics.rmse.value", "<=", 2.5)),
        ({"metric": "weighted_f1", "threshold": 0.7}, "multiclass_classification", ("multiclass_classification_metrics.weighted_f1.value", ">=", 0.7)),
    ],
    ids=["default", "accuracy", "regression-minimize", "multiclass"],
)
def test_the_one_metric_gate_keeps_working_as_a_path_of_the_model_quality_report(gate: dict, problem_type: str, expected: tuple) -> None:
    config = PlatformConfig.from_mapping(mutated(**{"models.0.problem_type": problem_type, "models.0.gate": gate}))
    model = config.models[0]
    ((keys, *condition),) = model.gate.conditions_for(model.problem_type, custom_report=False)
    assert (keys, tuple(condition)) == (("metric",), expected)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"gate": {"conditions": []}}, "models[0].gate.conditions: must have at least 1 item after validation, not 0 (got [])"),
        ({"problem_type": "regression", "gate": {"conditions": [{"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6},
                                                                 {"path": "regression_metrics..value", "op": "<=", "threshold": 6}]}},
         "models[0].gate.conditions[1].path: must be dot-separated keys of evaluation.json, each of letters, digits and underscores "
         "not starting with a digit, e.g. regression_metrics.mse.value (got 'regression_metrics..value')"),
        ({"gate": {"conditions": [{"path": "", "op": ">=", "threshold": 1}]}}, "models[0].gate.conditions[0].path: must be dot-separated keys"),
        ({"gate": {"conditions": [{"path": 3, "op": ">=", "threshold": 1}]}}, "models[0].gate.conditions[0].path: must be dot-separated keys"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": "0.8"}]}},
         "models[0].gate.conditions[0].threshold: must be a valid number (got '0.8')"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": True}]}},
         "models[0].gate.conditions[0].threshold: must be a valid number (got True)"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": float("inf")}]}},
         "models[0].gate.conditions[0].threshold: must be a finite number (got inf)"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": "=>", "threshold": 0.8}]}},
         "models[0].gate.conditions[0].op: must be '<=' or '>=' (got '=>')"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "threshold": 0.8}]}},
         "models[0].gate.conditions[0].op: set exactly one of op ('>=' or '<=') and direction (maximize or minimize)"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "direction": "minimize", "threshold": 0.8}]}},
         "models[0].gate.conditions[0].op: set exactly one of op"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": 0.8}], "metric": "auc"}},
         "models[0].gate.metric: must not be set together with conditions: write it as one more condition"),
        ({"gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": 0.8},
                                  {"path": "binary_classification_metrics.f2.value", "op": ">=", "threshold": 0.8}]}},
         "models[0].gate.conditions[1].path: must be a value the bundled evaluation script writes for problem_type "
         "binary_classification: binary_classification_metrics.auc.value, "),
        ({"problem_type": "regression", "gate": {"conditions": [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": 0.8}]}},
         "models[0].gate.conditions[0].path: must be a value the bundled evaluation script writes for problem_type regression: "
         "regression_metrics.mae.value, regression_metrics.mse.value, regression_metrics.rmse.value, regression_metrics.r2.value; "
         "for another, set models[0].processing.evaluate_image (got 'binary_classification_metrics.auc.value')"),
        ({"problem_type": "ranking"}, "models[0].problem_type: must be 'binary_classification', 'multiclass_classification' or 'regression' (got 'ranking')"),
    ],
    ids=["no-conditions", "empty-key", "empty-path", "path-not-a-string", "threshold-string", "threshold-bool", "threshold-infinite",
         "op", "neither-op-nor-direction", "op-and-direction", "both-forms", "path-not-written", "path-of-another-problem-type", "problem-type"],
)
def test_bad_gates_are_reported_with_the_condition_path(model: dict, expected: str) -> None:
    problems = problems_of(mutated(**{"models.0": {"name": "churn", **model}}))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_an_evaluation_image_of_your_own_may_gate_on_any_path() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/eval:1"
    gate = {"conditions": [{"path": "custom.score", "op": ">=", "threshold": 3}]}
    config = PlatformConfig.from_mapping(mutated(**{"models.0.gate": gate, "models.0.processing": {"evaluate_image": image}}))
    assert config.models[0].gate.conditions[0].path == "custom.score"  # type: ignore[index]


def problems_if_any(data: Any) -> list[str]:
    try:
        PlatformConfig.from_mapping(data, source="test.yaml")
    except ConfigError as err:
        return err.problems
    return []


@pytest.mark.parametrize("version", ["0.90-1", "0.90-2", "1.0-1", "1.2-1", "1.2-2", "1"])
def test_xgboost_versions_that_save_pickles_are_refused_with_the_bundled_evaluation(version: str) -> None:
    algorithm = {"framework": "xgboost", "version": version}
    problems = problems_of(mutated(**{"models.0.training.algorithm": algorithm}))
    pickled = [p for p in problems if p.startswith("models[0].training.algorithm: must be XGBoost 1.3-1 or later")]
    assert len(pickled) == 1, problems
    assert "Python pickle" in pickled[0] and "models[0].processing.evaluate_image" in pickled[0]
    # an evaluation image of your own loads the model however it likes
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/eval:1"
    again = problems_if_any(mutated(**{"models.0.training.algorithm": algorithm, "models.0.processing": {"evaluate_image": image}}))
    assert not [p for p in again if "pickle" in p], again


@pytest.mark.parametrize("version", ["1.3-1", "1.5-1", "1.7-1", "2.0-1"])
def test_xgboost_versions_that_save_boosters_pass(version: str) -> None:
    problems = problems_if_any(mutated(**{"models.0.training.algorithm": {"framework": "xgboost", "version": version}}))
    assert not [p for p in problems if "pickle" in p], problems


def _in_region(region: str, **changes: Any) -> dict[str, Any]:
    data = mutated(region=region, availability_zones=[f"{region}a", f"{region}b"], **{"models.0.model_package_arn": None}, **changes)
    data["models"] = data["models"][:1]  # one model is enough to find the region's images
    return data


def test_a_region_without_the_training_images_names_the_regions_that_have_them_and_the_image_keys() -> None:
    problems = problems_of(_in_region("ap-southeast-5"))
    assert [p.split(":")[0] for p in problems] == ["models[0].training.algorithm", "models[0].processing.preprocess_image"], problems
    algorithm, preprocess = problems
    assert algorithm.startswith("models[0].training.algorithm: has no xgboost 1.7-1 image in region ap-southeast-5; sagemaker-core ")
    assert ", installed here, has one in af-south-1, " in algorithm and " eu-west-1, " in algorithm
    assert "cn-north-1" not in algorithm and "us-gov-west-1" not in algorithm  # other partitions are no option
    assert algorithm.endswith("; or name your own image with models[0].training.image instead of algorithm "
                              "(got {'framework': 'xgboost', 'version': '1.7-1'})")
    assert preprocess.startswith("models[0].processing.preprocess_image: is required in region ap-southeast-5: the bundled "
                                 "preprocessing runs in SageMaker's scikit-learn image, which has no sklearn 1.2-1 image in region ap-southeast-5;")
    assert not any("pip install" in p for p in problems), problems


def test_own_images_make_a_region_without_sagemakers_images_usable() -> None:
    image = "123456789012.dkr.ecr.ap-southeast-5.amazonaws.com/churn:1"
    data = _in_region("ap-southeast-5", **{"models.0.training": {"image": image}, "models.0.processing": {"preprocess_image": image}})
    assert PlatformConfig.from_mapping(data).region == "ap-southeast-5"


def test_monitoring_needs_no_model_monitor_image_in_any_region() -> None:
    """The drift job runs the platform's own image (a CDK asset): a region without Model Monitor's image
    is no reason to refuse monitoring."""
    assert PlatformConfig.from_mapping(_in_region("ap-south-2")).models[0].monitoring is not None


@pytest.mark.parametrize(
    ("monitoring", "expected"),
    [
        ({"baseline_prefix": "churn/baseline/"},
         "models[0].monitoring.baseline_prefix: was a Model Monitor setting; the drift job replaced Model Monitor (each model "
         "version now brings its own baseline, written by the training pipeline and recorded in its model package: remove this key) "
         "(got 'churn/baseline/')"),
        ({"features": ["_c0"]},
         "models[0].monitoring.features: was a Model Monitor setting; the drift job replaced Model Monitor (the drift job tests "
         "every feature of the baseline, each with the test Evidently picks for its type and sample size: remove this key) (got ['_c0'])"),
        ({"schedule": "cron(0 * ? * * *)"},
         "models[0].monitoring.schedule: must be hourly or daily: the drift job checks the previous hour or day of captured "
         "requests (Model Monitor's cron expressions are gone) (got 'cron(0 * ? * * *)')"),
        ({"schedule": "weekly"}, "models[0].monitoring.schedule: must be 'hourly' or 'daily' (got 'weekly')"),
        ({"drift_threshold": 0}, "models[0].monitoring.drift_threshold: must be greater than 0 (got 0)"),
        ({"min_rows": 0}, "models[0].monitoring.min_rows: must be greater than or equal to 1 (got 0)"),
    ],
    ids=["baseline_prefix", "features", "cron-schedule", "weekly", "zero-threshold", "zero-rows"],
)
def test_model_monitor_keys_are_refused_with_what_replaced_them(monitoring: dict[str, Any], expected: str) -> None:
    data = default_config_data()
    data["models"][0]["monitoring"] = {**data["models"][0]["monitoring"], **monitoring}
    assert problems_of(data) == [expected]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("models.0.training.instance_type", "ml.g5.xlarge"),
        ("models.0.processing.instance_type", "ml.r5d.large"),
        ("stages.prod.endpoint.instance_type", "ml.g4dn.xlarge"),
        ("models.0.monitoring.instance_type", "ml.r5d.xlarge"),
    ],
)
def test_instance_types_with_local_storage_are_refused(path: str, value: str) -> None:
    """SageMaker refuses a volume key on instance types with local NVMe storage, and the platform encrypts
    every volume with its key (and its guardrails require it): such a type would fail at its first job."""
    data = default_config_data()
    node: Any = data
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[leaf] = value
    (problem,) = problems_of(data)
    expected_path = re.sub(r"\.(\d+)\.", r"[\1].", path)
    assert problem.startswith(f"{expected_path}: must be an instance type without local (NVMe) instance storage"), problem
    assert problem.endswith(f"(got {value!r})")


def test_instance_types_without_local_storage_pass_the_local_storage_check() -> None:
    from mlops_constructs._instance_types import has_local_storage

    assert [t for t in ("ml.m5.large", "ml.p3.2xlarge", "ml.c5n.xlarge", "ml.t3.medium", "ml.inf2.xlarge") if has_local_storage(t)] == []
    assert all(has_local_storage(t) for t in ("ml.m5d.large", "ml.g4dn.xlarge", "ml.g5.xlarge", "ml.p4d.24xlarge", "ml.c6id.large", "ml.trn1.2xlarge"))


# -- the delivery source: the bucket name and the connection ARN (issue 18) ------------------------

BUCKET_RULE = "must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens"
CONNECTION_RULE = "must be an AWS CodeConnections connection ARN, arn:aws:codeconnections:<region>:<account>:connection/<uuid>"
UUID = "0123abcd-4567-89ef-0123-456789abcdef"


def shown(value: Any) -> str:
    """A value as an error line shows it: its repr, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def with_source(source: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(default_config_data())
    data["delivery"] = source
    return data


@pytest.mark.parametrize("bucket", ["abc", "a" * 63, "acme-source.releases-2", "1acme9", "10.0.0.1x"])
def test_s3_source_bucket_names_that_s3_allows_load(bucket: str) -> None:
    config = PlatformConfig.from_mapping(with_source({"s3": {"bucket": bucket, "key": "releases/platform.zip"}}))
    assert config.delivery is not None and config.delivery.s3 is not None
    assert config.delivery.s3.bucket == bucket


@pytest.mark.parametrize(
    "bucket",
    ["ab", "a" * 64, "Acme-source", "acme_source", "-acme", "acme-", ".acme", "acme.", "acme..source", "192.168.1.1", "", 123456],
    ids=["2-chars", "64-chars", "uppercase", "underscore", "leading-hyphen", "trailing-hyphen", "leading-dot", "trailing-dot",
         "double-dot", "ip-address", "empty", "number"],
)
def test_s3_source_bucket_names_that_s3_refuses_are_one_exact_line(bucket: Any) -> None:
    data = with_source({"s3": {"bucket": bucket, "key": "releases/platform.zip"}})
    assert problems_of(data) == [f"delivery.s3.bucket: {BUCKET_RULE} (got {bucket!r})"]


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:codeconnections:eu-west-1:111111111111:connection/{UUID}",
        f"arn:aws:codestar-connections:us-east-1:123456789012:connection/{UUID}",  # the service's former name
        f"arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/{UUID}",
        f"arn:aws-us-gov:codeconnections:us-gov-west-1:123456789012:connection/{UUID}",
    ],
    ids=["codeconnections", "codestar-connections", "china", "govcloud"],
)
def test_connection_arns_load(arn: str) -> None:
    config = PlatformConfig.from_mapping(with_source({"connection": {"connection_arn": arn, "repository": "acme/mlops-platform"}}))
    assert config.delivery is not None and config.delivery.connection is not None
    assert config.delivery.connection.connection_arn == arn


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:codeconnections:eu-west-1:11111111111:connection/{UUID}",  # 11-digit account
        f"arn:aws:codeconnections:eu-west-1:1111111111112:connection/{UUID}",  # 13-digit account
        f"arn:aws:codeconnections:eu-west-1:111111111111:connection/{UUID.upper()}",
        f"arn:aws:codeconnections:eu-west-1:111111111111:connection/{UUID[:-1]}",  # uuid one digit short
        f"arn:aws:codeconnections:eu-west-1:111111111111:connection/{UUID}/extra",
        f"xarn:aws:codeconnections:eu-west-1:111111111111:connection/{UUID}",
        f"arn:aws:codecommit:eu-west-1:111111111111:connection/{UUID}",
        f"arn:aws:codeconnections:eu-west-1:111111111111:host/{UUID}",
        f"arn:aws:codeconnections::111111111111:connection/{UUID}",  # no region
        "arn:aws:codeconnections:eu-west-1:111:connection/x",
        123,
    ],
    ids=["account-11", "account-13", "uppercase-uuid", "short-uuid", "suffix", "prefix", "other-service", "host",
         "no-region", "malformed", "number"],
)
def test_malformed_connection_arns_are_one_exact_line(arn: Any) -> None:
    data = with_source({"connection": {"connection_arn": arn, "repository": "acme/mlops-platform"}})
    assert problems_of(data) == [f"delivery.connection.connection_arn: {CONNECTION_RULE} (got {shown(arn)})"]


# -- models[].api (InferenceApi) --------------------------------------------------------------------


def test_the_default_config_gives_churn_an_iam_authorized_regional_api_in_staging_and_prod() -> None:
    api = load_config(DEFAULT_CONFIG).models[0].api
    assert api is not None
    assert (api.stages, api.endpoint_type, api.authorization) == (["staging", "prod"], "regional", "iam")
    assert (api.content_types, api.max_body_kb, api.throttling.rate_limit, api.throttling.burst_limit) == (
        ["text/csv", "application/json"], 16, 50, 100)


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ({"authorization": "cognito"}, ["models[0].api.user_pool_arn: is required with authorization: cognito (got None)"]),
        ({"user_pool_arn": "arn:aws:cognito-idp:eu-west-1:333333333333:userpool/eu-west-1_AbC123"},
         ["models[0].api.user_pool_arn: must not be set with authorization: iam; set authorization: cognito to use it "
          "(got 'arn:aws:cognito-idp:eu-west-1:333333333333:userpool/eu-west-1_AbC123')"]),
        ({"authorization": "cognito", "user_pool_arn": "arn:aws:cognito-idp:us-east-1:333333333333:userpool/us-east-1_AbC123"},
         ["models[0].api.user_pool_arn: must be a user pool of region eu-west-1, the API's "
          "(got 'arn:aws:cognito-idp:us-east-1:333333333333:userpool/us-east-1_AbC123')"]),
        ({"authorization": "jwt"}, ["models[0].api.authorization: must be 'iam' or 'cognito' (got 'jwt')"]),
        ({"endpoint_type": "edge"}, ["models[0].api.endpoint_type: must be 'regional' or 'private' (got 'edge')"]),
        ({"stages": ["staging", "staging"]}, ["models[0].api.stages[1]: duplicate stage; list each stage once (got 'staging')"]),
        ({"stages": ["qa"]}, ["models[0].api.stages[0]: must be 'dev', 'staging' or 'prod' (got 'qa')"]),
        ({"max_body_kb": 65}, ["models[0].api.max_body_kb: must be less than or equal to 64 (got 65)"]),
        ({"waf_rate_limit": 5}, ["models[0].api.waf_rate_limit: must be greater than or equal to 10 (got 5)"]),
        ({"content_types": ["text/csv; charset=utf-8"]},
         ["models[0].api.content_types[0]: must match pattern '^[a-z]+/[a-z0-9.+-]+$' (got 'text/csv; charset=utf-8')"]),
        ({"content_types": ["application/json"]},
         ["models[0].smoke_test.content_type: must be one of models[0].api.content_types (application/json): the staging smoke "
          "test also calls the API (got 'text/csv')"]),
        ({"custom_domain": {"domain_name": "churn.api.example.com"}}, ["models[0].api.custom_domain.certificate_arn: required key is missing"]),
        ({"custom_domain": {"domain_name": "churn.api.example.com",
                            "certificate_arn": "arn:aws:acm:us-east-1:333333333333:certificate/00000000-0000-0000-0000-000000000000"}},
         ["models[0].api.custom_domain.certificate_arn: must be a certificate of region eu-west-1: a regional API's domain uses a "
          "certificate of its region (got 'arn:aws:acm:us-east-1:333333333333:certificate/00000000-0000-0000-0000-00000...)"]),
        ({"quota_per_day": 1000},
         ["models[0].api.quota_per_day: must not be set without api_key_required: true: a usage plan's quota counts only "
          "requests with an API key (got 1000)"]),
        ({"api_key_required": "sometimes"}, ["models[0].api.api_key_required: must be a valid boolean (got 'sometimes')"]),
        ({"endpoint_type": "private", "custom_domain": {
            "domain_name": "churn.api.example.com",
            "certificate_arn": "arn:aws:acm:eu-west-1:333333333333:certificate/00000000-0000-0000-0000-000000000000"}},
         ["models[0].api.custom_domain.domain_name: must not be set with endpoint_type: private; a custom domain is built for a "
          "regional API only (got 'churn.api.example.com')"]),
        ({"throttle": {}}, None),
    ],
)
def test_api_problems_are_one_line_each_naming_the_key(api: dict[str, Any], expected: list[str] | None) -> None:
    got = problems_of(mutated(**{"models.0.api": api}))
    if expected is None:  # an unknown key: named, with the allowed keys
        assert len(got) == 1 and got[0].startswith("models[0].api.throttle: unknown key; allowed keys here: ")
        assert "did you mean 'throttling'?" in got[0]
        return
    assert got == expected


def test_a_quota_is_accepted_with_api_keys_required() -> None:
    config = PlatformConfig.from_mapping(mutated(**{"models.0.api": {"api_key_required": True, "quota_per_day": 1000}}))
    api = config.models[0].api
    assert api is not None and (api.api_key_required, api.quota_per_day) == (True, 1000)
    assert load_config(DEFAULT_CONFIG).models[0].api.api_key_required is False  # type: ignore[union-attr]


POOL_RULE = "must be a Cognito user pool ARN, arn:aws:cognito-idp:<region>:<account>:userpool/<region>_<id>"
DOMAIN_RULE = "must be a lowercase DNS name like churn.api.example.com"
CERTIFICATE_RULE = "must be an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<uuid>"
POOL = "arn:aws:cognito-idp:eu-west-1:333333333333:userpool/eu-west-1_AbC123"
CERTIFICATE = "arn:aws:acm:eu-west-1:333333333333:certificate/00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ({"authorization": "cognito", "user_pool_arn": "arn:aws:cognito-idp:eu-west-1:333333333333:userpool/AbC123"},
         f"models[0].api.user_pool_arn: {POOL_RULE} (got 'arn:aws:cognito-idp:eu-west-1:333333333333:userpool/AbC123')"),
        ({"authorization": "cognito", "user_pool_arn": 333333333333},
         f"models[0].api.user_pool_arn: {POOL_RULE} (got 333333333333)"),
        ({"custom_domain": {"domain_name": "Churn.api.example.com", "certificate_arn": CERTIFICATE}},
         f"models[0].api.custom_domain.domain_name: {DOMAIN_RULE} (got 'Churn.api.example.com')"),
        ({"custom_domain": {"domain_name": "churn", "certificate_arn": CERTIFICATE}},
         f"models[0].api.custom_domain.domain_name: {DOMAIN_RULE} (got 'churn')"),
        ({"custom_domain": {"domain_name": "churn.api.example.com",
                            "certificate_arn": "arn:aws:acm:eu-west-1:333333333333:certificate/not-a-uuid"}},
         f"models[0].api.custom_domain.certificate_arn: {CERTIFICATE_RULE} "
         "(got 'arn:aws:acm:eu-west-1:333333333333:certificate/not-a-uuid')"),
        ({"custom_domain": {"domain_name": "churn.api.example.com", "certificate_arn": ["arn"]}},
         f"models[0].api.custom_domain.certificate_arn: {CERTIFICATE_RULE} (got ['arn'])"),
    ],
    ids=["pool-without-region", "pool-number", "domain-uppercase", "domain-one-label", "certificate-not-uuid", "certificate-list"],
)
def test_a_malformed_user_pool_domain_or_certificate_is_one_exact_line(api: dict[str, Any], expected: str) -> None:
    assert problems_of(mutated(**{"models.0.api": api})) == [expected]


def test_a_user_pool_and_a_custom_domain_of_the_region_are_accepted() -> None:
    api = PlatformConfig.from_mapping(mutated(**{"models.0.api": {
        "authorization": "cognito", "user_pool_arn": POOL,
        "custom_domain": {"domain_name": "churn.api.example.com", "certificate_arn": CERTIFICATE}}})).models[0].api
    assert api is not None and api.custom_domain is not None
    assert (api.user_pool_arn, api.custom_domain.domain_name, api.custom_domain.certificate_arn) == (
        POOL, "churn.api.example.com", CERTIFICATE)


def test_a_value_is_shown_whole_up_to_80_characters_and_cut_beyond() -> None:
    rule = "models[0].api.content_types[0]: must match pattern '^[a-z]+/[a-z0-9.+-]+$'"
    assert problems_of(mutated(**{"models.0.api": {"content_types": ["a" * 78]}})) == [f"{rule} (got '{'a' * 78}')"]  # 80 with quotes
    assert problems_of(mutated(**{"models.0.api": {"content_types": ["a" * 79]}})) == [f"{rule} (got '{'a' * 76}...)"]


def test_a_mapping_validated_without_a_source_is_reported_as_config() -> None:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(["region: eu-west-1"])
    assert caught.value.source == "<config>"
    assert str(caught.value) == "<config>: the file must hold a mapping of settings (got ['region: eu-west-1'])"


def test_the_api_of_a_model_after_one_without_an_api_is_checked_too() -> None:
    data = copy.deepcopy(default_config_data())
    assert "api" not in data["models"][1]  # lead-scoring: batch only, no API
    data["models"].append({"name": "scores", "smoke_test": {"body": "1,2"}, "api": {
        "content_types": ["application/json"], "authorization": "cognito",
        "user_pool_arn": "arn:aws:cognito-idp:us-east-1:333333333333:userpool/us-east-1_AbC123"}})
    assert problems_of(data) == [
        "models[2].smoke_test.content_type: must be one of models[2].api.content_types (application/json): the staging smoke "
        "test also calls the API (got 'text/csv')",
        "models[2].api.user_pool_arn: must be a user pool of region eu-west-1, the API's "
        "(got 'arn:aws:cognito-idp:us-east-1:333333333333:userpool/us-east-1_AbC123')",
    ]


def test_interface_endpoints_are_in_one_zone_in_dev_two_in_staging_and_all_in_prod(default_config: PlatformConfig) -> None:
    zones = default_config.availability_zones
    assert len(zones) == 3
    assert [default_config.endpoint_zones_for(stage) for stage in STAGES] == [zones[:1], zones[:2], zones]


def test_interface_endpoint_zones_can_be_set_per_stage_up_to_the_configured_zones() -> None:
    config = PlatformConfig.from_mapping(mutated(**{"stages.dev.interface_endpoint_zones": 3, "stages.prod.interface_endpoint_zones": 2}))
    assert config.endpoint_zones_for("dev") == config.availability_zones
    assert config.endpoint_zones_for("prod") == config.availability_zones[:2]
    assert problems_of(mutated(**{"stages.staging.interface_endpoint_zones": 4})) == [
        "stages.staging.interface_endpoint_zones: must be at most the number of availability_zones (3) (got 4)"
    ]
    assert problems_of(mutated(**{"stages.staging.interface_endpoint_zones": 0})) == [
        "stages.staging.interface_endpoint_zones: must be greater than or equal to 1 (got 0)"
    ]

def test_deployments_keep_to_sagemakers_step_and_timeout_rules() -> None:
    linear = {"strategy": "LINEAR", "traffic_step_percent": 5}
    assert problems_of(mutated(**{"stages.prod.endpoint.deployment": linear})) == [
        "stages.prod.endpoint.deployment.traffic_step_percent: must be from 10 to 50 with strategy LINEAR: SageMaker shifts a linear "
        "step of 10-50% of the fleet (got 5)"
    ]
    slow = {"strategy": "LINEAR", "traffic_step_percent": 10, "wait_minutes": 10, "max_execution_timeout_minutes": 60}
    assert problems_of(mutated(**{"stages.prod.endpoint.deployment": slow})) == [
        "stages.prod.endpoint.deployment.max_execution_timeout_minutes: must be more than the deployment's waiting, 95 minutes "
        "(termination_wait_minutes plus wait_minutes for each of the 9 waits of a LINEAR deployment by 10%) (got 60)"
    ]
    config = PlatformConfig.from_mapping(mutated(**{"stages.prod.endpoint.deployment": {**slow, "max_execution_timeout_minutes": 120}}))
    assert config.stage("prod").endpoint.deployment is not None


def test_api_gateway_logging_role_is_created_unless_the_account_has_one() -> None:
    config = PlatformConfig.from_mapping(mutated(**{"stages.prod.api_gateway_logging_role": "existing"}))
    assert [config.stage(stage).api_gateway_logging_role for stage in STAGES] == ["create", "create", "existing"]
    assert problems_of(mutated(**{"stages.staging.api_gateway_logging_role": "none"})) == [
        "stages.staging.api_gateway_logging_role: must be 'create' or 'existing' (got 'none')"
    ]


def _with_model(model: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(default_config_data())
    data["models"].append({"name": "scores", **model})
    return data


@pytest.mark.parametrize(("model", "expected"), [
    ({"serving": ["batch"]},
     ["models[2].batch: is required with serving: [batch]: say when the runs start (schedule and/or on_new_data) (got None)"]),
    ({"batch": {"on_new_data": True}},
     ["models[2].serving: must include batch while a batch section is set: add it, or remove batch (got ['realtime'])"]),
    ({"serving": ["batch", "batch"], "batch": {"on_new_data": True}},
     ["models[2].serving: must name each of realtime and batch at most once (got ['batch', 'batch'])"]),
    ({"serving": ["stream"]}, ["models[2].serving[0]: must be 'realtime' or 'batch' (got 'stream')"]),
    ({"serving": []}, ["models[2].serving: must have at least 1 item after validation, not 0 (got [])"]),
    ({"serving": ["batch"], "batch": {}},
     ["models[2].batch.schedule: is required unless on_new_data is true: nothing would start a run (got None)"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True}, "smoke_test": {"body": "1"}},
     ["models[2].smoke_test: must not be set while serving is [batch]: a batch-only model has no endpoint to send the smoke test to; "
      "remove it, or add realtime (got {'content_type': 'text/csv', 'body': '1'})"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True}, "endpoints": {"prod": {"instance_count": 3}}},
     ["models[2].endpoints: must not be set while serving is [batch]: a batch-only model has no endpoint to override settings of; "
      "remove it, or add realtime (got {'prod': {'instance_count': 3}})"]),
    ({"serving": ["batch"], "batch": {"schedule": "daily"}},
     ["models[2].batch.schedule: must be an EventBridge schedule expression: rate(<n> <minutes|hours|days>) or cron(<6 fields>) (got 'daily')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "stages": ["qa"]}},
     ["models[2].batch.stages[0]: must be 'dev', 'staging' or 'prod' (got 'qa')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "stages": ["prod", "prod"]}},
     ["models[2].batch.stages: must name each stage once (got ['prod', 'prod'])"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "max_concurrent_transforms": 20}},
     ["models[2].batch.max_concurrent_transforms: times max_payload_mb (6) must be at most 100 MB (SageMaker's limit) (got 20)"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "max_payload_mb": 101}},
     ["models[2].batch.max_payload_mb: must be less than or equal to 100 (got 101)"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "split_type": "line"}},
     ["models[2].batch.split_type: must be 'None', 'Line', 'RecordIO' or 'TFRecord' (got 'line')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "accept": "application/json"}},
     ["models[2].batch.accept: must be 'text/csv' or 'application/jsonlines' (got 'application/json')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "input_filter": "[1:]"}},
     ["models[2].batch.input_filter: must match pattern '^\\$.{0,62}$' (got '[1:]')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "input_prefix": "/in"}},
     ["models[2].batch.input_prefix: must be an S3 key prefix without a leading slash and ending with '/', e.g. churn/raw/ (got '/in')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "output_columns": {"score": "number", "run_date": "string"}}},
     ["models[2].batch.output_columns.run_date: is the results table's partition column: name the column otherwise (got 'string')",
      "models[2].batch.output_columns.score: must be an Athena type: string, double, float, bigint, int, smallint, tinyint, boolean, "
      "date, timestamp or decimal(p,s) (got 'number')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "instance_type": "ml.m5d.large"}},
     ["models[2].batch.instance_type: must be a SageMaker batch transform instance type name (ml.<family>.<size>); did you mean "
      "ml.m5.large, ml.m5.xlarge, ml.m5.4xlarge? (got 'ml.m5d.large')"]),
])
def test_batch_settings_errors_are_one_line_each(model: dict[str, Any], expected: list[str]) -> None:
    assert problems_of(_with_model(model)) == expected


def test_a_model_may_serve_both_ways_and_batch_may_run_in_dev() -> None:
    config = PlatformConfig.from_mapping(_with_model({"serving": ["realtime", "batch"], "batch": {"schedule": "rate(1 day)",
                                                                                                  "stages": ["dev", "staging", "prod"]}}))
    both = config.models[2]
    assert both.realtime and [s for s in STAGES if both.batch_in(s)] == ["dev", "staging", "prod"]
    assert both.batch_input_prefix == "scores/batch-input/"
    assert not config.models[0].batch_in("staging")  # churn: realtime only


def test_drift_monitoring_is_per_stage_staging_and_prod_by_default() -> None:
    monitoring = load_config(DEFAULT_CONFIG).models[0].monitoring
    assert monitoring is not None and monitoring.stages == ["staging", "prod"]
    assert problems_of(mutated(**{"models.0.monitoring.stages": ["prod", "prod"]})) == [
        "models[0].monitoring.stages: must name each stage once (got ['prod', 'prod'])"
    ]
    # capture is required only where the drift job reads it
    no_dev_capture = mutated(**{"stages.dev.endpoint.data_capture_percent": 0})
    assert PlatformConfig.from_mapping(no_dev_capture).stage("dev").endpoint.data_capture_percent == 0
    no_dev_capture["models"][0]["monitoring"]["stages"] = ["dev", "prod"]
    assert [p.split(":")[0] for p in problems_of(no_dev_capture)] == ["stages.dev.endpoint.data_capture_percent"]


def test_file_level_problems_are_one_exact_line_each(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(missing)
    assert str(raised.value) == f"{missing}: cannot read the configuration file: No such file or directory"

    misindented = tmp_path / "broken.yaml"
    misindented.write_text("project: demo\n  region: eu-west-1\n")  # the colon of line 2 (column 9) cannot start a mapping there
    with pytest.raises(ConfigError) as raised:
        load_config(misindented)
    assert str(raised.value) == f"{misindented}: line 2, column 9: not valid YAML: mapping values are not allowed here"

    text = DEFAULT_CONFIG.read_text().replace("region: eu-west-1\n", "region: eu-west-1\nregion: us-east-1\n", 1)
    duplicated = tmp_path / "dup.yaml"
    duplicated.write_text(text)
    line = text.splitlines().index("region: us-east-1") + 1
    with pytest.raises(ConfigError) as raised:
        load_config(duplicated)
    assert str(raised.value) == f"{duplicated}: line {line}, column 1: not valid YAML: duplicate key 'region'; each key may appear once per mapping"


def test_a_character_yaml_does_not_allow_is_reported_without_a_position_it_does_not_have(tmp_path: Path) -> None:
    path = tmp_path / "bell.yaml"
    path.write_text("project: demo\x07\n")  # PyYAML's reader refuses it before parsing: no line and column
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{path}: not valid YAML: unacceptable character #x0007: special characters are not allowed\n"
        '  in "<unicode string>", position 13'
    )


def test_a_problem_in_a_file_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(DEFAULT_CONFIG.read_text().replace("region: eu-west-1\n", "region: eu-west-9\n", 1))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.source == str(path)
    assert str(raised.value).startswith(f"{path}: region: must be an AWS region where SageMaker is offered")


@pytest.mark.parametrize("label", ["x", "y" * 256])
def test_a_label_name_of_1_to_256_characters_is_accepted(label: str) -> None:
    config = PlatformConfig.from_mapping(mutated(**{"models.0": {"name": "churn", "processing": {"header": True, "label": label}}}))
    assert config.models[0].processing.label == label


def test_a_label_name_of_257_characters_is_refused() -> None:
    problems = problems_of(mutated(**{"models.0": {"name": "churn", "processing": {"header": True, "label": "y" * 257}}}))
    assert len(problems) == 1
    assert problems[0].startswith("models[0].processing.label: must be a column name of 1 to 256 characters, or a 0-based column index")


def test_the_tuning_settings_become_the_constructs_tuning() -> None:
    from mlops_constructs.config import TuningSettings
    from mlops_constructs.training.tuning import CategoricalRange, ContinuousRange, IntegerRange, Tuning, TuningObjective

    settings = TuningSettings.model_validate({
        "objective": {"metric": "validation:rmse", "type": "Minimize", "regex": "rmse=([0-9.]+)"},
        "ranges": {
            "eta": {"type": "continuous", "min": 0.01, "max": 0.3, "scaling": "Logarithmic"},
            "alpha": {"type": "continuous", "min": 0, "max": 2},
            "max_depth": {"type": "integer", "min": 3, "max": 9},
            "booster": {"type": "categorical", "values": ["gbtree", 2, 0.5]},
        },
        "strategy": "Random", "max_jobs": 12, "max_parallel_jobs": 3, "early_stopping": "Auto",
    })
    assert settings.as_tuning() == Tuning(
        objective=TuningObjective(metric="validation:rmse", type="Minimize", regex="rmse=([0-9.]+)"),
        ranges={
            "eta": ContinuousRange(min=0.01, max=0.3, scaling="Logarithmic"),
            "alpha": ContinuousRange(min=0, max=2, scaling="Auto"),
            "max_depth": IntegerRange(min=3, max=9, scaling="Auto"),
            "booster": CategoricalRange(values=("gbtree", "2", "0.5")),  # strings, as SageMaker passes hyperparameters
        },
        strategy="Random", max_jobs=12, max_parallel_jobs=3, early_stopping="Auto",
    )


@pytest.mark.parametrize("entry_point", ["/opt/ml/code/train.py", "../train.py", "jobs/../../train.py", "train.sh"])
def test_an_entry_point_outside_source_dir_or_not_python_is_refused(entry_point: str) -> None:
    from mlops_constructs.config import _entry_point

    with pytest.raises(ValueError) as refused:
        _entry_point(entry_point)
    assert str(refused.value) == "must be a .py file's path relative to source_dir, without '..' (train.py, jobs/train.py)"
    assert _entry_point("jobs/train.py") == "jobs/train.py"


# -- drift checks of a batch-only model's input (issue 19) ---------------------------------------------


@pytest.mark.parametrize(("model", "expected"), [
    ({"serving": ["batch"], "batch": {"on_new_data": True}, "monitoring": {"schedule": "daily"}},
     ["models[2].monitoring.schedule: must not be set while serving is [batch]: a batch-only model's drift check runs after each "
      "batch run, on the input it scored; remove it (got 'daily')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "input_filter": "$.features"}, "monitoring": {}},
     ["models[2].batch.input_filter: must be '$' or '$[k:]' while monitoring is set: the drift check reads each input row less its "
      "first k columns, as the model sees it; change it, or remove monitoring (got '$.features')"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "stages": ["prod"]}, "monitoring": {}},
     ["models[2].monitoring.stages: must name only stages the batch runs in (prod) while serving is [batch]: staging has no batch "
      "input to check; remove it, or add it to batch.stages (got ['staging', 'prod'])"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "stages": ["dev"]}, "monitoring": {}},
     ["models[2].monitoring.stages: must name only stages the batch runs in (dev) while serving is [batch]: staging, prod has no "
      "batch input to check; remove it, or add it to batch.stages (got ['staging', 'prod'])"]),
    ({"serving": ["batch"], "batch": {"on_new_data": True, "stages": ["dev", "staging"]}, "monitoring": {}},
     ["models[2].monitoring.stages: must name only stages the batch runs in (dev, staging) while serving is [batch]: prod has no "
      "batch input to check; remove it, or add it to batch.stages (got ['staging', 'prod'])"]),
])
def test_batch_monitoring_errors_are_one_line_each(model: dict[str, Any], expected: list[str]) -> None:
    assert problems_of(_with_model(model)) == expected


def test_a_batch_only_model_may_be_monitored_on_its_input() -> None:
    config = PlatformConfig.from_mapping(_with_model({
        "serving": ["batch"], "batch": {"on_new_data": True, "input_filter": "$[2:]"},
        "monitoring": {"drift_threshold": 0.3, "min_rows": 50, "stages": ["prod"]}}))
    scores = config.models[2]
    assert [s for s in STAGES if scores.batch_drift_in(s)] == ["prod"]
    assert scores.batch_drop_columns == 2
    # a model served both ways is checked on its endpoints' capture, not on its batch input
    both = PlatformConfig.from_mapping(_with_model({"serving": ["realtime", "batch"], "batch": {"on_new_data": True},
                                                    "monitoring": {}})).models[2]
    assert not any(both.batch_drift_in(s) for s in STAGES)


def test_only_regions_of_the_standard_partition_are_accepted() -> None:
    """The platform writes ``arn:aws:`` ARNs; a region of another partition is refused by name, and the pattern that
    recognizes them agrees with botocore's partition data for every region the catalog knows."""
    import botocore.session

    from mlops_constructs._sagemaker_catalog import sagemaker_regions
    from mlops_constructs.config import OTHER_PARTITION_REGION

    session = botocore.session.get_session()
    regions = sorted(sagemaker_regions())
    assert {r for r in regions if session.get_partition_for_region(r) != "aws"} == {r for r in regions if OTHER_PARTITION_REGION.fullmatch(r)}
    assert "cn-north-1" in regions and "us-gov-west-1" in regions  # the catalog has them: the check is not vacuous
    for region in ("cn-north-1", "us-gov-west-1"):
        problems = problems_of(_in_region(region))
        assert any(p.startswith("region: must be a region of the standard AWS partition (aws)") for p in problems), problems
    assert PlatformConfig.from_mapping(_in_region("eu-west-1")).region == "eu-west-1"
