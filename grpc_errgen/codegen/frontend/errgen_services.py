"""Front end for our service and error options: ``(errgen.file/service/method/errors/error)`` -> model.

Error catalogues, service and method policies, exception mappings and retry policies are read here (field
rules: ``errgen_rules``). Every problem is reported through ``GenContext.error`` with the path of the offending
element, so the user sees ``file.proto:LINE:COL: message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from google.protobuf import descriptor_pb2
from google.rpc import code_pb2

from grpc_errgen import options_pb2
from grpc_errgen.codegen.diagnostics import GenContext
from grpc_errgen.codegen.frontend import options
from grpc_errgen.codegen.model.files import (
    Catalogue,
    ErrorRef,
    ErrorValue,
    FileModel,
    Mapping,
    MessageRef,
    Method,
    RetryPolicy,
    Service,
)
from grpc_errgen.codegen.model.rules import FileValidators

_FDP = descriptor_pb2.FileDescriptorProto
_DP = descriptor_pb2.DescriptorProto
_EDP = descriptor_pb2.EnumDescriptorProto
_SDP = descriptor_pb2.ServiceDescriptorProto
_FILE_MESSAGE, _FILE_ENUM = _FDP.MESSAGE_TYPE_FIELD_NUMBER, _FDP.ENUM_TYPE_FIELD_NUMBER
_FILE_SERVICE, _FILE_OPTIONS = _FDP.SERVICE_FIELD_NUMBER, _FDP.OPTIONS_FIELD_NUMBER
_MESSAGE_NESTED, _MESSAGE_ENUM = (
    _DP.NESTED_TYPE_FIELD_NUMBER,
    _DP.ENUM_TYPE_FIELD_NUMBER,
)
_ENUM_VALUE, _ENUM_OPTIONS = _EDP.VALUE_FIELD_NUMBER, _EDP.OPTIONS_FIELD_NUMBER
_VALUE_OPTIONS = descriptor_pb2.EnumValueDescriptorProto.OPTIONS_FIELD_NUMBER
_SERVICE_METHOD, _SERVICE_OPTIONS = _SDP.METHOD_FIELD_NUMBER, _SDP.OPTIONS_FIELD_NUMBER
_METHOD_OPTIONS = descriptor_pb2.MethodDescriptorProto.OPTIONS_FIELD_NUMBER
_FILE_EXT = options_pb2.FILE_FIELD_NUMBER
_SERVICE_EXT = options_pb2.SERVICE_FIELD_NUMBER
_METHOD_EXT = options_pb2.METHOD_FIELD_NUMBER
_MR = options_pb2.MethodRules

_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_DURATION = re.compile(r"(\d+)(\.\d{1,9})?s")
_CODE_NAMES = {number: name for name, number in code_pb2.Code.items()}

#: The codes an error may have: every google.rpc.Code but OK.
_ERROR_CODES = frozenset(set(code_pb2.Code.keys()) - {"OK"})


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
) -> tuple[Catalogue, ...]:
    catalogues = []
    for enum, full_name, path in _enums(proto):
        option = options.error_catalogue(enum.options)
        if option is None:
            continue
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
            spec = options.error_rules(value.options)
            if spec is None:
                if (
                    value.number != 0
                ):  # the zero value (ORDER_ERROR_UNSPECIFIED) is not an error
                    ctx.error(
                        proto.name,
                        value_path,
                        f"{value.name} in error catalogue {enum.name} has no (errgen.error)",
                    )
                continue
            if not spec.HasField("code"):
                ctx.error(
                    proto.name,
                    (*value_path, _VALUE_OPTIONS),
                    f"{value.name}: (errgen.error) needs a code",
                )
                continue
            code = _CODE_NAMES.get(spec.code, "")
            if code not in _ERROR_CODES:
                ctx.error(
                    proto.name,
                    (*value_path, _VALUE_OPTIONS),
                    f"{value.name}: an error's code must be an error status, not {code or spec.code}",
                )
                continue
            retry_delay = None
            if spec.HasField("retry_delay"):
                retry_delay = _duration_seconds(spec.retry_delay)
                if retry_delay is None or retry_delay <= 0:
                    ctx.error(
                        proto.name,
                        (*value_path, _VALUE_OPTIONS),
                        f'{value.name}: retry_delay must be a positive duration like "0.5s", not {spec.retry_delay!r}',
                    )
                    continue
            values.append(
                ErrorValue(
                    reason=value.name,
                    code=code,
                    message=spec.message or value.name.replace("_", " ").lower(),
                    retryable=spec.retryable,
                    retry_delay=retry_delay,
                    doc=ctx.comment(proto.name, value_path),
                    source=value_path,
                )
            )
        catalogues.append(
            Catalogue(
                name=enum.name,
                full_name=full_name,
                domain=domain,
                values=tuple(values),
                doc=ctx.comment(proto.name, path),
                source=path,
            )
        )
    return tuple(catalogues)


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
    """Resolves the names in an rpc's ``errors`` option among the catalogues its file sees."""

    def __init__(
        self,
        ctx: GenContext,
        file_name: str,
        catalogues: dict[str, tuple[Catalogue, ...]],
    ) -> None:
        self._names: dict[str, list[tuple[str, ErrorRef]]] = (
            {}
        )  # lookup name -> [(qualified, ref)]
        for visible in _visible_files(ctx, file_name):
            for catalogue in catalogues.get(visible, ()):
                short = catalogue.full_name.rpartition(".")[2]
                for value in catalogue.values:
                    qualified = f"{catalogue.full_name}.{value.reason}"
                    entry = (qualified, ErrorRef(visible, catalogue.name, value.reason))
                    for key in {value.reason, f"{short}.{value.reason}", qualified}:
                        self._names.setdefault(key, []).append(entry)

    def resolve(self, name: str) -> tuple[ErrorRef | None, str | None]:
        """(the error, problem)."""
        found = sorted(set(self._names.get(name, [])), key=lambda entry: entry[0])
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
        return found[0][1], None


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
        if code not in _ERROR_CODES:
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
) -> RetryPolicy | None:
    """The retry policy, unset fields taking their documented defaults."""
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
        if code not in _ERROR_CODES:
            problems.append(f"retryable_codes cannot hold {code or 'an unknown code'}")
    for problem in problems:
        ctx.error(file_name, path, f"retry: {problem}")
    if problems:
        return None
    return RetryPolicy(
        max_attempts=attempts,
        initial_backoff=initial,
        max_backoff=maximum,
        backoff_multiplier=multiplier,
        retryable_codes=tuple(sorted(set(codes))),
    )


