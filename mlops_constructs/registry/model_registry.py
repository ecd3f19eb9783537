"""ModelRegistry: a model package group shared with the serving accounts, and the approval function that
releases what a reviewer approves."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs._assets import runtime_code
from mlops_constructs._iam import Statement, allow, interface_resources, network_interfaces_arn, policy_document, service_principal
from mlops_constructs._keys import allow_cloudwatch_logs, allow_dead_letters_and_alarms, dead_letter_alarm, deny_grants_except_for_aws_resources
from mlops_constructs._vpc import select_subnets
from mlops_constructs.compliance import (
    IAM5, acknowledge, acknowledge_each, acknowledge_iam_reference, acknowledge_log_retention, acknowledge_policy_resources, guard,
    ignore_cfn_lint,
)
from mlops_constructs.errors import PropsError

_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ACCOUNT_ID = re.compile(r"\d{12}")
_PARAMETER_NAME = re.compile(r"/[a-zA-Z0-9_.\-/]{1,1010}")
_POWERTOOLS_VERSION = re.compile(r"\d+\.\d+\.\d+")

DEFAULT_POWERTOOLS_VERSION = "3.37.0"
"""The Powertools for AWS Lambda (Python) layer the approval function runs with by default."""


class ModelRegistry(Construct):
    """The model registry of one model, and the approval flow that releases approved versions.

    Creates:

    - the SageMaker **model package group**, whose resource policy lets ``shared_with_accounts``
      describe the group and describe and list its packages, and nothing more;
    - an EventBridge **rule** for ``SageMaker Model Package State Change`` events of this group whose
      ``ModelApprovalStatus`` is ``Approved`` or ``Rejected``;
    - the **approval function** (``lambda/model_approval``, Python 3.13, Powertools): in the VPC's
      isolated subnets, environment and logs encrypted with the key, logs kept ``log_retention``,
      X-Ray tracing, reserved concurrency of one (decisions for one group never race), two retries,
      then a KMS-encrypted SQS **dead-letter queue** with an **alarm** on it;
    - a KMS **key** (unless ``encryption_key`` is given) and a KMS-encrypted SNS **alert topic**
      (unless ``alert_topic`` is given) for the alarm and for withdrawn models;
    - the function's **role**, with one customer managed policy: read this group's packages, read,
      write and delete one SSM parameter, start one pipeline (or assume one role that may), publish to
      the alert topic, write its own logs, traces and dead letters, and manage its VPC network
      interfaces.

    Example::

        registry = ModelRegistry(self, "Registry",
            model_package_group_name="acme-churn",
            vpc=network.vpc,
            release_pipeline=codepipeline.Pipeline.from_pipeline_arn(self, "Release", release_pipeline_arn),
            shared_with_accounts=["333333333333", "444444444444"],
        )

    :param model_package_group_name: name of the group (1-63 letters, digits and hyphens).
    :param vpc: the VPC the function runs in; it needs interface endpoints for SageMaker, SSM, STS,
        CodePipeline, SNS, CloudWatch Logs and X-Ray (``IsolatedNetwork`` provides them).
    :param release_pipeline: the pipeline the function starts with the variable ``ModelPackageArn``.
    :param release_role: a role to assume before starting the pipeline, for a pipeline in another
        account. Default: the pipeline is started with the function's own role.
    :param vpc_subnets: where in the VPC the function runs. Default: the isolated subnets.
    :param function_role_name: name of the function's role, for a release role in another account that
        trusts it by name. Default: a generated name.
    :param shared_with_accounts: accounts allowed to describe the group and describe and list its
        packages. Default: no other account.
    :param approved_model_parameter_name: the SSM parameter holding the ARN of the package to deploy;
        the function creates, overwrites and deletes it. Default: ``/mlops/<group>/approved-model-package-arn``.
    :param encryption_key: key for the function's environment and logs, the queue and the topic.
        Default: a key with yearly rotation is created.
    :param alert_topic: where the dead-letter alarm and withdrawal alerts go; its key must let
        CloudWatch publish. Default: a KMS-encrypted topic is created.
    :param log_retention: how long the function's logs are kept. Default: one year.
    :param powertools_version: the Powertools for AWS Lambda (Python) layer version, resolved at deploy
        time from AWS's public SSM parameter for Python 3.13 on x86_64. Default: ``DEFAULT_POWERTOOLS_VERSION``.
    :param removal_policy: what happens to the group, key and log group when they leave the stack.
        Default: ``RemovalPolicy.RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_package_group_name: str,
        vpc: ec2.IVpc,
        release_pipeline: codepipeline.IPipeline,
        release_role: iam.IRole | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        function_role_name: str | None = None,
        shared_with_accounts: Sequence[str] = (),
        approved_model_parameter_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        alert_topic: sns.ITopic | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        powertools_version: str = DEFAULT_POWERTOOLS_VERSION,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        if not isinstance(model_package_group_name, str) or not _GROUP_NAME.fullmatch(model_package_group_name):
            raise PropsError(name, "model_package_group_name", model_package_group_name, "must be 1-63 letters, digits and single or repeated hyphens, starting and ending with a letter or digit")
        if isinstance(shared_with_accounts, str):
            raise PropsError(name, "shared_with_accounts", shared_with_accounts, "must be a list of 12-digit account ids, not a string")
        for account in shared_with_accounts:
            if not isinstance(account, str) or not _ACCOUNT_ID.fullmatch(account):
                raise PropsError(name, "shared_with_accounts", account, "each entry must be a 12-digit AWS account id")
        parameter_name = approved_model_parameter_name or f"/mlops/{model_package_group_name}/approved-model-package-arn"
        if not _PARAMETER_NAME.fullmatch(parameter_name):
            raise PropsError(name, "approved_model_parameter_name", parameter_name, "must be a fully qualified SSM parameter name starting with '/'")
        if function_role_name is not None and not re.fullmatch(r"[\w+=,.@-]{1,64}", function_role_name):
            raise PropsError(name, "function_role_name", function_role_name, "must be an IAM role name: 1-64 letters, digits and + = , . @ _ -")
        if not _POWERTOOLS_VERSION.fullmatch(powertools_version):
            raise PropsError(name, "powertools_version", powertools_version, "must be a release number like 3.37.0")

        stack = Stack.of(self)
        self.model_package_group_name = model_package_group_name
        self.shared_with_accounts: tuple[str, ...] = tuple(dict.fromkeys(shared_with_accounts))
        self.approved_model_parameter_name = parameter_name
        """The SSM parameter that holds the ARN of the package to deploy."""
        self.model_package_group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=model_package_group_name
        )
        model_packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"
        )

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_package_group_name,
            model_package_group_description=f"Versions of model {model_package_group_name}",
            model_package_group_policy=self._group_policy(model_packages_arn) if self.shared_with_accounts else None,
        )
        self.model_package_group.apply_removal_policy(removal_policy)

        self.encryption_key: kms.IKey = encryption_key or self._create_key(removal_policy)
        self.alert_topic: sns.ITopic = alert_topic or sns.Topic(
            self,
            "AlertTopic",
            display_name=f"Model approval alerts: {model_package_group_name}",
            master_key=self.encryption_key,
            enforce_ssl=True,
        )
        """Receives the dead-letter alarm and withdrawal alerts."""

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=durations.days(14),
        )
        """Events the function could not handle after its retries."""
        acknowledge(self.dead_letter_queue, guard("sqs_dlq_check"), "This queue is itself the function's dead-letter "
                    "queue; its messages are kept 14 days and its alarm notifies the alert topic.")

        log_group = logs.LogGroup(
            self, "FunctionLogs", encryption_key=self.encryption_key, retention=log_retention, removal_policy=removal_policy
        )
        acknowledge_log_retention(log_group)
        self.security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=vpc,
            description="Model approval function: HTTPS to the VPC endpoints only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS to VPC endpoints")

        subnets = select_subnets(vpc, vpc_subnets)
        self._network_interfaces_arn = network_interfaces_arn(stack)
        self.role = iam.Role(
            self,
            "FunctionRole",
            role_name=function_role_name,
            assumed_by=service_principal("lambda.amazonaws.com"),
            description=f"Approval function of model package group {model_package_group_name}",
        )
        """The function's execution role. Its only permissions are in ``policy``."""
        self.policy = iam.ManagedPolicy(
            self,
            "FunctionPolicy",
            description=f"Least privilege of the approval function of {model_package_group_name}",
            roles=[self.role],
            document=policy_document(self._function_statements(
                stack, model_packages_arn, parameter_name, release_pipeline, release_role, log_group, subnets.subnet_ids
            )),
        )
        """Everything the function may do, in one customer managed policy."""

        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            code=runtime_code("model_approval"),
            description=f"Releases approved versions of model package group {model_package_group_name}",
            # The role is complete as written: CDK's own grants would add an inline policy.
            role=self.role.without_policy_updates(),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "Powertools",
                    ssm.StringParameter.value_for_string_parameter(
                        self, f"/aws/service/powertools/python/x86_64/python3.13/{powertools_version}"
                    ),
                )
            ],
            environment={
                "MODEL_PACKAGE_GROUP_NAME": model_package_group_name,
                "APPROVED_MODEL_PARAMETER": parameter_name,
                "RELEASE_PIPELINE_NAME": release_pipeline.pipeline_name,
                "ALERT_TOPIC_ARN": self.alert_topic.topic_arn,
                "POWERTOOLS_SERVICE_NAME": "model-approval",
                **({"RELEASE_ROLE_ARN": release_role.role_arn} if release_role is not None else {}),
            },
            environment_encryption=self.encryption_key,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=durations.seconds(60),
            memory_size=256,
            reserved_concurrent_executions=1,
            retry_attempts=2,
            max_event_age=durations.hours(6),
            dead_letter_queue=self.dead_letter_queue,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=subnets.subnets),
            security_groups=[self.security_group],
        )
        """The approval function."""
        # Lambda checks at creation that a VPC function's role may create network interfaces, so the
        # function waits for the policy (only the policy: the role is already referenced).
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        function_resource.add_resource_dependency(
            self.policy.node.default_child,  # type: ignore[arg-type]
            "Lambda checks the VPC permissions of a function's role when it creates the function",
        )
        ignore_cfn_lint(
            function_resource,
            "W3005",
            "CDK's Function adds a DependsOn on its role beside the GetAtt of the role's ARN; harmless.",
        )
        self._acknowledge(stack, model_packages_arn)

        self.rule = events.Rule(
            self,
            "ApprovalRule",
            description=f"Approval decisions on model package group {model_package_group_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={
                    "ModelPackageGroupName": [model_package_group_name],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=durations.hours(24),
                )
            ],
        )
        """Routes this group's Approved and Rejected events to the function."""

        self.dead_letter_alarm = dead_letter_alarm(
            self,
            "DeadLetterAlarm",
            self.dead_letter_queue,
            self.alert_topic,
            f"Approval events of {model_package_group_name} failed and wait in the dead-letter queue: "
            "the approved-model parameter may be out of date",
        )
        """Fires when any event is in the dead-letter queue."""

    # ------------------------------------------------------------------------------------------------

    def _group_policy(self, model_packages_arn: str) -> dict:
        partition = Stack.of(self).partition  # a literal where the region is known, like CDK's own principals
        principals = {"AWS": [f"arn:{partition}:iam::{account}:root" for account in self.shared_with_accounts]}
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ServingAccountsDescribeGroup",
                    "Effect": "Allow",
                    "Principal": principals,
                    "Action": ["sagemaker:DescribeModelPackageGroup"],
                    "Resource": self.model_package_group_arn,
                },
                {
                    "Sid": "ServingAccountsReadPackages",
                    "Effect": "Allow",
                    "Principal": principals,
                    "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                    "Resource": model_packages_arn,
                },
            ],
        }

    def _create_key(self, removal_policy: RemovalPolicy) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the approval function's environment, logs, dead letters and alerts ({self.node.path})",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        allow_cloudwatch_logs(key)
        allow_dead_letters_and_alarms(key)
        deny_grants_except_for_aws_resources(key)
        return key

    def _function_statements(
        self,
        stack: Stack,
        model_packages_arn: str,
        parameter_name: str,
        release_pipeline: codepipeline.IPipeline,
        release_role: iam.IRole | None,
        log_group: logs.ILogGroup,
        subnet_ids: Sequence[str],
    ) -> list[Statement]:
        parameter_arn = stack.format_arn(service="ssm", resource="parameter", resource_name=parameter_name.lstrip("/"))
        release = (
            allow("AssumeReleaseRole", ["sts:AssumeRole"], [release_role.role_arn])
            if release_role is not None
            else allow("StartReleasePipeline", ["codepipeline:StartPipelineExecution"], [release_pipeline.pipeline_arn])
        )
        return [
            allow("ReadThisGroupsPackages", ["sagemaker:DescribeModelPackage"], [model_packages_arn]),
            # The function lists only its own group (see _acknowledge for why "*").
            allow("ListPackages", ["sagemaker:ListModelPackages"], ["*"]),
            allow("ApprovedModelParameter", ["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"], [parameter_arn]),
            release,
            allow("Alert", ["sns:Publish"], [self.alert_topic.topic_arn]),
            allow("DeadLetters", ["sqs:SendMessage"], [self.dead_letter_queue.queue_arn]),
            allow("UseKey", ["kms:Decrypt", "kms:GenerateDataKey"], [self.encryption_key.key_arn]),
            allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn]),
            # X-Ray's trace APIs have no resource-level permissions.
            allow("Traces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
            # Lambda attaches the function to the VPC through network interfaces it creates with this
            # role, in the function's own subnets and security group. DescribeNetworkInterfaces has no
            # resource-level permissions; the interfaces themselves do not exist before Lambda creates them.
            allow("DescribeNetworkInterfaces", ["ec2:DescribeNetworkInterfaces"], ["*"]),
            allow(
                "ManageNetworkInterfaces",
                ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                interface_resources(stack, subnet_ids, self.security_group, self._network_interfaces_arn),
            ),
        ]

    def _acknowledge(self, stack: Stack, model_packages_arn: str) -> None:
        acknowledge_policy_resources(self.policy, IAM5, {
            model_packages_arn: "Versions of this one model package group: the function reads whichever version an approval "
            "event names, and version numbers are not known in advance.",
            self._network_interfaces_arn: "Network interfaces Lambda creates for this function in its own subnets and security group "
            "(named in the same statement); their ids do not exist before Lambda creates them.",
            "*": "Only for actions without resource-level permissions: sagemaker:ListModelPackages (the function "
            "lists its own group only), xray:PutTraceSegments/PutTelemetryRecords and ec2:DescribeNetworkInterfaces.",
        }, stack=stack)
        acknowledge_iam_reference(
            self.policy, "resource-star[sagemaker:ListModelPackages][*]",
            "The Service Authorization Reference lists model-package as an optional resource of ListModelPackages, but "
            "the request names a package group, not a package, and AWS documents no ARN that authorizes listing one "
            "group's versions (its managed AmazonSageMakerModelRegistryFullAccess policy grants the action on *). A "
            "wrong narrowing would fail rollbacks at the moment they are needed; the function lists only its own group.",
        )
        acknowledge_each(self.function, {
            "AwsSolutions::AwsSolutions-L1": "The platform's functions run on Python 3.13, the runtime they are tested "
            "for and whose Powertools layer version is pinned with them; moving runtime is a deliberate, tested change.",
            guard("lambda_inside_vpc_check"): "The function runs in the VPC: its VpcConfig names its own security group "
            "and the isolated subnets, which come from another stack as outputs that Guard cannot resolve to subnets.",
        })

