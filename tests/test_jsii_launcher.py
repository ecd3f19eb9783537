"""jsii's kernel started directly (jsii_launcher.py, tools/jsii/): when it is used, that a synthesis through it
writes what one through jsii's own launcher writes, that what the kernel prints still arrives as text, that no
relay process runs, and that Node's compile cache is keyed so that a second run finds the first run's entries."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import jsii_launcher

REPO = Path(__file__).resolve().parent.parent

# A small app that also reports how its kernel was started: the command line of jsii's Node process and the
# processes that one started (jsii's own launcher starts the kernel as a second Node process).
APP = """
import json, os, sys
sys.path.insert(0, {repo!r})
import jsii_launcher
configured = jsii_launcher.configure(preload=os.environ.get("TEST_PRELOAD"))
import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
import jsii._runtime as runtime
app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Queues")
sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.KMS_MANAGED, enforce_ssl=True)
app.synth()
pid = runtime.kernel.provider._process._process.pid  # jsii internals: ProcessProvider, then its Popen
with open(f"/proc/{{pid}}/cmdline", "rb") as f:
    cmdline = f.read().split(b"\\0")
children = []
for task in os.listdir(f"/proc/{{pid}}/task"):
    with open(f"/proc/{{pid}}/task/{{task}}/children") as f:
        children += f.read().split()
print(json.dumps({{"configured": configured, "cmdline": [c.decode() for c in cmdline if c], "children": children}}))
"""


def without_launcher_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without jsii's or the launcher's settings: a process that configures its own."""
    return {k: v for k, v in environ.items() if not k.startswith(("JSII_", "MLOPS_JSII_"))}


