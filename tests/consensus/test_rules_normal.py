"""PBFT normal-case rules, one scenario per rule.

References: Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI 1999 (§4.2, §4.3)
and "Practical Byzantine Fault Tolerance and Proactive Recovery", TOCS 2002 (§4.2, §4.3).
Every test moves messages by hand (propose, deliver, drop, tick) and then states what the
replicas must have done; the cluster checks every replica's invariants after every step.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.events import PreparedRecord, Propose
from consensus.replica import Ignored
from consensus.types import Commit, Prepare, PrePrepare, zero_digest
from tests.consensus.scenario import (
    Cluster,
    all_of,
    from_,
    ignored,
    inject,
    make_block,
    make_pre_prepare,
    of_type,
    sent,
    sign_as,
    to,
    vote,
)


def queued_pre_prepare(cluster: Cluster, height: int) -> PrePrepare:
    for envelope in cluster.network:
        if isinstance(envelope.message, PrePrepare) and envelope.message.height == height:
            return envelope.message
    raise AssertionError(f"no PRE-PREPARE for height {height} is queued")


# -- primary selection -----------------------------------------------------------------


@pytest.mark.parametrize("shard", [0, 1, 2, 3, 6])
def test_primary_of_shard_in_view_is_view_plus_shard_modulo_n(shard: int) -> None:
    """§4.1 (1999) / §4.2 (2002): the primary of view v is p = v mod |R|; Agora offsets it
    by the shard so shards start on different replicas: (v + s) mod n."""
    cluster = Cluster(4, shard=shard)
    for view in range(9):
        for node in cluster.nodes:
            assert node.replica is not None
            assert node.replica.primary(view) == (view + shard) % 4
    first = shard % 4
    for index in range(4):
        wanted = cluster.replica(index)._proposal_height()
        assert (wanted is not None) == (index == first)
    backup = (first + 1) % 4
    cluster.step(backup, Propose((), 1_500))
    assert ignored(cluster.replica(backup), Ignored.NOT_READY_TO_PROPOSE) == 1
    assert cluster.network == []

    cluster.run_heights(2)
    assert [item.block.header.proposer for item in cluster.nodes[0].store] == [first, first]

    cluster.crash(first)
    cluster.tick(20)
    cluster.deliver()
    cluster.run_heights(1)
    second = (1 + shard) % 4
    live = [node for node in cluster.nodes if node.replica is not None]
    assert all(node.height == 3 for node in live)
    assert live[0].store[2].block.header.proposer == second
    assert live[0].store[2].certificate.view == 1


# -- accepting a PRE-PREPARE -----------------------------------------------------------


def test_backup_ignores_pre_prepare_from_a_replica_that_is_not_the_primary() -> None:
    """§4.2: a backup accepts a pre-prepare only if it comes from the primary of its view."""
    cluster = Cluster(4)
    block = make_block(cluster, 1, 0, 2, zero_digest)
    out = inject(cluster, 1, make_pre_prepare(cluster, block, sender=2))
    assert ignored(cluster.replica(1), Ignored.NOT_PRIMARY) == 1
    assert out.send == [] and out.persist == []
    assert 1 not in cluster.replica(1)._slots


@pytest.mark.parametrize("view, reason", [(1, Ignored.FUTURE_VIEW), (5, Ignored.FUTURE_VIEW)])
def test_backup_ignores_pre_prepare_for_a_view_it_is_not_in(view: int, reason: Ignored) -> None:
    """§4.2: "it is in view v" — a pre-prepare for a later view is not accepted."""
    cluster = Cluster(4)
    primary = (view + 0) % 4
    backup = (primary + 1) % 4
    block = make_block(cluster, 1, view, primary, zero_digest)
    out = inject(cluster, backup, make_pre_prepare(cluster, block))
    assert ignored(cluster.replica(backup), reason) == 1
    assert out.send == []


def test_backup_ignores_pre_prepare_from_an_earlier_view() -> None:
    """§4.2: after a view change the old primary's pre-prepares are stale."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.tick(20)
    cluster.deliver()
    assert all(cluster.replica(index).view == 1 for index in range(4))
    old = make_pre_prepare(
        cluster, make_block(cluster, 2, 0, 0, cluster.nodes[1].store[0].block.hash())
    )
    out = inject(cluster, 2, old)
    assert ignored(cluster.replica(2), Ignored.STALE_VIEW) == 1
    assert out.send == []


