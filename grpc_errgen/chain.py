"""What the sync and aio server chains share: the per-chain settings and the per-call logic.

``server.py`` (``grpc.server``) and ``aio/server.py`` (``grpc.aio.server``) differ only in how they call the
handler, read requests, run ``authenticate`` and end a call; everything they decide is decided here, once:

- ``Chain``: built once per ``server_interceptors(...)``: the method table of the generated modules, the
  stages that are on, the ``Observer``, and the exception -> status mapping (cached per method and type);
- ``MethodRunner``: what the runners of one method share, decided when its handler is wrapped;
- ``ServerCall``: one call in progress: its request id, its observation, validation of each request, the
  status an exception ends it with, and the trailers it ends with.

The stages run in SPEC order: logging/metrics outermost, then error mapping, then auth, then validation,
then the handler. A method the tables do not know (a servicer registered without a generated module) fails
closed: PERMISSION_DENIED "no policy for this method", and one ERROR record per method naming the module to
pass. Services and methods named in ``allow_unlisted`` (by default the health and reflection services) pass
through untouched except for logging/metrics.

A request the protobuf parser refuses never reaches grpcio's own "Exception deserializing request!" path:
the chain wraps the method's deserializer, so the call comes through the chain like any other and ends with
INVALID_ARGUMENT "request message could not be parsed", one log record and its metrics.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import Token
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, NoReturn

import grpc

from grpc_errgen import auth
from grpc_errgen.context import (
    CURRENT_CALL,
    REQUEST_ID_KEY,
    CallScope,
    new_request_id,
)
from grpc_errgen.errors import (
    CatalogueError,
    Internal,
    InvalidArgument,
    PermissionDenied,
    RpcException,
    ValidationError,
    ValidationRuntimeError,
    default_message,
    for_code,
)
from grpc_errgen.observe import (
    CallObservation,
    MethodObservations,
    Observer,
    printable,
    safe_traceback,
)
from grpc_errgen.policy import (
    ExceptionMapping,
    GeneratedFile,
    MethodPolicy,
    RpcKind,
    method_table,
)
from grpc_errgen.status import Status, to_status
from grpc_errgen.validation import invalid_message

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

Handler = grpc.RpcMethodHandler  # a method's handler as grpcio hands it to interceptors

LOGGER: Final = logging.getLogger("grpc_errgen")

#: The longest ``x-request-id`` taken from a client; longer ones are replaced by a new uuid4.
MAX_REQUEST_ID_LENGTH: Final = 128
#: A client's ``x-request-id`` is taken only when it is 1 to 128 visible ASCII characters.
_GOOD_REQUEST_ID: Final = re.compile(r"[\x21-\x7e]{1,128}")

INTERNAL_MESSAGE: Final = "internal error"
#: What the client is told when a rule could not be evaluated (the cause goes to the log only).
VALIDATION_FAILED_MESSAGE: Final = "validation failed"
NO_POLICY_MESSAGE: Final = "no policy for this method"
UNPARSABLE_MESSAGE: Final = "request message could not be parsed"

#: Held while a call makes its request id, so that two threads of one call asking at once get the same one.
_NEW_REQUEST_ID: Final = threading.Lock()

#: What ``allow_unlisted`` holds unless told otherwise: services that need no generated module.
DEFAULT_ALLOW_UNLISTED: Final = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
)
#: Methods whose refusal is logged at ERROR (once each): beyond this many, a generic server cannot grow the set.
MAX_REPORTED_UNLISTED: Final = 1000
#: Past ``MAX_REPORTED_UNLISTED`` distinct methods no module covers (a generic handler serving any name), further
#: ones are wrapped per call (``HandlerCache``) and share this name in the metrics and the log record (the real
#: one is in the record's note): the tables and the metrics' label sets stay bounded whatever names clients send.
OTHER_UNLISTED: Final = "/(unlisted)/(other)"

Trailers = tuple[tuple[str, str | bytes], ...]
MetadataPairs = Sequence[tuple[str, str | bytes]]


def request_id_from(metadata: MetadataPairs | None) -> tuple[str | None, str | None]:
    """The client's ``x-request-id`` (None: none taken, the call makes its own), and why the client's was
    refused (None: taken, or none sent).

    The client's is taken only when it is 1 to 128 visible ASCII characters (0x21-0x7E): anything else
    could break the trailers that echo it or the log lines that show it, so it is replaced by a new uuid4.
    """
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY:
            if isinstance(value, str) and _GOOD_REQUEST_ID.fullmatch(value):
                return value, None
            return None, _refusal(value)
    return None, None


def _refusal(value: str | bytes) -> str:
    if not value:
        why = "empty"
    elif len(value) > MAX_REQUEST_ID_LENGTH:
        why = f"longer than {MAX_REQUEST_ID_LENGTH} characters"
    else:
        why = "not visible ASCII (0x21-0x7E)"
    shown = value[:40] if isinstance(value, str) else repr(value[:40])
    return f"replaced the client's x-request-id ({why}): {shown!r}"


def merge_trailers(*groups: Iterable[tuple[str, str | bytes]] | None) -> Trailers:
    """One trailer list from several; a key in a later group replaces the same key from earlier ones."""
    merged: dict[str, list[tuple[str, str | bytes]]] = {}
    for group in groups:
        replaced: set[str] = set()
        for key, value in group or ():
            if key not in replaced:
                merged[key] = []
                replaced.add(key)
            merged[key].append((key, value))
    return tuple(pair for pairs in merged.values() for pair in pairs)


def kind_of(handler: grpc.RpcMethodHandler[Any, Any]) -> RpcKind:
    """The arity of a method handler, as a ``MethodPolicy.kind``."""
    if handler.request_streaming:
        return "stream_stream" if handler.response_streaming else "stream_unary"
    return "unary_stream" if handler.response_streaming else "unary_unary"


def qualified_name(cls: type) -> str:
    """``builtins.KeyError``, ``shop.db.Conflict``: how ``map_exceptions`` names a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def nearest_mapping(
    mappings: Sequence[ExceptionMapping], exc_type: type[BaseException]
) -> ExceptionMapping | None:
    """The mapping for ``exc_type``: the nearest level (method, service, file), and within a level the most
    specific class of the type's MRO. Matching is by name only; no user module is imported.
    """
    if not mappings:
        return None
    names = {qualified_name(cls): depth for depth, cls in enumerate(exc_type.__mro__)}
    best: ExceptionMapping | None = None
    best_rank = (0, 0)
    for mapping in mappings:
        depth = names.get(mapping.exception)
        if depth is None:
            continue
        rank = (mapping.level, depth)
        if best is None or rank < best_rank:
            best, best_rank = mapping, rank
    return best


