"""DriftMonitor: a scheduled Evidently drift job on an endpoint's captured data, inside the guardrails,
with metrics, a drift alarm that starts a retraining and a failure alarm; no Model Monitor resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from mlops_constructs import ArtifactStore, FixedZonesStack, IsolatedNetwork, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.monitoring import DRIFT_NAMESPACE, DriftMonitor
from mlops_constructs.schedules import drift_cron
from tests.conftest import CDK_CONTEXT, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/7"
ZONES = ["eu-west-1a", "eu-west-1b"]
ENDPOINT = "acme-staging-churn"


def build(outdir: Path | None = None, **kwargs: Any) -> tuple[cdk.App, cdk.Stack, DriftMonitor]:
    app = cdk.App(context=CDK_CONTEXT, **({"outdir": str(outdir)} if outdir else {}))
    stack = FixedZonesStack(app, "Serve", availability_zones=ZONES, env=cdk.Environment(account="333333333333", region="eu-west-1"))
    network = IsolatedNetwork(stack, "Net", availability_zones=ZONES, cidr="10.20.0.0/16")
    store = ArtifactStore(stack, "Store", name_prefix="acme-staging")
    props: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "model_package_arn": PACKAGE,
        "capture_bucket": store.artifact_bucket,
        "capture_prefix": f"data-capture/{ENDPOINT}/",
        "baseline_bucket": s3.Bucket.from_bucket_attributes(stack, "DevArtifacts", bucket_name="acme-dev-artifacts-222222222222-eu-west-1",
                                                            account="222222222222"),
        "baseline_key_alias": "alias/acme-dev/artifacts",
        "vpc": network.vpc,
        "encryption_key": store.encryption_key,
        "alarm_topic": sns.Topic(stack, "Alarms", master_key=store.encryption_key, enforce_ssl=True),
        "retrain_event_bus": events.EventBus.from_event_bus_arn(stack, "DevBus", "arn:aws:events:eu-west-1:222222222222:event-bus/default"),
    }
    props.update(kwargs)
    return app, stack, DriftMonitor(stack, "Drift", **props)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app, stack, _ = build()
    return app.synth().get_stack_by_name(stack.stack_name).template


def definition(template: dict[str, Any]) -> dict[str, Any]:
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    parts = machine["Properties"]["DefinitionString"]
    text = "".join(p if isinstance(p, str) else f"<{json.dumps(p).replace(chr(34), '')}>" for p in parts["Fn::Join"][1])
    return json.loads(text)


def test_passes_every_compliance_pack(tmp_path: Path) -> None:
    app, _, _ = build(outdir=tmp_path)
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


def test_no_model_monitor_resource(template: dict[str, Any]) -> None:
    types = {r["Type"] for r in template["Resources"].values()}
    assert not {t for t in types if "Monitoring" in t or "JobDefinition" in t}


def test_the_job_runs_the_bundled_image_inside_the_guardrails(template: dict[str, Any]) -> None:
    job = definition(template)["States"]["DriftJob"]
    assert job["Resource"].endswith(":sagemaker:createProcessingJob.sync")
    params = job["Parameters"]
    assert params["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert params["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert params["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == params["ProcessingOutputConfig"]["KmsKeyId"]
    assert [i["InputName"] for i in params["ProcessingInputs"]] == ["baseline", "captured"]
    arguments = params["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--endpoint") + 1] == ENDPOINT
    assert arguments[arguments.index("--min-rows") + 1] == "100"
    # the image is the bundled Dockerfile's asset, published by CDK to the account's asset repository
    assert "container-assets" in params["AppSpecification"]["ImageUri"]


def test_the_image_asset_is_the_bundled_dockerfile_without_bytecode_caches(tmp_path: Path) -> None:
    # A bytecode cache beside the job's sources (a local run or test of drift.py writes one) is not built
    # into the image: it would change the asset's hash and redeploy the image with no change to the code.
    from mlops_constructs.monitoring.drift_monitor import JOB_DIRECTORY

    cache = JOB_DIRECTORY / "__pycache__"
    cache.mkdir(exist_ok=True)
    probe = cache / "probe-test-drift-monitor.cpython-311.pyc"
    probe.write_bytes(b"not deployed")
    try:
        app, _, _ = build(outdir=tmp_path)
        app.synth()
    finally:
        probe.unlink()
    manifest = json.loads(next(tmp_path.glob("*.assets.json")).read_text())
    (image,) = manifest["dockerImages"].values()
    directory = tmp_path / image["source"]["directory"]
    assert (directory / "Dockerfile").is_file() and (directory / "drift.py").is_file()
    assert not list(directory.rglob("*.pyc")) and not (directory / "__pycache__").exists()
    assert image["source"].get("platform") == "linux/amd64"


def test_the_window_is_the_previous_hour_of_the_capture_path(template: dict[str, Any]) -> None:
    states = definition(template)["States"]
    window = states["Window"]
    assert window["QueryLanguage"] == "JSONata"
    assert "- 3600000" in window["Output"]["window"] and "[Y0001]/[M01]/[D01]/[H01]" in window["Output"]["window"]
    assert states["ListCaptured"]["Parameters"]["Prefix.$"] == f"States.Format('data-capture/{ENDPOINT}/{ENDPOINT}/AllTraffic/{{}}/', $.window)"


def test_nothing_captured_publishes_zero_rows_and_no_drift(template: dict[str, Any]) -> None:
    states = definition(template)["States"]
    (choice,) = states["AnythingCaptured"]["Choices"]
    assert choice == {"Variable": "$.captured.count", "NumericEquals": 0, "Next": "NothingCaptured"}
    (datum,) = states["NothingCaptured"]["Parameters"]["MetricData"]
    assert datum["MetricName"] == "CapturedRows" and datum["Value"] == 0


def test_drift_alarm_keeps_the_name_training_listens_for_and_is_forwarded(template: dict[str, Any]) -> None:
    alarms = {a["Properties"].get("AlarmName", k): a["Properties"] for k, a in resources(template, "AWS::CloudWatch::Alarm").items()}
    drift = alarms[f"{ENDPOINT}-drift"]
    assert drift["Namespace"] == DRIFT_NAMESPACE and drift["MetricName"] == "DriftedShare"
    assert drift["Threshold"] == 0.5 and drift["TreatMissingData"] == "notBreaching"
    assert drift["Dimensions"] == [{"Name": "EndpointName", "Value": ENDPOINT}]
    failed = [a for name, a in alarms.items() if a.get("MetricName") == "ExecutionsFailed"]
    assert len(failed) == 1 and failed[0]["Namespace"] == "AWS/States"
    rules = resources(template, "AWS::Events::Rule")
    (forward,) = [r for r in rules.values() if "EventPattern" in r["Properties"]]
    assert forward["Properties"]["EventPattern"]["detail"]["alarmName"] == [f"{ENDPOINT}-drift"]
    assert forward["Properties"]["Targets"][0]["Arn"] == "arn:aws:events:eu-west-1:222222222222:event-bus/default"


def schedule_of(template: dict[str, Any]) -> dict[str, Any]:
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    return schedule["Properties"]


def test_checks_start_on_a_scheduler_schedule_at_the_endpoints_own_minute(template: dict[str, Any]) -> None:
    """Not a rule on the event bus (300 per bus), and not at the same minute as every other endpoint's."""
    assert [r for r in resources(template, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]] == []
    schedule = schedule_of(template)
    assert schedule["ScheduleExpression"] == drift_cron(ENDPOINT, "hourly") == "cron(6 * * * ? *)"
    assert (schedule["ScheduleExpressionTimezone"], schedule["FlexibleTimeWindow"], schedule["State"]) == ("Etc/UTC", {"Mode": "OFF"}, "ENABLED")
    ((machine_id, _),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    target = schedule["Target"]
    assert target["Arn"] == {"Ref": machine_id}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}
    # the fields of the scheduled event the machine got from the rule this replaces
    assert json.loads(target["Input"]) == {"source": "aws.scheduler", "detail-type": "Scheduled Event", "id": "<aws.scheduler.execution-id>",
                                           "time": "<aws.scheduler.scheduled-time>", "resources": ["<aws.scheduler.schedule-arn>"], "detail": {}}


