"""Validation entry points: ``validate(message)`` and ``violations(message)`` for any message.

Generated modules register one straight-line validator per message that has rules anywhere below it; a message
without rules has no validator and costs one dict lookup. When a message's type has no validator yet, its file's
generated module is imported by convention (``pkg/foo.proto`` -> ``pkg.foo_errgen``) before answering, once per
file: a file without a generated module has no rules. A generated module that exists but fails to import
raises (it never silently passes).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from grpc_errgen.errors import ValidationError, ValidationRuntimeError, Violation
from grpc_errgen.policy import Validator

#: A validator stops collecting once it holds more than this many violations: it checks after each violation
#: found in a loop over items or map entries and after each nested message's violations, and returns what it
#: has. A request with 300,000 bad map entries then costs what one with about a hundred costs (the status
#: carries far fewer: they are cut to fit the trailers), and ``invalid_message`` says "more than".
MAX_VIOLATIONS = 100

_VALIDATORS: dict[str, Validator] = {}
_REFUSED: dict[str, str] = {}
#: Proto files whose generated module was looked for (found or not).
_LOOKED_UP: set[str] = set()
_LOOKUP_LOCK = threading.Lock()


def register(full_name: str, validator: Validator) -> None:
    """Called by generated modules at import: ``validator`` checks messages of type ``full_name``."""
    _VALIDATORS[full_name] = validator


def refuse(full_name: str, diagnostic: str) -> None:
    """Called by modules generated with ``invalid_messages=refuse``: the rules of ``full_name`` did not compile
    (``diagnostic`` says why). Validating such a message raises ``ValidationRuntimeError``: it fails closed.
    """
    _REFUSED[full_name] = diagnostic

    def refused(message: Any) -> list[Violation]:
        raise ValidationRuntimeError(
            f"the rules of {full_name} were refused at generation time: {diagnostic}"
        )

    _VALIDATORS[full_name] = refused


def refusal(full_name: str) -> str | None:
    """Why the rules of ``full_name`` were refused at generation time, or None."""
    return _REFUSED.get(full_name)


def validator_for(full_name: str) -> Validator | None:
    """The registered validator of a message type, or None when it has no rules."""
    return _VALIDATORS.get(full_name)


def violations(message: Any) -> list[Violation]:
    """Every rule ``message`` breaks, in protovalidate's order; empty when it is valid or has no rules. Past
    ``MAX_VIOLATIONS`` the validator stops: the list then holds the first ones found, a few more than that.
    """
    descriptor = message.DESCRIPTOR
    validator = _VALIDATORS.get(descriptor.full_name)
    if validator is None and descriptor.file.name not in _LOOKED_UP:
        import_generated(descriptor.file.name)
        validator = _VALIDATORS.get(descriptor.full_name)
    return validator(message) if validator is not None else []


def import_generated(proto: str) -> None:
    """Import the generated module of ``proto`` by convention, once; a missing module means no rules."""
    with _LOOKUP_LOCK:
        if proto in _LOOKED_UP:
            return
        stem = proto[: -len(".proto")] if proto.endswith(".proto") else proto
        name = stem.replace("/", ".") + "_errgen"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only "there is no such module" means no rules; a module that exists but imports something
            # missing is broken and must not pass silently.
            if exc.name is None or not (
                name == exc.name or name.startswith(exc.name + ".")
            ):
                raise
        _LOOKED_UP.add(proto)


def invalid_message(message_name: str, count: int) -> str:
    """The status message of a rejected request: ``invalid CreateOrderRequest: 2 violation(s)``, or ``more than
    100 violation(s)`` when the validator stopped collecting (``MAX_VIOLATIONS``)."""
    if count > MAX_VIOLATIONS:
        return f"invalid {message_name}: more than {MAX_VIOLATIONS} violation(s)"
    return f"invalid {message_name}: {count} violation(s)"


def validate(message: Any) -> None:
    """Raise ``ValidationError`` (INVALID_ARGUMENT, with ``.violations``) when ``message`` breaks a rule."""
    found = violations(message)
    if found:
        raise ValidationError(
            found, invalid_message(message.DESCRIPTOR.name, len(found))
        )
