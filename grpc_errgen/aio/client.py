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
from typing import TYPE_CHECKING, Any

import grpc
from grpc.aio import AioRpcError, ClientCallDetails, Metadata

from grpc_errgen.breaker import CircuitBreaker
from grpc_errgen.client import (
    ErrorTable,
    Report,
    RequestCheck,
    RequestValidation,
    begin,
    call_timeout,
    method_name,
    method_timeouts,
    typed_error,
    with_request_id,
)
from grpc_errgen.client_metrics import ClientMetrics
from grpc_errgen.policy import GeneratedFile, RpcKind, error_table, method_table

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_EOF: Any = grpc.aio.EOF


class AsyncRequestCheck(RequestCheck):
    """``RequestCheck`` for request streams that may be async iterables (or the ``write()`` proxy)."""

    async def wrap_async(
        self, requests: AsyncIterable[Any] | Iterable[Any]
    ) -> AsyncIterator[Any]:
        if not isinstance(requests, AsyncIterable):
            for request in self.wrap(requests):
                yield request
            return
        try:
            iterator = aiter(requests)
        except Exception as error:
            self.error = error
            raise
        while True:
            try:
                request = await anext(iterator)
            except StopAsyncIteration:
                return
            except (
                Exception
            ) as error:  # the caller's iterator failed: that is the call's outcome
                self.error = error
                raise
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
        timeouts: dict[str, float] | None = None,
        propagate_deadline: bool = True,
        metrics: ClientMetrics | None = None,
    ) -> None:
        self.errors = errors
        self.request_id = request_id
        self.requests = requests
        self.breaker = breaker
        self.timeouts = timeouts or {}
        self.propagate_deadline = propagate_deadline
        self.metrics = metrics
        # Tasks recording call outcomes; held so they are not collected mid-flight.
        self._recorders: set[asyncio.Task[None]] = set()

    def details(self, details: ClientCallDetails) -> ClientCallDetails:
        timeout = call_timeout(
            details.timeout,
            method_name(details.method),
            self.timeouts,
            self.propagate_deadline,
        )
        if not self.request_id and timeout == details.timeout:
            return details
        return ClientCallDetails(
            method=details.method,
            timeout=timeout,
            metadata=(
                Metadata(*with_request_id(details.metadata))
                if self.request_id
                else details.metadata
            ),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    def begin(
        self, details: ClientCallDetails, kind: RpcKind, request: Any = None
    ) -> Report | None:
        """Metrics, pre-send validation of a unary request, the breaker's ticket (raises to refuse)."""
        requests = self.requests
        return begin(
            details.method,
            kind,
            metrics=self.metrics,
            breaker=self.breaker,
            validate=(
                (lambda: requests.validate(details.method, request))
                if requests is not None and kind in ("unary_unary", "unary_stream")
                else None
            ),
        )

    async def invoke(
        self,
        continuation: Any,
        details: ClientCallDetails,
        request: Any,
        report: Report | None,
    ) -> Any:
        try:
            return await continuation(self.details(details), request)
        except BaseException:
            # The call never started: release the breaker's ticket (a half-open circuit's trial) and count it.
            if report is not None:
                report.done(None)
            raise

    def check(self, details: ClientCallDetails) -> AsyncRequestCheck:
        requests = self.requests
        return AsyncRequestCheck(
            (lambda request: requests.validate(details.method, request))
            if requests is not None
            else None
        )

    def record_when_done(self, call: Any, report: Report | None) -> None:
        """Report the call's final code once it ends, even if nobody reads it to the end."""
        if report is None:
            return

        async def record(done: Any) -> None:
            report.done(await done.code())

        def on_done(done: Any) -> None:
            task = asyncio.get_running_loop().create_task(record(done))
            self._recorders.add(task)
            task.add_done_callback(self._recorders.discard)

        call.add_done_callback(on_done)

    def typed(self, error: AioRpcError, check: RequestCheck | None) -> Exception:
        if check is not None and check.error is not None:
            return check.error
        return typed_error(error, self.errors)


class _TypedCall:
    """What the typed calls share: failure translation, breaker reporting, and delegation to the real call."""

    def __init__(
        self,
        call: Any,
        config: _Config,
        report: Report | None,
        check: RequestCheck | None,
    ) -> None:
        self._call = call
        self._config = config
        self._report = report
        self._check = check
        config.record_when_done(call, report)

    def _succeeded(self) -> None:
        if self._report is not None:
            self._report.done(grpc.StatusCode.OK)

    def _failed(self, error: AioRpcError | asyncio.CancelledError) -> BaseException:
        """The exception to raise instead of ``error``."""
        if isinstance(error, AioRpcError):
            if self._report is not None:
                self._report.done(error.code())
            return self._config.typed(error, self._check)
        if self._check is not None and self._check.error is not None:
            # grpc cancelled the call because the request iterator failed (or we rejected a request)
            return self._check.error
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
        report: Report | None,
        check: RequestCheck | None,
    ) -> None:
        super().__init__(call, config, report, check)
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
        report = self._config.begin(client_call_details, "unary_unary", request)
        call = await self._config.invoke(
            continuation, client_call_details, request, report
        )
        return TypedUnaryUnaryCall(call, self._config, report, None)


class UnaryStreamInterceptor(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        report = self._config.begin(client_call_details, "unary_stream", request)
        call = await self._config.invoke(
            continuation, client_call_details, request, report
        )
        return TypedUnaryStreamCall(call, self._config, report, None)


class StreamUnaryInterceptor(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        report = self._config.begin(client_call_details, "stream_unary")
        check = self._config.check(client_call_details)
        requests = check.wrap_async(request_iterator)
        call = await self._config.invoke(
            continuation, client_call_details, requests, report
        )
        return TypedStreamUnaryCall(call, self._config, report, check)


class StreamStreamInterceptor(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, config: _Config) -> None:
        self._config = config

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        report = self._config.begin(client_call_details, "stream_stream")
        check = self._config.check(client_call_details)
        requests = check.wrap_async(request_iterator)
        call = await self._config.invoke(
            continuation, client_call_details, requests, report
        )
        return TypedStreamStreamCall(call, self._config, report, check)


def client_interceptors(
    *modules: ModuleType | GeneratedFile,
    request_id: bool = True,
    validate: bool = False,
    breaker: CircuitBreaker | None = None,
    metrics: CollectorRegistry | None = None,
    propagate_deadline: bool = True,
) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for ``grpc.aio.insecure_channel(target, interceptors=client_interceptors(module))``.

    Same arguments and behaviour as ``grpc_errgen.client.client_interceptors``.
    """
    methods = method_table(modules)
    config = _Config(
        error_table(modules),
        request_id=request_id,
        requests=RequestValidation(methods) if validate else None,
        breaker=breaker,
        timeouts=method_timeouts(methods),
        propagate_deadline=propagate_deadline,
        metrics=ClientMetrics.on(metrics) if metrics is not None else None,
    )
    return [
        UnaryUnaryInterceptor(config),
        UnaryStreamInterceptor(config),
        StreamUnaryInterceptor(config),
        StreamStreamInterceptor(config),
    ]


__all__ = ["client_interceptors"]
