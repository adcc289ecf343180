"""aio client interceptors against a real grpc.aio.server: every rpc kind really runs through them (typed
exceptions, streams failing mid-way, broken details), request ids and pre-send validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from grpc_errgen import aio, errors, validation
from grpc_errgen.errors import ValidationError, Violation
from tests.client_service import AsyncShop, aio_server, shop


@pytest.fixture(params=[False, True], ids=["wire", "chain"])
async def server(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[str, AsyncShop]]:
    async with aio_server(chain=request.param) as running:
        yield running


@pytest.fixture
async def stub(server: tuple[str, AsyncShop]) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(
        server[0], interceptors=aio.client_interceptors(shop().errgen)
    ) as channel:
        yield shop().pb2_grpc.ShopStub(channel)


def req(mode: str = "ok", **fields: Any) -> Any:
    return shop().pb2.Req(mode=mode, **fields)


async def requests(*items: Any) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def test_success_keeps_the_call_api(stub: Any) -> None:
    call = stub.Get(req(text="a"))
    assert (await call).text == "a"
    assert await call.code() == grpc.StatusCode.OK


async def test_declared_error_raises_catalogue_class(stub: Any) -> None:
    with pytest.raises(shop().errgen.OrderNotFound) as caught:
        await stub.Get(req("declared", text="o-9"))
    error = caught.value
    assert isinstance(error, grpc.RpcError) and isinstance(error, errors.NotFound)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "order not found"
    assert error.metadata == {"order_id": "o-9"}
    assert any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata())


async def test_code_class_and_validation_error(stub: Any) -> None:
    with pytest.raises(errors.NotFound) as not_found:
        await stub.Get(req("status"))
    assert type(not_found.value) is errors.NotFound
    with pytest.raises(ValidationError) as invalid:
        await stub.Get(req("invalid"))
    assert invalid.value.violations == [
        Violation("items[0].sku", "string.min_len", "must be at least 3 characters")
    ]


@pytest.mark.parametrize("mode", ["malformed", "mismatch"])
async def test_broken_details_fall_back_to_code_class(stub: Any, mode: str) -> None:
    with pytest.raises(errors.NotFound) as caught:
        await stub.Get(req(mode))
    assert type(caught.value) is errors.NotFound


async def test_oversized_details_fall_back_to_code_class(stub: Any) -> None:
    with pytest.raises(errors.RpcException) as caught:
        await stub.Get(req("oversized"))
    assert type(caught.value) is errors.ResourceExhausted


async def test_server_stream_yields_then_raises(stub: Any) -> None:
    received = []
    with pytest.raises(shop().errgen.OrderNotFound):
        async for response in stub.List(req("declared", count=3)):
            received.append(response.index)
    assert received == [0, 1, 2]


async def test_server_stream_read_api(stub: Any) -> None:
    call = stub.List(req("status", count=1))
    assert (await call.read()).index == 0
    with pytest.raises(errors.NotFound):
        await call.read()
    ok = stub.List(req(count=1))
    assert (await ok.read()).index == 0
    assert await ok.read() is grpc.aio.EOF
    assert await ok.code() == grpc.StatusCode.OK


async def test_client_stream_raises_typed(stub: Any) -> None:
    assert (await stub.Put(requests(req(text="a"), req(text="b")))).text == "a,b"
    with pytest.raises(shop().errgen.OrderNotFound):
        await stub.Put(requests(req(text="a"), req("declared")))
    with pytest.raises(ValidationError):
        await stub.Put(iter([req("invalid")]))  # a plain iterable works too


async def test_client_stream_writer_api(stub: Any) -> None:
    call = stub.Put()
    await call.write(req(text="w1"))
    await call.write(req("declared", text="w2"))
    await call.done_writing()
    with pytest.raises(shop().errgen.OrderNotFound):
        await call


async def test_bidi_stream_yields_then_raises(stub: Any) -> None:
    received = []
    with pytest.raises(errors.NotFound):
        async for response in stub.Chat(
            requests(req(text="a"), req(text="b"), req("status", text="c"))
        ):
            received.append(response.text)
    assert received == ["a", "b"]


async def test_bidi_stream_reader_writer_api(stub: Any) -> None:
    call = stub.Chat()
    await call.write(req(text="x"))
    assert (await call.read()).text == "x"
    await call.write(req("declared", text="y"))
    with pytest.raises(shop().errgen.OrderNotFound):
        await call.read()


async def test_request_id_sent_unless_set(stub: Any) -> None:
    generated = (await stub.Get(req("echo"))).request_id
    assert str(uuid.UUID(generated)) == generated
    assert (
        await stub.Get(req("echo"), metadata=(("x-request-id", "mine"),))
    ).request_id == "mine"
    assert [r.request_id != "" async for r in stub.List(req(count=1))] == [True]
    assert (await stub.Put(requests(req()))).request_id
    assert [r.request_id != "" async for r in stub.Chat(requests(req()))] == [True]


async def test_request_id_off(server: tuple[str, AsyncShop]) -> None:
    interceptors = aio.client_interceptors(shop().errgen, request_id=False)
    async with grpc.aio.insecure_channel(
        server[0], interceptors=interceptors
    ) as channel:
        assert (
            await shop().pb2_grpc.ShopStub(channel).Get(req("echo"))
        ).request_id == ""


@pytest.fixture
def no_bad_text() -> Iterator[None]:
    def check(message: Any) -> list[Violation]:
        return (
            [Violation("text", "string.not_contains", "must not contain `bad`")]
            if "bad" in message.text
            else []
        )

    validation.register("clisrv.v1.Req", check)
    yield
    validation._VALIDATORS.pop("clisrv.v1.Req")


async def test_validate_rejects_before_sending(
    server: tuple[str, AsyncShop], no_bad_text: None
) -> None:
    target, servicer = server
    interceptors = aio.client_interceptors(shop().errgen, validate=True)
    async with grpc.aio.insecure_channel(target, interceptors=interceptors) as channel:
        stub = shop().pb2_grpc.ShopStub(channel)
        with pytest.raises(ValidationError) as caught:
            await stub.Get(req(text="bad-unary"))
        assert str(caught.value) == "invalid Req: 1 violation(s)"
        with pytest.raises(ValidationError):
            async for _ in stub.List(req(text="bad-list", count=2)):
                pass
        assert servicer.received == []
        with pytest.raises(ValidationError):
            await stub.Put(
                requests(req(text="p1"), req(text="bad-put"), req(text="p3"))
            )
        received = []
        with pytest.raises(ValidationError):
            async for response in stub.Chat(
                requests(req(text="c1"), req(text="bad-chat"))
            ):
                received.append(response.text)
        assert received in (["c1"], [])
        writer = stub.Put()
        await writer.write(req(text="w1"))
        with contextlib.suppress(
            asyncio.InvalidStateError
        ):  # grpc's write() sees the call already over
            await writer.write(req(text="bad-write"))
        with pytest.raises(ValidationError):
            await writer
        assert (await stub.Get(req(text="good"))).text == "good"
    assert not {"bad-put", "p3", "bad-chat", "bad-write"} & set(servicer.received)


class BrokenIterator(Exception):
    """What the caller's own request iterator raises in these tests."""


async def failing_requests() -> AsyncIterator[Any]:
    yield req(text="first")
    raise BrokenIterator("the caller's iterator broke")


def failing_sync_requests() -> Iterator[Any]:
    yield req(text="first")
    raise BrokenIterator("the caller's iterator broke")


@pytest.mark.parametrize("sync_iterator", [False, True], ids=["async_iter", "iter"])
async def test_client_stream_iterator_failure_surfaces(
    stub: Any, sync_iterator: bool
) -> None:
    # Before: a bare asyncio.CancelledError, the cause lost.
    requests = failing_sync_requests() if sync_iterator else failing_requests()
    with pytest.raises(BrokenIterator, match="broke"):
        await stub.Put(requests)


async def test_bidi_stream_iterator_failure_surfaces(stub: Any) -> None:
    received = []
    with pytest.raises(BrokenIterator):
        async for response in stub.Chat(failing_requests()):
            received.append(response.text)
    assert received in ([], ["first"])


async def test_cancelled_by_the_caller_stays_cancelled(stub: Any) -> None:
    call = stub.Put(requests(req(text="a")))
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
