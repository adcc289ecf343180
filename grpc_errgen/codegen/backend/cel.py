"""Checked CEL AST -> one Python expression over the runtime helpers of ``grpc_errgen.cel``.

The expression reads ``this`` from a Python expression the caller gives, ``now`` from a local variable the caller
binds once per evaluation (``uses_now``), and module constants it asks the caller for (``constant(function,
argument)``: compiled patterns, frozensets). Simple operations are inline Python; where CEL differs from Python
(overflow, truncating division, errors instead of wrap-around, absorbing ``&&``/``||``) it calls the runtime.
``&&`` and ``||`` become plain ``and``/``or`` when at most one side can fail, ordered so that an erring side runs
last. The front end (``codegen.cel.check``) has already refused what this module cannot write; a ``CelError``
here is a bug of ours, reported the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from grpc_errgen import cel as runtime
from grpc_errgen.codegen.backend import literals, names
from grpc_errgen.codegen.cel import ast
from grpc_errgen.codegen.cel.ast import CelError, CelType, Kind

#: ``constant(function, argument) -> name``: a module constant holding ``function(argument)``.
ConstantSink = Callable[[str, str], str]


@dataclass
class Constants:
    """A stand-alone constant sink (tests, tools): name -> Python source, one name per distinct value."""

    prefix: str = "_CEL"
    sources: dict[str, str] = field(default_factory=dict)

    def add(self, function: str, argument: str) -> str:
        source = f"{function}({argument})"
        for name, known in self.sources.items():
            if known == source:
                return name
        name = f"{self.prefix}_{len(self.sources)}"
        self.sources[name] = source
        return name


@dataclass(frozen=True)
class Emitted:
    """A Python expression (an atom or parenthesised); ``can_error``: it may raise ``CelEvalError``."""

    source: str
    can_error: bool
    uses_now: bool = False


@dataclass(frozen=True)
class _Code:
    source: str
    can_error: bool


_HASHABLE = {
    Kind.INT,
    Kind.UINT,
    Kind.BOOL,
    Kind.STRING,
    Kind.BYTES,
    Kind.DURATION,
    Kind.TIMESTAMP,
}
_DYN_COMPARE = {"_<_": "lt", "_<=_": "le", "_>_": "gt", "_>=_": "ge"}
_RUNTIME_KINDS = {"int", "uint", "double", "string", "bytes", "bool"}


def _as_doubles(kinds: list[Kind], src: list[str]) -> list[str]:
    """An int compared with a double is compared as a double, as CEL does (``2**63 - 1 < 2.0**63`` is false)."""
    if Kind.DOUBLE in kinds and (Kind.INT in kinds or Kind.UINT in kinds):
        return [
            f"float({s})" if k in (Kind.INT, Kind.UINT) else s
            for s, k in zip(src, kinds)
        ]
    return src


_COMPARE = {"_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
_STRING_PARTS = {"lowerAscii": "lower_ascii", "upperAscii": "upper_ascii"}
_TIME_PARTS = {
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
}
_IS_STRING = {
    "isEmail": "is_email",
    "isHostname": "is_hostname",
    "isUri": "is_uri",
    "isUriRef": "is_uri_ref",
}


def literal(value: object, typ: CelType) -> str:
    """A constant as Python source, spelled as black writes it (``literals``: the output stays black-stable)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if value != value:
            return 'float("nan")'
        if value in (float("inf"), float("-inf")):
            return 'float("inf")' if value > 0 else '(-float("inf"))'
        return f"({literals.literal(value)})" if value < 0 else literals.literal(value)
    if isinstance(value, int):
        return f"({value})" if value < 0 else str(value)
    if isinstance(value, str | bytes):
        return literals.literal(value)
    if isinstance(value, tuple):
        inner = typ.params[0] if typ.params else ast.DYN
        return literals.tuple_of([literal(v, inner) for v in value])
    if isinstance(value, dict):
        key, val = typ.params if len(typ.params) == 2 else (ast.DYN, ast.DYN)
        pairs = ", ".join(
            f"{literal(k, key)}: {literal(v, val)}" for k, v in value.items()
        )
        return "{" + pairs + "}"
    raise CelError(f"a constant of type {typ} cannot be used as a value")


