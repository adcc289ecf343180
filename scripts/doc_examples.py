"""The output examples in the docs, made from real calls to the bundled example server.

Each example is a fenced block preceded by ``<!-- snippet: generated NAME -->`` in a document.
``tests/test_docs.py`` fails when a block differs from what this script makes (after ``normalise``, which
masks what changes from run to run: durations, ports, generated ids).

    python scripts/doc_examples.py            # print every example
    python scripts/doc_examples.py --write    # put them into README.md and docs/*.md

The calls go through **plain grpcio, with no grpc-errgen on the client**: what a Go, Java or grpcurl client
receives. Details are decoded with grpcio-status and printed with ``text_format``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc
from google.protobuf import json_format, text_format
from grpc_status import rpc_status
from prometheus_client import CollectorRegistry, generate_latest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import grpc_errgen  # noqa: E402
import server  # noqa: E402
from client import BAD, GOOD  # noqa: E402
from shop.v1 import orders_pb2, orders_pb2_grpc  # noqa: E402
from shop_service import OrderService, Store  # noqa: E402

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"(?P<head><!-- snippet: generated (?P<name>[\w-]+) -->\n```(?P<language>\w*)\n)(?P<body>.*?)(?=^```$)",
    re.S | re.M,
)
REQUEST_ID = "req-42"
#: Run-dependent parts of an example, and what they read as once masked.
VARYING = [
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
        "<uuid>",
    ),
    (re.compile(r"\b\d+\.\d+ ms\b"), "<duration> ms"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]


def normalise(text: str) -> str:
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return text.strip("\n")


def outcome(call: Callable[[], Any]) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded")


def describe(error: Any) -> str:
    """A failed call as plain grpcio sees it: code, message, metadata, and the decoded google.rpc.Status."""
    lines = [
        f"code: {error.code().name}",
        f"message: {error.details()}",
        f"initial metadata: {tuple(error.initial_metadata())}",
    ]
    for key, value in error.trailing_metadata():
        shown = f"<{len(value)} bytes>" if key.endswith("-bin") else value
        lines.append(f"trailer {key}: {shown}")
    status = rpc_status.from_call(error)
    if status is not None:
        lines.append("google.rpc.Status:")
        lines.append(
            text_format.MessageToString(status, descriptor_pool=None).rstrip("\n")
        )
    return "\n".join(lines)


@contextmanager
def example_server(registry: CollectorRegistry) -> Iterator[str]:
    running, port = server.start(0, metrics=registry)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        running.stop(None)


class _Lines(logging.Handler):
    """Keeps every record as its ``%(message)s`` lines (the traceback of a record with one included)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.extend(self.format(record).splitlines())


@contextmanager
def log_lines() -> Iterator[list[str]]:
    """The ``grpc_errgen`` logger's records during the block (and nowhere else)."""
    handler = _Lines()
    logger = logging.getLogger("grpc_errgen")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def unlisted_method_record(logged: list[str]) -> str:
    """The ERROR record of a server whose chain was given no module for the service it serves."""
    bare = grpc.server(
        futures.ThreadPoolExecutor(2), interceptors=grpc_errgen.server_interceptors()
    )
    orders_pb2_grpc.add_OrderServiceServicer_to_server(OrderService(Store()), bare)
    port = bare.add_insecure_port("127.0.0.1:0")
    bare.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            refused = outcome(
                lambda: stub.GetOrder(orders_pb2.GetOrderRequest(id="ord-1"))
            )
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        bare.stop(None)
    # The chain writes the record before it answers: it is there by now.
    return next(line for line in logged if "is served but no module" in line)


def examples() -> dict[str, str]:
    """NAME -> the text of the example, from real calls."""
    registry = CollectorRegistry()
    made: dict[str, str] = {}
    metadata = [("authorization", "Bearer alice-token"), ("x-request-id", REQUEST_ID)]
    with (
        log_lines() as logged,
        example_server(registry) as target,
        grpc.insecure_channel(target) as channel,
    ):
        stub = orders_pb2_grpc.OrderServiceStub(channel)

        not_found = outcome(
            lambda: stub.GetOrder(
                orders_pb2.GetOrderRequest(id="ord-999"), metadata=metadata
            )
        )
        made["wire-not-found"] = describe(not_found)
        status = rpc_status.from_call(not_found)
        assert status is not None
        made["wire-json"] = json_format.MessageToJson(status)

        made["wire-invalid"] = describe(
            outcome(lambda: stub.CreateOrder(BAD, metadata=metadata))
        )

        exploding = orders_pb2.CreateOrderRequest()
        exploding.CopyFrom(GOOD)
        exploding.card_token = "boom-boom"
        internal = outcome(lambda: stub.CreateOrder(exploding, metadata=metadata))
        unauthenticated = outcome(
            lambda: stub.CreateOrder(GOOD, metadata=[("x-request-id", REQUEST_ID)])
        )
        made["wire-internal-unauthenticated"] = (
            f"{describe(internal)}\n\n{describe(unauthenticated)}"
        )

        many = orders_pb2.CreateOrderRequest()
        many.CopyFrom(BAD)
        del many.items[:]
        many.items.extend(
            orders_pb2.LineItem(sku="bad", quantity=0) for _ in range(200)
        )
        cut = outcome(lambda: stub.CreateOrder(many, metadata=metadata))
        made["wire-size-cut"] = f"{cut.code().name} {cut.details()}"

        made["runtime-unlisted-log"] = unlisted_method_record(logged)

    handled = [
        line
        for line in generate_latest(registry).decode().splitlines()
        if line.startswith("grpc_server_handled_total{")
        and 'grpc_code="NotFound"' in line
    ]
    made["runtime-metric-line"] = handled[0]
    made["runtime-log-line"] = next(
        line for line in logged if "GetOrder NOT_FOUND" in line
    )
    return made


def write(made: dict[str, str]) -> list[str]:
    """Replace every generated block in the documents; return the names of the documents changed."""
    changed = []
    for path in DOCUMENTS:
        text = path.read_text()
        unknown = sorted({m["name"] for m in BLOCK.finditer(text)} - made.keys())
        if unknown:
            raise SystemExit(f"{path.name}: no example named {', '.join(unknown)}")

        def replace(match: re.Match[str]) -> str:
            new = made[match["name"]]
            if normalise(new) == normalise(match["body"]):
                return match[0]  # only run-to-run values differ: keep the text as it is
            return match["head"] + new.strip("\n") + "\n"

        new = BLOCK.sub(replace, text)
        if new != text:
            path.write_text(new)
            changed.append(str(path.relative_to(ROOT)))
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update the documents")
    args = parser.parse_args()
    made = examples()
    if args.write:
        changed = write(made)
        print("updated: " + (", ".join(changed) or "nothing"))
        return
    for name, text in made.items():
        print(f"== {name}\n{text}\n")


if __name__ == "__main__":
    main()
