"""Seeded random programs: the fast path and the reference interpreter must agree.

A small generator writes contracts from the allowed subset (integer, string, list and
dict expressions, if/for/while with break and continue, helper calls, storage and
events). Each program runs on both engines; code, return value, writes and events must
match and the reference may never charge more gas. A failure prints the seed and the
program, and `pytest -k seed_N` replays it.
"""

from __future__ import annotations

import random

import pytest

import vm
from tests.vm.helpers import CONTEXT, CONTRACT
from vm.state import DictState

PROGRAMS_PER_SEED = 15
GAS_FUZZ = 3_000_000

_INT_LEAVES = ["a", "b", "n", "len(items)", "3", "7", "-2", "total"]
_BINARY = ["+", "-", "*", "//", "%", "&", "|", "^"]
_COMPARE = ["<", "<=", ">", ">=", "==", "!="]


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int_expr(self, depth: int = 0) -> str:
        rng = self.rng
        roll = rng.random()
        if depth > 2 or roll < 0.35:
            return rng.choice(_INT_LEAVES)
        if roll < 0.7:
            left, right = self.int_expr(depth + 1), self.int_expr(depth + 1)
            return f"({left} {rng.choice(_BINARY)} {right})"
        if roll < 0.8:
            return f"helper({self.int_expr(depth + 1)})"
        if roll < 0.9:
            return f"(items[{self.int_expr(depth + 1)} % len(items)] if items else 0)"
        return f"sum([x * 2 for x in items if x % 2 == {rng.randrange(2)}])"

    def condition(self) -> str:
        left, right = self.int_expr(1), self.int_expr(1)
        return f"{left} {self.rng.choice(_COMPARE)} {right}"

    def statements(self, indent: int, depth: int, most: int = 3) -> list[str]:
        lines = []
        for _ in range(self.rng.randrange(1, most + 1)):
            lines.extend(self.statement(indent, depth))
        return lines

    def statement(self, indent: int, depth: int) -> list[str]:
        pad = "    " * indent
        rng = self.rng
        roll = rng.random()
        if depth < 2 and roll < 0.15:
            body = self.statements(indent + 1, depth + 1)
            other = self.statements(indent + 1, depth + 1)
            return [f"{pad}if {self.condition()}:", *body, f"{pad}else:", *other]
        if depth < 2 and roll < 0.3:
            body = self.statements(indent + 1, depth + 1)
            exit_line = (
                f"{pad}    if {self.condition()}:\n{pad}        {rng.choice(['break', 'continue'])}"
            )
            return [f"{pad}for i in range({rng.randrange(6)}):", exit_line, *body]
        if depth < 2 and roll < 0.38:
            body = self.statements(indent + 1, depth + 1)
            return [f"{pad}k = 0", f"{pad}while k < {rng.randrange(5)}:", f"{pad}    k += 1", *body]
        if roll < 0.5:
            return [f"{pad}items.append({self.int_expr()} % 1000)"]
        if roll < 0.58:
            return [f"{pad}words.append(str({self.int_expr()} % 97))"]
        if roll < 0.66:
            return [f"{pad}store[{self.int_expr()} % 5] = {self.int_expr()}"]
        if roll < 0.72:
            return [f'{pad}emit("Step", value={self.int_expr()} % 1000, text="-".join(words))']
        if roll < 0.78:
            return [f"{pad}counts[str(a % 4)] = counts.get(str(a % 4), 0) + 1"]
        if roll < 0.82:
            return [f"{pad}if {self.condition()}:", f"{pad}    return [total, items]"]
        target = rng.choice(["a", "b", "total"])
        return [f"{pad}{target} = ({self.int_expr()}) % 100003"]

    def program(self) -> str:
        body = "\n".join(self.statements(1, 0, most=10))
        return (
            "store = Map()\n\n"
            "def helper(x: int) -> int:\n"
            "    if x > 50:\n"
            "        return x // 3\n"
            "    return x + 1\n\n"
            "@export\n"
            "def run(n: int) -> list:\n"
            "    a = n\n    b = 2\n    total = 0\n    items = [1, 2]\n"
            '    words = ["w"]\n    counts = {}\n'
            f"{body}\n"
            "    return [a, b, total, items, words, counts, store.get(1, -1)]\n"
        )


def _run(source: str, engine: str) -> vm.ExecutionResult:
    state = DictState()
    deployed = vm.deploy(state, source, CONTRACT, CONTEXT, GAS_FUZZ, engine=engine)
    assert deployed.ok, deployed.message
    state.apply(deployed.writes)
    return vm.execute(state, CONTRACT, "run", {"n": 11}, CONTEXT, GAS_FUZZ, engine=engine)


@pytest.mark.parametrize("seed", range(8), ids=[f"seed_{seed}" for seed in range(8)])
def test_random_programs_agree_on_both_engines(seed: int) -> None:
    writer = _Writer(random.Random(seed))
    for _ in range(PROGRAMS_PER_SEED):
        source = writer.program()
        fast, reference = _run(source, "fast"), _run(source, "reference")
        if fast.code is vm.ErrorCode.OUT_OF_GAS:
            continue  # the fast path charges blocks up front; see vm/gas.py
        assert (fast.code, fast.return_data, fast.writes, fast.events) == (
            reference.code,
            reference.return_data,
            reference.writes,
            reference.events,
        ), f"seed {seed}\n{source}"
        assert reference.gas_used <= fast.gas_used, f"seed {seed}\n{source}"
