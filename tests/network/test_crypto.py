"""Handshake and frame crypto without sockets: pure functions and memory streams."""

from __future__ import annotations

import nacl.signing
import pytest
import trio
import trio.testing

from network.errors import PeerRefused, RefusalReason
from network.framing import FrameCipher, FrameKind, RecordReader, SecureChannel, encode_record
from network.handshake import (
    HELLO_MAX_BYTES,
    Hello,
    Role,
    derive_session_keys,
    generate_ephemeral,
    perform_handshake,
    signature_message,
    transcript_hash,
    x25519_shared_secret,
)
from tests.network.support import TEST_CHAIN_ID, make_keys

MAX_PAYLOAD_BYTES = 4096

# Low-order X25519 points (u-coordinates), from libsodium's and the X25519 RFC's lists.
LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


def _cipher_pair() -> tuple[FrameCipher, FrameCipher]:
    key = bytes(range(32))
    return FrameCipher(key), FrameCipher(key)


async def _handshake_pair(
    initiator_key: nacl.signing.SigningKey,
    responder_key: nacl.signing.SigningKey,
    *,
    initiator_chain: str = TEST_CHAIN_ID,
    responder_chain: str = TEST_CHAIN_ID,
    allowed: frozenset[bytes] | None = None,
    expected: bytes | None = None,
) -> tuple[SecureChannel | PeerRefused, SecureChannel | PeerRefused]:
    """Run both sides over a memory stream pair; return each side's result or refusal."""
    left, right = trio.testing.memory_stream_pair()
    if allowed is None:
        allowed = frozenset({bytes(initiator_key.verify_key), bytes(responder_key.verify_key)})
    results: dict[Role, SecureChannel | PeerRefused] = {}

    async def side(
        role: Role,
        stream: trio.abc.Stream,
        key: nacl.signing.SigningKey,
        chain_id: str,
        expected_identity: bytes | None,
    ) -> None:
        try:
            results[role] = await perform_handshake(
                stream,
                identity=key,
                chain_id=chain_id,
                role=role,
                allowed_identities=allowed,
                expected_identity=expected_identity,
                timeout_seconds=5.0,
                max_payload_bytes=MAX_PAYLOAD_BYTES,
            )
        except PeerRefused as exc:
            results[role] = exc
            await trio.aclose_forcefully(stream)  # as the manager does: close on refusal

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(side, Role.INITIATOR, left, initiator_key, initiator_chain, expected)
            nursery.start_soon(side, Role.RESPONDER, right, responder_key, responder_chain, None)
    return results[Role.INITIATOR], results[Role.RESPONDER]


def test_frame_round_trips_and_counters_advance() -> None:
    sender, receiver = _cipher_pair()
    for payload in (b"", b"x", bytes(1000)):
        record = sender.seal(FrameKind.DATA, payload)
        assert receiver.open(record[:4], record[4:]) == (FrameKind.DATA, payload)
    assert sender.counter == receiver.counter == 3


def test_every_flipped_byte_fails_authentication() -> None:
    sender, _ = _cipher_pair()
    record = sender.seal(FrameKind.DATA, b"payload")
    for position in range(len(record)):
        tampered = bytearray(record)
        tampered[position] ^= 0x80
        receiver = FrameCipher(sender.key)
        with pytest.raises(PeerRefused) as refused:
            receiver.open(bytes(tampered[:4]), bytes(tampered[4:]))
        assert refused.value.reason is RefusalReason.TAMPERED_FRAME
        assert receiver.counter == 0


def test_replayed_frame_is_refused_as_replay() -> None:
    sender, receiver = _cipher_pair()
    first = sender.seal(FrameKind.DATA, b"one")
    receiver.open(first[:4], first[4:])
    with pytest.raises(PeerRefused) as refused:
        receiver.open(first[:4], first[4:])
    assert refused.value.reason is RefusalReason.REPLAYED_FRAME


def test_reordered_frame_is_refused_as_reorder() -> None:
    sender, receiver = _cipher_pair()
    sender.seal(FrameKind.DATA, b"one")
    second = sender.seal(FrameKind.DATA, b"two")
    with pytest.raises(PeerRefused) as refused:
        receiver.open(second[:4], second[4:])
    assert refused.value.reason is RefusalReason.REORDERED_FRAME


def test_frame_with_unknown_kind_is_malformed() -> None:
    sender, receiver = _cipher_pair()
    record = sender.seal(7, b"")  # type: ignore[arg-type]
    with pytest.raises(PeerRefused) as refused:
        receiver.open(record[:4], record[4:])
    assert refused.value.reason is RefusalReason.MALFORMED_FRAME


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda p: p[:4].hex())
def test_low_order_points_are_refused(point: bytes) -> None:
    secret, _ = generate_ephemeral()
    with pytest.raises(PeerRefused) as refused:
        x25519_shared_secret(secret, point)
    assert refused.value.reason is RefusalReason.LOW_ORDER_POINT


def test_session_keys_differ_per_direction_and_per_transcript() -> None:
    shared = bytes(range(32))
    keys = derive_session_keys(shared, transcript_hash(b"a", b"b"))
    assert keys.initiator_to_responder != keys.responder_to_initiator
    other = derive_session_keys(shared, transcript_hash(b"b", b"a"))
    assert other.initiator_to_responder != keys.initiator_to_responder


def test_hello_round_trips_and_bad_magic_or_version_is_refused() -> None:
    hello = Hello(TEST_CHAIN_ID, bytes(range(32)), bytes(32))
    assert Hello.decode(hello.encode()) == hello
    assert len(Hello("x" * 128, bytes(32), bytes(32)).encode()) == HELLO_MAX_BYTES
    for bad in (b"HTTP/1.1 200", Hello(TEST_CHAIN_ID, bytes(32), bytes(32), version=9).encode()):
        with pytest.raises(PeerRefused) as refused:
            Hello.decode(bad)
        assert refused.value.reason is RefusalReason.BAD_VERSION
    with pytest.raises(PeerRefused) as refused:
        Hello.decode(hello.encode()[:-1])
    assert refused.value.reason is RefusalReason.MALFORMED_HELLO


