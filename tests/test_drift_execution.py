"""The drift monitor's state machine, executed in process by moto's Step Functions interpreter, with the
drift job played by the real drift script (mlops_constructs/monitoring/drift_job/drift.py) on data put in
moto's S3: the window's capture is found, the served version's baseline is read from its model package,
the job is created inside the guardrails with the bundled image, and its metrics reach CloudWatch."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from mlops_constructs.monitoring import DRIFT_NAMESPACE
from tests.conftest import resources
from tests.sagemaker_sfn_double import JobScript, sagemaker_double
from tests.sfn_jsonata import jsonata_in_moto
from tests.test_drift_monitor import ENDPOINT, build

REGION, ACCOUNT = "eu-west-1", "333333333333"
CAPTURE_BUCKET = "acme-staging-capture"
BASELINE_BUCKET = "acme-dev-artifacts"
BASELINE_PREFIX = "churn/run-1/baseline/"
FEATURES = ["tenure", "charges", "calls", "usage", "plan"]


def frame(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    return pd.DataFrame({
        "tenure": rng.normal(30 + (25 if shifted else 0), 10, n).round(2),
        "charges": rng.normal(70 + (40 if shifted else 0), 15, n).round(2),
        "calls": rng.normal(5, 2, n).round(2),
        "usage": rng.normal(100, 20, n).round(2),
        "plan": rng.choice(["basic", "plus", "pro"], n),
    })


def capture_lines(data: pd.DataFrame) -> str:
    """Data capture JSONL as SageMaker writes it: one request (CSV, no header) per line."""
    lines = []
    for i, row in enumerate(data.itertuples(index=False)):
        lines.append(json.dumps({
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": ",".join(map(str, row)), "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": "2026-11-27T10:00:00Z"},
            "eventVersion": "0",
        }))
    return "\n".join(lines) + "\n"


def render(value: Any, template: dict[str, Any], known: dict[str, str]) -> str:
    """The template's DefinitionString with each reference replaced by the moto resource it names."""
    if isinstance(value, str):
        return value
    ((fn, arg),) = value.items()
    if fn == "Fn::Join":
        return arg[0].join(render(part, template, known) for part in arg[1])
    if fn == "Ref":
        if arg in known:
            return known[arg]
        resource = template["Resources"][arg]
        return {"AWS::S3::Bucket": CAPTURE_BUCKET, "AWS::EC2::Subnet": f"subnet-{arg[-8:].lower()}", "AWS::SNS::Topic": known["topic"]}[resource["Type"]]
    if fn == "Fn::GetAtt":
        resource = template["Resources"][arg[0]]
        return {"AWS::IAM::Role": known["job_role"], "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}",
                "AWS::EC2::SecurityGroup": "sg-0123456789abcdef0"}[resource["Type"]]
    if fn == "Fn::Sub":
        return arg.replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION).replace("${AWS::URLSuffix}", "amazonaws.com")
    raise AssertionError(f"cannot render {value!r}")


@pytest.fixture(scope="module")
def drift_template() -> dict[str, Any]:
    app, stack, _ = build()
    return app.synth().get_stack_by_name(stack.stack_name).template


@pytest.fixture(scope="module")
def bundled_image_uri() -> str:
    """The URI of the bundled image's asset, as CloudFormation will fill it in (in moto's account and region)."""
    _, stack, monitor = build()
    return render(stack.resolve(monitor.image.image_uri), {}, {})


