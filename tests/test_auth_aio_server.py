"""Auth through the real aio chain (``grpc.aio.server``, plain aio stubs): the fail-closed matrix on every
arity, scopes, the open method, ``current_principal()`` in coroutine and async-generator handlers, no mixing,
no serialising, and the aio ``JWTAuthenticator`` as ``authenticate=``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
import pytest_asyncio

import grpc_errgen.aio
from grpc_errgen.auth import UNAUTHENTICATED_MESSAGE
from tests.auth_service import (
    LEAK,
    REACHED,
    REFUSED,
    SECRET,
    SLOW_SECONDS,
    aio_servicer,
    authenticate_async,
    bearer,
    token,
    vault,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

Metadata = tuple[tuple[str, str], ...]
KINDS = ("Get", "List", "Put", "Chat", "Admin")


async def start(authenticate: Any) -> tuple[grpc.aio.Server, str]:
    interceptors = grpc_errgen.aio.server_interceptors(
        vault().errgen, authenticate=authenticate, log=False
    )
    server = grpc.aio.server(interceptors=interceptors)
    vault().grpc.add_VaultServicer_to_server(aio_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stub() -> AsyncIterator[Any]:
    server, target = await start(authenticate_async)
    async with grpc.aio.insecure_channel(target) as channel:
        yield vault().grpc.VaultStub(channel)
    await server.stop(None)


async def requests(*texts: str) -> AsyncIterator[Any]:
    for text in texts:
        yield vault().pb2.Req(text=text)


async def call(stub: Any, kind: str, metadata: Metadata, text: str) -> list[Any]:
    """One call of ``kind``; every response it returns (raises ``grpc.RpcError`` when the call fails)."""
    req = vault().pb2.Req
    if kind == "List":
        return [r async for r in stub.List(req(text=text), metadata=metadata)]
    if kind == "Put":
        return [await stub.Put(requests(text, text), metadata=metadata)]
    if kind == "Chat":
        return [r async for r in stub.Chat(requests(text, text), metadata=metadata)]
    return [await getattr(stub, kind)(req(text=text), metadata=metadata)]


async def refused(stub: Any, kind: str, metadata: Metadata) -> Any:
    """Make a call the server must refuse; check the handler never ran; return the error.

    Request-streaming calls write nothing: the refusal comes on the headers alone, and an aio client whose
    write races the server's early status reports INTERNAL instead of that status (grpc#36066, a grpcio
    aio client bug, reproduced without grpc-errgen).
    """
    reached_before = len(REACHED)
    with pytest.raises(grpc.RpcError) as info:
        if kind == "Put":
            await stub.Put(metadata=metadata, timeout=5)
        elif kind == "Chat":
            await stub.Chat(metadata=metadata, timeout=5).read()
        else:
            await call(stub, kind, metadata, f"refused-{uuid.uuid4()}")
    assert len(REACHED) == reached_before, "a refused call reached the handler"
    return info.value


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_unauthenticated_never_reaches_handler(
    stub: Any, kind: str, case: str
) -> None:
    error = await refused(stub, kind, REFUSED[case])
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == UNAUTHENTICATED_MESSAGE
    assert LEAK not in repr(error.trailing_metadata())


@pytest.mark.parametrize(
    ("kind", "scope", "missing"),
    [
        ("Get", "", "x"),
        ("List", "y", "x"),
        ("Put", "admin", "x"),
        ("Chat", "", "x"),
        ("Admin", "x", "admin"),
        ("Admin", "", "admin x"),
    ],
)
async def test_under_scoped_is_permission_denied(
    stub: Any, kind: str, scope: str, missing: str
) -> None:
    error = await refused(stub, kind, bearer(token(scope=scope)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == f"missing scopes: {missing}"


@pytest.mark.parametrize("kind", KINDS)
async def test_valid_token_reaches_handler_with_principal(stub: Any, kind: str) -> None:
    responses = await call(stub, kind, bearer(token("alice", "x admin")), "ok")
    assert responses and all(
        r.subject == "alice" and list(r.scopes) == ["admin", "x"] for r in responses
    )


async def test_open_method_in_auth_service(stub: Any) -> None:
    req = vault().pb2.Req
    assert (await stub.Health(req(text="h"))).subject == ""
    for case, metadata in REFUSED.items():
        assert (
            await stub.Health(req(text=case), metadata=metadata)
        ).subject == "", case
    assert (
        await stub.Health(req(text="h"), metadata=bearer(token("bob", "")))
    ).subject == "bob"


async def test_principals_never_mix_across_concurrent_calls(stub: Any) -> None:
    async def one(i: int) -> list[str]:
        kind = ("Get", "List", "Put", "Chat", "Health")[i % 5]
        return [
            r.subject
            for r in await call(stub, kind, bearer(token(f"user{i}", "x")), f"mix-{i}")
        ]

    results = await asyncio.gather(*(one(i) for i in range(40)))
    for i, subjects in enumerate(results):
        assert subjects and set(subjects) == {f"user{i}"}
    req = vault().pb2.Req
    anonymous = await asyncio.gather(
        *(stub.Health(req(text="after")) for _ in range(12))
    )
    assert {r.subject for r in anonymous} == {""}


async def test_slow_authenticator_does_not_serialise_the_server(stub: Any) -> None:
    req = vault().pb2.Req
    started = time.perf_counter()
    responses = await asyncio.gather(
        *(
            stub.Get(req(text="slow"), metadata=bearer(token(f"slow{i}", "x")))
            for i in range(6)
        )
    )
    elapsed = time.perf_counter() - started
    assert [r.subject for r in responses] == [f"slow{i}" for i in range(6)]
    assert (
        elapsed < 1.0
    ), f"6 calls with a {SLOW_SECONDS}s authenticator took {elapsed:.2f}s"


async def test_aio_jwt_authenticator_as_authenticate() -> None:
    server, target = await start(grpc_errgen.aio.auth.JWTAuthenticator(SECRET))
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = vault().grpc.VaultStub(channel)
            assert [
                r.subject
                for r in await call(stub, "List", bearer(token("carol", "x")), "jwt")
            ] == ["carol"] * 3
            for case in ("expired", "forged", "unknown"):
                error = await refused(stub, "Get", REFUSED[case])
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, case
    finally:
        await server.stop(None)


async def test_bearer_token_client_helper_end_to_end() -> None:
    server, target = await start(authenticate_async)
    try:
        interceptors = grpc_errgen.aio.bearer_token(lambda: token("dave", "x admin"))
        async with grpc.aio.insecure_channel(
            target, interceptors=interceptors
        ) as channel:
            stub = vault().grpc.VaultStub(channel)
            for kind in KINDS:
                assert {r.subject for r in await call(stub, kind, (), "helper")} == {
                    "dave"
                }, kind
    finally:
        await server.stop(None)


async def test_chain_without_authenticate_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="authenticate"):
        grpc_errgen.aio.server_interceptors(vault().errgen, log=False)
