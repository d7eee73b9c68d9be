"""The RPC's cache of recently finalized blocks answers exactly as the store does, and
stays bounded."""

from __future__ import annotations

from types import SimpleNamespace

import trio

from consensus import codec
from consensus.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    Signer,
    tx_root,
)
from node.api import LocalNodeApi
from node.node import FinalizedBlock, RecentBlocks
from node.rpc import block_json, tx_json
from storage.chain import ChainStore
from storage.memory import MemoryStore
from storage.state_root import next_state_root
from tests.node.txs import CHAIN_ID, make_tx

SHARD = 0


def _finalized(height: int, prev_hash: bytes, txs: int) -> FinalizedBlock:
    transactions = tuple(make_tx(Signer(bytes([height, n]) * 16), nonce=n)
                         for n in range(txs))
    header = BlockHeader(CHAIN_ID, SHARD, height, prev_hash, 0, 0, 1_700_000_000_000 + height,
                         tx_root(transactions), 0, b"\x00" * 32, b"\x00" * 32)
    block = Block(header, transactions)
    certificate = CommitCertificate(CHAIN_ID, SHARD, 0, height, block.hash(), tuple(
        CommitSignature(replica, bytes([replica]) * 64) for replica in range(3)))
    return FinalizedBlock(block, certificate, (bytes([height]) * 32, bytes([height + 1]) * 32))


def _store_with(blocks: list[FinalizedBlock]) -> ChainStore:
    store = ChainStore(MemoryStore(), CHAIN_ID)
    store.finalize_block(SHARD, 0, b"\x01" * 32, b"", b"", [], [], [],
                         next_state_root(store.state_root(SHARD), 0, []))
    for item in blocks:
        height = item.block.header.height
        writes = [(b"k%d" % height, b"v")]
        store.finalize_block(
            SHARD, height, item.block.hash(), codec.encode(item.block),
            codec.encode(item.certificate),
            [(tx.hash(), position) for position, tx in enumerate(item.block.txs)], [],
            writes, next_state_root(store.state_root(SHARD), height, writes),
            receipts_root=item.roots[1])
    return store


def _chain(count: int) -> list[FinalizedBlock]:
    blocks, prev = [], b"\x01" * 32
    for height in range(1, count + 1):
        blocks.append(_finalized(height, prev, txs=3))
        prev = blocks[-1].block.hash()
    return blocks


def test_a_block_served_from_memory_is_what_the_store_would_serve() -> None:
    blocks = _chain(3)
    store = _store_with(blocks)
    recent = RecentBlocks(8)
    genesis = SimpleNamespace(shard_count=1)
    cached_node = SimpleNamespace(store=store, genesis=genesis,
                                  shards={SHARD: SimpleNamespace(recent=recent)})
    stored_node = SimpleNamespace(store=store, genesis=genesis,
                                  shards={SHARD: SimpleNamespace(recent=None)})
    cached, stored = LocalNodeApi(cached_node), LocalNodeApi(stored_node)  # type: ignore[arg-type]
    for item in blocks:
        # what the executor loop records once finalize_block returned; the store's roots
        # are the ones written with the block
        height = item.block.header.height
        roots = store.get_roots(SHARD, height)
        assert roots is not None
        recent.add(height, FinalizedBlock(item.block, item.certificate, roots))

    async def compare() -> None:
        for item in blocks:
            height = item.block.header.height
            from_memory = await cached.get_block(SHARD, height)
            from_store = await stored.get_block(SHARD, height)
            assert from_memory is not None and from_store is not None
            assert from_memory.block is item.block  # really from memory
            assert from_store.block is not item.block
            for full in (False, True):
                assert block_json(from_memory, full) == block_json(from_store, full)
            for tx in item.block.txs:
                tx_cached, tx_stored = await cached.get_tx(tx.hash()), await stored.get_tx(
                    tx.hash())
                assert tx_cached is not None and tx_stored is not None
                assert (tx_json(tx_cached.tx), tx_cached.height, tx_cached.position) == (
                    tx_json(tx_stored.tx), tx_stored.height, tx_stored.position)
        assert await cached.get_block(SHARD, 4) is None  # above the chain: not invented
        assert await cached.get_block(SHARD, 0) is None  # the genesis state is no block

    trio.run(compare)


def test_the_cache_keeps_the_newest_heights_up_to_its_bound() -> None:
    blocks = _chain(5)
    recent = RecentBlocks(2)
    for item in blocks:
        recent.add(item.block.header.height, item)
    assert len(recent) == 2
    assert recent.get(3) is None
    assert recent.get(4) is blocks[3] and recent.get(5) is blocks[4]
    off = RecentBlocks(0)
    off.add(1, blocks[0])
    assert len(off) == 0 and off.get(1) is None
