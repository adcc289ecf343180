"""Runs the example order service end to end on this machine and prints what happened.

A sync ``grpc.server`` (``server.py``) and a ``grpc.aio`` server (``aio_server.py``), each behind the full
generated chain (logging, metrics, error mapping, auth, validation), called by the typed client (``client.py``)
with the same calls: successes, validation errors with field violations, declared errors, mapped exceptions,
a handler bug, retries, auth failures and all four kinds of rpc. Under each call, indented, the server's own log
lines for it; then what the caller got (``->``).

    grpc-errgen generate && python examples/demo.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

# grpc core's own INFO lines (connection shutdowns) would only clutter the demo's output.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from prometheus_client import CollectorRegistry, generate_latest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aio_server
import client
import server


class ServerLogFormatter(logging.Formatter):
    """The server's log lines, indented under the call that caused them and labelled as the server's.

    A traceback (the handler bug's) is said to be what it is: the operator's copy of an error whose details the
    client never sees.
    """

    def format(self, record: logging.LogRecord) -> str:
        lines = [f"      server log {record.levelname}: {record.getMessage()}"]
        if record.exc_info:
            lines.append(
                "      server log   the traceback, for the operator only (the client gets"
                ' "internal error" and none of it):'
            )
            lines += [
                f"      server log   | {line}"
                for line in self.formatException(record.exc_info).splitlines()
            ]
        return "\n".join(lines)


def print_metrics(registry: CollectorRegistry) -> None:
    print("  metrics (grpc_server_handled_total):")
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("grpc_server_handled_total{"):
            print(f"      {line}")


def run_sync() -> None:
    print("== sync grpc.server (examples/server.py)")
    registry = CollectorRegistry()
    sync_server, port = server.start(0, metrics=registry)
    client.run(f"127.0.0.1:{port}")
    print_metrics(registry)
    sync_server.stop(None)


async def run_aio() -> None:
    print(
        "== grpc.aio server (examples/aio_server.py), the same calls through grpc.aio"
    )
    registry = CollectorRegistry()
    aio, port = await aio_server.start(0, metrics=registry)
    await client.run_aio(f"127.0.0.1:{port}")
    print_metrics(registry)
    await aio.stop(None)


def main() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ServerLogFormatter())
    logger = logging.getLogger("grpc_errgen")
    logger.addHandler(handler)
    logger.propagate = False
    # One INFO record per call is too chatty for a demo: show the server's warnings and errors only.
    logger.setLevel(logging.WARNING)
    run_sync()
    asyncio.run(run_aio())


if __name__ == "__main__":
    main()
