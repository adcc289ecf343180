"""Throughput of a ``grpc.aio`` server with the full chain vs the bare server, 200 calls in flight. Run by hand:

    python bench/bench_chain_aio.py [--rounds 20] [--concurrency 200] [--servers 2]

The servers run in child processes (``--serve``), each serving every variant (one ``grpc.aio.server`` per
variant, on one event loop); this process is the client: an aio channel per server, and ``concurrency`` unary
calls started together and awaited as one batch, ``batches`` batches in a row per variant. The variants take
turns, in a new random order each round, so that whatever else the machine does lands on
every variant alike (variants in processes of their own differed by up to 20% from run to run, identical ones
included). Throughput is calls per second of wall time; the ratio is the median over rounds of each variant's
throughput over bare's in the same round and process. The server's CPU time per call is measured around each
variant's turn.

The full chain is what the performance targets name: auth (a trivial authenticator), validation, error mapping, metrics and
the request id; it is measured installed both ways, as ``server_interceptors`` and with ``with_chain``. Logging at INFO (formatted, to /dev/null) is measured on its own, against one plain stdlib
record per call with the same fields (``bare + one stdlib log record``).
Targets: the full chain keeps >= 0.95x the bare server's throughput; logging costs no more than that record.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import logging
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, TypeAlias

import grpc
import grpc.aio
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_chain import (
    METADATA,
    Generated,
    authenticate,
    compile_bench_proto,
    import_generated,
    log_to,
)

import grpc_errgen.aio

BARE = "bare"
RECORD = "bare + one stdlib log record"
FULL = "full chain"
#: The same chain put around the handlers when the servicer is added (``with_chain``), not by an interceptor.
FULL_WITH = "full chain, with_chain"
FULL_LOG = "full chain + logging at INFO"
VARIANTS: Final = (
    BARE,
    "pass-through interceptor",
    RECORD,
    "chain, log+metrics off",
    FULL,
    FULL_WITH,
    FULL_LOG,
)
TARGET: Final = 0.95
#: What the logging target allows: the chain's record may cost this much more than one plain stdlib record.
LOG_COST_TOLERANCE: Final = 1.15

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


def make_servicer(generated: Generated) -> Any:
    class EchoServicer(generated.pb2_grpc.ChainBenchServicer):  # type: ignore[name-defined,misc]
        async def Echo(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # type: ignore[type-arg]
            return generated.pb2.EchoReply(id=request.id, count=request.count)

    return EchoServicer()


class PassThrough(grpc.aio.ServerInterceptor):
    """An interceptor that does nothing: what grpc.aio's interceptor path costs by itself."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        return await continuation(handler_call_details)


