"""The network stack of one stage: its isolated VPC and VPC endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.config import PlatformConfig
from mlops_constructs.monitoring import DriftMonitor
from mlops_constructs.network import FixedZonesStack, IsolatedNetwork
from mlops_constructs.registry import ModelRegistry
from mlops_constructs.serving import BatchInference, CanaryEndpoint, InferenceApi
from mlops_constructs.training import TrainingPipeline
from stacks._references import (
    EXECUTE_API_ENDPOINT_OUTPUT,
    VPC_CIDR_OUTPUT,
    VPC_ID_OUTPUT,
    isolated_route_table_output,
    isolated_subnet_output,
)
from stacks._settings import log_retention, stateful_removal_policy

def stage_interface_endpoints(config: PlatformConfig, stage: str) -> tuple[str, ...]:
    """The interface endpoints ``stage``'s VPC needs: those of every construct the stage hosts or will host when a
    model is released (each construct's ``VPC_ENDPOINTS``), the ``execute-api`` endpoint when a model's API there is
    private, and the stage's ``extra_interface_endpoints``. Each costs per hour and zone, so nothing else is made;
    tests/test_vpc_endpoints.py checks that every service an in-VPC role of the stage may call has its endpoint."""
    needed: list[str] = []
    for model in config.models:
        if stage == "dev":
            needed += [*ModelRegistry.VPC_ENDPOINTS, *TrainingPipeline.VPC_ENDPOINTS]
        if model.realtime:
            needed += CanaryEndpoint.VPC_ENDPOINTS
            if model.monitoring is not None and stage in model.monitoring.stages:
                needed += DriftMonitor.VPC_ENDPOINTS
        if model.batch_in(stage):
            needed += BatchInference.VPC_ENDPOINTS
            if model.batch_drift_in(stage):
                needed += DriftMonitor.VPC_ENDPOINTS
        if model.api is not None and stage in model.api.stages and model.api.endpoint_type == "private":
            needed.append("execute-api")
    needed += config.stage(stage).extra_interface_endpoints
    return tuple(sorted(set(needed)))


class NetworkStack(FixedZonesStack):
    """One stage's :class:`IsolatedNetwork`, sized and retained as the stage's settings say. Its zones
    are the configured ones, so nothing in it looks them up."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, **kwargs: Any) -> None:
        paths = {"availability_zones": "availability_zones", "cidr": f"stages.{stage}.vpc_cidr",
                 "interface_endpoint_zones": f"stages.{stage}.interface_endpoint_zones",
                 "interface_endpoints": f"stages.{stage}.extra_interface_endpoints"}  # the constructs' props fed from config
        with config.props_from(paths):
            super().__init__(scope, id, availability_zones=config.availability_zones, **kwargs)
            settings = config.stage(stage)
            apis = [m.api for m in config.models if m.api is not None and stage in m.api.stages]
            # A private API is reached through the stage's execute-api endpoint, made only when one needs it.
            private_apis = any(api.endpoint_type == "private" for api in apis)
            self.network = IsolatedNetwork(
                self,
                "Network",
                availability_zones=config.availability_zones,
                cidr=settings.vpc_cidr,
                interface_endpoints=stage_interface_endpoints(config, stage),
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
            """API Gateway's CloudWatch role of the stage's account, when a model has an API in the stage and the stage's
            ``api_gateway_logging_role`` is ``create``: the APIs' execution and access logging need it, and it is
            account-wide, so the stage sets it once, here (``existing``: the account's own is used)."""
            if apis and settings.api_gateway_logging_role == "create":
                self.api_logging_role = InferenceApi.account_logging_role(self, "ApiGatewayLogging")
