"""PBFT view-change rules, one scenario per rule.

References: Castro & Liskov, OSDI 1999 §4.4 (view changes) and TOCS 2002 §4.4 (view-change
protocol with prepared certificates), §4.5.2 (liveness: timeouts that double, joining
after f + 1 VIEW-CHANGEs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from consensus.replica import Ignored
from consensus.types import (
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    zero_digest,
)
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
)


def test_backups_start_a_view_change_when_the_primary_makes_no_progress() -> None:
    """§4.4: a backup whose timer expires in view v starts a view change to v + 1: it stops
    accepting messages other than checkpoint, view-change and new-view, and multicasts
    VIEW-CHANGE; the new primary installs the view with NEW-VIEW."""
    cluster = Cluster(4)  # view timeout 20 ticks
    cluster.run_heights(2)
    cluster.crash(0)
    cluster.tick(19)
    assert sent(cluster, ViewChange) == []
    cluster.tick(1)
    changes = sent(cluster, ViewChange)
    assert sorted(change.sender for change in changes) == [1, 2, 3]
    assert {change.view for change in changes} == {1}
    assert all(cluster.replica(index).in_view_change for index in (1, 2, 3))
    cluster.deliver()
    assert [message.sender for message in sent(cluster, NewView)] == [1]
    for index in (1, 2, 3):
        replica = cluster.replica(index)
        assert replica.view == 1 and not replica.in_view_change
    cluster.run_heights(3)
    assert cluster.heights() == [2, 5, 5, 5]
    cluster.assert_agreement()


def test_view_timeout_doubles_for_each_view_that_fails_and_is_capped() -> None:
    """§4.5.2: if the timer expires in view v + 1 before a NEW-VIEW arrives, the replica
    starts a view change to v + 2 but waits 2T this time (capped in Agora)."""
    cluster = Cluster(7, view_timeout_ticks=20, view_timeout_max_ticks=160)
    replica = cluster.replica(6)  # never the primary of views 1..5
    fired: list[int] = []
    for number in range(1, 20 + 40 + 80 + 160 + 160 + 2):
        view = replica.view
        cluster.tick()
        if replica.view > view:
            fired.append(number)
        # Every NEW-VIEW is lost, so every view change fails.
        cluster.deliver(lambda envelope: not isinstance(envelope.message, NewView))
        cluster.drop(of_type(NewView))
    assert fired == [20, 60, 140, 300, 460]
    assert replica.view == 5 and replica.in_view_change


def test_view_timeout_resets_after_progress_in_the_new_view() -> None:
    """§4.5.2: the doubled timeout holds until the replica executes a new request in the new
    view; after that a failing primary is again suspected after T."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()
    assert all(cluster.replica(index).view == 1 for index in (1, 2, 3))
    # No progress yet in view 1: 20 ticks are not enough (the timeout is now 40).
    cluster.tick(20)
    assert cluster.replica(2).view == 1 and not cluster.replica(2).in_view_change
    cluster.run_heights(1)
    before = len(cluster.sent)
    cluster.crash(1)
    cluster.tick(19)
    assert not any(isinstance(envelope.message, ViewChange) for envelope in cluster.sent[before:])
    cluster.tick(1)
    assert {change.view for change in sent(cluster, ViewChange)[-2:]} == {2}
    assert cluster.replica(2).in_view_change and cluster.replica(3).in_view_change


def test_replica_joins_a_view_change_after_f_plus_one_view_changes_for_later_views() -> None:
    """§4.5.2: a replica that receives f + 1 valid VIEW-CHANGEs for views above its own
    sends a VIEW-CHANGE for the smallest of them, even before its own timer expires."""
    cluster = Cluster(4)  # f = 1
    cluster.run_heights(1)
    cluster.tick(20, only=[1, 2])
    cluster.deliver(all_of(of_type(ViewChange), from_(1), to(3)))
    replica = cluster.replica(3)
    assert replica.view == 0 and not replica.in_view_change  # f VIEW-CHANGEs: not yet
    cluster.deliver(all_of(of_type(ViewChange), from_(2), to(3)))
    assert replica.view == 1 and replica.in_view_change
    assert [change.view for change in sent(cluster, ViewChange, 3)] == [1]
    cluster.deliver()
    assert all(cluster.replica(index).view == 1 for index in range(4))
    cluster.run_heights(2)
    assert cluster.heights() == [3, 3, 3, 3]


