"""The example order service on ``grpc.aio.server``, behind the full generated chain.

python examples/aio_server.py --port 50052    # then: python examples/client.py --aio 127.0.0.1:50052
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc_errgen.aio
from shop.v1 import orders_errgen, orders_pb2_grpc
from shop_service import AsyncOrderService, Store, authenticate_async


async def start(port: int = 0, metrics: Any = None) -> tuple[grpc.aio.Server, int]:
    """Start the server on 127.0.0.1:``port`` (0: any free port); returns it and its port.

    The same chain as ``server.py``: with ``metrics`` (a ``prometheus_client.CollectorRegistry``), Prometheus
    metrics too.
    """
    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            orders_errgen, authenticate=authenticate_async, metrics=metrics
        )
    )
    orders_pb2_grpc.add_OrderServiceServicer_to_server(
        AsyncOrderService(Store()), server
    )
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


async def serve(port: int) -> None:
    server, bound = await start(port)
    print(f"order service (aio) on 127.0.0.1:{bound}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50052)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
