"""Rich errors end to end, sync and aio, through the real server chain (``grpc_errgen.testing``): the trailer
budget (SPEC 6 "Sizes"), retry hints (RetryInfo, ``grpc-retry-pushback-ms``, ``.retry_delay``), any detail
(``details=[...]``, ``.error_details``), and catalogue classes only for their own code.

The servicer raises whatever ``RAISE[request.mode](request)`` builds; the proto package ``rich.v1`` belongs
to these tests.
"""

from __future__ import annotations

import functools
import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

import grpc_errgen
from grpc_errgen import channel_options, errors, testing
from grpc_errgen.errors import RpcException
from grpc_errgen.status import (
    DETAILS_CUT,
    MESSAGE_LIMIT,
    PUSHBACK_KEY,
    TRAILERS_BUDGET,
    message_size,
    to_status,
    trailer_size,
)
from tests.support import build, load

PROTO = """
syntax = "proto3";
package rich.v1;
import "grpc_errgen/options.proto";

enum RichError {
  option (errgen.errors) = { domain: "rich.example" };
  RICH_ERROR_UNSPECIFIED = 0 [(errgen.error) = { code: INTERNAL }];
  ITEM_MISSING = 1 [(errgen.error) = { code: NOT_FOUND, message: "item missing" }];
  BUSY = 2 [(errgen.error) = { code: UNAVAILABLE, message: "busy" }];
}

message Req { string mode = 1; string key = 2; int32 count = 3; }
message Resp { string text = 1; int32 index = 2; }

service Rich {
  rpc Get(Req) returns (Resp) {
    option (errgen.method) = {
      errors: ["ITEM_MISSING", "BUSY"]
      retry: { max_attempts: 3, initial_backoff: "0.01s", max_backoff: "0.01s", backoff_multiplier: 1,
               retryable_codes: [UNAVAILABLE] }
    };
  }
  rpc List(Req) returns (stream Resp) { option (errgen.method) = { errors: ["ITEM_MISSING"] }; }
  rpc Put(stream Req) returns (Resp) { option (errgen.method) = { errors: ["ITEM_MISSING"] }; }
  rpc Chat(stream Req) returns (stream Resp) { option (errgen.method) = { errors: ["ITEM_MISSING"] }; }
}
"""


class Rich(NamedTuple):
    errgen: ModuleType
    pb2: ModuleType
    pb2_grpc: ModuleType


@functools.cache
def rich() -> Rich:
    root = Path(tempfile.mkdtemp(prefix="rich-"))
    build(root, {"rich/v1/rich.proto": PROTO})
    return Rich(
        load("rich.v1.rich_errgen"),
        load("rich.v1.rich_pb2"),
        load("rich.v1.rich_pb2_grpc"),
    )


class Throttled(errors.Unavailable):
    """A status class with a declared retry delay, as generated classes get from ``(errgen.error).retry_delay``."""

    retry_delay = 0.25


def _missing(request: Any) -> RpcException:
    return rich().errgen.ItemMissing(metadata={"key": request.key})  # type: ignore[no-any-return]


FIVE_KIB_OF_DETAILS = [
    error_details_pb2.LocalizedMessage(locale="en", message="m" * 1000)
    for _ in range(5)
]