def test_backup_rejects_pre_prepare_outside_watermarks() -> None:
    """§4.2 / §4.3: a backup accepts a pre-prepare only if its height n is in h < n <= H
    (the watermark window);
    the watermarks move with the stable checkpoint."""
    cluster = Cluster(4)  # window 8, checkpoint every 4
    beyond = make_pre_prepare(cluster, make_block(cluster, 9, 0, 0, zero_digest))
    assert inject(cluster, 1, beyond).send == []
    assert ignored(cluster.replica(1), Ignored.OUT_OF_WINDOW) == 1
    assert 9 not in cluster.replica(1)._slots

    cluster.run_heights(8)
    replica = cluster.replica(1)
    assert replica.low == 8
    below = make_pre_prepare(cluster, make_block(cluster, 8, 0, 0, zero_digest, 99_999))
    above = make_pre_prepare(cluster, make_block(cluster, 17, 0, 0, zero_digest))
    inject(cluster, 1, below)
    inject(cluster, 1, above)
    assert ignored(replica, Ignored.OUT_OF_WINDOW) == 3
    edge = make_pre_prepare(cluster, make_block(cluster, 16, 0, 0, zero_digest))
    inject(cluster, 1, edge)
    assert ignored(replica, Ignored.OUT_OF_WINDOW) == 3
    assert replica._slots[16].pre_prepare == edge  # accepted, waiting for height 15


def test_backup_rejects_pre_prepare_with_an_invalid_signature() -> None:
    """§4.2: "the signatures in the request and the pre-prepare message are correct"."""
    cluster = Cluster(4)
    cluster.propose()
    genuine = queued_pre_prepare(cluster, 1)
    corrupted = replace(
        genuine, signature=bytes([genuine.signature[0] ^ 1]) + genuine.signature[1:]
    )
    wrong_key = sign_as(cluster, 3, replace(genuine, signature=b""))
    assert isinstance(wrong_key, PrePrepare) and wrong_key.sender == 0
    for forged in (corrupted, wrong_key):
        assert inject(cluster, 1, forged).send == []
    assert ignored(cluster.replica(1), Ignored.BAD_SIGNATURE) == 2
    cluster.deliver()
    assert cluster.heights() == [1, 1, 1, 1]


def test_backup_counts_and_ignores_an_equivocating_pre_prepare() -> None:
    """§4.2: a backup accepts a pre-prepare only if it "has not accepted a pre-prepare
    message for view v and sequence number n containing a different digest"."""
    cluster = Cluster(4)
    cluster.propose()
    genuine = queued_pre_prepare(cluster, 1)
    twin = make_pre_prepare(cluster, make_block(cluster, 1, 0, 0, zero_digest, 7_777))
    assert twin.digest != genuine.digest
    cluster.deliver(all_of(of_type(PrePrepare), to(1, 2)))
    for backup in (1, 2):
        assert inject(cluster, backup, twin).send == []
        assert ignored(cluster.replica(backup), Ignored.EQUIVOCATION) == 1
    # A byte-identical copy is a duplicate, not equivocation.
    inject(cluster, 1, genuine)
    assert ignored(cluster.replica(1), Ignored.DUPLICATE) == 1
    # Replica 3 sees the twin first: it prepares the twin and refuses the genuine one.
    inject(cluster, 3, twin)
    cluster.deliver()
    assert ignored(cluster.replica(3), Ignored.EQUIVOCATION) == 1
    for backup in (1, 2, 3):
        prepares = sent(cluster, Prepare, backup, height=1)
        assert len(prepares) == 1
    assert sent(cluster, Prepare, 3, height=1)[0].digest == twin.digest
    # The genuine block still commits: replicas 0, 1, 2 are a quorum.
    assert cluster.heights()[:3] == [1, 1, 1]
    assert cluster.nodes[0].store[0].block.hash() == genuine.digest
    cluster.assert_agreement()


