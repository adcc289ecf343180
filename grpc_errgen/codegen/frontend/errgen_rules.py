"""Front end for our validation options: ``(errgen.field)``, ``(errgen.oneof)``, ``(errgen.message)`` -> model.

Every file of the run is read once (``read_run``); which messages need a validator is decided over all of them,
because a message without rules of its own needs one when a message below it (in any file) has rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from google.protobuf import descriptor, descriptor_pb2

from grpc_errgen import options_pb2
from grpc_errgen.codegen.diagnostics import GenContext
from grpc_errgen.codegen.frontend import options
from grpc_errgen.codegen.frontend.cel_rules import this_of_message
from grpc_errgen.codegen.frontend.standard_rules import StandardRules, family
from grpc_errgen.codegen.model import rules as m

_FILE_MESSAGE = descriptor_pb2.FileDescriptorProto.MESSAGE_TYPE_FIELD_NUMBER
_MESSAGE_FIELD = descriptor_pb2.DescriptorProto.FIELD_FIELD_NUMBER
_MESSAGE_NESTED = descriptor_pb2.DescriptorProto.NESTED_TYPE_FIELD_NUMBER
_FIELD_OPTIONS = descriptor_pb2.FieldDescriptorProto.OPTIONS_FIELD_NUMBER
_FIELD_EXT = options_pb2.FIELD_FIELD_NUMBER
_MESSAGE_OPTIONS = descriptor_pb2.DescriptorProto.OPTIONS_FIELD_NUMBER
_MESSAGE_EXT = options_pb2.MESSAGE_FIELD_NUMBER


@dataclass(frozen=True)
class _Found:
    desc: descriptor.Descriptor
    proto: descriptor_pb2.DescriptorProto
    path: tuple[int, ...]


def _walk(
    messages: Iterable[descriptor_pb2.DescriptorProto],
    descriptors: list[descriptor.Descriptor],
    path: tuple[int, ...],
) -> Iterator[_Found]:
    """Every message (nested ones too, map entries left out) with its DescriptorProto and source path."""
    by_name = {d.name: d for d in descriptors}
    for index, proto in enumerate(messages):
        desc = by_name[proto.name]
        if desc.GetOptions().map_entry:
            continue
        here = (*path, index)
        yield _Found(desc, proto, here)
        yield from _walk(
            proto.nested_type, list(desc.nested_types), (*here, _MESSAGE_NESTED)
        )


def _nested_name(desc: descriptor.Descriptor) -> tuple[str, ...]:
    names = []
    current: descriptor.Descriptor | None = desc
    while current is not None:
        names.append(current.name)
        current = current.containing_type
    return tuple(reversed(names))


def _read_message(
    ctx: GenContext, file_name: str, found: _Found
) -> m.MessageRules | None:
    """The rules of one message, or None when it is marked skip."""
    desc, proto, path = found.desc, found.proto, found.path
    reader = StandardRules(
        lambda where, text: ctx.error(file_name, where, text), desc.full_name
    )
    oneofs = []
    for oneof_proto in proto.oneof_decl:
        oneof_options = options.oneof_rules(oneof_proto.options)
        if oneof_options is not None and oneof_options.required:
            oneofs.append(m.OneofRules(name=oneof_proto.name, required=True))
    fields: list[m.FieldRules] = []
    for index, field_proto in enumerate(proto.field):
        fd = desc.fields_by_name[field_proto.name]
        written = options.field_rules(field_proto.options)
        source = (*path, _MESSAGE_FIELD, index, _FIELD_OPTIONS, _FIELD_EXT)
        rules = written if written is not None else options_pb2.FieldRules()
        ignore = m.Ignore(getattr(rules, "ignore"))  # noqa: B009
        if ignore is m.Ignore.ALWAYS:
            continue
        if fd.is_repeated:
            fields.append(reader.collection(fd, rules, source))
            continue
        value = reader.value(fd, rules, source, family(fd))
        fields.append(
            m.SingleField(
                name=fd.name,
                presence=fd.has_presence,
                value=m.ValueRules(
                    value.family, value.rules, m.Ignore.UNSPECIFIED, value.message_type
                ),
                required=reader.required(rules),
                ignore=ignore,
            )
        )
    message_options = options.message_rules(proto.options)
    cel: list[m.CelRule] = []
    if message_options is not None:
        cel = reader.cel.written(
            message_options,
            this_of_message(desc),
            ctx.pool,
            (*path, _MESSAGE_OPTIONS, _MESSAGE_EXT),
        )
    if message_options is not None and message_options.skip:
        # As protovalidate's `disabled`: the rules stay written (and are checked above) but never apply.
        return None
    return m.MessageRules(
        full_name=desc.full_name,
        nested_name=_nested_name(desc),
        oneofs=tuple(oneofs),
        fields=tuple(fields),
        doc=ctx.comment(file_name, path),
        cel=tuple(cel),
    )


def _with_validators(
    everything: dict[str, dict[str, m.MessageRules]],
) -> dict[str, m.MessageRef]:
    """Messages with rules anywhere below them (across files, through cycles)."""
    owner = {
        name: (file_name, rules)
        for file_name, found in everything.items()
        for name, rules in found.items()
    }
    has = {name for name, (_, rules) in owner.items() if rules.has_own_rules}
    changed = True
    while changed:
        changed = False
        for name, (_, rules) in owner.items():
            if name not in has and any(v.message_type in has for v in rules.values()):
                has.add(name)
                changed = True
    return {
        name: m.MessageRef(owner[name][0], owner[name][1].nested_name)
        for name in sorted(has)
    }


def read_run(ctx: GenContext) -> dict[str, m.FileValidators]:
    """The validators of every file of the run, each file read once; problems go to ``ctx``."""
    everything: dict[str, dict[str, m.MessageRules]] = {}
    for file_name, proto in ctx.protos.items():
        file_desc = ctx.pool.FindFileByName(file_name)
        found: dict[str, m.MessageRules] = {}
        for message in _walk(
            proto.message_type,
            list(file_desc.message_types_by_name.values()),
            (_FILE_MESSAGE,),
        ):
            read = _read_message(ctx, file_name, message)
            if read is not None:
                found[message.desc.full_name] = read
        everything[file_name] = found
    validated = _with_validators(everything)
    return {
        file_name: m.FileValidators(
            file_name=file_name,
            messages=tuple(r for name, r in found.items() if name in validated),
            validated=validated,
        )
        for file_name, found in everything.items()
    }
