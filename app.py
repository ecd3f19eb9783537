#!/usr/bin/env python3
"""The platform's CDK app: every stage of one configuration file.

    npx cdk synth                          # config/default.yaml
    npx cdk synth -c config=config/acme.yaml
    npx cdk synth -c validate_templates=true   # also CDK's built-in template validation (see new_app)
    npx cdk synth -c release=churn -c model_package_arn.churn=<arn>   # one model's release stages only
"""

from __future__ import annotations

import sys
from typing import Any

import aws_cdk as cdk

from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.config import MODEL_PACKAGE_ARN, ConfigError, PlatformConfig, load_config
from mlops_constructs.delivery import NO_MODEL_PACKAGE
from mlops_constructs.errors import PropsError
from stacks import build_platform
from stacks.names import VALIDATE_TEMPLATES
from stacks.release_stack import RELEASE_CONTEXT

DEFAULT_CONFIG = "config/default.yaml"


def new_app(**props: Any) -> cdk.App:
    """The app, with the cdk-nag packs on every synthesis (``build_platform`` adds them) and CDK's built-in
    template validation only when ``-c validate_templates=true`` asks for it.

    That validation applies cfn-lint's rules to every template, which costs more per model than all four
    cdk-nag packs. ``make test`` runs it on every stage of ``config/default.yaml`` (with cfn-lint and
    checkov), and the delivery pipeline's synth step asks for it on the configuration it deploys; a local
    synthesis skips it unless asked. CloudFormation validates each template's properties again before it
    creates or updates a stack.

    ``props`` go to ``cdk.App`` (``context``, ``outdir``...), for tests; the CLI's context comes first.
    """
    # No stack trace of each resource's creation either: from Python, CDK sees only jsii's own frames
    # ("no user code"), so the traces cost time and tell nothing. (cx-api's DISABLE_CREATION_STACK_TRACES,
    # "for performance reasons"; `cdk --debug` turns them back on.)
    app = cdk.App(
        builtin_cloud_formation_validation=False,
        post_cli_context={"aws:cdk:disable-creation-stack-traces": True},
        **props,
    )
    value = app.node.try_get_context(VALIDATE_TEMPLATES)
    if value not in (None, True, False, "true", "false"):
        raise ConfigError(f"context {VALIDATE_TEMPLATES}", [f"must be true or false (got {value!r})"])
    if value in (True, "true"):
        # The same plugin, with the same rules, that CDK would otherwise register by itself.
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())
    return app


def model_package_arns(app: cdk.App, config: PlatformConfig) -> dict[str, str]:
    """The approved version each model serves: ``-c model_package_arn.<model>=<arn>`` (what the delivery
    pipeline passes; ``none`` when the model has no approved version) over the config's
    ``models[].model_package_arn``."""
    packages: dict[str, str] = {}
    for model in config.models:
        key = f"model_package_arn.{model.name}"
        from_context = app.node.try_get_context(key)
        if from_context == NO_MODEL_PACKAGE:
            continue
        if from_context is not None and (not isinstance(from_context, str) or not MODEL_PACKAGE_ARN.fullmatch(from_context)):
            raise ConfigError(
                f"context {key}", ["must be a versioned model package ARN, arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>,"
                                   f" or {NO_MODEL_PACKAGE!r} (got {from_context!r})"]
            )
        arn = from_context or model.model_package_arn
        if arn:
            packages[model.name] = arn
    return packages


def main() -> int:
    try:
        app = new_app()
        path = app.node.try_get_context("config") or DEFAULT_CONFIG
        config = load_config(path)
        packages = model_package_arns(app, config)
        release = app.node.try_get_context(RELEASE_CONTEXT)
        build_platform(app, config, packages, config_path=path, release=release)
    except (ConfigError, PropsError) as err:
        print(err, file=sys.stderr)
        return 1
    for model in config.models:
        if release is None and model.name not in packages:
            print(
                f"model {model.name}: no approved model package yet (models[].model_package_arn or "
                f"-c model_package_arn.{model.name}=<arn>): no endpoint stacks for it",
                file=sys.stderr,
            )
    try:
        app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
    # Findings in a stage do not always interrupt synthesis (under the CDK CLI they are only
    # reported), so the report is the gate: any open finding fails the app, one line each.
    findings = open_findings(read_report(app.outdir))
    if findings:
        print(f"{len(findings)} unacknowledged finding(s); see {app.outdir}/validation-report.json", file=sys.stderr)
        for line in findings:
            print(line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
