"""Client metrics (SPEC 6): ``client_interceptors(..., metrics=registry)`` records go-grpc-prometheus' client
metrics, sync and aio, all four arities, against the shop service on real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from grpc_errgen import aio, client_interceptors, errors, validation
from grpc_errgen.breaker import CircuitBreaker
from grpc_errgen.errors import ValidationError, Violation
from tests.client_service import aio_server, shop, sync_server

SERVICE = "clisrv.v1.Shop"


def started(registry: CollectorRegistry, grpc_type: str, method: str) -> float:
    labels = {"grpc_type": grpc_type, "grpc_service": SERVICE, "grpc_method": method}
    return registry.get_sample_value("grpc_client_started_total", labels) or 0.0


def handled(
    registry: CollectorRegistry, grpc_type: str, method: str, code: str
) -> float:
    labels = {
        "grpc_type": grpc_type,
        "grpc_service": SERVICE,
        "grpc_method": method,
        "grpc_code": code,
    }
    return registry.get_sample_value("grpc_client_handled_total", labels) or 0.0


def observed(registry: CollectorRegistry, grpc_type: str, method: str) -> float:
    labels = {"grpc_type": grpc_type, "grpc_service": SERVICE, "grpc_method": method}
    return (
        registry.get_sample_value("grpc_client_handling_seconds_count", labels) or 0.0
    )


def req(mode: str = "ok", **fields: Any) -> Any:
    return shop().pb2.Req(mode=mode, **fields)


def expect_counts(registry: CollectorRegistry) -> None:
    assert started(registry, "unary", "Get") == 3
    assert handled(registry, "unary", "Get", "OK") == 1
    assert handled(registry, "unary", "Get", "NotFound") == 1
    assert handled(registry, "unary", "Get", "InvalidArgument") == 1
    assert observed(registry, "unary", "Get") == 3
    assert started(registry, "server_stream", "List") == 2
    assert handled(registry, "server_stream", "List", "OK") == 1
    assert handled(registry, "server_stream", "List", "NotFound") == 1
    assert started(registry, "client_stream", "Put") == 1
    assert handled(registry, "client_stream", "Put", "OK") == 1
    assert started(registry, "bidi_stream", "Chat") == 1
    assert handled(registry, "bidi_stream", "Chat", "Unavailable") == 1
    assert observed(registry, "bidi_stream", "Chat") == 1


def test_sync_client_metrics_all_arities() -> None:
    registry = CollectorRegistry()
    with (
        sync_server(chain=True) as (target, _),
        grpc.insecure_channel(target) as channel,
    ):
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(
                channel, *client_interceptors(shop().errgen, metrics=registry)
            )
        )
        stub.Get(req(text="a"))
        with pytest.raises(errors.NotFound):
            stub.Get(req("declared"))
        with pytest.raises(ValidationError):
            stub.Get(req("invalid"))
        assert len(list(stub.List(req(count=2)))) == 2
        with pytest.raises(errors.NotFound):
            list(stub.List(req("declared", count=1)))
        stub.Put(iter([req(), req()]))
        with pytest.raises(errors.Unavailable):
            list(stub.Chat(iter([req("unavailable")])))
    expect_counts(registry)


async def test_aio_client_metrics_all_arities() -> None:
    registry = CollectorRegistry()

    async def two() -> AsyncIterator[Any]:
        yield req()
        yield req()

    async with (
        aio_server(chain=True) as (target, _),
        grpc.aio.insecure_channel(
            target,
            interceptors=aio.client_interceptors(shop().errgen, metrics=registry),
        ) as channel,
    ):
        stub = shop().pb2_grpc.ShopStub(channel)
        await stub.Get(req(text="a"))
        with pytest.raises(errors.NotFound):
            await stub.Get(req("declared"))
        with pytest.raises(ValidationError):
            await stub.Get(req("invalid"))
        assert len([r async for r in stub.List(req(count=2))]) == 2
        with pytest.raises(errors.NotFound):
            async for _ in stub.List(req("declared", count=1)):
                pass
        await stub.Put(two())
        with pytest.raises(errors.Unavailable):
            async for _ in stub.Chat(iter([req("unavailable")])):
                pass
    expect_counts(registry)


def test_refused_calls_count_with_the_code_they_raised() -> None:
    registry = CollectorRegistry()

    def no_bad_text(message: Any) -> list[Violation]:
        return [Violation("text", "r", "m")] if message.text == "bad" else []

    validation.register("clisrv.v1.Req", no_bad_text)
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1000.0)
    try:
        with sync_server() as (target, _), grpc.insecure_channel(target) as channel:
            interceptors = client_interceptors(
                shop().errgen, metrics=registry, validate=True, breaker=breaker
            )
            stub = shop().pb2_grpc.ShopStub(
                grpc.intercept_channel(channel, *interceptors)
            )
            with pytest.raises(ValidationError):
                stub.Get(req(text="bad"))
            with pytest.raises(errors.Unavailable):
                stub.Get(req("unavailable"))
            with pytest.raises(errors.Unavailable, match="circuit open"):
                stub.Get(req())
    finally:
        validation._VALIDATORS.pop("clisrv.v1.Req")
    assert started(registry, "unary", "Get") == 3
    assert handled(registry, "unary", "Get", "InvalidArgument") == 1
    assert handled(registry, "unary", "Get", "Unavailable") == 2


def test_one_registry_serves_several_channels() -> None:
    registry = CollectorRegistry()
    first = client_interceptors(shop().errgen, metrics=registry)
    second = aio.client_interceptors(shop().errgen, metrics=registry)
    assert first and second  # no "Duplicated timeseries" from registering twice
