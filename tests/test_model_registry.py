"""ModelRegistry: the group and its sharing, the approval rule, function, queue, alarm and role."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from mlops_constructs import ModelRegistry, PropsError
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, resources

GROUP = "mlops-demo-churn"
PIPELINE_ARN = "arn:aws:codepipeline:eu-west-1:111111111111:mlops-demo-release"


def registry_template(platform: SynthesizedPlatform) -> dict[str, Any]:
    return platform.templates["Dev/Models-1/Registry-churn"]


def one(template: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = resources(template, type_).values()
    return found["Properties"]


def standalone(**kwargs: Any) -> tuple[cdk.Stack, ModelRegistry]:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Test", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
        vpc_cidr_block="10.10.0.0/16", isolated_subnet_ids=["subnet-0aaa", "subnet-0bbb"],
    )
    props: dict[str, Any] = {
        "model_package_group_name": "acme-churn",
        "vpc": vpc,
        "release_pipeline": codepipeline.Pipeline.from_pipeline_arn(stack, "Pipeline", PIPELINE_ARN),
    }
    props.update(kwargs)
    return stack, ModelRegistry(stack, "Registry", **props)


def test_group_is_shared_for_describe_and_list_only(platform: SynthesizedPlatform) -> None:
    group = one(registry_template(platform), "AWS::SageMaker::ModelPackageGroup")
    assert group["ModelPackageGroupName"] == GROUP
    statements = group["ModelPackageGroupPolicy"]["Statement"]
    principals = {"AWS": ["arn:aws:iam::333333333333:root", "arn:aws:iam::444444444444:root"]}
    assert statements == [
        {"Sid": "ServingAccountsDescribeGroup", "Effect": "Allow", "Principal": principals,
         "Action": ["sagemaker:DescribeModelPackageGroup"],
         "Resource": f"arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/{GROUP}"},
        {"Sid": "ServingAccountsReadPackages", "Effect": "Allow", "Principal": principals,
         "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
         "Resource": f"arn:aws:sagemaker:eu-west-1:222222222222:model-package/{GROUP}/*"},
    ]


def test_unshared_group_has_no_policy() -> None:
    stack, _ = standalone()
    group = one(Template.from_stack(stack).to_json(), "AWS::SageMaker::ModelPackageGroup")
    assert "ModelPackageGroupPolicy" not in group


def test_group_is_retained_outside_dev(platform: SynthesizedPlatform) -> None:
    (group,) = resources(registry_template(platform), "AWS::SageMaker::ModelPackageGroup").values()
    assert group["DeletionPolicy"] == "Delete"  # the default config lets dev go
    stack, _ = standalone()
    (kept,) = resources(Template.from_stack(stack).to_json(), "AWS::SageMaker::ModelPackageGroup").values()
    assert kept["DeletionPolicy"] == "Retain"


def sagemaker_event(group: str, status: str, detail_type: str = "SageMaker Model Package State Change", source: str = "aws.sagemaker") -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:eu-west-1:222222222222:model-package/{group}/3"
    return {
        "Source": source,
        "DetailType": detail_type,
        "Resources": [arn],
        "Detail": json.dumps({
            "ModelPackageGroupName": group, "ModelPackageVersion": 3, "ModelPackageArn": arn,
            "CreationTime": 1795600000000, "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False, "ModelApprovalStatus": status, "LastModifiedTime": 1795600123456,
        }),
    }


@pytest.mark.parametrize(
    ("event", "delivered"),
    [
        (sagemaker_event(GROUP, "Approved"), True),
        (sagemaker_event(GROUP, "Rejected"), True),
        (sagemaker_event(GROUP, "PendingManualApproval"), False),
        (sagemaker_event("mlops-demo-fraud", "Approved"), False),
        (sagemaker_event(GROUP, "Approved", detail_type="SageMaker Model State Change"), False),
        (sagemaker_event(GROUP, "Approved", source="custom.sagemaker"), False),
    ],
    ids=["approved", "rejected", "pending", "other-group", "other-detail-type", "other-source"],
)
def test_rule_pattern_matches_approvals_and_rejections_of_the_group_only(
    platform: SynthesizedPlatform, event: dict[str, Any], delivered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = one(registry_template(platform), "AWS::Events::Rule")
    assert rule["State"] == "ENABLED"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="probe")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="approval", EventPattern=json.dumps(rule["EventPattern"]))
        events.put_targets(Rule="approval", Targets=[{"Id": "probe", "Arn": queue_arn}])
        events.put_events(Entries=[event])
        received = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
    assert bool(received) is delivered


def test_function_runs_isolated_encrypted_traced_and_serialized(platform: SynthesizedPlatform) -> None:
    template = registry_template(platform)
    function = one(template, "AWS::Lambda::Function")
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "handler.handler"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["ReservedConcurrentExecutions"] == 1
    assert function["KmsKeyArn"]["Fn::GetAtt"][1] == "Arn"
    assert len(function["VpcConfig"]["SubnetIds"]) == 3
    assert len(function["VpcConfig"]["SecurityGroupIds"]) == 1
    assert set(function["Environment"]["Variables"]) == {
        "MODEL_PACKAGE_GROUP_NAME", "APPROVED_MODEL_PARAMETER", "RELEASE_PIPELINE_NAME", "RELEASE_ROLE_ARN",
        "ALERT_TOPIC_ARN", "POWERTOOLS_SERVICE_NAME",
    }
    variables = function["Environment"]["Variables"]
    assert variables["APPROVED_MODEL_PARAMETER"] == "/mlops-demo/models/churn/approved-model-package-arn"
    assert variables["RELEASE_PIPELINE_NAME"] == "mlops-demo-release-churn"  # the model's own release pipeline
    assert variables["RELEASE_ROLE_ARN"] == "arn:aws:iam::111111111111:role/mlops-demo-model-release"
    # Powertools comes from AWS's public layer, resolved at deploy time from its public parameter.
    (layer,) = function["Layers"]
    parameter = template["Parameters"][layer["Ref"]]
    assert parameter == {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/aws/service/powertools/python/x86_64/python3.13/3.37.0"}
    dlq_id = next(iter(resources(template, "AWS::SQS::Queue")))
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert one(template, "AWS::Lambda::EventInvokeConfig")["MaximumRetryAttempts"] == 2
    log_group = one(template, "AWS::Logs::LogGroup")
    assert log_group["RetentionInDays"] == 30 and "KmsKeyId" in log_group
    security_group = one(template, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in security_group
    assert [(r["FromPort"], r["ToPort"], r["IpProtocol"]) for r in security_group["SecurityGroupEgress"]] == [(443, 443, "tcp")]


def test_dead_letters_are_encrypted_and_alarmed_to_the_encrypted_topic(platform: SynthesizedPlatform) -> None:
    template = registry_template(platform)
    (queue_id, queue), = resources(template, "AWS::SQS::Queue").items()
    (topic_id, topic), = resources(template, "AWS::SNS::Topic").items()
    (key_id,) = resources(template, "AWS::KMS::Key")
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    alarm = one(template, "AWS::CloudWatch::Alarm")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    target = one(template, "AWS::Events::Rule")["Targets"][0]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}


def policy_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The statements of the approval function's policy (the stack's other policy is the reader's)."""
    (policy,) = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values() if "approval function" in p["Properties"]["Description"]]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_role_is_least_privilege_in_one_managed_policy(platform: SynthesizedPlatform) -> None:
    template = registry_template(platform)
    assert resources(template, "AWS::IAM::Policy") == {}  # nothing inline
    (role,) = [r for r in resources(template, "AWS::IAM::Role").values() if r["Properties"]["RoleName"].endswith("-approval")]
    assert "ManagedPolicyArns" not in role["Properties"] or all("aws:policy" not in json.dumps(a) for a in role["Properties"]["ManagedPolicyArns"])
    statements = policy_statements(template)
    assert sorted(statements) == sorted([
        "ReadThisGroupsPackages", "ListPackages", "ApprovedModelParameter", "AssumeReleaseRole", "Alert",
        "DeadLetters", "UseKey", "WriteOwnLogs", "Traces", "DescribeNetworkInterfaces", "ManageNetworkInterfaces",
    ])
    assert statements["ReadThisGroupsPackages"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:222222222222:model-package/{GROUP}/*"
    assert statements["ApprovedModelParameter"] == {
        "Sid": "ApprovedModelParameter", "Effect": "Allow",
        "Action": ["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"],
        "Resource": "arn:aws:ssm:eu-west-1:222222222222:parameter/mlops-demo/models/churn/approved-model-package-arn",
    }
    assert statements["AssumeReleaseRole"]["Action"] == "sts:AssumeRole"
    assert statements["AssumeReleaseRole"]["Resource"] == "arn:aws:iam::111111111111:role/mlops-demo-model-release"
    assert "StartReleasePipeline" not in statements  # only the tooling account's role may start it


def test_without_a_release_role_the_function_may_start_exactly_one_pipeline() -> None:
    stack, _ = standalone()
    statements = policy_statements(Template.from_stack(stack).to_json())
    assert statements["StartReleasePipeline"]["Action"] == "codepipeline:StartPipelineExecution"
    assert statements["StartReleasePipeline"]["Resource"] == PIPELINE_ARN
    assert "AssumeReleaseRole" not in statements


def test_a_given_release_role_is_the_only_role_assumed() -> None:
    stack, registry = standalone(release_role=iam.Role.from_role_arn(
        cdk.Stack(cdk.App(), "Other"), "R", "arn:aws:iam::111111111111:role/release", mutable=False))
    assert registry.function is not None
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like({"RELEASE_ROLE_ARN": "arn:aws:iam::111111111111:role/release"})}})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_package_group_name": "churn_model"}, r"ModelRegistry: model_package_group_name: must be 1-63 letters, digits .* \(got 'churn_model'\)"),
        ({"shared_with_accounts": ["3333"]}, r"ModelRegistry: shared_with_accounts: each entry must be a 12-digit AWS account id \(got '3333'\)"),
        ({"shared_with_accounts": "333333333333"}, r"ModelRegistry: shared_with_accounts: must be a list"),
        ({"approved_model_parameter_name": "approved"}, r"ModelRegistry: approved_model_parameter_name: must be a fully qualified SSM parameter name starting with '/' \(got 'approved'\)"),
        ({"powertools_version": "latest"}, r"ModelRegistry: powertools_version: must be a release number like 3.37.0 \(got 'latest'\)"),
    ],
)
def test_bad_props_are_rejected_with_field_value_and_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(**kwargs)