#: What the servicer raises, by ``request.mode``.
RAISE: dict[str, Callable[[Any], RpcException]] = {
    "missing": _missing,
    "long_message": lambda r: errors.NotFound("x" * 5000),
    "long_message_utf8": lambda r: errors.NotFound("é€\n%" * 2000),
    "long_metadata": lambda r: rich().errgen.ItemMissing(metadata={"blob": "v" * 9000}),
    "many_metadata": lambda r: errors.NotFound(
        metadata={f"key{i:04}": "v" * 40 for i in range(400)}
    ),
    "long_everything": lambda r: errors.FailedPrecondition(
        "é" * 3000,
        metadata={"blob": "b" * 9000},
        details=FIVE_KIB_OF_DETAILS,
        retry_delay=2.0,
        trailing_metadata=[("x-extra", "t" * 3000)],
    ),
    "many_details": lambda r: errors.ResourceExhausted(
        "quota",
        details=[
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=f"project:{i}", description="d" * 60
                    )
                ]
            )
            for i in range(300)
        ],
    ),
    "rich_details": lambda r: errors.FailedPrecondition(
        "cannot ship",
        details=[
            error_details_pb2.LocalizedMessage(locale="fr-FR", message="impossible"),
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="TOS", subject="user:1", description="terms not accepted"
                    )
                ]
            ),
            error_details_pb2.ResourceInfo(
                resource_type="order", resource_name="o-1", description="locked"
            ),
            error_details_pb2.Help(
                links=[
                    error_details_pb2.Help.Link(
                        description="docs", url="https://example.com"
                    )
                ]
            ),
        ],
    ),
    "retry_later": lambda r: rich().errgen.Busy(retry_delay=1.5),
    "throttled": lambda r: Throttled("slow down"),
    "wrong_code": lambda r: rich().errgen.ItemMissing(
        code=grpc.StatusCode.INTERNAL, metadata={"key": r.key}
    ),
}


