"""Option content we do not understand is an error, never silently dropped (fail closed).

A proto compiled against a newer ``grpc_errgen/options.proto`` (a rule this generator does not know) arrives with
unknown fields inside our extensions; ignoring them would generate a validator without the rule, or none at all.
Every ``(errgen.*)`` option of a file is searched, at any depth, for fields this generator's options.proto does not
declare; each is reported at the option's position.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf import descriptor_pb2
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from grpc_errgen import options_pb2
from grpc_errgen.codegen.diagnostics import GenContext

_EXTENSION_NUMBER = options_pb2.FIELD_FIELD_NUMBER  # one number for every extension
_SKIPPED = {descriptor_pb2.FileDescriptorProto.SOURCE_CODE_INFO_FIELD_NUMBER}


def _options(
    message: Message, path: tuple[int, ...]
) -> Iterator[tuple[Message, tuple[int, ...]]]:
    """Every ``options`` message in a descriptor proto, with its source path."""
    for field, value in message.ListFields():
        if field.message_type is None or (not path and field.number in _SKIPPED):
            continue
        if field.name == "options":
            yield value, (*path, field.number)
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _options(item, (*path, field.number, index))
        else:
            yield from _options(value, (*path, field.number))


def _unknown(
    message: Message, where: str, path: tuple[int, ...]
) -> Iterator[tuple[str, tuple[int, ...]]]:
    """``where.field`` names (and source paths) of unknown field numbers in ``message`` and below."""
    unknowns = UnknownFieldSet(message)
    for index in range(len(unknowns)):
        number = unknowns[index].field_number
        yield f"field {number} in {where}", (*path, number)
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue  # our options have no maps
        if field.is_repeated:
            for index, item in enumerate(value):
                yield from _unknown(
                    item, f"{where}.{field.name}[{index}]", (*path, field.number, index)
                )
        else:
            yield from _unknown(value, f"{where}.{field.name}", (*path, field.number))


def check(ctx: GenContext, file_name: str) -> None:
    """Report every unknown field inside the ``(errgen.*)`` options of ``file_name``."""
    for options, path in _options(ctx.protos[file_name], ()):
        for field, value in options.ListFields():
            if not (field.is_extension and field.number == _EXTENSION_NUMBER):
                continue
            for what, where in _unknown(
                value, f"({field.full_name})", (*path, _EXTENSION_NUMBER)
            ):
                ctx.error(
                    file_name,
                    where,
                    f"unknown option {what}: written for a newer grpc_errgen/options.proto? "
                    "This grpc-errgen cannot apply it and will not ignore it (upgrade grpc-errgen)",
                )
