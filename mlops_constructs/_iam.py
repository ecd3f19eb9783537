"""Policy documents built in one call to CDK, and the statements several constructs need for SageMaker
workloads in a VPC."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from mlops_constructs._arns import arn


Statement = dict[str, Any]
"""One statement in IAM's own JSON grammar (``Sid``, ``Effect``, ``Action``, ``Resource``, ``Condition``)."""


def allow(sid: str | None, actions: Sequence[str], resources: Sequence[str], conditions: Mapping[str, Any] | None = None) -> Statement:
    """An ``Allow`` statement, for :func:`policy_document`."""
    statement: Statement = {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if sid is not None:
        statement["Sid"] = sid
    if conditions:
        statement["Condition"] = dict(conditions)
    return statement


def policy_document(statements: Sequence[Statement]) -> iam.PolicyDocument:
    """``statements`` as an ``iam.PolicyDocument``, made in one call to CDK.

    Each ``iam.PolicyStatement`` is a round trip to jsii's Node process; a policy of ten statements
    built from JSON is one (``iam.PolicyDocument.from_json``). CDK renders the same policy either way.
    """
    return iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)})


@functools.cache
def service_principal(service: str, source_account: str | None = None) -> iam.IPrincipal:
    """``iam.ServicePrincipal(service)``, limited by ``aws:SourceAccount`` to ``source_account`` when given.

    Made once per process and shared: a principal has no scope, a role or statement copies what it
    needs from it when it takes it, and each one made is a round trip to jsii's Node process.
    """
    principal = iam.ServicePrincipal(service)
    if source_account is None:
        return principal
    return principal.with_conditions({"StringEquals": {"aws:SourceAccount": source_account}})


def network_interfaces_arn(stack: Stack) -> str:
    """Every network interface of the stack's account and region: those SageMaker creates for a job
    or model do not exist before it creates them."""
    return arn(stack, "ec2", "network-interface", "*")


def interface_resources(stack: Stack, subnet_ids: Sequence[str], security_group: ec2.ISecurityGroup, interfaces_arn: str | None = None) -> list[str]:
    """The resources of a statement that lets a service manage network interfaces in the subnets
    ``subnet_ids`` with ``security_group`` only: the interfaces (``interfaces_arn``, the stack's
    ``network_interfaces_arn`` when the caller has it already), those subnets and that group."""
    return [
        interfaces_arn or network_interfaces_arn(stack),
        *(arn(stack, "ec2", "subnet", subnet_id) for subnet_id in subnet_ids),
        arn(stack, "ec2", "security-group", security_group.security_group_id),
    ]


def sagemaker_vpc_statements(
    stack: Stack, subnet_ids: Sequence[str], security_group: ec2.ISecurityGroup, interfaces_sid: str, *, interfaces_arn: str | None = None
) -> list[Statement]:
    """What a SageMaker execution role needs to attach its jobs or model to the subnets ``subnet_ids``
    with ``security_group``: the EC2 Describe calls (no resource-level permissions) and network
    interface management limited to those subnets and that group. ``interfaces_arn``: the stack's
    ``network_interfaces_arn``, when the caller has it already."""
    return [
        allow(
            "DescribeVpc",
            ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
            ["*"],
        ),
        allow(
            interfaces_sid,
            ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
            interface_resources(stack, subnet_ids, security_group, interfaces_arn),
        ),
    ]
