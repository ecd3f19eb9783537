"""Stages synthesized in processes of their own (stacks/parallel.py): the same cloud assembly as one process writes,
a failing stage process reported with what it printed, its files moved into place, and when the app uses them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import App

from mlops_constructs.config import ConfigError
from stacks import parallel
from stacks.parallel import PARALLEL_FROM_MODELS, SYNTH_WORKERS, StageProcess, StageProcessError, merge_reports, worker_stages
from tests.conftest import REPO


def app_environment(outdir: Path, workers: int, **context: str) -> dict[str, str]:
    """The environment `cdk synth` runs app.py in: cdk.json's context and ``context`` on the default configuration,
    ``workers`` stage processes, the cloud assembly in ``outdir``."""
    context = {**json.loads((REPO / "cdk.json").read_text())["context"], "config": "config/default.yaml", SYNTH_WORKERS: workers, **context}
    return {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir)}


def synthesize(outdir: Path, workers: int) -> subprocess.CompletedProcess[str]:
    """app.py as `cdk synth` runs it (`python -O`), on the default configuration."""
    # a second version of churn: every stage has a release stage of each model (lead-scoring's is batch only)
    # and a construct tree split into files of 200 nodes (500,000 by default): each process writes files of its own
    env = app_environment(outdir, workers, **{"model_package_arn.churn": "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-churn/2",
                                              MAX_TREE_NODES: 200})
    return subprocess.run([sys.executable, "-O", "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


MAX_TREE_NODES = "@aws-cdk/core.TreeMetadata:maxNodes"
"""Context key of aws-cdk-lib: the nodes of the construct tree CDK writes in one file (``tree.json``, then
``trees-<n>.json`` files for the subtrees it moves out)."""


FOREST_FILE = re.compile(r"(?:[A-Z][a-z]+-)?trees-[0-9]+\.json")
"""A file of the construct tree besides ``tree.json``: the app's process's, or a stage process's (``Dev-trees-1.json``)."""


def tree(outdir: Path) -> dict[str, Any]:
    """The construct tree of a cloud assembly, each subtree CDK wrote to another file read back in its place."""
    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        if "fileName" in node:
            return resolve(json.loads((outdir / node["fileName"]).read_text())["forest"][node["treeId"]])
        return {**node, "children": {id: resolve(child) for id, child in node["children"].items()}} if "children" in node else node
    whole = json.loads((outdir / "tree.json").read_text())
    return {**whole, "tree": resolve(whole["tree"])}


def files(outdir: Path) -> dict[str, Any]:
    """Every file of a cloud assembly by its path: JSON parsed, the validation report's violations as sorted lists
    (their order follows the order the packs met the constructs in), the construct tree whole (:func:`tree`, its
    other files left out: how a tree is split depends on the process that wrote it), anything else as bytes."""
    found: dict[str, Any] = {"tree.json": tree(outdir)}
    for path in sorted(p for p in outdir.rglob("*") if p.is_file()):
        name = path.relative_to(outdir).as_posix()
        if name == "tree.json" or FOREST_FILE.fullmatch(name):
            continue
        if path.name == "validation-report.json":
            report = json.loads(path.read_text())
            for plugin in report["pluginReports"]:
                for key, value in plugin.items():
                    if isinstance(value, list):
                        plugin[key] = sorted(json.dumps(item, sort_keys=True) for item in value)
            found[name] = report
        elif path.suffix == ".json":
            found[name] = json.loads(path.read_text())
        else:
            found[name] = path.read_bytes()
    return found


def test_stages_synthesized_in_processes_of_their_own_make_the_same_cloud_assembly(tmp_path: Path) -> None:
    alone, together = synthesize(tmp_path / "alone", 0), synthesize(tmp_path / "together", 2)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert together.returncode == 0, together.stderr[-3000:]
    assert together.stderr == alone.stderr  # the same messages (models without an approved version), once
    one, three = files(tmp_path / "alone"), files(tmp_path / "together")
    assert sorted(three) == sorted(one)  # no file more or less (the processes' own directories are gone)
    split = {process: sorted(p.name for p in (tmp_path / process).iterdir() if FOREST_FILE.fullmatch(p.name)) for process in ("alone", "together")}
    assert split["alone"] and any(name.startswith("Dev-") for name in split["together"]), split  # each process split its tree
    for nested in ("assembly-Dev/assembly-Dev-Models-1/", "assembly-Dev/assembly-Dev-Release-churn/", "assembly-Staging/assembly-Staging-Release-churn/"):
        assert any(name.startswith(nested) for name in three), nested
    assert "model-package/mlops-demo-churn/2" in json.dumps(three["assembly-Staging/assembly-Staging-Release-churn/StagingReleasechurnEndpoint64E5D6A7.template.json"])
    for name in one:
        assert three[name] == one[name], name
    # the stages' constructs are in the app's tree and their checks in its report, as in one process
    assert {"Network", "Storage", "Models-1"} <= set(three["tree.json"]["tree"]["children"]["Dev"]["children"])
    suppressed = {p["pluginName"]: p["suppressedViolations"] for p in three["validation-report.json"]["pluginReports"]}
    assert any('"constructPath": "Staging/' in v for v in suppressed["AwsSolutions"])


