"""Sync client interceptors against a real grpc.server: typed exceptions for all four arities, streams failing
mid-way, wire-format edge cases, request ids and pre-send validation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from grpc_errgen import client_interceptors, errors, validation
from grpc_errgen.errors import ValidationError, Violation
from tests.client_service import SyncShop, shop, sync_server


@pytest.fixture(scope="module", params=[False, True], ids=["wire", "chain"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, SyncShop]]:
    with sync_server(chain=request.param) as running:
        yield running


@pytest.fixture(scope="module")
def stub(server: tuple[str, SyncShop]) -> Iterator[Any]:
    channel = grpc.insecure_channel(server[0])
    typed = grpc.intercept_channel(channel, *client_interceptors(shop().errgen))
    yield shop().pb2_grpc.ShopStub(typed)
    channel.close()


def req(mode: str = "ok", **fields: Any) -> Any:
    return shop().pb2.Req(mode=mode, **fields)


def test_success_passes_through_all_call_styles(stub: Any) -> None:
    assert stub.Get(req(text="a")).text == "a"
    response, call = stub.Get.with_call(req(text="b"))
    assert response.text == "b" and call.code() == grpc.StatusCode.OK
    assert stub.Get.future(req(text="c")).result().text == "c"


def test_declared_error_raises_catalogue_class(stub: Any) -> None:
    with pytest.raises(shop().errgen.OrderNotFound) as caught:
        stub.Get(req("declared", text="o-17"))
    error = caught.value
    assert isinstance(error, grpc.RpcError) and isinstance(error, errors.NotFound)
    assert isinstance(error, shop().errgen.ShopError)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "order not found"
    assert error.metadata == {"order_id": "o-17"}
    assert any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata())


def test_undeclared_catalogue_error_still_typed(stub: Any) -> None:
    with pytest.raises(shop().errgen.OutOfStock) as caught:
        stub.Get(req("undeclared", text="sku-1"))
    assert caught.value.details() == "sku sku-1 is out of stock"
    assert caught.value.retryable is True


def test_with_call_and_future_raise_typed(stub: Any) -> None:
    with pytest.raises(shop().errgen.OrderNotFound):
        stub.Get.with_call(req("declared"))
    future = stub.Get.future(req("declared"))
    assert isinstance(future.exception(), shop().errgen.OrderNotFound)
    with pytest.raises(shop().errgen.OrderNotFound):
        future.result()


def test_status_without_reason_raises_code_class(stub: Any) -> None:
    with pytest.raises(errors.NotFound) as caught:
        stub.Get(req("status"))
    assert type(caught.value) is errors.NotFound
    assert caught.value.details() == "no such shelf"


def test_unknown_error_info_falls_back_to_code_class(stub: Any) -> None:
    with pytest.raises(errors.ResourceExhausted) as caught:
        stub.Get(req("foreign"))
    assert type(caught.value) is errors.ResourceExhausted
    assert caught.value.metadata == {"k": "v"}


def test_bad_request_raises_validation_error(stub: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        stub.Get(req("invalid"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.violations == [
        Violation("items[0].sku", "string.min_len", "must be at least 3 characters")
    ]


@pytest.mark.parametrize("mode", ["malformed", "mismatch"])
def test_broken_details_fall_back_to_code_class(stub: Any, mode: str) -> None:
    with pytest.raises(errors.NotFound) as caught:
        stub.Get(req(mode))
    assert type(caught.value) is errors.NotFound


def test_oversized_details_fall_back_to_code_class(
    server: tuple[str, SyncShop],
) -> None:
    # grpcio refuses the 20 KiB trailer (RESOURCE_EXHAUSTED) and drops the connection: own channel.
    with grpc.insecure_channel(server[0]) as channel:
        typed = grpc.intercept_channel(channel, *client_interceptors(shop().errgen))
        with pytest.raises(errors.RpcException) as caught:
            shop().pb2_grpc.ShopStub(typed).Get(req("oversized"))
    assert type(caught.value) is errors.ResourceExhausted
    assert "metadata size exceeds" in caught.value.details()


def test_server_stream_yields_then_raises(stub: Any) -> None:
    received = []
    with pytest.raises(shop().errgen.OrderNotFound):
        for response in stub.List(req("declared", count=3, text="s")):
            received.append(response.index)
    assert received == [0, 1, 2]


def test_server_stream_success_and_call_api(stub: Any) -> None:
    call = stub.List(req(count=2))
    assert [r.index for r in call] == [0, 1]
    assert call.code() == grpc.StatusCode.OK


def test_client_stream_raises_typed(stub: Any) -> None:
    requests = iter([req(text="a"), req(text="b"), req("invalid", text="c")])
    with pytest.raises(ValidationError):
        stub.Put(requests)
    assert stub.Put(iter([req(text="a"), req(text="b")])).text == "a,b"
    with pytest.raises(shop().errgen.OrderNotFound):
        stub.Put.future(iter([req("declared")])).result()


def test_bidi_stream_yields_then_raises(stub: Any) -> None:
    requests = iter([req(text="a"), req(text="b"), req("status", text="c")])
    received = []
    with pytest.raises(errors.NotFound):
        for response in stub.Chat(requests):
            received.append(response.text)
    assert received == ["a", "b"]


def test_request_id_sent_unless_set(stub: Any) -> None:
    generated = stub.Get(req("echo")).request_id
    assert str(uuid.UUID(generated)) == generated
    assert stub.Get(req("echo")).request_id != generated
    assert (
        stub.Get(req("echo"), metadata=[("x-request-id", "mine")]).request_id == "mine"
    )
    assert next(iter(stub.List(req(count=1)))).request_id
    assert stub.Put(iter([req()])).request_id
    assert next(iter(stub.Chat(iter([req()])))).request_id


def test_request_id_off(server: tuple[str, SyncShop]) -> None:
    with grpc.insecure_channel(server[0]) as channel:
        typed = grpc.intercept_channel(
            channel, *client_interceptors(shop().errgen, request_id=False)
        )
        assert shop().pb2_grpc.ShopStub(typed).Get(req("echo")).request_id == ""


@pytest.fixture(scope="module")
def validating_stub(server: tuple[str, SyncShop]) -> Iterator[Any]:
    def no_bad_text(message: Any) -> list[Violation]:
        return (
            [Violation("text", "string.not_contains", "must not contain `bad`")]
            if "bad" in message.text
            else []
        )

    validation.register("clisrv.v1.Req", no_bad_text)
    channel = grpc.insecure_channel(server[0])
    typed = grpc.intercept_channel(
        channel, *client_interceptors(shop().errgen, validate=True)
    )
    yield shop().pb2_grpc.ShopStub(typed)
    channel.close()
    validation._VALIDATORS.pop("clisrv.v1.Req")


def test_validate_rejects_before_sending(
    validating_stub: Any, server: tuple[str, SyncShop]
) -> None:
    servicer = server[1]
    before = list(servicer.received)
    with pytest.raises(ValidationError) as caught:
        validating_stub.Get(req(text="bad-unary"))
    assert caught.value.violations[0].field == "text"
    assert str(caught.value) == "invalid Req: 1 violation(s)"
    with pytest.raises(ValidationError):
        validating_stub.Get.future(req(text="bad-future")).result()
    with pytest.raises(ValidationError):
        list(validating_stub.List(req(text="bad-list", count=2)))
    assert validating_stub.Get(req(text="good")).text == "good"
    assert (
        servicer.received == before
    )  # unary and server-streaming: nothing reached the server


def test_validate_client_streams_per_message(
    validating_stub: Any, server: tuple[str, SyncShop]
) -> None:
    servicer = server[1]
    with pytest.raises(ValidationError):
        validating_stub.Put(iter([req(text="p1"), req(text="bad-put"), req(text="p3")]))
    received = []
    with pytest.raises(ValidationError):
        for response in validating_stub.Chat(
            iter([req(text="c1"), req(text="bad-chat")])
        ):
            received.append(response.text)
    assert received in (["c1"], [])
    assert "bad-put" not in servicer.received and "bad-chat" not in servicer.received
    assert "p3" not in servicer.received


class BrokenIterator(Exception):
    """What the caller's own request iterator raises in these tests."""


def failing_requests() -> Iterator[Any]:
    yield req(text="first")
    raise BrokenIterator("the caller's iterator broke")


def test_client_stream_iterator_failure_surfaces(stub: Any) -> None:
    with pytest.raises(BrokenIterator, match="broke"):
        stub.Put(failing_requests())
    with pytest.raises(BrokenIterator):
        list(stub.Chat(failing_requests()))