def _services(
    ctx: GenContext,
    proto: descriptor_pb2.FileDescriptorProto,
    errors: _ErrorIndex,
) -> tuple[Service, ...]:
    file_rules = options.file_rules(proto.options)
    file_mappings = _mappings(
        ctx,
        proto.name,
        file_rules.map_exceptions,
        (_FILE_OPTIONS, _FILE_EXT, options_pb2.FileRules.MAP_EXCEPTIONS_FIELD_NUMBER),
        2,
    )
    prefix = f"{proto.package}." if proto.package else ""
    services = []
    for s_index, service in enumerate(proto.service):
        s_path = (_FILE_SERVICE, s_index)
        s_rules = options.service_rules(service.options)
        s_mappings = _mappings(
            ctx,
            proto.name,
            s_rules.map_exceptions,
            (
                *s_path,
                _SERVICE_OPTIONS,
                _SERVICE_EXT,
                options_pb2.ServiceRules.MAP_EXCEPTIONS_FIELD_NUMBER,
            ),
            1,
        )
        full_service = prefix + service.name
        methods = []
        for m_index, method in enumerate(service.method):
            m_path = (*s_path, _SERVICE_METHOD, m_index)
            o_path = (*m_path, _METHOD_OPTIONS, _METHOD_EXT)
            m_rules = options.method_rules(method.options)
            auth = (
                m_rules.auth_required
                if m_rules.HasField("auth_required")
                else s_rules.auth_required
            )
            if m_rules.scopes and not auth:
                ctx.error(
                    proto.name,
                    (*o_path, _MR.SCOPES_FIELD_NUMBER),
                    f"{method.name}: scopes need auth_required",
                )
            declared: list[ErrorRef] = []
            for e_index, name in enumerate(m_rules.errors):
                found, problem = errors.resolve(name)
                if problem:
                    ctx.error(
                        proto.name,
                        (*o_path, _MR.ERRORS_FIELD_NUMBER, e_index),
                        f"{method.name}: {problem}",
                    )
                elif found is not None:
                    declared.append(found)
            m_mappings = _mappings(
                ctx,
                proto.name,
                m_rules.map_exceptions,
                (*o_path, _MR.MAP_EXCEPTIONS_FIELD_NUMBER),
                0,
            )
            retry = (
                _retry_policy(
                    ctx, proto.name, m_rules.retry, (*o_path, _MR.RETRY_FIELD_NUMBER)
                )
                if m_rules.HasField("retry")
                else None
            )
            timeout = None
            if m_rules.HasField("timeout"):
                timeout = _duration_seconds(m_rules.timeout)
                if timeout is None or timeout <= 0:
                    ctx.error(
                        proto.name,
                        (*o_path, _MR.TIMEOUT_FIELD_NUMBER),
                        f'{method.name}: timeout must be a positive duration like "2.5s", not {m_rules.timeout!r}',
                    )
            methods.append(
                Method(
                    name=method.name,
                    full_method=f"/{full_service}/{method.name}",
                    client_streaming=method.client_streaming,
                    server_streaming=method.server_streaming,
                    auth_required=auth,
                    scopes=(
                        tuple(sorted(set(s_rules.scopes) | set(m_rules.scopes)))
                        if auth
                        else ()
                    ),
                    errors=tuple(dict.fromkeys(declared)),
                    mappings=(*m_mappings, *s_mappings, *file_mappings),
                    skip_validation=m_rules.skip_validation,
                    request_type=method.input_type.lstrip("."),
                    response=_message_ref(ctx, method.output_type),
                    retry=retry,
                    timeout=timeout,
                    doc=ctx.comment(proto.name, m_path),
                )
            )
        services.append(
            Service(
                full_name=full_service,
                name=service.name,
                methods=tuple(methods),
                doc=ctx.comment(proto.name, s_path),
            )
        )
    return tuple(services)


def _message_ref(ctx: GenContext, type_name: str) -> MessageRef:
    """The message ``type_name`` (``.pkg.Msg``, as a method's input or output type) and its file."""
    message = ctx.pool.FindMessageTypeByName(type_name.lstrip("."))
    package = message.file.package
    local = message.full_name[len(package) + 1 :] if package else message.full_name
    return MessageRef(
        proto=message.file.name,
        full_name=message.full_name,
        nested_name=tuple(local.split(".")),
    )


def read_run(
    ctx: GenContext, validators: dict[str, FileValidators], wanted: Sequence[str]
) -> dict[str, FileModel]:
    """The models of the files ``wanted``; every file's catalogues are read once; problems go to ``ctx``."""
    catalogues = {name: _catalogues(ctx, proto) for name, proto in ctx.protos.items()}
    models = {}
    for name in wanted:
        proto = ctx.protos[name]
        errors = _ErrorIndex(ctx, name, catalogues)
        models[name] = FileModel(
            proto=name,
            catalogues=catalogues[name],
            services=_services(ctx, proto, errors),
            validators=validators[name],
        )
    return models