def stage_process(tmp_path: Path, script: str, stage: str = "dev") -> StageProcess:
    """A stage process that runs ``script`` (with CDK_OUTDIR set as for the app) instead of the app."""
    return StageProcess(stage, stage.capitalize(), tmp_path / "cdk.out", [sys.executable, "-c", script])


def test_a_failing_stage_process_is_reported_with_what_it_printed(tmp_path: Path) -> None:
    process = stage_process(tmp_path, "import sys; sys.stderr.write('config.yaml: models[1].name: ...\\n'); sys.exit(1)")
    with pytest.raises(StageProcessError) as failed:
        process.wait()
    assert str(failed.value) == "config.yaml: models[1].name: ..."  # the app prints it as the process did
    assert (failed.value.stage, failed.value.status) == ("dev", 1)
    silent = stage_process(tmp_path, "import os; os._exit(9)", "staging")
    with pytest.raises(StageProcessError, match=r"^stage staging: its synthesis process ended with status 9 and no message$"):
        silent.wait()
    for each in (process, silent):
        each.close()
        assert not each.directory.exists()


def test_a_stage_process_moves_its_assembly_and_assets_into_the_apps_output(tmp_path: Path) -> None:
    outdir = tmp_path / "cdk.out"
    (outdir / "assembly-Dev" / "assembly-Dev-Models-1").mkdir(parents=True)  # the app's empty directories for the stage
    (outdir / "assembly-Dev" / "stale.json").write_text("{}")  # and a file of an earlier synthesis
    (outdir / "asset.same").mkdir()
    (outdir / "asset.same" / "index.py").write_text("the app's")
    script = """
import os, pathlib, sys
out = pathlib.Path(os.environ["CDK_OUTDIR"])
assert sys.argv[1:] == ["--stage=dev"], sys.argv
(out / "assembly-Dev" / "assembly-Dev-Models-1").mkdir(parents=True)
(out / "assembly-Dev" / "manifest.json").write_text('{"from": "process"}')
(out / "assembly-Dev" / "assembly-Dev-Models-1" / "manifest.json").write_text('{}')
for asset in ("asset.new", "asset.same"):
    (out / asset).mkdir()
    (out / asset / "index.py").write_text("the process's")
(out / "asset.file.zip").write_bytes(b"zip")
(out / "manifest.json").write_text('{"root": "process"}')
sys.stderr.write("a warning\\n")
"""
    process = stage_process(tmp_path, script)
    assert process.wait() == "a warning\n"
    assert process.wait() == ""  # once
    assert json.loads((outdir / "assembly-Dev" / "manifest.json").read_text()) == {"from": "process"}
    assert not (outdir / "assembly-Dev" / "stale.json").exists()
    assert (outdir / "assembly-Dev" / "assembly-Dev-Models-1" / "manifest.json").exists()
    assert (outdir / "asset.new" / "index.py").read_text() == "the process's"
    assert (outdir / "asset.same" / "index.py").read_text() == "the app's"  # named by content: the one there stays
    assert (outdir / "asset.file.zip").read_bytes() == b"zip"
    assert not (outdir / "manifest.json").exists()  # its root files are read from its directory, not moved
    assert process.read("manifest.json") == {"root": "process"}
    process.close()
    assert sorted(p.name for p in outdir.iterdir()) == ["assembly-Dev", "asset.file.zip", "asset.new", "asset.same"]


def app_with(value: object | None = None) -> App:
    return App(context={} if value is None else {SYNTH_WORKERS: value})


def models(count: int) -> Any:
    return SimpleNamespace(models=[object()] * count)


