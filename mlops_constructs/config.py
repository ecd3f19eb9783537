"""The platform's stage configuration: a typed model loaded from YAML.

Only ``app.py`` and tests load configuration; constructs take plain, typed arguments and never read
files, environment variables or CDK context.

Every problem with a file is reported as one line naming the field path, the value received and what
is allowed, and all problems are reported at once::

    config/acme.yaml: accounts.dev: must be an AWS account id, a quoted string of exactly 12 digits (got '1234')
    config/acme.yaml: models[1].name: duplicate model name; model names must be unique (got 'churn')
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlops_constructs._deployments import deployment_waits, min_traffic_step_percent
from mlops_constructs._instance_types import instance_type_problem
from mlops_constructs._serving_rules import gradual_deployment_problem, joined_output_problem
from mlops_constructs._s3_names import reserved_prefix
from mlops_constructs._sagemaker_catalog import sagemaker_regions
from mlops_constructs.schedules import SHORTHANDS, resolve_training_schedule

STAGES: tuple[str, ...] = ("dev", "staging", "prod")
_MAX_BUCKET_NAME = 63
"""The deployment stages, in promotion order. Each has its own AWS account."""

StageName = Literal["dev", "staging", "prod"]

XGBOOST_FIRST_UNPICKLED = "1.3-1"
"""SageMaker's XGBoost containers before 1.3-1 (0.90-x, 1.0-1, 1.2-x) save the trained booster with Python's
pickle; from 1.3-1 with ``Booster.save_model`` (XGBoost's own format), which the bundled evaluation loads
(https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-how-to-use.html)."""


def _pickles_models(version: str) -> bool:
    """Whether SageMaker's XGBoost container ``version`` (``<major>.<minor>-<n>``) saves pickles."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return version == "1"  # the legacy tag, XGBoost 0.72
    return (int(match[1]), int(match[2])) < (1, 3)


PROCESSING_FRAMEWORK: tuple[str, str] = ("sklearn", "1.2-1")
"""The SageMaker image (framework, version) the bundled preprocessing script runs in, unless a model
names its own ``processing.preprocess_image``."""

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)


class ConfigError(ValueError):
    """The configuration is invalid.

    ``problems`` holds one human-readable line per problem, each naming the field path, the value
    received and what is allowed. ``str(error)`` is those lines, each prefixed with the source.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


def _instance_type_validator(shape: str, job: str) -> AfterValidator:
    def check(value: str) -> str:
        problem = instance_type_problem(value, shape, job)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


# --------------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------------


def _account_id(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"\d{12}", value):
        raise ValueError("must be an AWS account id, a quoted string of exactly 12 digits")
    return value


def _principal_arn(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"arn:aws:iam::\d{12}:(role|user)/[A-Za-z0-9+=,.@_/*-]{1,512}", value):
        raise ValueError("must be an IAM role or user ARN, arn:aws:iam::<account>:role/<path and name> (* allowed)")
    return value


def _role_name(value: Any) -> Any:
    # IAM's role name characters (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html), and *
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9+=,.@_*-]{1,64}", value):
        raise ValueError("must be an IAM role name: 1 to 64 letters, digits and +=,.@_- (* allowed), no path")
    # The SCPs exempt these roles: a short prefix before * would exempt unrelated roles, one like the CDK bootstrap's
    # its lookalikes.
    star = value.find("*")
    if (star != -1 and (star < 8 or star != len(value) - 1)) or value.lower().startswith("cdk-"):
        raise ValueError("must be a role name, or at least 8 of its first characters followed by one final * (as in "
                         "stacksets-exec-*), and not start with cdk- (the CDK bootstrap's roles): the guardrail SCPs exempt the roles it names")
    return value


STACK_SET_ROLES = ("AWSControlTowerExecution", "AWSCloudFormationStackSetExecutionRole", "stacksets-exec-*")
"""The roles through which CloudFormation StackSets changes its stacks in an account: AWS Control Tower's baselines
(``AWSControlTowerExecution``), a stack set with self-managed permissions (``AWSCloudFormationStackSetExecutionRole``,
unless it names another) and one with service-managed permissions (``stacksets-exec-<id>``, which StackSets creates).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs-self-managed.html,
https://docs.aws.amazon.com/controltower/latest/userguide/roles-how.html"""


def _slug(max_length: int) -> BeforeValidator:
    pattern = re.compile(rf"[a-z][a-z0-9-]{{1,{max_length - 2}}}[a-z0-9]")

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.fullmatch(value) or "--" in value:
            raise ValueError(
                f"must be a lowercase slug of 3 to {max_length} characters: letters, digits and single "
                "hyphens, starting with a letter and not ending with a hyphen"
            )
        return value

    return BeforeValidator(check)


_RFC1918 = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _vpc_cidr(value: Any) -> Any:
    try:
        if not isinstance(value, str):  # ipaddress would take an int (or a bool) as an address
            raise TypeError
        network = ipaddress.IPv4Network(value, strict=True)
    except (ValueError, TypeError):
        raise ValueError("must be an IPv4 network in CIDR notation with no host bits set, e.g. 10.20.0.0/16") from None
    if not 16 <= network.prefixlen <= 22:
        raise ValueError("must have a prefix length from /16 to /22, enough room for a subnet per zone")
    if not any(network.subnet_of(block) for block in _RFC1918):
        raise ValueError("must be inside a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    return str(network)


def _log_retention(value: Any) -> Any:
    if isinstance(value, bool) or value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of the CloudWatch Logs retention periods: {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


OTHER_PARTITION_REGION = re.compile(r"(cn|us-gov|us-iso[a-z]*|eu-isoe|eusc)-.*")
"""Regions outside the ``aws`` partition (China, GovCloud, the isolated and sovereign partitions): the platform writes
``arn:aws:`` ARNs (its roles' trust conditions, its state machines' service integrations) and is tested only there.
``tests/test_config.py`` checks this against botocore's partition data for every region of the catalog."""


def _region(value: Any) -> Any:
    regions = sagemaker_regions()
    if not isinstance(value, str) or value not in regions:
        close = difflib.get_close_matches(str(value), sorted(regions), n=1)
        hint = f"; did you mean {close[0]}?" if close else ", e.g. eu-west-1"
        raise ValueError(f"must be an AWS region where SageMaker is offered{hint}")
    if OTHER_PARTITION_REGION.fullmatch(value):
        raise ValueError("must be a region of the standard AWS partition (aws): the platform's ARNs, trust conditions and state "
                         "machines are written for it; China, GovCloud and the isolated partitions are not supported")
    return value


def _ecr_image(value: Any) -> Any:
    if not isinstance(value, str) or not _ECR_IMAGE.fullmatch(value):
        raise ValueError(
            "must be an ECR image URI, <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>"
        )
    return value


def _schedule(value: Any) -> Any:
    if not isinstance(value, str) or not _SCHEDULE.fullmatch(value):
        raise ValueError("must be an EventBridge schedule expression: rate(<n> <minutes|hours|days>) or cron(<6 fields>)")
    return value


def _training_schedule(value: Any) -> Any:
    if value in SHORTHANDS:
        return value
    if not isinstance(value, str) or not _SCHEDULE.fullmatch(value):
        raise ValueError("must be daily, weekly, or an EventBridge schedule expression: rate(<n> <minutes|hours|days>) or cron(<6 fields>)")
    return value


def _data_prefix(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/", value):
        raise ValueError("must be an S3 key prefix without a leading slash and ending with '/', e.g. churn/raw/")
    return value


MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d+"
)


def _model_package_arn(value: Any) -> Any:
    if not isinstance(value, str) or not MODEL_PACKAGE_ARN.fullmatch(value):
        raise ValueError("must be a versioned model package ARN, arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>")
    return value


_CONNECTION_ARN = re.compile(
    r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
)


def _connection_arn(value: Any) -> Any:
    if not isinstance(value, str) or not _CONNECTION_ARN.fullmatch(value):
        raise ValueError(
            "must be an AWS CodeConnections connection ARN, arn:aws:codeconnections:<region>:<account>:connection/<uuid>"
        )
    return value


def _bucket_name(value: Any) -> Any:
    if (
        not isinstance(value, str)
        or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value)
        or ".." in value
        or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value)
    ):
        raise ValueError("must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens")
    return value


_ECR_IMAGE = re.compile(
    r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9]+([._/-][a-z0-9]+)*(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})"
)
_SCHEDULE = re.compile(r"rate\(\d{1,4} (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\)")

InterfaceEndpointName = Literal[
    "sagemaker-api", "sagemaker-runtime", "sts", "logs", "monitoring", "ecr-api", "ecr-docker", "kms", "states", "events",
    "ssm", "sqs", "sns", "codepipeline", "xray", "execute-api",
]
"""``IsolatedNetwork``'s interface endpoint short names (its ``INTERFACE_ENDPOINT_SERVICES``; a test keeps them equal)."""
AccountId = Annotated[str, BeforeValidator(_account_id)]
EcrImage = Annotated[str, BeforeValidator(_ecr_image)]
Schedule = Annotated[str, BeforeValidator(_schedule)]
TrainingSchedule = Annotated[str, BeforeValidator(_training_schedule)]
DataPrefix = Annotated[str, BeforeValidator(_data_prefix)]
ModelPackageArn = Annotated[str, BeforeValidator(lambda v: _model_package_arn(v))]
ConnectionArn = Annotated[str, BeforeValidator(_connection_arn)]
BucketName = Annotated[str, BeforeValidator(_bucket_name)]
HyperparameterName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,256}$")]
ProcessingInstanceType = Annotated[str, _instance_type_validator("ProcessingInstanceType", "processing")]
Region = Annotated[str, BeforeValidator(_region)]
ProjectSlug = Annotated[str, _slug(16)]
ModelName = Annotated[str, _slug(24)]
VpcCidr = Annotated[str, BeforeValidator(_vpc_cidr)]
LogRetentionDays = Annotated[int, BeforeValidator(_log_retention)]
TrainingInstanceType = Annotated[str, _instance_type_validator("TrainingInstanceType", "training")]
InferenceInstanceType = Annotated[str, _instance_type_validator("ProductionVariantInstanceType", "real-time inference")]
TransformInstanceType = Annotated[str, _instance_type_validator("TransformInstanceType", "batch transform")]


class _Strict(BaseModel):
    # Unknown keys are errors (a typo must never be silently ignored); values are not coerced across
    # types (a YAML number is not an account id).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


