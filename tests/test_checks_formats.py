"""The well-known formats of ``grpc_errgen.checks`` where they once disagreed with protovalidate 2.1, the
structured paths generated validators build, and the runtime error of a pattern on bytes that are not UTF-8.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from grpc_errgen import checks
from grpc_errgen.errors import FieldPathElement, ValidationRuntimeError, Violation

TYPE_STRING, TYPE_MESSAGE, TYPE_UINT32, TYPE_SINT64 = 9, 11, 13, 18

_LABEL = "a" * 63
HOSTNAME_253 = ".".join([_LABEL, _LABEL, _LABEL, "a" * 61])


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (HOSTNAME_253, True),
        (
            HOSTNAME_253 + ".",
            True,
        ),  # 254 characters, but the trailing dot is not part of the name
        (HOSTNAME_253 + "a", False),
        (HOSTNAME_253 + "a.", False),
        (".", False),
        ("example.com.", True),
    ],
)
def test_hostname_length_leaves_out_the_trailing_dot(value: str, valid: bool) -> None:
    assert checks.is_hostname(value) is valid
    assert checks.is_address(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://foo%41", True),
        ("https://foo%c3%a9", True),
        ("https://foo%ff", False),  # does not decode to UTF-8
        ("https://%c3", False),
        ("https://foo%ff:80", False),
        ("https://foo/%ff", True),  # only the host is decoded
        ("https://u%ff@foo", True),
        ("https://[::1%25a]", True),
        ("https://[::1%25%41]", True),
        ("https://[::1%25a%25]", True),
        ("https://[::1%25foo%]", False),  # bad percent-encoding in the zone id
        ("https://[::1%25a b]", False),  # a character RFC 6874 does not allow
        ("https://[::1%25%ff]", False),
        ("https://[::1%25]", False),
        ("https://[v1.x]", True),
    ],
)
def test_uri_hosts_are_checked_as_protovalidate_checks_them(
    value: str, valid: bool
) -> None:
    assert checks.is_uri(value) is valid
    assert checks.is_uri_ref(value) is valid


def test_relative_references_check_their_host_too() -> None:
    assert checks.is_uri_ref("//foo%41/x")
    assert not checks.is_uri_ref("//foo%ff")
    assert checks.is_uri_ref("foo%ff")  # a path, not a host


@pytest.mark.parametrize(
    ("value", "valid"),
    [("::1%a", True), ("::1%a b", True), ("::1%a\x00", False), ("::1%", False)],
)
def test_zone_ids_hold_anything_but_nul(value: str, valid: bool) -> None:
    assert checks.is_ip(value) is valid
    assert checks.is_ip(value, 6) is valid
    assert checks.is_address(value) is valid
    assert checks.is_host_and_port(f"[{value}]:80") is valid


def test_a_pattern_on_bytes_that_are_not_utf8_is_a_runtime_error() -> None:
    for pattern in ("^[a-z]*$", "b+"):  # the Python re fast path and RE2
        compiled = checks.regex(pattern)
        assert compiled.found_bytes(b"abc")
        assert not compiled.found_bytes(b"...")
        with pytest.raises(ValidationRuntimeError, match="not valid UTF-8"):
            compiled.found_bytes(b"\xff")
    assert checks.regex("^[a-z]*$").engine == "re"
    assert checks.regex("b+").engine == "re2"


def test_nested_violations_get_both_path_prefixes() -> None:
    sku = FieldPathElement("sku", 1, TYPE_STRING)
    rule = (FieldPathElement("string", 14, TYPE_MESSAGE),)
    inner = Violation("sku", "string.min_len", "too short", (sku,), rule)
    items = FieldPathElement("items", 2, TYPE_MESSAGE)
    out: list[Violation] = []
    checks.nest(out, "items[3]", [inner], items.at_index(3))
    assert out == [
        Violation(
            "items[3].sku",
            "string.min_len",
            "too short",
            (FieldPathElement("items", 2, TYPE_MESSAGE, index=3), sku),
            rule,
        )
    ]


def test_map_key_violations_carry_the_key_and_for_key() -> None:
    labels = FieldPathElement("labels", 5, TYPE_MESSAGE, TYPE_SINT64, TYPE_STRING)
    built = Violation("", "sint64.lt", "must be less than 0", (), (), for_key=True)
    found = checks.at("labels[1]", built, labels.at_key(1))
    assert found.for_key
    assert found.field_path[0].subscript == ("int_key", 1)
    assert found.field_path[0].key_type == TYPE_SINT64
    unsigned = FieldPathElement("counts", 6, TYPE_MESSAGE, TYPE_UINT32, TYPE_STRING)
    assert unsigned.at_key(7).subscript == ("uint_key", 7)
    assert labels.at_key(True).subscript == ("bool_key", True)
    assert labels.at_key("k").subscript == ("string_key", "k")
    assert FieldPathElement("items", 2, TYPE_MESSAGE).at_index(0).subscript == (
        "index",
        0,
    )
    assert FieldPathElement("oneof_name").subscript is None


_BIG = 3_000_000


@pytest.mark.parametrize(
    ("check", "value", "valid"),
    [
        # Numbers longer than Python's 4,300-digit int conversion limit are refused, not raised on.
        (checks.is_ip_prefix, "10.0.0.0/" + "1" * 5000, False),
        (checks.is_ip_prefix, "::/" + "0" * 5000, False),
        (checks.is_host_and_port, "example.com:" + "1" * 5000, False),
        (checks.is_host_and_port, "[::1]:" + "8" * 5000, False),
        (checks.is_ip, ":" * _BIG, False),
        (checks.is_ip, "::1%" + "a" * _BIG, True),  # a zone id has no length limit
        (checks.is_email, "a@" + "b." * (_BIG // 2) + "com", False),
        (checks.is_protobuf_fqn, "a." * (_BIG // 2) + "b", True),
        # Long URIs (the grammar runs on RE2); the bench times them (bench/bench_adversarial.py).
        (checks.is_uri, "https://example.com/" + "a" * _BIG, True),
        (checks.is_uri, "https://example.com" + "/" * _BIG, True),
        (checks.is_uri, "https://example.com/" + "a" * _BIG + " ", False),
        (checks.is_uri, "https://" + "%41" * (_BIG // 3), True),
        (checks.is_uri, "https://" + "%c3%a9" * (_BIG // 6), True),
        (checks.is_uri, "https://" + "%c3" * (_BIG // 3), False),
        (checks.is_uri, "https://[::1%25" + "a" * _BIG + "]/", True),
        (checks.is_uri, "https://[" + "a" * _BIG + "]", False),
        (checks.is_uri_ref, "a" * _BIG, True),
        (checks.is_uri_ref, "//" + "a:" * (_BIG // 2) + "@x", True),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_long_values_get_the_right_answer(
    check: Callable[[str], bool], value: str, valid: bool
) -> None:
    assert check(value) is valid


@pytest.mark.parametrize(
    "value",
    [
        "https://ex\u00e4mple.com",
        "https://[::1%25\u00e4]",
        "https://[v1.\u00e4]",
        "\u00e4",
    ],
)
def test_uris_are_ascii(value: str) -> None:
    assert not checks.is_uri(value)
    assert not checks.is_uri_ref(value)
