"""The model of what one .proto file asks for: error catalogues, service policies, retry settings, validators.

Front ends fill it, the back end renders it. It holds proto facts only (names as written in the proto, codes as
``google.rpc.Code`` names, durations in seconds); the back end alone decides Python names, imports and text.
"""

from __future__ import annotations

from dataclasses import dataclass

from grpc_errgen.codegen.model.rules import FileValidators

SourcePath = tuple[int, ...]  # a SourceCodeInfo path inside the element's .proto file


@dataclass(frozen=True)
class ErrorValue:
    """One value of an error catalogue (rendered as an exception class)."""

    reason: str  # the enum value name, ErrorInfo.reason
    code: str  # google.rpc.Code name, never OK
    message: str
    retryable: bool
    retry_delay: float | None  # seconds
    doc: str
    source: SourcePath


@dataclass(frozen=True)
class Catalogue:
    name: str  # the enum's name
    full_name: str
    domain: str
    values: tuple[ErrorValue, ...]
    doc: str
    source: SourcePath


@dataclass(frozen=True)
class ErrorRef:
    """An error an rpc declares: a value of a catalogue in ``proto`` (this file or an imported one)."""

    proto: str
    catalogue: str  # the enum's name
    reason: str


@dataclass(frozen=True)
class MessageRef:
    """A message type, where it is declared: ``proto`` (this file or an imported one) and its name inside
    that file's package (``("Order", "LineItem")`` for ``shop.v1.Order.LineItem``)."""

    proto: str
    full_name: str
    nested_name: tuple[str, ...]


@dataclass(frozen=True)
class Mapping:
    exception: str  # dotted Python class name, as the user wrote it
    code: str
    message: str
    level: int  # 0 method, 1 service, 2 file


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC's retryPolicy, defaults filled in."""

    max_attempts: int
    initial_backoff: str  # duration text, as in the service config
    max_backoff: str
    backoff_multiplier: float
    retryable_codes: tuple[str, ...]


@dataclass(frozen=True)
class Method:
    name: str
    full_method: str  # /pkg.Service/Method
    client_streaming: bool
    server_streaming: bool
    auth_required: bool
    scopes: tuple[str, ...]
    errors: tuple[ErrorRef, ...]
    mappings: tuple[Mapping, ...]
    skip_validation: bool
    request_type: str  # full name of the request message
    response: MessageRef  # the response message
    retry: RetryPolicy | None
    timeout: float | None  # seconds, the default deadline
    doc: str


@dataclass(frozen=True)
class Service:
    full_name: str
    name: str
    methods: tuple[Method, ...]
    doc: str


@dataclass(frozen=True)
class FileModel:
    proto: str  # the .proto path, e.g. shop/v1/orders.proto
    catalogues: tuple[Catalogue, ...]
    services: tuple[Service, ...]
    validators: FileValidators

    @property
    def is_empty(self) -> bool:
        return not (self.catalogues or self.services or self.validators.messages)
