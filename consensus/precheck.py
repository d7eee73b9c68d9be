"""Cheap acceptance rules for a peer's message, applied before it is decoded in full and
before any signature work (sans-IO, pure).

Why. A PRE-PREPARE frame can hold 100,000 transactions (12 MB); decoding it and checking
their client signatures takes seconds, and the replica would then ignore it in
microseconds because its sender is not the primary. So the shell reads only the message's
*head* (:func:`peek_head`: tag, chain id, shard, view, height, sender and, for a
PRE-PREPARE, the number of transactions), from the first bytes of the encoding, and asks
:func:`precheck` whether the replica could accept it at all: sender, view, height within
the watermark window and size (``block_txs_max``). Only then is the message decoded and
its transactions' signatures checked.

Never stricter than the replica. A message dropped here must be one the replica would
ignore too, now or when it gets to it (the shell hands it over a queue, and the replica
may move on meanwhile). So the rules are exact for what the replica's state can only move
past - a view below the current one, a height at or below the low watermark, a sender who
is not the primary of the message's own view, too many transactions - and lenient for
what it may reach by then: a PRE-PREPARE up to ``future_views_allowed`` views ahead (it
may have raced ahead of the NEW-VIEW that installs its view), up to one window above the
high watermark (ahead of the CHECKPOINT that moves it), and whatever the view-change state.
The replica applies its own, complete rules when it steps the message.

Reads only public state of the replica (``config``, ``view``, ``low``, ``halted``,
``primary``); changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum

import msgpack

from consensus.errors import DecodeError
from consensus.replica import Replica
from consensus.types import Tag, message_types

future_views_allowed = 1
# The head of any message fits here: five small fields, a 32-byte digest and a block
# header of fixed-size fields plus two chain ids (at most 64 characters by the genesis
# rules, node/genesis.py). A head that does not fit is not a message we could accept.
head_bytes_max = 4096
_head_fields = 5  # chain_id, shard, view, height, sender: the first fields of every message


class PrecheckDrop(enum.Enum):
    """Why a message was dropped before decoding. Values are stable metric labels."""

    HALTED = "halted"
    WRONG_CHAIN = "wrong_chain"
    WRONG_SHARD = "wrong_shard"
    UNKNOWN_SENDER = "unknown_sender"
    FROM_SELF = "from_self"
    STALE_VIEW = "stale_view"
    FUTURE_VIEW = "future_view"
    NOT_PRIMARY = "not_primary"
    OUT_OF_WINDOW = "out_of_window"
    TOO_MANY_TXS = "too_many_txs"


@dataclasses.dataclass(frozen=True, slots=True)
class MessageHead:
    """The leading fields of an encoded message; ``txs`` only for a PRE-PREPARE (else 0)."""

    tag: Tag
    chain_id: str
    shard: int
    view: int
    height: int
    sender: int
    txs: int = 0


def peek_head(data: bytes) -> MessageHead:
    """Read the head of an encoded message without decoding the rest; DecodeError if it is
    not the start of a well-formed message (the full decode checks everything else)."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, max_buffer_size=head_bytes_max,
                                max_map_len=0, max_ext_len=0)
    unpacker.feed(data[:head_bytes_max])
    try:
        if unpacker.read_array_header() != 2:
            raise DecodeError("a message is [tag, fields]")
        raw_tag = unpacker.unpack()
        if type(raw_tag) is not int or Tag(raw_tag) not in message_types:
            raise DecodeError(f"tag {raw_tag!r} is not a message")
        tag = Tag(raw_tag)
        fields = len(dataclasses.fields(message_types[tag]))
        if unpacker.read_array_header() != fields:
            raise DecodeError(f"{tag.name}: expected {fields} fields")
        chain_id, shard, view, height, sender = (unpacker.unpack() for _ in range(_head_fields))
        txs = _peek_txs(unpacker) if tag is Tag.PRE_PREPARE else 0
    except (msgpack.UnpackException, ValueError) as error:
        raise DecodeError(f"malformed message head: {error!r}") from error
    if type(chain_id) is not str or not all(
            type(value) is int for value in (shard, view, height, sender)):
        raise DecodeError("malformed message head: field types")
    return MessageHead(tag, chain_id, shard, view, height, sender, txs)


def _peek_txs(unpacker: msgpack.Unpacker) -> int:
    """After the head of a PRE-PREPARE: skip the digest and the block header, return the
    length of the transaction array."""
    unpacker.skip()  # digest
    if unpacker.read_array_header() != 2:
        raise DecodeError("PrePrepare.block: expected 2 fields")
    unpacker.skip()  # header
    count: int = unpacker.read_array_header()
    return count


def precheck(replica: Replica, head: MessageHead) -> PrecheckDrop | None:
    """Why the replica could not accept this message, or None if it might."""
    config = replica.config
    if replica.halted is not None:
        return PrecheckDrop.HALTED
    if head.chain_id != config.chain_id:
        return PrecheckDrop.WRONG_CHAIN
    if head.shard != config.shard:
        return PrecheckDrop.WRONG_SHARD
    if not 0 <= head.sender < config.n:
        return PrecheckDrop.UNKNOWN_SENDER
    if head.sender == replica.id:
        return PrecheckDrop.FROM_SELF
    if head.tag is Tag.PRE_PREPARE:
        return _precheck_pre_prepare(replica, head)
    return None


def _precheck_pre_prepare(replica: Replica, head: MessageHead) -> PrecheckDrop | None:
    config = replica.config
    if head.view < replica.view:
        return PrecheckDrop.STALE_VIEW
    if head.view > replica.view + future_views_allowed:
        return PrecheckDrop.FUTURE_VIEW
    if head.sender != replica.primary(head.view):
        return PrecheckDrop.NOT_PRIMARY
    if not replica.low < head.height <= replica.low + 2 * config.watermark_window_blocks:
        return PrecheckDrop.OUT_OF_WINDOW
    if head.txs > config.block_txs_max:
        return PrecheckDrop.TOO_MANY_TXS
    return None


__all__ = ["MessageHead", "PrecheckDrop", "peek_head", "precheck"]