class Attempts:
    """Per-``key`` call counts and arrival times (``pushback`` mode fails twice, then succeeds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}

    def arrived(self, key: str) -> int:
        with self._lock:
            self.count[key] += 1
            self.times.setdefault(key, []).append(time.monotonic())
            return self.count[key]


def failure(request: Any, attempts: Attempts) -> RpcException | None:
    if request.mode == "pushback":
        if attempts.arrived(request.key) <= 2:
            return rich().errgen.Busy(retry_delay=0.3)  # type: ignore[no-any-return]
        return None
    if request.mode in ("", "ok"):
        return None
    return RAISE[request.mode](request)


class SyncRich:
    def __init__(self) -> None:
        self.attempts = Attempts()

    def _check(self, request: Any) -> None:
        error = failure(request, self.attempts)
        if error is not None:
            raise error

    def Get(self, request: Any, context: Any) -> Any:
        self._check(request)
        return rich().pb2.Resp(text=request.key)

    def List(self, request: Any, context: Any) -> Iterator[Any]:
        for index in range(request.count):
            yield rich().pb2.Resp(index=index)
        self._check(request)

    def Put(self, requests: Iterator[Any], context: Any) -> Any:
        for request in requests:
            self._check(request)
        return rich().pb2.Resp()

    def Chat(self, requests: Iterator[Any], context: Any) -> Iterator[Any]:
        for index, request in enumerate(requests):
            self._check(request)
            yield rich().pb2.Resp(index=index)


class AsyncRich:
    def __init__(self) -> None:
        self.attempts = Attempts()

    def _check(self, request: Any) -> None:
        error = failure(request, self.attempts)
        if error is not None:
            raise error

    async def Get(self, request: Any, context: Any) -> Any:
        self._check(request)
        return rich().pb2.Resp(text=request.key)

    async def List(self, request: Any, context: Any) -> AsyncIterator[Any]:
        for index in range(request.count):
            yield rich().pb2.Resp(index=index)
        self._check(request)

    async def Put(self, requests: AsyncIterator[Any], context: Any) -> Any:
        async for request in requests:
            self._check(request)
        return rich().pb2.Resp()

    async def Chat(
        self, requests: AsyncIterator[Any], context: Any
    ) -> AsyncIterator[Any]:
        index = 0
        async for request in requests:
            self._check(request)
            yield rich().pb2.Resp(index=index)
            index += 1


def req(mode: str, **fields: Any) -> Any:
    return rich().pb2.Req(mode=mode, **fields)


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    with testing.serve(
        rich().pb2_grpc.add_RichServicer_to_server, SyncRich(), rich().errgen, log=False
    ) as channel:
        yield rich().pb2_grpc.RichStub(channel)


@pytest.fixture
async def aio_stub() -> AsyncIterator[Any]:
    async with testing.aio_serve(
        rich().pb2_grpc.add_RichServicer_to_server,
        AsyncRich(),
        rich().errgen,
        log=False,
    ) as channel:
        yield rich().pb2_grpc.RichStub(channel)


def sent_size(error: RpcException) -> int:
    """What the status took on the wire: the message as ``grpc-message`` and every trailer."""
    return (
        trailer_size("grpc-message", "")
        + message_size(error.details())
        + trailer_size("grpc-status", "5")
        + sum(trailer_size(key, value) for key, value in error.trailing_metadata())
    )


def call_sync(stub: Any, arity: str, request: Any) -> None:
    if arity == "unary_unary":
        stub.Get(request)
    elif arity == "unary_stream":
        list(stub.List(request))
    elif arity == "stream_unary":
        stub.Put(iter([request]))
    else:
        list(stub.Chat(iter([request])))


async def call_aio(stub: Any, arity: str, request: Any) -> None:
    if arity == "unary_unary":
        await stub.Get(request)
    elif arity == "unary_stream":
        async for _ in stub.List(request):
            pass
    elif arity == "stream_unary":
        await stub.Put(iter([request]))
    else:
        async for _ in stub.Chat(iter([request])):
            pass


ARITIES = ["unary_unary", "unary_stream", "stream_unary", "stream_stream"]
OVERSIZED = [
    ("long_message", errors.NotFound),
    ("long_message_utf8", errors.NotFound),
    ("long_metadata", errors.NotFound),
    ("many_metadata", errors.NotFound),
    ("long_everything", errors.FailedPrecondition),
    ("many_details", errors.ResourceExhausted),
]


# -- 12.3: the trailer budget ---------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "expected"), OVERSIZED)
def test_oversized_statuses_arrive_whole_and_say_so_sync(
    stub: Any, mode: str, expected: type[RpcException]
) -> None:
    # Before the budget covered every part, 6 to 16 of 20 such calls ended RESOURCE_EXHAUSTED at random.
    for _ in range(20):
        with pytest.raises(RpcException) as caught:
            stub.Get(req(mode, key="k"))
        error = caught.value
        assert isinstance(error, expected), (type(error), error.details()[:200])
        assert error.code() == expected.status_code
        assert error.details().endswith(DETAILS_CUT)
        assert sent_size(error) <= TRAILERS_BUDGET


@pytest.mark.parametrize("arity", ARITIES)
def test_every_arity_keeps_the_budget_sync(stub: Any, arity: str) -> None:
    for mode, expected in OVERSIZED:
        with pytest.raises(expected) as caught:
            call_sync(stub, arity, req(mode, count=2))
        assert sent_size(caught.value) <= TRAILERS_BUDGET


@pytest.mark.parametrize("arity", ARITIES)
async def test_every_arity_keeps_the_budget_aio(aio_stub: Any, arity: str) -> None:
    for mode, expected in OVERSIZED:
        for _ in range(5):
            with pytest.raises(expected) as caught:
                await call_aio(aio_stub, arity, req(mode, count=2))
            assert caught.value.details().endswith(DETAILS_CUT)
            assert sent_size(caught.value) <= TRAILERS_BUDGET


def test_what_is_cut_and_what_is_kept(stub: Any) -> None:
    with pytest.raises(errors.FailedPrecondition) as caught:
        stub.Get(req("long_everything"))
    error = caught.value
    # the message is cut (and says so), retry hints and the ErrorInfo survive, the long value is cut
    assert error.details().startswith("é" * 10)
    assert "(message cut)" in error.details()
    assert message_size(error.details()) <= MESSAGE_LIMIT + len(DETAILS_CUT)
    assert error.retry_delay == 2.0
    assert 16 < len(error.metadata["blob"]) < 9000
    assert error.metadata["blob"].endswith("...")
    kinds = [type(detail).__name__ for detail in error.error_details]
    assert kinds[:2] == ["ErrorInfo", "RetryInfo"]
    assert set(kinds[2:]) <= {"LocalizedMessage"}


def test_small_statuses_are_not_cut(stub: Any) -> None:
    with pytest.raises(rich().errgen.ItemMissing) as caught:
        stub.Get(req("missing", key="k-1"))
    assert caught.value.details() == "item missing"
    assert caught.value.metadata == {"key": "k-1"}


def test_many_details_keep_the_first_ones(stub: Any) -> None:
    with pytest.raises(errors.ResourceExhausted) as caught:
        stub.Get(req("many_details"))
    quota = [
        d
        for d in caught.value.error_details
        if isinstance(d, error_details_pb2.QuotaFailure)
    ]
    assert 10 < len(quota) < 300
    assert [q.violations[0].subject for q in quota] == [
        f"project:{i}" for i in range(len(quota))
    ]


def test_to_status_bounds_any_exception() -> None:
    error = errors.NotFound(
        "m" * 100_000,
        metadata={f"k{i}": "v" * 1000 for i in range(1000)},
        details=[error_details_pb2.Help() for _ in range(100_000)],
        trailing_metadata=[(f"x-{i}", "v" * 100) for i in range(1000)],
    )
    status = to_status(error)
    size = (
        trailer_size("grpc-message", "")
        + message_size(status.message)
        + sum(trailer_size(k, v) for k, v in status.trailing_metadata)
    )
    assert size <= TRAILERS_BUDGET - 200
    assert status.message.endswith(DETAILS_CUT)


def test_to_status_cuts_violations_and_says_how_many() -> None:
    violations = [
        errors.Violation(f"items[{i}].sku", "string.min_len", "too short")
        for i in range(300_000)
    ]
    status = to_status(
        errors.ValidationError(violations, "invalid Req: 300000 violation(s)")
    )
    kept = json.loads(dict(status.trailing_metadata)["error-details"])["violations"]
    assert 10 < len(kept) < 300
    assert status.message == (
        f"invalid Req: 300000 violation(s) (details list the first {len(kept)})"
    )


# -- 12.8: a catalogue class only for its own code ------------------------------------------------------


def test_catalogue_class_only_for_its_code_sync(stub: Any) -> None:
    with pytest.raises(errors.Internal) as caught:
        stub.Get(req("wrong_code", key="k-2"))
    assert type(caught.value) is errors.Internal
    assert not isinstance(caught.value, errors.NotFound)
    assert caught.value.metadata == {"key": "k-2"}


async def test_catalogue_class_only_for_its_code_aio(aio_stub: Any) -> None:
    for arity in ARITIES:
        with pytest.raises(errors.Internal) as caught:
            await call_aio(aio_stub, arity, req("wrong_code"))
        assert type(caught.value) is errors.Internal


# -- 14.1: retry hints ----------------------------------------------------------------------------------


def test_retry_delay_reaches_the_client_sync(stub: Any) -> None:
    with pytest.raises(rich().errgen.Busy) as caught:
        stub.Get(req("retry_later"))
    error = caught.value
    assert error.retry_delay == 1.5
    assert dict(error.trailing_metadata())[PUSHBACK_KEY] == "1500"
    (retry_info,) = [
        d for d in error.error_details if isinstance(d, error_details_pb2.RetryInfo)
    ]
    assert retry_info.retry_delay.ToTimedelta().total_seconds() == 1.5
    with pytest.raises(errors.Unavailable) as throttled:
        stub.Get(req("throttled"))
    assert throttled.value.retry_delay == 0.25
    with pytest.raises(rich().errgen.ItemMissing) as missing:
        stub.Get(req("missing"))
    assert missing.value.retry_delay is None
    assert PUSHBACK_KEY not in dict(missing.value.trailing_metadata())


async def test_retry_delay_reaches_the_client_aio(aio_stub: Any) -> None:
    with pytest.raises(rich().errgen.Busy) as caught:
        await aio_stub.Get(req("retry_later"))
    assert caught.value.retry_delay == 1.5
    with pytest.raises(errors.Unavailable) as throttled:
        await aio_stub.Get(req("throttled"))
    assert throttled.value.retry_delay == 0.25


def test_retry_delay_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        errors.Unavailable(retry_delay=-1)
    with pytest.raises(ValueError):
        errors.Unavailable(retry_delay=float("nan"))
    assert errors.Unavailable(retry_delay=0).retry_delay == 0.0
    assert Throttled().retry_delay == 0.25 and Throttled(retry_delay=3).retry_delay == 3


def test_native_retries_wait_as_told() -> None:
    # The retry policy's own backoff is 0.01 s; the server's pushback says 0.3 s. The gaps between attempts
    # are bounded from below only (a loaded machine makes them longer, never shorter).
    servicer = SyncRich()
    key = str(uuid.uuid4())
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=grpc_errgen.server_interceptors(rich().errgen, log=False),
    )
    rich().pb2_grpc.add_RichServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(
            f"127.0.0.1:{port}", options=channel_options(rich().errgen)
        ) as channel:
            response = (
                rich()
                .pb2_grpc.RichStub(channel)
                .Get(req("pushback", key=key), timeout=30)
            )
    finally:
        server.stop(None)
    assert response.text == key
    times = servicer.attempts.times[key]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.29 and times[2] - times[1] >= 0.29


# -- 14.2: any detail -----------------------------------------------------------------------------------


def test_details_reach_the_client_sync(stub: Any) -> None:
    with pytest.raises(errors.FailedPrecondition) as caught:
        stub.Get(req("rich_details"))
    kinds = [type(d).__name__ for d in caught.value.error_details]
    assert kinds == [
        "ErrorInfo",
        "LocalizedMessage",
        "PreconditionFailure",
        "ResourceInfo",
        "Help",
    ]
    assert caught.value.error_details[1].message == "impossible"
    assert caught.value.details() == "cannot ship"


async def test_details_reach_the_client_aio(aio_stub: Any) -> None:
    for arity in ARITIES:
        with pytest.raises(errors.FailedPrecondition) as caught:
            await call_aio(aio_stub, arity, req("rich_details"))
        assert len(caught.value.error_details) == 5


def test_plain_grpcio_status_client_reads_the_details() -> None:
    servicer = SyncRich()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=grpc_errgen.server_interceptors(rich().errgen, log=False),
    )
    rich().pb2_grpc.add_RichServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.RpcError) as caught:
                rich().pb2_grpc.RichStub(channel).Get(req("rich_details"))
            status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
            assert status is not None
            help_ = error_details_pb2.Help()
            assert status.details[4].Unpack(help_)
            assert help_.links[0].url == "https://example.com"
            with pytest.raises(grpc.RpcError) as busy:
                rich().pb2_grpc.RichStub(channel).Get(req("retry_later"))
            status = rpc_status.from_call(busy.value)  # type: ignore[arg-type]
            assert status is not None
            retry_info = error_details_pb2.RetryInfo()
            assert status.details[1].Unpack(retry_info)
            assert retry_info.retry_delay.ToTimedelta().total_seconds() == 1.5
    finally:
        server.stop(None)


def test_unknown_detail_types_stay_packed() -> None:
    from grpc_errgen.status import from_status

    unknown = any_pb2.Any(
        type_url="type.googleapis.com/no.such.Type", value=b"\x08\x01"
    )
    error = errors.NotFound("x", details=[unknown])
    status = to_status(error)
    received = from_status(status.code, status.message, status.trailing_metadata, {})
    assert received.error_details[1] == unknown
