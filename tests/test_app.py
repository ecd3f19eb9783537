"""The platform's app (``app.new_app``): CDK's built-in template validation and CloudFormation Guard run in
the test suite's synthesis always and in the app's only when ``-c validate_templates=true`` asks for them;
the app records no construct stack traces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.config import ConfigError
from tests.conftest import CDK_CONTEXT, REPO, SynthesizedPlatform

PLUGIN = "CloudFormation Validate"


def _app(tmp_path: Path, **context: object) -> cdk.App:
    """``app.new_app()`` with cdk.json's context plus ``context``, as ``cdk synth -c key=value`` runs it."""
    from app import new_app

    return new_app(context={**CDK_CONTEXT, **context}, outdir=str(tmp_path))


def _synth_invalid_queue(app: cdk.App) -> list[str]:
    """Synthesize one queue whose retention period is not a number, and return the open findings."""
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties={"MessageRetentionPeriod": "one week"})
    try:
        app.synth()
    except RuntimeError as err:  # run in process, a failed validation also raises
        assert "ValidationFailed" in str(err)
    return [line for line in open_findings(read_report(app.outdir)) if line.startswith(f"{PLUGIN}:")]


def test_the_app_leaves_template_validation_to_the_tests_by_default(tmp_path: Path) -> None:
    assert _synth_invalid_queue(_app(tmp_path)) == []


@pytest.mark.parametrize("value", [True, "true"])
def test_validate_templates_turns_cdk_template_validation_on(tmp_path: Path, value: object) -> None:
    findings = _synth_invalid_queue(_app(tmp_path, validate_templates=value))
    assert findings == [f"{PLUGIN}: F3012 at Probe/Queue: MessageRetentionPeriod: 'one week' is not of type 'integer'"], findings


def test_the_app_records_no_creation_stack_traces(tmp_path: Path) -> None:
    # From Python, CDK's traces hold only jsii's frames; recording them is time spent on nothing.
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Probe")
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue")
    app.synth()
    metadata = json.loads((tmp_path / "Probe.metadata.json").read_text())  # construct path -> entries
    types = {entry["type"] for entries in metadata.values() for entry in entries}
    assert "aws:cdk:logicalId" in types  # the resource's metadata is there, without its creation stack
    assert "aws:cdk:creationStack" not in types


def test_the_app_reports_no_usage_data_to_aws(tmp_path: Path) -> None:
    # No AWS::CDK::Metadata resource (the CDK version and which constructs a stack uses) in the templates
    # the CLI synthesizes, and no construct properties recorded for it; the CLI's own telemetry is off
    # in the Makefile. cdk.json holds both settings, which the CLI passes to the app as context.
    settings = json.loads((REPO / "cdk.json").read_text())
    assert settings["versionReporting"] is False
    assert settings["context"]["@aws-cdk/core:enableAdditionalMetadataCollection"] is False
    # The app as the CLI runs it with these settings: cdk.json's context, and versionReporting as aws:cdk:version-reporting.
    app = _app(tmp_path, **{"aws:cdk:version-reporting": settings["versionReporting"]})
    stack = cdk.Stack(app, "Probe")
    sqs.Queue(stack, "Queue")  # an L2 construct, whose properties the additional metadata collection would record
    app.synth()
    template = json.loads((tmp_path / "Probe.template.json").read_text())
    assert [r["Type"] for r in template["Resources"].values()] == ["AWS::SQS::Queue"]  # no AWS::CDK::Metadata
    metadata = json.loads((tmp_path / "Probe.metadata.json").read_text())
    # no aws:cdk:analytics:construct entry
    assert {entry["type"] for entries in metadata.values() for entry in entries} == {"aws:cdk:logicalId", "aws:cdk:templateFile"}


def test_validate_templates_accepts_only_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _app(tmp_path, validate_templates="yes")
    assert str(raised.value) == "context validate_templates: must be true or false (got 'yes')"


def test_the_suites_synthesis_ran_cdk_template_validation(platform: SynthesizedPlatform) -> None:
    # The suite synthesizes with CDK's default, validation on: its report holds the plugin, with the
    # one acknowledgement the platform makes for it (W3010 on the isolated subnets).
    reports = {plugin["pluginName"]: plugin for plugin in platform.report["pluginReports"]}
    assert PLUGIN in reports, sorted(reports)
    suppressed = {(v["ruleName"], v["acknowledgedId"], v["acknowledgedAt"]) for v in reports[PLUGIN].get("suppressedViolations", [])}
    assert suppressed == {
        ("W3010", "CloudFormation-Validate::W3010", f"{stage}/Network/Network/Vpc/isolatedSubnet{zone}")
        for stage in ("Dev", "Staging", "Prod") for zone in (1, 2, 3)
    }, suppressed


