"""``checks.regex``: patterns of the safe subset (``grpc_errgen.patterns``) run on Python ``re`` and must answer
exactly as RE2's unanchored search; the subset refuses what could backtrack without bound; the bound holds.
"""

from __future__ import annotations

import string

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grpc_errgen.checks import Pattern, regex
from grpc_errgen.codegen.frontend.re2_syntax import regex_problem
from grpc_errgen.errors import ValidationRuntimeError
from grpc_errgen.patterns import (
    LIMIT,
    LINEAR_LIMIT,
    Parsed,
    Translation,
    cost,
    linear_cost,
    parse,
    translate,
)

_OPTIONS = re2.Options()
_OPTIONS.never_capture = True


def re2_found(pattern: str, data: bytes) -> bool:
    """The oracle: RE2's unanchored search over UTF-8 ``data``, as ``checks.regex`` ran every pattern before."""
    return re2.compile(pattern.encode(), options=_OPTIONS).search(data) is not None


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def expected_engine(pattern: str) -> str:
    """Subset patterns anchored with ``^`` run on ``re``; the rest (unanchored ones too) on RE2."""
    translation = translate(pattern)
    return "re" if translation is not None and translation.method != "search" else "re2"


# In the subset (engine "re") ...
IN_SUBSET = [
    "",
    "^",
    "$",
    "^$",
    "^[A-Z]{3}-[0-9]{4}$",
    "[A-Z]{3}-[0-9]{4}",
    "^[A-Z]{3}-[0-9]{4}",
    "[A-Z]{3}-[0-9]{4}$",
    "abc",
    "a.c",
    "^.$",
    "^.{2}$",
    "^.{0,255}$",
    "^..?.?$",
    r"^\d+$",
    r"^\w+$",
    r"\d{3}",
    r"^\w*\.\w*$",
    r"^[a-z][a-z0-9-]{0,62}$",
    r"^[a-z]+-[0-9]+$",
    r"^[^@]+@[^@]+$",
    r"^[a-z]+$",
    "^a*$",
    "^a+",
    "^a*b*$",
    "^[^a]*a$",
    r"^[\d]+x$",
    r"^[\w.-]{1,20}$",
    r"^[^\d\w]$",
    "[a-]",
    "[-a]",
    "[^-a]",
    "[a^]",
    r"[\-\]\[\\]",
    r"[\--z]",
    r"\.\*\+\?\(\)\|\[\]\{\}\^\$\\",
    r"\!\"\#\%\&\'\,\/\:\;\<\=\>\@\`\~",
    "a{0}",
    "^a{2,}b$",
    "x?y?z?",
    "[ab]{0,14}[ab]{0,14}c",
    " ",
    "^ $",
]

# ... and outside it (engine "re2"), each for a reason the subset guards against.
OUTSIDE = [
    "a|b",  # alternation
    "(a)",  # group
    "(?:ab)+",
    "(?i)abc",  # flags
    "(?s).",
    "(?m)^a$",
    r"\s",  # RE2's \s is not Python's
    r"^\s*$",
    r"[\s]",
    r"\S",
    r"\D",
    r"\W",
    r"\b",
    r"\Ba",
    r"\pL",
    r"\p{Greek}",
    r"\PL",
    "[[:alpha:]]",
    r"\A",
    r"\z",
    r"\x41",
    r"\n",
    r"\t",
    r"\Qa.b\E",
    r"\C",
    "é",
    "[é]",
    "a*",  # unbounded without ^
    "a+b",
    ".*",
    "^a*a$",  # unbounded over a set the rest can start with
    "^a+a",
    "^.*x$",
    "^[a-z]+[0-9]?[a-z]$",
    r"^\w+\d$",
    "^[^b]*a$",
    "^a*a*$",
    "^(a+)+$",
    "a{2}{3}",
    "a*?",
    "a+?",
    "a??",
    "a{1,3}?",
    "^.{0,1000}$",  # bound above LIMIT
    "^.{0,600}$",
    "[ab]{0,20}[ab]{0,20}[ab]{0,20}",
    "a{,3}",  # a literal in RE2, a repeat in Python 3.13
    "a{1, 3}",
    "a{01}",  # a literal in RE2 (leading zero), a repeat in Python
    "a{1,02}",
    "a{00}",
    "a{",
    "{",
    "[a-b-c]",
    "[]a]",
    "[^]a]",
    "a$b",
    "a^b",
    "^^a",
    "a$$",
    "[\t]",
    "\n",
    "}",  # literals in both engines, refused all the same
    "]",
]


