"""The validation model: what a message's rules ask for, front-end neutral and free of Python.

A front end (``frontend.errgen_rules`` for ``(errgen.field)``; a ``buf.validate`` front end fills the same
classes) builds these frozen values; the back end (``backend.validators``) turns them into source. Nothing here
names a Python function, module or constant.

- ``MessageRules`` > ``FieldRules`` > ``ValueRules`` > ``Rule``: a value is a singular field, a list item, a map
  key or a map value.
- ``Rule`` is a union: one frozen dataclass per kind of check, each with typed operands. Every rule carries the
  violation it produces (``rule_id``, ``message``) and its protovalidate rule path (``path``: the elements from
  ``FieldRules`` down to the rule's own field, e.g. ``string.min_len`` is ``(string, 14, TYPE_MESSAGE),
  (min_len, 2, TYPE_UINT64)``; rules under ``repeated.items`` / ``map.keys`` / ``map.values`` include that
  prefix, and a map key's rules have ``for_key``).
- Adding a kind of rule: one more dataclass here, added to ``Rule``, and one emitter in ``backend.validators``
  (dispatch is by type).

Operand units: durations and timestamps in nanoseconds (int); numbers as the field's Python type; strings and
bytes as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from grpc_errgen.codegen.cel.ast import CheckedExpr

Scalar = int | float | str | bytes | bool


@dataclass(frozen=True)
class PathElement:
    """One step of a rule path: a field of ``FieldRules`` or of one of its nested rule messages."""

    name: str
    number: int
    field_type: int  # google.protobuf.FieldDescriptorProto.Type
    #: The position in a repeated rules field: ``cel[0]``.
    index: int | None = None


RulePath = tuple[PathElement, ...]


@dataclass(frozen=True, kw_only=True)
class RuleBase:
    """What every rule has: the violation it produces and where it is written in ``FieldRules``."""

    rule_id: str
    message: str
    path: RulePath
    for_key: bool = False


@dataclass(frozen=True, kw_only=True)
class Const(RuleBase):
    value: Scalar


@dataclass(frozen=True, kw_only=True)
class Bound(RuleBase):
    """``value OP bound`` must hold (``lt``: value < bound ...)."""

    op: Literal["lt", "lte", "gt", "gte"]
    bound: Scalar


@dataclass(frozen=True, kw_only=True)
class Range(RuleBase):
    """A lower and an upper bound. ``exclusive`` (upper below lower): the value must lie outside [high, low]."""

    lower: Literal["gt", "gte"]
    low: Scalar
    upper: Literal["lt", "lte"]
    high: Scalar
    exclusive: bool


@dataclass(frozen=True, kw_only=True)
class In(RuleBase):
    values: tuple[Scalar, ...]


@dataclass(frozen=True, kw_only=True)
class NotIn(RuleBase):
    values: tuple[Scalar, ...]


@dataclass(frozen=True, kw_only=True)
class Finite(RuleBase):
    """Not NaN nor infinite."""


class SizeOf(Enum):
    LENGTH = "length"  # characters of a string, bytes of a bytes value, items of a list, entries of a map
    UTF8_BYTES = "utf8_bytes"  # bytes of a string, UTF-8 encoded


@dataclass(frozen=True, kw_only=True)
class Size(RuleBase):
    """The size must be exactly / at least / at most ``limit``."""

    bound: Literal["exact", "min", "max"]
    limit: int
    of: SizeOf = SizeOf.LENGTH


@dataclass(frozen=True, kw_only=True)
class Pattern(RuleBase):
    """An RE2 pattern that must be found in the value (a string, or bytes read as UTF-8)."""

    regex: str


@dataclass(frozen=True, kw_only=True)
class Prefix(RuleBase):
    text: str | bytes


@dataclass(frozen=True, kw_only=True)
class Suffix(RuleBase):
    text: str | bytes


@dataclass(frozen=True, kw_only=True)
class Contains(RuleBase):
    text: str | bytes


@dataclass(frozen=True, kw_only=True)
class NotContains(RuleBase):
    text: str | bytes


@dataclass(frozen=True, kw_only=True)
class Unique(RuleBase):
    """Every item of a list differs from the others."""


@dataclass(frozen=True, kw_only=True)
class LtNow(RuleBase):
    """A timestamp before the current time."""


@dataclass(frozen=True, kw_only=True)
class GtNow(RuleBase):
    """A timestamp after the current time."""


@dataclass(frozen=True, kw_only=True)
class Within(RuleBase):
    """A timestamp at most ``nanos`` away from the current time."""

    nanos: int


@dataclass(frozen=True)
class EmptyCase:
    """The separate violation a well-known format reports for an empty value (``string.email_empty``)."""

    rule_id: str
    message: str


@dataclass(frozen=True, kw_only=True)
class StringFormat(RuleBase):
    """A well-known string format: ``email``, ``hostname``, ``ip``, ``ipv4``, ``uri``, ``uri_ref``, ``uuid``...

    ``name`` is the rule's field name in ``StringRules``; ``empty`` is set when an empty value is its own violation.
    """

    name: str
    empty: EmptyCase | None = None


@dataclass(frozen=True, kw_only=True)
class FormatPattern(RuleBase):
    """A well-known format defined by a regex (``well_known_regex`` header names and values)."""

    regex: str
    empty: EmptyCase | None = None


@dataclass(frozen=True, kw_only=True)
class ByteLengths(RuleBase):
    """A bytes value of one of these lengths (``bytes.ip``: 4 or 16)."""

    sizes: tuple[int, ...]
    empty: EmptyCase | None = None


@dataclass(frozen=True, kw_only=True)
class CelRule(RuleBase):
    """A CEL expression, type-checked (the typed AST of ``codegen.cel.ast``), compiled to Python by the back end.

    A bool result of false is a violation with ``message``; a string result that is not empty is a violation with
    that string as its message. ``expr.source`` is the expression as written.
    """

    expr: CheckedExpr


@dataclass(frozen=True, kw_only=True)
class FieldMaskConst(RuleBase):
    """A ``google.protobuf.FieldMask`` holding exactly these paths, in this order."""

    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FieldMaskIn(RuleBase):
    """Every path of the mask is one of ``paths`` or lies below one (``a.b`` below ``a``)."""

    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FieldMaskNotIn(RuleBase):
    """No path of the mask is one of ``paths`` or lies below one."""

    paths: tuple[str, ...]


Rule = (
    Const
    | Bound
    | Range
    | In
    | NotIn
    | Finite
    | Size
    | Pattern
    | Prefix
    | Suffix
    | Contains
    | NotContains
    | Unique
    | LtNow
    | GtNow
    | Within
    | StringFormat
    | FormatPattern
    | ByteLengths
    | CelRule
    | FieldMaskConst
    | FieldMaskIn
    | FieldMaskNotIn
)


@dataclass(frozen=True)
class Required:
    """The field's ``required`` rule (path ``FieldRules.required``)."""

    path: RulePath
    rule_id: str = "required"
    message: str = "value is required"


