"""DeliveryPipeline: one CDK Pipelines pipeline in the tooling account that deploys every stage into its
own account, in order, with a smoke test after staging and a manual gate before production."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Aspects, Duration, IAspect, RemovalPolicy, Stack, Stage, Tags
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from mlops_constructs._arns import ROLE_ARN
from mlops_constructs._arns import arn as format_arn
from mlops_constructs._dockerfiles import ECR_IMAGE
from mlops_constructs._buckets import access_log_bucket, encrypted_bucket, objects_changed_only_by
from mlops_constructs._guardrails import ARTIFACT_WRITERS, DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT, PIPELINE_ARTIFACTS
from mlops_constructs._keys import Key, allow_cloudwatch_logs, deny_grants_except_for_aws_resources
from mlops_constructs._validate import is_token
from mlops_constructs.compliance import IAM5, acknowledge_each, guard, ignore_cfn_lint, in_packs, nag_resource
from mlops_constructs.errors import PropsError

MODEL_PACKAGE_VARIABLE = "ModelPackageArn"
"""The pipeline variable an approval sets to the model package it releases (``none`` otherwise)."""
NO_MODEL_PACKAGE = "none"
"""The variable's value when a run was not started by an approval (a code push, a manual retry)."""
DEFAULT_CLI_VERSION = "2.1148.1"
"""The CDK CLI self-mutation and asset publishing install: the one this project pins in package.json."""

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
CLI_NODE_RUNTIME = {"runtime-versions": {"nodejs": "22"}}
"""The install phase's runtime of the builds that run the CDK CLI or cdk-assets: CodeBuild's standard:7.0 image
defaults to Node 18 (https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html: "the default
version can change... we recommend specifying a runtime version"), whose CDK support ended 2025-11-30
(https://docs.aws.amazon.com/cdk/v2/guide/node-versions.html); 22 is supported and in the image
(https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html)."""
DEFAULT_CDK_ASSETS_VERSION = "4.7.3"
"""The cdk-assets the asset-publishing steps install (npm's latest when last checked)."""
_PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")


_INLINE_REASON = (
    "CDK Pipelines writes each of its roles' grants into that role's own default policy, which is bound "
    "to that one role for its whole life and cannot be attached elsewhere; no policy is shared or reused."
)
_DOCKER_ASSET_REASON = (
    "CDK Pipelines' Docker asset project builds the platform's container images (the drift job's) with Docker, "
    "which CodeBuild runs only in privileged mode; it runs nothing but cdk-assets on the synthesized assembly, "
    "under the asset-publishing role, and pushes only to the stage accounts' CDK asset repositories."
)
_SOURCE_URL_REASON = (
    "The project's source is the pipeline's artifact (type CODEPIPELINE): it has no repository URL, and "
    "the repository credentials stay in the CodeConnections connection, never in the project."
)
# The wildcards CDK Pipelines' own grants contain, as cdk-nag renders them, and why each is acceptable.
# Only these are acknowledged; a wildcard not matched here stays a finding and fails synthesis.
_ARTIFACTS = r"<[A-Za-z0-9]*ArtifactBucket[A-F0-9]{8}\.Arn>"
_CODEBUILD_LOGS = r"arn:(<AWS::Partition>|aws[a-z-]*):logs:[a-z0-9-]+:\d{12}:log-group:/aws/codebuild/"
_REPORTS = r"arn:(<AWS::Partition>|aws[a-z-]*):codebuild:[a-z0-9-]+:\d{12}:report-group/"
_PIPELINE_WILDCARDS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"Action::s3:(GetObject|GetBucket|List|Abort|DeleteObject)\*",
     "CDK's read/write grant on the pipeline's own artifact bucket (the statement names only that bucket "
     "and its objects); the bucket holds nothing but this pipeline's artifacts."),
    (rf"Resource::{_ARTIFACTS}/\*",
     "Objects of the pipeline's own artifact bucket: every run writes artifacts under new keys."),
    (r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
     "Encrypt and decrypt artifacts with the pipeline's own key; the statement names only that key."),
    (rf"Resource::{_CODEBUILD_LOGS}(<[A-Za-z0-9]+>:)?\*",
     "CodeBuild's default log group grant, derived from the project name (the projects actually log to "
     "the pipeline's KMS-encrypted log group); the asset role serves projects CDK names at deploy time."),
    (rf"Resource::{_REPORTS}(<[A-Za-z0-9]+>-)?\*",
     "CodeBuild test report groups, named after the project by CodeBuild when a build reports; none "
     "exists before."),
    (r"Resource::arn:\*:iam::\d{12}:role/\*",
     "Self-mutation assumes the CDK bootstrap roles, and only those: the statement's condition requires "
     "the role tag aws-cdk:bootstrap-role to be deploy, file-publishing or image-publishing."),
    (r"Resource::arn:(<AWS::Partition>|aws[a-z-]*):cloudformation:[a-z0-9-]+:\d{12}:stack/\*",
     "Self-mutation's cdk deploy reads the status of this account's stacks in this region (the pipeline's "
     "own and the CDK bootstrap stack); DescribeStacks reads, it changes nothing."),
))


