"""Front end for grpc-errgen's own options: reads ``(errgen.*)`` options from descriptors into the model.

Error catalogues, service and method policies, exception mappings and retry policies are read here; field
rules are read by ``rules`` (the validation front end). Every problem is reported through ``GenContext.error``
with the path of the offending element, so the user sees ``file.proto:LINE:COL: message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from google.protobuf import descriptor_pb2
from google.rpc import code_pb2

from grpc_errgen import options_pb2
from grpc_errgen.codegen import rules
from grpc_errgen.codegen.context import GenContext, extension, has_extension
from grpc_errgen.codegen.model import (
    Catalogue,
    ErrorValue,
    FileModel,
    Mapping,
    Method,
    Service,
)

# Field numbers of descriptor.proto, for source paths.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE, _FILE_OPTIONS = 4, 5, 6, 8
_MESSAGE_NESTED, _MESSAGE_ENUM = 3, 4
_ENUM_VALUE, _ENUM_OPTIONS, _VALUE_OPTIONS = 2, 3, 3
_SERVICE_METHOD, _SERVICE_OPTIONS, _METHOD_OPTIONS = 2, 3, 4
_EXT = 51773  # the number of every errgen extension
# Field numbers inside our option messages, for pointing at one entry.
_METHOD_ERRORS, _METHOD_RETRY = 3, 5

_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_DURATION = re.compile(r"(\d+)(\.\d{1,9})?s")
_CODE_NAMES = {number: name for name, number in code_pb2.Code.items()}

_STATUS_CLASSES = {
    "CANCELLED": "Cancelled",
    "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition",
    "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal",
    "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss",
    "UNAUTHENTICATED": "Unauthenticated",
}

_KINDS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}


def camel_case(name: str) -> str:
    """``ORDER_NOT_FOUND`` -> ``OrderNotFound``."""
    return "".join(
        part[:1].upper() + part[1:].lower() for part in name.split("_") if part
    )


def _enums(
    proto: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[descriptor_pb2.EnumDescriptorProto, str, tuple[int, ...]]]:
    """Every enum of the file, nested ones too, with its full name and source path."""
    prefix = f"{proto.package}." if proto.package else ""
    for index, enum in enumerate(proto.enum_type):
        yield enum, prefix + enum.name, (_FILE_ENUM, index)

    def walk(
        message: descriptor_pb2.DescriptorProto, scope: str, path: tuple[int, ...]
    ) -> Iterator[tuple[descriptor_pb2.EnumDescriptorProto, str, tuple[int, ...]]]:
        for index, enum in enumerate(message.enum_type):
            yield enum, f"{scope}.{enum.name}", (*path, _MESSAGE_ENUM, index)
        for index, nested in enumerate(message.nested_type):
            yield from walk(
                nested, f"{scope}.{nested.name}", (*path, _MESSAGE_NESTED, index)
            )

    for index, message in enumerate(proto.message_type):
        yield from walk(message, prefix + message.name, (_FILE_MESSAGE, index))


def _catalogues(
    ctx: GenContext, proto: descriptor_pb2.FileDescriptorProto
) -> list[Catalogue]:
    catalogues = []
    seen_classes: dict[str, str] = {}
    for enum, full_name, path in _enums(proto):
        if not has_extension(enum.options, options_pb2.errors):
            continue
        option = extension(enum.options, options_pb2.errors)
        domain = option.domain or proto.package
        if not domain:
            ctx.error(
                proto.name,
                (*path, _ENUM_OPTIONS),
                f"error catalogue {enum.name} needs a domain",
            )
        values = []
        for index, value in enumerate(enum.value):
            value_path = (*path, _ENUM_VALUE, index)
            if not has_extension(value.options, options_pb2.error):
                if (
                    value.number != 0
                ):  # the zero value (ORDER_ERROR_UNSPECIFIED) is not an error
                    ctx.error(
                        proto.name,
                        value_path,
                        f"{value.name} in error catalogue {enum.name} has no (errgen.error)",
                    )
                continue
            spec = extension(value.options, options_pb2.error)
            if not spec.HasField("code"):
                ctx.error(
                    proto.name,
                    (*value_path, _VALUE_OPTIONS),
                    f"{value.name}: (errgen.error) needs a code",
                )
                continue
            code = _CODE_NAMES.get(spec.code, "")
            if code not in _STATUS_CLASSES:
                ctx.error(
                    proto.name,
                    (*value_path, _VALUE_OPTIONS),
                    f"{value.name}: an error's code must be an error status, not {code or spec.code}",
                )
                continue
            class_name = camel_case(value.name)
            clash = seen_classes.get(class_name)
            if clash is not None or class_name == enum.name:
                ctx.error(
                    proto.name,
                    value_path,
                    f"{value.name} gives class {class_name}, already taken by {clash or enum.name}",
                )
                continue
            seen_classes[class_name] = full_name
            values.append(
                ErrorValue(
                    reason=value.name,
                    class_name=class_name,
                    code=code,
                    status_class=_STATUS_CLASSES[code],
                    message=spec.message or value.name.replace("_", " ").lower(),
                    retryable=spec.retryable,
                )
            )
        seen_classes.setdefault(enum.name, full_name)
        catalogues.append(
            Catalogue(
                class_name=enum.name,
                full_name=full_name,
                domain=domain,
                values=tuple(values),
            )
        )
    return catalogues


def _visible_files(ctx: GenContext, name: str) -> list[str]:
    """``name`` and every file it imports, transitively, in a stable order."""
    order: list[str] = []
    stack = [name]
    while stack:
        current = stack.pop()
        if current in order or current not in ctx.protos:
            continue
        order.append(current)
        stack.extend(reversed(ctx.protos[current].dependency))
    return order


class _ErrorIndex:
    """Resolves names in an rpc's ``errors`` option to Python expressions for the generated classes."""

    def __init__(self, ctx: GenContext, model: FileModel, own: list[Catalogue]) -> None:
        self._names: dict[str, list[tuple[str, str]]] = (
            {}
        )  # lookup name -> [(qualified name, python expr)]
        self._model = model
        for file_name in _visible_files(ctx, model.proto):
            catalogues = (
                own
                if file_name == model.proto
                else _catalogues(
                    GenContext(ctx.pool, ctx.protos), ctx.protos[file_name]
                )
            )
            module = None if file_name == model.proto else ctx.errgen_module(file_name)
            for catalogue in catalogues:
                for value in catalogue.values:
                    qualified = f"{catalogue.full_name}.{value.reason}"
                    entry = (
                        qualified,
                        f"{module}:{value.class_name}" if module else value.class_name,
                    )
                    short = catalogue.full_name.rpartition(".")[2]
                    for key in {value.reason, f"{short}.{value.reason}", qualified}:
                        self._names.setdefault(key, []).append(entry)

    def resolve(self, name: str) -> tuple[str | None, str | None]:
        """(python expression, problem)."""
        found = sorted(set(self._names.get(name, [])))
        if not found:
            return (
                None,
                f"unknown error {name!r}: no error catalogue this file sees declares it",
            )
        if len(found) > 1:
            return (
                None,
                f"ambiguous error {name!r}: it could be {' or '.join(q for q, _ in found)}",
            )
        expression = found[0][1]
        if ":" in expression:
            module, class_name = expression.split(":")
            alias = self._model.imports.setdefault(
                module, "_" + module.rpartition(".")[2]
            )
            expression = f"{alias}.{class_name}"
        return expression, None