def test_new_view_recommits_a_block_prepared_by_a_quorum_but_committed_at_only_one_replica() -> (
    None
):
    """§4.4 (safety of view changes): a request committed at any correct replica was
    prepared by a quorum, so every NEW-VIEW re-proposes it with the same digest and it
    commits with the same hash in the next view."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.deliver(all_of(of_type(Commit), to(1)))
    cluster.network.clear()
    assert cluster.heights() == [1, 2, 1, 1]
    first, committed = (item.block.hash() for item in cluster.nodes[1].store)
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()
    new_view = sent(cluster, NewView)[-1]
    # Height 1 is final everywhere but still above the low watermark: re-proposed too.
    assert [pp.digest for pp in new_view.pre_prepares] == [first, committed]
    assert all(pp.view == 1 for pp in new_view.pre_prepares)
    assert all(item.block.header.view == 0 for item in cluster.nodes[2].store)
    assert cluster.heights() == [1, 2, 2, 2]
    for index in (2, 3):
        item = cluster.nodes[index].store[1]
        assert item.block.hash() == committed and item.certificate.view == 1
    cluster.run_heights(2)
    cluster.assert_agreement()


def test_new_view_stops_at_the_first_height_without_a_prepared_certificate() -> None:
    """§4.4 with Agora's pipelining rule: a height nobody prepared cannot have committed
    anywhere, and neither can any height above it (COMMIT for h waits for h - 1), so the
    NEW-VIEW re-proposes only the prepared prefix and the new primary proposes afresh."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    cluster.propose()
    cluster.propose()
    cluster.deliver(of_type(PrePrepare))
    cluster.deliver(all_of(of_type(Prepare), lambda envelope: envelope.message.height == 1))
    cluster.network.clear()
    assert all(cluster.replica(index)._slots[1].prepared is not None for index in range(4))
    assert all(cluster.replica(index)._slots[2].prepared is None for index in range(4))
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()
    new_view = sent(cluster, NewView)[-1]
    assert [pp.height for pp in new_view.pre_prepares] == [1]
    assert cluster.heights() == [0, 1, 1, 1]
    height = cluster.propose()
    assert height == 2
    cluster.deliver()
    assert cluster.heights() == [0, 2, 2, 2]
    assert cluster.nodes[1].store[1].block.header.proposer == 1


def test_view_change_carries_the_stable_checkpoint_and_prepared_certificates_above_it() -> None:
    """§4.4: VIEW-CHANGE(v + 1, n, C, P, i): n is the stable checkpoint, C its 2f + 1
    proof, P a prepared certificate for every request prepared above n."""
    cluster = Cluster(4)
    cluster.run_heights(5)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.tick(20, only=[2])
    change = sent(cluster, ViewChange, 2)[-1]
    assert change.view == 1 and change.height == 4
    assert len(change.checkpoint_proof) == 3
    assert {checkpoint.height for checkpoint in change.checkpoint_proof} == {4}
    assert [certificate.pre_prepare.height for certificate in change.prepared] == [5, 6]
    for certificate in change.prepared:
        assert len(certificate.prepares) == 2
        assert 0 not in {prepare.sender for prepare in certificate.prepares}
    assert change.has_valid_signature(cluster.validators)


# -- invalid NEW-VIEW and VIEW-CHANGE ------------------------------------------------------


