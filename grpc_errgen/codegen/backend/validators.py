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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache, singledispatch

from google.protobuf import descriptor_pb2

from grpc_errgen.codegen.backend import cel, names
from grpc_errgen.codegen.backend.literals import Value, docstring, literal, tuple_of
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
_ELEMENT = "_errors.FieldPathElement"
#: families whose values are messages: no zero-value test, no per-value ignore
_MESSAGE_FAMILIES = frozenset({"message", "duration", "timestamp", "any", "field_mask"})
_TYPE_NAMES: dict[int, str] = {
    int(number): name.removeprefix("TYPE_")
    for name, number in descriptor_pb2.FieldDescriptorProto.Type.items()
}
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
    #: path elements (``_errors.FieldPathElement``): written first, sorted, so adding a rule adds its own lines
    elements: list[str] = field(default_factory=list)
    _by_value: dict[tuple[str, ...], str] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)

    def all_lines(self) -> tuple[str, ...]:
        return (*sorted(self.elements), *self.lines)

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
        target = self.elements if function == _ELEMENT else self.lines
        if len(one_line) <= LINE_LENGTH:
            target.append(one_line)
        else:  # exploded, with the magic trailing comma that keeps black from joining it
            lines = exploded(args, "    ")
            if (
                lines is None
            ):  # an argument black splits further: the safety net formats it
                lines = tuple(f"    {arg}," for arg in args)
            target.append(f"{name} = {function}(\n" + "\n".join(lines) + "\n)")
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
    #: the structured path: expressions of ``FieldPathElement`` values, from the validated message down
    elements: tuple[str, ...] = ()


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
    return f"len(set({_items(x)})) != len({x})"


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


@_test.register
def _(rule: m.FieldMaskConst, x: str, ctx: _Context) -> str:
    return f"tuple({x}.paths) != {literal(rule.paths)}"


@_test.register
def _(rule: m.FieldMaskIn, x: str, ctx: _Context) -> str:
    return f"not _checks.paths_within({x}.paths, {literal(rule.paths)})"


@_test.register
def _(rule: m.FieldMaskNotIn, x: str, ctx: _Context) -> str:
    return f"_checks.paths_touch({x}.paths, {literal(rule.paths)})"


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


_APPEND_AT = re.compile(r"( *)out\.append\(_checks\.at\((.*)\)\)")
_IF = re.compile(r"( *)(if|elif) (.*):")


