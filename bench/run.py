#!/usr/bin/env python3
"""Benchmark synthesis and the test suite: wall time, CPU time and peak memory, medians of several runs.

    make bench                                   # everything, 3 runs after a warm-up each
    .venv/bin/python bench/run.py --quick --no-write
    .venv/bin/python bench/run.py --only floor,default --runs 5

Cases, in order (``--only`` selects some):

floor    an empty CDK app (bench/empty_app.py) synthesized by the same CDK CLI, Python and Node, with the
         platform app's App settings (app_settings.new_bare_app) and interpreter flags (cdk.json's
         ``python -O``): the cost of the CLI, the interpreter and jsii's start-up that every synthesis pays.
default  the platform's app (app.py) on config/default.yaml: every stage, all four cdk-nag packs (a plain
         ``cdk synth``: no CloudFormation Guard or CDK template validation, which ask for validate_templates).
models   the platform's app on generated configs of 1, 25, 50 and 100 models (``--models``), with the
         template counts and sizes and the AWS quota figures of each assembly (mlops_constructs/quotas.py);
         the marginal cost per model is the least-squares slope.
test     ``make test``, the whole suite, on at most 2 CPUs (``--test-cpus``). The slowest case.

Every synthesis runs ``cdk synth --quiet --no-notices -c config=<file> -o <temporary dir>`` through the
pinned CLI in node_modules, in the Makefile's environment (see ``tool_env``). Results go to
bench/results/<UTC timestamp>.json and bench/results/latest.json, and the generated part of
docs/performance.md (between its ``bench:begin`` and ``bench:end`` markers) is rewritten; the rest of that
file, its "Before and after" section in particular, is kept. ``--no-write`` writes nothing.

Standard library only, plus PyYAML (in .venv) to read config/default.yaml, and mlops_constructs/quotas.py
(standard library only, loaded by its path). Linux only (/proc, wait4).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import datetime as dt
import functools
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"
NODE_RUNTIME_BIN = ROOT / "tools" / "node" / "node_modules" / ".bin"
DEFAULT_CONFIG = ROOT / "config" / "default.yaml"
CDK_JSON = ROOT / "cdk.json"
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
HISTORY_HEADING = "## Before and after"

# The targets. They are reported, never asserted: a FAIL does not change the exit status.
MAX_FULL_OVER_FLOOR = 2.5
MAX_SECONDS_PER_MODEL = 0.5
TEMPLATE_TARGET_MODELS = 50
QUOTA_TARGET_MODELS = 100  # and every quota within its budget, mlops_constructs.quotas.BUDGET of the AWS default
MAX_TEMPLATE_RESOURCES = 400
MAX_TEMPLATE_BYTES = 800 * 1024  # 800 KiB; CloudFormation's own limits are 500 resources and 1 MiB
MAX_TEST_SECONDS = 120.0
TEST_CPUS = 2

ALL_CASES = ("floor", "default", "models", "test")
DEFAULT_MODELS = (1, 25, 50, 100)
QUICK_MODELS = (1, 5)
TREE_SAMPLE_SECONDS = 0.1
TIMING_ENV = ("PYTHONDONTWRITEBYTECODE", "PYTHONOPTIMIZE", "PYTHONPYCACHEPREFIX", "NODE_OPTIONS", "JSII_RUNTIME",
              "JSII_DEBUG", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "CDK_DEBUG")
STRAGGLER_WAIT_SECONDS = 10.0


# --------------------------------------------------------------------------------------------------
# Environment: the Makefile's, so that a benchmark measures what `make synth` and `make test` run.
# --------------------------------------------------------------------------------------------------


def _node_major(env: dict[str, str]) -> int | None:
    node = shutil.which("node", path=env.get("PATH"))
    if node is None:
        return None
    try:
        out = subprocess.run([node, "-p", "process.versions.node"], env=env, capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip().split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def tool_env() -> dict[str, str]:
    """The Makefile's environment: Node 22+ (tools/node when the system Node is older), then .venv/bin and
    node_modules/.bin first on PATH, and a CLI that never calls home."""
    env = dict(os.environ)
    # A nested `make test` should behave like a top-level one, whatever flags `make bench` got.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(name, None)
    path = env.get("PATH", os.defpath)
    major = _node_major(env)
    if major is None or major < 22:
        if not (NODE_RUNTIME_BIN / "node").exists():
            raise SystemExit(f"bench: Node {major or '(none)'} is older than 22 and {NODE_RUNTIME_BIN}/node is missing: run `make setup`")
        path = f"{NODE_RUNTIME_BIN}{os.pathsep}{path}"
    env["PATH"] = os.pathsep.join([str(ROOT / ".venv" / "bin"), str(ROOT / "node_modules" / ".bin"), path])
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["CHECKOV"] = str(ROOT / ".venv-checkov" / "bin" / "checkov")
    env.pop("CDK_OUTDIR", None)  # `-o` decides where each synthesis goes
    return env


def check_setup() -> None:
    missing = [str(p.relative_to(ROOT)) for p in (VENV_PYTHON, CDK_CLI) if not p.exists()]
    if missing:
        raise SystemExit(f"bench: {', '.join(missing)} missing: run `make setup` (or `make bench`, which sets up first)")


# --------------------------------------------------------------------------------------------------
# Measuring one command
# --------------------------------------------------------------------------------------------------
#
# CPU time and peak RSS come from the kernel's accounting of the measured process, read with wait4():
#
# * wait4() returns the rusage of the child *including every descendant it waited for* (Linux
#   accumulates a reaped process's times and its max RSS into its parent). The CDK CLI (Node) waits for
#   the app (Python), and the app waits for its jsii runtime (Node), so all three are covered; so are
#   pytest's subprocesses under `make test`.
# * So that a descendant that is *not* waited for (an orphan) is not lost, this process makes itself a
#   "child subreaper" (prctl PR_SET_CHILD_SUBREAPER): orphans are re-parented to it rather than to init,
#   and are reaped after the command, their CPU time added and their max RSS considered.
# * ru_maxrss is the peak resident set of the *largest single process* in the tree, not of the tree as
#   a whole (the CLI, the app and jsii's Node run at the same time). The tree's total is therefore also
#   sampled from /proc every TREE_SAMPLE_SECONDS (summed RSS of every live descendant; shared pages are
#   counted once per process, and a spike shorter than the interval can be missed).
# * Wall time is time.perf_counter() from spawning the command to its exit.


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


SUBREAPER = False  # set in main()


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident pages) of every process visible in /proc."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ..., rss is 22nd
        try:
            table[int(entry.name)] = (int(fields[1]), int(fields[21]))
        except (IndexError, ValueError):
            continue
    return table


def _tree_rss_bytes(root: int, page_size: int) -> int:
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, list(children.get(root, ()))
    while stack:
        pid = stack.pop()
        total += table[pid][1] * page_size
        stack.extend(children.get(pid, ()))
    return total


class TreeSampler:
    """Peak summed RSS of this process's descendants (not of this process), sampled in a thread."""

    def __init__(self, interval: float = TREE_SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page_size = os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        me = os.getpid()
        while True:
            with contextlib.suppress(OSError):
                self.peak_bytes = max(self.peak_bytes, _tree_rss_bytes(me, self._page_size))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mib: float
    """Largest single process of the command's tree (ru_maxrss)."""
    tree_peak_rss_mib: float
    """Summed RSS of the whole tree, sampled."""
    returncode: int
    stragglers: int = 0
    """Orphaned descendants reaped after the command (their CPU is included)."""
    templates: dict[str, Any] | None = None
    quotas: list[dict[str, Any]] | None = None
    """The AWS quota figures of the assembly (``quota_figures``): model cases only."""
    summary: str | None = None
    error: str | None = None
    load_before: float | None = None
    """1-minute load average just before the run: other work on the machine inflates wall time."""

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


def measure(argv: Sequence[str], env: dict[str, str], log: Path, *, cpus: set[int] | None = None) -> Run:
    """Run ``argv`` in ROOT with stdout and stderr to ``log``; wall, CPU and memory of it and its descendants."""
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    with open(log, "wb") as out, TreeSampler() as sampler:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=preexec)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # the Popen object must not wait again
        user, sys_, maxrss_kib, stragglers = usage.ru_utime, usage.ru_stime, usage.ru_maxrss, 0
        if SUBREAPER:
            for extra in _reap_stragglers():
                user, sys_ = user + extra.ru_utime, sys_ + extra.ru_stime
                maxrss_kib = max(maxrss_kib, extra.ru_maxrss)
                stragglers += 1
    return Run(
        wall_s=wall,
        cpu_user_s=user,
        cpu_sys_s=sys_,
        peak_rss_mib=maxrss_kib / 1024,  # Linux reports ru_maxrss in KiB
        tree_peak_rss_mib=sampler.peak_bytes / 2**20,
        returncode=proc.returncode,
        stragglers=stragglers,
    )


