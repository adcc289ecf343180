"""Validation model -> Python source: one straight-line function per message, specialised to its rules.

Module constants (violations built once, RE2 patterns compiled at import, ``in`` sets) are named after what they
check (``_LINE_ITEM_SKU_PATTERN``, ``_LINE_ITEM_SKU_PATTERN_RE``): the message and field that declare the rule
and the rule's name, so adding a rule adds only its own lines. Violations are built without a path and placed
with ``_checks.at(path, violation)`` when one is found, so a rule has one constant wherever it is checked.

Each kind of rule has one emitter (``_test``, dispatched by type): the condition under which a value breaks it.
Output is written the way black writes it for short lines; a longer line sends the file through black.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import singledispatch

from grpc_errgen.codegen.backend import cel, names
from grpc_errgen.codegen.backend.literals import Value, docstring, literal
from grpc_errgen.codegen.cel.ast import Kind
from grpc_errgen.codegen.model import rules as m

LINE_LENGTH = 88
#: Locals of compiled CEL: the time of one evaluation, and the message a string-valued rule returned.
CEL_NOW = "now"
CEL_TEXT = "cel_text"
_NANOS = "1_000_000_000"
_LOWER_OPS = {"gt": "<", "gte": "<="}  # bound OP value
_UPPER_OPS = {"lt": "<", "lte": "<="}  # value OP bound
_OUTSIDE_LOWER = {"gt": ">", "gte": ">="}  # value OP bound, for exclusive ranges
_BOUND_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_SIZE_OPS = {"exact": "!=", "min": "<", "max": ">"}
#: well-known string format -> the ``grpc_errgen.checks`` call that accepts it (extra arguments after the value)
_STRING_FORMATS: dict[str, tuple[str, tuple[Value, ...]]] = {
    "email": ("is_email", ()),
    "hostname": ("is_hostname", ()),
    "ip": ("is_ip", ()),
    "ipv4": ("is_ip", (4,)),
    "ipv6": ("is_ip", (6,)),
    "uri": ("is_uri", ()),
    "uri_ref": ("is_uri_ref", ()),
    "address": ("is_address", ()),
    "uuid": ("is_uuid", ()),
    "tuuid": ("is_tuuid", ()),
    "ip_with_prefixlen": ("is_ip_prefix", ()),
    "ipv4_with_prefixlen": ("is_ip_prefix", (4,)),
    "ipv6_with_prefixlen": ("is_ip_prefix", (6,)),
    "ip_prefix": ("is_ip_prefix", (0, True)),
    "ipv4_prefix": ("is_ip_prefix", (4, True)),
    "ipv6_prefix": ("is_ip_prefix", (6, True)),
    "ulid": ("is_ulid", ()),
    "protobuf_fqn": ("is_protobuf_fqn", ()),
    "protobuf_dot_fqn": ("is_protobuf_dot_fqn", ()),
    "host_and_port": ("is_host_and_port", ()),
}
#: A nested message is written into its parent's function (no call, no list per valid item) when it calls no
#: validator of its own (so inlining cannot recurse) and has at most this many rules.
INLINE_RULES = 8


@dataclass
class Constants:
    """The module constants of one generated file, shared by its functions: one per distinct value."""

    lines: list[str] = field(default_factory=list)
    _by_value: dict[tuple[str, ...], str] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)

    def add(self, parts: list[str], function: str, *args: str) -> str:
        """The name of ``function(args)`` as a module constant named from ``parts``, written as black writes it."""
        base = names.rule_constant(parts)
        known = self._by_value.get((base, function, *args))
        if known is not None:  # the same rule, checked again (a message written inline)
            return known
        name, n = base, 1
        while (
            name in self._taken
        ):  # two declarations spelling the same words (a_b.c and a.b_c)
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        self._by_value[(base, function, *args)] = name
        one_line = f"{name} = {function}({', '.join(args)})"
        if len(one_line) <= LINE_LENGTH:
            self.lines.append(one_line)
        else:  # exploded, with the magic trailing comma that keeps black from joining it
            exploded = "".join(f"    {arg},\n" for arg in args)
            self.lines.append(f"{name} = {function}(\n{exploded})")
        return name


def _rule_words(rule_id: str) -> str:
    """``string.well_known_regex.header_name`` -> ``well_known_regex_header_name``."""
    return (rule_id.partition(".")[2] or rule_id).replace(".", "_")


@dataclass(frozen=True)
class _At:
    """Where checks are being written: the value's local, its path (f-string content) and the words naming
    its rules' constants (declaring message, field, keys/values)."""

    x: str
    path: str
    owner: tuple[str, ...]


