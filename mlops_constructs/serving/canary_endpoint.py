"""CanaryEndpoint: a SageMaker real-time endpoint that takes new model versions through a blue/green
traffic shift and rolls back on its own alarms; EndpointReference: an endpoint made elsewhere, imported."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import jsii
from aws_cdk import Duration, Fn, IAnyProducer, IResolveContext, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs._arns import arn
from mlops_constructs._instance_types import check_instance_type
from mlops_constructs._iam import Statement, allow, network_interfaces_arn, policy_document, sagemaker_vpc_statements, service_principal
from mlops_constructs._serving_rules import gradual_deployment_problem
from mlops_constructs._keys import Key, alarm_action, allow_dead_letters_and_alarms, deny_grants_except_for_aws_resources
from mlops_constructs._deployments import deployment_waits, min_traffic_step_percent
from mlops_constructs._validate import check_choice, check_interface, check_pattern, check_range, check_type, is_token, renamed
from mlops_constructs._vpc import Subnets, select_subnets
from mlops_constructs.compliance import IAM5, acknowledge_each, acknowledge_policy_resources, in_packs
from mlops_constructs.container_image import PULL_ACTIONS
from mlops_constructs.errors import PropsError

Strategy = Literal["CANARY", "LINEAR", "ALL_AT_ONCE"]
VARIANT = "AllTraffic"
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ENDPOINT_NAME_RULE = "must be 1-63 letters, digits and hyphens"
_PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:(?P<account>\d{12}):model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d+")
_REPOSITORY_ARN = re.compile(r"arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9][a-z0-9._/-]*")
_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()-]+/)+")
_PREFIX_RULE = "must be an S3 key prefix without a leading slash, ending with '/'"
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)
_MAX_ROLLBACK_ALARMS = 10
"""SageMaker's limit on a deployment's rollback alarms
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html)."""

INVOKE_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
"""What ``grant_invoke`` allows: both are actions on the endpoint resource in the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html). Asynchronous
inference (``InvokeEndpointAsync``) is not granted: these endpoints are real-time."""

_METRIC_OPTIONS = frozenset(inspect.signature(cloudwatch.Metric.__init__).parameters) - {"self", "metric_name", "namespace"}
"""What the ``metric_xxx`` methods take as ``**props``: ``cloudwatch.Metric``'s own props but its name and namespace."""

_INVOCATION_NAMESPACE = "AWS/SageMaker"
_INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"


