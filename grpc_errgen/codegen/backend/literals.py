"""Python literals for model values, written the way black writes them (so the output is black-stable)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

Value = (
    str | bytes | bool | int | float | None | Sequence["Value"] | Mapping[str, "Value"]
)


@lru_cache(maxsize=8192)
def _string(value: str) -> str:
    text = repr(value)
    if text.startswith("'"):
        # black prefers double quotes unless that needs more escapes than single quotes.
        body = text[1:-1]
        double = body.replace("\\'", "'").replace('"', '\\"')
        if double.count('\\"') <= body.count("\\'"):
            text = f'"{double}"'
    return text


def _bytes(value: bytes) -> str:
    inner = "".join(
        chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\x{b:02x}"
        for b in value
    )
    return f'b"{inner}"'


def literal(value: Value) -> str:
    """A Python literal for ``value``, quoted and spelled the way black writes it."""
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bytes):
        return _bytes(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f'float("{value}")'
        return repr(value).replace("e+", "e")  # black writes 1e30, not 1e+30
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def tuple_of(expressions: Sequence[str]) -> str:
    """A tuple display of source ``expressions`` as black writes it on one line."""
    return (
        f"({expressions[0]},)"
        if len(expressions) == 1
        else f"({', '.join(expressions)})"
    )


def docstring(text: str, indent: str = "") -> str:
    """A docstring holding ``text`` (a proto comment) exactly, indented by ``indent``; "" when ``text`` is empty."""
    if not text:
        return ""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body += " "
    lines = body.split("\n")
    if len(lines) == 1:
        return f'{indent}"""{body}"""'
    inner = "\n".join((indent + line) if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{inner}\n{indent}"""'
