"""Helpers for testing services behind the grpc-errgen chain.

``serve`` (sync) and ``aio_serve`` run a servicer in-process on 127.0.0.1 (a free port) behind the server
chain of the given generated modules, and give a channel to it that raises the typed exceptions
(``client_interceptors`` of the same modules)::

    with serve(orders_pb2_grpc.add_OrderServiceServicer_to_server, OrderService(), orders_errgen,
               authenticate=my_authenticate) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        with pytest.raises(orders_errgen.OrderNotFound):
            stub.GetOrder(orders_pb2.GetOrderRequest(order_id="ord-missing"))

    async with aio_serve(orders_pb2_grpc.add_OrderServiceServicer_to_server, AsyncOrderService(),
                         orders_errgen) as channel:
        ...

Keyword arguments go to ``server_interceptors`` (``authenticate``, ``log``, ``metrics``...). The server stops
and the channel closes when the block ends.

``as_principal(Principal(...))`` sets what ``current_principal()`` returns, to call a handler directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from types import ModuleType
from typing import Any

import grpc
import grpc.aio

from grpc_errgen import aio
from grpc_errgen.client import client_interceptors
from grpc_errgen.context import CURRENT_CALL, CallScope, Principal
from grpc_errgen.policy import GeneratedFile
from grpc_errgen.server import server_interceptors

#: ``add_FooServicer_to_server`` of a ``_pb2_grpc`` module.
AddServicer = Callable[[Any, Any], None]

#: The thread pool of a ``serve`` server.
MAX_WORKERS = 4


@contextlib.contextmanager
def serve(
    add_servicer: AddServicer,
    servicer: Any,
    *modules: ModuleType | GeneratedFile,
    **chain_kwargs: Any,
) -> Iterator[grpc.Channel]:
    """A ``grpc.server`` with ``servicer`` behind ``server_interceptors(*modules, **chain_kwargs)`` on
    127.0.0.1, for the duration of the block; yields a channel to it through ``client_interceptors(*modules)``.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_WORKERS),
        interceptors=server_interceptors(*modules, **chain_kwargs),
    )
    try:
        add_servicer(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield grpc.intercept_channel(channel, *client_interceptors(*modules))
    finally:
        server.stop(None)


@contextlib.asynccontextmanager
async def aio_serve(
    add_servicer: AddServicer,
    servicer: Any,
    *modules: ModuleType | GeneratedFile,
    **chain_kwargs: Any,
) -> AsyncIterator[grpc.aio.Channel]:
    """``serve`` for ``grpc.aio``: a ``grpc.aio.server`` with the aio chain, and a ``grpc.aio`` channel with
    the aio client interceptors."""
    server = grpc.aio.server(
        interceptors=aio.server_interceptors(*modules, **chain_kwargs)
    )
    try:
        add_servicer(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=aio.client_interceptors(*modules)
        ) as channel:
            yield channel
    finally:
        await server.stop(None)


@contextlib.contextmanager
def as_principal(principal: Principal | None) -> Iterator[Principal | None]:
    """Within the block, ``current_principal()`` (and ``require_principal()``) return ``principal``."""
    outer = CURRENT_CALL.get()
    token = CURRENT_CALL.set(
        CallScope(
            principal,
            outer.request_id if outer is not None else None,
            outer.servicer_context if outer is not None else None,
        )
    )
    try:
        yield principal
    finally:
        CURRENT_CALL.reset(token)


__all__ = ["aio_serve", "as_principal", "serve"]