class Accounts(_Strict):
    """The AWS account of each role."""

    tooling: AccountId
    """Holds the delivery pipeline."""
    dev: AccountId
    """Trains models, holds the model registry, and runs a dev endpoint."""
    staging: AccountId
    """Runs the staging endpoints."""
    prod: AccountId
    """Runs the production endpoints."""
    allow_shared: bool = False
    """Let one account hold more than one of the four roles, for a trial in a single account. Default:
    each role has its own account, and a repeated account is a configuration error."""

    @model_validator(mode="after")
    def _one_account_per_role(self) -> Accounts:
        if self.allow_shared:
            return self
        roles = ("tooling", "dev", "staging", "prod")
        problems = []
        for index, role in enumerate(roles):
            account = getattr(self, role)
            first = next((other for other in roles[:index] if getattr(self, other) == account), None)
            if first is not None:
                problems.append(_FieldError(
                    (role,), account,
                    f"is the same account as accounts.{first}: tooling, dev, staging and prod each need their own "
                    "account; set accounts.allow_shared: true for a single-account trial",
                ))
        if problems:
            raise _FieldErrors(problems)
        return self

    def for_stage(self, stage: str) -> str:
        return getattr(self, stage)


class DeploymentSettings(_Strict):
    """How a new model version reaches an endpoint (SageMaker blue/green deployment)."""

    strategy: Literal["CANARY", "LINEAR", "ALL_AT_ONCE"]
    traffic_step_percent: int = Field(default=10, ge=1, le=50)
    """Canary size, or each linear step."""
    wait_minutes: int = Field(default=5, ge=1, le=60)
    """Between traffic steps, watching the rollback alarms."""
    termination_wait_minutes: int = Field(default=5, ge=0, le=60)
    max_execution_timeout_minutes: int = Field(default=60, ge=10, le=480)

    @model_validator(mode="after")
    def _sagemaker_rules(self) -> DeploymentSettings:
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html and
        # API_BlueGreenUpdatePolicy.html: a linear step is 10-50% of the fleet; the timeout exceeds the total waiting.
        problems: list[_FieldError] = []
        low = min_traffic_step_percent(self.strategy)
        if self.traffic_step_percent < low:
            problems.append(_FieldError(("traffic_step_percent",), self.traffic_step_percent,
                                        f"must be from {low} to 50 with strategy {self.strategy}: SageMaker shifts a linear step of 10-50% of the fleet"))
        else:
            waits = deployment_waits(self.strategy, self.traffic_step_percent)
            waiting = self.termination_wait_minutes + self.wait_minutes * waits
            if self.max_execution_timeout_minutes <= waiting:
                problems.append(_FieldError(("max_execution_timeout_minutes",), self.max_execution_timeout_minutes,
                                            f"must be more than the deployment's waiting, {waiting} minutes (termination_wait_minutes plus "
                                            f"wait_minutes for each of the {waits} waits of a {self.strategy} deployment by "
                                            f"{self.traffic_step_percent}%)"))
        if problems:
            raise _FieldErrors(problems)
        return self


class RollbackAlarmSettings(_Strict):
    """Thresholds of the alarms that roll a deployment back."""

    max_5xx_per_minute: int = Field(default=1, ge=1, le=100000)
    p99_latency_ms: int = Field(default=1000, ge=1, le=600000)


class OffHoursSettings(_Strict):
    """Scheduled scale-down outside working hours (not for prod)."""

    scale_down: Schedule
    """When off-hours start, e.g. ``cron(0 20 ? * MON-FRI *)``."""
    scale_up: Schedule
    capacity: int = Field(default=1, ge=1, le=20)


class AutoscalingSettings(_Strict):
    """Target tracking on invocations per instance."""

    enabled: bool = True
    """``false`` for one release while an endpoint's instance type changes: SageMaker refuses to change the instance
    type of a variant registered for autoscaling (docs/canary-endpoint.md, "Changing the instance type")."""

    min_capacity: int | None = Field(default=None, ge=1, le=100)
    """Default: the initial instance count."""
    max_capacity: int | None = Field(default=None, ge=1, le=100)
    """Default: twice the initial instance count."""
    target_invocations_per_instance: int = Field(default=100, ge=1, le=100000)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    off_hours: OffHoursSettings | None = None


class ServerlessSettings(_Strict):
    """Serverless inference instead of instances (dev only)."""

    memory_size_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    max_concurrency: int = Field(default=5, ge=1, le=200)


class EndpointSettings(_Strict):
    """How a model is served in one stage."""

    instance_type: InferenceInstanceType = "ml.m5.large"
    """Real-time inference instance type."""
    instance_count: int = Field(default=1, ge=1, le=20)
    """Initial instance count of the production variant."""
    data_capture_percent: int = Field(default=20, ge=0, le=100)
    """Percentage of requests whose payloads are captured for monitoring; 0 turns capture off."""
    deployment: DeploymentSettings | None = None
    """Default: CANARY (10 %, 5 minutes) in staging and prod, ALL_AT_ONCE in dev."""
    alarms: RollbackAlarmSettings = RollbackAlarmSettings()
    autoscaling: AutoscalingSettings = AutoscalingSettings()
    serverless: ServerlessSettings | None = None
    """Serverless inference; dev only. Instances, autoscaling, deployment policy and capture then do not apply."""

    def deployment_for(self, stage: str) -> DeploymentSettings:
        """The configured deployment policy, or the stage's default."""
        return self.deployment or DeploymentSettings(strategy="ALL_AT_ONCE" if stage == "dev" else "CANARY")


class EndpointOverride(_Strict):
    """A model's own serving settings in one stage; keys left out keep the stage's values."""

    instance_type: InferenceInstanceType | None = None
    instance_count: int | None = Field(default=None, ge=1, le=20)
    data_capture_percent: int | None = Field(default=None, ge=0, le=100)


DEFAULT_ENDPOINT_ZONES: dict[str, int] = {"dev": 1, "staging": 2}
"""Zones holding the interface endpoints by default, by stage; prod (and any other) has every zone."""


class StageSettings(_Strict):
    """Settings that apply to everything deployed in one stage."""

    vpc_cidr: VpcCidr
    """CIDR of the stage's isolated VPC; /16 to /22, private."""
    retain_stateful_resources: bool = True
    """Keep keys, buckets, log groups and tables when their stack is deleted. Only dev may set false; every stage's
    artifact store and dev's model registries are kept whatever it says (staging and prod serve from them)."""
    log_retention_days: LogRetentionDays = 365
    """Retention of the stage's CloudWatch log groups (flow logs, job and function logs)."""
    access_log_retention_days: int = Field(default=365, ge=1, le=3653)
    """How long S3 server access logs are kept."""
    noncurrent_version_retention_days: int = Field(default=90, ge=1, le=3653)
    """How long overwritten or deleted object versions are kept before they expire."""
    endpoint: EndpointSettings = EndpointSettings()
    """Default serving settings for every model in this stage."""
    extra_interface_endpoints: list[InterfaceEndpointName] = Field(default_factory=list, max_length=20)
    """Interface VPC endpoints beyond those the stage's constructs call (its network makes only those), e.g.
    ``sagemaker-runtime`` for callers of your own inside the VPC."""
    interface_endpoint_zones: int | None = Field(default=None, ge=1, le=6)
    """How many of the configured availability zones (the first ones) hold the stage's interface VPC endpoints,
    each billed per zone. Default: 1 in dev, 2 in staging, every zone in prod (``endpoint_zones_for``)."""
    api_gateway_logging_role: Literal["create", "existing"] = "create"
    """API Gateway's CloudWatch role of the stage's account, which the models' APIs need for their logs and which is
    one per account and region (``AWS::ApiGateway::Account``): ``create``, the stage's network stack creates it and
    sets it when a model has an API in the stage; ``existing``, the account has one already (a landing zone's, say)
    and the platform leaves it alone."""


class Stages(_Strict):
    dev: StageSettings
    staging: StageSettings
    prod: StageSettings

    @model_validator(mode="after")
    def _stage_rules(self) -> Stages:
        problems: list[_FieldError] = []
        for stage in ("staging", "prod"):
            settings = getattr(self, stage)
            if not settings.retain_stateful_resources:
                problems.append(_FieldError((stage, "retain_stateful_resources"), False,
                                            "must be true: only dev may let its keys, buckets and log groups go with their stacks"))
        for stage in STAGES:
            serverless = getattr(self, stage).endpoint.serverless
            if serverless is not None:
                # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html (feature exclusions)
                problems.append(_FieldError((stage, "endpoint", "serverless"), serverless.model_dump(),
                                            "must not be set: serverless inference supports no VPC configuration or network "
                                            "isolation, which the platform's guardrails require of every model (the CloudFormation "
                                            "execution policy and the ML accounts' SCP deny a model outside a VPC)"))
        if self.prod.endpoint.autoscaling.off_hours is not None:
            problems.append(_FieldError(("prod", "endpoint", "autoscaling", "off_hours"), self.prod.endpoint.autoscaling.off_hours.model_dump(),
                                        "must not be set: prod keeps its capacity around the clock"))
        if problems:
            raise _FieldErrors(problems)
        return self


class BuiltInAlgorithm(_Strict):
    """A SageMaker built-in algorithm or framework image, resolved per region at synth time."""

    framework: str = Field(default="xgboost", pattern=r"^[a-z0-9-]{2,40}$")
    """Framework name as the SageMaker Python SDK knows it, e.g. ``xgboost``, ``sklearn``."""
    version: str = Field(default="1.7-1", pattern=r"^[0-9][0-9a-z.-]{0,20}$")
    """Framework version, e.g. ``1.7-1``."""


class SpotSettings(_Strict):
    """Managed spot training: cheaper, interruptible, resumed from checkpoints."""

    max_wait_hours: int = Field(ge=1, le=672)
    """How long to wait for spot capacity and run, in total; at least ``max_runtime_hours``."""


class TrainingSettings(_Strict):
    """How a model is trained in the dev account."""

    instance_type: TrainingInstanceType = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=100)
    volume_size_gb: int = Field(default=50, ge=1, le=16384)
    max_runtime_hours: int = Field(default=24, ge=1, le=672)
    algorithm: BuiltInAlgorithm | None = None
    """A built-in algorithm. Default: XGBoost 1.7-1 when no ``image`` is given."""
    image: EcrImage | None = None
    """An ECR image URI of your own instead of a built-in algorithm."""
    hyperparameters: dict[HyperparameterName, str | int | float | bool] = Field(default_factory=dict)
    content_type: str = Field(default="text/csv", pattern=r"^[a-z]+/[a-z0-9.+-]+$")
    """Content type of the training channels, the test split and the model's requests."""
    spot: SpotSettings | None = None
    """Managed spot training with checkpoints. Default: on-demand instances."""

    @model_validator(mode="after")
    def _one_algorithm_and_enough_spot_wait(self) -> TrainingSettings:
        if self.algorithm is not None and self.image is not None:
            raise _FieldError(("image",), self.image, "must not be given together with algorithm: choose one")
        if self.spot is not None and self.spot.max_wait_hours < self.max_runtime_hours:
            raise _FieldError(
                ("spot", "max_wait_hours"),
                self.spot.max_wait_hours,
                f"must be at least max_runtime_hours ({self.max_runtime_hours})",
            )
        return self

    def builtin_algorithm(self) -> BuiltInAlgorithm | None:
        """The built-in algorithm to resolve, or ``None`` when an image of your own is named."""
        if self.image is not None:
            return None
        return self.algorithm or BuiltInAlgorithm()


