"""The inference proxy in process: answers from moto's sagemaker-runtime pass through; SageMaker's errors (which
moto never answers, so a botocore Stubber gives them) map to 400, 429 and 502 with only the request id and a
fixed message, as the API's direct integration does."""

from __future__ import annotations

import base64
import json
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from .conftest import ACCOUNT, ENDPOINT, REGION

REQUEST_ID = "c0ffee00-1234-4abc-9def-000000000001"
SECRET = "Traceback (most recent call last): KeyError: 'tenure'"
LOG_STREAM = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}"


def event(body: str = "0.42,3,1", content_type: str = "text/csv", *, binary: bool = False) -> dict[str, Any]:
    """A REST API proxy integration event, as API Gateway sends it (the fields the handler reads and a few more)."""
    return {
        "resource": "/invocations", "path": "/invocations", "httpMethod": "POST",
        "headers": {"Content-Type": content_type, "Host": "a1b2c3.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {"requestId": REQUEST_ID, "stage": "v1", "identity": {"sourceIp": "203.0.113.7"}},
        "body": base64.b64encode(body.encode()).decode() if binary else body, "isBase64Encoded": binary,
    }


def endpoint_answers(*bodies: str) -> None:
    """Queue moto's InvokeEndpoint answers (moto's documented configuration API)."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": ACCOUNT, "region": REGION, "results": [{"Body": b, "ContentType": "text/csv"} for b in bodies]},
        timeout=5,
    )
    assert response.status_code == 201


def test_the_models_answer_passes_through_with_the_request_id(proxy: ModuleType, lambda_context: SimpleNamespace) -> None:
    endpoint_answers("0.87")
    answer = proxy.handler(event(), lambda_context)
    assert answer == {"statusCode": 200, "headers": {"Content-Type": "text/csv", "X-Request-Id": REQUEST_ID},
                      "body": "0.87", "isBase64Encoded": False}


def test_a_base64_body_is_decoded_and_pre_and_post_processing_apply(
    proxy: ModuleType, lambda_context: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def preprocess(request: Any) -> Any:
        seen.append(request)
        return proxy.Request(request.body.replace(b";", b","), request.content_type)

    monkeypatch.setattr(proxy, "preprocess", preprocess)
    monkeypatch.setattr(proxy, "postprocess", lambda body, content_type: (b'{"score": ' + body + b"}", "application/json"))
    endpoint_answers("0.12")
    answer = proxy.handler(event("1;2;3", binary=True), lambda_context)
    assert seen == [proxy.Request(b"1;2;3", "text/csv")]
    assert (answer["statusCode"], answer["body"], answer["headers"]["Content-Type"]) == (200, '{"score": 0.12}', "application/json")


def test_a_content_type_not_configured_is_415(proxy: ModuleType, lambda_context: SimpleNamespace) -> None:
    answer = proxy.handler(event("<x/>", "application/xml"), lambda_context)
    assert answer["statusCode"] == 415
    assert json.loads(answer["body"]) == {"message": "Unsupported content type", "requestId": REQUEST_ID}


def test_preprocess_may_reject_a_request_with_400(proxy: ModuleType, lambda_context: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    def preprocess(request: Any) -> Any:
        raise proxy.RequestRejected("3 features expected")

    monkeypatch.setattr(proxy, "preprocess", preprocess)
    answer = proxy.handler(event(), lambda_context)
    assert answer["statusCode"] == 400 and "3 features" not in answer["body"]


@pytest.mark.parametrize(
    ("code", "status", "fields", "expected_status", "expected_message"),
    [
        ("ValidationError", 400, {}, 400, "The request was not accepted by the model endpoint"),
        ("ThrottlingException", 400, {}, 429, "Too many requests: retry later"),
        ("ModelNotReadyException", 429, {}, 429, "Too many requests: retry later"),
        ("ModelError", 424, {"OriginalStatusCode": 400, "OriginalMessage": SECRET, "LogStreamArn": LOG_STREAM}, 400,
         "The model could not process the request"),
        ("ModelError", 424, {"OriginalStatusCode": 500, "OriginalMessage": SECRET, "LogStreamArn": LOG_STREAM}, 502,
         "The model failed to answer"),
        ("InternalFailure", 500, {}, 502, "The model endpoint failed to answer"),
        ("ServiceUnavailable", 503, {}, 502, "The model endpoint failed to answer"),
        ("InternalDependencyException", 530, {}, 502, "The model endpoint failed to answer"),
    ],
)
def test_sagemaker_errors_map_like_the_direct_integration_with_nothing_leaked(
    proxy: ModuleType, lambda_context: SimpleNamespace, code: str, status: int, fields: dict[str, Any], expected_status: int,
    expected_message: str,
) -> None:
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("invoke_endpoint", service_error_code=code, http_status_code=status,
                             service_message=f"Received error from primary: {SECRET}", modeled_fields=fields or None,
                             expected_params={"EndpointName": ENDPOINT, "ContentType": "text/csv", "Body": b"0.42,3,1", "Accept": "*/*"})
    stubber.activate()
    proxy._runtime = client
    answer = proxy.handler(event(), lambda_context)
    stubber.assert_no_pending_responses()
    assert answer["statusCode"] == expected_status
    assert answer["headers"]["X-Request-Id"] == REQUEST_ID
    assert json.loads(answer["body"]) == {"message": expected_message, "requestId": REQUEST_ID}
    assert SECRET not in answer["body"] and LOG_STREAM not in answer["body"]


def test_one_attempt_answered_within_api_gateways_integration_timeout(proxy: ModuleType) -> None:
    # past API Gateway's 29 s the client has its 504: a retry would invoke the model again for nobody
    config = proxy.BOTO_CONFIG
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.connect_timeout + config.read_timeout < 29