@pytest.mark.parametrize("pattern", IN_SUBSET)
def test_subset_is_taken(pattern: str) -> None:
    assert regex_problem(pattern) is None
    assert translate(pattern) is not None
    assert regex(pattern).engine == expected_engine(pattern)


@pytest.mark.parametrize("pattern", OUTSIDE)
def test_subset_refuses(pattern: str) -> None:
    assert translate(pattern) is None
    if regex_problem(pattern) is None:
        assert regex(pattern).engine == "re2"


TEXTS = [
    "",
    "a",
    "ab",
    "abc",
    "aaa",
    "aab",
    "ABC-1234",
    "ABC-1234\n",
    "\nABC-1234",
    "xABC-1234",
    "ABC-12345",
    "abc-1234",
    "ABC1234",
    "a\nc",
    "a\rc",
    "a.c",
    "\n",
    " ",
    "\t",
    "\v",
    "\x00",
    "é",
    "aé",
    "éé",
    "\U0001f600",
    "a\U0001f600c",
    "\ud800",
    "a\udc00c",
    "\ud800\udc00",
    "日本語",
    "x@y",
    "@",
    "a@b@c",
    "hello_world.go",
    "my-name-1",
    "-",
    "]",
    "[",
    "\\",
    "^",
    "$",
    "}",
    "A" * 70,
    "a" * 63,
    "a" * 64,
    "ab" * 40 + "c",
    string.punctuation,
    string.printable,
]


@pytest.mark.parametrize("pattern", IN_SUBSET + OUTSIDE)
def test_hand_written_patterns_match_re2(pattern: str) -> None:
    if regex_problem(pattern) is not None:
        return
    compiled = Pattern(pattern)
    for text in TEXTS:
        expected = re2_found(pattern, encode(text))
        assert compiled.found(text) is expected, (pattern, text)
        try:
            data = text.encode()
        except UnicodeEncodeError:
            continue
        assert compiled.found_bytes(data) is expected, (pattern, text)


# -- generated patterns and texts --------------------------------------------------------------------------

_SUBSET_ATOMS = [
    "a",
    "b",
    "-",
    " ",
    "@",
    ".",
    r"\.",
    r"\-",
    r"\$",
    r"\\",
    r"\d",
    r"\w",
    "[ab]",
    "[a-c]",
    "[^a]",
    "[^ab]",
    "[^-]",
    r"[\d.]",
    r"[\w-]",
    "[-a]",
    "[b-]",
    "[0-9]",
    "[A-Z]",
    r"[\]a]",
]
_OTHER_ATOMS = [
    r"\s",
    r"\S",
    r"\b",
    r"\pL",
    "(a|b)",
    "(?:ab)",
    "é",
    r"\n",
    r"\D",
    "[[:digit:]]",
    "a|",
]
_QUANTIFIERS = [
    "",
    "",
    "",
    "?",
    "*",
    "+",
    "{2}",
    "{0,2}",
    "{1,3}",
    "{2,}",
    "{0}",
    "*?",
    "{3,5}",
]
# Repeats that are not repeats in both engines alike (text in RE2), and ones RE2 rejects.
_QUANTIFIERS += ["{01}", "{0,02}", "{,2}", "{2,1}", "{1001}", "{x}", "{"]

# Mostly subset atoms, so that most patterns run on ``re`` (about half: unbounded repeats need ``^`` and more).
atoms = st.sampled_from(_SUBSET_ATOMS * 6 + _OTHER_ATOMS)
patterns = st.builds(
    lambda start, parts, end: ("^" if start else "")
    + "".join(parts)
    + ("$" if end else ""),
    st.booleans(),
    st.lists(st.tuples(atoms, st.sampled_from(_QUANTIFIERS)).map("".join), max_size=5),
    st.booleans(),
)
# Texts over the characters patterns name (so that matches happen), and over anything at all.
_ALPHABET = "ab c-@._.0129AZ\\$]\n\t\r\v\f\x00é日\U0001f600\ud800\udfff"
texts = st.one_of(
    st.text(alphabet=_ALPHABET, max_size=12),
    st.text(max_size=12),
    st.text(st.characters(codec=None), max_size=6),
)


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(patterns, st.lists(texts, min_size=1, max_size=20))
def test_generated_patterns_match_re2(pattern: str, samples: list[str]) -> None:
    if regex_problem(pattern) is not None:
        return
    compiled = Pattern(pattern)
    for text in samples:
        expected = re2_found(pattern, encode(text))
        assert compiled.found(text) is expected, (pattern, text)
        if any("\ud800" <= c <= "\udfff" for c in text):
            continue  # no UTF-8 bytes for a lone surrogate
        assert compiled.found_bytes(text.encode()) is expected, (pattern, text)