class _Context:
    """What an emitter needs: the file's constants and where the rule is."""

    def __init__(self, constants: Constants, at: _At, family: str) -> None:
        self.constants = constants
        self.at = at
        self.family = family

    def constant(self, rule: m.RuleBase, suffix: str, function: str, *args: str) -> str:
        return self.constants.add(
            [*self.at.owner, _rule_words(rule.rule_id), suffix], function, *args
        )


def _path(content: str) -> str:
    """The Python expression of a field path: a string, or an f-string when it holds an index or key."""
    return f'f"{content}"' if "{" in content else f'"{content}"'


def _set_literal(values: tuple[m.Scalar, ...]) -> str:
    """The argument of ``frozenset(...)``: a set display, exploded when long."""
    items = [literal(v) for v in dict.fromkeys(values)]
    one_line = "{" + ", ".join(items) + "}"
    if len(one_line) <= LINE_LENGTH - 30:
        return one_line
    return "{\n" + "".join(f"        {item},\n" for item in items) + "    }"


# -- one emitter per kind of rule: the condition under which ``x`` breaks it ---------------------------------


@singledispatch
def _test(rule: m.Rule, x: str, ctx: _Context) -> str:
    raise TypeError(f"no emitter for {type(rule).__name__}")


@_test.register
def _(rule: m.Const, x: str, ctx: _Context) -> str:
    return f"{x} != {literal(rule.value)}"


@_test.register
def _(rule: m.Bound, x: str, ctx: _Context) -> str:
    return f"not {x} {_BOUND_OPS[rule.op]} {literal(rule.bound)}"


@_test.register
def _(rule: m.Range, x: str, ctx: _Context) -> str:
    if rule.exclusive:
        return (
            f"not ({x} {_UPPER_OPS[rule.upper]} {literal(rule.high)}"
            f" or {x} {_OUTSIDE_LOWER[rule.lower]} {literal(rule.low)})"
        )
    return f"not {literal(rule.low)} {_LOWER_OPS[rule.lower]} {x} {_UPPER_OPS[rule.upper]} {literal(rule.high)}"


@_test.register
def _(rule: m.In, x: str, ctx: _Context) -> str:
    return f"{x} not in {ctx.constant(rule, 'set', 'frozenset', _set_literal(rule.values))}"


@_test.register
def _(rule: m.NotIn, x: str, ctx: _Context) -> str:
    return f"{x} in {ctx.constant(rule, 'set', 'frozenset', _set_literal(rule.values))}"


@_test.register
def _(rule: m.Finite, x: str, ctx: _Context) -> str:
    return f"not _checks.is_finite({x})"


@_test.register
def _(rule: m.Size, x: str, ctx: _Context) -> str:
    length = f"len({x}.encode())" if rule.of is m.SizeOf.UTF8_BYTES else f"len({x})"
    return f"{length} {_SIZE_OPS[rule.bound]} {rule.limit}"


@_test.register
def _(rule: m.Pattern, x: str, ctx: _Context) -> str:
    pattern = ctx.constant(rule, "re", "_checks.regex", literal(rule.regex))
    if ctx.family == "bytes":
        return f"not {pattern}.found_bytes({x})"
    return f"not {pattern}.found({x})"


@_test.register
def _(rule: m.Prefix, x: str, ctx: _Context) -> str:
    return f"not {x}.startswith({literal(rule.text)})"


@_test.register
def _(rule: m.Suffix, x: str, ctx: _Context) -> str:
    return f"not {x}.endswith({literal(rule.text)})"


@_test.register
def _(rule: m.Contains, x: str, ctx: _Context) -> str:
    return f"{literal(rule.text)} not in {x}"


@_test.register
def _(rule: m.NotContains, x: str, ctx: _Context) -> str:
    return f"{literal(rule.text)} in {x}"


@_test.register
def _(rule: m.Unique, x: str, ctx: _Context) -> str:
    return f"len(set({x})) != len({x})"


@_test.register
def _(rule: m.LtNow, x: str, ctx: _Context) -> str:
    return f"{x} > _checks.now_nanos()"


@_test.register
def _(rule: m.GtNow, x: str, ctx: _Context) -> str:
    return f"{x} < _checks.now_nanos()"


