"""Each stage's VPC has exactly the interface endpoints its workloads need (issue 20): every AWS service that a
role used inside the VPC may call (a VPC function's, a SageMaker model's, a VPC job's, and a role such a principal
may assume) is reachable through an endpoint, and no endpoint is made that none of them calls (each costs per hour
and zone). Checked on the synthesized templates, not on the code that chose the endpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mlops_constructs import INTERFACE_ENDPOINT_SERVICES
from mlops_constructs.config import InterfaceEndpointName, PlatformConfig
from stacks.network_stack import stage_interface_endpoints
from tests.conftest import SynthesizedPlatform

GATEWAY = "gateway"
# What an IAM service prefix needs from inside an isolated VPC. ec2: the network interfaces of a VPC function or
# job are made by the Lambda and SageMaker services themselves, from outside the VPC.
ENDPOINTS_FOR_PREFIX: dict[str, tuple[str, ...]] = {
    "s3": (GATEWAY,), "dynamodb": (GATEWAY,), "ec2": (),
    "logs": ("logs",), "cloudwatch": ("monitoring",), "kms": ("kms",), "ecr": ("ecr-api", "ecr-docker"),
    "sagemaker": ("sagemaker-api",), "sns": ("sns",), "sqs": ("sqs",), "ssm": ("ssm",), "sts": ("sts",), "xray": ("xray",),
    "codepipeline": ("codepipeline",), "states": ("states",), "events": ("events",), "execute-api": ("execute-api",),
}
SERVICE_OF = {"sagemaker-api": "sagemaker.api", "sagemaker-runtime": "sagemaker.runtime", "ecr-api": "ecr.api", "ecr-docker": "ecr.dkr"}
"""The service name's last part (``com.amazonaws.<region>.<part>``) of each endpoint short name that differs from it."""


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def _allowed_actions(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for statement in document.get("Statement", []):
        if statement.get("Effect") == "Allow":
            actions = statement.get("Action", [])
            for action in [actions] if isinstance(actions, str) else actions:
                yield action, statement.get("Resource")


def _role_actions(template: dict[str, Any], role_id: str) -> list[tuple[str, Any]]:
    """Every action the role's inline and attached (customer managed) policies in ``template`` allow."""
    resources = template["Resources"]
    found: list[tuple[str, Any]] = []
    for policy in resources[role_id]["Properties"].get("Policies", []):
        found += _allowed_actions(policy["PolicyDocument"])
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            if role_id in [_ref(r) for r in resource["Properties"].get("Roles", [])]:
                found += _allowed_actions(resource["Properties"]["PolicyDocument"])
    return found


def _in_vpc_roles(template: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(role logical id, what uses it inside the VPC) of one template."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and props.get("VpcConfig"):
            yield _ref(props["Role"]), f"function {logical_id}"
        elif resource["Type"] == "AWS::SageMaker::Model" and props.get("VpcConfig"):
            yield _ref(props["ExecutionRoleArn"]), f"model {logical_id}"
        elif resource["Type"] == "AWS::StepFunctions::StateMachine":
            definition = json.dumps(props.get("DefinitionString"))
            if "VpcConfig" in definition:  # a job the machine starts runs in the VPC with a role of this template
                for role in set(re.findall(r'"Fn::GetAtt": \["(\w+)", "Arn"\]', definition)):
                    if template["Resources"].get(role, {}).get("Type") == "AWS::IAM::Role":
                        yield role, f"a job of {logical_id}"


def _roles_by_name(platform: SynthesizedPlatform) -> dict[str, tuple[dict[str, Any], str]]:
    named = {}
    for template in platform.templates.values():
        for logical_id, resource in template.get("Resources", {}).items():
            name = resource.get("Properties", {}).get("RoleName") if resource["Type"] == "AWS::IAM::Role" else None
            if isinstance(name, str):
                named[name] = (template, logical_id)
    return named


def needed_endpoints(platform: SynthesizedPlatform, stage: str) -> dict[str, set[str]]:
    """The endpoints each service called from ``stage``'s VPC needs, with who calls it."""
    named = _roles_by_name(platform)
    needed: dict[str, set[str]] = {}
    for path, template in platform.templates.items():
        if not path.startswith(f"{stage.title()}/"):
            continue
        for role_id, user in _in_vpc_roles(template):
            actions = _role_actions(template, role_id)
            # A role the principal may assume: its calls leave from the VPC too (the approval function starts the
            # release pipeline as the tooling account's release role).
            for action, resource in list(actions):
                if action == "sts:AssumeRole":
                    for arn in resource if isinstance(resource, list) else [resource]:
                        match = re.search(r":role/([\w+=,.@-]+)$", arn) if isinstance(arn, str) else None
                        if match and match.group(1) in named:
                            other, other_id = named[match.group(1)]
                            actions += _role_actions(other, other_id)
            for action, _ in actions:
                prefix = action.split(":")[0]
                assert prefix in ENDPOINTS_FOR_PREFIX, f"{path} {user}: {action}: which VPC endpoint does service {prefix} need?"
                endpoints = ENDPOINTS_FOR_PREFIX[prefix]
                if action in ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"):
                    endpoints = ("sagemaker-runtime",)
                for endpoint in endpoints:
                    needed.setdefault(endpoint, set()).add(f"{path} {user} ({action})")
    return needed


def created_endpoints(platform: SynthesizedPlatform, stage: str) -> set[str]:
    template = platform.templates[f"{stage.title()}/Network"]
    services = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::EC2::VPCEndpoint":
            props = resource["Properties"]
            if props.get("VpcEndpointType") == "Interface":
                service = props["ServiceName"]
                assert isinstance(service, str), service
                services.add(re.sub(r"^com\.amazonaws\.[a-z0-9-]+\.", "", service))
            else:
                services.add(GATEWAY)
    return services


def _service(endpoint: str) -> str:
    return SERVICE_OF.get(endpoint, endpoint)


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
@pytest.mark.parametrize("which", ["platform", "three_model_platform"])
def test_every_service_called_from_the_vpc_has_an_endpoint(which: str, stage: str, request) -> None:
    platform: SynthesizedPlatform = request.getfixturevalue(which)
    needed = needed_endpoints(platform, stage)
    if which == "platform" or stage == "dev":  # the three-model platform has no release stacks in staging and prod
        assert needed, f"{stage}: nothing in the VPC found to check"
    created = created_endpoints(platform, stage)
    missing = {e: sorted(users)[:3] for e, users in needed.items() if _service(e) not in created}
    assert not missing, f"{stage}: services called from the VPC without an endpoint: {missing}"


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_no_endpoint_is_made_that_nothing_in_the_vpc_calls(platform: SynthesizedPlatform, stage: str) -> None:
    # On the default platform, where every kind of workload the stage can host is synthesized (an endpoint with drift
    # monitoring, batch runs, and in dev the registry and training): a platform without a model's release stacks
    # shows only part of what its network is made for.
    wanted = {_service(e) for e in needed_endpoints(platform, stage)}
    extra = {_service(e) for e in platform.config.stage(stage).extra_interface_endpoints}
    idle = created_endpoints(platform, stage) - wanted - extra
    assert idle == set(), f"{stage}: endpoints nothing in the stage's VPC calls: {sorted(idle)}"


def test_the_default_stages_make_fewer_endpoints_than_the_old_fixed_list(default_config: PlatformConfig) -> None:
    # The old fixed list: 13 in every stage, 15 in dev.
    assert len(stage_interface_endpoints(default_config, "dev")) == 12
    assert len(stage_interface_endpoints(default_config, "staging")) == len(stage_interface_endpoints(default_config, "prod")) == 6


def test_extra_interface_endpoints_are_added_and_checked(default_config: PlatformConfig) -> None:
    from tests.test_config import mutated, problems_of

    config = PlatformConfig.from_mapping(mutated(**{"stages.prod.extra_interface_endpoints": ["sagemaker-runtime"]}))
    assert "sagemaker-runtime" in stage_interface_endpoints(config, "prod")
    assert "sagemaker-runtime" not in stage_interface_endpoints(config, "staging")
    problems = problems_of(mutated(**{"stages.prod.extra_interface_endpoints": ["sagemaker"]}))
    assert len(problems) == 1 and problems[0].startswith("stages.prod.extra_interface_endpoints[0]: must be ")


def test_the_configs_endpoint_names_are_the_networks() -> None:
    assert set(InterfaceEndpointName.__args__) == set(INTERFACE_ENDPOINT_SERVICES)
