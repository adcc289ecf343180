"""The client tests' service: one proto (all four arities, a catalogue, a retry policy), its servicers (sync
and aio) whose behaviour the request's ``mode`` picks, and helpers that run them on 127.0.0.1:0.

The servicers either raise their errors behind grpc-errgen's real server chain (``chain=True``) or end
failed calls themselves with the same wire format (``status.to_status``: trailers, then ``context.abort``);
wire-level cases the chain never produces (malformed, mismatched, oversized details) always go the second way. Built once per test session (``shop()``);
the proto package ``clisrv.v1`` belongs to the client tests.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import grpc
from google.rpc import error_details_pb2, status_pb2

import grpc_errgen
import grpc_errgen.aio
from grpc_errgen import errors
from grpc_errgen.status import DETAILS_KEY, Status, to_status
from tests.support import build, load

PROTO = """
syntax = "proto3";
package clisrv.v1;
import "grpc_errgen/options.proto";

enum ShopError {
  option (errgen.errors) = { domain: "shop.clisrv.example" };
  SHOP_ERROR_UNSPECIFIED = 0 [(errgen.error) = { code: INTERNAL }];
  ORDER_NOT_FOUND = 1 [(errgen.error) = { code: NOT_FOUND, message: "order not found" }];
  OUT_OF_STOCK = 2 [(errgen.error) = { code: FAILED_PRECONDITION, message: "out of stock", retryable: true }];
}

message Req { string mode = 1; int32 count = 2; string text = 3; string key = 4; }
message Resp { string text = 1; string request_id = 2; int32 index = 3; }

service Shop {
  rpc Get(Req) returns (Resp) {
    option (errgen.method) = {
      errors: ["ORDER_NOT_FOUND"]
      retry: { max_attempts: 3, initial_backoff: "0.01s", max_backoff: "0.05s", backoff_multiplier: 2,
               retryable_codes: [UNAVAILABLE] }
    };
  }
  rpc List(Req) returns (stream Resp);
  rpc Put(stream Req) returns (Resp);
  rpc Chat(stream Req) returns (stream Resp);
}
"""


class Shop(NamedTuple):
    errgen: ModuleType
    pb2: ModuleType
    pb2_grpc: ModuleType


@functools.cache
def shop() -> Shop:
    root = Path(tempfile.mkdtemp(prefix="clisrv-"))
    build(root, {"clisrv/v1/shop.proto": PROTO})
    return Shop(
        load("clisrv.v1.shop_errgen"),
        load("clisrv.v1.shop_pb2"),
        load("clisrv.v1.shop_pb2_grpc"),
    )


def _status_bytes(code: grpc.StatusCode, message: str, *details: Any) -> bytes:
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        status.details.add().Pack(detail)
    serialized: bytes = status.SerializeToString()
    return serialized


class Failures:
    """What each ``mode`` ends a call with; ``flaky`` fails UNAVAILABLE twice per ``key``, then succeeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts: Counter[str] = Counter()

    def failure_for(self, request: Any) -> errors.RpcException | Status | None:
        """An exception for the server to raise, a ready-made wire status to abort with, or None for success."""
        mode = request.mode
        module = shop().errgen
        if mode in ("", "ok", "echo"):
            return None
        if mode == "declared":
            return module.OrderNotFound(metadata={"order_id": request.text})  # type: ignore[no-any-return]
        if mode == "undeclared":
            return module.OutOfStock(f"sku {request.text} is out of stock")  # type: ignore[no-any-return]
        if mode == "status":
            return errors.NotFound("no such shelf")
        if mode == "foreign":  # an ErrorInfo no catalogue of ours declares
            info = error_details_pb2.ErrorInfo(
                reason="QUOTA", domain="other.example", metadata={"k": "v"}
            )
            code = grpc.StatusCode.RESOURCE_EXHAUSTED
            return Status(
                code, "quota", ((DETAILS_KEY, _status_bytes(code, "quota", info)),)
            )
        if mode == "invalid":
            violation = errors.Violation(
                "items[0].sku", "string.min_len", "must be at least 3 characters"
            )
            return errors.ValidationError([violation], "invalid Req: 1 violation(s)")
        if mode == "malformed":
            return Status(
                grpc.StatusCode.NOT_FOUND,
                "bad details",
                ((DETAILS_KEY, b"\xff\x00not a status"),),
            )
        if (
            mode == "mismatch"
        ):  # details claim INVALID_ARGUMENT + BadRequest, the call ends NOT_FOUND
            bad = error_details_pb2.BadRequest(
                field_violations=[{"field": "x", "description": "d", "reason": "r"}]
            )
            details = _status_bytes(grpc.StatusCode.INVALID_ARGUMENT, "other", bad)
            return Status(
                grpc.StatusCode.NOT_FOUND, "mismatch", ((DETAILS_KEY, details),)
            )
        if (
            mode == "oversized"
        ):  # a valid Status far above the client's 8 KiB trailer limit
            info = error_details_pb2.ErrorInfo(
                reason="ORDER_NOT_FOUND", domain="shop.clisrv.example"
            )
            info.metadata["blob"] = "x" * 20000
            code = grpc.StatusCode.NOT_FOUND
            return Status(
                code, "huge", ((DETAILS_KEY, _status_bytes(code, "huge", info)),)
            )
        if mode == "unavailable":
            return Status(grpc.StatusCode.UNAVAILABLE, "down", ())
        if mode == "flaky":
            with self._lock:
                self.attempts[request.key] += 1
                attempt = self.attempts[request.key]
            return (
                Status(grpc.StatusCode.UNAVAILABLE, f"attempt {attempt}", ())
                if attempt <= 2
                else None
            )
        raise AssertionError(f"unknown mode {mode!r}")


