"""The app as users run it: bad configuration fails with one clean line per problem and a non-zero
exit, never a Python traceback or a jsii stack trace; `cdk synth -c config=...` selects the file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, default_config_data


def run_app(config: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    """Run app.py the way the CDK CLI does: context in CDK_CONTEXT_JSON, output dir in CDK_OUTDIR."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(config)}), "CDK_OUTDIR": str(outdir)}
    for credential in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(credential, None)
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_invalid_config_fails_with_one_line_per_problem(tmp_path: Path) -> None:
    data = default_config_data()
    data["accounts"]["dev"] = "2222"
    data["availability_zones"][1] = "us-east-1b"
    data["models"].append({"name": "churn"})
    data["stages"]["prod"]["endpoint"]["instance_type"] = "ml.m5.gigantic"
    data["regin"] = "eu-west-1"
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(data))

    result = run_app(path, tmp_path / "out")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "availability_zones[1]", "accounts.dev", "stages.prod.endpoint.instance_type", "models[2].name", "regin",
    ]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "Traceback" not in result.stderr and "jsii" not in result.stderr.lower()
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = run_app(tmp_path / "nope.yaml", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: cannot read the configuration file: No such file or directory"


def test_cdk_cli_selects_the_config_and_reports_errors_cleanly(tmp_path: Path) -> None:
    cdk = shutil.which("cdk") or str(REPO / "node_modules" / ".bin" / "cdk")
    if not Path(cdk).exists():
        pytest.fail("the project's CDK CLI is not installed: run `make setup`")
    data = default_config_data()
    data["stages"]["staging"]["endpoint"]["data_capture_percent"] = 101
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    # cdk.json runs `python -O app.py`: the python of this test session must be the one found first.
    path_with_venv = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path_with_venv, "CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    result = subprocess.run(
        [cdk, "synth", "--quiet", "--no-notices", "-o", str(tmp_path / "out"), "-c", f"config={path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    # the app's one line, whole, among the CLI's own
    assert [line for line in result.stderr.splitlines() if line.startswith(str(path))] == [
        f"{path}: stages.staging.endpoint.data_capture_percent: must be less than or equal to 100 (got 101)"
    ]
    assert "Traceback" not in result.stderr