def _reap_stragglers() -> Iterator[os.struct_rusage]:
    """Reap orphaned descendants re-parented to this subreaper, waiting a little for live ones."""
    deadline = time.monotonic() + STRAGGLER_WAIT_SECONDS
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            yield usage
        elif time.monotonic() > deadline:
            print(f"bench: warning: descendants still running {STRAGGLER_WAIT_SECONDS:.0f} s after the command; "
                  "not counted", file=sys.stderr)
            return
        else:
            time.sleep(0.05)


# --------------------------------------------------------------------------------------------------
# Configurations and cloud assemblies
# --------------------------------------------------------------------------------------------------


def model_config(n: int, directory: Path) -> Path:
    """config/default.yaml with its first model replicated into ``n`` models, m01..mNN."""
    import yaml  # PyYAML, from .venv: the only dependency outside the standard library

    base = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    template = base["models"][0]
    width = max(2, len(str(n)))
    models = []
    for i in range(1, n + 1):
        model = copy.deepcopy(template)
        name = f"m{i:0{width}d}"  # a lowercase slug of at most 24 characters (config.ModelName)
        model["name"] = name
        # The config requires a version of this model's own group in the dev account, or no ARN at all.
        model["model_package_arn"] = (
            f"arn:aws:sagemaker:{base['region']}:{base['accounts']['dev']}:model-package/{base['project']}-{name}/1"
        )
        # Each model's data and baseline under its own prefix, as separate models would have.
        if "data_prefix" in model:
            model["data_prefix"] = f"{name}/raw/"
        if isinstance(model.get("monitoring"), dict) and "baseline_prefix" in model["monitoring"]:
            model["monitoring"]["baseline_prefix"] = f"{name}/baseline/"
        models.append(model)
    base["models"] = models
    path = directory / f"models-{n}.yaml"
    path.write_text(f"# Generated by bench/run.py: config/default.yaml's model x {n}\n"
                    + yaml.safe_dump(base, sort_keys=False), encoding="utf-8")
    return path


