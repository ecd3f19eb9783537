"""DriftMonitor: a scheduled Evidently drift job on an endpoint's captured data, inside the guardrails,
with metrics, a drift alarm that starts a retraining and a failure alarm; no Model Monitor resource."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from mlops_constructs import ArtifactStore, FixedZonesStack, IsolatedNetwork, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.container_image import ContainerImage
from mlops_constructs.monitoring import DRIFT_NAMESPACE, DriftMonitor
from mlops_constructs.schedules import drift_cron
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/7"
ZONES = ["eu-west-1a", "eu-west-1b"]
ENDPOINT = "acme-staging-churn"


def build(outdir: Path | None = None, **kwargs: Any) -> tuple[cdk.App, cdk.Stack, DriftMonitor]:
    """The monitor of ENDPOINT in a serving account's stack. A kwarg overrides a prop; a callable kwarg makes its
    value in the stack; ``REMOVE`` leaves the prop out."""
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
        "notification_topic": lambda stack: sns.Topic(stack, "Alarms", master_key=store.encryption_key, enforce_ssl=True),
        "retrain_event_bus": lambda stack: events.EventBus.from_event_bus_arn(stack, "DevBus", "arn:aws:events:eu-west-1:222222222222:event-bus/default"),
    }
    props.update(kwargs)
    props = {k: v(stack) if callable(v) else v for k, v in props.items()}
    return app, stack, DriftMonitor(stack, "Drift", **{k: v for k, v in props.items() if v is not REMOVE})


REMOVE = object()
"""A value of ``build``'s kwargs that leaves the prop out."""


def synth(app: cdk.App, stack: cdk.Stack) -> dict[str, Any]:
    return app.synth().get_stack_by_name(stack.stack_name).template


@pytest.fixture(scope="module")
def built() -> tuple[dict[str, Any], cdk.Stack, DriftMonitor]:
    app, stack, monitor = build()
    return synth(app, stack), stack, monitor


@pytest.fixture(scope="module")
def template(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> dict[str, Any]:
    return built[0]


def token(stack: cdk.Stack, value: Any) -> str:
    """How ``definition`` shows a value CloudFormation fills in (a reference inside the definition's text)."""
    return f"<{json.dumps(stack.resolve(value)).replace(chr(34), '')}>"


def policy_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """The statements of the managed policy attached to the role ``role_id``."""
    (policy,) = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values() if {"Ref": role_id} in p["Properties"].get("Roles", [])]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def job_policy(template: dict[str, Any], stack: cdk.Stack, monitor: DriftMonitor) -> list[dict[str, Any]]:
    return policy_of(template, stack.get_logical_id(monitor.job_role.node.default_child))


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


