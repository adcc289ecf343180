"""``grpc-errgen docs``: the catalogue from the same model as the generated code; JSON that follows the schema in
docs/catalogue.md; the example's committed catalogue is current."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def errgen(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "grpc-errgen"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def _schema() -> dict[str, object]:
    text = (ROOT / "docs" / "catalogue.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    schema: dict[str, object] = json.loads(block.group(1))
    return schema


def test_example_catalogue_is_current() -> None:
    done = errgen("docs", "--out", "examples/CATALOGUE.md", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_on_a_stale_catalogue(tmp_path: Path) -> None:
    stale = tmp_path / "CATALOGUE.md"
    stale.write_text("# old\n")
    done = errgen("docs", "--out", stale, "--check")
    assert done.returncode == 1 and f"stale: {stale}" in done.stdout
    assert stale.read_text() == "# old\n"
    assert errgen("docs", "--out", stale).returncode == 0
    assert stale.read_text() == (ROOT / "examples" / "CATALOGUE.md").read_text()


def test_json_follows_the_documented_schema() -> None:
    done = errgen("docs", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, _schema())
    (orders,) = document["files"]
    methods = {m["name"]: m for m in orders["services"][0]["methods"]}
    get = methods["GetOrder"]
    assert get["auth"] == {"required": True, "scopes": ["orders"]}
    assert get["timeout_seconds"] == 5
    assert get["retry"]["max_attempts"] == 3
    busy = next(e for e in get["errors"] if e["reason"] == "INVENTORY_BUSY")
    assert busy == {
        "reason": "INVENTORY_BUSY",
        "domain": "orders.shop.example",
        "code": "UNAVAILABLE",
        "message": "inventory busy",
        "retryable": True,
        "retry_delay_seconds": 0.2,
        "catalogue": "OrderError",
        "proto": "shop/v1/orders.proto",
        "python_class": "shop.v1.orders_errgen.InventoryBusy",
        "doc": busy["doc"],
    }
    assert [m["declared_on"] for m in get["exception_mappings"]] == ["service", "file"]
    rules = methods["CreateOrder"]["request"]["rules"]
    assert {
        "field": "items[*].sku",
        "rule": "string.pattern",
        "description": "does not match regex pattern `^[A-Z]{3}-[0-9]{4}$`",
    } in rules
    assert {
        "field": "shipping",
        "rule": "required",
        "description": "value is required",
    } in rules


def test_the_schema_refuses_what_it_should() -> None:
    done = errgen("docs", "--format", "json")
    document = json.loads(done.stdout)
    document["files"][0]["services"][0]["methods"][0]["auth"]["required"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _schema())


PROTO = """
    syntax = "proto3";
    package docs.cmd.v1;
    import "grpc_errgen/options.proto";
    enum E {
      option (errgen.errors) = { domain: "d.example" };
      E_UNSPECIFIED = 0;
      GONE = 1 [(errgen.error) = { code: NOT_FOUND }];
    }
    // A tree.
    message Node {
      string name = 1 [(errgen.field).string.min_len = 1];
      repeated Node children = 2;
      string note = 3 [(errgen.field) = { ignore: IGNORE_IF_ZERO_VALUE string: { min_len: 5 } }];
      string cel = 4 [(errgen.field).cel = { id: "no_x" message: "no x" expression: "!this.contains('x')" }];
      int32 even = 5 [(errgen.field).cel = { id: "even" expression: "this % 2 == 0 ? '' : 'must be even'" }];
    }
    service S {
      // Finds things.
      rpc Find(Node) returns (Node) { option (errgen.method) = { errors: "GONE" skip_validation: false }; }
      rpc Raw(Node) returns (Node) { option (errgen.method).skip_validation = true; }
    }
"""


def test_recursion_ignore_cel_and_skip(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    (protos / "docs" / "cmd" / "v1").mkdir(parents=True)
    (protos / "docs" / "cmd" / "v1" / "t.proto").write_text(textwrap.dedent(PROTO))
    done = errgen("docs", protos, "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, _schema())
    find, raw = document["files"][0]["services"][0]["methods"]
    assert find["doc"] == "Finds things."
    assert find["request"]["rules"] == [
        {
            "field": "name",
            "rule": "string.min_len",
            "description": "must be at least 1 characters",
        },
        {
            "field": "children[*]",
            "rule": "message",
            "description": "validated again as docs.cmd.v1.Node (recursive)",
        },
        {
            "field": "note",
            "rule": "string.min_len",
            "description": "must be at least 5 characters (when set)",
        },
        {
            "field": "cel",
            "rule": "no_x",
            "description": "no x (CEL: !this.contains('x'))",
        },
        {
            "field": "even",
            "rule": "even",
            "description": "the message the expression returns"
            " (CEL: this % 2 == 0 ? '' : 'must be even')",
        },
    ]
    assert raw["request"] == {
        "type": "docs.cmd.v1.Node",
        "validated": False,
        "rules": [],
    }
    markdown = errgen("docs", protos)
    assert "#### `/docs.cmd.v1.S/Find`" in markdown.stdout
    assert (
        "| `note` | `string.min_len` | must be at least 5 characters (when set) |"
        in markdown.stdout
    )


def test_a_diagnostic_is_reported_and_nothing_written(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    (protos / "docs" / "cmd" / "v1").mkdir(parents=True)
    (protos / "docs" / "cmd" / "v1" / "t.proto").write_text(
        textwrap.dedent(PROTO).replace('errors: "GONE"', 'errors: "NOPE"')
    )
    done = errgen("docs", protos, "--out", tmp_path / "CATALOGUE.md")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.match(
        r"docs/cmd/v1/t\.proto:\d+:\d+: Find: unknown error 'NOPE'", done.stderr
    )
    assert not (tmp_path / "CATALOGUE.md").exists()
