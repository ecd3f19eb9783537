from mlops_constructs.delivery.delivery_pipeline import (
    MODEL_PACKAGE_VARIABLE,
    DEFAULT_CLI_VERSION,
    NO_MODEL_PACKAGE,
    DeliveryPipeline,
    DeliveryStage,
    SmokeTest,
)
from mlops_constructs.delivery.release_pipeline import ReleaseDeployment, ReleasePipeline, ReleaseTooling

__all__ = ["DEFAULT_CLI_VERSION", "MODEL_PACKAGE_VARIABLE", "NO_MODEL_PACKAGE", "DeliveryPipeline", "DeliveryStage", "ReleaseDeployment",
           "ReleasePipeline", "ReleaseTooling", "SmokeTest"]