def test_the_job_runs_the_bundled_image_inside_the_guardrails(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> None:
    template, stack, monitor = built
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
    # the image is the bundled Dockerfile's asset, published by CDK to the account's asset repository, which the job may pull from
    assert params["AppSpecification"]["ImageUri"] == token(stack, monitor.image.image_uri)
    assert monitor.image.repository is not None
    statements = {s.get("Sid"): s for s in job_policy(template, stack, monitor)}
    assert statements["PullImage"]["Resource"] == stack.resolve(monitor.image.repository.repository_arn)
    assert statements["EcrLogin"] == {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}


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
    # before the schedule's time when the schedule started the run (a retried start may begin past the hour), else before the start
    assert window["Output"]["window"] == ("{% $fromMillis(($exists($states.input.time) ? $toMillis($states.input.time) : "
                                          "$toMillis($states.context.Execution.StartTime)) - 3600000, '[Y0001]/[M01]/[D01]/[H01]') %}")
    assert states["ListCaptured"]["Parameters"]["Prefix.$"] == f"States.Format('data-capture/{ENDPOINT}/{ENDPOINT}/AllTraffic/{{}}/', $.window)"


def test_the_capture_of_another_variant_is_read_from_its_own_path() -> None:
    # SageMaker writes a variant's capture under <prefix><endpoint>/<variant>/: a fixed AllTraffic read nothing of another
    app, stack, _ = build(variant_name="Blue")
    states = definition(synth(app, stack))["States"]
    assert states["ListCaptured"]["Parameters"]["Prefix.$"] == f"States.Format('data-capture/{ENDPOINT}/{ENDPOINT}/Blue/{{}}/', $.window)"
    with pytest.raises(PropsError, match=r"DriftMonitor: variant_name: must be a SageMaker variant name: 1-63 letters, digits and hyphens \(got 'all_traffic'\)"):
        build(variant_name="all_traffic")


def test_long_endpoint_names_get_distinct_schedule_names_within_64_characters() -> None:
    from mlops_constructs.monitoring.drift_monitor import _schedule_name

    first, second = "a" * 50 + "-one", "a" * 50 + "-two"  # 54 characters: "-drift-check" no longer fits whole
    names = {_schedule_name(first), _schedule_name(second)}
    assert len(names) == 2 and all(len(n) <= 64 and n.endswith("-drift-check") for n in names)
    assert _schedule_name("acme-prod-churn") == "acme-prod-churn-drift-check"  # short names keep theirs: nothing is replaced
    assert _schedule_name("b" * 52) == "b" * 52 + "-drift-check"


def test_nothing_captured_publishes_zero_rows_and_no_drift(template: dict[str, Any]) -> None:
    states = definition(template)["States"]
    (choice,) = states["AnythingCaptured"]["Choices"]
    assert choice == {"Variable": "$.captured.count", "NumericEquals": 0, "Next": "NothingCaptured"}
    (datum,) = states["NothingCaptured"]["Parameters"]["MetricData"]
    assert datum["MetricName"] == "CapturedRows" and datum["Value"] == 0
    # a throttled call is tried again, as when the job's metrics are published, before it fails the check
    assert states["NothingCaptured"]["Retry"] == states["PublishMetrics"]["Retry"]
    assert states["NothingCaptured"]["Retry"][0]["ErrorEquals"] == ["CloudWatch.CloudWatchException", "CloudWatch.SdkClientException"]


def test_drift_alarm_keeps_the_name_training_listens_for_and_is_forwarded(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> None:
    template, stack, monitor = built
    alarms = {a["Properties"].get("AlarmName", k): a["Properties"] for k, a in resources(template, "AWS::CloudWatch::Alarm").items()}
    assert DriftMonitor.alarm_name_for(ENDPOINT) == "acme-staging-churn-drift"
    drift = alarms[DriftMonitor.alarm_name_for(ENDPOINT)]
    # the public drift_alarm is that alarm
    assert template["Resources"][stack.get_logical_id(monitor.drift_alarm.node.default_child)]["Properties"] is not None
    assert template["Resources"][stack.get_logical_id(monitor.drift_alarm.node.default_child)]["Properties"]["AlarmName"] == "acme-staging-churn-drift"
    assert drift["Namespace"] == DRIFT_NAMESPACE and drift["MetricName"] == "DriftedShare"
    # between two checks, and after a window without a verdict, the last verdict stands: one retraining per drift
    assert drift["Threshold"] == 0.5 and drift["TreatMissingData"] == "ignore" and drift["EvaluationPeriods"] == 1
    assert drift["Dimensions"] == [{"Name": "EndpointName", "Value": ENDPOINT}]
    failed = [a for name, a in alarms.items() if a.get("MetricName") == "ExecutionsFailed"]
    assert len(failed) == 1 and failed[0]["Namespace"] == "AWS/States"
    # a check the execution's own timeout ends is TIMED_OUT (ExecutionsTimedOut), which no Catch notifies
    timed_out = alarms[f"{ENDPOINT}-drift-check-timed-out"]
    assert (timed_out["Namespace"], timed_out["MetricName"], timed_out["Statistic"], timed_out["Threshold"]) == (
        "AWS/States", "ExecutionsTimedOut", "Sum", 1)
    assert timed_out["Dimensions"] == failed[0]["Dimensions"] and timed_out["AlarmActions"] == failed[0]["AlarmActions"]
    assert monitor.timed_out_alarm.alarm_name is not None


def test_a_drift_event_the_training_account_refuses_is_kept_and_alarmed(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> None:
    # without a dead-letter queue EventBridge drops an event the other account's bus refuses: drift detected, no retraining
    template, stack, monitor = built
    assert monitor.drift_forwarding is not None and monitor.forward_dead_letter_queue is not None
    queue_id = stack.get_logical_id(monitor.forward_dead_letter_queue.node.default_child)
    rule_id = stack.get_logical_id(monitor.drift_forwarding.node.default_child)
    (target,) = template["Resources"][rule_id]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    # EventBridge may write it, for this rule only, and encrypt with the monitor's key
    (policy,) = [r["Properties"]["PolicyDocument"] for r in resources(template, "AWS::SQS::QueuePolicy").values()
                 if r["Properties"]["Queues"] == [{"Ref": queue_id}]]
    (send,) = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
    assert send["Principal"] == {"Service": "events.amazonaws.com"} and send["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    queue = template["Resources"][queue_id]["Properties"]
    key_id = queue["KmsMasterKeyId"]["Fn::GetAtt"][0]
    statements = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    assert any(st.get("Sid") == "EventBridgeDeadLetters" and st["Principal"] == {"Service": "events.amazonaws.com"} for st in statements)
    # and anything in it raises an alarm to the endpoint's topic
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("AlarmName") == f"{ENDPOINT}-drift-not-forwarded"]
    assert len(alarms) == 1 and alarms[0]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert alarms[0]["AlarmActions"]


def test_the_definition_carries_its_timeouts(template: dict[str, Any]) -> None:
    """CDK's StateMachine(timeout=...) is not applied to a definition from a string: the definition carries
    TimeoutSeconds itself, on the drift task (States.Timeout, caught and notified) and on the execution (a backstop)."""
    machine = definition(template)
    job = machine["States"]["DriftJob"]
    assert job["Parameters"]["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert job["TimeoutSeconds"] == 5400  # the job's hour, its start-up and its upload
    assert machine["TimeoutSeconds"] == 7200
    assert job["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}]
    assert "TimeoutSeconds" not in only_machine(template)


def only_machine(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    return machine["Properties"]
    rules = resources(template, "AWS::Events::Rule")
    (forward,) = [r for r in rules.values() if "EventPattern" in r["Properties"]]
    assert forward["Properties"]["EventPattern"]["detail"]["alarmName"] == [DriftMonitor.alarm_name_for(ENDPOINT)]
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
    queue_id = schedule["Target"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]  # the schedule's own (the forwarding rule has another)
    assert queue_id.startswith("DriftScheduleDeadLetters")
    assert template["Resources"][queue_id]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
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


def test_an_instance_type_processing_jobs_do_not_take_is_refused() -> None:
    with pytest.raises(PropsError, match=r"^DriftMonitor: instance_type: must be a SageMaker processing instance type name .*did you mean ml\.m5\.large"):
        build(instance_type="ml.m5.lrge")


def test_an_instance_type_with_local_storage_is_refused() -> None:
    with pytest.raises(PropsError, match=r"^DriftMonitor: instance_type: must be an instance type without local \(NVMe\) instance storage"):
        build(instance_type="ml.g4dn.xlarge")


def test_the_training_stack_listens_for_the_drift_alarms_the_endpoint_stacks_raise(platform: SynthesizedPlatform) -> None:
    names = {
        monitor.drift_alarm.node.default_child.alarm_name  # type: ignore[union-attr]
        for stage in platform.stages.values() for stack in stage.endpoints.values()
        if (monitor := stack.drift_monitor) is not None
    }
    assert names == {DriftMonitor.alarm_name_for(f"mlops-demo-{stage}-churn") for stage in ("staging", "prod")}  # monitoring.stages
    (rule,) = [r for r in resources(platform.templates["Dev/Models-1/Training-churn"], "AWS::Events::Rule").values()
               if "alarmName" in json.dumps(r["Properties"].get("EventPattern", {}))]
    (alarms,) = [p for p in rule["Properties"]["EventPattern"]["$or"] if p["source"] == ["aws.cloudwatch"]]
    assert set(alarms["detail"]["alarmName"]) == names


def test_alarm_name_for_refuses_what_is_not_an_endpoint_name() -> None:
    with pytest.raises(PropsError, match=r"^DriftMonitor: endpoint_name: must be a SageMaker endpoint name: 1-63 letters, digits and hyphens \(got 'acme_churn'\)$"):
        DriftMonitor.alarm_name_for("acme_churn")


# -- notification_topic (alarm_topic is its deprecated name) ---------------------------------------------------------


def test_alarm_topic_is_a_deprecated_name_of_notification_topic_with_the_same_template(template: dict[str, Any]) -> None:
    with pytest.warns(DeprecationWarning, match=r"DriftMonitor: alarm_topic is deprecated, use notification_topic"):
        app, stack, monitor = build(notification_topic=REMOVE,
                                    alarm_topic=lambda stack: sns.Topic(stack, "Alarms", master_key=stack.node.find_child("Store").encryption_key,
                                                                        enforce_ssl=True))
    assert synth(app, stack) == template
    with pytest.warns(DeprecationWarning, match=r"DriftMonitor: alarm_topic is deprecated"):
        assert monitor.alarm_topic is monitor.notification_topic


def test_the_new_name_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        _, _, monitor = build()
    assert monitor.notification_topic is not None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"notification_topic": REMOVE}, r"^DriftMonitor: notification_topic: is required: the sns.ITopic the alarms and failed checks notify \(got None\)$"),
        ({"alarm_topic": lambda stack: sns.Topic(stack, "Old")},
         r"^DriftMonitor: alarm_topic: is the deprecated name of notification_topic, which is also given: pass only notification_topic"),
        ({"notification_topic": "arn:aws:sns:eu-west-1:333333333333:alarms"}, r"^DriftMonitor: notification_topic: must be an sns.ITopic"),
    ],
    ids=["neither", "both", "not-a-topic"],
)
def test_the_topic_is_required_once(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        build(**overrides)


# -- metrics and alarms ----------------------------------------------------------------------------------------------


def metric_config(stack: cdk.Stack, metric: cloudwatch.Metric) -> dict[str, Any]:
    return {"namespace": metric.namespace, "name": metric.metric_name, "statistic": metric.statistic,
            "period": metric.period.to_seconds(), "dimensions": stack.resolve(metric.dimensions), "label": metric.label}


def test_metrics_default_to_the_statistic_and_one_window_of_the_schedule(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> None:
    _, stack, monitor = built
    endpoint = {"EndpointName": ENDPOINT}
    assert metric_config(stack, monitor.metric_drifted_share()) == {
        "namespace": DRIFT_NAMESPACE, "name": "DriftedShare", "statistic": "Maximum", "period": 3600, "dimensions": endpoint, "label": None}
    assert metric_config(stack, monitor.metric_captured_rows()) == {
        "namespace": DRIFT_NAMESPACE, "name": "CapturedRows", "statistic": "Sum", "period": 3600, "dimensions": endpoint, "label": None}
    assert metric_config(stack, monitor.metric_feature_drift_score("tenure")) == {
        "namespace": DRIFT_NAMESPACE, "name": "FeatureDriftScore", "statistic": "Maximum", "period": 3600,
        "dimensions": {**endpoint, "Feature": "tenure"}, "label": None}
    _, daily_stack, daily = build(schedule="daily")
    assert metric_config(daily_stack, daily.metric_drifted_share())["period"] == 86400


def test_metrics_take_metric_options_like_aws_cdk_lib(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> None:
    _, stack, monitor = built
    metric = monitor.metric_captured_rows(statistic="Average", period=cdk.Duration.minutes(5), label="rows",
                                          dimensions_map={"Variant": "AllTraffic", "EndpointName": "ignored"})
    assert metric_config(stack, metric) == {"namespace": DRIFT_NAMESPACE, "name": "CapturedRows", "statistic": "Average", "period": 300,
                                            "dimensions": {"Variant": "AllTraffic", "EndpointName": ENDPOINT}, "label": "rows"}


def test_a_metric_option_that_does_not_exist_is_refused(built: tuple[dict[str, Any], cdk.Stack, DriftMonitor]) -> None:
    monitor = built[2]
    with pytest.raises(PropsError, match=r"^DriftMonitor: statstic: is not a metric option; options are account, color, "):
        monitor.metric_drifted_share(statstic="Average")


def test_add_alarm_notifies_the_topic_like_the_monitors_own_alarms() -> None:
    app, stack, monitor = build()
    alarm = monitor.add_alarm("TooFewRows", metric=monitor.metric_captured_rows(), threshold=100,
                              comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, evaluation_periods=3,
                              alarm_name=f"{ENDPOINT}-too-few-rows", alarm_description="Fewer than 100 requests captured an hour")
    template = synth(app, stack)
    properties = template["Resources"][stack.get_logical_id(alarm.node.default_child)]["Properties"]
    drift = template["Resources"][stack.get_logical_id(monitor.drift_alarm.node.default_child)]["Properties"]
    assert properties == {
        "AlarmName": f"{ENDPOINT}-too-few-rows", "AlarmDescription": "Fewer than 100 requests captured an hour",
        "Namespace": DRIFT_NAMESPACE, "MetricName": "CapturedRows", "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
        "Statistic": "Sum", "Period": 3600, "Threshold": 100, "ComparisonOperator": "LessThanThreshold", "EvaluationPeriods": 3,
        "TreatMissingData": "notBreaching", "AlarmActions": drift["AlarmActions"],
    }
    assert drift["AlarmActions"] == [{"Ref": stack.get_logical_id(monitor.notification_topic.node.default_child)}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "DriftedShare", "threshold": 0.2}, r"^DriftMonitor: metric: must be a cloudwatch.IMetric \(got 'DriftedShare'\)$"),
        ({"threshold": "0.2"}, r"^DriftMonitor: threshold: must be a number \(got '0.2'\)$"),
        ({"threshold": 0.2, "evaluation_periods": 0}, r"^DriftMonitor: evaluation_periods: must be at least 1 \(got 0\)$"),
        ({"threshold": 0.2, "evaluation_periods": 2, "datapoints_to_alarm": 3}, r"^DriftMonitor: datapoints_to_alarm: must be from 1 to 2 \(got 3\)$"),
        ({"threshold": 0.2, "comparison_operator": ">="}, r"^DriftMonitor: comparison_operator: must be ComparisonOperator \(got '>='\)$"),
    ],
)
def test_add_alarm_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    _, _, monitor = build()
    arguments = {"metric": monitor.metric_feature_drift_score("tenure"), **kwargs}
    with pytest.raises(PropsError, match=message):
        monitor.add_alarm("Tenure", **arguments)


# -- the job's image ---------------------------------------------------------------------------------------------------

CUSTOM_URI = "333333333333.dkr.ecr.eu-west-1.amazonaws.com/acme/drift:2.1.0"


def test_an_image_of_your_repository_replaces_the_bundled_one_and_may_be_pulled(tmp_path: Path) -> None:
    app, stack, monitor = build(outdir=tmp_path, image=lambda stack: ContainerImage.from_ecr_repository(
        ecr.Repository.from_repository_name(stack, "DriftImages", "acme/drift"), "2.1.0"))
    template = synth(app, stack)
    assert definition(template)["States"]["DriftJob"]["Parameters"]["AppSpecification"]["ImageUri"] == (
        "333333333333.dkr.ecr.eu-west-1.<{Ref: AWS::URLSuffix}>/acme/drift:2.1.0")
    statements = {s.get("Sid"): s for s in job_policy(template, stack, monitor)}
    assert statements["PullImage"]["Resource"] == "arn:aws:ecr:eu-west-1:333333333333:repository/acme/drift"
    # no image is built: the assembly has no Docker image asset
    manifest = json.loads(next(tmp_path.glob("Serve.assets.json")).read_text())
    assert manifest.get("dockerImages", {}) == {}


def test_an_image_by_uri_is_run_as_it_is_with_no_pull_granted() -> None:
    app, stack, monitor = build(image=CUSTOM_URI)
    template = synth(app, stack)
    assert definition(template)["States"]["DriftJob"]["Parameters"]["AppSpecification"]["ImageUri"] == CUSTOM_URI
    sids = {s.get("Sid") for s in job_policy(template, stack, monitor)}
    assert not sids & {"PullImage", "EcrLogin"}
    assert monitor.image.repository is None


@pytest.mark.parametrize(("image", "message"), [
    (42, r"^DriftMonitor: image: must be a ContainerImage, an ecr_assets.DockerImageAsset or an ECR image URI \(got 42\)$"),
    ("drift:latest", r"^DriftMonitor: image: must be an ECR image URI"),
])
def test_a_bad_image_is_refused(image: Any, message: str) -> None:
    with pytest.raises(PropsError, match=message):
        build(image=image)


# -- the job's role and security group: IGrantable, IConnectable, add_to_role_policy ----------------------------------


def test_the_monitor_is_grantable_as_the_jobs_role_and_grants_land_in_its_managed_policy() -> None:
    app, stack, monitor = build()
    assert monitor.grant_principal is monitor.job_role
    before = len(job_policy(synth(*build()[:2]), stack, monitor))
    lookups = s3.Bucket.from_bucket_name(stack, "Lookups", "acme-lookups")
    assert lookups.grant_read(monitor).success
    monitor.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:333333333333:parameter/acme/drift"]))
    template = synth(app, stack)
    statements = job_policy(template, stack, monitor)
    assert [s for s in statements if "Sid" not in s] == [
        {"Effect": "Allow", "Action": ["s3:GetBucket*", "s3:GetObject*", "s3:List*"], "Resource": ["arn:aws:s3:::acme-lookups", "arn:aws:s3:::acme-lookups/*"]},
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:eu-west-1:333333333333:parameter/acme/drift"},
    ]
    assert len(statements) == before + 2
    assert resources(template, "AWS::IAM::Policy") == {}  # nothing inline


def test_add_to_role_policy_takes_a_policy_statement_only() -> None:
    _, _, monitor = build()
    with pytest.raises(PropsError, match=r"^DriftMonitor: statement: must be PolicyStatement"):
        monitor.add_to_role_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})  # type: ignore[arg-type]


