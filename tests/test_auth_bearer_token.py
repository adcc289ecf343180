"""``bearer_token``: the client helper puts ``authorization: Bearer <token>`` on every call, all four kinds,
sync and aio, against a plain server (no chain) that echoes the header it received."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from typing import Any

import grpc
import grpc.aio
import pytest

import grpc_errgen
import grpc_errgen.aio
from tests.auth_service import sync_servicer, vault


@pytest.fixture(scope="module")
def plain_server() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    vault().grpc.add_VaultServicer_to_server(sync_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def headers_of_all_kinds(stub: Any) -> list[str]:
    """The ``authorization`` header the server saw on one call of each kind."""
    req = vault().pb2.Req
    seen = [stub.Get(req(text="a")).authorization]
    seen += [r.authorization for r in stub.List(req(text="b"))]
    seen.append(stub.Put(iter([req(text="c")])).authorization)
    seen += [r.authorization for r in stub.Chat(iter([req(text="d"), req(text="e")]))]
    return seen


def test_fixed_token_on_every_kind(plain_server: str) -> None:
    with grpc.insecure_channel(plain_server) as channel:
        stub = vault().grpc.VaultStub(
            grpc.intercept_channel(channel, *grpc_errgen.bearer_token("tok-1"))
        )
        assert headers_of_all_kinds(stub) == ["Bearer tok-1"] * 7


def test_callable_is_called_per_call_and_replaces_hand_written_header(
    plain_server: str,
) -> None:
    counter = itertools.count()
    with grpc.insecure_channel(plain_server) as channel:
        intercepted = grpc.intercept_channel(
            channel, *grpc_errgen.bearer_token(lambda: f"t{next(counter)}")
        )
        stub = vault().grpc.VaultStub(intercepted)
        seen = headers_of_all_kinds(stub)
        assert seen == [
            "Bearer t0",
            "Bearer t1",
            "Bearer t1",
            "Bearer t1",
            "Bearer t2",
            "Bearer t3",
            "Bearer t3",
        ]
        req = vault().pb2.Req
        response = stub.Get(
            req(text="x"), metadata=(("authorization", "Bearer stale"), ("x-keep", "1"))
        )
        assert response.authorization == "Bearer t4"


@pytest.mark.parametrize("bad", ["", "two words", "tab\there"])
def test_malformed_fixed_token_refused_early(bad: str) -> None:
    with pytest.raises(ValueError):
        grpc_errgen.bearer_token(bad)
    with pytest.raises(ValueError):
        grpc_errgen.aio.bearer_token(bad)


async def aio_headers_of_all_kinds(stub: Any) -> list[str]:
    req = vault().pb2.Req

    async def requests(*texts: str) -> AsyncIterator[Any]:
        for text in texts:
            yield req(text=text)

    seen = [(await stub.Get(req(text="a"))).authorization]
    seen += [r.authorization async for r in stub.List(req(text="b"))]
    seen.append((await stub.Put(requests("c"))).authorization)
    seen += [r.authorization async for r in stub.Chat(requests("d", "e"))]
    return seen


async def test_aio_fixed_token_on_every_kind(plain_server: str) -> None:
    async with grpc.aio.insecure_channel(
        plain_server, interceptors=grpc_errgen.aio.bearer_token("tok-2")
    ) as channel:
        assert (
            await aio_headers_of_all_kinds(vault().grpc.VaultStub(channel))
            == ["Bearer tok-2"] * 7
        )


async def test_aio_callable_is_called_per_call(plain_server: str) -> None:
    counter = itertools.count()
    interceptors = grpc_errgen.aio.bearer_token(lambda: f"t{next(counter)}")
    assert len({type(i) for i in interceptors}) == 4
    async with grpc.aio.insecure_channel(
        plain_server, interceptors=interceptors
    ) as channel:
        seen = await aio_headers_of_all_kinds(vault().grpc.VaultStub(channel))
        assert seen == [
            "Bearer t0",
            "Bearer t1",
            "Bearer t1",
            "Bearer t1",
            "Bearer t2",
            "Bearer t3",
            "Bearer t3",
        ]
        stub = vault().grpc.VaultStub(channel)
        response = await stub.Get(
            vault().pb2.Req(text="x"), metadata=(("authorization", "Bearer stale"),)
        )
        assert response.authorization == "Bearer t4"
