"""Micro-benchmark: the node's executor on blocks of token-template transfers (not a test).

    .venv/bin/python -m bench.executor_bench [--blocks 4] [--txs 500] [--rounds 5]

What each validator does per committed token transfer once the block is final:
``Executor.execute_block`` (precheck, the VM call of the token template's ``transfer``,
events, receipts and their encoding, the receipts root) over an in-memory state view, with
the signatures taken as already checked (as the node does: each replica checks each tx
once, at admission). Prints CPU microseconds per tx (``time.process_time``), the best of
``--rounds`` rounds, each over ``--blocks`` blocks of ``--txs`` transfers among 200
funded senders. Benchmarks never assert.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from consensus.types import Block, BlockHeader, Signer, Transaction, tx_root
from ledger.contracts import (
    contract_address,
    deploy_args,
    deploy_method,
    encode_args,
    find_deploy_nonce,
)
from ledger.executor import Executor, build_executor
from ledger.types import Status
from node.genesis import Genesis, Validator
from vm.state import DictState

CHAIN_ID = "agora-bench"
TOKEN_SOURCE = (Path(__file__).parents[1] / "vm" / "templates" / "token.py").read_text()
GAS = 200_000


def _signed(sender: Signer, contract: bytes, method: str, args: bytes,
            nonce: int) -> Transaction:
    # expires at the window's end (1,000 blocks with the default genesis): runs stay below
    unsigned = Transaction(CHAIN_ID, sender.public_key, nonce, 1000, GAS, contract, method,
                           args, b"\x00" * 64)
    return dataclasses.replace(unsigned, signature=sender.sign(unsigned.signing_bytes()))


class Chain:
    def __init__(self) -> None:
        genesis = Genesis(CHAIN_ID, 1, (Validator("v0", Signer(b"\x01" * 32).public_key,
                                                  "127.0.0.1:1", "127.0.0.1:2"),))
        self.executor: Executor = build_executor(genesis, 0, is_verified=lambda _hash: True)
        self.view = DictState()
        self.height = 0

    def run(self, txs: list[Transaction]) -> None:
        self.height += 1
        header = BlockHeader(CHAIN_ID, 0, self.height, b"\x00" * 32, 0, 0,
                             1_700_000_000_000 + self.height, tx_root(tuple(txs)), 0,
                             b"\x00" * 32, b"\x00" * 32)
        result = self.executor.execute_block(Block(header, tuple(txs)), self.view)
        failed = [receipt for receipt in result.receipts if receipt.status != Status.OK]
        if failed:
            raise SystemExit(f"a benchmark tx failed: {failed[0]}")
        self.view.apply(result.state_writes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--txs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if (args.rounds + 1) * args.blocks + 2 >= 1000:
        parser.error("--rounds x --blocks must stay under the 1,000-block validity window")

    issuer = Signer(b"\x02" * 32)
    senders = [Signer((10 + n).to_bytes(32, "big")) for n in range(200)]
    chain = Chain()
    nonce = find_deploy_nonce(issuer.public_key, 0, 1)
    token = contract_address(issuer.public_key, nonce)
    chain.run([_signed(issuer, token, deploy_method, deploy_args(
        TOKEN_SOURCE, {"token_name": "Gold", "amount": 10**15}), nonce)])
    chain.run([_signed(issuer, token, "transfer", encode_args(
        {"to": sender.public_key, "amount": 10**9}), nonce + 1 + n)
        for n, sender in enumerate(senders)])
    serial = 0

    def block() -> list[Transaction]:
        nonlocal serial
        txs = []
        for _ in range(args.txs):
            sender = senders[serial % len(senders)]
            receiver = senders[(serial * 7 + 3) % len(senders)]
            txs.append(_signed(sender, token, "transfer", encode_args(
                {"to": receiver.public_key, "amount": 1}), 1_000_000 + serial))
            serial += 1
        return txs

    chain.run(block())  # warm-up: compile cache, first writes
    best = None
    for _ in range(args.rounds):
        blocks = [block() for _ in range(args.blocks)]
        started = time.process_time()
        for txs in blocks:
            chain.run(txs)
        per_tx = (time.process_time() - started) / (args.blocks * args.txs) * 1e6
        best = per_tx if best is None else min(best, per_tx)
    print(f"executor, token transfer: {best:.1f} us CPU per tx (best of {args.rounds} "
          f"rounds of {args.blocks} blocks x {args.txs} txs)")


if __name__ == "__main__":
    main()
