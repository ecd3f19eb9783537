"""Roles in a stage account that one role of the delivery pipeline, in the tooling account, assumes."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct


def role_for_pipeline_step(
    scope: Construct,
    id: str,
    *,
    role_name: str,
    tooling_account: str,
    step_role_arn: str,
    description: str,
    policy_id: str,
    policy_description: str,
    statement: iam.PolicyStatement | None = None,
    grant: Callable[[iam.IGrantable], iam.Grant] | None = None,
) -> iam.Role:
    """A role that only ``step_role_arn`` may assume, allowed ``statement`` and what ``grant`` (a construct's
    ``grant_xxx`` method) gives, and nothing else, in one customer managed policy.

    The trust names the tooling account and narrows it to the one role by condition, rather than naming
    the role as principal: the trust then stays valid if that role is deleted and created again.
    """
    role = iam.Role(
        scope,
        id,
        role_name=role_name,
        description=description,
        assumed_by=iam.AccountPrincipal(tooling_account).with_conditions({"ArnEquals": {"aws:PrincipalArn": step_role_arn}}),
        max_session_duration=Duration.hours(1),
    )
    policy = iam.ManagedPolicy(scope, policy_id, description=policy_description, roles=[role], statements=[statement] if statement else None)
    if grant is not None:
        grant(policy)
    return role
