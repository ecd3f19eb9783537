"""Release isolation (issue 16): each model's endpoints are released by that model's own pipeline, whose
size does not depend on the number of models; the platform's pipeline deploys the platform's stacks and
leaves the endpoints to the releases."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs.config import STAGES, PlatformConfig
from mlops_constructs.delivery.release_pipeline import NOTHING_TO_RELEASE, SOURCE_KEY, ReleaseDeployment, ReleasePipeline, ReleaseTooling
from mlops_constructs.errors import PropsError
from stacks.names import VALIDATE_TEMPLATES
from stacks.release_stack import RELEASE_CONTEXT, RELEASE_STACKS, RESOLVER, ReleasesStage, release_stack_number
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, default_config_data, resources


def pipeline_of(template: dict[str, Any]) -> dict[str, Any]:
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]


def shape(pipeline: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, int]]]]:
    return [(s["Name"], [(a["Name"], a["ActionTypeId"]["Provider"], a.get("RunOrder", 1)) for a in s["Actions"]]) for s in pipeline["Stages"]]


def env_of(action: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"] for v in json.loads(action["Configuration"]["EnvironmentVariables"])}


def release_template(platform: SynthesizedPlatform, model: str) -> dict[str, Any]:
    """The template of the stack that holds ``model``'s release pipeline, with only that pipeline's resources."""
    template = platform.templates[platform.release_path(model)]
    prefix = f"Release{model.replace('-', '')}"
    return {**template, "Resources": {k: v for k, v in template["Resources"].items() if k.startswith(prefix)}}


def tooling_projects(platform: SynthesizedPlatform) -> tuple[dict[str, Any], dict[str, Any]]:
    """The properties of the release tooling's synth and deploy CodeBuild projects, found by their constructs."""
    assert platform.releases is not None
    stack = platform.releases.tooling
    template = platform.templates[stack.node.path]
    found = []
    for project in (stack.tooling.synth_project, *stack.tooling.deploy_projects.values()):
        resource = template["Resources"][stack.get_logical_id(project.node.default_child)]  # type: ignore[arg-type]
        assert resource["Type"] == "AWS::CodeBuild::Project"
        found.append(resource["Properties"])
    return found[0], found[1]


def models_config(n: int) -> PlatformConfig:
    data = default_config_data()
    template = data["models"][0]
    data["models"] = [{**copy.deepcopy(template), "name": f"m{i:02d}",
                       "model_package_arn": template["model_package_arn"].replace("churn", f"m{i:02d}")} for i in range(1, n + 1)]
    return PlatformConfig.from_mapping(data)


def releases_only(config: PlatformConfig, outdir: Path) -> dict[str, dict[str, Any]]:
    """The tooling account's release stacks of ``config``, synthesized alone: template by stack id."""
    app = cdk.App(outdir=str(outdir), context=CDK_CONTEXT)
    stage = ReleasesStage(app, "Releases", config=config, config_path="config/default.yaml")
    app.synth()
    templates = {s.node.id: json.loads((outdir / stage.artifact_id / s.template_file).read_text()) for s in (stage.tooling, *stage.stacks.values())}
    # each model's pipeline: its resources in the stack that holds it
    for model, pipeline in stage.pipelines.items():
        template = templates[pipeline.node.scope.node.id]  # type: ignore[union-attr]
        prefix = f"Release{model}"
        templates[f"Release-{model}"] = {"Resources": {k: v for k, v in template["Resources"].items() if k.startswith(prefix)}}
    return templates


# -- the release path is the same at 1 and at N models ---------------------------------------------


def test_a_models_release_is_the_same_at_one_and_at_twenty_models(tmp_path: Path) -> None:
    one = releases_only(models_config(1), tmp_path / "one")
    twenty = releases_only(models_config(20), tmp_path / "twenty")
    # m01's pipeline stack, and the tooling every release shares, do not change when 19 models are added
    assert pipeline_of(one["Release-m01"])["Name"] == "mlops-demo-release-m01"  # the comparison below is of m01's pipeline, not of nothing
    assert json.dumps(one["Release-m01"], sort_keys=True) == json.dumps(twenty["Release-m01"], sort_keys=True)
    assert json.dumps(one["Tooling"], sort_keys=True) == json.dumps(twenty["Tooling"], sort_keys=True)
    # twenty pipelines in at most RELEASE_STACKS stacks, one model's wherever the others are
    assert len([k for k in twenty if k.startswith("Releases-")]) <= RELEASE_STACKS
    pipeline = pipeline_of(twenty["Release-m07"])
    assert [name for name, _ in shape(pipeline)] == ["Source", "Synth", "Dev", "Staging", "Prod"]
    assert sum(len(actions) for _, actions in shape(pipeline)) <= 8


