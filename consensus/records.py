"""Byte encoding of a replica's durable records (``consensus.events.Record``).

A record is stored as ``[kind, fields]`` in canonical msgpack; the shell appends them to
the consensus WAL before it sends anything that depends on them.
"""

from __future__ import annotations

import enum

from consensus import codec
from consensus.errors import DecodeError
from consensus.events import (
    PreparedRecord,
    Record,
    StableCheckpointRecord,
    ViewRecord,
    VoteRecord,
)
from consensus.types import (
    PrePrepare,
    PrePrepareHead,
    Prepare,
    Tag,
    check_certificate_shape,
    check_head_shape,
    check_shape,
    decode_message,
    encode_message,
)


class RecordKind(enum.IntEnum):
    VOTE = 1
    PREPARED = 2
    VIEW = 3
    STABLE_CHECKPOINT = 4
    VOTE_HEAD = 5  # a re-proposal signed by its head (PrePrepareHead)


def encode_record(record: Record) -> bytes:
    match record:
        case VoteRecord(message=PrePrepareHead() as head):
            return codec.array_header(2) + codec.pack(int(RecordKind.VOTE_HEAD)) + \
                codec.encode(head)
        case VoteRecord():
            return codec.pack((int(RecordKind.VOTE), encode_message(record.message)))
        case PreparedRecord():
            kind = RecordKind.PREPARED
        case ViewRecord():
            kind = RecordKind.VIEW
        case StableCheckpointRecord():
            kind = RecordKind.STABLE_CHECKPOINT
    # Equal to codec.pack((kind, codec.to_plain(record))), by the compiled encoder: a
    # PreparedRecord holds a whole block, and the reflective to_plain walked every tx.
    return codec.array_header(2) + codec.pack(int(kind)) + codec.encode(record)


def decode_record(data: bytes) -> Record:
    value = codec.unpack(data)
    if not isinstance(value, tuple) or len(value) != 2 or type(value[0]) is not int:
        raise DecodeError("a record is [kind, fields]")
    try:
        kind = RecordKind(value[0])
    except ValueError as error:
        raise DecodeError(f"unknown record kind {value[0]}") from error
    if kind is RecordKind.VOTE:
        if not isinstance(value[1], bytes):
            raise DecodeError("vote record holds message bytes")
        message = decode_message(value[1])
        if message.tag not in (Tag.PRE_PREPARE, Tag.PREPARE):
            raise DecodeError("vote record holds a PRE-PREPARE or PREPARE")
        assert isinstance(message, (PrePrepare, Prepare))
        return VoteRecord(message)
    if kind is RecordKind.VOTE_HEAD:
        head = codec.from_plain(PrePrepareHead, value[1])
        check_head_shape(head)
        return VoteRecord(head)
    cls = {RecordKind.PREPARED: PreparedRecord, RecordKind.VIEW: ViewRecord,
           RecordKind.STABLE_CHECKPOINT: StableCheckpointRecord}[kind]
    record = codec.from_plain(cls, value[1])
    match record:
        case PreparedRecord(certificate=certificate, block=block):
            check_certificate_shape(certificate)
            if block.hash() != certificate.pre_prepare.digest:
                raise DecodeError("prepared record: the block is not the certificate's")
        case StableCheckpointRecord(proof=proof):
            for checkpoint in proof:
                check_shape(checkpoint)
        case ViewRecord(view=view):
            if not 0 <= view < 2**63:
                raise DecodeError("ViewRecord.view out of range")
    return record  # type: ignore[no-any-return]
