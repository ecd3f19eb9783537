"""The delivery stack, in the tooling account: the pipeline that deploys every stage."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from mlops_constructs._dockerfiles import ecr_base_images
from mlops_constructs.config import STAGES, PlatformConfig
from mlops_constructs.delivery import DeliveryPipeline, DeliveryStage, SmokeTest
from stacks._settings import log_retention
from stacks.endpoint_stack import SMOKE_TESTED_STAGES
from stacks.names import (
    VALIDATE_TEMPLATES,
    approval_role_name,
    approved_model_parameter,
    approved_model_reader_role_name,
    endpoint_name,
    endpoint_smoke_test_role_name,
    model_package_group,
    release_pipeline_name,
    release_role_name,
    role_arn,
    smoke_test_role_name,
    synth_role_name,
)
from stacks.stage import PlatformStage

RESOLVER = "mlops_constructs/delivery/scripts/resolve_model_packages.py"
"""Decides, in the synth step, which approved package each model's endpoints deploy."""


class DeliveryStack(Stack):
    """The :class:`DeliveryPipeline` of the platform: dev, then staging with a smoke test of every
    endpoint that has a request configured, then a manual approval, then prod.

    The synth step runs ``make test``, asks :data:`RESOLVER` for each model's approved package (the
    pipeline variable for the model an approval released, else the model's approved-model parameter in
    the dev account, read through a role there that may read only that), and synthesizes ``config_path``
    with those packages as context.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        config_path: str,
        stages: Mapping[str, PlatformStage],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        assert config.delivery is not None, "DeliveryStack needs the config's delivery section"
        accounts = config.accounts
        models = [
            {
                "name": model.name,
                "group": model_package_group(config, model),
                "parameter": approved_model_parameter(config, model),
                "reader_role_arn": role_arn(accounts.dev, approved_model_reader_role_name(config, model)),
            }
            for model in config.models
        ]
        resolve = (
            f".venv/bin/python {RESOLVER} --region {config.region} --released \"$MODEL_PACKAGE_ARN\" "
            f"--models {shlex.quote(json.dumps(models, separators=(',', ':')))} > model-packages.args"
        )
        names = "project, models[].name"
        paths = {  # the construct's props fed from config: names derived from the project, accounts and models
            "pipeline_name": "project",
            "stages": "accounts, region",
            "stages[].smoke_tests[].role_arn": f"accounts.staging, {names}",
            "synth_role_name": "project",
            "smoke_test_role_name": "project",
            "release_role_name": "project",
            "synth_assumable_roles": f"accounts.dev, {names}",
            "released_by": f"accounts.dev, {names}",
        }
        with config.props_from(paths):
            self.pipeline = DeliveryPipeline(
                self,
                "Delivery",
                pipeline_name=release_pipeline_name(config),
                source=self._source(config),
                stages=[
                    DeliveryStage(
                        stage=stages[stage],
                        smoke_tests=self._smoke_tests(config, stages[stage]) if stage in SMOKE_TESTED_STAGES else (),
                        manual_approval=stage == "prod",
                    )
                    for stage in STAGES
                ],
                synth_commands=[
                    "make test",
                    resolve,
                    # The configuration this pipeline deploys, with CDK's template validation on (see app.new_app).
                    f"make synth CONFIG={shlex.quote(config_path)} SYNTH_ARGS=\"-c {VALIDATE_TEMPLATES}=true $(cat model-packages.args)\"",
                ],
                synth_role_name=synth_role_name(config),
                synth_assumable_roles=[model["reader_role_arn"] for model in models],
                smoke_test_role_name=smoke_test_role_name(config),
                release_role_name=release_role_name(config),
                released_by=[role_arn(accounts.dev, approval_role_name(config, model)) for model in config.models],
                base_images=self._base_images(config),
                log_retention=log_retention(config.stage("prod")),
            )

    @staticmethod
    def _base_images(config: PlatformConfig) -> list[str]:
        """The ECR images the script steps' Dockerfiles build from, for the asset builds' registry logins."""
        images: list[str] = []
        for model in config.models:
            for step in ("preprocess", "train", "evaluate"):
                settings = getattr(model.code, step) if model.code is not None else None
                if settings is not None and settings.dockerfile is not None:
                    images += [image for image in ecr_base_images(settings.dockerfile) if image not in images]
        return images

    def _source(self, config: PlatformConfig) -> pipelines.CodePipelineSource:
        delivery = config.delivery
        assert delivery is not None
        if delivery.connection is not None:
            c = delivery.connection
            return pipelines.CodePipelineSource.connection(c.repository, c.branch, connection_arn=c.connection_arn)
        assert delivery.s3 is not None
        bucket = s3.Bucket.from_bucket_name(self, "SourceBucket", delivery.s3.bucket)
        return pipelines.CodePipelineSource.s3(bucket, delivery.s3.key)

    @staticmethod
    def _smoke_tests(config: PlatformConfig, stage: PlatformStage) -> list[SmokeTest]:
        """A request to each endpoint of ``stage`` whose model has one configured."""
        tests = []
        for model in config.models:
            endpoint = stage.endpoints.get(model.name)
            if endpoint is None or endpoint.smoke_test_role is None or model.smoke_test is None:
                continue
            tests.append(SmokeTest(
                endpoint_name=endpoint_name(config, stage.stage, model),
                role_arn=role_arn(config.accounts.for_stage(stage.stage), endpoint_smoke_test_role_name(config, stage.stage, model)),
                content_type=model.smoke_test.content_type,
                body=model.smoke_test.body,
            ))
        return tests
