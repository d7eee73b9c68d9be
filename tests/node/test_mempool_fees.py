"""Mempool admission by fee and gas limit, and batches cut within the block gas limit."""

from __future__ import annotations

import pytest

from ledger.fees import FeeParams
from ledger.sharding import shard_of_account
from node.config import MempoolSection
from node.mempool import Mempool, RejectReason, TxRejected
from tests.node.txs import CHAIN_ID, make_tx, signer
from vm.gas import gas_limit_tx_max

FEES = FeeParams(gas_price=2, native_tx_gas=100, block_gas_limit=1_000_000)


def _pool(balances: dict[bytes, int], shard_count: int = 1,
          fees: FeeParams = FEES) -> Mempool:
    return Mempool(CHAIN_ID, shard_count, MempoolSection(), fees=fees,
                   balance_of=lambda shard, address: balances.get(address, 0))


def _rejected(pool: Mempool, tx: object) -> TxRejected:
    with pytest.raises(TxRejected) as caught:
        pool.add(tx)  # type: ignore[arg-type]
    return caught.value


def test_a_sender_that_cannot_cover_the_maximum_fee_is_refused_with_a_clear_error() -> None:
    poor = signer(1)
    pool = _pool({poor.public_key: 199})
    error = _rejected(pool, make_tx(poor))
    assert error.reason is RejectReason.INSUFFICIENT_FEE
    assert "balance 199 in shard 0 cannot cover the maximum fee 200" in error.message
    assert pool.info().rejections == (("INSUFFICIENT_FEE", 1),)
    assert len(pool) == 0


def test_pending_txs_reserve_their_fees() -> None:
    sender = signer(1)
    pool = _pool({sender.public_key: 400})
    pool.add(make_tx(sender, nonce=1))
    pool.add(make_tx(sender, nonce=2))
    error = _rejected(pool, make_tx(sender, nonce=3))
    assert "plus 400 reserved by its 2 pending txs" in error.message
    taken = pool.take_batch(0, 10, 10**6)
    pool.remove_committed([tx.hash() for tx in taken[:1]])
    pool.add(make_tx(sender, nonce=3))  # a committed tx no longer reserves anything
    pool.check_invariants()


def test_a_contract_call_pays_in_the_contracts_shard_and_the_error_says_so() -> None:
    shards = 2
    sender = next(signer(index) for index in range(1, 100)
                  if shard_of_account(signer(index).public_key, shards) == 1)
    contract = next(bytes([index]) * 32 for index in range(256)
                    if shard_of_account(bytes([index]) * 32, shards) == 0)
    pool = _pool({}, shard_count=shards)
    error = _rejected(pool, make_tx(sender, contract=contract, method="go", gas_limit=1000))
    assert error.reason is RejectReason.INSUFFICIENT_FEE
    assert "lives in shard 1" in error.message and "contract's shard (0)" in error.message


def test_a_gas_limit_above_the_vm_maximum_is_refused() -> None:
    sender = signer(1)
    pool = _pool({sender.public_key: 10**18})
    tx = make_tx(sender, contract=b"\x01" * 32, method="go", gas_limit=gas_limit_tx_max + 1)
    assert _rejected(pool, tx).reason is RejectReason.GAS_LIMIT_TOO_HIGH


def test_a_zero_price_admits_a_sender_with_nothing() -> None:
    pool = _pool({}, fees=FeeParams(gas_price=0, native_tx_gas=100))
    pool.add(make_tx(signer(1)))
    assert len(pool) == 1


def test_a_batch_stays_within_the_block_gas_limit_and_the_rest_waits() -> None:
    senders = [signer(index) for index in range(1, 6)]
    pool = _pool({sender.public_key: 10**18 for sender in senders})
    for sender in senders:
        pool.add(make_tx(sender, contract=b"\x01" * 32, method="go", gas_limit=300_000))
    first = pool.take_batch(0, 100, 10**6, max_gas=1_000_000)
    assert len(first) == 3
    assert sum(tx.gas_limit for tx in first) <= 1_000_000
    second = pool.take_batch(0, 100, 10**6, max_gas=1_000_000)
    assert len(second) == 2
    pool.check_invariants()