class World:
    """A serving account in moto with the drift monitor's state machine created from its template."""

    def __init__(self, template: dict[str, Any], package_metadata: dict[str, str] | None) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        for bucket in (CAPTURE_BUCKET, BASELINE_BUCKET):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        sagemaker.create_model_package_group(ModelPackageGroupName="acme-churn")
        package = {"ModelPackageGroupName": "acme-churn", "ModelApprovalStatus": "Approved"}
        if package_metadata is not None:
            package["CustomerMetadataProperties"] = package_metadata
        self.package_arn = sagemaker.create_model_package(**package)["ModelPackageArn"]
        topic = sns.create_topic(Name="alarms")["TopicArn"]
        self.inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        self.sqs = sqs
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        role = iam.create_role(RoleName="drift-machine", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        job_role = iam.create_role(RoleName="drift-job", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
        text = render(machine["Properties"]["DefinitionString"], template, {"topic": topic, "job_role": job_role})
        # The definition names the package it was synthesized for; here it is moto's.
        text = text.replace("arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/7", self.package_arn)
        self.definition = json.loads(text)
        self.machine_arn = self.sfn.create_state_machine(name="drift", definition=text, roleArn=role)["stateMachineArn"]

    def previous_window(self) -> str:
        return (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y/%m/%d/%H")

    def put_capture(self, data: pd.DataFrame, window: str) -> None:
        key = f"data-capture/{ENDPOINT}/{ENDPOINT}/AllTraffic/{window}/part-0.jsonl"
        self.s3.put_object(Bucket=CAPTURE_BUCKET, Key=key, Body=capture_lines(data).encode())

    def put_baseline(self, data: pd.DataFrame) -> None:
        self.s3.put_object(Bucket=BASELINE_BUCKET, Key=f"{BASELINE_PREFIX}baseline.csv", Body=data.to_csv(index=False).encode())

    def run(self, script: JobScript, timeout: float = 120, execution_input: dict[str, Any] | None = None) -> dict[str, Any]:
        with sagemaker_double(script), jsonata_in_moto():
            # a name a person might give a manual run: '_' is allowed there, not in a SageMaker job name
            execution = self.sfn.start_execution(stateMachineArn=self.machine_arn, name=f"re_run_{uuid.uuid4()}",
                                                 input=json.dumps(execution_input or {}))["executionArn"]
            deadline = time.monotonic() + timeout
            while True:
                described = self.sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING" or time.monotonic() > deadline:
                    return described
                time.sleep(0.2)

    def metrics(self) -> dict[str, list[dict[str, Any]]]:
        return drift_metrics(self.cloudwatch)

    def notifications(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def drift_metrics(cloudwatch: Any) -> dict[str, list[dict[str, Any]]]:
    """The drift namespace's metrics in moto's CloudWatch: the dimensions of each, by metric name."""
    found: dict[str, list[dict[str, Any]]] = {}
    for metric in cloudwatch.list_metrics(Namespace=DRIFT_NAMESPACE)["Metrics"]:
        found.setdefault(metric["MetricName"], []).append({d["Name"]: d["Value"] for d in metric["Dimensions"]})
    return found


def run_the_drift_script(tmp: Path) -> Any:
    """Play the drift job: download its inputs from moto's S3, run the real script, upload its output."""
    from tests.test_drift_script import drift  # the script, loaded once per session

    def play(parameters: dict[str, Any], s3: Any) -> None:
        local: dict[str, Path] = {}
        for item in parameters["ProcessingInputs"]:
            bucket, _, prefix = item["S3Input"]["S3Uri"].removeprefix("s3://").partition("/")
            target = local[item["InputName"]] = tmp / item["InputName"]
            for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
                path = target / obj["Key"][len(prefix):]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
        (output,) = parameters["ProcessingOutputConfig"]["Outputs"]
        arguments = parameters["AppSpecification"]["ContainerArguments"]
        mapped = [str(local.get(a.rsplit("/", 1)[-1], a)) if a.startswith("/opt/ml/processing/") and not a.endswith("output") else a for a in arguments]
        mapped = [str(tmp / "output") if a == "/opt/ml/processing/output" else a for a in mapped]
        assert drift.main(mapped) == 0
        bucket, _, prefix = output["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        for path in (tmp / "output").iterdir():
            s3.put_object(Bucket=bucket, Key=f"{prefix}{path.name}", Body=path.read_bytes())

    return play


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def test_a_shifted_window_publishes_drift_for_the_shifted_features(aws: Any, drift_template: dict[str, Any], bundled_image_uri: str,
                                                                   tmp_path: Path) -> None:
    world = World(drift_template, {"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})
    rng = np.random.default_rng(7)
    world.put_baseline(frame(rng, 1000, shifted=False))
    world.put_capture(frame(rng, 400, shifted=True), world.previous_window())
    script = JobScript(drift_job=run_the_drift_script(tmp_path))
    execution = world.run(script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    ((kind, job),) = script.calls
    assert kind == "drift"
    assert re.fullmatch(rf"{ENDPOINT}-drift-\d{{14}}-rexrunx[0-9a-f]-0", job["ProcessingJobName"]), job["ProcessingJobName"]
    assert job["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"
    assert job["ProcessingInputs"][1]["S3Input"]["S3Uri"].endswith(f"/AllTraffic/{world.previous_window()}/")
    assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert job["AppSpecification"]["ImageUri"] == bundled_image_uri
    assert re.fullmatch(rf"{ACCOUNT}\.dkr\.ecr\.{REGION}\.amazonaws\.com/cdk-[a-z0-9]+-container-assets-{ACCOUNT}-{REGION}:[0-9a-f]{{64}}",
                        bundled_image_uri), bundled_image_uri
    metrics = world.metrics()
    assert {"EndpointName": ENDPOINT} in metrics["DriftedShare"]
    drifted = {d["Feature"] for d in metrics["FeatureDriftScore"]}
    assert drifted == set(FEATURES)  # a score for every feature; which drifted is in the report
    report = json.loads(world.s3.get_object(Bucket=CAPTURE_BUCKET, Key=f"drift-reports/{ENDPOINT}/{world.previous_window()}/drift.json")["Body"].read())
    assert {name for name, f in report["features"].items() if f["drifted"]} == {"tenure", "charges"}
    assert report["drifted_share"] == pytest.approx(0.4)


def test_a_scheduled_run_checks_the_hour_before_its_scheduled_time_however_late_it_starts(aws: Any, drift_template: dict[str, Any],
                                                                                         tmp_path: Path) -> None:
    # as EventBridge Scheduler starts it, with <aws.scheduler.scheduled-time>, here three hours ago (a retry that ran late)
    scheduled = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    window = (scheduled - timedelta(hours=1)).strftime("%Y/%m/%d/%H")
    world = World(drift_template, {"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})
    rng = np.random.default_rng(11)
    world.put_baseline(frame(rng, 500, shifted=False))
    world.put_capture(frame(rng, 200, shifted=False), window)
    world.put_capture(frame(rng, 200, shifted=True), world.previous_window())  # the hour before the start: not this run's
    script = JobScript(drift_job=run_the_drift_script(tmp_path))
    execution = world.run(script, execution_input={"time": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}})
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    ((_, job),) = script.calls
    assert job["ProcessingInputs"][1]["S3Input"]["S3Uri"].endswith(f"/AllTraffic/{window}/")


def test_a_window_without_capture_reports_zero_rows_and_runs_no_job(aws: Any, drift_template: dict[str, Any], tmp_path: Path) -> None:
    world = World(drift_template, {"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})
    world.put_capture(frame(np.random.default_rng(1), 50, shifted=True), "2020/01/01/00")  # an old window only
    script = JobScript(drift_job=run_the_drift_script(tmp_path))
    execution = world.run(script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert script.calls == []
    assert world.metrics() == {"CapturedRows": [{"EndpointName": ENDPOINT}]}


def test_a_version_without_a_baseline_fails_the_check_and_notifies(aws: Any, drift_template: dict[str, Any], tmp_path: Path) -> None:
    world = World(drift_template, None)
    world.put_capture(frame(np.random.default_rng(2), 200, shifted=False), world.previous_window())
    script = JobScript(drift_job=run_the_drift_script(tmp_path))
    execution = world.run(script)
    assert execution["status"] == "FAILED" and execution["error"] == "DriftCheckFailed"
    assert script.calls == []
    (message,) = world.notifications()
    assert message["endpoint"] == ENDPOINT and message["window"] == world.previous_window()
    # through the Choice, not a caught error: in AWS, a ResultSelector path the result lacks is States.Runtime, which no
    # Catch handles (moto's interpreter lets States.ALL catch it), and the run would end without this notification
    assert message["failure"]["Error"] == "NoBaseline" and "DriftBaselineS3Uri" in message["failure"]["Cause"]
    states = world.definition["States"]
    assert states["DescribeServedVersion"]["ResultSelector"] == {"package.$": "$"}


def test_a_failed_drift_job_fails_the_check_and_notifies(aws: Any, drift_template: dict[str, Any], tmp_path: Path) -> None:
    world = World(drift_template, {"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})
    world.put_capture(frame(np.random.default_rng(3), 200, shifted=False), world.previous_window())
    script = JobScript(drift_job=run_the_drift_script(tmp_path), failing_jobs={"drift"})
    execution = world.run(script)
    assert execution["status"] == "FAILED"
    assert [kind for kind, _ in script.calls] == ["drift"]
    assert "DriftedShare" not in world.metrics()
    (message,) = world.notifications()
    assert (message["endpoint"], message["window"]) == (ENDPOINT, world.previous_window())
    assert set(message["failure"]) == {"Error", "Cause"}


def test_a_drift_job_past_its_task_timeout_fails_the_check_and_notifies(aws: Any, drift_template: dict[str, Any], tmp_path: Path) -> None:
    """The drift task's TimeoutSeconds (90 minutes; 1 s here): a job whose .sync does not return fails the task with
    States.Timeout, which the Catch sends to the notification, rather than the run hanging until the execution's own
    timeout (TIMED_OUT, which no Catch sees)."""
    world = World(drift_template, {"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})
    assert world.definition["States"]["DriftJob"]["TimeoutSeconds"] == 5400 and world.definition["TimeoutSeconds"] == 7200
    world.definition["States"]["DriftJob"]["TimeoutSeconds"] = 1
    world.sfn.update_state_machine(stateMachineArn=world.machine_arn, definition=json.dumps(world.definition))
    rng = np.random.default_rng(4)
    world.put_baseline(frame(rng, 300, shifted=False))
    world.put_capture(frame(rng, 200, shifted=False), world.previous_window())
    script = JobScript(drift_job=run_the_drift_script(tmp_path), hold=threading.Event())
    try:
        execution = world.run(script)
    finally:
        script.hold.set()  # type: ignore[union-attr]
    assert execution["status"] == "FAILED" and execution["error"] == "DriftCheckFailed"
    assert [kind for kind, _ in script.calls] == ["drift"]
    (message,) = world.notifications()
    assert message["failure"]["Error"] == "States.Timeout"
    assert "DriftedShare" not in world.metrics()


def test_a_swapped_image_runs_the_same_check(aws: Any, tmp_path: Path) -> None:
    """The extension point: a job image of your own is created with the same arguments and inputs, and its
    metric_data.json is published like the bundled script's."""
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme/drift:2.1.0"
    app, stack, _ = build(image=image)
    world = World(app.synth().get_stack_by_name(stack.stack_name).template, {"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})
    rng = np.random.default_rng(11)
    world.put_baseline(frame(rng, 500, shifted=False))
    world.put_capture(frame(rng, 300, shifted=True), world.previous_window())
    script = JobScript(drift_job=run_the_drift_script(tmp_path))
    execution = world.run(script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    ((_, job),) = script.calls
    assert job["AppSpecification"]["ImageUri"] == image
    assert job["AppSpecification"]["ContainerArguments"][-2:] == ["--endpoint", ENDPOINT]
    assert {"EndpointName": ENDPOINT} in world.metrics()["DriftedShare"]
