"""Test support for validation: the same rules under ``(errgen.*)`` and ``buf.validate`` options, and protovalidate.

protovalidate's wheel embeds the descriptor of buf/validate/validate.proto (the bytes literal given to
``file_desc(...)`` in ``protovalidate/_gen/buf/validate/validate_pb.py``). ``buf_descriptor_set`` rebuilds a
FileDescriptorSet from it, so protoc (``--descriptor_set_in``) compiles protos carrying ``buf.validate`` options;
protovalidate then validates the ordinary protobuf messages made from them.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import protovalidate
from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2
from grpc_tools import protoc

_BUF_SOURCE = (
    Path(protovalidate.__file__).parent / "_gen" / "buf" / "validate" / "validate_pb.py"
)

Found = tuple[str, str, str]  # (field path, rule id, message)


def _validate_proto_bytes() -> bytes:
    source = _BUF_SOURCE.read_text()
    start = source.index("_DESC = file_desc(")
    call = ast.parse(source[start:]).body[0]
    assert isinstance(call, ast.Assign) and isinstance(call.value, ast.Call)
    literal = call.value.args[0]
    assert isinstance(literal, ast.Constant) and isinstance(literal.value, bytes)
    return literal.value


def buf_descriptor_set(path: Path) -> Path:
    """Write buf/validate/validate.proto and its google/protobuf dependencies as a FileDescriptorSet."""
    files = descriptor_pb2.FileDescriptorSet()
    for module in (descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2):
        module.DESCRIPTOR.CopyToProto(files.file.add())
    files.file.add().ParseFromString(_validate_proto_bytes())
    path.write_bytes(files.SerializeToString())
    return path


def build_buf(root: Path, sources: dict[str, str]) -> Path:
    """Compile protos that import buf/validate/validate.proto with plain protoc (--python_out); put them on the path."""
    protos, out = root / "buf_protos", root / "buf_out"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sources.items():
        target = protos / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    descriptor_set = buf_descriptor_set(root / "buf_validate.pb")
    args = [
        "protoc",
        f"--descriptor_set_in={descriptor_set}",
        f"-I{protos}",
        f"--python_out={out}",
    ]
    if "buf.validate.validate_pb2" not in sys.modules:
        args.append("buf/validate/validate.proto")
    code = protoc.main([*args, *sources])
    assert code == 0, f"protoc failed with {code}"
    if str(out) not in sys.path:
        sys.path.append(str(out))
    importlib.invalidate_caches()
    return out


def _render_path(violation: Any) -> str:
    text = ""
    for element in violation.field.elements:
        text += ("." if text else "") + element.field_name
        subscript = element.subscript
        if subscript is None:
            continue
        if subscript.field == "string_key":
            text += "[" + json.dumps(subscript.value, ensure_ascii=False) + "]"
        elif subscript.field == "bool_key":
            text += "[true]" if subscript.value else "[false]"
        else:
            text += f"[{subscript.value}]"
    return text


def reference(message: Any) -> list[Found]:
    """What protovalidate 2.x reports for ``message``, as (path, rule id, message), paths as we render them."""
    found = []
    for violation in protovalidate.collect_violations(message):
        proto = violation.proto
        found.append((_render_path(proto), proto.rule_id, proto.message))
    return found


def ours(message: Any) -> list[Found]:
    import grpc_errgen

    return [(v.field, v.rule, v.message) for v in grpc_errgen.violations(message)]
