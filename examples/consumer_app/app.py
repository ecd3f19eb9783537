#!/usr/bin/env python3
"""A team's own CDK app on top of mlops_constructs: it brings its existing VPC and training-data
bucket, lets the library add what is missing, and gives its SageMaker role read access.

    npx cdk synth        # from this folder; cdk.json supplies the feature flags
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs import ArtifactStore, IsolatedNetwork, acknowledge, add_compliance_checks

ACCOUNT = "555555555555"
REGION = "eu-west-1"
SERVING_ACCOUNT = "666666666666"

# What the team already has in its account.
TEAM_VPC_ID = "vpc-0abc1234def567890"
TEAM_VPC_CIDR = "10.50.0.0/16"
TEAM_ZONES = ["eu-west-1a", "eu-west-1b"]
TEAM_ISOLATED_SUBNET_IDS = ["subnet-0abc1234def56781a", "subnet-0abc1234def56781b"]
TEAM_ISOLATED_ROUTE_TABLE_IDS = ["rtb-0abc1234def56781a", "rtb-0abc1234def56781b"]
TEAM_DATA_BUCKET = "team-training-data"
TEAM_DATA_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class ChurnTrainingStack(cdk.Stack):
    """The churn team's training resources, built from mlops_constructs around what the team owns."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)

        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "TeamVpc",
            vpc_id=TEAM_VPC_ID,
            vpc_cidr_block=TEAM_VPC_CIDR,
            availability_zones=TEAM_ZONES,
            isolated_subnet_ids=TEAM_ISOLATED_SUBNET_IDS,
            isolated_subnet_route_table_ids=TEAM_ISOLATED_ROUTE_TABLE_IDS,
        )
        # The VPC already has an S3 gateway endpoint and a CloudWatch Logs interface endpoint.
        self.network = IsolatedNetwork(self, "Network", existing_vpc=vpc, skip_endpoints=["s3", "logs"])

        data_bucket = s3.Bucket.from_bucket_attributes(
            self,
            "TeamDataBucket",
            bucket_name=TEAM_DATA_BUCKET,
            # Given so that grants on the bucket also cover its key.
            encryption_key=kms.Key.from_key_arn(self, "TeamDataKey", TEAM_DATA_KEY_ARN),
        )
        self.store = ArtifactStore(
            self,
            "Store",
            name_prefix="team-churn",
            existing_data_bucket=data_bucket,
            read_accounts=[SERVING_ACCOUNT],
        )

        self.training_role = iam.Role(
            self,
            "TrainingRole",
            # Only on behalf of this account's jobs (confused-deputy protection).
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions({"StringEquals": {"aws:SourceAccount": self.account}}),
            description="SageMaker jobs of the churn team: read training data, artifacts and images",
        )
        # The grant goes into a customer managed policy attached to the role rather than the role's
        # inline default policy: that satisfies the NIST/HIPAA/PCI IAMNoInlinePolicy rules instead of
        # acknowledging them, and the statements are still the library's own grant.
        self.training_policy = iam.ManagedPolicy(
            self,
            "TrainingReadPolicy",
            description="Read the team's training data, the churn model artifacts and images",
            roles=[self.training_role],
        )
        self.store.grant_read(self.training_policy)
        self._acknowledge_read_grant(self.training_policy)

    def _acknowledge_read_grant(self, policy: iam.ManagedPolicy) -> None:
        """Record why the wildcards of ``ArtifactStore.grant_read`` are acceptable on this one policy."""
        artifact_bucket = self.store.artifact_bucket.node.default_child
        assert isinstance(artifact_bucket, cdk.CfnResource)
        artifact_bucket_id = self.get_logical_id(artifact_bucket)
        iam5 = "AwsSolutions::AwsSolutions-IAM5"
        for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*"):
            acknowledge(
                policy,
                f"{iam5}[Action::{action}]",
                f"{action} is part of CDK's standard read grant (Bucket.grant_read, used by "
                "ArtifactStore.grant_read): read-only actions, limited to the team's data bucket and the "
                "artifact bucket and their objects; no write, delete or policy-changing action is granted.",
            )
        acknowledge(
            policy,
            f"{iam5}[Resource::arn:aws:s3:::{TEAM_DATA_BUCKET}/*]",
            f"Object-level wildcard limited to the one training-data bucket {TEAM_DATA_BUCKET}, with "
            "read-only actions: training jobs read whichever objects the team uploads there.",
        )
        acknowledge(
            policy,
            f"{iam5}[Resource::<{artifact_bucket_id}.Arn>/*]",
            "Object-level wildcard limited to the one artifact bucket this stack creates, with read-only "
            "actions: jobs read the model artifacts and reports under it, whose keys are not known in advance.",
        )
        acknowledge(
            policy,
            f"{iam5}[Resource::*]",
            "Only ecr:GetAuthorizationToken has Resource '*': it does not support resource-level "
            "permissions and is required to pull images. The image actions themselves are limited to "
            "the store's one repository.",
        )


def build_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    """The app with its one stack and the compliance packs on. ``context`` is normally cdk.json's,
    which the CDK CLI passes in itself; tests pass it explicitly."""
    app = cdk.App(outdir=outdir, context=context)
    ChurnTrainingStack(
        app,
        "ChurnTraining",
        env=cdk.Environment(account=ACCOUNT, region=REGION),
        description="Churn team: VPC endpoints in the team's VPC, artifact store, SageMaker training role",
    )
    add_compliance_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