@settings(max_examples=300, deadline=None)
@given(patterns, st.binary(max_size=12))
def test_bytes_that_are_not_utf8_behave_as_before(pattern: str, data: bytes) -> None:
    if regex_problem(pattern) is not None:
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(ValidationRuntimeError):
            Pattern(pattern).found_bytes(data)
        return
    assert Pattern(pattern).found_bytes(data) is re2_found(pattern, data)


def test_invalid_utf8_cannot_be_matched() -> None:
    """As in protovalidate: ``bytes.pattern`` on bytes that are not UTF-8 is a runtime error."""
    for pattern in ["", "^", ".", "^.*$", "[^a]", r"\xff"]:
        compiled = Pattern(pattern) if regex_problem(pattern) is None else None
        if compiled is not None:
            with pytest.raises(ValidationRuntimeError):
                compiled.found_bytes(b"\xff")
            with pytest.raises(ValidationRuntimeError):
                compiled.found_bytes(b"a\xed\xa0\x80")  # an encoded surrogate
    assert Pattern("").engine == "re2"  # unanchored


# -- the bound ---------------------------------------------------------------------------------------------


def model_steps(parsed: Parsed, text: str) -> tuple[bool, int]:
    """A backtracking matcher built as ``sre`` runs these patterns (one greedy ``REPEAT_ONE`` per atom, giving
    back one character at a time), counting character tests and end checks: the steps ``cost`` bounds.
    """
    steps = 0
    atoms = parsed.atoms
    size = len(text)

    def accepts(index: int, char: str) -> bool:
        atom = atoms[index]
        return (ord(char) in atom.chars) != atom.negated

    def match(index: int, pos: int) -> bool:
        nonlocal steps
        if index == len(atoms):
            steps += 1
            return not parsed.end or pos == size
        atom = atoms[index]
        limit = size - pos if atom.high is None else min(atom.high, size - pos)
        count = 0
        while count < limit:
            steps += 1
            if not accepts(index, text[pos + count]):
                break
            count += 1
        else:
            steps += 1  # the limit or the end of the text: one more test in sre as well
        for taken in range(count, atom.low - 1, -1):
            if match(index + 1, pos + taken):
                return True
        return False

    starts = [0] if parsed.start else range(size + 1)
    return any(match(0, start) for start in starts), steps


# Patterns at or near the limit, and adversarial texts for them: long runs of what the atoms accept, with the
# character that makes the match fail at the end (or nowhere).
NEAR_LIMIT = [
    "[ab]{0,14}[ab]{0,14}c",
    "a{0,14}a{0,14}b",
    "^a{0,14}a{0,14}b",
    "a{0,14}a{0,14}$",
    "^.{0,499}$",
    "[^b]{0,249}b",
    "a?a?a?a?a?a?a?b",
    "^a*b*c*d*e*f*$",
    "^[^b]*b[^c]*c[^d]*d$",
    r"^\d+\.\d+x$",
    "^a*b?c?d?e$",
]


@pytest.mark.parametrize("pattern", NEAR_LIMIT)
def test_bound_holds_on_adversarial_text(pattern: str) -> None:
    parsed = parse(pattern)
    assert parsed is not None
    bound = cost(parsed)
    assert bound is not None and bound <= LIMIT
    compiled = Pattern(pattern)
    assert compiled.engine == expected_engine(pattern)
    for text in [
        "a" * 1000,
        "a" * 1000 + "x",
        "ab" * 500,
        "a" * 500 + "b" * 500 + "z",
        "1" * 500 + "." + "1" * 499,
        "abcdef" * 150 + "x",
        "\n" * 300 + "a" * 700,
    ]:
        found, steps = model_steps(parsed, text)
        assert found == compiled.found(text) == re2_found(pattern, encode(text))
        assert steps <= bound * (len(text) + 1), (pattern, text[:10], steps)


