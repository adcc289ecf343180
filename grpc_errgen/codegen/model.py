"""The model of what one .proto file asks for: error catalogues, service policies, retry config, validators.

Front ends (``frontend`` for our own options) fill it in; the templates render it. It holds plain values only:
names, codes as ``grpc.StatusCode`` member names, Python source snippets the templates paste as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grpc_errgen.codegen.rules import FileValidators


@dataclass(frozen=True)
class ErrorValue:
    """One value of an error catalogue, rendered as an exception class."""

    reason: str  # the enum value name, ErrorInfo.reason
    class_name: str  # CamelCase of the value name
    code: str  # grpc.StatusCode member name
    status_class: str  # the grpc_errgen.errors class it subclasses
    message: str
    retryable: bool


@dataclass(frozen=True)
class Catalogue:
    class_name: str  # the enum's name, as the base class
    full_name: str
    domain: str
    values: tuple[ErrorValue, ...]


@dataclass(frozen=True)
class Mapping:
    exception: str
    code: str
    message: str
    level: int  # 0 method, 1 service, 2 file


@dataclass(frozen=True)
class Method:
    name: str
    full_method: str  # /pkg.Service/Method
    kind: str  # unary_unary, unary_stream, stream_unary, stream_stream
    auth_required: bool
    scopes: tuple[str, ...]
    errors: tuple[str, ...]  # Python expressions naming the declared error classes
    mappings: tuple[Mapping, ...]
    validator: str | None  # Python expression naming the request validator
    skip_validation: bool
    request_name: str
    retry: dict[str, Any] | None


@dataclass(frozen=True)
class Service:
    full_name: str
    name: str
    methods: tuple[Method, ...]


@dataclass
class FileModel:
    proto: str  # the .proto path, e.g. shop/v1/orders.proto
    output: str  # the generated file's path, e.g. shop/v1/orders_errgen.py
    pb2_module: str  # e.g. shop.v1.orders_pb2
    catalogues: list[Catalogue] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    validators: FileValidators | None = None
    #: Python modules to import, as (module, alias) pairs.
    imports: dict[str, str] = field(default_factory=dict)
    service_config: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.catalogues
            or self.services
            or (self.validators and self.validators.messages)
        )
