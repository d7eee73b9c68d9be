"""PBFT checkpoint and garbage-collection rules, one scenario per rule.

References: Castro & Liskov, OSDI 1999 §4.3 and TOCS 2002 §4.3 (checkpoints, stable
checkpoints, watermarks, log truncation); the determinism check on execution results is
Agora's (replica docstring, "Execution after ordering").
"""

from __future__ import annotations

from consensus.events import Executed, Output, StableCheckpointRecord
from consensus.replica import Ignored
from consensus.types import Checkpoint, Commit, Prepare, PrePrepare
from tests.consensus.scenario import (
    Cluster,
    all_of,
    from_,
    ignored,
    inject,
    of_type,
    sent,
    sign_as,
    to,
    toy_roots,
)

bad_root = b"\xee" * 32


class RecordingCluster(Cluster):
    """A cluster that remembers every ``prune_records_through`` it was given."""

    def __init__(self, n: int = 4, **overrides: int) -> None:
        super().__init__(n, **overrides)
        self.prunes: list[tuple[int, int]] = []

    def step(self, index: int, event: object) -> Output:
        out = super().step(index, event)
        if out.prune_records_through is not None:
            self.prunes.append((index, out.prune_records_through))
        return out


def execute_pending(cluster: Cluster, index: int, wrong_height: int | None = None) -> None:
    """Execute what replica ``index`` delivered; at ``wrong_height`` its state root is wrong
    (a determinism bug in this replica's executor)."""
    node = cluster.nodes[index]
    genesis = cluster.config(index).genesis_state_root
    while node.pending_execution:
        item = node.pending_execution.pop(0)
        state_root, receipts_root = toy_roots(node.state_root(genesis), item.block)
        if item.block.header.height == wrong_height:
            state_root = bad_root
        node.store.append(item)
        node.roots.append((state_root, receipts_root))
        cluster.step(index, Executed(item.block.header.height, state_root, receipts_root))


def test_replica_sends_checkpoint_every_k_heights_and_it_becomes_stable_at_a_quorum() -> None:
    """§4.3: a replica multicasts CHECKPOINT after executing a request whose sequence number
    is a multiple of K; a checkpoint with a quorum (2f + 1) of matching proofs is stable."""
    cluster = Cluster(4)  # K = 4, quorum 3
    cluster.run_heights(3)
    assert sent(cluster, Checkpoint) == []
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Checkpoint))
    checkpoints = sent(cluster, Checkpoint)
    assert sorted(checkpoint.sender for checkpoint in checkpoints) == [0, 1, 2, 3]
    assert {checkpoint.height for checkpoint in checkpoints} == {4}
    assert len({(c.block_hash, c.state_root) for c in checkpoints}) == 1
    assert checkpoints[0].block_hash == cluster.nodes[0].store[3].block.hash()
    assert checkpoints[0].state_root == cluster.nodes[0].roots[3][0]

    replica = cluster.replica(1)
    cluster.deliver(all_of(of_type(Checkpoint), to(1), from_(2)))
    assert replica.low == 0  # its own and 2's: two of three
    out_records = len(cluster.nodes[1].records)
    cluster.deliver(all_of(of_type(Checkpoint), to(1), from_(3)))
    assert replica.low == 4
    assert replica.stats.checkpoints_stable == 1
    new_records = cluster.nodes[1].records[out_records:]
    assert [type(record) for record in new_records] == [StableCheckpointRecord]
    proof = new_records[0].proof  # type: ignore[union-attr]
    assert sorted(checkpoint.sender for checkpoint in proof) == [1, 2, 3]
    cluster.deliver()
    assert all(cluster.replica(index).low == 4 for index in range(4))


