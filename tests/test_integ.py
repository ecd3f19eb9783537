"""The integration tests (tests/integ), offline: every app synthesizes as its committed snapshot says, each
asserts what would fail if the behaviour were wrong, and ``make integ`` refuses to start without credentials.

Deploying them is ``make integ`` (docs/testing.md); tools/integ.py says why it, not integ-runner, runs them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("integ_tool", REPO / "tools" / "integ.py")
integ_tool = importlib.util.module_from_spec(spec)
sys.modules["integ_tool"] = integ_tool
spec.loader.exec_module(integ_tool)

TESTS = integ_tool.discover([], costly=True)


def test_there_are_integration_tests_and_the_cheap_ones_run_by_default() -> None:
    names = {t.stem for t in TESTS}
    assert {"integ_network_storage", "integ_registry_approval"} <= names
    assert {t.stem for t in integ_tool.discover([], costly=False)} == {t.stem for t in TESTS if t.parent.name == "integ"}


@pytest.mark.parametrize("test", TESTS, ids=lambda t: t.stem)
def test_the_app_synthesizes_as_its_snapshot_says(test: Path, tmp_path: Path) -> None:
    integ_tool.synthesize(test, tmp_path)
    problems = integ_tool.differences(test, tmp_path)
    assert not problems, (
        f"{test.stem}'s synthesis differs from its snapshot: {problems}. If the change is intended, run "
        "`python tools/integ.py snapshot` and say why in the commit."
    )
    # An integration test without assertions would pass by deploying: each has at least one.
    assert_stack = next(p for p in tmp_path.glob("*DeployAssert*.template.json"))
    outputs = json.loads(assert_stack.read_text())["Outputs"]
    assert any(key.startswith("AssertionResults") for key in outputs), f"{test.stem} asserts nothing"


def test_a_changed_template_is_reported(tmp_path: Path) -> None:
    test = next(t for t in TESTS if t.stem == "integ_network_storage")
    for file in integ_tool.snapshot_dir(test).iterdir():  # an assembly as the snapshot says, then one change
        (tmp_path / file.name).write_text(file.read_text())
    assert integ_tool.differences(test, tmp_path) == []
    template = next(tmp_path.glob("IntegNetworkStorage.template.json"))
    body = json.loads(template.read_text())
    body["Resources"]["Extra"] = {"Type": "AWS::SNS::Topic"}
    template.write_text(json.dumps(body))
    assert integ_tool.differences(test, tmp_path) == ["IntegNetworkStorage.template.json: differs from the snapshot"]


def test_the_api_calls_timestamps_are_masked_and_nothing_else() -> None:
    text = '{"salt": "1795824316418", "other": "1795824316418"}'
    assert integ_tool.SALT.sub(r'\1"<salt>"', text) == '{"salt": "<salt>", "other": "1795824316418"}'


def test_assertion_results_are_read_as_integ_runner_reads_them() -> None:
    outputs = {
        "Test": {"VpcId": "vpc-1"},
        "Assert": {
            "AssertionResultsAwsApiCallEC2describe": json.dumps({"status": "success"}),
            "AssertionResultsLambdaInvoke": json.dumps({"status": "fail", "message": "Expected AccessDenied but received accepted"}),
            "AssertionResultsBroken": "not json",
        },
    }
    assert integ_tool.assertion_failures(outputs) == [
        "Assert.AssertionResultsLambdaInvoke: Expected AccessDenied but received accepted",
        "Assert.AssertionResultsBroken: not an assertion result: 'not json'",
    ]
    assert integ_tool.assertion_failures({"Assert": {"AssertionResultsA": json.dumps({"status": "success"})}}) == []


def test_an_assertion_the_deploy_returned_no_result_for_is_a_failure() -> None:
    outputs = {"Assert": {"AssertionResultsA": json.dumps({"status": "success"})}}
    assert integ_tool.assertion_failures(outputs, {"AssertionResultsA", "AssertionResultsB"}) == [
        "AssertionResultsB: no result came back from the deploy"]
    assert integ_tool.assertion_failures(outputs, {"AssertionResultsA"}) == []


def test_a_run_fails_on_a_stale_or_short_result_file_and_on_a_failed_destroy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An earlier run's outputs are not read as this one's, an assertion without a result fails the test, and a
    destroy that fails (leaving resources that bill and names that block the next run) fails it too."""
    test = next(t for t in TESTS if t.stem == "integ_network_storage")
    monkeypatch.setattr(integ_tool, "REPO", tmp_path)
    monkeypatch.setattr(integ_tool, "account_or_refusal", lambda region: "123456789012")
    monkeypatch.setattr(integ_tool, "configured_region", lambda: "eu-west-1")
    monkeypatch.setattr(integ_tool, "test_region", lambda assembly: "eu-west-1")
    assertions = {"AssertionResultsA": {"Value": "x"}, "AssertionResultsB": {"Value": "y"}}
    monkeypatch.setattr(integ_tool, "synthesize", lambda test, outdir: (outdir.mkdir(parents=True, exist_ok=True), (
        outdir / "IntegDeployAssert.template.json").write_text(json.dumps({"Outputs": assertions}))))
    stale = tmp_path / "cdk-integ.out" / f"{test.stem}.outputs.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"Assert": {k: json.dumps({"status": "success"}) for k in assertions}}))
    destroy_code = {"value": 0}

    def cdk(region: str, *args: str) -> Any:
        if args[0] == "deploy":  # writes one of the two results
            outputs = Path(args[args.index("--outputs-file") + 1])
            assert not outputs.exists(), "the earlier run's results were still there"
            outputs.write_text(json.dumps({"Assert": {"AssertionResultsA": json.dumps({"status": "success"})}}))
            return SimpleNamespace(returncode=0)
        return SimpleNamespace(returncode=destroy_code["value"])

    monkeypatch.setattr(integ_tool, "cdk", cdk)
    assert integ_tool.run([test], update_on_failed=False, keep=False) == 1
    assert "AssertionResultsB: no result came back from the deploy" in capsys.readouterr().out
    # every result back, but the destroy fails
    monkeypatch.setattr(integ_tool, "expected_assertions", lambda assembly: {"AssertionResultsA"})
    destroy_code["value"] = 1
    assert integ_tool.run([test], update_on_failed=False, keep=False) == 1
    assert "the destroy failed" in capsys.readouterr().out
    destroy_code["value"] = 0
    assert integ_tool.run([test], update_on_failed=False, keep=False) == 0


