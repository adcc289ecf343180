"""Validation front end: reads ``(errgen.field)``, ``(errgen.oneof)`` and ``(errgen.message)`` into validator models.

(Seat for the validation issue: this version finds no rules.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grpc_errgen.codegen.context import GenContext


@dataclass
class FileValidators:
    """The validators one generated file holds, and how other code refers to them."""

    messages: list[Any] = field(default_factory=list)

    def reference(self, full_name: str, imports: dict[str, str]) -> str | None:
        """A Python expression for the validator of message ``full_name``, or None when it has no rules.

        Adds to ``imports`` (module -> alias) when the validator lives in another generated module.
        """
        return None


def file_validators(ctx: GenContext, file_name: str) -> FileValidators:
    return FileValidators()
