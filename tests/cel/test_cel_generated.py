"""CEL rules in our own dialect, end to end: ``(errgen.field).cel`` and ``(errgen.message).cel`` compiled by the
generator into the ``_errgen.py`` module, which validates with the runtime only, passes mypy --strict, and refuses
an expression that does not check with ``file.proto:LINE:COL``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grpc_errgen import ValidationRuntimeError, cel, validation
from grpc_errgen.codegen.protoc import CompileError, compile_protos
from tests.support import build, load

ORDERS = """
    syntax = "proto3";
    package celgen.v1;
    import "grpc_errgen/options.proto";
    import "google/protobuf/duration.proto";
    import "google/protobuf/timestamp.proto";
    import "google/protobuf/wrappers.proto";

    message Line {
      string sku = 1 [(errgen.field).cel = {
        id: "sku.shape", message: "sku must look like AB-1234",
        expression: "this.matches('^[A-Z]{2}-[0-9]{4}$')"
      }];
      int64 quantity = 2 [(errgen.field).cel = {
        id: "quantity.positive", expression: "this > 0 ? '' : 'quantity must be positive, got %d'.format([this])"
      }];
    }

    message Order {
      option (errgen.message).cel = {
        id: "order.window", message: "ship_by must be after created_at",
        expression: "!has(this.ship_by) || this.ship_by > this.created_at"
      };
      option (errgen.message).cel = {
        id: "order.total", message: "total overflows",
        expression: "this.lines.all(l, l.quantity * 1000000000000 >= 0)"
      };
      repeated Line lines = 1 [(errgen.field).cel = {
        id: "lines.unique", message: "skus must be unique", expression: "this.map(l, l.sku).unique()"
      }];
      map<string, int32> limits = 2 [(errgen.field).map.values.cel = {
        id: "limits.range", message: "limit out of range", expression: "this >= 0 && this <= 100"
      }];
      google.protobuf.Timestamp created_at = 3;
      google.protobuf.Timestamp ship_by = 4;
      google.protobuf.Duration hold = 5 [(errgen.field).cel = {
        id: "hold.max", message: "at most a day", expression: "this <= duration('24h')"
      }];
      google.protobuf.Int32Value priority = 7 [(errgen.field).cel = {
        id: "priority.range", message: "priority 1..5", expression: "this >= 1 && this <= 5"
      }];
      string note = 6 [(errgen.field).cel = {
        id: "note.recent", message: "no note from the future", expression: "size(this) < 10 || now > timestamp('2000-01-01T00:00:00Z')"
      }];
    }
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("celgen"), {"celgen/v1/orders.proto": ORDERS})


def _found(message: object) -> set[tuple[str, str, str]]:
    return {(v.field, v.rule, v.message) for v in validation.violations(message)}


def test_valid_order_has_no_violations(generated: Path) -> None:
    load("celgen.v1.orders_errgen")
    pb2 = load("celgen.v1.orders_pb2")
    order = pb2.Order(lines=[pb2.Line(sku="AB-1234", quantity=2)], limits={"a": 5})
    order.created_at.seconds = 10
    order.ship_by.seconds = 20
    order.hold.seconds = 3600
    assert _found(order) == set()


def test_field_message_and_element_rules(generated: Path) -> None:
    load("celgen.v1.orders_errgen")
    pb2 = load("celgen.v1.orders_pb2")
    order = pb2.Order(
        lines=[pb2.Line(sku="bad", quantity=0), pb2.Line(sku="bad", quantity=1)],
        limits={"x": 101},
    )
    order.created_at.seconds = 10
    order.ship_by.seconds = 5
    order.hold.seconds = 86401
    order.priority.value = 9  # a wrapper: the rule reads the value it wraps
    assert _found(order) == {
        ("priority", "priority.range", "priority 1..5"),
        ("", "order.window", "ship_by must be after created_at"),
        ("lines", "lines.unique", "skus must be unique"),
        ("lines[0].sku", "sku.shape", "sku must look like AB-1234"),
        ("lines[1].sku", "sku.shape", "sku must look like AB-1234"),
        ("lines[0].quantity", "quantity.positive", "quantity must be positive, got 0"),
        ('limits["x"]', "limits.range", "limit out of range"),
        ("hold", "hold.max", "at most a day"),
    }


def test_overflow_is_a_runtime_error(generated: Path) -> None:
    load("celgen.v1.orders_errgen")
    pb2 = load("celgen.v1.orders_pb2")
    order = pb2.Order(lines=[pb2.Line(sku="AB-1234", quantity=10**8)])
    with pytest.raises(ValidationRuntimeError) as raised:
        validation.violations(order)
    assert isinstance(raised.value, cel.CelEvalError)


def test_generated_module_uses_only_the_runtime_and_passes_mypy_strict(
    generated: Path,
) -> None:
    source = (generated / "celgen" / "v1" / "orders_errgen.py").read_text()
    assert "from grpc_errgen import cel as _cel" in source
    assert "cel_expr_python" not in source and "codegen" not in source
    config = generated / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\n[mypy-celgen.v1.orders_pb2]\nignore_errors = True\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", f"--config-file={config}",
         "--explicit-package-bases", "celgen/v1/orders_errgen.py"],
        cwd=generated, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


BAD = """
    syntax = "proto3";
    package celbad.v1;
    import "grpc_errgen/options.proto";

    message Good {
      int32 a = 1 [(errgen.field).cel = { id: "ok", expression: "this > 0" }];
    }

    message Bad {
      int32 a = 1;
      option (errgen.message).cel = { id: "bad", expression: "this.b > 0" };
    }

    message AlsoBad {
      string s = 1 [(errgen.field).cel = { id: "bad2", expression: "this.startsWith(1)" }];
    }
"""


def test_bad_expressions_are_diagnostics(tmp_path: Path) -> None:
    root = tmp_path / "protos" / "celbad" / "v1"
    root.mkdir(parents=True)
    (root / "bad.proto").write_text(textwrap.dedent(BAD))
    with pytest.raises(CompileError) as error:
        compile_protos([tmp_path / "protos"])
    lines = str(error.value).splitlines()
    assert len(lines) == 2, lines
    message_line = next(x for x in lines if "celbad.v1.Bad:" in x)
    assert message_line.startswith("celbad/v1/bad.proto:12:")
    assert "undefined field 'b'" in message_line
    field_line = next(x for x in lines if "celbad.v1.AlsoBad:" in x)
    assert field_line.startswith("celbad/v1/bad.proto:16:")
    assert "no matching overload" in field_line
