"""Deterministic fake blocks for storage tests: bytes only, no consensus types.

A block is a pure function of (shard, height, tx_count), so a test — or a child process
that gets killed — can regenerate exactly what was written at any height, and replay the
state a shard must hold after any finalized height.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from storage.chain import ChainStore
from storage.state_root import EMPTY_STATE_ROOT, StateWrite, next_state_root

STATE_KEYS_PER_SHARD = 40  # small, so blocks overwrite and delete each other's keys


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, slots=True)
class FakeBlock:
    shard: int
    height: int
    block_hash: bytes
    block_bytes: bytes
    certificate_bytes: bytes
    txs: list[tuple[bytes, int]]
    receipts: list[tuple[bytes, bytes]]
    state_writes: list[StateWrite]


def make_block(shard: int, height: int, tx_count: int = 5) -> FakeBlock:
    rng = random.Random(f"block/{shard}/{height}")
    txs = [(sha256(b"tx/%d/%d/%d" % (shard, height, i)), i) for i in range(tx_count)]
    receipts = [(tx_hash, b"receipt/" + tx_hash[:4] + rng.randbytes(8)) for tx_hash, _ in txs]
    writes: dict[bytes, bytes | None] = {}
    for _ in range(rng.randint(0, 2 * tx_count + 1)):
        key = b"key/%03d" % rng.randrange(STATE_KEYS_PER_SHARD)
        writes[key] = None if rng.random() < 0.2 else rng.randbytes(rng.randint(0, 24))
    block_bytes = b"block/%d/%d/" % (shard, height) + b"".join(t for t, _ in txs)
    return FakeBlock(
        shard=shard,
        height=height,
        block_hash=sha256(block_bytes),
        block_bytes=block_bytes,
        certificate_bytes=b"cert/" + sha256(block_bytes)[:8],
        txs=txs,
        receipts=receipts,
        state_writes=sorted(writes.items()),
    )


def replay(shard: int, last_height: int, tx_count: int = 5) -> tuple[dict[bytes, bytes], bytes]:
    """The state and state root of ``shard`` after heights 0..last_height."""
    state: dict[bytes, bytes] = {}
    root = EMPTY_STATE_ROOT
    for height in range(last_height + 1):
        block = make_block(shard, height, tx_count)
        for key, value in block.state_writes:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        root = next_state_root(root, height, block.state_writes)
    return state, root


def finalize(store: ChainStore, block: FakeBlock) -> None:
    root = next_state_root(store.state_root(block.shard), block.height, block.state_writes)
    store.finalize_block(
        block.shard,
        block.height,
        block.block_hash,
        block.block_bytes,
        block.certificate_bytes,
        block.txs,
        block.receipts,
        block.state_writes,
        root,
    )


def finalize_next(store: ChainStore, shard: int, tx_count: int = 5) -> FakeBlock:
    block = make_block(shard, store.last_height(shard) + 1, tx_count)
    finalize(store, block)
    return block


def assert_chain_matches_replay(store: ChainStore, shard: int, tx_count: int = 5) -> None:
    """Every height up to the marker complete; nothing above; state equals the replay."""
    last = store.last_height(shard)
    for height in range(last + 1):
        expected = make_block(shard, height, tx_count)
        stored = store.get_block(shard, height)
        assert stored is not None
        assert stored.block_bytes == expected.block_bytes
        assert stored.certificate_bytes == expected.certificate_bytes
        assert stored.block_hash == expected.block_hash
        assert list(stored.txs) == expected.txs
        for (tx_hash, position), (_, receipt) in zip(expected.txs, expected.receipts, strict=True):
            location = store.get_tx_location(tx_hash)
            assert location is not None
            assert (location.shard, location.height, location.position) == (
                shard,
                height,
                position,
            )
            assert store.get_receipt(tx_hash) == receipt
    above = make_block(shard, last + 1, tx_count)
    assert store.get_block(shard, last + 1) is None
    assert store.get_block_by_hash(above.block_hash) is None
    assert all(store.get_tx_location(tx_hash) is None for tx_hash, _ in above.txs)
    state, root = replay(shard, last, tx_count)
    assert dict(store.scan_state(shard)) == state
    assert store.state_root(shard) == root
    store.check_invariants()