def test_every_model_of_the_platform_has_its_own_release_pipeline(three_model_platform: SynthesizedPlatform) -> None:
    config = three_model_platform.config
    for model in config.models:
        pipeline = pipeline_of(release_template(three_model_platform, model.name))
        assert pipeline["Name"] == f"{config.project}-release-{model.name}"
        assert pipeline["PipelineType"] == "V2"
        # a newer release of the same model overtakes an older one between stages, never the other way
        # round (https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html)
        assert pipeline["ExecutionMode"] == "SUPERSEDED"
        assert pipeline["Variables"] == [{"Name": "ModelPackageArn", "DefaultValue": "none",
                                          "Description": "The approved model package this release deploys; 'none': the one the registry's parameter names"}]
        stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
        (source,) = stages["Source"]
        assert source["ActionTypeId"]["Provider"] == "S3" and source["Configuration"]["S3ObjectKey"] == SOURCE_KEY
        assert source["Configuration"]["PollForSourceChanges"] is False  # started only by an approval or the platform
        (synth,) = stages["Synth"]
        env = env_of(synth)
        assert env["RELEASE_NAME"] == model.name and env["MODEL_PACKAGE_ARN"] == "#{variables.ModelPackageArn}"
        assert [m["name"] for m in json.loads(env["RELEASE_MODELS"])] == [model.name]  # its own package only
        assert synth["Namespace"] == "Synth"
        entry = {s["Name"]: s.get("BeforeEntry") for s in pipeline["Stages"]}
        assert entry["Source"] is None and entry["Synth"] is None
        for stage in STAGES:
            (deploy,) = [a for a in stages[stage.capitalize()] if a["Name"] == f"Deploy-{stage.capitalize()}"]
            assert env_of(deploy) == {"RELEASE_STACKS": f"{stage.capitalize()}/Release-{model.name}/*"}
            # entered only when the synthesis released something; skipped, not failed, when it found nothing to release
            assert entry[stage.capitalize()] == {"Conditions": [{"Result": "SKIP", "Rules": [{
                "Name": f"SomethingToRelease-{stage.capitalize()}", "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "VariableCheck", "Version": "1"},
                "Configuration": {"Variable": "#{Synth.RELEASE}", "Operator": "EQ", "Value": "yes"}}]}]}
        prod = stages["Prod"]
        assert [a["Name"] for a in sorted(prod, key=lambda a: a["RunOrder"])] == ["Promote-Prod", "Deploy-Prod"]
        # the approver sees the version this run releases (an older run of another version may be waiting)
        (promote,) = [a for a in prod if a["Name"] == "Promote-Prod"]
        assert promote["Configuration"]["CustomData"].startswith(f"Release {model.name} (#{{Synth.RELEASE_DETAIL}}) to Prod?")
        staging = [a["Name"] for a in sorted(stages["Staging"], key=lambda a: a["RunOrder"])]
        assert staging == (["Deploy-Staging", "SmokeTest-Staging"] if model.smoke_test else ["Deploy-Staging"])


def test_the_release_synth_resolves_one_model_then_synthesizes_its_release_stages(three_model_platform: SynthesizedPlatform) -> None:
    synth, deploy = tooling_projects(three_model_platform)
    commands = json.loads(synth["Source"]["BuildSpec"])["phases"]["build"]["commands"]
    (resolve,) = [i for i, c in enumerate(commands) if RESOLVER in c]
    (make,) = [i for i, c in enumerate(commands) if "make synth " in c]
    assert resolve < make and '--models "$RELEASE_MODELS"' in commands[resolve]
    assert f"-c {RELEASE_CONTEXT}=$RELEASE_NAME" in commands[make] and "validate_templates=true" in commands[make]
    # the synthesis validates its templates, for this release only, with the resolved package
    assert f' make synth CONFIG=config/default.yaml SYNTH_ARGS="-c {VALIDATE_TEMPLATES}=true -c {RELEASE_CONTEXT}=$RELEASE_NAME $(cat model-packages.args)"; fi' in commands[make]
    # a model with no approved version: a marker instead of an app without stacks, which cdk synth refuses
    assert commands[make].startswith('if grep -q "model_package_arn.$RELEASE_NAME=none" model-packages.args; then ')
    assert f"> cdk.out/{NOTHING_TO_RELEASE}; else make synth " in commands[make]
    build = json.loads(deploy["Source"]["BuildSpec"])["phases"]["build"]["commands"]
    (deploy_command,) = build
    assert deploy_command.startswith(f"if [ -f {NOTHING_TO_RELEASE} ]; then ")
    assert 'else cdk deploy --app . "$RELEASE_STACKS" --require-approval never' in deploy_command and "2>/dev/null" not in deploy_command
    assert deploy["Environment"]["PrivilegedMode"] is True  # the drift job's image is built at deploy


