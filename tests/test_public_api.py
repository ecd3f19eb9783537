"""The public API: what ``mlops_constructs`` exports, the version, the changelog, and the stacks using only it."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest

import mlops_constructs

ROOT = Path(__file__).resolve().parents[1]
AREAS = ("delivery", "monitoring", "network", "registry", "serving", "storage", "training")


def test_every_exported_name_exists_and_every_areas_api_is_exported_at_the_top() -> None:
    assert [name for name in mlops_constructs.__all__ if not hasattr(mlops_constructs, name)] == []
    for area in AREAS:
        module = importlib.import_module(f"mlops_constructs.{area}")
        assert set(module.__all__) <= set(mlops_constructs.__all__), area
        assert [name for name in module.__all__ if getattr(mlops_constructs, name) is not getattr(module, name)] == []
    for construct in ("DeliveryPipeline", "ReleasePipeline", "ReleaseTooling", "ContainerImage", "CanaryEndpoint",
                      "TrainingPipeline", "ModelRegistry", "DriftMonitor", "ArtifactStore", "IsolatedNetwork", "InferenceApi"):
        assert construct in mlops_constructs.__all__


def _imports(path: Path) -> list[str]:
    """The ``mlops_constructs`` modules and names ``path`` imports, as ``module`` or ``module.name``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mlops_constructs":
            found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "mlops_constructs"]
    return found


@pytest.mark.parametrize("path", sorted([*ROOT.glob("stacks/*.py"), ROOT / "app.py", *ROOT.glob("examples/*/app.py")]), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_platforms_stacks_and_the_examples_use_only_the_public_api(path: Path) -> None:
    private = [name for name in _imports(path) if any(part.startswith("_") for part in name.split("."))]
    assert private == []


def test_the_version_is_one_semantic_version_with_a_changelog_entry() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert mlops_constructs.__version__ == version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(version)}\]? ", changelog, re.MULTILINE), "CHANGELOG.md has no section for " + version
