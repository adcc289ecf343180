"""The deadline of the call being served: ``time_remaining()`` for handlers, and for deadline propagation.

The server chain (sync and aio) puts the call's servicer context in ``SERVING`` for the handler (a
``contextvars`` variable, so each call sees its own); ``time_remaining()`` asks it. The client interceptors
read it too: a call made from inside a handler gets at most the time the served call has left.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Final

#: The servicer context of the call being handled (None outside a call).
SERVING: ContextVar[Any] = ContextVar("grpc_errgen_serving", default=None)

#: grpcio's sync server answers ``time_remaining()`` with about 9.2e18 seconds for a call without a deadline.
NO_DEADLINE: Final = 1e15


def time_remaining() -> float | None:
    """Seconds left before the deadline of the call being handled; None without a deadline (or outside a
    call). Never negative."""
    context = SERVING.get()
    if context is None:
        return None
    remaining = context.time_remaining()
    if remaining is None or remaining > NO_DEADLINE:
        return None
    return max(0.0, float(remaining))


__all__ = ["SERVING", "time_remaining"]
