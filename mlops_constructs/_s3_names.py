"""S3's rules for general purpose bucket names that synthesis cannot otherwise check, shared by
``ArtifactStore`` and the platform's configuration (no CDK import: the configuration loads without jsii)."""

from __future__ import annotations

RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
"""Prefixes S3 refuses at the start of a general purpose bucket's name (its bucket naming rules,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): ``CreateBucket`` fails with
InvalidBucketName at deploy time."""
