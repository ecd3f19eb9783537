"""Policy statements several constructs need for SageMaker workloads in a VPC."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from mlops_constructs._arns import arn


def network_interfaces_arn(stack: Stack) -> str:
    """Every network interface of the stack's account and region: those SageMaker creates for a job
    or model do not exist before it creates them."""
    return arn(stack, "ec2", "network-interface", "*")


def sagemaker_vpc_statements(
    stack: Stack, subnet_ids: Sequence[str], security_group: ec2.ISecurityGroup, interfaces_sid: str, *, interfaces_arn: str | None = None
) -> list[iam.PolicyStatement]:
    """What a SageMaker execution role needs to attach its jobs or model to the subnets ``subnet_ids``
    with ``security_group``: the EC2 Describe calls (no resource-level permissions) and network
    interface management limited to those subnets and that group. ``interfaces_arn``: the stack's
    ``network_interfaces_arn``, when the caller has it already."""
    return [
        iam.PolicyStatement(
            sid="DescribeVpc",
            actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid=interfaces_sid,
            actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
            resources=[
                interfaces_arn or network_interfaces_arn(stack),
                *(arn(stack, "ec2", "subnet", subnet_id) for subnet_id in subnet_ids),
                arn(stack, "ec2", "security-group", security_group.security_group_id),
            ],
        ),
    ]
