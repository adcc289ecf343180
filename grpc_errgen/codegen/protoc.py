"""Runs grpcio-tools' bundled protoc and our generator on its output: the engine of ``grpc-errgen generate``.

protoc parses the .proto files once, in-process, into a descriptor set (with imports and source info): the
request the plugin would get (``build_request``). From it, at the same time: protoc's Python and gRPC generators
write ``_pb2.py`` and ``_pb2_grpc.py`` in a child process (grpcio-tools' protoc holds the GIL, so only another
process overlaps it), while this one runs ``generate`` (the ``_errgen.py`` files, as the plugin would) and
``stubs`` (typed ``_pb2.pyi`` / ``_pb2_grpc.pyi``, mypy-protobuf). A file named alone brings along the files it
imports from its own import roots. Nothing is written to the output tree until everything succeeded, only files
whose bytes change are rewritten, all or nothing (``output``); ``--check`` writes nothing at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc_tools
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from grpc_errgen.codegen import output, validate_proto
from grpc_errgen.codegen.pipeline import generate
from grpc_errgen.codegen.resources import include_dir
from grpc_errgen.codegen.stubs import typed_stubs

# The messages of descriptor.proto whose field numbers make up source-info paths.
_FILE = descriptor_pb2.FileDescriptorProto
_MESSAGE = descriptor_pb2.DescriptorProto
_FIELD = descriptor_pb2.FieldDescriptorProto


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


def _descriptors(inputs: _Inputs) -> descriptor_pb2.FileDescriptorSet:
    """One protoc run over the named files: their descriptor set, with every file they import and source info."""
    with tempfile.TemporaryDirectory(prefix="grpc-errgen-") as tmp:
        descriptor_set = Path(tmp) / "set.pb"
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
                f"--descriptor_set_out={descriptor_set}",
                "--include_imports",
                "--include_source_info",
                *map(inputs.file, inputs.named),
            ]
        )
        return descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())


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
    fds = _descriptors(inputs)
    return Request(_request(fds, _with_imports(inputs, fds)), inputs.all_roots)


def _fields(
    file: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[tuple[int, ...], descriptor_pb2.FieldDescriptorProto]]:
    """Every field and extension of ``file``, nested ones too, with its source-info path."""
    for index, extension in enumerate(file.extension):
        yield (_FILE.EXTENSION_FIELD_NUMBER, index), extension
    todo: list[tuple[tuple[int, ...], descriptor_pb2.DescriptorProto]] = [
        ((_FILE.MESSAGE_TYPE_FIELD_NUMBER, index), message)
        for index, message in enumerate(file.message_type)
    ]
    while todo:
        path, message = todo.pop()
        for index, field_ in enumerate(message.field):
            yield (*path, _MESSAGE.FIELD_FIELD_NUMBER, index), field_
        for index, extension in enumerate(message.extension):
            yield (*path, _MESSAGE.EXTENSION_FIELD_NUMBER, index), extension
        todo.extend(
            ((*path, _MESSAGE.NESTED_TYPE_FIELD_NUMBER, index), nested)
            for index, nested in enumerate(message.nested_type)
        )


def _for_python_out(
    fds: descriptor_pb2.FileDescriptorSet, names: Sequence[str]
) -> descriptor_pb2.FileDescriptorSet:
    """The set as protoc's Python and gRPC generators must see it to write the same bytes as from the .proto files.

    protoc's set gives every field a ``json_name``; the ``_pb2`` module would embed it where the .proto wrote none,
    so it goes where the source info shows none was written. Of the source info only the services' stays (the
    gRPC generator copies their comments); the rest only takes time to load.
    """
    trimmed = descriptor_pb2.FileDescriptorSet()
    trimmed.CopyFrom(fds)
    generated = set(names)
    for file in trimmed.file:
        services, written = [], set()
        for location in (
            file.source_code_info.location if file.name in generated else ()
        ):
            if location.path[:1] == [_FILE.SERVICE_FIELD_NUMBER]:
                services.append(location)
            elif location.path[-1:] == [_FIELD.JSON_NAME_FIELD_NUMBER]:
                written.add(tuple(location.path[:-1]))
        for path, field_ in _fields(file):
            if path not in written:
                field_.ClearField("json_name")
        file.source_code_info.ClearField("location")
        file.source_code_info.location.extend(services)
    return trimmed


# protoc's Python and gRPC generators in a child process: grpcio-tools' protoc holds the GIL while it runs, so in
# this process it would not overlap our generator. The child imports grpcio-tools from where this process did
# (its first argument), whatever set up this process's import path.
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from grpc_tools import protoc; sys.exit(protoc.main(sys.argv))"
)
_TRACEBACK = "Traceback (most recent call last):"
_GRPC_TOOLS_HOME = str(Path(grpc_tools.__file__).resolve().parent.parent)


def _sigmask(how: int, signals: Iterable[int]) -> set[int]:
    """Change this thread's blocked signals (where the platform can); return the previous set."""
    if not hasattr(signal, "pthread_sigmask"):
        return set()
    return {int(s) for s in signal.pthread_sigmask(how, signals)}


