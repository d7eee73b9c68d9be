"""AsyncChainStore runs synced writes in threads without blocking the trio loop."""

from __future__ import annotations

from pathlib import Path

import trio

from storage.aio import AsyncChainStore
from storage.chain import ChainStore
from storage.state_root import next_state_root
from tests.storage.blocks import assert_chain_matches_replay, make_block


async def test_async_writes_land_and_shards_finalize_concurrently(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", "agora-aio")
    async_store = AsyncChainStore(store, trio.CapacityLimiter(2))

    async def finalize_shard(shard: int) -> None:
        for height in range(5):
            block = make_block(shard, height)
            await async_store.append_records(shard, [b"vote/%d" % height])
            root = next_state_root(store.state_root(shard), height, block.state_writes)
            await async_store.finalize_block(
                shard,
                height,
                block.block_hash,
                block.block_bytes,
                block.certificate_bytes,
                block.txs,
                block.receipts,
                block.state_writes,
                root,
            )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(finalize_shard, 0)
        nursery.start_soon(finalize_shard, 1)
    await async_store.put_stable_checkpoint(0, b"cp", prune_records_before=3)
    await async_store.prune_records(1, 1)
    assert store.load_records(0) == [b"vote/3", b"vote/4"]
    assert store.load_records(1) == [b"vote/%d" % h for h in range(1, 5)]
    for shard in (0, 1):
        assert_chain_matches_replay(store, shard)
    stored = await async_store.get_block(1, 4)
    assert stored is not None and stored.block_hash == make_block(1, 4).block_hash
    store.close()
