"""The error model on the wire: status exceptions to trailers and back.

Server side, ``to_status`` turns an ``RpcException`` into the code, message and trailers the call ends with:
``grpc-status-details-bin`` holds a ``google.rpc.Status`` (what grpcio-status, Go, Java and grpcurl read) with a
``google.rpc.ErrorInfo`` for errors that have a reason and a ``google.rpc.BadRequest`` for validation errors;
``error-details`` repeats the violations as JSON for clients without protobuf. Client side, ``from_call``
reads them back into the same exception classes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import grpc
from google.protobuf import any_pb2
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
#: What the details trailers may take together. grpcio clients refuse trailer blocks above 8 KiB (at random
#: between 8 and 16 KiB), and the message and other trailers need room too.
DETAILS_BUDGET = 7000
#: The ErrorInfo domain of the plain status classes (``errors.NotFound(...)``), whose reason is the code's name.
STATUS_DOMAIN = "grpc-errgen"

_ERROR_INFO = error_details_pb2.ErrorInfo.DESCRIPTOR.full_name
_BAD_REQUEST = error_details_pb2.BadRequest.DESCRIPTOR.full_name


class Status(NamedTuple):
    """What a call ends with: the arguments of ``context.abort`` plus the trailers to set first."""

    code: grpc.StatusCode
    message: str
    trailing_metadata: Metadata


def _pack(message: Any) -> any_pb2.Any:
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


def _encoded_size(status: status_pb2.Status, json_text: str) -> int:
    # Binary trailers travel base64-encoded: count them as the peer's limit sees them.
    return 4 * ((int(status.ByteSize()) + 2) // 3) + len(json_text.encode())


def _validation_status(exc: ValidationError) -> tuple[status_pb2.Status, str]:
    violations = exc.violations
    message = exc.details()
    kept = len(violations)
    while True:
        status = status_pb2.Status(code=exc.code().value[0], message=message)
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.message, reason=v.rule
                )
                for v in violations[:kept]
            ]
        )
        status.details.append(_pack(bad_request))
        json_text = _violations_json(violations[:kept])
        if kept == 0 or _encoded_size(status, json_text) <= DETAILS_BUDGET:
            return status, json_text
        # Shrink in proportion to the overshoot, by at least one, and say so in the message.
        size = _encoded_size(status, json_text)
        kept = min(kept - 1, kept * DETAILS_BUDGET // size)
        message = f"{exc.details()} (details list the first {kept})"


def to_status(exc: RpcException) -> Status:
    """The status a server ends the call with for ``exc``."""
    code = exc.code()
    trailers: list[tuple[str, str | bytes]] = list(exc.trailing_metadata())
    if isinstance(exc, ValidationError):
        status, json_text = _validation_status(exc)
        trailers.append((JSON_DETAILS_KEY, json_text))
    else:
        status = status_pb2.Status(code=code.value[0], message=exc.details())
        info = error_details_pb2.ErrorInfo(
            reason=exc.reason or code.name,
            domain=exc.domain or STATUS_DOMAIN,
            metadata=exc.metadata,
        )
        status.details.append(_pack(info))
    trailers.append((DETAILS_KEY, status.SerializeToString()))
    return Status(code, status.message, tuple(trailers))


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


def from_status(
    code: grpc.StatusCode,
    message: str,
    trailing_metadata: Sequence[tuple[str, str | bytes]] | None,
    errors: Mapping[tuple[str, str], type[RpcException]],
) -> RpcException:
    """The exception a client raises for a failed call: the catalogue class for its ErrorInfo, else
    ``ValidationError`` for a BadRequest, else the status class of the code."""
    trailers = tuple(trailing_metadata or ())
    status = _details_status(trailers)
    # The ErrorInfo metadata of an error no catalogue here declares still reaches the code class.
    info_metadata: dict[str, str] = {}
    if status is not None and status.code == code.value[0]:
        for detail in status.details:
            type_name = detail.type_url.rpartition("/")[2]
            try:
                if type_name == _ERROR_INFO:
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    cls = errors.get((info.domain, info.reason))
                    if cls is not None:
                        return cls(
                            message,
                            metadata=dict(info.metadata),
                            code=code,
                            trailing_metadata=trailers,
                        )
                    info_metadata = dict(info.metadata)
                elif (
                    type_name == _BAD_REQUEST
                    and code == grpc.StatusCode.INVALID_ARGUMENT
                ):
                    bad_request = error_details_pb2.BadRequest()
                    detail.Unpack(bad_request)
                    violations = [
                        Violation(field=v.field, rule=v.reason, message=v.description)
                        for v in bad_request.field_violations
                    ]
                    return ValidationError(
                        violations, message, code=code, trailing_metadata=trailers
                    )
            except Exception:  # an undecodable detail is skipped, never fatal
                continue
    return for_code(code)(
        message, metadata=info_metadata, code=code, trailing_metadata=trailers
    )


def from_call(
    call: grpc.RpcError | grpc.Call,
    errors: Mapping[tuple[str, str], type[RpcException]],
) -> RpcException:
    """``from_status`` for a failed grpcio call (or the ``RpcError`` it raised)."""
    trailers: Any = call.trailing_metadata()
    return from_status(call.code(), call.details() or "", trailers, errors)
