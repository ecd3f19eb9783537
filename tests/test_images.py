"""Built-in images: the table the platform's synthesis reads instead of importing the SageMaker SDK holds
exactly the SDK's answers, and is used only with the SDK version that wrote it."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from mlops_constructs.errors import PropsError
from mlops_constructs.training import images


def tabled() -> dict[str, str]:
    return json.loads(images.TABLE.read_text())["images"]


def test_the_table_was_written_by_the_pinned_sdk() -> None:
    """Otherwise every synthesis falls back to the SDK (correct, but 1.5 s slower): regenerate it with
    `python -m mlops_constructs.training.images` after changing sagemaker-core in constraints.txt."""
    assert json.loads(images.TABLE.read_text())["sagemaker_core"] == metadata.version("sagemaker-core")
    assert images._table() == tabled()


def test_the_table_covers_the_platforms_default_images() -> None:
    table = tabled()
    assert {key.split("|")[0] for key in table} == set(images.TABLED_FRAMEWORKS)
    for key in ("xgboost|1.7-1|eu-west-1", "sklearn|1.2-1|eu-west-1", "model-monitor||eu-west-1", "xgboost|1.7-1|us-east-1"):
        assert key in table, key


@pytest.mark.parametrize("stride_offset", range(4))
def test_tabled_answers_are_the_sdks(stride_offset: int) -> None:
    """A spread sample (every 40th entry, four offsets): asking the SDK takes ~40 ms an image."""
    from sagemaker.core import image_uris

    sample = list(tabled().items())[stride_offset * 10 :: 40]
    assert len(sample) >= 15
    for key, uri in sample:
        framework, version, region = key.split("|")
        assert image_uris.retrieve(framework=framework, region=region, version=version or None) == uri, key


def test_a_tabled_image_is_served_without_the_sdk_and_others_still_ask_it(monkeypatch: pytest.MonkeyPatch) -> None:
    images.builtin_image_uri.cache_clear()
    monkeypatch.setattr(images, "_table", lambda: {"xgboost|9.9-9|eu-west-1": "tabled-uri"})
    assert images.builtin_image_uri("xgboost", "9.9-9", "eu-west-1") == "tabled-uri"
    assert images.builtin_image_problem("xgboost", "9.9-9", "eu-west-1") is None
    # not in the table: the SDK answers, and its refusal is a PropsError naming the image
    with pytest.raises(PropsError, match=r"xgboost 9\.9-8 in eu-west-1"):
        images.builtin_image_uri("xgboost", "9.9-8", "eu-west-1")
    assert images.builtin_image_problem("xgboost", "9.9-8", "eu-west-1") is not None
    images.builtin_image_uri.cache_clear()


def test_another_sdk_version_ignores_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    images._table.cache_clear()
    monkeypatch.setattr(images.metadata, "version", lambda name: "0.0.1")
    try:
        assert images._table() == {}
    finally:
        monkeypatch.undo()
        images._table.cache_clear()