@pytest.mark.parametrize("test", TESTS, ids=lambda t: t.stem)
def test_no_model_package_version_is_tagged(test: Path) -> None:
    # CreateModelPackage refuses tags on a version in a group (it takes the group's): the deploy would roll back
    for template in integ_tool.snapshot_dir(test).glob("*.template.json"):
        for logical_id, resource in json.loads(template.read_text())["Resources"].items():
            if resource["Type"] == "AWS::SageMaker::ModelPackage" and "ModelPackageGroupName" in resource["Properties"]:
                assert "Tags" not in resource["Properties"], (test.stem, logical_id)


def test_run_refuses_clearly_without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    synthesized = []
    monkeypatch.setattr(integ_tool, "synthesize", lambda *a: synthesized.append(a))
    with pytest.raises(SystemExit, match=r"no usable credentials were found \(NoCredentialsError"):
        integ_tool.main(["run"])
    assert synthesized == [], "nothing is synthesized or deployed before the credentials are known"


def test_unknown_test_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(SystemExit, match=r"unknown integration test\(s\): integ_nope; known: .*integ_network_storage"):
        integ_tool.main(["verify", "integ_nope"])


# The storage probe (tests/integ/probes/storage_probe.py) reports what S3 did; the test expects AccessDenied for
# plain HTTP, so a bucket that accepted it would fail the assertion.

def _probe(monkeypatch: pytest.MonkeyPatch, plain_http_refused: bool) -> dict:
    sys.path.insert(0, str(REPO / "tests" / "integ" / "probes"))
    import storage_probe

    monkeypatch.setenv("BUCKET", "b")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    real_client = boto3.client

    def client(service: str, **kwargs):
        c = real_client(service, aws_access_key_id="x", aws_secret_access_key="x", **kwargs)
        stub = Stubber(c)
        if kwargs.get("use_ssl", True):
            # Exactly these parameters: no ServerSideEncryption or SSEKMSKeyId, so that what S3 reports is the
            # bucket's default encryption, not what the probe asked for.
            stub.add_response("put_object", {}, {"Bucket": "b", "Key": ANY, "Body": ANY})
            body = b"written over TLS, encrypted as the bucket's default says"
            stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body)), "ServerSideEncryption": "aws:kms",
                                             "SSEKMSKeyId": "arn:aws:kms:eu-west-1:111111111111:key/k"})
        else:
            assert kwargs["endpoint_url"] == "http://s3.eu-west-1.amazonaws.com"
            for method in ("get_object", "put_object"):
                if plain_http_refused:
                    stub.add_client_error(method, service_error_code="AccessDenied", http_status_code=403)
                else:
                    stub.add_response(method, {})
        stub.activate()
        return c

    monkeypatch.setattr(storage_probe.boto3, "client", client)
    return storage_probe.handler({}, None)


