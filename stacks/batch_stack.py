"""The batch inference stack of one model in one stage: its BatchInference, over the stage's data and artifact
buckets, with the model version the model's release pipeline released, and, for a monitored batch-only model, the
DriftMonitor each run starts on the input it scored."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.config import ModelSettings, PlatformConfig
from mlops_constructs.keys import allow_dead_letters_and_alarms, deny_grants_except_for_aws_resources
from mlops_constructs.monitoring import DriftMonitor
from mlops_constructs.serving import BatchInference
from mlops_constructs.storage import ArtifactStore
from stacks._references import stage_key_arn, stage_vpc
from stacks._settings import log_retention, stateful_removal_policy
from stacks.names import batch_name, model_repository_arn, storage_name_prefix, store_key_alias


class BatchStack(Stack):
    """Scores a model's batch input with its released version in one stage: the input under
    ``models[].batch.input_prefix`` of the stage's data bucket, the results under ``batch-output/<name>/`` of its
    artifact bucket, both encrypted with the stage's key; the model's artifacts read from the dev account."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, model: ModelSettings, model_package_arn: str,
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self._package_arn = model_package_arn
        batch = model.batch
        assert batch is not None  # the stage adds this stack only for a model with batch settings
        settings = config.stage(stage)
        # The stage's VPC and key from its network and storage stacks' outputs (this stack is in the model's release
        # stage: stacks._references); buckets by their deterministic names.
        vpc = stage_vpc(self, config, stage)
        key = kms.Key.from_key_arn(self, "StoreKey", stage_key_arn(config, stage))
        prefix = storage_name_prefix(config, stage)
        data = s3.Bucket.from_bucket_attributes(self, "DataBucket", encryption_key=key,
                                                bucket_name=ArtifactStore.bucket_name(prefix, "data", self.account, self.region))
        artifacts = s3.Bucket.from_bucket_attributes(self, "ArtifactBucket", encryption_key=key,
                                                     bucket_name=ArtifactStore.bucket_name(prefix, "artifacts", self.account, self.region))
        dev_artifacts = s3.Bucket.from_bucket_attributes(
            self, "DevArtifacts", account=config.accounts.dev, region=config.region,
            bucket_name=ArtifactStore.bucket_name(storage_name_prefix(config, "dev"), "artifacts", config.accounts.dev, config.region),
        )
        paths = {key_: config.model_path(model, "batch", key_) for key_ in (
            "instance_type", "instance_count", "max_payload_mb", "max_concurrent_transforms", "batch_strategy", "split_type", "content_type",
            "accept", "join_source", "input_filter", "output_filter", "output_columns", "schedule", "on_new_data")}
        paths.update({
            "name": f"project, {config.model_path(model, 'name')}",
            "model_package_arn": f"{config.model_path(model, 'model_package_arn')} (or -c model_package_arn.{model.name}=<arn>)",
            "input_prefix": config.model_path(model, "batch", "input_prefix"),
            "artifact_prefix": config.model_path(model, "name"),
            "artifact_key_alias": "project",
            "image_repository": "project (the dev ArtifactStore's model repository)",
        })
        self.notification_topic: sns.Topic | None = None
        """With a drift check: the topic of the runs' and the checks' alarms and failures, encrypted with a key of its own
        (``None`` otherwise: BatchInference makes its own)."""
        self.drift_monitor: DriftMonitor | None = None
        """The drift check each successful run starts, for a monitored batch-only model."""
        if model.batch_drift_in(stage):
            self._drift_monitor(config, stage, model, vpc, key, data, artifacts, dev_artifacts)
        with config.props_from(paths):
            self.batch = BatchInference(
                self, "Batch",
                name=batch_name(config, stage, model),
                model_package_arn=model_package_arn,
                vpc=vpc,
                encryption_key=key,
                input_bucket=data,
                input_prefix=model.batch_input_prefix,
                output_bucket=artifacts,
                artifact_bucket=dev_artifacts,
                artifact_prefix=f"{model.name}/",
                artifact_key_alias=store_key_alias(config, "dev"),
                # A model with its own image pulls it from the platform's model repository, as the endpoint stack's does.
                image_repository=ecr.Repository.from_repository_arn(self, "ModelRepository", model_repository_arn(config)),
                instance_type=batch.instance_type,
                instance_count=batch.instance_count,
                max_payload_mb=batch.max_payload_mb,
                max_concurrent_transforms=batch.max_concurrent_transforms,
                batch_strategy=batch.batch_strategy,
                split_type=batch.split_type,
                content_type=batch.content_type,
                accept=batch.accept,
                join_source=batch.join_source,
                input_filter=batch.input_filter,
                output_filter=batch.output_filter,
                output_columns=dict(batch.output_columns),
                schedule=scheduler.ScheduleExpression.expression(batch.schedule) if batch.schedule else None,
                on_new_data=batch.on_new_data,
                max_run_time=Duration.hours(24),
                log_retention=log_retention(settings),
                removal_policy=stateful_removal_policy(settings),
                notification_topic=self.notification_topic,
                drift_monitor=self.drift_monitor,
            )

    def _drift_monitor(self, config: PlatformConfig, stage: str, model: ModelSettings, vpc: Any, key: kms.IKey, data: s3.IBucket,
                       artifacts: s3.IBucket, dev_artifacts: s3.IBucket) -> None:
        monitoring = model.monitoring
        assert monitoring is not None
        settings = config.stage(stage)
        # One topic for the runs and their checks, made here because both constructs notify it.
        topic_key = kms.Key(self, "NotificationKey", enable_key_rotation=True, removal_policy=stateful_removal_policy(settings),
                            description=f"Encrypts the batch runs' and drift checks' notifications of {model.name}")
        allow_dead_letters_and_alarms(topic_key)
        deny_grants_except_for_aws_resources(topic_key)
        self.notification_topic = sns.Topic(self, "NotificationTopic", display_name=f"Batch transform and drift of {model.name}",
                                            master_key=topic_key, enforce_ssl=True)
        derived = "project (derived from the batch's name and input)"
        with config.props_from({
            "drift_threshold": config.model_path(model, "monitoring", "drift_threshold"),
            "min_rows": config.model_path(model, "monitoring", "min_rows"),
            "instance_type": config.model_path(model, "monitoring", "instance_type"),
            "drop_columns": config.model_path(model, "batch", "input_filter"),
            "endpoint_name": derived, "capture_prefix": derived,
        }):
            self.drift_monitor = DriftMonitor(
                self, "Drift",
                source="batch-input",
                endpoint_name=batch_name(config, stage, model),
                model_package_arn=self._package_arn,
                capture_bucket=data,
                capture_prefix=model.batch_input_prefix,
                drop_columns=model.batch_drop_columns,
                reports_bucket=artifacts,
                baseline_bucket=dev_artifacts,
                baseline_key_alias=store_key_alias(config, "dev") if config.accounts.dev != self.account else None,
                vpc=vpc,
                encryption_key=key,
                notification_topic=self.notification_topic,
                drift_threshold=monitoring.drift_threshold,
                min_rows=monitoring.min_rows,
                instance_type=monitoring.instance_type,
                retrain_event_bus=events.EventBus.from_event_bus_arn(
                    self, "TrainingBus", f"arn:{self.partition}:events:{config.region}:{config.accounts.dev}:event-bus/default"),
                log_retention=log_retention(settings),
                removal_policy=stateful_removal_policy(settings),
            )