def assembly_stats(outdir: Path) -> dict[str, Any]:
    """Resources and bytes of every template in a cloud assembly: totals, the largest by resources and by size."""
    templates = []
    for path in sorted(outdir.rglob("*.template.json")):
        resources = len(json.loads(path.read_text(encoding="utf-8")).get("Resources") or {})
        name = str(path.relative_to(outdir)).removesuffix(".template.json")
        templates.append({"name": name, "resources": resources, "bytes": path.stat().st_size})
    if not templates:
        return {"templates": 0, "resources": 0, "bytes": 0, "largest": None, "largest_by_bytes": None}
    by_resources = max(templates, key=lambda t: (t["resources"], t["bytes"]))
    by_bytes = max(templates, key=lambda t: (t["bytes"], t["resources"]))
    return {
        "templates": len(templates),
        "resources": sum(t["resources"] for t in templates),
        "bytes": sum(t["bytes"] for t in templates),
        "largest": by_resources,
        "largest_by_bytes": by_bytes,
    }


@functools.cache
def quotas_module() -> Any:
    """mlops_constructs/quotas.py, loaded by its path: importing ``mlops_constructs.quotas`` would run the
    package's ``__init__``, which imports aws_cdk and starts jsii's Node process inside the benchmark."""
    spec = importlib.util.spec_from_file_location("bench_quotas", ROOT / "mlops_constructs" / "quotas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def quota_figures(outdir: Path) -> list[dict[str, Any]]:
    """``quotas.measure(outdir)``: the largest figure of each AWS quota in the assembly, as JSON."""
    return [
        {"key": f.quota.key, "what": f.quota.what, "default": f.quota.default, "budget": f.quota.budget, "url": f.quota.url,
         "value": f.value, "share": f.share, "within_budget": f.within_budget, "where": f.where}
        for f in quotas_module().measure(outdir)
    ]


# --------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    label: str
    kind: str  # "synth" or "test"
    argv: list[str]
    models: int | None = None
    cpus: list[int] | None = None
    """The CPUs the command is pinned to (sched_setaffinity); None: every CPU this process may use."""
    runs: list[Run] = field(default_factory=list)
    warmups: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.returncode == 0 for r in self.runs + self.warmups)

    def median(self, attr: str) -> float | None:
        values = [getattr(r, attr) for r in self.runs if r.returncode == 0]
        return statistics.median(values) if values else None

    def spread(self, attr: str) -> tuple[float, float] | None:
        values = [getattr(r, attr) for r in self.runs if r.returncode == 0]
        return (min(values), max(values)) if values else None

    @property
    def templates(self) -> dict[str, Any] | None:
        for run in reversed(self.runs):
            if run.returncode == 0 and run.templates is not None:
                return run.templates
        return None

    @property
    def quotas(self) -> list[dict[str, Any]] | None:
        """The quota figures of the last run that wrote an assembly, successful or not."""
        for run in reversed(self.runs + self.warmups):
            if run.quotas is not None:
                return run.quotas
        return None

    def to_json(self) -> dict[str, Any]:
        def run_json(r: Run) -> dict[str, Any]:
            return {**asdict(r), "cpu_s": r.cpu_s}

        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "command": shlex.join(self.argv),
            "models": self.models,
            "cpus": self.cpus,
            "ok": self.ok,
            "median": {k: self.median(k) for k in ("wall_s", "cpu_s", "cpu_user_s", "cpu_sys_s", "peak_rss_mib", "tree_peak_rss_mib")},
            "templates": self.templates,
            "quotas": self.quotas,
            "runs": [run_json(r) for r in self.runs],
            "warmups": [run_json(r) for r in self.warmups],
        }


def app_python_flags(app_command: str | None = None) -> list[str]:
    """The interpreter flags of the platform's app in cdk.json (``python -O app.py`` -> ``["-O"]``), which
    the floor runs with too. ``app_command``: cdk.json's ``app`` (default: read from cdk.json)."""
    if app_command is None:
        app_command = json.loads(CDK_JSON.read_text(encoding="utf-8"))["app"]
    argv = shlex.split(app_command)
    script = next((i for i, arg in enumerate(argv) if arg.endswith(".py")), None)
    if script is None or not Path(argv[0]).name.startswith("python"):
        raise SystemExit(f"bench: cdk.json's app is not `python [flags] <script>.py` (got {app_command!r})")
    return argv[1:script]


def synth_argv(config: Path | None, outdir_placeholder: str = "{outdir}", app: str | None = None) -> list[str]:
    argv = [str(CDK_CLI), "synth", "--quiet", "--no-notices"]
    if app is not None:
        argv += ["--app", app]
    if config is not None:
        argv += ["-c", f"config={config}"]
    return argv + ["-o", outdir_placeholder]


