#!/usr/bin/env python3
"""A team's app that builds on mlops_constructs through its public API, without forking it.

Two stacks, one per account:

- ``ChurnModel`` (the team's training account): network, store, a model registry whose approval function
  may also read the team's release-notes parameter (a statement added to the function's role), and a
  training pipeline with one state of the team's own before the training job (it stamps the run).
- ``ChurnServing`` (the serving account): a canary endpoint with an extra rollback alarm of the team's own
  (client errors) and a latency alarm on ``metric_model_latency()`` that pages the team; a Lambda in the VPC
  that may invoke the endpoint (``grant_invoke``) and read the training account's registry group
  (``ModelRegistry.from_model_package_group_arn(...).grant_read``).

    npx cdk synth        # from this folder; cdk.json supplies the feature flags
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from mlops_constructs import (
    ArtifactStore,
    CanaryEndpoint,
    FixedZonesStack,
    IsolatedNetwork,
    ManagedPolicyRole,
    ModelRegistry,
    TrainingPipeline,
    acknowledge,
    add_compliance_checks,
    allow_cloudwatch_logs,
    builtin_image_uri,
    deny_grants_except_for_aws_resources,
)

REGION = "eu-west-1"
TRAINING_ACCOUNT = "555555555555"
SERVING_ACCOUNT = "666666666666"
ZONES = ["eu-west-1a", "eu-west-1b"]
GROUP = "team-churn"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{TRAINING_ACCOUNT}:model-package/{GROUP}/3"
RELEASE_NOTES_PARAMETER = f"arn:aws:ssm:{REGION}:{TRAINING_ACCOUNT}:parameter/team-churn/release-notes"
RELEASE_PIPELINE = f"arn:aws:codepipeline:{REGION}:{TRAINING_ACCOUNT}:team-churn-release"


class ChurnModelStack(FixedZonesStack):
    """Training and registry in the team's training account."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, availability_zones=ZONES, **kwargs)
        self.network = IsolatedNetwork(self, "Network", availability_zones=ZONES, cidr="10.60.0.0/16")
        self.store = ArtifactStore(self, "Store", name_prefix="team-churn", read_accounts=[SERVING_ACCOUNT])

        self.registry = ModelRegistry(
            self, "Registry", model_package_group_name=GROUP, vpc=self.network.vpc, read_accounts=[SERVING_ACCOUNT],
            release_pipeline=codepipeline.Pipeline.from_pipeline_arn(self, "ReleasePipeline", RELEASE_PIPELINE),
        )
        # Extending: the approval function also reads the team's release notes. The statement lands in the
        # function role's managed policy, next to the library's own.
        self.registry.add_to_role_policy(iam.PolicyStatement(
            sid="ReadReleaseNotes", actions=["ssm:GetParameter"], resources=[RELEASE_NOTES_PARAMETER],
        ))

        # Extending: a state of the team's own before the training job.
        self.stamp = sfn.Pass(self, "StampRun", parameters={"team": "churn", "run.$": "$$.Execution.Name"}, result_path="$.stamp")
        self.training = TrainingPipeline(
            self, "Training", model_name="churn", vpc=self.network.vpc,
            data_bucket=self.store.data_bucket, data_prefix="churn/", artifact_bucket=self.store.artifact_bucket,
            encryption_key=self.store.encryption_key, model_package_group_name=GROUP,
            training_image=builtin_image_uri("xgboost", "1.7-1", REGION),
            processing_image=builtin_image_uri("sklearn", "1.2-1", REGION),
            before_step={"train": self.stamp},
        )


