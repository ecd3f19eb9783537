"""Built-in algorithm images, resolved per region at synth time with the SageMaker Python SDK.

The lookup tables ship inside ``sagemaker-core`` (the ``images`` extra): no network call is made.
"""

from __future__ import annotations

import functools

from mlops_constructs.errors import PropsError


@functools.cache
def builtin_image_uri(framework: str, version: str, region: str) -> str:
    """The ECR URI of SageMaker's ``framework`` image at ``version`` in ``region``."""
    try:
        from sagemaker.core import image_uris
    except ImportError:  # pragma: no cover - depends on the installation
        raise PropsError(
            "builtin_image_uri", "framework", framework, "needs the SageMaker Python SDK: pip install 'mlops-constructs[images]'"
        ) from None
    try:
        return image_uris.retrieve(framework=framework, region=region, version=version)
    except ValueError as err:
        raise PropsError("builtin_image_uri", f"{framework} {version} in {region}", version, f"is not a known SageMaker image: {err}") from None
