"""ModelRegistry: a model package group shared with the serving accounts, and the approval function that
releases what a reviewer approves; ModelPackageGroupReference: a group made elsewhere (another app or account)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Arn, ArnFormat, IAnyProducer, IResolveContext, Lazy, RemovalPolicy, Stack
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
from mlops_constructs._keys import Key, allow_cloudwatch_logs, allow_dead_letters_and_alarms, dead_letter_alarm, deny_grants_except_for_aws_resources, lost_events_alarm
from mlops_constructs._managed_policy_role import ManagedPolicyRole
from mlops_constructs._validate import check_interface, check_pattern, check_type, is_token, renamed
from mlops_constructs._vpc import select_subnets
from mlops_constructs.compliance import (
    IAM5, acknowledge, acknowledge_each, acknowledge_iam_reference, acknowledge_log_retention, acknowledge_policy_resources, guard,
    ignore_cfn_lint,
)
from mlops_constructs.errors import PropsError

_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_GROUP_NAME_RULE = "must be 1-63 letters, digits and single or repeated hyphens, starting and ending with a letter or digit"
_ACCOUNT_ID = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_GROUP_ARN = re.compile(r"arn:(aws[a-z-]*):sagemaker:([a-z0-9-]+):(\d{12}):model-package-group/([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})")
_PARAMETER_NAME = re.compile(r"/[a-zA-Z0-9_.\-/]{1,1010}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_POWERTOOLS_VERSION = re.compile(r"\d+\.\d+\.\d+")

DEFAULT_POWERTOOLS_VERSION = "3.37.0"
"""The Powertools for AWS Lambda (Python) layer the approval function runs with by default."""

READ_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
"""What reading a group takes on the group itself (resource type ``model-package-group``)."""
READ_PACKAGES_ACTIONS = ("sagemaker:DescribeModelPackage",)
"""What reading a group's versions takes on the versions (resource type ``model-package``, required)."""
LIST_PACKAGES_ACTIONS = ("sagemaker:ListModelPackages",)
"""Listing a group's versions. The Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html) gives
``ListModelPackages`` only an optional ``model-package`` resource, while the request names a group, not a
version; AWS documents no ARN that authorizes listing one group's versions and its own
AmazonSageMakerModelRegistryFullAccess policy grants it on ``*``. Identity policies get it on ``*``; the
group's resource policy, for other accounts, on the group's versions (AWS's cross-account example)."""


@jsii.implements(IAnyProducer)
class _Produce:
    """A value computed when the template is rendered, after every grant was made."""

    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> Any:
        return self._produce()


class _ModelPackageGroupBase(Construct):
    """What a model package group offers, whether this app made it (:class:`ModelRegistry`) or another app or
    account did (:class:`ModelPackageGroupReference`)."""

    model_package_group_name: str
    """The group's name."""
    model_package_group_arn: str
    """The group's ARN."""
    model_packages_arn: str
    """The ARN pattern of the group's versions, ``...:model-package/<group>/*``."""

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read this group and its versions: ``sagemaker:DescribeModelPackageGroup`` on the
        group, ``sagemaker:DescribeModelPackage`` on its versions and ``sagemaker:ListModelPackages`` on
        ``*`` (see :data:`LIST_PACKAGES_ACTIONS` for why). No KMS permission: versions are registered
        without a KMS key of their own (no ``SecurityConfig``), and the registry's key encrypts only its
        function's environment and logs, its dead letters and its topic. Reading a version's artifacts is
        the artifact bucket's grant (``ArtifactStore.grant_read``).

        The statements go into the grantee's identity policy. They bring two cdk-nag ``AwsSolutions-IAM5``
        findings to that policy (the versions' ``/*`` and ``*``) which the grantee's owner acknowledges,
        for the reasons above. A grantee in another account also needs the group's resource policy to
        let it in: :class:`ModelRegistry` adds it there (see its ``grant_read``); for a referenced group,
        the owner lists the grantee's account in ``read_accounts``."""
        check_interface(type(self).__name__, "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(READ_GROUP_ACTIONS), resource_arns=[self.model_package_group_arn])
        grant = grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=list(READ_PACKAGES_ACTIONS), resource_arns=[self.model_packages_arn]))
        grant = grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=list(LIST_PACKAGES_ACTIONS), resource_arns=["*"]))
        self._let_in(grantee.grant_principal)
        return grant

    def _let_in(self, principal: iam.IPrincipal) -> None:
        """Add ``principal`` to the group's resource policy when it is in another account (the owner only)."""


