"""S3's rules for general purpose bucket names that synthesis cannot otherwise check, shared by
``ArtifactStore`` and the platform's configuration (no CDK import: the configuration loads without jsii)."""

from __future__ import annotations

RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
"""Prefixes S3 refuses at the start of a general purpose bucket's name (its bucket naming rules,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): ``CreateBucket`` fails with
InvalidBucketName at deploy time."""


def reserved_prefix(name_start: str) -> str | None:
    """The prefix of :data:`RESERVED_BUCKET_PREFIXES` that bucket names ``<name_start>-...`` would start with, or
    ``None``: ``sthree`` makes ``sthree-data-...`` as much as ``sthree-dev`` does."""
    return next((p for p in RESERVED_BUCKET_PREFIXES if f"{name_start}-".startswith(p)), None)