def test_the_monitor_is_connectable_as_the_jobs_security_group() -> None:
    app, stack, monitor = build()
    assert monitor.connections.security_groups == [monitor.security_group]
    feature_store = ec2.SecurityGroup.from_security_group_id(stack, "FeatureStore", "sg-0123456789abcdef0", mutable=True)
    monitor.connections.allow_to(feature_store, ec2.Port.tcp(5432), "drift job to the feature store")
    template = synth(app, stack)
    sg_id = stack.get_logical_id(monitor.security_group.node.default_child)
    (egress,) = resources(template, "AWS::EC2::SecurityGroupEgress").values()
    assert (egress["Properties"]["GroupId"], egress["Properties"]["DestinationSecurityGroupId"], egress["Properties"]["FromPort"]) == (
        {"Fn::GetAtt": [sg_id, "GroupId"]}, "sg-0123456789abcdef0", 5432)


def test_the_extension_points_keep_every_compliance_pack_clean(tmp_path: Path) -> None:
    app, stack, monitor = build(outdir=tmp_path, image=lambda stack: ContainerImage.from_ecr_repository(
        ecr.Repository.from_repository_name(stack, "DriftImages", "acme/drift"), "2.1.0"))
    monitor.add_alarm("Tenure", metric=monitor.metric_feature_drift_score("tenure"), threshold=0.05,
                      comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD)
    monitor.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:333333333333:parameter/acme/drift"]))
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


