"""JSONata for moto's Step Functions interpreter.

moto 5 parses JSONata states (``"QueryLanguage": "JSONata"``) but evaluates their expressions through a
JVM bridge it does not ship (``moto.stepfunctions.parser.asl.jsonata.jsonata._eval_jsonata`` stays
``None``). :func:`jsonata_in_moto` plugs in jsonata-python, a port of the reference JSONata
implementation, for the duration of a block, so the platform's JSONata states run in the tests as in AWS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import jsonata
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata


def evaluate(expression: str) -> Any:
    """One JSONata expression, as moto composes it (its variables declared in the expression itself)."""
    return jsonata.Jsonata(expression).evaluate(None)


@contextlib.contextmanager
def jsonata_in_moto() -> Iterator[None]:
    original = moto_jsonata._eval_jsonata
    moto_jsonata._eval_jsonata = evaluate
    try:
        yield
    finally:
        moto_jsonata._eval_jsonata = original
