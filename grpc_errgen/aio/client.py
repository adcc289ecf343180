"""Client side for ``grpc.aio`` channels: the same typed exceptions, request ids, pre-send validation and
circuit breaker as ``grpc_errgen.client``, as ``grpc.aio`` interceptors.

``grpc.aio`` files an interceptor under the first rpc kind it implements only, so ``client_interceptors``
returns four objects (one per kind) sharing one configuration. Each hands back a typed wrapper of the
real call (``TypedUnaryUnaryCall``...): ``await`` gives the response or raises the typed exception;
``async for`` and ``read()`` give the messages that arrived, then raise; metadata, code and cancel are the
real call's. The interceptor never awaits the call itself: grpc's ``write()`` proxy only starts sending
once the interceptors have returned, so awaiting there would deadlock a client stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable
from types import ModuleType
from typing import Any

import grpc
from grpc.aio import AioRpcError, ClientCallDetails, Metadata

from grpc_errgen.breaker import CircuitBreaker, Ticket
from grpc_errgen.client import (
    ErrorTable,
    RequestCheck,
    RequestValidation,
    method_name,
    typed_error,
    with_request_id,
)
from grpc_errgen.errors import RpcException
from grpc_errgen.policy import GeneratedFile, error_table, method_table

_EOF: Any = grpc.aio.EOF


class AsyncRequestCheck(RequestCheck):
    """``RequestCheck`` for request streams that may be async iterables (or the ``write()`` proxy)."""

    async def wrap_async(
        self, requests: AsyncIterable[Any] | Iterable[Any]
    ) -> AsyncIterator[Any]:
        if isinstance(requests, AsyncIterable):
            async for request in requests:
                self.check(request)
                yield request
        else:
            for request in requests:
                self.check(request)
                yield request


class _Config:
    """What the four interceptors share."""

    def __init__(
        self,
        errors: ErrorTable,
        *,
        request_id: bool,
        requests: RequestValidation | None,
        breaker: CircuitBreaker | None,
    ) -> None:
        self.errors = errors
        self.request_id = request_id
        self.requests = requests
        self.breaker = breaker
        # Tasks recording stream outcomes in the breaker; held so they are not collected mid-flight.
        self._recorders: set[asyncio.Task[None]] = set()

    def details(self, details: ClientCallDetails) -> ClientCallDetails:
        if not self.request_id:
            return details
        return ClientCallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=Metadata(*with_request_id(details.metadata)),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    def acquire(self, details: ClientCallDetails) -> Ticket | None:
        return (
            None
            if self.breaker is None
            else self.breaker.acquire(method_name(details.method))
        )

    def validate(self, details: ClientCallDetails, request: Any) -> None:
        if self.requests is not None:
            self.requests.validate(details.method, request)

    def check(self, details: ClientCallDetails) -> AsyncRequestCheck | None:
        if self.requests is None:
            return None
        requests = self.requests
        return AsyncRequestCheck(
            lambda request: requests.validate(details.method, request)
        )

    def record_when_done(self, call: Any, ticket: Ticket | None) -> None:
        """Report the call's final code to the breaker once it ends, even if nobody reads it to the end."""
        if ticket is None:
            return

        async def record(done: Any) -> None:
            ticket.done(await done.code())

        def on_done(done: Any) -> None:
            task = asyncio.get_running_loop().create_task(record(done))
            self._recorders.add(task)
            task.add_done_callback(self._recorders.discard)

        call.add_done_callback(on_done)

    def typed(self, error: AioRpcError, check: RequestCheck | None) -> RpcException:
        if check is not None and check.error is not None:
            return check.error
        return typed_error(error, self.errors)


class _TypedCall:
    """What the typed calls share: failure translation, breaker reporting, and delegation to the real call."""

    def __init__(
        self,
        call: Any,
        config: _Config,
        ticket: Ticket | None,
        check: RequestCheck | None,
    ) -> None:
        self._call = call
        self._config = config
        self._ticket = ticket
        self._check = check
        config.record_when_done(call, ticket)

    def _succeeded(self) -> None:
        if self._ticket is not None:
            self._ticket.done(grpc.StatusCode.OK)

    def _failed(self, error: AioRpcError | asyncio.CancelledError) -> BaseException:
        """The exception to raise instead of ``error``."""
        if isinstance(error, AioRpcError):
            if self._ticket is not None:
                self._ticket.done(error.code())
            return self._config.typed(error, self._check)
        if self._check is not None and self._check.error is not None:
            return (
                self._check.error
            )  # grpc cancelled the call because our request iterator rejected a request
        return error

    async def _response(self) -> Any:
        try:
            response = await self._call
        except (AioRpcError, asyncio.CancelledError) as error:
            failure = self._failed(error)
            if failure is error:
                raise
            raise failure from error
        self._succeeded()
        return response

    def cancelled(self) -> bool:
        return self._call.cancelled()  # type: ignore[no-any-return]

    def cancel(self) -> bool:
        return self._call.cancel()  # type: ignore[no-any-return]

    def done(self) -> bool:
        return self._call.done()  # type: ignore[no-any-return]

    def add_done_callback(self, callback: Any) -> None:
        self._call.add_done_callback(lambda _: callback(self))

    def time_remaining(self) -> float | None:
        return self._call.time_remaining()  # type: ignore[no-any-return]

    async def initial_metadata(self) -> Any:
        return await self._call.initial_metadata()

    async def trailing_metadata(self) -> Any:
        return await self._call.trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        return await self._call.code()  # type: ignore[no-any-return]

    async def details(self) -> str:
        return await self._call.details()  # type: ignore[no-any-return]

    async def debug_error_string(self) -> str:
        return await self._call.debug_error_string()  # type: ignore[no-any-return]

    async def wait_for_connection(self) -> None:
        await self._call.wait_for_connection()


