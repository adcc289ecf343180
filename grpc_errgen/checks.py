"""Runtime helpers of generated validators, and protovalidate's text formats for values inside messages.

Generated code calls the ``is_*`` checks (the well-known string formats), ``regex`` (RE2, compiled once at
import) and ``nest`` (prefixing the violations of a nested message with its path). The ``format_*`` functions
run in the generator: messages are constants in generated code, written as protovalidate 2.x writes them.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import re2

from grpc_errgen.errors import FieldPathElement, ValidationRuntimeError, Violation
from grpc_errgen.patterns import translate
from grpc_errgen.validation import MAX_VIOLATIONS

# -- paths -------------------------------------------------------------------------------------------------


def nest(
    out: list[Violation],
    prefix: str,
    found: list[Violation],
    *prefix_path: FieldPathElement,
) -> None:
    """Append the violations of a nested message, their paths under ``prefix`` (``items[0]`` + ``sku``) and
    their structured paths under the elements ``prefix_path``; no more than take ``out`` past
    ``MAX_VIOLATIONS`` (the caller then stops)."""
    for violation in found[: max(0, MAX_VIOLATIONS + 1 - len(out))]:
        path = f"{prefix}.{violation.field}" if violation.field else prefix
        out.append(
            Violation(
                path,
                violation.rule,
                violation.message,
                prefix_path + violation.field_path,
                violation.rule_path,
                violation.for_key,
            )
        )


def at(path: str, violation: Violation, *field_path: FieldPathElement) -> Violation:
    """``violation`` (built once, at import, without its path) for the value at ``path``, whose structured
    path is the elements ``field_path``."""
    return Violation(
        path,
        violation.rule,
        violation.message,
        field_path + violation.field_path,
        violation.rule_path,
        violation.for_key,
    )


#: The checks of a message that can hold itself, as a generator: it appends its violations to the list it was
#: given and yields the walk of each nested message that is recursive too (``walk`` runs that one first).
Walk = Generator["Walk", None, None]


def walk(top: Walk) -> None:
    """Run a recursive message's walk, its nested walks on an explicit stack instead of Python's: a message
    nested thousands deep (protobuf accepts any depth built in Python; its parser stops at 100) never raises
    RecursionError. Each nested walk is finished before its parent resumes, so violations come in the order
    plain calls would give them."""
    stack = [top]
    while stack:
        nested = next(stack[-1], None)  # None: that walk is done
        if nested is None:
            stack.pop()
        else:
            stack.append(nested)


#: Generated loops walk a list (a protobuf repeated field) as ``islice(v, len(v))``: iterating the upb container
#: itself ends by asking for the item past the end, an IndexError raised and caught (~0.15 us a loop, more than
#: checking five items); stopping at its length never asks. A copy (``v[:]``) would be as fast but holds every
#: item at once (a 4 MB request can carry two million messages).
islice = itertools.islice


def paths_within(paths: Iterable[str], allowed: tuple[str, ...]) -> bool:
    """Every field mask path is one of ``allowed`` or lies below one (``a.b`` below ``a``)."""
    return all(
        path in allowed or any(path.startswith(a + ".") for a in allowed)
        for path in paths
    )


def paths_touch(paths: Iterable[str], refused: tuple[str, ...]) -> bool:
    """Some field mask path is one of ``refused`` or lies below one."""
    return not all(
        path not in refused and not any(path.startswith(r + ".") for r in refused)
        for path in paths
    )


#: A string map key as it appears in a path: ``labels["k"]``. What ``json.dumps(value, ensure_ascii=False)``
#: writes for a str (it calls this very function), without its ~0.7 us of dispatch: C, ~0.02 us.
key: Callable[[str], str] = json.encoder.encode_basestring


# -- regular expressions -----------------------------------------------------------------------------------


class Pattern:
    """An RE2 pattern (ASCII ``\\d \\w \\s``, linear time) for unanchored search, compiled once.

    ``found`` and ``found_bytes`` are closures, not methods (a method adds a frame and attribute reads). Patterns
    of the small subset in ``grpc_errgen.patterns`` that start with ``^`` (single-character atoms with
    quantifiers, such as ``^[A-Z]{3}-[0-9]{4}$``) run as their exact Python ``re`` translation, bound once:
    ~0.25 us a call. They are taken only when their backtracking is provably linear with a small constant
    (``grpc_errgen.patterns``: a constant part plus at most a few steps per character), so adversarial text
    costs a few times what RE2 spends, never hundreds. Everything else runs on the RE2 binding's
    ``RE2.Match`` (``re2``'s Python ``search`` builds match objects and costs ~5 us a call; the binding call
    itself costs ~0.7 us). ``engine`` says which: ``"re"`` or ``"re2"``.
    """

    __slots__ = ("engine", "found", "found_bytes")

    engine: str
    found: Callable[[str], bool]
    found_bytes: Callable[[bytes], bool]

    def __init__(self, pattern: str) -> None:
        options = re2.Options()
        options.never_capture = True
        compiled = re2.compile(
            pattern, options=options
        )  # raises on what RE2 rejects, subset or not
        re2_found, re2_found_bytes = _re2(compiled)
        translation = translate(pattern)
        # Only anchored translations: they try one start position, so the bound on backtracking holds for any
        # text. Unanchored, ``re`` would try every position and a pathological pattern costs 100x RE2.
        if translation is None or translation.method == "search":
            self.engine = "re2"
            self.found, self.found_bytes = re2_found, re2_found_bytes
            return
        self.engine = "re"
        self.found, self.found_bytes = _fast(
            getattr(re.compile(translation.source), translation.method)
        )


def _re2(compiled: Any) -> tuple[Callable[[str], bool], Callable[[bytes], bool]]:
    """``found`` and ``found_bytes`` over the RE2 binding's ``RE2.Match``, bound once."""
    match = compiled._regexp.Match
    anywhere = _UNANCHORED

    def found(text: str) -> bool:
        """``pattern`` matches somewhere in ``text``."""
        try:
            data = text.encode()
        except UnicodeEncodeError:  # lone surrogates: not in messages, in a str
            data = text.encode("utf-8", "surrogatepass")
        return match(anywhere, data, 0, len(data))[0][0] >= 0  # type: ignore[no-any-return]

    def found_bytes(value: bytes) -> bool:
        """``pattern`` matches somewhere in the UTF-8 text ``value``."""
        _require_utf8(value)
        return match(anywhere, value, 0, len(value))[0][0] >= 0  # type: ignore[no-any-return]

    return found, found_bytes


