"""The CEL front end: parse and type-check with cel-expr-python (cel-cpp), then build the typed AST of ``ast.py``.

cel-cpp does the parsing and the type checking against the user's descriptors; its ``CheckedExpr`` (decoded with the
vendored cel-spec protos in ``cel_expr/``) becomes our AST. Along the way: macros are recognised from their standard
expansions, enum constants become ints, ``rule``/``rules`` (predefined rules) and ``getField(rules, 'name')`` are
folded into constants, and literal ``duration('1s')``/``timestamp('...')`` are computed. Anything we cannot compile
is a ``CelError`` with the offset where it is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    message_factory,
    struct_pb2,
    timestamp_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from grpc_errgen import cel as runtime
from grpc_errgen.codegen.cel import ast
from grpc_errgen.codegen.cel.ast import CelError, CelType, Kind
from grpc_errgen.codegen.frontend.re2_syntax import regex_problem


@dataclass(frozen=True)
class CelEnv:
    """What the names of an expression mean.

    ``this``: the value under validation (a field's value, an element or key or value of one, or a message).
    ``rules``: the rules message of a predefined rule (e.g. a ``buf.validate.StringRules`` holding the extension);
    ``rule``: the predefined rule's own value, with its type. Both are constants of the generated code.
    ``pool`` holds the user's message types (and, for predefined rules, the rules messages).
    """

    pool: descriptor_pool.DescriptorPool
    this: CelType
    rules: Message | None = None
    rule: tuple[CelType, object] | None = None


# -- types ------------------------------------------------------------------------------------------------

_SCALARS: dict[int, CelType] = {
    FieldDescriptor.TYPE_INT32: ast.INT,
    FieldDescriptor.TYPE_INT64: ast.INT,
    FieldDescriptor.TYPE_SINT32: ast.INT,
    FieldDescriptor.TYPE_SINT64: ast.INT,
    FieldDescriptor.TYPE_SFIXED32: ast.INT,
    FieldDescriptor.TYPE_SFIXED64: ast.INT,
    FieldDescriptor.TYPE_ENUM: ast.INT,
    FieldDescriptor.TYPE_UINT32: ast.UINT,
    FieldDescriptor.TYPE_UINT64: ast.UINT,
    FieldDescriptor.TYPE_FIXED32: ast.UINT,
    FieldDescriptor.TYPE_FIXED64: ast.UINT,
    FieldDescriptor.TYPE_FLOAT: ast.DOUBLE,
    FieldDescriptor.TYPE_DOUBLE: ast.DOUBLE,
    FieldDescriptor.TYPE_BOOL: ast.BOOL,
    FieldDescriptor.TYPE_STRING: ast.STRING,
    FieldDescriptor.TYPE_BYTES: ast.BYTES,
}

WRAPPERS: dict[str, CelType] = {
    "google.protobuf.DoubleValue": ast.DOUBLE,
    "google.protobuf.FloatValue": ast.DOUBLE,
    "google.protobuf.Int64Value": ast.INT,
    "google.protobuf.Int32Value": ast.INT,
    "google.protobuf.UInt64Value": ast.UINT,
    "google.protobuf.UInt32Value": ast.UINT,
    "google.protobuf.BoolValue": ast.BOOL,
    "google.protobuf.StringValue": ast.STRING,
    "google.protobuf.BytesValue": ast.BYTES,
}

# Message types CEL turns into JSON-like dynamic values: not compiled.
_DYNAMIC = {
    "google.protobuf.Any",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
}


def _message_type(name: str, *, unwrap: bool) -> CelType:
    if name == "google.protobuf.Duration":
        return ast.DURATION
    if name == "google.protobuf.Timestamp":
        return ast.TIMESTAMP
    if name in WRAPPERS:
        plain = WRAPPERS[name]
        return plain if unwrap else CelType(plain.kind, nullable=True)
    if name in _DYNAMIC:
        return ast.DYN
    return ast.message(name)


def value_type(field: FieldDescriptor, *, unwrap: bool = False) -> CelType:
    """The CEL type of one value of ``field`` (one element when it is repeated). ``unwrap``: a wrapper field's
    value is the wrapped primitive (protovalidate's ``this`` on a set wrapper field)."""
    if field.type in _SCALARS:
        return _SCALARS[field.type]
    message_type = field.message_type
    assert message_type is not None
    return _message_type(message_type.full_name, unwrap=unwrap)


def field_type(field: FieldDescriptor, *, unwrap: bool = False) -> CelType:
    """The CEL type of ``field`` as a whole: ``list(T)`` when repeated, ``map(K, V)`` for a map."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, val = (
            field.message_type.fields_by_name["key"],
            field.message_type.fields_by_name["value"],
        )
        return ast.map_of(value_type(key), value_type(val))
    if field.is_repeated:
        return ast.list_of(value_type(field))
    return value_type(field, unwrap=unwrap)


def message_this(message: Descriptor) -> CelType:
    return _message_type(message.full_name, unwrap=True)


_PRIMITIVES = {
    1: ast.BOOL,
    2: ast.INT,
    3: ast.UINT,
    4: ast.DOUBLE,
    5: ast.STRING,
    6: ast.BYTES,
}


def _from_checked(t: Any) -> CelType:
    kind = t.WhichOneof("type_kind")
    if kind == "primitive":
        return _PRIMITIVES[t.primitive]
    if kind == "wrapper":
        return CelType(_PRIMITIVES[t.wrapper].kind, nullable=True)
    if kind == "well_known":
        return {2: ast.TIMESTAMP, 3: ast.DURATION}.get(t.well_known, ast.DYN)
    if kind == "list_type":
        return ast.list_of(_from_checked(t.list_type.elem_type))
    if kind == "map_type":
        return ast.map_of(
            _from_checked(t.map_type.key_type), _from_checked(t.map_type.value_type)
        )
    if kind == "message_type":
        return _message_type(t.message_type, unwrap=False)
    if kind == "null":
        return ast.NULL
    if kind == "type":
        return CelType(Kind.TYPE)
    return (
        ast.DYN
    )  # dyn, type parameters, abstract types (optional) end up unsupported in the emitter


def _to_cel(cel: Any, t: CelType) -> Any:
    simple = {
        Kind.INT: cel.Type.INT,
        Kind.UINT: cel.Type.UINT,
        Kind.DOUBLE: cel.Type.DOUBLE,
        Kind.BOOL: cel.Type.BOOL,
        Kind.STRING: cel.Type.STRING,
        Kind.BYTES: cel.Type.BYTES,
        Kind.DURATION: cel.Type.DURATION,
        Kind.TIMESTAMP: cel.Type.TIMESTAMP,
        Kind.DYN: cel.Type.DYN,
        Kind.NULL: cel.Type.NULL,
    }
    if t.kind is Kind.LIST:
        return cel.Type.List(_to_cel(cel, t.params[0]))
    if t.kind is Kind.MAP:
        return cel.Type.Map(_to_cel(cel, t.params[0]), _to_cel(cel, t.params[1]))
    if t.kind is Kind.MESSAGE:
        return cel.Type(t.name)
    return simple[t.kind]


# -- cel-expr-python ----------------------------------------------------------------------------------------


@cache
def _cel() -> Any:
    try:
        from cel_expr_python import (
            cel,
        )
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CelError(
            "CEL rules need the generator's CEL support: pip install 'grpc-errgen[codegen]'"
        ) from exc
    return cel


@cache
def _checked_expr_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    for module in (struct_pb2, duration_pb2, timestamp_pb2, empty_pb2):
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    data = (Path(__file__).parent / "cel_expr" / "cel_expr.binpb").read_bytes()
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        pool.Add(file)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("cel.expr.CheckedExpr")
    )


def _declarations(cel: Any) -> tuple[list[Any], list[Any]]:
    """protovalidate's extension functions (as its CEL library declares them) and bytes ``startsWith`` & co."""
    T = cel.Type
    B, S, N, D = T.BOOL, T.STRING, T.INT, T.DOUBLE

    def member(name: str, *signatures: list[Any], result: Any = B) -> Any:
        overloads = [
            cel.Overload(
                f"{name}_{'_'.join(p.name() for p in params)}",
                result,
                params,
                is_member=True,
            )
            for params in signatures
        ]
        return cel.FunctionDecl(name, overloads)

    functions = [
        member("isNan", [D]),
        member("isInf", [D], [D, N]),
        member("isEmail", [S]),
        member("isHostname", [S]),
        member("isUri", [S]),
        member("isUriRef", [S]),
        member("isIp", [S], [S, N]),
        member("isIpPrefix", [S], [S, N], [S, B], [S, N, B]),
        member("isHostAndPort", [S, B]),
        member(
            "unique",
            *([T.List(t)] for t in (B, N, T.UINT, D, S, T.BYTES)),
        ),
        cel.FunctionDecl(
            "getField", [cel.Overload("getField_dyn_string", T.DYN, [T.DYN, S])]
        ),
    ]
    bytes_functions = cel.CelExtension(
        "protovalidate_bytes",
        [
            member(name, [T.BYTES, T.BYTES])
            for name in ("startsWith", "endsWith", "contains")
        ],
    )
    # protovalidate enables cel-go's CrossTypeNumericComparisons: `this > 0` on a uint or double field.
    numbers = [T.INT, T.UINT, D]
    pairs = [(a, b) for a in numbers for b in numbers if a is not b]
    comparisons = cel.CelExtension(
        "cross_type_numeric_comparisons",
        [
            cel.FunctionDecl(
                operator,
                [
                    cel.Overload(f"{name}_{a.name()}_{b.name()}", B, [a, b])
                    for a, b in pairs
                ],
            )
            for operator, name in (
                ("_<_", "less"),
                ("_<=_", "less_equals"),
                ("_>_", "greater"),
                ("_>=_", "greater_equals"),
            )
        ],
    )
    from cel_expr_python.ext import ext_strings

    return functions, [bytes_functions, comparisons, ext_strings.ExtStrings()]


_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*?)(?:\n|$)")


def _error_offset(expression: str, text: str) -> tuple[str, int]:
    found = _ERROR.search(text)
    if found is None:
        return text.strip(), 0
    line, column, message = int(found[1]), int(found[2]), found[3]
    lines = expression.split("\n")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
    return message, max(0, min(offset, len(expression)))


def check(expression: str, env: CelEnv, *, any_result: bool = False) -> ast.CheckedExpr:
    """Parse and type-check ``expression`` in ``env``; the result type must be bool or string (what a rule
    returns), or anything with ``any_result`` (tests against cel-spec's own conformance data).
    """
    cel = _cel()
    functions, extensions = _declarations(cel)
    variables = {"this": _to_cel(cel, env.this), "now": cel.Type.TIMESTAMP}
    if env.rules is not None:
        variables["rules"] = cel.Type(env.rules.DESCRIPTOR.full_name)
    if env.rule is not None:
        variables["rule"] = _to_cel(cel, env.rule[0])
    try:
        cel_env = cel.NewEnv(
            descriptor_pool=env.pool,
            variables=variables,
            functions=functions,
            extensions=extensions,
        )
        compiled = cel_env.compile(expression)
    except RuntimeError as exc:
        raise CelError(*_error_offset(expression, str(exc))) from None
    wrapped = any_pb2.Any.FromString(compiled.serialize())
    checked = _checked_expr_class().FromString(wrapped.value)
    root = _Converter(env, checked).convert(checked.expr)
    verify(root)
    if not any_result and root.type.kind not in (Kind.BOOL, Kind.STRING):
        raise CelError(
            f"expression must return bool or string, not {root.type}", root.offset
        )
    return ast.CheckedExpr(expression, root)


# -- CheckedExpr -> AST -------------------------------------------------------------------------------------


def const_value(field: FieldDescriptor, value: Any) -> object:
    """A field's Python value (as protobuf gives it) in the runtime representation of ``ast.Const``."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        val = field.message_type.fields_by_name["value"]
        return {k: _single(val, v) for k, v in value.items()}
    if field.is_repeated:
        return tuple(_single(field, v) for v in value)
    return _single(field, value)


def _single(field: FieldDescriptor, value: Any) -> object:
    if field.message_type is None:
        return value
    name = field.message_type.full_name
    if name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
        return int(value.seconds) * 1_000_000_000 + int(value.nanos)
    if name in WRAPPERS:
        return value.value
    return value


def _has(message: Message, field: FieldDescriptor) -> bool:
    if field.is_repeated:
        return len(getattr(message, field.name)) > 0
    if field.has_presence:
        return message.HasField(field.name)
    return bool(getattr(message, field.name) != field.default_value)


_MACRO_ACCU = "@result"


class _Converter:
    def __init__(self, env: CelEnv, checked: Any) -> None:
        self.env = env
        self.types: Mapping[int, Any] = checked.type_map
        self.refs: Mapping[int, Any] = checked.reference_map
        self.positions: Mapping[int, int] = checked.source_info.positions
        self.scopes: list[tuple[str, CelType]] = []

    def convert(self, expr: Any) -> ast.Node:
        kind = expr.WhichOneof("expr_kind")
        offset = self.positions.get(expr.id, 0)
        typ = _from_checked(self.types[expr.id]) if expr.id in self.types else ast.DYN
        ref = self.refs.get(expr.id)
        if ref is not None and ref.HasField("value"):  # an enum constant
            return ast.Const(type=ast.INT, offset=offset, value=ref.value.int64_value)
        if kind == "const_expr":
            return self._const(expr.const_expr, offset)
        if kind == "ident_expr":
            return self._ident(expr.ident_expr.name, typ, offset)
        if kind == "select_expr":
            sel = expr.select_expr
            return self.select(
                self.convert(sel.operand), sel.field, sel.test_only, offset
            )
        if kind == "call_expr":
            overloads = tuple(ref.overload_id) if ref is not None else ()
            return self._call(expr.call_expr, typ, offset, overloads)
        if kind == "list_expr":
            if expr.list_expr.optional_indices:
                raise CelError("optional list elements are not supported", offset)
            elements = tuple(self.convert(e) for e in expr.list_expr.elements)
            if typ.kind is Kind.LIST and typ.params[0].kind is Kind.DYN and elements:
                typ = ast.list_of(_common(e.type for e in elements))
            return ast.ListExpr(type=typ, offset=offset, elements=elements)
        if kind == "struct_expr":
            struct = expr.struct_expr
            if struct.message_name:
                raise CelError("message construction is not supported", offset)
            entries = []
            for entry in struct.entries:
                if entry.optional_entry:
                    raise CelError("optional map entries are not supported", offset)
                entries.append((self.convert(entry.map_key), self.convert(entry.value)))
            return ast.MapExpr(type=typ, offset=offset, entries=tuple(entries))
        if kind == "comprehension_expr":
            return self._comprehension(expr.comprehension_expr, offset)
        raise CelError("unsupported expression", offset)

    def _const(self, const: Any, offset: int) -> ast.Const:
        which = const.WhichOneof("constant_kind")
        types = {
            "bool_value": ast.BOOL,
            "int64_value": ast.INT,
            "uint64_value": ast.UINT,
            "double_value": ast.DOUBLE,
            "string_value": ast.STRING,
            "bytes_value": ast.BYTES,
            "null_value": ast.NULL,
        }
        if which not in types:
            raise CelError("unsupported literal", offset)
        value = None if which == "null_value" else getattr(const, which)
        return ast.Const(type=types[which], offset=offset, value=value)

    def _ident(self, name: str, typ: CelType, offset: int) -> ast.Node:
        for var, var_type in reversed(self.scopes):
            if var == name:
                return ast.Ident(type=var_type, offset=offset, name=name)
        if name == "rules" and self.env.rules is not None:
            return ast.Const(type=typ, offset=offset, value=self.env.rules)
        if name == "rule" and self.env.rule is not None:
            rule_type, value = self.env.rule
            return ast.Const(type=rule_type, offset=offset, value=value)
        if name == "this":
            return ast.Ident(type=self.env.this, offset=offset, name=name)
        if name == "now":
            return ast.Ident(type=ast.TIMESTAMP, offset=offset, name=name)
        raise CelError(f"unsupported identifier '{name}'", offset)

    def select(
        self, operand: ast.Node, name: str, test_only: bool, offset: int
    ) -> ast.Node:
        if operand.type.kind is Kind.MAP:
            if test_only:
                return ast.Select(
                    type=ast.BOOL,
                    offset=offset,
                    operand=operand,
                    field=name,
                    test_only=True,
                )
            return ast.Select(
                type=operand.type.params[1], offset=offset, operand=operand, field=name
            )
        if operand.type.kind is Kind.DYN:
            typ = ast.BOOL if test_only else ast.DYN
            return ast.Select(
                type=typ,
                offset=offset,
                operand=operand,
                field=name,
                test_only=test_only,
            )
        if operand.type.kind is not Kind.MESSAGE:
            raise CelError(f"cannot select '{name}' on {operand.type}", offset)
        descriptor = self.env.pool.FindMessageTypeByName(operand.type.name)
        field = descriptor.fields_by_name.get(name)
        if field is None:
            raise CelError(f"undefined field '{name}' in {operand.type.name}", offset)
        typ = ast.BOOL if test_only else field_type(field)
        if isinstance(operand, ast.Const) and isinstance(operand.value, Message):
            msg = operand.value
            real: Any = msg.DESCRIPTOR.fields_by_name[name]
            value = (
                _has(msg, real) if test_only else const_value(real, getattr(msg, name))
            )
            return ast.Const(type=typ, offset=offset, value=value)
        if typ.kind is Kind.DYN or (
            typ.kind in (Kind.LIST, Kind.MAP) and _needs_conversion(typ)
        ):
            raise CelError(f"field '{name}' of type {typ} is not supported", offset)
        return ast.Select(
            type=typ,
            offset=offset,
            operand=operand,
            field=name,
            test_only=test_only,
            presence=field.has_presence and not field.is_repeated,
        )

    def _call(
        self, call: Any, typ: CelType, offset: int, overloads: tuple[str, ...]
    ) -> ast.Node:
        target = self.convert(call.target) if call.HasField("target") else None
        args = tuple(self.convert(a) for a in call.args)
        name = call.function
        if name == "getField":
            obj, field = args
            if not (isinstance(field, ast.Const) and isinstance(field.value, str)):
                raise CelError("getField needs a constant field name", offset)
            return self.select(obj, field.value, False, offset)
        if (
            name in ("duration", "timestamp")
            and len(args) == 1
            and isinstance(args[0], ast.Const)
        ):
            text = args[0].value
            if isinstance(text, str):
                parse = runtime.duration if name == "duration" else runtime.timestamp
                try:
                    return ast.Const(type=typ, offset=offset, value=parse(text))
                except runtime.CelEvalError:
                    pass  # an error at run time, as CEL has it
        if typ.kind is Kind.DYN and name != "dyn":
            typ = _refine(name, target, args, typ)
        return ast.Call(
            type=typ,
            offset=offset,
            function=name,
            args=args,
            target=target,
            overloads=overloads,
        )

    def _comprehension(self, comp: Any, offset: int) -> ast.Node:
        if comp.iter_var2 or comp.accu_var != _MACRO_ACCU:
            raise CelError("unsupported comprehension", offset)
        rng = self.convert(comp.iter_range)
        if rng.type.kind not in (Kind.LIST, Kind.MAP):
            elem = ast.DYN
        else:
            elem = rng.type.params[0]
        self.scopes.append((comp.iter_var, elem))
        try:
            return self._macro(comp, rng, offset)
        finally:
            self.scopes.pop()

    def _macro(self, comp: Any, rng: ast.Node, offset: int) -> ast.Node:
        init, step = comp.accu_init, comp.loop_step
        var = comp.iter_var
        init_kind = init.WhichOneof("expr_kind")
        fn = (
            step.call_expr.function
            if step.WhichOneof("expr_kind") == "call_expr"
            else ""
        )
        args = list(step.call_expr.args)
        if init_kind == "const_expr" and fn in ("_&&_", "_||_") and _is_accu(args[0]):
            kind = "all" if fn == "_&&_" else "exists"
            body = self.convert(args[1])
            return ast.Macro(
                type=ast.BOOL, offset=offset, kind=kind, var=var, range=rng, body=body
            )
        if (
            init_kind == "const_expr"
            and fn == "_?_:_"
            and init.const_expr.int64_value == 0
        ):
            body = self.convert(args[0])
            return ast.Macro(
                type=ast.BOOL,
                offset=offset,
                kind="exists_one",
                var=var,
                range=rng,
                body=body,
            )
        if init_kind == "list_expr":
            where = None
            if fn == "_?_:_":
                where = self.convert(args[0])
                fn, args = args[1].call_expr.function, list(args[1].call_expr.args)
            if (
                fn == "_+_"
                and _is_accu(args[0])
                and len(args[1].list_expr.elements) == 1
            ):
                body = self.convert(args[1].list_expr.elements[0])
                return ast.Macro(
                    type=ast.list_of(body.type),
                    offset=offset,
                    kind="map",
                    var=var,
                    range=rng,
                    body=body,
                    where=where,
                )
        raise CelError("unsupported comprehension", offset)


def _is_accu(expr: Any) -> bool:
    return bool(
        expr.WhichOneof("expr_kind") == "ident_expr"
        and expr.ident_expr.name == _MACRO_ACCU
    )


def _needs_conversion(t: CelType) -> bool:
    """A list or map whose values are not plain Python values of protobuf (durations, wrappers, Any...)."""
    inner = t.params[-1]
    return inner.kind in (Kind.DURATION, Kind.TIMESTAMP, Kind.DYN) or inner.nullable


def _common(types: Iterator[CelType]) -> CelType:
    found = set(types)
    return found.pop() if len(found) == 1 else ast.DYN


_ARITHMETIC = {"_+_", "_-_", "_*_", "_/_", "_%_", "-_"}


def _refine(
    name: str, target: ast.Node | None, args: tuple[ast.Node, ...], typ: CelType
) -> CelType:
    """A better type than cel-cpp's ``dyn`` for a call whose operands became concrete (``getField``, macros over
    a folded list)."""
    operands = [a.type for a in ((target,) if target is not None else ()) + args]
    if name in _ARITHMETIC:
        kinds = {t.kind for t in operands}
        if Kind.TIMESTAMP in kinds:
            return (
                ast.TIMESTAMP
                if name == "_+_" or Kind.DURATION in kinds
                else ast.DURATION
            )
        return _common(iter(operands))
    if name == "_[_]" and operands[0].kind in (Kind.LIST, Kind.MAP):
        return operands[0].params[-1]
    if name == "size":
        return ast.INT
    return typ


# -- what the back end can write ----------------------------------------------------------------------------

_ANY_OPERANDS = {
    "_&&_", "_||_", "_?_:_", "!_", "-_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_",
    "size", "contains", "startsWith", "endsWith", "matches", "dyn",
    "isNan", "isInf", "isEmail", "isHostname", "isUri", "isUriRef", "isIp", "isIpPrefix",
    "isHostAndPort", "unique", "charAt", "indexOf", "lastIndexOf", "substring",
}  # fmt: skip
_MEMBER_ONLY = {"lowerAscii", "upperAscii", "trim"}
_TIME_PARTS = {
    "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
    "getHours", "getMinutes", "getSeconds", "getMilliseconds",
}  # fmt: skip
_DURATION_PARTS = {"getHours", "getMinutes", "getSeconds", "getMilliseconds"}
_ARITHMETIC_KINDS = {
    Kind.INT: {"_+_", "_-_", "_*_", "_/_", "_%_"},
    Kind.UINT: {"_+_", "_-_", "_*_", "_/_", "_%_"},
    Kind.DOUBLE: {"_+_", "_-_", "_*_", "_/_"},
    Kind.STRING: {"_+_"},
    Kind.BYTES: {"_+_"},
    Kind.LIST: {"_+_"},
    Kind.DURATION: {"_+_", "_-_"},
    Kind.TIMESTAMP: {"_+_", "_-_"},
}
#: conversion -> the operand kinds it is written for (besides its own kind)
CONVERSIONS = {
    "int": {Kind.UINT, Kind.DOUBLE, Kind.STRING, Kind.TIMESTAMP},
    "uint": {Kind.INT, Kind.DOUBLE, Kind.STRING},
    "double": {Kind.INT, Kind.UINT, Kind.STRING},
    "string": {Kind.INT, Kind.UINT, Kind.DOUBLE, Kind.BYTES, Kind.BOOL, Kind.DURATION, Kind.TIMESTAMP},
    "bytes": {Kind.STRING},
    "bool": {Kind.STRING},
    "duration": {Kind.STRING},
    "timestamp": {Kind.STRING, Kind.INT},
}  # fmt: skip
_CONVERSION_RESULT = {
    "int": Kind.INT,
    "uint": Kind.UINT,
    "double": Kind.DOUBLE,
    "string": Kind.STRING,
    "bytes": Kind.BYTES,
    "bool": Kind.BOOL,
    "duration": Kind.DURATION,
    "timestamp": Kind.TIMESTAMP,
}


def verify(node: ast.Node) -> None:
    """Refuse, with its offset, anything in ``node`` that the back end does not write."""
    if isinstance(node, ast.Const):
        if isinstance(node.value, Message):
            raise CelError(
                f"a whole {node.type} cannot be used as a value", node.offset
            )
        return
    if isinstance(node, ast.Select):
        verify(node.operand)
        return
    if isinstance(node, ast.Macro):
        for part in (node.range, node.body, node.where):
            if part is not None:
                verify(part)
        return
    if isinstance(node, ast.ListExpr):
        for element in node.elements:
            verify(element)
        return
    if isinstance(node, ast.MapExpr):
        for key, value in node.entries:
            verify(key)
            verify(value)
        return
    if isinstance(node, ast.Call):
        operands = ([node.target] if node.target is not None else []) + list(node.args)
        if node.function != "format":
            for operand in operands:
                verify(operand)
        problem = _call_problem(node, operands)
        if problem is not None:
            raise CelError(problem, node.offset)


def _call_problem(node: ast.Call, operands: list[ast.Node]) -> str | None:
    name = node.function
    kinds = [o.type.kind for o in operands]
    if name in _ANY_OPERANDS:
        if name == "matches":
            pattern = operands[1]
            if isinstance(pattern, ast.Const) and isinstance(pattern.value, str):
                problem = regex_problem(pattern.value)
                if problem is not None:
                    return f"invalid regular expression: {problem}"
        return None
    if name in _ARITHMETIC_KINDS.get(node.type.kind, set()):
        return None
    if name in ("_[_]", "@in"):
        container = kinds[0] if name == "_[_]" else kinds[1]
        ok = container in (Kind.LIST, Kind.MAP)
        return (
            None
            if ok
            else f"'{name}' on a value of type {operands[0].type} is not supported"
        )
    if name in CONVERSIONS:
        arg = operands[0].type
        if not arg.nullable and (
            arg.kind is _CONVERSION_RESULT[name] or arg.kind in CONVERSIONS[name]
        ):
            return None
        return f"conversion {name}({arg}) is not supported"
    if name == "format":
        args = node.args[0] if node.args else None
        for operand in operands:
            if operand is not args:
                verify(operand)
        if isinstance(args, ast.ListExpr):
            for element in args.elements:
                verify(element)
            return None
        if isinstance(args, ast.Const) and isinstance(args.value, tuple):
            return None
        return "format needs a list of arguments written in the expression"
    if name in _MEMBER_ONLY and node.target is not None:
        return None
    if name == "replace" and len(operands) in (3, 4):
        return None
    if name == "split" and len(operands) in (2, 3):
        return None
    if name == "join" and kinds[0] is Kind.LIST:
        return None
    if name in _TIME_PARTS and node.target is not None:
        if kinds[0] is Kind.TIMESTAMP:
            return None
        if kinds[0] is Kind.DURATION and name in _DURATION_PARTS and len(operands) == 1:
            return None
    return f"function '{name}' is not supported on {', '.join(str(o.type) for o in operands)}"