class _TypedResponseStream(_TypedCall):
    """The reading half of the typed streaming calls: the messages that arrived, then the typed exception."""

    def __init__(
        self,
        call: Any,
        config: _Config,
        ticket: Ticket | None,
        check: RequestCheck | None,
    ) -> None:
        super().__init__(call, config, ticket, check)
        self._responses: AsyncIterator[Any] | None = None

    async def _iterate(self) -> AsyncIterator[Any]:
        try:
            async for response in self._call:
                yield response
        except (AioRpcError, asyncio.CancelledError) as error:
            failure = self._failed(error)
            if failure is error:
                raise
            raise failure from error
        self._succeeded()

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._responses is None:
            self._responses = self._iterate()
        return self._responses

    async def read(self) -> Any:
        try:
            return await self.__aiter__().__anext__()
        except StopAsyncIteration:
            return _EOF


class _RequestStream:
    """The writing half of the client-streaming calls (grpc's outer call does the writing; kept for the API)."""

    _call: Any

    async def write(self, request: Any) -> None:
        await self._call.write(request)

    async def done_writing(self) -> None:
        await self._call.done_writing()

    @property
    def _done_writing_flag(self) -> bool:
        # grpc.aio's outer call reads this private flag of the call its interceptors return.
        return self._call._done_writing_flag  # type: ignore[no-any-return]


class TypedUnaryUnaryCall(_TypedCall, grpc.aio.UnaryUnaryCall[Any, Any]):
    """A unary call: ``await`` gives the response or raises the typed exception."""

    def __await__(self) -> Generator[Any, None, Any]:
        return self._response().__await__()


class TypedStreamUnaryCall(
    _RequestStream, _TypedCall, grpc.aio.StreamUnaryCall[Any, Any]
):
    """A client-streaming call: ``await`` gives the response or raises the typed exception."""

    def __await__(self) -> Generator[Any, None, Any]:
        return self._response().__await__()


class TypedUnaryStreamCall(_TypedResponseStream, grpc.aio.UnaryStreamCall[Any, Any]):
    """A server-streaming call whose failure comes out as the typed exception."""


class TypedStreamStreamCall(
    _RequestStream, _TypedResponseStream, grpc.aio.StreamStreamCall[Any, Any]
):
    """A bidi-streaming call whose failure comes out as the typed exception."""


class UnaryUnaryInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        self._config.validate(client_call_details, request)
        ticket = self._config.acquire(client_call_details)
        call = await continuation(self._config.details(client_call_details), request)
        return TypedUnaryUnaryCall(call, self._config, ticket, None)


class UnaryStreamInterceptor(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        self._config.validate(client_call_details, request)
        ticket = self._config.acquire(client_call_details)
        call = await continuation(self._config.details(client_call_details), request)
        return TypedUnaryStreamCall(call, self._config, ticket, None)


class StreamUnaryInterceptor(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        ticket = self._config.acquire(client_call_details)
        check = self._config.check(client_call_details)
        requests = (
            check.wrap_async(request_iterator)
            if check is not None
            else request_iterator
        )
        call = await continuation(self._config.details(client_call_details), requests)
        return TypedStreamUnaryCall(call, self._config, ticket, check)


class StreamStreamInterceptor(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        ticket = self._config.acquire(client_call_details)
        check = self._config.check(client_call_details)
        requests = (
            check.wrap_async(request_iterator)
            if check is not None
            else request_iterator
        )
        call = await continuation(self._config.details(client_call_details), requests)
        return TypedStreamStreamCall(call, self._config, ticket, check)


def client_interceptors(
    *modules: ModuleType | GeneratedFile,
    request_id: bool = True,
    validate: bool = False,
    breaker: CircuitBreaker | None = None,
) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for ``grpc.aio.insecure_channel(target, interceptors=client_interceptors(module))``.

    Same arguments and behaviour as ``grpc_errgen.client.client_interceptors``.
    """
    config = _Config(
        error_table(modules),
        request_id=request_id,
        requests=RequestValidation(method_table(modules)) if validate else None,
        breaker=breaker,
    )
    return [
        UnaryUnaryInterceptor(config),
        UnaryStreamInterceptor(config),
        StreamUnaryInterceptor(config),
        StreamStreamInterceptor(config),
    ]


__all__ = ["client_interceptors"]
