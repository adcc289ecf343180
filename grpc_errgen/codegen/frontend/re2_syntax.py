"""The RE2 syntax check of user patterns, for the front ends (nothing here runs in a server)."""

from __future__ import annotations

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
