"""A test double for Step Functions' SageMaker ``.sync`` integration, for moto's state machine interpreter.

moto 5 executes state machine definitions (with ``stepfunctions.execute_state_machine`` on), but it
runs SageMaker tasks only with ``.waitForTaskToken``. This double takes over the ``sagemaker`` service
for ``createProcessingJob.sync``, ``createTrainingJob.sync``, ``createHyperParameterTuningJob.sync`` and
``createTransformJob.sync``, and behaves as Step Functions does:

1. it calls the real ``CreateProcessingJob`` / ``CreateTrainingJob`` / ``CreateTransformJob`` API on moto with the parameters
   the state computed, so botocore validates them against SageMaker's API model: a misspelt or
   misplaced field fails the test, as it would fail the real call;
2. it plays the job's part, which no container runs here: a preprocessing job writes its three splits
   and the drift baseline (``baseline.csv`` and ``baseline.json``), a training job writes ``model.tar.gz``, an evaluation job writes ``evaluation.json`` in
   SageMaker's model-quality format (what the bundled evaluation writes), with the values the test chose;
   a tuning job creates its training jobs in moto (``<tuning job>-<nnn>-<8 hex digits>``, from its training
   job definition with the hyperparameters it tried, each writing its ``model.tar.gz``) and reports the
   one the test chose as its ``BestTrainingJob`` (moto's own description names a fake one); a transform job
   writes ``<input key>.out`` under its output path for every object under its input prefix (one line per input
   line: ``prediction`` of :class:`JobScript`, after the input line when it joins the input); a transform or drift
   job may be held running until the test releases it (``hold``), to play a job that outlives its task's timeout;
3. for ``.sync`` it returns the job's ``Describe*`` output when the job completed, or fails the task
   with ``States.TaskFailed`` (the job description as the cause) when the test made that job fail.

One more gap is closed: Step Functions returns the ``Body`` of an ``aws-sdk:s3:getObject`` task as a
string, where moto's interpreter leaves botocore's stream object; :class:`AwsSdkWithS3Body` reads it.
Likewise ``states:startExecution`` (a batch run starting its drift check), whose PascalCase fields moto passes to
botocore unchanged: :class:`SfnStartExecution` names them as the API does. Everything else runs on moto itself: the other ``aws-sdk`` tasks (SageMaker's CreateModelPackage) and
SNS.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import StateTaskServiceSfn
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str


@dataclass
class JobScript:
    """What the jobs of one test do: the values the evaluation reports, and which jobs fail."""

    metric_name: str = "auc"
    metric_value: float | None = 0.9
    """The one value of the report, unless ``values`` are given; ``None`` leaves it out."""
    section: str = "binary_classification_metrics"
    """The report's section: ``binary_classification_metrics``, ``multiclass_classification_metrics`` or ``regression_metrics``."""
    values: dict[str, Any] | None = None
    """Each metric's value, e.g. ``{"mse": 4.2, "r2": 0.6}`` (``None`` leaves a metric out, a string is
    written as is). Default: ``{metric_name: metric_value}``."""
    failing_jobs: set[str] = field(default_factory=set)
    """Kinds of job that fail: ``preprocess``, ``train``, ``tune``, ``evaluate``."""
    tuning_trials: int = 3
    """How many training jobs a tuning job runs (each with the next value of every range)."""
    best_trial: int = 2
    """Which of them (1-based) the tuning job reports as its best; 0: none (its description has no ``BestTrainingJob``)."""
    trials: list[dict[str, Any]] = field(default_factory=list)
    """The training jobs a tuning job ran: each one's ``TrainingJobName`` and ``HyperParameters``."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every SageMaker create call the state machine made, with its parameters."""
    drift_job: Callable[[dict[str, Any], Any], None] | None = None
    """Plays a drift job (a processing job with a ``report`` output): given its parameters and an S3
    client, it writes the job's outputs."""
    prediction: str = "0.5"
    """What a transform job writes for each input record."""
    hold: threading.Event | None = None
    """When given, a transform or drift job stays running (its ``.sync`` task waits) until the test sets it."""
    held: threading.Event = field(default_factory=threading.Event)
    """Set when a transform or drift job is created, so a test knows one is running."""


