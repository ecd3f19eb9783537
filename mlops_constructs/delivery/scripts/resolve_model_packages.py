"""Decide which approved model package each model's endpoints deploy: run by the delivery pipeline's synth step.

Runs in AWS CodeBuild from a checkout of the repository (``python3 <this file>``); it needs only the
standard library and boto3, never ``mlops_constructs`` or aws_cdk::

    python3 resolve_model_packages.py --region eu-west-1 --released "$MODEL_PACKAGE_ARN" --models '[
      {"name": "churn", "group": "mlops-demo-churn",
       "parameter": "/mlops-demo/models/churn/approved-model-package-arn",
       "reader_role_arn": "arn:aws:iam::222222222222:role/mlops-demo-churn-model-reader"}]'

``--released`` is the pipeline variable ``ModelPackageArn``: ``""`` or ``none`` when the run was not
started by an approval, otherwise the approved package's ARN, which must be in ``--region`` and in
one of the models' groups. For each model, in order:

- the released package, when it is in that model's group (source ``variable``);
- otherwise the SSM String parameter ``parameter`` in ``--region``, read with the credentials of
  ``reader_role_arn`` (it lives in the account that owns the registry), which must hold a package
  of that model's group (source ``parameter``);
- otherwise ``none``: the parameter does not exist (no version approved yet) or is ``none`` (the released
  version was withdrawn), or, without ``--readers-exist``, the reader role cannot be assumed (AccessDenied:
  the stage that creates it is not deployed yet; a WARNING says so). ``none`` leaves that model's endpoints
  as they are. Every release's synth build passes ``--readers-exist``: it runs after dev was deployed, so
  AccessDenied there is an error.

stdout is one line of CDK context arguments, one per model in input order::

    -c model_package_arn.churn=arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-churn/7 -c model_package_arn.fraud=none

stderr has one line per model saying which package and where it came from. Nothing is written to
stdout unless every model resolved, so call it as ``ARGS=$(python3 ...)`` before ``cdk synth $ARGS``
(a failed command substitution inside the ``cdk`` command line would go unnoticed).

Exit codes: 0 resolved; 2 invalid input (``--released``, ``--models`` or a parameter's value: one
line on stderr naming the value and what is allowed); 1 any other AWS error (``error: ...``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Standard retry mode: exponential backoff with jitter on throttling and transient errors.
BOTO_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5})
SESSION_NAME = "release-synth"
SESSION_SECONDS = 900  # the shortest STS allows: the script reads one parameter per model
NONE = "none"
WITHDRAWN = "none"  # the parameter's value after the model approval function withdrew the released version (its WITHDRAWN)
GROUP = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a CDK context key and a shell word
SOURCE_VARIABLE, SOURCE_PARAMETER, SOURCE_NONE = "variable", "parameter", "none"


class InvalidInput(ValueError):
    """Input the pipeline or a parameter gave that cannot be deployed; exit code 2."""


@dataclass(frozen=True)
class Model:
    name: str
    group: str
    parameter: str
    reader_role_arn: str


@dataclass(frozen=True)
class Resolution:
    """The package one model's endpoints deploy, or ``arn=None`` to leave them as they are."""

    name: str
    arn: str | None
    source: str  # SOURCE_VARIABLE, SOURCE_PARAMETER or SOURCE_NONE
    note: str  # why, for the log
    warning: bool = False

    def context_argument(self) -> str:
        return f"-c model_package_arn.{self.name}={self.arn or NONE}"

    def log_line(self) -> str:
        line = f"{self.name}: {self.arn or NONE} ({self.note})"
        return f"WARNING: {line}" if self.warning else line


def model_package_arn_pattern(region: str) -> re.Pattern[str]:
    return re.compile(
        rf"arn:aws[a-z-]*:sagemaker:{re.escape(region)}:\d{{12}}:model-package/(?P<group>{GROUP})/(?P<version>\d+)"
    )


def expected_form(region: str, group: str = "<group>") -> str:
    return f"arn:aws:sagemaker:{region}:<account>:model-package/{group}/<version>"


def package_group(value: str, region: str) -> str | None:
    """The group of a versioned model package ARN in ``region``, or None if ``value`` is not one."""
    match = model_package_arn_pattern(region).fullmatch(value)
    return match["group"] if match else None


