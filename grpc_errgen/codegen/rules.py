"""Validation front end: reads ``(errgen.field)``, ``(errgen.oneof)`` and ``(errgen.message)`` into validator models.

The model (``MessageRules`` > ``FieldRules`` > ``ValueRules`` > ``Rule``) says nothing about where the rules came
from: a ``buf.validate`` front end can fill the same classes. Each ``Rule`` carries its violation id and message
already formatted as protovalidate 2.x writes them, plus a ``check`` and ``operand`` the code emitter turns into
one Python condition. Problems in the user's rules go to ``GenContext.error`` with the source path of the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.protobuf import descriptor
from google.protobuf.message import Message

from grpc_errgen import checks, options_pb2

if TYPE_CHECKING:
    from grpc_errgen.codegen.context import GenContext

# Field numbers of descriptor.proto and of our options, for source paths.
_FILE_MESSAGE, _MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ONEOF = 4, 2, 3, 8
_FIELD_OPTIONS, _MESSAGE_OPTIONS, _ONEOF_OPTIONS = 8, 7, 2
_EXT = 51773
_FIELD_RULES = options_pb2.FieldRules.DESCRIPTOR

IGNORE_UNSPECIFIED, IGNORE_IF_ZERO_VALUE, IGNORE_ALWAYS = 0, 1, 3

_FD = descriptor.FieldDescriptor
_SCALAR_FAMILIES = {
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
_WELL_KNOWN_FAMILIES = {
    "google.protobuf.Duration": "duration",
    "google.protobuf.Timestamp": "timestamp",
}
NUMBER_FAMILIES = frozenset(
    {"float", "double", "int32", "int64", "uint32", "uint64", "sint32", "sint64"}
    | {"fixed32", "fixed64", "sfixed32", "sfixed64"}
)


# -- the model ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One standard rule: the violation it produces and the check that decides it.

    ``check`` names the test (``const``, ``range``, ``min_len``, ``format`` ...); ``operand`` is its plain value
    (numbers, strings, bytes, tuples; durations and timestamps in nanoseconds).
    """

    rule_id: str
    message: str
    check: str
    operand: Any = None


@dataclass
class ValueRules:
    """The rules on one value: a singular field, a list item, a map key or a map value."""

    family: str  # "string", "int32", ..., "enum", "bool", "duration", "timestamp", "message"
    rules: list[Rule] = field(default_factory=list)
    ignore: int = IGNORE_UNSPECIFIED
    message_type: str | None = None  # full name, for message values
    validator: str | None = (
        None  # Python expression of the nested message's validator, filled when rendered
    )


@dataclass
class FieldRules:
    name: str
    shape: str  # "single", "repeated", "map"
    presence: bool  # singular field that tracks presence (message, optional, oneof member, proto2)
    required: bool = False
    ignore: int = IGNORE_UNSPECIFIED
    value: ValueRules | None = None  # single fields
    collection: list[Rule] = field(
        default_factory=list
    )  # min_items, unique, min_pairs ...
    items: ValueRules | None = None
    keys: ValueRules | None = None
    values: ValueRules | None = None
    key_family: str = ""  # "string", "bool" or an integer family, for map paths


@dataclass
class OneofRules:
    name: str
    required: bool


@dataclass
class MessageRules:
    full_name: str
    python_class: str  # "Outer.Inner", inside the _pb2 module
    function: str  # "validate_Outer_Inner"
    oneofs: list[OneofRules] = field(default_factory=list)
    fields: list[FieldRules] = field(default_factory=list)

    @property
    def has_own_rules(self) -> bool:
        return bool(self.oneofs) or any(_field_has_own_rules(f) for f in self.fields)


def _value_has_rules(value: ValueRules | None) -> bool:
    return value is not None and bool(value.rules)


def _field_has_own_rules(rules: FieldRules) -> bool:
    return (
        rules.required
        or bool(rules.collection)
        or any(
            _value_has_rules(v)
            for v in (rules.value, rules.items, rules.keys, rules.values)
        )
    )


