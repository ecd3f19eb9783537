"""Snapshots of every stack's template, so that any drift shows up in review.

Update them only for an intended change (`pytest --snapshot-update`), and say why in the commit.
Asset hashes are masked: they change with the CDK version, not with this project's intent."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.release_stack import release_stack_number
from tests.conftest import SynthesizedPlatform

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
STACKS = [f"{stage}/{kind}" for stage in ("Dev", "Staging", "Prod") for kind in ("Network", "Storage")] + ["Dev/Models-1/Registry-churn", "Dev/Models-1/Training-churn"] + [f"{stage}/Release-churn/Endpoint" for stage in ("Dev", "Staging", "Prod")] + ["Delivery", "Releases/Tooling", f"Releases/Releases-{release_stack_number(SimpleNamespace(name='churn'))}"]  # type: ignore[arg-type]
# the default config's batch-only model: its dev stacks, its batch stacks in staging and prod, its release pipeline's stack
STACKS += ["Dev/Models-1/Registry-lead-scoring", "Dev/Models-1/Training-lead-scoring", "Staging/Release-lead-scoring/Batch",
           "Prod/Release-lead-scoring/Batch", f"Releases/Releases-{release_stack_number(SimpleNamespace(name='lead-scoring'))}"]  # type: ignore[arg-type]


def mask(value: Any) -> Any:
    if isinstance(value, str):
        return ASSET_HASH.sub("<asset-hash>", value)
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    return value


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACKS, ids=[s.replace("/", "-") for s in STACKS])
def test_stack_template_matches_snapshot(platform: SynthesizedPlatform, snapshot_json, stack: str) -> None:  # type: ignore[no-untyped-def]
    assert mask(platform.templates[stack]) == snapshot_json


def test_every_stack_has_a_snapshot(platform: SynthesizedPlatform) -> None:
    assert sorted(platform.templates) == sorted(STACKS)


def test_masking_hides_only_asset_hashes() -> None:
    digest = "a" * 64
    assert mask({"S3Key": f"{digest}.zip", "Name": "bucket"}) == {"S3Key": "<asset-hash>.zip", "Name": "bucket"}
