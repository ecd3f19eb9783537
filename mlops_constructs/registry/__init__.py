from mlops_constructs.registry.model_registry import (
    DEFAULT_POWERTOOLS_VERSION,
    LIST_PACKAGES_ACTIONS,
    READ_GROUP_ACTIONS,
    READ_PACKAGES_ACTIONS,
    ModelPackageGroupReference,
    ModelRegistry,
)

__all__ = [
    "DEFAULT_POWERTOOLS_VERSION",
    "LIST_PACKAGES_ACTIONS",
    "READ_GROUP_ACTIONS",
    "READ_PACKAGES_ACTIONS",
    "ModelPackageGroupReference",
    "ModelRegistry",
]
