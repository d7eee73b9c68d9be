"""Canonical msgpack codec: decoding rejects everything but the one canonical encoding of a
well-typed value, always with ``DecodeError`` and never with another exception.

The non-canonical encodings are produced by a small reference encoder written here (it is
first checked to agree byte for byte with ``codec.pack``), which can widen any one int,
str, bin or array header.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.errors import DecodeError
from consensus.events import PreparedRecord, ViewRecord, VoteRecord
from consensus.records import RecordKind, decode_record, encode_record
from consensus.types import (
    Block,
    BlockHeader,
    Commit,
    CommitCertificate,
    CommittedBlock,
    Message,
    Prepare,
    PrePrepare,
    Tag,
    Transaction,
    decode_message,
    decode_transaction,
    encode_message,
)
from tests.consensus.test_types import (
    message_strategies,
    messages,
    records,
    struct_strategies,
    transactions,
    typed,
)

Decoder = Callable[[bytes], object]

decoders: dict[str, Decoder] = {
    "message": decode_message,
    "message, known txs": lambda data: decode_message(data, known_txs=lambda tx_hash: None),
    "transaction": decode_transaction,
    "record": decode_record,
    "unpack": codec.unpack,
    **{
        f"struct {cls.__name__}": (lambda data, cls=cls: codec.decode_struct(cls, data))
        for cls in struct_strategies
    },
}


def only_decode_error(decoder: Decoder, data: bytes) -> None:
    """Decoding either succeeds or raises DecodeError; any other exception fails the test."""
    try:
        decoder(data)
    except DecodeError:
        pass


# -- a reference encoder that can widen one header -------------------------------------


def reference_pack(value: Any, widen: int = -1) -> tuple[bytes, int]:
    """msgpack of ``value``; the ``widen``-th widenable header (in encoding order) gets the
    widest form of its family. Returns the bytes and the number of widenable headers."""
    counter = [0]

    def wide() -> bool:
        index = counter[0]
        counter[0] += 1
        return index == widen

    def pack(item: Any) -> bytes:
        if item is None:
            return b"\xc0"
        if isinstance(item, bool):
            return b"\xc3" if item else b"\xc2"
        if isinstance(item, int):
            if wide():
                return (
                    b"\xcf" + struct.pack(">Q", item)
                    if item >= 0
                    else b"\xd3" + struct.pack(">q", item)
                )
            if 0 <= item < 128:
                return struct.pack("B", item)
            if -32 <= item < 0:
                return struct.pack("b", item)
            if item >= 0:
                for code, fmt, limit in (
                    (0xCC, ">B", 0xFF),
                    (0xCD, ">H", 0xFFFF),
                    (0xCE, ">I", 0xFFFFFFFF),
                    (0xCF, ">Q", 2**64 - 1),
                ):
                    if item <= limit:
                        return bytes([code]) + struct.pack(fmt, item)
            for code, fmt, limit in (
                (0xD0, ">b", 2**7),
                (0xD1, ">h", 2**15),
                (0xD2, ">i", 2**31),
                (0xD3, ">q", 2**63),
            ):
                if item >= -limit:
                    return bytes([code]) + struct.pack(fmt, item)
        if isinstance(item, str):
            raw = item.encode()
            if wide():
                return b"\xdb" + struct.pack(">I", len(raw)) + raw
            if len(raw) < 32:
                return bytes([0xA0 | len(raw)]) + raw
            for code, fmt, limit in (
                (0xD9, ">B", 0xFF),
                (0xDA, ">H", 0xFFFF),
                (0xDB, ">I", 2**32 - 1),
            ):
                if len(raw) <= limit:
                    return bytes([code]) + struct.pack(fmt, len(raw)) + raw
        if isinstance(item, bytes):
            if wide():
                return b"\xc6" + struct.pack(">I", len(item)) + item
            for code, fmt, limit in (
                (0xC4, ">B", 0xFF),
                (0xC5, ">H", 0xFFFF),
                (0xC6, ">I", 2**32 - 1),
            ):
                if len(item) <= limit:
                    return bytes([code]) + struct.pack(fmt, len(item)) + item
        if isinstance(item, tuple):
            if wide():
                head = b"\xdd" + struct.pack(">I", len(item))
            elif len(item) < 16:
                head = bytes([0x90 | len(item)])
            elif len(item) <= 0xFFFF:
                head = b"\xdc" + struct.pack(">H", len(item))
            else:
                head = b"\xdd" + struct.pack(">I", len(item))
            return head + b"".join(pack(element) for element in item)
        raise TypeError(type(item))

    data = pack(value)
    return data, counter[0]


def plain_of(message: Message) -> tuple:
    return (int(message.tag), codec.to_plain(message))


@typed
@given(messages)
def test_reference_encoder_agrees_with_the_codec(message: Message) -> None:
    data, _count = reference_pack(plain_of(message))
    assert data == encode_message(message)


@typed
@given(messages, st.data())
def test_decoding_rejects_a_message_with_any_one_header_encoded_wider_than_needed(
    message: Message, data: st.DataObject
) -> None:
    """One value, one encoding: an int, str, bin or array header in a wider form than the
    minimal one is refused (otherwise two byte strings would hash differently for one
    value)."""
    canonical, count = reference_pack(plain_of(message))
    position = data.draw(st.integers(0, count - 1))
    widened, _ = reference_pack(plain_of(message), widen=position)
    if widened == canonical:
        return  # that header already had its widest form
    with pytest.raises(DecodeError):
        decode_message(widened)
    known = {tx.hash(): tx for tx in getattr(getattr(message, "block", None), "txs", ())}
    with pytest.raises(DecodeError):  # a PRE-PREPARE's txs known to the node, or not
        decode_message(widened, known_txs=known.get)
    with pytest.raises(DecodeError):
        decode_message(widened, known_txs=lambda tx_hash: None)


@pytest.mark.parametrize(
    "wide",
    [
        b"\xcc\x05",
        b"\xcd\x00\x05",
        b"\xce\x00\x00\x00\x05",
        b"\xcf" + bytes(7) + b"\x05",
        b"\xd0\x05",
        b"\xd3" + bytes(7) + b"\x05",
        b"\xd0\xff",
    ],
)
def test_an_int_encoded_wider_than_needed_is_refused(wide: bytes) -> None:
    """A height of 5 must be the one byte 0x05 (and -1 the byte 0xff)."""
    prepare = Prepare("c", 0, 0, 5, 1, bytes(32), bytes(64))
    canonical = encode_message(prepare)
    assert canonical.count(b"\x05") == 1
    with pytest.raises(DecodeError):
        decode_message(canonical.replace(b"\x05", wide))
    with pytest.raises(DecodeError):
        codec.unpack(wide)


# -- garbage ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(decoders))
@typed
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_error(name: str, data: bytes) -> None:
    only_decode_error(decoders[name], data)


plain_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.binary(max_size=40),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=8), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=30,
)


@pytest.mark.parametrize("name", sorted(decoders))
@typed
@given(plain_values)
def test_arbitrary_msgpack_values_raise_only_decode_error(name: str, value: Any) -> None:
    """Well-formed msgpack of the wrong shape (random arrays, maps, floats, big ints)."""
    try:
        data = msgpack.packb(value, use_bin_type=True)
    except (OverflowError, ValueError):
        return
    only_decode_error(decoders[name], data)


@typed
@given(messages, st.data())
def test_a_message_with_random_fields_raises_only_decode_error(
    message: Message, data: st.DataObject
) -> None:
    """A right tag with fields of random types and arity."""
    fields = data.draw(st.lists(plain_values, max_size=10))
    try:
        encoded = msgpack.packb([int(message.tag), fields], use_bin_type=True)
    except (OverflowError, ValueError):
        return
    only_decode_error(decode_message, encoded)


@typed
@given(messages)
def test_every_truncation_of_a_message_is_refused(message: Message) -> None:
    encoded = encode_message(message)
    step = max(1, len(encoded) // 200)  # every prefix of small ones, a sample of big ones
    for end in [*range(0, len(encoded), step), len(encoded) - 1]:
        with pytest.raises(DecodeError):
            decode_message(encoded[:end])


@typed
@given(messages, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_after_a_message_are_refused(message: Message, tail: bytes) -> None:
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(encode_message(message) + tail)


@typed
@given(messages)
def test_a_message_larger_than_max_bytes_is_refused(message: Message) -> None:
    encoded = encode_message(message)
    assert decode_message(encoded, max_bytes=len(encoded)) == message
    with pytest.raises(DecodeError, match="exceeds"):
        decode_message(encoded, max_bytes=len(encoded) - 1)


def test_oversize_input_is_refused_before_it_is_parsed() -> None:
    huge = b"\xc6" + struct.pack(">I", 17 * 1024 * 1024) + bytes(17 * 1024 * 1024)
    with pytest.raises(DecodeError, match="exceeds"):
        codec.unpack(huge)
    with pytest.raises(DecodeError):
        codec.unpack(b"\xdd\xff\xff\xff\xff")  # claims 4 billion items, has none


def _replace_field(message: Message, index: int, value: Any) -> bytes:
    fields = list(codec.to_plain(message))
    fields[index] = value
    return msgpack.packb([int(message.tag), fields], use_bin_type=True)


wrong_types = {int: "seven", bytes: 7, str: b"seven", tuple: 7}


@pytest.mark.parametrize("kind", sorted(message_strategies))
@typed
@given(data=st.data())
def test_a_field_of_the_wrong_type_is_refused(kind: str, data: st.DataObject) -> None:
    message = data.draw(message_strategies[kind])
    plain = codec.to_plain(message)
    for index, value in enumerate(plain):
        for replacement in (wrong_types[type(value)], 1.5, {}, {"a": 1}, None):
            with pytest.raises(DecodeError):
                decode_message(_replace_field(message, index, replacement))
        if isinstance(value, int):
            with pytest.raises(DecodeError):  # a bool is not an int
                decode_message(_replace_field(message, index, True))


@pytest.mark.parametrize("kind", sorted(message_strategies))
@typed
@given(data=st.data())
def test_a_message_with_a_field_missing_or_added_is_refused(kind: str, data: st.DataObject) -> None:
    message = data.draw(message_strategies[kind])
    fields = list(codec.to_plain(message))
    for wrong in (fields[:-1], [*fields, fields[-1]], [], [fields]):
        with pytest.raises(DecodeError):
            decode_message(msgpack.packb([int(message.tag), wrong], use_bin_type=True))


@pytest.mark.parametrize(
    "tag", [0, 12, 99, 255, -1, 2**40, int(Tag.TRANSACTION), True, "2", b"\x02", None, 2.0]
)
def test_an_unknown_or_ill_typed_message_tag_is_refused(tag: object) -> None:
    prepare = Prepare("c", 0, 0, 5, 1, bytes(32), bytes(64))
    data = msgpack.packb([tag, codec.to_plain(prepare)], use_bin_type=True)
    with pytest.raises(DecodeError):
        decode_message(data)


@pytest.mark.parametrize("shape", [[], [3], [3, [], 1], {"tag": 3}, 3, b"", "x"])
def test_a_message_that_is_not_a_tag_and_fields_pair_is_refused(shape: object) -> None:
    with pytest.raises(DecodeError):
        decode_message(msgpack.packb(shape, use_bin_type=True))


def test_every_tag_decodes_only_the_fields_of_its_own_type() -> None:
    prepare = Prepare("c", 0, 0, 5, 1, bytes(32), bytes(64))
    for tag in (
        Tag.PRE_PREPARE,
        Tag.CHECKPOINT,
        Tag.VIEW_CHANGE,
        Tag.NEW_VIEW,
        Tag.SYNC_REQUEST,
        Tag.SYNC_RESPONSE,
    ):
        with pytest.raises(DecodeError):
            decode_message(msgpack.packb([int(tag), codec.to_plain(prepare)], use_bin_type=True))
    commit = decode_message(
        msgpack.packb([int(Tag.COMMIT), codec.to_plain(prepare)], use_bin_type=True)
    )
    assert isinstance(commit, Commit)  # same fields, another domain: the signature differs


@pytest.mark.parametrize(
    "blob",
    [
        b"\xc1",  # never used
        b"\xca\x3f\x80\x00\x00",  # float32
        b"\xcb" + struct.pack(">d", 1.0),  # float64
        b"\x80",  # empty map
        b"\x81\xa1a\x01",  # map
        b"\xd4\x01\x00",  # fixext
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp ext
        b"\xa2\xff\xfe",  # invalid UTF-8
        b"\x92\x03",  # array shorter than it says
    ],
)
def test_msgpack_forms_outside_the_canonical_subset_are_refused(blob: bytes) -> None:
    for decoder in decoders.values():
        with pytest.raises(DecodeError):
            decoder(blob)


@pytest.mark.parametrize("name", ["unpack", "struct CommitSignature"])
def test_an_empty_ext_is_refused_and_never_read_as_a_two_field_struct(name: str) -> None:
    with pytest.raises(DecodeError):
        decoders[name](b"\xc7\x00\x05")


def test_shape_checks_refuse_wrong_sizes_and_ranges() -> None:
    prepare = Prepare("c", 0, 0, 5, 1, bytes(32), bytes(64))
    for index, value in (
        (5, bytes(31)),
        (5, bytes(33)),
        (6, bytes(63)),
        (3, 2**63),
        (1, -1),
        (4, -5),
    ):
        with pytest.raises(DecodeError):
            decode_message(_replace_field(prepare, index, value))


def test_transaction_shape_checks_refuse_bad_keys_methods_and_ranges() -> None:
    tx = Transaction("c", bytes(32), 1, 5, 100, b"", "transfer", b"\x90", bytes(64))
    assert decode_transaction(tx.encoded()) == tx
    for change in (
        {"sender": bytes(31)},
        {"signature": bytes(65)},
        {"contract": bytes(5)},
        {"method": ""},
        {"method": "m" * 65},
        {"expiry_height": 2**63},
        {"gas_limit": -1},
        {"nonce": -1},
    ):
        from dataclasses import replace

        with pytest.raises(DecodeError):
            decode_transaction(codec.encode(replace(tx, **change)))


# -- records ---------------------------------------------------------------------------


@typed
@given(records, st.data())
def test_every_truncation_of_a_record_is_refused(record: Any, data: st.DataObject) -> None:
    encoded = encode_record(record)
    end = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        decode_record(encoded[:end])
    with pytest.raises(DecodeError):
        decode_record(encoded + b"\x00")


@typed
@given(records)
def test_a_record_is_encoded_as_the_canonical_pack_of_kind_and_plain_fields(record: Any) -> None:
    encoded = encode_record(record)
    kind, _fields = codec.unpack(encoded)
    if not isinstance(record, VoteRecord):  # a vote record holds the message's wire bytes
        assert encoded == codec.pack((kind, codec.to_plain(record)))
    assert decode_record(encoded) == record


def test_a_record_of_an_unknown_kind_or_a_vote_record_of_another_message_is_refused() -> None:
    commit = Commit("c", 0, 0, 5, 1, bytes(32), bytes(64))
    prepare = Prepare("c", 0, 0, 5, 1, bytes(32), bytes(64))
    for blob in (
        codec.pack((9, b"")),
        codec.pack((0, b"")),
        codec.pack((int(RecordKind.VOTE), encode_message(commit))),
        codec.pack((int(RecordKind.VOTE), codec.to_plain(prepare))),
        codec.pack((int(RecordKind.VIEW), (1,))),
        codec.pack((int(RecordKind.VIEW), (1, 1))),  # an int is not a bool
        codec.pack((int(RecordKind.VIEW), (1, True, 2))),
        codec.pack(("VOTE", encode_message(prepare))),
        codec.pack((int(RecordKind.VOTE),)),
    ):
        with pytest.raises(DecodeError):
            decode_record(blob)


def test_a_record_whose_kind_is_a_bool_is_refused() -> None:
    prepare = Prepare("c", 0, 0, 5, 1, bytes(32), bytes(64))
    with pytest.raises(DecodeError):
        decode_record(codec.pack((True, encode_message(prepare))))


def test_records_apply_the_same_shape_checks_as_messages() -> None:
    header = BlockHeader("c", 0, 1, bytes(32), 0, 0, 1, bytes(32), 0, bytes(32), bytes(32))
    block = Block(header, ())
    pre_prepare = PrePrepare("c", 0, 0, 1, 0, b"abc", block, b"s")
    from consensus.types import PreparedCertificate

    record = PreparedRecord(PreparedCertificate(pre_prepare.head(), header, ()), block)
    with pytest.raises(DecodeError):
        decode_message(encode_message(pre_prepare))
    with pytest.raises(DecodeError):
        decode_record(encode_record(record))


def test_a_vote_record_re_checks_the_message_inside() -> None:
    bad = PrePrepare(
        "c",
        0,
        0,
        1,
        0,
        b"abc",
        Block(BlockHeader("c", 0, 1, bytes(32), 0, 0, 1, bytes(32), 0, bytes(32), bytes(32)), ()),
        bytes(64),
    )
    with pytest.raises(DecodeError):
        decode_record(encode_record(VoteRecord(bad)))
    assert decode_record(encode_record(ViewRecord(3, True))) == ViewRecord(3, True)


# -- nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [10, 200, 500, 2000])
def test_moderately_nested_arrays_raise_decode_error(depth: int) -> None:
    data = b"\x91" * depth + b"\xc0"
    for name, decoder in decoders.items():
        if name == "unpack" and depth < 1024:
            continue  # well-formed plain msgpack within msgpack's nesting limit
        with pytest.raises(DecodeError):
            decoder(data)


@pytest.mark.parametrize("depth", [1000, 1020])
def test_deeply_nested_arrays_raise_decode_error_not_recursion_error(depth: int) -> None:
    data = b"\x91" * depth + b"\xc0"
    with pytest.raises(DecodeError):
        decode_message(data)


def test_encoding_refuses_values_outside_the_canonical_subset() -> None:
    for value in (1.5, {"a": 1}, 2**64, -(2**63) - 1, object(), [1, {2: 3}]):
        with pytest.raises(ValueError):
            codec.pack(value)
    assert codec.pack(2**64 - 1) == b"\xcf" + b"\xff" * 8
    assert codec.unpack(codec.pack(-(2**63))) == -(2**63)


@typed
@given(transactions)
def test_digest_is_sha256_of_the_canonical_bytes(tx: Transaction) -> None:
    import hashlib

    assert tx.hash() == hashlib.sha256(codec.encode(tx)).digest()


def test_struct_decoding_names_the_offending_field() -> None:
    header = BlockHeader("c", 0, 1, bytes(32), 0, 0, 1, bytes(32), 0, bytes(32), bytes(32))
    plain = list(codec.to_plain(header))
    plain[3] = "not bytes"
    with pytest.raises(DecodeError, match="prev_hash"):
        codec.decode_struct(BlockHeader, msgpack.packb(plain, use_bin_type=True))
    certificate = CommitCertificate("c", 0, 0, 1, bytes(32), ())
    committed = CommittedBlock(Block(header, ()), certificate)
    assert codec.decode_struct(CommittedBlock, codec.encode(committed)) == committed


@typed
@given(message_strategies["PrePrepare"], st.data())
def test_a_pre_prepare_decoded_with_known_txs_equals_the_plain_decoding(
        message: PrePrepare, data: st.DataObject) -> None:
    """The node passes its mempool: known txs are reused, the rest decoded; same result."""
    encoded = encode_message(message)
    known = {tx.hash(): tx for tx in message.block.txs if data.draw(st.booleans())}
    decoded = decode_message(encoded, known_txs=known.get)
    assert decoded == decode_message(encoded) == message
    for tx in decoded.block.txs:
        assert (tx is known[tx.hash()]) if tx.hash() in known else tx.encoded() == codec.encode(tx)
    for end in (len(encoded) - 1, len(encoded) // 2, 3):
        with pytest.raises(DecodeError):
            decode_message(encoded[:end], known_txs=known.get)
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(encoded + b"\x00", known_txs=known.get)
    with pytest.raises(DecodeError, match="exceeds"):
        decode_message(encoded, max_bytes=len(encoded) - 1, known_txs=known.get)


def test_a_pre_prepare_with_any_one_header_widened_is_refused_with_known_txs() -> None:
    """Every header of the message (fields, block header, each tx), one at a time."""
    from tests.node.txs import make_tx, signer

    txs = tuple(make_tx(signer(1), nonce=nonce) for nonce in range(2))
    header = BlockHeader("c", 0, 5, bytes(32), 0, 1, 1000, bytes(32), 1, bytes(32), bytes(32))
    message = PrePrepare("c", 0, 0, 5, 1, header.hash(), Block(header, txs), bytes(64))
    canonical, count = reference_pack(plain_of(message))
    assert decode_message(canonical, known_txs={txs[0].hash(): txs[0]}.get) == message
    refused = 0
    for position in range(count):
        widened, _ = reference_pack(plain_of(message), widen=position)
        if widened == canonical:
            continue
        for known in ({}, {txs[0].hash(): txs[0]}, {tx.hash(): tx for tx in txs}):
            with pytest.raises(DecodeError):
                decode_message(widened, known_txs=known.get)
        refused += 1
    assert refused > 20
