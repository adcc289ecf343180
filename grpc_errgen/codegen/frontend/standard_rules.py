"""Standard rules: one ``FieldRules``-shaped message -> model values (``model.rules``).

Our ``errgen.FieldRules`` copies ``buf.validate.FieldRules`` (names and field numbers), so this reader serves
both dialects: it reads fields by name and takes every rule path element from the descriptor of the message it
is given. Violation ids and messages are written as protovalidate 2.x writes them. Problems in the rules go to
``report(path, text)``, ``path`` being a source path (descriptor.proto field numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal

from google.protobuf import descriptor
from google.protobuf.message import Message

from grpc_errgen import checks
from grpc_errgen.codegen.frontend.cel_rules import (
    CelRules,
    pool_of,
    this_of_collection,
    this_of_value,
)
from grpc_errgen.codegen.frontend.re2_syntax import regex_problem
from grpc_errgen.codegen.model import rules as m

Report = Callable[[Sequence[int], str], None]
#: ``errgen.FieldRules`` or ``buf.validate.FieldRules``: the same fields, read by name.
FieldRulesMessage = Any

_FD = descriptor.FieldDescriptor
_SCALAR_FAMILIES: dict[int, m.Family] = {
    _FD.TYPE_DOUBLE: "double",
    _FD.TYPE_FLOAT: "float",
    _FD.TYPE_INT64: "int64",
    _FD.TYPE_UINT64: "uint64",
    _FD.TYPE_INT32: "int32",
    _FD.TYPE_FIXED64: "fixed64",
    _FD.TYPE_FIXED32: "fixed32",
    _FD.TYPE_BOOL: "bool",
    _FD.TYPE_STRING: "string",
    _FD.TYPE_BYTES: "bytes",
    _FD.TYPE_UINT32: "uint32",
    _FD.TYPE_ENUM: "enum",
    _FD.TYPE_SFIXED32: "sfixed32",
    _FD.TYPE_SFIXED64: "sfixed64",
    _FD.TYPE_SINT32: "sint32",
    _FD.TYPE_SINT64: "sint64",
}
_WELL_KNOWN_FAMILIES: dict[str, m.Family] = {
    "google.protobuf.Any": "any",
    "google.protobuf.FieldMask": "field_mask",
    "google.protobuf.Duration": "duration",
    "google.protobuf.Timestamp": "timestamp",
}
_WORDS = {
    "lt": "less than",
    "lte": "less than or equal to",
    "gt": "greater than",
    "gte": "greater than or equal to",
}
_BYTES_FORMATS = {
    "ip": ((4, 16), "IP address"),
    "ipv4": ((4,), "IPv4 address"),
    "ipv6": ((16,), "IPv6 address"),
    "uuid": ((16,), "UUID"),
}
#: well-known string format -> what the messages call it, and whether an empty value is its own violation
_STRING_FORMATS: dict[str, tuple[str, bool]] = {
    "email": ("email address", True),
    "hostname": ("hostname", True),
    "ip": ("IP address", True),
    "ipv4": ("IPv4 address", True),
    "ipv6": ("IPv6 address", True),
    "uri": ("URI", True),
    "uri_ref": ("URI Reference", False),
    "address": ("hostname, or ip address", True),
    "uuid": ("UUID", True),
    "tuuid": ("trimmed UUID", True),
    "ip_with_prefixlen": ("IP prefix", True),
    "ipv4_with_prefixlen": ("IPv4 address with prefix length", True),
    "ipv6_with_prefixlen": ("IPv6 address with prefix length", True),
    "ip_prefix": ("IP prefix", True),
    "ipv4_prefix": ("IPv4 prefix", True),
    "ipv6_prefix": ("IPv6 prefix", True),
    "ulid": ("ULID", True),
    "protobuf_fqn": ("fully-qualified Protobuf name", True),
    "protobuf_dot_fqn": ("fully-qualified Protobuf name with a leading dot", True),
}
_KNOWN_REGEX_HEADER_NAME, _KNOWN_REGEX_HEADER_VALUE = 1, 2
_HEADER_NAME_STRICT = r"^:?[0-9a-zA-Z!#$%&\'*+-.^_|~\x60]+$"
_HEADER_VALUE_STRICT = r"^[^\x00-\x08\x0A-\x1F\x7F]*$"
_HEADER_LOOSE_NAME = r"^[^\x00\x0A\x0D]+$"
_HEADER_LOOSE_VALUE = r"^[^\x00\x0A\x0D]*$"
_STRING_TEXTS = {
    "len": "must be {} characters",
    "min_len": "must be at least {} characters",
    "max_len": "must be at most {} characters",
    "len_bytes": "must be {} bytes",
    "min_bytes": "must be at least {} bytes",
    "max_bytes": "must be at most {} bytes",
    "pattern": "does not match regex pattern `{}`",
    "prefix": "does not have prefix `{}`",
    "suffix": "does not have suffix `{}`",
    "contains": "does not contain substring `{}`",
    "not_contains": "contains substring `{}`",
}
_SIZES: dict[str, tuple[Literal["exact", "min", "max"], m.SizeOf]] = {
    "len": ("exact", m.SizeOf.LENGTH),
    "min_len": ("min", m.SizeOf.LENGTH),
    "max_len": ("max", m.SizeOf.LENGTH),
    "len_bytes": ("exact", m.SizeOf.UTF8_BYTES),
    "min_bytes": ("min", m.SizeOf.UTF8_BYTES),
    "max_bytes": ("max", m.SizeOf.UTF8_BYTES),
}


#: google.protobuf wrapper message -> the family of the value it wraps (rules apply to the wrapped value)
WRAPPERS: dict[str, m.Family] = {
    "google.protobuf.DoubleValue": "double",
    "google.protobuf.FloatValue": "float",
    "google.protobuf.Int64Value": "int64",
    "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.Int32Value": "int32",
    "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.BoolValue": "bool",
    "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "bytes",
}


def field_element(fd: descriptor.FieldDescriptor) -> m.FieldElement:
    """How protovalidate's field paths describe field ``fd``."""
    if is_map(fd):
        entry = message_type(fd)
        return m.FieldElement(
            fd.number,
            _FD.TYPE_MESSAGE,
            entry.fields_by_name["key"].type,
            entry.fields_by_name["value"].type,
        )
    return m.FieldElement(fd.number, fd.type)


