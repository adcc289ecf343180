"""Validator models -> Python source: one straight-line function per message, specialised to its rules.

Module-level constants (RE2 patterns compiled at import, ``in`` sets) are collected beside the functions; the
template ``validators.py.j2`` pastes both. Output is written the way black writes it for short lines; a longer
line sends the whole file through black (``render.render``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from grpc_errgen.codegen.render import LINE_LENGTH, py
from grpc_errgen.codegen.rules import (
    IGNORE_IF_ZERO_VALUE,
    NUMBER_FAMILIES,
    FieldRules,
    MessageRules,
    Rule,
    ValueRules,
)

_NANOS = "1_000_000_000"
_LOWER_OPS = {"gt": "<", "gte": "<="}  # bound OP value
_UPPER_OPS = {"lt": "<", "lte": "<="}  # value OP bound
_OUTSIDE_LOWER = {"gt": ">", "gte": ">="}  # value OP bound, for exclusive ranges


def literal(value: Any) -> str:
    """A Python literal, black-formatted, for a rule operand."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, bytes):
        inner = "".join(
            chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\x{b:02x}"
            for b in value
        )
        return f'b"{inner}"'
    return py(value)


@dataclass
class _Source:
    """Lines of one function, and the module constants it needs (shared by the file's functions)."""

    constants: list[str]
    #: (function, args) -> name: one constant per distinct value (an inlined message reuses its patterns)
    names: dict[tuple[str, ...], str]
    lines: list[str] = field(default_factory=list)

    def constant(self, prefix: str, function: str, *args: str) -> str:
        """A module constant ``_PREFIX_n = function(args)``, written as black writes it."""
        known = self.names.get((function, *args))
        if known is not None:
            return known
        name = self.names[(function, *args)] = f"_{prefix}_{len(self.names) + 1}"
        one_line = f"{name} = {function}({', '.join(args)})"
        if len(one_line) <= LINE_LENGTH:
            self.constants.append(one_line)
        else:  # exploded, with the magic trailing comma that keeps black from joining it
            exploded = "".join(f"    {arg},\n" for arg in args)
            self.constants.append(f"{name} = {function}(\n{exploded})")
        return name


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return ["    " * depth + line for line in lines]


def _set_literal(values: tuple[Any, ...]) -> str:
    """The argument of ``frozenset(...)``: a set display, exploded when long."""
    items = [literal(v) for v in dict.fromkeys(values)]
    one_line = "{" + ", ".join(items) + "}"
    if len(one_line) <= LINE_LENGTH - 30:
        return one_line
    return "{\n" + "".join(f"        {item},\n" for item in items) + "    }"


def _zero(family: str, x: str) -> str:
    """The test that ``x`` holds its type's default (for floats: positive zero; -0.0 is a set value)."""
    if family in ("float", "double"):
        return f"_checks.is_default_float({x})"
    return f"not {x}"


def _nonzero(family: str, x: str) -> str:
    if family in ("float", "double"):
        return f"not _checks.is_default_float({x})"
    return x


def _path(content: str) -> str:
    """The Python expression of a field path: a string, or an f-string when it holds an index or key."""
    return f'f"{content}"' if "{" in content else f'"{content}"'


#: A nested message is written into its parent's function (no call, no list per valid item) when it calls no
#: validator of its own (so inlining cannot recurse) and has at most this many rules.
INLINE_RULES = 8


def _rule_count(message: MessageRules) -> int:
    count = len(message.oneofs)
    for rules in message.fields:
        count += int(rules.required) + len(rules.collection)
        for value in (rules.value, rules.items, rules.keys, rules.values):
            if value is not None:
                count += len(value.rules)
    return count


def _calls_validators(message: MessageRules) -> bool:
    return any(
        value is not None and value.validator is not None
        for rules in message.fields
        for value in (rules.value, rules.items, rules.keys, rules.values)
    )


def inlinable(messages: list[MessageRules]) -> dict[str, MessageRules]:
    """Validator function name -> rules, for the messages of this file that are written inline where used."""
    return {
        message.function: message
        for message in messages
        if not _calls_validators(message) and _rule_count(message) <= INLINE_RULES
    }


_SIZE_CHECKS = ("len", "min_len", "max_len")
#: The longest fast-path condition (``fast_test``): its ``if`` line, at most 12 columns in (function body,
#: an ``if`` for required or ignore, the loop), stays within black's limit: written as black would.
_FAST_TEST_LENGTH = 72


