"""Compliance tooling: the cdk-nag packs and the CloudFormation Guard rules every stage is checked
against, and the two ways a finding is acknowledged in this project.

Acknowledgements are always put on the narrowest construct that causes the finding, name the exact
finding (``AwsSolutions-IAM5[Resource::*]``, not ``AwsSolutions-IAM5``) and give a reason a security
reviewer can check.
"""

from __future__ import annotations

import functools
import json
import re
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnResource,
    IPolicyValidationContextBeta1,
    IPolicyValidationPluginBeta1,
    PolicyValidationPluginReportBeta1,
    PolicyViolatingResourceBeta1,
    PolicyViolationBeta1,
    Stack,
    Validations,
)
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import Construct, IConstruct

NAG_PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
"""The rule packs every stage must pass, by their finding prefix."""

IAM5 = "AwsSolutions::AwsSolutions-IAM5"
"""cdk-nag's wildcard-permission rule, which ``acknowledge_policy_resources`` acknowledges per resource."""

CONTROL_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
"""The packs that map controls to rules, and often share a rule name (``S3BucketReplicationEnabled``)."""


GUARD = "cdk-validator-cfnguard"
"""The CloudFormation Guard plugin's name: its findings are acknowledged as ``cdk-validator-cfnguard::<rule>``,
where ``<rule>`` is the Guard rule's name (``s3_bucket_object_lock_enabled_check``), not the control id
(``CT.S3.PR.9``) that its description starts with."""

GUARD_LOG_RETENTION_DAYS = 365
"""The shortest log-group retention Guard's CT.CLOUDWATCH.PR.2 accepts."""


def guard(rule: str) -> str:
    """The acknowledgement id of Guard rule ``rule``, e.g. ``cdk-validator-cfnguard::sqs_dlq_check``."""
    return f"{GUARD}::{rule}"


def in_packs(rule: str, reason: str, packs: tuple[str, ...] = CONTROL_PACKS) -> dict[str, str]:
    """The finding ``rule`` (e.g. ``S3BucketReplicationEnabled``) of each pack in ``packs``, with one
    reason, for ``acknowledge_each``: ``{"NIST.800.53.R5::NIST.800.53.R5-<rule>": reason, ...}``."""
    return {f"{pack}::{pack}-{rule}": reason for pack in packs}


def add_compliance_checks(scope: Construct, *, guard: bool = True) -> None:
    """Run the AwsSolutions, NIST 800-53 R5, HIPAA Security and PCI DSS 3.2.1 packs, and CloudFormation
    Guard with the Control Tower proactive controls, on ``scope``.

    ``scope`` must be an ``App`` or a ``Stage``. Findings that are not acknowledged fail synthesis. Guard
    runs its bundled ``cfn-guard`` binary over every template of ``scope`` (nested stages included), so
    register it on the app, not on each stage.

    ``guard``: also run CloudFormation Guard. Default: ``True``. Guard costs many times what the four packs
    cost together (docs/security.md), so the platform's app runs it only when the synthesis asks for
    validation (``-c validate_templates=true``), as the test suite and the delivery pipeline do; the
    cdk-nag packs run in every synthesis.
    """
    Validations.of(scope).add_plugins(
        AwsSolutionsChecks(scope),
        NIST80053R5Checks(scope),
        HIPAASecurityChecks(scope),
        PCIDSS321Checks(scope),
        *([_GuardForTheTypesPresent()] if guard else []),
    )