class ModelPackageGroupReference(_ModelPackageGroupBase):
    """A model package group made by another app or in another account, from
    :meth:`ModelRegistry.from_model_package_group_name` or :meth:`ModelRegistry.from_model_package_group_arn`.
    It creates nothing; :meth:`grant_read` writes the grantee's side only (the group's owner shares it with
    the grantee's account through ``ModelRegistry(read_accounts=...)``)."""

    def __init__(self, scope: Construct, id: str, *, model_package_group_name: str, model_package_group_arn: str,
                 model_packages_arn: str, account: str, region: str) -> None:
        super().__init__(scope, id)
        self.model_package_group_name = model_package_group_name
        self.model_package_group_arn = model_package_group_arn
        self.model_packages_arn = model_packages_arn
        self.account = account
        """The account that owns the group."""
        self.region = region
        """The group's region."""


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class ModelRegistry(_ModelPackageGroupBase):
    """The model registry of one model, and the approval flow that releases approved versions.

    Creates:

    - the SageMaker **model package group**, whose resource policy lets ``read_accounts`` describe the
      group and describe and list its packages, and nothing more (and principals of other accounts given
      :meth:`grant_read`, the same);
    - an EventBridge **rule** for ``SageMaker Model Package State Change`` events of this group whose
      ``ModelApprovalStatus`` is ``Approved`` or ``Rejected``;
    - the **approval function** (``lambda/model_approval``, Python 3.13, Powertools): in the VPC's
      isolated subnets, environment and logs encrypted with the key, logs kept ``log_retention``,
      X-Ray tracing, reserved concurrency of one (decisions for one group never race), two retries,
      then a KMS-encrypted SQS **dead-letter queue** with an **alarm** on it;
    - a KMS **key** (unless ``encryption_key`` is given) and a KMS-encrypted SNS **notification topic**
      (unless ``notification_topic`` is given) for the alarm and for withdrawn models;
    - the function's **role**, with one customer managed policy: read this group's packages, read,
      write and delete one SSM parameter, start one pipeline (or assume one role that may), publish to
      the notification topic, write its own logs, traces and dead letters, and manage its VPC network
      interfaces. Statements added later (:meth:`add_to_role_policy`, ``function.add_to_role_policy``,
      grants to the registry or the function) go into that policy too.

    The registry is ``iam.IGrantable`` (its grant principal is the function's role) and ``ec2.IConnectable``
    (the function's security group).

    Example::

        registry = ModelRegistry(self, "Registry",
            model_package_group_name="acme-churn",
            vpc=network.vpc,
            release_pipeline=codepipeline.Pipeline.from_pipeline_arn(self, "Release", release_pipeline_arn),
            read_accounts=["333333333333", "444444444444"],
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
    :param read_accounts: accounts allowed to describe the group and describe and list its packages.
        Default: no other account.
    :param approved_model_parameter_name: the SSM parameter holding the ARN of the package to deploy;
        the function creates and overwrites it (``none`` once it withdraws a version). Default: ``/mlops/<group>/approved-model-package-arn``.
    :param encryption_key: key for the function's environment and logs, the queue and the topic.
        Default: a key with yearly rotation is created.
    :param notification_topic: where the dead-letter alarm and withdrawal alerts go; its key must let
        CloudWatch publish. The function may use its key (``master_key``) to publish; an imported topic's key is the
        caller's to grant. Default: a KMS-encrypted topic is created.
    :param log_retention: how long the function's logs are kept. Default: one year.
    :param powertools_version: the Powertools for AWS Lambda (Python) layer version, resolved at deploy
        time from AWS's public SSM parameter for Python 3.13 on x86_64. Default: ``DEFAULT_POWERTOOLS_VERSION``.
    :param removal_policy: what happens to the group, key and log group when they leave the stack.
        Default: ``RemovalPolicy.RETAIN``.
    :param shared_with_accounts: deprecated name of ``read_accounts``.
    :param alert_topic: deprecated name of ``notification_topic``.
    """

    VPC_ENDPOINTS: tuple[str, ...] = ("sagemaker-api", "ssm", "sns", "sts", "codepipeline", "xray", "sqs", "kms", "logs")
    """The interface endpoints (``IsolatedNetwork`` short names) the approval function may call from its VPC: the
    registry, the parameter, the alert topic, STS and CodePipeline (directly or through ``release_role``), X-Ray;
    and the services of its dead-letter queue, key and logs, which its role may call. S3 is a gateway endpoint."""

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
        read_accounts: Sequence[str] | None = None,
        approved_model_parameter_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        notification_topic: sns.ITopic | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        powertools_version: str = DEFAULT_POWERTOOLS_VERSION,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        shared_with_accounts: Sequence[str] | None = None,
        alert_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        read_accounts = renamed(name, "read_accounts", read_accounts, "shared_with_accounts", shared_with_accounts)
        notification_topic = renamed(name, "notification_topic", notification_topic, "alert_topic", alert_topic)
        accounts = self._validate(
            name, model_package_group_name=model_package_group_name, vpc=vpc, release_pipeline=release_pipeline,
            release_role=release_role, vpc_subnets=vpc_subnets, function_role_name=function_role_name,
            read_accounts=read_accounts, encryption_key=encryption_key, notification_topic=notification_topic,
            log_retention=log_retention, powertools_version=powertools_version, removal_policy=removal_policy,
        )
        parameter_name = approved_model_parameter_name or f"/mlops/{model_package_group_name}/approved-model-package-arn"
        check_pattern(name, "approved_model_parameter_name", parameter_name, _PARAMETER_NAME,
                      "must be a fully qualified SSM parameter name starting with '/'")

        stack = Stack.of(self)
        self.model_package_group_name = model_package_group_name
        self.read_accounts: tuple[str, ...] = accounts
        """The accounts whose principals may describe the group and describe and list its packages."""
        self.approved_model_parameter_name = parameter_name
        """The SSM parameter that holds the ARN of the package to deploy."""
        self.model_package_group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=model_package_group_name
        )
        self.model_packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"
        )
        model_packages_arn = self.model_packages_arn
        self._granted_principals: list[str] = []
        self._partition = stack.partition  # a literal where the region is known, like CDK's own principals

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_package_group_name,
            model_package_group_description=f"Versions of model {model_package_group_name}",
            # Rendered at synthesis, with the principals grant_read let in after construction.
            model_package_group_policy=Lazy.uncached_any(_Produce(self._group_policy)),
        )
        """The SageMaker model package group (L1)."""
        self.model_package_group.apply_removal_policy(removal_policy)
        if self.read_accounts:
            acknowledge_iam_reference(
                self.model_package_group, f"resource-mismatch[sagemaker:CreateModel][{stack.resolve(self.model_packages_arn)}]",
                "The Service Authorization Reference gives CreateModel only the model resource, but SageMaker's guide to deploying "
                "a model version from another account has the group's policy allow sagemaker:CreateModel on the versions "
                "(https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy.html). In this resource policy it lets the "
                "serving accounts create models from the versions in their own accounts; if AWS does not evaluate it, it allows nothing.",
            )

        self.encryption_key: kms.IKey = encryption_key or self._create_key(removal_policy)
        """Encrypts the function's environment and logs, the dead-letter queue and the topic."""
        self.notification_topic: sns.ITopic = notification_topic or sns.Topic(
            self,
            "AlertTopic",  # the id it had as alert_topic: a new id would replace the topic
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
        """The function's security group: no ingress, HTTPS to the VPC's CIDR (its endpoints)."""
        self.security_group.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS to VPC endpoints")

        subnets = select_subnets(vpc, vpc_subnets)
        self._network_interfaces_arn = network_interfaces_arn(stack)
        self.role: ManagedPolicyRole = ManagedPolicyRole(
            self,
            "FunctionRole",
            role_name=function_role_name,
            assumed_by=service_principal("lambda.amazonaws.com"),
            description=f"Approval function of model package group {model_package_group_name}",
        )
        """The function's execution role. Its only permissions are in ``policy``, where statements added to
        the role (grants, ``add_to_role_policy``) go too."""
        statements = self._function_statements(
            stack, model_packages_arn, parameter_name, release_pipeline, release_role, log_group, subnets.subnet_ids
        )
        self.policy = iam.ManagedPolicy(
            self,
            "FunctionPolicy",
            description=f"Least privilege of the approval function of {model_package_group_name}",
            roles=[self.role],
            document=policy_document(statements),
        )
        """Everything the function may do, in one customer managed policy."""
        self.role.keep_statements_in(self.policy, statements)

        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            code=runtime_code("model_approval"),
            description=f"Releases approved versions of model package group {model_package_group_name}",
            # The role keeps its permissions in the managed policy: CDK's own statements for tracing and the
            # dead-letter queue are already there, and what is added later lands there too.
            role=self.role,
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
                "ALERT_TOPIC_ARN": self.notification_topic.topic_arn,
                "POWERTOOLS_SERVICE_NAME": "model-approval",
                # STS through the VPC's regional endpoint: an SDK on the older "legacy" default would call the
                # global sts.amazonaws.com, which the isolated subnets cannot reach, and never start a release
                # (https://docs.aws.amazon.com/sdkref/latest/guide/feature-sts-regionalized-endpoints.html).
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
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
            self.notification_topic,
            f"Approval events of {model_package_group_name} failed and wait in the dead-letter queue: "
            "the approved-model parameter may be out of date",
        )
        """Fires when any event is in the dead-letter queue."""
        self.lost_events_alarm = lost_events_alarm(
            self, "LostEventsAlarm", self.rule, self.notification_topic,
            f"An approval event of {model_package_group_name} could be neither delivered nor kept in the dead-letter queue: "
            "the approved-model parameter may be out of date",
        )
        """Fires when EventBridge could neither deliver an approval event nor put it in the dead-letter queue."""

    # ------------------------------------------------------------------------------------------------
    # Imports

    @staticmethod
    def from_model_package_group_name(scope: Construct, id: str, group_name: str, *, account: str | None = None,
                                      region: str | None = None) -> ModelPackageGroupReference:
        """The group ``group_name`` of ``account`` in ``region`` (default: ``scope``'s stack's), made by another
        app or in another account."""
        name = "ModelRegistry"
        check_pattern(name, "group_name", group_name, _GROUP_NAME, _GROUP_NAME_RULE)
        check_pattern(name, "account", account, _ACCOUNT_ID, "must be a 12-digit AWS account id", optional=True)
        check_pattern(name, "region", region, _REGION, "must be an AWS region name like eu-west-1", optional=True)
        stack = Stack.of(scope)
        account = account or stack.account
        region = region or stack.region
        group_arn = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=group_name,
                                     account=account, region=region)
        packages_arn = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_name}/*",
                                        account=account, region=region)
        return ModelPackageGroupReference(scope, id, model_package_group_name=group_name, model_package_group_arn=group_arn,
                                          model_packages_arn=packages_arn, account=account, region=region)

    @staticmethod
    def from_model_package_group_arn(scope: Construct, id: str, arn: str) -> ModelPackageGroupReference:
        """The group ``arn`` (``arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>``), made by
        another app or in another account; a token is taken apart at deploy time."""
        name = "ModelRegistry"
        if is_token(arn):
            parts = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME)
            partition, region, account, group_name = parts.partition, parts.region, parts.account, parts.resource_name
        else:
            check_type(name, "arn", arn, str)
            match = _GROUP_ARN.fullmatch(arn)
            if match is None:
                raise PropsError(name, "arn", arn, "must be a model package group ARN, "
                                 "arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>")
            partition, region, account, group_name = match.group(1, 2, 3, 4)
        packages_arn = f"arn:{partition}:sagemaker:{region}:{account}:model-package/{group_name}/*"
        return ModelPackageGroupReference(scope, id, model_package_group_name=str(group_name), model_package_group_arn=arn,
                                          model_packages_arn=packages_arn, account=str(account), region=str(region))

    # ------------------------------------------------------------------------------------------------
    # Resource model

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The function's role: what is granted to the registry, the function may do."""
        return self.role

    @property
    def connections(self) -> ec2.Connections:
        """The function's security group."""
        return self.function.connections

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Add ``statement`` to the function's managed policy (``policy``), as ``function.add_to_role_policy``
        and grants to the function also do. cdk-nag checks it like the rest of the policy: a wildcard needs
        an acknowledgement on ``policy``."""
        check_type(type(self).__name__, "statement", statement, iam.PolicyStatement)
        self.role.add_to_principal_policy(statement)

    def _let_in(self, principal: iam.IPrincipal) -> None:
        """Add a principal of another account to the group's resource policy (its own account's identity
        policy is the other half), as CDK does for resources with a policy. A principal of this account, one
        whose account is unknown, or of an account already in ``read_accounts`` needs nothing here."""
        account = principal.principal_account
        own = Stack.of(self).account
        if account is None or is_token(account) or is_token(own) or account == own or account in self.read_accounts:
            return
        arns = principal.policy_fragment.principal_json.get("AWS", [])
        self._granted_principals.extend(a for a in arns if a not in self._granted_principals)

    # ------------------------------------------------------------------------------------------------
    # Deprecated names

    @property
    def alert_topic(self) -> sns.ITopic:
        """Deprecated: ``notification_topic``."""
        warnings.warn("ModelRegistry: alert_topic is deprecated, use notification_topic (removed in the next minor version)",
                      DeprecationWarning, stacklevel=2)
        return self.notification_topic

    @property
    def shared_with_accounts(self) -> tuple[str, ...]:
        """Deprecated: ``read_accounts``."""
        warnings.warn("ModelRegistry: shared_with_accounts is deprecated, use read_accounts (removed in the next minor version)",
                      DeprecationWarning, stacklevel=2)
        return self.read_accounts

    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def _validate(name: str, *, model_package_group_name: Any, vpc: Any, release_pipeline: Any, release_role: Any, vpc_subnets: Any,
                  function_role_name: Any, read_accounts: Any, encryption_key: Any, notification_topic: Any, log_retention: Any,
                  powertools_version: Any, removal_policy: Any) -> tuple[str, ...]:
        """Each prop checked with the shared validators; the accounts, once each."""
        check_pattern(name, "model_package_group_name", model_package_group_name, _GROUP_NAME, _GROUP_NAME_RULE)
        check_interface(name, "vpc", vpc, "vpc_id", "must be an ec2.IVpc")
        check_interface(name, "release_pipeline", release_pipeline, "pipeline_arn", "must be a codepipeline.IPipeline")
        check_interface(name, "release_role", release_role, "role_arn", "must be an iam.IRole", optional=True)
        check_type(name, "vpc_subnets", vpc_subnets, ec2.SubnetSelection, optional=True)
        check_pattern(name, "function_role_name", function_role_name, _ROLE_NAME,
                      "must be an IAM role name: 1-64 letters, digits and + = , . @ _ -", optional=True)
        check_interface(name, "encryption_key", encryption_key, "key_arn", "must be a kms.IKey", optional=True)
        check_interface(name, "notification_topic", notification_topic, "topic_arn", "must be an sns.ITopic", optional=True)
        check_type(name, "log_retention", log_retention, logs.RetentionDays)
        check_pattern(name, "powertools_version", powertools_version, _POWERTOOLS_VERSION, "must be a release number like 3.37.0")
        check_type(name, "removal_policy", removal_policy, RemovalPolicy)
        if read_accounts is None:
            return ()
        if isinstance(read_accounts, str) or not isinstance(read_accounts, Sequence):
            raise PropsError(name, "read_accounts", read_accounts, "must be a list of 12-digit account ids, not a string"
                             if isinstance(read_accounts, str) else "must be a list of 12-digit account ids")
        for account in read_accounts:
            check_pattern(name, "read_accounts", account, _ACCOUNT_ID, "each entry must be a 12-digit AWS account id")
        return tuple(dict.fromkeys(read_accounts))

    # ------------------------------------------------------------------------------------------------

    def _group_policy(self) -> dict[str, Any] | None:
        """The group's resource policy: ``read_accounts`` (account roots) and the principals of other accounts
        given :meth:`grant_read`, each allowed to describe the group and describe and list its versions.
        ``None`` (no policy) when there are neither."""
        statements = []
        for sid, arns in (("ServingAccounts", [f"arn:{self._partition}:iam::{account}:root" for account in self.read_accounts]),
                          ("GrantedPrincipals", self._granted_principals)):
            if not arns:
                continue
            principals = {"AWS": list(arns)}
            statements += [
                {"Sid": f"{sid}DescribeGroup", "Effect": "Allow", "Principal": principals,
                 "Action": list(READ_GROUP_ACTIONS), "Resource": self.model_package_group_arn},
                {"Sid": f"{sid}ReadPackages", "Effect": "Allow", "Principal": principals,
                 "Action": [*READ_PACKAGES_ACTIONS, *LIST_PACKAGES_ACTIONS], "Resource": self.model_packages_arn},
            ]
            if sid == "ServingAccounts":
                # The serving accounts create their endpoints' models from these versions. SageMaker's guide to
                # deploying a model version from another account has the group's policy allow sagemaker:CreateModel
                # on the versions (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy.html,
                # "Deploy a Model Version from a Different Account"); the model is created in the serving account.
                # Not UpdateModelPackage: approval stays with this account.
                statements.append({"Sid": f"{sid}CreateModels", "Effect": "Allow", "Principal": principals,
                                   "Action": "sagemaker:CreateModel", "Resource": self.model_packages_arn})
        return {"Version": "2012-10-17", "Statement": statements} if statements else None

    def _create_key(self, removal_policy: RemovalPolicy) -> kms.Key:
        key = Key(
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
        topic_key: kms.IKey | None = getattr(self.notification_topic, "master_key", None)
        release = (
            allow("AssumeReleaseRole", ["sts:AssumeRole"], [release_role.role_arn])
            if release_role is not None
            else allow("StartReleasePipeline", ["codepipeline:StartPipelineExecution"], [release_pipeline.pipeline_arn])
        )
        return [
            allow("ReadThisGroupsPackages", ["sagemaker:DescribeModelPackage"], [model_packages_arn]),
            # The function lists only its own group (see _acknowledge for why "*").
            allow("ListPackages", ["sagemaker:ListModelPackages"], ["*"]),
            allow("ApprovedModelParameter", ["ssm:GetParameterHistory", "ssm:PutParameter"], [parameter_arn]),
            release,
            allow("Alert", ["sns:Publish"], [self.notification_topic.topic_arn]),
            allow("DeadLetters", ["sqs:SendMessage"], [self.dead_letter_queue.queue_arn]),
            allow("UseKey", ["kms:Decrypt", "kms:GenerateDataKey"], [self.encryption_key.key_arn]),
            # A topic of the caller's encrypted with a key of its own: publishing needs that key
            # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). An imported topic's is the caller's to grant.
            *([allow("EncryptAlerts", ["kms:Decrypt", "kms:GenerateDataKey"], [topic_key.key_arn])]
              if topic_key is not None and topic_key is not self.encryption_key else []),
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

