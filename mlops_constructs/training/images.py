"""Built-in algorithm images, resolved per region at synth time with the SageMaker Python SDK.

The lookup tables ship inside ``sagemaker-core`` (the ``images`` extra): no network call is made.

Importing the SDK costs about 1.5 s and each lookup about 40 ms, which every synthesis paid. The images
the platform uses by default (:data:`TABLED_FRAMEWORKS`, every version and region) are therefore kept in
``image_table.json``: the SDK's own answers, written by ``python -m mlops_constructs.training.images``
and used only while the installed ``sagemaker-core`` is the version that wrote them. Anything else is
asked of the SDK, as before.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from importlib import metadata
from pathlib import Path

from mlops_constructs.errors import PropsError

TABLED_FRAMEWORKS = ("xgboost", "sklearn", "model-monitor")
"""The frameworks whose images ``image_table.json`` holds."""
TABLE = Path(__file__).with_name("image_table.json")
DEEP_LEARNING_FRAMEWORKS = ("pytorch", "tensorflow")
"""Frameworks whose images differ by processor (CPU or GPU) and so need the instance type: not tabled,
asked of the SDK, for their training images (which the SDK's framework processors also run)."""


@functools.cache
def _table() -> dict[str, str]:
    """The tabled images, by :func:`_key`; empty when the installed SDK is not the one that wrote them."""
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    try:
        installed = metadata.version("sagemaker-core")
    except metadata.PackageNotFoundError:
        return {}
    return data["images"] if data["sagemaker_core"] == installed else {}


def _key(framework: str, version: str | None, region: str) -> str:
    return f"{framework}|{version or ''}|{region}"


@functools.cache
def builtin_image_uri(framework: str, version: str | None, region: str, instance_type: str | None = None) -> str:
    """The ECR URI of SageMaker's ``framework`` image at ``version`` in ``region`` (``version=None`` for
    unversioned images such as ``model-monitor``). ``pytorch`` and ``tensorflow`` need the ``instance_type``
    the image runs on (their CPU and GPU images differ) and give their training image."""
    deep = framework in DEEP_LEARNING_FRAMEWORKS
    if deep and not instance_type:
        raise PropsError("builtin_image_uri", "instance_type", instance_type,
                         f"is required for {framework}: its CPU and GPU images differ (e.g. ml.m5.xlarge)")
    tabled = None if deep else _table().get(_key(framework, version, region))
    if tabled is not None:
        return tabled
    try:
        from sagemaker.core import image_uris
    except ImportError:  # pragma: no cover - depends on the installation
        raise PropsError(
            "builtin_image_uri", "framework", framework, "needs the SageMaker Python SDK: pip install 'mlops-constructs[images]'"
        ) from None
    frameworks = image_uris.list_frameworks()
    if framework not in frameworks:
        close = difflib.get_close_matches(framework, frameworks, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PropsError("builtin_image_uri", "framework", framework, f"is not a SageMaker framework the SDK knows{hint}")
    try:
        if deep:
            return image_uris.retrieve(framework=framework, region=region, version=version, instance_type=instance_type, image_scope="training")
        return image_uris.retrieve(framework=framework, region=region, version=version)
    except Exception as err:  # the SDK raises ValueError mostly, but KeyError for some unknown names
        text = _UPGRADE_ADVICE.sub("", str(err))
        supported = _UNSUPPORTED_REGION.match(text)
        if supported:
            name = f"{framework} {version}" if version else framework
            regions = _same_partition(supported["regions"].split(", "), region)
            raise PropsError(
                "builtin_image_uri", "region", region,
                f"has no {name} image in region {region}; sagemaker-core {metadata.version('sagemaker-core')}, "
                f"installed here, has one in {', '.join(regions) or 'no region of its partition'}",
            ) from None
        raise PropsError("builtin_image_uri", f"{framework} {version} in {region}", version, f"is not a known SageMaker image: {text}") from None


def _same_partition(regions: list[str], region: str) -> list[str]:
    """The ``regions`` in the partition of ``region`` (aws, aws-cn, aws-us-gov...): the others are no option."""
    from botocore.loaders import Loader

    for partition in Loader().load_data("endpoints")["partitions"]:
        pattern = re.compile(partition["regionRegex"])
        if pattern.match(region):
            return [name for name in regions if pattern.match(name)]
    return regions


# The SDK's errors advise upgrading it; here it is pinned with the library (and the common images are
# tabled from it), so that advice does not apply. Its list of supported regions or versions does.
_UPGRADE_ADVICE = re.compile(r" You may need to upgrade your SDK version \(pip install -U sagemaker\) for newer [\w .-]+\.")
_UNSUPPORTED_REGION = re.compile(r"Unsupported region: [\w-]+\. Supported region\(s\): (?P<regions>[\w, -]+)\.?$")


def builtin_image_problem(framework: str, version: str, region: str, instance_type: str | None = None) -> str | None:
    """Why ``framework`` at ``version`` has no image in ``region`` (for ``instance_type``, with ``pytorch``
    and ``tensorflow``), or ``None`` when it has one (or when the SageMaker Python SDK is not installed to tell)."""
    if framework not in DEEP_LEARNING_FRAMEWORKS and _key(framework, version, region) in _table():
        return None
    try:
        import sagemaker.core.image_uris  # noqa: F401
    except ImportError:
        return None
    try:
        builtin_image_uri(framework, version, region, instance_type)
    except PropsError as err:
        return err.allowed
    return None


def build_table() -> dict[str, object]:
    """Ask the installed SDK for every version of :data:`TABLED_FRAMEWORKS` in every region it lists."""
    from sagemaker.core import image_uris

    images: dict[str, str] = {}
    for framework in TABLED_FRAMEWORKS:
        regions: set[str] = set()

        def collect(node: object) -> None:
            if isinstance(node, dict):
                regions.update(node.get("registries", {}))
                for child in node.values():
                    collect(child)

        collect(image_uris.config_for_framework(framework))
        versions: list[str | None] = [None] if framework == "model-monitor" else list(image_uris.list_versions(framework))
        for version in versions:
            for region in sorted(regions):
                try:
                    images[_key(framework, version, region)] = image_uris.retrieve(framework=framework, region=region, version=version)
                except Exception:  # noqa: BLE001 - not offered there: left to the SDK to explain when asked
                    continue
    return {"sagemaker_core": metadata.version("sagemaker-core"), "images": dict(sorted(images.items()))}


if __name__ == "__main__":
    TABLE.write_text(json.dumps(build_table(), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")
