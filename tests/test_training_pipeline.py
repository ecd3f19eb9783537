"""TrainingPipeline: the state machine's definition, the jobs' isolation and encryption, the roles,
the security group and the triggers, in the default config's training stack and in standalone stacks."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from mlops_constructs import PropsError
from mlops_constructs.schedules import daily_cron, weekly_cron
from mlops_constructs.training import DRIFT_BASELINE_KEY, GateCondition, Preprocessing, TrainingPipeline
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, resources

ACCOUNT, REGION = "222222222222", "eu-west-1"
DATA_BUCKET = f"mlops-demo-dev-data-{ACCOUNT}-{REGION}"
ARTIFACT_BUCKET = f"mlops-demo-dev-artifacts-{ACCOUNT}-{REGION}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
TRAINING_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PROCESSING_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SUBNETS = ["subnet-0aaa", "subnet-0bbb"]

JOBS = ("Preprocess", "Train", "Evaluate")
PROCESSING_JOBS = ("Preprocess", "Evaluate")
CAUGHT = ("Preprocess", "Train", "Evaluate", "ReadEvaluation", "Register")
SAGEMAKER_RETRYABLE = {"SageMaker.AmazonSageMakerException", "SageMaker.ResourceLimitExceededException", "SageMaker.ThrottlingException"}


# -- helpers ------------------------------------------------------------------------------------------


def training_template(platform: SynthesizedPlatform) -> dict[str, Any]:
    return platform.templates["Dev/Models-1/Training-churn"]


def one(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, found),) = resources(template, type_).items()
    return logical_id, found["Properties"]


def placeholder(part: Any) -> str:
    """A JSON-safe stand-in for a non-string part of the definition's Fn::Join, naming what it refers to."""
    if isinstance(part, dict) and len(part) == 1:
        ((function, argument),) = part.items()
        if function == "Ref":
            return f"<Ref {argument}>"
        if function == "Fn::GetAtt":
            return f"<GetAtt {argument[0]}.{argument[1]}>"
        if function == "Fn::GetStackOutput":
            return f"<Output {argument['StackName']} {argument['OutputName']}>"
    return "<REF>"


def definition(template: dict[str, Any]) -> dict[str, Any]:
    """The state machine's definition, its references replaced by placeholders."""
    _, machine = one(template, "AWS::StepFunctions::StateMachine")
    body = machine["DefinitionString"]
    if isinstance(body, str):
        return json.loads(body)
    separator, parts = body["Fn::Join"]
    return json.loads(separator.join(part if isinstance(part, str) else placeholder(part) for part in parts))


def states(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return definition(template)["States"]


def main_path(machine: dict[str, Any], through: tuple[str, ...] = ("HasBestTrainingJob",)) -> list[str]:
    """State names from StartAt, following Next until a state without one, and a Choice of ``through`` into its
    first choice."""
    path, name = [], machine["StartAt"]
    while name is not None:
        path.append(name)
        state = machine["States"][name]
        name = state["Choices"][0]["Next"] if name in through else state.get("Next")
    return path


def network_of(state: dict[str, Any]) -> dict[str, Any]:
    parameters = state["Parameters"]
    return parameters["NetworkConfig"]["VpcConfig"] if "NetworkConfig" in parameters else parameters["VpcConfig"]


def standalone(artifact_bucket_name: str = "acme-artifacts", *, app: cdk.App | None = None,
               extra: Callable[[cdk.Stack], dict[str, Any]] | None = None, **kwargs: Any) -> tuple[cdk.Stack, TrainingPipeline]:
    """A pipeline in a stack of its own; ``extra`` makes props that need the stack (states, repositories)."""
    stack = cdk.Stack(app or cdk.App(context=CDK_CONTEXT), "Test", env=cdk.Environment(account=ACCOUNT, region=REGION))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
        vpc_cidr_block="10.10.0.0/16", isolated_subnet_ids=SUBNETS, isolated_subnet_route_table_ids=["rtb-0aaa", "rtb-0bbb"],
    )
    props: dict[str, Any] = {
        "model_name": "churn",
        "vpc": vpc,
        "data_bucket": s3.Bucket.from_bucket_name(stack, "Data", "acme-data"),
        "data_prefix": "churn/",
        "artifact_bucket": s3.Bucket.from_bucket_name(stack, "Artifacts", artifact_bucket_name),
        "encryption_key": kms.Key.from_key_arn(stack, "StoreKey", KEY_ARN),
        "training_image": TRAINING_IMAGE,
        "processing_image": PROCESSING_IMAGE,
        "model_package_group_name": "acme-churn",
    }
    props.update(kwargs)
    if extra is not None:
        props.update(extra(stack))
    return stack, TrainingPipeline(stack, "Pipeline", **props)


def standalone_template(**kwargs: Any) -> dict[str, Any]:
    stack, _ = standalone(**kwargs)
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    """Defaults: one instance, on-demand, only the retrain-event trigger."""
    return standalone_template()


@pytest.fixture(scope="module")
def spot() -> dict[str, Any]:
    return standalone_template(spot_max_wait=Duration.hours(30), max_training_runtime=Duration.hours(24))


@pytest.fixture(scope="module")
def distributed() -> dict[str, Any]:
    return standalone_template(training_instance_count=2)


@pytest.fixture(scope="module")
def untriggered() -> dict[str, Any]:
    return standalone_template(trigger_on_retrain_event=False, schedule=None, trigger_on_new_data=False)


# -- the states -------------------------------------------------------------------------------------


def test_states_run_in_order_and_end_in_fail_or_succeed(platform: SynthesizedPlatform) -> None:
    machine = definition(training_template(platform))
    found = machine["States"]
    assert set(found) == {
        "Prepare", "Preprocess", "Train", "Evaluate", "ReadEvaluation", "MetricGate", "ReportUnusable1",
        "Register", "NotifyRegistered", "NotifyGateMissed", "NotifyFailure", "Failed", "Registered", "NotRegistered",
    }
    assert main_path(machine) == ["Prepare", "Preprocess", "Train", "Evaluate", "ReadEvaluation", "MetricGate"]
    assert found["Prepare"]["Type"] == "Pass"
    for name in ("Preprocess", "Train", "Evaluate", "ReadEvaluation", "Register", "NotifyRegistered", "NotifyGateMissed", "NotifyFailure"):
        assert found[name]["Type"] == "Task", name

    gate = found["MetricGate"]
    assert gate["Type"] == "Choice"
    # The default config's one-metric gate (auc, 0.8) on the bundled evaluation's model-quality report.
    value = "$.evaluation.report.binary_classification_metrics.auc.value"
    unusable, reached = gate["Choices"]
    assert unusable == {"Or": [{"Variable": value, "IsPresent": False}, {"Variable": value, "IsNumeric": False}], "Next": "ReportUnusable1"}
    assert reached == {"Variable": value, "NumericGreaterThanEquals": 0.8, "Next": "Register"}
    assert gate["Default"] == "NotifyGateMissed"

    assert found["Register"]["Next"] == "NotifyRegistered"
    assert found["NotifyRegistered"]["Next"] == "Registered"
    assert found["NotifyGateMissed"]["Next"] == "NotRegistered"
    assert found["ReportUnusable1"]["Next"] == "NotifyFailure"
    assert found["NotifyFailure"]["Next"] == "Failed"
    assert found["Failed"]["Type"] == "Fail"
    assert found["Registered"] == {"Type": "Succeed"}
    assert found["NotRegistered"] == {"Type": "Succeed"}


