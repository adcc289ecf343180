"""Client side for ``grpc`` channels: typed exceptions, request ids, pre-send validation, circuit breaker,
and the channel options that turn on the generated retry policies.

``client_interceptors(*modules)`` gives one interceptor for ``grpc.intercept_channel`` covering all four
rpc kinds. A failed call raises the generated catalogue class of its ErrorInfo, else ``ValidationError`` for a
BadRequest, else the ``grpc_errgen.errors`` class of its code (decoding: ``status.from_call``).

grpcio's sync continuation does not raise for a failed unary call: it returns a call object holding the
error, and the stub calls ``.result()`` on whatever the interceptor returns (plain call, ``with_call`` and
``future`` alike). So the interceptor returns ``TypedCall``, whose ``result()`` raises the typed exception.
Response streams come back as ``TypedStream``: it yields the messages that arrived, then raises.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import ModuleType, TracebackType
from typing import Any, NamedTuple

import grpc

from grpc_errgen import validation
from grpc_errgen.breaker import CircuitBreaker, Ticket
from grpc_errgen.errors import RpcException, ValidationError
from grpc_errgen.policy import (
    GeneratedFile,
    MethodPolicy,
    error_table,
    method_table,
    service_config,
)
from grpc_errgen.status import from_call

REQUEST_ID_KEY = "x-request-id"

ErrorTable = Mapping[tuple[str, str], type[RpcException]]
MetadataItems = list[tuple[str, str | bytes]]


def channel_options(*modules: ModuleType | GeneratedFile) -> list[tuple[str, Any]]:
    """The channel options that turn on the retry policies of ``modules`` (their ``SERVICE_CONFIG``)."""
    config = json.dumps(service_config(modules), separators=(",", ":"), sort_keys=True)
    return [("grpc.service_config", config), ("grpc.enable_retries", 1)]


def with_request_id(
    metadata: Iterable[tuple[str, str | bytes]] | None,
) -> MetadataItems:
    """``metadata`` plus an ``x-request-id`` (a new uuid4) unless the caller set one."""
    items = list(metadata or ())
    if not any(key.lower() == REQUEST_ID_KEY for key, _ in items):
        items.append((REQUEST_ID_KEY, str(uuid.uuid4())))
    return items


def method_name(method: str | bytes) -> str:
    """The full method name as text (aio hands it over as bytes)."""
    return method.decode() if isinstance(method, bytes) else method


def typed_error(error: grpc.RpcError | grpc.Call, errors: ErrorTable) -> RpcException:
    """The typed exception for a failed call (itself when it already is one)."""
    if isinstance(error, RpcException):
        return error
    return from_call(error, errors)


class RequestRejected(Exception):
    """Raised from a request iterator to make grpc cancel the call; the caller gets ``RequestCheck.error``."""


class _QuietRejections(logging.Filter):
    """grpcio logs every exception of a request iterator as an error; a rejected request is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], RequestRejected))


logging.getLogger("grpc._channel").addFilter(_QuietRejections())


class RequestValidation:
    """What ``validate=True`` checks before a request is sent: the validator registered for the message type,
    except on an rpc with ``skip_validation``."""

    def __init__(self, methods: Mapping[str, MethodPolicy]) -> None:
        self._skipped = {name for name, p in methods.items() if p.skip_validation}

    def validate(self, method: str | bytes, request: Any) -> None:
        if method_name(method) not in self._skipped:
            validation.validate(request)

    def stream_check(self, method: str | bytes) -> RequestCheck:
        return RequestCheck(lambda request: self.validate(method, request))


class RequestCheck:
    """Validates a client stream's requests as they are sent, and remembers the first failure.

    Raising from the request iterator makes grpc cancel the call (the server never sees a clean end of
    the stream); the interceptor then raises the remembered ``ValidationError`` instead of the status the
    cancellation produced.
    """

    def __init__(self, validate: Callable[[Any], None]) -> None:
        self._validate = validate
        self.error: ValidationError | None = None

    def wrap(self, requests: Iterable[Any]) -> Iterator[Any]:
        for request in requests:
            self.check(request)
            yield request

    def check(self, request: Any) -> None:
        try:
            self._validate(request)
        except ValidationError as error:
            self.error = error
            raise RequestRejected(error.details()) from error


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class CallDetails(_CallDetails, grpc.ClientCallDetails):  # type: ignore[misc]
    """The call details handed on to the continuation (grpcio's own class is private)."""


