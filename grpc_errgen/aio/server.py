"""The server chain for ``grpc.aio.server``: ``grpc_errgen.aio.server_interceptors(*modules, ...)``, or
``grpc_errgen.aio.with_chain(server, *modules, ...)`` to put it around each servicer's handlers when the servicer
is added.

The twin of ``grpc_errgen/server.py``, with the same stages in the same order (logging/metrics, error
mapping, auth, validation, the handler) and the same decisions, which live in ``chain.py``. Only driving
grpc.aio differs:

- ``authenticate`` is a coroutine function (a plain function is accepted too), awaited inside the wrapped
  handler;
- handlers are coroutine functions (unary responses, or streaming through ``context.write``) or async
  generator functions (streaming responses); requests streamed to the handler are validated one by one,
  whether it reads them from the request iterator or with ``context.read()``;
- ``CURRENT_CALL`` (principal, request id, servicer context) is set in the call's own task and reset when
  the call ends;
- a failed call ends with ``context.abort(code, message, trailers)``; the handler's own ``context.abort``
  (``grpc.aio.AbortError``) passes through untouched, with the trailers it gave;
- ``x-request-id`` is echoed in the trailing metadata of every non-OK status (on OK only with
  ``echo_request_id=True``), never in initial metadata;
- handler mistakes end with what the client sees and are logged as such: a unary handler returning None
  (INTERNAL, unless it set a non-OK code first), a response that is not the rpc's class (INTERNAL, before
  grpc.aio's serializer sees it), a call the client cancelled (CANCELLED or
  DEADLINE_EXCEEDED even when the handler returns normally afterwards).

A method the generated tables do not know is refused (PERMISSION_DENIED) unless ``allow_unlisted`` names
it; then it passes through untouched except for logging/metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import grpc
import grpc.aio

from grpc_errgen import auth
from grpc_errgen.chain import (
    DEFAULT_ALLOW_UNLISTED,
    Chain,
    ChainedGenericHandler,
    HandlerCache,
    MethodRunner,
    ServerCall,
    chained_method_handlers,
    gone,
    reset_current,
    rpc_method_handler,
)
from grpc_errgen.errors import RpcException
from grpc_errgen.policy import GeneratedFile, MethodPolicy

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Metadata = tuple[tuple[str, str | bytes], ...]


def server_interceptors(
    *modules: ModuleType | GeneratedFile,
    authenticate: auth.AsyncAuthenticator | auth.Authenticator | None = None,
    authenticate_request: (
        auth.AsyncRequestAuthenticator | auth.RequestAuthenticator | None
    ) = None,
    log: bool = True,
    metrics: CollectorRegistry | None = None,
    map_errors: bool = True,
    validate: bool = True,
    allow_unlisted: Iterable[str] = DEFAULT_ALLOW_UNLISTED,
    echo_request_id: bool = False,
) -> list[grpc.aio.ServerInterceptor]:
    """The chain for ``grpc.aio.server(interceptors=...)``, for the methods of the generated ``modules``.

    ``authenticate`` is ``async def (token, full_method) -> Principal | None`` and ``authenticate_request``
    ``async def (AuthRequest) -> Principal | None`` (plain functions are accepted too); the other switches
    are those of ``grpc_errgen.server_interceptors``.
    """
    chain = Chain(
        modules,
        authenticate=authenticate,
        authenticate_request=authenticate_request,
        log=log,
        metrics=metrics,
        map_errors=map_errors,
        validate=validate,
        allow_unlisted=allow_unlisted,
        echo_request_id=echo_request_id,
    )
    return [ChainInterceptor(chain)]


def with_chain(
    server: grpc.aio.Server,
    *modules: ModuleType | GeneratedFile,
    authenticate: auth.AsyncAuthenticator | auth.Authenticator | None = None,
    authenticate_request: (
        auth.AsyncRequestAuthenticator | auth.RequestAuthenticator | None
    ) = None,
    log: bool = True,
    metrics: CollectorRegistry | None = None,
    map_errors: bool = True,
    validate: bool = True,
    allow_unlisted: Iterable[str] = DEFAULT_ALLOW_UNLISTED,
    echo_request_id: bool = False,
) -> grpc.aio.Server:
    """``server`` with the chain of ``server_interceptors`` (same arguments) around every servicer added
    through the server returned: ``add_FooServicer_to_server(servicer, with_chain(server, foo_errgen, ...))``.

    The chain is the same; it is put around each method's handler once, when the servicer is added, rather
    than looked up by an interceptor coroutine on every call. Only what is added through the returned server
    is chained (add every servicer through it); use it or ``server_interceptors``, not both (a server
    ``with_chain`` returned is refused).
    """
    if isinstance(server, ChainedServer):
        raise ValueError(
            "with_chain(): this server already has the chain; pass every module to one with_chain() call"
        )
    chain = Chain(
        modules,
        authenticate=authenticate,
        authenticate_request=authenticate_request,
        log=log,
        metrics=metrics,
        map_errors=map_errors,
        validate=validate,
        allow_unlisted=allow_unlisted,
        echo_request_id=echo_request_id,
    )
    return ChainedServer(server, chain)


class ChainedServer(grpc.aio.Server):
    """What ``with_chain`` returns: ``server``, with the chain around the handlers added through it."""

    def __init__(self, server: grpc.aio.Server, chain: Chain) -> None:
        self._server = server
        self._handlers = HandlerCache(chain, wrap_handler)

    def add_generic_rpc_handlers(
        self, generic_rpc_handlers: Iterable[grpc.GenericRpcHandler]
    ) -> None:
        self._server.add_generic_rpc_handlers(
            [ChainedGenericHandler(h, self._handlers) for h in generic_rpc_handlers]
        )

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, Handler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service_name,
            chained_method_handlers(self._handlers, service_name, method_handlers),
        )

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(
        self, address: str, server_credentials: grpc.ServerCredentials
    ) -> int:
        return self._server.add_secure_port(address, server_credentials)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self._server.wait_for_termination(timeout)


class ChainInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each method handler in the chain; unknown methods only in logging/metrics (if on)."""

    def __init__(self, chain: Chain) -> None:
        self._handlers = HandlerCache(chain, wrap_handler)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)


