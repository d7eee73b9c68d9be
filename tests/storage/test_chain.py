"""ChainStore behaviour over both KV backends: finalize, reads, records, meta, reconcile."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.chain import (
    GENESIS_HEIGHT,
    SCHEMA_VERSION,
    BlockLocation,
    ChainStore,
    FinalizedHeight,
    TxLocation,
    _block_key,
    _receipts_key,
    _finalize_operations,
    _pack,
    _seal,
)
from storage.errors import StorageCorrupt, StorageIncompatible
from storage.kv import BatchOperation, KVStore
from storage.memory import MemoryStore
from storage.state_root import EMPTY_STATE_ROOT, next_state_root
from tests.storage.blocks import (
    assert_chain_matches_replay,
    finalize,
    finalize_next,
    make_block,
    sha256,
)

CHAIN_ID = "agora-test"


def test_finalized_blocks_are_readable_by_height_hash_and_tx(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    blocks = [finalize_next(store, shard=0) for _ in range(3)]
    block = blocks[1]
    stored = store.get_block(0, 1)
    assert stored is not None and stored.block_bytes == block.block_bytes
    assert store.get_block_location(block.block_hash) == BlockLocation(0, 1)
    assert store.get_block_by_hash(block.block_hash) == stored
    tx_hash, position = block.txs[2]
    assert store.get_tx_location(tx_hash) == TxLocation(0, 1, position)
    assert store.get_receipt(tx_hash) == block.receipts[2][1]
    assert store.get_receipt(sha256(b"unknown")) is None
    assert_chain_matches_replay(store, 0)


def test_shards_are_independent_prefixes(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    for _ in range(3):
        finalize_next(store, shard=0)
    finalize_next(store, shard=7)
    assert store.shards() == [0, 7]
    assert (store.last_height(0), store.last_height(7), store.last_height(1)) == (2, 0, -1)
    assert_chain_matches_replay(store, 0)
    assert_chain_matches_replay(store, 7)
    assert list(store.scan_state(1)) == []


def test_state_get_and_prefix_scan(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    writes = [(b"acct/a", b"1"), (b"acct/b", b"2"), (b"nft/x", b"3")]
    root = next_state_root(EMPTY_STATE_ROOT, 0, writes)
    store.finalize_block(0, 0, sha256(b"g"), b"g", b"", [], [], writes, root)
    assert store.get_state(0, b"acct/b") == b"2"
    assert store.get_state(1, b"acct/b") is None
    assert list(store.scan_state(0, b"acct/")) == writes[:2]
    writes_1 = [(b"acct/a", None), (b"acct/c", b"4")]
    root_1 = next_state_root(root, 1, writes_1)
    store.finalize_block(0, 1, sha256(b"1"), b"1", b"c", [], [], writes_1, root_1)
    assert list(store.scan_state(0, b"acct/")) == [(b"acct/b", b"2"), (b"acct/c", b"4")]
    marker = store.finalized(0)
    assert marker is not None and marker.state_root == root_1


def test_finalize_refuses_a_height_gap(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    finalize_next(store, shard=0)
    with pytest.raises(AssertionError, match="last finalized height is 0"):
        finalize(store, make_block(0, 2))
    with pytest.raises(AssertionError, match="last finalized height is 0"):
        finalize(store, make_block(0, 0))


def test_finalize_refuses_a_state_root_that_does_not_follow_the_rule(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    block = make_block(0, GENESIS_HEIGHT)
    with pytest.raises(AssertionError, match="state root"):
        store.finalize_block(
            0,
            0,
            block.block_hash,
            block.block_bytes,
            b"",
            block.txs,
            [],
            block.state_writes,
            EMPTY_STATE_ROOT,
        )
    assert store.last_height(0) == -1
    assert kv.get(_block_key(0, 0)) is None


def test_finalize_refuses_a_receipt_for_a_tx_not_in_the_block(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    root = next_state_root(EMPTY_STATE_ROOT, 0, [])
    with pytest.raises(AssertionError, match="receipt names a tx"):
        store.finalize_block(0, 0, sha256(b"g"), b"g", b"", [], [(sha256(b"t"), b"r")], [], root)


def test_records_append_load_prune_and_sequences_only_grow(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", CHAIN_ID)
    assert store.append_records(0, [b"r0", b"r1", b"r2"]) == range(0, 3)
    assert store.append_records(1, [b"other"]) == range(0, 1)
    assert store.append_records(0, []) == range(3, 3)
    store.prune_records(0, 2)
    assert store.load_record_entries(0) == [(2, b"r2")]
    store.prune_records(0, 3)
    assert store.load_records(0) == []
    store.close()
    store = ChainStore.open(tmp_path / "db", CHAIN_ID)
    assert store.next_record_sequence(0) == 3
    assert store.append_records(0, [b"r3"]) == range(3, 4)
    assert store.load_records(0) == [b"r3"]
    assert store.load_records(1) == [b"other"]
    store.check_invariants()
    store.close()


def test_prune_refuses_to_keep_from_a_future_sequence(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    store.append_records(0, [b"r0"])
    with pytest.raises(AssertionError, match="cannot keep records from 5"):
        store.prune_records(0, 5)


def test_stable_checkpoint_replaces_and_prunes_atomically(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    assert store.get_stable_checkpoint(0) is None
    store.append_records(0, [b"r0", b"r1", b"r2"])
    store.put_stable_checkpoint(0, b"cp-1")
    store.put_stable_checkpoint(0, b"cp-2", prune_records_before=2)
    assert store.get_stable_checkpoint(0) == b"cp-2"
    assert store.load_records(0) == [b"r2"]


def test_snapshot_is_a_consistent_view_of_blocks_state_and_markers(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    finalize_next(store, shard=0)
    with store.snapshot() as snapshot:
        state_before = dict(snapshot.scan_state(0))
        later = finalize_next(store, shard=0)
        assert snapshot.last_height(0) == 0
        assert snapshot.get_block(0, 1) is None
        assert snapshot.get_tx_location(later.txs[0][0]) is None
        assert dict(snapshot.scan_state(0)) == state_before
    assert store.get_block(0, 1) is not None


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    with ChainStore.open(tmp_path / "db", CHAIN_ID) as store:
        for _ in range(4):
            finalize_next(store, shard=0)
            finalize_next(store, shard=1)
    with ChainStore.open(tmp_path / "db", CHAIN_ID) as store:
        assert store.last_height(0) == store.last_height(1) == 3
        assert_chain_matches_replay(store, 0)
        assert_chain_matches_replay(store, 1)
        finalize_next(store, shard=0)
        assert_chain_matches_replay(store, 0)


def test_open_refuses_another_chain_id(tmp_path: Path) -> None:
    ChainStore.open(tmp_path / "db", CHAIN_ID).close()
    with pytest.raises(StorageIncompatible, match="belongs to chain 'agora-test'.*runs chain 'x'"):
        ChainStore.open(tmp_path / "db", "x")
    ChainStore.open(tmp_path / "db", CHAIN_ID).close()  # the failed open released the dir


def test_open_refuses_another_schema_version() -> None:
    kv = MemoryStore()
    kv.write_batch([(b"m", _seal(b"m", _pack([SCHEMA_VERSION + 1, CHAIN_ID])))], sync=True)
    with pytest.raises(StorageIncompatible, match=f"schema version {SCHEMA_VERSION + 1}"):
        ChainStore(kv, CHAIN_ID)


def test_open_refuses_data_without_meta() -> None:
    kv = MemoryStore()
    kv.write_batch([(b"x", b"y")], sync=True)
    with pytest.raises(StorageCorrupt, match="no meta key"):
        ChainStore(kv, CHAIN_ID)


def _unfinalized_block_operations(shard: int, height: int) -> list[BatchOperation]:
    """What a writer that stores a block before finalizing it would leave: no state, no
    marker."""
    block = make_block(shard, height)
    marker = FinalizedHeight(height, block.block_hash, EMPTY_STATE_ROOT)
    operations = _finalize_operations(
        shard,
        marker,
        block.block_bytes,
        block.certificate_bytes,
        block.txs,
        block.receipts,
        block.state_writes,
    )
    return [(key, value) for key, value in operations if key[:1] not in (b"f", b"s")]


def test_open_removes_blocks_above_the_marker_with_their_indexes() -> None:
    kv = MemoryStore()
    store = ChainStore(kv, CHAIN_ID)
    for _ in range(3):
        finalize_next(store, shard=0)
    kv.write_batch(_unfinalized_block_operations(0, 3), sync=True)
    kv.write_batch(_unfinalized_block_operations(0, 4), sync=True)
    stale = make_block(0, 3)
    assert store.get_block_by_hash(stale.block_hash) is None  # gated before reconcile too
    assert store.get_receipt(stale.txs[0][0]) is None
    store = ChainStore(kv, CHAIN_ID)
    assert store.last_height(0) == 2
    assert kv.get(_block_key(0, 3)) is None and kv.get(_block_key(0, 4)) is None
    assert kv.get(b"h" + stale.block_hash) is None
    assert kv.get(b"t" + stale.txs[0][0]) is None
    assert kv.get(_receipts_key(0, 3)) is None and kv.get(_receipts_key(0, 4)) is None
    assert_chain_matches_replay(store, 0)
    finalize_next(store, shard=0)
    assert_chain_matches_replay(store, 0)


def test_blocks_without_any_marker_are_removed_on_open() -> None:
    kv = MemoryStore()
    store = ChainStore(kv, CHAIN_ID)
    finalize_next(store, shard=3)
    kv.write_batch([(b"f" + (3).to_bytes(4, "big"), None)], sync=True)
    store = ChainStore(kv, CHAIN_ID)
    assert store.shards() == []
    assert list(kv.iterate_prefix(b"b")) == []
    assert list(kv.iterate_prefix(b"t")) == []


def test_a_closed_memory_store_reopens_like_a_restarted_node() -> None:
    kv = MemoryStore()
    store = ChainStore(kv, CHAIN_ID)
    finalize_next(store, shard=0)
    store.append_records(0, [b"vote"])
    store.close()
    kv.reopen()
    store = ChainStore(kv, CHAIN_ID)
    assert store.load_records(0) == [b"vote"]
    assert_chain_matches_replay(store, 0)


def test_iterate_blocks_serves_a_height_range_for_catch_up(kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    for _ in range(4):
        finalize_next(store, shard=0)
    finalize_next(store, shard=1)
    assert [b.height for b in store.iterate_blocks(0)] == [0, 1, 2, 3]
    assert [b.height for b in store.iterate_blocks(0, start_height=2)] == [2, 3]
    assert list(store.iterate_blocks(0, start_height=4)) == []
    assert [b.block_hash for b in store.iterate_blocks(1)] == [make_block(1, 0).block_hash]


def test_iterate_blocks_refuses_a_gap_below_the_marker() -> None:
    kv = MemoryStore()
    store = ChainStore(kv, CHAIN_ID)
    for _ in range(4):
        finalize_next(store, shard=0)
    kv.write_batch([(_block_key(0, 1), None)], sync=True)
    with pytest.raises(StorageCorrupt, match="shard 0 height 1: block missing"):
        list(store.iterate_blocks(0))
    with pytest.raises(StorageCorrupt, match="shard 0 height 1: block missing"):
        store.get_block(0, 1)
