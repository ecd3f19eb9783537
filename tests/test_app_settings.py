"""How the platform's app (and the benchmark's floor) runs its one synthesis: the cyclic garbage collector off from
before aws_cdk's import (``app_settings.tune_for_one_synthesis``), and the process ended without Python's teardown
(``app_settings.exit_after_synthesis``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# A small synthesis that ends through exit_after_synthesis, with an exit handler and an object that reports
# whether the interpreter's teardown freed it.
APP = """
import atexit, sys
sys.path.insert(0, {repo!r})
import jsii_launcher
jsii_launcher.configure(preload="exit-test")
import aws_cdk as cdk
from app_settings import exit_after_synthesis, new_bare_app, tune_for_one_synthesis

class Freed:
    def __del__(self, open=open):  # open bound now: the teardown may have cleared builtins by the time it runs
        open({freed!r}, "w").close()

tune_for_one_synthesis()
kept = Freed()
atexit.register(lambda: open({handled!r}, "w").close())
app = new_bare_app(outdir={outdir!r})
cdk.CfnWaitConditionHandle(cdk.Stack(app, "Empty"), "Placeholder")
app.synth()
print("synthesized", end="")  # no newline: still in the buffer unless flushed
exit_after_synthesis(3)
"""


def test_the_app_ends_with_its_status_after_the_exit_handlers_without_the_teardown(tmp_path: Path) -> None:
    temp, cache = tmp_path / "tmp", tmp_path / "cache"
    temp.mkdir()
    script = tmp_path / "app.py"
    script.write_text(APP.format(repo=str(REPO), freed=str(tmp_path / "freed"), handled=str(tmp_path / "handled"),
                                 outdir=str(tmp_path / "out")))
    # PYTHONUNBUFFERED off: the print below stays in the buffer unless something flushes it
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("JSII_", "MLOPS_JSII_")) and k != "PYTHONUNBUFFERED"}
    result = subprocess.run([sys.executable, "-O", str(script)], env={**environ, "TMPDIR": str(temp), "XDG_CACHE_HOME": str(cache)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "synthesized"  # flushed before the process ended
    assert (tmp_path / "out" / "Empty.template.json").exists()
    assert (tmp_path / "handled").exists()  # the exit handlers ran (jsii's among them)...
    assert not (tmp_path / "freed").exists()  # ...and the teardown that frees every object did not
    # jsii's handler stopped the kernel and waited for it: its work directory is gone, and what the kernel
    # writes as it exits is there
    assert list(temp.iterdir()) == []
    assert (cache / "mlops-constructs" / "preload-exit-test.json").exists()


# Runs a script as `python -O <script>` does, and reports, on stderr, whether Python's cyclic collector was on when
# the script first imported aws_cdk; then, if the script was imported rather than run, whether it is on now.
GC_PROBE = """
import builtins, gc, runpy, sys
sys.path.insert(0, {repo!r})
real_import = builtins.__import__
def probe(name, *args, **kwargs):
    if name.partition(".")[0] == "aws_cdk" and not getattr(probe, "seen", False):
        probe.seen = True
        sys.stderr.write(f"collector at import aws_cdk: {{gc.isenabled()}}\\n")
    return real_import(name, *args, **kwargs)
builtins.__import__ = probe
sys.argv = [{script!r}, *{argv!r}]
runpy.run_path({script!r}, run_name={run_name!r})
sys.stderr.write(f"collector after: {{gc.isenabled()}}\\n")
"""


def probe_collector(tmp_path: Path, script: str, argv: list[str], run_name: str) -> tuple[int, list[str]]:
    code = GC_PROBE.format(repo=str(REPO), script=str(REPO / script), argv=argv, run_name=run_name)
    # the kernel started as the scripts start it, with a cache of its own (not the preload lists of real synthesis)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("JSII_", "MLOPS_JSII_"))}
    result = subprocess.run([sys.executable, "-O", "-c", code], cwd=REPO,
                            env={**environ, "CDK_OUTDIR": str(tmp_path / "out"), "XDG_CACHE_HOME": str(tmp_path / "cache")},
                            capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, [line for line in result.stderr.splitlines() if line.startswith("collector ")]


def test_the_app_and_the_floor_turn_the_collector_off_before_importing_aws_cdk(tmp_path: Path) -> None:
    # app.py with an argument it refuses: it exits (status 2) once its imports are done, before building anything
    assert probe_collector(tmp_path, "app.py", ["--no-such-argument"], "__main__") == (2, ["collector at import aws_cdk: False"])
    assert probe_collector(tmp_path, "bench/empty_app.py", [], "__main__") == (0, ["collector at import aws_cdk: False"])


def test_importing_the_app_leaves_the_collector_on(tmp_path: Path) -> None:
    # as the tests import it: the collector is the test process's, which lives on
    assert probe_collector(tmp_path, "app.py", [], "app") == (0, ["collector at import aws_cdk: True", "collector after: True"])
