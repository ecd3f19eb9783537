"""The extending example (examples/extending_app): a team's app that builds on the constructs through their
public API (issue 17) synthesizes under every compliance pack, and each extension is in the templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnResource, Stack
from aws_cdk.assertions import Match, Template

from tests.conftest import load_example

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    module = load_example("extending_app")
    outdir = tmp_path_factory.mktemp("extending_app_out")
    app = module.build_app(outdir=str(outdir), context=json.loads((ROOT / "cdk.json").read_text())["context"])
    assembly = app.synth()
    stacks = {name: app.node.find_child(name) for name in ("ChurnModel", "ChurnServing")}
    return {
        "module": module, "outdir": outdir, "stacks": stacks,
        "templates": {name: Template.from_json(assembly.get_stack_by_name(name).template) for name in stacks},
    }


def _id(stack: Stack, construct: Any) -> str:
    cfn = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(cfn, CfnResource)
    return stack.get_logical_id(cfn)


def test_every_pack_passes_with_no_finding_left_open(example: dict[str, Any]) -> None:
    report = json.loads((example["outdir"] / "validation-report.json").read_text())
    assert {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]} == {
        "AwsSolutions": "success", "NIST.800.53.R5": "success", "HIPAA.Security": "success", "PCI.DSS.321": "success",
        "cdk-validator-cfnguard": "success", "CloudFormation Validate": "success",
    }


def test_the_lambda_may_invoke_the_endpoint_and_read_the_training_accounts_group_through_its_managed_policy(example: dict[str, Any]) -> None:
    stack, template = example["stacks"]["ChurnServing"], example["templates"]["ChurnServing"]
    module = example["module"]
    template.resource_count_is("AWS::IAM::Policy", 0)  # no inline DefaultPolicy: every grant in the managed policy
    group = f"arn:aws:sagemaker:{module.REGION}:{module.TRAINING_ACCOUNT}:model-package-group/{module.GROUP}"
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Roles": [{"Ref": _id(stack, stack.caller_role)}],
        "PolicyDocument": {"Statement": Match.array_with([  # in the order they were added
            {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": Match.any_value()},  # CDK's own grant to the function, kept
            {"Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"], "Effect": "Allow",
             "Resource": {"Ref": _id(stack, stack.endpoint.endpoint)}},
            {"Action": "sagemaker:DescribeModelPackageGroup", "Effect": "Allow", "Resource": group},
        ])},
    })


def test_a_custom_rollback_alarm_and_a_latency_alarm_on_the_endpoints_metric(example: dict[str, Any]) -> None:
    stack, template = example["stacks"]["ChurnServing"], example["templates"]["ChurnServing"]
    rollback = template.find_resources("AWS::SageMaker::Endpoint")
    ((_, endpoint),) = rollback.items()
    alarms = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert {"AlarmName": {"Ref": _id(stack, stack.client_errors)}} in alarms and len(alarms) == 3
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "team-churn-p90-latency", "MetricName": "ModelLatency", "Namespace": "AWS/SageMaker",
        "ExtendedStatistic": "p90", "Period": 300, "Threshold": 300000,
        "Dimensions": Match.array_with([{"Name": "EndpointName", "Value": "team-churn"}]),
    })


def test_the_registry_functions_role_has_the_teams_statement(example: dict[str, Any]) -> None:
    stack, template = example["stacks"]["ChurnModel"], example["templates"]["ChurnModel"]
    module = example["module"]
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Roles": [{"Ref": _id(stack, stack.registry.role)}],
        "PolicyDocument": {"Statement": Match.array_with([
            {"Sid": "ReadReleaseNotes", "Action": "ssm:GetParameter", "Effect": "Allow", "Resource": module.RELEASE_NOTES_PARAMETER},
        ])},
    })


def test_the_teams_state_runs_right_before_the_training_job(example: dict[str, Any]) -> None:
    from tests.test_training_pipeline import states as states_of

    states = states_of(example["templates"]["ChurnModel"].to_json())
    stamp = states["StampRun"]
    assert stamp["Type"] == "Pass" and stamp["ResultPath"] == "$.stamp"
    assert states[stamp["Next"]]["Resource"].endswith(":sagemaker:createTrainingJob.sync")
    into_stamp = [name for name, state in states.items() if state.get("Next") == "StampRun"]
    assert len(into_stamp) == 1 and not states[into_stamp[0]]["Resource"].endswith("createTrainingJob.sync")
