from mlops_constructs.serving.batch_inference import BatchInference
from mlops_constructs.serving.canary_endpoint import INVOKE_ACTIONS, VARIANT, CanaryEndpoint, EndpointBase, EndpointReference

__all__ = ["INVOKE_ACTIONS", "VARIANT", "BatchInference", "CanaryEndpoint", "EndpointBase", "EndpointReference"]
