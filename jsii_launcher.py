"""How the platform's app, its tests and the benchmark start jsii's Node kernel: directly, with Node's compile cache.

Every call from Python into aws-cdk-lib is a request to jsii's kernel, a Node process. jsii's Python runtime
starts it through jsii's launcher (``bin/jsii-runtime.js``), which starts the kernel as a *second* Node process
and relays every request and response through itself: two more pipe hops and another process's CPU for each of a
synthesis's thousands of requests. ``configure`` has jsii's Python runtime start the kernel itself instead
(``JSII_NODE`` and ``JSII_RUNTIME``, which jsii reads for this purpose): ``tools/jsii/launch.sh`` runs jsii's own
kernel program (``lib/program.js``, unchanged, copied from the installed jsii package) through
``tools/jsii/kernel.js``, which connects it to stdin and stdout and wraps what it prints as the launcher did. It
also turns on Node's compile cache for the modules the kernel loads (aws-cdk-lib's and cdk-nag's), which the
launcher's random work directory otherwise defeats, and, for a program that names itself (``preload``), has the
kernel load the modules that program's previous run loaded while it waits for Python: Python and Node then work
at the same time on a machine's two CPUs instead of taking turns. What each saves is in docs/performance.md.

Only where it was checked: a POSIX system with jsii ``JSII_VERSION`` (constraints.txt pins it;
``tests/test_jsii_launcher.py`` checks the kernel's protocol through it), and not when ``JSII_NODE`` or
``JSII_RUNTIME`` is set already. Anything else keeps jsii's own launcher. Set ``MLOPS_JSII_LAUNCHER=jsii`` to keep
it anyway. The library's constructs do not depend on any of this: it is how this repository's processes start.
What jsii's launcher did besides relaying is not done: it warned about end-of-life Node versions (``make setup``
provides a supported one).

Call ``configure()`` before the first ``import aws_cdk`` (which starts the kernel).
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

JSII_VERSION = "1.142.0"
"""The jsii version whose kernel was checked behind ``tools/jsii/kernel.js``."""
HERE = Path(__file__).resolve().parent / "tools" / "jsii"
OFF = "MLOPS_JSII_LAUNCHER"
"""``jsii`` here keeps jsii's own launcher."""
_PRELOAD = "MLOPS_JSII_PRELOAD"
"""Where the kernel remembers, and finds, the modules a program loaded (``configure``'s ``preload``)."""
_PRELOAD_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VERSION = "MLOPS_JSII_VERSION"
"""The jsii version the settings were made for, for the processes that inherit them."""


def cache_dir(environ: MutableMapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/mlops-constructs`` (default ``~/.cache/mlops-constructs``)."""
    root = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mlops-constructs"


def _private_directory(path: Path) -> bool:
    """Whether ``path`` is a directory of this user that no one else may write to: what runs from it is trusted."""
    info = path.stat()
    return path.is_dir() and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _kernel_program(base: Path, version: str) -> Path:
    """jsii's kernel program and its worker, copied from the installed jsii package (which embeds them as
    resources, as jsii's own runtime copies them on every start) into ``base/jsii-<version>-<digest>/``.

    The directory is written whole, under another name, then renamed into place, so a process never sees part
    of it; its name carries the digest of what it holds. Raises ``OSError`` when ``base`` cannot be written or is
    not private to this user."""
    import hashlib
    import importlib.resources
    import tempfile

    import jsii._embedded.jsii as embedded

    files = {
        relative: importlib.resources.files(embedded).joinpath(resource).read_bytes()
        for resource, relative in sorted(embedded.EMBEDDED_FILES.items()) if relative.startswith("lib/")
    }
    digest = hashlib.sha256(b"".join(relative.encode() + b"\0" + body for relative, body in files.items())).hexdigest()[:16]
    directory = base / f"jsii-{version}-{digest}"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not _private_directory(base):
        raise PermissionError(f"{base} is not private to this user")
    if not directory.exists():
        partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=base))
        for relative, body in files.items():
            (partial / relative).parent.mkdir(parents=True, exist_ok=True)
            (partial / relative).write_bytes(body)
        try:
            partial.rename(directory)
        except OSError:  # another process renamed its copy first: the same files
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
    if not _private_directory(directory):
        raise PermissionError(f"{directory} is not private to this user")
    return directory / "lib" / "program.js"


def configure(environ: MutableMapping[str, str] | None = None, *, preload: str | None = None) -> bool:
    """Have jsii start its kernel directly (see the module's docstring); ``True`` if it will.

    ``environ``: the environment to set (default ``os.environ``, which jsii reads when it starts the kernel).
    ``preload``: a name for the program that calls this, for a process that synthesizes once and exits (``app.py``,
    the benchmark's floor). While the kernel waits for Python, it loads the modules the program's previous run
    loaded, remembered under this name in the cache directory (``tools/jsii/kernel.js``); ``None``: nothing is
    preloaded or remembered (a process that lives on, such as the tests', loads every module it needs early)."""
    if preload is not None and not _PRELOAD_NAME.fullmatch(preload):
        raise ValueError(f"preload: {preload!r} is not a name of letters, digits, '-' and '_' (at most 64)")
    environ = os.environ if environ is None else environ
    import jsii  # the package only: its kernel starts with the first assembly loaded (aws_cdk's import)

    installed = jsii.__version__
    environ.pop(_PRELOAD, None)  # a parent's program is not this one
    if environ.get("JSII_RUNTIME") == str(HERE / "kernel.js"):
        # Inherited from a parent process that configured it: kept for the same jsii, dropped for another.
        if environ.get(_VERSION) == installed:
            _set_preload(environ, preload)
            return True
        for name in ("JSII_NODE", "JSII_RUNTIME", _VERSION, "MLOPS_JSII_PROGRAM", "MLOPS_JSII_COMPILE_CACHE"):
            environ.pop(name, None)
    if environ.get(OFF) == "jsii" or "JSII_NODE" in environ or "JSII_RUNTIME" in environ or os.name != "posix":
        return False
    if installed != JSII_VERSION or not os.access(HERE / "launch.sh", os.X_OK):  # a copy that lost the mode: jsii's
        return False
    base = cache_dir(environ)
    try:
        program = _kernel_program(base, installed)
    except OSError:
        return False
    environ[_VERSION] = installed
    environ["MLOPS_JSII_PROGRAM"] = str(program)
    environ["MLOPS_JSII_COMPILE_CACHE"] = str(base / "node-compile-cache")
    environ["JSII_NODE"] = str(HERE / "launch.sh")
    environ["JSII_RUNTIME"] = str(HERE / "kernel.js")
    _set_preload(environ, preload)
    return True


def _set_preload(environ: MutableMapping[str, str], preload: str | None) -> None:
    if preload is not None:
        environ[_PRELOAD] = str(cache_dir(environ) / f"preload-{preload}.json")
