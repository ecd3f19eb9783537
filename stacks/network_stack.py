"""The network stack of one stage: its isolated VPC and VPC endpoints."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from mlops_constructs.config import PlatformConfig
from mlops_constructs.network import DEFAULT_INTERFACE_ENDPOINTS, FixedZonesStack, IsolatedNetwork
from stacks._settings import log_retention, stateful_removal_policy

# The dev account's approval functions start the release pipeline through CodePipeline's API and send
# their X-Ray traces from inside the VPC.
_EXTRA_ENDPOINTS: dict[str, tuple[str, ...]] = {"dev": ("codepipeline", "xray")}


class NetworkStack(FixedZonesStack):
    """One stage's :class:`IsolatedNetwork`, sized and retained as the stage's settings say. Its zones
    are the configured ones, so nothing in it looks them up."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, **kwargs: Any) -> None:
        paths = {"availability_zones": "availability_zones", "cidr": f"stages.{stage}.vpc_cidr"}  # the constructs' props fed from config
        with config.props_from(paths):
            super().__init__(scope, id, availability_zones=config.availability_zones, **kwargs)
            settings = config.stage(stage)
            self.network = IsolatedNetwork(
                self,
                "Network",
                availability_zones=config.availability_zones,
                cidr=settings.vpc_cidr,
                interface_endpoints=(*DEFAULT_INTERFACE_ENDPOINTS, *_EXTRA_ENDPOINTS.get(stage, ())),
                flow_log_retention=log_retention(settings),
                removal_policy=stateful_removal_policy(settings),
            )