class _Built(Exception):
    """Raised instead of building the platform, to stop ``app.main`` there."""


@pytest.mark.parametrize(("context", "validate"), [({}, False), ({"validate_templates": "true"}, True)], ids=["plain", "validate"])
def test_the_app_runs_guard_only_when_the_synthesis_asks_for_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: dict, validate: bool
) -> None:
    # A plain `cdk synth` asks build_platform for no CloudFormation Guard; the delivery pipeline's synth step
    # passes -c validate_templates=true (test_delivery_pipeline) and gets it. build_platform hands the answer to
    # add_compliance_checks (test_gates: guard=False runs the packs only), and the suite's own synthesis asks
    # for Guard (test_gates: Guard's report is in it).
    import app as app_module

    asked: list[object] = []

    def build_platform(*args: object, validate: object, **kwargs: object) -> None:
        asked.append(validate)
        raise _Built

    monkeypatch.setattr(app_module, "build_platform", build_platform)
    real_new_app = app_module.new_app
    context = {**CDK_CONTEXT, "config": str(REPO / "config" / "default.yaml"), **context}
    monkeypatch.setattr(app_module, "new_app", lambda: real_new_app(context=context, outdir=str(tmp_path)))
    with pytest.raises(_Built):
        app_module.main()
    assert asked == [validate]


# --------------------------------------------------------------------------------------------------
# Every error caused by a configuration value names the file and the config path, through `cdk synth`
# --------------------------------------------------------------------------------------------------


def _run_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: dict) -> tuple[int, list[str]]:
    """``app.main()`` as ``cdk synth -c config=<file>`` runs it, on ``data`` written to a file; its status
    and the lines it printed to stderr (jsii's Node warnings left out)."""
    import yaml

    import app as app_module

    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(data))
    real_new_app = app_module.new_app
    monkeypatch.setattr(app_module, "new_app", lambda: real_new_app(context={**CDK_CONTEXT, "config": str(path)}, outdir=str(tmp_path / "out")))
    status = app_module.main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(str(path))]
    return status, [line.removeprefix(f"{path}: ") for line in lines]


def _config(**changes: object) -> dict:
    from tests.test_config import mutated

    return mutated(**changes)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # TrainingPipeline's metric_name: the bundled evaluation writes only some metrics per problem type
        ({"models.0.gate": {"metric": "rmse"}},
         "models[0].gate.metric: must be one of auc, accuracy, precision, recall, f1, true_positive_rate, true_negative_rate, "
         "false_positive_rate, false_negative_rate, the metrics the bundled evaluation script writes for problem_type "
         "binary_classification (models[0].problem_type); for another, set models[0].processing.evaluate_image to an image "
         "whose report has it (got 'rmse')"),
        # TrainingPipeline's gate_conditions: a path the bundled evaluation does not write
        ({"models.0.gate": {"conditions": [{"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6}]}},
         "models[0].gate.conditions[0].path: must be a value the bundled evaluation script writes for problem_type binary_classification: "
         + ", ".join(f"binary_classification_metrics.{m}.value" for m in (
             "auc", "accuracy", "precision", "recall", "f1", "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate"))
         + "; for another, set models[0].processing.evaluate_image (got 'regression_metrics.mse.value')"),
        # CanaryEndpoint's min_capacity: at most the maximum capacity
        ({"stages.prod.endpoint.autoscaling": {"min_capacity": 9}},
         "stages.prod.endpoint.autoscaling.min_capacity: must be at most the maximum capacity, twice stages.prod.endpoint.instance_count (4) "
         "(got 9)"),
        # CanaryEndpoint's monitor: needs data capture
        ({"stages.staging.endpoint.data_capture_percent": 0},
         "stages.staging.endpoint.data_capture_percent: must be above 0 while models[0].monitoring is set: the drift job reads the "
         "captured requests, and training listens for this endpoint's drift alarm; capture some here or in "
         "models[0].endpoints.staging.data_capture_percent, or remove the monitoring (got 0)"),
        # a Model Monitor key: the drift job replaced it
        ({"models.0.monitoring": {"features": ["_c0"]}},
         "models[0].monitoring.features: was a Model Monitor setting; the drift job replaced Model Monitor (the drift job tests every "
         "feature of the baseline, each with the test Evidently picks for its type and sample size: remove this key) (got ['_c0'])"),
        # two stages in one account
        ({"accounts.staging": "444444444444"},
         "accounts.prod: is the same account as accounts.staging: tooling, dev, staging and prod each need their own account; "
         "set accounts.allow_shared: true for a single-account trial (got '444444444444')"),
    ],
)
def test_a_value_the_stacks_could_not_use_is_reported_with_file_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], changes: dict, expected: str
) -> None:
    status, lines = _run_main(tmp_path, monkeypatch, capsys, _config(**changes))
    assert status == 1
    assert lines == [expected]


