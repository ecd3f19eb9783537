"""ModelRegistry: the group and its sharing, the approval rule, function, queue, alarm and role."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from mlops_constructs import FixedZonesStack, IsolatedNetwork, ModelRegistry, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.registry import ModelPackageGroupReference
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, resources

GROUP = "mlops-demo-churn"
PIPELINE_ARN = "arn:aws:codepipeline:eu-west-1:111111111111:mlops-demo-release"


def registry_template(platform: SynthesizedPlatform) -> dict[str, Any]:
    return platform.templates["Dev/Models-1/Registry-churn"]


def one(template: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = resources(template, type_).values()
    return found["Properties"]


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The registry's alarms by metric: the dead-letter queue's (``ApproximateNumberOfMessagesVisible``) and the rule's
    events lost on their way there (``InvocationsFailedToBeSentToDlq``), and nothing else."""
    found = {r["Properties"]["MetricName"]: r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()}
    assert set(found) == {"ApproximateNumberOfMessagesVisible", "InvocationsFailedToBeSentToDlq"}
    return found


def new_stack(context: dict[str, Any] | None = None, outdir: Path | None = None) -> cdk.Stack:
    app = cdk.App(context={**CDK_CONTEXT, **(context or {})}, **({"outdir": str(outdir)} if outdir else {}))
    return cdk.Stack(app, "Test", env=cdk.Environment(account="222222222222", region="eu-west-1"))


def build_in(stack: cdk.Stack, **kwargs: Any) -> ModelRegistry:
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
        vpc_cidr_block="10.10.0.0/16", isolated_subnet_ids=["subnet-0aaa", "subnet-0bbb"],
    )
    props: dict[str, Any] = {
        "model_package_group_name": "acme-churn",
        "vpc": vpc,
        "release_pipeline": codepipeline.Pipeline.from_pipeline_arn(stack, "Pipeline", PIPELINE_ARN),
    }
    return ModelRegistry(stack, "Registry", **{**props, **kwargs})


def standalone(context: dict[str, Any] | None = None, outdir: Path | None = None, **kwargs: Any) -> tuple[cdk.Stack, ModelRegistry]:
    stack = new_stack(context, outdir)
    return stack, build_in(stack, **kwargs)


def test_group_is_shared_for_describe_list_and_create_model_only(platform: SynthesizedPlatform) -> None:
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
        # the serving accounts create their endpoints' models from the versions (SageMaker's cross-account deploy guide)
        {"Sid": "ServingAccountsCreateModels", "Effect": "Allow", "Principal": principals,
         "Action": "sagemaker:CreateModel", "Resource": f"arn:aws:sagemaker:eu-west-1:222222222222:model-package/{GROUP}/*"},
    ]


def test_unshared_group_has_no_policy() -> None:
    stack, _ = standalone()
    group = one(Template.from_stack(stack).to_json(), "AWS::SageMaker::ModelPackageGroup")
    assert "ModelPackageGroupPolicy" not in group


