"""The cheap rules a node applies to a peer's message before decoding it in full or doing
any signature work (consensus/precheck.py, #12 point 5).

What matters: the head read from the first bytes agrees with the full decode; the rules
drop what the replica would ignore (non-primary, stale view, outside the window, too many
txs), and never drop a message the replica would accept.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.errors import DecodeError
from consensus.precheck import (
    MessageHead,
    PrecheckDrop,
    future_views_allowed,
    peek_head,
    precheck,
)
from consensus.replica import Ignored
from consensus.types import Block, Message, PrePrepare, encode_message, tx_root
from tests.consensus.scenario import Cluster, ignored, inject, make_block, make_pre_prepare
from tests.consensus.test_rules_messages import COMMON, genuine_messages, target
from tests.node.txs import make_tx, signer


def _head_from_decode(message: Message) -> MessageHead:
    txs = len(message.block.txs) if isinstance(message, PrePrepare) else 0
    return MessageHead(message.tag, message.chain_id, message.shard, message.view,
                       message.height, message.sender, txs)


@pytest.mark.parametrize("kind", sorted(genuine_messages()))
def test_the_head_read_from_the_first_bytes_is_the_decoded_messages(kind: str) -> None:
    message = genuine_messages()[kind]
    assert peek_head(encode_message(message)) == _head_from_decode(message)


def test_the_head_of_a_pre_prepare_counts_its_transactions_without_decoding_them() -> None:
    cluster = Cluster(4)
    txs = tuple(make_tx(signer(1), nonce=nonce, chain_id="agora-test") for nonce in range(7))
    block = make_block(cluster, 1, 0, 0, b"\x00" * 32)
    block = Block(replace(block.header, tx_root=tx_root(txs)), txs)
    data = encode_message(make_pre_prepare(cluster, block))
    assert peek_head(data).txs == 7
    # Only the first bytes are read: a cut-off tail does not matter to the head.
    assert peek_head(data[: len(data) // 2]).txs == 7


@pytest.mark.parametrize("data", [
    b"", b"\x92", b"\x93\x02", b"\x92\x01\x90",  # short, not [tag, fields], a tx's tag
    b"\x92\x63\x90",  # unknown tag
    b"\x92\x03\x92\xa1x\x00",  # a PREPARE with 2 fields
    b"\x92\x03\x97\xa1x\x00\xa1v\x01\x00",  # a PREPARE whose view is a string
    b"\x92\x03\x97" + b"\xda\xff\xff",  # a chain id longer than the head may be
])
def test_a_malformed_head_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        peek_head(data)


@pytest.mark.parametrize("kind", sorted(genuine_messages()))
@pytest.mark.parametrize("case", sorted(COMMON))
def test_what_precheck_drops_for_any_kind_the_replica_ignores_too(kind: str, case: str) -> None:
    mutate, reason = COMMON[case]
    message = mutate(genuine_messages()[kind])
    cluster = Cluster(4)
    drop = precheck(cluster.replica(target), peek_head(encode_message(message)))
    assert drop is not None and drop.value == reason.value
    inject(cluster, target, message)
    assert ignored(cluster.replica(target), reason) == 1


@pytest.mark.parametrize("kind", sorted(genuine_messages()))
def test_genuine_messages_pass(kind: str) -> None:
    replica = Cluster(4).replica(target)
    assert precheck(replica, peek_head(encode_message(genuine_messages()[kind]))) is None


def _pre_prepare(cluster: Cluster, *, height: int = 1, view: int = 0, sender: int | None = None,
                 txs: int = 0) -> PrePrepare:
    proposer = cluster.replica(0).primary(view) if sender is None else sender
    block = make_block(cluster, height, view, proposer, b"\x00" * 32)
    if txs:
        body = tuple(make_tx(signer(1), nonce=nonce) for nonce in range(txs))
        block = Block(replace(block.header, tx_root=tx_root(body)), body)
    return make_pre_prepare(cluster, block, sender=proposer, view=view)


@pytest.mark.parametrize(("case", "drop", "reason"), [
    ("not the primary", PrecheckDrop.NOT_PRIMARY, Ignored.NOT_PRIMARY),
    ("too many txs", PrecheckDrop.TOO_MANY_TXS, Ignored.INVALID_PROPOSAL),
    ("below the window", PrecheckDrop.OUT_OF_WINDOW, Ignored.OUT_OF_WINDOW),
    ("far above the window", PrecheckDrop.OUT_OF_WINDOW, Ignored.OUT_OF_WINDOW),
    ("far in the future", PrecheckDrop.FUTURE_VIEW, Ignored.FUTURE_VIEW),
])
def test_pre_prepares_the_replica_would_ignore_are_dropped(
        case: str, drop: PrecheckDrop, reason: Ignored) -> None:
    cluster = Cluster(4, block_txs_max=3)
    window = cluster.config(target).watermark_window_blocks
    message = {
        "not the primary": lambda: _pre_prepare(cluster, sender=2),
        "too many txs": lambda: _pre_prepare(cluster, txs=4),
        "below the window": lambda: _pre_prepare(cluster, height=0),
        "far above the window": lambda: _pre_prepare(cluster, height=2 * window + 1),
        "far in the future": lambda: _pre_prepare(cluster, view=future_views_allowed + 1),
    }[case]()
    assert precheck(cluster.replica(target), peek_head(encode_message(message))) is drop
    inject(cluster, target, message)
    assert ignored(cluster.replica(target), reason) == 1


def test_a_pre_prepare_of_an_older_view_is_dropped() -> None:
    cluster = Cluster(4)
    replica = cluster.replica(target)
    head = peek_head(encode_message(_pre_prepare(cluster)))
    replica.view = 1  # as after a view change; precheck reads only this public state
    assert precheck(replica, head) is PrecheckDrop.STALE_VIEW


def test_a_pre_prepare_the_replica_accepts_passes_and_so_does_one_a_view_ahead() -> None:
    """The next view's primary may send its PRE-PREPARE before our replica has installed
    the NEW-VIEW queued ahead of it: precheck lets it through (the replica decides)."""
    cluster = Cluster(4)
    message = _pre_prepare(cluster, txs=2)
    assert precheck(cluster.replica(target), peek_head(encode_message(message))) is None
    inject(cluster, target, message)
    assert cluster.replica(target).stats.ignored == {}
    ahead = _pre_prepare(cluster, view=1)
    assert precheck(cluster.replica(target), peek_head(encode_message(ahead))) is None


def test_a_halted_replica_takes_nothing() -> None:
    cluster = Cluster(4)
    replica = cluster.replica(target)
    replica.halted = "a determinism bug"
    message = genuine_messages()["Prepare"]
    assert precheck(replica, peek_head(encode_message(message))) is PrecheckDrop.HALTED
