"""What the integration test apps share: the configuration they read, their app and their stacks.

integ-runner runs each ``integ_*.py`` here as a script (``python3 integ_x.py``), synthesizes it into a
snapshot (``integ_x.py.snapshot/``, committed) and, against an account, deploys it, runs its assertions
and destroys it. ``make test`` compares every app's synthesis with its snapshot without deploying
anything (tests/test_integ.py); ``make integ`` deploys them (docs/testing.md).
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
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import custom_resources as cr  # noqa: E402
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
    """A probe (``probes/<module>.py``, ``handler``), outside any VPC, with the environment given, and a log group
    deleted with the stack (the one CDK makes for a function is retained)."""
    return lambda_.Function(
        scope, id,
        log_group=logs.LogGroup(scope, f"{id}Logs", retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY),
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler=f"{module}.handler",
        code=lambda_.Code.from_asset(str(PROBES), exclude=["__pycache__", "*.pyc"]),
        timeout=cdk.Duration.seconds(60),
        environment=environment,
    )


def on_destroy(stack: cdk.Stack, id: str, call: cr.AwsSdkCall, resources: list[str], before: Construct) -> None:
    """Make ``call`` (an AWS SDK call, JavaScript v3 names) when the stack is destroyed, before ``before`` is deleted:
    clean-up of what the test run creates outside the stack. The calls share one function (CDK's
    ``AwsCustomResource``), whose log group is deleted with the stack."""
    logs_id = "OnDestroyLogs"
    log_group = stack.node.try_find_child(logs_id) or logs.LogGroup(
        stack, logs_id, retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY)
    assert isinstance(log_group, logs.LogGroup)
    cleanup = cr.AwsCustomResource(
        stack, id, on_delete=call, policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=resources),
        install_latest_aws_sdk=False, log_group=log_group,
    )
    cleanup.node.add_dependency(before)  # created after it, so deleted before it


def delete_versions_on_destroy(stack: cdk.Stack, group: str, versions: int, before: Construct) -> None:
    """Delete versions 1 to ``versions`` of the model package group ``group`` when the stack is destroyed, before
    ``before`` (the group, or the construct that holds it).

    For versions the test run registers (its assertions, or the pipeline under test), not the stack: a group that
    still holds versions cannot be deleted (DeleteModelPackageGroup answers ConflictException,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteModelPackageGroup.html), so a run that
    stopped before its own clean-up would leave the stack DELETE_FAILED and the group's name taken for the next run.
    A group numbers its versions from 1 (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-models.html);
    a version that was never registered is skipped (SageMaker answers an unknown name with ValidationException;
    ResourceNotFound too, to be safe: the API reference lists neither for DeleteModelPackage)."""
    for n in range(1, versions + 1):
        arn = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/{n}")
        on_destroy(stack, f"DeleteVersion{n}OnDestroy", cr.AwsSdkCall(
            service="SageMaker", action="deleteModelPackage", parameters={"ModelPackageName": arn},
            ignore_error_codes_matching="ValidationException|ResourceNotFound"), [arn], before)