def test_the_probe_reports_plain_http_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _probe(monkeypatch, plain_http_refused=True) == {
        "round_trip": True, "encryption": "aws:kms", "encrypted_with": "arn:aws:kms:eu-west-1:111111111111:key/k",
        "plain_http_get": "AccessDenied", "plain_http_put": "AccessDenied",
    }


def test_the_probe_reports_plain_http_accepted_so_the_assertion_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _probe(monkeypatch, plain_http_refused=False)
    assert result["plain_http_get"] == result["plain_http_put"] == "accepted"


def test_the_storage_assertion_expects_refusal_and_the_platform_key() -> None:
    assert_template = next((REPO / "tests/integ/integ_network_storage.py.snapshot").glob("*DeployAssert*.template.json"))
    expected = [r["Properties"]["expected"] for r in json.loads(assert_template.read_text())["Resources"].values()
                if r["Type"].startswith("Custom::DeployAssert@AssertEquals") or "expected" in r.get("Properties", {})]
    text = json.dumps(expected)
    assert text.count("AccessDenied") == 2 and "round_trip" in text and "InternetGateways" in text and "RouteTables" in text
    assert '\\"encryption\\":\\"aws:kms\\"' in text
    # The key is the store's, by its ID alone or at the end of a key ARN (the form S3 answers in is not documented):
    # the pattern is anchored at both ends around the key's ID, an output of the stack under test.
    (probe_expectation,) = [e["Fn::Join"][1] for e in expected if isinstance(e, dict) and "round_trip" in json.dumps(e)]
    before, key_id, after = probe_expectation
    assert before.endswith('"encrypted_with":{"$StringLike":"^(arn:[^:]+:kms:[^:]+:[0-9]{12}:key/)?'), before
    assert key_id["Fn::GetStackOutput"]["OutputName"].startswith("PublishOutputRefStoreKey") and after.startswith('$"}'), probe_expectation
    # The probe is told the bucket and nothing about the key: the key it reports is the bucket's default encryption's.
    stack = json.loads((REPO / "tests/integ/integ_network_storage.py.snapshot/IntegNetworkStorage.template.json").read_text())
    probes = [r for r in stack["Resources"].values() if r["Type"] == "AWS::Lambda::Function" and "storage_probe" in r["Properties"].get("Handler", "")]
    assert len(probes) == 1 and set(probes[0]["Properties"]["Environment"]["Variables"]) == {"BUCKET"}


_REAL_BOTO3_CLIENT = boto3.client

# The registry test's release probe (tests/integ/probes/release_probe.py) lists the package each execution the approval
# function started was given, by start time; the assertion expects version 1, 2, 1.

def _release_probe(monkeypatch: pytest.MonkeyPatch, executions: list[tuple[str, str, int, str | None]]) -> dict:
    """The probe's answer for ``executions``: (id, trigger type, start minute, ModelPackageArn), newest first, as
    ListPipelineExecutions lists them."""
    sys.path.insert(0, str(REPO / "tests" / "integ" / "probes"))
    import release_probe

    monkeypatch.setenv("PIPELINE", "release")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    real_client = _REAL_BOTO3_CLIENT  # not boto3.client: an earlier call in the same test replaced it

    def client(service: str, **kwargs):
        c = real_client(service, aws_access_key_id="x", aws_secret_access_key="x", **kwargs)
        stub = Stubber(c)
        stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
            {"pipelineExecutionId": id, "startTime": datetime(2026, 11, 28, 12, minute, tzinfo=timezone.utc),
             "trigger": {"triggerType": trigger}} for id, trigger, minute, _ in executions]}, {"pipelineName": "release"})
        started = sorted((e for e in executions if e[1] == "StartPipelineExecution"), key=lambda e: e[2])
        for id, _, _, arn in started:
            variables = [] if arn is None else [{"name": "ModelPackageArn", "resolvedValue": arn}]
            stub.add_response("get_pipeline_execution", {"pipelineExecution": {"pipelineExecutionId": id, "variables": variables}},
                              {"pipelineName": "release", "pipelineExecutionId": id})
        stub.activate()
        return c

    monkeypatch.setattr(release_probe.boto3, "client", client)
    return release_probe.handler({}, None)


