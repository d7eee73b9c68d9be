"""Mempool admission, bounds, fairness and bookkeeping."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.errors import ClientError
from node.config import MempoolSection
from node.mempool import Mempool, MempoolFull, RejectReason, TxRejected
from ledger.sharding import home_shard, shard_of_account
from tests.node.txs import CHAIN_ID, make_tx, signer


def _pool(shard_count: int = 1, **limits: int) -> Mempool:
    config = dataclasses.replace(MempoolSection(), **limits)
    return Mempool(CHAIN_ID, shard_count, config)


def _reason(pool: Mempool, tx_or_bytes: object) -> RejectReason:
    with pytest.raises(TxRejected) as caught:
        if isinstance(tx_or_bytes, bytes):
            pool.add_bytes(tx_or_bytes)
        else:
            pool.add(tx_or_bytes)  # type: ignore[arg-type]
    assert isinstance(caught.value, ClientError)
    return caught.value.reason


def test_admits_a_valid_tx_and_marks_it_verified() -> None:
    pool = _pool()
    tx = make_tx(signer(1))
    assert pool.add_bytes(tx.encoded()) == tx
    assert pool.is_verified(tx.hash())
    assert len(pool) == 1
    pool.check_invariants()


def test_rejections_carry_a_reason_and_are_counted() -> None:
    pool = _pool(tx_bytes_max=600, validity_window_blocks=100)
    good = make_tx(signer(1))
    pool.add(good)
    forged = dataclasses.replace(make_tx(signer(2)), signature=b"\x01" * 64)
    cases = [
        (good, RejectReason.DUPLICATE),
        (forged, RejectReason.BAD_SIGNATURE),
        (make_tx(signer(1), chain_id="other"), RejectReason.WRONG_CHAIN),
        (make_tx(signer(1), expiry_height=0), RejectReason.EXPIRED),
        (make_tx(signer(1), expiry_height=101), RejectReason.EXPIRY_TOO_FAR),
        (make_tx(signer(1), args=(b"x" * 700,)), RejectReason.OVERSIZE),
        (b"\x93\x01\x02", RejectReason.MALFORMED),
        (b"\x00" * 601, RejectReason.OVERSIZE),
    ]
    for item, reason in cases:
        assert _reason(pool, item) == reason
    assert pool.rejections[RejectReason.DUPLICATE] == 1
    assert pool.rejections[RejectReason.OVERSIZE] == 2
    assert len(pool) == 1
    pool.check_invariants()


def test_expiry_window_is_measured_from_the_shard_height() -> None:
    pool = _pool(validity_window_blocks=10)
    pool.set_shard_height(0, 20)
    assert _reason(pool, make_tx(signer(1), expiry_height=20)) == RejectReason.EXPIRED
    assert _reason(pool, make_tx(signer(1), expiry_height=31)) == RejectReason.EXPIRY_TOO_FAR
    pool.add(make_tx(signer(1), expiry_height=21))
    pool.add(make_tx(signer(1), expiry_height=30))


def test_committed_hashes_are_rejected() -> None:
    committed = make_tx(signer(1))
    pool = Mempool(CHAIN_ID, 1, MempoolSection(),
                   is_committed=lambda tx: tx.hash() == committed.hash())
    assert _reason(pool, committed) == RejectReason.ALREADY_COMMITTED


def test_full_pool_says_so_and_checks_no_signature() -> None:
    pool = _pool(capacity_txs=2, shard_capacity_txs=2, sender_capacity_txs=2)
    pool.add(make_tx(signer(1), nonce=1))
    pool.add(make_tx(signer(2), nonce=1))
    forged = dataclasses.replace(make_tx(signer(3)), signature=b"\x01" * 64)
    with pytest.raises(MempoolFull, match="maximum of 2 txs"):
        pool.add(forged)  # capacity is checked before the (costly) signature
    assert pool.rejections[RejectReason.MEMPOOL_FULL] == 1


def test_one_sender_cannot_fill_the_pool() -> None:
    pool = _pool(sender_capacity_txs=3)
    for nonce in range(3):
        pool.add(make_tx(signer(1), nonce=nonce))
    with pytest.raises(MempoolFull, match="sender"):
        pool.add(make_tx(signer(1), nonce=3))
    pool.add(make_tx(signer(2)))


def test_byte_capacity_bounds_the_pool() -> None:
    size = len(make_tx(signer(1)).encoded())
    pool = _pool(capacity_bytes=2 * size + 10, tx_bytes_max=size + 10)
    pool.add(make_tx(signer(1), nonce=1))
    pool.add(make_tx(signer(1), nonce=2))
    with pytest.raises(MempoolFull, match="bytes"):
        pool.add(make_tx(signer(1), nonce=3))


def test_take_batch_is_round_robin_across_senders() -> None:
    pool = _pool()
    flood = [make_tx(signer(1), nonce=nonce) for nonce in range(5)]
    for tx in flood:
        pool.add(tx)
    others = [make_tx(signer(2)), make_tx(signer(3))]
    for tx in others:
        pool.add(tx)
    batch = pool.take_batch(0, 4, 1 << 20)
    assert batch == [flood[0], others[0], others[1], flood[1]]
    assert pool.take_batch(0, 10, 1 << 20) == flood[2:]
    assert all(pool.is_verified(tx.hash()) for tx in flood)  # in flight, still verified
    assert pool.take_batch(0, 10, 1 << 20) == []
    pool.check_invariants()


def test_take_batch_respects_the_byte_bound_and_keeps_order() -> None:
    pool = _pool()
    small = make_tx(signer(1))
    big = make_tx(signer(2), args=(b"x" * 1000,))
    pool.add(big)
    pool.add(small)
    assert pool.take_batch(0, 10, len(small.encoded()) + 10) == [small]
    assert pool.take_batch(0, 10, 1 << 20) == [big]
    pool.check_invariants()


def test_remove_committed_and_release() -> None:
    pool = _pool()
    txs = [make_tx(signer(1), nonce=nonce) for nonce in range(3)]
    for tx in txs:
        pool.add(tx)
    batch = pool.take_batch(0, 2, 1 << 20)
    pool.release([tx.hash() for tx in batch])
    pool.check_invariants()
    assert pool.take_batch(0, 3, 1 << 20) == txs  # released txs are first again
    assert pool.remove_committed([txs[0].hash(), b"\x00" * 32]) == 1
    assert not pool.is_verified(txs[0].hash())
    pool.release([tx.hash() for tx in txs])
    assert pool.take_batch(0, 3, 1 << 20) == txs[1:]
    pool.check_invariants()


def test_height_update_evicts_expired_txs() -> None:
    pool = _pool()
    short, long = make_tx(signer(1), expiry_height=5), make_tx(signer(2), expiry_height=50)
    pool.add(short)
    pool.add(long)
    assert pool.set_shard_height(0, 5) == 1
    assert short.hash() not in pool and long.hash() in pool
    pool.check_invariants()


def test_txs_are_queued_in_their_home_shard() -> None:
    pool = _pool(shard_count=4)
    txs = [make_tx(signer(index)) for index in range(1, 13)]
    for tx in txs:
        pool.add(tx)
    for shard in range(4):
        expected = {tx.hash() for tx in txs if home_shard(tx, 4) == shard}
        taken = {tx.hash() for tx in pool.take_batch(shard, 100, 1 << 20)}
        assert taken == expected
    info = pool.info()
    assert info.size_txs == 12 and info.in_flight_txs == 12


def test_txs_of_shards_not_hosted_are_refused() -> None:
    tx = make_tx(signer(1))
    pool = Mempool(CHAIN_ID, 4, MempoolSection(),
                   hosted_shards=[shard for shard in range(4) if shard != home_shard(tx, 4)])
    assert _reason(pool, tx) == RejectReason.WRONG_SHARD


@pytest.mark.parametrize("seed", range(8))
def test_random_operations_keep_the_invariants(seed: int) -> None:
    import random

    rng = random.Random(seed)
    pool = _pool(shard_count=3, capacity_txs=30, shard_capacity_txs=15, sender_capacity_txs=6,
                 validity_window_blocks=20)
    senders = [signer(index) for index in range(1, 7)]
    taken: list[bytes] = []
    heights = [0, 0, 0]
    for step in range(300):
        action = rng.random()
        if action < 0.5:
            sender = rng.choice(senders)
            shard = shard_of_account(sender.public_key, 3)
            expiry = heights[shard] + rng.randint(0, 22)
            try:
                pool.add(make_tx(sender, nonce=step, expiry_height=expiry))
            except TxRejected:
                pass  # full, expired or too far: the invariants below still hold
        elif action < 0.7:
            shard = rng.randrange(3)
            taken += [tx.hash() for tx in pool.take_batch(shard, rng.randint(1, 5), 1 << 20)]
        elif action < 0.8 and taken:
            rng.shuffle(taken)
            pool.release(taken[: len(taken) // 2])
            del taken[: len(taken) // 2]
        elif action < 0.9 and taken:
            pool.remove_committed(taken[:3])
            del taken[:3]
        else:
            shard = rng.randrange(3)
            heights[shard] += rng.randint(0, 3)
            pool.set_shard_height(shard, heights[shard])
        pool.check_invariants()


def test_expiry_heap_stays_proportional_to_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from node import mempool as mempool_module

    monkeypatch.setattr(mempool_module, "expiry_heap_slack_entries", 4)
    pool = _pool()
    for nonce in range(40):
        tx = make_tx(signer(1), nonce=nonce)
        pool.add(tx)
        pool.remove_committed([tx.hash()])
    assert len(pool._expiry_heaps[0]) <= 4 + 1
    pool.check_invariants()
