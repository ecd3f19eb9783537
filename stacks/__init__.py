"""Per-stage composition of the platform's constructs. Stacks compose; constructs implement."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from aws_cdk import App, Environment

from mlops_constructs.compliance import add_compliance_checks
from mlops_constructs.config import STAGES, ConfigError, PlatformConfig
from stacks.batch_stack import BatchStack
from stacks.delivery_stack import DeliveryStack
from stacks.endpoint_stack import EndpointStack
from stacks.network_stack import NetworkStack
from stacks.parallel import StageProcess, SynthesizedStage
from stacks.release_stack import RELEASE_CONTEXT, ReleasesStage
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
    release: str | None = None,
    validate: bool = True,
    stage_processes: Mapping[str, StageProcess] | None = None,
) -> dict[str, PlatformStage | SynthesizedStage]:
    """Add every stage of ``config`` to ``app``, and the delivery and release pipelines' stacks when the config
    has a ``delivery`` section, with the compliance packs on.

    ``model_package_arns`` names the approved version each model serves, by model name; a model
    missing from it gets no endpoint stacks. Default: each model's ``model_package_arn`` from the config.
    ``config_path`` is the file the pipelines' synth steps synthesize, relative to the repository.
    ``release`` names one model: only its release stages (``<Stage>/Release-<model>``, its endpoint stacks)
    are added, as that model's release pipeline synthesizes them.
    ``validate``: run CloudFormation Guard too (``add_compliance_checks``'s ``guard``); the cdk-nag packs
    always run. Default: ``True``, as in the test suite. The app passes whether its synthesis asks for
    validation (``app.validation_requested``).
    ``stage_processes``: stages other processes synthesize (``stacks.parallel``), by stage name: each is a
    ``SynthesizedStage`` here, read from the process's output once it has finished (waited for before the delivery
    pipeline reads it). Default: none; every stage is built in this process.
    """
    if model_package_arns is None:
        model_package_arns = {m.name: m.model_package_arn for m in config.models if m.model_package_arn}
    if release is not None and release not in {m.name for m in config.models}:
        raise ConfigError(f"context {RELEASE_CONTEXT}", [f"must name a model of {config.source}: one of "
                                                         f"{', '.join(m.name for m in config.models)} (got {release!r})"])
    processes = dict(stage_processes or {})
    if release is not None and processes:
        raise ValueError("stage_processes: a model's release synthesis builds its stages in this process")
    stages: dict[str, PlatformStage | SynthesizedStage] = {
        stage: SynthesizedStage(app, STAGE_IDS[stage], config=config, stage=stage, process=processes[stage]) if stage in processes
        else PlatformStage(app, STAGE_IDS[stage], config=config, stage=stage, model_package_arns=model_package_arns, release=release)
        for stage in STAGES
    }
    releases = ReleasesStage(app, "Releases", config=config, config_path=config_path) if config.delivery is not None and release is None else None
    for process in processes.values():
        for line in process.wait().splitlines():  # its files in place before anything reads them; what it printed, here
            print(line, file=sys.stderr)
    if releases is not None:
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
            releases=releases,
        )
    add_compliance_checks(app, guard=validate)
    return stages


__all__ = ["STAGE_IDS", "BatchStack", "DeliveryStack", "EndpointStack", "NetworkStack", "PlatformStage", "StorageStack", "build_platform"]
