"""TrainingPipeline: a Step Functions state machine that preprocesses, trains, evaluates, gates and
registers one model with SageMaker, inside the isolated VPC."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs import _state_machines as state_machines
from mlops_constructs._arns import arn as format_arn
from mlops_constructs._dockerfiles import ECR_IMAGE
from mlops_constructs._guardrails import inside_guardrails
from mlops_constructs._instance_types import check_instance_type
from mlops_constructs._iam import Statement, allow, network_interfaces_arn, policy_document, sagemaker_vpc_statements, service_principal
from mlops_constructs._keys import Key, allow_cloudwatch_logs, allow_dead_letters_and_alarms, dead_letter_queue, deny_grants_except_for_aws_resources, lost_events_alarm
from mlops_constructs._managed_policy_role import ManagedPolicyRole
from mlops_constructs._validate import check_choice, check_interface, check_pattern, check_range, check_type, is_token
from mlops_constructs._vpc import Subnets, select_subnets
from mlops_constructs.compliance import (
    IAM5, acknowledge_each, acknowledge_log_retention, in_packs, nag_resources,
)
from mlops_constructs.container_image import PULL_ACTIONS, ContainerImage
from mlops_constructs.errors import PropsError
from mlops_constructs.training.gate import (
    DIRECTION_OPS, GATE_OPS, GATE_PATH, MAX_GATE_CONDITIONS, PATH_RULE, PROBLEM_TYPES, GateCondition, ProblemType,
    bundled_paths, is_number, legacy_path,
)
from mlops_constructs.training.tuning import MAX_TUNING_RUNTIME_SECONDS, TUNING_JOB_KEY, Tuning
from mlops_constructs.training.tuning import path as tuning_path
from mlops_constructs.training.tuning import problems as tuning_problems

RETRAIN_EVENT_SOURCE = "mlops.platform"
"""``source`` of the event that asks for a model to be retrained (sent on drift)."""
RETRAIN_EVENT_DETAIL_TYPE = "Model Retrain Requested"
"""``detail-type`` of that event; its ``detail.model`` names the model."""
TRIGGER_RETRY_ATTEMPTS = 8
"""How often EventBridge (the trigger rule) and EventBridge Scheduler (the schedule) retry starting a run."""
TRIGGER_MAX_EVENT_AGE_HOURS = 24
"""How long they keep retrying; then the event goes to the trigger dead-letter queue."""

_SCRIPTS = Path(__file__).resolve().parent / "scripts"
_MODEL_NAME = re.compile(r"[a-z][a-z0-9-]{1,22}[a-z0-9]")
_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()-]+/)+")
# CustomerMetadataProperties values: 1-256 characters of letters, spaces, digits and _.:/=+-@
# (docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html).
_METADATA_VALUE = re.compile(r"[\w\s.:/=+@-]{1,256}")
_METADATA_VALUE_MAX = 256
_STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]{1,80}")
# Errors of the create call worth retrying: throttling and account capacity limits. The optimized
# integration reports most SageMaker API errors, throttling included, as AmazonSageMakerException, so
# a rejected request is retried too; three attempts bound that. A job that started and then failed is
# not retried: its failure is reported.
_RETRYABLE = ["SageMaker.AmazonSageMakerException", "SageMaker.ResourceLimitExceededException", "SageMaker.ThrottlingException"]
DRIFT_BASELINE_KEY = "DriftBaselineS3Uri"
"""Key of the model package's ``CustomerMetadataProperties`` whose value is the S3 prefix of the version's
drift baseline (``<prefix>/baseline.csv`` and ``<prefix>/baseline.json``), without a trailing slash."""
_CODE_DIR = "/opt/ml/processing/code"
# Environment values of a processing job: at most 256 characters (the CreateProcessingJob API).
_ENVIRONMENT_VALUE_MAX = 256
_SPLIT_TOLERANCE = 1e-6
# Script mode: the framework containers' contract, as the SageMaker Python SDK uses it. A training job's
# hyperparameters sagemaker_program and sagemaker_submit_directory name the entry point and its archive;
# the SDK JSON-encodes every hyperparameter, and the training toolkit decodes them
# (https://github.com/aws/sagemaker-python-sdk/blob/master/src/sagemaker/estimator.py, _prepare_for_training
# and Framework.hyperparameters; https://github.com/aws/sagemaker-training-toolkit/blob/master/src/sagemaker_training/files.py,
# download_and_extract, which unpacks a local .tar.gz as well as an S3 one). With network isolation the
# container cannot reach S3 itself, so the SDK ships the archive as the "code" channel and points
# sagemaker_submit_directory at /opt/ml/input/data/code/sourcedir.tar.gz; the same is done here always.
_CODE_CHANNEL = "code"
_TRAINING_CODE_DIR = f"/opt/ml/input/data/{_CODE_CHANNEL}"
_SCRIPT_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region", "sagemaker_container_log_level")
# ContainerArguments: at most 256, each at most 256 characters (CreateProcessingJob, AppSpecification).
_ARGUMENTS_MAX, _ARGUMENT_MAX = 256, 256
# Environment of both job kinds: at most 100 entries; names [a-zA-Z_][a-zA-Z0-9_]*; a processing job's
# names and values at most 256 characters (a training job's 512: the lower limit holds for every step).
_ENVIRONMENT_MAX = 100
_MAX_TRAINING_SECONDS = 28 * 24 * 3600
"""SageMaker's limit on a training job's run time (28 days)."""
_MAX_PROCESSING_SECONDS = 777_600
"""SageMaker's limit on a processing job's run time (9 days)."""
_ENVIRONMENT_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,255}")
_ENTRY_POINT = re.compile(r"(?!/)(?!.*(^|/)\.\.(/|$))[\w./-]{1,200}\.py")


@dataclass(frozen=True, kw_only=True)
class ScriptStep:
    """One step run in script mode: a Python script of the ``source_code`` archive, in a SageMaker
    framework image (scikit-learn, XGBoost...).

    Preprocess and evaluate steps are processing jobs: the archive is unpacked in
    ``/opt/ml/processing/code`` and ``python3 <entry_point> <arguments>`` runs there. The train step is
    a training job run by the framework container's script mode: ``entry_point`` gets the training
    channels (``SM_CHANNEL_TRAIN``...), ``SM_MODEL_DIR`` and the hyperparameters as ``--name value``.
    """

    entry_point: str
    """The script, relative to the archive's root (``train.py``, ``jobs/train.py``)."""
    image: str | ContainerImage | ecr_assets.DockerImageAsset
    """The image the step runs in: a framework image's URI (``builtin_image_uri("sklearn", "1.2-1", region)``),
    or your own (``ContainerImage.from_asset`` built from a Dockerfile, ``ContainerImage.from_ecr_repository``,
    or an ``ecr_assets.DockerImageAsset``), which the job role is then allowed to pull. For the train step, an
    image with SageMaker's training toolkit (a framework image, or one built on it)."""
    arguments: Sequence[str] = ()
    """Command-line arguments of a processing step's script; at most 256 of at most 256 characters.
    Not for the train step, whose arguments are the hyperparameters. Default: none."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Environment variables of the job; at most 100, names and values at most 256 characters. Default: none."""
    instance_type: str | None = None
    """Default: the pipeline's ``processing_instance_type`` or ``training_instance_type``."""
    instance_count: int | None = None
    """Default: 1 for a processing step, the pipeline's ``training_instance_count`` for the train step."""
    network_isolation: bool = True
    """Isolate the container from the network. A script that calls AWS itself (reads S3 through the
    SDK) needs it off; the job still runs in the pipeline's subnets and security group, reaching only
    the VPC endpoints. Default: isolated."""

    @property
    def image_uri(self) -> str:
        """The image's URI (a token for an image asset or a repository's image)."""
        return self.image.image_uri if isinstance(self.image, ContainerImage | ecr_assets.DockerImageAsset) else self.image


@dataclass(frozen=True, kw_only=True)
class Preprocessing:
    """How the bundled preprocessing script (``preprocess.py``) reads the data and splits it.

    Whatever the settings, the script writes what SageMaker's built-in algorithms read: the label in the
    first column, no header, every value numeric. The defaults are the script's own, and only settings
    that differ from them become the job's environment.
    """

    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Fractions of the rows for train, validation and test: each above 0, summing to 1 (within 1e-6). Default: 80/10/10."""
    header: bool = False
    """Every input file starts with the same header row, which names the columns. Default: no header row."""
    label: int | str = 0
    """The label column: a 0-based index, negative counting from the end (``-1`` is the last column), or
    its name in the header (needs ``header``). Default: the first column."""
    seed: int = 42
    """Seeds the shuffle before the split and the drift baseline's sample; 0 to 4294967295. Default: 42."""
    categorical: Literal["one_hot", "refuse"] = "one_hot"
    """A feature column with a non-numeric value: ``one_hot`` encodes it, one 0/1 column per category
    of the training split (sorted; a value not among them is all zeros); ``refuse`` fails the job,
    naming the column. Default: ``one_hot``."""

    def environment(self) -> dict[str, str]:
        """The script's environment variables for the settings that differ from its defaults."""
        default = Preprocessing()
        environment: dict[str, str] = {}
        if tuple(self.split) != default.split:
            environment["SPLIT_FRACTIONS"] = ",".join(repr(float(f)) for f in self.split)
        if self.header:
            environment["HAS_HEADER"] = "true"
        if isinstance(self.label, str):
            environment["LABEL_NAME"] = self.label
        elif self.label != default.label:
            environment["LABEL_INDEX"] = str(self.label)
        if self.seed != default.seed:
            environment["SPLIT_SEED"] = str(self.seed)
        if self.categorical != default.categorical:
            environment["CATEGORICAL"] = self.categorical
        return environment


@dataclass(frozen=True)
class _JobSettings:
    """What every processing job of the pipeline shares, unless a script step sets its own instance type."""

    key: kms.IKey
    network: dict[str, Any]
    instance_type: str
    volume_size_gb: int
    max_runtime: Duration