def test_jobs_use_the_sync_sagemaker_integrations(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    for name in PROCESSING_JOBS:
        assert found[name]["Resource"].endswith(":states:::sagemaker:createProcessingJob.sync"), name
    assert found["Train"]["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert found["Train"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"] == TRAINING_IMAGE
    assert found["Preprocess"]["Parameters"]["AppSpecification"]["ImageUri"] == PROCESSING_IMAGE
    assert found["Evaluate"]["Parameters"]["AppSpecification"]["ImageUri"] == TRAINING_IMAGE
    assert found["Evaluate"]["Parameters"]["Environment"] == {"PROBLEM_TYPE": "binary_classification"}


def test_report_is_read_from_s3_and_registered_pending_approval(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    read = found["ReadEvaluation"]
    assert read["Resource"].endswith(":states:::aws-sdk:s3:getObject")
    assert read["Parameters"] == {"Bucket": ARTIFACT_BUCKET, "Key.$": "$.run.evaluation_key"}
    assert read["ResultSelector"] == {"report.$": "States.StringToJson($.Body)"}

    register = found["Register"]
    assert register["Resource"].endswith(":states:::aws-sdk:sagemaker:createModelPackage")
    parameters = register["Parameters"]
    assert parameters["ModelPackageGroupName"] == "mlops-demo-churn"
    assert parameters["ModelApprovalStatus"] == "PendingManualApproval"
    assert parameters["ModelMetrics"]["ModelQuality"]["Statistics"] == {"ContentType": "application/json", "S3Uri.$": "$.run.evaluation_report_uri"}
    assert parameters["InferenceSpecification"]["Containers"] == [{"Image": TRAINING_IMAGE, "ModelDataUrl.$": "$.train.ModelArtifacts"}]

    run = found["Prepare"]["Parameters"]["run"]
    assert run["evaluation_report_uri.$"] == (
        f"States.Format('s3://{ARTIFACT_BUCKET}/churn/{{}}/evaluation/evaluation.json', States.Hash($$.Execution.Id, 'MD5'))"
    )
    assert run["evaluation_key.$"] == "States.Format('churn/{}/evaluation/evaluation.json', States.Hash($$.Execution.Id, 'MD5'))"


def test_every_job_runs_in_the_vpc_with_one_security_group(platform: SynthesizedPlatform) -> None:
    template = training_template(platform)
    found = states(template)
    (group_id,) = resources(template, "AWS::EC2::SecurityGroup")
    for name in JOBS:
        vpc_config = network_of(found[name])
        assert vpc_config["SecurityGroupIds"] == [f"<GetAtt {group_id}.GroupId>"], name
        assert len(vpc_config["Subnets"]) == 3, name  # one isolated subnet per availability zone
        # the dev network stack's named outputs (stacks._references)
        assert sorted(vpc_config["Subnets"]) == [f"<Output mlops-demo-dev-network IsolatedSubnet{i}>" for i in (1, 2, 3)], name
        assert len(set(vpc_config["Subnets"])) == 3, name


def test_standalone_jobs_use_the_given_subnets_and_key(plain: dict[str, Any]) -> None:
    found = states(plain)
    (group_id,) = resources(plain, "AWS::EC2::SecurityGroup")
    for name in JOBS:
        assert network_of(found[name]) == {"SecurityGroupIds": [f"<GetAtt {group_id}.GroupId>"], "Subnets": SUBNETS}, name
    for name in PROCESSING_JOBS:
        parameters = found[name]["Parameters"]
        assert parameters["ProcessingOutputConfig"]["KmsKeyId"] == KEY_ARN, name
        assert parameters["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY_ARN, name
    train = found["Train"]["Parameters"]
    assert train["OutputDataConfig"]["KmsKeyId"] == KEY_ARN
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KEY_ARN


def test_jobs_are_network_isolated_and_encrypted(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    for name in PROCESSING_JOBS:
        parameters = found[name]["Parameters"]
        assert parameters["NetworkConfig"]["EnableNetworkIsolation"] is True, name
        assert parameters["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True, name
    train = found["Train"]["Parameters"]
    assert train["EnableNetworkIsolation"] is True
    assert train["EnableInterContainerTrafficEncryption"] is True
    # All six are the store's key, the dev storage stack's output (stacks._references).
    keys = {
        *(found[n]["Parameters"]["ProcessingOutputConfig"]["KmsKeyId"] for n in PROCESSING_JOBS),
        *(found[n]["Parameters"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] for n in PROCESSING_JOBS),
        train["OutputDataConfig"]["KmsKeyId"],
        train["ResourceConfig"]["VolumeKmsKeyId"],
    }
    assert keys == {"<Output mlops-demo-dev-storage StoreKeyArn>"}


def test_job_names_are_unique_per_run_and_per_retry(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    assert found["Prepare"]["Parameters"]["run"]["suffix.$"] == "States.Hash($$.Execution.Id, 'MD5')"
    assert found["Preprocess"]["Parameters"]["ProcessingJobName.$"] == "States.Format('churn-p-{}-{}', $.run.suffix, $$.State.RetryCount)"
    assert found["Train"]["Parameters"]["TrainingJobName.$"] == "States.Format('churn-t-{}-{}', $.run.suffix, $$.State.RetryCount)"
    assert found["Evaluate"]["Parameters"]["ProcessingJobName.$"] == "States.Format('churn-e-{}-{}', $.run.suffix, $$.State.RetryCount)"


def test_jobs_retry_only_sagemaker_throttling_and_capacity_errors(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    for name in JOBS:
        (retry,) = found[name]["Retry"]
        assert set(retry["ErrorEquals"]) == SAGEMAKER_RETRYABLE, name
        assert retry["BackoffRate"] == 2, name
        assert retry["MaxAttempts"] == 3, name
        # A job that ran and failed is reported, not rerun.
        assert "States.ALL" not in retry["ErrorEquals"] and "States.TaskFailed" not in retry["ErrorEquals"], name


def test_every_failure_is_notified_then_fails(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    for name in CAUGHT:
        assert found[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}], name
    notify = found["NotifyFailure"]
    assert notify["Resource"].endswith(":states:::sns:publish")
    assert notify["Next"] == "Failed"
    assert notify["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]  # even an unsent notification fails the run
    assert found["Failed"]["Type"] == "Fail"
    # No state other than the notification and the gate's fallback reaches Failed or NotifyFailure directly.
    targets = {
        (name, target)
        for name, state in found.items()
        for target in [state.get("Next"), *(c["Next"] for c in state.get("Catch", []))]
        if target in ("NotifyFailure", "Failed")
    }
    assert targets == {*((n, "NotifyFailure") for n in CAUGHT), ("ReportUnusable1", "NotifyFailure"), ("NotifyFailure", "Failed")}


def test_state_machine_logs_everything_encrypted_traces_and_times_out(platform: SynthesizedPlatform) -> None:
    template = training_template(platform)
    log_group_id, log_group = one(template, "AWS::Logs::LogGroup")
    assert "KmsKeyId" in log_group
    key_ids = [k for k in resources(template, "AWS::KMS::Key")]
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [key_ids[0], "Arn"]} and len(key_ids) == 1
    Template.from_json(template).has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
            },
            "TracingConfiguration": {"Enabled": True},
            "StateMachineType": "STANDARD",
        },
    )
    # max_runtime_hours 4 + two processing jobs of 2 hours + 1 hour of slack.
    assert definition(template)["TimeoutSeconds"] == 9 * 3600


# -- IAM and network -----------------------------------------------------------------------------------


def test_job_role_trusts_sagemaker_and_only_it_may_be_passed_to_sagemaker(platform: SynthesizedPlatform) -> None:
    template = training_template(platform)
    found = states(template)
    (job_role_reference,) = {found[name]["Parameters"]["RoleArn"] for name in JOBS}
    job_role_id = job_role_reference.removeprefix("<GetAtt ").removesuffix(".Arn>")
    job_role = template["Resources"][job_role_id]
    assert job_role["Type"] == "AWS::IAM::Role"
    (trust,) = job_role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"

    machine = template["Resources"][next(iter(resources(template, "AWS::StepFunctions::StateMachine")))]
    machine_role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    policies = [p["Properties"] for p in resources(template, "AWS::IAM::ManagedPolicy").values() if {"Ref": machine_role_id} in p["Properties"].get("Roles", [])]
    assert len(policies) == 2  # its own, and the execution policy (logs, traces, execution data's key)
    pass_role = [s for policy in policies for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "PassJobRole"]
    assert pass_role == [{
        "Sid": "PassJobRole", "Effect": "Allow", "Action": "iam:PassRole",
        "Resource": {"Fn::GetAtt": [job_role_id, "Arn"]},
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }]
    # No other statement of any policy in the stack grants iam:PassRole.
    for managed in resources(template, "AWS::IAM::ManagedPolicy").values():
        for statement in managed["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a in ("iam:PassRole", "iam:*", "*") for a in actions):
                assert statement.get("Sid") == "PassJobRole"


def test_no_inline_policies(platform: SynthesizedPlatform) -> None:
    template = training_template(platform)
    Template.from_json(template).resource_count_is("AWS::IAM::Policy", 0)
    assert resources(template, "AWS::IAM::Policy") == {}
    for role_id, role in resources(template, "AWS::IAM::Role").items():
        assert "Policies" not in role["Properties"], role_id


def test_job_security_group_allows_only_https_out_for_one_instance(platform: SynthesizedPlatform) -> None:
    template = training_template(platform)
    _, group = one(template, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in group
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group["SecurityGroupEgress"]] == [("tcp", 443, 443)]
    assert resources(template, "AWS::EC2::SecurityGroupIngress") == {}
    assert resources(template, "AWS::EC2::SecurityGroupEgress") == {}


def test_distributed_training_lets_the_group_talk_to_itself(distributed: dict[str, Any], plain: dict[str, Any]) -> None:
    group_id, group = one(distributed, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in group
    self_reference = {"Fn::GetAtt": [group_id, "GroupId"]}
    (ingress,) = (r["Properties"] for r in resources(distributed, "AWS::EC2::SecurityGroupIngress").values())
    assert ingress["GroupId"] == self_reference
    assert ingress["SourceSecurityGroupId"] == self_reference
    assert ingress["IpProtocol"] == "-1"
    assert "CidrIp" not in ingress
    assert states(distributed)["Train"]["Parameters"]["ResourceConfig"]["InstanceCount"] == 2
    # One instance: nothing in.
    assert resources(plain, "AWS::EC2::SecurityGroupIngress") == {}
    assert "SecurityGroupIngress" not in one(plain, "AWS::EC2::SecurityGroup")[1]


# -- triggers ----------------------------------------------------------------------------------------


DRIFT_ALARMS = ["mlops-demo-staging-churn-drift", "mlops-demo-prod-churn-drift"]  # monitoring.stages: staging and prod by default
DEFAULT_PATTERNS = [
    {  # the drift alarms of the model's monitored endpoints, forwarded from staging and prod
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": DRIFT_ALARMS, "state": {"value": ["ALARM"]}},
    },
    {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [DATA_BUCKET]}, "object": {"key": [{"prefix": "churn/raw/"}]}},
    },
    {"source": ["mlops.platform"], "detail-type": ["Model Retrain Requested"], "detail": {"model": ["churn"]}},
]


def event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An event as EventBridge delivers it (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html)."""
    return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": "2026-11-02T03:00:00Z", "region": REGION, "resources": [], "detail": detail}


def object_created(bucket: str, key: str) -> dict[str, Any]:
    return event("aws.s3", "Object Created", {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 5},
                                              "reason": "PutObject"})


def alarm(name: str, state: str) -> dict[str, Any]:
    return event("aws.cloudwatch", "CloudWatch Alarm State Change",
                 {"alarmName": name, "state": {"value": state, "reason": "Threshold Crossed"}, "previousState": {"value": "OK"}})


TRIGGER_EVENTS = {  # each trigger's sample event: the rule must start a run on each, naming it
    "DriftAlarm": alarm("mlops-demo-prod-churn-drift", "ALARM"),
    "NewData": object_created(DATA_BUCKET, "churn/raw/2026-11.csv"),
    "RetrainRequested": event("mlops.platform", "Model Retrain Requested", {"model": "churn"}),
}
OTHER_EVENTS = {  # and on none of these
    "alarm back to OK": alarm("mlops-demo-prod-churn-drift", "OK"),
    "another model's alarm": alarm("mlops-demo-prod-fraud-drift", "ALARM"),
    "another model's data": object_created(DATA_BUCKET, "fraud/raw/2026-11.csv"),
    "another bucket": object_created("someone-elses-bucket", "churn/raw/2026-11.csv"),
    "a deleted object": {**object_created(DATA_BUCKET, "churn/raw/2026-11.csv"), "detail-type": "Object Deleted"},
    "another model's retraining": event("mlops.platform", "Model Retrain Requested", {"model": "fraud"}),
    # one alternative's source with another's detail: the alternatives are whole patterns, not merged
    "mixed alternatives": event("aws.s3", "Model Retrain Requested", {"model": "churn"}),
}


def trigger_rule(template: dict[str, Any]) -> dict[str, Any]:
    (rule,) = resources(template, "AWS::Events::Rule").values()
    return rule["Properties"]


def test_default_config_has_one_trigger_rule_and_one_schedule(platform: SynthesizedPlatform) -> None:
    """Four triggers, one rule on the default bus: the event triggers are alternatives of its $or, the
    schedule is an EventBridge Scheduler schedule, not a rule."""
    template = training_template(platform)
    Template.from_json(template).resource_count_is("AWS::Events::Rule", 1)
    rule = trigger_rule(template)
    assert "ScheduleExpression" not in rule and rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {"$or": DEFAULT_PATTERNS}
    (schedule,) = (s["Properties"] for s in resources(template, "AWS::Scheduler::Schedule").values())
    assert schedule["ScheduleExpression"] == "cron(0 3 ? * MON *)"  # as the configuration writes it
    assert schedule["ScheduleExpressionTimezone"] == "Etc/UTC"  # as a rule reads it
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"} and schedule["State"] == "ENABLED"
    assert json.loads(schedule["Target"]["Input"]) == {"trigger": "Schedule"}


def test_the_trigger_pattern_matches_each_triggers_sample_event_and_nothing_else(
    platform: SynthesizedPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule's pattern on moto's EventBridge, which implements $or: each trigger's event reaches the
    target, the near misses do not."""
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "MOTO_ACCOUNT_ID": ACCOUNT}.items():
        monkeypatch.setenv(name, value)
    pattern = trigger_rule(training_template(platform))["EventPattern"]
    with mock_aws():
        sqs, bus = boto3.client("sqs"), boto3.client("events")
        queue = sqs.create_queue(QueueName="runs")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus.put_rule(Name="triggers", EventPattern=json.dumps(pattern))
        bus.put_targets(Rule="triggers", Targets=[{"Id": "runs", "Arn": queue_arn}])

        def delivered(sample: dict[str, Any]) -> bool:
            bus.put_events(Entries=[{"Source": sample["source"], "DetailType": sample["detail-type"], "Detail": json.dumps(sample["detail"])}])
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return bool(messages)

        assert {name: delivered(sample) for name, sample in TRIGGER_EVENTS.items()} == dict.fromkeys(TRIGGER_EVENTS, True)
        assert {name: delivered(sample) for name, sample in OTHER_EVENTS.items()} == dict.fromkeys(OTHER_EVENTS, False)


def transformed(target: dict[str, Any], sample: dict[str, Any]) -> Any:
    """The input EventBridge gives the target for ``sample``: each ``<name>`` of the template replaced by the
    value at its path, a string quoted where the placeholder stands as a JSON value
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html)."""
    transformer = target["InputTransformer"]
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value: Any = sample
        for key in path.removeprefix("$.").split("."):
            value = value[key]
        text = text.replace(f"<{name}>", json.dumps(value))
    return json.loads(text)


def test_the_input_names_the_trigger_that_fired(platform: SynthesizedPlatform) -> None:
    (target,) = trigger_rule(training_template(platform))["Targets"]
    assert "Input" not in target
    inputs = {name: transformed(target, sample) for name, sample in TRIGGER_EVENTS.items()}
    assert inputs == {
        "DriftAlarm": {"trigger": "CloudWatch Alarm State Change", "source": "aws.cloudwatch"},
        "NewData": {"trigger": "Object Created", "source": "aws.s3"},
        "RetrainRequested": {"trigger": "Model Retrain Requested", "source": "mlops.platform"},
    }


def test_triggers_may_only_start_this_state_machine(platform: SynthesizedPlatform) -> None:
    template = training_template(platform)
    machine_id = next(iter(resources(template, "AWS::StepFunctions::StateMachine")))
    (target,) = trigger_rule(template)["Targets"]
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    key_id = template["Resources"][machine_id]["Properties"]["EncryptionConfiguration"]["KmsKeyId"]["Fn::GetAtt"][0]
    queue_id = next(iter(resources(template, "AWS::SQS::Queue")))
    # one role for both: the rule's target (EventBridge) and the schedule's (Scheduler), with one permission
    assert target["RoleArn"] == schedule["Properties"]["Target"]["RoleArn"]
    for target, service in ((target, "events.amazonaws.com"), (schedule["Properties"]["Target"], "scheduler.amazonaws.com")):
        assert target["Arn"] == {"Ref": machine_id}
        role_id = target["RoleArn"]["Fn::GetAtt"][0]
        role = template["Resources"][role_id]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        assert "Policies" not in role and "ManagedPolicyArns" not in role
        attached = [p["Properties"] for p in resources(template, "AWS::IAM::ManagedPolicy").values() if {"Ref": role_id} in p["Properties"].get("Roles", [])]
        (policy,) = attached
        start, encrypt_input, *dead_letters = policy["PolicyDocument"]["Statement"]
        assert start == {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}}
        # and the input it starts with is encrypted with the machine's key, for state machines only
        assert encrypt_input["Action"] == "kms:GenerateDataKey"
        assert encrypt_input["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert list(encrypt_input["Condition"]["ArnLike"]) == ["kms:EncryptionContext:aws:states:stateMachineArn"]
        # EventBridge writes the rule's dead letters under the queue's policy; Scheduler writes the schedule's
        # with the schedule's role: that queue, through SQS, with its key
        send, encrypt = dead_letters
        assert send == {"Sid": "SendDeadLetters", "Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert sorted(encrypt["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"] and encrypt["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert encrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}


def test_no_triggers_means_no_rule_schedule_role_or_queue(untriggered: dict[str, Any]) -> None:
    for type_ in ("AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::SQS::Queue"):
        assert resources(untriggered, type_) == {}, type_
    roles = resources(untriggered, "AWS::IAM::Role").values()
    services = {r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") for r in roles}
    assert services == {"sagemaker.amazonaws.com", "states.amazonaws.com"}
    _, pipeline = standalone(trigger_on_retrain_event=False)
    assert (pipeline.trigger_rule, pipeline.trigger_schedule, pipeline.trigger_dead_letter_queue, pipeline.trigger_patterns) == (None, None, None, {})


def test_one_event_trigger_is_its_own_pattern_without_or(plain: dict[str, Any]) -> None:
    # The default is the retrain event only.
    rule = trigger_rule(plain)
    assert rule["EventPattern"] == {"source": ["mlops.platform"], "detail-type": ["Model Retrain Requested"], "detail": {"model": ["churn"]}}
    assert resources(plain, "AWS::Scheduler::Schedule") == {}


def test_a_schedule_alone_is_a_schedule_without_a_rule() -> None:
    template = standalone_template(trigger_on_retrain_event=False, schedule=scheduler.ScheduleExpression.cron(minute="5", hour="2"))
    assert resources(template, "AWS::Events::Rule") == {}
    (schedule,) = (s["Properties"] for s in resources(template, "AWS::Scheduler::Schedule").values())
    assert schedule["ScheduleExpression"] == "cron(5 2 * * ? *)"
    (queue_id,) = resources(template, "AWS::SQS::Queue")
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    # no role for EventBridge rules
    roles = resources(template, "AWS::IAM::Role").values()
    assert "events.amazonaws.com" not in json.dumps([r["Properties"]["AssumeRolePolicyDocument"] for r in roles])


def test_daily_and_weekly_in_the_configuration_start_at_the_models_own_time(three_model_platform: SynthesizedPlatform) -> None:
    """fraud is configured weekly, demand-forecast daily (without event triggers: a schedule and no rule)."""
    def schedules_of(model: str) -> list[str]:
        template = three_model_platform.templates[f"Dev/Models-1/Training-{model}"]
        return [s["Properties"]["ScheduleExpression"] for s in resources(template, "AWS::Scheduler::Schedule").values()]

    assert schedules_of("fraud") == [weekly_cron("fraud")] == ["cron(25 5 ? * MON *)"]
    assert schedules_of("demand-forecast") == [daily_cron("demand-forecast")] == ["cron(30 0 * * ? *)"]
    assert resources(three_model_platform.templates["Dev/Models-1/Training-demand-forecast"], "AWS::Events::Rule") == {}


@pytest.mark.parametrize(
    ("schedule", "expression"),
    [
        (events.Schedule.cron(minute="0", hour="3", week_day="MON"), "cron(0 3 ? * MON *)"),
        (events.Schedule.rate(Duration.days(7)), "rate(7 days)"),
        (events.Schedule.expression("cron(0 3 ? * MON *)"), "cron(0 3 ? * MON *)"),
        (scheduler.ScheduleExpression.expression("rate(12 hours)"), "rate(12 hours)"),
    ],
)
def test_a_rule_schedule_is_accepted_and_keeps_its_meaning(schedule: Any, expression: str) -> None:
    template = standalone_template(schedule=schedule)
    (found,) = (s["Properties"] for s in resources(template, "AWS::Scheduler::Schedule").values())
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"]) == (expression, "Etc/UTC")


def test_a_schedule_of_another_kind_is_refused() -> None:
    with pytest.raises(PropsError, match=r"^TrainingPipeline: schedule: must be an aws_scheduler.ScheduleExpression, or an aws_events.Schedule"):
        standalone(schedule="cron(0 3 ? * MON *)")


# -- spot training ---------------------------------------------------------------------------------


def test_spot_training_checkpoints_and_waits(spot: dict[str, Any]) -> None:
    train = states(spot)["Train"]["Parameters"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["CheckpointConfig"] == {"S3Uri.$": "$.run.checkpoint_uri"}
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 24 * 3600, "MaxWaitTimeInSeconds": 108000}
    # Spot keeps the isolation and the encryption.
    assert train["EnableNetworkIsolation"] is True and train["EnableInterContainerTrafficEncryption"] is True
    assert train["VpcConfig"]["Subnets"] == SUBNETS


def test_on_demand_training_has_no_spot_settings(platform: SynthesizedPlatform, plain: dict[str, Any]) -> None:
    for template in (training_template(platform), plain):
        train = states(template)["Train"]["Parameters"]
        assert "EnableManagedSpotTraining" not in train
        assert "CheckpointConfig" not in train
        assert set(train["StoppingCondition"]) == {"MaxRuntimeInSeconds"}


# -- props validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_name": "Churn_Model"}, r"TrainingPipeline: model_name: must be a lowercase slug of 3 to 24 characters \(got 'Churn_Model'\)"),
        ({"data_prefix": "/churn"}, r"TrainingPipeline: data_prefix: must be an S3 key prefix without a leading slash, ending with '/' \(got '/churn'\)"),
        ({"training_image": "xgboost:latest"}, r"TrainingPipeline: training_image: must be an ECR image URI.* \(got 'xgboost:latest'\)"),
        ({"metric_direction": "up"}, r"TrainingPipeline: metric_direction: must be 'maximize' or 'minimize' \(got 'up'\)"),
        (
            {"spot_max_wait": Duration.hours(2), "max_training_runtime": Duration.hours(4)},
            r"TrainingPipeline: spot_max_wait: must be at least max_training_runtime \(4 hours\) \(got '2 hours'\)",
        ),
    ],
    ids=["model-name", "data-prefix-leading-slash", "training-image", "metric-direction", "spot-shorter-than-runtime"],
)
def test_bad_props_are_rejected_with_field_and_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(**kwargs)


def test_metric_names_must_be_ones_the_bundled_evaluation_writes_for_the_problem_type() -> None:
    with pytest.raises(PropsError, match=r"TrainingPipeline: metric_name: must be one of auc, accuracy, precision, .*false_negative_rate, the metrics "
                                         r"the bundled evaluation script writes for problem_type binary_classification; .* \(got 'rmse'\)"):
        standalone(metric_name="rmse")
    with pytest.raises(PropsError, match=r"metric_name: must be one of mae, mse, rmse, r2, .* regression; .* \(got 'auc'\)"):
        standalone(metric_name="auc", problem_type="regression")
    _, regression = standalone(metric_name="rmse", problem_type="regression", metric_direction="minimize")
    assert regression.gate_conditions == (GateCondition(path="regression_metrics.rmse.value", op="<=", threshold=0.8),)
    # an image of your own may report any metric
    _, own = standalone(metric_name="log_loss", evaluate_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/evaluate:1")
    assert own.gate_conditions == (GateCondition(path="metrics.log_loss.value", op=">=", threshold=0.8),)


# -- the gate ---------------------------------------------------------------------------------------


def report_value(path: str) -> str:
    return f"$.evaluation.report.{path}"


def test_every_condition_is_checked_for_a_number_then_all_must_hold() -> None:
    conditions = [
        GateCondition.minimize("regression_metrics.mse.value", 6.0),
        GateCondition(path="regression_metrics.r2.value", op=">=", threshold=0.5),
    ]
    found = states(standalone_template(problem_type="regression", gate_conditions=conditions))
    gate = found["MetricGate"]
    *unusable, reached = gate["Choices"]
    for number, (rule, condition) in enumerate(zip(unusable, conditions, strict=True), start=1):
        value = report_value(condition.path)
        assert rule == {"Or": [{"Variable": value, "IsPresent": False}, {"Variable": value, "IsNumeric": False}], "Next": f"ReportUnusable{number}"}
        failure = found[f"ReportUnusable{number}"]
        assert failure["Parameters"]["Error"] == "EvaluationReportInvalid"
        assert condition.path in failure["Parameters"]["Cause"]
        assert failure["ResultPath"] == "$.failure" and failure["Next"] == "NotifyFailure"
    assert reached == {
        "And": [
            {"Variable": report_value("regression_metrics.mse.value"), "NumericLessThanEquals": 6},
            {"Variable": report_value("regression_metrics.r2.value"), "NumericGreaterThanEquals": 0.5},
        ],
        "Next": "Register",
    }
    assert gate["Default"] == "NotifyGateMissed"
    assert found["Evaluate"]["Parameters"]["Environment"] == {"PROBLEM_TYPE": "regression"}


def test_notifications_describe_each_condition() -> None:
    conditions = [GateCondition.minimize("regression_metrics.mse.value", 6.0), GateCondition.maximize("regression_metrics.r2.value", 0.5)]
    found = states(standalone_template(problem_type="regression", gate_conditions=conditions))
    expected = [
        {"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6, "value.$": report_value("regression_metrics.mse.value")},
        {"path": "regression_metrics.r2.value", "op": ">=", "threshold": 0.5, "value.$": report_value("regression_metrics.r2.value")},
    ]
    missed = found["NotifyGateMissed"]["Parameters"]["Message"]
    assert missed["result"] == "gate-missed" and missed["conditions"] == expected
    assert found["NotifyRegistered"]["Parameters"]["Message"]["conditions"] == expected
    # A failure may come before the report exists: the conditions without values.
    assert found["NotifyFailure"]["Parameters"]["Message"]["conditions"] == [{k: v for k, v in c.items() if k != "value.$"} for c in expected]


@pytest.mark.parametrize(
    ("kwargs", "path", "op", "threshold"),
    [
        ({}, "binary_classification_metrics.auc.value", "NumericGreaterThanEquals", 0.8),
        ({"problem_type": "regression", "metric_name": "mse", "metric_threshold": 6.0, "metric_direction": "minimize"},
         "regression_metrics.mse.value", "NumericLessThanEquals", 6),
        ({"problem_type": "multiclass_classification", "metric_name": "weighted_f1", "metric_threshold": 0.7},
         "multiclass_classification_metrics.weighted_f1.value", "NumericGreaterThanEquals", 0.7),
        # An evaluation image of your own keeps the report format of before: metrics.<metric>.value.
        ({"metric_name": "log_loss", "metric_direction": "minimize", "evaluate_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/evaluate:1"},
         "metrics.log_loss.value", "NumericLessThanEquals", 0.8),
    ],
    ids=["default", "regression-minimize", "multiclass", "own-image"],
)
def test_the_one_metric_props_become_one_condition(kwargs: dict[str, Any], path: str, op: str, threshold: float) -> None:
    _, pipeline = standalone(**kwargs)
    (condition,) = pipeline.gate_conditions
    assert condition.path == path
    _, reached = states(Template.from_stack(pipeline.node.scope).to_json())["MetricGate"]["Choices"]  # type: ignore[arg-type]
    assert reached == {"Variable": report_value(path), op: threshold, "Next": "Register"}


OWN_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/evaluate:1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gate_conditions": []}, r"gate_conditions: must hold 1 to 10 conditions \(got 0\)"),
        ({"gate_conditions": [GateCondition.maximize("binary_classification_metrics.auc.value", 0.8), "auc >= 0.8"]},
         r"gate_conditions\[1\]: must be a GateCondition\(path=..., op=..., threshold=...\) \(got 'auc >= 0.8'\)"),
        ({"gate_conditions": [GateCondition.maximize("binary_classification_metrics..auc", 0.8)], "evaluate_image": OWN_IMAGE},
         r"gate_conditions\[0\].path: must be dot-separated keys of evaluation.json.* \(got 'binary_classification_metrics..auc'\)"),
        ({"gate_conditions": [GateCondition.maximize("$.metrics.auc.value", 0.8)], "evaluate_image": OWN_IMAGE},
         r"gate_conditions\[0\].path: must be dot-separated keys .* \(got '\$.metrics.auc.value'\)"),
        ({"gate_conditions": [GateCondition(path="binary_classification_metrics.auc.value", op="<", threshold=0.8)]},  # type: ignore[arg-type]
         r"gate_conditions\[0\].op: must be '>=' \(at least the threshold\) or '<=' \(at most\) \(got '<'\)"),
        ({"gate_conditions": [GateCondition(path="binary_classification_metrics.auc.value", op=">=", threshold="0.8")]},  # type: ignore[arg-type]
         r"gate_conditions\[0\].threshold: must be a finite number \(got '0.8'\)"),
        ({"gate_conditions": [GateCondition(path="binary_classification_metrics.auc.value", op=">=", threshold=float("nan"))]},
         r"gate_conditions\[0\].threshold: must be a finite number \(got nan\)"),
        ({"gate_conditions": [GateCondition(path="binary_classification_metrics.auc.value", op=">=", threshold=True)]},
         r"gate_conditions\[0\].threshold: must be a finite number \(got True\)"),
        ({"gate_conditions": [GateCondition.minimize("regression_metrics.mse.value", 6.0)]},
         r"gate_conditions\[0\].path: must be a value the bundled evaluation script writes for problem_type binary_classification: "
         r"binary_classification_metrics.auc.value, .*; give evaluate_image for a report of your own \(got 'regression_metrics.mse.value'\)"),
        ({"problem_type": "regression", "gate_conditions": [GateCondition.minimize("regression_metrics.mse.standard_deviation", 1.0)]},
         r"gate_conditions\[0\].path: must be a value the bundled evaluation script writes for problem_type regression"),
        ({"gate_conditions": [GateCondition.maximize("binary_classification_metrics.auc.value", 0.8)], "metric_threshold": 0.9},
         r"gate_conditions: must not be given together with metric_threshold: write that metric as one more GateCondition"),
        ({"problem_type": "ranking"}, r"problem_type: must be one of binary_classification, multiclass_classification, regression \(got 'ranking'\)"),
        ({"metric_threshold": "high"}, r"metric_threshold: must be a finite number \(got 'high'\)"),
    ],
    ids=["empty", "not-a-condition", "empty-key", "jsonpath-syntax", "op", "threshold-string", "threshold-nan", "threshold-bool",
         "path-of-another-problem-type", "standard-deviation-not-written", "both-forms", "problem-type", "legacy-threshold"],
)
def test_bad_gates_are_rejected_naming_the_condition(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=f"^TrainingPipeline: {message}"):
        standalone(**kwargs)


def test_an_own_evaluation_image_may_gate_on_any_path() -> None:
    conditions = [GateCondition.minimize("regression_metrics.mse.standard_deviation", 1.0), GateCondition.maximize("custom.score", 3)]
    _, pipeline = standalone(problem_type="regression", gate_conditions=conditions, evaluate_image=OWN_IMAGE)
    assert pipeline.gate_conditions == tuple(conditions)


def test_trigger_events_that_cannot_start_a_run_go_to_an_alarmed_dead_letter_queue() -> None:
    template = standalone_template(schedule=events.Schedule.rate(Duration.days(1)))
    (queue_id, queue), = resources(template, "AWS::SQS::Queue").items()
    assert "KmsMasterKeyId" in queue["Properties"]
    (rule,) = resources(template, "AWS::Events::Rule").values()
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    for target in (*rule["Properties"]["Targets"], schedule["Properties"]["Target"]):
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    assert set(by_metric) == {"ApproximateNumberOfMessagesVisible", "InvocationsFailedToBeSentToDlq"}
    assert by_metric["ApproximateNumberOfMessagesVisible"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    # The rule's events that could be put neither in the machine nor in the queue (Scheduler counts a schedule's by group).
    (rule_id,) = resources(template, "AWS::Events::Rule")
    assert by_metric["InvocationsFailedToBeSentToDlq"]["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]


def test_the_execution_timeout_counts_the_spot_wait_once(spot: dict[str, Any], plain: dict[str, Any]) -> None:
    hour = 3600
    assert definition(plain)["TimeoutSeconds"] == 24 * hour + 2 * 2 * hour + hour
    assert definition(spot)["TimeoutSeconds"] == 30 * hour + 2 * 2 * hour + hour


def test_execution_data_is_encrypted_with_the_pipelines_own_key(platform: SynthesizedPlatform) -> None:
    """Step Functions keeps execution inputs and outputs (S3 locations, metrics): with the pipeline's key,
    which the machine's role may use only for state machines and their log delivery, and which CloudWatch
    Logs' delivery service may read to write the encrypted execution logs."""
    template = training_template(platform)
    ((machine_id, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    encryption = machine["Properties"]["EncryptionConfiguration"]
    assert encryption["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    key_id = encryption["KmsKeyId"]["Fn::GetAtt"][0]
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = {s.get("Sid"): s for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                  if {"Ref": role_id} in p["Properties"].get("Roles", []) for s in p["Properties"]["PolicyDocument"]["Statement"]}
    data, logs = statements["EncryptExecutionData"], statements["EncryptExecutionLogs"]
    assert sorted(data["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"] and data["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "kms:EncryptionContext:aws:states:stateMachineArn" in data["Condition"]["ArnLike"]
    assert logs["Action"] == "kms:GenerateDataKey" and "kms:EncryptionContext:SourceArn" in logs["Condition"]["ArnLike"]
    key_policy = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    (delivery,) = [s for s in key_policy if s.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}]
    assert delivery["Action"] == "kms:Decrypt" and "aws:SourceAccount" in delivery["Condition"]["StringEquals"]


def test_jobs_may_only_be_created_inside_the_guardrails(platform: SynthesizedPlatform) -> None:
    """The machine's role may create processing and training jobs only in the platform's subnets and
    security group, encrypted with the platform key, isolated, with encrypted inter-container traffic;
    and the jobs the machine asks for meet every one of those conditions."""
    template = training_template(platform)
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [s for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                  if {"Ref": role_id} in p["Properties"].get("Roles", []) for s in p["Properties"]["PolicyDocument"]["Statement"]]
    creating = [s for s in statements if any(a.startswith("sagemaker:Create") and a.endswith("Job") for a in as_list(s["Action"]))]
    (guarded,) = creating
    assert sorted(as_list(guarded["Action"])) == ["sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"]
    condition = guarded["Condition"]
    assert set(condition["Null"]) == {"sagemaker:VpcSubnets", "sagemaker:VpcSecurityGroupIds"}
    assert set(condition["Null"].values()) == {"false"}
    assert condition["Bool"] == {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
    key = condition["ArnEquals"]["sagemaker:VolumeKmsKey"]
    assert condition["ArnEquals"]["sagemaker:OutputKmsKey"] == key
    subnets = condition["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"]
    groups = condition["ForAllValues:StringEquals"]["sagemaker:VpcSecurityGroupIds"]
    # What the state machine sends satisfies the conditions: the same subnets, group and key in every job.
    found = states(template)
    for name in JOBS:
        network = network_of(found[name])
        assert sorted(network["Subnets"]) == sorted(map(placeholder, subnets)), name
        assert network["SecurityGroupIds"] == [placeholder(group) for group in groups], name
    train = found["Train"]["Parameters"]
    used = {train["OutputDataConfig"]["KmsKeyId"], train["ResourceConfig"]["VolumeKmsKeyId"],
            *(found[n]["Parameters"]["ProcessingOutputConfig"]["KmsKeyId"] for n in PROCESSING_JOBS),
            *(found[n]["Parameters"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] for n in PROCESSING_JOBS)}
    assert used == {placeholder(key)}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- drift baseline ---------------------------------------------------------------------------------


def test_preprocessing_writes_the_drift_baseline_next_to_the_run_and_registration_records_it(platform: SynthesizedPlatform) -> None:
    found = states(training_template(platform))
    run = found["Prepare"]["Parameters"]["run"]
    assert run["baseline_uri.$"] == f"States.Format('s3://{ARTIFACT_BUCKET}/churn/{{}}/baseline', States.Hash($$.Execution.Id, 'MD5'))"
    # Beside the splits and the model of the same run.
    assert run["train_uri.$"] == run["baseline_uri.$"].replace("/baseline'", "/splits/train'")
    assert run["model_uri.$"] == run["baseline_uri.$"].replace("/baseline'", "/model'")

    outputs = found["Preprocess"]["Parameters"]["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["train", "validation", "test", "baseline"]
    assert outputs[-1] == {
        "OutputName": "baseline",
        "S3Output": {"S3Uri.$": "$.run.baseline_uri", "LocalPath": "/opt/ml/processing/output/baseline", "S3UploadMode": "EndOfJob"},
    }
    # Only the preprocessing job writes it.
    assert [o["OutputName"] for o in found["Evaluate"]["Parameters"]["ProcessingOutputConfig"]["Outputs"]] == ["evaluation"]

    assert found["Register"]["Parameters"]["CustomerMetadataProperties"] == {f"{DRIFT_BASELINE_KEY}.$": "$.run.baseline_uri"}
    # the drift monitor reads the baseline under the key the registration writes it
    from mlops_constructs.monitoring.drift_monitor import BASELINE_METADATA_KEY

    assert BASELINE_METADATA_KEY == DRIFT_BASELINE_KEY


def test_a_custom_preprocessing_image_gets_the_baseline_output_too(plain: dict[str, Any]) -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/preprocess:1"
    custom = states(standalone_template(preprocess_image=image))["Preprocess"]["Parameters"]
    assert custom["AppSpecification"] == {"ImageUri": image}  # its own entrypoint, no bundled script
    bundled = states(plain)["Preprocess"]["Parameters"]
    assert "ContainerEntrypoint" in bundled["AppSpecification"]
    assert custom["ProcessingOutputConfig"] == bundled["ProcessingOutputConfig"]
    assert "baseline" in [o["OutputName"] for o in custom["ProcessingOutputConfig"]["Outputs"]]


def test_the_job_role_may_write_the_baseline(plain: dict[str, Any]) -> None:
    # The baseline goes under the artifact prefix, which the job role reads and writes.
    job_policy = next(p for lid, p in resources(plain, "AWS::IAM::ManagedPolicy").items() if lid.startswith("PipelineJobPolicy"))
    writes = [s for s in job_policy["Properties"]["PolicyDocument"]["Statement"]
              if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    resources_written = [r for s in writes for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    # Objects under the whole artifact prefix: <prefix><run>/baseline/baseline.csv among them.
    assert sorted(resources_written) == ["arn:aws:s3:::acme-artifacts", "arn:aws:s3:::acme-artifacts/churn/*"]
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in writes)


@pytest.mark.parametrize("prefix", ["churn(v2)/", "churn*/", "it's/"], ids=["parentheses", "asterisk", "quote"])
def test_artifact_prefixes_must_fit_a_model_package_metadata_value(prefix: str) -> None:
    with pytest.raises(PropsError, match=r"TrainingPipeline: artifact_prefix: must use only letters, digits and _ \. - between slashes: .*CustomerMetadataProperties"):
        standalone(artifact_prefix=prefix)


def test_the_baseline_uri_must_fit_256_characters() -> None:
    # s3://acme-artifacts/ is 20 characters, the run suffix and /baseline 41: 195 are left for the prefix.
    longest = "a" * 194 + "/"
    run = states(standalone_template(artifact_prefix=longest))["Prepare"]["Parameters"]["run"]
    assert run["baseline_uri.$"] == f"States.Format('s3://acme-artifacts/{longest}{{}}/baseline', States.Hash($$.Execution.Id, 'MD5'))"
    with pytest.raises(PropsError, match=r"artifact_prefix: must be at most 195 characters with this artifact bucket: each run's drift baseline URI \(257 characters\)"):
        standalone(artifact_prefix="a" * 195 + "/")


def test_an_unresolved_bucket_name_is_assumed_63_characters_long() -> None:
    unresolved = f"artifacts-{cdk.Aws.ACCOUNT_ID}"  # a token until deployment
    _, pipeline = standalone(artifact_prefix="a" * 145 + "/", artifact_bucket_name=unresolved)
    assert pipeline.state_machine is not None
    with pytest.raises(PropsError, match=r"must be at most 146 characters with this artifact bucket: each run's drift baseline URI \(257 characters\)"):
        standalone(artifact_prefix="a" * 146 + "/", artifact_bucket_name=unresolved)


# -- the bundled preprocessing's settings (issue 15) --------------------------------------------------


@functools.cache
def preprocess_script() -> Any:
    """The bundled preprocess.py, loaded once (its Settings compare equal only within one load)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "mlops_constructs" / "training" / "scripts" / "preprocess.py"
    spec = importlib.util.spec_from_file_location("pipeline_test_preprocess", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_default_preprocessing_sets_no_environment(platform: SynthesizedPlatform, plain: dict[str, Any]) -> None:
    # The script's defaults are Preprocessing's: a pipeline that sets nothing keeps its template.
    for template in (plain, training_template(platform), standalone_template(preprocessing=Preprocessing())):
        assert "Environment" not in states(template)["Preprocess"]["Parameters"]
    assert preprocess_script().settings_from({}) == preprocess_script().Settings(
        has_header=Preprocessing().header, label=Preprocessing().label, fractions=Preprocessing().split,
        seed=Preprocessing().seed, categorical=Preprocessing().categorical,
    )


@pytest.mark.parametrize(
    ("settings", "environment"),
    [
        ({"split": (0.7, 0.2, 0.1), "header": True, "label": "rings", "seed": 7, "categorical": "refuse"},
         {"SPLIT_FRACTIONS": "0.7,0.2,0.1", "HAS_HEADER": "true", "LABEL_NAME": "rings", "SPLIT_SEED": "7", "CATEGORICAL": "refuse"}),
        ({"label": -1}, {"LABEL_INDEX": "-1"}),
        ({"split": (0.6, 0.3, 0.1), "seed": 0}, {"SPLIT_FRACTIONS": "0.6,0.3,0.1", "SPLIT_SEED": "0"}),
    ],
    ids=["every-setting", "label-last", "split-and-seed-zero"],
)
def test_preprocessing_settings_become_the_jobs_environment_and_the_script_reads_them_back(settings: dict[str, Any], environment: dict[str, str]) -> None:
    parameters = states(standalone_template(preprocessing=Preprocessing(**settings)))["Preprocess"]["Parameters"]
    assert parameters["Environment"] == environment
    script = preprocess_script()
    expected = {**Preprocessing().__dict__, **settings}
    assert script.settings_from(parameters["Environment"]) == script.Settings(
        has_header=expected["header"], label=expected["label"], fractions=tuple(expected["split"]), seed=expected["seed"],
        categorical=expected["categorical"],
    )


def test_the_platform_passes_a_models_preprocessing_settings(three_model_platform: SynthesizedPlatform) -> None:
    environments = {
        model: states(three_model_platform.templates[f"Dev/Models-1/Training-{model}"])["Preprocess"]["Parameters"].get("Environment")
        for model in ("churn", "fraud", "demand-forecast")
    }
    assert environments == {
        "churn": None,
        "fraud": {"LABEL_INDEX": "-1", "CATEGORICAL": "refuse"},
        "demand-forecast": {"SPLIT_FRACTIONS": "0.7,0.2,0.1", "HAS_HEADER": "true", "LABEL_NAME": "units_sold", "SPLIT_SEED": "7"},
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"split": (0.7, 0.2, 0.2)}, r"TrainingPipeline: preprocessing\.split: must be the fractions of rows for train, validation and test: each above 0, summing to 1 \(within 1e-6\) \(got \(0\.7, 0\.2, 0\.2\)\)"),
        ({"split": (0.9, 0.1, 0.0)}, r"preprocessing\.split: must be the fractions .* \(got \(0\.9, 0\.1, 0\.0\)\)"),
        ({"split": (0.8, 0.2)}, r"preprocessing\.split: must be the fractions"),
        ({"split": (0.8, 0.1, True)}, r"preprocessing\.split: must be the fractions"),
        ({"label": "rings"}, r"preprocessing\.label: names a column, which needs header: true; without a header row give the label's 0-based index \(-1 for the last column\) \(got 'rings'\)"),
        ({"label": "", "header": True}, r"preprocessing\.label: must be a column name of 1 to 256 characters"),
        ({"label": "x" * 257, "header": True}, r"preprocessing\.label: must be a column name of 1 to 256 characters"),
        ({"label": 1.0}, r"preprocessing\.label: must be a 0-based column index"),
        ({"seed": -1}, r"preprocessing\.seed: must be an integer from 0 to 4294967295 \(got -1\)"),
        ({"seed": 2**32}, r"preprocessing\.seed: must be an integer from 0 to 4294967295"),
        ({"header": "true"}, r"preprocessing\.header: must be true or false \(got 'true'\)"),
        ({"categorical": "ordinal"}, r"preprocessing\.categorical: must be 'one_hot' or 'refuse' \(got 'ordinal'\)"),
    ],
)
def test_bad_preprocessing_settings_are_rejected(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(preprocessing=Preprocessing(**settings))


def test_fractions_within_a_millionth_of_one_are_accepted() -> None:
    parameters = states(standalone_template(preprocessing=Preprocessing(split=(0.7, 0.2, 0.1000005))))["Preprocess"]["Parameters"]
    assert parameters["Environment"] == {"SPLIT_FRACTIONS": "0.7,0.2,0.1000005"}
    with pytest.raises(PropsError, match=r"preprocessing\.split"):
        standalone(preprocessing=Preprocessing(split=(0.7, 0.2, 0.100002)))


def test_preprocessing_settings_need_the_bundled_script() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/preprocess:1"
    with pytest.raises(PropsError, match=r"TrainingPipeline: preprocessing: applies to the bundled preprocessing script only; preprocess_image's own entrypoint"):
        standalone(preprocess_image=image, preprocessing=Preprocessing(header=True))


# -- the resource model (issue 17): grants, metrics, import, IGrantable, IConnectable -----------------


def machine_id(template: dict[str, Any]) -> str:
    (found,) = resources(template, "AWS::StepFunctions::StateMachine")
    return found


def key_id(template: dict[str, Any]) -> str:
    (found,) = resources(template, "AWS::KMS::Key")
    return found


def inline_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    """The statements of the inline policies of the role whose logical id starts with ``role_prefix``."""
    return [s for p in resources(template, "AWS::IAM::Policy").values()
            if any(r["Ref"].startswith(role_prefix) for r in p["Properties"]["Roles"]) for s in p["Properties"]["PolicyDocument"]["Statement"]]


def managed_statements(template: dict[str, Any], policy_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [p for logical_id, p in resources(template, "AWS::IAM::ManagedPolicy").items() if logical_id.startswith(policy_prefix)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_grant_start_execution_lets_start_this_machine_and_encrypt_the_runs_input() -> None:
    from aws_cdk import aws_iam as iam

    holder: dict[str, Any] = {}
    stack, pipeline = standalone(extra=lambda s: holder.update(role=iam.Role(s, "Caller", assumed_by=iam.AccountRootPrincipal())) or {})
    grant = pipeline.grant_start_execution(holder["role"])
    assert grant.success
    template = Template.from_stack(stack).to_json()
    machine = {"Ref": machine_id(template)}
    assert inline_statements(template, "Caller") == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": machine},
        {"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": {"Fn::GetAtt": [key_id(template), "Arn"]},
         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine}}},
    ]
    with pytest.raises(PropsError, match=r"^TrainingPipeline: grantee: must be an iam.IGrantable \(got 'arn:aws:iam::222222222222:role/x'\)"):
        pipeline.grant_start_execution("arn:aws:iam::222222222222:role/x")  # type: ignore[arg-type]


def test_metrics_are_the_state_machines_with_their_defaults_and_overrides() -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    stack, pipeline = standalone()
    expected = {"metric_started": ("ExecutionsStarted", "Sum"), "metric_succeeded": ("ExecutionsSucceeded", "Sum"),
                "metric_failed": ("ExecutionsFailed", "Sum"), "metric_time": ("ExecutionTime", "Average")}
    for method, (metric_name, statistic) in expected.items():
        metric = getattr(pipeline, method)()
        assert (metric.namespace, metric.metric_name, metric.statistic, metric.period.to_minutes()) == ("AWS/States", metric_name, statistic, 5), method
    hourly = pipeline.metric_failed(period=Duration.hours(1), statistic="Maximum")
    assert (hourly.period.to_minutes(), hourly.statistic) == (60, "Maximum")
    # an alarm on it watches this machine
    cloudwatch.Alarm(stack, "RunsFail", metric=pipeline.metric_failed(), threshold=1, evaluation_periods=1,
                     comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "Namespace": "AWS/States", "MetricName": "ExecutionsFailed", "Statistic": "Sum", "Period": 300,
        "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine_id(template.to_json())}}],
    })


STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:333333333333:stateMachine:churn-training"


def test_an_imported_pipeline_grants_starts_and_has_the_metrics() -> None:
    from aws_cdk import aws_iam as iam

    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Consumer", env=cdk.Environment(account=ACCOUNT, region=REGION))
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    other_key_arn = "arn:aws:kms:eu-west-1:333333333333:key/99999999-2222-3333-4444-555555555555"
    by_arn = TrainingPipeline.from_state_machine_arn(stack, "ByArn", STATE_MACHINE_ARN)
    with_key = TrainingPipeline.from_training_pipeline_attributes(stack, "WithKey", state_machine_arn=STATE_MACHINE_ARN,
                                                                  key=kms.Key.from_key_arn(stack, "OtherKey", other_key_arn))
    assert by_arn.key is None and by_arn.state_machine.state_machine_arn == STATE_MACHINE_ARN
    by_arn.grant_start_execution(role)
    with_key.grant_start_execution(role)
    assert inline_statements(Template.from_stack(stack).to_json(), "Caller") == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": STATE_MACHINE_ARN},
        {"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": other_key_arn,
         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": STATE_MACHINE_ARN}}},
    ]
    metric = with_key.metric_failed()
    assert (metric.metric_name, metric.dimensions) == ("ExecutionsFailed", {"StateMachineArn": STATE_MACHINE_ARN})


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"state_machine_arn": "churn-training"}, r"state_machine_arn: must be a state machine ARN, arn:<partition>:states:.* \(got 'churn-training'\)"),
        ({"state_machine_arn": STATE_MACHINE_ARN.replace("stateMachine", "activity")}, r"state_machine_arn: must be a state machine ARN"),
        ({"state_machine_arn": STATE_MACHINE_ARN, "key": KEY_ARN}, r"key: must be a kms.IKey \(got 'arn:aws:kms:"),
    ],
    ids=["name", "activity", "key-arn"],
)
def test_an_import_needs_a_state_machine_arn_and_a_key(attributes: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Consumer")
    with pytest.raises(PropsError, match=f"^TrainingPipeline: {message}"):
        TrainingPipeline.from_training_pipeline_attributes(stack, "Imported", **attributes)


def test_an_imported_arn_may_be_a_token() -> None:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Consumer")
    arn = cdk.Fn.import_value("churn-training-machine")
    imported = TrainingPipeline.from_state_machine_arn(stack, "Imported", arn)
    assert stack.resolve(imported.state_machine.state_machine_arn) == {"Fn::ImportValue": "churn-training-machine"}


def test_a_grant_to_the_pipeline_is_a_grant_to_its_jobs_in_the_job_policy() -> None:
    from aws_cdk import aws_iam as iam

    stack, pipeline = standalone()
    assert pipeline.grant_principal is pipeline.job_role
    s3.Bucket.from_bucket_name(stack, "Reference", "acme-reference-data").grant_read(pipeline)
    result = pipeline.add_to_role_policy(iam.PolicyStatement(sid="SendResults", actions=["sqs:SendMessage"],
                                                             resources=[f"arn:aws:sqs:{REGION}:{ACCOUNT}:results"]))
    assert result.statement_added and result.policy_dependable is pipeline.job_policy
    pipeline.job_role.add_to_policy(iam.PolicyStatement(sid="ReadParameter", actions=["ssm:GetParameter"],
                                                        resources=[f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/churn"]))
    template = Template.from_stack(stack).to_json()
    assert resources(template, "AWS::IAM::Policy") == {}  # no inline policy: all in the job's managed policy
    statements = managed_statements(template, "PipelineJobPolicy")
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["SendResults"] == {"Sid": "SendResults", "Action": "sqs:SendMessage", "Effect": "Allow", "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:results"}
    assert by_sid["ReadParameter"]["Resource"] == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/churn"
    reads = [s for s in statements if s["Action"] == ["s3:GetBucket*", "s3:GetObject*", "s3:List*"]]
    assert [r for s in reads for r in s["Resource"]].count("arn:aws:s3:::acme-reference-data/*") == 1
    with pytest.raises(PropsError, match=r"^TrainingPipeline: statement: must be PolicyStatement \(got \{'Effect': 'Allow'\}\)"):
        pipeline.add_to_role_policy({"Effect": "Allow"})  # type: ignore[arg-type]


def test_the_pipeline_connects_through_the_jobs_security_group() -> None:
    holder: dict[str, Any] = {}

    def database(stack: cdk.Stack) -> dict[str, Any]:
        holder["db"] = ec2.SecurityGroup.from_security_group_id(stack, "Database", "sg-0123456789abcdef1", allow_all_outbound=False)
        return {}

    stack, pipeline = standalone(extra=database)
    assert pipeline.connections.security_groups == [pipeline.security_group]
    pipeline.connections.allow_to(holder["db"], ec2.Port.tcp(5432), "The jobs read the feature database")
    template = Template.from_stack(stack).to_json()
    group_id, _ = one(template, "AWS::EC2::SecurityGroup")
    (egress,) = (r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupEgress").values())
    assert egress == {"GroupId": {"Fn::GetAtt": [group_id, "GroupId"]}, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                      "DestinationSecurityGroupId": "sg-0123456789abcdef1", "Description": "The jobs read the feature database"}


def public_attributes(pipeline: TrainingPipeline) -> dict[str, Any]:
    names = ("gate_conditions", "model_name", "model_package_group_name", "source_code", "security_group", "job_role", "job_policy",
             "key", "notification_topic", "state_machine_role", "state_machine_policy", "execution_policy", "tuning_policy",
             "extension_policy", "state_machine", "trigger_patterns", "trigger_dead_letter_queue", "trigger_rule", "trigger_schedule",
             "grant_principal", "connections")
    return {name: getattr(pipeline, name) for name in names}


def test_every_public_attribute_exists_on_every_path() -> None:
    from mlops_constructs.training import ContinuousRange, Tuning, TuningObjective

    tuning = Tuning(objective=TuningObjective(metric="validation:auc", type="Maximize"), ranges={"eta": ContinuousRange(min=0.1, max=0.5)})
    plain, tuned, untriggered = (public_attributes(standalone(**kwargs)[1]) for kwargs in (
        {}, {"tuning": tuning}, {"trigger_on_retrain_event": False, "preprocess_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/p:1"}))
    optional = {"source_code", "tuning_policy", "extension_policy", "trigger_dead_letter_queue", "trigger_rule", "trigger_schedule"}
    for attributes in (plain, tuned, untriggered):
        assert {name for name, value in attributes.items() if value is None} <= optional
    assert (plain["tuning_policy"], tuned["tuning_policy"] is not None) == (None, True)
    assert (untriggered["trigger_rule"], untriggered["trigger_dead_letter_queue"], untriggered["trigger_patterns"]) == (None, None, {})
    assert plain["trigger_rule"] is not None and plain["trigger_schedule"] is None and plain["extension_policy"] is None


# -- extension points: states before and after the steps ------------------------------------------------


def passing(stack: cdk.Stack, name: str = "Audit") -> Any:
    from aws_cdk import aws_stepfunctions as sfn

    return sfn.Pass(stack, name, comment="A state of the user's own", result_path=sfn.JsonPath.DISCARD)


def test_a_state_before_train_runs_between_preprocessing_and_training() -> None:
    stack, _ = standalone(extra=lambda s: {"before_step": {"train": passing(s)}})
    template = Template.from_stack(stack)
    # the user's state, as written, leads to the training job
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {"DefinitionString": {"Fn::Join": ["", Match.array_with([
        Match.string_like_regexp(r'"Audit":\{"Type":"Pass","Comment":"A state of the user\'s own","ResultPath":null,"Next":"Train"\}'),
    ])]}})
    machine = definition(template.to_json())
    assert main_path(machine) == ["Prepare", "Preprocess", "Audit", "Train", "Evaluate", "ReadEvaluation", "MetricGate"]
    assert machine["States"]["Audit"] == {"Type": "Pass", "Comment": "A state of the user's own", "ResultPath": None, "Next": "Train"}
    # no task: nothing to grant, the template has no extension policy
    assert not [k for k in resources(template.to_json(), "AWS::IAM::ManagedPolicy") if k.startswith("PipelineExtensionPolicy")]


@pytest.mark.parametrize(
    ("where", "step", "previous", "following"),
    [
        ("before_step", "preprocess", "Prepare", "Preprocess"),
        ("after_step", "preprocess", "Preprocess", "Train"),
        ("after_step", "train", "Train", "Evaluate"),
        ("before_step", "evaluate", "Train", "Evaluate"),
        ("after_step", "evaluate", "Evaluate", "ReadEvaluation"),
        ("after_step", "register", "Register", "NotifyRegistered"),
    ],
)
def test_a_state_goes_where_its_step_says(where: str, step: str, previous: str, following: str) -> None:
    stack, _ = standalone(extra=lambda s: {where: {step: passing(s)}})
    found = states(Template.from_stack(stack).to_json())
    assert found[previous]["Next"] == "Audit" and found["Audit"]["Next"] == following


def test_a_state_before_register_runs_only_when_the_gate_passes() -> None:
    stack, _ = standalone(extra=lambda s: {"before_step": {"register": passing(s)}})
    found = states(Template.from_stack(stack).to_json())
    _, reached = found["MetricGate"]["Choices"]
    assert reached["Next"] == "Audit" and found["Audit"]["Next"] == "Register"
    assert found["MetricGate"]["Default"] == "NotifyGateMissed"


def test_with_tuning_the_step_is_tune() -> None:
    from mlops_constructs.training import ContinuousRange, Tuning, TuningObjective

    tuning = Tuning(objective=TuningObjective(metric="validation:auc", type="Maximize"), ranges={"eta": ContinuousRange(min=0.1, max=0.5)})
    stack, _ = standalone(tuning=tuning, extra=lambda s: {"before_step": {"tune": passing(s, "Before")}, "after_step": {"tune": passing(s, "After")}})
    path = main_path(definition(Template.from_stack(stack).to_json()))
    assert path[1:10] == ["Preprocess", "Before", "NameTuningJob", "Tune", "HasBestTrainingJob", "BestTrainingJob", "DescribeBestTrainingJob",
                          "After", "Evaluate"]
    with pytest.raises(PropsError, match=r"^TrainingPipeline: before_step: must be one of preprocess, tune, evaluate, register: the step "
                                         r"that trains is tune with tuning \(got 'train'\)"):
        standalone(tuning=tuning, extra=lambda s: {"before_step": {"train": passing(s)}})
    with pytest.raises(PropsError, match=r"after_step: must be one of preprocess, train, evaluate, register: the step that trains is "
                                         r"train without tuning \(got 'tune'\)"):
        standalone(extra=lambda s: {"after_step": {"tune": passing(s)}})


def test_a_task_of_the_users_is_caught_like_the_steps_and_granted_in_its_own_policy() -> None:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_stepfunctions as sfn
    from aws_cdk import aws_stepfunctions_tasks as tasks

    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:check-data"

    def extensions(stack: cdk.Stack) -> dict[str, Any]:
        check = lambda_.Function.from_function_arn(stack, "Check", function_arn)
        own_catch = tasks.LambdaInvoke(stack, "Announce", lambda_function=check, result_path=sfn.JsonPath.DISCARD)
        own_catch.add_catch(sfn.Pass(stack, "Ignore"), errors=["States.ALL"])
        return {"before_step": {"train": tasks.LambdaInvoke(stack, "CheckData", lambda_function=check, result_path="$.check")},
                "after_step": {"register": own_catch}}

    stack, pipeline = standalone(extra=extensions)
    template = Template.from_stack(stack).to_json()
    found = states(template)
    assert found["CheckData"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}]
    assert found["Announce"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "Ignore"}]  # its own catch, kept
    assert found["Announce"]["Next"] == "NotifyRegistered" and found["Ignore"].get("End") is True  # the user's own error path
    assert pipeline.extension_policy is not None
    (extension_id,) = [k for k in resources(template, "AWS::IAM::ManagedPolicy") if k.startswith("PipelineExtensionPolicy")]
    invoke = {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": [function_arn, f"{function_arn}:*"]}
    assert managed_statements(template, "PipelineExtensionPolicy") == [invoke]  # CDK's grant of each task, merged
    machine = template["Resources"][machine_id(template)]
    assert extension_id in machine["DependsOn"]
    assert template["Resources"][extension_id]["Properties"]["Roles"] == [{"Ref": machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]}]


def test_a_tasks_wildcard_stays_under_the_compliance_packs(tmp_path: Any) -> None:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_stepfunctions_tasks as tasks

    from mlops_constructs import acknowledge, add_compliance_checks
    from mlops_constructs.compliance import open_findings, read_report

    def extensions(stack: cdk.Stack) -> dict[str, Any]:
        check = lambda_.Function.from_function_arn(stack, "Check", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:check-data")
        return {"before_step": {"train": tasks.LambdaInvoke(stack, "CheckData", lambda_function=check, result_path="$.check")}}

    def synthesized(outdir: Any, acknowledged: bool) -> list[str]:
        app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
        _, pipeline = standalone(app=app, extra=extensions)
        if acknowledged:
            assert pipeline.extension_policy is not None
            acknowledge(pipeline.extension_policy, f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:lambda:{REGION}:{ACCOUNT}:function:check-data:*]",
                        "Any version of the team's own check function.")
        add_compliance_checks(app, guard=False)
        try:
            app.synth()
        except RuntimeError as err:
            assert "ValidationFailed" in str(err)
        return open_findings(read_report(outdir))

    findings = synthesized(tmp_path / "open", acknowledged=False)
    assert len(findings) == 1 and "AwsSolutions-IAM5" in findings[0] and findings[0].split(" at ")[1].startswith("Test/Pipeline/ExtensionPolicy")
    assert synthesized(tmp_path / "acknowledged", acknowledged=True) == []


def test_the_pipeline_with_every_extension_passes_every_compliance_pack(tmp_path: Any) -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
    from aws_cdk import aws_iam as iam

    from mlops_constructs import add_compliance_checks
    from mlops_constructs.compliance import open_findings, read_report

    app = cdk.App(context=CDK_CONTEXT, outdir=str(tmp_path))
    stack, pipeline = standalone(app=app, extra=lambda s: {"before_step": {"train": passing(s)}, "after_step": {"evaluate": passing(s, "After")}})
    caller = iam.ManagedPolicy(stack, "CallerPolicy", roles=[iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())])
    pipeline.grant_start_execution(caller)
    pipeline.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[f"arn:aws:sqs:{REGION}:{ACCOUNT}:results"]))
    alarm = cloudwatch.Alarm(stack, "Failures", metric=pipeline.metric_failed(), threshold=1, evaluation_periods=1)
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(pipeline.notification_topic))
    pipeline.add_retrain_alarm(alarm)
    add_compliance_checks(app, guard=False)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: {"before_step": {"training": passing(s)}},
         r"before_step: must be one of preprocess, train, evaluate, register \(got 'training'\)"),
        (lambda s: {"after_step": [passing(s)]}, r"after_step: must map step names \(preprocess, train, evaluate, register\) to states"),
        (lambda s: {"before_step": {"train": "Audit"}}, r"before_step.train: must be a state or a chain of states \(sfn.IChainable\) \(got 'Audit'\)"),
        (lambda s: {"after_step": {"evaluate": _sfn().Succeed(s, "Done")}},
         r"after_step.evaluate: must end in a state the pipeline can continue from, not in Succeed or Fail .* \(got 'Done'\)"),
        (lambda s: {"before_step": {"register": _sfn().Chain.start(passing(s)).next(_sfn().Fail(s, "Stop"))}},
         r"before_step.register: must end in a state the pipeline can continue from"),
        (lambda s: {"before_step": {"evaluate": _sfn().Choice(s, "Which").when(_sfn().Condition.is_present("$.x"), passing(s)).otherwise(passing(s, "B"))}},
         r"before_step.evaluate: must end in a state the pipeline can continue from, .*\(a Choice continues after .afterwards\(\)\)"),
        (lambda s: {"before_step": {"train": _sfn().Parallel(s, "Both").branch(passing(s))}},
         r"before_step.train: must not hold a Parallel or Map state: .* \(got 'Both'\)"),
        (lambda s: (lambda state: {"before_step": {"train": state}, "after_step": {"train": state}})(passing(s)),
         r"after_step.train: is also before_step.train: a state runs in one place"),
    ],
    ids=["unknown-step", "not-a-mapping", "not-a-state", "succeed", "ends-in-fail", "choice-without-afterwards", "parallel", "twice"],
)
def test_bad_extensions_are_refused_naming_the_step(make: Callable[[cdk.Stack], dict[str, Any]], message: str) -> None:
    with pytest.raises(PropsError, match=f"^TrainingPipeline: {message}"):
        standalone(extra=make)


def _sfn() -> Any:
    from aws_cdk import aws_stepfunctions as sfn

    return sfn


def test_a_choice_continues_after_afterwards() -> None:
    sfn = _sfn()

    def extensions(stack: cdk.Stack) -> dict[str, Any]:
        choice = sfn.Choice(stack, "Which").when(sfn.Condition.is_present("$.skip"), passing(stack, "Skip")).otherwise(passing(stack, "Go"))
        return {"after_step": {"preprocess": choice.afterwards()}}

    stack, _ = standalone(extra=extensions)
    found = states(Template.from_stack(stack).to_json())
    assert found["Preprocess"]["Next"] == "Which" and found["Skip"]["Next"] == found["Go"]["Next"] == "Train"


# -- retraining on an alarm ---------------------------------------------------------------------------


def test_add_retrain_alarm_adds_an_alternative_to_the_rule() -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    stack, pipeline = standalone()
    alarm = cloudwatch.Alarm.from_alarm_arn(stack, "Drift", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:acme-prod-churn-drift")
    pipeline.add_retrain_alarm(alarm)
    template = Template.from_stack(stack).to_json()
    rule = trigger_rule(template)
    assert rule["EventPattern"] == {"$or": [
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
         "detail": {"alarmName": ["acme-prod-churn-drift"], "state": {"value": ["ALARM"]}}},
        DEFAULT_PATTERNS[2],
    ]}
    assert rule["Description"] == "Starts a training run of churn on: DriftAlarm, RetrainRequested"
    assert list(pipeline.trigger_patterns) == ["DriftAlarm", "RetrainRequested"]
    with pytest.raises(PropsError, match=r"^TrainingPipeline: alarm: must be a cloudwatch.IAlarm \(got 'acme-prod-churn-drift'\)"):
        pipeline.add_retrain_alarm("acme-prod-churn-drift")  # type: ignore[arg-type]


def test_add_retrain_alarm_on_a_pipeline_without_event_triggers_makes_the_rule() -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    for kwargs in ({"trigger_on_retrain_event": False}, {"trigger_on_retrain_event": False, "schedule": events.Schedule.rate(Duration.days(7))}):
        stack, pipeline = standalone(**kwargs)
        alarm = cloudwatch.Alarm(stack, "Drift", metric=pipeline.metric_failed(), threshold=1, evaluation_periods=1)
        pipeline.add_retrain_alarm(alarm)
        template = Template.from_stack(stack).to_json()
        (alarm_id,) = resources(template, "AWS::CloudWatch::Alarm").keys() - {k for k in template["Resources"] if k.startswith("Pipeline")}
        rule = trigger_rule(template)
        assert rule["EventPattern"]["detail"]["alarmName"] == [{"Ref": alarm_id}]
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": machine_id(template)}
        role = template["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        trust = role["AssumeRolePolicyDocument"]["Statement"]
        services = [service for s in trust for service in (s["Principal"]["Service"] if isinstance(s["Principal"]["Service"], list) else [s["Principal"]["Service"]])]
        assert sorted(services) == ["events.amazonaws.com", *(["scheduler.amazonaws.com"] if "schedule" in kwargs else [])]
        assert all(s["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}} for s in trust)
        (queue_id,) = resources(template, "AWS::SQS::Queue")
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert (pipeline.trigger_schedule is not None) == ("schedule" in kwargs)


# -- images: a URI, a ContainerImage or an image asset (issue 17) ----------------------------------------


def job_pulls(template: dict[str, Any]) -> dict[str, Any] | None:
    return {s["Sid"]: s for s in managed_statements(template, "PipelineJobPolicy") if s.get("Sid") in ("PullImages", "EcrLogin")} or None


def test_an_image_of_a_repository_is_pulled_with_the_job_role() -> None:
    from aws_cdk import aws_ecr as ecr

    from mlops_constructs.container_image import ContainerImage

    stack, _ = standalone(extra=lambda s: {"training_image": ContainerImage.from_ecr_repository(ecr.Repository(s, "Trainer"), "1.4.2")})
    template = Template.from_stack(stack).to_json()
    (repository_id,) = resources(template, "AWS::ECR::Repository")
    pulls = job_pulls(template)
    assert pulls == {
        "PullImages": {"Sid": "PullImages", "Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                       "Resource": {"Fn::GetAtt": [repository_id, "Arn"]}},
        "EcrLogin": {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    }
    found = states(template)
    uri = found["Train"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"]
    assert uri == f"<REF>.dkr.ecr.<REF>.<Ref AWS::URLSuffix>/<Ref {repository_id}>:1.4.2"
    # the evaluation (bundled: in the training image) and the registered model use it too
    assert found["Evaluate"]["Parameters"]["AppSpecification"]["ImageUri"] == uri
    assert found["Register"]["Parameters"]["InferenceSpecification"]["Containers"][0]["Image"] == uri


def test_a_repositorys_uri_token_is_accepted_as_a_uri() -> None:
    from aws_cdk import aws_ecr as ecr

    holder: dict[str, Any] = {}

    def token_uri(stack: cdk.Stack) -> dict[str, Any]:
        holder["uri"] = ecr.Repository(stack, "Trainer").repository_uri_for_tag("7")
        return {"training_image": holder["uri"]}

    stack, _ = standalone(extra=token_uri)
    template = Template.from_stack(stack).to_json()
    assert states(template)["Train"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"].endswith(":7")
    assert job_pulls(template) is None  # by URI, unknown until deployment: ContainerImage.from_ecr_repository grants the pull


@pytest.mark.parametrize(
    ("image", "pulled"),
    [
        (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme/churn-trainer:2", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/acme/churn-trainer"),
        (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/churn-trainer@sha256:{'a' * 64}", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/churn-trainer"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-trainer:2", None),  # another account's: its own policy lets us pull
    ],
    ids=["own-account", "own-account-digest", "other-account"],
)
def test_an_image_by_uri_in_the_stacks_own_account_is_pulled(image: str, pulled: str | None) -> None:
    pulls = job_pulls(standalone_template(evaluate_image=image, metric_name="auc"))
    assert (pulls["PullImages"]["Resource"] if pulls else None) == pulled


def test_an_image_asset_and_a_script_steps_repository_image_are_pulled_once_each(tmp_path: Any) -> None:
    from pathlib import Path

    from aws_cdk import aws_ecr as ecr
    from aws_cdk import aws_ecr_assets as ecr_assets

    from mlops_constructs.container_image import ContainerImage
    from mlops_constructs.training import ScriptStep, source_archive

    docker = Path(__file__).resolve().parent.parent / "examples" / "byo_regression" / "docker"

    def images(stack: cdk.Stack) -> dict[str, Any]:
        asset = ecr_assets.DockerImageAsset(stack, "Evaluator", directory=str(docker), platform=ecr_assets.Platform.LINUX_AMD64)
        trainer = ContainerImage.from_ecr_repository(ecr.Repository(stack, "Trainer"), "3")
        return {"evaluate_image": asset, "training_image": trainer, "source_code": source_archive(stack, "Code", str(tmp_path)),
                "train_script": ScriptStep(entry_point="train.py", image=trainer)}

    (tmp_path / "train.py").write_text("print('train')\n")
    stack, _ = standalone(extra=images)
    template = Template.from_stack(stack).to_json()
    (repository_id,) = resources(template, "AWS::ECR::Repository")
    pulled = job_pulls(template)["PullImages"]["Resource"]  # type: ignore[index]
    # the training image and the train script's, one repository; and the CDK assets repository the image asset is published to
    assert sorted(pulled, key=json.dumps) == [
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}", {"Fn::GetAtt": [repository_id, "Arn"]},
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"training_image": 3}, r"training_image: must be a ContainerImage, an ecr_assets.DockerImageAsset or an ECR image URI \(got 3\)"),
        ({"processing_image": "python:3.11"}, r"processing_image: must be an ECR image URI"),
        ({"evaluate_image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/evaluate"}, r"evaluate_image: must name a tag .* or a digest"),
        ({"training_instance_count": "2"}, r"training_instance_count: must be an integer \(got '2'\)"),
        ({"training_instance_count": 0}, r"training_instance_count: must be from 1 to 100 \(got 0\)"),
        ({"training_volume_size_gb": 50.5}, r"training_volume_size_gb: must be an integer \(got 50.5\)"),
        ({"processing_volume_size_gb": 20000}, r"processing_volume_size_gb: must be from 1 to 16384 GiB \(got 20000\)"),
        ({"max_training_runtime": 3600}, r"max_training_runtime: must be Duration \(got 3600\)"),
        ({"spot_max_wait": "30h"}, r"spot_max_wait: must be Duration \(or None\) \(got '30h'\)"),
        # SageMaker's limits: 28 days of training, 777,600 s (9 days) of processing
        ({"max_training_runtime": Duration.days(29)}, r"max_training_runtime: must be from 1 second to 28 days \(got '29 days'\)"),
        ({"max_processing_runtime": Duration.seconds(777_601)}, r"max_processing_runtime: must be from 1 second to 9 days \(got '9 days 1 second'\)"),
        ({"training_instance_type": "ml.p6-b200.48xlarge"}, r"training_instance_type: must be an instance type without local \(NVMe\) instance storage"),
        ({"training_instance_type": None}, r"training_instance_type: must be a string \(got None\)"),
        # it is the registered package's SupportedResponseMIMETypes too: CreateModelPackage refuses one without a slash
        ({"content_type": "csv"}, r"content_type: must be a media type like text/csv, at most 256 characters \(got 'csv'\)"),
        ({"vpc": "vpc-0123456789abcdef0"}, r"vpc: must be an ec2.IVpc \(got 'vpc-0123456789abcdef0'\)"),
        ({"encryption_key": KEY_ARN}, r"encryption_key: must be a kms.IKey \(got 'arn:aws:kms:"),
        ({"data_bucket": "acme-data"}, r"data_bucket: must be an s3.IBucket \(got 'acme-data'\)"),
        ({"hyperparameters": {"num_round": 200}}, r"hyperparameters.num_round: must be a string \(got 200\)"),
        ({"hyperparameters": [("num_round", "200")]}, r"hyperparameters: must map hyperparameter names to strings"),
        ({"retrain_alarm_names": "acme-prod-churn-drift"}, r"retrain_alarm_names: must be a list of alarm names \(got 'acme-prod-churn-drift'\)"),
        ({"trigger_on_new_data": "yes"}, r"trigger_on_new_data: must be true or false \(got 'yes'\)"),
        ({"log_retention": 365}, r"log_retention: must be RetentionDays \(got 365\)"),
    ],
    ids=["image-number", "image-docker-hub", "image-without-tag", "count-string", "count-zero", "volume-float", "volume-too-big", "runtime-seconds",
         "spot-string", "training-runtime-over-28-days", "processing-runtime-over-9-days", "instance-type-with-nvme", "instance-type-none", "content-type-not-a-media-type", "vpc-id", "key-arn", "bucket-name", "hyperparameter-number", "hyperparameters-list", "alarm-names-string",
         "flag-string", "retention-days"],
)
def test_props_of_the_wrong_type_are_refused_naming_the_prop(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=f"^TrainingPipeline: {message}"):
        standalone(**kwargs)


def test_a_token_instance_count_is_taken_and_lets_the_instances_talk() -> None:
    count = cdk.Token.as_number(cdk.Fn.import_value("churn-training-instances"))
    stack, _ = standalone(training_instance_count=count)
    template = Template.from_stack(stack).to_json()
    _, machine = one(template, "AWS::StepFunctions::StateMachine")
    parts = machine["DefinitionString"]["Fn::Join"][1]
    at = parts.index({"Fn::ImportValue": "churn-training-instances"})  # the count, known at deployment
    assert parts[at - 1].endswith('"ResourceConfig":{"InstanceCount":')
    (ingress,) = resources(template, "AWS::EC2::SecurityGroupIngress").values()  # it may be more than one
    assert ingress["Properties"]["IpProtocol"] == "-1"


def test_what_is_granted_to_the_state_machine_after_construction_lands_in_its_managed_policy() -> None:
    # The machine's role took CDK's own per-task grants out while it was built (the construct's policies are
    # complete); what a team grants the machine afterwards must not be dropped.
    stack, pipeline = standalone()
    pipeline.state_machine.add_to_role_policy(iam.PolicyStatement(
        sid="ReadTeamParameter", actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:111111111111:parameter/team/x"]))
    s3.Bucket.from_bucket_name(stack, "TeamBucket", "team-bucket").grant_read(pipeline.state_machine)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Policy", 0)
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Roles": [{"Ref": stack.get_logical_id(pipeline.state_machine_role.node.default_child)}],
        "Description": Match.string_like_regexp("^Training pipeline of churn: jobs"),
        "PolicyDocument": {"Statement": Match.array_with([
            {"Sid": "ReadTeamParameter", "Action": "ssm:GetParameter", "Effect": "Allow", "Resource": "arn:aws:ssm:eu-west-1:111111111111:parameter/team/x"},
            Match.object_like({"Action": Match.array_with(["s3:GetObject*"]), "Resource": Match.array_with(["arn:aws:s3:::team-bucket"])}),
        ])},
    })


def test_a_tuning_job_without_a_best_training_job_is_notified_not_a_runtime_error() -> None:
    # BestTrainingJob is optional in DescribeHyperParameterTuningJob's output: a path to it in Tune's ResultSelector
    # would be a States.Runtime error, which no Catch handles; a Choice sends it to the failure notification instead
    from mlops_constructs.training import ContinuousRange, Tuning, TuningObjective

    tuning = Tuning(objective=TuningObjective(metric="validation:auc", type="Maximize"), ranges={"eta": ContinuousRange(min=0.1, max=0.5)})
    stack, _ = standalone(tuning=tuning)
    states = definition(Template.from_stack(stack).to_json())["States"]
    assert states["Tune"]["ResultSelector"] == {"job.$": "$"}
    choice = states["HasBestTrainingJob"]
    assert choice["Choices"] == [{"Variable": "$.tune.job.BestTrainingJob.TrainingJobName", "IsPresent": True, "Next": "BestTrainingJob"}]
    assert states[choice["Default"]]["Next"] == "NotifyFailure"
    assert states[choice["Default"]]["Parameters"]["Error"] == "NoBestTrainingJob"
    assert states["BestTrainingJob"]["Next"] == "DescribeBestTrainingJob"


def _machine_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The statements of the state machine role's policies, by Sid."""
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    role = {"Ref": machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]}
    return {s.get("Sid"): s for p in resources(template, "AWS::IAM::ManagedPolicy").values()
            if role in p["Properties"].get("Roles", []) for s in p["Properties"]["PolicyDocument"]["Statement"]}


def test_notifications_are_encrypted_with_the_key_of_the_topic_they_go_to(plain: dict[str, Any]) -> None:
    # the topic the pipeline creates: its own key
    ((topic_id, topic),) = resources(plain, "AWS::SNS::Topic").items()
    statements = _machine_statements(plain)
    assert statements["Notify"]["Resource"] == {"Ref": topic_id}
    assert statements["EncryptNotifications"]["Resource"] == topic["Properties"]["KmsMasterKeyId"]
    # a topic of the caller's, encrypted with a key of its own: that key (SNS encrypts with it on the publisher's behalf)
    other_key = "arn:aws:kms:eu-west-1:111111111111:key/99999999-9999-9999-9999-999999999999"
    template = standalone_template(extra=lambda stack: {"notification_topic": sns.Topic(
        stack, "Theirs", master_key=kms.Key.from_key_arn(stack, "TheirKey", other_key), enforce_ssl=True)})
    statements = _machine_statements(template)
    assert statements["EncryptNotifications"]["Resource"] == other_key
    assert sorted(statements["EncryptNotifications"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    # an imported topic: no key to name (the caller grants it), and none of the pipeline's own in its place
    template = standalone_template(extra=lambda stack: {"notification_topic": sns.Topic.from_topic_arn(
        stack, "Imported", "arn:aws:sns:eu-west-1:111111111111:theirs")})
    assert "EncryptNotifications" not in _machine_statements(template)
