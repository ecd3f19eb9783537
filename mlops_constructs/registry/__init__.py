from mlops_constructs.registry.model_registry import DEFAULT_POWERTOOLS_VERSION, ModelRegistry

__all__ = ["DEFAULT_POWERTOOLS_VERSION", "ModelRegistry"]
