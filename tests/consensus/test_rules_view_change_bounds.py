"""View-change messages are bounded by construction (issue #12 point 2).

Before: a VIEW-CHANGE carried every prepared block and a NEW-VIEW every re-proposed one,
so blocks of 64 txs of 64 KB made a 20 MB VIEW-CHANGE, above the 16 MiB frame limit: the
send raised, and a restarted replica re-sent the same VIEW-CHANGE (a permanent outage).
Now prepared certificates and re-proposals carry the PRE-PREPARE's head and the block
header (Castro & Liskov §4.4: digests), a replica without a re-proposed body fetches it
with BLOCK-REQUEST and votes for that height only once it holds a body with that digest,
and a stale VIEW-CHANGE gets the NEW-VIEW again at most once per retransmit period.
"""

from __future__ import annotations

import dataclasses
import hashlib

from consensus.events import Tick
from consensus.replica import Ignored
from consensus.types import (
    BlockRequest,
    BlockResponse,
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    Signer,
    Transaction,
    ViewChange,
    encode_message,
    new_view_bytes_max,
    view_change_bytes_max,
)
from tests.consensus.scenario import Cluster, all_of, ignored, inject, of_type, sent, to

big_tx_bytes = 64 * 1024
frame_bytes_max = 16 * 1024 * 1024


def _big_txs(count: int) -> tuple[Transaction, ...]:
    signer = Signer(hashlib.sha256(b"big txs").digest())
    txs = []
    for index in range(count):
        tx = Transaction("scenario", signer.public_key, index, 900, 0, b"", "transfer",
                         bytes([index % 256]) * big_tx_bytes, b"")
        txs.append(dataclasses.replace(tx, signature=signer.sign(tx.signing_bytes())))
    return tuple(txs)


def _sizes(cluster: Cluster, kind: type) -> list[int]:
    return [len(encode_message(message)) for message in sent(cluster, kind)]


def test_view_change_messages_do_not_grow_with_block_size_and_every_block_still_commits(
) -> None:
    """Three heights of 1 MiB blocks prepared everywhere, the primary crashes: every
    VIEW-CHANGE and NEW-VIEW is a few KB (under the stated bound, far under a frame), and
    after the view change every replica commits the same three blocks."""
    cluster = Cluster(4, checkpoint_interval_blocks=4, watermark_window_blocks=8,
                      state_root_lag_blocks=4)
    block_txs = _big_txs(16)
    for _ in range(3):
        cluster.propose(block_txs)
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    assert cluster.heights() == [0, 0, 0, 0]
    assert len(encode_message(sent(cluster, PrePrepare)[0])) > 16 * big_tx_bytes
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver()
    changes, new_views = _sizes(cluster, ViewChange), _sizes(cluster, NewView)
    assert changes and new_views
    assert all(len(message.prepared) == 3 for message in sent(cluster, ViewChange))
    assert max(changes) <= view_change_bytes_max(4, 8) < 64 * 1024
    assert max(new_views) <= new_view_bytes_max(4, 8) < frame_bytes_max
    assert max(changes + new_views) < big_tx_bytes  # less than one of the block's txs
    assert cluster.heights() == [0, 3, 3, 3]
    cluster.assert_agreement()
    assert all(len(item.block.txs) == 16 for item in cluster.nodes[1].store)


def test_the_stated_bounds_hold_for_the_largest_valid_messages_and_fit_a_frame() -> None:
    """The bound is a function of n and the window only; for the default genesis (64
    blocks) it fits the frame limit up to 31 validators."""
    assert view_change_bytes_max(4, 64) < new_view_bytes_max(4, 64) < 512 * 1024
    assert new_view_bytes_max(31, 64) < frame_bytes_max
    assert new_view_bytes_max(7, 64) > new_view_bytes_max(4, 64)


