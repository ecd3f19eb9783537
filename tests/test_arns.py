"""mlops_constructs._arns.arn formats exactly what Stack.format_arn does, tokens included."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import ArnFormat

from mlops_constructs._arns import arn


def stacks() -> list[cdk.Stack]:
    app = cdk.App()
    return [
        cdk.Stack(app, "Agnostic"),
        cdk.Stack(app, "Pinned", env=cdk.Environment(account="222222222222", region="eu-west-1")),
        cdk.Stack(app, "China", env=cdk.Environment(account="333333333333", region="cn-north-1")),
    ]


@pytest.mark.parametrize("stack", stacks(), ids=lambda s: s.node.id)
def test_arn_renders_as_format_arn(stack: cdk.Stack) -> None:
    token = cdk.Fn.import_value("SubnetId")  # a reference, as a subnet id from another stack is
    cases = [
        (dict(service="ec2", resource="subnet", resource_name=token), {}),
        (dict(service="ec2", resource="network-interface", resource_name="*"), {}),
        (dict(service="logs", resource="log-group", resource_name="/aws/sagemaker/Endpoints/*", arn_format=ArnFormat.COLON_RESOURCE_NAME), {"sep": ":"}),
        (dict(service="kms", account="444444444444", resource="key", resource_name="*"), {"account": "444444444444"}),
        (dict(service="iam", region="", resource="role", resource_name="x"), {"region": ""}),
    ]
    for kwargs, extra in cases:
        expected = stack.resolve(stack.format_arn(**kwargs))
        got = stack.resolve(arn(stack, kwargs["service"], kwargs["resource"], kwargs["resource_name"], **extra))
        assert got == expected, kwargs
