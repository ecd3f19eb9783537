"""The synthesized training state machine, executed in process by moto's Step Functions interpreter.

Template tests check the definition's shape; these check its contract: that every state reads what
the previous one wrote, that SageMaker accepts every job's parameters, and that each outcome does
what it should. SageMaker jobs are played by tests/sagemaker_sfn_double.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_constructs.config import PlatformConfig
from tests.conftest import SynthesizedPlatform, default_config_data, synthesize
from tests.sagemaker_sfn_double import JobScript, sagemaker_double
from tests.sfn_jsonata import jsonata_in_moto
from tests.validators.state_machines import state_machines

ACCOUNT, REGION = "222222222222", "eu-west-1"  # the default config's dev account
GROUP = "mlops-demo-churn"
DATA_BUCKET = f"mlops-demo-dev-data-{ACCOUNT}-{REGION}"
ARTIFACT_BUCKET = f"mlops-demo-dev-artifacts-{ACCOUNT}-{REGION}"
SECURITY_GROUP = "sg-0123456789abcdef0"


class World:
    """The dev account in moto, with the training stack's state machine created from its template."""

    def __init__(self, platform: SynthesizedPlatform) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        for bucket in (DATA_BUCKET, ARTIFACT_BUCKET, f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.put_object(Bucket=DATA_BUCKET, Key="churn/raw/2026-11.csv", Body=b"1,0.5,0.2\n0,0.1,0.9\n1,0.7,0.3\n")
        self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        topic_arn = sns.create_topic(Name="training-notifications")["TopicArn"]
        self.inbox = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        machine_role = iam.create_role(RoleName="training-machine", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        job_role = iam.create_role(RoleName="training-jobs", AssumeRolePolicyDocument=trust)["Role"]["Arn"]

        # the template's definition, with moto's topic and role for the ones it references
        stand_ins = {
            ("AWS::SNS::Topic", "Ref"): topic_arn,
            ("AWS::IAM::Role", "Arn"): job_role,
            ("AWS::EC2::SecurityGroup", "GroupId"): SECURITY_GROUP,
        }
        (machine,) = [m for m in state_machines(platform, overrides=stand_ins) if m.template == "Dev/Models-1/Training-churn"]
        self.definition = machine.definition
        definition = json.dumps(self.definition)
        self.machine_arn = self.sfn.create_state_machine(name="churn-training", definition=definition, roleArn=machine_role)["stateMachineArn"]

    def run(self, script: JobScript, timeout: float = 60) -> dict[str, Any]:
        with sagemaker_double(script):
            execution_arn = self.sfn.start_execution(
                stateMachineArn=self.machine_arn, name=f"run-{uuid.uuid4()}", input=json.dumps({"trigger": "test"})
            )["executionArn"]
            deadline = time.monotonic() + timeout
            while True:
                execution = self.sfn.describe_execution(executionArn=execution_arn)
                if execution["status"] != "RUNNING" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        execution["history"] = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return execution

    def packages(self) -> list[dict[str, Any]]:
        summaries = self.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        return [self.sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]

    def notifications(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


@contextlib.contextmanager
def moto_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SF_EXECUTION_HISTORY_TYPE", "SUCCESS")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def world(platform: SynthesizedPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with moto_world(monkeypatch):
        yield World(platform)


def entered_states(execution: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution["history"] if "stateEnteredEventDetails" in e]


def test_happy_path_registers_exactly_one_package_with_the_evaluation(world: World) -> None:
    script = JobScript(metric_value=0.91)
    execution = world.run(script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    assert entered_states(execution) == [
        "Prepare", "Preprocess", "Train", "Evaluate", "ReadEvaluation", "MetricGate", "Register", "NotifyRegistered", "Registered",
    ]
    (package,) = world.packages()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageGroupName"] == GROUP
    (train_call,) = [params for kind, params in script.calls if kind == "train"]
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == f"{train_call['OutputDataConfig']['S3OutputPath']}/{train_call['TrainingJobName']}/output/model.tar.gz"
    report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"
    assert json.loads(world.s3.get_object(Bucket=bucket, Key=key)["Body"].read())["binary_classification_metrics"]["auc"]["value"] == 0.91
    (message,) = world.notifications()
    assert message["result"] == "registered"
    assert message["modelPackageArn"] == package["ModelPackageArn"]
    # the default config's one-metric gate (auc at least 0.8), read from the model-quality report
    assert message["conditions"] == [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": 0.8, "value": 0.91}]


def baseline_prefix(execution: dict[str, Any]) -> str:
    """Where the run of this execution keeps its drift baseline: the artifact prefix, the MD5 of the
    execution id (its ARN), then baseline."""
    return f"s3://{ARTIFACT_BUCKET}/churn/{hashlib.md5(execution['executionArn'].encode()).hexdigest()}/baseline"


def test_registration_records_the_runs_drift_baseline(world: World) -> None:
    script = JobScript(metric_value=0.91)
    execution = world.run(script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    (package,) = world.packages()
    recorded = package["CustomerMetadataProperties"]["DriftBaselineS3Uri"]
    assert recorded == baseline_prefix(execution)
    # The preprocessing job was asked to upload its baseline directory there, beside the splits.
    (preprocess,) = [params for kind, params in script.calls if kind == "preprocess"]
    outputs = {o["OutputName"]: o["S3Output"] for o in preprocess["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["baseline"] == {"S3Uri": recorded, "LocalPath": "/opt/ml/processing/output/baseline", "S3UploadMode": "EndOfJob"}
    assert outputs["train"]["S3Uri"] == recorded.removesuffix("/baseline") + "/splits/train"
    # What the job wrote is found from the package alone.
    bucket, _, key = recorded.removeprefix("s3://").partition("/")
    assert world.s3.get_object(Bucket=bucket, Key=f"{key}/baseline.csv")["Body"].read().decode().splitlines()[0] == "f0,f1"
    assert json.loads(world.s3.get_object(Bucket=bucket, Key=f"{key}/baseline.json")["Body"].read())["label_excluded"] is True


def test_each_version_keeps_its_own_baseline(world: World) -> None:
    first = world.run(JobScript(metric_value=0.91))
    second = world.run(JobScript(metric_value=0.93))
    packages = {p["ModelPackageVersion"]: p["CustomerMetadataProperties"]["DriftBaselineS3Uri"] for p in world.packages()}
    assert packages == {1: baseline_prefix(first), 2: baseline_prefix(second)}
    assert baseline_prefix(first) != baseline_prefix(second)
    # The newer run wrote beside its own model; the first version's baseline is still there for a rollback.
    bucket, _, key = baseline_prefix(first).removeprefix("s3://").partition("/")
    assert world.s3.get_object(Bucket=bucket, Key=f"{key}/baseline.csv")["Body"].read()


def test_jobs_get_unique_names_isolated_encrypted_settings_and_chained_locations(world: World) -> None:
    script = JobScript(metric_value=0.95)
    world.run(script)
    calls = dict(script.calls)
    preprocess, train, evaluate = calls["preprocess"], calls["train"], calls["evaluate"]
    names = [preprocess["ProcessingJobName"], train["TrainingJobName"], evaluate["ProcessingJobName"]]
    assert len(set(names)) == 3 and all(len(n) <= 63 for n in names)
    assert [n.split("-")[1] for n in names] == ["p", "t", "e"]
    for job in (preprocess, evaluate):
        assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
        assert job["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
        assert job["NetworkConfig"]["VpcConfig"]["SecurityGroupIds"] == [SECURITY_GROUP]
    assert train["EnableNetworkIsolation"] is True and train["EnableInterContainerTrafficEncryption"] is True
    assert train["VpcConfig"]["SecurityGroupIds"] == [SECURITY_GROUP]
    # volumes and outputs of every job: one key, the dev store's
    (key,) = {train["ResourceConfig"]["VolumeKmsKeyId"], train["OutputDataConfig"]["KmsKeyId"],
              *(job["ProcessingOutputConfig"]["KmsKeyId"] for job in (preprocess, evaluate)),
              *(job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] for job in (preprocess, evaluate))}
    assert key.startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    # each step reads what the previous one wrote
    splits = {o["OutputName"]: o["S3Output"]["S3Uri"] for o in preprocess["ProcessingOutputConfig"]["Outputs"]}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]}
    assert channels == {"train": splits["train"], "validation": splits["validation"]}
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    assert inputs["test"] == splits["test"]
    assert inputs["model"] == f"{train['OutputDataConfig']['S3OutputPath']}/{train['TrainingJobName']}/output/model.tar.gz"
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in preprocess["ProcessingInputs"]}["data"] == f"s3://{DATA_BUCKET}/churn/raw/"
    assert train["HyperParameters"] == {"objective": "binary:logistic", "num_round": "200", "max_depth": "5", "eta": "0.2"}


def test_two_runs_use_different_job_names(world: World) -> None:
    first, second = JobScript(metric_value=0.95), JobScript(metric_value=0.95)
    world.run(first)
    world.run(second)
    def job_names(script: JobScript) -> set[str]:
        return {params.get("TrainingJobName") or params["ProcessingJobName"] for _, params in script.calls}

    assert len(job_names(first)) == len(job_names(second)) == 3
    assert job_names(first).isdisjoint(job_names(second))
    assert len(world.packages()) == 2


def test_metric_below_threshold_registers_nothing_and_notifies(world: World) -> None:
    execution = world.run(JobScript(metric_value=0.7))
    assert execution["status"] == "SUCCEEDED"
    assert entered_states(execution)[-3:] == ["MetricGate", "NotifyGateMissed", "NotRegistered"]
    assert world.packages() == []
    (message,) = world.notifications()
    assert message["result"] == "gate-missed"
    assert message["conditions"] == [{"path": "binary_classification_metrics.auc.value", "op": ">=", "threshold": 0.8, "value": 0.7}]


def test_failed_training_job_ends_in_the_failure_notification_and_fail(world: World) -> None:
    execution = world.run(JobScript(failing_jobs={"train"}))
    assert execution["status"] == "FAILED"
    assert execution["error"] == "TrainingPipelineFailed"
    assert entered_states(execution)[-3:] == ["Train", "NotifyFailure", "Failed"]
    assert world.packages() == []
    (message,) = world.notifications()
    assert message["result"] == "failed"
    assert message["error"] == "States.TaskFailed"
    assert "AlgorithmError" in message["cause"]


def test_a_report_without_the_metric_fails_instead_of_passing_the_gate(world: World) -> None:
    execution = world.run(JobScript(metric_value=None))
    assert execution["status"] == "FAILED"
    assert entered_states(execution)[-4:] == ["MetricGate", "ReportUnusable1", "NotifyFailure", "Failed"]
    assert world.packages() == []
    (message,) = world.notifications()
    assert message["error"] == "EvaluationReportInvalid"
    assert message["cause"] == ("evaluation.json has no numeric value at binary_classification_metrics.auc.value "
                                "(gate condition binary_classification_metrics.auc.value >= 0.8)")


def test_a_report_in_the_format_of_before_is_unusable_for_the_bundled_gate(world: World) -> None:
    # metrics.auc.value, as the evaluation wrote it before the model-quality format: the gate's path is absent
    execution = world.run(JobScript(section="metrics", metric_value=0.95))
    assert execution["status"] == "FAILED"
    assert entered_states(execution)[-3:] == ["ReportUnusable1", "NotifyFailure", "Failed"]
    assert world.packages() == []


# -- a regression model, gated on several conditions -----------------------------------------------------

ABALONE_GATE = {"conditions": [
    {"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6.0},
    {"path": "regression_metrics.r2.value", "direction": "maximize", "threshold": 0.4},
]}


@pytest.fixture(scope="module")
def regression_platform(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPlatform:
    """The default platform with its model a regression gated at mse <= 6 and r2 >= 0.4 (SageMaker's abalone example)."""
    data = default_config_data()
    data["models"][0].update(problem_type="regression", gate=ABALONE_GATE)
    return synthesize(PlatformConfig.from_mapping(data, source="abalone"), tmp_path_factory.mktemp("cdk.out.regression"))


@pytest.fixture
def regression(regression_platform: SynthesizedPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with moto_world(monkeypatch):
        yield World(regression_platform)


def regression_run(world: World, **values: Any) -> tuple[dict[str, Any], JobScript]:
    script = JobScript(section="regression_metrics", values=values)
    return world.run(script), script


def test_a_regression_model_within_its_error_bound_is_registered_with_its_report(regression: World) -> None:
    execution, script = regression_run(regression, mae=1.6, mse=4.2, rmse=2.05, r2=0.55)
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    assert entered_states(execution)[-4:] == ["MetricGate", "Register", "NotifyRegistered", "Registered"]
    (evaluate,) = [params for kind, params in script.calls if kind == "evaluate"]
    assert evaluate["Environment"] == {"PROBLEM_TYPE": "regression"}
    (package,) = regression.packages()
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    bucket, _, key = statistics["S3Uri"].removeprefix("s3://").partition("/")
    assert json.loads(regression.s3.get_object(Bucket=bucket, Key=key)["Body"].read())["regression_metrics"]["mse"] == {
        "value": 4.2, "standard_deviation": "NaN",
    }
    (message,) = regression.notifications()
    assert message["result"] == "registered"
    assert message["conditions"] == [
        {"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6.0, "value": 4.2},
        {"path": "regression_metrics.r2.value", "op": ">=", "threshold": 0.4, "value": 0.55},
    ]


@pytest.mark.parametrize("mse", [6.0, 5.999])
def test_an_error_at_the_bound_passes(regression: World, mse: float) -> None:
    execution, _ = regression_run(regression, mse=mse, r2=0.5)
    assert execution["status"] == "SUCCEEDED"
    assert len(regression.packages()) == 1


def test_a_regression_model_over_its_error_bound_is_not_registered(regression: World) -> None:
    execution, _ = regression_run(regression, mse=7.5, r2=0.6)
    assert execution["status"] == "SUCCEEDED"
    assert entered_states(execution)[-3:] == ["MetricGate", "NotifyGateMissed", "NotRegistered"]
    assert regression.packages() == []
    (message,) = regression.notifications()
    # a missed minimize gate is not "below threshold": the message says what was missed, and how
    assert message["result"] == "gate-missed"
    assert message["conditions"][0] == {"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6.0, "value": 7.5}


def test_one_missed_condition_of_two_stops_the_registration(regression: World) -> None:
    execution, _ = regression_run(regression, mse=4.2, r2=0.25)
    assert execution["status"] == "SUCCEEDED"
    assert entered_states(execution)[-2:] == ["NotifyGateMissed", "NotRegistered"]
    assert regression.packages() == []
    (message,) = regression.notifications()
    assert message["conditions"] == [
        {"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6.0, "value": 4.2},
        {"path": "regression_metrics.r2.value", "op": ">=", "threshold": 0.4, "value": 0.25},
    ]


@pytest.mark.parametrize(
    ("values", "state", "path"),
    [
        ({"mse": 4.2}, "ReportUnusable2", "regression_metrics.r2.value"),
        ({"mse": "NaN", "r2": 0.6}, "ReportUnusable1", "regression_metrics.mse.value"),
    ],
    ids=["missing", "not-a-number"],
)
def test_a_value_the_gate_cannot_read_fails_the_run_naming_its_path(regression: World, values: dict[str, Any], state: str, path: str) -> None:
    execution, _ = regression_run(regression, **values)
    assert execution["status"] == "FAILED"
    assert entered_states(execution)[-4:] == ["MetricGate", state, "NotifyFailure", "Failed"]
    assert regression.packages() == []
    (message,) = regression.notifications()
    assert message["result"] == "failed"
    assert message["error"] == "EvaluationReportInvalid"
    assert message["cause"].startswith(f"evaluation.json has no numeric value at {path} ")


# -- hyperparameter tuning: the best training job's model is evaluated and registered ---------------------

TUNING = {
    "objective": {"metric": "validation:auc", "type": "Maximize"},
    "ranges": {"eta": {"type": "continuous", "min": 0.05, "max": 0.5, "scaling": "Logarithmic"},
               "min_child_weight": {"type": "integer", "min": 1, "max": 9},
               "booster": {"type": "categorical", "values": ["gbtree", "dart"]}},
    "max_jobs": 6,
    "max_parallel_jobs": 2,
}


@pytest.fixture(scope="module")
def tuning_platform(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPlatform:
    """The default platform with its model tuned: eta moves from the static hyperparameters to a range."""
    data = default_config_data()
    model = data["models"][0]
    del model["training"]["hyperparameters"]["eta"]
    model["tuning"] = TUNING
    return synthesize(PlatformConfig.from_mapping(data, source="tuned"), tmp_path_factory.mktemp("cdk.out.tuning"))


@pytest.fixture
def tuned(tuning_platform: SynthesizedPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with moto_world(monkeypatch):
        yield World(tuning_platform)


def tuned_run(world: World, script: JobScript) -> dict[str, Any]:
    with jsonata_in_moto():  # the state naming the tuning job is JSONata
        return world.run(script)


def test_tuning_registers_the_best_training_jobs_model(tuned: World) -> None:
    script = JobScript(metric_value=0.91, tuning_trials=3, best_trial=2)
    execution = tuned_run(tuned, script)
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
    assert entered_states(execution) == [
        "Prepare", "Preprocess", "NameTuningJob", "Tune", "HasBestTrainingJob", "BestTrainingJob", "DescribeBestTrainingJob", "Evaluate",
        "ReadEvaluation", "MetricGate",
        "Register", "NotifyRegistered", "Registered",
    ]
    assert [kind for kind, _ in script.calls] == ["preprocess", "tune", "evaluate"]
    (tune,) = [params for kind, params in script.calls if kind == "tune"]
    run = hashlib.md5(execution["executionArn"].encode()).hexdigest()
    # <model>-<the run's MD5, cut to fit>-<retry>: the API allows 32 characters
    assert tune["HyperParameterTuningJobName"] == f"churn-{run[:24]}-0"
    best = script.trials[1]
    model_uri = f"s3://{ARTIFACT_BUCKET}/churn/{run}/model/{best['TrainingJobName']}/output/model.tar.gz"
    (evaluate,) = [params for kind, params in script.calls if kind == "evaluate"]
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}["model"] == model_uri
    (package,) = tuned.packages()
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == model_uri
    tuning_job = tuned.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tune["HyperParameterTuningJobName"])
    assert package["CustomerMetadataProperties"] == {
        "DriftBaselineS3Uri": baseline_prefix(execution), "TuningJob": tuning_job["HyperParameterTuningJobArn"],
    }
    # the trials tried the ranges on top of the static hyperparameters
    assert best["HyperParameters"]["objective"] == "binary:logistic" and "eta" in best["TunedHyperParameters"]
    (message,) = tuned.notifications()
    assert message["result"] == "registered" and message["modelPackageArn"] == package["ModelPackageArn"]


def test_the_tuning_jobs_training_jobs_keep_the_guardrails(tuned: World) -> None:
    script = JobScript(metric_value=0.91)
    tuned_run(tuned, script)
    (tune,) = [params for kind, params in script.calls if kind == "tune"]
    definition = tune["TrainingJobDefinition"]
    assert definition["EnableNetworkIsolation"] is True and definition["EnableInterContainerTrafficEncryption"] is True
    assert definition["VpcConfig"]["SecurityGroupIds"] == [SECURITY_GROUP]
    assert definition["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")
    assert definition["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert definition["StaticHyperParameters"] == {"objective": "binary:logistic", "num_round": "200", "max_depth": "5"}
    assert "MetricDefinitions" not in definition["AlgorithmSpecification"]  # the built-in algorithm reports validation:auc
    (preprocess,) = [params for kind, params in script.calls if kind == "preprocess"]
    splits = {o["OutputName"]: o["S3Output"]["S3Uri"] for o in preprocess["ProcessingOutputConfig"]["Outputs"]}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition["InputDataConfig"]}
    assert channels == {"train": splits["train"], "validation": splits["validation"]}
    config = tune["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6 and config["ResourceLimits"]["MaxParallelTrainingJobs"] == 2
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}]


def test_a_tuning_job_without_a_best_training_job_ends_in_the_failure_notification(tuned: World) -> None:
    execution = tuned_run(tuned, JobScript(metric_value=0.91, best_trial=0))
    assert execution["status"] == "FAILED"
    assert entered_states(execution)[-5:] == ["Tune", "HasBestTrainingJob", "NoBestTrainingJob", "NotifyFailure", "Failed"]
    assert tuned.packages() == []
    (message,) = tuned.notifications()
    assert message["error"] == "NoBestTrainingJob"


def test_a_failed_tuning_job_ends_in_the_failure_notification(tuned: World) -> None:
    execution = tuned_run(tuned, JobScript(failing_jobs={"tune"}))
    assert execution["status"] == "FAILED"
    assert entered_states(execution)[-3:] == ["Tune", "NotifyFailure", "Failed"]
    assert tuned.packages() == []
    (message,) = tuned.notifications()
    assert message["error"] == "States.TaskFailed" and "AlgorithmError" in message["cause"]