def _view_change_setup() -> tuple[Cluster, NewView]:
    """Block 1 prepared everywhere, the primary crashed, 2 and 3 waiting in the view change
    to view 1; the genuine NEW-VIEW from replica 1 is returned, not delivered."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver(all_of(of_type(ViewChange), to(1)))
    new_views = [
        envelope.message for envelope in cluster.network if isinstance(envelope.message, NewView)
    ]
    cluster.network.clear()
    assert new_views and len(new_views[0].pre_prepares) == 1
    return cluster, new_views[0]  # type: ignore[return-value]


def _resign(cluster: Cluster, message: NewView, **changes: object) -> NewView:
    return sign_as(cluster, message.sender, replace(message, **changes))  # type: ignore


def _other_re_proposal(cluster: Cluster, message: NewView) -> NewView:
    block = make_block(cluster, 1, 1, 1, zero_digest, 123_456)
    return _resign(cluster, message, pre_prepares=(make_pre_prepare(cluster, block).head(),))


def _forged_view_change(cluster: Cluster, message: NewView) -> NewView:
    first = message.view_changes[0]
    forged = replace(first, prepared=())  # not re-signed by its sender
    return _resign(
        cluster,
        message,
        view_changes=(forged, *message.view_changes[1:]),
        pre_prepares=message.pre_prepares,
    )


def _view_change_with_forged_certificate(cluster: Cluster, message: NewView) -> NewView:
    first = message.view_changes[0]
    certificate = first.prepared[0]
    bad = replace(certificate, prepares=certificate.prepares[:1])  # too few prepares
    change = sign_as(cluster, first.sender, replace(first, prepared=(bad,)))
    return _resign(cluster, message, view_changes=(change, *message.view_changes[1:]))


NEW_VIEW_TAMPERING: dict[str, tuple[Callable[[Cluster, NewView], NewView], Ignored]] = {
    "another re-proposal": (_other_re_proposal, Ignored.INVALID_NEW_VIEW),
    "a re-proposal left out": (
        lambda c, m: _resign(c, m, pre_prepares=()),
        Ignored.INVALID_NEW_VIEW,
    ),
    "a re-proposal added": (
        lambda c, m: _resign(
            c,
            m,
            pre_prepares=(
                *m.pre_prepares,
                make_pre_prepare(
                    c, make_block(c, 2, 1, 1, m.pre_prepares[0].digest, 9_999_999)).head(),
            ),
        ),
        Ignored.INVALID_NEW_VIEW,
    ),
    "too few view changes": (
        lambda c, m: _resign(c, m, view_changes=m.view_changes[:2]),
        Ignored.INVALID_NEW_VIEW,
    ),
    "a view change twice": (
        lambda c, m: _resign(c, m, view_changes=(*m.view_changes[:2], m.view_changes[0])),
        Ignored.INVALID_NEW_VIEW,
    ),
    "a forged view change": (_forged_view_change, Ignored.INVALID_NEW_VIEW),
    "a view change with a bad certificate": (
        _view_change_with_forged_certificate,
        Ignored.INVALID_NEW_VIEW,
    ),
    "a wrong start height": (lambda c, m: _resign(c, m, height=4), Ignored.INVALID_NEW_VIEW),
    "not from the new primary": (
        lambda c, m: sign_as(c, 3, replace(m, sender=3)),
        Ignored.NOT_PRIMARY,
    ),
    "a bad signature": (lambda c, m: replace(m, signature=bytes(64)), Ignored.BAD_SIGNATURE),
}


@pytest.mark.parametrize("case", sorted(NEW_VIEW_TAMPERING))
def test_backup_rejects_an_invalid_new_view(case: str) -> None:
    """§4.4: a backup accepts NEW-VIEW for v + 1 only if it is signed by the new primary,
    its VIEW-CHANGEs are valid and from a quorum of distinct replicas, and its
    pre-prepares are exactly those the backup computes from them."""
    cluster, genuine = _view_change_setup()
    tamper, reason = NEW_VIEW_TAMPERING[case]
    bad = tamper(cluster, genuine)
    assert bad != genuine
    out = inject(cluster, 2, bad)
    replica = cluster.replica(2)
    assert ignored(replica, reason) == 1, replica.stats.ignored
    assert replica.in_view_change and out.send == []
    inject(cluster, 2, genuine)
    assert not replica.in_view_change and replica.view == 1
    assert {
        (envelope.message.sender, envelope.message.height)
        for envelope in cluster.network
        if isinstance(envelope.message, Prepare)
    } == {(2, 1)}


def test_backup_rejects_a_view_change_with_an_invalid_prepared_certificate() -> None:
    """§4.4: a VIEW-CHANGE is valid only if its prepared certificates are: a pre-prepare
    from the primary of its view and 2f matching prepares from distinct backups, each
    from a view before the new one."""
    cluster, genuine = _view_change_setup()
    change = genuine.view_changes[0]
    certificate = change.prepared[0]
    primary_prepare = sign_as(cluster, 0, replace(certificate.prepares[0], sender=0))
    header = certificate.header
    variants = [
        PreparedCertificate(certificate.pre_prepare, header, certificate.prepares[:1]),
        PreparedCertificate(certificate.pre_prepare, header, (certificate.prepares[0],) * 2),
        PreparedCertificate(certificate.pre_prepare, header,
                            (certificate.prepares[0], primary_prepare)),
        PreparedCertificate(replace(certificate.pre_prepare, view=1), header,
                            certificate.prepares),
        # The header must be the one the digest names.
        PreparedCertificate(certificate.pre_prepare, replace(header, timestamp_ms=1),
                            certificate.prepares),
    ]
    replica = cluster.replica(3)
    for variant in variants:
        bad = sign_as(cluster, change.sender, replace(change, prepared=(variant,)))
        inject(cluster, 3, bad)
    assert ignored(replica, Ignored.INVALID_VIEW_CHANGE) == len(variants)
    no_proof = sign_as(cluster, change.sender, replace(change, height=4))
    inject(cluster, 3, no_proof)
    assert ignored(replica, Ignored.INVALID_VIEW_CHANGE) == len(variants) + 1
    assert (
        change.sender not in replica._view_changes or replica._view_changes[change.sender] == change
    )


def test_stale_and_duplicate_view_changes_are_counted_and_ignored() -> None:
    """§4.4: VIEW-CHANGEs for views at or below the current one are stale."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.tick(20)
    changes = [
        envelope.message
        for envelope in cluster.network
        if isinstance(envelope.message, ViewChange) and envelope.target == 3
    ]
    cluster.deliver(all_of(of_type(ViewChange), to(3)))
    replica = cluster.replica(3)
    inject(cluster, 3, changes[0])
    assert ignored(replica, Ignored.DUPLICATE) == 1
    cluster.deliver()
    assert replica.view == 1 and not replica.in_view_change
    inject(cluster, 3, changes[1])
    assert ignored(replica, Ignored.STALE_VIEW) >= 1


