from mlops_constructs.serving.canary_endpoint import VARIANT, CanaryEndpoint, DataQualityMonitoring

__all__ = ["VARIANT", "CanaryEndpoint", "DataQualityMonitoring"]
