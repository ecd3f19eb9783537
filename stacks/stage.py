"""One deployment stage: the stacks that go into one account."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from mlops_constructs.config import ConfigError, ModelSettings, PlatformConfig
from stacks.batch_stack import BatchStack
from stacks.endpoint_stack import EndpointStack
from stacks.network_stack import NetworkStack
from stacks.registry_stack import RegistryStack
from stacks.storage_stack import StorageStack
from stacks.names import batch_stack_name, endpoint_stack_name, network_stack_name, release_stage_id, storage_stack_name
from stacks.training_stack import TrainingStack


MODELS_PER_STAGE = 20
"""Models per stage of dev's model stacks: two stacks each, 40 deploy actions, 80% of CodePipeline's 50 per stage."""


def model_stage_ids(config: PlatformConfig, stage: str) -> list[str]:
    """The ids of a stage's stages of model stacks (``PlatformStage.model_stages``): ``Models-1``... in dev, one per
    :data:`MODELS_PER_STAGE` models; none elsewhere."""
    models = len(config.models) if stage == "dev" else 0
    return [f"Models-{n + 1}" for n in range(-(-models // MODELS_PER_STAGE))]


class PlatformStage(Stage):
    """The stacks of one stage (``dev``, ``staging`` or ``prod``), deployed to that stage's account.

    Stack ids (``Network``, ``Storage``, in dev ``Registry-<model>`` and ``Training-<model>``, and
    ``Release-<model>/Endpoint`` (models served in real time) and ``Release-<model>/Batch`` (models with batch
    runs in the stage) in each served model's release stage) and
    stack names (``<project>-<stage>-network``, ``<project>-dev-<model>-registry``, ...) are stable:
    renaming either would replace the stacks' resources. Adding a model adds stacks and changes no
    existing one.
    """

    def __init__(
        self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, model_package_arns: Mapping[str, str] | None = None,
        release: str | None = None,
    ) -> None:
        super().__init__(scope, id, env=Environment(account=config.accounts.for_stage(stage), region=config.region))
        self.stage = stage
        """The stage this is: dev, staging or prod."""
        # Outside dev a stack cannot be deleted by accident; in dev, iterating is the point.
        protected = stage != "dev"
        self.releases: dict[str, Stage] = {}
        """Each served model's release stage within this one, ``Release-<model>``, by model name."""
        self.endpoints: dict[str, EndpointStack] = {}
        """The endpoint stack of each model served in real time that has an approved package, by model name. Each is in the
        model's release stage (``releases``), which the model's release pipeline deploys: the platform's
        pipeline deploys this stage's own stacks only."""
        self.batches: dict[str, BatchStack] = {}
        """The batch inference stack of each model with batch runs in this stage and an approved package, by model
        name; in the model's release stage too, beside its endpoint stack when it has one."""
        self.registries: dict[str, RegistryStack] = {}
        """The registry stack of each model, by model name (dev only: models are trained and approved there)."""
        self.trainings: dict[str, TrainingStack] = {}
        """The training stack of each model, by model name (dev only)."""
        self.model_stages: list[Stage] = []
        """Dev's stages of the models' registry and training stacks, ``Models-<n>``, each deployed by the platform's
        pipeline as a stage of its own."""
        if release is not None:
            # A model's release pipeline synthesizes that model's release stage only.
            model = next(m for m in config.models if m.name == release)
            self._release(config, stage, model, (model_package_arns or {}).get(model.name), protected)
            return
        self.network: NetworkStack = NetworkStack(
            self,
            "Network",
            stack_name=network_stack_name(config, stage),
            description=f"{config.project} {stage}: isolated VPC, VPC endpoints and flow logs",
            config=config,
            stage=stage,
            termination_protection=protected,
        )
        self.storage: StorageStack = StorageStack(
            self,
            "Storage",
            stack_name=storage_stack_name(config, stage),
            description=f"{config.project} {stage}: KMS key, data/artifact/access-log buckets, ECR repository",
            config=config,
            stage=stage,
            termination_protection=protected,
        )
        # Dev's stages of the models' registry and training stacks, Models-<n>: at most MODELS_PER_STAGE models
        # each, so that the platform's pipeline deploys each in a stage of its own within CodePipeline's actions
        # per stage (tests/test_quotas.py). Which stage a model is in changes nothing deployed: the pipeline
        # deploys stacks by name.
        self.model_stages += [Stage(self, id) for id in model_stage_ids(config, stage)]
        for index, model in enumerate(config.models if stage == "dev" else ()):
            models = self.model_stages[index // MODELS_PER_STAGE]
            registry = RegistryStack(
                models,
                f"Registry-{model.name}",
                stack_name=f"{config.project}-{stage}-{model.name}-registry",
                description=f"{config.project} {stage}: model registry and approval flow of model {model.name}",
                config=config,
                model=model,
                termination_protection=protected,
            )
            training = TrainingStack(
                models,
                f"Training-{model.name}",
                stack_name=f"{config.project}-{stage}-{model.name}-training",
                description=f"{config.project} {stage}: training pipeline of model {model.name}",
                config=config,
                model=model,
                termination_protection=protected,
            )
            training.add_stack_dependency(registry, "models are registered into the registry's group")
            self.registries[model.name] = registry
            self.trainings[model.name] = training
        for stage_ in self.model_stages:
            Tags.of(stage_).add("mlops:project", config.project)
            Tags.of(stage_).add("mlops:stage", stage)
        for model in config.models:
            self._release(config, stage, model, (model_package_arns or {}).get(model.name), protected)
        Tags.of(self).add("mlops:project", config.project)
        Tags.of(self).add("mlops:stage", stage)

    def _release(self, config: PlatformConfig, stage: str, model: ModelSettings, package: str | None, protected: bool) -> None:
        """The model's release stage, with its endpoint stack (served in real time) and its batch stack (batch runs
        in this stage), when it has an approved package and one of them."""
        endpoint, batch = model.realtime, model.batch_in(stage)
        if package is None or not (endpoint or batch):
            return
        if model.code is not None and model.code.train is not None:
            # The serving container would need the script's inference code (model_fn) and, being
            # network-isolated, that code inside the model archive: not done yet. Refused rather than
            # deployed to fail its health check (or every batch run) and roll back.
            raise ConfigError(config.source, [
                f"{config.model_path(model, 'code', 'train')}: a model trained by your script cannot be served by the "
                f"platform's endpoints or batch runs yet (no inference code is packaged with it), but version {package} would be; "
                f"train with the built-in algorithm to serve it, or leave the model without an approved version"
            ])
        # A stage of its own, so that the platform's pipeline (which deploys this stage's stacks) leaves it
        # to the model's release pipeline; the stack names, and so the deployed stacks, are the ones they always had.
        release = self.releases[model.name] = Stage(self, release_stage_id(model))
        if endpoint:
            self.endpoints[model.name] = EndpointStack(
                release,
                "Endpoint",
                stack_name=endpoint_stack_name(config, stage, model),
                description=f"{config.project} {stage}: endpoint of model {model.name}",
                config=config,
                stage=stage,
                model=model,
                model_package_arn=package,
                termination_protection=protected,
            )
        if batch:
            self.batches[model.name] = BatchStack(
                release,
                "Batch",
                stack_name=batch_stack_name(config, stage, model),
                description=f"{config.project} {stage}: batch inference of model {model.name}",
                config=config,
                stage=stage,
                model=model,
                model_package_arn=package,
                termination_protection=protected,
            )
        Tags.of(release).add("mlops:project", config.project)
        Tags.of(release).add("mlops:stage", stage)
