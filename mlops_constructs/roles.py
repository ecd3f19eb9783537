"""Roles whose permissions live in one customer managed policy.

The NIST 800-53 R5, HIPAA Security and PCI DSS packs refuse inline policies, and CDK writes every grant to a
role (``bucket.grant_read(function)``, a function's dead-letter queue) into the role's inline ``DefaultPolicy``.
:class:`ManagedPolicyRole` takes those statements into its customer managed policy instead; the library's own
constructs use it for their functions' and jobs' roles, and a team can for its own::

    role = ManagedPolicyRole.with_managed_policy(self, "CallerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    endpoint.grant_invoke(role)          # lands in role.managed_policy
"""

from mlops_constructs._managed_policy_role import ManagedPolicyRole

__all__ = ["ManagedPolicyRole"]
