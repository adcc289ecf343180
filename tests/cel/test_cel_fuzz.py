"""Random expressions, differentially against cel-expr-python's evaluator (cel-cpp): bool-valued expressions built
from int, uint, double and string operations around the edges (int64 limits, zero divisors, NaN), nested through
``&&``, ``||``, ``!``, ``?:``, ``in`` and the macros, so that errors meet absorption in every arrangement.
"""

from __future__ import annotations

import random

import pytest
from cel_expr_python import cel

from grpc_errgen.codegen.cel import ast
from tests.cel.test_cel_semantics import ERROR, oracle, ours

INTS = [
    "0",
    "1",
    "-1",
    "2",
    "7",
    "9223372036854775807",
    "(-9223372036854775807 - 1)",
    "this",
]
UINTS = ["0u", "1u", "2u", "18446744073709551615u", "uint(this + 1)"]
DOUBLES = ["0.0", "1.5", "-2.5", "1e308", "double(this)", "(0.0 / 0.0)"]
STRINGS = ["''", "'a'", "'é'", "'abc'", "string(this)"]


class Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def int_(self, depth: int) -> str:
        if depth <= 0 or self.rng.random() < 0.3:
            return self.pick(INTS)
        a, b = self.int_(depth - 1), self.int_(depth - 1)
        return self.pick(
            [
                f"({a} + {b})",
                f"({a} - {b})",
                f"({a} * {b})",
                f"({a} / {b})",
                f"({a} % {b})",
                f"(-{a})",
                f"({self.bool_(depth - 1)} ? {a} : {b})",
                f"int({self.double_(depth - 1)})",
                f"size({self.string_(depth - 1)})",
                f"[{a}, {b}][{self.pick(['0', '1', '2', '-1', 'this'])}]",
            ]
        )

    def uint_(self, depth: int) -> str:
        if depth <= 0 or self.rng.random() < 0.4:
            return self.pick(UINTS)
        a, b = self.uint_(depth - 1), self.uint_(depth - 1)
        return self.pick(
            [
                f"({a} + {b})",
                f"({a} - {b})",
                f"({a} * {b})",
                f"({a} / {b})",
                f"({a} % {b})",
            ]
        )

    def double_(self, depth: int) -> str:
        if depth <= 0 or self.rng.random() < 0.4:
            return self.pick(DOUBLES)
        a, b = self.double_(depth - 1), self.double_(depth - 1)
        return self.pick(
            [f"({a} + {b})", f"({a} - {b})", f"({a} * {b})", f"({a} / {b})"]
        )

    def string_(self, depth: int) -> str:
        if depth <= 0 or self.rng.random() < 0.5:
            return self.pick(STRINGS)
        a, b = self.string_(depth - 1), self.string_(depth - 1)
        return self.pick([f"({a} + {b})", f"string({self.int_(depth - 1)})"])

    def bool_(self, depth: int) -> str:
        if depth <= 0:
            return self.pick(["true", "false", "(this > 0)"])
        d = depth - 1
        return self.pick(
            [
                f"({self.int_(d)} {self.pick(['<', '<=', '==', '!=', '>', '>='])} {self.int_(d)})",
                f"({self.uint_(d)} {self.pick(['<', '==', '>='])} {self.uint_(d)})",
                f"({self.double_(d)} {self.pick(['<', '==', '!=', '>='])} {self.double_(d)})",
                f"({self.string_(d)} {self.pick(['<', '==', '>'])} {self.string_(d)})",
                f"{self.string_(d)}.startsWith({self.string_(d)})",
                f"{self.string_(d)}.contains({self.string_(d)})",
                f"(!{self.bool_(d)})",
                f"({self.bool_(d)} && {self.bool_(d)})",
                f"({self.bool_(d)} || {self.bool_(d)})",
                f"({self.bool_(d)} ? {self.bool_(d)} : {self.bool_(d)})",
                f"({self.int_(d)} in [{self.int_(d)}, 1, 2])",
                f"[0, 1, this].exists(x, {self.int_(d).replace('this', 'x')} > 0)",
                f"[0, 1, this].all(x, {self.int_(d).replace('this', 'x')} != 3)",
                f"[0, 1, this].exists_one(x, {self.int_(d).replace('this', 'x')} == 1)",
                f"([0, 1, this].map(x, {self.int_(d).replace('this', 'x')}).size() == 3)",
                f"([0, 1, this].filter(x, {self.int_(d).replace('this', 'x')} > 0).size() > 0)",
            ]
        )


@pytest.mark.parametrize("seed", range(3))
def test_random_expressions_agree_with_cel_cpp(seed: int) -> None:
    rng = random.Random(seed)
    gen = Gen(rng)
    disagreements = []
    errors = 0
    for _ in range(120):
        expression = gen.bool_(3)
        for value in (0, 1, -1, 9223372036854775807):
            want = oracle(expression, cel.Type.INT, value)
            got = ours(expression, ast.INT, value)
            errors += want == ERROR
            if got != want:
                disagreements.append(
                    f"this={value}: {expression} -> {got}, want {want}"
                )
    assert not disagreements, "\n".join(disagreements[:15])
    assert errors > 20  # the generator does reach evaluation errors
