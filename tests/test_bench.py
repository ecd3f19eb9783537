"""bench/run.py's pure parts: the floor's interpreter flags and the quotas table of docs/performance.md."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """bench/run.py, a script rather than a package module, loaded by its path."""
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_floor_runs_with_the_apps_interpreter_flags(bench: ModuleType) -> None:
    assert bench.app_python_flags() == ["-O"]  # cdk.json: python -O app.py
    assert bench.app_python_flags("python3 -X importtime -O app.py --verbose") == ["-X", "importtime", "-O"]
    with pytest.raises(SystemExit, match="not `python"):
        bench.app_python_flags("node app.js")


def _assembly(directory: Path, roles: int) -> Path:
    """A cloud assembly of one stack holding ``roles`` IAM roles."""
    directory.mkdir()
    resources = {f"Role{i}": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}} for i in range(roles)}
    (directory / "S.template.json").write_text(json.dumps({"Resources": resources}))
    (directory / "manifest.json").write_text(json.dumps({"artifacts": {"S": {
        "type": "aws:cloudformation:stack", "environment": "aws://111111111111/eu-west-1", "properties": {"templateFile": "S.template.json"}}}}))
    return directory


def test_the_quotas_table_has_a_row_per_quota_and_a_column_per_model_count(bench: ModuleType, tmp_path: Path) -> None:
    small = bench.quota_figures(_assembly(tmp_path / "one", 3))
    large = bench.quota_figures(_assembly(tmp_path / "many", 450))  # 455 roles with the bootstrap's: 46% of 1,000
    # one figure above its budget (the share is made up: only the marking is checked)
    large = [{**f, "value": 900, "share": 0.9, "within_budget": False} if f["key"] == "cfn_resources" else f for f in large]
    lines = bench.quota_table([(1, small, True), (100, large, False)])
    header, _, *rows = lines
    assert header == "| Quota | AWS default | 1 model | 100 models (synth failed) | Where (100 models) |"
    assert len(rows) == len(small) == 14  # one per quota of mlops_constructs/quotas.py
    (roles,) = [row for row in rows if "IAM roles per account" in row]
    assert roles == ("| [IAM roles per account](https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html) | 1,000 "
                     "| 8 (1%) | 455 (46%) | `account 111111111111 (with 5 CDK bootstrap roles)` |")
    (resources,) = [row for row in rows if "resources per CloudFormation stack" in row]
    assert "| 3 (1%) | **900 (90%)** ⚠ |" in resources
    assert bench.quota_observation(large) == "over budget: resources per CloudFormation stack: 900 (90% of 500)"
    assert bench.quota_observation(small).startswith("all within budget; highest ")


def _case(bench: ModuleType, name: str, walls: list[float], models: int | None = None) -> Any:
    runs = [bench.Run(wall_s=wall, cpu_user_s=wall, cpu_sys_s=0.0, peak_rss_mib=1.0, tree_peak_rss_mib=1.0, returncode=0) for wall in walls]
    return bench.Case(id=name, label=name, kind="synth", argv=["cdk", "synth"], models=models, runs=runs)


def test_the_cost_per_model_is_the_medians_slope_also_stated_in_floors(bench: ModuleType) -> None:
    cases = [_case(bench, "floor", [2.0, 1.6, 1.9]), _case(bench, "default", [5.0]),
             *(_case(bench, f"models-{n}", [4.0 + 0.5 * n, 9.0 + 0.5 * n, 4.0 + 0.5 * n], models=n) for n in (1, 25, 50, 100))]
    analysis = bench.analyse(cases)
    assert analysis["per_model_wall"]["slope_s"] == pytest.approx(0.5)  # of the medians: the slow run left out
    assert analysis["per_model_wall"]["in_floors"] == pytest.approx(0.5 / 1.9)  # over the floor's median
    (marginal,) = [t for t in analysis["targets"] if t["target"] == "Marginal cost per model"]
    assert marginal["status"] == "PASS"  # judged on seconds, as the target says; the figure in floors is only reported
    (_, line) = bench.target_summary(analysis)
    assert line.startswith("- Marginal cost per additional model: **0.500 s wall**, 0.500 s CPU") and "In floors" in line and ": 0.263;" in line
