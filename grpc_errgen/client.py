"""Client side for ``grpc`` channels: typed exceptions, request ids, pre-send validation, circuit breaker,
default deadlines and deadline propagation, client metrics, and the channel options that turn on the
generated retry policies.

``client_interceptors(*modules)`` gives one interceptor for ``grpc.intercept_channel`` covering all four
rpc kinds. A failed call raises the generated catalogue class of its ErrorInfo (when the class's code is the
call's), else ``ValidationError`` for a BadRequest, else the ``grpc_errgen.errors`` class of its code
(decoding: ``status.from_call``). A client stream whose own request iterator raised raises that exception.

Timeouts: a call that sets none gets its method's ``(errgen.method).timeout``; inside a handler served by the
chain, a call gets at most the time the served call has left (``time_remaining()``), unless
``propagate_deadline=False``.

grpcio's sync continuation does not raise for a failed unary call: it returns a call object holding the
error, and the stub calls ``.result()`` on whatever the interceptor returns (plain call, ``with_call`` and
``future`` alike). So the interceptor returns ``TypedCall``, whose ``result()`` raises the typed exception.
Response streams come back as ``TypedStream``: it yields the messages that arrived, then raises.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc

from grpc_errgen import validation
from grpc_errgen.breaker import CircuitBreaker, Ticket
from grpc_errgen.client_metrics import ClientMetrics, ClientObservation
from grpc_errgen.context import REQUEST_ID_KEY, new_request_id
from grpc_errgen.deadline import time_remaining
from grpc_errgen.errors import RpcException, ValidationError
from grpc_errgen.policy import (
    GeneratedFile,
    MethodPolicy,
    RpcKind,
    error_table,
    method_table,
    service_config,
)
from grpc_errgen.status import from_call

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


ErrorTable = Mapping[tuple[str, str], type[RpcException]]
MetadataItems = list[tuple[str, str | bytes]]


def channel_options(*modules: ModuleType | GeneratedFile) -> list[tuple[str, Any]]:
    """The channel options that turn on the retry policies of ``modules`` (their ``SERVICE_CONFIG``).

    The methods' ``timeout`` is left out: grpcio fires service-config timeouts up to 1.5 s early
    (grpc#34547); ``client_interceptors`` applies them instead.
    """
    config = service_config(modules)
    method_config = []
    for entry in config.get("methodConfig", ()):
        kept = {key: value for key, value in entry.items() if key != "timeout"}
        if set(kept) - {"name"}:
            method_config.append(kept)
    text = json.dumps(
        {**config, "methodConfig": method_config},
        separators=(",", ":"),
        sort_keys=True,
    )
    return [("grpc.service_config", text), ("grpc.enable_retries", 1)]


def method_timeouts(methods: Mapping[str, MethodPolicy]) -> dict[str, float]:
    """The default deadline (seconds) of each method that declares one."""
    timeouts = {}
    for name, policy in methods.items():
        timeout = getattr(policy, "timeout", None)
        if timeout is not None:
            timeouts[name] = float(timeout)
    return timeouts


def call_timeout(
    timeout: float | None,
    method: str,
    timeouts: Mapping[str, float],
    propagate_deadline: bool,
) -> float | None:
    """The timeout a call goes out with: the caller's, else the method's default; at most what the call
    being served has left (when ``propagate_deadline``)."""
    if timeout is None:
        timeout = timeouts.get(method)
    if propagate_deadline:
        remaining = time_remaining()
        if remaining is not None and (timeout is None or remaining < timeout):
            timeout = remaining
    return timeout


def with_request_id(
    metadata: Iterable[tuple[str, str | bytes]] | None,
) -> MetadataItems:
    """``metadata`` plus an ``x-request-id`` (a new uuid4) unless the caller set one."""
    items = list(metadata or ())
    if not any(key.lower() == REQUEST_ID_KEY for key, _ in items):
        items.append((REQUEST_ID_KEY, new_request_id()))
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


class RequestCheck:
    """Watches a client stream's requests as they are sent: validates them (when ``validate`` is given) and
    remembers the first failure, a rejected request or an exception of the caller's own iterator.

    Raising from the request iterator makes grpc cancel the call (the server never sees a clean end of
    the stream); the interceptor then raises the remembered exception instead of the status the
    cancellation produced.
    """

    def __init__(self, validate: Callable[[Any], None] | None) -> None:
        self._validate = validate
        self.error: Exception | None = None

    def wrap(self, requests: Iterable[Any]) -> Iterator[Any]:
        try:
            iterator = iter(requests)
        except Exception as error:
            self.error = error
            raise
        while True:
            try:
                request = next(iterator)
            except StopIteration:
                return
            except (
                Exception
            ) as error:  # the caller's iterator failed: that is the call's outcome
                self.error = error
                raise
            self.check(request)
            yield request

    def check(self, request: Any) -> None:
        if self._validate is None:
            return
        try:
            self._validate(request)
        except ValidationError as error:
            self.error = error
            raise RequestRejected(error.details()) from error


class Report:
    """What hears how a call ended: the breaker's ticket and the call's metrics (the first report counts)."""

    __slots__ = ("observation", "ticket")

    def __init__(
        self, ticket: Ticket | None, observation: ClientObservation | None
    ) -> None:
        self.ticket = ticket
        self.observation = observation

    def done(self, code: grpc.StatusCode | None) -> None:
        """The call ended with ``code`` (None: it ended without one, e.g. it could not be started)."""
        if self.ticket is not None:
            self.ticket.done(code)
        if self.observation is not None:
            self.observation.finish(code)


def begin(
    method: str | bytes,
    kind: RpcKind,
    *,
    metrics: ClientMetrics | None,
    breaker: CircuitBreaker | None,
    validate: Callable[[], None] | None = None,
) -> Report | None:
    """Start a call's metrics, validate its request, take a breaker ticket; raises the ``RpcException`` that
    refuses the call (counted in the metrics). None when nothing needs to hear how the call ends.
    """
    name = method_name(method)
    observation = metrics.start(name, kind) if metrics is not None else None
    try:
        if validate is not None:
            validate()
        ticket = breaker.acquire(name) if breaker is not None else None
    except RpcException as error:
        if observation is not None:
            observation.finish(error.code())
        raise
    if ticket is None and observation is None:
        return None
    return Report(ticket, observation)


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
        report: Report | None,
        check: RequestCheck | None,
    ) -> None:
        self._call = call
        self._errors = errors
        self._check = check
        self._error: Exception | None = None
        if report is not None:
            call.add_done_callback(lambda done: report.done(done.code()))

    def _typed(self, error: grpc.RpcError) -> Exception:
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
        timeouts: Mapping[str, float] | None = None,
        propagate_deadline: bool = True,
        metrics: ClientMetrics | None = None,
    ) -> None:
        self._errors = errors
        self._request_id = request_id
        self._requests = requests
        self._breaker = breaker
        self._timeouts: Mapping[str, float] = timeouts or {}
        self._propagate_deadline = propagate_deadline
        self._metrics = metrics

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        timeout = call_timeout(
            details.timeout,
            method_name(details.method),
            self._timeouts,
            self._propagate_deadline,
        )
        if not self._request_id and timeout == details.timeout:
            return details
        return CallDetails(
            method=details.method,
            timeout=timeout,
            metadata=(
                with_request_id(details.metadata)
                if self._request_id
                else details.metadata
            ),
            credentials=details.credentials,
            wait_for_ready=getattr(details, "wait_for_ready", None),
            compression=getattr(details, "compression", None),
        )

    def _begin(
        self, details: grpc.ClientCallDetails, kind: RpcKind, request: Any = None
    ) -> Report | None:
        requests = self._requests
        return begin(
            details.method,
            kind,
            metrics=self._metrics,
            breaker=self._breaker,
            validate=(
                (lambda: requests.validate(details.method, request))
                if requests is not None and kind in ("unary_unary", "unary_stream")
                else None
            ),
        )

    def _invoke(
        self,
        continuation: Any,
        details: grpc.ClientCallDetails,
        request: Any,
        report: Report | None,
    ) -> Any:
        try:
            return continuation(self._details(details), request)
        except BaseException:
            # The call never started: release the breaker's ticket (a half-open circuit's trial) and count it.
            if report is not None:
                report.done(None)
            raise

    def _check(self, details: grpc.ClientCallDetails) -> RequestCheck:
        requests = self._requests
        return RequestCheck(
            (lambda request: requests.validate(details.method, request))
            if requests is not None
            else None
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        report = self._begin(client_call_details, "unary_unary", request)
        call = self._invoke(continuation, client_call_details, request, report)
        return TypedCall(call, self._errors, report, None)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        try:
            report = self._begin(client_call_details, "unary_stream", request)
        except RpcException as error:
            return FailedCall(error)
        call = self._invoke(continuation, client_call_details, request, report)
        return TypedStream(call, self._errors, report, None)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        report = self._begin(client_call_details, "stream_unary")
        check = self._check(client_call_details)
        requests = check.wrap(request_iterator)
        call = self._invoke(continuation, client_call_details, requests, report)
        return TypedCall(call, self._errors, report, check)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        try:
            report = self._begin(client_call_details, "stream_stream")
        except RpcException as error:
            return FailedCall(error)
        check = self._check(client_call_details)
        requests = check.wrap(request_iterator)
        call = self._invoke(continuation, client_call_details, requests, report)
        return TypedStream(call, self._errors, report, check)


def client_interceptors(
    *modules: ModuleType | GeneratedFile,
    request_id: bool = True,
    validate: bool = False,
    breaker: CircuitBreaker | None = None,
    metrics: CollectorRegistry | None = None,
    propagate_deadline: bool = True,
) -> list[grpc.UnaryUnaryClientInterceptor]:
    """Interceptors for ``grpc.intercept_channel(channel, *client_interceptors(module))``.

    ``modules`` are generated ``_errgen`` modules: their catalogue classes are what failed calls raise, and
    their methods' ``timeout`` the deadline of calls that set none. ``request_id`` sends ``x-request-id``
    unless the caller set one; ``validate`` checks requests before sending; ``breaker`` (a
    ``CircuitBreaker``) fails fast per method while its circuit is open; ``metrics`` (a
    ``prometheus_client.CollectorRegistry``) records go-grpc-prometheus' client metrics;
    ``propagate_deadline`` caps a call made inside a handler at the time the served call has left.
    """
    methods = method_table(modules)
    return [
        ClientInterceptor(
            error_table(modules),
            request_id=request_id,
            requests=RequestValidation(methods) if validate else None,
            breaker=breaker,
            timeouts=method_timeouts(methods),
            propagate_deadline=propagate_deadline,
            metrics=ClientMetrics.on(metrics) if metrics is not None else None,
        )
    ]


__all__ = [
    "REQUEST_ID_KEY",
    "CircuitBreaker",
    "ClientInterceptor",
    "channel_options",
    "client_interceptors",
]
