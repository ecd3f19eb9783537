"""Names that tie stacks in different accounts together. Each is derived from the configuration, so
every account's synth computes the same name without a lookup."""

from __future__ import annotations

from typing import Any

from mlops_constructs.config import ModelSettings, PlatformConfig

VALIDATE_TEMPLATES = "validate_templates"
"""Context key of the platform's app: ``true`` adds CloudFormation Guard and CDK's built-in template validation
to the synthesis (``app.validation_requested``). The delivery pipeline's synth step sets it for the
configuration it deploys."""


def model_package_group(config: PlatformConfig, model: ModelSettings) -> str:
    return f"{config.project}-{model.name}"


def approved_model_parameter(config: PlatformConfig, model: ModelSettings) -> str:
    """The dev account's SSM parameter holding the ARN of the model package to deploy."""
    return f"/{config.project}/models/{model.name}/approved-model-package-arn"


def release_pipeline_name(config: PlatformConfig) -> str:
    """The delivery pipeline in the tooling account."""
    return f"{config.project}-release"


def release_role_name(config: PlatformConfig) -> str:
    """The tooling account's role that the approval functions assume to start their model's release pipeline."""
    return f"{config.project}-model-release"


def approval_role_name(config: PlatformConfig, model: ModelSettings) -> str:
    """The dev account's role of a model's approval function: the one principal the release role trusts."""
    return f"{config.project}-{model.name}-approval"


def approved_model_reader_role_name(config: PlatformConfig) -> str:
    """The dev account's role through which the release pipelines' synth build reads a model's approved package:
    one for every model (it may read the approved-model parameters and nothing else)."""
    return f"{config.project}-approved-model-reader"


def synth_role_name(config: PlatformConfig) -> str:
    """The tooling account's role of the release pipelines' synth build: the one role the dev account's
    approved-model readers trust."""
    return f"{config.project}-release-synth"


def platform_synth_role_name(config: PlatformConfig) -> str:
    """The tooling account's role of the platform pipeline's synth step (tests, then synthesizes)."""
    return f"{config.project}-platform-synth"


def smoke_test_role_name(config: PlatformConfig) -> str:
    """The tooling account's role of the release pipelines' smoke tests."""
    return f"{config.project}-release-smoke-test"


def endpoint_smoke_test_role_name(config: PlatformConfig, stage: str, model: ModelSettings) -> str:
    """The role in a stage's account through which the pipeline's smoke test invokes a model's endpoint."""
    return f"{config.project}-{stage}-{model.name}-smoke"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def storage_name_prefix(config: PlatformConfig, stage: str) -> str:
    """The ``name_prefix`` of a stage's ArtifactStore: its buckets are ``<prefix>-<purpose>-<account>-<region>``."""
    return f"{config.project}-{stage}"


def store_key_alias(config: PlatformConfig, stage: str) -> str:
    """The alias of a stage's ArtifactStore key (see ``ArtifactStore.key_alias``)."""
    return f"alias/{storage_name_prefix(config, stage)}/artifacts"


def endpoint_name(config: PlatformConfig, stage: str, model: ModelSettings) -> str:
    return f"{config.project}-{stage}-{model.name}"


def model_repository_arn(config: PlatformConfig) -> str:
    """The dev ArtifactStore's ECR repository, where a model's own image would be."""
    return f"arn:aws:ecr:{config.region}:{config.accounts.dev}:repository/{storage_name_prefix(config, 'dev')}/models"


def network_stack_name(config: PlatformConfig, stage: str) -> str:
    return f"{config.project}-{stage}-network"


def storage_stack_name(config: PlatformConfig, stage: str) -> str:
    return f"{config.project}-{stage}-storage"


def endpoint_stack_name(config: PlatformConfig, stage: str, model: ModelSettings) -> str:
    return f"{config.project}-{stage}-{model.name}-endpoint"


def batch_stack_name(config: PlatformConfig, stage: str, model: ModelSettings) -> str:
    """The batch inference stack of a model in a stage, in the model's release stage beside its endpoint stack."""
    return f"{config.project}-{stage}-{model.name}-batch"


def batch_name(config: PlatformConfig, stage: str, model: ModelSettings) -> str:
    """What a model's batch runs in a stage are named after (``BatchInference``'s ``name``): its state machine
    ``<name>-batch``, its jobs, alarms and Glue database."""
    return f"{config.project}-{stage}-{model.name}"


def model_release_pipeline_name(config: PlatformConfig, model: ModelSettings) -> str:
    """The tooling account's release pipeline of one model: deploys its endpoint stacks, dev to prod."""
    return f"{config.project}-release-{model.name}"


def model_release_pipeline_pattern(config: PlatformConfig) -> str:
    """Every model's release pipeline name: what the release role may start."""
    return f"{config.project}-release-*"


class _AnyModel:
    name = "*"


ANY_MODEL: Any = _AnyModel()
"""Stands for every model in a derived name: ``approval_role_name(config, ANY_MODEL)`` is the pattern
``<project>-*-approval``, which a policy names once rather than once per model."""

RELEASE_STAGE_PREFIX = "Release-"
"""A model's release stage within each platform stage: ``<Stage>/Release-<model>``."""


def release_stage_id(model: ModelSettings) -> str:
    return f"{RELEASE_STAGE_PREFIX}{model.name}"
