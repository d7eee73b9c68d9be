"""Micro-benchmark: contract calls per second, this VM against py-evm (not a test).

    .venv/bin/pip install -e '.[evmbench]'      # py-evm and vyper, pinned
    .venv/bin/python -m bench.vm_bench [--calls 5000] [--rounds 5] [--profile]

Side by side in one run:

* Agora VM: `transfer` of bench/evm/agora_token.py and bench/evm/agora_nft.py (the same
  logic as the Vyper contracts; vm/templates/ holds richer versions), fully metered,
  through `vm.execute` with the write set applied to an in-memory state after each call
  (what the node's executor does, minus LevelDB).
* py-evm (Cancun rules): `transfer` of bench/evm/erc20.vy and `transferFrom` of
  bench/evm/erc721.vy, compiled by Vyper, run as messages with `apply_message` against
  py-evm's in-memory state. No signature recovery and no state-root computation on either
  side, so both measure contract execution plus state access.

Rounds are interleaved (each benchmark runs once per round, in turn) and each figure is the
best of `--rounds` rounds, timed in CPU seconds of this process (`time.process_time`): the
machine is shared, and CPU time keeps other tenants' load out of both sides' figures. Nothing here asserts: tests never assert on time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

import vm
from vm.state import DictState

ALICE = b"A" * 32
BOB = b"B" * 32
TOKEN_ADDRESS = b"T" * 32
NFT_ADDRESS = b"N" * 32
GAS_PER_CALL = 100_000
EVM_DIRECTORY = Path(__file__).parent / "evm"
target_speedup = 20


def load(name: str) -> str:
    """Agora contracts equivalent to the Vyper ones (bench/evm/agora_<name>.py). Kept here,
    not in vm/templates/, so template features (KYC hooks...) do not skew the comparison."""
    return (EVM_DIRECTORY / f"agora_{name}.py").read_text(encoding="ascii")


def _interleaved_best_rates(
    runs: dict[str, Callable[[int], None]], calls: int, rounds: int
) -> dict[str, float]:
    """Runs every benchmark once per round, in turn, so that each sees the same machine
    conditions; reports each one's best round as calls per second."""
    best_seconds = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.process_time()
            run(calls)
            best_seconds[name] = min(best_seconds[name], time.process_time() - started)
    return {name: calls / seconds for name, seconds in best_seconds.items()}


# --- Agora VM -------------------------------------------------------------------------------
def agora_token(total_calls: int) -> Callable[[int], None]:
    context = vm.BlockContext(sender=ALICE, height=1, time=1, tx_hash=b"h" * 32)
    state = DictState()
    deployed = vm.deploy(
        state,
        load("token"),
        TOKEN_ADDRESS,
        context,
        1_000_000,
        {"token_name": "Gold", "amount": 10**30},
    )
    state.apply(deployed.writes)
    args = {"to": BOB, "amount": 1}

    def run(calls: int) -> None:
        for _ in range(calls):
            result = vm.execute(state, TOKEN_ADDRESS, "transfer", args, context, GAS_PER_CALL)
            state.apply(result.writes)
        assert result.ok, result.message

    return run


def agora_nft(total_calls: int) -> Callable[[int], None]:
    context = vm.BlockContext(sender=ALICE, height=1, time=1, tx_hash=b"h" * 32)
    state = DictState()
    deployed = vm.deploy(state, load("nft"), NFT_ADDRESS, context, 1_000_000)
    state.apply(deployed.writes)
    for token in range(total_calls):
        minted = vm.execute(
            state,
            NFT_ADDRESS,
            "mint",
            {"to": ALICE, "token": token, "royalty_bp": 250},
            context,
            10**6,
        )
        state.apply(minted.writes)
    next_token = [0]

    def run(calls: int) -> None:
        start = next_token[0]
        for token in range(start, start + calls):
            result = vm.execute(
                state, NFT_ADDRESS, "transfer", {"to": BOB, "token": token}, context, GAS_PER_CALL
            )
            state.apply(result.writes)
        next_token[0] = start + calls
        assert result.ok, result.message

    return run


