"""The circuit breaker: its state machine on an injected clock, its thread safety, and the client interceptors
(sync and aio) failing fast on a real channel while a method's circuit is open."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import pytest

from grpc_errgen import aio, client_interceptors, errors
from grpc_errgen.breaker import CircuitBreaker
from tests.client_service import aio_server, shop, sync_server

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
M = "/pkg.Svc/M"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(
    breaker: CircuitBreaker,
    times: int,
    code: grpc.StatusCode = UNAVAILABLE,
    method: str = M,
) -> None:
    for _ in range(times):
        breaker.acquire(method).done(code)


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10.0, clock=Clock())
    fail(breaker, 2)
    breaker.acquire(M).done(
        grpc.StatusCode.NOT_FOUND
    )  # the server answered: the run is broken
    fail(breaker, 2, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert breaker.state(M) == "closed"
    fail(breaker, 1)
    assert breaker.state(M) == "open"
    with pytest.raises(errors.Unavailable, match=r"circuit open for /pkg\.Svc/M"):
        breaker.acquire(M)
    assert breaker.state("/pkg.Svc/Other") == "closed"  # per method
    breaker.acquire("/pkg.Svc/Other").done(grpc.StatusCode.OK)


def test_half_open_allows_one_trial_and_success_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10.0, clock=clock)
    fail(breaker, 1)
    clock.now += 9.9
    with pytest.raises(errors.Unavailable):
        breaker.acquire(M)
    clock.now += 0.1
    assert breaker.state(M) == "half_open"
    trial = breaker.acquire(M)
    assert trial.trial
    with pytest.raises(errors.Unavailable, match="trial call is in flight"):
        breaker.acquire(M)
    trial.done(grpc.StatusCode.OK)
    assert breaker.state(M) == "closed"
    assert not breaker.acquire(M).trial


def test_failed_trial_reopens_for_another_timeout() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=5.0, clock=clock)
    fail(breaker, 2)
    clock.now += 5.0
    breaker.acquire(M).done(UNAVAILABLE)
    assert breaker.state(M) == "open"
    clock.now += 4.0
    with pytest.raises(errors.Unavailable):
        breaker.acquire(M)
    clock.now += 1.0
    breaker.acquire(M).done(grpc.StatusCode.OK)
    assert breaker.state(M) == "closed"


def test_cancelled_trial_frees_the_slot_and_late_reports_are_ignored() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, clock=clock)
    straggler = breaker.acquire(
        M
    )  # started while closed, ends after the circuit opened
    fail(breaker, 1)
    straggler.done(grpc.StatusCode.OK)
    assert breaker.state(M) == "open"
    clock.now += 1.0
    first = breaker.acquire(M)
    first.done(grpc.StatusCode.CANCELLED)
    second = breaker.acquire(M)
    assert second.trial
    second.done(UNAVAILABLE)
    second.done(grpc.StatusCode.OK)  # a second report of one call changes nothing
    assert breaker.state(M) == "open"


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_timeout=-1)


def test_threads_agree_on_one_trial() -> None:
    clock = Clock()
    exact = CircuitBreaker(failure_threshold=80, reset_timeout=1.0, clock=clock)
    one_short = CircuitBreaker(failure_threshold=81, reset_timeout=1.0, clock=clock)
    tickets = [
        [b.acquire(M) for _ in range(10) for b in (exact, one_short)] for _ in range(8)
    ]
    barrier = threading.Barrier(8)

    def report(mine: list[Any]) -> None:
        barrier.wait()
        for ticket in mine:
            ticket.done(UNAVAILABLE)

    threads = [threading.Thread(target=report, args=(mine,)) for mine in tickets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 80 failures reported from 8 threads at once: none lost, none counted twice.
    breaker = exact
    assert one_short.state(M) == "closed"
    # Opening happened exactly once in the race; the stragglers' failures were absorbed, not raised.
    assert breaker.state(M) == "open"
    clock.now += 1.0
    trials: list[Any] = []
    rejected = []
    barrier = threading.Barrier(8)

    def try_trial() -> None:
        barrier.wait()
        try:
            trials.append(breaker.acquire(M))
        except errors.Unavailable:
            rejected.append(1)

    threads = [threading.Thread(target=try_trial) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(trials) == 1 and len(rejected) == 7


def test_sync_interceptor_fails_fast_while_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock)
    with sync_server() as (target, servicer), grpc.insecure_channel(target) as channel:
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(
                channel, *client_interceptors(shop().errgen, breaker=breaker)
            )
        )
        down = shop().pb2.Req(mode="flaky", key="sync-breaker")
        servicer.failures.attempts[down.key] = -100
        for _ in range(2):
            with pytest.raises(errors.Unavailable, match="attempt"):
                stub.Get(down)
        with pytest.raises(errors.Unavailable, match="circuit open"):
            stub.Get(down)
        with pytest.raises(errors.Unavailable, match="circuit open"):
            stub.Get.future(down).result()
        assert (
            servicer.failures.attempts[down.key] == -98
        )  # the fast failures never reached the server
        assert (
            stub.List(shop().pb2.Req(count=1)).next().index == 0
        )  # another method: its own circuit
        clock.now += 30.0
        servicer.failures.attempts[down.key] = 100  # the server recovered
        assert stub.Get(down).text == ""
        assert breaker.state("/clisrv.v1.Shop/Get") == "closed"


def test_sync_streams_feed_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=Clock())
    with sync_server() as (target, _), grpc.insecure_channel(target) as channel:
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(
                channel, *client_interceptors(shop().errgen, breaker=breaker)
            )
        )
        for _ in range(2):
            with pytest.raises(errors.Unavailable, match="down"):
                list(stub.Chat(iter([shop().pb2.Req(mode="unavailable")])))
        with pytest.raises(errors.Unavailable, match="circuit open"):
            list(stub.Chat(iter([shop().pb2.Req()])))
        with pytest.raises(errors.Unavailable, match="down"):
            stub.Put(iter([shop().pb2.Req(mode="unavailable")]))


async def test_aio_interceptors_fail_fast_while_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock)
    async with aio_server() as (target, _):
        interceptors = aio.client_interceptors(shop().errgen, breaker=breaker)
        async with grpc.aio.insecure_channel(
            target, interceptors=interceptors
        ) as channel:
            stub = shop().pb2_grpc.ShopStub(channel)
            for _ in range(2):
                with pytest.raises(errors.Unavailable, match="down"):
                    await stub.Get(shop().pb2.Req(mode="unavailable"))
            with pytest.raises(errors.Unavailable, match="circuit open"):
                await stub.Get(shop().pb2.Req())
            # server streams report when they end, even if the caller stops reading
            for _ in range(2):
                with pytest.raises(errors.Unavailable, match="down"):
                    async for _ in stub.List(
                        shop().pb2.Req(mode="unavailable", count=1)
                    ):
                        pass
            with pytest.raises(errors.Unavailable, match="circuit open"):
                async for _ in stub.List(shop().pb2.Req(count=1)):
                    pass
            clock.now += 30.0
            results = await asyncio.gather(
                *(stub.Get(shop().pb2.Req(text="t")) for _ in range(5)),
                return_exceptions=True,
            )
            assert (
                sum(not isinstance(r, BaseException) for r in results) == 1
            )  # one trial went through
            assert breaker.state("/clisrv.v1.Shop/Get") == "closed"
            assert (await stub.Get(shop().pb2.Req(text="again"))).text == "again"


class Refusing(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """An inner interceptor whose ``continuation`` raises while ``refuse`` is set (sync)."""

    def __init__(self) -> None:
        self.refuse = False

    def _go(self, continuation: Any, details: Any, request: Any) -> Any:
        if self.refuse:
            raise RuntimeError("inner interceptor refused")
        return continuation(details, request)

    intercept_unary_unary = _go
    intercept_stream_stream = _go


@pytest.mark.parametrize("arity", ["unary_unary", "stream_stream"])
def test_trial_is_released_when_the_call_cannot_start_sync(arity: str) -> None:
    # Before: the half-open trial ticket was taken before continuation(...) and never given back when it
    # raised, so the circuit refused every call from then on.
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0, clock=clock)
    refusing = Refusing()
    with sync_server() as (target, _), grpc.insecure_channel(target) as channel:
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(
                channel, *client_interceptors(shop().errgen, breaker=breaker), refusing
            )
        )

        def call(mode: str = "ok") -> Any:
            if arity == "unary_unary":
                return stub.Get(shop().pb2.Req(mode=mode, text="t"))
            return list(stub.Chat(iter([shop().pb2.Req(mode=mode, text="t")])))

        with pytest.raises(errors.Unavailable, match="down"):
            call("unavailable")
        assert (
            breaker.state(
                "/clisrv.v1.Shop/" + ("Get" if arity == "unary_unary" else "Chat")
            )
            == "open"
        )
        clock.now += 30.0
        refusing.refuse = True
        with pytest.raises(RuntimeError, match="refused"):
            call()
        refusing.refuse = False
        assert (
            call()
        )  # the trial slot was freed: this call is the trial, and closes the circuit
        assert call()


class AioRefusing(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self) -> None:
        self.refuse = False

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        if self.refuse:
            raise RuntimeError("inner interceptor refused")
        return await continuation(client_call_details, request)


async def test_trial_is_released_when_the_call_cannot_start_aio() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0, clock=clock)
    refusing = AioRefusing()
    async with aio_server() as (target, _):
        interceptors = [
            *aio.client_interceptors(shop().errgen, breaker=breaker),
            refusing,
        ]
        async with grpc.aio.insecure_channel(
            target, interceptors=interceptors
        ) as channel:
            stub = shop().pb2_grpc.ShopStub(channel)
            with pytest.raises(errors.Unavailable, match="down"):
                await stub.Get(shop().pb2.Req(mode="unavailable"))
            clock.now += 30.0
            refusing.refuse = True
            with pytest.raises(RuntimeError, match="refused"):
                await stub.Get(shop().pb2.Req(text="t"))
            refusing.refuse = False
            assert (await stub.Get(shop().pb2.Req(text="t"))).text == "t"
            assert breaker.state("/clisrv.v1.Shop/Get") == "closed"
