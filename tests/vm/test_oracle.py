"""The fast path against the reference interpreter (vm/reference.py).

For every contract here both engines must give the same error code, return value, write
set and events; the reference's gas must never exceed the fast path's, and must equal it
when the call leaves no block early (the `exact` flag). See vm/gas.py for why.
"""

from __future__ import annotations

from typing import Any

import pytest

import vm
from tests.vm.contracts import TOKEN
from tests.vm.helpers import ALICE, BOB, CONTEXT, CONTRACT
from vm.state import DictState

GAS_ORACLE = 3_000_000

ARITHMETIC = """
@export
def run(a: int, b: int) -> list:
    return [a + b, a - b, a * b, a // b, a % b, a ** 3, a << 5, a >> 2, a | b, a ^ b, a & b,
            -a, +b, ~a, not a, a if a > b else b, a and b, a or b, abs(-a), a == b,
            a != b, a <= b, a >= b, 7 < a, (1 << 200) * a]
"""

STRINGS = """
@export
def run(s: str) -> list:
    words = s.split(" ")
    joined = "-".join(words)
    data = s.encode()
    return [s.upper(), s.lower(), s.strip(), s[1:4], s[::-1], s[-3:], joined,
            s.replace("a", "xy"), s.startswith("he"), s.find("o"), s.count("l"),
            data.hex(), data[0:2].decode(), str(len(s)), int("12") + 1, s.zfill(20),
            s.ljust(15, "."), "lo" in s, s < "zzz", s + "!", s * 2, b"ab" + data[:1],
            s.isalpha(), "42".isdigit(), str(True), (s,) * 2]
"""

LISTS = """
@export
def run(n: int) -> list:
    items = [(i * 7) % 11 for i in range(n)]
    items.append(99)
    items.insert(0, -1)
    last = items.pop()
    items.sort()
    ordered = sorted(items, reverse=True)
    pairs = list(zip(items, ordered))
    indexed = [i * v for i, v in enumerate(items) if v % 2 == 0]
    flat = [a + b for a in range(3) for b in range(a)]
    items.reverse()
    copy = items.copy()
    copy.extend([1, 2])
    copy.remove(1)
    return [items, last, ordered, pairs[:3], indexed, flat, min(items), max(3, 9, 4),
            sum(items), items.index(5) if 5 in items else -1, items.count(1), copy,
            reversed(copy), any(items), all(items), tuple(items)[1:3], len(items),
            list(range(2, 20, 3)), [1, 2] == [1, 2], [[1], [2]] < [[1], [3]]]
"""

DICTS = """
@export
def run(n: int) -> list:
    d = {"a": 1, "b": 2}
    d["c"] = 3
    d["a"] += 10
    squares = {i: i * i for i in range(n) if i != 2}
    del squares[0]
    total = 0
    for key, value in squares.items():
        total += key * value
    d.update({"z": 0})
    d.setdefault("y", 5)
    popped = d.pop("b")
    return [d, squares, total, list(d.keys()), d.values(), d.get("q", 7), "c" in d,
            popped, dict([(1, 2), (3, 4)]), d.copy(), (1, "x") in {(1, "x"): 1}]
"""

LOOPS = """
def first_multiple(limit: int, k: int) -> int:
    for i in range(1, limit):
        if i % k == 0:
            return i
    return -1

@export
def run(n: int) -> list:
    found = []
    i = 0
    while True:
        i += 1
        if i > n:
            break
        if i % 3 == 0:
            continue
        found.append(i)
    nested = 0
    for a in range(n):
        for b in range(a):
            if b > 3:
                break
            nested += b
    return [found, nested, first_multiple(100, 7), first_multiple(5, 9)]
"""

RECURSION = """
def fib(n: int) -> int:
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

@export
def run(n: int) -> int:
    return fib(n)
"""

STORAGE = """
balances = Map()
meta = Value()
counter = Map()

@export
def run(n: int) -> list:
    meta.set({"name": "x", "tags": ["a", "b"], "n": n})
    for i in range(n):
        balances[(b"k", i)] = i * 100
        counter[b"hits"] = counter.get(b"hits", 0) + 1
    counter[b"hits"] += 5
    balances.delete((b"k", 0))
    present = (b"k", 1) in balances
    gone = balances.contains((b"k", 0))
    emit("Done", n=n, hits=counter[b"hits"])
    return [meta.get(), present, gone, balances.get((b"k", 2), -1), counter[b"hits"]]
"""

EVENTS = """
@export
def run(n: int) -> int:
    for i in range(n):
        emit("Tick", i=i, sender=ctx.sender, height=ctx.height, time=ctx.time,
             tx=ctx.tx_hash, nested={"list": [i, i * 2]})
    return n
"""

