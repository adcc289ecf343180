"""What every front end needs while it reads descriptors: the pool, source positions and the diagnostics list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import Message


class SourceLocator:
    """Maps a descriptor path (as in SourceCodeInfo) to ``LINE:COL``, 1-based, using the longest known prefix."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self._spans: dict[tuple[int, ...], tuple[int, int]] = {}
        for location in proto.source_code_info.location:
            key = tuple(location.path)
            if key not in self._spans and len(location.span) >= 2:
                self._spans[key] = (location.span[0] + 1, location.span[1] + 1)

    def position(self, path: Sequence[int]) -> tuple[int, int]:
        key = tuple(path)
        while key:
            if key in self._spans:
                return self._spans[key]
            key = key[:-1]
        return (1, 1)


def extension(options: Message, field: Any) -> Any:
    """``options.Extensions[field]``, the default message when unset.

    Typed loosely on purpose: protoc's ``.pyi`` output types extensions as plain FieldDescriptors, which the
    protobuf stubs do not accept as extension keys.
    """
    return options.Extensions[field]


def has_extension(options: Message, field: Any) -> bool:
    return options.HasExtension(field)


def python_module(proto_name: str, suffix: str) -> str:
    """The module protoc's Python generator names for ``proto_name``: ``shop/v1/orders.proto`` -> ``shop.v1.orders_pb2``."""
    stem = proto_name[: -len(".proto")] if proto_name.endswith(".proto") else proto_name
    return stem.replace("-", "_").replace("/", ".") + suffix


@dataclass
class GenContext:
    """One generation run: all files of the request in a pool, and the problems found so far."""

    pool: descriptor_pool.DescriptorPool
    protos: dict[str, descriptor_pb2.FileDescriptorProto]
    diagnostics: list[str] = field(default_factory=list)
    #: Results a front end computes once per run over all files (e.g. which messages have rules).
    memo: dict[str, Any] = field(default_factory=dict)
    _locators: dict[str, SourceLocator] = field(default_factory=dict)

    def error(self, file_name: str, path: Sequence[int], message: str) -> None:
        """Record a problem in the user's proto, reported as ``file.proto:LINE:COL: message``."""
        if file_name not in self._locators:
            self._locators[file_name] = SourceLocator(self.protos[file_name])
        line, col = self._locators[file_name].position(path)
        self.diagnostics.append(f"{file_name}:{line}:{col}: {message}")

    @staticmethod
    def pb2_module(file_name: str) -> str:
        return python_module(file_name, "_pb2")

    @staticmethod
    def errgen_module(file_name: str) -> str:
        return python_module(file_name, "_errgen")
