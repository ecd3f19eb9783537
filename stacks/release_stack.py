"""The models' release pipelines, in the tooling account: one small pipeline per model, and what they share.

Approving a model starts that model's pipeline only; it deploys that model's endpoint stacks
(``<Stage>/Release-<model>/*``) to dev, staging (smoke-tested) and, after a person's approval, prod, from the
source the platform's pipeline last tested and deployed. The platform's pipeline deploys these stacks (the
``Releases`` stage) and, after prod, publishes the tested source and starts every release pipeline, so that a
platform change reaches every endpoint through the same gates.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import Any

from aws_cdk import Environment, Stack, Stage
from constructs import Construct

from mlops_constructs.config import STAGES, ModelSettings, PlatformConfig
from mlops_constructs.delivery import NOTHING_TO_RELEASE, ReleaseDeployment, ReleasePipeline, ReleaseTooling, SmokeTest
from stacks._settings import log_retention, stateful_removal_policy
from stacks.endpoint_stack import API_URL_OUTPUT, SMOKE_TESTED_STAGES
from stacks.names import (
    ANY_MODEL,
    VALIDATE_TEMPLATES,
    approval_role_name,
    approved_model_parameter,
    approved_model_reader_role_name,
    endpoint_name,
    endpoint_stack_name,
    endpoint_smoke_test_role_name,
    model_package_group,
    model_release_pipeline_name,
    model_release_pipeline_pattern,
    release_role_name,
    release_stage_id,
    role_arn,
    smoke_test_role_name,
    synth_role_name,
)

RESOLVER = "mlops_constructs/delivery/scripts/resolve_model_packages.py"
"""Decides, in a release's synth build, which approved package the model's endpoints deploy."""
RELEASE_CONTEXT = "release"
"""Context key of the platform's app: ``-c release=<model>`` synthesizes that model's release stages only."""


def release_synth_commands(config: PlatformConfig, config_path: str) -> list[str]:
    """A release's synthesis: the model's approved package (the pipeline's variable, else the registry's
    parameter in dev), then that model's release stages, with CDK's template validation on."""
    return [
        "python3 -m pip install --quiet 'boto3>=1.40,<2'",
        f'python3 {RESOLVER} --region {config.region} --released "$MODEL_PACKAGE_ARN" --models "$RELEASE_MODELS" --readers-exist > model-packages.args',
        # A model with no approved version has nothing to release: an app without stacks would fail `cdk synth`,
        # so the build writes a marker instead, which the deploy steps read as "nothing to deploy".
        f'if grep -q "model_package_arn.$RELEASE_NAME=none" model-packages.args; then '
        f'mkdir -p cdk.out && echo "no approved version of $RELEASE_NAME" > cdk.out/{NOTHING_TO_RELEASE}; '
        f'else make synth CONFIG={shlex.quote(config_path)} SYNTH_ARGS="-c {VALIDATE_TEMPLATES}=true -c {RELEASE_CONTEXT}=$RELEASE_NAME $(cat model-packages.args)"; fi',
        # what the run's manual approval shows: the model package it releases
        'export RELEASE_DETAIL="model package $(tr " " "\\n" < model-packages.args | sed -n "s/^model_package_arn.$RELEASE_NAME=//p")"',
    ]


class ReleaseToolingStack(Stack):
    """What the models' release pipelines share (:class:`ReleaseTooling`)."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, config_path: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        accounts = config.accounts
        settings = config.stage("prod")
        # Name patterns rather than one ARN per model: the policies do not grow with the models.
        smoke_roles = [role_arn(accounts.for_stage(stage), endpoint_smoke_test_role_name(config, stage, ANY_MODEL))
                       for stage in SMOKE_TESTED_STAGES]
        with config.props_from({"name_prefix": "project", "deploy_accounts": "accounts", "released_by": "accounts.dev, project",
                                "synth_assumable_roles": "accounts.dev, project, models[].name"}):
            self.tooling = ReleaseTooling(
                self,
                "Tooling",
                name_prefix=config.project,
                deploy_accounts=[accounts.for_stage(stage) for stage in STAGES],
                synth_commands=release_synth_commands(config, config_path),
                synth_role_name=synth_role_name(config),
                synth_assumable_roles=[role_arn(accounts.dev, approved_model_reader_role_name(config))],
                smoke_test_role_name=smoke_test_role_name(config),
                smoke_test_roles=smoke_roles,
                release_role_name=release_role_name(config),
                released_by=[role_arn(accounts.dev, approval_role_name(config, ANY_MODEL))],
                releasable=[model_release_pipeline_pattern(config)],
                log_retention=log_retention(settings),
                removal_policy=stateful_removal_policy(settings),
            )


