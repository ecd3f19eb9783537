"""BatchInference: a released model version scored over an S3 prefix by a SageMaker batch transform job, run by a
Step Functions state machine on a schedule and/or when new data arrives, one run at a time, its results
queryable with Athena.

No endpoint: the model version is the stage's released one (``model_package_arn``, deployed by the model's
release pipeline like an endpoint would be), so a newly approved and released version changes what the next run
scores with. The transform job's fields are SageMaker's ``CreateTransformJob``
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html); the VPC and network
isolation are the model's (``CreateModel``: a transform job has neither field of its own).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs import _state_machines as state_machines
from mlops_constructs._arns import arn
from mlops_constructs._guardrails import inside_guardrails
from mlops_constructs._iam import allow, network_interfaces_arn, policy_document, sagemaker_vpc_statements, service_principal
from mlops_constructs._instance_types import check_instance_type
from mlops_constructs._serving_rules import joined_output_problem
from mlops_constructs._keys import (
    Key,
    alarm_action,
    allow_cloudwatch_logs,
    allow_dead_letters_and_alarms,
    at_least_one_alarm,
    dead_letter_queue,
    deny_grants_except_for_aws_resources,
    lost_events_alarm,
)
from mlops_constructs._managed_policy_role import ManagedPolicyRole
from mlops_constructs._validate import check_choice, check_interface, check_pattern, check_range, check_type, is_token
from mlops_constructs._vpc import select_subnets
from mlops_constructs.container_image import PULL_ACTIONS
from mlops_constructs.compliance import IAM5, acknowledge_log_retention, acknowledge_policy_resources
from mlops_constructs.errors import PropsError
from mlops_constructs.monitoring.drift_monitor import DriftMonitor

BatchStrategy = Literal["MultiRecord", "SingleRecord"]
SplitType = Literal["None", "Line", "RecordIO", "TFRecord"]
JoinSource = Literal["None", "Input"]

BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")
JOIN_SOURCES = ("None", "Input")
"""CreateTransformJob's enums: ``BatchStrategy``, ``TransformInput.SplitType`` and ``DataProcessing.JoinSource``."""
TABLE_FORMATS: dict[str, dict[str, Any]] = {
    # accept type: the Glue table's SerDe (https://docs.aws.amazon.com/athena/latest/ug/serde-reference.html)
    "text/csv": {"classification": "csv", "serde": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                 "parameters": {"field.delim": ",", "serialization.format": ","}},
    "application/jsonlines": {"classification": "json", "serde": "org.openx.data.jsonserde.JsonSerDe", "parameters": {}},
}
"""The output formats the results table reads, by ``accept`` type."""
RUN_DATE = "run_date"
"""The results table's partition column: the run's start date (UTC), ``yyyy-MM-dd``."""
ANOTHER_RUN = "AnotherRunInProgress"
"""The state a run ends in, successfully and without a job, when an older run of the machine is still running."""
TOO_MANY_RUNNING = "TooManyRunning"
"""The state (and error) a run fails in when the machine's running executions are too many to list in one result."""

# Lowercase only: SageMaker writes a job's name in lowercase in its ARN, so "<name>-batch-*" in the job permission
# matches no job of a name with capitals.
_NAME = re.compile(r"[a-z0-9](-*[a-z0-9]){0,62}")
_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()=-]+/)+")
_ALIAS = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")
_PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d+")
_CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
_FILTER = re.compile(r"\$.{0,62}", re.DOTALL)  # DataProcessing's InputFilter/OutputFilter: JSONPath, 0-63 characters
_GLUE_NAME = re.compile(r"[a-z0-9_]{1,255}")
_COLUMN_TYPE = re.compile(r"(string|double|float|bigint|int|smallint|tinyint|boolean|date|timestamp|decimal\(\d+,\s*\d+\))")
_JOB_PREFIX = 30
"""Characters of ``name`` that start the transform jobs' names, ``<30>-batch-<yyyyMMddHHmmss>-<8>-<retry>``:
30 + 7 + 14 + 1 + 8 + 2 = 62 of SageMaker's 63."""
_METRIC_OPTIONS = frozenset(inspect.signature(cloudwatch.MetricOptions.__init__).parameters) - {"self"}
_TRIGGER_RETRY_ATTEMPTS = 4
_TRIGGER_MAX_EVENT_AGE = durations.hours(1)
_RUN_MARGIN = 15 * 60
"""Seconds the execution's own timeout allows beyond the job's ``max_run_time``: the guard (with its throttling
retries) and the failure notification."""
_DROP_FILTER = re.compile(r"\$\[(\d+):\]")
"""The input filters a drift check can follow: ``$`` (the whole row) and ``$[k:]`` (the row less its first k columns)."""
_LONGEST_EXECUTION = 365 * 24 * 3600
"""A standard workflow's longest run, one year (Step Functions' quotas)."""