@functools.cache
def _guard_rule_types() -> dict[str, frozenset[str]]:
    """Each bundled Control Tower Guard rule (its file name, as ``disabled_rules`` names it) and the
    resource types it selects, read from the plugin's own package."""
    import cdklabs.cdk_validator_cfnguard as package

    (archive,) = Path(package.__file__).parent.joinpath("_jsii").glob("*.tgz")
    rules: dict[str, frozenset[str]] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and "/rules/control-tower/cfn-guard/" in member.name and member.name.endswith(".guard"):
                text = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                rules[Path(member.name).stem] = frozenset(re.findall(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", text))
    return rules


@jsii.implements(IPolicyValidationPluginBeta1)
class _GuardForTheTypesPresent:
    """CloudFormation Guard with the Control Tower rules (``CfnGuardValidator``), each rule run only on the
    templates that hold a resource type it selects, and shown only the resources of its types.

    ``cfn-guard`` evaluates every rule it is given against every template it is given, and a rule costs
    time in proportion to the whole template, even when no resource of the template has a type the rule
    selects (~8 ms per rule on the platform's 75 KB delivery template). A Guard rule selects resources by
    ``Type``, and where it follows a reference to another resource it checks that resource's ``Type`` too
    (or only that the logical id exists). So the rules are run in groups of those that select the same
    types; each group once (one ``cfn-guard`` process), on a copy of each template that holds one of those
    types, in which every other resource is reduced to its ``Type``. The reports are merged (success if
    every group succeeded, the violations of all), with each violation pointing at its original
    template, so findings and acknowledgements are Guard's own (``cdk-validator-cfnguard::<rule>``), as if
    one run of every rule had checked the app. The rules are chosen when the templates exist (at
    validation), so a resource type added later is checked by every rule that selects it."""

    def __init__(self) -> None:
        self._all_rules = _cfn_guard_validator()

    @property
    def name(self) -> str:
        return GUARD

    @property
    def version(self) -> str | None:
        return self._all_rules.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._all_rules.rule_ids

    def validate(self, context: IPolicyValidationContextBeta1) -> PolicyValidationPluginReportBeta1:
        rules = _guard_rule_types()
        templates = {path: json.loads(Path(path).read_text(encoding="utf-8")) for path in context.template_paths}
        present = {resource.get("Type") for template in templates.values() for resource in (template.get("Resources") or {}).values()}
        groups: dict[frozenset[str], list[str]] = {}  # the present types some rules select -> those rules
        for rule, types in rules.items():
            if types & present:
                groups.setdefault(frozenset(types & present), []).append(rule)
        success, violations = True, []
        with tempfile.TemporaryDirectory(prefix="cfn-guard-") as workdir:
            for number, (types, selected) in enumerate(groups.items()):
                originals = _reduced_templates(templates, types, Path(workdir, str(number)))
                report = _cfn_guard_validator(disabled_rules=sorted(rules.keys() - set(selected))).validate(
                    _Templates(context.app_construct, list(originals))
                )
                success = success and report.success
                violations += [_in_templates(violation, originals) for violation in report.violations]
        return PolicyValidationPluginReportBeta1(success=success, violations=violations)


def _cfn_guard_validator(**props: Any) -> Any:
    """``CfnGuardValidator`` with the Control Tower rules. Imported here, when Guard runs: loading the
    plugin's package into jsii's runtime costs every synthesis ~30 ms, and most do not run Guard."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    return CfnGuardValidator(control_tower_rules_enabled=True, **props)


def _reduced_templates(templates: Mapping[str, dict[str, Any]], types: frozenset[str], directory: Path) -> dict[str, str]:
    """Write a copy of each template that holds a resource of ``types`` into ``directory``, every other
    resource reduced to its ``Type`` (its logical id stays, for rules that check a reference exists).
    Returns each copy's path -> the original template's path."""
    directory.mkdir()
    originals: dict[str, str] = {}
    for number, (path, template) in enumerate(templates.items()):
        resources = template.get("Resources") or {}
        if any(resource.get("Type") in types for resource in resources.values()):
            copy = directory / f"{number}.template.json"
            reduced = {
                logical_id: resource if resource.get("Type") in types else {"Type": resource.get("Type")}
                for logical_id, resource in resources.items()
            }
            copy.write_text(json.dumps({**template, "Resources": reduced}), encoding="utf-8")
            originals[str(copy)] = path
    return originals


def _in_templates(violation: PolicyViolationBeta1, originals: Mapping[str, str]) -> PolicyViolationBeta1:
    """``violation``, found in a reduced copy, as found in the original templates."""
    return PolicyViolationBeta1(
        rule_name=violation.rule_name,
        description=violation.description,
        fix=violation.fix,
        rule_metadata=violation.rule_metadata,
        severity=violation.severity,
        violating_resources=[
            PolicyViolatingResourceBeta1(
                resource_logical_id=resource.resource_logical_id,
                locations=resource.locations,
                template_path=originals.get(resource.template_path, resource.template_path),
            )
            for resource in violation.violating_resources
        ],
    )


@jsii.implements(IPolicyValidationContextBeta1)
class _Templates:
    """A validation context of some templates, for one ``cfn-guard`` run."""

    def __init__(self, app_construct: IConstruct, template_paths: list[str]) -> None:
        self._app_construct = app_construct
        self._template_paths = template_paths

    @property
    def app_construct(self) -> IConstruct:
        return self._app_construct

    @property
    def template_paths(self) -> list[str]:
        return self._template_paths


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with the reason it is acceptable."""
    acknowledge_each(construct, {finding: reason})


def acknowledge_each(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge several cdk-nag findings on one construct, each with its reason, in one call (each
    call to CDK is a round trip to jsii's Node process: one per construct, not one per finding)."""
    for finding, reason in reasons.items():
        if "-" not in finding or not reason.strip():
            raise ValueError(f"acknowledge: a finding id like 'AwsSolutions-S1' and a reason are required (got {finding!r})")
    if reasons:
        Validations.of(construct).acknowledge(*(Acknowledgment(id=finding, reason=reason) for finding, reason in reasons.items()))


def acknowledge_log_retention(log_group: IConstruct) -> None:
    """Acknowledge Guard's one-year retention control (CT.CLOUDWATCH.PR.2) on ``log_group`` (a ``LogGroup``
    or its ``CfnLogGroup``) when its retention is shorter; nothing otherwise, so no acknowledgement is stale."""
    days = getattr(_cfn_resource(log_group, "acknowledge_log_retention"), "retention_in_days", None)
    if isinstance(days, int) and days < GUARD_LOG_RETENTION_DAYS:
        acknowledge(
            log_group,
            guard("cloudwatch_log_group_retention_period_check"),
            f"Kept {days} days because the caller chose it: the platform does so only in its dev stage, whose "
            "logs come from test runs (log_retention_days); staging and prod keep a year or more.",
        )


def skip_checkov(resource: IConstruct, check_id: str, reason: str) -> None:
    """Record a checkov skip, with its reason, in a CloudFormation resource's metadata.

    ``resource`` is a ``CfnResource`` or an L2 construct whose default child is one.
    """
    cfn = _cfn_resource(resource, "skip_checkov")
    checkov = dict(cfn.get_metadata("checkov") or {})
    skips = [*checkov.get("skip", []), {"id": check_id, "comment": reason}]
    checkov["skip"] = skips
    cfn.add_metadata("checkov", checkov)


IAM_REFERENCE_MIN_REASON = 40
"""The shortest reason ``acknowledge_iam_reference`` accepts: long enough to say why AWS offers nothing narrower."""


def acknowledge_iam_reference(resource: IConstruct, finding_id: str, reason: str) -> None:
    """Acknowledge one finding of the IAM reference check (``tests/validators/iam_reference.py``) on the
    CloudFormation resource that holds the policy document, with the reason it is acceptable.

    ``finding_id`` is the finding's id, ``<kind>[<action>][<resource or condition key>]``, e.g.
    ``resource-star[sagemaker:ListModelPackages][*]``; resources are spelled as cdk-nag spells them
    (``<Bucket12AB.Arn>/*``). ``resource`` is a ``CfnResource`` or an L2 construct whose default child
    is one (a ``Policy``, ``ManagedPolicy``, ``Role``, ``Key``...).
    """
    if not re.fullmatch(r"[a-z-]+\[[^\]]*\]\[.+\]", finding_id):
        raise ValueError(f"acknowledge_iam_reference: a finding id like 'resource-star[s3:GetObject][*]' is required (got {finding_id!r})")
    if len(reason.strip()) < IAM_REFERENCE_MIN_REASON:
        raise ValueError(
            f"acknowledge_iam_reference: the reason for {finding_id} must have at least {IAM_REFERENCE_MIN_REASON} characters (got {reason!r})"
        )
    cfn = _cfn_resource(resource, "acknowledge_iam_reference")
    metadata = dict(cfn.get_metadata("iam-reference") or {})
    metadata["acknowledge"] = [*metadata.get("acknowledge", []), {"id": finding_id, "reason": reason}]
    cfn.add_metadata("iam-reference", metadata)


def ignore_cfn_lint(resource: IConstruct, rule: str, reason: str) -> None:
    """Tell cfn-lint to ignore one rule on one CloudFormation resource, recording why beside it.

    The reason goes into the resource's ``cfn-lint-reasons`` metadata, where a reviewer of the
    template (and the project's tests) can read it.
    """
    cfn = _cfn_resource(resource, "ignore_cfn_lint")
    config = dict((cfn.get_metadata("cfn-lint") or {}).get("config", {}))
    config["ignore_checks"] = [*config.get("ignore_checks", []), rule]
    cfn.add_metadata("cfn-lint", {"config": config})
    cfn.add_metadata("cfn-lint-reasons", {**(cfn.get_metadata("cfn-lint-reasons") or {}), rule: reason})


def _cfn_resource(resource: IConstruct, caller: str) -> CfnResource:
    """``resource`` itself, or the CloudFormation resource an L2 construct wraps."""
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{caller}: {resource.node.path} is not a CloudFormation resource")
    return cfn


def open_findings(report: dict[str, Any]) -> list[str]:
    """One line per violation a validation report still holds: plugin, rule, construct, description."""
    return [
        f"{plugin['pluginName']}: {violation['ruleName']} at {construct['constructPath']}: {violation['description'][:160]}"
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


def read_report(outdir: str | Path) -> dict[str, Any]:
    """The validation report of a synthesized assembly (empty when no plugin reported anything)."""
    path = Path(outdir) / "validation-report.json"
    return json.loads(path.read_text()) if path.exists() else {"pluginReports": []}


def nag_resource(stack: Stack, value: str) -> str:
    """How cdk-nag spells a policy resource in a finding id, e.g. ``Resource::<Bucket12AB.Arn>/*``.

    Literal ARNs stay as they are; references become ``<LogicalId.Attribute>``, ``<LogicalId>`` or
    ``<AWS::Region>`` inside the joined string.
    """
    (rendered,) = nag_resources(stack, [value])
    return rendered


def nag_resources(stack: Stack, values: Sequence[str]) -> list[str]:
    """``nag_resource`` of each value, resolved in one call to CDK (one jsii round trip for them all)."""
    return ["Resource::" + _render(resolved) for resolved in stack.resolve(list(values))] if values else []


def acknowledge_policy_resources(policy: IConstruct, rule: str, reasons: Mapping[str, str], *, stack: Stack | None = None) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions::AwsSolutions-IAM5``) on ``policy`` once per policy
    resource in ``reasons``, each with its reason. Keys are the resources as the policy has them
    (ARNs, tokens included, or ``*``); they are spelled as cdk-nag spells them, all in one call.
    ``stack``: the policy's stack, when the caller has it."""
    rendered = nag_resources(stack or Stack.of(policy), list(reasons))
    acknowledge_each(policy, {f"{rule}[{finding}]": reason for finding, reason in zip(rendered, reasons.values())})


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return re.sub(r"\$\{([^}]+)\}", r"<\1>", value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise ValueError(f"nag_resource: cannot render {value!r}")
