"""Release pipelines: one small pipeline per released unit (a model), each deploying only that unit's stacks,
dev to prod, from a source that another pipeline has already tested.

``ReleaseTooling`` is what they share, once per tooling account: the tested source (an S3 object the
platform's pipeline writes after its own tests and deployments), the artifact store, three CodeBuild projects
(synthesize, deploy, smoke test) and the role approvals start releases through. ``ReleasePipeline`` is one
unit's pipeline: Source → Synth → one stage per deployment (a manual approval first where asked, a smoke test
after where configured). Its actions are the same in number whatever the number of pipelines, and pipelines do
not share executions: a release of one unit never waits for, nor fails with, another's.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from typing import Any

import jsii
from aws_cdk import Aspects, Duration, IAspect, RemovalPolicy, Stack, Tags
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from mlops_constructs._arns import ROLE_ARN
from mlops_constructs._buckets import access_log_bucket, encrypted_bucket, objects_changed_only_by
from mlops_constructs._guardrails import ARTIFACT_WRITERS, BOOTSTRAP_ROLE_PREFIX, DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT
from mlops_constructs._keys import Key, allow_cloudwatch_logs, deny_grants_except_for_aws_resources
from mlops_constructs.compliance import acknowledge_each, guard, ignore_cfn_lint, in_packs
from mlops_constructs.delivery.delivery_pipeline import (
    CLI_NODE_RUNTIME, DEFAULT_CLI_VERSION, MODEL_PACKAGE_VARIABLE, NO_MODEL_PACKAGE, SmokeTest, release_role, tag_artifact_writers,
    wildcard_reasons,
)
from mlops_constructs.errors import PropsError

NOTHING_TO_RELEASE = "NOTHING_TO_RELEASE"
"""The file a synth build writes, instead of a cloud assembly, when there is nothing to release."""
SYNTH_NAMESPACE = "Synth"
"""The variables namespace of a release pipeline's synth action."""
RELEASE_VARIABLE = "RELEASE"
"""Exported by a release's synth build (``#{Synth.RELEASE}``): ``yes`` when it synthesized a release, ``none`` when it
wrote :data:`NOTHING_TO_RELEASE` instead. The deployment stages are skipped on ``none``: a model without an approved
version, started with every other model's release by the platform's pipeline, asks nobody to approve nothing and
smoke-tests no endpoint that does not exist yet."""
RELEASE_DETAIL_VARIABLE = "RELEASE_DETAIL"
"""Exported by a release's synth build (``#{Synth.RELEASE_DETAIL}``): what this run releases, as the synth commands
set it (the platform's: the model package), shown in every manual approval of the run, so that whoever approves
sees which version goes on; ``(not set by the synth commands)`` when they do not set it."""
SOURCE_KEY = "release-source/source.zip"
"""Where, in the source bucket, the tested source is: written by the platform's pipeline, read by every release."""
_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_ACTION_CONFIGURATION_MAX = 1000
_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
_PRIVILEGED_REASON = (
    "The deploy project runs `cdk deploy`, which builds the release's container images (the drift job's) with "
    "Docker, and CodeBuild runs Docker only in privileged mode; it deploys nothing but the release's own stacks, "
    "through the stage accounts' CDK bootstrap roles."
)
_SOURCE_URL_REASON = (
    "The project's source is the pipeline's artifact (type CODEPIPELINE): it has no repository URL and holds no credentials."
)
# CDK's grants on the shared artifact bucket and key, as cdk-nag renders their wildcards, and why each is acceptable.
_ARTIFACT_WILDCARDS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"Action::s3:(GetObject|GetBucket|List|Abort|DeleteObject)\*",
     "CDK's read/write grant on the release pipelines' own artifact bucket (the statement names only that bucket "
     "and its objects)."),
    (r"Resource::(<[A-Za-z0-9]*Artifacts[A-F0-9]{8}\.Arn>|arn:(<AWS::Partition>|aws[a-z-]*):s3:::(<[A-Za-z0-9]*Artifacts[A-F0-9]{8}>|[a-z0-9-]+-release-artifacts-\d{12}-[a-z0-9-]+))/\*",
     "Objects of the release pipelines' artifact bucket: every run writes artifacts under new keys."),
    (r"Resource::<[A-Za-z0-9]*Source[A-F0-9]{8}\.Arn>/\*",
     "CDK's read grant on the tested source's bucket, which holds nothing but the tested source."),
    (r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
     "Encrypt and decrypt artifacts with the release key; the statement names only that key."),
    (r"Resource::arn:(<AWS::Partition>|aws[a-z-]*):logs:[a-z0-9-]+:\d{12}:log-group:/aws/codebuild/<[A-Za-z0-9]+>:\*",
     "CodeBuild's default log group grant, derived from the project name (the projects log to the release "
     "pipelines' KMS-encrypted log group)."),
    (r"Resource::arn:(<AWS::Partition>|aws[a-z-]*):codebuild:[a-z0-9-]+:\d{12}:report-group/<[A-Za-z0-9]+>-\*",
     "CodeBuild test report groups, named after the project by CodeBuild when a build reports; none exists before."),
))


