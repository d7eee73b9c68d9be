"""Core types: canonical round trips of every type, and signatures that cover every field.

Hypothesis builds arbitrary values of every wire type (transactions, headers, blocks,
certificates, every PBFT message including VIEW-CHANGE and NEW-VIEW with nested
certificates, sync messages) and of every durable record. The strategies here are reused
by ``test_codec.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.events import PreparedRecord, StableCheckpointRecord, ViewRecord, VoteRecord
from consensus.records import decode_record, encode_record
from consensus.types import (
    Block,
    BlockHeader,
    Checkpoint,
    Commit,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    PrePrepareHead,
    BlockRequest,
    BlockResponse,
    Signer,
    SyncRequest,
    SyncResponse,
    Transaction,
    ViewChange,
    check_pre_prepare_body,
    decode_message,
    decode_transaction,
    encode_message,
    sign_message,
    tx_root,
)

settings.register_profile(
    "consensus-types",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
typed = settings(settings.get_profile("consensus-types"))

signers = [Signer(hashlib.sha256(b"types-%d" % index).digest()) for index in range(4)]
validators = tuple(signer.public_key for signer in signers)

u63 = st.integers(0, 2**63 - 1)
u64 = st.integers(0, 2**64 - 1)
digests = st.binary(min_size=32, max_size=32)
signature_bytes = st.binary(min_size=64, max_size=64)
chain_ids = st.text(max_size=12)
senders = st.integers(0, 3)


def tuples(strategy: st.SearchStrategy[Any], max_size: int = 2) -> st.SearchStrategy[tuple]:
    return st.lists(strategy, max_size=max_size).map(tuple)


transactions = st.builds(
    Transaction,
    chain_id=chain_ids,
    sender=digests,
    nonce=u64,
    expiry_height=u63,
    gas_limit=u63,
    contract=st.one_of(st.just(b""), digests),
    method=st.text(min_size=1, max_size=64),
    args=st.binary(max_size=40),
    signature=signature_bytes,
)
headers = st.builds(
    BlockHeader,
    chain_id=chain_ids,
    shard=u63,
    height=u63,
    prev_hash=digests,
    view=u63,
    proposer=u63,
    timestamp_ms=u63,
    tx_root=digests,
    app_height=u63,
    state_root=digests,
    receipts_root=digests,
)
blocks = st.builds(Block, header=headers, txs=tuples(transactions))
commit_signatures = st.builds(CommitSignature, replica=u63, signature=signature_bytes)
certificates = st.builds(
    CommitCertificate,
    chain_id=chain_ids,
    shard=u63,
    view=u63,
    height=u63,
    digest=digests,
    signatures=tuples(commit_signatures, 3),
)
committed_blocks = st.builds(CommittedBlock, block=blocks, certificate=certificates)


def _common(**extra: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return dict(
        chain_id=chain_ids,
        shard=u63,
        view=u63,
        height=u63,
        sender=senders,
        signature=signature_bytes,
        **extra,
    )


pre_prepares = st.builds(PrePrepare, **_common(digest=digests, block=blocks))
prepares = st.builds(Prepare, **_common(digest=digests))
commits = st.builds(Commit, **_common(digest=digests))
checkpoints = st.builds(Checkpoint, **_common(block_hash=digests, state_root=digests))
heads = st.builds(PrePrepareHead, **_common(digest=digests))
prepared_certificates = st.builds(
    PreparedCertificate, pre_prepare=heads, header=headers, prepares=tuples(prepares, 3)
)
view_changes = st.builds(
    ViewChange,
    **_common(checkpoint_proof=tuples(checkpoints, 3), prepared=tuples(prepared_certificates)),
)
new_views = st.builds(
    NewView, **_common(view_changes=tuples(view_changes), pre_prepares=tuples(heads))
)
block_requests = st.builds(BlockRequest, **_common(digest=digests))
block_responses = st.builds(BlockResponse, **_common(block=blocks))
sync_requests = st.builds(SyncRequest, **_common(count=st.integers(1, 1024)))
sync_responses = st.builds(
    SyncResponse,
    **_common(blocks=tuples(committed_blocks), checkpoint_proof=tuples(checkpoints, 3)),
)

message_strategies = {
    "PrePrepare": pre_prepares,
    "Prepare": prepares,
    "Commit": commits,
    "Checkpoint": checkpoints,
    "ViewChange": view_changes,
    "NewView": new_views,
    "SyncRequest": sync_requests,
    "SyncResponse": sync_responses,
    "BlockRequest": block_requests,
    "BlockResponse": block_responses,
}
messages = st.one_of(*message_strategies.values())
struct_strategies: dict[type, st.SearchStrategy[Any]] = {
    Transaction: transactions,
    BlockHeader: headers,
    Block: blocks,
    CommitSignature: commit_signatures,
    CommitCertificate: certificates,
    CommittedBlock: committed_blocks,
    PreparedCertificate: prepared_certificates,
}
records = st.one_of(
    st.builds(VoteRecord, message=st.one_of(pre_prepares, prepares, heads)),
    st.tuples(prepared_certificates, blocks).map(lambda pair: PreparedRecord(
        dataclasses.replace(pair[0], pre_prepare=dataclasses.replace(
            pair[0].pre_prepare, digest=pair[1].hash()), header=pair[1].header), pair[1])),
    st.builds(ViewRecord, view=u63, in_view_change=st.booleans()),
    st.builds(StableCheckpointRecord, proof=tuples(checkpoints, 3)),
)


def signed(message: Any) -> Any:
    return sign_message(message, signers[message.sender])


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(message_strategies))
@typed
@given(data=st.data())
def test_every_message_decodes_to_an_equal_value_and_re_encodes_to_the_same_bytes(
    kind: str, data: st.DataObject
) -> None:
    message = data.draw(message_strategies[kind])
    encoded = encode_message(message)
    decoded = decode_message(encoded)
    assert decoded == message and type(decoded) is type(message)
    assert encode_message(decoded) == encoded


@pytest.mark.parametrize("cls", list(struct_strategies), ids=lambda cls: cls.__name__)
@typed
@given(data=st.data())
def test_every_struct_decodes_to_an_equal_value_and_re_encodes_to_the_same_bytes(
    cls: type, data: st.DataObject
) -> None:
    value = data.draw(struct_strategies[cls])
    encoded = codec.encode(value)
    decoded = codec.decode_struct(cls, encoded)
    assert decoded == value
    assert codec.encode(decoded) == encoded


@typed
@given(transactions)
def test_transaction_decodes_with_its_shape_checks_and_keeps_its_hash(tx: Transaction) -> None:
    decoded = decode_transaction(tx.encoded())
    assert decoded == tx and decoded.hash() == tx.hash()
    assert decoded.encoded() == tx.encoded()


@typed
@given(records)
def test_every_record_decodes_to_an_equal_value_and_re_encodes_to_the_same_bytes(
    record: Any,
) -> None:
    encoded = encode_record(record)
    decoded = decode_record(encoded)
    assert decoded == record and type(decoded) is type(record)
    assert encode_record(decoded) == encoded


@typed
@given(blocks)
def test_block_hash_is_the_header_hash_and_commits_to_every_header_field(block: Block) -> None:
    assert block.hash() == block.header.hash() == codec.digest(codec.encode(block.header))
    for name, value in _fields(block.header):
        changed = dataclasses.replace(block.header, **{name: mutate(value)})
        assert changed.hash() != block.header.hash(), name


# -- signatures cover every field ------------------------------------------------------


def mutate(value: Any) -> Any:
    """A different value of the same type (recursively, for structs: the first field that
    can change; for tuples: one element fewer, or a changed first element)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if value < 2**63 - 2 else value - 1
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:] if value else b"\x00"
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        if not value:
            raise _Unchangeable
        return value[:-1]
    if dataclasses.is_dataclass(value):
        for name, item in _fields(value):
            try:
                return dataclasses.replace(value, **{name: mutate(item)})
            except _Unchangeable:
                continue
        raise _Unchangeable
    raise TypeError(type(value))


