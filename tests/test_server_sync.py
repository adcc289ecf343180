"""The server chain on a real ``grpc.server``, hit by plain grpcio clients: all four arities."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from typing import Any, NamedTuple

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client import CollectorRegistry

from grpc_errgen import (
    current_principal,
    current_request_id,
    server_interceptors,
    with_chain,
)
from grpc_errgen.chain import ServerCall
from grpc_errgen.context import CURRENT_CALL, Principal
from tests.server_chain_service import (
    ARITIES,
    EXPECTED,
    SECRET,
    Generated,
    build_service,
    leaked,
    raise_for,
    requests,
)


def authenticate(token: str, method: str) -> Principal | None:
    if token == "bad":
        return None
    scopes = {"chain.write"} if token.startswith("writer") else set()
    return Principal(token, scopes=frozenset(scopes))


class Servicer:
    """Acts on ``Req.mode`` (see ``server_chain_service``); records what reached it in ``seen``."""

    def __init__(self, generated: Generated) -> None:
        self.generated = generated
        self.seen: list[tuple[str | None, str]] = []
        self.lock = threading.Lock()

    def act(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self.lock:
            self.seen.append((current_request_id(), request.name))
        if request.mode == "abort":
            context.set_trailing_metadata((("handler-trailer", "yes"),))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "handler says no")
        if request.mode == "trailer":
            context.set_trailing_metadata((("handler-trailer", "yes"),))
        if request.mode == "slow":
            time.sleep(0.01)
        raise_for(request.mode, self.generated)
        principal = current_principal()
        return self.generated.pb2.Resp(
            text=request.name,
            principal=principal.subject if principal is not None else "",
            request_id=current_request_id() or "",
        )

    def Unary(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.act(request, context)

    Secure = Unary

    def ServerStream(
        self, request: Any, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        ok = self.generated.pb2.Req(mode="slow", name=request.name)
        for _ in range(request.count):
            yield self.act(ok, context)
        if request.mode not in ("ok", "slow"):
            yield self.act(request, context)

    def ClientStream(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Any:
        last = None
        for request in request_iterator:
            last = self.act(request, context)
        return last or self.generated.pb2.Resp()

    def Bidi(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        for request in request_iterator:
            yield self.act(request, context)


#: The two ways to install the chain: grpcio's interceptors, or ``with_chain`` when the servicer is added.
INSTALLS = ("interceptors", "with_chain")


@contextlib.contextmanager
def serve(
    generated: Generated, workers: int = 8, install: str = "interceptors", **chain: Any
) -> Iterator[tuple[Any, Servicer]]:
    servicer = Servicer(generated)
    pool = futures.ThreadPoolExecutor(max_workers=workers)
    if install == "with_chain":
        server = with_chain(grpc.server(pool), generated.errgen, **chain)
    else:
        server = grpc.server(
            pool, interceptors=server_interceptors(generated.errgen, **chain)
        )
    generated.pb2_grpc.add_ChainServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield generated.pb2_grpc.ChainStub(channel), servicer
    finally:
        channel.close()
        server.stop(None)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return build_service(tmp_path_factory.mktemp("srvchain"))


@pytest.fixture(scope="module", params=INSTALLS)
def service(
    generated: Generated, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, Servicer]]:
    with serve(
        generated,
        install=request.param,
        authenticate=authenticate,
        echo_request_id=True,
    ) as running:
        yield running


class Outcome(NamedTuple):
    responses: list[Any]
    error: Any  # the grpc.RpcError (also the call) or None
    trailers: dict[str, Any]


def invoke(
    stub: Any,
    pb2: Any,
    arity: str,
    mode: str = "ok",
    count: int = 2,
    metadata: Any = (),
    **fields: Any,
) -> Outcome:
    """One call of ``arity``; the failure (if any) comes after ``count`` good messages on streams."""
    fields.setdefault("name", "good")
    single = pb2.Req(mode=mode, count=count, **fields)
    stream = requests(pb2, mode, count, **fields)
    received: list[Any] = []
    try:
        if arity == "unary_unary":
            response, call = stub.Unary.with_call(single, metadata=metadata, timeout=10)
            received.append(response)
        elif arity == "stream_unary":
            response, call = stub.ClientStream.with_call(
                iter(stream), metadata=metadata, timeout=10
            )
            received.append(response)
        else:
            if arity == "unary_stream":
                call = stub.ServerStream(single, metadata=metadata, timeout=10)
            else:
                call = stub.Bidi(iter(stream), metadata=metadata, timeout=10)
            received.extend(call)
    except grpc.RpcError as raised:
        error: Any = raised
        return Outcome(received, error, dict(error.trailing_metadata() or ()))
    return Outcome(received, None, dict(call.trailing_metadata() or ()))


@pytest.mark.parametrize("arity", ARITIES)
def test_ok_echoes_the_request_id_in_trailers(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = invoke(
        stub, generated.pb2, arity, metadata=(("x-request-id", "rid-ok-1"),)
    )
    assert outcome.error is None
    assert outcome.responses
    assert outcome.trailers["x-request-id"] == "rid-ok-1"
    assert all(r.request_id == "rid-ok-1" for r in outcome.responses if r.text)


@pytest.mark.parametrize("arity", ARITIES)
def test_a_new_request_id_when_the_client_sends_none(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = invoke(stub, generated.pb2, arity)
    rid = outcome.trailers["x-request-id"]
    assert uuid.UUID(rid).version == 4
    assert outcome.responses[-1].request_id == rid


@pytest.mark.parametrize("arity", ARITIES)
@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_failures_map_to_their_status_after_the_messages_sent(
    service: Any, generated: Generated, arity: str, mode: str
) -> None:
    stub, _ = service
    outcome = invoke(
        stub,
        generated.pb2,
        arity,
        mode,
        count=3,
        metadata=(("x-request-id", f"rid-{mode}"),),
    )
    assert outcome.error is not None, "the call must fail"
    assert (outcome.error.code(), outcome.error.details()) == EXPECTED[mode]
    assert leaked(SECRET, outcome.error) == []
    assert outcome.trailers["x-request-id"] == f"rid-{mode}"
    streamed = {
        "unary_unary": 0,
        "stream_unary": 0,
        "unary_stream": 3,
        "stream_stream": 3,
    }
    assert len(outcome.responses) == streamed[arity]


@pytest.mark.parametrize("arity", ARITIES)
def test_declared_errors_carry_error_info(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = invoke(stub, generated.pb2, arity, "declared")
    status = rpc_status.from_call(outcome.error)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "ITEM_MISSING",
        "chain.test.example",
        {"sku": "7"},
    )


def test_undeclared_errors_map_and_are_logged(
    service: Any, generated: Generated, caplog: pytest.LogCaptureFixture
) -> None:
    stub, _ = service
    with caplog.at_level(logging.WARNING, logger="grpc_errgen"):
        outcome = invoke(
            stub,
            generated.pb2,
            "unary_unary",
            "undeclared",
            metadata=(("x-request-id", "rid-und"),),
        )
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(outcome.error).details[0].Unpack(info)
    assert info.reason == "OUT_OF_STOCK"
    assert any(
        "does not declare" in r.getMessage() and "rid-und" in r.getMessage()
        for r in caplog.records
    )


def test_unexpected_exceptions_are_logged_with_traceback_and_request_id(
    service: Any, generated: Generated, caplog: pytest.LogCaptureFixture
) -> None:
    stub, _ = service
    with caplog.at_level(logging.INFO, logger="grpc_errgen"):
        invoke(
            stub,
            generated.pb2,
            "unary_stream",
            "secret",
            metadata=(("x-request-id", "rid-secret"),),
        )
    logged = [
        r for r in caplog.records if r.exc_info and "rid-secret" in r.getMessage()
    ]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None
    assert SECRET in str(logged[0].exc_info[1])


@pytest.mark.parametrize("arity", ARITIES)
def test_handler_abort_passes_through_with_its_trailers(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = invoke(stub, generated.pb2, arity, "abort")
    assert outcome.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert outcome.trailers["handler-trailer"] == "yes"
    assert "x-request-id" in outcome.trailers
    assert "grpc-status-details-bin" not in outcome.trailers


@pytest.mark.parametrize("arity", ARITIES)
def test_handler_trailers_merge_with_the_request_id(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = invoke(
        stub,
        generated.pb2,
        arity,
        "trailer",
        count=1,
        metadata=(("x-request-id", "rid-tr"),),
    )
    assert outcome.error is None
    assert outcome.trailers == {"handler-trailer": "yes", "x-request-id": "rid-tr"}


@pytest.mark.parametrize("arity", ARITIES)
def test_invalid_requests_never_reach_the_handler(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, servicer = service
    rid = f"rid-invalid-{arity}"
    outcome = invoke(
        stub,
        generated.pb2,
        arity,
        "ok",
        count=2,
        name="x",
        metadata=(("x-request-id", rid),),
    )
    assert outcome.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.error.details() == "invalid Req: 1 violation(s)"
    bad_request = error_details_pb2.BadRequest()
    assert rpc_status.from_call(outcome.error).details[0].Unpack(bad_request)
    violation = bad_request.field_violations[0]
    assert (violation.field, violation.reason) == ("name", "string.min_len")
    assert (
        json.loads(outcome.trailers["error-details"])["violations"][0]["rule"]
        == "string.min_len"
    )
    assert [name for seen_rid, name in servicer.seen if seen_rid == rid] == []


@pytest.mark.parametrize("arity", ["stream_unary", "stream_stream"])
def test_streamed_requests_are_validated_one_by_one(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, servicer = service
    rid = f"rid-stream-invalid-{arity}"
    pb2 = generated.pb2
    stream = [
        pb2.Req(mode="ok", name="one"),
        pb2.Req(mode="ok", name="two"),
        pb2.Req(mode="ok", name="x"),
    ]
    method = stub.ClientStream if arity == "stream_unary" else stub.Bidi
    received: list[Any] = []
    raised: Any
    with pytest.raises(grpc.RpcError) as raised:
        result = method(iter(stream), metadata=(("x-request-id", rid),), timeout=10)
        received.extend([result] if arity == "stream_unary" else result)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [name for seen_rid, name in servicer.seen if seen_rid == rid] == [
        "one",
        "two",
    ]
    assert len(received) == (2 if arity == "stream_stream" else 0)


@pytest.mark.parametrize("arity", ARITIES)
def test_hundreds_of_violations_stay_under_the_trailer_limit(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = invoke(stub, generated.pb2, arity, "ok", count=1, tags=["abc"] * 400)
    assert outcome.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.error.details().startswith(
        "invalid Req: more than 100 violation(s) (details list the first"
    )
    bad_request = error_details_pb2.BadRequest()
    assert rpc_status.from_call(outcome.error).details[0].Unpack(bad_request)
    assert 10 < len(bad_request.field_violations) < 400
    size = sum(len(k) + len(v) for k, v in outcome.trailers.items())
    assert size < 8 * 1024


def test_principals_never_mix_between_concurrent_calls(
    service: Any, generated: Generated
) -> None:
    stub, _ = service

    def one(index: int) -> None:
        arity = ARITIES[index % 4]
        token = f"user-{index}"
        outcome = invoke(
            stub,
            generated.pb2,
            arity,
            "slow",
            count=3,
            metadata=(
                ("authorization", f"Bearer {token}"),
                ("x-request-id", f"rid-p-{index}"),
            ),
        )
        assert outcome.error is None, outcome.error
        assert outcome.responses
        for response in outcome.responses:
            assert (response.principal, response.request_id) == (
                token,
                f"rid-p-{index}",
            )

    with futures.ThreadPoolExecutor(max_workers=12) as pool:
        for done in [pool.submit(one, i) for i in range(48)]:
            done.result()
    # And a call without a token, on the same (reused) worker threads, sees no principal.
    for arity in ARITIES:
        assert {r.principal for r in invoke(stub, generated.pb2, arity).responses} == {
            ""
        }


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED),
        ("bad", grpc.StatusCode.UNAUTHENTICATED),
        ("reader", grpc.StatusCode.PERMISSION_DENIED),
        ("writer-1", grpc.StatusCode.OK),
    ],
)
def test_auth_required_rpcs_are_never_reached_without_a_principal(
    service: Any, generated: Generated, token: str | None, code: grpc.StatusCode
) -> None:
    stub, servicer = service
    rid = f"rid-secure-{token}"
    metadata = [("x-request-id", rid)] + (
        [("authorization", f"Bearer {token}")] if token else []
    )
    try:
        response, call = stub.Secure.with_call(
            generated.pb2.Req(name="good"), metadata=metadata, timeout=10
        )
        got = call.code()
        assert response.principal == token
    except grpc.RpcError as raised:
        error: Any = raised
        got = error.code()
        assert dict(error.trailing_metadata())["x-request-id"] == rid
    assert got == code
    reached = [name for seen_rid, name in servicer.seen if seen_rid == rid]
    assert reached == (["good"] if code == grpc.StatusCode.OK else [])


def test_a_chain_that_needs_auth_refuses_to_start_without_authenticate(
    generated: Generated,
) -> None:
    with pytest.raises(ValueError, match="Secure"):
        server_interceptors(generated.errgen)


def test_a_slow_authenticator_does_not_serialise_calls(generated: Generated) -> None:
    # Each of the six calls' authenticator waits until all six are inside it: calls run one at a time would
    # never get there (the barrier breaks after 10 s and the calls fail). Counting, not timing.
    together = threading.Barrier(6, timeout=10)

    def slow(token: str, method: str) -> Principal:
        if token in {f"t{i}" for i in range(6)}:
            together.wait()
        return Principal(token)

    with serve(generated, workers=8, authenticate=slow, log=False) as (stub, _):
        invoke(stub, generated.pb2, "unary_unary")  # connect first
        with futures.ThreadPoolExecutor(max_workers=6) as pool:
            calls = [
                pool.submit(
                    invoke,
                    stub,
                    generated.pb2,
                    "unary_unary",
                    metadata=(("authorization", f"Bearer t{i}"),),
                )
                for i in range(6)
            ]
            outcomes = [c.result() for c in calls]
    assert [o.responses[0].principal for o in outcomes] == [f"t{i}" for i in range(6)]


@pytest.mark.parametrize("install", INSTALLS)
def test_metrics_count_every_outcome(generated: Generated, install: str) -> None:
    """Once per call, also with ``with_chain``, whose server gets each servicer both as registered methods
    and as a generic handler (``add_ChainServicer_to_server``): the same handler is wrapped once.
    """
    registry = CollectorRegistry()
    with serve(
        generated,
        install=install,
        authenticate=authenticate,
        log=False,
        metrics=registry,
    ) as (
        stub,
        _,
    ):
        invoke(stub, generated.pb2, "unary_stream", count=3)
        invoke(stub, generated.pb2, "unary_stream", "abort", count=1)
        invoke(stub, generated.pb2, "unary_unary", name="x")
        invoke(stub, generated.pb2, "stream_stream", "secret", count=2)
        with contextlib.suppress(grpc.RpcError):
            stub.Secure(generated.pb2.Req(name="good"), timeout=10)

    def handled(method: str, grpc_type: str, code: str) -> float | None:
        labels = {
            "grpc_type": grpc_type,
            "grpc_service": "srvchain.v1.Chain",
            "grpc_method": method,
            "grpc_code": code,
        }
        return registry.get_sample_value("grpc_server_handled_total", labels)

    assert handled("ServerStream", "server_stream", "OK") == 1
    assert handled("ServerStream", "server_stream", "ResourceExhausted") == 1
    assert handled("Unary", "unary", "InvalidArgument") == 1
    assert handled("Bidi", "bidi_stream", "Internal") == 1
    assert handled("Secure", "unary", "Unauthenticated") == 1
    sent = registry.get_sample_value(
        "grpc_server_msg_sent_total",
        {
            "grpc_type": "server_stream",
            "grpc_service": "srvchain.v1.Chain",
            "grpc_method": "ServerStream",
        },
    )
    assert sent == 4


def test_error_mapping_can_be_turned_off(generated: Generated) -> None:
    with serve(generated, authenticate=authenticate, log=False, map_errors=False) as (
        stub,
        _,
    ):
        mapped = invoke(stub, generated.pb2, "unary_unary", "key")
        invalid = invoke(stub, generated.pb2, "unary_unary", name="x")
    assert mapped.error.code() == grpc.StatusCode.UNKNOWN  # grpcio's own handling
    assert (
        invalid.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    )  # the chain's own refusals still count


@pytest.mark.parametrize("allowed", ["other.Svc", "/other.Svc/Ping"])
def test_methods_allow_unlisted_names_pass_through(
    generated: Generated, allowed: str
) -> None:
    def ping(request: bytes, context: grpc.ServicerContext) -> bytes:
        assert current_principal() is None
        if request == b"boom":
            raise RuntimeError("plain grpcio handling")
        return request

    handler = grpc.method_handlers_generic_handler(
        "other.Svc", {"Ping": grpc.unary_unary_rpc_method_handler(ping)}
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=server_interceptors(
            generated.errgen, authenticate=authenticate, allow_unlisted=[allowed]
        ),
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            ping_call: Any = channel.unary_unary("/other.Svc/Ping")
            assert (
                ping_call(
                    b"hi", metadata=(("authorization", "Bearer writer-1"),), timeout=10
                )
                == b"hi"
            )
            raised: Any
            with pytest.raises(grpc.RpcError) as raised:
                ping_call(b"boom", timeout=10)
    finally:
        server.stop(None)
    assert raised.value.code() == grpc.StatusCode.UNKNOWN
    assert "plain grpcio handling" in raised.value.details()


@pytest.mark.parametrize("arity", ARITIES)
def test_a_rule_that_cannot_be_evaluated_fails_the_call_as_internal(
    service: Any,
    generated: Generated,
    arity: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub, servicer = service
    rid = f"rid-runtime-{arity}"
    with caplog.at_level(logging.ERROR, logger="grpc_errgen"):
        outcome = invoke(
            stub, generated.pb2, arity, blob=b"\xff", metadata=(("x-request-id", rid),)
        )
    assert outcome.error.code() == grpc.StatusCode.INTERNAL
    assert outcome.error.details() == "validation failed"
    assert "UTF-8" not in str(outcome.trailers)
    assert any(
        "validation failed" in r.getMessage()
        and "not valid UTF-8" in r.getMessage()
        and rid in r.getMessage()
        for r in caplog.records
    )
    assert [name for seen_rid, name in servicer.seen if seen_rid == rid] == []


def test_a_request_id_is_made_only_when_something_asks_for_it(
    generated: Generated, caplog: pytest.LogCaptureFixture
) -> None:
    """The client sent none, logging is off and the call ends OK: no id is made (a uuid4 per call is part
    of what the chain costs); the same call with logging on makes one, for its record.
    """
    caplog.set_level(logging.INFO, logger="grpc_errgen")
    scopes: list[Any] = []

    class Quiet(Servicer):
        def Unary(self, request: Any, context: grpc.ServicerContext) -> Any:
            scopes.append(CURRENT_CALL.get())
            return self.generated.pb2.Resp(text=request.name)

    for log, made in ((False, False), (True, True)):
        servicer = Quiet(generated)
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=2),
            interceptors=server_interceptors(
                generated.errgen, authenticate=authenticate, log=log
            ),
        )
        generated.pb2_grpc.add_ChainServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = generated.pb2_grpc.ChainStub(channel).Unary(
                    generated.pb2.Req(mode="ok", name="quiet")
                )
        finally:
            server.stop(None)
        assert reply.text == "quiet"
        scope = scopes.pop()
        assert (scope._request_id is not None) is made
    assert [record.request_id for record in caplog.records] == [scope.request_id]


def live_calls(before: list[ServerCall]) -> int:
    """The chain's calls still in memory, but for those of ``before`` (other tests' calls still running)."""
    kept = {id(call) for call in before}
    return sum(
        type(thing) is ServerCall and id(thing) not in kept
        for thing in gc.get_objects()
    )


@pytest.mark.parametrize("install", INSTALLS)
@pytest.mark.parametrize("log", [True, False])
def test_a_finished_call_is_freed_without_the_garbage_collector(
    generated: Generated, install: str, log: bool
) -> None:
    """Nothing keeps a call that ended in a reference cycle (the call and its log/metrics observation;
    grpcio's per-call ``contextvars.Context`` holding ``CURRENT_CALL``, which holds the servicer context,
    which holds grpcio's state of the call): it is freed when it ends, with its grpc core call, not at some
    later full collection. Measured with the cyclic collector off, by counting the chain's live calls.
    """
    gc.collect()
    before = [thing for thing in gc.get_objects() if type(thing) is ServerCall]
    gc.disable()
    try:
        with serve(generated, install=install, authenticate=authenticate, log=log) as (
            stub,
            _,
        ):
            for arity in ARITIES:
                for _ in range(3):
                    assert invoke(stub, generated.pb2, arity).error is None
            # The server's threads finish each call just after the client has its status: wait (bounded
            # by a count of short sleeps) for the last ones.
            for _ in range(500):
                if live_calls(before) == 0:
                    break
                threading.Event().wait(0.01)
            assert live_calls(before) == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("install", INSTALLS)
def test_nothing_of_a_call_stays_in_the_worker_thread(
    generated: Generated, install: str
) -> None:
    """After calls of every arity with a principal, the thread that served them (a pool of one) runs
    other work with no call set: grpcio runs each call in a ``contextvars.Context`` of its own, and the
    chain resets ``CURRENT_CALL`` when the call ends."""
    pool = futures.ThreadPoolExecutor(max_workers=1)
    chain: dict[str, Any] = {"authenticate": authenticate, "log": False}
    if install == "with_chain":
        server = with_chain(grpc.server(pool), generated.errgen, **chain)
    else:
        server = grpc.server(
            pool, interceptors=server_interceptors(generated.errgen, **chain)
        )
    generated.pb2_grpc.add_ChainServicer_to_server(Servicer(generated), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            token = (("authorization", "Bearer writer-thread"),)
            for arity in ARITIES:
                outcome = invoke(stub, generated.pb2, arity, metadata=token)
                assert {r.principal for r in outcome.responses} == {"writer-thread"}
                assert pool.submit(CURRENT_CALL.get).result() is None
                assert pool.submit(current_principal).result() is None
    finally:
        server.stop(None)
