"""Drift checks of a batch-only model (issue 19): a ``batch-input`` DriftMonitor over the batch input prefix, started
by the batch state machine after each successful transform; no schedule; least-privilege roles; construct errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from mlops_constructs import ArtifactStore, FixedZonesStack, IsolatedNetwork, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.monitoring import DRIFT_NAMESPACE, DriftMonitor
from mlops_constructs.serving import BatchInference
from tests.conftest import CDK_CONTEXT, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-forecast/3"
ZONES = ["eu-west-1a", "eu-west-1b"]
NAME = "acme-prod-forecast"
INPUT_PREFIX = "forecast/batch-input/"


def build(outdir: Path | None = None, monitor: dict[str, Any] | None = None, batch: dict[str, Any] | None = None,
          ) -> tuple[cdk.App, cdk.Stack, DriftMonitor, BatchInference]:
    app = cdk.App(context=CDK_CONTEXT, **({"outdir": str(outdir)} if outdir else {}))
    stack = FixedZonesStack(app, "Serve", availability_zones=ZONES, env=cdk.Environment(account="444444444444", region="eu-west-1"))
    network = IsolatedNetwork(stack, "Net", availability_zones=ZONES, cidr="10.30.0.0/16")
    store = ArtifactStore(stack, "Store", name_prefix="acme-prod")
    dev = s3.Bucket.from_bucket_attributes(stack, "DevArtifacts", bucket_name="acme-dev-artifacts-222222222222-eu-west-1", account="222222222222")
    topic = sns.Topic(stack, "Alarms", master_key=store.encryption_key, enforce_ssl=True)
    drift = DriftMonitor(stack, "Drift", **{
        "source": "batch-input", "endpoint_name": NAME, "model_package_arn": PACKAGE, "capture_bucket": store.data_bucket,
        "capture_prefix": INPUT_PREFIX, "reports_bucket": store.artifact_bucket, "drop_columns": 1, "baseline_bucket": dev,
        "baseline_key_alias": "alias/acme-dev/artifacts", "vpc": network.vpc, "encryption_key": store.encryption_key,
        "notification_topic": topic, **(monitor or {})})
    if (batch or {}).get("input_bucket") == "artifacts":
        batch = {**(batch or {}), "input_bucket": store.artifact_bucket, "output_prefix": "batch-output/x/"}
    inference = BatchInference(stack, "Batch", **{
        "name": NAME, "model_package_arn": PACKAGE, "vpc": network.vpc, "encryption_key": store.encryption_key,
        "input_bucket": store.data_bucket, "input_prefix": INPUT_PREFIX, "output_bucket": store.artifact_bucket,
        "artifact_bucket": dev, "artifact_prefix": "forecast/", "artifact_key_alias": "alias/acme-dev/artifacts",
        "input_filter": "$[1:]", "notification_topic": topic, "drift_monitor": drift, **(batch or {})})
    return app, stack, drift, inference


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app, stack, _, _ = build()
    return app.synth().get_stack_by_name(stack.stack_name).template


def machine(template: dict[str, Any], comment_start: str) -> dict[str, Any]:
    """A state machine's definition, with every reference written as ``<ref>``."""
    for resource in resources(template, "AWS::StepFunctions::StateMachine").values():
        parts = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else f"<{json.dumps(p).replace(chr(34), '')}>" for p in parts)
        definition = json.loads(text)
        if definition["Comment"].startswith(comment_start):
            return definition
    raise AssertionError(f"no state machine {comment_start!r}")


def policy(template: dict[str, Any], description_start: str) -> list[dict[str, Any]]:
    (found,) = [r["Properties"]["PolicyDocument"]["Statement"] for r in resources(template, "AWS::IAM::ManagedPolicy").values()
                if r["Properties"].get("Description", "").startswith(description_start)]
    return found