def _fast(
    run: Callable[[str], re.Match[str] | None],
) -> tuple[Callable[[str], bool], Callable[[bytes], bool]]:
    """``found`` and ``found_bytes`` over a translated pattern's bound ``match`` / ``fullmatch``."""

    def found(text: str) -> bool:
        """The pattern matches ``text`` (anchored at its start)."""
        return run(text) is not None

    def found_bytes(value: bytes) -> bool:
        """The pattern matches the UTF-8 text ``value``."""
        return run(_require_utf8(value)) is not None

    return found, found_bytes


_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED


def _require_utf8(value: bytes) -> str:
    """``value`` as text; bytes that are not UTF-8 cannot be matched: a runtime error, as in protovalidate."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationRuntimeError(
            "bytes.pattern: the value is not valid UTF-8"
        ) from None


def regex(pattern: str) -> Pattern:
    return Pattern(pattern)


# -- formats inside messages (used by the generator) -------------------------------------------------------


def format_number(value: float | int | bool) -> str:
    """A number as protovalidate prints it: ``10000000000`` for 1e10, ``0.1``, ``2`` for 2.0, no exponents."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _fraction(nanos: int) -> str:
    return f".{nanos:09d}".rstrip("0") if nanos else ""


def format_duration(seconds: int, nanos: int) -> str:
    """``1.5s``, ``-2.5s``, ``0.000001s``."""
    total = seconds * 1_000_000_000 + nanos
    sign = "-" if total < 0 else ""
    whole, part = divmod(abs(total), 1_000_000_000)
    return f"{sign}{whole}{_fraction(part)}s"


