"""What a cloud assembly asks of AWS's quotas: every figure a deployment could exceed, against the default.

    python -m mlops_constructs.quotas cdk.out            # a table; exit status 1 when a figure is over its budget

:data:`QUOTAS` is the table: each AWS default, where AWS documents it, and the platform's budget (80% of
the default, leaving room for what accounts already hold and for growth). :func:`measure` reads a
synthesized cloud assembly (``cdk.out``, with its nested stage assemblies) and returns, for each quota, the
largest figure found and where. The test suite checks its own platforms with it (``tests/test_quotas.py``);
``make bench`` reports it for 1 to 100 models (docs/performance.md).

Policy sizes are counted as IAM counts them, without whitespace, with each CloudFormation intrinsic that
remains (a reference to a resource of the stack) counted as :data:`INTRINSIC_CHARACTERS` characters, more
than any ARN or name the platform's references resolve to. Account-wide counts (roles, managed policies,
EventBridge rules) add what exists besides the assembly: the CDK bootstrap stack's roles and policies, and the
rules Step Functions manages on the default bus for each ``.sync`` integration used.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUDGET = 0.8
"""The share of each AWS default the platform may use."""
INTRINSIC_CHARACTERS = 128
"""What an unresolved intrinsic (other than a pseudo parameter or an id) counts for in a policy's size: more
than any ARN, name or id of the platform's references resolves to."""
ID_CHARACTERS = 40
"""What a resource id counts for: a subnet's (``subnet-`` and 17 hexadecimal digits) is the longest, 24."""
BOOTSTRAP_ROLES = 5
"""Roles of the CDK bootstrap stack (modern template) in each account: deploy, cfn-exec, lookup, file and image publishing."""
BOOTSTRAP_MANAGED_POLICIES = 0
"""Customer managed policies of the CDK bootstrap stack (its roles' policies are inline)."""


@dataclass(frozen=True)
class Quota:
    key: str
    what: str
    default: int
    scope: str  # "stack", "role", "policy", "account", "pipeline", "stage", "project"
    url: str

    @property
    def budget(self) -> int:
        return int(self.default * BUDGET)