def test_the_release_probe_lists_the_started_packages_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    v1, v2, v3 = (f"arn:aws:sagemaker:eu-west-1:111111111111:model-package/g/{n}" for n in (1, 2, 3))
    # Listed in no start-time order, with CodePipeline's own execution on creation (variable at its default) among them.
    answer = _release_probe(monkeypatch, [
        ("b", "StartPipelineExecution", 5, v2), ("c", "StartPipelineExecution", 9, v3),
        ("0", "CreatePipeline", 0, "none"), ("a", "StartPipelineExecution", 2, v1),
    ])
    assert answer == {"released": [v1, v2, v3]}


def test_the_release_probe_shows_a_missing_or_doubled_start(monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/g/1"
    assert _release_probe(monkeypatch, [("a", "StartPipelineExecution", 2, v1), ("0", "CreatePipeline", 0, "none")]) == {"released": [v1]}
    assert _release_probe(monkeypatch, [("b", "StartPipelineExecution", 3, v1), ("a", "StartPipelineExecution", 2, v1)]) == {
        "released": [v1, v1]}
    assert _release_probe(monkeypatch, [("a", "StartPipelineExecution", 2, None)]) == {"released": [None]}


def test_the_registry_assertion_expects_three_releases_version_1_2_1() -> None:
    snapshot = REPO / "tests/integ/integ_registry_approval.py.snapshot"
    assertions = json.loads(next(snapshot.glob("*DeployAssert*.template.json")).read_text())["Resources"]
    invokes = [r["Properties"] for r in assertions.values()
               if r["Type"].startswith("Custom::DeployAssert") and r["Properties"].get("api") == "invoke"]
    assert len(invokes) == 1
    expected = json.dumps(invokes[0]["expected"])
    # The three ARNs are the registered versions' ModelPackageArn attributes, in the order 1, 2, 1.
    versions = re.findall(r"AwsApiCallSageMakercreateModelPackage([0-9a-f]+)", expected)
    assert len(versions) == 3 and versions[0] == versions[2] != versions[1], expected
    stack = json.loads((snapshot / "IntegRegistryApproval.template.json").read_text())
    probes = [r for r in stack["Resources"].values() if r["Type"] == "AWS::Lambda::Function" and "release_probe" in r["Properties"].get("Handler", "")]
    assert len(probes) == 1


# The drift test (tests/integ/costly/integ_drift.py) expects the job to find a drifted share of 1/3 in the shifted
# capture and 0 in the other. The data is in its snapshot; here the job's own script reads it, written as the capture
# probe (tests/integ/probes/drift_capture.py) writes it, so an expectation the job would not meet fails offline.

DRIFT_SNAPSHOT = REPO / "tests/integ/costly/integ_drift.py.snapshot"


def _drift_probe():
    sys.path.insert(0, str(REPO / "tests" / "integ" / "probes"))
    import drift_capture

    return drift_capture


def _drift_script():
    path = REPO / "mlops_constructs" / "monitoring" / "drift_job" / "drift.py"
    spec = importlib.util.spec_from_file_location("integ_drift_job_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _drift_assertions() -> dict[str, dict]:
    """The drift test's assertion resources, by logical id."""
    template = next(DRIFT_SNAPSHOT.glob("*DeployAssert*.template.json"))
    return {k: r for k, r in json.loads(template.read_text())["Resources"].items() if r["Type"].startswith("Custom::DeployAssert")}


def _expected_shares(assertions: dict[str, dict]) -> dict[str, float]:
    """The DriftedShare each monitor's execution is expected to report, by monitor (``Shifted``, ``Steady``)."""
    shares = {}
    for resource in assertions.values():
        props = resource["Properties"]
        if props["api"] != "describeExecution":
            continue
        started_by = props["parameters"]["executionArn"]["Fn::Join"][1][1]["Fn::GetAtt"][0]
        machine = json.dumps(assertions[started_by]["Properties"]["parameters"]["stateMachineArn"])
        monitor = next(name for name in ("Shifted", "Steady") if f"PublishOutputRef{name}StateMachine" in machine)
        data = json.loads(props["expected"])["$ObjectLike"]["output"]["$SerializedJson"]["$ObjectLike"]["metrics"]["data"]["$ArrayWith"]
        shares[monitor] = next(item["$ObjectLike"]["Value"] for item in data if item["$ObjectLike"]["MetricName"] == "DriftedShare")
    return shares


def test_the_drift_tests_data_gives_the_shares_its_assertions_expect(tmp_path: Path) -> None:
    assertions = _drift_assertions()
    shares = _expected_shares(assertions)
    assert shares == {"Shifted": 1 / 3, "Steady": 0}
    baseline = next(json.loads(r["Properties"]["parameters"]["Body"]) for r in assertions.values() if r["Properties"]["api"] == "putObject")
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "baseline.csv").write_text(baseline)
    probe, drift = _drift_probe(), _drift_script()
    payloads = [json.loads(json.loads(r["Properties"]["parameters"]["Payload"])) for r in assertions.values() if r["Properties"]["api"] == "invoke"]
    assert len(payloads) == 2
    for payload in payloads:
        monitor = "Shifted" if payload["prefix"] == "data-capture/mlops-integ-drift-shifted/AllTraffic/" else "Steady"
        [key, _] = probe.hour_keys(payload["prefix"], datetime(2026, 11, 28, 0, 5, tzinfo=timezone.utc))
        captured = tmp_path / monitor / "captured"  # as the job gets the window's prefix: its files below it
        file = captured / key.rsplit("/", 1)[1]
        file.parent.mkdir(parents=True)
        file.write_text("\n".join(probe.capture_lines(payload["rows"].splitlines(), datetime.now(timezone.utc))) + "\n")
        output = tmp_path / monitor / "output"
        args = ["--baseline", str(tmp_path / "baseline"), "--captured", str(captured), "--output", str(output), "--endpoint", "e"]
        assert drift.main(args) == 0
        report = json.loads((output / "drift.json").read_text())
        assert (report["status"], report["rows"], report["skipped_lines"], report["baseline_rows"]) == ("ok", 500, 0, 1000)
        assert report["drifted_share"] == shares[monitor], report["features"]
        drifted = {name for name, result in report["features"].items() if result["drifted"]}
        assert drifted == ({"spend"} if monitor == "Shifted" else set())
        metrics = json.loads((output / "metric_data.json").read_text())
        assert [m["Value"] for m in metrics[:2]] == [500, shares[monitor]]  # what the execution's output carries


def test_the_capture_probe_writes_the_hour_just_ended_and_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check reads the hour before it started: whichever of the two hours it starts in, it finds the requests."""
    probe = _drift_probe()
    now = datetime(2026, 11, 28, 0, 5, 7, 250_000, tzinfo=timezone.utc)
    keys = probe.hour_keys("data-capture/e/AllTraffic/", now)
    assert [k.rsplit("/", 1)[0] for k in keys] == ["data-capture/e/AllTraffic/2026/11/27/23", "data-capture/e/AllTraffic/2026/11/28/00"]
    assert keys[0].rsplit("/", 1)[1] == keys[1].rsplit("/", 1)[1] and keys[0].endswith(".jsonl") and "/05-07-250-" in keys[0]
    lines = probe.capture_lines(["1,2,a", "3,4,b", "5,6,c", "7,8,d"], now)
    assert [json.loads(line)["captureData"]["endpointInput"]["data"] for line in lines] == ["1,2,a\n3,4,b\n5,6,c", "7,8,d"]

    monkeypatch.setenv("BUCKET", "b")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    real_client = boto3.client
    written = []

    def client(service: str, **kwargs):
        c = real_client(service, aws_access_key_id="x", aws_secret_access_key="x", **kwargs)
        stub = Stubber(c)
        for _ in range(2):
            stub.add_response("put_object", {})
        stub.activate()
        c.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: written.append(dict(params)))
        return c

    monkeypatch.setattr(probe.boto3, "client", client)
    result = probe.handler({"prefix": "data-capture/e/AllTraffic/", "rows": "1,2,a\n3,4,b\n5,6,c\n7,8,d\n"}, None)
    assert (result["requests"], result["rows"], len(result["keys"])) == (2, 4, 2)
    assert [(p["Bucket"], p["Key"]) for p in written] == [("b", key) for key in result["keys"]]
    assert written[0]["Body"] == written[1]["Body"] and written[0]["Body"].decode().count("\n") == 2


# What a first deploy would have failed on, read from the committed snapshots (tests/integ/*.snapshot).

def _assertion_templates() -> dict[str, dict]:
    return {
        f"{test.stem}/{path.name}": json.loads(path.read_text())
        for test in TESTS for path in integ_tool.snapshot_dir(test).glob("*DeployAssert*.template.json")
    }


def test_every_waiter_gives_up_before_cloudformation_does() -> None:
    """A waiting assertion answers CloudFormation only when it gives up; a custom resource times out after 3600 s
    (ServiceTimeout's maximum), so retries summing to an hour end in 'did not receive a response' instead."""
    waiters = 0
    for name, template in _assertion_templates().items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            definition = "".join(part for part in resource["Properties"]["DefinitionString"]["Fn::Join"][1] if isinstance(part, str))
            interval, attempts = (int(re.search(rf'"{key}":(\d+)', definition).group(1)) for key in ("IntervalSeconds", "MaxAttempts"))
            assert interval * attempts <= 3300, f"{name} {logical_id}: {attempts} attempts {interval} s apart"
            waiters += 1
    assert waiters >= 4


def test_attributes_are_read_without_a_second_apicallresponse_prefix() -> None:
    """``get_att_string(path)`` prefixes ``apiCallResponse.`` itself: no call response has the doubled path."""
    for name, template in _assertion_templates().items():
        assert "apiCallResponse.apiCallResponse." not in json.dumps(template), name


def test_the_endpoint_tests_models_answer_what_its_assertions_expect(tmp_path: Path) -> None:
    """The two tiny models costly/integ_endpoint.py serves, loaded by XGBoost itself from the archive the container
    receives (``xgboost-model.json``), answer its row with the numbers its assertions expect. XGBoost 2.1 here,
    1.7 in the container: 2.x reads 1.x's JSON model format."""
    import tarfile

    import numpy as np
    import xgboost

    sys.path.insert(0, str(REPO / "tests" / "integ"))
    from _models import ANSWERS, ROW, archive, tiny_model

    for version, leaf in ((1, 0.25), (2, 0.125)):
        packed = tmp_path / f"v{version}.tar.gz"
        packed.write_bytes(archive(tiny_model(leaf)))
        (tmp_path / f"v{version}").mkdir()
        with tarfile.open(packed) as tar:
            assert tar.getnames() == ["xgboost-model.json"]
            member = tar.extractfile("xgboost-model.json")
            assert member is not None
            (tmp_path / f"v{version}" / "xgboost-model.json").write_bytes(member.read())
        booster = xgboost.Booster()
        booster.load_model(str(tmp_path / f"v{version}" / "xgboost-model.json"))
        row = np.array([[float(x) for x in ROW.split(",")]])
        (answer,) = booster.predict(xgboost.DMatrix(row))
        assert f"{answer}" == ANSWERS[version]
    # the other side of the split answers differently: the row decides, not a constant
    booster.load_model(str(tmp_path / "v1" / "xgboost-model.json"))
    (low,) = booster.predict(xgboost.DMatrix(np.array([[0.1, 0.1]])))
    assert low == 0.25


def test_the_steady_alarms_ok_is_checked_only_once_its_metric_has_data() -> None:
    """The drift alarm keeps its state without data (``ignore``: a new one stays INSUFFICIENT_DATA until a check
    publishes), so OK is the steady check's verdict; the drift test also first finds a recent data point for exactly
    the metric (namespace, name, dimensions) the steady alarm watches, so a wait for OK fails on what is missing."""
    stack = json.loads((DRIFT_SNAPSHOT / "IntegDrift.template.json").read_text())
    alarm_id, alarm = next((k, r["Properties"]) for k, r in stack["Resources"].items()
                           if r["Type"] == "AWS::CloudWatch::Alarm" and k.startswith("SteadyDriftAlarm"))
    assert alarm["TreatMissingData"] == "ignore"
    assertions = _drift_assertions()
    listed = [r for r in assertions.values() if r["Properties"]["api"] == "listMetrics"]
    assert len(listed) == 1
    props = listed[0]["Properties"]
    watched = {"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"]}
    assert {key: json.loads(value) for key, value in props["parameters"].items()} == {**watched, "RecentlyActive": "PT3H"}
    assert json.loads(props["expected"]) == {"$ObjectLike": {"Metrics": [watched]}}
    # ...and the steady alarm's state is asked for after it (the assertions are chained by DependsOn).
    state = next(k for k, r in assertions.items() if r["Properties"]["api"] == "describeAlarms"
                 and f"PublishOutputRef{alarm_id}" in json.dumps(r["Properties"]["parameters"]))
    listed_id = next(k for k, r in assertions.items() if r is listed[0])
    assert listed_id in assertions[state].get("DependsOn", [])
