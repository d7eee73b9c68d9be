"""Runs a fixed set of VM calls and prints their canonical results, one hex line each.

`test_determinism.py` runs this in subprocesses with different PYTHONHASHSEED values and
compares the output byte for byte.
"""

from __future__ import annotations

import sys

import vm
from tests.vm.contracts import TOKEN
from tests.vm.helpers import BOB, CONTEXT, CONTRACT, body
from tests.vm.test_oracle import CASES
from vm.state import DictState

HASH_SENSITIVE = body(
    'd = {}\nfor w in "the quick brown fox jumps over the lazy dog".split(" "):\n'
    "    d[w] = d.get(w, 0) + 1\n"
    'keys = {b"x": 1, "y": 2, 3: 4, (1, "a"): 5}\n'
    'emit("Words", counts=d, n=len(d))\n'
    "return [list(d.items()), sorted(d), list(keys), str(2 ** 200)]"
)


def results() -> list[bytes]:
    outputs = []
    for _, source, args, _ in CASES:
        state = DictState()
        deployed = vm.deploy(state, source, CONTRACT, CONTEXT, 3_000_000)
        state.apply(deployed.writes)
        outputs.append(
            vm.execute(state, CONTRACT, "run", args, CONTEXT, 3_000_000).canonical_bytes()
        )
    state = DictState()
    deployed = vm.deploy(state, HASH_SENSITIVE, CONTRACT, CONTEXT, 1_000_000)
    state.apply(deployed.writes)
    outputs.append(vm.execute(state, CONTRACT, "run", {}, CONTEXT, 1_000_000).canonical_bytes())
    token_state = DictState()
    token = vm.deploy(
        token_state, TOKEN, CONTRACT, CONTEXT, 1_000_000, {"token_name": "T", "amount": 10**30}
    )
    token_state.apply(token.writes)
    outputs.append(token.canonical_bytes())
    for amount in (1, 2**70, 10**31):
        result = vm.execute(
            token_state, CONTRACT, "transfer", {"to": BOB, "amount": amount}, CONTEXT, 100_000
        )
        token_state.apply(result.writes)
        outputs.append(result.canonical_bytes())
    loop_state = DictState()
    looping = vm.deploy(loop_state, body("while True:\n    pass"), CONTRACT, CONTEXT, 10**5)
    loop_state.apply(looping.writes)
    spin = vm.execute(loop_state, CONTRACT, "run", {}, CONTEXT, 10**5)
    outputs.append(spin.canonical_bytes())
    return outputs


if __name__ == "__main__":
    for output in results():
        sys.stdout.write(output.hex() + "\n")
