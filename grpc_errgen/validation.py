"""Validation entry points: ``validate(message)`` and ``violations(message)`` for any message whose generated
``_errgen`` module has been imported.

Generated modules register one straight-line validator per message that has rules anywhere below it; a message
without rules has no validator and costs one dict lookup.
"""

from __future__ import annotations

from typing import Any

from grpc_errgen.errors import ValidationError, ValidationRuntimeError, Violation
from grpc_errgen.policy import Validator

_VALIDATORS: dict[str, Validator] = {}
_REFUSED: dict[str, str] = {}


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
    """Every rule ``message`` breaks, in protovalidate's order; empty when it is valid or has no rules."""
    validator = _VALIDATORS.get(message.DESCRIPTOR.full_name)
    return validator(message) if validator is not None else []


def invalid_message(message_name: str, count: int) -> str:
    """The status message of a rejected request: ``invalid CreateOrderRequest: 2 violation(s)``."""
    return f"invalid {message_name}: {count} violation(s)"


def validate(message: Any) -> None:
    """Raise ``ValidationError`` (INVALID_ARGUMENT, with ``.violations``) when ``message`` breaks a rule."""
    found = violations(message)
    if found:
        raise ValidationError(
            found, invalid_message(message.DESCRIPTOR.name, len(found))
        )
