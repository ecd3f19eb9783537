"""Invoke each endpoint once with a sample payload and fail on an error response: run after the staging deploy.

Runs in AWS CodeBuild from a checkout of the repository (``python3 <this file>``); it needs only the
standard library and boto3, never ``mlops_constructs`` or aws_cdk::

    python3 smoke_test.py --region eu-west-1 --tests '[
      {"endpoint": "mlops-demo-staging-churn",
       "role_arn": "arn:aws:iam::333333333333:role/mlops-demo-staging-churn-smoke-test",
       "content_type": "text/csv", "body": "0.5,1,0"}]'

For each test, in order: assume ``role_arn`` (session ``smoke-test``; it lives in the endpoint's
account), then ``InvokeEndpoint`` with ``body`` as ``content_type``, accepting any response type. A
test passes when the endpoint answers 200; any AWS error fails it (``ModelError`` when the model
container errs, ``ValidationError`` when the endpoint does not exist, AccessDenied on the role, ...).
Every test runs, even after a failure, so that one run reports every broken endpoint.

A test with ``api_stack`` (and ``api_output``, default ``InferenceApiUrl``) also calls the endpoint's API: the
URL is that stack's output (``DescribeStacks`` as the role), and the same body is ``POST``-ed to it signed with
SigV4 for ``execute-api`` (botocore's ``SigV4Auth``, as the role). It passes on 200; its result is named
``<endpoint> API``.

stdout: ``PASS <endpoint> 200 in <ms> ms: <first 200 characters of the response>`` per passing test;
stderr: ``FAIL <endpoint>: <error code>: <message>`` per failing test and a summary.

Exit codes: 0 every test passed (or there was none); 1 some test failed; 2 invalid ``--tests``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

# Standard retry mode retries throttling and 5xx from the service front end; a model's own error
# (ModelError, HTTP 424) is not retried, so a broken model fails on its first answer.
# SageMaker gives a real-time endpoint 60 s to answer; the read timeout leaves it that long.
BOTO_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=70)
SESSION_NAME = "smoke-test"
SESSION_SECONDS = 900
EXCERPT = 200


class InvalidTests(ValueError):
    """The ``--tests`` argument is not a list of tests; exit code 2."""


API_OUTPUT = "InferenceApiUrl"
API_TIMEOUT_SECONDS = 70  # API Gateway's integration timeout is 29 s by default; the endpoint's 60 s bounds it anyway


@dataclass(frozen=True)
class SmokeTest:
    endpoint: str
    role_arn: str
    content_type: str
    body: str
    api_stack: str | None = None
    api_output: str = API_OUTPUT


@dataclass(frozen=True)
class Result:
    endpoint: str
    ok: bool
    detail: str  # the start of the response body, or the error
    status: int | None = None
    latency_ms: float | None = None

    def line(self) -> str:
        if self.ok:
            return f"PASS {self.endpoint} {self.status} in {self.latency_ms:.0f} ms: {self.detail}"
        return f"FAIL {self.endpoint}: {self.detail}"


def parse_tests(text: str) -> list[SmokeTest]:
    """The ``--tests`` JSON: a list of objects with non-empty string endpoint, role_arn, content_type and body."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidTests(f"--tests is not valid JSON: {err}") from None
    if not isinstance(items, list):
        raise InvalidTests(f"--tests must be a JSON list of tests, got {type(items).__name__}")
    keys = ("endpoint", "role_arn", "content_type", "body")
    tests = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidTests(f"--tests[{index}] must be an object with {', '.join(keys)}")
        bad = [k for k in keys if not isinstance(item.get(k), str) or not item[k]]
        bad += [k for k in ("api_stack", "api_output") if k in item and (not isinstance(item[k], str) or not item[k])]
        if bad:
            raise InvalidTests(f"--tests[{index}] needs non-empty strings for {', '.join(bad)}")
        unknown = sorted(set(item) - {*keys, "api_stack", "api_output"})
        if unknown:
            raise InvalidTests(f"--tests[{index}] has unknown keys {', '.join(unknown)}")
        tests.append(SmokeTest(**{k: item[k] for k in (*keys, "api_stack", "api_output") if k in item}))
    return tests


def _one_line(text: str) -> str:
    # Keep one result per log line: a multi-line response body would otherwise read as several.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _describe(err: ClientError | BotoCoreError) -> str:
    if not isinstance(err, ClientError):
        return _one_line(f"{type(err).__name__}: {err}")
    error = err.response.get("Error", {})
    text = f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}".rstrip(": ")
    if err.response.get("LogStreamArn"):  # ModelError points at the container's CloudWatch log stream
        text += f" (logs: {err.response['LogStreamArn']})"
    return _one_line(text)


