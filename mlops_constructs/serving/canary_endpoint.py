"""CanaryEndpoint: a SageMaker real-time endpoint that takes new model versions through a blue/green
traffic shift and rolls back on its own alarms."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs._arns import arn
from mlops_constructs._instance_types import LOCAL_STORAGE_REASON, has_local_storage
from mlops_constructs._iam import Statement, allow, network_interfaces_arn, policy_document, sagemaker_vpc_statements, service_principal
from mlops_constructs._keys import allow_dead_letters_and_alarms, deny_grants_except_for_aws_resources
from mlops_constructs._vpc import Subnets, select_subnets
from mlops_constructs.compliance import IAM5, acknowledge_each, acknowledge_policy_resources, in_packs
from mlops_constructs.errors import PropsError

Strategy = Literal["CANARY", "LINEAR", "ALL_AT_ONCE"]
VARIANT = "AllTraffic"
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:(?P<account>\d{12}):model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d+")
_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()-]+/)+")


class CanaryEndpoint(Construct):
    """Serve one model from its model package, updating in place through a deployment policy.

    Creates:

    - the **model** from ``model_package_arn`` (the package may live in another account), in the
      isolated subnets with network isolation, under an execution role that may read the package, its
      artifacts (``artifact_bucket``/``artifact_prefix``, decrypting with the key named by
      ``artifact_key_alias``) and its image (``image_repository_arn``), and write captured data;
    - the **endpoint config**: the production variant, its volume encrypted with ``encryption_key``,
      and data capture of ``data_capture_percent`` of requests and responses to ``capture_bucket``;
    - the **endpoint**, named ``endpoint_name``: a new package replaces model and endpoint config and
      updates the endpoint in place with a blue/green ``deployment`` (``CANARY``: ``traffic_step_percent``
      first, then the rest; ``LINEAR``: steps of ``traffic_step_percent``; ``ALL_AT_ONCE``), waiting
      ``wait_interval`` between steps, and rolls back when an alarm fires;
    - **alarms**: 5XX errors per minute at or above ``error_threshold``, and p99 model latency at or
      above ``latency_threshold`` for three minutes out of five, plus ``rollback_alarms`` of your own; all
      notify ``alarm_topic``;
    - **autoscaling**: target tracking of invocations per instance between ``min_capacity`` and
      ``max_capacity``, and optionally a capacity for off-hours between ``scale_down_at`` and ``scale_up_at``;
    - a **dashboard**: invocations, errors, latency, CPU and memory, and instance count.

    Example::

        endpoint = CanaryEndpoint(self, "Churn",
            endpoint_name="acme-prod-churn",
            model_package_arn="arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/7",
            vpc=network.vpc,
            encryption_key=store.encryption_key,
            capture_bucket=store.artifact_bucket,
            artifact_bucket=s3.Bucket.from_bucket_name(self, "DevArtifacts", "acme-dev-artifacts-222222222222-eu-west-1"),
            artifact_prefix="churn/",
            artifact_key_alias="alias/acme-dev/artifacts",
            instance_type="ml.m5.xlarge", instance_count=2,
        )

    :param endpoint_name: stable name of the endpoint (its identity across model versions).
    :param model_package_arn: the approved model package to serve.
    :param vpc: the VPC the model runs in. Its endpoints must include S3 and ECR.
    :param encryption_key: encrypts the instances' volumes and the captured data.
    :param capture_bucket: where captured requests and responses go, under ``capture_prefix``.
    :param artifact_bucket: the bucket the package's model artifacts are in.
    :param artifact_prefix: the artifacts' prefix in that bucket, ending with ``/``.
    :param artifact_key_alias: the alias (``alias/...``) of the key the artifacts are encrypted with, in
        the bucket's account; its key id is not known here. Default: the artifacts need no key of their own.
    :param image_repository_arn: an ECR repository the package's image may come from. Default: only
        SageMaker's own images, which need no permission.
    :param vpc_subnets: Default: the isolated subnets.
    :param instance_type: Default: ``ml.m5.large``.
    :param instance_count: initial instance count. Default: 1.
    :param capture_prefix: Default: ``data-capture/<endpoint_name>/``.
    :param data_capture_percent: 0 turns capture off. Default: 20.
    :param deployment: Default: ``CANARY``.
    :param traffic_step_percent: the canary size, or each linear step. Default: 10.
    :param wait_interval: between traffic steps, watching the alarms. Default: 5 minutes.
    :param termination_wait: before the old fleet is terminated after the shift. Default: 5 minutes.
    :param max_execution_timeout: of one deployment. Default: 1 hour.
    :param error_threshold: 5XX errors per minute that roll back. Default: 1.
    :param latency_threshold: p99 model latency that rolls back. Default: 1 second.
    :param rollback_alarms: more alarms that roll a deployment back. Default: none.
    :param min_capacity: Default: ``instance_count``.
    :param max_capacity: Default: twice ``instance_count``.
    :param target_invocations_per_instance: per minute. Default: 100.
    :param scale_in_cooldown: Default: 5 minutes. :param scale_out_cooldown: Default: 1 minute.
    :param scale_down_at: off-hours start, e.g. ``appscaling.Schedule.cron(hour="20", minute="0")``.
        Default: no scheduled scaling. Needs ``scale_up_at``.
    :param scale_up_at: off-hours end. :param off_hours_capacity: Default: 1.
    :param alarm_topic: receives every alarm. Default: a KMS-encrypted topic is created.
    :param serverless_memory_mb: serve with serverless inference (1024-6144 in steps of 1024) instead of
        instances: SageMaker then scales by itself, and there is no volume key, data capture,
        autoscaling or deployment policy (updates are all at once); the alarms still notify. The
        model then has no VPC and no network isolation, which serverless inference does not support:
        the platform's guardrails (``python -m stacks.guardrails``, the execution policy) refuse it.
        Default: instances.
    :param serverless_max_concurrency: Default: 5.
    :param removal_policy: of the alarm topic's key. Default: ``RemovalPolicy.RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        model_package_arn: str,
        vpc: ec2.IVpc,
        encryption_key: kms.IKey,
        capture_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        artifact_prefix: str,
        artifact_key_alias: str | None = None,
        image_repository_arn: str | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        capture_prefix: str | None = None,
        data_capture_percent: int = 20,
        deployment: Strategy = "CANARY",
        traffic_step_percent: int = 10,
        wait_interval: Duration = Duration.minutes(5),
        termination_wait: Duration = Duration.minutes(5),
        max_execution_timeout: Duration = Duration.hours(1),
        error_threshold: int = 1,
        latency_threshold: Duration = Duration.seconds(1),
        rollback_alarms: Sequence[cloudwatch.IAlarm] = (),
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        target_invocations_per_instance: int = 100,
        scale_in_cooldown: Duration = Duration.minutes(5),
        scale_out_cooldown: Duration = Duration.minutes(1),
        scale_down_at: appscaling.Schedule | None = None,
        scale_up_at: appscaling.Schedule | None = None,
        off_hours_capacity: int = 1,
        alarm_topic: sns.ITopic | None = None,
        serverless_memory_mb: int | None = None,
        serverless_max_concurrency: int = 5,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        capture_prefix = capture_prefix or f"data-capture/{endpoint_name}/"
        min_capacity = instance_count if min_capacity is None else min_capacity
        max_capacity = 2 * instance_count if max_capacity is None else max_capacity
        self._validate(name, endpoint_name, model_package_arn, artifact_prefix, capture_prefix, artifact_key_alias, instance_type,
                       instance_count, data_capture_percent, deployment, traffic_step_percent, min_capacity, max_capacity,
                       scale_down_at, scale_up_at, off_hours_capacity)
        if serverless_memory_mb is not None and serverless_memory_mb not in (1024, 2048, 3072, 4096, 5120, 6144):
            raise PropsError(name, "serverless_memory_mb", serverless_memory_mb, "must be 1024, 2048, 3072, 4096, 5120 or 6144")
        if not 1 <= serverless_max_concurrency <= 200:
            raise PropsError(name, "serverless_max_concurrency", serverless_max_concurrency, "must be from 1 to 200")
        serverless = serverless_memory_mb is not None
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        subnets = select_subnets(vpc, vpc_subnets)
        # Attributes read once: each read of a CDK object is a round trip to jsii's Node process.
        self._account = stack.account
        self._key_arn = encryption_key.key_arn
        self._interfaces_arn = network_interfaces_arn(stack)

        self.security_group = ec2.SecurityGroup(
            self, "ModelSecurityGroup", vpc=vpc, description=f"Endpoint {endpoint_name}: HTTPS out only", allow_all_outbound=False
        )
        """The model containers' security group: no ingress, HTTPS out (to the VPC and gateway endpoints)."""
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC and gateway endpoints")
        self._security_group_id = self.security_group.security_group_id

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=service_principal("sagemaker.amazonaws.com", self._account),
            description=f"Execution role of endpoint {endpoint_name}",
        )
        """The model's execution role; its permissions are all in ``policy``."""
        statements, reasons = self._permissions(stack, model_package_arn, artifact_bucket, artifact_prefix, artifact_key_alias,
                                                image_repository_arn, capture_bucket, capture_prefix, subnets)
        self.policy = iam.ManagedPolicy(self, "ExecutionPolicy", description=f"Endpoint {endpoint_name}: its package, artifacts, image and capture",
                                        roles=[self.role], document=policy_document(statements))
        """What the model may do."""
        acknowledge_policy_resources(self.policy, IAM5, reasons, stack=stack)

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            containers=[sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)],
            # Serverless inference supports neither a VPC nor network isolation
            # (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, feature exclusions).
            enable_network_isolation=None if serverless else True,
            vpc_config=None if serverless else sagemaker.CfnModel.VpcConfigProperty(security_group_ids=[self._security_group_id], subnets=subnets.subnet_ids),
        )
        """The model of the current package. A new package replaces it."""
        self.model.add_resource_dependency(self.policy.node.default_child, "the role needs its policy before SageMaker uses it")  # type: ignore[arg-type]

        variant = (
            sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT,
                model_name=self.model.attr_model_name,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=serverless_memory_mb, max_concurrency=serverless_max_concurrency
                ),
            )
            if serverless
            else sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT,
                model_name=self.model.attr_model_name,
                instance_type=instance_type,
                initial_instance_count=instance_count,
                initial_variant_weight=1,
            )
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            kms_key_id=None if serverless else self._key_arn,
            production_variants=[variant],
            data_capture_config=None if serverless else sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=data_capture_percent > 0,
                initial_sampling_percentage=max(data_capture_percent, 1),
                destination_s3_uri=capture_bucket.s3_url_for_object(capture_prefix.rstrip("/")),
                kms_key_id=self._key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
            ),
        )
        """The endpoint config of the current package. A new package replaces it (it has no fixed name)."""
        if serverless:
            acknowledge_each(self.endpoint_config, in_packs(
                "SageMakerEndpointConfigurationKMSKeyConfigured", "Serverless inference has no instance "
                "volume to encrypt, and SageMaker rejects a KmsKeyId for it; serverless is a dev-only option."
            ))

        self.alarm_topic: sns.ITopic = alarm_topic or self._topic(endpoint_name, removal_policy)
        """Receives every alarm of the endpoint."""
        self._alarm_action = cloudwatch_actions.SnsAction(self.alarm_topic)
        self.error_alarm = self._alarm(
            "ErrorAlarm", f"{endpoint_name}-5xx", f"5XX errors of {endpoint_name}: rolls a deployment back",
            cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors", statistic="Sum", period=durations.minutes(1),
                              dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT}),
            threshold=error_threshold, evaluation_periods=1, datapoints=1,
        )
        """5XX errors per minute at or above the threshold."""
        self.latency_alarm = self._alarm(
            "LatencyAlarm", f"{endpoint_name}-p99-latency", f"p99 model latency of {endpoint_name}: rolls a deployment back",
            cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="ModelLatency", statistic="p99", period=durations.minutes(1),
                              dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT}),
            threshold=latency_threshold.to_milliseconds() * 1000,  # ModelLatency is in microseconds
            evaluation_periods=5, datapoints=3,
        )
        """p99 model latency at or above the threshold in three of five minutes."""
        self.rollback_alarm_names = [self.error_alarm.alarm_name, self.latency_alarm.alarm_name, *(a.alarm_name for a in rollback_alarms)]
        """Every alarm that rolls a deployment back, by name."""

        step = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=traffic_step_percent)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=None if serverless else sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                        type=deployment,
                        canary_size=step if deployment == "CANARY" else None,
                        linear_step_size=step if deployment == "LINEAR" else None,
                        wait_interval_in_seconds=int(wait_interval.to_seconds()) if deployment != "ALL_AT_ONCE" else None,
                    ),
                    termination_wait_in_seconds=int(termination_wait.to_seconds()),
                    maximum_execution_timeout_in_seconds=int(max_execution_timeout.to_seconds()),
                ),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=n) for n in self.rollback_alarm_names]
                ),
            ),
        )
        """The endpoint: its logical id and name stay when the package changes. The alarm names are
        references, so the alarms exist before a deployment watches them."""
        self.endpoint_arn: str = self.endpoint.ref
        """The endpoint's ARN, e.g. for a policy that lets a smoke test invoke it."""

        self.scalable_target: appscaling.ScalableTarget | None = None if serverless else self._autoscaling(
            stack, min_capacity, max_capacity, target_invocations_per_instance, scale_in_cooldown, scale_out_cooldown,
            scale_down_at, scale_up_at, off_hours_capacity,
        )
        """The variant's autoscaling target (``None`` for serverless)."""
        self.dashboard = self._dashboard()
        """Invocations, errors, latency, utilization and instance count."""
        self.capture_prefix = capture_prefix if data_capture_percent > 0 and not serverless else None
        """Where data capture writes (SageMaker adds ``<endpoint>/<variant>/yyyy/mm/dd/hh/``), or ``None``
        without capture: what a ``DriftMonitor`` reads."""

    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _validate(name: str, endpoint_name: str, package_arn: str, artifact_prefix: str, capture_prefix: str, key_alias: str | None,
                  instance_type: str, instance_count: int, capture_percent: int, deployment: str, step: int, min_capacity: int,
                  max_capacity: int, scale_down_at: object, scale_up_at: object, off_hours_capacity: int) -> None:
        checks: list[tuple[str, object, bool, str]] = [
            ("endpoint_name", endpoint_name, isinstance(endpoint_name, str) and bool(_ENDPOINT_NAME.fullmatch(endpoint_name)), "must be 1-63 letters, digits and hyphens"),
            ("model_package_arn", package_arn, isinstance(package_arn, str) and bool(_PACKAGE_ARN.fullmatch(package_arn)), "must be a versioned model package ARN, arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"),
            ("artifact_prefix", artifact_prefix, bool(_PREFIX.fullmatch(artifact_prefix)), "must be an S3 key prefix without a leading slash, ending with '/'"),
            ("capture_prefix", capture_prefix, bool(_PREFIX.fullmatch(capture_prefix)), "must be an S3 key prefix without a leading slash, ending with '/'"),
            ("artifact_key_alias", key_alias, key_alias is None or bool(re.fullmatch(r"alias/[a-zA-Z0-9/_-]{1,250}", key_alias)), "must be a KMS alias name, alias/<name>"),
            ("instance_type", instance_type, bool(re.fullmatch(r"ml\.[a-z0-9-]+\.[a-z0-9]+", instance_type)), "must be a SageMaker instance type name like ml.m5.large"),
            ("instance_type", instance_type, not has_local_storage(instance_type), LOCAL_STORAGE_REASON),
            ("instance_count", instance_count, 1 <= instance_count <= 100, "must be from 1 to 100"),
            ("data_capture_percent", capture_percent, 0 <= capture_percent <= 100, "must be from 0 to 100"),
            ("deployment", deployment, deployment in ("CANARY", "LINEAR", "ALL_AT_ONCE"), "must be CANARY, LINEAR or ALL_AT_ONCE"),
            ("traffic_step_percent", step, 1 <= step <= 50, "must be from 1 to 50"),
            ("min_capacity", min_capacity, 1 <= min_capacity <= max_capacity, f"must be from 1 to max_capacity ({max_capacity})"),
            ("scale_up_at", scale_up_at, (scale_down_at is None) == (scale_up_at is None), "must be given together with scale_down_at"),
            ("off_hours_capacity", off_hours_capacity, 1 <= off_hours_capacity <= max_capacity, f"must be from 1 to max_capacity ({max_capacity})"),
        ]
        for prop, value, ok, allowed in checks:
            if not ok:
                raise PropsError(name, prop, value, allowed)

    def _permissions(self, stack: Stack, package_arn: str, artifact_bucket: s3.IBucket, artifact_prefix: str, key_alias: str | None,
                     repository_arn: str | None, capture_bucket: s3.IBucket, capture_prefix: str,
                     subnets: Subnets) -> tuple[list[Statement], dict[str, str]]:
        """The execution policy's statements, and the reason for each wildcard resource in them."""
        artifacts_account = _PACKAGE_ARN.fullmatch(package_arn)["account"]  # type: ignore[index]
        artifacts = artifact_bucket.arn_for_objects(f"{artifact_prefix}*")
        capture = capture_bucket.arn_for_objects(f"{capture_prefix}*")
        logs = arn(stack, "logs", "log-group", "/aws/sagemaker/Endpoints/*", sep=":")
        statements = [
            allow("DescribePackage", ["sagemaker:DescribeModelPackage"], [package_arn]),
            allow("ReadArtifacts", ["s3:GetObject"], [artifacts]),
            allow("WriteCapture", ["s3:PutObject"], [capture]),
            allow("EncryptCapture", ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:DescribeKey"], [self._key_arn]),
            allow("EncryptVolumes", ["kms:CreateGrant"], [self._key_arn], {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            allow("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], [logs]),
            # PutMetricData and the EC2 Describe calls have no resource-level permissions.
            allow("Metrics", ["cloudwatch:PutMetricData"], ["*"], {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
            *sagemaker_vpc_statements(stack, subnets.subnet_ids, self.security_group, "ModelNetworkInterfaces", interfaces_arn=self._interfaces_arn),
        ]
        reasons = {
            artifacts: "The model's own artifact prefix: the package's model.tar.gz, whose key is per training run.",
            capture: "The endpoint's own capture prefix: SageMaker names capture files by hour.",
            logs: "SageMaker's own endpoint log groups, named per endpoint.",
            self._interfaces_arn: "Interfaces SageMaker creates for the model in its subnets and security group (named in the same statement).",
            "*": "Only actions without resource-level permissions: cloudwatch:PutMetricData (SageMaker's namespaces), EC2 Describe* and ecr:GetAuthorizationToken.",
        }
        if key_alias is not None:
            # The artifacts' key lives in their account and its id is not known here: any key there
            # that carries this alias, used through S3 only.
            artifacts_keys = arn(stack, "kms", "key", "*", account=artifacts_account)
            statements.append(allow(
                "DecryptArtifacts", ["kms:Decrypt"], [artifacts_keys],
                {
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias},
                    "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                },
            ))
            reasons[artifacts_keys] = (
                "The artifacts' key in their account, whose id is unknown here; limited by kms:ResourceAliases to one alias and by kms:ViaService to S3."
            )
        if repository_arn is not None:
            statements += [
                allow("PullImage", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], [repository_arn]),
                # GetAuthorizationToken has no resource-level permissions.
                allow("RegistryLogin", ["ecr:GetAuthorizationToken"], ["*"]),
            ]
        return statements, reasons

    def _topic(self, endpoint_name: str, removal_policy: RemovalPolicy) -> sns.Topic:
        key = kms.Key(self, "AlarmKey", description=f"Encrypts the alarm topic of endpoint {endpoint_name}",
                      enable_key_rotation=True, removal_policy=removal_policy)
        allow_dead_letters_and_alarms(key)
        deny_grants_except_for_aws_resources(key)
        return sns.Topic(self, "AlarmTopic", display_name=f"Alarms of endpoint {endpoint_name}", master_key=key, enforce_ssl=True)

    def _alarm(self, id: str, alarm_name: str, description: str, metric: cloudwatch.IMetric, *, threshold: float,
               evaluation_periods: int, datapoints: int) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, id, alarm_name=alarm_name, alarm_description=description, metric=metric, threshold=threshold,
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._alarm_action)
        alarm.add_ok_action(self._alarm_action)
        return alarm

    def _autoscaling(self, stack: Stack, min_capacity: int, max_capacity: int, target: int, scale_in: Duration, scale_out: Duration,
                     scale_down_at: appscaling.Schedule | None, scale_up_at: appscaling.Schedule | None, off_hours: int) -> appscaling.ScalableTarget:
        target_ = appscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            # Application Auto Scaling's service-linked role for SageMaker: no role of our own to manage.
            role=iam.Role.from_role_arn(
                self, "ScalingRole",
                stack.format_arn(service="iam", region="", resource="role",
                                 resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"),
                mutable=False,
            ),
        )
        target_.node.add_dependency(self.endpoint)
        target_.scale_to_track_metric(
            "InvocationsPerInstance",
            # Named after the endpoint, not after the construct path CDK would derive it from: the name is the
            # policy's identity (a new name replaces it), so moving the construct must not change it.
            policy_name=f"{self.endpoint_name}-invocations-per-instance",
            target_value=target,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=scale_in,
            scale_out_cooldown=scale_out,
        )
        if scale_down_at is not None and scale_up_at is not None:
            target_.scale_on_schedule("OffHours", schedule=scale_down_at, min_capacity=off_hours, max_capacity=off_hours)
            target_.scale_on_schedule("WorkingHours", schedule=scale_up_at, min_capacity=min_capacity, max_capacity=max_capacity)
        return target_

    def _dashboard(self) -> cloudwatch.Dashboard:
        def metric(name: str, statistic: str, namespace: str = "AWS/SageMaker") -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace=namespace, metric_name=name, statistic=statistic, period=durations.minutes(1),
                                     dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT})

        instance = "/aws/sagemaker/Endpoints"
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            widgets=[
                [
                    cloudwatch.GraphWidget(title="Invocations", left=[metric("Invocations", "Sum")], width=8),
                    cloudwatch.GraphWidget(title="Errors", left=[metric("Invocation4XXErrors", "Sum"), metric("Invocation5XXErrors", "Sum")], width=8),
                    cloudwatch.GraphWidget(title="Model latency (microseconds)", left=[metric("ModelLatency", "p50"), metric("ModelLatency", "p99")], width=8),
                ],
                [
                    cloudwatch.GraphWidget(title="Utilization (%)", left=[metric("CPUUtilization", "Average", instance), metric("MemoryUtilization", "Average", instance)], width=8),
                    cloudwatch.GraphWidget(title="Invocations per instance (scaling)", left=[metric("InvocationsPerInstance", "Sum")], width=8),
                    cloudwatch.AlarmStatusWidget(title="Rollback alarms", alarms=[self.error_alarm, self.latency_alarm], width=8),
                ],
            ],
        )

