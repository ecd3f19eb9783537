"""The delivery stack, in the tooling account: the pipeline that deploys every stage."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from mlops_constructs.config import STAGES, PlatformConfig
from mlops_constructs.container_image import ecr_base_images
from mlops_constructs.delivery import SOURCE_KEY, DeliveryPipeline, DeliveryStage, ReleaseTooling, tag_artifact_writers
from stacks._settings import log_retention
from stacks.names import VALIDATE_TEMPLATES, model_release_pipeline_pattern, platform_synth_role_name, release_pipeline_name
from stacks.parallel import SynthesizedStage
from stacks.stage import PlatformStage


class DeliveryStack(Stack):
    """The platform's :class:`DeliveryPipeline`: the release tooling (the models' release pipelines), then dev,
    staging, a manual approval, and prod, each with the stage's own stacks (network, storage and, in dev, each
    model's registry and training). The synth step runs ``make test`` and synthesizes ``config_path`` with
    CDK's template validation on.

    The models' endpoint stacks are not deployed here: each model's release pipeline deploys its own
    (``stacks.release_stack``). After prod, the pipeline publishes the source it tested and deployed, which the
    release pipelines read, and starts every release pipeline, so that a platform change reaches every endpoint
    through the same stages and gates.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        config_path: str,
        stages: Mapping[str, PlatformStage | SynthesizedStage],
        releases: Stage,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        assert config.delivery is not None, "DeliveryStack needs the config's delivery section"
        paths = {  # the construct's props fed from config: names derived from the project, accounts and models
            "pipeline_name": "project",
            "stages": "accounts, region",
            "synth_role_name": "project",
        }
        source = self._source(config)
        publish = self._publish_release(config, source)
        with config.props_from(paths):
            self.pipeline = DeliveryPipeline(
                self,
                "Delivery",
                pipeline_name=release_pipeline_name(config),
                source=source,
                stages=[
                    DeliveryStage(stage=releases),
                    *(entry for stage in STAGES for entry in (
                        DeliveryStage(
                            stage=stages[stage],
                            manual_approval=stage == "prod",
                            post=[publish] if stage == STAGES[-1] else (),
                        ),
                        # each model's registry and training stacks, in stages of at most 20 models, after the stage's own
                        *(DeliveryStage(stage=models) for models in stages[stage].model_stages),
                    )),
                ],
                synth_commands=[
                    # Two test processes, as make test is measured with (~5 GiB together, docs/performance.md): with
                    # pytest-xdist's "auto", one per CPU the build container shows (4 or more on MEDIUM, 7 GB), the
                    # suite could run out of memory (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-compute-types.html).
                    "make test TEST_WORKERS=2",
                    # The configuration this pipeline deploys, with CDK's template validation on (see app.new_app).
                    f"make synth CONFIG={shlex.quote(config_path)} SYNTH_ARGS=\"-c {VALIDATE_TEMPLATES}=true\"",
                ],
                synth_role_name=platform_synth_role_name(config),
                log_retention=log_retention(config.stage("prod")),
                base_images=self._base_images(config),
                # One action per stack: a registry and a training stack per model stay within CodePipeline's
                # 500 actions per pipeline at 100 models (tests/test_quotas.py).
                use_change_sets=False,
                acknowledged_wildcards={
                    rf"Resource::arn:(<AWS::Partition>|aws[a-z-]*):kms:{self.region}:{self.account}:key/\*":
                        "PublishRelease: the release tooling's key is in a stack of another stage, which this one cannot "
                        "reference; the statement allows only GenerateDataKey and Decrypt through S3 for the tested source's bucket "
                        "(kms:ViaService and the S3 encryption context).",
                    rf"Resource::arn:(<AWS::Partition>|aws[a-z-]*):codepipeline:{self.region}:{self.account}:{re.escape(model_release_pipeline_pattern(config)[:-1])}\*":
                        "PublishRelease: every model's release pipeline, named after the model, so that a platform change "
                        "reaches every endpoint through its release's stages and gates.",
                },
            )
        # The release tooling's source bucket takes writes only from roles so tagged (ReleaseTooling), and the tooling
        # account's SCP guards them as it guards the deployers.
        tag_artifact_writers(publish.project, publish.project.role)

    def _publish_release(self, config: PlatformConfig, source: pipelines.CodePipelineSource) -> pipelines.CodeBuildStep:
        """After prod: the tested source to the release tooling's bucket, then every model's release pipeline started."""
        bucket = ReleaseTooling.source_bucket_name(config.project, config.accounts.tooling, config.region)
        pattern = model_release_pipeline_pattern(config)
        key_arns = self.format_arn(service="kms", resource="key", resource_name="*")
        return pipelines.CodeBuildStep(
            "PublishRelease",
            input=source,
            commands=[
                "zip -qr /tmp/source.zip . -x '.git/*' 'node_modules/*' '.venv/*' 'cdk.out/*'",
                f"aws s3 cp /tmp/source.zip s3://{bucket}/{SOURCE_KEY}",
                # Every model's release pipeline (by name, so the buildspec does not grow with the models): each
                # redeploys its model's endpoints from this source, with the version its registry's parameter names.
                # Every start is tried; any that failed fails the step (a loop's status is only its last command's).
                f"failed=0; for p in $(aws codepipeline list-pipelines --query \"pipelines[?starts_with(name, '{pattern.rstrip('*')}')].name\" --output text); "
                "do aws codepipeline start-pipeline-execution --name \"$p\" || failed=1; done; test \"$failed\" = 0",
            ],
            role_policy_statements=[
                iam.PolicyStatement(sid="PublishTestedSource", actions=["s3:PutObject"], resources=[f"arn:{self.partition}:s3:::{bucket}/{SOURCE_KEY}"]),
                # The release tooling's key, in a stack this one cannot reference: by its alias-free ARN pattern,
                # narrowed to keys used through S3 for that bucket.
                # Decrypt too: a multipart upload (aws s3 cp above 8 MB) reads the data key back.
                iam.PolicyStatement(sid="EncryptTestedSource", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key_arns],
                                    conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"},
                                                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [f"arn:{self.partition}:s3:::{bucket}",
                                                                                                   f"arn:{self.partition}:s3:::{bucket}/*"]}}),
                iam.PolicyStatement(sid="StartReleases", actions=["codepipeline:StartPipelineExecution"],
                                    resources=[self.format_arn(service="codepipeline", resource=pattern)]),
                # ListPipelines has no resource-level permissions.
                iam.PolicyStatement(sid="FindReleases", actions=["codepipeline:ListPipelines"], resources=["*"]),
            ],
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