def test_replica_that_missed_the_new_view_rejoins_the_view_when_it_learns_it_was_installed() -> (
    None
):
    """§4.4: a replica accepts NEW-VIEW for v and then takes part in view v; a commit
    certificate of view v proves a quorum installed v (replica docstring, catch-up), so a
    replica that voted for v and missed the NEW-VIEW must enter v, not wait outside it."""
    cluster = Cluster(4)
    cluster.run_heights(2)
    cluster.tick(20)
    cluster.deliver(
        lambda envelope: not (isinstance(envelope.message, NewView) and envelope.target == 3)
    )
    cluster.drop(of_type(NewView))
    replica = cluster.replica(3)
    assert replica.view == 1 and replica.in_view_change
    assert all(
        cluster.replica(index).view == 1 and not cluster.replica(index).in_view_change
        for index in (0, 1, 2)
    )
    for _ in range(40):
        cluster.propose()
        cluster.deliver()
        cluster.tick()
        cluster.deliver()
    assert replica.stats.blocks_synced > 0  # it learned view-1 certificates by catch-up
    assert not replica.in_view_change
    before = len(cluster.sent)
    cluster.propose()
    cluster.deliver()
    assert any(
        isinstance(envelope.message, Prepare) and envelope.source == 3
        for envelope in cluster.sent[before:]
    )
    assert len(set(cluster.heights())) == 1


def test_backup_behind_the_new_views_checkpoint_adopts_it_with_the_new_view() -> None:
    """§4.4: NEW-VIEW names the latest stable checkpoint among the VIEW-CHANGEs; a backup
    whose own low watermark is older takes that checkpoint (its proof is in the
    VIEW-CHANGEs) and moves its watermarks when it installs the view."""
    cluster = Cluster(4)
    cluster.run_heights(3)
    cluster.propose()
    cluster.deliver(
        lambda envelope: not (isinstance(envelope.message, Checkpoint) and envelope.target == 3)
    )
    cluster.drop(of_type(Checkpoint))
    assert [cluster.replica(index).low for index in range(4)] == [4, 4, 4, 0]
    cluster.tick(20)
    cluster.deliver()
    new_view = sent(cluster, NewView)[-1]
    assert new_view.height == 4
    replica = cluster.replica(3)
    assert replica.view == 1 and not replica.in_view_change and replica.low == 4
    cluster.run_heights(2)
    assert cluster.heights() == [6, 6, 6, 6]


