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
    """Lines of one function, and the module constants it needs."""

    constants: list[str]
    counter: list[int]
    lines: list[str] = field(default_factory=list)

    def constant(self, prefix: str, function: str, *args: str) -> str:
        """A module constant ``_PREFIX_n = function(args)``, written as black writes it."""
        self.counter[0] += 1
        name = f"_{prefix}_{self.counter[0]}"
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


class _Emitter:
    def __init__(self, constants: list[str], counter: list[int]) -> None:
        self.src = _Source(constants, counter)

    def append(self, path: str, rule_id: str, message: str) -> str:
        """The statement recording a violation. Violations are immutable, so each one is built once, at
        import; a path that depends on an index or key is filled in with ``_checks.at``.
        """
        static = path.startswith('"')
        name = self.src.constant(
            "V", "Violation", path if static else '""', py(rule_id), py(message)
        )
        return (
            f"out.append({name})"
            if static
            else f"out.append(_checks.at({path}, {name}))"
        )

    def _violation_test(self, rule: Rule, family: str, x: str) -> str:
        """The condition under which ``x`` breaks ``rule`` (not for the two-way format rules)."""
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
            size = f"len({x}.encode())" if check.endswith("bytes") else f"len({x})"
            op = {"len": "!=", "min": "<", "max": ">"}[check.split("_")[0]]
            return f"{size} {op} {operand}"
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

    def _rule_lines(self, rule: Rule, family: str, x: str, path: str) -> list[str]:
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
            f"if {self._violation_test(rule, family, x)}:",
            "    " + self.append(path, rule.rule_id, rule.message),
        ]

    def value_lines(
        self, value: ValueRules, x: str, path: str, depth: int
    ) -> list[str]:
        """Every check of one value held in ``x``; ``path`` is a Python expression for its field path."""
        lines: list[str] = []
        subject = x
        if value.family in ("duration", "timestamp") and value.rules:
            subject = f"n{depth}"
            lines.append(f"{subject} = {x}.seconds * {_NANOS} + {x}.nanos")
        for rule in value.rules:
            lines += self._rule_lines(rule, value.family, subject, path)
        if value.validator is not None:
            found = f"found{depth}"
            lines += [
                f"if {found} := {value.validator}({x}):",
                f"    _checks.nest(out, {path}, {found})",
            ]
        if (
            lines
            and value.ignore == IGNORE_IF_ZERO_VALUE
            and value.family not in ("message", "duration", "timestamp")
        ):
            lines = [f"if {_nonzero(value.family, x)}:", *_indent(lines)]
        return lines

    def field_lines(self, rules: FieldRules, index: int) -> list[str]:
        name = rules.name
        path = py(name)
        v = f"v{index}"
        required = (
            self.append(path, "required", "value is required") if rules.required else ""
        )
        if rules.shape == "single":
            assert rules.value is not None
            body = self.value_lines(rules.value, v, path, index)
            if rules.presence:
                # IGNORE_IF_ZERO_VALUE on a field with presence means "when unset", as without it.
                lines = []
                if body:
                    lines += [
                        f"if m.HasField({py(name)}):",
                        f"    {v} = m.{name}",
                        *_indent(body),
                    ]
                    if rules.required:
                        lines += ["else:", "    " + required]
                elif rules.required:
                    lines += [f"if not m.HasField({py(name)}):", "    " + required]
                return lines
            if not body and not rules.required:
                return []
            lines = [f"{v} = m.{name}"]
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
        if rules.shape == "repeated":
            assert rules.items is not None
            item = self.value_lines(
                rules.items, f"x{index}", f'f"{name}[{{i{index}}}]"', index
            )
            if item:
                body += [f"for i{index}, x{index} in enumerate({v}):", *_indent(item)]
        else:
            k = f"k{index}"
            if rules.key_family == "string":
                key_text = f"{{_checks.key({k})}}"
            elif rules.key_family == "bool":
                key_text = f"{{_checks.bool_key({k})}}"
            else:
                key_text = f"{{{k}}}"
            entry_path = f'f"{name}[{key_text}]"'
            entry: list[str] = []
            if rules.keys is not None:
                entry += self.value_lines(rules.keys, k, entry_path, index)
            if rules.values is not None:
                entry += self.value_lines(rules.values, f"x{index}", entry_path, index)
            if entry:
                body += [f"for {k}, x{index} in {v}.items():", *_indent(entry)]
        if not body and not rules.required:
            return []
        lines = [f"{v} = m.{name}"]
        if rules.required:
            lines += [f"if not {v}:", "    " + required]
            if body:
                lines += ["else:", *_indent(body)]
        elif rules.ignore == IGNORE_IF_ZERO_VALUE and body:
            lines += [f"if {v}:", *_indent(body)]
        else:
            lines += body
        return lines

    def function(self, message: MessageRules) -> str:
        lines = [
            f"def {message.function}(m: _pb2.{message.python_class}) -> list[Violation]:",
            "    out: list[Violation] = []",
        ]
        for oneof in message.oneofs:
            lines += _indent(
                [
                    f"if m.WhichOneof({py(oneof.name)}) is None:",
                    "    "
                    + self.append(
                        py(oneof.name),
                        "required",
                        "exactly one field is required in oneof",
                    ),
                ]
            )
        for index, rules in enumerate(message.fields):
            lines += _indent(self.field_lines(rules, index))
        lines.append("    return out")
        return "\n".join(lines)


def file_source(messages: list[MessageRules]) -> tuple[list[str], list[str]]:
    """(module constants, function sources) for the validators of one file."""
    constants: list[str] = []
    counter = [0]
    functions = [_Emitter(constants, counter).function(message) for message in messages]
    return constants, functions


__all__ = ["NUMBER_FAMILIES", "file_source", "literal"]