def test_a_successful_transform_starts_the_drift_check_of_the_input_it_scored(template: dict[str, Any]) -> None:
    states = machine(template, "Batch transform of")["States"]
    assert states["Transform"]["Next"] == "CheckDrift"
    check = states["CheckDrift"]
    assert check["Resource"] == "arn:aws:states:::states:startExecution"  # fire and forget: no .sync
    assert check["Parameters"]["StateMachineArn"].startswith("<{Ref: DriftStateMachine")
    assert check["Parameters"]["Input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$$.Execution.Id"
    assert check["Next"] == "Scored"
    assert check["Catch"][0]["Next"] == "NotifyFailure"


def test_the_drift_check_reads_the_batch_input_as_csv_less_the_filtered_columns(template: dict[str, Any]) -> None:
    definition = machine(template, "Drift check of the batch input of")
    states = definition["States"]
    job = states["DriftJob"]["Parameters"]
    args = job["AppSpecification"]["ContainerArguments"]
    assert args[-4:] == ["--captured-format", "csv", "--drop-columns", "1"]
    assert args[args.index("--endpoint") + 1] == NAME
    (captured,) = [i for i in job["ProcessingInputs"] if i["InputName"] == "captured"]
    assert captured["S3Input"]["S3Uri"].endswith(f"/{INPUT_PREFIX}") and captured["S3Input"]["S3DataType"] == "S3Prefix"
    assert states["ListCaptured"]["Parameters"]["Prefix"] == INPUT_PREFIX
    # The reports go to the reports bucket (the artifact bucket), per run, never under the input prefix.
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri.$"]
    assert f"/drift-reports/{NAME}/" in output and "ArtifactBucket" in output
    assert "ArtifactBucket" in states["ReadMetricData"]["Parameters"]["Bucket"]
    assert "$states.context.Execution.Name" in states["Window"]["Output"]["window"]
    # Same guardrails as an endpoint's check: network-isolated in the VPC, encrypted with the stage's key.
    assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert states["PublishMetrics"]["Parameters"]["Namespace"] == DRIFT_NAMESPACE


def test_a_batch_input_monitor_has_no_schedule_but_the_same_alarms(template: dict[str, Any]) -> None:
    assert resources(template, "AWS::Scheduler::Schedule") == {}
    names = {r["Properties"]["AlarmName"] for r in resources(template, "AWS::CloudWatch::Alarm").values() if "AlarmName" in r["Properties"]}
    assert {DriftMonitor.alarm_name_for(NAME), f"{NAME}-drift-check-failed", f"{NAME}-drift-check-timed-out"} <= names
    assert f"{NAME}-drift-check-not-started" not in names
    (role,) = [r for k, r in resources(template, "AWS::IAM::Role").items() if k.startswith("DriftStateMachineRole")]
    principals = [s["Principal"]["Service"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == ["states.amazonaws.com"]


def test_the_batch_machine_may_start_only_the_drift_check(template: dict[str, Any]) -> None:
    statements = policy(template, f"Batch transform runs of {NAME}")
    (start,) = [s for s in statements if "states:StartExecution" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert start["Resource"] == {"Ref": next(k for k in resources(template, "AWS::StepFunctions::StateMachine") if k.startswith("Drift"))}
    (key,) = [s for s in statements if s["Action"] == "kms:GenerateDataKey" and "DriftKey" in json.dumps(s["Resource"])]
    assert "DriftKey" in json.dumps(key["Resource"])
    for statement in statements:
        assert statement["Action"] != "*" and "*" not in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])


def test_the_drift_job_reads_the_input_and_writes_only_its_reports(template: dict[str, Any]) -> None:
    statements = {s.get("Sid"): s for s in policy(template, f"Drift job of {NAME}")}
    assert "DataBucket" in json.dumps(statements["ReadCapture"]["Resource"]) and INPUT_PREFIX in json.dumps(statements["ReadCapture"]["Resource"])
    assert statements["ListCapture"]["Condition"] == {"StringLike": {"s3:prefix": [f"{INPUT_PREFIX}*"]}}
    write = json.dumps(statements["WriteReports"]["Resource"])
    assert "ArtifactBucket" in write and f"drift-reports/{NAME}/*" in write and "DataBucket" not in write
    for statement in statements.values():
        assert statement["Action"] != "*"


def test_cdk_nag_finds_nothing_open(tmp_path: Path) -> None:
    app, _, _, _ = build(outdir=tmp_path)
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


@pytest.mark.parametrize(("monitor", "batch", "message"), [
    ({"schedule": "daily"}, {}, r"DriftMonitor: schedule: applies only to source 'capture'.* \(got 'daily'\)"),
    ({"source": "capture", "drop_columns": 0}, {}, r"BatchInference: drift_monitor: must be a DriftMonitor with source 'batch-input', not 'capture'"),
    ({"drop_columns": 0}, {}, r"BatchInference: drift_monitor: must drop 1 leading columns \(drop_columns=1\) to match input_filter \$\[1:\], not 0"),
    ({}, {"input_filter": "$.features"}, r"BatchInference: input_filter: must be '\$' or '\$\[k:\]' with a drift_monitor.*\(got '\$.features'\)"),
    ({"capture_prefix": "other/"}, {}, r"must check this batch's input: its capture_prefix is other/, the input_prefix forecast/batch-input/"),
    ({}, {"input_bucket": "artifacts"}, r"BatchInference: drift_monitor: must check this batch's input: its capture_bucket is not input_bucket"),
    ({"reports_bucket": None, "reports_prefix": f"{INPUT_PREFIX}reports/"}, {},
     r"DriftMonitor: reports_prefix: must not overlap capture_prefix forecast/batch-input/ in the same bucket"),
    ({"source": "capture", "drop_columns": 2}, {}, r"DriftMonitor: drop_columns: applies only to source 'batch-input'.*\(got 2\)"),
    ({"source": "stream"}, {}, r"DriftMonitor: source: must be one of capture, batch-input \(got 'stream'\)"),
])
def test_bad_batch_drift_props_are_refused(monitor: dict[str, Any], batch: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        build(monitor=monitor, batch=batch)


# -- in the platform (config/default.yaml: lead-scoring is batch-only and monitored) ------------------------------


def test_lead_scorings_batch_drift_alarms_start_its_retraining(platform: Any) -> None:
    expected = ["mlops-demo-staging-lead-scoring-drift", "mlops-demo-prod-lead-scoring-drift"]
    for stage in ("staging", "prod"):
        template = platform.templates[f"{stage.capitalize()}/Release-lead-scoring/Batch"]
        names = {r["Properties"].get("AlarmName") for r in resources(template, "AWS::CloudWatch::Alarm").values()}
        assert f"mlops-demo-{stage}-lead-scoring-drift" in names
        # the alarm's ALARM events go to the dev account's default bus, where training listens (serving accounts differ)
        forwarded = [r["Properties"]["EventPattern"] for r in resources(template, "AWS::Events::Rule").values()
                     if "alarmName" in json.dumps(r["Properties"].get("EventPattern", {}))]
        assert forwarded and forwarded[0]["detail"]["alarmName"] == [f"mlops-demo-{stage}-lead-scoring-drift"]
    patterns = [json.dumps(r["Properties"].get("EventPattern", {})) for t in platform.templates.values()
                for r in resources(t, "AWS::Events::Rule").values()]
    assert any(all(name in p for name in expected) for p in patterns), "no training rule listens for lead-scoring's drift alarms"


def test_lead_scorings_stages_have_the_drift_jobs_endpoints(platform: Any) -> None:
    from stacks.network_stack import stage_interface_endpoints

    for stage in ("staging", "prod"):
        assert set(DriftMonitor.VPC_ENDPOINTS) <= set(stage_interface_endpoints(platform.config, stage))
