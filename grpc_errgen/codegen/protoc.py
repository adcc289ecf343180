"""Runs grpcio-tools' bundled protoc in-process and our generator on its output: the engine of ``grpc-errgen generate``.

protoc writes ``_pb2.py`` and ``_pb2_grpc.py`` and a descriptor set (with imports and source info) in one run;
the set is the request the plugin would get (``build_request``). ``generate`` turns it into the ``_errgen.py``
files, as the plugin would, and ``stubs`` into typed ``_pb2.pyi`` / ``_pb2_grpc.pyi`` (mypy-protobuf). A file
named alone brings along the files it imports from its own import roots (a second protoc run, only then).
Nothing is written to the output tree until everything succeeded, only files whose bytes change are rewritten,
all or nothing (``output``); ``--check`` writes nothing at all.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc_tools
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from grpc_errgen.codegen import output, validate_proto
from grpc_errgen.codegen.pipeline import generate
from grpc_errgen.codegen.resources import include_dir
from grpc_errgen.codegen.stubs import typed_stubs


class CompileError(Exception):
    """protoc or the generator refused the protos; the message is what to show the user."""


def builtin_includes() -> list[Path]:
    """Include dirs added to every run: well-known types, googleapis' protos (google/rpc/...), our options."""
    import google.rpc  # googleapis-common-protos ships the .proto files beside the modules

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(next(iter(google.rpc.__path__))).parent.parent
    return [well_known, googleapis, include_dir()]


def find_protos(
    paths: Iterable[Path], includes: Sequence[Path] = ()
) -> list[tuple[Path, Path]]:
    """(import root, file) for every .proto under ``paths``: a directory is both search root and import root; a
    file's import root is the innermost ``includes`` directory holding it, else its own directory.
    """
    found: dict[Path, Path] = {}
    roots = sorted((i.resolve() for i in includes), key=lambda p: len(p.parts))
    for path in paths:
        if path.is_dir():
            for proto in sorted(path.rglob("*.proto")):
                found.setdefault(proto.resolve(), path.resolve())
        elif path.suffix == ".proto" and path.is_file():
            proto = path.resolve()
            holders = [root for root in roots if proto.is_relative_to(root)]
            found.setdefault(proto, holders[-1] if holders else proto.parent)
        else:
            raise CompileError(f"grpc-errgen: {path}: not a .proto file or a directory")
    return sorted(
        ((root, proto) for proto, root in found.items()), key=lambda item: item[1]
    )


def _run_protoc(args: Sequence[str]) -> None:
    from grpc_tools import protoc

    # protoc reports on stderr; capture it so that a failure is one clean block for the caller to print.
    with tempfile.TemporaryFile(mode="w+b") as captured:
        saved = os.dup(2)
        try:
            os.dup2(captured.fileno(), 2)
            status = protoc.main(["protoc", *args])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        output = captured.read().decode(errors="replace").strip()
    if status != 0:
        raise CompileError(output or f"protoc failed with status {status}")
    if output:  # protoc's warnings (an unused import...): pass them on, as protoc would
        print(output, file=sys.stderr)


@dataclass
class Result:
    """What a run produced: every output file's path (relative to the output dir) and bytes, and the import
    roots the run searched (a generated file whose .proto is in none of them is an orphan).
    """

    files: dict[str, bytes] = field(default_factory=dict)
    roots: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Request:
    """The request the plugin would get for a run (files to generate, every file they import, source info)."""

    request: plugin_pb2.CodeGeneratorRequest
    roots: tuple[Path, ...]  # every -I of the run, the user's first


@dataclass(frozen=True)
class _Inputs:
    named: tuple[str, ...]  # the .proto names found under the paths
    roots: tuple[Path, ...]  # their import roots
    all_roots: tuple[Path, ...]  # every -I: theirs, the user's includes, ours

    def file(self, name: str) -> str:
        """The path protoc resolves ``name`` to (the first root holding it)."""
        return str(next(r / name for r in self.all_roots if (r / name).is_file()))


def _resolve(path: Path) -> Path:
    if not path.is_dir():
        raise CompileError(f"grpc-errgen: {path}: include directory not found")
    return path.resolve()


def _inputs(paths: Sequence[Path], includes: Sequence[Path]) -> _Inputs:
    protos = find_protos(paths, includes)
    if not protos:
        raise CompileError(
            "no .proto files found in " + ", ".join(str(p) for p in paths)
        )
    roots = tuple(dict.fromkeys(root for root, _ in protos))
    all_roots = tuple(
        dict.fromkeys([*roots, *(_resolve(i) for i in includes), *builtin_includes()])
    )
    named = tuple(proto.relative_to(root).as_posix() for root, proto in protos)
    return _Inputs(named, roots, all_roots)


