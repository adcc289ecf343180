"""``grpc-errgen``: generate Python modules from annotated .proto files, check that committed ones are fresh, print
the error and policy catalogue.

Every failure is one line per problem on stderr (``grpc-errgen: ...`` or ``file.proto:LINE:COL: ...``) and exit
status 1, never a traceback; usage mistakes get click's usage message and exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from grpc_errgen.codegen import output
from grpc_errgen.codegen.backend import catalogue
from grpc_errgen.codegen.pipeline import internal_error, read_models
from grpc_errgen.codegen.protoc import (
    CompileError,
    Result,
    build_request,
    builtin_includes,
    compile_protos,
)

PROG = "grpc-errgen"


class Failure(click.ClickException):
    """A failure to report as ``grpc-errgen: message`` (or the diagnostics themselves), exit status 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), err=True)


def _failure(message: str) -> Failure:
    return Failure(f"{PROG}: {message}")


@dataclass(frozen=True)
class Defaults:
    """``[tool.grpc-errgen]`` of the nearest pyproject.toml, paths resolved against its directory."""

    paths: tuple[Path, ...] = ()
    out: Path | None = None
    includes: tuple[Path, ...] = ()


def _strings(pyproject: Path, table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _failure(
            f"{pyproject}: [tool.grpc-errgen] {key} must be a list of strings "
            f'(e.g. {key} = ["protos"]), not {_toml_type(value)}'
        )
    return tuple(value)


def _toml_type(value: object) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list holding a non-string"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def project_defaults(start: Path) -> Defaults:
    """The defaults of the nearest pyproject.toml at or above ``start`` (none when it has no such table)."""
    for directory in (start, *start.parents):
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            with pyproject.open("rb") as handle:
                document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as problem:
            raise _failure(f"{pyproject}: not valid TOML: {problem}") from None
        except OSError as problem:
            raise _failure(f"{pyproject}: {problem.strerror}") from None
        tool = document.get("tool", {})
        table = tool.get("grpc-errgen", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise _failure(f"{pyproject}: tool.grpc-errgen must be a table")
        unknown = sorted(set(table) - {"paths", "out", "includes"})
        if unknown:
            raise _failure(
                f"{pyproject}: [tool.grpc-errgen] has unknown key(s) {', '.join(unknown)} "
                "(known: paths, out, includes)"
            )
        out = table.get("out")
        if out is not None and not isinstance(out, str):
            raise _failure(
                f'{pyproject}: [tool.grpc-errgen] out must be a string (e.g. out = "src"), not {_toml_type(out)}'
            )
        return Defaults(
            paths=tuple(directory / p for p in _strings(pyproject, table, "paths")),
            out=directory / out if out is not None else None,
            includes=tuple(
                directory / p for p in _strings(pyproject, table, "includes")
            ),
        )
    return Defaults()


def _compile(paths: Sequence[Path], includes: Sequence[Path]) -> Result:
    try:
        return compile_protos(list(paths), list(includes))
    except CompileError as problem:
        raise Failure(str(problem)) from None


@click.group()
@click.version_option(package_name="grpc-errgen")
def main() -> None:
    """Generate typed interceptors, validators and error classes from annotated .proto files."""


_PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
_INCLUDES = click.option(
    "-I",
    "--include",
    "includes",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra import directory (repeatable). Well-known types, googleapis' google/rpc "
    "and grpc_errgen/options.proto are always included.",
)


def _inputs(
    paths: Sequence[Path], includes: Sequence[Path]
) -> tuple[Defaults, list[Path], list[Path]]:
    defaults = project_defaults(Path.cwd())
    if not paths:
        paths = list(defaults.paths)
    if not paths:
        raise click.UsageError(
            "no PATHS given and no [tool.grpc-errgen] paths in pyproject.toml"
        )
    return defaults, list(paths), [*includes, *defaults.includes]


@main.command()
@_PATHS
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output directory (default: [tool.grpc-errgen] out, else the current directory).",
)
@_INCLUDES
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; list stale, missing and orphaned files and exit 1 if there are any.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete orphaned files: generated files under --out whose .proto is gone.",
)
def generate(
    paths: Sequence[Path],
    out: Path | None,
    includes: Sequence[Path],
    check: bool,
    prune: bool,
) -> None:
    """Compile the .proto files under PATHS (files or directories) to _pb2, _pb2_grpc, .pyi and _errgen modules.

    A directory is both the search root and the import root; a file's import root is the innermost -I directory
    holding it, else its own directory. A file named alone brings along the files it imports from the same roots.
    Defaults come from [tool.grpc-errgen] in pyproject.toml (keys: paths, out, includes), relative to that file.
    Writing is all or nothing.
    """
    defaults, paths, includes = _inputs(paths, includes)
    if out is None:
        out = defaults.out or Path.cwd()
    if out.exists() and not out.is_dir():
        raise _failure(f"--out {out}: not a directory")
    result = _compile(paths, includes)
    try:
        plan = output.plan(out, result.files, result.roots)
    except output.WriteError as problem:
        raise _failure(str(problem)) from None
    if check:
        listed = [
            *(("stale", name) for name in plan.stale),
            *(("missing", name) for name in plan.missing),
            *(("orphaned", name) for name in plan.orphaned),
        ]
        for kind, name in listed:
            click.echo(f"{kind}: {out / name}")
        if listed:
            hint = " --prune" if plan.orphaned else ""
            raise Failure(
                f"{len(listed)} generated file(s) out of date: run `grpc-errgen generate{hint}`"
            )
        click.echo(f"{len(result.files)} generated file(s) up to date")
        return
    try:
        changed = output.apply(plan, prune=prune)
    except output.WriteError as problem:
        raise _failure(str(problem)) from None
    click.echo(f"wrote {len(changed)} of {len(result.files)} file(s) under {out}")
    for name in plan.orphaned:
        if prune:
            click.echo(f"deleted orphaned: {out / name}")
        else:
            click.echo(
                f"orphaned: {out / name} (its .proto is gone; --prune deletes it)",
                err=True,
            )


