"""A role whose permissions all live in one customer managed policy, and whose added statements land there.

The platform's constructs keep each role's permissions in one customer managed policy (the NIST 800-53,
HIPAA and PCI packs refuse inline policies). They used to hand their services ``role.without_policy_updates()``
so that CDK's own grants would not add an inline ``DefaultPolicy``; but that immutable role accepts every
statement and keeps none, so ``function.add_to_role_policy(...)``, ``bucket.grant_read(function)`` and the
like were dropped without a word. This role takes them instead, into its managed policy:

- ``add_to_principal_policy`` (what grants, ``add_to_policy`` and, with
  ``@aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy`` off, ``Function.add_to_role_policy`` call)
  adds the statement to the managed policy;
- ``attach_inline_policy`` (what ``Function.add_to_role_policy`` calls with that flag on) adds the inline
  policy's statements to the managed policy and leaves the inline policy unattached (not synthesized);
- a statement the policy already allows (same effect and condition, its actions and resources among one
  statement's) is not repeated: CDK's own statements for a function's tracing and dead-letter queue, which
  the construct's hand-written policy already has, leave the template as it was.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam

_COVERABLE_KEYS = frozenset({"Sid", "Effect", "Action", "Resource", "Condition"})


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class _Allowed:
    """What one ``Allow`` statement grants, for the coverage test."""

    def __init__(self, statement: Mapping[str, Any]) -> None:
        # Only a plain Allow with actions and resources covers or is covered: an empty one is left to CDK's own
        # checks (which refuse it), never swallowed.
        self.plain = statement.get("Effect") == "Allow" and set(statement) <= _COVERABLE_KEYS \
            and bool(statement.get("Action")) and bool(statement.get("Resource"))
        self.actions = {_key(a) for a in _as_list(statement.get("Action", []))}
        self.resources = {_key(r) for r in _as_list(statement.get("Resource", []))}
        self.condition = _key(statement.get("Condition"))

    def covers(self, other: _Allowed) -> bool:
        return self.plain and other.plain and self.condition == other.condition and other.actions <= self.actions \
            and other.resources <= self.resources


class ManagedPolicyRole(iam.Role):
    """An ``iam.Role`` (same props) whose added statements go into one customer managed policy, named
    with :meth:`keep_statements_in` right after the policy is made. Statements are compared as CDK renders
    them before resolution (tokens as their string form), which is how the construct's own policy and CDK's
    statements name the same queue or topic."""

    def __init__(self, scope: Any, id: str, **props: Any) -> None:
        super().__init__(scope, id, **props)
        self._managed_policy: iam.ManagedPolicy | None = None
        self._allowed: list[_Allowed] = []
        self._leaving_out = False

    @staticmethod
    def with_managed_policy(scope: Any, id: str, *, policy_id: str | None = None, policy_description: str | None = None,
                            **role_props: Any) -> ManagedPolicyRole:
        """A role (``iam.Role``'s props) with an empty customer managed policy of its own (a child of the role,
        ``policy_id``, default ``Policy``), into which everything later added to the role goes: grants, a function's
        dead-letter and tracing permissions, ``add_to_role_policy``. For a team's own roles under the
        NIST 800-53, HIPAA and PCI packs, which refuse the inline ``DefaultPolicy`` CDK would otherwise write."""
        role = ManagedPolicyRole(scope, id, **role_props)
        # A child of the role: whatever depends on the role (a function in a VPC, which Lambda checks for its
        # network interface permissions when it is created) waits for its policy too.
        policy = iam.ManagedPolicy(role, policy_id or "Policy", description=policy_description, roles=[role])
        role.keep_statements_in(policy, [])
        return role

    @property
    def managed_policy(self) -> iam.ManagedPolicy | None:
        """The policy statements added to the role go to (``None`` before :meth:`keep_statements_in`)."""
        return self._managed_policy

    def keep_statements_in(self, policy: iam.ManagedPolicy, statements: Sequence[Mapping[str, Any]]) -> None:
        """Send every statement added from now on to ``policy``, which already holds ``statements`` (IAM JSON)."""
        self._managed_policy = policy
        self._allowed = [_Allowed(s) for s in statements]

    @contextlib.contextmanager
    def leaving_out_what_is_added(self) -> Iterator[None]:
        """Inside: statements added to the role are left out, not written. For building a construct whose
        policies the caller has written itself (a state machine, whose constructor adds CDK's per-task grants,
        broader than the caller's own); what is added afterwards, by anyone, lands in the managed policy again."""
        self._leaving_out = True
        try:
            yield
        finally:
            self._leaving_out = False

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        if self._leaving_out:
            return iam.AddToPrincipalPolicyResult(statement_added=True)
        if self._managed_policy is None:
            raise RuntimeError(f"{self.node.path}: statements were added before the role's managed policy was named (keep_statements_in)")
        allowed = _Allowed(statement.to_statement_json())
        if not any(existing.covers(allowed) for existing in self._allowed):
            self._managed_policy.add_statements(statement)
            self._allowed.append(allowed)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._managed_policy)

    def attach_inline_policy(self, policy: iam.Policy) -> None:
        document = policy.document.to_json() or {}
        for statement in document.get("Statement", []):
            self.add_to_principal_policy(iam.PolicyStatement.from_json(statement))