def _protoc(
    inputs: _Inputs, names: Sequence[str], python: bool
) -> tuple[descriptor_pb2.FileDescriptorSet, dict[str, bytes]]:
    """One protoc run over ``names``: the descriptor set and (when ``python``) the _pb2 and _pb2_grpc files."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="grpc-errgen-") as tmp:
        # protoc writes each generator's files into one zip: three files to write and read back, not hundreds.
        python_zip, grpc_zip = Path(tmp) / "python.zip", Path(tmp) / "grpc.zip"
        descriptor_set = Path(tmp) / "set.pb"
        outputs = [f"--python_out={python_zip}", f"--grpc_python_out={grpc_zip}"]
        pinned = (
            # buf/validate/validate.proto for protos annotated for protovalidate: the pinned copy, unless the
            # user's include path has one
            [f"--descriptor_set_in={validate_proto.PINNED}"]
            if validate_proto.pinned_needed(inputs.all_roots)
            else []
        )
        _run_protoc(
            [
                *(f"-I{d}" for d in inputs.all_roots),
                *pinned,
                *(outputs if python else []),
                f"--descriptor_set_out={descriptor_set}",
                "--include_imports",
                "--include_source_info",
                *map(inputs.file, names),
            ]
        )
        for archive in (python_zip, grpc_zip) if python else ():
            with zipfile.ZipFile(archive) as opened:
                for info in opened.infolist():
                    if not info.is_dir():
                        files[info.filename] = opened.read(info)
        fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    return fds, files


def _with_imports(inputs: _Inputs, fds: descriptor_pb2.FileDescriptorSet) -> list[str]:
    """The named files and every file they import (directly or not) from the same import roots, in the set's
    (dependency) order."""
    by_name = {file.name: file for file in fds.file}
    wanted: set[str] = set()
    todo = list(inputs.named)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(
                dependency
                for dependency in by_name[name].dependency
                if any((root / dependency).is_file() for root in inputs.roots)
                # a vendored copy of what we provide (options.proto, google/rpc/...) is not the project's
                and not any((d / dependency).is_file() for d in builtin_includes())
            )
    return [file.name for file in fds.file if file.name in wanted]


def _request(
    fds: descriptor_pb2.FileDescriptorSet, names: Sequence[str]
) -> plugin_pb2.CodeGeneratorRequest:
    return plugin_pb2.CodeGeneratorRequest(file_to_generate=names, proto_file=fds.file)


def build_request(paths: Sequence[Path], includes: Sequence[Path] = ()) -> Request:
    """The request the plugin would get for the .proto files under ``paths`` (and the files they import from the
    same roots), parsed by protoc."""
    inputs = _inputs(paths, includes)
    fds, _ = _protoc(inputs, inputs.named, python=False)
    return Request(_request(fds, _with_imports(inputs, fds)), inputs.all_roots)


def compile_protos(paths: Sequence[Path], includes: Sequence[Path] = ()) -> Result:
    """Compile every .proto under ``paths`` (and the files they import from the same roots); return the files
    (``_pb2``, ``_pb2_grpc``, ``.pyi``, ``_errgen``)."""
    inputs = _inputs(paths, includes)
    fds, files = _protoc(inputs, inputs.named, python=True)
    names = _with_imports(inputs, fds)
    if len(names) > len(inputs.named):  # imports come along: their _pb2 files too
        fds, files = _protoc(inputs, names, python=True)
    request = _request(fds, names)
    response = generate(request)
    if response.error:
        raise CompileError(response.error)
    result = Result(files=files, roots=inputs.all_roots)
    for generated in response.file:
        result.files[generated.name] = generated.content.encode()
    result.files.update(typed_stubs(request))
    if validate_proto.PYTHON_PATH in result.files:  # written for the user: typed too
        stubs = typed_stubs(_request(fds, [validate_proto.VALIDATE_PROTO]))
        result.files[validate_proto.STUB_PATH] = stubs[validate_proto.STUB_PATH]
    return result


def write(result: Result, out: Path, prune: bool = False) -> list[str]:
    """Write the changed outputs under ``out``, all or nothing (``output.WriteError``); return their names."""
    return output.apply(output.plan(out, result.files, result.roots), prune=prune)
