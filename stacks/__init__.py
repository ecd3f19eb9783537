"""Per-stage composition of the platform's constructs. Stacks compose; constructs implement."""

from __future__ import annotations

from aws_cdk import App

from mlops_constructs.compliance import add_compliance_checks
from mlops_constructs.config import STAGES, PlatformConfig
from stacks.network_stack import NetworkStack
from stacks.stage import PlatformStage
from stacks.storage_stack import StorageStack

STAGE_IDS: dict[str, str] = {stage: stage.capitalize() for stage in STAGES}
"""Construct id of each stage: ``Dev``, ``Staging``, ``Prod``."""


def build_platform(app: App, config: PlatformConfig) -> dict[str, PlatformStage]:
    """Add every stage of ``config`` to ``app``, with the compliance packs on."""
    stages = {stage: PlatformStage(app, STAGE_IDS[stage], config=config, stage=stage) for stage in STAGES}
    add_compliance_checks(app)
    return stages


__all__ = ["STAGE_IDS", "NetworkStack", "PlatformStage", "StorageStack", "build_platform"]