class Ignore(Enum):
    """``FieldRules.ignore``: when the rules apply."""

    UNSPECIFIED = 0
    IF_ZERO_VALUE = 1
    ALWAYS = 3


Family = Literal[
    "double",
    "float",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "sint32",
    "sint64",
    "fixed32",
    "fixed64",
    "sfixed32",
    "sfixed64",
    "bool",
    "string",
    "bytes",
    "enum",
    "duration",
    "timestamp",
    "any",  # google.protobuf.Any: rules read its type_url
    "field_mask",  # google.protobuf.FieldMask
    "message",
]
NUMBER_FAMILIES: frozenset[str] = frozenset(
    {"float", "double", "int32", "int64", "uint32", "uint64", "sint32", "sint64"}
    | {"fixed32", "fixed64", "sfixed32", "sfixed64"}
)


@dataclass(frozen=True)
class ValueRules:
    """The rules on one value: a singular field, a list item, a map key or a map value."""

    family: Family
    rules: tuple[Rule, ...] = ()
    ignore: Ignore = Ignore.UNSPECIFIED
    #: The message's full name, for message values (its own rules apply through its validator).
    message_type: str | None = None
    #: The value sits in a google.protobuf wrapper message (``Int32Value``...): ``rules`` apply to its ``value``.
    wrapper: bool = False


@dataclass(frozen=True)
class FieldElement:
    """What protovalidate's field paths say about a field: number and ``FieldDescriptorProto.Type`` (a group or
    delimited message is TYPE_GROUP, a map TYPE_MESSAGE); for maps the key and value types too.
    """

    number: int
    field_type: int
    key_type: int | None = None
    value_type: int | None = None


