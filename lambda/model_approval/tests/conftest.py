"""Fixtures for the approval function, run in process against moto."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

HANDLER_PATH = Path(__file__).resolve().parents[1] / "handler.py"
REGION = "eu-west-1"
DEV_ACCOUNT = "123456789012"  # moto's default account
TOOLING_ACCOUNT = "111111111111"
GROUP = "acme-churn"
PARAMETER = "/mlops/acme-churn/approved-model-package-arn"
PIPELINE = "acme-release"


def load_handler() -> ModuleType:
    # Named after its path, as an import would name it: mutation testing (mutmut) tells which module a mutant
    # belongs to by this name.
    spec = importlib.util.spec_from_file_location("lambda.model_approval.handler", HANDLER_PATH)
    # The function's logger (Powertools) reuses the logging module's "model-approval" logger when it exists,
    # with the handler it got then. When pytest runs more than once in a process (mutmut does), that handler
    # still writes to the previous run's output capture, closed by now: a fresh module gets a fresh logger.
    logging.Logger.manager.loggerDict.pop("model-approval", None)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def handler_module() -> ModuleType:
    return load_handler()


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="model-approval", function_version="$LATEST", memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{DEV_ACCOUNT}:function:model-approval",
        aws_request_id="00000000-0000-0000-0000-000000000000",
    )


def state_change_event(
    arn: str, status: str, *, group: str = GROUP, version: int | None = None, updated: list[str] | None = ["ModelApprovalStatus"],  # noqa: B006
    time: datetime | None = None,
) -> dict[str, Any]:
    """An event shaped as SageMaker sends it: every detail field, times in epoch milliseconds. ``updated``: the
    ``UpdatedModelPackageFields`` of a change to an existing package (``None``: left out, as for a package created);
    ``time``: when the change happened (default: now), in whole seconds as EventBridge writes it."""
    version = version if version is not None else int(arn.rsplit("/", 1)[1])
    when = (time or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),  # each event its own, as EventBridge gives them (the release's request token)
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": DEV_ACCOUNT,
        "time": when,
        "region": REGION,
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "CreationTime": 1795600000000,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": f"{DEV_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme-dev/models:churn-{version}",
                        "ImageDigest": "sha256:" + "0" * 64,
                        "ModelDataUrl": f"s3://acme-dev-artifacts-{DEV_ACCOUNT}-{REGION}/churn/{version}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False,
            "ModelApprovalStatus": status,
            "LastModifiedTime": 1795600123456,
            "CreatedBy": {"IamIdentity": {"Arn": f"arn:aws:sts::{DEV_ACCOUNT}:assumed-role/training/session", "PrincipalId": "AROAEXAMPLE:session"}},
            "LastModifiedBy": {"IamIdentity": {"Arn": f"arn:aws:sts::{DEV_ACCOUNT}:assumed-role/reviewer/jane", "PrincipalId": "AROAEXAMPLE:jane"}},
            **({"UpdatedModelPackageFields": updated} if updated is not None else {}),
        },
    }


@dataclass
class World:
    """The dev account's registry and parameter, and the release pipeline in the tooling account."""

    sagemaker: Any
    ssm: Any
    sns: Any
    sqs: Any
    codepipeline: Any
    topic_arn: str
    alert_queue_url: str

    def register(self, status: str = "PendingManualApproval") -> str:
        return self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelPackageDescription="churn",
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"{DEV_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme-dev/models:churn"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def released(self) -> str | None:
        try:
            return self.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def release(self, arn: str) -> None:
        self.ssm.put_parameter(Name=PARAMETER, Value=arn, Type="String", Overwrite=True)

    def pipeline_starts(self) -> list[str]:
        """The ModelPackageArn variable of every pipeline execution, oldest first."""
        executions = self.codepipeline.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
        values = []
        for summary in reversed(executions):
            execution = self.codepipeline.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=summary["pipelineExecutionId"])
            variables = {v["name"]: v["resolvedValue"] for v in execution["pipelineExecution"].get("variables", [])}
            values.append(variables["ModelPackageArn"])
        return values

    def notifications(self) -> list[dict[str, Any]]:
        """The notifications published to the alert topic, as its subscribed queue received them."""
        messages = self.sqs.receive_message(QueueUrl=self.alert_queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def alerts(self) -> list[str]:
        return [notification["Message"] for notification in self.notifications()]

    def released_parameter_type(self) -> str:
        return self.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Type"]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "model-approval")
    with mock_aws():
        release_role_arn = f"arn:aws:iam::{TOOLING_ACCOUNT}:role/acme-model-release"
        tooling = boto3.client("sts").assume_role(RoleArn=release_role_arn, RoleSessionName="setup")["Credentials"]
        tooling_session = boto3.Session(
            aws_access_key_id=tooling["AccessKeyId"], aws_secret_access_key=tooling["SecretAccessKey"],
            aws_session_token=tooling["SessionToken"], region_name=REGION,
        )
        assert tooling_session.client("sts").get_caller_identity()["Account"] == TOOLING_ACCOUNT
        pipeline_role = tooling_session.client("iam").create_role(
            RoleName="pipeline",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        codepipeline = tooling_session.client("codepipeline")
        source = {"name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                  "configuration": {"S3Bucket": "src", "S3ObjectKey": "src.zip"}, "outputArtifacts": [{"name": "src"}]}
        deploy = {"name": "Deploy", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                  "configuration": {"ProjectName": "deploy"}, "inputArtifacts": [{"name": "src"}]}
        codepipeline.create_pipeline(pipeline={
            "name": PIPELINE, "roleArn": pipeline_role, "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "variables": [{"name": "ModelPackageArn", "defaultValue": "none"}],
            "stages": [{"name": "Source", "actions": [source]}, {"name": "Deploy", "actions": [deploy]}],
        })

        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        sagemaker.create_model_package_group(ModelPackageGroupName="acme-fraud")
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

        monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", GROUP)
        monkeypatch.setenv("APPROVED_MODEL_PARAMETER", PARAMETER)
        monkeypatch.setenv("RELEASE_PIPELINE_NAME", PIPELINE)
        monkeypatch.setenv("RELEASE_ROLE_ARN", release_role_arn)
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        yield World(sagemaker, boto3.client("ssm"), sns, sqs, codepipeline, topic_arn, queue_url)