class OneRecord(grpc.aio.ServerInterceptor):
    """The yardstick for logging: one plain stdlib record per call with what the chain's record says (method,
    code, duration, the peer read from the context, a uuid4 request id), with ``logger.info``.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            behaviour = handler.unary_unary
            logger = logging.getLogger("grpc_errgen")

            async def with_record(request: Any, context: Any) -> Any:
                started = time.perf_counter()
                response = await behaviour(request, context)
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


def variant_interceptors(
    variant: str, generated: Generated
) -> list[grpc.aio.ServerInterceptor]:
    if variant in (BARE, FULL_WITH):
        return []
    if variant == "pass-through interceptor":
        return [PassThrough()]
    if variant == RECORD:
        return [OneRecord()]
    return grpc_errgen.aio.server_interceptors(
        generated.errgen,
        authenticate=authenticate,
        log=variant == FULL_LOG,
        metrics=CollectorRegistry() if variant in (FULL, FULL_LOG) else None,
    )


async def serve(generated: Generated) -> None:
    """``--serve``: every variant's server on this event loop; prints the ports, then answers each line on
    stdin with this process's CPU time (seconds); EOF stops it."""
    log_to(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    servers = []
    for name in VARIANTS:
        server = grpc.aio.server(interceptors=variant_interceptors(name, generated))
        if name == FULL_WITH:
            server = grpc_errgen.aio.with_chain(
                server,
                generated.errgen,
                authenticate=authenticate,
                log=False,
                metrics=CollectorRegistry(),
            )
        generated.pb2_grpc.add_ChainBenchServicer_to_server(
            make_servicer(generated), server
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append((server, port))
    print(" ".join(str(port) for _, port in servers), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(f"{time.process_time():.9f}", flush=True)
    for server, _ in servers:
        await server.stop(None)


class ServerProcess:
    """A ``--serve`` child, as the client sees it: one port per variant, and its CPU time on request."""

    def __init__(self, generated_dir: Path, profile: bool) -> None:
        command = [
            sys.executable,
            __file__,
            "--serve",
            "--generated",
            str(generated_dir),
        ]
        self.process = subprocess.Popen(
            command + (["--profile"] if profile else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ports = self.process.stdout.readline().split()
        self.ports = dict(zip(VARIANTS, map(int, ports), strict=True))

    def cpu_seconds(self) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("cpu\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


async def batch(call: Callable[[], Any], concurrency: int) -> None:
    replies = await asyncio.gather(*(call() for _ in range(concurrency)))
    assert len(replies) == concurrency


async def client(
    generated: Generated, servers: list[ServerProcess], options: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Calls per second of each batch, and the server's CPU microseconds per call, by variant."""
    request = generated.pb2.EchoRequest(id="item-1", count=3)
    channels = [
        {
            name: grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            for name, port in server.ports.items()
        }
        for server in servers
    ]
    calls = [
        {
            name: functools.partial(
                generated.pb2_grpc.ChainBenchStub(channel).Echo,
                request,
                metadata=METADATA,
            )
            for name, channel in by_name.items()
        }
        for by_name in channels
    ]
    for calls_by_name in calls:
        for call in calls_by_name.values():
            for _ in range(3):  # warm-up, connection up
                await batch(call, options.concurrency)
    throughput: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu_us: dict[str, list[float]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    shuffled = random.Random(15)  # the same orders every run
    for _ in range(options.rounds):
        for server, calls_by_name in zip(servers, calls, strict=True):
            shuffled.shuffle(names)
            for name in names:
                cpu_before = server.cpu_seconds()
                started = time.perf_counter()
                for _ in range(options.batches):
                    await batch(calls_by_name[name], options.concurrency)
                took = time.perf_counter() - started
                calls_made = options.batches * options.concurrency
                cpu_us[name].append(
                    (server.cpu_seconds() - cpu_before) / calls_made * 1e6
                )
                throughput[name].append(calls_made / took)
    for by_name in channels:
        for channel in by_name.values():
            await channel.close()
    return throughput, cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--batches", type=int, default=5, help="batches per variant, process and round"
    )
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--servers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the first server process"
    )
    parser.add_argument("--serve", action="store_true", help="(internal)")
    parser.add_argument("--generated", type=Path, help="(internal)")
    options = parser.parse_args()
    if options.serve:
        profiler = cProfile.Profile() if options.profile else None
        if profiler is not None:
            profiler.enable()
        asyncio.run(serve(import_generated(options.generated)))
        if profiler is not None:
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(30)
        return
    print(
        f"python {sys.version.split()[0]}, grpcio {grpc.__version__}, {os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory(prefix="bench-chain-aio-") as tmp:
        generated = compile_bench_proto(Path(tmp))
        servers = [
            ServerProcess(Path(tmp), options.profile and index == 0)
            for index in range(options.servers)
        ]
        try:
            throughput, cpu_us = asyncio.run(client(generated, servers, options))
        finally:
            for server in servers:
                server.stop()
    medians = {name: statistics.median(values) for name, values in throughput.items()}
    # Each variant's throughput over bare's in the same round and process: what the machine did in between
    # cancels out.
    paired = {
        name: statistics.median(
            value / bare_value
            for value, bare_value in zip(
                throughput[name], throughput[BARE], strict=True
            )
        )
        for name in VARIANTS
    }
    cpu = {name: statistics.median(values) for name, values in cpu_us.items()}
    print(
        f"aio unary, {options.concurrency} calls in flight: {options.servers} server processes, each serving"
        f" every variant; {options.rounds} rounds of {options.batches} batches per variant and process,"
        " variants in turn"
    )
    print(
        f"    {'variant':30s} {'calls/s':>9s} {'min':>9s} {'max':>9s} {'ratio':>6s} {'srv cpu us/call':>16s}"
    )
    for name in VARIANTS:
        values = throughput[name]
        print(
            f"    {name:30s} {medians[name]:9.0f} {min(values):9.0f} {max(values):9.0f}"
            f" {paired[name]:6.3f} {cpu[name]:16.1f}"
        )
    print(
        "    ratio: the median over rounds of the variant's calls/s over bare's in the same round and process"
    )
    for full in (FULL, FULL_WITH):
        ratio = paired[full]
        verdict = "met" if ratio >= TARGET else "MISSED"
        print(f"    {full} / bare: {ratio:.3f} (target >= {TARGET}: {verdict})")
    logging_added = cpu[FULL_LOG] - cpu[FULL]
    record_added = cpu[RECORD] - cpu[BARE]
    log_verdict = (
        "met" if logging_added <= record_added * LOG_COST_TOLERANCE else "MISSED"
    )
    print(
        f"    logging at INFO adds {logging_added:.1f} us of server CPU per call to the full chain; one plain"
        f" stdlib record adds {record_added:.1f} us to bare (target: no more, within"
        f" {LOG_COST_TOLERANCE:.2f}x: {log_verdict})"
    )


if __name__ == "__main__":
    main()
