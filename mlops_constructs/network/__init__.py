from mlops_constructs.network.fixed_zones_stack import FixedZonesStack
from mlops_constructs.network.isolated_network import (
    DEFAULT_INTERFACE_ENDPOINTS,
    GATEWAY_ENDPOINT_SERVICES,
    INTERFACE_ENDPOINT_SERVICES,
    IsolatedNetwork,
)

__all__ = ["FixedZonesStack", "DEFAULT_INTERFACE_ENDPOINTS", "GATEWAY_ENDPOINT_SERVICES", "INTERFACE_ENDPOINT_SERVICES", "IsolatedNetwork"]