def format_timestamp(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC with the fraction trimmed: ``1970-01-01T00:00:01.5Z``."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(nanos) + "Z"


def format_bytes_text(value: bytes) -> str:
    """Bytes inside a list, as protovalidate prints them: the text, invalid UTF-8 replaced."""
    return value.decode("utf-8", errors="replace")


def format_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


# -- well-known string formats -----------------------------------------------------------------------------

# Possessive: the local part cannot hold "@" and a label cannot hold ".", so giving back characters never helps
# a full match; not retrying saves ~0.1 us a call (``?+`` on a label's tail costs less than an atomic group).
_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]++@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?+"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?+)*+",
    re.ASCII,
)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_IPV4 = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}", re.ASCII)
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    re.ASCII,
)
_TUUID = re.compile(r"[0-9a-fA-F]{32}", re.ASCII)
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}", re.ASCII)
# Possessive: a name holds no ".", so giving back characters never helps (and 3 MB costs ~5 ms, not ~100).
_FQN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*+(?:\.[A-Za-z_][A-Za-z_0-9]*+)*+", re.ASCII)
#: ``ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255``; longer texts are refused before any parsing.
_IPV6_LONGEST = 45


def is_email(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def is_hostname(value: str) -> bool:
    """RFC 1123 host names; one trailing dot (a fully-qualified name) is allowed on top of 253 characters."""
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    for label in labels:
        if len(label) > 63 or _LABEL.fullmatch(label) is None:
            return False
    return _DIGITS.fullmatch(labels[-1]) is None


def is_ipv4(value: str) -> bool:
    if _IPV4.fullmatch(value) is None:
        return False
    return all(int(part) <= 255 for part in value.split("."))


def is_ipv6(value: str) -> bool:
    """An IPv6 address, optionally with a zone id (``fe80::1%eth0``: any text but NUL after the ``%``)."""
    address, percent, zone = value.partition("%")
    if percent and (not zone or "\x00" in zone):
        return False
    if len(address) > _IPV6_LONGEST:
        return False
    if not re.fullmatch(r"[0-9A-Fa-f:.]+", address, re.ASCII):
        return False
    if "." in address:
        tail = address.rpartition(":")[2]
        if not is_ipv4(tail):
            return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def is_ip(value: str, version: int = 0) -> bool:
    if version == 4:
        return is_ipv4(value)
    if version == 6:
        return is_ipv6(value)
    return is_ipv4(value) or is_ipv6(value)


def is_ip_prefix(value: str, version: int = 0, strict: bool = False) -> bool:
    """``addr/len``; ``strict``: the host bits are zero."""
    address, slash, length = value.partition("/")
    if (
        not slash
        or len(length) > 3
        or _DIGITS.fullmatch(length) is None
        or (len(length) > 1 and length[0] == "0")
    ):
        return False
    if "%" in address:
        return False
    bits = int(length)
    if version in (0, 4) and is_ipv4(address):
        limit, parsed = 32, int(ipaddress.IPv4Address(address))
    elif version in (0, 6) and is_ipv6(address):
        limit, parsed = 128, int(ipaddress.IPv6Address(address))
    else:
        return False
    if bits > limit:
        return False
    return not strict or parsed & ((1 << (limit - bits)) - 1) == 0


def is_address(value: str) -> bool:
    return is_hostname(value) or is_ip(value)


def _is_port(text: str) -> bool:
    if (
        len(text) > 5
        or _DIGITS.fullmatch(text) is None
        or (len(text) > 1 and text[0] == "0")
    ):
        return False
    return int(text) <= 65535


def is_host_and_port(value: str) -> bool:
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or value[end + 1 : end + 2] != ":":
            return False
        return is_ipv6(value[1:end]) and _is_port(value[end + 2 :])
    host, colon, port = value.rpartition(":")
    if not colon:
        return False
    return (is_hostname(host) or is_ipv4(host)) and _is_port(port)


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def is_tuuid(value: str) -> bool:
    return _TUUID.fullmatch(value) is not None


def is_ulid(value: str) -> bool:
    return _ULID.fullmatch(value) is not None


def is_protobuf_fqn(value: str) -> bool:
    return _FQN.fullmatch(value) is not None


def is_protobuf_dot_fqn(value: str) -> bool:
    return value.startswith(".") and _FQN.fullmatch(value[1:]) is not None


# RFC 3986, section 3 and appendix A. The grammar runs on RE2 (linear time: a 3 MB value takes a few ms; Python's
# ``re`` took 0.2-1.5 s, backtracking through the nested repeats); everything else is string operations.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_IP_LITERAL = r"\[[^\[\]/?#@]*\]"
_HOST = rf"(?:{_IP_LITERAL}|{_REG_NAME})"
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?"
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_PATH_ABSOLUTE = rf"/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
_PATH_ROOTLESS = rf"{_PCHAR}+(?:/{_PCHAR}*)*"
_PATH_NOSCHEME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}@]|{_PCT})+(?:/{_PCHAR}*)*"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
_HIER = rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_ROOTLESS}|)"
_RELATIVE = rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_NOSCHEME}|)"
# Percent-encoded text that decodes to UTF-8: characters other than "%", ASCII escapes, and escapes spelling a
# well-formed multi-byte sequence (RFC 3629, section 4), one escape per byte.
_X = "[0-9A-Fa-f]"
_CONT = rf"%[89ABab]{_X}"
_ESCAPED_UTF8 = (
    rf"(?:[^%]|%[0-7]{_X}|%[Cc][2-9A-Fa-f]{_CONT}|%[Dd]{_X}{_CONT}"
    rf"|%[Ee]0%[ABab]{_X}{_CONT}|%[Ee][1-9A-Ca-cEeFf]{_CONT}{_CONT}|%[Ee][Dd]%[89]{_X}{_CONT}"
    rf"|%[Ff]0%[9ABab]{_X}{_CONT}{_CONT}|%[Ff][1-3]{_CONT}{_CONT}{_CONT}|%[Ff]4%8{_X}{_CONT}{_CONT})*"
)


