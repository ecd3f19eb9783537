"""The service control policy (SCP) an AWS Organizations administrator attaches to the platform's ML
accounts (dev, staging, prod): what no principal there may do, whatever its own permissions.

    python -m stacks.guardrails --config config/acme.yaml > ml-guardrails.json

What it denies (docs/security.md, "Preventive guardrails", says how to attach it):

- SageMaker training, processing, tuning and transform jobs, models and endpoint configurations outside a
  VPC, without security groups, without KMS keys of the account itself, or (where the call has the
  setting) without network isolation (except the kinds of job a model's script step runs with
  ``network_isolation: false``);
- notebook instances with direct internet access or outside a VPC, and Studio domains that are not
  ``VpcOnly``;
- SageMaker's other compute (Model Monitor job definitions, AutoML, HyperPod clusters, labeling jobs) outside a VPC or
  without keys, and switching a Studio domain to the internet;
- deleting the platform's flow logs and log groups, shortening their retention or removing their key,
  disabling or scheduling the deletion of its KMS keys, and removing or changing the ``mlops:project`` tag that
  marks them (which would lift the protection), except by CloudFormation through the CDK bootstrap's execution
  role, which deletes them only with a stack whose resources are not retained (dev, when asked).

``--tooling`` prints the SCP for the tooling account instead (docs/security.md): only principals tagged
``mlops:deploys-to`` (the pipelines' roles, the release deploy projects) assume prod's and the tooling account's
bootstrap deploy and publishing roles, start or change the builds that deploy there or that write what the pipelines
deploy (the synth builds, the publishing of the tested source: tagged ``artifacts``), or change the platform's
pipelines, or its buckets' policies and lifecycle rules; CloudFormation changes the tooling account's stacks only
through its deploy role (and StackSets' execution roles, ``delivery.stack_set_roles``, whose names no one else takes);
only CloudFormation passes, widens, re-trusts or tags such a role; and, when
``delivery.approvers`` is set, only they approve.

``--pipeline-only`` prints an optional SCP for the staging and prod accounts: only the tooling account's pipelines
deploy there (their own principals neither assume their bootstrap's roles nor change stacks; docs/security.md).

Every action and condition key is checked against AWS's Service Authorization Reference by
``tests/test_guardrails.py``, and so is the size: an SCP holds at most 5,120 characters
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlops_constructs.guardrails import BOOTSTRAP_ROLE_PREFIX, DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT, PIPELINE_ARTIFACTS, account_wide_denials
from mlops_constructs.config import STACK_SET_ROLES, ConfigError, PlatformConfig, load_config

SCP_MAX_CHARACTERS = 5120
"""AWS Organizations' limit on a service control policy's size."""
PROJECT_TAG = "mlops:project"
"""The tag every resource of a stage carries (stacks/stage.py) with the project's name."""
CLOUDFORMATION_EXECUTION_ROLES = "arn:*:iam::*:role/cdk-*-cfn-exec-role-*"
"""The CDK bootstrap's CloudFormation execution roles, through which the stacks are deployed and deleted."""
CLOUDFORMATION_CHANGES = ["cloudformation:Create*", "cloudformation:Update*", "cloudformation:Delete*", "cloudformation:Execute*",
                          "cloudformation:ContinueUpdateRollback", "cloudformation:RollbackStack", "cloudformation:CancelUpdateStack",
                          "cloudformation:SetStackPolicy", "cloudformation:ImportStacksToStackSet"]
"""What changes a stack (or has CloudFormation change it, on an existing stack's service role as well as a passed one),
its protections, or hands it to a stack set: every write on a stack in the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html) but resource signals,
by prefix where it can (an SCP's action wildcards go at the end), which takes in stack sets and generated templates too."""


def bootstrap_role(account: str, kind: str | None, region: str | None = None) -> str:
    """The ARN of a CDK bootstrap role of ``account`` (``deploy``, ``cfn-exec``, ``file-publishing``...): with ``region``,
    exactly the default qualifier's own role (an exemption: a pattern would exempt any role named to fit it); without,
    any qualifier's and region's (a denial), and with ``kind`` ``None`` any kind's too. The bootstrap template names them
    cdk-<qualifier>-<kind>-role-<account>-<region>."""
    if region is None:
        return f"arn:aws:iam::{account}:role/cdk-*-{f'{kind}-' if kind else ''}role-{account}-*"
    return f"arn:aws:iam::{account}:role/{BOOTSTRAP_ROLE_PREFIX}-{kind}-role-{account}-{region}"


