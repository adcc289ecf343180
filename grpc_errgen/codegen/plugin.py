"""``protoc-gen-errgen``: the protoc plugin. Reads a CodeGeneratorRequest on stdin, writes the response on stdout."""

from __future__ import annotations

import sys

from google.protobuf.compiler import plugin_pb2

from grpc_errgen.codegen.pipeline import generate


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = generate(request, warn=lambda line: print(line, file=sys.stderr))
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
