"""The one set of property validators every construct uses.

Each check raises :class:`~mlops_constructs.errors.PropsError` naming the construct, the property, the value
received and what is allowed, instead of the jsii ``TypeError`` or CloudFormation failure it would become.
Like aws-cdk-lib's own validation (``Bucket``'s name checks), a check of a literal lets a token through:
``store.repository.repository_uri_for_tag("1")`` or ``Fn.import_value(...)`` are only known at deploy time.
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterable
from typing import Any, TypeVar

from jsii._reference_map import InterfaceDynamicProxy  # jsii is pinned (constraints.txt); tests/test_validate.py

from mlops_constructs.errors import PropsError

T = TypeVar("T")

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


# How aws-cdk-lib encodes a token in a string or a number (core/lib/private/encoding.ts, ``unresolved``), so that
# recognizing one costs no round trip to jsii's Node process: a string holds "${Token[<key>]}" or, once it
# contains "Token[", a stringified number token; a number token is a double whose top 16 bits are 0xFBFF.
# tests/test_validate.py checks ``is_token`` against ``Token.is_unresolved`` of the installed aws-cdk-lib.
_ANY_TOKEN_MARKER = "Token["
_STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}|-1\.[0-9]{10,16}e\+289")
_NUMBER_TOKEN_BITS = 0xFBFF


def is_token(value: Any) -> bool:
    """Whether ``value`` is (or holds) a CDK token, a value only known at deploy time: the answer of
    ``Token.is_unresolved`` for a string or a number, worked out here; anything else is not one."""
    if isinstance(value, str):
        return _ANY_TOKEN_MARKER in value and _STRING_TOKEN.search(value) is not None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double: Infinity to JavaScript, not a token
        return False
    return struct.unpack("<Q", struct.pack("<d", number))[0] >> 48 == _NUMBER_TOKEN_BITS


def check_type(construct: str, prop: str, value: Any, *types: type, optional: bool = False) -> None:
    """``value`` is an instance of one of ``types`` (``None`` too when ``optional``). ``bool`` is not taken
    for ``int`` or ``float``, and an ``int`` is taken for ``float``."""
    if value is None and optional:
        return
    accepted = types + ((int,) if float in types else ())
    if isinstance(value, accepted) and not (isinstance(value, bool) and bool not in types):
        return
    names = [_TYPE_NAMES.get(t, t.__name__) for t in types]
    allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    raise PropsError(construct, prop, value, f"must be {allowed}{' (or None)' if optional else ''}")


def check_interface(construct: str, prop: str, value: Any, member: str, allowed: str, *, optional: bool = False) -> None:
    """``value`` implements a CDK interface, recognized by one of its members (jsii's interfaces are
    protocols that ``isinstance`` cannot check): ``check_interface(..., "repository_arn", "must be an
    ecr.IRepository")``."""
    if value is None and optional:
        return
    if isinstance(value, (str, int, float, bool, list, tuple, dict)):
        raise PropsError(construct, prop, value, allowed)
    # The classes first: on a jsii object, reading the member itself is a round trip to Node that returns its
    # value. jsii hands an object typed by several interfaces over as a proxy of one delegate per interface.
    classes = [type(d) for d in value._delegates] if isinstance(value, InterfaceDynamicProxy) else [type(value)]
    if not any(hasattr(c, member) for c in classes) and not hasattr(value, member):
        raise PropsError(construct, prop, value, allowed)


def check_range(construct: str, prop: str, value: Any, low: float | None = None, high: float | None = None,
                *, integer: bool = True, unit: str = "") -> None:
    """``value`` is a number (an integer when ``integer``) from ``low`` to ``high``; a token passes."""
    if is_token(value):
        return
    check_type(construct, prop, value, int if integer else float)
    suffix = f" {unit}" if unit else ""
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"from {low} to {high}{suffix}"
        elif low is not None:
            bounds = f"at least {low}{suffix}"
        else:
            bounds = f"at most {high}{suffix}"
        raise PropsError(construct, prop, value, f"must be {bounds}")


def check_pattern(construct: str, prop: str, value: Any, pattern: re.Pattern[str], allowed: str, *, optional: bool = False) -> None:
    """``value`` is a string that ``pattern`` matches in full, described by ``allowed``; a token passes."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise PropsError(construct, prop, value, allowed)
    if not is_token(value) and not pattern.fullmatch(value):
        raise PropsError(construct, prop, value, allowed)


def check_choice(construct: str, prop: str, value: Any, choices: Iterable[Any]) -> None:
    """``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise PropsError(construct, prop, value, f"must be one of {', '.join(map(str, options))}")


def renamed(construct: str, new: str, new_value: T | None, old: str, old_value: T | None) -> T | None:
    """The value of a property renamed from ``old`` to ``new``: the new one, or the old one with a
    ``DeprecationWarning`` (the old name stays for one minor version, see CHANGELOG.md); both is an error."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise PropsError(construct, old, old_value, f"is the deprecated name of {new}, which is also given: pass only {new}")
    warnings.warn(f"{construct}: {old} is deprecated, use {new} (removed in the next minor version)", DeprecationWarning,
                  stacklevel=_caller_level())
    return old_value


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this library and jsii's runtime (a construct's
    ``__init__`` is called through jsii's metaclass), so a warning points at the user's line."""
    import sys

    frame, level = sys._getframe(2), 2  # the caller of renamed()
    while frame is not None and any(part in frame.f_code.co_filename for part in ("/mlops_constructs/", "/jsii/")):
        frame, level = frame.f_back, level + 1
    return level