# -- the platform's pipeline ------------------------------------------------------------------------


def test_the_platform_pipeline_deploys_no_endpoint_and_starts_every_release_after_prod(platform: SynthesizedPlatform) -> None:
    pipeline = pipeline_of(platform.templates["Delivery"])
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    stack_names = [a["Configuration"]["StackName"] for actions in stages.values() for a in actions
                   if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert stack_names and not [n for n in stack_names if n.endswith("-endpoint")]
    config = platform.config
    releases = {n for n in stack_names if n.startswith(f"{config.project}-release")}
    assert releases == {f"{config.project}-release-tooling", *(f"{config.project}-releases-{release_stack_number(m)}" for m in config.models)}
    names = [s["Name"] for s in pipeline["Stages"]]
    assert names.index("Releases") < names.index("Dev") < names.index("Staging") < names.index("Prod")
    prod = sorted(stages["Prod"], key=lambda a: a["RunOrder"])
    assert prod[0]["Name"] == "Promote-Prod" and prod[-1]["Name"] == "PublishRelease"


def test_endpoints_are_in_release_stages_with_their_stack_names_unchanged(platform: SynthesizedPlatform) -> None:
    config = platform.config
    for stage in STAGES:
        (endpoint,) = platform.stages[stage].endpoints.values()
        assert endpoint.stack_name == f"{config.project}-{stage}-churn-endpoint"
        assert endpoint.node.path == f"{stage.capitalize()}/Release-churn/Endpoint"
        # no CDK reference to the stage's own stacks (a cross-stage dependency): their outputs, by name
        template = json.dumps(platform.templates[f"{stage.capitalize()}/Release-churn/Endpoint"])
        outputs = set(re.findall(r'"OutputName": "([A-Za-z0-9]+)"', template))
        assert outputs and outputs <= {"VpcId", "StoreKeyArn", "IsolatedSubnet1", "IsolatedSubnet2", "IsolatedSubnet3"}
        assert "Fn::ImportValue" not in template


def test_the_release_role_trust_does_not_grow_with_the_models(platform: SynthesizedPlatform, three_model_platform: SynthesizedPlatform) -> None:
    def trust(p: SynthesizedPlatform) -> dict[str, Any]:
        (role,) = [r["Properties"] for r in resources(p.templates["Releases/Tooling"], "AWS::IAM::Role").values()
                   if r["Properties"].get("RoleName") == f"{p.config.project}-model-release"]
        return role["AssumeRolePolicyDocument"]

    assert trust(platform) == trust(three_model_platform)
    (statement,) = trust(platform)["Statement"]
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{platform.config.accounts.dev}:role/{platform.config.project}-*-approval"]}}


def test_each_approval_function_starts_its_own_models_release(three_model_platform: SynthesizedPlatform) -> None:
    config = three_model_platform.config
    for model in config.models:
        (function,) = resources(three_model_platform.templates[f"Dev/Models-1/Registry-{model.name}"], "AWS::Lambda::Function").values()
        assert function["Properties"]["Environment"]["Variables"]["RELEASE_PIPELINE_NAME"] == f"{config.project}-release-{model.name}"


# -- the constructs' refusals ---------------------------------------------------------------------


def tooling(stack: cdk.Stack, **overrides: Any) -> ReleaseTooling:
    props: dict[str, Any] = {"name_prefix": "acme", "deploy_accounts": ["222222222222"], "synth_commands": ["make synth"]}
    props.update(overrides)
    return ReleaseTooling(stack, "Tooling", **props)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"name_prefix": "Acme!"}, r"ReleaseTooling: name_prefix: must be 2-31 lowercase letters"),
    ({"deploy_accounts": "222222222222"}, r"ReleaseTooling: deploy_accounts: must be a list of one or more 12-digit account ids"),
    ({"synth_commands": []}, r"ReleaseTooling: synth_commands: must be a list of one or more shell commands"),
    ({"release_role_name": "acme-release"}, r"ReleaseTooling: release_role_name: needs released_by and releasable"),
    ({"released_by": ["root"]}, r"ReleaseTooling: released_by: must be a list of IAM role ARNs"),
])
def test_bad_tooling_props_are_refused(overrides: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(cdk.App(), "Tooling", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    with pytest.raises(PropsError, match=message):
        tooling(stack, **overrides)


def test_bad_pipeline_props_are_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Tooling", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    shared = tooling(stack)
    dev = ReleaseDeployment(name="Dev", stacks="Dev/Release-x/*", region="eu-west-1")
    with pytest.raises(PropsError, match=r"ReleasePipeline: deployments: must have distinct names, neither Source nor Synth"):
        ReleasePipeline(stack, "A", pipeline_name="a", tooling=shared, release_name="x", deployments=[dev, dev])
    with pytest.raises(PropsError, match=r"ReleasePipeline: synth_environment.RELEASE_NAME: must map variable names"):
        ReleasePipeline(stack, "B", pipeline_name="b", tooling=shared, release_name="x", deployments=[dev], synth_environment={"RELEASE_NAME": "y"})
    from mlops_constructs.delivery import SmokeTest

    big = ReleaseDeployment(name="Staging", stacks="Staging/Release-x/*", region="eu-west-1", smoke_tests=[
        SmokeTest(endpoint_name="e", role_arn="arn:aws:iam::333333333333:role/r", body="1," * 600)])
    with pytest.raises(PropsError, match=r"smoke_tests: must fit CodePipeline's 1000 characters per action configuration value"):
        ReleasePipeline(stack, "C", pipeline_name="c", tooling=shared, release_name="x", deployments=[big])
    # 793 characters of environment passed the old check (at most 1,000 less 200 for the pipeline's own two), but with a
    # 100-character release name the action's value is 1,034: CodePipeline refuses it at deployment.
    environment = {"CONFIG": "c" * 744}
    with pytest.raises(PropsError, match=r"ReleasePipeline: synth_environment: must fit, with RELEASE_NAME and MODEL_PACKAGE_ARN, CodePipeline's 1000 characters .*\(got 1034\)"):
        ReleasePipeline(stack, "D", pipeline_name="d", tooling=shared, release_name="r" * 100, deployments=[dev], synth_environment=environment)
    ReleasePipeline(stack, "E", pipeline_name="e", tooling=shared, release_name="r", deployments=[dev], synth_environment=environment)


def test_each_stage_account_is_deployed_by_its_own_project_and_role(platform: SynthesizedPlatform) -> None:
    """A build of the dev deploy project cannot reach prod: each account's project runs under a role that may assume that
    account's bootstrap roles only, and each release stage deploys through its own account's project."""
    assert platform.releases is not None
    stack, config = platform.releases.tooling, platform.config
    tooling, template = stack.tooling, platform.templates[stack.node.path]
    accounts = [config.accounts.for_stage(s) for s in STAGES]
    assert list(tooling.deploy_projects) == list(tooling.deploy_roles) == list(dict.fromkeys(accounts))
    logical = {a: stack.get_logical_id(r.node.default_child) for a, r in tooling.deploy_roles.items()}  # type: ignore[arg-type]
    for account, role in logical.items():
        (policy,) = [p for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]]
        assumed = [json.dumps(st["Resource"]) for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Action"] == "sts:AssumeRole"]
        assert assumed and all(re.findall(r":iam::(\d{12}):", a) == [account] * len(re.findall(r":iam::", a)) for a in assumed), (account, assumed)
        project = template["Resources"][stack.get_logical_id(tooling.deploy_projects[account].node.default_child)]  # type: ignore[arg-type]
        assert project["Properties"]["ServiceRole"] == {"Fn::GetAtt": [role, "Arn"]}
    # the first account's project keeps the logical ids of the single project it replaces: an upgrade updates it in place
    assert logical[accounts[0]].startswith("ToolingDeployRole") and stack.get_logical_id(
        tooling.deploy_projects[accounts[0]].node.default_child).startswith("ToolingDeployA9C065F7")  # type: ignore[arg-type]
    pipeline = pipeline_of(release_template(platform, "churn"))
    for stage in pipeline["Stages"]:
        for action in (a for a in stage["Actions"] if a["Name"].startswith("Deploy-")):
            account = config.accounts.for_stage(stage["Name"].lower())
            export = json.dumps(action["Configuration"]["ProjectName"])
            assert stack.get_logical_id(tooling.deploy_projects[account].node.default_child) in export, (stage["Name"], export)  # type: ignore[arg-type]


def test_a_deployment_names_an_account_the_tooling_deploys_to() -> None:
    stack = cdk.Stack(cdk.App(), "Tooling", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    shared = tooling(stack, deploy_accounts=["222222222222", "444444444444"])
    anywhere = ReleaseDeployment(name="Dev", stacks="Dev/Release-x/*", region="eu-west-1")
    with pytest.raises(PropsError, match=r"deployments\[Dev\].account: must name the account it deploys to, one of the tooling's deploy_accounts \['222222222222', '444444444444'\] \(got None\)"):
        ReleasePipeline(stack, "A", pipeline_name="a", tooling=shared, release_name="x", deployments=[anywhere])
    elsewhere = ReleaseDeployment(name="Prod", stacks="Prod/Release-x/*", region="eu-west-1", account="333333333333")
    with pytest.raises(PropsError, match=r"deployments\[Prod\].account: must be one of the tooling's deploy_accounts .* \(got '333333333333'\)"):
        ReleasePipeline(stack, "B", pipeline_name="b", tooling=shared, release_name="x", deployments=[elsewhere])


@pytest.mark.parametrize(("resolved", "synthesized"), [("none", False), ("arn:aws:sagemaker:eu-west-1:222222222222:model-package/g/3", True)])
def test_the_release_builds_run_as_written(platform: SynthesizedPlatform, tmp_path: Path, resolved: str, synthesized: bool) -> None:
    # The synth build's last command and the deploy build's, run by bash with `make` and `cdk` stubbed: a model
    # without an approved version leaves the marker and deploys nothing; one with a version is synthesized and deployed.
    import os
    import subprocess

    synth, deploy = (json.loads(p["Source"]["BuildSpec"]) for p in tooling_projects(platform))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "cdk"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n[ "$1" = synth ] && mkdir -p cdk.out && touch cdk.out/manifest.json\nexit 0\n')
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "model-packages.args").write_text(f"-c model_package_arn.churn={resolved} -c model_package_arn.lead-scoring=none\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RELEASE_NAME": "churn", "RELEASE_STACKS": "Dev/Release-churn/*"}
    # the release-or-marker command, what the approval shows, then the tooling's own last command, which sets the
    # variable the stages' entry conditions read
    assert synth["env"]["exported-variables"] == ["RELEASE", "RELEASE_DETAIL"]
    script = "\n".join([*synth["phases"]["build"]["commands"][-3:], 'echo "RELEASE_DETAIL=$RELEASE_DETAIL"', 'echo "RELEASE=$RELEASE"'])
    exported = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout
    marker = tmp_path / "cdk.out" / NOTHING_TO_RELEASE
    assert marker.exists() is not synthesized
    assert exported.splitlines()[-2:] == [f"RELEASE_DETAIL=model package {resolved}", "RELEASE=yes" if synthesized else "RELEASE=none"]
    subprocess.run(["bash", "-c", deploy["phases"]["build"]["commands"][0]], cwd=tmp_path / "cdk.out", env=env, check=True)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    assert [c.split()[0:2] for c in calls] == ([["make", "synth"], ["cdk", "deploy"]] if synthesized else [])


def test_every_rule_name_is_unique_within_its_pipeline(three_model_platform: SynthesizedPlatform) -> None:
    """A condition rule's name "must be unique within the pipeline" (aws-cdk-lib's codepipeline RuleProps.name)."""
    checked = 0
    for template in three_model_platform.templates.values():
        for pipeline in resources(template, "AWS::CodePipeline::Pipeline").values():
            names = [rule["Name"] for stage in pipeline["Properties"]["Stages"]
                     for conditions in (stage.get("BeforeEntry"), stage.get("OnSuccess"), stage.get("OnFailure")) if conditions
                     for condition in conditions["Conditions"] for rule in condition["Rules"]]
            assert len(names) == len(set(names)), names
            checked += len(names)
    assert checked >= 3
