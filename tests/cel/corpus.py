"""Every CEL expression of the protovalidate conformance descriptors, with the environment it is checked in."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from grpc_errgen.codegen.cel import ast
from grpc_errgen.codegen.cel.check import (
    CelEnv,
    const_value,
    field_type,
    message_this,
    value_type,
)

# The conformance data: the repository's copy when there is one, else the shared export it is made from.
_IN_REPO = Path(__file__).parent.parent / "conformance"
CONFORMANCE = (
    _IN_REPO
    if (_IN_REPO / "cases.jsonl").exists()
    else Path("/work/shared/protovalidate-conformance")
)
DESCRIPTORS = CONFORMANCE / "descriptors.binpb"
CASES = CONFORMANCE / "cases.jsonl"

# The value type of ``this`` in the standard rules of validate.proto, per rules message.
_RULES_THIS = {
    "FloatRules": ast.DOUBLE,
    "DoubleRules": ast.DOUBLE,
    "Int32Rules": ast.INT,
    "Int64Rules": ast.INT,
    "SInt32Rules": ast.INT,
    "SInt64Rules": ast.INT,
    "SFixed32Rules": ast.INT,
    "SFixed64Rules": ast.INT,
    "UInt32Rules": ast.UINT,
    "UInt64Rules": ast.UINT,
    "Fixed32Rules": ast.UINT,
    "Fixed64Rules": ast.UINT,
    "BoolRules": ast.BOOL,
    "StringRules": ast.STRING,
    "BytesRules": ast.BYTES,
    "EnumRules": ast.INT,
    "RepeatedRules": ast.list_of(ast.STRING),
    "MapRules": ast.map_of(ast.STRING, ast.STRING),
    "DurationRules": ast.DURATION,
    "TimestampRules": ast.TIMESTAMP,
    "FieldMaskRules": ast.message("google.protobuf.FieldMask"),
}


@cache
def pool() -> descriptor_pool.DescriptorPool:
    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())
    result = descriptor_pool.DescriptorPool()
    for file in fds.file:
        result.Add(file)
    return result


def message_class(name: str) -> type[Message]:
    return message_factory.GetMessageClass(pool().FindMessageTypeByName(name))  # type: ignore[no-any-return]


def _options(options: Message, name: str) -> Message:
    return message_class(name).FromString(options.SerializeToString())


@dataclass(frozen=True)
class Rule:
    """One expression: where it is written and the environment protovalidate checks it in."""

    where: str
    expression: str
    env: CelEnv
    rule_id: str = ""
    message: str = ""
    owner: str = (
        ""  # the case message's full name ("" for validate.proto's standard rules)
    )
    field: str = ""  # the field's name; "" for a message rule
    part: str = ""  # "", "items", "keys" or "values"


def _field_rules() -> Any:
    return pool().FindExtensionByName("buf.validate.field")


def _predefined() -> Any:
    return pool().FindExtensionByName("buf.validate.predefined")


def _this_of(field: FieldDescriptor, part: str) -> ast.CelType:
    if part == "items":
        return value_type(field, unwrap=True)
    if part in ("keys", "values"):
        entry = field.message_type
        return value_type(
            entry.fields_by_name["key" if part == "keys" else "value"], unwrap=True
        )
    return field_type(field, unwrap=True)


def _element(field: FieldDescriptor, part: str) -> FieldDescriptor:
    if part in ("keys", "values"):
        return field.message_type.fields_by_name["key" if part == "keys" else "value"]  # type: ignore[no-any-return]
    return field


def rules(include_standard: bool = True) -> Iterator[Rule]:
    """Every expression of the conformance descriptors: field, element and message rules of the case messages,
    predefined rules as each case field uses them (``rule``/``rules`` bound to that field's values), and, with
    ``include_standard``, validate.proto's own standard rules (checked with empty rules).
    """
    p = pool()
    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())
    for file in fds.file:
        fd = p.FindFileByName(file.name)
        if file.name == "buf/validate/validate.proto":
            if include_standard:
                yield from _standard(fd)
            continue
        for msg in _messages(fd.message_types_by_name.values()):
            yield from _message_rules(msg)


def _messages(messages: Any) -> Iterator[Descriptor]:
    for msg in messages:
        yield msg
        yield from _messages(msg.nested_types)


def _standard(fd: Any) -> Iterator[Rule]:
    predefined = _predefined()
    for msg in fd.message_types_by_name.values():
        this = _RULES_THIS.get(msg.name)
        if this is None:
            continue
        rules_value = message_class(msg.full_name)()
        for field in msg.fields:
            options = _options(field.GetOptions(), "google.protobuf.FieldOptions")
            if not options.HasExtension(predefined):
                continue
            rule_value = const_value(field, getattr(rules_value, field.name))
            env = CelEnv(
                pool(), this, rules=rules_value, rule=(field_type(field), rule_value)
            )
            for rule in options.Extensions[predefined].cel:
                yield Rule(
                    f"{msg.full_name}.{field.name}",
                    rule.expression,
                    env,
                    rule.id,
                    rule.message,
                )


def _message_rules(msg: Descriptor) -> Iterator[Rule]:
    message_ext = pool().FindExtensionByName("buf.validate.message")
    options = _options(msg.GetOptions(), "google.protobuf.MessageOptions")
    env = CelEnv(pool(), message_this(msg))
    if options.HasExtension(message_ext):
        found = options.Extensions[message_ext]
        for rule in found.cel:
            yield Rule(
                msg.full_name,
                rule.expression,
                env,
                rule.id,
                rule.message,
                msg.full_name,
            )
        for text in found.cel_expression:
            yield Rule(msg.full_name, text, env, text, "", msg.full_name)
    for field in msg.fields:
        yield from _field(msg, field)


def _field(msg: Descriptor, field: FieldDescriptor) -> Iterator[Rule]:
    options = _options(field.GetOptions(), "google.protobuf.FieldOptions")
    if not options.HasExtension(_field_rules()):
        return
    found = options.Extensions[_field_rules()]
    where = f"{msg.full_name}.{field.name}"
    owner = (msg.full_name, field.name)
    yield from _rules_of(found, field, "", where, owner)
    if found.HasField("repeated"):
        yield from _rules_of(
            found.repeated.items, field, "items", where + ".items", owner
        )
    if found.HasField("map"):
        yield from _rules_of(found.map.keys, field, "keys", where + ".keys", owner)
        yield from _rules_of(
            found.map.values, field, "values", where + ".values", owner
        )


def _rules_of(
    found: Any, field: FieldDescriptor, part: str, where: str, owner: tuple[str, str]
) -> Iterator[Rule]:
    env = CelEnv(pool(), _this_of(field, part))
    for rule in found.cel:
        yield Rule(where, rule.expression, env, rule.id, rule.message, *owner, part)
    for text in found.cel_expression:
        yield Rule(where, text, env, text, "", *owner, part)
    kind = found.WhichOneof("type")
    if kind is None:
        return
    rules_value = getattr(found, kind)
    predefined = _predefined()
    element = _element(field, part)
    for ext, value in rules_value.ListFields():
        if not ext.is_extension:
            continue
        ext_options = _options(ext.GetOptions(), "google.protobuf.FieldOptions")
        if not ext_options.HasExtension(predefined):
            continue
        this = (
            _this_of(field, part)
            if kind not in ("repeated", "map")
            else field_type(element)
        )
        rule_value = const_value(ext, value)
        env = CelEnv(
            pool(), this, rules=rules_value, rule=(field_type(ext), rule_value)
        )
        for rule in ext_options.Extensions[predefined].cel:
            yield Rule(
                f"{where}[{ext.full_name}]",
                rule.expression,
                env,
                rule.id,
                rule.message,
                *owner,
                part,
            )


def cases(suites: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    with CASES.open() as lines:
        for line in lines:
            case = json.loads(line)
            if case["suite"] in suites:
                yield case


def decode(case: dict[str, Any]) -> Message:
    return message_class(case["type"]).FromString(base64.b64decode(case["input"]))


IGNORE_IF_ZERO_VALUE = 1
IGNORE_ALWAYS = 3


@cache
def ignore_of(full_name: str, field_name: str) -> int:
    """The field's ``(buf.validate.field).ignore``."""
    field = pool().FindMessageTypeByName(full_name).fields_by_name[field_name]
    options = _options(field.GetOptions(), "google.protobuf.FieldOptions")
    if not options.HasExtension(_field_rules()):
        return 0
    return int(options.Extensions[_field_rules()].ignore)
