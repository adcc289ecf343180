"""A small, provably safe subset of RE2 patterns, translated exactly into Python ``re``.

``checks.regex`` matches patterns of this subset with Python's ``re`` (~0.25 us a call on short text against
~0.7 us for the RE2 binding) and everything else with RE2. The subset is a sequence, without alternation, groups,
flags, lookaround or backreferences, of single-character atoms, each with an optional greedy quantifier, between an
optional ``^`` and an optional ``$``::

    pattern    = ["^"] { atom [quantifier] } ["$"]
    atom       = literal | "\\" punctuation | "." | "\\d" | "\\w" | class
    literal    = printable ASCII other than  \\ . + * ? ( ) | [ ] { } ^ $
    class      = "[" ["^"] item { item } "]"       (items: printable ASCII characters, escaped punctuation,
                                                  ranges of those, "\\d", "\\w"; "-" only first or last)
    quantifier = "?" | "*" | "+" | "{n}" | "{n,}" | "{n,m}"

Exactness. Every atom is parsed into a set of code points (or the complement of one: ``.`` is "not \\n", as in
RE2 without ``s``), built from ASCII only (RE2's ``\\d \\w`` are ASCII), and written back as a character class of
``\\xHH`` escapes, so no Python parsing rule (set operations, ``\\d`` under Unicode, ``{,n}``) can come into play.
RE2's ``^`` and ``$`` without ``m`` are the start and the very end of the text: a pattern with ``^`` runs
with ``match`` (one start position), ``$`` becomes ``\\Z`` (``fullmatch`` with both). Whether a match exists
does not depend on the engine's match preference, and Python's backtracking is complete for these constructs.
On text, both engines see code points (lone surrogates included: RE2 gets them as three-byte sequences from
``surrogatepass`` and reads each as one character, as ``re`` does).

Time. ``re`` may only be as slow as RE2 by a small factor on any text, since a client picks the text.
A backtracking match of atoms ``a_1..a_k`` (each compiled by ``sre`` to one ``REPEAT_ONE`` or one character
test) from one start position visits, at depth ``i``, at most ``prod(r_j, j < i)`` nodes, where
``r_j = max_j - min_j + 1`` counts the repeat counts that are tried; a node scans at most ``max_i + 1``
characters. For bounded atoms only, that is a constant ``C`` (``cost``), whatever the text's length.

Unbounded quantifiers (``*``, ``+``, ``{n,}``) are taken only when all of this holds:

- the pattern starts with ``^`` (one start position);
- no bounded atom with a choice of counts comes before them (``prod(r_j, j < i) == 1``), so the match is a
  single path up to the last unbounded atom and each character is scanned by one atom, once;
- no character the atom accepts can start the rest of the pattern (the atoms up to and including the
  first one that needs a character, and the end): giving a character back then fails the rest within
  ``m_i + 1`` steps, ``m_i`` being the number of those atoms.

Then each character is scanned once and given back at most once, and a match or a failure on ``n``
characters costs at most ``C + L * (n + 1)`` steps with ``L = 2 + max_i (m_i + 1)`` (``linear_cost``).
``translate`` takes a pattern only when ``C <= LIMIT`` and ``L <= LINEAR_LIMIT``: measured against RE2 on
megabytes of adversarial text, the taken patterns stay within a few times RE2's time (``docs/runtime.md``).
The first version bounded ``F * (n + 1)`` with ``F`` up to 1000, which let ``^[a-z]{0,150}[a-z]+$`` run 430
times slower than RE2 on 3 MB; that pattern now stays on RE2.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal

LIMIT = 1000
"""The largest ``cost`` taken: the steps a match costs apart from those that grow with the text."""

LINEAR_LIMIT = 5
"""The largest ``linear_cost`` taken: backtracking steps per character of text (RE2 spends about one)."""

_META = set("\\.+*?()|[]{}^$")
_PRINTABLE = {chr(c) for c in range(0x20, 0x7F)}
_LITERAL = _PRINTABLE - _META
_PUNCTUATION = set(string.punctuation) - {"_"}
_DIGIT = frozenset(range(0x30, 0x3A))
_WORD = _DIGIT | frozenset(range(0x41, 0x5B)) | frozenset(range(0x61, 0x7B)) | {0x5F}
_NEWLINE = frozenset({0x0A})


@dataclass(frozen=True)
class Atom:
    """One character out of ``chars`` (``negated``: any character but those), ``low`` to ``high`` times
    (``high`` None: no upper bound)."""

    chars: frozenset[int]
    negated: bool
    low: int = 1
    high: int | None = 1

    def disjoint(self, other: Atom) -> bool:
        """No character is accepted by both."""
        if self.negated and other.negated:
            return False
        if self.negated:
            return other.chars <= self.chars
        if other.negated:
            return self.chars <= other.chars
        return not self.chars & other.chars


@dataclass(frozen=True)
class Parsed:
    start: bool
    """``^``: the match starts at the start of the text."""
    atoms: tuple[Atom, ...]
    end: bool
    """``$``: the match ends at the end of the text."""


@dataclass(frozen=True)
class Translation:
    """The pattern as Python ``re`` source, and the method to run it with."""

    source: str
    method: Literal["search", "match", "fullmatch"]
    cost: int


class _Refused(Exception):
    """The pattern is outside the subset."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise _Refused("unexpected end")
        self.pos += 1
        return char

    def parse(self) -> Parsed:
        start = self.peek() == "^"
        if start:
            self.pos += 1
        atoms = []
        end = False
        while self.pos < len(self.text):
            if self.peek() == "$":
                if self.pos != len(self.text) - 1:
                    raise _Refused("$ before the end")
                end = True
                break
            chars, negated = self.atom()
            low, high = self.quantifier()
            atoms.append(Atom(chars, negated, low, high))
        return Parsed(start, tuple(atoms), end)

    def atom(self) -> tuple[frozenset[int], bool]:
        char = self.take()
        if char == ".":
            return _NEWLINE, True
        if char == "[":
            return self.char_class()
        if char == "\\":
            escaped = self.take()
            if escaped == "d":
                return _DIGIT, False
            if escaped == "w":
                return _WORD, False
            if escaped in _PUNCTUATION:
                return frozenset({ord(escaped)}), False
            raise _Refused(f"escape \\{escaped}")
        if char in _LITERAL:
            return frozenset({ord(char)}), False
        raise _Refused(f"character {char!r}")

    def class_char(self) -> int:
        """One character of a class (a literal or escaped punctuation)."""
        char = self.take()
        if char == "\\":
            escaped = self.take()
            if escaped in _PUNCTUATION:
                return ord(escaped)
            raise _Refused(f"escape \\{escaped} in a class")
        if char in _PRINTABLE and char not in "[]":
            return ord(char)
        raise _Refused(f"character {char!r} in a class")

    def char_class(self) -> tuple[frozenset[int], bool]:
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        chars: set[int] = set()
        first = True
        while self.peek() != "]":
            if not self.peek():
                raise _Refused("unterminated class")
            if self.text.startswith(("\\d", "\\w"), self.pos):
                chars |= _DIGIT if self.text[self.pos + 1] == "d" else _WORD
                self.pos += 2
            elif self.peek() == "-":
                if not first and self.text[self.pos + 1 : self.pos + 2] != "]":
                    raise _Refused("- inside a class")
                chars.add(ord("-"))
                self.pos += 1
            else:
                low = self.class_char()
                if self.peek() == "-" and self.text[self.pos + 1 : self.pos + 2] != "]":
                    self.pos += 1
                    if self.peek() == "-":
                        raise _Refused("range to -")
                    high = self.class_char()
                    if high < low:
                        raise _Refused("reversed range")
                    chars |= set(range(low, high + 1))
                else:
                    chars.add(low)
            first = False
        if first:
            raise _Refused("empty class")
        self.pos += 1
        return frozenset(chars), negated

    def number(self) -> int:
        digits = ""
        while self.peek().isascii() and self.peek().isdigit():
            digits += self.take()
        if not digits or len(digits) > 4 or (len(digits) > 1 and digits[0] == "0"):
            raise _Refused(
                "repeat count"
            )  # RE2 reads {01} as literal text, Python as a repeat
        return int(digits)

    def quantifier(self) -> tuple[int, int | None]:
        char = self.peek()
        if char == "?":
            self.pos += 1
            return 0, 1
        if char == "*":
            self.pos += 1
            return 0, None
        if char == "+":
            self.pos += 1
            return 1, None
        if char != "{":
            return 1, 1
        self.pos += 1
        low = self.number()
        high: int | None = low
        if self.peek() == ",":
            self.pos += 1
            high = None if self.peek() == "}" else self.number()
        if self.take() != "}":
            raise _Refused("repeat")
        if high is not None and high < low:
            raise _Refused("repeat range")
        return low, high