class TrainingPipelineBase(Construct):
    """A training pipeline as another construct uses it: start runs (:meth:`grant_start_execution`) and
    watch them (``metric_*``). A :class:`TrainingPipeline` is one; one made by another app is imported
    with :meth:`TrainingPipeline.from_state_machine_arn` or :meth:`TrainingPipeline.from_training_pipeline_attributes`."""

    state_machine: sfn.IStateMachine
    """The state machine that runs the pipeline."""
    key: kms.IKey | None
    """The key the state machine encrypts its execution data with, or ``None`` for an import that was not given it."""

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs: ``states:StartExecution`` on the state machine and, with the pipeline's
        ``key``, ``kms:GenerateDataKey`` on it for this machine's executions only (Step Functions encrypts the
        run's input with it, under the encryption context ``aws:states:stateMachineArn``)."""
        check_interface(type(self).__name__, "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        machine_arn = self.state_machine.state_machine_arn
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["states:StartExecution"], resource_arns=[machine_arn])
        if self.key is not None:
            grant = grant.combine(iam.Grant.add_to_principal(
                grantee=grantee, actions=["kms:GenerateDataKey"], resource_arns=[self.key.key_arn],
                conditions={"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine_arn}},
            ))
        return grant

    def metric_started(self, **props: Any) -> cloudwatch.Metric:
        """Runs started (``AWS/States`` ``ExecutionsStarted``). Default: Sum over 5 minutes; ``period``,
        ``statistic`` and the other ``cloudwatch.MetricOptions`` override it."""
        return self.state_machine.metric_started(**props)

    def metric_succeeded(self, **props: Any) -> cloudwatch.Metric:
        """Runs that succeeded (``ExecutionsSucceeded``): registered, or missed the gate, which is not a
        failure. Default: Sum over 5 minutes; ``cloudwatch.MetricOptions`` override it."""
        return self.state_machine.metric_succeeded(**props)

    def metric_failed(self, **props: Any) -> cloudwatch.Metric:
        """Runs that failed (``ExecutionsFailed``): a job, the report or the registration failed. Default:
        Sum over 5 minutes; ``cloudwatch.MetricOptions`` override it."""
        return self.state_machine.metric_failed(**props)

    def metric_time(self, **props: Any) -> cloudwatch.Metric:
        """How long runs take, from start to end, in milliseconds (``ExecutionTime``). Default: Average
        over 5 minutes; ``cloudwatch.MetricOptions`` override it."""
        return self.state_machine.metric_time(**props)


class _ImportedTrainingPipeline(TrainingPipelineBase):
    """A training pipeline made by another app, known by its state machine's ARN."""

    def __init__(self, scope: Construct, id: str, *, state_machine_arn: str, key: kms.IKey | None) -> None:
        super().__init__(scope, id)
        check_pattern("TrainingPipeline", "state_machine_arn", state_machine_arn, _STATE_MACHINE_ARN,
                      "must be a state machine ARN, arn:<partition>:states:<region>:<account>:stateMachine:<name>")
        check_interface("TrainingPipeline", "key", key, "key_arn", "must be a kms.IKey", optional=True)
        self.state_machine = sfn.StateMachine.from_state_machine_arn(self, "StateMachine", state_machine_arn)
        self.key = key


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class TrainingPipeline(TrainingPipelineBase):
    """Train one model end to end, every step a SageMaker job in the isolated VPC.

    The state machine runs::

        Prepare -> Preprocess -> Train -> Evaluate -> ReadEvaluation -> MetricGate
            -> Register -> NotifyRegistered                       (every condition met)
            -> NotifyGateMissed                                   (a condition missed: nothing registered)
            -> ReportUnusable<n> -> NotifyFailure                 (condition n's value missing or not a number)
        any failure -> NotifyFailure -> Failed

    - **Preprocess**: a processing job splitting ``data_bucket/data_prefix`` into train, validation and
      test sets (the bundled ``preprocess.py`` in ``processing_image``, as ``preprocessing`` says: label
      first, no header, non-numeric features one-hot encoded; or ``preprocess_image``'s entrypoint),
      and writing the model's drift baseline to ``<artifact prefix><run>/baseline``: the bundled script
      writes ``baseline.csv`` (a sample of the training split as the endpoint receives it: encoded, label
      excluded, with a header naming the features) and ``baseline.json`` (the features' names and types). A ``preprocess_image`` gets the
      same ``baseline`` output, at ``/opt/ml/processing/output/baseline``: it should write a
      ``baseline.csv`` there in that format for drift monitoring, since SageMaker uploads only what the
      container writes.
    - **Train**: a training job run to completion (``.sync``) with ``training_image``; network
      isolation and inter-container traffic encryption on; optional managed spot training with
      checkpoints.
    - **Evaluate**: a processing job writing ``evaluation.json`` next to the model (the bundled
      ``evaluate.py`` in ``training_image``, which writes SageMaker's model-quality statistics for
      ``problem_type``, or ``evaluate_image``'s entrypoint); its environment has ``PROBLEM_TYPE``.
    - **MetricGate**: every one of ``gate_conditions`` on the report; a value that is missing or not a
      number fails the run with the condition's path in the cause.
    - **Register**: a model package in ``model_package_group_name``, ``PendingManualApproval``, with the
      report as its model-quality statistics and its run's baseline prefix as the
      ``CustomerMetadataProperties`` entry ``DriftBaselineS3Uri`` (``DRIFT_BASELINE_KEY``).

    Every job runs in the isolated subnets with the pipeline's own security group (HTTPS out, and
    traffic among the job's own instances), with volumes and outputs encrypted with
    ``encryption_key``, under a job role that may read the data prefix and read and write the
    model's artifact prefix. Job names are ``<model>-<p|t|e>-<md5 of the execution id>-<attempt>``,
    unique per execution and per retry. SageMaker API throttling and capacity errors are retried with
    exponential backoff; every failure path ends in the failure notification and a ``Fail`` state.
    Execution history goes to a KMS-encrypted log group (level ALL), with X-Ray tracing and an
    execution timeout.

    It is ``iam.IGrantable`` (the job role: ``bucket.grant_read(pipeline)`` lets the user's scripts read it)
    and ``ec2.IConnectable`` (the jobs' security group); ``grant_start_execution`` and ``metric_*`` are
    :class:`TrainingPipelineBase`'s, which an imported pipeline (``from_state_machine_arn``) has too.

    Example::

        pipeline = TrainingPipeline(self, "Churn",
            model_name="churn",
            vpc=network.vpc,
            data_bucket=store.data_bucket, data_prefix="churn/",
            artifact_bucket=store.artifact_bucket,
            encryption_key=store.encryption_key,
            training_image="141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            processing_image="141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            model_package_group_name="acme-churn",
            hyperparameters={"objective": "binary:logistic", "num_round": "200"},
        )

    :param model_name: lowercase slug of 3-24 characters; prefixes job names.
    :param vpc: the VPC the jobs run in; it needs the S3 gateway endpoint and :attr:`VPC_ENDPOINTS` (CloudWatch
        Logs and Monitoring, KMS, ECR API and Docker; ``IsolatedNetwork`` has them).
    :param data_bucket: where the raw data lives.
    :param data_prefix: the model's prefix in ``data_bucket``, ending with ``/``.
    :param artifact_bucket: where splits, model, checkpoints and reports go, under ``artifact_prefix``.
    :param encryption_key: encrypts job volumes and outputs; the key of both buckets.
    :param training_image: the training (and, by default, evaluation and serving) image: an ECR image URI,
        a ``ContainerImage`` or an ``ecr_assets.DockerImageAsset``. The job role may pull an image of a
        repository (``ContainerImage.from_ecr_repository``, ``from_asset``, an image asset) and one given by URI
        in the stack's own account; SageMaker's own images need no grant.
    :param processing_image: the image that runs the bundled preprocessing script (it needs Python 3); as
        ``training_image``.
    :param model_package_group_name: the group models are registered in.
    :param vpc_subnets: where the jobs run. Default: the VPC's isolated subnets.
    :param artifact_prefix: the model's prefix in ``artifact_bucket``; letters, digits and ``_ . -`` between
        slashes, since the baseline's location is recorded in the model package (metadata values allow no
        other punctuation, and at most 256 characters). Default: ``<model_name>/``.
    :param hyperparameters: passed to the training job as strings. Default: none.
    :param training_instance_type: Default: ``ml.m5.xlarge``.
    :param training_instance_count: Default: 1.
    :param training_volume_size_gb: Default: 50.
    :param max_training_runtime: Default: 24 hours.
    :param spot_max_wait: turns on managed spot training, with checkpoints under the artifact prefix;
        at least ``max_training_runtime``. Default: on-demand instances.
    :param content_type: of the channels, the test split and inference requests. Default: ``text/csv``.
    :param tuning: train with a hyperparameter tuning job (``Tuning``: objective, ranges, strategy, limits)
        instead of one training job; the best training job's model is evaluated and registered, and the
        package records the tuning job's ARN (``CustomerMetadataProperties`` entry ``TuningJob``). Not
        with ``spot_max_wait``. Default: one training job with ``hyperparameters``.
    :param preprocessing: settings of the bundled script: split fractions, header row, label column,
        seed, and what to do with non-numeric features; only with the bundled script. Default:
        ``Preprocessing()``: 80/10/10, no header, the label first, seed 42, non-numeric features one-hot encoded.
    :param preprocess_image: an image (as ``training_image``) whose own entrypoint does the split. Default: the bundled script.
    :param evaluate_image: an image (as ``training_image``) whose own entrypoint writes the report. Default: the bundled script.
    :param source_code: the user's scripts as one ``.tar.gz`` asset (``source_archive(scope, id, directory)``),
        which the ``*_script`` steps run from. Default: none.
    :param preprocess_script: run Preprocess in script mode: ``ScriptStep.entry_point`` of ``source_code`` in
        its framework image. It reads ``/opt/ml/processing/input`` and must write the train, validation and
        test splits (label first, no header, as the training script expects them) to
        ``/opt/ml/processing/output/<split>``, and may write a drift baseline to ``.../baseline``. Not with
        ``preprocess_image`` or ``preprocessing``. Default: the bundled script.
    :param train_script: run Train in script mode (``sagemaker_program``/``sagemaker_submit_directory``, the
        archive shipped as the ``code`` channel), in ``ScriptStep.image``, which then also replaces
        ``training_image`` for registration; needs ``evaluate_script`` or ``evaluate_image`` (the bundled
        evaluation loads XGBoost models). Spot training and checkpoints apply as to any training job.
        Default: ``training_image``'s own entrypoint.
    :param evaluate_script: run Evaluate in script mode: it reads the model archive in
        ``/opt/ml/processing/model`` and the test split in ``/opt/ml/processing/test`` and must write
        ``/opt/ml/processing/evaluation/evaluation.json``; the gate's paths are then not checked against the
        bundled report. Not with ``evaluate_image``. Default: the bundled script.
    :param processing_instance_type: Default: ``ml.m5.xlarge``.
    :param processing_volume_size_gb: Default: 30.
    :param max_processing_runtime: per processing job. Default: 2 hours.
    :param problem_type: what the bundled evaluation script scores, and so the report's section:
        ``binary_classification`` (``binary_classification_metrics``), ``multiclass_classification``
        (``multiclass_classification_metrics``) or ``regression`` (``regression_metrics``); see
        ``gate.BUNDLED_REPORT``. Also passed to an ``evaluate_image`` as ``PROBLEM_TYPE``.
        Default: ``binary_classification``.
    :param gate_conditions: 1 to 10 ``GateCondition`` s, all of which the report must meet for the model
        to be registered. With the bundled evaluation script, each path must be one it writes for
        ``problem_type`` (``gate.bundled_paths``). Not together with the ``metric_*`` props.
        Default: the single condition the ``metric_*`` props describe.
    :param metric_name: the legacy one-metric gate: ``<section>.<metric_name>.value`` of the bundled
        report (``metrics.<metric_name>.value`` with an ``evaluate_image``, the report format before the
        model-quality one). Default: ``auc``.
    :param metric_threshold: of the legacy gate. Default: 0.8.
    :param metric_direction: of the legacy gate: ``maximize`` (at least the threshold) or ``minimize``
        (at most). Default: ``maximize``.
    :param notification_topic: receives registered, gate-missed and failure messages; the state machine may publish
        to it, and use its key (``master_key``) when it has one (an imported topic's key is the caller's to grant).
        Default: a KMS-encrypted topic is created.
    :param schedule: start runs on this schedule, an EventBridge Scheduler schedule (not a rule on the event
        bus) that starts the machine with ``{"trigger": "Schedule"}``: a ``ScheduleExpression`` (its time zone,
        UTC by default), or an ``aws_events.Schedule`` cron or rate expression, which keeps its meaning (UTC).
        Default: no schedule.
    :param trigger_on_new_data: start a run when an object is created under the data prefix; the data
        bucket must send its events to EventBridge. Default: false.
    :param trigger_on_retrain_event: start a run on the platform's retrain event for this model.
        Default: true.
    :param retrain_alarm_names: start a run when one of these CloudWatch alarms goes into ALARM, in this
        account or forwarded from another (a ``CanaryEndpoint`` drift alarm). Default: none. The event
        triggers share one EventBridge rule, its pattern the ``$or`` of theirs, which starts the machine with
        ``{"trigger": <the event's detail-type>, "source": <its source>}``. With any trigger, what EventBridge
        or Scheduler cannot turn into a run (after 8 retries within 24 hours) goes to a KMS-encrypted
        dead-letter queue whose alarm notifies the topic. ``add_retrain_alarm`` takes a ``cloudwatch.IAlarm`` instead.
    :param before_step: states to run before a step, by step: ``preprocess``, ``train`` (``tune`` with
        ``tuning``), ``evaluate`` or ``register`` (after the gate passed). Each is a state or chain that the
        pipeline continues from (not ending in ``Succeed`` or ``Fail``; no ``Parallel`` or ``Map``); it gets
        the run's state (``$.run``, ``$.preprocess``...) and must hand it on (set ``result_path``). A task
        that catches nothing itself goes to the failure notification on any error, like the pipeline's own
        steps, and what CDK grants a task goes into ``extension_policy``. Default: none.
    :param after_step: states to run after a step, as ``before_step``: after ``evaluate`` comes the report's
        reading, after ``register`` the registered notification. Default: none.
    :param log_retention: of the execution log group. Default: one year.
    :param removal_policy: of the pipeline's key and log group. Default: ``RemovalPolicy.RETAIN``.
    """

    VPC_ENDPOINTS: tuple[str, ...] = ("logs", "monitoring", "kms", "ecr-api", "ecr-docker")
    """The interface endpoints (``IsolatedNetwork`` short names) the pipeline's jobs may call from the VPC: their
    logs and metrics, the key, and ECR for images of your own (S3 is a gateway endpoint). The state machine itself
    runs outside the VPC."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        vpc: ec2.IVpc,
        data_bucket: s3.IBucket,
        data_prefix: str,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        training_image: str | ContainerImage | ecr_assets.DockerImageAsset,
        processing_image: str | ContainerImage | ecr_assets.DockerImageAsset,
        model_package_group_name: str,
        vpc_subnets: ec2.SubnetSelection | None = None,
        artifact_prefix: str | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        training_instance_type: str = "ml.m5.xlarge",
        training_instance_count: int = 1,
        training_volume_size_gb: int = 50,
        max_training_runtime: Duration = Duration.hours(24),
        spot_max_wait: Duration | None = None,
        content_type: str = "text/csv",
        tuning: Tuning | None = None,
        preprocessing: Preprocessing | None = None,
        preprocess_image: str | ContainerImage | ecr_assets.DockerImageAsset | None = None,
        evaluate_image: str | ContainerImage | ecr_assets.DockerImageAsset | None = None,
        source_code: s3_assets.Asset | None = None,
        preprocess_script: ScriptStep | None = None,
        train_script: ScriptStep | None = None,
        evaluate_script: ScriptStep | None = None,
        processing_instance_type: str = "ml.m5.xlarge",
        processing_volume_size_gb: int = 30,
        max_processing_runtime: Duration = Duration.hours(2),
        problem_type: ProblemType = "binary_classification",
        gate_conditions: Sequence[GateCondition] | None = None,
        metric_name: str | None = None,
        metric_threshold: float | None = None,
        metric_direction: Literal["maximize", "minimize"] | None = None,
        notification_topic: sns.ITopic | None = None,
        schedule: scheduler.ScheduleExpression | events.Schedule | None = None,
        trigger_on_new_data: bool = False,
        trigger_on_retrain_event: bool = True,
        retrain_alarm_names: Sequence[str] = (),
        before_step: Mapping[str, sfn.IChainable] | None = None,
        after_step: Mapping[str, sfn.IChainable] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        self._check_types(
            name, vpc=vpc, data_bucket=data_bucket, artifact_bucket=artifact_bucket, encryption_key=encryption_key,
            model_package_group_name=model_package_group_name, vpc_subnets=vpc_subnets, hyperparameters=hyperparameters,
            training_instance_type=training_instance_type, training_instance_count=training_instance_count,
            training_volume_size_gb=training_volume_size_gb, max_training_runtime=max_training_runtime, spot_max_wait=spot_max_wait,
            content_type=content_type, source_code=source_code, processing_instance_type=processing_instance_type,
            processing_volume_size_gb=processing_volume_size_gb, max_processing_runtime=max_processing_runtime,
            notification_topic=notification_topic, trigger_on_new_data=trigger_on_new_data,
            trigger_on_retrain_event=trigger_on_retrain_event, retrain_alarm_names=retrain_alarm_names,
            log_retention=log_retention, removal_policy=removal_policy,
        )
        artifact_prefix = artifact_prefix or f"{model_name}/"
        images = {prop: None if value is None else ContainerImage.of(value, name, prop) for prop, value in (
            ("training_image", training_image), ("processing_image", processing_image),
            ("preprocess_image", preprocess_image), ("evaluate_image", evaluate_image),
        )}
        self._validate(name, model_name, data_prefix, artifact_prefix, max_training_runtime, spot_max_wait, training_instance_type,
                       processing_instance_type)
        script_images = self._validate_scripts(name, source_code, preprocess_script, train_script, evaluate_script, preprocessing,
                                               preprocess_image, evaluate_image, hyperparameters)
        self.gate_conditions: tuple[GateCondition, ...] = self._gate(
            name, problem_type, gate_conditions, metric_name, metric_threshold, metric_direction,
            evaluate_image or (evaluate_script.image_uri if evaluate_script else None),
        )
        """What the report must meet for the model to be registered (the legacy ``metric_*`` props mapped onto one condition)."""
        self._validate_baseline_location(name, artifact_bucket.bucket_name, artifact_prefix)
        self._validate_preprocessing(name, preprocessing, preprocess_image)
        self._validate_tuning(name, tuning, hyperparameters or {}, spot_max_wait)
        # "train" is "tune" when the tuning job replaces the training job.
        steps = ("preprocess", "train" if tuning is None else "tune", "evaluate", "register")
        before, before_states = self._extensions(name, "before_step", before_step, steps)
        after, after_states = self._extensions(name, "after_step", after_step, steps)
        self._check_extensions_apart(name, before, after)

        stack = Stack.of(self)
        self.model_name = model_name
        """The model's name; it prefixes the jobs' names."""
        self.model_package_group_name = model_package_group_name
        """The group models are registered in."""
        self.source_code = source_code
        """The user's scripts run by the ``*_script`` steps, or ``None``."""
        self.tuning_policy: iam.ManagedPolicy | None = None
        """The state machine's tuning permissions, when it tunes: a policy of their own, so that neither
        policy nears IAM's 6,144 characters per managed policy (tests/test_quotas.py). ``None`` without ``tuning``."""
        self.extension_policy: iam.ManagedPolicy | None = None
        """What the task states of ``before_step`` and ``after_step`` need (CDK's grants of each task), on the
        state machine's role, or ``None`` when they need nothing."""
        subnets = select_subnets(vpc, vpc_subnets)
        counts = [training_instance_count if train_script is None or train_script.instance_count is None else train_script.instance_count,
                  *(step.instance_count or 1 for step in (preprocess_script, evaluate_script) if step is not None)]
        self.security_group = self._job_security_group(model_name, vpc, distributed=any(is_token(c) or c > 1 for c in counts))
        """The jobs' security group (``connections`` is its)."""

        # -- the job role ------------------------------------------------------------------------------
        self.job_role: ManagedPolicyRole = ManagedPolicyRole(
            self,
            "JobRole",
            assumed_by=service_principal("sagemaker.amazonaws.com", Aws.ACCOUNT_ID),
            description=f"Execution role of the SageMaker jobs of {model_name}",
        )
        """The SageMaker jobs' execution role, what the user's scripts run as (``grant_principal``); its
        permissions are all in ``job_policy``, grants to it included."""
        scripts = {
            name_: s3_assets.Asset(self, f"{name_.capitalize()}Script", path=str(_SCRIPTS / f"{name_}.py"))
            for name_ in ("preprocess", "evaluate")
        }
        shipped = {**scripts, **({"source": source_code} if source_code is not None else {})}
        pulled = [image for image in (*images.values(), *script_images.values()) if image is not None]
        self.job_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"SageMaker jobs of {model_name}: data, artifacts, logs, metrics, VPC",
            roles=[self.job_role],
            document=policy_document(self._job_statements(stack, encryption_key, subnets, shipped, self._pull_repositories(stack, pulled))),
        )
        """What the jobs may do: everything ``add_to_role_policy`` and grants to the pipeline add goes here too."""
        self.job_role.keep_statements_in(self.job_policy, [])
        data_bucket.grant_read(self.job_policy, f"{data_prefix}*")
        artifact_bucket.grant_read_write(self.job_policy, f"{artifact_prefix}*")

        # -- notifications, logs and the state machine's key ------------------------------------------
        self.key: kms.Key = Key(
            self,
            "Key",
            description=f"Encrypts the training pipeline log group and notifications of {model_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        """Encrypts the execution data, the execution log group and the notification topic."""
        allow_dead_letters_and_alarms(self.key)
        allow_cloudwatch_logs(self.key)
        deny_grants_except_for_aws_resources(self.key)
        self.notification_topic: sns.ITopic = notification_topic or sns.Topic(
            self, "Notifications", display_name=f"Training pipeline of {model_name}", master_key=self.key, enforce_ssl=True
        )
        """Registered, gate-missed and failure messages."""
        log_group = state_machines.execution_log_group(self, "ExecutionLogs", key=self.key, retention=log_retention, removal_policy=removal_policy)
        acknowledge_log_retention(log_group)

        # -- the states, one method per step -----------------------------------------------------------
        locations = _Locations(artifact_bucket.bucket_name, artifact_prefix)
        network = {"VpcConfig": {"SecurityGroupIds": [self.security_group.security_group_id], "Subnets": subnets.subnet_ids}}
        job = _JobSettings(key=encryption_key, network=network, instance_type=processing_instance_type,
                           volume_size_gb=processing_volume_size_gb, max_runtime=max_processing_runtime)
        training_image_ = script_images.get("train_script") or images["training_image"]
        assert training_image_ is not None  # a required prop, checked above
        prepare = self._prepare_step(locations)
        preprocess = self._preprocess_step(
            data_bucket, data_prefix, job, preprocess_script, source_code,
            image=script_images.get("preprocess_script") or images["preprocess_image"] or images["processing_image"],  # type: ignore[arg-type]
            script=None if preprocess_image or preprocess_script else scripts["preprocess"],
            environment=dict(preprocess_script.environment) if preprocess_script else (preprocessing or Preprocessing()).environment(),
        )
        train = self._train_step(
            model_name, training_image_.image_uri, hyperparameters, train_script, source_code, content_type, encryption_key, network,
            instance_type=(train_script.instance_type or training_instance_type) if train_script else training_instance_type,
            instance_count=(train_script.instance_count or training_instance_count) if train_script else training_instance_count,
            volume_size_gb=training_volume_size_gb, max_runtime=max_training_runtime, spot_max_wait=spot_max_wait,
        )
        evaluate = self._evaluate_step(
            job, evaluate_script, source_code, problem_type,
            image=script_images.get("evaluate_script") or images["evaluate_image"] or training_image_,
            script=None if evaluate_image or evaluate_script else scripts["evaluate"],
        )
        read_evaluation = self._read_evaluation_step(artifact_bucket, artifact_prefix)
        register = self._register_step(stack, model_package_group_name, training_image_.image_uri, content_type, tuned=tuning is not None)
        failure, gate = self._gate_step(register, before.get("register"), after.get("register"), model_name)

        # With tuning, the Train state gives way to the tuning job and the look-up of its best training job.
        tune, best = self._tuning_states(tuning, train, model_name, max_training_runtime, spot_max_wait) if tuning is not None else (None, None)
        self._retry_and_catch(failure, preprocess, train if tune is None else tune, best, evaluate, read_evaluation, register)
        training: sfn.IChainable = train if tune is None else self._tuning_chain(model_name, tune, best, failure)  # type: ignore[arg-type]
        definition = sfn.Chain.start(prepare)
        for step, state in (("preprocess", preprocess), (steps[1], training), ("evaluate", evaluate)):
            for part in (before.get(step), state, after.get(step)):
                if part is not None:
                    definition = definition.next(part)
        definition = definition.next(read_evaluation).next(gate)
        extension_statements = self._catch_extensions(failure, [*before_states, *after_states])

        # With spot, the wait already includes the runtime; a tuning job runs its training jobs in waves.
        training_time = (spot_max_wait or max_training_runtime) if tuning is None else Duration.seconds(self._tuning_runtime(tuning, max_training_runtime))
        timeout = training_time.plus(max_processing_runtime).plus(max_processing_runtime).plus(durations.hours(1))
        self._state_machine(
            stack, definition, timeout, log_group, model_name, model_package_group_name, artifact_bucket, artifact_prefix, encryption_key,
            subnets, tuning, extension_statements,
            processing_isolated=all(step.network_isolation for step in (preprocess_script, evaluate_script) if step is not None),
            training_isolated=train_script is None or train_script.network_isolation,
        )
        self._triggers(model_name, data_bucket, data_prefix, _schedule_expression(name, schedule), trigger_on_new_data,
                       trigger_on_retrain_event, retrain_alarm_names)
        self._acknowledge(stack, data_bucket, data_prefix, artifact_bucket, artifact_prefix, model_name, model_package_group_name)
        if tuning is not None:
            (tuning_jobs,) = nag_resources(stack, [format_arn(stack, "sagemaker", "hyper-parameter-tuning-job", f"{model_name}-*")])
            acknowledge_each(self.tuning_policy, {  # type: ignore[arg-type]
                f"{IAM5}[{tuning_jobs}]": "Tuning jobs of this model; their names are made per run.",
            })

    # ------------------------------------------------------------------------------------------------
    # The resource model: import, grants, metrics, IGrantable, IConnectable
    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def from_training_pipeline_attributes(scope: Construct, id: str, *, state_machine_arn: str,
                                          key: kms.IKey | None = None) -> TrainingPipelineBase:
        """A training pipeline made by another app (or stack), to start its runs and watch them.

        :param state_machine_arn: its state machine's ARN (the training stack's ``StateMachineArn`` output).
        :param key: the pipeline's own key (``TrainingPipeline.key``), which encrypts its execution data:
            ``grant_start_execution`` then also lets the grantee encrypt a run's input with it. Default: not
            known; a grantee can start runs only if it may use the key through other means.
        """
        return _ImportedTrainingPipeline(scope, id, state_machine_arn=state_machine_arn, key=key)

    @staticmethod
    def from_state_machine_arn(scope: Construct, id: str, state_machine_arn: str) -> TrainingPipelineBase:
        """A training pipeline made by another app, by its state machine's ARN alone
        (:meth:`from_training_pipeline_attributes` without its key)."""
        return TrainingPipeline.from_training_pipeline_attributes(scope, id, state_machine_arn=state_machine_arn)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The jobs' role, what the user's scripts run as: a grant to the pipeline (``bucket.grant_read(pipeline)``)
        lands in ``job_policy``."""
        return self.job_role

    @property
    def connections(self) -> ec2.Connections:
        """The jobs' security group: ``pipeline.connections.allow_to(database, ec2.Port.tcp(5432))`` lets the
        jobs reach a database in the VPC (they have HTTPS out only, otherwise)."""
        return self.security_group.connections

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        """Let the jobs (the user's scripts) do more: ``statement`` goes into ``job_policy``, the job role's one
        managed policy, where the compliance packs check it like the rest (a wildcard needs an acknowledgement
        of your own, ``Validations.of(pipeline.job_policy).acknowledge(...)``)."""
        check_type(type(self).__name__, "statement", statement, iam.PolicyStatement)
        return self.job_role.add_to_principal_policy(statement)

    def add_retrain_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """Start a run when ``alarm`` goes into ALARM (an alarm of this account and region, whose state changes
        reach the default event bus), as ``retrain_alarm_names`` does by name: one more alternative of the
        trigger rule's ``DriftAlarm`` pattern. The rule, its role and dead-letter queue are created if the
        pipeline had no event trigger."""
        check_interface(type(self).__name__, "alarm", alarm, "alarm_arn", "must be a cloudwatch.IAlarm")
        self._retrain_alarm_names.append(alarm.alarm_name)
        self.trigger_patterns = self._trigger_patterns()
        if self.trigger_rule is None:
            if self._trigger_role is None:
                self._trigger_plumbing(events_=True, schedule=False)
            else:  # made for the schedule alone: EventBridge may now assume it too
                assert isinstance(self._trigger_role, iam.Role) and self._trigger_role.assume_role_policy is not None
                self._trigger_role.assume_role_policy.add_statements(iam.PolicyStatement(
                    actions=["sts:AssumeRole"], principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))
            self._event_rule()
        else:
            self._apply_trigger_pattern()

    # ------------------------------------------------------------------------------------------------
    # One method per step
    # ------------------------------------------------------------------------------------------------

    def _job_security_group(self, model_name: str, vpc: ec2.IVpc, *, distributed: bool) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(self, "JobSecurityGroup", vpc=vpc, description=f"SageMaker jobs of {model_name}: HTTPS out only",
                                  allow_all_outbound=False)
        # Isolated subnets route only to the VPC endpoints and the S3/DynamoDB gateway endpoints, whose
        # prefix lists have no id CloudFormation could name without a lookup: HTTPS "anywhere" reaches
        # exactly those.
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC and gateway endpoints")
        if distributed:
            # Distributed training: the instances of one job talk to each other on ports the framework
            # chooses; only members of this group may.
            group.add_ingress_rule(group, ec2.Port.all_traffic(), "Among the instances of one training job")
            group.add_egress_rule(group, ec2.Port.all_traffic(), "Among the instances of one training job")
            acknowledge_each(group, in_packs(
                "EC2RestrictedCommonPorts", "The only ingress is from this same security group, for the "
                "instances of one distributed training job; nothing outside the group can connect."
            ))
        return group

    def _prepare_step(self, locations: _Locations) -> sfn.Pass:
        return sfn.Pass(self, "Prepare", comment="Names this run: job names and artifact locations derive from the execution id",
                        parameters={"run": locations.run_parameters()})

    def _preprocess_step(self, data_bucket: s3.IBucket, data_prefix: str, job: _JobSettings, user_script: ScriptStep | None,
                         source_code: s3_assets.Asset | None, *, image: ContainerImage, script: s3_assets.Asset | None,
                         environment: dict[str, str]) -> sfn.CustomState:
        return self._processing_state(
            "Preprocess", job_kind="p", image=image.image_uri, script=script, user_script=user_script, source_code=source_code,
            inputs=[_s3_input("data", data_bucket.s3_url_for_object(data_prefix), "/opt/ml/processing/input")],
            outputs=[_s3_output(split, f"$.run.{split}_uri", f"/opt/ml/processing/output/{split}") for split in ("train", "validation", "test")]
            # Declared for a custom image too: SageMaker uploads whatever the container writes there.
            + [_s3_output("baseline", "$.run.baseline_uri", "/opt/ml/processing/output/baseline")],
            environment=environment, job=job, result_path="$.preprocess",
        )

    def _train_step(self, model_name: str, image_uri: str, hyperparameters: Mapping[str, str] | None, train_script: ScriptStep | None,
                    source_code: s3_assets.Asset | None, content_type: str, key: kms.IKey, network: dict[str, Any], *, instance_type: str,
                    instance_count: int, volume_size_gb: int, max_runtime: Duration, spot_max_wait: Duration | None) -> _TrainingJob:
        train_hyperparameters = dict(hyperparameters or {})
        if train_script is not None:
            assert source_code is not None  # checked in _validate_scripts
            train_hyperparameters.update({
                "sagemaker_program": json.dumps(train_script.entry_point),
                "sagemaker_submit_directory": json.dumps(f"{_TRAINING_CODE_DIR}/{source_code.s3_object_key}"),
                "sagemaker_region": json.dumps(Aws.REGION),
                "sagemaker_container_log_level": "20",
            })
        train = _TrainingJob(
            self,
            "Train",
            comment="Trains the model to completion",
            training_job_name=sfn.JsonPath.format(f"{model_name}-t-{{}}-{{}}", sfn.JsonPath.string_at("$.run.suffix"), sfn.JsonPath.string_at("$$.State.RetryCount")),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            role=self.job_role.without_policy_updates(),
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry(image_uri),
                training_input_mode=tasks.InputMode.FILE,
            ),
            input_data_config=[
                tasks.Channel(
                    channel_name=channel,
                    content_type=content_type,
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=tasks.S3Location.from_json_expression(f"$.run.{channel}_uri"),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                        )
                    ),
                )
                for channel in ("train", "validation")
            ]
            + ([tasks.Channel(
                channel_name=_CODE_CHANNEL,
                data_source=tasks.DataSource(s3_data_source=tasks.S3DataSource(
                    s3_location=_S3Object(source_code.s3_object_url),
                    s3_data_type=tasks.S3DataType.S3_PREFIX,
                )),
            )] if train_script is not None and source_code is not None else []),
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=tasks.S3Location.from_json_expression("$.run.model_uri"), encryption_key=key
            ),
            resource_config=tasks.ResourceConfig(
                instance_count=instance_count,
                instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
                volume_size=Size.gibibytes(volume_size_gb),
                volume_encryption_key=key,
            ),
            stopping_condition=tasks.StoppingCondition(max_runtime=max_runtime),
            enable_network_isolation=train_script.network_isolation if train_script else True,
            hyperparameters=train_hyperparameters,
            environment=dict(train_script.environment) if train_script and train_script.environment else None,
            result_selector={
                "TrainingJobName.$": "$.TrainingJobName",
                "ModelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
            },
            result_path="$.train",
        )
        train.extra_parameters = {
            **network,
            "EnableInterContainerTrafficEncryption": True,
            **(
                {
                    "EnableManagedSpotTraining": True,
                    "CheckpointConfig": {"S3Uri.$": "$.run.checkpoint_uri"},
                    "StoppingCondition": {
                        "MaxRuntimeInSeconds": int(max_runtime.to_seconds()),
                        "MaxWaitTimeInSeconds": int(spot_max_wait.to_seconds()),
                    },
                }
                if spot_max_wait is not None
                else {}
            ),
        }
        return train

    def _evaluate_step(self, job: _JobSettings, user_script: ScriptStep | None, source_code: s3_assets.Asset | None, problem_type: str, *,
                       image: ContainerImage, script: s3_assets.Asset | None) -> sfn.CustomState:
        return self._processing_state(
            "Evaluate", job_kind="e", image=image.image_uri, script=script, user_script=user_script, source_code=source_code,
            inputs=[
                _s3_input("model", "$.train.ModelArtifacts", "/opt/ml/processing/model", object_=True),
                _s3_input("test", "$.run.test_uri", "/opt/ml/processing/test"),
            ],
            outputs=[_s3_output("evaluation", "$.run.evaluation_uri", "/opt/ml/processing/evaluation")],
            environment={"PROBLEM_TYPE": problem_type, **(user_script.environment if user_script else {})},
            job=job, result_path="$.evaluate",
        )

    def _read_evaluation_step(self, artifact_bucket: s3.IBucket, artifact_prefix: str) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            "ReadEvaluation",
            comment="Reads evaluation.json from the artifact bucket",
            service="s3",
            action="getObject",
            parameters={"Bucket": artifact_bucket.bucket_name, "Key.$": "$.run.evaluation_key"},
            iam_resources=[artifact_bucket.arn_for_objects(f"{artifact_prefix}*")],
            result_selector={"report.$": "States.StringToJson($.Body)"},
            result_path="$.evaluation",
        )

    def _register_step(self, stack: Stack, group: str, image_uri: str, content_type: str, *, tuned: bool) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            "Register",
            comment="Registers the model as PendingManualApproval, with its evaluation report",
            service="sagemaker",
            action="createModelPackage",
            parameters={
                "ModelPackageGroupName": group,
                "ModelPackageDescription.$": "States.Format('Trained by execution {}', $$.Execution.Name)",
                "ModelApprovalStatus": "PendingManualApproval",
                "ClientToken.$": "$.run.suffix",  # a retried registration is the same registration
                "InferenceSpecification": {
                    "Containers": [{"Image": image_uri, "ModelDataUrl.$": "$.train.ModelArtifacts"}],
                    "SupportedContentTypes": [content_type],
                    "SupportedResponseMIMETypes": [content_type],
                },
                "ModelMetrics": {
                    "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri.$": "$.run.evaluation_report_uri"}}
                },
                # Each version names its own run's baseline, so a rolled-back version is monitored against
                # the data it was trained on.
                "CustomerMetadataProperties": {
                    f"{DRIFT_BASELINE_KEY}.$": "$.run.baseline_uri",
                    # The tuning job that chose the version's hyperparameters: ModelPackage has no field for it.
                    **({f"{TUNING_JOB_KEY}.$": "$.tune.HyperParameterTuningJobArn"} if tuned else {}),
                },
            },
            iam_resources=[stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
            result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
            result_path="$.registered",
        )

    def _gate_step(self, register: tasks.CallAwsService, before_register: sfn.IChainable | None, after_register: sfn.IChainable | None,
                   model_name: str) -> tuple[tasks.SnsPublish, sfn.Choice]:
        """The gate on the report, the registration path behind it and the notifications: ``NotifyFailure``
        (then ``Failed``), where every failure goes, and the ``MetricGate`` choice."""
        conditions = self.gate_conditions

        def value_at(condition: GateCondition) -> str:
            return f"$.evaluation.report.{condition.path}"

        def described(with_values: bool) -> list[dict[str, Any]]:
            return [
                {"path": c.path, "op": c.op, "threshold": c.threshold, **({"value.$": value_at(c)} if with_values else {})}
                for c in conditions
            ]

        notify_registered = self._notify(
            "NotifyRegistered",
            "Model registered, pending approval",
            {"result": "registered", "modelPackageArn.$": "$.registered.ModelPackageArn", "conditions": described(True)},
            model_name,
        )
        notify_missed = self._notify(
            "NotifyGateMissed",
            "Model missed its gate, not registered",
            {"result": "gate-missed", "conditions": described(True)},
            model_name,
        )
        notify_failure = self._notify(
            "NotifyFailure",
            "Training pipeline failed",
            {"result": "failed", "error.$": "$.failure.Error", "cause.$": "$.failure.Cause", "conditions": described(False)},
            model_name,
        )
        failed = sfn.Fail(self, "Failed", error="TrainingPipelineFailed", cause="A step failed; see the failure notification")
        notify_failure.next(failed)
        notify_failure.add_catch(failed, errors=[sfn.Errors.ALL])

        # Choice rules: https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html (a rule that
        # compares a missing or non-numeric value raises States.Runtime, so presence and type come first).
        gate = sfn.Choice(self, "MetricGate", comment="; ".join(str(c) for c in conditions)[:1000])
        for number, condition in enumerate(conditions, start=1):
            value = value_at(condition)
            unusable = sfn.Pass(
                self,
                f"ReportUnusable{number}",
                comment=f"The report has no numeric value at {condition.path}",
                parameters={"Error": "EvaluationReportInvalid", "Cause": f"evaluation.json has no numeric value at {condition.path} (gate condition {condition})"},
                result_path="$.failure",
            )
            gate.when(sfn.Condition.or_(sfn.Condition.is_not_present(value), sfn.Condition.is_not_numeric(value)), unusable.next(notify_failure))
        met = [
            sfn.Condition.number_greater_than_equals(value_at(c), c.threshold) if c.op == ">=" else sfn.Condition.number_less_than_equals(value_at(c), c.threshold)
            for c in conditions
        ]
        registration = sfn.Chain.start(before_register) if before_register is not None else sfn.Chain.start(register)
        if before_register is not None:
            registration = registration.next(register)
        if after_register is not None:
            registration = registration.next(after_register)
        gate.when(met[0] if len(met) == 1 else sfn.Condition.and_(*met), registration.next(notify_registered).next(sfn.Succeed(self, "Registered")))
        gate.otherwise(notify_missed.next(sfn.Succeed(self, "NotRegistered")))
        return notify_failure, gate

    def _retry_and_catch(self, failure: tasks.SnsPublish, preprocess: sfn.CustomState, training: sfn.TaskStateBase | sfn.CustomState,
                         best: tasks.CallAwsService | None, evaluate: sfn.CustomState, read_evaluation: tasks.CallAwsService,
                         register: tasks.CallAwsService) -> None:
        """SageMaker's throttling and capacity errors retried; every error of a step caught into the failure notification."""
        for state in (preprocess, training, evaluate):
            state.add_retry(errors=_RETRYABLE, interval=durations.seconds(30), backoff_rate=2, max_attempts=3, jitter_strategy=sfn.JitterType.FULL)
        for state, errors in (
            (read_evaluation, ["S3.S3Exception", "S3.SdkClientException"]),
            (register, ["SageMaker.SageMakerException", "SageMaker.ThrottlingException", "SageMaker.SdkClientException"]),
            *([(best, ["SageMaker.SageMakerException", "SageMaker.ThrottlingException", "SageMaker.SdkClientException"])] if best else []),
        ):
            state.add_retry(errors=errors, interval=durations.seconds(5), backoff_rate=2, max_attempts=4, jitter_strategy=sfn.JitterType.FULL)
        for state in (preprocess, training, *([best] if best else []), evaluate, read_evaluation, register):
            state.add_catch(failure, errors=[sfn.Errors.ALL], result_path="$.failure")

    def _state_machine(self, stack: Stack, definition: sfn.Chain, timeout: Duration, log_group: logs.LogGroup, model_name: str, group: str,
                       artifact_bucket: s3.IBucket, artifact_prefix: str, key: kms.IKey, subnets: Subnets, tuning: Tuning | None,
                       extension_statements: Sequence[iam.PolicyStatement], *, processing_isolated: bool, training_isolated: bool) -> None:
        """The machine's role, its policies (its own, execution, tuning and extensions') and the machine."""
        self.state_machine_role: ManagedPolicyRole = ManagedPolicyRole(
            self,
            "StateMachineRole",
            assumed_by=service_principal("states.amazonaws.com", Aws.ACCOUNT_ID),
            description=f"Runs the training pipeline of {model_name}",
        )
        """The state machine's role; its permissions are in ``state_machine_policy`` (what is added to the role
        goes there), ``execution_policy``, ``tuning_policy`` and ``extension_policy``."""
        self.state_machine_policy = iam.ManagedPolicy(
            self, "StateMachinePolicy", description=f"Training pipeline of {model_name}: jobs, report, registration, notifications",
            roles=[self.state_machine_role],
            document=policy_document(self._state_machine_statements(
                stack, model_name, group, artifact_bucket, artifact_prefix, key, subnets,
                processing_isolated=processing_isolated, training_isolated=training_isolated,
            )),
        )
        """What the state machine's own states may do: create, follow and stop this model's jobs, read the
        report, register, notify."""
        self.state_machine_role.keep_statements_in(self.state_machine_policy, [])
        # Log delivery, X-Ray and the execution data's key: a policy of their own, so that the machine's policy
        # stays well within IAM's 6,144 characters with every job kind and guardrail (tests/test_quotas.py).
        self.execution_policy = iam.ManagedPolicy(
            self, "ExecutionPolicy", description=f"Training pipeline of {model_name}: execution logs, traces and data encryption",
            roles=[self.state_machine_role], document=policy_document(state_machines.execution_role_statements(stack, self.key.key_arn)),
        )
        """The machine's log delivery, X-Ray and execution-data encryption."""
        acknowledge_each(self.execution_policy, {
            f"{IAM5}[Resource::*]": "Only actions without resource-level permissions: CloudWatch Logs delivery and X-Ray.",
        })
        if tuning is not None:
            self.tuning_policy = iam.ManagedPolicy(
                self, "TuningPolicy", description=f"Training pipeline of {model_name}: hyperparameter tuning jobs",
                roles=[self.state_machine_role],
                document=policy_document(self._tuning_statements(stack, model_name, key, subnets, network_isolation=training_isolated)),
            )
        if extension_statements:
            self.extension_policy = iam.ManagedPolicy(
                self, "ExtensionPolicy", description=f"Training pipeline of {model_name}: the states added before or after its steps",
                roles=[self.state_machine_role], statements=list(extension_statements),
            )
        state_machines.allow_execution_log_delivery(self.key, Aws.ACCOUNT_ID)
        # The policies above are complete: CDK's per-task grants, which the machine adds while it is built, are
        # left out. What is granted to the machine afterwards lands in state_machine_policy.
        with self.state_machine_role.leaving_out_what_is_added():
            self.state_machine: sfn.StateMachine = sfn.StateMachine(
                self,
                "StateMachine",
                comment=f"Preprocess, train, evaluate, gate and register model {model_name}",
                definition_body=sfn.DefinitionBody.from_chainable(definition),
                state_machine_type=sfn.StateMachineType.STANDARD,
                timeout=timeout,
                tracing_enabled=True,
                logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
                role=self.state_machine_role,
            )
            """The state machine."""
        # Execution data carries S3 locations and metrics: encrypted with the pipeline's own key.
        state_machines.finish(self.state_machine, self.state_machine_policy, self.key)
        self.state_machine.node.add_dependency(self.execution_policy)
        for policy in (self.tuning_policy, self.extension_policy):
            if policy is not None:
                self.state_machine.node.add_dependency(policy)

    # ------------------------------------------------------------------------------------------------
    # Extensions: states before and after the steps
    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _extensions(name: str, prop: str, value: Any, steps: Sequence[str]) -> tuple[dict[str, sfn.IChainable], list[sfn.State]]:
        """``before_step`` or ``after_step``, checked: known steps, each a chainable the pipeline can continue
        from, without Parallel or Map states (whose inner tasks' permissions cannot be read); and their states
        (with their error handlers), found before they are chained to the pipeline's."""
        if value is None:
            return {}, []
        if not isinstance(value, Mapping):
            raise PropsError(name, prop, value, f"must map step names ({', '.join(steps)}) to states or chains (sfn.IChainable)")
        states: list[sfn.State] = []
        for step, chainable in value.items():
            if step in ("train", "tune") and step not in steps:
                raise PropsError(name, prop, step, f"must be one of {', '.join(steps)}: the step that trains is "
                                 f"{'tune with tuning' if 'tune' in steps else 'train without tuning'}")
            check_choice(name, prop, step, steps)
            check_interface(name, f"{prop}.{step}", chainable, "end_states", "must be a state or a chain of states (sfn.IChainable)")
            if not chainable.end_states:
                raise PropsError(name, f"{prop}.{step}", chainable.id, "must end in a state the pipeline can continue from, not in "
                                 "Succeed or Fail (a Choice continues after .afterwards())")
            for state in sfn.State.find_reachable_states(chainable.start_state, include_error_handlers=True):
                states.append(state)
                if isinstance(state, sfn.Parallel | sfn.MapBase):
                    raise PropsError(name, f"{prop}.{step}", state.state_id, "must not hold a Parallel or Map state: the permissions "
                                     "of the tasks in its branches cannot be granted to the pipeline's role; start a state machine of "
                                     "your own from a task (tasks.StepFunctionsStartExecution) instead")
        return dict(value), states

    @staticmethod
    def _check_extensions_apart(name: str, before: Mapping[str, sfn.IChainable], after: Mapping[str, sfn.IChainable]) -> None:
        """A state can be in one place of the definition only."""
        seen: dict[int, str] = {}
        for prop, extensions in (("before_step", before), ("after_step", after)):
            for step, chainable in extensions.items():
                where = seen.setdefault(id(chainable.start_state), f"{prop}.{step}")
                if where != f"{prop}.{step}":
                    raise PropsError(name, f"{prop}.{step}", chainable.id, f"is also {where}: a state runs in one place; make another")

    @staticmethod
    def _catch_extensions(failure: tasks.SnsPublish, states: Sequence[sfn.State]) -> list[iam.PolicyStatement]:
        """Each task state added before or after a step that catches nothing itself goes to the failure
        notification on any error, like the pipeline's own; the statements CDK grants each task (and
        ``sts:AssumeRole`` for its ``credentials``) are returned for the extension policy."""
        statements: list[iam.PolicyStatement] = []
        for state in states:
            if not isinstance(state, sfn.TaskStateBase | sfn.CustomState):
                continue
            rendered = state.to_state_json()
            if rendered.get("Type") == "Task" and "Catch" not in rendered:
                state.add_catch(failure, errors=[sfn.Errors.ALL], result_path="$.failure")
            if isinstance(state, sfn.TaskStateBase):
                statements.extend(state._task_policies or [])  # noqa: SLF001 - what the task declares it needs
                credentials = rendered.get("Credentials") or {}
                if credentials:
                    # As CDK grants it: the role, or any role when the task names it by a path of the input.
                    statements.append(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[credentials.get("RoleArn", "*")]))
        return statements

    # ------------------------------------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _check_types(name: str, **props: Any) -> None:
        """Each prop is of its type (a token where CDK takes one), before anything is made of it."""
        for prop, member, kind in (("vpc", "vpc_id", "an ec2.IVpc"), ("data_bucket", "bucket_arn", "an s3.IBucket"),
                                   ("artifact_bucket", "bucket_arn", "an s3.IBucket"), ("encryption_key", "key_arn", "a kms.IKey")):
            check_interface(name, prop, props[prop], member, f"must be {kind}")
        check_interface(name, "notification_topic", props["notification_topic"], "topic_arn", "must be an sns.ITopic", optional=True)
        for prop in ("model_package_group_name", "content_type", "training_instance_type", "processing_instance_type"):
            check_type(name, prop, props[prop], str)
        # It is also the package's SupportedResponseMIMETypes, [-\w]+/.+ in SageMaker's API (botocore's ResponseMIMEType),
        # and its SupportedContentTypes, at most 256 characters: a bad one would fail the registration after training.
        if not re.fullmatch(r"[-\w]+/.+", props["content_type"]) or len(props["content_type"]) > 256:
            raise PropsError(name, "content_type", props["content_type"], "must be a media type like text/csv, at most 256 characters")
        check_range(name, "training_instance_count", props["training_instance_count"], 1, 100)
        for prop in ("training_volume_size_gb", "processing_volume_size_gb"):
            check_range(name, prop, props[prop], 1, 16384, unit="GiB")
        # SageMaker's limits: a training job runs at most 28 days (MaxRuntimeInSeconds,
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StoppingCondition.html), a processing job
        # at most 777,600 s, 9 days (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingStoppingCondition.html).
        # The spot wait (MaxWaitTimeInSeconds) has no documented maximum: only its lower bound is checked.
        for prop, most in (("max_training_runtime", _MAX_TRAINING_SECONDS), ("max_processing_runtime", _MAX_PROCESSING_SECONDS)):
            check_type(name, prop, props[prop], Duration)
            if not 1 <= props[prop].to_seconds() <= most:
                raise PropsError(name, prop, props[prop].to_human_string(), f"must be from 1 second to {Duration.seconds(most).to_human_string()}")
        check_type(name, "spot_max_wait", props["spot_max_wait"], Duration, optional=True)
        check_type(name, "vpc_subnets", props["vpc_subnets"], ec2.SubnetSelection, optional=True)
        check_type(name, "source_code", props["source_code"], s3_assets.Asset, optional=True)
        for prop in ("trigger_on_new_data", "trigger_on_retrain_event"):
            check_type(name, prop, props[prop], bool)
        check_type(name, "log_retention", props["log_retention"], logs.RetentionDays)
        check_type(name, "removal_policy", props["removal_policy"], RemovalPolicy)
        hyperparameters = props["hyperparameters"]
        if hyperparameters is not None and not isinstance(hyperparameters, Mapping):
            raise PropsError(name, "hyperparameters", hyperparameters, "must map hyperparameter names to strings")
        for key, value in (hyperparameters or {}).items():
            check_type(name, f"hyperparameters.{key}", value, str)
        alarm_names = props["retrain_alarm_names"]
        if isinstance(alarm_names, str) or not isinstance(alarm_names, Sequence):
            raise PropsError(name, "retrain_alarm_names", alarm_names, "must be a list of alarm names")
        for index, alarm_name in enumerate(alarm_names):
            check_type(name, f"retrain_alarm_names[{index}]", alarm_name, str)

    @staticmethod
    def _validate(name: str, model_name: str, data_prefix: str, artifact_prefix: str, max_training_runtime: Duration,
                  spot_max_wait: Duration | None, training_instance_type: str, processing_instance_type: str) -> None:
        if not isinstance(model_name, str) or not _MODEL_NAME.fullmatch(model_name):
            raise PropsError(name, "model_name", model_name, "must be a lowercase slug of 3 to 24 characters")
        for prop, value in (("data_prefix", data_prefix), ("artifact_prefix", artifact_prefix)):
            if not isinstance(value, str) or not _PREFIX.fullmatch(value):
                raise PropsError(name, prop, value, "must be an S3 key prefix without a leading slash, ending with '/'")
        check_instance_type(name, "training_instance_type", training_instance_type, "TrainingInstanceType", "training")
        check_instance_type(name, "processing_instance_type", processing_instance_type, "ProcessingInstanceType", "processing")
        if spot_max_wait is not None and spot_max_wait.to_seconds() < max_training_runtime.to_seconds():
            raise PropsError(name, "spot_max_wait", spot_max_wait.to_human_string(), f"must be at least max_training_runtime ({max_training_runtime.to_human_string()})")

    @staticmethod
    def _gate(name: str, problem_type: str, conditions: Sequence[GateCondition] | None, metric_name: str | None,
              metric_threshold: float | None, metric_direction: str | None, evaluate_image: str | None) -> tuple[GateCondition, ...]:
        """The gate's conditions, checked, with the legacy one-metric props mapped onto one condition."""
        if problem_type not in PROBLEM_TYPES:
            raise PropsError(name, "problem_type", problem_type, f"must be one of {', '.join(PROBLEM_TYPES)}")
        bundled = evaluate_image is None
        if conditions is None:
            metric = "auc" if metric_name is None else metric_name
            if not isinstance(metric, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", metric):
                raise PropsError(name, "metric_name", metric, "must be a metric name of letters, digits and underscores")
            direction = "maximize" if metric_direction is None else metric_direction
            if direction not in DIRECTION_OPS:
                raise PropsError(name, "metric_direction", direction, "must be 'maximize' or 'minimize'")
            threshold = 0.8 if metric_threshold is None else metric_threshold
            if not is_number(threshold):
                raise PropsError(name, "metric_threshold", threshold, "must be a finite number")
            path = legacy_path(metric, problem_type, custom_report=not bundled)
            if bundled and path not in bundled_paths(problem_type):
                written = ", ".join(p.split(".")[1] for p in bundled_paths(problem_type))
                raise PropsError(
                    name, "metric_name", metric,
                    f"must be one of {written}, the metrics the bundled evaluation script writes for problem_type "
                    f"{problem_type}; choose another problem_type, or give evaluate_image for others",
                )
            return (GateCondition(path=path, op=DIRECTION_OPS[direction], threshold=threshold),)  # type: ignore[arg-type]
        given = [prop for prop, value in (("metric_name", metric_name), ("metric_threshold", metric_threshold),
                                          ("metric_direction", metric_direction)) if value is not None]
        if given:
            raise PropsError(name, "gate_conditions", list(map(str, conditions)),
                             f"must not be given together with {', '.join(given)}: write that metric as one more GateCondition")
        conditions = tuple(conditions)
        if not 1 <= len(conditions) <= MAX_GATE_CONDITIONS:
            raise PropsError(name, "gate_conditions", len(conditions), f"must hold 1 to {MAX_GATE_CONDITIONS} conditions")
        for index, condition in enumerate(conditions):
            prop = f"gate_conditions[{index}]"
            if not isinstance(condition, GateCondition):
                raise PropsError(name, prop, condition, "must be a GateCondition(path=..., op=..., threshold=...)")
            if not isinstance(condition.path, str) or not GATE_PATH.fullmatch(condition.path):
                raise PropsError(name, f"{prop}.path", condition.path, PATH_RULE)
            if condition.op not in GATE_OPS:
                raise PropsError(name, f"{prop}.op", condition.op, "must be '>=' (at least the threshold) or '<=' (at most)")
            if not is_number(condition.threshold):
                raise PropsError(name, f"{prop}.threshold", condition.threshold, "must be a finite number")
            if bundled and condition.path not in bundled_paths(problem_type):
                raise PropsError(
                    name, f"{prop}.path", condition.path,
                    f"must be a value the bundled evaluation script writes for problem_type {problem_type}: "
                    f"{', '.join(bundled_paths(problem_type))}; give evaluate_image for a report of your own",
                )
        return conditions

    @staticmethod
    def _validate_baseline_location(name: str, bucket_name: str, artifact_prefix: str) -> None:
        """The baseline's S3 URI must be a valid CustomerMetadataProperties value for every run."""
        if not _METADATA_VALUE.fullmatch(artifact_prefix):
            raise PropsError(name, "artifact_prefix", artifact_prefix,
                             "must use only letters, digits and _ . - between slashes: each run's drift baseline location "
                             "is recorded in the model package's CustomerMetadataProperties, which allow no other punctuation")
        # s3://<bucket>/<prefix><32 hex digits>/baseline; an unresolved bucket name may have up to 63 characters.
        bucket_length = 63 if is_token(bucket_name) else len(bucket_name)
        longest = len("s3://") + bucket_length + len("/") + len(artifact_prefix) + 32 + len("/baseline")
        if longest > _METADATA_VALUE_MAX:
            raise PropsError(name, "artifact_prefix", artifact_prefix,
                             f"must be at most {len(artifact_prefix) - (longest - _METADATA_VALUE_MAX)} characters with this artifact bucket: "
                             f"each run's drift baseline URI ({longest} characters) must fit the {_METADATA_VALUE_MAX} characters of a "
                             "CustomerMetadataProperties value")

    @staticmethod
    def _validate_preprocessing(name: str, preprocessing: Preprocessing | None, preprocess_image: str | None) -> None:
        if preprocessing is None:
            return
        if not isinstance(preprocessing, Preprocessing):
            raise PropsError(name, "preprocessing", preprocessing, "must be a Preprocessing")
        if preprocess_image is not None:
            raise PropsError(name, "preprocessing", preprocessing,
                             "applies to the bundled preprocessing script only; preprocess_image's own entrypoint does the preprocessing: give one or the other")
        fractions = preprocessing.split
        if (
            not isinstance(fractions, Sequence) or len(fractions) != 3
            or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f) and f > 0 for f in fractions)
            or abs(sum(fractions) - 1) > _SPLIT_TOLERANCE
        ):
            raise PropsError(name, "preprocessing.split", fractions,
                             "must be the fractions of rows for train, validation and test: each above 0, summing to 1 (within 1e-6)")
        if not isinstance(preprocessing.header, bool):
            raise PropsError(name, "preprocessing.header", preprocessing.header, "must be true or false")
        label = preprocessing.label
        if isinstance(label, str):
            if not 1 <= len(label) <= _ENVIRONMENT_VALUE_MAX:
                raise PropsError(name, "preprocessing.label", label, f"must be a column name of 1 to {_ENVIRONMENT_VALUE_MAX} characters, or a 0-based column index")
            if not preprocessing.header:
                raise PropsError(name, "preprocessing.label", label,
                                 "names a column, which needs header: true; without a header row give the label's 0-based index (-1 for the last column)")
        elif not isinstance(label, int) or isinstance(label, bool):
            raise PropsError(name, "preprocessing.label", label, "must be a 0-based column index (negative from the end, -1 the last) or, with a header, a column name")
        if not isinstance(preprocessing.seed, int) or isinstance(preprocessing.seed, bool) or not 0 <= preprocessing.seed <= 2**32 - 1:
            raise PropsError(name, "preprocessing.seed", preprocessing.seed, "must be an integer from 0 to 4294967295")
        if preprocessing.categorical not in ("one_hot", "refuse"):
            raise PropsError(name, "preprocessing.categorical", preprocessing.categorical, "must be 'one_hot' or 'refuse'")

    @staticmethod
    def _validate_tuning(name: str, tuning: Tuning | None, hyperparameters: Mapping[str, str], spot_max_wait: Duration | None) -> None:
        if tuning is None:
            return
        if not isinstance(tuning, Tuning):
            raise PropsError(name, "tuning", tuning, "must be a Tuning(objective=..., ranges=...)")
        for keys, value, allowed in tuning_problems(tuning, hyperparameters):
            raise PropsError(name, f"tuning.{tuning_path(keys)}", value, allowed)
        if spot_max_wait is not None:
            # The training jobs of one tuning job would share the run's one checkpoint location.
            raise PropsError(name, "tuning", "spot_max_wait", "cannot be combined with managed spot training (spot_max_wait) yet: "
                             "the tuning job's training jobs would share one checkpoint location; train on demand, or without tuning")

    @staticmethod
    def _tuning_runtime(tuning: Tuning, max_training_runtime: Duration) -> int:
        """How long the tuning job may run: its training jobs in waves of ``max_parallel_jobs``, each up to
        ``max_training_runtime``, within what the API allows."""
        waves = math.ceil(tuning.jobs() / tuning.max_parallel_jobs)
        return max(120, min(MAX_TUNING_RUNTIME_SECONDS, waves * int(max_training_runtime.to_seconds())))

    def _tuning_job_name(self, model_name: str) -> sfn.CustomState:
        """A JSONata state naming the run's tuning job: ``<model>-<start of the run's MD5>``, 32 characters
        with the retry count the Tune state appends (the API allows 32; the intrinsic functions of
        JSONPath cannot cut a string). Its training jobs are ``<tuning job>-<nnn>-<8 hex digits>``."""
        digits = 32 - len(model_name) - len("-") - len("-0")
        return sfn.CustomState(self, "NameTuningJob", state_json={
            "Type": "Pass",
            "QueryLanguage": "JSONata",
            "Comment": "Names this run's tuning job after the run",
            "Output": "{% $merge([$states.input, {'tuning': {'job_prefix': '" + model_name + "-' & $substring($states.input.run.suffix, 0, "
                      + str(digits) + ")}}]) %}",
        })

    def _tuning_states(self, tuning: Tuning, train: _TrainingJob, model_name: str, max_training_runtime: Duration,
                       spot_max_wait: Duration | None) -> tuple[sfn.CustomState, tasks.CallAwsService]:
        """The tuning job, run to completion, and the look-up of its best training job's model into ``$.train``
        as the Train state leaves it. The training job definition is the Train state's own parameters."""
        parameters = dict(train.to_state_json()["Parameters"])
        parameters.pop("TrainingJobName.$")
        static = parameters.pop("HyperParameters", None)
        algorithm = dict(parameters.pop("AlgorithmSpecification"))
        if tuning.objective.regex is not None:
            algorithm["MetricDefinitions"] = [{"Name": tuning.objective.metric, "Regex": tuning.objective.regex}]
        definition = {"AlgorithmSpecification": algorithm, **parameters, **({"StaticHyperParameters": static} if static else {})}
        tune = sfn.CustomState(self, "Tune", state_json={
            "Type": "Task",
            "Comment": "Tunes the model's hyperparameters: one training job per combination tried, to completion",
            # Step Functions' optimized integration; .sync returns DescribeHyperParameterTuningJob's output
            # (https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html).
            "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createHyperParameterTuningJob.sync",
            "Parameters": {
                "HyperParameterTuningJobName.$": "States.Format('{}-{}', $.tuning.job_prefix, $$.State.RetryCount)",
                "HyperParameterTuningJobConfig": tuning.job_config(self._tuning_runtime(tuning, max_training_runtime)),
                "TrainingJobDefinition": definition,
            },
            # The whole description, checked by HasBestTrainingJob: BestTrainingJob is optional in
            # DescribeHyperParameterTuningJob's output, and a ResultSelector path the result lacks is a States.Runtime
            # error, which no Catch handles (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
            "ResultSelector": {"job.$": "$"},
            "ResultPath": "$.tune",
        })
        best = tasks.CallAwsService(
            self,
            "DescribeBestTrainingJob",
            comment="Finds the best training job's model, where Evaluate and Register read a trained model",
            service="sagemaker",
            action="describeTrainingJob",
            parameters={"TrainingJobName": sfn.JsonPath.string_at("$.tune.BestTrainingJobName")},
            iam_resources=[Stack.of(self).format_arn(service="sagemaker", resource="training-job", resource_name=f"{model_name}-*")],
            result_selector={"TrainingJobName.$": "$.TrainingJobName", "ModelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts"},
            result_path="$.train",
        )
        return tune, best

    def _tuning_chain(self, model_name: str, tune: sfn.State, best: sfn.State, failure: sfn.IChainable) -> sfn.Chain:
        """NameTuningJob -> Tune -> HasBestTrainingJob -> BestTrainingJob -> DescribeBestTrainingJob; a completed tuning
        job without a best training job goes to NoBestTrainingJob and the failure notification."""
        found_best = sfn.Pass(
            self, "BestTrainingJob",
            comment="The tuning job and its best training job, without the rest of its description",
            parameters={"HyperParameterTuningJobName.$": "$.tune.job.HyperParameterTuningJobName",
                        "HyperParameterTuningJobArn.$": "$.tune.job.HyperParameterTuningJobArn",
                        "BestTrainingJobName.$": "$.tune.job.BestTrainingJob.TrainingJobName"},
            result_path="$.tune",
        )
        none = sfn.Pass(
            self, "NoBestTrainingJob",
            comment="A completed tuning job that names no best training job: notified and failed like any failure",
            parameters={"Error": "NoBestTrainingJob", "Cause": "The tuning job completed without a best training job (no training job "
                        "reported the objective metric): there is no model to evaluate."},
            result_path="$.failure",
        )
        found = sfn.Choice(self, "HasBestTrainingJob").when(
            sfn.Condition.is_present("$.tune.job.BestTrainingJob.TrainingJobName"), found_best.next(best),
        ).otherwise(none.next(failure))
        return sfn.Chain.start(self._tuning_job_name(model_name)).next(tune).next(found.afterwards())

    def _tuning_statements(self, stack: Stack, model_name: str, key: kms.IKey, subnets: Subnets, *, network_isolation: bool = True) -> list[Statement]:
        """What the tuning states need besides the pipeline's own statements
        (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html, CreateHyperParameterTuningJob)."""
        tuning_jobs = [format_arn(stack, "sagemaker", "hyper-parameter-tuning-job", f"{model_name}-*")]
        create = ["sagemaker:CreateHyperParameterTuningJob"]
        return [
            # The same guardrails as the pipeline's other jobs: SageMaker evaluates them on the tuning job's
            # training job definition.
            allow("CreateTuningJobsInsideGuardrails", create, tuning_jobs, inside_guardrails(
                create, subnet_ids=subnets.subnet_ids, security_group_ids=[self.security_group.security_group_id], kms_key_arn=key.key_arn,
                network_isolation=network_isolation,
            )),
            allow(
                "FollowAndStopTuningJobs",
                ["sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
                 "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:AddTags", "sagemaker:ListTags"],
                tuning_jobs,
            ),
            state_machines.follow_sagemaker_jobs("FollowTuningJobs", stack, "Tuning"),
        ]

    @staticmethod
    def _validate_scripts(name: str, source_code: s3_assets.Asset | None, preprocess_script: ScriptStep | None,
                          train_script: ScriptStep | None, evaluate_script: ScriptStep | None, preprocessing: Preprocessing | None,
                          preprocess_image: Any, evaluate_image: Any, hyperparameters: Mapping[str, str] | None) -> dict[str, ContainerImage]:
        """The script steps, checked, and the image of each, by prop (``train_script``...)."""
        steps = {"preprocess_script": preprocess_script, "train_script": train_script, "evaluate_script": evaluate_script}
        given = [prop for prop, step in steps.items() if step is not None]
        if source_code is not None and not given:
            raise PropsError(name, "source_code", source_code.node.path, "is run by the *_script steps: give at least one, or leave source_code out")
        if not given:
            return {}
        if source_code is None:
            raise PropsError(name, given[0], steps[given[0]], "runs a script of source_code: give source_code, the scripts' archive (source_archive)")
        if not is_token(source_code.s3_object_key) and not source_code.s3_object_key.endswith(".gz"):
            raise PropsError(name, "source_code", source_code.s3_object_key,
                             "must be a .tar.gz archive (source_archive makes one): the framework containers unpack nothing else")
        for prop, other, other_name in (("preprocess_script", preprocess_image, "preprocess_image"), ("preprocess_script", preprocessing, "preprocessing"),
                                        ("evaluate_script", evaluate_image, "evaluate_image")):
            if steps[prop] is not None and other is not None:
                raise PropsError(name, prop, steps[prop].entry_point,  # type: ignore[union-attr]
                                 f"must not be given together with {other_name}: both describe the step; give one")
        if train_script is not None and evaluate_script is None and evaluate_image is None:
            raise PropsError(name, "train_script", train_script.entry_point,
                             "needs evaluate_script or evaluate_image: the bundled evaluation loads XGBoost models of the built-in algorithm, not your script's")
        reserved = sorted(set(hyperparameters or {}) & set(_SCRIPT_HYPERPARAMETERS))
        if train_script is not None and reserved:
            raise PropsError(name, "hyperparameters", reserved, "must not set the script-mode hyperparameters the train_script sets itself")
        images: dict[str, ContainerImage] = {}
        for prop, step in steps.items():
            if step is None:
                continue
            if not isinstance(step, ScriptStep):
                raise PropsError(name, prop, step, "must be a ScriptStep(entry_point=..., image=...)")
            if not isinstance(step.entry_point, str) or not _ENTRY_POINT.fullmatch(step.entry_point):
                raise PropsError(name, f"{prop}.entry_point", step.entry_point,
                                 "must be a .py file's path relative to the source directory, without '..' (train.py, jobs/train.py)")
            images[prop] = ContainerImage.of(step.image, name, f"{prop}.image")
            arguments = step.arguments
            if isinstance(arguments, str) or not isinstance(arguments, Sequence) or not all(isinstance(a, str) for a in arguments):
                raise PropsError(name, f"{prop}.arguments", arguments, "must be a list of strings")
            if prop == "train_script" and "/" in step.entry_point:
                raise PropsError(name, f"{prop}.entry_point", step.entry_point,
                                 "must be a .py file at the root of the source directory: the framework containers run it as a module of it")
            if prop == "train_script" and arguments:
                raise PropsError(name, f"{prop}.arguments", list(arguments),
                                 "must be empty for the train step: the framework container passes the hyperparameters to the script as --name value")
            if len(arguments) > _ARGUMENTS_MAX or any(not 1 <= len(a) <= _ARGUMENT_MAX for a in arguments):
                raise PropsError(name, f"{prop}.arguments", list(arguments), f"must hold at most {_ARGUMENTS_MAX} arguments of 1 to {_ARGUMENT_MAX} characters")
            environment = step.environment
            if not isinstance(environment, Mapping) or len(environment) > _ENVIRONMENT_MAX:
                raise PropsError(name, f"{prop}.environment", environment, f"must map at most {_ENVIRONMENT_MAX} names to strings")
            for key, value in environment.items():
                if not isinstance(key, str) or not _ENVIRONMENT_NAME.fullmatch(key):
                    raise PropsError(name, f"{prop}.environment", key, "must name variables with letters, digits and _, not starting with a digit, at most 256 characters")
                if not isinstance(value, str) or len(value) > _ENVIRONMENT_VALUE_MAX:
                    raise PropsError(name, f"{prop}.environment.{key}", value, f"must be a string of at most {_ENVIRONMENT_VALUE_MAX} characters")
            if prop == "evaluate_script" and "PROBLEM_TYPE" in environment:
                raise PropsError(name, f"{prop}.environment", "PROBLEM_TYPE", "is set by the pipeline from problem_type")
            if step.instance_type is not None:
                training = prop == "train_script"
                check_instance_type(name, f"{prop}.instance_type", step.instance_type, "TrainingInstanceType" if training else "ProcessingInstanceType",
                                    "training" if training else "processing")
            count = step.instance_count
            if count is not None and (not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100):
                raise PropsError(name, f"{prop}.instance_count", count, "must be an integer from 1 to 100")
            if not isinstance(step.network_isolation, bool):
                raise PropsError(name, f"{prop}.network_isolation", step.network_isolation, "must be true or false")
        return images

    def _processing_state(self, id: str, *, job_kind: str, image: str, script: s3_assets.Asset | None, inputs: list[dict],
                          outputs: list[dict], environment: dict[str, str], job: _JobSettings, result_path: str,
                          user_script: ScriptStep | None = None, source_code: s3_assets.Asset | None = None) -> sfn.CustomState:
        app: dict[str, Any] = {"ImageUri": image}
        instance_type, key = job.instance_type, job.key
        instance_count, isolated = 1, True
        if script is not None:
            inputs = [*inputs, _s3_input("code", script.s3_object_url, _CODE_DIR, object_=True)]
            app["ContainerEntrypoint"] = ["python3", f"{_CODE_DIR}/{script.s3_object_key}"]
        elif user_script is not None and source_code is not None:
            # A processing input downloads the archive as one file; the entrypoint unpacks it beside itself
            # and runs the script from there, as the SDK's FrameworkProcessor does with its runproc.sh
            # (https://github.com/aws/sagemaker-python-sdk/blob/master/src/sagemaker/processing.py,
            # FrameworkProcessor._generate_framework_script). sh -c gives the script's name as $0 and
            # ContainerArguments as "$@".
            archive = f"{_CODE_DIR}/{source_code.s3_object_key}"
            inputs = [*inputs, _s3_input("code", source_code.s3_object_url, _CODE_DIR, object_=True)]
            app["ContainerEntrypoint"] = ["/bin/sh", "-c", f'cd {_CODE_DIR} && tar -xzf {archive} && exec python3 "$0" "$@"', user_script.entry_point]
            if user_script.arguments:
                app["ContainerArguments"] = list(user_script.arguments)
            instance_type = user_script.instance_type or instance_type
            instance_count, isolated = user_script.instance_count or 1, user_script.network_isolation
        parameters: dict[str, Any] = {
            "ProcessingJobName.$": f"States.Format('{self.model_name}-{job_kind}-{{}}-{{}}', $.run.suffix, $$.State.RetryCount)",
            "RoleArn": self.job_role.role_arn,
            "AppSpecification": app,
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {"KmsKeyId": key.key_arn, "Outputs": outputs},
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": instance_count, "InstanceType": instance_type, "VolumeSizeInGB": job.volume_size_gb,
                                  "VolumeKmsKeyId": key.key_arn}
            },
            "NetworkConfig": {"EnableNetworkIsolation": isolated, "EnableInterContainerTrafficEncryption": True, **job.network},
            "StoppingCondition": {"MaxRuntimeInSeconds": int(job.max_runtime.to_seconds())},
        }
        if environment:
            parameters["Environment"] = environment
        return sfn.CustomState(
            self,
            id,
            state_json={
                "Type": "Task",
                # Step Functions' optimized SageMaker integration, run to completion. CDK has no task class
                # for processing jobs, so the state is written out here.
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createProcessingJob.sync",
                "Parameters": parameters,
                "ResultSelector": {"ProcessingJobName.$": "$.ProcessingJobName", "ProcessingJobArn.$": "$.ProcessingJobArn"},
                "ResultPath": result_path,
            },
        )

    def _notify(self, id: str, subject: str, fields: dict[str, Any], model_name: str) -> tasks.SnsPublish:
        message = {"model": model_name, "execution.$": "$$.Execution.Id", **fields}
        task = tasks.SnsPublish(
            self,
            id,
            topic=self.notification_topic,
            subject=f"{subject}: {model_name}"[:100],
            message=sfn.TaskInput.from_object(_paths_resolved(message)),
            result_path=sfn.JsonPath.DISCARD,
        )
        task.add_retry(errors=list(state_machines.SNS_RETRY_ERRORS), interval=durations.seconds(5), max_attempts=3, backoff_rate=2)
        return task

    @staticmethod
    def _pull_repositories(stack: Stack, images: Sequence[ContainerImage]) -> list[str]:
        """The repositories the job role must be allowed to pull from: each image's own (``ContainerImage.repository``:
        a repository of yours, or an image asset's), and those of images given by URI in this stack's own account.
        SageMaker pulls a job's image with the job's role (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html,
        "CreateTrainingJob API: Execution Role Permissions"); SageMaker's own framework and algorithm images need no grant."""
        repositories: list[str] = []
        for image in images:
            if image.repository is not None:
                arn = image.repository.repository_arn
            else:
                uri = image.image_uri
                match = ECR_IMAGE.fullmatch(uri) if not is_token(uri) else None
                if not match or is_token(stack.account) or match["account"] != stack.account:
                    continue
                arn = format_arn(stack, "ecr", "repository", match["repository"], region=match["region"])
            if arn not in repositories:
                repositories.append(arn)
        return repositories

    def _job_statements(self, stack: Stack, key: kms.IKey, subnets: Subnets, scripts: Mapping[str, s3_assets.Asset],
                        repositories: Sequence[str] = ()) -> list[Statement]:
        """The job policy's statements, besides the buckets' own grants."""
        key_arn = key.key_arn
        pull = [
            allow("PullImages", list(PULL_ACTIONS), list(repositories)),
            # GetAuthorizationToken has no resource-level permissions.
            allow("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"]),
        ] if repositories else []
        return [
            *pull,
            # The two bundled scripts (and the user's source archive), each one object of the CDK assets bucket.
            allow("ReadScripts", ["s3:GetObject"], [asset.bucket.arn_for_objects(asset.s3_object_key) for asset in scripts.values()]),
            # Each reaches its job as an S3Prefix input (S3Object is not a data type of a job's input), which
            # SageMaker lists before it downloads: the execution role needs s3:ListBucket on an input's bucket
            # ("CreateProcessingJob API: Execution Role Permissions",
            # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html), as AWS's example grants it: without
            # an s3:prefix condition, since AWS does not document the request SageMaker lists with. The bucket is CDK's
            # assets bucket: listing shows the names (content hashes) of the account's deployment assets, no content.
            *self._list_scripts(stack, scripts),
            # Volume encryption: SageMaker creates grants on the key for the job's instances.
            allow("EncryptJobVolumes", ["kms:CreateGrant"], [key_arn], {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            allow("UseKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], [key_arn]),
            allow("JobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                  [format_arn(stack, "logs", "log-group", "/aws/sagemaker/*", sep=":")]),
            # PutMetricData has no resource-level permissions; the namespaces are SageMaker's own.
            allow("JobMetrics", ["cloudwatch:PutMetricData"], ["*"], {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
            # SageMaker attaches the jobs to the VPC through interfaces it creates with this role.
            *sagemaker_vpc_statements(stack, subnets.subnet_ids, self.security_group, "JobNetworkInterfaces"),
        ]

    @staticmethod
    def _list_scripts(stack: Stack, scripts: Mapping[str, s3_assets.Asset]) -> list[Statement]:
        """``s3:ListBucket`` on each bucket holding ``scripts`` (CDK's assets bucket: one statement, one bucket)."""
        buckets: dict[str, str] = {}  # the bucket, resolved -> its ARN
        for asset in scripts.values():
            buckets.setdefault(json.dumps(stack.resolve(asset.bucket.bucket_arn), sort_keys=True), asset.bucket.bucket_arn)
        return [allow("ListScripts", ["s3:ListBucket"], list(buckets.values()))] if buckets else []

    def _state_machine_statements(self, stack: Stack, model_name: str, group: str, artifact_bucket: s3.IBucket,
                                  artifact_prefix: str, key: kms.IKey, subnets: Subnets, *,
                                  processing_isolated: bool = True, training_isolated: bool = True) -> list[Statement]:
        def arn(service: str, resource: str, name: str) -> str:
            return format_arn(stack, service, resource, name)

        jobs = [arn("sagemaker", "processing-job", f"{model_name}-*"), arn("sagemaker", "training-job", f"{model_name}-*")]
        create = ["sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"]
        topic_key: kms.IKey | None = getattr(self.notification_topic, "master_key", None)

        def guardrails(actions: list[str], isolated: bool = True) -> dict[str, Any]:
            return inside_guardrails(actions, subnet_ids=subnets.subnet_ids, security_group_ids=[self.security_group.security_group_id],
                                     kms_key_arn=key.key_arn, network_isolation=isolated)

        # Jobs may only be created inside the platform's guardrails: its subnets and security group,
        # volumes and outputs encrypted with its key, isolated containers, encrypted inter-node traffic.
        # A script step with network_isolation off needs its kind of job allowed without the isolation
        # condition; the other conditions stay.
        if processing_isolated and training_isolated:
            create_jobs = [allow("CreateJobsInsideGuardrails", create, jobs, guardrails(create))]
        else:
            create_jobs = [
                allow("CreateProcessingJobsInsideGuardrails", create[:1], jobs[:1], guardrails(create[:1], processing_isolated)),
                allow("CreateTrainingJobsInsideGuardrails", create[1:], jobs[1:], guardrails(create[1:], training_isolated)),
            ]
        return [
            *create_jobs,
            allow(
                "FollowAndStopJobs",
                # ListTags as in Step Functions' own policy for the .sync integration
                # (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html), on these jobs only.
                ["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:DescribeTrainingJob",
                 "sagemaker:StopTrainingJob", "sagemaker:AddTags", "sagemaker:ListTags"],
                jobs,
            ),
            # The .sync integration follows jobs through these Step Functions-managed rules.
            state_machines.follow_sagemaker_jobs("FollowJobs", stack, "Training", "Processing"),
            state_machines.pass_job_role(self.job_role.role_arn),
            allow("ReadEvaluation", ["s3:GetObject"], [artifact_bucket.arn_for_objects(f"{artifact_prefix}*")]),
            allow("DecryptEvaluation", ["kms:Decrypt"], [key.key_arn]),
            allow("Register", ["sagemaker:CreateModelPackage"], [arn("sagemaker", "model-package", f"{group}/*"), arn("sagemaker", "model-package-group", group)]),
            allow("Notify", ["sns:Publish"], [self.notification_topic.topic_arn]),
            # Publishing to an encrypted topic needs its key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html):
            # the pipeline's own for the topic it creates, the given topic's otherwise (none for an unencrypted or
            # imported one, whose key the caller grants).
            *([allow("EncryptNotifications", ["kms:GenerateDataKey", "kms:Decrypt"], [topic_key.key_arn])] if topic_key is not None else []),
            # Execution data and logs encrypted with the pipeline's key.
        ]

    def _triggers(self, model_name: str, data_bucket: s3.IBucket, data_prefix: str, schedule: scheduler.ScheduleExpression | None,
                  on_new_data: bool, on_retrain_event: bool, retrain_alarm_names: Sequence[str]) -> None:
        # Each event trigger is one alternative of a single rule's pattern: the default bus holds at most 300
        # rules (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html), shared by every model
        # of the account. EventBridge's $or matches an event if any of its patterns does, each a full pattern
        # with its own source, detail-type and detail
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html, "Or";
        # https://github.com/aws/event-ruler#the-or-primitive, the matcher EventBridge uses).
        self._trigger_inputs = (data_bucket.bucket_name, data_prefix, on_new_data, on_retrain_event)
        self._retrain_alarm_names = list(retrain_alarm_names)
        self.trigger_patterns: dict[str, dict[str, Any]] = self._trigger_patterns()
        """The event triggers' patterns by name (``DriftAlarm``, ``NewData``, ``RetrainRequested``), the
        alternatives of ``trigger_rule``'s pattern."""
        self.trigger_dead_letter_queue: sqs.Queue | None = None
        """Trigger events and scheduled starts that could not start a run, or ``None`` without triggers."""
        self.trigger_rule: events.Rule | None = None
        """The rule that starts a run on any event trigger, or ``None`` without one."""
        self.trigger_schedule: scheduler.Schedule | None = None
        """The EventBridge Scheduler schedule that starts runs on ``schedule``, or ``None``."""
        self._trigger_role: iam.Role | None = None
        if not self.trigger_patterns and schedule is None:
            return
        self._trigger_plumbing(events_=bool(self.trigger_patterns), schedule=schedule is not None)
        if schedule is not None:
            assert self.trigger_dead_letter_queue is not None
            self.trigger_schedule = state_machines.start_on_schedule(
                self, "Schedule", machine=self.state_machine, machine_key_arn=self.key.key_arn, expression=schedule,
                input={"trigger": "Schedule"}, dead_letter_queue=self.trigger_dead_letter_queue, dead_letter_key_arn=self.key.key_arn,
                retry_attempts=TRIGGER_RETRY_ATTEMPTS, max_event_age=durations.hours(TRIGGER_MAX_EVENT_AGE_HOURS),
                account=Aws.ACCOUNT_ID, description=f"Scheduled retraining of {model_name}",
                role_description=f"Starts the scheduled training runs of {model_name}",
                policy_description="Start the training pipeline on its schedule", role=self._trigger_role, role_policy=self._trigger_policy,
            )
        if self.trigger_patterns:
            self._event_rule()

    def _trigger_patterns(self) -> dict[str, dict[str, Any]]:
        bucket_name, data_prefix, on_new_data, on_retrain_event = self._trigger_inputs
        return trigger_patterns(self.model_name, bucket_name, data_prefix, on_new_data=on_new_data, on_retrain_event=on_retrain_event,
                                retrain_alarm_names=self._retrain_alarm_names)

    def _trigger_plumbing(self, *, events_: bool, schedule: bool) -> None:
        """The dead-letter queue, and the one role (and its policy) that starts the machine."""
        dlq_reason = ("This queue is itself the dead-letter queue of the trigger rule's and schedule's targets (cdk-nag "
                      "recognizes only SQS and Lambda dead-letter queues); its alarm notifies the pipeline's topic.")
        self.trigger_dead_letter_queue = dead_letter_queue(
            self, "TriggerDeadLetters", self.key, self.notification_topic, alarm_id="TriggerDeadLetterAlarm",
            alarm_description=f"A trigger could not start the training pipeline of {self.model_name}", reason=dlq_reason,
        )
        stack = Stack.of(self)
        # One role starts the machine for both the rule (EventBridge) and the schedule (Scheduler): the same
        # permission, and one role per model rather than two (IAM's 1,000 roles per account, tests/test_quotas.py).
        principals = [service_principal(service, Aws.ACCOUNT_ID) for service in
                      (("events.amazonaws.com",) if events_ else ()) + (("scheduler.amazonaws.com",) if schedule else ())]
        self._trigger_role = iam.Role(self, "TriggerRole", assumed_by=iam.CompositePrincipal(*principals) if len(principals) > 1 else principals[0],
                                      description=f"Starts the training pipeline of {self.model_name}")
        statements = state_machines.start_execution_statements(stack, self.state_machine.state_machine_arn, self.key.key_arn)
        if schedule:
            statements = state_machines.schedule_role_statements(stack, self.state_machine.state_machine_arn, self.key.key_arn,
                                                                 self.trigger_dead_letter_queue, self.key.key_arn)
        self._trigger_policy = iam.ManagedPolicy(self, "TriggerPolicy", description="Start the training pipeline", roles=[self._trigger_role],
                                                 document=policy_document(statements))

    def _event_rule(self) -> None:
        """The one rule of the event triggers."""
        assert self._trigger_role is not None
        alternatives = list(self.trigger_patterns.values())
        self.trigger_rule = events.Rule(
            self, "TriggerRule", description=self._trigger_rule_description(),
            # Only for the L2's check that a rule has a pattern: the override below is the pattern.
            event_pattern=events.EventPattern(source=sorted({source for pattern in alternatives for source in pattern["source"]})),
            targets=[targets.SfnStateMachine(self.state_machine, role=self._trigger_role.without_policy_updates(),
                                             # which trigger fired: an input transformer can only copy fields of the event
                                             input=events.RuleTargetInput.from_object(
                                                 {"trigger": events.EventField.detail_type, "source": events.EventField.source}),
                                             dead_letter_queue=self.trigger_dead_letter_queue,
                                             retry_attempts=TRIGGER_RETRY_ATTEMPTS, max_event_age=durations.hours(TRIGGER_MAX_EVENT_AGE_HOURS))],
        )
        self._apply_trigger_pattern()
        lost_events_alarm(self, "TriggerLostEventsAlarm", self.trigger_rule, self.notification_topic,
                          f"A trigger event could neither start the training pipeline of {self.model_name} nor be kept in its "
                          "dead-letter queue")

    def _trigger_rule_description(self) -> str:
        return f"Starts a training run of {self.model_name} on: {', '.join(self.trigger_patterns)}"

    def _apply_trigger_pattern(self) -> None:
        """The rule's pattern: the one event trigger's, or the ``$or`` of theirs (which the L2 cannot express)."""
        assert self.trigger_rule is not None
        rule = self.trigger_rule.node.default_child
        assert isinstance(rule, events.CfnRule)
        alternatives = list(self.trigger_patterns.values())
        pattern = alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
        rule.add_property_override("EventPattern", pattern)
        if "source" not in pattern:
            rule.add_property_deletion_override("EventPattern.source")
        rule.description = self._trigger_rule_description()

    def _acknowledge(self, stack: Stack, data_bucket: s3.IBucket, data_prefix: str, artifact_bucket: s3.IBucket,
                     artifact_prefix: str, model_name: str, group: str) -> None:
        # How cdk-nag names each policy resource, all resolved in one call.
        data, artifacts, logs, interfaces, processing_jobs, training_jobs, packages = nag_resources(stack, [
            data_bucket.arn_for_objects(f"{data_prefix}*"),
            artifact_bucket.arn_for_objects(f"{artifact_prefix}*"),
            format_arn(stack, "logs", "log-group", "/aws/sagemaker/*", sep=":"),
            network_interfaces_arn(stack),
            format_arn(stack, "sagemaker", "processing-job", f"{model_name}-*"),
            format_arn(stack, "sagemaker", "training-job", f"{model_name}-*"),
            format_arn(stack, "sagemaker", "model-package", f"{group}/*"),
        ])
        job_reasons = {
            f"[{data}]": "Objects under the model's own data prefix: jobs read whatever data was uploaded there.",
            f"[{artifacts}]": "Objects under the model's own artifact prefix: splits, models, checkpoints and reports named per run.",
            f"[{logs}]": "SageMaker writes job logs to its own /aws/sagemaker/* log groups, named per job.",
            f"[{interfaces}]": "Interfaces SageMaker creates for the jobs in their subnets and security group (named in the same statement).",
            "[Resource::*]": "Only actions without resource-level permissions: cloudwatch:PutMetricData (limited to SageMaker's namespaces), "
                             "EC2 Describe* calls and, with a private image, ecr:GetAuthorizationToken.",
            "[Action::s3:GetObject*]": "CDK's read grant on the model's own data and artifact prefixes: read-only object actions.",
            "[Action::s3:GetBucket*]": "CDK's read grant: bucket metadata reads of the two buckets.",
            "[Action::s3:List*]": "CDK's read grant: listing the two buckets, needed for S3Prefix inputs.",
            "[Action::s3:DeleteObject*]": "CDK's read/write grant on the model's own artifact prefix: jobs overwrite their outputs.",
            "[Action::s3:Abort*]": "CDK's read/write grant: aborting the jobs' own multipart uploads under the artifact prefix.",
            "[Action::kms:GenerateDataKey*]": "Encrypting job outputs with the store's key (data keys of any spec).",
            "[Action::kms:ReEncrypt*]": "CDK's read/write grant on the store's key.",
        }
        acknowledge_each(self.job_policy, {f"{IAM5}{finding}": reason for finding, reason in job_reasons.items()})
        machine_reasons = {
            f"[{processing_jobs}]": "Processing jobs of this model; their names are made per run.",
            f"[{training_jobs}]": "Training jobs of this model; their names are made per run.",
            f"[{artifacts}]": "Reading each run's evaluation report under the model's own artifact prefix.",
            f"[{packages}]": "Registering versions in this model's package group; version numbers are assigned by SageMaker.",
        }
        acknowledge_each(self.state_machine_policy, {f"{IAM5}{finding}": reason for finding, reason in machine_reasons.items()})


def trigger_patterns(model_name: str, data_bucket_name: str, data_prefix: str, *, on_new_data: bool, on_retrain_event: bool,
                     retrain_alarm_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The EventBridge pattern (its JSON) of each event trigger turned on, by trigger name: ``DriftAlarm`` (one
    of ``retrain_alarm_names`` went into ALARM), ``NewData`` (an object created under ``data_prefix``),
    ``RetrainRequested`` (the platform's retrain event for ``model_name``). Each has its own ``source``, so the
    execution input's ``source`` and ``trigger`` (the event's ``detail-type``) tell which one fired."""
    patterns: dict[str, dict[str, Any]] = {}
    if retrain_alarm_names:
        patterns["DriftAlarm"] = {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": list(retrain_alarm_names), "state": {"value": ["ALARM"]}},
        }
    if on_new_data:
        patterns["NewData"] = {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [data_bucket_name]}, "object": {"key": [{"prefix": data_prefix}]}},
        }
    if on_retrain_event:
        patterns["RetrainRequested"] = {
            "source": [RETRAIN_EVENT_SOURCE], "detail-type": [RETRAIN_EVENT_DETAIL_TYPE], "detail": {"model": [model_name]},
        }
    return patterns


def _schedule_expression(name: str, schedule: Any) -> scheduler.ScheduleExpression | None:
    """``schedule`` as EventBridge Scheduler's expression: an ``aws_events.Schedule`` (a rule's cron or rate, read
    in UTC) has the same syntax, read in UTC by Scheduler too."""
    if schedule is None or isinstance(schedule, scheduler.ScheduleExpression):
        return schedule
    if isinstance(schedule, events.Schedule):
        return scheduler.ScheduleExpression.expression(schedule.expression_string)
    raise PropsError(name, "schedule", schedule, "must be an aws_scheduler.ScheduleExpression, or an aws_events.Schedule (cron or rate)")


class _TrainingJob(tasks.SageMakerCreateTrainingJob):
    """CDK's training task, with what its props cannot express added to the rendered parameters:
    the job's own security group, inter-container traffic encryption, managed spot training and
    checkpoints."""

    extra_parameters: dict[str, Any] = {}

    def to_state_json(self, *args: Any, **kwargs: Any) -> Any:
        rendered = super().to_state_json(*args, **kwargs)
        return {**rendered, "Parameters": {**rendered["Parameters"], **self.extra_parameters}}


class _Locations:
    """Where one run's splits, model, checkpoints, report and drift baseline go: ``<prefix><run suffix>/...``."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix

    def run_parameters(self) -> dict[str, str]:
        base = f"s3://{self.bucket}/{self.prefix}{{}}"
        suffix = "States.Hash($$.Execution.Id, 'MD5')"
        return {
            "suffix.$": suffix,
            **{f"{split}_uri.$": f"States.Format('{base}/splits/{split}', {suffix})" for split in ("train", "validation", "test")},
            "model_uri.$": f"States.Format('{base}/model', {suffix})",
            "checkpoint_uri.$": f"States.Format('{base}/checkpoints', {suffix})",
            "evaluation_uri.$": f"States.Format('{base}/evaluation', {suffix})",
            "baseline_uri.$": f"States.Format('{base}/baseline', {suffix})",
            "evaluation_report_uri.$": f"States.Format('{base}/evaluation/evaluation.json', {suffix})",
            "evaluation_key.$": f"States.Format('{self.prefix}{{}}/evaluation/evaluation.json', {suffix})",
        }


class _S3Object(tasks.S3Location):
    """One object's ``s3://`` URI as a channel's location (``S3Location.from_bucket`` renders an https URL)."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self._uri = uri

    def bind(self, task: Any, *, for_reading: bool | None = None, for_writing: bool | None = None) -> tasks.S3LocationConfig:  # noqa: ARG002
        return tasks.S3LocationConfig(uri=self._uri)


def _paths_resolved(value: Any) -> Any:
    """``"key.$": "<path>"`` entries (in nested objects and lists too) as CDK's ``JsonPath`` values."""
    if isinstance(value, dict):
        return {k.removesuffix(".$"): sfn.JsonPath.string_at(v) if k.endswith(".$") else _paths_resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_paths_resolved(v) for v in value]
    return value


def _s3_input(name: str, uri: str, local_path: str, object_: bool = False) -> dict[str, Any]:
    source = {"S3Uri.$": uri} if uri.startswith("$") else {"S3Uri": uri}
    return {
        "InputName": name,
        "S3Input": {
            **source,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            **({"S3CompressionType": "None"} if object_ else {}),
        },
    }


def _s3_output(name: str, uri_path: str, local_path: str) -> dict[str, Any]:
    return {"OutputName": name, "S3Output": {"S3Uri.$": uri_path, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}

