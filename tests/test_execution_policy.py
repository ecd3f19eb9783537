"""The CloudFormation execution policy the accounts are bootstrapped with covers every resource the
platform's stacks create, and no more than the project's own IAM and S3 names."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys

from stacks.execution_policy import MANAGED_SERVICES, SERVICE_LINKED_ROLES, execution_policy
from tests.conftest import DEFAULT_CONFIG, REPO, SynthesizedPlatform
from tests.test_delivery_pipeline import render


def statement(policy: dict, sid: str) -> dict:
    (found,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    return found


def test_every_synthesized_resource_type_is_covered(platform: SynthesizedPlatform) -> None:
    policy = execution_policy(platform.config)
    regional = set(statement(policy, "PlatformServicesInTheRegion")["Action"])
    types = {r["Type"] for t in platform.templates.values() for r in t["Resources"].values()}
    assert {"AWS::CodePipeline::Pipeline", "AWS::SageMaker::Endpoint", "AWS::IAM::Role", "AWS::S3::Bucket"} <= types
    for type_ in sorted(types):
        service = "::".join(type_.split("::")[:2])
        if type_.startswith("Custom::"):
            assert "lambda:*" in regional, type_  # custom resources are Lambda-backed
        elif service == "AWS::IAM":
            assert type_ in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"), type_
        elif service == "AWS::S3":
            assert type_ in ("AWS::S3::Bucket", "AWS::S3::BucketPolicy"), type_
        elif service != "AWS::CDK":
            assert service in MANAGED_SERVICES, f"{type_}: add its service to stacks/execution_policy.py"
            assert {f"{p}:*" for p in MANAGED_SERVICES[service]} <= regional, type_


# Permissions the resource schemas' create, update and delete handlers list that the policy does not grant, each for a
# feature of the resource the platform does not use (or, last group, not known to be used by these resources).
UNGRANTED_HANDLER_PERMISSIONS = {
    # WAF associations with other kinds of resource (the platform associates web ACLs with API Gateway stages)
    **{f"{p}:{a}": "another kind of resource" for p in ("amplify", "appsync", "cognito-idp", "bedrock-agentcore", "elasticloadbalancing", "apprunner")
       for a in ("AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource", "SetWebACL", "CreateWebACLAssociation",
                 "DeleteWebACLAssociation", "GetLoadBalancerWebACL", "AssociateWebAcl", "DisassociateWebAcl", "DescribeWebAclForService",
                 "GatewayAssociateWebACL", "GatewayDisassociateWebACL", "GatewayGetWebACLForResource")},
    **{f"{p}:AllowVendedLogDeliveryForResource": "vended logs of another service" for p in ("autoloop", "codewhisperer", "workmail")},
    "firehose:ListDeliveryStreams": "a Firehose log destination (WAF logs go to CloudWatch Logs)",
    "firehose:TagDeliveryStream": "a Firehose destination",
    "s3tables:CreateNamespace": "S3 table buckets", "s3tables:CreateTable": "S3 table buckets", "s3tables:CreateTableBucket": "S3 table buckets",
    "s3tables:GetTable": "S3 table buckets", "s3tables:GetTableMetadataLocation": "S3 table buckets", "s3tables:PutTableBucketPolicy": "S3 table buckets",
    "s3tables:PutTableEncryption": "S3 table buckets", "s3tables:PutTablePolicy": "S3 table buckets", "s3tables:UpdateTableMetadataLocation": "S3 table buckets",
    "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation": "service network endpoints",
    "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "service network endpoints",
    "vpce:AllowMultiRegion": "cross-region VPC endpoints",
    "elasticfilesystem:DescribeMountTargets": "a Lambda file system", "s3files:ListMountTargets": "a Lambda file system",
    "lakeformation:CreateTable": "governed (Lake Formation) tables",
    "iam:AttachGroupPolicy": "IAM groups", "iam:DetachGroupPolicy": "IAM groups", "iam:PutGroupPolicy": "IAM groups", "iam:DeleteGroupPolicy": "IAM groups",
    "iam:AttachUserPolicy": "IAM users", "iam:DetachUserPolicy": "IAM users", "iam:PutUserPolicy": "IAM users", "iam:DeleteUserPolicy": "IAM users",
    "iam:PutRolePermissionsBoundary": "permissions boundaries", "iam:DeleteRolePermissionsBoundary": "permissions boundaries",
    # listed without a documented use for these resources; an AccessDenied would name them
    "payments:GetConnectedAccount": "unknown (AWS::WAFv2::WebACL)", "iam:DescribeOrganization": "unknown (AWS::WAFv2::LoggingConfiguration)",
}


def test_every_handler_permission_of_the_synthesized_resources_is_granted(platform: SynthesizedPlatform) -> None:
    """What CloudFormation's handler for each resource type may call with the execution role (the schemas AWS publishes,
    as cfn-lint ships them): granted by the policy, or listed above with the feature it belongs to."""
    import fnmatch
    from pathlib import Path

    import cfnlint

    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((schemas / "providers" / f"{platform.config.region}.json").read_text())
    policy = execution_policy(platform.config)
    granted = [a for s in policy["Statement"] if s["Effect"] == "Allow" for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    types = {r["Type"] for t in platform.templates.values() for r in t["Resources"].values() if r["Type"] in providers}
    missing: dict[str, set[str]] = {}
    for type_ in types:
        handlers = json.loads((schemas / "resources" / f"{providers[type_]}.json").read_text()).get("handlers", {})
        for permission in {p for h in ("create", "update", "delete") for p in handlers.get(h, {}).get("permissions", [])}:
            if not any(fnmatch.fnmatchcase(permission.lower(), a.lower()) for a in granted) and permission not in UNGRANTED_HANDLER_PERMISSIONS:
                missing.setdefault(permission, set()).add(type_)
    assert missing == {}
    assert "lakeformation:ListResources" in granted  # the Glue catalog's Lake Formation lookups (the batch results' table)


# Resource types whose service creates a service-linked role the first time an account uses it, with the
# permission of the caller (CloudFormation's execution role): without iam:CreateServiceLinkedRole for it, the first
# deploy in a new account fails with AccessDenied.
SERVICE_LINKED_ROLE_OF = {
    "AWS::ApplicationAutoScaling::ScalableTarget": "sagemaker.application-autoscaling.amazonaws.com",
    "AWS::CodeStarNotifications::NotificationRule": "codestar-notifications.amazonaws.com",
    "AWS::ApiGateway::RestApi": "ops.apigateway.amazonaws.com",
    "AWS::ECR::Repository": "ecr.amazonaws.com",
}


def test_every_service_linked_role_a_resource_needs_may_be_created(platform: SynthesizedPlatform) -> None:
    types = {r["Type"] for t in platform.templates.values() for r in t["Resources"].values()}
    needed = {role for type_, role in SERVICE_LINKED_ROLE_OF.items() if type_ in types}
    assert len(needed) == len(SERVICE_LINKED_ROLE_OF)  # the default platform has every one of these types
    allowed = statement(execution_policy(platform.config), "ServiceLinkedRolesThePlatformUses")
    assert needed <= set(allowed["Condition"]["StringEquals"]["iam:AWSServiceName"]) == set(SERVICE_LINKED_ROLES)


def test_iam_and_s3_names_the_stacks_create_start_with_the_project(platform: SynthesizedPlatform) -> None:
    """The policy's IAM and S3 statements name only <project>-*: every explicit name must fit, and
    every stack name too (CloudFormation prefixes generated names with the stack's)."""
    project = platform.config.project
    for path, stack in platform.stacks():
        assert stack.stack_name.startswith(f"{project}-"), path
    names = 0
    for path, template in platform.templates.items():
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            for key in ("RoleName", "ManagedPolicyName", "BucketName"):
                if isinstance(props.get(key), str):
                    assert props[key].startswith(f"{project}-"), (path, key, props[key])
                    names += 1
    assert names > 5


def test_the_policy_is_scoped_and_fits_a_managed_policy(platform: SynthesizedPlatform) -> None:
    policy = execution_policy(platform.config)
    for s in policy["Statement"]:
        assert "*" not in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]), s["Sid"]
    assert statement(policy, "PlatformServicesInTheRegion")["Condition"] == {"StringEquals": {"aws:RequestedRegion": platform.config.region}}
    assert not [a for a in statement(policy, "PlatformServicesInTheRegion")["Action"] if a.startswith(("iam:", "s3:", "sts:", "organizations:"))]
    project = platform.config.project
    assert all(r.split(":")[-1].split("/", 1)[1].startswith(f"{project}-") for r in statement(policy, "ProjectRolesAndPolicies")["Resource"])
    assert len(json.dumps(policy, separators=(",", ":"))) < 6144  # IAM's limit for a managed policy