def family(fd: descriptor.FieldDescriptor) -> m.Family:
    """The value family of field ``fd`` (of one item, for a repeated field)."""
    if fd.type in (_FD.TYPE_MESSAGE, _FD.TYPE_GROUP):
        return _WELL_KNOWN_FAMILIES.get(message_type(fd).full_name, "message")
    return _SCALAR_FAMILIES[fd.type]


def message_type(fd: descriptor.FieldDescriptor) -> descriptor.Descriptor:
    assert fd.message_type is not None, fd.full_name
    return fd.message_type


def is_map(fd: descriptor.FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def element(rules: Message, name: str) -> m.PathElement:
    """The rule path element of field ``name`` of the rules message ``rules``."""
    return _element(rules.DESCRIPTOR, name)


@cache
def _element(rules: descriptor.Descriptor, name: str) -> m.PathElement:
    fd = rules.fields_by_name[name]
    return m.PathElement(name=fd.name, number=fd.number, field_type=fd.type)


def _nanos(value: Any) -> int:
    return int(value.seconds) * 1_000_000_000 + int(value.nanos)


def _text(kind: str, value: Any) -> str:
    """An operand inside a message."""
    if kind == "duration":
        return checks.format_duration(value.seconds, value.nanos)
    if kind == "timestamp":
        return checks.format_timestamp(value.seconds, value.nanos)
    if kind == "string":
        return str(value)
    if kind == "bytes":
        return checks.format_bytes_text(value)
    if kind == "bool":
        return "true" if value else "false"
    return checks.format_number(value)


def _operand(kind: str, value: Any) -> Any:
    return _nanos(value) if kind in ("duration", "timestamp") else value


def _list_text(kind: str, listed: Sequence[Any]) -> str:
    return checks.format_list(_text(kind, item) for item in listed)


class StandardRules:
    """Reads the standard rules of one field. ``report`` records a problem at a source path."""

    def __init__(self, report: Report, owner: str = "") -> None:
        self.report = report
        self.cel = CelRules(report, owner)

    def value(
        self,
        fd: descriptor.FieldDescriptor,
        rules: FieldRulesMessage,
        source: tuple[int, ...],
        kind: m.Family,
        prefix: m.RulePath = (),
        for_key: bool = False,
    ) -> m.ValueRules:
        """The rules of one value of family ``kind`` from the FieldRules-shaped ``rules`` at source ``source``.

        ``prefix``: the rule path down to ``rules`` (``repeated.items``, ``map.keys``...), empty for a field.
        """
        ignore = m.Ignore(rules.ignore)
        message_name = message_type(fd).full_name if kind == "message" else None
        if ignore is m.Ignore.ALWAYS:
            # nothing applies, not even the rules of a nested message
            return m.ValueRules(kind, (), ignore)
        chosen = rules.WhichOneof("type")
        wrapped = WRAPPERS.get(message_name or "")
        if wrapped is not None and chosen in (wrapped, None):
            # rules (typed or CEL) on a wrapper apply to the value it wraps
            inner = self.value(
                message_type(fd).fields_by_name["value"],
                rules,
                source,
                wrapped,
                prefix,
                for_key,
            )
            return m.ValueRules(wrapped, inner.rules, ignore, wrapper=True)
        pool = pool_of(fd)
        this = this_of_value(fd)
        cel = self.cel.written(rules, this, pool, source, prefix, for_key)
        if chosen is None:
            return m.ValueRules(kind, tuple(cel), ignore, message_name)
        rules_source = (*source, rules.DESCRIPTOR.fields_by_name[chosen].number)
        if chosen != kind:
            shown = message_name if kind == "message" else kind
            self.report(
                rules_source,
                f"field {fd.name}: {chosen} rules on a field of type {shown}",
            )
            return m.ValueRules(kind, (), ignore, message_name)
        typed = getattr(rules, chosen)
        here = _Typed(
            self, typed, (*prefix, element(rules, chosen)), rules_source, for_key
        )
        found: list[m.Rule]
        if kind in m.NUMBER_FAMILIES or kind in ("duration", "timestamp"):
            found = here.ordered(kind)
        elif kind == "bool":
            found = here.const("bool") if typed.HasField("const") else []
        elif kind == "string":
            found = here.string()
        elif kind == "bytes":
            found = here.bytes()
        elif kind == "enum":
            found = here.enum(fd)
        elif kind == "any":
            found = here.any()
        elif kind == "field_mask":
            found = here.field_mask()
        else:
            found = []
        found += self.cel.predefined(
            typed, this, pool, rules_source, (*prefix, element(rules, chosen)), for_key
        )
        return m.ValueRules(kind, (*found, *cel), ignore, message_name)

    def required(self, rules: FieldRulesMessage) -> m.Required | None:
        return (
            m.Required(path=(element(rules, "required"),)) if rules.required else None
        )

    def collection(
        self,
        fd: descriptor.FieldDescriptor,
        rules: FieldRulesMessage,
        source: tuple[int, ...],
    ) -> m.RepeatedField | m.MapField:
        """A repeated or map field's rules."""
        expected = "map" if is_map(fd) else "repeated"
        chosen = rules.WhichOneof("type")
        if chosen is not None and chosen != expected:
            number = rules.DESCRIPTOR.fields_by_name[chosen].number
            self.report(
                (*source, number),
                f"field {fd.name}: {chosen} rules on a {expected} field; use {expected} rules",
            )
        typed = getattr(rules, expected)
        at = (element(rules, expected),)
        typed_source = (*source, rules.DESCRIPTOR.fields_by_name[expected].number)
        here = _Typed(self, typed, at, typed_source, False)
        pool = pool_of(fd)
        cel = self.cel.written(rules, this_of_collection(fd), pool, source)
        cel += self.cel.predefined(
            typed, this_of_collection(fd), pool, typed_source, at
        )
        required = self.required(rules)
        ignore = m.Ignore(getattr(rules, "ignore"))  # noqa: B009
        if expected == "map":
            key_fd = message_type(fd).fields_by_name["key"]
            value_fd = message_type(fd).fields_by_name["value"]
            here.check_bounds((("min_pairs", "max_pairs"),))
            found: list[m.Rule] = []
            pairs: tuple[tuple[str, Literal["min", "max"], str], ...] = (
                ("min_pairs", "min", "least"),
                ("max_pairs", "max", "most"),
            )
            for name, bound, word in pairs:
                if typed.HasField(name):
                    limit = getattr(typed, name)
                    found.append(
                        here.size(
                            name, f"map must be at {word} {limit} entries", bound, limit
                        )
                    )
            keys = self.value(
                key_fd,
                typed.keys,
                (*typed_source, typed.DESCRIPTOR.fields_by_name["keys"].number),
                family(key_fd),
                (*at, element(typed, "keys")),
                for_key=True,
            )
            values = self.value(
                value_fd,
                typed.values,
                (*typed_source, typed.DESCRIPTOR.fields_by_name["values"].number),
                family(value_fd),
                (*at, element(typed, "values")),
            )
            return m.MapField(
                fd.name,
                fd.number,
                keys,
                values,
                (*found, *cel),
                required,
                ignore,
                field_element(fd),
            )
        here.check_bounds((("min_items", "max_items"),))
        found = []
        if typed.HasField("min_items"):
            found.append(
                here.size(
                    "min_items",
                    f"must contain at least {typed.min_items} item(s)",
                    "min",
                    typed.min_items,
                )
            )
        if typed.HasField("max_items"):
            found.append(
                here.size(
                    "max_items",
                    f"must contain no more than {typed.max_items} item(s)",
                    "max",
                    typed.max_items,
                )
            )
        if typed.unique:
            if fd.type in (_FD.TYPE_MESSAGE, _FD.TYPE_GROUP):
                self.report(
                    (*typed_source, typed.DESCRIPTOR.fields_by_name["unique"].number),
                    f"field {fd.name}: unique applies to scalar and enum items only",
                )
            else:
                found.append(
                    m.Unique(
                        rule_id="repeated.unique",
                        message="repeated value must contain unique items",
                        path=(*at, element(typed, "unique")),
                    )
                )
        items = self.value(
            fd,
            typed.items,
            (*typed_source, typed.DESCRIPTOR.fields_by_name["items"].number),
            family(fd),
            (*at, element(typed, "items")),
        )
        return m.RepeatedField(
            fd.name,
            fd.number,
            items,
            (*found, *cel),
            required,
            ignore,
            field_element(fd),
        )


class _Typed:
    """The rules of one typed rules message (``StringRules``, ``Int32Rules``...) at rule path ``at``."""

    def __init__(
        self,
        owner: StandardRules,
        typed: Any,
        at: m.RulePath,
        source: tuple[int, ...],
        for_key: bool,
    ) -> None:
        self.owner = owner
        self.typed = typed
        self.at = at
        self.source = source
        self.for_key = for_key
        self.kind = at[-1].name  # "string", "int32", "repeated"...

    def info(
        self, name: str, message: str, rule_id: str | None = None
    ) -> dict[str, Any]:
        """The common arguments of a rule written in field ``name`` of the typed message."""
        return {
            "rule_id": rule_id or f"{self.kind}.{name}",
            "message": message,
            "path": (*self.at, element(self.typed, name)),
            "for_key": self.for_key,
        }

    def size(
        self,
        name: str,
        message: str,
        bound: Literal["exact", "min", "max"],
        limit: int,
        of: m.SizeOf = m.SizeOf.LENGTH,
    ) -> m.Size:
        return m.Size(**self.info(name, message), bound=bound, limit=int(limit), of=of)

    def check_bounds(self, pairs: Sequence[tuple[str, str]]) -> None:
        typed = self.typed
        for low, high in pairs:
            if (
                typed.HasField(low)
                and typed.HasField(high)
                and getattr(typed, low) > getattr(typed, high)
            ):
                number = typed.DESCRIPTOR.fields_by_name[high].number
                self.owner.report(
                    (*self.source, number),
                    f"{low} {getattr(typed, low)} is above {high} {getattr(typed, high)}: no value can pass",
                )

    def const(self, kind: str) -> list[m.Rule]:
        value = self.typed.const
        return [
            m.Const(
                **self.info("const", f"must equal {_text(kind, value)}"),
                value=_operand(kind, value),
            )
        ]

    def in_lists(
        self, kind: str, names: Sequence[str] = ("in", "not_in")
    ) -> list[m.Rule]:
        found: list[m.Rule] = []
        listed = list(getattr(self.typed, "in"))
        if listed and "in" in names:
            found.append(
                m.In(
                    **self.info("in", "must be in list " + _list_text(kind, listed)),
                    values=tuple(_operand(kind, item) for item in listed),
                )
            )
        listed = list(self.typed.not_in)
        if listed and "not_in" in names:
            found.append(
                m.NotIn(
                    **self.info(
                        "not_in", "must not be in list " + _list_text(kind, listed)
                    ),
                    values=tuple(_operand(kind, item) for item in listed),
                )
            )
        return found

    def ordered(self, kind: str) -> list[m.Rule]:
        """Numbers, durations and timestamps: const, the range, in, not_in, finite, now-relative rules."""
        typed = self.typed
        found: list[m.Rule] = self.const(kind) if typed.HasField("const") else []
        upper = typed.WhichOneof("less_than")
        lower = typed.WhichOneof("greater_than")
        upper = None if upper == "lt_now" else upper
        lower = None if lower == "gt_now" else lower
        if upper and lower:
            high, low = getattr(typed, upper), getattr(typed, lower)
            high_op, low_op = _operand(kind, high), _operand(kind, low)
            exclusive = high_op < low_op
            joiner = "or" if exclusive else "and"
            found.append(
                m.Range(
                    **self.info(
                        lower,
                        f"must be {_WORDS[lower]} {_text(kind, low)} {joiner} {_WORDS[upper]} {_text(kind, high)}",
                        f"{kind}.{lower}_{upper}" + ("_exclusive" if exclusive else ""),
                    ),
                    lower=lower,
                    low=low_op,
                    upper=upper,
                    high=high_op,
                    exclusive=exclusive,
                )
            )
        elif upper or lower:
            name = upper or lower
            assert name is not None
            bound = getattr(typed, name)
            found.append(
                m.Bound(
                    **self.info(name, f"must be {_WORDS[name]} {_text(kind, bound)}"),
                    op=name,
                    bound=_operand(kind, bound),
                )
            )
        if kind != "timestamp":
            found += self.in_lists(kind)
        if kind in ("float", "double") and typed.finite:
            found.append(m.Finite(**self.info("finite", "must be finite")))
        if kind == "timestamp":
            if typed.lt_now:
                found.append(m.LtNow(**self.info("lt_now", "must be less than now")))
            if typed.gt_now:
                found.append(m.GtNow(**self.info("gt_now", "must be greater than now")))
            if typed.HasField("within"):
                found.append(
                    m.Within(
                        **self.info(
                            "within",
                            f"must be within {_text('duration', typed.within)} of now",
                        ),
                        nanos=_nanos(typed.within),
                    )
                )
        return found

    def _pattern_ok(self, pattern: str) -> bool:
        problem = regex_problem(pattern)
        if problem is not None:
            number = self.typed.DESCRIPTOR.fields_by_name["pattern"].number
            self.owner.report(
                (*self.source, number),
                f"pattern {pattern!r} is not valid RE2: {problem}",
            )
            return False
        return True

    def string(self) -> list[m.Rule]:
        typed = self.typed
        self.check_bounds((("min_len", "max_len"), ("min_bytes", "max_bytes")))
        found: list[m.Rule] = []
        present = {fd.name for fd, _ in typed.ListFields()}
        for fd in typed.DESCRIPTOR.fields:
            name = fd.name
            if name not in present:
                continue
            if fd.is_repeated:
                found += self.in_lists("string", (name,))
                continue
            if fd.containing_oneof is not None:
                if typed.WhichOneof("well_known") == name:
                    rule = self._string_format(name)
                    if rule is not None:
                        found.append(rule)
                continue
            if name == "strict" or not typed.HasField(name):
                continue
            operand = getattr(typed, name)
            if name == "const":
                found.append(
                    m.Const(**self.info(name, f"must equal `{operand}`"), value=operand)
                )
            elif name in _SIZES:
                bound, of = _SIZES[name]
                found.append(
                    self.size(
                        name, _STRING_TEXTS[name].format(operand), bound, operand, of
                    )
                )
            elif name == "pattern":
                if self._pattern_ok(operand):
                    found.append(
                        m.Pattern(
                            **self.info(name, _STRING_TEXTS[name].format(operand)),
                            regex=operand,
                        )
                    )
            else:
                found.append(
                    _AFFIXES[name](
                        **self.info(name, _STRING_TEXTS[name].format(operand)),
                        text=operand,
                    )
                )
        return found

    def _string_format(self, name: str) -> m.Rule | None:
        typed = self.typed
        if name in _STRING_FORMATS:
            if not getattr(typed, name):
                return None
            what, has_empty = _STRING_FORMATS[name]
            article = "a valid"
            empty = (
                m.EmptyCase(
                    f"string.{name}_empty",
                    f"value is empty, which is not a valid {what}",
                )
                if has_empty
                else None
            )
            return m.StringFormat(
                **self.info(name, f"must be {article} {what}"), name=name, empty=empty
            )
        if name == "host_and_port":
            if not typed.host_and_port:
                return None
            return m.StringFormat(
                **self.info(
                    name, "must be a valid host (hostname or IP address) and port pair"
                ),
                name=name,
                empty=m.EmptyCase(
                    "string.host_and_port_empty",
                    "value is empty, which is not a valid host and port pair",
                ),
            )
        if name == "well_known_regex":
            strict = not typed.HasField("strict") or typed.strict
            if typed.well_known_regex == _KNOWN_REGEX_HEADER_NAME:
                return m.FormatPattern(
                    **self.info(
                        name,
                        "must be a valid HTTP header name",
                        "string.well_known_regex.header_name",
                    ),
                    regex=_HEADER_NAME_STRICT if strict else _HEADER_LOOSE_NAME,
                    empty=m.EmptyCase(
                        "string.well_known_regex.header_name_empty",
                        "value is empty, which is not a valid HTTP header name",
                    ),
                )
            if typed.well_known_regex == _KNOWN_REGEX_HEADER_VALUE:
                return m.FormatPattern(
                    **self.info(
                        name,
                        "must be a valid HTTP header value",
                        "string.well_known_regex.header_value",
                    ),
                    regex=_HEADER_VALUE_STRICT if strict else _HEADER_LOOSE_VALUE,
                )
        return None

    def bytes(self) -> list[m.Rule]:
        typed = self.typed
        self.check_bounds((("min_len", "max_len"),))
        found: list[m.Rule] = []
        for fd in typed.DESCRIPTOR.fields:
            name = fd.name
            if fd.is_repeated:
                found += self.in_lists("bytes", (name,))
                continue
            if fd.containing_oneof is not None:
                # ``ip: false`` is written but asks for nothing (as in protovalidate)
                if typed.WhichOneof("well_known") == name and getattr(typed, name):
                    sizes, what = _BYTES_FORMATS[name]
                    found.append(
                        m.ByteLengths(
                            **self.info(name, f"must be a valid {what}"),
                            sizes=sizes,
                            empty=m.EmptyCase(
                                f"bytes.{name}_empty",
                                f"value is empty, which is not a valid {what}",
                            ),
                        )
                    )
                continue
            if not typed.HasField(name):
                continue
            operand = getattr(typed, name)
            if name == "const":
                found.append(
                    m.Const(
                        **self.info(name, f"must be {operand.hex()}"), value=operand
                    )
                )
            elif name in ("len", "min_len", "max_len"):
                texts_ = {
                    "len": "must be {} bytes",
                    "min_len": "must be at least {} bytes",
                    "max_len": "must be at most {} bytes",
                }
                found.append(
                    self.size(
                        name, texts_[name].format(operand), _SIZES[name][0], operand
                    )
                )
            elif name == "pattern":
                if self._pattern_ok(operand):
                    found.append(
                        m.Pattern(
                            **self.info(name, f"must match regex pattern `{operand}`"),
                            regex=operand,
                        )
                    )
            else:
                words = {
                    "prefix": "does not have prefix {}",
                    "suffix": "does not have suffix {}",
                    "contains": "does not contain {}",
                }
                found.append(
                    _AFFIXES[name](
                        **self.info(name, words[name].format(operand.hex())),
                        text=operand,
                    )
                )
        return found

    def any(self) -> list[m.Rule]:
        """``google.protobuf.Any``: ``in`` / ``not_in`` on the type URL."""
        typed = self.typed
        found: list[m.Rule] = []
        allowed = tuple(getattr(typed, "in"))
        if allowed:
            found.append(
                m.In(
                    **self.info("in", "type URL must be in the allow list"),
                    values=allowed,
                )
            )
        if typed.not_in:
            found.append(
                m.NotIn(
                    **self.info("not_in", "type URL must not be in the block list"),
                    values=tuple(typed.not_in),
                )
            )
        return found

    def field_mask(self) -> list[m.Rule]:
        """``google.protobuf.FieldMask``: exact paths, or paths (and their sub-paths) allowed / refused."""
        typed = self.typed
        found: list[m.Rule] = []
        if typed.HasField("const"):
            paths = tuple(typed.const.paths)
            found.append(
                m.FieldMaskConst(
                    **self.info(
                        "const", f"must equal paths {checks.format_list(paths)}"
                    ),
                    paths=paths,
                )
            )
        allowed = tuple(getattr(typed, "in"))
        if allowed:
            text = f"must only contain paths in {checks.format_list(allowed)}"
            found.append(m.FieldMaskIn(**self.info("in", text), paths=allowed))
        if typed.not_in:
            refused = tuple(typed.not_in)
            text = f"must not contain any paths in {checks.format_list(refused)}"
            found.append(m.FieldMaskNotIn(**self.info("not_in", text), paths=refused))
        return found

    def enum(self, fd: descriptor.FieldDescriptor) -> list[m.Rule]:
        typed = self.typed
        found: list[m.Rule] = []
        if typed.HasField("const"):
            found.append(
                m.Const(
                    **self.info("const", f"must equal {typed.const}"), value=typed.const
                )
            )
        if typed.defined_only:
            assert fd.enum_type is not None
            defined = tuple(sorted({value.number for value in fd.enum_type.values}))
            found.append(
                m.In(
                    **self.info(
                        "defined_only", "value must be one of the defined enum values"
                    ),
                    values=defined,
                )
            )
        found += self.in_lists("enum")
        return found


_AFFIXES: dict[str, type[m.Prefix | m.Suffix | m.Contains | m.NotContains]] = {
    "prefix": m.Prefix,
    "suffix": m.Suffix,
    "contains": m.Contains,
    "not_contains": m.NotContains,
}
