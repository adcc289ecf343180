"""A typed client of the example order service: what each kind of failure looks like to a caller.

Sync, through ``grpc_errgen.client_interceptors`` (typed exceptions), ``grpc_errgen.bearer_token`` (auth) and
``grpc_errgen.channel_options`` (the retry policy the proto declares); ``--aio`` does the same with
``grpc.aio``.

    python examples/client.py 127.0.0.1:50051          # against examples/server.py
    python examples/client.py --aio 127.0.0.1:50052    # against examples/aio_server.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import text_format

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc_errgen
import grpc_errgen.aio
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


def show(title: str, call: Callable[[], Any]) -> Any:
    """Run one client call and print its outcome the way a user would see it."""
    try:
        result = call()
    except errors.ValidationError as error:
        print(
            f"  {title}: {type(error).__name__} {error.code().name}: {error.details()}"
        )
        for violation in error.violations:
            print(f"      {violation.field}: {violation.message} [{violation.rule}]")
        return None
    except errors.RpcException as error:
        extra = f" metadata={error.metadata}" if error.metadata else ""
        if error.retry_delay is not None:
            extra += f" retry_delay={error.retry_delay}s"
        # Every google.rpc detail the server sent (ErrorInfo first; ResourceInfo, LocalizedMessage...).
        more = [type(d).__name__ for d in error.error_details[1:]]
        if more:
            extra += f" details={more}"
        print(
            f"  {title}: {type(error).__name__} {error.code().name}: {error.details()}{extra}"
        )
        return None
    if isinstance(result, list):
        summary = f"{len(result)} message(s)"
    else:
        summary = text_format.MessageToString(result, as_one_line=True)
    print(f"  {title}: OK {summary}")
    return result


def run(target: str) -> None:
    """Call the sync server at ``target`` once for each kind of outcome, printing what the caller sees."""
    options = grpc_errgen.channel_options(orders_errgen)

    channels: list[grpc.Channel] = []

    def stub(token: str | None) -> orders_pb2_grpc.OrderServiceStub:
        interceptors = [*grpc_errgen.client_interceptors(orders_errgen)]
        if token:
            interceptors = [*grpc_errgen.bearer_token(token), *interceptors]
        channels.append(grpc.insecure_channel(target, options=options))
        channel = grpc.intercept_channel(channels[-1], *interceptors)
        return orders_pb2_grpc.OrderServiceStub(channel)

    alice, bob, nobody = stub("alice-token"), stub("bob-token"), stub(None)
    order = show("CreateOrder", lambda: alice.CreateOrder(GOOD))
    show("CreateOrder (invalid request)", lambda: alice.CreateOrder(BAD))
    out_of_stock = orders_pb2.CreateOrderRequest()
    out_of_stock.CopyFrom(GOOD)
    out_of_stock.items[0].sku = "ZZZ-0001"
    show("CreateOrder (declared error)", lambda: alice.CreateOrder(out_of_stock))
    exploding = orders_pb2.CreateOrderRequest()
    exploding.CopyFrom(GOOD)
    exploding.card_token = "boom-boom"
    show("CreateOrder (handler bug)", lambda: alice.CreateOrder(exploding))
    show("CreateOrder (no token)", lambda: nobody.CreateOrder(GOOD))
    show("CreateOrder (missing scope)", lambda: bob.CreateOrder(GOOD))
    if order is not None:
        show(
            "GetOrder (busy twice, retried by the channel)",
            lambda: alice.GetOrder(orders_pb2.GetOrderRequest(id=order.id)),
        )
    show(
        "GetOrder (unknown id)",
        lambda: alice.GetOrder(orders_pb2.GetOrderRequest(id="ord-999")),
    )
    show(
        "ListOrders (server stream, no auth needed)",
        lambda: list(
            nobody.ListOrders(
                orders_pb2.ListOrdersRequest(customer_email="alice@example.com")
            )
        ),
    )

    def uploads(items: list[tuple[str, int]]) -> Iterator[orders_pb2.ItemUpload]:
        for sku, quantity in items:
            yield orders_pb2.ItemUpload(
                order_id=order.id if order else "ord-1",
                item=orders_pb2.LineItem(sku=sku, quantity=quantity),
            )

    show(
        "UploadItems (client stream)",
        lambda: alice.UploadItems(uploads([("ABC-0001", 1), ("ABC-0002", 3)])),
    )
    show(
        "UploadItems (bad 2nd message)",
        lambda: alice.UploadItems(uploads([("ABC-0001", 1), ("bad", 0)])),
    )
    show(
        "TrackOrders (bidi, unknown order mid-stream)",
        lambda: list(
            alice.TrackOrders(
                iter(
                    [
                        orders_pb2.TrackRequest(order_id=order.id if order else "x"),
                        orders_pb2.TrackRequest(order_id="ord-404"),
                    ]
                )
            )
        ),
    )
    for channel in channels:
        channel.close()


async def run_aio(target: str) -> None:
    """The same through ``grpc.aio``, a shorter tour."""
    interceptors = [
        *grpc_errgen.aio.bearer_token("alice-token"),
        *grpc_errgen.aio.client_interceptors(orders_errgen),
    ]
    async with grpc.aio.insecure_channel(
        target,
        interceptors=interceptors,
        options=grpc_errgen.channel_options(orders_errgen),
    ) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        for title, request in (
            ("CreateOrder", GOOD),
            ("CreateOrder (invalid request)", BAD),
        ):
            try:
                order = await stub.CreateOrder(request)
                print(f"  {title}: OK id={order.id}")
            except errors.ValidationError as error:
                print(f"  {title}: {type(error).__name__}: {error.details()}")
                for violation in error.violations:
                    print(
                        f"      {violation.field}: {violation.message} [{violation.rule}]"
                    )
        try:
            await stub.GetOrder(orders_pb2.GetOrderRequest(id="ord-999"))
        except orders_errgen.OrderNotFound as error:
            print(
                f"  GetOrder (unknown id): {type(error).__name__} {error.code().name}: {error.details()} {error.metadata}"
            )


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