def _assume(test: SmokeTest, region: str, session: Any) -> dict[str, str] | str:
    """The role's credentials, or why they could not be had."""
    try:
        return session.client("sts", region_name=region, config=BOTO_CONFIG).assume_role(  # type: ignore[no-any-return]
            RoleArn=test.role_arn, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS
        )["Credentials"]
    except (ClientError, BotoCoreError) as err:
        return f"cannot assume {test.role_arn}: {_describe(err)}"


def _client(session: Any, service: str, region: str, credentials: dict[str, str]) -> Any:
    return session.client(
        service,
        region_name=region,
        config=BOTO_CONFIG,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def run_one(test: SmokeTest, region: str, session: Any) -> Result:
    credentials = _assume(test, region, session)
    if isinstance(credentials, str):
        return Result(test.endpoint, False, credentials)
    runtime = _client(session, "sagemaker-runtime", region, credentials)
    started = time.monotonic()
    try:
        response = runtime.invoke_endpoint(
            EndpointName=test.endpoint, ContentType=test.content_type, Body=test.body.encode("utf-8"), Accept="*/*"
        )
        body = response["Body"].read()
    except (ClientError, BotoCoreError) as err:  # BotoCoreError: e.g. a read timeout, the endpoint did not answer
        return Result(test.endpoint, False, _describe(err))
    latency_ms = (time.monotonic() - started) * 1000
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    excerpt = _one_line(body.decode("utf-8", errors="replace")[:EXCERPT])
    if status != 200:
        return Result(test.endpoint, False, f"HTTP {status}: {excerpt}", status, latency_ms)
    return Result(test.endpoint, True, excerpt, status, latency_ms)


def post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST ``body`` to ``url``: the status and the body of the answer, an error status included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - an https URL from the stack
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def run_api(test: SmokeTest, region: str, session: Any) -> Result:
    """Call the endpoint's API as the role: its URL from ``api_stack``'s output, the request signed with SigV4."""
    name = f"{test.endpoint} API"
    credentials = _assume(test, region, session)
    if isinstance(credentials, str):
        return Result(name, False, credentials)
    try:
        stacks = _client(session, "cloudformation", region, credentials).describe_stacks(StackName=test.api_stack)["Stacks"]
    except (ClientError, BotoCoreError) as err:
        return Result(name, False, f"cannot read stack {test.api_stack}: {_describe(err)}")
    url = next((o["OutputValue"] for s in stacks for o in s.get("Outputs", []) if o["OutputKey"] == test.api_output), None)
    if url is None:
        return Result(name, False, f"stack {test.api_stack} has no output {test.api_output}")
    body = test.body.encode("utf-8")
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": test.content_type, "Accept": "*/*"})
    signer = Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    SigV4Auth(signer, "execute-api", region).add_auth(request)
    started = time.monotonic()
    try:
        status, answer = post(url, dict(request.headers.items()), body)
    except OSError as err:  # no connection, a timeout
        return Result(name, False, _one_line(f"{type(err).__name__}: {err}"))
    latency_ms = (time.monotonic() - started) * 1000
    excerpt = _one_line(answer.decode("utf-8", errors="replace")[:EXCERPT])
    if status != 200:
        return Result(name, False, f"HTTP {status}: {excerpt}", status, latency_ms)
    return Result(name, True, excerpt, status, latency_ms)


def run(tests: Sequence[SmokeTest], region: str, session: Any = None) -> list[Result]:
    """Run every test, in order, and return one result each (two for a test with an API); never stops at a failure."""
    session = session if session is not None else boto3.Session()
    results = []
    for test in tests:
        results.append(run_one(test, region, session))
        if test.api_stack is not None:
            results.append(run_api(test, region, session))
    return results


def main(argv: Sequence[str] | None = None, *, session: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--region", required=True, help="region of the endpoints")
    parser.add_argument("--tests", required=True, help="JSON list of {endpoint, role_arn, content_type, body[, api_stack, api_output]}")
    args = parser.parse_args(argv)  # exits 2 on missing arguments
    try:
        tests = parse_tests(args.tests)
    except InvalidTests as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not tests:
        print("no endpoints to test", file=sys.stderr)
        return 0
    results = run(tests, args.region, session)
    for result in results:
        print(result.line(), file=sys.stdout if result.ok else sys.stderr)
    failed = [r.endpoint for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} endpoints failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(results)} endpoints answered", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
