from mlops_constructs.serving.batch_inference import BatchInference
from mlops_constructs.serving.canary_endpoint import INVOKE_ACTIONS, VARIANT, CanaryEndpoint, EndpointBase, EndpointReference
from mlops_constructs.serving.inference_api import InferenceApi

__all__ = ["INVOKE_ACTIONS", "VARIANT", "BatchInference", "CanaryEndpoint", "EndpointBase", "EndpointReference", "InferenceApi"]
