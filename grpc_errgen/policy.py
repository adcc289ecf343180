"""What a generated ``_errgen`` module tells the runtime: per-method policies, error classes, retry config.

Generated modules build these objects at import time (``ERRGEN = GeneratedFile(...)``); the server chain,
the client interceptors and ``channel_options`` read them. Nothing here runs per call except lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import grpc
from google.protobuf.message import Message

from grpc_errgen.errors import CatalogueError, Violation

RpcKind = Literal["unary_unary", "unary_stream", "stream_unary", "stream_stream"]

#: A generated validator: appends the violations of ``message`` to the list it returns.
Validator = Callable[[Any], list[Violation]]


@dataclass(frozen=True, slots=True)
class ExceptionMapping:
    """``map_exceptions`` entry: handler exceptions of class ``exception`` (or a subclass) end with ``code``.

    ``level`` orders the candidates: 0 for the method's own mappings, 1 for the service's, 2 for the file's.
    """

    exception: str
    code: grpc.StatusCode
    message: str
    level: int


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    """Everything the chain needs to know about one rpc, keyed by its full name ``/pkg.Service/Method``."""

    full_method: str
    service: str
    method: str
    kind: RpcKind
    auth_required: bool = False
    scopes: frozenset[str] = frozenset()
    #: Declared catalogue errors this rpc may return (``errors`` option).
    errors: tuple[type[CatalogueError], ...] = ()
    #: Method, then service, then file mappings (see ``ExceptionMapping.level``).
    exception_mappings: tuple[ExceptionMapping, ...] = ()
    #: Validates one request message; None when the request type has no rules (or ``skip_validation``).
    validator: Validator | None = None
    #: The rpc's ``skip_validation`` option: neither the server chain nor ``validate=True`` clients check it.
    skip_validation: bool = False
    #: The request message's name, for ``invalid <MessageName>: ...``.
    request_type: str = ""
    #: The response message class: the server chain ends a call INTERNAL when the handler returns (or streams)
    #: anything else, instead of letting grpcio's serializer fail after the call was logged as OK. None (policies
    #: of older generated modules, or built by hand): not checked.
    response_class: type[Message] | None = None
    #: The retry policy in gRPC service-config form (``methodConfig[].retryPolicy``), or None. The one copy
    #: the runtime reads (``service_config``); the generated ``SERVICE_CONFIG`` text is for other tools.
    retry: Mapping[str, Any] | None = None
    #: The method's default deadline in seconds (``(errgen.method).timeout``), or None.
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """The contents of one generated ``foo_errgen.py``, as the runtime sees them."""

    proto: str
    methods: Mapping[str, MethodPolicy] = field(default_factory=dict)
    errors: tuple[type[CatalogueError], ...] = ()
    #: The generated modules this one imports (declared errors, validators of other files): passing a module to
    #: the runtime brings these along (``generated_files``).
    imports: tuple[GeneratedFile, ...] = ()


def generated_files(
    modules: Iterable[ModuleType | GeneratedFile],
) -> list[GeneratedFile]:
    """The ``GeneratedFile`` of each generated module (or the objects themselves), checked, followed by the
    generated modules they import, transitively: each once, the ones given first, in order.
    """
    given = []
    for module in modules:
        if isinstance(module, GeneratedFile):
            given.append(module)
            continue
        found = getattr(module, "ERRGEN", None)
        if not isinstance(found, GeneratedFile):
            raise TypeError(
                f"{getattr(module, '__name__', module)!r} is not a grpc-errgen generated module"
            )
        given.append(found)
    files: list[GeneratedFile] = []
    seen: set[int] = set()
    queue = list(given)
    while queue:
        current = queue.pop(0)
        if id(current) not in seen:
            seen.add(id(current))
            files.append(current)
            queue.extend(current.imports)
    return files


def method_table(
    modules: Iterable[ModuleType | GeneratedFile],
) -> dict[str, MethodPolicy]:
    """All methods of ``modules`` by full method name."""
    table: dict[str, MethodPolicy] = {}
    for generated in generated_files(modules):
        table.update(generated.methods)
    return table


def error_table(
    modules: Iterable[ModuleType | GeneratedFile],
) -> dict[tuple[str, str], type[CatalogueError]]:
    """All catalogue errors of ``modules`` by (domain, reason), as a client finds them in ErrorInfo."""
    table: dict[tuple[str, str], type[CatalogueError]] = {}
    for generated in generated_files(modules):
        for cls in generated.errors:
            table[(cls.domain or "", cls.reason or "")] = cls
    return table


def service_config(modules: Iterable[ModuleType | GeneratedFile]) -> dict[str, Any]:
    """One gRPC service config holding the retry policies and timeouts of every module's methods."""
    method_config: list[Any] = []
    for generated in generated_files(modules):
        for policy in generated.methods.values():
            entry = method_config_entry(
                policy.service, policy.method, policy.timeout, policy.retry
            )
            if entry is not None:
                method_config.append(entry)
    return {"methodConfig": method_config}


def method_config_entry(
    service: str, method: str, timeout: float | None, retry: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """A method's ``methodConfig`` entry of a gRPC service config (its timeout and retry policy), or None when
    it has neither. The generator writes the same entries into a module's ``SERVICE_CONFIG`` text.
    """
    entry: dict[str, Any] = {}
    if timeout is not None:
        entry["timeout"] = duration_text(timeout)
    if retry is not None:
        entry["retryPolicy"] = dict(retry)
    if not entry:
        return None
    return {"name": [{"service": service, "method": method}], **entry}


def duration_text(seconds: float) -> str:
    """Seconds as a protobuf JSON duration: ``7.5`` -> ``"7.5s"``."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