def test_the_command_prints_the_policy_or_one_line_per_problem(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    ok = subprocess.run([sys.executable, "-m", "stacks.execution_policy", "--config", str(DEFAULT_CONFIG)],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["Statement"][0]["Sid"] == "PlatformServicesInTheRegion"
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_CONFIG.read_text().replace('dev: "222222222222"', 'dev: "2222"'))
    from stacks.execution_policy import main  # in process: the function python -m runs

    assert main(["--config", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"{bad}: accounts.dev: must be an AWS account id, a quoted string of exactly 12 digits (got '2222')"


def test_stacks_may_read_the_platforms_stack_outputs_and_only_theirs(default_config) -> None:  # type: ignore[no-untyped-def]
    # Fn::GetStackOutput reads with the reading stack's execution role (stacks._references)
    from stacks.execution_policy import execution_policy

    (found,) = [s for s in execution_policy(default_config)["Statement"] if s["Sid"] == "ReadProjectStackOutputs"]
    assert found["Action"] == "cloudformation:DescribeStacks"
    assert found["Resource"] == f"arn:*:cloudformation:{default_config.region}:*:stack/{default_config.project}-*/*"


def test_every_role_a_stage_template_passes_by_arn_may_be_passed(platform: SynthesizedPlatform) -> None:
    """A role a resource names by a literal ARN (not one of its own stack's roles, which ProjectRolesAndPolicies covers)
    is passed by CloudFormation under the execution policy: the policy must allow iam:PassRole on it."""
    passable = [s["Resource"] for s in execution_policy(platform.config)["Statement"]
                if "iam:PassRole" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    patterns = [r for resource in passable for r in ([resource] if isinstance(resource, str) else resource)]
    found = []
    for path, template in platform.templates.items():
        if path == "Delivery" or path.startswith("Releases"):
            continue  # the tooling account: its pipelines name the stage accounts' bootstrap roles, which they assume
        for resource in template["Resources"].values():
            for key, value in resource.get("Properties", {}).items():
                if key not in ("RoleARN", "RoleArn", "ServiceRole", "ExecutionRoleArn"):
                    continue
                # literal whatever the deployment: partition and account rendered, any other reference left as <...>
                arn = render(value, {"AWS::Partition": "aws", "AWS::AccountId": "*", "AWS::Region": "*"})
                if ":role/" in arn and "<" not in arn:
                    found.append(arn)
                    assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), (path, resource["Type"], arn)
    assert len(found) >= 3  # the endpoints' scalable targets, one per stage
