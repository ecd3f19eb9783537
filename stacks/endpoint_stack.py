"""The endpoint stack of one model in one stage: its CanaryEndpoint, and its DriftMonitor when the model
is monitored."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.config import ModelSettings, PlatformConfig
from mlops_constructs.monitoring import DriftMonitor
from mlops_constructs.serving import CanaryEndpoint, InferenceApi
from mlops_constructs.storage import ArtifactStore
from stacks._references import stage_execute_api_endpoint, stage_key_arn, stage_vpc
from stacks._roles import role_for_pipeline_step
from stacks._settings import log_retention, stateful_removal_policy
from stacks.names import (
    endpoint_name,
    endpoint_smoke_test_role_name,
    model_repository_arn,
    role_arn,
    smoke_test_role_name,
    storage_name_prefix,
    store_key_alias,
)

SMOKE_TESTED_STAGES = ("staging",)
"""The stages whose endpoints the delivery pipeline invokes after deploying them."""

API_URL_OUTPUT = "InferenceApiUrl"
"""The endpoint stack's output with its API's URL (where clients POST), when the model has an API in the stage:
what the smoke test reads (with ``cloudformation:DescribeStacks`` on this stack only)."""


class EndpointStack(Stack):
    """Serves one approved model version in one stage, reading its artifacts from the dev account and
    capturing data into the stage's own artifact bucket."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        stage: str,
        model: ModelSettings,
        model_package_arn: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        settings = model.endpoint(stage, config.stage(stage).endpoint)
        deployment = settings.deployment_for(stage)
        scaling, alarms = settings.autoscaling, settings.alarms
        # The stage's VPC and key from its network and storage stacks' outputs (this stack is in the model's
        # release stage: stacks._references); buckets by their deterministic names (literal ARNs in the policy).
        vpc = stage_vpc(self, config, stage)
        key = kms.Key.from_key_arn(self, "StoreKey", stage_key_arn(config, stage))
        capture_bucket = s3.Bucket.from_bucket_attributes(
            self, "CaptureBucket", encryption_key=key,
            bucket_name=ArtifactStore.bucket_name(storage_name_prefix(config, stage), "artifacts", self.account, self.region),
        )
        dev_artifacts = s3.Bucket.from_bucket_attributes(
            self, "DevArtifacts", account=config.accounts.dev, region=config.region,
            bucket_name=ArtifactStore.bucket_name(storage_name_prefix(config, "dev"), "artifacts", config.accounts.dev, config.region),
        )
        off_hours = scaling.off_hours
        # Where each prop fed from the configuration comes from, for the construct's errors.
        endpoint, autoscaling = f"stages.{stage}.endpoint", f"stages.{stage}.endpoint.autoscaling"
        derived = f"project, {config.model_path(model, 'name')}"
        paths = {
            "endpoint_name": derived,
            "model_package_arn": f"{config.model_path(model, 'model_package_arn')} (or -c model_package_arn.{model.name}=<arn>)",
            "artifact_prefix": config.model_path(model, "name"),
            "capture_prefix": derived,
            "artifact_key_alias": "project",
            "instance_type": config.endpoint_path(stage, model, "instance_type"),
            "instance_count": config.endpoint_path(stage, model, "instance_count"),
            "data_capture_percent": config.endpoint_path(stage, model, "data_capture_percent"),
            "deployment": f"{endpoint}.deployment.strategy",
            "traffic_step_percent": f"{endpoint}.deployment.traffic_step_percent",
            "wait_interval": f"{endpoint}.deployment.wait_minutes",
            "termination_wait": f"{endpoint}.deployment.termination_wait_minutes",
            "max_execution_timeout": f"{endpoint}.deployment.max_execution_timeout_minutes",
            "min_capacity": f"{autoscaling}.min_capacity" if scaling.min_capacity is not None else config.endpoint_path(stage, model, "instance_count"),
            "scale_up_at": f"{autoscaling}.off_hours.scale_up",
            "off_hours_capacity": f"{autoscaling}.off_hours.capacity",
            "serverless_memory_mb": f"{endpoint}.serverless.memory_size_mb",
            "serverless_max_concurrency": f"{endpoint}.serverless.max_concurrency",
        }
        with config.props_from(paths):
            self.endpoint = CanaryEndpoint(
                self,
                "Endpoint",
                endpoint_name=endpoint_name(config, stage, model),
                model_package_arn=model_package_arn,
                vpc=vpc,
                encryption_key=key,
                capture_bucket=capture_bucket,
                artifact_bucket=dev_artifacts,
                artifact_prefix=f"{model.name}/",
                artifact_key_alias=store_key_alias(config, "dev"),
                image_repository=ecr.Repository.from_repository_arn(self, "ModelRepository", model_repository_arn(config)),
                instance_type=settings.instance_type,
                instance_count=settings.instance_count,
                data_capture_percent=settings.data_capture_percent,
                deployment=deployment.strategy,
                traffic_step_percent=deployment.traffic_step_percent,
                wait_interval=Duration.minutes(deployment.wait_minutes),
                termination_wait=Duration.minutes(deployment.termination_wait_minutes),
                max_execution_timeout=Duration.minutes(deployment.max_execution_timeout_minutes),
                error_threshold=alarms.max_5xx_per_minute,
                latency_threshold=Duration.millis(alarms.p99_latency_ms),
                autoscaling=scaling.enabled,
                min_capacity=scaling.min_capacity,
                max_capacity=scaling.max_capacity,
                target_invocations_per_instance=scaling.target_invocations_per_instance,
                scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
                scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
                scale_down_at=appscaling.Schedule.expression(off_hours.scale_down) if off_hours else None,
                scale_up_at=appscaling.Schedule.expression(off_hours.scale_up) if off_hours else None,
                off_hours_capacity=off_hours.capacity if off_hours else 1,
                serverless_memory_mb=settings.serverless.memory_size_mb if settings.serverless else None,
                serverless_max_concurrency=settings.serverless.max_concurrency if settings.serverless else 5,
                removal_policy=stateful_removal_policy(config.stage(stage)),
            )

        self.drift_monitor: DriftMonitor | None = None
        """The drift checks of the endpoint, when the model is monitored."""
        monitoring = model.monitoring
        if monitoring is not None and stage in monitoring.stages and self.endpoint.capture_prefix is not None:
            # (the config refuses monitoring of a stage without capture)
            with config.props_from({
                "schedule": config.model_path(model, "monitoring", "schedule"),
                "drift_threshold": config.model_path(model, "monitoring", "drift_threshold"),
                "min_rows": config.model_path(model, "monitoring", "min_rows"),
                "instance_type": config.model_path(model, "monitoring", "instance_type"),
                "endpoint_name": derived,
                "capture_prefix": derived,
            }):
                self.drift_monitor = DriftMonitor(
                    self,
                    "Drift",
                    endpoint_name=self.endpoint.endpoint_name,
                    model_package_arn=model_package_arn,
                    capture_bucket=capture_bucket,
                    capture_prefix=self.endpoint.capture_prefix,
                    baseline_bucket=dev_artifacts,
                    baseline_key_alias=store_key_alias(config, "dev") if config.accounts.dev != self.account else None,
                    vpc=vpc,
                    encryption_key=key,
                    notification_topic=self.endpoint.notification_topic,
                    schedule=monitoring.schedule,
                    drift_threshold=monitoring.drift_threshold,
                    min_rows=monitoring.min_rows,
                    instance_type=monitoring.instance_type,
                    retrain_event_bus=events.EventBus.from_event_bus_arn(
                        self, "TrainingBus", f"arn:{self.partition}:events:{config.region}:{config.accounts.dev}:event-bus/default"
                    ),
                    removal_policy=stateful_removal_policy(config.stage(stage)),
                )

        self.api: InferenceApi | None = None
        """The model's API in front of the endpoint, when its ``api`` settings name this stage."""
        if model.api is not None and stage in model.api.stages:
            self.api = self._api(config, stage, model)

        self.smoke_test_role: iam.Role | None = None
        """The role the delivery pipeline's smoke test invokes the endpoint (and its API) through, where it has one."""
        if config.delivery is not None and model.smoke_test is not None and stage in SMOKE_TESTED_STAGES:
            self.smoke_test_role = self._smoke_test_role(config, stage, model)

    def _api(self, config: PlatformConfig, stage: str, model: ModelSettings) -> InferenceApi:
        api = model.api
        assert api is not None
        private = api.endpoint_type == "private"
        domain = api.custom_domain
        base = config.model_path(model, "api")
        with config.props_from({
            "api_name": f"project, {config.model_path(model, 'name')}",
            "content_types": f"{base}.content_types", "max_body_kb": f"{base}.max_body_kb", "quota_per_day": f"{base}.quota_per_day",
            "api_key_required": f"{base}.api_key_required",
            "throttling_rate_limit": f"{base}.throttling.rate_limit", "throttling_burst_limit": f"{base}.throttling.burst_limit",
            "waf_rate_limit": f"{base}.waf_rate_limit", "domain_name": f"{base}.custom_domain.domain_name",
        }):
            inference_api = InferenceApi(
                self,
                "Api",
                endpoint=self.endpoint,
                endpoint_type="PRIVATE" if private else "REGIONAL",
                vpc_endpoint=stage_execute_api_endpoint(self, config, stage) if private else None,
                user_pools=[cognito.UserPool.from_user_pool_arn(self, "UserPool", api.user_pool_arn)] if api.user_pool_arn else (),
                content_types=api.content_types,
                max_body_kb=api.max_body_kb,
                throttling_rate_limit=api.throttling.rate_limit,
                throttling_burst_limit=api.throttling.burst_limit,
                quota_per_day=api.quota_per_day,
                api_key_required=api.api_key_required,
                waf_rate_limit=api.waf_rate_limit,
                domain_name=domain.domain_name if domain else None,
                certificate=acm.Certificate.from_certificate_arn(self, "ApiCertificate", domain.certificate_arn) if domain else None,
                log_retention=log_retention(config.stage(stage)),
                removal_policy=stateful_removal_policy(config.stage(stage)),
            )
        CfnOutput(self, API_URL_OUTPUT, value=inference_api.url, description=f"Where clients POST requests to model {model.name}")
        return inference_api

    def _smoke_test_role(self, config: PlatformConfig, stage: str, model: ModelSettings) -> iam.Role:
        name = endpoint_name(config, stage, model)
        # The pipeline's smoke test calls a regional API too; a private one it cannot reach, nor one that requires an
        # API key (it has none).
        api = self.api if self.api is not None and self.api.endpoint_type == "REGIONAL" and not self.api.api_key_required else None

        def grant(grantee: iam.IGrantable) -> iam.Grant:
            if api is not None:
                api.grant_invoke(grantee)  # execute-api:Invoke on POST /invocations of its stage only
            return self.endpoint.grant_invoke(grantee)

        return role_for_pipeline_step(
            self,
            "SmokeTestRole",
            role_name=endpoint_smoke_test_role_name(config, stage, model),
            tooling_account=config.accounts.tooling,
            step_role_arn=role_arn(config.accounts.tooling, smoke_test_role_name(config)),
            description=f"The delivery pipeline's smoke test invokes endpoint {name}",
            policy_id="SmokeTestPolicy",
            policy_description=f"Invoke endpoint {name}" + (" and its API" if api is not None else ""),
            # The smoke test reads the API's URL from this stack's output, on this stack only.
            statement=iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[self.stack_id]) if api is not None else None,
            grant=grant,
        )
