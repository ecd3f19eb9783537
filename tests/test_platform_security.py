"""Security properties of every synthesized stage of the default configuration."""

from __future__ import annotations

import re

from typing import Any

import pytest

from mlops_constructs.config import STAGES
from stacks.release_stack import release_stack_number
from tests.conftest import SynthesizedPlatform, resources

NO_RESOURCE_LEVEL_PERMISSIONS = {
    # Not strictly: model-package is an optional resource of it, but no ARN is documented that authorizes
    # listing a group (acknowledged, with the reason, for tests/test_iam_reference.py).
    "sagemaker:ListModelPackages",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ecr:GetAuthorizationToken",
    "codepipeline:ListPipelines",  # the platform pipeline finds the release pipelines to start
    "cloudwatch:PutMetricData",  # limited by a cloudwatch:namespace condition where used
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
STATEFUL_TYPES = {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::ECR::Repository", "AWS::SageMaker::ModelPackageGroup"}


def all_statements(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(logical id, resource type, statement) for every policy statement anywhere in a template."""
    found = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        docs = [props.get(k) for k in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument", "RepositoryPolicyText")]
        docs += [p.get("PolicyDocument") for p in props.get("Policies", [])]
        for doc in docs:
            if isinstance(doc, dict):
                for statement in doc.get("Statement", []):
                    found.append((logical_id, resource["Type"], statement))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def account_of(platform: SynthesizedPlatform, path: str) -> str:
    """The account a stack deploys to: its stage's, or the tooling account for the delivery stack."""
    top = path.split("/")[0]
    return platform.config.accounts.tooling if top in ("Delivery", "Releases") else platform.config.accounts.for_stage(top.lower())


def test_every_stage_has_network_and_storage_stacks_with_stable_names(platform: SynthesizedPlatform) -> None:
    expected = [f"{s.capitalize()}/{k}" for s in STAGES for k in ("Network", "Storage")]
    expected += [f"Dev/Models-1/{kind}-{m.name}" for m in platform.config.models for kind in ("Registry", "Training")]
    expected += [f"{s.capitalize()}/Release-{m.name}/Endpoint" for s in STAGES for m in platform.config.models if m.realtime]
    expected += [f"{s.capitalize()}/Release-{m.name}/Batch" for s in STAGES for m in platform.config.models if m.batch_in(s)]
    expected += ["Delivery", "Releases/Tooling", *{platform.release_path(m.name) for m in platform.config.models}]
    assert sorted(platform.templates) == sorted(expected)
    for stage_name, stage in platform.stages.items():
        assert stage.network.stack_name == f"mlops-demo-{stage_name}-network"
        assert stage.storage.stack_name == f"mlops-demo-{stage_name}-storage"
        assert stage.account == platform.config.accounts.for_stage(stage_name)
        assert stage.region == "eu-west-1"


def test_termination_protection_outside_dev_only(platform: SynthesizedPlatform) -> None:
    for path, stack in platform.stacks():
        assert stack.termination_protection is (not path.startswith("Dev/")), path


def test_no_route_to_the_internet_anywhere(platform: SynthesizedPlatform) -> None:
    for path, template in platform.templates.items():
        for forbidden in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway", "AWS::EC2::EIP", "AWS::EC2::VPCGatewayAttachment"):
            assert not resources(template, forbidden), (path, forbidden)
        for route in resources(template, "AWS::EC2::Route").values():
            raise AssertionError(f"{path}: unexpected route {route}")
        for subnet in resources(template, "AWS::EC2::Subnet").values():
            assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_each_stage_vpc_uses_its_cidr_and_zones(platform: SynthesizedPlatform) -> None:
    for stage in STAGES:
        template = platform.templates[f"{stage.capitalize()}/Network"]
        (vpc,) = resources(template, "AWS::EC2::VPC").values()
        assert vpc["Properties"]["CidrBlock"] == platform.config.stage(stage).vpc_cidr
        zones = sorted(s["Properties"]["AvailabilityZone"] for s in resources(template, "AWS::EC2::Subnet").values())
        assert zones == sorted(platform.config.availability_zones)


def test_codepipeline_endpoint_only_where_used(platform: SynthesizedPlatform) -> None:
    def services(stage: str) -> set[str]:
        names = set()
        for ep in resources(platform.templates[f"{stage}/Network"], "AWS::EC2::VPCEndpoint").values():
            name = ep["Properties"]["ServiceName"]  # a literal, or a Join around {"Ref": "AWS::Region"}
            names.add(name.removeprefix("com.amazonaws.eu-west-1") if isinstance(name, str) else name["Fn::Join"][1][-1])
        return names

    assert ".codepipeline" in services("Dev")
    assert ".codepipeline" not in services("Staging") | services("Prod")
    # what the endpoints' models, drift jobs and batch models call from the VPC (tests/test_vpc_endpoints.py derives it)
    serving = {".sagemaker.api", ".logs", ".monitoring", ".ecr.api", ".ecr.dkr", ".kms", ".s3", ".dynamodb"}
    assert services("Prod") == services("Staging") == serving
    # dev's approval functions also read the registry, write the parameter, alert, assume the release role, start the
    # release pipelines and send X-Ray traces from inside the VPC
    assert services("Dev") == serving | {".ssm", ".sns", ".sqs", ".sts", ".codepipeline", ".xray"}


def test_every_bucket_is_encrypted_tls_only_versioned_and_private(platform: SynthesizedPlatform) -> None:
    for stage in STAGES:
        template = platform.templates[f"{stage.capitalize()}/Storage"]
        (key_id,) = resources(template, "AWS::KMS::Key")
        buckets = resources(template, "AWS::S3::Bucket")
        assert len(buckets) == 3
        storage = platform.stages[stage].storage
        access_log_id = storage.get_logical_id(storage.store.access_log_bucket.node.default_child)  # type: ignore[arg-type]
        assert access_log_id in buckets
        policies = {p["Properties"]["Bucket"]["Ref"]: p for p in resources(template, "AWS::S3::BucketPolicy").values()}
        for logical_id, bucket in buckets.items():
            props = bucket["Properties"]
            sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            if logical_id == access_log_id:
                assert sse == {"SSEAlgorithm": "AES256"}  # S3 log delivery supports SSE-S3 only
            else:
                assert sse == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
                assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": access_log_id}
            assert props["VersioningConfiguration"] == {"Status": "Enabled"}
            assert props["PublicAccessBlockConfiguration"] == {
                "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
            }
            denies = [s for s in policies[logical_id]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
            assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in denies)


def test_every_log_group_and_key_is_encrypted_and_rotated(platform: SynthesizedPlatform) -> None:
    for path, template in platform.templates.items():
        for logical_id, log_group in resources(template, "AWS::Logs::LogGroup").items():
            # encrypted with a customer managed key of the same stack
            (key_id, attribute) = log_group["Properties"]["KmsKeyId"]["Fn::GetAtt"]
            assert (template["Resources"][key_id]["Type"], attribute) == ("AWS::KMS::Key", "Arn"), (path, logical_id)
        for key in resources(template, "AWS::KMS::Key").values():
            assert key["Properties"]["EnableKeyRotation"] is True, path


def test_log_retention_follows_stage_config(platform: SynthesizedPlatform) -> None:
    for stage in STAGES:
        (log_group,) = resources(platform.templates[f"{stage.capitalize()}/Network"], "AWS::Logs::LogGroup").values()
        assert log_group["Properties"]["RetentionInDays"] == platform.config.stage(stage).log_retention_days


def test_stateful_resources_are_retained_outside_dev(platform: SynthesizedPlatform) -> None:
    # The inference API's log key (with its fixed-name log groups) is RetainExceptOnCreate: retained on every delete
    # and replacement like the rest, but deleted when the stack operation that created it rolls back, so that a
    # failed first deploy leaves nothing behind to fail the next one. It is the only one, in staging and prod.
    retained_except_on_create: set[tuple[str, str]] = set()
    for stage in platform.stages.values():
        for endpoint in stage.endpoints.values():
            if endpoint.api is not None:
                key = endpoint.api.encryption_key.node.default_child
                retained_except_on_create.add((endpoint.node.path, endpoint.get_logical_id(key)))  # type: ignore[arg-type]
    assert {path for path, _ in retained_except_on_create} == {"Staging/Release-churn/Endpoint", "Prod/Release-churn/Endpoint"}
    for path, template in platform.templates.items():
        stateful = {k: v for k, v in template["Resources"].items() if v["Type"] in STATEFUL_TYPES}
        retained = {k: (v.get("DeletionPolicy"), v.get("UpdateReplacePolicy")) for k, v in stateful.items()}
        # the default config lets dev go (retain_stateful_resources: false), except what staging and prod serve from:
        # dev's artifact store (key, buckets, repository) and its model registries; nothing else may go
        served_from = path == "Dev/Storage" or path.startswith("Dev/Models-") and "/Registry-" in path
        expected = ("Delete", "Delete") if path.startswith("Dev/") and not served_from else ("Retain", "Retain")
        for logical_id, policies in retained.items():
            if (path, logical_id) in retained_except_on_create:
                assert policies == ("RetainExceptOnCreate", "Retain"), (path, logical_id, policies)
            else:
                assert policies == expected, (path, logical_id, policies)
    stateful_count = len([1 for t in platform.templates.values() for v in t["Resources"].values() if v["Type"] in STATEFUL_TYPES])
    # per stage: flow-log key, store key, 3 buckets, repository, the endpoint's alarm key, and in staging and prod
    # (monitoring.stages) its drift checks' key; registry: key, group; training: key; delivery: key, artifact and access-log buckets; release tooling:
    # key, source, artifact and access-log buckets (a model's release pipeline stack holds none); per model in dev
    # its registry's two and training's one; lead-scoring's batch runs' key in staging and prod (its Glue database
    # and table are retained there too, and hold no data: the results are the artifact bucket's); the inference
    # API's log key in staging and prod; lead-scoring's drift checks' key and its notification topic's key in staging and prod
    assert stateful_count == 3 * 7 + 2 + 2 * (2 + 1) + 3 + 4 + 2 + 2 + 2 * 2


def test_no_action_star_and_resource_star_only_where_aws_offers_nothing_narrower(platform: SynthesizedPlatform) -> None:
    for path, template in platform.templates.items():
        for logical_id, type_, statement in all_statements(template):
            actions = as_list(statement.get("Action", []))
            assert "*" not in actions, (path, logical_id, statement)
            if any(a.endswith(":*") for a in actions) and statement["Effect"] == "Allow":
                # The one service-wide grant allowed: a key policy's standard statement that lets the
                # key's own account manage it through IAM (without it the key becomes unmanageable).
                own_root = f"arn:aws:iam::{account_of(platform, path)}:root"
                assert (type_, actions, statement["Principal"]) == ("AWS::KMS::Key", ["kms:*"], {"AWS": own_root}), (path, logical_id, statement)
            if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource", [])):
                # In a KMS key policy, "*" means the key itself; elsewhere only actions that AWS does
                # not let a policy scope to a resource may have it.
                assert type_ == "AWS::KMS::Key" or set(actions) <= NO_RESOURCE_LEVEL_PERMISSIONS, (path, logical_id, statement)


def test_artifacts_are_shared_with_staging_and_prod_from_dev_only(platform: SynthesizedPlatform) -> None:
    """Another account's root appears only in dev's artifact sharing, and in role trust policies that a
    condition narrows to one named role of that account (the delivery pipeline's cross-account roles)."""
    serving = {f"arn:aws:iam::{platform.config.accounts.staging}:root", f"arn:aws:iam::{platform.config.accounts.prod}:root"}
    trusts = 0
    for path, template in platform.templates.items():
        cross_account = [
            (logical_id, s) for logical_id, _, s in all_statements(template)
            if s["Effect"] == "Allow" and isinstance(s.get("Principal"), dict) and "AWS" in s["Principal"]
            and any(":root" in str(p) and account_of(platform, path) not in str(p) for p in as_list(s["Principal"]["AWS"]))
        ]
        sharing = [(logical_id, s) for logical_id, s in cross_account if s["Action"] != "sts:AssumeRole"]
        for _, trust in [(logical_id, s) for logical_id, s in cross_account if s["Action"] == "sts:AssumeRole"]:
            (account,) = {re.fullmatch(r"arn:aws:iam::(\d{12}):root", p)[1] for p in as_list(trust["Principal"]["AWS"])}  # type: ignore[index]
            (operator, condition), = trust["Condition"].items()
            assert operator in ("ArnEquals", "ArnLike") and list(condition) == ["aws:PrincipalArn"], trust
            for arn in as_list(condition["aws:PrincipalArn"]):
                # one role, or one name pattern of the platform's roles (one per model, e.g. <project>-*-approval)
                assert re.fullmatch(rf"arn:aws:iam::{account}:role/{platform.config.project}-([a-z0-9-]+|[a-z0-9-]*\*[a-z0-9-]+)", arn), (path, arn)
            trusts += 1
        if path != "Dev/Storage":
            assert sharing == [], path
            continue
        sids = sorted(s["Sid"] for _, s in sharing)
        assert sids == ["ServingAccountsDecryptArtifactsAndImages", "ServingAccountsListBaselines", "ServingAccountsPullImages",
                        "ServingAccountsReadArtifacts"]
        for _, statement in sharing:
            assert set(as_list(statement["Principal"]["AWS"])) == serving
            assert not {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey", "ecr:PutImage"} & set(as_list(statement["Action"]))
    # the release role (tooling), the approved-model reader (dev, one model), the smoke test role (staging)
    assert trusts == 3


@pytest.mark.parametrize("stage", STAGES)
def test_endpoint_security_group_admits_only_https_from_the_vpc(platform: SynthesizedPlatform, stage: str) -> None:
    template = platform.templates[f"{stage.capitalize()}/Network"]
    network = platform.stages[stage].network
    endpoint_group_id = network.get_logical_id(network.network.endpoint_security_group.node.default_child)  # type: ignore[arg-type]
    groups = [g for i, g in resources(template, "AWS::EC2::SecurityGroup").items() if i == endpoint_group_id]
    assert len(groups) == 1
    assert groups[0]["Properties"]["GroupDescription"] == "VPC interface endpoints: HTTPS from inside the VPC only"
    # and it is the group of every interface endpoint
    interface = [e for e in resources(template, "AWS::EC2::VPCEndpoint").values() if e["Properties"]["VpcEndpointType"] == "Interface"]
    assert interface and all(e["Properties"]["SecurityGroupIds"] == [{"Fn::GetAtt": [endpoint_group_id, "GroupId"]}] for e in interface)
    assert groups[0]["Properties"]["SecurityGroupIngress"] == [
        {"CidrIp": platform.config.stage(stage).vpc_cidr, "Description": "HTTPS from inside the VPC", "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}
    ]
    # no egress: a dummy rule that matches nothing is how CloudFormation says so
    assert groups[0]["Properties"]["SecurityGroupEgress"] == [
        {"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "FromPort": 252, "IpProtocol": "icmp", "ToPort": 86}
    ]


def test_three_models_synthesize_every_stage(three_model_platform: SynthesizedPlatform) -> None:
    assert [m.name for m in three_model_platform.config.models] == ["churn", "fraud", "demand-forecast"]
    # network and storage per stage, a registry and a training stack per model (none has an approved
    # version: no endpoint), the delivery stack, the release tooling and the stacks of the release pipelines
    releases = {release_stack_number(m) for m in three_model_platform.config.models}
    assert len(three_model_platform.templates) == 6 + 2 * 3 + 1 + 1 + len(releases)
    assert {p for p in three_model_platform.templates if "Registry" in p} == {
        "Dev/Models-1/Registry-churn", "Dev/Models-1/Registry-fraud", "Dev/Models-1/Registry-demand-forecast",
    }


def test_each_stages_interface_endpoints_are_in_its_configured_zones(platform) -> None:
    for stage, count in (("Dev", 1), ("Staging", 2), ("Prod", 3)):
        interface = platform.template(f"{stage}/Network").find_resources(
            "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
        assert interface and {len(r["Properties"]["SubnetIds"]) for r in interface.values()} == {count}, stage


def _publishers_allowed(template: dict[str, Any], topic_id: str, service: str) -> list[dict[str, Any]]:
    """The Allow statements of the topic policies of ``topic_id`` that let ``service`` publish to it."""
    found = []
    for policy in resources(template, "AWS::SNS::TopicPolicy").values():
        if {"Ref": topic_id} not in policy["Properties"]["Topics"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow" and statement.get("Principal") == {"Service": service} \
                    and "sns:Publish" in as_list(statement["Action"]):
                found.append(statement)
    return found


@pytest.mark.parametrize("which", ["platform", "three_model_platform"])
def test_every_alarm_can_notify_its_topic(which: str, request: pytest.FixtureRequest) -> None:
    """Each alarm action's topic lets this account's alarms publish (its policy replaced SNS's default one, which
    did), and its key lets CloudWatch use it; no alarm notifies a topic of another stack, which could not be checked."""
    platform: SynthesizedPlatform = request.getfixturevalue(which)
    checked = 0
    for path, template in platform.templates.items():
        topics = resources(template, "AWS::SNS::Topic")
        keys = resources(template, "AWS::KMS::Key")
        for alarm_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
            for action in alarm["Properties"].get("AlarmActions", []) + alarm["Properties"].get("OKActions", []):
                assert isinstance(action, dict) and set(action) == {"Ref"} and action["Ref"] in topics, (path, alarm_id, action)
                statements = _publishers_allowed(template, action["Ref"], "cloudwatch.amazonaws.com")
                assert statements, f"{path}: alarm {alarm_id} notifies {action['Ref']}, whose policy does not let CloudWatch publish"
                assert all(s["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}} for s in statements)
                key = topics[action["Ref"]]["Properties"]["KmsMasterKeyId"]
                key_id = key["Fn::GetAtt"][0] if "Fn::GetAtt" in key else key["Ref"]
                key_users = [s for s in keys[key_id]["Properties"]["KeyPolicy"]["Statement"]
                             if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and s["Effect"] == "Allow"]
                assert key_users and {"kms:Decrypt", "kms:GenerateDataKey"} <= set(as_list(key_users[0]["Action"])), (path, key_id)
                checked += 1
    # the endpoints', drift monitors', batch runs' and dead-letter queues' alarms (not a vacuous pass)
    assert checked >= {"platform": 20, "three_model_platform": 6}[which]


def _key_of_queue(template: dict[str, Any], queue_arn: Any) -> dict[str, Any]:
    (queue_id, _), = [(q, r) for q, r in resources(template, "AWS::SQS::Queue").items() if queue_arn == {"Fn::GetAtt": [q, "Arn"]}]
    key = resources(template, "AWS::SQS::Queue")[queue_id]["Properties"]["KmsMasterKeyId"]
    return resources(template, "AWS::KMS::Key")[key["Fn::GetAtt"][0]]


@pytest.mark.parametrize("which", ["platform", "three_model_platform"])
def test_every_dead_letter_queue_key_admits_the_service_that_writes_it(which: str, request: pytest.FixtureRequest) -> None:
    """A rule's dead-letter queue is written by EventBridge, a schedule's by Scheduler: each queue's key lets that service
    use it, with aws:SourceAccount checked only if the request carries it (AWS documents no such key on these requests;
    a plain StringEquals would then drop every dead letter, silently)."""
    platform: SynthesizedPlatform = request.getfixturevalue(which)
    checked = 0
    for path, template in platform.templates.items():
        writers = [("events.amazonaws.com", t["DeadLetterConfig"]["Arn"]) for rule in resources(template, "AWS::Events::Rule").values()
                   for t in rule["Properties"].get("Targets", []) if "DeadLetterConfig" in t]
        writers += [("scheduler.amazonaws.com", s["Properties"]["Target"]["DeadLetterConfig"]["Arn"])
                    for s in resources(template, "AWS::Scheduler::Schedule").values() if "DeadLetterConfig" in s["Properties"]["Target"]]
        for service, queue_arn in writers:
            statements = [s for s in _key_of_queue(template, queue_arn)["Properties"]["KeyPolicy"]["Statement"]
                          if s.get("Principal") == {"Service": service} and s["Effect"] == "Allow"]
            assert statements, f"{path}: the key of {queue_arn} does not admit {service}"
            assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(as_list(statements[0]["Action"]))
            assert statements[0]["Condition"] == {"StringEqualsIfExists": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}, path
            checked += 1
    assert checked >= {"platform": 8, "three_model_platform": 3}[which]


@pytest.mark.parametrize("which", ["platform", "three_model_platform"])
def test_every_rule_with_a_dead_letter_queue_alarms_on_events_lost_on_the_way_there(which: str, request: pytest.FixtureRequest) -> None:
    """An event EventBridge can neither deliver nor put in the target's dead-letter queue (the queue's key or policy
    refuses it, the queue is gone) is counted only in AWS/Events InvocationsFailedToBeSentToDlq, per rule
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html): every such rule has an alarm on it,
    with an action, that treats no data (the metric is sent only when not zero) as no alarm."""
    platform: SynthesizedPlatform = request.getfixturevalue(which)
    checked = 0
    for path, template in platform.templates.items():
        watched = {}
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
            props = alarm["Properties"]
            if props.get("Namespace") == "AWS/Events" and props.get("MetricName") == "InvocationsFailedToBeSentToDlq":
                (dimension,) = props["Dimensions"]
                assert dimension["Name"] == "RuleName", path
                assert props["Statistic"] == "Sum" and props["Threshold"] == 1 and props["TreatMissingData"] == "notBreaching", path
                assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and props.get("AlarmActions"), path
                watched[dimension["Value"]["Ref"]] = props
        for rule_id, rule in resources(template, "AWS::Events::Rule").items():
            if any("DeadLetterConfig" in target for target in rule["Properties"].get("Targets", [])):
                assert "EventBusName" not in rule["Properties"], f"{path}: {rule_id} is on a custom bus, whose metrics add EventBusName"
                assert rule_id in watched, f"{path}: no alarm on events {rule_id} could not put in its dead-letter queue"
                checked += 1
    assert checked >= {"platform": 4, "three_model_platform": 3}[which]
