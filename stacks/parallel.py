"""Stages synthesized in processes of their own, for the platform's app on a machine with CPUs to spare.

A synthesis is one Python process driving one Node process (jsii's kernel), each waiting for the other: one CPU's
worth of work. With many models, ``app.py`` has other processes synthesize the dev and staging stages (each
``python app.py --stage=<stage>`` into a directory of its own, with the same context and compliance checks) while it
builds prod, the model release pipelines and the delivery pipeline itself. The delivery pipeline is then built on
the stages' assemblies, as CDK Pipelines reads them (``Stage.synth``), and the workers' files join the app's cloud
assembly: the same files as a synthesis in one process writes (``tests/test_parallel_synthesis.py``), each worker's
``tree.json``, ``validation-report.json`` and context lookups merged into the app's (:func:`merge_outputs`).

Context ``synth_workers``: ``auto`` (the default: 2 from :data:`PARALLEL_FROM_MODELS` models when the process may run on
2 CPUs or more, else 0), or ``0``, ``1`` (dev) or ``2`` (dev and staging). A model's release synthesis
(``-c release=<model>``) and a synthesis that asks for validation (``-c validate_templates=true``) always run in one
process: CloudFormation Guard and CDK's template validation read every template of the assembly, the stages'
included, and only the process that built a stage's constructs can apply their acknowledgements. The library's
``build_platform`` builds every stage in its own process unless given ``stage_processes``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Stage, cx_api
from constructs import Construct

from mlops_constructs.compliance import add_compliance_checks
from mlops_constructs.config import STAGES, ConfigError, PlatformConfig
from stacks.stage import PlatformStage, model_stage_ids

SYNTH_WORKERS = "synth_workers"
"""Context key of the platform's app: how many stages other processes synthesize (see the module's docstring)."""

PARALLEL_FROM_MODELS = 10
"""From this many models, ``synth_workers=auto`` synthesizes dev and staging in processes of their own. Below it, the
two processes' own start (Python, aws-cdk-lib's bindings, jsii's kernel: about an empty app's synthesis each) costs
more than they save (docs/performance.md)."""

WORKER_STAGES = ("dev", "staging")
"""The stages other processes synthesize, in this order: dev has the most stacks (each model's registry and
training), staging and prod the same; the app's own process keeps prod, the release pipelines and the delivery
pipeline."""

STAGE_ARGUMENT = "--stage="
"""How ``app.py`` is told, on its command line, that it synthesizes one stage for another process."""


def worker_stages(app: App, config: PlatformConfig, release: str | None, *, validate: bool = False) -> tuple[str, ...]:
    """The stages other processes should synthesize for ``app``: context ``synth_workers`` (see the module's
    docstring); none for a model's release (``release``) or when the synthesis asks for validation (``validate``)."""
    value = app.node.try_get_context(SYNTH_WORKERS)
    if value is None or value == "auto":
        count = len(WORKER_STAGES) if len(config.models) >= PARALLEL_FROM_MODELS and usable_cpus() >= 2 else 0
    elif str(value) in {str(n) for n in range(len(WORKER_STAGES) + 1)} and not isinstance(value, bool):
        count = int(value)
    else:
        raise ConfigError(f"context {SYNTH_WORKERS}", [
            f"must be auto or a number of stages from 0 to {len(WORKER_STAGES)} to synthesize in processes of their own (got {value!r})"
        ])
    return () if release is not None or validate else WORKER_STAGES[:count]


def usable_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity where the system tells it, else the machine's count. A
    container's CPU quota (cgroups, ``docker --cpus``) is not read."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class StageProcessError(Exception):
    """A stage's process failed. ``str(error)`` is what it wrote to its stderr (the app's own error lines, or a
    traceback), or, when it wrote nothing, its exit status."""

    def __init__(self, stage: str, status: int, stderr: str) -> None:
        self.stage, self.status = stage, status
        super().__init__(stderr.rstrip() or f"stage {stage}: its synthesis process ended with status {status} and no message")