class _Unchangeable(Exception):
    pass


def _fields(value: Any) -> list[tuple[str, Any]]:
    return [(field.name, getattr(value, field.name)) for field in dataclasses.fields(value)]


@pytest.mark.parametrize("kind", sorted(message_strategies))
@typed
@given(data=st.data())
def test_mutating_any_single_field_of_a_signed_message_invalidates_its_signature(
    kind: str, data: st.DataObject
) -> None:
    message = signed(data.draw(message_strategies[kind]))
    assert message.has_valid_signature(validators)
    for name, value in _fields(message):
        if name == "signature":
            continue
        if name == "sender":
            other = (value + 1) % len(validators)
            changed = dataclasses.replace(message, sender=other)
        else:
            try:
                changed = dataclasses.replace(message, **{name: mutate(value)})
            except _Unchangeable:
                continue  # an empty tuple: nothing to take away
        assert changed != message
        if isinstance(message, PrePrepare) and name == "block":
            # The signature covers the digest, which stands for the block (a PRE-PREPARE
            # is <v, n, d>): check_pre_prepare_body pairs the two, tested below.
            assert changed.has_valid_signature(validators)
            continue
        assert not changed.has_valid_signature(validators), name
    assert not dataclasses.replace(
        message, signature=mutate(message.signature)
    ).has_valid_signature(validators)