@settings(max_examples=400, deadline=None)
@given(patterns, st.lists(texts, min_size=1, max_size=5), st.integers(0, 200))
def test_bound_holds_on_generated(
    pattern: str, samples: list[str], repeat: int
) -> None:
    parsed = parse(pattern)
    if parsed is None or regex_problem(pattern) is not None:
        return
    bound = cost(parsed)
    if bound is None or bound > LIMIT:
        return
    for text in samples:
        text = text * repeat if repeat and len(text) * repeat < 2000 else text
        found, steps = model_steps(parsed, text)
        assert found is Pattern(pattern).found(text)
        assert steps <= bound * (len(text) + 1), (pattern, text[:10], steps)


def test_bound_is_enforced() -> None:
    parsed = parse("^[A-Z]{3}-[0-9]{4}$")
    assert parsed is not None
    assert cost(parsed) == 4 + 2 + 5 + 1
    for pattern in ["^.{0,499}$", "a{0,14}a{0,14}b"]:
        parsed = parse(pattern)
        assert parsed is not None and (cost(parsed) or 0) <= LIMIT
    for pattern in [
        "^.{0,500}$",
        "a{0,15}a{0,15}b",
        "a{0,9}a{0,9}a{0,9}",
        "a{1000}",
        "a" * 1000,
    ]:
        parsed = parse(pattern)
        assert parsed is not None and (cost(parsed) or 0) > LIMIT
        assert translate(pattern) is None
    # Unbounded repeats: never without ^, never followed by what they accept.
    for pattern in ["a*", "x[a-z]+y", "^a*a", "^a*b?a", "^.*b", "^a*b*a", "^[^a]+b"]:
        parsed = parse(pattern)
        assert parsed is not None and cost(parsed) is None
    for pattern in ["^a*b?c", "^a*b*$", "^[^a]+a", r"^\d+[a-z]"]:
        parsed = parse(pattern)
        assert parsed is not None and cost(parsed) is not None


def translated(pattern: str) -> Translation:
    translation = translate(pattern)
    assert translation is not None
    return translation


def test_translation_is_exact() -> None:
    """RE2 ``$`` is the very end (``\\Z``, or ``fullmatch``); ``^`` is one start position (``match``)."""
    assert translated("^a$").method == "fullmatch"
    assert translated("^a").method == "match"
    assert translated("a$").method == "search"
    assert translated("a$").source.endswith(r"\Z")
    assert translated("a").method == "search"
    # Python's bare $ would match before a final newline; \d is ASCII in RE2 (U+0663 is an Arabic-Indic 3).
    assert regex("a$").found("a\n") is False
    assert regex(r"^\d$").found("\u0663") is False
    assert regex(r"^\w$").found("é") is False
    assert regex("^.$").found("\n") is False
    assert regex("^[^a]$").found("\n") is True


def test_worst_allowed_search_on_10kb_completes() -> None:
    """The bound in numbers: the costliest allowed shapes on 10 kB of adversarial text stay within
    ``LIMIT * (n + 1)`` model steps (anchored: one start position; the unanchored ones repeat the same work
    at each start, checked on 1 kB above), and the real ``re`` run agrees with RE2."""
    text = "a" * 10_000
    for pattern in [
        "^a{0,14}a{0,14}b",
        "^a*b*c*d*e*f*g$",
        "^.{0,499}$",
        "^[^b]*b[^c]*c$",
    ]:
        parsed = parse(pattern)
        assert parsed is not None
        found, steps = model_steps(parsed, text)
        assert steps <= (cost(parsed) or 0) * (len(text) + 1) <= LIMIT * (len(text) + 1)
        assert regex(pattern).found(text) is found is re2_found(pattern, encode(text))
    for pattern in [
        "a{0,14}a{0,14}b",
        "[ab]{0,14}[ab]{0,14}c",
        "[^b]{0,249}b",
        "a?a?a?a?a?a?a?b",
    ]:
        assert regex(pattern).engine == expected_engine(pattern)
        assert regex(pattern).found(text) is False is re2_found(pattern, encode(text))


