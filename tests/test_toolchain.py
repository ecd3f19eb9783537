"""The toolchain the setup provides: a supported Node for jsii and the CLI, and the pinned CDK CLI."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import REPO


def test_jsii_runs_on_a_supported_node() -> None:
    node = shutil.which("node")
    assert node, "no node on PATH: run the suite through `make test`"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert int(version.lstrip("v").split(".")[0]) >= 22, f"{node} is {version}; the setup must provide Node 22+"


def test_the_cdk_cli_is_the_pinned_2_1xxx_build() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert pinned.startswith("2.1"), "the npm `latest` tag (3.0.0) cannot read current cloud assemblies"
    installed = json.loads((REPO / "node_modules" / "aws-cdk" / "package.json").read_text())["version"]
    assert installed == pinned
