"""How the platform's app, its tests and the benchmark start jsii's Node kernel: directly, with Node's compile cache.

Every call from Python into aws-cdk-lib is a request to jsii's kernel, a Node process. jsii's Python runtime
starts it through jsii's launcher (``bin/jsii-runtime.js``), which starts the kernel as a *second* Node process
and relays every request and response through itself: two more pipe hops and another process's CPU for each of a
synthesis's thousands of requests. ``configure`` has jsii's Python runtime start the kernel itself instead
(``JSII_NODE`` and ``JSII_RUNTIME``, which jsii reads for this purpose): ``tools/jsii/launch.sh`` runs jsii's own
kernel program (``lib/program.js``, unchanged, copied from the installed jsii package) through
``tools/jsii/kernel.js``, which connects it to stdin and stdout and wraps what it prints as the launcher did. It
also turns on Node's compile cache for the modules the kernel loads (aws-cdk-lib's and cdk-nag's), which the
launcher's random work directory otherwise defeats. What each saves is in docs/performance.md.

Only where it was checked: a POSIX system with jsii |JSII_VERSION| (constraints.txt pins it;
``tests/test_jsii_launcher.py`` checks the kernel's protocol through it), and not when ``JSII_NODE`` or
``JSII_RUNTIME`` is set already. Anything else keeps jsii's own launcher. Set ``MLOPS_JSII_LAUNCHER=jsii`` to keep
it anyway. The library's constructs do not depend on any of this: it is how this repository's processes start.

Call ``configure()`` before the first ``import aws_cdk`` (which starts the kernel).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

JSII_VERSION = "1.142.0"
"""The jsii version whose kernel was checked behind ``tools/jsii/kernel.js``."""
HERE = Path(__file__).resolve().parent / "tools" / "jsii"
OFF = "MLOPS_JSII_LAUNCHER"
"""``jsii`` here keeps jsii's own launcher."""


def cache_dir(environ: MutableMapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/mlops-constructs`` (default ``~/.cache/mlops-constructs``)."""
    root = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mlops-constructs"


def _kernel_program(directory: Path) -> Path:
    """jsii's kernel program and its worker, copied from the installed jsii package (which embeds them as
    resources, as jsii's own runtime copies them on every start) once per version."""
    import importlib.resources

    import jsii._embedded.jsii as embedded

    program = directory / "lib" / "program.js"
    if program.exists():
        return program
    for resource, relative in embedded.EMBEDDED_FILES.items():
        if not relative.startswith("lib/"):
            continue
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_bytes(importlib.resources.files(embedded).joinpath(resource).read_bytes())
        os.replace(partial, target)  # whole or absent, when several processes start at once
    return program


def configure(environ: MutableMapping[str, str] | None = None) -> bool:
    """Have jsii start its kernel directly (see the module's docstring); ``True`` if it will.

    ``environ``: the environment to set (default ``os.environ``, which jsii reads when it starts the kernel)."""
    environ = os.environ if environ is None else environ
    if environ.get(OFF) == "jsii" or "JSII_NODE" in environ or "JSII_RUNTIME" in environ or os.name != "posix":
        return False
    import jsii  # the package only: its kernel starts with the first assembly loaded (aws_cdk's import)

    installed = jsii.__version__
    if installed != JSII_VERSION:
        return False
    base = cache_dir(environ)
    try:
        program = _kernel_program(base / f"jsii-{installed}")
    except OSError:
        return False
    environ["MLOPS_JSII_PROGRAM"] = str(program)
    environ["MLOPS_JSII_COMPILE_CACHE"] = str(base / "node-compile-cache")
    environ["JSII_NODE"] = str(HERE / "launch.sh")
    environ["JSII_RUNTIME"] = str(HERE / "kernel.js")
    return True
