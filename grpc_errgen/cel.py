"""What generated code calls to evaluate CEL compiled ahead of time (custom and predefined rules).

CEL values are plain Python values: int (int and uint), float, bool, str, bytes, None, sequences, mappings,
messages; durations and timestamps are int nanoseconds (timestamps since the Unix epoch). Generated code does the
simple things inline (comparisons, ``len``, ``in``, string methods) and calls these helpers where CEL's semantics
differ from Python's: overflow-checked int64/uint64 arithmetic, truncating division, errors instead of wrap-around,
conversions, ``format``. Every evaluation error raises ``CelEvalError``; the generator also uses the parsers here to
fold literals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grpc_errgen import checks
from grpc_errgen.errors import ValidationRuntimeError

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
NANOS = 1_000_000_000
# CEL's ranges: durations within int64 nanoseconds (as cel-go checks), timestamps 0001-01-01..9999-12-31.
TIMESTAMP_MIN = -62135596800 * NANOS
TIMESTAMP_MAX = 253402300799 * NANOS + NANOS - 1

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class CelEvalError(ValidationRuntimeError):
    """A CEL expression failed while evaluating (overflow, division by zero, no such key, bad conversion...):
    ``validate()`` / ``violations()`` raise it; the server stage answers INTERNAL "validation failed".
    """


# -- int64 / uint64 -------------------------------------------------------------------------------------------


def i64(value: int) -> int:
    """``value`` if it fits int64, else the overflow error."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise CelEvalError("integer overflow")


def u64(value: int) -> int:
    if 0 <= value <= UINT64_MAX:
        return value
    raise CelEvalError("unsigned integer overflow")


def div_int(a: int, b: int) -> int:
    """Truncating division; division by zero and ``INT64_MIN / -1`` are errors."""
    if b == 0:
        raise CelEvalError("division by zero")
    quotient = abs(a) // abs(b)
    return i64(quotient if (a < 0) == (b < 0) else -quotient)


def mod_int(a: int, b: int) -> int:
    """The remainder has the sign of the dividend (as in C and Go)."""
    if b == 0:
        raise CelEvalError("modulus by zero")
    if b == -1 and a == INT64_MIN:  # as INT64_MIN / -1: an overflow in CEL
        raise CelEvalError("integer overflow")
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def div_uint(a: int, b: int) -> int:
    if b == 0:
        raise CelEvalError("division by zero")
    return a // b


def mod_uint(a: int, b: int) -> int:
    if b == 0:
        raise CelEvalError("modulus by zero")
    return a % b


def div_double(a: float, b: float) -> float:
    """IEEE 754 division: ``x / 0.0`` is an infinity or NaN, not an error."""
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


# -- containers ---------------------------------------------------------------------------------------------


def index_list(items: Sequence[T], index: object) -> T:
    # A dynamic index may be a whole double; anything else that is not an int is an error.
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int):
        raise CelEvalError(f"invalid list index: {index!r}")
    if 0 <= index < len(items):
        return items[index]
    raise CelEvalError(f"index out of bounds: {index}")


_KINDS: dict[str, type] = {
    "int": int,
    "uint": int,
    "double": float,
    "string": str,
    "bytes": bytes,
    "bool": bool,
}


def of_kind(value: T, kind: str) -> T:
    """A dynamic value where a value of CEL type ``kind`` is needed: itself, or an error (a bool is no number)."""
    if isinstance(value, _KINDS[kind]) and (
        kind == "bool" or not isinstance(value, bool)
    ):
        return value
    raise CelEvalError(f"no such overload: {kind} expected, got {type(value).__name__}")


def _ordered(left: Any, right: Any) -> tuple[Any, Any]:
    """Two dynamic values made comparable as CEL compares them (numbers across types, as doubles when one is),
    or the error of comparing values of different types."""
    if isinstance(left, int | float) and isinstance(right, int | float):
        if isinstance(left, bool) != isinstance(right, bool):
            raise CelEvalError("no such overload: bool compared with a number")
        if isinstance(left, float) or isinstance(right, float):
            return float(left), float(right)
        return left, right
    if type(left) is not type(right) or not isinstance(left, str | bytes):
        raise CelEvalError("no such overload: values of different types compared")
    return left, right


def lt(left: object, right: object) -> bool:
    a, b = _ordered(left, right)
    return bool(a < b)


def le(left: object, right: object) -> bool:
    a, b = _ordered(left, right)
    return bool(a <= b)