def _whole(pattern: str) -> Callable[[str], bool]:
    """RE2 matching all of an ASCII text (callers check ``isascii`` first)."""
    options = re2.Options()
    options.never_capture = True
    match = re2.compile(pattern, options=options)._regexp.Match
    both = re2._re2.RE2.Anchor.ANCHOR_BOTH

    def whole(text: str) -> bool:
        data = text.encode("ascii")
        return match(both, data, 0, len(data))[0][0] >= 0  # type: ignore[no-any-return]

    return whole


_is_uri_text = _whole(rf"{_SCHEME}:{_HIER}(?:\?{_QUERY})?(?:#{_QUERY})?")
_is_relative_ref_text = _whole(rf"{_RELATIVE}(?:\?{_QUERY})?(?:#{_QUERY})?")
_is_ipv_future = _whole(rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
_is_zone_id = _whole(rf"(?:[{_UNRESERVED}]|{_PCT})+")
_decodes_to_utf8 = _whole(_ESCAPED_UTF8)
_AUTHORITY_END = re.compile(r"[/?#]")


def _host_ok(value: str, start: int) -> bool:
    """The host of the authority at ``start`` (when there is one), in a text the grammar accepted: a reg-name
    percent-decodes to UTF-8; an ``[...]`` literal holds an IPv6 address (zone id as ``%25`` + RFC 6874
    characters, UTF-8 once decoded) or an ``IPvFuture``."""
    if not value.startswith("//", start):
        return True
    end = _AUTHORITY_END.search(value, start + 2)
    authority = value[start + 2 : end.start() if end else len(value)]
    host = authority.rpartition("@")[2]  # neither userinfo nor host holds an "@"
    if not host.startswith("["):
        host = host.partition(":")[0]  # a reg-name holds no ":"
        return "%" not in host or _decodes_to_utf8(host)
    inner = host[1 : host.index("]")]
    if _is_ipv_future(inner):
        return True
    address, percent, zone = inner.partition("%25")
    if percent and not (_is_zone_id(zone) and _decodes_to_utf8(zone)):
        return False
    return "%" not in address and is_ipv6(address)


def is_uri(value: str) -> bool:
    # Only an ``[...]`` literal admits other than ASCII, and no IPv6 address, IPvFuture or zone id does.
    return (
        value.isascii() and _is_uri_text(value) and _host_ok(value, value.find(":") + 1)
    )


def is_uri_ref(value: str) -> bool:
    if not value.isascii():
        return False
    if _is_uri_text(value):
        return _host_ok(value, value.find(":") + 1)
    return _is_relative_ref_text(value) and _host_ok(value, 0)


# -- small helpers of generated code -----------------------------------------------------------------------


# The C function itself: generated code calls it once per ``finite`` rule, a Python wrapper would add a frame.
is_finite = math.isfinite


def is_default_float(value: float) -> bool:
    """``value`` is +0.0, the default a proto3 field without presence does not serialise (-0.0 it does)."""
    return value == 0 and math.copysign(1.0, value) > 0


def bool_key(value: bool) -> str:
    """A bool map key as it appears in a path: ``flags[true]``."""
    return "true" if value else "false"


def now_nanos() -> int:
    return time.time_ns()