# --- py-evm ---------------------------------------------------------------------------------
class Evm:
    """py-evm Cancun state with Vyper contracts deployed by create messages."""

    sender = b"\x11" * 20
    receiver = b"\x22" * 20

    def __init__(self) -> None:
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks.cancun import CancunVM

        chain_class = MiningChain.configure(
            __name__="VmBench", vm_configuration=((0, CancunVM),), chain_id=1
        )
        genesis = {
            "difficulty": 0, "gas_limit": 30_000_000, "timestamp": 1,
            "coinbase": b"\0" * 20, "extra_data": b"", "nonce": b"\0" * 8,
            "mix_hash": b"\0" * 32,
        }  # fmt: skip
        accounts = {self.sender: {"balance": 10**20, "nonce": 0, "code": b"", "storage": {}}}
        chain = chain_class.from_genesis(AtomicDB(), genesis, accounts)
        self.state = chain.get_vm().state
        self.context = self.state.get_transaction_context_class()(gas_price=1, origin=self.sender)

    def deploy(self, name: str, address: bytes, constructor_args: bytes = b"") -> bytes:
        from eth import constants
        from eth.vm.message import Message
        from vyper import compile_code

        source = (EVM_DIRECTORY / f"{name}.vy").read_text()
        bytecode = compile_code(source, output_formats=["bytecode"])["bytecode"]
        init = bytes.fromhex(bytecode[2:]) + constructor_args
        message = Message(
            gas=5_000_000,
            to=constants.CREATE_CONTRACT_ADDRESS,
            sender=self.sender,
            value=0,
            data=b"",
            code=init,
            create_address=address,
        )
        computation = self.state.computation_class.apply_create_message(
            self.state, message, self.context
        )
        assert computation.is_success, computation.error
        return self.state.get_code(address)

    def caller(self, address: bytes, code: bytes) -> Callable[[bytes], object]:
        from eth.vm.message import Message

        state, context = self.state, self.context
        apply = state.computation_class.apply_message

        def call(data: bytes) -> object:
            message = Message(
                gas=GAS_PER_CALL, to=address, sender=self.sender, value=0, data=data, code=code
            )
            computation = apply(state, message, context)
            if not computation.is_success:
                raise RuntimeError(computation.error)
            return computation

        return call


def _word(value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return value.rjust(32, b"\0")
    return value.to_bytes(32, "big")


def _selector(signature: str) -> bytes:
    from eth_utils import keccak

    return keccak(signature.encode())[:4]


def evm_token(evm: Evm) -> Callable[[int], None]:
    address = b"\x33" * 20
    call = evm.caller(address, evm.deploy("erc20", address, _word(10**30)))
    data = _selector("transfer(address,uint256)") + _word(evm.receiver) + _word(1)

    def run(calls: int) -> None:
        for _ in range(calls):
            call(data)

    return run


def evm_nft(evm: Evm, total_calls: int) -> Callable[[int], None]:
    address = b"\x44" * 20
    call = evm.caller(address, evm.deploy("erc721", address))
    mint = _selector("mint(address,uint256,uint256)")
    for token in range(total_calls):
        call(mint + _word(evm.sender) + _word(token) + _word(250))
    transfer = _selector("transferFrom(address,address,uint256)")
    next_token = [0]

    def run(calls: int) -> None:
        start = next_token[0]
        for token in range(start, start + calls):
            call(transfer + _word(evm.sender) + _word(evm.receiver) + _word(token))
        next_token[0] = start + calls

    return run


def evm_available() -> str | None:
    """None if py-evm and vyper import, else the reason they do not."""
    try:
        import eth  # noqa: F401
        import vyper  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the VM token transfer")
    options = parser.parse_args()
    calls, rounds = options.calls, options.rounds
    total = calls * rounds
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"calls per round: {calls}, rounds: {rounds} (best round, CPU time of this process)")
    runs: dict[str, Callable[[int], None]] = {
        "agora token transfer": agora_token(total),
        "agora nft transfer": agora_nft(total),
    }
    missing = evm_available()
    if missing is None:
        evm = Evm()
        runs["py-evm erc20 transfer"] = evm_token(evm)
        runs["py-evm erc721 transferFrom"] = evm_nft(evm, total)
    rates = _interleaved_best_rates(runs, calls, rounds)
    for name, rate in rates.items():
        print(f"{name:<30} {rate:>12,.0f} calls/s")
    if missing is not None:
        print(
            f"py-evm/vyper not installed ({missing}); install the extra with "
            "`.venv/bin/pip install -e '.[evmbench]'` to compare.",
            file=sys.stderr,
        )
    else:
        token_ratio = rates["agora token transfer"] / rates["py-evm erc20 transfer"]
        nft_ratio = rates["agora nft transfer"] / rates["py-evm erc721 transferFrom"]
        print(
            f"speed-up token: {token_ratio:.1f}x (target {target_speedup}x), nft: {nft_ratio:.1f}x"
        )
    if options.profile:
        run = agora_token(calls)
        cProfile.runctx("run(calls)", globals(), {"run": run, "calls": calls}, "/tmp/vm.prof")
        pstats.Stats("/tmp/vm.prof").sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
