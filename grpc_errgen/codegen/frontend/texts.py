"""How protovalidate writes rule operands inside violation messages, and the RE2 syntax check of patterns.

Used by the front ends while they build rules; nothing here runs in a server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import re2


def regex_problem(pattern: str) -> str | None:
    """Why RE2 cannot compile ``pattern``, or None."""
    options = re2.Options()
    options.log_errors = (
        False  # the reason is reported to the user, not printed by RE2 itself
    )
    try:
        re2.compile(pattern, options=options)
    except (
        Exception
    ) as exc:  # re2.error, and anything else the binding raises on bad input
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        return str(reason) or type(exc).__name__
    return None


def format_number(value: float | int | bool) -> str:
    """A number as protovalidate prints it: ``10000000000`` for 1e10, ``0.1``, ``2`` for 2.0, no exponents."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _fraction(nanos: int) -> str:
    return f".{nanos:09d}".rstrip("0") if nanos else ""


def format_duration(seconds: int, nanos: int) -> str:
    """``1.5s``, ``-2.5s``, ``0.000001s``."""
    total = seconds * 1_000_000_000 + nanos
    sign = "-" if total < 0 else ""
    whole, part = divmod(abs(total), 1_000_000_000)
    return f"{sign}{whole}{_fraction(part)}s"


def format_timestamp(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC with the fraction trimmed: ``1970-01-01T00:00:01.5Z``."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(nanos) + "Z"


def format_bytes_text(value: bytes) -> str:
    """Bytes inside a list, as protovalidate prints them: the text, invalid UTF-8 replaced."""
    return value.decode("utf-8", errors="replace")


def format_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"
