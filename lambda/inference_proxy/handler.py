"""Invoke one SageMaker endpoint for an API Gateway REST API (``InferenceApi(handler=...)``), with a place for
pre- and post-processing, and the same error contract as the API's direct integration.

A starting point for the function a team names as ``handler``: edit :func:`preprocess` and :func:`postprocess`
(identity here). Invoked as a Lambda proxy integration; the endpoint is ``ENDPOINT_NAME``. Answers:

- 200 with the model's body and content type (after :func:`postprocess`);
- 415 for a content type not in ``CONTENT_TYPES`` (comma-separated; default ``text/csv,application/json``);
- 400 for SageMaker's ``ValidationError`` (and other 4xx), and for a ``ModelError`` whose ``OriginalStatusCode`` is
  4xx (the model refused the input); :class:`RequestRejected` raised by :func:`preprocess` is a 400 too;
- 429 for ``ThrottlingException`` and ``ModelNotReadyException``;
- 502 for any other error of the model or the endpoint.

Every answer has the header ``X-Request-Id`` (API Gateway's request id) and every error the body
``{"message": <fixed text>, "requestId": <id>}``: the model's message, its log stream and SageMaker's message are
logged (with the request id), never returned.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(service="inference-proxy")

# One attempt, answered within API Gateway's 29 s for an integration (its default): past that the client has its 504
# already, and a retry (of a read timeout, or of throttling) would invoke the model again for nobody, billed. The
# client retries a 429 or 502 itself. ENDPOINT_TIMEOUT_SECONDS: for an API whose integration timeout was raised.
BOTO_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3,
                     read_timeout=int(os.environ.get("ENDPOINT_TIMEOUT_SECONDS", "25")))
REQUEST_ID_HEADER = "X-Request-Id"

THROTTLED = ("ThrottlingException", "ModelNotReadyException")
MESSAGES = {
    400: "The request was not accepted by the model endpoint",
    415: "Unsupported content type",
    429: "Too many requests: retry later",
    502: "The model endpoint failed to answer",
}
MODEL_REFUSED, MODEL_FAILED = "The model could not process the request", "The model failed to answer"


class RequestRejected(ValueError):
    """Raised by :func:`preprocess` for a request the model should not see: answered 400."""


@dataclass(frozen=True)
class Request:
    body: bytes
    content_type: str


def preprocess(request: Request) -> Request:
    """Change the request before the model sees it (identity here)."""
    return request


def postprocess(body: bytes, content_type: str) -> tuple[bytes, str]:
    """Change the model's answer before the client sees it (identity here)."""
    return body, content_type


_runtime: Any = None


def runtime() -> Any:
    global _runtime
    if _runtime is None:
        _runtime = boto3.client("sagemaker-runtime", config=BOTO_CONFIG)
    return _runtime


def _answer(status: int, body: str | bytes, content_type: str, request_id: str) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    try:
        text, encoded = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(data).decode("ascii"), True
    return {"statusCode": status, "headers": {"Content-Type": content_type, REQUEST_ID_HEADER: request_id},
            "body": text, "isBase64Encoded": encoded}


def _error(status: int, request_id: str, message: str | None = None) -> dict[str, Any]:
    body = json.dumps({"message": message or MESSAGES[status], "requestId": request_id})
    return _answer(status, body, "application/json", request_id)


def error_status(err: ClientError) -> tuple[int, str]:
    """The API's status and message for a SageMaker error."""
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    if code in THROTTLED or status == 429:
        return 429, MESSAGES[429]
    if code == "ModelError":
        original = str(err.response.get("OriginalStatusCode", ""))
        return (400, MODEL_REFUSED) if original.startswith("4") else (502, MODEL_FAILED)
    if 400 <= status < 500:
        return 400, MESSAGES[400]
    return 502, MESSAGES[502]


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = (event.get("requestContext") or {}).get("requestId", "")
    logger.append_keys(api_request_id=request_id)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    allowed = [t.strip() for t in os.environ.get("CONTENT_TYPES", "text/csv,application/json").split(",") if t.strip()]
    if content_type not in allowed:
        return _error(415, request_id)
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    try:
        request = preprocess(Request(body, content_type))
    except RequestRejected as err:
        logger.info("request rejected by preprocess", extra={"reason": str(err)})
        return _error(400, request_id)
    try:
        response = runtime().invoke_endpoint(EndpointName=os.environ["ENDPOINT_NAME"], ContentType=request.content_type,
                                             Body=request.body, Accept="*/*")
        answer = response["Body"].read()
    except ClientError as err:
        status, message = error_status(err)
        error = err.response.get("Error", {})
        logger.warning("endpoint error", extra={"code": error.get("Code"), "sagemaker_message": error.get("Message"),
                                                "original_status": err.response.get("OriginalStatusCode"),
                                                "log_stream": err.response.get("LogStreamArn"), "status": status})
        return _error(status, request_id, message)
    except BotoCoreError as err:  # no answer in time, no connection
        logger.warning("endpoint unreachable", extra={"error": type(err).__name__})
        return _error(502, request_id)
    body_out, type_out = postprocess(answer, response.get("ContentType", "application/octet-stream"))
    return _answer(200, body_out, type_out, request_id)
