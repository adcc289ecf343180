"""Per-call logging and Prometheus metrics for the server chain.

The chain builds one ``Observer`` and, per call, does::

    method = observer.method(full_method, kind)  # once per method
    call = observer.start(method, peer, scope)  # scope: the call (its request_id)
    call.received()            # per request message
    call.sent()                # per response message
    call.finish(code, error)   # exactly once

**Logging**: one record per call on the ``grpc_errgen`` logger. The level follows the code, as
go-grpc-middleware's ``DefaultServerCodeToLevel`` does, split between client and server faults:

- INFO: OK and the codes that describe the caller's request (``CLIENT_CODES``);
- WARNING: the server-side codes (``SERVER_CODES``: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
  UNAVAILABLE, DATA_LOSS);
- ERROR with the traceback (``exc_info``): INTERNAL caused by an exception the handler raised.

Method, code, duration, peer and request id are in the message text and in ``extra`` fields
(``LOG_FIELDS``), so JSON formatters pick them up. A ``note`` (the client's refused ``x-request-id``, the
mapping that turned an exception into its code) is appended to the text in parentheses.

**No forged lines**: every value a client can influence (method name, peer, notes, the text of an exception
in a traceback) goes through ``printable``, which escapes CR, LF, ESC and every other non-printable
character, so one call is always one record whose text cannot start a line of its own.

**Metrics** (extra ``prometheus``): the go-grpc-prometheus server metrics on the given registry, with its
names, labels, ``grpc_code`` spellings (``OK``, ``NotFound``, ...) and default histogram buckets, so existing
Grafana dashboards work unchanged (``metrics.py``: one collector per registry, so several chains may share one).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import TYPE_CHECKING, Final

import grpc

from grpc_errgen.context import CallScope
from grpc_errgen.metrics import (
    GRPC_TYPES,
    GrpcMetrics,
    MethodMetrics,
)
from grpc_errgen.policy import RpcKind

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

LOGGER: Final = logging.getLogger("grpc_errgen")

#: Codes that describe the caller's request rather than a server fault: logged at INFO.
CLIENT_CODES: Final = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)

#: Server-side faults: logged at WARNING (ERROR with traceback for INTERNAL caused by an exception).
SERVER_CODES: Final = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)

#: The ``extra`` fields of every log record.
LOG_FIELDS: Final = (
    "grpc_service",
    "grpc_method",
    "grpc_full_method",
    "grpc_type",
    "grpc_code",
    "duration_ms",
    "peer",
    "request_id",
    "note",
)


class MethodObservations:
    """What one method (and kind) needs per call, looked up once: names, log fields, its metric counts."""

    __slots__ = (
        "full_method",
        "grpc_type",
        "live_received",
        "live_sent",
        "log_fields",
        "method",
        "metrics",
        "outcomes",
        "service",
    )

    def __init__(
        self, full_method: str, kind: RpcKind, metrics: GrpcMetrics | None
    ) -> None:
        full_method = printable(full_method)
        self.full_method = full_method
        self.service, _, self.method = full_method.lstrip("/").rpartition("/")
        self.grpc_type = GRPC_TYPES[kind]
        #: Whether each message of a stream counts as it passes (a long stream's rate shows while it lasts);
        #: the one message of a unary side is counted with the call's outcome, under the same lock.
        self.live_received = kind in ("stream_unary", "stream_stream")
        self.live_sent = kind in ("unary_stream", "stream_stream")
        #: The method's counts, or None when metrics are off.
        self.metrics: MethodMetrics | None = (
            metrics.method(full_method, kind) if metrics is not None else None
        )
        #: The ``extra`` fields that are the same for every call of the method.
        self.log_fields: Final = {
            "grpc_service": self.service,
            "grpc_method": self.method,
            "grpc_full_method": full_method,
            "grpc_type": self.grpc_type,
        }
        self.outcomes: dict[grpc.StatusCode, Outcome] = {}

    def outcome(self, code: grpc.StatusCode) -> Outcome:
        """What ending with ``code`` needs (cached; two threads building it at once build the same thing)."""
        found = self.outcomes.get(code)
        if found is None:
            found = self.outcomes[code] = Outcome(code)
        return found


class Outcome:
    """One status code as a method's calls end with it: its log level and its name."""

    __slots__ = ("code_name", "level")

    def __init__(self, code: grpc.StatusCode) -> None:
        self.code_name: Final = code.name
        self.level: Final = logging.WARNING if code in SERVER_CODES else logging.INFO


class Observer:
    """Logging and metrics for one server chain; ``enabled`` is False when there is nothing to do."""

    def __init__(self, log: bool, metrics: CollectorRegistry | None) -> None:
        self.log = log
        self.metrics = (
            GrpcMetrics.on(metrics, "server") if metrics is not None else None
        )
        self.enabled = log or metrics is not None
        self._methods: dict[tuple[str, str], MethodObservations] = {}
        self._lock = threading.Lock()

    def start(
        self, observations: MethodObservations, peer: str, scope: CallScope
    ) -> CallObservation:
        """Begin observing one call of a method (counts it as started); ``peer`` is for the record (empty when
        not logging)."""
        if observations.metrics is not None:
            observations.metrics.start()
        return CallObservation(observations, self.log, peer, scope)

    def method(self, full_method: str, kind: RpcKind) -> MethodObservations:
        """What the calls of ``full_method`` (as ``kind``) share: looked up once per method, not per call."""
        with self._lock:
            found = self._methods.get((full_method, kind))
            if found is None:
                found = self._methods[(full_method, kind)] = MethodObservations(
                    full_method, kind, self.metrics
                )
            return found


