"""What a restart must not forget (issue #12 point 7).

Before: ``Node._recover`` gave the replica only the finalized tip, not the recent blocks
below it (``RecoveredState.recent_blocks``). A restarted replica then knew no block hash
for the heights between its stable checkpoint and its tip, so it could not re-sign its
CHECKPOINTs there (they lived only in memory: if they were lost, no checkpoint could
become stable and the window stayed full) nor link a NEW-VIEW's re-proposals of those
heights to its chain. Real Node on a real LevelDB store, restarted by closing and
re-opening it; the assertions are on what the replica emits.
"""

from __future__ import annotations

from pathlib import Path

from consensus import codec
from consensus.events import Tick
from consensus.types import Block, Checkpoint
from node.node import stored_header
from node.setup import free_port_block, init_cluster
from tests.node.test_replay_restart import _execute, _open

chain = "replay-chain"  # the helpers of test_replay_restart build blocks of this chain


def test_a_restarted_replica_re_signs_its_checkpoints_above_the_stable_one(
        tmp_path: Path) -> None:
    base = free_port_block(12)
    homes = init_cluster(tmp_path / "net", 4, 1, chain, p2p_port=base, rpc_port=base + 4,
                         metrics_port=base + 8)
    node = _open(homes[0])
    interval = node.genesis.consensus.checkpoint_interval_blocks
    tip = interval + 3
    for _ in range(tip):
        _execute(node, 0, ())
    stored = node.store.get_block(0, tip)
    assert stored is not None
    block = codec.decode_struct(Block, stored.block_bytes)
    assert stored_header(stored.block_bytes) == block.header
    node.store.close()
    node = _open(homes[0])  # the restart
    try:
        out = node.shards[0].replica.step(Tick())
        checkpoints = [send.message for send in out.send
                       if isinstance(send.message, Checkpoint)]
        expected = node.store.get_block(0, interval)
        assert expected is not None
        assert [(c.height, c.block_hash) for c in checkpoints] == [
            (interval, expected.block_hash)]
        assert checkpoints[0].state_root == node.store.get_roots(0, interval)[0]
    finally:
        node.store.close()


def test_the_rpc_block_cache_is_bounded_in_bytes_as_well_as_in_count() -> None:
    """Point 7, bounds in bytes: 32 cached blocks of 64 KB txs would be 128 MiB; the
    cache drops its oldest blocks past ``recent_blocks_bytes_max`` and keeps the newest."""
    from node.node import RecentBlocks, _encoded_size
    from tests.node.test_recent_blocks import _chain

    blocks = _chain(6)
    one = _encoded_size(blocks[0].block)
    recent = RecentBlocks(32, bytes_max=2 * one + one // 2)
    for item in blocks:
        recent.add(item.block.header.height, item)
        assert recent.size_bytes <= 2 * one + one // 2
    assert len(recent) == 2 and recent.get(6) is blocks[5] and recent.get(4) is None
    tiny = RecentBlocks(32, bytes_max=1)
    tiny.add(1, blocks[0])
    assert len(tiny) == 1 and tiny.get(1) is blocks[0]  # the newest is always held