def gt(left: object, right: object) -> bool:
    a, b = _ordered(left, right)
    return bool(a > b)


def ge(left: object, right: object) -> bool:
    a, b = _ordered(left, right)
    return bool(a >= b)


def index_map(items: Mapping[K, V], key: K) -> V:
    # ``in`` first: indexing a protobuf message map inserts the missing key.
    try:
        found = key in items
    except TypeError:  # a dynamic key of a type the map cannot hold
        found = False
    if found:
        return items[key]
    raise CelEvalError(f"no such key: {key!r}")


def select(value: object, name: str) -> Any:
    """``value.name`` on a dynamic value: a message field or a map entry."""
    if isinstance(value, Mapping):
        return index_map(value, name)
    descriptor = getattr(value, "DESCRIPTOR", None)
    if descriptor is None or name not in descriptor.fields_by_name:
        raise CelEvalError(f"no such field: {name!r}")
    return getattr(value, name)


def has(value: object, name: str) -> bool:
    """``has(value.name)`` on a dynamic value."""
    if isinstance(value, Mapping):
        return name in value
    descriptor = getattr(value, "DESCRIPTOR", None)
    if descriptor is None or name not in descriptor.fields_by_name:
        raise CelEvalError(f"no such field: {name!r}")
    field = descriptor.fields_by_name[name]
    if field.is_repeated:
        return len(getattr(value, name)) > 0
    if field.has_presence:
        return bool(value.HasField(name))  # type: ignore[attr-defined]
    return is_set(getattr(value, name))


def is_set(value: object) -> bool:
    """A proto3 field without presence is set when not its zero value (-0.0 counts as set)."""
    if isinstance(value, float):
        return value != 0.0 or math.copysign(1.0, value) < 0
    return bool(value)


def equals(left: object, right: object) -> bool:
    """CEL equality of dynamic values: numbers compare across int, uint and double; a bool is not a number."""
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if (
        isinstance(left, Sequence)
        and isinstance(right, Sequence)
        and not isinstance(left, str | bytes)
    ):
        return len(left) == len(right) and all(
            equals(a, b) for a, b in zip(left, right)
        )
    return left == right


def unique(items: Iterable[object]) -> bool:
    found: set[object] = set()
    for item in items:
        if item in found:
            return False
        found.add(item)
    return True


def contains(items: Iterable[T], value: T) -> bool:
    """``value in items`` by CEL equality (NaN is never found)."""
    return any(item == value for item in items)


# -- logic with error absorption ----------------------------------------------------------------------------


def and_(left: Callable[[], bool], right: Callable[[], bool]) -> bool:
    """CEL ``&&``: false wins over an error on either side."""
    try:
        if not left():
            return False
    except CelEvalError:
        if not right():
            return False
        raise
    return right()


def or_(left: Callable[[], bool], right: Callable[[], bool]) -> bool:
    """CEL ``||``: true wins over an error on either side."""
    try:
        if left():
            return True
    except CelEvalError:
        if right():
            return True
        raise
    return right()


def all_(items: Iterable[T], predicate: Callable[[T], bool]) -> bool:
    """``all``: false if any element gives false, else the first error, else true."""
    error: CelEvalError | None = None
    for item in items:
        try:
            if not predicate(item):
                return False
        except CelEvalError as exc:
            error = error or exc
    if error is not None:
        raise error
    return True


def exists(items: Iterable[T], predicate: Callable[[T], bool]) -> bool:
    """``exists``: true if any element gives true, else the first error, else false."""
    error: CelEvalError | None = None
    for item in items:
        try:
            if predicate(item):
                return True
        except CelEvalError as exc:
            error = error or exc
    if error is not None:
        raise error
    return False


# -- conversions --------------------------------------------------------------------------------------------


def int_of_uint(value: int) -> int:
    return i64(value)


def int_of_double(value: float) -> int:
    if math.isnan(value) or not (
        -9.223372036854775808e18 < value < 9.223372036854775808e18
    ):
        raise CelEvalError("double out of int range")
    return int(value)


def uint_of_int(value: int) -> int:
    return u64(value)


def uint_of_double(value: float) -> int:
    if math.isnan(value) or not (0.0 <= value < 1.8446744073709551616e19):
        raise CelEvalError("double out of uint range")
    return int(value)


_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)


#: More digits than any int64/uint64 has (and under Python's limit on int() of long strings).
_MAX_DIGITS = 24


