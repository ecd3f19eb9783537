"""BatchInference's state machine (the construct's, and the default platform's staging one), executed in process
by moto's Step Functions interpreter, with the transform job played by tests/sagemaker_sfn_double.py on top of moto's
real CreateTransformJob (botocore validates every field the state computes): a run scores the input with the model of
the released version and writes under a run-dated prefix; a failed job ends in the failure notification; a run
started while another scores does nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import SynthesizedPlatform, resources
from tests.sagemaker_sfn_double import JobScript, sagemaker_double
from tests.sfn_jsonata import jsonata_in_moto
from tests.test_batch_inference import NAME, PACKAGE, build, synth

REGION, ACCOUNT = "eu-west-1", "444444444444"
DATA_BUCKET = f"acme-prod-data-{ACCOUNT}-{REGION}"
OUTPUT_BUCKET = f"acme-prod-artifacts-{ACCOUNT}-{REGION}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.UUID(int=1)}"


@pytest.fixture(scope="module")
def batch_template() -> dict[str, Any]:
    app, stack, _ = build()
    return synth(app, stack)


class World:
    """A serving account in moto: the input and output buckets, the model of the released package (as
    CloudFormation creates it from the template), the topic with a subscribed queue, and the state machine."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        for bucket in (DATA_BUCKET, OUTPUT_BUCKET):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.put_object(Bucket=DATA_BUCKET, Key="forecast/batch-input/2026-11-27.csv", Body=b"3,0.5,1\n7,0.1,0\n")
        self.s3.put_object(Bucket=DATA_BUCKET, Key="forecast/other/ignored.csv", Body=b"1,1,1\n")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        machine_role = iam.create_role(RoleName="batch-machine", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        model_role = iam.create_role(RoleName="batch-model", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        (model,) = resources(template, "AWS::SageMaker::Model").values()
        self.model_name = "BatchModel-released"
        self.sagemaker.create_model(ModelName=self.model_name, ExecutionRoleArn=model_role,
                                    Containers=model["Properties"]["Containers"], EnableNetworkIsolation=True,
                                    VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]})
        topic = sns.create_topic(Name="batch-notifications")["TopicArn"]
        self.inbox = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
        known = {"AWS::S3::Bucket": lambda lid: {"StoreDataBucket005297F7": DATA_BUCKET, "StoreArtifactBucket46B9E825": OUTPUT_BUCKET}[lid],
                 "AWS::SageMaker::Model": lambda lid: self.model_name, "AWS::KMS::Key": lambda lid: KEY_ARN, "AWS::SNS::Topic": lambda lid: topic}
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]

        def render(part: Any) -> str:
            if isinstance(part, str):
                return part
            logical_id = part["Ref"] if "Ref" in part else part["Fn::GetAtt"][0]
            return known[template["Resources"][logical_id]["Type"]](logical_id)

        self.definition = json.loads("".join(render(p) for p in parts))
        self.machine_arn = self.sfn.create_state_machine(name=machine["Properties"]["StateMachineName"], definition=json.dumps(self.definition),
                                                         roleArn=machine_role)["stateMachineArn"]

    def start(self, trigger: str = "Schedule", prefix: str = "run") -> str:
        return self.sfn.start_execution(stateMachineArn=self.machine_arn, name=f"{prefix}-{uuid.uuid4()}",
                                        input=json.dumps({"trigger": trigger}))["executionArn"]

    def with_timeouts(self, *, task: int | None = None, execution: int | None = None) -> None:
        """The machine, its Transform task's and/or its own TimeoutSeconds shortened (the synthesized ones are hours)."""
        assert "TimeoutSeconds" in self.definition and "TimeoutSeconds" in self.definition["States"]["Transform"]
        if task is not None:
            self.definition["States"]["Transform"]["TimeoutSeconds"] = task
        if execution is not None:
            self.definition["TimeoutSeconds"] = execution
        self.sfn.update_state_machine(stateMachineArn=self.machine_arn, definition=json.dumps(self.definition))

    def wait(self, execution_arn: str) -> dict[str, Any]:
        return wait(self.sfn, execution_arn)

    def run(self, script: JobScript) -> dict[str, Any]:
        with sagemaker_double(script), jsonata_in_moto():
            return self.wait(self.start())

    def notifications(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def outputs(self) -> dict[str, str]:
        contents = self.s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=OUTPUT_BUCKET, Key=o["Key"])["Body"].read().decode() for o in contents}


