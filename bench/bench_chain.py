"""What the whole server chain adds to a unary call. Run by hand, not in CI:

    /work/venv/bin/python bench/bench_chain.py            # both parts
    /work/venv/bin/python bench/bench_chain.py --profile  # plus a cProfile of the in-process chain

(a) In-process: the servicer method called directly vs the handler the interceptors produce
    (``intercept_service`` per call, then its ``unary_unary`` behaviour), with a minimal stand-in for the
    ServicerContext. Logging and metrics off; auth and validation on. Target: <= 10 us added per call.
(b) Loopback: a bare sync ``grpc.server`` vs the same server with the whole chain (logging to /dev/null at
    INFO, metrics on a fresh registry, auth with a trivial authenticator, validation), both on 127.0.0.1,
    rounds alternating between them, per-call latencies, medians. Target: <= 5% added latency.

The service is ``bench/protos/errgen_bench/v1/chain_bench.proto``, compiled at start into a temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, TextIO

import grpc
from prometheus_client import CollectorRegistry

import grpc_errgen
from grpc_errgen.compiler import compile_protos, write
from grpc_errgen.observe import Observer

PROTOS = Path(__file__).parent / "protos"
METHOD = "/errgen_bench.v1.ChainBench/Echo"
TOKEN = "bench-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
IN_PROCESS_TARGET_US = 10.0
LOOPBACK_TARGET_RATIO = 1.05


class Generated(NamedTuple):
    pb2: ModuleType
    pb2_grpc: ModuleType
    errgen: ModuleType


def compile_bench_proto(out: Path) -> Generated:
    """Compile the bench proto with our generator into ``out`` and import the three modules."""
    write(compile_protos([PROTOS]), out)
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return Generated(
        importlib.import_module("errgen_bench.v1.chain_bench_pb2"),
        importlib.import_module("errgen_bench.v1.chain_bench_pb2_grpc"),
        importlib.import_module("errgen_bench.v1.chain_bench_errgen"),
    )


def authenticate(token: str, method: str) -> grpc_errgen.Principal | None:
    """The trivial authenticator: one known token with the ``bench`` scope."""
    if token == TOKEN:
        return grpc_errgen.Principal("bench-user", frozenset({"bench"}))
    return None


def make_servicer(generated: Generated) -> Any:
    class EchoServicer(generated.pb2_grpc.ChainBenchServicer):  # type: ignore[name-defined,misc]
        def Echo(self, request: Any, context: grpc.ServicerContext) -> Any:
            return generated.pb2.EchoReply(id=request.id, count=request.count)

    return EchoServicer()


# -- (a) in-process -----------------------------------------------------------------------------------


class CallDetails(NamedTuple):
    """grpc's ``HandlerCallDetails``: what ``intercept_service`` sees."""

    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class AbortError(Exception):
    pass


def stand_in_context() -> Any:
    """A fresh stand-in per call, typed as Any: it is not a real grpc.ServicerContext."""
    return BenchContext(METADATA)


class BenchContext:
    """A minimal ServicerContext stand-in, for this benchmark only: enough for the chain on the OK path."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._trailing: Sequence[tuple[str, str | bytes]] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:50000"

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float | None:
        return None

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return True

    def cancel(self) -> None:
        pass

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details
        raise AbortError(code, details)

    def abort_with_status(self, status: Any) -> None:
        raise AbortError(status)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str | None:
        return self._details

    def set_trailing_metadata(
        self, trailing_metadata: Sequence[tuple[str, str | bytes]]
    ) -> None:
        self._trailing = trailing_metadata

    def trailing_metadata(self) -> Sequence[tuple[str, str | bytes]]:
        return self._trailing

    def send_initial_metadata(
        self, initial_metadata: Sequence[tuple[str, str]]
    ) -> None:
        pass

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


def intercepted(
    interceptors: Sequence[grpc.ServerInterceptor],
    handler: grpc.RpcMethodHandler[Any, Any],
) -> Callable[[CallDetails], grpc.RpcMethodHandler[Any, Any] | None]:
    """What grpc.server does per call: run each interceptor's ``intercept_service``, innermost last."""

    def at(
        index: int,
    ) -> Callable[[CallDetails], grpc.RpcMethodHandler[Any, Any] | None]:
        if index == len(interceptors):
            return lambda details: handler
        interceptor, inner = interceptors[index], at(index + 1)
        return lambda details: interceptor.intercept_service(inner, details)  # type: ignore[arg-type]

    return at(0)


