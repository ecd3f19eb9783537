"""The CloudFormation execution policy each account is bootstrapped with: what the platform's stacks need
to create, update and delete their resources, instead of AdministratorAccess.

    python -m stacks.execution_policy --config config/acme.yaml > cfn-execution-policy.json

Every account gets the same policy (create it once per account as a customer managed policy named
``<project>-cfn-execution``, then pass its ARN to ``cdk bootstrap --cloudformation-execution-policies``).
It is limited to the configured region, IAM is limited to roles and policies whose names start with the
project (CloudFormation names generated roles after their stack, and every stack name starts with the
project), and S3 to the project's buckets and the CDK asset bucket. ``tests/test_execution_policy.py``
checks that it covers every resource type the stacks synthesize.

CloudFormation creates the endpoints' SageMaker models and endpoint configurations with this policy, so
it also denies creating them outside the guardrails (no VPC, no network isolation, an unencrypted or
foreign-key volume): the same statements as the organization's guardrail policy
(``python -m stacks.guardrails``), limited to what CloudFormation creates here.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlops_constructs.guardrails import account_wide_denials
from mlops_constructs.config import ConfigError, PlatformConfig, load_config

CREATED_BY_CLOUDFORMATION = ("sagemaker:CreateModel", "sagemaker:CreateEndpointConfig")
"""The SageMaker create calls CloudFormation makes for the platform's stacks (endpoint stacks; batch stacks create models only)."""

MANAGED_SERVICES: dict[str, tuple[str, ...]] = {
    # CloudFormation type prefix -> the IAM service prefix(es) whose actions manage it
    "AWS::EC2": ("ec2",),
    "AWS::KMS": ("kms",),
    "AWS::Logs": ("logs",),
    "AWS::SNS": ("sns",),
    "AWS::SQS": ("sqs",),
    "AWS::SageMaker": ("sagemaker",),
    "AWS::Glue": ("glue",),  # the batch results' database and table
    "AWS::StepFunctions": ("states",),
    "AWS::Events": ("events",),
    "AWS::Scheduler": ("scheduler",),
    "AWS::Lambda": ("lambda",),
    "AWS::ECR": ("ecr",),
    "AWS::CloudWatch": ("cloudwatch",),
    "AWS::ApplicationAutoScaling": ("application-autoscaling",),
    "AWS::SSM": ("ssm",),
    "AWS::CodePipeline": ("codepipeline",),
    "AWS::CodeBuild": ("codebuild",),
    "AWS::CodeStarNotifications": ("codestar-notifications",),
    "AWS::CodeConnections": ("codeconnections", "codestar-connections"),
    # The models' inference APIs (InferenceApi): the REST API, its stage and usage plan, API Gateway's account
    # settings; the web ACL, its association and logging.
    "AWS::ApiGateway": ("apigateway",),
    "AWS::WAFv2": ("wafv2",),
}
"""Services managed in the configured region, whatever the resource's name (most are named by
CloudFormation or SageMaker with ids a policy cannot predict)."""

SERVICE_LINKED_ROLES = (
    "sagemaker.application-autoscaling.amazonaws.com",
    "autoscaling.amazonaws.com",
    "ecr.amazonaws.com",
    # Created by the service the first time an account creates a notification rule (the pipelines' failure
    # notifications), with the caller's permission to create it
    # (https://docs.aws.amazon.com/dtconsole/latest/userguide/using-service-linked-roles.html).
    "codestar-notifications.amazonaws.com",
    # Created by API Gateway when an account creates its first API (the models' InferenceApi)
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/using-service-linked-roles.html).
    "ops.apigateway.amazonaws.com",
)


ENDPOINT_SCALING_ROLE = "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
"""The path and name of Application Auto Scaling's service-linked role for SageMaker endpoints
(https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html)."""


def execution_policy(config: PlatformConfig) -> dict[str, Any]:
    """The policy document, for the accounts and region of ``config``."""
    project, region = config.project, config.region
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PlatformServicesInTheRegion",
                "Effect": "Allow",
                "Action": sorted({f"{prefix}:*" for prefixes in MANAGED_SERVICES.values() for prefix in prefixes}),
                "Resource": "*",
                "Condition": in_region,
            },
            {
                # Reads that resource handlers of other services list among their permissions (the resource schemas AWS
                # publishes for CloudFormation; tests/test_execution_policy.py checks every handler's list): AWS::Glue::
                # Database and ::Table ask Lake Formation whether a location or database is registered with it,
                # AWS::EC2::FlowLog reads tags. Not lakeformation:CreateTable, which only governed tables use.
                "Sid": "ResourceHandlersLookups",
                "Effect": "Allow",
                "Action": ["autoscaling:DescribeTags", "lakeformation:DescribeLakeFormationIdentityCenterConfiguration",
                           "lakeformation:DescribeResource", "lakeformation:GetDataAccess", "lakeformation:ListResources"],
                "Resource": "*",
                "Condition": in_region,
            },
            {
                "Sid": "ProjectRolesAndPolicies",
                "Effect": "Allow",
                "Action": [
                    "iam:AttachRolePolicy", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:CreateRole",
                    "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:DeleteRole", "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy", "iam:Get*", "iam:List*", "iam:PassRole", "iam:PutRolePolicy",
                    "iam:TagPolicy", "iam:TagRole", "iam:UntagPolicy", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
                    "iam:UpdateRole", "iam:UpdateRoleDescription",
                ],
                "Resource": ["arn:*:iam::*:role/" + project + "-*", "arn:*:iam::*:policy/" + project + "-*"],
            },
            {
                "Sid": "ServiceLinkedRolesThePlatformUses",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
            },
            {
                # The endpoints' scalable targets name Application Auto Scaling's service-linked role for SageMaker
                # (RoleARN, as CloudFormation's docs advise), and the AWS::ApplicationAutoScaling::ScalableTarget handler
                # lists iam:PassRole among its permissions; AWS does not say whether passing a service-linked role is
                # checked, so the one role, which only that service can assume, may be passed.
                "Sid": "PassTheEndpointScalingRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:*:iam::*:role/aws-service-role/{ENDPOINT_SCALING_ROLE}",
            },
            {
                "Sid": "ProjectBuckets",
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [f"arn:*:s3:::{project}-*", f"arn:*:s3:::{project}-*/*"],
            },
            {
                "Sid": "ReadCdkAssets",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": ["arn:*:s3:::cdk-*-assets-*", "arn:*:s3:::cdk-*-assets-*/*"],
            },
            {
                # Fn::GetStackOutput reads another stack's outputs with the reading stack's execution role
                # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getstackoutput.html):
                # the platform's stacks read the network and storage stacks' (stacks._references).
                "Sid": "ReadProjectStackOutputs",
                "Effect": "Allow",
                "Action": "cloudformation:DescribeStacks",
                "Resource": f"arn:*:cloudformation:{region}:*:stack/{project}-*/*",
            },
            *account_wide_denials("Guardrail", only=CREATED_BY_CLOUDFORMATION),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/default.yaml")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    print(json.dumps(execution_policy(config), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
