"""ARNs in a stack's partition, region and account, formatted in Python.

``Stack.format_arn`` is one round trip to jsii's Node process per ARN; a platform synth formats
hundreds. ``arn`` concatenates the same parts in the same order as CDK's ``Arn.format`` (tokens
included, so references resolve as they would), reading the stack's partition, region and account
once per stack. ``tests/test_arns.py`` checks it against ``Stack.format_arn``.
"""

from __future__ import annotations

import re
import weakref

from aws_cdk import Stack

ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/*-]{1,512}")
"""An IAM role's ARN (``*`` allowed in its path and name, for patterns), in any partition; ``account`` is its account."""

_environments: weakref.WeakKeyDictionary[Stack, tuple[str, str, str]] = weakref.WeakKeyDictionary()


def arn(stack: Stack, service: str, resource: str, resource_name: str, *, sep: str = "/", region: str | None = None,
        account: str | None = None) -> str:
    """``stack.format_arn(service=..., resource=..., resource_name=...)``: ``sep=":"`` for
    ``ArnFormat.COLON_RESOURCE_NAME``; ``region`` and ``account`` default to the stack's ("" for none)."""
    if stack not in _environments:
        _environments[stack] = (stack.partition, stack.region, stack.account)
    partition, stack_region, stack_account = _environments[stack]
    region = stack_region if region is None else region
    account = stack_account if account is None else account
    return f"arn:{partition}:{service}:{region}:{account}:{resource}{sep}{resource_name}"