def test_group_is_retained_even_where_dev_lets_its_stateful_resources_go(platform: SynthesizedPlatform) -> None:
    # the default config lets dev go (retain_stateful_resources: false), but staging and prod release the versions
    # dev's registry holds (stacks._settings.SERVED_FROM_REMOVAL_POLICY)
    assert platform.config.stage("dev").retain_stateful_resources is False
    (group,) = resources(registry_template(platform), "AWS::SageMaker::ModelPackageGroup").values()
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Retain", "Retain")
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
        "ALERT_TOPIC_ARN", "POWERTOOLS_SERVICE_NAME", "AWS_STS_REGIONAL_ENDPOINTS",
    }
    variables = function["Environment"]["Variables"]
    # its AssumeRole goes to the VPC's regional STS endpoint, never the global one the isolated subnets cannot reach
    assert variables["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
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
    by_metric = alarms(template)
    alarm = by_metric["ApproximateNumberOfMessagesVisible"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    (rule_id, rule), = resources(template, "AWS::Events::Rule").items()
    target = rule["Properties"]["Targets"][0]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    # An event the rule could put neither in the function nor in the queue is counted, and alarmed, by rule.
    lost = by_metric["InvocationsFailedToBeSentToDlq"]
    assert (lost["Namespace"], lost["Dimensions"]) == ("AWS/Events", [{"Name": "RuleName", "Value": {"Ref": rule_id}}])
    assert lost["AlarmActions"] == [{"Ref": topic_id}]


def function_policy(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of the managed policy attached to the approval function's role."""
    role_id = one(template, "AWS::Lambda::Function")["Role"]["Fn::GetAtt"][0]
    (policy,) = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values() if {"Ref": role_id} in p["Properties"].get("Roles", [])]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def policy_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The function policy's statements by Sid (every one has a Sid unless something was added)."""
    return {s["Sid"]: s for s in function_policy(template)}


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
        "Action": ["ssm:GetParameterHistory", "ssm:PutParameter"],
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
    stack, _ = standalone(release_role=iam.Role.from_role_arn(
        cdk.Stack(cdk.App(), "Other"), "R", "arn:aws:iam::111111111111:role/release", mutable=False))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like({"RELEASE_ROLE_ARN": "arn:aws:iam::111111111111:role/release"})}})
    statements = policy_statements(template.to_json())
    assert (statements["AssumeReleaseRole"]["Action"], statements["AssumeReleaseRole"]["Resource"]) == (
        "sts:AssumeRole", "arn:aws:iam::111111111111:role/release")
    assert "StartReleasePipeline" not in statements
    assert [s for s in statements.values() if "sts:AssumeRole" in s["Action"]] == [statements["AssumeReleaseRole"]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_package_group_name": "churn_model"}, r"ModelRegistry: model_package_group_name: must be 1-63 letters, digits .* \(got 'churn_model'\)"),
        ({"read_accounts": ["3333"]}, r"^ModelRegistry: read_accounts: each entry must be a 12-digit AWS account id \(got '3333'\)$"),
        ({"read_accounts": "333333333333"}, r"^ModelRegistry: read_accounts: must be a list of 12-digit account ids, not a string \(got '333333333333'\)$"),
        ({"read_accounts": 333333333333}, r"^ModelRegistry: read_accounts: must be a list of 12-digit account ids \(got 333333333333\)$"),
        ({"approved_model_parameter_name": "approved"}, r"ModelRegistry: approved_model_parameter_name: must be a fully qualified SSM parameter name starting with '/' \(got 'approved'\)"),
        ({"powertools_version": "latest"}, r"ModelRegistry: powertools_version: must be a release number like 3.37.0 \(got 'latest'\)"),
        ({"function_role_name": "a role"}, r"^ModelRegistry: function_role_name: must be an IAM role name"),
        ({"vpc": "vpc-0123456789abcdef0"}, r"^ModelRegistry: vpc: must be an ec2.IVpc \(got 'vpc-0123456789abcdef0'\)$"),
        ({"release_pipeline": PIPELINE_ARN}, r"^ModelRegistry: release_pipeline: must be a codepipeline.IPipeline"),
        ({"release_role": "arn:aws:iam::111111111111:role/release"}, r"^ModelRegistry: release_role: must be an iam.IRole"),
        ({"encryption_key": "alias/acme"}, r"^ModelRegistry: encryption_key: must be a kms.IKey \(got 'alias/acme'\)$"),
        ({"notification_topic": "arn:aws:sns:eu-west-1:222222222222:alerts"}, r"^ModelRegistry: notification_topic: must be an sns.ITopic"),
        ({"log_retention": 365}, r"^ModelRegistry: log_retention: must be RetentionDays \(got 365\)$"),
        ({"removal_policy": "retain"}, r"^ModelRegistry: removal_policy: must be RemovalPolicy \(got 'retain'\)$"),
        ({"vpc_subnets": {"subnet_type": "isolated"}}, r"^ModelRegistry: vpc_subnets: must be SubnetSelection \(or None\)"),
    ],
)
def test_bad_props_are_rejected_with_field_value_and_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(**kwargs)


