"""`(errgen.method).skip_validation`: neither the server chain nor a `validate=True` client checks that rpc."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

import grpc_errgen
from grpc_errgen import errors
from tests.support import build, load

PROTO = """
    syntax = "proto3";
    package skipval.v1;
    import "grpc_errgen/options.proto";
    message Req { string text = 1 [(errgen.field).string.min_len = 3]; }
    message Resp { string text = 1; }
    service Echo {
      rpc Checked(Req) returns (Resp);
      rpc Unchecked(Req) returns (Resp) { option (errgen.method).skip_validation = true; }
      rpc CheckedStream(stream Req) returns (Resp);
      rpc UncheckedStream(stream Req) returns (Resp) {
        option (errgen.method).skip_validation = true;
      }
    }
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    build(tmp_path_factory.mktemp("skipval"), {"skipval/v1/echo.proto": PROTO})
    errgen, pb2, pb2_grpc = (
        load(f"skipval.v1.echo_{suffix}") for suffix in ("errgen", "pb2", "pb2_grpc")
    )

    calls: list[str] = []

    class Echo(pb2_grpc.EchoServicer):  # type: ignore[misc, name-defined]
        def Checked(self, request: Any, context: Any) -> Any:
            calls.append("Checked")
            return pb2.Resp(text=request.text)

        def Unchecked(self, request: Any, context: Any) -> Any:
            calls.append("Unchecked")
            return pb2.Resp(text=request.text)

        def CheckedStream(self, requests: Any, context: Any) -> Any:
            calls.append("CheckedStream")
            return pb2.Resp(text="".join(r.text for r in requests))

        def UncheckedStream(self, requests: Any, context: Any) -> Any:
            calls.append("UncheckedStream")
            return pb2.Resp(text="".join(r.text for r in requests))

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=grpc_errgen.server_interceptors(errgen, log=False),
    )
    pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", (errgen, pb2, pb2_grpc, calls)
    server.stop(None)


@pytest.mark.parametrize("client_validates", [False, True])
def test_skip_validation_on_both_sides(
    target: tuple[str, Any], client_validates: bool, tmp_path: Path
) -> None:
    address, (errgen, pb2, pb2_grpc, calls) = target
    calls.clear()
    interceptors = grpc_errgen.client_interceptors(errgen, validate=client_validates)
    with grpc.insecure_channel(address) as channel:
        stub = pb2_grpc.EchoStub(grpc.intercept_channel(channel, *interceptors))
        short = pb2.Req(text="x")
        with pytest.raises(errors.ValidationError) as unary:
            stub.Checked(short)
        assert [v.rule for v in unary.value.violations] == ["string.min_len"]
        with pytest.raises(errors.ValidationError):
            stub.CheckedStream(iter([pb2.Req(text="long"), short]))
        assert stub.Unchecked(short).text == "x"
        assert stub.UncheckedStream(iter([short, short])).text == "xx"
    # The bad unary request never reaches the handler: the validating client does not send it, and
    # otherwise the server chain rejects it first.
    assert "Checked" not in calls
    assert calls.count("Unchecked") == 1 and calls.count("UncheckedStream") == 1
