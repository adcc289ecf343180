"""A typed client of the example order service: what each kind of outcome looks like to a caller.

Sync, through ``grpc_errgen.client_interceptors`` (typed exceptions), ``grpc_errgen.bearer_token`` (auth) and
``grpc_errgen.channel_options`` (the retry policy the proto declares); ``--aio`` makes the same calls with
``grpc.aio``. Both run the same ``SCENARIOS``.

    python examples/client.py 127.0.0.1:50051          # against examples/server.py
    python examples/client.py --aio 127.0.0.1:50052    # against examples/aio_server.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import text_format

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc_errgen
from grpc_errgen import errors
from shop.v1 import orders_errgen, orders_pb2, orders_pb2_grpc

GOOD = orders_pb2.CreateOrderRequest(
    customer_email="alice@example.com",
    items=[orders_pb2.LineItem(sku="ABC-1234", quantity=2)],
    currency=orders_pb2.CURRENCY_EUR,
    shipping=orders_pb2.Address(line1="1 Main St", country="FR"),
    card_token="tok_12345678",
)
BAD = orders_pb2.CreateOrderRequest(
    customer_email="not-an-email",
    items=[orders_pb2.LineItem(sku="abc", quantity=0)],
    shipping=orders_pb2.Address(line1="", country="France"),
    labels={"": "x"},
)
#: The callers: their bearer tokens (``examples/shop_service.py`` knows alice and bob; nobody sends none).
TOKENS = {"alice": "alice-token", "bob": "bob-token", "nobody": None}
METHODS = orders_pb2.DESCRIPTOR.services_by_name["OrderService"].methods_by_name


def changed(**fields: Any) -> orders_pb2.CreateOrderRequest:
    """``GOOD`` with some fields replaced."""
    request = orders_pb2.CreateOrderRequest()
    request.CopyFrom(GOOD)
    for name, value in fields.items():
        if name == "sku":
            request.items[0].sku = value
        else:
            setattr(request, name, value)
    return request


def upload(order_id: str, sku: str, quantity: int) -> orders_pb2.ItemUpload:
    return orders_pb2.ItemUpload(
        order_id=order_id, item=orders_pb2.LineItem(sku=sku, quantity=quantity)
    )


@dataclass(frozen=True)
class Scenario:
    """One call: who makes it, to which rpc, with what (a list of messages for a request stream)."""

    title: str
    caller: str
    method: str
    request: Callable[
        [str], Any
    ]  # the id of the order the first call created -> the request


SCENARIOS = [
    Scenario("CreateOrder", "alice", "CreateOrder", lambda _: GOOD),
    Scenario("CreateOrder (invalid request)", "alice", "CreateOrder", lambda _: BAD),
    Scenario(
        "CreateOrder (declared error)",
        "alice",
        "CreateOrder",
        lambda _: changed(sku="ZZZ-0001"),
    ),
    Scenario(
        "CreateOrder (handler bug)",
        "alice",
        "CreateOrder",
        lambda _: changed(card_token="boom-boom"),
    ),
    Scenario("CreateOrder (no token)", "nobody", "CreateOrder", lambda _: GOOD),
    Scenario("CreateOrder (missing scope)", "bob", "CreateOrder", lambda _: GOOD),
    Scenario(
        "GetOrder (busy twice, retried by the channel)",
        "alice",
        "GetOrder",
        lambda order_id: orders_pb2.GetOrderRequest(id=order_id),
    ),
    Scenario(
        "GetOrder (unknown id)",
        "alice",
        "GetOrder",
        lambda _: orders_pb2.GetOrderRequest(id="ord-999"),
    ),
    Scenario(
        "ListOrders (server stream, no auth needed)",
        "nobody",
        "ListOrders",
        lambda _: orders_pb2.ListOrdersRequest(customer_email="alice@example.com"),
    ),
    Scenario(
        "UploadItems (client stream)",
        "alice",
        "UploadItems",
        lambda order_id: [
            upload(order_id, "ABC-0001", 1),
            upload(order_id, "ABC-0002", 3),
        ],
    ),
    Scenario(
        "UploadItems (bad 2nd message)",
        "alice",
        "UploadItems",
        lambda order_id: [upload(order_id, "ABC-0001", 1), upload(order_id, "bad", 0)],
    ),
    Scenario(
        "UploadItems (unknown order: KeyError, mapped by the proto)",
        "alice",
        "UploadItems",
        lambda _: [upload("ord-404", "ABC-0001", 1)],
    ),
    Scenario(
        "TrackOrders (bidi, unknown order mid-stream)",
        "alice",
        "TrackOrders",
        lambda order_id: [
            orders_pb2.TrackRequest(order_id=order_id),
            orders_pb2.TrackRequest(order_id="ord-404"),
        ],
    ),
]


def failure(error: errors.RpcException) -> str:
    """The typed exception the call raised, as one line (and one more per field violation)."""
    if isinstance(error, errors.ValidationError):
        lines = [f"{type(error).__name__} {error.code().name}: {error.details()}"]
        lines += [f"    {v.field}: {v.message} [{v.rule}]" for v in error.violations]
        return "\n    ".join(lines)
    extra = f" metadata={error.metadata}" if error.metadata else ""
    if error.retry_delay is not None:
        extra += f" retry_delay={error.retry_delay}s"
    # Every google.rpc detail the server sent (ErrorInfo first; ResourceInfo, LocalizedMessage...).
    more = [type(d).__name__ for d in error.error_details[1:]]
    if more:
        extra += f" details={more}"
    return f"{type(error).__name__} {error.code().name}: {error.details()}{extra}"


def success(result: Any) -> str:
    if isinstance(result, list):
        return f"OK {len(result)} message(s)"
    return "OK " + text_format.MessageToString(result, as_one_line=True)


def show_title(scenario: Scenario) -> None:
    # Before the call, so that the server's log lines for it appear under its title.
    print(f"  {scenario.title}", flush=True)


def show_outcome(text: str) -> None:
    print(f"    -> {text}", flush=True)


def run(target: str) -> None:
    """Make every scenario's call on the sync server at ``target``, printing what the caller sees."""
    options = grpc_errgen.channel_options(orders_errgen)
    channels: list[grpc.Channel] = []
    stubs = {}
    for caller, token in TOKENS.items():
        interceptors = [*grpc_errgen.client_interceptors(orders_errgen)]
        if token:
            interceptors = [*grpc_errgen.bearer_token(token), *interceptors]
        channels.append(grpc.insecure_channel(target, options=options))
        channel = grpc.intercept_channel(channels[-1], *interceptors)
        stubs[caller] = orders_pb2_grpc.OrderServiceStub(channel)
    order_id = "ord-1"
    for scenario in SCENARIOS:
        show_title(scenario)
        method = METHODS[scenario.method]
        request = scenario.request(order_id)
        call = getattr(stubs[scenario.caller], scenario.method)
        try:
            result: Any = call(iter(request) if method.client_streaming else request)
            if method.server_streaming:
                result = list(result)
        except errors.RpcException as error:
            show_outcome(failure(error))
            continue
        if scenario.method == "CreateOrder":
            order_id = result.id
        show_outcome(success(result))
    for channel in channels:
        channel.close()


