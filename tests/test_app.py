"""The platform's app (``app.new_app``): CDK's built-in template validation runs in the test suite's
synthesis always and in the app's only when ``-c validate_templates=true`` asks for it; the app records
no construct stack traces."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest

from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.config import ConfigError
from tests.conftest import CDK_CONTEXT, REPO, SynthesizedPlatform

PLUGIN = "CloudFormation Validate"


def _app(tmp_path: Path, **context: object) -> cdk.App:
    """``app.new_app()`` with cdk.json's context plus ``context``, as ``cdk synth -c key=value`` runs it."""
    from app import new_app

    return new_app(context={**CDK_CONTEXT, **context}, outdir=str(tmp_path))


def _synth_invalid_queue(app: cdk.App) -> list[str]:
    """Synthesize one queue whose retention period is not a number, and return the open findings."""
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties={"MessageRetentionPeriod": "one week"})
    try:
        app.synth()
    except RuntimeError as err:  # run in process, a failed validation also raises
        assert "ValidationFailed" in str(err)
    return [line for line in open_findings(read_report(app.outdir)) if line.startswith(f"{PLUGIN}:")]


def test_the_app_leaves_template_validation_to_the_tests_by_default(tmp_path: Path) -> None:
    assert _synth_invalid_queue(_app(tmp_path)) == []


@pytest.mark.parametrize("value", [True, "true"])
def test_validate_templates_turns_cdk_template_validation_on(tmp_path: Path, value: object) -> None:
    findings = _synth_invalid_queue(_app(tmp_path, validate_templates=value))
    assert findings and all("Probe/Queue" in line for line in findings), findings


def test_the_app_records_no_creation_stack_traces(tmp_path: Path) -> None:
    # From Python, CDK's traces hold only jsii's frames; recording them is time spent on nothing.
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Probe")
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue")
    app.synth()
    metadata = json.loads((tmp_path / "Probe.metadata.json").read_text())  # construct path -> entries
    types = {entry["type"] for entries in metadata.values() for entry in entries}
    assert "aws:cdk:logicalId" in types  # the resource's metadata is there, without its creation stack
    assert "aws:cdk:creationStack" not in types


def test_the_app_reports_no_usage_data_to_aws() -> None:
    # No AWS::CDK::Metadata resource (the CDK version and which constructs a stack uses) in the templates
    # the CLI synthesizes, and no construct properties recorded for it; the CLI's own telemetry is off
    # in the Makefile. cdk.json holds both settings, which the CLI passes to the app as context.
    settings = json.loads((REPO / "cdk.json").read_text())
    assert settings["versionReporting"] is False
    assert settings["context"]["@aws-cdk/core:enableAdditionalMetadataCollection"] is False


def test_validate_templates_accepts_only_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _app(tmp_path, validate_templates="yes")
    assert str(raised.value) == "context validate_templates: must be true or false (got 'yes')"


def test_the_suites_synthesis_ran_cdk_template_validation(platform: SynthesizedPlatform) -> None:
    # The suite synthesizes with CDK's default, validation on: its report holds the plugin, with the
    # one acknowledgement the platform makes for it (W3010 on the isolated subnets).
    reports = {plugin["pluginName"]: plugin for plugin in platform.report["pluginReports"]}
    assert PLUGIN in reports, sorted(reports)
    suppressed = {v["ruleName"] for v in reports[PLUGIN].get("suppressedViolations", [])}
    assert "W3010" in suppressed, suppressed
