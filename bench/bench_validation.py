"""Validation speed: our generated validator vs protovalidate 2.x vs a hand-written function, same messages.

Run by hand: ``python bench/bench_validation.py`` (prints a table of microseconds per call and
ratios). ``ours`` is generated from ``(errgen.*)`` options, ``buf`` from the same protos annotated with
``(buf.validate.*)`` options (our generator, protovalidate's dialect), ``pv`` is protovalidate itself. Cases: a flat 6-rule message (valid and invalid), a message with 100 nested items, and a message with six
field-level and two message-level CEL rules (valid and invalid).
"""

from __future__ import annotations

import math
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protovalidate

import grpc_errgen
from grpc_errgen.checks import is_email
from grpc_errgen.errors import Violation
from tests.support import build, load
from tests.validation_reference import build_buf

PROTO = """
syntax = "proto3";
package PACKAGE;
import "IMPORT";
message Flat {
  string name = 1 [FIELD.string = {min_len: 1, max_len: 64}];
  string email = 2 [FIELD.string.email = true];
  int32 quantity = 3 [FIELD.int32 = {gt: 0, lte: 1000}];
  double price = 4 [FIELD.double = {gte: 0, finite: true}];
  string currency = 5 [FIELD.string.len = 3];
  string sku = 6 [FIELD.string.pattern = "^[A-Z]{3}-[0-9]{4}$"];
}
message Item { string sku = 1 [FIELD.string.min_len = 3]; int32 quantity = 2 [FIELD.int32.gt = 0]; }
message Cart { repeated Item items = 1 [FIELD.repeated.max_items = 500]; }
message Booking {
  option MESSAGE.cel = {
    id: "booking.dates", message: "check_out must be after check_in", expression: "this.check_out > this.check_in"
  };
  option MESSAGE.cel = {
    id: "booking.guests", message: "too many guests", expression: "this.guests <= this.rooms * 4"
  };
  string code = 1 [FIELD.cel = {
    id: "code.shape", message: "bad code", expression: "size(this) == 8 && this.startsWith('BK')"
  }];
  int64 check_in = 2 [FIELD.cel = { id: "check_in.positive", message: "must be positive", expression: "this > 0" }];
  int64 check_out = 3;
  int32 guests = 4 [FIELD.cel = {
    id: "guests.range", expression: "this >= 1 && this <= 20 ? '' : 'guests must be 1..20, not %d'.format([this])"
  }];
  int32 rooms = 5;
  repeated string tags = 6 [FIELD.cel = {
    id: "tags.short", message: "tags must be short", expression: "this.all(t, size(t) <= 16)"
  }];
}
"""


def hand_written_flat(m: Any) -> list[Violation]:
    """The 6 rules of ``Flat`` with protovalidate's semantics, as one would write them by hand: a real email
    check (the same well-known-format check ours calls), ``finite`` on the price, the same RE2 binding for the
    pattern (the check is what differs between implementations, the engine must not).
    """
    out = []
    name = m.name
    if len(name) < 1:
        out.append(Violation("name", "string.min_len", "must be at least 1 characters"))
    elif len(name) > 64:
        out.append(Violation("name", "string.max_len", "must be at most 64 characters"))
    email = m.email
    if not email:
        out.append(Violation("email", "string.email_empty", "value is empty"))
    elif not is_email(email):
        out.append(Violation("email", "string.email", "must be a valid email address"))
    if not 0 < m.quantity <= 1000:
        out.append(Violation("quantity", "int32.gt_lte", "bad"))
    price = m.price
    if not price >= 0:
        out.append(Violation("price", "double.gte", "bad"))
    if not math.isfinite(price):
        out.append(Violation("price", "double.finite", "must be finite"))
    if len(m.currency) != 3:
        out.append(Violation("currency", "string.len", "must be 3 characters"))
    if not HAND_SKU(m.sku):
        out.append(Violation("sku", "string.pattern", "bad"))
    return out


def hand_written_cart(m: Any) -> list[Violation]:
    out = []
    for i, item in enumerate(m.items):
        if len(item.sku) < 3:
            out.append(
                Violation(
                    f"items[{i}].sku", "string.min_len", "must be at least 3 characters"
                )
            )
        if not item.quantity > 0:
            out.append(
                Violation(f"items[{i}].quantity", "int32.gt", "must be greater than 0")
            )
    return out


def hand_written_booking(m: Any) -> list[Violation]:
    """``Booking``'s CEL rules written by hand (int64 arithmetic cannot overflow on int32 fields here)."""
    out = []
    if not m.check_out > m.check_in:
        out.append(Violation("", "booking.dates", "check_out must be after check_in"))
    if not m.guests <= m.rooms * 4:
        out.append(Violation("", "booking.guests", "too many guests"))
    code = m.code
    if not (len(code) == 8 and code.startswith("BK")):
        out.append(Violation("code", "code.shape", "bad code"))
    if not m.check_in > 0:
        out.append(Violation("check_in", "check_in.positive", "must be positive"))
    guests = m.guests
    if not 1 <= guests <= 20:
        out.append(
            Violation("guests", "guests.range", f"guests must be 1..20, not {guests}")
        )
    if not all(len(t) <= 16 for t in m.tags):
        out.append(Violation("tags", "tags.short", "tags must be short"))
    return out


