from mlops_constructs.delivery.delivery_pipeline import (
    MODEL_PACKAGE_VARIABLE,
    DEFAULT_CLI_VERSION,
    NO_MODEL_PACKAGE,
    DeliveryPipeline,
    DeliveryStage,
    SmokeTest,
    tag_artifact_writers,
)
from mlops_constructs.delivery.release_pipeline import NOTHING_TO_RELEASE, SOURCE_KEY, ReleaseDeployment, ReleasePipeline, ReleaseTooling

__all__ = ["DEFAULT_CLI_VERSION", "MODEL_PACKAGE_VARIABLE", "NOTHING_TO_RELEASE", "NO_MODEL_PACKAGE", "SOURCE_KEY", "DeliveryPipeline", "DeliveryStage", "ReleaseDeployment",
           "ReleasePipeline", "ReleaseTooling", "SmokeTest", "tag_artifact_writers"]