class TypedCall(grpc.Call, grpc.Future):  # type: ignore[type-arg]
    """A unary-response call whose failures come out as typed exceptions; delegates everything else."""

    def __init__(
        self,
        call: Any,
        errors: ErrorTable,
        ticket: Ticket | None,
        check: RequestCheck | None,
    ) -> None:
        self._call = call
        self._errors = errors
        self._check = check
        self._error: RpcException | None = None
        if ticket is not None:
            call.add_done_callback(lambda done: ticket.done(done.code()))

    def _typed(self, error: grpc.RpcError) -> RpcException:
        if self._error is None:
            if self._check is not None and self._check.error is not None:
                self._error = self._check.error
            else:
                self._error = typed_error(error, self._errors)
        return self._error

    def _raise(self, error: grpc.RpcError) -> None:
        typed = self._typed(error)
        if typed is error:
            raise typed
        raise typed from error

    # grpc.Future
    def result(self, timeout: float | None = None) -> Any:
        try:
            return self._call.result(timeout)
        except grpc.RpcError as error:
            self._raise(error)

    def exception(self, timeout: float | None = None) -> Exception | None:
        error = self._call.exception(timeout)
        if isinstance(error, grpc.RpcError):
            return self._typed(error)
        return error  # type: ignore[no-any-return]

    def traceback(self, timeout: float | None = None) -> TracebackType | None:
        return self._call.traceback(timeout)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        self._call.add_done_callback(lambda _: fn(self))

    def cancel(self) -> bool:
        return self._call.cancel()  # type: ignore[no-any-return]

    def cancelled(self) -> bool:
        return self._call.cancelled()  # type: ignore[no-any-return]

    def running(self) -> bool:
        return self._call.running()  # type: ignore[no-any-return]

    def done(self) -> bool:
        return self._call.done()  # type: ignore[no-any-return]

    # grpc.Call
    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._call.trailing_metadata()

    def code(self) -> grpc.StatusCode:
        return self._call.code()  # type: ignore[no-any-return]

    def details(self) -> str:
        return self._call.details()  # type: ignore[no-any-return]

    def is_active(self) -> bool:
        return self._call.is_active()  # type: ignore[no-any-return]

    def time_remaining(self) -> float:
        return self._call.time_remaining()  # type: ignore[no-any-return]

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return self._call.add_callback(callback)  # type: ignore[no-any-return]


class TypedStream(TypedCall):
    """A response stream: yields the messages that arrived, then raises the typed exception."""

    def __iter__(self) -> TypedStream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as error:
            self._raise(error)

    def next(self) -> Any:
        """grpcio's streams also offer ``next()``."""
        return self.__next__()


class FailedCall(grpc.RpcError, grpc.Call, grpc.Future):  # type: ignore[type-arg]
    """A streaming call that failed before it was sent (validation, open circuit): raises when read."""

    def __init__(self, error: RpcException) -> None:
        super().__init__()
        self._error = error

    def __iter__(self) -> FailedCall:
        return self

    def __next__(self) -> Any:
        raise self._error

    def next(self) -> Any:
        raise self._error

    def result(self, timeout: float | None = None) -> Any:
        raise self._error

    def exception(self, timeout: float | None = None) -> Exception | None:
        return self._error

    def traceback(self, timeout: float | None = None) -> TracebackType | None:
        return self._error.__traceback__

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        fn(self)

    def cancel(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def initial_metadata(self) -> Any:
        return ()

    def trailing_metadata(self) -> Any:
        return self._error.trailing_metadata()

    def code(self) -> grpc.StatusCode:
        return self._error.code()

    def details(self) -> str:
        return self._error.details()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class ClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """The grpc-errgen client interceptor for all four rpc kinds; build it with ``client_interceptors``."""

    def __init__(
        self,
        errors: ErrorTable,
        *,
        request_id: bool,
        requests: RequestValidation | None,
        breaker: CircuitBreaker | None,
    ) -> None:
        self._errors = errors
        self._request_id = request_id
        self._requests = requests
        self._breaker = breaker

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if not self._request_id:
            return details
        return CallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=with_request_id(details.metadata),
            credentials=details.credentials,
            wait_for_ready=getattr(details, "wait_for_ready", None),
            compression=getattr(details, "compression", None),
        )

    def _acquire(self, details: grpc.ClientCallDetails) -> Ticket | None:
        return (
            None
            if self._breaker is None
            else self._breaker.acquire(method_name(details.method))
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        if self._requests is not None:
            self._requests.validate(client_call_details.method, request)
        ticket = self._acquire(client_call_details)
        call = continuation(self._details(client_call_details), request)
        return TypedCall(call, self._errors, ticket, None)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        try:
            if self._requests is not None:
                self._requests.validate(client_call_details.method, request)
            ticket = self._acquire(client_call_details)
        except RpcException as error:
            return FailedCall(error)
        call = continuation(self._details(client_call_details), request)
        return TypedStream(call, self._errors, ticket, None)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        ticket = self._acquire(client_call_details)
        check = (
            self._requests.stream_check(client_call_details.method)
            if self._requests is not None
            else None
        )
        requests = (
            check.wrap(request_iterator) if check is not None else request_iterator
        )
        call = continuation(self._details(client_call_details), requests)
        return TypedCall(call, self._errors, ticket, check)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        try:
            ticket = self._acquire(client_call_details)
        except RpcException as error:
            return FailedCall(error)
        check = (
            self._requests.stream_check(client_call_details.method)
            if self._requests is not None
            else None
        )
        requests = (
            check.wrap(request_iterator) if check is not None else request_iterator
        )
        call = continuation(self._details(client_call_details), requests)
        return TypedStream(call, self._errors, ticket, check)


def client_interceptors(
    *modules: ModuleType | GeneratedFile,
    request_id: bool = True,
    validate: bool = False,
    breaker: CircuitBreaker | None = None,
) -> list[grpc.UnaryUnaryClientInterceptor]:
    """Interceptors for ``grpc.intercept_channel(channel, *client_interceptors(module))``.

    ``modules`` are generated ``_errgen`` modules: their catalogue classes are what failed calls raise.
    ``request_id`` sends ``x-request-id`` unless the caller set one; ``validate`` checks requests before
    sending; ``breaker`` (a ``CircuitBreaker``) fails fast per method while its circuit is open.
    """
    return [
        ClientInterceptor(
            error_table(modules),
            request_id=request_id,
            requests=RequestValidation(method_table(modules)) if validate else None,
            breaker=breaker,
        )
    ]


__all__ = [
    "REQUEST_ID_KEY",
    "CircuitBreaker",
    "ClientInterceptor",
    "channel_options",
    "client_interceptors",
]