def run_case(case: Case, env: dict[str, str], runs: int, warmups: int, workdir: Path) -> None:
    total = warmups + runs
    for index in range(total):
        warm = index < warmups
        tag = f"warm-up {index + 1}/{warmups}" if warm else f"run {index - warmups + 1}/{runs}"
        print(f"  {case.label}: {tag} ...", end="", flush=True)
        log = workdir / f"{case.id}-{index}.log"
        load = os.getloadavg()[0]
        if case.kind == "synth":
            outdir = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=workdir))
            argv = [a.replace("{outdir}", str(outdir)) for a in case.argv]
            run = measure(argv, env, log)
            if run.returncode == 0:
                run.templates = assembly_stats(outdir)
            if case.models is not None and (outdir / "manifest.json").exists():
                # Also when the app failed on a finding after writing the assembly (e.g. CDK's template size
                # annotation): the quotas show what is too big.
                run.quotas = quota_figures(outdir)
            shutil.rmtree(outdir, ignore_errors=True)
        else:
            run = measure(case.argv, env, log, cpus=set(case.cpus) if case.cpus else None)
            run.summary = _pytest_summary(log)
        run.load_before = load
        if run.returncode != 0:
            run.error = _tail(log)
        (case.warmups if warm else case.runs).append(run)
        line = f" {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU, {run.peak_rss_mib:.0f} MiB peak ({run.tree_peak_rss_mib:.0f} MiB tree)"
        if run.templates:
            t = run.templates
            line += f", {t['templates']} templates, {t['resources']} resources, largest {t['largest']['resources']}"
        if run.quotas:
            line += f"; quotas: {quota_observation(run.quotas)}"
        if run.summary:
            line += f", {run.summary}"
        if run.returncode != 0:
            line += f"  FAILED (exit {run.returncode}); last lines of output:\n{_indent(run.error or '', '    ')}"
        print(line, flush=True)
        if run.returncode != 0:
            return  # later runs of a broken case would only fail the same way


def _pytest_summary(log: Path) -> str | None:
    matches = re.findall(r"^=+ (.+? in [\d.]+s(?: \([^)]*\))?) =+$", log.read_text(encoding="utf-8", errors="replace"), re.M)
    return matches[-1] if matches else None


def _tail(log: Path, lines: int = 25) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()[-lines:])


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


# --------------------------------------------------------------------------------------------------
# Machine and versions
# --------------------------------------------------------------------------------------------------


def _output(argv: Sequence[str], env: dict[str, str]) -> str | None:
    try:
        out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info(env: dict[str, str]) -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    lib_versions = _output([str(VENV_PYTHON), "-c", (
        "import json\nfrom importlib.metadata import version\n"
        "print(json.dumps({n: version(n) for n in ('aws-cdk-lib', 'constructs', 'cdk-nag', 'jsii')}))"
    )], env)
    libs = json.loads(lib_versions) if lib_versions else {}
    status = _output(["git", "status", "--porcelain", "--untracked-files=no"], env)
    return {
        "cpu_model": cpu_model,
        "cpus_online": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "memory_bytes": mem_total,
        "memory_gib": round(mem_total / 2**30, 1) if mem_total else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": _output([str(VENV_PYTHON), "-c", "import platform; print(platform.python_version())"], env),
        "node": _output(["node", "--version"], env),
        "node_path": shutil.which("node", path=env["PATH"]),
        "cdk_cli": _output([str(CDK_CLI), "--version"], env),
        "aws_cdk_lib": libs.get("aws-cdk-lib"),
        "constructs": libs.get("constructs"),
        "cdk_nag": libs.get("cdk-nag"),
        "jsii": libs.get("jsii"),
        "git_commit": _output(["git", "rev-parse", "HEAD"], env),
        "git_dirty": bool(status) if status is not None else None,
        "subreaper": SUBREAPER,
        # Settings of the environment that change what is measured (e.g. no .pyc caching, Node flags).
        "env": {name: env[name] for name in TIMING_ENV if name in env},
    }


# --------------------------------------------------------------------------------------------------
# Analysis against the targets
# --------------------------------------------------------------------------------------------------


