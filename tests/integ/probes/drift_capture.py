"""Writes requests to S3 as an endpoint's data capture would have: what the drift test's monitors read.

An assertion's ``putObject`` takes a key fixed at synthesis, but a drift check reads the capture of the hour
before its execution started (``<capture prefix><endpoint>/AllTraffic/yyyy/mm/dd/hh/``), which only the clock
at run time names. So this writes the same file under the hour just ended and under the current one: whichever
hour the check then starts in (within the hour), the hour before it holds the requests.

Event: ``{"prefix": "<capture prefix><endpoint>/AllTraffic/", "rows": "<CSV rows, one a line, no header>"}``;
environment ``BUCKET``. Returns the keys written and the number of requests and rows, for the assertion.

The lines are SageMaker's data-capture format ("Capture data from real-time endpoint",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html), three rows a CSV
request, as tests/test_drift_script.py writes them for the drift job.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import boto3

ROWS_PER_REQUEST = 3


def capture_lines(rows: list[str], now: datetime) -> list[str]:
    """``rows`` as captured requests, ``ROWS_PER_REQUEST`` rows each (CSV payloads), one JSON line a request."""
    lines = []
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        lines.append(json.dumps({
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                  "data": "\n".join(rows[start:start + ROWS_PER_REQUEST]), "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }))
    return lines


def hour_keys(prefix: str, now: datetime) -> list[str]:
    """The file's key under the hour just ended and under the current one (UTC), as data capture names hours."""
    name = f"{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return [f"{prefix}{hour:%Y/%m/%d/%H}/{name}" for hour in (now - timedelta(hours=1), now)]


def handler(event: dict, context: object) -> dict:
    now = datetime.now(timezone.utc)
    rows = [row for row in event["rows"].splitlines() if row.strip()]
    lines = capture_lines(rows, now)
    body = ("\n".join(lines) + "\n").encode("utf-8")
    s3 = boto3.client("s3", region_name=os.environ["AWS_REGION"])
    keys = hour_keys(event["prefix"], now)
    for key in keys:  # the bucket's default encryption (the store's key) applies
        s3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=body, ContentType="application/jsonlines")
    return {"keys": keys, "requests": len(lines), "rows": len(rows)}
