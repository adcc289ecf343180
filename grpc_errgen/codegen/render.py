"""Model -> Python source: the Jinja2 templates, then black only where the template output is not already stable.

The templates are written to produce black-formatted code (a golden test checks this over many inputs), so the
common case costs no formatting at all; a line longer than black's limit (a long regex, message or name) is the
one thing a template cannot foresee, and sends that file through black.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2

from grpc_errgen.codegen.model import FileModel
from grpc_errgen.resources import templates_dir

LINE_LENGTH = 88
_BLANK_RUNS = re.compile(r"\n{4,}")
# A line black cannot shorten either: one string literal (an argument on its own line).
_LONE_STRING = re.compile(r'\s*[bf]?"(?:[^"\\]|\\.)*",?')


def py(value: Any) -> str:
    """A Python literal for ``value``, quoted the way black quotes it."""
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and not ('"' in value and "'" not in value):
            # black prefers double quotes unless that adds escapes.
            text = '"' + text[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
        return text
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return repr(value).replace("e+", "e")  # black writes 1e30, not 1e+30
    if isinstance(value, bytes):
        return "b" + py(value.decode("latin-1"))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(py(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    raise TypeError(f"no literal for {type(value).__name__}")


def constant(name: str) -> str:
    """``OrderService`` -> ``ORDER_SERVICE``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def tuple_of(expressions: Sequence[str]) -> str:
    """A tuple display of source ``expressions`` as black writes it on one line."""
    return (
        f"({expressions[0]},)"
        if len(expressions) == 1
        else f"({', '.join(expressions)})"
    )


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["py"] = py
    env.filters["constant"] = constant
    env.filters["tuple_of"] = tuple_of
    env.filters["json"] = lambda value: json.dumps(value, sort_keys=True)
    return env


def _black(source: str) -> str:
    import black  # imported only when needed: it costs more than the rest of a run

    return black.format_str(source, mode=black.Mode(line_length=LINE_LENGTH))


def render(model: FileModel) -> str:
    """The source of ``model``'s generated module, black-formatted."""
    source = _environment().get_template("errgen.py.j2").render(model=model)
    source = _BLANK_RUNS.sub("\n\n\n", source).strip("\n") + "\n"
    if any(
        len(line) > LINE_LENGTH and not _LONE_STRING.fullmatch(line)
        for line in source.splitlines()
    ):
        source = _black(source)
    return source
