"""References from a model's release stacks to its stage's network and storage stacks, by their stable
CloudFormation outputs rather than by CDK object.

A model's endpoint stack is in a stage of its own (``<Stage>/Release-<model>``), deployed by the model's
release pipeline, not with the platform's stacks; CDK allows no reference across stages. The network and
storage stacks therefore publish what the endpoints read as outputs with fixed names, and the endpoint stack
reads them with ``Fn::GetStackOutput`` (the stack name and the output name, resolved by CloudFormation at
deploy time, in the same account and region), which is what CDK itself writes for a reference within a stage.
"""

from __future__ import annotations

import functools

from aws_cdk import Intrinsic, Token
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mlops_constructs.config import PlatformConfig
from stacks.names import network_stack_name, storage_stack_name

VPC_ID_OUTPUT = "VpcId"
VPC_CIDR_OUTPUT = "VpcCidr"
STORE_KEY_ARN_OUTPUT = "StoreKeyArn"
EXECUTE_API_ENDPOINT_OUTPUT = "ExecuteApiEndpointId"
"""The stage's execute-api interface endpoint, when a model's API in the stage is private."""


def isolated_subnet_output(index: int) -> str:
    """The output of the stage's ``index``-th isolated subnet (one per availability zone, in zone order)."""
    return f"IsolatedSubnet{index + 1}"


def isolated_route_table_output(index: int) -> str:
    """The output of the route table of the stage's ``index``-th isolated subnet."""
    return f"IsolatedRouteTable{index + 1}"


@functools.cache
def stack_output(stack_name: str, region: str, output: str) -> str:
    """A string token for output ``output`` of stack ``stack_name`` in ``region``.

    An ``Intrinsic``, resolved in jsii's Node process (a Python ``IResolvable`` would be called back from there
    for every use at synthesis), made once per output: a token belongs to no scope."""
    return Token.as_string(Intrinsic({"Fn::GetStackOutput": {"StackName": stack_name, "Region": region, "OutputName": output}}))


def stage_vpc(scope: Construct, config: PlatformConfig, stage: str) -> ec2.IVpc:
    """The stage's VPC, imported from its network stack's outputs: its id, CIDR, and isolated subnets and their
    route tables (one per availability zone)."""
    network, zones = network_stack_name(config, stage), range(len(config.availability_zones))
    return ec2.Vpc.from_vpc_attributes(
        scope, "Vpc", vpc_id=stack_output(network, config.region, VPC_ID_OUTPUT), availability_zones=config.availability_zones,
        vpc_cidr_block=stack_output(network, config.region, VPC_CIDR_OUTPUT),
        isolated_subnet_ids=[stack_output(network, config.region, isolated_subnet_output(i)) for i in zones],
        isolated_subnet_route_table_ids=[stack_output(network, config.region, isolated_route_table_output(i)) for i in zones],
    )


def stage_key_arn(config: PlatformConfig, stage: str) -> str:
    """The ARN of the stage's artifact store key, from its storage stack's output."""
    return stack_output(storage_stack_name(config, stage), config.region, STORE_KEY_ARN_OUTPUT)


def stage_execute_api_endpoint(scope: Construct, config: PlatformConfig, stage: str) -> ec2.IInterfaceVpcEndpoint:
    """The stage's ``execute-api`` interface endpoint, from its network stack's output (which exists when a
    model's API in the stage is private)."""
    return ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(
        scope, "ExecuteApiEndpoint", port=443,
        vpc_endpoint_id=stack_output(network_stack_name(config, stage), config.region, EXECUTE_API_ENDPOINT_OUTPUT),
    )