QUOTAS: tuple[Quota, ...] = (
    Quota("cfn_resources", "resources per CloudFormation stack", 500, "stack",
          "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"),
    Quota("cfn_outputs", "outputs per CloudFormation stack", 200, "stack",
          "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"),
    Quota("cfn_template_bytes", "template size in bytes (uploaded through S3, as CDK does)", 1_000_000, "stack",
          "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"),
    Quota("iam_trust_policy", "characters of a role's trust policy", 2_048, "role",
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"),
    Quota("iam_inline_per_role", "characters of all inline policies of one role", 10_240, "role",
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"),
    Quota("iam_managed_policy", "characters of a managed policy", 6_144, "policy",
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"),
    Quota("iam_roles", "IAM roles per account", 1_000, "account",
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"),
    Quota("iam_managed_policies", "customer managed policies per account", 1_500, "account",
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"),
    Quota("eventbridge_rules", "EventBridge rules on an account's default event bus (per Region)", 300, "account",
          "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"),
    Quota("pipeline_actions", "actions per CodePipeline pipeline", 500, "pipeline",
          "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"),
    Quota("pipeline_stages", "stages per CodePipeline pipeline", 50, "pipeline",
          "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"),
    Quota("pipeline_stage_actions", "actions per stage of a CodePipeline pipeline", 50, "stage",
          "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"),
    Quota("buildspec_characters", "characters of a CodeBuild project's buildspec", 25_500, "project",
          "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codebuild-project-source.html"),
    # Step Functions logs through CloudWatch Logs' log delivery, which names each destination group in one
    # account-wide resource policy per Region, except groups under /aws/vendedlogs/, granted once by prefix
    # (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html).
    Quota("log_delivery_policy", "characters of the account's CloudWatch Logs resource policy for log deliveries (per Region)",
          5_120, "account", "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html"),
)
BY_KEY = {quota.key: quota for quota in QUOTAS}

# The longest value of each pseudo parameter (the partition aws-us-gov, a region name, the URL suffix amazonaws.com.cn).
_PSEUDO = {"AWS::Partition": 10, "AWS::AccountId": 12, "AWS::Region": 16, "AWS::URLSuffix": 16, "AWS::NoValue": 0, "AWS::StackName": 128}

# The log delivery policy: its statement without resources, one resource per named group, one for the /aws/vendedlogs/ prefix.
_LOG_POLICY_BASE = len('{"Version":"2012-10-17","Statement":[{"Sid":"AWSLogDeliveryWrite20150319","Effect":"Allow","Principal":'
                       '{"Service":["delivery.logs.amazonaws.com"]},"Action":["logs:CreateLogStream","logs:PutLogEvents"],'
                       '"Resource":[],"Condition":{"StringEquals":{"aws:SourceAccount":["123456789012"]},"ArnLike":'
                       '{"aws:SourceArn":["arn:aws:logs:us-east-1:123456789012:*"]}}}]}')
_VENDED = "/aws/vendedlogs/"


def _log_resource(group_name: str) -> int:
    """Characters of one group's entry: ``"arn:<partition>:logs:<region>:<account>:log-group:<name>:log-stream:*",``."""
    return len('"arn::logs:::log-group::log-stream:*",') + _PSEUDO["AWS::Partition"] + _PSEUDO["AWS::Region"] + 12 + len(group_name)


def _log_group_name(stack: _Stack, resources: dict[str, Any], machine: dict[str, Any]) -> str | None:
    """The name of the group a state machine logs to: its literal name, or the longest CloudFormation generates
    (``<stack name>-<logical id>-<12 characters>``); ``None`` when it does not log to a group of its stack."""
    for destination in ((machine.get("LoggingConfiguration") or {}).get("Destinations") or []):
        arn = (destination.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
        logical_id = arn["Fn::GetAtt"][0] if isinstance(arn, dict) and "Fn::GetAtt" in arn else None
        group = resources.get(logical_id) if logical_id else None
        if group is not None:
            name = (group.get("Properties") or {}).get("LogGroupName")
            return name if isinstance(name, str) else f"{stack.name}-{logical_id}-{'x' * 12}"
    return None


# Step Functions' optimized integrations that run a job to completion (.sync) follow it through one
# managed rule per job kind and account, on the default bus (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html).
_SYNC = re.compile(r"arn:[^:]*:states:::(?P<service>[a-z]+):(?P<api>\w+)\.sync")


@dataclass(frozen=True)
class Figure:
    """The largest value of one quota's figure in the assembly, and where."""

    quota: Quota
    value: int
    where: str

    @property
    def share(self) -> float:
        return self.value / self.quota.default

    @property
    def within_budget(self) -> bool:
        return self.value <= self.quota.budget


@dataclass(frozen=True)
class _Stack:
    name: str  # the artifact id, e.g. DevNetwork50E7350E
    account: str
    template: dict[str, Any]
    template_path: Path


def _stacks(outdir: Path) -> Iterator[_Stack]:
    """Every stack of the assembly at ``outdir`` and of its nested assemblies."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "cdk:cloud-assembly":
            yield from _stacks(outdir / artifact["properties"]["directoryName"])
        elif artifact.get("type") == "aws:cloudformation:stack":
            account = artifact.get("environment", "aws://unknown/unknown").removeprefix("aws://").split("/")[0]
            path = outdir / artifact["properties"]["templateFile"]
            yield _Stack(artifact_id, account, json.loads(path.read_text(encoding="utf-8")), path)


def _size(value: Any) -> int:
    """Characters of a policy document as IAM counts them (no whitespace), each intrinsic as INTRINSIC_CHARACTERS."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            key, argument = next(iter(value.items()))
            if key == "Fn::Join":
                separator, parts = argument
                return 2 + sum(_inner(part) for part in parts) + len(separator) * max(len(parts) - 1, 0)
            return 2 + _estimate(key, argument)
        return 2 + sum(len(json.dumps(k)) + 1 + _size(v) for k, v in value.items()) + max(len(value) - 1, 0)
    if isinstance(value, list):
        return 2 + sum(_size(v) for v in value) + max(len(value) - 1, 0)
    return len(json.dumps(value, separators=(",", ":")))


def _inner(part: Any) -> int:
    """A part of an Fn::Join: a literal's characters without quotes, an intrinsic's estimate."""
    if isinstance(part, str):
        return len(json.dumps(part)[1:-1])
    if isinstance(part, dict) and len(part) == 1:
        key, argument = next(iter(part.items()))
        return _estimate(key, argument)
    return INTRINSIC_CHARACTERS


def _estimate(key: str, argument: Any) -> int:
    """The characters an intrinsic resolves to, at most: exact for the pseudo parameters; :data:`ID_CHARACTERS`
    for an id (a security group's, or another stack's output that is not an ARN: the VPC's and subnets'); and
    :data:`INTRINSIC_CHARACTERS` for anything else (ARNs, names, URLs)."""
    if key == "Ref" and isinstance(argument, str) and argument in _PSEUDO:
        return _PSEUDO[argument]
    if key == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2 and argument[1] in ("GroupId", "Id", "KeyId"):
        return ID_CHARACTERS
    if key in ("Fn::GetStackOutput", "Fn::ImportValue"):
        output = json.dumps(argument)
        return INTRINSIC_CHARACTERS if "Arn" in output else ID_CHARACTERS
    return INTRINSIC_CHARACTERS


def _buildspec(stack: _Stack, project: dict[str, Any]) -> int:
    spec = project.get("Properties", {}).get("Source", {}).get("BuildSpec")
    if isinstance(spec, str) and re.fullmatch(r"buildspec-[\w-]+\.ya?ml", spec):
        # CDK Pipelines' asset projects name a buildspec file of the cloud assembly (publish_assets_in_parallel=False).
        for directory in (stack.template_path.parent, stack.template_path.parent.parent):
            if (directory / spec).exists():
                return len((directory / spec).read_text(encoding="utf-8"))
    if isinstance(spec, str):
        return len(spec)
    return _size(spec) - 2 if spec is not None else 0


def measure(outdir: str | Path) -> list[Figure]:
    """The largest figure of each quota in the cloud assembly at ``outdir``, in :data:`QUOTAS` order."""
    best: dict[str, Figure] = {}

    def see(key: str, value: int, where: str) -> None:
        if key not in best or value > best[key].value:
            best[key] = Figure(BY_KEY[key], value, where)

    roles: dict[str, int] = defaultdict(lambda: BOOTSTRAP_ROLES)
    managed: dict[str, int] = defaultdict(lambda: BOOTSTRAP_MANAGED_POLICIES)
    rules: dict[str, int] = defaultdict(int)
    sync_rules: dict[str, set[str]] = defaultdict(set)
    log_groups: dict[str, set[str]] = defaultdict(set)  # account -> the groups its state machines log to
    for stack in _stacks(Path(outdir)):
        resources = stack.template.get("Resources", {}) or {}
        see("cfn_resources", len(resources), stack.name)
        see("cfn_outputs", len(stack.template.get("Outputs", {}) or {}), stack.name)
        see("cfn_template_bytes", stack.template_path.stat().st_size, stack.name)
        inline: dict[str, int] = defaultdict(int)
        for logical_id, resource in resources.items():
            kind, props = resource.get("Type"), resource.get("Properties", {}) or {}
            where = f"{stack.name}/{logical_id}"
            if kind == "AWS::IAM::Role":
                roles[stack.account] += 1
                see("iam_trust_policy", _size(props.get("AssumeRolePolicyDocument", {})), where)
                for policy in props.get("Policies", []) or []:
                    inline[logical_id] += _size(policy.get("PolicyDocument", {}))
            elif kind == "AWS::IAM::Policy":
                for role in props.get("Roles", []) or []:
                    target = role["Ref"] if isinstance(role, dict) and "Ref" in role else json.dumps(role)
                    inline[target] += _size(props.get("PolicyDocument", {}))
            elif kind == "AWS::IAM::ManagedPolicy":
                managed[stack.account] += 1
                see("iam_managed_policy", _size(props.get("PolicyDocument", {})), where)
            elif kind == "AWS::Events::Rule" and props.get("EventBusName") in (None, "default"):
                rules[stack.account] += 1
            elif kind == "AWS::StepFunctions::StateMachine":
                sync_rules[stack.account] |= {f"{m['service']}:{m['api']}" for m in _SYNC.finditer(json.dumps(props.get("DefinitionString", "")))}
                group_name = _log_group_name(stack, resources, props)
                if group_name is not None:
                    log_groups[stack.account].add(group_name)
            elif kind == "AWS::CodePipeline::Pipeline":
                stages = props.get("Stages", []) or []
                see("pipeline_stages", len(stages), where)
                see("pipeline_actions", sum(len(s.get("Actions", [])) for s in stages), where)
                for stage in stages:
                    see("pipeline_stage_actions", len(stage.get("Actions", [])), f"{where}/{stage.get('Name')}")
            elif kind == "AWS::CodeBuild::Project":
                see("buildspec_characters", _buildspec(stack, resource), where)
        for role, size in inline.items():
            see("iam_inline_per_role", size, f"{stack.name}/{role}")
    for account, count in roles.items():
        see("iam_roles", count, f"account {account} (with {BOOTSTRAP_ROLES} CDK bootstrap roles)")
    for account, count in managed.items():
        see("iam_managed_policies", count, f"account {account}")
    for account in set(rules) | set(sync_rules):
        see("eventbridge_rules", rules[account] + len(sync_rules[account]),
            f"account {account} ({len(sync_rules[account])} managed by Step Functions)")
    for account, names in log_groups.items():
        named = [n for n in names if not n.startswith(_VENDED)]
        size = _LOG_POLICY_BASE + sum(_log_resource(n) for n in named) + (_log_resource(_VENDED + "*") if len(named) < len(names) else 0)
        see("log_delivery_policy", size, f"account {account} ({len(names)} state machine log groups, {len(named)} outside {_VENDED})")
    return [best[q.key] if q.key in best else Figure(q, 0, "none") for q in QUOTAS]


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table."""
    lines = ["| Quota (AWS default) | Budget (80%) | Largest | Share | Where |", "|---|---:|---:|---:|---|"]
    for f in figures:
        mark = "" if f.within_budget else " **over budget**"
        lines.append(f"| [{f.quota.what}]({f.quota.url}) ({f.quota.default:,}) | {f.quota.budget:,} | {f.value:,}{mark} | "
                     f"{f.share:.0%} | `{f.where}` |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    outdir = Path(argv[0] if argv else "cdk.out")
    figures = measure(outdir)
    print(table(figures))
    return 0 if all(f.within_budget for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