@_test.register
def _(rule: m.Within, x: str, ctx: _Context) -> str:
    return f"abs({x} - _checks.now_nanos()) > {rule.nanos}"


@_test.register
def _(rule: m.StringFormat, x: str, ctx: _Context) -> str:
    function, args = _STRING_FORMATS[rule.name]
    return f"not _checks.{function}({', '.join([x, *(literal(a) for a in args)])})"


@_test.register
def _(rule: m.FormatPattern, x: str, ctx: _Context) -> str:
    pattern = ctx.constant(rule, "re", "_checks.regex", literal(rule.regex))
    return f"not {pattern}.found({x})"


@_test.register
def _(rule: m.ByteLengths, x: str, ctx: _Context) -> str:
    return f"len({x}) not in {literal(rule.sizes)}"


def _empty_case(rule: m.Rule) -> m.EmptyCase | None:
    """The separate violation of an empty value, for the well-known formats that have one."""
    if isinstance(rule, m.StringFormat | m.FormatPattern | m.ByteLengths):
        return rule.empty
    return None


# -- messages, fields and values -------------------------------------------------------------------------------


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return ["    " * depth + line for line in lines]


def _zero(family: str, x: str) -> str:
    """The test that ``x`` holds its type's default (for floats: positive zero; -0.0 is a set value)."""
    if family in ("float", "double"):
        return f"_checks.is_default_float({x})"
    return f"not {x}"


def _nonzero(family: str, x: str) -> str:
    if family in ("float", "double"):
        return f"not _checks.is_default_float({x})"
    return x


_APPEND_AT = re.compile(r"( *)out\.append\(_checks\.at\((.*), (_[A-Z0-9_]+)\)\)")
_IF = re.compile(r"( *)(if|elif) (.*):")


def _fit(line: str) -> list[str]:
    """``line`` split as black splits it when it is too long (the statements validators write); a line of
    another shape is left whole (black, the safety net, then formats the file)."""
    if len(line) <= LINE_LENGTH:
        return [line]
    if found := _APPEND_AT.fullmatch(line):
        indent, path, name = found.groups()
        call = f"_checks.at({path}, {name})"
        if len(indent) + 4 + len(call) <= LINE_LENGTH:
            return [f"{indent}out.append(", f"{indent}    {call}", f"{indent})"]
        inner = indent + "        "
        if len(inner) + len(f"{path}, {name}") <= LINE_LENGTH:
            arguments = [f"{inner}{path}, {name}"]
        else:
            arguments = [f"{inner}{path},", f"{inner}{name},"]
        return [
            f"{indent}out.append(",
            f"{indent}    _checks.at(",
            *arguments,
            f"{indent}    )",
            f"{indent})",
        ]
    if found := _IF.fullmatch(line):
        indent, keyword, condition = found.groups()
        if len(indent) + 4 + len(condition) <= LINE_LENGTH:
            return [f"{indent}{keyword} (", f"{indent}    {condition}", f"{indent}):"]
    return [line]


def _if_lines(tests: list[str], column: int) -> list[str] | None:
    """``if A or B:`` as black writes it with its ``if`` at ``column``; None when a test alone is too long."""
    condition = " or ".join(tests)
    if column + len(f"if {condition}:") <= LINE_LENGTH:
        return [f"if {condition}:"]
    if column + 4 + len(condition) <= LINE_LENGTH:
        return ["if (", f"    {condition}", "):"]
    if any(column + 7 + len(test) > LINE_LENGTH for test in tests):
        return None
    return ["if (", f"    {tests[0]}", *(f"    or {test}" for test in tests[1:]), "):"]


def _rule_count(message: m.MessageRules) -> int:
    count = len(message.oneofs) + len(message.cel)
    for rules in message.fields:
        count += int(rules.required is not None)
        if not isinstance(rules, m.SingleField):
            count += len(rules.rules)
    return count + sum(len(value.rules) for value in message.values())


@dataclass(frozen=True)
class FileValidatorsSource:
    """The validators of one file as source: module constants, functions, registrations and imports."""

    constants: tuple[str, ...]
    functions: tuple[str, ...]
    #: (message full name, function name), for ``_validation.register``
    registrations: tuple[tuple[str, str], ...]
    #: other generated modules whose validators these call: proto file names
    dependencies: tuple[str, ...]
    #: compiled CEL calls ``grpc_errgen.cel``
    uses_cel: bool = False


