"""User code type-checked against the committed example's generated code and typed stubs (mypy --strict).

Correct use passes; each misuse below must fail with the expected error, in the file that makes it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

HEADER = """\
from __future__ import annotations

import grpc
import grpc.aio

import grpc_errgen
from shop.v1 import orders_errgen, orders_pb2, orders_pb2_grpc
"""

GOOD = """
class Service(orders_pb2_grpc.OrderServiceServicer):
    def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: grpc.ServicerContext
    ) -> orders_pb2.Order:
        return orders_pb2.Order(id=request.id)


def call(channel: grpc.Channel) -> str:
    stub = orders_pb2_grpc.OrderServiceStub(channel)
    reply = stub.GetOrder(orders_pb2.GetOrderRequest(id="x"), timeout=1.0)
    return reply.id


def checks(item: orders_pb2.LineItem) -> list[str]:
    delay: float | None = orders_errgen.InventoryBusy.retry_delay
    policy = orders_errgen.ORDER_SERVICE_POLICY["/shop.v1.OrderService/GetOrder"]
    timeout: float | None = policy.timeout
    assert delay is None or timeout is None or delay < timeout
    return [v.field for v in orders_errgen.validate_LineItem(item)]


def raise_typed() -> None:
    raise orders_errgen.OrderNotFound("no such order", metadata={"order_id": "1"})


def serve(
    servicer: orders_pb2_grpc.OrderServiceServicer,
    server: grpc.Server,
    aio_server: grpc.aio.Server,
) -> None:
    # with_chain returns a server the generated add_..._to_server accepts, sync and aio.
    chained = grpc_errgen.with_chain(server, orders_errgen, log=False)
    orders_pb2_grpc.add_OrderServiceServicer_to_server(servicer, chained)
    chained.start()
    aio_chained = grpc_errgen.aio.with_chain(aio_server, orders_errgen)
    orders_pb2_grpc.add_OrderServiceServicer_to_server(servicer, aio_chained)
"""

#: file -> (code, a regex the mypy error line must match)
BAD = {
    "wrong_request": (
        "def f(channel: grpc.Channel) -> None:\n"
        "    orders_pb2_grpc.OrderServiceStub(channel).GetOrder(orders_pb2.Order())\n",
        r'incompatible type "Order"; expected "GetOrderRequest"\s+\[arg-type\]',
    ),
    "wrong_reply_field": (
        "def f(channel: grpc.Channel) -> int:\n"
        "    return orders_pb2_grpc.OrderServiceStub(channel).GetOrder(orders_pb2.GetOrderRequest()).id\n",
        r'Incompatible return value type \(got "str", expected "int"\)\s+\[return-value\]',
    ),
    "wrong_servicer_return": (
        "class S(orders_pb2_grpc.OrderServiceServicer):\n"
        "    def GetOrder(self, request: orders_pb2.GetOrderRequest, context: grpc.ServicerContext)"
        " -> orders_pb2.LineItem:\n"
        "        return orders_pb2.LineItem()\n",
        r'Return type "LineItem" of "GetOrder" incompatible with return type "Order \| Awaitable\[Order\]" in supertype ".*OrderServiceServicer"\s+\[override\]',
    ),
    "wrong_message_field": (
        "x = orders_pb2.LineItem(quantity='three')\n",
        r'Argument "quantity" to "LineItem" has incompatible type "str"',
    ),
    "wrong_validator_argument": (
        "found = orders_errgen.validate_LineItem(orders_pb2.Order())\n",
        r'incompatible type "Order"; expected "LineItem"\s+\[arg-type\]',
    ),
    "retry_delay_is_optional": (
        "delay: float = orders_errgen.OrderNotFound.retry_delay\n",
        r'Incompatible types in assignment \(expression has type "float \| None", variable has type "float"\)',
    ),
    "policy_timeout_is_optional": (
        "t: float = orders_errgen.ORDER_SERVICE_POLICY['/shop.v1.OrderService/GetOrder'].timeout\n",
        r'Incompatible types in assignment \(expression has type "float \| None", variable has type "float"\)',
    ),
    "with_chain_needs_the_server": (
        "chained = grpc_errgen.with_chain(orders_errgen, log=False)\n",
        r'Argument 1 to "with_chain" has incompatible type .*expected "Server"\s+\[arg-type\]',
    ),
}


def _mypy(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--explicit-package-bases",
            "--no-error-summary",
            "--hide-error-context",
            str(directory),
        ],
        cwd=directory,
        env={"MYPYPATH": str(EXAMPLES), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_user_code_against_generated_stubs(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(HEADER + textwrap.dedent(GOOD))
    for name, (code, _) in BAD.items():
        (tmp_path / f"{name}.py").write_text(HEADER + "\n\n" + code)
    done = _mypy(tmp_path)
    lines = [line for line in done.stdout.splitlines() if ": error:" in line]
    by_file: dict[str, list[str]] = {}
    for line in lines:
        by_file.setdefault(Path(line.split(":", 1)[0]).stem, []).append(line)
    assert "good" not in by_file, by_file.get("good")
    for name, (_, expected) in BAD.items():
        found = by_file.get(name, [])
        assert len(found) == 1, (name, found, done.stderr)
        assert re.search(expected, found[0]), (name, found[0])
