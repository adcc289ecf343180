"""Differential tests: the rule catalogue under (errgen.*) options, against protovalidate 2.x under buf.validate.

``tests/protos/validation/catalogue.proto.in`` is compiled twice, once per option set; random messages biased to
the rules' boundaries are validated by our generated validators and by protovalidate, and every
(path, rule id, message) must be equal.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor

from tests.support import build, load
from tests.validation_reference import build_buf, ours, reference

CATALOGUE = (
    Path(__file__).parent / "protos" / "validation" / "catalogue.proto.in"
).read_text()
MESSAGES = ["Strings", "Numbers", "Bytes", "Collections", "Nested", "Times", "Inline"]
ROUNDS = 1000

_FD = descriptor.FieldDescriptor
_STRINGS = [
    "",
    "a",
    "ab",
    "abc",
    "abcd",
    "abcde",
    "é",
    "éé",
    "aéb",
    "abé",
    "abc ",
    "x",
    "a1",
    "ab9",
    "_9",
    "-",
    "foo@bar.com",
    "a.b@c-d.org",
    "bad@",
    "@x.com",
    "a@b@c",
    "example.com",
    "Ex-ample.co.uk.",
    "-bad.com",
    "a..b",
    "123",
    "1.2.3.4",
    "127.0.0.1",
    "256.1.1.1",
    "01.2.3.4",
    "::1",
    "fe80::1%eth0",
    "2001:db8::",
    "::ffff:1.2.3.4",
    "1::2::3",
    "10.0.0.0/8",
    "10.0.0.1/8",
    "10.0.0.0/33",
    "::/0",
    "2001:db8::/32",
    "2001:db8::1/32",
    "https://example.com/p?q=1#f",
    "http://[::1]:80/",
    "mailto:a@b.c",
    "/rel/path",
    "rel?x",
    "a b",
    "%zz",
    "//host",
    "host:80",
    "[::1]:8080",
    "host:",
    "h:99999",
    "1.2.3.4:0",
    "h:080",
    "123e4567-e89b-12d3-a456-426614174000",
    "123e4567e89b12d3a456426614174000",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "81ARZ3NDEKTSV4RRFFQ69G5FAV",
    "foo.bar",
    ".foo.bar",
    "foo..bar",
    "9foo",
    "Content-Type",
    ":path",
    "bad header",
    "ab\x00",
]
_INTS = [0, 1, -1, 2, 3, 4, 5, 6, 8, 9, 10, 11, -3, -4, -5, -6, 100, -100, 7]
_FLOATS = [
    0.0,
    -0.0,
    0.1,
    0.5,
    1.0,
    1.5,
    -1.5,
    2.0,
    2.5,
    10.0,
    100.0,
    100.5,
    1e-7,
    1e10,
    1e21,
    1e30,
    -2.0,
    float("nan"),
    float("inf"),
    float("-inf"),
]
_BYTES = [
    b"",
    b"a",
    b"ab",
    b"abc",
    b"abcd",
    b"\xff\x01",
    b"\x01\x02",
    b"zz",
    b"\x01qz",
    b"q",
    b"\x01\x02\x03\x04",
    bytes(range(16)),
    b"abz",
    b"\xfe",
]
_SECONDS = [-3, -2, -1, 0, 1, 2, 3, 5, 6, 1000, 1500000000, 2000000000]
_NANOS = [0, 5, 1000, 500000000, -500000000]


def _limits(fd: descriptor.FieldDescriptor) -> tuple[int, int]:
    bits = (
        64
        if fd.type
        in (
            _FD.TYPE_INT64,
            _FD.TYPE_UINT64,
            _FD.TYPE_SINT64,
            _FD.TYPE_FIXED64,
            _FD.TYPE_SFIXED64,
        )
        else 32
    )
    if fd.type in (
        _FD.TYPE_UINT32,
        _FD.TYPE_UINT64,
        _FD.TYPE_FIXED32,
        _FD.TYPE_FIXED64,
    ):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _scalar(rng: random.Random, fd: descriptor.FieldDescriptor) -> Any:
    if fd.type == _FD.TYPE_STRING:
        return rng.choice(_STRINGS)
    if fd.type == _FD.TYPE_BYTES:
        return rng.choice(_BYTES)
    if fd.type == _FD.TYPE_BOOL:
        return rng.random() < 0.5
    if fd.type in (_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE):
        return rng.choice(_FLOATS)
    if fd.type == _FD.TYPE_ENUM:
        return rng.choice([0, 1, 2, 3, 7])
    low, high = _limits(fd)
    value = rng.choice([*_INTS, low, high])
    return min(max(value, low), high)


def _fill(rng: random.Random, message: Any, depth: int = 0) -> None:
    for fd in message.DESCRIPTOR.fields:
        if rng.random() < 0.25:
            continue  # leave unset / empty
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            key_fd, value_fd = (
                fd.message_type.fields_by_name["key"],
                fd.message_type.fields_by_name["value"],
            )
            target = getattr(message, fd.name)
            for _ in range(rng.randint(0, 3)):
                key = _scalar(rng, key_fd)
                if value_fd.message_type is not None:
                    _fill(rng, target[key], depth + 1)
                else:
                    target[key] = _scalar(rng, value_fd)
        elif fd.is_repeated:
            target = getattr(message, fd.name)
            for _ in range(rng.randint(0, 4)):
                if fd.message_type is not None:
                    _fill(rng, target.add(), depth + 1)
                else:
                    target.append(_scalar(rng, fd))
        elif fd.message_type is not None:
            name = fd.message_type.full_name
            if name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
                value = getattr(message, fd.name)
                seconds = rng.choice(_SECONDS)
                if name == "google.protobuf.Timestamp" and rng.random() < 0.4:
                    seconds = int(time.time()) + rng.choice([-7200, -60, 60, 7200])
                nanos = rng.choice(_NANOS)
                if (
                    name == "google.protobuf.Timestamp"
                    or (seconds > 0 and nanos < 0)
                    or (seconds < 0 and nanos > 0)
                ):
                    nanos = abs(nanos)
                    if name == "google.protobuf.Duration" and seconds < 0:
                        nanos = -nanos
                value.seconds, value.nanos = seconds, nanos
            elif depth < 2:
                _fill(rng, getattr(message, fd.name), depth + 1)
            elif rng.random() < 0.5:
                getattr(message, fd.name).SetInParent()
        else:
            setattr(message, fd.name, _scalar(rng, fd))


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    root = tmp_path_factory.mktemp("vdiff")
    ours_text = CATALOGUE.replace("PACKAGE", "vdiff_ours").replace(
        "IMPORT", "grpc_errgen/options.proto"
    )
    ours_text = ours_text.replace("FIELD", "(errgen.field)").replace(
        "ONEOF", "(errgen.oneof)"
    )
    buf_text = CATALOGUE.replace("PACKAGE", "vdiff_buf").replace(
        "IMPORT", "buf/validate/validate.proto"
    )
    buf_text = buf_text.replace("FIELD", "(buf.validate.field)").replace(
        "ONEOF", "(buf.validate.oneof)"
    )
    build(root / "ours", {"vdiff_ours/catalogue.proto": ours_text})
    build_buf(root / "buf", {"vdiff_buf/catalogue.proto": buf_text})
    load("vdiff_ours.catalogue_errgen")
    return load("vdiff_ours.catalogue_pb2"), load("vdiff_buf.catalogue_pb2")


@pytest.mark.parametrize("name", MESSAGES)
def test_same_violations_as_protovalidate(modules: tuple[Any, Any], name: str) -> None:
    ours_module, buf_module = modules
    rng = random.Random(f"vdiff-{name}")
    seen_rules: set[str] = set()
    for _ in range(ROUNDS):
        message = getattr(ours_module, name)()
        _fill(rng, message)
        twin = getattr(buf_module, name).FromString(message.SerializeToString())
        try:
            expected = reference(twin)
        except (
            Exception
        ) as exc:  # protovalidate refuses some inputs (regex on non-UTF-8 bytes)
            if "UTF-8" in str(exc):
                continue
            raise
        got = ours(message)
        missing = [v for v in expected if v not in got]
        extra = [v for v in got if v not in expected]
        assert sorted(got) == sorted(
            expected
        ), f"missing {missing}, extra {extra} for {message}"
        seen_rules.update(rule for _, rule, _ in got)
    assert (
        seen_rules
    ), "no message broke any rule: the generator is not biased to the boundaries"


def test_catalogue_source_is_black_stable(modules: tuple[Any, Any]) -> None:
    import black

    source = Path(modules[0].__file__).with_name("catalogue_errgen.py").read_text()
    assert black.format_str(source, mode=black.Mode(line_length=88)) == source
