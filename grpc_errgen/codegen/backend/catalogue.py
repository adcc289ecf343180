"""The error and policy catalogue (``grpc-errgen docs``): a second back end beside the Python one.

One walk of the run's models builds the catalogue document (plain JSON values, the schema in docs/catalogue.md);
``markdown`` renders that same document for people. Per service and rpc: auth and scopes, timeout and retry policy,
the declared errors (code, reason, domain, default message, retryable, retry delay, the generated Python class),
the exception mappings, and the request's validation rules in words (protovalidate's violation messages, with the
field path they apply to, nested messages included).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from grpc_errgen.codegen.backend import names
from grpc_errgen.codegen.cel.ast import Kind
from grpc_errgen.codegen.model.files import ErrorValue, FileModel, Method
from grpc_errgen.codegen.model.rules import (
    CelRule,
    Ignore,
    MapField,
    MessageRules,
    RepeatedField,
    Rule,
    SingleField,
    ValueRules,
)

SCHEMA = "grpc-errgen-catalogue/1"
_LEVELS = {0: "method", 1: "service", 2: "file"}
_ARITY = {
    (False, False): "unary",
    (False, True): "server_streaming",
    (True, False): "client_streaming",
    (True, True): "bidi_streaming",
}

Json = dict[str, Any]


def _error(value: ErrorValue, catalogue: str, domain: str, proto: str) -> Json:
    return {
        "reason": value.reason,
        "domain": domain,
        "code": value.code,
        "message": value.message,
        "retryable": value.retryable,
        "retry_delay_seconds": value.retry_delay,
        "catalogue": catalogue,
        "proto": proto,
        "python_class": f"{names.errgen_module(proto)}.{names.error_class(value.reason)}",
        "doc": value.doc,
    }


class _Run:
    """Every model of the run, indexed: catalogues by (proto, enum name), validated messages by full name."""

    def __init__(self, models: Mapping[str, FileModel]) -> None:
        self.models = models
        self.catalogues = {
            (proto, catalogue.name): catalogue
            for proto, model in models.items()
            for catalogue in model.catalogues
        }
        self.messages: dict[str, MessageRules] = {
            message.full_name: message
            for model in models.values()
            for message in model.validators.messages
        }

    def errors(self, method: Method) -> list[Json]:
        found = []
        for ref in method.errors:
            catalogue = self.catalogues.get((ref.proto, ref.catalogue))
            value = (
                next((v for v in catalogue.values if v.reason == ref.reason), None)
                if catalogue
                else None
            )
            if catalogue is None or value is None:  # declared in a file outside the run
                found.append(
                    {
                        "reason": ref.reason,
                        "catalogue": ref.catalogue,
                        "proto": ref.proto,
                    }
                )
            else:
                found.append(_error(value, catalogue.name, catalogue.domain, ref.proto))
        return found

    def rules(
        self, message: str, prefix: str = "", seen: tuple[str, ...] = ()
    ) -> Iterator[Json]:
        """The rules that apply to a ``message`` value, nested messages' included, in field order."""
        rules = self.messages.get(message)
        if rules is None:
            return
        if message in seen:
            yield _entry(prefix, "message", f"validated again as {message} (recursive)")
            return
        seen = (*seen, message)
        for oneof in rules.oneofs:
            if oneof.required:
                yield _entry(
                    _join(prefix, oneof.name),
                    "required",
                    "exactly one field is required in oneof",
                )
        for group in rules.groups:
            many = "exactly one" if group.required else "at most one"
            yield _entry(
                prefix,
                "message.oneof",
                f"{many} of {', '.join(group.fields)} may be set",
            )
        for cel in rules.cel:
            yield _rule(prefix, cel)
        for field in rules.fields:
            path = _join(prefix, field.name)
            if field.ignore is Ignore.ALWAYS:
                continue
            when = " (when set)" if field.ignore is Ignore.IF_ZERO_VALUE else ""
            if field.required is not None:
                yield _entry(path, field.required.rule_id, field.required.message)
            if isinstance(field, SingleField):
                yield from self._value(path, field.value, when, seen)
            elif isinstance(field, RepeatedField):
                yield from (_rule(path, rule, when) for rule in field.rules)
                yield from self._value(f"{path}[*]", field.items, when, seen)
            elif isinstance(field, MapField):
                yield from (_rule(path, rule, when) for rule in field.rules)
                yield from self._value(f"{path}[key]", field.keys, when, seen)
                yield from self._value(f"{path}[*]", field.values, when, seen)

    def _value(
        self, path: str, value: ValueRules, when: str, seen: tuple[str, ...]
    ) -> Iterator[Json]:
        if value.ignore is Ignore.ALWAYS:
            return
        if value.ignore is Ignore.IF_ZERO_VALUE:
            when = " (when set)"
        for rule in value.rules:
            yield _rule(path, rule, when)
        if value.message_type is not None:
            yield from self.rules(value.message_type, path, seen)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _entry(field: str, rule: str, description: str) -> Json:
    return {"field": field, "rule": rule, "description": description}


def _rule(field: str, rule: Rule, when: str = "") -> Json:
    text = rule.message
    if isinstance(rule, CelRule):
        if rule.expr.root.type.kind is not Kind.BOOL:
            # A string result is the violation's message: no fixed text to show.
            text = f"the message the expression returns (CEL: {rule.expr.source})"
        elif rule.message:
            text = f"{rule.message} (CEL: {rule.expr.source})"
        else:
            text = f"CEL: {rule.expr.source}"
    return _entry(field, rule.rule_id, text + when)


