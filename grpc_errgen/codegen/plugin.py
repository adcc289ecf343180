"""``protoc-gen-errgen``: the protoc plugin. Reads a CodeGeneratorRequest on stdin, writes the response on stdout.

Failures follow protoc's convention: a problem with the request's protos (a diagnostic, a missing import, a
duplicate file) goes in ``CodeGeneratorResponse.error``, which protoc prints and fails on. Input that is not a
CodeGeneratorRequest at all gets one line on stderr and exit status 1. Never a traceback.
"""

from __future__ import annotations

import sys

from google.protobuf.compiler import plugin_pb2
from google.protobuf.message import DecodeError

from grpc_errgen.codegen.pipeline import generate

PROG = "protoc-gen-errgen"


class BadInput(Exception):
    """The plugin's stdin is not a CodeGeneratorRequest."""


def parse_request(data: bytes) -> plugin_pb2.CodeGeneratorRequest:
    try:
        return plugin_pb2.CodeGeneratorRequest.FromString(data)
    except (DecodeError, RecursionError) as problem:
        raise BadInput(
            f"stdin is not a CodeGeneratorRequest ({len(data)} bytes that do not parse: "
            f"{str(problem) or type(problem).__name__}); run this plugin through protoc --errgen_out=DIR"
        ) from None


def respond(data: bytes) -> bytes:
    """The serialized response to the serialized request ``data``; ``BadInput`` when it does not parse.

    Warnings (messages refused with ``--errgen_opt=invalid_messages=refuse``) go to stderr, which protoc shows.
    """
    request = parse_request(data)
    return generate(
        request, warn=lambda line: print(line, file=sys.stderr)
    ).SerializeToString()


def main() -> None:
    if sys.stdin.isatty():
        print(
            f"{PROG}: a protoc plugin, it reads protoc's request on stdin: "
            "run `protoc --errgen_out=DIR ...` (or `grpc-errgen generate`)",
            file=sys.stderr,
        )
        raise SystemExit(1)
    try:
        output = respond(sys.stdin.buffer.read())
    except BadInput as problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        raise SystemExit(1) from None
    sys.stdout.buffer.write(output)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
