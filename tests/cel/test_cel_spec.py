"""cel-spec's own conformance tests (``tests/simple/testdata``, vendored in ``cel_spec/``) against the compiler.

Every test whose expression we compile is evaluated by the emitted Python and compared with the expected value or
evaluation error. Tests that need what rules never use (bindings, a container, disabled checks, unknowns) are
left out; an expression we refuse to compile is counted, never silently passed. The few answers where we differ
on purpose are listed with their reasons. At the vendored commit: 879 tests compiled and agree (4 listed
differences), 86 refused (``type()``, message literals, ``strings.quote``...), 150 not applicable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
)

from grpc_errgen import cel as runtime
from grpc_errgen.codegen.backend.cel import Constants, emit
from grpc_errgen.codegen.cel import ast
from grpc_errgen.codegen.cel.ast import CelError
from grpc_errgen.codegen.cel.check import CelEnv, check

DATA = Path(__file__).parent / "cel_spec"
SUITES = sorted(p.stem for p in DATA.glob("*.textproto"))
ERROR = "<error>"

# Where we answer otherwise, on purpose.
_NANOS_IN_DYN = "durations and timestamps are int nanoseconds at run time: inside a list or map of mixed types"
DIFFERENT = {
    "string_ext/format/list support for string": _NANOS_IN_DYN,
    "string_ext/format/map support for string": _NANOS_IN_DYN,
    "string_ext/format/dyntype support for maps": _NANOS_IN_DYN,
    "string_ext/format/map support (all key types)": "a Python dict cannot hold both 1 and true as keys",
}


@cache
def pool() -> descriptor_pool.DescriptorPool:
    fds = descriptor_pb2.FileDescriptorSet.FromString(
        (DATA / "simple.binpb").read_bytes()
    )
    found = descriptor_pool.DescriptorPool()
    for file in fds.file:
        found.Add(file)
    return found


def _class(name: str) -> Any:
    return message_factory.GetMessageClass(pool().FindMessageTypeByName(name))


def spec_tests(suite: str) -> Iterator[tuple[str, Any]]:
    parsed = text_format.Parse(
        (DATA / f"{suite}.textproto").read_text(),
        _class("cel.expr.conformance.test.SimpleTestFile")(),
        descriptor_pool=pool(),
    )
    for section in parsed.section:
        for test in section.test:
            yield f"{suite}/{section.name}/{test.name}", test


def _usable(test: Any) -> bool:
    return not (
        test.disable_check
        or test.disable_macros
        or test.check_only
        or test.type_env
        or test.bindings
        or test.container
        or test.WhichOneof("result_matcher")
        not in (None, "value", "eval_error", "typed_result")
    )


def expected(test: Any) -> object:
    which = test.WhichOneof("result_matcher")
    if which == "eval_error":
        return ERROR
    if which == "typed_result":
        return python_value(test.typed_result.result)
    if which is None:
        return True  # no matcher: the expression evaluates to true
    return python_value(test.value)


def python_value(value: Any) -> object:
    kind = value.WhichOneof("kind")
    if kind in (
        "int64_value",
        "uint64_value",
        "double_value",
        "string_value",
        "bytes_value",
        "bool_value",
    ):
        return getattr(value, kind)
    if kind == "null_value":
        return None
    if kind == "list_value":
        return [python_value(v) for v in value.list_value.values]
    if kind == "map_value":
        return {
            python_value(e.key): python_value(e.value) for e in value.map_value.entries
        }
    if kind == "object_value":
        name = value.object_value.type_url.rpartition("/")[2]
        if name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
            inner = _class(name).FromString(value.object_value.value)
            return ("nanos", inner.seconds * 1_000_000_000 + inner.nanos)
    return ("unsupported", kind)


def ours(test: Any) -> tuple[object, ast.CelType] | None:
    """The emitted Python's value (or ERROR), or None when we do not compile the expression."""
    try:
        checked = check(test.expr, CelEnv(pool(), ast.DYN), any_result=True)
        constants = Constants()
        emitted = emit(checked, constants.add, "this")
    except CelError:
        return None
    namespace: dict[str, Any] = {"cel": runtime}
    for name, source in constants.sources.items():
        namespace[name] = eval(source, namespace)
    try:
        result = eval(emitted.source, namespace | {"this": None, "now": runtime.now()})
    except runtime.CelEvalError:
        return ERROR, checked.root.type
    except Exception as exc:  # a crash of the emitted code: never right
        return f"crash: {exc!r}", checked.root.type
    return result, checked.root.type


def same(got: object, want: object, typ: ast.CelType) -> bool:
    if isinstance(want, tuple) and want and want[0] == "nanos":
        return typ.kind in (ast.Kind.DURATION, ast.Kind.TIMESTAMP) and got == want[1]
    if isinstance(want, float) and isinstance(got, float):
        return (math.isnan(want) and math.isnan(got)) or (
            want == got and math.copysign(1, want) == math.copysign(1, got)
        )
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, list):
        return (
            isinstance(got, list | tuple)
            and len(got) == len(want)
            and all(
                same(g, w, typ.params[0] if typ.params else ast.DYN)
                for g, w in zip(got, want)
            )
        )
    if isinstance(want, dict):
        return isinstance(got, dict) and dict(got) == want
    if isinstance(want, int) and typ.kind is ast.Kind.DOUBLE:
        return False
    return type(got) is type(want) and got == want


@pytest.mark.parametrize("suite", SUITES)
def test_cel_spec_suite(suite: str) -> None:
    compiled = refused = 0
    wrong = []
    for name, test in spec_tests(suite):
        if not _usable(test):
            continue
        result = ours(test)
        if result is None:
            refused += 1
            continue
        compiled += 1
        got, typ = result
        want = expected(test)
        if name in DIFFERENT:
            continue
        if not same(got, want, typ):
            wrong.append(f"{name}: {test.expr!r} -> {got!r}, want {want!r}")
    assert not wrong, "\n".join(wrong)
    assert compiled > refused, (compiled, refused)