@lru_cache(maxsize=4096)
def split_arguments(text: str) -> tuple[str, ...]:
    """``a, f(b, c), "d, e"`` -> ``["a", "f(b, c)", '"d, e"']``: split at the top-level commas."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    last = text[start:].strip()
    return (*parts, last) if last else tuple(parts)


@lru_cache(maxsize=4096)
def exploded(arguments: tuple[str, ...], indent: str) -> tuple[str, ...] | None:
    """Arguments one per line with the magic trailing comma, as black writes them at ``indent``; a tuple
    display too long for its line is exploded the same way. None when an argument still does not fit.
    """
    lines = []
    for argument in arguments:
        if len(indent) + len(argument) + 1 <= LINE_LENGTH:
            lines.append(f"{indent}{argument},")
        elif argument.startswith("(") and argument.endswith(")"):
            inner = exploded(split_arguments(argument[1:-1]), indent + "    ")
            if inner is None:
                return None
            lines += [f"{indent}(", *inner, f"{indent}),"]
        else:
            return None
    return tuple(lines)


def _fit(line: str) -> list[str]:
    """``line`` split as black splits it when it is too long (the statements validators write); a line of
    another shape is left whole (black, the safety net, then formats the file)."""
    if len(line) <= LINE_LENGTH:
        return [line]
    if found := _APPEND_AT.fullmatch(line):
        indent, arguments = found.groups()
        call = f"_checks.at({arguments})"
        if len(indent) + 4 + len(call) <= LINE_LENGTH:
            return [f"{indent}out.append(", f"{indent}    {call}", f"{indent})"]
        inner = indent + "        "
        if len(inner) + len(arguments) <= LINE_LENGTH:
            lines = [f"{inner}{arguments}"]
        else:
            one_per_line = exploded(split_arguments(arguments), inner)
            if one_per_line is None:
                return [line]
            lines = list(one_per_line)
        return [
            f"{indent}out.append(",
            f"{indent}    _checks.at(",
            *lines,
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
    #: compiled CEL calls ``grpc_errgen.cel``
    uses_cel: bool = False
    #: (message full name, diagnostic) of refused messages, for ``_validation.refuse``
    refusals: tuple[tuple[str, str], ...] = ()


class _Emitter:
    """Writes the checks of the messages of one file. ``scope`` prefixes the local names of a message written
    inline into its parent (``x0_v1``), so they cannot collide.
    """

    def __init__(
        self,
        validators: m.FileValidators,
        constants: Constants,
        aliases: Mapping[str, str],
    ) -> None:
        self.validators = validators
        self.constants = constants
        #: the alias of each other file's generated module, ``called_files`` among them
        self.aliases = aliases
        self.rule_paths: dict[m.RulePath, str] = (
            {}
        )  # rule path -> its tuple of constants
        self.uses_cel = False
        #: the function being written is a walker (its message is recursive): nested recursive messages are
        #: yielded to ``_checks.walk``, not called
        self.walking = False
        local = {message.full_name: message for message in _checked(validators)}
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
        return self._qualified(names.validator_function(found.nested_name), found)

    def _qualified(self, function: str, found: m.MessageRef) -> str:
        """``function`` of the module generated for ``found``'s file, as this file's module calls it."""
        return names.qualified(
            function, found.proto, self.validators.file_name, self.aliases
        )

    def nested_lines(
        self, value: m.ValueRules, x: str, at: _At, found: str
    ) -> list[str]:
        """The checks of the message in ``x`` by its own validator, its violations (in ``found``) placed under
        ``at.path``: a call, or, inside a walker, a yield of its walk when it is recursive too
        (``_checks.walk`` runs it before resuming this one). Empty when that message has no validator.
        """
        ref = self.validators.validated.get(value.message_type or "")
        if ref is None:
            return []
        nest = ", ".join(["out", _path(at.path), found, *at.elements])
        if self.walking and ref.recursive:
            walker = self._qualified(names.walker_function(ref.nested_name), ref)
            return [
                f"{found}: list[_errors.Violation] = []",
                f"yield {walker}({x}, {found})",
                f"if {found}:",
                f"    _checks.nest({nest})",
                *_indent(_STOP),
            ]
        return [
            f"if {found} := {self.reference(value)}({x}):",
            f"    _checks.nest({nest})",
            *_indent(_STOP),
        ]

    def violation(
        self,
        at: _At,
        words: str,
        rule_id: str,
        message: str,
        rule_path: m.RulePath = (),
        for_key: bool = False,
    ) -> str:
        """The statement recording a violation at ``at.path``; the violation itself (rule id, message, rule
        path, for_key) is built once, at import, and gets its field path when found."""
        args = ['""', literal(rule_id), literal(message)]
        if rule_path or for_key:
            args += ["()", self.rule_path(rule_path)]
        if for_key:
            args.append("True")
        name = self.constants.add([*at.owner, words], "_errors.Violation", *args)
        return (
            f"out.append(_checks.at({', '.join([_path(at.path), name, *at.elements])}))"
        )

    def rule_violation(self, at: _At, rule: m.RuleBase) -> str:
        return self.violation(
            at,
            _rule_words(rule.rule_id),
            rule.rule_id,
            rule.message,
            rule.path,
            rule.for_key,
        )

    def rule_path(self, path: m.RulePath) -> str:
        """A tuple of module constants, one per element of a rule path."""
        known = self.rule_paths.get(path)
        if known is None:
            known = self.rule_paths[path] = self._rule_path(path)
        return known

    def _rule_path(self, path: m.RulePath) -> str:
        found = []
        for element in path:
            words = ["rule", element.name, str(element.number)]
            words.append(_TYPE_NAMES[element.field_type])
            args = [literal(element.name), str(element.number), str(element.field_type)]
            if element.index is not None:
                words.append(f"at_{element.index}")
                args.append(f"index={element.index}")
            found.append(self.constants.add(words, _ELEMENT, *args))
        return tuple_of(found)

    def field_element(
        self, owner: tuple[str, ...], rules: m.FieldRules, entry: bool = False
    ) -> str:
        """The module constant of a field's path element (``items``, number 2, TYPE_MESSAGE); ``entry``: a map
        field's element for its entries, which carries the key and value types."""
        args = [literal(rules.name)]
        element = rules.element
        if element is not None:
            args += [str(element.number), str(element.field_type)]
            if entry and element.key_type is not None:
                args += [str(element.key_type), str(element.value_type)]
        return self.constants.add(
            [*owner, "entry" if entry else "field"], _ELEMENT, *args
        )

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
            record = self.rule_violation(at, rule)
            return [*lines, f"if not {emitted.source}:", "    " + record]
        elements = tuple_of(at.elements)
        args = [
            _path(at.path),
            literal(rule.rule_id),
            CEL_TEXT,
            elements,
            self.rule_path(rule.path),
        ]
        if rule.for_key:
            args.append("True")
        found = f"_errors.Violation({', '.join(args)})"
        return [
            *lines,
            f"if {CEL_TEXT} := {emitted.source}:",
            f"    out.append({found})",
        ]

    def rule_lines(
        self, rule: m.Rule, family: str, at: _At, subject: str, nonzero: bool = False
    ) -> list[str]:
        """The check of one rule; ``nonzero``: the value is known not to be empty here (an enclosing
        ``ignore`` / ``required`` test), so a format's separate empty-value case cannot happen.
        """
        if isinstance(rule, m.CelRule):
            return self.cel_lines(rule, at, subject)
        ctx = _Context(self.constants, at, family)
        bad = _test(rule, subject, ctx)
        record = self.rule_violation(at, rule)
        empty = _empty_case(rule)
        if empty is None or nonzero:
            return [f"if {bad}:", "    " + record]
        return [
            f"if not {subject}:",
            "    "
            + self.violation(
                at,
                _rule_words(empty.rule_id),
                empty.rule_id,
                empty.message,
                rule.path,
                rule.for_key,
            ),
            f"elif {bad}:",
            "    " + record,
        ]

    def fast_test(self, value: m.ValueRules, x: str, at: _At) -> list[str] | None:
        """For a list item or a map key or value (a scalar, or a message written inline): one short condition
        that is false whenever the item has no violation, so that a loop over valid items needs no index, no
        path, no local per field and no bookkeeping of failed map entries. None where the item's checks do not
        reduce to one read of each value (presence, required, ignore, several rules reading a field twice) or the
        condition would not fit on one line.
        """
        if value.message_type is None:
            if (
                value.ignore is not m.Ignore.UNSPECIFIED
                or value.wrapper
                or value.family in _MESSAGE_FAMILIES
            ):
                return None
            return self.value_tests(value, x, _At(x, "", at.owner))
        message = self.inline.get(value.message_type)
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
            ):
                return None
            read = names.attribute(x, rules.name)
            found = self.value_tests(
                one, read, _At(read, "", (*_message_words(message), rules.name))
            )
            if found is None:
                return None
            tests += found
        return tests or None

    def value_tests(self, one: m.ValueRules, read: str, owner: _At) -> list[str] | None:
        """The conditions under which the value ``read`` breaks one of its rules, or None when they are not
        simple conditions (formats with an empty case, CEL, durations and timestamps).
        """
        if not one.rules or one.family in ("duration", "timestamp"):
            return None
        sizes = [
            rule
            for rule in one.rules
            if isinstance(rule, m.Size) and rule.of is m.SizeOf.LENGTH
        ]
        if len(one.rules) == 2 and sorted(r.bound for r in sizes) == ["max", "min"]:
            low, high = sorted(rule.limit for rule in sizes)
            return [f"not {low} <= len({read}) <= {high}"]
        if any(
            _empty_case(rule) is not None or isinstance(rule, m.CelRule)
            for rule in one.rules
        ):
            return None
        ctx = _Context(self.constants, owner, one.family)
        return [_test(rule, read, ctx) for rule in one.rules]

    def value_lines(
        self,
        value: m.ValueRules,
        at: _At,
        depth: int,
        scope: str,
        nonzero: bool = False,
    ) -> list[str]:
        """Every check of one value held in ``at.x`` (``nonzero``: the caller runs them only when it is not
        its type's zero value)."""
        lines: list[str] = []
        guarded = (
            value.ignore is m.Ignore.IF_ZERO_VALUE
            and not value.wrapper
            and value.family not in _MESSAGE_FAMILIES
        )
        nonzero = nonzero or guarded
        x = at.x
        if value.wrapper:
            x = f"{x}.value"  # rules on a wrapper apply to the value it wraps
        elif value.family == "any":
            x = f"{x}.type_url"
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
                lines += [f"if {test}:", "    " + self.rule_violation(at, rule)]
            else:
                lines += self.rule_lines(
                    rule, value.family, at, subject, nonzero and subject == at.x
                )
        inline = self.inline.get(value.message_type or "")
        if inline is not None:
            lines += self.message_lines(inline, x, at.path + ".", at.elements)
        else:
            lines += self.nested_lines(value, x, at, f"{scope}found{depth}")
        if lines and guarded:
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
        elements: tuple[str, ...] = (),
    ) -> list[str]:
        """The checks of one field of the message in ``msg``, its path ``prefix`` + name (``elements`` + its
        element)."""
        name = rules.name
        path = prefix + name
        words = (*owner, name)
        v = f"{scope}v{index}"
        read = names.attribute(msg, name)
        element = self.field_element(words, rules)
        here = _At(v, path, words, (*elements, element))
        required = (
            self.violation(
                here,
                "required",
                rules.required.rule_id,
                rules.required.message,
                rules.required.path,
            )
            if rules.required is not None
            else ""
        )
        if isinstance(rules, m.SingleField):
            # Without presence, `required` and IGNORE_IF_ZERO_VALUE run the rules only on a non-zero value.
            nonzero = not rules.presence and (
                rules.required is not None or rules.ignore is m.Ignore.IF_ZERO_VALUE
            )
            body = self.value_lines(rules.value, here, index, scope, nonzero)
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
            return _read_and_check(rules, v, read, rules.value.family, required, body)
        # repeated and map fields
        body = []
        for rule in rules.rules:
            body += self.rule_lines(rule, "repeated", here, v)
        x = f"{scope}x{index}"
        # Where the `if` of a loop's fast test sits: 8 columns in, 12 inside a required / ignore test.
        column = (
            12
            if rules.required is not None or rules.ignore is m.Ignore.IF_ZERO_VALUE
            else 8
        )
        if isinstance(rules, m.RepeatedField):
            i = f"{scope}i{index}"
            item_at = _At(
                x, f"{path}[{{{i}}}]", words, (*elements, f"{element}.at_index({i})")
            )
            item = _bounded(self.value_lines(rules.items, item_at, index, scope))
            if item:
                loop = [f"for {i}, {x} in enumerate({_items(v)}):", *_indent(item)]
                fast = self.fast_test(rules.items, x, item_at)
                test = _if_lines(fast, column) if fast else None
                if test is not None:  # no index and no path until an item fails
                    loop = [
                        f"for {x} in {_items(v)}:",
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
            entry_element = self.field_element(words, rules, entry=True)
            entry_elements = (*elements, f"{entry_element}.at_key({k})")
            key_at = _At(k, entry_path, (*words, "keys"), entry_elements)
            value_at = _At(x, entry_path, (*words, "values"), entry_elements)
            entry = self.value_lines(rules.keys, key_at, index, scope)
            values = self.value_lines(rules.values, value_at, index, scope)
            # read by key: a map's items() is ~0.3 us slower in protobuf's Python maps
            read_value = [f"{x} = {v}[{k}]"] if values else []
            key_fast = self.fast_test(rules.keys, k, key_at) if entry else []
            value_fast = self.fast_test(rules.values, x, value_at) if values else []
            fast = (
                None
                if key_fast is None or value_fast is None
                else key_fast + value_fast
            )
            entry += read_value + values
            if entry:
                loop = self.entries_lines(rules, k, v, scope + str(index), entry)
                test = _if_lines(fast, column) if fast else None
                if test is not None:  # no bookkeeping of failed entries until one fails
                    loop = [
                        f"for {k} in {v}:",
                        *_indent(read_value),
                        *_indent(test),
                        "        # an entry fails: check them all, with their paths",
                        *_indent(loop, 2),
                        "        break",
                    ]
                body += loop
        return _read_and_check(rules, v, read, "repeated", required, body)

    def entries_lines(
        self, rules: m.MapField, k: str, v: str, local: str, entry: list[str]
    ) -> list[str]:
        """The loop over a map's entries: in the map's own order (no sort for a valid map), each failing
        entry's violations noted, then put in key order: the same violations in the same order in every
        process. Past ``MAX_VIOLATIONS`` it stops (which entries it found first then depends on the map's
        order; the details are cut far below that anyway)."""
        start, seen, failed = f"n{local}", f"seen{local}", f"failed{local}"
        key_type = {"string": "str", "bool": "bool"}.get(rules.keys.family, "int")
        return [
            f"{start} = {seen} = len(out)",
            f"{failed}: dict[{key_type}, list[_errors.Violation]] = {{}}",
            f"for {k} in {v}:",
            *_indent(entry),
            f"    if len(out) > {seen}:",
            f"        {failed}[{k}] = out[{seen}:]",
            f"        {seen} = len(out)",
            f"        if {seen} > _validation.MAX_VIOLATIONS:",
            "            break",
            f"if {failed}:  # in key order",
            f"    del out[{start}:]",
            f"    for {k} in sorted({failed}):",
            f"        out += {failed}[{k}]",
            *_STOP,
        ]

    def message_lines(
        self,
        message: m.MessageRules,
        msg: str,
        prefix: str,
        elements: tuple[str, ...] = (),
    ) -> list[str]:
        """The checks of ``message`` held in ``msg``, its paths under ``prefix``: a function's body, or a nested
        message's checks written inline (``msg`` is then the parent's local, e.g. ``x0``, and names its scope).
        """
        scope = "" if msg == "m" else msg + "_"
        owner = _message_words(message)
        lines = []
        for rule in message.cel:
            lines += self.cel_lines(
                rule, _At(msg, prefix.rstrip("."), owner, elements), msg
            )
        for oneof in message.oneofs:
            oneof_element = self.constants.add(
                [*owner, oneof.name, "oneof"],
                _ELEMENT,
                literal(oneof.name),
            )
            at = _At(
                msg,
                prefix + oneof.name,
                (*owner, oneof.name),
                (*elements, oneof_element),
            )
            lines += [
                f"if {msg}.WhichOneof({literal(oneof.name)}) is None:",
                "    "
                + self.violation(
                    at, "required", "required", "exactly one field is required in oneof"
                ),
            ]
        for group in message.groups:
            lines += self.group_lines(group, msg, prefix, owner, elements)
        for rules in message.fields:
            lines += self.field_lines(
                rules, rules.number, msg, prefix, scope, owner, elements
            )
        return lines

    def group_lines(
        self,
        group: m.FieldGroup,
        msg: str,
        prefix: str,
        owner: tuple[str, ...],
        elements: tuple[str, ...],
    ) -> list[str]:
        """protovalidate's message ``oneof`` rule: count the fields that are set."""
        at = _At(msg, prefix.rstrip("."), owner, elements)
        listed = ", ".join(group.fields)
        words = "oneof_" + "_".join(group.fields)
        count = " + ".join(_is_set(msg, member) for member in group.members)
        several = self.violation(
            at, words + "_several", "message.oneof", f"only one of {listed} can be set"
        )
        lines = [
            f"{scope_count(msg)} = {count}",
            f"if {scope_count(msg)} > 1:",
            "    " + several,
        ]
        if group.required:
            none = self.violation(
                at, words + "_none", "message.oneof", f"one of {listed} must be set"
            )
            lines += [f"elif {scope_count(msg)} == 0:", "    " + none]
        return lines

    def function(self, message: m.MessageRules) -> str:
        cls = names.message_class(message.nested_name)
        annotation = (
            cls if names.is_plain_attribute_path(message.nested_name) else "object"
        )
        doc = _docstring_lines(message.doc)
        refused = dict(self.validators.refused).get(message.full_name)
        if (
            refused is not None
        ):  # fails closed: nothing can be said about such a message
            body = [
                "    raise _errors.ValidationRuntimeError(",
                f"        {literal('rules refused at generation time: ' + refused)}",
                "    )",
            ]
        else:
            self.walking = self.validators.validated[message.full_name].recursive
            checks = _indent(self.message_lines(message, "m", ""))
            self.walking = False
            body = ["    out: list[_errors.Violation] = []", *checks, "    return out"]
        validate = names.validator_function(message.nested_name)
        signature = f"(m: {annotation}) -> list[_errors.Violation]:"
        if refused is None and self.validators.validated[message.full_name].recursive:
            walker = names.walker_function(message.nested_name)
            lines = [
                f"def {validate}{signature}",
                *doc,
                "    out: list[_errors.Violation] = []",
                f"    _checks.walk({walker}(m, out))",
                "    return out",
                "",
                "",
                f"def {walker}(m: {annotation}, out: list[_errors.Violation]) -> _checks.Walk:",
                f'    """The checks of ``{validate}``, into ``out``: its message can hold itself."""',
                # a generator returns nothing: its violations are in ``out``
                *(
                    line.removesuffix(" out") if line.strip() == "return out" else line
                    for line in checks
                ),
            ]
        else:
            lines = [f"def {validate}{signature}", *doc, *body]
        return "\n".join(fitted for line in lines for fitted in _fit(line))


#: Stop collecting past the limit (``grpc_errgen.validation.MAX_VIOLATIONS``); written after each violation
#: found in a loop and after each nested message's violations, so valid values never run it.
_STOP = ["if len(out) > _validation.MAX_VIOLATIONS:", "    return out"]


def _bounded(lines: list[str]) -> list[str]:
    """The body of a loop over items or map entries, each violation it records followed by ``_STOP``."""
    found: list[str] = []
    for n, line in enumerate(lines):
        found.append(line)
        statement = line.lstrip()
        if statement.startswith("out.append(") and (
            n + 1 == len(lines) or lines[n + 1].lstrip() != _STOP[0]
        ):
            indent = line[: len(line) - len(statement)]
            found += [indent + stop for stop in _STOP]
    return found


def _read_and_check(
    rules: m.FieldRules, v: str, read: str, family: str, required: str, body: list[str]
) -> list[str]:
    """A field without presence read into ``v``: ``required`` recorded when it holds its zero value, else
    ``body`` run (under IGNORE_IF_ZERO_VALUE only on a non-zero value); nothing when there is nothing to check.
    """
    if not body and rules.required is None:
        return []
    lines = [f"{v} = {read}"]
    if rules.required is not None:
        lines += [f"if {_zero(family, v)}:", "    " + required]
        if body:
            lines += ["else:", *_indent(body)]
    elif rules.ignore is m.Ignore.IF_ZERO_VALUE and body:
        lines += [f"if {_nonzero(family, v)}:", *_indent(body)]
    else:
        lines += body
    return lines


def _items(v: str) -> str:
    """The items of the list in ``v``, for a loop: ``_checks.islice`` says why not ``v`` itself."""
    return f"_checks.islice({v}, len({v}))"


def scope_count(msg: str) -> str:
    return "count" if msg == "m" else f"{msg}_count"


def _is_set(msg: str, member: m.GroupMember) -> str:
    """The test that a field named by a message oneof rule is set, as an int (``True`` counts 1)."""
    read = names.attribute(msg, member.name)
    if member.presence:
        return f"{msg}.HasField({literal(member.name)})"
    if member.family in ("float", "double"):
        return f"(not _checks.is_default_float({read}))"
    return f"bool({read})"


def _message_words(message: m.MessageRules) -> tuple[str, ...]:
    return message.nested_name


def _docstring_lines(doc: str) -> list[str]:
    text = docstring(doc, "    ")
    return text.split("\n") if text else []


def _checked(validators: m.FileValidators) -> list[m.MessageRules]:
    """The file's messages whose validator checks them (a refused message's raises: it checks nothing)."""
    refused = dict(validators.refused)
    return [
        message for message in validators.messages if message.full_name not in refused
    ]


def called_files(validators: m.FileValidators) -> tuple[str, ...]:
    """The other files whose generated validators (or walkers) the validators of this file call: those of the
    messages its checked messages hold (every value of every field is checked, inline or by a call).
    """
    found: dict[str, None] = {}
    for message in _checked(validators):
        for value in message.values():
            ref = validators.validated.get(value.message_type or "")
            if ref is not None and ref.proto != validators.file_name:
                found[ref.proto] = None
    return tuple(found)


def file_source(
    validators: m.FileValidators, aliases: Mapping[str, str]
) -> FileValidatorsSource:
    """The source of the validators of one file (``aliases``: the alias of each other file's generated module,
    ``called_files`` among them)."""
    constants = Constants()
    emitter = _Emitter(validators, constants, aliases)
    functions = tuple(emitter.function(message) for message in validators.messages)
    return FileValidatorsSource(
        constants=constants.all_lines(),
        functions=functions,
        registrations=tuple(
            (message.full_name, names.validator_function(message.nested_name))
            for message in _checked(validators)
        ),
        uses_cel=emitter.uses_cel,
        refusals=validators.refused,
    )