def test_without_a_retrain_bus_nothing_is_forwarded_and_the_attribute_is_none() -> None:
    app, stack, monitor = build(retrain_event_bus=REMOVE)
    assert monitor.drift_forwarding is None and monitor.forward_dead_letter_queue is None
    assert [r for r in resources(synth(app, stack), "AWS::Events::Rule").values() if "EventPattern" in r["Properties"]] == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_package_arn": "acme-churn/7"}, r"^DriftMonitor: model_package_arn: must be a versioned model package ARN"),
        ({"capture_bucket": "acme-staging-artifacts"}, r"^DriftMonitor: capture_bucket: must be an s3.IBucket \(got 'acme-staging-artifacts'\)$"),
        ({"baseline_bucket": "acme-dev-artifacts"}, r"^DriftMonitor: baseline_bucket: must be an s3.IBucket"),
        ({"vpc": "vpc-0123456789abcdef0"}, r"^DriftMonitor: vpc: must be an ec2.IVpc"),
        ({"encryption_key": "alias/acme"}, r"^DriftMonitor: encryption_key: must be a kms.IKey"),
        ({"retrain_event_bus": "default"}, r"^DriftMonitor: retrain_event_bus: must be an events.IEventBus \(got 'default'\)$"),
        ({"log_retention": 365}, r"^DriftMonitor: log_retention: must be RetentionDays \(got 365\)$"),
        ({"removal_policy": "destroy"}, r"^DriftMonitor: removal_policy: must be RemovalPolicy"),
        ({"baseline_key_alias": "acme/artifacts"}, r"^DriftMonitor: baseline_key_alias: must be a KMS alias name, alias/<name> \(got 'acme/artifacts'\)$"),
    ],
)
def test_props_of_the_wrong_type_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        build(**overrides)


