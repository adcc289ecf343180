"""What every front end needs while it reads descriptors: the pool, source positions, comments, diagnostics.

Problems in the user's protos are recorded per file as ``file.proto:LINE:COL: message``; the pipeline reports
those of the files it generates (a file read only because it is imported reports its problems when generated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf import descriptor_pb2, descriptor_pool


class SourceInfo:
    """One file's SourceCodeInfo: descriptor path -> ``LINE:COL`` (1-based, longest known prefix) and comments."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self._locations = proto.source_code_info.location
        self._spans: dict[tuple[int, ...], tuple[int, int]] | None = (
            None  # built on the first problem
        )
        self._comments: dict[tuple[int, ...], str] = {}
        for location in self._locations:
            if location.leading_comments:
                self._comments.setdefault(
                    tuple(location.path), location.leading_comments
                )

    def position(self, path: Sequence[int]) -> tuple[int, int]:
        if self._spans is None:
            self._spans = {}
            for location in self._locations:
                key = tuple(location.path)
                if key not in self._spans and len(location.span) >= 2:
                    self._spans[key] = (location.span[0] + 1, location.span[1] + 1)
        key = tuple(path)
        while key:
            if key in self._spans:
                return self._spans[key]
            key = key[:-1]
        return (1, 1)

    def comment(self, path: Sequence[int]) -> str:
        """The leading comment of the element at ``path``, dedented and stripped ("" when none)."""
        text = self._comments.get(tuple(path), "")
        lines = [
            line[1:] if line.startswith(" ") else line for line in text.splitlines()
        ]
        return "\n".join(line.rstrip() for line in lines).strip()


@dataclass
class GenContext:
    """One generation run: all files of the request in a pool, and the problems found so far (per file)."""

    pool: descriptor_pool.DescriptorPool
    protos: dict[str, descriptor_pb2.FileDescriptorProto]
    diagnostics: dict[str, list[str]] = field(default_factory=dict)
    #: ``invalid_messages=refuse``: a message whose rules are wrong is refused, its neighbours generate.
    refuse_messages: bool = False
    #: Refused messages: full name -> the first problem found in their rules.
    refused: dict[str, str] = field(default_factory=dict)
    #: What the plugin prints without failing (refused messages).
    warnings: list[str] = field(default_factory=list)
    _sources: dict[str, SourceInfo] = field(default_factory=dict)

    def source(self, file_name: str) -> SourceInfo:
        if file_name not in self._sources:
            self._sources[file_name] = SourceInfo(self.protos[file_name])
        return self._sources[file_name]

    def error(self, file_name: str, path: Sequence[int], message: str) -> None:
        """Record a problem in the user's proto, reported as ``file.proto:LINE:COL: message``."""
        self.diagnostics.setdefault(file_name, []).append(
            self.located(file_name, path, message)
        )

    def located(self, file_name: str, path: Sequence[int], message: str) -> str:
        """``file.proto:LINE:COL: message``."""
        line, col = self.source(file_name).position(path)
        return f"{file_name}:{line}:{col}: {message}"

    def message_error(
        self, file_name: str, path: Sequence[int], message: str, full_name: str
    ) -> None:
        """A problem in the rules of message ``full_name``. With ``refuse_messages`` (the plugin parameter
        ``invalid_messages=refuse``) the message is refused (its validator fails closed) and the run goes on;
        otherwise it is an error like any other."""
        if not self.refuse_messages:
            self.error(file_name, path, message)
            return
        text = self.located(file_name, path, f"{full_name}: {message}")
        self.refused.setdefault(full_name, text)
        self.warnings.append(text)

    def comment(self, file_name: str, path: Sequence[int]) -> str:
        return self.source(file_name).comment(path)
