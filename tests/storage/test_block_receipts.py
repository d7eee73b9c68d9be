"""ChainStore.get_block_receipts: a finalized block's receipts in one read (explorer history)."""

from __future__ import annotations

from storage.chain import ChainStore
from storage.kv import KVStore
from tests.storage.blocks import finalize_next

CHAIN_ID = "agora-test"


def test_block_receipts_come_back_in_position_order_and_only_for_finalized_heights(
        kv: KVStore) -> None:
    store = ChainStore(kv, CHAIN_ID)
    blocks = [finalize_next(store, shard=1) for _ in range(3)]
    for block in blocks:
        expected = [(position, receipt) for (_, position), (_, receipt)
                    in zip(block.txs, block.receipts)]
        assert store.get_block_receipts(1, block.height) == expected
        assert [store.get_receipt(tx_hash) for tx_hash, _ in block.txs] == \
            [receipt for _, receipt in expected]
    assert store.get_block_receipts(1, blocks[-1].height + 1) == []  # not finalized yet
    assert store.get_block_receipts(0, 1) == []  # another shard, nothing finalized