class EndpointBase(Construct):
    """What every SageMaker endpoint here offers a consuming team, made here (:class:`CanaryEndpoint`) or
    imported (:class:`EndpointReference`): invoke permission and the variant's CloudWatch metrics.

    Not created directly. Subclasses set ``endpoint_name``, ``endpoint_arn`` and ``variant_name``, and
    ``_metric_env`` (the account and region of an endpoint in another environment).
    """

    endpoint_name: str
    """The endpoint's name."""
    endpoint_arn: str
    """The endpoint's ARN."""
    variant_name: str
    """The production variant the metrics are of."""
    _metric_env: dict[str, str] = {}

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` send requests to the endpoint: ``sagemaker:InvokeEndpoint`` and
        ``sagemaker:InvokeEndpointWithResponseStream`` on its ARN, nothing else (:data:`INVOKE_ACTIONS`)."""
        check_interface(type(self).__name__, "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(INVOKE_ACTIONS), resource_arns=[self.endpoint_arn])

    # ------------------------------------------------------------------------------------------------
    # Metrics. Each takes cloudwatch.Metric's props as keyword arguments (period, statistic, label, unit,
    # color, dimensions_map, account, region, ...), which replace the defaults.
    # ------------------------------------------------------------------------------------------------

    def metric(self, metric_name: str, *, namespace: str = _INVOCATION_NAMESPACE, **props: Any) -> cloudwatch.Metric:
        """The variant's metric ``metric_name`` in ``namespace`` (default ``AWS/SageMaker``, the invocation
        metrics; ``/aws/sagemaker/Endpoints`` has the instances' utilization), with the dimensions
        ``EndpointName`` and ``VariantName``. Default: Average over 1 minute."""
        name = type(self).__name__
        check_type(name, "metric_name", metric_name, str)
        check_type(name, "namespace", namespace, str)
        self._check_metric_props(props)
        options: dict[str, Any] = {
            "statistic": "Average",
            "period": durations.minutes(1),
            "dimensions_map": {"EndpointName": self.endpoint_name, "VariantName": self.variant_name},
            **self._metric_env,
            **props,
        }
        return cloudwatch.Metric(namespace=namespace, metric_name=metric_name, **options)

    def metric_invocations(self, **props: Any) -> cloudwatch.Metric:
        """``Invocations``: requests sent to the variant. Default: Sum over 1 minute."""
        return self._named("Invocations", "Sum", props)

    def metric_invocations_per_instance(self, **props: Any) -> cloudwatch.Metric:
        """``InvocationsPerInstance``: requests per instance, what the autoscaling target tracks. Default: Sum
        over 1 minute."""
        return self._named("InvocationsPerInstance", "Sum", props)

    def metric_invocation_4xx_errors(self, **props: Any) -> cloudwatch.Metric:
        """``Invocation4XXErrors``: requests the model answered with a 4xx status. Default: Sum over 1 minute."""
        return self._named("Invocation4XXErrors", "Sum", props)

    def metric_invocation_5xx_errors(self, **props: Any) -> cloudwatch.Metric:
        """``Invocation5XXErrors``: requests the model answered with a 5xx status. Default: Sum over 1 minute."""
        return self._named("Invocation5XXErrors", "Sum", props)

    def metric_model_latency(self, **props: Any) -> cloudwatch.Metric:
        """``ModelLatency``: the time the model took to answer, as SageMaker sees it, **in microseconds**
        (an alarm threshold of 1 second is 1,000,000). Default: p99 over 1 minute."""
        return self._named("ModelLatency", "p99", props)

    def metric_cpu_utilization(self, **props: Any) -> cloudwatch.Metric:
        """``CPUUtilization`` of the variant's instances (namespace ``/aws/sagemaker/Endpoints``), in percent
        summed over the CPU cores: up to 100 times the number of cores. Default: Average over 1 minute."""
        return self._named("CPUUtilization", "Average", props, _INSTANCE_NAMESPACE)

    def metric_memory_utilization(self, **props: Any) -> cloudwatch.Metric:
        """``MemoryUtilization`` of the variant's instances (namespace ``/aws/sagemaker/Endpoints``), in
        percent. Default: Average over 1 minute."""
        return self._named("MemoryUtilization", "Average", props, _INSTANCE_NAMESPACE)

    def _named(self, metric_name: str, statistic: str, props: dict[str, Any], namespace: str = _INVOCATION_NAMESPACE) -> cloudwatch.Metric:
        """A ``metric_xxx`` method's metric: its name, namespace and statistic; ``props`` may not change the first two."""
        self._check_metric_props(props)
        return self.metric(metric_name, namespace=namespace, **{"statistic": statistic, **props})

    def _check_metric_props(self, props: dict[str, Any]) -> None:
        for prop, value in props.items():
            if prop not in _METRIC_OPTIONS:
                raise PropsError(type(self).__name__, prop, value,
                                 f"is not a prop of cloudwatch.Metric: use one of {', '.join(sorted(_METRIC_OPTIONS))}")


class EndpointReference(EndpointBase):
    """An endpoint made by another app or account, imported by name: what it offers is
    :class:`EndpointBase`'s (``grant_invoke`` and the metrics). Create one with
    :meth:`CanaryEndpoint.from_endpoint_name` or :meth:`CanaryEndpoint.from_endpoint_attributes`."""

    def __init__(self, scope: Construct, id: str, *, endpoint_name: str, account: str | None = None, region: str | None = None,
                 variant_name: str = VARIANT) -> None:
        super().__init__(scope, id)
        name = "EndpointReference"
        check_pattern(name, "endpoint_name", endpoint_name, _ENDPOINT_NAME, _ENDPOINT_NAME_RULE)
        check_pattern(name, "account", account, _ACCOUNT, "must be an AWS account id, 12 digits", optional=True)
        check_pattern(name, "region", region, _REGION, "must be an AWS region name like eu-west-1", optional=True)
        check_pattern(name, "variant_name", variant_name, _ENDPOINT_NAME, _ENDPOINT_NAME_RULE)
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        # SageMaker writes an endpoint's name in lowercase in its ARN (an IAM policy must match that)
        self.endpoint_arn = arn(Stack.of(self), "sagemaker", "endpoint", endpoint_name if is_token(endpoint_name) else endpoint_name.lower(),
                                account=account, region=region)
        """``arn:<partition>:sagemaker:<region>:<account>:endpoint/<endpoint_name>``, in the stack's account and
        region unless given."""
        # An endpoint in another account or region: its metrics are read there (cross-account observability).
        self._metric_env = {k: v for k, v in (("account", account), ("region", region)) if v is not None}


@jsii.implements(iam.IPrincipal)
class _ExecutionPrincipal:
    """The execution role as the principal grants go to, with every statement written into the role's
    managed policy (``CanaryEndpoint.policy``): an inline policy would fail the inline-policy rules of the
    NIST, HIPAA and PCI packs, and the model waits for the managed policy only."""

    def __init__(self, role: iam.IRole, policy: iam.ManagedPolicy) -> None:
        self._role, self._policy = role, policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._role.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._role.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._role.principal_account

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self._policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)


@jsii.implements(IAnyProducer)
class _RollbackAlarms:
    """The endpoint's rollback alarms as CloudFormation has them, read at synthesis: alarms added after
    construction (``add_rollback_alarm``) are in the list."""

    def __init__(self, endpoint: CanaryEndpoint) -> None:
        self._endpoint = endpoint

    def produce(self, context: IResolveContext) -> Any:
        # Resolved before CDK maps the property to CloudFormation's names: AlarmProperty's own spelling.
        return [{"alarmName": name} for name in self._endpoint.rollback_alarm_names]


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class CanaryEndpoint(EndpointBase):
    """Serve one model from its model package, updating in place through a deployment policy.

    Creates:

    - the **model** from ``model_package_arn`` (the package may live in another account), in the
      isolated subnets with network isolation, under an execution role that may read the package, its
      artifacts (``artifact_bucket``/``artifact_prefix``, decrypting with the key named by
      ``artifact_key_alias``) and its image (``image_repository``), and write captured data;
    - the **endpoint config**: the production variant, its volume encrypted with ``encryption_key``,
      and data capture of ``data_capture_percent`` of requests and responses to ``capture_bucket``;
    - the **endpoint**, named ``endpoint_name``: a new package replaces model and endpoint config and
      updates the endpoint in place with a blue/green ``deployment`` (``CANARY``: ``traffic_step_percent``
      first, then the rest; ``LINEAR``: steps of ``traffic_step_percent``; ``ALL_AT_ONCE``), waiting
      ``wait_interval`` between steps, and rolls back when an alarm fires;
    - **alarms**: 5XX errors per minute at or above ``error_threshold``, and p99 model latency at or
      above ``latency_threshold`` for three minutes out of five, plus ``rollback_alarms`` of your own; all
      notify ``notification_topic``;
    - **autoscaling**: target tracking of invocations per instance between ``min_capacity`` and
      ``max_capacity``, and optionally a capacity for off-hours between ``scale_down_at`` and ``scale_up_at``;
    - a **dashboard**: invocations, errors, latency, CPU and memory, and invocations per instance.

    It is an ``iam.IGrantable`` (grants to it land in its execution policy) and an ``ec2.IConnectable``
    (its security group); ``grant_invoke``, the ``metric_xxx`` methods, ``add_rollback_alarm`` and
    ``add_to_role_policy`` extend it, and ``from_endpoint_name``/``from_endpoint_attributes`` import an
    endpoint made elsewhere.

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
        endpoint.grant_invoke(client_function)

    :param endpoint_name: stable name of the endpoint (its identity across model versions).
    :param model_package_arn: the approved model package to serve. A literal ARN when ``artifact_key_alias`` is
        given (the key's account is read from it); otherwise it may be a token, e.g. a package registered in
        the same stack.
    :param vpc: the VPC the model runs in. Its endpoints must include S3 and ECR.
    :param encryption_key: encrypts the instances' volumes and the captured data.
    :param capture_bucket: where captured requests and responses go, under ``capture_prefix``.
    :param artifact_bucket: the bucket the package's model artifacts are in.
    :param artifact_prefix: the artifacts' prefix in that bucket, ending with ``/``.
    :param artifact_key_alias: the alias (``alias/...``) of the key the artifacts are encrypted with, in
        the bucket's account; its key id is not known here. Default: the artifacts need no key of their own.
    :param image_repository: an ECR repository the package's image may come from; the role may pull from
        it. Default: only SageMaker's own images, which need no permission.
    :param image_repository_arn: deprecated, use ``image_repository``
        (``ecr.Repository.from_repository_arn``); removed in the next minor version.
    :param vpc_subnets: Default: the isolated subnets.
    :param instance_type: Default: ``ml.m5.large``.
    :param instance_count: initial instance count, 1-100. Default: 1.
    :param capture_prefix: Default: ``data-capture/<endpoint_name>/``.
    :param data_capture_percent: 0 turns capture off. Default: 20.
    :param deployment: Default: ``CANARY``.
    :param traffic_step_percent: the canary size, or each linear step, 1-50. Default: 10.
    :param wait_interval: between traffic steps, watching the alarms. Default: 5 minutes.
    :param termination_wait: before the old fleet is terminated after the shift. Default: 5 minutes.
    :param max_execution_timeout: of one deployment. Default: 1 hour.
    :param error_threshold: 5XX errors per minute that roll back. Default: 1.
    :param latency_threshold: p99 model latency that rolls back. Default: 1 second.
    :param rollback_alarms: more alarms (``cloudwatch.IAlarm``, of the endpoint's account) that roll a
        deployment back, at most 8 (SageMaker watches up to 10); ``add_rollback_alarm`` adds one later.
        Not with serverless, which has no deployment to roll back. Default: none.
    :param autoscaling: register the variant with Application Auto Scaling (the settings below). ``False`` for one
        release while the instance type changes: SageMaker refuses an update that changes the instance type of a
        variant registered for autoscaling ("Before you update the endpoint, delete any scaling policies... and
        deregister the variant as a scalable target",
        https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). Default: ``True``.
    :param min_capacity: Default: ``instance_count``.
    :param max_capacity: Default: twice ``instance_count`` (give it when ``instance_count`` is a token).
    :param target_invocations_per_instance: per minute. Default: 100.
    :param scale_in_cooldown: Default: 5 minutes. :param scale_out_cooldown: Default: 1 minute.
    :param scale_down_at: off-hours start, e.g. ``appscaling.Schedule.cron(hour="20", minute="0")``.
        Default: no scheduled scaling. Needs ``scale_up_at``.
    :param scale_up_at: off-hours end. :param off_hours_capacity: Default: 1.
    :param notification_topic: receives every alarm (ALARM and OK). Default: a KMS-encrypted topic is created.
    :param alarm_topic: deprecated, use ``notification_topic``; removed in the next minor version.
    :param serverless_memory_mb: serve with serverless inference (1024-6144 in steps of 1024) instead of
        instances: SageMaker then scales by itself, and there is no volume key, data capture,
        autoscaling or deployment policy (updates are all at once, nothing rolls back); the alarms still
        notify. The model then has no VPC and no network isolation, which serverless inference does not
        support: the platform's guardrails (``python -m stacks.guardrails``, the execution policy) refuse it.
        Default: instances.
    :param serverless_max_concurrency: Default: 5.
    :param removal_policy: of the alarm topic's key. Default: ``RemovalPolicy.RETAIN``.
    """

    VPC_ENDPOINTS: tuple[str, ...] = ("logs", "monitoring", "kms", "ecr-api", "ecr-docker", "sagemaker-api")
    """The interface endpoints (``IsolatedNetwork`` short names) the endpoint's model may call from the VPC with its
    execution role: logs, metrics, the key, ECR and SageMaker (S3 is a gateway endpoint). Callers in the VPC that
    invoke the endpoint need ``sagemaker-runtime`` as well."""

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
        image_repository: ecr.IRepository | None = None,
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
        autoscaling: bool = True,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        target_invocations_per_instance: int = 100,
        scale_in_cooldown: Duration = Duration.minutes(5),
        scale_out_cooldown: Duration = Duration.minutes(1),
        scale_down_at: appscaling.Schedule | None = None,
        scale_up_at: appscaling.Schedule | None = None,
        off_hours_capacity: int = 1,
        notification_topic: sns.ITopic | None = None,
        serverless_memory_mb: int | None = None,
        serverless_max_concurrency: int = 5,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        image_repository_arn: str | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        notification_topic = renamed(name, "notification_topic", notification_topic, "alarm_topic", alarm_topic)
        check_interface(name, "image_repository", image_repository, "repository_arn", "must be an ecr.IRepository", optional=True)
        check_pattern(name, "image_repository_arn", image_repository_arn, _REPOSITORY_ARN,
                      "must be an ECR repository ARN, arn:aws:ecr:<region>:<account>:repository/<name>", optional=True)
        repository = renamed(name, "image_repository", image_repository, "image_repository_arn", image_repository_arn)
        image_repository = self._repository_from_arn(repository) if isinstance(repository, str) else repository
        check_type(name, "endpoint_name", endpoint_name, str)
        capture_prefix = capture_prefix or f"data-capture/{endpoint_name}/"
        check_range(name, "instance_count", instance_count, 1, 100)
        if max_capacity is None and is_token(instance_count):
            raise PropsError(name, "max_capacity", max_capacity, "must be given when instance_count is a token (twice it is not known at synthesis)")
        min_capacity = instance_count if min_capacity is None else min_capacity
        max_capacity = 2 * instance_count if max_capacity is None else max_capacity
        serverless = serverless_memory_mb is not None
        self._validate(
            name, endpoint_name=endpoint_name, model_package_arn=model_package_arn, vpc=vpc, encryption_key=encryption_key,
            capture_bucket=capture_bucket, artifact_bucket=artifact_bucket, artifact_prefix=artifact_prefix, capture_prefix=capture_prefix,
            artifact_key_alias=artifact_key_alias, instance_type=instance_type, data_capture_percent=data_capture_percent,
            deployment=deployment, traffic_step_percent=traffic_step_percent, durations_=dict(
                wait_interval=wait_interval, termination_wait=termination_wait, max_execution_timeout=max_execution_timeout,
                latency_threshold=latency_threshold, scale_in_cooldown=scale_in_cooldown, scale_out_cooldown=scale_out_cooldown),
            error_threshold=error_threshold, rollback_alarms=rollback_alarms, autoscaling=autoscaling, min_capacity=min_capacity, max_capacity=max_capacity,
            target_invocations_per_instance=target_invocations_per_instance, scale_down_at=scale_down_at, scale_up_at=scale_up_at,
            off_hours_capacity=off_hours_capacity, notification_topic=notification_topic, serverless_memory_mb=serverless_memory_mb,
            serverless_max_concurrency=serverless_max_concurrency, removal_policy=removal_policy,
        )
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        self.variant_name = VARIANT
        subnets = select_subnets(vpc, vpc_subnets)
        # Attributes read once: each read of a CDK object is a round trip to jsii's Node process.
        self._account = stack.account
        self._key_arn = encryption_key.key_arn
        self._interfaces_arn = network_interfaces_arn(stack)

        self.security_group = ec2.SecurityGroup(
            self, "ModelSecurityGroup", vpc=vpc, description=f"Endpoint {endpoint_name}: HTTPS out only", allow_all_outbound=False
        )
        """The model containers' security group: no ingress, HTTPS out (to the VPC and gateway endpoints).
        Created with serverless too, where no model uses it."""
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC and gateway endpoints")
        self._security_group_id = self.security_group.security_group_id
        self._connections = ec2.Connections() if serverless else ec2.Connections(security_groups=[self.security_group])

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=service_principal("sagemaker.amazonaws.com", self._account),
            description=f"Execution role of endpoint {endpoint_name}",
        )
        """The model's execution role; its permissions are all in ``policy``."""
        statements, reasons = self._permissions(stack, model_package_arn, artifact_bucket, artifact_prefix, artifact_key_alias,
                                                image_repository, capture_bucket, capture_prefix, subnets)
        self.policy = iam.ManagedPolicy(self, "ExecutionPolicy", description=f"Endpoint {endpoint_name}: its package, artifacts, image and capture",
                                        roles=[self.role], document=policy_document(statements))
        """What the model may do: ``add_to_role_policy`` and grants to the endpoint add to it."""
        acknowledge_policy_resources(self.policy, IAM5, reasons, stack=stack)
        self._grant_principal = _ExecutionPrincipal(self.role, self.policy)

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

        capture_on = is_token(data_capture_percent) or data_capture_percent > 0
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
                enable_capture=capture_on,
                initial_sampling_percentage=data_capture_percent if is_token(data_capture_percent) else max(data_capture_percent, 1),
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

        self.notification_topic: sns.ITopic = notification_topic or self._topic(endpoint_name, removal_policy)
        """Receives every alarm of the endpoint (ALARM and OK)."""
        self._alarm_action = alarm_action(self.notification_topic)
        self.error_alarm = self._alarm(
            "ErrorAlarm", f"{endpoint_name}-5xx", f"5XX errors of {endpoint_name}: rolls a deployment back",
            self.metric_invocation_5xx_errors(), threshold=error_threshold, evaluation_periods=1, datapoints=1,
        )
        """5XX errors per minute at or above the threshold."""
        self.latency_alarm = self._alarm(
            "LatencyAlarm", f"{endpoint_name}-p99-latency", f"p99 model latency of {endpoint_name}: rolls a deployment back",
            self.metric_model_latency(),
            threshold=latency_threshold.to_milliseconds() * 1000,  # ModelLatency is in microseconds
            evaluation_periods=5, datapoints=3,
        )
        """p99 model latency at or above the threshold in three of five minutes."""
        self._serverless = serverless
        self._rollback_alarms: list[cloudwatch.IAlarm] = [] if serverless else [self.error_alarm, self.latency_alarm]
        # Their names, read once each: CloudFormation's AutoRollbackConfiguration asks for them at every resolution.
        self._rollback_alarm_names: list[str] = [alarm.alarm_name for alarm in self._rollback_alarms]
        # SageMaker reads the rollback alarms with the model's execution role: "Ensure that your IAM execution role
        # has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
        self._describe_alarms: iam.PolicyStatement | None = None
        if not serverless:
            self._describe_alarms = iam.PolicyStatement(
                sid="DescribeRollbackAlarms", actions=["cloudwatch:DescribeAlarms"],
                resources=[self.error_alarm.alarm_arn, self.latency_alarm.alarm_arn],
            )
            self.policy.add_statements(self._describe_alarms)
        for alarm in rollback_alarms:
            self.add_rollback_alarm(alarm)

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
                        # Required by SageMaker's API whatever the type, although CloudFormation's schema marks it optional
                        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html).
                        wait_interval_in_seconds=int(wait_interval.to_seconds()),
                    ),
                    termination_wait_in_seconds=int(termination_wait.to_seconds()),
                    maximum_execution_timeout_in_seconds=int(max_execution_timeout.to_seconds()),
                ),
                # Read at synthesis, so that alarms added after construction are in it.
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(alarms=Lazy.uncached_any(_RollbackAlarms(self))),
            ),
        )
        """The endpoint: its logical id and name stay when the package changes. The alarm names are
        references, so the alarms exist before a deployment watches them."""
        self.endpoint_arn = self.endpoint.ref
        """The endpoint's ARN."""

        self.scalable_target: appscaling.ScalableTarget | None = None if serverless or not autoscaling else self._autoscaling(
            stack, min_capacity, max_capacity, target_invocations_per_instance, scale_in_cooldown, scale_out_cooldown,
            scale_down_at, scale_up_at, off_hours_capacity,
        )
        """The variant's autoscaling target (``None`` for serverless or without ``autoscaling``): add policies to it
        (``scale_on_metric``, ``scale_on_schedule``, ``scale_to_track_metric``)."""
        self.dashboard = self._dashboard()
        """Invocations, errors, latency, utilization and invocations per instance."""
        self.capture_prefix = capture_prefix if capture_on and not serverless else None
        """Where data capture writes (SageMaker adds ``<endpoint>/<variant>/yyyy/mm/dd/hh/``), or ``None``
        without capture: what a ``DriftMonitor`` reads."""

    # ------------------------------------------------------------------------------------------------
    # Imports
    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def from_endpoint_name(scope: Construct, id: str, endpoint_name: str, *, variant_name: str = VARIANT) -> EndpointReference:
        """An endpoint of the stack's account and region, by name: to grant invoke on it or watch its metrics."""
        return EndpointReference(scope, id, endpoint_name=endpoint_name, variant_name=variant_name)

    @staticmethod
    def from_endpoint_attributes(scope: Construct, id: str, *, endpoint_name: str, account: str | None = None, region: str | None = None,
                                 variant_name: str = VARIANT) -> EndpointReference:
        """An endpoint by name in ``account`` and ``region`` (default: the stack's). Its metrics are read in
        that account and region."""
        return EndpointReference(scope, id, endpoint_name=endpoint_name, account=account, region=region, variant_name=variant_name)

    # ------------------------------------------------------------------------------------------------
    # The resource model: principal, network, extension points
    # ------------------------------------------------------------------------------------------------

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The execution role, as the principal to grant to: ``bucket.grant_read(endpoint)`` lets the model
        read the bucket. What is granted is written into ``policy`` (never an inline policy)."""
        return self._grant_principal

    @property
    def connections(self) -> ec2.Connections:
        """The model's network connections, over ``security_group``. With serverless (no VPC) they are
        empty: ``allow_to``/``allow_from`` change nothing, as there is nothing in the VPC to connect."""
        return self._connections

    @property
    def rollback_alarm_names(self) -> list[str]:
        """Every alarm that rolls a deployment back, by name: the 5XX and latency alarms, then
        ``rollback_alarms`` and those ``add_rollback_alarm`` added. Empty with serverless (nothing rolls back)."""
        return list(self._rollback_alarm_names)

    @property
    def alarm_topic(self) -> sns.ITopic:
        """Deprecated: ``notification_topic``; removed in the next minor version."""
        warnings.warn("CanaryEndpoint: alarm_topic is deprecated, use notification_topic (removed in the next minor version)",
                      DeprecationWarning, stacklevel=2)
        return self.notification_topic

    def add_rollback_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """Roll a deployment back when ``alarm`` (of the endpoint's account) fires, too; it joins the
        endpoint's ``AutoRollbackConfiguration`` however late it is added. Not with serverless."""
        name = type(self).__name__
        check_interface(name, "alarm", alarm, "alarm_name", "must be a cloudwatch.IAlarm")
        if self._serverless:
            raise PropsError(name, "rollback_alarms", alarm.alarm_name, "cannot be used with serverless_memory_mb: serverless updates all at once, nothing rolls back")
        if alarm in self._rollback_alarms:
            return
        if isinstance(alarm, cloudwatch.CompositeAlarm):
            # SageMaker reads the alarms with the model's role, which may describe alarms by ARN; a composite alarm can
            # only be described with cloudwatch:DescribeAlarms on "*"
            # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
            raise PropsError(name, "rollback_alarms", alarm.node.path,
                             "must be a metric alarm: the model's role may describe alarms by ARN only, and a composite alarm "
                             "can only be described with cloudwatch:DescribeAlarms on every alarm")
        # SageMaker watches alarms of the endpoint's own account and region, by name
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html).
        stack = Stack.of(self)
        alarm_arn = getattr(alarm, "alarm_arn", None)
        parts = alarm_arn.split(":") if isinstance(alarm_arn, str) and not is_token(alarm_arn) else []
        region, account = (parts[3], parts[4]) if len(parts) > 4 else (None, None)
        for field, ours, theirs in (("account", stack.account, account), ("region", stack.region, region)):
            if isinstance(theirs, str) and not is_token(theirs) and not is_token(ours) and theirs != ours:
                raise PropsError(name, "rollback_alarms", alarm.alarm_name,
                                 f"must be an alarm of the endpoint's {field} ({ours}), which SageMaker can watch (the alarm's is {theirs})")
        if len(self._rollback_alarms) >= _MAX_ROLLBACK_ALARMS:
            raise PropsError(name, "rollback_alarms", alarm.alarm_name,
                             f"must be at most {_MAX_ROLLBACK_ALARMS - 2} besides the endpoint's own two: SageMaker watches up to {_MAX_ROLLBACK_ALARMS}")
        self._rollback_alarms.append(alarm)
        self._rollback_alarm_names.append(alarm.alarm_name)
        if self._describe_alarms is not None:
            self._describe_alarms.add_resources(alarm.alarm_arn)

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Allow the model ``statement`` too: it is written into ``policy``, which the model waits for.
        A wildcard in it is yours to acknowledge on ``policy`` (``Validations.of(endpoint.policy).acknowledge``)."""
        check_type(type(self).__name__, "statement", statement, iam.PolicyStatement)
        self.policy.add_statements(statement)

    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _validate(name: str, *, endpoint_name: str, model_package_arn: str, vpc: Any, encryption_key: Any, capture_bucket: Any,
                  artifact_bucket: Any, artifact_prefix: str, capture_prefix: str, artifact_key_alias: str | None, instance_type: str,
                  data_capture_percent: int, deployment: str, traffic_step_percent: int, durations_: dict[str, Any], error_threshold: int,
                  rollback_alarms: Any, autoscaling: Any, min_capacity: int, max_capacity: int, target_invocations_per_instance: int, scale_down_at: Any,
                  scale_up_at: Any, off_hours_capacity: int, notification_topic: Any, serverless_memory_mb: int | None,
                  serverless_max_concurrency: int, removal_policy: Any) -> None:
        """Every prop, with the shared validators: a wrong type or value is a PropsError naming the prop, the
        value and what is allowed; tokens pass where the value is only written into the template."""
        check_pattern(name, "endpoint_name", endpoint_name, _ENDPOINT_NAME, _ENDPOINT_NAME_RULE)
        package_rule = "must be a versioned model package ARN, arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
        check_pattern(name, "model_package_arn", model_package_arn, _PACKAGE_ARN, package_rule)
        if is_token(model_package_arn) and artifact_key_alias is not None:  # its account is read from it, for the artifacts' key
            raise PropsError(name, "model_package_arn", model_package_arn,
                             package_rule + " known at synthesis, not a token, with artifact_key_alias (the key's account is read from it)")
        check_interface(name, "vpc", vpc, "vpc_id", "must be an ec2.IVpc")
        check_interface(name, "encryption_key", encryption_key, "key_arn", "must be a kms.IKey")
        check_interface(name, "capture_bucket", capture_bucket, "bucket_arn", "must be an s3.IBucket")
        check_interface(name, "artifact_bucket", artifact_bucket, "bucket_arn", "must be an s3.IBucket")
        check_pattern(name, "artifact_prefix", artifact_prefix, _PREFIX, _PREFIX_RULE)
        check_pattern(name, "capture_prefix", capture_prefix, _PREFIX, _PREFIX_RULE)
        check_pattern(name, "artifact_key_alias", artifact_key_alias, re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}"), "must be a KMS alias name, alias/<name>",
                      optional=True)
        if not is_token(instance_type):
            check_instance_type(name, "instance_type", instance_type, "ProductionVariantInstanceType", "real-time inference")
        check_range(name, "data_capture_percent", data_capture_percent, 0, 100)
        check_choice(name, "deployment", deployment, ("CANARY", "LINEAR", "ALL_AT_ONCE"))
        if not is_token(instance_type) and (problem := gradual_deployment_problem(instance_type, deployment)):
            raise PropsError(name, "instance_type", instance_type, problem)
        check_range(name, "traffic_step_percent", traffic_step_percent, 1, 50)
        if not is_token(traffic_step_percent) and traffic_step_percent < min_traffic_step_percent(deployment):
            raise PropsError(name, "traffic_step_percent", traffic_step_percent,
                             f"must be from {min_traffic_step_percent(deployment)} to 50 with deployment {deployment}: SageMaker's linear "
                             "steps are 10-50% of the fleet")
        for prop, value in durations_.items():
            check_type(name, prop, value, Duration)
        _check_deployment_timing(name, deployment, traffic_step_percent, durations_["wait_interval"], durations_["termination_wait"],
                                 durations_["max_execution_timeout"])
        check_range(name, "error_threshold", error_threshold, 1)
        check_type(name, "rollback_alarms", rollback_alarms, list, tuple)
        for index, alarm in enumerate(rollback_alarms):
            check_interface(name, f"rollback_alarms[{index}]", alarm, "alarm_name", "must be a cloudwatch.IAlarm")
        if rollback_alarms and serverless_memory_mb is not None:
            raise PropsError(name, "rollback_alarms", rollback_alarms, "cannot be used with serverless_memory_mb: serverless updates all at once, nothing rolls back")
        check_type(name, "autoscaling", autoscaling, bool)
        check_range(name, "max_capacity", max_capacity, 1)
        for prop, value in (("min_capacity", min_capacity), ("off_hours_capacity", off_hours_capacity)):
            check_range(name, prop, value, 1)
            if not is_token(max_capacity) and not is_token(value) and value > max_capacity:
                raise PropsError(name, prop, value, f"must be from 1 to max_capacity ({max_capacity})")
        check_range(name, "target_invocations_per_instance", target_invocations_per_instance, 1)
        check_type(name, "scale_down_at", scale_down_at, appscaling.Schedule, optional=True)
        check_type(name, "scale_up_at", scale_up_at, appscaling.Schedule, optional=True)
        if (scale_down_at is None) != (scale_up_at is None):
            raise PropsError(name, "scale_up_at", scale_up_at, "must be given together with scale_down_at")
        check_interface(name, "notification_topic", notification_topic, "topic_arn", "must be an sns.ITopic", optional=True)
        if serverless_memory_mb is not None:
            check_choice(name, "serverless_memory_mb", serverless_memory_mb, _SERVERLESS_MEMORY)
        check_range(name, "serverless_max_concurrency", serverless_max_concurrency, 1, 200)
        check_type(name, "removal_policy", removal_policy, RemovalPolicy)

    def _repository_from_arn(self, repository_arn: str) -> ecr.IRepository:
        """The repository of the deprecated ``image_repository_arn``."""
        if is_token(repository_arn):
            return ecr.Repository.from_repository_attributes(self, "ImageRepository", repository_arn=repository_arn,
                                                             repository_name=Fn.select(1, Fn.split(":repository/", repository_arn)))
        return ecr.Repository.from_repository_arn(self, "ImageRepository", repository_arn)

    def _permissions(self, stack: Stack, package_arn: str, artifact_bucket: s3.IBucket, artifact_prefix: str, key_alias: str | None,
                     repository: ecr.IRepository | None, capture_bucket: s3.IBucket, capture_prefix: str,
                     subnets: Subnets) -> tuple[list[Statement], dict[str, str]]:
        """The execution policy's statements, and the reason for each wildcard resource in them."""
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
            # The artifacts' key lives in their account (read from the package ARN, a literal then) and its
            # id is not known here: any key there that carries this alias, used through S3 only.
            artifacts_account = _PACKAGE_ARN.fullmatch(package_arn)["account"]  # type: ignore[index]
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
        if repository is not None:
            statements += [
                allow("PullImage", list(PULL_ACTIONS), [repository.repository_arn]),
                # GetAuthorizationToken has no resource-level permissions.
                allow("RegistryLogin", ["ecr:GetAuthorizationToken"], ["*"]),
            ]
        return statements, reasons

    def _topic(self, endpoint_name: str, removal_policy: RemovalPolicy) -> sns.Topic:
        key = Key(self, "AlarmKey", description=f"Encrypts the alarm topic of endpoint {endpoint_name}",
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
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            widgets=[
                [
                    cloudwatch.GraphWidget(title="Invocations", left=[self.metric_invocations()], width=8),
                    cloudwatch.GraphWidget(title="Errors", left=[self.metric_invocation_4xx_errors(), self.metric_invocation_5xx_errors()], width=8),
                    cloudwatch.GraphWidget(title="Model latency (microseconds)", left=[self.metric_model_latency(statistic="p50"), self.metric_model_latency()], width=8),
                ],
                [
                    cloudwatch.GraphWidget(title="Utilization (%)", left=[self.metric_cpu_utilization(), self.metric_memory_utilization()], width=8),
                    cloudwatch.GraphWidget(title="Invocations per instance (scaling)", left=[self.metric_invocations_per_instance()], width=8),
                    cloudwatch.AlarmStatusWidget(title="Rollback alarms", alarms=[self.error_alarm, self.latency_alarm], width=8),
                ],
            ],
        )


def _check_deployment_timing(name: str, deployment: str, traffic_step_percent: int, wait_interval: Duration, termination_wait: Duration,
                             max_execution_timeout: Duration) -> None:
    """SageMaker's bounds of a blue/green update policy: the wait interval and the termination wait 0 to 3,600 s, the
    timeout 600 to 28,800 s and "larger than the total waiting time specified in TerminationWaitInSeconds and
    WaitIntervalInSeconds" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html):
    here, more than the termination wait and every wait interval of the deployment's steps (:func:`deployment_waits`)."""
    seconds = {prop: value.to_seconds() for prop, value in
               (("wait_interval", wait_interval), ("termination_wait", termination_wait), ("max_execution_timeout", max_execution_timeout))}
    for prop, low, high in (("wait_interval", 0, 3600), ("termination_wait", 0, 3600), ("max_execution_timeout", 600, 28800)):
        if not low <= seconds[prop] <= high:
            raise PropsError(name, prop, f"{seconds[prop]:g} seconds", f"must be from {low} to {high} seconds (SageMaker's blue/green update policy)")
    if is_token(traffic_step_percent) or is_token(deployment):
        return
    waits = deployment_waits(deployment, traffic_step_percent)
    waiting = seconds["termination_wait"] + seconds["wait_interval"] * waits
    if seconds["max_execution_timeout"] <= waiting:
        raise PropsError(name, "max_execution_timeout", f"{seconds['max_execution_timeout']:g} seconds",
                         f"must be more than the deployment's waiting, {waiting:g} seconds (termination_wait plus wait_interval for each of "
                         f"the {waits} waits of a {deployment} deployment by {traffic_step_percent}%)")