_SPLIT_TOLERANCE = 1e-6
# A processing job's environment values have at most 256 characters; the label's name is one.
_LABEL_NAME_MAX = 256


def _label(value: Any) -> Any:
    allowed = "must be a 0-based column index (negative from the end, -1 the last) or, with header: true, a column name"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(allowed)
    if isinstance(value, str) and not 1 <= len(value) <= _LABEL_NAME_MAX:
        raise ValueError(f"must be a column name of 1 to {_LABEL_NAME_MAX} characters, or a 0-based column index")
    return value


class SplitSettings(_Strict):
    """Fractions of the rows in each split: each above 0, together 1 (within 1e-6)."""

    train: float = Field(default=0.8, gt=0, lt=1)
    validation: float = Field(default=0.1, gt=0, lt=1)
    test: float = Field(default=0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitSettings:
        total = self.train + self.validation + self.test
        if abs(total - 1) > _SPLIT_TOLERANCE:
            raise ValueError(
                f"train, validation and test must sum to 1 (within 1e-6); they sum to {total:.6g} "
                f"(a key left out keeps its default: train 0.8, validation 0.1, test 0.1)"
            )
        return self

    def fractions(self) -> tuple[float, float, float]:
        return (self.train, self.validation, self.test)


_BUNDLED_PREPROCESSING_KEYS = ("split", "header", "label", "seed", "categorical")
"""Keys of ``processing`` that configure the bundled preprocessing script."""


class ProcessingSettings(_Strict):
    """The preprocessing and evaluation jobs around training."""

    instance_type: ProcessingInstanceType = "ml.m5.xlarge"
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_hours: int = Field(default=2, ge=1, le=120)
    preprocess_image: EcrImage | None = None
    """An image whose entrypoint splits the data. Default: the project's script in SageMaker's scikit-learn image."""
    evaluate_image: EcrImage | None = None
    """An image whose entrypoint writes the evaluation report. Default: the project's script in the training image."""
    # The bundled preprocessing script's settings (TrainingPipeline's Preprocessing).
    split: SplitSettings = SplitSettings()
    """Fractions of the rows for train, validation and test. Default: 0.8, 0.1, 0.1."""
    header: bool = False
    """Every data file starts with the same header row. Default: no header row."""
    label: Annotated[int | str, BeforeValidator(_label)] = 0
    """The label column: 0-based index (negative from the end) or, with ``header``, its name. Default: 0, the first column."""
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    """Seeds the shuffle before the split and the drift baseline's sample. Default: 42."""
    categorical: Literal["one_hot", "refuse"] = "one_hot"
    """A non-numeric feature column: one-hot encode it, or fail the job naming it. Default: one_hot."""

    @model_validator(mode="after")
    def _bundled_preprocessing(self) -> ProcessingSettings:
        if self.preprocess_image is not None:
            # A key at its default is harmless (and what a dumped configuration holds); any other value would be ignored.
            given = [key for key in _BUNDLED_PREPROCESSING_KEYS if getattr(self, key) != ProcessingSettings.model_fields[key].default]
            if given:
                raise _FieldError((given[0],), getattr(self, given[0]) if given[0] != "split" else self.split.model_dump(),
                                  "configures the bundled preprocessing script, which preprocess_image replaces: remove one or the other")
        if isinstance(self.label, str) and not self.header:
            raise _FieldError(("label",), self.label,
                              "names a column, which needs header: true; without a header row give the label's 0-based index (-1 for the last column)")
        return self


def _gate_path(value: Any) -> Any:
    from mlops_constructs.training.gate import GATE_PATH, PATH_RULE

    if not isinstance(value, str) or not GATE_PATH.fullmatch(value):
        raise ValueError(PATH_RULE)
    return value


class GateConditionSettings(_Strict):
    """One condition on a value of the evaluation report; ``op`` or ``direction``, not both."""

    path: Annotated[str, BeforeValidator(_gate_path)]
    """Dot-separated keys of ``evaluation.json`` leading to a number, e.g. ``regression_metrics.mse.value``."""
    op: Literal["<=", ">="] | None = None
    """``>=``: at least the threshold; ``<=``: at most."""
    direction: Literal["maximize", "minimize"] | None = None
    """The same as ``op``, in words: ``maximize`` is ``>=``, ``minimize`` is ``<=``."""
    threshold: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _op_or_direction(self) -> GateConditionSettings:
        if (self.op is None) == (self.direction is None):
            given = {"op": self.op, "direction": self.direction}
            raise _FieldError(("op",), given, "set exactly one of op ('>=' or '<=') and direction (maximize or minimize)")
        return self

    @property
    def operator(self) -> str:
        from mlops_constructs.training.gate import DIRECTION_OPS

        return self.op or DIRECTION_OPS[self.direction]  # type: ignore[index]


class GateSettings(_Strict):
    """What a model's evaluation report must show before the model is registered: ``conditions``, or
    the one-metric form ``metric``/``threshold``/``direction`` (kept for existing configurations)."""

    conditions: list[GateConditionSettings] | None = Field(default=None, min_length=1, max_length=10)
    """All must hold. Default: the one-metric form's condition."""
    metric: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    """One-metric form: ``<section>.<metric>.value`` of the bundled report (``metrics.<metric>.value`` with
    ``processing.evaluate_image``). Default: ``auc``."""
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    """One-metric form. Default: 0.8."""
    direction: Literal["maximize", "minimize"] | None = None
    """One-metric form: ``maximize``: the metric must be at least the threshold; ``minimize``: at most. Default: ``maximize``."""

    @model_validator(mode="after")
    def _one_form(self) -> GateSettings:
        if self.conditions is not None:
            legacy = {key: getattr(self, key) for key in ("metric", "threshold", "direction") if getattr(self, key) is not None}
            if legacy:
                raise _FieldErrors([
                    _FieldError((key,), value, "must not be set together with conditions: write it as one more "
                                               "condition, {path: <section>.<metric>.value, op: '>=' or '<=', threshold: <number>}")
                    for key, value in legacy.items()
                ])
        return self

    def conditions_for(self, problem_type: str, custom_report: bool) -> list[tuple[tuple[str, ...], str, str, float]]:
        """Each condition as (its config keys under ``gate``, path, op, threshold); the one-metric form
        mapped onto its path in the report (see :func:`mlops_constructs.training.gate.legacy_path`)."""
        from mlops_constructs.training.gate import DIRECTION_OPS, legacy_path

        if self.conditions is not None:
            return [(("conditions", index), c.path, c.operator, c.threshold) for index, c in enumerate(self.conditions)]
        path = legacy_path(self.metric or "auc", problem_type, custom_report)
        return [(("metric",), path, DIRECTION_OPS[self.direction or "maximize"], 0.8 if self.threshold is None else self.threshold)]


class TriggerSettings(_Strict):
    """What starts a training run, besides a manual start."""

    schedule: TrainingSchedule | None = None
    """``daily`` or ``weekly``: at a time (and weekday) derived from the model's name, between 00:00 and 05:59
    UTC (:func:`mlops_constructs.schedules.resolve_training_schedule`), so that models do not all start together;
    or an EventBridge schedule expression, kept as written (UTC), e.g. ``rate(7 days)`` or ``cron(0 3 ? * MON *)``.
    Default: none."""

    def schedule_expression(self, model_name: str) -> str | None:
        """``schedule`` as the expression EventBridge Scheduler runs for the model ``model_name``, or ``None``."""
        return None if self.schedule is None else resolve_training_schedule(self.schedule, model_name)
    on_new_data: bool = False
    """Start when an object is created under the model's data prefix."""
    on_retrain_event: bool = True
    """Start on the platform's ``Model Retrain Requested`` event for this model (drift detection)."""


_MODEL_MONITOR_KEYS = {
    "baseline_prefix": "each model version now brings its own baseline, written by the training pipeline and "
                       "recorded in its model package: remove this key",
    "features": "the drift job tests every feature of the baseline, each with the test Evidently picks for its type "
                "and sample size: remove this key",
}


class MonitoringSettings(_Strict):
    """Drift checks of the model's endpoints (``DriftMonitor``: Evidently in a SageMaker processing job,
    against the served version's own baseline); drift starts a retraining."""

    schedule: Literal["hourly", "daily"] | None = None
    """How often the previous window's captured requests are checked: ``hourly`` (at a minute between 5 and 55
    past) or ``daily`` (between 00:15 and 05:59 UTC), the time derived from the endpoint's name
    (:func:`mlops_constructs.schedules.drift_cron`). Default: ``hourly``. Endpoints only: a batch-only model's
    check runs after each batch run, and refuses it."""
    drift_threshold: float = Field(default=0.5, gt=0, le=1)
    """The share of drifted features (0-1) that raises the drift alarm."""
    min_rows: int = Field(default=100, ge=1, le=10_000_000)
    """Captured rows a window needs for a verdict; fewer is ``insufficient-data``, neither drift nor failure."""
    instance_type: ProcessingInstanceType = "ml.m5.large"
    """Of the drift job."""
    stages: list[Literal["dev", "staging", "prod"]] = Field(default_factory=lambda: ["staging", "prod"], min_length=1, max_length=3)
    """The stages whose endpoints are checked. Default: staging and prod; dev's endpoint serves the data
    scientists' own tests, whose traffic says little about drift and whose check would cost a job an hour."""

    @field_validator("stages")
    @classmethod
    def _stages_once(cls, stages: list[str]) -> list[str]:
        if len(set(stages)) != len(stages):
            raise ValueError("must name each stage once")
        return stages

    @model_validator(mode="before")
    @classmethod
    def _model_monitor_keys(cls, data: Any) -> Any:
        # SageMaker Model Monitor is closed to new customers; its keys are refused with what replaced them.
        if isinstance(data, dict):
            legacy = [_FieldError((key,), data[key], f"was a Model Monitor setting; the drift job replaced Model Monitor ({why})")
                      for key, why in _MODEL_MONITOR_KEYS.items() if key in data]
            schedule = data.get("schedule")
            if isinstance(schedule, str) and schedule.startswith(("cron(", "rate(")):
                legacy.append(_FieldError(("schedule",), schedule, "must be hourly or daily: the drift job checks the previous hour or "
                                                                   "day of captured requests (Model Monitor's cron expressions are gone)"))
            if legacy:
                raise _FieldErrors(legacy)
        return data


class BatchSettings(_Strict):
    """Batch inference of the model (``BatchInference``): in each of ``stages``, a SageMaker batch transform job
    scores everything under the input prefix with the stage's released version, writing under a run-dated prefix
    of the stage's artifact bucket, with an Athena table over the results. The fields are SageMaker's
    ``CreateTransformJob`` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html)."""

    stages: list[StageName] = Field(default_factory=lambda: ["staging", "prod"], min_length=1)
    """The stages that run it; dev is optional."""
    input_prefix: DataPrefix | None = None
    """What each run scores: every object under this prefix of the stage's data bucket. Default: ``<name>/batch-input/``."""
    schedule: Schedule | None = None
    """Start a run on this EventBridge Scheduler expression (UTC), e.g. ``cron(0 4 * * ? *)``. Default: none."""
    on_new_data: bool = False
    """Start a run when an object is created under the input prefix (runs never overlap: one started while
    another scores does nothing)."""
    instance_type: TransformInstanceType = "ml.m5.large"
    instance_count: int = Field(default=1, ge=1, le=100)
    max_payload_mb: int = Field(default=6, ge=0, le=100)
    """The largest mini-batch sent to the container (``MaxPayloadInMB``; 0 streams)."""
    max_concurrent_transforms: int | None = Field(default=None, ge=1, le=1000)
    """Requests per instance at a time. Default: SageMaker's."""
    batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord"
    split_type: Literal["None", "Line", "RecordIO", "TFRecord"] = "Line"
    content_type: str = Field(default="text/csv", pattern=r"^[a-z]+/[a-z0-9.+-]+$")
    """Of the input."""
    accept: Literal["text/csv", "application/jsonlines"] = "text/csv"
    """Of the output: the formats the results table reads."""
    join_source: Literal["None", "Input"] = "None"
    """``Input`` writes each input record beside its prediction."""
    input_filter: str = Field(default="$", pattern=r"^\$.{0,62}$")
    """JSONPath selecting what of each record the model sees, e.g. ``$[1:]`` to drop an id column."""
    output_filter: str = Field(default="$", pattern=r"^\$.{0,62}$")
    """JSONPath selecting what of the joined record is written."""
    output_columns: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,255}$")], str] = Field(
        default_factory=lambda: {"prediction": "string"}, min_length=1)
    """The results table's columns, name to Athena type, in the output's order."""

    @model_validator(mode="after")
    def _triggered_and_within_limits(self) -> BatchSettings:
        problems: list[_FieldError] = []
        if self.schedule is None and not self.on_new_data:
            problems.append(_FieldError(("schedule",), None, "is required unless on_new_data is true: nothing would start a run"))
        if self.max_concurrent_transforms is not None and self.max_concurrent_transforms * self.max_payload_mb > 100:
            problems.append(_FieldError(("max_concurrent_transforms",), self.max_concurrent_transforms,
                                        f"times max_payload_mb ({self.max_payload_mb}) must be at most 100 MB (SageMaker's limit)"))
        if len(set(self.stages)) != len(self.stages):
            problems.append(_FieldError(("stages",), self.stages, "must name each stage once"))
        if (joined := joined_output_problem(self.join_source, self.content_type, self.accept)) is not None:
            problems.append(_FieldError((joined[0],), joined[1], joined[2]))
        if "run_date" in self.output_columns:
            problems.append(_FieldError(("output_columns", "run_date"), self.output_columns["run_date"],
                                        "is the results table's partition column: name the column otherwise"))
        for column, type_ in self.output_columns.items():
            if not re.fullmatch(r"(string|double|float|bigint|int|smallint|tinyint|boolean|date|timestamp|decimal\(\d+,\s*\d+\))", type_):
                problems.append(_FieldError(("output_columns", column), type_, "must be an Athena type: string, double, float, bigint, int, "
                                                                              "smallint, tinyint, boolean, date, timestamp or decimal(p,s)"))
        if problems:
            raise _FieldErrors(problems)
        return self