@dataclass
class FileValidators:
    """The validators one generated file holds, and how other code refers to them."""

    file_name: str
    messages: list[MessageRules] = field(default_factory=list)
    #: every message (of every file in the request) that has a validator -> (proto file, function name)
    index: dict[str, tuple[str, str]] = field(default_factory=dict)
    errgen_module: Callable[[str], str] | None = None
    #: modules the validators need: module -> alias
    imports: dict[str, str] = field(default_factory=dict)
    #: the generated source: module constants (compiled patterns, sets) and one function per message
    constants: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    def reference(self, full_name: str, imports: dict[str, str]) -> str | None:
        """A Python expression for the validator of message ``full_name``, or None when it has no rules.

        Adds to ``imports`` (module -> alias) when the validator lives in another generated module.
        """
        found = self.index.get(full_name)
        if found is None:
            return None
        file_name, function = found
        if file_name == self.file_name or self.errgen_module is None:
            return function
        module = self.errgen_module(file_name)
        alias = imports.setdefault(module, "_" + module.rpartition(".")[2])
        return f"{alias}.{function}"


# -- reading our options -----------------------------------------------------------------------------------


def _family(fd: descriptor.FieldDescriptor) -> str:
    if fd.type in (_FD.TYPE_MESSAGE, _FD.TYPE_GROUP):
        return _WELL_KNOWN_FAMILIES.get(_message_type(fd).full_name, "message")
    return _SCALAR_FAMILIES[fd.type]


def _message_type(fd: descriptor.FieldDescriptor) -> descriptor.Descriptor:
    assert fd.message_type is not None, fd.full_name
    return fd.message_type


def _nanos(value: Any) -> int:
    return int(value.seconds) * 1_000_000_000 + int(value.nanos)


