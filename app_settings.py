"""The CDK ``App`` as the platform's app (``app.py``) creates it, before any validation plugin.

A module of its own because ``app.py`` imports the whole platform: the benchmark's floor
(``bench/empty_app.py``) creates its app with the same settings without paying for that import.
"""

from __future__ import annotations

import gc
from typing import Any

import aws_cdk as cdk


def new_bare_app(**props: Any) -> cdk.App:
    """A ``cdk.App`` without CDK's built-in template validation (``app.new_app`` adds it back when the
    synthesis asks for validation) and without construct creation stack traces.

    ``props`` go to ``cdk.App`` (``context``, ``outdir``...); the CLI's context comes first.
    """
    # No stack trace of each resource's creation either: from Python, CDK sees only jsii's own frames
    # ("no user code"), so the traces cost time and tell nothing. (cx-api's DISABLE_CREATION_STACK_TRACES,
    # "for performance reasons"; `cdk --debug` turns them back on.)
    return cdk.App(
        builtin_cloud_formation_validation=False,
        post_cli_context={"aws:cdk:disable-creation-stack-traces": True},
        **props,
    )


def tune_for_one_synthesis() -> None:
    """Settings of the Python process for a run that synthesizes once and exits (``app.py`` as a script,
    and the benchmark's floor): Python's cyclic garbage collector is turned off.

    jsii keeps every object that crosses into aws-cdk-lib alive in its reference map until the process
    exits, so the collector's passes scan an ever larger heap and find next to nothing: ~2,400 objects in
    ~430 passes over a default synthesis, about 0.2 s of its ~3 s, with the same peak memory either way
    (measured with ``gc.get_stats()`` and ``ru_maxrss`` at exit). Not for processes that live on (tests).
    """
    gc.disable()