def test_a_backup_without_the_re_proposed_body_fetches_it_and_prepares_only_then() -> None:
    """Replica 3 never saw height 1's PRE-PREPARE. The NEW-VIEW names it by digest: 3 asks
    a holder for the body, sends no PREPARE for it before the body arrives, rejects a body
    with another hash, and prepares once the right one comes."""
    cluster = Cluster(4)
    cluster.propose()
    cluster.drop(all_of(of_type(PrePrepare), to(3)))
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver(lambda envelope: not isinstance(envelope.message, BlockRequest))
    replica = cluster.replica(3)
    assert replica.view == 1 and not replica.in_view_change
    requests = [envelope for envelope in cluster.network
                if isinstance(envelope.message, BlockRequest)]
    assert [(envelope.source, envelope.message.height) for envelope in requests] == [(3, 1)]
    assert not any(message.height == 1 for message in sent(cluster, Prepare)
                   if message.sender == 3 and message.view == 1)
    assert cluster.heights()[3] == 0
    # A body that is not the one named by the digest is refused.
    holder = cluster.nodes[requests[0].target]
    genuine = cluster.replica(holder.index)._slots[1].prepared_block
    assert genuine is not None
    wrong = dataclasses.replace(genuine, header=dataclasses.replace(
        genuine.header, timestamp_ms=genuine.header.timestamp_ms + 1))
    inject(cluster, 3, BlockResponse("scenario", 0, 1, 1, holder.index, wrong, bytes(64)))
    assert ignored(replica, Ignored.INVALID_BODY) == 1
    cluster.deliver()
    assert any(message.height == 1 and message.view == 1
               for message in sent(cluster, Prepare) if message.sender == 3)
    assert cluster.heights() == [0, 1, 1, 1]
    cluster.run_heights(1)
    cluster.assert_agreement()


def test_a_lost_block_request_is_asked_again_of_the_next_holder() -> None:
    cluster = Cluster(4)
    cluster.propose()
    cluster.drop(all_of(of_type(PrePrepare), to(3)))
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.crash(0)
    cluster.tick(20)
    cluster.deliver(lambda envelope: not isinstance(envelope.message, BlockRequest))
    first = [envelope.target for envelope in cluster.network
             if isinstance(envelope.message, BlockRequest)]
    cluster.drop(of_type(BlockRequest))
    cluster.tick(10, only=[3])
    again = [envelope.target for envelope in cluster.network
             if isinstance(envelope.message, BlockRequest)]
    assert again and again[0] != first[0]
    cluster.deliver()
    assert cluster.heights() == [0, 1, 1, 1]


def test_stale_view_changes_get_the_new_view_at_most_once_per_retransmit_period() -> None:
    """A replayed stale VIEW-CHANGE makes the new primary resend its NEW-VIEW once, not
    once per copy."""
    cluster = Cluster(4)
    cluster.run_heights(1)
    cluster.crash(0)
    cluster.tick(20)
    stale = next(message for message in sent(cluster, ViewChange) if message.sender == 2)
    cluster.deliver()
    primary = cluster.replica(1)
    assert primary.view == 1 and not primary.in_view_change

    def new_views_to_2() -> int:
        return sum(1 for envelope in cluster.sent
                   if isinstance(envelope.message, NewView) and envelope.target == 2)

    before = new_views_to_2()
    for _ in range(5):
        inject(cluster, 1, stale)
    assert new_views_to_2() == before + 1
    assert ignored(primary, Ignored.NEW_VIEW_RESENT_RECENTLY) == 4
    cluster.network.clear()
    cluster.tick(10, only=[1])  # a retransmit period later it may be sent again
    inject(cluster, 1, stale)
    assert new_views_to_2() == before + 2


def test_a_replica_restarted_in_a_view_change_resends_a_bounded_view_change() -> None:
    """The crash loop of the report: restarted from its WAL while in a view change, a
    replica's first step re-sends its VIEW-CHANGE; with 1 MiB blocks prepared it is still
    a few KB, and the view change completes."""
    cluster = Cluster(4, checkpoint_interval_blocks=4, watermark_window_blocks=8,
                      state_root_lag_blocks=4)
    block_txs = _big_txs(16)
    cluster.propose(block_txs)
    cluster.propose(block_txs)
    cluster.deliver(lambda envelope: not isinstance(envelope.message, Commit))
    cluster.network.clear()
    cluster.crash(0)
    cluster.tick(20)
    cluster.crash(2)
    cluster.restart(2)
    cluster.step(2, Tick())
    resent = [message for message in sent(cluster, ViewChange) if message.sender == 2]
    assert resent and len(resent[-1].prepared) == 2
    assert len(encode_message(resent[-1])) < big_tx_bytes
    cluster.deliver()
    assert cluster.heights() == [0, 2, 2, 2]
    cluster.assert_agreement()