def per_call_us(loop: Callable[[int], None], calls: int, rounds: int) -> float:
    """The median over ``rounds`` of the time per call of ``loop(calls)``, in microseconds."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        loop(calls)
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def in_process(generated: Generated, calls: int, rounds: int, profile: bool) -> float:
    servicer = make_servicer(generated)
    request = generated.pb2.EchoRequest(id="item-1", count=3)
    handler = grpc.unary_unary_rpc_method_handler(
        servicer.Echo,
        request_deserializer=generated.pb2.EchoRequest.FromString,
        response_serializer=generated.pb2.EchoReply.SerializeToString,
    )
    details = CallDetails(METHOD, METADATA)
    interceptors = grpc_errgen.server_interceptors(
        generated.errgen, authenticate=authenticate, log=False
    )
    lookup = intercepted(interceptors, handler)

    # The chain must actually answer before we time it.
    wrapped = lookup(details)
    assert wrapped is not None and wrapped.unary_unary is not None
    reply = wrapped.unary_unary(request, stand_in_context())
    assert reply.id == "item-1", reply

    def direct(n: int) -> None:
        echo = servicer.Echo
        for _ in range(n):
            echo(request, stand_in_context())

    def chained(n: int) -> None:
        for _ in range(n):
            wrapped_handler: Any = lookup(details)
            wrapped_handler.unary_unary(request, stand_in_context())

    direct(calls)
    chained(calls)  # warm-up
    direct_us: list[float] = []
    chain_us: list[float] = []
    for round_index in range(rounds):
        order = (direct, chained) if round_index % 2 == 0 else (chained, direct)
        for loop in order:
            (direct_us if loop is direct else chain_us).append(
                per_call_us(loop, calls, 1)
            )
    direct_median, chain_median = statistics.median(direct_us), statistics.median(
        chain_us
    )
    added = chain_median - direct_median
    print("(a) in-process, unary, logging and metrics off, auth + validation on")
    print(f"    handler called directly : {direct_median:8.2f} us/call")
    print(f"    through the chain       : {chain_median:8.2f} us/call")
    verdict = "ok" if added <= IN_PROCESS_TARGET_US else "MISSED"
    print(
        f"    added                   : {added:8.2f} us/call  (target <= {IN_PROCESS_TARGET_US:.0f} us: {verdict})"
    )
    print(f"    ratio chain/direct      : {chain_median / direct_median:8.2f}x")

    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        chained(calls * 4)
        profiler.disable()
        print("\n    cProfile of the chained loop (top 15 by own time):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    return added


def observer_cost(calls: int, rounds: int) -> None:
    """What one call's observation costs by itself (start, one message each way, finish)."""
    peer, request_id = "ipv4:127.0.0.1:50000", str(uuid.uuid4())

    def loop_of(observer: Observer) -> Callable[[int], None]:
        def loop(n: int) -> None:
            for _ in range(n):
                call = observer.start(METHOD, "unary_unary", peer, request_id)
                call.received()
                call.sent()
                call.finish(grpc.StatusCode.OK, None)

        return loop

    print(
        "\n(a') the Observer alone, per unary call (log records formatted to /dev/null)"
    )
    with open(os.devnull, "w") as devnull:
        handler = log_to(devnull)
        try:
            for name, observer in (
                ("metrics only", Observer(log=False, metrics=CollectorRegistry())),
                ("log only", Observer(log=True, metrics=None)),
                ("log + metrics", Observer(log=True, metrics=CollectorRegistry())),
            ):
                print(
                    f"    {name:14s}: {per_call_us(loop_of(observer), calls, rounds):6.2f} us"
                )
        finally:
            logging.getLogger("grpc_errgen").removeHandler(handler)


# -- (b) loopback -------------------------------------------------------------------------------------