# Actions the pipeline's steps call that have no resource-level permissions, and why each is called.
_UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken": "logging in to the registries of the base images the Docker assets are built from "
                                 "(the pulls are limited to those repositories)",
    "codepipeline:ListPipelines": "finding the release pipelines to start after prod (the starts are limited to them)",
}


def _only_unscoped_actions_on_any_resource(document: dict[str, Any]) -> list[str]:
    """The actions on ``Resource: "*"`` in ``document`` when all are in :data:`_UNSCOPED_ACTIONS`, else none."""
    actions: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Resource") == "*":
            listed = statement.get("Action")
            for action in listed if isinstance(listed, list) else [listed]:
                if action not in _UNSCOPED_ACTIONS:
                    return []
                actions.append(action)
    return actions


def wildcard_reasons(stack: Stack, document: dict[str, Any], patterns: Sequence[tuple[re.Pattern[str], str]]) -> dict[str, str]:
    """AwsSolutions-IAM5 acknowledgements for the wildcards of the resolved ``document`` that one of ``patterns``
    (regular expressions over cdk-nag's finding names, with their reasons) matches; any other wildcard stays a
    finding and fails synthesis."""
    reasons: dict[str, str] = {}
    for finding in _wildcard_findings(stack, document):
        reason = next((r for pattern, r in patterns if pattern.fullmatch(finding)), None)
        if reason is not None:
            reasons[f"{IAM5}[{finding}]"] = reason
    return reasons


def _wildcard_findings(stack: Stack, document: dict[str, Any]) -> list[str]:
    """The ``Action::...`` and ``Resource::...`` wildcards of a resolved policy document as
    AwsSolutions-IAM5 names them."""
    findings: list[str] = []
    for statement in document.get("Statement", []):
        for key, prefix in (("Action", "Action::"), ("Resource", "")):
            values = statement.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                rendered = f"{prefix}{value}" if prefix else nag_resource(stack, value) if not isinstance(value, str) else f"Resource::{value}"
                if "*" in rendered.split("::", 1)[1]:
                    findings.append(rendered)
    return list(dict.fromkeys(findings))


_CONNECTION_ARN = re.compile(r"arn:aws[a-z-]*:(?P<service>codeconnections|codestar-connections):")
_CONNECTION_SERVICES = ("codeconnections", "codestar-connections")


def _connection_prefix_matching_arn(statement: dict[str, Any]) -> dict[str, Any]:
    """``statement`` with its connection actions in the IAM service prefix of the connection ARN it names.

    CodeStar Connections was renamed CodeConnections; new connections (all created in the console since
    July 2024) have ``arn:aws:codeconnections:`` ARNs, and "when specifying a resource in the IAM policy,
    the service prefix needs to match that of the resource"
    (https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html). CDK's source action grants only
    ``codestar-connections:UseConnection``, which AWS refuses on a ``codeconnections`` ARN.
    """
    resources = statement.get("Resource", [])
    services = {m["service"] for r in (resources if isinstance(resources, list) else [resources])
                if isinstance(r, str) and (m := _CONNECTION_ARN.match(r))}
    if len(services) != 1:
        return statement
    (service,) = services
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    renamed = [f"{service}:{a.split(':', 1)[1]}" if a.split(":", 1)[0] in _CONNECTION_SERVICES else a for a in actions]
    if renamed == actions:
        return statement
    return {**statement, "Action": renamed[0] if len(renamed) == 1 else renamed}


def tag_artifact_writers(*writers: IConstruct) -> None:
    """Tag roles that write a pipeline's artifacts, and the CodeBuild projects that run as them, with
    :data:`DEPLOYS_TO_TAG` = ``PIPELINE_ARTIFACTS``: the principals its artifact bucket takes writes from besides the
    pipelines' own roles (``objects_changed_only_by``), which the tooling account's SCP guards as it guards deployers.

    CodeBuild uploads a build action's outputs as the project's role, and CodePipeline writes another action's outputs
    (a source's) as the action's role, or the pipeline's when the action has none
    (https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html,
    https://docs.aws.amazon.com/codepipeline/latest/userguide/how-to-custom-role.html).
    """
    for writer in writers:
        Tags.of(writer).add(DEPLOYS_TO_TAG, PIPELINE_ARTIFACTS)


