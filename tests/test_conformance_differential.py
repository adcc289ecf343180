"""Differential test: generated validators against protovalidate 2.1 on random messages of the conformance types.

Every message type of the conformance cases whose rules the generator compiles (CEL aside) gets random messages:
field values drawn from the values the official cases use, boundary values of the field's type and random ones.
Both validators must agree on the outcome kind and on every violation (field path, rule path, rule id, for_key,
message). Bounded: a fixed number of examples, derandomized, so the test is the same on every run.
"""

from __future__ import annotations

import base64
import collections
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grpc_errgen import validation
from grpc_errgen.errors import ValidationRuntimeError
from tests.conformance import runner

protovalidate = pytest.importorskip("protovalidate")

_FD = descriptor.FieldDescriptor
_INT_RANGES = {
    _FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _FD.TYPE_UINT32: (0, 2**32 - 1),
    _FD.TYPE_FIXED32: (0, 2**32 - 1),
    _FD.TYPE_UINT64: (0, 2**64 - 1),
    _FD.TYPE_FIXED64: (0, 2**64 - 1),
}
_TEXT = st.text(
    alphabet=st.sampled_from("ab AZ09.-_:/@%[]?#é€\x00\U0001f600"), max_size=12
)
#: Bounded in CI; ``GRPC_ERRGEN_DIFFERENTIAL_EXAMPLES=100000`` for a longer hunt by hand.
EXAMPLES = int(os.environ.get("GRPC_ERRGEN_DIFFERENTIAL_EXAMPLES", "3000"))
#: Seconds around now: far enough from it that both validators see the same side of ``now``.
_NOW_OFFSETS = (-7200, -1800, 1800, 7200)


def _seen_values(cases: list[runner.Case]) -> dict[str, list[Any]]:
    """Field full name -> the values the official cases put in it (scalars, and message values as bytes)."""
    seen: dict[str, list[Any]] = collections.defaultdict(list)

    def walk(message: Any) -> None:
        for fd, value in message.ListFields():
            values = (
                list(value.values())
                if _is_map(fd)
                else value if fd.is_repeated else [value]
            )
            if _is_map(fd):
                for key in value:
                    seen[fd.message_type.fields_by_name["key"].full_name].append(key)
            for item in values:
                if isinstance(item, bool | int | float | str | bytes):
                    seen[fd.full_name].append(item)
                elif hasattr(item, "ListFields"):
                    walk(item)

    pool = descriptor_pool.Default()
    for case in cases:
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(case.type))
        walk(cls.FromString(case.input))
    return {name: list(dict.fromkeys(values)) for name, values in seen.items()}


def _is_map(fd: _FD) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


