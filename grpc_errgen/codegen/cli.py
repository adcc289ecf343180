"""``grpc-errgen``: generate Python modules from annotated .proto files, or check that committed ones are fresh."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from grpc_errgen.codegen.protoc import CompileError, compile_protos, stale_files, write
from grpc_errgen.codegen.resources import include_dir


def _project_defaults(start: Path) -> tuple[dict[str, Any], Path]:
    """``[tool.grpc-errgen]`` of the nearest pyproject.toml, and the directory its paths are relative to."""
    for directory in (start, *start.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            with pyproject.open("rb") as handle:
                table = tomllib.load(handle).get("tool", {}).get("grpc-errgen", {})
            return (table if isinstance(table, dict) else {}), directory
    return {}, start


@click.group()
@click.version_option(package_name="grpc-errgen")
def main() -> None:
    """Generate typed interceptors, validators and error classes from annotated .proto files."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output directory (default: current directory).",
)
@click.option(
    "-I",
    "--include",
    "includes",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra import directories (well-known types, googleapis and errgen options are always included).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; list stale or missing files and exit 1 if there are any.",
)
def generate(
    paths: Sequence[Path], out: Path | None, includes: Sequence[Path], check: bool
) -> None:
    """Compile the .proto files under PATHS (files or directories) to _pb2, _pb2_grpc, .pyi and _errgen modules.

    A directory is both the search root and the import root. Defaults come from [tool.grpc-errgen] in
    pyproject.toml (keys: paths, out, includes), relative to that file.
    """
    defaults, base = _project_defaults(Path.cwd())
    if not paths:
        paths = [base / p for p in defaults.get("paths", [])]
    if not paths:
        raise click.UsageError(
            "no PATHS given and no [tool.grpc-errgen] paths in pyproject.toml"
        )
    if out is None:
        out = base / defaults["out"] if "out" in defaults else Path.cwd()
    includes = [*includes, *(base / p for p in defaults.get("includes", []))]
    try:
        result = compile_protos(list(paths), includes)
    except CompileError as problem:
        click.echo(str(problem), err=True)
        sys.exit(1)
    if check:
        stale = stale_files(result, out)
        for name in stale:
            click.echo(f"stale: {out / name}")
        if stale:
            click.echo(
                f"{len(stale)} generated file(s) out of date: run `grpc-errgen generate`",
                err=True,
            )
            sys.exit(1)
        click.echo(f"{len(result.files)} generated file(s) up to date")
        return
    changed = write(result, out)
    click.echo(f"wrote {len(changed)} of {len(result.files)} file(s) under {out}")


@main.command()
def include() -> None:
    """Print the include directory of grpc_errgen/options.proto, for plain `protoc -I`."""
    click.echo(str(include_dir()))


if __name__ == "__main__":
    main()
