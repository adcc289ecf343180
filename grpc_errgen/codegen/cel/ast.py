"""The checked CEL AST: frozen dataclasses, each node with its CEL type and source offset.

Built by ``check.py`` from cel-expr-python's ``cel.expr.CheckedExpr``; read by the emitter. Enums are ints, as in CEL.
Macros arrive already recognised (``Macro``); ``has(a.f)`` is a ``Select`` with ``test_only``. ``rule`` and ``rules``
(predefined rules) are folded into ``Const`` values at check time, so they never reach the emitter as names.

Values of ``Const`` use the runtime representation of generated code: int, float, bool, str, bytes, None, a tuple
for a list, a dict for a map, int nanoseconds for a duration and for a timestamp (since the Unix epoch), and a
protobuf message for a message (only as the operand of a folded field selection).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    INT = "int"
    UINT = "uint"
    DOUBLE = "double"
    BOOL = "bool"
    STRING = "string"
    BYTES = "bytes"
    DURATION = "google.protobuf.Duration"
    TIMESTAMP = "google.protobuf.Timestamp"
    NULL = "null_type"
    LIST = "list"
    MAP = "map"
    MESSAGE = "message"
    DYN = "dyn"
    TYPE = "type"


@dataclass(frozen=True)
class CelType:
    """A CEL type. ``params`` holds a list's element type or a map's key and value types; ``name`` a message's
    full name. ``nullable`` marks a wrapper type (``google.protobuf.Int32Value`` is ``int`` or null).
    """

    kind: Kind
    params: tuple[CelType, ...] = ()
    name: str = ""
    nullable: bool = False

    def __str__(self) -> str:
        if self.kind is Kind.LIST:
            return f"list({self.params[0]})"
        if self.kind is Kind.MAP:
            return f"map({self.params[0]}, {self.params[1]})"
        if self.kind is Kind.MESSAGE:
            return self.name
        text = self.kind.value
        return f"wrapper({text})" if self.nullable else text

    @property
    def elem(self) -> CelType:
        """A list's element type, a map's key type (what iteration yields)."""
        return self.params[0]


INT = CelType(Kind.INT)
UINT = CelType(Kind.UINT)
DOUBLE = CelType(Kind.DOUBLE)
BOOL = CelType(Kind.BOOL)
STRING = CelType(Kind.STRING)
BYTES = CelType(Kind.BYTES)
DURATION = CelType(Kind.DURATION)
TIMESTAMP = CelType(Kind.TIMESTAMP)
NULL = CelType(Kind.NULL)
DYN = CelType(Kind.DYN)


def list_of(elem: CelType) -> CelType:
    return CelType(Kind.LIST, (elem,))


def map_of(key: CelType, value: CelType) -> CelType:
    return CelType(Kind.MAP, (key, value))


def message(name: str) -> CelType:
    return CelType(Kind.MESSAGE, name=name)


@dataclass(frozen=True, kw_only=True)
class Node:
    """``offset`` is the code-point offset in the expression of the node's token (an operator, the ``(`` of a
    call, the ``.`` of a selection), as cel-cpp reports it."""

    type: CelType
    offset: int


@dataclass(frozen=True, kw_only=True)
class Const(Node):
    value: object


@dataclass(frozen=True, kw_only=True)
class Ident(Node):
    """``this``, ``now`` or a macro's iteration variable."""

    name: str


@dataclass(frozen=True, kw_only=True)
class Select(Node):
    """``operand.field``; with ``test_only`` it is ``has(operand.field)`` (type bool).

    On a message operand, ``presence`` says whether the field tracks presence (proto2 ``optional``, proto3
    ``optional``, a message, a oneof member, editions ``EXPLICIT``); without presence ``has()`` means "not the
    zero value" (repeated and map fields: "not empty"). On a map operand it is an index by a string key.
    """

    operand: Node
    field: str
    test_only: bool = False
    presence: bool = False


@dataclass(frozen=True, kw_only=True)
class Call(Node):
    """A function or operator (cel-cpp names: ``_+_``, ``_[_]``, ``@in``, ``size``...). ``target`` is the receiver
    of a member call (``this.size()``). ``overloads`` are the overload ids the checker resolved.
    """

    function: str
    args: tuple[Node, ...]
    target: Node | None = None
    overloads: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Macro(Node):
    """A comprehension macro over ``range`` (a list, or a map's keys) binding ``var``.

    ``all``/``exists``/``exists_one``: ``body`` is the predicate. ``map``: ``body`` is the transform and ``where``
    the optional filter (``filter(x, p)`` is ``map`` with ``where=p`` and ``body=x``).
    """

    kind: str
    var: str
    range: Node
    body: Node
    where: Node | None = None


@dataclass(frozen=True, kw_only=True)
class ListExpr(Node):
    elements: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True)
class MapExpr(Node):
    entries: tuple[tuple[Node, Node], ...]


class CelError(Exception):
    """An expression that does not parse or type-check, or uses something we do not compile; ``offset`` is the
    code-point offset in the expression where the problem is written."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class CheckedExpr:
    """A type-checked expression. ``root.type`` is bool or string (the only result types a rule may have)."""

    source: str
    root: Node
