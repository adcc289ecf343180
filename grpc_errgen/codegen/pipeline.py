"""``generate(request) -> response``: the one code path behind both the protoc plugin and the CLI.

descriptors -> front ends (``frontend.errgen_rules``, ``frontend.errgen_services``) -> model -> back end
(``backend.module``) -> files. Every file of the request is read once; the problems of the files to generate are
reported (all of them, and no file is written when there is any).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.compiler import plugin_pb2

# Importing options_pb2 registers the extensions the request's options carry.
from grpc_errgen import options_pb2  # noqa: F401
from grpc_errgen.codegen import validate_proto
from grpc_errgen.codegen.backend import module, names
from grpc_errgen.codegen.diagnostics import GenContext
from grpc_errgen.codegen.frontend import (
    errgen_rules,
    errgen_services,
    unknown_options,
)
from grpc_errgen.codegen.model.files import FileModel

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


def _request_problems(request: plugin_pb2.CodeGeneratorRequest) -> list[str]:
    """What makes a request unusable before any option is read: protoc never sends such a request, other
    drivers (or a truncated descriptor set) might."""
    problems: list[str] = []
    seen: set[str] = set()
    for proto in request.proto_file:
        if proto.name in seen:
            problems.append(f"{proto.name}: twice in the request's proto_file")
        for dependency in proto.dependency:
            if dependency not in seen:
                problems.append(
                    f"{proto.name}: imports {dependency}, which is not before it in the request's proto_file"
                )
        seen.add(proto.name)
    for name in request.file_to_generate:
        if name not in seen:
            problems.append(
                f"{name}: in file_to_generate but not in the request's proto_file"
            )
    return problems


def _context(
    request: plugin_pb2.CodeGeneratorRequest, parameters: dict[str, str]
) -> tuple[GenContext | None, list[str]]:
    """The run's descriptor pool and context, or the problems that prevent building them."""
    problems = _request_problems(request)
    if problems:
        return None, problems
    pool = descriptor_pool.DescriptorPool()
    protos = {}
    for proto in request.proto_file:
        try:
            pool.Add(proto)
        except (
            TypeError,
            ValueError,
        ) as problem:  # what the pool says of a bad descriptor
            return None, [f"{proto.name}: {problem}"]
        protos[proto.name] = proto
    return (
        GenContext(
            pool=pool,
            protos=protos,
            refuse_messages=parameters.get("invalid_messages") == "refuse",
        ),
        [],
    )


def generate(
    request: plugin_pb2.CodeGeneratorRequest,
    warn: Callable[[str], None] | None = None,
) -> plugin_pb2.CodeGeneratorResponse:
    """Every ``_errgen.py`` the request's files ask for, or every problem found in them (and no files).

    ``warn`` receives what does not stop the run (messages refused with ``invalid_messages=refuse``).
    A bug of ours is reported in ``error`` too, as one line (``GRPC_ERRGEN_TRACEBACK=1`` raises it instead).
    """
    try:
        return _generate(request, warn)
    except Exception as bug:
        if os.environ.get("GRPC_ERRGEN_TRACEBACK"):
            raise
        return plugin_pb2.CodeGeneratorResponse(error=internal_error(bug))


def internal_error(bug: BaseException) -> str:
    """One line for a bug of ours: what and where, never a traceback."""
    where = traceback.extract_tb(bug.__traceback__)[-1]
    text = " ".join(str(bug).split())[:300]
    return (
        f"internal error in grpc-errgen, please report it: {type(bug).__name__}: {text} "
        f"(at {Path(where.filename).name}:{where.lineno}; GRPC_ERRGEN_TRACEBACK=1 shows the traceback)"
    )


def read_models(
    request: plugin_pb2.CodeGeneratorRequest,
    warn: Callable[[str], None] | None = None,
) -> tuple[dict[str, FileModel], list[str]]:
    """The model of every file to generate, or the problems found (``file.proto:LINE:COL: message`` lines).

    The one reading of the request behind every back end (the Python modules here, the catalogue in ``docs``).
    """
    parameters, problems = _parse_parameters(request.parameter)
    if problems:
        return {}, problems
    ctx, problems = _context(request, parameters)
    if ctx is None:
        return {}, problems
    wanted = [name for name in request.file_to_generate if name != OPTIONS_PROTO]
    for name in wanted:
        unknown_options.check(ctx, name)
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
        return {}, found
    return {name: models[name] for name in wanted}, []


def _generate(
    request: plugin_pb2.CodeGeneratorRequest,
    warn: Callable[[str], None] | None,
) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=_FEATURES,
        minimum_edition=descriptor_pb2.EDITION_PROTO2,
        maximum_edition=descriptor_pb2.EDITION_2023,
    )
    models, problems = read_models(request, warn)
    if problems:
        response.error = "\n".join(problems)
        return response
    validate_pb2 = validate_proto.python_module(request)
    if validate_pb2 is not None:
        response.file.append(validate_pb2)
    for name, model in models.items():
        if not model.is_empty:
            response.file.add(
                name=names.output_path(name), content=module.render(model)
            )
    return response
