"""The CDK ``App`` as the platform's app (``app.py``) creates it, before any validation plugin.

A module of its own because ``app.py`` imports the whole platform: the benchmark's floor
(``bench/empty_app.py``) creates its app with the same settings without paying for that import.
"""

from __future__ import annotations

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
