"""Gas grows at least linearly with the work, for every builtin and method (issue #13).

Each case below runs one builtin or method on arguments of size n and gives a model of
the worst-case work CPython does for it (`work(n)`, in C-level steps: characters compared
or copied, elements visited, probes). The gas the operation is charged (the gas of the
contract with the operation minus the gas of the same contract without it) must be at
least `work(n) / steps_per_gas_max` for every n hypothesis draws: so gas grows at least
linearly with the work, whatever the size and content of the arguments. Timing is never
asserted here; bench/gas_fidelity.py measures CPU per gas, and its catalogue also runs
below at small sizes (every case must finish, within its gas).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vm
from bench import gas_fidelity
from tests.vm.helpers import CONTEXT, CONTRACT
from vm import names
from vm.state import DictState

GAS = 10_000_000
steps_per_gas_max = 128  # the cheapest C-level step (a memchr byte) is ~0.1 ns; gas ~3 ns


@dataclass(frozen=True)
class OpCase:
    name: str  # builtin name, or "type.method"
    setup: str  # statements building the arguments from n
    operation: str  # one statement using them
    work: Callable[[int], int]


def _lg(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


WIDE = "\\U0001f600"
CASES = [
    # --- builtins ---------------------------------------------------------------------------
    OpCase("len", "x = [0] * n", "y = len(x)", lambda n: 1),
    OpCase("range", "k = n", "y = range(k)", lambda n: 1),
    OpCase("min", "x = list(range(n))", "y = min(x)", lambda n: n),
    OpCase("max", "x = [[i] for i in range(n)]", "y = max(x)", lambda n: 2 * n),
    OpCase("sum", "x = list(range(n))", "y = sum(x)", lambda n: n),
    OpCase("sorted", "x = [[0] * 20 + [i] for i in range(n)]", "y = sorted(x)",
           lambda n: 21 * n * _lg(n)),
    OpCase("abs", "x = -(2 ** 1000)", "y = abs(x)", lambda n: 16),
    OpCase("list", "x = list(range(n))", "y = list(x)", lambda n: n),
    OpCase("dict", "x = [[i, i] for i in range(n)]", "y = dict(x)", lambda n: n),
    OpCase("tuple", "x = list(range(n))", "y = tuple(x)", lambda n: n),
    OpCase("str", "x = 10 ** min(n, 300)", "y = str(x)", lambda n: min(n, 300)),
    OpCase("int", 'x = "9" * min(n, 300)', "y = int(x)", lambda n: min(n, 300)),
    OpCase("bool", "x = [0] * n", "y = bool(x)", lambda n: 1),
    OpCase("bytes", "x = [1] * n", "y = bytes(x)", lambda n: n),
    OpCase("enumerate", "x = list(range(n))", "y = enumerate(x)", lambda n: n),
    OpCase("zip", "x = list(range(n))", "y = zip(x, x)", lambda n: 2 * n),
    OpCase("reversed", "x = list(range(n))", "y = reversed(x)", lambda n: n),
    OpCase("any", "x = [0] * n", "y = any(x)", lambda n: n),
    OpCase("all", "x = [1] * n", "y = all(x)", lambda n: n),
    OpCase("sha256", 'x = b"x" * n', "y = sha256(x)", lambda n: n),
    OpCase("in_range", "x = range(n)", 'y = "a" in x', lambda n: 1),
    OpCase("in_list", "x = [[i] for i in range(n)]", "y = [-1] in x", lambda n: 2 * n),
    OpCase("compare", "x = [[1, 2]] * n\nz = [[1, 2]] * n", "y = x == z", lambda n: 3 * n),
    OpCase("dict_key", 'd = {"k" * n: 1}\nk = "k" * (n - 1) + "k"', "y = d[k]", lambda n: n),
    # --- str ----------------------------------------------------------------------------------
    OpCase("str.lower", f'x = "{WIDE}" * n', "y = x.lower()", lambda n: n),
    OpCase("str.upper", 'x = "\\u00df" * n', "y = x.upper()", lambda n: 2 * n),
    OpCase("str.strip", 'x = "a" * n\nc = "b" * n + "a"', "y = x.strip(c)", lambda n: n * n),
    OpCase("str.lstrip", f'x = "{WIDE}" * n\nc = "b" * n + "{WIDE}"', "y = x.lstrip(c)",
           lambda n: n * n),
    OpCase("str.rstrip", 'x = "a" * n\nc = "b" * n + "a"', "y = x.rstrip(c)", lambda n: n * n),
    OpCase("str.split", 'x = "a" * n\ns = "a" * 90 + "ba"', "y = x.split(s)",
           lambda n: n * min(n, 92)),
    OpCase("str.startswith", 'x = "a" * n', "y = x.startswith(x)", lambda n: n),
    OpCase("str.endswith", 'x = "a" * n', "y = x.endswith(x)", lambda n: n),
    OpCase("str.find", 'x = "a" * n\ns = "a" * 90 + "ba"', "y = x.find(s)",
           lambda n: n * min(n, 92)),
    OpCase("str.count", 'x = "a" * n\ns = "a" * (n // 2) + "ba"', "y = x.count(s)",
           lambda n: n * min(n // 2, 100)),
    OpCase("str.replace", f'x = "{WIDE}" * n\ns = "{WIDE}" * 90 + "b{WIDE}"',
           'y = x.replace(s, "x")', lambda n: n * min(n, 92)),
    OpCase("str.join", 'x = ["ab"] * n', 'y = ",".join(x)', lambda n: 3 * n),
    OpCase("str.encode", f'x = "{WIDE}" * n', "y = x.encode()", lambda n: 4 * n),
    OpCase("str.isdigit", 'x = "1" * n', "y = x.isdigit()", lambda n: n),
    OpCase("str.isalpha", 'x = "a" * n', "y = x.isalpha()", lambda n: n),
    OpCase("str.isalnum", 'x = "a" * n', "y = x.isalnum()", lambda n: n),
    OpCase("str.zfill", 'x = "1"', "y = x.zfill(n)", lambda n: n),
    OpCase("str.ljust", 'x = "1"', "y = x.ljust(n)", lambda n: n),
    OpCase("str.rjust", 'x = "1"', "y = x.rjust(n)", lambda n: n),
    # --- bytes --------------------------------------------------------------------------------
    OpCase("bytes.hex", 'x = b"x" * n', "y = x.hex()", lambda n: 2 * n),
    OpCase("bytes.startswith", 'x = b"a" * n', "y = x.startswith(x)", lambda n: n),
    OpCase("bytes.endswith", 'x = b"a" * n', "y = x.endswith(x)", lambda n: n),
    OpCase("bytes.find", 'x = b"a" * n\ns = b"a" * 90 + b"ba"', "y = x.find(s)",
           lambda n: n * min(n, 92)),
    OpCase("bytes.count", 'x = b"a" * n\ns = b"a" * 90 + b"ba"', "y = x.count(s)",
           lambda n: n * min(n, 92)),
    OpCase("bytes.decode", 'x = b"x" * n', "y = x.decode()", lambda n: n),
    OpCase("bytes.join", 'x = [b"ab"] * n', 'y = b",".join(x)', lambda n: 3 * n),
    # --- list ---------------------------------------------------------------------------------
    OpCase("list.append", "x = list(range(n))", "x.append(1)", lambda n: 1),
    OpCase("list.pop", "x = list(range(n))", "y = x.pop(0)", lambda n: n // 8),
    OpCase("list.insert", "x = list(range(n))", "x.insert(0, 1)", lambda n: n // 8),
    OpCase("list.extend", "x = list(range(n))", "x.extend(x)", lambda n: 2 * n),
    OpCase("list.index", "x = [[i] for i in range(n)]", "y = x.index([n - 1])", lambda n: 2 * n),
    OpCase("list.count", "x = [[1, 2]] * n", "y = x.count([1, 2])", lambda n: 3 * n),
    OpCase("list.reverse", "x = list(range(n))", "x.reverse()", lambda n: n),
    OpCase("list.sort", "x = [[0] * 20 + [i] for i in range(n)]\nx.reverse()", "x.sort()",
           lambda n: 21 * n * _lg(n)),
    OpCase("list.copy", "x = list(range(n))", "y = x.copy()", lambda n: n),
    OpCase("list.clear", "x = list(range(n))", "x.clear()", lambda n: n),
    OpCase("list.remove", "x = [[i] for i in range(n)]", "x.remove([n - 1])", lambda n: 2 * n),
    # --- dict ---------------------------------------------------------------------------------
    OpCase("dict.get", 'd = {"k" * n: 1}\nk = "k" * (n - 1) + "k"', "y = d.get(k)", lambda n: n),
    OpCase("dict.keys", "d = {i: i for i in range(n)}", "y = d.keys()", lambda n: n),
    OpCase("dict.values", "d = {i: i for i in range(n)}", "y = d.values()", lambda n: n),
    OpCase("dict.items", "d = {i: i for i in range(n)}", "y = d.items()", lambda n: 2 * n),
    OpCase("dict.pop", 'd = {"k" * n: 1}\nk = "k" * (n - 1) + "k"', "y = d.pop(k)", lambda n: n),
    OpCase("dict.setdefault", 'd = {"k" * n: 1}\nk = "k" * (n - 1) + "k"',
           "y = d.setdefault(k, 2)", lambda n: n),
    OpCase("dict.copy", "d = {i: i for i in range(n)}", "y = d.copy()", lambda n: n),
    OpCase("dict.clear", "d = {i: i for i in range(n)}", "d.clear()", lambda n: n),
    OpCase("dict.update", "d = {i: i for i in range(n)}\ne = {}", "e.update(d)", lambda n: n),
    # --- tuple, int ---------------------------------------------------------------------------
    OpCase("tuple.count", "x = tuple([[1, 2]] * n)", "y = x.count([1, 2])", lambda n: 3 * n),
    OpCase("tuple.index", "x = tuple([[i] for i in range(n)])", "y = x.index([n - 1])",
           lambda n: 2 * n),
    OpCase("int.bit_length", "x = 2 ** 1000", "y = x.bit_length()", lambda n: 1),
    OpCase("int.to_bytes", "x = 2 ** 1000", "y = x.to_bytes(129)", lambda n: 129),
    # --- storage ------------------------------------------------------------------------------
    OpCase("Map.set", "x = [[i] for i in range(min(n, 2000))]", "m[1] = x",
           lambda n: 3 * min(n, 2000)),
    OpCase("Map.get", "m[1] = [[i] for i in range(min(n, 2000))]", "y = m.get(1)",
           lambda n: 3 * min(n, 2000)),
    OpCase("Map.contains", "k = 1", "y = m.contains(k)", lambda n: 1),
    OpCase("Map.delete", "m[1] = 1", "m.delete(1)", lambda n: 1),
    OpCase("Value.set", "x = [[i] for i in range(min(n, 2000))]", "v.set(x)",
           lambda n: 3 * min(n, 2000)),
    OpCase("Value.get", "v.set([[i] for i in range(min(n, 2000))])", "y = v.get()",
           lambda n: 3 * min(n, 2000)),
    OpCase("emit", "x = [[1, 2]] * min(n, 1000)", 'emit("E", x=x)', lambda n: 3 * min(n, 1000)),
]


def _source(case: OpCase, with_operation: bool) -> str:
    lines = case.setup.splitlines() + ([case.operation] if with_operation else [])
    body = "\n".join("    " + line for line in lines)
    return f"m = Map()\nv = Value()\n\n@export\ndef run(n: int):\n{body}\n    return 0\n"


_deployed: dict[tuple[str, bool], DictState] = {}


def _gas(case: OpCase, with_operation: bool, n: int) -> int:
    key = (case.name, with_operation)
    if key not in _deployed:
        state = DictState()
        result = vm.deploy(state, _source(case, with_operation), CONTRACT, CONTEXT, GAS)
        assert result.ok, result.message
        state.apply(result.writes)
        _deployed[key] = state
    result = vm.execute(_deployed[key], CONTRACT, "run", {"n": n}, CONTEXT, GAS)
    assert result.ok, (case.name, n, result.code, result.message)
    return result.gas_used


def test_every_builtin_and_method_has_a_case() -> None:
    covered = {case.name for case in CASES}
    assert names.builtin_names <= covered
    for kind, methods in names.methods_by_type.items():
        assert {f"{kind}.{method}" for method in methods} <= covered, kind


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(min_value=8, max_value=3_000))
def test_gas_grows_at_least_linearly_with_the_work(case: OpCase, n: int) -> None:
    charged = _gas(case, True, n) - _gas(case, False, n)
    assert charged * steps_per_gas_max >= case.work(n), (case.name, n, charged)


@pytest.mark.parametrize(
    "case", gas_fidelity.CATALOGUE, ids=[case.name for case in gas_fidelity.CATALOGUE]
)
def test_the_fidelity_catalogue_runs_at_small_sizes(case: gas_fidelity.Case) -> None:
    sizes = tuple(max(1, size // 100) for size in case.sizes[:2])
    for _, sample in gas_fidelity.measure(case, sizes, repeat=1):
        assert sample.gas_used > 0
