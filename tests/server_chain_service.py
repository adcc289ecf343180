"""The test service of the server-chain tests (``test_server_sync.py``, ``test_server_aio.py``).

One proto with an error catalogue, ``map_exceptions`` at file, service and method level, one rpc per arity
and one rpc that needs auth. Every handler acts on ``Req.mode``:

- ``ok``: answer; ``declared``: raise ``ItemMissing`` (declared); ``undeclared``: raise ``OutOfStock``;
- ``key``: ``KeyError`` -> service mapping ABORTED (nearer than the file's ``LookupError``);
- ``index``: ``IndexError`` -> file mapping ``LookupError`` NOT_FOUND (subclass match);
- ``zero``: ``ZeroDivisionError`` -> method mapping ``ArithmeticError`` INVALID_ARGUMENT (over the service's);
- ``secret``: ``RuntimeError`` with ``SECRET`` in its text -> INTERNAL; ``abort``: the handler's own abort.

Streaming rpcs act after ``count`` good messages (server stream) or on the first request whose mode is not
``ok`` (client stream, bidi), so a failure comes after the messages already sent.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

from tests.support import build, load

PROTO = """
syntax = "proto3";
package srvchain.v1;
import "grpc_errgen/options.proto";

option (errgen.file) = {
  map_exceptions: { exception: "builtins.LookupError" code: NOT_FOUND message: "lookup failed" }
};

enum ChainError {
  option (errgen.errors) = { domain: "chain.test.example" };
  CHAIN_ERROR_UNSPECIFIED = 0 [(errgen.error) = { code: UNKNOWN }];
  ITEM_MISSING = 1 [(errgen.error) = { code: NOT_FOUND message: "item missing" }];
  OUT_OF_STOCK = 2 [(errgen.error) = { code: FAILED_PRECONDITION message: "out of stock" }];
}

message Req {
  string mode = 1;
  int32 count = 2;
  string name = 3 [(errgen.field).string.min_len = 3];
  repeated string tags = 4 [(errgen.field).repeated.items.string.max_len = 2];
  // A pattern on bytes that are not UTF-8 cannot be evaluated: a validation runtime error.
  bytes blob = 5 [(errgen.field).bytes.pattern = "^[a-z]*$"];
}

message Resp {
  string text = 1;
  string principal = 2;
  string request_id = 3;
}

service Chain {
  option (errgen.service) = {
    map_exceptions: { exception: "builtins.KeyError" code: ABORTED message: "key conflict" }
    map_exceptions: { exception: "builtins.ArithmeticError" code: OUT_OF_RANGE }
  };
  rpc Unary(Req) returns (Resp) {
    option (errgen.method) = {
      errors: "ITEM_MISSING"
      map_exceptions: { exception: "builtins.ArithmeticError" code: INVALID_ARGUMENT message: "bad arithmetic" }
    };
  }
  rpc ServerStream(Req) returns (stream Resp) {
    option (errgen.method) = {
      errors: "ITEM_MISSING"
      map_exceptions: { exception: "builtins.ArithmeticError" code: INVALID_ARGUMENT message: "bad arithmetic" }
    };
  }
  rpc ClientStream(stream Req) returns (Resp) {
    option (errgen.method) = {
      errors: "ITEM_MISSING"
      map_exceptions: { exception: "builtins.ArithmeticError" code: INVALID_ARGUMENT message: "bad arithmetic" }
    };
  }
  rpc Bidi(stream Req) returns (stream Resp) {
    option (errgen.method) = {
      errors: "ITEM_MISSING"
      map_exceptions: { exception: "builtins.ArithmeticError" code: INVALID_ARGUMENT message: "bad arithmetic" }
    };
  }
  rpc Secure(Req) returns (Resp) {
    option (errgen.method) = { auth_required: true scopes: "chain.write" };
  }
}
"""

SECRET = "SECRET-do-not-leak-4711"
ARITIES = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
METHODS = {
    "unary_unary": "Unary",
    "unary_stream": "ServerStream",
    "stream_unary": "ClientStream",
    "stream_stream": "Bidi",
}

#: mode -> (code, message) the client must see.
EXPECTED: dict[str, tuple[grpc.StatusCode, str]] = {
    "declared": (grpc.StatusCode.NOT_FOUND, "item 7 missing"),
    "undeclared": (grpc.StatusCode.FAILED_PRECONDITION, "out of stock"),
    "key": (grpc.StatusCode.ABORTED, "key conflict"),
    "index": (grpc.StatusCode.NOT_FOUND, "lookup failed"),
    "zero": (grpc.StatusCode.INVALID_ARGUMENT, "bad arithmetic"),
    "secret": (grpc.StatusCode.INTERNAL, "internal error"),
    "abort": (grpc.StatusCode.RESOURCE_EXHAUSTED, "handler says no"),
}


@dataclasses.dataclass
class Generated:
    pb2: ModuleType
    pb2_grpc: ModuleType
    errgen: ModuleType


def build_service(tmp: Path) -> Generated:
    build(tmp, {"srvchain/v1/chain.proto": PROTO})
    return Generated(
        pb2=load("srvchain.v1.chain_pb2"),
        pb2_grpc=load("srvchain.v1.chain_pb2_grpc"),
        errgen=load("srvchain.v1.chain_errgen"),
    )


def raise_for(mode: str, generated: Generated) -> None:
    """Raise what ``mode`` asks for (``ok`` and ``abort`` return: the caller handles them)."""
    if mode == "declared":
        raise generated.errgen.ItemMissing("item 7 missing", metadata={"sku": "7"})
    if mode == "undeclared":
        raise generated.errgen.OutOfStock()
    if mode == "key":
        raise KeyError(SECRET)
    if mode == "index":
        raise IndexError(SECRET)
    if mode == "zero":
        raise ZeroDivisionError(SECRET)
    if mode == "secret":
        raise RuntimeError(SECRET)


def requests(pb2: ModuleType, mode: str, count: int, **fields: Any) -> list[Any]:
    """``count`` good requests, then one with ``mode`` (none when ``mode`` is ok)."""
    fields.setdefault("name", "good")
    good = [pb2.Req(mode="ok", **fields) for _ in range(count)]
    return good if mode == "ok" else [*good, pb2.Req(mode=mode, **fields)]


def leaked(secret: str, error: Any) -> list[str]:
    """Where ``secret`` shows in what the client got: code, details, trailers."""
    places = []
    if secret in str(error.code()) or secret in (error.details() or ""):
        places.append("details")
    for key, value in error.trailing_metadata() or ():
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if secret in key or secret in text:
            places.append(key)
    return places