class _Reader:
    """Reads one file's rules; ``report(path, text)`` records a problem at a source path."""

    def __init__(self, ctx: GenContext, file_name: str) -> None:
        self.ctx = ctx
        self.file_name = file_name

    def report(self, path: Sequence[int], text: str) -> None:
        self.ctx.error(self.file_name, path, text)

    # Formatting of operands inside messages.
    def _fmt(self, family: str, value: Any) -> str:
        if family == "duration":
            return checks.format_duration(value.seconds, value.nanos)
        if family == "timestamp":
            return checks.format_timestamp(value.seconds, value.nanos)
        if family == "string":
            return str(value)
        if family == "bytes":
            return checks.format_bytes_text(value)
        if family == "bool":
            return "true" if value else "false"
        return checks.format_number(value)

    def _operand(self, family: str, value: Any) -> Any:
        return _nanos(value) if family in ("duration", "timestamp") else value

    def value_rules(
        self,
        fd: descriptor.FieldDescriptor,
        rules: Any,
        path: tuple[int, ...],
        family: str,
    ) -> ValueRules:
        """The ValueRules of one value of family ``family`` from a ``FieldRules`` message at ``path``."""
        value = ValueRules(family=family, ignore=rules.ignore)
        if family == "message":
            value.message_type = _message_type(fd).full_name
        chosen = rules.WhichOneof("type")
        if chosen is None:
            return value
        rules_path = (*path, _FIELD_RULES.fields_by_name[chosen].number)
        if chosen != family:
            self.report(
                rules_path,
                f"field {fd.name}: {chosen} rules on a field of type {_type_text(fd, family)}",
            )
            return value
        typed = getattr(rules, chosen)
        if family in NUMBER_FAMILIES or family in ("duration", "timestamp"):
            value.rules = self._ordered_rules(family, typed, rules_path)
        elif family == "bool":
            if typed.HasField("const"):
                value.rules.append(
                    Rule(
                        "bool.const",
                        f"must equal {self._fmt('bool', typed.const)}",
                        "const",
                        typed.const,
                    )
                )
        elif family == "string":
            value.rules = self._string_rules(typed, rules_path)
        elif family == "bytes":
            value.rules = self._bytes_rules(typed, rules_path)
        elif family == "enum":
            value.rules = self._enum_rules(fd, typed)
        return value

    def _ordered_rules(
        self, family: str, typed: Any, path: tuple[int, ...]
    ) -> list[Rule]:
        """Numbers, durations and timestamps: const, the range, in, not_in, finite / now-relative rules."""
        found: list[Rule] = []
        if typed.HasField("const"):
            found.append(
                Rule(
                    f"{family}.const",
                    f"must equal {self._fmt(family, typed.const)}",
                    "const",
                    self._operand(family, typed.const),
                )
            )
        upper = typed.WhichOneof("less_than")
        lower = typed.WhichOneof("greater_than")
        if upper in ("lt_now",):
            upper = None
        if lower in ("gt_now",):
            lower = None
        words = {
            "lt": "less than",
            "lte": "less than or equal to",
            "gt": "greater than",
            "gte": "greater than or equal to",
        }
        if upper and lower:
            high, low = getattr(typed, upper), getattr(typed, lower)
            high_op, low_op = self._operand(family, high), self._operand(family, low)
            exclusive = high_op < low_op
            joiner = "or" if exclusive else "and"
            found.append(
                Rule(
                    f"{family}.{lower}_{upper}" + ("_exclusive" if exclusive else ""),
                    f"must be {words[lower]} {self._fmt(family, low)} {joiner} {words[upper]} {self._fmt(family, high)}",
                    "range",
                    (lower, low_op, upper, high_op, exclusive),
                )
            )
        elif upper or lower:
            name = upper or lower
            assert name is not None
            bound = getattr(typed, name)
            found.append(
                Rule(
                    f"{family}.{name}",
                    f"must be {words[name]} {self._fmt(family, bound)}",
                    name,
                    self._operand(family, bound),
                )
            )
        if family == "duration" or family in NUMBER_FAMILIES:
            for name in ("in", "not_in"):
                listed = list(getattr(typed, name))
                if listed:
                    text = checks.format_list(
                        self._fmt(family, item) for item in listed
                    )
                    found.append(
                        Rule(
                            f"{family}.{name}",
                            (
                                "must be in list "
                                if name == "in"
                                else "must not be in list "
                            )
                            + text,
                            name,
                            tuple(self._operand(family, item) for item in listed),
                        )
                    )
        if family in ("float", "double") and typed.finite:
            found.append(Rule(f"{family}.finite", "must be finite", "finite"))
        if family == "timestamp":
            if typed.lt_now:
                found.append(
                    Rule("timestamp.lt_now", "must be less than now", "lt_now")
                )
            if typed.gt_now:
                found.append(
                    Rule("timestamp.gt_now", "must be greater than now", "gt_now")
                )
            if typed.HasField("within"):
                found.append(
                    Rule(
                        "timestamp.within",
                        f"must be within {self._fmt('duration', typed.within)} of now",
                        "within",
                        _nanos(typed.within),
                    )
                )
        return found

    def _check_bounds(
        self, typed: Any, path: tuple[int, ...], pairs: Sequence[tuple[str, str]]
    ) -> None:
        for low, high in pairs:
            if (
                typed.HasField(low)
                and typed.HasField(high)
                and getattr(typed, low) > getattr(typed, high)
            ):
                number = typed.DESCRIPTOR.fields_by_name[high].number
                self.report(
                    (*path, number),
                    f"{low} {getattr(typed, low)} is above {high} {getattr(typed, high)}: no value can pass",
                )

    def _pattern(self, pattern: str, path: tuple[int, ...]) -> bool:
        problem = checks.regex_problem(pattern)
        if problem is not None:
            self.report(path, f"pattern {pattern!r} is not valid RE2: {problem}")
            return False
        return True

    def _string_rules(self, typed: Any, path: tuple[int, ...]) -> list[Rule]:
        self._check_bounds(
            typed, path, (("min_len", "max_len"), ("min_bytes", "max_bytes"))
        )
        found: list[Rule] = []
        messages = {
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
        for fd in typed.DESCRIPTOR.fields:
            name = fd.name
            if fd.is_repeated:
                listed = list(getattr(typed, name))
                if listed:
                    word = (
                        "must be in list " if name == "in" else "must not be in list "
                    )
                    found.append(
                        Rule(
                            f"string.{name}",
                            word + checks.format_list(listed),
                            name,
                            tuple(listed),
                        )
                    )
                continue
            if fd.containing_oneof is not None:
                if typed.WhichOneof("well_known") == name:
                    rule = _string_format(name, typed)
                    if rule is not None:
                        found.append(rule)
                continue
            if name == "strict" or not typed.HasField(name):
                continue
            operand = getattr(typed, name)
            if name == "const":
                found.append(
                    Rule("string.const", f"must equal `{operand}`", "const", operand)
                )
            elif name == "pattern" and not self._pattern(operand, (*path, fd.number)):
                continue
            else:
                found.append(
                    Rule(
                        f"string.{name}", messages[name].format(operand), name, operand
                    )
                )
        return found

    def _bytes_rules(self, typed: Any, path: tuple[int, ...]) -> list[Rule]:
        self._check_bounds(typed, path, (("min_len", "max_len"),))
        found: list[Rule] = []
        for fd in typed.DESCRIPTOR.fields:
            name = fd.name
            if fd.is_repeated:
                listed = list(getattr(typed, name))
                if listed:
                    word = (
                        "must be in list " if name == "in" else "must not be in list "
                    )
                    text = checks.format_list(
                        checks.format_bytes_text(item) for item in listed
                    )
                    found.append(
                        Rule(f"bytes.{name}", word + text, name, tuple(listed))
                    )
                continue
            if fd.containing_oneof is not None:
                if typed.WhichOneof("well_known") == name:
                    sizes, what = _BYTES_FORMATS[name]
                    found.append(
                        Rule(
                            f"bytes.{name}",
                            f"must be a valid {what}",
                            "byte_sizes",
                            (
                                sizes,
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
                    Rule("bytes.const", f"must be {operand.hex()}", "const", operand)
                )
            elif name in ("len", "min_len", "max_len"):
                size_texts = {
                    "len": "must be {} bytes",
                    "min_len": "must be at least {} bytes",
                    "max_len": "must be at most {} bytes",
                }
                found.append(
                    Rule(
                        f"bytes.{name}", size_texts[name].format(operand), name, operand
                    )
                )
            elif name == "pattern":
                if self._pattern(operand, (*path, fd.number)):
                    found.append(
                        Rule(
                            "bytes.pattern",
                            f"must match regex pattern `{operand}`",
                            "pattern",
                            operand,
                        )
                    )
            else:
                parts = {
                    "prefix": "does not have prefix {}",
                    "suffix": "does not have suffix {}",
                    "contains": "does not contain {}",
                }
                found.append(
                    Rule(
                        f"bytes.{name}",
                        parts[name].format(operand.hex()),
                        name,
                        operand,
                    )
                )
        return found

    def _enum_rules(self, fd: descriptor.FieldDescriptor, typed: Any) -> list[Rule]:
        found: list[Rule] = []
        if typed.HasField("const"):
            found.append(
                Rule("enum.const", f"must equal {typed.const}", "const", typed.const)
            )
        if typed.defined_only:
            assert fd.enum_type is not None
            defined = tuple(sorted({value.number for value in fd.enum_type.values}))
            found.append(
                Rule(
                    "enum.defined_only",
                    "value must be one of the defined enum values",
                    "in",
                    defined,
                )
            )
        for name in ("in", "not_in"):
            listed = list(getattr(typed, name))
            if listed:
                word = "must be in list " if name == "in" else "must not be in list "
                found.append(
                    Rule(
                        f"enum.{name}",
                        word + checks.format_list(str(n) for n in listed),
                        name,
                        tuple(listed),
                    )
                )
        return found

    def collection_rules(
        self, fd: descriptor.FieldDescriptor, rules: Any, path: tuple[int, ...]
    ) -> FieldRules:
        """A repeated or map field's rules."""
        is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
        result = FieldRules(
            name=fd.name,
            shape="map" if is_map else "repeated",
            presence=False,
            required=rules.required,
            ignore=rules.ignore,
        )
        chosen = rules.WhichOneof("type")
        expected = "map" if is_map else "repeated"
        if chosen is not None and chosen != expected:
            number = _FIELD_RULES.fields_by_name[chosen].number
            self.report(
                (*path, number),
                f"field {fd.name}: {chosen} rules on a {expected} field; use {expected} rules",
            )
        if is_map:
            key_fd = _message_type(fd).fields_by_name["key"]
            value_fd = _message_type(fd).fields_by_name["value"]
            result.key_family = _family(key_fd)
            map_path = (*path, _FIELD_RULES.fields_by_name["map"].number)
            typed = rules.map
            self._check_bounds(typed, map_path, (("min_pairs", "max_pairs"),))
            if typed.HasField("min_pairs"):
                result.collection.append(
                    Rule(
                        "map.min_pairs",
                        f"map must be at least {typed.min_pairs} entries",
                        "min_len",
                        typed.min_pairs,
                    )
                )
            if typed.HasField("max_pairs"):
                result.collection.append(
                    Rule(
                        "map.max_pairs",
                        f"map must be at most {typed.max_pairs} entries",
                        "max_len",
                        typed.max_pairs,
                    )
                )
            result.keys = self.value_rules(
                key_fd, typed.keys, (*map_path, 4), _family(key_fd)
            )
            result.values = self.value_rules(
                value_fd, typed.values, (*map_path, 5), _family(value_fd)
            )
        else:
            rep_path = (*path, _FIELD_RULES.fields_by_name["repeated"].number)
            typed = rules.repeated
            self._check_bounds(typed, rep_path, (("min_items", "max_items"),))
            if typed.HasField("min_items"):
                result.collection.append(
                    Rule(
                        "repeated.min_items",
                        f"must contain at least {typed.min_items} item(s)",
                        "min_len",
                        typed.min_items,
                    )
                )
            if typed.HasField("max_items"):
                result.collection.append(
                    Rule(
                        "repeated.max_items",
                        f"must contain no more than {typed.max_items} item(s)",
                        "max_len",
                        typed.max_items,
                    )
                )
            if typed.unique:
                if fd.type in (_FD.TYPE_MESSAGE, _FD.TYPE_GROUP):
                    self.report(
                        (*rep_path, 3),
                        f"field {fd.name}: unique applies to scalar and enum items only",
                    )
                else:
                    result.collection.append(
                        Rule(
                            "repeated.unique",
                            "repeated value must contain unique items",
                            "unique",
                        )
                    )
            result.items = self.value_rules(
                fd, typed.items, (*rep_path, 4), _family(fd)
            )
        return result


_BYTES_FORMATS = {
    "ip": ((4, 16), "IP address"),
    "ipv4": ((4,), "IPv4 address"),
    "ipv6": ((16,), "IPv6 address"),
    "uuid": ((16,), "UUID"),
}

# well-known string format -> (checks function, extra arguments, what the messages call it, has an *_empty rule)
_STRING_FORMATS: dict[str, tuple[str, tuple[Any, ...], str]] = {
    "email": ("is_email", (), "email address"),
    "hostname": ("is_hostname", (), "hostname"),
    "ip": ("is_ip", (), "IP address"),
    "ipv4": ("is_ip", (4,), "IPv4 address"),
    "ipv6": ("is_ip", (6,), "IPv6 address"),
    "uri": ("is_uri", (), "URI"),
    "address": ("is_address", (), "hostname, or ip address"),
    "uuid": ("is_uuid", (), "UUID"),
    "tuuid": ("is_tuuid", (), "trimmed UUID"),
    "ip_with_prefixlen": ("is_ip_prefix", (), "IP prefix"),
    "ipv4_with_prefixlen": ("is_ip_prefix", (4,), "IPv4 address with prefix length"),
    "ipv6_with_prefixlen": ("is_ip_prefix", (6,), "IPv6 address with prefix length"),
    "ip_prefix": ("is_ip_prefix", (0, True), "IP prefix"),
    "ipv4_prefix": ("is_ip_prefix", (4, True), "IPv4 prefix"),
    "ipv6_prefix": ("is_ip_prefix", (6, True), "IPv6 prefix"),
    "ulid": ("is_ulid", (), "ULID"),
    "protobuf_fqn": ("is_protobuf_fqn", (), "fully-qualified Protobuf name"),
    "protobuf_dot_fqn": (
        "is_protobuf_dot_fqn",
        (),
        "fully-qualified Protobuf name with a leading dot",
    ),
}
_HEADER_NAME_STRICT = r"^:?[0-9a-zA-Z!#$%&\'*+-.^_|~\x60]+$"
_HEADER_VALUE_STRICT = r"^[^\x00-\x08\x0A-\x1F\x7F]*$"
_HEADER_LOOSE_NAME = r"^[^\x00\x0A\x0D]+$"
_HEADER_LOOSE_VALUE = r"^[^\x00\x0A\x0D]*$"


def _string_format(name: str, typed: Any) -> Rule | None:
    """The rule of the well-known format ``name`` (``operand``: function, args, empty rule id, empty message)."""
    if name in _STRING_FORMATS:
        if not getattr(typed, name):
            return None
        function, args, what = _STRING_FORMATS[name]
        return Rule(
            f"string.{name}",
            f"must be a valid {what}",
            "format",
            (
                function,
                args,
                f"string.{name}_empty",
                f"value is empty, which is not a valid {what}",
            ),
        )
    if name == "uri_ref":
        return (
            Rule(
                "string.uri_ref",
                "must be a valid URI Reference",
                "format",
                ("is_uri_ref", (), None, None),
            )
            if typed.uri_ref
            else None
        )
    if name == "host_and_port":
        if not typed.host_and_port:
            return None
        return Rule(
            "string.host_and_port",
            "must be a valid host (hostname or IP address) and port pair",
            "format",
            (
                "is_host_and_port",
                (),
                "string.host_and_port_empty",
                "value is empty, which is not a valid host and port pair",
            ),
        )
    if name == "well_known_regex":
        strict = not typed.HasField("strict") or typed.strict
        if typed.well_known_regex == options_pb2.KNOWN_REGEX_HTTP_HEADER_NAME:
            pattern = _HEADER_NAME_STRICT if strict else _HEADER_LOOSE_NAME
            return Rule(
                "string.well_known_regex.header_name",
                "must be a valid HTTP header name",
                "format_regex",
                (
                    pattern,
                    "string.well_known_regex.header_name_empty",
                    "value is empty, which is not a valid HTTP header name",
                ),
            )
        if typed.well_known_regex == options_pb2.KNOWN_REGEX_HTTP_HEADER_VALUE:
            pattern = _HEADER_VALUE_STRICT if strict else _HEADER_LOOSE_VALUE
            return Rule(
                "string.well_known_regex.header_value",
                "must be a valid HTTP header value",
                "format_regex",
                (pattern, None, None),
            )
    return None


def _type_text(fd: descriptor.FieldDescriptor, family: str) -> str:
    if family == "message":
        return _message_type(fd).full_name
    return family


def _python_class(message: descriptor.Descriptor) -> str:
    names = []
    current: descriptor.Descriptor | None = message
    while current is not None:
        names.append(current.name)
        current = current.containing_type
    return ".".join(reversed(names))


def _walk(
    messages: Sequence[Any],
    descriptors: Iterable[descriptor.Descriptor],
    path: tuple[int, ...],
) -> list[tuple[Any, descriptor.Descriptor, tuple[int, ...]]]:
    """Every message (nested ones too, map entries left out) with its DescriptorProto and source path."""
    found = []
    by_name = {d.name: d for d in descriptors}
    for index, proto in enumerate(messages):
        desc = by_name[proto.name]
        if desc.GetOptions().map_entry:
            continue
        here = (*path, index)
        found.append((proto, desc, here))
        found.extend(
            _walk(proto.nested_type, desc.nested_types, (*here, _MESSAGE_NESTED))
        )
    return found


def _options(options: Message, extension: Any) -> Any:
    return options.Extensions[extension] if options.HasExtension(extension) else None


def _read_message(
    reader: _Reader, proto: Any, desc: descriptor.Descriptor, path: tuple[int, ...]
) -> MessageRules | None:
    """The rules of one message, or None when it is marked skip."""
    message_options = _options(proto.options, options_pb2.message)
    skip = message_options is not None and message_options.skip
    result = MessageRules(
        full_name=desc.full_name,
        python_class=_python_class(desc),
        function="validate_" + _python_class(desc).replace(".", "_"),
    )
    for oneof_proto in proto.oneof_decl:
        oneof_options = _options(oneof_proto.options, options_pb2.oneof)
        if oneof_options is not None and oneof_options.required:
            result.oneofs.append(OneofRules(name=oneof_proto.name, required=True))
    for index, field_proto in enumerate(proto.field):
        fd = desc.fields_by_name[field_proto.name]
        rules = _options(field_proto.options, options_pb2.field)
        f_path = (*path, _MESSAGE_FIELD, index, _FIELD_OPTIONS, _EXT)
        if rules is not None and skip:
            # As protovalidate's `disabled`: the rules stay written (and checked above) but never apply.
            continue
        rules = rules if rules is not None else options_pb2.FieldRules()
        if rules.ignore == IGNORE_ALWAYS:
            continue
        if fd.is_repeated:
            result.fields.append(reader.collection_rules(fd, rules, f_path))
            continue
        family = _family(fd)
        value = reader.value_rules(fd, rules, f_path, family)
        value.ignore = IGNORE_UNSPECIFIED
        result.fields.append(
            FieldRules(
                name=fd.name,
                shape="single",
                presence=fd.has_presence,
                required=rules.required,
                ignore=rules.ignore,
                value=value,
            )
        )
    return None if skip else result


def _message_values(rules: MessageRules) -> list[ValueRules]:
    values = []
    for f in rules.fields:
        for value in (f.value, f.items, f.keys, f.values):
            if value is not None and value.message_type is not None:
                values.append(value)
    return values


def _read_all(ctx: GenContext) -> dict[str, dict[str, MessageRules]]:
    """Every file's message rules (file -> full name -> rules); diagnostics only for the files themselves."""
    from grpc_errgen.codegen.context import GenContext as _Ctx

    everything: dict[str, dict[str, MessageRules]] = {}
    quiet = _Ctx(
        ctx.pool, ctx.protos
    )  # problems in other files are reported when those files are read
    for file_name, proto in ctx.protos.items():
        file_desc = ctx.pool.FindFileByName(file_name)
        reader = _Reader(quiet, file_name)
        found: dict[str, MessageRules] = {}
        for message_proto, desc, path in _walk(
            proto.message_type,
            file_desc.message_types_by_name.values(),
            (_FILE_MESSAGE,),
        ):
            read = _read_message(reader, message_proto, desc, path)
            if read is not None:
                found[desc.full_name] = read
        everything[file_name] = found
    return everything


def _with_validators(
    everything: dict[str, dict[str, MessageRules]],
) -> dict[str, tuple[str, str]]:
    """Messages with rules anywhere below them (across files, through cycles): full name -> (file, function)."""
    owner = {
        name: (file_name, rules)
        for file_name, found in everything.items()
        for name, rules in found.items()
    }
    has = {name for name, (_, rules) in owner.items() if rules.has_own_rules}
    changed = True
    while changed:
        changed = False
        for name, (_, rules) in owner.items():
            if name not in has and any(
                v.message_type in has for v in _message_values(rules)
            ):
                has.add(name)
                changed = True
    return {name: (owner[name][0], owner[name][1].function) for name in has}


def file_validators(ctx: GenContext, file_name: str) -> FileValidators:
    """The validators of ``file_name``'s messages; problems in its rules go to ``ctx.diagnostics``."""
    if "rules" not in ctx.memo:
        everything = _read_all(ctx)
        ctx.memo["rules"] = everything, _with_validators(everything)
    everything, index = ctx.memo["rules"]
    # Read the file again with the real context, so its problems are reported once, with positions.
    proto = ctx.protos[file_name]
    file_desc = ctx.pool.FindFileByName(file_name)
    reader = _Reader(ctx, file_name)
    for message_proto, desc, path in _walk(
        proto.message_type, file_desc.message_types_by_name.values(), (_FILE_MESSAGE,)
    ):
        _read_message(reader, message_proto, desc, path)
    result = FileValidators(
        file_name=file_name, index=index, errgen_module=ctx.errgen_module
    )
    for name, rules in everything[file_name].items():
        if name not in index:
            continue
        for value in _message_values(rules):
            assert value.message_type is not None
            value.validator = result.reference(value.message_type, result.imports)
        result.messages.append(rules)
    if result.messages:
        from grpc_errgen.codegen.validator_code import file_source

        result.imports[ctx.pb2_module(file_name)] = "_pb2"
        result.constants, result.functions = file_source(result.messages)
    return result
