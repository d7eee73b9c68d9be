"""Contract transactions through the node's executor: deploy, call, fail, query."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from consensus.types import Block, BlockHeader, Signer, Transaction, tx_root
from ledger.contracts import (
    contract_address,
    deploy_args,
    deploy_method,
    encode_args,
    find_deploy_nonce,
    query,
)
from ledger.executor import build_executor, genesis_state_writes
from ledger.types import Status
from node.genesis import Genesis, GenesisConsensus, Validator
from ledger.sharding import shard_of_account
from tests.node.txs import CHAIN_ID, signer

SHARDS = 2
TOKEN_SOURCE = (Path(__file__).parents[2] / "vm" / "templates" / "token.py").read_text()
GAS = 2_000_000


class DictView:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: tuple[tuple[bytes, bytes | None], ...]) -> None:
        for key, value in writes:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


def _genesis() -> Genesis:
    return Genesis(CHAIN_ID, SHARDS, (Validator("v0", signer(999).public_key, "127.0.0.1:1",
                                                "127.0.0.1:2"),),
                   consensus=GenesisConsensus(tx_validity_window_blocks=200))


def _signed(sender: Signer, contract: bytes, method: str, args: bytes, nonce: int,
            gas_limit: int = GAS) -> Transaction:
    unsigned = Transaction(CHAIN_ID, sender.public_key, nonce, 100, gas_limit, contract,
                           method, args, b"\x00" * 64)
    return dataclasses.replace(unsigned, signature=sender.sign(unsigned.signing_bytes()))


def _deploy(sender: Signer, shard: int, source: str, init: dict) -> Transaction:
    nonce = find_deploy_nonce(sender.public_key, shard, SHARDS)
    return _signed(sender, contract_address(sender.public_key, nonce), deploy_method,
                   deploy_args(source, init), nonce)


class Chain:
    def __init__(self, shard: int = 0) -> None:
        self.shard = shard
        self.executor = build_executor(_genesis(), shard)
        self.view = DictView()
        self.view.apply(genesis_state_writes(_genesis(), shard))
        self.height = 0

    def run(self, txs: list[Transaction]):  # type: ignore[no-untyped-def]
        self.height += 1
        header = BlockHeader(CHAIN_ID, self.shard, self.height, b"\x00" * 32, 0, 0,
                             1_700_000_000_000 + self.height, tx_root(tuple(txs)), 0,
                             b"\x00" * 32, b"\x00" * 32)
        result = self.executor.execute_block(Block(header, tuple(txs)), self.view)
        self.view.apply(result.state_writes)
        return result


def test_a_token_is_deployed_and_transferred_through_the_executor() -> None:
    alice, bob = signer(1), signer(2)
    chain = Chain(shard=1)
    deploy = _deploy(alice, 1, TOKEN_SOURCE, {"token_name": "Gold", "amount": 1000})
    assert shard_of_account(deploy.contract, SHARDS) == 1
    (receipt,) = chain.run([deploy]).receipts
    assert receipt.status == Status.OK, receipt.error
    assert receipt.gas_used > 0
    transfer = _signed(alice, deploy.contract, "transfer",
                       encode_args({"to": bob.public_key, "amount": 250}), 1)
    (receipt,) = chain.run([transfer]).receipts
    assert receipt.status == Status.OK, receipt.error
    assert [event.name for event in receipt.events] == ["Transfer"]
    balance = query(chain.view, deploy.contract, "balance_of", {"who": bob.public_key},
                    alice.public_key, chain.height, 0)
    assert balance.ok and balance.value == 250


def test_a_failing_call_reverts_its_writes_and_still_charges_gas() -> None:
    alice, bob = signer(1), signer(2)
    chain = Chain(shard=0)
    deploy = _deploy(alice, 0, TOKEN_SOURCE, {"token_name": "Gold", "amount": 10})
    chain.run([deploy])
    before = dict(chain.view.data)
    overdraft = _signed(alice, deploy.contract, "transfer",
                        encode_args({"to": bob.public_key, "amount": 11}), 2)
    result = chain.run([overdraft])
    (receipt,) = result.receipts
    assert receipt.status == Status.REVERT and "insufficient" in receipt.error
    assert receipt.gas_used > 0
    assert result.state_writes == () and chain.view.data == before


def test_deploys_at_someone_elses_address_or_with_bad_args_are_refused() -> None:
    alice, mallory = signer(1), signer(3)
    chain = Chain(shard=0)
    nonce = find_deploy_nonce(alice.public_key, 0, SHARDS)
    squat = _signed(mallory, contract_address(alice.public_key, nonce), deploy_method,
                    deploy_args(TOKEN_SOURCE, {"token_name": "X", "amount": 1}), nonce)
    garbage = _signed(alice, contract_address(alice.public_key, nonce), deploy_method,
                      b"\xc1", nonce)
    invalid = _deploy(alice, 0, "import os\n", {})
    receipts = chain.run([squat, garbage, invalid]).receipts
    assert [r.status for r in receipts] == [Status.INVALID_ARGUMENT, Status.INVALID_ARGUMENT,
                                           Status.INVALID_CONTRACT]
    assert "line 1" in receipts[2].error
    assert chain.view.data == Chain(shard=0).view.data
