"""A batch-only model's drift check (issue 19), executed in process by moto's Step Functions interpreter: a batch run
scores its input (the transform job played by tests/sagemaker_sfn_double.py), then starts the ``batch-input``
DriftMonitor's machine on the input it scored, whose drift job is the real drift script (``--captured-format csv
--drop-columns 1``) and whose metrics reach CloudWatch with the batch's name."""

from __future__ import annotations

import json
import time
import uuid
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
from tests.test_batch_drift import INPUT_PREFIX, NAME, PACKAGE, build
from tests.test_drift_execution import drift_metrics, run_the_drift_script

REGION, ACCOUNT = "eu-west-1", "444444444444"
DATA_BUCKET = f"acme-prod-data-{ACCOUNT}-{REGION}"
ARTIFACT_BUCKET = f"acme-prod-artifacts-{ACCOUNT}-{REGION}"
BASELINE_BUCKET = "acme-dev-artifacts-222222222222-eu-west-1"
BASELINE_PREFIX = "lead-scoring/run-1/baseline/"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.UUID(int=1)}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app, stack, _, _ = build()
    return app.synth().get_stack_by_name(stack.stack_name).template


def leads(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    return pd.DataFrame({"f1": rng.normal(10 + (6 if shifted else 0), 2, n).round(3), "f2": rng.normal(0.5, 0.1, n).round(3)})


class World:
    """A serving account in moto with both state machines created from the template."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACT_BUCKET, BASELINE_BUCKET):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        sagemaker.create_model_package_group(ModelPackageGroupName="acme-forecast")
        self.package_arn = sagemaker.create_model_package(
            ModelPackageGroupName="acme-forecast", ModelApprovalStatus="Approved",
            CustomerMetadataProperties={"DriftBaselineS3Uri": f"s3://{BASELINE_BUCKET}/{BASELINE_PREFIX}"})["ModelPackageArn"]
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        machine_role = iam.create_role(RoleName="machines", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.job_role = iam.create_role(RoleName="drift-job", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        model_role = iam.create_role(RoleName="batch-model", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.model_name = "BatchModel-released"
        sagemaker.create_model(ModelName=self.model_name, ExecutionRoleArn=model_role, Containers=[{"ModelPackageName": self.package_arn}],
                               EnableNetworkIsolation=True,
                               VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]})
        self.topic = sns.create_topic(Name="notifications")["TopicArn"]
        machines = resources(template, "AWS::StepFunctions::StateMachine")
        (drift_id,) = [k for k in machines if k.startswith("Drift")]
        (batch_id,) = [k for k in machines if k.startswith("Batch")]
        self.drift_machine = self.sfn.create_state_machine(
            name="drift-check", definition=self.render(machines[drift_id]), roleArn=machine_role)["stateMachineArn"]
        self.drift_id = drift_id
        self.batch_machine = self.sfn.create_state_machine(
            name=machines[batch_id]["Properties"]["StateMachineName"], definition=self.render(machines[batch_id]), roleArn=machine_role,
        )["stateMachineArn"]

    def render(self, machine: dict[str, Any]) -> str:
        return self._render(machine["Properties"]["DefinitionString"]).replace(PACKAGE, self.package_arn)

    def _render(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            return arg[0].join(self._render(part) for part in arg[1])
        if fn == "Fn::Sub":
            return arg.replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION).replace("${AWS::URLSuffix}", "amazonaws.com")
        logical_id = arg if fn == "Ref" else arg[0]
        type_ = self.template["Resources"][logical_id]["Type"]
        if type_ == "AWS::S3::Bucket":
            return DATA_BUCKET if logical_id.startswith("StoreDataBucket") else ARTIFACT_BUCKET
        if type_ == "AWS::StepFunctions::StateMachine":
            assert logical_id == self.drift_id
            return self.drift_machine
        return {"AWS::SNS::Topic": self.topic, "AWS::KMS::Key": KEY_ARN, "AWS::IAM::Role": self.job_role, "AWS::SageMaker::Model": self.model_name,
                "AWS::EC2::Subnet": f"subnet-{logical_id[-8:].lower()}", "AWS::EC2::SecurityGroup": "sg-0123456789abcdef0"}[type_]

    def put(self, baseline: pd.DataFrame, scored: pd.DataFrame) -> None:
        self.s3.put_object(Bucket=BASELINE_BUCKET, Key=f"{BASELINE_PREFIX}baseline.csv", Body=baseline.to_csv(index=False).encode())
        rows = "".join(f"lead-{i},{r.f1},{r.f2}\n" for i, r in enumerate(scored.itertuples(index=False)))  # lead_id,f1,f2: no header
        self.s3.put_object(Bucket=DATA_BUCKET, Key=f"{INPUT_PREFIX}2026-11-27.csv", Body=rows.encode())

    def wait(self, arn: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                described["history"] = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                return described
            time.sleep(0.2)

    def metrics(self) -> dict[str, list[dict[str, Any]]]:
        return drift_metrics(self.cloudwatch)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def entered(execution: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution["history"] if "stateEnteredEventDetails" in e]


def test_a_scored_run_starts_the_drift_check_of_its_input_which_publishes_drift(aws: Any, template: dict[str, Any], tmp_path: Path) -> None:
    world = World(template)
    rng = np.random.default_rng(19)
    world.put(leads(rng, 1000, shifted=False), leads(rng, 400, shifted=True))
    script = JobScript(prediction="0.7", drift_job=run_the_drift_script(tmp_path))
    with sagemaker_double(script), jsonata_in_moto():
        run = world.sfn.start_execution(stateMachineArn=world.batch_machine, name=f"run-{uuid.uuid4()}",
                                        input=json.dumps({"trigger": "Schedule"}))["executionArn"]
        batch = world.wait(run)
        assert batch["status"] == "SUCCEEDED", json.dumps([e for e in batch["history"] if "Failed" in e["type"]], default=str)
        assert entered(batch) == ["ListRunning", "Prepare", "OneAtATime", "Transform", "CheckDrift", "Scored"]
        (check,) = world.sfn.list_executions(stateMachineArn=world.drift_machine)["executions"]
        drift = world.wait(check["executionArn"])
    assert drift["status"] == "SUCCEEDED", json.dumps([e for e in drift["history"] if "Failed" in e["type"] or "Entered" in e["type"]], default=str)
    assert json.loads(drift["input"])["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == run
    assert [kind for kind, _ in script.calls] == ["transform", "drift"]
    job = script.calls[1][1]
    assert job["ProcessingInputs"][1]["S3Input"]["S3Uri"] == f"s3://{DATA_BUCKET}/{INPUT_PREFIX}"
    assert job["AppSpecification"]["ContainerArguments"][-4:] == ["--captured-format", "csv", "--drop-columns", "1"]
    metrics = world.metrics()
    assert {"EndpointName": NAME} in metrics["DriftedShare"] and {"EndpointName": NAME} in metrics["CapturedRows"]
    assert {d["Feature"] for d in metrics["FeatureDriftScore"]} == {"f1", "f2"}
    (report_key,) = [o["Key"] for o in world.s3.list_objects_v2(Bucket=ARTIFACT_BUCKET, Prefix=f"drift-reports/{NAME}/")["Contents"]
                     if o["Key"].endswith("/drift.json")]
    assert report_key.endswith(f"/{drift['name']}/drift.json")
    report = json.loads(world.s3.get_object(Bucket=ARTIFACT_BUCKET, Key=report_key)["Body"].read())
    assert report["rows"] == 400 and report["skipped_lines"] == 0
    assert {name for name, f in report["features"].items() if f["drifted"]} == {"f1"}
    assert report["drifted_share"] == pytest.approx(0.5)
