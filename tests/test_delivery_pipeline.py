"""The delivery pipeline: one CDK Pipelines (V2) pipeline in the tooling account that deploys Dev, then
Staging with a smoke test, then a manual approval and Prod, each stage through its own account's
bootstrap roles; the cross-account roles around it (release, approved-model readers, smoke tests) trust
exactly one named role each and may do exactly one thing; and the construct and config reject bad input."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk import pipelines
from aws_cdk.assertions import Template

from mlops_constructs.config import ConfigError, PlatformConfig
from mlops_constructs.delivery import DEFAULT_CLI_VERSION, DeliveryPipeline, DeliveryStage
from mlops_constructs.errors import PropsError
from mlops_constructs.guardrails import DEPLOYS_TO_TAG, PIPELINE_ARTIFACTS
from stacks import build_platform
from stacks.names import VALIDATE_TEMPLATES
from tests.conftest import CDK_CONTEXT, REPO, SynthesizedPlatform, default_config_data, resources, tags_of

STAGE_NAMES = ("Dev", "Staging", "Prod")
RESOLVER = "mlops_constructs/delivery/scripts/resolve_model_packages.py"
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def delivery(platform: SynthesizedPlatform) -> dict[str, Any]:
    return platform.templates["Delivery"]


def pipeline_resource(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = resources(template, "AWS::CodePipeline::Pipeline").items()
    return found[0], found[1]["Properties"]


def pipeline_stages(platform: SynthesizedPlatform) -> dict[str, list[dict[str, Any]]]:
    _, pipeline = pipeline_resource(delivery(platform))
    return {stage["Name"]: stage["Actions"] for stage in pipeline["Stages"]}


def refs(platform: SynthesizedPlatform, template: dict[str, Any], account: str) -> dict[str, str]:
    """What ``Ref`` resolves to in ``template``: the pseudo parameters of a stack in ``account``, and
    each pipeline's logical id to its name (a pipeline's Ref is its name)."""
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": platform.config.region,
        "AWS::AccountId": account,
        "AWS::URLSuffix": "amazonaws.com",
    }
    for logical_id, pipeline in resources(template, "AWS::CodePipeline::Pipeline").items():
        values[logical_id] = pipeline["Properties"]["Name"]
    return values


def render(value: Any, values: dict[str, str]) -> str:
    """A string, Fn::Join, Fn::Sub or Ref (of a name in ``values``) rendered to the string it deploys as;
    any other reference becomes ``<Ref:X>`` / ``<X.Attr>``, which holds no account id."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict) and len(value) == 1, f"cannot render {value!r}"
    ((fn, arg),) = value.items()
    if fn == "Ref":
        return values.get(arg, f"<Ref:{arg}>")
    if fn == "Fn::GetAtt":
        return f"<{arg[0]}.{arg[1]}>"
    if fn == "Fn::Join":
        separator, parts = arg
        return separator.join(render(part, values) for part in parts)
    if fn == "Fn::Sub":
        assert isinstance(arg, str), f"Fn::Sub with variables: {arg!r}"
        return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), f"<Ref:{m.group(1)}>"), arg)
    raise AssertionError(f"cannot render {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_named(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    found = [(i, r["Properties"]) for i, r in resources(template, "AWS::IAM::Role").items() if r["Properties"].get("RoleName") == name]
    assert len(found) == 1, f"expected one role named {name}, found {len(found)}"
    return found[0]


def policies_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every inline or managed policy resource attached to the role ``role_id``."""
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in r["Properties"].get("Roles", [])
    ]


def statements_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [s for policy in policies_of(template, role_id) for s in policy["PolicyDocument"]["Statement"]]


def account_ids(text: str) -> set[str]:
    return set(re.findall(r"(?<!\d)\d{12}(?!\d)", text))


def principal_accounts(platform: SynthesizedPlatform, template: dict[str, Any], document: dict[str, Any]) -> set[str]:
    """Every 12-digit account id named in any statement's Principal, intrinsics rendered."""
    found: set[str] = set()
    values = refs(platform, template, platform.config.accounts.tooling)
    for statement in document["Statement"]:
        for principals in statement.get("Principal", {}).values() if isinstance(statement.get("Principal"), dict) else []:
            for principal in as_list(principals):
                found |= account_ids(render(principal, values))
    return found


def only_trusted_role(trust: dict[str, Any]) -> tuple[str, str, list[str]]:
    """The one statement of a trust policy as (principal, condition operator, aws:PrincipalArn values);
    fails unless it is exactly one sts:AssumeRole statement narrowed only by aws:PrincipalArn."""
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert set(statement) <= {"Action", "Condition", "Effect", "Principal", "Sid"}, statement
    (principal,) = as_list(statement["Principal"]["AWS"])
    assert set(statement["Principal"]) == {"AWS"}
    ((operator, keys),) = statement["Condition"].items()
    assert set(keys) == {"aws:PrincipalArn"}, keys
    return principal, operator, as_list(keys["aws:PrincipalArn"])


def buildspec_commands(project: dict[str, Any], phase: str) -> list[str]:
    return json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"][phase]["commands"]


def project_of_action(template: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]


def role_names_in(scope: Any) -> set[str]:
    """The RoleName of every IAM role in a construct tree."""
    return {c.role_name for c in scope.node.find_all() if isinstance(c, iam.CfnRole) and isinstance(c.role_name, str)}


def cross_account_role_names(config: PlatformConfig) -> set[str]:
    """The reader roles (dev) and smoke-test roles (staging) that exist only for the delivery pipeline."""
    p = config.project
    return {f"{p}-approved-model-reader"} | {f"{p}-staging-{m.name}-smoke" for m in config.models if m.smoke_test is not None and m.realtime}


def tiny_pipeline(**overrides: Any) -> cdk.Stack:
    """A DeliveryPipeline in its own app, deploying a one-stack, one-resource stage to 222222222222."""
    app = cdk.App(context=CDK_CONTEXT)
    stage = cdk.Stage(app, "Tiny", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    sqs.Queue(cdk.Stack(stage, "Only", stack_name="tiny-only"), "Queue")
    tooling = cdk.Stack(app, "Tooling", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    props: dict[str, Any] = {
        "pipeline_name": "tiny-release",
        "source": pipelines.CodePipelineSource.connection("acme/tiny", "main", connection_arn=CONNECTION_ARN),
        "stages": [DeliveryStage(stage=stage)],
    }
    props.update(overrides)
    DeliveryPipeline(tooling, "Delivery", **props)
    return tooling


def config_problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(data, source="test.yaml")
    return caught.value.problems


# ------------------------------------------------------------------------------------------------
# 1. Pipeline shape
# ------------------------------------------------------------------------------------------------


def test_pipeline_is_v2_with_stages_in_order(platform: SynthesizedPlatform) -> None:
    _, pipeline = pipeline_resource(delivery(platform))
    assert pipeline["PipelineType"] == "V2"
    # the release tooling and the models' release pipelines first, then the stages' own stacks
    # then each stage's own stacks, dev's model stacks (in stages of at most 20 models) after dev's own
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Build", "UpdatePipeline", "Assets", "Releases", "Dev", "Dev-Models-1", "Staging", "Prod"]


def test_prod_waits_for_a_manual_approval_before_anything_else(platform: SynthesizedPlatform) -> None:
    prod = pipeline_stages(platform)["Prod"]
    approvals = [a for a in prod if a["ActionTypeId"]["Category"] == "Approval"]
    assert [a["ActionTypeId"]["Provider"] for a in approvals] == ["Manual"]
    others = [a for a in prod if a is not approvals[0]]
    assert others, "prod deploys nothing"
    assert all(approvals[0]["RunOrder"] < a["RunOrder"] for a in others)


def test_dev_and_staging_have_no_approval(platform: SynthesizedPlatform) -> None:
    stages = pipeline_stages(platform)
    for name in ("Dev", "Staging"):
        assert [a["Name"] for a in stages[name] if a["ActionTypeId"]["Category"] == "Approval"] == [], name


# ------------------------------------------------------------------------------------------------
# 2. Each stage deploys through its own account's bootstrap roles, and only its own stacks
# ------------------------------------------------------------------------------------------------


def test_each_stage_deploys_its_own_stacks_through_its_own_accounts_bootstrap_roles(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = delivery(platform)
    values = refs(platform, template, config.accounts.tooling)
    for name, actions in pipeline_stages(platform).items():
        models = re.fullmatch(r"(Dev)-Models-(\d+)", name)  # dev's stages of the models' stacks
        if name not in STAGE_NAMES and not models:
            continue
        stage = (models[1] if models else name).lower()
        account = config.accounts.for_stage(stage)
        cfn = [a for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation"]
        assert cfn, name
        for action in cfn:
            assert render(action["RoleArn"], values) == f"arn:aws:iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-{config.region}", action["Name"]
            assert action["Configuration"]["StackName"].startswith(f"{config.project}-{stage}-"), action["Name"]
            if action["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE":
                assert "RoleArn" in action["Configuration"], action["Name"]
            if "RoleArn" in action["Configuration"]:
                exec_role = render(action["Configuration"]["RoleArn"], values)
                assert exec_role == f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{config.region}", action["Name"]
        # every stack of the stage, and nothing else, is deployed by the stage; the models' release stages
        # (their endpoints) are left to the models' release pipelines
        scope = platform.stages[stage].model_stages[int(models[2]) - 1] if models else platform.stages[stage]
        expected = {s.stack_name for s in scope.node.children if isinstance(s, cdk.Stack)}
        assert {a["Configuration"]["StackName"] for a in cfn} == expected, name


# ------------------------------------------------------------------------------------------------
# 3. The pipeline's key and artifact bucket admit only the configured accounts
# ------------------------------------------------------------------------------------------------


def test_pipeline_key_policy_names_only_configured_accounts(platform: SynthesizedPlatform) -> None:
    template = delivery(platform)
    _, pipeline = pipeline_resource(template)
    key_id = pipeline["ArtifactStore"]["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    key = template["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key"
    accounts = platform.config.accounts
    named = principal_accounts(platform, template, key["Properties"]["KeyPolicy"])
    assert named <= {accounts.tooling, accounts.dev, accounts.staging, accounts.prod}
    assert named - {accounts.tooling} == {accounts.dev, accounts.staging, accounts.prod}


def test_artifact_bucket_policy_names_only_configured_accounts(platform: SynthesizedPlatform) -> None:
    template = delivery(platform)
    _, pipeline = pipeline_resource(template)
    bucket_id = pipeline["ArtifactStore"]["Location"]["Ref"]
    (policy,) = [p["Properties"] for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    accounts = platform.config.accounts
    named = principal_accounts(platform, template, policy["PolicyDocument"])
    assert named <= {accounts.tooling, accounts.dev, accounts.staging, accounts.prod}
    assert named - {accounts.tooling} == {accounts.dev, accounts.staging, accounts.prod}


# ------------------------------------------------------------------------------------------------
# 4. The released model package reaches the synth step
# ------------------------------------------------------------------------------------------------


def test_pipeline_declares_the_model_package_variable(platform: SynthesizedPlatform) -> None:
    _, pipeline = pipeline_resource(delivery(platform))
    (variable,) = pipeline["Variables"]
    assert variable["Name"] == "ModelPackageArn"
    assert variable["DefaultValue"] == "none"


def test_synth_action_passes_the_variable_as_model_package_arn(platform: SynthesizedPlatform) -> None:
    (synth,) = [a for a in pipeline_stages(platform)["Build"] if a["Name"] == "Synth"]
    env = {v["name"]: v["value"] for v in json.loads(synth["Configuration"]["EnvironmentVariables"])}
    assert env["MODEL_PACKAGE_ARN"] == "#{variables.ModelPackageArn}"


def test_synth_tests_then_synthesizes_the_platform(platform: SynthesizedPlatform) -> None:
    template = delivery(platform)
    (synth,) = [a for a in pipeline_stages(platform)["Build"] if a["Name"] == "Synth"]
    commands = buildspec_commands(project_of_action(template, synth), "build")
    # two test processes, as the suite is measured with: "auto" would start one per CPU of the build container and
    # could exceed its memory
    test = commands.index("make test TEST_WORKERS=2")
    (make_synth,) = [i for i, c in enumerate(commands) if c.startswith("make synth ") and "SYNTH_ARGS=" in c]
    assert test < make_synth
    # the platform's synthesis needs no approved package: it deploys no endpoint (the releases do)
    assert not [c for c in commands if RESOLVER in c]

@pytest.mark.parametrize("failing", [None, "acme-release-b"])
def test_publish_release_starts_every_release_pipeline_and_fails_if_one_start_failed(
    platform: SynthesizedPlatform, tmp_path: Path, failing: str | None,
) -> None:
    # The step's command, run by sh (CodeBuild's default shell) with `aws` stubbed: every pipeline is started even
    # when one start fails, and then the step fails (a for loop's status is only its last command's).
    (publish,) = [a for a in pipeline_stages(platform)["Prod"] if a["Name"] == "PublishRelease"]
    (command,) = [c for c in buildspec_commands(project_of_action(delivery(platform), publish), "build") if "start-pipeline-execution" in c]
    stub = tmp_path / "aws"
    stub.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = list-pipelines ]; then echo "acme-release-a acme-release-b acme-release-c"; exit 0; fi\n'
        'echo "$4" >> "$STARTED"\n'
        f'[ "$4" != "{failing}" ]\n'
    )
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "STARTED": str(tmp_path / "started")}
    result = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
    assert (tmp_path / "started").read_text().split() == ["acme-release-a", "acme-release-b", "acme-release-c"]
    assert (result.returncode == 0) is (failing is None)


def test_synth_validates_the_templates_it_deploys(platform: SynthesizedPlatform) -> None:
    # The app skips CDK's template validation unless asked (app.new_app); the pipeline asks, for the
    # configuration it deploys, which `make test` (config/default.yaml) may not cover.
    (synth,) = [a for a in pipeline_stages(platform)["Build"] if a["Name"] == "Synth"]
    (command,) = [c for c in buildspec_commands(project_of_action(delivery(platform), synth), "build") if c.startswith("make synth ")]
    synth_args = next(w for w in shlex.split(command) if w.startswith("SYNTH_ARGS="))
    assert synth_args.removeprefix("SYNTH_ARGS=").split()[:2] == ["-c", f"{VALIDATE_TEMPLATES}=true"]


def releases(platform: SynthesizedPlatform) -> dict[str, Any]:
    return platform.templates["Releases/Tooling"]


def approval_role_arns(config: PlatformConfig) -> list[str]:
    return sorted(f"arn:aws:iam::{config.accounts.dev}:role/{config.project}-{m.name}-approval" for m in config.models)


def test_release_role_trusts_only_the_approval_roles_of_dev(platform: SynthesizedPlatform) -> None:
    config = platform.config
    _, role = role_named(releases(platform), f"{config.project}-model-release")
    principal, operator, arns = only_trusted_role(role["AssumeRolePolicyDocument"])
    assert principal == f"arn:aws:iam::{config.accounts.dev}:root"
    assert operator == "ArnLike"
    # one pattern for every model's approval role: the trust policy does not grow with the models
    assert arns == [f"arn:aws:iam::{config.accounts.dev}:role/{config.project}-*-approval"]
    assert all(re.fullmatch(arns[0].replace("*", "[a-z0-9-]+"), arn) for arn in approval_role_arns(config))


def test_release_role_may_only_start_the_release_pipelines(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = releases(platform)
    role_id, role = role_named(template, f"{config.project}-model-release")
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    (policy,) = [p["Properties"] for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                 if {"Ref": role_id} in p["Properties"].get("Roles", [])]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    assert as_list(statement["Action"]) == ["codepipeline:StartPipelineExecution"]
    (resource,) = as_list(statement["Resource"])
    values = refs(platform, template, config.accounts.tooling)
    assert render(resource, values) == f"arn:aws:codepipeline:{config.region}:{config.accounts.tooling}:{config.project}-release-*"

def test_approval_function_starts_this_pipeline_through_the_release_role(platform: SynthesizedPlatform) -> None:
    config = platform.config
    for model in config.models:
        template = platform.templates[f"Dev/Models-1/Registry-{model.name}"]
        (function,) = [
            f["Properties"] for f in resources(template, "AWS::Lambda::Function").values()
            if "RELEASE_ROLE_ARN" in f["Properties"].get("Environment", {}).get("Variables", {})
        ]
        env = function["Environment"]["Variables"]
        assert env["RELEASE_ROLE_ARN"] == f"arn:aws:iam::{config.accounts.tooling}:role/{config.project}-model-release"
        assert env["RELEASE_PIPELINE_NAME"] == f"{config.project}-release-{model.name}"  # the model's own release
        role_name = template["Resources"][function["Role"]["Fn::GetAtt"][0]]["Properties"]["RoleName"]
        assert f"arn:aws:iam::{config.accounts.dev}:role/{role_name}" in approval_role_arns(config)
        assert role_name == f"{config.project}-{model.name}-approval"


# ------------------------------------------------------------------------------------------------
# 6. The synth step reads each model's approved package through a read-only role in dev
# ------------------------------------------------------------------------------------------------


def test_synth_role_may_assume_exactly_the_reader_roles(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = releases(platform)
    role_id, _ = role_named(template, f"{config.project}-release-synth")
    assumable = [
        r for s in statements_of(template, role_id)
        if s["Effect"] == "Allow" and any(a.startswith("sts:") or a == "*" for a in as_list(s["Action"]))
        for r in as_list(s["Resource"])
    ]
    assert assumable == [f"arn:aws:iam::{config.accounts.dev}:role/{config.project}-approved-model-reader"]  # one for every model
    assert all(a == "sts:AssumeRole" for s in statements_of(template, role_id) for a in as_list(s["Action"]) if a.startswith("sts:"))


def test_reader_role_trusts_only_the_synth_role(platform: SynthesizedPlatform) -> None:
    config = platform.config
    tooling = config.accounts.tooling
    _, role = role_named(platform.templates["Dev/Storage"], f"{config.project}-approved-model-reader")
    principal, operator, arns = only_trusted_role(role["AssumeRolePolicyDocument"])
    assert principal == f"arn:aws:iam::{tooling}:root"
    assert operator == "ArnEquals"
    assert arns == [f"arn:aws:iam::{tooling}:role/{config.project}-release-synth"]
    # and that is the release synth build's role, in the release tooling stack
    role_named(releases(platform), f"{config.project}-release-synth")


def test_reader_role_may_only_read_the_approved_model_parameters(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = platform.templates["Dev/Storage"]
    role_id, role = role_named(template, f"{config.project}-approved-model-reader")
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    (statement,) = statements_of(template, role_id)
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    assert as_list(statement["Action"]) == ["ssm:GetParameter"]
    (resource,) = as_list(statement["Resource"])
    values = refs(platform, template, config.accounts.dev)
    assert render(resource, values) == (
        f"arn:aws:ssm:{config.region}:{config.accounts.dev}:parameter/{config.project}/models/*/approved-model-package-arn"
    )
    for model in config.models:  # what each model's parameter is named
        assert re.fullmatch(render(resource, values).split(":parameter")[1].replace("*", "[a-z0-9-]+"),
                            f"/{config.project}/models/{model.name}/approved-model-package-arn")
    # and no registry stack has a reader of its own any more
    assert not [r for m in config.models for r in resources(platform.templates[f"Dev/Models-1/Registry-{m.name}"], "AWS::IAM::Role").values()
                if r["Properties"].get("RoleName", "").endswith("-model-reader")]

def test_staging_smoke_role_trusts_only_the_pipelines_smoke_test_role(platform: SynthesizedPlatform) -> None:
    config = platform.config
    tooling = config.accounts.tooling
    _, role = role_named(platform.templates["Staging/Release-churn/Endpoint"], f"{config.project}-staging-churn-smoke")
    principal, operator, arns = only_trusted_role(role["AssumeRolePolicyDocument"])
    assert principal == f"arn:aws:iam::{tooling}:root"
    assert operator == "ArnEquals"
    assert arns == [f"arn:aws:iam::{tooling}:role/{config.project}-release-smoke-test"]


def test_staging_smoke_role_may_only_invoke_the_staging_endpoint_and_its_api(platform: SynthesizedPlatform) -> None:
    template = platform.templates["Staging/Release-churn/Endpoint"]
    role_id, role = role_named(template, f"{platform.config.project}-staging-churn-smoke")
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    describe, invoke_api, invoke = statements_of(template, role_id)
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in (describe, invoke_api, invoke))
    # CanaryEndpoint.grant_invoke: the endpoint's invoke actions, on this endpoint only
    assert as_list(invoke["Action"]) == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    (endpoint_id,) = resources(template, "AWS::SageMaker::Endpoint")
    assert as_list(invoke["Resource"]) == [{"Ref": endpoint_id}]
    # InferenceApi.grant_invoke: POST /invocations of the API's stage only; the API's URL from this stack's outputs
    (api_id,) = resources(template, "AWS::ApiGateway::RestApi")
    assert as_list(invoke_api["Action"]) == ["execute-api:Invoke"]
    (api_arn,) = as_list(invoke_api["Resource"])
    assert {"Ref": api_id} in api_arn["Fn::Join"][1] and api_arn["Fn::Join"][1][-1] == "/v1/POST/invocations"
    assert as_list(describe["Action"]) == ["cloudformation:DescribeStacks"] and as_list(describe["Resource"]) == [{"Ref": "AWS::StackId"}]


def test_pipeline_smoke_test_role_may_only_assume_the_staging_smoke_role(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = releases(platform)
    role_id, _ = role_named(template, f"{config.project}-release-smoke-test")
    statements = statements_of(template, role_id)
    assumes = [s for s in statements if any(a.startswith("sts:") for a in as_list(s["Action"]))]
    (assume,) = assumes
    assert as_list(assume["Action"]) == ["sts:AssumeRole"]
    assert as_list(assume["Resource"]) == [f"arn:aws:iam::{config.accounts.staging}:role/{config.project}-staging-*-smoke"]
    # the rest is CDK's grants for the build itself: its logs and reports, the artifacts and their key
    for statement in statements:
        if statement is assume:
            continue
        assert all(a.split(":")[0] in ("logs", "codebuild", "s3", "kms") for a in as_list(statement["Action"])), statement
        assert "*" not in as_list(statement["Resource"]), statement


def test_smoke_test_step_runs_as_the_smoke_test_role_against_the_staging_endpoint(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = releases(platform)
    (pipeline,) = [p for p in resources(platform.templates[platform.release_path("churn")], "AWS::CodePipeline::Pipeline").values()
                   if p["Properties"]["Name"] == f"{config.project}-release-churn"]
    staging = next(s["Actions"] for s in pipeline["Properties"]["Stages"] if s["Name"] == "Staging")
    (smoke,) = [a for a in staging if a["Name"] == "SmokeTest-Staging"]
    # the project the action runs: the release tooling's smoke-test project, named through the tooling stack's output
    assert platform.releases is not None
    tooling = platform.releases.tooling
    project_id = tooling.get_logical_id(tooling.tooling.smoke_test_project.node.default_child)  # type: ignore[arg-type]
    output = smoke["Configuration"]["ProjectName"]["Fn::GetStackOutput"]
    assert output["StackName"] == tooling.stack_name
    assert template["Outputs"][output["OutputName"]]["Value"] == {"Ref": project_id}
    project = template["Resources"][project_id]
    assert project["Type"] == "AWS::CodeBuild::Project"
    role_id, _ = role_named(template, f"{config.project}-release-smoke-test")
    assert project["Properties"]["ServiceRole"] == {"Fn::GetAtt": [role_id, "Arn"]}
    env = {v["name"]: v["value"] for v in json.loads(smoke["Configuration"]["EnvironmentVariables"])}
    assert [(t["endpoint"], t["role_arn"], t["api_stack"], t["api_output"]) for t in json.loads(env["SMOKE_TESTS"])] == [
        (f"{config.project}-staging-churn", f"arn:aws:iam::{config.accounts.staging}:role/{config.project}-staging-churn-smoke",
         f"{config.project}-staging-churn-endpoint", "InferenceApiUrl")
    ]
    # the endpoint stack's output the smoke test reads: the API's URL
    url = platform.templates["Staging/Release-churn/Endpoint"]["Outputs"]["InferenceApiUrl"]["Value"]["Fn::Join"][1]
    assert url[0] == "https://" and ".execute-api." in url[2] and url[-1] == "/invocations"
    assert env["SMOKE_TEST_REGION"] == config.region

def test_dev_and_prod_endpoints_have_no_smoke_role(platform: SynthesizedPlatform) -> None:
    for stage in ("Dev", "Prod"):
        template = platform.templates[f"{stage}/Release-churn/Endpoint"]
        roles = resources(template, "AWS::IAM::Role").values()
        assert roles, stage
        for role in roles:
            assert not role["Properties"].get("RoleName", "").endswith("-smoke"), stage
            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                assert set(statement["Principal"]) == {"Service"}, (stage, statement)
    assert platform.stages["staging"].endpoints["churn"].smoke_test_role is not None
    assert platform.stages["dev"].endpoints["churn"].smoke_test_role is None
    assert platform.stages["prod"].endpoints["churn"].smoke_test_role is None


# ------------------------------------------------------------------------------------------------
# 8. Notifications
# ------------------------------------------------------------------------------------------------


def test_failures_and_approvals_are_announced_on_an_encrypted_topic(platform: SynthesizedPlatform) -> None:
    config = platform.config
    template = delivery(platform)
    _, pipeline = pipeline_resource(template)
    values = refs(platform, template, config.accounts.tooling)
    pipeline_arn = f"arn:aws:codepipeline:{config.region}:{config.accounts.tooling}:{pipeline['Name']}"
    (rule,) = [r["Properties"] for r in resources(template, "AWS::CodeStarNotifications::NotificationRule").values()
               if render(r["Properties"]["Resource"], values) == pipeline_arn]
    assert {"codepipeline-pipeline-pipeline-execution-failed", "codepipeline-pipeline-manual-approval-needed"} <= set(rule["EventTypeIds"])
    (target,) = rule["Targets"]
    assert target["TargetType"] == "SNS"
    topic = template["Resources"][target["TargetAddress"]["Ref"]]
    assert topic["Type"] == "AWS::SNS::Topic"
    # encrypted with the pipeline's own customer managed key, which rotates
    key_id = pipeline["ArtifactStore"]["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert template["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


# ------------------------------------------------------------------------------------------------
# 9. Self-mutation installs the CDK CLI this repository pins
# ------------------------------------------------------------------------------------------------


def test_self_mutation_installs_the_cli_pinned_in_package_json(platform: SynthesizedPlatform) -> None:
    template = delivery(platform)
    (mutate,) = pipeline_stages(platform)["UpdatePipeline"]
    install = buildspec_commands(project_of_action(template, mutate), "install")
    assert f"npm install -g aws-cdk@{DEFAULT_CLI_VERSION}" in install
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert pinned == DEFAULT_CLI_VERSION


# ------------------------------------------------------------------------------------------------
# 10. Without a delivery section; config validation
# ------------------------------------------------------------------------------------------------


def test_cross_account_roles_exist_only_with_the_pipeline(platform: SynthesizedPlatform, tmp_path: Path) -> None:
    # with the pipeline (the session's default platform), every reader and smoke role is there
    expected = cross_account_role_names(platform.config)
    assert expected <= set().union(*(role_names_in(stage) for stage in platform.stages.values()))
    data = default_config_data()
    del data["delivery"]
    config = PlatformConfig.from_mapping(data, source="no-delivery")
    app = cdk.App(context=CDK_CONTEXT, outdir=str(tmp_path))
    stages = build_platform(app, config)
    assert app.node.try_find_child("Delivery") is None
    names = set().union(*(role_names_in(stage) for stage in stages.values()))
    assert names, "the stages have named roles (the approval role at least)"
    assert names.isdisjoint(cross_account_role_names(config))
    assert stages["staging"].endpoints["churn"].smoke_test_role is None


@pytest.mark.parametrize(
    ("source", "given"),
    [
        ({"connection": {"connection_arn": CONNECTION_ARN, "repository": "acme/mlops-platform"},
          "s3": {"bucket": "acme-source", "key": "releases/platform.zip"}}, "['connection', 's3']"),
        ({}, "[]"),
    ],
    ids=["both", "neither"],
)
def test_delivery_needs_exactly_one_source(source: dict[str, Any], given: str) -> None:
    data = copy.deepcopy(default_config_data())
    data["delivery"] = source
    assert config_problems(data) == [f"delivery: set exactly one source: connection (CodeConnections) or s3 (got {given})"]


def test_s3_source_alone_is_valid() -> None:
    data = copy.deepcopy(default_config_data())
    data["delivery"] = {"s3": {"bucket": "acme-source", "key": "releases/platform.zip"}}
    config = PlatformConfig.from_mapping(data)
    assert config.delivery is not None and config.delivery.connection is None
    assert config.delivery.s3 is not None and config.delivery.s3.bucket == "acme-source"


def test_malformed_connection_arn_is_named() -> None:
    data = copy.deepcopy(default_config_data())
    bad = "arn:aws:codeconnections:eu-west-1:111:connection/x"
    data["delivery"]["connection"]["connection_arn"] = bad
    (problem,) = config_problems(data)
    assert problem.startswith("delivery.connection.connection_arn: "), problem
    assert problem.endswith(f"(got {bad!r})"), problem


# ------------------------------------------------------------------------------------------------
# 11. DeliveryPipeline rejects bad props
# ------------------------------------------------------------------------------------------------


def test_tiny_pipeline_builds_without_release_or_smoke_roles() -> None:
    template = Template.from_stack(tiny_pipeline()).to_json()
    _, pipeline = pipeline_resource(template)
    assert [s["Name"] for s in pipeline["Stages"]][-1] == "Tiny"
    roles = resources(template, "AWS::IAM::Role")
    trusts = [r["Properties"]["AssumeRolePolicyDocument"]["Statement"] for r in roles.values()]
    # no release role: nothing outside the tooling account may assume any role
    assert all("222222222222" not in json.dumps(s) for s in trusts)
    # every role is assumed by an AWS service or by another role of this stack, and none is named (no release or smoke role)
    for statements in trusts:
        for statement in statements:
            principal = statement["Principal"]
            assert set(principal) == {"Service"} or (set(principal) == {"AWS"} and principal["AWS"]["Fn::GetAtt"][0] in roles), statement
    assert [r["Properties"]["RoleName"] for r in roles.values() if "RoleName" in r["Properties"]] == []
    assert not any("InvokeThroughStageRoles" in json.dumps(p) for p in resources(template, "AWS::IAM::Policy").values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"released_by": ["arn:aws:iam::222222222222:role/acme-churn-approval"]},
         "DeliveryPipeline: release_role_name: is required when released_by is given (got None)"),
        ({"release_role_name": "acme-release"},
         "DeliveryPipeline: released_by: must name at least one role ARN that may assume the release role (got [])"),
        ({"synth_assumable_roles": ["arn:aws:iam::2222:role/reader"]},
         "DeliveryPipeline: synth_assumable_roles: each entry must be an IAM role ARN, "
         "arn:aws:iam::<12-digit account>:role/<name> (got 'arn:aws:iam::2222:role/reader')"),
        ({"synth_assumable_roles": ["arn:aws:iam::222222222222:role/*"]},
         "DeliveryPipeline: synth_assumable_roles: each entry must name one role: the synth step may assume no wildcard (got 'arn:aws:iam::222222222222:role/*')"),
        ({"synth_assumable_roles": "arn:aws:iam::222222222222:role/reader"},
         "DeliveryPipeline: synth_assumable_roles: must be a list of IAM role ARNs, not a string (got 'arn:aws:iam::222222222222:role/reader')"),
        ({"stages": []}, "DeliveryPipeline: stages: must name at least one stage to deploy (got [])"),
        ({"pipeline_name": "tiny release"}, "DeliveryPipeline: pipeline_name: must be 1-100 letters, digits and . @ _ - (got 'tiny release')"),
        ({"synth_role_name": "x" * 65}, f"DeliveryPipeline: synth_role_name: must be an IAM role name: 1-64 letters, digits and + = , . @ _ - (got '{'x' * 65}')"),
    ],
    ids=["released_by-without-role-name", "role-name-without-released_by", "malformed-assumable-arn", "wildcard-assumable-arn",
         "assumable-roles-as-string", "no-stages", "bad-pipeline-name", "long-role-name"],
)
def test_bad_props_name_field_and_value(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=f"^{re.escape(message)}$"):
        tiny_pipeline(**overrides)


def test_stage_without_explicit_environment_is_rejected() -> None:
    app = cdk.App(context=CDK_CONTEXT)
    stage = cdk.Stage(app, "NoEnv")
    sqs.Queue(cdk.Stack(stage, "Only"), "Queue")
    tooling = cdk.Stack(app, "Tooling", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    with pytest.raises(PropsError, match=r"^DeliveryPipeline: stages: each stage needs an explicit account and region \(got 'NoEnv'\)$"):
        DeliveryPipeline(
            tooling, "Delivery", pipeline_name="tiny-release",
            source=pipelines.CodePipelineSource.connection("acme/tiny", "main", connection_arn=CONNECTION_ARN),
            stages=[DeliveryStage(stage=stage)],
        )


def test_grants_added_after_construction_reach_the_narrowed_policies() -> None:
    """The self-mutation and asset roles' policies are narrowed at synthesis, so a later grant is kept
    (and a later wildcard is still narrowed or acknowledged, never dropped)."""
    tooling = tiny_pipeline()
    (delivery,) = [c for c in tooling.node.children if isinstance(c, DeliveryPipeline)]
    delivery.pipeline.self_mutation_project.add_to_role_policy(
        iam.PolicyStatement(sid="LateGrant", actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:111111111111:parameter/late"])
    )
    template = Template.from_stack(tooling).to_json()
    role = delivery.pipeline.self_mutation_project.role
    assert role is not None
    role_id = tooling.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    (policy,) = policies_of(template, role_id)  # the self-mutation role's one policy
    statements = policy["PolicyDocument"]["Statement"]
    assert [s for s in statements if s.get("Sid") == "LateGrant"] == [
        {"Sid": "LateGrant", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:eu-west-1:111111111111:parameter/late"}
    ]
    assert any(s.get("Sid") == "LateGrant" for s in statements)
    assert not [s for s in statements if s["Resource"] == "*"]  # still narrowed



def statements_on(template: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    """The statements of the template's IAM policies that name ``resource``."""
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if resource in as_list(statement.get("Resource"))
    ]

@pytest.mark.parametrize(
    ("connection_arn", "service"),
    [
        (CONNECTION_ARN, "codeconnections"),
        ("arn:aws:codestar-connections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000", "codestar-connections"),
    ],
    ids=["codeconnections-arn", "codestar-connections-arn"],
)
def test_source_role_uses_the_connection_in_the_iam_prefix_of_its_arn(connection_arn: str, service: str) -> None:
    """AWS refuses an action whose service prefix differs from the resource's: a `codeconnections` ARN needs
    `codeconnections:UseConnection` (docs.aws.amazon.com/dtconsole/latest/userguide/rename.html), while CDK's
    source action grants only `codestar-connections:UseConnection`."""
    source = pipelines.CodePipelineSource.connection("acme/tiny", "main", connection_arn=connection_arn)
    template = Template.from_stack(tiny_pipeline(source=source)).to_json()
    on_connection = statements_on(template, connection_arn)
    assert on_connection, "the source action's role may use the connection"
    actions = {action for statement in on_connection for action in as_list(statement["Action"])}
    assert actions == {f"{service}:UseConnection"}


def test_the_platform_pipeline_uses_its_codeconnections_arn_with_the_matching_prefix(platform: SynthesizedPlatform) -> None:
    template = delivery(platform)
    text = json.dumps(template)
    assert platform.config.delivery is not None and platform.config.delivery.connection is not None
    connection_arn = platform.config.delivery.connection.connection_arn
    assert ":codeconnections:" in connection_arn  # what makes this the codeconnections case
    # the statements on the connection grant exactly codeconnections:UseConnection
    on_connection = statements_on(template, connection_arn)
    assert on_connection, "the source action's role may use the connection"
    assert {action for statement in on_connection for action in as_list(statement["Action"])} == {"codeconnections:UseConnection"}
    assert '"codeconnections:UseConnection"' in text
    assert "codestar-connections:" not in text


def test_base_images_in_another_region_are_refused_the_ecr_login_is_regional() -> None:
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"
    with pytest.raises(PropsError, match=r"DeliveryPipeline: base_images: must be in the pipeline's region eu-west-1: the asset build's ECR login is regional"):
        tiny_pipeline(base_images=[image])


def test_every_build_that_runs_the_cdk_cli_or_cdk_assets_selects_a_supported_node(platform: SynthesizedPlatform) -> None:
    """CodeBuild's standard:7.0 image defaults to Node 18, which the CDK no longer supports: every tooling build that
    installs the CLI or cdk-assets picks Node 22 or 24 in its install phase (a buildspec inline, or in the assembly)."""
    assert platform.releases is not None
    checked = []
    for path in ("Delivery", platform.releases.tooling.node.path):
        for logical_id, project in resources(platform.templates[path], "AWS::CodeBuild::Project").items():
            spec = project["Properties"]["Source"]["BuildSpec"]
            text = (platform.outdir / spec).read_text() if spec.startswith("buildspec-") else spec
            if "npm install -g" not in text:
                continue
            install = json.loads(text)["phases"]["install"]
            assert str(install.get("runtime-versions", {}).get("nodejs")) in ("22", "24"), (path, logical_id, install)
            checked.append(logical_id)
    # self-mutation, the file assets, and the release deploy project of each of the three accounts
    assert len(checked) == 5, checked


def test_a_stage_step_with_an_output_writes_it_as_a_tagged_writer() -> None:
    """A ``post`` step that writes an output artifact (a ``ShellStep`` or a ``CodeBuildStep``) uploads it as its project's
    role, which the artifact bucket lets write only when tagged ``artifacts``: its project and role are, and the bucket
    policy waits for the role. A step without an output is not tagged (it writes nothing there)."""
    app = cdk.App(context=CDK_CONTEXT)
    stage = cdk.Stage(app, "Tiny", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    sqs.Queue(cdk.Stack(stage, "Only", stack_name="tiny-only"), "Queue")
    tooling = cdk.Stack(app, "Tooling", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    source = pipelines.CodePipelineSource.connection("acme/tiny", "main", connection_arn=CONNECTION_ARN)
    steps = [pipelines.ShellStep("Report", input=source, commands=["mkdir out"], primary_output_directory="out"),
             pipelines.CodeBuildStep("Built", input=source, commands=["mkdir out"], primary_output_directory="out"),
             pipelines.ShellStep("Check", input=source, commands=["true"])]
    DeliveryPipeline(tooling, "Delivery", pipeline_name="tiny-release", source=source, stages=[DeliveryStage(stage=stage, post=steps)])
    template = Template.from_stack(tooling).to_json()

    def tag(logical_id: str) -> str | None:
        return tags_of(template["Resources"][logical_id]).get(DEPLOYS_TO_TAG)

    def step_resources(step: str, type_: str) -> list[str]:
        return [k for k in resources(template, type_) if k.startswith(f"DeliveryPipelineTiny{step}")]

    for step in ("Report", "Built", "Check"):
        (project,), (role,) = step_resources(step, "AWS::CodeBuild::Project"), step_resources(step, "AWS::IAM::Role")
        expected = None if step == "Check" else PIPELINE_ARTIFACTS
        assert (tag(project), tag(role)) == (expected, expected), step
        (bucket_policy,) = [v for v in resources(template, "AWS::S3::BucketPolicy").values()
                            if any(s.get("Sid") == "ObjectsChangeOnlyByTheirWriters" for s in v["Properties"]["PolicyDocument"]["Statement"])]
        assert (role in bucket_policy["DependsOn"]) == (step != "Check"), step
