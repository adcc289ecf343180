"""The deadline of the call being served: ``time_remaining()`` for handlers, and for deadline propagation.

The server chain (sync and aio) puts the call being served in ``context.CURRENT_CALL`` for the handler (a
``contextvars`` variable, so each call sees its own); ``time_remaining()`` asks its servicer context. The
client interceptors read it too: a call made from inside a handler gets at most the time the served call has
left.
"""

from __future__ import annotations

from typing import Final

from grpc_errgen.context import CURRENT_CALL

#: grpcio's sync server answers ``time_remaining()`` with about 9.2e18 seconds for a call without a deadline.
NO_DEADLINE: Final = 1e15


def time_remaining() -> float | None:
    """Seconds left before the deadline of the call being handled; None without a deadline (or outside a
    call). Never negative."""
    call = CURRENT_CALL.get()
    context = None if call is None else call.servicer_context
    if context is None:
        return None
    remaining = context.time_remaining()
    if remaining is None or remaining > NO_DEADLINE:
        return None
    return max(0.0, float(remaining))


__all__ = ["time_remaining"]
