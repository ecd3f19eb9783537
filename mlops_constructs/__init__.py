"""AWS CDK constructs for a secure, multi-account MLOps platform on Amazon SageMaker.

The public API is everything this module exports: each area's constructs (``mlops_constructs.network``,
``.storage``, ``.training``, ``.registry``, ``.serving``, ``.monitoring``, ``.delivery``, whose ``__all__``
it re-exports), container images, the compliance helpers and the guardrails. Modules whose name starts with
``_`` are internal and may change in any release.

``mlops_constructs.config`` (``PlatformConfig``, ``load_config``) is the configuration model of the
platform's own CDK app (``app.py`` and ``stacks/``): a team that composes the constructs in its own app does
not need it, and no construct reads it.
"""

from mlops_constructs import delivery, monitoring, network, registry, serving, storage, training
from mlops_constructs.compliance import NAG_PACKS, acknowledge, add_compliance_checks, ignore_cfn_lint, skip_checkov
from mlops_constructs.config import ConfigError, PlatformConfig, load_config
from mlops_constructs.container_image import PULL_ACTIONS, ContainerImage, ecr_base_images
from mlops_constructs.delivery import *  # noqa: F403 - re-exported, listed in __all__ below
from mlops_constructs.errors import PropsError
from mlops_constructs.guardrails import GUARDED_KEYS, account_wide_denials, inside_guardrails
from mlops_constructs.keys import allow_cloudwatch_logs, deny_grants_except_for_aws_resources
from mlops_constructs.monitoring import *  # noqa: F403
from mlops_constructs.network import *  # noqa: F403
from mlops_constructs.registry import *  # noqa: F403
from mlops_constructs.roles import ManagedPolicyRole
from mlops_constructs.serving import *  # noqa: F403
from mlops_constructs.storage import *  # noqa: F403
from mlops_constructs.training import *  # noqa: F403

__version__ = "0.2.0"

__all__ = sorted({
    *delivery.__all__, *monitoring.__all__, *network.__all__, *registry.__all__, *serving.__all__, *storage.__all__, *training.__all__,
    "NAG_PACKS", "acknowledge", "add_compliance_checks", "ignore_cfn_lint", "skip_checkov",
    "ConfigError", "PlatformConfig", "load_config",
    "PULL_ACTIONS", "ContainerImage", "ecr_base_images",
    "PropsError", "ManagedPolicyRole",
    "GUARDED_KEYS", "account_wide_denials", "inside_guardrails",
    "allow_cloudwatch_logs", "deny_grants_except_for_aws_resources",
})