class _Emitter:
    """Writes the checks of one message. Paths are f-string contents (``items[{i0}].sku``); ``scope`` prefixes
    the local names of a message written inline into its parent (``x0_v1``), so they cannot collide.
    """

    def __init__(
        self,
        constants: list[str],
        names: dict[tuple[str, ...], str],
        inline: dict[str, MessageRules] | None = None,
    ) -> None:
        self.src = _Source(constants, names)
        self.inline = inline or {}

    def append(self, path: str, rule_id: str, message: str) -> str:
        """The statement recording a violation at ``path``. Violations are immutable, so each one is built
        once, at import; a path that depends on an index or key is filled in with ``_checks.at``.
        """
        if "{" not in path:
            name = self.src.constant(
                "V", "Violation", _path(path), py(rule_id), py(message)
            )
            return f"out.append({name})"
        name = self.src.constant("V", "Violation", '""', py(rule_id), py(message))
        return f"out.append(_checks.at({_path(path)}, {name}))"

    def _violation_test(
        self, rule: Rule, family: str, x: str, size: str | None = None
    ) -> str:
        """The condition under which ``x`` breaks ``rule`` (not for the two-way format rules); ``size``: a
        local already holding ``len(x)``.
        """
        check, operand = rule.check, rule.operand
        if check == "const":
            return f"{x} != {literal(operand)}"
        if check in ("lt", "lte", "gt", "gte"):
            op = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[check]
            return f"not {x} {op} {literal(operand)}"
        if check == "range":
            lower, low, upper, high, exclusive = operand
            if exclusive:
                return (
                    f"not ({x} {_UPPER_OPS[upper]} {literal(high)}"
                    f" or {x} {_OUTSIDE_LOWER[lower]} {literal(low)})"
                )
            return f"not {literal(low)} {_LOWER_OPS[lower]} {x} {_UPPER_OPS[upper]} {literal(high)}"
        if check == "in":
            return f"{x} not in {self.src.constant('IN', 'frozenset', _set_literal(operand))}"
        if check == "not_in":
            return f"{x} in {self.src.constant('NOT_IN', 'frozenset', _set_literal(operand))}"
        if check == "finite":
            return f"not _checks.is_finite({x})"
        if check in (
            "len",
            "min_len",
            "max_len",
            "len_bytes",
            "min_bytes",
            "max_bytes",
        ):
            if check.endswith("bytes"):
                length = f"len({x}.encode())"
            else:
                length = size or f"len({x})"
            op = {"len": "!=", "min": "<", "max": ">"}[check.split("_")[0]]
            return f"{length} {op} {operand}"
        if check == "pattern":
            pattern = self.src.constant("RE", "_checks.regex", py(operand))
            if family == "bytes":
                return f"not {pattern}.found_bytes({x})"
            return f"not {pattern}.found({x})"
        if check == "prefix":
            return f"not {x}.startswith({literal(operand)})"
        if check == "suffix":
            return f"not {x}.endswith({literal(operand)})"
        if check == "contains":
            return f"{literal(operand)} not in {x}"
        if check == "not_contains":
            return f"{literal(operand)} in {x}"
        if check == "unique":
            return f"len(set({x})) != len({x})"
        if check == "lt_now":
            return f"{x} > _checks.now_nanos()"
        if check == "gt_now":
            return f"{x} < _checks.now_nanos()"
        if check == "within":
            return f"abs({x} - _checks.now_nanos()) > {operand}"
        raise ValueError(f"unknown check {check!r}")

    def _rule_lines(
        self, rule: Rule, family: str, x: str, path: str, size: str | None = None
    ) -> list[str]:
        if rule.check in ("format", "format_regex", "byte_sizes"):
            if rule.check == "format":
                function, args, empty_id, empty_message = rule.operand
                call_args = ", ".join([x, *(literal(a) for a in args)])
                bad = f"not _checks.{function}({call_args})"
            elif rule.check == "format_regex":
                pattern_text, empty_id, empty_message = rule.operand
                pattern = self.src.constant("RE", "_checks.regex", py(pattern_text))
                bad = f"not {pattern}.found({x})"
            else:
                sizes, empty_id, empty_message = rule.operand
                bad = f"len({x}) not in {literal(tuple(sizes))}"
            lines = []
            if empty_id is not None:
                lines += [
                    f"if not {x}:",
                    "    " + self.append(path, empty_id, empty_message),
                    f"elif {bad}:",
                ]
            else:
                lines.append(f"if {bad}:")
            lines.append("    " + self.append(path, rule.rule_id, rule.message))
            return lines
        return [
            f"if {self._violation_test(rule, family, x, size)}:",
            "    " + self.append(path, rule.rule_id, rule.message),
        ]

    def _bad_test(self, rule: Rule, family: str, x: str) -> str | None:
        """One condition under which ``x`` breaks ``rule``, or None (two-way format rules with an empty rule)."""
        if rule.check == "format":
            function, args, empty_id, _ = rule.operand
            call_args = ", ".join([x, *(literal(a) for a in args)])
            return None if empty_id else f"not _checks.{function}({call_args})"
        if rule.check == "format_regex":
            pattern_text, empty_id, _ = rule.operand
            pattern = self.src.constant("RE", "_checks.regex", py(pattern_text))
            return None if empty_id else f"not {pattern}.found({x})"
        if rule.check == "byte_sizes":
            sizes, empty_id, _ = rule.operand
            return None if empty_id else f"len({x}) not in {literal(tuple(sizes))}"
        return self._violation_test(rule, family, x)

    def fast_test(self, value: ValueRules, x: str) -> str | None:
        """For a list item that is a message written inline: one short condition that is false whenever the
        item has no violation, so that a loop over valid items needs no index, no path and no local per field.
        None where the item's checks do not reduce to one read of each field (presence, required, ignore,
        several rules reading a field twice) or the condition would not fit on one line.
        """
        message = self.inline.get(value.validator or "")
        if message is None or message.oneofs or value.rules:
            return None
        tests = []
        for rules in message.fields:
            one = rules.value
            if rules.shape != "single" or one is None or not one.rules:
                if rules.shape == "single" and one is not None and not rules.required:
                    continue  # a field without rules
                return None
            if (
                rules.presence
                or rules.required
                or rules.ignore
                or one.ignore
                or one.family in ("duration", "timestamp")
            ):
                return None
            read = f"{x}.{rules.name}"
            checks = sorted(rule.check for rule in one.rules)
            if checks == ["max_len", "min_len"]:
                low, high = sorted(int(rule.operand) for rule in one.rules)
                tests.append(f"not {low} <= len({read}) <= {high}")
                continue
            test = self._bad_test(one.rules[0], one.family, "\0")
            if len(one.rules) != 1 or test is None or test.count("\0") != 1:
                return None
            tests.append(test.replace("\0", read))
        condition = " or ".join(tests)
        return condition if tests and len(condition) <= _FAST_TEST_LENGTH else None

    def value_lines(
        self, value: ValueRules, x: str, path: str, depth: int, scope: str
    ) -> list[str]:
        """Every check of one value held in ``x``; ``path`` is its field path (f-string content)."""
        lines: list[str] = []
        subject = x
        if value.family in ("duration", "timestamp") and value.rules:
            subject = f"{scope}n{depth}"
            lines.append(f"{subject} = {x}.seconds * {_NANOS} + {x}.nanos")
        size = None
        if sum(rule.check in _SIZE_CHECKS for rule in value.rules) > 1:
            size = f"{scope}size{depth}"  # len() once for min_len + max_len
            lines.append(f"{size} = len({x})")
        for rule in value.rules:
            lines += self._rule_lines(rule, value.family, subject, path, size)
        if value.validator in self.inline:
            lines += self.message_lines(self.inline[value.validator], x, path + ".")
        elif value.validator is not None:
            found = f"{scope}found{depth}"
            lines += [
                f"if {found} := {value.validator}({x}):",
                f"    _checks.nest(out, {_path(path)}, {found})",
            ]
        if (
            lines
            and value.ignore == IGNORE_IF_ZERO_VALUE
            and value.family not in ("message", "duration", "timestamp")
        ):
            lines = [f"if {_nonzero(value.family, x)}:", *_indent(lines)]
        return lines

    def field_lines(
        self, rules: FieldRules, index: int, m: str, prefix: str, scope: str
    ) -> list[str]:
        """The checks of one field of the message in ``m``, its path ``prefix`` + name."""
        name = rules.name
        path = prefix + name
        v = f"{scope}v{index}"
        required = (
            self.append(path, "required", "value is required") if rules.required else ""
        )
        if rules.shape == "single":
            assert rules.value is not None
            body = self.value_lines(rules.value, v, path, index, scope)
            if rules.presence:
                # IGNORE_IF_ZERO_VALUE on a field with presence means "when unset", as without it.
                lines = []
                if body:
                    lines += [
                        f"if {m}.HasField({py(name)}):",
                        f"    {v} = {m}.{name}",
                        *_indent(body),
                    ]
                    if rules.required:
                        lines += ["else:", "    " + required]
                elif rules.required:
                    lines += [f"if not {m}.HasField({py(name)}):", "    " + required]
                return lines
            if not body and not rules.required:
                return []
            lines = [f"{v} = {m}.{name}"]
            if rules.required:
                lines += [f"if {_zero(rules.value.family, v)}:", "    " + required]
                if body:
                    lines += ["else:", *_indent(body)]
            elif rules.ignore == IGNORE_IF_ZERO_VALUE:
                if body:
                    lines += [f"if {_nonzero(rules.value.family, v)}:", *_indent(body)]
            else:
                lines += body
            return lines
        # repeated and map fields
        body = []
        for rule in rules.collection:
            body += self._rule_lines(rule, rules.shape, v, path)
        x = f"{scope}x{index}"
        if rules.shape == "repeated":
            assert rules.items is not None
            i = f"{scope}i{index}"
            item = self.value_lines(rules.items, x, f"{path}[{{{i}}}]", index, scope)
            if item:
                loop = [f"for {i}, {x} in enumerate({v}):", *_indent(item)]
                fast = self.fast_test(rules.items, x)
                if fast is not None:  # no index and no path until an item fails
                    loop = [
                        f"for {x} in {v}:",
                        f"    if {fast}:",
                        "        # an item fails: check them all, with their paths",
                        *_indent(loop, 2),
                        "        break",
                    ]
                body += loop
        else:
            k = f"{scope}k{index}"
            if rules.key_family == "string":
                key_text = f"{{_checks.key({k})}}"
            elif rules.key_family == "bool":
                key_text = f"{{_checks.bool_key({k})}}"
            else:
                key_text = f"{{{k}}}"
            entry_path = f"{path}[{key_text}]"
            entry: list[str] = []
            if rules.keys is not None:
                entry += self.value_lines(rules.keys, k, entry_path, index, scope)
            if rules.values is not None:
                entry += self.value_lines(rules.values, x, entry_path, index, scope)
            if entry:
                body += [f"for {k}, {x} in {v}.items():", *_indent(entry)]
        if not body and not rules.required:
            return []
        lines = [f"{v} = {m}.{name}"]
        if rules.required:
            lines += [f"if not {v}:", "    " + required]
            if body:
                lines += ["else:", *_indent(body)]
        elif rules.ignore == IGNORE_IF_ZERO_VALUE and body:
            lines += [f"if {v}:", *_indent(body)]
        else:
            lines += body
        return lines

    def message_lines(self, message: MessageRules, m: str, prefix: str) -> list[str]:
        """The checks of ``message`` held in ``m``, its paths under ``prefix``: a function's body, or a nested
        message's checks written inline (``m`` is then the parent's local, e.g. ``x0``, and names its scope).
        """
        scope = "" if m == "m" else m + "_"
        lines = []
        for oneof in message.oneofs:
            lines += [
                f"if {m}.WhichOneof({py(oneof.name)}) is None:",
                "    "
                + self.append(
                    prefix + oneof.name,
                    "required",
                    "exactly one field is required in oneof",
                ),
            ]
        for index, rules in enumerate(message.fields):
            lines += self.field_lines(rules, index, m, prefix, scope)
        return lines

    def function(self, message: MessageRules) -> str:
        lines = [
            f"def {message.function}(m: _pb2.{message.python_class}) -> list[Violation]:",
            "    out: list[Violation] = []",
            *_indent(self.message_lines(message, "m", "")),
            "    return out",
        ]
        return "\n".join(lines)


def file_source(messages: list[MessageRules]) -> tuple[list[str], list[str]]:
    """(module constants, function sources) for the validators of one file."""
    constants: list[str] = []
    names: dict[tuple[str, ...], str] = {}
    inline = inlinable(messages)
    functions = [
        _Emitter(constants, names, inline).function(message) for message in messages
    ]
    return constants, functions


__all__ = ["NUMBER_FAMILIES", "file_source", "literal"]
