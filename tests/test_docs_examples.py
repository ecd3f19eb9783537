"""Every Python example in the README and docs/ that builds an app synthesizes: no open finding in any
compliance pack, and no context lookup. Documentation that does not run is a bug."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops_constructs.compliance import open_findings, read_report
from tests.conftest import CDK_CONTEXT, REPO

EXAMPLE = re.compile(r"```python\n(.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for index, code in enumerate(EXAMPLE.findall(path.read_text(encoding="utf-8"))):
            if "cdk.App()" in code and "app.synth()" in code:
                found.append((f"{path.name}#{index}", code))
    return found


EXAMPLES = examples()


def test_the_docs_have_runnable_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_synthesizes_clean_and_hermetic(name: str, code: str, tmp_path: Path) -> None:
    code = code.replace("app = cdk.App()", f"app = cdk.App(outdir={str(tmp_path)!r}, context=__context__)")
    exec(compile(code, name, "exec"), {"__name__": f"docs_example_{name}", "__context__": CDK_CONTEXT})  # noqa: S102 - our own docs
    assert open_findings(read_report(tmp_path)) == []
    missing = [m for manifest in tmp_path.glob("**/manifest.json") for m in json.loads(manifest.read_text()).get("missing", [])]
    assert missing == [], f"{name} looks up context: {missing}"