def test_a_token_passes_the_literal_checks() -> None:
    # an account id only known at deploy time (a parameter) is not refused by the 12-digit rule
    stack, registry = standalone(read_accounts=[cdk.Fn.import_value("ServingAccount")])
    (statement, _, _) = one(Template.from_stack(stack).to_json(), "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupPolicy"]["Statement"]
    assert statement["Principal"]["AWS"] == [{"Fn::Join": ["", ["arn:aws:iam::", {"Fn::ImportValue": "ServingAccount"}, ":root"]]}]
    assert len(registry.read_accounts) == 1


# -- names: notification_topic, read_accounts (and their deprecated names) -----------------------------------


def topic_in(stack: cdk.Stack) -> sns.Topic:
    return sns.Topic(stack, "Given", master_key=kms.Key(stack, "GivenKey", enable_key_rotation=True), enforce_ssl=True)


def test_a_given_notification_topic_receives_the_alarm_and_the_function_may_publish_to_it() -> None:
    stack = new_stack()
    topic = topic_in(stack)
    registry = build_in(stack, notification_topic=topic)
    assert registry.notification_topic is topic
    template = Template.from_stack(stack).to_json()
    assert len(resources(template, "AWS::SNS::Topic")) == 1  # only the given one
    topic_id = stack.get_logical_id(topic.node.default_child)
    assert [alarm["AlarmActions"] for alarm in alarms(template).values()] == [[{"Ref": topic_id}]] * 2
    assert policy_statements(template)["Alert"]["Resource"] == {"Ref": topic_id}
    assert one(template, "AWS::Lambda::Function")["Environment"]["Variables"]["ALERT_TOPIC_ARN"] == {"Ref": topic_id}
    # the topic's own key, with which SNS encrypts what the function publishes
    key_id = stack.get_logical_id(topic.master_key.node.default_child)
    assert policy_statements(template)["EncryptAlerts"]["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_the_topic_the_registry_creates_is_under_the_key_the_function_already_uses(platform: SynthesizedPlatform) -> None:
    statements = policy_statements(registry_template(platform))
    assert "EncryptAlerts" not in statements  # UseKey covers it
    (topic,) = resources(registry_template(platform), "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == statements["UseKey"]["Resource"]


def test_alert_topic_is_a_deprecated_name_of_notification_topic() -> None:
    stack = new_stack()
    topic = topic_in(stack)
    with pytest.warns(DeprecationWarning, match=r"ModelRegistry: alert_topic is deprecated, use notification_topic"):
        registry = build_in(stack, alert_topic=topic)
    assert registry.notification_topic is topic
    with pytest.warns(DeprecationWarning, match=r"alert_topic is deprecated"):
        assert registry.alert_topic is topic
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 1)  # only the given one
    topic_id = stack.get_logical_id(topic.node.default_child)
    assert [alarm["AlarmActions"] for alarm in alarms(template.to_json()).values()] == [[{"Ref": topic_id}]] * 2


def test_shared_with_accounts_is_a_deprecated_name_of_read_accounts() -> None:
    with pytest.warns(DeprecationWarning, match=r"ModelRegistry: shared_with_accounts is deprecated, use read_accounts"):
        stack, registry = standalone(shared_with_accounts=["333333333333", "333333333333"])
    assert registry.read_accounts == ("333333333333",)
    with pytest.warns(DeprecationWarning, match=r"shared_with_accounts is deprecated"):
        assert registry.shared_with_accounts == ("333333333333",)
    (statement, _, _) = one(Template.from_stack(stack).to_json(), "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::333333333333:root"]}


def test_the_new_names_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        _, registry = standalone(read_accounts=["333333333333"])
    assert registry.read_accounts == ("333333333333",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"read_accounts": ["333333333333"], "shared_with_accounts": ["444444444444"]},
         r"^ModelRegistry: shared_with_accounts: is the deprecated name of read_accounts, which is also given: pass only read_accounts"),
        ({"notification_topic": "new", "alert_topic": "old"},
         r"^ModelRegistry: alert_topic: is the deprecated name of notification_topic, which is also given: pass only notification_topic"),
    ],
)
def test_a_prop_and_its_deprecated_name_together_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(**kwargs)



# -- the function's role: everything added lands in its one managed policy -----------------------------------