def _method(run: _Run, method: Method) -> Json:
    return {
        "name": method.name,
        "full_method": method.full_method,
        "kind": _ARITY[(method.client_streaming, method.server_streaming)],
        "doc": method.doc,
        "auth": {"required": method.auth_required, "scopes": list(method.scopes)},
        "timeout_seconds": method.timeout,
        "retry": (
            None
            if method.retry is None
            else {
                "max_attempts": method.retry.max_attempts,
                "initial_backoff": method.retry.initial_backoff,
                "max_backoff": method.retry.max_backoff,
                "backoff_multiplier": method.retry.backoff_multiplier,
                "retryable_codes": list(method.retry.retryable_codes),
            }
        ),
        "errors": run.errors(method),
        "exception_mappings": [
            {
                "exception": mapping.exception,
                "code": mapping.code,
                "message": mapping.message,
                "declared_on": _LEVELS[mapping.level],
            }
            for mapping in method.mappings
        ],
        "request": {
            "type": method.request_type,
            "validated": not method.skip_validation,
            "rules": (
                [] if method.skip_validation else list(run.rules(method.request_type))
            ),
        },
    }


def document(models: Mapping[str, FileModel]) -> Json:
    """The catalogue of the run's files (those with services or error catalogues), as JSON values."""
    run = _Run(models)
    files = []
    for proto, model in models.items():
        if not (model.services or model.catalogues):
            continue
        files.append(
            {
                "proto": proto,
                "module": names.errgen_module(proto),
                "catalogues": [
                    {
                        "name": catalogue.name,
                        "full_name": catalogue.full_name,
                        "domain": catalogue.domain,
                        "doc": catalogue.doc,
                        "errors": [
                            _error(value, catalogue.name, catalogue.domain, proto)
                            for value in catalogue.values
                        ],
                    }
                    for catalogue in model.catalogues
                ],
                "services": [
                    {
                        "name": service.name,
                        "full_name": service.full_name,
                        "doc": service.doc,
                        "methods": [_method(run, method) for method in service.methods],
                    }
                    for service in model.services
                ],
            }
        )
    return {"schema": SCHEMA, "files": files}


# -- Markdown --------------------------------------------------------------------------------------------------


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:g}s"


def _error_rows(errors: list[Json]) -> Iterator[str]:
    yield "| reason | code | domain | default message | retryable | retry delay | Python class |"
    yield "|---|---|---|---|---|---|---|"
    for error in errors:
        yield (
            f"| `{error['reason']}` | {error.get('code', '')} | {_cell(error.get('domain', ''))} | "
            f"{_cell(error.get('message', ''))} | {'yes' if error.get('retryable') else 'no'} | "
            f"{_seconds(error.get('retry_delay_seconds'))} | {_code(error.get('python_class', ''))} |"
        )


def _method_lines(method: Json) -> Iterator[str]:
    yield f"#### `{method['full_method']}`"
    yield ""
    if method["doc"]:
        yield method["doc"]
        yield ""
    auth = method["auth"]
    scopes = ", ".join(f"`{s}`" for s in auth["scopes"])
    yield f"- kind: {method['kind'].replace('_', ' ')}"
    if auth["required"]:
        yield "- auth: required" + (f"; scopes: {scopes}" if scopes else "")
    else:
        yield "- auth: not required" + (
            f" (scopes when authenticated: {scopes})" if scopes else ""
        )
    yield f"- timeout: {_seconds(method['timeout_seconds']) or 'none (the caller decides)'}"
    retry = method["retry"]
    if retry is None:
        yield "- retry: none"
    else:
        yield (
            f"- retry: up to {retry['max_attempts']} attempts on {', '.join(retry['retryable_codes'])}, "
            f"backoff {retry['initial_backoff']} to {retry['max_backoff']} (x{retry['backoff_multiplier']:g})"
        )
    yield ""
    if method["errors"]:
        yield "Declared errors:"
        yield ""
        yield from _error_rows(method["errors"])
        yield ""
    if method["exception_mappings"]:
        yield "Exception mappings (the nearest wins; subclasses match):"
        yield ""
        yield "| exception | code | message | declared on |"
        yield "|---|---|---|---|"
        for mapping in method["exception_mappings"]:
            message = _cell(mapping["message"]) or "(the code's fixed text)"
            yield (
                f"| `{mapping['exception']}` | {mapping['code']} | {message} | "
                f"{mapping['declared_on']} |"
            )
        yield ""
    request = method["request"]
    if not request["validated"]:
        yield f"Request `{request['type']}`: not validated (skip_validation)."
    elif not request["rules"]:
        yield f"Request `{request['type']}`: no validation rules."
    else:
        yield (
            f"Request `{request['type']}`: INVALID_ARGUMENT with one violation per broken rule "
            "(field, rule id, message):"
        )
        yield ""
        yield "| field | rule | message |"
        yield "|---|---|---|"
        for rule in request["rules"]:
            yield f"| {_code(rule['field'])} | `{rule['rule']}` | {_cell(rule['description'])} |"
    yield ""


def markdown(catalogue: Json) -> str:
    """The catalogue for people: one section per file, service and rpc."""
    lines = [
        "# Error and policy catalogue",
        "",
        "Generated by `grpc-errgen docs`. Do not edit.",
        "",
    ]
    for file in catalogue["files"]:
        lines += [f"## {file['proto']}", "", f"Module: `{file['module']}`", ""]
        for service in file["services"]:
            lines += [f"### Service `{service['full_name']}`", ""]
            if service["doc"]:
                lines += [service["doc"], ""]
            for method in service["methods"]:
                lines += list(_method_lines(method))
        for catalogue_ in file["catalogues"]:
            lines += [
                f"### Error catalogue `{catalogue_['full_name']}` (domain `{catalogue_['domain']}`)",
                "",
            ]
            if catalogue_["doc"]:
                lines += [catalogue_["doc"], ""]
            lines += [*_error_rows(catalogue_["errors"]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