def serve(
    generated: Generated, interceptors: list[grpc.ServerInterceptor]
) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=interceptors
    )
    generated.pb2_grpc.add_ChainBenchServicer_to_server(
        make_servicer(generated), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def latencies_us(call: Callable[[], Any], calls: int) -> list[float]:
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        started = clock()
        call()
        samples.append((clock() - started) / 1000.0)
    return samples


def log_to(sink: TextIO) -> logging.Handler:
    """Logging on, as in production: INFO records formatted and written (to ``sink``), not shown here."""
    handler = logging.StreamHandler(sink)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logger = logging.getLogger("grpc_errgen")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


class PassThrough(grpc.ServerInterceptor):
    """An interceptor that does nothing: what grpcio's interceptor path costs by itself."""

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        return continuation(handler_call_details)


class RequestIdOnly(grpc.ServerInterceptor):
    """The least any request-id echo does: a new uuid4 per call, sent back in the trailing metadata
    (what SPEC asks of the chain), so its cost on the wire can be told apart from the chain's own.
    """

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary

        def with_request_id(request: Any, context: grpc.ServicerContext) -> Any:
            context.set_trailing_metadata((("x-request-id", str(uuid.uuid4())),))
            return behaviour(request, context)

        return grpc.unary_unary_rpc_method_handler(
            with_request_id,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def loopback(generated: Generated, calls: int, rounds: int) -> float:
    with open(os.devnull, "w") as devnull:
        return loopback_logging_to(devnull, generated, calls, rounds)


def loopback_logging_to(
    sink: TextIO, generated: Generated, calls: int, rounds: int
) -> float:
    """Serve the same servicer behind each variant; call them in rotating order; return chain/bare."""
    handler = log_to(sink)
    registry = CollectorRegistry()
    variants: dict[str, list[grpc.ServerInterceptor]] = {
        "bare": [],
        "pass-through interceptor": [PassThrough()],
        "request-id trailer only": [RequestIdOnly()],
        "chain, log+metrics off": grpc_errgen.server_interceptors(
            generated.errgen, authenticate=authenticate, log=False, metrics=None
        ),
        "chain, metrics only": grpc_errgen.server_interceptors(
            generated.errgen,
            authenticate=authenticate,
            log=False,
            metrics=CollectorRegistry(),
        ),
        "chain (full)": grpc_errgen.server_interceptors(
            generated.errgen, authenticate=authenticate, log=True, metrics=registry
        ),
    }
    names = list(variants)
    servers = {name: serve(generated, variants[name]) for name in names}
    request = generated.pb2.EchoRequest(id="item-1", count=3)
    channels = {
        name: grpc.insecure_channel(f"127.0.0.1:{port}")
        for name, (_, port) in servers.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in names}
    round_ratios = []
    try:
        calls_of: dict[str, Callable[[], Any]] = {}
        for name in names:
            echo = generated.pb2_grpc.ChainBenchStub(channels[name]).Echo
            calls_of[name] = functools.partial(echo, request, metadata=METADATA)
            assert calls_of[name]().id == "item-1"
            latencies_us(calls_of[name], 300)  # warm-up, connection up
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].extend(latencies_us(calls_of[name], calls))
            round_ratios.append(
                statistics.median(samples["chain (full)"][-calls:])
                / statistics.median(samples["bare"][-calls:])
            )
    finally:
        for channel in channels.values():
            channel.close()
        for server, _ in servers.values():
            server.stop(None)
        logging.getLogger("grpc_errgen").removeHandler(handler)

    handled = registry.get_sample_value(
        "grpc_server_handled_total",
        {
            "grpc_type": "unary",
            "grpc_service": "errgen_bench.v1.ChainBench",
            "grpc_method": "Echo",
            "grpc_code": "OK",
        },
    )
    bare_median = statistics.median(samples["bare"])
    print(
        f"\n(b) loopback, sync grpc.server, unary, {rounds} rounds x {calls} calls per "
        "variant, order rotating each round"
    )
    print(
        "    full chain: logging (INFO, formatted, to /dev/null) + metrics + auth + validation"
    )
    print(
        f"    {'variant':26s} {'median us':>10s} {'p90 us':>8s} {'added us':>9s} {'ratio':>6s}"
    )
    for name in names:
        values = sorted(samples[name])
        median = statistics.median(values)
        p90 = values[int(len(values) * 0.9)]
        print(
            f"    {name:26s} {median:10.1f} {p90:8.1f} {median - bare_median:9.1f}"
            f" {median / bare_median:6.3f}"
        )
    ratio = statistics.median(samples["chain (full)"]) / bare_median
    verdict = "ok" if ratio <= LOOPBACK_TARGET_RATIO else "MISSED"
    print(
        f"    full chain / bare (medians): {ratio:.3f}"
        f"  (target <= {LOOPBACK_TARGET_RATIO:.2f}: {verdict})"
    )
    print(
        f"    per round (min/median/max): {min(round_ratios):.3f} / "
        f"{statistics.median(round_ratios):.3f} / {max(round_ratios):.3f}"
    )
    print(f"    full-chain calls counted by grpc_server_handled_total: {handled:.0f}")
    return ratio


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--in-process-calls", type=int, default=20000, help="calls per in-process round"
    )
    parser.add_argument("--in-process-rounds", type=int, default=9)
    parser.add_argument(
        "--calls", type=int, default=400, help="loopback calls per server per round"
    )
    parser.add_argument(
        "--rounds", type=int, default=10, help="loopback rounds (alternating)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the in-process chain"
    )
    parser.add_argument("--only", choices=("in-process", "loopback"))
    args = parser.parse_args(argv)
    print(
        f"python {sys.version.split()[0]}, grpcio {grpc.__version__}, {os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        generated = compile_bench_proto(Path(tmp))
        if args.only != "loopback":
            in_process(
                generated, args.in_process_calls, args.in_process_rounds, args.profile
            )
            observer_cost(args.in_process_calls, args.in_process_rounds)
        if args.only != "in-process":
            loopback(generated, args.calls, args.rounds)


if __name__ == "__main__":
    main()