class ChurnServingStack(FixedZonesStack):
    """The churn endpoint in the serving account, and the team's function that calls it."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, availability_zones=ZONES, **kwargs)
        self.network = IsolatedNetwork(self, "Network", availability_zones=ZONES, cidr="10.61.0.0/16")
        self.store = ArtifactStore(self, "Store", name_prefix="team-churn-serving")
        self.endpoint = CanaryEndpoint(
            self, "Churn", endpoint_name="team-churn", model_package_arn=PACKAGE, vpc=self.network.vpc,
            encryption_key=self.store.encryption_key, capture_bucket=self.store.artifact_bucket,
            artifact_bucket=s3.Bucket.from_bucket_name(self, "TrainingArtifacts", f"team-churn-artifacts-{TRAINING_ACCOUNT}-{REGION}"),
            artifact_prefix="churn/", artifact_key_alias="alias/team-churn/artifacts",
        )

        # Extending: client errors roll a deployment back too.
        self.client_errors = cloudwatch.Alarm(
            self, "ClientErrorAlarm", alarm_name="team-churn-4xx", alarm_description="4XX errors of team-churn: rolls a deployment back",
            metric=self.endpoint.metric("Invocation4XXErrors", statistic="Sum", period=cdk.Duration.minutes(1)),
            threshold=5, evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.endpoint.add_rollback_alarm(self.client_errors)
        # A latency objective of the team's own (p90 under 300 ms), on the endpoint's metric.
        self.latency_objective = cloudwatch.Alarm(
            self, "LatencyObjective", alarm_name="team-churn-p90-latency", alarm_description="p90 model latency of team-churn above 300 ms",
            metric=self.endpoint.metric_model_latency(statistic="p90", period=cdk.Duration.minutes(5)),
            threshold=300_000, evaluation_periods=3, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.client_errors, self.latency_objective):
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.endpoint.notification_topic))

        self.caller = self._caller_function()
        # Extending: the function may invoke the endpoint and read the training account's registry group.
        self.endpoint.grant_invoke(self.caller)
        self.training_registry = ModelRegistry.from_model_package_group_arn(
            self, "TrainingRegistry", f"arn:aws:sagemaker:{REGION}:{TRAINING_ACCOUNT}:model-package-group/{GROUP}"
        )
        self.training_registry.grant_read(self.caller)

    def _caller_function(self) -> lambda_.Function:
        """The team's function, built to the same gates as the library's own: in the VPC, every permission in
        one customer managed policy (``ManagedPolicyRole``: CDK's own grants to the function land there too),
        an encrypted log group and dead-letter queue, reserved concurrency."""
        # The function's own key: CloudWatch Logs may use it for this account's log groups (the store's key
        # admits only the store's services), and the role may use it for the dead-letter queue and environment.
        key = kms.Key(self, "CallerKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN,
                      description="Encrypts the churn caller's logs, dead letters and environment")
        allow_cloudwatch_logs(key)
        deny_grants_except_for_aws_resources(key)  # Control Tower's CT.KMS.PR.3 (Guard)
        self.caller_role = ManagedPolicyRole.with_managed_policy(
            self, "CallerRole", policy_description="The churn caller: invoke the endpoint, read its registry",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description="The team's function that scores with the churn endpoint",
        )
        log_group = logs.LogGroup(self, "CallerLogs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key,
                                  removal_policy=cdk.RemovalPolicy.RETAIN)
        dead_letters = sqs.Queue(self, "CallerDeadLetters", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                                 enforce_ssl=True, retention_period=cdk.Duration.days(14))
        acknowledge(dead_letters, "cdk-validator-cfnguard::sqs_dlq_check",
                    "This queue is the function's dead-letter queue: a queue behind it would only hold the same failed events again.")
        function = lambda_.Function(
            self, "Caller", runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler", role=self.caller_role,
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {'ok': True}\n"),
            vpc=self.network.vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            log_group=log_group, dead_letter_queue=dead_letters, reserved_concurrent_executions=5,
            environment={"ENDPOINT_NAME": self.endpoint.endpoint_name}, environment_encryption=key,
        )
        subnet_arns = [self.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id)
                       for s in self.network.vpc.isolated_subnets]
        security_groups = [self.format_arn(service="ec2", resource="security-group", resource_name=g.security_group_id)
                           for g in function.connections.security_groups]
        interfaces = self.format_arn(service="ec2", resource="network-interface", resource_name="*")
        function.add_to_role_policy(iam.PolicyStatement(
            sid="LogDelivery", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn],
        ))
        # Lambda attaches the function to the VPC through network interfaces it creates with this role.
        function.add_to_role_policy(iam.PolicyStatement(
            sid="ManageNetworkInterfaces", actions=["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                                    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            resources=[interfaces, *subnet_arns, *security_groups],
        ))
        function.add_to_role_policy(iam.PolicyStatement(sid="DescribeNetworkInterfaces", actions=["ec2:DescribeNetworkInterfaces"], resources=["*"]))
        # Send to the encrypted dead-letter queue (SQS asks for a data key) and read the encrypted environment.
        function.add_to_role_policy(iam.PolicyStatement(sid="UseOwnKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]))
        self._acknowledge_caller_policy(interfaces)
        return function

    def _acknowledge_caller_policy(self, interfaces: str) -> None:
        policy = self.caller_role.managed_policy
        assert policy is not None
        iam5 = "AwsSolutions::AwsSolutions-IAM5"
        acknowledge(policy, f"{iam5}[Resource::arn:aws:sagemaker:{REGION}:{TRAINING_ACCOUNT}:model-package/{GROUP}/*]",
                    "ModelRegistry.grant_read: the versions of the one churn package group, whose numbers are not known in advance.")
        acknowledge(policy, f"{iam5}[Resource::arn:aws:ec2:{REGION}:{SERVING_ACCOUNT}:network-interface/*]",
                    "Network interfaces Lambda creates for this function, limited by the same statement to its subnets and "
                    "security group; their ids do not exist before Lambda creates them.")
        acknowledge(policy, f"{iam5}[Resource::*]",
                    "Only actions without resource-level permissions: sagemaker:ListModelPackages (from ModelRegistry.grant_read) "
                    "and ec2:DescribeNetworkInterfaces.")


def build_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    """The app with its two stacks and the compliance packs on. ``context`` is normally cdk.json's,
    which the CDK CLI passes in itself; tests pass it explicitly."""
    app = cdk.App(outdir=outdir, context=context)
    ChurnModelStack(app, "ChurnModel", env=cdk.Environment(account=TRAINING_ACCOUNT, region=REGION))
    ChurnServingStack(app, "ChurnServing", env=cdk.Environment(account=SERVING_ACCOUNT, region=REGION))
    add_compliance_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
