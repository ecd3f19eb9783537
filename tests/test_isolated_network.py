"""IsolatedNetwork on its own: what it creates, what it adopts, and how it rejects bad props."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from mlops_constructs import DEFAULT_INTERFACE_ENDPOINTS, IsolatedNetwork, PropsError
from tests.conftest import CDK_CONTEXT

ENV = cdk.Environment(account="123456789012", region="eu-west-1")
ZONES = ["eu-west-1a", "eu-west-1b"]


def new_stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context=CDK_CONTEXT), "Test", env=ENV)


def endpoint_services(template: Template, endpoint_type: str) -> set[str]:
    found = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": endpoint_type}})
    names = set()
    for resource in found.values():
        service = resource["Properties"]["ServiceName"]
        if not isinstance(service, str):  # {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
            service = "".join(p if isinstance(p, str) else ENV.region for p in service["Fn::Join"][1])
        names.add(service)
    return names


def test_creates_isolated_vpc_with_endpoints_and_encrypted_flow_logs() -> None:
    stack = new_stack()
    network = IsolatedNetwork(stack, "Network", availability_zones=ZONES, cidr="10.40.0.0/16")
    template = Template.from_stack(stack)

    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 2)
    for forbidden in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::VPCGatewayAttachment"):
        template.resource_count_is(forbidden, 0)
    template.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    assert [s.availability_zone for s in network.vpc.isolated_subnets] == ZONES

    assert endpoint_services(template, "Gateway") == {"com.amazonaws.eu-west-1.s3", "com.amazonaws.eu-west-1.dynamodb"}
    # The default interface endpoints, each by the AWS service name it connects to: exactly these 13.
    assert endpoint_services(template, "Interface") == {
        f"com.amazonaws.eu-west-1.{service}"
        for service in (
            "sagemaker.api", "sagemaker.runtime", "sts", "logs", "monitoring", "ecr.api", "ecr.dkr", "kms", "states", "events", "ssm", "sqs", "sns",
        )
    }
    assert sorted(network.interface_endpoints) == sorted(DEFAULT_INTERFACE_ENDPOINTS)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 13 + 2)  # one resource per service: no duplicate endpoint
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}).values():
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
        assert len(endpoint["Properties"]["SecurityGroupIds"]) == 1

    # The endpoint security group admits exactly HTTPS from the VPC's own CIDR.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "VPC interface endpoints: HTTPS from inside the VPC only",
            "SecurityGroupIngress": [{"CidrIp": "10.40.0.0/16", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp", "Description": "HTTPS from inside the VPC"}],
        },
    )

    vpc_id = stack.get_logical_id(network.vpc.node.default_child)
    log_group_id = stack.get_logical_id(network.flow_log_group.node.default_child)
    key_id = stack.get_logical_id(network.encryption_key.node.default_child)
    # The VPC's flow logs go to the construct's own log group, encrypted with its own rotated key.
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "ResourceId": {"Ref": vpc_id}, "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs",
         "LogGroupName": {"Ref": log_group_id}},
    )
    template.resource_count_is("AWS::Logs::LogGroup", 1)
    template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}, "RetentionInDays": 365})
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    # The default security group is stripped of its rules.
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)
    # Flow logs are delivered with a managed policy scoped to the log group, not an inline one.
    template.resource_count_is("AWS::IAM::Policy", 0)
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {"PolicyDocument": {"Statement": [Match.object_like({"Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"], "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]}})]}},
    )


def test_flow_log_key_admits_cloudwatch_logs_of_this_account_only() -> None:
    stack = new_stack()
    IsolatedNetwork(stack, "Network", availability_zones=ZONES)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchLogsOfThisAccount",
                                "Principal": {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}},
                                "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                                # any log group of this account and region, and nothing else
                                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Join": ["", [
                                    "arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":log-group:*",
                                ]]}}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_codepipeline_endpoint_is_opt_in_and_duplicates_collapse() -> None:
    stack = new_stack()
    network = IsolatedNetwork(stack, "Network", availability_zones=ZONES, interface_endpoints=["sts", "codepipeline", "sts"])
    assert sorted(network.interface_endpoints) == ["codepipeline", "sts"]
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 4)  # + s3, dynamodb
    assert endpoint_services(template, "Interface") == {"com.amazonaws.eu-west-1.codepipeline", "com.amazonaws.eu-west-1.sts"}


def test_adopts_an_existing_vpc_and_skips_endpoints_it_already_has() -> None:
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Existing",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=ZONES,
        vpc_cidr_block="10.50.0.0/16",
        isolated_subnet_ids=["subnet-0aaa", "subnet-0bbb"],
        isolated_subnet_route_table_ids=["rtb-0aaa", "rtb-0bbb"],
    )
    network = IsolatedNetwork(stack, "Network", existing_vpc=vpc, skip_endpoints=["s3", "logs", "ssm"])
    template = Template.from_stack(stack)

    assert network.vpc is vpc
    assert network.flow_log_group is None
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.resource_count_is("AWS::EC2::FlowLog", 0)
    assert "logs" not in network.interface_endpoints and "ssm" not in network.interface_endpoints
    assert sorted(network.gateway_endpoints) == ["dynamodb"]
    template.resource_count_is("AWS::EC2::VPCEndpoint", len(DEFAULT_INTERFACE_ENDPOINTS) - 2 + 1)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"VpcId": "vpc-0123456789abcdef0", "SubnetIds": ["subnet-0aaa", "subnet-0bbb"], "VpcEndpointType": "Interface"},
    )
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"RouteTableIds": ["rtb-0aaa", "rtb-0bbb"]})
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup", {"SecurityGroupIngress": [Match.object_like({"CidrIp": "10.50.0.0/16", "FromPort": 443})]}
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cidr": "10.0.0.0/16"}, r"IsolatedNetwork: cidr: must not be given with existing_vpc: the VPC already has its own \(got '10.0.0.0/16'\)"),
        ({"availability_zones": ZONES}, r"IsolatedNetwork: availability_zones: must not be given with existing_vpc"),
        ({"flow_log_retention": logs.RetentionDays.ONE_MONTH}, r"IsolatedNetwork: flow_log_retention: must not be given with existing_vpc: an adopted VPC's flow logs stay with its owner"),
        ({"removal_policy": cdk.RemovalPolicy.DESTROY}, r"IsolatedNetwork: removal_policy: must not be given with existing_vpc"),
    ],
)
def test_existing_vpc_excludes_creation_props(kwargs: dict, message: str) -> None:
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Existing", vpc_id="vpc-1", availability_zones=ZONES, isolated_subnet_ids=["s-1", "s-2"])
    with pytest.raises(PropsError, match=message):
        IsolatedNetwork(stack, "Network", existing_vpc=vpc, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interface_endpoints": ["sagemaker-api", "sagemaker"]}, r"interface_endpoints: each entry must be one of codepipeline, ecr-api, .* \(got 'sagemaker'\)"),
        ({"interface_endpoints": "sts"}, r"interface_endpoints: must be a list of endpoint names, not a string \(got 'sts'\)"),
        ({"skip_endpoints": ["S3"]}, r"skip_endpoints: each entry must be one of .*dynamodb.*s3.* \(got 'S3'\)"),
    ],
)
def test_unknown_endpoint_names_are_rejected_with_the_allowed_names(kwargs: dict, message: str) -> None:
    with pytest.raises(PropsError, match=message):
        IsolatedNetwork(new_stack(), "Network", availability_zones=ZONES, **kwargs)


def test_endpoints_for_an_adopted_vpc_live_in_the_network_constructs_own_stack() -> None:
    app = cdk.App(context=CDK_CONTEXT)
    shared = cdk.Stack(app, "SharedVpc", env=ENV)
    cdk.CfnWaitConditionHandle(shared, "Placeholder")  # a stack must hold at least one resource
    vpc = ec2.Vpc.from_vpc_attributes(
        shared, "TeamVpc", vpc_id="vpc-0123456789abcdef0", availability_zones=ZONES, vpc_cidr_block="10.50.0.0/16",
        isolated_subnet_ids=["subnet-0aaa", "subnet-0bbb"], isolated_subnet_route_table_ids=["rtb-0aaa", "rtb-0bbb"],
    )
    ml = cdk.Stack(app, "Ml", env=ENV)
    network = IsolatedNetwork(ml, "Network", existing_vpc=vpc, interface_endpoints=["sts"])
    assert network.interface_endpoints["sts"].node.path == "Ml/Network/StsEndpoint"
    Template.from_stack(ml).resource_count_is("AWS::EC2::VPCEndpoint", 3)
    assert not [c for c in shared.node.find_all() if isinstance(c, ec2.CfnVPCEndpoint)]


def test_skip_endpoints_given_as_a_string_is_rejected() -> None:
    with pytest.raises(PropsError, match=r"skip_endpoints: must be a list of endpoint names, not a string \(got 's3'\)"):
        IsolatedNetwork(new_stack(), "Network", availability_zones=ZONES, skip_endpoints="s3")


def test_named_zones_alone_leave_a_lookup_and_a_fixed_zones_stack_removes_it(tmp_path) -> None:
    import json

    from mlops_constructs import FixedZonesStack

    def missing(stack_class, **extra) -> list:  # type: ignore[no-untyped-def]
        outdir = tmp_path / stack_class.__name__
        app = cdk.App(outdir=str(outdir), context=CDK_CONTEXT)
        stack = stack_class(app, "Net", env=ENV, **extra)
        IsolatedNetwork(stack, "Network", availability_zones=ZONES, cidr="10.40.0.0/16")
        app.synth()
        return json.loads((outdir / "manifest.json").read_text()).get("missing", [])

    assert [m["provider"] for m in missing(cdk.Stack)] == ["availability-zones"]  # CDK's Vpc reads stack.availability_zones
    assert missing(FixedZonesStack, availability_zones=ZONES) == []


def test_fixed_zones_stack_needs_zones() -> None:
    from mlops_constructs import FixedZonesStack

    with pytest.raises(PropsError, match=r"FixedZonesStack: availability_zones: must be a non-empty list of zone names \(got \[\]\)"):
        FixedZonesStack(cdk.App(), "Net", availability_zones=[])


def _endpoint_subnets(template: Template) -> dict[str, list]:
    return {
        resource["Properties"]["ServiceName"] if isinstance(resource["Properties"]["ServiceName"], str) else str(resource["Properties"]["ServiceName"]):
        resource["Properties"].get("SubnetIds") or resource["Properties"].get("RouteTableIds")
        for resource in template.find_resources("AWS::EC2::VPCEndpoint").values()
    }


def test_interface_endpoints_go_into_the_zones_given_and_gateway_endpoints_stay_on_every_route_table() -> None:
    stack = new_stack()
    network = IsolatedNetwork(stack, "Network", availability_zones=["eu-west-1a", "eu-west-1b", "eu-west-1c"],
                              interface_endpoints=("kms", "sts"), interface_endpoint_zones=["eu-west-1b"])
    template = Template.from_stack(stack)
    subnet_b = next(s for s in network.vpc.isolated_subnets if s.availability_zone == "eu-west-1b")
    interface = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    assert len(interface) == 2
    for resource in interface.values():
        assert resource["Properties"]["SubnetIds"] == [{"Ref": stack.get_logical_id(subnet_b.node.default_child)}]
    for resource in template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}}).values():
        assert len(resource["Properties"]["RouteTableIds"]) == 3


def test_interface_endpoints_are_in_every_zone_by_default() -> None:
    stack = new_stack()
    IsolatedNetwork(stack, "Network", availability_zones=ZONES, interface_endpoints=("kms",))
    interface = Template.from_stack(stack).find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    assert [len(r["Properties"]["SubnetIds"]) for r in interface.values()] == [2]


@pytest.mark.parametrize(("zones", "expected"), [
    ("eu-west-1a", r"interface_endpoint_zones: must be a non-empty list of zone names \(got 'eu-west-1a'\)"),
    ([], r"interface_endpoint_zones: must be a non-empty list of zone names \(got \[\]\)"),
    (["eu-west-1c"], r"interface_endpoint_zones: each entry must be one of eu-west-1a, eu-west-1b \(got 'eu-west-1c'\)"),
])
def test_interface_endpoint_zones_must_be_some_of_the_vpcs_zones(zones, expected: str) -> None:
    with pytest.raises(PropsError, match=expected):
        IsolatedNetwork(new_stack(), "Network", availability_zones=ZONES, interface_endpoint_zones=zones)