def test_a_package_arn_known_at_deploy_time_passes() -> None:
    app, stack, _ = build(model_package_arn=cdk.Fn.import_value("ServedPackage"))
    states = definition(synth(app, stack))["States"]
    assert states["DescribeServedVersion"]["Parameters"]["ModelPackageName"] == "<{Fn::ImportValue: ServedPackage}>"


def test_what_is_granted_to_the_state_machine_lands_in_its_managed_policy() -> None:
    from aws_cdk.assertions import Match, Template

    _, stack, monitor = build()
    monitor.state_machine.add_to_role_policy(iam.PolicyStatement(
        sid="ReadTeamParameter", actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:333333333333:parameter/team/x"]))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Roles": [{"Ref": stack.get_logical_id(monitor.state_machine_role.node.default_child)}],
        "Description": Match.string_like_regexp("^Drift checks of acme-staging-churn: job"),
        "PolicyDocument": {"Statement": Match.array_with([
            {"Sid": "ReadTeamParameter", "Action": "ssm:GetParameter", "Effect": "Allow", "Resource": "arn:aws:ssm:eu-west-1:333333333333:parameter/team/x"},
        ])},
    })
    assert not [k for k, r in template.to_json()["Resources"].items() if r["Type"] == "AWS::IAM::Policy" and "Drift" in k]


