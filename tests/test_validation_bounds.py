"""Validation cost is bounded (SPEC section 6, "Sizes"): past ``MAX_VIOLATIONS`` a validator stops collecting,
and messages nested deeper than Python's recursion limit are validated on an explicit stack.

Work is counted, never timed: every violation a generated validator builds goes through ``_checks.at`` (its own
rules) or ``_checks.nest`` (a nested message's), so counting those calls counts what validation collected.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import grpc_errgen
from grpc_errgen import checks
from grpc_errgen.codegen.frontend.errgen_rules import _in_cycles
from grpc_errgen.validation import MAX_VIOLATIONS
from tests.support import build, load

PROTOS = {
    "vbound/v1/shapes.proto": """
        syntax = "proto3";
        package vbound.v1;
        import "grpc_errgen/options.proto";
        message Labels {
          map<string, string> labels = 1 [(errgen.field).map.keys.string.max_len = 3];
          repeated string tags = 2 [(errgen.field).repeated.items.string.min_len = 2];
          repeated Item items = 3;
          map<int32, Item> by_id = 4;
        }
        message Item {
          string sku = 1 [(errgen.field).string.min_len = 3];
          int32 quantity = 2 [(errgen.field).int32.gt = 0];
          repeated string notes = 3 [(errgen.field).repeated.items.string.max_len = 1];
          Labels more = 4;
        }
        message Node {
          string name = 1 [(errgen.field).string.min_len = 1];
          Node child = 2;
          repeated Node children = 3;
          Elsewhere away = 4;
        }
        message Elsewhere {
          Node back = 1;
          int32 n = 2 [(errgen.field).int32.gte = 0];
        }
        message Plain { Item item = 1; string name = 2 [(errgen.field).string.min_len = 1]; }
    """,
    # Files cannot import each other, so cycles stay within a file; other files call its validators.
    "vbound/v1/other.proto": """
        syntax = "proto3";
        package vbound.v1;
        import "vbound/v1/shapes.proto";
        message Holder { Node node = 1; }
    """,
}


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    build(tmp_path_factory.mktemp("vbound"), PROTOS)
    load("vbound.v1.other_errgen")
    return load("vbound.v1.shapes_pb2")


@pytest.fixture(scope="module")
def generated(pb: Any) -> Any:
    return load("vbound.v1.shapes_errgen")


class Counted:
    calls = 0


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Counted]]:
    """Counts the violations validators build: each ``_checks.at`` call, each violation ``_checks.nest`` copies."""
    at, nest = checks.at, checks.nest
    Counted.calls = 0

    def counted_at(*args: Any) -> Any:
        Counted.calls += 1
        return at(*args)

    def counted_nest(out: list[Any], *args: Any) -> None:
        before = len(out)
        nest(out, *args)
        Counted.calls += len(out) - before

    monkeypatch.setattr(checks, "at", counted_at)
    monkeypatch.setattr(checks, "nest", counted_nest)
    yield Counted


def _labels(pb: Any, bad: int) -> Any:
    message = pb.Labels()
    for n in range(bad):
        message.labels[f"key{n:07d}"] = "v"
    return message


def test_300000_bad_map_entries_cost_what_300_cost(
    pb: Any, collected: type[Counted]
) -> None:
    small = grpc_errgen.violations(_labels(pb, 300))
    work_small = collected.calls
    collected.calls = 0
    big_message = _labels(pb, 300_000)
    assert big_message.ByteSize() > 3_900_000
    big = grpc_errgen.violations(big_message)
    assert collected.calls == work_small <= 2 * (MAX_VIOLATIONS + 1)
    assert len(big) == len(small) == MAX_VIOLATIONS + 1


def test_a_map_with_few_bad_entries_reports_them_all_in_key_order(pb: Any) -> None:
    message = pb.Labels(labels={"zzzz": "", "ok": "", "aaaa": "", "mmmm": ""})
    found = grpc_errgen.violations(message)
    assert [v.field for v in found] == [
        'labels["aaaa"]',
        'labels["mmmm"]',
        'labels["zzzz"]',
    ]


def test_bad_items_stop_past_the_limit(pb: Any, collected: type[Counted]) -> None:
    found = grpc_errgen.violations(pb.Labels(tags=["x"] * 300_000))
    assert len(found) == collected.calls == MAX_VIOLATIONS + 1
    assert found[0].field == "tags[0]" and found[-1].field == f"tags[{MAX_VIOLATIONS}]"


def test_nested_validators_stop_too(pb: Any, collected: type[Counted]) -> None:
    """Items whose own lists are bad: the inner loop stops, the outer one sees it and stops."""
    message = pb.Labels()
    for _ in range(1000):
        message.items.add(sku="ok!", quantity=1, notes=["too long"] * 1000)
    found = grpc_errgen.violations(message)
    assert len(found) == MAX_VIOLATIONS + 1
    assert collected.calls <= 2 * (MAX_VIOLATIONS + 1)
    for n in range(1000):
        message.by_id[n].sku = (
            "x"  # one violation per entry, through a nested validator
        )
    message.ClearField("items")
    collected.calls = 0
    found = grpc_errgen.violations(message)
    assert len(found) == MAX_VIOLATIONS + 1
    assert collected.calls <= 3 * (MAX_VIOLATIONS + 1)


def test_the_status_message_says_more_than(pb: Any) -> None:
    with pytest.raises(grpc_errgen.ValidationError) as raised:
        grpc_errgen.validate(_labels(pb, 1000))
    assert raised.value.details() == (
        f"invalid Labels: more than {MAX_VIOLATIONS} violation(s)"
    )
    with pytest.raises(grpc_errgen.ValidationError) as raised:
        grpc_errgen.validate(_labels(pb, MAX_VIOLATIONS))
    assert raised.value.details() == f"invalid Labels: {MAX_VIOLATIONS} violation(s)"


def _chain(pb: Any, depth: int, bad_every: int) -> Any:
    """A Node ``depth`` levels deep, alternating ``child`` and ``away.back``; every ``bad_every``-th name empty."""
    top = pb.Node(name="top")
    node = top
    for level in range(1, depth + 1):
        node = node.away.back if level % 2 else node.child
        node.name = "" if level % bad_every == 0 else "n"
    return top


def _expected_paths(depth: int, bad_every: int) -> list[str]:
    paths, prefix = [], ""
    for level in range(1, depth + 1):
        prefix += "away.back." if level % 2 else "child."
        if level % bad_every == 0:
            paths.append(prefix + "name")
    return paths


@pytest.mark.parametrize("depth", [3, 150, 5000])
def test_deep_messages_never_raise_recursion_error(pb: Any, depth: int) -> None:
    assert depth * 2 < sys.getrecursionlimit() or depth > sys.getrecursionlimit()
    message = _chain(pb, depth, bad_every=depth)  # one violation, at the bottom
    found = grpc_errgen.violations(message)
    assert [v.field for v in found] == _expected_paths(depth, depth)
    assert len(found[0].field_path) == found[0].field.count(".") + 1


def test_deep_violations_come_in_depth_first_order_and_stop(pb: Any) -> None:
    found = grpc_errgen.violations(_chain(pb, 40, bad_every=3))
    assert [v.field for v in found] == _expected_paths(40, 3)
    found = grpc_errgen.violations(_chain(pb, 3000, bad_every=1))
    assert [v.field for v in found] == _expected_paths(MAX_VIOLATIONS + 1, 1)


def test_a_wide_recursive_tree_is_checked_in_order(pb: Any) -> None:
    top = pb.Node(name="top")
    for n in range(3):
        child = top.children.add(name="" if n == 1 else "c")
        child.children.add(name="")
    assert [v.field for v in grpc_errgen.violations(top)] == [
        "children[0].children[0].name",
        "children[1].name",
        "children[1].children[0].name",
        "children[2].children[0].name",
    ]


def test_another_file_calls_a_walked_validator(pb: Any) -> None:
    holder = load("vbound.v1.other_pb2").Holder()
    holder.node.CopyFrom(_chain(pb, 3000, bad_every=3000))
    found = grpc_errgen.violations(holder)
    assert [v.field for v in found] == ["node." + _expected_paths(3000, 3000)[0]]
    source = Path(load("vbound.v1.other_errgen").__file__).read_text()
    assert ".validate_Node(" in source and "yield" not in source


def test_wire_depth_parses_and_validates(pb: Any) -> None:
    """protobuf's parser accepts 100 levels; what it parses validates the same as what was built."""
    built = _chain(pb, 60, bad_every=7)
    parsed = pb.Node.FromString(built.SerializeToString())
    assert grpc_errgen.violations(parsed) == grpc_errgen.violations(built)


def test_recursive_messages_are_walked_and_the_rest_called(generated: Any) -> None:
    # Item holds Labels and Labels holds Item; Node holds Elsewhere and Elsewhere holds Node.
    for name in ("Node", "Item", "Labels", "Elsewhere"):
        assert hasattr(generated, "walk_" + name)
    assert not hasattr(generated, "walk_Plain")
    source = Path(generated.__file__).read_text()
    assert "yield walk_Node(" in source
    assert "yield walk_Elsewhere(" in source
    plain = source[source.index("def validate_Plain") :]
    assert "validate_Item(" in plain and "yield" not in plain


def test_cycles_are_found_without_recursion() -> None:
    calls: dict[str, set[str]] = {str(n): {str(n + 1)} for n in range(5000)}
    calls["5000"] = set()
    assert _in_cycles(calls) == set()
    calls["5000"] = {"0"}
    assert len(_in_cycles(calls)) == 5001
    assert _in_cycles({"a": {"b"}, "b": {"a", "c"}, "c": set(), "d": {"d"}}) == {
        "a",
        "b",
        "d",
    }
