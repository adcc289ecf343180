"""Generated validators end to end: cross-file recursion, skip, messages without rules, paths, black and mypy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import black
import pytest

import grpc_errgen
from grpc_errgen.codegen.protoc import compile_protos
from grpc_errgen.validation import validator_for
from tests.support import build, load

COMMON = """
syntax = "proto3";
package vgen.common;
import "grpc_errgen/options.proto";
message Money { int64 units = 1 [(errgen.field).int64.gte = 0]; string currency = 2 [(errgen.field).string.len = 3]; }
message Plain { string note = 1; }
"""

ORDERS = """
syntax = "proto3";
package vgen.orders;
import "grpc_errgen/options.proto";
import "vgen/common.proto";
message Line { string sku = 1 [(errgen.field).string.min_len = 2]; vgen.common.Money price = 2; }
message Order {
  repeated Line lines = 1 [(errgen.field).repeated.min_items = 1];
  map<string, vgen.common.Money> fees = 2;
  vgen.common.Plain plain = 3;
  Tree tree = 4;
}
message Tree { Tree left = 1; int32 depth = 2 [(errgen.field).int32.lte = 3]; }
message Untouched { vgen.common.Plain plain = 1; string free = 2; }
message Skipped {
  option (errgen.message).skip = true;
  string anything = 1;
}
"""


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(
        tmp_path_factory.mktemp("vgen"),
        {"vgen/common.proto": COMMON, "vgen/orders.proto": ORDERS},
    )


def test_nested_paths_across_files(out: Path) -> None:
    load("vgen.orders_errgen")
    pb = load("vgen.orders_pb2")
    order = pb.Order()
    line = order.lines.add(sku="x")
    line.price.currency = "EURO"
    order.fees["late"].units = -1
    order.fees["late"].currency = "EUR"
    order.tree.left.left.depth = 9
    found = [(v.field, v.rule, v.message) for v in grpc_errgen.violations(order)]
    assert found == [
        ("lines[0].sku", "string.min_len", "must be at least 2 characters"),
        ("lines[0].price.currency", "string.len", "must be 3 characters"),
        ('fees["late"].units', "int64.gte", "must be greater than or equal to 0"),
        ("tree.left.left.depth", "int32.lte", "must be less than or equal to 3"),
    ]
    empty = pb.Order()
    assert [(v.field, v.rule) for v in grpc_errgen.violations(empty)] == [
        ("lines", "repeated.min_items")
    ]
    with pytest.raises(grpc_errgen.ValidationError) as raised:
        grpc_errgen.validate(empty)
    assert raised.value.violations[0].field == "lines"


def test_messages_without_rules_get_no_validator(out: Path) -> None:
    load("vgen.orders_errgen")
    load("vgen.common_errgen")
    assert validator_for("vgen.orders.Untouched") is None
    assert validator_for("vgen.orders.Skipped") is None
    assert validator_for("vgen.common.Plain") is None
    assert validator_for("vgen.orders.Tree") is not None  # recursive, with a rule
    source = (out / "vgen" / "orders_errgen.py").read_text()
    assert "validate_Untouched" not in source and "validate_Plain" not in source


def test_generated_source_is_black_stable_and_mypy_clean(out: Path) -> None:
    for name in ("vgen/orders_errgen.py", "vgen/common_errgen.py"):
        source = (out / name).read_text()
        assert black.format_str(source, mode=black.Mode(line_length=88)) == source
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--ignore-missing-imports",
            "vgen/orders_errgen.py",
        ],
        cwd=out,
        capture_output=True,
        text=True,
    )
    # protoc's own .pyi files are not ours to fix; every line about a generated _errgen module must be absent.
    ours = [line for line in result.stdout.splitlines() if "_errgen.py" in line]
    assert ours == [], result.stdout
    assert "Found" in result.stdout or result.returncode == 0


def _problems(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    with pytest.raises(Exception) as raised:
        compile_protos([tmp_path])
    return str(raised.value)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "int32 f = 1 [(errgen.field).string.min_len = 1];",
            "string rules on a field of type int32",
        ),
        (
            "string f = 1 [(errgen.field).string = {min_len: 5, max_len: 2}];",
            "min_len 5 is above max_len 2",
        ),
        (
            "bytes f = 1 [(errgen.field).bytes = {min_len: 5, max_len: 2}];",
            "min_len 5 is above max_len 2",
        ),
        ('string f = 1 [(errgen.field).string.pattern = "a("];', "is not valid RE2"),
        (
            "repeated int32 f = 1 [(errgen.field).repeated = {min_items: 3, max_items: 1}];",
            "min_items 3 is above",
        ),
        (
            "map<string, int32> f = 1 [(errgen.field).map = {min_pairs: 3, max_pairs: 1}];",
            "min_pairs 3 is above",
        ),
        (
            "repeated int32 f = 1 [(errgen.field).int32.gt = 1];",
            "int32 rules on a repeated field",
        ),
    ],
)
def test_bad_rules_are_reported_with_positions(
    tmp_path: Path, rule: str, expected: str
) -> None:
    text = f'syntax = "proto3";\npackage vbad;\nimport "grpc_errgen/options.proto";\nmessage M {{\n  {rule}\n}}\n'
    problems = _problems(tmp_path, "vbad/m.proto", text)
    assert expected in problems
    assert "vbad/m.proto:5:" in problems


def test_rules_on_skipped_message_never_apply(tmp_path: Path) -> None:
    text = """
        syntax = "proto3";
        package vskip;
        import "grpc_errgen/options.proto";
        message M {
          option (errgen.message).skip = true;
          string f = 1 [(errgen.field).string.min_len = 1];
        }
        message Outer { M inner = 1; string g = 2 [(errgen.field).string.min_len = 1]; }
    """
    build(tmp_path, {"vskip/m.proto": text})
    load("vskip.m_errgen")  # registers the validators
    pb2 = load("vskip.m_pb2")
    assert grpc_errgen.violations(pb2.M()) == []
    found = grpc_errgen.violations(pb2.Outer(inner=pb2.M()))
    assert [(v.field, v.rule) for v in found] == [("g", "string.min_len")]


CONVENTION = """
syntax = "proto3";
package vconv;
import "grpc_errgen/options.proto";
message Named { string name = 1 [(errgen.field).string.min_len = 3]; }
"""
PLAIN = """
syntax = "proto3";
package vconv;
message Free { string name = 1; }
"""
BROKEN = """
syntax = "proto3";
package vconv;
import "grpc_errgen/options.proto";
message Broken { string name = 1 [(errgen.field).string.min_len = 3]; }
"""


def test_validate_imports_the_generated_module_by_convention(tmp_path: Path) -> None:
    out = build(
        tmp_path,
        {
            "vconv/named.proto": CONVENTION,
            "vconv/free.proto": PLAIN,
            "vconv/broken.proto": BROKEN,
        },
    )
    assert not (out / "vconv" / "free_errgen.py").exists()
    (out / "vconv" / "broken_errgen.py").write_text("import vconv_not_there_at_all\n")
    script = f"""
