"""A small Go tokenizer and expression parser: enough for the composite literals of protovalidate's
conformance suites (tools/protovalidate-conformance/internal/cases/cases_*.go).

parse_suites(text) -> {suite function name: [(case name, {"Message": AST, "Expected": AST, ...}), ...]}

AST nodes are tuples:
  ("lit", value)                 string (str), bytes-ish raw Go string (str), int, float, rune, bool via ident
  ("ident", "a.b.c")             identifiers and selectors
  ("call", fn_ast, [args])       f(x), conversions like []byte("x") or float32(1)
  ("comp", type_ast|None, [(key_ast|None, value_ast)])   composite literal; type None when elided
  ("type", text)                 a type expression ([]string, map[string]int32, []*cases.X, ...)
  ("unary", op, x) / ("bin", op, a, b)
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<rune>'(?:\\.[^']*|[^'\\])')
  | (?P<num>0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><<|>>|&&|\|\||:=|\.\.\.|[-+*/%&|^!<>=(){}\[\],;:.])
    """,
    re.S | re.X,
)

_SIMPLE_ESC = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def unquote(body: str) -> str:
    """Decode a Go interpreted string body. \\x and octal escapes are bytes: they are collected as
    UTF-8 bytes and decoded at the end with surrogateescape, so invalid UTF-8 survives as lone surrogates
    (go_bytes() recovers the exact bytes)."""
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = body[i + 1]
        if e in _SIMPLE_ESC:
            out += _SIMPLE_ESC[e].encode()
            i += 2
        elif e == "x":
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif e in "01234567":
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        elif e == "u":
            out += chr(int(body[i + 2 : i + 6], 16)).encode("utf-8", "surrogatepass")
            i += 6
        elif e == "U":
            out += chr(int(body[i + 2 : i + 10], 16)).encode()
            i += 10
        else:
            raise ValueError(f"bad escape \\{e}")
    return out.decode("utf-8", "surrogateescape")


def go_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def tokenize(text: str) -> list[tuple[str, object]]:
    toks = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SyntaxError(f"bad char at {pos}: {text[pos:pos+20]!r}")
        pos = m.end()
        kind = m.lastgroup
        s = m.group()
        if kind == "ws":
            if "\n" in s:
                toks.append(("nl", None))
            continue
        if kind == "raw":
            toks.append(("str", s[1:-1].replace("\r", "")))
        elif kind == "str":
            toks.append(("str", unquote(s[1:-1])))
        elif kind == "rune":
            body = unquote(s[1:-1])
            toks.append(("num", ord(body)))
        elif kind == "num":
            t = s.replace("_", "")
            if t[:2].lower() == "0x":
                v = int(t, 16)
            elif t[:2].lower() == "0b":
                v = int(t, 2)
            elif t[:2].lower() == "0o":
                v = int(t, 8)
            elif re.fullmatch(r"\d+", t):
                v = int(t, 8) if len(t) > 1 and t[0] == "0" else int(t)
            else:
                v = float(t)
            toks.append(("num", v))
        elif kind == "ident":
            toks.append(("ident", s))
        else:
            toks.append(("op", s))
    # Go's automatic semicolons are not needed for expressions; newlines are dropped
    return [t for t in toks if t[0] != "nl"]