def _kind(action: str, parameters: dict[str, Any]) -> str:
    if action == "create_training_job":
        return "train"
    if action == "create_hyper_parameter_tuning_job":
        return "tune"
    if action == "create_transform_job":
        return "transform"
    outputs = {o["OutputName"] for o in parameters.get("ProcessingOutputConfig", {}).get("Outputs", [])}
    if "report" in outputs:
        return "drift"
    return "evaluate" if "evaluation" in outputs else "preprocess"


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class SageMakerSyncDouble(StateTaskServiceCallback):
    script: JobScript = JobScript()

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})

    def _validate_service_integration_is_supported(self) -> None:
        if self.resource.api_action.lower() not in ("createprocessingjob", "createtrainingjob", "createhyperparametertuningjob",
                                                         "createtransformjob"):
            raise ValueError(f"the SageMaker double does not play {self.resource.resource_arn}")

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:  # type: ignore[no-untyped-def]
        action = self._get_boto_service_action()
        if action not in ("create_processing_job", "create_training_job", "create_hyper_parameter_tuning_job", "create_transform_job"):
            raise NotImplementedError(f"the SageMaker double does not play {action}")
        region = resource_runtime_part.region
        sagemaker = boto_client_for(service="sagemaker", region=region, state_credentials=state_credentials)
        s3 = boto_client_for(service="s3", region=region, state_credentials=state_credentials)
        response = getattr(sagemaker, action)(**normalised_parameters)  # botocore validates the parameters
        response.pop("ResponseMetadata", None)
        kind = _kind(action, normalised_parameters)
        self.script.calls.append((kind, normalised_parameters))
        if kind == "tune":
            if kind not in self.script.failing_jobs:
                self._tune(normalised_parameters, sagemaker, s3)
            name = normalised_parameters["HyperParameterTuningJobName"]
            env.stack.append({"kind": kind, "name": name, "action": action})
            return
        if kind == "transform":
            self.script.held.set()
            if kind not in self.script.failing_jobs:
                self._transform(normalised_parameters, s3)
            env.stack.append({"kind": kind, "name": normalised_parameters["TransformJobName"], "action": action})
            return
        if kind == "drift":
            self.script.held.set()
        if kind not in self.script.failing_jobs:
            self._play(kind, normalised_parameters, s3)
        name = normalised_parameters.get("ProcessingJobName") or normalised_parameters["TrainingJobName"]
        env.stack.append({"kind": kind, "name": name, "action": action})

    def _tune(self, parameters: dict[str, Any], sagemaker: Any, s3: Any) -> None:
        """The tuning job's training jobs, created in moto from its definition, one per trial."""
        definition = parameters["TrainingJobDefinition"]
        ranges = parameters["HyperParameterTuningJobConfig"]["ParameterRanges"]
        algorithm = {k: v for k, v in definition["AlgorithmSpecification"].items() if k in ("TrainingImage", "TrainingInputMode")}
        same = {k: definition[k] for k in ("RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig", "VpcConfig",
                                           "StoppingCondition", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption") if k in definition}
        for trial in range(1, self.script.tuning_trials + 1):
            tried: dict[str, str] = {}
            for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
                for r in ranges.get(kind, []):
                    low, high = float(r["MinValue"]), float(r["MaxValue"])
                    value = low + (high - low) * trial / (self.script.tuning_trials + 1)
                    tried[r["Name"]] = str(round(value)) if kind == "IntegerParameterRanges" else f"{value:.6g}"
            for r in ranges.get("CategoricalParameterRanges", []):
                tried[r["Name"]] = r["Values"][trial % len(r["Values"])]
            name = f"{parameters['HyperParameterTuningJobName']}-{trial:03d}-{trial:08x}"
            hyperparameters = {**definition.get("StaticHyperParameters", {}), **tried}
            sagemaker.create_training_job(TrainingJobName=name, AlgorithmSpecification=algorithm, HyperParameters=hyperparameters, **same)
            self._play("train", {"TrainingJobName": name, **same}, s3)
            self.script.trials.append({"TrainingJobName": name, "HyperParameters": hyperparameters, "TunedHyperParameters": tried})

    def _transform(self, parameters: dict[str, Any], s3: Any) -> None:
        """A prediction per input line of every object under the input prefix, as ``<key relative to the prefix>.out``
        under the output path (how batch transform names its outputs:
        https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html)."""
        bucket, prefix = _split_s3(parameters["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        out_bucket, out_prefix = _split_s3(parameters["TransformOutput"]["S3OutputPath"])
        joined = parameters.get("DataProcessing", {}).get("JoinSource") == "Input"
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            lines = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode().splitlines()
            body = "".join(f"{line},{self.script.prediction}\n" if joined else f"{self.script.prediction}\n" for line in lines if line)
            s3.put_object(Bucket=out_bucket, Key=f"{out_prefix.rstrip('/')}/{item['Key'][len(prefix):]}.out", Body=body.encode())

    def _play(self, kind: str, parameters: dict[str, Any], s3: Any) -> None:
        if kind == "drift":
            if self.script.drift_job is None:
                raise AssertionError("a drift job ran, but the test's JobScript has no drift_job to play it")
            self.script.drift_job(parameters, s3)
        elif kind == "preprocess":
            for output in parameters["ProcessingOutputConfig"]["Outputs"]:
                bucket, key = _split_s3(output["S3Output"]["S3Uri"])
                if output["OutputName"] == "baseline":  # features only, under a header
                    s3.put_object(Bucket=bucket, Key=f"{key}/baseline.csv", Body=b"f0,f1\n0.5,0.2\n0.1,0.9\n")
                    description = {"features": [{"name": "f0", "type": "numerical"}, {"name": "f1", "type": "numerical"}],
                                   "rows": 2, "label_excluded": True}
                    s3.put_object(Bucket=bucket, Key=f"{key}/baseline.json", Body=json.dumps(description).encode())
                else:
                    s3.put_object(Bucket=bucket, Key=f"{key}/{output['OutputName']}.csv", Body=b"1,0.5,0.2\n0,0.1,0.9\n")
        elif kind == "train":
            bucket, key = _split_s3(parameters["OutputDataConfig"]["S3OutputPath"])
            s3.put_object(Bucket=bucket, Key=f"{key}/{parameters['TrainingJobName']}/output/model.tar.gz", Body=b"model")
        elif kind == "evaluate":
            (output,) = parameters["ProcessingOutputConfig"]["Outputs"]
            bucket, key = _split_s3(output["S3Output"]["S3Uri"])
            values = self.script.values if self.script.values is not None else {self.script.metric_name: self.script.metric_value}
            # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html
            metrics = {name: {"value": value, "standard_deviation": "NaN"} for name, value in values.items() if value is not None}
            report = {self.script.section: metrics}
            s3.put_object(Bucket=bucket, Key=f"{key}/evaluation.json", Body=json.dumps(report).encode())

    def _eval_integration_pattern(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:  # type: ignore[no-untyped-def]
        # moto's generic path for .sync ends by interrupting a task-token endpoint that exists only for
        # .waitForTaskToken tasks. Jobs complete at once here, so the wait is one resolution.
        resolve = self._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
        env.stack.append(resolve())

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> Callable[[], Any]:  # type: ignore[no-untyped-def]
        started = env.stack.pop()
        sagemaker = boto_client_for(service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials)

        def resolve() -> Any:
            if started["action"] == "create_training_job":
                description = sagemaker.describe_training_job(TrainingJobName=started["name"])
            elif started["action"] == "create_transform_job":
                if self.script.hold is not None and not self.script.hold.wait(timeout=30):
                    raise AssertionError("the test never released the held transform job")
                description = sagemaker.describe_transform_job(TransformJobName=started["name"])
            elif started["action"] == "create_hyper_parameter_tuning_job":
                description = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=started["name"])
                if self.script.best_trial == 0:
                    description.pop("BestTrainingJob", None)
                elif started["kind"] not in self.script.failing_jobs:
                    best = self.script.trials[self.script.best_trial - 1]
                    job = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
                    description["BestTrainingJob"] = {
                        **description["BestTrainingJob"],
                        "TrainingJobName": job["TrainingJobName"], "TrainingJobArn": job["TrainingJobArn"],
                        "TuningJobName": started["name"], "TunedHyperParameters": best["TunedHyperParameters"],
                    }
            else:
                if started["kind"] == "drift" and self.script.hold is not None and not self.script.hold.wait(timeout=30):
                    raise AssertionError("the test never released the held drift job")
                description = sagemaker.describe_processing_job(ProcessingJobName=started["name"])
            description.pop("ResponseMetadata", None)
            description = json.loads(json.dumps(description, default=str))
            if started["kind"] in self.script.failing_jobs:
                status_key = {"create_training_job": "TrainingJobStatus", "create_hyper_parameter_tuning_job": "HyperParameterTuningJobStatus",
                              "create_transform_job": "TransformJobStatus"}.get(
                    started["action"], "ProcessingJobStatus")
                description[status_key] = "Failed"
                description["FailureReason"] = f"AlgorithmError: the test made the {started['kind']} job fail"
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(description),
                            )
                        ),
                    )
                )
            return description

        return resolve


