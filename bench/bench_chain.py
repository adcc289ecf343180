"""What the whole server chain adds to a unary call. Run by hand, not in CI:

    python bench/bench_chain.py            # all parts
    python bench/bench_chain.py --profile  # plus cProfiles: in-process chain, full-chain server
    python bench/bench_chain.py --only loopback --rounds 20

(a) In-process: the servicer method called directly vs the handler the interceptors produce
    (``intercept_service`` per call, then its ``unary_unary`` behaviour), with a minimal stand-in for the
    ServicerContext. Logging and metrics off; auth and validation on. Target: <= 10 us added per call.
(a') The Observer (logging, metrics) alone, per call.
(b) Loopback: a bare sync ``grpc.server`` vs the same server with the full chain (auth with a trivial
    authenticator, validation, error mapping, metrics on a fresh registry, request id), and variants around
    it: the full chain installed both ways, as ``server_interceptors`` and with ``with_chain``. The servers
    run in child processes (this file with ``--serve``), each serving every variant; this process is the client
    and calls the variants in turn, call by call. Per-call latencies, medians.
    Targets: the full chain <= 1.05x bare; logging at INFO adds no more than one plain stdlib record does.

The service is ``bench/protos/errgen_bench/v1/chain_bench.proto``, compiled at start into a temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import logging
import logging.handlers
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any, Final, NamedTuple, TextIO

import grpc
from prometheus_client import CollectorRegistry

import grpc_errgen
from grpc_errgen.codegen.protoc import compile_protos, write
from grpc_errgen.context import CallScope
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
    return import_generated(out)


def import_generated(out: Path) -> Generated:
    """The three modules ``compile_bench_proto`` wrote into ``out``."""
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return Generated(
        importlib.import_module("errgen_bench.v1.chain_bench_pb2"),
        importlib.import_module("errgen_bench.v1.chain_bench_pb2_grpc"),
        importlib.import_module("errgen_bench.v1.chain_bench_errgen"),
    )


#: Who the known token is: made once, so that the chain's cost does not include making a principal per call.
PRINCIPAL: Final = grpc_errgen.Principal("bench-user", frozenset({"bench"}))


def authenticate(token: str, method: str) -> grpc_errgen.Principal | None:
    """The trivial authenticator: one known token with the ``bench`` scope (what the authenticator itself
    costs is the application's, not the chain's)."""
    return PRINCIPAL if token == TOKEN else None


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


#: What ``cold_us`` writes between calls to push the call's code and data out of the CPU caches.
EVICTION_BYTES: Final = 8 * 1024 * 1024


def cold_us(call: Callable[[], Any], calls: int) -> float:
    """The median time of ``call()`` with the caches evicted before each one, in microseconds.

    In a real server each call runs after grpc's C core and the kernel have been through the caches; a tight
    loop keeps everything hot and hides what a large code path (logging) really costs there.
    """
    sink = bytearray(EVICTION_BYTES)
    ones = b"\x01" * (EVICTION_BYTES // 64)
    clock = time.perf_counter_ns
    samples = []
    for _ in range(calls):
        sink[::64] = ones
        started = clock()
        call()
        samples.append((clock() - started) / 1000.0)
    return statistics.median(samples)


def observer_cost(calls: int, rounds: int) -> None:
    """What one call's observation costs by itself (start, one message each way, finish), hot and cold,
    next to the floor of any per-call log line: one record made and handled by the same handler.
    """
    peer, request_id = "ipv4:127.0.0.1:50000", str(uuid.uuid4())
    scope = CallScope(request_id=request_id)

    def loop_of(observer: Observer) -> Callable[[int], None]:
        def loop(n: int) -> None:
            for _ in range(n):
                call = observer.start(
                    observer.method(METHOD, "unary_unary"), peer, scope
                )
                call.received()
                call.sent()
                call.finish(grpc.StatusCode.OK, None)

        return loop

    logger = logging.getLogger("grpc_errgen")

    def record_only(n: int) -> None:
        for _ in range(n):
            logger.handle(
                logger.makeRecord(
                    logger.name,
                    logging.INFO,
                    __file__,
                    0,
                    "%s %s %.3f ms peer=%s request_id=%s",
                    (METHOD, "OK", 0.1, peer, request_id),
                    None,
                )
            )

    def info_with_uuid(n: int) -> None:
        """What a hand-written logging interceptor does: ``logger.info`` with a new uuid4 as request id."""
        for _ in range(n):
            logger.info(
                "%s %s %.3f ms peer=%s request_id=%s",
                METHOD,
                "OK",
                0.1,
                peer,
                uuid.uuid4(),
            )

    print(
        "\n(a') the Observer alone, per unary call (log records formatted to /dev/null);"
        f" cold: caches evicted ({EVICTION_BYTES >> 20} MiB written) before each call"
    )
    with open(os.devnull, "w") as devnull:
        handler = log_to(devnull)
        try:
            loops = {
                name: loop_of(observer)
                for name, observer in (
                    ("metrics only", Observer(log=False, metrics=CollectorRegistry())),
                    ("log only", Observer(log=True, metrics=None)),
                    ("log + metrics", Observer(log=True, metrics=CollectorRegistry())),
                )
            }
            loops["floor: 1 record"] = record_only
            loops["logger.info+uuid4"] = info_with_uuid
            for name, loop in loops.items():
                hot = per_call_us(loop, calls, rounds)
                cold = cold_us(functools.partial(loop, 1), 2000)
                print(f"    {name:16s}: {hot:6.2f} us   cold {cold:6.2f} us")
        finally:
            logger.removeHandler(handler)


# -- (b) loopback -------------------------------------------------------------------------------------
#
# The servers run in child processes (``--serve``); this process is only the client. With client and server in
# one process on a small machine they share one GIL, and every microsecond of server Python work costs several
# more in GIL hand-offs, which measures the benchmark rather than the chain.
#
# Each child serves every variant, one ``grpc.server`` per variant, and the client calls the variants in turn,
# call by call, in a new random order each turn. Variants that ran in
# processes of their own, or in blocks of calls, differed by up to 20% (identical bare servers included): which
# core a process's threads land on, and what else the machine does that second, moved them more than the chain
# does. Side by side call by call, two identical bare servers agree within 1%. Two children (``--servers``)
# average out what is left of a process's luck.
#
# A child prints its ports on one line, then answers ``handled`` on stdin with the full chain's
# grpc_server_handled_total; EOF stops it. With ``--profile`` it profiles its handler threads (stderr).

#: The variants, in the order shown; what each one's server is built with is in ``variant_interceptors``.
BARE = "bare"
RECORD = "bare + one stdlib log record"
OFF = "chain, log+metrics off"
FULL = "full chain"
#: The same chain put around the handlers when the servicer is added (``with_chain``), not by an interceptor.
FULL_WITH = "full chain, with_chain"
FULL_LOG = "full chain + logging at INFO"
VARIANTS: Final = (
    BARE,
    "pass-through interceptor",
    RECORD,
    OFF,
    FULL,
    FULL_WITH,
    FULL_LOG,
)
#: What the logging target allows: the chain's record may cost this much more than one plain stdlib record.
LOG_COST_TOLERANCE: Final = 1.15


def variant_interceptors(
    variant: str, generated: Generated, registry: CollectorRegistry
) -> list[grpc.ServerInterceptor]:
    """The interceptors of one server variant; logging (where on) goes to the handler ``log_to`` installs.

    The full chain is what the performance targets name: auth, validation, error mapping, metrics and the request id;
    logging is measured on its own, against one plain stdlib record per call (``RECORD``).
    """
    errgen = generated.errgen
    if variant in (BARE, FULL_WITH):
        return []
    if variant == "pass-through interceptor":
        return [PassThrough()]
    if variant == RECORD:
        return [OneRecord()]
    return grpc_errgen.server_interceptors(
        errgen,
        authenticate=authenticate,
        log=variant == FULL_LOG,
        metrics=registry if variant in (FULL, FULL_LOG) else None,
    )


def serve(
    generated: Generated,
    variant: str,
    registry: CollectorRegistry,
    initializer: Callable[[], None] | None = None,
) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4, initializer=initializer),
        interceptors=variant_interceptors(variant, generated, registry),
    )
    if variant == FULL_WITH:
        server = grpc_errgen.with_chain(
            server,
            generated.errgen,
            authenticate=authenticate,
            log=False,
            metrics=registry,
        )
    generated.pb2_grpc.add_ChainBenchServicer_to_server(
        make_servicer(generated), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def serve_variants(generated: Generated, profile: bool) -> None:
    """``--serve``: every variant's server in this process, driven over stdin/stdout by the client."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    log_to(devnull)
    registries = {name: CollectorRegistry() for name in VARIANTS}
    profilers: list[cProfile.Profile] = []

    def profile_thread() -> None:
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    servers = [
        serve(
            generated,
            name,
            registries[name],
            profile_thread if profile and name == FULL else None,
        )
        for name in VARIANTS
    ]
    print(" ".join(str(port) for _, port in servers), flush=True)
    for line in sys.stdin:
        if line.strip() == "handled":
            handled = registries[FULL].get_sample_value(
                "grpc_server_handled_total",
                {
                    "grpc_type": "unary",
                    "grpc_service": "errgen_bench.v1.ChainBench",
                    "grpc_method": "Echo",
                    "grpc_code": "OK",
                },
            )
            print(-1 if handled is None else int(handled), flush=True)
    for server, _ in servers:
        server.stop(None)
    if profilers:
        # Each worker thread's profiler is read after the servers stopped; they are idle by then.
        stats = pstats.Stats(profilers[0], stream=sys.stderr)
        for profiler in profilers[1:]:
            stats.add(profiler)
        print(f"\ncProfile of the {FULL!r} server's threads", file=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)


