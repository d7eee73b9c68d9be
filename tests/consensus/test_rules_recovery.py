"""Persistence, crash recovery and catch-up rules, and cluster sizes.

References: Castro & Liskov, TOCS 2002 §4.2 and §4.4 (a replica's log of the messages it
sent — here the durable records — is what makes its votes binding), §5 / §6 (recovery:
a recovering replica must not send messages that contradict ones it sent before it
crashed, and fetches the state it missed with proofs, §6.2 state transfer), OSDI 1999
§4.3 (fetching missing state from the others with checkpoint proofs). n = 3f + 1 replicas
tolerate f faults (§2).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from consensus.events import Output, PreparedRecord, ViewRecord, VoteRecord
from consensus.replica import Ignored
from consensus.types import (
    Commit,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    NewView,
    Prepare,
    PrePrepare,
    SyncRequest,
    SyncResponse,
    ViewChange,
)
from tests.consensus.scenario import (
    Cluster,
    Node,
    chain_id,
    ignored,
    inject,
    make_block,
    make_pre_prepare,
    of_type,
    partition,
    sent,
    sign_as,
    to,
    within,
)


class PersistCheckingCluster(Cluster):
    """Checks, for every Output, that every vote it sends was persisted first."""

    def __init__(self, n: int = 4, **overrides: int) -> None:
        super().__init__(n, **overrides)
        self.checked: Counter[str] = Counter()

    def _carry_out(self, node: Node, out: Output) -> None:
        durable = [*node.records, *out.persist]
        votes = {
            (
                int(record.message.tag),
                record.message.view,
                record.message.height,
                record.message.digest,
            )
            for record in durable
            if isinstance(record, VoteRecord)
        }
        prepared = {
            (
                record.certificate.pre_prepare.view,
                record.certificate.pre_prepare.height,
                record.certificate.pre_prepare.digest,
            )
            for record in durable
            if isinstance(record, PreparedRecord)
        }
        for send in out.send:
            message = send.message
            signed: list[PrePrepare | Prepare] = []
            if isinstance(message, (PrePrepare, Prepare)):
                signed = [message]
            elif isinstance(message, NewView):
                signed = list(message.pre_prepares)
            for vote in signed:
                assert (int(vote.tag), vote.view, vote.height, vote.digest) in votes, vote
                self.checked[type(vote).__name__] += 1
            if isinstance(message, Commit):
                assert (message.view, message.height, message.digest) in prepared, message
                self.checked["Commit"] += 1
            if isinstance(message, ViewChange) and message.sender == node.index:
                assert ViewRecord(message.view, True) in durable, message.view
                self.checked["ViewChange"] += 1
        super()._carry_out(node, out)


def signed_digests(cluster: Cluster) -> dict[tuple[str, int, int, int], set[bytes]]:
    """(kind, sender, view, height) -> the digests that sender ever signed for it."""
    found: dict[tuple[str, int, int, int], set[bytes]] = {}
    for envelope in cluster.sent:
        message = envelope.message
        votes = list(message.pre_prepares) if isinstance(message, NewView) else [message]
        for vote in votes:
            if isinstance(vote, (PrePrepare, Prepare, Commit)):
                key = (type(vote).__name__, vote.sender, vote.view, vote.height)
                found.setdefault(key, set()).add(vote.digest)
    return found


def test_every_pre_prepare_prepare_and_commit_is_persisted_before_it_is_sent() -> None:
    """TOCS 2002 §4.2/§4.4 and the Output contract (consensus.events): a PRE-PREPARE or
    PREPARE is sent only with a VoteRecord for it in the same or an earlier persist, a
    COMMIT only with a PreparedRecord for its certificate, a VIEW-CHANGE only once the
    move to its view is recorded."""
    cluster = PersistCheckingCluster(4, state_root_lag_blocks=4)
    for _ in range(3):
        cluster.propose()
    cluster.deliver()
    cluster.run_heights(6)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()  # NEW-VIEW from 1 re-proposes height 10
    cluster.restart(0)
    cluster.run_heights(5)
    cluster.crash(1)
    cluster.tick(20)
    cluster.deliver()
    cluster.run_heights(5)
    cluster.restart(1)
    for _ in range(10):
        cluster.run_heights(1)
        cluster.tick()
        cluster.deliver()
    assert min(cluster.checked[kind] for kind in ("PrePrepare", "Prepare", "Commit")) > 10
    assert cluster.checked["ViewChange"] >= 3
    cluster.assert_agreement()


def test_restarted_primary_never_proposes_a_different_block_for_a_height_it_proposed() -> None:
    """§4.2 / §5: a replica that crashed after sending PRE-PREPARE(v, n, d) must not send
    a PRE-PREPARE(v, n, d') with d' != d after it recovers."""
    cluster = Cluster(4)
    cluster.run_heights(2)
    cluster.propose()
    lost = next(
        envelope.message for envelope in cluster.network if isinstance(envelope.message, PrePrepare)
    )
    cluster.network.clear()
    cluster.crash(0)
    cluster.restart(0)
    replica = cluster.replica(0)
    assert replica.view == 0 and replica.is_primary
    assert replica._proposal_height() == 4  # height 3 is taken by the lost proposal
    cluster.propose()
    later = next(
        envelope.message for envelope in cluster.network if isinstance(envelope.message, PrePrepare)
    )
    assert later.height == 4 and later.block.header.prev_hash == lost.digest
    assert all(len(digests) == 1 for digests in signed_digests(cluster).values())


def test_restarted_backup_never_prepares_a_different_digest_for_a_view_and_height() -> None:
    """§4.2 / §5: a backup that sent PREPARE(v, n, d) refuses, even after a crash and
    restart, to prepare another digest for (v, n) — it would help a faulty primary
    equivocate."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.propose()
    genuine = next(
        envelope.message for envelope in cluster.network if isinstance(envelope.message, PrePrepare)
    )
    cluster.deliver(to(1))
    cluster.network.clear()
    cluster.crash(1)
    cluster.restart(1)
    twin = make_pre_prepare(
        cluster,
        make_block(
            cluster, 2, 0, 0, genuine.block.header.prev_hash, genuine.block.header.timestamp_ms + 1
        ),
    )
    out = inject(cluster, 1, twin)
    assert out.send == []
    assert ignored(cluster.replica(1), Ignored.CONFLICTS_WITH_VOTE) == 1
    out = inject(cluster, 1, genuine)  # the one it voted for: it sends the same vote again
    assert [send.message.digest for send in out.send] == [genuine.digest]
    assert all(len(digests) == 1 for digests in signed_digests(cluster).values())


def test_no_replica_signs_two_digests_for_one_view_and_height_across_crashes() -> None:
    """§4.2 / §5 as a property of a whole run with crashes, restarts and view changes."""
    cluster = Cluster(4, state_root_lag_blocks=3)
    for round_number in range(8):
        victim = round_number % 4
        for _ in range(2):
            if cluster.replica(cluster.primary)._proposal_height() is not None:
                cluster.propose()
        cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
        cluster.crash(victim)
        cluster.restart(victim)
        cluster.deliver()
        cluster.tick(5)
        cluster.deliver()
        if cluster.replica(cluster.primary)._proposal_height() is None:
            cluster.tick(40)
            cluster.deliver()
    signed = signed_digests(cluster)
    assert len(signed) > 30
    assert all(len(digests) == 1 for digests in signed.values()), signed
    cluster.assert_agreement()


# -- catch-up --------------------------------------------------------------------------


def catch_up(cluster: Cluster, index: int, rounds: int = 40) -> None:
    for _ in range(rounds):
        cluster.propose()
        cluster.deliver()
        cluster.tick()
        cluster.deliver()
        heights = cluster.heights()
        if heights[index] == max(heights):
            return


def test_restarted_replica_fetches_the_blocks_it_missed_with_certificates() -> None:
    """§6.2 (TOCS 2002) / §4.3 (OSDI 1999): a replica that fell behind fetches the missing
    state from the others and checks it against proofs — here committed blocks with their
    commit certificates, and the stable checkpoint proof that moves its watermarks."""
    cluster = Cluster(4)
    cluster.run_heights(3)
    cluster.crash(3)
    cluster.run_heights(30)
    cluster.restart(3)
    replica = cluster.replica(3)
    assert replica.last_delivered == 3
    catch_up(cluster, 3)
    assert cluster.heights()[3] == max(cluster.heights()) >= 33
    assert replica.stats.blocks_synced >= 28
    assert replica.low >= 32
    cluster.assert_agreement()
    for item in cluster.nodes[3].store:
        assert item.certificate.verify(cluster.validators, 3) is None
    # Afterwards it takes part in the normal case again.
    cluster.run_heights(2)
    assert len(set(cluster.heights())) == 1


def test_replica_that_missed_a_view_change_catches_up_and_joins_the_new_view() -> None:
    """§4.4 / §6.2: certificates of a later view show that view was installed; a replica
    that missed the NEW-VIEW syncs and follows."""
    cluster = Cluster(4)
    cluster.run_heights(2)
    cluster.crash(3)
    cluster.crash(0)
    cluster.restart(3)
    cluster.tick(20)
    cluster.deliver(lambda envelope: envelope.target != 3)
    cluster.drop(to(3))
    assert cluster.replica(1).view == 1 and not cluster.replica(1).in_view_change
    assert cluster.replica(3).in_view_change  # it never saw the NEW-VIEW
    catch_up(cluster, 3)
    assert cluster.heights()[3] == max(cluster.heights())
    assert cluster.replica(3).view >= 1
    cluster.assert_agreement()


def pending_sync_request(cluster: Cluster, index: int) -> SyncRequest:
    """Run until replica ``index`` asks for blocks; take its request off the network."""
    for _ in range(40):
        for envelope in cluster.network:
            if isinstance(envelope.message, SyncRequest) and envelope.source == index:
                cluster.network.remove(envelope)
                cluster.drop(to(index))
                return envelope.message
        cluster.propose()
        cluster.deliver(lambda e: not isinstance(e.message, SyncRequest) or e.source != index)
        cluster.tick()
    raise AssertionError("no SyncRequest")


def behind_replica() -> tuple[Cluster, SyncRequest]:
    cluster = Cluster(4)
    cluster.run_heights(2)
    cluster.crash(3)
    cluster.run_heights(12)
    cluster.restart(3)
    request = pending_sync_request(cluster, 3)
    assert request.height == 3
    return cluster, request


def respond(
    cluster: Cluster,
    request: SyncRequest,
    blocks: tuple[CommittedBlock, ...],
    sender: int | None = None,
    height: int | None = None,
) -> SyncResponse:
    if sender is None:
        sender = asked_peer(cluster, request)
    return sign_as(
        cluster,
        sender,
        SyncResponse(  # type: ignore[return-value]
            chain_id, 0, 0, request.height if height is None else height, sender, blocks, (), b""
        ),
    )


def asked_peer(cluster: Cluster, request: SyncRequest) -> int:
    return next(envelope.target for envelope in cluster.sent if envelope.message is request)


def stored(cluster: Cluster, request: SyncRequest) -> tuple[CommittedBlock, ...]:
    return tuple(cluster.nodes[0].store[request.height - 1 : request.height + 3])


def _flip(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:]


def _with_certificate(item: CommittedBlock, **changes: object) -> CommittedBlock:
    return replace(item, certificate=replace(item.certificate, **changes))


FORGED_CERTIFICATES = {
    "a bad signature": lambda c: _with_certificate(
        c,
        signatures=(
            replace(
                c.certificate.signatures[0], signature=_flip(c.certificate.signatures[0].signature)
            ),
            *c.certificate.signatures[1:],
        ),
    ),
    "too few signatures": lambda c: _with_certificate(c, signatures=c.certificate.signatures[:2]),
    "a signer twice": lambda c: _with_certificate(
        c, signatures=(*c.certificate.signatures[:2], c.certificate.signatures[0])
    ),
    "an unknown signer": lambda c: _with_certificate(
        c, signatures=(*c.certificate.signatures[:2], CommitSignature(7, bytes(64)))
    ),
    "another view": lambda c: _with_certificate(c, view=c.certificate.view + 1),
    "another digest": lambda c: _with_certificate(c, digest=bytes(32)),
}


@pytest.mark.parametrize("case", sorted(FORGED_CERTIFICATES))
def test_replica_rejects_a_synced_block_whose_certificate_is_forged(case: str) -> None:
    """§6.2: fetched state is accepted only with a proof — a commit certificate of a quorum
    of valid COMMIT signatures from distinct replicas for exactly this block."""
    cluster, request = behind_replica()
    blocks = stored(cluster, request)
    forged = (FORGED_CERTIFICATES[case](blocks[0]), *blocks[1:])
    inject(cluster, 3, respond(cluster, request, forged))
    replica = cluster.replica(3)
    assert ignored(replica, Ignored.INVALID_SYNC) == 1
    assert replica.last_delivered == 2 and replica.stats.blocks_synced == 0


def test_replica_rejects_a_synced_block_that_does_not_chain_onto_its_last_block() -> None:
    """§6.2: fetched blocks must extend the replica's own chain; a block with a valid
    quorum certificate (forged here with every key) but a wrong prev_hash is refused, and
    so is a gap."""
    cluster, request = behind_replica()
    blocks = stored(cluster, request)
    header = blocks[1].block.header
    broken_block = replace(blocks[1].block, header=replace(header, prev_hash=bytes(32)))
    signatures = tuple(
        CommitSignature(
            signer,
            sign_as(
                cluster,
                signer,
                Commit(chain_id, 0, 0, header.height, signer, broken_block.hash(), b""),
            ).signature,
        )
        for signer in range(3)
    )
    broken = CommittedBlock(
        broken_block,
        CommitCertificate(chain_id, 0, 0, header.height, broken_block.hash(), signatures),
    )
    assert broken.certificate.verify(cluster.validators, 3) is None
    inject(cluster, 3, respond(cluster, request, (blocks[0], broken, *blocks[2:])))
    replica = cluster.replica(3)
    assert ignored(replica, Ignored.INVALID_SYNC) == 1
    assert replica.last_delivered == 3  # the first block was fine

    request = pending_sync_request(cluster, 3)
    assert request.height == 4
    blocks = stored(cluster, request)
    inject(cluster, 3, respond(cluster, request, (blocks[1], blocks[2])))  # a gap
    assert ignored(replica, Ignored.INVALID_SYNC) == 2
    assert replica.last_delivered == 3
    cluster.assert_agreement()


def test_replica_takes_a_sync_response_only_from_the_peer_it_asked_for_the_height_it_asked() -> (
    None
):
    """§6.2: responses are matched to the outstanding request."""
    cluster, request = behind_replica()
    asked = asked_peer(cluster, request)
    other = next(peer for peer in (0, 1, 2) if peer != asked)
    blocks = stored(cluster, request)
    inject(cluster, 3, respond(cluster, request, blocks, sender=other))
    inject(cluster, 3, respond(cluster, request, blocks[1:], sender=asked, height=4))
    replica = cluster.replica(3)
    assert ignored(replica, Ignored.UNSOLICITED_SYNC) == 2
    assert replica.last_delivered == 2
    inject(cluster, 3, respond(cluster, request, blocks, sender=asked))
    assert replica.last_delivered == 2 + len(blocks)
    cluster.assert_agreement()


# -- cluster sizes -----------------------------------------------------------------------


def test_single_replica_cluster_commits_checkpoints_and_changes_view_alone() -> None:
    """§2 with f = 0: n = 1 needs a quorum of one; every phase completes locally."""
    cluster = Cluster(1)
    cluster.run_heights(10)
    replica = cluster.replica(0)
    assert cluster.heights() == [10] and replica.low == 8
    assert all(len(item.certificate.signatures) == 1 for item in cluster.nodes[0].store)
    cluster.tick(20)
    assert replica.view == 1 and not replica.in_view_change and replica.is_primary
    cluster.run_heights(3)
    assert cluster.heights() == [13]
    assert cluster.nodes[0].store[-1].certificate.view == 1


def test_seven_replicas_tolerate_two_crashed_including_the_primary() -> None:
    """§2: n = 3f + 1 = 7 replicas stay safe and live with f = 2 faulty ones."""
    cluster = Cluster(7)
    cluster.run_heights(3)
    cluster.crash(0)
    cluster.crash(4)
    cluster.tick(20)
    cluster.deliver()
    cluster.run_heights(12)
    live = [node.height for node in cluster.nodes if node.replica is not None]
    assert live == [15] * 5
    cluster.assert_agreement()
    assert all(
        item.certificate.verify(cluster.validators, 5) is None for item in cluster.nodes[1].store
    )


def test_seven_replicas_stop_with_three_crashed_but_never_disagree() -> None:
    """§2: beyond f faults liveness is lost (no quorum of 5 among 4 live replicas), never
    safety; after the third replica comes back, the cluster goes on."""
    cluster = Cluster(7)
    cluster.run_heights(2)
    for index in (1, 2, 3):
        cluster.crash(index)
    cluster.propose()
    cluster.deliver()
    assert [cluster.nodes[i].height for i in (0, 4, 5, 6)] == [2, 2, 2, 2]
    cluster.restart(3)
    for _ in range(10):
        cluster.tick(20)
        cluster.deliver()
    cluster.run_heights(3)
    # The height-3 proposal of view 0 never prepared; views 1 and 2 have crashed
    # primaries; replica 3 proposes heights 3..5 in view 3.
    assert [cluster.nodes[i].height for i in (0, 3, 4, 5, 6)] == [5] * 5
    assert cluster.nodes[0].store[2].block.header.proposer == 3
    cluster.assert_agreement()


def test_replica_does_not_flood_peers_with_sync_requests_they_cannot_serve() -> None:
    """§6.2: state transfer is retried on a timeout; a replica that asked and got nothing
    newer waits (sync_timeout_ticks) before it asks again, so catch-up traffic is bounded
    per tick."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(
        lambda envelope: (
            not isinstance(envelope.message, Commit)
            and not (isinstance(envelope.message, Prepare) and envelope.target == 3)
        )
    )
    cluster.drop(of_type(Prepare))
    cluster.deliver(
        lambda envelope: (
            isinstance(envelope.message, Commit)
            and envelope.target == 3
            and envelope.source in (1, 2)
        )
    )
    cluster.drop(of_type(Commit))
    assert cluster.heights() == [0, 0, 0, 0]  # nobody committed height 1
    cluster.tick(8, only=[3])  # replica 3 is stalled; 1 and 2 showed COMMITs for height 1
    for _ in range(100):  # no tick passes while the network is pumped
        if not cluster.network:
            break
        cluster._receive(cluster.network.pop(0))
    requests = [envelope for envelope in cluster.sent if isinstance(envelope.message, SyncRequest)]
    assert 1 <= len(requests) <= 3


def test_a_partitioned_minority_commits_nothing_and_the_quorum_side_goes_on() -> None:
    """§2 / §4.2: a quorum is needed to prepare and commit, so with the replicas split
    2 / 2 nothing commits anywhere, while a 3 / 1 split lets the side of 3 go on; after the
    partition heals the cut-off replica catches up and all agree."""
    cluster = Cluster(4)
    cluster.run_heights(2)

    def round_in(*groups: list[int]) -> None:
        cluster.deliver(within(*groups))
        partition(cluster, *groups)  # what crossed the cut is lost

    cluster.propose()
    round_in([0, 1], [2, 3])
    assert cluster.heights() == [2, 2, 2, 2]
    cluster.tick(20)  # no progress: all time out; view 1 needs 3 VIEW-CHANGEs, still split
    round_in([0, 1], [2, 3])
    assert all(cluster.replica(index).in_view_change for index in range(4))
    # The split changes to 3 / 1: the side of 3 finishes the view change and goes on.
    for _ in range(4):
        cluster.tick(20)
        round_in([0, 1, 2], [3])
        if not cluster.replica(0).in_view_change:
            break
    for _ in range(3):
        if cluster.replica(cluster.primary)._proposal_height() is not None:
            cluster.propose()
        round_in([0, 1, 2], [3])
    assert cluster.heights()[3] == 2 and min(cluster.heights()[:3]) >= 4
    catch_up(cluster, 3)
    assert len(set(cluster.heights())) == 1
    cluster.assert_agreement()


def test_restart_from_a_compacted_log_keeps_every_promise() -> None:
    """§4.3 / §5: after a stable checkpoint the log may be truncated to what a restart still
    needs (``Replica.durable_records``); a replica restarted from that log still refuses
    to prepare another digest for a (view, height) it prepared, and still reports its
    prepared certificates in its VIEW-CHANGE."""
    cluster = Cluster(4)
    cluster.run_heights(4)
    cluster.propose()
    genuine = next(
        envelope.message for envelope in cluster.network if isinstance(envelope.message, PrePrepare)
    )
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    node = cluster.nodes[1]
    assert cluster.replica(1).low == 4
    node.records = list(cluster.replica(1).durable_records())
    cluster.crash(1)
    cluster.restart(1)
    replica = cluster.replica(1)
    assert replica.low == 4 and replica.view == 0 and replica._slots[5].prepared is not None
    twin = make_pre_prepare(
        cluster,
        make_block(
            cluster, 5, 0, 0, genuine.block.header.prev_hash, genuine.block.header.timestamp_ms + 1
        ),
    )
    assert inject(cluster, 1, twin).send == []
    assert ignored(replica, Ignored.CONFLICTS_WITH_VOTE) == 1
    cluster.tick(20, only=[1])
    change = sent(cluster, ViewChange, 1)[-1]
    assert change.height == 4 and len(change.checkpoint_proof) >= 3
    assert [certificate.pre_prepare.digest for certificate in change.prepared] == [genuine.digest]