def _mappings(
    ctx: GenContext,
    file_name: str,
    entries: Sequence[options_pb2.ExceptionMapping],
    path: tuple[int, ...],
    level: int,
) -> list[Mapping]:
    found = []
    for index, entry in enumerate(entries):
        where = (*path, index)
        if not _DOTTED_NAME.fullmatch(entry.exception):
            ctx.error(
                file_name,
                where,
                f"map_exceptions: {entry.exception!r} is not a dotted Python class name (like builtins.KeyError)",
            )
            continue
        code = _CODE_NAMES.get(entry.code, "")
        if code not in _STATUS_CLASSES:
            ctx.error(
                file_name,
                where,
                f"map_exceptions: {entry.exception} needs an error code, not {code or 'none'}",
            )
            continue
        found.append(
            Mapping(
                exception=entry.exception, code=code, message=entry.message, level=level
            )
        )
    return found


def _duration_seconds(text: str) -> float | None:
    match = _DURATION.fullmatch(text)
    return float(text[:-1]) if match else None


def _retry_policy(
    ctx: GenContext,
    file_name: str,
    policy: options_pb2.RetryPolicy,
    path: tuple[int, ...],
) -> dict[str, Any] | None:
    """The service-config ``retryPolicy`` for ``policy``; unset fields take documented defaults."""
    problems = []
    attempts = policy.max_attempts if policy.HasField("max_attempts") else 3
    if attempts < 2:
        problems.append("max_attempts must be at least 2 (the first attempt counts)")
    initial = policy.initial_backoff or "0.1s"
    maximum = policy.max_backoff or "1s"
    initial_s, maximum_s = _duration_seconds(initial), _duration_seconds(maximum)
    for name, text, seconds in (
        ("initial_backoff", initial, initial_s),
        ("max_backoff", maximum, maximum_s),
    ):
        if seconds is None or seconds <= 0:
            problems.append(
                f'{name} must be a positive duration like "0.2s", not {text!r}'
            )
    if initial_s and maximum_s and initial_s > maximum_s:
        problems.append(f"initial_backoff {initial} is above max_backoff {maximum}")
    multiplier = (
        policy.backoff_multiplier if policy.HasField("backoff_multiplier") else 2.0
    )
    if not multiplier > 0:
        problems.append("backoff_multiplier must be above 0")
    codes = [_CODE_NAMES.get(code, "") for code in policy.retryable_codes] or [
        "UNAVAILABLE"
    ]
    for code in codes:
        if code not in _STATUS_CLASSES:
            problems.append(f"retryable_codes cannot hold {code or 'an unknown code'}")
    for problem in problems:
        ctx.error(file_name, path, f"retry: {problem}")
    if problems:
        return None
    return {
        "maxAttempts": attempts,
        "initialBackoff": initial,
        "maxBackoff": maximum,
        "backoffMultiplier": multiplier,
        "retryableStatusCodes": sorted(set(codes)),
    }


