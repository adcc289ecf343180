"""Per-call values a handler can read: the caller's principal and the request id.

The server chain sets them in a ``contextvars`` context around each call (sync handlers in the thread pool,
generator handlers across yields, aio coroutines and async generators), and resets them when the call ends,
so a handler never sees another call's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``subject`` (a user or service id), the granted ``scopes``, and any other ``claims``."""

    subject: str
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept any iterable of scopes (a list from a token) but keep the frozen set the type promises.
        if not isinstance(self.scopes, frozenset):
            object.__setattr__(self, "scopes", frozenset(self.scopes))


PRINCIPAL: ContextVar[Principal | None] = ContextVar(
    "grpc_errgen_principal", default=None
)
REQUEST_ID: ContextVar[str | None] = ContextVar("grpc_errgen_request_id", default=None)


def current_principal() -> Principal | None:
    """The principal of the call being handled, or None (no auth on this rpc and no valid token)."""
    return PRINCIPAL.get()


def current_request_id() -> str | None:
    """The request id of the call being handled (``x-request-id`` or a new uuid4), or None outside a call."""
    return REQUEST_ID.get()
