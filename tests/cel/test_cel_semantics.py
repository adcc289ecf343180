"""CEL semantics of the emitted Python, differentially against cel-expr-python's own evaluator (cel-cpp).

Each expression runs in both on the same ``this``; the results (true, false, a string, or an evaluation error)
must agree. The expressions aim at where CEL and Python differ: int64/uint64 overflow, truncating division,
division by zero, error absorption of ``&&``/``||`` and of the macros, ``has()`` on proto2/proto3/editions fields,
Unicode strings, durations and timestamps.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from grpc_errgen import cel as runtime
from grpc_errgen.codegen.backend.cel import Constants, emit
from grpc_errgen.codegen.cel import ast
from grpc_errgen.codegen.cel.check import CelEnv, CelError, check

PROTOS = Path(__file__).parent / "protos"
ERROR = "error"


@cache
def pool() -> descriptor_pool.DescriptorPool:
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                f"-I{include}",
                "--include_imports",
                f"--descriptor_set_out={out}",
                "presence2.proto",
                "presence3.proto",
                "presence_editions.proto",
            ],
            check=True,
        )
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    result = descriptor_pool.DescriptorPool()
    for file in fds.file:
        result.Add(file)
    return result


def new(type_name: str, **fields: Any) -> Message:
    return message_factory.GetMessageClass(pool().FindMessageTypeByName(type_name))(**fields)  # type: ignore[no-any-return]


def ours(expression: str, this_type: ast.CelType, this: object) -> object:
    constants = Constants()
    emitted = emit(check(expression, CelEnv(pool(), this_type)), constants.add, "this")
    namespace: dict[str, Any] = {"cel": runtime}
    for name, source in constants.sources.items():
        namespace[name] = eval(source, namespace)
    try:
        return eval(emitted.source, namespace | {"this": this, "now": runtime.now()})
    except runtime.CelEvalError:
        return ERROR


def oracle(expression: str, this_type: Any, this: object) -> object:
    from cel_expr_python.ext import ext_strings

    env = cel.NewEnv(
        descriptor_pool=pool(),
        variables={"this": this_type},
        extensions=[ext_strings.ExtStrings()],
    )
    value = env.compile(expression).eval(data={"this": this})
    return ERROR if value.type() == cel.Type.ERROR else value.plain_value()


INT_EXPRESSIONS = [
    # overflow
    "9223372036854775807 + this == 0",
    "this - 9223372036854775807 - 2 == 0",
    "-9223372036854775808 - this == 0",
    "9223372036854775807 * (this + 2) == 0",
    "-(this - 9223372036854775807 - 1) == 0",
    "uint(this) - 1u == 0u",
    "18446744073709551615u + uint(this) == 0u",
    "18446744073709551615u * uint(this + 2) == 0u",
    # division and modulo: truncation, sign of the dividend, by zero
    "-7 / (this + 2) == -3",
    "-7 % (this + 2) == -1",
    "7 % -(this + 2) == 1",
    "1 / this == 0",
    "1 % this == 0",
    "1u / uint(this) == 0u",
    "1u % uint(this) == 0u",
    "(-9223372036854775807 - 1) / (this - 1) == 0",
    "(-9223372036854775807 - 1) % (this - 1) == 0",
    "1.0 / double(this) > 1e308",
    "-1.0 / double(this) < -1e308",
    # conversions
    "int(1e19 + double(this)) == 0",
    "int(-1.5 + double(this)) == -1",
    "uint(this - 1) == 0u",
    "int('12') + this == 12",
    "int('x' + string(this)) == 0",
    "string(1.5 + double(this)) == '1.5'",
    "string(bytes('é')) == 'é' && this == 0",
    "string(b'\\xff') == '' && this == 0",
    "double('1e3') == 1000.0 + double(this)",
    "bool('true') && this == 0",
    "bool('maybe') && this == 0",
    "int(9223372036854775807u) == 0 && this == 0",
    "int(9223372036854775808u + uint(this)) == 0",
    # error absorption
    "1 / this == 1 && false",
    "false && 1 / this == 1",
    "1 / this == 1 || true",
    "true || 1 / this == 1",
    "1 / this == 1 && true",
    "1 / this == 1 || false",
    "1 / this == 1 || 2 / this == 1",
    "1 / this == 1 && 2 / this == 1",
    "(1 / this == 1 || this == 0) && (2 / this == 2 || this == 0)",
    "this == 0 ? true : 1 / this == 1",
    "this != 0 ? true : 1 / this == 1",
    # macros
    "[0, 1].exists(x, 1 / (x + this) == 1)",
    "[0, 1].all(x, 1 / (x + this) == 1)",
    "[0, 1].all(x, 1 / (x + this) > 5)",
    "[1, 0].exists(x, 1 / (x + this) > 5)",
    "[0, 1, 2].exists_one(x, x + this > 1)",
    "[0, 1, 2].exists_one(x, x + this > 0)",
    "[1, 2, 3].map(x, x * 2 + this) == [2, 4, 6]",
    "[1, 2, 3].map(x, x > 1, x + this) == [2, 3]",
    "[1, 2, 3].filter(x, x > 1 + this) == [2, 3]",
    "[1, 2].map(x, [x, x + this].filter(y, y > 1)) == [[], [2]]",
    "{'a': 1, 'b': 2}.all(k, size(k) == 1 + this)",
    "{'a': 1}.exists(k, {'a': 1}[k] == 1 + this)",
    # lists, maps, in
    "this + 2 in [1, 2, 3]",
    "!(this in [4, 5, 6, 7, 8])",
    "[1, 2][this + 2] == 1",
    "[1, 2][this - 1] == 1",
    "{'a': 1}['b'] == this",
    "{'a': 1}.b == this",
    "'a' in {'a': 1} && this == 0",
    "[1, 2] + [3] == [1, 2, 3] && this == 0",
    "size([1, 2, 3]) == 3 + this",
    "[1, 2, 3, 4, 5].all(x, x in [1, 2, 3, 4, 5] && this == 0)",
    "[1.0, 2.0].exists(x, x == double(this + 1))",
    # strings and bytes: code points
    "size('héllo') == 5 + this",
    "size(b'h\\xc3\\xa9') == 3 + this",
    "size(bytes('é')) == 2 + this",
    "'héllo'.startsWith('hé') && this == 0",
    "'héllo'.endsWith('llo') && this == 0",
    "'héllo'.contains('él') && this == 0",
    "'abc'.matches('^a.c$') && this == 0",
    "'ab\\nc'.matches('b.c') && this == 0",
    "'x' + string(this) < 'y'",
    "'é' > 'z' && this == 0",
    "b'\\xff' > b'\\x01' && this == 0",
    "'%s and %d'.format(['x', this]) == 'x and 0'",
    "'%s'.format([[1, 2]]) == '[1, 2]' && this == 0",
    "'%x'.format([255 + this]) == 'ff'",
    "'%.2f'.format([1.005 + double(this)]) == '1.00'",
    "'%s'.format([b'ab']) == 'ab' && this == 0",
    "'ÀBc'.lowerAscii() == 'Àbc' && this == 0",
    "'àbc'.upperAscii() == 'àBC' && this == 0",
    "'héllo'.indexOf('l') == 2 + this",
    "'héllo'.lastIndexOf('l') == 3 + this",
    "'héllo'.substring(1, 3) == 'él' && this == 0",
    "'héllo'.substring(3, 9) == '' && this == 0",
    "'héllo'.charAt(1 + this) == 'é'",
    "'  x '.trim() == 'x' && this == 0",
    "'a,b'.split(',') == ['a', 'b'] && this == 0",
    "['a', 'b'].join('-') == 'a-b' && this == 0",
    "'aXbX'.replace('X', 'y') == 'ayby' && this == 0",
    # durations and timestamps
    "duration('1h') > duration('59m') && this == 0",
    "duration('1h30m') == duration('90m') && this == 0",
    "duration('-1.5s') < duration('0s') && this == 0",
    "duration('1ms') + duration('1us') == duration('1001us') && this == 0",
    "timestamp('2020-01-01T00:00:00Z') + duration('24h') == timestamp('2020-01-02T00:00:00Z') && this == 0",
    "timestamp('2020-01-02T00:00:00Z') - timestamp('2020-01-01T00:00:00Z') == duration('24h') && this == 0",
    "timestamp('2020-01-01T00:00:00+01:00') < timestamp('2020-01-01T00:00:00Z') && this == 0",
    "timestamp('2020-03-01T10:20:30.5Z').getFullYear() == 2020 + this",
    "timestamp('2020-03-01T10:20:30.5Z').getMonth() == 2 + this",
    "timestamp('2020-03-01T10:20:30.5Z').getDayOfYear() == 60 + this",
    "timestamp('2020-03-01T10:20:30.5Z').getDayOfWeek() == 0 + this",
    "timestamp('2020-03-01T10:20:30.5Z').getHours('+02:00') == 12 + this",
    "timestamp('2020-03-01T10:20:30.5Z').getMilliseconds() == 500 + this",
    "duration('90m').getHours() == 1 + this",
    "timestamp(this + 253402300799).getFullYear('Europe/Berlin') == 10000",
    "timestamp(this - 62135596800).getFullYear('-08:00') == 0",
    "timestamp(this + 1700000000).getHours('America/New_York') == 17",
    "timestamp(this - 2208988800).getDayOfWeek('Asia/Kolkata') == 1",
    "duration(string(this - 34560000500) + 'ms').getMilliseconds() == -500",
    "duration('90m').getMinutes() == 90 + this",
    "int(timestamp('2020-01-01T00:00:00Z')) == 1577836800 + this",
    "timestamp('9999-12-31T23:59:59Z') + duration(string(this + 1) + 's') > timestamp('2020-01-01T00:00:00Z')",
    "duration('2562047h') + duration(string(this + 2562047) + 'h') > duration('0s')",
    "timestamp(1577836800 + this) == timestamp('2020-01-01T00:00:00Z')",
    "duration('x' + string(this)) == duration('1s')",
    # numbers across types
    "1.5 < double(this + 2)",
]


@pytest.mark.parametrize("expression", INT_EXPRESSIONS)
@pytest.mark.parametrize("value", [0, 1])
def test_agrees_with_cel_cpp(expression: str, value: int) -> None:
    assert ours(expression, ast.INT, value) == oracle(expression, cel.Type.INT, value)


# protovalidate's own functions: not in cel-cpp, so checked against known answers.
KNOWN = [
    (
        "b'abc'.startsWith(b'ab') && b'abc'.endsWith(b'bc') && b'abc'.contains(b'b')",
        0,
        True,
    ),
    ("(0.0 / double(this)).isNan()", 0, True),
    ("(1.0 / double(this)).isInf(1) && !(1.0 / double(this)).isInf(-1)", 0, True),
    ("'a@b.com'.isEmail() && !'a@@b'.isEmail()", 0, True),
    ("'example.com'.isHostname() && !'-x.com'.isHostname()", 0, True),
    ("'1.2.3.4'.isIp(4) && !'1.2.3.4'.isIp(6) && '::1'.isIp()", 0, True),
    ("'10.0.0.0/8'.isIpPrefix(4, true) && !'10.0.0.1/8'.isIpPrefix(true)", 0, True),
    (
        "'example.com:80'.isHostAndPort(true) && 'example.com'.isHostAndPort(false)",
        0,
        True,
    ),
    ("!'example.com'.isHostAndPort(true) && '[::1]'.isHostAndPort(false)", 0, True),
    ("'https://x.y/z'.isUri() && './z'.isUriRef() && !'./z'.isUri()", 0, True),
    ("[1, 2, 3].unique() && ![1, 2, 1].unique() && ['a'].unique()", 0, True),
    (
        "this > 0 ? '' : 'must be positive, got %d'.format([this])",
        0,
        "must be positive, got 0",
    ),
    ("this > 0 ? '' : 'must be positive, got %d'.format([this])", 1, ""),
    # as cel-go (protovalidate's reference) prints them; cel-cpp writes "1.500s"
    ("'%s'.format([duration('1.5s')])", 0, "1.5s"),
    ("string(duration('1.5s'))", 0, "1.5s"),
    ("string(timestamp('2020-01-01T00:00:00.25Z'))", 0, "2020-01-01T00:00:00.25Z"),
    ("'%s %s'.format([[1.5, 2.0], [b'ab']])", 0, "[1.5, 2] [ab]"),
]


@pytest.mark.parametrize(("expression", "value", "expected"), KNOWN)
def test_protovalidate_functions(expression: str, value: int, expected: object) -> None:
    assert ours(expression, ast.INT, value) == expected


PRESENCE = [
    "has(this.plain)",
    "has(this.opt)",
    "has(this.inner)",
    "has(this.list)",
    "has(this.dict)",
    "has(this.a)",
    "has(this.b)",
    "has(this.ratio)",
    "has(this.name)",
    "has(this.data)",
    "has(this.ttl)",
    "has(this.wrapped)",
    "has(this.color)",
    "has(this.inner.x)",
    "has(this.dict.k)",
    "this.wrapped == null",
    "this.wrapped == 5",
    "this.inner.x == 0",
    "this.dict.k.x == 1",
    "this.dict['missing'].x == 1",
    "this.ttl == duration('0s')",
    "this.ttl > duration('1s')",
    "this.at > timestamp('2000-01-01T00:00:00Z')",
    "this.color == celtest.v3.Color.COLOR_RED",
    "this.list.all(x, x > 0)",
    "this.tags.exists(t, t.startsWith('a'))",
    "this.by_id.all(k, this.by_id[k] != '')",
    "this.count - 1u > 0u",
    "this.ratio * 2.0 > 1.0",
    "size(this.name) < 3 && size(this.data) < 3",
    "this.list.size() + 1 > 0",
    "int(this.color) == 1",
    "this.flag || !this.flag",
]


def _p3(variant: int) -> Message:
    if variant == 0:
        return new("celtest.v3.P3")
    msg = new(
        "celtest.v3.P3",
        plain=3,
        opt=0,
        ratio=-0.0,
        name="é",
        data=b"\x00",
        count=2,
        b=0,
        flag=True,
    )
    msg.inner.x = 0
    msg.list.extend([1, 2])
    msg.dict["k"].x = 1
    msg.ttl.seconds = 2
    msg.at.seconds = 1_000_000_000
    msg.wrapped.value = 5
    msg.color = 1
    msg.tags.extend(["ab", "b"])
    msg.by_id[7] = "x"
    return msg


@pytest.mark.parametrize("expression", PRESENCE)
@pytest.mark.parametrize("variant", [0, 1])
def test_proto3_fields_agree_with_cel_cpp(expression: str, variant: int) -> None:
    msg = _p3(variant)
    this = ast.message("celtest.v3.P3")
    assert ours(expression, this, msg) == oracle(
        expression, cel.Type("celtest.v3.P3"), msg
    )


@pytest.mark.parametrize(
    ("name", "expression", "fields"),
    [
        ("celtest.v2.P2", "has(this.opt)", {}),
        ("celtest.v2.P2", "has(this.opt)", {"opt": 0}),
        ("celtest.v2.P2", "has(this.with_default) || this.with_default == 7", {}),
        ("celtest.v2.P2", "has(this.req)", {"req": ""}),
        ("celtest.v2.P2", "has(this.a) || has(this.b)", {"b": 0}),
        ("celtest.v2.P2", "has(this.inner) && !has(this.inner.x)", {"inner": {}}),
        ("celtest.ed.Ed", "has(this.explicit)", {"explicit": 0}),
        ("celtest.ed.Ed", "has(this.implicit)", {"implicit": 0}),
        ("celtest.ed.Ed", "has(this.implicit)", {"implicit": 2}),
        ("celtest.ed.Ed", "has(this.child) || this.child.explicit == 0", {}),
    ],
)
def test_proto2_and_editions_presence(
    name: str, expression: str, fields: dict[str, Any]
) -> None:
    msg = new(name, **fields)
    assert ours(expression, ast.message(name), msg) == oracle(
        expression, cel.Type(name), msg
    )


def test_and_without_errors_is_plain_python() -> None:
    emitted = emit(
        check("this > 1 && this < 5 || this == 9", CelEnv(pool(), ast.INT)),
        Constants().add,
        "v",
    )
    assert (
        emitted.source == "((v > 1) and (v < 5) or (v == 9))"
        or "cel." not in emitted.source
    )
    assert not emitted.can_error


def test_erring_side_runs_last() -> None:
    emitted = emit(
        check("1 / this == 1 && this > 3", CelEnv(pool(), ast.INT)),
        Constants().add,
        "v",
    )
    assert emitted.source.index("(v > 3)") < emitted.source.index("div_int")
    assert "lambda" not in emitted.source


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("this.nope", "undefined field 'nope'"),
        ("this +", "Syntax error"),
        ("this + 'a' == 'b'", "no matching overload"),
        ("this", "must return bool or string"),
        ("celtest.v3.P3{plain: 1}.plain == this", "message construction"),
        ("this.matches('[')", ""),
    ],
)
def test_compile_errors(expression: str, message: str) -> None:
    this = ast.STRING if "matches" in expression else ast.INT
    if "nope" in expression:
        this = ast.message("celtest.v3.P3")
    with pytest.raises(
        CelError
    ) as error:  # the front end refuses it: nothing reaches the back end
        check(expression, CelEnv(pool(), this))
    assert message in error.value.message


def test_constant_patterns_and_lists_are_hoisted() -> None:
    constants = Constants()
    env = CelEnv(pool(), ast.STRING)
    first = emit(
        check("this.matches('^a+$') && this in ['a', 'aa', 'aaa', 'aaaa']", env),
        constants.add,
        "v",
    )
    second = emit(check("this.matches('^a+$')", env), constants.add, "v")
    assert len(constants.sources) == 2  # one pattern, shared; one frozenset
    assert 'cel.pattern("^a+$")' in constants.sources.values()
    assert first.source.count("_CEL_") == 2 and "_CEL_0" in second.source


def test_now_is_one_value_per_evaluation() -> None:
    emitted = emit(
        check("now == now", CelEnv(pool(), ast.INT)), Constants().add, "this"
    )
    assert emitted.uses_now and emitted.source == "(now == now)"


def test_emitted_code_is_black_and_mypy_strict_clean(tmp_path: Path) -> None:
    """Every expression above, emitted into a module of typed functions over protoc's ``.pyi`` stubs."""
    import black
    import grpc_tools
    from mypy import api

    include = Path(grpc_tools.__file__).parent / "_proto"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            "presence3.proto",
        ],
        check=True,
    )
    constants = Constants()
    functions = []
    groups = [
        (INT_EXPRESSIONS + [known[0] for known in KNOWN], ast.INT, "int"),
        (PRESENCE, ast.message("celtest.v3.P3"), "presence3_pb2.P3"),
    ]
    for expressions, this, python_type in groups:
        for expression in expressions:
            checked = check(expression, CelEnv(pool(), this))
            result = "bool" if checked.root.type.kind is ast.Kind.BOOL else "str"
            source = emit(checked, constants.add, "this").source
            functions.append(
                f"def rule_{len(functions)}(this: {python_type}, now: int) -> {result}:\n"
                f"    return {source}\n"
            )
    module = (
        "from grpc_errgen import cel\nimport presence3_pb2\n\n"
        + "".join(f"{name} = {source}\n" for name, source in constants.sources.items())
        + "\n\n"
        + "\n\n".join(functions)
    )
    module = black.format_str(module, mode=black.Mode())
    (tmp_path / "rules.py").write_text(module)
    out, _, _ = api.run(
        [
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            str(tmp_path / "rules.py"),
        ]
    )
    problems = [
        line for line in out.splitlines() if line.startswith(str(tmp_path / "rules.py"))
    ]
    assert not problems, "\n".join(problems)
    assert len(functions) > 150


