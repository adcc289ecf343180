"""Throughput of a ``grpc.aio`` server with the whole chain vs the bare server, 200 calls in flight. Run by hand:

    python bench/bench_chain_aio.py [--rounds 10] [--batches 10] [--concurrency 200]

Each variant's server runs in its own process (``--serve VARIANT``); this process is the client: an aio channel per
server, ``concurrency`` unary calls started together and awaited, ``batches`` times per round; variants alternate
round by round. Throughput is calls per second of wall time per round; the table gives medians and the ratio to
the bare server. Full chain: logging at INFO (formatted, to /dev/null), metrics, auth, validation.
Target: the full chain keeps >= 0.95x the bare server's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import grpc
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

VARIANTS: Final = (
    "bare",
    "pass-through interceptor",
    "chain, log+metrics off",
    "chain (full)",
)
FULL = "chain (full)"
TARGET: Final = 0.95


def make_servicer(generated: Generated) -> Any:
    class EchoServicer(generated.pb2_grpc.ChainBenchServicer):  # type: ignore[name-defined,misc]
        async def Echo(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
            return generated.pb2.EchoReply(id=request.id, count=request.count)

    return EchoServicer()


class PassThrough(grpc.aio.ServerInterceptor):
    """An interceptor that does nothing: what grpc.aio's interceptor path costs by itself."""

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        return await continuation(details)


async def serve(variant: str, generated: Generated) -> None:
    log_to(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    interceptors: list[grpc.aio.ServerInterceptor] = []
    if variant == "pass-through interceptor":
        interceptors = [PassThrough()]
    elif variant != "bare":
        full = variant == FULL
        interceptors = grpc_errgen.aio.server_interceptors(
            generated.errgen,
            authenticate=authenticate,
            log=full,
            metrics=CollectorRegistry() if full else None,
        )
    server = grpc.aio.server(interceptors=interceptors)
    generated.pb2_grpc.add_ChainBenchServicer_to_server(
        make_servicer(generated), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"port {port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(None)


async def batch(call: Any, concurrency: int) -> None:
    replies = await asyncio.gather(*(call() for _ in range(concurrency)))
    assert len(replies) == concurrency


async def client(
    generated: Generated, ports: dict[str, int], options: argparse.Namespace
) -> dict[str, list[float]]:
    request = generated.pb2.EchoRequest(id="item-1", count=3)
    channels = {
        name: grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        for name, port in ports.items()
    }
    calls = {
        name: functools.partial(
            generated.pb2_grpc.ChainBenchStub(channel).Echo, request, metadata=METADATA
        )
        for name, channel in channels.items()
    }
    for name in VARIANTS:
        for _ in range(3):  # warm-up, connection up
            await batch(calls[name], options.concurrency)
    throughput: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_index in range(options.rounds):
        shift = round_index % len(VARIANTS)
        for name in VARIANTS[shift:] + VARIANTS[:shift]:
            started = time.perf_counter()
            for _ in range(options.batches):
                await batch(calls[name], options.concurrency)
            took = time.perf_counter() - started
            throughput[name].append(options.batches * options.concurrency / took)
    for channel in channels.values():
        await channel.close()
    return throughput


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the full-chain server"
    )
    parser.add_argument("--serve", choices=VARIANTS, help="(internal)")
    parser.add_argument("--generated", type=Path, help="(internal)")
    options = parser.parse_args()
    if options.serve:
        profiler = cProfile.Profile() if options.profile else None
        if profiler is not None:
            profiler.enable()
        asyncio.run(serve(options.serve, import_generated(options.generated)))
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
        processes = {
            name: subprocess.Popen(
                [sys.executable, __file__, "--serve", name, "--generated", tmp]
                + (["--profile"] if options.profile and name == FULL else []),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in VARIANTS
        }
        try:
            ports = {
                name: int(process.stdout.readline().removeprefix("port "))  # type: ignore[union-attr]
                for name, process in processes.items()
            }
            throughput = asyncio.run(client(generated, ports, options))
        finally:
            for process in processes.values():
                process.stdin.close()  # type: ignore[union-attr]
                process.wait(timeout=30)
    bare = statistics.median(throughput["bare"])
    print(
        f"aio unary, {options.concurrency} calls in flight, {options.rounds} rounds x "
        f"{options.batches} batches per variant, order rotating each round"
    )
    print(f"    {'variant':26s} {'calls/s':>9s} {'min':>9s} {'max':>9s} {'ratio':>6s}")
    for name in VARIANTS:
        values = throughput[name]
        median = statistics.median(values)
        print(
            f"    {name:26s} {median:9.0f} {min(values):9.0f} {max(values):9.0f}"
            f" {median / bare:6.3f}"
        )
    ratio = statistics.median(throughput[FULL]) / bare
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"    full chain / bare: {ratio:.3f} (target >= {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