_INLINE_REASON = "CDK writes a role's grants into that role's own default policy, bound to that one role; no policy is shared."


@jsii.implements(IAspect)
class _AcknowledgeOnce:
    def __init__(self, callback: Any) -> None:
        self._callback, self._done = callback, False

    def visit(self, node: IConstruct) -> None:
        if not self._done:
            self._done = True
            self._callback()


@dataclass(frozen=True, kw_only=True)
class ReleaseDeployment:
    """One stage of a release: the stacks it deploys, and what surrounds their deployment."""

    name: str
    """The pipeline stage's name (``Dev``, ``Staging``, ``Prod``)."""
    stacks: str
    """The stacks to deploy, as ``cdk deploy`` selects them in the release's cloud assembly (``Dev/Release-churn/*``)."""
    region: str
    account: str | None = None
    """The account the stacks deploy to: the deployment runs in that account's deploy project
    (:attr:`ReleaseTooling.deploy_projects`). Default: the tooling's only deploy account."""
    smoke_tests: Sequence[SmokeTest] = ()
    """Requests sent after the deployment; an error response stops the release there."""
    manual_approval: bool = False
    """Wait for a person's approval before deploying."""


class ReleaseTooling(Construct):
    """What every release pipeline of a tooling account shares.

    The source bucket and the artifact bucket take object changes (writes, deletes, replication) only from principals
    tagged :data:`~mlops_constructs.guardrails.DEPLOYS_TO_TAG` ``all`` or ``artifacts``: the release pipelines' roles,
    the synth project's role, and whoever publishes the tested source, whose role (and project) the caller tags
    ``artifacts`` with :func:`~mlops_constructs.delivery.tag_artifact_writers` (as ``stacks.delivery_stack`` does for
    the platform pipeline's PublishRelease step).

    :param name_prefix: names the source bucket (``<prefix>-release-source-<account>-<region>``).
    :param deploy_accounts: the accounts releases deploy to. Each gets its own deploy project and role, which may
        assume that account's CDK bootstrap roles (``cdk-hnb659fds-<role>-<account>-<region>``) and nothing else.
    :param synth_commands: build the release's cloud assembly into ``cdk.out`` from the tested source. The
        release pipeline passes ``RELEASE_NAME``, ``MODEL_PACKAGE_ARN`` (its ``ModelPackageArn`` variable)
        and its own ``synth_environment`` as environment variables.
    :param synth_role_name, smoke_test_role_name: names of those projects' roles, for trust policies in the
        stage accounts. Default: generated names.
    :param synth_assumable_roles: role ARNs (``*`` allowed in the name) the synth project may assume.
    :param smoke_test_roles: role ARNs the smoke-test project may assume. Default: none.
    :param release_role_name, released_by, releasable: a role that the ``released_by`` role ARNs (patterns)
        may assume to start the pipelines named by ``releasable`` (name patterns), and do nothing else.
    :param smoke_test_script: the smoke-test script's path in the source.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        deploy_accounts: Sequence[str],
        synth_commands: Sequence[str],
        synth_role_name: str | None = None,
        synth_assumable_roles: Sequence[str] = (),
        smoke_test_role_name: str | None = None,
        smoke_test_roles: Sequence[str] = (),
        release_role_name: str | None = None,
        released_by: Sequence[str] = (),
        releasable: Sequence[str] = (),
        smoke_test_script: str = "mlops_constructs/delivery/scripts/smoke_test.py",
        cli_version: str = DEFAULT_CLI_VERSION,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self._validate(name_prefix, deploy_accounts, synth_commands, synth_role_name, smoke_test_role_name, release_role_name,
                       synth_assumable_roles, smoke_test_roles, released_by, releasable)
        stack = Stack.of(self)
        self.encryption_key = Key(self, "Key", description=f"Encrypts the release pipelines' source, artifacts, logs and notifications ({name_prefix})",
                                      enable_key_rotation=True, removal_policy=removal_policy)
        """Encrypts the source, the artifacts, the build logs and the notifications."""
        allow_cloudwatch_logs(self.encryption_key)
        deny_grants_except_for_aws_resources(self.encryption_key)
        access_logs = access_log_bucket(self, "AccessLogs", bucket_name=None, retention=Duration.days(365),
                                        incomplete_upload_expiration=Duration.days(7), removal_policy=removal_policy)
        self.source_bucket = encrypted_bucket(
            self, "Source", bucket_name=self.source_bucket_name(name_prefix, stack.account, stack.region),
            encryption_key=self.encryption_key, access_logs=access_logs, access_log_prefix="source/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-old-sources", noncurrent_version_expiration=Duration.days(90),
                                              abort_incomplete_multipart_upload_after=Duration.days(7))],
            removal_policy=removal_policy,
            replication_reason="The tested source is a copy of the repository at a tested commit; the repository is the record.",
        )
        """Versioned; holds :data:`SOURCE_KEY`, the source the platform's pipeline last tested and deployed."""
        self.artifact_bucket_name = f"{name_prefix}-release-artifacts-{stack.account}-{stack.region}"
        """The artifact bucket's name, literal: the release pipelines' stacks name the bucket rather than reference it."""
        self.artifact_bucket = encrypted_bucket(
            self, "Artifacts", bucket_name=self.artifact_bucket_name, encryption_key=self.encryption_key, access_logs=access_logs,
            access_log_prefix="artifacts/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-old-artifacts", expiration=Duration.days(90),
                                              noncurrent_version_expiration=Duration.days(30),
                                              abort_incomplete_multipart_upload_after=Duration.days(7))],
            removal_policy=removal_policy,
            replication_reason="Release artifacts are rebuilt by every run from the tested source.",
        )
        """The release pipelines' artifact store."""
        self.log_group = logs.LogGroup(self, "BuildLogs", encryption_key=self.encryption_key, retention=log_retention,
                                       removal_policy=removal_policy)
        self.notification_topic = sns.Topic(self, "Notifications", display_name=f"Release pipelines of {name_prefix}",
                                            master_key=self.encryption_key, enforce_ssl=True)
        """Told about failed releases and approvals waiting for a person."""
        logging = codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group))
        image = codebuild.LinuxBuildImage.STANDARD_7_0

        self.synth_role = iam.Role(self, "SynthRole", role_name=synth_role_name, assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                                   description=f"Synthesizes releases of {name_prefix}")
        if synth_assumable_roles:
            self.synth_role.add_to_principal_policy(iam.PolicyStatement(sid="ReadApprovedModels", actions=["sts:AssumeRole"],
                                                                        resources=list(synth_assumable_roles)))
        self.synth_project = codebuild.PipelineProject(
            self, "Synth", role=self.synth_role, encryption_key=self.encryption_key, logging=logging,
            description=f"Synthesizes one release of {name_prefix} from the tested source",
            environment=codebuild.BuildEnvironment(build_image=image, compute_type=codebuild.ComputeType.MEDIUM),
            timeout=Duration.minutes(60),
            build_spec=codebuild.BuildSpec.from_object({
                "version": "0.2",
                # https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.env.exported-variables
                "env": {"variables": {RELEASE_DETAIL_VARIABLE: "(not set by the synth commands)"},
                        "exported-variables": [RELEASE_VARIABLE, RELEASE_DETAIL_VARIABLE]},
                "phases": {"build": {"commands": [
                    *synth_commands,
                    f"if [ -f cdk.out/{NOTHING_TO_RELEASE} ]; then export {RELEASE_VARIABLE}=none; else export {RELEASE_VARIABLE}=yes; fi",
                ]}},
                "artifacts": {"base-directory": "cdk.out", "files": ["**/*"]},
            }),
        )
        """Synthesizes one release (``synth_commands``) from the tested source, and exports :data:`RELEASE_VARIABLE`."""
        # What the release pipelines build and deploy: the tested source, then the synthesized release. Only the
        # pipelines' roles and the roles that write artifacts (DEPLOYS_TO_TAG: this synth's, and the platform pipeline's
        # PublishRelease role) may change their objects, not every principal IAM lets write there.
        tag_artifact_writers(self.synth_project, self.synth_role)
        for bucket in (self.source_bucket, self.artifact_bucket):
            objects_changed_only_by(bucket, tag=DEPLOYS_TO_TAG, values=ARTIFACT_WRITERS, writers=[self.synth_role])

        # One deploy project and role per stage account, each able to assume only that account's bootstrap roles: a
        # build of the dev project cannot reach prod, and whoever may start builds in the tooling account can be kept
        # off the prod project alone (the tooling account's SCP, by the DEPLOYS_TO_TAG each carries). The first
        # account's keeps the IDs the single shared project had, so that an upgrade updates it in place.
        self.deploy_roles: dict[str, iam.Role] = {}
        """Each stage account's deploy role, by account id: it may assume that account's CDK bootstrap roles only."""
        self.deploy_projects: dict[str, codebuild.PipelineProject] = {}
        """Each stage account's deploy project, by account id: deploys ``RELEASE_STACKS`` of the release's cloud
        assembly with the CDK CLI, through that account's bootstrap roles."""
        for number, account in enumerate(dict.fromkeys(deploy_accounts)):
            suffix = "" if number == 0 else f"-{account}"
            role = iam.Role(self, f"DeployRole{suffix}", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                            description=f"Deploys releases of {name_prefix} to account {account} through its CDK bootstrap roles")
            role.add_to_principal_policy(iam.PolicyStatement(sid="DeployThroughBootstrapRoles", actions=["sts:AssumeRole"], resources=[
                f"arn:{stack.partition}:iam::{account}:role/{BOOTSTRAP_ROLE_PREFIX}-{kind}-role-{account}-{stack.region}" for kind in _BOOTSTRAP_ROLES]))
            project = codebuild.PipelineProject(
                self, f"Deploy{suffix}", role=role, encryption_key=self.encryption_key, logging=logging,
                description=f"Deploys the stacks of one release of {name_prefix} to account {account}",
                environment=codebuild.BuildEnvironment(build_image=image, privileged=True),
                timeout=Duration.minutes(120),
                build_spec=codebuild.BuildSpec.from_object({
                    "version": "0.2",
                    "phases": {
                        "install": {**CLI_NODE_RUNTIME, "commands": [f"npm install -g aws-cdk@{cli_version}"]},
                        "build": {"commands": [
                            # A release whose synthesis found nothing to release (no approved version) deploys nothing;
                            # any other failure fails the build.
                            f'if [ -f {NOTHING_TO_RELEASE} ]; then cat {NOTHING_TO_RELEASE}; echo "nothing to deploy"; '
                            'else cdk deploy --app . "$RELEASE_STACKS" --require-approval never --progress events; fi',
                        ]},
                    },
                }),
            )
            for resource in (role, project):
                Tags.of(resource).add(DEPLOYS_TO_TAG, account)
            self.deploy_roles[account], self.deploy_projects[account] = role, project

        self.smoke_test_role = iam.Role(self, "SmokeTestRole", role_name=smoke_test_role_name,
                                        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                                        description=f"Invokes released endpoints of {name_prefix}")
        if smoke_test_roles:
            self.smoke_test_role.add_to_principal_policy(iam.PolicyStatement(sid="InvokeThroughStageRoles", actions=["sts:AssumeRole"],
                                                                             resources=list(smoke_test_roles)))
        self.smoke_test_project = codebuild.PipelineProject(
            self, "SmokeTest", role=self.smoke_test_role, encryption_key=self.encryption_key, logging=logging,
            description=f"Sends each release's smoke-test requests ({name_prefix})",
            environment=codebuild.BuildEnvironment(build_image=image), timeout=Duration.minutes(15),
            build_spec=codebuild.BuildSpec.from_object({
                "version": "0.2",
                "phases": {
                    "install": {"commands": ["python3 -m pip install --quiet 'boto3>=1.40,<2'"]},
                    "build": {"commands": [f'python3 {shlex.quote(smoke_test_script)} --region "$SMOKE_TEST_REGION" --tests "$SMOKE_TESTS"']},
                },
            }),
        )
        """Sends ``SMOKE_TESTS`` (the smoke-test script's JSON) in ``SMOKE_TEST_REGION``."""

        self.release_role: iam.Role | None = None
        """May only start the release pipelines; assumed by the approval functions in other accounts."""
        if release_role_name is not None:
            self.release_role = release_role(
                self, role_name=release_role_name, released_by=released_by, sid="StartReleasePipelines",
                pipeline_arns=[stack.format_arn(service="codepipeline", resource=name) for name in releasable],
                description=f"Starts the release pipelines of {name_prefix} with an approved model package, nothing else",
                policy_description=f"Start the release pipelines of {name_prefix}",
            )
        # The wildcards this construct's grants hold (CDK's on its buckets and key, and the name patterns it was
        # given), as cdk-nag names them, each with why it is acceptable.
        self._wildcards = (
            *_ARTIFACT_WILDCARDS,
            (re.compile(r"Resource::.*:codepipeline:.*\*"),
             "The release pipelines, one per model and named after it, are all this role may start; which one an approval "
             "starts is the approving model's, and a release refuses, at synthesis, a package outside its model's group."),
            *((re.compile(re.escape(f"Resource::{arn}")), "The role of each model's approved-package reader in the registry account, "
               "named after the model; each may read only its own model's parameter.") for arn in synth_assumable_roles if "*" in arn),
            *((re.compile(re.escape(f"Resource::{arn}")), "The smoke-test role of each model's endpoint in a stage account, named "
               "after the model; each may only invoke its own endpoint.") for arn in smoke_test_roles if "*" in arn),
        )
        self._acknowledge_projects()
        # At synthesis: the pipelines bound to the projects add CDK's grants to the projects' roles after this.
        Aspects.of(self).add(_AcknowledgeOnce(self._acknowledge_policies))

    @staticmethod
    def source_bucket_name(name_prefix: str, account: str, region: str) -> str:
        """The tested source's bucket: deterministic, so that the platform's pipeline names it without a reference."""
        return f"{name_prefix}-release-source-{account}-{region}"

    def _acknowledge_policies(self) -> None:
        stack = Stack.of(self)
        for policy in (c for c in self.node.find_all() if isinstance(c, (iam.Policy, iam.ManagedPolicy))):
            document = stack.resolve(policy.document.to_json())
            reasons = {**(in_packs("IAMNoInlinePolicy", _INLINE_REASON) if isinstance(policy, iam.Policy) else {}),
                       **wildcard_reasons(stack, document, self._wildcards)}
            if reasons:
                acknowledge_each(policy, reasons)

    def _acknowledge_projects(self) -> None:
        projects = [(self.synth_project, False), *((p, True) for p in self.deploy_projects.values()), (self.smoke_test_project, False)]
        for project, privileged in projects:
            reasons = in_packs("CodeBuildProjectSourceRepoUrl", _SOURCE_URL_REASON, packs=("HIPAA.Security", "PCI.DSS.321"))
            if privileged:
                reasons[guard("codebuild_project_environment_privileged_check")] = _PRIVILEGED_REASON
            acknowledge_each(project.node.default_child, reasons)  # type: ignore[arg-type]

    @staticmethod
    def _validate(name_prefix: str, deploy_accounts: Sequence[str], synth_commands: Sequence[str], synth_role_name: str | None,
                  smoke_test_role_name: str | None, release_role_name: str | None, synth_assumable_roles: Sequence[str],
                  smoke_test_roles: Sequence[str], released_by: Sequence[str], releasable: Sequence[str]) -> None:
        name = "ReleaseTooling"
        if not isinstance(name_prefix, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,30}", name_prefix):
            raise PropsError(name, "name_prefix", name_prefix, "must be 2-31 lowercase letters, digits and hyphens (it names a bucket)")
        if isinstance(deploy_accounts, str) or not deploy_accounts or not all(isinstance(a, str) and re.fullmatch(r"\d{12}", a) for a in deploy_accounts):
            raise PropsError(name, "deploy_accounts", deploy_accounts, "must be a list of one or more 12-digit account ids")
        if isinstance(synth_commands, str) or not synth_commands:
            raise PropsError(name, "synth_commands", synth_commands, "must be a list of one or more shell commands")
        for prop, value in (("synth_role_name", synth_role_name), ("smoke_test_role_name", smoke_test_role_name), ("release_role_name", release_role_name)):
            if value is not None and not _ROLE_NAME.fullmatch(value):
                raise PropsError(name, prop, value, "must be an IAM role name: 1-64 letters, digits and + = , . @ _ -")
        for prop, arns in (("synth_assumable_roles", synth_assumable_roles), ("smoke_test_roles", smoke_test_roles), ("released_by", released_by)):
            if isinstance(arns, str) or not all(isinstance(a, str) and ROLE_ARN.fullmatch(a) for a in arns):
                raise PropsError(name, prop, arns, "must be a list of IAM role ARNs, arn:aws:iam::<12-digit account>:role/<name>")
        if (release_role_name is None) != (not released_by) or (release_role_name is not None and not releasable):
            raise PropsError(name, "release_role_name", release_role_name, "needs released_by and releasable, and they need it")
        if isinstance(releasable, str) or not all(isinstance(p, str) and re.fullmatch(r"[A-Za-z0-9.@_*-]{1,100}", p) for p in releasable):
            raise PropsError(name, "releasable", releasable, "must be a list of pipeline names or name patterns (* allowed)")