@jsii.implements(IAspect)
class _FinishPolicies:
    """Narrows and acknowledges the pipeline's policies once, when synthesis visits the pipeline."""

    def __init__(self, pipeline: DeliveryPipeline) -> None:
        self._pipeline = pipeline
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if not self._done:
            self._done = True
            self._pipeline._finish_policies()


def release_role(scope: Construct, *, role_name: str, released_by: Sequence[str], sid: str, pipeline_arns: Sequence[str],
                 description: str, policy_description: str) -> iam.Role:
    """A role (``ReleaseRole``) that the ``released_by`` role ARNs (``*`` allowed in the name: ``ArnLike``) of other
    accounts may assume, to start ``pipeline_arns`` (policy ``ReleasePolicy``) and do nothing else."""
    by_account: dict[str, list[str]] = {}
    for arn in released_by:
        by_account.setdefault(ROLE_ARN.fullmatch(arn)["account"], []).append(arn)  # type: ignore[index]
    role = iam.Role(
        scope, "ReleaseRole", role_name=role_name, description=description,
        assumed_by=iam.CompositePrincipal(*(
            iam.AccountPrincipal(account).with_conditions({"ArnLike": {"aws:PrincipalArn": arns}}) for account, arns in by_account.items()
        )),
    )
    iam.ManagedPolicy(scope, "ReleasePolicy", description=policy_description, roles=[role], statements=[
        iam.PolicyStatement(sid=sid, actions=["codepipeline:StartPipelineExecution"], resources=list(pipeline_arns)),
    ])
    return role


@dataclass(frozen=True, kw_only=True)
class SmokeTest:
    """One request sent to one endpoint after its stage is deployed."""

    endpoint_name: str
    role_arn: str
    """A role in the endpoint's account that may invoke the endpoint and trusts the smoke-test role."""
    body: str
    content_type: str = "text/csv"
    api_stack: str | None = None
    """The endpoint's stack when an ``InferenceApi`` fronts the endpoint, its URL in the stack's output
    ``api_output``: the smoke test then also calls the API, SigV4-signed as ``role_arn`` (which needs
    ``cloudformation:DescribeStacks`` on that stack and ``execute-api:Invoke`` on the API). A private API is not
    reachable from the pipeline: leave this out for it. Default: the endpoint only."""
    api_output: str = "InferenceApiUrl"

    def as_json(self) -> dict[str, str]:
        """The smoke-test script's form of this test (``--tests``)."""
        test = {"endpoint": self.endpoint_name, "role_arn": self.role_arn, "content_type": self.content_type, "body": self.body}
        if self.api_stack is not None:
            test.update(api_stack=self.api_stack, api_output=self.api_output)
        return test


@dataclass(frozen=True, kw_only=True)
class DeliveryStage:
    """A stage the pipeline deploys, and what surrounds its deployment."""

    stage: Stage
    """A ``Stage`` of the same app; its stacks carry their own account and region."""
    smoke_tests: Sequence[SmokeTest] = ()
    """Requests sent after the stage is deployed; an error response fails the release there."""
    manual_approval: bool = False
    """Wait for a person's approval before deploying this stage."""
    post: Sequence[pipelines.Step] = ()
    """Steps run after the stage is deployed (and smoke-tested)."""


