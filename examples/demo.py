"""Runs the example order service end to end on this machine and prints what happened.

A sync ``grpc.server`` (``server.py``) and a ``grpc.aio`` server (``aio_server.py``), each behind the full
generated chain (logging, metrics, error mapping, auth, validation), called by the typed client
(``client.py``): successes, validation errors with field violations, declared errors, mapped exceptions,
retries, auth failures and streams.

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


def run_sync() -> None:
    print("== sync grpc.server")
    registry = CollectorRegistry()
    sync_server, port = server.start(0, metrics=registry)
    client.run(f"127.0.0.1:{port}")
    print("  metrics:")
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("grpc_server_handled_total{"):
            print(f"      {line}")
    sync_server.stop(None)


async def run_aio() -> None:
    print("== grpc.aio server")
    aio, port = await aio_server.start(0)
    await client.run_aio(f"127.0.0.1:{port}")
    await aio.stop(None)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="      log %(levelname)s %(message)s"
    )
    # One INFO record per call is too chatty for a demo: show the server's warnings and errors only.
    logging.getLogger("grpc_errgen").setLevel(logging.WARNING)
    run_sync()
    asyncio.run(run_aio())


if __name__ == "__main__":
    main()
