"""Bring your own code: steps run as the user's scripts in SageMaker framework images (script mode).

The three-model platform's ``churn`` runs the user-style example ``examples/byo_regression`` (every step a
script, evaluation with network isolation off); these tests check its template, the construct's and the
configuration's refusals, the archive, and the example's scripts run for real on generated data.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import numpy as np
import pytest
import yaml
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from mlops_constructs import PropsError
from mlops_constructs.config import ConfigError, PlatformConfig
from mlops_constructs.training import ScriptStep, TrainingPipeline, source_archive
from mlops_constructs.training.source_archive import write_archive
from tests.conftest import CDK_CONTEXT, REPO, SynthesizedPlatform, default_config_data, resources, three_model_config_data
from tests.test_training_pipeline import ACCOUNT, KEY_ARN, PROCESSING_IMAGE, REGION, SUBNETS, TRAINING_IMAGE, one, states

EXAMPLE = REPO / "examples" / "byo_regression"
EXAMPLE_CODE = EXAMPLE / "code"
SKLEARN_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ENTRYPOINT_SCRIPT = 'cd /opt/ml/processing/code && tar -xzf /opt/ml/processing/code/{key} && exec python3 "$0" "$@"'


def example_model() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLE / "model.yaml").read_text())


def asset_key(platform: SynthesizedPlatform, stack: str = "Dev/Models-1/Training-churn") -> str:
    """The object key of the stack's one .gz asset (the source archive), from its asset manifest."""
    manifest = next(platform.outdir.rglob(f"{stack.replace('/', '').replace('-', '')}*.assets.json"))
    files = json.loads(manifest.read_text())["files"]
    (key,) = [d["objectKey"] for f in files.values() for d in f["destinations"].values() if d["objectKey"].endswith(".gz")]
    return key


def statements(template: dict[str, Any], policy: str) -> dict[str, dict[str, Any]]:
    (document,) = [r["Properties"]["PolicyDocument"] for k, r in template["Resources"].items()
                   if r["Type"] == "AWS::IAM::ManagedPolicy" and k.startswith(f"Pipeline{policy}")]
    return {s.get("Sid", ""): s for s in document["Statement"]}


# -- the platform's script-mode model ---------------------------------------------------------------


def test_the_source_directory_ships_as_a_deterministic_tar_gz_asset(three_model_platform: SynthesizedPlatform, tmp_path: Path) -> None:
    key = asset_key(three_model_platform)
    (staged,) = three_model_platform.outdir.rglob(f"asset.{key.removesuffix('.gz')}.tar.gz")  # staged once, in some assembly
    with tarfile.open(staged, "r:gz") as archive:
        assert sorted(archive.getnames()) == ["common.py", "evaluate.py", "preprocess.py", "train.py"]
        assert {m.mtime for m in archive.getmembers()} == {0} and {m.uid for m in archive.getmembers()} == {0}
    # the same sources give the same bytes, and caches are left out
    (tmp_path / "src" / "__pycache__").mkdir(parents=True)
    (tmp_path / "src" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "src" / "a.py").write_text("print(1)\n")
    write_archive(tmp_path / "src", tmp_path / "one.tar.gz")
    os.utime(tmp_path / "src" / "a.py", (1, 1))
    write_archive(tmp_path / "src", tmp_path / "two.tar.gz")
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "one.tar.gz") as archive:
        assert archive.getnames() == ["a.py"]