def parse(pattern: str) -> Parsed | None:
    """``pattern`` as atoms, or None if it is outside the subset (syntax only; see ``translate``)."""
    try:
        return _Parser(pattern).parse()
    except _Refused:
        return None


def cost(parsed: Parsed) -> int | None:
    """``F``: a match or search takes at most ``F * (n + 1)`` steps on ``n`` characters (module docstring);
    None if an unbounded quantifier could backtrack without bound."""
    atoms = parsed.atoms
    count = len(atoms)
    total = 0
    paths = 1  # prod(r_j, j < i): the nodes that reach atom i
    for i, atom in enumerate(atoms):
        if atom.high is None:
            if not parsed.start:
                return None
            for following in atoms[i + 1 :]:
                if not atom.disjoint(following):
                    return None
                if following.low > 0:
                    break
            total += paths * (count + 2)
        else:
            total += paths * (atom.high + 1)
            paths *= atom.high - atom.low + 1
        if (
            total > LIMIT * 1000 or paths > LIMIT * 1000
        ):  # far past the limit: stop multiplying
            return total + paths
    return total + paths


def linear_cost(parsed: Parsed) -> int | None:
    """``L``: steps per character of text (module docstring); 0 without unbounded atoms, None when an
    unbounded atom could be entered at more than one position or backtrack without bound.
    """
    atoms = parsed.atoms
    worst = 0
    paths = 1
    for i, atom in enumerate(atoms):
        if atom.high is None:
            if not parsed.start or paths != 1:
                return None
            steps = 1  # the end check, unless a required atom comes first
            for following in atoms[i + 1 :]:
                if not atom.disjoint(following):
                    return None
                if following.low > 0:
                    break
                steps += 1
            worst = max(worst, steps + 1)
        else:
            paths *= atom.high - atom.low + 1
    return 2 + worst if worst else 0