# -- prepared and committed --------------------------------------------------------------


def test_replica_is_prepared_only_with_quorum_minus_one_matching_prepares_from_distinct_backups() -> (
    None
):
    """§4.2: prepared(m, v, n, i) needs the pre-prepare and 2f (quorum - 1) prepares from
    different backups matching it; the primary does not send PREPARE, and one from it is
    ignored."""
    cluster = Cluster(7)  # f = 2, quorum 5: prepared needs 4 matching backup prepares
    cluster.propose()
    genuine = queued_pre_prepare(cluster, 1)
    cluster.network.clear()
    inject(cluster, 1, genuine)  # replica 1 prepares: its own prepare is the first
    replica = cluster.replica(1)

    def has_committed_vote() -> bool:
        return any(
            isinstance(envelope.message, Commit)
            for envelope in cluster.sent
            if envelope.source == 1
        )

    inject(cluster, 1, vote(cluster, Prepare, 2, 1, genuine.digest))
    inject(cluster, 1, vote(cluster, Prepare, 2, 1, genuine.digest))  # duplicate
    inject(cluster, 1, vote(cluster, Prepare, 0, 1, genuine.digest))  # from the primary
    inject(cluster, 1, vote(cluster, Prepare, 3, 1, b"\x11" * 32))  # another digest
    inject(cluster, 1, vote(cluster, Prepare, 3, 1, genuine.digest))  # 3 equivocates
    assert ignored(replica, Ignored.DUPLICATE) == 1
    assert ignored(replica, Ignored.FROM_PRIMARY) == 1
    assert ignored(replica, Ignored.EQUIVOCATION) == 1
    inject(cluster, 1, vote(cluster, Prepare, 4, 1, genuine.digest))
    assert replica._slots[1].prepared is None and not has_committed_vote()  # 1, 2, 4: three
    out = inject(cluster, 1, vote(cluster, Prepare, 5, 1, genuine.digest))
    assert has_committed_vote()
    prepared = replica._slots[1].prepared
    assert prepared is not None and prepared.pre_prepare == genuine.head()
    assert sorted(prepare.sender for prepare in prepared.prepares) == [1, 2, 4, 5]
    assert PreparedRecord(prepared, genuine.block) in out.persist


def test_replica_commits_only_with_a_quorum_of_matching_commits_after_it_prepared() -> None:
    """§4.2: committed-local(m, v, n, i) needs prepared(m, v, n, i) and 2f + 1 (quorum)
    matching commits from different replicas (possibly including its own)."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    commits = {
        envelope.source: envelope.message
        for envelope in cluster.network
        if isinstance(envelope.message, Commit)
    }
    assert sorted(commits) == [0, 1, 2, 3]
    digest = commits[0].digest
    cluster.network.clear()

    inject(cluster, 1, commits[2])  # own + 2: two of three
    inject(cluster, 1, vote(cluster, Commit, 3, 1, b"\x22" * 32))  # 3 commits elsewhere
    inject(cluster, 1, commits[2])
    assert cluster.nodes[1].height == 0
    assert ignored(cluster.replica(1), Ignored.DUPLICATE) == 1
    inject(cluster, 1, commits[0])
    assert cluster.nodes[1].height == 1
    certificate = cluster.nodes[1].store[0].certificate
    assert certificate.digest == digest
    assert sorted(item.replica for item in certificate.signatures) == [0, 1, 2]
    assert certificate.verify(cluster.validators, 3) is None


def test_replica_that_is_not_prepared_does_not_commit_on_others_commits() -> None:
    """§4.2: committed-local requires prepared at the replica itself, so it never executes
    a request it could not show a prepared certificate for."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(
        lambda envelope: not (isinstance(envelope.message, Prepare) and envelope.target == 3)
    )
    assert cluster.heights() == [1, 1, 1, 0]
    assert cluster.replica(3)._slots[1].commits.keys() == {0, 1, 2}  # a quorum, not its own
    assert sent(cluster, Commit, 3) == []
    assert all(
        isinstance(envelope.message, Prepare) and envelope.target == 3
        for envelope in cluster.network
    )
    cluster.deliver()
    assert cluster.heights() == [1, 1, 1, 1]
    cluster.assert_agreement()


