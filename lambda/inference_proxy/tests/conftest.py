"""Fixtures for the inference proxy, run in process against moto's sagemaker-runtime."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from moto import mock_aws

HANDLER_PATH = Path(__file__).resolve().parents[1] / "handler.py"
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
ENDPOINT = "acme-staging-churn"


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inference_proxy_handler", HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["inference_proxy_handler"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The handler module in moto, with ENDPOINT_NAME set and a fresh client."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "inference-proxy")
    with mock_aws():
        module = load_handler()
        yield module


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="inference-proxy", function_version="$LATEST", memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:inference-proxy",
        aws_request_id="00000000-0000-0000-0000-000000000000",
    )
