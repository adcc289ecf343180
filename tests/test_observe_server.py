"""Logging and metrics through the whole chain: real sync and aio servers on 127.0.0.1, real stubs, a fresh
registry per test, the ``grpc_errgen`` log records captured. Proto package ``observe_chain.v1`` belongs here.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import grpc.aio
import pytest
from prometheus_client import CollectorRegistry

import grpc_errgen
import grpc_errgen.aio
from grpc_errgen.context import Principal
from grpc_errgen.observe import LOG_FIELDS
from tests.support import build, load

PROTO = """
syntax = "proto3";
package observe_chain.v1;
import "grpc_errgen/options.proto";

enum ThingError {
  option (errgen.errors) = { domain: "things.observe.example" };
  THING_ERROR_UNSPECIFIED = 0;
  THING_NOT_FOUND = 1 [(errgen.error) = { code: NOT_FOUND message: "thing not found" }];
}

message ThingRequest { string id = 1 [(errgen.field).string = { min_len: 3 }]; }
message Thing { string id = 1; }

service Things {
  rpc GetThing(ThingRequest) returns (Thing) { option (errgen.method) = { errors: ["THING_NOT_FOUND"] }; }
  rpc ListThings(ThingRequest) returns (stream Thing);
  rpc CollectThings(stream ThingRequest) returns (Thing);
  rpc ChatThings(stream ThingRequest) returns (stream Thing);
  rpc SecretThing(ThingRequest) returns (Thing) {
    option (errgen.method) = { auth_required: true scopes: "secret" };
  }
}
"""

SERVICE = "observe_chain.v1.Things"
MISSING, CRASH = "missing", "crash"
SECRET_TOKEN, PLAIN_TOKEN = "token-with-secret", "token-without-scope"


class Generated(NamedTuple):
    pb2: Any
    pb2_grpc: Any
    errgen: Any


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root: Path = tmp_path_factory.mktemp("observe_chain")
    build(root, {"observe_chain/v1/things.proto": PROTO})
    return Generated(
        load("observe_chain.v1.things_pb2"),
        load("observe_chain.v1.things_pb2_grpc"),
        load("observe_chain.v1.things_errgen"),
    )


def authenticate(token: str, method: str) -> Principal | None:
    if token == SECRET_TOKEN:
        return Principal("alice", frozenset({"secret"}))
    if token == PLAIN_TOKEN:
        return Principal("bob")
    return None


async def authenticate_async(token: str, method: str) -> Principal | None:
    return authenticate(token, method)


def answer(generated: Generated, request_id: str) -> Any:
    """The unary behaviour both servicers share: an error by id, else the thing."""
    if request_id == MISSING:
        raise generated.errgen.ThingNotFound()
    if request_id == CRASH:
        raise RuntimeError("the database fell over")
    return generated.pb2.Thing(id=request_id)


def sync_servicer(generated: Generated) -> Any:
    pb2 = generated.pb2

    class Things(generated.pb2_grpc.ThingsServicer):  # type: ignore[misc,name-defined]
        def GetThing(self, request: Any, context: Any) -> Any:
            return answer(generated, request.id)

        def SecretThing(self, request: Any, context: Any) -> Any:
            return answer(generated, request.id)

        def ListThings(self, request: Any, context: Any) -> Iterator[Any]:
            for index in range(3):
                yield pb2.Thing(id=f"{request.id}-{index}")

        def CollectThings(self, requests: Iterator[Any], context: Any) -> Any:
            return pb2.Thing(id=",".join(request.id for request in requests))

        def ChatThings(self, requests: Iterator[Any], context: Any) -> Iterator[Any]:
            for request in requests:
                yield pb2.Thing(id=request.id)

    return Things()


def aio_servicer(generated: Generated) -> Any:
    pb2 = generated.pb2

    class Things(generated.pb2_grpc.ThingsServicer):  # type: ignore[misc,name-defined]
        async def GetThing(self, request: Any, context: Any) -> Any:
            return answer(generated, request.id)

        async def SecretThing(self, request: Any, context: Any) -> Any:
            return answer(generated, request.id)

        async def ListThings(self, request: Any, context: Any) -> AsyncIterator[Any]:
            for index in range(3):
                yield pb2.Thing(id=f"{request.id}-{index}")

        async def CollectThings(
            self, requests: AsyncIterator[Any], context: Any
        ) -> Any:
            return pb2.Thing(id=",".join([request.id async for request in requests]))

        async def ChatThings(
            self, requests: AsyncIterator[Any], context: Any
        ) -> AsyncIterator[Any]:
            async for request in requests:
                yield pb2.Thing(id=request.id)

    return Things()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """The per-call records (those carrying ``grpc_code``) on the ``grpc_errgen`` logger so far."""
    caplog.set_level(logging.INFO, logger="grpc_errgen")
    return lambda: [
        r for r in caplog.records if r.name == "grpc_errgen" and hasattr(r, "grpc_code")
    ]


@pytest.fixture
def sync_stub(generated: Generated, registry: CollectorRegistry) -> Iterator[Any]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=grpc_errgen.server_interceptors(
            generated.errgen,
            authenticate=authenticate,
            log=True,
            metrics=registry,
            echo_request_id=True,
        ),
    )
    generated.pb2_grpc.add_ThingsServicer_to_server(sync_servicer(generated), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield generated.pb2_grpc.ThingsStub(channel)
    server.stop(None)


@pytest.fixture
async def aio_stub(
    generated: Generated, registry: CollectorRegistry
) -> AsyncIterator[Any]:
    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            generated.errgen,
            authenticate=authenticate_async,
            log=True,
            metrics=registry,
            echo_request_id=True,
        )
    )
    generated.pb2_grpc.add_ThingsServicer_to_server(aio_servicer(generated), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield generated.pb2_grpc.ThingsStub(channel)
    await server.stop(None)


def labels(method: str, grpc_type: str = "unary") -> dict[str, str]:
    return {"grpc_type": grpc_type, "grpc_service": SERVICE, "grpc_method": method}


def sample(registry: CollectorRegistry, name: str, labelset: dict[str, str]) -> float:
    value = registry.get_sample_value(name, labelset)
    return 0.0 if value is None else value


def eventually(check: Callable[[], bool]) -> None:
    """The record and the handled count may land just after the client sees the status: wait for them
    (bounded by a count of short sleeps, not a deadline, so a loaded machine does not fail it).
    """
    for _ in range(1000):
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("the call was never observed")


def handled(
    registry: CollectorRegistry, method: str, code: str, grpc_type: str = "unary"
) -> float:
    return sample(
        registry,
        "grpc_server_handled_total",
        {**labels(method, grpc_type), "grpc_code": code},
    )


def trailer(call_or_error: Any, key: str) -> str | None:
    for name, value in call_or_error.trailing_metadata() or ():
        if name == key:
            return str(value)
    return None


# -- sync ---------------------------------------------------------------------------------------------


def test_sync_ok_call_is_counted_and_logged_once(
    sync_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    reply, call = sync_stub.GetThing.with_call(
        generated.pb2.ThingRequest(id="abc"), metadata=(("x-request-id", "req-ok-1"),)
    )
    assert reply.id == "abc"
    eventually(lambda: handled(registry, "GetThing", "OK") == 1)
    assert sample(registry, "grpc_server_started_total", labels("GetThing")) == 1
    assert sample(registry, "grpc_server_msg_received_total", labels("GetThing")) == 1
    assert sample(registry, "grpc_server_msg_sent_total", labels("GetThing")) == 1
    assert (
        sample(registry, "grpc_server_handling_seconds_count", labels("GetThing")) == 1
    )
    assert trailer(call, "x-request-id") == "req-ok-1"

    eventually(lambda: len(records()) == 1)
    [record] = records()
    assert record.levelno == logging.INFO
    fields = {field: getattr(record, field) for field in LOG_FIELDS}
    assert fields["grpc_service"] == SERVICE and fields["grpc_method"] == "GetThing"
    assert fields["grpc_code"] == "OK" and fields["grpc_type"] == "unary"
    assert fields["request_id"] == "req-ok-1"
    assert fields["peer"].startswith("ipv") and "127.0.0.1" in fields["peer"]
    assert fields["duration_ms"] >= 0
    assert (
        "req-ok-1" in record.getMessage()
        and "/observe_chain.v1.Things/GetThing" in record.getMessage()
    )


def test_sync_request_id_is_generated_when_absent(
    sync_stub: Any, generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    _, call = sync_stub.GetThing.with_call(generated.pb2.ThingRequest(id="abc"))
    eventually(lambda: len(records()) == 1)
    [record] = records()
    echoed = trailer(call, "x-request-id")
    assert echoed is not None and record.request_id == echoed  # type: ignore[attr-defined]
    assert uuid.UUID(echoed).version == 4


def test_sync_catalogue_error_is_counted_with_its_code(
    sync_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        sync_stub.GetThing(generated.pb2.ThingRequest(id=MISSING))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    eventually(lambda: handled(registry, "GetThing", "NotFound") == 1)
    assert handled(registry, "GetThing", "OK") == 0
    eventually(lambda: len(records()) == 1)
    [record] = records()
    assert record.levelno == logging.INFO and record.grpc_code == "NOT_FOUND"  # type: ignore[attr-defined]


def test_sync_validation_and_auth_rejections_are_counted(
    sync_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    request = generated.pb2.ThingRequest
    with pytest.raises(grpc.RpcError) as invalid:
        sync_stub.GetThing(request(id="ab"))  # min_len 3
    with pytest.raises(grpc.RpcError) as unauthenticated:
        sync_stub.SecretThing(request(id="abc"))
    with pytest.raises(grpc.RpcError) as denied:
        sync_stub.SecretThing(
            request(id="abc"), metadata=(("authorization", f"Bearer {PLAIN_TOKEN}"),)
        )
    assert (
        sync_stub.SecretThing(
            request(id="abc"), metadata=(("authorization", f"Bearer {SECRET_TOKEN}"),)
        ).id
        == "abc"
    )
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    eventually(lambda: handled(registry, "SecretThing", "OK") == 1)
    assert handled(registry, "GetThing", "InvalidArgument") == 1
    assert handled(registry, "SecretThing", "Unauthenticated") == 1
    assert handled(registry, "SecretThing", "PermissionDenied") == 1
    assert sample(registry, "grpc_server_started_total", labels("SecretThing")) == 3
    eventually(lambda: len(records()) == 4)
    assert sorted(r.grpc_code for r in records()) == sorted(  # type: ignore[attr-defined]
        ["INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "OK"]
    )
    assert {r.levelno for r in records()} == {logging.INFO}


def test_sync_unexpected_exception_is_one_error_record_with_traceback(
    sync_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="grpc_errgen")
    with pytest.raises(grpc.RpcError) as raised:
        sync_stub.GetThing(
            generated.pb2.ThingRequest(id=CRASH),
            metadata=(("x-request-id", "req-crash"),),
        )
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "database" not in (raised.value.details() or "")
    eventually(lambda: handled(registry, "GetThing", "Internal") == 1)
    eventually(lambda: any(r.name == "grpc_errgen" for r in caplog.records))
    ours = [r for r in caplog.records if r.name == "grpc_errgen"]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    [record] = ours
    assert record.levelno == logging.ERROR
    assert record.request_id == "req-crash"  # type: ignore[attr-defined]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert "the database fell over" in caplog.text


def test_sync_all_four_kinds_count_messages(
    sync_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    request = generated.pb2.ThingRequest
    assert [t.id for t in sync_stub.ListThings(request(id="abc"))] == [
        "abc-0",
        "abc-1",
        "abc-2",
    ]
    assert (
        sync_stub.CollectThings(iter([request(id=f"id{i}") for i in range(4)])).id
        == "id0,id1,id2,id3"
    )
    assert [
        t.id for t in sync_stub.ChatThings(iter([request(id="one"), request(id="two")]))
    ] == ["one", "two"]

    expected = {
        ("ListThings", "server_stream"): (1, 3),
        ("CollectThings", "client_stream"): (4, 1),
        ("ChatThings", "bidi_stream"): (2, 2),
    }
    eventually(lambda: all(handled(registry, m, "OK", t) == 1 for m, t in expected))
    for (method, grpc_type), (received, sent) in expected.items():
        assert (
            sample(registry, "grpc_server_started_total", labels(method, grpc_type))
            == 1
        )
        assert (
            sample(
                registry, "grpc_server_msg_received_total", labels(method, grpc_type)
            )
            == received
        ), method
        assert (
            sample(registry, "grpc_server_msg_sent_total", labels(method, grpc_type))
            == sent
        ), method
    eventually(lambda: len(records()) == 3)
    assert {(r.grpc_method, r.grpc_type) for r in records()} == set(expected)  # type: ignore[attr-defined]


def test_two_chains_share_one_registry(
    generated: Generated, registry: CollectorRegistry
) -> None:
    servers, stubs = [], []
    channels = []
    for log in (True, False):
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=2),
            interceptors=grpc_errgen.server_interceptors(
                generated.errgen, authenticate=authenticate, log=log, metrics=registry
            ),
        )
        generated.pb2_grpc.add_ThingsServicer_to_server(
            sync_servicer(generated), server
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        servers.append(server)
        channels.append(channel)
        stubs.append(generated.pb2_grpc.ThingsStub(channel))
    try:
        for stub in stubs:
            stub.GetThing(generated.pb2.ThingRequest(id="abc"))
        eventually(lambda: handled(registry, "GetThing", "OK") == 2)
    finally:
        for channel in channels:
            channel.close()
        for server in servers:
            server.stop(None)


def test_logging_off_metrics_on(
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=grpc_errgen.server_interceptors(
            generated.errgen, authenticate=authenticate, log=False, metrics=registry
        ),
    )
    generated.pb2_grpc.add_ThingsServicer_to_server(sync_servicer(generated), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            generated.pb2_grpc.ThingsStub(channel).GetThing(
                generated.pb2.ThingRequest(id="abc")
            )
        eventually(lambda: handled(registry, "GetThing", "OK") == 1)
        assert records() == []
    finally:
        server.stop(None)


# -- aio ----------------------------------------------------------------------------------------------


async def aio_eventually(check: Callable[[], bool]) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the call was never observed")


async def test_aio_ok_error_and_internal(
    aio_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    request = generated.pb2.ThingRequest
    call = aio_stub.GetThing(request(id="abc"), metadata=(("x-request-id", "aio-ok"),))
    assert (await call).id == "abc"
    assert dict(await call.trailing_metadata()).get("x-request-id") == "aio-ok"
    with pytest.raises(grpc.RpcError) as missing:
        await aio_stub.GetThing(request(id=MISSING))
    with pytest.raises(grpc.RpcError) as crashed:
        await aio_stub.GetThing(
            request(id=CRASH), metadata=(("x-request-id", "aio-crash"),)
        )
    with pytest.raises(grpc.RpcError) as invalid:
        await aio_stub.GetThing(request(id="ab"))
    with pytest.raises(grpc.RpcError) as unauthenticated:
        await aio_stub.SecretThing(request(id="abc"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert crashed.value.code() == grpc.StatusCode.INTERNAL
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED

    await aio_eventually(
        lambda: handled(registry, "SecretThing", "Unauthenticated") == 1
    )
    for code in ("OK", "NotFound", "Internal", "InvalidArgument"):
        assert handled(registry, "GetThing", code) == 1, code
    assert sample(registry, "grpc_server_started_total", labels("GetThing")) == 4

    await aio_eventually(lambda: len(records()) == 5)
    by_request = {r.request_id: r for r in records()}  # type: ignore[attr-defined]
    assert by_request["aio-ok"].levelno == logging.INFO
    crash = by_request["aio-crash"]
    assert crash.levelno == logging.ERROR and crash.exc_info is not None
    assert isinstance(crash.exc_info[1], RuntimeError)
    levels = sorted((r.grpc_code, r.levelno) for r in records())  # type: ignore[attr-defined]
    assert levels == sorted(
        [
            ("OK", logging.INFO),
            ("NOT_FOUND", logging.INFO),
            ("INTERNAL", logging.ERROR),
            ("INVALID_ARGUMENT", logging.INFO),
            ("UNAUTHENTICATED", logging.INFO),
        ]
    )


async def test_aio_all_four_kinds_count_messages(
    aio_stub: Any,
    generated: Generated,
    registry: CollectorRegistry,
    records: Callable[[], list[logging.LogRecord]],
) -> None:
    request = generated.pb2.ThingRequest

    async def requests(*ids: str) -> AsyncIterator[Any]:
        for request_id in ids:
            yield request(id=request_id)

    assert [t.id async for t in aio_stub.ListThings(request(id="abc"))] == [
        "abc-0",
        "abc-1",
        "abc-2",
    ]
    assert (
        await aio_stub.CollectThings(requests("id0", "id1", "id2", "id3"))
    ).id == "id0,id1,id2,id3"
    assert [t.id async for t in aio_stub.ChatThings(requests("one", "two"))] == [
        "one",
        "two",
    ]
    assert (await aio_stub.GetThing(request(id="abc"))).id == "abc"

    expected = {
        ("ListThings", "server_stream"): (1, 3),
        ("CollectThings", "client_stream"): (4, 1),
        ("ChatThings", "bidi_stream"): (2, 2),
        ("GetThing", "unary"): (1, 1),
    }
    await aio_eventually(
        lambda: all(handled(registry, m, "OK", t) == 1 for m, t in expected)
    )
    for (method, grpc_type), (received, sent) in expected.items():
        assert (
            sample(registry, "grpc_server_started_total", labels(method, grpc_type))
            == 1
        )
        assert (
            sample(
                registry, "grpc_server_msg_received_total", labels(method, grpc_type)
            )
            == received
        ), method
        assert (
            sample(registry, "grpc_server_msg_sent_total", labels(method, grpc_type))
            == sent
        ), method
    await aio_eventually(lambda: len(records()) == 4)
    assert {(r.grpc_method, r.grpc_type) for r in records()} == set(expected)  # type: ignore[attr-defined]