def _iso(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        utc = value.astimezone(datetime.timezone.utc) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return str(value)


class AwsSdkWithS3Body(StateTaskServiceAwsSdk):
    """moto's ``aws-sdk`` integration, returning S3 object bodies as strings as Step Functions does, and with the
    PascalCase names Step Functions uses for the parameters and results of camelCase APIs (``aws-sdk:sfn:listExecutions``
    takes ``StateMachineArn`` and returns ``Executions[].ExecutionArn``:
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html, "API naming conventions"),
    which moto's integration passes to botocore unchanged."""

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:  # type: ignore[no-untyped-def]
        client = boto_client_for(service=self._get_boto_service_name(), region=resource_runtime_part.region, state_credentials=state_credentials)
        operation = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[self._get_boto_service_action()])
        camel = operation.input_shape is not None and any(m[:1].islower() for m in operation.input_shape.members)
        if camel:
            self._to_boto_request(normalised_parameters, operation.input_shape)
        super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack[-1]
        if camel and operation.output_shape is not None:
            # dates as Step Functions renders them: ISO 8601 strings in UTC with milliseconds, e.g. 2013-08-23T01:02:15.422Z
            response = json.loads(json.dumps(response, default=_iso))
            self._from_boto_response(response, operation.output_shape)
            env.stack[-1] = response
        if isinstance(response, dict) and hasattr(response.get("Body"), "read"):
            response["Body"] = response["Body"].read().decode("utf-8")


