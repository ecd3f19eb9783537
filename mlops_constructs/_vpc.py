"""Subnet selection shared by the constructs that place workloads in a VPC."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2


@dataclass(frozen=True)
class Subnets:
    """The subnets a selection picked: their ids (tokens when the VPC is in another stack) and the
    subnets themselves, read once."""

    subnet_ids: list[str]
    subnets: list[ec2.ISubnet]


# Each platform stack places its workloads in the isolated subnets of the stage's one VPC: read them
# once per VPC (every read of a VPC's attributes is a round trip to jsii's Node process).
_isolated: weakref.WeakKeyDictionary[ec2.IVpc, Subnets] = weakref.WeakKeyDictionary()


def select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> Subnets:
    """The subnets ``selection`` picks in ``vpc`` (every field of it), or the isolated subnets."""
    if selection is None:
        if vpc not in _isolated:
            _isolated[vpc] = _read(vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
        return _isolated[vpc]
    fields = {
        "subnet_type": selection.subnet_type,
        "subnet_group_name": selection.subnet_group_name,
        "subnets": selection.subnets,
        "availability_zones": selection.availability_zones,
        "one_per_az": selection.one_per_az,
        "subnet_filters": selection.subnet_filters,
    }
    return _read(vpc.select_subnets(**{key: value for key, value in fields.items() if value is not None}))


def _read(selected: ec2.SelectedSubnets) -> Subnets:
    return Subnets(subnet_ids=list(selected.subnet_ids), subnets=list(selected.subnets))
