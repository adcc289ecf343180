"""Front end for protovalidate's annotations: ``(buf.validate.field)``, ``(buf.validate.oneof)`` and
``(buf.validate.message)`` -> the same model as ``(errgen.*)``.

The options are read with the classes of the run's own ``buf/validate/validate.proto`` (the user's copy, or the
pinned one the generator supplies): nothing of protovalidate needs to be installed. ``buf.validate.FieldRules``
and ``errgen.FieldRules`` share names and numbers, so ``standard_rules`` reads both (wrapper types, ``any`` and
``field_mask`` included); this module adds what only protovalidate's options hold: the message-level ``oneof``
rule. CEL (``cel``, ``cel_expression``, predefined rules) is read by ``cel_rules`` through the shared reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from grpc_errgen.codegen.frontend.standard_rules import family
from grpc_errgen.codegen.model import rules as m

PACKAGE = "buf.validate"
_MESSAGE_FIELD = descriptor_pb2.DescriptorProto.FIELD_FIELD_NUMBER
_FIELD_OPTIONS = descriptor_pb2.FieldDescriptorProto.OPTIONS_FIELD_NUMBER


@dataclass(frozen=True)
class Written:
    """The buf.validate rules written on one element (a dynamic message of the run's validate.proto), and the
    source path of the option."""

    rules: Any
    source: tuple[int, ...]


class BufValidateOptions:
    """The ``buf.validate`` options of one run, parsed with the run's own validate.proto.

    When no file of the run imports validate.proto nothing can carry its options, and every lookup is None.
    """

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._extensions: dict[str, descriptor.FieldDescriptor] = {}
        self._classes: dict[str, type[Message]] = {}
        for kind in ("field", "oneof", "message"):
            try:
                extension = pool.FindExtensionByName(f"{PACKAGE}.{kind}")
            except KeyError:  # not in the run, or not in this copy of validate.proto
                continue
            self._extensions[kind] = extension
            self._classes[kind] = message_factory.GetMessageClass(
                pool.FindMessageTypeByName(
                    f"google.protobuf.{kind.capitalize()}Options"
                )
            )

    def _read(
        self, kind: str, options: Message, source: tuple[int, ...]
    ) -> Written | None:
        if kind not in self._extensions or not options.ByteSize():
            return None
        extension: Any = self._extensions[kind]
        parsed: Any = self._classes[kind].FromString(options.SerializeToString())
        if not parsed.HasExtension(extension):
            return None
        return Written(parsed.Extensions[extension], (*source, extension.number))

    def field(
        self, proto: descriptor_pb2.FieldDescriptorProto, source: tuple[int, ...]
    ) -> Written | None:
        """``(buf.validate.field)``; ``source``: the path of the field's options."""
        return self._read("field", proto.options, source)

    def oneof(
        self, proto: descriptor_pb2.OneofDescriptorProto, source: tuple[int, ...]
    ) -> Written | None:
        return self._read("oneof", proto.options, source)

    def message(
        self, proto: descriptor_pb2.DescriptorProto, source: tuple[int, ...]
    ) -> Written | None:
        return self._read("message", proto.options, source)


def field_groups(
    written: Written | None,
    desc: descriptor.Descriptor,
    report: Any,
) -> tuple[m.FieldGroup, ...]:
    """The message-level ``oneof`` rules; a rule naming no field, an unknown field or a field twice is reported."""
    if written is None:
        return ()
    found = []
    field_number = written.rules.DESCRIPTOR.fields_by_name["oneof"].number
    for index, rule in enumerate(written.rules.oneof):
        where = (*written.source, field_number, index)
        names: Sequence[str] = list(rule.fields)
        problem = None
        if not names:
            problem = "a message oneof rule names no field"
        elif len(set(names)) != len(names):
            problem = f"a message oneof rule names a field twice: {', '.join(names)}"
        else:
            unknown = [name for name in names if name not in desc.fields_by_name]
            if unknown:
                problem = f"a message oneof rule names {unknown[0]!r}, which {desc.name} does not have"
        if problem is not None:
            report(where, problem)
            continue
        members = tuple(
            m.GroupMember(
                name,
                desc.fields_by_name[name].has_presence,
                family(desc.fields_by_name[name]),
            )
            for name in names
        )
        found.append(m.FieldGroup(members, bool(rule.required)))
    return tuple(found)
