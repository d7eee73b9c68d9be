"""Shared helpers for the VM tests: deploy a source and call it on both engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import vm
from vm.state import DictState

ALICE = b"A" * 32
BOB = b"B" * 32
CAROL = b"C" * 32
CONTRACT = b"K" * 32
OTHER = b"L" * 32
CONTEXT = vm.BlockContext(sender=ALICE, height=7, time=1_700_000_000, tx_hash=b"T" * 32)
GAS_DEFAULT = 2_000_000


@dataclass
class Deployed:
    state: DictState
    address: bytes
    engine: str

    def call(
        self,
        method: str,
        gas: int = GAS_DEFAULT,
        context: vm.BlockContext = CONTEXT,
        apply: bool = True,
        **args: Any,
    ) -> vm.ExecutionResult:
        result = vm.execute(
            self.state, self.address, method, args, context, gas, engine=self.engine
        )
        if apply and result.ok:
            self.state.apply(result.writes)
        return result

    def query(self, method: str, gas: int = GAS_DEFAULT, **args: Any) -> vm.ExecutionResult:
        return vm.query(self.state, self.address, method, args, CONTEXT, gas, engine=self.engine)


def deploy(
    source: str,
    engine: str = "fast",
    state: DictState | None = None,
    address: bytes = CONTRACT,
    **args: Any,
) -> Deployed:
    state = state if state is not None else DictState()
    result = vm.deploy(state, source, address, CONTEXT, GAS_DEFAULT, args, engine=engine)
    assert result.ok, (result.code, result.message)
    state.apply(result.writes)
    return Deployed(state, address, engine)


def body(code: str) -> str:
    """Wraps statements into an exported method `run`."""
    indented = "\n".join("    " + line for line in code.strip("\n").splitlines())
    return f"@export\ndef run():\n{indented}\n"
