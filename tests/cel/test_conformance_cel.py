"""Every CEL expression of the protovalidate conformance descriptors checks and emits; the emitted Python,
evaluated on the custom_rules and predefined suites' messages, agrees with protovalidate 2.1 on them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from typing import Any

import black
import protovalidate
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from grpc_errgen import cel as runtime
from grpc_errgen.codegen.backend.cel import Constants, emit
from grpc_errgen.codegen.cel.check import CelError, check, const_value
from tests.cel import corpus

# protovalidate reports a compilation error for these two, and so must we.
COMPILATION_ERRORS = {
    "buf.validate.conformance.cases.custom_rules.MissingField",
    "buf.validate.conformance.cases.custom_rules.IncorrectType",
}

Compiled = Callable[[object, int], object]


def compile_rule(rule: corpus.Rule) -> Compiled:
    """The emitted expression as a function of ``this`` and ``now``, its constants bound as a module would."""
    constants = Constants()
    emitted = emit(check(rule.expression, rule.env), constants.add, "this")
    namespace: dict[str, Any] = {"cel": runtime}
    for name, source in constants.sources.items():
        namespace[name] = eval(source, namespace)
    source = f"def _rule(this, now):\n    return {emitted.source}\n"
    black.format_str(source, mode=black.Mode())  # valid Python that black accepts
    exec(source, namespace)
    return namespace["_rule"]  # type: ignore[no-any-return]


def test_every_expression_checks_and_emits() -> None:
    checked, failed = 0, []
    for rule in corpus.rules():
        try:
            compile_rule(rule)
            checked += 1
        except CelError as exc:
            failed.append((rule.owner, rule.expression, exc.message))
    assert {owner for owner, _, _ in failed} == COMPILATION_ERRORS, failed
    assert len(failed) == 2
    assert (
        checked > 500
    )  # 318 standard rules of validate.proto + the case protos' rules


def test_compilation_errors_point_at_the_problem() -> None:
    found = {
        r.owner: r
        for r in corpus.rules(include_standard=False)
        if r.owner in COMPILATION_ERRORS
    }
    with pytest.raises(CelError) as missing:
        check(
            found[min(COMPILATION_ERRORS)].expression,
            found[min(COMPILATION_ERRORS)].env,
        )
    assert (
        "startsWith" in missing.value.message and missing.value.offset == 17
    )  # the "(" of the call
    with pytest.raises(CelError) as field:
        check(
            found[max(COMPILATION_ERRORS)].expression,
            found[max(COMPILATION_ERRORS)].env,
        )
    assert "'b'" in field.value.message and field.value.offset == 4  # this.b: the "."


# -- evaluation against protovalidate ----------------------------------------------------------------------


@cache
def _rules() -> dict[tuple[str, str, str], list[tuple[corpus.Rule, Compiled]]]:
    found: dict[tuple[str, str, str], list[tuple[corpus.Rule, Compiled]]] = defaultdict(
        list
    )
    for rule in corpus.rules(include_standard=False):
        if rule.owner in COMPILATION_ERRORS:
            continue
        found[(rule.owner, rule.field, rule.part)].append((rule, compile_rule(rule)))
    return found


def _run(
    key: tuple[str, str, str],
    this: object,
    path: str,
    now: int,
    out: list[tuple[str, str, str]],
) -> None:
    for rule, fn in _rules().get(key, ()):
        result = fn(this, now)
        if result is False:  # protovalidate's message when the rule gives none
            out.append(
                (
                    path,
                    rule.rule_id,
                    rule.message or f"{json.dumps(rule.expression)} returned false",
                )
            )
        elif isinstance(result, str) and result:
            out.append((path, rule.rule_id, result))


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def evaluate(
    msg: Message, prefix: str, now: int, out: list[tuple[str, str, str]]
) -> None:
    """What our rules say about ``msg``: (field path, rule id, message) for each failed CEL rule."""
    name = msg.DESCRIPTOR.full_name
    _run((name, "", ""), msg, prefix.rstrip("."), now, out)
    for field in msg.DESCRIPTOR.fields:
        path = prefix + field.name
        value = getattr(msg, field.name)
        if (
            field.has_presence
            and not field.is_repeated
            and not msg.HasField(field.name)
        ):
            continue
        ignore = corpus.ignore_of(name, field.name)
        if ignore == corpus.IGNORE_ALWAYS:
            continue
        zero = (
            field.is_repeated or not field.has_presence
        )  # with presence, "set" is enough
        if ignore == corpus.IGNORE_IF_ZERO_VALUE and zero and not runtime.is_set(value):
            continue
        _run((name, field.name, ""), const_value(field, value), path, now, out)
        if _is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for k, v in value.items():
                sub = f"{path}[{json.dumps(k)}]"
                _run((name, field.name, "keys"), k, sub, now, out)
                _run(
                    (name, field.name, "values"),
                    const_value(value_field, v),
                    sub,
                    now,
                    out,
                )
                if value_field.message_type is not None:
                    evaluate(v, sub + ".", now, out)
            del key_field
        elif field.is_repeated:
            for i, v in enumerate(value):
                _run((name, field.name, "items"), const_value(field, [v])[0], f"{path}[{i}]", now, out)  # type: ignore[index]
                if field.message_type is not None:
                    evaluate(v, f"{path}[{i}].", now, out)
        elif field.message_type is not None:
            evaluate(value, path + ".", now, out)


def _render(elements: Any) -> str:
    parts = []
    for e in elements:
        text = e.field_name
        which = e.WhichOneof("subscript")
        if which:
            text += f"[{json.dumps(getattr(e, which))}]"
        parts.append(text)
    return ".".join(parts)


@cache
def _validator() -> Any:
    return protovalidate.Validator()


def reference(msg: Message, ids: set[str]) -> tuple[str, list[tuple[str, str, str]]]:
    """protovalidate's outcome, its violations restricted to the CEL rules' ids."""
    try:
        found = _validator().collect_violations(msg)
    except protovalidate.CompilationError:
        return "compilation_error", []
    except protovalidate.EvaluationError:
        return "runtime_error", []
    out = []
    violation_class = corpus.message_class("buf.validate.Violation")
    for violation in found:
        pb = violation.proto
        data = (
            pb.SerializeToString()
            if hasattr(pb, "SerializeToString")
            else pb.to_binary()
        )
        proto: Any = violation_class.FromString(data)
        if proto.rule_id in ids:
            out.append((_render(proto.field.elements), proto.rule_id, proto.message))
    return "ok", sorted(out)


@pytest.mark.parametrize("suite", ["custom_rules", "predefined"])
def test_evaluation_agrees_with_protovalidate(suite: str) -> None:
    ids = {rule.rule_id for rules in _rules().values() for rule, _ in rules}
    now = runtime.now()
    compared = 0
    disagreements = []
    for case in corpus.cases((suite,)):
        msg = corpus.decode(case)
        want_kind, want = reference(msg, ids)
        if msg.DESCRIPTOR.full_name in COMPILATION_ERRORS:
            assert (
                want_kind != "ok"
            )  # protovalidate-python reports them when it first validates
            continue
        got: list[tuple[str, str, str]] = []
        try:
            evaluate(msg, "", now, got)
            got_kind = "ok"
        except runtime.CelEvalError:
            got_kind = "runtime_error"
        compared += 1
        if (got_kind, sorted(got) if got_kind == "ok" else []) != (want_kind, want):
            disagreements.append((case["name"], got_kind, sorted(got), want_kind, want))
    assert not disagreements, "\n".join(map(str, disagreements))
    assert compared > 50
