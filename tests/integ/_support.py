"""What the integration test apps share: the configuration they read, their app and their stacks.

integ-runner runs each ``integ_*.py`` here as a script (``python3 integ_x.py``), synthesizes it into a
snapshot (``integ_x.py.snapshot/``, committed) and, against an account, deploys it, runs its assertions
and destroys it. ``make test`` compares every app's synthesis with its snapshot without deploying
anything (tests/test_integ_snapshots.py); ``make integ`` deploys them (docs/testing.md).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from this folder: the repository's packages first
    sys.path.insert(0, str(REPO))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from constructs import Construct  # noqa: E402

from mlops_constructs.config import PlatformConfig, load_config  # noqa: E402
from mlops_constructs.network import FixedZonesStack  # noqa: E402

CONFIG_ENV = "INTEG_CONFIG"
"""The configuration whose region (and first availability zone) the tests deploy to. Default:
config/default.yaml, which the committed snapshots are synthesized from."""
TAG = "mlops:integ-test"
"""Tag on everything a test deploys, with the test's name: what to look for if a destroy failed."""
PROBES = Path(__file__).resolve().parent / "probes"
"""Small Lambda functions that try what an AWS API call from the assertions cannot (a plain-HTTP request)."""


def integ_config() -> PlatformConfig:
    """The configuration named by ``INTEG_CONFIG`` (default ``config/default.yaml``)."""
    return load_config(os.environ.get(CONFIG_ENV) or REPO / "config" / "default.yaml")


def integ_app() -> cdk.App:
    """An app with the platform's feature flags (cdk.json's context), which change what the constructs create."""
    context = json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"]
    return cdk.App(context=context)


def integ_stack(app: cdk.App, name: str, config: PlatformConfig) -> FixedZonesStack:
    """The stack under test, ``mlops-integ-<name>``, in the configured region's first availability zone only
    (the cheapest network that shows the behaviour), tagged ``mlops:integ-test=<name>``.

    Environment-agnostic, like the assertions' stack (a region here would make every reference between
    them cross-environment): ``IntegTest(regions=[config.region])`` has integ-runner deploy both there, with
    the account of the current credentials."""
    stack = FixedZonesStack(
        app, f"Integ{name.title().replace('-', '')}", stack_name=f"mlops-integ-{name}",
        availability_zones=config.availability_zones[:1],
    )
    cdk.Tags.of(stack).add(TAG, name)
    return stack


def probe_function(scope: Construct, id: str, module: str, **environment: str) -> lambda_.Function:
    """A probe (``probes/<module>.py``, ``handler``), outside any VPC, with the environment given."""
    return lambda_.Function(
        scope, id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler=f"{module}.handler",
        code=lambda_.Code.from_asset(str(PROBES), exclude=["__pycache__", "*.pyc"]),
        timeout=cdk.Duration.seconds(60),
        environment=environment,
    )