@pytest.mark.parametrize("char", sorted(set(string.punctuation) - {"_"}))
def test_each_escaped_punctuation_is_that_character(char: str) -> None:
    for pattern in [
        "\\" + char,
        "^\\" + char + "$",
        "[\\" + char + "]",
        "[^\\" + char + "]",
    ]:
        compiled = regex(pattern)
        assert compiled.engine == expected_engine(pattern)
        for text in [char, "a", "", char * 2, "\n"]:
            assert compiled.found(text) is re2_found(pattern, encode(text)), (
                pattern,
                text,
            )


def test_unanchored_patterns_stay_on_re2() -> None:
    """Unanchored, ``re`` would retry the pattern at every position: 100x RE2 for shapes like this one."""
    assert translate("a?a?a?a?a?a?a?b") is not None
    assert regex("a?a?a?a?a?a?a?b").engine == "re2"
    assert regex("^a?a?a?a?a?a?a?b").engine == "re"


# -- the linear bound: within a small factor of RE2 on any text ---------------------------------------------


def test_linear_bound_is_enforced() -> None:
    """An unbounded atom is taken only on a single path (no choice of counts before it) and with few atoms
    to fail through when it gives a character back."""
    assert linear_cost(parse("^[A-Z]{3}-[0-9]{4}$")) == 0  # type: ignore[arg-type]
    assert linear_cost(parse("^[a-z]+$")) == 4  # type: ignore[arg-type]
    assert linear_cost(parse(r"^\d+\.\d+x$")) == 4  # type: ignore[arg-type]
    assert linear_cost(parse("^a*b?c$")) == 5  # type: ignore[arg-type]
    # The pattern: 151 ways to enter [a-z]+, each rescanning the text (430x RE2 on 3 MB).
    assert linear_cost(parse("^[a-z]{0,150}[a-z]+$")) is None  # type: ignore[arg-type]
    assert linear_cost(parse("^a?[b-z]+$")) is None  # type: ignore[arg-type]
    for pattern in ["^a*b*c*$", "^a*b?c?d?e$", "^a*b*c*d*e*f*g$"]:
        found = linear_cost(parse(pattern))  # type: ignore[arg-type]
        assert found is not None and found > LINEAR_LIMIT
    for pattern in ["^[a-z]{0,150}[a-z]+$", "^a*b*c*$", "^[a-z]{0,3}[a-z]+$"]:
        assert translate(pattern) is None
        assert Pattern(pattern).engine == "re2"


@settings(max_examples=400, deadline=None)
@given(patterns, st.lists(texts, min_size=1, max_size=5), st.integers(0, 200))
def test_taken_patterns_cost_at_most_c_plus_l_per_character(
    pattern: str, samples: list[str], repeat: int
) -> None:
    """Counted, not timed: the model matcher's steps for every taken pattern stay within
    ``cost + linear_cost * (n + 1)``."""
    if regex_problem(pattern) is not None or expected_engine(pattern) != "re":
        return
    parsed = parse(pattern)
    assert parsed is not None
    constant, linear = cost(parsed), linear_cost(parsed)
    assert constant is not None and linear is not None
    for text in samples:
        text = text * repeat if repeat and len(text) * repeat < 2000 else text
        found, steps = model_steps(parsed, text)
        assert found is Pattern(pattern).found(text)
        assert steps <= constant + linear * (len(text) + 1), (pattern, text[:10], steps)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^[a-z]+$", "a" * 1_000_000 + "!"),
        ("^a*b?c$", "a" * 1_000_000),
        (r"^\d+\.\d+x$", "1" * 1_000_000),
        ("^[a-z]+-[0-9]+$", "a" * 500_000 + "-" + "1" * 500_000 + "!"),
        ("^[a-z]{0,150}[a-z]+$", "a" * 1_000_000 + "!"),
        ("^[ -~]{0,120}$", "a" * 1_000_000),
    ],
)
def test_adversarial_megabyte_stays_near_re2(pattern: str, text: str) -> None:
    """The same run, the same text, both engines: the best of three ``found`` calls stays within a generous
    factor of RE2's best (a factor, not a wall-clock limit; the measured factors are in docs/runtime.md).
    """
    import time

    compiled = Pattern(pattern)
    data = text.encode()
    options = re2.Options()
    options.never_capture = True
    reference = re2.compile(pattern, options=options)

    def best(run: object) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            run()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times)

    ours = best(lambda: compiled.found(text))
    theirs = best(lambda: reference.search(data))
    assert compiled.found(text) is (reference.search(data) is not None)
    assert ours <= 20 * theirs + 0.002, (pattern, compiled.engine, ours, theirs)