class SmokeTestSettings(_Strict):
    """A request the delivery pipeline sends to the model's staging endpoint after deploying it."""

    content_type: str = Field(default="text/csv", pattern=r"^[a-z]+/[a-z0-9.+-]+$")
    body: str = Field(min_length=1, max_length=4096)
    """The request body, e.g. one CSV row of features without the label."""


# --------------------------------------------------------------------------------------------------
# The inference API in front of a model's endpoints (InferenceApi)
# --------------------------------------------------------------------------------------------------

_USER_POOL_ARN = re.compile(r"arn:aws[a-z-]*:cognito-idp:(?P<region>[a-z0-9-]+):\d{12}:userpool/[a-z0-9-]+_[0-9a-zA-Z]+")
_DOMAIN_NAME = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}")


def _user_pool_arn(value: Any) -> Any:
    if not isinstance(value, str) or not _USER_POOL_ARN.fullmatch(value):
        raise ValueError("must be a Cognito user pool ARN, arn:aws:cognito-idp:<region>:<account>:userpool/<region>_<id>")
    return value


def _domain_name(value: Any) -> Any:
    if not isinstance(value, str) or not _DOMAIN_NAME.fullmatch(value):
        raise ValueError("must be a lowercase DNS name like churn.api.example.com")
    return value


def _certificate_arn(value: Any) -> Any:
    if not isinstance(value, str) or not _CERTIFICATE_ARN.fullmatch(value):
        raise ValueError("must be an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<uuid>")
    return value


class ApiThrottlingSettings(_Strict):
    """The API stage's throttling (API Gateway's account default is 10,000 requests per second, burst 5,000)."""

    rate_limit: float = Field(default=50, gt=0, le=10000)
    """Requests per second, steady state. Default: 50."""
    burst_limit: int = Field(default=100, ge=0, le=5000)
    """Default: 100."""


class ApiDomainSettings(_Strict):
    """A custom domain for the API, with its ACM certificate in the platform's region."""

    domain_name: Annotated[str, BeforeValidator(_domain_name)]
    certificate_arn: Annotated[str, BeforeValidator(_certificate_arn)]


class ApiSettings(_Strict):
    """An API Gateway REST API in front of the model's endpoint (``InferenceApi``), deployed with it by the
    model's release pipeline in each of ``stages``."""

    stages: list[StageName] = Field(default_factory=lambda: ["staging", "prod"], min_length=1, max_length=3)
    """The stages whose endpoint gets the API. Default: staging and prod."""
    endpoint_type: Literal["regional", "private"] = "regional"
    """``private``: reachable only from the stage's VPC, through an ``execute-api`` interface endpoint the
    platform then adds to it. Default: regional."""
    authorization: Literal["iam", "cognito"] = "iam"
    """``iam``: callers sign with SigV4 and need ``execute-api:Invoke``; ``cognito``: callers send a token of
    ``user_pool_arn``. Default: iam."""
    user_pool_arn: Annotated[str, BeforeValidator(_user_pool_arn)] | None = None
    """The Cognito user pool, with ``authorization: cognito`` only."""
    throttling: ApiThrottlingSettings = ApiThrottlingSettings()
    api_key_required: bool = False
    """Callers must also send an API key (``x-api-key``) of the API's usage plan, which then throttles (and with
    ``quota_per_day`` caps) each key. Default: false: the usage plan meters nothing (a plan meters only requests that
    carry an API key, on methods that require one) and the stage's ``throttling`` is what limits IAM and Cognito
    callers. The delivery pipeline's smoke test has no key, so with true it calls the endpoint only, not the API."""
    quota_per_day: int | None = Field(default=None, ge=1, le=2_000_000_000)
    """Requests per day per API key of the usage plan; with ``api_key_required: true`` only. Default: no quota."""
    waf_rate_limit: int = Field(default=3000, ge=10, le=2_000_000_000)
    """Requests per client IP per 5 minutes before the web ACL blocks it. Default: 3000."""
    content_types: list[Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$")]] = Field(
        default_factory=lambda: ["text/csv", "application/json"], min_length=1, max_length=10)
    """The request content types accepted; others are answered 415. Default: text/csv and application/json."""
    max_body_kb: int = Field(default=16, ge=1, le=64)
    """The largest request body in KB, enforced by the web ACL (which inspects at most 64 KB). Default: 16."""
    custom_domain: ApiDomainSettings | None = None
    """With ``endpoint_type: regional`` only. Default: none, the ``execute-api`` URL only."""

    @model_validator(mode="after")
    def _authorization_and_its_pool(self) -> ApiSettings:
        problems: list[_FieldError] = []
        if self.authorization == "cognito" and self.user_pool_arn is None:
            problems.append(_FieldError(("user_pool_arn",), None, "is required with authorization: cognito"))
        if self.authorization == "iam" and self.user_pool_arn is not None:
            problems.append(_FieldError(("user_pool_arn",), self.user_pool_arn, "must not be set with authorization: iam; set authorization: cognito to use it"))
        if self.quota_per_day is not None and not self.api_key_required:
            problems.append(_FieldError(("quota_per_day",), self.quota_per_day,
                                        "must not be set without api_key_required: true: a usage plan's quota counts only requests with an API key"))
        if self.custom_domain is not None and self.endpoint_type == "private":
            # A private API's custom domain is AWS::ApiGateway::DomainNameV2 with more resources, not built here
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-custom-domains-cfn.html).
            problems.append(_FieldError(("custom_domain", "domain_name"), self.custom_domain.domain_name,
                                        "must not be set with endpoint_type: private; a custom domain is built for a regional API only"))
        for index, stage in enumerate(self.stages):
            if stage in self.stages[:index]:
                problems.append(_FieldError(("stages", index), stage, "duplicate stage; list each stage once"))
        for index, content_type in enumerate(self.content_types):
            if content_type in self.content_types[:index]:
                problems.append(_FieldError(("content_types", index), content_type, "duplicate content type; list each once"))
        if problems:
            raise _FieldErrors(problems)
        return self


