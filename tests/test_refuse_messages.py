"""``invalid_messages=refuse``: a message whose rules are wrong is refused by name (its validator fails closed)
while its neighbours generate; without it, any mistake fails the run."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc

from grpc_errgen import validation
from grpc_errgen.codegen.pipeline import generate
from grpc_errgen.codegen.protoc import builtin_includes
from grpc_errgen.codegen.validate_proto import PINNED
from grpc_errgen.errors import ValidationRuntimeError

PROTO = """syntax = "proto3";
package refuse.v1;
import "buf/validate/validate.proto";

message Good {
  string name = 1 [(buf.validate.field).string.min_len = 2];
}

message Bad {
  // int32 rules on a string: protovalidate refuses the message (a compilation error)
  string name = 1 [(buf.validate.field).int32.gt = 0];
}

message UsesBad {
  Bad bad = 1;
  string note = 2 [(buf.validate.field).string.max_len = 3];
}
"""
BAD = "refuse/v1/refuse.proto:11:19: refuse.v1.Bad: field name: int32 rules on a field of type string"


def _request(tmp_path: Path, parameter: str) -> plugin_pb2.CodeGeneratorRequest:
    (tmp_path / "refuse" / "v1").mkdir(parents=True, exist_ok=True)
    (tmp_path / "refuse" / "v1" / "refuse.proto").write_text(PROTO)
    descriptors = tmp_path / "set.binpb"
    args = [
        "protoc",
        f"-I{tmp_path}",
        *(f"-I{d}" for d in builtin_includes()),
        f"--descriptor_set_in={PINNED}",
        f"--descriptor_set_out={descriptors}",
        f"--python_out={tmp_path}",
        "--include_imports",
        "--include_source_info",
        "refuse/v1/refuse.proto",
    ]
    assert protoc.main(args) == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes()).file
    return plugin_pb2.CodeGeneratorRequest(
        file_to_generate=["refuse/v1/refuse.proto"],
        proto_file=files,
        parameter=parameter,
    )


def test_by_default_a_wrong_rule_fails_the_run(tmp_path: Path) -> None:
    response = generate(_request(tmp_path, ""))
    assert response.error == BAD.replace("refuse.v1.Bad: ", "")
    assert not response.file


def test_refused_messages_fail_closed_and_their_neighbours_generate(
    tmp_path: Path,
) -> None:
    warnings: list[str] = []
    response = generate(_request(tmp_path, "invalid_messages=refuse"), warnings.append)
    assert response.error == ""
    assert warnings == [BAD]
    for generated in response.file:
        target = tmp_path / generated.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generated.content)
    sys.path.insert(0, str(tmp_path))
    try:
        pb2 = importlib.import_module("refuse.v1.refuse_pb2")
        importlib.import_module("refuse.v1.refuse_errgen")
    finally:
        sys.path.remove(str(tmp_path))
    assert [v.rule for v in validation.violations(pb2.Good(name="x"))] == [
        "string.min_len"
    ]
    assert validation.refusal("refuse.v1.Bad") == BAD
    assert validation.refusal("refuse.v1.Good") is None
    with pytest.raises(ValidationRuntimeError, match=r"refuse\.v1\.Bad"):
        validation.violations(pb2.Bad())
    with pytest.raises(ValidationRuntimeError, match=r"refuse\.v1\.Bad"):
        validation.validate(
            pb2.UsesBad(bad=pb2.Bad(), note="ok")
        )  # above a refused one


def test_an_unknown_parameter_value_is_refused(tmp_path: Path) -> None:
    response = generate(_request(tmp_path, "invalid_messages=ignore"))
    assert response.error == "--errgen_opt: unknown parameter 'invalid_messages=ignore'"