def jobs_without_isolation(config: PlatformConfig) -> list[str]:
    """The create actions of job kinds some model runs with ``network_isolation: false`` (a script step):
    the SCP must not refuse them. Their other guardrails (VPC, security groups, the account's keys) stay."""
    actions = set()
    for model in config.models:
        code = model.code
        if code is None:
            continue
        if any(step is not None and not step.network_isolation for step in (code.preprocess, code.evaluate)):
            actions.add("sagemaker:CreateProcessingJob")
        if code.train is not None and not code.train.network_isolation:
            actions.add("sagemaker:CreateTrainingJob")
            if model.tuning is not None:  # its training jobs are the train step's
                actions.add("sagemaker:CreateHyperParameterTuningJob")
    return sorted(actions)


def guardrail_policy(config: PlatformConfig) -> dict[str, Any]:
    """The SCP document for the accounts of ``config``."""
    tagged = {"StringEquals": {f"aws:ResourceTag/{PROJECT_TAG}": config.project}}
    not_cloudformation = {"ArnNotLike": {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            *account_wide_denials(isolation_optional=jobs_without_isolation(config)),
            {
                "Sid": "KeepThePlatformsLogs",
                "Effect": "Deny",
                # and the log groups' legacy Tag/UntagLogGroup, which no aws:TagKeys condition restricts
                # (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_UntagLogGroup.html)
                "Action": ["ec2:DeleteFlowLogs", "logs:DeleteLogGroup", "logs:DeleteLogStream", "logs:DisassociateKmsKey",
                           "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagLogGroup", "logs:UntagLogGroup"],
                "Resource": "*",
                "Condition": {**tagged, **not_cloudformation},
            },
            {
                "Sid": "KeepThePlatformsKeys",
                "Effect": "Deny",
                "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation"],
                "Resource": "*",
                "Condition": {**tagged, **not_cloudformation},
            },
            {
                # Removing the tag, or changing its value (tagging it again), lifts the protection: any request naming it.
                "Sid": "KeepTheProjectTag",
                "Effect": "Deny",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags", "logs:TagResource", "logs:UntagResource", "kms:TagResource", "kms:UntagResource"],
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": [PROJECT_TAG]}, **not_cloudformation},
            },
            {
                # EC2's DeleteTags without keys deletes every tag of the resource and names none
                # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteTags.html): refused on the platform's
                # resources. Other tags of those resources stay free to change.
                "Sid": "KeepTheProjectTagWhole",
                "Effect": "Deny",
                "Action": ["ec2:DeleteTags"],
                "Resource": "*",
                "Condition": {**tagged, "Null": {"aws:TagKeys": "true"}, **not_cloudformation},
            },
            {
                # The statements above exempt CloudFormation's execution roles by name: no one makes another role by that
                # name (a role's ARN, path included, is what both the exemption and this Resource match), or makes one
                # of them assumable. The bootstrap creates the real one before the SCP is attached (docs/security.md).
                "Sid": "NoLookalikeCloudFormationRoles",
                "Effect": "Deny",
                "Action": ["iam:CreateRole", "iam:UpdateAssumeRolePolicy"],
                "Resource": CLOUDFORMATION_EXECUTION_ROLES,
            },
        ],
    }