class Messages:
    """Hypothesis strategies building messages of any conformance type."""

    def __init__(self, seen: dict[str, list[Any]]) -> None:
        self.seen = seen

    def scalar(self, fd: _FD) -> st.SearchStrategy[Any]:
        seen = [
            v
            for v in self.seen.get(fd.full_name, [])
            if not isinstance(v, bytes) or fd.type == _FD.TYPE_BYTES
        ]
        if fd.type in _INT_RANGES:
            low, high = _INT_RANGES[fd.type]
            own = st.one_of(
                st.sampled_from([low, high, 0, 1, -1 if low else 2]),
                st.integers(low, high),
            )
        elif fd.type in (_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE):
            width = 32 if fd.type == _FD.TYPE_FLOAT else 64
            own = st.floats(width=width) | st.sampled_from(
                [0.0, -0.0, 1.0, float("inf"), float("nan")]
            )
        elif fd.type == _FD.TYPE_BOOL:
            own = st.booleans()
        elif fd.type == _FD.TYPE_STRING:
            own = _TEXT
        elif fd.type == _FD.TYPE_BYTES:
            own = st.binary(max_size=20) | _TEXT.map(lambda t: t.encode())
        elif fd.type == _FD.TYPE_ENUM:
            assert fd.enum_type is not None
            defined = [v.number for v in fd.enum_type.values]
            # an open enum field holds any int32; a closed one only its values
            own = st.sampled_from(
                defined if fd.enum_type.is_closed else [*defined, -1, 99]
            )
        else:
            raise AssertionError(fd.type)
        seen = [v for v in seen if _fits(fd, v)]
        return st.sampled_from(seen) | own if seen else own

    def message(
        self, desc: descriptor.Descriptor, depth: int = 0
    ) -> st.SearchStrategy[Any]:
        cls = message_factory.GetMessageClass(desc)
        if desc.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
            now = int(time.time())
            seconds = st.integers(-(10**9), 10**10) | st.sampled_from(
                [0, 1, -1, *(now + o for o in _NOW_OFFSETS)]
            )
            nanos = st.sampled_from([0, 1, 500_000_000, 999_999_999])
            if desc.full_name == "google.protobuf.Timestamp":
                return st.builds(
                    lambda s, n: cls(seconds=max(s, -62135596800), nanos=n),
                    seconds,
                    nanos,
                )
            return st.builds(
                lambda s, n: cls(seconds=s, nanos=n if s >= 0 else -n), seconds, nanos
            )
        members: list[tuple[_FD, st.SearchStrategy[Any]]] = []
        for fd in desc.fields:
            if depth > 2 and fd.message_type is not None and not _is_map(fd):
                continue
            members.append((fd, self.field(fd, depth)))
        oneofs = [o for o in desc.oneofs]

        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
            message = cls()
            chosen = {o.name: draw(st.sampled_from([None, *o.fields])) for o in oneofs}
            for fd, strategy in members:
                if (
                    fd.containing_oneof is not None
                    and chosen[fd.containing_oneof.name] is not fd
                ):
                    continue
                if fd.containing_oneof is None and not draw(st.booleans()):
                    continue
                _assign(message, fd, draw(strategy))
            return message

        return build()

    def field(self, fd: _FD, depth: int) -> st.SearchStrategy[Any]:
        if _is_map(fd):
            key = self.scalar(fd.message_type.fields_by_name["key"])
            value_fd = fd.message_type.fields_by_name["value"]
            return st.dictionaries(key, self.single(value_fd, depth), max_size=3)
        if fd.is_repeated:
            return st.lists(self.single(fd, depth), max_size=3)
        return self.single(fd, depth)

    def single(self, fd: _FD, depth: int) -> st.SearchStrategy[Any]:
        if fd.message_type is None:
            return self.scalar(fd)
        if fd.message_type.full_name == "google.protobuf.Any":
            urls = [v for v in self.seen.get("google.protobuf.Any.type_url", [])] or [
                "type.googleapis.com/x"
            ]
            any_cls = message_factory.GetMessageClass(fd.message_type)
            return st.sampled_from(urls).map(lambda url: any_cls(type_url=url))
        return self.message(fd.message_type, depth + 1)


def _fits(fd: _FD, value: Any) -> bool:
    kinds = {
        _FD.TYPE_STRING: str,
        _FD.TYPE_BYTES: bytes,
        _FD.TYPE_BOOL: bool,
        _FD.TYPE_FLOAT: float,
        _FD.TYPE_DOUBLE: float,
    }
    kind = kinds.get(fd.type, int)
    return isinstance(value, kind) and (kind is not int or not isinstance(value, bool))


def _assign(message: Any, fd: _FD, value: Any) -> None:
    target = getattr(message, fd.name)
    if _is_map(fd):
        for key, item in value.items():
            if fd.message_type.fields_by_name["value"].message_type is not None:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif fd.is_repeated:
        if fd.message_type is not None:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif fd.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(message, fd.name, value)


def _ours(message: Any) -> tuple[str, Any]:
    try:
        found = validation.violations(message)
    except ValidationRuntimeError:
        return "runtime_error", None
    return (
        ("violations", sorted(map(_key, map(runner.violation_json, found))))
        if found
        else ("success", None)
    )