class StageProcess:
    """One stage (construct id ``stage_id``) synthesized by another process into a directory of its own under
    ``outdir`` (removed by :meth:`close`). ``command``: the app's command line, to which ``--stage=<stage>`` is added."""

    def __init__(self, stage: str, stage_id: str, outdir: str | Path, command: Sequence[str],
                 environ: Mapping[str, str] | None = None) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage: {stage!r} is not one of {', '.join(STAGES)}")
        self.stage, self.stage_id = stage, stage_id
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        # in the app's output directory, so that its files move into place (the same file system)
        self.directory = Path(tempfile.mkdtemp(prefix=f".stage-{stage}-", dir=self.outdir))
        self._stderr = (self.directory / "stderr.log").open("w+b")
        environ = dict(os.environ if environ is None else environ)
        environ["CDK_OUTDIR"] = str(self.directory / "out")
        # The CLI's files for the app's timings and errors (cx-api's PERF_COUNTERS_FILE_ENV and ERRORFILE_ENV, not in
        # its Python bindings): the app's process writes them, with what its stage processes report.
        for name in ("CDK_PERF_COUNTERS_FILE", "CDK_ERROR_FILE"):
            environ.pop(name, None)
        try:
            self._process = subprocess.Popen([*command, f"{STAGE_ARGUMENT}{stage}"], env=environ, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=self._stderr)
        except OSError:
            self._stderr.close()
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._done = False

    @property
    def artifact_directory(self) -> str:
        """The directory of the stage's nested assembly in its process's output: ``assembly-<Stage>``."""
        return f"assembly-{self.stage_id}"

    def wait(self) -> str:
        """Wait for the process; once it has succeeded, move its stage's assembly and assets into the app's output
        directory, and return what it wrote to its stderr (warnings). Raises :class:`StageProcessError` if it
        failed."""
        if self._done:
            return ""
        status = self._process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace")
        if status != 0:
            raise StageProcessError(self.stage, status, stderr)
        out = self.directory / "out"
        target = self.outdir / self.artifact_directory
        if target.exists():  # this stage's assembly of an earlier synthesis, or the app's empty directories for it
            shutil.rmtree(target)
        (out / self.artifact_directory).rename(target)
        for asset in out.glob("asset.*"):
            if not (self.outdir / asset.name).exists():  # named by their content's hash: one already there is the same
                asset.rename(self.outdir / asset.name)
        self._done = True
        return stderr

    def read(self, name: str) -> dict[str, Any] | None:
        """A JSON file the process wrote at the root of its output (``tree.json``, ``validation-report.json``)."""
        path = self.directory / "out" / name
        return json.loads(path.read_text()) if path.exists() else None

    @staticmethod
    def remove_leftovers(outdir: str | Path) -> None:
        """Remove the directories of stage processes that an earlier synthesis into ``outdir`` left behind (it was
        killed before it could)."""
        for directory in Path(outdir).glob(".stage-*"):
            shutil.rmtree(directory, ignore_errors=True)

    def close(self) -> None:
        """Stop the process if it still runs, and remove its directory."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class _Synthesized(Stage):
    """A stage whose assembly is already in the app's output directory: ``synth`` reads it from there (once)."""

    _assembly: cx_api.CloudAssembly | None = None

    def synth(self, *, aspect_stabilization: bool | None = None, error_on_duplicate_synth: bool | None = None, force: bool | None = None,
              skip_validation: bool | None = None, validate_on_synthesis: bool | None = None) -> cx_api.CloudAssembly:
        if self._assembly is None:
            self._assembly = cx_api.CloudAssembly(self.outdir)
        return self._assembly


