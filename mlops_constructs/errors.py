"""Errors raised for invalid construct properties."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class PropsError(ValueError):
    """A construct received a property value it cannot use.

    The message names the construct, the property, the value received and what is allowed, so that a
    caller sees a one-line explanation instead of a jsii stack trace.
    """

    def __init__(self, construct: str, prop: str, value: Any, allowed: str) -> None:
        self.construct, self.prop, self.value, self.allowed = construct, prop, value, allowed
        super().__init__(f"{construct}: {prop}: {allowed} (got {value!r})")


def check_choices(construct: str, prop: str, values: Iterable[str], allowed: Iterable[str]) -> None:
    """Raise :class:`PropsError` naming the first of ``values`` that is not one of ``allowed``."""
    allowed = sorted(allowed)
    for value in values:
        if value not in allowed:
            raise PropsError(construct, prop, value, f"each entry must be one of {', '.join(allowed)}")