def _hex(code: int) -> str:
    return f"\\x{code:02x}"


def _class(chars: frozenset[int], negated: bool) -> str:
    if not negated and len(chars) == 1:
        return _hex(next(iter(chars)))
    ranges = []
    codes = sorted(chars)
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        ranges.append(
            _hex(codes[i]) if i == j else f"{_hex(codes[i])}-{_hex(codes[j])}"
        )
        i = j + 1
    return "[" + ("^" if negated else "") + "".join(ranges) + "]"


def _quantifier(low: int, high: int | None) -> str:
    if (low, high) == (1, 1):
        return ""
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def translate(pattern: str) -> Translation | None:
    """The Python ``re`` equivalent of the RE2 ``pattern`` (unanchored search, no flags), or None if the pattern
    is outside the subset or its backtracking bound is above ``LIMIT``. ``pattern`` must compile in RE2.
    """
    parsed = parse(pattern)
    if parsed is None:
        return None
    bound = cost(parsed)
    if bound is None or bound > LIMIT:
        return None
    linear = linear_cost(parsed)
    if linear is None or linear > LINEAR_LIMIT:
        return None
    source = "".join(
        _class(atom.chars, atom.negated) + _quantifier(atom.low, atom.high)
        for atom in parsed.atoms
    )
    if parsed.start and parsed.end:
        return Translation(source, "fullmatch", bound)
    if parsed.end:
        source += r"\Z"
    return Translation(source, "match" if parsed.start else "search", bound)