class SynthesizedStage(_Synthesized):
    """In the app's process, a stage another process synthesized (:class:`StageProcess`): the same construct id and
    environment as the :class:`~stacks.stage.PlatformStage` it stands for, and its ``model_stages``, whose assemblies
    ``synth`` returns from the app's output directory once the process's files are there (``build_platform`` waits
    for it first). It has no stacks of its own in this process: CDK Pipelines and the app's synthesis read it through
    ``synth``."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, stage: str, process: StageProcess) -> None:
        super().__init__(scope, id, env=Environment(account=config.accounts.for_stage(stage), region=config.region))
        self.stage = stage
        self.process = process
        self.model_stages: list[Stage] = [_Synthesized(self, id) for id in model_stage_ids(config, stage)]
        """As :attr:`PlatformStage.model_stages`: dev's stages of the models' registry and training stacks."""


def build_stage(app: App, config: PlatformConfig, stage: str, stage_id: str, model_package_arns: Mapping[str, str], *,
                validate: bool = True) -> PlatformStage:
    """In a stage's process: the stage, synthesized as the app's process would have synthesized it (CDK Pipelines
    synthesizes each stage it deploys, with ``validateOnSynthesis``, when the config has a delivery section), with
    the compliance checks on the app, as ``build_platform`` adds them (``validate``: CloudFormation Guard too)."""
    platform = PlatformStage(app, stage_id, config=config, stage=stage, model_package_arns=model_package_arns)
    if config.delivery is not None:
        platform.synth(validate_on_synthesis=True)
    add_compliance_checks(app, guard=validate)
    return platform


def merge_outputs(outdir: str | Path, processes: Sequence[StageProcess]) -> None:
    """After the app's synthesis: each stage's construct tree into the app's ``tree.json`` (in place of the stage
    that stood for it; the other files of a tree CDK split beside it, :func:`_refer_to_forest`), each process's
    ``validation-report.json`` into the app's (:func:`merge_reports`), and the context lookups each stage asked for
    into the app's ``manifest.json``, where the CDK CLI reads them (CDK reports a nested assembly's lookups to its
    root's manifest, which is the process's own)."""
    outdir = Path(outdir)
    missing = [entry for process in processes for entry in (process.read("manifest.json") or {}).get("missing", [])]
    if missing:
        manifest_path = outdir / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        known = {json.dumps(entry, sort_keys=True) for entry in manifest.get("missing", [])}
        for entry in missing:
            key = json.dumps(entry, sort_keys=True)
            if key not in known:
                manifest.setdefault("missing", []).append(entry)
                known.add(key)
        manifest_path.write_text(json.dumps(manifest, indent=2))
    tree_path = outdir / "tree.json"
    if tree_path.exists():
        tree = json.loads(tree_path.read_text())
        for process in processes:
            theirs = process.read("tree.json")
            if theirs is not None:
                stage = theirs["tree"]["children"][process.stage_id]
                prefix = f"{process.stage_id}-"
                for stale in outdir.glob(f"{prefix}trees-*.json"):  # of an earlier synthesis
                    stale.unlink()
                forests = sorted((process.directory / "out").glob("trees-*.json"))
                if forests:  # a tree too large for one file: its other files join the app's under names of their own
                    stage = _refer_to_forest(stage, prefix)
                    for path in forests:
                        forest = json.loads(path.read_text())
                        forest["forest"] = {key: _refer_to_forest(root, prefix) for key, root in forest["forest"].items()}
                        (outdir / f"{prefix}{path.name}").write_text(json.dumps(forest, separators=(",", ":")))
                tree["tree"]["children"][process.stage_id] = stage
        tree_path.write_text(json.dumps(tree, separators=(",", ":")))  # as CDK writes it
    reports = [report for report in (process.read("validation-report.json") for process in processes) if report is not None]
    if reports:
        report_path = outdir / "validation-report.json"
        ours = json.loads(report_path.read_text()) if report_path.exists() else None
        report_path.write_text(json.dumps(merge_reports(ours, reports), indent=2))


def _refer_to_forest(node: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``node`` of a construct tree with each reference to one of its process's forest files renamed, as
    :func:`merge_outputs` moves the file. CDK writes a tree of more than ``@aws-cdk/core.TreeMetadata:maxNodes`` nodes
    (500,000 by default) as ``tree.json`` and ``trees-<n>.json`` files, with ``{"id", "path", "fileName", "treeId"}``
    in place of each subtree it moved; the app's process writes ``trees-<n>.json`` files of its own."""
    if "fileName" in node:
        return {**node, "fileName": prefix + node["fileName"]}
    if "children" not in node:
        return node
    return {**node, "children": {key: _refer_to_forest(child, prefix) for key, child in node["children"].items()}}


def merge_reports(ours: dict[str, Any] | None, theirs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One validation report of several: each plugin's violations and acknowledged violations together, its
    conclusion ``failure`` if any report's is."""
    merged: dict[str, Any] = json.loads(json.dumps(ours if ours is not None else {**theirs[0], "pluginReports": []}))
    plugins = {plugin["pluginName"]: plugin for plugin in merged.setdefault("pluginReports", [])}
    for report in theirs:
        for plugin in report.get("pluginReports", []):
            mine = plugins.get(plugin["pluginName"])
            if mine is None:
                mine = plugins[plugin["pluginName"]] = json.loads(json.dumps(plugin))
                merged["pluginReports"].append(mine)
                continue
            for key, value in plugin.items():
                if isinstance(value, list):
                    mine[key] = [*mine.get(key, []), *value]
            if plugin.get("conclusion") == "failure":
                mine["conclusion"] = "failure"
    return merged


__all__ = [
    "PARALLEL_FROM_MODELS", "SYNTH_WORKERS", "StageProcess", "StageProcessError", "SynthesizedStage", "build_stage",
    "merge_outputs", "merge_reports", "worker_stages",
]