def _api_problems(config: PlatformConfig) -> list[_FieldError]:
    """An API's smoke test must send a content type the API accepts; its user pool and certificate must be in
    the platform's region."""
    problems: list[_FieldError] = []
    for index, model in enumerate(config.models):
        api = model.api
        if api is None:
            continue
        if (model.smoke_test is not None and "staging" in api.stages and not api.api_key_required
                and model.smoke_test.content_type not in api.content_types):
            problems.append(_FieldError(
                ("models", index, "smoke_test", "content_type"), model.smoke_test.content_type,
                f"must be one of models[{index}].api.content_types ({', '.join(api.content_types)}): the staging smoke test also calls the API",
            ))
        pool = _USER_POOL_ARN.fullmatch(api.user_pool_arn or "")
        if pool is not None and pool["region"] != config.region:
            problems.append(_FieldError(("models", index, "api", "user_pool_arn"), api.user_pool_arn,
                                        f"must be a user pool of region {config.region}, the API's"))
        if api.custom_domain is not None and f":acm:{config.region}:" not in api.custom_domain.certificate_arn:
            problems.append(_FieldError(("models", index, "api", "custom_domain", "certificate_arn"), api.custom_domain.certificate_arn,
                                        f"must be a certificate of region {config.region}: a regional API's domain uses a certificate of its region"))
    return problems


# SageMaker's built-in algorithms (https://docs.aws.amazon.com/sagemaker/latest/dg/algos.html), as the SageMaker
# SDK names their images: they report their own metrics, which a tuning objective names without a regex.
BUILTIN_ALGORITHMS = frozenset({
    "xgboost", "linear-learner", "knn", "factorization-machines", "blazingtext", "image-classification", "object-detection",
    "semantic-segmentation", "ntm", "lda", "kmeans", "pca", "randomcutforest", "ipinsights", "object2vec", "seq2seq", "forecasting-deepar",
})


class TuningObjectiveSettings(_Strict):
    """The metric a tuning job optimizes."""

    metric: str = Field(min_length=1, max_length=255)
    """The metric's name as the training jobs report it, e.g. ``validation:auc`` for XGBoost."""
    type: Literal["Maximize", "Minimize"]
    regex: str | None = None
    """How to read the metric from the training logs (its first group is the value): required with
    ``training.image`` or a framework image, refused with a built-in algorithm (which reports its own metrics)."""


class TuningRangeSettings(_Strict):
    """One searched hyperparameter: ``{type: continuous|integer, min, max, scaling}`` or ``{type: categorical, values}``."""

    type: Literal["continuous", "integer", "categorical"]
    min: int | float | None = None
    max: int | float | None = None
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] | None = None
    """Default: ``Auto``."""
    values: list[str | int | float] | None = None

    @model_validator(mode="after")
    def _keys_of_its_type(self) -> TuningRangeSettings:
        numeric = self.type != "categorical"
        wrong = [key for key in (("values",) if numeric else ("min", "max", "scaling")) if getattr(self, key) is not None]
        missing = [key for key in (("min", "max") if numeric else ("values",)) if getattr(self, key) is None]
        problems = [_FieldError((key,), getattr(self, key), f"does not apply to a {self.type} range: remove it") for key in wrong]
        problems += [_FieldError((key,), None, f"is required for a {self.type} range") for key in missing]
        if problems:
            raise _FieldErrors(problems)
        return self

    def as_range(self) -> Any:
        from mlops_constructs.training.tuning import CategoricalRange, ContinuousRange, IntegerRange

        if self.type == "categorical":
            return CategoricalRange(values=tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in self.values or ()))
        kind = IntegerRange if self.type == "integer" else ContinuousRange
        return kind(min=self.min, max=self.max, scaling=self.scaling or "Auto")  # type: ignore[arg-type]


class TuningSettings(_Strict):
    """Hyperparameter tuning: a SageMaker tuning job instead of one training job; its best model goes on."""

    objective: TuningObjectiveSettings
    ranges: dict[str, TuningRangeSettings]
    """The searched hyperparameters by name; at least one, none also in ``training.hyperparameters``."""
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    max_jobs: int | None = Field(default=None, ge=1)
    """Training jobs in all. Default: 10; with Grid, the number of combinations (a given value must equal it)."""
    max_parallel_jobs: int = Field(default=1, ge=1)
    """Training jobs at a time, at most ``max_jobs``."""
    early_stopping: Literal["Off", "Auto"] = "Off"
    """``Auto`` stops jobs unlikely to beat the best; ``Off`` with Hyperband."""

    def as_tuning(self) -> Any:
        """The construct's ``Tuning``."""
        from mlops_constructs.training.tuning import Tuning, TuningObjective

        objective = TuningObjective(metric=self.objective.metric, type=self.objective.type, regex=self.objective.regex)
        return Tuning(objective=objective, ranges={name: r.as_range() for name, r in self.ranges.items()}, strategy=self.strategy,
                      max_jobs=self.max_jobs, max_parallel_jobs=self.max_parallel_jobs, early_stopping=self.early_stopping)

    @model_validator(mode="after")
    def _tuning_rules(self) -> TuningSettings:
        from mlops_constructs.training.tuning import problems

        found = [_FieldError(_config_keys(keys), value, allowed) for keys, value, allowed in problems(self.as_tuning())]
        if found:
            raise _FieldErrors(found)
        return self


def _config_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    # The construct's range fields are the configuration's keys (min, max, scaling, values): the same path.
    return keys


SCRIPT_FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "tensorflow")
"""Frameworks a script step may run in: SageMaker's framework images with script mode, resolved per
region at synth (``mlops_constructs.training.images``); PyTorch's and TensorFlow's per instance type too."""
# A job's environment: at most 100 variables; a processing job's names and values at most 256 characters.
_ENVIRONMENT_MAX, _ENVIRONMENT_VALUE_MAX = 100, 256
EnvironmentName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,255}$")]
EnvironmentValue = Annotated[str, Field(max_length=_ENVIRONMENT_VALUE_MAX)]
# Hyperparameters through which a script-mode training job finds its script; the platform sets them.
_SCRIPT_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region", "sagemaker_container_log_level")
# ContainerArguments of a processing job: at most 256 of 1 to 256 characters.
ContainerArgument = Annotated[str, Field(min_length=1, max_length=256)]


def _entry_point(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"[\w./-]{1,200}\.py", value) or value.startswith("/") or ".." in value.split("/"):
        raise ValueError("must be a .py file's path relative to source_dir, without '..' (train.py, jobs/train.py)")
    return value


