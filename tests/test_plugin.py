"""``protoc-gen-errgen`` on bad input: one clear line and a failure, never a traceback (SPEC 4).

Problems with the request's protos go in ``CodeGeneratorResponse.error`` (protoc prints it and fails); input that is
not a request at all is one line on stderr and exit status 1. The fuzz test feeds random and mutated requests to
the plugin's entry point and requires that every failure is one of those, never a bug of ours.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from google.protobuf.compiler import plugin_pb2
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grpc_errgen.codegen import plugin
from grpc_errgen.codegen.protoc import build_request

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@cache
def example_request() -> bytes:
    request = build_request([ROOT / "examples" / "protos"]).request
    assert list(request.file_to_generate) == ["shop/v1/orders.proto"]
    return request.SerializeToString()


def _request() -> plugin_pb2.CodeGeneratorRequest:
    return plugin_pb2.CodeGeneratorRequest.FromString(example_request())


def _run_plugin(data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "protoc-gen-errgen")], input=data, capture_output=True
    )


def _one_line_failure(done: subprocess.CompletedProcess[bytes], text: str) -> None:
    assert done.returncode == 1
    assert done.stdout == b""
    stderr = done.stderr.decode()
    assert stderr.count("\n") == 1 and stderr.startswith("protoc-gen-errgen: ")
    assert text in stderr and "Traceback" not in stderr


def test_the_example_request_generates() -> None:
    done = _run_plugin(example_request())
    assert done.returncode == 0, done.stderr
    response = plugin_pb2.CodeGeneratorResponse.FromString(done.stdout)
    assert not response.error
    assert [f.name for f in response.file] == ["shop/v1/orders_errgen.py"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"garbage\xff\xff\xff", id="garbage"),
        pytest.param(example_request()[:-7], id="truncated"),
        pytest.param(example_request() + b"\x07", id="trailing-byte"),
        pytest.param(b"\n\x80", id="string-runs-past-the-end"),
    ],
)
def test_undecodable_stdin_is_one_line_and_exit_1(data: bytes) -> None:
    _one_line_failure(_run_plugin(data), "stdin is not a CodeGeneratorRequest")


def _without(name: str) -> plugin_pb2.CodeGeneratorRequest:
    request = _request()
    kept = [f for f in request.proto_file if f.name != name]
    del request.proto_file[:]
    request.proto_file.extend(kept)
    return request


def _missing_file_to_generate() -> plugin_pb2.CodeGeneratorRequest:
    request = _request()
    request.file_to_generate.append("shop/v1/gone.proto")
    return request


def _duplicate_file() -> plugin_pb2.CodeGeneratorRequest:
    request = _request()
    last = plugin_pb2.CodeGeneratorRequest().proto_file.add()
    last.CopyFrom(request.proto_file[-1])
    request.proto_file.append(last)
    return request


def _unresolvable_type() -> plugin_pb2.CodeGeneratorRequest:
    request = _request()
    last = request.proto_file[-1]
    last.message_type[0].field[0].type_name = ".shop.v1.NoSuchMessage"
    last.message_type[0].field[0].type = last.message_type[0].field[0].TYPE_MESSAGE
    return request


@pytest.mark.parametrize(
    "request_, error",
    [
        pytest.param(
            _missing_file_to_generate(),
            "shop/v1/gone.proto: in file_to_generate but not in the request's proto_file",
            id="file-to-generate-missing",
        ),
        pytest.param(
            _duplicate_file(),
            "shop/v1/orders.proto: twice in the request's proto_file",
            id="duplicate-file",
        ),
        pytest.param(
            _without("google/rpc/code.proto"),
            "imports google/rpc/code.proto, which is not before it in the request's proto_file",
            id="missing-import",
        ),
        pytest.param(
            _unresolvable_type(),
            "shop/v1/orders.proto: Couldn't build proto file into descriptor pool",
            id="unresolvable-type",
        ),
    ],
)
def test_bad_requests_are_a_response_error(
    request_: plugin_pb2.CodeGeneratorRequest, error: str
) -> None:
    done = _run_plugin(request_.SerializeToString())
    assert done.returncode == 0 and done.stderr == b""  # protoc prints the error
    response = plugin_pb2.CodeGeneratorResponse.FromString(done.stdout)
    assert error in response.error
    assert "internal error" not in response.error and not response.file


def test_bad_request_through_protoc_is_one_line(tmp_path: Path) -> None:
    """protoc itself never sends a bad request; a missing import is still reported by protoc, in one line."""
    (tmp_path / "a.proto").write_text(
        'syntax = "proto3";\nimport "nowhere/b.proto";\nmessage A {}\n'
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{tmp_path}",
            f"--errgen_out={tmp_path}",
            "a.proto",
        ],
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "nowhere/b.proto: File not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_terminal_stdin_says_what_the_plugin_is() -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [str(BIN / "protoc-gen-errgen")],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 1
    assert "a protoc plugin" in done.stderr and done.stderr.count("\n") == 1


def _check_no_bug(data: bytes) -> None:
    """The contract the fuzz test holds the plugin to: bad input or a clean response, never a bug of ours."""
    try:
        output = plugin.respond(data)
    except plugin.BadInput as problem:
        assert "\n" not in str(problem)
        return
    response = plugin_pb2.CodeGeneratorResponse.FromString(output)
    assert "internal error" not in response.error, response.error


_FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check_no_bug(data)


@_FUZZ
@given(st.data())
def test_fuzz_mutated_requests(data: st.DataObject) -> None:
    """Truncations, byte flips, insertions and deletions of a real request (the example's)."""
    raw = bytearray(example_request())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif kind == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del raw[at : at + data.draw(st.integers(1, 8))]
        else:
            del raw[at:]
        if not raw:
            break
    _check_no_bug(bytes(raw))


@_FUZZ
@given(st.data())
def test_fuzz_mutated_descriptors(data: st.DataObject) -> None:
    """Requests that parse but whose descriptors are changed field by field (names, numbers, types, options)."""
    request = _request()
    target = data.draw(
        st.sampled_from([request.proto_file[-1], *request.proto_file])
    )  # the example's own file most often
    for _ in range(data.draw(st.integers(1, 3))):
        messages = list(target.message_type)
        if not messages:
            break
        message = data.draw(st.sampled_from(messages))
        if not message.field:
            continue
        field = data.draw(st.sampled_from(list(message.field)))
        change = data.draw(
            st.sampled_from(
                ["name", "number", "type", "label", "options", "flip-option", "drop"]
            )
        )
        if change == "name":
            field.name = data.draw(st.text(max_size=6))
        elif change == "number":
            field.number = data.draw(st.integers(-5, 2**29 + 5))
        elif change == "type":
            field.type = data.draw(st.integers(1, 18))
        elif change == "label":
            field.label = data.draw(st.integers(1, 3))
        elif change == "options":
            with contextlib.suppress(
                DecodeError
            ):  # bytes that do not even parse as options: no change
                field.options.ParseFromString(data.draw(st.binary(max_size=40)))
        elif (
            change == "flip-option"
        ):  # a changed byte inside the field's options ((errgen.field) rules)
            raw = bytearray(field.options.SerializeToString())
            if raw:
                raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(
                    st.integers(1, 255)
                )
                with contextlib.suppress(DecodeError):
                    field.options.ParseFromString(bytes(raw))
        else:
            message.field.remove(field)
    _check_no_bug(request.SerializeToString())