RELEASE_STACKS = 8
"""The stacks the models' release pipelines are spread over, by a hash of the model's name: the platform's
pipeline deploys 8 stacks (not one per model) in its Releases stage, within CodePipeline's actions per stage,
and a model's pipeline stays in its stack whatever models are added or removed."""


def release_stack_number(model: ModelSettings) -> int:
    """The stack (1 to :data:`RELEASE_STACKS`) that holds ``model``'s release pipeline: stable for its name."""
    return int(hashlib.sha256(model.name.encode()).hexdigest(), 16) % RELEASE_STACKS + 1


def _reachable_api(model: ModelSettings, stage: str) -> bool:
    api = model.api
    # A private API is out of the pipeline's reach; one requiring an API key refuses the smoke test, which has none.
    return api is not None and stage in api.stages and api.endpoint_type == "regional" and not api.api_key_required


def model_release(scope: Construct, config: PlatformConfig, model: ModelSettings, tooling: ReleaseTooling) -> ReleasePipeline:
    """One model's :class:`ReleasePipeline` (``Release-<model>``)."""
    resolver_input = [{
        "name": model.name,
        "group": model_package_group(config, model),
        "parameter": approved_model_parameter(config, model),
        "reader_role_arn": role_arn(config.accounts.dev, approved_model_reader_role_name(config)),
    }]
    deployments = []
    # The stages the model has stacks in: every stage when it is served in real time, else those its batch runs are
    # in. A batch-only model's staging gate is its batch stack's deployment (CloudFormation creates the SageMaker model
    # of the released package, or the release stops there) and the manual approval before prod; it has no endpoint to
    # smoke-test.
    for stage in (s for s in STAGES if model.realtime or model.batch_in(s)):
        tests = []
        if stage in SMOKE_TESTED_STAGES and model.smoke_test is not None and model.realtime:
            tests.append(SmokeTest(
                endpoint_name=endpoint_name(config, stage, model),
                role_arn=role_arn(config.accounts.for_stage(stage), endpoint_smoke_test_role_name(config, stage, model)),
                content_type=model.smoke_test.content_type, body=model.smoke_test.body,
                # The model's API too, when it has one here that the pipeline can reach (a private one it cannot).
                api_stack=endpoint_stack_name(config, stage, model) if _reachable_api(model, stage) else None,
                api_output=API_URL_OUTPUT,
            ))
        deployments.append(ReleaseDeployment(
            name=stage.capitalize(), stacks=f"{stage.capitalize()}/{release_stage_id(model)}/*", region=config.region,
            account=config.accounts.for_stage(stage),
            smoke_tests=tests, manual_approval=stage == "prod",
        ))
    with config.props_from({"pipeline_name": f"project, {config.model_path(model, 'name')}",
                            "deployments[].smoke_tests": config.model_path(model, "smoke_test")}):
        return ReleasePipeline(
            scope,
            f"Release-{model.name}",
            pipeline_name=model_release_pipeline_name(config, model),
            tooling=tooling,
            release_name=model.name,
            deployments=deployments,
            synth_environment={"RELEASE_MODELS": json.dumps(resolver_input, separators=(",", ":"))},
        )


class ReleasesStage(Stage):
    """The tooling account's release stacks: the shared tooling and one release pipeline per model."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, config_path: str) -> None:
        super().__init__(scope, id, env=Environment(account=config.accounts.tooling, region=config.region))
        self.tooling = ReleaseToolingStack(
            self, "Tooling", stack_name=f"{config.project}-release-tooling", config=config, config_path=config_path,
            description=f"{config.project}: what the models' release pipelines share", termination_protection=True,
        )
        self.stacks: dict[int, Stack] = {}
        """The stacks of the models' release pipelines, by number (:func:`release_stack_number`)."""
        self.pipelines: dict[str, ReleasePipeline] = {}
        """Each model's release pipeline, by model name."""
        for model in config.models:
            number = release_stack_number(model)
            if number not in self.stacks:
                self.stacks[number] = Stack(
                    self, f"Releases-{number}", stack_name=f"{config.project}-releases-{number}", termination_protection=True,
                    description=f"{config.project}: release pipelines of the models whose name hashes to {number} of {RELEASE_STACKS}",
                )
            self.pipelines[model.name] = model_release(self.stacks[number], config, model, self.tooling.tooling)
        self.stacks = dict(sorted(self.stacks.items()))