class ScriptSettings(_Strict):
    """One step run in script mode: a script of ``code.source_dir`` in a SageMaker framework image."""

    entry_point: Annotated[str, BeforeValidator(_entry_point)]
    """The script's path relative to ``source_dir`` (``train.py``, ``jobs/train.py``)."""
    framework: Literal["sklearn", "xgboost", "pytorch", "tensorflow"] | None = None
    """The SageMaker framework image the script runs in: ``sklearn`` (scikit-learn), ``xgboost``, ``pytorch``
    or ``tensorflow`` (their training images, CPU or GPU by the step's instance type). Exactly one of
    ``framework`` (with ``version``) and ``dockerfile``."""
    version: str | None = Field(default=None, pattern=r"^[0-9][0-9a-z.-]{0,20}$")
    """The framework image's version as SageMaker names it, e.g. ``1.2-1`` (sklearn), ``1.7-1`` (xgboost),
    ``2.5`` (pytorch), ``2.16`` (tensorflow)."""
    dockerfile: str | None = Field(default=None, min_length=1, max_length=300)
    """Your own image instead of a framework's: a Dockerfile's path relative to the repository root (where
    ``cdk synth`` runs), built
    from its folder (the build context) as a CDK Docker image asset, which the delivery pipeline builds and
    publishes to the dev account. The way to ship dependencies the framework images lack: the jobs have no
    internet, so ``pip install`` at job start fails. Base it on a SageMaker framework image (for the train
    step it must keep SageMaker's training toolkit, as those do)."""
    environment: dict[EnvironmentName, EnvironmentValue] = Field(default_factory=dict, max_length=_ENVIRONMENT_MAX)
    """Environment variables of the job: at most 100, string values of at most 256 characters. Default: none."""
    instance_count: int | None = Field(default=None, ge=1, le=100)
    network_isolation: bool = True
    """Isolate the container from the network. Turn off only for a script that calls AWS itself (reads S3
    through the SDK); the job still runs in the VPC, reaching only its endpoints. Default: true."""


    @field_validator("dockerfile")
    @classmethod
    def _a_dockerfile(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not Path(value).is_file():
            raise ValueError(f"must be a file, relative to the working directory of cdk synth ({Path.cwd()}); its folder is the build context")
        return value

    @model_validator(mode="after")
    def _framework_or_dockerfile(self) -> ScriptSettings:
        if self.dockerfile is not None:
            if self.framework is not None or self.version is not None:
                given = "framework" if self.framework is not None else "version"
                raise _FieldError((given,), getattr(self, given), "must not be given with dockerfile, which names the step's image: remove one")
        elif self.framework is None:
            raise _FieldError(("framework",), None, f"is required (one of {', '.join(SCRIPT_FRAMEWORKS)}, with version), unless dockerfile names your own image")
        elif self.version is None:
            raise _FieldError(("version",), None, f"is required with framework {self.framework}: the image's version as SageMaker names it")
        return self


class ProcessingScriptSettings(ScriptSettings):
    """A preprocess or evaluate step run in script mode: a processing job."""

    arguments: list[ContainerArgument] = Field(default_factory=list, max_length=256)
    """The script's command-line arguments, strings. Default: none."""
    instance_type: ProcessingInstanceType | None = None
    """Default: ``processing.instance_type``."""


class TrainingScriptSettings(ScriptSettings):
    """The train step run in script mode: a training job; the hyperparameters are its arguments."""

    @field_validator("entry_point")
    @classmethod
    def _at_the_root(cls, value: str) -> str:
        # The framework containers run the train script as a module of the unpacked source directory (the XGBoost
        # image: `python -m <name>`), so it must be at its root, as the SageMaker SDK requires of entry_point.
        if "/" in value:
            raise ValueError("must be a .py file at the root of source_dir for the train step (the framework containers run "
                             "it as a module of that directory): move it there, it may import the rest")
        return value

    instance_type: TrainingInstanceType | None = None
    """Default: ``training.instance_type``; ``instance_count`` defaults to ``training.instance_count``."""


class CodeSettings(_Strict):
    """Bring your own code: steps run as scripts of one source directory, in script mode."""

    source_dir: str = Field(min_length=1)
    """The scripts' directory, relative to the working directory of ``cdk synth`` (the repository root);
    shipped whole as one ``sourcedir.tar.gz`` asset."""
    preprocess: ProcessingScriptSettings | None = None
    """Default: the bundled preprocessing (or ``processing.preprocess_image``)."""
    train: TrainingScriptSettings | None = None
    """Default: the built-in algorithm (or ``training.image``)."""
    evaluate: ProcessingScriptSettings | None = None
    """Default: the bundled evaluation (or ``processing.evaluate_image``)."""

    @field_validator("source_dir")
    @classmethod
    def _a_directory(cls, value: str) -> str:
        if not Path(value).is_dir():
            raise ValueError(f"must be a directory, relative to the working directory of cdk synth ({Path.cwd()})")
        return value

    @model_validator(mode="after")
    def _steps_and_their_scripts(self) -> CodeSettings:
        steps = {"preprocess": self.preprocess, "train": self.train, "evaluate": self.evaluate}
        if all(step is None for step in steps.values()):
            raise _FieldError(("source_dir",), self.source_dir, "is run by nothing: add at least one of preprocess, train, evaluate")
        for key, step in steps.items():
            if step is not None and not (Path(self.source_dir) / step.entry_point).is_file():
                raise _FieldError((key, "entry_point"), step.entry_point, f"must be a file in source_dir {self.source_dir}")
        return self


class ModelSettings(_Strict):
    """One model: its training, its registry and its endpoints."""

    name: ModelName
    """Lowercase slug, unique within the project; used in resource names."""
    model_package_arn: ModelPackageArn | None = None
    """The approved version to serve, when no ``-c model_package_arn.<name>=...`` context names one.
    A model with neither gets no endpoint stacks."""
    data_prefix: DataPrefix | None = None
    """Where the model's raw data lives in the dev data bucket. Default: ``<name>/``."""
    training: TrainingSettings = TrainingSettings()
    processing: ProcessingSettings = ProcessingSettings()
    code: CodeSettings | None = None
    """Steps run as your own scripts (script mode). Default: none; every step as ``training`` and ``processing`` say."""
    problem_type: Literal["binary_classification", "multiclass_classification", "regression"] = "binary_classification"
    """What the model predicts, and so what the bundled evaluation script scores and which section of
    SageMaker's model-quality format it writes: ``binary_classification_metrics``,
    ``multiclass_classification_metrics`` or ``regression_metrics``."""
    gate: GateSettings = GateSettings()
    triggers: TriggerSettings = TriggerSettings()
    monitoring: MonitoringSettings | None = None
    """Drift checks: of the endpoints' captured requests, or, for a batch-only model, of the input each batch run
    scored (after the run; ``schedule`` does not apply). Default: none."""
    endpoints: dict[StageName, EndpointOverride] = Field(default_factory=dict)
    """Per-stage overrides of the stage's endpoint settings; keys left out keep the stage's values."""
    smoke_test: SmokeTestSettings | None = None
    """What the delivery pipeline sends to the staging endpoint after each deployment; an error
    response stops the release before prod. Default: the endpoint is not invoked."""
    tuning: TuningSettings | None = None
    """Hyperparameter tuning instead of one training job. Default: one training job."""
    api: ApiSettings | None = None
    """An API Gateway REST API in front of the model's endpoint in some stages. Default: none, the endpoint only."""
    serving: list[Literal["realtime", "batch"]] = Field(default_factory=lambda: ["realtime"], min_length=1, max_length=2)
    """How the released version serves: ``realtime`` (an endpoint in every stage), ``batch`` (batch transform runs,
    ``batch``), or both. A batch-only model has no endpoint, no canary and no smoke test; its ``monitoring``, if any,
    checks the drift of each batch run's input instead of captured requests."""
    batch: BatchSettings | None = None
    """The batch transform runs, required with ``serving`` including ``batch``."""

    @property
    def realtime(self) -> bool:
        """Whether the model is served by endpoints."""
        return "realtime" in self.serving

    def batch_in(self, stage: str) -> bool:
        """Whether the model runs batch transforms in ``stage``."""
        return self.batch is not None and "batch" in self.serving and stage in self.batch.stages

    def batch_drift_in(self, stage: str) -> bool:
        """Whether the model's batch runs in ``stage`` are followed by a drift check of their input: a batch-only
        model (a model with endpoints is checked on their captured requests) monitored in ``stage``."""
        return not self.realtime and self.monitoring is not None and stage in self.monitoring.stages and self.batch_in(stage)

    @property
    def batch_drop_columns(self) -> int:
        """The leading input columns the batch ``input_filter`` (``$`` or ``$[k:]``) hides from the model: k."""
        match = re.fullmatch(r"\$\[(\d+):\]", self.batch.input_filter) if self.batch is not None else None
        return int(match.group(1)) if match else 0

    @property
    def batch_input_prefix(self) -> str:
        """What batch runs score, in the stage's data bucket."""
        return (self.batch.input_prefix if self.batch is not None else None) or f"{self.name}/batch-input/"

    @model_validator(mode="after")
    def _serving_and_its_settings(self) -> ModelSettings:
        problems: list[_FieldError] = []
        if len(set(self.serving)) != len(self.serving):
            problems.append(_FieldError(("serving",), self.serving, "must name each of realtime and batch at most once"))
        if "batch" in self.serving and self.batch is None:
            problems.append(_FieldError(("batch",), None, "is required with serving: [batch]: say when the runs start (schedule and/or on_new_data)"))
        if "batch" not in self.serving and self.batch is not None:
            problems.append(_FieldError(("serving",), self.serving, "must include batch while a batch section is set: add it, or remove batch"))
        if "realtime" not in self.serving:
            why = "a batch-only model has no endpoint"
            for key, value, what in (("smoke_test", self.smoke_test, "to send the smoke test to"),
                                     ("endpoints", self.endpoints or None, "to override settings of")):
                if value is not None:
                    shown = value.model_dump() if isinstance(value, BaseModel) else {k: v.model_dump(exclude_none=True) for k, v in value.items()}
                    problems.append(_FieldError((key,), shown, f"must not be set while serving is [batch]: {why} {what}; remove it, or add realtime"))
            problems += self._batch_monitoring_problems()
        if problems:
            raise _FieldErrors(problems)
        return self

    def _batch_monitoring_problems(self) -> list[_FieldError]:
        """A batch-only model's drift check runs after each batch run, on the input it scored."""
        monitoring, batch = self.monitoring, self.batch
        if monitoring is None or batch is None:
            return []
        problems: list[_FieldError] = []
        if monitoring.schedule is not None:
            problems.append(_FieldError(("monitoring", "schedule"), monitoring.schedule,
                                        "must not be set while serving is [batch]: a batch-only model's drift check runs after each "
                                        "batch run, on the input it scored; remove it"))
        if batch.input_filter != "$" and not re.fullmatch(r"\$\[\d+:\]", batch.input_filter):
            problems.append(_FieldError(("batch", "input_filter"), batch.input_filter,
                                        "must be '$' or '$[k:]' while monitoring is set: the drift check reads each input row less its "
                                        "first k columns, as the model sees it; change it, or remove monitoring"))
        outside = [stage for stage in monitoring.stages if stage not in batch.stages]
        if outside:
            problems.append(_FieldError(("monitoring", "stages"), monitoring.stages,
                                        f"must name only stages the batch runs in ({', '.join(batch.stages)}) while serving is [batch]: "
                                        f"{', '.join(outside)} has no batch input to check; remove it, or add it to batch.stages"))
        return problems

    @model_validator(mode="after")
    def _tuning_fits_training(self) -> ModelSettings:
        if self.tuning is None:
            return self
        from mlops_constructs.training.tuning import static_conflicts

        training, regex = self.training, self.tuning.objective.regex
        problems = [_FieldError(("tuning", *keys), value, allowed)
                    for keys, value, allowed in static_conflicts(self.tuning.as_tuning(), training.hyperparameters)]
        algorithm = training.builtin_algorithm()
        script = self.code is not None and self.code.train is not None
        if not script and algorithm is not None and algorithm.framework in BUILTIN_ALGORITHMS:
            if regex is not None:
                problems.append(_FieldError(
                    ("tuning", "objective", "regex"), regex,
                    f"must not be set with SageMaker's built-in {algorithm.framework} algorithm, which reports its own metrics: "
                    "name one of them as the objective's metric (e.g. validation:auc for xgboost)",
                ))
        elif regex is None:
            image = ("your script (code.train)" if script else "training.image" if training.image
                     else f"the {algorithm.framework} framework image")  # type: ignore[union-attr]
            problems.append(_FieldError(
                ("tuning", "objective", "regex"), None,
                f"is required with {image}: SageMaker reads the objective from the training logs with it, "
                "e.g. 'validation-auc=([0-9.]+)'",
            ))
        if training.spot is not None:
            problems.append(_FieldError(
                ("tuning",), "spot", "cannot be combined with training.spot yet: the tuning job's training jobs would share "
                                     "one checkpoint location; remove one of them",
            ))
        if problems:
            raise _FieldErrors(problems)
        return self

    @property
    def data_location(self) -> str:
        """The model's data prefix in the data bucket, ending with ``/``."""
        return self.data_prefix or f"{self.name}/"

    @model_validator(mode="after")
    def _code_or_images(self) -> ModelSettings:
        code = self.code
        if code is None:
            return self
        conflicts = [
            (code.preprocess, "preprocess", "processing.preprocess_image", self.processing.preprocess_image),
            (code.evaluate, "evaluate", "processing.evaluate_image", self.processing.evaluate_image),
            (code.train, "train", "training.image", self.training.image),
            (code.train, "train", "training.algorithm", self.training.algorithm),
        ]
        for step, key, other, value in conflicts:
            if step is not None and value is not None:
                raise _FieldError(("code", key), step.entry_point, f"must not be given together with {other}: both say what runs the step; remove one")
        if code.preprocess is not None:
            given = [key for key in _BUNDLED_PREPROCESSING_KEYS if getattr(self.processing, key) != ProcessingSettings.model_fields[key].default]
            if given:
                raise _FieldError(("processing", given[0]), getattr(self.processing, given[0]) if given[0] != "split" else self.processing.split.model_dump(),
                                  "configures the bundled preprocessing script, which code.preprocess replaces: remove one or the other")
        if code.train is not None and code.evaluate is None and self.processing.evaluate_image is None:
            raise _FieldError(("code", "train"), code.train.entry_point,
                              "needs code.evaluate (or processing.evaluate_image): the bundled evaluation loads the built-in XGBoost's models, not your script's")
        reserved = sorted(set(self.training.hyperparameters) & set(_SCRIPT_HYPERPARAMETERS))
        if code.train is not None and reserved:
            raise _FieldError(("training", "hyperparameters", reserved[0]), self.training.hyperparameters[reserved[0]],
                              "is set by the platform for code.train (the framework container's script mode): remove it")
        if code.evaluate is not None and "PROBLEM_TYPE" in code.evaluate.environment:
            raise _FieldError(("code", "evaluate", "environment", "PROBLEM_TYPE"), code.evaluate.environment["PROBLEM_TYPE"],
                              "is set by the platform from problem_type: remove it")
        return self

    def endpoint(self, stage: str, defaults: EndpointSettings) -> EndpointSettings:
        """This model's serving settings in ``stage``: the stage's, with this model's overrides applied."""
        override = self.endpoints.get(stage)  # type: ignore[call-overload]
        if override is None:
            return defaults
        return defaults.model_copy(update=override.model_dump(exclude_none=True))


class ConnectionSource(_Strict):
    """A GitHub, GitLab or Bitbucket repository, read through an AWS CodeConnections connection."""

    connection_arn: ConnectionArn
    """The connection, in the tooling account, authorized in the console once."""
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
    """``owner/name`` (GitLab: ``group/subgroup/name``)."""
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,255}$")


