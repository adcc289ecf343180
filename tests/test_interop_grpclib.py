"""Interop: grpclib (a pure-Python HTTP/2 gRPC client, no grpcio) calls grpc-errgen servers (sync and aio, behind
the real server chain) and decodes ``grpc-status-details-bin`` into google.rpc.Status with ErrorInfo and
BadRequest, the way a Go, Java or grpcurl client does."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.rpc import error_details_pb2, status_pb2
from grpclib.client import Channel
from grpclib.const import Cardinality, Status
from grpclib.encoding.base import StatusDetailsCodecBase
from grpclib.exceptions import GRPCError

from tests.client_service import aio_server, shop, sync_server


class RawStatus(StatusDetailsCodecBase):
    """Hands the details trailer over as a google.rpc.Status, parsed here and nowhere else."""

    def encode(self, status: Status, message: str | None, details: Any) -> bytes:
        raise NotImplementedError

    def decode(
        self, status: Status, message: str | None, data: bytes
    ) -> status_pb2.Status:
        return status_pb2.Status.FromString(data)


@pytest.fixture(params=["aio", "sync"])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, int]]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "aio":
            address, _ = await stack.enter_async_context(aio_server(chain=True))
        else:
            address, _ = stack.enter_context(sync_server(chain=True))
        host, port = address.rsplit(":", 1)
        yield host, int(port)


@pytest.fixture
async def channel(target: tuple[str, int]) -> AsyncIterator[Channel]:
    channel = Channel(*target, status_details_codec=RawStatus())
    yield channel
    channel.close()


def unpack(status: status_pb2.Status, message_type: Any) -> Any:
    (detail,) = status.details
    found = message_type()
    assert detail.Unpack(found), detail.type_url
    return found


async def call_get(channel: Channel, request: Any) -> tuple[GRPCError, Any]:
    pb2 = shop().pb2
    async with channel.request(
        "/clisrv.v1.Shop/Get", Cardinality.UNARY_UNARY, pb2.Req, pb2.Resp
    ) as stream:
        await stream.send_message(request, end=True)
        with pytest.raises(GRPCError) as caught:
            await stream.recv_message()
        return caught.value, stream.trailing_metadata


async def test_declared_error_carries_error_info(channel: Channel) -> None:
    error, _ = await call_get(channel, shop().pb2.Req(mode="declared", text="o-42"))
    assert error.status is Status.NOT_FOUND
    assert error.message == "order not found"
    status = error.details
    assert isinstance(status, status_pb2.Status)
    assert status.code == Status.NOT_FOUND.value and status.message == "order not found"
    info = unpack(status, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "ORDER_NOT_FOUND",
        "shop.clisrv.example",
        {"order_id": "o-42"},
    )


async def test_validation_error_carries_bad_request_and_json(channel: Channel) -> None:
    error, trailers = await call_get(channel, shop().pb2.Req(mode="invalid"))
    assert error.status is Status.INVALID_ARGUMENT
    assert error.message == "invalid Req: 1 violation(s)"
    bad_request = unpack(error.details, error_details_pb2.BadRequest)
    (violation,) = bad_request.field_violations
    assert (violation.field, violation.reason, violation.description) == (
        "items[0].sku",
        "string.min_len",
        "must be at least 3 characters",
    )
    assert json.loads(trailers["error-details"]) == {
        "violations": [
            {
                "field": "items[0].sku",
                "rule": "string.min_len",
                "message": "must be at least 3 characters",
            }
        ]
    }


async def test_plain_status_error_has_code_and_message(channel: Channel) -> None:
    error, _ = await call_get(channel, shop().pb2.Req(mode="status"))
    assert (error.status, error.message) == (Status.NOT_FOUND, "no such shelf")


async def test_server_stream_messages_then_error_info(channel: Channel) -> None:
    pb2 = shop().pb2
    async with channel.request(
        "/clisrv.v1.Shop/List", Cardinality.UNARY_STREAM, pb2.Req, pb2.Resp
    ) as stream:
        await stream.send_message(pb2.Req(mode="declared", count=2), end=True)
        received = [
            message.index
            for message in [await stream.recv_message() for _ in range(2)]
            if message
        ]
        # grpclib: end of stream first, then the status with the trailers
        assert await stream.recv_message() is None
        with pytest.raises(GRPCError) as caught:
            await stream.recv_trailing_metadata()
    assert received == [0, 1]
    assert (
        unpack(caught.value.details, error_details_pb2.ErrorInfo).reason
        == "ORDER_NOT_FOUND"
    )


async def test_grpclib_default_codec_reads_the_details(target: tuple[str, int]) -> None:
    # What a grpclib user gets without configuring anything: the unpacked detail messages.
    channel = Channel(*target)
    try:
        error, _ = await call_get(channel, shop().pb2.Req(mode="declared", text="o-1"))
    finally:
        channel.close()
    (info,) = error.details
    assert (
        isinstance(info, error_details_pb2.ErrorInfo)
        and info.reason == "ORDER_NOT_FOUND"
    )