@dataclass(frozen=True)
class SingleField:
    name: str
    number: int  # the field's number (names the generated code's locals: stable as rules are added)
    #: A singular field that tracks presence (message, optional, oneof member, proto2).
    presence: bool
    value: ValueRules
    required: Required | None = None
    ignore: Ignore = Ignore.UNSPECIFIED
    element: FieldElement | None = None


@dataclass(frozen=True)
class RepeatedField:
    name: str
    number: int  # the field's number (names the generated code's locals: stable as rules are added)
    items: ValueRules
    #: Rules on the list as a whole (``min_items``, ``max_items``, ``unique``).
    rules: tuple[Rule, ...] = ()
    required: Required | None = None
    ignore: Ignore = Ignore.UNSPECIFIED
    element: FieldElement | None = None


@dataclass(frozen=True)
class MapField:
    name: str
    number: int  # the field's number (names the generated code's locals: stable as rules are added)
    keys: ValueRules
    values: ValueRules
    #: Rules on the map as a whole (``min_pairs``, ``max_pairs``).
    rules: tuple[Rule, ...] = ()
    required: Required | None = None
    ignore: Ignore = Ignore.UNSPECIFIED
    element: FieldElement | None = None


FieldRules = SingleField | RepeatedField | MapField


@dataclass(frozen=True)
class OneofRules:
    name: str
    required: bool


@dataclass(frozen=True)
class GroupMember:
    """A field named by a message-level ``oneof`` rule, and how to tell that it is set."""

    name: str
    #: set means present (message, optional, oneof member, proto2); else set means not the zero value / empty
    presence: bool
    family: Family


@dataclass(frozen=True)
class FieldGroup:
    """protovalidate's message-level ``oneof`` rule: at most one of ``fields`` is set (exactly one when
    ``required``). Rule id ``message.oneof``."""

    members: tuple[GroupMember, ...]
    required: bool

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(member.name for member in self.members)


@dataclass(frozen=True)
class MessageRules:
    full_name: str
    #: The message's names from the file's top level down: ``("Order", "LineItem")``.
    nested_name: tuple[str, ...]
    oneofs: tuple[OneofRules, ...] = ()
    fields: tuple[FieldRules, ...] = ()
    #: The proto comment on the message, for the validator's docstring.
    doc: str = ""
    #: Message-level CEL rules (``this`` is the message); violations carry no field path.
    cel: tuple[CelRule, ...] = ()
    groups: tuple[FieldGroup, ...] = ()

    @property
    def has_own_rules(self) -> bool:
        return (
            bool(self.oneofs)
            or bool(self.cel)
            or bool(self.groups)
            or any(_field_has_own_rules(f) for f in self.fields)
        )

    def values(self) -> tuple[ValueRules, ...]:
        """Every value of every field (singular value, items, keys, values)."""
        found: list[ValueRules] = []
        for rules in self.fields:
            if isinstance(rules, SingleField):
                found.append(rules.value)
            elif isinstance(rules, RepeatedField):
                found.append(rules.items)
            else:
                found += [rules.keys, rules.values]
        return tuple(found)


def _field_has_own_rules(rules: FieldRules) -> bool:
    if rules.required is not None:
        return True
    if not isinstance(rules, SingleField) and rules.rules:
        return True
    if isinstance(rules, SingleField):
        return bool(rules.value.rules)
    if isinstance(rules, RepeatedField):
        return bool(rules.items.rules)
    return bool(rules.keys.rules or rules.values.rules)


@dataclass(frozen=True)
class MessageRef:
    """Where a message is declared: its .proto file and its names from that file's top level down."""

    proto: str
    nested_name: tuple[str, ...]
    #: Its validator can be reached again from its own checks (the message holds itself, directly or through
    #: other messages), so nesting, not the schema, decides how deep validation goes.
    recursive: bool = False


@dataclass(frozen=True)
class FileValidators:
    """The validated messages of one file, and which messages (of any file of the run) have a validator."""

    file_name: str
    #: The file's messages that have a validator (own rules, or rules somewhere below them), in file order.
    messages: tuple[MessageRules, ...] = ()
    #: Every message of the run with a validator (full name -> where it is declared); shared by the run's files.
    validated: Mapping[str, MessageRef] = field(default_factory=dict)
    #: The file's messages whose rules were refused (``invalid_messages=refuse``): full name -> diagnostic.
    refused: tuple[tuple[str, str], ...] = ()
