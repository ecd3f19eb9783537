"""The delivery pipeline's CodeBuild scripts, in process against moto: resolve_model_packages.py (which
approved package each model deploys) and smoke_test.py (one invocation per staging endpoint).

Moto accepts any AssumeRole and maps the credentials it returns to the role's account, so reading "through
the role" is checked by putting the data in that account only. Moto neither enforces IAM nor ever fails
InvokeEndpoint, so denials and endpoint errors come from a botocore Stubber on one client of a session
that is otherwise moto's (``FirstClientStubbed``)."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

SCRIPTS = Path(__file__).resolve().parent.parent / "mlops_constructs" / "delivery" / "scripts"
REGION = "eu-west-1"
DEV = "222222222222"  # owns the registry and the approved-package parameters
STAGING = "333333333333"  # runs the staging endpoints


def load(name: str) -> ModuleType:
    # Named after its path, as an import would name it: mutation testing (mutmut) tells which module a
    # mutant belongs to by this name.
    spec = importlib.util.spec_from_file_location(f"mlops_constructs.delivery.scripts.{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


resolver = load("resolve_model_packages")
smoke = load("smoke_test")


def package(group: str, version: int, *, account: str = DEV, region: str = REGION) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"


def model(name: str) -> dict[str, str]:
    return {
        "name": name,
        "group": f"mlops-demo-{name}",
        "parameter": f"/mlops-demo/models/{name}/approved-model-package-arn",
        "reader_role_arn": f"arn:aws:iam::{DEV}:role/mlops-demo-{name}-model-reader",
    }


MODELS = [model("churn"), model("fraud")]
CHURN, FRAUD = MODELS
MODELS_JSON = json.dumps(MODELS)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def account_session(account: str, region: str = REGION) -> boto3.Session:
    """A session in another (moto) account, for setting up what the scripts read there."""
    credentials = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )


def approve(parameter: str, value: str, region: str = REGION) -> None:
    account_session(DEV, region).client("ssm").put_parameter(Name=parameter, Value=value, Type="String", Overwrite=True)


class FirstClientStubbed:
    """A boto3 session over moto whose first client of ``service`` answers from a botocore Stubber
    (errors queued with ``add_client_error``, then answers with ``add_response``); every other client,
    and later ones, are moto's."""

    def __init__(self, service: str) -> None:
        self.session = boto3.Session(region_name=REGION)
        self.service = service
        self.errors: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.stubber: Stubber | None = None

    def add_client_error(self, method: str, **kwargs: Any) -> None:
        self.errors.append({"method": method, **kwargs})

    def add_response(self, method: str, service_response: dict[str, Any], **kwargs: Any) -> None:
        self.responses.append({"method": method, "service_response": service_response, **kwargs})

    def client(self, service_name: str, **kwargs: Any) -> Any:
        client = self.session.client(service_name, **kwargs)
        if service_name == self.service and self.stubber is None:
            self.stubber = Stubber(client)
            for error in self.errors:
                self.stubber.add_client_error(**error)
            for response in self.responses:
                self.stubber.add_response(**response)
            self.stubber.activate()
        return client

    def assert_stub_used(self) -> None:
        assert self.stubber is not None, f"no {self.service} client was created"
        self.stubber.assert_no_pending_responses()


class RegionRecordingSession:
    """A boto3 session over moto (default region: the environment's) that records the service and the
    region of every client a script creates."""

    def __init__(self) -> None:
        self.session = boto3.Session()
        self.clients: list[tuple[str, str]] = []

    def client(self, service_name: str, **kwargs: Any) -> Any:
        client = self.session.client(service_name, **kwargs)
        self.clients.append((service_name, client.meta.region_name))
        return client


OTHER_REGION = "us-east-1"  # never the environment's default region (REGION)


def denied_assume_role(role_arn: str, session_name: str) -> FirstClientStubbed:
    session = FirstClientStubbed("sts")
    session.add_client_error(
        "assume_role", service_error_code="AccessDenied", http_status_code=403,
        service_message=f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        expected_params={"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": 900},
    )
    return session


def resolve(released: str, session: Any = None) -> dict[str, Any]:
    return {r.name: r for r in resolver.resolve(resolver.parse_models(MODELS_JSON), released, REGION, session)}


# -- resolve_model_packages ------------------------------------------------------------------------


def test_the_released_package_wins_for_its_model_and_other_models_read_their_parameter(aws: None) -> None:
    approve(CHURN["parameter"], package("mlops-demo-churn", 3))
    approve(FRAUD["parameter"], package("mlops-demo-fraud", 5))
    result = resolve(package("mlops-demo-churn", 4))
    assert (result["churn"].arn, result["churn"].source) == (package("mlops-demo-churn", 4), "variable")
    assert (result["fraud"].arn, result["fraud"].source) == (package("mlops-demo-fraud", 5), "parameter")
    # The parameters exist only in the dev account: the script's own credentials cannot see them, so the
    # value above was read through the reader role.
    with pytest.raises(ClientError, match="ParameterNotFound"):
        boto3.client("ssm").get_parameter(Name=FRAUD["parameter"])


