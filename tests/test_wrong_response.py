"""A handler that answers with something other than its rpc's response class (``MethodPolicy.response_class``):
the chain ends the call INTERNAL "internal error" itself, so the client, the log record and the metrics agree.

Without the check grpcio's serializer refuses the value only after the chain recorded the call as OK. Real
``grpc.server`` and ``grpc.aio.server`` on 127.0.0.1, real stubs; every arity, and on aio both ways of
streaming (an async generator and ``context.write``). Streams end at the wrong message, after the good ones.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import grpc.aio
import pytest
from prometheus_client import CollectorRegistry

import grpc_errgen
import grpc_errgen.aio
from grpc_errgen.context import Principal
from grpc_errgen.policy import MethodPolicy
from tests.server_chain_service import METHODS, Generated, build_service

GRPC_TYPES = {
    "unary_unary": "unary",
    "unary_stream": "server_stream",
    "stream_unary": "client_stream",
    "stream_stream": "bidi_stream",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return build_service(tmp_path_factory.mktemp("wrong_response"))


@pytest.fixture
def records(
    caplog: pytest.LogCaptureFixture,
) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG)
    return lambda: list(caplog.records)


def writer(token: str, method: str) -> Principal:
    return Principal(token, ["chain.write"])


def wrong(generated: Generated, mode: str) -> Any:
    """What a careless handler answers: a dict, or a message of another class."""
    if mode == "dict":
        return {"text": "not a message"}
    return generated.pb2.Req(name="another class")


class SyncServicer:
    """Answers ``Req.mode`` ("dict" or "message") wrongly; the streams send one good message first."""

    def __init__(self, generated: Generated) -> None:
        self.generated = generated

    def Unary(self, request: Any, context: Any) -> Any:
        return wrong(self.generated, request.mode)

    Secure = Unary

    def ServerStream(self, request: Any, context: Any) -> Iterator[Any]:
        yield self.generated.pb2.Resp(text="first")
        yield wrong(self.generated, request.mode)
        yield self.generated.pb2.Resp(text="never sent")

    def ClientStream(self, request_iterator: Iterator[Any], context: Any) -> Any:
        mode = [request.mode for request in request_iterator][-1]
        return wrong(self.generated, mode)

    def Bidi(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
        for request in request_iterator:
            yield self.generated.pb2.Resp(text="first")
            yield wrong(self.generated, request.mode)


class AioServicer:
    """The aio twin: ServerStream is an async generator, Bidi writes with ``context.write``."""

    def __init__(self, generated: Generated) -> None:
        self.generated = generated

    async def Unary(self, request: Any, context: Any) -> Any:
        return wrong(self.generated, request.mode)

    Secure = Unary

    async def ServerStream(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield self.generated.pb2.Resp(text="first")
        yield wrong(self.generated, request.mode)
        yield self.generated.pb2.Resp(text="never sent")

    async def ClientStream(
        self, request_iterator: AsyncIterator[Any], context: Any
    ) -> Any:
        mode = [request.mode async for request in request_iterator][-1]
        return wrong(self.generated, mode)

    async def Bidi(self, request_iterator: AsyncIterator[Any], context: Any) -> None:
        async for request in request_iterator:
            await context.write(self.generated.pb2.Resp(text="first"))
            await context.write(wrong(self.generated, request.mode))
            await context.write(self.generated.pb2.Resp(text="never sent"))


@contextlib.contextmanager
def sync_server(
    generated: Generated, servicer: Any, registry: CollectorRegistry
) -> Iterator[Any]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=grpc_errgen.server_interceptors(
            generated.errgen, authenticate=writer, metrics=registry
        ),
    )
    generated.pb2_grpc.add_ChainServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield generated.pb2_grpc.ChainStub(channel)
    finally:
        server.stop(None)


def call_sync(stub: Any, kind: str, request: Any) -> tuple[list[Any], grpc.RpcError]:
    """The messages the client got, and the error the call ended with."""
    method = getattr(stub, METHODS[kind])
    got: list[Any] = []
    with pytest.raises(grpc.RpcError) as raised:
        if kind == "unary_unary":
            method(request, timeout=10)
        elif kind == "stream_unary":
            method(iter([request]), timeout=10)
        elif kind == "unary_stream":
            got.extend(method(request, timeout=10))
        else:
            got.extend(method(iter([request]), timeout=10))
    return got, raised.value


async def call_aio(stub: Any, kind: str, request: Any) -> tuple[list[Any], Any]:
    method = getattr(stub, METHODS[kind])
    got: list[Any] = []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        if kind == "unary_unary":
            await method(request, timeout=10)
        elif kind == "stream_unary":
            await method(iter([request]), timeout=10)
        else:
            argument = request if kind == "unary_stream" else iter([request])
            async for response in method(argument, timeout=10):
                got.append(response)
    return got, raised.value


def check_outcome(
    kind: str,
    mode: str,
    got: list[Any],
    error: Any,
    found: list[logging.LogRecord],
    registry: CollectorRegistry,
) -> None:
    """Client, log and metrics all say INTERNAL; the record's note says what the handler sent."""
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INTERNAL,
        "internal error",
    )
    streams = kind.endswith("_stream")
    assert [response.text for response in got] == (["first"] if streams else [])
    [record] = [r for r in found if hasattr(r, "grpc_code")]
    assert record.grpc_code == "INTERNAL"  # type: ignore[attr-defined]
    sent = "dict" if mode == "dict" else "srvchain.v1.Req"
    verb = "streamed" if streams else "returned"
    assert record.note == (  # type: ignore[attr-defined]
        f"the handler {verb} {sent} instead of srvchain.v1.Resp"
    )
    assert record.levelno == logging.WARNING and not record.exc_info
    # The chain ended the call itself: grpcio never had the value to serialize (and log about).
    assert not [
        r
        for r in found
        if r.name.startswith("grpc")
        and r.levelno >= logging.WARNING
        and r is not record
    ]
    labels = {
        "grpc_type": GRPC_TYPES[kind],
        "grpc_service": "srvchain.v1.Chain",
        "grpc_method": METHODS[kind],
    }
    handled = {
        sample.labels["grpc_code"]: sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "grpc_server_handled_total"
    }
    assert handled == {"Internal": 1.0}
    assert registry.get_sample_value("grpc_server_msg_sent_total", labels) == (
        1 if streams else 0
    )


