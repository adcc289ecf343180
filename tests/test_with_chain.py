"""``with_chain``: the server chain put around each servicer's handlers when the servicer is added, on real
``grpc.server`` and ``grpc.aio.server`` on 127.0.0.1.

What every arity, error, auth and validation case does through it is tested by ``test_server_sync.py`` and
``test_server_aio.py``, whose ``service`` fixture runs each test under both installs. Here: what is particular
to adding handlers through it: generic handlers (not only registered methods) are chained; a method no module
covers is refused and reported (a registered one as soon as it is added); and only what is added through the
returned server is chained."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
import grpc.aio
import pytest

import grpc_errgen
from grpc_errgen.context import Principal
from tests.server_chain_service import Generated, build_service

UNARY = "/srvchain.v1.Chain/Unary"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return build_service(tmp_path_factory.mktemp("with_chain"))


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.DEBUG, logger="grpc_errgen")
    return lambda: [
        r.getMessage()
        for r in caplog.records
        if r.name == "grpc_errgen" and r.levelno == logging.ERROR
    ]


def writer(token: str, method: str) -> Principal:
    return Principal(token, ["chain.write"])


def unary_only(generated: Generated, answer: Callable[..., Any]) -> Any:
    """The generated service's ``Unary`` method as a plain generic handler (no registered methods)."""
    pb2 = generated.pb2
    return grpc.method_handlers_generic_handler(
        "srvchain.v1.Chain",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(
                answer,
                request_deserializer=pb2.Req.FromString,
                response_serializer=pb2.Resp.SerializeToString,
            )
        },
    )


def echo_handler(say: Callable[..., Any]) -> Any:
    """A service no generated module covers."""
    return grpc.method_handlers_generic_handler(
        "other.v1.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}
    )


def test_sync_generic_handlers_are_chained_and_unlisted_ones_refused(
    generated: Generated, errors: Callable[[], list[str]]
) -> None:
    pb2 = generated.pb2
    server = grpc_errgen.with_chain(
        grpc.server(futures.ThreadPoolExecutor(max_workers=4)),
        generated.errgen,
        authenticate=writer,
    )
    server.add_generic_rpc_handlers(
        (
            unary_only(generated, lambda request, context: pb2.Resp(text="ok")),
            echo_handler(lambda request, context: request),
        )
    )
    server.add_registered_method_handlers(
        "other.v1.Registered",
        {"Say": grpc.unary_unary_rpc_method_handler(lambda request, context: request)},
    )
    # A registered method no module covers is reported when it is added, before any call (a generic
    # handler's methods are known only when called).
    [report] = errors()
    assert "/other.v1.Registered/Say" in report and "allow_unlisted" in report
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            unary: Any = channel.unary_unary(
                UNARY,
                request_serializer=pb2.Req.SerializeToString,
                response_deserializer=pb2.Resp.FromString,
            )
            assert unary(pb2.Req(name="abcd"), timeout=10).text == "ok"
            with pytest.raises(grpc.RpcError) as raised:
                unary(pb2.Req(name="x"), timeout=10)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            for name in ("Echo", "Registered"):
                say: Any = channel.unary_unary(f"/other.v1.{name}/Say")
                for _ in range(2):
                    with pytest.raises(grpc.RpcError) as raised:
                        say(b"hi", timeout=10)
                    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
                    assert raised.value.details() == "no policy for this method"
    finally:
        server.stop(None)
    assert len(errors()) == 2  # once per method, however many calls


def test_sync_handlers_added_to_the_server_itself_are_not_chained(
    generated: Generated,
) -> None:
    pb2 = generated.pb2
    plain = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    grpc_errgen.with_chain(plain, generated.errgen, authenticate=writer)
    plain.add_generic_rpc_handlers(
        (unary_only(generated, lambda request, context: pb2.Resp(text="ok")),)
    )
    port = plain.add_insecure_port("127.0.0.1:0")
    plain.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            unary: Any = channel.unary_unary(
                UNARY,
                request_serializer=pb2.Req.SerializeToString,
                response_deserializer=pb2.Resp.FromString,
            )
            # No validation: the chain is only around what is added through with_chain's server.
            assert unary(pb2.Req(name="x"), timeout=10).text == "ok"
    finally:
        plain.stop(None)


async def test_aio_generic_handlers_are_chained_and_unlisted_ones_refused(
    generated: Generated, errors: Callable[[], list[str]]
) -> None:
    pb2 = generated.pb2

    async def answer(request: Any, context: Any) -> Any:
        return pb2.Resp(text="ok")

    async def say(request: bytes, context: Any) -> bytes:
        return request

    server = grpc_errgen.aio.with_chain(
        grpc.aio.server(), generated.errgen, authenticate=writer
    )
    server.add_generic_rpc_handlers((unary_only(generated, answer), echo_handler(say)))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            unary: Any = channel.unary_unary(
                UNARY,
                request_serializer=pb2.Req.SerializeToString,
                response_deserializer=pb2.Resp.FromString,
            )
            assert (await unary(pb2.Req(name="abcd"), timeout=10)).text == "ok"
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await unary(pb2.Req(name="x"), timeout=10)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            call: Any = channel.unary_unary("/other.v1.Echo/Say")
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call(b"hi", timeout=10)
            assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await server.stop(None)
    [report] = errors()
    assert "/other.v1.Echo/Say" in report


async def test_aio_allow_unlisted_passes_through_with_chain(
    generated: Generated,
) -> None:
    async def say(request: bytes, context: Any) -> bytes:
        return request

    server = grpc_errgen.aio.with_chain(
        grpc.aio.server(),
        generated.errgen,
        authenticate=writer,
        allow_unlisted=("other.v1.Echo",),
    )
    server.add_generic_rpc_handlers((echo_handler(say),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call: Any = channel.unary_unary("/other.v1.Echo/Say")
            assert await call(b"hi", timeout=10) == b"hi"
    finally:
        await server.stop(None)


async def test_a_chained_server_is_not_chained_again(generated: Generated) -> None:
    # Twice would run every stage twice (two records, two counts per call): one call takes every module.
    chained = grpc_errgen.with_chain(
        grpc.server(futures.ThreadPoolExecutor(max_workers=1)),
        generated.errgen,
        authenticate=writer,
    )
    with pytest.raises(ValueError, match="already has the chain"):
        grpc_errgen.with_chain(chained, generated.errgen, authenticate=writer)
    aio_chained = grpc_errgen.aio.with_chain(
        grpc.aio.server(), generated.errgen, authenticate=writer
    )
    with pytest.raises(ValueError, match="already has the chain"):
        grpc_errgen.aio.with_chain(aio_chained, generated.errgen, authenticate=writer)