NEVER = re.compile("(?!)")
"""A pattern nothing matches: a construct's check made stricter than the configuration's."""


def _props_error(construct: str, prop: str, value: object) -> object:
    from mlops_constructs.errors import PropsError

    def fail(*args: object, **kwargs: object) -> None:
        raise PropsError(construct, prop, value, "is refused by this test")

    return fail


@pytest.mark.parametrize(
    ("patch", "changes", "expected"),
    [
        # a real construct check, made stricter than the configuration's
        (("mlops_constructs.container_image", "ECR_IMAGE", NEVER), {},
         "models[0].training.algorithm: must be an ECR image URI, <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> "
         "or @sha256:<digest> (got '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1'; TrainingPipeline's training_image)"),
        (("mlops_constructs.storage.artifact_store", "_NAME_PREFIX", NEVER), {},
         "project: must be lowercase letters, digits and single hyphens (the repository is named after it), not starting or ending with a hyphen "
         "(got 'mlops-demo-dev'; ArtifactStore's name_prefix)"),
        (("mlops_constructs.registry.model_registry", "_GROUP_NAME", NEVER), {},
         "project, models[0].name: must be 1-63 letters, digits and single or repeated hyphens, starting and ending with a letter "
         "or digit (got 'mlops-demo-churn'; ModelRegistry's model_package_group_name)"),
        (("mlops_constructs.delivery.delivery_pipeline", "_PIPELINE_NAME", NEVER), {},
         "project: must be 1-100 letters, digits and . @ _ - (got 'mlops-demo-release'; DeliveryPipeline's pipeline_name)"),
        # checks a construct might add: the path of the value the stack passed down
        (("mlops_constructs.serving.canary_endpoint", "CanaryEndpoint._validate", _props_error("CanaryEndpoint", "instance_type", "ml.c5.xlarge")),
         {"models.0.endpoints": {"dev": {"instance_type": "ml.c5.xlarge"}}},
         "models[0].endpoints.dev.instance_type: is refused by this test (got 'ml.c5.xlarge'; CanaryEndpoint's instance_type)"),
        (("mlops_constructs.network", "IsolatedNetwork.__init__", _props_error("IsolatedNetwork", "cidr", "10.10.0.0/16")), {},
         "stages.dev.vpc_cidr: is refused by this test (got '10.10.0.0/16'; IsolatedNetwork's cidr)"),
        (("mlops_constructs.monitoring.drift_monitor", "DriftMonitor._validate", _props_error("DriftMonitor", "min_rows", 100)), {},
         "models[0].monitoring.min_rows: is refused by this test (got 100; DriftMonitor's min_rows)"),
        (("mlops_constructs.training.training_pipeline", "_SPLIT_TOLERANCE", -1), {},
         "models[0].processing.split: must be the fractions of rows for train, validation and test: each above 0, summing to 1 "
         "(within 1e-6) (got (0.8, 0.1, 0.1); TrainingPipeline's preprocessing.split)"),
        (("mlops_constructs.training", "TrainingPipeline._validate_preprocessing", _props_error("TrainingPipeline", "preprocessing.label", "rings")),
         {"models.0.processing": {"header": True, "label": "rings"}},
         "models[0].processing.label: is refused by this test (got 'rings'; TrainingPipeline's preprocessing.label)"),
    ],
    ids=["TrainingPipeline", "ArtifactStore", "ModelRegistry", "DeliveryPipeline", "CanaryEndpoint", "IsolatedNetwork", "DriftMonitor",
         "Preprocessing-split", "Preprocessing-label"],
)
def test_a_construct_error_about_a_config_value_names_its_config_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], patch: tuple, changes: dict, expected: str
) -> None:
    import importlib

    module, attribute, value = patch  # e.g. a module's regex, or a class's method
    owner: object = importlib.import_module(module)
    *classes, name = attribute.split(".")
    for class_name in classes:
        owner = getattr(owner, class_name)
    monkeypatch.setattr(owner, name, staticmethod(value) if name == "_validate" else value)
    status, lines = _run_main(tmp_path, monkeypatch, capsys, _config(**changes))
    assert status == 1
    assert lines == [expected]
