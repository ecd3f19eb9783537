"""Built-in algorithm images, resolved per region at synth time with the SageMaker Python SDK.

The lookup tables ship inside ``sagemaker-core`` (the ``images`` extra): no network call is made.
"""

from __future__ import annotations

import difflib
import functools

from mlops_constructs.errors import PropsError


@functools.cache
def builtin_image_uri(framework: str, version: str | None, region: str) -> str:
    """The ECR URI of SageMaker's ``framework`` image at ``version`` in ``region`` (``version=None`` for
    unversioned images such as ``model-monitor``)."""
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
        return image_uris.retrieve(framework=framework, region=region, version=version)
    except Exception as err:  # the SDK raises ValueError mostly, but KeyError for some unknown names
        raise PropsError("builtin_image_uri", f"{framework} {version} in {region}", version, f"is not a known SageMaker image: {err}") from None


def builtin_image_problem(framework: str, version: str, region: str) -> str | None:
    """Why ``framework`` at ``version`` has no image in ``region``, or ``None`` when it has one (or when
    the SageMaker Python SDK is not installed to tell)."""
    try:
        import sagemaker.core.image_uris  # noqa: F401
    except ImportError:
        return None
    try:
        builtin_image_uri(framework, version, region)
    except PropsError as err:
        return err.allowed
    return None
