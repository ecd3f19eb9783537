"""Per-stage composition of the platform's constructs. Stacks compose; constructs implement."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import App, Environment

from mlops_constructs.compliance import add_compliance_checks
from mlops_constructs.config import STAGES, PlatformConfig
from stacks.delivery_stack import DeliveryStack
from stacks.endpoint_stack import EndpointStack
from stacks.network_stack import NetworkStack
from stacks.stage import PlatformStage
from stacks.storage_stack import StorageStack

STAGE_IDS: dict[str, str] = {stage: stage.capitalize() for stage in STAGES}
"""Construct id of each stage: ``Dev``, ``Staging``, ``Prod``."""


def build_platform(
    app: App,
    config: PlatformConfig,
    model_package_arns: Mapping[str, str] | None = None,
    *,
    config_path: str = "config/default.yaml",
    validate: bool = True,
) -> dict[str, PlatformStage]:
    """Add every stage of ``config`` to ``app``, and the delivery pipeline stack when the config has a
    ``delivery`` section, with the compliance packs on.

    ``model_package_arns`` names the approved version each model serves, by model name; a model
    missing from it gets no endpoint stacks. Default: each model's ``model_package_arn`` from the config.
    ``config_path`` is the file the pipeline's synth step synthesizes, relative to the repository.
    ``validate``: run CloudFormation Guard too (``add_compliance_checks``'s ``guard``); the cdk-nag packs
    always run. Default: ``True``, as in the test suite. The app passes whether its synthesis asks for
    validation (``app.validation_requested``).
    """
    if model_package_arns is None:
        model_package_arns = {m.name: m.model_package_arn for m in config.models if m.model_package_arn}
    stages = {
        stage: PlatformStage(app, STAGE_IDS[stage], config=config, stage=stage, model_package_arns=model_package_arns)
        for stage in STAGES
    }
    if config.delivery is not None:
        DeliveryStack(
            app,
            "Delivery",
            stack_name=f"{config.project}-delivery",
            description=f"{config.project}: the pipeline that deploys dev, staging and prod from the tooling account",
            env=Environment(account=config.accounts.tooling, region=config.region),
            termination_protection=True,
            config=config,
            config_path=config_path,
            stages=stages,
        )
    add_compliance_checks(app, guard=validate)
    return stages


__all__ = ["STAGE_IDS", "DeliveryStack", "EndpointStack", "NetworkStack", "PlatformStage", "StorageStack", "build_platform"]
