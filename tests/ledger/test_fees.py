"""Fees through the executor (ledger/fees.py): who pays, when, where the fee goes, and that
value is conserved."""

from __future__ import annotations

import dataclasses
import random

from consensus.types import Block, BlockHeader, Signer, Transaction, tx_root
from ledger.contracts import contract_address, deploy_args, deploy_method, encode_args
from ledger.contracts import find_deploy_nonce
from ledger.executor import build_executor, genesis_state_writes
from ledger.fees import fee_pool_key, pool_of
from ledger.native import balance_key, balance_of
from ledger.sharding import shard_of_account
from ledger.types import ExecutionFault, Status
from node.genesis import Balance, Genesis, GenesisConsensus, Validator
from tests.node.txs import CHAIN_ID, make_tx, signer

SHARDS = 2
PRICE = 3
NATIVE_GAS = 10

SOURCE = '''
counter = Value()

@export
def init():
    pass

@export
def bump(fail: bool) -> int:
    counter.set(counter.get(0) + 1)
    require(not fail, "asked to fail")
    return counter.get(0)

@export
def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total = total + i
    return total
'''


def _signers_in_shard(shard: int, count: int, start: int = 1) -> list[Signer]:
    found = []
    index = start
    while len(found) < count:
        candidate = signer(index)
        if shard_of_account(candidate.public_key, SHARDS) == shard:
            found.append(candidate)
        index += 1
    return found


ALICE, BOB, FEES, ISSUER = _signers_in_shard(0, 4)
CAROL, FEES_1 = _signers_in_shard(1, 2)


def _genesis(fee_account: bytes = FEES.public_key, price: int = PRICE) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, shard_count=SHARDS,
        validators=(Validator("v0", signer(999).public_key, "127.0.0.1:1", "127.0.0.1:2"),),
        balances=(Balance(ALICE.public_key, 1_000_000_000), Balance(BOB.public_key, 100),
                  Balance(CAROL.public_key, 1_000_000_000)),
        issuers=(ISSUER.public_key,), fee_account=fee_account,
        consensus=GenesisConsensus(tx_validity_window_blocks=200, gas_price=price,
                                   native_tx_gas=NATIVE_GAS))


class Chain:
    """One shard's executor over an in-memory state, a block per ``run``."""

    def __init__(self, genesis: Genesis, shard: int = 0) -> None:
        self.genesis, self.shard = genesis, shard
        self.executor = build_executor(genesis, shard)
        self.data: dict[bytes, bytes] = dict(genesis_state_writes(genesis, shard))
        self.height = 0

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def run(self, txs: list[Transaction]):  # type: ignore[no-untyped-def]
        self.height += 1
        header = BlockHeader(CHAIN_ID, self.shard, self.height, b"\x00" * 32, 0, 0,
                             1_700_000_000_000, tx_root(tuple(txs)), 0, b"\x00" * 32,
                             b"\x00" * 32)
        result = self.executor.execute_block(Block(header, tuple(txs)), self)
        for key, value in result.state_writes:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value
        return result

    def balance(self, who: Signer) -> int:
        return balance_of(self, who.public_key)

    def total(self) -> int:
        """Every balance of this shard plus its fee pool."""
        return sum(int.from_bytes(value, "big") for key, value in self.data.items()
                   if key.startswith(b"bal/")) + pool_of(self)


def _transfer(sender: Signer, to: Signer, amount: int, nonce: int = 0) -> Transaction:
    return make_tx(sender, nonce=nonce, args=(to.public_key, amount))


def _contract_tx(sender: Signer, contract: bytes, method: str, args: bytes, nonce: int,
                 gas_limit: int) -> Transaction:
    unsigned = Transaction(CHAIN_ID, sender.public_key, nonce, 100, gas_limit, contract,
                           method, args, b"\x00" * 64)
    return dataclasses.replace(unsigned, signature=sender.sign(unsigned.signing_bytes()))


def _deploy(chain: Chain, sender: Signer) -> bytes:
    nonce = find_deploy_nonce(sender.public_key, chain.shard, SHARDS)
    address = contract_address(sender.public_key, nonce)
    tx = _contract_tx(sender, address, deploy_method, deploy_args(SOURCE), nonce, 1_000_000)
    assert chain.run([tx]).receipts[0].status == Status.OK
    return address