def _theirs(validator: Any, message: Any) -> tuple[str, Any]:
    try:
        found = validator.collect_violations(message)
    except protovalidate.CompilationError:
        return "compilation_error", None
    except protovalidate.EvaluationError:
        return "runtime_error", None
    if not found:
        return "success", None
    return "violations", sorted(_key(_protovalidate_json(v)) for v in found)


def _key(violation: dict[str, Any]) -> str:
    return repr(
        (
            runner._path_key(violation["field"]),
            runner._path_key(violation["rule"]),
            violation["rule_id"],
            violation["for_key"],
            violation.get("message", ""),
        )
    )


def _protovalidate_json(violation: Any) -> dict[str, Any]:
    """protovalidate's violation (its own protobuf runtime) re-read as ``buf.validate.Violation``."""
    proto = violation.proto
    data = (
        proto.SerializeToString()
        if hasattr(proto, "SerializeToString")
        else proto.to_binary()
    )
    cls = message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName("buf.validate.Violation")
    )
    parsed = cls.FromString(data)

    def elements(path: Any) -> list[dict[str, Any]]:
        found = []
        for element in path.elements:
            item: dict[str, Any] = {}
            if element.HasField("field_name"):
                item["name"] = element.field_name
            if element.HasField("field_number"):
                item["number"] = element.field_number
            for name, key in (
                ("field_type", "type"),
                ("key_type", "key_type"),
                ("value_type", "value_type"),
            ):
                if element.HasField(name):
                    item[key] = descriptor_pb2.FieldDescriptorProto.Type.Name(
                        getattr(element, name)
                    )
            which = element.WhichOneof("subscript")
            if which:
                item[which] = getattr(element, which)
            found.append(item)
        return found

    return {
        "field": elements(parsed.field),
        "rule": elements(parsed.rule),
        "rule_id": parsed.rule_id,
        "message": parsed.message,
        "for_key": parsed.for_key,
    }


@pytest.fixture(scope="module")
def subjects(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Messages]:
    runner.prepare(tmp_path_factory.mktemp("conformance"))
    cases = runner.load_cases()
    expected = runner.load_expected_failures()
    cel_types = {case.type for case in cases if case.id in expected}
    types = sorted(
        {
            case.type
            for case in cases
            if case.type not in cel_types
            and case.expected["result"] != "compilation_error"
            and validation.refusal(case.type) is None
        }
    )
    return types, Messages(_seen_values(cases))


def test_generated_validators_agree_with_protovalidate(
    subjects: tuple[list[str], Messages],
) -> None:
    types, messages = subjects
    pool = descriptor_pool.Default()
    validator = protovalidate.Validator()
    by_type = {
        name: messages.message(pool.FindMessageTypeByName(name)) for name in types
    }
    disagreements: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=EXAMPLES <= 3000,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(types).flatmap(by_type.__getitem__))
    def agree(message: Any) -> None:
        ours, theirs = _ours(message), _theirs(validator, message)
        if ours != theirs and len(disagreements) < 20:
            disagreements.append(
                f"{message.DESCRIPTOR.full_name} {base64.b64encode(message.SerializePartialToString()).decode()}:"
                f"\n  ours:   {ours}\n  theirs: {theirs}"
            )

    agree()
    assert disagreements == []


def test_the_strategies_reach_violations(subjects: tuple[list[str], Messages]) -> None:
    """A differential test that never produces a violation cannot fail: make sure it does."""
    types, messages = subjects
    pool = descriptor_pool.Default()
    kinds: collections.Counter[str] = collections.Counter()

    @settings(
        max_examples=300,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.sampled_from(types).flatmap(
            lambda name: messages.message(pool.FindMessageTypeByName(name))
        )
    )
    def count(message: Any) -> None:
        kinds[_ours(message)[0]] += 1

    count()
    assert kinds["violations"] > 30 and kinds["success"] > 30
