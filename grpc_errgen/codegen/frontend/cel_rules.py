"""CEL rules of a field, an element or a message -> ``model.rules.CelRule``, type-checked.

Reads what both dialects share (``cel`` on ``FieldRules`` and ``MessageRules``: ``(errgen.field)``,
``(buf.validate.field)``...), protovalidate's ``cel_expression`` where the rules message has it, and predefined rules:
extensions of a typed rules message (``StringRules``...) marked ``(buf.validate.predefined)``, checked with
``rule`` (the extension's value) and ``rules`` (the typed rules message) bound. A problem is reported at the rule's
source path, naming the message it belongs to (protovalidate refuses the whole message).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message

from grpc_errgen.codegen.cel import ast
from grpc_errgen.codegen.cel.ast import CelError
from grpc_errgen.codegen.cel.check import (
    CelEnv,
    check,
    const_value,
    field_type,
    message_this,
    value_type,
)
from grpc_errgen.codegen.model import rules as m

Report = Callable[[tuple[int, ...], str], None]

_FD = descriptor.FieldDescriptor
_RULE_EXPRESSION = 3  # Rule.expression, in ours and in buf.validate.Rule
_PREDEFINED = "buf.validate.predefined"


def default_message(rule_message: str, expression: str) -> str:
    """protovalidate's message for a false rule that gives none: ``"this > 0" returned false``."""
    return (
        rule_message or f"{json.dumps(expression, ensure_ascii=False)} returned false"
    )


class CelRules:
    """Checks the CEL of one message's rules; ``report`` records a problem at a source path."""

    def __init__(self, report: Report, owner: str) -> None:
        self.report = report
        self.owner = owner  # the message whose rules these are, named in problems

    def _compile(
        self,
        expression: str,
        env: CelEnv,
        source: tuple[int, ...],
        *,
        rule_id: str,
        message: str,
        path: m.RulePath,
        for_key: bool,
    ) -> m.CelRule | None:
        try:
            checked = check(expression, env)
        except CelError as exc:
            where = (
                f" (column {exc.offset + 1} of the expression)" if exc.offset else ""
            )
            self.report(
                source,
                f"message {self.owner}: CEL `{expression}`: {exc.message}{where}",
            )
            return None
        return m.CelRule(
            rule_id=rule_id,
            message=default_message(message, expression),
            path=path,
            for_key=for_key,
            expr=checked,
        )

    def written(
        self,
        rules: Message,
        this: ast.CelType,
        pool: Any,
        source: tuple[int, ...],
        prefix: m.RulePath = (),
        for_key: bool = False,
    ) -> list[m.CelRule]:
        """``cel`` (and ``cel_expression``) of a FieldRules- or MessageRules-shaped ``rules``."""
        found: list[m.CelRule] = []
        fields = rules.DESCRIPTOR.fields_by_name
        env = CelEnv(pool, this)
        if "cel" in fields:
            cel = fields["cel"]
            for index, rule in enumerate(getattr(rules, cel.name)):
                element = m.PathElement("cel", cel.number, cel.type, index)
                compiled = self._compile(
                    rule.expression,
                    env,
                    (*source, cel.number, index, _RULE_EXPRESSION),
                    rule_id=rule.id,
                    message=rule.message,
                    path=(*prefix, element),
                    for_key=for_key,
                )
                if compiled is not None:
                    found.append(compiled)
        if "cel_expression" in fields:
            cel_expression = fields["cel_expression"]
            for index, text in enumerate(getattr(rules, cel_expression.name)):
                element = m.PathElement(
                    "cel_expression", cel_expression.number, cel_expression.type, index
                )
                compiled = self._compile(
                    text,
                    env,
                    (*source, cel_expression.number, index),
                    rule_id=text,
                    message="",
                    path=(*prefix, element),
                    for_key=for_key,
                )
                if compiled is not None:
                    found.append(compiled)
        return found

    def predefined(
        self,
        typed: Message,
        this: ast.CelType,
        pool: Any,
        source: tuple[int, ...],
        prefix: m.RulePath,
        for_key: bool = False,
    ) -> list[m.CelRule]:
        """The predefined rules set on a typed rules message (``prefix`` ends at that message)."""
        found: list[m.CelRule] = []
        for ext, value in typed.ListFields():
            if not ext.is_extension:
                continue
            rules = _predefined_rules(pool, ext)
            if not rules:
                continue
            rule_type = field_type(ext)
            env = CelEnv(
                pool, this, rules=typed, rule=(rule_type, const_value(ext, value))
            )
            element = m.PathElement(f"[{ext.full_name}]", ext.number, ext.type)
            for rule in rules:
                compiled = self._compile(
                    rule.expression,
                    env,
                    (*source, ext.number),
                    rule_id=rule.id,
                    message=rule.message,
                    path=(*prefix, element),
                    for_key=for_key,
                )
                if compiled is not None:
                    found.append(compiled)
        return found


def _predefined_rules(pool: Any, ext: descriptor.FieldDescriptor) -> Sequence[Any]:
    """The ``(buf.validate.predefined).cel`` rules of extension ``ext``, read with ``pool``'s own classes."""
    try:
        marker = pool.FindExtensionByName(_PREDEFINED)
        options_class = message_factory.GetMessageClass(
            pool.FindMessageTypeByName("google.protobuf.FieldOptions")
        )
    except KeyError:
        return ()
    options = options_class.FromString(ext.GetOptions().SerializeToString())
    if not options.HasExtension(marker):
        return ()
    return list(options.Extensions[marker].cel)


def pool_of(fd: Any) -> Any:
    """The descriptor pool ``fd`` belongs to: the run's pool, with the user's types."""
    return fd.file.pool


def this_of_value(fd: descriptor.FieldDescriptor) -> ast.CelType:
    """``this`` in the rules of one value of ``fd`` (a singular field, an item, a map key or value)."""
    return value_type(fd, unwrap=True)


def this_of_collection(fd: descriptor.FieldDescriptor) -> ast.CelType:
    """``this`` in the rules of a whole repeated or map field."""
    return field_type(fd)


def this_of_message(desc: descriptor.Descriptor) -> ast.CelType:
    return message_this(desc)