def test_a_native_transfer_pays_the_fixed_gas_to_the_fee_account() -> None:
    chain = Chain(_genesis())
    receipt = chain.run([_transfer(ALICE, BOB, 500)]).receipts[0]
    assert (receipt.status, receipt.gas_used) == (Status.OK, NATIVE_GAS)
    assert chain.balance(ALICE) == 1_000_000_000 - 500 - NATIVE_GAS * PRICE
    assert chain.balance(BOB) == 600
    assert chain.balance(FEES) == NATIVE_GAS * PRICE


def test_a_failed_native_transfer_still_pays_its_fee_and_moves_nothing_else() -> None:
    chain = Chain(_genesis())
    receipt = chain.run([_transfer(BOB, ALICE, 1_000)]).receipts[0]
    assert receipt.status == Status.INSUFFICIENT_BALANCE
    assert receipt.gas_used == NATIVE_GAS
    assert chain.balance(BOB) == 100 - NATIVE_GAS * PRICE
    assert chain.balance(FEES) == NATIVE_GAS * PRICE


def test_a_transfer_cannot_spend_the_fee_it_owes() -> None:
    chain = Chain(_genesis())
    # BOB holds 100 and owes 30: moving 71 would leave less than the fee.
    receipt = chain.run([_transfer(BOB, ALICE, 71)]).receipts[0]
    assert receipt.status == Status.INSUFFICIENT_BALANCE
    assert chain.balance(BOB) == 70
    receipt = chain.run([_transfer(BOB, ALICE, 40, nonce=1)]).receipts[0]
    assert receipt.status == Status.OK
    assert chain.balance(BOB) == 0
    assert chain.get(balance_key(BOB.public_key)) is None  # zero balances are deleted


def test_a_sender_that_cannot_cover_the_maximum_fee_fails_and_changes_nothing() -> None:
    chain = Chain(_genesis())
    chain.run([_transfer(BOB, ALICE, 70)])  # BOB is left with nothing
    before = dict(chain.data)
    result = chain.run([_transfer(BOB, ALICE, 1, nonce=1)])
    receipt = result.receipts[0]
    assert (receipt.status, receipt.gas_used) == (Status.INSUFFICIENT_FEE, 0)
    assert "maximum fee 30" in receipt.error
    assert result.state_writes == ()
    assert chain.data == before


def test_txs_failing_the_precheck_pay_nothing() -> None:
    chain = Chain(_genesis())
    wrong_chain = make_tx(ALICE, chain_id="another-chain", args=(BOB.public_key, 1))
    tx = _transfer(ALICE, BOB, 1)
    result = chain.run([wrong_chain, tx, tx])  # the second copy is a replay
    statuses = [receipt.status for receipt in result.receipts]
    assert statuses == [Status.WRONG_CHAIN, Status.OK, Status.ALREADY_COMMITTED]
    assert [receipt.gas_used for receipt in result.receipts] == [0, NATIVE_GAS, 0]
    assert chain.balance(FEES) == NATIVE_GAS * PRICE  # one fee, for the one executed tx


def test_a_contract_call_pays_gas_used_and_gets_the_rest_back_even_when_it_reverts() -> None:
    chain = Chain(_genesis())
    contract = _deploy(chain, ALICE)
    fees_before, alice_before = chain.balance(FEES), chain.balance(ALICE)
    ok = _contract_tx(ALICE, contract, "bump", encode_args({"fail": False}), 1, 100_000)
    reverted = _contract_tx(ALICE, contract, "bump", encode_args({"fail": True}), 2, 100_000)
    out_of_gas = _contract_tx(ALICE, contract, "spin", encode_args({"n": 10**6}), 3, 5_000)
    receipts = chain.run([ok, reverted, out_of_gas]).receipts
    assert [receipt.status for receipt in receipts] == [
        Status.OK, Status.REVERT, Status.OUT_OF_GAS]
    assert receipts[2].gas_used == 5_000
    assert all(0 < receipt.gas_used < 100_000 for receipt in receipts[:2])
    paid = sum(receipt.gas_used for receipt in receipts) * PRICE
    assert chain.balance(ALICE) == alice_before - paid
    assert chain.balance(FEES) == fees_before + paid


