"""A small Velocity (VTL) evaluator for API Gateway mapping templates, enough for InferenceApi's.

No VTL package is installed here (airspeed, the usual pure-Python Velocity, is not a dependency of the
project), so this renders the subset InferenceApi's templates use, as API Gateway documents it
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html):

- references ``$name.member.method('arg')`` and quiet references ``$!name...`` (a null renders as nothing;
  a plain null reference renders as written, as Velocity does), in text and in double-quoted strings;
- ``#set($ref = "string" | number)``, where ``$ref`` may be a path (``$context.responseOverride.status``);
- ``#if(<call or comparison>)`` / ``#elseif`` / ``#else`` / ``#end``, a condition being one reference,
  ``!ref``, or ``a == b`` / ``a != b``, joined with ``&&`` / ``||``;
- ``$input.path('$.a.b')`` (a JSONPath of dots only), ``$input.body``, ``$input.json('$')``, and the Java string
  methods ``contains``, ``startsWith``, ``endsWith``, ``matches``, ``length``.

Anything else raises ``VtlError``, so a template that grows past the subset fails its test instead of being
rendered wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class VtlError(ValueError):
    """The template uses VTL this evaluator does not render."""


_NULL = object()


@dataclass
class Input:
    """``$input``: the body the template maps."""

    body: str

    def path(self, expression: str) -> Any:
        if not re.fullmatch(r"\$(\.[A-Za-z_][\w]*)*", expression):
            raise VtlError(f"JSONPath {expression!r} is beyond the subset ($.a.b)")
        try:
            value: Any = json.loads(self.body) if self.body.strip() else {}
        except json.JSONDecodeError:
            return _NULL
        for key in expression.split(".")[1:]:
            if not isinstance(value, dict) or key not in value:
                return _NULL
            value = value[key]
        return _NULL if value is None else value

    def json(self, expression: str) -> str:
        value = self.path(expression)
        return "null" if value is _NULL else json.dumps(value)


@dataclass
class Rendered:
    body: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def status_override(self) -> int | None:
        value = self.context.get("responseOverride", {}).get("status")
        return None if value is None else int(value)


_STRING_METHODS = {
    "contains": lambda s, a: a in s,
    "startsWith": lambda s, a: s.startswith(a),
    "endsWith": lambda s, a: s.endswith(a),
    "matches": lambda s, a: re.fullmatch(a, s) is not None,
    "length": lambda s: len(s),
}
_REFERENCE = re.compile(r"\$(!?)\{?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*(?:\((?:'[^']*'|\"[^\"]*\")?\))?)*)\}?")
_PART = re.compile(r"([A-Za-z_]\w*)(\(((?:'[^']*'|\"[^\"]*\"))?\))?")


def render(template: str, *, body: str = "", context: dict[str, Any] | None = None) -> Rendered:
    """Render ``template`` with ``$input`` over ``body`` and ``$context`` (``requestId`` and the like)."""
    variables: dict[str, Any] = {"input": Input(body), "context": dict(context or {})}
    out: list[str] = []
    # a stack of (this branch is rendered, some branch of this #if was taken)
    stack: list[tuple[bool, bool]] = []

    def active() -> bool:
        return all(on for on, _ in stack)

    for line in template.split("\n"):
        stripped = line.strip()
        directive = re.match(r"#(set|if|elseif|else|end)\b", stripped)
        if directive is None:
            if stripped.startswith("#"):
                raise VtlError(f"directive beyond the subset: {stripped!r}")
            if active():
                out.append(_interpolate(line, variables))
            continue
        kind = directive[1]
        if kind == "set":
            if active():
                _set(stripped, variables)
        elif kind == "if":
            taken = active() and _condition(_parenthesized(stripped, "#if"), variables)
            stack.append((taken, taken))
        elif kind == "elseif":
            _, done = stack.pop()
            outer = active()
            taken = outer and not done and _condition(_parenthesized(stripped, "#elseif"), variables)
            stack.append((taken, done or taken))
        elif kind == "else":
            _, done = stack.pop()
            stack.append((not done, True))
        else:
            stack.pop()
    if stack:
        raise VtlError("#if without #end")
    return Rendered("\n".join(out), variables["context"])


def _parenthesized(line: str, directive: str) -> str:
    match = re.fullmatch(re.escape(directive) + r"\s*\((.*)\)", line)
    if match is None:
        raise VtlError(f"cannot read {line!r}")
    return match[1]


def _set(line: str, variables: dict[str, Any]) -> None:
    match = re.fullmatch(r"#set\s*\(\s*\$([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*=\s*(.+?)\s*\)", line)
    if match is None:
        raise VtlError(f"cannot read {line!r}")
    path, value = match[1].split("."), _value(match[2], variables)
    target = variables
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _value(text: str, variables: dict[str, Any]) -> Any:
    text = text.strip()
    if re.fullmatch(r'"[^"]*"', text):
        return _interpolate(text[1:-1], variables)
    if re.fullmatch(r"'[^']*'", text):
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("$"):
        match = _REFERENCE.fullmatch(text)
        if match is None:
            raise VtlError(f"cannot read {text!r}")
        value = _resolve(match[2], variables)
        return None if value is _NULL else value
    raise VtlError(f"value beyond the subset: {text!r}")


def _condition(text: str, variables: dict[str, Any]) -> bool:
    if "||" in text:
        return any(_condition(part, variables) for part in text.split("||"))
    if "&&" in text:
        return all(_condition(part, variables) for part in text.split("&&"))
    text = text.strip()
    for operator in ("==", "!="):
        if operator in text:
            left, right = (_value(part, variables) for part in text.split(operator, 1))
            return (left == right) == (operator == "==")
    negated = text.startswith("!")
    value = _value(text[1:] if negated else text, variables)
    truth = value is not None and value is not False
    return not truth if negated else truth


def _interpolate(text: str, variables: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = _resolve(match[2], variables)
        if value is _NULL:
            return "" if match[1] else match[0]
        return str(value).lower() if isinstance(value, bool) else str(value)

    return _REFERENCE.sub(replace, text)


def _resolve(reference: str, variables: dict[str, Any]) -> Any:
    parts = [(m[1], m[2] is not None, m[3]) for m in _PART.finditer(reference)]
    name, call, _ = parts[0]
    if call or name not in variables:
        return _NULL
    value: Any = variables[name]
    for member, called, argument in parts[1:]:
        arguments = [] if argument is None else [argument[1:-1]]
        if isinstance(value, Input):
            if member == "body" and not called:
                value = value.body
            elif member in ("path", "json") and called:
                value = getattr(value, member)(*arguments)
            else:
                raise VtlError(f"$input.{member} is beyond the subset")
        elif isinstance(value, str) and called:
            if member not in _STRING_METHODS:
                raise VtlError(f"string method {member} is beyond the subset")
            value = _STRING_METHODS[member](value, *arguments)
        elif isinstance(value, dict) and not called:
            value = value.get(member, _NULL)
        else:
            return _NULL
        if value is _NULL:
            return _NULL
    return value
