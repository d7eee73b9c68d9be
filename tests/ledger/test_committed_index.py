"""The committed-tx index answers the replay check exactly, from memory when it can."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.committed import CommittedTxIndex
from tests.node.txs import make_tx, signer

WINDOW = 10


def _tx(nonce: int, expiry: int):  # type: ignore[no-untyped-def]
    return make_tx(signer(1), nonce=nonce, expiry_height=expiry)


class _Store:
    """The ground truth: every committed hash (at shard 0, height 1 unless told), and how
    often the index asked."""

    def __init__(self) -> None:
        self.committed: _Committed = _Committed()
        self.asked = 0

    def lookup(self, tx_hash: bytes) -> tuple[int, int] | None:
        self.asked += 1
        return self.committed.get(tx_hash)


class _Committed(dict):  # type: ignore[type-arg]
    def add(self, tx_hash: bytes, where: tuple[int, int] = (0, 1)) -> None:
        self[tx_hash] = where

    def update(  # type: ignore[override]
            self, hashes: object, where: tuple[int, int] = (0, 1)) -> None:
        for tx_hash in hashes:  # type: ignore[attr-defined]
            self[tx_hash] = where


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 40), st.integers(1, 30))
def test_the_index_agrees_with_the_store_for_every_tx_the_executor_could_see(
        seed: int, txs_max: int, start: int) -> None:
    """Blocks hold txs whose expiry lies in [height, height + W] (what the executor lets
    commit); every query, fresh or replayed, old or new, gets the store's answer."""
    rng = random.Random(seed)
    store = _Store()
    index = CommittedTxIndex(1, WINDOW, txs_max, [start], store.lookup)
    seen = []
    for height in range(start, start + 40):
        block = [_tx(len(seen) + n, height + rng.randint(0, WINDOW))
                 for n in range(rng.randint(0, 4))]
        seen.extend(block)
        store.committed.update((tx.hash() for tx in block), (0, height))
        index.finalized(0, height, [tx.hash() for tx in block])
        fresh = [_tx(10_000 + rng.randint(0, 10**6), height + rng.randint(1, WINDOW))
                 for _ in range(3)]
        for tx in rng.sample(seen, min(5, len(seen))) + fresh:
            assert index.is_committed(tx) == (tx.hash() in store.committed)


def test_a_fresh_tx_is_answered_from_memory_once_the_window_is_covered() -> None:
    store = _Store()
    index = CommittedTxIndex(1, WINDOW, 1000, [2], store.lookup)  # restarted at height 1
    for height in range(2, 30):
        index.finalized(0, height, [_tx(height, height + 5).hash()])
    assert not index.is_committed(_tx(999, 29 + WINDOW))  # expiry - W = 29 >= low = 2
    assert index.is_committed(_tx(20, 25))  # in the index
    assert store.asked == 0
    assert not index.is_committed(_tx(998, 5))  # expiry - W < low: only the store knows
    assert store.asked == 1 and index.store_lookups == 1


def test_a_node_that_just_started_asks_the_store_until_it_holds_enough_blocks() -> None:
    store = _Store()
    old = _tx(1, 100)
    store.committed.add(old.hash(), (0, 94))  # committed before the restart
    index = CommittedTxIndex(1, WINDOW, 1000, [95], store.lookup)
    assert index.is_committed(old)  # expiry - W = 90 < low = 95
    for height in range(95, 101):
        index.finalized(0, height, [])
    assert index.is_committed(old) and store.asked == 2
    assert not index.is_committed(_tx(2, 105)) and store.asked == 2  # 95 >= 95


def test_eviction_keeps_whole_recent_blocks_and_raises_the_covered_height() -> None:
    store = _Store()
    index = CommittedTxIndex(2, WINDOW, 8, [1, 1], store.lookup)  # 4 hashes per shard
    for height in range(1, 6):
        index.finalized(0, height, [b"%d-%d" % (height, n) + bytes(29) for n in range(2)])
    assert index._low[0] == 4 and len(index._hashes[0]) == 4  # heights 4 and 5
    assert index._low[1] < 0  # the other shard is untouched: still all from genesis
    index.finalized(0, 9, [])  # a gap (not expected): start over from there
    assert index._low[0] == 9 and not index._hashes[0]


def test_a_zero_budget_always_asks_the_store() -> None:
    store = _Store()
    index = CommittedTxIndex(1, WINDOW, 0, [1], store.lookup)
    index.finalized(0, 1, [_tx(1, 5).hash()])
    store.committed.add(_tx(1, 5).hash())
    assert index.is_committed(_tx(1, 5)) and store.asked == 1


def test_an_index_started_at_genesis_never_asks_the_store() -> None:
    """Nothing can be committed below height 1, so even a tx whose validity window
    reaches below the first block is answered from memory."""
    store = _Store()
    index = CommittedTxIndex(1, WINDOW, 1000, [1], store.lookup)
    index.finalized(0, 1, [_tx(1, 5).hash()])
    assert index.is_committed(_tx(1, 5)) and not index.is_committed(_tx(2, 3))
    assert store.asked == 0
