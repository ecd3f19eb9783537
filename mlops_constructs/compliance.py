"""Compliance tooling: the cdk-nag packs every stage is checked against, and the two ways a finding
is acknowledged in this project.

Acknowledgements are always put on the narrowest construct that causes the finding, name the exact
finding (``AwsSolutions-IAM5[Resource::*]``, not ``AwsSolutions-IAM5``) and give a reason a security
reviewer can check.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import Construct, IConstruct

NAG_PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
"""The rule packs every stage must pass, by their finding prefix."""


def add_compliance_checks(scope: Construct) -> None:
    """Run the AwsSolutions, NIST 800-53 R5, HIPAA Security and PCI DSS 3.2.1 packs on ``scope``.

    ``scope`` must be an ``App`` or a ``Stage``. Findings that are not acknowledged fail synthesis.
    """
    Validations.of(scope).add_plugins(
        AwsSolutionsChecks(scope),
        NIST80053R5Checks(scope),
        HIPAASecurityChecks(scope),
        PCIDSS321Checks(scope),
    )


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with the reason it is acceptable."""
    if "-" not in finding or not reason.strip():
        raise ValueError(f"acknowledge: a finding id like 'AwsSolutions-S1' and a reason are required (got {finding!r})")
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def skip_checkov(resource: IConstruct, check_id: str, reason: str) -> None:
    """Record a checkov skip, with its reason, in a CloudFormation resource's metadata.

    ``resource`` is a ``CfnResource`` or an L2 construct whose default child is one.
    """
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"skip_checkov: {resource.node.path} is not a CloudFormation resource")
    checkov = dict(cfn.get_metadata("checkov") or {})
    skips = [*checkov.get("skip", []), {"id": check_id, "comment": reason}]
    checkov["skip"] = skips
    cfn.add_metadata("checkov", checkov)


def ignore_cfn_lint(resource: IConstruct, rule: str, reason: str) -> None:
    """Tell cfn-lint to ignore one rule on one CloudFormation resource, recording why beside it.

    The reason goes into the resource's ``cfn-lint-reasons`` metadata, where a reviewer of the
    template (and the project's tests) can read it.
    """
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"ignore_cfn_lint: {resource.node.path} is not a CloudFormation resource")
    config = dict((cfn.get_metadata("cfn-lint") or {}).get("config", {}))
    config["ignore_checks"] = [*config.get("ignore_checks", []), rule]
    cfn.add_metadata("cfn-lint", {"config": config})
    cfn.add_metadata("cfn-lint-reasons", {**(cfn.get_metadata("cfn-lint-reasons") or {}), rule: reason})
