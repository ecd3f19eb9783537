"""DriftMonitor: scheduled drift statistics on an endpoint's captured requests, with Evidently run as a
SageMaker processing job in the isolated VPC, CloudWatch metrics, a drift alarm and a failure alarm.

SageMaker Model Monitor is closed to new customers
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-availability-change.html); AWS names
open-source drift statistics run by SageMaker jobs as the way on. This is that, with the platform's
guardrails: the job is network-isolated in the isolated subnets, its volume and output encrypted with the
stage's key, its image built from ``drift_job/Dockerfile`` by CDK (the delivery pipeline's asset stage
builds and publishes it to each account's CDK asset repository; synthesis needs no Docker), or an image of
your own (``image``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import warnings
from pathlib import Path
from typing import Any, Literal

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs import _state_machines as state_machines
from mlops_constructs._arns import arn
from mlops_constructs._guardrails import inside_guardrails
from mlops_constructs._instance_types import check_instance_type
from mlops_constructs._iam import allow, network_interfaces_arn, policy_document, sagemaker_vpc_statements, service_principal
from mlops_constructs._keys import Key, alarm_action, allow_cloudwatch_logs, allow_event_dead_letters, at_least_one_alarm, dead_letter_queue, deny_grants_except_for_aws_resources, lost_events_alarm
from mlops_constructs._managed_policy_role import ManagedPolicyRole
from mlops_constructs._validate import check_choice, check_interface, check_pattern, check_range, check_type, is_token, renamed
from mlops_constructs._vpc import select_subnets
from mlops_constructs.compliance import IAM5, acknowledge_policy_resources
from mlops_constructs.container_image import PULL_ACTIONS, ContainerImage
from mlops_constructs.errors import PropsError
from mlops_constructs.schedules import drift_cron

DRIFT_NAMESPACE = "MLOps/Drift"
"""CloudWatch namespace of the drift metrics: ``DriftedShare``, ``FeatureDriftScore`` (dimension
``Feature``) and ``CapturedRows``, each with the dimension ``EndpointName``."""
BASELINE_METADATA_KEY = "DriftBaselineS3Uri"
"""The model package's ``CustomerMetadataProperties`` key that holds its baseline's S3 prefix (written by
the training pipeline at registration)."""
JOB_DIRECTORY = Path(__file__).resolve().parent / "drift_job"
"""The drift job's image recipe (``Dockerfile``, ``requirements.txt``) and script (``drift.py``)."""

Schedule = Literal["hourly", "daily"]
DriftSource = Literal["capture", "batch-input"]
SOURCES = ("capture", "batch-input")
"""What a monitor checks: an endpoint's data capture on a schedule, or a batch transform's input when started."""
_BATCH_PERIOD = Duration.hours(1)
"""The metrics' and alarms' period of a ``batch-input`` monitor, which has no schedule: a check's metrics fall in the
hour it ran."""
_WINDOWS: dict[str, tuple[str, Duration]] = {
    # schedule: (JSONata picture of the capture path's window, the window's length)
    # SageMaker writes captured data under <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html).
    # When a check starts: schedules.drift_cron, a time derived from the endpoint's name.
    "hourly": ("[Y0001]/[M01]/[D01]/[H01]", Duration.hours(1)),
    "daily": ("[Y0001]/[M01]/[D01]", Duration.days(1)),
}
_RETRY_ATTEMPTS = 4
"""Retries of a check's start, within an hour of its scheduled time; then the start goes to the dead-letter queue."""
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()-]+/)+")
_ALIAS = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")
_PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d+")
_LOCAL = "/opt/ml/processing"
_JOB_PREFIX = 30
"""The endpoint name's first characters in a drift job's name: ``<30>-drift-<yyyyMMddHHmmss>-<8>-<retry>`` is at most
30 + 7 + 14 + 1 + 8 + 2 = 62 characters (SageMaker allows 63)."""


def _job_name_prefix(endpoint_name: str) -> str:
    """How the drift jobs' names start, which their machine's permission names too: lower case, since SageMaker writes
    job names in lower case in their ARNs (the ARN a permission is checked against) for some resource types, and an
    endpoint name may have capitals."""
    return f"{endpoint_name[:_JOB_PREFIX].lower()}-drift-"