@pytest.mark.parametrize("released", ["", "none"])
def test_without_a_released_package_every_model_reads_its_parameter(aws: None, released: str) -> None:
    approve(CHURN["parameter"], package("mlops-demo-churn", 3))
    approve(FRAUD["parameter"], package("mlops-demo-fraud", 5))
    result = resolve(released)
    assert [(r.arn, r.source) for r in result.values()] == [
        (package("mlops-demo-churn", 3), "parameter"), (package("mlops-demo-fraud", 5), "parameter"),
    ]


def test_a_missing_parameter_means_no_approved_version_yet(aws: None) -> None:
    approve(CHURN["parameter"], package("mlops-demo-churn", 3))
    result = resolve("none")
    assert result["churn"].arn == package("mlops-demo-churn", 3)
    fraud = result["fraud"]
    assert (fraud.arn, fraud.source, fraud.warning) == (None, "none", False)
    assert FRAUD["parameter"] in fraud.note and "no approved version" in fraud.note
    assert fraud.context_argument() == "-c model_package_arn.fraud=none"


def test_a_withdrawn_model_resolves_to_none(aws: None) -> None:
    # the approval function sets the parameter to none when it withdraws the released version (it no longer deletes it)
    approve(FRAUD["parameter"], "none")
    fraud = resolve(package("mlops-demo-churn", 4))["fraud"]
    assert (fraud.arn, fraud.context_argument()) == (None, "-c model_package_arn.fraud=none")
    assert "is none: the released version was rejected and no other is approved" in fraud.note


