"""A file's model -> the source of its ``_errgen.py``: every Python decision, then the Jinja2 template.

``module_view`` turns the model into ready-to-paste pieces (names, expressions, literals, docstrings); the
template ``errgen.py.j2`` only lays them out, in black's style, and ``format.black_stable`` is the safety net.
``name_problems`` lists the user names this back end cannot turn into distinct Python names.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import jinja2

from grpc_errgen.codegen.backend import names
from grpc_errgen.codegen.backend.literals import Value, docstring, literal, tuple_of
from grpc_errgen.codegen.backend.validators import (
    FileValidatorsSource,
    called_files,
    file_source,
)
from grpc_errgen.codegen.format import LINE_LENGTH, black_stable
from grpc_errgen.codegen.model.files import (
    Catalogue,
    FileModel,
    Method,
    RetryPolicy,
    SourcePath,
)
from grpc_errgen.codegen.resources import templates_dir
from grpc_errgen.policy import method_config_entry

_KINDS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}


@dataclass(frozen=True)
class ErrorClassView:
    name: str
    bases: str
    doc: str  # docstring lines, indented, or ""
    code: str
    reason: str
    message: str
    retryable: bool
    retry_delay: str | None  # a float literal (seconds)


@dataclass(frozen=True)
class CatalogueView:
    name: str
    doc: str
    domain: str
    values: tuple[ErrorClassView, ...]


@dataclass(frozen=True)
class PolicyView:
    comment: tuple[str, ...]  # comment lines
    key: str
    arguments: tuple[
        str, ...
    ]  # `name=value` lines, each possibly spanning lines (already indented inside)


@dataclass(frozen=True)
class ServiceView:
    comment: tuple[str, ...]
    table: str
    policies: tuple[PolicyView, ...]


@dataclass(frozen=True)
class ModuleView:
    uses_grpc: bool  # grpc.StatusCode is named (error classes, exception mappings)
    proto: str
    proto_literal: str
    imports: tuple[str, ...]  # import statements of our runtime
    user_imports: tuple[str, ...]  # import statements of the user's modules
    catalogues: tuple[CatalogueView, ...]
    validators: FileValidatorsSource
    registrations: tuple[tuple[str, str], ...]  # (full name literal, function)
    refusals: tuple[tuple[str, str], ...]  # (full name literal, diagnostic literal)
    services: tuple[ServiceView, ...]
    service_config: str | None
    errors: tuple[str, ...]
    imported_files: tuple[str, ...]  # the ERRGEN of each generated module imported


def _comment(text: str) -> tuple[str, ...]:
    return tuple(("# " + line).rstrip() for line in text.split("\n")) if text else ()


def _retry(policy: RetryPolicy) -> str:
    """``retry={...}`` in service-config form, exploded as black writes it (inside a call, 8 columns in)."""
    lines = "".join(
        f"            {literal(k)}: {literal(v)},\n"
        for k, v in retry_config(policy).items()
    )
    return "retry={\n" + lines + "        }"


def retry_config(policy: RetryPolicy) -> dict[str, Value]:
    return {
        "maxAttempts": policy.max_attempts,
        "initialBackoff": policy.initial_backoff,
        "maxBackoff": policy.max_backoff,
        "backoffMultiplier": policy.backoff_multiplier,
        "retryableStatusCodes": list(policy.retryable_codes),
    }


def _policy(
    model: FileModel,
    service_name: str,
    method: Method,
    aliases: Mapping[str, str],
    pb2_aliases: Mapping[str, str],
) -> PolicyView:
    """The policy of one method (``aliases``: the alias of each other file's generated module, those of its
    errors and its request's validator among them; ``pb2_aliases``: of each file's ``_pb2`` module, its
    response's file among them).
    """
    args = [
        f"full_method={literal(method.full_method)}",
        f"service={literal(service_name)}",
        f"method={literal(method.name)}",
        f"kind={literal(_KINDS[(method.client_streaming, method.server_streaming)])}",
    ]
    if method.auth_required:
        args.append("auth_required=True")
    if method.scopes:
        args.append(
            "scopes=frozenset({" + ", ".join(literal(s) for s in method.scopes) + "})"
        )
    if method.errors:
        classes = [
            names.qualified(
                names.error_class(ref.reason), ref.proto, model.proto, aliases
            )
            for ref in method.errors
        ]
        one_line = "errors=" + tuple_of(classes)
        if len(classes) == 1 or 8 + len(one_line) + 1 <= LINE_LENGTH:
            args.append(one_line)
        else:  # exploded as black writes it, with the magic trailing comma
            listed = "".join(f"            {name},\n" for name in classes)
            args.append("errors=(\n" + listed + "        )")
    if method.mappings:
        mappings = "".join(
            "            _policy.ExceptionMapping(\n"
            f"                {literal(mapping.exception)},\n"
            f"                _grpc.StatusCode.{mapping.code},\n"
            f"                {literal(mapping.message)},\n"
            f"                {mapping.level},\n"
            "            ),\n"
            for mapping in method.mappings
        )
        args.append("exception_mappings=(\n" + mappings + "        )")
    found = model.validators.validated.get(method.request_type)
    if found is not None and not method.skip_validation:
        validator = names.qualified(
            names.validator_function(found.nested_name),
            found.proto,
            model.proto,
            aliases,
        )
        args.append(f"validator={validator}")
    if method.skip_validation:
        args.append("skip_validation=True")
    args.append(f"request_type={literal(method.request_type.rpartition('.')[2])}")
    response = method.response
    module = pb2_aliases[response.proto]
    args.append(f"response_class={names.message_class(response.nested_name, module)}")
    if method.retry is not None:
        args.append(_retry(method.retry))
    if method.timeout is not None:
        args.append(f"timeout={literal(method.timeout)}")
    return PolicyView(_comment(method.doc), literal(method.full_method), tuple(args))


def _catalogue(catalogue: Catalogue) -> CatalogueView:
    doc = catalogue.doc or f"Errors of the {catalogue.full_name} catalogue."
    return CatalogueView(
        name=catalogue.name,
        doc=docstring(doc, "    "),
        domain=literal(catalogue.domain),
        values=tuple(
            ErrorClassView(
                name=names.error_class(value.reason),
                bases=f"{catalogue.name}, _errors.{names.status_class(value.code)}",
                doc=docstring(value.doc, "    "),
                code=value.code,
                reason=literal(value.reason),
                message=literal(value.message),
                retryable=value.retryable,
                retry_delay=(
                    None if value.retry_delay is None else literal(value.retry_delay)
                ),
            )
            for value in catalogue.values
        ),
    )


def _service_config(model: FileModel) -> str | None:
    method_config: list[dict[str, Value]] = []
    for service in model.services:
        for method in service.methods:
            entry = method_config_entry(
                service.full_name,
                method.name,
                method.timeout,
                None if method.retry is None else retry_config(method.retry),
            )
            if entry is not None:
                method_config.append(entry)
    if not method_config:
        return None
    text = json.dumps(
        {"methodConfig": method_config}, sort_keys=True, separators=(",", ":")
    )
    return literal(text)


def _dependencies(model: FileModel) -> set[str]:
    """The other files whose generated module this one imports: for the errors its rpcs declare, its requests'
    validators (imported, their ERRGEN brought along, even when a method skips validation) and the validators
    its own validators call."""
    files = set(called_files(model.validators))
    for service in model.services:
        for method in service.methods:
            files.update(ref.proto for ref in method.errors)
            found = model.validators.validated.get(method.request_type)
            if found is not None:
                files.add(found.proto)
    files.discard(model.proto)
    return files


def module_view(model: FileModel) -> ModuleView:
    # Every alias is decided before any source is written: two files' paths can read the same.
    aliases = names.dependency_aliases(_dependencies(model))
    validators = file_source(model.validators, aliases)
    # The files whose _pb2 module is imported: this file's for its validators, any file's for response classes.
    files = [model.proto] if validators.functions else []
    files += [
        method.response.proto
        for service in model.services
        for method in service.methods
    ]
    pb2_aliases = names.pb2_aliases(files, model.proto)
    services = []
    for service in model.services:
        policies = tuple(
            _policy(model, service.full_name, method, aliases, pb2_aliases)
            for method in service.methods
        )
        services.append(
            ServiceView(
                _comment(service.doc), names.policy_table(service.name), policies
            )
        )
    runtime = ["grpc_errgen.errors", "grpc_errgen.policy"]
    if validators.functions:
        runtime = ["grpc_errgen.checks", *runtime, "grpc_errgen.validation"]
    if validators.uses_cel:
        runtime.insert(0, "grpc_errgen.cel")
    user_imports = [
        f"import {names.pb2_module(proto)} as {alias}"
        for proto, alias in pb2_aliases.items()
    ]
    user_imports += [
        f"import {names.errgen_module(proto)} as {alias}"
        for proto, alias in aliases.items()
    ]
    imported = tuple(f"{alias}.ERRGEN" for alias in aliases.values())
    return ModuleView(
        uses_grpc=bool(model.catalogues)
        or any(
            method.mappings for service in model.services for method in service.methods
        ),
        proto=model.proto,
        proto_literal=literal(model.proto),
        registrations=tuple(
            (literal(name), function) for name, function in validators.registrations
        ),
        refusals=tuple(
            (literal(name), literal(diagnostic))
            for name, diagnostic in validators.refusals
        ),
        imports=tuple(
            f"from grpc_errgen import {module.rpartition('.')[2]} as {names.RUNTIME_IMPORTS[module]}"
            for module in runtime
        ),
        user_imports=tuple(sorted(user_imports)),
        catalogues=tuple(_catalogue(c) for c in model.catalogues),
        validators=validators,
        services=tuple(services),
        service_config=_service_config(model),
        imported_files=imported,
        errors=tuple(
            names.error_class(value.reason)
            for catalogue in model.catalogues
            for value in catalogue.values
        ),
    )


def name_problems(model: FileModel) -> list[tuple[SourcePath, str]]:
    """User names that would give clashing Python names in the generated module, as (source path, problem)."""
    problems: list[tuple[SourcePath, str]] = []
    taken: dict[str, str] = {}
    for catalogue in model.catalogues:
        if catalogue.name in names.FIXED_NAMES:
            problems.append(
                (
                    catalogue.source,
                    f"error catalogue {catalogue.name}: the name is reserved by grpc-errgen",
                )
            )
        elif keyword.iskeyword(catalogue.name):
            problems.append(
                (
                    catalogue.source,
                    f"error catalogue {catalogue.name}: a Python keyword cannot name its class",
                )
            )
        taken.setdefault(catalogue.name, catalogue.full_name)
    for catalogue in model.catalogues:
        for value in catalogue.values:
            class_name = names.error_class(value.reason)
            if keyword.iskeyword(class_name):
                problems.append(
                    (
                        value.source,
                        f"{value.reason} gives class {class_name}, a Python keyword: rename the value",
                    )
                )
                continue
            clash = taken.get(class_name)
            if clash is not None or class_name in names.FIXED_NAMES:
                problems.append(
                    (
                        value.source,
                        f"{value.reason} gives class {class_name}, already taken by {clash or 'grpc-errgen'}",
                    )
                )
                continue
            taken[class_name] = f"{catalogue.full_name}.{value.reason}"
    return problems


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(model: FileModel) -> str:
    """The source of ``model``'s generated module, black-formatted."""
    source = _environment().get_template("errgen.py.j2").render(view=module_view(model))
    return black_stable(source)