HAND_SKU = grpc_errgen.checks.regex("^[A-Z]{3}-[0-9]{4}$").found


def timed(function: Any, message: Any) -> float:
    number = 2000
    best = min(timeit.repeat(lambda: function(message), number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-validation-"))
    ours_text = PROTO.replace("PACKAGE", "bench_ours").replace(
        "IMPORT", "grpc_errgen/options.proto"
    )
    build(
        root / "ours",
        {
            "bench_ours/v.proto": ours_text.replace("FIELD", "(errgen.field)").replace(
                "MESSAGE", "(errgen.message)"
            )
        },
    )
    buf_text = PROTO.replace("PACKAGE", "bench_buf").replace(
        "IMPORT", "buf/validate/validate.proto"
    )
    build_buf(
        root / "buf",
        {
            "bench_buf/v.proto": buf_text.replace(
                "FIELD", "(buf.validate.field)"
            ).replace("MESSAGE", "(buf.validate.message)")
        },
    )
    # The buf.validate protos, generated by us: same rules, protovalidate's dialect (own package, own modules).
    build(
        root / "bufgen",
        {
            "bench_bufgen/v.proto": buf_text.replace("bench_buf", "bench_bufgen")
            .replace("FIELD", "(buf.validate.field)")
            .replace("MESSAGE", "(buf.validate.message)")
        },
    )
    generated = load("bench_ours.v_errgen")
    from_buf = load("bench_bufgen.v_errgen")
    bufgen_pb = load("bench_bufgen.v_pb2")
    ours_pb, buf_pb = load("bench_ours.v_pb2"), load("bench_buf.v_pb2")
    validator = protovalidate.Validator()

    valid = dict(
        name="widget",
        email="a@b.example",
        quantity=3,
        price=9.5,
        currency="EUR",
        sku="ABC-1234",
    )
    invalid = dict(
        name="", email="nope", quantity=0, price=-1.0, currency="EURO", sku="x"
    )
    cart = ours_pb.Cart()
    for n in range(100):
        cart.items.add(sku=f"SKU{n}", quantity=n + 1)
    booking = dict(
        code="BK123456",
        check_in=100,
        check_out=200,
        guests=3,
        rooms=1,
        tags=["sea", "view"],
    )
    bad_booking = dict(
        code="XX", check_in=0, check_out=-5, guests=30, rooms=2, tags=["x" * 20]
    )
    cases = [
        (
            "flat valid",
            ours_pb.Flat(**valid),
            buf_pb.Flat(**valid),
            generated.validate_Flat,
            hand_written_flat,
            from_buf.validate_Flat,
            bufgen_pb.Flat(**valid),
        ),
        (
            "flat invalid",
            ours_pb.Flat(**invalid),
            buf_pb.Flat(**invalid),
            generated.validate_Flat,
            hand_written_flat,
            from_buf.validate_Flat,
            bufgen_pb.Flat(**invalid),
        ),
        (
            "100 items",
            cart,
            buf_pb.Cart.FromString(cart.SerializeToString()),
            generated.validate_Cart,
            hand_written_cart,
            from_buf.validate_Cart,
            bufgen_pb.Cart.FromString(cart.SerializeToString()),
        ),
    ]
    for name, values in (("cel valid", booking), ("cel invalid", bad_booking)):
        cases.append(
            (
                name,
                ours_pb.Booking(**values),
                buf_pb.Booking(**values),
                generated.validate_Booking,
                hand_written_booking,
                from_buf.validate_Booking,
                bufgen_pb.Booking(**values),
            )
        )
    print(
        f"{'case':<14}{'ours us':>10}{'buf us':>10}{'hand us':>10}{'pv us':>10}"
        f"{'ours/hand':>11}{'ours/pv':>9}{'buf/pv':>8}"
    )
    for name, ours_msg, buf_msg, ours_fn, hand_fn, buf_fn, bufgen_msg in cases:
        assert len(ours_fn(ours_msg)) == len(
            validator.collect_violations(buf_msg)
        ), name
        assert len(hand_fn(ours_msg)) == len(ours_fn(ours_msg)), name
        assert len(buf_fn(bufgen_msg)) == len(ours_fn(ours_msg)), name
        t_ours = timed(ours_fn, ours_msg)
        t_buf = timed(buf_fn, bufgen_msg)
        t_hand = timed(hand_fn, ours_msg)
        t_pv = timed(validator.collect_violations, buf_msg)
        print(
            f"{name:<14}{t_ours:>10.2f}{t_buf:>10.2f}{t_hand:>10.2f}{t_pv:>10.2f}"
            f"{t_ours / t_hand:>11.2f}{t_ours / t_pv:>9.2f}{t_buf / t_pv:>8.2f}"
        )
    t_lookup = timed(grpc_errgen.violations, ours_pb.Flat(**valid))
    print(
        f"grpc_errgen.violations(flat valid), with the registry lookup: {t_lookup:.2f} us"
    )


if __name__ == "__main__":
    main()