class Parser:
    def __init__(self, toks):
        self.t = toks
        self.i = 0

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else ("eof", None)

    def next(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind, val=None):
        tok = self.next()
        if tok[0] != kind or (val is not None and tok[1] != val):
            raise SyntaxError(f"expected {kind} {val!r}, got {tok} at {self.i}")
        return tok

    def at(self, kind, val=None):
        tok = self.peek()
        return tok[0] == kind and (val is None or tok[1] == val)

    # types -------------------------------------------------------------
    def parse_type(self) -> str:
        if self.at("op", "["):
            self.next()
            self.expect("op", "]")
            return "[]" + self.parse_type()
        if self.at("op", "*"):
            self.next()
            return "*" + self.parse_type()
        if self.at("ident", "map"):
            self.next()
            self.expect("op", "[")
            k = self.parse_type()
            self.expect("op", "]")
            return f"map[{k}]" + self.parse_type()
        name = self.expect("ident")[1]
        while self.at("op", ".") and self.peek(1)[0] == "ident":
            self.next()
            name += "." + self.next()[1]
        return name

    # expressions -------------------------------------------------------
    PREC = {
        "||": 1,
        "&&": 2,
        "==": 3,
        "!=": 3,
        "<": 3,
        "<=": 3,
        ">": 3,
        ">=": 3,
        "+": 4,
        "-": 4,
        "|": 4,
        "^": 4,
        "*": 5,
        "/": 5,
        "%": 5,
        "<<": 5,
        ">>": 5,
        "&": 5,
    }

    def parse_expr(self, min_prec=1):
        left = self.parse_unary()
        while True:
            tok = self.peek()
            if tok[0] == "op" and tok[1] in self.PREC and self.PREC[tok[1]] >= min_prec:
                # `&` binary only between values; composite keys never use it
                op = self.next()[1]
                right = self.parse_expr(self.PREC[op] + 1)
                left = ("bin", op, left, right)
            else:
                return left

    def parse_unary(self):
        if (
            self.at("op", "&")
            or self.at("op", "-")
            or self.at("op", "+")
            or self.at("op", "!")
            or self.at("op", "^")
        ):
            op = self.next()[1]
            return ("unary", op, self.parse_unary())
        return self.parse_primary()

    def parse_primary(self):
        tok = self.peek()
        if (tok[0] == "op" and tok[1] == "[") or (
            tok[0] == "ident" and tok[1] == "map"
        ):
            typ = self.parse_type()
            node = ("type", typ)
        elif tok[0] == "op" and tok[1] == "{":
            node = self.parse_composite(None)
            return node
        elif tok[0] == "op" and tok[1] == "(":
            self.next()
            node = self.parse_expr()
            self.expect("op", ")")
        elif tok[0] == "str" or tok[0] == "num":
            self.next()
            node = ("lit", tok[1])
        elif tok[0] == "ident":
            self.next()
            node = ("ident", tok[1])
        else:
            raise SyntaxError(f"unexpected {tok} at {self.i}")
        while True:
            if self.at("op", "."):
                self.next()
                name = self.expect("ident")[1]
                if node[0] == "ident":
                    node = ("ident", node[1] + "." + name)
                else:
                    node = ("sel", node, name)
            elif self.at("op", "("):
                self.next()
                args = []
                while not self.at("op", ")"):
                    args.append(self.parse_expr())
                    if self.at("op", ","):
                        self.next()
                self.expect("op", ")")
                node = ("call", node, args)
            elif self.at("op", "{") and node[0] in ("ident", "type"):
                node = self.parse_composite(node)
            else:
                return node

    def parse_composite(self, typ):
        self.expect("op", "{")
        elems = []
        while not self.at("op", "}"):
            a = self.parse_element()
            if self.at("op", ":"):
                self.next()
                b = self.parse_element()
                elems.append((a, b))
            else:
                elems.append((None, a))
            if self.at("op", ","):
                self.next()
        self.expect("op", "}")
        return ("comp", typ, elems)

    def parse_element(self):
        if self.at("op", "{"):
            return self.parse_composite(None)
        return self.parse_expr()


def parse_suites(text: str) -> dict[str, list[tuple[str, dict]]]:
    toks = tokenize(text)
    out: dict[str, list] = {}
    i = 0
    while i < len(toks):
        # func NAME() suites.Suite { return suites.Suite{ ... } }
        if (
            toks[i] == ("ident", "func")
            and toks[i + 1][0] == "ident"
            and toks[i + 2] == ("op", "(")
        ):
            name = toks[i + 1][1]
            j = i + 3
            while j < len(toks) and toks[j] != ("ident", "return"):
                j += 1
            if (
                j + 2 < len(toks)
                and toks[j + 1] == ("ident", "suites")
                and toks[j + 3] == ("ident", "Suite")
            ):
                p = Parser(toks)
                p.i = j + 1
                try:
                    node = p.parse_expr()
                except SyntaxError as e:
                    out[name] = [("__parse_error__", {"error": str(e)})]
                    i = j + 1
                    continue
                cases = []
                for key, val in node[2]:
                    if key is None or key[0] != "lit":
                        continue
                    fields = {}
                    for k2, v2 in val[2]:
                        if k2 is not None and k2[0] == "ident":
                            fields[k2[1]] = v2
                    cases.append((key[1], fields))
                out[name] = cases
                i = p.i
                continue
        i += 1
    return out


def string_literals(text: str) -> list[str]:
    return [v for k, v in tokenize(text) if k == "str"]