def test_replica_restarted_during_a_view_change_resends_its_view_change_and_the_view_installs() -> (
    None
):
    """§4.4 / §5: VIEW-CHANGE messages are retransmitted; a replica that restarts while
    changing views rebuilds its VIEW-CHANGE from its durable records (view, checkpoint,
    prepared certificates) and sends it, so the view change does not hang on it."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.crash(0)
    cluster.tick(20)
    cluster.drop(lambda envelope: envelope.source == 3)  # replica 3's VIEW-CHANGE is lost
    cluster.crash(3)
    cluster.restart(3)
    cluster.tick(1)
    resent = sent(cluster, ViewChange, 3)
    assert len(resent) >= 1 and resent[-1].view == 1
    assert [certificate.pre_prepare.height for certificate in resent[-1].prepared] == [1, 2]
    cluster.deliver()
    assert all(
        cluster.replica(index).view == 1 and not cluster.replica(index).in_view_change
        for index in (1, 2, 3)
    )
    assert cluster.heights() == [1, 2, 2, 2]
    cluster.assert_agreement()


def test_an_equivocating_primary_cannot_make_correct_replicas_commit_different_blocks() -> None:
    """§4.2 / §4.4 (safety): a faulty primary sends block A to one backup and B to the
    others; only B can gather a prepared certificate, the backup holding A never prepares,
    and after the view change every correct replica commits B at that height."""
    cluster = Cluster(4)
    cluster.propose()
    block_b = next(
        envelope.message for envelope in cluster.network if isinstance(envelope.message, PrePrepare)
    )
    cluster.network.clear()
    block_a = make_pre_prepare(cluster, make_block(cluster, 1, 0, 0, zero_digest, 31_337))
    inject(cluster, 1, block_a)
    inject(cluster, 2, block_b)
    inject(cluster, 3, block_b)
    cluster.deliver(lambda envelope: envelope.target != 0)
    # The faulty primary adds its COMMIT for B at replica 2 only.
    inject(cluster, 2, sign_as(cluster, 0, Commit("scenario", 0, 0, 1, 0, block_b.digest, b"")))
    cluster.network.clear()
    assert cluster.heights()[1:] == [0, 1, 0]
    assert cluster.nodes[2].store[0].block.hash() == block_b.digest
    assert cluster.replica(1)._slots[1].prepared is None
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()
    assert cluster.heights()[1:] == [1, 1, 1]
    assert {cluster.nodes[index].store[0].block.hash() for index in (1, 2, 3)} == {block_b.digest}
    cluster.run_heights(2)
    cluster.assert_agreement()


def commit_quorums(cluster: Cluster, quorum: int) -> set[tuple[int, bytes]]:
    """(height, digest) of every block for which a quorum sent matching COMMITs in a view."""
    senders: dict[tuple[int, int, bytes], set[int]] = {}
    for envelope in cluster.sent:
        message = envelope.message
        if isinstance(message, Commit):
            senders.setdefault((message.view, message.height, message.digest), set()).add(
                message.sender
            )
    return {
        (height, digest) for (_view, height, digest), who in senders.items() if len(who) >= quorum
    }


def test_block_committed_by_a_quorum_survives_the_view_change_with_deep_pipelining() -> None:
    """§4.4 safety with Agora's pipelining: a block that gathered a quorum of COMMITs is
    committed; every later NEW-VIEW must keep it at its height. Here three heights are in
    flight (lag 4), the PREPAREs of the first are lost, the next two prepare."""
    cluster = Cluster(4, state_root_lag_blocks=4)
    for _ in range(3):
        cluster.propose()
    cluster.deliver(of_type(PrePrepare))
    cluster.drop(
        lambda envelope: isinstance(envelope.message, Prepare) and envelope.message.height == 1
    )
    cluster.deliver()
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()
    cluster.run_heights(3)
    heights = cluster.heights()
    assert heights[1:] == [3, 3, 3]
    for height, digest in commit_quorums(cluster, 3):
        assert cluster.nodes[1].store[height - 1].block.hash() == digest, height
    cluster.assert_agreement()