def test_which_stages_other_processes_synthesize(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    many, few = models(PARALLEL_FROM_MODELS), models(PARALLEL_FROM_MODELS - 1)
    assert worker_stages(app_with(), many, None) == ("dev", "staging")
    assert worker_stages(app_with("auto"), many, None) == ("dev", "staging")
    assert worker_stages(app_with(), few, None) == ()
    assert worker_stages(app_with(), many, "churn") == ()  # a model's release synthesis: one process
    assert worker_stages(app_with(2), few, None) == ("dev", "staging")  # asked for
    assert worker_stages(app_with("1"), many, None) == ("dev",)  # -c synth_workers=1 arrives as a string
    assert worker_stages(app_with(0), many, None) == ()
    # a synthesis that asks for validation: Guard and CDK's template validation need every stage's constructs at hand
    assert worker_stages(app_with(2), many, None, validate=True) == ()
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 1)
    assert worker_stages(app_with(), many, None) == ()


@pytest.mark.parametrize("value", [3, "two", True, -1, 1.5])
def test_a_bad_number_of_stage_processes_is_refused_clearly(value: object) -> None:
    with pytest.raises(ConfigError) as refused:
        worker_stages(app_with(value), models(1), None)
    assert str(refused.value) == (f"context synth_workers: must be auto or a number of stages from 0 to 2 to synthesize in processes of "
                                  f"their own (got {value!r})")


def test_the_app_refuses_an_argument_it_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    import app

    assert app.main(["--stage=qa"]) == 2
    assert capsys.readouterr().err == "app.py: unknown argument '--stage=qa': the only one is --stage=<dev|staging|prod>\n"


