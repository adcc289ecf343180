"""The auth tests' service: one proto (all four arities, an open method, an extra-scope method), its
servicers (sync and aio, each reporting ``current_principal()``), the tokens of the fail-closed matrix,
and the authenticators the servers use.

Built once per test session (``vault()``); the proto package ``authsrv.v1`` belongs to the auth tests.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import jwt

from grpc_errgen import current_principal
from grpc_errgen.auth import JWTAuthenticator
from grpc_errgen.context import Principal
from tests.support import build, load

PROTO = """
syntax = "proto3";
package authsrv.v1;
import "grpc_errgen/options.proto";

message Req { string text = 1; }
message Resp { string subject = 1; repeated string scopes = 2; string text = 3; string authorization = 4; }

service Vault {
  option (errgen.service) = { auth_required: true scopes: "x" };
  rpc Get(Req) returns (Resp);
  rpc List(Req) returns (stream Resp);
  rpc Put(stream Req) returns (Resp);
  rpc Chat(stream Req) returns (stream Resp);
  rpc Health(Req) returns (Resp) { option (errgen.method) = { auth_required: false }; }
  rpc Admin(Req) returns (Resp) { option (errgen.method) = { scopes: "admin" }; }
}
"""

SECRET = "the-vault-test-secret-is-long-enough-for-hs256"
#: Text an exploding authenticator raises with; it must never reach a client.
LEAK = "LEAKED-db-password-hunter2"
EXPLODING_TOKEN = "explode"
#: How long the slow authenticator takes per call (``slow-`` tokens).
SLOW_SECONDS = 0.3


class Vault(NamedTuple):
    pb2: ModuleType
    grpc: ModuleType
    errgen: ModuleType


@functools.cache
def vault() -> Vault:
    out = Path(tempfile.mkdtemp(prefix="authsrv-"))
    build(out, {"authsrv/v1/vault.proto": PROTO})
    return Vault(
        load("authsrv.v1.vault_pb2"),
        load("authsrv.v1.vault_pb2_grpc"),
        load("authsrv.v1.vault_errgen"),
    )


def token(
    subject: str = "alice", scope: str = "x", *, expires_in: int = 60, key: str = SECRET
) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": subject, "scope": scope, "iat": now, "exp": now + expires_in},
        key,
        algorithm="HS256",
    )


def bearer(value: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {value}"),)


#: Metadata a call sends -> it must end UNAUTHENTICATED on every auth-requiring method.
REFUSED: dict[str, tuple[tuple[str, str], ...]] = {
    "missing": (),
    "malformed": (("authorization", "Bearer"),),
    "two-words": (("authorization", f"Bearer {token()} extra"),),
    "wrong-scheme": (("authorization", f"Basic {token()}"),),
    "no-scheme": (("authorization", token()),),
    "unknown": bearer("not-a-jwt-at-all"),
    "exploding": bearer(EXPLODING_TOKEN),
    "expired": bearer(token(expires_in=-120)),
    "forged": bearer(
        token(scope="x admin", key="an-attacker-secret-that-is-long-enough!!")
    ),
}


def _verify(token: str, method: str) -> Principal:
    if token == EXPLODING_TOKEN:
        raise RuntimeError(f"identity backend unreachable: {LEAK}")
    return JWTAuthenticator(SECRET)(token, method)


def authenticate(token: str, method: str) -> Principal:
    """The sync servers' authenticator: JWT, plus an exploding token and a slow subject (``slow``)."""
    principal = _verify(token, method)
    if principal.subject.startswith("slow"):
        time.sleep(SLOW_SECONDS)
    return principal


async def authenticate_async(token: str, method: str) -> Principal:
    """The aio servers' authenticator, a coroutine function, same rules."""
    principal = _verify(token, method)
    if principal.subject.startswith("slow"):
        await asyncio.sleep(SLOW_SECONDS)
    return principal


#: The request texts every handler saw: a refused call's text must never appear here.
REACHED: list[str] = []


def describe(pb2: ModuleType, text: str, context: Any) -> Any:
    """A response naming the principal the handler sees (and the raw ``authorization`` header it got)."""
    REACHED.append(text)
    principal = current_principal()
    header = dict(context.invocation_metadata()).get("authorization", "")
    if principal is None:
        return pb2.Resp(text=text, authorization=header)
    return pb2.Resp(
        subject=principal.subject,
        scopes=sorted(principal.scopes),
        text=text,
        authorization=header,
    )


def sync_servicer() -> Any:
    v = vault()

    class Servicer(v.grpc.VaultServicer):  # type: ignore[name-defined,misc]
        def Get(self, request: Any, context: Any) -> Any:
            return describe(v.pb2, request.text, context)

        def Health(self, request: Any, context: Any) -> Any:
            return describe(v.pb2, request.text, context)

        def Admin(self, request: Any, context: Any) -> Any:
            return describe(v.pb2, request.text, context)

        def List(self, request: Any, context: Any) -> Iterator[Any]:
            for i in range(3):
                time.sleep(0.01)  # let other calls' generators interleave
                yield describe(v.pb2, f"{request.text}-{i}", context)

        def Put(self, request_iterator: Iterator[Any], context: Any) -> Any:
            texts = [request.text for request in request_iterator]
            return describe(v.pb2, ",".join(texts), context)

        def Chat(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
            for request in request_iterator:
                yield describe(v.pb2, request.text, context)

    return Servicer()


def aio_servicer() -> Any:
    v = vault()

    class Servicer(v.grpc.VaultServicer):  # type: ignore[name-defined,misc]
        async def Get(self, request: Any, context: Any) -> Any:
            await asyncio.sleep(0)
            return describe(v.pb2, request.text, context)

        async def Health(self, request: Any, context: Any) -> Any:
            return describe(v.pb2, request.text, context)

        async def Admin(self, request: Any, context: Any) -> Any:
            return describe(v.pb2, request.text, context)

        async def List(self, request: Any, context: Any) -> AsyncIterator[Any]:
            for i in range(3):
                await asyncio.sleep(0.01)  # let other calls' generators interleave
                yield describe(v.pb2, f"{request.text}-{i}", context)

        async def Put(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
            texts = [request.text async for request in request_iterator]
            return describe(v.pb2, ",".join(texts), context)

        async def Chat(
            self, request_iterator: AsyncIterator[Any], context: Any
        ) -> AsyncIterator[Any]:
            async for request in request_iterator:
                yield describe(v.pb2, request.text, context)

    return Servicer()