def least_squares(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Slope and intercept of the least-squares line through ``points``; None for fewer than two x values."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def analyse(cases: list[Case]) -> dict[str, Any]:
    by_id = {c.id: c for c in cases}
    floor, default, test = by_id.get("floor"), by_id.get("default"), by_id.get("test")
    model_cases = sorted((c for c in cases if c.models is not None), key=lambda c: c.models or 0)
    result: dict[str, Any] = {"targets": []}

    def target(name: str, goal: str, status: str, observed: str) -> None:
        result["targets"].append({"target": name, "goal": goal, "status": status, "observed": observed})

    # 1. Full default synth over the floor.
    ratio = None
    floor_wall = floor.median("wall_s") if floor else None
    default_wall = default.median("wall_s") if default else None
    if floor_wall and default_wall:
        ratio = default_wall / floor_wall
    result["full_over_floor"] = ratio
    floor_cpu = floor.median("cpu_s") if floor else None
    default_cpu = default.median("cpu_s") if default else None
    result["full_over_floor_cpu"] = default_cpu / floor_cpu if floor_cpu and default_cpu else None
    goal = f"default synth wall <= {MAX_FULL_OVER_FLOOR}x the floor's"
    if ratio is not None:
        target("Full synth vs floor", goal, "PASS" if ratio <= MAX_FULL_OVER_FLOOR else "FAIL",
               f"{ratio:.2f}x ({default_wall:.2f} s / {floor_wall:.2f} s)")
    elif floor is None or default is None:
        target("Full synth vs floor", goal, "NOT RUN", "-")
    else:
        failed = " and ".join(c.label.lower() for c in (floor, default) if c.median("wall_s") is None)
        target("Full synth vs floor", goal, "FAIL", f"{failed} failed")

    # 2. Marginal cost per model: slope of the median wall (and CPU) over the model counts.
    wall_points = [(float(c.models or 0), c.median("wall_s")) for c in model_cases if c.median("wall_s") is not None]
    cpu_points = [(float(c.models or 0), c.median("cpu_s")) for c in model_cases if c.median("cpu_s") is not None]
    wall_fit = least_squares(wall_points)  # type: ignore[arg-type]
    cpu_fit = least_squares(cpu_points)  # type: ignore[arg-type]
    result["per_model_wall"] = {"slope_s": wall_fit[0], "intercept_s": wall_fit[1], "models": [x for x, _ in wall_points],
                                # the slope in floors: the machine's speed of the hour moves the floor too, so this moves less
                                "in_floors": wall_fit[0] / floor_wall if floor_wall else None} if wall_fit else None
    result["per_model_cpu"] = {"slope_s": cpu_fit[0], "intercept_s": cpu_fit[1]} if cpu_fit else None
    goal = f"<= {MAX_SECONDS_PER_MODEL} s wall per additional model (least-squares slope)"
    if wall_fit:
        counts = ", ".join(str(int(x)) for x, _ in wall_points)
        failed = [str(c.models) for c in model_cases if c.median("wall_s") is None]
        left_out = f"; synth failed at {', '.join(failed)} model(s), left out" if failed else ""
        target("Marginal cost per model", goal, "PASS" if wall_fit[0] <= MAX_SECONDS_PER_MODEL else "FAIL",
               f"{wall_fit[0]:.3f} s/model (fit over {counts} models; intercept {wall_fit[1]:.2f} s{left_out})")
    elif not model_cases:
        target("Marginal cost per model", goal, "NOT RUN", "-")
    else:
        failed = [str(c.models) for c in model_cases if c.median("wall_s") is None]
        observed = f"synth failed at {', '.join(failed)} model(s)" if failed else "fewer than two model counts measured"
        target("Marginal cost per model", goal, "FAIL" if failed else "NOT RUN", observed)

    # 3. Template size at 50 models.
    goal = f"at {TEMPLATE_TARGET_MODELS} models no template above {MAX_TEMPLATE_RESOURCES} resources or {MAX_TEMPLATE_BYTES // 1024} KiB"
    at_target = next((c for c in model_cases if c.models == TEMPLATE_TARGET_MODELS), None)
    stats = at_target.templates if at_target else None
    if stats and stats["largest"]:
        big, heavy = stats["largest"], stats["largest_by_bytes"]
        ok = big["resources"] <= MAX_TEMPLATE_RESOURCES and heavy["bytes"] <= MAX_TEMPLATE_BYTES
        target("Template size at 50 models", goal, "PASS" if ok else "FAIL",
               f"most resources {big['resources']} ({big['name']}); largest {_kib(heavy['bytes'])} ({heavy['name']})")
    elif at_target:
        target("Template size at 50 models", goal, "FAIL", "the 50-model synth failed")
    else:
        largest = model_cases[-1] if model_cases else None
        observed = "-"
        if largest and largest.templates and largest.templates["largest"]:
            t = largest.templates
            observed = (f"not measured; at {largest.models} models: most resources {t['largest']['resources']}, "
                        f"largest {_kib(t['largest_by_bytes']['bytes'])}")
        target("Template size at 50 models", goal, "NOT RUN", observed)

    # 4. AWS quotas at 100 models: every figure within its budget (80% of the AWS default).
    at_quota_target = next((c for c in model_cases if c.models == QUOTA_TARGET_MODELS), None)
    figures = at_quota_target.quotas if at_quota_target else None
    goal = f"at {QUOTA_TARGET_MODELS} models every AWS quota within 80% of its default"
    if figures and at_quota_target:
        failed = "" if at_quota_target.ok else f"; the synth itself {_failed(at_quota_target)}"
        target(f"Quotas at {QUOTA_TARGET_MODELS} models", goal, "PASS" if all(f["within_budget"] for f in figures) else "FAIL",
               quota_observation(figures) + failed)
    elif at_quota_target:
        target(f"Quotas at {QUOTA_TARGET_MODELS} models", goal, "FAIL", f"the {QUOTA_TARGET_MODELS}-model synth failed")
    else:
        measured = [c for c in model_cases if c.quotas]
        observed = f"not measured; at {measured[-1].models} models: {quota_observation(measured[-1].quotas or [])}" if measured else "-"
        target(f"Quotas at {QUOTA_TARGET_MODELS} models", goal, "NOT RUN", observed)

    # 5. The test suite on 2 CPUs.
    goal = f"`make test` <= {MAX_TEST_SECONDS:.0f} s on {TEST_CPUS} cores"
    test_wall = test.median("wall_s") if test else None
    if test and test_wall is not None and test.ok:
        cores = len(test.cpus) if test.cpus else len(os.sched_getaffinity(0))
        status = "PASS" if test_wall <= MAX_TEST_SECONDS else "FAIL"
        if cores != TEST_CPUS:
            status += f" (on {cores} CPUs, not {TEST_CPUS})"
        summary = f"; {test.runs[-1].summary}" if test.runs[-1].summary else ""
        target("Test suite", goal, status, f"{test_wall:.1f} s on {cores} CPUs{summary}")
    elif test:
        failed = next((r for r in test.runs + test.warmups if r.returncode != 0), None)
        detail = f" ({failed.summary})" if failed and failed.summary else ""
        target("Test suite", goal, "FAIL", f"`make test` failed{detail}")
    else:
        target("Test suite", goal, "NOT RUN", "-")
    return result


def quota_observation(figures: Sequence[Mapping[str, Any]]) -> str:
    """The quotas over budget (or the one nearest to it when none is), for the targets table."""
    over = [f for f in figures if not f["within_budget"]]
    shown = over or sorted(figures, key=lambda f: -f["share"])[:1]
    text = "; ".join(f"{f['what']}: {f['value']:,} ({f['share']:.0%} of {f['default']:,})" for f in shown)
    return f"over budget: {text}" if over else f"all within budget; highest {text}"


# --------------------------------------------------------------------------------------------------
# Report: JSON and docs/performance.md
# --------------------------------------------------------------------------------------------------


def _kib(n: int) -> str:
    return f"{n / 1024:.0f} KiB"


def _failed(case: Case) -> str:
    run = next((r for r in case.runs + case.warmups if r.returncode != 0), None)
    return f"failed (exit {run.returncode})" if run else "failed"


def _secs(case: Case, attr: str) -> str:
    median = case.median(attr)
    if median is None:
        return "–"
    spread = case.spread(attr)
    if spread and len(case.runs) > 1:
        return f"{median:.2f} ({spread[0]:.2f}–{spread[1]:.2f})"
    return f"{median:.2f}"


def _mib(case: Case, attr: str) -> str:
    median = case.median(attr)
    return "–" if median is None else f"{median:.0f}"


def quota_table(columns: Sequence[tuple[int | None, Sequence[Mapping[str, Any]], bool]]) -> list[str]:
    """A Markdown table of quota figures (``quota_figures``), a row per quota and a column per model count
    (``(models, figures, synth succeeded)``): the value and its share of the AWS default, marked when above
    the budget; each quota links to AWS's page of it, and the last column says where the largest model
    count's figure is."""
    counts = [models for models, _, _ in columns]
    named = [f"{n} model{'s' if n != 1 else ''}" + ("" if ok else " (synth failed)") for n, _, ok in columns]
    lines = ["| Quota | AWS default | " + " | ".join(named) + f" | Where ({counts[-1]} models) |", "|---|---:|" + "---:|" * len(counts) + "---|"]
    by_key = [{f["key"]: f for f in figures} for _, figures, _ in columns]
    for quota in columns[-1][1]:
        cells = []
        for figures in by_key:
            f = figures.get(quota["key"])
            if f is None:
                cells.append("–")
            elif f["within_budget"]:
                cells.append(f"{f['value']:,} ({f['share']:.0%})")
            else:
                cells.append(f"**{f['value']:,} ({f['share']:.0%})** ⚠")
        last = by_key[-1][quota["key"]]
        lines.append(f"| [{quota['what']}]({quota['url']}) | {quota['default']:,} | " + " | ".join(cells) + f" | `{last['where']}` |")
    return lines


def target_summary(analysis: dict[str, Any]) -> list[str]:
    """The lines above the targets table: the default synthesis over the floor, and the cost per model."""
    lines: list[str] = []
    if analysis.get("full_over_floor") is not None:
        cpu_ratio = analysis.get("full_over_floor_cpu")
        cpu = f" (CPU: {cpu_ratio:.2f}x)" if cpu_ratio else ""
        lines.append(f"- Full default synth / floor (wall): **{analysis['full_over_floor']:.2f}x**{cpu}.")
    if analysis.get("per_model_wall"):
        w, c = analysis["per_model_wall"], analysis.get("per_model_cpu")
        cpu = f", {c['slope_s']:.3f} s CPU" if c else ""
        floors = (f" In floors (the slope over the floor's median wall): {w['in_floors']:.3f}; the floor slows down and speeds "
                  f"up with the machine as the models do, so this figure moves less from one hour to the next." if w.get("in_floors") else "")
        lines.append(f"- Marginal cost per additional model: **{w['slope_s']:.3f} s wall**{cpu} "
                     f"(least-squares slope of the medians over {', '.join(str(int(x)) for x in w['models'])} models; "
                     f"intercept {w['intercept_s']:.2f} s).{floors}")
    return lines


def markdown(report: dict[str, Any], cases: list[Case]) -> str:
    m, opts, analysis = report["machine"], report["options"], report["analysis"]
    out: list[str] = []
    add = out.append
    add(f"_Generated by `bench/run.py` on {report['finished_at']} — do not edit between the bench markers; "
        "the next `make bench` rewrites this part._")
    add("")
    if opts["quick"] or opts["runs"] < 3 or opts["warmups"] < 1:
        add(f"> **Trial run** ({opts['runs']} run(s), {opts['warmups']} warm-up(s) per case): for checking the "
            "format, not for comparison. Run `make bench` for the real numbers.")
        add("")
    add("### Time and memory")
    add("")
    add(f"Medians of {opts['runs']} run(s) after {opts['warmups']} warm-up(s) per case; (min–max) in brackets. "
        "CPU is user + system time of the command and all its descendants. *Peak RSS* is `ru_maxrss` from "
        "`wait4`: the largest single process (the CLI, the app's Python or jsii's Node). *Tree* is the summed "
        "RSS of all the command's processes at once, sampled every "
        f"{TREE_SAMPLE_SECONDS * 1000:.0f} ms: what the machine needs.")
    add("")
    add("| Case | Wall (s) | CPU (s) | Peak RSS (MiB) | Tree RSS (MiB) |")
    add("|---|---:|---:|---:|---:|")
    for c in cases:
        label = c.label + ("" if c.ok else " **(failed)**")
        if c.median("wall_s") is None:
            add(f"| {label} | {_failed(c)} | – | – | – |")
        else:
            add(f"| {label} | {_secs(c, 'wall_s')} | {_secs(c, 'cpu_s')} | {_mib(c, 'peak_rss_mib')} | {_mib(c, 'tree_peak_rss_mib')} |")
    add("")
    synths = [c for c in cases if c.kind == "synth" and c.templates and c.templates["largest"]]
    if synths:
        add("### Templates")
        add("")
        add("Every `*.template.json` of the cloud assembly (one per stack). *Most resources* is the template "
            "with the most resources; *largest* is the biggest file (often the same one). KiB = 1024 bytes.")
        add("")
        add("| Case | Templates | Resources | Total size | Most resources | Largest |")
        add("|---|---:|---:|---:|---|---|")
        for c in synths:
            t = c.templates or {}
            big, heavy = t["largest"], t["largest_by_bytes"]
            add(f"| {c.label} | {t['templates']} | {t['resources']} | {_kib(t['bytes'])} | "
                f"{big['resources']} resources, {_kib(big['bytes'])}: `{big['name']}` | "
                f"{_kib(heavy['bytes'])}, {heavy['resources']} resources: `{heavy['name']}` |")
        add("")
    columns = [(c.models, c.quotas, c.ok) for c in cases if c.models is not None and c.quotas]
    if columns:
        add("### Quotas")
        add("")
        add("The largest figure of each AWS quota in each model count's cloud assembly (`mlops_constructs/quotas.py`), "
            "and its share of the AWS default; **bold** and ⚠ above the platform's budget of 80% of the default. "
            "Account-wide counts include the CDK bootstrap stack's roles and the rules Step Functions manages. "
            "*Where* is the largest figure's stack, resource or account at the largest model count. A model count "
            "marked *synth failed* wrote its assembly but the app failed it (see the time table).")
        add("")
        out.extend(quota_table(columns))
        add("")
    add("### Targets")
    add("")
    lines = target_summary(analysis)
    out.extend(lines)
    if lines:
        add("")
    add("| Target | Goal | Observed | Status |")
    add("|---|---|---|---|")
    for t in analysis["targets"]:
        add(f"| {t['target']} | {t['goal']} | {t['observed']} | **{t['status']}** |")
    add("")
    add("The targets are reported here, never asserted by tests: timings depend on the machine and its load.")
    add("")
    add("### Machine")
    add("")
    cpus = f"{m['cpus_available']} available" + (f" of {m['cpus_online']}" if m["cpus_online"] != m["cpus_available"] else "")
    test_case = next((c for c in cases if c.kind == "test"), None)
    add(f"- CPU: {m['cpu_model'] or 'unknown'}, {cpus} logical CPUs"
        + (f"; `make test` pinned to CPUs {','.join(map(str, test_case.cpus))}" if test_case and test_case.cpus else ""))
    add(f"- Memory: {m['memory_gib']} GiB; OS: {m['os']}")
    add(f"- Python {m['python']}, Node {m['node']}, CDK CLI {m['cdk_cli']}, aws-cdk-lib {m['aws_cdk_lib']}, "
        f"constructs {m['constructs']}, cdk-nag {m['cdk_nag']}, jsii {m['jsii']}")
    dirty = " (with uncommitted changes)" if m["git_dirty"] else ""
    add(f"- Commit `{(m['git_commit'] or 'unknown')[:12]}`{dirty}")
    load = report["load_average"]
    busy = max(load["start"][0], load["end"][0]) > 0.5 * (m["cpus_available"] or 1)
    add(f"- Load average (1 min) at start {load['start'][0]:.2f}, at end {load['end'][0]:.2f}"
        + (" — **the machine was busy**: wall times are inflated." if busy
           else ": anything else running on the machine inflates wall time."))
    if m["env"]:
        add(f"- Environment: {', '.join(f'`{k}={v}`' for k, v in m['env'].items())}")
    add(f"- Raw results: `bench/results/{report['result_file']}`" if report["written"] else "- Raw results: not written (`--no-write`)")
    add("")
    add("### How to reproduce")
    add("")
    add("```sh")
    add("make bench                                            # set up, then every case: 3 runs after a warm-up")
    add('make bench BENCH_ARGS="--only floor,default --runs 5"   # some cases only')
    add(".venv/bin/python bench/run.py --quick --no-write       # while developing: 1 run, models 1 and 5, no files")
    add("```")
    add("")
    add("`bench/run.py --help` lists the options. Each synthesis is `cdk synth --quiet --no-notices -c config=<file> "
        "-o <temporary dir>` through the pinned CLI in `node_modules`, with the Makefile's PATH and environment; "
        "the model configs are `config/default.yaml` with its model replicated as `m01`…`mNN`. "
        "Close other heavy programs first.")
    return "\n".join(out)


INTRO = """\
# Performance

How long synthesis and the test suite take, and how much memory they need, measured by `make bench`
(`bench/run.py`). The floor is an empty CDK app synthesized the same way (same CLI, `python -O`, same App
settings): the start-up cost of the CDK CLI, Python and jsii's Node runtime that every synthesis pays.
The marginal cost per model is the slope of synthesis time over configs with 1 to 100 models, whose
assemblies are also measured against AWS's quotas.
"""

HISTORY = f"""\
{HISTORY_HEADING}

Profiling history, kept by hand: `make bench` never changes this section. For each change that moved the
numbers, note what was slow (with the profile that showed it), what changed, and the medians before and after.
"""


def write_doc(generated: str) -> None:
    block = f"{BEGIN}\n{generated.rstrip()}\n{END}"
    if DOC.exists():
        text = DOC.read_text(encoding="utf-8")
        if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            text = head + block + tail
        else:
            # No markers (hand-made file): keep its "Before and after" section, regenerate the rest.
            at = text.find(HISTORY_HEADING)
            history = text[at:] if at >= 0 else HISTORY
            text = f"{INTRO}\n{block}\n\n{history}"
        if HISTORY_HEADING not in text:
            text = text.rstrip() + "\n\n" + HISTORY
    else:
        text = f"{INTRO}\n{block}\n\n{HISTORY}"
    _atomic_write(DOC, text.rstrip() + "\n")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See the module docstring and docs/performance.md for what is measured and how.")
    parser.add_argument("--runs", type=int, default=None, help="measured runs per case (default 3; 1 with --quick)")
    parser.add_argument("--warmups", type=int, default=None, help="unmeasured warm-up runs per case (default 1; 0 with --quick)")
    parser.add_argument("--only", default=",".join(ALL_CASES), help=f"comma-separated cases to run (default {','.join(ALL_CASES)})")
    parser.add_argument("--models", default=None, help="comma-separated model counts (default 1,25,50,100; 1,5 with --quick)")
    parser.add_argument("--quick", action="store_true", help="for development: 1 run, no warm-up, models 1,5")
    parser.add_argument("--no-write", action="store_true", help="write no file (neither bench/results/ nor docs/performance.md)")
    parser.add_argument("--test-cpus", type=int, default=TEST_CPUS,
                        help=f"CPUs `make test` may use, as the target says (default {TEST_CPUS}; 0 for all)")
    args = parser.parse_args(argv)
    args.runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    args.warmups = args.warmups if args.warmups is not None else (0 if args.quick else 1)
    if args.runs < 1 or args.warmups < 0:
        parser.error("--runs must be at least 1 and --warmups at least 0")
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(ALL_CASES))
    if unknown or not only:
        parser.error(f"--only: unknown case(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ALL_CASES)}")
    args.only = [c for c in ALL_CASES if c in only]  # always in the documented order, the test suite last
    try:
        models = args.models or ",".join(map(str, QUICK_MODELS if args.quick else DEFAULT_MODELS))
        args.models = sorted({int(n) for n in models.split(",") if n.strip()})
    except ValueError:
        parser.error(f"--models: expected comma-separated integers (got {args.models!r})")
    if not args.models or args.models[0] < 1 or args.models[-1] > 999:
        parser.error("--models: counts from 1 to 999")
    if args.test_cpus < 0:
        parser.error("--test-cpus must be 0 (all) or more")
    return args