READ_OBJECTS = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-extra/*"}
FLAG = "@aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy"


def extra_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::acme-extra/*"])


def test_cdks_own_statements_for_tracing_and_dead_letters_are_not_repeated() -> None:
    # Function adds xray:PutTraceSegments/PutTelemetryRecords on * and sqs:SendMessage on the queue to its role;
    # the hand-written policy has both (Traces, DeadLetters), so nothing without a Sid appears.
    for flag in (False, True):
        stack, _ = standalone(context={FLAG: flag})
        statements = function_policy(Template.from_stack(stack).to_json())
        assert all("Sid" in s for s in statements), (flag, statements)
        assert len(statements) == 11


@pytest.mark.parametrize("flag", [False, True], ids=["flag-off", "flag-on"])
@pytest.mark.parametrize("how", ["registry", "function", "role"])
def test_a_statement_added_to_the_functions_role_lands_in_its_managed_policy(how: str, flag: bool) -> None:
    # Before, the function ran with role.without_policy_updates(): CDK's immutable role answers "added" and keeps
    # nothing, so function.add_to_role_policy and grants to the function vanished. With the Lambda flag
    # createNewPoliciesWithAddToRolePolicy on, Function attaches a new inline policy instead: it is folded in too.
    stack, registry = standalone(context={FLAG: flag})
    target = {"registry": registry.add_to_role_policy, "function": registry.function.add_to_role_policy,
              "role": registry.role.add_to_principal_policy}[how]
    target(extra_statement())
    template = Template.from_stack(stack).to_json()
    assert READ_OBJECTS in function_policy(template)
    assert resources(template, "AWS::IAM::Policy") == {}  # nothing inline
    assert len(function_policy(template)) == 12


def test_add_to_role_policy_takes_a_policy_statement_only() -> None:
    _, registry = standalone()
    with pytest.raises(PropsError, match=r"^ModelRegistry: statement: must be PolicyStatement \(got \{'Effect': 'Allow'"):
        registry.add_to_role_policy(READ_OBJECTS)  # type: ignore[arg-type]


def test_the_registry_is_grantable_as_its_functions_role() -> None:
    stack, registry = standalone()
    assert registry.grant_principal is registry.role
    bucket = s3.Bucket.from_bucket_name(stack, "Extra", "acme-extra")
    grant = bucket.grant_read(registry)
    assert grant.success
    statements = function_policy(Template.from_stack(stack).to_json())
    added = [s for s in statements if "Sid" not in s]
    assert added == [{"Effect": "Allow", "Action": ["s3:GetBucket*", "s3:GetObject*", "s3:List*"],
                      "Resource": ["arn:aws:s3:::acme-extra", "arn:aws:s3:::acme-extra/*"]}]


def test_the_registry_is_connectable_as_its_functions_security_group() -> None:
    stack, registry = standalone()
    assert registry.connections.security_groups == [registry.security_group]
    database = ec2.SecurityGroup.from_security_group_id(stack, "Database", "sg-0123456789abcdef0", mutable=True)
    database.connections.allow_from(registry, ec2.Port.tcp(5432), "approval function")
    template = Template.from_stack(stack).to_json()
    sg_id = stack.get_logical_id(registry.security_group.node.default_child)
    (ingress,) = resources(template, "AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
    assert (ingress["Properties"]["GroupId"], ingress["Properties"]["FromPort"]) == ("sg-0123456789abcdef0", 5432)
    # the function's group allows nothing out but HTTPS to the VPC: the new egress is the rule's other half
    (egress,) = resources(template, "AWS::EC2::SecurityGroupEgress").values()
    assert (egress["Properties"]["GroupId"], egress["Properties"]["DestinationSecurityGroupId"]) == (
        {"Fn::GetAtt": [sg_id, "GroupId"]}, "sg-0123456789abcdef0")


def test_a_registry_with_additions_still_passes_every_compliance_pack(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stack = FixedZonesStack(app, "Test", availability_zones=["eu-west-1a", "eu-west-1b"], env=cdk.Environment(account="222222222222", region="eu-west-1"))
    network = IsolatedNetwork(stack, "Network", availability_zones=stack.availability_zones, cidr="10.10.0.0/16")
    registry = ModelRegistry(stack, "Registry", model_package_group_name="acme-churn", vpc=network.vpc,
                             release_pipeline=codepipeline.Pipeline.from_pipeline_arn(stack, "Pipeline", PIPELINE_ARN))
    registry.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["arn:aws:sns:eu-west-1:222222222222:other"]))
    registry.grant_read(registry)
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


# -- grant_read ------------------------------------------------------------------------------------------------

GROUP_ARN = "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/acme-churn"
PACKAGES_ARN = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/*"


def read_statements(group_arn: Any, packages_arn: Any) -> list[dict[str, Any]]:
    return [
        {"Effect": "Allow", "Action": "sagemaker:DescribeModelPackageGroup", "Resource": group_arn},
        {"Effect": "Allow", "Action": "sagemaker:DescribeModelPackage", "Resource": packages_arn},
        {"Effect": "Allow", "Action": "sagemaker:ListModelPackages", "Resource": "*"},
    ]


def default_policy(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = resources(template, "AWS::IAM::Policy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_grant_read_lets_a_role_of_this_account_describe_the_group_and_read_its_versions() -> None:
    stack, registry = standalone()
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    grant = registry.grant_read(reader)
    assert grant.success
    template = Template.from_stack(stack).to_json()
    assert default_policy(template) == read_statements(GROUP_ARN, PACKAGES_ARN)
    assert "ModelPackageGroupPolicy" not in one(template, "AWS::SageMaker::ModelPackageGroup")  # same account: nothing to share


def test_grant_read_to_the_registry_itself_adds_only_what_its_policy_lacks() -> None:
    stack, registry = standalone()
    registry.grant_read(registry)
    added = [s for s in function_policy(Template.from_stack(stack).to_json()) if "Sid" not in s]
    # DescribeModelPackage on the versions and ListModelPackages on * are already there (ReadThisGroupsPackages, ListPackages)
    assert added == [{"Effect": "Allow", "Action": "sagemaker:DescribeModelPackageGroup", "Resource": GROUP_ARN}]


def test_grant_read_to_another_accounts_role_lets_it_in_through_the_groups_policy() -> None:
    stack, registry = standalone(read_accounts=["444444444444"])
    reader = iam.Role.from_role_arn(stack, "Reader", "arn:aws:iam::333333333333:role/model-reader")
    registry.grant_read(reader)
    registry.grant_read(reader)  # once is enough
    registry.grant_read(iam.Role.from_role_arn(stack, "Shared", "arn:aws:iam::444444444444:role/any"))  # its account is shared already
    statements = one(Template.from_stack(stack).to_json(), "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupPolicy"]["Statement"]
    granted = {"AWS": ["arn:aws:iam::333333333333:role/model-reader"]}
    assert statements[3:] == [  # granted principals read, they do not create models (only the serving accounts do)
        {"Sid": "GrantedPrincipalsDescribeGroup", "Effect": "Allow", "Principal": granted,
         "Action": ["sagemaker:DescribeModelPackageGroup"], "Resource": GROUP_ARN},
        {"Sid": "GrantedPrincipalsReadPackages", "Effect": "Allow", "Principal": granted,
         "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"], "Resource": PACKAGES_ARN},
    ]
    assert [s["Principal"] for s in statements[:3]] == [{"AWS": ["arn:aws:iam::444444444444:root"]}] * 3


def test_grant_read_takes_a_grantable_only() -> None:
    _, registry = standalone()
    with pytest.raises(PropsError, match=r"^ModelRegistry: grantee: must be an iam.IGrantable \(got 'arn:aws:iam::"):
        registry.grant_read("arn:aws:iam::222222222222:role/reader")  # type: ignore[arg-type]


# -- another app's or account's group ------------------------------------------------------------------------------


def consumer_stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context=CDK_CONTEXT), "Consumer", env=cdk.Environment(account="333333333333", region="eu-west-1"))


def test_a_group_imported_by_name_is_the_other_accounts_and_grants_read_on_it() -> None:
    stack = consumer_stack()
    group = ModelRegistry.from_model_package_group_name(stack, "Churn", "acme-churn", account="222222222222")
    assert isinstance(group, ModelPackageGroupReference)
    assert (group.model_package_group_name, group.account, group.region) == ("acme-churn", "222222222222", "eu-west-1")
    assert (group.model_package_group_arn, group.model_packages_arn) == (GROUP_ARN, PACKAGES_ARN)
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    assert group.grant_read(reader).success
    assert default_policy(Template.from_stack(stack).to_json()) == read_statements(GROUP_ARN, PACKAGES_ARN)


def test_a_group_imported_by_name_defaults_to_the_stacks_account_and_region() -> None:
    stack = consumer_stack()
    group = ModelRegistry.from_model_package_group_name(stack, "Churn", "acme-churn")
    assert (group.account, group.region) == ("333333333333", "eu-west-1")


def test_a_group_imported_by_arn_is_taken_apart() -> None:
    stack = consumer_stack()
    group = ModelRegistry.from_model_package_group_arn(stack, "Churn", GROUP_ARN)
    assert (group.model_package_group_name, group.account, group.region) == ("acme-churn", "222222222222", "eu-west-1")
    assert (group.model_package_group_arn, group.model_packages_arn) == (GROUP_ARN, PACKAGES_ARN)
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    group.grant_read(reader)
    assert default_policy(Template.from_stack(stack).to_json()) == read_statements(GROUP_ARN, PACKAGES_ARN)


def test_a_group_arn_known_at_deploy_time_only_is_split_by_cloudformation() -> None:
    stack = consumer_stack()
    group = ModelRegistry.from_model_package_group_arn(stack, "Churn", cdk.Fn.import_value("ChurnGroupArn"))
    rendered = json.dumps(stack.resolve(group.model_packages_arn))
    assert '"Fn::Split"' in rendered and '"Fn::ImportValue": "ChurnGroupArn"' in rendered
    assert stack.resolve(group.model_packages_arn)["Fn::Join"][1][-1] == "/*"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: ModelRegistry.from_model_package_group_name(s, "G", "acme_churn"), r"^ModelRegistry: group_name: must be 1-63 letters"),
        (lambda s: ModelRegistry.from_model_package_group_name(s, "G", "acme-churn", account="2222"),
         r"^ModelRegistry: account: must be a 12-digit AWS account id \(got '2222'\)$"),
        (lambda s: ModelRegistry.from_model_package_group_name(s, "G", "acme-churn", region="Ireland"),
         r"^ModelRegistry: region: must be an AWS region name like eu-west-1 \(got 'Ireland'\)$"),
        (lambda s: ModelRegistry.from_model_package_group_arn(s, "G", PACKAGES_ARN), r"^ModelRegistry: arn: must be a model package group ARN"),
        (lambda s: ModelRegistry.from_model_package_group_arn(s, "G", "acme-churn"), r"^ModelRegistry: arn: must be a model package group ARN"),
        (lambda s: ModelRegistry.from_model_package_group_arn(s, "G", 7), r"^ModelRegistry: arn: must be a string \(got 7\)$"),
    ],
    ids=["bad-name", "bad-account", "bad-region", "package-arn", "not-an-arn", "not-a-string"],
)
def test_bad_imports_are_refused(call: Any, message: str) -> None:
    with pytest.raises(PropsError, match=message):
        call(consumer_stack())


def test_every_public_attribute_exists_with_or_without_the_optional_props() -> None:
    names = ["model_package_group", "model_package_group_name", "model_package_group_arn", "model_packages_arn", "read_accounts",
             "approved_model_parameter_name", "encryption_key", "notification_topic", "dead_letter_queue", "security_group", "role",
             "policy", "function", "rule", "dead_letter_alarm", "grant_principal", "connections"]
    stack = new_stack()
    for registry in (build_in(stack), build_in(cdk.Stack(stack.node.root, "Other"), notification_topic=topic_in(stack),
                                               encryption_key=kms.Key(stack, "K", enable_key_rotation=True), read_accounts=["333333333333"])):
        missing = [n for n in names if getattr(registry, n) is None]
        assert missing == []
