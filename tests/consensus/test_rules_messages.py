"""Messages a replica must ignore, each counted under its reason in ``stats.ignored``.

References: Castro & Liskov, OSDI 1999 §4.2 and TOCS 2002 §4.2 ("replicas accept ... messages
provided they are properly signed, their view number matches the replica's current view
and the sequence number is between h and H"), §4.4 (messages during a view change), §2
(the authenticated, Byzantine fault model: anything else is dropped). Agora adds the chain
id and the shard to every message; a message for another chain or shard is ignored.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from consensus.events import Output
from consensus.replica import Ignored
from consensus.types import (
    Checkpoint,
    Commit,
    Message,
    NewView,
    Prepare,
    PrePrepare,
    SyncRequest,
    SyncResponse,
    ViewChange,
)
from tests.consensus.scenario import (
    Cluster,
    chain_id,
    ignored,
    inject,
    make_block,
    make_pre_prepare,
    sign_as,
    vote,
)

target = 3


@cache
def genuine_messages() -> dict[str, Message]:
    """One genuine message of every kind, none of them from replica ``target``."""
    cluster = Cluster(4)
    cluster.run_heights(4)
    cluster.tick(20)
    cluster.deliver()
    found: dict[str, Message] = {}
    for envelope in cluster.sent:
        message = envelope.message
        if envelope.source != target:
            found.setdefault(type(message).__name__, message)
    found["SyncRequest"] = sign_as(cluster, 2, SyncRequest(chain_id, 0, 0, 1, 2, 4, b""))
    found["SyncResponse"] = sign_as(
        cluster, 2, SyncResponse(chain_id, 0, 0, 1, 2, tuple(cluster.nodes[2].store[:2]), (), b"")
    )
    assert sorted(found) == sorted(
        kind.__name__
        for kind in (
            PrePrepare,
            Prepare,
            Commit,
            Checkpoint,
            ViewChange,
            NewView,
            SyncRequest,
            SyncResponse,
        )
    )
    return found


def resigned(message: Message, signer: int, **changes: object) -> Message:
    return sign_as(_keys(), signer, replace(message, **changes))  # type: ignore[arg-type]


@cache
def _keys() -> Cluster:
    return Cluster(4)


COMMON = {
    "another chain": (lambda m: resigned(m, m.sender, chain_id="other"), Ignored.WRONG_CHAIN),
    "another shard": (lambda m: resigned(m, m.sender, shard=1), Ignored.WRONG_SHARD),
    "an unknown signer": (lambda m: resigned(m, m.sender, sender=4), Ignored.UNKNOWN_SENDER),
    "a huge signer index": (lambda m: resigned(m, m.sender, sender=2**62), Ignored.UNKNOWN_SENDER),
    "its own id": (lambda m: resigned(m, target, sender=target), Ignored.FROM_SELF),
}


@pytest.mark.parametrize(
    "kind",
    [
        "PrePrepare",
        "Prepare",
        "Commit",
        "Checkpoint",
        "ViewChange",
        "NewView",
        "SyncRequest",
        "SyncResponse",
    ],
)
@pytest.mark.parametrize("case", sorted(COMMON))
def test_replica_ignores_messages_for_another_chain_or_shard_or_from_unknown_signers(
    kind: str, case: str
) -> None:
    """§2 / §4.2: only properly signed messages of this system's replicas are accepted;
    Agora messages also name chain and shard, and a replica never takes its own message
    from the network. The message changes nothing and is counted under its reason."""
    mutate, reason = COMMON[case]
    message = mutate(genuine_messages()[kind])
    cluster = Cluster(4)
    out = inject(cluster, target, message)
    replica = cluster.replica(target)
    assert replica.stats.ignored == {reason.value: 1}
    assert_nothing_done(out, cluster)


def assert_nothing_done(out: Output, cluster: Cluster) -> None:
    assert out.send == [] and out.persist == [] and out.deliver == []
    assert cluster.network == []


def test_replica_ignores_votes_for_earlier_later_or_changing_views() -> None:
    """§4.2: prepares and commits are accepted only for the replica's current view, and not
    while it is changing views (§4.4: it then accepts only CHECKPOINT, VIEW-CHANGE and
    NEW-VIEW)."""
    cluster = Cluster(4)
    cluster.propose()
    digest = cluster.network[0].message.digest  # type: ignore[attr-defined]
    cluster.network.clear()
    replica = cluster.replica(target)
    inject(cluster, target, vote(cluster, Prepare, 1, 1, digest, view=2))
    inject(cluster, target, vote(cluster, Commit, 1, 1, digest, view=2))
    assert ignored(replica, Ignored.FUTURE_VIEW) == 2
    cluster.tick(20, only=[target])
    assert replica.in_view_change and replica.view == 1
    cluster.network.clear()
    inject(cluster, target, vote(cluster, Prepare, 2, 1, digest, view=1))
    assert ignored(replica, Ignored.IN_VIEW_CHANGE) == 1
    inject(cluster, target, vote(cluster, Prepare, 2, 1, digest, view=0))
    inject(cluster, target, vote(cluster, Commit, 2, 1, digest, view=0))
    assert ignored(replica, Ignored.STALE_VIEW) == 2
    assert cluster.network == []


def test_replica_counts_a_duplicate_vote_once_and_ignores_it() -> None:
    """§4.2: the log keeps one prepare and one commit per replica and sequence number; a
    repeated message neither counts twice towards a quorum nor changes anything."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    commit = next(
        envelope.message
        for envelope in cluster.network
        if isinstance(envelope.message, Commit) and envelope.source == 1
    )
    cluster.network.clear()
    for _ in range(3):
        inject(cluster, target, commit)
    replica = cluster.replica(target)
    assert ignored(replica, Ignored.DUPLICATE) == 2
    assert cluster.nodes[target].height == 0  # own + replica 1's: still two of three