class ServerProcess:
    """A ``--serve`` child process, as the client sees it: one port per variant."""

    def __init__(self, generated_dir: Path, profile: bool) -> None:
        command = [
            sys.executable,
            __file__,
            "--serve",
            "--generated",
            str(generated_dir),
        ]
        if profile:
            command.append("--profile")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ports = dict(zip(VARIANTS, map(int, self._read().split()), strict=True))

    def _read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"server {self.process.args!r} exited")
        return line.strip()

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


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


class OneRecord(grpc.ServerInterceptor):
    """The yardstick for logging: the handler wrapped to write one plain stdlib record per call with what the
    chain's record says (method, code, duration, the peer read from the context, a request id: a uuid4, as a
    hand-written logging interceptor would make them), with ``logger.info``, through the same handler and
    formatter."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            behaviour = handler.unary_unary
            logger = logging.getLogger("grpc_errgen")

            def with_record(request: Any, context: grpc.ServicerContext) -> Any:
                started = time.perf_counter()
                response = behaviour(request, context)
                logger.info(
                    "%s %s %.3f ms peer=%s request_id=%s",
                    method,
                    "OK",
                    (time.perf_counter() - started) * 1000.0,
                    context.peer(),
                    uuid.uuid4(),
                )
                return response

            wrapped = self._wrapped[method] = grpc.unary_unary_rpc_method_handler(
                with_record,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return wrapped


def loopback(
    generated: Generated,
    generated_dir: Path,
    calls: int,
    rounds: int,
    servers_count: int,
    profile: bool,
) -> float:
    """Call every variant in turn, call by call; return full chain / bare (medians)."""
    names = list(VARIANTS)
    servers = [
        ServerProcess(generated_dir, profile and index == 0)
        for index in range(servers_count)
    ]
    request = generated.pb2.EchoRequest(id="item-1", count=3)
    channels = [
        {
            name: grpc.insecure_channel(f"127.0.0.1:{port}")
            for name, port in server.ports.items()
        }
        for server in servers
    ]
    samples: dict[str, list[float]] = {name: [] for name in names}
    round_ratios: dict[str, list[float]] = {FULL: [], FULL_WITH: []}
    clock = time.perf_counter_ns
    try:
        calls_of = [
            {
                name: functools.partial(
                    generated.pb2_grpc.ChainBenchStub(channel).Echo,
                    request,
                    metadata=METADATA,
                )
                for name, channel in channels_by_name.items()
            }
            for channels_by_name in channels
        ]
        for calls_by_name in calls_of:
            for call in calls_by_name.values():
                assert call().id == "item-1"
                for _ in range(300):  # warm-up, connection up
                    call()
        shuffled = random.Random(15)  # the same orders every run
        for _ in range(rounds):
            this_round: dict[str, list[float]] = {name: [] for name in names}
            for calls_by_name in calls_of:
                ordered = [(name, calls_by_name[name]) for name in names]
                for _ in range(calls):
                    # A new order each turn: with a fixed cycle the variant called right after another always
                    # started while that one's server threads wound down (a steady 2% for one of them).
                    shuffled.shuffle(ordered)
                    for name, call in ordered:
                        started = clock()
                        call()
                        this_round[name].append((clock() - started) / 1000.0)
            for name in names:
                samples[name].extend(this_round[name])
            for full, ratios in round_ratios.items():
                ratios.append(
                    statistics.median(this_round[full])
                    / statistics.median(this_round[BARE])
                )
        handled = [server.ask("handled") for server in servers]
    finally:
        for by_name in channels:
            for channel in by_name.values():
                channel.close()
        for server in servers:
            server.stop()

    medians = {name: statistics.median(values) for name, values in samples.items()}
    bare = medians[BARE]
    print(
        f"\n(b) loopback, sync grpc.server, unary: {servers_count} server processes, each serving every variant;"
        f" {rounds} rounds x {calls} calls per variant and process, variants called in turn"
    )
    print(
        "    full chain: auth + validation + error mapping + metrics + request id; logging (INFO, formatted,"
        " to /dev/null) measured on its own against one plain stdlib record"
    )
    print(
        f"    {'variant':30s} {'median us':>10s} {'p90 us':>8s} {'added us':>9s} {'ratio':>6s}"
    )
    for name in names:
        values = sorted(samples[name])
        p90 = values[int(len(values) * 0.9)]
        print(
            f"    {name:30s} {medians[name]:10.1f} {p90:8.1f} {medians[name] - bare:9.1f}"
            f" {medians[name] / bare:6.3f}"
        )
    for full, ratios in round_ratios.items():
        ratio = medians[full] / bare
        verdict = "met" if ratio <= LOOPBACK_TARGET_RATIO else "MISSED"
        print(
            f"    {full} / bare (medians): {ratio:.3f}  (target <= {LOOPBACK_TARGET_RATIO:.2f}: {verdict});"
            f" per round (min/median/max): {min(ratios):.3f} / {statistics.median(ratios):.3f} /"
            f" {max(ratios):.3f}"
        )
    ratio = medians[FULL] / bare
    logging_added = medians[FULL_LOG] - medians[FULL]
    record_added = medians[RECORD] - bare
    log_verdict = (
        "met" if logging_added <= record_added * LOG_COST_TOLERANCE else "MISSED"
    )
    print(
        f"    logging at INFO adds {logging_added:.1f} us to the full chain; one plain stdlib record adds"
        f" {record_added:.1f} us to bare (target: no more, within {LOG_COST_TOLERANCE:.2f}x: {log_verdict})"
    )
    print(
        f"    full-chain calls counted by grpc_server_handled_total: {' + '.join(handled)}"
    )
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
        "--calls",
        type=int,
        default=200,
        help="loopback calls per variant, server process and round",
    )
    parser.add_argument("--rounds", type=int, default=10, help="loopback rounds")
    parser.add_argument(
        "--servers", type=int, default=2, help="loopback server processes"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the in-process chain and the full-chain server's handler threads",
    )
    parser.add_argument("--only", choices=("in-process", "loopback"))
    parser.add_argument(
        "--serve", action="store_true", help="(internal) serve every loopback variant"
    )
    parser.add_argument(
        "--generated",
        type=Path,
        help="(internal, with --serve) the compiled bench proto",
    )
    args = parser.parse_args(argv)
    if args.serve:
        serve_variants(import_generated(args.generated), args.profile)
        return
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
            loopback(
                generated,
                Path(tmp),
                args.calls,
                args.rounds,
                args.servers,
                args.profile,
            )


if __name__ == "__main__":
    main()
