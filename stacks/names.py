"""Names that tie stacks in different accounts together. Each is derived from the configuration, so
every account's synth computes the same name without a lookup."""

from __future__ import annotations

from mlops_constructs.config import ModelSettings, PlatformConfig


def model_package_group(config: PlatformConfig, model: ModelSettings) -> str:
    return f"{config.project}-{model.name}"


def approved_model_parameter(config: PlatformConfig, model: ModelSettings) -> str:
    """The dev account's SSM parameter holding the ARN of the model package to deploy."""
    return f"/{config.project}/models/{model.name}/approved-model-package-arn"


def release_pipeline_name(config: PlatformConfig) -> str:
    """The delivery pipeline in the tooling account."""
    return f"{config.project}-release"


def release_role_name(config: PlatformConfig) -> str:
    """The tooling account's role that the approval functions assume to start the release pipeline."""
    return f"{config.project}-model-release"


def storage_name_prefix(config: PlatformConfig, stage: str) -> str:
    """The ``name_prefix`` of a stage's ArtifactStore: its buckets are ``<prefix>-<purpose>-<account>-<region>``."""
    return f"{config.project}-{stage}"