def test_blocks_are_delivered_in_height_order_even_when_commits_arrive_out_of_order() -> None:
    """§4.2: "replicas execute requests in sequence-number order": a committed height
    waits for every height below it."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    heights = [cluster.propose() for _ in range(3)]
    assert heights == [1, 2, 3]
    late = all_of(of_type(Commit), to(3))
    cluster.deliver(lambda envelope: not late(envelope))
    assert cluster.heights() == [3, 3, 3, 0]
    for height, expected in ((3, 0), (2, 0), (1, 3)):
        cluster.deliver(all_of(late, lambda envelope, h=height: envelope.message.height == h))
        assert cluster.nodes[3].height == expected
    assert [item.block.header.height for item in cluster.nodes[3].store] == [1, 2, 3]
    cluster.assert_agreement()


def test_primary_pipelines_several_heights_before_any_commits() -> None:
    """§4.2 with the watermark window of §4.3: the primary may assign sequence numbers
    ahead of commits; Agora bounds the depth by the state-root lag (execution follows
    ordering) and the window."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    assert [cluster.propose() for _ in range(4)] == [1, 2, 3, 4]
    assert cluster.replica(0)._proposal_height() is None  # height 5 needs height 1 executed
    in_flight = {
        envelope.message.height
        for envelope in cluster.network
        if isinstance(envelope.message, PrePrepare)
    }
    assert in_flight == {1, 2, 3, 4}
    cluster.deliver()
    assert cluster.heights() == [4, 4, 4, 4]
    assert cluster.replica(0)._proposal_height() == 5
    cluster.assert_agreement()


def test_default_lag_limits_the_pipeline_to_two_heights() -> None:
    """The depth of the pipeline is the state-root lag: the header of h carries the roots
    after h - L, so h can be proposed only once h - L is executed."""
    cluster = Cluster(4)
    assert [cluster.propose() for _ in range(2)] == [1, 2]
    assert cluster.replica(0)._proposal_height() is None
    cluster.deliver()
    assert cluster.heights() == [2, 2, 2, 2]


def test_backup_prepares_a_height_only_after_it_knows_the_previous_block() -> None:
    """Hash-chained pipelining (replica docstring): a backup prepares h only once it knows
    block h - 1 and prev_hash matches (§4.2's digest check extended to the chain)."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    cluster.propose()
    cluster.propose()
    cluster.deliver(
        all_of(of_type(PrePrepare), to(1), lambda envelope: envelope.message.height == 2)
    )
    assert sent(cluster, Prepare, 1) == []
    assert cluster.replica(1)._slots[2].pre_prepare is not None
    cluster.deliver(all_of(of_type(PrePrepare), to(1)))
    assert [prepare.height for prepare in sent(cluster, Prepare, 1)] == [1, 2]


def test_backup_rejects_a_block_that_does_not_chain_onto_the_previous_one() -> None:
    """A pre-prepared block whose prev_hash is not the hash of the block before is an
    invalid proposal: no PREPARE is sent for it."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    broken = make_pre_prepare(cluster, make_block(cluster, 2, 0, 0, b"\x33" * 32, 9_000))
    out = inject(cluster, 1, broken)
    assert out.send == []
    assert ignored(cluster.replica(1), Ignored.INVALID_PROPOSAL) == 1