class ReleasePipeline(Construct):
    """One unit's release: Source (the tested source, only when started) → Synth → one stage per deployment.

    A CodePipeline V2 pipeline in SUPERSEDED execution mode: a newer release of the same unit overtakes an older
    one waiting between stages, and an older one never deploys a stage after a newer one has
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html); so two approvals in a
    row end with the later deployed, stage by stage, never a mix. Its actions run with the pipeline's own role;
    the builds run in ``tooling``'s projects.

    :param pipeline_name: the pipeline's name.
    :param tooling: the shared source, artifact store and projects.
    :param release_name: what the release is of (``RELEASE_NAME`` in the synth build).
    :param deployments: the stages, in order.
    :param synth_environment: more environment variables of the synth build (each action's configuration,
        variables included, must stay within CodePipeline's 1,000 characters).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline_name: str,
        tooling: ReleaseTooling,
        release_name: str,
        deployments: Sequence[ReleaseDeployment],
        synth_environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._validate(pipeline_name, release_name, deployments, synth_environment or {}, list(tooling.deploy_projects))
        source, assembly = codepipeline.Artifact("Source"), codepipeline.Artifact("Release")

        def env(values: Mapping[str, str]) -> dict[str, codebuild.BuildEnvironmentVariable]:
            return {k: codebuild.BuildEnvironmentVariable(value=v) for k, v in values.items()}

        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[actions.S3SourceAction(
                action_name="TestedSource", bucket=tooling.source_bucket, bucket_key=SOURCE_KEY, output=source,
                # Started only by an approval or by the platform's pipeline, never by a change of the object.
                trigger=actions.S3Trigger.NONE,
            )]),
            codepipeline.StageProps(stage_name="Synth", actions=[actions.CodeBuildAction(
                action_name="Synth", project=tooling.synth_project, input=source, outputs=[assembly], variables_namespace=SYNTH_NAMESPACE,
                environment_variables=env({"RELEASE_NAME": release_name, "MODEL_PACKAGE_ARN": f"#{{variables.{MODEL_PACKAGE_VARIABLE}}}",
                                           **(synth_environment or {})}),
            )]),
        ]
        # Each deployment stage is entered only when the synthesis released something, and skipped otherwise: an entry
        # condition whose VariableCheck rule fails engages its result, SKIP
        # (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html,
        # https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html).
        # A rule's name "must be unique within the pipeline" (aws-cdk-lib's RuleProps.name; a rule's outputs are read
        # pipeline-wide as #{rule.<name>}), so each stage's condition names its rule after the stage.
        def something_to_release(stage: str) -> codepipeline.Conditions:
            return codepipeline.Conditions(conditions=[codepipeline.Condition(
                result=codepipeline.Result.SKIP,
                rules=[codepipeline.Rule(name=f"SomethingToRelease-{stage}", provider="VariableCheck", version="1", configuration={
                    "Variable": f"#{{{SYNTH_NAMESPACE}.{RELEASE_VARIABLE}}}", "Operator": "EQ", "Value": "yes"})],
            )])

        for deployment in deployments:
            steps: list[codepipeline.IAction] = []
            if deployment.manual_approval:
                steps.append(actions.ManualApprovalAction(
                    action_name=f"Promote-{deployment.name}", run_order=1,
                    # Variables are resolved in an approval's custom data
                    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html): the approver sees
                    # which version this run releases, not only which model (an older run may still wait here).
                    additional_information=f"Release {release_name} (#{{{SYNTH_NAMESPACE}.{RELEASE_DETAIL_VARIABLE}}}) to {deployment.name}? "
                                           "The earlier stages are deployed and their smoke tests passed.",
                ))
            # the deployment's account's own project (the only one when the tooling deploys to one account)
            deploy = tooling.deploy_projects[deployment.account or next(iter(tooling.deploy_projects))]
            steps.append(actions.CodeBuildAction(
                action_name=f"Deploy-{deployment.name}", project=deploy, input=assembly, run_order=len(steps) + 1,
                environment_variables=env({"RELEASE_STACKS": deployment.stacks}),
            ))
            if deployment.smoke_tests:
                tests = [t.as_json() for t in deployment.smoke_tests]
                steps.append(actions.CodeBuildAction(
                    action_name=f"SmokeTest-{deployment.name}", project=tooling.smoke_test_project, input=source, run_order=len(steps) + 1,
                    environment_variables=env({"SMOKE_TESTS": json.dumps(tests, separators=(",", ":")), "SMOKE_TEST_REGION": deployment.region}),
                ))
            stages.append(codepipeline.StageProps(stage_name=deployment.name, actions=steps, before_entry=something_to_release(deployment.name)))
        # The shared artifact bucket by its name (a reference would be a CloudFormation export, which ties the stacks).
        artifact_bucket = s3.Bucket.from_bucket_attributes(self, "Artifacts", bucket_name=tooling.artifact_bucket_name,
                                                           encryption_key=tooling.encryption_key)
        self.pipeline = codepipeline.Pipeline(
            self, "Pipeline", pipeline_name=pipeline_name, pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED, artifact_bucket=artifact_bucket,
            use_pipeline_role_for_actions=True, restart_execution_on_update=False, stages=stages,
            variables=[codepipeline.Variable(
                variable_name=MODEL_PACKAGE_VARIABLE, default_value=NO_MODEL_PACKAGE,
                description="The approved model package this release deploys; 'none': the one the registry's parameter names",
            )],
        )
        """The CodePipeline."""
        # Its role starts the deploy builds of every stage (use_pipeline_role_for_actions), and writes the source artifact.
        Tags.of(self.pipeline.role).add(DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT)
        self.pipeline.notify_on("FailuresAndApprovals", tooling.notification_topic, events=[
            codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
            codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
            codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_FAILED,
        ])
        self._acknowledge()
        ignore_cfn_lint(self.pipeline, "W3005", "CDK's Pipeline adds an explicit DependsOn on its role's policy as well as the "
                        "GetAtt of its role; the redundancy is CDK's and harmless.")

    def _acknowledge(self) -> None:
        stack = Stack.of(self)
        for policy in (c for c in self.node.find_all() if isinstance(c, iam.Policy)):
            document = stack.resolve(policy.document.to_json())
            acknowledge_each(policy, {**in_packs("IAMNoInlinePolicy", _INLINE_REASON), **wildcard_reasons(stack, document, _ARTIFACT_WILDCARDS)})

    @staticmethod
    def _validate(pipeline_name: str, release_name: str, deployments: Sequence[ReleaseDeployment], environment: Mapping[str, str],
                  deploy_accounts: Sequence[str]) -> None:
        name = "ReleasePipeline"
        if not isinstance(pipeline_name, str) or not _NAME.fullmatch(pipeline_name):
            raise PropsError(name, "pipeline_name", pipeline_name, "must be 1-100 letters, digits and . @ _ -")
        if not isinstance(release_name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", release_name):
            raise PropsError(name, "release_name", release_name, "must be 1-100 letters, digits, _ and -")
        if isinstance(deployments, (str, ReleaseDeployment)) or not deployments:
            raise PropsError(name, "deployments", deployments, "must be a list of one or more ReleaseDeployment")
        names = [d.name for d in deployments]
        if len(set(names)) != len(names) or {"Source", "Synth"} & set(names):
            raise PropsError(name, "deployments", names, "must have distinct names, neither Source nor Synth")
        for key, value in environment.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or not isinstance(value, str) or key in ("RELEASE_NAME", "MODEL_PACKAGE_ARN"):
                raise PropsError(name, f"synth_environment.{key}", value, "must map variable names (not RELEASE_NAME or MODEL_PACKAGE_ARN) to strings")
        for deployment in deployments:
            if deployment.account is None and len(deploy_accounts) > 1:
                raise PropsError(name, f"deployments[{deployment.name}].account", None,
                                 f"must name the account it deploys to, one of the tooling's deploy_accounts {list(deploy_accounts)}")
            if deployment.account is not None and deployment.account not in deploy_accounts:
                raise PropsError(name, f"deployments[{deployment.name}].account", deployment.account,
                                 f"must be one of the tooling's deploy_accounts {list(deploy_accounts)}")
            tests = [t.as_json() for t in deployment.smoke_tests]
            rendered = json.dumps([{"name": "SMOKE_TESTS", "type": "PLAINTEXT", "value": json.dumps(tests, separators=(",", ":"))},
                                   {"name": "SMOKE_TEST_REGION", "type": "PLAINTEXT", "value": deployment.region}], separators=(",", ":"))
            if len(rendered) > _ACTION_CONFIGURATION_MAX:
                raise PropsError(name, f"deployments[{deployment.name}].smoke_tests", len(rendered),
                                 f"must fit CodePipeline's {_ACTION_CONFIGURATION_MAX} characters per action configuration value "
                                 "(https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html): shorten the request bodies")
        # The value as the Synth action's configuration holds it, the pipeline's own two variables included (a 100-character
        # release name takes ~240 characters with them), checked whole as the smoke tests' above.
        variables = {"RELEASE_NAME": release_name, "MODEL_PACKAGE_ARN": f"#{{variables.{MODEL_PACKAGE_VARIABLE}}}", **environment}
        rendered = json.dumps([{"name": k, "type": "PLAINTEXT", "value": v} for k, v in variables.items()], separators=(",", ":"))
        if len(rendered) > _ACTION_CONFIGURATION_MAX:
            raise PropsError(name, "synth_environment", len(rendered),
                             f"must fit, with RELEASE_NAME and MODEL_PACKAGE_ARN, CodePipeline's {_ACTION_CONFIGURATION_MAX} characters per action "
                             "configuration value (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html)")