_JOB_RUNTIME = 3600
"""The drift job's ``MaxRuntimeInSeconds``: SageMaker stops it after an hour."""
_JOB_TIMEOUT = 5400
"""The drift task's ``TimeoutSeconds``: the job's hour plus its start-up and upload, should ``.sync`` not return."""
_CHECK_TIMEOUT = 7200
"""The execution's own ``TimeoutSeconds``, a backstop beyond the task's."""
"""Characters of the endpoint name that start its drift jobs' names."""
_METRIC_OPTIONS = frozenset(inspect.signature(cloudwatch.MetricOptions.__init__).parameters) - {"self"}
"""What ``metric_*(**props)`` accepts: the fields of ``cloudwatch.MetricOptions``."""


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class DriftMonitor(Construct):
    """Compare what an endpoint receives with the training data of the version it serves, on a schedule.

    Every ``schedule`` period (``hourly`` at a minute between 5 and 55 past the hour, or ``daily`` at a time
    between 00:15 and 05:59 UTC, each derived from ``endpoint_name`` by :func:`mlops_constructs.schedules.drift_cron`,
    so that many endpoints do not all start their checks in the same minute) a state machine:

    1. names the window just ended: the capture prefix of the previous hour (or day);
    2. if nothing was captured in it, publishes ``CapturedRows`` 0 and stops (no drift, no failure);
    3. reads the served version's baseline location from its model package (``DriftBaselineS3Uri`` in
       ``CustomerMetadataProperties``, written by the training pipeline: each version brings its own);
    4. runs the drift job (Evidently's data drift preset, per-feature tests chosen by type and sample size)
       as a processing job inside the guardrails, which writes ``drift.json``, ``drift.html`` and
       ``metric_data.json`` under ``<reports_prefix><window>/``;
    5. publishes the metrics in ``metric_data.json`` to CloudWatch (:data:`DRIFT_NAMESPACE`).

    Fewer than ``min_rows`` captured rows is reported as ``insufficient-data``: only ``CapturedRows`` is
    published, which the drift alarm treats as missing, not as drift.

    Creates the job's **image asset** (unless ``image`` is given), **role** and **security group** (HTTPS out
    only), the **state machine** (logs and execution data encrypted with a **key** of its own, yearly rotation),
    the **schedule** (an EventBridge Scheduler schedule, not a rule on the event bus, with its role and a
    **dead-letter queue** alarmed to ``notification_topic`` as ``<endpoint_name>-drift-check-not-started`` for
    starts that failed after 4 retries within an hour), the **drift alarm** :meth:`alarm_name_for`
    (``<endpoint_name>-drift``: ``DriftedShare`` at or above ``drift_threshold``), a **failure alarm**
    ``<endpoint_name>-drift-check-failed`` (any failed run), a **timeout alarm** ``<endpoint_name>-drift-check-timed-out``
    (a run the execution's own two-hour timeout ended, which no notification reports), all to ``notification_topic``, and, when
    ``retrain_event_bus`` is in another account, a rule that forwards the drift alarm's ALARM event there (the
    training account's default bus, where the training pipeline listens for it).

    The monitor is ``iam.IGrantable`` (its grant principal is the job's role: what is granted to the monitor,
    the drift job may do) and ``ec2.IConnectable`` (the job's security group). Statements added with
    :meth:`add_to_role_policy` or by grants go into the job's managed policy. :meth:`add_alarm` adds an alarm
    on a drift metric that notifies ``notification_topic``.

    Example::

        DriftMonitor(self, "Drift",
            endpoint_name="acme-prod-churn",
            model_package_arn=package_arn,
            capture_bucket=store.artifact_bucket, capture_prefix="data-capture/acme-prod-churn/",
            baseline_bucket=dev_artifacts, baseline_key_alias="alias/acme-dev/artifacts",
            vpc=network.vpc, encryption_key=store.encryption_key, notification_topic=topic,
        )

    :param endpoint_name: the endpoint whose captured data is checked.
    :param model_package_arn: the version it serves, whose baseline is the reference.
    :param capture_bucket: where the endpoint's data capture writes, under ``capture_prefix`` (the capture
        destination, as given to the endpoint); the reports go there too, under ``reports_prefix``.
    :param baseline_bucket: the bucket the baselines are in (the training account's artifact bucket,
        imported with its ``account`` when another account's).
    :param baseline_key_alias: the alias of that bucket's key, when it is another account's (its key id is
        not known here). Default: the baselines are in this account.
    :param vpc: the VPC the job runs in; its endpoints must include S3 (gateway) and :attr:`VPC_ENDPOINTS`.
    :param encryption_key: encrypts the job's volume and output (the capture bucket's key).
    :param notification_topic: receives the drift and failure alarms, and a message for every failed run. Required.
    :param image: the drift job's image (a :class:`~mlops_constructs.container_image.ContainerImage`, an image
        asset or an ECR image URI). It is run with the arguments ``--baseline DIR --captured DIR --output DIR
        --min-rows N --endpoint NAME`` and must write ``metric_data.json`` (CloudWatch ``MetricData``) into the
        output directory, as ``drift_job/drift.py`` does; the job's role may pull it when it is in an ECR
        repository of yours. Default: the bundled ``drift_job/Dockerfile``, built and published by CDK.
    :param schedule: ``hourly`` or ``daily``, with source ``capture``. Default: ``hourly`` (none for ``batch-input``,
        which refuses one).
    :param drift_threshold: the share of drifted features (0-1) that raises the drift alarm. Default: 0.5.
    :param min_rows: captured rows needed in a window for a verdict. Default: 100.
    :param instance_type: of the drift job. Default: ``ml.m5.large``.
    :param reports_prefix: Default: ``drift-reports/<endpoint_name>/``.
    :param retrain_event_bus: where drift alarm events go to start a retraining. Default: nowhere.
    :param vpc_subnets: Default: the isolated subnets.
    :param log_retention: of the state machine's logs. Default: one year.
    :param removal_policy: of the log group and its key. Default: ``RemovalPolicy.RETAIN``.
    :param alarm_topic: deprecated name of ``notification_topic``.
    :param source: ``capture``: the endpoint's data capture under ``capture_prefix<endpoint_name>/<variant_name>/``, a
        window at a time, on ``schedule``. ``batch-input``: a batch transform's input, every object under
        ``capture_prefix`` read as headerless CSV (the job's ``--captured-format csv``), checked whenever the state
        machine is started (:meth:`grant_start`; ``BatchInference(drift_monitor=...)`` starts it after each scored
        run), with no schedule; ``endpoint_name`` is then the batch's name, which the metrics' ``EndpointName``
        dimension and the alarms' names carry, and the metrics' period is an hour. Default: ``capture``.
    :param drop_columns: with ``batch-input``: the leading columns of each input row the model does not see (a
        batch ``input_filter`` of ``$[k:]``), dropped before the comparison. Default: 0.
    :param reports_bucket: where the reports go, under ``reports_prefix``. Default: ``capture_bucket``.
    :param variant_name: with ``capture``: the production variant whose capture is checked; SageMaker writes it under
        ``<capture_prefix><endpoint_name>/<variant_name>/``
        (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html). Default: ``AllTraffic``,
        the variant of ``CanaryEndpoint``; another name would otherwise find nothing and report 0 rows, run after run.

    Batch input example (``BatchInference`` starts it after every successful run)::

        drift = DriftMonitor(self, "Drift", source="batch-input", endpoint_name="acme-prod-forecast",
            model_package_arn=package_arn, capture_bucket=store.data_bucket, capture_prefix="forecast/batch-input/",
            drop_columns=1, reports_bucket=store.artifact_bucket, baseline_bucket=dev_artifacts, vpc=network.vpc,
            encryption_key=store.encryption_key, notification_topic=topic)
        BatchInference(self, "Batch", name="acme-prod-forecast", drift_monitor=drift, input_filter="$[1:]", ...)
    """

    VPC_ENDPOINTS: tuple[str, ...] = ("logs", "kms", "ecr-api", "ecr-docker")
    """The interface endpoints (``IsolatedNetwork`` short names) the drift job may call from the VPC: its logs, the
    key and ECR for its image (S3 is a gateway endpoint). The state machine publishes the metrics, outside the VPC."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        model_package_arn: str,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
        baseline_bucket: s3.IBucket,
        vpc: ec2.IVpc,
        encryption_key: kms.IKey,
        notification_topic: sns.ITopic | None = None,
        image: ContainerImage | None = None,
        baseline_key_alias: str | None = None,
        schedule: Schedule | None = None,
        drift_threshold: float = 0.5,
        min_rows: int = 100,
        instance_type: str = "ml.m5.large",
        reports_prefix: str | None = None,
        retrain_event_bus: events.IEventBus | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarm_topic: sns.ITopic | None = None,
        source: DriftSource = "capture",
        drop_columns: int = 0,
        reports_bucket: s3.IBucket | None = None,
        variant_name: str = "AllTraffic",
    ) -> None:
        super().__init__(scope, id)
        check_pattern("DriftMonitor", "variant_name", variant_name, _NAME, "must be a SageMaker variant name: 1-63 letters, digits and hyphens")
        notification_topic = renamed("DriftMonitor", "notification_topic", notification_topic, "alarm_topic", alarm_topic)
        reports_prefix = reports_prefix or f"drift-reports/{endpoint_name}/"
        check_choice("DriftMonitor", "source", source, SOURCES)
        batch = source == "batch-input"
        if batch and schedule is not None:
            raise PropsError("DriftMonitor", "schedule", schedule, "applies only to source 'capture': a 'batch-input' monitor is started by its batch runs")
        schedule = schedule or "hourly"
        if batch:
            check_range("DriftMonitor", "drop_columns", drop_columns, 0, 1000)
        elif drop_columns != 0:
            raise PropsError("DriftMonitor", "drop_columns", drop_columns, "applies only to source 'batch-input' (a capture holds what the model saw)")
        check_interface("DriftMonitor", "reports_bucket", reports_bucket, "bucket_arn", "must be an s3.IBucket", optional=True)
        self._validate(endpoint_name, capture_prefix, reports_prefix, schedule, drift_threshold, min_rows, instance_type, baseline_key_alias)
        reports_bucket = reports_bucket or capture_bucket
        if batch and reports_bucket is capture_bucket and not is_token(capture_prefix) and not is_token(reports_prefix) and (
                reports_prefix.startswith(capture_prefix) or capture_prefix.startswith(reports_prefix)):
            raise PropsError("DriftMonitor", "reports_prefix", reports_prefix,
                             f"must not overlap capture_prefix {capture_prefix} in the same bucket: a check would read earlier reports as input")
        self._check_types(model_package_arn=model_package_arn, capture_bucket=capture_bucket, baseline_bucket=baseline_bucket, vpc=vpc,
                          encryption_key=encryption_key, notification_topic=notification_topic, retrain_event_bus=retrain_event_bus,
                          vpc_subnets=vpc_subnets, log_retention=log_retention, removal_policy=removal_policy)
        assert notification_topic is not None  # checked above
        stack = Stack.of(self)
        account = stack.account
        subnets = select_subnets(vpc, vpc_subnets)
        key_arn = encryption_key.key_arn
        picture, window = _WINDOWS[schedule]
        if batch:
            window = _BATCH_PERIOD
        self.source: DriftSource = source
        """``capture`` or ``batch-input``: what the monitor checks."""
        self.capture_bucket = capture_bucket
        """The bucket of what is checked (``capture_prefix``)."""
        self.capture_prefix = capture_prefix
        """What is checked: the capture destination (``capture``), or the batch input prefix (``batch-input``)."""
        self.drop_columns = drop_columns
        """Leading input columns dropped before the comparison (``batch-input``)."""
        self.endpoint_name = endpoint_name
        """The endpoint whose captured data is checked (the metrics' ``EndpointName``)."""
        self.notification_topic: sns.ITopic = notification_topic
        """Receives the drift and failure alarms (and those of :meth:`add_alarm`), and a message for every failed run."""
        self._window = window
        self._connections: ec2.Connections | None = None

        self.image: ContainerImage = (
            ContainerImage.of(image, "DriftMonitor", "image") if image is not None
            else ContainerImage.from_asset(self, "Image", str(JOB_DIRECTORY))
        )
        """The drift job's image: ``image``, or the bundled ``drift_job/Dockerfile`` built and published by CDK."""
        self.security_group = ec2.SecurityGroup(
            self, "JobSecurityGroup", vpc=vpc, description=f"Drift job of {endpoint_name}: HTTPS out only", allow_all_outbound=False,
        )
        """The drift job's security group: no ingress, HTTPS out (to the VPC and gateway endpoints)."""
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC and gateway endpoints")
        security_group_id = self.security_group.security_group_id

        # -- the job's role ------------------------------------------------------------------------------
        self.job_role: ManagedPolicyRole = ManagedPolicyRole(
            self, "JobRole", assumed_by=service_principal("sagemaker.amazonaws.com", account), description=f"Drift job of endpoint {endpoint_name}")
        """The drift job's execution role: reads the capture and the baseline, writes the reports. Its only
        permissions are in ``job_policy``, where statements added to it (grants, :meth:`add_to_role_policy`) go too."""
        interfaces = network_interfaces_arn(stack)
        capture_objects = capture_bucket.arn_for_objects(f"{capture_prefix}*")
        reports_objects = reports_bucket.arn_for_objects(f"{reports_prefix}*")
        baseline_objects = baseline_bucket.arn_for_objects("*")
        repository = self.image.repository
        logs_arn = arn(stack, "logs", "log-group", "/aws/sagemaker/ProcessingJobs:*", sep=":")
        statements = [
            allow("ReadCapture", ["s3:GetObject"], [capture_objects]),
            allow("ListCapture", ["s3:ListBucket"], [capture_bucket.bucket_arn], {"StringLike": {"s3:prefix": [f"{capture_prefix}*"]}}),
            allow("ReadBaselines", ["s3:GetObject"], [baseline_objects]),
            allow("ListBaselines", ["s3:ListBucket"], [baseline_bucket.bucket_arn]),
            allow("WriteReports", ["s3:PutObject"], [reports_objects]),
            allow("UseKey", ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"], [key_arn]),
            allow("EncryptVolume", ["kms:CreateGrant"], [key_arn], {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            # An image in an ECR repository of this app's (the bundled one's asset repository, or one given): SageMaker
            # pulls it with the job's role. GetAuthorizationToken has no resource-level permissions.
            *([allow("PullImage", list(PULL_ACTIONS), [repository.repository_arn]),
               allow("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"])] if repository is not None else []),
            allow("JobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], [logs_arn]),
            *sagemaker_vpc_statements(stack, subnets.subnet_ids, self.security_group, "JobNetworkInterfaces", interfaces_arn=interfaces),
        ]
        reasons = {
            capture_objects: ("The batch input prefix, whatever was uploaded under it to be scored." if batch
                              else "The endpoint's own captured data, named by SageMaker per hour."),
            reports_objects: "The monitor's own drift reports, named per window (per run for batch input).",
            baseline_objects: "Baselines are written per model version by the training pipeline, under run prefixes named per execution; "
                              "the bucket is the training account's artifact bucket, which holds nothing but model artifacts.",
            logs_arn: "SageMaker's own processing-job log group, with a stream per job.",
            interfaces: "Interfaces SageMaker creates for the job in its subnets and security group (named in the same statement).",
            "*": "Only actions without resource-level permissions: ecr:GetAuthorizationToken (with an image in ECR) and EC2 Describe*.",
        }
        baseline_account = baseline_bucket.env.account
        if baseline_key_alias is not None:
            baseline_keys = arn(stack, "kms", "key", "*", account=baseline_account)
            statements.append(allow(
                "DecryptBaselines", ["kms:Decrypt"], [baseline_keys],
                {"ForAnyValue:StringEquals": {"kms:ResourceAliases": baseline_key_alias},
                 "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            ))
            reasons[baseline_keys] = "The baselines' key in their account, whose id is unknown here; limited by kms:ResourceAliases to one alias and by kms:ViaService to S3."
        self.job_policy = iam.ManagedPolicy(self, "JobPolicy", description=f"Drift job of {endpoint_name}: capture, baselines, reports",
                                            roles=[self.job_role], document=policy_document(statements))
        """Everything the drift job may do, in one customer managed policy."""
        self.job_role.keep_statements_in(self.job_policy, statements)
        acknowledge_policy_resources(self.job_policy, IAM5, reasons, stack=stack)

        # -- the state machine ------------------------------------------------------------------------------
        self.key = Key(self, "Key", description=f"Encrypts the drift checks' execution data, logs and undelivered starts of {endpoint_name}",
                           enable_key_rotation=True, removal_policy=removal_policy)
        """Encrypts the state machine's execution data and its log group."""
        allow_cloudwatch_logs(self.key)
        deny_grants_except_for_aws_resources(self.key)
        state_machines.allow_execution_log_delivery(self.key, account)
        machine_key_arn = self.key.key_arn
        log_group = state_machines.execution_log_group(self, "Logs", key=self.key, retention=log_retention, removal_policy=removal_policy)
        definition = self._definition(
            endpoint_name=endpoint_name, model_package_arn=model_package_arn, capture_bucket=capture_bucket.bucket_name,
            captured_prefix=capture_prefix if batch else f"{capture_prefix}{endpoint_name}/{variant_name}/", reports_prefix=reports_prefix,
            picture=picture, window_ms=int(window.to_milliseconds()), image_uri=self.image.image_uri, role_arn=self.job_role.role_arn,
            key_arn=key_arn, subnet_ids=subnets.subnet_ids, security_group_id=security_group_id, instance_type=instance_type,
            min_rows=min_rows, topic_arn=notification_topic.topic_arn, reports_bucket=reports_bucket.bucket_name,
            batch_input=batch, drop_columns=drop_columns,
        )
        # The machine's role also starts the machine on its schedule, for schedules of this account's default group
        # only (aws:SourceArn must name the schedule group, not a schedule:
        # https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html);
        # only a principal allowed iam:PassRole on this role can make a schedule use it. One role per endpoint
        # fewer, within IAM's 1,000 roles per account at 100 models (tests/test_quotas.py).
        self.schedule_name: str | None = None if batch else _schedule_name(endpoint_name)
        """The drift checks' schedule, in Scheduler's default group (``None`` for batch input, which has none)."""
        schedule_group_arn = arn(stack, "scheduler", "schedule-group", "default")
        self.state_machine_role: ManagedPolicyRole = ManagedPolicyRole(
            self, "StateMachineRole", description=f"Runs the drift checks of batch {endpoint_name}, started by its runs",
            assumed_by=service_principal("states.amazonaws.com", account),
        ) if batch else ManagedPolicyRole(
            self, "StateMachineRole", description=f"Runs the drift checks of endpoint {endpoint_name}, and starts them on their schedule",
            assumed_by=iam.CompositePrincipal(
                service_principal("states.amazonaws.com", account),
                iam.ServicePrincipal("scheduler.amazonaws.com").with_conditions({
                    "StringEquals": {"aws:SourceAccount": account}, "ArnEquals": {"aws:SourceArn": schedule_group_arn}}),
            ),
        )
        """Runs the state machine, and the schedule's starts of it."""
        jobs = arn(stack, "sagemaker", "processing-job", f"{_job_name_prefix(endpoint_name)}*")
        topic_key = getattr(notification_topic, "master_key", None)
        create = ["sagemaker:CreateProcessingJob"]
        machine_statements = [
            allow("CreateJobsInsideGuardrails", create, [jobs], inside_guardrails(
                create, subnet_ids=subnets.subnet_ids, security_group_ids=[security_group_id], kms_key_arn=key_arn)),
            # ListTags as in Step Functions' own policy for .sync (docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html).
            allow("FollowAndStopJobs", ["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags",
                                        "sagemaker:ListTags"], [jobs]),
            # The .sync integration follows the job through this Step Functions-managed rule.
            state_machines.follow_sagemaker_jobs("FollowJobs", stack, "Processing"),
            state_machines.pass_job_role(self.job_role.role_arn),
            allow("DescribeServedVersion", ["sagemaker:DescribeModelPackage"], [model_package_arn]),
            allow("ListCapture", ["s3:ListBucket"], [capture_bucket.bucket_arn], {"StringLike": {"s3:prefix": [f"{capture_prefix}*"]}}),
            allow("ReadMetricData", ["s3:GetObject"], [reports_objects]),
            allow("DecryptMetricData", ["kms:Decrypt"], [key_arn], {"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}}),
            # PutMetricData has no resource-level permissions: limited to the drift namespace.
            allow("PublishMetrics", ["cloudwatch:PutMetricData"], ["*"], {"StringEquals": {"cloudwatch:namespace": DRIFT_NAMESPACE}}),
            *state_machines.notify_statements(notification_topic.topic_arn, topic_key.key_arn if topic_key is not None else None,
                                              stack.region),
            *state_machines.execution_role_statements(stack, machine_key_arn),
        ]
        self.state_machine_policy = iam.ManagedPolicy(
            self, "StateMachinePolicy", description=f"Drift checks of {endpoint_name}: job, baseline, metrics, notifications",
            roles=[self.state_machine_role], document=policy_document(machine_statements))
        # What is added to the role from now on (CDK's own log and trace statements, which these already cover,
        # or a grant to the machine) goes into this policy.
        self.state_machine_role.keep_statements_in(self.state_machine_policy, machine_statements)
        acknowledge_policy_resources(self.state_machine_policy, IAM5, {
            jobs: "The drift jobs of this endpoint; their names are made per run.",
            reports_objects: "Reading each window's (or run's) metric data under the monitor's own reports prefix.",
            "*": "Only actions without resource-level permissions: CloudWatch Logs delivery, X-Ray and cloudwatch:PutMetricData "
                 "(limited to the drift namespace by cloudwatch:namespace).",
        }, stack=stack)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            comment=f"Drift of the data endpoint {endpoint_name} receives against its served version's baseline",
            definition_body=sfn.DefinitionBody.from_string(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # No timeout=: CDK applies it only to a definition it builds from states, not to one from a string; the
            # definition carries its own TimeoutSeconds (on the drift task, and a backstop on the execution).
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            role=self.state_machine_role,
        )
        """Runs one drift check."""
        state_machines.finish(self.state_machine, self.state_machine_policy, self.key)

        # -- schedule and alarms ----------------------------------------------------------------------------
        self.schedule_expression: str | None = None
        """When the checks start: a cron expression in UTC, its minute (and hour) derived from ``endpoint_name``
        (``None`` for batch input)."""
        self.schedule_dead_letter_queue: sqs.Queue | None = None
        """Starts of a check the schedule could not make, after its retries (``None`` for batch input)."""
        self.check_schedule: scheduler.Schedule | None = None
        """Starts a check every period (EventBridge Scheduler; ``None`` for batch input)."""
        if not batch:
            self._schedule(stack, endpoint_name, schedule, notification_topic, machine_key_arn, account)
        self._alarms(endpoint_name, drift_threshold, window, notification_topic, retrain_event_bus, account, batch)

    def _schedule(self, stack: Stack, endpoint_name: str, schedule: str, notification_topic: sns.ITopic, machine_key_arn: str,
                  account: str) -> None:
        self.schedule_expression = drift_cron(endpoint_name, schedule)
        self.schedule_dead_letter_queue = dead_letter_queue(
            self, "ScheduleDeadLetters", self.key, notification_topic,
            alarm_id="ScheduleDeadLetterAlarm", alarm_name=f"{endpoint_name}-drift-check-not-started",
            alarm_description=f"The schedule could not start a drift check of endpoint {endpoint_name}",
            reason="This queue is itself the dead-letter queue of the drift checks' schedule (cdk-nag recognizes only SQS and "
                   "Lambda dead-letter queues); its alarm notifies the endpoint's alarm topic.",
        )
        self.check_schedule = state_machines.start_on_schedule(
            # not "Schedule": that id was the EventBridge rule this replaces, and a logical id cannot change type
            self, "CheckSchedule", machine=self.state_machine, machine_key_arn=machine_key_arn,
            expression=scheduler.ScheduleExpression.expression(self.schedule_expression),
            # The fields of the scheduled event the rule this replaces passed. The machine reads "time" (the schedule's
            # time: its Window state's end), so it must stay; it reads none of the others.
            input={"source": "aws.scheduler", "detail-type": "Scheduled Event", "id": scheduler.ContextAttribute.execution_id,
                   "time": scheduler.ContextAttribute.scheduled_time, "resources": [scheduler.ContextAttribute.schedule_arn], "detail": {}},
            dead_letter_queue=self.schedule_dead_letter_queue, dead_letter_key_arn=machine_key_arn,
            retry_attempts=_RETRY_ATTEMPTS, max_event_age=durations.hours(1), account=account,
            description=f"Drift check of {endpoint_name}, {schedule}", role_description=f"Starts the drift checks of endpoint {endpoint_name}",
            policy_description="Start the drift checks", schedule_name=self.schedule_name, role=self.state_machine_role,
            role_policy=iam.ManagedPolicy(
                self, "SchedulePolicy", description="Start the drift checks on their schedule", roles=[self.state_machine_role],
                document=policy_document(state_machines.schedule_role_statements(
                    stack, self.state_machine.state_machine_arn, machine_key_arn, self.schedule_dead_letter_queue, machine_key_arn)),
            ),
        )

    def _alarms(self, endpoint_name: str, drift_threshold: float, window: Duration, notification_topic: sns.ITopic,
                retrain_event_bus: events.IEventBus | None, account: str, batch: bool) -> None:
        what = f"batch {endpoint_name}'s input" if batch else f"endpoint {endpoint_name}"
        self.drift_alarm = cloudwatch.Alarm(
            self, "DriftAlarm",
            alarm_name=self.alarm_name_for(endpoint_name),
            alarm_description=f"Data drift on {what}: the share of drifted features reached {drift_threshold}; starts a retraining",
            metric=self.metric_drifted_share(period=window),
            threshold=drift_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            # A check publishes once a window (none without enough rows), stamped when it ends. Between two, the alarm
            # keeps the last verdict: "ignore" maintains the state when the evaluation range holds no data point
            # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html), where
            # "notBreaching" would turn it OK, and the next drift verdict would start another retraining, whenever
            # the range (whose length AWS does not state) fell between two checks.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        """``DriftedShare`` at or above ``drift_threshold`` in a window; between checks, and after windows without a
        verdict, the last check's verdict."""
        self.failure_alarm = at_least_one_alarm(
            self, "FailureAlarm", alarm_name=f"{endpoint_name}-drift-check-failed",
            description=f"A drift check of {what} failed (not drift: the check itself)",
            metric=self.state_machine.metric_failed(period=window, statistic="Sum"),
        )
        """Any failed check in a period."""
        # A check the execution's own TimeoutSeconds ends is TIMED_OUT, counted in ExecutionsTimedOut, not
        # ExecutionsFailed, and no Catch runs for it (catchers do not apply to a top-level execution failure:
        # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
        self.timed_out_alarm = at_least_one_alarm(
            self, "TimedOutAlarm", alarm_name=f"{endpoint_name}-drift-check-timed-out",
            description=f"A drift check of {what} ran past its execution timeout (no failure notification was sent)",
            metric=self.state_machine.metric_timed_out(period=window, statistic="Sum"),
        )
        """Any check in a period that the execution's own timeout ended."""
        self._notify = alarm_action(notification_topic)
        for alarm in (self.drift_alarm, self.failure_alarm, self.timed_out_alarm):
            alarm.add_alarm_action(self._notify)

        self.drift_forwarding: events.Rule | None = None
        """Forwards the drift alarm's ALARM events to ``retrain_event_bus`` (another account's), or ``None``."""
        self.forward_dead_letter_queue: sqs.Queue | None = None
        """Drift events the forwarding could not deliver, alarmed (``None`` without forwarding)."""
        if retrain_event_bus is not None and retrain_event_bus.env.account != account:
            forwarder = iam.Role(self, "ForwardDriftRole", assumed_by=service_principal("events.amazonaws.com", account),
                                 description=f"Forwards drift alarms of {endpoint_name}")
            iam.ManagedPolicy(self, "ForwardDriftPolicy", description="Put drift events on the training account's bus", roles=[forwarder],
                              document=policy_document([allow(None, ["events:PutEvents"], [retrain_event_bus.event_bus_arn])]))
            self.drift_forwarding = events.Rule(
                self, "ForwardDrift",
                description=f"Forwards {endpoint_name}-drift alarms to the training account",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"], detail_type=["CloudWatch Alarm State Change"],
                    detail={"alarmName": [self.alarm_name_for(endpoint_name)], "state": {"value": ["ALARM"]}},
                ),
                targets=[targets.EventBus(retrain_event_bus, role=forwarder.without_policy_updates(),
                                          dead_letter_queue=self._forward_dead_letters(endpoint_name, notification_topic))],
            )
            lost_events_alarm(self, "ForwardLostEventsAlarm", self.drift_forwarding, notification_topic,
                              f"A drift alarm of {endpoint_name} could neither be forwarded to the training account nor be kept in "
                              "the dead-letter queue: no retraining started", alarm_name=f"{endpoint_name}-drift-forward-lost")

    def _forward_dead_letters(self, endpoint_name: str, notification_topic: sns.ITopic) -> sqs.Queue:
        """Where EventBridge puts a drift event the training account's bus refused (its policy, a deleted bus), after its
        retries, with an alarm: without one, drift would be detected and no retraining start, unnoticed."""
        allow_event_dead_letters(self.key)
        self.forward_dead_letter_queue = dead_letter_queue(
            self, "ForwardDeadLetters", self.key, notification_topic,
            alarm_id="ForwardDeadLetterAlarm", alarm_name=f"{endpoint_name}-drift-not-forwarded",
            alarm_description=f"A drift alarm of {endpoint_name} could not be forwarded to the training account: no retraining started",
            reason="This queue is itself the dead-letter queue of the rule forwarding drift alarms to the training account; its "
                   "alarm notifies the endpoint's alarm topic.",
        )
        return self.forward_dead_letter_queue

    # ------------------------------------------------------------------------------------------------
    # Names

    @staticmethod
    def alarm_name_for(endpoint_name: str) -> str:
        """The name of the drift alarm of ``endpoint_name``'s monitor, ``<endpoint_name>-drift``: the one place
        it is made, for a rule elsewhere (the training pipeline's retrain rule) that listens for it by name."""
        check_pattern("DriftMonitor", "endpoint_name", endpoint_name, _NAME, "must be a SageMaker endpoint name: 1-63 letters, digits and hyphens")
        return f"{endpoint_name}-drift"

    # ------------------------------------------------------------------------------------------------
    # Metrics and alarms

    def metric_drifted_share(self, **props: Any) -> cloudwatch.Metric:
        """``DriftedShare``: the share of drifted features (0-1) in each checked window.

        Default statistic ``Maximum``, period one window of the ``schedule`` (an hour, or a day); ``props``
        are ``cloudwatch.MetricOptions`` fields (``statistic``, ``period``, ``label``, ...), as for
        aws-cdk-lib's ``metric_*`` methods; ``dimensions_map`` is added to ``EndpointName``."""
        return self._metric("DriftedShare", "Maximum", {}, props)

    def metric_captured_rows(self, **props: Any) -> cloudwatch.Metric:
        """``CapturedRows``: the captured rows each check read (0 for a window with nothing captured).

        Default statistic ``Sum``, period one window of the ``schedule``; ``props`` as for
        :meth:`metric_drifted_share`."""
        return self._metric("CapturedRows", "Sum", {}, props)

    def metric_feature_drift_score(self, feature: str, **props: Any) -> cloudwatch.Metric:
        """``FeatureDriftScore`` of one ``feature`` (a column of the baseline): the drift test's score in each
        checked window (a p-value or a distance, as Evidently chose the test for the feature).

        Default statistic ``Maximum``, period one window of the ``schedule``; ``props`` as for
        :meth:`metric_drifted_share`."""
        check_type("DriftMonitor", "feature", feature, str)
        return self._metric("FeatureDriftScore", "Maximum", {"Feature": feature}, props)

    def add_alarm(
        self,
        id: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison_operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_name: str | None = None,
        alarm_description: str | None = None,
    ) -> cloudwatch.Alarm:
        """Add an alarm on ``metric`` (one of the ``metric_*`` methods', or any other) that notifies
        ``notification_topic`` like the drift and failure alarms, e.g. a feature's score or a window with too
        few captured rows.

        :param id: the alarm's construct id, under the monitor.
        :param comparison_operator: Default: at or above ``threshold``.
        :param evaluation_periods: Default: 1.
        :param datapoints_to_alarm: Default: ``evaluation_periods``.
        :param treat_missing_data: Default: not breaching (a window without a check is not an alarm).
        :param alarm_name: Default: a generated name.
        :param alarm_description: Default: none.
        """
        name = "DriftMonitor"
        check_type(name, "id", id, str)
        check_interface(name, "metric", metric, "to_metric_config", "must be a cloudwatch.IMetric")
        check_range(name, "threshold", threshold, integer=False)
        check_type(name, "comparison_operator", comparison_operator, cloudwatch.ComparisonOperator)
        check_range(name, "evaluation_periods", evaluation_periods, 1)
        if datapoints_to_alarm is not None:
            check_range(name, "datapoints_to_alarm", datapoints_to_alarm, 1, None if is_token(evaluation_periods) else evaluation_periods)
        check_type(name, "treat_missing_data", treat_missing_data, cloudwatch.TreatMissingData)
        check_type(name, "alarm_name", alarm_name, str, optional=True)
        check_type(name, "alarm_description", alarm_description, str, optional=True)
        alarm = cloudwatch.Alarm(
            self, id, metric=metric, threshold=threshold, comparison_operator=comparison_operator, evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm, treat_missing_data=treat_missing_data, alarm_name=alarm_name,
            alarm_description=alarm_description,
        )
        alarm.add_alarm_action(self._notify)
        return alarm

    def _metric(self, metric_name: str, statistic: str, dimensions: dict[str, str], props: dict[str, Any]) -> cloudwatch.Metric:
        unknown = sorted(set(props) - _METRIC_OPTIONS)
        if unknown:
            raise PropsError("DriftMonitor", unknown[0], props[unknown[0]], f"is not a metric option; options are {', '.join(sorted(_METRIC_OPTIONS))}")
        options: dict[str, Any] = {"statistic": statistic, "period": self._window, **props}
        options["dimensions_map"] = {**(props.get("dimensions_map") or {}), "EndpointName": self.endpoint_name, **dimensions}
        return cloudwatch.Metric(namespace=DRIFT_NAMESPACE, metric_name=metric_name, **options)

    # ------------------------------------------------------------------------------------------------
    # Resource model

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The drift job's role: what is granted to the monitor, the job may do (a custom image's extra reads)."""
        return self.job_role

    @property
    def connections(self) -> ec2.Connections:
        """The drift job's security group."""
        if self._connections is None:
            self._connections = ec2.Connections(security_groups=[self.security_group])
        return self._connections

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start a check (``states:StartExecution`` on the state machine, and ``kms:GenerateDataKey`` on
        the key of its execution data), as a batch run does for a ``batch-input`` monitor. Its input may name
        ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` to link the check to the execution that started it; the
        check reads nothing else of it."""
        check_interface("DriftMonitor", "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        grant = self.state_machine.grant_start_execution(grantee)
        self.key.grant(grantee, "kms:GenerateDataKey")
        return grant

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Add ``statement`` to the drift job's managed policy (``job_policy``), as grants to the monitor or to
        ``job_role`` also do. cdk-nag checks it like the rest of the policy: a wildcard needs an acknowledgement
        on ``job_policy``."""
        check_type("DriftMonitor", "statement", statement, iam.PolicyStatement)
        self.job_role.add_to_principal_policy(statement)

    @property
    def alarm_topic(self) -> sns.ITopic:
        """Deprecated: ``notification_topic``."""
        warnings.warn("DriftMonitor: alarm_topic is deprecated, use notification_topic (removed in the next minor version)",
                      DeprecationWarning, stacklevel=2)
        return self.notification_topic

    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _definition(*, endpoint_name: str, model_package_arn: str, capture_bucket: str, captured_prefix: str, reports_prefix: str,
                    picture: str, window_ms: int, image_uri: str, role_arn: str, key_arn: str, subnet_ids: list[str],
                    security_group_id: str, instance_type: str, min_rows: int, topic_arn: str, reports_bucket: str | None = None,
                    batch_input: bool = False, drop_columns: int = 0) -> str:
        """The state machine's definition (JSON text; CDK renders the tokens in it with Fn::Join):
        JSONPath, with one JSONata state for the time arithmetic of the window (the intrinsic functions
        have none)."""
        reports_bucket = reports_bucket or capture_bucket
        # The window before the schedule's time (the input's "time", <aws.scheduler.scheduled-time>), not before the
        # execution's start: EventBridge Scheduler retries a start for up to an hour, and a retry that starts past the
        # hour would check the hour still being captured and never the one that ended. A manual run has no "time".
        window_expr = (f"$fromMillis(($exists($states.input.time) ? $toMillis($states.input.time) "
                       f": $toMillis($states.context.Execution.StartTime)) - {window_ms}, '{picture}')")
        if batch_input:
            # No window: each check reads the whole input prefix; its reports go under <date>/<execution name>.
            window_expr = "$fromMillis($toMillis($states.context.Execution.StartTime), '[Y0001]/[M01]/[D01]') & '/' & $states.context.Execution.Name"
        captured_key = (f"'{captured_prefix}'" if batch_input else f"States.Format('{captured_prefix}{{}}/', $.window)")
        captured_uri = (f"'s3://{capture_bucket}/{captured_prefix}'" if batch_input
                        else f"States.Format('s3://{capture_bucket}/{captured_prefix}{{}}/', $.window)")
        format_args = ["--captured-format", "csv"] + (["--drop-columns", str(drop_columns)] if drop_columns else []) if batch_input else []
        stamp_expr = "$fromMillis($toMillis($states.context.Execution.StartTime), '[Y0001][M01][D01][H01][m01][s01]')"
        # States.ALL matches every error a task reports but States.DataLimitExceeded and States.Runtime, so States.Timeout
        # too (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
        catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}]
        # Both states that publish metrics (nothing captured, or the job's metrics): a throttled or failed call is tried again
        publish_retry = [{"ErrorEquals": ["CloudWatch.CloudWatchException", "CloudWatch.SdkClientException"], "IntervalSeconds": 5,
                          "MaxAttempts": 3, "BackoffRate": 2}]
        states = {
            "Window": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Comment": "This run's report location, and its job name" if batch_input else "The window just ended, and this run's job name",
                "Output": {
                    "window": "{% " + window_expr + " %}",
                    # The execution's own name keeps two runs started in the same second (EventBridge delivers at
                    # least once) apart; DriftJob adds its retry count (_JOB_PREFIX says how long it can be).
                    "job": "{% '" + _job_name_prefix(endpoint_name) + "' & " + stamp_expr
                           + " & '-' & $replace($substring($states.context.Execution.Name, 0, 8), /[^A-Za-z0-9]/, 'x') %}",
                },
                "Next": "ListCaptured",
            },
            "ListCaptured": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                "Parameters": {"Bucket": capture_bucket, **({"Prefix": captured_prefix} if batch_input else {"Prefix.$": captured_key}), "MaxKeys": 1},
                "ResultSelector": {"count.$": "$.KeyCount"},
                "ResultPath": "$.captured",
                "Retry": [{"ErrorEquals": ["S3.SdkClientException", "S3.S3Exception"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": catch,
                "Next": "AnythingCaptured",
            },
            "AnythingCaptured": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.captured.count", "NumericEquals": 0, "Next": "NothingCaptured"}],
                "Default": "DescribeServedVersion",
            },
            "NothingCaptured": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
                "Parameters": {"Namespace": DRIFT_NAMESPACE, "MetricData": [
                    {"MetricName": "CapturedRows", "Value": 0, "Unit": "Count", "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}]}]},
                "ResultPath": None,
                "Retry": publish_retry,
                "Catch": catch,
                "End": True,
            },
            "DescribeServedVersion": {
                "Type": "Task",
                "Comment": "The served version's baseline, as the training pipeline registered it",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
                "Parameters": {"ModelPackageName": model_package_arn},
                # The whole description (a few KB), checked by HasBaseline: a ResultSelector path that the result lacks (a
                # version registered without a baseline, or without any metadata) is a States.Runtime error, which no Catch
                # handles, not even States.ALL (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
                # the run would fail without its notification.
                "ResultSelector": {"package.$": "$"},
                "ResultPath": "$.baseline",
                "Retry": [{"ErrorEquals": ["SageMaker.SageMakerException", "SageMaker.SdkClientException"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": catch,
                "Next": "HasBaseline",
            },
            "HasBaseline": {
                "Type": "Choice",
                "Choices": [{"Variable": f"$.baseline.package.CustomerMetadataProperties.{BASELINE_METADATA_KEY}", "IsPresent": True,
                             "Next": "BaselineUri"}],
                "Default": "NoBaseline",
            },
            "BaselineUri": {
                "Type": "Pass",
                "Parameters": {"uri.$": f"$.baseline.package.CustomerMetadataProperties.{BASELINE_METADATA_KEY}"},
                "ResultPath": "$.baseline",
                "Next": "DriftJob",
            },
            "NoBaseline": {
                "Type": "Pass",
                "Comment": "A version registered without a drift baseline: notified and failed like any failure",
                "Result": {"Error": "NoBaseline", "Cause": f"The served model package has no {BASELINE_METADATA_KEY} in its CustomerMetadataProperties "
                                                            "(the training pipeline writes it): there is nothing to compare the capture with."},
                "ResultPath": "$.failure",
                "Next": "NotifyFailure",
            },
            "DriftJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    # A retry must not reuse the name: if a create succeeded but its answer was lost, SageMaker refuses
                    # the same name again ("must be unique within an AWS account and region") and the first job would
                    # run unwatched.
                    "ProcessingJobName.$": "States.Format('{}-{}', $.job, $$.State.RetryCount)",
                    "RoleArn": role_arn,
                    "AppSpecification": {
                        "ImageUri": image_uri,
                        "ContainerArguments": ["--baseline", f"{_LOCAL}/baseline", "--captured", f"{_LOCAL}/captured",
                                               "--output", f"{_LOCAL}/output", "--min-rows", str(min_rows), "--endpoint", endpoint_name,
                                               *format_args],
                    },
                    "ProcessingInputs": [
                        {"InputName": "baseline", "S3Input": {"S3Uri.$": "$.baseline.uri", "LocalPath": f"{_LOCAL}/baseline",
                                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
                        {"InputName": "captured", "S3Input": {**({"S3Uri": f"s3://{capture_bucket}/{captured_prefix}"} if batch_input
                                                                 else {"S3Uri.$": captured_uri}),
                                                              "LocalPath": f"{_LOCAL}/captured", "S3DataType": "S3Prefix", "S3InputMode": "File"}},
                    ],
                    "ProcessingOutputConfig": {"KmsKeyId": key_arn, "Outputs": [{
                        "OutputName": "report",
                        "S3Output": {"S3Uri.$": f"States.Format('s3://{reports_bucket}/{reports_prefix}{{}}/', $.window)",
                                     "LocalPath": f"{_LOCAL}/output", "S3UploadMode": "EndOfJob"}}]},
                    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 20, "VolumeKmsKeyId": key_arn}},
                    "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True,
                                      "VpcConfig": {"SecurityGroupIds": [security_group_id], "Subnets": subnet_ids}},
                    "StoppingCondition": {"MaxRuntimeInSeconds": _JOB_RUNTIME},
                },
                # Should .sync not come back after the job's hour, the task fails with States.Timeout: caught, notified.
                "TimeoutSeconds": _JOB_TIMEOUT,
                "ResultPath": None,
                "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException", "SageMaker.ResourceLimitExceededException"],
                           "IntervalSeconds": 60, "MaxAttempts": 2, "BackoffRate": 2}],
                "Catch": catch,
                "Next": "ReadMetricData",
            },
            "ReadMetricData": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": reports_bucket, "Key.$": f"States.Format('{reports_prefix}{{}}/metric_data.json', $.window)"},
                "ResultSelector": {"data.$": "States.StringToJson($.Body)"},
                "ResultPath": "$.metrics",
                "Retry": [{"ErrorEquals": ["S3.SdkClientException", "S3.S3Exception"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": catch,
                "Next": "PublishMetrics",
            },
            "PublishMetrics": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
                "Parameters": {"Namespace": DRIFT_NAMESPACE, "MetricData.$": "$.metrics.data"},
                "ResultPath": None,
                "Retry": publish_retry,
                "Catch": catch,
                "End": True,
            },
            **state_machines.notify_then_fail(topic_arn, f"Drift check failed: {endpoint_name}", {
                "endpoint": endpoint_name, "execution.$": "$$.Execution.Id", "window.$": "$.window", "failure.$": "$.failure"},
                "DriftCheckFailed"),
        }
        # The execution's own timeout, a backstop beyond the task's: what it ends is TIMED_OUT, uncaught (the timeout alarm).
        return json.dumps({"Comment": f"Drift check of {'the batch input of ' if batch_input else ''}{endpoint_name}", "StartAt": "Window", "TimeoutSeconds": _CHECK_TIMEOUT,
                           "States": states})

    @staticmethod
    def _validate(endpoint_name: str, capture_prefix: str, reports_prefix: str, schedule: str, drift_threshold: float,
                  min_rows: int, instance_type: str, baseline_key_alias: str | None) -> None:
        name = "DriftMonitor"
        if not isinstance(endpoint_name, str) or not _NAME.fullmatch(endpoint_name):
            raise PropsError(name, "endpoint_name", endpoint_name, "must be a SageMaker endpoint name: 1-63 letters, digits and hyphens")
        for prop, value in (("capture_prefix", capture_prefix), ("reports_prefix", reports_prefix)):
            if not isinstance(value, str) or not _PREFIX.fullmatch(value):
                raise PropsError(name, prop, value, "must be an S3 key prefix without a leading slash, ending with '/'")
        check_choice(name, "schedule", schedule, _WINDOWS)
        if isinstance(drift_threshold, bool) or not isinstance(drift_threshold, (int, float)) or not 0 < drift_threshold <= 1:
            raise PropsError(name, "drift_threshold", drift_threshold, "must be a share of drifted features, above 0 and at most 1")
        if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
            raise PropsError(name, "min_rows", min_rows, "must be a whole number of rows, at least 1")
        check_instance_type(name, "instance_type", instance_type, "ProcessingInstanceType", "processing")
        check_pattern(name, "baseline_key_alias", baseline_key_alias, _ALIAS, "must be a KMS alias name, alias/<name>", optional=True)

    @staticmethod
    def _check_types(*, model_package_arn: Any, capture_bucket: Any, baseline_bucket: Any, vpc: Any, encryption_key: Any,
                     notification_topic: Any, retrain_event_bus: Any, vpc_subnets: Any, log_retention: Any, removal_policy: Any) -> None:
        """The props that are CDK objects, or strings a token may stand for, checked with the shared validators."""
        name = "DriftMonitor"
        if notification_topic is None:
            raise PropsError(name, "notification_topic", None, "is required: the sns.ITopic the alarms and failed checks notify")
        check_interface(name, "notification_topic", notification_topic, "topic_arn", "must be an sns.ITopic")
        check_pattern(name, "model_package_arn", model_package_arn, _PACKAGE_ARN,
                      "must be a versioned model package ARN, arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>")
        check_interface(name, "capture_bucket", capture_bucket, "bucket_arn", "must be an s3.IBucket")
        check_interface(name, "baseline_bucket", baseline_bucket, "bucket_arn", "must be an s3.IBucket")
        check_interface(name, "vpc", vpc, "vpc_id", "must be an ec2.IVpc")
        check_interface(name, "encryption_key", encryption_key, "key_arn", "must be a kms.IKey")
        check_interface(name, "retrain_event_bus", retrain_event_bus, "event_bus_arn", "must be an events.IEventBus", optional=True)
        check_type(name, "vpc_subnets", vpc_subnets, ec2.SubnetSelection, optional=True)
        check_type(name, "log_retention", log_retention, logs.RetentionDays)
        check_type(name, "removal_policy", removal_policy, RemovalPolicy)


def _schedule_name(endpoint_name: str) -> str:
    """``<endpoint_name>-drift-check``, within Scheduler's 64 characters: past them, the endpoint name's first 43 and a
    hash of all of it, so two long endpoint names that share their start do not get the same schedule (the second
    stack would fail to create it in the account's default group)."""
    name = f"{endpoint_name}-drift-check"
    if len(name) <= 64:
        return name
    return f"{endpoint_name[:43]}-{hashlib.sha256(endpoint_name.encode()).hexdigest()[:8]}-drift-check"