@contextlib.contextmanager
def _python_out(
    fds: descriptor_pb2.FileDescriptorSet, names: Sequence[str]
) -> Iterator[Callable[[], dict[str, bytes]]]:
    """Start protoc's ``_pb2`` and ``_pb2_grpc`` generation for ``names`` from the set (no second parse) in a child
    process; the function it yields waits for the files. Leaving early kills and reaps the child.
    """
    with tempfile.TemporaryDirectory(prefix="grpc-errgen-") as tmp:
        descriptor_set = Path(tmp) / "set.pb"
        descriptor_set.write_bytes(_for_python_out(fds, names).SerializeToString())
        # protoc writes each generator's files into one zip: two files to read back, not hundreds.
        python_zip, grpc_zip = Path(tmp) / "python.zip", Path(tmp) / "grpc.zip"
        args = [
            f"--descriptor_set_in={descriptor_set}",
            f"--python_out={python_zip}",
            f"--grpc_python_out={grpc_zip}",
            *names,
        ]
        with (Path(tmp) / "stderr").open("w+b") as stderr:

            def files() -> dict[str, bytes]:
                status = child.wait()
                stderr.seek(0)
                report = stderr.read().decode(errors="replace").strip()
                if status != 0 and report.startswith(_TRACEBACK):  # Python, not protoc
                    raise CompileError(
                        "grpc-errgen: protoc's Python generators did not run in a child process: "
                        + report.splitlines()[-1]
                    )
                if status != 0:
                    raise CompileError(report or f"protoc failed with status {status}")
                if report:
                    print(report, file=sys.stderr)
                found: dict[str, bytes] = {}
                for archive in (python_zip, grpc_zip):
                    with zipfile.ZipFile(archive) as opened:
                        for info in opened.infolist():
                            if not info.is_dir():
                                found[info.filename] = opened.read(info)
                return found

            # Ctrl-C is held back from before the child starts until it is ours to stop: an interrupt inside
            # Popen would leave it running, unreaped. The child inherits it held; stopping it is our job.
            previous = _sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                child = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, _GRPC_TOOLS_HOME, *args],
                    cwd=tmp,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            except BaseException:
                _sigmask(signal.SIG_SETMASK, previous)
                raise
            try:
                _sigmask(signal.SIG_SETMASK, previous)
                yield files
            finally:
                # We failed or were interrupted: its output is not wanted.
                if child.poll() is None:
                    child.kill()
                child.wait()


def compile_protos(paths: Sequence[Path], includes: Sequence[Path] = ()) -> Result:
    """Compile every .proto under ``paths`` (and the files they import from the same roots); return the files
    (``_pb2``, ``_pb2_grpc``, ``.pyi``, ``_errgen``).

    protoc parses once, for the descriptor set; its Python generators then run from that set in a child process
    while this one runs ours and mypy-protobuf's.
    """
    inputs = _inputs(paths, includes)
    fds = _descriptors(inputs)
    names = _with_imports(inputs, fds)
    request = _request(fds, names)
    with _python_out(fds, names) as python_files:
        response = generate(request)
        if response.error:
            raise CompileError(response.error)
        stubs = typed_stubs(request)
        result = Result(files=python_files(), roots=inputs.all_roots)
    for generated in response.file:
        result.files[generated.name] = generated.content.encode()
    result.files.update(stubs)
    if validate_proto.PYTHON_PATH in result.files:  # written for the user: typed too
        validate_stubs = typed_stubs(_request(fds, [validate_proto.VALIDATE_PROTO]))
        result.files[validate_proto.STUB_PATH] = validate_stubs[
            validate_proto.STUB_PATH
        ]
    return result


def write(result: Result, out: Path, prune: bool = False) -> list[str]:
    """Write the changed outputs under ``out``, all or nothing (``output.WriteError``); return their names."""
    return output.apply(output.plan(out, result.files, result.roots), prune=prune)
