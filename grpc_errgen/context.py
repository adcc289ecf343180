"""Per-call values a handler can read: the caller's principal and the request id.

The server chain sets them in a ``contextvars`` context around each call (sync handlers in the thread pool,
generator handlers across yields, aio coroutines and async generators), and resets them when the call ends,
so a handler never sees another call's values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, init=False)
class Principal:
    """Who is calling: ``subject`` (a user or service id), the granted ``scopes``, and any other ``claims``.

    ``scopes`` takes any iterable of strings (a list from a token, a set, a generator) and is kept as a
    ``frozenset``; a bare ``str`` is refused (it would become the set of its characters).
    """

    subject: str
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(hash=False)

    def __init__(
        self,
        subject: str,
        scopes: Iterable[str] = frozenset(),
        claims: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(scopes, str | bytes):
            raise TypeError(
                f"Principal scopes must be an iterable of strings, not a bare {type(scopes).__name__} "
                f"(write scopes={{{scopes!r}}} or scopes=[...])"
            )
        kept = frozenset(scopes)
        odd = [scope for scope in kept if not isinstance(scope, str)]
        if odd:
            raise TypeError(
                f"Principal scopes must be strings, not {type(odd[0]).__name__}"
            )
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "scopes", kept)
        object.__setattr__(self, "claims", {} if claims is None else claims)


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
