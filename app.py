#!/usr/bin/env python3
"""The platform's CDK app: every stage of one configuration file.

    npx cdk synth                          # config/default.yaml
    npx cdk synth -c config=config/acme.yaml
    npx cdk synth -c validate_templates=true   # also CloudFormation Guard and CDK's template validation
    npx cdk synth -c release=churn -c model_package_arn.churn=<arn>   # one model's release stages only
    npx cdk synth -c synth_workers=0           # every stage in this process (default: auto, see stacks/parallel.py)

The cdk-nag packs run in every synthesis. CloudFormation Guard and CDK's built-in template validation
(cfn-lint's rules) run only when the synthesis asks for validation, with ``-c validate_templates=true``:
the delivery pipeline's synth step does, for the configuration it deploys, and the test suite
(``make test``) synthesizes every platform it checks with both on. A plain local ``cdk synth`` skips them
(see ``new_app`` and ``validation_requested``).

With many models (``stacks.parallel.PARALLEL_FROM_MODELS``) and two CPUs or more, the dev and staging stages are
synthesized by two more processes of this app (``app.py --stage=<stage>``), while this one builds the rest; the
cloud assembly is the same (``stacks/parallel.py``). Not when the synthesis asks for validation, nor for one
model's release.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii_launcher
from app_settings import exit_after_synthesis, new_bare_app, tune_for_one_synthesis

if __name__ == "__main__":  # a synthesis that exits once done; not when a test imports the app
    tune_for_one_synthesis()  # before the imports below, which create most of the objects the collector would scan

# Before aws_cdk's import starts jsii's kernel. A process that synthesizes one stage for another (--stage=<stage>,
# stacks.parallel) preloads what that stage's process loaded last time.
_STAGE = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--stage=")), None)
jsii_launcher.configure(preload=f"app-{_STAGE}" if (_STAGE or "").isalpha() else "app")

import aws_cdk as cdk  # noqa: E402

from mlops_constructs.compliance import open_findings, read_report  # noqa: E402
from mlops_constructs.config import MODEL_PACKAGE_ARN, ConfigError, PlatformConfig, load_config  # noqa: E402
from mlops_constructs.delivery import NO_MODEL_PACKAGE  # noqa: E402
from mlops_constructs.errors import PropsError  # noqa: E402
from stacks import STAGE_IDS, build_platform  # noqa: E402
from stacks.parallel import STAGE_ARGUMENT, StageProcess, StageProcessError, build_stage, merge_outputs, worker_stages  # noqa: E402
from stacks.names import VALIDATE_TEMPLATES  # noqa: E402
from stacks.release_stack import RELEASE_CONTEXT  # noqa: E402

DEFAULT_CONFIG = "config/default.yaml"


def new_app(**props: Any) -> cdk.App:
    """The app, with CDK's built-in template validation only when the synthesis asks for validation
    (``validation_requested``); ``main`` passes the same answer to ``build_platform`` for CloudFormation
    Guard. The cdk-nag packs run on every synthesis (``build_platform`` adds them).

    Template validation applies cfn-lint's rules to every template, and Guard the Control Tower controls:
    each costs more per model than all four cdk-nag packs. ``make test`` runs both on every platform it
    synthesizes (with cfn-lint and checkov), and the delivery pipeline's synth step asks for them on the
    configuration it deploys; a local synthesis skips them unless asked. CloudFormation validates each
    template's properties again before it creates or updates a stack.

    ``props`` go to ``cdk.App`` (``context``, ``outdir``...), for tests; the CLI's context comes first.
    """
    app = new_bare_app(**props)  # no construct creation stack traces either (app_settings)
    if validation_requested(app):
        # The same plugin, with the same rules, that CDK would otherwise register by itself.
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())
    return app


def validation_requested(app: cdk.App) -> bool:
    """Whether the synthesis asks for validation, ``-c validate_templates=true`` (or ``false``, the default):
    CDK's built-in template validation (``new_app``) and CloudFormation Guard (``build_platform``'s
    ``validate``). The one place that reads the context key."""
    value = app.node.try_get_context(VALIDATE_TEMPLATES)
    if value not in (None, True, False, "true", "false"):
        raise ConfigError(f"context {VALIDATE_TEMPLATES}", [f"must be true or false (got {value!r})"])
    return value in (True, "true")


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


def main(argv: Sequence[str] = ()) -> int:
    """Synthesize the configuration's platform; with ``--stage=<stage>`` in ``argv``, only that stage, for the app's
    process that started this one (``stacks.parallel``: with many models, dev and staging are synthesized in
    processes of their own, context ``synth_workers``)."""
    stage = None
    for arg in argv:
        if not arg.startswith(STAGE_ARGUMENT) or arg.removeprefix(STAGE_ARGUMENT) not in STAGE_IDS:
            print(f"app.py: unknown argument {arg!r}: the only one is {STAGE_ARGUMENT}<{'|'.join(STAGE_IDS)}>", file=sys.stderr)
            return 2
        stage = arg.removeprefix(STAGE_ARGUMENT)
    processes: list[StageProcess] = []
    # Stopped (a cancelled build, `timeout`): end through the `finally` below, which stops the stage processes.
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return _synthesize(stage, processes)
    finally:
        for process in processes:
            process.close()
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _synthesize(stage: str | None, processes: list[StageProcess]) -> int:
    """``main``'s work; ``processes`` receives the stage processes started, which ``main`` closes."""
    try:
        app = new_app()
        path = app.node.try_get_context("config") or DEFAULT_CONFIG
        config = load_config(path)
        packages = model_package_arns(app, config)
        release = app.node.try_get_context(RELEASE_CONTEXT)
        validate = validation_requested(app)
        if stage is not None:
            build_stage(app, config, stage, STAGE_IDS[stage], packages, validate=validate)
        else:
            command = [sys.executable, *(["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []), str(Path(__file__).resolve())]
            StageProcess.remove_leftovers(app.outdir)
            for each in worker_stages(app, config, release, validate=validate):
                processes.append(StageProcess(each, STAGE_IDS[each], app.outdir, command))
            build_platform(app, config, packages, config_path=path, release=release, validate=validate,
                           stage_processes={process.stage: process for process in processes})
    except (ConfigError, PropsError, StageProcessError) as err:
        print(err, file=sys.stderr)
        return 1
    for model in config.models if stage is None and release is None else ():
        if model.name not in packages:
            print(
                f"model {model.name}: no approved model package yet (models[].model_package_arn or "
                f"-c model_package_arn.{model.name}=<arn>): no endpoint or batch stacks for it",
                file=sys.stderr,
            )
    try:
        app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
    if stage is not None:
        return 0  # the app's process merges this stage's report into its own, and gates on that
    merge_outputs(app.outdir, processes)
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
    exit_after_synthesis(main(sys.argv[1:]))  # main's exceptions end the process as usual