def _services(
    ctx: GenContext,
    proto: descriptor_pb2.FileDescriptorProto,
    model: FileModel,
    errors: _ErrorIndex,
    validators: rules.FileValidators,
) -> list[Service]:
    file_rules = extension(proto.options, options_pb2.file)
    file_mappings = _mappings(
        ctx, proto.name, file_rules.map_exceptions, (_FILE_OPTIONS, _EXT, 1), 2
    )
    prefix = f"{proto.package}." if proto.package else ""
    services = []
    for s_index, service in enumerate(proto.service):
        s_path = (_FILE_SERVICE, s_index)
        s_rules = extension(service.options, options_pb2.service)
        s_mappings = _mappings(
            ctx,
            proto.name,
            s_rules.map_exceptions,
            (*s_path, _SERVICE_OPTIONS, _EXT, 3),
            1,
        )
        full_service = prefix + service.name
        methods = []
        for m_index, method in enumerate(service.method):
            m_path = (*s_path, _SERVICE_METHOD, m_index)
            o_path = (*m_path, _METHOD_OPTIONS, _EXT)
            m_rules = extension(method.options, options_pb2.method)
            auth = (
                m_rules.auth_required
                if m_rules.HasField("auth_required")
                else s_rules.auth_required
            )
            if m_rules.scopes and not auth:
                ctx.error(
                    proto.name,
                    (*o_path, 2),
                    f"{method.name}: scopes need auth_required",
                )
            declared = []
            for e_index, name in enumerate(m_rules.errors):
                expression, problem = errors.resolve(name)
                if problem:
                    ctx.error(
                        proto.name,
                        (*o_path, _METHOD_ERRORS, e_index),
                        f"{method.name}: {problem}",
                    )
                elif expression is not None:
                    declared.append(expression)
            m_mappings = _mappings(
                ctx, proto.name, m_rules.map_exceptions, (*o_path, 4), 0
            )
            retry = (
                _retry_policy(ctx, proto.name, m_rules.retry, (*o_path, _METHOD_RETRY))
                if m_rules.HasField("retry")
                else None
            )
            request = method.input_type.lstrip(".")
            validator = (
                None
                if m_rules.skip_validation
                else validators.reference(request, model.imports)
            )
            methods.append(
                Method(
                    name=method.name,
                    full_method=f"/{full_service}/{method.name}",
                    kind=_KINDS[(method.client_streaming, method.server_streaming)],
                    auth_required=auth,
                    scopes=(
                        tuple(sorted(set(s_rules.scopes) | set(m_rules.scopes)))
                        if auth
                        else ()
                    ),
                    errors=tuple(dict.fromkeys(declared)),
                    mappings=(*m_mappings, *s_mappings, *file_mappings),
                    validator=validator,
                    skip_validation=m_rules.skip_validation,
                    request_name=request.rpartition(".")[2],
                    retry=retry,
                )
            )
        services.append(
            Service(full_name=full_service, name=service.name, methods=tuple(methods))
        )
    return services


def _service_config(services: list[Service]) -> str | None:
    method_config = [
        {
            "name": [{"service": service.full_name, "method": method.name}],
            "retryPolicy": method.retry,
        }
        for service in services
        for method in service.methods
        if method.retry is not None
    ]
    if not method_config:
        return None
    return json.dumps(
        {"methodConfig": method_config}, sort_keys=True, separators=(",", ":")
    )


def read_file(ctx: GenContext, file_name: str) -> FileModel:
    """The model of ``file_name``; problems go to ``ctx.diagnostics``."""
    proto = ctx.protos[file_name]
    model = FileModel(
        proto=file_name,
        output=ctx.errgen_module(file_name).replace(".", "/") + ".py",
        pb2_module=ctx.pb2_module(file_name),
    )
    model.catalogues = _catalogues(ctx, proto)
    model.validators = rules.file_validators(ctx, file_name)
    model.imports.update(model.validators.imports)
    errors = _ErrorIndex(ctx, model, model.catalogues)
    model.services = _services(ctx, proto, model, errors, model.validators)
    model.service_config = _service_config(model.services)
    return model
