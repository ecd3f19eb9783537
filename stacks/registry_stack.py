"""The registry stack of one model, in the dev account: its model package group and approval flow."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.config import ModelSettings, PlatformConfig
from mlops_constructs.registry import ModelRegistry
from stacks._references import stage_vpc
from stacks._settings import SERVED_FROM_REMOVAL_POLICY, log_retention
from stacks.names import (
    approval_role_name,
    approved_model_parameter,
    model_package_group,
    model_release_pipeline_name,
    release_role_name,
)


class RegistryStack(Stack):
    """One model's :class:`ModelRegistry`, shared with the staging and prod accounts.

    The approval function starts the model's own release pipeline in the tooling account through the release
    role the release tooling stack creates there; both names are derived from the project and the model. With a
    delivery pipeline configured, the release pipelines' synth build reads the approved package through the dev
    storage stack's approved-model reader role.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        model: ModelSettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        vpc = stage_vpc(self, config, "dev")  # from the dev network stack's outputs (stacks._references)
        settings = config.stage("dev")
        tooling = config.accounts.tooling
        serving = [a for a in (config.accounts.staging, config.accounts.prod) if a != config.accounts.dev]
        derived = f"project, {config.model_path(model, 'name')}"
        paths = {  # the construct's props fed from config
            "model_package_group_name": derived,
            "approved_model_parameter_name": derived,
            "function_role_name": derived,
            "read_accounts": "accounts.staging, accounts.prod",
        }
        with config.props_from(paths):
            self.registry = ModelRegistry(
                self,
                "Registry",
                model_package_group_name=model_package_group(config, model),
                vpc=vpc,
                function_role_name=approval_role_name(config, model),
                release_pipeline=codepipeline.Pipeline.from_pipeline_arn(
                    self,
                    "ReleasePipeline",
                    self.format_arn(service="codepipeline", account=tooling, resource=model_release_pipeline_name(config, model)),
                ),
                release_role=iam.Role.from_role_arn(
                    self,
                    "ReleaseRole",
                    self.format_arn(service="iam", region="", account=tooling, resource="role", resource_name=release_role_name(config)),
                    mutable=False,
                ),
                read_accounts=list(dict.fromkeys(serving)),
                approved_model_parameter_name=approved_model_parameter(config, model),
                log_retention=log_retention(settings),
                removal_policy=SERVED_FROM_REMOVAL_POLICY,  # what staging and prod serve from (stacks._settings)
            )