@pytest.mark.parametrize("mode", ["dict", "message"])
@pytest.mark.parametrize("kind", sorted(METHODS))
def test_sync_wrong_response_ends_internal(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    kind: str,
    mode: str,
) -> None:
    registry = CollectorRegistry()
    with sync_server(generated, SyncServicer(generated), registry) as stub:
        got, error = call_sync(stub, kind, generated.pb2.Req(mode=mode, name="good"))
    check_outcome(kind, mode, got, error, records(), registry)


@pytest.mark.parametrize("mode", ["dict", "message"])
@pytest.mark.parametrize("kind", sorted(METHODS))
async def test_aio_wrong_response_ends_internal(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    kind: str,
    mode: str,
) -> None:
    registry = CollectorRegistry()
    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            generated.errgen, authenticate=writer, metrics=registry
        )
    )
    generated.pb2_grpc.add_ChainServicer_to_server(AioServicer(generated), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            got, error = await call_aio(
                stub, kind, generated.pb2.Req(mode=mode, name="good")
            )
    finally:
        await server.stop(None)
    check_outcome(kind, mode, got, error, records(), registry)


def test_a_handler_sending_its_own_bytes_is_not_checked(generated: Generated) -> None:
    """A handler registered without a response serializer (a proxy) sends bytes: nothing to check."""
    pb2 = generated.pb2
    raw = grpc.method_handlers_generic_handler(
        "srvchain.v1.Chain",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(
                lambda request, context: pb2.Resp(
                    text=request.name
                ).SerializeToString(),
                request_deserializer=pb2.Req.FromString,
            )
        },
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=grpc_errgen.server_interceptors(
            generated.errgen, authenticate=writer
        ),
    )
    server.add_generic_rpc_handlers((raw,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            assert (
                stub.Unary(pb2.Req(mode="ok", name="good"), timeout=10).text == "good"
            )
    finally:
        server.stop(None)


def test_policies_carry_the_response_class(generated: Generated) -> None:
    """Each generated policy names its rpc's response class; a policy without one skips the check."""
    for policy in generated.errgen.CHAIN_POLICY.values():
        assert policy.response_class is generated.pb2.Resp
    assert MethodPolicy("/a.B/C", "a.B", "C", "unary_unary").response_class is None