def test_a_retried_drift_job_gets_a_name_of_its_own_within_63_characters() -> None:
    """A DriftJob retry (a create whose answer was lost) must not reuse the name SageMaker may already hold; with the
    longest endpoint name, the first 14-digit stamp, 8 characters of the execution's name and the retry count, the
    name still fits SageMaker's 63 characters."""
    longest = "e" * 63
    app, stack, _ = build(endpoint_name=longest, capture_prefix=f"data-capture/{longest}/")
    states = definition(synth(app, stack))["States"]
    job = states["Window"]["Output"]["job"]
    literal = job.split("'")[1]  # "{% '<prefix>-drift-' & <stamp> & '-' & <8 characters> %}"
    assert literal.endswith("-drift-")
    retries = sum(r["MaxAttempts"] for r in states["DriftJob"]["Retry"])  # RetryCount counts every retrier's
    longest_name = len(literal) + 14 + 1 + 8 + len(f"-{retries}")
    assert states["DriftJob"]["Parameters"]["ProcessingJobName.$"] == "States.Format('{}-{}', $.job, $$.State.RetryCount)"
    assert longest_name <= 63


def test_an_endpoint_name_with_capitals_gives_lower_case_job_names_and_permission() -> None:
    # SageMaker writes some job names in lower case in their ARNs: the job's name and the ARN pattern its role may
    # create agree whatever the endpoint name's case
    app, stack, _ = build(endpoint_name="Acme-Staging-Churn", capture_prefix="data-capture/Acme-Staging-Churn/")
    template = synth(app, stack)
    states = definition(template)["States"]
    assert states["Window"]["Output"]["job"].split("'")[1] == "acme-staging-churn-drift-"
    policies = json.dumps([p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::ManagedPolicy").values()])
    assert "processing-job/acme-staging-churn-drift-*" in policies and "Acme-Staging-Churn-drift" not in policies
