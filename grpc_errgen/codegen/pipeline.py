"""``generate(request) -> response``: the one code path behind both the protoc plugin and the CLI.

descriptors -> front ends (``frontend.errgen_rules``, ``frontend.errgen_services``) -> model -> back end
(``backend.module``) -> files. Every file of the request is read once; the problems of the files to generate are
reported (all of them, and no file is written when there is any).
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.compiler import plugin_pb2

# Importing options_pb2 registers the extensions the request's options carry.
from grpc_errgen import options_pb2  # noqa: F401
from grpc_errgen.codegen import validate_proto
from grpc_errgen.codegen.backend import module, names
from grpc_errgen.codegen.diagnostics import GenContext
from grpc_errgen.codegen.frontend import errgen_rules, errgen_services

#: Our own options file: generating it (as buf does when it is in the module) produces nothing.
OPTIONS_PROTO = "grpc_errgen/options.proto"

_FEATURES = (
    plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    | plugin_pb2.CodeGeneratorResponse.FEATURE_SUPPORTS_EDITIONS
)
#: --errgen_opt name -> accepted values; unknown ones are refused.
#: ``invalid_messages``: ``fail`` (default): a mistake in any rule fails the run and nothing is written;
#: ``refuse``: a message whose rules have a mistake is refused (its validator raises ValidationRuntimeError,
#: the problem is printed as a warning naming the message) and everything else generates, as protovalidate
#: compiles each message on its own.
_PARAMETERS: dict[str, set[str]] = {"invalid_messages": {"fail", "refuse"}}


def _parse_parameters(parameter: str) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    problems: list[str] = []
    for item in filter(None, (part.strip() for part in parameter.split(","))):
        name, _, value = item.partition("=")
        if name not in _PARAMETERS or value not in _PARAMETERS[name]:
            problems.append(f"--errgen_opt: unknown parameter {item!r}")
        values[name] = value
    return values, problems


def generate(
    request: plugin_pb2.CodeGeneratorRequest,
    warn: Callable[[str], None] | None = None,
) -> plugin_pb2.CodeGeneratorResponse:
    """Every ``_errgen.py`` the request's files ask for, or every problem found in them (and no files).

    ``warn`` receives what does not stop the run (messages refused with ``invalid_messages=refuse``).
    """
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=_FEATURES,
        minimum_edition=descriptor_pb2.EDITION_PROTO2,
        maximum_edition=descriptor_pb2.EDITION_2023,
    )
    parameters, problems = _parse_parameters(request.parameter)
    if problems:
        response.error = "\n".join(problems)
        return response
    pool = descriptor_pool.DescriptorPool()
    protos = {}
    for proto in request.proto_file:
        pool.Add(proto)
        protos[proto.name] = proto
    ctx = GenContext(
        pool=pool,
        protos=protos,
        refuse_messages=parameters.get("invalid_messages") == "refuse",
    )
    wanted = [name for name in request.file_to_generate if name != OPTIONS_PROTO]
    validators = errgen_rules.read_run(ctx)
    models = errgen_services.read_run(ctx, validators, wanted)
    for name in wanted:
        for path, problem in module.name_problems(models[name]):
            ctx.error(name, path, problem)
    for line in ctx.warnings:
        if warn is not None and line.partition(":")[0] in wanted:
            warn(line)
    found = [line for name in wanted for line in ctx.diagnostics.get(name, [])]
    if found:
        response.error = "\n".join(found)
        return response
    validate_pb2 = validate_proto.python_module(request)
    if validate_pb2 is not None:
        response.file.append(validate_pb2)
    for name in wanted:
        if not models[name].is_empty:
            response.file.add(
                name=names.output_path(name), content=module.render(models[name])
            )
    return response
