"""Formatting of generated source: the templates write black's style; black runs only where they cannot.

A line longer than black's limit (a long regex, message or name) is the one thing a template cannot foresee; it
sends that file through black (pinned in the ``codegen`` extra to a range that formats alike). Comment lines are
left as they are: black does not shorten them either.
"""

from __future__ import annotations

import re

LINE_LENGTH = 88
_BLANK_RUNS = re.compile(r"\n{4,}")
_STRING = r"""[bf]?(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
# A line black cannot shorten either: one string literal (an argument on its own line, or assigned to a name),
# a one-line docstring, a comment.
_UNSHORTENABLE = re.compile(
    rf'\s*(?:{_STRING},?|[A-Za-z_][A-Za-z0-9_]* = {_STRING}|""".*"""|#.*)'
)


def black(source: str) -> str:
    import black as black_  # only when needed: importing it costs more than the rest of a run

    return black_.format_str(source, mode=black_.Mode(line_length=LINE_LENGTH))


def black_stable(source: str) -> str:
    """``source`` (a template's output) tidied and, where a line is too long, formatted by black."""
    source = _BLANK_RUNS.sub("\n\n\n", source).strip("\n") + "\n"
    lines = source.splitlines()
    if max(map(len, lines)) > LINE_LENGTH and any(
        len(line) > LINE_LENGTH and not _UNSHORTENABLE.fullmatch(line) for line in lines
    ):
        source = black(source)
    return source
