"""Per-height execution roots: what a restarted replica needs to build and check headers."""

from __future__ import annotations

from storage.chain import ChainStore
from storage.memory import MemoryStore
from storage.state_root import EMPTY_STATE_ROOT, next_state_root
from tests.storage.blocks import make_block


def test_roots_of_each_finalized_height_are_kept_and_nothing_above_the_marker() -> None:
    store = ChainStore(MemoryStore(), "roots-chain")
    root = EMPTY_STATE_ROOT
    expected = {}
    for height in range(0, 4):
        block = make_block(0, height)
        root = next_state_root(root, height, block.state_writes)
        receipts_root = bytes([height]) * 32
        store.finalize_block(0, height, block.block_hash, block.block_bytes,
                             block.certificate_bytes, block.txs, block.receipts,
                             block.state_writes, root, receipts_root=receipts_root)
        expected[height] = (root, receipts_root)
    for height, roots in expected.items():
        assert store.get_roots(0, height) == roots
    assert store.get_roots(0, 4) is None
    assert store.get_roots(1, 0) is None