class DeliveryPipeline(Construct):
    """A self-mutating CDK Pipelines pipeline (CodePipeline V2) that deploys ``stages`` in order.

    Creates:

    - a KMS **key** (yearly rotation) whose policy admits only the CDK bootstrap roles of the accounts
      the stages deploy to, and an **artifact bucket** encrypted with it (TLS-only, versioned, private,
      access-logged to an **access-log bucket**);
    - the **pipeline**: ``source`` → **Build** (a CodeBuild step that runs ``synth_commands`` with the
      environment variable ``MODEL_PACKAGE_ARN`` set from the pipeline variable ``ModelPackageArn``, and
      publishes ``cdk.out``) → self-mutation → asset publishing → one deployment per stage (each stack
      deployed by its own account's bootstrap deploy role), with a **manual approval** before every
      stage that asks for it and a **smoke test** after every stage that has requests;
    - the **synth role** (named ``synth_role_name``), which may also assume ``synth_assumable_roles``
      (the dev account's read-only roles for the approved model of each model);
    - the **smoke-test role** (named ``smoke_test_role_name``), which may only assume the smoke tests'
      roles in the stage accounts;
    - the **release role** (named ``release_role_name``) that principals matching ``released_by`` in
      other accounts may assume to start this pipeline, and do nothing else;
    - a KMS-encrypted SNS **topic** (unless ``notification_topic`` is given) told about failed runs and
      waiting manual approvals;
    - a KMS-encrypted **log group** for every CodeBuild project, kept ``log_retention``.

    Example::

        DeliveryPipeline(self, "Delivery",
            pipeline_name="acme-release",
            source=pipelines.CodePipelineSource.connection("acme/ml-platform", "main", connection_arn=arn),
            stages=[DeliveryStage(stage=dev), DeliveryStage(stage=staging, smoke_tests=[...]),
                    DeliveryStage(stage=prod, manual_approval=True)],
        )

    :param pipeline_name: the pipeline's name, which other accounts use to start it.
    :param source: where the app's code comes from (CodeConnections or S3).
    :param stages: the stages to deploy, in order.
    :param synth_commands: build the cloud assembly into ``cdk.out``. Default: ``make test`` then
        ``make synth``.
    :param synth_role_name: name of the synth step's role, for trust policies in other accounts.
        Default: a generated name.
    :param synth_assumable_roles: ARNs of roles (in other accounts) the synth step may assume.
        Default: none.
    :param smoke_test_role_name: name of the smoke-test role, for the stage accounts' trust policies.
        Default: a generated name.
    :param smoke_test_script: path, in the source, of the script that sends the requests
        (``mlops_constructs/delivery/scripts/smoke_test.py`` of this project).
    :param release_role_name: name of the release role. Default: no release role.
    :param released_by: role ARNs in other accounts (``*`` allowed in the name) that may assume the
        release role. Default: none; required with ``release_role_name``.
    :param notification_topic: where failures and approvals are announced. Default: a KMS-encrypted
        topic is created.
    :param base_images: ECR images the Docker image assets are built from (their ``FROM``), e.g. SageMaker's
        framework images: the asset builds log in to their registries and may pull only these repositories.
        Default: none (public base images need no login).
    :param acknowledged_wildcards: more ``Action::``/``Resource::`` wildcards (regular expressions over
        AwsSolutions-IAM5's finding names) acknowledged on the pipeline's policies, each with its reason: for the
        grants of steps given in ``stages[].post``. Default: none.
    :param use_change_sets: deploy each stack through a change set (two actions: prepare, then execute) rather
        than directly (one action). Default: change sets. Without them the pipeline holds twice the stacks
        within CodePipeline's 500 actions.
    :param cli_version: the CDK CLI that self-mutation and asset publishing install (npm's ``latest``
        tag is not a current 2.x build). Default: :data:`DEFAULT_CLI_VERSION`.
    :param log_retention: of the CodeBuild logs. Default: one year.
    :param removal_policy: of the key, buckets and log group. Default: ``RemovalPolicy.RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline_name: str,
        source: pipelines.CodePipelineSource,
        stages: Sequence[DeliveryStage],
        synth_commands: Sequence[str] = ("make test", "make synth"),
        synth_role_name: str | None = None,
        synth_assumable_roles: Sequence[str] = (),
        smoke_test_role_name: str | None = None,
        smoke_test_script: str = "mlops_constructs/delivery/scripts/smoke_test.py",
        release_role_name: str | None = None,
        released_by: Sequence[str] = (),
        notification_topic: sns.ITopic | None = None,
        base_images: Sequence[str] = (),
        acknowledged_wildcards: Mapping[str, str] | None = None,
        use_change_sets: bool = True,
        cli_version: str = DEFAULT_CLI_VERSION,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self._validate(pipeline_name, stages, synth_commands, synth_role_name, synth_assumable_roles,
                       smoke_test_role_name, release_role_name, released_by)
        base_image_logins, base_image_pulls = self._base_image_logins(base_images)
        self._extra_wildcards = tuple((re.compile(p), r) for p, r in (acknowledged_wildcards or {}).items())

        self.encryption_key = Key(
            self,
            "Key",
            description=f"Encrypts the artifacts, logs and notifications of pipeline {pipeline_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        """Encrypts the artifact bucket, the build logs and the notification topic."""
        allow_cloudwatch_logs(self.encryption_key)
        deny_grants_except_for_aws_resources(self.encryption_key)
        access_logs = access_log_bucket(
            self,
            "AccessLogBucket",
            bucket_name=None,
            retention=Duration.days(365),
            incomplete_upload_expiration=Duration.days(7),
            removal_policy=removal_policy,
        )
        self.artifact_bucket = encrypted_bucket(
            self,
            "ArtifactBucket",
            bucket_name=None,
            encryption_key=self.encryption_key,
            access_logs=access_logs,
            access_log_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-artifacts",
                    expiration=Duration.days(90),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
            replication_reason="Pipeline artifacts are build inputs and outputs that each run recreates from "
            "the source; they are versioned and stay in the pipeline's region.",
        )
        """Holds the source, the cloud assembly and the other artifacts between actions."""
        self.log_group = logs.LogGroup(
            self, "BuildLogs", encryption_key=self.encryption_key, retention=log_retention, removal_policy=removal_policy
        )
        """The CodeBuild projects' logs."""

        self.synth_role = iam.Role(
            self,
            "SynthRole",
            role_name=synth_role_name,
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"Tests and synthesizes the app for pipeline {pipeline_name}",
        )
        """Runs the synth step; it may assume ``synth_assumable_roles``."""
        if synth_assumable_roles:
            self.synth_role.add_to_principal_policy(
                iam.PolicyStatement(sid="ReadApprovedModels", actions=["sts:AssumeRole"], resources=list(synth_assumable_roles))
            )

        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            env={"MODEL_PACKAGE_ARN": f"#{{variables.{MODEL_PACKAGE_VARIABLE}}}"},
            commands=list(synth_commands),
            primary_output_directory="cdk.out",
            role=self.synth_role,
            # make test runs the whole suite, which wants two cores and several GiB.
            build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
            timeout=Duration.minutes(60),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=self.artifact_bucket,
            synth=synth,
            self_mutation=True,
            cli_version=cli_version,
            publish_assets_in_parallel=False,
            use_change_sets=use_change_sets,
            # Pinned: npm's latest cdk-assets once shipped a broken Docker credential helper (aws/aws-cdk-cli#662).
            cdk_assets_cli_version=DEFAULT_CDK_ASSETS_VERSION,
            asset_publishing_code_build_defaults=base_image_logins,
            self_mutation_code_build_defaults=pipelines.CodeBuildOptions(
                partial_build_spec=codebuild.BuildSpec.from_object({"phases": {"install": CLI_NODE_RUNTIME}})),
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
                logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            ),
        )
        """The CDK Pipelines pipeline; ``pipeline.pipeline`` is the CodePipeline."""

        self.smoke_test_role: iam.Role | None = None
        """Runs the smoke tests; it may only assume the smoke tests' roles."""
        smoke_roles = sorted({test.role_arn for entry in stages for test in entry.smoke_tests})
        if smoke_roles:
            self.smoke_test_role = iam.Role(
                self,
                "SmokeTestRole",
                role_name=smoke_test_role_name,
                assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                description=f"Invokes the deployed endpoints for pipeline {pipeline_name}",
            )
            self.smoke_test_role.add_to_principal_policy(
                iam.PolicyStatement(sid="InvokeThroughStageRoles", actions=["sts:AssumeRole"], resources=smoke_roles)
            )
        for entry in stages:
            pre: list[pipelines.Step] = []
            if entry.manual_approval:
                pre.append(pipelines.ManualApprovalStep(
                    f"Promote-{entry.stage.stage_name}",
                    comment=f"Deploy to {entry.stage.stage_name}? The earlier stages are deployed and their smoke tests passed.",
                ))
            post: list[pipelines.Step] = []
            if entry.smoke_tests:
                post.append(self._smoke_test_step(entry, source, smoke_test_script))
            post.extend(entry.post)
            self.pipeline.add_stage(entry.stage, pre=pre, post=post)
        self.pipeline.build_pipeline()
        if base_image_pulls:
            docker_roles = [c for c in self.node.find_all() if isinstance(c, iam.Role) and c.node.path.endswith("/Assets/DockerRole")]
            if not docker_roles:
                raise PropsError("DeliveryPipeline", "base_images", list(base_images), "are for Docker image assets, and the stages have none")
            for statement in base_image_pulls:
                docker_roles[0].add_to_principal_policy(statement)

        code_pipeline = self.pipeline.pipeline
        # The pipeline's role assumes every stage account's bootstrap deploy role (the CloudFormation actions' role), and
        # its CodeBuild actions' role starts the self-mutation build, which deploys this pipeline's own stack: the
        # pipeline's account is among those it deploys to, through that project and its role. The tags are what the
        # tooling account's SCP (stacks/guardrails.py) tells deployers apart by.
        # The asset roles publish (through each account's publishing roles) what the deployments use.
        asset_scope = self.pipeline.node.try_find_child("Assets")  # only when the stages have assets
        assets = [c for c in asset_scope.node.find_all() if isinstance(c, (iam.Role, codebuild.Project))] if asset_scope else []
        for resource in (code_pipeline.role, self.pipeline.node.find_child("CodeBuildActionRole"), *assets):
            Tags.of(resource).add(DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT)
        self_mutation = self.pipeline.self_mutation_project
        for resource in (self_mutation, self_mutation.role):
            Tags.of(resource).add(DEPLOYS_TO_TAG, Stack.of(self).account)
        # What the stages deploy is what the synth step wrote to the artifact bucket: only the pipeline's roles and
        # those of the actions that write artifacts may change its objects, not every principal IAM lets write there.
        # The synth build writes the cloud assembly; each source action, as the role CodePipeline made for it under the
        # Source stage, writes its source; a stage's step with an output writes it as its project's role
        # (tests/test_guardrails.py checks that these are every writer the pipelines' actions and grants name).
        source_roles = [c for c in code_pipeline.node.find_child("Source").node.find_all() if isinstance(c, iam.Role)]
        step_projects = [self._project_of(entry, step) for entry in stages for step in entry.post
                         if isinstance(step, pipelines.ShellStep) and step.primary_output is not None]
        step_roles = [project.role for project in step_projects if project.role is not None]
        tag_artifact_writers(synth.project, self.synth_role, *source_roles, *step_projects, *step_roles)
        objects_changed_only_by(self.artifact_bucket, tag=DEPLOYS_TO_TAG, values=ARTIFACT_WRITERS,
                                writers=[self.synth_role, *source_roles, *step_roles, code_pipeline.role])
        code_pipeline.add_variable(codepipeline.Variable(
            variable_name=MODEL_PACKAGE_VARIABLE,
            default_value=NO_MODEL_PACKAGE,
            description="The approved model package this run releases; 'none' when not started by an approval",
        ))

        self.notification_topic = notification_topic or sns.Topic(
            self, "Notifications", display_name=f"Pipeline {pipeline_name}", master_key=self.encryption_key, enforce_ssl=True
        )
        """Told about failed runs and approvals waiting for a person."""
        code_pipeline.notify_on(
            "FailuresAndApprovals",
            self.notification_topic,
            events=[
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
                codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
                codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_FAILED,
            ],
        )

        self.release_role: iam.Role | None = None
        """May only start this pipeline; assumed by the approval functions in other accounts."""
        if release_role_name is not None:
            self.release_role = release_role(
                self, role_name=release_role_name, released_by=released_by, sid="StartThisPipeline", pipeline_arns=[code_pipeline.pipeline_arn],
                description=f"Starts pipeline {pipeline_name} with an approved model package, nothing else",
                policy_description=f"Start pipeline {pipeline_name}",
            )
        self.pipeline_arn = code_pipeline.pipeline_arn
        # At synthesis, not now: grants added to the pipeline's roles after this construct is built must
        # be in the documents that are narrowed and checked.
        Aspects.of(self).add(_FinishPolicies(self))

    # ------------------------------------------------------------------------------------------------

    def _base_image_logins(self, base_images: Sequence[str]) -> tuple[pipelines.CodeBuildOptions, list[iam.PolicyStatement]]:
        """The asset builds' defaults (a supported Node for cdk-assets) with what they need to pull ``base_images``
        from ECR: a registry login for each registry and, for the Docker asset role, pull on the named repositories only.

        Written here rather than with ``DockerCredential.ecr``, whose registry domain is a CloudFormation
        reference (the URL suffix) that a buildspec published through the cloud assembly, as it is with
        ``publish_assets_in_parallel=False``, cannot hold. The file is the one CDK Pipelines writes for
        cdk-assets' Docker credential helper, with the domains literal."""
        if isinstance(base_images, str):
            raise PropsError("DeliveryPipeline", "base_images", base_images, "must be a list of ECR image URIs, not a string")
        registries: list[str] = []
        repositories: list[str] = []
        for image in base_images:
            match = ECR_IMAGE.fullmatch(image) if isinstance(image, str) else None
            if match is None:
                raise PropsError("DeliveryPipeline", "base_images", image,
                                 "each entry must be an ECR image URI, <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag]")
            region = Stack.of(self).region
            if not is_token(region) and match["region"] != region:
                raise PropsError("DeliveryPipeline", "base_images", image,
                                 f"must be in the pipeline's region {region}: the asset build's ECR login is regional "
                                 "(copy the image to a repository there, or use the region's own SageMaker image)")
            # in the pipeline's region, so in its partition
            arn = format_arn(Stack.of(self), "ecr", "repository", match["repository"], region=match["region"], account=match["account"])
            registries += [match["registry"]] if match["registry"] not in registries else []
            repositories += [arn] if arn not in repositories else []
        if not repositories:
            return pipelines.CodeBuildOptions(partial_build_spec=codebuild.BuildSpec.from_object({"phases": {"install": CLI_NODE_RUNTIME}})), []
        config = json.dumps({"version": "1.0", "domainCredentials": {registry: {"ecrRepository": True} for registry in registries}},
                            separators=(",", ":"))
        options = pipelines.CodeBuildOptions(partial_build_spec=codebuild.BuildSpec.from_object({
            "phases": {"install": CLI_NODE_RUNTIME,
                       "pre_build": {"commands": ["mkdir -p $HOME/.cdk", f"echo {shlex.quote(config)} > $HOME/.cdk/cdk-docker-creds.json"]}},
        }))
        return options, [
            iam.PolicyStatement(sid="PullBaseImages", actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                                resources=repositories),
            # GetAuthorizationToken has no resource-level permissions.
            iam.PolicyStatement(sid="LoginToBaseImageRegistries", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        ]

    def _finish_policies(self) -> None:
        stack = Stack.of(self)
        self._acknowledge(stack, self._narrow_resource_wildcards(stack))

    def _narrow_resource_wildcards(self, stack: Stack) -> dict[iam.Policy, dict[str, Any]]:
        """Replace the ``Resource: "*"`` CDK Pipelines grants where AWS has resource-level permissions.

        Self-mutation gets ``cloudformation:DescribeStacks`` on this account's stacks in this region and
        ``s3:ListBucket`` on the artifact bucket (what it reads; it publishes and deploys through the
        bootstrap roles). The asset-publishing role may start and watch only the asset projects.

        Returns the resolved document of every policy under the pipeline, as it will deploy.
        """
        asset_projects = [
            project.attr_arn for project in self.node.find_all()
            if isinstance(project, codebuild.CfnProject) and "/Assets/" in project.node.path
        ]
        narrowed: dict[str, list[str]] = {
            "cloudformation:DescribeStacks": [stack.format_arn(service="cloudformation", resource="stack", resource_name="*")],
            "s3:ListBucket": [self.artifact_bucket.bucket_arn],
            **{f"codebuild:{a}": asset_projects for a in ("BatchGetBuilds", "StartBuild", "StopBuild")},
        }
        documents: dict[iam.Policy, dict[str, Any]] = {}
        for policy in (c for c in self.node.find_all() if isinstance(c, iam.Policy)):
            document = documents[policy] = stack.resolve(policy.document.to_json())
            statements = [_connection_prefix_matching_arn(st) for st in document.get("Statement", [])]
            if statements == document.get("Statement", []) and not any(st.get("Resource") == "*" for st in statements):
                continue
            rewritten = []
            for statement in statements:
                actions = statement.get("Action")
                actions = actions if isinstance(actions, list) else [actions]
                if statement.get("Resource") != "*" or not set(actions) <= set(narrowed):
                    rewritten.append(statement)
                    continue
                for action in actions:
                    if narrowed[action]:
                        rewritten.append({**statement, "Action": action, "Resource": stack.resolve(narrowed[action])})
            cfn = policy.node.default_child
            assert isinstance(cfn, iam.CfnPolicy)
            documents[policy] = {**document, "Statement": rewritten}
            # Set on the L1 property, not as a raw override, so that what cdk-nag checks is what deploys.
            cfn.policy_document = documents[policy]
        return documents

    def _acknowledge(self, stack: Stack, documents: dict[iam.Policy, dict[str, Any]]) -> None:
        """Acknowledge, on each policy CDK Pipelines wrote, exactly the wildcards listed in
        :data:`_PIPELINE_WILDCARDS`; any other wildcard stays a finding and fails synthesis."""
        for policy, document in documents.items():
            reasons = {**in_packs("IAMNoInlinePolicy", _INLINE_REASON),
                       **wildcard_reasons(stack, document, (*_PIPELINE_WILDCARDS, *self._extra_wildcards))}
            unscoped = _only_unscoped_actions_on_any_resource(document)  # statements on "*": the finding Resource::*
            if unscoped:
                reasons[f"{IAM5}[Resource::*]"] = "; ".join(f"{a}, {_UNSCOPED_ACTIONS[a]}" for a in unscoped) + ": no resource-level permissions."
            acknowledge_each(policy, reasons)
        ignore_cfn_lint(self.pipeline.pipeline, "E3703", "CDK Pipelines renders the target accounts' role ARNs in the "
                        "actions with Fn::Join; the values are correct, only the intrinsic differs from the one "
                        "cfn-lint prefers.")
        ignore_cfn_lint(self.pipeline.pipeline, "W3005", "CDK Pipelines adds an explicit DependsOn on the pipeline's role "
                        "policy as well as the GetAtt of its role; the redundancy is CDK's and harmless.")
        for project in (c for c in self.node.find_all() if isinstance(c, codebuild.CfnProject)):
            reasons = in_packs("CodeBuildProjectSourceRepoUrl", _SOURCE_URL_REASON, packs=("HIPAA.Security", "PCI.DSS.321"))
            if "/Assets/DockerAsset" in project.node.path:
                reasons[guard("codebuild_project_environment_privileged_check")] = _DOCKER_ASSET_REASON
            acknowledge_each(project, reasons)

    def _project_of(self, entry: DeliveryStage, step: pipelines.ShellStep) -> codebuild.Project:
        """The CodeBuild project CDK Pipelines made for ``step`` of ``entry``'s stage: a ``CodeBuildStep`` says; a
        ``ShellStep``'s is the one project under its action, ``<stage>/<step id>`` in the CodePipeline, where CDK
        Pipelines puts every step's project."""
        if isinstance(step, pipelines.CodeBuildStep):
            return step.project
        action = self.pipeline.pipeline.node.try_find_child(entry.stage.stage_name)
        action = action and action.node.try_find_child(step.id)
        projects = [c for c in action.node.find_all() if isinstance(c, codebuild.Project)] if action else []
        project = projects[0] if len(projects) == 1 else None
        if project is None:
            raise PropsError("DeliveryPipeline", f"stages[{entry.stage.stage_name}].post[{step.id}]", "a ShellStep with an output",
                             "must have a CodeBuild project where CDK Pipelines puts it, to be tagged as an artifact writer; use a "
                             "CodeBuildStep (its project is known)")
        return project

    def _smoke_test_step(self, entry: DeliveryStage, source: pipelines.CodePipelineSource, script: str) -> pipelines.Step:
        region = entry.stage.region
        tests = [t.as_json() for t in entry.smoke_tests]
        return pipelines.CodeBuildStep(
            f"SmokeTest-{entry.stage.stage_name}",
            input=source,
            install_commands=["python3 -m pip install --quiet 'boto3>=1.40,<2'"],
            commands=[f"python3 {shlex.quote(script)} --region {region} --tests {shlex.quote(json.dumps(tests))}"],
            role=self.smoke_test_role,
            timeout=Duration.minutes(15),
        )

    @staticmethod
    def _validate(
        pipeline_name: str,
        stages: Sequence[DeliveryStage],
        synth_commands: Sequence[str],
        synth_role_name: str | None,
        synth_assumable_roles: Sequence[str],
        smoke_test_role_name: str | None,
        release_role_name: str | None,
        released_by: Sequence[str],
    ) -> None:
        name = "DeliveryPipeline"
        if not isinstance(pipeline_name, str) or not _PIPELINE_NAME.fullmatch(pipeline_name):
            raise PropsError(name, "pipeline_name", pipeline_name, "must be 1-100 letters, digits and . @ _ -")
        if not stages:
            raise PropsError(name, "stages", list(stages), "must name at least one stage to deploy")
        for entry in stages:
            if is_token(entry.stage.account) or not entry.stage.account or not entry.stage.region:
                raise PropsError(name, "stages", entry.stage.node.path, "each stage needs an explicit account and region")
            for test in entry.smoke_tests:
                if not ROLE_ARN.fullmatch(test.role_arn) or "*" in test.role_arn:
                    raise PropsError(name, "stages[].smoke_tests[].role_arn", test.role_arn, "must be an IAM role ARN")
        if isinstance(synth_commands, str) or not synth_commands:
            raise PropsError(name, "synth_commands", synth_commands, "must be a list of one or more shell commands")
        for prop, value in (("synth_role_name", synth_role_name), ("smoke_test_role_name", smoke_test_role_name),
                            ("release_role_name", release_role_name)):
            if value is not None and not _ROLE_NAME.fullmatch(value):
                raise PropsError(name, prop, value, "must be an IAM role name: 1-64 letters, digits and + = , . @ _ -")
        for prop, arns in (("synth_assumable_roles", synth_assumable_roles), ("released_by", released_by)):
            if isinstance(arns, str):
                raise PropsError(name, prop, arns, "must be a list of IAM role ARNs, not a string")
            for arn in arns:
                if not isinstance(arn, str) or not ROLE_ARN.fullmatch(arn):
                    raise PropsError(name, prop, arn, "each entry must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>")
                if prop == "synth_assumable_roles" and "*" in arn:
                    raise PropsError(name, prop, arn, "each entry must name one role: the synth step may assume no wildcard")
        if release_role_name is not None and not released_by:
            raise PropsError(name, "released_by", list(released_by), "must name at least one role ARN that may assume the release role")
        if released_by and release_role_name is None:
            raise PropsError(name, "release_role_name", None, "is required when released_by is given")
