"""Micro-benchmark: how long the block gas limit takes in the worst case (not a test).

    .venv/bin/python -m bench.block_gas_bench [--gas 10000000] [--rounds 3]

The genesis ``block_gas_limit`` (node/genesis.py) bounds what one block can make a node
execute: the proposer never cuts a block whose txs' gas limits add up to more, and a
validator refuses such a proposal. It is chosen so that the slowest gas we know of (CPU
seconds per unit of gas) fills a block in at most 1 s on the benchmark machine. This
script measures that: for each adversarial contract method below it runs one call of
``--gas`` gas (the VM's ``gas_limit_tx_max`` by default) to its out-of-gas end through
``vm.execute``, and reports the gas per CPU second and the time a block of
``block_gas_limit`` gas of that method would take. Add a method here when a slower one
turns up (the VM's gas fidelity work, issue #13 point 1, hunts for them).

Timed in CPU seconds of this process (``time.process_time``), best of ``--rounds``: the
machine is shared. Nothing here asserts: tests never assert on time.
"""

from __future__ import annotations

import argparse
import time

import vm
from node.genesis import GenesisConsensus
from vm import gas
from vm.state import BlockContext, DictState

SOURCE = '''
@export
def init():
    pass

@export
def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total = total + i
    return total

@export
def calls(n: int) -> int:
    total = 0
    for i in range(n):
        total = total + one(i)
    return total

def one(i: int) -> int:
    return i

@export
def big_ints(n: int) -> int:
    x = 3 ** 320
    total = 0
    for i in range(n):
        total = (x * x) // (x + i)
    return total

@export
def strings(n: int) -> int:
    s = "ab" * 1000
    total = 0
    for i in range(n):
        total = total + len(s + s)
    return total

@export
def compare_lists(n: int) -> int:
    a = list(range(1000))
    b = list(range(1000))
    total = 0
    for i in range(n):
        if a == b:
            total = total + 1
    return total

@export
def dicts(n: int) -> int:
    total = 0
    for i in range(n):
        d = {k: k for k in range(50)}
        total = total + len(d)
    return total

@export
def hashing(n: int) -> int:
    data = b"x" * 4096
    total = 0
    for i in range(n):
        total = total + len(sha256(data))
    return total

@export
def storage_misses(n: int) -> int:
    total = 0
    for i in range(n):
        if i in seen:
            total = total + 1
    return total

seen = Map()
'''

METHODS = ("spin", "calls", "big_ints", "strings", "compare_lists", "dicts", "hashing",
           "storage_misses")


def measure(method: str, gas_limit: int, rounds: int) -> tuple[int, float]:
    """(gas used, best CPU seconds) of one call of ``method`` run to out of gas."""
    state = DictState()
    address = b"\x11" * 32
    context = BlockContext(b"\x22" * 32, 1, 1, b"\x33" * 32)
    deployed = vm.deploy(state, SOURCE, address, context, 1_000_000, {})
    assert deployed.ok, deployed
    state.apply(deployed.writes)
    best = float("inf")
    used = 0
    for _ in range(rounds):
        started = time.process_time()
        result = vm.execute(state, address, method, {"n": 10**9}, context, gas_limit)
        best = min(best, time.process_time() - started)
        used = result.gas_used
    return used, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gas", type=int, default=gas.gas_limit_tx_max)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    block_gas = GenesisConsensus().block_gas_limit
    print(f"block_gas_limit {block_gas:,} gas; one call of {options.gas:,} gas per method")
    print(f"{'method':<16}{'gas used':>12}{'CPU s':>8}{'Mgas/s':>9}{'block s':>9}")
    worst = 0.0
    for method in METHODS:
        used, seconds = measure(method, options.gas, options.rounds)
        rate = used / seconds
        block_seconds = block_gas / rate
        worst = max(worst, block_seconds)
        print(f"{method:<16}{used:>12,}{seconds:>8.3f}{rate / 1e6:>9.1f}{block_seconds:>9.3f}")
    print(f"worst case: a block of {block_gas:,} gas executes in {worst:.3f} CPU s")


if __name__ == "__main__":
    main()
