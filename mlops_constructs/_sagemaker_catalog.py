"""botocore's answers on SageMaker, for validating configuration: the regions where SageMaker is offered
and the instance types each kind of job accepts.

botocore's service model is what the AWS API itself validates against, so a name accepted here is one the
CreateTrainingJob/CreateEndpointConfig call accepts. Importing botocore and reading its SageMaker model
costs about 0.2 s, which every synthesis paid for a few hundred names. ``sagemaker_catalog.json`` holds
those names, written by ``python -m mlops_constructs._sagemaker_catalog`` and used only while the installed
botocore is the version that wrote them; with any other botocore they are read from botocore, as before.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import metadata
from pathlib import Path

CATALOG = Path(__file__).with_name("sagemaker_catalog.json")
INSTANCE_TYPE_SHAPES = ("ProcessingInstanceType", "TrainingInstanceType", "ProductionVariantInstanceType", "TransformInstanceType")
"""The SageMaker API enum shapes of instance type names that configuration is checked against."""


@functools.cache
def _catalog() -> dict[str, object]:
    """The written catalog; empty when the installed botocore is not the version that wrote it."""
    data = json.loads(CATALOG.read_text(encoding="utf-8"))
    return data if data.get("botocore") == metadata.version("botocore") else {}


def _regions_from_botocore() -> list[str]:
    from botocore.loaders import Loader

    regions: set[str] = set()
    for partition in Loader().load_data("endpoints")["partitions"]:
        service = partition["services"].get("api.sagemaker", {})
        regions.update(name for name in service.get("endpoints", {}) if re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", name))
    return sorted(regions)


def _instance_types_from_botocore(shape: str) -> list[str]:
    from botocore.loaders import Loader

    return list(Loader().load_service_model("sagemaker", "service-2")["shapes"][shape]["enum"])


@functools.cache
def sagemaker_regions() -> frozenset[str]:
    """Regions, across all partitions, in which botocore knows a SageMaker endpoint."""
    written = _catalog().get("regions")
    return frozenset(written if isinstance(written, list) else _regions_from_botocore())


@functools.cache
def sagemaker_instance_types(shape: str) -> tuple[str, ...]:
    """The instance type names of one SageMaker API enum shape, e.g. ``TrainingInstanceType``, in
    botocore's order."""
    written = _catalog().get("instance_types", {})
    if isinstance(written, dict) and shape in written:
        return tuple(written[shape])
    return tuple(_instance_types_from_botocore(shape))


def build_catalog() -> dict[str, object]:
    """Ask the installed botocore for the regions and every shape of :data:`INSTANCE_TYPE_SHAPES`."""
    return {
        "botocore": metadata.version("botocore"),
        "regions": _regions_from_botocore(),
        "instance_types": {shape: _instance_types_from_botocore(shape) for shape in INSTANCE_TYPE_SHAPES},
    }


if __name__ == "__main__":
    CATALOG.write_text(json.dumps(build_catalog(), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {CATALOG}")
