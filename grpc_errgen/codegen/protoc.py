"""Runs grpcio-tools' bundled protoc in-process and our generator on its output: the engine of ``grpc-errgen generate``.

protoc writes ``_pb2.py`` and ``_pb2_grpc.py`` and a descriptor set (with imports and source info) in one run;
``generate`` turns the descriptor set into the ``_errgen.py`` files, as the plugin would, and ``stubs`` into typed
``_pb2.pyi`` / ``_pb2_grpc.pyi`` (mypy-protobuf).
Nothing is written to the output tree until everything succeeded, and only files whose bytes change are
rewritten (``--check`` writes nothing at all).
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

from grpc_errgen.codegen import validate_proto
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
            raise CompileError(f"{path}: not a .proto file or a directory")
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
    """What a run produced: every output file's path (relative to the output dir) and bytes."""

    files: dict[str, bytes] = field(default_factory=dict)


def compile_protos(paths: Sequence[Path], includes: Sequence[Path] = ()) -> Result:
    """Compile every .proto under ``paths``; return the files (``_pb2``, ``_pb2_grpc``, ``.pyi``, ``_errgen``)."""
    protos = find_protos(paths, includes)
    if not protos:
        raise CompileError(
            "no .proto files found in " + ", ".join(str(p) for p in paths)
        )
    roots = list(dict.fromkeys(root for root, _ in protos))
    include_dirs = [*roots, *map(Path.resolve, includes), *builtin_includes()]
    include_args = [f"-I{d}" for d in include_dirs]
    if validate_proto.pinned_needed(include_dirs):
        # buf/validate/validate.proto for protos annotated for protovalidate: the pinned copy, unless the
        # user's include path has one
        include_args.append(f"--descriptor_set_in={validate_proto.PINNED}")
    with tempfile.TemporaryDirectory(prefix="grpc-errgen-") as tmp:
        # protoc writes each generator's files into one zip: three files to write and read back, not hundreds.
        python_zip, grpc_zip = Path(tmp) / "python.zip", Path(tmp) / "grpc.zip"
        descriptor_set = Path(tmp) / "set.pb"
        files = [str(proto) for _, proto in protos]
        _run_protoc(
            [
                *include_args,
                f"--python_out={python_zip}",
                f"--grpc_python_out={grpc_zip}",
                f"--descriptor_set_out={descriptor_set}",
                "--include_imports",
                "--include_source_info",
                *files,
            ]
        )
        result = Result()
        for archive in (python_zip, grpc_zip):
            with zipfile.ZipFile(archive) as opened:
                for info in opened.infolist():
                    if not info.is_dir():
                        result.files[info.filename] = opened.read(info)
        fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    names = [str(proto.relative_to(root).as_posix()) for root, proto in protos]
    request = plugin_pb2.CodeGeneratorRequest(
        file_to_generate=names, proto_file=fds.file
    )
    response = generate(request)
    if response.error:
        raise CompileError(response.error)
    for generated in response.file:
        result.files[generated.name] = generated.content.encode()
    result.files.update(typed_stubs(request))
    return result


def stale_files(result: Result, out: Path) -> list[str]:
    """The outputs whose file under ``out`` is missing or differs."""
    stale = []
    for name, content in result.files.items():
        try:
            same = (out / name).read_bytes() == content
        except OSError:
            same = False
        if not same:
            stale.append(name)
    return sorted(stale)


def write(result: Result, out: Path) -> list[str]:
    """Write the changed outputs under ``out``; return their names."""
    changed = stale_files(result, out)
    made: set[Path] = set()
    for name in changed:
        target = out / name
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_bytes(result.files[name])
    return changed
