"""What the sync and aio server chains share: the per-chain settings and the per-call logic.

``server.py`` (``grpc.server``) and ``aio/server.py`` (``grpc.aio.server``) differ only in how they call the
handler, read requests, run ``authenticate`` and end a call; everything they decide is decided here, once:

- ``Chain``: built once per ``server_interceptors(...)``: the method table of the generated modules, the
  stages that are on, the ``Observer``, and the exception -> status mapping (cached per method and type);
- ``ServerCall``: one call in progress: its request id, its observation, validation of each request, the
  status an exception ends it with, and the trailers it ends with.

The stages run in SPEC order: logging/metrics outermost, then error mapping, then auth, then validation,
then the handler. A method the tables do not know (a servicer registered without a generated module) is
passed through untouched except for logging/metrics (and the request id those carry).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any, Final

import grpc

from grpc_errgen import auth
from grpc_errgen.errors import (
    CatalogueError,
    Internal,
    RpcException,
    ValidationError,
    ValidationRuntimeError,
    default_message,
    for_code,
)
from grpc_errgen.observe import CallObservation, Observer
from grpc_errgen.policy import (
    ExceptionMapping,
    GeneratedFile,
    MethodPolicy,
    RpcKind,
    method_table,
)
from grpc_errgen.status import Status, to_status
from grpc_errgen.validation import invalid_message

Handler = grpc.RpcMethodHandler  # a method's handler as grpcio hands it to interceptors

LOGGER: Final = logging.getLogger("grpc_errgen")

REQUEST_ID_KEY: Final = "x-request-id"
#: A longer (or empty) ``x-request-id`` from the client is replaced by a new uuid4.
MAX_REQUEST_ID_LENGTH: Final = 128

INTERNAL_MESSAGE: Final = "internal error"
#: What the client is told when a rule could not be evaluated (the cause goes to the log only).
VALIDATION_FAILED_MESSAGE: Final = "validation failed"

Trailers = tuple[tuple[str, str | bytes], ...]
MetadataPairs = Sequence[tuple[str, str | bytes]]


def request_id_from(metadata: MetadataPairs | None) -> str:
    """The client's ``x-request-id``, or a new uuid4 when there is none (or it is empty or too long)."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY:
            if isinstance(value, str) and 0 < len(value) <= MAX_REQUEST_ID_LENGTH:
                return value
            break
    return new_request_id()


def new_request_id() -> str:
    """A random (version 4) UUID in its usual text form; ``str(uuid.uuid4())`` at a fraction of the cost.

    122 random bits as in ``uuid4``: the version nibble is ``4``, and the variant nibble ``8``-``b`` is
    picked by the low two bits of a random hex digit (each of the four equally likely).
    """
    text = os.urandom(16).hex()
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{_VARIANT_DIGIT[text[16]]}{text[17:20]}-{text[20:]}"


#: A random hex digit -> the uuid4 variant digit with the same low two bits.
_VARIANT_DIGIT: Final = {
    digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"
}


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
        log: bool,
        metrics: object | None,
        map_errors: bool,
        validate: bool,
    ) -> None:
        self.methods: Mapping[str, MethodPolicy] = method_table(modules)
        auth.check_authenticator(self.methods, authenticate)
        self.authenticate = authenticate
        self.map_errors = map_errors
        self.validate = validate
        self.observer = Observer(log, metrics)  # type: ignore[arg-type]
        # The traceback of an unexpected exception is logged once: by the per-call record when there is one.
        self.log_tracebacks = not log
        self._mappings: dict[
            tuple[str, type[BaseException]], ExceptionMapping | None
        ] = {}

    def policy(self, full_method: str) -> MethodPolicy | None:
        return self.methods.get(full_method)

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
        kind: RpcKind,
        metadata: MetadataPairs | None,
        peer: Callable[[], str],
    ) -> ServerCall:
        """Begin one call: its request id and, when logging or metrics are on, its observation
        (``peer`` is only asked then)."""
        request_id = request_id_from(metadata)
        observation = (
            self.observer.start(full_method, kind, peer(), request_id)
            if self.observer.enabled
            else None
        )
        return ServerCall(self, full_method, policy, request_id, observation)


