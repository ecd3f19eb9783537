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

``--tooling`` prints the SCP for the tooling account instead: only the pipelines deploy to production. It denies

- assuming production's CDK bootstrap deploy role, except to principals tagged ``mlops:deploys-to`` with the
  production account or ``all`` (the platform's pipeline role, the release pipelines' prod deploy role);
- starting, retrying or changing a build of a CodeBuild project tagged to deploy to production or to the tooling
  account (the release pipelines' prod deploy project, the platform pipeline's self-mutation, which could define a
  role that deploys to prod), except to principals tagged ``all`` (the pipelines' roles) and CloudFormation;
- passing, or changing the trust of, a role tagged to deploy to production, the tooling account or every stage, and
  putting the tag on or off a role or into a session, except to CloudFormation (through the CDK bootstrap's
  execution role).

Every action and condition key is checked against AWS's Service Authorization Reference by
``tests/test_guardrails.py``, and so is the size: an SCP holds at most 5,120 characters
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlops_constructs.guardrails import DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT, account_wide_denials
from mlops_constructs.config import ConfigError, PlatformConfig, load_config

SCP_MAX_CHARACTERS = 5120
"""AWS Organizations' limit on a service control policy's size."""
PROJECT_TAG = "mlops:project"
"""The tag every resource of a stage carries (stacks/stage.py) with the project's name."""
CLOUDFORMATION_EXECUTION_ROLES = "arn:*:iam::*:role/cdk-*-cfn-exec-role-*"
"""The CDK bootstrap's CloudFormation execution roles, through which the stacks are deployed and deleted."""


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
        ],
    }


def tooling_guardrail_policy(config: PlatformConfig) -> dict[str, Any]:
    """The SCP document for the tooling account of ``config``: production is deployed to by the pipelines only.

    The platform's pipeline and the release pipelines deploy to production after a person's approval; without this,
    any principal of the tooling account allowed ``sts:AssumeRole`` (production's bootstrap trusts the whole tooling
    account, ``cdk bootstrap --trust``) or ``codebuild:StartBuild`` on the release pipelines' prod deploy project
    could deploy there without one. Principals are told apart by :data:`DEPLOYS_TO_TAG`, which only CloudFormation may
    put on a role (the deploy roles and pipeline roles carry it, ``mlops_constructs.delivery``) or into a session.
    """
    prod, tooling = config.accounts.prod, config.accounts.tooling
    # What deploys the tooling account's own stacks (the platform pipeline's self-mutation) can make a role that
    # deploys to prod: guarded as prod's deployers are.
    guarded = list(dict.fromkeys([prod, tooling]))
    deployers = {"StringNotEquals": {f"aws:PrincipalTag/{DEPLOYS_TO_TAG}": [prod, EVERY_STAGE_ACCOUNT]}}
    not_cloudformation = {"ArnNotLike": {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # The bootstrap roles' names: cdk-<qualifier>-deploy-role-<account>-<region> (CDK's bootstrap template).
                "Sid": "OnlyDeployersDeployToProd",
                "Effect": "Deny",
                "Action": ["sts:AssumeRole"],
                "Resource": [f"arn:aws:iam::{prod}:role/cdk-*-deploy-role-{prod}-*"],
                "Condition": deployers,
            },
            {
                # Webhooks start builds too; the others start, repeat or rewrite one (buildspec, source, role, tags).
                "Sid": "OnlyPipelinesBuildGuardedDeploys",
                "Effect": "Deny",
                "Action": ["codebuild:StartBuild", "codebuild:StartBuildBatch", "codebuild:RetryBuild", "codebuild:RetryBuildBatch",
                           "codebuild:UpdateProject", "codebuild:CreateWebhook", "codebuild:UpdateWebhook"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{DEPLOYS_TO_TAG}": guarded},
                              "StringNotEquals": {f"aws:PrincipalTag/{DEPLOYS_TO_TAG}": EVERY_STAGE_ACCOUNT}, **not_cloudformation},
            },
            {
                # Passing such a role to another project or pipeline, or trusting someone else with it, would lend its tag.
                "Sid": "KeepGuardedDeployersToThemselves",
                "Effect": "Deny",
                "Action": ["iam:PassRole", "iam:UpdateAssumeRolePolicy"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{DEPLOYS_TO_TAG}": [*guarded, EVERY_STAGE_ACCOUNT]}, **not_cloudformation},
            },
            {
                "Sid": "KeepTheDeployerTag",
                "Effect": "Deny",
                "Action": ["iam:CreateRole", "iam:TagRole", "iam:UntagRole", "sts:TagSession"],
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": [DEPLOYS_TO_TAG]}, **not_cloudformation},
            },
        ],
    }


def compact(policy: dict[str, Any]) -> str:
    """The policy as AWS Organizations measures it: JSON without insignificant white space."""
    return json.dumps(policy, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/default.yaml")
    parser.add_argument("--tooling", action="store_true", help="the tooling account's SCP (only the pipelines deploy to production)")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print (the white space counts towards the 5,120 characters)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    policy = tooling_guardrail_policy(config) if args.tooling else guardrail_policy(config)
    text = json.dumps(policy, indent=args.indent) if args.indent else compact(policy)
    print(text)
    if len(text) > SCP_MAX_CHARACTERS:  # AWS Organizations stores the policy as sent, white space included
        print(f"note: {len(text)} characters, over an SCP's {SCP_MAX_CHARACTERS}: for reading only; attach the compact form "
              "(without --indent)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