def run_app(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[dict, str, Path]:
    script = tmp_path / "app.py"
    script.write_text(APP.format(repo=str(REPO)))
    outdir = tmp_path / name
    environ = without_launcher_settings(os.environ)
    result = subprocess.run([sys.executable, str(script), str(outdir)], env={**environ, **env},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr, outdir


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the kernel's processes from /proc")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app run three times, with JSII_DEBUG (the kernel prints every request it handles to its stderr):
    directly with an empty cache, directly again (preloading what the first run remembered), and through jsii's
    own launcher."""
    tmp_path = tmp_path_factory.mktemp("launcher")
    cache = tmp_path / "cache" / "mlops-constructs"
    direct = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "JSII_DEBUG": "1", "TEST_PRELOAD": "queues"}

    def compiled() -> list[Path]:
        return sorted(p.relative_to(cache) for p in (cache / "node-compile-cache").rglob("*") if p.is_file())

    first = run_app(tmp_path, "first", direct)
    after_first = compiled()
    remembered = json.loads((cache / "preload-queues.json").read_text())
    second = run_app(tmp_path, "second", direct)
    return {
        "first": first, "second": second, "compiled": (after_first, compiled()), "cache": cache, "remembered": remembered,
        "relayed": run_app(tmp_path, "relayed", {jsii_launcher.OFF: "jsii", "JSII_DEBUG": "1"}),
    }


@needs_proc
def test_the_kernel_runs_directly_and_synthesizes_what_jsiis_launcher_does(runs: dict) -> None:
    (direct, _, direct_out), (relayed, _, relayed_out), cache = runs["first"], runs["relayed"], runs["cache"]
    assert direct["configured"] is True and relayed["configured"] is False
    assert direct["cmdline"][-1] == str(jsii_launcher.HERE / "kernel.js")  # launch.sh exec'd Node on kernel.js
    assert direct["children"] == []  # nothing relays: the kernel is this Node process
    assert relayed["cmdline"][-1].endswith("jsii-runtime.js") and len(relayed["children"]) == 1
    (copied,) = cache.glob(f"jsii-{jsii_launcher.JSII_VERSION}-*")  # one copy, named by its digest
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*.js")) == ["lib/program.js", "lib/runtime-index-worker.js"]
    assert direct["cmdline"] and not list(cache.glob(".jsii-*"))  # no partial copy left behind

    name = "Queues.template.json"
    assert json.loads((direct_out / name).read_text()) == json.loads((relayed_out / name).read_text())
    # the second run preloaded what the first remembered, and wrote the same template
    second_out = runs["second"][2]
    assert json.loads((second_out / name).read_text()) == json.loads((relayed_out / name).read_text())


def test_a_run_remembers_the_modules_it_loaded_with_their_versions(runs: dict) -> None:
    from aws_cdk._jsii import __jsii_assembly__ as assembly

    remembered = runs["remembered"]
    assert remembered["packages"]["aws-cdk-lib"] == assembly.version
    modules = remembered["modules"]
    assert len(modules) == len(set(modules)) and all(not Path(m).is_absolute() for m in modules)
    queue = next(m for m in modules if m.startswith("aws-cdk-lib/aws-sqs/"))  # loaded when the app made its queue
    assert modules.index("aws-cdk-lib/index.js") < modules.index(queue)  # in the order they were loaded
    assert set(remembered["packages"]) == {m.split("/")[0] if not m.startswith("@") else "/".join(m.split("/")[:2]) for m in modules}


def test_what_the_kernel_prints_arrives_as_text(runs: dict) -> None:
    direct, relayed = runs["first"][1], runs["relayed"][1]
    line = "[@jsii/kernel] load {"
    assert line in direct.splitlines() and line in relayed.splitlines()
    # not the repr of a line jsii could not decode (what it prints for a line that is not its JSON)
    assert not [line for line in direct.splitlines() if line.startswith(("b'", 'b"'))]


@pytest.mark.skipif(os.name != "posix", reason="POSIX only")
def test_a_second_run_finds_the_first_runs_compiled_modules(runs: dict) -> None:
    if node_version() < (24, 12):  # kernel.js enables the cache from Node 24.12 ("portable" keys): nothing to find
        pytest.skip("Node's portable compile cache needs Node 24.12 or later")
    after_first, after_second = runs["compiled"]
    # Keys are paths relative to the kernel's work directory, which is new each run: were they absolute, the
    # second run would have added as many entries again.
    assert len(after_first) > 100 and after_second == after_first


@pytest.mark.parametrize(
    ("environ", "why"),
    [
        ({jsii_launcher.OFF: "jsii"}, "asked for jsii's launcher"),
        ({"JSII_NODE": "/opt/node"}, "JSII_NODE given"),
        ({"JSII_RUNTIME": "/opt/jsii-runtime.js"}, "JSII_RUNTIME given"),
    ],
)
def test_jsiis_launcher_is_kept_when_asked_or_configured(environ: dict[str, str], why: str, tmp_path: Path) -> None:
    environ = {**environ, "XDG_CACHE_HOME": str(tmp_path)}
    before = dict(environ)
    assert jsii_launcher.configure(environ) is False, why
    assert environ == before


def test_jsiis_launcher_is_kept_for_a_jsii_version_not_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import jsii

    monkeypatch.setattr(jsii, "__version__", "1.999.0")
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    assert jsii_launcher.configure(environ) is False
    assert environ == {"XDG_CACHE_HOME": str(tmp_path)}


def test_jsiis_launcher_is_kept_off_posix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(jsii_launcher.os, "name", "nt")
    assert jsii_launcher.configure({"XDG_CACHE_HOME": str(tmp_path)}) is False


def test_the_checked_version_is_the_pinned_one() -> None:
    pins = (REPO / "constraints.txt").read_text().splitlines()
    assert f"jsii=={jsii_launcher.JSII_VERSION}" in pins


def node_version() -> tuple[int, ...]:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return tuple(int(part) for part in out.lstrip("v").split(".")[:2])


def wrapped(tmp_path: Path, program: str) -> tuple[int, dict[str, bytes]]:
    """Run ``program`` (JavaScript) as the kernel behind launch.sh and kernel.js, reading its stderr only after
    a pause (so that a large write fills the pipe first), and decode what it printed by stream."""
    script = tmp_path / "program.js"
    script.write_text(program)
    environ = without_launcher_settings(os.environ)
    process = subprocess.Popen(
        [str(jsii_launcher.HERE / "launch.sh"), "--max-old-space-size=512", str(jsii_launcher.HERE / "kernel.js")],
        env={**environ, "MLOPS_JSII_PROGRAM": str(script)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    time.sleep(1)
    _, err = process.communicate(timeout=60)
    streams: dict[str, bytes] = {"stdout": b"", "stderr": b""}
    for line in err.splitlines():
        ((key, value),) = json.loads(line).items()  # every line is jsii's wrapping, nothing raw
        streams[key] += base64.b64decode(value)
    return process.returncode, streams


def test_what_the_kernel_prints_is_wrapped_whole_however_large(tmp_path: Path) -> None:
    code, streams = wrapped(tmp_path, """
        console.error('x'.repeat(2000000));
        process.stdout.write('to stdout\\n');
        require('fs').writeSync(2, Buffer.from('direct write\\n'), { offset: 0, length: 13 });
        require('fs').writeSync(1, 'as a string\\n');
    """)
    assert code == 0
    assert streams["stderr"] == b"x" * 2_000_000 + b"\n" + b"direct write\n"
    assert streams["stdout"] == b"to stdout\n" + b"as a string\n"


def test_an_uncaught_exception_is_reported_wrapped(tmp_path: Path) -> None:
    code, streams = wrapped(tmp_path, "setTimeout(() => { throw new Error('kernel broke'); }, 0);")
    assert code == 1
    assert b"Error: kernel broke" in streams["stderr"]


def test_an_inherited_configuration_is_kept_for_the_same_jsii_and_dropped_for_another(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    assert jsii_launcher.configure(environ) is True
    inherited = dict(environ)
    assert jsii_launcher.configure(inherited) is True and inherited == environ
    # A child process with another jsii: the inherited settings are removed and jsii's own launcher is used.
    import jsii

    monkeypatch.setattr(jsii, "__version__", "1.999.0")
    other = dict(environ)
    assert jsii_launcher.configure(other) is False
    assert other == {"XDG_CACHE_HOME": str(tmp_path)}


def test_jsiis_launcher_is_kept_when_the_launch_script_is_not_executable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(jsii_launcher.os, "access", lambda path, mode: False)
    assert jsii_launcher.configure({"XDG_CACHE_HOME": str(tmp_path)}) is False


def test_jsiis_launcher_is_kept_when_the_cache_is_not_private(tmp_path: Path) -> None:
    shared = tmp_path / "mlops-constructs"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # others may write: nothing is run from it
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    assert jsii_launcher.configure(environ) is False
    assert environ == {"XDG_CACHE_HOME": str(tmp_path)}


# A stand-in for jsii's kernel: it makes its work directory as jsii's does, "loads" a package of two modules by
# loading the first, and answers what Python sends on stdin, saying each time whether the second module is loaded.
# The first message asks Python for a callback (Python's answer is part of the same request); the second answers.
FAKE_KERNEL = """
const fs = require('fs'), os = require('os'), path = require('path');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsii-kernel-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const pkg = path.join(dir, 'node_modules', 'pkg');
fs.mkdirSync(pkg, { recursive: true });
fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'pkg', version: '1.0.0' }));
fs.writeFileSync(path.join(pkg, 'index.js'), 'module.exports = 1;');
fs.writeFileSync(path.join(pkg, 'later.js'), 'module.exports = 2;');
require(path.join(pkg, 'index.js'));
if (process.env.LOAD_LATER) require(path.join(pkg, 'later.js'));
const loaded = () => path.join(pkg, 'later.js') in require.cache;
const buffer = Buffer.alloc(64);
const kinds = process.env.MESSAGES.split(',');
kinds.forEach((kind, i) => {
  fs.writeSync(3, JSON.stringify({ [kind]: { loaded: loaded() } }) + '\\n');
  if (i < kinds.length - 1) fs.readSync(3, buffer, 0, buffer.length, null);
});
"""


def fake_kernel(tmp_path: Path, remembered: dict | None, messages: str = "ok,ok", **env: str) -> tuple[list[bool], dict | None]:
    """What the stand-in said in each of its three messages, Python answering the first two after a pause (so
    that the kernel waits), and what it remembered at exit."""
    script, memory = tmp_path / "kernel.js", tmp_path / "preload-fake.json"
    script.write_text(FAKE_KERNEL)
    memory.unlink(missing_ok=True)
    if remembered is not None:
        memory.write_text(json.dumps(remembered))
    environ = {**without_launcher_settings(os.environ), "MLOPS_JSII_PROGRAM": str(script), "MLOPS_JSII_PRELOAD": str(memory),
               "MESSAGES": messages, **env}
    process = subprocess.Popen(
        [str(jsii_launcher.HERE / "launch.sh"), str(jsii_launcher.HERE / "kernel.js")],
        env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    said = []
    kinds = messages.split(",")
    for i in range(len(kinds)):
        said.append(json.loads(process.stdout.readline()))
        if i < len(kinds) - 1:
            time.sleep(0.3)
            process.stdin.write(b"{}\n")
            process.stdin.flush()
    process.stdin.close()
    assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    assert [next(iter(message)) for message in said] == kinds
    return [next(iter(message.values()))["loaded"] for message in said], (json.loads(memory.read_text()) if memory.exists() else None)


REMEMBERED = {"packages": {"pkg": "1.0.0"}, "modules": ["pkg/index.js", "pkg/later.js"]}


@pytest.mark.skipif(not Path("/proc/self/fd/0").exists(), reason="preloading reopens stdin through /proc")
def test_the_kernel_preloads_remembered_modules_while_it_waits_for_a_request(tmp_path: Path) -> None:
    loaded, remembered = fake_kernel(tmp_path, REMEMBERED)
    assert loaded == [False, True]
    assert remembered == REMEMBERED  # unchanged: the run loaded the same modules


@pytest.mark.skipif(not Path("/proc/self/fd/0").exists(), reason="preloading reopens stdin through /proc")
def test_the_kernel_preloads_nothing_once_it_has_called_back(tmp_path: Path) -> None:
    # Python may send requests while it answers a callback (the kernel is inside a request then): after the first
    # callback, nothing more is preloaded, even while the kernel waits for a request.
    loaded, _ = fake_kernel(tmp_path, REMEMBERED, messages="callback,ok,ok")
    assert loaded == [False, False, False]


def test_the_kernel_does_not_preload_a_package_remembered_in_another_version(tmp_path: Path) -> None:
    loaded, remembered = fake_kernel(tmp_path, {**REMEMBERED, "packages": {"pkg": "0.9.0"}})
    assert loaded == [False, False]
    assert remembered == {"packages": {"pkg": "1.0.0"}, "modules": ["pkg/index.js"]}  # what this run loaded


def test_the_kernel_remembers_what_it_loaded_for_the_next_run(tmp_path: Path) -> None:
    loaded, remembered = fake_kernel(tmp_path, None, LOAD_LATER="1")
    assert loaded == [True, True]
    assert remembered == REMEMBERED


def test_preloading_is_named_by_the_program_and_not_inherited(tmp_path: Path) -> None:
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    assert jsii_launcher.configure(environ, preload="app") is True
    assert environ["MLOPS_JSII_PRELOAD"] == str(tmp_path / "mlops-constructs" / "preload-app.json")
    child = dict(environ)
    assert jsii_launcher.configure(child) is True and "MLOPS_JSII_PRELOAD" not in child  # a process that lives on
    child = dict(environ)
    assert jsii_launcher.configure(child, preload="floor") is True
    assert child["MLOPS_JSII_PRELOAD"] == str(tmp_path / "mlops-constructs" / "preload-floor.json")
    with pytest.raises(ValueError, match=r"preload: '\.\./x' is not a name"):
        jsii_launcher.configure(dict(environ), preload="../x")
