"""The example order service: plain servicers (sync and aio) that know nothing about interceptors.

They raise the generated errors (``OrderNotFound``...), plain Python exceptions that the proto maps
(``KeyError`` -> NOT_FOUND), and read the caller with ``current_principal()``. Validation, auth, error
mapping, logging and metrics all come from the generated chain.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator, Iterator

import grpc
from google.rpc import error_details_pb2

from grpc_errgen import Principal, current_principal, current_request_id
from shop.v1 import orders_errgen, orders_pb2, orders_pb2_grpc

TOKENS = {
    "alice-token": Principal("alice", frozenset({"orders", "orders.write"})),
    "bob-token": Principal("bob", frozenset({"orders"})),
}


def authenticate(token: str, method: str) -> Principal | None:
    """A stand-in for a real token check (see ``grpc_errgen.auth.JWTAuthenticator``)."""
    return TOKENS.get(token)


#: Ids from the caller are cut to this length before they go into an error (``TrackRequest.order_id`` has no
#: ``max_len``): never echo unbounded input into a status.
MAX_ECHOED_ID = 64


def echoed(order_id: str) -> str:
    """``order_id`` as it may appear in an error: at most ``MAX_ECHOED_ID`` characters."""
    return (
        order_id if len(order_id) <= MAX_ECHOED_ID else order_id[:MAX_ECHOED_ID] + "..."
    )


async def authenticate_async(token: str, method: str) -> Principal | None:
    return TOKENS.get(token)


class Store:
    """In-memory orders, plus a flaky inventory that is busy for the first two lookups of an order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, orders_pb2.Order] = {}
        self._ids = itertools.count(1)
        self._busy: dict[str, int] = {}

    def create(self, request: orders_pb2.CreateOrderRequest) -> orders_pb2.Order:
        if any(item.sku.startswith("ZZZ") for item in request.items):
            sku = request.items[0].sku
            # Rich errors: a retry hint (RetryInfo and grpc-retry-pushback-ms) and any google.rpc details.
            raise orders_errgen.OutOfStock(
                metadata={"sku": sku},
                retry_delay=60.0,
                details=[
                    error_details_pb2.ResourceInfo(
                        resource_type="sku", resource_name=sku, description="restocking"
                    ),
                    error_details_pb2.LocalizedMessage(
                        locale="fr-FR", message=f"{sku} est en rupture de stock"
                    ),
                ],
            )
        if request.card_token == "boom-boom":
            raise RuntimeError(
                "card vault password is hunter2"
            )  # never reaches the client
        with self._lock:
            order_id = f"ord-{next(self._ids)}"
            order = orders_pb2.Order(
                id=order_id,
                customer_email=request.customer_email,
                items=request.items,
                status="NEW",
            )
            self._orders[order_id] = order
            self._busy[order_id] = 2
        return order

    def get(self, order_id: str) -> orders_pb2.Order:
        with self._lock:
            if order_id not in self._orders:
                raise orders_errgen.OrderNotFound(
                    metadata={"order_id": echoed(order_id)}
                )
            if self._busy.get(order_id, 0) > 0:
                self._busy[order_id] -= 1
                raise orders_errgen.InventoryBusy()
            return self._orders[order_id]

    def owned_by(self, email: str) -> list[orders_pb2.Order]:
        with self._lock:
            return [o for o in self._orders.values() if o.customer_email == email]

    def add_item(self, order_id: str, item: orders_pb2.LineItem) -> None:
        with self._lock:
            self._orders[order_id].items.append(
                item
            )  # KeyError -> NOT_FOUND by map_exceptions


class OrderService(orders_pb2_grpc.OrderServiceServicer):
    def __init__(self, store: Store) -> None:
        self.store = store

    def CreateOrder(
        self, request: orders_pb2.CreateOrderRequest, context: grpc.ServicerContext
    ) -> orders_pb2.Order:
        principal = current_principal()
        assert (
            principal is not None
        )  # the chain never lets an unauthenticated call in here
        return self.store.create(request)

    def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: grpc.ServicerContext
    ) -> orders_pb2.Order:
        return self.store.get(request.id)

    def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: grpc.ServicerContext
    ) -> Iterator[orders_pb2.Order]:
        yield from self.store.owned_by(request.customer_email)

    def UploadItems(
        self,
        request_iterator: Iterator[orders_pb2.ItemUpload],
        context: grpc.ServicerContext,
    ) -> orders_pb2.UploadSummary:
        added = 0
        for upload in request_iterator:
            self.store.add_item(upload.order_id, upload.item)
            added += 1
        return orders_pb2.UploadSummary(items_added=added)

    def TrackOrders(
        self,
        request_iterator: Iterator[orders_pb2.TrackRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[orders_pb2.OrderEvent]:
        for request in request_iterator:
            order = (
                self.store.get(request.order_id)
                if request.order_id != "ord-0"
                else None
            )
            if order is None:
                raise orders_errgen.OrderNotFound(
                    f"no such order (request {current_request_id()})",
                    metadata={"order_id": echoed(request.order_id)},
                )
            yield orders_pb2.OrderEvent(order_id=order.id, status=order.status)


class AsyncOrderService(orders_pb2_grpc.OrderServiceServicer):
    """The same service for ``grpc.aio``: the store is in memory, so the sync store serves both."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def CreateOrder(
        self,
        request: orders_pb2.CreateOrderRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> orders_pb2.Order:
        return self.store.create(request)

    async def GetOrder(
        self,
        request: orders_pb2.GetOrderRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> orders_pb2.Order:
        return self.store.get(request.id)

    async def ListOrders(
        self,
        request: orders_pb2.ListOrdersRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> AsyncIterator[orders_pb2.Order]:
        for order in self.store.owned_by(request.customer_email):
            yield order

    async def UploadItems(
        self,
        request_iterator: AsyncIterator[orders_pb2.ItemUpload],
        context: grpc.aio.ServicerContext[object, object],
    ) -> orders_pb2.UploadSummary:
        added = 0
        async for upload in request_iterator:
            self.store.add_item(upload.order_id, upload.item)
            added += 1
        return orders_pb2.UploadSummary(items_added=added)

    async def TrackOrders(
        self,
        request_iterator: AsyncIterator[orders_pb2.TrackRequest],
        context: grpc.aio.ServicerContext[object, object],
    ) -> AsyncIterator[orders_pb2.OrderEvent]:
        async for request in request_iterator:
            order = self.store.get(request.order_id)
            yield orders_pb2.OrderEvent(order_id=order.id, status=order.status)
