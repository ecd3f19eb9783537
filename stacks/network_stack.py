"""The network stack of one stage: its isolated VPC and VPC endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.config import PlatformConfig
from mlops_constructs.network import DEFAULT_INTERFACE_ENDPOINTS, FixedZonesStack, IsolatedNetwork
from mlops_constructs.serving import InferenceApi
from stacks._references import (
    EXECUTE_API_ENDPOINT_OUTPUT,
    VPC_CIDR_OUTPUT,
    VPC_ID_OUTPUT,
    isolated_route_table_output,
    isolated_subnet_output,
)
from stacks._settings import log_retention, stateful_removal_policy

# The dev account's approval functions start the release pipeline through CodePipeline's API and send
# their X-Ray traces from inside the VPC.
_EXTRA_ENDPOINTS: dict[str, tuple[str, ...]] = {"dev": ("codepipeline", "xray")}


class NetworkStack(FixedZonesStack):
    """One stage's :class:`IsolatedNetwork`, sized and retained as the stage's settings say. Its zones
    are the configured ones, so nothing in it looks them up."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, **kwargs: Any) -> None:
        paths = {"availability_zones": "availability_zones", "cidr": f"stages.{stage}.vpc_cidr",
                 "interface_endpoint_zones": f"stages.{stage}.interface_endpoint_zones"}  # the constructs' props fed from config
        with config.props_from(paths):
            super().__init__(scope, id, availability_zones=config.availability_zones, **kwargs)
            settings = config.stage(stage)
            apis = [m.api for m in config.models if m.api is not None and stage in m.api.stages]
            # A private API is reached through the stage's execute-api endpoint, made only when one needs it.
            private_apis = ("execute-api",) if any(api.endpoint_type == "private" for api in apis) else ()
            self.network = IsolatedNetwork(
                self,
                "Network",
                availability_zones=config.availability_zones,
                cidr=settings.vpc_cidr,
                interface_endpoints=(*DEFAULT_INTERFACE_ENDPOINTS, *_EXTRA_ENDPOINTS.get(stage, ()), *private_apis),
                flow_log_retention=log_retention(settings),
                removal_policy=stateful_removal_policy(settings),
                interface_endpoint_zones=config.endpoint_zones_for(stage),
            )
            # What the models' release stacks read (stacks._references): outputs with fixed names.
            vpc = self.network.vpc
            CfnOutput(self, VPC_ID_OUTPUT, value=vpc.vpc_id, description="The stage's VPC, for the models' stacks")
            CfnOutput(self, VPC_CIDR_OUTPUT, value=vpc.vpc_cidr_block, description="The stage's VPC's CIDR block, for the models' stacks")
            for index, subnet in enumerate(vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnets):
                CfnOutput(self, isolated_subnet_output(index), value=subnet.subnet_id,
                          description=f"Isolated subnet {index + 1} of the stage's VPC, for the models' release stacks")
                CfnOutput(self, isolated_route_table_output(index), value=subnet.route_table.route_table_id,
                          description=f"The route table of isolated subnet {index + 1}, for the models' release stacks")
            if private_apis:
                CfnOutput(self, EXECUTE_API_ENDPOINT_OUTPUT, value=self.network.interface_endpoints["execute-api"].vpc_endpoint_id,
                          description="The stage's execute-api interface endpoint, through which its private APIs are reached")
            self.api_logging_role: iam.Role | None = None
            """API Gateway's CloudWatch role of the stage's account, when a model has an API in the stage: the APIs'
            execution and access logging need it, and it is account-wide, so the stage sets it once, here."""
            if apis:
                self.api_logging_role = InferenceApi.account_logging_role(self, "ApiGatewayLogging")
