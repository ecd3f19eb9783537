"""Arithmetic of SageMaker's blue/green endpoint deployments, shared by ``CanaryEndpoint`` and the configuration
(which must not import aws_cdk to check a file)."""

from __future__ import annotations

import math


def deployment_waits(deployment: str, traffic_step_percent: int) -> int:
    """How many wait intervals a blue/green deployment spends before its last traffic shift: one for a canary, one per
    linear step but the last, and, to be safe, one for all at once."""
    if deployment == "LINEAR":
        return max(1, math.ceil(100 / traffic_step_percent) - 1)
    return 1


def min_traffic_step_percent(deployment: str) -> int:
    """A canary is 1 to 50% of the fleet, a linear step 10 to 50%
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html)."""
    return 10 if deployment == "LINEAR" else 1