FAILING = """
store = Value()

@export
def run(n: int) -> int:
    store.set(n)
    emit("Before", n=n)
    items = [1, 2, 3]
    return items[n]
"""

ORDER = """
log = Value()

def note(tag: str, out: list, value: int) -> int:
    out.append(tag)
    return value

@export
def run() -> list:
    out = []
    d = {note("k1", out, 1): note("v1", out, 10), note("k2", out, 2): note("v2", out, 20)}
    target = [0, 0, 0]
    target[note("index", out, 1)] = note("value", out, 5)
    target[note("aug-index", out, 2)] += note("aug-value", out, 7)
    pair = [note("left", out, 1) + note("right", out, 2)]
    both = note("a", out, 0) or note("b", out, 3)
    return [out, d, target, pair, both]
"""

SELF_CALL = """
total = Value()

@export
def add(x: int) -> int:
    total.set(total.get(0) + x)
    return total.get()

@export
def run(n: int) -> list:
    results = []
    for i in range(n):
        results.append(call(ctx.address, "add", x=i))
    failed = try_call(ctx.address, "add", x="bad")
    return [results, failed, sha256(b"abc")]
"""

CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("arithmetic", ARITHMETIC, {"a": 37, "b": 5}, True),
    ("arithmetic_negative", ARITHMETIC, {"a": -37, "b": 6}, True),
    ("arithmetic_zero_division", ARITHMETIC, {"a": 1, "b": 0}, False),
    ("strings", STRINGS, {"s": "hello world abc"}, True),
    ("lists", LISTS, {"n": 12}, True),
    ("dicts", DICTS, {"n": 6}, False),
    ("loops_with_break_continue_return", LOOPS, {"n": 9}, False),
    ("recursion", RECURSION, {"n": 10}, False),
    ("storage", STORAGE, {"n": 5}, True),
    ("events", EVENTS, {"n": 4}, True),
    ("failing_midway", FAILING, {"n": 7}, False),
    ("evaluation_order", ORDER, {}, True),
    ("self_calls_and_try_call", SELF_CALL, {"n": 3}, False),
]


def _run_both(source: str, args: dict[str, Any]) -> list[vm.ExecutionResult]:
    results = []
    for engine in ("fast", "reference"):
        state = DictState()
        deployed = vm.deploy(state, source, CONTRACT, CONTEXT, GAS_ORACLE, engine=engine)
        assert deployed.ok, deployed.message
        state.apply(deployed.writes)
        results.append(vm.execute(state, CONTRACT, "run", args, CONTEXT, GAS_ORACLE, engine=engine))
    return results


@pytest.mark.parametrize(
    ("source", "args", "exact"),
    [pytest.param(source, args, exact, id=name) for name, source, args, exact in CASES],
)
def test_fast_path_matches_reference(source: str, args: dict[str, Any], exact: bool) -> None:
    fast, reference = _run_both(source, args)
    assert fast.code is reference.code, (fast.message, reference.message)
    assert fast.return_data == reference.return_data
    assert fast.writes == reference.writes
    assert fast.events == reference.events
    assert reference.gas_used <= fast.gas_used
    if exact:
        assert reference.gas_used == fast.gas_used


def test_early_exit_makes_reference_gas_strictly_lower() -> None:
    fast, reference = _run_both(LOOPS, {"n": 9})
    assert fast.ok and reference.gas_used < fast.gas_used


def test_arithmetic_results_are_python_semantics() -> None:
    fast, _ = _run_both(ARITHMETIC, {"a": 37, "b": 5})
    assert fast.value[:6] == [42, 32, 185, 7, 2, 37**3]


def test_template_sequences_match_reference() -> None:
    calls = [
        ("transfer", {"to": BOB, "amount": 10}),
        ("transfer", {"to": BOB, "amount": 10**9}),
        ("approve", {"spender": BOB, "amount": 7}),
        ("transfer_from", {"source": ALICE, "to": BOB, "amount": 1}),
    ]
    outcomes = []
    for engine in ("fast", "reference"):
        state = DictState()
        deployed = vm.deploy(
            state,
            TOKEN,
            CONTRACT,
            CONTEXT,
            GAS_ORACLE,
            {"token_name": "T", "amount": 100},
            engine=engine,
        )
        state.apply(deployed.writes)
        trace = []
        for method, args in calls:
            result = vm.execute(state, CONTRACT, method, args, CONTEXT, GAS_ORACLE, engine=engine)
            state.apply(result.writes)
            trace.append(
                (result.code, result.return_data, result.writes, result.events, result.gas_used)
            )
        outcomes.append(trace)
    for fast, reference in zip(*outcomes):
        assert fast[:4] == reference[:4]
        assert reference[4] <= fast[4]
