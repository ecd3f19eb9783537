"""AWS quotas (issue 16): every figure of the suite's platforms within 80% of AWS's default, and the
account- and pipeline-wide figures, which grow with the models, projected to 100 models within it too.

The quotas, their AWS doc addresses and the budget are one table, ``mlops_constructs.quotas.QUOTAS``;
``make bench`` measures the same figures on synthesized configs of 1, 25, 50 and 100 models
(docs/performance.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.quotas import BY_KEY, QUOTAS, Figure, measure, table
from tests.conftest import SynthesizedPlatform

# Figures that grow with the number of models (one account's or one pipeline's), and those that do not.
GROWING = ("iam_roles", "iam_managed_policies", "eventbridge_rules", "pipeline_actions", "pipeline_stages")
TARGET_MODELS = 100


def figures(platform: SynthesizedPlatform) -> dict[str, Figure]:
    return {f.quota.key: f for f in measure(platform.outdir)}


@pytest.mark.parametrize("name", ["platform", "three_model_platform"])
def test_every_figure_of_the_suites_platforms_is_within_budget(name: str, request: pytest.FixtureRequest) -> None:
    found = figures(request.getfixturevalue(name))
    assert set(found) == {q.key for q in QUOTAS}
    over = [f"{f.quota.what}: {f.value} at {f.where} (budget {f.quota.budget})" for f in found.values() if not f.within_budget]
    assert over == []


def test_the_figures_that_grow_with_the_models_stay_within_budget_at_a_hundred(
    platform: SynthesizedPlatform, three_model_platform: SynthesizedPlatform,
) -> None:
    # Linear in the models: each model adds the same stacks. The three-model platform's models carry more
    # than the default's (script steps, tuning, schedules), so the slope over-estimates.
    one, three = figures(platform), figures(three_model_platform)
    for key in GROWING:
        slope = (three[key].value - one[key].value) / 2
        projected = one[key].value + slope * (TARGET_MODELS - 1)
        assert projected <= BY_KEY[key].budget, f"{BY_KEY[key].what}: {projected:.0f} at {TARGET_MODELS} models (budget {BY_KEY[key].budget})"
    # and the policies and buildspecs do not grow with the models
    for key in ("iam_trust_policy", "iam_inline_per_role", "iam_managed_policy", "buildspec_characters"):
        assert three[key].value <= one[key].value * 1.25 + 200, (key, one[key], three[key])


def test_the_platform_pipelines_stages_stay_within_budget_at_a_hundred_models(platform: SynthesizedPlatform) -> None:
    # The stages that would grow with the models are bounded by construction: dev's model stacks come in
    # stages of at most MODELS_PER_STAGE models (two stacks each), the release pipelines in RELEASE_STACKS stacks.
    from stacks.release_stack import RELEASE_STACKS
    from stacks.stage import MODELS_PER_STAGE

    (pipeline,) = [r["Properties"] for r in platform.templates["Delivery"]["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    actions = {s["Name"]: len(s["Actions"]) for s in pipeline["Stages"]}
    budget = BY_KEY["pipeline_stage_actions"].budget
    assert actions["Dev-Models-1"] == 2 * len(platform.config.models) and 2 * MODELS_PER_STAGE <= budget
    assert actions["Releases"] == 1 + len(platform.config.models) and 1 + RELEASE_STACKS <= budget
    assert actions["Dev"] == 2  # the stage's own network and storage, whatever the models
    stages_at_a_hundred = len(actions) - 1 + -(-TARGET_MODELS // MODELS_PER_STAGE)
    assert stages_at_a_hundred <= BY_KEY["pipeline_stages"].budget


def test_the_table_names_each_quota_with_its_aws_doc_and_an_eighty_percent_budget() -> None:
    for quota in QUOTAS:
        assert quota.url.startswith("https://docs.aws.amazon.com/"), quota
        assert quota.budget == int(quota.default * 0.8)
        # a figure is within budget up to 80% of AWS's default, and over it one above
        assert Figure(quota, quota.budget, "here").within_budget and not Figure(quota, quota.budget + 1, "here").within_budget, quota
    # where the budget falls for three of AWS's documented defaults (500 actions, 2,048 characters, 500 resources)
    for key, last_within in (("pipeline_actions", 400), ("iam_trust_policy", 1638), ("cfn_resources", 400)):
        assert Figure(BY_KEY[key], last_within, "here").within_budget and not Figure(BY_KEY[key], last_within + 1, "here").within_budget, key


def assembly(tmp_path: Path, resources: dict[str, Any], *, account: str = "111111111111") -> Path:
    (tmp_path / "Stack.template.json").write_text(json.dumps({"Resources": resources}))
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {"Stack": {
        "type": "aws:cloudformation:stack", "environment": f"aws://{account}/eu-west-1", "properties": {"templateFile": "Stack.template.json"}}}}))
    return tmp_path


def test_measure_finds_a_figure_over_budget(tmp_path: Path) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                                                      "Condition": {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::222222222222:role/r{i:03d}-approval" for i in range(40)]}}}]}
    actions = [{"Name": f"a{i}", "ActionTypeId": {"Provider": "CodeBuild"}} for i in range(45)]
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Stages": [{"Name": "Dev", "Actions": actions}]}},
        **{f"Rule{i}": {"Type": "AWS::Events::Rule", "Properties": {}} for i in range(3)},
    }
    found = {f.quota.key: f for f in measure(assembly(tmp_path, resources))}
    assert found["iam_trust_policy"].value == len(json.dumps(trust, separators=(",", ":")))
    assert not found["iam_trust_policy"].within_budget and found["iam_trust_policy"].where == "Stack/Role"
    assert found["pipeline_stage_actions"].value == 45 and not found["pipeline_stage_actions"].within_budget
    assert found["eventbridge_rules"].value == 3
    assert found["iam_roles"].value == 1 + 5  # the CDK bootstrap stack's roles are counted too
    # the table marks exactly the figures over budget
    rows = dict(zip(found, table(list(found.values())).splitlines()[2:], strict=True))
    assert {key for key, row in rows.items() if "**over budget**" in row} == {"iam_trust_policy", "pipeline_stage_actions"}
    stage_actions = BY_KEY["pipeline_stage_actions"]
    assert rows["pipeline_stage_actions"] == (
        f"| [{stage_actions.what}]({stage_actions.url}) (50) | 40 | 45 **over budget** | 90% | `Stack/Pipeline/Dev` |"
    )


def test_state_machine_log_groups_outside_vended_logs_fill_the_log_delivery_policy(tmp_path: Path) -> None:
    def machines(count: int, name: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for i in range(count):
            found[f"Logs{i}"] = {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"{name}{i}"} if name else {}}
            found[f"Machine{i}"] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"LoggingConfiguration": {
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [f"Logs{i}", "Arn"]}}}]}}}
        return found

    def figure(resources: dict[str, Any], directory: str) -> Any:
        (tmp_path / directory).mkdir()
        (found,) = [f for f in measure(assembly(tmp_path / directory, resources)) if f.quota.key == "log_delivery_policy"]
        return found

    generated = figure(machines(45, None), "generated")  # CloudFormation's names: one entry each
    assert not generated.within_budget and "45 state machine log groups, 45 outside" in generated.where
    vended = figure(machines(200, "/aws/vendedlogs/states/machine-"), "vended")  # one entry for the prefix
    assert vended.within_budget and vended.value < figure(machines(2, None), "two").value
    assert figure({}, "none").value == 0


def test_intrinsics_count_at_most_what_they_resolve_to(tmp_path: Path) -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}, "/*"]]}}]}
    resources = {"Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": document}}}
    (found,) = [f for f in measure(assembly(tmp_path, resources)) if f.quota.key == "iam_managed_policy"]
    literal = len(json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn::s3:::/*"}]}, separators=(",", ":")))
    assert found.value == literal + 10 + 128  # the longest partition (aws-us-gov) and an intrinsic's allowance
