"""Validation speed: grpc-errgen's generated validators vs protovalidate 2.x, side by side in one run.

Run by hand, not in CI: ``python bench/bench_validation.py [--rounds 20] [--round-ms 2]``

Both validate the same message objects, compiled once from the buf.validate annotations of
``bench/protos/errgen_bench/v1/validation_bench.proto`` and ``complex_bench.proto`` (the latter has the shape of
protovalidate-python's own benchmark schema, ``BenchComplexSchema``). Each case checks first that both find the same
violations (rule ids and messages, in order), then times them in alternating rounds; the table gives the best microseconds per
call of each and the ratio ours / protovalidate, with its target. A round lasts about ``--round-ms`` (calls per round
calibrated on our validator): on a shared machine, short rounds are more likely to run undisturbed, so the best of
many short rounds is the steadier measure (long rounds under load can let one side's best stay inflated, and a
ratio look better or worse than it is).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import random
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protovalidate

from grpc_errgen.codegen.protoc import compile_protos, write

PROTOS = Path(__file__).parent / "protos"


class Case(NamedTuple):
    name: str
    message: Any
    ours: Callable[[Any], list[Any]]
    target: float  # ours / protovalidate, at most


def load(out: Path) -> tuple[Any, Any, Any, Any]:
    write(compile_protos([PROTOS]), out)
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return (
        importlib.import_module("errgen_bench.v1.validation_bench_pb2"),
        importlib.import_module("errgen_bench.v1.validation_bench_errgen"),
        importlib.import_module("errgen_bench.v1.complex_bench_pb2"),
        importlib.import_module("errgen_bench.v1.complex_bench_errgen"),
    )


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def complex_message(pb: Any, depth: int, rng: random.Random) -> Any:
    """A valid ``ComplexSchema`` filled as protovalidate-python's benchmark fills ``BenchComplexSchema``."""

    def small() -> int:
        return rng.randint(1, 100)

    message = pb.ComplexSchema(
        s1=rng.choice(WORDS),
        s2=rng.choice(WORDS),
        i32=small(),
        i64=rng.randint(1, 999),
        u32=small(),
        u64=rng.randint(1, 1000),
        si32=small(),
        si64=rng.randint(1, 999),
        f32=small(),
        f64=rng.randint(1, 999),
        sf32=small(),
        sf64=rng.randint(1, 999),
        fl=small(),
        db=small(),
        bl=True,
        by=bytes(range(7, 15)),
        nested=pb.ComplexLeaf(x=small()),
        rep_str=[rng.choice(WORDS) for _ in range(3)],
        rep_i32=[small() for _ in range(2)],
        rep_bytes=[bytes([n, n + 1, n + 2]) for n in range(1, 4)],
        rep_msg=[pb.ComplexLeaf(x=small()) for _ in range(2)],
        map_str_str={"a": "1", "b": "2", "c": "3"},
        map_i32_i64={1: 10, 2: 20, 3: 30},
        map_u64_bool={1: True, 2: False},
        map_str_bytes={"k": b"\x00\x01"},
        map_str_msg={"a": pb.ComplexLeaf(x=small()), "b": pb.ComplexLeaf(x=small())},
        map_i64_msg={1: pb.ComplexLeaf(x=small()), 2: pb.ComplexLeaf(x=small())},
        kind=pb.COMPLEX_KIND_ONE,
        oneof_str=rng.choice(WORDS),
    )
    if depth > 0:
        message.self_ref.CopyFrom(complex_message(pb, depth - 1, rng))
    return message


def cases(pb: Any, ours: Any, cpb: Any, cours: Any) -> list[Case]:
    flat = dict(
        name="widget",
        email="a@b.example",
        quantity=3,
        price=9.5,
        currency="EUR",
        sku="ABC-1234",
    )
    bad_flat = dict(
        name="", email="nope", quantity=0, price=-1.0, currency="EURO", sku="x"
    )
    contact = dict(
        email="someone@example.com",
        id="0b9e6c1e-5d2f-4c36-9a4e-8f1f2a3b4c5d",
        tags=["blue", "green", "red", "vip", "newsletter"],
    )
    bad_contact = dict(email="nope", id="x", tags=["", "y" * 40, "ok"])
    booking = dict(
        code="BK123456", check_in=100, check_out=200, guests=3, rooms=1, tags=["sea"]
    )
    bad_booking = dict(
        code="XX", check_in=0, check_out=-5, guests=30, rooms=2, tags=["x" * 20]
    )

    def cart(n: int) -> Any:
        return pb.Cart(items=[pb.Item(sku=f"SKU{k}", quantity=k + 1) for k in range(n)])

    bad_complex = complex_message(cpb, 1, random.Random(2))
    bad_complex.self_ref.s1 = ""
    bad_complex.rep_msg.add(x=0)
    bad_complex.map_str_bytes[""] = b""
    return [
        Case("flat, valid", pb.Flat(**flat), ours.validate_Flat, 0.6),
        Case("flat, invalid", pb.Flat(**bad_flat), ours.validate_Flat, 0.6),
        Case(
            "email+uuid+list, valid", pb.Contact(**contact), ours.validate_Contact, 0.6
        ),
        Case(
            "email+uuid+list, invalid",
            pb.Contact(**bad_contact),
            ours.validate_Contact,
            0.6,
        ),
        Case("100 nested items", cart(100), ours.validate_Cart, 0.5),
        Case("1,000 nested items", cart(1000), ours.validate_Cart, 0.5),
        Case("CEL, valid", pb.Booking(**booking), ours.validate_Booking, 0.5),
        Case("CEL, invalid", pb.Booking(**bad_booking), ours.validate_Booking, 0.5),
        Case(
            "BenchComplexSchema shape",
            complex_message(cpb, 1, random.Random(1)),
            cours.validate_ComplexSchema,
            0.5,
        ),
        Case(
            "BenchComplexSchema, invalid",
            bad_complex,
            cours.validate_ComplexSchema,
            0.5,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--round-ms", type=float, default=2.0)
    parser.add_argument("--only", help="run the cases whose name contains this")
    options = parser.parse_args()
    pb, ours, cpb, cours = load(Path(tempfile.mkdtemp(prefix="bench-validation-")))
    validator = protovalidate.Validator()
    print(f"{'case':<30}{'ours us':>10}{'pv us':>10}{'ours/pv':>9}{'target':>8}")
    for case in cases(pb, ours, cpb, cours):
        if options.only and options.only not in case.name:
            continue
        found = [(v.rule, v.message) for v in case.ours(case.message)]
        theirs = validator.collect_violations(case.message)
        assert found == [(v.proto.rule_id, v.proto.message) for v in theirs], case.name
        once = timeit.timeit(functools.partial(case.ours, case.message), number=10) / 10
        number = max(5, round(options.round_ms / 1000 / once))
        best = {"ours": float("inf"), "pv": float("inf")}
        for _ in range(
            options.rounds
        ):  # alternating, so both see the same machine load
            for who, function in (
                ("ours", case.ours),
                ("pv", validator.collect_violations),
            ):
                took = timeit.timeit(
                    functools.partial(function, case.message), number=number
                )
                best[who] = min(best[who], took / number * 1e6)
        ratio = best["ours"] / best["pv"]
        verdict = "met" if ratio <= case.target else "MISSED"
        print(
            f"{case.name:<30}{best['ours']:>10.2f}{best['pv']:>10.2f}{ratio:>9.2f}"
            f"{'<= ' + str(case.target):>8} {verdict}"
        )


if __name__ == "__main__":
    main()
