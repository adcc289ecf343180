#!/usr/bin/env python3
"""Export protovalidate's conformance cases (the Go map literals in
tools/protovalidate-conformance/internal/cases/cases_*.go of github.com/bufbuild/protovalidate) as JSON lines.

Each case's `Message` literal is evaluated into a message of the case type (classes made from descriptors.binpb in
a fresh descriptor pool) and serialised; its `Expected` result is turned into the structure the Go harness compares
on.  Field and rule paths written with `results.FieldPath("a.b[0]")` are expanded to FieldPathElements exactly as
the harness's HydrateFieldPaths / fieldpath.Unmarshal do (field paths against the case message, rule paths against
buf.validate.FieldRules, `[pkg.ext]` elements resolved as extensions).

usage:
  python export_cases.py --upstream UPSTREAM_CHECKOUT --descriptors descriptors.binpb --out cases.jsonl \
      [--skipped skipped.json] [--now UNIX_SECONDS]

Needs only `protobuf`; gosrc.py (the Go literal tokenizer/parser) must sit next to this file.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import sys
import time
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

import gosrc

CASES_GO_DIR = Path("tools/protovalidate-conformance/internal/cases")
CASES_PKG = "buf.validate.conformance.cases"

NS = {
    "Nanosecond": 1,
    "Microsecond": 10**3,
    "Millisecond": 10**6,
    "Second": 10**9,
    "Minute": 60 * 10**9,
    "Hour": 3600 * 10**9,
}
MATH = {
    "math.MaxInt8": 127,
    "math.MinInt8": -128,
    "math.MaxInt16": 32767,
    "math.MinInt16": -32768,
    "math.MaxInt32": 2**31 - 1,
    "math.MinInt32": -(2**31),
    "math.MaxInt64": 2**63 - 1,
    "math.MinInt64": -(2**63),
    "math.MaxUint8": 255,
    "math.MaxUint16": 65535,
    "math.MaxUint32": 2**32 - 1,
    "math.MaxUint64": 2**64 - 1,
    "math.MaxFloat32": 3.4028234663852886e38,
    "math.MaxFloat64": 1.7976931348623157e308,
    "math.SmallestNonzeroFloat32": 1.401298464324817e-45,
    "math.SmallestNonzeroFloat64": 5e-324,
}
# Go packages of the well-known types -> (Go type name -> proto full name)
WKT_GO = {
    "anypb.Any": "google.protobuf.Any",
    "durationpb.Duration": "google.protobuf.Duration",
    "timestamppb.Timestamp": "google.protobuf.Timestamp",
    "fieldmaskpb.FieldMask": "google.protobuf.FieldMask",
    "emptypb.Empty": "google.protobuf.Empty",
    "structpb.Struct": "google.protobuf.Struct",
    "structpb.Value": "google.protobuf.Value",
    "structpb.ListValue": "google.protobuf.ListValue",
}
WRAPPERS = {
    "Double": "DoubleValue",
    "Float": "FloatValue",
    "Int64": "Int64Value",
    "UInt64": "UInt64Value",
    "Int32": "Int32Value",
    "UInt32": "UInt32Value",
    "Bool": "BoolValue",
    "String": "StringValue",
    "Bytes": "BytesValue",
}
for _w in WRAPPERS.values():
    WKT_GO[f"wrapperspb.{_w}"] = f"google.protobuf.{_w}"

TYPE_NAME = descriptor_pb2.FieldDescriptorProto.Type.Name


class Unsupported(Exception):
    pass


def strip_amp(node):
    while node[0] == "unary" and node[1] == "&":
        node = node[2]
    return node


def go_camel(s: str) -> str:
    """protoc-gen-go's GoCamelCase."""
    b = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "." and i + 1 < len(s) and s[i + 1].islower():
            pass
        elif c == ".":
            b.append("_")
        elif c == "_" and (i == 0 or s[i - 1] == "."):
            b.append("X")
        elif c == "_" and i + 1 < len(s) and "a" <= s[i + 1] <= "z":
            pass
        elif c.isdigit():
            b.append(c)
        else:
            if "a" <= c <= "z":
                c = c.upper()
            b.append(c)
            while i + 1 < len(s) and "a" <= s[i + 1] <= "z":
                i += 1
                b.append(s[i])
        i += 1
    return "".join(b)