def test_fees_of_a_shard_without_the_fee_account_go_to_its_fee_pool() -> None:
    chain = Chain(_genesis(fee_account=FEES.public_key), shard=1)
    chain.run([_transfer(CAROL, FEES_1, 5)])
    assert pool_of(chain) == NATIVE_GAS * PRICE
    assert chain.get(fee_pool_key) == (NATIVE_GAS * PRICE).to_bytes(1, "big")
    no_account = Chain(_genesis(fee_account=b""))
    no_account.run([_transfer(ALICE, BOB, 5)])
    assert pool_of(no_account) == NATIVE_GAS * PRICE


def test_a_zero_gas_price_charges_nothing() -> None:
    chain = Chain(_genesis(price=0))
    result = chain.run([_transfer(ALICE, BOB, 5)])
    assert result.receipts[0].gas_used == NATIVE_GAS
    assert chain.balance(ALICE) == 1_000_000_000 - 5
    assert chain.get(fee_pool_key) is None and chain.balance(FEES) == 0


def test_value_is_conserved_over_random_blocks_in_both_shards() -> None:
    """balances + fee pools = genesis balances + minted, whatever the txs do."""
    rng = random.Random(7)
    genesis = _genesis()
    chains = [Chain(genesis, 0), Chain(genesis, 1)]
    minted = 0
    accounts = [ALICE, BOB, FEES, ISSUER, CAROL, FEES_1]
    contract = _deploy(chains[0], ALICE)
    nonce = 100
    for _ in range(30):
        txs: list[Transaction] = []
        for _ in range(rng.randrange(1, 8)):
            nonce += 1
            sender = rng.choice(accounts)
            kind = rng.randrange(4)
            if kind == 0:
                txs.append(_transfer(sender, rng.choice(accounts), rng.randrange(1, 10**8),
                                     nonce))
            elif kind == 1:
                txs.append(make_tx(ISSUER, nonce=nonce, method="mint",
                                   args=(rng.choice(accounts).public_key, 1000)))
            else:
                fail = rng.random() < 0.5
                txs.append(_contract_tx(sender, contract, "bump",
                                        encode_args({"fail": fail}), nonce,
                                        rng.choice([0, 2_000, 50_000])))
        for chain in chains:
            shard_txs = [tx for tx in txs if _home(tx) == chain.shard]
            result = chain.run(shard_txs)
            minted += 1000 * sum(1 for tx, receipt in zip(shard_txs, result.receipts)
                                 if tx.method == "mint" and receipt.is_ok)
    genesis_total = sum(item.amount for item in genesis.balances)
    assert sum(chain.total() for chain in chains) == genesis_total + minted
    assert pool_of(chains[1]) > 0 and chains[0].balance(FEES) > 0


def _home(tx: Transaction) -> int:
    from ledger.sharding import home_shard

    return home_shard(tx, SHARDS)


def test_the_same_block_gives_the_same_receipts_and_writes_on_every_run() -> None:
    txs = [_transfer(ALICE, BOB, 7), _transfer(BOB, ALICE, 10**6, nonce=1),
           _transfer(BOB, ALICE, 1, nonce=2)]
    first, second = Chain(_genesis()), Chain(_genesis())
    one, two = first.run(txs), second.run(txs)
    assert one.receipt_bytes == two.receipt_bytes
    assert one.state_writes == two.state_writes


def test_an_exception_out_of_a_handler_is_an_execution_fault_naming_the_tx() -> None:
    chain = Chain(_genesis())
    from ledger.types import ContractKind

    def broken(tx, context, state):  # type: ignore[no-untyped-def]
        raise RecursionError("interpreter stack exhausted")

    handlers = dict(chain.executor.handlers)
    handlers[ContractKind.NATIVE] = broken
    chain.executor = dataclasses.replace(chain.executor, handlers=handlers)
    first = _transfer(ALICE, BOB, 2, nonce=5)
    try:
        chain.run([first, _transfer(ALICE, BOB, 1)])
    except ExecutionFault as fault:
        assert (fault.height, fault.position, fault.tx_hash) == (1, 0, first.hash())
        assert isinstance(fault.cause, RecursionError)
    else:
        raise AssertionError("the fault was not raised")