async def test_oversize_length_prefix_is_refused_before_the_body_is_read() -> None:
    send_stream, receive_stream = trio.testing.memory_stream_pair()
    # Only the prefix is sent: a reader that waited for the body would hang here.
    await send_stream.send_all((2**32 - 1).to_bytes(4, "big"))
    with trio.fail_after(5):
        with pytest.raises(PeerRefused) as refused:
            await RecordReader(receive_stream).receive_record(MAX_PAYLOAD_BYTES)
    assert refused.value.reason is RefusalReason.OVERSIZE_FRAME


async def test_handshake_authenticates_both_sides_and_frames_flow_both_ways() -> None:
    alice, bob = make_keys(2)
    initiator, responder = await _handshake_pair(alice, bob, expected=bytes(bob.verify_key))
    assert isinstance(initiator, SecureChannel) and isinstance(responder, SecureChannel)
    assert initiator.peer_identity == bytes(bob.verify_key)
    assert responder.peer_identity == bytes(alice.verify_key)
    with trio.fail_after(5):
        await initiator.send_frame(FrameKind.DATA, b"ping from alice")
        assert await responder.receive_frame() == (FrameKind.DATA, b"ping from alice")
        await responder.send_frame(FrameKind.DATA, b"pong from bob")
        assert await initiator.receive_frame() == (FrameKind.DATA, b"pong from bob")


async def test_handshake_refuses_a_wrong_chain_id_on_both_sides() -> None:
    alice, bob = make_keys(2)
    initiator, responder = await _handshake_pair(alice, bob, responder_chain="other-chain")
    assert isinstance(initiator, PeerRefused) and isinstance(responder, PeerRefused)
    assert initiator.reason is RefusalReason.WRONG_CHAIN_ID
    assert responder.reason is RefusalReason.WRONG_CHAIN_ID


async def test_handshake_refuses_an_identity_outside_the_validator_set() -> None:
    alice, bob = make_keys(2)
    stranger = nacl.signing.SigningKey.generate()
    allowed = frozenset({bytes(alice.verify_key), bytes(bob.verify_key)})
    _, responder = await _handshake_pair(stranger, bob, allowed=allowed)
    assert isinstance(responder, PeerRefused)
    assert responder.reason is RefusalReason.UNKNOWN_IDENTITY


async def test_dialer_refuses_a_validator_other_than_the_one_it_dialed() -> None:
    alice, bob, carol = make_keys(3)
    allowed = frozenset(bytes(key.verify_key) for key in (alice, bob, carol))
    initiator, _ = await _handshake_pair(
        alice, bob, allowed=allowed, expected=bytes(carol.verify_key)
    )
    assert isinstance(initiator, PeerRefused)
    assert initiator.reason is RefusalReason.UNEXPECTED_IDENTITY


async def test_handshake_refuses_our_own_identity() -> None:
    (alice,) = make_keys(1)
    initiator, responder = await _handshake_pair(alice, alice)
    assert isinstance(initiator, PeerRefused)
    assert isinstance(responder, PeerRefused)
    assert responder.reason is RefusalReason.SELF_CONNECTION


async def test_signature_by_a_key_other_than_the_presented_identity_is_refused() -> None:
    """A hand-rolled initiator presents bob's key but signs with mallory's."""
    alice, bob = make_keys(2)
    mallory = nacl.signing.SigningKey.generate()
    left, right = trio.testing.memory_stream_pair()
    secret, public = generate_ephemeral()
    our_hello = Hello(TEST_CHAIN_ID, public, bytes(bob.verify_key)).encode()
    await left.send_all(encode_record(our_hello))

    async def forge() -> None:
        reader = RecordReader(left)
        _, their_hello = await reader.receive_record(HELLO_MAX_BYTES)
        shared = x25519_shared_secret(secret, Hello.decode(their_hello).ephemeral_public)
        transcript = transcript_hash(our_hello, their_hello)
        send_cipher, _ = derive_session_keys(shared, transcript).ciphers_for(Role.INITIATOR)
        signature = mallory.sign(signature_message(Role.INITIATOR, transcript)).signature
        await left.send_all(send_cipher.seal(FrameKind.AUTH, signature))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(forge)
            with pytest.raises(PeerRefused) as refused:
                await perform_handshake(
                    right,
                    identity=alice,
                    chain_id=TEST_CHAIN_ID,
                    role=Role.RESPONDER,
                    allowed_identities={bytes(bob.verify_key)},
                    expected_identity=None,
                    timeout_seconds=5.0,
                    max_payload_bytes=MAX_PAYLOAD_BYTES,
                )
    assert refused.value.reason is RefusalReason.BAD_SIGNATURE


async def test_handshake_that_stalls_is_refused_at_its_deadline(autojump_clock: object) -> None:
    (alice,) = make_keys(1)
    _, silent = trio.testing.memory_stream_pair()
    with pytest.raises(PeerRefused) as refused:
        await perform_handshake(
            silent,
            identity=alice,
            chain_id=TEST_CHAIN_ID,
            role=Role.RESPONDER,
            allowed_identities=set(),
            expected_identity=None,
            timeout_seconds=3.0,
            max_payload_bytes=MAX_PAYLOAD_BYTES,
        )
    assert refused.value.reason is RefusalReason.HANDSHAKE_TIMEOUT
    assert trio.current_time() == pytest.approx(3.0)