class Chain:
    """One server chain's settings, built once by ``server_interceptors``; shared by all its calls."""

    def __init__(
        self,
        modules: Sequence[ModuleType | GeneratedFile],
        *,
        authenticate: object | None,
        authenticate_request: object | None = None,
        log: bool,
        metrics: CollectorRegistry | None,
        map_errors: bool,
        validate: bool,
        allow_unlisted: Iterable[str] = DEFAULT_ALLOW_UNLISTED,
        echo_request_id: bool = False,
    ) -> None:
        self.methods: Mapping[str, MethodPolicy] = method_table(modules)
        if authenticate is not None and authenticate_request is not None:
            raise ValueError(
                "pass authenticate= or authenticate_request= to server_interceptors(), not both"
            )
        auth.check_authenticator(
            self.methods,
            authenticate if authenticate is not None else authenticate_request,
            name=(
                "authenticate"
                if authenticate_request is None
                else "authenticate_request"
            ),
        )
        self.authenticate = authenticate
        self.authenticate_request = authenticate_request
        self.map_errors = map_errors
        self.validate = validate
        self.echo_request_id = echo_request_id
        self.allowed_services, self.allowed_methods = _allowed(allow_unlisted)
        self.observer = Observer(log, metrics)
        # The traceback of an unexpected exception is logged once: by the per-call record when there is one.
        self.log_tracebacks = not log
        self._mappings: dict[
            tuple[str, type[BaseException]], ExceptionMapping | None
        ] = {}
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def policy(self, full_method: str) -> MethodPolicy | None:
        return self.methods.get(full_method)

    def observations_of(
        self, full_method: str, kind: RpcKind
    ) -> MethodObservations | None:
        """What observing the calls of a method needs, looked up when its handler is wrapped; None when
        logging and metrics are off."""
        if not self.observer.enabled:
            return None
        return self.observer.method(full_method, kind)

    def allows_unlisted(self, full_method: str) -> bool:
        """Whether a method no module covers may pass (``allow_unlisted``)."""
        if full_method in self.allowed_methods:
            return True
        return full_method.lstrip("/").rpartition("/")[0] in self.allowed_services

    def report_unlisted(self, full_method: str) -> None:
        """One ERROR record per refused method (up to ``MAX_REPORTED_UNLISTED`` methods), naming the module."""
        with self._lock:
            if (
                full_method in self._reported
                or len(self._reported) >= MAX_REPORTED_UNLISTED
            ):
                return
            self._reported.add(full_method)
        service = full_method.lstrip("/").rpartition("/")[0]
        LOGGER.error(
            "%s is served but no module passed to server_interceptors() or with_chain() covers it: its "
            "calls are refused "
            "with PERMISSION_DENIED. Pass %s, or name %s in allow_unlisted=",
            printable(full_method),
            module_hint(service),
            printable(service),
        )

    def mapping_for(
        self, policy: MethodPolicy, exc_type: type[BaseException]
    ) -> ExceptionMapping | None:
        """``nearest_mapping`` for this method, cached per (method, exception type)."""
        key = (policy.full_method, exc_type)
        try:
            return self._mappings[key]
        except KeyError:
            found = self._mappings[key] = nearest_mapping(
                policy.exception_mappings, exc_type
            )
            return found

    def start(
        self,
        full_method: str,
        policy: MethodPolicy | None,
        observations: MethodObservations | None,
        metadata: MetadataPairs | None,
        context: Any,
    ) -> ServerCall:
        """Begin one call served with the servicer ``context``: its request id (the client's, else made
        when first needed) and, when logging or metrics are on (``observations``, from ``observations_of``),
        its observation (the peer is only asked when logging: grpcio builds a new string for it on every
        call)."""
        client_request_id, refused = request_id_from(metadata)
        call = ServerCall(self, full_method, policy, client_request_id, context)
        if observations is not None:
            observer = self.observer
            peer = context.peer() if observer.log else ""
            call.observation = observer.start(observations, peer, call)
            if observations.full_method == OTHER_UNLISTED:
                call.observation.add_note(f"method {full_method}")
            if refused is not None:
                call.observation.add_note(refused)
        return call


