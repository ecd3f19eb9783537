"""The training stack of one model, in the dev account: its TrainingPipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from mlops_constructs.config import PROCESSING_FRAMEWORK, ModelSettings, PlatformConfig
from mlops_constructs.container_image import ContainerImage
from mlops_constructs.monitoring import DriftMonitor
from mlops_constructs.storage import ArtifactStore
from mlops_constructs.training import GateCondition, Preprocessing, ScriptStep, TrainingPipeline, builtin_image_uri, source_archive
from stacks._references import stage_key_arn, stage_vpc
from stacks._settings import log_retention, stateful_removal_policy
from stacks.names import batch_name, endpoint_name, model_package_group, storage_name_prefix


class TrainingStack(Stack):
    """One model's :class:`TrainingPipeline`, reading the dev data bucket and writing the dev artifact
    bucket, registering into the model's package group."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        model: ModelSettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        settings = config.stage("dev")
        # The buckets are imported by their deterministic names: the policies then name them literally, for
        # reviewers and for exact acknowledgements. The VPC and the key come from the dev network and storage
        # stacks' outputs (this stack is in a stage of the model stacks: stacks._references).
        vpc = stage_vpc(self, config, "dev")
        key = kms.Key.from_key_arn(self, "StoreKey", stage_key_arn(config, "dev"))

        def bucket(purpose: str) -> s3.IBucket:
            name = ArtifactStore.bucket_name(storage_name_prefix(config, "dev"), purpose, self.account, self.region)
            return s3.Bucket.from_bucket_attributes(self, f"{purpose.capitalize()}Bucket", bucket_name=name, encryption_key=key)

        training, processing, gate, triggers = model.training, model.processing, model.gate, model.triggers
        # Bring your own code: each script step in its framework image, the source directory one asset.
        code = model.code
        scripts = script_steps(self, config, model)
        source_code = source_archive(self, "SourceCode", code.source_dir) if code is not None else None
        builtin = training.builtin_algorithm()
        with config.props_from({"*": config.model_path(model, "training", "algorithm")}):
            training_image: str | ContainerImage
            if "train" in scripts:
                training_image = scripts["train"].image  # the model is served and registered with its image
            else:
                training_image = training.image or builtin_image_uri(builtin.framework, builtin.version, config.region)  # type: ignore[union-attr]
        # The bundled preprocessing runs in SageMaker's scikit-learn image unless the model names its own.
        with config.props_from({"*": config.model_path(model, "processing", "preprocess_image")}):
            processing_image = scripts["preprocess"].image_uri if "preprocess" in scripts else (
                processing.preprocess_image or builtin_image_uri(*PROCESSING_FRAMEWORK, config.region))
        # Where each prop fed from the configuration comes from, for the construct's errors.
        paths = {
            "model_name": config.model_path(model, "name"),
            "data_prefix": config.model_path(model, "data_prefix"),
            "training_image": config.model_path(model, "training", "image" if training.image else "algorithm"),
            "processing_image": config.model_path(model, "processing", "preprocess_image"),
            "preprocess_image": config.model_path(model, "processing", "preprocess_image"),
            "evaluate_image": config.model_path(model, "processing", "evaluate_image"),
            "training_instance_type": config.model_path(model, "training", "instance_type"),
            "processing_instance_type": config.model_path(model, "processing", "instance_type"),
            "problem_type": config.model_path(model, "problem_type"),
            "metric_name": config.model_path(model, "gate", "metric"),
            "metric_threshold": config.model_path(model, "gate", "threshold"),
            "metric_direction": config.model_path(model, "gate", "direction"),
            "spot_max_wait": config.model_path(model, "training", "spot", "max_wait_hours"),
            "preprocessing.split": config.model_path(model, "processing", "split"),
            "preprocessing.header": config.model_path(model, "processing", "header"),
            "preprocessing.label": config.model_path(model, "processing", "label"),
            "preprocessing.seed": config.model_path(model, "processing", "seed"),
            "preprocessing.categorical": config.model_path(model, "processing", "categorical"),
            "hyperparameters": config.model_path(model, "training", "hyperparameters"),
            "source_code": config.model_path(model, "code", "source_dir"),
        }
        for step in scripts:
            paths[f"{step}_script"] = config.model_path(model, "code", step)
            for field in ("entry_point", "image", "arguments", "environment", "instance_type", "instance_count", "network_isolation"):
                paths[f"{step}_script.{field}"] = config.model_path(model, "code", step, field)
        # The gate: conditions as written, or the one-metric form, which the construct maps onto its path.
        gate_props: dict[str, Any] = {"metric_name": gate.metric, "metric_threshold": gate.threshold, "metric_direction": gate.direction}
        if gate.conditions is not None:
            gate_props = {"gate_conditions": [GateCondition(path=c.path, op=c.operator, threshold=c.threshold) for c in gate.conditions]}  # type: ignore[arg-type]
            for index, _ in enumerate(gate.conditions):
                paths[f"gate_conditions[{index}]"] = config.model_path(model, "gate", "conditions", index)
                for field in ("path", "op", "threshold"):
                    paths[f"gate_conditions[{index}].{field}"] = config.model_path(model, "gate", "conditions", index, field)
            paths["gate_conditions"] = config.model_path(model, "gate", "conditions")
        if model.tuning is not None:
            # The construct's tuning props are the configuration's keys under models[i].tuning.
            tuning_keys = [("tuning",), ("tuning", "objective"), *(("tuning", "objective", k) for k in ("metric", "type", "regex")),
                           *(("tuning", k) for k in ("ranges", "strategy", "max_jobs", "max_parallel_jobs", "early_stopping"))]
            for name in model.tuning.ranges:
                tuning_keys += [("tuning", "ranges", name), *(("tuning", "ranges", name, k) for k in ("min", "max", "scaling", "values"))]
            paths.update({".".join(keys): config.model_path(model, *keys) for keys in tuning_keys})
        # daily/weekly become a time of the model's own; cron and rate expressions stay as written (UTC)
        schedule = triggers.schedule_expression(model.name)
        paths["schedule"] = config.model_path(model, "triggers", "schedule")
        with config.props_from(paths):
            self.pipeline = TrainingPipeline(
                self,
                "Pipeline",
                model_name=model.name,
                vpc=vpc,
                data_bucket=bucket("data"),
                data_prefix=model.data_location,
                artifact_bucket=bucket("artifacts"),
                encryption_key=key,
                training_image=training_image,
                processing_image=processing_image,
                model_package_group_name=model_package_group(config, model),
                hyperparameters=_hyperparameters(model),
                training_instance_type=training.instance_type,
                training_instance_count=training.instance_count,
                training_volume_size_gb=training.volume_size_gb,
                max_training_runtime=Duration.hours(training.max_runtime_hours),
                spot_max_wait=Duration.hours(training.spot.max_wait_hours) if training.spot else None,
                content_type=training.content_type,
                tuning=model.tuning.as_tuning() if model.tuning is not None else None,
                # The bundled script's settings; an image of the model's own does its own preprocessing.
                preprocessing=None if processing.preprocess_image or "preprocess" in scripts else Preprocessing(
                    split=processing.split.fractions(),
                    header=processing.header,
                    label=processing.label,
                    seed=processing.seed,
                    categorical=processing.categorical,
                ),
                preprocess_image=processing.preprocess_image,
                evaluate_image=processing.evaluate_image,
                source_code=source_code,
                preprocess_script=scripts.get("preprocess"),
                train_script=scripts.get("train"),
                evaluate_script=scripts.get("evaluate"),
                processing_instance_type=processing.instance_type,
                processing_volume_size_gb=processing.volume_size_gb,
                max_processing_runtime=Duration.hours(processing.max_runtime_hours),
                problem_type=model.problem_type,
                **gate_props,
                schedule=scheduler.ScheduleExpression.expression(schedule) if schedule else None,
                trigger_on_new_data=triggers.on_new_data,
                trigger_on_retrain_event=triggers.on_retrain_event,
                # the drift alarms of the model's endpoints (or, batch-only, of its batch runs' input), forwarded from the
                # serving accounts, by DriftMonitor's name
                retrain_alarm_names=[DriftMonitor.alarm_name_for(endpoint_name(config, stage, model) if model.realtime
                                                                 else batch_name(config, stage, model))
                                     for stage in model.monitoring.stages] if model.monitoring else [],
                log_retention=log_retention(settings),
                removal_policy=stateful_removal_policy(settings),
            )
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn,
                  description=f"Start a training run of {model.name}: aws stepfunctions start-execution --state-machine-arn <this>")


