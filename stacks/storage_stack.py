"""The storage stack of one stage: its key, buckets and image repository."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.compliance import IAM5, acknowledge_each, nag_resources
from mlops_constructs.config import PlatformConfig
from mlops_constructs.storage import ArtifactStore
from stacks._references import STORE_KEY_ARN_OUTPUT
from stacks._settings import SERVED_FROM_REMOVAL_POLICY
from stacks._roles import role_for_pipeline_step
from stacks.names import ANY_MODEL, approved_model_parameter, approved_model_reader_role_name, role_arn, storage_name_prefix, synth_role_name


class StorageStack(Stack):
    """One stage's :class:`ArtifactStore`.

    In dev, where models are trained, the staging and prod accounts may read model artifacts and pull
    images: they serve what dev trained.
    """

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        settings = config.stage(stage)
        serving_accounts = (config.accounts.staging, config.accounts.prod) if stage == "dev" else ()
        paths = {"name_prefix": "project", "read_accounts": "accounts.staging, accounts.prod"}  # the construct's props fed from config
        with config.props_from(paths):
            self.store = ArtifactStore(
                self,
                "Store",
                name_prefix=storage_name_prefix(config, stage),
                read_accounts=[account for account in serving_accounts if account != config.accounts.dev],
                removal_policy=SERVED_FROM_REMOVAL_POLICY,  # what staging and prod serve from (stacks._settings)
                noncurrent_version_retention=Duration.days(settings.noncurrent_version_retention_days),
                access_log_retention=Duration.days(settings.access_log_retention_days),
                # Dev trains: its new data may start a training run; in a stage where a model's batch runs start on
                # new data, that data's arrival starts them.
                data_events_to_eventbridge=stage == "dev" or any(
                    m.batch_in(stage) and m.batch is not None and m.batch.on_new_data for m in config.models),
                # The batch results' tables (one per model with batch runs here) are in this account's Glue Data Catalog:
                # its metadata is encrypted with the stage's key like the results themselves.
                encrypt_data_catalog=any(m.batch_in(stage) for m in config.models),
            )
        # What the models' release stacks read (stacks._references): an output with a fixed name.
        CfnOutput(self, STORE_KEY_ARN_OUTPUT, value=self.store.encryption_key.key_arn,
                  description="The stage's artifact store key, for the models' release stacks")
        if stage == "dev" and config.delivery is not None:
            self._approved_model_reader(config)
        if stage == "dev" and any(model.monitoring for model in config.models):
            # The serving accounts forward their endpoints' drift alarms to this account's default bus,
            # where the training pipelines listen; nothing else from them is admitted.
            bus_arn = f"arn:{self.partition}:events:{self.region}:{self.account}:event-bus/default"
            for account in dict.fromkeys(serving_accounts):
                if account == config.accounts.dev:
                    continue
                # Written as the plain CloudFormation resource: the L1 class trips jsii's deprecation
                # warning for a property it declares, and the L2 mis-serializes its statement in Python.
                CfnResource(
                    self,
                    f"ForwardedDriftFrom{account}",
                    type="AWS::Events::EventBusPolicy",
                    properties={
                        "EventBusName": "default",
                        "StatementId": f"{config.project}-drift-from-{account}",
                        "Statement": {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:{self.partition}:iam::{account}:root"},
                            "Action": "events:PutEvents",
                            "Resource": bus_arn,
                            "Condition": {"StringEquals": {"events:source": "aws.cloudwatch", "events:detail-type": "CloudWatch Alarm State Change"}},
                        },
                    },
                )

    def _approved_model_reader(self, config: PlatformConfig) -> None:
        """The role through which the release pipelines' synth build, in the tooling account, reads which package
        of a model is approved: one for every model (one role per model would grow the account's roles with
        the models), allowed to read the approved-model parameters and nothing else."""
        parameters = approved_model_parameter(config, ANY_MODEL).lstrip("/")
        role_for_pipeline_step(
            self,
            "ApprovedModelReader",
            role_name=approved_model_reader_role_name(config),
            tooling_account=config.accounts.tooling,
            step_role_arn=role_arn(config.accounts.tooling, synth_role_name(config)),
            description="The release pipelines' synth build reads which package of each model is approved",
            policy_id="ApprovedModelReaderPolicy",
            policy_description="Read the models' approved-model parameters",
            statement=iam.PolicyStatement(
                sid="ReadApprovedModelParameters",
                actions=["ssm:GetParameter"],
                resources=[self.format_arn(service="ssm", resource="parameter", resource_name=parameters)],
            ),
        )
        resource = self.format_arn(service="ssm", resource="parameter", resource_name=parameters)
        (finding,) = nag_resources(self, [resource])
        acknowledge_each(self.node.find_child("ApprovedModelReaderPolicy"), {
            f"{IAM5}[{finding}]":
                "Each model's approved-model parameter, /<project>/models/<model>/approved-model-package-arn: read-only, "
                "and nothing else of the account's parameters.",
        })