def stack_set_statements(config: PlatformConfig, accounts: list[str] | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The roles through which CloudFormation StackSets changes its own stacks (``delivery.stack_set_roles``: AWS Control
    Tower's baselines, the organization's stack sets), which SCPs govern like any role, as exemptions go (any account:
    an SCP governs only its own account's principals); and the statements that keep them to that in ``accounts``: no one
    else there assumes them (their administrators are elsewhere: the management account, or a StackSets administrator),
    makes another role by their names or changes their trust, and they change neither the platform's stacks nor the CDK
    bootstrap's. ``accounts`` ``None``: the roles of any account are refused to the guarded ones' principals (accounts
    that administer no stack set elsewhere)."""
    names = config.delivery.stack_set_roles if config.delivery else list(STACK_SET_ROLES)
    if not names:
        return [], []
    roles = [f"arn:aws:iam::*:role/{name}" for name in names]
    own = roles if accounts is None else [f"arn:aws:iam::{account}:role/{name}" for account in accounts for name in names]
    return roles, [
        {
            # StackSets' own service-linked role, which creates stacksets-exec-*, is not governed by SCPs
            # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html).
            "Sid": "StackSetRolesOnlyForStackSets",
            "Effect": "Deny",
            "Action": ["sts:AssumeRole", "iam:CreateRole", "iam:UpdateAssumeRolePolicy"],
            "Resource": own,
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": roles}},
        },
        {"Sid": "StackSetsKeepToTheirStacks", "Effect": "Deny", "Action": "cloudformation:*",
         "Resource": [f"arn:aws:cloudformation:*:*:stack/{stack}/*" for stack in (f"{config.project}-*", "CDKToolkit")],
         "Condition": {"ArnLike": {"aws:PrincipalArn": roles}}},
    ]


def tooling_guardrail_policy(config: PlatformConfig) -> dict[str, Any]:
    """The SCP document for the tooling account of ``config``: prod, and the tooling account's own stacks (which could
    define a prod deployer), are deployed to by the pipelines only.

    Production's bootstrap trusts the whole tooling account (``cdk bootstrap --trust``), and so does the tooling
    account's own: without this, any principal there allowed ``sts:AssumeRole``, ``codebuild:StartBuild`` on the
    release pipelines' prod deploy project, or CloudFormation on the tooling stacks could deploy to prod without the
    ``Promote-Prod`` approval. Principals are told apart by :data:`DEPLOYS_TO_TAG`, which only CloudFormation may put on
    a role or user (the pipelines' roles and deploy projects carry it, ``mlops_constructs.delivery``) or into a session.
    The roles and projects tagged ``artifacts`` (:data:`PIPELINE_ARTIFACTS`) deploy nothing, but they write what the
    pipelines deploy, which only they and the pipelines may change (the artifact and source buckets' policies): their
    builds and roles are guarded as the deployers' are, or anyone could start a synth build that writes a template.
    """
    prod, tooling, region, project = config.accounts.prod, config.accounts.tooling, config.region, config.project
    guarded = list(dict.fromkeys([prod, tooling]))
    # Exactly the tooling account's own bootstrap roles (a pattern would exempt any role someone names to fit it).
    deploy_role, cloudformation = bootstrap_role(tooling, "deploy", region), bootstrap_role(tooling, "cfn-exec", region)
    not_cloudformation = {"ArnNotLike": {"aws:PrincipalArn": cloudformation}}
    pipelines = [f"arn:aws:codepipeline:*:{tooling}:{project}-*"]  # <project>-release, <project>-release-<model>
    # CloudFormation StackSets changes its own stacks here as these roles (Control Tower's baselines among them).
    stack_sets, kept_to_their_stacks = stack_set_statements(config, [tooling])

    def bootstrap_roles(account: str) -> list[str]:
        return [bootstrap_role(account, kind) for kind in ("deploy", "file-publishing", "image-publishing")]

    def only_tagged(sid: str, account: str) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Deny", "Action": ["sts:AssumeRole"], "Resource": bootstrap_roles(account),
                "Condition": {"StringNotEquals": {f"aws:PrincipalTag/{DEPLOYS_TO_TAG}": [account, EVERY_STAGE_ACCOUNT]}}}

    return {
        "Version": "2012-10-17",
        "Statement": [
            # Deploying (or publishing the assets a deployment uses) through the bootstrap roles.
            only_tagged("OnlyDeployersReachProd", prod),
            *([only_tagged("OnlyDeployersReachTooling", tooling)] if tooling != prod else []),
            {
                # CloudFormation on the tooling account's stacks (every one deployed by CDK runs as its execution role,
                # which a stack's users use without passing it) only through its deploy role, which the pipelines assume.
                "Sid": "OnlyTheDeployRoleChangesStacks",
                "Effect": "Deny",
                "Action": CLOUDFORMATION_CHANGES,
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [deploy_role, cloudformation, *stack_sets]}},
            },
            *kept_to_their_stacks,
            {
                "Sid": "OnlyTheDeployRolePassesCloudFormationsRole",
                "Effect": "Deny",
                "Action": ["iam:PassRole"],
                "Resource": [cloudformation],
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": deploy_role}},
            },
            {
                # Webhooks and sandboxes start builds too; the others start, repeat or rewrite one (buildspec, source, role).
                "Sid": "OnlyPipelinesBuildGuardedDeploys",
                "Effect": "Deny",
                "Action": ["codebuild:StartBuild*", "codebuild:RetryBuild*", "codebuild:StartSandbox", "codebuild:UpdateProject", "codebuild:CreateWebhook",
                           "codebuild:UpdateWebhook"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{DEPLOYS_TO_TAG}": [*guarded, EVERY_STAGE_ACCOUNT, PIPELINE_ARTIFACTS]},
                              "StringNotEquals": {f"aws:PrincipalTag/{DEPLOYS_TO_TAG}": EVERY_STAGE_ACCOUNT}, **not_cloudformation},
            },
            {
                # Passing such a role elsewhere, trusting someone else with it, or widening what it may do.
                "Sid": "KeepGuardedDeployersToThemselves",
                "Effect": "Deny",
                "Action": ["iam:PassRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{DEPLOYS_TO_TAG}": [*guarded, EVERY_STAGE_ACCOUNT, PIPELINE_ARTIFACTS]}, **not_cloudformation},
            },
            {
                "Sid": "KeepTheDeployerTag",
                "Effect": "Deny",
                "Action": ["iam:CreateRole", "iam:TagRole", "iam:UntagRole", "iam:CreateUser", "iam:TagUser", "iam:UntagUser", "sts:TagSession"],
                "Resource": "*",
                # In any case: an IAM role's or user's tag keys are case-insensitive, so MLOPS:Deploys-To is this tag
                # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules_creating).
                "Condition": {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [DEPLOYS_TO_TAG]}, **not_cloudformation},
            },
            {
                # The platform's buckets' policies, among them those that keep the pipelines' artifacts and the tested
                # source to their writers (ObjectsChangeOnlyByTheirWriters), and their lifecycle rules, which a bucket
                # policy does not stop from expiring objects. The release tooling's are named <project>-release-...;
                # CloudFormation names the delivery stack's after the stack, <project>-delivery-...
                # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html).
                "Sid": "PlatformBucketsChangeOnlyThroughCloudFormation",
                "Effect": "Deny",
                "Action": ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration"],
                "Resource": [f"arn:aws:s3:::{project}-*"],
                "Condition": not_cloudformation,
            },
            {
                # The platform's pipelines: an approval removed, a stage's project or role changed.
                "Sid": "PipelinesChangeOnlyThroughCloudFormation",
                "Effect": "Deny",
                "Action": ["codepipeline:UpdatePipeline", "codepipeline:DeletePipeline"],
                "Resource": pipelines,
                "Condition": not_cloudformation,
            },
            # The manual approvals (Promote-Prod) of the platform's pipelines, by the configured approvers only.
            *([{
                "Sid": "OnlyApproversApprove",
                "Effect": "Deny",
                "Action": ["codepipeline:PutApprovalResult"],
                "Resource": pipelines,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": list(approvers)}},
            }] if (approvers := config.delivery.approvers if config.delivery else None) else []),
        ],
    }


def pipeline_only_policy(config: PlatformConfig) -> dict[str, Any]:
    """An optional SCP for the staging and prod accounts of ``config``: only the pipelines of the tooling account deploy
    there, with the approvals they hold (``--pipeline-only``; docs/security.md).

    Both bootstraps trust their own account besides the tooling account (``cdk bootstrap``'s default), and CloudFormation
    acts as a stack's service role for whoever may update the stack. Without this, a principal of staging or prod allowed
    ``sts:AssumeRole`` (``PowerUserAccess`` is) could deploy through the bootstrap's deploy role, and one allowed
    CloudFormation could update a platform stack, which then runs as the execution role: a release past the pipelines'
    tests and ``Promote-Prod``. SCPs govern only the principals of the accounts they are attached to, so the pipelines'
    roles, in the tooling account, still assume the deploy roles (the tooling SCP keeps that to them).
    """
    accounts, tooling, region = config.accounts, config.accounts.tooling, config.region
    guarded = list(dict.fromkeys([accounts.staging, accounts.prod]))
    if tooling in guarded or accounts.dev in guarded:
        stage = "staging" if accounts.staging in (tooling, accounts.dev) else "prod"
        value = getattr(accounts, stage)
        raise ConfigError(config.source, [f"accounts.{stage}: must be an account of its own for --pipeline-only (got {value!r}, which is also the "
                                          f"{'tooling' if value == tooling else 'dev'} account): the SCP would stop the pipelines, or direct "
                                          "deploys to dev, there too"])

    deployers = [bootstrap_role(a, kind, region) for a in guarded for kind in ("deploy", "cfn-exec")]
    stack_sets, kept_to_their_stacks = stack_set_statements(config, None)  # staging and prod administer no stack set
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Deploying, publishing what a deployment uses or looking up, through the account's own bootstrap roles.
                "Sid": "OnlyTheToolingAccountDeploysHere",
                "Effect": "Deny",
                "Action": ["sts:AssumeRole"],
                "Resource": [bootstrap_role(a, None) for a in guarded],
            },
            {
                "Sid": "OnlyTheDeployRolePassesCloudFormationsRole",
                "Effect": "Deny",
                "Action": ["iam:PassRole"],
                "Resource": [bootstrap_role(a, "cfn-exec") for a in guarded],
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [bootstrap_role(a, "deploy", region) for a in guarded]}},
            },
            {
                # Any stack: a stack's users change it as its service role, which they need not pass. CloudFormation's
                # execution role would make nested stacks (the platform has none); StackSets change their own.
                "Sid": "OnlyTheDeployRoleChangesStacks",
                "Effect": "Deny",
                "Action": CLOUDFORMATION_CHANGES,
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [*deployers, *stack_sets]}},
            },
            {
                # The exemptions above and below go by the roles' ARNs: no one makes a role by such a name, or makes one
                # assumable by anyone else (a function or an instance would then act as it); but a stack set that
                # bootstraps the account.
                "Sid": "KeepTheDeployersToThemselves",
                "Effect": "Deny",
                "Action": ["iam:CreateRole", "iam:UpdateAssumeRolePolicy"],
                "Resource": [bootstrap_role(a, None) for a in guarded],
                **({"Condition": {"ArnNotLike": {"aws:PrincipalArn": stack_sets}}} if stack_sets else {}),
            },
            {
                # What a deployment uses from the bootstrap's asset bucket and repository, written by the publishing roles
                # only: cdk-assets does not upload an asset that is there already, so one put there first would be used.
                "Sid": "OnlyThePublishingRolesWriteAssets",
                "Effect": "Deny",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
                "Resource": [f"arn:aws:s3:::cdk-*-assets-{a}-*" for a in guarded],
                # (and a stack set that bootstraps the account: the bootstrap template sets the bucket's policy)
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [*(bootstrap_role(a, "file-publishing", region) for a in guarded), *stack_sets]}},
            },
            {
                "Sid": "OnlyThePublishingRolesPushImages",
                "Effect": "Deny",
                "Action": ["ecr:PutImage", "ecr:BatchDeleteImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                           "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"],
                "Resource": [f"arn:aws:ecr:*:{a}:repository/cdk-*-container-assets-{a}-*" for a in guarded],
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [*(bootstrap_role(a, "image-publishing", region) for a in guarded), *stack_sets]}},
            },
            *kept_to_their_stacks,
        ],
    }


def compact(policy: dict[str, Any]) -> str:
    """The policy as AWS Organizations measures it: JSON without insignificant white space."""
    return json.dumps(policy, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/default.yaml")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--tooling", action="store_true", help="the tooling account's SCP (only the pipelines deploy to production)")
    kind.add_argument("--pipeline-only", action="store_true",
                      help="an optional SCP for the staging and prod accounts: only the tooling account's pipelines deploy there")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print (the white space counts towards the 5,120 characters)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        policy = (tooling_guardrail_policy(config) if args.tooling else pipeline_only_policy(config) if args.pipeline_only
                  else guardrail_policy(config))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    size = len(compact(policy))
    if size > SCP_MAX_CHARACTERS:
        # The configuration's lists grow the tooling and pipeline-only SCPs (the ML accounts' is 5,031 characters at most:
        # the longest project name, every job isolated).
        fields = "delivery.approvers and delivery.stack_set_roles" if args.tooling else "delivery.stack_set_roles"
        print(f"error: the policy has {size} characters, over an SCP's {SCP_MAX_CHARACTERS} "
              f"(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html): name fewer, or use "
              f"wildcards, in {fields} of {config.source}", file=sys.stderr)
        return 1
    text = json.dumps(policy, indent=args.indent) if args.indent else compact(policy)
    print(text)
    if len(text) > SCP_MAX_CHARACTERS:  # AWS Organizations stores the policy as sent, white space included
        print(f"note: {len(text)} characters, over an SCP's {SCP_MAX_CHARACTERS}: for reading only; attach the compact form "
              "(without --indent)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
