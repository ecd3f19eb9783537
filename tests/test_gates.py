"""Security gates over the synthesized default platform: cdk-nag (four packs), CloudFormation Guard
(Control Tower's proactive controls), cfn-lint and checkov, plus hermetic synthesis. Acknowledgements are held to the same bar as findings: each names one exact
finding of a known pack, carries a real reason, and suppresses something (no stale acknowledgements)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from mlops_constructs.compliance import GUARD, NAG_PACKS, acknowledge, add_compliance_checks, guard
from mlops_constructs.compliance import open_findings
from tests.conftest import CDK_CONTEXT, REPO, SynthesizedPlatform

ACK_KEY = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY


def our_acknowledgements(platform: SynthesizedPlatform) -> list[tuple[str, str, str]]:
    """(construct path, finding id, reason) for every nag and Guard acknowledgement the project recorded."""
    found = []
    roots = [*platform.stages.values(), *([platform.delivery] if platform.delivery is not None else [])]
    for root in roots:
        for construct in root.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == ACK_KEY:
                    for finding, reason in entry.data.items():
                        if finding.split("::")[0] in (*NAG_PACKS, GUARD):
                            found.append((construct.node.path, finding, reason))
    return found


def test_no_unacknowledged_findings(platform: SynthesizedPlatform) -> None:
    assert open_findings(platform.report) == []
    reports = {p["pluginName"]: p for p in platform.report["pluginReports"]}
    assert set(reports) == {*NAG_PACKS, GUARD, "CloudFormation Validate"}
    for name in (*NAG_PACKS, GUARD):  # each ran, passed and acknowledged something
        assert reports[name]["conclusion"] == "success" and reports[name]["violations"] == [], name
        assert reports[name]["suppressedViolations"], name


def test_guard_ran_on_every_template_and_its_key_policy_control_holds(platform: SynthesizedPlatform) -> None:
    """Guard's report is in the suite's synthesis, its findings are on every kind of stack, and the one
    control fixed rather than acknowledged (CT.KMS.PR.3, grants only for AWS resources) has no finding."""
    (report,) = [p for p in platform.report["pluginReports"] if p["pluginName"] == GUARD]
    assert report["conclusion"] == "success" and report["violations"] == []
    suppressed = report["suppressedViolations"]
    templates = {c["cloudFormationResource"]["templatePath"] for s in suppressed for c in s["violatingConstructs"]}
    assert "Delivery.template.json" in templates and {t.split("/")[0] for t in templates} >= {"assembly-Dev", "assembly-Staging", "assembly-Prod"}
    assert "kms_create_grant_aws_service_check" not in {s["ruleName"] for s in suppressed}
    keys = [r for t in platform.templates.values() for r in t["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    # per stage: the flow logs', the store's, the endpoint's alarms' keys, and in staging and prod (monitoring.stages)
    # its drift checks' key; dev's registry and training keys of each model; the delivery pipeline's and the release
    # tooling's; lead-scoring's batch runs' in staging and prod; the inference API's log key in staging and prod;
    # lead-scoring's drift checks' and its runs' shared notification topic's keys in staging and prod
    assert len(keys) == 3 * 3 + 2 + 2 * 2 + 1 + 1 + 2 + 2 + 2 * 2
    for key in keys:
        assert {"Sid": "GrantsOnlyForAwsResources", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:CreateGrant",
                "Resource": "*", "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}}
                } in key["Properties"]["KeyPolicy"]["Statement"]


def test_every_acknowledgement_is_exact_reasoned_and_used(platform: SynthesizedPlatform) -> None:
    acknowledgements = our_acknowledgements(platform)
    assert acknowledgements, "the platform records its acknowledgements"
    used = {
        (s["acknowledgedAt"], s["acknowledgedId"])
        for plugin in platform.report["pluginReports"]
        for s in plugin.get("suppressedViolations", [])
    }
    assert any(finding.startswith(f"{GUARD}::") for _, finding, _ in acknowledgements)
    for path, finding, reason in acknowledgements:
        pack, rule = finding.split("::", 1)
        if pack == GUARD:  # a Guard rule's name, e.g. sqs_dlq_check, not its control id (CT.SQS.PR.1)
            assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+_check", rule), finding
        else:
            # a rule of the pack, e.g. AwsSolutions-IAM5, with the one finding it acknowledges where the rule has several
            assert re.fullmatch(rf"{re.escape(pack)}-[A-Za-z0-9]+(\[[^\]]+\])?", rule), finding
        assert len(reason) >= 40, (path, finding, reason)
        assert (path, finding) in used, f"stale acknowledgement: {finding} at {path} suppresses nothing"


def test_the_gate_fails_an_insecure_stack_in_every_pack(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Insecure", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    s3.Bucket(stack, "Plain", encryption=s3.BucketEncryption.UNENCRYPTED)
    sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    add_compliance_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failing = {p["pluginName"] for p in report["pluginReports"] if p["violations"]}
    assert {*NAG_PACKS, GUARD} <= failing
    (guard_report,) = [p for p in report["pluginReports"] if p["pluginName"] == GUARD]
    caught = {(v["ruleName"], c["constructPath"]) for v in guard_report["violations"] for c in v["violatingConstructs"]}
    assert {("sqs_queue_encrypted_check", "Insecure/Queue/Resource"), ("s3_bucket_default_encryption_kms_check", "Insecure/Plain/Resource")} <= caught


def test_without_guard_only_the_nag_packs_run(tmp_path: Path) -> None:
    """``add_compliance_checks(app, guard=False)``, as the platform's app does in a plain synthesis: the
    packs still fail an unencrypted queue, which Guard would also fail (sqs_queue_encrypted_check); Guard does not run."""
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Insecure", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    add_compliance_checks(app, guard=False)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    ran = {p["pluginName"] for p in report["pluginReports"]}
    assert "AwsSolutions" in ran and GUARD not in ran, ran
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    caught = {(v["ruleName"], c["constructPath"]) for v in nag["violations"] for c in v["violatingConstructs"]}
    assert ("AwsSolutions-SQS2", "Insecure/Queue/Resource") in caught, caught  # the queue without server-side encryption


def test_guard_runs_every_rule_for_the_types_present_and_skips_only_rules_that_cannot_match(tmp_path: Path) -> None:
    """Guard is given only the rules that select a type the templates contain: a type the platform never
    uses (a DynamoDB table) is still checked, by its own rules, when a template has one; and no rule that
    selects a present type is ever skipped."""
    from aws_cdk import aws_dynamodb as dynamodb

    from mlops_constructs.compliance import _guard_rule_types

    rules = _guard_rule_types()
    assert len(rules) > 200 and all(rules.values())  # every bundled rule selects at least one type
    assert any("AWS::DynamoDB::Table" in types for types in rules.values())
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Tables", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    dynamodb.CfnTable(stack, "Table", key_schema=[dynamodb.CfnTable.KeySchemaProperty(attribute_name="id", key_type="HASH")],
                      attribute_definitions=[dynamodb.CfnTable.AttributeDefinitionProperty(attribute_name="id", attribute_type="S")],
                      billing_mode="PAY_PER_REQUEST")
    add_compliance_checks(app)
    with contextlib.suppress(RuntimeError):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (guard_report,) = [p for p in report["pluginReports"] if p["pluginName"] == GUARD]
    caught = {(v["ruleName"], c["constructPath"]) for v in guard_report["violations"] for c in v["violatingConstructs"]}
    # the table's own rules, and nothing else: it has no point-in-time recovery and no KMS encryption
    assert caught == {("dynamodb_table_pitr_enabled_check", "Tables/Table"), ("dynamodb_table_encrypted_kms_check", "Tables/Table")}, caught


def test_guard_findings_are_acknowledged_per_construct_through_cdk(tmp_path: Path) -> None:
    """CDK's own acknowledgement suppresses a Guard finding, as it does cdk-nag's: on the construct
    acknowledged (and its children) only, reported with the id and reason given."""
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Queues", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    acknowledged = sqs.Queue(stack, "Acknowledged", encryption=sqs.QueueEncryption.SQS_MANAGED)
    sqs.Queue(stack, "Open", encryption=sqs.QueueEncryption.SQS_MANAGED)
    reason = "A queue without a dead-letter queue, acknowledged to show that the acknowledgement works."
    acknowledge(acknowledged, guard("sqs_dlq_check"), reason)
    cdk.Validations.of(app).add_plugins(CfnGuardValidator())
    try:  # whether an open finding raises here depends on how CDK sees the app run; the report is the gate
        app.synth()
    except RuntimeError as err:
        assert "ValidationFailed" in str(err)
    (report,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    assert report["pluginName"] == GUARD
    assert [(v["ruleName"], c["constructPath"]) for v in report["violations"] for c in v["violatingConstructs"]] == [
        ("sqs_dlq_check", "Queues/Open/Resource")
    ]
    assert [(s["acknowledgedId"], s["acknowledgedAt"], s["reason"]) for s in report["suppressedViolations"]] == [
        (guard("sqs_dlq_check"), "Queues/Acknowledged", reason)
    ]


def cfn_lint(templates: list[Path]) -> list[str]:
    """cfn-lint's findings for ``templates``, each ``<file name>: <finding>``: one run over all of them, as
    ``cfn-lint t1 t2 ...`` does, which loads its rules once (``lint_file`` loads them again for every template)."""
    from cfnlint.api import ManualArgs, lint_by_config

    return [f"{Path(m.filename).name}: {m}" for m in lint_by_config(ManualArgs(templates=[str(t) for t in templates]))]


def test_cfn_lint_reports_nothing(platform: SynthesizedPlatform) -> None:
    templates = sorted(platform.outdir.rglob("*.template.json"))
    # 3 stages x (network, storage, churn's endpoint in its release stage) + each model's registry and training
    # in dev + lead-scoring's batch stack in staging and prod + the delivery pipeline beside the stages + the release
    # tooling and the two stacks of the models' release pipelines
    assert len(templates) == len(platform.templates) == 3 * 3 + 2 * 2 + 2 + 1 + 1 + 2
    assert cfn_lint(templates) == []


def test_cfn_lint_reports_each_templates_findings(tmp_path: Path) -> None:
    """The same run over several templates reports a finding in any of them, with its file."""
    good = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    bad = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "forever"}}}}
    paths = []
    for name, template in (("a", good), ("b", bad), ("c", good)):
        paths.append(tmp_path / f"{name}.template.json")
        paths[-1].write_text(json.dumps(template))
    findings = cfn_lint(paths)
    assert findings and all(f.startswith("b.template.json: ") for f in findings), findings
    assert any("forever" in f for f in findings), findings


def test_every_cfn_lint_ignore_has_a_reason(platform: SynthesizedPlatform) -> None:
    ignores = 0
    for path, template in platform.templates.items():
        for logical_id, resource in template["Resources"].items():
            metadata = resource.get("Metadata", {})
            for rule in metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []):
                ignores += 1
                assert len(metadata.get("cfn-lint-reasons", {}).get(rule, "")) >= 40, (path, logical_id, rule)
    assert ignores > 0


def checkov_binary() -> str:
    binary = os.environ.get("CHECKOV") or shutil.which("checkov") or str(REPO / ".venv-checkov" / "bin" / "checkov")
    if not Path(binary).exists():
        pytest.fail(f"checkov is not installed at {binary}: run `make setup`")
    return binary


@pytest.mark.gates
def test_checkov_has_no_failed_check_and_every_skip_is_explained(platform: SynthesizedPlatform) -> None:
    result = subprocess.run(
        [checkov_binary(), "-d", str(platform.outdir), "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    reports: Any = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    skipped = [c for r in reports for c in r["results"].get("skipped_checks", [])]
    assert skipped, "the skips the code records are seen by checkov"
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "")) >= 40, check["check_id"]
    assert sum(r["summary"]["passed"] for r in reports) > 100


def test_synthesis_is_hermetic(platform: SynthesizedPlatform) -> None:
    """No context lookups (nothing 'missing' for the CLI to fetch), no error annotations."""
    manifests = list(platform.outdir.glob("**/manifest.json"))
    # the app, its three stages, each stage's release stage of churn, staging's and prod's of lead-scoring, dev's stage
    # of the models' stacks, the releases stage
    assert len(manifests) == 1 + 3 + 3 + 2 + 1 + 1
    for manifest in manifests:
        assert "missing" not in json.loads(manifest.read_text()), manifest
    for metadata in platform.outdir.rglob("*.metadata.json"):
        assert "aws:cdk:error" not in metadata.read_text(), metadata
    assert not (REPO / "cdk.context.json").exists()