def go_quote(s: str) -> str:
    """strconv.Quote (close enough for sorting and for fmt's %q of printable text)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append(
                {
                    "\a": "\\a",
                    "\b": "\\b",
                    "\f": "\\f",
                    "\n": "\\n",
                    "\r": "\\r",
                    "\t": "\\t",
                    "\v": "\\v",
                }[ch]
            )
        elif ch.isprintable():
            out.append(ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def go_sprintf(fmt: str, args: list) -> str:
    out, i, k = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        verb = fmt[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        arg = args[k]
        k += 1
        if verb == "q" and isinstance(arg, str):
            out.append(go_quote(arg))
        elif verb in "sv":
            out.append(str(arg).lower() if isinstance(arg, bool) else str(arg))
        elif verb == "d" and isinstance(arg, int):
            out.append(str(arg))
        else:
            raise Unsupported(f"fmt verb %{verb}")
    return "".join(out)


class NowSeconds:
    """time.Now().Unix() (+/- a constant): a value that the Go harness computes when it builds the suite."""

    def __init__(self, base: int, offset: int = 0):
        self.base, self.offset = base, offset

    def concrete(self) -> int:
        return self.base + self.offset


def concrete(v):
    return v.concrete() if isinstance(v, NowSeconds) else v


# -- fieldpath.Unmarshal --------------------------------------------------------------------------------------------


def _quoted_prefix(s: str):
    """strconv.QuotedPrefix: the quoted string at the start of s (quotes included), or None."""
    q = s[0]
    if q == "`":
        j = s.find("`", 1)
        return s[: j + 1] if j > 0 else None
    i = 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            return None
        if c == q:
            return s[: i + 1]
        i += 1
    return None


def _go_unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] == "`":
        return s[1:-1]
    if len(s) >= 2 and s[0] == s[-1] == '"':
        return gosrc.unquote(s[1:-1])
    if len(s) >= 3 and s[0] == s[-1] == "'":
        r = gosrc.unquote(s[1:-1])
        if len(r) == 1:
            return r
    raise ValueError(f"cannot unquote {s!r}")


def parse_path_element(path: str):
    """Port of fieldpath.parsePathElement: (name, subscript, rest, at_end, is_ext)."""
    name, is_ext = "", False
    if path and path[0] == "[":
        i = path.find("]")
        if i >= 0:
            is_ext = True
            name, path = path[1:i], path[i + 1 :]
    if not is_ext:
        m = re.search(r"[.\[]", path)
        if m:
            name, path = path[: m.start()], path[m.start() :]
        else:
            name, path = path, ""
    if not path:
        return name, "", path, True, is_ext
    if path[0] == ".":
        return name, "", path[1:], False, is_ext
    if len(path) == 1 or path[1] == ".":
        return name + path[:1], "", path[1:], True, is_ext
    subscript = ""
    if path[1] == "]":
        name, path = name + path[:2], path[2:]
    elif path[1] in "`\"'":
        q = _quoted_prefix(path[1:])
        if q is not None:
            subscript = q
            path = path[len(q) + 2 :]
    else:
        i = path.find("]")
        if i >= 0:
            subscript, path = path[1:i], path[i + 1 :]
        else:
            return name + path, "", "", True, is_ext
    if not path:
        return name, subscript, path, True, is_ext
    if path[0] == ".":
        return name, subscript, path[1:], False, is_ext
    return name, subscript, path, False, is_ext


_INT = re.compile(r"[+-]?[0-9]+")
_UINT = re.compile(r"\+?[0-9]+")
_BOOLS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}
_FD = descriptor_pb2.FieldDescriptorProto
_INT_BITS = {
    _FD.TYPE_SINT32: 32,
    _FD.TYPE_INT32: 32,
    _FD.TYPE_SFIXED32: 32,
    _FD.TYPE_SINT64: 64,
    _FD.TYPE_INT64: 64,
    _FD.TYPE_SFIXED64: 64,
}
_UINT_BITS = {
    _FD.TYPE_UINT32: 32,
    _FD.TYPE_FIXED32: 32,
    _FD.TYPE_UINT64: 64,
    _FD.TYPE_FIXED64: 64,
}


def is_map(fd) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def is_list(fd) -> bool:
    return fd.is_repeated and not is_map(fd)


def parse_map_key(map_fd, subscript: str, el: dict) -> None:
    kfd = map_fd.message_type.fields_by_name["key"]
    kt = kfd.type
    if kt == _FD.TYPE_BOOL and subscript in _BOOLS:
        el["bool_key"] = _BOOLS[subscript]
        return
    if kt in _INT_BITS and _INT.fullmatch(subscript):
        v, bits = int(subscript), _INT_BITS[kt]
        if -(2 ** (bits - 1)) <= v < 2 ** (bits - 1):
            el["int_key"] = v
            return
    if kt in _UINT_BITS and _UINT.fullmatch(subscript):
        v = int(subscript)
        if v < 2 ** _UINT_BITS[kt]:
            el["uint_key"] = v
            return
    if kt == _FD.TYPE_STRING:
        try:
            el["string_key"] = _go_unquote(subscript)
            return
        except ValueError:
            pass
    raise Unsupported(f"invalid map key {subscript!r} for {map_fd.full_name}")


ELEMENT_KEYS = (
    "name",
    "number",
    "type",
    "key_type",
    "value_type",
    "index",
    "bool_key",
    "int_key",
    "uint_key",
    "string_key",
)


def unmarshal_path(pool, root, path: str) -> list[dict]:
    """Port of fieldpath.Unmarshal: a dotted path string -> FieldPathElements (as JSON-ready dicts)."""
    elements = []
    msg = root
    at_end = False
    while not at_end:
        name, subscript, path, at_end, is_ext = parse_path_element(path)
        if not name:
            raise Unsupported("empty field name in path")
        if is_ext:
            try:
                fd = pool.FindExtensionByName(name)
            except KeyError as exc:
                raise Unsupported(f"unknown extension {name}") from exc
            el = {
                "name": f"[{fd.full_name}]",
                "number": fd.number,
                "type": TYPE_NAME(fd.type),
            }
        else:
            fd = msg.fields_by_name.get(name)
            oneof = msg.oneofs_by_name.get(name)
            if fd is not None:
                el = {"name": fd.name, "number": fd.number, "type": TYPE_NAME(fd.type)}
            elif oneof is not None:
                elements.append({"name": oneof.name})
                continue
            else:
                raise Unsupported(f"field {name} not found in {msg.full_name}")
        elements.append(el)
        if subscript != "":
            if is_list(fd):
                if not _INT.fullmatch(subscript):
                    raise Unsupported(f"invalid list index {subscript}")
                el["index"] = int(subscript)
            elif is_map(fd):
                parse_map_key(fd, subscript, el)
                el["key_type"] = TYPE_NAME(fd.message_type.fields_by_name["key"].type)
                el["value_type"] = TYPE_NAME(
                    fd.message_type.fields_by_name["value"].type
                )
                fd = fd.message_type.fields_by_name["value"]
            else:
                raise Unsupported(f"unexpected subscript on field {name}")
        elif is_list(fd) or is_map(fd):
            if at_end:
                break
            raise Unsupported(f"missing subscript on field {name}")
        if fd.message_type is not None:
            msg = fd.message_type
    return [{k: el[k] for k in ELEMENT_KEYS if k in el} for el in elements]


def marshal_path(elements: list[dict]) -> str:
    """Port of fieldpath.Marshal (for the harness's sort order)."""
    parts = []
    for el in elements:
        s = el["name"]
        if "index" in el:
            s += f"[{el['index']}]"
        elif "bool_key" in el:
            s += "[true]" if el["bool_key"] else "[false]"
        elif "int_key" in el:
            s += f"[{el['int_key']}]"
        elif "uint_key" in el:
            s += f"[{el['uint_key']}]"
        elif "string_key" in el:
            s += "[" + go_quote(el["string_key"]) + "]"
        parts.append(s)
    return ".".join(parts)


# -- evaluation of the Go literals -----------------------------------------------------------------------------------


class Env:
    def __init__(self, pool, now_s: int):
        self.pool = pool
        self.now_s = now_s
        self.types = {}  # Go type name ("cases.Outer_Inner") -> message descriptor
        self.oneof_wrappers = (
            {}
        )  # Go wrapper type ("cases.Oneof_X") -> field descriptor
        self.enum_values = {}  # Go constant ("cases.TestEnum_TEST_ENUM_ONE") -> number
        self.enum_types = set()
        self.locals = (
            {}
        )  # local variables of the suite function being evaluated: name -> AST
        self.now_relative = []  # per case: [{"field": [...], "offset_seconds": n}]
        for goname, full in WKT_GO.items():
            with contextlib.suppress(KeyError):
                self.types[goname] = pool.FindMessageTypeByName(full)

    def cls(self, desc):
        return message_factory.GetMessageClass(desc)

    def register_file(self, fdesc):
        gopkg = fdesc.package.rsplit(".", 1)[-1]

        def rec(m, prefix):
            goname = (prefix + "_" if prefix else "") + go_camel(m.name)
            self.types[f"{gopkg}.{goname}"] = m
            for o in m.oneofs:
                for f in o.fields:
                    self.oneof_wrappers[f"{gopkg}.{goname}_{go_camel(f.name)}"] = f
            for e in m.enum_types:
                self.enum_types.add(f"{gopkg}.{goname}_{go_camel(e.name)}")
                for v in e.values:
                    self.enum_values[f"{gopkg}.{goname}_{v.name}"] = v.number
            for n in m.nested_types:
                if not n.GetOptions().map_entry:
                    rec(n, goname)

        for m in fdesc.message_types_by_name.values():
            rec(m, "")
        for e in fdesc.enum_types_by_name.values():
            self.enum_types.add(f"{gopkg}.{go_camel(e.name)}")
            for v in e.values:
                self.enum_values[f"{gopkg}.{go_camel(e.name)}_{v.name}"] = v.number

    # plain values ----------------------------------------------------------------------------------------------
    def value(self, node):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ident":
            n = node[1]
            if n in ("true", "false"):
                return n == "true"
            if n == "nil":
                return None
            if n in MATH:
                return MATH[n]
            if n.startswith("time.") and n[5:] in NS:
                return NS[n[5:]]
            if n in self.enum_values:
                return self.enum_values[n]
            if n in self.locals:
                return self.value(self.locals[n])
            raise Unsupported(f"identifier {n}")
        if kind == "unary":
            op, x = node[1], node[2]
            if op == "&":
                return self.value(x)
            v = concrete(self.value(x))
            if op == "-":
                return -v
            if op == "+":
                return v
            if op == "!":
                return not v
            raise Unsupported(f"unary {op}")
        if kind == "bin":
            op = node[1]
            a, b = self.value(node[2]), self.value(node[3])
            if isinstance(a, NowSeconds) and isinstance(b, int) and op in "+-":
                return NowSeconds(a.base, a.offset + (b if op == "+" else -b))
            if isinstance(b, NowSeconds) and isinstance(a, int) and op == "+":
                return NowSeconds(b.base, b.offset + a)
            a, b = concrete(a), concrete(b)
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                if isinstance(a, int) and isinstance(b, int):
                    q = abs(a) // abs(b)  # Go truncates toward zero
                    return q if (a >= 0) == (b >= 0) else -q
                return a / b
            if op == "<<":
                return a << b
            if op == "|":
                return a | b
            raise Unsupported(f"binary {op}")
        if kind == "call":
            return self.call(node)
        if kind == "comp":
            typ = node[1]
            if typ is not None and typ[0] == "type" and typ[1] == "[]byte":
                return bytes(concrete(self.value(v)) for _, v in node[2])
            raise Unsupported("composite literal outside a message")
        raise Unsupported(f"node {kind}")

    def call(self, node):
        fn, args = node[1], node[2]
        fname = fn[1] if fn[0] in ("ident", "type") else None
        if fname in (
            "proto.String",
            "proto.Int32",
            "proto.Int64",
            "proto.Uint32",
            "proto.Uint64",
            "proto.Bool",
            "proto.Float32",
            "proto.Float64",
        ):
            return self.value(args[0])
        if fname == "math.Inf":
            return math.inf if concrete(self.value(args[0])) >= 0 else -math.inf
        if fname == "math.NaN":
            return math.nan
        if fname in (
            "float32",
            "float64",
            "int32",
            "int64",
            "uint32",
            "uint64",
            "int",
            "uint",
            "int8",
            "int16",
            "uint8",
            "uint16",
            "time.Duration",
        ):
            return self.value(args[0])
        if fname == "string":
            return self.value(args[0])
        if fname == "[]byte":
            v = self.value(args[0])
            return gosrc.go_bytes(v) if isinstance(v, str) else v
        if fname in self.enum_types:
            return self.value(args[0])
        if (
            fname is not None
            and fname.endswith(".Enum")
            and fname[:-5] in self.enum_values
        ):
            return self.enum_values[fname[:-5]]  # cases.X_VALUE.Enum() -> *X
        if fname == "fmt.Sprintf":
            fmt = self.value(args[0])
            return go_sprintf(fmt, [concrete(self.value(a)) for a in args[1:]])
        if fname == "time.Now":
            return ("time", self.now_s * 10**9, True)
        if fname == "time.Unix":
            return (
                "time",
                concrete(self.value(args[0])) * 10**9 + concrete(self.value(args[1])),
                False,
            )
        if fn[0] == "sel":
            recv = self.value(fn[1])
            if isinstance(recv, tuple) and recv[0] == "time":
                if fn[2] == "Unix":
                    s = recv[1] // 10**9
                    return NowSeconds(s) if recv[2] else s
                if fn[2] == "Add":
                    return ("time", recv[1] + concrete(self.value(args[0])), False)
            raise Unsupported(f"method {fn[2]}")
        raise Unsupported(f"call {fname or fn}")

    # messages --------------------------------------------------------------------------------------------------
    def message_type(self, node):
        """descriptor of &pkg.X{...} / pkg.X{...}, and the composite node"""
        node = strip_amp(node)
        if node[0] != "comp" or node[1] is None or node[1][0] != "ident":
            raise Unsupported("message literal expected")
        name = node[1][1]
        if name not in self.types:
            raise Unsupported(f"type {name}")
        return self.types[name], node

    def standalone(self, node, path=None):
        """A message value that is not assigned to a field: a case's Message, or the argument of anypb.New."""
        node = strip_amp(node)
        if node[0] == "ident" and node[1] in self.locals:
            return self.standalone(self.locals[node[1]], path)
        if node[0] == "comp":
            desc, _comp = self.message_type(node)
        elif node[0] == "call" and node[1][0] == "ident":
            fname = node[1][1]
            if fname in ("timestamppb.Now", "timestamppb.New"):
                desc = self.pool.FindMessageTypeByName("google.protobuf.Timestamp")
            elif fname == "durationpb.New":
                desc = self.pool.FindMessageTypeByName("google.protobuf.Duration")
            elif fname == "anypb.New":
                desc = self.pool.FindMessageTypeByName("google.protobuf.Any")
            elif fname.startswith("wrapperspb.") and fname[11:] in WRAPPERS:
                desc = self.pool.FindMessageTypeByName(
                    "google.protobuf." + WRAPPERS[fname[11:]]
                )
            else:
                raise Unsupported(f"message value {fname}")
        else:
            raise Unsupported("message value")
        msg = self.cls(desc)()
        self.into(msg, node, path)
        return msg

    def into(self, target, node, path):
        """Evaluate a message-valued expression into `target` (path: field names from the root, or None where a
        now-relative value could not be re-addressed)."""
        node = strip_amp(node)
        full = target.DESCRIPTOR.full_name
        if node[0] == "ident" and node[1] in self.locals:
            return self.into(target, self.locals[node[1]], path)
        if node[0] == "comp":
            if node[1] is not None:
                if node[1][0] != "ident" or node[1][1] not in self.types:
                    raise Unsupported(f"composite type {node[1]}")
                if self.types[node[1][1]].full_name != full:
                    raise Unsupported(f"{node[1][1]} assigned to a {full}")
            target.SetInParent()
            self.fill(target, node, path)
            return None
        if node[0] == "call" and node[1][0] == "ident":
            fname, args = node[1][1], node[2]
            target.SetInParent()  # a non-nil message value is present even when all its fields are zero
            if (
                fname.startswith("wrapperspb.")
                and full.startswith("google.protobuf.")
                and full.endswith("Value")
            ):
                fdv = target.DESCRIPTOR.fields_by_name["value"]
                target.value = self.scalar_for(fdv, concrete(self.value(args[0])))
                return None
            if fname == "durationpb.New" and full == "google.protobuf.Duration":
                ns = concrete(self.value(args[0]))
                s = abs(ns) // 10**9
                n = abs(ns) % 10**9
                target.seconds, target.nanos = (s, n) if ns >= 0 else (-s, -n)
                return None
            if (
                fname in ("timestamppb.Now", "timestamppb.New")
                and full == "google.protobuf.Timestamp"
            ):
                if fname == "timestamppb.Now":
                    t = ("time", self.now_s * 10**9, True)
                else:
                    t = self.value(args[0])
                    if not (isinstance(t, tuple) and t[0] == "time"):
                        raise Unsupported("timestamppb.New argument")
                target.seconds, target.nanos = divmod(t[1], 10**9)
                if t[2]:
                    self.record_now(path, 0)
                return None
            if fname == "anypb.New" and full == "google.protobuf.Any":
                inner = self.standalone(
                    args[0], False
                )  # only type_url matters to the Any rules
                target.Pack(inner)  # type.googleapis.com/<full name>, as anypb.New
                return None
        raise Unsupported(f"value for {full}")

    def record_now(self, path, offset):
        """path: field names from the case message to the Timestamp; False inside an Any (frozen: the Any rules
        look at type_url only); None where the value could not be re-addressed (list/map elements).
        """
        if path is False:
            return
        if path is None:
            raise Unsupported("time.Now()-relative timestamp in a list or map element")
        self.now_relative.append({"field": list(path), "offset_seconds": offset})

    def fill(self, msg, comp, path):
        desc = msg.DESCRIPTOR
        by_go = {go_camel(f.name): f for f in desc.fields}
        oneofs = {go_camel(o.name): o for o in desc.oneofs}
        for key, val in comp[2]:
            if key is None or key[0] != "ident":
                raise Unsupported("positional field")
            gname = key[1]
            if gname in by_go:
                self.assign(msg, by_go[gname], val, path)
            elif gname in oneofs:
                inner = strip_amp(val)
                if inner[0] == "ident" and inner[1] == "nil":
                    continue
                if (
                    inner[0] != "comp"
                    or inner[1] is None
                    or inner[1][1] not in self.oneof_wrappers
                ):
                    raise Unsupported("oneof value")
                fd = self.oneof_wrappers[inner[1][1]]
                if not inner[2]:  # &X_Member{}: the member is set to Go's zero value
                    if fd.message_type is not None:
                        getattr(msg, fd.name).SetInParent()
                    else:
                        zero = {
                            fd.TYPE_STRING: "",
                            fd.TYPE_BYTES: b"",
                            fd.TYPE_BOOL: False,
                            fd.TYPE_FLOAT: 0.0,
                            fd.TYPE_DOUBLE: 0.0,
                        }.get(fd.type, 0)
                        setattr(msg, fd.name, zero)
                for _, v2 in inner[2]:
                    self.assign(msg, fd, v2, path)
            else:
                raise Unsupported(f"field {gname} of {desc.full_name}")

    def scalar_for(self, fd, v):
        if isinstance(v, NowSeconds):
            raise Unsupported("time.Now() outside a Timestamp")
        if fd.type == fd.TYPE_BYTES and isinstance(v, str):
            return gosrc.go_bytes(v)
        if fd.type == fd.TYPE_STRING and isinstance(v, str):
            b = gosrc.go_bytes(v)
            try:
                return b.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Unsupported("invalid UTF-8 in a string field") from exc
        if (
            fd.type in (fd.TYPE_FLOAT, fd.TYPE_DOUBLE)
            and isinstance(v, int)
            and not isinstance(v, bool)
        ):
            return float(v)
        return v

    def assign(self, msg, fd, val, path):
        if val[0] == "ident" and val[1] == "nil":
            return
        sub_path = path if path is None or path is False else [*path, fd.name]
        mt = fd.message_type
        if is_map(fd):
            inner = strip_amp(val)
            if inner[0] != "comp":
                raise Unsupported("map value")
            kfd, vfd = mt.fields_by_name["key"], mt.fields_by_name["value"]
            target = getattr(msg, fd.name)
            for k, v in inner[2]:
                key = self.scalar_for(kfd, concrete(self.value(k)))
                if vfd.message_type is not None:
                    self.into(target[key], v, None if path is not False else False)
                else:
                    target[key] = self.scalar_for(vfd, concrete(self.value(v)))
            return
        if fd.is_repeated:
            inner = strip_amp(val)
            if inner[0] != "comp":
                raise Unsupported("repeated value")
            target = getattr(msg, fd.name)
            for _, v in inner[2]:
                if mt is not None:
                    self.into(target.add(), v, None if path is not False else False)
                else:
                    target.append(self.scalar_for(fd, concrete(self.value(v))))
            return
        if mt is not None:
            self.into(getattr(msg, fd.name), val, sub_path)
            return
        v = self.value(val)
        if isinstance(v, NowSeconds):
            if (
                msg.DESCRIPTOR.full_name == "google.protobuf.Timestamp"
                and fd.name == "seconds"
            ):
                self.record_now(path, v.offset)
            v = v.concrete()
        setattr(msg, fd.name, self.scalar_for(fd, v))

    # expectations ----------------------------------------------------------------------------------------------
    def expected(self, node, case_desc):
        if node[0] != "call" or node[1][0] != "ident":
            raise Unsupported("expectation")
        fn, args = node[1][1], node[2]
        if fn == "results.Success":
            if self.value(args[0]) is not True:
                raise Unsupported("results.Success(false)")
            return {"result": "success"}
        if fn == "results.CompilationError":
            return {"result": "compilation_error"}
        if fn == "results.RuntimeError":
            return {"result": "runtime_error"}
        if fn == "results.Violations":
            vs = [self.violation(v, case_desc) for v in args]
            vs.sort(
                key=lambda v: (v["rule_id"], marshal_path(v["field"]))
            )  # results.SortViolations
            return {"result": "violations", "violations": vs}
        raise Unsupported(f"expectation {fn}")

    def path_arg(self, node):
        if not (
            node[0] == "call"
            and node[1][0] == "ident"
            and node[1][1] == "results.FieldPath"
        ):
            raise Unsupported("path that is not results.FieldPath(...)")
        return self.value(node[2][0])

    def violation(self, node, case_desc):
        inner = strip_amp(node)
        if (
            inner[0] != "comp"
            or inner[1] is None
            or inner[1][1] != "validate.Violation"
        ):
            raise Unsupported("violation literal")
        fields = {k[1]: x for k, x in inner[2]}
        extra = set(fields) - {"Field", "Rule", "RuleId", "Message", "ForKey"}
        if extra:
            raise Unsupported(f"violation fields {sorted(extra)}")
        rules_desc = self.pool.FindMessageTypeByName("buf.validate.FieldRules")
        out = {"field": [], "rule": []}
        if "Field" in fields:
            out["field"] = unmarshal_path(
                self.pool, case_desc, self.path_arg(fields["Field"])
            )
        if "Rule" in fields:
            out["rule"] = unmarshal_path(
                self.pool, rules_desc, self.path_arg(fields["Rule"])
            )
        out["rule_id"] = self.value(fields["RuleId"]) if "RuleId" in fields else ""
        if "Message" in fields:
            out["message"] = self.value(fields["Message"])
        out["for_key"] = (
            bool(self.value(fields["ForKey"])) if "ForKey" in fields else False
        )
        return out


# -- suite files ------------------------------------------------------------------------------------------------------


def suite_locals(text: str) -> dict[str, object]:
    """`name := expr` / `name, _ := expr` statements of the suite function (before its `return`)."""
    toks = gosrc.tokenize(text)
    out = {}
    i = 0
    while i < len(toks):
        if toks[i] == ("ident", "return"):
            break
        if toks[i][0] == "ident" and i + 1 < len(toks):
            j = i + 1
            if toks[j] == ("op", ",") and toks[j + 1] == ("ident", "_"):
                j += 2
            if toks[j] == ("op", ":="):
                p = gosrc.Parser(toks)
                p.i = j + 1
                out[toks[i][1]] = p.parse_expr()
                i = p.i
                continue
        i += 1
    return out


def harness_suite_names(cases_go: str) -> dict[str, str]:
    """GlobalSuites() in cases.go: suite function name -> the harness's suite name."""
    return {
        fn: name
        for name, fn in re.findall(r'"([^"]+)":\s*([A-Za-z0-9_]+)\(\)', cases_go)
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--upstream",
        required=True,
        type=Path,
        help="checkout of github.com/bufbuild/protovalidate",
    )
    ap.add_argument("--descriptors", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument(
        "--skipped",
        type=Path,
        help="write the cases that could not be exported here (JSON)",
    )
    ap.add_argument(
        "--now",
        type=int,
        default=None,
        help="Unix seconds used for time.Now() (default: now)",
    )
    args = ap.parse_args()

    fds = descriptor_pb2.FileDescriptorSet.FromString(args.descriptors.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    env = Env(pool, args.now if args.now is not None else int(time.time()))
    for f in fds.file:
        if f.package == CASES_PKG or f.package.startswith(CASES_PKG + "."):
            env.register_file(pool.FindFileByName(f.name))

    go_dir = args.upstream / CASES_GO_DIR
    harness_names = harness_suite_names((go_dir / "cases.go").read_text())
    records, skipped = [], []
    for path in sorted(go_dir.glob("cases_*.go")):
        text = path.read_text()
        suite = path.stem[len("cases_") :]
        parsed = gosrc.parse_suites(text)
        if len(parsed) != 1:
            raise SystemExit(
                f"{path.name}: expected one suite function, found {list(parsed)}"
            )
        ((fn_name, cases),) = parsed.items()
        env.locals = suite_locals(text[text.index(f"func {fn_name}(") :])
        for name, fields in cases:
            if name == "__parse_error__":
                raise SystemExit(f"{path.name}: {fields['error']}")
            env.now_relative = []
            try:
                if "Message" not in fields or "Expected" not in fields:
                    raise Unsupported("case without Message or Expected")
                extra = set(fields) - {"Message", "Expected"}
                if extra:
                    raise Unsupported(f"case fields {sorted(extra)}")
                msg = env.standalone(fields["Message"], [])
                desc = msg.DESCRIPTOR
                expected = env.expected(fields["Expected"], desc)
                data = msg.SerializePartialToString(deterministic=True)
                # the bytes must decode back to the same message
                if (
                    env.cls(desc)
                    .FromString(data)
                    .SerializePartialToString(deterministic=True)
                    != data
                ):
                    raise Unsupported("message does not survive a round trip")
            except (Unsupported, ValueError, TypeError, KeyError) as exc:
                skipped.append(
                    {
                        "suite": suite,
                        "name": name,
                        "reason": f"{type(exc).__name__}: {exc}",
                    }
                )
                continue
            rec = {
                "suite": suite,
                "harness_suite": harness_names.get(fn_name, ""),
                "name": name,
                "type": desc.full_name,
                "input": base64.b64encode(data).decode("ascii"),
                "expected": expected,
            }
            if env.now_relative:
                rec["now_relative"] = env.now_relative
            records.append(rec)
    records.sort(key=lambda r: (r["suite"], r["name"]))
    with args.out.open("w", encoding="utf-8", newline="\n") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    if args.skipped:
        args.skipped.write_text(
            json.dumps(skipped, indent=1, ensure_ascii=False) + "\n"
        )
    print(f"exported {len(records)} cases, skipped {len(skipped)}", file=sys.stderr)
    for s in skipped:
        print(f"  skipped {s['suite']}/{s['name']}: {s['reason']}", file=sys.stderr)


if __name__ == "__main__":
    main()
