from mlops_constructs.serving.canary_endpoint import INVOKE_ACTIONS, VARIANT, CanaryEndpoint, EndpointBase, EndpointReference

__all__ = ["INVOKE_ACTIONS", "VARIANT", "CanaryEndpoint", "EndpointBase", "EndpointReference"]
