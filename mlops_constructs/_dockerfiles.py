"""What a Dockerfile builds from: the ECR base images whose registries an image build must log in to."""

from __future__ import annotations

import re
from pathlib import Path

# `FROM [--platform=...] <image> [AS <name>]`; `FROM` names in ECR: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<image>\S+)", re.IGNORECASE | re.MULTILINE)
ECR_IMAGE = re.compile(
    r"(?P<registry>(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)/"
    r"(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::[\w.-]{1,128}|@sha256:[0-9a-f]{64})?"
)


def ecr_base_images(dockerfile: str | Path) -> list[str]:
    """The ECR images ``dockerfile``'s ``FROM`` lines name, in order, without repeats. Images of other
    registries (public.ecr.aws, Docker Hub) and build-argument references (``FROM ${BASE}``) are left out:
    the first need no login, the second cannot be known before the build."""
    images: list[str] = []
    for match in _FROM.finditer(Path(dockerfile).read_text(encoding="utf-8")):
        image = match["image"]
        if ECR_IMAGE.fullmatch(image) and image not in images:
            images.append(image)
    return images