def test_the_daily_check_starts_between_0015_and_0559_utc() -> None:
    app, stack, monitor = build(schedule="daily")
    schedule = schedule_of(app.synth().get_stack_by_name(stack.stack_name).template)
    assert schedule["ScheduleExpression"] == monitor.schedule_expression == drift_cron(ENDPOINT, "daily") == "cron(52 1 * * ? *)"


def test_the_schedule_role_may_only_start_this_machine_and_write_its_dead_letters(template: dict[str, Any]) -> None:
    schedule = schedule_of(template)
    ((machine_id, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    key_id = machine["Properties"]["EncryptionConfiguration"]["KmsKeyId"]["Fn::GetAtt"][0]
    ((queue_id, queue),) = resources(template, "AWS::SQS::Queue").items()
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    # the machine's own role, which Scheduler may assume for this one schedule only
    assert machine["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    role = template["Resources"][role_id]["Properties"]
    trusts = {t["Principal"]["Service"]: t["Condition"] for t in role["AssumeRolePolicyDocument"]["Statement"]}
    assert trusts == {
        "states.amazonaws.com": {"StringEquals": {"aws:SourceAccount": "333333333333"}},
        # the schedule group, as Scheduler's confused-deputy guidance requires (not the schedule)
        "scheduler.amazonaws.com": {"StringEquals": {"aws:SourceAccount": "333333333333"}, "ArnEquals": {"aws:SourceArn": (
            "arn:aws:scheduler:eu-west-1:333333333333:schedule-group/default")}},
    }
    assert schedule["Name"] == f"{ENDPOINT}-drift-check"
    (policy,) = [p["Properties"] for k, p in resources(template, "AWS::IAM::ManagedPolicy").items()
                 if {"Ref": role_id} in p["Properties"].get("Roles", []) and k.startswith("DriftSchedulePolicy")]
    statements = policy["PolicyDocument"]["Statement"]
    assert [(s.get("Sid"), s["Action"], s["Resource"]) for s in statements] == [
        (None, "states:StartExecution", {"Ref": machine_id}),
        ("EncryptExecutionInput", "kms:GenerateDataKey", {"Fn::GetAtt": [key_id, "Arn"]}),
        ("SendDeadLetters", "sqs:SendMessage", {"Fn::GetAtt": [queue_id, "Arn"]}),
        ("EncryptDeadLetters", ["kms:Decrypt", "kms:GenerateDataKey"], {"Fn::GetAtt": [key_id, "Arn"]}),
    ]
    assert statements[3]["Condition"] == {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}}
    # what the schedule could not start raises an alarm on the endpoint's topic
    alarms = {a["Properties"].get("AlarmName"): a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    undelivered = alarms[f"{ENDPOINT}-drift-check-not-started"]
    assert undelivered["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert undelivered["AlarmActions"] == alarms[f"{ENDPOINT}-drift"]["AlarmActions"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"schedule": "weekly"}, "DriftMonitor: schedule: must be one of hourly, daily (got 'weekly')"),
        ({"drift_threshold": 0}, "DriftMonitor: drift_threshold: must be a share of drifted features, above 0 and at most 1 (got 0)"),
        ({"min_rows": "100"}, "DriftMonitor: min_rows: must be a whole number of rows, at least 1 (got '100')"),
        ({"capture_prefix": "/data"}, "DriftMonitor: capture_prefix: must be an S3 key prefix without a leading slash, ending with '/' (got '/data')"),
    ],
)
def test_bad_props_name_field_and_value(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError) as caught:
        build(**overrides)
    assert str(caught.value) == message


def test_an_instance_type_with_local_storage_is_refused() -> None:
    with pytest.raises(PropsError, match=r"^DriftMonitor: instance_type: must be an instance type without local \(NVMe\) instance storage"):
        build(instance_type="ml.m5d.large")