class S3Source(_Strict):
    """A zip of the repository in a versioned S3 bucket of the tooling account."""

    bucket: BucketName
    key: str = Field(pattern=r"^[A-Za-z0-9!_.*'()/-]{1,1020}\.zip$")
    """The object key of the zip, e.g. ``releases/mlops-platform.zip``."""


class DeliverySettings(_Strict):
    """The delivery pipeline in the tooling account. Exactly one source."""

    connection: ConnectionSource | None = None
    s3: S3Source | None = None
    approvers: list[Annotated[str, BeforeValidator(_principal_arn)]] | None = Field(default=None, min_length=1)
    """IAM role or user ARNs (``*`` allowed) of the tooling account that may approve the pipelines' manual approvals:
    the tooling account's SCP (``python -m stacks.guardrails --tooling``) refuses ``PutApprovalResult`` on the
    platform's pipelines to anyone else. Default: not restricted by the SCP (grant it in IAM to the approvers only)."""
    stack_set_roles: list[Annotated[str, BeforeValidator(_role_name)]] = Field(default_factory=lambda: list(STACK_SET_ROLES),
                                                                                 max_length=10)
    """Names of the roles through which CloudFormation StackSets changes its own stacks (AWS Control Tower's baselines,
    the organization's stack sets) in the tooling account, and in staging and prod under the optional pipeline-only SCP
    (``python -m stacks.guardrails --tooling`` / ``--pipeline-only``): those SCPs, which leave changing stacks to the CDK
    bootstrap's deploy role, let these change stacks too, and refuse anyone but them creating a role by such a name or
    changing its trust. Default: :data:`STACK_SET_ROLES`. ``[]``: nothing but the deploy role changes a stack there (an
    account no stack set reaches)."""

    @model_validator(mode="after")
    def _one_source(self) -> DeliverySettings:
        if (self.connection is None) == (self.s3 is None):
            given = [name for name in ("connection", "s3") if getattr(self, name) is not None]
            raise _FieldErrors([_FieldError((), given, "set exactly one source: connection (CodeConnections) or s3")])
        return self


