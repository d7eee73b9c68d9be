"""The validator and compiler only ever raise ContractValidationError, whatever the input.

Mutations of the templates (seeded, so a failure replays): byte flips, deletions,
duplications and insertions of risky tokens. Every accepted mutant must also compile and
run without escaping the VM's error codes.
"""

from __future__ import annotations

import random

import pytest

import vm
from tests.vm.contracts import NFT, TOKEN
from tests.vm.helpers import CONTEXT, CONTRACT
from vm.state import DictState

RISKY = [
    "__class__",
    "(",
    "[",
    "{",
    "lambda: 0",
    "1.5",
    "/",
    "**",
    "import os",
    "\uff3f",
    "\x00",
    "'",
    '"""',
    "\\",
    "yield",
    "@",
    "*",
    ":=",
    "\n    ",
    "\t",
    "try:",
    "ctx",
]
MUTANTS_PER_SEED = 30


def _mutate(source: str, rng: random.Random) -> str:
    position = rng.randrange(len(source))
    choice = rng.randrange(4)
    if choice == 0:
        return source[:position] + chr(rng.randrange(32, 127)) + source[position + 1 :]
    if choice == 1:
        return source[:position] + source[position + rng.randrange(1, 20) :]
    if choice == 2:
        end = min(len(source), position + rng.randrange(1, 40))
        return source[:end] + source[position:end] + source[end:]
    return source[:position] + rng.choice(RISKY) + source[position:]


@pytest.mark.parametrize("seed", range(3))
def test_mutated_templates_are_rejected_cleanly_or_run_cleanly(seed: int) -> None:
    rng = random.Random(seed)
    for template, source in (("token", TOKEN), ("nft", NFT)):
        for _ in range(MUTANTS_PER_SEED):
            mutant = _mutate(source, rng)
            try:
                vm.compile_contract(mutant)
            except vm.ContractValidationError as exc:
                assert exc.rule and exc.line >= 0 and exc.column >= 0
                continue
            state = DictState()
            result = vm.deploy(
                state,
                mutant,
                CONTRACT,
                CONTEXT,
                200_000,
                {"token_name": "x", "amount": 5} if template == "token" else {},
            )
            assert isinstance(result.code, vm.ErrorCode), (seed, mutant)