def wrap_handler(
    chain: Chain,
    full_method: str,
    policy: MethodPolicy | None,
    handler: Handler,
    observed_as: str,
) -> Handler:
    """``handler`` with every stage of ``chain`` around its behaviour."""
    run = _Runner(chain, full_method, policy, handler, observed_as)
    # grpc.aio tells a generator handler from a context.write one by the function's kind: keep it.
    streaming = (
        run.stream_response
        if inspect.isasyncgenfunction(run.behavior)
        else run.unary_response
    )
    return rpc_method_handler(run.kind, run.unary_response, streaming, handler)


class _Runner(MethodRunner):
    """The wrapped behaviour of one method: ``unary_response`` (a coroutine) or ``stream_response``."""

    __slots__ = ()

    async def _admit(
        self,
        call: ServerCall,
        metadata: Metadata,
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> tuple[Any, Any]:
        """Refusal of an unlisted method, auth (``call.principal``), then validation of a unary request;
        returns the request (or the wrapped request stream) and the context the handler gets.
        """
        if self.unlisted:
            call.refuse_unlisted()
        if self.authorizes:
            chain = self.chain
            try:
                if chain.authenticate_request is not None:
                    principal = await auth.authorize_request_async(
                        self.policy,
                        auth.AuthRequest.of(
                            self.full_method,
                            metadata,
                            context.peer(),
                            context.auth_context(),
                        ),
                        chain.authenticate_request,  # type: ignore[arg-type]
                    )
                else:
                    principal = await auth.authorize_async(
                        self.policy,
                        metadata,
                        chain.authenticate,  # type: ignore[arg-type]
                    )
            except RpcException as exc:
                raise call.reject(exc) from None
            call.principal = principal
        if self.streams_requests:
            return _Requests(request, call), _CallContext(context, call)
        call.received(request)
        return request, _CallContext(context, call)

    async def unary_response(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        """unary responses, and streaming ones written with ``context.write``."""
        metadata = _metadata(context.invocation_metadata())
        call, current = self.start(metadata, context)
        try:
            request, handler_context = await self._admit(
                call, metadata, request, context
            )
            response = await self.behavior(request, handler_context)
            if call.rejection is not None:
                raise call.rejection
            if self.kind in ("unary_unary", "stream_unary"):
                if response is None:
                    return await self._no_response(call, context)
                call.sent(response)
            if self.streams_requests:
                await _settle()
        except BaseException as exc:
            await self._fail(call, context, exc)
        finally:
            reset_current(current)
        self._succeed(call, context)
        return response

    async def stream_response(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        """Streaming responses from an async generator handler."""
        metadata = _metadata(context.invocation_metadata())
        call, current = self.start(metadata, context)
        responses: Any = None
        try:
            request, handler_context = await self._admit(
                call, metadata, request, context
            )
            responses = self.behavior(request, handler_context)
            async for response in responses:
                call.sent(response)
                yield response
            if call.rejection is not None:
                raise call.rejection
            if self.streams_requests:
                await _settle()
        except GeneratorExit:
            call.finish(gone(context))
            raise
        except BaseException as exc:
            await self._fail(call, context, exc)
        finally:
            if responses is not None:
                with contextlib.suppress(Exception):
                    await responses.aclose()
            reset_current(current)
        self._succeed(call, context)

    def _succeed(
        self, call: ServerCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        code = context.code() or grpc.StatusCode.OK
        if code is grpc.StatusCode.OK and (context.cancelled() or _cancel_pending()):
            # The client cancelled (or its deadline passed) and the handler returned anyway: grpc.aio ends
            # a cancelled client stream's reads as if it had closed, then cancels the call's task.
            code = gone(context)
        if code is not grpc.StatusCode.OK or call.chain.echo_request_id:
            context.set_trailing_metadata(
                call.trailers(
                    _metadata(context.trailing_metadata()),
                    ok=code is grpc.StatusCode.OK,
                )
            )
        call.finish(code)

    async def _no_response(
        self, call: ServerCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        """A unary handler returned None: the code it set, if any (not OK), else INTERNAL, sent by the
        chain so that the client, the log and the metrics agree."""
        code = context.code()
        if code is not None and code is not grpc.StatusCode.OK:
            context.set_trailing_metadata(
                call.trailers(_metadata(context.trailing_metadata()))
            )
            call.finish(code)
            return None
        status = call.internal_error("the handler returned None instead of a response")
        call.finish(status.code)
        await context.abort(
            status.code,
            status.message,
            call.trailers(_metadata(context.trailing_metadata()), status),
        )
        raise AssertionError("context.abort returned")  # pragma: no cover

    async def _fail(
        self,
        call: ServerCall,
        context: grpc.aio.ServicerContext[Any, Any],
        exc: BaseException,
    ) -> NoReturn:
        """End the call for ``exc``: abort with its status, or let grpc.aio have it."""
        if isinstance(exc, asyncio.CancelledError):
            call.finish(gone(context), None)
            raise exc
        if isinstance(exc, grpc.aio.AbortError) and call.rejection is None:
            call.finish(context.code() or grpc.StatusCode.UNKNOWN, None)
            raise exc
        if (context.cancelled() or _cancel_pending()) and call.rejection is None:
            # The client went away: what the handler raised then reaches no one. Ending as cancelled keeps
            # grpc.aio from logging the exception's raw text.
            call.finish(gone(context), None)
            raise asyncio.CancelledError() from None
        handler_trailers = _metadata(context.trailing_metadata())
        status = call.error_status(exc)
        if status is None:
            context.set_trailing_metadata(call.trailers(handler_trailers))
            call.finish(grpc.StatusCode.UNKNOWN, exc)
            raise exc
        call.finish(status.code, exc)
        await context.abort(
            status.code, status.message, call.trailers(handler_trailers, status)
        )
        raise AssertionError("context.abort returned")  # pragma: no cover


async def _settle() -> None:
    """Let one event-loop iteration pass. grpc.aio ends the reads of a client stream the client cancelled
    as if the client had closed it, and cancels the call's task on the next iteration: yielding once here
    lets that ``CancelledError`` arrive before the chain records the call as OK."""
    await asyncio.sleep(0)


def _cancel_pending() -> bool:
    """Whether grpc.aio has asked to cancel the task running this call (the client went away)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> Metadata:
    if type(metadata) is tuple:  # what grpc.aio returns: no copy
        return metadata
    return tuple(metadata or ())


class _Requests(AsyncIterator[Any]):
    """The request stream as the handler reads it: each message counted and validated on the way."""

    __slots__ = ("_call", "_requests")

    def __init__(self, requests: AsyncIterator[Any], call: ServerCall) -> None:
        self._requests = requests
        self._call = call

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        request = await self._requests.__anext__()
        self._call.received(request)
        return request


class _CallContext:
    """The servicer context a handler gets: ``read`` validates, ``write`` counts, ``abort`` adds the request
    id to the trailers (grpc.aio sends the status inside ``abort``); the rest is the real context's.
    """

    __slots__ = ("_call", "_context")

    def __init__(
        self, context: grpc.aio.ServicerContext[Any, Any], call: ServerCall
    ) -> None:
        self._context = context
        self._call = call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    async def read(self) -> Any:
        request = await self._context.read()
        if request is not grpc.aio.EOF:
            self._call.received(request)
        return request

    async def write(self, message: Any) -> None:
        self._call.sent(
            message
        )  # checked before grpc.aio has it, counted as the yielded ones are
        await self._context.write(message)

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Iterable[tuple[str, str | bytes]] = (),
    ) -> NoReturn:
        handler_trailers = _metadata(trailing_metadata) or _metadata(
            self._context.trailing_metadata()
        )
        if code is grpc.StatusCode.OK:
            # grpc.aio cannot send an abort with OK: the call would hang until the client's deadline.
            status = self._call.internal_error(
                "the handler called context.abort with OK"
            )
            await self._context.abort(
                status.code,
                status.message,
                self._call.trailers(handler_trailers, status),
            )
        await self._context.abort(code, details, self._call.trailers(handler_trailers))
        raise AssertionError("context.abort returned")  # pragma: no cover