def test_processing_steps_unpack_the_archive_and_run_the_script_with_its_arguments(three_model_platform: SynthesizedPlatform) -> None:
    key = asset_key(three_model_platform)
    machine = states(three_model_platform.templates["Dev/Models-1/Training-churn"])
    code_input = {"InputName": "code", "S3Input": {
        "S3Uri": f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/{key}", "LocalPath": "/opt/ml/processing/code",
        "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None",
    }}
    preprocess = machine["Preprocess"]["Parameters"]
    assert preprocess["AppSpecification"] == {
        "ImageUri": SKLEARN_IMAGE,
        "ContainerEntrypoint": ["/bin/sh", "-c", ENTRYPOINT_SCRIPT.format(key=key), "preprocess.py"],
        "ContainerArguments": ["--label", "rings", "--categorical", "sex", "--seed", "7"],
    }
    assert preprocess["ProcessingInputs"][-1] == code_input
    assert "Environment" not in preprocess  # no bundled-script settings for a script of the user's
    assert preprocess["NetworkConfig"]["EnableNetworkIsolation"] is True
    evaluate = machine["Evaluate"]["Parameters"]
    assert evaluate["AppSpecification"]["ContainerEntrypoint"][-1] == "evaluate.py"
    assert "ContainerArguments" not in evaluate["AppSpecification"]
    assert evaluate["ProcessingInputs"][-1] == code_input
    assert evaluate["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"
    assert evaluate["Environment"] == {"PROBLEM_TYPE": "regression"}
    # the test platform turns isolation off for this step; the other guardrails stay
    assert evaluate["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert evaluate["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert evaluate["NetworkConfig"]["VpcConfig"]["Subnets"]


def test_training_uses_the_framework_containers_script_mode(three_model_platform: SynthesizedPlatform) -> None:
    key = asset_key(three_model_platform)
    machine = states(three_model_platform.templates["Dev/Models-1/Training-churn"])
    train = machine["Train"]["Parameters"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == SKLEARN_IMAGE
    assert train["HyperParameters"] == {
        "alpha": "0.5",
        # JSON-encoded, as the SageMaker Python SDK writes them and the training toolkit reads them
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": f'"/opt/ml/input/data/code/{key}"',
        "sagemaker_region": '"<Ref AWS::Region>"',
        "sagemaker_container_log_level": "20",
    }
    channels = {c["ChannelName"]: c for c in train["InputDataConfig"]}
    assert list(channels) == ["train", "validation", "code"]
    assert channels["code"]["DataSource"]["S3DataSource"] == {"S3Uri": f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/{key}", "S3DataType": "S3Prefix"}
    assert train["Environment"] == {"OMP_NUM_THREADS": "2"}
    assert train["EnableNetworkIsolation"] is True
    # registered with the image that trained it
    assert machine["Register"]["Parameters"]["InferenceSpecification"]["Containers"][0]["Image"] == SKLEARN_IMAGE
    # and the gate reads the report the user's evaluation writes
    *_, reached = machine["MetricGate"]["Choices"]
    assert reached == {"Variable": "$.evaluation.report.regression_metrics.mse.value", "NumericLessThanEquals": 6, "Next": "Register"}


def test_the_jobs_may_read_the_archive(three_model_platform: SynthesizedPlatform) -> None:
    key = asset_key(three_model_platform)
    read = statements(three_model_platform.templates["Dev/Models-1/Training-churn"], "JobPolicy")["ReadScripts"]
    objects = read["Resource"]
    assert len(objects) == 3  # the two bundled scripts and the archive, each one object
    assert f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/{key}" in objects


def s3_prefix_inputs(machine: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """(bucket, key) of every S3Prefix input with a fixed URI, of the processing and training jobs the machine creates."""
    found = set()
    for state in machine.values():
        parameters = state.get("Parameters") or {}
        sources = [i["S3Input"] for i in parameters.get("ProcessingInputs", []) if "S3Input" in i]
        sources += [c["DataSource"]["S3DataSource"] for c in parameters.get("InputDataConfig", []) if "S3DataSource" in c.get("DataSource", {})]
        for source in sources:
            if source["S3DataType"] == "S3Prefix" and "S3Uri" in source:
                bucket, _, key = source["S3Uri"].removeprefix("s3://").partition("/")
                found.add((bucket, key))
    return found


@pytest.mark.parametrize("stack", ["Dev/Models-1/Training-churn", "Dev/Models-1/Training-fraud"])  # scripts in script mode; bundled
def test_the_jobs_may_list_each_code_input_they_download(three_model_platform: SynthesizedPlatform, stack: str) -> None:
    # SageMaker lists an S3Prefix input before it downloads it, so the job role needs s3:ListBucket on its bucket
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html): without it every job fails to start
    # ("ListObjectsV2 failed"). The bundled scripts and the user's archive are such inputs, in the assets bucket.
    template = three_model_platform.templates[stack]
    inputs = s3_prefix_inputs(states(template))
    assert len(inputs) >= 2  # the preprocessing and evaluation scripts at least
    listed = set()  # buckets the role may list without a condition
    for statement in statements(template, "JobPolicy").values():
        if statement["Effect"] == "Allow" and "s3:ListBucket" in [statement["Action"]] + list(statement["Action"]) and "Condition" not in statement:
            for bucket in [statement["Resource"]] if isinstance(statement["Resource"], (str, dict)) else statement["Resource"]:
                name = bucket if isinstance(bucket, str) else "".join(p if isinstance(p, str) else "aws" for p in bucket["Fn::Join"][1])
                listed.add(name.removeprefix("arn:aws:s3:::"))
    missing = {(b, k) for b, k in inputs if b.startswith("cdk-") and b not in listed}
    assert not missing, f"code inputs the job role may not list: {sorted(missing)}"


def test_isolation_off_for_one_kind_of_job_drops_only_that_condition(
    three_model_platform: SynthesizedPlatform, platform: SynthesizedPlatform,
) -> None:
    by_sid = statements(three_model_platform.templates["Dev/Models-1/Training-churn"], "StateMachinePolicy")
    assert "CreateJobsInsideGuardrails" not in by_sid
    processing, training = by_sid["CreateProcessingJobsInsideGuardrails"], by_sid["CreateTrainingJobsInsideGuardrails"]
    assert processing["Action"] == "sagemaker:CreateProcessingJob" and training["Action"] == "sagemaker:CreateTrainingJob"
    # the evaluation job runs without isolation: its kind may; traffic encryption, VPC and keys still required
    assert processing["Condition"]["Bool"] == {"sagemaker:InterContainerTrafficEncryption": "true"}
    assert training["Condition"]["Bool"] == {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
    for statement in (processing, training):
        assert set(statement["Condition"]) == {"ForAllValues:StringEquals", "Null", "ArnEquals", "Bool"}
        assert set(statement["Condition"]["ArnEquals"]) == {"sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey"}
    # the default platform keeps its one statement requiring isolation of both
    default = statements(platform.templates["Dev/Models-1/Training-churn"], "StateMachinePolicy")["CreateJobsInsideGuardrails"]
    assert default["Condition"]["Bool"] == {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}


# -- the construct ----------------------------------------------------------------------------------


def standalone(**kwargs: Any) -> tuple[cdk.Stack, TrainingPipeline]:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Test", env=cdk.Environment(account=ACCOUNT, region=REGION))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
        vpc_cidr_block="10.10.0.0/16", isolated_subnet_ids=SUBNETS, isolated_subnet_route_table_ids=["rtb-0aaa", "rtb-0bbb"],
    )
    code = kwargs.pop("source_code", "example")
    props: dict[str, Any] = {
        "model_name": "churn", "vpc": vpc, "data_bucket": s3.Bucket.from_bucket_name(stack, "Data", "acme-data"), "data_prefix": "churn/",
        "artifact_bucket": s3.Bucket.from_bucket_name(stack, "Artifacts", "acme-artifacts"),
        "encryption_key": kms.Key.from_key_arn(stack, "StoreKey", KEY_ARN), "training_image": TRAINING_IMAGE,
        "processing_image": PROCESSING_IMAGE, "model_package_group_name": "acme-churn",
        "source_code": source_archive(stack, "Code", str(EXAMPLE_CODE)) if code == "example" else code,
    }
    props.update(kwargs)
    return stack, TrainingPipeline(stack, "Pipeline", **props)


def step(entry_point: str = "train.py", **kwargs: Any) -> ScriptStep:
    return ScriptStep(entry_point=entry_point, image=SKLEARN_IMAGE, **kwargs)


def test_isolation_off_for_training_only_splits_the_statement_the_other_way() -> None:
    stack, _ = standalone(train_script=step(network_isolation=False, instance_count=3), evaluate_script=step("evaluate.py"))
    template = Template.from_stack(stack).to_json()
    by_sid = statements(template, "StateMachinePolicy")
    assert by_sid["CreateTrainingJobsInsideGuardrails"]["Condition"]["Bool"] == {"sagemaker:InterContainerTrafficEncryption": "true"}
    assert by_sid["CreateProcessingJobsInsideGuardrails"]["Condition"]["Bool"]["sagemaker:NetworkIsolation"] == "true"
    train = states(template)["Train"]["Parameters"]
    assert train["EnableNetworkIsolation"] is False and train["EnableInterContainerTrafficEncryption"] is True
    assert train["ResourceConfig"]["InstanceCount"] == 3
    # several instances of one job talk to each other: only within the job's own security group
    group_id, _ = one(template, "AWS::EC2::SecurityGroup")
    (ingress,) = (r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupIngress").values())
    assert ingress["SourceSecurityGroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]} and ingress["IpProtocol"] == "-1"


def test_all_steps_isolated_keep_one_statement() -> None:
    stack, _ = standalone(preprocess_script=step("preprocess.py"), train_script=step(), evaluate_script=step("evaluate.py"))
    by_sid = statements(Template.from_stack(stack).to_json(), "StateMachinePolicy")
    assert by_sid["CreateJobsInsideGuardrails"]["Condition"]["Bool"]["sagemaker:NetworkIsolation"] == "true"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"train_script": step(), "source_code": None}, r"TrainingPipeline: train_script: runs a script of source_code: give source_code"),
        ({}, r"TrainingPipeline: source_code: is run by the \*_script steps: give at least one"),
        ({"train_script": step()}, r"train_script: needs evaluate_script or evaluate_image"),
        ({"preprocess_script": step("preprocess.py"), "preprocess_image": PROCESSING_IMAGE},
         r"preprocess_script: must not be given together with preprocess_image"),
        ({"evaluate_script": step("../evaluate.py")}, r"evaluate_script\.entry_point: must be a \.py file's path relative to the source directory, without '\.\.' \(train\.py, jobs/train\.py\) \(got '\.\./evaluate\.py'\)"),
        ({"evaluate_script": step("evaluate.py", arguments="--x")}, r"evaluate_script\.arguments: must be a list of strings \(got '--x'\)"),
        ({"evaluate_script": step("evaluate.py", arguments=["--n", 3])}, r"evaluate_script\.arguments: must be a list of strings"),
        ({"train_script": step(arguments=["--alpha", "1"]), "evaluate_script": step("evaluate.py")},
         r"train_script\.arguments: must be empty for the train step: the framework container passes the hyperparameters"),
        ({"evaluate_script": step("evaluate.py", environment={"A": "x" * 257})}, r"evaluate_script\.environment\.A: must be a string of at most 256 characters"),
        ({"evaluate_script": step("evaluate.py", environment={"A": 1})}, r"evaluate_script\.environment\.A: must be a string"),
        ({"evaluate_script": step("evaluate.py", environment={"1A": "x"})}, r"evaluate_script\.environment: must name variables"),
        ({"evaluate_script": step("evaluate.py", environment={"PROBLEM_TYPE": "x"})}, r"evaluate_script\.environment: is set by the pipeline"),
        ({"evaluate_script": step("evaluate.py", instance_type="m5.large")}, r"evaluate_script\.instance_type: must be a SageMaker processing instance type name"),
        # SageMaker refuses the pipeline's volume key on instance storage: caught here, not at the job's start
        ({"preprocess_script": step("prep.py", instance_type="ml.g7e.2xlarge")},
         r"preprocess_script\.instance_type: must be an instance type without local \(NVMe\) instance storage.* \(got 'ml\.g7e\.2xlarge'\)"),
        ({"evaluate_script": step("evaluate.py", instance_count=0)}, r"evaluate_script\.instance_count: must be an integer from 1 to 100 \(got 0\)"),
        ({"train_script": step(), "evaluate_script": step("evaluate.py"), "hyperparameters": {"sagemaker_program": "x.py"}},
         r"hyperparameters: must not set the script-mode hyperparameters"),
        ({"evaluate_script": ScriptStep(entry_point="evaluate.py", image="sklearn:1.2-1")}, r"evaluate_script\.image: must be an ECR image URI"),
    ],
)
def test_bad_script_props_are_refused(props: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        standalone(**props)


# -- the configuration ------------------------------------------------------------------------------


def config_with(model: dict[str, Any]) -> PlatformConfig:
    data = default_config_data()
    data["models"] = [model]
    return PlatformConfig.from_mapping(data, source="test.yaml")


def test_the_example_model_loads() -> None:
    model = config_with(example_model()).models[0]
    assert model.code is not None and model.code.train is not None and model.code.evaluate is not None
    assert model.code.preprocess is not None and model.code.preprocess.arguments[:2] == ["--label", "rings"]
    assert model.code.evaluate.network_isolation is True  # the default


def _edited(path: str, value: Any) -> dict[str, Any]:
    model = copy.deepcopy(example_model())
    *parents, last = path.split(".")
    node = model
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        del node[last]
    else:
        node[last] = value
    return model


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("code.source_dir", "examples/nowhere", "models[0].code.source_dir: must be a directory, relative to the working directory of cdk synth"),
        ("code.train.entry_point", "fit.py", "models[0].code.train.entry_point: must be a file in source_dir examples/byo_regression/code (got 'fit.py')"),
        ("code.train.entry_point", "/abs/train.py", "models[0].code.train.entry_point: must be a .py file's path relative to source_dir"),
        ("code.preprocess.arguments", ["--seed", 7], "models[0].code.preprocess.arguments[1]: "),
        ("code.train.environment", {"OMP_NUM_THREADS": 2}, "models[0].code.train.environment.OMP_NUM_THREADS: "),
        ("code.train.environment", {"X": "y" * 257}, "models[0].code.train.environment.X: "),
        ("code.train.framework", "mxnet", "models[0].code.train.framework: "),
        ("code.train.framework", "pytorch", "models[0].code.train: is not a known SageMaker image: Unsupported pytorch version: 1.2-1"),
        ("code.train.framework", None, "models[0].code.train.framework: is required (one of sklearn, xgboost, pytorch, tensorflow, with version), unless dockerfile"),
        ("code.train.version", None, "models[0].code.train.version: is required with framework sklearn"),
        ("code.train.dockerfile", "examples/byo_regression/docker/Dockerfile",
         "models[0].code.train.framework: must not be given with dockerfile, which names the step's image: remove one (got 'sklearn')"),
        ("code.train.dockerfile", "examples/nowhere/Dockerfile", "models[0].code.train.dockerfile: must be a file, relative to the working directory of cdk synth"),
        ("code.train.network_isolation", "no", "models[0].code.train.network_isolation: "),
        ("code.evaluate", None, "models[0].code.train: needs code.evaluate (or processing.evaluate_image)"),
        ("processing", {"preprocess_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/p:1"},
         "models[0].code.preprocess: must not be given together with processing.preprocess_image"),
        ("processing", {"seed": 3}, "models[0].processing.seed: configures the bundled preprocessing script, which code.preprocess replaces"),
        ("training.algorithm", {"framework": "xgboost", "version": "1.7-1"}, "models[0].code.train: must not be given together with training.algorithm"),
        ("code.evaluate.environment", {"PROBLEM_TYPE": "x"}, "models[0].code.evaluate.environment.PROBLEM_TYPE: is set by the platform"),
        ("code.train.version", "9.9-9", "models[0].code.train: "),
        ("training.hyperparameters", {"sagemaker_program": "other.py"}, "models[0].training.hyperparameters.sagemaker_program: is set by the platform for code.train"),
    ],
)
def test_bad_code_settings_are_one_line_errors(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_with(_edited(path, value))
    lines = [line for line in str(raised.value).splitlines() if "models[0]" in line]
    assert any(expected in line for line in lines), str(raised.value)


def test_the_three_model_platform_runs_the_example_for_churn() -> None:
    config = PlatformConfig.from_mapping(three_model_config_data())
    code = config.models[0].code
    assert code is not None and Path(code.source_dir) == EXAMPLE_CODE
    assert code.evaluate is not None and code.evaluate.network_isolation is False


# -- the example's scripts, run for real ------------------------------------------------------------


def abalone_like(rows: int, seed: int = 1) -> str:
    """A CSV with a header: sex (M/F/I), four measurements and rings, linear in them plus a little noise."""
    rng = np.random.default_rng(seed)
    sexes = rng.choice(["M", "F", "I"], size=rows)
    measures = rng.uniform(0.1, 0.8, size=(rows, 4))
    rings = 3 + measures @ np.array([6.0, 4.0, 8.0, 2.0]) + np.select([sexes == "I"], [-1.5], 0.0) + rng.normal(0, 0.5, rows)
    lines = ["sex,length,diameter,height,weight,rings"]
    lines += [f"{s},{m[0]:.4f},{m[1]:.4f},{m[2]:.4f},{m[3]:.4f},{r:.2f}" for s, m, r in zip(sexes, measures, rings)]
    return "\n".join(lines) + "\n"


def run_entrypoint(step_name: str, archive: Path, code_dir: Path, environment: dict[str, str], arguments: list[str]) -> None:
    """The processing job's ContainerEntrypoint, as the platform writes it, with the code directory moved into tmp."""
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / "source.gz").write_bytes(archive.read_bytes())
    script = ENTRYPOINT_SCRIPT.format(key="source.gz").replace("/opt/ml/processing/code", str(code_dir))
    done = subprocess.run(["/bin/sh", "-c", script, step_name, *arguments], env={**os.environ, **environment, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_example_scripts_preprocess_train_and_evaluate_generated_data(tmp_path: Path) -> None:
    model = example_model()
    archive = tmp_path / "sourcedir.tar.gz"
    write_archive(EXAMPLE_CODE, archive)
    root = tmp_path / "processing"
    (root / "input" / "raw").mkdir(parents=True)
    (root / "input" / "raw" / "part-1.csv").write_text(abalone_like(600))
    env = {"PROCESSING_ROOT": str(root)}

    run_entrypoint("preprocess.py", archive, tmp_path / "p" / "code", env, model["code"]["preprocess"]["arguments"])
    train_rows = np.loadtxt(root / "output" / "train" / "train.csv", delimiter=",", ndmin=2)
    assert train_rows.shape[1] == 1 + 4 + 3  # label, measurements, one column per sex
    assert (root / "output" / "baseline" / "baseline.csv").read_text().splitlines()[0].startswith("length,")

    # training as the framework container runs it: SM_* locations, hyperparameters as --name value
    model_dir = tmp_path / "model"
    unpacked = tmp_path / "t"
    with tarfile.open(archive) as source:
        source.extractall(unpacked)  # noqa: S202 - our own archive
    train_env = {**os.environ, "SM_MODEL_DIR": str(model_dir), "SM_CHANNEL_TRAIN": str(root / "output" / "train"),
                 "SM_CHANNEL_VALIDATION": str(root / "output" / "validation")}
    alpha = model["training"]["hyperparameters"]["alpha"]
    done = subprocess.run([sys.executable, "train.py", "--alpha", str(alpha)], cwd=unpacked, env=train_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    # SageMaker uploads the model directory as model.tar.gz; the evaluation job gets it and the test split
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
        packed.add(model_dir / "model.joblib", arcname="model.joblib")
    (root / "model").mkdir()
    (root / "model" / "model.tar.gz").write_bytes(buffer.getvalue())
    (root / "test").mkdir()
    (root / "test" / "test.csv").write_bytes((root / "output" / "test" / "test.csv").read_bytes())
    run_entrypoint("evaluate.py", archive, tmp_path / "e" / "code", env, [])

    report = json.loads((root / "evaluation" / "evaluation.json").read_text())
    assert set(report["regression_metrics"]) == {"mae", "mse", "rmse", "r2"}
    mse = report["regression_metrics"]["mse"]["value"]
    (condition,) = model["gate"]["conditions"]
    assert condition["path"] == "regression_metrics.mse.value" and condition["op"] == "<="
    assert 0 < mse <= condition["threshold"]  # the example's gate passes on data it can learn
    assert report["regression_metrics"]["r2"]["value"] > 0.5
    # fewer than 200 test rows: no standard deviation, as SageMaker's own reports
    assert len(np.loadtxt(root / "test" / "test.csv", delimiter=",", ndmin=2)) < 200
    assert {m["standard_deviation"] for m in report["regression_metrics"].values()} == {"NaN"}


def test_the_example_evaluation_spreads_a_metric_over_five_samples_of_80_percent(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.metrics import mean_squared_error

    monkeypatch.syspath_prepend(str(EXAMPLE_CODE))
    monkeypatch.delitem(sys.modules, "evaluate", raising=False)
    monkeypatch.delitem(sys.modules, "common", raising=False)
    import evaluate  # the example's script, as the processing job imports it

    rng = np.random.default_rng(7)
    actual = rng.normal(size=1000)
    predicted = actual + rng.normal(scale=0.5, size=1000)
    assert evaluate.spread(mean_squared_error, actual[:199], predicted[:199]) == "NaN"
    spread = evaluate.spread(mean_squared_error, actual, predicted)
    assert spread == evaluate.spread(mean_squared_error, actual, predicted)  # seeded: the same report for the same rows
    # five 800-row samples of a mean squared error near 0.25: a spread near its sampling error (about 0.005), not 0 or the error itself
    assert 0.0005 < spread < 0.02


# Scripts that run inside SageMaker's framework containers, and the oldest Python among those containers: the
# scikit-learn 1.2-1 image's 3.9 (aws/sagemaker-scikit-learn-container, docker/1.2-1/base/Dockerfile.cpu), and 3.8 for the
# platform's own processing scripts, which run in the built-in algorithms' and framework images.
CONTAINER_SCRIPTS = [(path, (3, 9)) for path in sorted(EXAMPLE_CODE.glob("*.py"))] + [
    (path, (3, 8)) for path in sorted((REPO / "mlops_constructs" / "training" / "scripts").glob("*.py"))]


@pytest.mark.parametrize(("path", "version"), CONTAINER_SCRIPTS, ids=lambda v: getattr(v, "name", str(v)))
def test_container_scripts_run_on_their_images_python(path: Path, version: tuple[int, int]) -> None:
    """The grammar of the image's Python, and no annotation that Python would evaluate and fail on (``str | Path``,
    ``list[int]`` before 3.9) unless annotations are postponed: the test suite's own Python would not notice."""
    import ast

    tree = ast.parse(path.read_text(), feature_version=version)
    postponed = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
                    for n in tree.body)
    if postponed:
        return
    annotations = [a for n in ast.walk(tree) for a in (
        [n.returns, *(x.annotation for x in (*n.args.args, *n.args.kwonlyargs, *n.args.posonlyargs))] if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        else [n.annotation] if isinstance(n, ast.AnnAssign) else []) if a is not None]
    too_new = [ast.unparse(a) for a in annotations for part in ast.walk(a)
               if (isinstance(part, ast.BinOp) and isinstance(part.op, ast.BitOr))
               or (version < (3, 9) and isinstance(part, ast.Subscript) and isinstance(part.value, ast.Name)
                   and part.value.id in ("list", "dict", "tuple", "set", "frozenset", "type"))]
    assert not too_new, f"{path.name}: annotations Python {version[0]}.{version[1]} cannot evaluate: {too_new}; add 'from __future__ import annotations'"


# -- the state machine, executed (moto and the SageMaker double) ------------------------------------


def test_a_pipeline_of_three_scripts_runs_gates_on_the_users_report_and_registers(
    three_model_platform: SynthesizedPlatform, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.sagemaker_sfn_double import JobScript
    from tests.test_training_execution import World, entered_states, moto_world

    key = asset_key(three_model_platform)
    archive_uri = f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/{key}"
    with moto_world(monkeypatch):
        world = World(three_model_platform)  # its churn runs the example's scripts
        passed = JobScript(section="regression_metrics", values={"mae": 1.6, "mse": 4.2, "rmse": 2.05, "r2": 0.7})
        execution = world.run(passed)
        assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution["history"][-3:]
        assert entered_states(execution)[-3:] == ["Register", "NotifyRegistered", "Registered"]
        calls = dict(passed.calls)
        preprocess, train, evaluate = calls["preprocess"], calls["train"], calls["evaluate"]
        # botocore accepted every call; each step gets the archive and runs its own script
        assert preprocess["AppSpecification"]["ContainerArguments"] == ["--label", "rings", "--categorical", "sex", "--seed", "7"]
        assert preprocess["AppSpecification"]["ContainerEntrypoint"][-1] == "preprocess.py"
        assert evaluate["AppSpecification"]["ContainerEntrypoint"][-1] == "evaluate.py"
        # the evaluate step runs in its own image, built from the example's Dockerfile; the others in sklearn's
        digest, _ = docker_asset(three_model_platform)
        assert evaluate["AppSpecification"]["ImageUri"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}:{digest}"
        assert preprocess["AppSpecification"]["ImageUri"] == train["AlgorithmSpecification"]["TrainingImage"] == SKLEARN_IMAGE
        for job in (preprocess, evaluate):
            assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}["code"] == archive_uri
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]}
        assert channels["code"] == archive_uri
        assert train["HyperParameters"]["sagemaker_program"] == '"train.py"'
        assert train["HyperParameters"]["sagemaker_submit_directory"] == f'"/opt/ml/input/data/code/{key}"'
        assert train["HyperParameters"]["alpha"] == "0.5"
        assert preprocess["NetworkConfig"]["EnableNetworkIsolation"] is True and train["EnableNetworkIsolation"] is True
        assert evaluate["NetworkConfig"]["EnableNetworkIsolation"] is False
        assert evaluate["NetworkConfig"]["VpcConfig"]["Subnets"] and evaluate["ProcessingOutputConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
        (package,) = world.packages()
        assert package["InferenceSpecification"]["Containers"][0]["Image"] == SKLEARN_IMAGE
        (message,) = world.notifications()
        assert message["conditions"] == [{"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6.0, "value": 4.2}]

        missed = world.run(JobScript(section="regression_metrics", values={"mse": 9.5}))
        assert missed["status"] == "SUCCEEDED" and entered_states(missed)[-2:] == ["NotifyGateMissed", "NotRegistered"]
        assert len(world.packages()) == 1


def test_the_scp_lets_only_the_kind_of_job_run_without_isolation_that_a_model_asks_for(
    three_model_platform: SynthesizedPlatform, platform: SynthesizedPlatform,
) -> None:
    from stacks.guardrails import guardrail_policy, jobs_without_isolation

    def isolation_denial(config: PlatformConfig) -> set[str]:
        (statement,) = [s for s in guardrail_policy(config)["Statement"] if s["Sid"] == "SageMakerNetworkIsolation"]
        return set(statement["Action"])

    assert jobs_without_isolation(platform.config) == []
    assert {"sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"} <= isolation_denial(platform.config)
    # churn's evaluation script runs without isolation: processing jobs may; training jobs still may not
    assert jobs_without_isolation(three_model_platform.config) == ["sagemaker:CreateProcessingJob"]
    assert isolation_denial(platform.config) - isolation_denial(three_model_platform.config) == {"sagemaker:CreateProcessingJob"}
    # every other guardrail still covers processing jobs
    vpc = [s for s in guardrail_policy(three_model_platform.config)["Statement"] if s["Sid"] == "SageMakerOnlyInAVpc"]
    assert "sagemaker:CreateProcessingJob" in vpc[0]["Action"]


def test_a_tuned_train_script_without_isolation_frees_its_tuning_jobs_in_the_scp_too() -> None:
    from stacks.guardrails import jobs_without_isolation
    from tests.conftest import three_model_config_data

    data = three_model_config_data()
    churn = data["models"][0]
    churn["code"]["train"]["network_isolation"] = False
    churn["tuning"] = {"objective": {"metric": "validation:mse", "type": "Minimize", "regex": "validation-mse=([0-9.]+)"},
                       "ranges": {"max_leaf_nodes": {"type": "integer", "min": 8, "max": 64}}}
    config = PlatformConfig.from_mapping(data, source="t.yaml")
    assert jobs_without_isolation(config) == [
        "sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"]


def test_a_script_trained_model_with_an_approved_version_is_refused_not_deployed_to_fail(tmp_path: Path) -> None:
    """The serving container would find no inference code for a script-trained model: refused at synthesis."""
    import aws_cdk as cdk

    from mlops_constructs.config import ConfigError
    from stacks import build_platform
    from tests.conftest import CDK_CONTEXT, three_model_config_data

    data = three_model_config_data()
    config = PlatformConfig.from_mapping(data, source="t.yaml")
    package = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-churn/3"
    with pytest.raises(ConfigError) as caught:
        build_platform(cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT), config, {"churn": package})
    (problem,) = caught.value.problems
    assert problem.startswith("models[0].code.train: a model trained by your script cannot be served by the platform's endpoints or batch runs yet")
    assert package in problem


def test_the_train_script_must_be_at_the_root_of_source_dir() -> None:
    """The XGBoost framework container runs the train script as `python -m <module>` of the unpacked directory
    (the SageMaker SDK requires entry_point at source_dir's root): a nested one would fail at its first job."""
    from mlops_constructs.config import ConfigError
    from tests.conftest import three_model_config_data

    data = three_model_config_data()
    data["models"][0]["code"]["train"]["entry_point"] = "jobs/train.py"
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(data, source="t.yaml")
    assert any(p.startswith("models[0].code.train.entry_point: must be a .py file at the root of source_dir") for p in caught.value.problems)


def test_built_in_xgboost_always_gets_num_round() -> None:
    from stacks.training_stack import XGBOOST_DEFAULT_NUM_ROUND, _hyperparameters
    from tests.conftest import three_model_config_data

    config = PlatformConfig.from_mapping(three_model_config_data(), source="t.yaml")
    churn, fraud, forecast = config.models
    assert "num_round" not in _hyperparameters(churn)  # a script: its own arguments
    assert _hyperparameters(fraud)["num_round"] == str(XGBOOST_DEFAULT_NUM_ROUND)  # tuned on others: num_round stays static
    assert _hyperparameters(forecast)["num_round"] == str(XGBOOST_DEFAULT_NUM_ROUND)
    data = three_model_config_data()
    data["models"][1]["tuning"]["ranges"]["num_round"] = {"type": "integer", "min": 50, "max": 400}
    tuned = PlatformConfig.from_mapping(data, source="t.yaml").models[1]
    assert "num_round" not in _hyperparameters(tuned)  # the tuning job sets it
    data["models"][2]["training"] = {"hyperparameters": {"num_round": 30}}
    assert _hyperparameters(PlatformConfig.from_mapping(data, source="t.yaml").models[2])["num_round"] == "30"


# -- your own image: a step built from a Dockerfile -------------------------------------------------

DOCKER_CONTEXT = EXAMPLE / "docker"
SKLEARN_REPOSITORY = "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn"


def docker_asset(platform: SynthesizedPlatform, stack: str = "Dev/Models-1/Training-churn") -> tuple[str, dict[str, Any]]:
    """The stack's one Docker image asset: its hash and its manifest entry."""
    manifest = next(platform.outdir.rglob(f"{stack.replace('/', '').replace('-', '')}*.assets.json"))
    (entry,) = json.loads(manifest.read_text())["dockerImages"].items()
    return entry


def test_a_dockerfile_step_is_an_image_asset_the_job_role_may_pull(three_model_platform: SynthesizedPlatform) -> None:
    digest, asset = docker_asset(three_model_platform)
    (staged,) = {p for p in three_model_platform.outdir.rglob(asset["source"]["directory"]) if p.is_dir()}
    # the Dockerfile's folder is the build context, copied into the assembly: no Docker at synthesis
    assert sorted(p.name for p in staged.iterdir()) == sorted(p.name for p in DOCKER_CONTEXT.iterdir())
    assert asset["source"].get("platform") == "linux/amd64"
    (destination,) = asset["destinations"].values()
    repository = destination["repositoryName"]
    assert repository == f"cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}" and destination["imageTag"] == digest

    template = three_model_platform.templates["Dev/Models-1/Training-churn"]
    from tests.validators.state_machines import state_machines

    (machine,) = [m for m in state_machines(three_model_platform) if m.template == "Dev/Models-1/Training-churn"]
    images = {name: state.get("Parameters", {}).get("AppSpecification", {}).get("ImageUri") for name, state in machine.definition["States"].items()}
    assert images["Evaluate"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{digest}"
    assert images["Preprocess"] == SKLEARN_IMAGE  # the other steps keep their framework image
    by_sid = statements(template, "JobPolicy")
    pull = by_sid["PullImages"]
    assert pull["Resource"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}" and "Condition" not in pull
    assert by_sid["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    # a platform without own images grants no pull at all
    three = three_model_platform.templates["Dev/Models-1/Training-fraud"]
    assert "PullImages" not in statements(three, "JobPolicy")


def test_the_pipeline_logs_in_to_the_dockerfiles_ecr_base_image_registry(three_model_platform: SynthesizedPlatform) -> None:
    template = three_model_platform.templates["Delivery"]
    policies = {k: r["Properties"] for k, r in resources(template, "AWS::IAM::Policy").items()}
    pulls = {k: s for k, p in policies.items() for s in p["PolicyDocument"]["Statement"] if s.get("Sid") == "PullBaseImages"}
    (role_policy,) = pulls  # on the Docker asset role only
    assert "AssetsDockerRole" in role_policy and pulls[role_policy]["Resource"] == SKLEARN_REPOSITORY
    projects = {k: json.dumps(r["Properties"]) for k, r in resources(template, "AWS::CodeBuild::Project").items()}
    docker = [k for k in projects if "DockerAsset" in k]
    assert docker
    buildspecs = [(three_model_platform.outdir / name).read_text() for name in
                  (re.search(r"buildspec-[\w-]+\.yaml", projects[k])[0] for k in docker)]  # type: ignore[index]
    for buildspec in buildspecs:
        commands = [c for phase in json.loads(buildspec)["phases"].values() for c in phase["commands"]]
        login = next(c for c in commands if "cdk-docker-creds.json" in c)
        config = json.loads(login.removeprefix("echo ").removesuffix(" > $HOME/.cdk/cdk-docker-creds.json").strip("'"))
        assert config == {"version": "1.0", "domainCredentials": {"141502667606.dkr.ecr.eu-west-1.amazonaws.com": {"ecrRepository": True}}}
        assert commands.index(login) < next(i for i, c in enumerate(commands) if c.startswith("cdk-assets"))


def test_ecr_base_images_are_read_from_from_lines(tmp_path: Path) -> None:
    from mlops_constructs._dockerfiles import ecr_base_images

    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG BASE=x\n"
        "FROM --platform=linux/amd64 763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.5-cpu-py311 AS build\n"
        "  from public.ecr.aws/docker/library/python:3.11-slim\n"
        "FROM ${BASE}\n"
        "FROM 763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.5-cpu-py311\n"
        "RUN echo FROM 111111111111.dkr.ecr.eu-west-1.amazonaws.com/not-a-from:1\n"
    )
    assert ecr_base_images(dockerfile) == ["763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.5-cpu-py311"]


@pytest.mark.parametrize(
    ("framework", "version", "instance_type", "image"),
    [
        ("pytorch", "2.5", "ml.m5.xlarge", "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.5-cpu-py311"),
        ("pytorch", "2.5", "ml.p3.2xlarge", "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.5-gpu-py311"),
        ("tensorflow", "2.16", "ml.m5.xlarge", "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-training:2.16-cpu-py310"),
    ],
)
def test_pytorch_and_tensorflow_steps_run_in_the_training_image_for_their_processor(
    framework: str, version: str, instance_type: str, image: str,
) -> None:
    from stacks.training_stack import script_steps

    model = _edited("code.train", {"entry_point": "train.py", "framework": framework, "version": version, "instance_type": instance_type})
    config = config_with(model)
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Test", env=cdk.Environment(account=ACCOUNT, region=REGION))
    steps = script_steps(stack, config, config.models[0])
    assert steps["train"].image == image
    assert steps["preprocess"].image == SKLEARN_IMAGE


def test_a_tensorflow_train_script_gets_model_dir_which_the_toolkit_reads_when_tuned() -> None:
    from stacks.training_stack import _hyperparameters

    model = _edited("code.train", {"entry_point": "train.py", "framework": "tensorflow", "version": "2.16"})
    assert _hyperparameters(config_with(model).models[0])["model_dir"] == '"/opt/ml/model"'
    sklearn = config_with(example_model()).models[0]
    assert "model_dir" not in _hyperparameters(sklearn)


def test_a_dockerfile_steps_build_context_leaves_out_bytecode_caches(tmp_path: Path) -> None:
    # A __pycache__ beside the image's sources (a local run of a script writes one) would change the asset's
    # hash, and so rebuild the image and change every job that runs it, with no change to the code.
    from stacks.training_stack import script_steps

    model = _edited("code.evaluate", {"entry_point": "evaluate.py", "dockerfile": "examples/byo_regression/docker/Dockerfile"})
    config = config_with(model)
    cache = DOCKER_CONTEXT / "__pycache__"
    created = not cache.exists()
    cache.mkdir(exist_ok=True)
    probe = cache / "probe-test-script-mode.cpython-311.pyc"
    probe.write_bytes(b"not deployed")
    try:
        app = cdk.App(context=CDK_CONTEXT, outdir=str(tmp_path))
        stack = cdk.Stack(app, "Test", env=cdk.Environment(account=ACCOUNT, region=REGION))
        steps = script_steps(stack, config, config.models[0])
        assert not isinstance(steps["evaluate"].image, str)
        cdk.CfnWaitConditionHandle(stack, "Placeholder")  # a stack of only an asset has no resource
        app.synth()
    finally:
        probe.unlink()
        if created:
            cache.rmdir()
    (staged,) = [p for p in tmp_path.glob("asset.*") if p.is_dir()]
    assert (staged / "Dockerfile").is_file() and not (staged / "__pycache__").exists()
