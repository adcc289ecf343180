"""Protos annotated for protovalidate generate with nothing else set up: ``buf/validate/validate.proto`` comes from
the user's include path or the pinned copy, and ``buf/validate/validate_pb2.py`` is written beside the user's
modules, so they import without protovalidate."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grpc_errgen.codegen.protoc import CompileError, compile_protos, write

USER_PROTO = """
syntax = "proto3";
package {package}.v1;
import "buf/validate/validate.proto";
import "grpc_errgen/options.proto";

message Signup {{
  string email = 1 [(buf.validate.field).string.email = true];
  int32 age = 2 [(buf.validate.field).int32 = {{ gte: 18 }}];
  // Both dialects in one file, one per field.
  string nick = 3 [(errgen.field).string.min_len = 2];
  oneof contact {{
    option (buf.validate.oneof).required = true;
    string phone = 4;
    string slack = 5;
  }}
}}
"""

#: A stand-in for protovalidate's file, written for this test: the same names and numbers, only the few rules
#: USER_PROTO uses, so that the test can tell which copy the generator read.
OWN_VALIDATE_PROTO = """
syntax = "proto2";
package buf.validate;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions { optional FieldRules field = 1159; }
extend google.protobuf.OneofOptions { optional OneofRules oneof = 1159; }
message OneofRules { optional bool required = 1; }
enum Ignore { IGNORE_UNSPECIFIED = 0; IGNORE_IF_ZERO_VALUE = 1; IGNORE_ALWAYS = 3; }
message FieldRules {
  optional bool required = 25;
  optional Ignore ignore = 27;
  oneof type {
    Int32Rules int32 = 3;
    StringRules string = 14;
  }
}
message Int32Rules {
  optional int32 const = 1;
  oneof less_than { int32 lt = 2; int32 lte = 3; }
  oneof greater_than { int32 gt = 4; int32 gte = 5; }
  repeated int32 in = 6;
  repeated int32 not_in = 7;
}
message StringRules {
  optional uint64 min_len = 2;
  optional uint64 max_len = 3;
  optional uint64 min_bytes = 4;
  optional uint64 max_bytes = 5;
  oneof well_known { bool email = 12; }
}
"""

_CHECK = """
import sys
sys.modules["protovalidate"] = None  # importing it would fail: the generated modules must not need it
sys.path.insert(0, sys.argv[1])
import importlib
pb2 = importlib.import_module(sys.argv[2] + ".v1.signup_pb2")
importlib.import_module(sys.argv[2] + ".v1.signup_errgen")
import grpc_errgen
found = grpc_errgen.violations(pb2.Signup(email="x", age=3, nick="n"))
print(sorted((v.field, v.rule) for v in found))
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))


def _run(out: Path, package: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK, str(out), package],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


EXPECTED = (
    "[('age', 'int32.gte'), ('contact', 'required'), ('email', 'string.email'),"
    " ('nick', 'string.min_len')]"
)


def test_the_pinned_validate_proto_needs_nothing_installed(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    _write(protos, {"pinned/v1/signup.proto": USER_PROTO.format(package="pinned")})
    result = compile_protos([protos])
    assert "buf/validate/validate_pb2.py" in result.files
    validate_pb2 = result.files["buf/validate/validate_pb2.py"].decode()
    assert "FieldMaskRules" in validate_pb2  # protovalidate's whole file
    out = tmp_path / "out"
    write(result, out)
    assert _run(out, "pinned") == EXPECTED


def test_the_users_own_validate_proto_wins(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    includes = tmp_path / "third_party"
    _write(protos, {"own/v1/signup.proto": USER_PROTO.format(package="own")})
    _write(includes, {"buf/validate/validate.proto": OWN_VALIDATE_PROTO})
    result = compile_protos([protos], includes=[includes])
    validate_pb2 = result.files["buf/validate/validate_pb2.py"].decode()
    assert "FieldMaskRules" not in validate_pb2  # the stand-in, not the pinned copy
    out = tmp_path / "out"
    write(result, out)
    assert _run(out, "own") == EXPECTED


def test_both_dialects_on_one_field_is_an_error(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    text = USER_PROTO.format(package="both").replace(
        "[(errgen.field).string.min_len = 2]",
        "[(errgen.field).string.min_len = 2, (buf.validate.field).string.email = true]",
    )
    _write(protos, {"both/v1/signup.proto": text})
    with pytest.raises(CompileError) as raised:
        compile_protos([protos])
    assert str(raised.value) == (
        "both/v1/signup.proto:11:19: field nick: both (errgen.field) and "
        "(buf.validate.field); use one"
    )


PREDEFINED_PROTO = """
edition = "2023";
package typed.v1;
import "buf/validate/validate.proto";

extend buf.validate.StringRules {
  bool isbn = 80048952 [(buf.validate.predefined).cel = {
    id: "string.isbn"
    expression: "!rule || this.matches('^[0-9]{9}[0-9X]$') ? '' : 'must be an ISBN-10'"
  }];
}

message Book {
  string isbn = 1 [(buf.validate.field).string.(typed.v1.isbn) = true];
}
"""

USER_CODE = """
from buf.validate import validate_pb2
from typed.v1 import book_pb2

rules = validate_pb2.StringRules()
flag: bool = rules.Extensions[book_pb2.isbn]
"""


def test_the_written_validate_pb2_is_typed(tmp_path: Path) -> None:
    """A file that extends protovalidate's rules (a predefined rule) has a stub naming ``validate_pb2``'s
    classes: the written module gets its typed stub too, so that user code passes mypy --strict.
    """
    protos = tmp_path / "protos"
    _write(protos, {"typed/v1/book.proto": PREDEFINED_PROTO})
    result = compile_protos([protos])
    assert "buf/validate/validate_pb2.pyi" in result.files
    out = tmp_path / "out"
    write(result, out)
    (tmp_path / "user.py").write_text(USER_CODE)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "user.py"],
        cwd=tmp_path,
        env={"MYPYPATH": str(out), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
