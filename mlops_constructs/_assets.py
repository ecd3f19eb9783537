"""Where the runtime code of the platform's functions is found.

The code lives in the repository's ``lambda/<name>/`` folders. ``mlops_constructs/_lambda`` links to
that folder, so an editable install reads it in place and a built wheel carries a copy.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_

_RUNTIME_ROOT = Path(__file__).resolve().parent / "_lambda"
# Tests and caches beside the handler are not part of what is deployed.
_NOT_DEPLOYED = ["tests", "__pycache__", "*.pyc", ".pytest_cache", "requirements-dev.txt"]


IMAGE_BUILD_EXCLUDES = ["**/__pycache__", "**/*.pyc"]
"""Left out of a Docker image asset's build context (Docker's ignore syntax): Python's bytecode caches,
which a local run or test may have written beside the sources. They would change the asset's hash, and so
the image and every job that runs it, without a change to the code."""


def runtime_dir(name: str) -> Path:
    path = _RUNTIME_ROOT / name
    if not (path / "handler.py").is_file():
        raise FileNotFoundError(f"runtime code {name!r} not found at {path}: is the package installed completely?")
    return path


def runtime_code(name: str) -> lambda_.Code:
    """The deployment asset of function ``name`` (``lambda/<name>/``), without its tests."""
    return lambda_.Code.from_asset(str(runtime_dir(name)), exclude=_NOT_DEPLOYED)
