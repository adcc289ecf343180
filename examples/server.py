"""The example order service on a sync ``grpc.server``, behind the full generated chain.

python examples/server.py --port 50051        # then: python examples/client.py 127.0.0.1:50051
"""

from __future__ import annotations

import argparse
import logging
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc_errgen
from shop.v1 import orders_errgen, orders_pb2_grpc
from shop_service import OrderService, Store, authenticate


def start(port: int = 0, metrics: Any = None) -> tuple[grpc.Server, int]:
    """Start the server on 127.0.0.1:``port`` (0: any free port); returns it and its port.

    The chain, outermost first: one log record per call (``grpc_errgen`` logger) and, with ``metrics`` (a
    ``prometheus_client.CollectorRegistry``), Prometheus metrics; exception mapping; auth; validation.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=grpc_errgen.server_interceptors(
            orders_errgen, authenticate=authenticate, metrics=metrics
        ),
    )
    orders_pb2_grpc.add_OrderServiceServicer_to_server(OrderService(Store()), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50051)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    server, port = start(args.port)
    print(f"order service (sync) on 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