class SfnStartExecution(StateTaskServiceSfn):
    """moto's ``states:startExecution`` integration (fire and forget), with the request and result fields Step Functions
    uses (``StateMachineArn``, ``Input``, ``Name``; ``ExecutionArn``, ``StartDate``:
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html), which moto passes to botocore as
    they are, where its API takes ``stateMachineArn``, ``input`` and ``name``."""

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:  # type: ignore[no-untyped-def]
        if self._get_boto_service_action() != "start_execution":
            super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
            return
        client = boto_client_for(service="stepfunctions", region=resource_runtime_part.region, state_credentials=state_credentials)
        request = {"stateMachineArn": normalised_parameters["StateMachineArn"]}
        if "Input" in normalised_parameters:
            given = normalised_parameters["Input"]
            request["input"] = given if isinstance(given, str) else to_json_str(given)
        # Without a Name, Step Functions names the execution with a UUID; moto leaves it None (its context's Execution.Name).
        request["name"] = normalised_parameters.get("Name") or str(uuid.uuid4())
        response = client.start_execution(**request)
        env.stack.append({"ExecutionArn": response["executionArn"], "StartDate": _iso(response["startDate"])})


@contextlib.contextmanager
def sagemaker_double(script: JobScript) -> Iterator[JobScript]:
    """Route the interpreter's SageMaker tasks to :class:`SageMakerSyncDouble`, and its ``aws-sdk``
    tasks to :class:`AwsSdkWithS3Body`, while the block runs."""
    original = state_task_factory.state_task_service_for

    def factory(service_name: str):  # type: ignore[no-untyped-def]
        if service_name == "sagemaker":
            double = SageMakerSyncDouble()
            double.script = script
            return double
        if service_name == "aws-sdk":
            return AwsSdkWithS3Body()
        if service_name == "states":
            return SfnStartExecution()
        return original(service_name=service_name)

    state_task_factory.state_task_service_for = factory
    try:
        yield script
    finally:
        state_task_factory.state_task_service_for = original