@pytest.fixture
def world(batch_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SF_EXECUTION_HISTORY_TYPE", "SUCCESS")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield World(batch_template)


def wait(sfn: Any, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
    """The execution once it has ended (or after ``timeout`` seconds), with its history."""
    deadline = time.monotonic() + timeout
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    execution["history"] = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return execution


def entered_states(execution: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution["history"] if "stateEnteredEventDetails" in e]


def test_a_run_scores_the_input_with_the_released_version_under_a_run_dated_prefix(world: World) -> None:
    script = JobScript(prediction="0.93")
    execution = world.run(script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    assert entered_states(execution) == ["ListRunning", "Prepare", "OneAtATime", "Transform", "Scored"]
    ((kind, job),) = script.calls
    assert kind == "transform"
    # the model the job used is the one of the released package
    (container,) = world.sagemaker.describe_model(ModelName=job["ModelName"])["Containers"]
    assert container["ModelPackageName"] == PACKAGE
    start = execution["startDate"]
    run_date, run = start.strftime("%Y-%m-%d"), execution["name"]
    # the first attempt's name: a retry adds its own count, never reusing a name SageMaker may already hold
    assert job["TransformJobName"] == f"{NAME}-batch-{start.strftime('%Y%m%d%H%M%S')}-{run[:8].replace('-', 'x')}-0"
    assert len(job["TransformJobName"]) <= 63
    prefix = f"batch-output/{NAME}/run_date={run_date}/{run}/"
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{OUTPUT_BUCKET}/{prefix}"
    assert job["TransformOutput"]["KmsKeyId"] == job["TransformResources"]["VolumeKmsKeyId"] == KEY_ARN
    assert world.outputs() == {f"{prefix}2026-11-27.csv.out": "0.93\n0.93\n"}
    output = json.loads(execution["output"])
    assert output["trigger"] == "Schedule"
    assert output["transform"]["name"] == job["TransformJobName"]
    assert output["transform"]["model"] == world.model_name
    assert world.notifications() == []


def test_a_failed_job_ends_in_the_failure_notification(world: World) -> None:
    script = JobScript(failing_jobs={"transform"})
    execution = world.run(script)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "BatchTransformFailed"
    assert entered_states(execution) == ["ListRunning", "Prepare", "OneAtATime", "Transform", "NotifyFailure", "Failed"]
    (message,) = world.notifications()
    assert message["batch"] == NAME
    assert message["execution"] == execution["executionArn"]
    assert message["input"] == {"trigger": "Schedule"}
    assert message["failure"]["Error"] == "States.TaskFailed"
    assert json.loads(message["failure"]["Cause"])["FailureReason"] == "AlgorithmError: the test made the transform job fail"
    assert world.outputs() == {}


def test_a_run_started_while_another_scores_does_nothing(world: World) -> None:
    script = JobScript(hold=threading.Event())
    with sagemaker_double(script), jsonata_in_moto():
        first = world.start()
        assert script.held.wait(timeout=30), "the first run never created its job"
        second = world.wait(world.start("NewData"))
        assert second["status"] == "SUCCEEDED"
        assert entered_states(second) == ["ListRunning", "Prepare", "OneAtATime", "AnotherRunInProgress"]
        assert len(script.calls) == 1  # the second run created no job
        assert world.sfn.describe_execution(executionArn=first)["status"] == "RUNNING"
        script.hold.set()  # type: ignore[union-attr]
        first_done = world.wait(first)
    assert first_done["status"] == "SUCCEEDED"
    assert entered_states(first_done)[-2:] == ["Transform", "Scored"]
    assert len(script.calls) == 1


def test_a_job_past_max_run_time_fails_the_run_with_a_notification(world: World) -> None:
    """The Transform task's TimeoutSeconds (max_run_time; 1 s here) ends a job that runs on as States.Timeout, which the
    Catch sends to the failure notification: the run fails (ExecutionsFailed), and the next run is not blocked."""
    world.with_timeouts(task=1)
    script = JobScript(hold=threading.Event())
    try:
        with sagemaker_double(script), jsonata_in_moto():
            execution = world.wait(world.start())
    finally:
        script.hold.set()  # type: ignore[union-attr]
    assert execution["status"] == "FAILED", execution["history"][-3:]
    assert execution["error"] == "BatchTransformFailed"
    assert entered_states(execution) == ["ListRunning", "Prepare", "OneAtATime", "Transform", "NotifyFailure", "Failed"]
    assert any(e["type"] == "TaskTimedOut" for e in execution["history"])
    (message,) = world.notifications()
    assert message["failure"]["Error"] == "States.Timeout"
    assert message["execution"] == execution["executionArn"]


def test_an_execution_past_its_own_timeout_is_timed_out_without_a_notification(world: World) -> None:
    """Why the timeout alarm: the definition's own TimeoutSeconds ends the execution as TIMED_OUT, and no Catch runs
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), so no message is sent."""
    world.with_timeouts(execution=1)
    script = JobScript(hold=threading.Event())
    try:
        with sagemaker_double(script), jsonata_in_moto():
            execution = world.wait(world.start())
    finally:
        script.hold.set()  # type: ignore[union-attr]
    assert execution["status"] == "TIMED_OUT"
    assert "NotifyFailure" not in entered_states(execution)
    assert world.notifications() == []


@pytest.fixture
def lagging_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """ListExecutions as it may be right after a start ("may not reflect very recent updates", its API reference):
    executions named unlisted-* are missing from it."""
    from moto.stepfunctions.models import StepFunctionBackend

    original = StepFunctionBackend.list_executions

    def lagging(self: Any, *args: Any, **kwargs: Any) -> Any:
        executions, token = original(self, *args, **kwargs)
        return [e for e in executions if not e.name.startswith("unlisted-")], token

    monkeypatch.setattr(StepFunctionBackend, "list_executions", lagging)


def test_a_run_not_yet_listed_itself_goes_ahead(world: World, lagging_listing: None) -> None:
    """The run's own absence from the list means "go ahead", not AnotherRunInProgress (which would end it with no job
    and no alarm)."""
    script = JobScript(prediction="0.7")
    with sagemaker_double(script), jsonata_in_moto():
        execution = world.wait(world.start(prefix="unlisted"))
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    assert entered_states(execution) == ["ListRunning", "Prepare", "OneAtATime", "Transform", "Scored"]
    assert len(script.calls) == 1


def test_a_run_not_yet_listed_still_stops_for_an_older_running_one(world: World, lagging_listing: None) -> None:
    script = JobScript(hold=threading.Event())
    try:
        with sagemaker_double(script), jsonata_in_moto():
            first = world.start()
            assert script.held.wait(timeout=30), "the first run never created its job"
            second = world.wait(world.start("NewData", prefix="unlisted"))
            assert second["status"] == "SUCCEEDED"
            assert entered_states(second) == ["ListRunning", "Prepare", "OneAtATime", "AnotherRunInProgress"]
            assert len(script.calls) == 1
            script.hold.set()  # type: ignore[union-attr]
            assert world.wait(first)["status"] == "SUCCEEDED"
    finally:
        script.hold.set()  # type: ignore[union-attr]


def test_a_newer_running_execution_does_not_stop_an_older_one(world: World) -> None:
    """The guard compares start dates, not list positions: an execution started after this one (listed first, the list
    being newest first) is no reason to stop."""
    script = JobScript()
    with sagemaker_double(script), jsonata_in_moto():
        from moto.stepfunctions.models import StepFunctionBackend

        original = StepFunctionBackend.list_executions
        newer = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{NAME}-batch:zzz-newer"

        def with_a_newer_one(self: Any, *args: Any, **kwargs: Any) -> Any:
            executions, token = original(self, *args, **kwargs)
            fake = type("Newer", (), {"execution_arn": newer, "name": "zzz-newer", "state_machine_arn": world.machine_arn,
                                      "status": "RUNNING", "start_date": executions[0].start_date + __import__("datetime").timedelta(seconds=5),
                                      "stop_date": None})()
            return [fake, *executions], token

        StepFunctionBackend.list_executions = with_a_newer_one  # type: ignore[method-assign]
        try:
            execution = world.wait(world.start())
        finally:
            StepFunctionBackend.list_executions = original  # type: ignore[method-assign]
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    assert entered_states(execution)[-2:] == ["Transform", "Scored"]


def test_the_platforms_staging_run_scores_with_the_version_its_release_deployed(platform: SynthesizedPlatform,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The default config's lead-scoring in staging, as the platform synthesizes it (its data and artifact buckets by
    name, the stage key from the storage stack's output): the job runs the model of the package the release passed
    (models[1].model_package_arn here), over lead-scoring/batch-input/, joining the input, under its run date."""
    from tests.validators.state_machines import state_machines

    account = platform.config.accounts.staging
    monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
    for key, value in (("AWS_DEFAULT_REGION", REGION), ("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("SF_EXECUTION_HISTORY_TYPE", "SUCCESS")):
        monkeypatch.setenv(key, value)
    package = platform.config.models[1].model_package_arn
    data, artifacts = f"mlops-demo-staging-data-{account}-{REGION}", f"mlops-demo-staging-artifacts-{account}-{REGION}"
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3, sfn, sagemaker = (boto3.client(s, region_name=REGION) for s in ("s3", "stepfunctions", "sagemaker"))
        for bucket in (data, artifacts):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=data, Key="lead-scoring/batch-input/leads.csv", Body=b"L-1,0.3,0.7\n")
        role = f"arn:aws:iam::{account}:role/batch"
        sagemaker.create_model(ModelName="lead-scoring-released", ExecutionRoleArn=role, Containers=[{"ModelPackageName": package}])
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="batch")["TopicArn"]
        (machine,) = [m for m in state_machines(platform, overrides={("AWS::SageMaker::Model", "ModelName"): "lead-scoring-released",
                                                                     ("AWS::SNS::Topic", "Ref"): topic})
                      if m.template == "Staging/Release-lead-scoring/Batch" and m.definition["StartAt"] == "ListRunning"]
        # lead-scoring is monitored: a scored run starts its drift check, played with the drift machine in
        # tests/test_batch_drift_execution.py; here the run ends once scored.
        assert machine.definition["States"]["Transform"]["Next"] == "CheckDrift"
        machine.definition["States"]["Transform"]["Next"] = "Scored"
        arn = sfn.create_state_machine(name="mlops-demo-staging-lead-scoring-batch", definition=json.dumps(machine.definition),
                                       roleArn=role)["stateMachineArn"]
        script = JobScript(prediction="0.81")
        with sagemaker_double(script), jsonata_in_moto():
            # named, as Step Functions always names an execution (moto leaves a start without a name unnamed)
            started = sfn.start_execution(stateMachineArn=arn, name=f"new-data-{uuid.uuid4()}", input=json.dumps({"trigger": "NewData"}))
            execution = wait(sfn, started["executionArn"])
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        ((_, job),) = script.calls
        (container,) = sagemaker.describe_model(ModelName=job["ModelName"])["Containers"]
        assert container["ModelPackageName"] == package
        assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{data}/lead-scoring/batch-input/"
        prefix = f"batch-output/mlops-demo-staging-lead-scoring/run_date={execution['startDate'].strftime('%Y-%m-%d')}/{execution['name']}/"
        assert job["TransformOutput"]["S3OutputPath"] == f"s3://{artifacts}/{prefix}"
        body = s3.get_object(Bucket=artifacts, Key=f"{prefix}leads.csv.out")["Body"].read()
        assert body == b"L-1,0.3,0.7,0.81\n"  # join_source: Input
        # the model sees the features, not lead_id (the double writes the whole joined row; SageMaker applies the filter)
        assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"}
