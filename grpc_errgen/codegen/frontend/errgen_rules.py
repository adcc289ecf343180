"""Front end for our validation options: ``(errgen.field)``, ``(errgen.oneof)``, ``(errgen.message)`` -> model.

Every file of the run is read once (``read_run``); which messages need a validator is decided over all of them,
because a message without rules of its own needs one when a message below it (in any file) has rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor, descriptor_pb2

from grpc_errgen import options_pb2
from grpc_errgen.codegen.diagnostics import GenContext
from grpc_errgen.codegen.frontend import buf_validate, options
from grpc_errgen.codegen.frontend.buf_validate import BufValidateOptions
from grpc_errgen.codegen.frontend.cel_rules import this_of_message
from grpc_errgen.codegen.frontend.standard_rules import (
    StandardRules,
    family,
    field_element,
)
from grpc_errgen.codegen.model import rules as m

_FILE_MESSAGE = descriptor_pb2.FileDescriptorProto.MESSAGE_TYPE_FIELD_NUMBER
_MESSAGE_FIELD = descriptor_pb2.DescriptorProto.FIELD_FIELD_NUMBER
_MESSAGE_NESTED = descriptor_pb2.DescriptorProto.NESTED_TYPE_FIELD_NUMBER
_FIELD_OPTIONS = descriptor_pb2.FieldDescriptorProto.OPTIONS_FIELD_NUMBER
_FIELD_EXT = options_pb2.FIELD_FIELD_NUMBER
_MESSAGE_OPTIONS = descriptor_pb2.DescriptorProto.OPTIONS_FIELD_NUMBER
_MESSAGE_EXT = options_pb2.MESSAGE_FIELD_NUMBER
_MESSAGE_ONEOF = descriptor_pb2.DescriptorProto.ONEOF_DECL_FIELD_NUMBER
_ONEOF_OPTIONS = descriptor_pb2.OneofDescriptorProto.OPTIONS_FIELD_NUMBER


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
    ctx: GenContext, file_name: str, found: _Found, buf: BufValidateOptions
) -> m.MessageRules | None:
    """The rules of one message (either dialect, field by field), or None when it is marked skip."""
    desc, proto, path = found.desc, found.proto, found.path

    def report(where: Sequence[int], text: str) -> None:
        ctx.message_error(file_name, where, text, desc.full_name)

    reader = StandardRules(report, desc.full_name)
    theirs = buf.message(proto, (*path, _MESSAGE_OPTIONS))
    groups = buf_validate.field_groups(theirs, desc, report)
    grouped = {name for group in groups for name in group.fields}
    oneofs = []
    for oneof_index, oneof_proto in enumerate(proto.oneof_decl):
        oneof_options: Any = options.oneof_rules(oneof_proto.options)
        if oneof_options is None:
            where = (*path, _MESSAGE_ONEOF, oneof_index, _ONEOF_OPTIONS)
            their_oneof = buf.oneof(oneof_proto, where)
            oneof_options = their_oneof.rules if their_oneof is not None else None
        if oneof_options is not None and oneof_options.required:
            oneofs.append(m.OneofRules(name=oneof_proto.name, required=True))
    fields: list[m.FieldRules] = []
    for index, field_proto in enumerate(proto.field):
        fd = desc.fields_by_name[field_proto.name]
        written: Any = options.field_rules(field_proto.options)
        options_source = (*path, _MESSAGE_FIELD, index, _FIELD_OPTIONS)
        source = (*options_source, _FIELD_EXT)
        their_field = buf.field(field_proto, options_source)
        if their_field is not None:
            if written is not None:
                report(
                    their_field.source,
                    f"field {fd.name}: both (errgen.field) and (buf.validate.field); use one",
                )
            written, source = their_field.rules, their_field.source
        if written is None and fd.message_type is None:
            continue  # a scalar without rules: nothing to check, nothing below it
        rules = written if written is not None else options_pb2.FieldRules()
        ignore = m.Ignore(getattr(rules, "ignore"))  # noqa: B009
        if ignore is m.Ignore.ALWAYS:
            continue
        if ignore is m.Ignore.UNSPECIFIED and fd.name in grouped:
            # protovalidate: a field named by a message oneof rule is checked only when set
            ignore = m.Ignore.IF_ZERO_VALUE
        if fd.is_repeated:
            collection = reader.collection(fd, rules, source)
            if ignore is not collection.ignore:
                collection = dataclasses.replace(collection, ignore=ignore)
            fields.append(collection)
            continue
        value = reader.value(fd, rules, source, family(fd))
        fields.append(
            m.SingleField(
                name=fd.name,
                number=fd.number,
                presence=fd.has_presence,
                value=dataclasses.replace(value, ignore=m.Ignore.UNSPECIFIED),
                required=reader.required(rules),
                ignore=ignore,
                element=field_element(fd),
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
    if theirs is not None:
        cel += reader.cel.written(
            theirs.rules, this_of_message(desc), ctx.pool, theirs.source
        )
    # A message rule has no rule path (protovalidate reports none): it is not written in FieldRules.
    cel = [dataclasses.replace(rule, path=()) for rule in cel]
    disabled = theirs is not None and bool(getattr(theirs.rules, "disabled", False))
    if disabled or (message_options is not None and message_options.skip):
        # As protovalidate's `disabled`: the rules stay written (and are checked above) but never apply.
        return None
    return m.MessageRules(
        full_name=desc.full_name,
        nested_name=_nested_name(desc),
        oneofs=tuple(oneofs),
        fields=tuple(fields),
        doc=ctx.comment(file_name, path),
        cel=tuple(cel),
        groups=groups,
    )


def _with_validators(
    everything: dict[str, dict[str, m.MessageRules]],
    refused: Iterable[str] = (),
) -> dict[str, m.MessageRef]:
    """Messages with rules anywhere below them (across files, through cycles); a refused message has a
    validator (one that fails closed)."""
    owner = {
        name: (file_name, rules)
        for file_name, found in everything.items()
        for name, rules in found.items()
    }
    has = {name for name, (_, rules) in owner.items() if rules.has_own_rules}
    refused = set(refused)
    has |= {name for name in refused if name in owner}
    changed = True
    while changed:
        changed = False
        for name, (_, rules) in owner.items():
            if name not in has and any(v.message_type in has for v in rules.values()):
                has.add(name)
                changed = True
    calls = {
        name: {v.message_type for v in owner[name][1].values() if v.message_type in has}
        for name in has
        if name not in refused  # its validator raises, it calls nothing
    }
    recursive = _in_cycles(calls)
    return {
        name: m.MessageRef(
            owner[name][0], owner[name][1].nested_name, recursive=name in recursive
        )
        for name in sorted(has)
    }


def _in_cycles(calls: dict[str, set[str]]) -> set[str]:
    """The nodes of the graph ``calls`` that lie on a cycle (Kosaraju's strongly connected components, with
    explicit stacks: a long chain of messages must not exhaust Python's recursion limit).
    """
    finished: list[str] = []
    seen: set[str] = set()
    for start in calls:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(calls[start]))]
        while stack:
            node, successors = stack[-1]
            step = next((n for n in successors if n in calls and n not in seen), None)
            if step is None:
                stack.pop()
                finished.append(node)
            else:
                seen.add(step)
                stack.append((step, iter(calls[step])))
    callers: dict[str, list[str]] = {name: [] for name in calls}
    for name, callees in calls.items():
        for successor in callees:
            if successor in callers:
                callers[successor].append(name)
    placed: set[str] = set()
    found: set[str] = set()
    for start in reversed(finished):
        if start in placed:
            continue
        placed.add(start)
        component, todo = [start], [start]
        while todo:
            for caller in callers[todo.pop()]:
                if caller not in placed:
                    placed.add(caller)
                    component.append(caller)
                    todo.append(caller)
        if len(component) > 1 or start in calls[start]:
            found.update(component)
    return found


#: The files whose options declare rules: only a file importing one of them (directly or through another such
#: file) can hold a message that needs a validator.
RULE_OPTION_FILES = frozenset(
    {"grpc_errgen/options.proto", "buf/validate/validate.proto"}
)


def _may_have_validators(ctx: GenContext) -> set[str]:
    """The files that import a rule options file, directly or through files that do (the others, such as
    descriptor.proto, are not read at all)."""
    known: dict[str, bool] = {}

    def relevant(name: str) -> bool:
        if name not in known:
            known[name] = False  # imports are acyclic; this only guards the recursion
            dependencies = ctx.protos[name].dependency if name in ctx.protos else ()
            known[name] = any(
                dependency in RULE_OPTION_FILES or relevant(dependency)
                for dependency in dependencies
            )
        return known[name]

    return {name for name in ctx.protos if relevant(name)}


def read_run(ctx: GenContext) -> dict[str, m.FileValidators]:
    """The validators of every file of the run, each file read once; problems go to ``ctx``."""
    everything: dict[str, dict[str, m.MessageRules]] = {}
    buf = BufValidateOptions(ctx.pool)
    relevant = _may_have_validators(ctx)
    for file_name, proto in ctx.protos.items():
        if file_name not in relevant:
            everything[file_name] = {}
            continue
        file_desc = ctx.pool.FindFileByName(file_name)
        found: dict[str, m.MessageRules] = {}
        for message in _walk(
            proto.message_type,
            list(file_desc.message_types_by_name.values()),
            (_FILE_MESSAGE,),
        ):
            read = _read_message(ctx, file_name, message, buf)
            if read is not None:
                found[message.desc.full_name] = read
        everything[file_name] = found
    validated = _with_validators(everything, ctx.refused)
    return {
        file_name: m.FileValidators(
            file_name=file_name,
            messages=tuple(r for name, r in found.items() if name in validated),
            validated=validated,
            refused=tuple(
                (name, ctx.refused[name]) for name in found if name in ctx.refused
            ),
        )
        for file_name, found in everything.items()
    }
