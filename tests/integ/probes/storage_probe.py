"""Writes an object over TLS naming no encryption, reads it back, then tries plain HTTP.

Returns what happened, for the integration test's assertion to compare: the round trip's outcome, the encryption
S3 applied (the bucket's default: SSE-KMS with the store's key, since the probe names none), and the error codes S3
gave the plain-HTTP requests (the store's bucket policy denies them: AccessDenied).
"""

from __future__ import annotations

import os
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def handler(event: dict, context: object) -> dict:
    bucket, region = os.environ["BUCKET"], os.environ["AWS_REGION"]
    name = f"integ-probe/{uuid.uuid4()}.txt"
    body = b"written over TLS, encrypted as the bucket's default says"
    tls = boto3.client("s3", region_name=region)
    # No ServerSideEncryption or SSEKMSKeyId: what S3 applies is the bucket's default encryption, which is what
    # the store promises. GetObject answers with "the ID of the KMS key that was used" in SSEKMSKeyId
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): a key ARN in practice, though the
    # reference does not say which form; the assertion accepts the key's ID alone or at the end of an ARN.
    tls.put_object(Bucket=bucket, Key=name, Body=body)
    read = tls.get_object(Bucket=bucket, Key=name)
    result = {
        "round_trip": read["Body"].read() == body,
        "encryption": read.get("ServerSideEncryption"),
        "encrypted_with": read.get("SSEKMSKeyId"),
    }
    # The same signed requests over http://: S3 serves them, and the bucket policy must refuse them.
    plain = boto3.client(
        "s3", region_name=region, use_ssl=False, endpoint_url=f"http://s3.{region}.amazonaws.com",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    for attempt, call in (
        ("plain_http_get", lambda: plain.get_object(Bucket=bucket, Key=name)),
        ("plain_http_put", lambda: plain.put_object(Bucket=bucket, Key=f"{name}.plain", Body=body)),
    ):
        try:
            call()
            result[attempt] = "accepted"
        except ClientError as err:
            result[attempt] = err.response["Error"]["Code"]
    return result
