"""Typed stubs for protoc's Python output: ``_pb2.pyi`` and ``_pb2_grpc.pyi`` from mypy-protobuf, run in-process.

protoc's own ``--pyi_out`` stubs fail ``mypy --strict`` (map fields) and ``_pb2_grpc`` gets none; mypy-protobuf's
give typed messages, stubs (sync and ``grpc.aio``) and servicers.
"""

from __future__ import annotations

from google.protobuf.compiler import plugin_pb2
from mypy_protobuf import main as mypy_protobuf


def typed_stubs(request: plugin_pb2.CodeGeneratorRequest) -> dict[str, bytes]:
    """The ``.pyi`` files of the request's files to generate: output path -> content."""
    descriptors = mypy_protobuf.Descriptors(request)
    response = plugin_pb2.CodeGeneratorResponse()
    options = {
        "quiet": True,
        "readable_stubs": False,
        "relax_strict_optional_primitives": False,
        "use_default_deprecation_warnings": False,
        "generate_concrete_servicer_stubs": False,
    }
    mypy_protobuf.generate_mypy_stubs(descriptors, response, *options.values())
    grpc_response = plugin_pb2.CodeGeneratorResponse()
    mypy_protobuf.generate_mypy_grpc_stubs(
        descriptors, grpc_response, *options.values(), mypy_protobuf.GRPCType.BOTH
    )
    return {
        file.name: file.content.encode()
        for file in (*response.file, *grpc_response.file)
    }
