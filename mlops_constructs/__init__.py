"""AWS CDK constructs for a secure, multi-account MLOps platform on Amazon SageMaker."""

from mlops_constructs.compliance import NAG_PACKS, acknowledge, add_compliance_checks, ignore_cfn_lint, skip_checkov
from mlops_constructs.config import ConfigError, PlatformConfig, load_config
from mlops_constructs.errors import PropsError
from mlops_constructs.registry import DEFAULT_POWERTOOLS_VERSION, ModelRegistry
from mlops_constructs.network import (
    DEFAULT_INTERFACE_ENDPOINTS,
    GATEWAY_ENDPOINT_SERVICES,
    INTERFACE_ENDPOINT_SERVICES,
    IsolatedNetwork,
)
from mlops_constructs.storage import ArtifactStore

__all__ = [
    "DEFAULT_INTERFACE_ENDPOINTS",
    "GATEWAY_ENDPOINT_SERVICES",
    "INTERFACE_ENDPOINT_SERVICES",
    "NAG_PACKS",
    "ArtifactStore",
    "ConfigError",
    "DEFAULT_POWERTOOLS_VERSION",
    "ModelRegistry",
    "IsolatedNetwork",
    "PlatformConfig",
    "PropsError",
    "acknowledge",
    "add_compliance_checks",
    "ignore_cfn_lint",
    "load_config",
    "skip_checkov",
]
