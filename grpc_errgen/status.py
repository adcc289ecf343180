"""The error model on the wire: status exceptions to trailers and back.

Server side, ``to_status`` turns an ``RpcException`` into the code, message and trailers the call ends with:
``grpc-status-details-bin`` holds a ``google.rpc.Status`` (what grpcio-status, Go, Java and grpcurl read) with a
``google.rpc.ErrorInfo`` for errors that have a reason and a ``google.rpc.BadRequest`` for validation errors;
``error-details`` repeats the violations as JSON for clients without protobuf. Client side, ``from_call``
reads them back into the same exception classes.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import grpc
from google.protobuf import any_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message as ProtoMessage
from google.rpc import error_details_pb2, status_pb2

from grpc_errgen.errors import (
    Metadata,
    RpcException,
    ValidationError,
    Violation,
    for_code,
)

DETAILS_KEY = "grpc-status-details-bin"
JSON_DETAILS_KEY = "error-details"
#: The trailer gRPC's native retries read: how long to wait before the next attempt, in milliseconds.
PUSHBACK_KEY = "grpc-retry-pushback-ms"
#: What a status the chain sends may take, all its trailers together, counted as HTTP/2 does (name + value
#: as sent + 32 per entry; binary values base64-encoded, the message percent-encoded). grpcio clients refuse
#: trailer blocks above 8 KiB (at random between 8 and 16 KiB).
TRAILERS_BUDGET = 7000
#: Kept free within the budget for what the chain adds to a status: ``grpc-status`` and the request id echo.
RESERVED = 256
#: The longest message sent, in bytes as ``grpc-message`` carries it (percent-encoded); longer ones are cut.
MESSAGE_LIMIT = 1024
#: What a cut message ends with.
MESSAGE_CUT = " ... (message cut)"
#: What the message says when details or trailers were left out to fit the budget.
DETAILS_CUT = " (details cut to fit the trailer limit)"
#: What a cut ErrorInfo metadata value ends with.
VALUE_CUT = "..."
#: The ErrorInfo domain of the plain status classes (``errors.NotFound(...)``), whose reason is the code's name.
STATUS_DOMAIN = "grpc-errgen"

Trailer = tuple[str, str | bytes]


class Status(NamedTuple):
    """What a call ends with: the arguments of ``context.abort`` plus the trailers to set first."""

    code: grpc.StatusCode
    message: str
    trailing_metadata: Metadata


def _pack(message: ProtoMessage) -> any_pb2.Any:
    if isinstance(message, any_pb2.Any):
        return message
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _violations_json(violations: Sequence[Violation]) -> str:
    return json.dumps(
        {
            "violations": [
                {"field": v.field, "rule": v.rule, "message": v.message}
                for v in violations
            ]
        },
        # A plain-text trailer: grpc refuses non-ASCII values, so field paths like labels["é"] are escaped.
        ensure_ascii=True,
        separators=(",", ":"),
    )


def message_size(message: str) -> int:
    """The bytes ``message`` takes as ``grpc-message``: UTF-8, percent-encoded outside printable ASCII and ``%``."""
    data = message.encode()
    return len(data) + 2 * sum(1 for b in data if b < 0x20 or b > 0x7E or b == 0x25)


def trailer_size(key: str, value: str | bytes) -> int:
    """What one trailer counts towards the peer's limit: name, value as sent, and 32 bytes per entry."""
    size = (
        4 * ((len(value) + 2) // 3) if isinstance(value, bytes) else len(value.encode())
    )
    return len(key) + size + 32


def cut_message(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` if it takes at most ``limit`` bytes as sent, else its start and ``MESSAGE_CUT``."""
    if len(message) <= limit and message_size(message) <= limit:
        return message
    room = limit - len(MESSAGE_CUT)
    size = 0
    end = 0
    for char in message[:room]:
        size += message_size(char)
        if size > room:
            break
        end += 1
    return message[:end] + MESSAGE_CUT


def _within(sizes: Iterable[int], limit: int = TRAILERS_BUDGET) -> int:
    """How many of the first ``sizes`` add up to at most ``limit``."""
    total = 0
    count = 0
    for size in sizes:
        total += size
        if total > limit:
            break
        count += 1
    return count


def _largest(fits: Callable[[int], bool], most: int) -> int:
    """The largest n in 0..most with ``fits(n)`` (``fits`` true up to some n, false after); 0 if none."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


class _Parts:
    """What one status may carry, and what of it is kept; ``size()`` counts it as sent."""

    def __init__(self, exc: RpcException) -> None:
        self.code = exc.code()
        self.message = cut_message(exc.details())
        self.message_cut = self.message != exc.details()
        self.violations: Sequence[Violation] | None = (
            exc.violations if isinstance(exc, ValidationError) else None
        )
        self.reason = exc.reason or self.code.name
        self.domain = exc.domain or STATUS_DOMAIN
        self.metadata = list(exc.metadata.items())
        self.retry_delay = exc.retry_delay
        self.details = list(exc.error_details)
        self.trailers: list[Trailer] = list(exc.trailing_metadata())
        # The most of each list that could fit: the items whose raw sizes alone stay within the budget. Bounds
        # the work on huge lists: nothing past them is ever serialized.
        self.most_violations = _within(
            len(v.field) + len(v.rule) + len(v.message) for v in self.violations or ()
        )
        self.most_metadata = _within(len(k) + len(v) for k, v in self.metadata)
        # A packed detail also carries its type URL (``type.googleapis.com/`` + the full name).
        self.most_details = _within(
            int(d.ByteSize()) + len(d.DESCRIPTOR.full_name) + 20 for d in self.details
        )
        self.most_trailers = _within(len(k) + len(v) for k, v in self.trailers)
        # How many of each list are kept: all that could fit, at first.
        self.kept_violations = self.most_violations
        self.kept_metadata = self.most_metadata
        #: The start of the first metadata value left out, when it is worth sending.
        self.cut_value: str | None = None
        self.kept_details = self.most_details
        self.kept_trailers = self.most_trailers

    def note(self, pessimistic: bool = False) -> str:
        """The message as sent: what was cut is said at its end (``pessimistic``: the longest it can get)."""
        text = self.message
        if self.violations is not None and (
            pessimistic or self.kept_violations < len(self.violations)
        ):
            kept = len(self.violations) if pessimistic else self.kept_violations
            text += f" (details list the first {kept})"
        if pessimistic or self.message_cut or self._others_left_out():
            text += DETAILS_CUT
        return text

    def left_out(self) -> bool:
        """Whether anything of the lists is not kept."""
        return (
            self.kept_violations < len(self.violations or ()) or self._others_left_out()
        )

    def _others_left_out(self) -> bool:
        """Whether anything but violations is not kept (said by ``DETAILS_CUT``)."""
        return (
            self.kept_metadata < len(self.metadata)
            or self.kept_details < len(self.details)
            or self.kept_trailers < len(self.trailers)
        )

    def build(self, message: str) -> list[Trailer]:
        """The trailers of the status with what is kept now (the details last)."""
        status = status_pb2.Status(code=self.code.value[0], message=message)
        trailers = self.trailers[: self.kept_trailers]
        if self.violations is not None:
            kept = self.violations[: self.kept_violations]
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.message, reason=v.rule
                    )
                    for v in kept
                ]
            )
            status.details.append(_pack(bad_request))
            trailers.append((JSON_DETAILS_KEY, _violations_json(kept)))
        else:
            metadata = dict(self.metadata[: self.kept_metadata])
            if self.cut_value is not None:
                metadata[self.metadata[self.kept_metadata][0]] = self.cut_value
            info = error_details_pb2.ErrorInfo(
                reason=self.reason, domain=self.domain, metadata=metadata
            )
            status.details.append(_pack(info))
        if self.retry_delay is not None:
            retry_info = error_details_pb2.RetryInfo()
            retry_info.retry_delay.FromTimedelta(
                datetime.timedelta(seconds=self.retry_delay)
            )
            status.details.append(_pack(retry_info))
            trailers.append((PUSHBACK_KEY, str(round(self.retry_delay * 1000))))
        for detail in self.details[: self.kept_details]:
            status.details.append(_pack(detail))
        trailers.append((DETAILS_KEY, status.SerializeToString()))
        return trailers

    def size(self) -> int:
        """The size of what is kept now, with the longest message it could end up with."""
        message = self.note(pessimistic=True)
        trailers = self.build(message)
        return (
            trailer_size("grpc-message", "")
            + message_size(message)
            + sum(trailer_size(key, value) for key, value in trailers)
        )

    def fits(self) -> bool:
        return self.size() <= TRAILERS_BUDGET - RESERVED

    def keep(self, attribute: str, most: int) -> None:
        """Keep as many of the first ``most`` items of one list as fit beside what is kept already."""

        def fits(count: int) -> bool:
            setattr(self, attribute, count)
            return self.fits()

        setattr(self, attribute, _largest(fits, most))

    def cut(self) -> None:
        """Keep, in order of priority, as much as fits."""
        self.kept_violations = self.kept_metadata = 0
        self.kept_details = self.kept_trailers = 0
        self.keep("kept_violations", self.most_violations)
        self.keep("kept_metadata", self.most_metadata)
        self.keep_cut_value()
        self.keep("kept_details", self.most_details)
        self.keep("kept_trailers", self.most_trailers)

    def keep_cut_value(self) -> None:
        """Keep the start of the first metadata value left out, if a useful part of it fits."""
        if self.kept_metadata >= len(self.metadata):
            return
        value = self.metadata[self.kept_metadata][1]

        def fits(length: int) -> bool:
            self.cut_value = value[:length] + VALUE_CUT
            return self.fits()

        length = _largest(fits, min(len(value), TRAILERS_BUDGET))
        self.cut_value = value[:length] + VALUE_CUT if length >= 16 else None


def fit(exc: RpcException) -> Status:
    """The status for ``exc`` within ``TRAILERS_BUDGET``: the budget function every failed call goes through.

    Always sent: the code, the message (cut to ``MESSAGE_LIMIT``), ErrorInfo reason and domain, RetryInfo and
    the pushback trailer. Then, in this order, as much as fits: the violations (BadRequest and the JSON
    trailer), the ErrorInfo metadata (the first entry that does not fit whole is cut), the other details, the
    exception's own trailers. Whatever is left out, the message says so.
    """
    parts = _Parts(exc)
    if parts.left_out() or not parts.fits():
        parts.cut()
    message = parts.note()
    trailers = parts.build(message)
    return Status(parts.code, message, tuple(trailers))


def to_status(exc: RpcException) -> Status:
    """The status a server ends the call with for ``exc`` (``fit``)."""
    return fit(exc)


def _details_status(
    trailing_metadata: Sequence[tuple[str, str | bytes]] | None,
) -> status_pb2.Status | None:
    for key, value in trailing_metadata or ():
        if key == DETAILS_KEY:
            status = status_pb2.Status()
            try:
                status.ParseFromString(
                    value if isinstance(value, bytes) else base64.b64decode(value)
                )
            except (
                Exception
            ):  # a malformed trailer must not break the client: fall back to the code
                return None
            return status
    return None


def _unpack(detail: any_pb2.Any) -> ProtoMessage:
    """A detail as its own message type when this process knows the type, else the ``Any`` itself."""
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(
            detail.type_url.rpartition("/")[2]
        )
        message = message_factory.GetMessageClass(descriptor)()
        if detail.Unpack(message):
            return message
    except (
        Exception
    ):  # an unknown type or undecodable bytes: keep it packed, never fail
        pass
    return detail


def _pushback(trailers: Sequence[Trailer]) -> float | None:
    for key, value in trailers:
        if key == PUSHBACK_KEY:
            try:
                millis = int(value)
            except ValueError:
                return None
            return millis / 1000 if millis >= 0 else None
    return None


def from_status(
    code: grpc.StatusCode,
    message: str,
    trailing_metadata: Sequence[Trailer] | None,
    errors: Mapping[tuple[str, str], type[RpcException]],
) -> RpcException:
    """The exception a client raises for a failed call: the catalogue class for its ErrorInfo when the
    class's code is the call's, else ``ValidationError`` for a BadRequest on INVALID_ARGUMENT, else the status
    class of the code. ``.error_details`` lists every detail received; ``.retry_delay`` is the RetryInfo delay
    (or the ``grpc-retry-pushback-ms`` trailer), else None."""
    trailers = tuple(trailing_metadata or ())
    status = _details_status(trailers)
    received: list[ProtoMessage] = []
    info: error_details_pb2.ErrorInfo | None = None
    bad_request: error_details_pb2.BadRequest | None = None
    retry_delay: float | None = None
    # Details that contradict the call's own code are not the call's: ignore them.
    if status is not None and status.code == code.value[0]:
        for detail in status.details:
            unpacked = _unpack(detail)
            received.append(unpacked)
            if isinstance(unpacked, error_details_pb2.ErrorInfo) and info is None:
                info = unpacked
            elif (
                isinstance(unpacked, error_details_pb2.BadRequest)
                and bad_request is None
            ):
                bad_request = unpacked
            elif (
                isinstance(unpacked, error_details_pb2.RetryInfo)
                and retry_delay is None
            ):
                delay = unpacked.retry_delay.ToTimedelta().total_seconds()
                retry_delay = delay if delay >= 0 else None
    if retry_delay is None:
        retry_delay = _pushback(trailers)
    metadata = dict(info.metadata) if info is not None else {}
    cls = errors.get((info.domain, info.reason)) if info is not None else None
    error: RpcException
    if cls is not None and cls.status_code == code:
        error = cls(message, metadata=metadata, code=code, trailing_metadata=trailers)
    elif bad_request is not None and code == grpc.StatusCode.INVALID_ARGUMENT:
        violations = [
            Violation(field=v.field, rule=v.reason, message=v.description)
            for v in bad_request.field_violations
        ]
        error = ValidationError(
            violations,
            message,
            metadata=metadata,
            code=code,
            trailing_metadata=trailers,
        )
    else:
        # The ErrorInfo metadata of an error no catalogue here declares still reaches the code class.
        error = for_code(code)(
            message, metadata=metadata, code=code, trailing_metadata=trailers
        )
    error.error_details = received
    # What the server sent, not the class's declared default.
    error.retry_delay = retry_delay
    return error


def from_call(
    call: grpc.RpcError | grpc.Call,
    errors: Mapping[tuple[str, str], type[RpcException]],
) -> RpcException:
    """``from_status`` for a failed grpcio call (or the ``RpcError`` it raised)."""
    trailers: Any = call.trailing_metadata()
    return from_status(call.code(), call.details() or "", trailers, errors)