def build_cases(args: argparse.Namespace, configs: Path) -> list[Case]:
    cases: list[Case] = []
    if "floor" in args.only:
        app = shlex.join([str(VENV_PYTHON), *app_python_flags(), "bench/empty_app.py"])
        cases.append(Case("floor", "Floor: empty app", "synth", synth_argv(None, app=app)))
    if "default" in args.only:
        cases.append(Case("default", "Default config, full synth", "synth", synth_argv(DEFAULT_CONFIG.relative_to(ROOT))))
    if "models" in args.only:
        for n in args.models:
            config = model_config(n, configs)
            cases.append(Case(f"models-{n}", f"{n} model{'s' if n > 1 else ''}", "synth", synth_argv(config), models=n))
    if "test" in args.only:
        available = sorted(os.sched_getaffinity(0))
        cpus = available[: args.test_cpus] if 0 < args.test_cpus < len(available) else None
        cases.append(Case("test", "`make test`", "test", ["make", "test"], cpus=cpus))
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    global SUBREAPER
    args = parse_args(argv)
    check_setup()
    env = tool_env()
    SUBREAPER = _become_subreaper()
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()
    machine = machine_info(env)
    print(f"bench: {machine['cpu_model']}, {machine['cpus_available']} CPUs, {machine['memory_gib']} GiB; "
          f"Node {machine['node']}, CDK CLI {machine['cdk_cli']}, aws-cdk-lib {machine['aws_cdk_lib']}; "
          f"load {load_start[0]:.2f}")
    if load_start[0] > 0.5 * machine["cpus_available"]:
        print(f"bench: warning: the machine is busy (load {load_start[0]:.2f} on {machine['cpus_available']} CPUs): "
              "wall times will be inflated", file=sys.stderr)
    print(f"bench: cases {', '.join(args.only)}; {args.runs} run(s) after {args.warmups} warm-up(s) each"
          + (f"; models {','.join(map(str, args.models))}" if "models" in args.only else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        work = Path(tmp)
        cases = build_cases(args, work)
        for case in cases:
            run_case(case, env, args.runs, args.warmups, work)
    finished = dt.datetime.now(dt.timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "schema": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "result_file": f"{stamp}.json",
        "written": not args.no_write,
        "options": {"runs": args.runs, "warmups": args.warmups, "only": args.only, "models": args.models,
                    "quick": args.quick, "test_cpus": args.test_cpus},
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "machine": machine,
        "cases": [c.to_json() for c in cases],
    }
    report["analysis"] = analyse(cases)
    generated = markdown(report, cases)
    print()
    print(generated)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report, indent=2) + "\n"
        _atomic_write(RESULTS / report["result_file"], text)
        _atomic_write(RESULTS / "latest.json", text)
        write_doc(generated)
        print(f"\nbench: wrote bench/results/{report['result_file']}, bench/results/latest.json and docs/performance.md")
    failed = [c.label for c in cases if not c.ok]
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
