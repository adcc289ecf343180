"""The server chain for ``grpc.server``: ``server_interceptors(*modules, ...)``, or ``with_chain(server, *modules,
...)`` to put it around each servicer's handlers when the servicer is added.

One ``grpc.ServerInterceptor`` wraps each method handler once (cached per method) in one function per
arity that runs every stage of a call, in SPEC order: logging/metrics, error mapping, auth, validation,
the handler. What the stages decide lives in ``chain.py``; this file only drives grpcio's sync API:

- ``intercept_service`` runs on grpcio's single serving thread, so it does nothing per call but a dict
  lookup; auth (which may do I/O) and everything else run inside the wrapped handler, in the thread pool;
- grpcio runs each call in its own ``contextvars.Context``, also across the yields of a generator handler:
  ``CURRENT_CALL`` (principal, request id, servicer context) is set there, so a handler never sees another
  call's values; it is reset when the call ends, which frees the call at once (``chain.reset_current``);
- a failed call ends with ``context.set_trailing_metadata`` then ``context.abort``; the handler's own
  ``context.abort`` (grpcio raises a bare ``Exception`` for it) passes through untouched;
- ``x-request-id`` (the client's when it is 1-128 visible ASCII characters, else a new uuid4) is echoed
  in the trailing metadata of every non-OK status (on OK only with ``echo_request_id=True``), merged with
  the handler's own trailers: the chain never sends initial metadata (that would turn off gRPC's native
  retries);
- handler mistakes end with what the client sees and are logged as such: a unary handler returning None
  (INTERNAL, unless it set a non-OK code first), a response that is not the rpc's class (INTERNAL, before
  grpcio's serializer sees it), an exception after ``set_code`` (INTERNAL, never the code
  it set nor OK: only ``context.abort`` sends the handler's code), any exception once the client is gone
  (CANCELLED or DEADLINE_EXCEEDED, no traceback).

A method the generated tables do not know is refused (PERMISSION_DENIED) unless ``allow_unlisted`` names
it; then it passes through untouched except for logging/metrics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import grpc

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
Metadata: TypeAlias = "tuple[tuple[str, str | bytes], ...] | None"


def server_interceptors(
    *modules: ModuleType | GeneratedFile,
    authenticate: auth.Authenticator | None = None,
    authenticate_request: auth.RequestAuthenticator | None = None,
    log: bool = True,
    metrics: CollectorRegistry | None = None,
    map_errors: bool = True,
    validate: bool = True,
    allow_unlisted: Iterable[str] = DEFAULT_ALLOW_UNLISTED,
    echo_request_id: bool = False,
) -> list[grpc.ServerInterceptor]:
    """The chain for ``grpc.server(..., interceptors=...)``, for the methods of the generated ``modules``.

    ``authenticate(token, full_method) -> Principal | None`` turns the auth stage on (it is required when a
    method needs auth); ``authenticate_request(AuthRequest) -> Principal | None`` is the alternative for
    credentials that are not a bearer token (mutual TLS: ``grpc_errgen.auth.mtls_principal``). ``log`` and
    ``metrics`` (a ``prometheus_client.CollectorRegistry``) the per-call record and metrics; ``map_errors``
    the exception -> status mapping; ``validate`` request validation. ``allow_unlisted`` names the services
    (``pkg.Service``) and methods (``/pkg.Service/Method``) no module covers that may pass untouched (by
    default the health and reflection services; every other such method is refused). ``echo_request_id``
    echoes ``x-request-id`` on OK too (it always is on errors).
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
    server: grpc.Server,
    *modules: ModuleType | GeneratedFile,
    authenticate: auth.Authenticator | None = None,
    authenticate_request: auth.RequestAuthenticator | None = None,
    log: bool = True,
    metrics: CollectorRegistry | None = None,
    map_errors: bool = True,
    validate: bool = True,
    allow_unlisted: Iterable[str] = DEFAULT_ALLOW_UNLISTED,
    echo_request_id: bool = False,
) -> grpc.Server:
    """``server`` with the chain of ``server_interceptors`` (same arguments) around every servicer added
    through the server returned: ``add_FooServicer_to_server(servicer, with_chain(server, foo_errgen, ...))``.

    The chain is the same; it is put around each method's handler once, when the servicer is added, rather
    than looked up by an interceptor on every call, which saves grpcio's interceptor pipeline on its serving
    thread. Only what is added through the returned server is chained (add every servicer through it); use
    it or ``server_interceptors``, not both (a server ``with_chain`` returned is refused).
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


class ChainedServer(grpc.Server):
    """What ``with_chain`` returns: ``server``, with the chain around the handlers added through it."""

    def __init__(self, server: grpc.Server, chain: Chain) -> None:
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

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float | None) -> threading.Event:
        return self._server.stop(grace)

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)


class ChainInterceptor(grpc.ServerInterceptor):
    """Wraps each method handler in the chain; unknown methods only in logging/metrics (if on)."""

    def __init__(self, chain: Chain) -> None:
        self._handlers = HandlerCache(chain, wrap_handler)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
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
    return rpc_method_handler(
        run.kind, run.unary_response, run.stream_response, handler
    )


def is_handler_abort(exc: BaseException, context: grpc.ServicerContext) -> bool:
    """Whether ``exc`` is what grpcio raises for the handler's own ``context.abort``: a bare Exception, with
    the call's state marked aborted (``set_code(...)`` then ``raise Exception()`` is not an abort).
    """
    if type(exc) is not Exception or exc.args:
        return False
    state = getattr(context, "_state", None)
    aborted = getattr(state, "aborted", None)
    if (
        aborted is None
    ):  # pragma: no cover - another grpcio: fall back on the code being set
        return context.code() is not None  # type: ignore[attr-defined]
    return bool(aborted)


class _Runner(MethodRunner):
    """The wrapped behaviour of one method: ``unary_response`` or ``stream_response`` per call."""

    __slots__ = ()

    def _admit(
        self,
        call: ServerCall,
        metadata: Metadata,
        request: Any,
        context: grpc.ServicerContext,
    ) -> Any:
        """Refusal of an unlisted method, auth, then validation of a unary request; returns the request (or
        the wrapped request stream)."""
        if self.unlisted:
            call.refuse_unlisted()
        if self.authorizes:
            chain = self.chain
            try:
                if chain.authenticate_request is not None:
                    principal = auth.authorize_request(
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
                    principal = auth.authorize(
                        self.policy,
                        metadata,
                        chain.authenticate,  # type: ignore[arg-type]
                    )
            except RpcException as exc:
                raise call.reject(exc) from None
            call.principal = principal
        if self.streams_requests:
            return _Requests(request, call)
        call.received(request)
        return request

    def unary_response(self, request: Any, context: grpc.ServicerContext) -> Any:
        """unary_unary and stream_unary."""
        metadata = context.invocation_metadata()
        call, current = self.start(metadata, context)
        try:
            request = self._admit(call, metadata, request, context)
            response = self.behavior(request, context)
            if call.rejection is not None:
                raise call.rejection
            if response is None:
                return self._no_response(call, context)
            call.sent(response)
        except BaseException as exc:
            self._fail(call, context, exc)
        finally:
            reset_current(current)
        self._succeed(call, context)
        return response

    def stream_response(
        self, request: Any, context: grpc.ServicerContext
    ) -> Generator[Any, None, None]:
        """unary_stream and stream_stream."""
        metadata = context.invocation_metadata()
        call, current = self.start(metadata, context)
        responses: Iterator[Any] | None = None
        try:
            request = self._admit(call, metadata, request, context)
            responses = self.behavior(request, context)
            for response in responses:
                call.sent(response)
                yield response
            if call.rejection is not None:
                raise call.rejection
        except GeneratorExit:
            # The client went away (cancelled, deadline) while the handler was streaming.
            call.finish(gone(context))
            raise
        except BaseException as exc:
            self._fail(call, context, exc)
        finally:
            close = getattr(responses, "close", None)
            if close is not None:
                close()
            reset_current(current)
        self._succeed(call, context)

    def _succeed(self, call: ServerCall, context: grpc.ServicerContext) -> None:
        code = context.code() or grpc.StatusCode.OK  # type: ignore[attr-defined]
        if code is grpc.StatusCode.OK and not context.is_active():
            code = gone(context)
        if code is not grpc.StatusCode.OK or call.chain.echo_request_id:
            context.set_trailing_metadata(
                call.trailers(
                    context.trailing_metadata(), ok=code is grpc.StatusCode.OK
                )
            )
        # grpcio ends the reads of a client stream the client cancelled as if it had closed it, and may learn
        # of the cancellation only after the handler returned: decide when the call has ended.
        if (
            code is grpc.StatusCode.OK
            and self.streams_requests
            and context.add_callback(lambda: call.finish(_outcome(context)))
        ):
            return
        call.finish(code)

    def _no_response(self, call: ServerCall, context: grpc.ServicerContext) -> None:
        """A unary handler returned None: grpcio sends the code the handler set, if any (not OK), else
        INTERNAL; the chain sends INTERNAL itself so that the client, the log and the metrics agree.
        """
        code = context.code()  # type: ignore[attr-defined]
        if code is not None and code is not grpc.StatusCode.OK:
            context.set_trailing_metadata(call.trailers(context.trailing_metadata()))
            call.finish(code)
            return None
        status = call.internal_error("the handler returned None instead of a response")
        context.set_trailing_metadata(
            call.trailers(context.trailing_metadata(), status)
        )
        call.finish(status.code)
        context.abort(status.code, status.message)
        raise AssertionError("context.abort returned")  # pragma: no cover

    def _fail(
        self, call: ServerCall, context: grpc.ServicerContext, exc: BaseException
    ) -> NoReturn:
        """End the call for ``exc``: abort with its status, or let grpcio have it."""
        handler_trailers = context.trailing_metadata()
        if is_handler_abort(exc, context) and call.rejection is None:
            context.set_trailing_metadata(call.trailers(handler_trailers))
            call.finish(context.code(), None)  # type: ignore[attr-defined]
            raise exc
        if not context.is_active() and call.rejection is None:
            # The client went away (cancelled, deadline): what the handler raised then (often grpcio's own
            # RpcError from the request iterator) reaches no one; the call ended with the client's code. An
            # abort sends nothing on a cancelled call and keeps grpcio from logging the exception's raw text.
            code = gone(context)
            call.finish(code)
            context.abort(code, "")
            raise AssertionError("context.abort returned")  # pragma: no cover
        status = call.error_status(exc)
        if status is None:
            context.set_trailing_metadata(call.trailers(handler_trailers))
            if context.code() in (None, grpc.StatusCode.OK):  # type: ignore[attr-defined]
                # grpcio would send the OK a handler set before raising: the client must see a failure.
                context.set_code(grpc.StatusCode.UNKNOWN)
            call.finish(context.code(), exc)  # type: ignore[attr-defined]
            raise exc
        context.set_trailing_metadata(call.trailers(handler_trailers, status))
        call.finish(status.code, exc)
        context.abort(status.code, status.message)
        raise AssertionError("context.abort returned")  # pragma: no cover


def _outcome(context: grpc.ServicerContext) -> grpc.StatusCode:
    """How a call that the handler ended normally really ended: OK, or the client cancelled it first."""
    state = getattr(context, "_state", None)
    if getattr(state, "client", None) == "cancelled":
        return gone(context)
    return grpc.StatusCode.OK


class _Requests(Iterator[Any]):
    """The request stream as the handler reads it: each message counted and validated on the way."""

    __slots__ = ("_call", "_requests")

    def __init__(self, requests: Iterator[Any], call: ServerCall) -> None:
        self._requests = requests
        self._call = call

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        request = next(self._requests)
        self._call.received(request)
        return request


__all__: Sequence[str] = ["server_interceptors"]
