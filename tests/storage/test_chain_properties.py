"""Hypothesis: random chains finalize, reopen and read back exactly, and both backends
store byte-identical key/value sets."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.chain import ChainStore, TxLocation
from storage.leveldb import LevelDBStore
from storage.memory import MemoryStore
from storage.state_root import EMPTY_STATE_ROOT, StateWrite, next_state_root

CHAIN_ID = "agora-properties"
SHARDS = (0, 1, 5)

state_keys = st.binary(min_size=0, max_size=3)
write_sets = st.dictionaries(state_keys, st.none() | st.binary(max_size=6), max_size=6)


@dataclass(frozen=True, slots=True)
class GeneratedBlock:
    shard: int
    tx_count: int
    receipt_mask: tuple[bool, ...]
    writes: tuple[StateWrite, ...]


blocks = st.builds(
    lambda shard, tx_count, mask, writes: GeneratedBlock(
        shard, tx_count, tuple(mask[:tx_count]), tuple(writes.items())
    ),
    st.sampled_from(SHARDS),
    st.integers(0, 5),
    st.lists(st.booleans(), min_size=5, max_size=5),
    write_sets,
)


def _apply(store: ChainStore, generated: list[GeneratedBlock]) -> dict[tuple[int, int], list]:
    """Finalize the generated blocks in order; return what each (shard, height) holds."""
    written: dict[tuple[int, int], list] = {}
    for index, block in enumerate(generated):
        height = store.last_height(block.shard) + 1
        tag = b"%d/%d/%d" % (index, block.shard, height)
        txs = [(hashlib.sha256(tag + b"/tx%d" % i).digest(), i) for i in range(block.tx_count)]
        kept = zip(txs, block.receipt_mask, strict=True)
        receipts = [(tx, b"r/" + tag) for (tx, _), keep in kept if keep]
        root = next_state_root(store.state_root(block.shard), height, block.writes)
        block_hash = hashlib.sha256(tag).digest()
        store.finalize_block(
            block.shard,
            height,
            block_hash,
            b"b/" + tag,
            b"c/" + tag,
            txs,
            receipts,
            block.writes,
            root,
        )
        written[(block.shard, height)] = [block_hash, tag, txs, receipts]
    return written


def _check(store: ChainStore, generated: list[GeneratedBlock], written: dict) -> None:
    for (shard, height), (block_hash, tag, txs, receipts) in written.items():
        stored = store.get_block(shard, height)
        assert stored is not None
        assert (stored.block_hash, stored.block_bytes, stored.certificate_bytes) == (
            block_hash,
            b"b/" + tag,
            b"c/" + tag,
        )
        assert list(stored.txs) == txs
        for tx_hash, position in txs:
            assert store.get_tx_location(tx_hash) == TxLocation(shard, height, position)
        for tx_hash, receipt in receipts:
            assert store.get_receipt(tx_hash) == receipt
    for shard in SHARDS:
        state: dict[bytes, bytes] = {}
        root = EMPTY_STATE_ROOT
        height = 0
        for block in (b for b in generated if b.shard == shard):
            for key, value in block.writes:
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = value
            root = next_state_root(root, height, block.writes)
            height += 1
        assert list(store.scan_state(shard)) == sorted(state.items())
        assert store.state_root(shard) == root
        assert store.last_height(shard) == height - 1
    store.check_invariants()


@settings(max_examples=40, deadline=None)
@given(generated=st.lists(blocks, max_size=12))
def test_finalize_then_reopen_round_trips_and_backends_agree(
    generated: list[GeneratedBlock],
) -> None:
    directory = tempfile.mkdtemp(prefix="agora-chain-")
    try:
        with ChainStore.open(directory, CHAIN_ID) as store:
            written = _apply(store, generated)
            _check(store, generated, written)
        memory = MemoryStore()
        _apply(ChainStore(memory, CHAIN_ID), generated)
        with ChainStore.open(directory, CHAIN_ID) as store:
            _check(store, generated, written)
        with LevelDBStore(directory) as leveldb:
            assert list(leveldb.iterate_prefix(b"")) == list(memory.iterate_prefix(b""))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
