"""The SageMaker catalog the config loader validates against: botocore's own answers, written down."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from mlops_constructs import _sagemaker_catalog as catalog


def test_the_catalog_was_written_by_the_pinned_botocore_and_is_what_it_says_now() -> None:
    written = json.loads(catalog.CATALOG.read_text())
    assert written["botocore"] == metadata.version("botocore"), "run: python -m mlops_constructs._sagemaker_catalog"
    assert written == catalog.build_catalog()


def test_the_written_catalog_is_used_while_its_botocore_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_botocore(*_: object) -> list[str]:
        raise AssertionError("botocore was read")

    monkeypatch.setattr(catalog, "_regions_from_botocore", no_botocore)
    monkeypatch.setattr(catalog, "_instance_types_from_botocore", no_botocore)
    for cached in (catalog._catalog, catalog.sagemaker_regions, catalog.sagemaker_instance_types):
        cached.cache_clear()
    try:
        assert "eu-west-1" in catalog.sagemaker_regions()
        assert "ml.m5.xlarge" in catalog.sagemaker_instance_types("TrainingInstanceType")
    finally:
        for cached in (catalog._catalog, catalog.sagemaker_regions, catalog.sagemaker_instance_types):
            cached.cache_clear()


def test_another_botocore_is_asked_instead_of_the_written_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = metadata.version
    monkeypatch.setattr(catalog.metadata, "version", lambda name: "0.0.1" if name == "botocore" else real_version(name))
    monkeypatch.setattr(catalog, "_regions_from_botocore", lambda: ["xx-test-1"])
    monkeypatch.setattr(catalog, "_instance_types_from_botocore", lambda shape: [f"ml.{shape.lower()}.test"])
    for cached in (catalog._catalog, catalog.sagemaker_regions, catalog.sagemaker_instance_types):
        cached.cache_clear()
    try:
        assert catalog.sagemaker_regions() == frozenset({"xx-test-1"})
        assert catalog.sagemaker_instance_types("TrainingInstanceType") == ("ml.traininginstancetype.test",)
    finally:
        for cached in (catalog._catalog, catalog.sagemaker_regions, catalog.sagemaker_instance_types):
            cached.cache_clear()
