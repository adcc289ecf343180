"""Deadlines (SPEC 6): ``time_remaining()`` in handlers, the methods' default timeout applied by the client
interceptors, deadline propagation from a handler's own client calls, and ``channel_options`` leaving the
timeout out of grpcio's service config. Real sync and aio servers; the proto package ``dl.v1`` belongs here.

The bounds on remaining seconds are loose on purpose: they tell "no deadline", "the 7.5 s default", "the
caller's 2 s" and "the served call's 3 s" apart, however slow the machine.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import grpc
import pytest

import grpc_errgen
from grpc_errgen import aio, channel_options, client_interceptors, time_remaining
from grpc_errgen.policy import GeneratedFile, MethodPolicy, service_config
from tests.support import build, load

PROTO = """
syntax = "proto3";
package dl.v1;

message Req { bool propagate = 1; }
message Resp { bool has_deadline = 1; double remaining = 2; }

service Deadlines {
  rpc Remaining(Req) returns (Resp);
  rpc Relay(Req) returns (Resp);
  rpc Watch(Req) returns (stream Resp);
}
"""

DEFAULT_TIMEOUT = 7.5


class Dl(NamedTuple):
    errgen: ModuleType
    pb2: ModuleType
    pb2_grpc: ModuleType


@functools.cache
def dl() -> Dl:
    root = Path(tempfile.mkdtemp(prefix="dl-"))
    build(root, {"dl/v1/dl.proto": PROTO})
    return Dl(load("dl.v1.dl_errgen"), load("dl.v1.dl_pb2"), load("dl.v1.dl_pb2_grpc"))


@dataclasses.dataclass(frozen=True, slots=True)
class TimedPolicy(MethodPolicy):
    """``MethodPolicy`` with the ``timeout`` the generator writes from ``(errgen.method).timeout``."""

    timeout: float | None = None


@functools.cache
def timed() -> GeneratedFile:
    """The dl module as if ``Remaining`` and ``Watch`` declared ``timeout: "7.5s"``."""
    methods = {}
    for name, policy in dl().errgen.ERRGEN.methods.items():
        fields = {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)}
        if not name.endswith("/Relay"):
            fields["timeout"] = DEFAULT_TIMEOUT
        methods[name] = TimedPolicy(**fields)
    return dataclasses.replace(dl().errgen.ERRGEN, methods=methods)


def answer() -> Any:
    remaining = time_remaining()
    return dl().pb2.Resp(has_deadline=remaining is not None, remaining=remaining or 0.0)


class SyncDeadlines:
    def __init__(self) -> None:
        self.target = ""

    def Remaining(self, request: Any, context: Any) -> Any:
        return answer()

    def Relay(self, request: Any, context: Any) -> Any:
        with grpc.insecure_channel(self.target) as channel:
            inner = grpc.intercept_channel(
                channel,
                *client_interceptors(dl().errgen, propagate_deadline=request.propagate),
            )
            return dl().pb2_grpc.DeadlinesStub(inner).Remaining(dl().pb2.Req())

    def Watch(self, request: Any, context: Any) -> Iterator[Any]:
        yield answer()
        yield answer()


class AsyncDeadlines:
    def __init__(self) -> None:
        self.target = ""

    async def Remaining(self, request: Any, context: Any) -> Any:
        return answer()

    async def Relay(self, request: Any, context: Any) -> Any:
        interceptors = aio.client_interceptors(
            dl().errgen, propagate_deadline=request.propagate
        )
        async with grpc.aio.insecure_channel(
            self.target, interceptors=interceptors
        ) as channel:
            return await dl().pb2_grpc.DeadlinesStub(channel).Remaining(dl().pb2.Req())

    async def Watch(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield answer()
        yield answer()


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    servicer = SyncDeadlines()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=grpc_errgen.server_interceptors(dl().errgen, log=False),
    )
    dl().pb2_grpc.add_DeadlinesServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    servicer.target = f"127.0.0.1:{port}"
    yield servicer.target
    server.stop(None)


@pytest.fixture
async def aio_target() -> AsyncIterator[str]:
    servicer = AsyncDeadlines()
    server = grpc.aio.server(
        interceptors=aio.server_interceptors(dl().errgen, log=False)
    )
    dl().pb2_grpc.add_DeadlinesServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    servicer.target = f"127.0.0.1:{port}"
    yield servicer.target
    await server.stop(None)


def within(response: Any, most: float) -> bool:
    """The handler saw a deadline no later than ``most`` seconds out (how long the call took to reach it is
    not bounded: a loaded machine may take seconds)."""
    return bool(response.has_deadline) and 0.0 < response.remaining <= most + 0.5


def test_time_remaining_outside_a_call_is_none() -> None:
    assert time_remaining() is None


def test_time_remaining_in_sync_handlers(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = dl().pb2_grpc.DeadlinesStub(channel)
        assert not stub.Remaining(dl().pb2.Req()).has_deadline
        assert within(stub.Remaining(dl().pb2.Req(), timeout=2), 2)
        streamed = list(stub.Watch(dl().pb2.Req(), timeout=2))
        assert len(streamed) == 2 and all(within(r, 2) for r in streamed)


async def test_time_remaining_in_aio_handlers(aio_target: str) -> None:
    async with grpc.aio.insecure_channel(aio_target) as channel:
        stub = dl().pb2_grpc.DeadlinesStub(channel)
        assert not (await stub.Remaining(dl().pb2.Req())).has_deadline
        assert within(await stub.Remaining(dl().pb2.Req(), timeout=2), 2)
        streamed = [r async for r in stub.Watch(dl().pb2.Req(), timeout=2)]
        assert len(streamed) == 2 and all(within(r, 2) for r in streamed)


def test_method_timeout_applies_to_calls_without_one_sync(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = dl().pb2_grpc.DeadlinesStub(
            grpc.intercept_channel(channel, *client_interceptors(timed()))
        )
        defaulted = stub.Remaining(dl().pb2.Req())
        assert within(defaulted, DEFAULT_TIMEOUT) and defaulted.remaining > 2.5
        assert within(stub.Remaining(dl().pb2.Req(), timeout=2), 2)
        assert all(within(r, DEFAULT_TIMEOUT) for r in stub.Watch(dl().pb2.Req()))
        plain = dl().pb2_grpc.DeadlinesStub(
            grpc.intercept_channel(channel, *client_interceptors(dl().errgen))
        )
        assert not plain.Remaining(dl().pb2.Req()).has_deadline


async def test_method_timeout_applies_to_calls_without_one_aio(
    aio_target: str,
) -> None:
    async with grpc.aio.insecure_channel(
        aio_target, interceptors=aio.client_interceptors(timed())
    ) as channel:
        stub = dl().pb2_grpc.DeadlinesStub(channel)
        defaulted = await stub.Remaining(dl().pb2.Req())
        assert within(defaulted, DEFAULT_TIMEOUT) and defaulted.remaining > 2.5
        assert within(await stub.Remaining(dl().pb2.Req(), timeout=2), 2)
        async for response in stub.Watch(dl().pb2.Req()):
            assert within(response, DEFAULT_TIMEOUT)


def test_deadline_propagates_to_calls_made_in_handlers_sync(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = dl().pb2_grpc.DeadlinesStub(channel)
        relayed = stub.Relay(dl().pb2.Req(propagate=True), timeout=3)
        assert within(relayed, 3)
        assert not stub.Relay(dl().pb2.Req(propagate=False), timeout=3).has_deadline
        assert not stub.Relay(dl().pb2.Req(propagate=True)).has_deadline


async def test_deadline_propagates_to_calls_made_in_handlers_aio(
    aio_target: str,
) -> None:
    async with grpc.aio.insecure_channel(aio_target) as channel:
        stub = dl().pb2_grpc.DeadlinesStub(channel)
        assert within(await stub.Relay(dl().pb2.Req(propagate=True), timeout=3), 3)
        relayed = await stub.Relay(dl().pb2.Req(propagate=False), timeout=3)
        assert not relayed.has_deadline


def test_channel_options_leave_the_timeout_out() -> None:
    retry = {
        "maxAttempts": 2,
        "initialBackoff": "0.1s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    methods = {
        "/dl.v1.Deadlines/Remaining": MethodPolicy(
            full_method="/dl.v1.Deadlines/Remaining",
            service="dl.v1.Deadlines",
            method="Remaining",
            kind="unary_unary",
            retry=retry,
            timeout=7.5,
        ),
        "/dl.v1.Deadlines/Watch": MethodPolicy(
            full_method="/dl.v1.Deadlines/Watch",
            service="dl.v1.Deadlines",
            method="Watch",
            kind="unary_stream",
            timeout=7.5,
        ),
    }
    generated = GeneratedFile(proto="dl/v1/dl.proto", methods=methods)
    assert [
        entry["timeout"] for entry in service_config([generated])["methodConfig"]
    ] == ["7.5s", "7.5s"]
    options = dict(channel_options(generated))
    sent = json.loads(options["grpc.service_config"])
    (only,) = sent["methodConfig"]
    assert "timeout" not in only
    assert only["retryPolicy"]["maxAttempts"] == 2