def module_hint(service: str) -> str:
    """The generated module that covers ``service``, by convention from its .proto file when the default
    descriptor pool knows it (``pkg/foo.proto`` -> ``pkg.foo_errgen``), else a description of it.
    """
    try:
        from google.protobuf import descriptor_pool

        proto = descriptor_pool.Default().FindServiceByName(service).file.name
    except (KeyError, TypeError):
        return f"the generated _errgen module of the .proto that declares {printable(service)}"
    return f"{printable(errgen_module_name(proto))} (generated from {printable(proto)})"


def errgen_module_name(proto: str) -> str:
    """``pkg/foo.proto`` -> ``pkg.foo_errgen``: where grpc-errgen puts a file's generated module."""
    stem = proto[: -len(".proto")] if proto.endswith(".proto") else proto
    return stem.replace("/", ".") + "_errgen"


def _allowed(names: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """``allow_unlisted`` as (services, full method names); refuses a bare str and malformed names."""
    if isinstance(names, str):
        raise TypeError(
            f"allow_unlisted must be a collection of names, not a bare str (write ({names!r},))"
        )
    services, methods = set(), set()
    for name in names:
        if not isinstance(name, str) or not name.strip("/"):
            raise ValueError(
                f"allow_unlisted: {name!r} is not a service or method name"
            )
        service, _, method = name.lstrip("/").partition("/")
        if not service or "/" in method:
            raise ValueError(
                f"allow_unlisted: {name!r} is not a service or method name"
            )
        if method:
            methods.add(f"/{service}/{method}")
        else:
            services.add(service)
    return frozenset(services), frozenset(methods)


class HandlerCache:
    """The wrapped handler of each method, so that ``intercept_service`` costs a dict lookup per call.

    Methods of the generated tables are cached; so are up to ``MAX_REPORTED_UNLISTED`` others (a generic
    handler may serve any name); those past the limit are wrapped per call and observed as
    ``OTHER_UNLISTED``. A method the tables do not know is wrapped too: refused when it is not in
    ``allow_unlisted``, else only for logging/metrics (returned untouched when those are off).
    """

    def __init__(
        self,
        chain: Chain,
        wrap: Callable[
            [Chain, str, MethodPolicy | None, Handler[Any, Any], str],
            Handler[Any, Any],
        ],
    ) -> None:
        self._chain = chain
        self._wrap = wrap
        self._wrapped: dict[str, tuple[Handler[Any, Any], Handler[Any, Any]]] = {}
        self._unlisted = 0

    def get(self, full_method: str, handler: Handler[Any, Any]) -> Handler[Any, Any]:
        cached = self._wrapped.get(full_method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        chain = self._chain
        policy = chain.policy(full_method)
        if policy is None:
            if chain.allows_unlisted(full_method):
                if not chain.observer.enabled:
                    return handler
            else:
                chain.report_unlisted(full_method)
            if self._unlisted >= MAX_REPORTED_UNLISTED:
                return self._wrap(chain, full_method, None, handler, OTHER_UNLISTED)
            self._unlisted += cached is None
        wrapped = self._wrap(chain, full_method, policy, handler, full_method)
        self._wrapped[full_method] = (handler, wrapped)
        return wrapped


class ChainedGenericHandler(grpc.GenericRpcHandler):
    """A generic handler added through ``with_chain``: the handlers it finds come back wrapped in the chain."""

    __slots__ = ("_generic", "_handlers")

    def __init__(self, generic: grpc.GenericRpcHandler, handlers: HandlerCache) -> None:
        self._generic = generic
        self._handlers = handlers

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler[Any, Any] | None:
        handler = self._generic.service(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)


def chained_method_handlers(
    handlers: HandlerCache,
    service_name: str,
    method_handlers: Mapping[str, Handler[Any, Any]],
) -> dict[str, Handler[Any, Any]]:
    """A service's registered method handlers, each wrapped in the chain once (``with_chain``)."""
    return {
        method: handlers.get(f"/{service_name}/{method}", handler)
        for method, handler in method_handlers.items()
    }


class MethodRunner:
    """What the sync and aio runners of one method share, decided once when its handler is wrapped (not per
    call): its policy, arity, observations, whether the auth stage runs and whether the method is refused.
    """

    __slots__ = (
        "authorizes",
        "behavior",
        "chain",
        "full_method",
        "kind",
        "observations",
        "policy",
        "streams_requests",
        "unlisted",
    )

    def __init__(
        self,
        chain: Chain,
        full_method: str,
        policy: MethodPolicy | None,
        handler: Handler[Any, Any],
        observed_as: str,
    ) -> None:
        if (
            policy is not None
            and policy.response_class is not None
            and handler.response_serializer is None
        ):
            # A handler without a serializer sends bytes it made itself (a proxy): no class to check.
            policy = dataclasses.replace(policy, response_class=None)
        self.chain = chain
        self.full_method = full_method
        self.policy = policy
        #: Whether the auth stage runs (a known method, with an authenticator).
        self.authorizes = policy is not None and (
            chain.authenticate is not None or chain.authenticate_request is not None
        )
        #: No module covers the method and ``allow_unlisted`` does not name it: its calls are refused.
        self.unlisted = policy is None and not chain.allows_unlisted(full_method)
        self.kind = kind_of(handler)
        #: ``observed_as`` is the method itself, or ``OTHER_UNLISTED`` past the handler cache's limit.
        self.observations = chain.observations_of(observed_as, self.kind)
        self.streams_requests: bool = handler.request_streaming
        behavior: Callable[..., Any] = getattr(handler, self.kind)
        self.behavior = behavior

    def start(
        self, metadata: MetadataPairs | None, context: Any
    ) -> tuple[ServerCall, Token[CallScope | None]]:
        """Begin a call served with the (sync or aio) servicer ``context``, set as ``CURRENT_CALL`` for the
        handler; ``reset_current`` takes the returned token when the call ends. grpcio runs each sync call,
        every step of a generator handler included, in a ``contextvars.Context`` of its own, and grpc.aio
        each call in a task of its own.
        """
        call = self.chain.start(
            self.full_method, self.policy, self.observations, metadata, context
        )
        return call, CURRENT_CALL.set(call)


def reset_current(token: Token[CallScope | None]) -> None:
    """Take the call out of ``CURRENT_CALL`` when it ends (``token``: what setting it returned).

    Left there, a sync call would stay in grpcio's per-call ``contextvars.Context``, which grpcio's state of
    the call holds: a cycle (context, our call, its servicer context, grpcio's state) that keeps the call and
    its grpc core resources alive until the cyclic garbage collector runs, instead of freeing them at once.
    """
    try:  # noqa: SIM105 - once per call: contextlib.suppress costs a context manager object
        CURRENT_CALL.reset(token)
    except ValueError:
        # A generator closed by the garbage collector, or an async generator by the event loop's finaliser,
        # runs in another context: nothing to reset there.
        pass


def gone(context: Any) -> grpc.StatusCode:
    """Why a call ended early on the client's side: its deadline passed, or it was cancelled (``context``:
    the call's sync or aio servicer context)."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED


def rpc_method_handler(
    kind: RpcKind,
    unary_response: Callable[..., Any],
    stream_response: Callable[..., Any],
    handler: Handler[Any, Any],
) -> Handler[Any, Any]:
    """A method handler of ``kind`` that runs ``unary_response`` (unary responses) or ``stream_response``
    (streamed ones), with ``handler``'s serializer and its deserializer made ``tolerant``.
    """
    codecs = {
        "request_deserializer": tolerant(handler.request_deserializer),
        "response_serializer": handler.response_serializer,
    }
    if kind == "unary_unary":
        return grpc.unary_unary_rpc_method_handler(unary_response, **codecs)
    if kind == "stream_unary":
        return grpc.stream_unary_rpc_method_handler(unary_response, **codecs)
    if kind == "unary_stream":
        return grpc.unary_stream_rpc_method_handler(stream_response, **codecs)
    return grpc.stream_stream_rpc_method_handler(stream_response, **codecs)


class Unparsable:
    """What a wrapped deserializer returns for bytes the method's deserializer refused (the chain
    ends the call with INVALID_ARGUMENT when the request reaches it)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def tolerant(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """``deserializer`` returning ``Unparsable`` instead of raising, so the call reaches the chain."""
    if deserializer is None:
        return None
    parse = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except (
            Exception
        ) as exc:  # DecodeError, RecursionError-like refusals, anything the parser raises
            return Unparsable(exc)

    return deserialize


class ServerCall(CallScope):
    """One call in progress, from the chain's point of view; also the ``CallScope`` its handler sees."""

    __slots__ = (
        "chain",
        "finished",
        "full_method",
        "observation",
        "policy",
        "rejection",
    )

    def __init__(
        self,
        chain: Chain,
        full_method: str,
        policy: MethodPolicy | None,
        request_id: str | None,
        servicer_context: Any,
    ) -> None:
        # CallScope's fields, set here rather than through super().__init__ (once per call)
        self.principal = None
        self._request_id = request_id
        self.servicer_context = servicer_context
        self.chain = chain
        self.full_method = full_method
        self.policy = policy
        self.observation: CallObservation | None = None
        #: The chain's own refusal (auth, validation): it ends the call even if the handler swallowed it.
        self.rejection: RpcException | None = None
        self.finished = False

    @property
    def request_id(self) -> str:
        """The client's ``x-request-id`` when it was taken, else a new uuid4 made the first time it is asked."""
        found = self._request_id
        if found is None:
            with _NEW_REQUEST_ID:
                found = self._request_id
                if found is None:
                    found = self._request_id = new_request_id()
        return found

    def reject(self, exc: RpcException) -> RpcException:
        """Remember a refusal by the chain itself, for the caller to raise."""
        if self.rejection is None:
            self.rejection = exc
        return exc

    def refuse_unlisted(self) -> NoReturn:
        """Raise PERMISSION_DENIED: no module covers the method (``MethodRunner.unlisted``)."""
        raise self.reject(PermissionDenied(NO_POLICY_MESSAGE))

    def note(self, text: str) -> None:
        """Add ``text`` to the call's log record."""
        if self.observation is not None:
            self.observation.add_note(text)

    def received(self, request: object) -> None:
        """One request message arrived: count it, then validate it (raises ``ValidationError``)."""
        if self.observation is not None:
            self.observation.received()
        if type(request) is Unparsable:
            self.note(f"{type(request.error).__name__}: {request.error}")
            raise self.reject(InvalidArgument(UNPARSABLE_MESSAGE))
        policy = self.policy
        if policy is None or policy.validator is None or not self.chain.validate:
            return
        try:
            found = policy.validator(request)
        except ValidationRuntimeError as exc:
            LOGGER.error(
                "%s: validation failed: %r; request_id=%s",
                self.full_method,
                exc,
                self.request_id,
            )
            raise self.reject(Internal(VALIDATION_FAILED_MESSAGE)) from exc
        if found:
            message = invalid_message(policy.request_type, len(found))
            raise self.reject(ValidationError(found, message))

    def sent(self, response: object) -> None:
        """One response message passes to grpcio: count it, after checking it is the method's response class
        (``MethodPolicy.response_class``). Anything else raises the chain's INTERNAL refusal (``rejection``),
        which ends the call before the message reaches grpcio: its serializer would fail only after the call
        was recorded as OK. Once the chain has refused the call (a handler that swallowed the refusal and went
        on), nothing more passes: the refusal is raised again."""
        if self.rejection is not None:
            raise self.rejection
        policy = self.policy
        if policy is not None:
            expected = policy.response_class
            if (
                expected is not None
                and type(response) is not expected
                and not isinstance(response, expected)
            ):
                raise self.wrong_response(response, expected)
        if self.observation is not None:
            self.observation.sent()

    def wrong_response(self, response: object, expected: type) -> RpcException:
        """The refusal of a response that is not of the ``expected`` class: the call is recorded as INTERNAL
        with what the handler sent in the record's note (no traceback: the mistake is not in the chain's code),
        and the returned exception, once raised, ends it with INTERNAL "internal error".
        """
        streams = self.policy is not None and self.policy.kind.endswith("_stream")
        self.internal_error(
            f"the handler {'streamed' if streams else 'returned'} {_type_name(type(response))} "
            f"instead of {_type_name(expected)}"
        )
        self.finish(grpc.StatusCode.INTERNAL)
        return self.reject(Internal(INTERNAL_MESSAGE))

    def error_status(self, exc: BaseException) -> Status | None:
        """The status ``exc`` ends the call with, or None to let it pass to grpcio untouched (error mapping
        off, or a method ``allow_unlisted`` lets through). The chain's own refusal wins over whatever the
        handler raised after it."""
        rejection = self.rejection
        if rejection is not None:
            return _status_of(rejection)
        if not self.chain.map_errors or self.policy is None:
            return None
        if isinstance(exc, RpcException):
            if isinstance(exc, CatalogueError) and not isinstance(
                exc, self.policy.errors
            ):
                LOGGER.warning(
                    "%s raised %s (%s), which the rpc does not declare; request_id=%s",
                    self.full_method,
                    type(exc).__name__,
                    printable(str(exc.reason)),
                    self.request_id,
                )
            return _status_of(exc)
        mapping = self.chain.mapping_for(self.policy, type(exc))
        if mapping is not None:
            # Said in the call's own record, not in a record of its own (a mapped exception is routine).
            self.note(
                f"{qualified_name(type(exc))} mapped to {mapping.code.name} by {mapping.exception}"
            )
            return _status_of(for_code(mapping.code)(mapping.message or None))
        if self.chain.log_tracebacks:
            LOGGER.error(
                "%s: unexpected exception; request_id=%s\n%s",
                self.full_method,
                self.request_id,
                safe_traceback(exc),
            )
        return _status_of(Internal(INTERNAL_MESSAGE))

    def internal_error(self, why: str) -> Status:
        """The status of a handler mistake the chain found (``why`` goes to the log only)."""
        if self.observation is not None:
            self.observation.add_note(why)
        elif self.chain.log_tracebacks:
            LOGGER.error(
                "%s: %s; request_id=%s", self.full_method, why, self.request_id
            )
        return _status_of(Internal(INTERNAL_MESSAGE))

    def trailers(
        self,
        handler_trailers: MetadataPairs | None,
        status: Status | None = None,
        *,
        ok: bool = False,
    ) -> Trailers:
        """The call's trailing metadata: the handler's, then the error's, then the request id (always on a
        non-OK status; on OK only with ``echo_request_id``)."""
        if ok and not self.chain.echo_request_id:
            return tuple(handler_trailers or ())
        if not handler_trailers and status is None:
            return ((REQUEST_ID_KEY, self.request_id),)
        return merge_trailers(
            handler_trailers,
            status.trailing_metadata if status is not None else None,
            ((REQUEST_ID_KEY, self.request_id),),
        )

    def finish(self, code: grpc.StatusCode, error: BaseException | None = None) -> None:
        """Record the outcome, once (the first caller wins). The observation is let go then: it and the
        call refer to each other, and that cycle would keep the call (its servicer context, grpcio's state of
        the call) alive until the cyclic garbage collector runs instead of freeing it when the call ends.
        """
        if self.finished:
            return
        self.finished = True
        observation = self.observation
        if observation is not None:
            self.observation = None
            observation.finish(code, error)


def _type_name(cls: type) -> str:
    """``shop.v1.Order`` for a message class, ``dict`` for a builtin, ``pkg.module.Class`` for any other."""
    descriptor = getattr(cls, "DESCRIPTOR", None)
    full_name = getattr(descriptor, "full_name", None)
    if isinstance(full_name, str):
        return full_name
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return qualified_name(cls)


def _status_of(exc: RpcException) -> Status:
    try:
        return to_status(exc)
    except (
        Exception
    ):  # an exception whose details cannot be encoded must not crash the call
        LOGGER.exception("could not encode %r", exc)
        return Status(exc.code(), default_message(exc.code()), ())
