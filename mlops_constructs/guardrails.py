"""The platform's preventive guardrails, for stacks that enforce them for a whole account.

The IAM conditions and deny statements that keep SageMaker jobs, models and endpoint configurations inside
the platform's network and encryption (see ``mlops_constructs._guardrails`` for how each is derived from the
Service Authorization Reference). The constructs put the conditions on their own roles; a stack uses
:func:`account_wide_denials` for the CloudFormation execution policy or an organization's service control
policy.
"""

from mlops_constructs._guardrails import (
    ARTIFACT_WRITERS, BOOTSTRAP_ROLE_PREFIX, DEPLOYS_TO_TAG, EVERY_STAGE_ACCOUNT, GUARDED_KEYS, PIPELINE_ARTIFACTS, account_wide_denials,
    inside_guardrails,
)

__all__ = [
    "ARTIFACT_WRITERS", "BOOTSTRAP_ROLE_PREFIX", "DEPLOYS_TO_TAG", "EVERY_STAGE_ACCOUNT", "GUARDED_KEYS", "PIPELINE_ARTIFACTS", "account_wide_denials",
    "inside_guardrails",
]
