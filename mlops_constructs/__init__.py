"""AWS CDK constructs for a secure, multi-account MLOps platform on Amazon SageMaker."""

from mlops_constructs.compliance import NAG_PACKS, acknowledge, add_compliance_checks, ignore_cfn_lint, skip_checkov
from mlops_constructs.config import ConfigError, PlatformConfig, load_config
from mlops_constructs.errors import PropsError
from mlops_constructs.registry import DEFAULT_POWERTOOLS_VERSION, ModelRegistry
from mlops_constructs.network import (
    DEFAULT_INTERFACE_ENDPOINTS,
    GATEWAY_ENDPOINT_SERVICES,
    INTERFACE_ENDPOINT_SERVICES,
    FixedZonesStack,
    IsolatedNetwork,
)
from mlops_constructs.monitoring import DRIFT_NAMESPACE, DriftMonitor
from mlops_constructs.serving import CanaryEndpoint
from mlops_constructs.storage import ArtifactStore
from mlops_constructs.training import (
    RETRAIN_EVENT_DETAIL_TYPE, RETRAIN_EVENT_SOURCE, CategoricalRange, ContinuousRange, GateCondition, IntegerRange, Preprocessing,
    TrainingPipeline, Tuning, TuningObjective, builtin_image_uri,
)

__all__ = [
    "DEFAULT_INTERFACE_ENDPOINTS",
    "DRIFT_NAMESPACE",
    "GATEWAY_ENDPOINT_SERVICES",
    "INTERFACE_ENDPOINT_SERVICES",
    "NAG_PACKS",
    "ArtifactStore",
    "CanaryEndpoint",
    "CategoricalRange",
    "ContinuousRange",
    "ConfigError",
    "DriftMonitor",
    "FixedZonesStack",
    "GateCondition",
    "IntegerRange",
    "DEFAULT_POWERTOOLS_VERSION",
    "ModelRegistry",
    "IsolatedNetwork",
    "PlatformConfig",
    "Preprocessing",
    "PropsError",
    "RETRAIN_EVENT_DETAIL_TYPE",
    "RETRAIN_EVENT_SOURCE",
    "TrainingPipeline",
    "Tuning",
    "TuningObjective",
    "acknowledge",
    "add_compliance_checks",
    "builtin_image_uri",
    "ignore_cfn_lint",
    "load_config",
    "skip_checkov",
]