@main.command()
@_PATHS
@_INCLUDES
@click.option(
    "--format",
    "format_",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Markdown for people, JSON for tools (schema: docs/catalogue.md).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (default: standard output); unchanged bytes are not rewritten.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if --out differs from what would be written.",
)
def docs(
    paths: Sequence[Path],
    includes: Sequence[Path],
    format_: str,
    out: Path | None,
    check: bool,
) -> None:
    """The error and policy catalogue of the services under PATHS: per rpc, auth and scopes, timeout and retry,
    declared errors, exception mappings, and the request's validation rules in words.

    PATHS and -I as for `generate` (and the same [tool.grpc-errgen] defaults).
    """
    _, paths, includes = _inputs(paths, includes)
    try:
        run = build_request(paths, includes)
    except CompileError as problem:
        raise Failure(str(problem)) from None
    models, problems = read_models(run.request)
    if problems:
        raise Failure("\n".join(problems))
    document = catalogue.document(models)
    text = (
        json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if format_ == "json"
        else catalogue.markdown(document)
    )
    if out is None:
        if check:
            raise click.UsageError("--check needs --out")
        click.echo(text, nl=False)
        return
    data = text.encode()
    try:
        current = out.read_bytes() if out.is_file() else None
    except OSError as problem:
        raise _failure(f"{out}: {problem.strerror}") from None
    if check:
        if current != data:
            click.echo(f"{'stale' if current is not None else 'missing'}: {out}")
            raise Failure(
                f"{out} is out of date: run `grpc-errgen docs ... --out {out}`"
            )
        click.echo(f"{out} is up to date")
        return
    if current == data:
        return
    try:
        output.apply(output.plan(out.parent, {out.name: data}, ()))
    except output.WriteError as problem:
        raise _failure(str(problem)) from None


@main.command()
def include() -> None:
    """Print the import path that plain protoc needs for grpc_errgen/options.proto and what it imports.

    One line, the directories joined by the path separator (protoc's -I accepts such a list):
    protoc -I protos -I "$(grpc-errgen include)" --errgen_out=OUT ...
    """
    click.echo(os.pathsep.join(str(d) for d in builtin_includes()))


def run() -> None:
    """The console script: ``main`` with any unexpected failure as one line (GRPC_ERRGEN_TRACEBACK=1 raises it)."""
    try:
        main()
    except Exception as bug:
        if os.environ.get("GRPC_ERRGEN_TRACEBACK"):
            raise
        click.echo(f"{PROG}: {internal_error(bug)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
