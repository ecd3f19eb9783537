"""The consumer example (examples/consumer_app) synthesizes, passes every compliance pack, and uses
what the team brings instead of creating it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnResource, Stack
from aws_cdk.assertions import Match, Template

from tests.conftest import load_example

ROOT = Path(__file__).resolve().parents[1]
STACK_NAME = "ChurnTraining"
ACCOUNT, REGION = "555555555555", "eu-west-1"
SERVING_ACCOUNT = "666666666666"
ADOPTED_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Synthesize the example once. A finding that is not acknowledged makes ``synth()`` raise
    ``RuntimeError: ValidationFailed``, so getting past it is the compliance assertion."""
    example = load_example("consumer_app")
    outdir = tmp_path_factory.mktemp("consumer_app_out")
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = example.build_app(outdir=str(outdir), context=context)
    assembly = app.synth()
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, Stack)
    return {
        "outdir": outdir,
        "stack": stack,
        "template": Template.from_json(assembly.get_stack_by_name(STACK_NAME).template),
    }


def _logical_id(stack: Stack, construct: Any) -> str:
    cfn = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(cfn, CfnResource)
    return stack.get_logical_id(cfn)


def _service_name(value: Any) -> str:
    """An endpoint's ServiceName as a string, with ``{"Ref": "AWS::Region"}`` filled in."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Region"}:
        return REGION
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_service_name(part) for part in parts)
    raise AssertionError(f"unexpected ServiceName {value!r}")


def _endpoint_services(template: Template, endpoint_type: str) -> set[str]:
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": endpoint_type}})
    return {_service_name(e["Properties"]["ServiceName"]) for e in endpoints.values()}


def test_synthesis_passes_every_compliance_pack(synthesized: dict[str, Any]) -> None:
    report_path = synthesized["outdir"] / "validation-report.json"
    assert report_path.exists()  # the compliance plugins ran and reported
    report = json.loads(report_path.read_text())
    failed = [p["pluginName"] for p in report["pluginReports"] if p["conclusion"] == "failure"]
    assert failed == []
    # Every acknowledgement the example adds matches a real finding (none are stale).
    acknowledged_here = {
        s["acknowledgedId"]
        for p in report["pluginReports"]
        for s in p.get("suppressedViolations", [])
        if s["acknowledgedAt"] == f"{STACK_NAME}/TrainingReadPolicy"
    }
    assert len(acknowledged_here) == 6


@pytest.mark.parametrize("example", ["consumer_app", "extending_app"])
def test_the_examples_cdk_json_sends_no_usage_data_and_uses_the_repositorys_feature_flags(example: str) -> None:
    """What users copy first: no version reporting and no additional metadata to AWS, as the repository's own app
    (docs/security.md, "No usage data to AWS"), and the same feature flags the tests synthesize the example with."""
    own = json.loads((ROOT / "examples" / example / "cdk.json").read_text())
    repository = json.loads((ROOT / "cdk.json").read_text())
    assert own["versionReporting"] is False
    assert own["context"] == repository["context"]


def test_the_team_vpc_is_adopted_not_created(synthesized: dict[str, Any]) -> None:
    template = synthesized["template"]
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.resource_count_is("AWS::EC2::FlowLog", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"SecurityGroupIngress": [Match.object_like({"CidrIp": "10.50.0.0/16", "FromPort": 443, "ToPort": 443})]},
    )


def test_skipped_endpoints_are_not_created(synthesized: dict[str, Any]) -> None:
    template = synthesized["template"]
    interface = _endpoint_services(template, "Interface")
    gateway = _endpoint_services(template, "Gateway")
    assert f"com.amazonaws.{REGION}.sagemaker.api" in interface
    assert f"com.amazonaws.{REGION}.sts" in interface
    assert f"com.amazonaws.{REGION}.logs" not in interface
    assert gateway == {f"com.amazonaws.{REGION}.dynamodb"}  # no S3 gateway endpoint


def test_the_team_data_bucket_is_adopted_not_created(synthesized: dict[str, Any]) -> None:
    stack, template = synthesized["stack"], synthesized["template"]
    store = stack.store
    template.resource_count_is("AWS::S3::Bucket", 2)
    assert set(template.find_resources("AWS::S3::Bucket")) == {
        _logical_id(stack, store.artifact_bucket),
        _logical_id(stack, store.access_log_bucket),
    }


def test_the_serving_account_may_read_artifacts(synthesized: dict[str, Any]) -> None:
    stack, template = synthesized["stack"], synthesized["template"]
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": _logical_id(stack, stack.store.artifact_bucket)},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{SERVING_ACCOUNT}:root"},
                                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_the_training_role_can_decrypt_with_the_adopted_key(synthesized: dict[str, Any]) -> None:
    stack, template = synthesized["stack"], synthesized["template"]
    # The grant lives in a customer managed policy attached to the role, not in an inline policy.
    template.resource_count_is("AWS::IAM::Policy", 0)
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "Roles": [{"Ref": _logical_id(stack, stack.training_role)}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": Match.array_with(["kms:Decrypt"]),
                                "Resource": Match.array_with([ADOPTED_KEY_ARN]),
                            }
                        )
                    ]
                )
            },
        },
    )
