"""protovalidate's ``buf/validate/validate.proto`` without friction: where it comes from, and its Python module.

- Source: the user's include path when a directory on it holds ``buf/validate/validate.proto``; otherwise the
  pinned copy shipped in ``third_party/protovalidate/validate.binpb`` (a ``FileDescriptorSet`` holding the
  compiled file, no network needed; provenance and license beside it), given to protoc with
  ``--descriptor_set_in``.
- Python module: when a generated file needs ``buf.validate.validate_pb2`` and no installed package provides it,
  the generator writes ``buf/validate/validate_pb2.py`` beside the user's modules (protoc's own Python
  generator, run on the request's copy of validate.proto), so that the user's ``_pb2`` modules import without
  protovalidate.
"""

from __future__ import annotations

import importlib.util
import sysconfig
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

VALIDATE_PROTO = "buf/validate/validate.proto"
PYTHON_MODULE = "buf.validate.validate_pb2"
PYTHON_PATH = "buf/validate/validate_pb2.py"
STUB_PATH = "buf/validate/validate_pb2.pyi"
PINNED = (
    Path(__file__).resolve().parent / "third_party" / "protovalidate" / "validate.binpb"
)


def pinned_needed(includes: Iterable[Path]) -> bool:
    """No include directory holds validate.proto: protoc needs the pinned copy."""
    return not any((Path(d) / VALIDATE_PROTO).is_file() for d in includes)


def installed() -> bool:
    """An installed package (in site-packages, not some output tree on ``sys.path``) provides
    ``buf.validate.validate_pb2``."""
    try:
        spec = importlib.util.find_spec(PYTHON_MODULE)
    except ModuleNotFoundError:  # no ``buf`` / ``buf.validate`` package at all
        return False
    if spec is None or spec.origin is None:
        return False
    origin = Path(spec.origin).resolve()
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return any(origin.is_relative_to(Path(root).resolve()) for root in roots)


def _uses(
    names: Sequence[str], protos: dict[str, descriptor_pb2.FileDescriptorProto]
) -> bool:
    """Whether one of ``names`` imports validate.proto, directly or through its imports."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name == VALIDATE_PROTO:
            return True
        if name in seen or name not in protos:
            continue
        seen.add(name)
        todo.extend(protos[name].dependency)
    return False


def python_module(
    request: plugin_pb2.CodeGeneratorRequest,
) -> plugin_pb2.CodeGeneratorResponse.File | None:
    """``buf/validate/validate_pb2.py`` for the request's copy of validate.proto, when the files generated need
    it, it is not one of them, and no installed package provides it; else None."""
    protos = {proto.name: proto for proto in request.proto_file}
    wanted = [name for name in request.file_to_generate if name != VALIDATE_PROTO]
    if VALIDATE_PROTO in request.file_to_generate or not _uses(wanted, protos):
        return None
    if installed():
        return None
    from grpc_tools import protoc  # the generator's dependency, never the runtime's

    needed = descriptor_pb2.FileDescriptorSet()
    for name in _closure(VALIDATE_PROTO, protos):
        needed.file.add().CopyFrom(protos[name])
    with tempfile.TemporaryDirectory(prefix="grpc-errgen-validate-") as tmp:
        descriptors = Path(tmp) / "validate.binpb"
        descriptors.write_bytes(needed.SerializeToString())
        out = Path(tmp) / "out"
        out.mkdir()
        status = protoc.main(
            [
                "protoc",
                f"--descriptor_set_in={descriptors}",
                f"--python_out={out}",
                VALIDATE_PROTO,
            ]
        )
        if status != 0:
            raise RuntimeError(f"protoc could not generate {PYTHON_MODULE}")
        content = (out / "buf" / "validate" / "validate_pb2.py").read_text(
            encoding="utf-8"
        )
    return plugin_pb2.CodeGeneratorResponse.File(name=PYTHON_PATH, content=content)


def _closure(
    name: str, protos: dict[str, descriptor_pb2.FileDescriptorProto]
) -> list[str]:
    """``name`` and everything it imports, imports first."""
    order: list[str] = []

    def visit(current: str) -> None:
        if current in order or current not in protos:
            return
        for dependency in protos[current].dependency:
            visit(dependency)
        order.append(current)

    visit(name)
    return order