import sys
sys.path.insert(0, {str(out)!r})
import grpc_errgen
from vconv import broken_pb2, free_pb2, named_pb2
assert "vconv.named_errgen" not in sys.modules
found = grpc_errgen.violations(named_pb2.Named(name="x"))
assert [v.rule for v in found] == ["string.min_len"], found
assert "vconv.named_errgen" in sys.modules
try:
    grpc_errgen.validate(named_pb2.Named(name="x"))
except grpc_errgen.ValidationError:
    pass
else:
    raise AssertionError("validate passed")
assert grpc_errgen.violations(free_pb2.Free(name="x")) == []
try:
    grpc_errgen.violations(broken_pb2.Broken(name="x"))
except ModuleNotFoundError as exc:
    assert exc.name == "vconv_not_there_at_all", exc
else:
    raise AssertionError("a broken generated module passed silently")
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_our_dialect_has_rules_on_wrapper_types(tmp_path: Path) -> None:
    """``(errgen.field)`` typed rules on a wrapper field apply to the wrapped value when it is set, as in
    protovalidate's dialect (docs/options.md says so)."""
    build(
        tmp_path,
        {"vwrap/v1/w.proto": """
                syntax = "proto3";
                package vwrap.v1;
                import "grpc_errgen/options.proto";
                import "google/protobuf/wrappers.proto";
                message W {
                  google.protobuf.Int32Value count = 1 [(errgen.field).int32.gt = 0];
                  google.protobuf.StringValue name = 2 [(errgen.field).string.min_len = 2];
                }
            """},
    )
    from google.protobuf import wrappers_pb2

    pb2 = load("vwrap.v1.w_pb2")
    load("vwrap.v1.w_errgen")
    assert grpc_errgen.violations(pb2.W()) == []  # unset: no rule applies
    bad = pb2.W(
        count=wrappers_pb2.Int32Value(value=0), name=wrappers_pb2.StringValue(value="x")
    )
    assert [(v.field, v.rule) for v in grpc_errgen.violations(bad)] == [
        ("count", "int32.gt"),
        ("name", "string.min_len"),
    ]


def test_no_empty_value_branch_where_the_value_cannot_be_empty(tmp_path: Path) -> None:
    """Under IGNORE_IF_ZERO_VALUE or `required` (no presence), a format's rules run only on a non-empty value:
    the generated code has no unreachable `string.email_empty` branch, and behaves the same.
    """
    out = build(
        tmp_path,
        {"vzero/v1/z.proto": """
                syntax = "proto3";
                package vzero.v1;
                import "grpc_errgen/options.proto";
                message Z {
                  string a = 1 [(errgen.field) = { ignore: IGNORE_IF_ZERO_VALUE, string: { email: true } }];
                  string b = 2 [(errgen.field) = { required: true, string: { email: true } }];
                  repeated string c = 3 [(errgen.field).repeated.items = {
                    ignore: IGNORE_IF_ZERO_VALUE, string: { hostname: true }
                  }];
                  string d = 4 [(errgen.field).string.email = true];
                }
            """},
    )
    source = (out / "vzero" / "v1" / "z_errgen.py").read_text()
    assert "_Z_A_EMAIL_EMPTY" not in source
    assert "_Z_B_EMAIL_EMPTY" not in source
    assert "_Z_C_HOSTNAME_EMPTY" not in source
    assert (
        "_Z_D_EMAIL_EMPTY" in source
    )  # no ignore, no required: empty is its own violation
    pb2 = load("vzero.v1.z_pb2")
    load("vzero.v1.z_errgen")
    found = grpc_errgen.violations(pb2.Z(c=["", "-bad-"]))
    assert [(v.field, v.rule) for v in found] == [
        ("b", "required"),
        ("c[1]", "string.hostname"),
        ("d", "string.email_empty"),
    ]
    found = grpc_errgen.violations(pb2.Z(a="x", b="y", d="a@b.example"))
    assert [(v.field, v.rule) for v in found] == [
        ("a", "string.email"),
        ("b", "string.email"),
    ]