XGBOOST_DEFAULT_NUM_ROUND = 100
"""``num_round`` for SageMaker's built-in XGBoost when the configuration names none: the algorithm requires
it (https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost_hyperparameters.html) and has no default."""


def _hyperparameters(model: ModelSettings) -> dict[str, str]:
    """The training job's static hyperparameters, as strings, with ``num_round`` for the built-in XGBoost
    when neither ``training.hyperparameters`` nor the tuning ranges set it."""
    training = model.training
    values = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in training.hyperparameters.items()}
    algorithm = training.builtin_algorithm()
    script = model.code is not None and model.code.train is not None
    tuned = model.tuning is not None and "num_round" in model.tuning.ranges
    if not script and algorithm is not None and algorithm.framework == "xgboost" and "num_round" not in values and not tuned:
        values["num_round"] = str(XGBOOST_DEFAULT_NUM_ROUND)
    train = model.code.train if model.code is not None else None
    if train is not None and train.framework == "tensorflow" and "model_dir" not in values:
        # SageMaker's TensorFlow training toolkit reads model_dir when tuning sets _tuning_objective_metric, and
        # fails without it; the SDK's TensorFlow estimator always passes it (/opt/ml/model under network isolation).
        values["model_dir"] = json.dumps("/opt/ml/model")
    return values


def script_steps(scope: Construct, config: PlatformConfig, model: ModelSettings) -> dict[str, ScriptStep]:
    """The model's steps run in script mode (``code.<step>``), each in its framework image (PyTorch's and
    TensorFlow's for the step's instance type) or in its own, built from its Dockerfile."""
    code = model.code
    training, processing = model.training, model.processing
    scripts: dict[str, ScriptStep] = {}
    for step in ("preprocess", "train", "evaluate"):
        settings_ = getattr(code, step) if code is not None else None
        if settings_ is None:
            continue
        image: str | ContainerImage
        if settings_.dockerfile is not None:
            # The user's own image: built from the Dockerfile's folder (for linux/amd64, without bytecode
            # caches), published by the delivery pipeline; the job role may pull it.
            dockerfile = Path(settings_.dockerfile)
            image = ContainerImage.from_asset(scope, f"{step.capitalize()}Image", str(dockerfile.parent), file=dockerfile.name)
        else:
            instance_type = settings_.instance_type or (training if step == "train" else processing).instance_type
            with config.props_from({"*": config.model_path(model, "code", step)}):
                image = builtin_image_uri(settings_.framework, settings_.version, config.region, instance_type)
        scripts[step] = ScriptStep(
            entry_point=settings_.entry_point, image=image, arguments=tuple(getattr(settings_, "arguments", ())),
            environment=dict(settings_.environment), instance_type=settings_.instance_type,
            instance_count=settings_.instance_count, network_isolation=settings_.network_isolation,
        )
    return scripts