def test_replica_ignores_an_unsolicited_sync_response_and_leaves_sync_requests_to_the_shell() -> (
    None
):
    """Catch-up (replica docstring, after §4.3's state transfer): a SyncResponse is taken
    only from the peer asked, for the height asked; SyncRequests are served by the shell
    from its block store, so the core counts and ignores them."""
    messages = genuine_messages()
    cluster = Cluster(4)
    inject(cluster, target, messages["SyncResponse"])
    inject(cluster, target, messages["SyncRequest"])
    replica = cluster.replica(target)
    assert ignored(replica, Ignored.UNSOLICITED_SYNC) == 1
    assert ignored(replica, Ignored.SYNC_REQUEST) == 1
    assert cluster.nodes[target].height == 0


@pytest.mark.parametrize(
    "kind", ["PrePrepare", "Prepare", "Commit", "Checkpoint", "ViewChange", "NewView"]
)
def test_replica_ignores_a_message_whose_signature_does_not_verify(kind: str) -> None:
    """§4.2: messages are accepted only if "the signatures ... are correct"."""
    message = genuine_messages()[kind]
    forged = replace(message, signature=bytes(64))
    cluster = Cluster(4)
    if kind in ("Prepare", "Commit", "PrePrepare"):
        for _ in range(message.height - 1):
            cluster.propose()
            cluster.deliver()
    if kind == "NewView":
        cluster.tick(20, only=[target])
        cluster.network.clear()
    out = inject(cluster, target, forged)
    assert ignored(cluster.replica(target), Ignored.BAD_SIGNATURE) == 1, cluster.replica(
        target
    ).stats.ignored
    assert out.send == [] and out.deliver == []


def test_forged_conflicting_messages_are_counted_as_bad_signatures_not_equivocation() -> None:
    """§4.2: a message is considered only once its signature is correct; equivocation is
    evidence against the signer only when the signer signed both messages."""
    cluster = Cluster(4)
    cluster.run_heights(3)
    cluster.propose()
    cluster.deliver(lambda envelope: not isinstance(envelope.message, (Commit, Checkpoint)))
    cluster.deliver(
        lambda envelope: isinstance(envelope.message, Commit) and envelope.target in (1, 2)
    )
    cluster.deliver(
        lambda envelope: (
            isinstance(envelope.message, Checkpoint)
            and envelope.source == 2
            and envelope.target == 1
        )
    )
    replica = cluster.replica(1)
    assert replica.low == 0
    assert replica._slots[4].pre_prepare is not None and 2 in replica._slots[4].commits
    assert 2 in replica._checkpoints.get(4, {})  # height 4 delivered, checkpoints in
    replica.stats.ignored.clear()
    other = b"\x01" * 32
    forged = [
        make_pre_prepare(cluster, make_block(cluster, 4, 0, 0, other, 4_242)),
        vote(cluster, Prepare, 2, 4, other),
        vote(cluster, Commit, 2, 4, other),
        sign_as(cluster, 2, Checkpoint(chain_id, 0, 0, 4, 2, other, other, b"")),
    ]
    for message in forged:
        inject(cluster, 1, replace(message, signature=bytes(64)))
    assert replica.stats.ignored == {Ignored.BAD_SIGNATURE.value: len(forged)}