def test_replica_sends_commit_for_a_height_only_once_the_previous_height_is_prepared() -> None:
    """Pipelining rule (replica docstring, extending §4.2): COMMIT for h only when h - 1 is
    prepared or final, so the NEW-VIEW may stop at the first height without a prepared
    certificate."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    cluster.propose()
    cluster.propose()
    cluster.deliver(of_type(PrePrepare))
    cluster.deliver(all_of(of_type(Prepare), lambda envelope: envelope.message.height == 2))
    for index in range(4):
        slot = cluster.replica(index)._slots[2]
        assert slot.prepared is not None, index
    assert sent(cluster, Commit) == []
    cluster.deliver(of_type(Prepare))
    for index in range(4):
        assert [commit.height for commit in sent(cluster, Commit, index)] == [1, 2]
    cluster.deliver()
    assert cluster.heights() == [2, 2, 2, 2]


def test_commit_from_a_later_view_or_out_of_window_is_not_counted() -> None:
    """§4.2: replicas accept commit messages that are properly signed, whose view equals
    the replica's current view, and whose sequence number is between h and H."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    digest = queued_commit_digest(cluster)
    cluster.network.clear()
    replica = cluster.replica(1)
    inject(cluster, 1, vote(cluster, Commit, 2, 1, digest, view=1))
    inject(cluster, 1, vote(cluster, Commit, 3, 9, digest))
    assert ignored(replica, Ignored.FUTURE_VIEW) == 1
    assert ignored(replica, Ignored.OUT_OF_WINDOW) == 1
    assert cluster.nodes[1].height == 0
    inject(cluster, 1, vote(cluster, Commit, 2, 1, digest))
    assert cluster.nodes[1].height == 0  # own and 2's: two of three
    inject(cluster, 1, vote(cluster, Commit, 3, 1, digest))
    assert cluster.nodes[1].height == 1


def queued_commit_digest(cluster: Cluster) -> bytes:
    for envelope in cluster.network:
        if isinstance(envelope.message, Commit):
            return envelope.message.digest
    raise AssertionError("no COMMIT queued")


def test_scenario_filters_route_exactly_what_they_name() -> None:
    """The scenario helpers route exactly what they name (guards the other tests)."""
    cluster = Cluster(4)
    cluster.propose()
    assert cluster.deliver(all_of(from_(0), to(1), of_type(PrePrepare))) == 1
    assert len(cluster.network) == 2 + 3  # pre-prepares to 2, 3 and replica 1's prepare


def test_backup_rejects_a_proposal_whose_header_does_not_match_the_rules() -> None:
    """§4.2 "the digest is the request's" made concrete for Agora blocks: the pre-prepare's
    block must hash to its digest, name this view and its primary, carry the app height
    h - L with the roots this replica computed there, keep timestamps monotonic and hold
    at most block_txs_max transactions; anything else is an invalid proposal."""
    cluster = Cluster(4)
    cluster.run_heights(3)
    store = cluster.nodes[1].store
    previous = store[-1].block
    good = make_block(cluster, 4, 0, 0, previous.hash(), previous.header.timestamp_ms + 1)
    header = good.header
    variants = {
        "wrong app height": replace(header, app_height=1),
        "wrong state root": replace(header, state_root=b"\x44" * 32),
        "wrong receipts root": replace(header, receipts_root=b"\x45" * 32),
        "older timestamp": replace(header, timestamp_ms=previous.header.timestamp_ms - 1),
        "another proposer": replace(header, proposer=1),
        "another view in the header": replace(header, view=1),
        "wrong tx root": replace(header, tx_root=b"\x46" * 32),
    }
    replica = cluster.replica(1)
    for name, changed in variants.items():
        block = replace(good, header=changed)
        message = sign_as(cluster, 0, PrePrepare("scenario", 0, 0, 4, 0, block.hash(), block, b""))
        out = inject(cluster, 1, message)
        assert out.send == [], name
        assert replica._slots.get(4) is None or replica._slots[4].pre_prepare is None, name
    assert ignored(replica, Ignored.INVALID_PROPOSAL) == len(variants)
    mismatched = sign_as(cluster, 0, PrePrepare("scenario", 0, 0, 4, 0, b"\x47" * 32, good, b""))
    inject(cluster, 1, mismatched)
    assert ignored(replica, Ignored.INVALID_PROPOSAL) == len(variants) + 1
    out = inject(cluster, 1, make_pre_prepare(cluster, good))
    assert [type(send.message) for send in out.send] == [Prepare]