class PlatformConfig(_Strict):
    """The whole platform: one project, one region, four accounts, three stages, one or more models."""

    project: ProjectSlug
    """Lowercase slug (3 to 16 characters) prefixed to resource and stack names."""
    region: Region
    """The region every stage deploys to; SageMaker must be offered there."""
    availability_zones: list[str] = Field(min_length=2, max_length=6)
    """Zones of ``region`` the VPCs span, named explicitly so synth never looks them up."""
    accounts: Accounts
    stages: Stages
    models: list[ModelSettings] = Field(min_length=1)
    delivery: DeliverySettings | None = None
    """The delivery pipeline that deploys every stage from the tooling account. Default: no pipeline;
    stages are deployed directly with ``cdk deploy``."""

    @field_validator("project")
    @classmethod
    def _not_a_reserved_bucket_prefix(cls, value: str) -> str:
        # Bucket names start with "<project>-<stage>-" (stacks.names.storage_name_prefix).
        if (prefix := reserved_prefix(value)) is not None:
            raise ValueError(f"must not make bucket names start with {prefix!r} (the platform's start with '<project>-<stage>-'), "
                             "which S3 reserves")
        return value

    _source: str = PrivateAttr(default="<config>")

    @property
    def source(self) -> str:
        """The file this configuration was loaded from (``from_mapping``'s ``source``), for error messages."""
        return self._source

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        problems: list[_FieldError] = []
        # The longest name the platform derives: the staging access-log bucket,
        # <project>-staging-access-logs-<account>-<region>; S3 allows 63 characters.
        longest = f"{self.project}-staging-access-logs-{'0' * 12}-{self.region}"
        if len(longest) > _MAX_BUCKET_NAME:
            budget = _MAX_BUCKET_NAME - (len(longest) - len(self.project))
            problems.append(
                _FieldError(
                    ("project",),
                    self.project,
                    f"is too long for region {self.region}: bucket names like {longest!r} would have "
                    f"{len(longest)} characters and S3 allows {_MAX_BUCKET_NAME}; use at most {budget} characters here",
                )
            )
        if self.delivery is not None:
            for index, approver in enumerate(self.delivery.approvers or ()):
                if approver.split(":")[4] != self.accounts.tooling:
                    problems.append(_FieldError(("delivery", "approvers", index), approver,
                                                f"must be a role or user of the tooling account {self.accounts.tooling}, where the pipelines are"))
        problems += self._image_problems()
        problems += self._monitoring_problems()
        problems += self._capacity_problems()
        problems += self._deployment_problems()
        problems += self._gate_problems()
        problems += _api_problems(self)
        for stage in STAGES:
            zones = self.stage(stage).interface_endpoint_zones
            if zones is not None and zones > len(self.availability_zones):
                problems.append(_FieldError(("stages", stage, "interface_endpoint_zones"), zones,
                                            f"must be at most the number of availability_zones ({len(self.availability_zones)})"))
        for index, model in enumerate(self.models):
            arn = model.model_package_arn
            expected = rf"arn:aws[a-z-]*:sagemaker:{re.escape(self.region)}:{self.accounts.dev}:model-package/{re.escape(self.project)}-{re.escape(model.name)}/\d+"
            if arn is not None and not re.fullmatch(expected, arn):
                problems.append(_FieldError(
                    ("models", index, "model_package_arn"), arn,
                    f"must be a version of this model's group in the dev account: arn:aws:sagemaker:{self.region}:"
                    f"{self.accounts.dev}:model-package/{self.project}-{model.name}/<version>",
                ))
        if problems:
            raise _FieldErrors(problems)
        return self

    def _image_problems(self) -> list[_FieldError]:
        """SageMaker's images the stacks resolve must exist in the region (checked when the SageMaker
        SDK is installed): the built-in algorithm, the scikit-learn image of the bundled preprocessing
       ."""
        from mlops_constructs.training.images import builtin_image_problem

        problems: list[_FieldError] = []
        for index, model in enumerate(self.models):
            code = model.code
            for key in ("preprocess", "train", "evaluate"):
                step = getattr(code, key) if code is not None else None
                if step is not None and step.framework is not None:
                    instance_type = step.instance_type or (model.training if key == "train" else model.processing).instance_type
                    problem = builtin_image_problem(step.framework, step.version, self.region, instance_type)
                    if problem is not None:
                        problems.append(_FieldError(("models", index, "code", key), {"framework": step.framework, "version": step.version}, problem))
            algorithm = model.training.builtin_algorithm() if code is None or code.train is None else None
            if algorithm is not None:
                problem = builtin_image_problem(algorithm.framework, algorithm.version, self.region)
                if problem is not None:
                    if problem.startswith("has no "):
                        problem += f"; or name your own image with models[{index}].training.image instead of algorithm"
                    value = {"framework": algorithm.framework, "version": algorithm.version}
                    problems.append(_FieldError(("models", index, "training", "algorithm"), value, problem))
            if model.processing.preprocess_image is None and (code is None or code.preprocess is None):
                problem = builtin_image_problem(*PROCESSING_FRAMEWORK, self.region)
                if problem is not None:
                    problems.append(_FieldError(
                        ("models", index, "processing", "preprocess_image"), None,
                        f"is required in region {self.region}: the bundled preprocessing runs in SageMaker's scikit-learn "
                        f"image, which {problem}",
                    ))
        return problems

    def _monitoring_problems(self) -> list[_FieldError]:
        """A monitored model's endpoints must capture data in every monitored stage: the drift job reads the
        captured requests, and the model's training listens for each such stage's drift alarm."""
        problems: list[_FieldError] = []
        for index, model in enumerate(self.models):
            if model.monitoring is None or not model.realtime:  # a batch-only model's monitoring is refused by its own checks
                continue
            for stage in model.monitoring.stages:
                stage_endpoint = self.stage(stage).endpoint
                override = model.endpoints.get(stage)  # type: ignore[call-overload]
                if stage_endpoint.serverless is not None:
                    problems.append(_FieldError(
                        ("stages", stage, "endpoint", "serverless"), stage_endpoint.serverless.model_dump(),
                        f"must not be set while models[{index}].monitoring is set: a serverless endpoint captures no "
                        "data to monitor, and training would wait for a drift alarm that never exists; remove one of them",
                    ))
                elif override is not None and override.data_capture_percent is not None:
                    if override.data_capture_percent == 0:
                        problems.append(_FieldError(
                            ("models", index, "endpoints", stage, "data_capture_percent"), 0,
                            f"must be above 0 while models[{index}].monitoring is set: the drift job reads the captured "
                            "requests, and training listens for this endpoint's drift alarm; capture some or remove the monitoring",
                        ))
                elif stage_endpoint.data_capture_percent == 0:
                    problems.append(_FieldError(
                        ("stages", stage, "endpoint", "data_capture_percent"), 0,
                        f"must be above 0 while models[{index}].monitoring is set: the drift job reads the captured "
                        f"requests, and training listens for this endpoint's drift alarm; capture some here or in "
                        f"models[{index}].endpoints.{stage}.data_capture_percent, or remove the monitoring",
                    ))
        return problems

    def _capacity_problems(self) -> list[_FieldError]:
        """Autoscaling bounds that hold for every model's instance count: minimum (default the instance
        count) at most the maximum (default twice the instance count), and off-hours capacity at most the maximum."""
        problems: dict[tuple[Any, ...], _FieldError] = {}
        for stage in STAGES:
            defaults = self.stage(stage).endpoint
            if defaults.serverless is not None:
                continue
            scaling = defaults.autoscaling
            base: tuple[Any, ...] = ("stages", stage, "endpoint")
            counts = {base + ("instance_count",): defaults.instance_count}
            for index, model in enumerate(self.models):
                override = model.endpoints.get(stage)  # type: ignore[call-overload]
                if override is not None and override.instance_count is not None:
                    counts[("models", index, "endpoints", stage, "instance_count")] = override.instance_count
            for count_loc, count in counts.items():
                count_path = _path(count_loc)
                if scaling.max_capacity is not None:
                    maximum, max_text = scaling.max_capacity, f"{_path(base)}.autoscaling.max_capacity ({scaling.max_capacity})"
                else:
                    maximum, max_text = 2 * count, f"the maximum capacity, twice {count_path} ({2 * count})"
                if scaling.min_capacity is not None and scaling.min_capacity > maximum:
                    loc = base + ("autoscaling", "min_capacity")
                    problems.setdefault(loc, _FieldError(loc, scaling.min_capacity, f"must be at most {max_text}"))
                elif scaling.min_capacity is None and count > maximum:
                    problems.setdefault(count_loc, _FieldError(
                        count_loc, count,
                        f"must be at most {max_text}: the instance count is also autoscaling's minimum unless "
                        f"{_path(base)}.autoscaling.min_capacity is set",
                    ))
                off_hours = scaling.off_hours
                if off_hours is not None and off_hours.capacity > maximum:
                    loc = base + ("autoscaling", "off_hours", "capacity")
                    problems.setdefault(loc, _FieldError(loc, off_hours.capacity, f"must be at most {max_text}"))
        return list(problems.values())

    def _deployment_problems(self) -> list[_FieldError]:
        """Instance types a stage's deployment cannot shift gradually to (ml.inf1 with CANARY or LINEAR), the stage's
        own and each model's override."""
        problems: list[_FieldError] = []
        for stage in STAGES:
            defaults = self.stage(stage).endpoint
            if defaults.serverless is not None:
                continue
            strategy = defaults.deployment_for(stage).strategy
            types = {("stages", stage, "endpoint", "instance_type"): defaults.instance_type}
            for index, model in enumerate(self.models):
                override = model.endpoints.get(stage)  # type: ignore[call-overload]
                if override is not None and override.instance_type is not None:
                    types[("models", index, "endpoints", stage, "instance_type")] = override.instance_type
            for loc, instance_type in types.items():
                if (problem := gradual_deployment_problem(instance_type, strategy)) is not None:
                    problems.append(_FieldError(loc, instance_type, f"{problem} (stages.{stage}.endpoint.deployment.strategy)"))
        return problems

    def _gate_problems(self) -> list[_FieldError]:
        """With the bundled evaluation script, the gate may only read values it writes for the model's
        problem type, and the model must be one it can load (not a pickle)."""
        from mlops_constructs.training.gate import bundled_paths

        problems: list[_FieldError] = []
        for index, model in enumerate(self.models):
            if model.processing.evaluate_image is not None or (model.code is not None and model.code.evaluate is not None):
                continue
            written = bundled_paths(model.problem_type)
            for keys, path, _, _ in model.gate.conditions_for(model.problem_type, custom_report=False):
                if path in written:
                    continue
                if keys == ("metric",):
                    metrics = ", ".join(p.split(".")[1] for p in written)
                    problems.append(_FieldError(
                        ("models", index, "gate", "metric"), model.gate.metric,
                        f"must be one of {metrics}, the metrics the bundled evaluation script writes for problem_type "
                        f"{model.problem_type} (models[{index}].problem_type); for another, set "
                        f"models[{index}].processing.evaluate_image to an image whose report has it",
                    ))
                else:
                    problems.append(_FieldError(
                        ("models", index, "gate", *keys, "path"), path,
                        f"must be a value the bundled evaluation script writes for problem_type {model.problem_type}: "
                        f"{', '.join(written)}; for another, set models[{index}].processing.evaluate_image",
                    ))
            algorithm = model.training.builtin_algorithm()
            if algorithm is not None and algorithm.framework == "xgboost" and _pickles_models(algorithm.version):
                problems.append(_FieldError(
                    ("models", index, "training", "algorithm"), {"framework": algorithm.framework, "version": algorithm.version},
                    f"must be XGBoost {XGBOOST_FIRST_UNPICKLED} or later for the bundled evaluation script: earlier "
                    "SageMaker XGBoost containers save the model as a Python pickle, which it does not load; or set "
                    f"models[{index}].processing.evaluate_image",
                ))
        return problems

    @field_validator("availability_zones")
    @classmethod
    def _zones_of_region(cls, zones: list[str], info: ValidationInfo) -> list[str]:
        region = info.data.get("region")
        if region is None:  # the region itself is invalid and reported; zones cannot be judged
            return zones
        zone = re.compile(rf"{re.escape(region)}[a-z]")
        problems: list[_FieldError] = []
        for index, name in enumerate(zones):
            if not zone.fullmatch(name):
                message = f"must be an availability zone of region {region}, e.g. {region}a"
                problems.append(_FieldError((index,), name, message))
            elif name in zones[:index]:
                problems.append(_FieldError((index,), name, "duplicate zone; list each zone once"))
        if problems:
            raise _FieldErrors(problems)
        return zones

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelSettings]) -> list[ModelSettings]:
        names = [model.name for model in models]
        problems = [
            _FieldError((index, "name"), name, "duplicate model name; model names must be unique")
            for index, name in enumerate(names)
            if name in names[:index]
        ]
        if problems:
            raise _FieldErrors(problems)
        return models

    def endpoint_zones_for(self, stage: str) -> list[str]:
        """The zones that hold ``stage``'s interface endpoints: its ``interface_endpoint_zones`` first zones, by
        default one in dev, two in staging and all in prod (fewer zones cost less; docs/isolated-network.md)."""
        count = self.stage(stage).interface_endpoint_zones or DEFAULT_ENDPOINT_ZONES.get(stage, len(self.availability_zones))
        return self.availability_zones[:count]

    def stage(self, name: str) -> StageSettings:
        if name not in STAGES:
            raise ValueError(f"stage: got {name!r}; expected one of {', '.join(STAGES)}")
        return getattr(self.stages, name)

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "<config>") -> PlatformConfig:
        """Validate an already-parsed mapping, raising :class:`ConfigError` with one line per problem."""
        if not isinstance(data, Mapping):
            raise ConfigError(source, [f"the file must hold a mapping of settings (got {_show(data)})"])
        try:
            config = cls.model_validate(data)
        except ValidationError as err:
            raise ConfigError(source, _describe(err)) from None
        config._source = source
        return config

    def model_path(self, model: ModelSettings, *keys: str | int) -> str:
        """The config path of ``model``'s entry or of a key under it, e.g. ``models[0].gate.metric``."""
        return _path(("models", self.models.index(model), *keys))

    def endpoint_path(self, stage: str, model: ModelSettings, key: str) -> str:
        """Where ``model``'s endpoint setting ``key`` in ``stage`` comes from: the model's override when
        it sets one, else the stage's ``endpoint`` settings."""
        override = model.endpoints.get(stage)  # type: ignore[call-overload]
        if override is not None and key in EndpointOverride.model_fields and getattr(override, key) is not None:
            return self.model_path(model, "endpoints", stage, key)
        return _path(("stages", stage, "endpoint", key))

    @contextlib.contextmanager
    def props_from(self, paths: Mapping[str, str]) -> Iterator[None]:
        """Report a construct's :class:`PropsError` about a prop fed from this configuration as the
        :class:`ConfigError` of the config path it came from.

        ``paths`` maps each such prop (as the construct names it) to its config path, or to the paths of
        the keys a derived value is made of; ``"*"`` stands for any prop. Errors about other props pass
        through unchanged.
        """
        from mlops_constructs.errors import PropsError

        try:
            yield
        except PropsError as err:
            path = paths.get(err.prop, paths.get("*"))
            if path is None:
                raise
            raise ConfigError(self.source, [f"{path}: {err.allowed} (got {_show(err.value)}; {err.construct}'s {err.prop})"]) from None


# --------------------------------------------------------------------------------------------------
# Loading and error reporting
# --------------------------------------------------------------------------------------------------


class _FieldError(ValueError):
    """A cross-field problem that belongs to a specific field path, not the model holding it."""

    def __init__(self, loc: tuple[str | int, ...], value: Any, message: str) -> None:
        super().__init__(message)
        self.loc, self.value, self.message = loc, value, message

    def line(self, prefix: tuple[str | int, ...] = ()) -> str:
        return f"{_path(prefix + self.loc)}: {self.message} (got {_show(self.value)})"


class _FieldErrors(ValueError):
    def __init__(self, errors: list[_FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key repeated in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}; each key may appear once per mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> PlatformConfig:
    """Load and validate a YAML configuration file, raising :class:`ConfigError` on any problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(source, [f"cannot read the configuration file: {err.strerror or err}"]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(source, [f"{where}not valid YAML: {problem}"]) from None
    return PlatformConfig.from_mapping(data, source=source)


def _describe(err: ValidationError) -> list[str]:
    lines: list[str] = []
    for item in err.errors(include_url=False):
        loc = tuple(item["loc"])
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldErrors):
            lines.extend(e.line(loc) for e in ctx_error.errors)
        elif isinstance(ctx_error, _FieldError):
            lines.append(ctx_error.line(loc))
        elif item["type"] == "extra_forbidden":
            lines.append(f"{_path(loc)}: unknown key{_allowed_keys_hint(loc)}")
        elif item["type"] == "missing":
            lines.append(f"{_path(loc)}: required key is missing")
        elif loc and loc[-1] == "[key]":
            lines.append(f"{_path(loc[:-1])}: key {_message(item['msg'])} (got {_show(item['input'])})")
        else:
            lines.append(f"{_path(loc)}: {_message(item['msg'])} (got {_show(item['input'])})")
    return lines


def _message(msg: str) -> str:
    """pydantic's wording in this module's voice: "String should match ..." -> "must match ..."."""
    msg = msg.removeprefix("Value error, ")
    return re.sub(r"^(Input|String|List|Value|Dictionary|Object) should ", "must ", msg)


def _allowed_keys_hint(loc: tuple[Any, ...]) -> str:
    model: Any = PlatformConfig
    skip_key = False  # the next part is a key of a dict of models, not a field name
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        if skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        model = _model_of(field.annotation) if field else None
        skip_key = field is not None and getattr(field.annotation, "__origin__", None) is dict
    if model is None or not hasattr(model, "model_fields"):
        return ""
    allowed = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"; allowed keys here: {', '.join(allowed)}{hint}"


def _model_of(annotation: Any) -> Any:
    """The BaseModel class a field holds, directly or as the element or value of a list or dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            out += f"[{str(part)!r}]"  # a key with spaces, dots or line breaks stays on one line
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
