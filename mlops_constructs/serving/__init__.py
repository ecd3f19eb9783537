from mlops_constructs.serving.canary_endpoint import VARIANT, CanaryEndpoint

__all__ = ["VARIANT", "CanaryEndpoint"]
