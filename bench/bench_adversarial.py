"""The hostile inputs of the hardening review, timed against their bounds. Run by hand, not in CI:

    python bench/bench_adversarial.py [--repeat 3]

Each line: what was validated, the best of ``repeat`` runs in milliseconds, and the bound it must stay within
(an absolute time, or a multiple of a reference measured in the same run). The unit tests prove the same bounds
by counting work (tests/test_validation_bounds.py, tests/test_checks_patterns.py); this shows what they mean in
time on this machine.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc_errgen
from grpc_errgen import checks
from tests.support import build

BIG = 3_000_000
PROTO = """
syntax = "proto3";
package adversarial.v1;
import "grpc_errgen/options.proto";
message Labels { map<string, string> labels = 1 [(errgen.field).map.keys.string.max_len = 3]; }
message Tags { repeated string tags = 1 [(errgen.field).repeated.items.string.min_len = 2]; }
message Node { string name = 1 [(errgen.field).string.min_len = 1]; Node child = 2; }
"""


def best_ms(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    build(
        Path(tempfile.mkdtemp(prefix="bench-adversarial-")),
        {"adversarial/v1/a.proto": PROTO},
    )
    pb = importlib.import_module("adversarial.v1.a_pb2")
    importlib.import_module("adversarial.v1.a_errgen")

    def labels(n: int) -> Any:
        message = pb.Labels()
        for k in range(n):
            message.labels[f"key{k:07d}"] = "v"
        return message

    def chain(depth: int) -> Any:
        top = node = pb.Node(name="")
        for _ in range(depth):
            node = node.child
            node.name = ""
        return top

    rows: list[tuple[str, float, str, bool]] = []

    def bounded(name: str, ms: float, limit_ms: float) -> None:
        rows.append((name, ms, f"< {limit_ms:g} ms", ms < limit_ms))

    def relative(
        name: str, ms: float, reference_ms: float, factor: float, what: str
    ) -> None:
        rows.append(
            (
                name,
                ms,
                f"< {factor:g}x {what} ({reference_ms:.2f} ms)",
                ms < factor * reference_ms,
            )
        )

    # Huge maps and lists of bad entries: about what a few hundred cost.
    few, many = labels(300), labels(300_000)
    few_ms = best_ms(lambda: grpc_errgen.violations(few), repeat)
    relative(
        f"300,000 bad map keys ({many.ByteSize() / 1e6:.1f} MB)",
        best_ms(lambda: grpc_errgen.violations(many), repeat),
        few_ms,
        5,
        "300 bad keys",
    )
    tags = pb.Tags(tags=["x"] * 300_000)
    relative(
        "300,000 bad list items",
        best_ms(lambda: grpc_errgen.violations(tags), repeat),
        few_ms,
        5,
        "300 bad keys",
    )
    # Deep nesting: no RecursionError; linear in depth (protobuf's parser stops at 100 levels, Python code can
    # build any depth). A violation per level: each level places up to MAX_VIOLATIONS of those below it.
    deep = {depth: chain(depth) for depth in (100, 1_000, 10_000)}
    took = {
        depth: best_ms(lambda m=message: grpc_errgen.violations(m), repeat)
        for depth, message in deep.items()
    }
    bounded("message nested 100 deep (the parser's limit)", took[100], 10)
    bounded("message nested 1,000 deep", took[1_000], 100)
    relative("message nested 10,000 deep", took[10_000], took[1_000], 15, "1,000 deep")
    # Long strings in the well-known formats.
    formats: list[tuple[str, Callable[[str], bool], str]] = [
        ("uri, 3 MB path", checks.is_uri, "https://example.com/" + "a" * BIG),
        ("uri, 3 MB of slashes", checks.is_uri, "https://example.com" + "/" * BIG),
        (
            "uri, 3 MB host of escapes",
            checks.is_uri,
            "https://" + "%c3%a9" * (BIG // 6),
        ),
        ("uri, 3 MB IPv6 zone id", checks.is_uri, "https://[::1%25" + "a" * BIG + "]/"),
        ("uri_ref, 3 MB relative path", checks.is_uri_ref, "a/" * (BIG // 2)),
        ("hostname, 3 MB", checks.is_hostname, "a." * (BIG // 2)),
        ("email, 3 MB", checks.is_email, "a@" + "b." * (BIG // 2) + "com"),
        ("ip, 3 MB of colons", checks.is_ip, ":" * BIG),
        (
            "ip_prefix, 5,000-digit length",
            checks.is_ip_prefix,
            "10.0.0.0/" + "1" * 5000,
        ),
        (
            "host_and_port, 3 MB port",
            checks.is_host_and_port,
            "example.com:" + "1" * BIG,
        ),
    ]
    for name, check, value in formats:
        bounded(
            name, best_ms(lambda check=check, value=value: check(value), repeat), 50
        )
    # The pattern fast path (Python re) against RE2 on the same adversarial text.
    text = "a" * BIG + "!"
    for pattern in ("^[a-z]+$", "^[a-z]{0,150}[a-z]+$", r"^\d+\.\d+x$"):
        compiled = checks.regex(pattern)
        engine_text = text if "a-z" in pattern else "1" * BIG + "."
        plain = re2.compile(pattern)
        reference = best_ms(lambda plain=plain, t=engine_text: plain.search(t), repeat)
        relative(
            f"pattern {pattern} ({compiled.engine}), 3 MB",
            best_ms(lambda c=compiled, t=engine_text: c.found(t), repeat),
            reference,
            5,
            "RE2",
        )

    print(f"{'input':<52}{'ms':>9}  bound")
    for name, ms, bound, met in rows:
        print(f"{name:<52}{ms:>9.2f}  {bound} {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
