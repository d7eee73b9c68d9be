"""Micro-benchmark: the node's executor on blocks of token-template transfers (not a test).

    .venv/bin/python -m bench.executor_bench [--blocks 4] [--txs 500] [--rounds 5]
                                             [--gas-price 1]

What each validator does per committed token transfer once the block is final:
``Executor.execute_block`` (precheck, the VM call of the token template's ``transfer``,
events, receipts and their encoding, the receipts root) over an in-memory state view, with
the signatures taken as already checked (as the node does: each replica checks each tx
once, at admission). Prints CPU microseconds per tx (``time.process_time``), the best of
``--rounds`` rounds, each over ``--blocks`` blocks of ``--txs`` transfers among 200
funded senders. With ``--gas-price`` > 0 the genesis charges fees (ledger/fees.py: every
tx prepays its gas cap, gets the unused part back and pays the fee to the fee account),
so two runs compare the executor's cost per tx with and without fees. Benchmarks never
assert.
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
from ledger.executor import Executor, build_executor, genesis_state_writes
from ledger.native import balance_of
from ledger.types import Status
from node.genesis import Balance, Genesis, GenesisConsensus, Validator
from vm.state import DictState

CHAIN_ID = "agora-bench"
TOKEN_SOURCE = (Path(__file__).parents[1] / "vm" / "templates" / "token.py").read_text()
GAS = 20_000  # a transfer uses ~9,150 (vm/gas.py); fees reserve gas cap x price
DEPLOY_GAS = 2_000_000  # a deploy pays per source byte (vm/gas.py, deploy_byte_gas)


def _signed(sender: Signer, contract: bytes, method: str, args: bytes,
            nonce: int, gas: int = GAS) -> Transaction:
    # expires at the window's end (1,000 blocks with the default genesis): runs stay below
    unsigned = Transaction(CHAIN_ID, sender.public_key, nonce, 1000, gas, contract, method,
                           args, b"\x00" * 64)
    return dataclasses.replace(unsigned, signature=sender.sign(unsigned.signing_bytes()))


class Chain:
    def __init__(self, gas_price: int = 0, funded: tuple[bytes, ...] = ()) -> None:
        genesis = Genesis(CHAIN_ID, 1, (Validator("v0", Signer(b"\x01" * 32).public_key,
                                                  "127.0.0.1:1", "127.0.0.1:2"),),
                          balances=tuple(Balance(address, 10**15) for address in funded),
                          fee_account=b"\xfe" * 32,
                          consensus=GenesisConsensus(gas_price=gas_price))
        self.view = DictState()
        self.view.apply(genesis_state_writes(genesis, 0))
        self.executor: Executor = build_executor(genesis, 0, is_verified=lambda _hash: True)
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
    parser.add_argument("--gas-price", type=int, default=0)
    args = parser.parse_args()
    if (args.rounds + 1) * args.blocks + 2 >= 1000:
        parser.error("--rounds x --blocks must stay under the 1,000-block validity window")

    issuer = Signer(b"\x02" * 32)
    senders = [Signer((10 + n).to_bytes(32, "big")) for n in range(200)]
    chain = Chain(args.gas_price, (issuer.public_key, *(s.public_key for s in senders)))
    nonce = find_deploy_nonce(issuer.public_key, 0, 1)
    token = contract_address(issuer.public_key, nonce)
    chain.run([_signed(issuer, token, deploy_method, deploy_args(
        TOKEN_SOURCE, {"token_name": "Gold", "amount": 10**15}), nonce, DEPLOY_GAS)])
    chain.run([_signed(issuer, token, "transfer", encode_args(
        {"to": sender.public_key, "amount": 10**9}), nonce + 1 + n)
        for n, sender in enumerate(senders)])
    fee_before = balance_of(chain.view, b"\xfe" * 32)
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
    fees = balance_of(chain.view, b"\xfe" * 32) - fee_before
    print(f"executor, token transfer, gas price {args.gas_price}: {best:.1f} us CPU per tx "
          f"(best of {args.rounds} rounds of {args.blocks} blocks x {args.txs} txs); "
          f"fees collected {fees:,}")


if __name__ == "__main__":
    main()