def _job_name_prefix(name: str) -> str:
    """How every transform job of the batch ``name`` is named, ``<30 of name>-batch-``: its role may create only those."""
    return f"{name[:_JOB_PREFIX]}-batch-"


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class BatchInference(Construct):
    """Score everything under an S3 prefix with a released model version, in a SageMaker batch transform job,
    on a schedule and/or when new data arrives.

    Each run is one execution of a Step Functions state machine (named ``<name>-batch``), which:

    1. lists the machine's running executions, and ends as ``AnotherRunInProgress`` (succeeded, no job) when another
       one that started before it is still running: at most one run scores at a time, and of two started together
       the older one goes on. ListExecutions is eventually consistent, so a run not (yet) listed itself goes on; two
       runs started within the listing's lag of each other may both miss the other and both score;
    2. runs the transform job (``createTransformJob.sync``) with the model of ``model_package_arn`` on
       ``s3://<input_bucket>/<input_prefix>``, writing to
       ``s3://<output_bucket>/<output_prefix>run_date=<yyyy-MM-dd>/<execution name>/``, the volume and output
       encrypted with ``encryption_key``;
    3. with ``drift_monitor``, after a successful job, starts its drift check (a ``batch-input`` :class:`DriftMonitor`
       over the same input prefix: its own state machine, not waited for, which notifies its own failures);
    4. on any failure, including a job that runs past ``max_run_time`` (the task's timeout), publishes the
       execution, the job and the error to ``notification_topic`` and fails.

    Creates the **model** (``CfnModel``: the package as its container, network-isolated in the isolated subnets
    with a **security group** of its own, HTTPS out only), its **execution role** (what the transform job reads
    and writes with: the input prefix, the output prefix, the package's artifacts), the **state machine** (its
    execution data, logs, dead-letter queue and default topic encrypted with a **key** of its own), the
    **triggers** (an EventBridge Scheduler schedule with ``schedule``; an EventBridge rule on the input bucket's
    ``Object Created`` events under the input prefix with ``on_new_data``; both with a **dead-letter queue**
    alarmed to the topic), a **failure alarm** ``<name>-batch-failed`` (any failed run), a **timeout alarm**
    ``<name>-batch-timed-out`` (any run the execution's own timeout ended, which no notification reports), and a **Glue database and
    table** over the output prefix, partitioned by ``run_date`` with partition projection, so Athena reads new
    runs without a crawler.

    The construct is ``iam.IGrantable`` (its principal is the model's execution role, which the transform job
    runs with: ``bucket.grant_read(batch)`` lets the job read another bucket) and ``ec2.IConnectable`` (the
    model's security group). :meth:`add_to_role_policy` and grants land in ``policy``.

    Example::

        BatchInference(self, "Batch",
            name="acme-prod-forecast",
            model_package_arn=package_arn,
            vpc=network.vpc, encryption_key=store.encryption_key,
            input_bucket=store.data_bucket, input_prefix="forecast/batch-input/",
            output_bucket=store.artifact_bucket,
            artifact_bucket=dev_artifacts, artifact_prefix="forecast/", artifact_key_alias="alias/acme-dev/artifacts",
            schedule=scheduler.ScheduleExpression.expression("cron(0 4 * * ? *)"),
        )

    :param name: names the runs: the state machine ``<name>-batch``, the jobs ``<name[:30]>-batch-<time>-<run>-<attempt>``, the
        alarms and the Glue database. 1-63 lowercase letters, digits and hyphens.
    :param model_package_arn: the released, versioned model package the runs score with.
    :param vpc: the VPC the model runs in; its endpoints must include S3, ECR, CloudWatch Logs and SageMaker.
    :param encryption_key: encrypts the job's volume and output (the output bucket's key).
    :param input_bucket: where the data to score is, under ``input_prefix`` (every object under it, each run).
    :param input_prefix: an S3 key prefix ending with ``/``.
    :param output_bucket: where the results go, under ``output_prefix``; must not be under the input prefix.
    :param artifact_bucket: the bucket of the package's model artifacts (the training account's, imported with its
        ``account``), which the model's role reads under ``artifact_prefix``.
    :param artifact_prefix: Default: the whole bucket (``""``).
    :param artifact_key_alias: the alias of the artifacts' key when they are in another account. Default: none.
    :param output_prefix: Default: ``batch-output/<name>/``.
    :param instance_type: Default: ``ml.m5.large``; no type with local instance storage (its volume takes no key).
    :param instance_count: Default: 1 (1-100).
    :param max_payload_mb: the largest mini-batch sent to the container, ``MaxPayloadInMB`` (0-100; 0 for
        streaming). Default: 6.
    :param max_concurrent_transforms: requests per instance at a time, ``MaxConcurrentTransforms``. Default:
        SageMaker's (the container's, else 1).
    :param batch_strategy: ``MultiRecord`` or ``SingleRecord``. Default: ``MultiRecord``.
    :param split_type: how input files are split into records: ``None``, ``Line``, ``RecordIO`` or ``TFRecord``.
        Default: ``Line``.
    :param content_type: of the input. Default: ``text/csv``.
    :param accept: of the output; the results table reads ``text/csv`` or ``application/jsonlines``. Default: ``text/csv``.
    :param join_source: ``Input`` writes each input record beside its prediction; ``None`` the prediction only.
        Default: ``None``.
    :param input_filter: JSONPath selecting what of each record the model sees, e.g. ``$[1:]``. Default: ``$``.
    :param output_filter: JSONPath selecting what of the joined record is written. Default: ``$``.
    :param output_columns: the results table's columns, name to Athena type, in the output's order.
        Default: ``{"prediction": "string"}``.
    :param schedule: start a run on this schedule (EventBridge Scheduler, UTC). Default: no schedule.
    :param on_new_data: start a run when an object is created under ``input_prefix``; the input bucket must send its
        events to EventBridge. Default: false.
    :param notification_topic: receives the failure alarm, the dead-letter alarm and a message for every failed
        run. Default: a topic encrypted with the construct's key.
    :param max_run_time: a transform job running longer than this fails the run (and is notified): the Transform
        task's ``TimeoutSeconds``; the execution itself times out 15 minutes later. Default: 24 hours.
    :param image_repository: an ECR repository the package's image may come from (a model with its own image);
        the model's role may pull from it. Default: none (a built-in algorithm's image needs none).
    :param vpc_subnets: Default: the isolated subnets.
    :param log_retention: of the state machine's logs. Default: one year.
    :param removal_policy: of the key, the log group and the Glue database and table (not of the results, which
        are the output bucket's). Default: ``RemovalPolicy.RETAIN``.
    :param drift_monitor: a :class:`DriftMonitor` with ``source="batch-input"`` over this construct's ``input_bucket`` and
        ``input_prefix``, whose ``drop_columns`` matches ``input_filter`` (``$``: 0, ``$[k:]``: k; no other filter); each
        successful run starts a check of the input it scored. Default: no drift check.
    """

    VPC_ENDPOINTS: tuple[str, ...] = ("logs", "monitoring", "kms", "ecr-api", "ecr-docker", "sagemaker-api")
    """The interface endpoints (``IsolatedNetwork`` short names) the transform job's model may call from the VPC with
    its role: logs, metrics, the key, ECR and SageMaker (S3 is a gateway endpoint). The state machine runs outside it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        model_package_arn: str,
        vpc: ec2.IVpc,
        encryption_key: kms.IKey,
        input_bucket: s3.IBucket,
        input_prefix: str,
        output_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        artifact_prefix: str = "",
        artifact_key_alias: str | None = None,
        output_prefix: str | None = None,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        max_payload_mb: int = 6,
        max_concurrent_transforms: int | None = None,
        batch_strategy: BatchStrategy = "MultiRecord",
        split_type: SplitType = "Line",
        content_type: str = "text/csv",
        accept: str = "text/csv",
        join_source: JoinSource = "None",
        input_filter: str = "$",
        output_filter: str = "$",
        output_columns: Mapping[str, str] | None = None,
        schedule: scheduler.ScheduleExpression | None = None,
        on_new_data: bool = False,
        notification_topic: sns.ITopic | None = None,
        max_run_time: Duration = Duration.hours(24),
        image_repository: ecr.IRepository | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        drift_monitor: DriftMonitor | None = None,
    ) -> None:
        super().__init__(scope, id)
        output_prefix = f"batch-output/{name}/" if output_prefix is None and isinstance(name, str) else output_prefix
        output_columns = {"prediction": "string"} if output_columns is None else output_columns
        self._validate(
            name=name, model_package_arn=model_package_arn, vpc=vpc, encryption_key=encryption_key, input_bucket=input_bucket,
            input_prefix=input_prefix, output_bucket=output_bucket, output_prefix=output_prefix, artifact_bucket=artifact_bucket,
            artifact_prefix=artifact_prefix, artifact_key_alias=artifact_key_alias, instance_type=instance_type,
            instance_count=instance_count, max_payload_mb=max_payload_mb, max_concurrent_transforms=max_concurrent_transforms,
            batch_strategy=batch_strategy, split_type=split_type, content_type=content_type, accept=accept, join_source=join_source,
            input_filter=input_filter, output_filter=output_filter, output_columns=output_columns, schedule=schedule,
            on_new_data=on_new_data, notification_topic=notification_topic, max_run_time=max_run_time, image_repository=image_repository,
            vpc_subnets=vpc_subnets,
            log_retention=log_retention, removal_policy=removal_policy,
        )
        self._check_drift_monitor(drift_monitor, input_bucket, input_prefix, input_filter)
        assert output_prefix is not None
        stack = Stack.of(self)
        account, region = stack.account, stack.region
        subnets = select_subnets(vpc, vpc_subnets)
        key_arn = encryption_key.key_arn
        self.name = name
        """What the runs are named after."""
        self.model_package_arn = model_package_arn
        """The released version the runs score with."""
        self.input_location = f"s3://{input_bucket.bucket_name}/{input_prefix}"
        """What each run scores: every object under this prefix."""
        self.output_location = f"s3://{output_bucket.bucket_name}/{output_prefix}"
        """Where the runs write, under ``run_date=<yyyy-MM-dd>/<execution name>/``."""
        self.state_machine_name = f"{name}-batch"
        """The state machine's name (fixed: the guard lists the machine's own executions by its ARN)."""
        self.failure_alarm_name = f"{name}-batch-failed"
        """The failure alarm's name."""

        # -- the model and its role --------------------------------------------------------------------------
        self.security_group = ec2.SecurityGroup(
            self, "ModelSecurityGroup", vpc=vpc, description=f"Batch transform of {name}: HTTPS out only", allow_all_outbound=False)
        """The model containers' security group: no ingress, HTTPS out (to the VPC and gateway endpoints)."""
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC and gateway endpoints")
        self._connections = ec2.Connections(security_groups=[self.security_group])
        self.role: ManagedPolicyRole = ManagedPolicyRole(
            self, "ExecutionRole", assumed_by=service_principal("sagemaker.amazonaws.com", account),
            description=f"Model of the batch transform jobs of {name}")
        """The model's execution role, with which the transform jobs read the input and write the results."""
        statements, reasons = self._model_statements(stack, model_package_arn, input_bucket, input_prefix, output_bucket, output_prefix,
                                                     artifact_bucket, artifact_prefix, artifact_key_alias, key_arn, subnets.subnet_ids,
                                                     image_repository)
        self.policy = iam.ManagedPolicy(self, "ExecutionPolicy", description=f"Batch transform of {name}: package, input, results",
                                        roles=[self.role], document=policy_document(statements))
        """Everything the model and its jobs may do; grants and :meth:`add_to_role_policy` add to it."""
        self.role.keep_statements_in(self.policy, statements)
        acknowledge_policy_resources(self.policy, IAM5, reasons, stack=stack)
        self.model = sagemaker.CfnModel(
            self, "Model",
            execution_role_arn=self.role.role_arn,
            containers=[sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)],
            enable_network_isolation=True,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(security_group_ids=[self.security_group.security_group_id],
                                                            subnets=subnets.subnet_ids),
        )
        """The model of the released package. A new package replaces it (its name is generated), and the next run uses it."""
        self.model.add_resource_dependency(self.policy.node.default_child, "the role needs its policy before SageMaker uses it")  # type: ignore[arg-type]

        # -- key, topic, logs ----------------------------------------------------------------------------------
        self.key = Key(self, "Key", description=f"Encrypts the batch runs' execution data, logs, notifications and undelivered starts of {name}",
                           enable_key_rotation=True, removal_policy=removal_policy)
        """Encrypts the state machine's execution data, its log group, the dead-letter queue and the default topic."""
        allow_cloudwatch_logs(self.key)
        deny_grants_except_for_aws_resources(self.key)
        allow_dead_letters_and_alarms(self.key)
        state_machines.allow_execution_log_delivery(self.key, account)
        machine_key_arn = self.key.key_arn
        self.notification_topic: sns.ITopic = notification_topic or sns.Topic(
            self, "NotificationTopic", display_name=f"Batch transform of {name}", master_key=self.key, enforce_ssl=True)
        """Receives the failure and dead-letter alarms, and a message for every failed run."""
        log_group = state_machines.execution_log_group(self, "Logs", key=self.key, retention=log_retention, removal_policy=removal_policy)
        acknowledge_log_retention(log_group)

        # -- the state machine ---------------------------------------------------------------------------------
        self.state_machine_arn = arn(stack, "states", "stateMachine", self.state_machine_name, sep=":")
        """The state machine's ARN, known before it is created (its name is fixed)."""
        jobs = arn(stack, "sagemaker", "transform-job", f"{_job_name_prefix(name)}*")
        model_arn = self.model.attr_model_arn
        create = ["sagemaker:CreateTransformJob"]
        guardrails = inside_guardrails(create, subnet_ids=subnets.subnet_ids, security_group_ids=[self.security_group.security_group_id],
                                       kms_key_arn=key_arn)
        # The one model these jobs may use (sagemaker:ModelArn, a condition key of CreateTransformJob in the Service
        # Authorization Reference), which is the network-isolated one above.
        guardrails.setdefault("ArnEquals", {})["sagemaker:ModelArn"] = model_arn
        topic = self.notification_topic
        topic_key = getattr(topic, "master_key", None)
        self.state_machine_role: ManagedPolicyRole = ManagedPolicyRole(
            self, "StateMachineRole", assumed_by=service_principal("states.amazonaws.com", account),
            description=f"Runs the batch transform jobs of {name}")
        """Runs the state machine."""
        machine_statements = [
            allow("CreateJobsInsideGuardrails", create, [jobs], guardrails),
            # .sync follows the job, and stops it when the run is stopped or times out; ListTags as in Step Functions'
            # own policy for createTransformJob.sync (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html).
            allow("FollowAndStopJobs", ["sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob", "sagemaker:AddTags",
                                        "sagemaker:ListTags"], [jobs]),
            state_machines.follow_sagemaker_jobs("FollowJobs", stack, "Transform"),
            # The one-at-a-time guard: ListExecutions is authorized on the state machine's ARN
            # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
            allow("ListOwnExecutions", ["states:ListExecutions"], [self.state_machine_arn]),
            *state_machines.notify_statements(topic.topic_arn, topic_key.key_arn if topic_key is not None else None, region),
            *state_machines.execution_role_statements(stack, machine_key_arn),
        ]
        self.state_machine_policy = iam.ManagedPolicy(
            self, "StateMachinePolicy", description=f"Batch transform runs of {name}: jobs, guard, notifications",
            roles=[self.state_machine_role], document=policy_document(machine_statements))
        """Everything the state machine may do."""
        self.state_machine_role.keep_statements_in(self.state_machine_policy, machine_statements)
        acknowledge_policy_resources(self.state_machine_policy, IAM5, {
            jobs: "The transform jobs of these runs; their names are made per run.",
            "*": "Only actions without resource-level permissions: CloudWatch Logs delivery and X-Ray.",
        }, stack=stack)
        definition = self._definition(
            name=name, model_name=self.model.attr_model_name, input_uri=self.input_location, output_bucket=output_bucket.bucket_name,
            output_prefix=output_prefix, key_arn=key_arn, instance_type=instance_type, instance_count=instance_count,
            max_payload_mb=max_payload_mb, max_concurrent_transforms=max_concurrent_transforms, batch_strategy=batch_strategy,
            split_type=split_type, content_type=content_type, accept=accept, join_source=join_source, input_filter=input_filter,
            output_filter=output_filter, topic_arn=topic.topic_arn, job_timeout=int(max_run_time.to_seconds()),
            drift_machine_arn=drift_monitor.state_machine.state_machine_arn if drift_monitor is not None else None,
        )
        self.drift_monitor = drift_monitor
        """The drift check each successful run starts, or ``None``."""
        if drift_monitor is not None:
            # Starting the check: states:StartExecution on its machine, all a request-response start needs
            # (https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html, "Asynchronous"), and
            # kms:GenerateDataKey on its execution data key (as grant_start above); both into the machine's policy.
            drift_monitor.grant_start(self.state_machine_role)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=self.state_machine_name,
            comment=f"Batch transform of {name} with its released model version",
            definition_body=sfn.DefinitionBody.from_string(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # No timeout=: CDK applies it only to a definition it builds from states, not to one from a string; the
            # definition carries its own TimeoutSeconds.
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            role=self.state_machine_role,
        )
        """Runs one batch transform."""
        state_machines.finish(self.state_machine, self.state_machine_policy, self.key)

        # -- triggers --------------------------------------------------------------------------------------------
        self.trigger_dead_letter_queue: sqs.Queue | None = None
        """Starts the schedule or the rule could not make after their retries, or ``None`` without a trigger."""
        self.schedule: scheduler.Schedule | None = None
        """The schedule that starts runs, or ``None``."""
        self.new_data_rule: events.Rule | None = None
        """The rule that starts a run when an object is created under the input prefix, or ``None``."""
        if schedule is not None or on_new_data:
            self._triggers(stack, name, schedule, on_new_data, input_bucket, input_prefix, machine_key_arn)

        # -- alarm ------------------------------------------------------------------------------------------------
        self.failure_alarm = at_least_one_alarm(
            self, "FailureAlarm", alarm_name=self.failure_alarm_name,
            description=f"A batch transform run of {name} failed (the execution's notification names the job and the error)",
            metric=self.metric_failed_runs(),
        )
        """Any failed run within an hour."""
        self.failure_alarm.add_alarm_action(notify := alarm_action(topic))
        # A run the execution's own TimeoutSeconds ends is TIMED_OUT, counted in ExecutionsTimedOut, not ExecutionsFailed,
        # and no Catch runs for it (catchers do not apply to a top-level execution failure:
        # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), so no notification either.
        self.timed_out_alarm_name = f"{name}-batch-timed-out"
        """The timeout alarm's name."""
        self.timed_out_alarm = at_least_one_alarm(
            self, "TimedOutAlarm", alarm_name=self.timed_out_alarm_name,
            description=f"A batch transform run of {name} ran past its execution timeout (no failure notification was sent)",
            metric=self.metric_timed_out_runs(),
        )
        """Any run within an hour that the execution's own timeout ended."""
        self.timed_out_alarm.add_alarm_action(notify)

        # -- results table ----------------------------------------------------------------------------------------
        self.database_name = name.replace("-", "_").lower()
        """The Glue database of the results table."""
        self.table_name = "predictions"
        """The results table, ``<database_name>.predictions``."""
        self.database = glue.CfnDatabase(
            self, "Database", catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description=f"Batch transform results of {name}"),
        )
        """The Glue database."""
        self.database.apply_removal_policy(removal_policy)
        table_format = TABLE_FORMATS[accept]
        location = self.output_location.rstrip("/")
        self.table = glue.CfnTable(
            self, "Table", catalog_id=account, database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=self.table_name,
                description=f"Results of the batch transform runs of {name}, one partition per run date",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(name=RUN_DATE, type="string", comment="The run's start date (UTC)")],
                # Partition projection: Athena computes the partitions from these properties, with no crawler and no
                # partitions registered (https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html,
                # the date type; https://docs.aws.amazon.com/athena/latest/ug/partition-projection-setting-up.html).
                parameters={
                    "classification": table_format["classification"],
                    "projection.enabled": "true",
                    f"projection.{RUN_DATE}.type": "date",
                    f"projection.{RUN_DATE}.format": "yyyy-MM-dd",
                    f"projection.{RUN_DATE}.range": "NOW-5YEARS,NOW",
                    f"projection.{RUN_DATE}.interval": "1",
                    f"projection.{RUN_DATE}.interval.unit": "DAYS",
                    "storage.location.template": f"{location}/{RUN_DATE}=${{{RUN_DATE}}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=f"{location}/",
                    columns=[glue.CfnTable.ColumnProperty(name=column, type=type_) for column, type_ in output_columns.items()],
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=table_format["serde"],
                                                               parameters=table_format["parameters"] or None),
                ),
            ),
        )
        """The results table (partition projection over ``run_date``; the files are KMS-encrypted by the output bucket)."""
        self.table.add_resource_dependency(self.database)
        self.table.apply_removal_policy(removal_policy)
        self._output_bucket, self._output_prefix = output_bucket, output_prefix

    # ------------------------------------------------------------------------------------------------
    # Resource model

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The model's execution role: what is granted to the construct, the transform jobs may do."""
        return self.role

    @property
    def connections(self) -> ec2.Connections:
        """The model's security group."""
        return self._connections

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Add ``statement`` to the model's managed policy (``policy``), as grants to the construct also do."""
        check_type("BatchInference", "statement", statement, iam.PolicyStatement)
        self.role.add_to_principal_policy(statement)

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start a run (``states:StartExecution`` on the machine, and its execution data key)."""
        check_interface("BatchInference", "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        grant = self.state_machine.grant_start_execution(grantee)
        self.key.grant(grantee, "kms:GenerateDataKey")
        return grant

    def grant_read_results(self, grantee: iam.IGrantable, catalog_key: kms.IKey | None = None) -> iam.Grant:
        """Let ``grantee`` read the results (the output prefix, and its key when the bucket names one) and the
        results table's metadata in Glue, as Athena needs for a query.

        :param catalog_key: the key the account's Glue Data Catalog is encrypted with (``ArtifactStore(encrypt_data_catalog=True)``
            encrypts it with the store's key): Athena needs ``kms:GenerateDataKey``, ``kms:Decrypt`` and ``kms:Encrypt`` on
            it. Default: none (an unencrypted catalog, or a key granted otherwise).
        """
        check_interface("BatchInference", "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        check_interface("BatchInference", "catalog_key", catalog_key, "key_arn", "must be a kms.IKey", optional=True)
        stack = Stack.of(self)
        grant = self._output_bucket.grant_read(grantee, f"{self._output_prefix}*")
        if catalog_key is not None:
            # Athena with an encrypted Data Catalog (https://docs.aws.amazon.com/athena/latest/ug/access-encrypted-data-glue-data-catalog.html).
            catalog_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt")
        iam.Grant.add_to_principal(grantee=grantee, actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"], resource_arns=[
            arn(stack, "glue", "catalog", "", sep=""),
            arn(stack, "glue", "database", self.database_name),
            arn(stack, "glue", "table", f"{self.database_name}/{self.table_name}"),
        ])
        return grant

    # ------------------------------------------------------------------------------------------------
    # Metrics

    def metric_failed_runs(self, **props: Any) -> cloudwatch.Metric:
        """``ExecutionsFailed`` of the state machine: runs that failed. Default statistic ``Sum``, period one hour;
        ``props`` are ``cloudwatch.MetricOptions`` fields."""
        return self.state_machine.metric_failed(**self._options(props))

    def metric_timed_out_runs(self, **props: Any) -> cloudwatch.Metric:
        """``ExecutionsTimedOut``: runs the execution's own timeout ended (a job past ``max_run_time`` fails the run
        instead, in ``ExecutionsFailed``). Default statistic ``Sum``, period one hour."""
        return self.state_machine.metric_timed_out(**self._options(props))

    def metric_succeeded_runs(self, **props: Any) -> cloudwatch.Metric:
        """``ExecutionsSucceeded``: runs that ended well, including those that stopped because another ran.
        Default statistic ``Sum``, period one hour."""
        return self.state_machine.metric_succeeded(**self._options(props))

    def metric_run_time(self, **props: Any) -> cloudwatch.Metric:
        """``ExecutionTime`` in milliseconds. Default statistic ``Maximum``, period one hour."""
        return self.state_machine.metric_time(**self._options(props, statistic="Maximum"))

    def _options(self, props: dict[str, Any], statistic: str = "Sum") -> dict[str, Any]:
        unknown = sorted(set(props) - _METRIC_OPTIONS)
        if unknown:
            raise PropsError("BatchInference", unknown[0], props[unknown[0]], f"is not a metric option; options are {', '.join(sorted(_METRIC_OPTIONS))}")
        return {"statistic": statistic, "period": durations.hours(1), **props}

    # ------------------------------------------------------------------------------------------------

    def _model_statements(self, stack: Stack, package_arn: str, input_bucket: s3.IBucket, input_prefix: str, output_bucket: s3.IBucket,
                          output_prefix: str, artifact_bucket: s3.IBucket, artifact_prefix: str, key_alias: str | None, key_arn: str,
                          subnet_ids: list[str], repository: ecr.IRepository | None) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The model role's statements, and the reason for each wildcard resource in them."""
        inputs = input_bucket.arn_for_objects(f"{input_prefix}*")
        outputs = output_bucket.arn_for_objects(f"{output_prefix}*")
        artifacts = artifact_bucket.arn_for_objects(f"{artifact_prefix}*")
        logs_arn = arn(stack, "logs", "log-group", "/aws/sagemaker/TransformJobs:*", sep=":")
        interfaces = network_interfaces_arn(stack)
        statements = [
            allow("DescribePackage", ["sagemaker:DescribeModelPackage"], [package_arn]),
            allow("ReadArtifacts", ["s3:GetObject"], [artifacts]),
            allow("ReadInput", ["s3:GetObject"], [inputs]),
            allow("ListInput", ["s3:ListBucket"], [input_bucket.bucket_arn], {"StringLike": {"s3:prefix": [f"{input_prefix}*"]}}),
            allow("WriteResults", ["s3:PutObject", "s3:AbortMultipartUpload"], [outputs]),
            allow("UseKey", ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"], [key_arn]),
            allow("EncryptVolumes", ["kms:CreateGrant"], [key_arn], {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            allow("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], [logs_arn]),
            # PutMetricData and the EC2 Describe calls have no resource-level permissions.
            allow("Metrics", ["cloudwatch:PutMetricData"], ["*"], {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
            *sagemaker_vpc_statements(stack, subnet_ids, self.security_group, "ModelNetworkInterfaces", interfaces_arn=interfaces),
        ]
        reasons = {
            artifacts: "The model's own artifact prefix: the package's model.tar.gz, whose key is per training run.",
            inputs: "The objects to score, whatever was uploaded under the input prefix.",
            outputs: "The results, written per run under the output prefix.",
            logs_arn: "SageMaker's own transform-job log group, with a stream per job.",
            interfaces: "Interfaces SageMaker creates for the jobs in their subnets and security group (named in the same statement).",
            "*": "Only actions without resource-level permissions: cloudwatch:PutMetricData (SageMaker's namespaces), EC2 Describe* "
                 "and ecr:GetAuthorizationToken.",
        }
        if repository is not None:
            # CreateModel's ExecutionRoleArn is the role SageMaker uses to access the model artifacts and docker image
            # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html): pulling a model's own image
            # needs the repository's pull actions, and a registry login, which has no resource-level permissions.
            statements += [
                allow("PullImage", list(PULL_ACTIONS), [repository.repository_arn]),
                allow("RegistryLogin", ["ecr:GetAuthorizationToken"], ["*"]),
            ]
        if key_alias is not None:
            # The artifacts' key is in the training account and its id is not known here.
            account = _PACKAGE_ARN.fullmatch(package_arn)
            artifacts_account = account.group(0).split(":")[4] if account else artifact_bucket.env.account
            artifacts_keys = arn(stack, "kms", "key", "*", account=artifacts_account)
            statements.append(allow(
                "DecryptArtifacts", ["kms:Decrypt"], [artifacts_keys],
                {"ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias},
                 "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            ))
            reasons[artifacts_keys] = ("The artifacts' key in their account, whose id is unknown here; limited by kms:ResourceAliases to one "
                                       "alias and by kms:ViaService to S3.")
        return statements, reasons

    def _triggers(self, stack: Stack, name: str, schedule: scheduler.ScheduleExpression | None, on_new_data: bool,
                  input_bucket: s3.IBucket, input_prefix: str, machine_key_arn: str) -> None:
        topic = self.notification_topic
        self.trigger_dead_letter_queue = dead_letter_queue(
            self, "TriggerDeadLetters", self.key, topic, alarm_id="TriggerDeadLetterAlarm", alarm_name=f"{name}-batch-not-started",
            alarm_description=f"A trigger could not start a batch transform run of {name}",
            reason="This queue is itself the dead-letter queue of the batch runs' schedule and rule (cdk-nag recognizes only SQS and "
                   "Lambda dead-letter queues); its alarm notifies the runs' topic.",
        )
        account = stack.account
        services = (("scheduler.amazonaws.com",) if schedule is not None else ()) + (("events.amazonaws.com",) if on_new_data else ())
        principals = [service_principal(service, account) for service in services]
        role = iam.Role(self, "TriggerRole", assumed_by=iam.CompositePrincipal(*principals) if len(principals) > 1 else principals[0],
                        description=f"Starts the batch transform runs of {name}")
        policy = iam.ManagedPolicy(self, "TriggerPolicy", description="Start the batch transform runs", roles=[role],
                                   document=policy_document(state_machines.schedule_role_statements(
                                       stack, self.state_machine.state_machine_arn, machine_key_arn, self.trigger_dead_letter_queue,
                                       machine_key_arn)))
        if schedule is not None:
            self.schedule = state_machines.start_on_schedule(
                self, "Schedule", machine=self.state_machine, machine_key_arn=machine_key_arn, expression=schedule,
                input={"trigger": "Schedule"}, dead_letter_queue=self.trigger_dead_letter_queue, dead_letter_key_arn=machine_key_arn,
                retry_attempts=_TRIGGER_RETRY_ATTEMPTS, max_event_age=_TRIGGER_MAX_EVENT_AGE, account=account,
                description=f"Batch transform of {name}", role_description=f"Starts the batch transform runs of {name}",
                policy_description="Start the batch transform runs", role=role, role_policy=policy,
            )
        if on_new_data:
            # S3 sends "Object Created" to EventBridge when the bucket has EventBridge notifications on
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html,
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html for the event's fields).
            self.new_data_rule = events.Rule(
                self, "NewDataRule", description=f"Starts a batch transform run of {name} when data arrives under {input_prefix}",
                event_pattern=events.EventPattern(
                    source=["aws.s3"], detail_type=["Object Created"],
                    detail={"bucket": {"name": [input_bucket.bucket_name]}, "object": {"key": [{"prefix": input_prefix}]}},
                ),
                targets=[targets.SfnStateMachine(
                    self.state_machine, role=role.without_policy_updates(),
                    input=events.RuleTargetInput.from_object({"trigger": "NewData", "key": events.EventField.from_path("$.detail.object.key")}),
                    dead_letter_queue=self.trigger_dead_letter_queue, retry_attempts=_TRIGGER_RETRY_ATTEMPTS, max_event_age=_TRIGGER_MAX_EVENT_AGE,
                )],
            )
            self.new_data_rule.node.add_dependency(policy)
            lost_events_alarm(self, "NewDataLostEventsAlarm", self.new_data_rule, topic,
                              f"New data under {input_prefix} could neither start a batch transform run of {name} nor be kept in "
                              "the dead-letter queue", alarm_name=f"{name}-batch-trigger-lost")

    @staticmethod
    def _definition(*, name: str, model_name: str, input_uri: str, output_bucket: str, output_prefix: str, key_arn: str, instance_type: str,
                    instance_count: int, max_payload_mb: int, max_concurrent_transforms: int | None, batch_strategy: str, split_type: str,
                    content_type: str, accept: str, join_source: str, input_filter: str, output_filter: str, topic_arn: str,
                    job_timeout: int, drift_machine_arn: str | None = None) -> str:
        """The state machine's definition (JSON text; CDK renders the tokens in it with Fn::Join): JSONPath, with one
        JSONata state for the guard, the run's date and names (the intrinsic functions compare and format no dates)."""
        start = "$toMillis($states.context.Execution.StartTime)"
        run = "$replace($substring($states.context.Execution.Name, 0, 8), /[^A-Za-z0-9]/, 'x')"
        # States.ALL matches every error a task reports but States.DataLimitExceeded and States.Runtime, so States.Timeout
        # too (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
        catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}]
        # The guard: go ahead unless another running execution started before this one (or at the same time with a
        # smaller ARN, so that two which list each other agree). ListExecutions "may not reflect very recent updates"
        # (its API reference), so this execution may be missing from the list: that means go ahead, comparing with its
        # start time from the context. When it is listed, its listed StartDate is compared, at the list's precision.
        # aws-sdk results render timestamps as ISO 8601 strings; $ms takes epoch milliseconds too.
        me = "$states.context.Execution.Id"
        others = "$filter([0..$count($arns) - 1], function($k) { $arns[$k] != " + me + " and ($ms($starts[$k]) < $mine or " \
                 "($ms($starts[$k]) = $mine and $arns[$k] < " + me + ")) })"
        go_ahead = ("{% ($arns := $states.input.running.arns; $starts := $states.input.running.starts; "
                    "$ms := function($d) { $type($d) = 'number' ? $d : $toMillis($d) }; "
                    "$own := $filter([0..$count($arns) - 1], function($k) { $arns[$k] = " + me + " }); "
                    "$mine := $exists($own) ? $ms($starts[$own[0]]) : $toMillis($states.context.Execution.StartTime); "
                    "$not($exists(" + others + "))) %}")
        transform: dict[str, Any] = {
            # A retry must not reuse the name (a create whose answer was lost would fail the retry as a duplicate).
            "TransformJobName.$": "States.Format('{}-{}', $.run.job, $$.State.RetryCount)",
            "ModelName": model_name,
            "BatchStrategy": batch_strategy,
            "MaxPayloadInMB": max_payload_mb,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                "ContentType": content_type,
                "SplitType": split_type,
                "CompressionType": "None",
            },
            "TransformOutput": {
                "S3OutputPath.$": "$.run.output",
                "Accept": accept,
                # Records split by line are written back one per line; otherwise as the container returns them.
                "AssembleWith": "Line" if split_type == "Line" else "None",
                "KmsKeyId": key_arn,
            },
            "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count, "VolumeKmsKeyId": key_arn},
            "DataProcessing": {"InputFilter": input_filter, "JoinSource": join_source, "OutputFilter": output_filter},
        }
        if max_concurrent_transforms is not None:
            transform["MaxConcurrentTransforms"] = max_concurrent_transforms
        states = {
            "ListRunning": {
                "Type": "Task",
                "Comment": "The machine's running executions, newest first (this one among them, unless the list lags)",
                "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions",
                "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 1000},
                "ResultSelector": {"arns.$": "$.Executions[*].ExecutionArn", "starts.$": "$.Executions[*].StartDate"},
                "ResultPath": "$.running",
                # A bulk upload with on_new_data starts one execution per object, all listing at once: throttling gets a
                # longer backoff than the other errors, capped at a minute (MaxDelaySeconds) and spread out by full jitter
                # (a random delay up to the computed one, JitterStrategy FULL), at most 2+4+...+32+60+60+60 s = 4 minutes.
                "Retry": [{"ErrorEquals": ["Sfn.ThrottlingException"], "IntervalSeconds": 2, "MaxAttempts": 8, "BackoffRate": 2,
                           "MaxDelaySeconds": 60, "JitterStrategy": "FULL"},
                          {"ErrorEquals": ["Sfn.SfnException", "Sfn.SdkClientException"], "IntervalSeconds": 2, "MaxAttempts": 3,
                           "BackoffRate": 2}],
                # The listing is the task's whole result, before ResultSelector trims it: ~350 bytes an execution, so past
                # ~750 running executions (a bulk upload with on_new_data) it exceeds the 256 KiB a state's result may be, a
                # States.DataLimitExceeded error, which States.ALL does not catch
                # (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). Named here, to fail
                # with a cause an operator can read: the oldest run may be among those that cannot list, so no run can be
                # sure another one scores. Not through NotifyFailure (a message per execution, hundreds at once): the
                # failed-runs alarm reports it once, and the next run scores the input.
                "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": TOO_MANY_RUNNING}, *catch],
                "Next": "Prepare",
            },
            "Prepare": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Comment": "Whether no older run is running, and this run's date, job name and output location",
                "Output": {
                    "trigger": "{% $exists($states.input.trigger) ? $states.input.trigger : 'Manual' %}",
                    "run": {
                        "go": go_ahead,
                        "date": "{% $fromMillis(" + start + ", '[Y0001]-[M01]-[D01]') %}",
                        "job": "{% '" + _job_name_prefix(name) + "' & $fromMillis(" + start + ", '[Y0001][M01][D01][H01][m01][s01]') & '-' & "
                               + run + " %}",
                        "output": "{% 's3://" + output_bucket + "/" + output_prefix + RUN_DATE + "=' & $fromMillis(" + start
                                  + ", '[Y0001]-[M01]-[D01]') & '/' & $states.context.Execution.Name & '/' %}",
                    },
                },
                "Next": "OneAtATime",
            },
            "OneAtATime": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.run.go", "BooleanEquals": True, "Next": "Transform"}],
                "Default": ANOTHER_RUN,
            },
            ANOTHER_RUN: {"Type": "Succeed", "Comment": "An older run is still scoring; this one does nothing"},
            "Transform": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                "Parameters": transform,
                # max_run_time: a transform job has no stopping condition of its own; past this the task fails with
                # States.Timeout, which the Catch sends to the failure notification.
                "TimeoutSeconds": job_timeout,
                "ResultSelector": {"name.$": "$.TransformJobName", "status.$": "$.TransformJobStatus", "model.$": "$.ModelName"},
                "ResultPath": "$.transform",
                "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException", "SageMaker.ResourceLimitExceededException"],
                           "IntervalSeconds": 60, "MaxAttempts": 2, "BackoffRate": 2}],
                "Catch": catch,
                "Next": "CheckDrift" if drift_machine_arn is not None else "Scored",
            },
            "Scored": {"Type": "Succeed"},
            TOO_MANY_RUNNING: {"Type": "Fail", "Error": TOO_MANY_RUNNING,
                               "Cause": "More executions are running than one ListExecutions result can hold (256 KiB, ~750): "
                                        "this run cannot tell whether an older one scores, and scores nothing. The next run "
                                        "scores the input prefix."},
            **state_machines.notify_then_fail(topic_arn, f"Batch transform failed: {name}", {
                "batch": name, "execution.$": "$$.Execution.Id", "input.$": "$$.Execution.Input", "failure.$": "$.failure"},
                "BatchTransformFailed"),
        }
        if drift_machine_arn is not None:
            # Fire and forget (the optimized integration without .sync: https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html):
            # the check has its own failure alarm and notification, and the scored run is not held by it. The parent's id
            # in the input links the two in the console (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-nested-workflows.html).
            states["CheckDrift"] = {
                "Type": "Task",
                "Comment": "Start the drift check of the input this run scored",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": drift_machine_arn, "Input": {
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id", "batch": name, "job.$": "$.transform.name", "input": input_uri}},
                "ResultSelector": {"execution.$": "$.ExecutionArn"},
                "ResultPath": "$.drift",
                "Retry": [{"ErrorEquals": ["Sfn.SfnException", "Sfn.SdkClientException", "States.TaskFailed"], "IntervalSeconds": 5,
                           "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": catch,
                "Next": "Scored",
            }
        # The execution's own timeout, a backstop beyond the job's: what it ends is TIMED_OUT, uncaught (the timeout alarm).
        return json.dumps({"Comment": f"Batch transform of {name}", "StartAt": "ListRunning", "TimeoutSeconds": job_timeout + _RUN_MARGIN,
                           "States": states})

    @staticmethod
    def _check_drift_monitor(monitor: Any, input_bucket: s3.IBucket, input_prefix: str, input_filter: str) -> None:
        name = "BatchInference"
        if monitor is None:
            return
        check_type(name, "drift_monitor", monitor, DriftMonitor)
        if monitor.source != "batch-input":
            raise PropsError(name, "drift_monitor", monitor.node.path, f"must be a DriftMonitor with source 'batch-input', not {monitor.source!r}")
        if monitor.capture_bucket is not input_bucket and monitor.capture_bucket.bucket_arn != input_bucket.bucket_arn:
            raise PropsError(name, "drift_monitor", monitor.node.path, "must check this batch's input: its capture_bucket is not input_bucket")
        if not is_token(input_prefix) and not is_token(monitor.capture_prefix) and monitor.capture_prefix != input_prefix:
            raise PropsError(name, "drift_monitor", monitor.node.path,
                             f"must check this batch's input: its capture_prefix is {monitor.capture_prefix}, the input_prefix {input_prefix}")
        if is_token(input_filter):
            return
        match = _DROP_FILTER.fullmatch(input_filter)
        columns = 0 if input_filter == "$" else int(match.group(1)) if match else None
        if columns is None:
            raise PropsError(name, "input_filter", input_filter, "must be '$' or '$[k:]' with a drift_monitor: the drift check reads the "
                             "input rows as the model sees them, less their first k columns")
        if columns != monitor.drop_columns:
            raise PropsError(name, "drift_monitor", monitor.node.path,
                             f"must drop {columns} leading columns (drop_columns={columns}) to match input_filter {input_filter}, not {monitor.drop_columns}")

    @staticmethod
    def _validate(**props: Any) -> None:
        name = "BatchInference"
        p = props
        if not isinstance(p["name"], str) or not _NAME.fullmatch(p["name"]):
            raise PropsError(name, "name", p["name"], "must be 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or "
                             "digit (SageMaker writes job names in lowercase in their ARNs, which the job permission names)")
        check_pattern(name, "model_package_arn", p["model_package_arn"], _PACKAGE_ARN,
                      "must be a versioned model package ARN, arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>")
        check_interface(name, "vpc", p["vpc"], "vpc_id", "must be an ec2.IVpc")
        check_interface(name, "encryption_key", p["encryption_key"], "key_arn", "must be a kms.IKey")
        for bucket in ("input_bucket", "output_bucket", "artifact_bucket"):
            check_interface(name, bucket, p[bucket], "bucket_arn", "must be an s3.IBucket")
        for prefix in ("input_prefix", "output_prefix"):
            check_pattern(name, prefix, p[prefix], _PREFIX, "must be an S3 key prefix without a leading slash, ending with '/'")
        if p["artifact_prefix"] != "":
            check_pattern(name, "artifact_prefix", p["artifact_prefix"], _PREFIX, "must be an S3 key prefix ending with '/', or '' for the whole bucket")
        check_pattern(name, "artifact_key_alias", p["artifact_key_alias"], _ALIAS, "must be a KMS alias name, alias/<name>", optional=True)
        if p["input_bucket"] is p["output_bucket"] and not is_token(p["input_prefix"]) and not is_token(p["output_prefix"]) and (
                p["output_prefix"].startswith(p["input_prefix"]) or p["input_prefix"].startswith(p["output_prefix"])):
            raise PropsError(name, "output_prefix", p["output_prefix"],
                             f"must not overlap input_prefix {p['input_prefix']} in the same bucket: a run would score its own results")
        instance_type = p["instance_type"]
        if not is_token(instance_type):
            check_instance_type(name, "instance_type", instance_type, "TransformInstanceType", "batch transform")
        check_range(name, "instance_count", p["instance_count"], 1, 100)
        # CreateTransformJob: MaxPayloadInMB 0-100 (0 streams), and MaxPayloadInMB * MaxConcurrentTransforms <= 100.
        check_range(name, "max_payload_mb", p["max_payload_mb"], 0, 100, unit="MB")
        if p["max_concurrent_transforms"] is not None:
            check_range(name, "max_concurrent_transforms", p["max_concurrent_transforms"], 1, 1000)
            if not is_token(p["max_concurrent_transforms"]) and not is_token(p["max_payload_mb"]) \
                    and p["max_payload_mb"] * p["max_concurrent_transforms"] > 100:
                raise PropsError(name, "max_concurrent_transforms", p["max_concurrent_transforms"],
                                 f"times max_payload_mb ({p['max_payload_mb']}) must be at most 100 MB (SageMaker's limit)")
        check_choice(name, "batch_strategy", p["batch_strategy"], BATCH_STRATEGIES)
        check_choice(name, "split_type", p["split_type"], SPLIT_TYPES)
        check_choice(name, "join_source", p["join_source"], JOIN_SOURCES)
        check_pattern(name, "content_type", p["content_type"], _CONTENT_TYPE, "must be a MIME type like text/csv")
        check_choice(name, "accept", p["accept"], TABLE_FORMATS)
        if not is_token(p["content_type"]) and (problem := joined_output_problem(p["join_source"], p["content_type"], p["accept"])):
            raise PropsError(name, *problem)
        for filter_ in ("input_filter", "output_filter"):
            check_pattern(name, filter_, p[filter_], _FILTER, "must be a JSONPath expression of at most 63 characters starting with '$', e.g. '$[1:]'")
        columns = p["output_columns"]
        if not isinstance(columns, Mapping) or not columns:
            raise PropsError(name, "output_columns", columns, "must map at least one column name to its Athena type")
        for column, type_ in columns.items():
            if not isinstance(column, str) or not _GLUE_NAME.fullmatch(column) or column == RUN_DATE:
                raise PropsError(name, "output_columns", column, f"each column name must be lowercase letters, digits and underscores, not {RUN_DATE}")
            if not isinstance(type_, str) or not _COLUMN_TYPE.fullmatch(type_):
                raise PropsError(name, f"output_columns.{column}", type_,
                                 "must be an Athena type: string, double, float, bigint, int, smallint, tinyint, boolean, date, timestamp or decimal(p,s)")
        check_type(name, "schedule", p["schedule"], scheduler.ScheduleExpression, optional=True)
        check_type(name, "on_new_data", p["on_new_data"], bool)
        check_interface(name, "notification_topic", p["notification_topic"], "topic_arn", "must be an sns.ITopic", optional=True)
        check_type(name, "max_run_time", p["max_run_time"], Duration)
        if is_token(p["max_run_time"].to_seconds()):
            raise PropsError(name, "max_run_time", p["max_run_time"].to_string(), "must be known at synthesis: the definition carries it as TimeoutSeconds")
        if not 60 <= p["max_run_time"].to_seconds() <= _LONGEST_EXECUTION - _RUN_MARGIN:
            raise PropsError(name, "max_run_time", p["max_run_time"].to_human_string(),
                             "must be from 1 minute to 1 year less 15 minutes (a standard workflow's longest run, less the run's own steps)")
        check_interface(name, "image_repository", p["image_repository"], "repository_arn", "must be an ecr.IRepository", optional=True)
        check_type(name, "vpc_subnets", p["vpc_subnets"], ec2.SubnetSelection, optional=True)
        check_type(name, "log_retention", p["log_retention"], logs.RetentionDays)
        check_type(name, "removal_policy", p["removal_policy"], RemovalPolicy)
