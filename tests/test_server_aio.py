"""The server chain on a real ``grpc.aio.server``, hit by plain grpc.aio clients: all four arities.

The servicer covers every handler style grpc.aio has: coroutines (Unary), an async generator
(ServerStream), the request iterator (ClientStream), and ``context.read``/``context.write`` (Bidi).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import CollectorRegistry

from grpc_errgen import current_principal, current_request_id
from grpc_errgen.aio import server_interceptors, with_chain
from grpc_errgen.chain import ServerCall
from grpc_errgen.context import Principal
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


async def authenticate(token: str, method: str) -> Principal | None:
    await asyncio.sleep(0)
    if token == "bad":
        return None
    scopes = {"chain.write"} if token.startswith("writer") else set()
    return Principal(token, scopes=frozenset(scopes))


class Servicer:
    """Acts on ``Req.mode`` (see ``server_chain_service``); records what reached it in ``seen``."""

    def __init__(self, generated: Generated) -> None:
        self.generated = generated
        self.seen: list[tuple[str | None, str]] = []

    async def act(self, request: Any, context: Any) -> Any:
        self.seen.append((current_request_id(), request.name))
        if request.mode == "abort":
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "handler says no",
                (("handler-trailer", "yes"),),
            )
        if request.mode == "trailer":
            context.set_trailing_metadata((("handler-trailer", "yes"),))
        if request.mode == "slow":
            await asyncio.sleep(0.01)
        raise_for(request.mode, self.generated)
        principal = current_principal()
        return self.generated.pb2.Resp(
            text=request.name,
            principal=principal.subject if principal is not None else "",
            request_id=current_request_id() or "",
        )

    async def Unary(self, request: Any, context: Any) -> Any:
        return await self.act(request, context)

    Secure = Unary

    async def ServerStream(self, request: Any, context: Any) -> AsyncIterator[Any]:
        ok = self.generated.pb2.Req(mode="slow", name=request.name)
        for _ in range(request.count):
            yield await self.act(ok, context)
        if request.mode not in ("ok", "slow"):
            yield await self.act(request, context)

    async def ClientStream(
        self, request_iterator: AsyncIterator[Any], context: Any
    ) -> Any:
        last = None
        async for request in request_iterator:
            last = await self.act(request, context)
        return last or self.generated.pb2.Resp()

    async def Bidi(self, request_iterator: Any, context: Any) -> None:
        while True:
            request = await context.read()
            if request is grpc.aio.EOF:
                return
            await context.write(await self.act(request, context))


#: The two ways to install the chain: grpc.aio's interceptors, or ``with_chain`` when the servicer is added.
INSTALLS = ("interceptors", "with_chain")


@contextlib.asynccontextmanager
async def serve(
    generated: Generated, install: str = "interceptors", **chain: Any
) -> AsyncIterator[tuple[Any, Servicer]]:
    servicer = Servicer(generated)
    if install == "with_chain":
        server = with_chain(grpc.aio.server(), generated.errgen, **chain)
    else:
        server = grpc.aio.server(
            interceptors=server_interceptors(generated.errgen, **chain)
        )
    generated.pb2_grpc.add_ChainServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield generated.pb2_grpc.ChainStub(channel), servicer
    finally:
        await channel.close()
        await server.stop(None)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return build_service(tmp_path_factory.mktemp("srvchain_aio"))


@pytest.fixture(params=INSTALLS)
async def service(
    generated: Generated, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Any, Servicer]]:
    async with serve(
        generated,
        install=request.param,
        authenticate=authenticate,
        echo_request_id=True,
    ) as running:
        yield running


class Outcome(NamedTuple):
    responses: list[Any]
    error: Any  # the grpc.aio.AioRpcError or None
    trailers: dict[str, Any]


async def invoke(
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
    if arity == "unary_unary":
        call = stub.Unary(single, metadata=metadata, timeout=10)
    elif arity == "stream_unary":
        call = stub.ClientStream(iter(stream), metadata=metadata, timeout=10)
    elif arity == "unary_stream":
        call = stub.ServerStream(single, metadata=metadata, timeout=10)
    else:
        call = stub.Bidi(iter(stream), metadata=metadata, timeout=10)
    try:
        if arity in ("unary_unary", "stream_unary"):
            received.append(await call)
        else:
            async for response in call:
                received.append(response)
    except grpc.aio.AioRpcError as error:
        return Outcome(received, error, dict(error.trailing_metadata() or ()))
    return Outcome(received, None, dict(await call.trailing_metadata() or ()))


def details_of(outcome: Outcome) -> Any:
    status = status_pb2.Status.FromString(outcome.trailers["grpc-status-details-bin"])
    assert status.code == outcome.error.code().value[0]
    return status


@pytest.mark.parametrize("arity", ARITIES)
async def test_ok_echoes_the_request_id_in_trailers(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = await invoke(
        stub, generated.pb2, arity, metadata=(("x-request-id", "rid-ok-1"),)
    )
    assert outcome.error is None
    assert outcome.trailers["x-request-id"] == "rid-ok-1"
    assert outcome.responses and all(
        r.request_id == "rid-ok-1" for r in outcome.responses
    )
    fresh = await invoke(stub, generated.pb2, arity)
    assert uuid.UUID(fresh.trailers["x-request-id"]).version == 4
    assert fresh.responses[-1].request_id == fresh.trailers["x-request-id"]


@pytest.mark.parametrize("arity", ARITIES)
@pytest.mark.parametrize("mode", sorted(EXPECTED))
async def test_failures_map_to_their_status_after_the_messages_sent(
    service: Any, generated: Generated, arity: str, mode: str
) -> None:
    stub, _ = service
    outcome = await invoke(
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
    streamed = {
        "unary_unary": 0,
        "stream_unary": 0,
        "unary_stream": 3,
        "stream_stream": 3,
    }
    assert len(outcome.responses) == streamed[arity]
    if mode == "abort":  # the handler's own abort: its trailers, untouched
        assert outcome.trailers["handler-trailer"] == "yes"
        assert "grpc-status-details-bin" not in outcome.trailers
    assert outcome.trailers["x-request-id"] == f"rid-{mode}"


@pytest.mark.parametrize("arity", ARITIES)
async def test_declared_errors_carry_error_info(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = await invoke(stub, generated.pb2, arity, "declared")
    info = error_details_pb2.ErrorInfo()
    assert details_of(outcome).details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "ITEM_MISSING",
        "chain.test.example",
        {"sku": "7"},
    )


async def test_unexpected_and_undeclared_errors_are_logged(
    service: Any, generated: Generated, caplog: pytest.LogCaptureFixture
) -> None:
    stub, _ = service
    with caplog.at_level(logging.INFO, logger="grpc_errgen"):
        await invoke(
            stub,
            generated.pb2,
            "stream_stream",
            "secret",
            metadata=(("x-request-id", "rid-secret"),),
        )
        await invoke(
            stub,
            generated.pb2,
            "unary_unary",
            "undeclared",
            metadata=(("x-request-id", "rid-und"),),
        )
    logged = [
        r for r in caplog.records if r.exc_info and "rid-secret" in r.getMessage()
    ]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None and SECRET in str(logged[0].exc_info[1])
    assert any(
        "does not declare" in r.getMessage() and "rid-und" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("arity", ARITIES)
async def test_handler_trailers_merge_with_the_request_id(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = await invoke(
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
async def test_invalid_requests_never_reach_the_handler(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, servicer = service
    # One request only: a grpc.aio client still writing its request stream when the server's status
    # arrives reports INTERNAL "Failed execute_batch" instead of that status (grpc#36066, client side;
    # docs/runtime.md). With nothing left to write, the refusal always arrives as sent.
    outcome = await invoke(
        stub,
        generated.pb2,
        arity,
        count=1,
        name="x",
        metadata=(("x-request-id", "rid-inv"),),
    )
    assert outcome.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.error.details() == "invalid Req: 1 violation(s)"
    bad_request = error_details_pb2.BadRequest()
    assert details_of(outcome).details[0].Unpack(bad_request)
    assert (
        bad_request.field_violations[0].field,
        bad_request.field_violations[0].reason,
    ) == ("name", "string.min_len")
    assert (
        json.loads(outcome.trailers["error-details"])["violations"][0]["field"]
        == "name"
    )
    assert [name for rid, name in servicer.seen if rid == "rid-inv"] == []


@pytest.mark.parametrize("arity", ["stream_unary", "stream_stream"])
async def test_streamed_requests_are_validated_one_by_one(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, servicer = service
    pb2 = generated.pb2
    stream = [
        pb2.Req(mode="ok", name="one"),
        pb2.Req(mode="ok", name="two"),
        pb2.Req(mode="ok", name="x"),
    ]
    method = stub.ClientStream if arity == "stream_unary" else stub.Bidi
    call = method(
        iter(stream), metadata=(("x-request-id", f"rid-s-{arity}"),), timeout=10
    )
    received: list[Any] = []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        if arity == "stream_unary":
            received.append(await call)
        else:
            async for response in call:
                received.append(response)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [name for rid, name in servicer.seen if rid == f"rid-s-{arity}"] == [
        "one",
        "two",
    ]
    assert len(received) == (2 if arity == "stream_stream" else 0)


@pytest.mark.parametrize("arity", ARITIES)
async def test_hundreds_of_violations_stay_under_the_trailer_limit(
    service: Any, generated: Generated, arity: str
) -> None:
    stub, _ = service
    outcome = await invoke(stub, generated.pb2, arity, count=1, tags=["abc"] * 400)
    assert outcome.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.error.details().startswith(
        "invalid Req: more than 100 violation(s) (details list the first"
    )
    bad_request = error_details_pb2.BadRequest()
    assert details_of(outcome).details[0].Unpack(bad_request)
    assert 10 < len(bad_request.field_violations) < 400


async def test_principals_never_mix_between_concurrent_calls(
    service: Any, generated: Generated
) -> None:
    stub, _ = service

    async def one(index: int) -> None:
        token = f"user-{index}"
        metadata = (
            ("authorization", f"Bearer {token}"),
            ("x-request-id", f"rid-p-{index}"),
        )
        outcome = await invoke(
            stub, generated.pb2, ARITIES[index % 4], "slow", count=3, metadata=metadata
        )
        assert outcome.error is None, outcome.error
        assert outcome.responses
        for response in outcome.responses:
            assert (response.principal, response.request_id) == (
                token,
                f"rid-p-{index}",
            )

    await asyncio.gather(*(one(i) for i in range(48)))
    for arity in ARITIES:
        assert {
            r.principal for r in (await invoke(stub, generated.pb2, arity)).responses
        } == {""}


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED),
        ("bad", grpc.StatusCode.UNAUTHENTICATED),
        ("reader", grpc.StatusCode.PERMISSION_DENIED),
        ("writer-1", grpc.StatusCode.OK),
    ],
)
async def test_auth_required_rpcs_are_never_reached_without_a_principal(
    service: Any, generated: Generated, token: str | None, code: grpc.StatusCode
) -> None:
    stub, servicer = service
    rid = f"rid-secure-{token}"
    metadata = [("x-request-id", rid)] + (
        [("authorization", f"Bearer {token}")] if token else []
    )
    call = stub.Secure(generated.pb2.Req(name="good"), metadata=metadata, timeout=10)
    with contextlib.suppress(grpc.aio.AioRpcError):
        assert (await call).principal == token
    assert await call.code() == code
    assert dict(await call.trailing_metadata())["x-request-id"] == rid
    reached = [name for seen_rid, name in servicer.seen if seen_rid == rid]
    assert reached == (["good"] if code == grpc.StatusCode.OK else [])


async def test_a_slow_authenticator_does_not_serialise_calls(
    generated: Generated,
) -> None:
    # Each of the six calls' authenticator waits until all six are inside it: calls run one at a time would
    # never get there (the barrier gives up after 10 s and the calls fail). Counting, not timing.
    together = asyncio.Barrier(6)

    async def slow(token: str, method: str) -> Principal:
        if token in {f"t{i}" for i in range(6)}:
            await asyncio.wait_for(together.wait(), 10)
        return Principal(token)

    async with serve(generated, authenticate=slow, log=False) as (stub, _):
        await invoke(stub, generated.pb2, "unary_unary")  # connect first
        outcomes = await asyncio.gather(
            *(
                invoke(
                    stub,
                    generated.pb2,
                    "unary_unary",
                    metadata=(("authorization", f"Bearer t{i}"),),
                )
                for i in range(6)
            )
        )
    assert [o.responses[0].principal for o in outcomes] == [f"t{i}" for i in range(6)]


@pytest.mark.parametrize("install", INSTALLS)
async def test_metrics_count_every_outcome(generated: Generated, install: str) -> None:
    """Once per call, also with ``with_chain``, whose server gets each servicer both as registered methods
    and as a generic handler (``add_ChainServicer_to_server``): the same handler is wrapped once.
    """
    registry = CollectorRegistry()
    async with serve(
        generated,
        install=install,
        authenticate=authenticate,
        log=False,
        metrics=registry,
    ) as (stub, _):
        await invoke(stub, generated.pb2, "unary_stream", count=3)
        await invoke(stub, generated.pb2, "unary_stream", "abort", count=1)
        await invoke(stub, generated.pb2, "unary_unary", name="x")
        await invoke(stub, generated.pb2, "stream_stream", "secret", count=2)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await stub.Secure(generated.pb2.Req(name="good"), timeout=10)

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
    labels = {
        "grpc_type": "bidi_stream",
        "grpc_service": "srvchain.v1.Chain",
        "grpc_method": "Bidi",
    }
    assert registry.get_sample_value("grpc_server_msg_sent_total", labels) == 2
    assert registry.get_sample_value("grpc_server_msg_received_total", labels) == 3


@pytest.mark.parametrize("arity", ARITIES)
async def test_a_rule_that_cannot_be_evaluated_fails_the_call_as_internal(
    service: Any,
    generated: Generated,
    arity: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub, servicer = service
    rid = f"rid-runtime-{arity}"
    with caplog.at_level(logging.ERROR, logger="grpc_errgen"):
        # One request (see test_invalid_requests_never_reach_the_handler: grpc#36066).
        outcome = await invoke(
            stub,
            generated.pb2,
            arity,
            count=1,
            blob=b"\xff",
            metadata=(("x-request-id", rid),),
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


def live_calls(before: list[ServerCall]) -> int:
    """The chain's calls still in memory, but for those of ``before`` (other tests' calls still running)."""
    kept = {id(call) for call in before}
    return sum(
        type(thing) is ServerCall and id(thing) not in kept
        for thing in gc.get_objects()
    )


@pytest.mark.parametrize("install", INSTALLS)
@pytest.mark.parametrize("log", [True, False])
async def test_a_finished_call_is_freed_without_the_garbage_collector(
    generated: Generated, install: str, log: bool
) -> None:
    """Nothing keeps a call that ended in a reference cycle (the call and its log/metrics observation): it
    is freed when it ends, with its servicer context, not at some later full collection. Measured with the
    cyclic collector off, by counting the chain's live calls.
    """
    gc.collect()
    before = [thing for thing in gc.get_objects() if type(thing) is ServerCall]
    gc.disable()
    try:
        async with serve(
            generated, install=install, authenticate=authenticate, log=log
        ) as (stub, _):
            for arity in ARITIES:
                for _ in range(3):
                    assert (await invoke(stub, generated.pb2, arity)).error is None
            # The server finishes each call just after the client has its status: let the loop run
            # (a bounded number of short sleeps) until the last ones are done.
            for _ in range(500):
                if live_calls(before) == 0:
                    break
                await asyncio.sleep(0.01)
            assert live_calls(before) == 0
    finally:
        gc.enable()