def _request_id(context: Any) -> str:
    request_id: str = dict(context.invocation_metadata()).get("x-request-id", "")
    return request_id


class SyncShop:
    """The servicer for ``grpc.server``: ``add_ShopServicer_to_server(SyncShop(), server)``."""

    def __init__(self, raises: bool = False) -> None:
        self.failures = Failures()
        self.received: list[str] = []
        #: Raise exceptions for the server chain to map, instead of aborting with ``to_status`` here.
        self.raises = raises

    def _end(
        self, context: grpc.ServicerContext, failure: errors.RpcException | Status
    ) -> None:
        if isinstance(failure, errors.RpcException):
            if self.raises:
                raise failure
            failure = to_status(failure)
        context.set_trailing_metadata(failure.trailing_metadata)
        context.abort(failure.code, failure.message)

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:
        failure = self.failures.failure_for(request)
        if failure is not None:
            self._end(context, failure)
        return shop().pb2.Resp(text=request.text, request_id=_request_id(context))

    def List(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        for index in range(request.count):
            yield shop().pb2.Resp(
                text=request.text, index=index, request_id=_request_id(context)
            )
        failure = self.failures.failure_for(request)
        if failure is not None:
            self._end(context, failure)

    def Put(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Any:
        texts = []
        last = None
        for request in request_iterator:
            texts.append(request.text)
            self.received.append(request.text)
            last = request
        failure = self.failures.failure_for(last) if last is not None else None
        if failure is not None:
            self._end(context, failure)
        return shop().pb2.Resp(text=",".join(texts), request_id=_request_id(context))

    def Chat(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        for index, request in enumerate(request_iterator):
            self.received.append(request.text)
            failure = self.failures.failure_for(request)
            if failure is not None:
                self._end(context, failure)
            yield shop().pb2.Resp(
                text=request.text, index=index, request_id=_request_id(context)
            )


class AsyncShop:
    """The servicer for ``grpc.aio.server``, behaving like ``SyncShop``."""

    def __init__(self, raises: bool = False) -> None:
        self.failures = Failures()
        self.received: list[str] = []
        self.raises = raises

    async def _end(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        failure: errors.RpcException | Status,
    ) -> None:
        if isinstance(failure, errors.RpcException):
            if self.raises:
                raise failure
            failure = to_status(failure)
        await context.abort(failure.code, failure.message, failure.trailing_metadata)

    async def Get(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        failure = self.failures.failure_for(request)
        if failure is not None:
            await self._end(context, failure)
        return shop().pb2.Resp(text=request.text, request_id=_request_id(context))

    async def List(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        for index in range(request.count):
            yield shop().pb2.Resp(
                text=request.text, index=index, request_id=_request_id(context)
            )
        failure = self.failures.failure_for(request)
        if failure is not None:
            await self._end(context, failure)

    async def Put(
        self,
        request_iterator: AsyncIterator[Any],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> Any:
        texts = []
        last = None
        async for request in request_iterator:
            texts.append(request.text)
            self.received.append(request.text)
            last = request
        failure = self.failures.failure_for(last) if last is not None else None
        if failure is not None:
            await self._end(context, failure)
        return shop().pb2.Resp(text=",".join(texts), request_id=_request_id(context))

    async def Chat(
        self,
        request_iterator: AsyncIterator[Any],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[Any]:
        index = 0
        async for request in request_iterator:
            self.received.append(request.text)
            failure = self.failures.failure_for(request)
            if failure is not None:
                await self._end(context, failure)
            yield shop().pb2.Resp(
                text=request.text, index=index, request_id=_request_id(context)
            )
            index += 1


@contextlib.contextmanager
def sync_server(chain: bool = False) -> Iterator[tuple[str, SyncShop]]:
    """A ``grpc.server`` running the shop on 127.0.0.1:0; yields its target and servicer.

    ``chain``: behind grpc-errgen's server chain, with a servicer that raises its errors.
    """
    servicer = SyncShop(raises=chain)
    interceptors = (
        grpc_errgen.server_interceptors(shop().errgen, log=False) if chain else []
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=interceptors
    )
    shop().pb2_grpc.add_ShopServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(None)


@contextlib.asynccontextmanager
async def aio_server(chain: bool = False) -> AsyncIterator[tuple[str, AsyncShop]]:
    """A ``grpc.aio.server`` running the shop on 127.0.0.1:0; yields its target and servicer (``chain``: as above)."""
    servicer = AsyncShop(raises=chain)
    interceptors = (
        grpc_errgen.aio.server_interceptors(shop().errgen, log=False) if chain else []
    )
    server = grpc.aio.server(interceptors=interceptors)
    shop().pb2_grpc.add_ShopServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        await server.stop(None)