class HandlerCache:
    """The wrapped handler of each method, so that ``intercept_service`` costs a dict lookup per call.

    Only methods of the generated tables are cached (the cache is bounded by them); a method the tables do not
    know is wrapped for logging/metrics when those are on, else returned untouched.
    """

    def __init__(
        self,
        chain: Chain,
        wrap: Callable[
            [Chain, str, MethodPolicy | None, Handler[Any, Any]], Handler[Any, Any]
        ],
    ) -> None:
        self._chain = chain
        self._wrap = wrap
        self._wrapped: dict[str, tuple[Handler[Any, Any], Handler[Any, Any]]] = {}

    def get(self, full_method: str, handler: Handler[Any, Any]) -> Handler[Any, Any]:
        cached = self._wrapped.get(full_method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        policy = self._chain.policy(full_method)
        if policy is None and not self._chain.observer.enabled:
            return handler
        wrapped = self._wrap(self._chain, full_method, policy, handler)
        if policy is not None:
            self._wrapped[full_method] = (handler, wrapped)
        return wrapped


class ServerCall:
    """One call in progress, from the chain's point of view."""

    __slots__ = (
        "chain",
        "finished",
        "full_method",
        "observation",
        "policy",
        "rejection",
        "request_id",
    )

    def __init__(
        self,
        chain: Chain,
        full_method: str,
        policy: MethodPolicy | None,
        request_id: str,
        observation: CallObservation | None,
    ) -> None:
        self.chain = chain
        self.full_method = full_method
        self.policy = policy
        self.request_id = request_id
        self.observation = observation
        #: The chain's own refusal (auth, validation): it ends the call even if the handler swallowed it.
        self.rejection: RpcException | None = None
        self.finished = False

    @property
    def authorizes(self) -> bool:
        """Whether the auth stage runs for this call (known methods only, with an ``authenticate``)."""
        return self.policy is not None and self.chain.authenticate is not None

    def reject(self, exc: RpcException) -> RpcException:
        """Remember a refusal by the chain itself, for the caller to raise."""
        if self.rejection is None:
            self.rejection = exc
        return exc

    def received(self, request: object) -> None:
        """One request message arrived: count it, then validate it (raises ``ValidationError``)."""
        if self.observation is not None:
            self.observation.received()
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

    def sent(self) -> None:
        if self.observation is not None:
            self.observation.sent()

    def error_status(self, exc: BaseException) -> Status | None:
        """The status ``exc`` ends the call with, or None to let it pass to grpcio untouched (error mapping
        off). The chain's own refusal wins over whatever the handler raised after it."""
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
                    exc.reason,
                    self.request_id,
                )
            return _status_of(exc)
        mapping = self.chain.mapping_for(self.policy, type(exc))
        if mapping is not None:
            LOGGER.warning(
                "%s: %s mapped to %s by %s; request_id=%s",
                self.full_method,
                qualified_name(type(exc)),
                mapping.code.name,
                mapping.exception,
                self.request_id,
            )
            return _status_of(for_code(mapping.code)(mapping.message or None))
        if self.chain.log_tracebacks:
            LOGGER.error(
                "%s: unexpected exception; request_id=%s",
                self.full_method,
                self.request_id,
                exc_info=exc,
            )
        return _status_of(Internal(INTERNAL_MESSAGE))

    def trailers(
        self, handler_trailers: MetadataPairs | None, status: Status | None = None
    ) -> Trailers:
        """The call's trailing metadata: the handler's, then the error's, then the request id."""
        if not handler_trailers and status is None:
            return ((REQUEST_ID_KEY, self.request_id),)
        return merge_trailers(
            handler_trailers,
            status.trailing_metadata if status is not None else None,
            ((REQUEST_ID_KEY, self.request_id),),
        )

    def finish(self, code: grpc.StatusCode, error: BaseException | None = None) -> None:
        """Record the outcome, once (the first caller wins)."""
        if self.finished:
            return
        self.finished = True
        if self.observation is not None:
            self.observation.finish(code, error)


def _status_of(exc: RpcException) -> Status:
    try:
        return to_status(exc)
    except (
        Exception
    ):  # an exception whose details cannot be encoded must not crash the call
        LOGGER.exception("could not encode %r", exc)
        return Status(exc.code(), default_message(exc.code()), ())