def test_reports_are_merged_per_pack_and_a_failure_anywhere_fails() -> None:
    ours = {"version": "1", "pluginReports": [
        {"pluginName": "AwsSolutions", "conclusion": "success", "violations": [], "suppressedViolations": [{"ruleName": "A"}]},
    ]}
    theirs = [
        {"version": "1", "pluginReports": [
            {"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [{"ruleName": "B"}], "suppressedViolations": []},
            {"pluginName": "HIPAA.Security", "conclusion": "success", "violations": [], "suppressedViolations": [{"ruleName": "C"}]},
        ]},
        {"version": "1", "pluginReports": [
            {"pluginName": "AwsSolutions", "conclusion": "success", "violations": [], "suppressedViolations": [{"ruleName": "D"}]},
        ]},
    ]
    merged = merge_reports(ours, theirs)
    assert merged["pluginReports"] == [
        {"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [{"ruleName": "B"}],
         "suppressedViolations": [{"ruleName": "A"}, {"ruleName": "D"}]},
        {"pluginName": "HIPAA.Security", "conclusion": "success", "violations": [], "suppressedViolations": [{"ruleName": "C"}]},
    ]
    assert ours["pluginReports"][0]["conclusion"] == "success"  # the inputs are left as they were
    assert merge_reports(None, theirs[1:])["pluginReports"] == theirs[1]["pluginReports"]


def test_a_stage_process_still_running_is_stopped_and_its_directory_removed(tmp_path: Path) -> None:
    process = stage_process(tmp_path, "import time; time.sleep(60)")
    process.close()
    assert process._process.returncode == -signal.SIGTERM  # asked to stop, so that a stage's app ends as it does on a signal
    assert not process.directory.exists()
    leftover = tmp_path / "cdk.out" / ".stage-dev-left"  # of a synthesis killed before it could close its processes
    (leftover / "out").mkdir(parents=True)
    StageProcess.remove_leftovers(tmp_path / "cdk.out")
    assert not leftover.exists()


def test_the_stages_trees_reports_and_lookups_join_the_apps(tmp_path: Path) -> None:
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    lookup = {"key": "availability-zones:account=222222222222:region=eu-west-1", "provider": "availability-zones", "props": {}}
    (outdir / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": {}}))
    (outdir / "tree.json").write_text(json.dumps({"version": "tree-0.1", "tree": {"id": "App", "children": {
        "Dev": {"id": "Dev", "children": {}}, "Prod": {"id": "Prod", "children": {"Network": {}}}}}}))
    (outdir / "validation-report.json").write_text(json.dumps({"pluginReports": [
        {"pluginName": "AwsSolutions", "conclusion": "success", "violations": [], "suppressedViolations": []}]}))
    script = f"""
import json, os, pathlib
out = pathlib.Path(os.environ["CDK_OUTDIR"])
(out / "assembly-Dev").mkdir(parents=True)
(out / "manifest.json").write_text(json.dumps({{"version": "1", "artifacts": {{}}, "missing": [{json.dumps(lookup)}]}}))
(out / "tree.json").write_text(json.dumps({{"version": "tree-0.1", "tree": {{"id": "App", "children": {{
    "Dev": {{"id": "Dev", "children": {{"Network": {{"id": "Network"}}}}}}}}}}}}))
(out / "validation-report.json").write_text(json.dumps({{"pluginReports": [
    {{"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [{{"ruleName": "AwsSolutions-S1"}}], "suppressedViolations": []}}]}}))
"""
    process = stage_process(tmp_path, script)
    process.wait()
    parallel.merge_outputs(outdir, [process])
    process.close()
    assert json.loads((outdir / "manifest.json").read_text())["missing"] == [lookup]  # for the CLI to look up, then run the app again
    children = json.loads((outdir / "tree.json").read_text())["tree"]["children"]
    assert children == {"Dev": {"id": "Dev", "children": {"Network": {"id": "Network"}}}, "Prod": {"id": "Prod", "children": {"Network": {}}}}
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"][0]["conclusion"] == "failure"  # what the app's gate (open_findings) reads
    assert report["pluginReports"][0]["violations"] == [{"ruleName": "AwsSolutions-S1"}]


def test_a_stages_tree_split_into_files_joins_the_apps_under_names_of_its_own(tmp_path: Path) -> None:
    # As aws-cdk-lib writes a tree of more than @aws-cdk/core.TreeMetadata:maxNodes nodes: the stage's node itself
    # moved to a file of the process's forest, a subtree of it to another, and the app's own forest beside.
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    ours = {"version": "forest-0.1", "forest": {"t0": {"id": "Prod", "path": "Prod", "children": {}}}}
    (outdir / "trees-1.json").write_text(json.dumps(ours))
    (outdir / "Dev-trees-9.json").write_text("{}")  # of an earlier synthesis
    (outdir / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": {}}))
    (outdir / "tree.json").write_text(json.dumps({"version": "tree-0.1", "tree": {"id": "App", "children": {
        "Dev": {"id": "Dev", "children": {}}, "Prod": {"id": "Prod", "path": "Prod", "fileName": "trees-1.json", "treeId": "t0"}}}}))
    script = """
import json, os, pathlib
out = pathlib.Path(os.environ["CDK_OUTDIR"])
(out / "assembly-Dev").mkdir(parents=True)
(out / "tree.json").write_text(json.dumps({"version": "tree-0.1", "tree": {"id": "App", "children": {
    "Dev": {"id": "Dev", "path": "Dev", "fileName": "trees-1.json", "treeId": "t0"}}}}))
(out / "trees-1.json").write_text(json.dumps({"version": "forest-0.1", "forest": {"t0": {"id": "Dev", "path": "Dev", "children": {
    "Network": {"id": "Network", "path": "Dev/Network", "fileName": "trees-2.json", "treeId": "t0"}}}}}))
(out / "trees-2.json").write_text(json.dumps({"version": "forest-0.1", "forest": {"t0": {"id": "Network", "path": "Dev/Network",
    "attributes": {"fileName": "a property, not a reference"}}}}))
"""
    process = stage_process(tmp_path, script)
    process.wait()
    parallel.merge_outputs(outdir, [process])
    process.close()
    assert sorted(p.name for p in outdir.glob("*trees-*.json")) == ["Dev-trees-1.json", "Dev-trees-2.json", "trees-1.json"]
    assert json.loads((outdir / "trees-1.json").read_text()) == ours  # the app's own, untouched
    assert tree(outdir)["tree"]["children"] == {
        "Dev": {"id": "Dev", "path": "Dev", "children": {"Network": {"id": "Network", "path": "Dev/Network",
                                                                     "attributes": {"fileName": "a property, not a reference"}}}},
        "Prod": {"id": "Prod", "path": "Prod", "children": {}},
    }


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the stage processes through /proc")
def test_the_app_stopped_by_a_signal_stops_its_stage_processes_and_removes_their_directories(tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    app = subprocess.Popen([sys.executable, "-O", "app.py"], cwd=REPO, env=app_environment(outdir, 2), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(outdir.glob(".stage-*/stderr.log")) and time.monotonic() < deadline and app.poll() is None:
        time.sleep(0.1)
    assert len(list(outdir.glob(".stage-*"))) == 2, "the stage processes did not start"

    def stage_processes() -> list[int]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and f"CDK_OUTDIR={outdir}/.stage-".encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
        return found

    assert stage_processes()
    app.send_signal(signal.SIGTERM)
    assert app.wait(timeout=60) == 128 + signal.SIGTERM, app.stderr.read() if app.stderr else ""
    assert list(outdir.glob(".stage-*")) == []
    # each stage process's own jsii kernel ends once its process has: wait for it a little
    deadline = time.monotonic() + 20
    while stage_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stage_processes() == []