def int_of_string(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise CelEvalError("integer overflow")
    if _INT_TEXT.fullmatch(text) is None:
        raise CelEvalError(f"cannot convert {text!r} to int")
    return i64(int(text))


def uint_of_string(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise CelEvalError("unsigned integer overflow")
    if _INT_TEXT.fullmatch(text) is None or text.startswith("-"):
        raise CelEvalError(f"cannot convert {text!r} to uint")
    return u64(int(text))


def double_of_string(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CelEvalError(f"cannot convert {text!r} to double") from None


_TRUE = {"1", "t", "true", "TRUE", "True"}
_FALSE = {"0", "f", "false", "FALSE", "False"}


def bool_of_string(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CelEvalError(f"cannot convert {text!r} to bool")


def string_of_bytes(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise CelEvalError("bytes are not valid UTF-8") from None


def string_of_double(value: float) -> str:
    """As cel-go: the shortest representation, exponent for large and small magnitudes."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace("e+", "e+").replace("e-0", "e-").replace("e+0", "e+")


# -- durations and timestamps (int nanoseconds) -------------------------------------------------------------


def check_duration(nanos: int) -> int:
    if INT64_MIN <= nanos <= INT64_MAX:
        return nanos
    raise CelEvalError("duration out of range")


def check_timestamp(nanos: int) -> int:
    if TIMESTAMP_MIN <= nanos <= TIMESTAMP_MAX:
        return nanos
    raise CelEvalError("timestamp out of range")


def message_nanos(value: Any) -> int:
    """A ``google.protobuf.Duration`` or ``Timestamp`` message as int nanoseconds."""
    return int(value.seconds) * NANOS + int(value.nanos)


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(h|ms|m|s|us|µs|ns)")
_UNITS = {
    "h": 3600 * NANOS,
    "m": 60 * NANOS,
    "s": NANOS,
    "ms": 1_000_000,
    "us": 1000,
    "µs": 1000,
    "ns": 1,
}


def duration(text: str) -> int:
    """``duration('1h30m')``: Go's duration syntax, in nanoseconds."""
    body = text
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    total = 0
    pos = 0
    while pos < len(body):
        found = _DURATION_PART.match(body, pos)
        if found is None:
            raise CelEvalError(f"invalid duration {text!r}")
        number, unit = found[1], found[2]
        if len(number) > _MAX_DIGITS:
            raise CelEvalError("duration out of range")
        whole, _, fraction = number.partition(".")
        scale = _UNITS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        pos = found.end()
    if not body:
        raise CelEvalError(f"invalid duration {text!r}")
    return check_duration(sign * total)


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(text: str) -> int:
    """``timestamp('2009-02-13T23:31:30Z')``: RFC 3339, in nanoseconds since the epoch."""
    found = _RFC3339.fullmatch(text)
    if found is None:
        raise CelEvalError(f"invalid timestamp {text!r}")
    try:
        year, month, day, hour, minute, second = (int(found[i]) for i in range(1, 7))
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise CelEvalError(f"invalid timestamp {text!r}") from None
    offset = 0
    zone = found[8]
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    fraction = (found[7] or ".")[1:]
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    seconds = (moment - _EPOCH) // timedelta(seconds=1) - offset
    return check_timestamp(seconds * NANOS + nanos)


def timestamp_of_int(seconds: int) -> int:
    return check_timestamp(seconds * NANOS)


def string_of_duration(nanos: int) -> str:
    seconds, part = divmod(abs(nanos), NANOS)
    return (
        checks.format_duration(seconds, part)
        if nanos >= 0
        else "-" + checks.format_duration(seconds, part)
    )


def string_of_timestamp(nanos: int) -> str:
    seconds, part = divmod(check_timestamp(nanos), NANOS)
    return checks.format_timestamp(seconds, part)


def _zone(name: str) -> timezone | ZoneInfo:
    found = re.fullmatch(r"([+-]?)([0-9]{2}):([0-9]{2})", name)
    if found is not None:
        delta = timedelta(hours=int(found[2]), minutes=int(found[3]))
        return timezone(-delta if found[1] == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CelEvalError(f"unknown time zone {name!r}") from None


#: The Gregorian calendar repeats every 400 years (weekdays too: 146097 days is a whole number of weeks).
_CYCLE = timedelta(days=146097)


def _moment(nanos: int, zone: str | None) -> tuple[datetime, int]:
    """The local time of ``nanos`` in ``zone`` (UTC when None), and years to add to its ``year``: a local time past
    9999-12-31 (Python's limit) is computed 400 years earlier."""
    moment = _EPOCH + timedelta(microseconds=nanos // 1000)
    if zone is None:
        return moment, 0
    try:
        return moment.astimezone(_zone(zone)), 0
    except OverflowError:
        pass
    shift = 400 if moment.year > 5000 else -400
    earlier = moment - _CYCLE if shift > 0 else moment + _CYCLE
    return earlier.astimezone(_zone(zone)), shift


def timestamp_part(nanos: int, part: str, zone: str | None = None) -> int:
    """``getFullYear``, ``getMonth`` (0-based), ``getDate`` (1-based), ``getDayOfMonth`` (0-based),
    ``getDayOfWeek`` (0 = Sunday), ``getDayOfYear`` (0-based), ``getHours``, ``getMinutes``, ``getSeconds``,
    ``getMilliseconds``."""
    moment, years = _moment(check_timestamp(nanos), zone)
    parts: dict[str, Callable[[], int]] = {
        "getFullYear": lambda: moment.year + years,
        "getMonth": lambda: moment.month - 1,
        "getDate": lambda: moment.day,
        "getDayOfMonth": lambda: moment.day - 1,
        "getDayOfWeek": lambda: (moment.weekday() + 1) % 7,
        "getDayOfYear": lambda: moment.timetuple().tm_yday - 1,
        "getHours": lambda: moment.hour,
        "getMinutes": lambda: moment.minute,
        "getSeconds": lambda: moment.second,
        "getMilliseconds": lambda: (nanos % NANOS) // 1_000_000,
    }
    return parts[part]()


def duration_part(nanos: int, part: str) -> int:
    """``getHours``, ``getMinutes``, ``getSeconds`` (whole units, truncated), ``getMilliseconds`` (the
    milliseconds within the second)."""
    if part == "getMilliseconds":
        millis = (abs(nanos) % NANOS) // 1_000_000
        return millis if nanos >= 0 else -millis
    unit = {"getHours": 3600 * NANOS, "getMinutes": 60 * NANOS, "getSeconds": NANOS}[
        part
    ]
    whole = abs(nanos) // unit
    return whole if nanos >= 0 else -whole


# -- strings ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> checks.Pattern:
    try:
        return checks.regex(pattern)
    except Exception as exc:  # re2.error and friends: the pattern is data here
        raise CelEvalError(f"invalid regular expression {pattern!r}: {exc}") from None


def matches(text: str, pattern: str) -> bool:
    """``text.matches(pattern)`` for a pattern known only at run time (constants are compiled at import)."""
    return _pattern(pattern).found(text)


def char_at(text: str, index: int) -> str:
    if 0 <= index < len(text):
        return text[index]
    if index == len(text):
        return ""
    raise CelEvalError(f"index out of range: {index}")


def index_of(text: str, sub: str, start: int = 0) -> int:
    if not 0 <= start <= len(text):
        raise CelEvalError(f"index out of range: {start}")
    return text.find(sub, start)


def last_index_of(text: str, sub: str, end: int | None = None) -> int:
    if end is None:
        return text.rfind(sub)
    if not 0 <= end < max(len(text), 1):
        raise CelEvalError(f"index out of range: {end}")
    return text.rfind(sub, 0, end + len(sub))


def substring(text: str, start: int, end: int | None = None) -> str:
    stop = len(text) if end is None else end
    if not 0 <= start <= stop <= len(text):
        raise CelEvalError(f"index out of range: {start}, {stop}")
    return text[start:stop]


def split(text: str, separator: str, limit: int = -1) -> list[str]:
    """``split``: at most ``limit`` parts (all when negative, none when zero)."""
    if limit == 0:
        return []
    if separator == "":
        parts = list(text)
        return (
            parts
            if limit < 0 or limit >= len(parts)
            else [*parts[: limit - 1], text[limit - 1 :]]
        )
    return text.split(separator, -1 if limit < 0 else limit - 1)


def lower_ascii(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def upper_ascii(text: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in text)


def is_host_and_port(value: str, port_required: bool) -> bool:
    """protovalidate's ``isHostAndPort``: ``host:port`` (hostname, IPv4 or ``[IPv6]``); the port may be left out
    when not required."""
    if checks.is_host_and_port(value):
        return True
    if port_required:
        return False
    if value.startswith("[") and value.endswith("]"):
        return checks.is_ipv6(value[1:-1])
    return checks.is_hostname(value) or checks.is_ipv4(value)


is_email = checks.is_email
is_hostname = checks.is_hostname


def is_ip(value: str, version: int = 0) -> bool:
    """``isIp``: any version for 0, else only 4 or 6 (other versions are never valid)."""
    return version in (0, 4, 6) and checks.is_ip(value, version)


def is_ip_prefix(value: str, version: int = 0, strict: bool = False) -> bool:
    return version in (0, 4, 6) and checks.is_ip_prefix(value, version, strict)


is_uri = checks.is_uri
is_uri_ref = checks.is_uri_ref
now = checks.now_nanos


def pattern(text: str) -> checks.Pattern:
    """A constant pattern, compiled once when the generated module is imported."""
    return checks.regex(text)


def is_nan(value: float) -> bool:
    return math.isnan(value)


def is_inf(value: float, sign: int = 0) -> bool:
    if sign > 0:
        return value == math.inf
    if sign < 0:
        return value == -math.inf
    return math.isinf(value)


# -- format (the strings extension) -------------------------------------------------------------------------


def _params(kind: str) -> list[str]:
    """The parameters of ``list(T)`` / ``map(K, V)``, split at their top-level comma."""
    inner = kind[kind.index("(") + 1 : -1]
    depth, start, parts = 0, 0, []
    for i, char in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def _number(value: float | int) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return checks.format_number(value)


def _text(value: object, kind: str) -> str:
    """``%s`` of a value of CEL type ``kind`` (the type's name, e.g. ``list(double)``; ``dyn`` when unknown:
    then durations and timestamps, which are ints at run time, print as their nanoseconds).
    """
    if value is None:
        return "null"
    if kind == "google.protobuf.Duration":
        return string_of_duration(value)  # type: ignore[arg-type]
    if kind == "google.protobuf.Timestamp":
        return string_of_timestamp(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, bytes):
        return checks.format_bytes_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        key, val = _params(kind) if kind.startswith("map(") else ("dyn", "dyn")
        entries = sorted(f"{_text(k, key)}: {_text(v, val)}" for k, v in value.items())
        return "{" + ", ".join(entries) + "}"
    if isinstance(value, Iterable):
        inner = _params(kind)[0] if kind.startswith("list(") else "dyn"
        return checks.format_list(_text(v, inner) for v in value)
    return str(value)


_VERB = re.compile(r"%(?:\.([0-9]+))?([sdfexXobS%])")


def format(template: str, args: Sequence[object], kinds: Sequence[str]) -> str:
    """``template.format(args)``: ``%s %d %f %e %x %X %o %b`` and ``%%``; ``kinds`` are the CEL types of ``args``."""
    out: list[str] = []
    pos = 0
    index = 0
    for verb in _VERB.finditer(template):
        out.append(template[pos : verb.start()])
        pos = verb.end()
        precision, letter = verb[1], verb[2]
        if letter == "%":
            out.append("%")
            continue
        if index >= len(args):
            raise CelEvalError("format: too few arguments")
        value, kind = args[index], kinds[index] if index < len(kinds) else "dyn"
        index += 1
        out.append(_verb(letter, precision, value, kind))
    out.append(template[pos:])
    return "".join(out)


def _verb(letter: str, precision: str | None, value: object, kind: str) -> str:
    if letter == "s":
        return _text(value, kind)
    if letter == "d":
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return _number(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise CelEvalError("format: %d needs an integer")
        return str(value)
    if letter in "fe":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CelEvalError(f"format: %{letter} needs a number")
        digits = 6 if precision is None else int(precision)
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return _number(number)
        return f"{number:.{digits}{letter}}"
    if letter in "xX":
        if isinstance(value, bytes):
            text = value.hex()
        elif isinstance(value, str):
            text = value.encode().hex()
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:x}" if value >= 0 else f"-{-value:x}"
        else:
            raise CelEvalError("format: %x needs an integer, string or bytes")
        return text.upper() if letter == "X" else text
    if letter == "b" and isinstance(value, bool):
        return "1" if value else "0"
    if letter in "ob":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CelEvalError(f"format: %{letter} needs an integer")
        spec = "o" if letter == "o" else "b"
        return f"{value:{spec}}" if value >= 0 else f"-{-value:{spec}}"
    raise CelEvalError(f"format: unsupported verb %{letter}")
