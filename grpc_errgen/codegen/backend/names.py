"""Every Python name the generated code uses: modules, import aliases, classes, functions, constants, attributes.

Our own imports are aliased with a leading underscore and in lower case (``_grpc``, ``_errors``, ``_policy``...),
names derived from the user's protos are never spelled that way (classes are the enum's name and CamelCase value
names, constants are upper case), and fields whose names are Python keywords are read with ``getattr``: no
user name can shadow ours or break the syntax.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from functools import cache

#: module -> alias, for everything the generated module imports besides the user's modules.
RUNTIME_IMPORTS = {
    "grpc": "_grpc",
    "grpc_errgen.cel": "_cel",
    "grpc_errgen.checks": "_checks",
    "grpc_errgen.errors": "_errors",
    "grpc_errgen.policy": "_policy",
    "grpc_errgen.validation": "_validation",
}
PB2_ALIAS = "_pb2"
#: Top-level names of the generated module that are not derived from the user's names.
FIXED_NAMES = frozenset(
    {"ERRGEN", "SERVICE_CONFIG", PB2_ALIAS, *RUNTIME_IMPORTS.values()}
)


def python_module(proto_name: str, suffix: str) -> str:
    """The module protoc's Python generator names for ``proto_name``: ``shop/v1/orders.proto`` -> ``shop.v1.orders_pb2``."""
    stem = proto_name[: -len(".proto")] if proto_name.endswith(".proto") else proto_name
    return stem.replace("-", "_").replace("/", ".") + suffix


def pb2_module(proto_name: str) -> str:
    return python_module(proto_name, "_pb2")


def errgen_module(proto_name: str) -> str:
    return python_module(proto_name, "_errgen")


def output_path(proto_name: str) -> str:
    """``shop/v1/orders.proto`` -> ``shop/v1/orders_errgen.py``."""
    return errgen_module(proto_name).replace(".", "/") + ".py"


def dependency_aliases(protos: Iterable[str]) -> dict[str, str]:
    """The alias of each other file's generated module: ``_shop_v1_common_errgen`` (its full path), made unique
    as ``unique_aliases`` does."""
    return unique_aliases(
        {proto: "_" + errgen_module(proto).replace(".", "_") for proto in protos}
    )


def pb2_aliases(protos: Iterable[str], here: str) -> dict[str, str]:
    """The alias of each file's ``_pb2`` module in the generated module of ``here``: ``_pb2`` for its own,
    ``_google_protobuf_empty_pb2`` for another file's (its full path), made unique as ``unique_aliases`` does.
    """
    return unique_aliases(
        {
            proto: (
                PB2_ALIAS
                if proto == here
                else "_" + pb2_module(proto).replace(".", "_")
            )
            for proto in protos
        }
    )


def unique_aliases(wanted: Mapping[str, str]) -> dict[str, str]:
    """file -> its alias, from file -> the alias its path reads as. Two paths can read the same
    (``a_b/item.proto``, ``a/b_item.proto``): the later file in sorted order gets ``_2`` (``_3``...) after it.
    Every wanted alias ends in its module's suffix (``_pb2``, ``_errgen``), so a numbered one is never another
    file's; where no two paths read the same, every file keeps the alias its path reads as.
    """
    aliases: dict[str, str] = {}
    taken: set[str] = set()
    for proto in sorted(wanted):
        alias = wanted[proto]
        number = 1
        while alias in taken:
            number += 1
            alias = f"{wanted[proto]}_{number}"
        aliases[proto] = alias
        taken.add(alias)
    return aliases


def qualified(name: str, proto: str, here: str, aliases: Mapping[str, str]) -> str:
    """``name``, defined in the generated module of ``proto``, as the module of ``here`` reads it: as it is when
    that is the same module, else through the other module's alias (``aliases``, from ``dependency_aliases``:
    every file the module imports)."""
    if proto == here:
        return name
    return f"{aliases[proto]}.{name}"


def camel_case(name: str) -> str:
    """``ORDER_NOT_FOUND`` -> ``OrderNotFound``."""
    return "".join(
        part[:1].upper() + part[1:].lower() for part in name.split("_") if part
    )


def error_class(reason: str) -> str:
    """The exception class of a catalogue value."""
    return camel_case(reason)


def status_class(code: str) -> str:
    """The ``grpc_errgen.errors`` class of a status code: ``NOT_FOUND`` -> ``NotFound``."""
    return camel_case(code)


def upper_snake(name: str) -> str:
    """``OrderService`` -> ``ORDER_SERVICE``, ``line_items`` -> ``LINE_ITEMS``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def policy_table(service_name: str) -> str:
    return upper_snake(service_name) + "_POLICY"


def validator_function(nested_name: tuple[str, ...]) -> str:
    """``("Order", "LineItem")`` -> ``validate_Order_LineItem``."""
    return "validate_" + "_".join(nested_name)


def walker_function(nested_name: tuple[str, ...]) -> str:
    """``("Tree", "Node")`` -> ``walk_Tree_Node``: the checks of a recursive message, as a generator."""
    return "walk_" + "_".join(nested_name)


def message_class(nested_name: tuple[str, ...], module: str = PB2_ALIAS) -> str:
    """The message class inside its ``_pb2`` module (``module``: its alias), as an expression:
    ``_pb2.Order.LineItem``."""
    expression = module
    for name in nested_name:
        expression = attribute(expression, name)
    return expression


def attribute(expression: str, name: str) -> str:
    """``expression.name``, or ``getattr(expression, "name")`` when ``name`` is a Python keyword."""
    if keyword.iskeyword(name):
        return f'getattr({expression}, "{name}")'
    return f"{expression}.{name}"


def is_plain_attribute_path(nested_name: tuple[str, ...]) -> bool:
    """Whether ``message_class`` is a dotted name (usable as an annotation)."""
    return not any(keyword.iskeyword(name) for name in nested_name)


def rule_constant(parts: list[str]) -> str:
    """A module constant named after what it checks: ``["LineItem", "sku", "pattern"]`` -> ``_LINE_ITEM_SKU_PATTERN``."""
    return "_" + "_".join(word for word in map(_constant_word, parts) if word)


@cache
def _constant_word(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", upper_snake(part)).strip("_")