@typed
@given(transactions)
def test_mutating_any_single_field_of_a_transaction_invalidates_its_signature(
    tx: Transaction,
) -> None:
    signer = signers[0]
    tx = dataclasses.replace(tx, sender=signer.public_key)
    tx = dataclasses.replace(tx, signature=signer.sign(tx.signing_bytes()))
    assert tx.has_valid_signature()
    for name, value in _fields(tx):
        changed = dataclasses.replace(tx, **{name: mutate(value)})
        assert not changed.has_valid_signature(), name


@typed
@given(senders, u63, u63, st.integers(1, 2**62), digests)
def test_signature_of_one_message_kind_never_verifies_as_another(
    sender: int, view: int, shard: int, height: int, digest: bytes
) -> None:
    """Domain separation: the tag is in the signed bytes, so a PREPARE's signature is not
    a COMMIT's, although their fields are the same."""
    prepare = signed(Prepare("c", shard, view, height, sender, digest, b""))
    commit = Commit("c", shard, view, height, sender, digest, prepare.signature)
    assert prepare.has_valid_signature(validators)
    assert not commit.has_valid_signature(validators)


def test_signature_from_an_out_of_range_sender_is_never_valid() -> None:
    prepare = signed(Prepare("c", 0, 0, 1, 0, bytes(32), b""))
    for sender in (-1, 4, 2**63 - 1):
        assert not dataclasses.replace(prepare, sender=sender).has_valid_signature(validators)


def real_certificate(height: int = 3, digest: bytes = b"\x07" * 32) -> CommitCertificate:
    signatures = tuple(
        CommitSignature(index, signed(Commit("c", 1, 2, height, index, digest, b"")).signature)
        for index in (0, 2, 3)
    )
    return CommitCertificate("c", 1, 2, height, digest, signatures)


def test_commit_certificate_verifies_and_every_changed_field_breaks_it() -> None:
    certificate = real_certificate()
    assert certificate.verify(validators, 3) is None
    for name, value in _fields(certificate):
        changed = dataclasses.replace(certificate, **{name: mutate(value)})
        assert changed.verify(validators, 3) is not None, name
    first, *rest = certificate.signatures
    cases = {
        "unknown signer": (CommitSignature(4, first.signature), *rest),
        "duplicate signer": (first, first, *rest),
        "bad signature": (CommitSignature(first.replica, bytes(64)), *rest),
        "too few signatures": tuple(rest),
        "bad signature ": (CommitSignature(1, first.signature), *rest),
    }
    for reason, signatures in cases.items():
        assert (
            dataclasses.replace(certificate, signatures=signatures).verify(validators, 3)
            == reason.strip()
        )


def test_pre_prepare_body_check_pairs_the_message_with_its_block() -> None:
    tx = Transaction("c", bytes(32), 1, 5, 100, b"", "transfer", b"\x90", bytes(64))
    header = BlockHeader("c", 1, 4, bytes(32), 0, 1, 10, tx_root((tx,)), 2, bytes(32), bytes(32))
    block = Block(header, (tx,))
    good = PrePrepare("c", 1, 0, 4, 1, block.hash(), block, bytes(64))
    assert check_pre_prepare_body(good) is None
    other_header = dataclasses.replace(header, tx_root=bytes(32))
    other_block = Block(other_header, (tx,))
    assert check_pre_prepare_body(dataclasses.replace(good, digest=bytes(32))) is not None
    assert check_pre_prepare_body(dataclasses.replace(good, height=5)) is not None
    assert check_pre_prepare_body(dataclasses.replace(good, shard=2)) is not None
    assert check_pre_prepare_body(dataclasses.replace(good, chain_id="d")) is not None
    assert (
        check_pre_prepare_body(
            dataclasses.replace(good, block=other_block, digest=other_block.hash())
        )
        == "tx root does not match the transactions"
    )


@given(transactions)
def test_signing_bytes_from_the_cached_encoding_equal_the_encoding_of_all_but_the_signature(
        tx: Transaction) -> None:
    fresh = dataclasses.replace(tx)
    expected = b"agora/v1/TRANSACTION" + codec.encode_without_last_field(fresh)
    assert fresh.signing_bytes() == expected  # nothing cached yet
    decoded = decode_transaction(codec.encode(fresh))  # caches the wire bytes
    assert decoded.signing_bytes() == expected


@typed
@given(pre_prepares)
def test_a_pre_prepare_signature_is_valid_on_its_head_and_the_head_rebuilds_it(
    message: PrePrepare,
) -> None:
    message = signed(message)
    head = message.head()
    assert head.has_valid_signature(validators)
    assert head.with_block(message.block) == message
    assert not dataclasses.replace(head, digest=mutate(head.digest)).has_valid_signature(
        validators)
