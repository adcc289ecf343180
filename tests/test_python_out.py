"""``generate`` runs protoc's Python and gRPC generators from the descriptor set in a child process: the same bytes
as protoc run on the .proto files, a failure there is protoc's message alone, and no child outlives a run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from grpc_tools import protoc

from grpc_errgen.codegen import protoc as engine
from grpc_errgen.codegen import validate_proto
from grpc_errgen.codegen.protoc import CompileError, builtin_includes, compile_protos

ROOT = Path(__file__).resolve().parent.parent

#: What makes protoc's set differ from the .proto files: json_name on every field (written or not, nested, in
#: oneofs, maps, groups and extensions) and comments everywhere (the gRPC generator copies the services').
TRICKY = {
    "tricky/v1/old.proto": """
        // The file.
        syntax = "proto2";
        package tricky.v1;
        import "google/protobuf/descriptor.proto";

        extend google.protobuf.FieldOptions { optional string tag = 50001; }

        // A message.
        message Outer {
          // A field.
          optional string plain_name = 1 [(tag) = "t"];
          optional string custom = 2 [json_name = "somethingElse"];
          optional string same_as_default = 3 [json_name = "sameAsDefault"];
          message Inner {
            optional int32 inner_value = 1 [json_name = "iv"];
            optional int32 other_value = 2;
          }
          optional Inner inner = 4;
          map<string, Inner> by_key = 5;
          oneof choice {
            string first_choice = 6;
            int64 second_choice = 7 [json_name = "second"];
          }
          optional group Grouped = 8 { optional int32 group_value = 9; }
          extensions 100 to 199;
          extend Outer { optional string nested_ext = 101; }
        }
        extend Outer { optional int32 top_ext = 150; }

        // A service.
        service Tricky {
          // A method.
          rpc Get(Outer) returns (Outer);
          rpc Stream(stream Outer) returns (stream Outer) {
            option deprecated = true;  // trailing
          }
        }
    """,
    "tricky/v1/new.proto": """
        edition = "2023";
        package tricky.v1;
        import "tricky/v1/old.proto";

        message Fresh {
          string snake_case_name = 1 [json_name = "renamed"];
          Outer outer = 2;
          repeated int32 packed_values = 3;
        }
        /* Detached. */

        /** Block comment on a service. */
        service FreshService { rpc Put(Fresh) returns (Fresh); }
    """,
}


def _write(root: Path, sources: dict[str, str]) -> Path:
    for name, text in sources.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return root


def _from_proto_files(protos: Path, out: Path) -> dict[str, bytes]:
    """protoc's own ``_pb2.py`` and ``_pb2_grpc.py``, run on the .proto files."""
    roots = [protos, *builtin_includes()]
    pinned = (
        [f"--descriptor_set_in={validate_proto.PINNED}"]
        if validate_proto.pinned_needed(roots)
        else []
    )
    out.mkdir()
    status = protoc.main(
        [
            "protoc",
            *(f"-I{root}" for root in roots),
            *pinned,
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *sorted(str(p) for p in protos.rglob("*.proto")),
        ]
    )
    assert status == 0
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in out.rglob("*.py")
    }


@pytest.mark.parametrize(
    "tree",
    [
        "tricky",
        "examples",
        *(f"golden/{c}" for c in ("cel", "hostile", "rules", "services")),
    ],
)
def test_same_bytes_as_protoc_on_the_proto_files(tree: str, tmp_path: Path) -> None:
    if tree == "tricky":
        protos = _write(tmp_path / "protos", TRICKY)
    elif tree == "examples":
        protos = ROOT / "examples" / "protos"
    else:
        protos = ROOT / "tests" / tree / "protos"
    expected = _from_proto_files(protos, tmp_path / "expected")
    produced = {
        name: content
        for name, content in compile_protos([protos]).files.items()
        if name.endswith(("_pb2.py", "_pb2_grpc.py"))
    }
    assert sorted(produced) == sorted(expected)
    for name, content in produced.items():
        assert content == expected[name], name
    if (
        tree == "tricky"
    ):  # the case is tricky: protoc's set as it comes would give other bytes
        assert b'json_name="somethingElse"' not in expected["tricky/v1/old_pb2.py"]
        assert b"A method." in expected["tricky/v1/old_pb2_grpc.py"]


def _children() -> set[int]:
    """This process's child processes (zombies included: they are children until reaped)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def test_a_failure_in_the_child_is_protocs_message_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse succeeded; protoc then fails in the child (here: asked for a file the set lacks)."""
    protos = _write(
        tmp_path / "protos", {"fail/v1/a.proto": TRICKY["tricky/v1/old.proto"]}
    )
    monkeypatch.setattr(
        engine,
        "_CHILD",
        engine._CHILD.replace(
            "protoc.main(sys.argv)", "protoc.main([*sys.argv, 'no/such.proto'])"
        ),
    )
    before = _children()
    with pytest.raises(CompileError) as caught:
        compile_protos([protos])
    message = str(caught.value)
    assert "no/such.proto" in message
    assert "Traceback" not in message
    assert message.count("\n") == 0, message
    assert _children() == before


def test_a_child_that_cannot_run_protoc_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python itself failing in the child (here: an import) is its last line, never a traceback."""
    protos = _write(
        tmp_path / "protos", {"noimport/v1/a.proto": TRICKY["tricky/v1/old.proto"]}
    )
    monkeypatch.setattr(engine, "_CHILD", "import grpc_errgen_no_such_module")
    with pytest.raises(CompileError) as caught:
        compile_protos([protos])
    assert str(caught.value) == (
        "grpc-errgen: protoc's Python generators did not run in a child process: "
        "ModuleNotFoundError: No module named 'grpc_errgen_no_such_module'"
    )


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), CompileError("x.proto:1:1: no")])
def test_no_child_outlives_a_stopped_run(
    stop: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or our own failure while protoc still runs in the child: the child is killed and reaped."""
    protos = _write(
        tmp_path / "protos", {"stop/v1/a.proto": TRICKY["tricky/v1/old.proto"]}
    )
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(engine.subprocess, "Popen", Recorded)
    monkeypatch.setattr(engine, "_CHILD", "import time; time.sleep(60)")
    before = _children()

    def stopped(request: object) -> dict[str, bytes]:
        assert len(started) == 1 and started[0].poll() is None  # the child is running
        raise stop

    monkeypatch.setattr(engine, "typed_stubs", stopped)
    with pytest.raises(type(stop)):
        compile_protos([protos])
    assert started[0].returncode == -signal.SIGKILL  # killed, not waited out
    assert _children() == before  # and reaped
