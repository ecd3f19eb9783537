"""Subnet selection shared by the constructs that place workloads in a VPC."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2


def select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """The subnets ``selection`` picks in ``vpc`` (every field of it), or the isolated subnets."""
    if selection is None:
        return vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    fields = {
        "subnet_type": selection.subnet_type,
        "subnet_group_name": selection.subnet_group_name,
        "subnets": selection.subnets,
        "availability_zones": selection.availability_zones,
        "one_per_az": selection.one_per_az,
        "subnet_filters": selection.subnet_filters,
    }
    return vpc.select_subnets(**{key: value for key, value in fields.items() if value is not None})