class _Emitter:
    """Writes the checks of the messages of one file. ``scope`` prefixes the local names of a message written
    inline into its parent (``x0_v1``), so they cannot collide.
    """

    def __init__(self, validators: m.FileValidators, constants: Constants) -> None:
        self.validators = validators
        self.constants = constants
        self.dependencies: dict[str, None] = {}
        self.uses_cel = False
        local = {message.full_name: message for message in validators.messages}
        self.inline = {
            name: message
            for name, message in local.items()
            if not self._calls_validators(message)
            and _rule_count(message) <= INLINE_RULES
        }

    def _calls_validators(self, message: m.MessageRules) -> bool:
        return any(self.reference(value) is not None for value in message.values())

    def reference(self, value: m.ValueRules) -> str | None:
        """The expression of the validator of a message value, or None when that message has none."""
        found = self.validators.validated.get(value.message_type or "")
        if found is None:
            return None
        function = names.validator_function(found.nested_name)
        if found.proto == self.validators.file_name:
            return function
        self.dependencies[found.proto] = None
        return f"{names.dependency_alias(found.proto)}.{function}"

    def violation(self, at: _At, words: str, rule_id: str, message: str) -> str:
        """The statement recording a violation at ``at.path``; the violation itself is built once, at import."""
        name = self.constants.add(
            [*at.owner, words],
            "_errors.Violation",
            '""',
            literal(rule_id),
            literal(message),
        )
        return f"out.append(_checks.at({_path(at.path)}, {name}))"

    def cel_lines(self, rule: m.CelRule, at: _At, subject: str) -> list[str]:
        """A CEL rule on ``subject``: false, or a non-empty string (the message), is a violation."""
        ctx = _Context(self.constants, at, "cel")
        emitted = cel.emit(
            rule.expr,
            lambda function, argument: ctx.constant(rule, "cel", function, argument),
            subject,
            runtime=names.RUNTIME_IMPORTS["grpc_errgen.cel"],
            now=CEL_NOW,
        )
        self.uses_cel = True
        lines = [f"{CEL_NOW} = _cel.now()"] if emitted.uses_now else []
        if rule.expr.root.type.kind is Kind.BOOL:
            record = self.violation(
                at, _rule_words(rule.rule_id), rule.rule_id, rule.message
            )
            return [*lines, f"if not {emitted.source}:", "    " + record]
        found = (
            f"_errors.Violation({_path(at.path)}, {literal(rule.rule_id)}, {CEL_TEXT})"
        )
        return [
            *lines,
            f"if {CEL_TEXT} := {emitted.source}:",
            f"    out.append({found})",
        ]

    def rule_lines(self, rule: m.Rule, family: str, at: _At, subject: str) -> list[str]:
        if isinstance(rule, m.CelRule):
            return self.cel_lines(rule, at, subject)
        ctx = _Context(self.constants, at, family)
        bad = _test(rule, subject, ctx)
        record = self.violation(
            at, _rule_words(rule.rule_id), rule.rule_id, rule.message
        )
        empty = _empty_case(rule)
        if empty is None:
            return [f"if {bad}:", "    " + record]
        return [
            f"if not {subject}:",
            "    "
            + self.violation(
                at, _rule_words(empty.rule_id), empty.rule_id, empty.message
            ),
            f"elif {bad}:",
            "    " + record,
        ]

    def fast_test(self, value: m.ValueRules, x: str, at: _At) -> list[str] | None:
        """For a list item that is a message written inline: one short condition that is false whenever the
        item has no violation, so that a loop over valid items needs no index, no path and no local per field.
        None where the item's checks do not reduce to one read of each field (presence, required, ignore,
        several rules reading a field twice) or the condition would not fit on one line.
        """
        message = self.inline.get(value.message_type or "")
        if message is None or message.oneofs or message.cel or value.rules:
            return None
        tests = []
        for rules in message.fields:
            if not isinstance(rules, m.SingleField):
                return None
            one = rules.value
            if not one.rules:
                if rules.required is None:
                    continue  # a field without rules
                return None
            if (
                rules.presence
                or rules.required is not None
                or rules.ignore is not m.Ignore.UNSPECIFIED
                or one.ignore is not m.Ignore.UNSPECIFIED
                or one.family in ("duration", "timestamp")
            ):
                return None
            read = names.attribute(x, rules.name)
            owner = _At(read, "", (*_message_words(message), rules.name))
            sizes = [
                rule
                for rule in one.rules
                if isinstance(rule, m.Size) and rule.of is m.SizeOf.LENGTH
            ]
            if len(one.rules) == 2 and sorted(r.bound for r in sizes) == ["max", "min"]:
                low, high = sorted(rule.limit for rule in sizes)
                tests.append(f"not {low} <= len({read}) <= {high}")
                continue
            if any(
                _empty_case(rule) is not None or isinstance(rule, m.CelRule)
                for rule in one.rules
            ):
                return None
            ctx = _Context(self.constants, owner, one.family)
            tests += [_test(rule, read, ctx) for rule in one.rules]
        return tests or None

    def value_lines(
        self, value: m.ValueRules, at: _At, depth: int, scope: str
    ) -> list[str]:
        """Every check of one value held in ``at.x``."""
        lines: list[str] = []
        x = at.x
        subject = x
        if value.family in ("duration", "timestamp") and value.rules:
            subject = f"{scope}n{depth}"
            lines.append(f"{subject} = {x}.seconds * {_NANOS} + {x}.nanos")
        sizes = [
            r for r in value.rules if isinstance(r, m.Size) and r.of is m.SizeOf.LENGTH
        ]
        size_local = None
        if len(sizes) > 1:
            size_local = f"{scope}size{depth}"  # len() once for min_len + max_len
            lines.append(f"{size_local} = len({x})")
        for rule in value.rules:
            if size_local is not None and rule in sizes:
                assert isinstance(rule, m.Size)
                test = f"{size_local} {_SIZE_OPS[rule.bound]} {rule.limit}"
                lines += [
                    f"if {test}:",
                    "    "
                    + self.violation(
                        at, _rule_words(rule.rule_id), rule.rule_id, rule.message
                    ),
                ]
            else:
                lines += self.rule_lines(rule, value.family, at, subject)
        inline = self.inline.get(value.message_type or "")
        reference = self.reference(value)
        if inline is not None:
            lines += self.message_lines(inline, x, at.path + ".")
        elif reference is not None:
            found = f"{scope}found{depth}"
            lines += [
                f"if {found} := {reference}({x}):",
                f"    _checks.nest(out, {_path(at.path)}, {found})",
            ]
        if (
            lines
            and value.ignore is m.Ignore.IF_ZERO_VALUE
            and value.family not in ("message", "duration", "timestamp")
        ):
            lines = [f"if {_nonzero(value.family, x)}:", *_indent(lines)]
        return lines

    def field_lines(
        self,
        rules: m.FieldRules,
        index: int,
        msg: str,
        prefix: str,
        scope: str,
        owner: tuple[str, ...],
    ) -> list[str]:
        """The checks of one field of the message in ``msg``, its path ``prefix`` + name."""
        name = rules.name
        path = prefix + name
        words = (*owner, name)
        v = f"{scope}v{index}"
        read = names.attribute(msg, name)
        here = _At(v, path, words)
        required = (
            self.violation(
                here, "required", rules.required.rule_id, rules.required.message
            )
            if rules.required is not None
            else ""
        )
        if isinstance(rules, m.SingleField):
            body = self.value_lines(rules.value, here, index, scope)
            if rules.presence:
                # IGNORE_IF_ZERO_VALUE on a field with presence means "when unset", as without it.
                lines = []
                if body:
                    lines += [
                        f"if {msg}.HasField({literal(name)}):",
                        f"    {v} = {read}",
                        *_indent(body),
                    ]
                    if rules.required is not None:
                        lines += ["else:", "    " + required]
                elif rules.required is not None:
                    lines += [
                        f"if not {msg}.HasField({literal(name)}):",
                        "    " + required,
                    ]
                return lines
            if not body and rules.required is None:
                return []
            lines = [f"{v} = {read}"]
            if rules.required is not None:
                lines += [f"if {_zero(rules.value.family, v)}:", "    " + required]
                if body:
                    lines += ["else:", *_indent(body)]
            elif rules.ignore is m.Ignore.IF_ZERO_VALUE:
                if body:
                    lines += [f"if {_nonzero(rules.value.family, v)}:", *_indent(body)]
            else:
                lines += body
            return lines
        # repeated and map fields
        body = []
        for rule in rules.rules:
            body += self.rule_lines(rule, "repeated", here, v)
        x = f"{scope}x{index}"
        if isinstance(rules, m.RepeatedField):
            i = f"{scope}i{index}"
            item_at = _At(x, f"{path}[{{{i}}}]", words)
            item = self.value_lines(rules.items, item_at, index, scope)
            if item:
                loop = [f"for {i}, {x} in enumerate({v}):", *_indent(item)]
                fast = self.fast_test(rules.items, x, item_at)
                # The loop's `if` sits 8 columns in, 12 inside a required / ignore test.
                wrapped = (
                    rules.required is not None or rules.ignore is m.Ignore.IF_ZERO_VALUE
                )
                test = _if_lines(fast, 12 if wrapped else 8) if fast else None
                if test is not None:  # no index and no path until an item fails
                    loop = [
                        f"for {x} in {v}:",
                        *_indent(test),
                        "        # an item fails: check them all, with their paths",
                        *_indent(loop, 2),
                        "        break",
                    ]
                body += loop
        else:
            k = f"{scope}k{index}"
            if rules.keys.family == "string":
                key_text = f"{{_checks.key({k})}}"
            elif rules.keys.family == "bool":
                key_text = f"{{_checks.bool_key({k})}}"
            else:
                key_text = f"{{{k}}}"
            entry_path = f"{path}[{key_text}]"
            entry = self.value_lines(
                rules.keys, _At(k, entry_path, (*words, "keys")), index, scope
            )
            entry += self.value_lines(
                rules.values, _At(x, entry_path, (*words, "values")), index, scope
            )
            if entry:
                body += [f"for {k}, {x} in {v}.items():", *_indent(entry)]
        if not body and rules.required is None:
            return []
        lines = [f"{v} = {read}"]
        if rules.required is not None:
            lines += [f"if not {v}:", "    " + required]
            if body:
                lines += ["else:", *_indent(body)]
        elif rules.ignore is m.Ignore.IF_ZERO_VALUE and body:
            lines += [f"if {v}:", *_indent(body)]
        else:
            lines += body
        return lines

    def message_lines(
        self, message: m.MessageRules, msg: str, prefix: str
    ) -> list[str]:
        """The checks of ``message`` held in ``msg``, its paths under ``prefix``: a function's body, or a nested
        message's checks written inline (``msg`` is then the parent's local, e.g. ``x0``, and names its scope).
        """
        scope = "" if msg == "m" else msg + "_"
        owner = _message_words(message)
        lines = []
        for rule in message.cel:
            lines += self.cel_lines(rule, _At(msg, prefix.rstrip("."), owner), msg)
        for oneof in message.oneofs:
            at = _At(msg, prefix + oneof.name, (*owner, oneof.name))
            lines += [
                f"if {msg}.WhichOneof({literal(oneof.name)}) is None:",
                "    "
                + self.violation(
                    at, "required", "required", "exactly one field is required in oneof"
                ),
            ]
        for index, rules in enumerate(message.fields):
            lines += self.field_lines(rules, index, msg, prefix, scope, owner)
        return lines

    def function(self, message: m.MessageRules) -> str:
        cls = names.message_class(message.nested_name)
        annotation = (
            cls if names.is_plain_attribute_path(message.nested_name) else "object"
        )
        doc = _docstring_lines(message.doc)
        lines = [
            f"def {names.validator_function(message.nested_name)}(m: {annotation}) -> list[_errors.Violation]:",
            *doc,
            "    out: list[_errors.Violation] = []",
            *_indent(self.message_lines(message, "m", "")),
            "    return out",
        ]
        return "\n".join(fitted for line in lines for fitted in _fit(line))


def _message_words(message: m.MessageRules) -> tuple[str, ...]:
    return message.nested_name


def _docstring_lines(doc: str) -> list[str]:
    text = docstring(doc, "    ")
    return text.split("\n") if text else []


def file_source(validators: m.FileValidators) -> FileValidatorsSource:
    """The source of the validators of one file."""
    constants = Constants()
    emitter = _Emitter(validators, constants)
    functions = tuple(emitter.function(message) for message in validators.messages)
    return FileValidatorsSource(
        constants=tuple(constants.lines),
        functions=functions,
        registrations=tuple(
            (message.full_name, names.validator_function(message.nested_name))
            for message in validators.messages
        ),
        dependencies=tuple(emitter.dependencies),
        uses_cel=emitter.uses_cel,
    )
