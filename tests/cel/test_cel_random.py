"""Random differential against protovalidate 2.1: random messages of every type that carries CEL rules in the
conformance protos (custom rules, predefined rules), validated by protovalidate and by our emitted code.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from grpc_errgen import cel as runtime
from tests.cel import corpus
from tests.cel.test_conformance_cel import (
    COMPILATION_ERRORS,
    _rules,
    evaluate,
    reference,
)

INT32 = [0, 1, -1, 2, 3, 24, 25, 42, 43, 2**31 - 1, -(2**31)]
INT64 = [*INT32, 2**63 - 1, -(2**63), 1049587200, 1080432000]
UINT32 = [0, 1, 2, 3, 5, 2**32 - 1]
UINT64 = [*UINT32, 2**64 - 1]
FLOATS = [0.0, -0.0, 1.5, -1.5, 2.0, -2.0, math.nan, math.inf, -math.inf, 1e10, 0.1]
STRINGS = [
    "",
    "foo",
    "bar",
    "a/b",
    "../x",
    "a//b",
    "é",
    "x" * 5,
    "example.com",
    "1.2.3.4",
    "::1",
    "a@b.c",
]
BYTES = [b"", b"foo", b"\xff", b"a/b", b"\x00\x01\x02\x03"]

_INTS = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
}


def _scalar(rng: random.Random, field: FieldDescriptor) -> Any:
    if field.type in _INTS:
        return rng.choice(_INTS[field.type])
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return rng.choice(FLOATS)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == FieldDescriptor.TYPE_STRING:
        return rng.choice(STRINGS)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return rng.choice(BYTES)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return rng.choice([v.number for v in field.enum_type.values] + [5])
    raise AssertionError(field.type)


def fill(rng: random.Random, msg: Message, depth: int = 0) -> None:
    descriptor: Descriptor = msg.DESCRIPTOR
    name = descriptor.full_name
    if name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
        msg.seconds = rng.choice([0, 1, 5, 10, 11, -1, 1049587200, 1080432000, 1_000_000_000])  # type: ignore[attr-defined]
        msg.nanos = rng.choice([0, 0, 1, 999_999_999]) if msg.seconds >= 0 else 0  # type: ignore[attr-defined]
        return
    chosen = {o.name: rng.choice(o.fields) for o in descriptor.oneofs}
    for field in descriptor.fields:
        if (
            field.containing_oneof is not None
            and chosen[field.containing_oneof.name] is not field
        ):
            continue
        if rng.random() < 0.3:
            continue
        value = getattr(msg, field.name)
        is_map = (
            field.message_type is not None and field.message_type.GetOptions().map_entry
        )
        if is_map:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for _ in range(rng.randint(0, 3)):
                key = _scalar(rng, key_field)
                if value_field.message_type is not None:
                    if depth < 2:
                        fill(rng, value[key], depth + 1)
                else:
                    value[key] = _scalar(rng, value_field)
        elif field.is_repeated:
            for _ in range(rng.randint(0, 6)):
                if field.message_type is not None:
                    if depth < 2:
                        fill(rng, value.add(), depth + 1)
                elif (
                    field.type != FieldDescriptor.TYPE_ENUM
                    or not field.enum_type.is_closed
                ):
                    value.append(_scalar(rng, field))
        elif field.message_type is not None:
            if depth < 3:
                value.SetInParent()
                fill(rng, value, depth + 1)
        else:
            try:
                setattr(msg, field.name, _scalar(rng, field))
            except ValueError:  # a closed enum refuses unknown numbers
                setattr(msg, field.name, field.enum_type.values[0].number)


@pytest.mark.parametrize("seed", range(3))
def test_random_messages_agree_with_protovalidate(seed: int) -> None:
    rng = random.Random(seed)
    types = sorted({owner for owner, _, _ in _rules()} - COMPILATION_ERRORS - {""})
    ids = {rule.rule_id for rules in _rules().values() for rule, _ in rules}
    now = runtime.now()
    disagreements = []
    violations = 0
    for name in types:
        for _ in range(40):
            msg = corpus.message_class(name)()
            fill(rng, msg)
            want_kind, want = reference(msg, ids)
            got: list[tuple[str, str, str]] = []
            try:
                evaluate(msg, "", now, got)
                got_kind = "ok"
            except runtime.CelEvalError:
                got_kind = "runtime_error"
            violations += len(got)
            if (got_kind, sorted(got) if got_kind == "ok" else []) != (want_kind, want):
                disagreements.append(
                    (name, msg, got_kind, sorted(got), want_kind, want)
                )
    assert not disagreements, "\n".join(map(str, disagreements[:10]))
    assert violations > 100