class CallObservation:
    """One call in progress: message counts, then one ``finish`` that logs and records the outcome."""

    __slots__ = (
        "log",
        "note",
        "observations",
        "peer",
        "received_count",
        "scope",
        "sent_count",
        "started",
    )

    def __init__(
        self,
        observations: MethodObservations,
        log: bool,
        peer: str,
        scope: CallScope,
    ) -> None:
        self.observations = observations
        self.log = log
        self.peer = printable(peer)
        #: The call, for its request id (made, if the client sent none, only when a record needs it).
        self.scope = scope
        #: Appended to the record's text in parentheses (already ``printable``); empty for none.
        self.note = ""
        #: Messages not yet counted in the metrics (the unary sides: counted when the call finishes).
        self.received_count = 0
        self.sent_count = 0
        self.started = time.perf_counter()

    def add_note(self, text: str) -> None:
        """Say something more about this call in its record (``text`` is made ``printable``)."""
        text = printable(text)
        self.note = f"{self.note}; {text}" if self.note else text

    def received(self) -> None:
        """One request message arrived."""
        observations = self.observations
        if observations.live_received and observations.metrics is not None:
            observations.metrics.receive()
        else:
            self.received_count += 1

    def sent(self) -> None:
        """One response message was sent."""
        observations = self.observations
        if observations.live_sent and observations.metrics is not None:
            observations.metrics.send()
        else:
            self.sent_count += 1

    def finish(self, code: grpc.StatusCode, error: BaseException | None) -> None:
        """The call ended with ``code``; ``error`` is what the handler raised, if anything."""
        seconds = time.perf_counter() - self.started
        observations = self.observations
        if observations.metrics is not None:
            observations.metrics.finish(
                code, seconds, self.received_count, self.sent_count
            )
        if not self.log:
            return
        outcome = observations.outcomes.get(code) or observations.outcome(code)
        if code is grpc.StatusCode.INTERNAL and error is not None:
            level, exc_info = logging.ERROR, error
        else:
            level, exc_info = outcome.level, None
        if LOGGER.isEnabledFor(level):
            self._log(outcome.code_name, level, exc_info, seconds)

    def _log(
        self,
        code_name: str,
        level: int,
        exc_info: BaseException | None,
        seconds: float,
    ) -> None:
        observations = self.observations
        duration_ms = round(seconds * 1000.0, 3)
        # makeRecord + handle rather than LOGGER.log: the same record, without the stack walk that would
        # only find this function as the caller (a noticeable part of the per-call cost). The ``extra``
        # fields go straight into the record's __dict__ (what makeRecord does with ``extra``, one key at a
        # time after checking it against the record's attributes, which these names never are).
        request_id = self.scope.request_id
        args: tuple[object, ...] = (
            observations.full_method,
            code_name,
            duration_ms,
            self.peer,
            request_id,
        )
        if self.note:
            args = (*args, self.note)
        record = LOGGER.makeRecord(
            LOGGER.name,
            level,
            __file__,
            0,
            LOG_MESSAGE_NOTE if self.note else LOG_MESSAGE,
            args,
            (type(exc_info), exc_info, exc_info.__traceback__) if exc_info else None,
            "finish",
        )
        if exc_info is not None:
            # Formatters use a record's exc_text when it is set: the traceback with the exception texts escaped.
            record.exc_text = safe_traceback(exc_info)
        fields = record.__dict__
        fields.update(observations.log_fields)
        fields["grpc_code"] = code_name
        fields["duration_ms"] = duration_ms
        fields["peer"] = self.peer
        fields["request_id"] = request_id
        fields["note"] = self.note
        LOGGER.handle(record)


#: The text of every per-call record: method, code, duration, peer, request id.
LOG_MESSAGE: Final = "%s %s %.3f ms peer=%s request_id=%s"
#: The same with a note.
LOG_MESSAGE_NOTE: Final = LOG_MESSAGE + " (%s)"


def printable(text: str) -> str:
    """``text`` with every non-printable character (CR, LF, ESC, other controls, line and paragraph
    separators...) and the backslash escaped as Python writes them (``\\n``, ``\\x1b``, ``\\u2028``):
    one line that no client value can break. Printable text comes back as it is."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        char if char.isprintable() and char != "\\" else _escaped(char) for char in text
    )


def _escaped(char: str) -> str:
    if char == "\\":
        return "\\\\"
    escaped = repr(char)[1:-1]
    return escaped if escaped != char else f"\\u{ord(char):04x}"


def safe_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (and its causes) as ``logging`` formats it, with each exception's text and
    notes made ``printable``: the frames are the server's code, the texts may hold client input.
    """
    formatted = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    pending = [formatted]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        text = getattr(current, "_str", None)
        if not isinstance(
            text, str
        ):  # pragma: no cover - a Python without the attribute: one escaped line
            return printable("".join(formatted.format()))
        # ``_str`` is TracebackException's copy of ``str(exc)``, what ``format`` prints after the type.
        current._str = printable(text)  # type: ignore[attr-defined]
        notes = getattr(current, "__notes__", None)
        if notes:
            current.__notes__ = [printable(str(note)) for note in notes]
        pending.extend(
            found
            for found in (current.__cause__, current.__context__)
            if found is not None
        )
        pending.extend(getattr(current, "exceptions", None) or ())
    return "".join(formatted.format()).rstrip("\n")