async def run_aio(target: str) -> None:
    """The same calls through ``grpc.aio`` (``grpc_errgen.aio``'s client interceptors)."""
    options = grpc_errgen.channel_options(orders_errgen)
    channels: list[grpc.aio.Channel] = []
    stubs = {}
    for caller, token in TOKENS.items():
        interceptors = [*grpc_errgen.aio.client_interceptors(orders_errgen)]
        if token:
            interceptors = [*grpc_errgen.aio.bearer_token(token), *interceptors]
        channels.append(
            grpc.aio.insecure_channel(
                target, interceptors=interceptors, options=options
            )
        )
        stubs[caller] = orders_pb2_grpc.OrderServiceStub(channels[-1])
    order_id = "ord-1"
    for scenario in SCENARIOS:
        show_title(scenario)
        method = METHODS[scenario.method]
        request = scenario.request(order_id)
        call = getattr(stubs[scenario.caller], scenario.method)
        try:
            pending = call(iter(request) if method.client_streaming else request)
            result: Any
            if method.server_streaming:
                result = [message async for message in pending]
            else:
                result = await pending
        except errors.RpcException as error:
            show_outcome(failure(error))
            continue
        if scenario.method == "CreateOrder":
            order_id = result.id
        show_outcome(success(result))
    for channel in channels:
        await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", help="host:port of the order service")
    parser.add_argument("--aio", action="store_true", help="use grpc.aio")
    args = parser.parse_args()
    if args.aio:
        asyncio.run(run_aio(args.target))
    else:
        run(args.target)


if __name__ == "__main__":
    main()