def test_stable_checkpoint_moves_the_watermarks_and_garbage_collects_the_log() -> None:
    """§4.3: when a checkpoint becomes stable the low watermark moves to it and the replica
    discards every pre-prepare, prepare, commit and earlier checkpoint at or below it, so
    the log holds at most one window of slots however long the run."""
    cluster = RecordingCluster(4)  # window 8
    for _ in range(40):
        cluster.propose()
        cluster.deliver()
        for index in range(4):
            replica = cluster.replica(index)
            assert len(replica._slots) <= 8
            assert all(replica.low < height <= replica.low + 8 for height in replica._slots)
            assert all(height > replica.low for height in replica._checkpoints)
    for index in range(4):
        replica = cluster.replica(index)
        assert replica.low == 40 and replica.stats.checkpoints_stable == 10
        assert replica._slots == {} and replica._checkpoints == {}
        assert all(key[2] > replica.low for key in replica._signed)
    # The shell is told it may prune its consensus records at each stable checkpoint.
    assert [through for index, through in cluster.prunes if index == 0] == list(range(4, 41, 4))


def test_replica_halts_when_its_state_root_differs_from_a_stable_checkpoint() -> None:
    """§4.3 checkpoints carry the state digest; a quorum proves the correct state, so a
    replica whose own root differs has a determinism bug and must stop (Agora: halt, keep
    no votes)."""
    cluster = Cluster(4)
    cluster.nodes[3].auto_execute = False
    for _ in range(4):
        cluster.propose()
        cluster.deliver(
            lambda envelope: not (isinstance(envelope.message, Checkpoint) and envelope.target == 3)
        )
        execute_pending(cluster, 3, wrong_height=4)
    replica = cluster.replica(3)
    assert replica.halted is None and replica.last_executed == 4
    cluster.deliver()
    assert replica.halted is not None and "state root" in replica.halted
    assert replica.low == 0
    # A halted replica ignores everything and signs nothing more.
    cluster.propose()
    before = len(cluster.sent)
    cluster.deliver()
    assert all(envelope.source != 3 for envelope in cluster.sent[before:])
    assert ignored(replica, Ignored.HALTED) >= 1
    assert cluster.heights()[:3] == [5, 5, 5]


def test_replica_halts_when_it_executes_a_state_root_that_differs_from_an_already_stable_checkpoint() -> (
    None
):
    """§4.3: the stable checkpoint's state digest is the quorum's; a replica that adopted
    the checkpoint before executing that height (it was slow to execute) must still
    compare its own root when it executes it, and halt on a difference."""
    cluster = Cluster(4)
    cluster.nodes[3].auto_execute = False
    for _ in range(4):
        cluster.propose()
        cluster.deliver()
        if cluster.nodes[3].height < 3:
            execute_pending(cluster, 3)
    replica = cluster.replica(3)
    assert replica.low == 4 and replica.last_executed < 4  # adopted before executing 4
    for _ in range(4):
        cluster.deliver()
        cluster.tick()
    execute_pending(cluster, 3, wrong_height=4)
    assert replica.last_executed == 4
    assert replica.halted is not None


def test_replica_halts_when_a_committed_header_carries_roots_that_differ_from_its_own() -> None:
    """Agora's execution-after-ordering rule: the header at h carries the roots after
    h - L; a replica whose own roots after h - L differ refuses to prepare that header
    (no quorum of honest replicas commits wrong roots) and halts if it is committed."""
    cluster = Cluster(4)
    cluster.nodes[3].auto_execute = False
    cluster.propose()
    cluster.deliver()
    execute_pending(cluster, 3, wrong_height=1)
    cluster.propose()
    cluster.deliver()
    execute_pending(cluster, 3)
    cluster.propose()  # height 3 carries the roots after height 1
    cluster.deliver()
    replica = cluster.replica(3)
    assert ignored(replica, Ignored.INVALID_PROPOSAL) == 1
    assert sent(cluster, Prepare, 3, height=3) == []
    assert cluster.heights() == [3, 3, 3, 2]
    # It catches up from the others, and the synced header proves its roots wrong.
    for _ in range(20):
        cluster.propose()
        cluster.deliver()
        execute_pending(cluster, 3)
        cluster.tick()
        cluster.deliver()
        if replica.halted is not None:
            break
    assert replica.halted is not None and "roots" in replica.halted


