"""The CDK ``App`` as the platform's app (``app.py``) creates it, before any validation plugin, and the settings of
its process.

A module of its own because ``app.py`` imports the whole platform: the benchmark's floor
(``bench/empty_app.py``) creates its app with the same settings without paying for that import. Importing it does
not import aws_cdk, so that :func:`tune_for_one_synthesis` can run before that import.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import aws_cdk as cdk


def new_bare_app(**props: Any) -> cdk.App:
    """A ``cdk.App`` without CDK's built-in template validation (``app.new_app`` adds it back when the
    synthesis asks for validation) and without construct creation stack traces.

    ``props`` go to ``cdk.App`` (``context``, ``outdir``...); the CLI's context comes first.
    """
    # No stack trace of each resource's creation either: from Python, CDK sees only jsii's own frames
    # ("no user code"), so the traces cost time and tell nothing. (cx-api's DISABLE_CREATION_STACK_TRACES,
    # "for performance reasons"; `cdk --debug` turns them back on.)
    import aws_cdk as cdk

    return cdk.App(
        builtin_cloud_formation_validation=False,
        post_cli_context={"aws:cdk:disable-creation-stack-traces": True},
        **props,
    )


def tune_for_one_synthesis() -> None:
    """Settings of the Python process for a run that synthesizes once and exits (``app.py`` as a script,
    and the benchmark's floor): Python's cyclic garbage collector is turned off. Call it before ``import aws_cdk``.

    jsii keeps every object that crosses into aws-cdk-lib alive in its reference map until the process
    exits, and the classes of aws-cdk-lib's bindings are most of the heap, so the collector's passes scan an ever
    larger heap and find next to nothing. Turned off once the imports were done, it saved ~0.2 s of a ~3 s default
    synthesis (~430 passes after the imports, ~2,400 objects collected; the same peak memory either way, measured with
    ``gc.get_stats()`` and ``ru_maxrss`` at exit); turned off before them, another ~0.15 s (``import app`` alone ran
    it 469 times, 3 of them over the whole heap). docs/performance.md has both. Not for processes that live on
    (tests).
    """
    gc.disable()


def exit_after_synthesis(code: int) -> NoReturn:
    """End a run that synthesized once (``app.py`` as a script, the benchmark's floor) with exit status ``code``,
    without Python's interpreter teardown.

    The exit handlers run first, as at any exit: jsii's stops its Node kernel and waits for it, so the kernel
    removes its work directory and writes Node's compile cache and the preload list (``jsii_launcher``). What is
    skipped is the teardown after them, which frees every object one by one: the bindings of each aws-cdk-lib
    module imported and every object jsii keeps for the process's lifetime. ~0.3 s of a default synthesis, growing
    with the platform's size; ~0.05 s of the floor (``python -O app.py`` in a loop, time from ``main``'s return to the
    process's end, docs/performance.md). Output written before is flushed.

    ``atexit._run_exitfuncs`` is CPython's (what ``multiprocessing`` runs before its own ``os._exit``); elsewhere this
    is a plain ``sys.exit``.
    """
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(code)