def parse_models(text: str) -> list[Model]:
    """The ``--models`` JSON: a list of objects with non-empty string name, group, parameter and reader_role_arn."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(f"--models is not valid JSON: {err}") from None
    if not isinstance(items, list):
        raise InvalidInput(f"--models must be a JSON list of models, got {type(items).__name__}")
    keys = ("name", "group", "parameter", "reader_role_arn")
    models: list[Model] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"--models[{index}] must be an object with {', '.join(keys)}")
        bad = [k for k in keys if not isinstance(item.get(k), str) or not item[k]]
        if bad:
            raise InvalidInput(f"--models[{index}] needs non-empty strings for {', '.join(bad)}")
        model = Model(**{k: item[k] for k in keys})
        if not MODEL_NAME.fullmatch(model.name):
            raise InvalidInput(f"--models[{index}].name {model.name!r} must be letters, digits, '-' or '_'")
        if not re.fullmatch(GROUP, model.group):
            raise InvalidInput(f"--models[{index}].group {model.group!r} is not a model package group name")
        models.append(model)
    for field in ("name", "group"):  # a package or a context key must name exactly one model
        values = [getattr(m, field) for m in models]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise InvalidInput(f"--models has duplicate {field}s: {', '.join(duplicates)}")
    return models


def released_package(released: str, models: Sequence[Model], region: str) -> str | None:
    """The pipeline variable's package, validated; None when the run was not started by an approval."""
    value = released.strip()
    if value in ("", NONE):
        return None
    groups = [m.group for m in models]
    if package_group(value, region) not in groups:
        raise InvalidInput(
            f"--released {released!r} must be {NONE!r}, empty, or {expected_form(region)} with <group> one of: {', '.join(groups) or '(no models given)'}"
        )
    return value


def _client(session: Any, service: str, region: str, credentials: dict[str, Any] | None = None) -> Any:
    keys = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    # Clients come from the one session so that tests can hand in a session whose clients are stubbed.
    return session.client(service, region_name=region, config=BOTO_CONFIG, **keys)


def _from_parameter(model: Model, region: str, session: Any, sts: Any, *, readers_exist: bool = False) -> Resolution:
    try:
        credentials = sts.assume_role(
            RoleArn=model.reader_role_arn, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS
        )["Credentials"]
    except ClientError as err:
        # Before dev's first deployment the role does not exist (a run by hand then). A release pipeline runs after it
        # (readers_exist): there AccessDenied means a broken trust, a renamed role or an SCP, and reading it as "no
        # approved version" would skip every stage green.
        if err.response["Error"]["Code"] != "AccessDenied" or readers_exist:
            raise
        return Resolution(
            model.name, None, SOURCE_NONE,
            f"cannot assume {model.reader_role_arn} (AccessDenied; is the stage that creates it deployed yet?): "
            "its endpoints are left as they are",
            warning=True,
        )
    ssm = _client(session, "ssm", region, credentials)
    try:
        value = ssm.get_parameter(Name=model.parameter)["Parameter"]["Value"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return Resolution(model.name, None, SOURCE_NONE, f"parameter {model.parameter} does not exist: no approved version yet")
    if value == WITHDRAWN:
        return Resolution(model.name, None, SOURCE_NONE,
                          f"parameter {model.parameter} is {WITHDRAWN}: the released version was rejected and no other is approved")
    if package_group(value, region) != model.group:
        raise InvalidInput(
            f"parameter {model.parameter} holds {value!r}, expected {expected_form(region, model.group)}"
        )
    return Resolution(model.name, value, SOURCE_PARAMETER, f"parameter {model.parameter}, read as {model.reader_role_arn}")


def resolve(models: Sequence[Model], released: str, region: str, session: Any = None, *, readers_exist: bool = False) -> list[Resolution]:
    """One resolution per model, in order. Raises InvalidInput for a bad ``released`` or parameter value,
    and ClientError for AWS errors other than the ones that mean ``none``. ``readers_exist``: the reader roles
    must exist (a release pipeline's synthesis), so AccessDenied on one is an error, not ``none``."""
    package = released_package(released, models, region)
    session = session if session is not None else boto3.Session()
    sts = None  # created only when some model reads its parameter
    resolutions = []
    for model in models:
        if package is not None and package_group(package, region) == model.group:
            resolutions.append(Resolution(model.name, package, SOURCE_VARIABLE, "pipeline variable ModelPackageArn"))
            continue
        sts = sts or _client(session, "sts", region)
        resolutions.append(_from_parameter(model, region, session, sts, readers_exist=readers_exist))
    return resolutions


def main(argv: Sequence[str] | None = None, *, session: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--region", required=True, help="region of the model registry and the parameters")
    parser.add_argument("--released", required=True, help="the pipeline variable ModelPackageArn ('' or 'none' if unset)")
    parser.add_argument("--models", required=True, help="JSON list of {name, group, parameter, reader_role_arn}")
    parser.add_argument("--readers-exist", action="store_true",
                        help="fail when a reader role cannot be assumed (a release pipeline's synthesis), instead of reading it as no version")
    args = parser.parse_args(argv)  # exits 2 on missing arguments
    try:
        resolutions = resolve(parse_models(args.models), args.released, args.region, session, readers_exist=args.readers_exist)
    except InvalidInput as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for resolution in resolutions:
        print(resolution.log_line(), file=sys.stderr)
    print(" ".join(r.context_argument() for r in resolutions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