class Emitter:
    """Emits one expression. ``this`` is a Python atom holding the value under validation; ``runtime`` the name
    under which generated code imports ``grpc_errgen.cel``; ``now`` the local variable holding ``now``.
    """

    def __init__(
        self,
        constant: ConstantSink,
        this: str,
        *,
        runtime: str = "cel",
        now: str = "now",
    ) -> None:
        self.constant = constant
        self.this = this
        self.rt = runtime
        self.now = now
        self.uses_now = False
        self.vars: list[tuple[str, str]] = []

    def emit(self, checked: ast.CheckedExpr) -> Emitted:
        code = self.node(checked.root)
        return Emitted(code.source, code.can_error, self.uses_now)

    # -- nodes ----------------------------------------------------------------------------------------------

    def node(self, node: ast.Node) -> _Code:
        if isinstance(node, ast.Const):
            return _Code(literal(node.value, node.type), False)
        if isinstance(node, ast.Ident):
            return self._ident(node)
        if isinstance(node, ast.Select):
            return self._select(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Macro):
            return self._macro(node)
        if isinstance(node, ast.ListExpr):
            items = [self.node(e) for e in node.elements]
            return _Code("[" + ", ".join(i.source for i in items) + "]", _any(items))
        if isinstance(node, ast.MapExpr):
            pairs = [(self.node(k), self.node(v)) for k, v in node.entries]
            text = ", ".join(f"{k.source}: {v.source}" for k, v in pairs)
            return _Code(
                "{" + text + "}", any(k.can_error or v.can_error for k, v in pairs)
            )
        raise CelError("unsupported expression", node.offset)

    def _ident(self, node: ast.Ident) -> _Code:
        for name, python in reversed(self.vars):
            if name == node.name:
                return _Code(python, False)
        if node.name == "this":
            return _Code(self.this, False)
        if node.name == "now":
            self.uses_now = True
            return _Code(self.now, False)
        raise CelError(f"unknown name '{node.name}'", node.offset)

    def _select(self, node: ast.Select) -> _Code:
        operand = self.node(node.operand)
        op = operand.source
        kind = node.operand.type.kind
        if kind is Kind.MAP:
            if node.test_only:
                return _Code(
                    f"({literals.literal(node.field)} in {op})", operand.can_error
                )
            return _Code(
                f"{self.rt}.index_map({op}, {literals.literal(node.field)})", True
            )
        if kind is Kind.DYN:
            fn = "has" if node.test_only else "select"
            return _Code(f"{self.rt}.{fn}({op}, {literals.literal(node.field)})", True)
        attr = names.attribute(op, node.field)
        if node.test_only:
            if node.presence:
                return _Code(
                    f"{op}.HasField({literals.literal(node.field)})", operand.can_error
                )
            return _Code(f"{self.rt}.is_set({attr})", operand.can_error)
        if node.type.kind in (Kind.DURATION, Kind.TIMESTAMP):
            return _Code(f"{self.rt}.message_nanos({attr})", operand.can_error)
        if node.type.nullable:
            return _Code(
                f"({attr}.value if {op}.HasField({literals.literal(node.field)}) else None)",
                operand.can_error,
            )
        return _Code(attr, operand.can_error)

    def _macro(self, node: ast.Macro) -> _Code:
        rng = self.node(node.range)
        var = f"_{node.var}{len(self.vars)}"
        self.vars.append((node.var, var))
        try:
            body = self.node(node.body)
            where = self.node(node.where) if node.where is not None else None
        finally:
            self.vars.pop()
        errs = (
            rng.can_error or body.can_error or (where is not None and where.can_error)
        )
        loop = f"for {var} in {rng.source}"
        if node.kind == "all" or node.kind == "exists":
            if not body.can_error:
                fn = "all" if node.kind == "all" else "any"
                return _Code(f"{fn}({body.source} {loop})", errs)
            fn = "all_" if node.kind == "all" else "exists"
            return _Code(
                f"{self.rt}.{fn}({rng.source}, lambda {var}: {body.source})", errs
            )
        if node.kind == "exists_one":
            return _Code(f"(sum(1 {loop} if {body.source}) == 1)", errs)
        condition = f" if {where.source}" if where is not None else ""
        return _Code(f"[{body.source} {loop}{condition}]", errs)

    # -- calls ----------------------------------------------------------------------------------------------

    def _call(self, node: ast.Call) -> _Code:
        name = node.function
        if name in ("_&&_", "_||_"):
            return self._logic(node)
        if name == "_?_:_":
            cond, yes, no = (self.node(a) for a in node.args)
            return _Code(
                f"({yes.source} if {cond.source} else {no.source})",
                _any([cond, yes, no]),
            )
        operands = ([node.target] if node.target is not None else []) + list(node.args)
        if name == "format" and node.target is not None:
            return self._format(node)
        if name == "matches":
            return self._matches(node, operands)
        codes = [self.node(o) for o in operands]
        errs = _any(codes)
        src = [c.source for c in codes]
        kinds = [o.type.kind for o in operands]
        rt = self.rt
        if name == "!_":
            return _Code(f"(not {src[0]})", errs)
        if name == "-_":
            if kinds[0] is Kind.INT:
                return _Code(f"{rt}.i64(-{src[0]})", True)
            if kinds[0] is Kind.DURATION:
                return _Code(f"{rt}.check_duration(-{src[0]})", True)
            return _Code(f"(-{src[0]})", errs)
        if name in ("_==_", "_!=_"):
            return self._equality(node, operands, src, errs)
        if name in _COMPARE:
            if Kind.DYN in kinds:
                fn = _DYN_COMPARE[name]
                return _Code(f"{rt}.{fn}({src[0]}, {src[1]})", True)
            src = _as_doubles(kinds, src)
            return _Code(f"({src[0]} {_COMPARE[name]} {src[1]})", errs)
        if name in ("_+_", "_-_", "_*_", "_/_", "_%_"):
            want = node.type.kind
            if Kind.DYN in kinds and want.value in _RUNTIME_KINDS:
                src = [
                    (
                        f"{rt}.of_kind({s}, {literals.literal(want.value)})"
                        if k is Kind.DYN
                        else s
                    )
                    for s, k in zip(src, kinds)
                ]
                errs = True
            return self._arithmetic(node, name, kinds, src, errs)
        if name == "_[_]":
            fn = "index_map" if kinds[0] is Kind.MAP else "index_list"
            if kinds[0] not in (Kind.MAP, Kind.LIST):
                raise CelError("indexing a dynamic value is not supported", node.offset)
            return _Code(f"{rt}.{fn}({src[0]}, {src[1]})", True)
        if name == "@in":
            return self._in(operands, src, errs)
        if name == "size":
            return _Code(f"len({src[0]})", errs)
        if name == "contains":
            return _Code(f"({src[1]} in {src[0]})", errs)
        if name == "startsWith":
            return _Code(f"{src[0]}.startswith({src[1]})", errs)
        if name == "endsWith":
            return _Code(f"{src[0]}.endswith({src[1]})", errs)
        if name in (
            "int",
            "uint",
            "double",
            "string",
            "bytes",
            "bool",
            "duration",
            "timestamp",
            "dyn",
        ):
            return self._convert(node, name, operands[0], src[0], errs)
        if name == "isNan":
            return _Code(f"{rt}.is_nan({src[0]})", errs)
        if name == "isInf":
            return _Code(f"{rt}.is_inf({', '.join(src)})", errs)
        if name in _IS_STRING:
            return _Code(f"{rt}.{_IS_STRING[name]}({src[0]})", errs)
        if name == "isIp":
            return _Code(f"{rt}.is_ip({', '.join(src)})", errs)
        if name == "isIpPrefix":
            return self._ip_prefix(operands, src, errs)
        if name == "isHostAndPort":
            return _Code(f"{rt}.is_host_and_port({src[0]}, {src[1]})", errs)
        if name == "unique":
            return _Code(f"{rt}.unique({src[0]})", errs)
        if name in _STRING_PARTS and node.target is not None:
            return _Code(f"{rt}.{_STRING_PARTS[name]}({src[0]})", errs)
        if name == "trim" and node.target is not None:
            return _Code(f"{src[0]}.strip()", errs)
        if name == "charAt":
            return _Code(f"{rt}.char_at({src[0]}, {src[1]})", True)
        if name == "indexOf":
            return _Code(f"{rt}.index_of({', '.join(src)})", True)
        if name == "lastIndexOf":
            return _Code(f"{rt}.last_index_of({', '.join(src)})", True)
        if name == "substring":
            return _Code(f"{rt}.substring({', '.join(src)})", True)
        if name == "replace" and len(src) in (3, 4):
            return _Code(f"{src[0]}.replace({', '.join(src[1:])})", errs)
        if name == "split" and len(src) in (2, 3):
            return _Code(f"{rt}.split({', '.join(src)})", errs)
        if name == "join" and kinds[0] is Kind.LIST:
            sep = src[1] if len(src) > 1 else '""'
            return _Code(f"{sep}.join({src[0]})", errs)
        if name in _TIME_PARTS and node.target is not None:
            if kinds[0] is Kind.TIMESTAMP:
                zone = f", {src[1]}" if len(src) > 1 else ""
                return _Code(
                    f"{rt}.timestamp_part({src[0]}, {literals.literal(name)}{zone})",
                    True,
                )
            if kinds[0] is Kind.DURATION and len(src) == 1:
                return _Code(
                    f"{rt}.duration_part({src[0]}, {literals.literal(name)})", errs
                )
        raise CelError(f"function '{name}' is not supported", node.offset)

    def _logic(self, node: ast.Call) -> _Code:
        is_and = node.function == "_&&_"
        left, right = node.args
        for one, other in ((left, right), (right, left)):
            if isinstance(one, ast.Const) and isinstance(one.value, bool):
                if one.value is not is_and:  # false && x, true || x
                    return _Code("False" if is_and else "True", False)
                return self.node(other)
        lhs, rhs = self.node(left), self.node(right)
        op = "and" if is_and else "or"
        if lhs.can_error and rhs.can_error:
            fn = "and_" if is_and else "or_"
            return _Code(
                f"{self.rt}.{fn}(lambda: {lhs.source}, lambda: {rhs.source})", True
            )
        if (
            lhs.can_error
        ):  # run the side that cannot fail first: its result may make the error irrelevant
            lhs, rhs = rhs, lhs
        return _Code(f"({lhs.source} {op} {rhs.source})", rhs.can_error)

    def _equality(
        self, node: ast.Call, operands: list[ast.Node], src: list[str], errs: bool
    ) -> _Code:
        negate = node.function == "_!=_"
        kinds = {o.type.kind for o in operands}
        if Kind.NULL in kinds:
            op = "is not" if negate else "is"
            index = 1 if operands[0].type.kind is Kind.NULL else 0
            known = _unwrap_dyn(operands[index])
            if isinstance(known, ast.Const):  # known now (and `1 is None` would warn)
                return _Code(str((known.value is None) != negate), False)
            return _Code(f"({src[index]} {op} None)", errs)
        if kinds == {Kind.LIST}:
            src = [f"list({s})" for s in src]
        elif kinds == {Kind.MAP}:
            src = [f"dict({s})" for s in src]
        elif Kind.DYN in kinds:
            equal = f"{self.rt}.equals({src[0]}, {src[1]})"
            return _Code(f"(not {equal})" if negate else equal, errs)
        src = _as_doubles([o.type.kind for o in operands], src)
        return _Code(f"({src[0]} {'!=' if negate else '=='} {src[1]})", errs)

    def _arithmetic(
        self, node: ast.Call, name: str, kinds: list[Kind], src: list[str], errs: bool
    ) -> _Code:
        rt = self.rt
        a, b = src
        kind = node.type.kind
        if kind is Kind.INT:
            if name == "_/_":
                return _Code(f"{rt}.div_int({a}, {b})", True)
            if name == "_%_":
                return _Code(f"{rt}.mod_int({a}, {b})", True)
            return _Code(f"{rt}.i64({a} {name[1]} {b})", True)
        if kind is Kind.UINT:
            if name == "_/_":
                return _Code(f"{rt}.div_uint({a}, {b})", True)
            if name == "_%_":
                return _Code(f"{rt}.mod_uint({a}, {b})", True)
            return _Code(f"{rt}.u64({a} {name[1]} {b})", True)
        if kind is Kind.DOUBLE:
            if name == "_/_":
                return _Code(f"{rt}.div_double({a}, {b})", errs)
            if name in ("_+_", "_-_", "_*_"):
                return _Code(f"({a} {name[1]} {b})", errs)
        if kind in (Kind.STRING, Kind.BYTES) and name == "_+_":
            return _Code(f"({a} + {b})", errs)
        if kind is Kind.LIST and name == "_+_":
            return _Code(f"[*{a}, *{b}]", errs)
        if kind is Kind.DURATION and name in ("_+_", "_-_"):
            return _Code(f"{rt}.check_duration({a} {name[1]} {b})", True)
        if kind is Kind.TIMESTAMP and name in ("_+_", "_-_"):
            return _Code(f"{rt}.check_timestamp({a} {name[1]} {b})", True)
        raise CelError(f"operator {name} on {node.type} is not supported", node.offset)

    def _in(self, operands: list[ast.Node], src: list[str], errs: bool) -> _Code:
        value, container = operands
        if container.type.kind is Kind.MAP:
            return _Code(f"({src[0]} in {src[1]})", errs)
        if container.type.kind is not Kind.LIST:
            raise CelError("'in' on a dynamic value is not supported", container.offset)
        elem = container.type.params[0].kind
        if elem is Kind.DOUBLE or value.type.kind is Kind.DOUBLE:
            return _Code(f"{self.rt}.contains({src[1]}, {src[0]})", errs)
        items: tuple[object, ...] | None = None
        if isinstance(container, ast.Const) and isinstance(container.value, tuple):
            items = container.value
        elif isinstance(container, ast.ListExpr) and all(
            isinstance(e, ast.Const) for e in container.elements
        ):
            items = tuple(
                e.value for e in container.elements if isinstance(e, ast.Const)
            )
        if items is not None and len(items) > 3 and elem in _HASHABLE:
            name = self.constant("frozenset", literal(items, container.type))
            return _Code(f"({src[0]} in {name})", errs)
        return _Code(f"({src[0]} in {src[1]})", errs)

    def _matches(self, node: ast.Call, operands: list[ast.Node]) -> _Code:
        text, pattern = operands
        code = self.node(text)
        if isinstance(pattern, ast.Const) and isinstance(pattern.value, str):
            name = self.constant(f"{self.rt}.pattern", literals.literal(pattern.value))
            return _Code(f"{name}.found({code.source})", code.can_error)
        pat = self.node(pattern)
        return _Code(f"{self.rt}.matches({code.source}, {pat.source})", True)

    def _format(self, node: ast.Call) -> _Code:
        assert node.target is not None
        template, (args,) = node.target, node.args
        if isinstance(args, ast.ListExpr):
            kinds = tuple(str(_static_type(e)) for e in args.elements)
            values: list[ast.Node] = list(args.elements)
        elif isinstance(args, ast.Const) and isinstance(args.value, tuple):
            kinds = tuple(str(args.type.params[0]) for _ in args.value)
            values = [args]
        else:
            raise CelError("format needs a list literal of arguments", args.offset)
        if isinstance(template, ast.Const) and all(
            isinstance(v, ast.Const) for v in values
        ):
            consts = (
                list(args.value)
                if isinstance(args, ast.Const) and isinstance(args.value, tuple)
                else [v.value for v in values if isinstance(v, ast.Const)]
            )
            try:
                text = runtime.format(str(template.value), consts, kinds)
                return _Code(literals.literal(text), False)
            except runtime.CelEvalError:
                pass
        tmpl = self.node(template)
        arg = self.node(args)
        return _Code(
            f"{self.rt}.format({tmpl.source}, {arg.source}, {literals.literal(kinds)})",
            True,
        )

    def _ip_prefix(self, operands: list[ast.Node], src: list[str], errs: bool) -> _Code:
        version, strict = "0", "False"
        for operand, text in zip(operands[1:], src[1:]):
            if operand.type.kind is Kind.BOOL:
                strict = text
            else:
                version = text
        return _Code(f"{self.rt}.is_ip_prefix({src[0]}, {version}, {strict})", errs)

    def _convert(
        self, node: ast.Call, name: str, arg: ast.Node, src: str, errs: bool
    ) -> _Code:
        rt = self.rt
        have = arg.type.kind
        want = node.type.kind
        if name == "dyn" or (have is want and not arg.type.nullable):
            return _Code(src, errs)
        table: dict[tuple[str, Kind], tuple[str, bool]] = {
            ("int", Kind.UINT): (f"{rt}.int_of_uint({src})", True),
            ("int", Kind.DOUBLE): (f"{rt}.int_of_double({src})", True),
            ("int", Kind.STRING): (f"{rt}.int_of_string({src})", True),
            ("int", Kind.TIMESTAMP): (f"({src} // {runtime.NANOS})", errs),
            ("uint", Kind.INT): (f"{rt}.uint_of_int({src})", True),
            ("uint", Kind.DOUBLE): (f"{rt}.uint_of_double({src})", True),
            ("uint", Kind.STRING): (f"{rt}.uint_of_string({src})", True),
            ("double", Kind.INT): (f"float({src})", errs),
            ("double", Kind.UINT): (f"float({src})", errs),
            ("double", Kind.STRING): (f"{rt}.double_of_string({src})", True),
            ("string", Kind.INT): (f"str({src})", errs),
            ("string", Kind.UINT): (f"str({src})", errs),
            ("string", Kind.DOUBLE): (f"{rt}.string_of_double({src})", errs),
            ("string", Kind.BYTES): (f"{rt}.string_of_bytes({src})", True),
            ("string", Kind.BOOL): (f'("true" if {src} else "false")', errs),
            ("string", Kind.DURATION): (f"{rt}.string_of_duration({src})", errs),
            ("string", Kind.TIMESTAMP): (f"{rt}.string_of_timestamp({src})", errs),
            ("bytes", Kind.STRING): (f"{src}.encode()", errs),
            ("bool", Kind.STRING): (f"{rt}.bool_of_string({src})", True),
            ("duration", Kind.STRING): (f"{rt}.duration({src})", True),
            ("timestamp", Kind.STRING): (f"{rt}.timestamp({src})", True),
            ("timestamp", Kind.INT): (f"{rt}.timestamp_of_int({src})", True),
        }
        if (name, have) in table and not arg.type.nullable:
            return _Code(*table[(name, have)])
        raise CelError(f"conversion {name}({arg.type}) is not supported", node.offset)


def _unwrap_dyn(node: ast.Node) -> ast.Node:
    """``x`` of ``dyn(x)``."""
    while isinstance(node, ast.Call) and node.function == "dyn" and node.args:
        node = node.args[0]
    return node


def _static_type(node: ast.Node) -> CelType:
    """The type to print a ``format`` argument as: under ``dyn(x)``, the type of ``x``."""
    return _unwrap_dyn(node).type


def _any(codes: list[_Code]) -> bool:
    return any(c.can_error for c in codes)


def emit(
    checked: ast.CheckedExpr,
    constant: ConstantSink,
    this: str,
    *,
    runtime: str = "cel",
    now: str = "now",
) -> Emitted:
    """``checked`` as one Python expression (see ``Emitter``)."""
    return Emitter(constant, this, runtime=runtime, now=now).emit(checked)
