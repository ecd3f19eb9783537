"""FixedZonesStack: a Stack whose availability zones are given, so synthesis never looks them up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from mlops_constructs.errors import PropsError


class FixedZonesStack(Stack):
    """A ``Stack`` whose ``availability_zones`` are the zones you name.

    In a stack with an explicit account and region, CDK answers ``Stack.availability_zones`` with a
    context lookup, and ``ec2.Vpc`` reads it even when it is given its zones. Put ``IsolatedNetwork``
    (or any VPC) in a ``FixedZonesStack`` to keep synthesis hermetic: no credentials, no
    ``cdk.context.json``.

    Example::

        stack = FixedZonesStack(app, "Network", availability_zones=["eu-west-1a", "eu-west-1b"],
                                env=cdk.Environment(account="123456789012", region="eu-west-1"))
        IsolatedNetwork(stack, "Network", availability_zones=stack.availability_zones)

    :param availability_zones: the zones, at least one. Every other argument is ``Stack``'s.
    """

    def __init__(self, scope: Construct, id: str, *, availability_zones: Sequence[str], **kwargs: Any) -> None:
        if isinstance(availability_zones, str) or not availability_zones:
            raise PropsError(type(self).__name__, "availability_zones", availability_zones, "must be a non-empty list of zone names")
        super().__init__(scope, id, **kwargs)
        self._fixed_zones = list(availability_zones)

    @property
    def availability_zones(self) -> list[str]:
        """The zones given to the stack, in their order."""
        return list(self._fixed_zones)