def test_checkpoints_that_are_stale_misaligned_beyond_the_window_or_conflicting_are_ignored() -> (
    None
):
    """§4.3: checkpoints at or below the low watermark are discarded, and only sequence
    numbers that are multiples of K inside the window are collected; a replica that
    sends two different checkpoints for one height is equivocating."""
    cluster = Cluster(4)
    cluster.run_heights(4)
    replica = cluster.replica(1)
    assert replica.low == 4
    replica.stats.ignored.clear()  # the fourth checkpoint for 4 arrived after it was stable

    def checkpoint(sender: int, height: int, root: bytes = b"\x01" * 32) -> Checkpoint:
        return sign_as(
            cluster,
            sender,
            Checkpoint(  # type: ignore[return-value]
                "scenario", 0, 0, height, sender, b"\x02" * 32, root, b""
            ),
        )

    inject(cluster, 1, checkpoint(2, 4))
    inject(cluster, 1, checkpoint(2, 6))
    inject(cluster, 1, checkpoint(2, 16))
    assert ignored(replica, Ignored.STALE_CHECKPOINT) == 1
    assert ignored(replica, Ignored.INVALID_CHECKPOINT) == 1
    assert ignored(replica, Ignored.OUT_OF_WINDOW) == 1
    inject(cluster, 1, checkpoint(2, 8))
    inject(cluster, 1, checkpoint(2, 8))
    inject(cluster, 1, checkpoint(2, 8, b"\x03" * 32))
    assert ignored(replica, Ignored.DUPLICATE) == 1
    assert ignored(replica, Ignored.EQUIVOCATION) == 1
    # Two replicas vouching for a bogus checkpoint are not a quorum: nothing moves.
    inject(cluster, 1, checkpoint(3, 8))
    assert replica.low == 4 and replica.halted is None


def test_pre_prepares_and_votes_below_the_low_watermark_are_not_kept() -> None:
    """§4.3: messages with sequence numbers at or below the low watermark are discarded."""
    cluster = Cluster(4)
    cluster.run_heights(4)
    old = next(
        e.message
        for e in cluster.sent
        if isinstance(e.message, Commit) and e.source == 2 and e.message.height == 3
    )
    old_pre_prepare = next(
        e.message
        for e in cluster.sent
        if isinstance(e.message, PrePrepare) and e.message.height == 3
    )
    replica = cluster.replica(1)
    inject(cluster, 1, old)
    inject(cluster, 1, old_pre_prepare)
    assert ignored(replica, Ignored.OUT_OF_WINDOW) == 2
    assert 3 not in replica._slots


def execute_with_receipts_root(cluster: Cluster, index: int, wrong_height: int) -> None:
    """Execute what replica ``index`` delivered; its receipts root at ``wrong_height`` is
    wrong while its state root is right (a nondeterministic receipt, say)."""
    node = cluster.nodes[index]
    genesis = cluster.config(index).genesis_state_root
    while node.pending_execution:
        item = node.pending_execution.pop(0)
        state_root, receipts_root = toy_roots(node.state_root(genesis), item.block)
        if item.block.header.height == wrong_height:
            receipts_root = bad_root
        node.store.append(item)
        node.roots.append((state_root, receipts_root))
        cluster.step(index, Executed(item.block.header.height, state_root, receipts_root))


def test_replica_halts_when_its_roots_differ_from_a_header_it_received_by_catch_up() -> None:
    """Agora's execution-after-ordering rule applies to synced blocks too: header h + L
    (here fetched by catch-up, §6.2 TOCS 2002) carries the roots after h; a replica whose
    own receipts root after h differs has a determinism bug and must halt."""
    cluster = Cluster(4)
    cluster.run_heights(2)
    cluster.crash(3)
    cluster.run_heights(20)
    cluster.restart(3)
    cluster.nodes[3].auto_execute = False
    replica = cluster.replica(3)
    for _ in range(30):
        cluster.propose()
        cluster.deliver()
        execute_with_receipts_root(cluster, 3, wrong_height=10)
        cluster.tick()
        cluster.deliver()
        execute_with_receipts_root(cluster, 3, wrong_height=10)
    # It halts as soon as it executes height 10 (it never executes past the halt).
    assert replica.stats.blocks_synced > 10 and replica.last_executed == 10
    assert replica.halted is not None and "height 10" in replica.halted