def test_primary_refuses_a_batch_larger_than_block_txs_max() -> None:
    """A primary never proposes more than block_txs_max transactions (and backups refuse
    such a block): the size of a pre-prepare is bounded."""
    from consensus.types import Transaction

    cluster = Cluster(4, block_txs_max=2)
    tx = Transaction("scenario", bytes(32), 1, 100, 10, b"", "noop", b"\x90", bytes(64))
    txs = tuple(replace(tx, nonce=nonce) for nonce in range(3))
    out = cluster.step(0, Propose(txs, 2_000))
    assert out.send == [] and ignored(cluster.replica(0), Ignored.OVERSIZE_BATCH) == 1
    cluster.step(0, Propose(txs[:2], 2_000))
    cluster.deliver()
    assert cluster.heights() == [1, 1, 1, 1]
    assert len(cluster.nodes[2].store[0].block.txs) == 2


def test_replica_sends_commit_for_a_height_only_after_its_commit_for_the_previous_height() -> None:
    """Pipelining rule (replica docstring; makes §4.4's NEW-VIEW safe with deep pipelines):
    COMMIT for h only once COMMIT for h - 1 was sent (or h - 1 is final), so whoever helps
    commit h holds prepared certificates for every height below it. With the first of
    three heights unprepared, the two prepared ones above it get no COMMIT."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    for _ in range(3):
        cluster.propose()
    cluster.deliver(of_type(PrePrepare))
    cluster.drop(
        lambda envelope: isinstance(envelope.message, Prepare) and envelope.message.height == 1
    )
    cluster.deliver(of_type(Prepare))
    for index in range(4):
        slots = cluster.replica(index)._slots
        assert slots[1].prepared is None
        assert slots[2].prepared is not None and slots[3].prepared is not None
    assert sent(cluster, Commit) == []
    lost = [
        envelope
        for envelope in cluster.sent
        if isinstance(envelope.message, Prepare) and envelope.message.height == 1
    ]
    for envelope in lost:  # the lost PREPAREs for height 1 arrive after all
        inject(cluster, envelope.target, envelope.message)
    assert [commit.height for commit in sent(cluster, Commit, 1)] == [1, 2, 3]
    cluster.deliver()
    assert cluster.heights() == [3, 3, 3, 3]
    cluster.assert_agreement()


def test_prepares_without_the_pre_prepare_do_not_make_a_replica_prepared() -> None:
    """§4.2: prepared(m, v, n, i) requires the pre-prepare itself in the log; PREPAREs that
    arrive first are kept, and the replica prepares the moment the PRE-PREPARE arrives."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(all_of(of_type(PrePrepare), to(1, 2)))
    cluster.deliver(all_of(of_type(Prepare), to(3)))
    replica = cluster.replica(3)
    assert sorted(replica._slots[1].prepares) == [1, 2]
    assert replica._slots[1].prepared is None and sent(cluster, Prepare, 3) == []
    cluster.deliver(all_of(of_type(PrePrepare), to(3)))
    assert replica._slots[1].prepared is not None
    assert [commit.height for commit in sent(cluster, Commit, 3)] == [1]
    cluster.deliver()
    assert cluster.heights() == [1, 1, 1, 1]
