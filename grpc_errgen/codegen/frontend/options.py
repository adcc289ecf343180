"""Typed access to our extensions on descriptor options (protoc's ``.pyi`` types extensions as plain
FieldDescriptors, which the protobuf stubs do not accept as extension keys)."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from google.protobuf.message import Message

from grpc_errgen import options_pb2

T = TypeVar("T", bound=Message)


def _get(options: Message, extension: Any, kind: type[T]) -> T | None:
    extensions: Any = options.Extensions
    if not options.HasExtension(extension):
        return None
    return cast(T, extensions[extension])


def file_rules(options: Message) -> options_pb2.FileRules:
    return (
        _get(options, options_pb2.file, options_pb2.FileRules)
        or options_pb2.FileRules()
    )


def service_rules(options: Message) -> options_pb2.ServiceRules:
    return (
        _get(options, options_pb2.service, options_pb2.ServiceRules)
        or options_pb2.ServiceRules()
    )


def method_rules(options: Message) -> options_pb2.MethodRules:
    return (
        _get(options, options_pb2.method, options_pb2.MethodRules)
        or options_pb2.MethodRules()
    )


def error_catalogue(options: Message) -> options_pb2.ErrorCatalogue | None:
    return _get(options, options_pb2.errors, options_pb2.ErrorCatalogue)


def error_rules(options: Message) -> options_pb2.ErrorRules | None:
    return _get(options, options_pb2.error, options_pb2.ErrorRules)


def message_rules(options: Message) -> options_pb2.MessageRules | None:
    return _get(options, options_pb2.message, options_pb2.MessageRules)


def oneof_rules(options: Message) -> options_pb2.OneofRules | None:
    return _get(options, options_pb2.oneof, options_pb2.OneofRules)


def field_rules(options: Message) -> options_pb2.FieldRules | None:
    return _get(options, options_pb2.field, options_pb2.FieldRules)