def test_main_prints_the_context_arguments_on_one_line_and_the_reasons_on_stderr(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    released = package("mlops-demo-churn", 4)
    code = resolver.main(["--region", REGION, "--released", released, "--models", MODELS_JSON])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == f"-c model_package_arn.churn={released} -c model_package_arn.fraud=none\n"
    assert err.splitlines() == [
        f"churn: {released} (pipeline variable ModelPackageArn)",
        f"fraud: none (parameter {FRAUD['parameter']} does not exist: no approved version yet)",
    ]


@pytest.mark.parametrize(
    "value",
    [
        "not-an-arn",
        package("mlops-demo-fraud", 5),  # another model's package
        package("mlops-demo-churn", 5, region="us-east-1"),  # another region's registry
        package("mlops-demo-churn", 5) + "\n",  # trailing junk: the whole value must match
    ],
)
def test_a_malformed_parameter_value_exits_2_naming_parameter_value_and_expected_form(
    aws: None, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    approve(CHURN["parameter"], value)
    code = resolver.main(["--region", REGION, "--released", "none", "--models", MODELS_JSON])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert CHURN["parameter"] in err and repr(value) in err
    assert f"arn:aws:sagemaker:{REGION}:<account>:model-package/mlops-demo-churn/<version>" in err


@pytest.mark.parametrize(
    "released",
    [
        package("mlops-demo-other", 1),  # a group no model deploys
        package("mlops-demo-churn", 1, region="us-east-1"),
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-churn",  # no version
        "arn:aws:sagemaker:eu-west-1:2222:model-package/mlops-demo-churn/1",  # short account
        "latest",
    ],
)
def test_a_released_value_that_is_not_a_package_of_a_known_group_exits_2(
    aws: None, capsys: pytest.CaptureFixture[str], released: str
) -> None:
    with pytest.raises(resolver.InvalidInput):
        resolve(released)
    code = resolver.main(["--region", REGION, "--released", released, "--models", MODELS_JSON])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert repr(released) in err
    assert "one of: mlops-demo-churn, mlops-demo-fraud" in err


def test_access_denied_on_the_reader_role_means_none_with_a_warning(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    approve(FRAUD["parameter"], package("mlops-demo-fraud", 5))  # there, but the role cannot be assumed
    session = denied_assume_role(FRAUD["reader_role_arn"], "release-synth")
    released = package("mlops-demo-churn", 4)
    code = resolver.main(["--region", REGION, "--released", released, "--models", MODELS_JSON], session=session)
    out, err = capsys.readouterr()
    session.assert_stub_used()  # fraud's role was asked for (and churn's was not: the stub holds one answer)
    assert code == 0
    assert out == f"-c model_package_arn.churn={released} -c model_package_arn.fraud=none\n"
    warning = err.splitlines()[1]
    assert warning.startswith("WARNING: fraud: none")
    assert FRAUD["reader_role_arn"] in warning and "AccessDenied" in warning and "left as they are" in warning


def test_in_a_release_access_denied_on_the_reader_role_fails_the_step(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # A release pipeline runs after dev was deployed: a role it cannot assume is a broken trust or an SCP, not "no
    # version"; read as none it would skip every stage and end green.
    approve(FRAUD["parameter"], package("mlops-demo-fraud", 5))
    session = denied_assume_role(FRAUD["reader_role_arn"], "release-synth")
    code = resolver.main(["--region", REGION, "--released", package("mlops-demo-churn", 4), "--models", MODELS_JSON, "--readers-exist"],
                         session=session)
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and "AccessDenied" in err and FRAUD["reader_role_arn"] in err


def test_each_release_synthesis_requires_the_reader_roles() -> None:
    from mlops_constructs.config import load_config
    from stacks.release_stack import RESOLVER, release_synth_commands
    from tests.conftest import DEFAULT_CONFIG

    (command,) = [c for c in release_synth_commands(load_config(DEFAULT_CONFIG), "config/default.yaml") if RESOLVER in c]
    assert " --readers-exist " in command


def test_other_aws_errors_fail_the_step(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    session = FirstClientStubbed("sts")
    session.add_client_error("assume_role", service_error_code="RegionDisabledException", http_status_code=403,
                             service_message="STS is not activated in this region")
    code = resolver.main(["--region", REGION, "--released", "none", "--models", MODELS_JSON], session=session)
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and "RegionDisabledException" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("models", "problem"),
    [
        ("[{", "not valid JSON"),
        (json.dumps(CHURN), "must be a JSON list"),
        (json.dumps([{"name": "churn", "group": "mlops-demo-churn"}]), "parameter, reader_role_arn"),
        (json.dumps([CHURN, CHURN]), "duplicate names: churn"),
        (json.dumps([{**CHURN, "name": "churn model"}]), "'churn model'"),
    ],
)
def test_invalid_models_exit_2(capsys: pytest.CaptureFixture[str], models: str, problem: str) -> None:
    code = resolver.main(["--region", REGION, "--released", "none", "--models", models])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert problem in err


@pytest.mark.parametrize(
    ("models", "line"),
    [
        (json.dumps(CHURN), "--models must be a JSON list of models, got dict"),
        (json.dumps(["churn"]), "--models[0] must be an object with name, group, parameter, reader_role_arn"),
        (json.dumps([CHURN, {**FRAUD, "group": "-fraud"}]), "--models[1].group '-fraud' is not a model package group name"),
        (json.dumps([CHURN, FRAUD, CHURN, FRAUD]), "--models has duplicate names: churn, fraud"),
        (json.dumps([CHURN, {**FRAUD, "group": CHURN["group"]}]), "--models has duplicate groups: mlops-demo-churn"),
    ],
)
def test_invalid_models_exit_2_with_one_line_naming_the_problem(capsys: pytest.CaptureFixture[str], models: str, line: str) -> None:
    code = resolver.main(["--region", REGION, "--released", "none", "--models", models])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"error: {line}\n")


@pytest.mark.parametrize(
    ("models", "groups"),
    [(MODELS_JSON, "mlops-demo-churn, mlops-demo-fraud"), ("[]", "(no models given)")],
)
def test_a_rejected_released_value_is_shown_with_the_form_expected_in_the_region_given(
    capsys: pytest.CaptureFixture[str], models: str, groups: str,
) -> None:
    code = resolver.main(["--region", OTHER_REGION, "--released", "latest", "--models", models])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        f"error: --released 'latest' must be 'none', empty, or arn:aws:sagemaker:{OTHER_REGION}:<account>:model-package/<group>/<version> "
        f"with <group> one of: {groups}\n"
    )


def test_each_model_logs_where_its_package_came_from(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    churn, fraud = package("mlops-demo-churn", 3), package("mlops-demo-fraud", 5)
    approve(CHURN["parameter"], churn)
    approve(FRAUD["parameter"], fraud)
    assert resolver.main(["--region", REGION, "--released", "none", "--models", MODELS_JSON]) == 0
    out, err = capsys.readouterr()
    assert out == f"-c model_package_arn.churn={churn} -c model_package_arn.fraud={fraud}\n"
    assert err.splitlines() == [
        f"churn: {churn} (parameter {CHURN['parameter']}, read as {CHURN['reader_role_arn']})",
        f"fraud: {fraud} (parameter {FRAUD['parameter']}, read as {FRAUD['reader_role_arn']})",
    ]


def test_a_denied_reader_role_resolves_to_none_with_the_full_warning(aws: None) -> None:
    session = denied_assume_role(FRAUD["reader_role_arn"], "release-synth")
    released = package("mlops-demo-churn", 4)
    resolutions = resolve(released, session)
    note = f"cannot assume {FRAUD['reader_role_arn']} (AccessDenied; is the stage that creates it deployed yet?): its endpoints are left as they are"
    assert resolutions["fraud"] == resolver.Resolution("fraud", None, "none", note, warning=True)
    assert resolutions["fraud"].log_line() == f"WARNING: fraud: none ({note})"
    assert resolutions["churn"] == resolver.Resolution("churn", released, "variable", "pipeline variable ModelPackageArn")


def test_the_parameters_are_read_in_the_region_given_not_the_default_one(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    approve(CHURN["parameter"], package("mlops-demo-churn", 3, region=OTHER_REGION), region=OTHER_REGION)
    # Only in the default region: read there, fraud would resolve to another region's package (exit 2).
    approve(FRAUD["parameter"], package("mlops-demo-fraud", 5))
    session = RegionRecordingSession()
    code = resolver.main(["--region", OTHER_REGION, "--released", "none", "--models", MODELS_JSON], session=session)
    out, err = capsys.readouterr()
    assert code == 0
    assert out == f"-c model_package_arn.churn={package('mlops-demo-churn', 3, region=OTHER_REGION)} -c model_package_arn.fraud=none\n"
    assert session.clients == [("sts", OTHER_REGION), ("ssm", OTHER_REGION), ("ssm", OTHER_REGION)]


class ConfigRecordingSession:
    """A boto3 session over moto that records the service, retry settings and read timeout of every client
    a script creates."""

    def __init__(self) -> None:
        self.session = boto3.Session()
        self.clients: list[tuple[str, dict[str, Any], float]] = []

    def client(self, service_name: str, **kwargs: Any) -> Any:
        client = self.session.client(service_name, **kwargs)
        self.clients.append((service_name, client.meta.config.retries, client.meta.config.read_timeout))
        return client


def test_the_resolver_retries_throttling_in_standard_mode(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    session = ConfigRecordingSession()
    assert resolver.main(["--region", REGION, "--released", "none", "--models", json.dumps([CHURN])], session=session) == 0
    retries = {"mode": "standard", "total_max_attempts": 5}
    assert session.clients == [("sts", retries, 60), ("ssm", retries, 60)]  # botocore's default read timeout


# -- smoke_test -------------------------------------------------------------------------------------


def smoke_test(name: str, body: str = "0.5,1,0") -> dict[str, str]:
    return {
        "endpoint": f"mlops-demo-staging-{name}",
        "role_arn": f"arn:aws:iam::{STAGING}:role/mlops-demo-staging-{name}-smoke-test",
        "content_type": "text/csv",
        "body": body,
    }


def endpoint_answers(*bodies: str, account: str = STAGING, region: str = REGION) -> None:
    """Queue moto's InvokeEndpoint answers in ``account``, through moto's documented configuration API.

    Moto (5.2) hands them out in call order and then repeats an answer for a repeated request; it keys
    that cache by request headers and body only, not by endpoint name, so tests give each endpoint a
    different body."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": account, "region": region, "results": [{"Body": b, "ContentType": "text/csv"} for b in bodies]},
        timeout=5,
    )
    assert response.status_code == 201


def test_every_endpoint_that_answers_passes(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint_answers("0.87", "0.12")
    tests = [smoke_test("churn", "0.5,1,0"), smoke_test("fraud", "3,2,1")]
    code = smoke.main(["--region", REGION, "--tests", json.dumps(tests)])
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    # The answers were queued in the staging account only: moto would answer "body" to any other.
    assert lines[0].startswith("PASS mlops-demo-staging-churn 200 in ") and lines[0].endswith(" ms: 0.87")
    assert lines[1].startswith("PASS mlops-demo-staging-fraud 200 in ") and lines[1].endswith(" ms: 0.12")
    assert "FAIL" not in err


def test_a_result_shows_the_first_200_characters_of_the_response_on_one_line(aws: None) -> None:
    endpoint_answers("a\nb" + "x" * 500)
    [result] = smoke.run(smoke.parse_tests(json.dumps([smoke_test("churn")])), REGION)
    assert result.ok and result.status == 200 and result.latency_ms is not None and result.latency_ms >= 0
    assert result.detail == "a\\nb" + "x" * 197


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("ModelError", 424, "Received server error (500) from primary with message \"model failed\""),
        ("ValidationError", 400, f"Endpoint mlops-demo-staging-broken of account {STAGING} not found."),
    ],
)
def test_an_error_response_fails_the_run_after_every_test_ran(
    aws: None, capsys: pytest.CaptureFixture[str], code: str, status: int, message: str
) -> None:
    broken, healthy = smoke_test("broken", "1,1,1"), smoke_test("churn", "0.5,1,0")
    session = FirstClientStubbed("sagemaker-runtime")  # the first endpoint tested answers with the error
    session.add_client_error(
        "invoke_endpoint", service_error_code=code, http_status_code=status, service_message=message,
        expected_params={"EndpointName": broken["endpoint"], "ContentType": "text/csv", "Body": b"1,1,1", "Accept": "*/*"},
    )
    endpoint_answers("0.87")
    exit_code = smoke.main(["--region", REGION, "--tests", json.dumps([broken, healthy])], session=session)
    out, err = capsys.readouterr()
    session.assert_stub_used()
    assert exit_code == 1
    assert f"FAIL mlops-demo-staging-broken: {code}: {message}" in err.splitlines()
    assert err.splitlines()[-1] == "1 of 2 endpoints failed: mlops-demo-staging-broken"
    assert out.startswith("PASS mlops-demo-staging-churn 200 in ")  # tested after the failure


def test_a_model_error_points_at_the_container_logs(aws: None) -> None:
    log_stream = f"arn:aws:logs:{REGION}:{STAGING}:log-group:/aws/sagemaker/Endpoints/mlops-demo-staging-churn"
    session = FirstClientStubbed("sagemaker-runtime")
    session.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                             service_message="boom", modeled_fields={"LogStreamArn": log_stream})
    [result] = smoke.run([smoke.SmokeTest(**smoke_test("churn"))], REGION, session)
    assert not result.ok
    assert result.detail == f"ModelError: boom (logs: {log_stream})"


def test_a_denied_smoke_test_role_fails_that_endpoint(aws: None) -> None:
    test = smoke_test("churn")
    session = denied_assume_role(test["role_arn"], "smoke-test")
    [result] = smoke.run([smoke.SmokeTest(**test)], REGION, session)
    session.assert_stub_used()
    assert not result.ok
    assert result.line().startswith(f"FAIL mlops-demo-staging-churn: cannot assume {test['role_arn']}: AccessDenied: ")


@pytest.mark.parametrize(
    ("tests", "problem"),
    [
        ("[{", "--tests is not valid JSON"),
        (json.dumps(smoke_test("churn")), "--tests must be a JSON list of tests, got dict"),
        (json.dumps([smoke_test("churn"), {"endpoint": "x", "body": ""}]), "--tests[1] needs non-empty strings for role_arn, content_type, body"),
        (json.dumps(["mlops-demo-staging-churn"]), "--tests[0] must be an object with endpoint, role_arn, content_type, body"),
    ],
)
def test_invalid_tests_exit_2_naming_the_problem(capsys: pytest.CaptureFixture[str], tests: str, problem: str) -> None:
    code = smoke.main(["--region", REGION, "--tests", tests])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and problem in err


def invoke_answer(body: bytes, status: int = 200) -> dict[str, Any]:
    """An InvokeEndpoint answer for ``FirstClientStubbed.add_response``."""
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "text/csv",
            "ResponseMetadata": {"HTTPStatusCode": status}}


def test_a_successful_answer_other_than_200_fails_the_endpoint(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # botocore raises for 3xx and above; a 2xx other than 200 is an answer, but not the one a smoke test wants.
    broken, healthy = smoke_test("broken", "1,1,1"), smoke_test("churn", "0.5,1,0")
    session = FirstClientStubbed("sagemaker-runtime")
    session.add_response(
        "invoke_endpoint", invoke_answer(b"accepted\nlater", status=202),
        expected_params={"EndpointName": broken["endpoint"], "ContentType": "text/csv", "Body": b"1,1,1", "Accept": "*/*"},
    )
    endpoint_answers("0.87")
    code = smoke.main(["--region", REGION, "--tests", json.dumps([broken, healthy])], session=session)
    out, err = capsys.readouterr()
    session.assert_stub_used()
    assert code == 1
    assert err.splitlines() == [
        "FAIL mlops-demo-staging-broken: HTTP 202: accepted\\nlater",
        "1 of 2 endpoints failed: mlops-demo-staging-broken",
    ]
    assert re.fullmatch(r"PASS mlops-demo-staging-churn 200 in \d+ ms: 0\.87\n", out)


def test_the_endpoints_are_invoked_in_the_region_given_not_the_default_one(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint_answers("0.42", region=OTHER_REGION)  # moto answers "body" to an invocation in any other region
    session = RegionRecordingSession()
    code = smoke.main(["--region", OTHER_REGION, "--tests", json.dumps([smoke_test("churn")])], session=session)
    out, err = capsys.readouterr()
    assert code == 0
    assert re.fullmatch(r"PASS mlops-demo-staging-churn 200 in \d+ ms: 0\.42\n", out)
    assert session.clients == [("sts", OTHER_REGION), ("sagemaker-runtime", OTHER_REGION)]


def test_a_body_that_is_not_utf8_passes_with_the_undecodable_bytes_replaced(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # A model may answer in binary (an image, a protobuf): the endpoint answered, so it passes; the excerpt
    # shows each byte that is not UTF-8 as U+FFFD rather than failing the run with a traceback.
    session = FirstClientStubbed("sagemaker-runtime")
    session.add_response("invoke_endpoint", invoke_answer(b"\x89PNG\r\n\xff\xfe0.87"))
    code = smoke.main(["--region", REGION, "--tests", json.dumps([smoke_test("churn")])], session=session)
    out, err = capsys.readouterr()
    session.assert_stub_used()
    assert code == 0
    assert re.fullmatch(r"PASS mlops-demo-staging-churn 200 in \d+ ms: \ufffdPNG\\r\\n\ufffd\ufffd0\.87\n", out)
    assert err == "all 1 endpoints answered\n"


# -- smoke_test: the endpoint's API ---------------------------------------------------------------------


API_URL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1/invocations"


STACK = "mlops-demo-staging-churn-endpoint"


def endpoint_stack(outputs: dict[str, str]) -> FirstClientStubbed:
    """A session over moto whose CloudFormation client answers DescribeStacks for the endpoint stack with
    ``outputs`` (moto's CloudFormation needs openapi-spec-validator for its API Gateway models, which is not
    installed here)."""
    session = FirstClientStubbed("cloudformation")
    stack = {"StackName": STACK, "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2026-11-27T00:00:00Z",
             "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()]}
    session.add_response("describe_stacks", {"Stacks": [stack]}, expected_params={"StackName": STACK})
    return session


class ApiDouble:
    """Stands in for the API: records each signed request and answers ``status`` and ``body``."""

    def __init__(self, status: int = 200, body: bytes = b"0.87") -> None:
        self.status, self.body = status, body
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.requests.append((url, headers, body))
        return self.status, self.body


def with_api(name: str = "churn", body: str = "0.5,1,0", **api: str) -> dict[str, str]:
    return {**smoke_test(name, body), "api_stack": STACK, **api}


def test_an_endpoint_with_an_api_is_also_called_through_it_signed_with_sigv4_as_the_role(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = endpoint_stack({"InferenceApiUrl": API_URL})
    endpoint_answers("0.87")
    api = ApiDouble(200, b"0.91")
    monkeypatch.setattr(smoke, "post", api)
    code = smoke.main(["--region", REGION, "--tests", json.dumps([with_api()])], session=session)
    session.assert_stub_used()
    out, err = capsys.readouterr()
    assert code == 0, err
    endpoint_line, api_line = out.splitlines()
    assert endpoint_line.startswith("PASS mlops-demo-staging-churn 200 in ") and endpoint_line.endswith(" ms: 0.87")
    assert re.fullmatch(r"PASS mlops-demo-staging-churn API 200 in \d+ ms: 0\.91", api_line)
    ((url, headers, body),) = api.requests
    assert (url, body, headers["Content-Type"]) == (API_URL, b"0.5,1,0", "text/csv")
    # SigV4 for execute-api in the region, with the assumed role's session credentials (moto's start with ASIA)
    assert re.match(rf"AWS4-HMAC-SHA256 Credential=ASIA\w+/\d{{8}}/{REGION}/execute-api/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{{64}}$",
                    headers["Authorization"])
    assert headers["X-Amz-Security-Token"] and re.fullmatch(r"\d{8}T\d{6}Z", headers["X-Amz-Date"])
    assert err.splitlines()[-1] == "all 2 endpoints answered"


def test_an_api_error_fails_the_run_with_the_status_and_the_apis_answer(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = endpoint_stack({"InferenceApiUrl": API_URL})
    endpoint_answers("0.87")
    answer = b'{"message": "The model failed to answer", "requestId": "c0ffee00-1234"}'
    monkeypatch.setattr(smoke, "post", ApiDouble(502, answer))
    code = smoke.main(["--region", REGION, "--tests", json.dumps([with_api()])], session=session)
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("PASS mlops-demo-staging-churn 200 in ")  # the endpoint itself answered
    assert f"FAIL mlops-demo-staging-churn API: HTTP 502: {answer.decode()}" in err.splitlines()
    assert err.splitlines()[-1] == "1 of 2 endpoints failed: mlops-demo-staging-churn API"


def test_a_stack_without_the_apis_output_fails_the_api_naming_stack_and_output(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = endpoint_stack({"SomethingElse": "x"})
    endpoint_answers("0.87")
    api = ApiDouble()
    monkeypatch.setattr(smoke, "post", api)
    results = smoke.run(smoke.parse_tests(json.dumps([with_api(api_output="ChurnApiUrl")])), REGION, session)
    assert [r.ok for r in results] == [True, False]
    assert results[1].line() == "FAIL mlops-demo-staging-churn API: stack mlops-demo-staging-churn-endpoint has no output ChurnApiUrl"
    assert api.requests == []


def test_a_missing_stack_fails_the_api_with_cloudformations_error(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    session = FirstClientStubbed("cloudformation")
    session.add_client_error("describe_stacks", service_error_code="ValidationError", http_status_code=400,
                             service_message=f"Stack with id {STACK} does not exist")
    endpoint_answers("0.87")
    monkeypatch.setattr(smoke, "post", ApiDouble())
    _, result = smoke.run(smoke.parse_tests(json.dumps([with_api()])), REGION, session)
    assert result.line() == f"FAIL mlops-demo-staging-churn API: cannot read stack {STACK}: ValidationError: Stack with id {STACK} does not exist"


@pytest.mark.parametrize(
    ("test", "problem"),
    [
        ({**smoke_test("churn"), "api_stack": ""}, "--tests[0] needs non-empty strings for api_stack"),
        ({**smoke_test("churn"), "api_stack": "s", "api_output": 3}, "--tests[0] needs non-empty strings for api_output"),
        ({**smoke_test("churn"), "api_url": "https://x"}, "--tests[0] has unknown keys api_url"),
    ],
)
def test_invalid_api_keys_exit_2_naming_them(capsys: pytest.CaptureFixture[str], test: dict[str, Any], problem: str) -> None:
    code = smoke.main(["--region", REGION, "--tests", json.dumps([test])])
    _, err = capsys.readouterr()
    assert code == 2 and problem in err


def test_no_endpoints_to_test_is_a_pass_that_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = smoke.main(["--region", REGION, "--tests", "[]"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (0, "", "no endpoints to test\n")


class RoleDenied:
    """A session whose clients are refused every role they try to assume (AccessDenied)."""

    def client(self, service_name: str, **kwargs: Any) -> Any:
        client = boto3.Session().client(service_name, **kwargs)
        stubber = Stubber(client)
        stubber.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403, service_message="denied")
        stubber.activate()
        return client


def test_the_summary_names_every_failed_endpoint(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    tests = [smoke_test("churn"), smoke_test("fraud")]

    code = smoke.main(["--region", REGION, "--tests", json.dumps(tests)], session=RoleDenied())
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"FAIL mlops-demo-staging-churn: cannot assume {tests[0]['role_arn']}: AccessDenied: denied",
        f"FAIL mlops-demo-staging-fraud: cannot assume {tests[1]['role_arn']}: AccessDenied: denied",
        "2 of 2 endpoints failed: mlops-demo-staging-churn, mlops-demo-staging-fraud",
    ]


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        ({"Error": {"Code": "ModelNotReadyException"}}, "ModelNotReadyException"),  # no message: no dangling ": "
        ({"Error": {"Message": "service unavailable"}}, "Unknown: service unavailable"),
        ({"Error": {}}, "Unknown"),
        ({}, "Unknown"),
    ],
)
def test_an_error_without_a_code_or_a_message_is_still_one_readable_line(response: dict[str, Any], detail: str) -> None:
    err = ClientError({**response, "ResponseMetadata": {"HTTPStatusCode": 503}}, "InvokeEndpoint")
    assert smoke._describe(err) == detail


def test_an_endpoint_that_does_not_answer_in_time_fails_with_the_timeout(aws: None) -> None:
    from botocore.exceptions import ReadTimeoutError

    class TimingOut:
        def __init__(self) -> None:
            self.session = boto3.Session()

        def client(self, service_name: str, **kwargs: Any) -> Any:
            client = self.session.client(service_name, **kwargs)
            if service_name == "sagemaker-runtime":
                def invoke_endpoint(**_: Any) -> Any:
                    raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/x/invocations")
                client.invoke_endpoint = invoke_endpoint
            return client

    [result] = smoke.run([smoke.SmokeTest(**smoke_test("churn"))], REGION, TimingOut())
    assert result.line() == (
        "FAIL mlops-demo-staging-churn: ReadTimeoutError: Read timeout on endpoint URL: "
        '"https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/x/invocations"'
    )


def test_the_latency_is_reported_in_milliseconds(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint_answers("0.87")
    clock = iter([1000.0, 1002.5])  # started, answered: 2.5 s later
    monkeypatch.setattr(smoke.time, "monotonic", lambda: next(clock))
    [result] = smoke.run([smoke.SmokeTest(**smoke_test("churn"))], REGION)
    assert result.line() == "PASS mlops-demo-staging-churn 200 in 2500 ms: 0.87"


def test_the_smoke_test_retries_throttling_and_waits_as_long_as_an_endpoint_may_answer(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint_answers("0.87")
    session = ConfigRecordingSession()
    assert smoke.main(["--region", REGION, "--tests", json.dumps([smoke_test("churn")])], session=session) == 0
    retries = {"mode": "standard", "total_max_attempts": 3}
    assert session.clients == [("sts", retries, 70), ("sagemaker-runtime", retries, 70)]


# -- both scripts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "description", "arguments"),
    [
        (smoke, "Invoke each endpoint once with a sample payload and fail on an error response: run after the staging deploy.",
         [("--region REGION", "region of the endpoints"),
          ("--tests TESTS", "JSON list of {endpoint, role_arn, content_type, body[, api_stack, api_output]}")]),
        (resolver, "Decide which approved model package each model's endpoints deploy: run by the delivery pipeline's synth step.",
         [("--region REGION", "region of the model registry and the parameters"),
          ("--released RELEASED", "the pipeline variable ModelPackageArn ('' or 'none' if unset)"),
          ("--models MODELS", "JSON list of {name, group, parameter, reader_role_arn}"),
          ("--readers-exist", "fail when a reader role cannot be assumed (a release pipeline's synthesis), instead of reading it as no version")]),
    ],
)
def test_help_says_what_the_script_does_and_what_each_argument_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, script: ModuleType, description: str,
    arguments: list[tuple[str, str]],
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # argparse wraps at the terminal's width
    with pytest.raises(SystemExit) as exited:
        script.main(["--help"])
    out, _ = capsys.readouterr()
    assert exited.value.code == 0
    assert out.split("\n\n")[1] == description
    options = dict(re.fullmatch(r"\s+(\S.*?)\s{2,}(\S.*)", line).groups() for line in out.splitlines() if line.startswith("  -"))
    assert options == {"-h, --help": "show this help message and exit", **dict(arguments)}


@pytest.mark.parametrize(
    ("script", "argv", "missing"),
    [
        (smoke, ["--tests", "[]"], "--region"),
        (smoke, ["--region", REGION], "--tests"),
        (resolver, ["--released", "none", "--models", "[]"], "--region"),
        (resolver, ["--region", REGION, "--models", "[]"], "--released"),
        (resolver, ["--region", REGION, "--released", "none"], "--models"),
    ],
)
def test_a_missing_argument_exits_2_naming_it(capsys: pytest.CaptureFixture[str], script: ModuleType, argv: list[str], missing: str) -> None:
    with pytest.raises(SystemExit) as exited:
        script.main(argv)
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    assert err.splitlines()[-1].endswith(f": error: the following arguments are required: {missing}")


# -- smoke_test: the API path's failures, and the HTTP call itself ----------------------------------------------


def test_the_api_is_not_called_when_its_role_cannot_be_assumed(aws: None, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    test = smoke.parse_tests(json.dumps([with_api()]))[0]
    api = ApiDouble()
    monkeypatch.setattr(smoke, "post", api)

    result = smoke.run_api(test, REGION, RoleDenied())
    assert (result.endpoint, result.ok) == ("mlops-demo-staging-churn API", False)
    assert result.line() == f"FAIL mlops-demo-staging-churn API: cannot assume {test.role_arn}: AccessDenied: denied"
    assert api.requests == []


def test_an_unreadable_stack_fails_the_api_naming_the_stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    session = FirstClientStubbed("cloudformation")
    session.add_client_error("describe_stacks", service_error_code="ValidationError", http_status_code=400,
                             service_message=f"Stack with id {STACK} does not exist")
    monkeypatch.setattr(smoke, "post", ApiDouble())
    result = smoke.run_api(smoke.parse_tests(json.dumps([with_api()]))[0], REGION, session)
    assert result.ok is False
    assert result.line() == f"FAIL mlops-demo-staging-churn API: cannot read stack {STACK}: ValidationError: Stack with id {STACK} does not exist"


def test_a_stack_without_outputs_fails_the_api_naming_the_output(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    session = FirstClientStubbed("cloudformation")
    session.add_response("describe_stacks", {"Stacks": [{"StackName": STACK, "StackStatus": "CREATE_COMPLETE",
                                                         "CreationTime": "2026-11-27T00:00:00Z"}]})  # no Outputs key at all
    monkeypatch.setattr(smoke, "post", ApiDouble())
    result = smoke.run_api(smoke.parse_tests(json.dumps([with_api()]))[0], REGION, session)
    assert result.line() == f"FAIL mlops-demo-staging-churn API: stack {STACK} has no output InferenceApiUrl"


def test_the_api_request_carries_the_body_its_type_and_accepts_any_answer(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    api = ApiDouble(200, "0,91 \u00e9".encode("latin-1"))  # not UTF-8: replaced, not a traceback
    monkeypatch.setattr(smoke, "post", api)
    result = smoke.run_api(smoke.parse_tests(json.dumps([with_api(body="0.5,1,\u00e9")]))[0], REGION,
                           endpoint_stack({"InferenceApiUrl": API_URL}))
    ((url, headers, body),) = api.requests
    assert (url, body) == (API_URL, "0.5,1,\u00e9".encode("utf-8"))
    assert (headers["Content-Type"], headers["Accept"]) == ("text/csv", "*/*")
    assert "host" in re.search(r"SignedHeaders=(\S+),", headers["Authorization"]).group(1).split(";")
    assert (result.ok, result.status, result.detail) == (True, 200, "0,91 \ufffd")
    assert result.latency_ms is not None and result.latency_ms >= 0


def test_an_api_that_cannot_be_reached_is_one_line(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        raise urllib.error.URLError("timed out\nafter 60 s")

    monkeypatch.setattr(smoke, "post", unreachable)
    result = smoke.run_api(smoke.parse_tests(json.dumps([with_api()]))[0], REGION, endpoint_stack({"InferenceApiUrl": API_URL}))
    assert result.ok is False and "\n" not in result.line()
    assert result.line().startswith("FAIL mlops-demo-staging-churn API: URLError: <urlopen error timed out")


def test_post_returns_the_status_and_body_of_any_answer_error_included() -> None:
    import http.server
    import threading

    seen: list[tuple[str, bytes, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, body, self.headers["X-Test"]))
            status = 200 if self.path == "/ok" else 429
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"answer" if status == 200 else b'{"message": "Too Many Requests"}')

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert smoke.post(f"{base}/ok", {"X-Test": "1"}, b"0.5,1") == (200, b"answer")
        assert smoke.post(f"{base}/busy", {"X-Test": "2"}, b"x") == (429, b'{"message": "Too Many Requests"}')
    finally:
        server.shutdown()
    assert seen == [("/ok", b"0.5,1", "1"), ("/busy", b"x", "2")]


def test_the_api_request_is_signed_over_its_method_url_body_and_type_with_the_roles_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    now = dt.datetime(2026, 11, 27, 12, 0, 0)
    monkeypatch.setattr(auth, "get_current_datetime", lambda: now)
    role = {"AccessKeyId": "ASIAEXAMPLEKEY0001", "SecretAccessKey": "secret/of+the+role", "SessionToken": "token-of-the-role",
            "Expiration": now}

    class Stubbed:  # STS gives the role's known credentials; CloudFormation the API's URL
        def client(self, service_name: str, **kwargs: Any) -> Any:
            client = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x").client(service_name, **kwargs)
            stubber = Stubber(client)
            if service_name == "sts":
                stubber.add_response("assume_role", {"Credentials": role})
            else:
                stubber.add_response("describe_stacks", {"Stacks": [{
                    "StackName": STACK, "StackStatus": "UPDATE_COMPLETE", "CreationTime": now,
                    "Outputs": [{"OutputKey": "InferenceApiUrl", "OutputValue": API_URL}]}]})
            stubber.activate()
            return client

    api = ApiDouble()
    monkeypatch.setattr(smoke, "post", api)
    assert smoke.run_api(smoke.parse_tests(json.dumps([with_api(body="0.5,1,0")]))[0], REGION, Stubbed()).ok
    ((_, headers, _),) = api.requests
    # what botocore's own signer makes of the request as it should be
    expected = AWSRequest(method="POST", url=API_URL, data=b"0.5,1,0", headers={"Content-Type": "text/csv", "Accept": "*/*"})
    auth.SigV4Auth(Credentials(role["AccessKeyId"], role["SecretAccessKey"], role["SessionToken"]), "execute-api", REGION).add_auth(expected)
    assert headers["Authorization"] == expected.headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "token-of-the-role"
