"""How to test a service behind the grpc-errgen chain, in your own test suite (pytest).

``grpc_errgen.testing.serve`` runs the servicer in-process on 127.0.0.1, behind the same chain production
uses (auth, validation, error mapping), and gives a channel that raises the typed exceptions;
``aio_serve`` does the same for ``grpc.aio``. ``as_principal`` lets you call a handler directly as someone.

    python -m pytest examples/test_orders.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grpc_errgen import Principal, errors
from grpc_errgen.testing import aio_serve, as_principal, serve
from shop.v1 import orders_errgen, orders_pb2, orders_pb2_grpc
from shop_service import (
    AsyncOrderService,
    OrderService,
    Store,
    authenticate,
    authenticate_async,
)

ORDER = orders_pb2.CreateOrderRequest(
    customer_email="alice@example.com",
    items=[orders_pb2.LineItem(sku="ABC-1234", quantity=2)],
    currency=orders_pb2.CURRENCY_EUR,
    shipping=orders_pb2.Address(line1="1 Main St", country="FR"),
    card_token="tok_12345678",
)
#: The example's stand-in token for alice (see ``shop_service.TOKENS``).
ALICE = (("authorization", "Bearer alice-token"),)


def test_unknown_order_is_order_not_found() -> None:
    with serve(
        orders_pb2_grpc.add_OrderServiceServicer_to_server,
        OrderService(Store()),
        orders_errgen,
        authenticate=authenticate,
    ) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        with pytest.raises(orders_errgen.OrderNotFound) as missing:
            stub.GetOrder(orders_pb2.GetOrderRequest(id="ord-404"), metadata=ALICE)
        assert missing.value.metadata == {"order_id": "ord-404"}


def test_create_order_needs_a_token_and_valid_input() -> None:
    with serve(
        orders_pb2_grpc.add_OrderServiceServicer_to_server,
        OrderService(Store()),
        orders_errgen,
        authenticate=authenticate,
    ) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        with pytest.raises(errors.Unauthenticated):
            stub.CreateOrder(ORDER)
        bad = orders_pb2.CreateOrderRequest(customer_email="nope")
        with pytest.raises(errors.ValidationError) as invalid:
            stub.CreateOrder(bad, metadata=ALICE)
        assert "customer_email" in {v.field for v in invalid.value.violations}


async def test_out_of_stock_carries_a_retry_hint_aio() -> None:
    async with aio_serve(
        orders_pb2_grpc.add_OrderServiceServicer_to_server,
        AsyncOrderService(Store()),
        orders_errgen,
        authenticate=authenticate_async,
    ) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        request = orders_pb2.CreateOrderRequest()
        request.CopyFrom(ORDER)
        request.items[0].sku = "ZZZ-0001"
        with pytest.raises(orders_errgen.OutOfStock) as caught:
            await stub.CreateOrder(request, metadata=ALICE)
        assert caught.value.retry_delay == 60.0
        kinds = {type(detail).__name__ for detail in caught.value.error_details}
        assert {"ResourceInfo", "LocalizedMessage"} <= kinds


def test_calling_a_handler_directly_as_someone() -> None:
    service = OrderService(Store())
    context: Any = None  # this handler never touches its context
    with as_principal(Principal("alice", scopes={"orders", "orders.write"})):
        order = service.CreateOrder(ORDER, context)
    assert order.customer_email == "alice@example.com"