@pytest.mark.parametrize(
    ("expression", "this", "value", "expected"),
    [
        ("this > 100", ast.UINT, 200, True),
        ("this < 1.5", ast.UINT, 1, True),
        ("this >= 9223372036854775807", ast.DOUBLE, 9.223372036854775807e18, True),
        ("this <= 18446744073709551615u", ast.INT, -1, True),
        ("this > 9223372036854775807", ast.UINT, 9223372036854775808, True),
    ],
)
def test_cross_type_numeric_comparisons(
    expression: str, this: ast.CelType, value: object, expected: bool
) -> None:
    """As protovalidate (cel-go's CrossTypeNumericComparisons): ints and uints exactly, with doubles as doubles."""
    assert ours(expression, this, value) is expected


@pytest.mark.parametrize(
    ("expression", "this"),
    [
        ("int(this) > 0", "9" * 5000),
        ("uint(this) > 0u", "9" * 5000),
        ("duration(this) > duration('0s')", "9" * 5000 + "s"),
        ("{'a': 1}[dyn([this])] == 1", "a"),
    ],
)
def test_hostile_strings_are_evaluation_errors(expression: str, this: str) -> None:
    """Run-time text that CEL refuses raises CelEvalError (the server answers INTERNAL "validation failed"),
    never a Python error of another kind."""
    assert ours(expression, ast.STRING, this) == ERROR


@pytest.mark.parametrize(
    "expression",
    [
        "string(this.at) != ''",
        "this.at.getFullYear() > 0",
        "this.at > timestamp('2000-01-01T00:00:00Z')",
    ],
)
def test_out_of_range_timestamp_in_a_message(expression: str) -> None:
    msg = new("celtest.v3.P3")
    msg.at.seconds = 10**15  # far beyond year 9999
    result = ours(expression, ast.message("celtest.v3.P3"), msg)
    assert result in (ERROR, True)
