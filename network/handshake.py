"""Authenticated key exchange between two validators (a SIGMA-style signed DH).

What it gives: after :func:`perform_handshake` returns, both ends share two fresh
ChaCha20-Poly1305 keys (one per direction) that only they know, and each knows that the
other holds the ed25519 identity key it presented, that this key is in the genesis
validator set, and that both agree on protocol version and chain id.

How it works (both sides run the same steps; the dialer is the *initiator*):

1. Each side sends a cleartext *hello* record: magic, protocol version, chain id, a fresh
   X25519 ephemeral public key and its ed25519 identity public key. Each side checks the
   other's hello (version, chain id, identity in the validator set, not our own key, the
   expected key when we dialed a given validator, the same genesis hash) and refuses
   before doing any DH work.
2. Shared secret = X25519(our ephemeral secret, their ephemeral public); an all-zero
   result (a low-order or invalid point) is refused.
3. Transcript hash = BLAKE2b-256 (personalised) over both hello records, initiator's
   first, each length-prefixed. It therefore binds version, chain id, both ephemeral
   keys and both identity keys.
4. Per-direction keys = BLAKE2b-256 keyed with the shared secret, personalised, over the
   transcript hash and a direction label.
5. Each side sends frame 0 (encrypted, kind AUTH): its ed25519 signature over
   ``domain || role || transcript hash``. Decrypting it proves the peer derived the same
   keys (key confirmation); verifying it proves the identity key holder took part in
   *this* exchange (the transcript holds our fresh ephemeral, so it cannot be replayed).

Model and differences. The shape is CometBFT's SecretConnection (ephemeral X25519,
then an encrypted signature by the identity key over the handshake transcript, then
ChaCha20-Poly1305 with per-direction keys and counter nonces), which in turn follows
the STS/SIGMA signed-DH design (Krawczyk 2003). Where we differ:

* Identity keys and the chain id travel in the cleartext hello (as in libp2p secio's
  Propose). We give up identity hiding against passive observers - validator keys and
  addresses are public in the genesis anyway - to refuse unknown keys and wrong chain
  ids before any DH, and to bind *both* identity keys into the signed transcript,
  which SecretConnection's signature (over the ephemeral keys only) does not.
* Roles come from who dialed, not from sorting the ephemeral keys, and the signed
  message carries the role, so a signature cannot be reflected back to its sender.
* BLAKE2b (keyed, personalised) replaces merlin/HKDF-SHA256; frames are variable
  length (bounded by ``max_frame_bytes``) instead of SecretConnection's fixed 1 KiB.
* Compared with Noise XX (1.5 round trips, identities encrypted, keys chained through
  every message): we use 2 symmetric round trips and no identity hiding, which keeps
  the code small and both sides' steps identical.

Deadlines: the whole exchange runs under one ``timeout_seconds`` deadline; a peer that
stalls is refused with ``HANDSHAKE_TIMEOUT``. The hello exchange alone has a shorter one,
``hello_timeout_seconds`` (both sides write their hello first thing, so an honest peer's
arrives within a round trip): an unauthenticated connection that sends nothing, or
dribbles its hello, gives its pre-handshake slot back quickly (``HELLO_TIMEOUT``). The
``on_hello`` callback tells the caller the peer's hello passed its checks, so a slot
manager can prefer such connections over ones that have not (network/peer_manager.py).

Each side writes its record before reading the peer's, so the stream must buffer one
small record (TCP and trio's memory streams do; lockstep streams would deadlock).
"""

from __future__ import annotations

import dataclasses
import enum
import hmac
import math
from collections.abc import Callable, Collection

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils
import trio

from network.errors import LinkClosed, PeerRefused, RefusalReason
from network.framing import (
    AEAD_KEY_BYTES,
    FrameCipher,
    FrameKind,
    RecordReader,
    SecureChannel,
    encode_record,
    max_frame_body_bytes,
    send_record,
)

PROTOCOL_MAGIC = b"AGORAP2P"
# 2: the hello carries the genesis hash (a node refuses a peer of another genesis).
PROTOCOL_VERSION = 2
X25519_KEY_BYTES = 32
ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
GENESIS_HASH_BYTES = 32
NO_GENESIS_HASH = bytes(GENESIS_HASH_BYTES)  # callers that do not pin a genesis
CHAIN_ID_MAX_BYTES = 128
HELLO_FIXED_BYTES = (len(PROTOCOL_MAGIC) + 2 + 2 + X25519_KEY_BYTES + ED25519_PUBLIC_KEY_BYTES
                     + GENESIS_HASH_BYTES)
HELLO_MAX_BYTES = HELLO_FIXED_BYTES + CHAIN_ID_MAX_BYTES
TRANSCRIPT_HASH_BYTES = 32

# BLAKE2b personalisation strings (exactly 16 bytes) separate the hash uses.
TRANSCRIPT_PERSON = b"agora-p2p-trnscr"
KEY_DERIVATION_PERSON = b"agora-p2p-keys01"
SIGNATURE_DOMAIN = b"agora/p2p/handshake-signature/v1"
assert len(TRANSCRIPT_PERSON) == 16 and len(KEY_DERIVATION_PERSON) == 16


class Role(enum.Enum):
    """Who dialed. Part of the signed message and of key derivation."""

    INITIATOR = b"I"
    RESPONDER = b"R"

    @property
    def other(self) -> Role:
        return Role.RESPONDER if self is Role.INITIATOR else Role.INITIATOR


@dataclasses.dataclass(frozen=True, slots=True)
class Hello:
    """The cleartext first record of each side."""

    chain_id: str
    ephemeral_public: bytes
    identity_public: bytes
    version: int = PROTOCOL_VERSION
    genesis_hash: bytes = NO_GENESIS_HASH

    def encode(self) -> bytes:
        chain_id = self.chain_id.encode("utf-8")
        assert len(chain_id) <= CHAIN_ID_MAX_BYTES
        assert len(self.ephemeral_public) == X25519_KEY_BYTES
        assert len(self.identity_public) == ED25519_PUBLIC_KEY_BYTES
        assert len(self.genesis_hash) == GENESIS_HASH_BYTES
        return b"".join(
            (
                PROTOCOL_MAGIC,
                self.version.to_bytes(2, "big"),
                len(chain_id).to_bytes(2, "big"),
                chain_id,
                self.ephemeral_public,
                self.identity_public,
                self.genesis_hash,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Hello:
        """Parse a hello or raise PeerRefused (BAD_VERSION or MALFORMED_HELLO)."""
        magic_end = len(PROTOCOL_MAGIC)
        if data[:magic_end] != PROTOCOL_MAGIC or len(data) < magic_end + 2:
            raise PeerRefused(RefusalReason.BAD_VERSION, "not an agora p2p hello")
        version = int.from_bytes(data[magic_end : magic_end + 2], "big")
        if version != PROTOCOL_VERSION:
            raise PeerRefused(RefusalReason.BAD_VERSION, f"version {version}")
        chain_id_bytes = int.from_bytes(data[magic_end + 2 : magic_end + 4], "big")
        if len(data) != HELLO_FIXED_BYTES + chain_id_bytes:
            raise PeerRefused(RefusalReason.MALFORMED_HELLO, f"hello of {len(data)} bytes")
        offset = magic_end + 4
        chain_id_raw = data[offset : offset + chain_id_bytes]
        offset += chain_id_bytes
        ephemeral = data[offset : offset + X25519_KEY_BYTES]
        offset += X25519_KEY_BYTES
        identity = data[offset : offset + ED25519_PUBLIC_KEY_BYTES]
        genesis_hash = data[offset + ED25519_PUBLIC_KEY_BYTES :]
        try:
            chain_id = chain_id_raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PeerRefused(RefusalReason.MALFORMED_HELLO, "chain id not utf-8") from exc
        return cls(chain_id, ephemeral, identity, version, genesis_hash)


@dataclasses.dataclass(frozen=True, slots=True)
class SessionKeys:
    initiator_to_responder: bytes
    responder_to_initiator: bytes

    def ciphers_for(self, role: Role) -> tuple[FrameCipher, FrameCipher]:
        """Return (send, receive) ciphers for ``role``, both starting at counter 0."""
        if role is Role.INITIATOR:
            return (
                FrameCipher(self.initiator_to_responder),
                FrameCipher(self.responder_to_initiator),
            )
        return FrameCipher(self.responder_to_initiator), FrameCipher(self.initiator_to_responder)


def generate_ephemeral() -> tuple[bytes, bytes]:
    """Return a fresh X25519 (secret, public) pair."""
    secret = nacl.utils.random(X25519_KEY_BYTES)
    return secret, nacl.bindings.crypto_scalarmult_base(secret)


def x25519_shared_secret(our_secret: bytes, their_public: bytes) -> bytes:
    """X25519, refusing low-order/invalid points (they give an all-zero secret)."""
    if len(their_public) != X25519_KEY_BYTES:
        raise PeerRefused(RefusalReason.MALFORMED_HELLO, "bad ephemeral key length")
    try:
        shared = nacl.bindings.crypto_scalarmult(our_secret, their_public)
    except nacl.exceptions.RuntimeError as exc:
        # libsodium itself fails when the result is all zeros.
        raise PeerRefused(RefusalReason.LOW_ORDER_POINT, "x25519 failed") from exc
    # Checked again here so we do not depend on the libsodium version doing it.
    if hmac.compare_digest(shared, bytes(X25519_KEY_BYTES)):
        raise PeerRefused(RefusalReason.LOW_ORDER_POINT, "all-zero shared secret")
    return shared


def transcript_hash(initiator_hello: bytes, responder_hello: bytes) -> bytes:
    """BLAKE2b-256 over both hello records, initiator's first, each length-prefixed."""
    data = encode_record(initiator_hello) + encode_record(responder_hello)
    return nacl.bindings.crypto_generichash_blake2b_salt_personal(
        data, digest_size=TRANSCRIPT_HASH_BYTES, person=TRANSCRIPT_PERSON
    )


def derive_session_keys(shared_secret: bytes, transcript: bytes) -> SessionKeys:
    """Per-direction keys: BLAKE2b keyed with the DH secret, over transcript || label."""

    def derive(label: bytes) -> bytes:
        return nacl.bindings.crypto_generichash_blake2b_salt_personal(
            transcript + label,
            digest_size=AEAD_KEY_BYTES,
            key=shared_secret,
            person=KEY_DERIVATION_PERSON,
        )

    return SessionKeys(derive(b"initiator->responder"), derive(b"responder->initiator"))


def signature_message(role: Role, transcript: bytes) -> bytes:
    """What the side in ``role`` signs with its identity key."""
    return SIGNATURE_DOMAIN + role.value + transcript


def check_hello(
    hello: Hello,
    *,
    chain_id: str,
    our_identity: bytes,
    allowed_identities: Collection[bytes],
    expected_identity: bytes | None,
    genesis_hash: bytes = NO_GENESIS_HASH,
) -> None:
    """Refuse a peer's hello before any DH work; pure."""
    if hello.chain_id != chain_id:
        raise PeerRefused(
            RefusalReason.WRONG_CHAIN_ID, f"theirs={hello.chain_id!r} ours={chain_id!r}"
        )
    if hmac.compare_digest(hello.identity_public, our_identity):
        raise PeerRefused(RefusalReason.SELF_CONNECTION, "peer presented our identity key")
    if hello.identity_public not in allowed_identities:
        raise PeerRefused(RefusalReason.UNKNOWN_IDENTITY, hello.identity_public.hex())
    if expected_identity is not None and hello.identity_public != expected_identity:
        raise PeerRefused(RefusalReason.UNEXPECTED_IDENTITY, hello.identity_public.hex())
    # Checked last: an unknown key is reported as such, whatever genesis it claims.
    if not hmac.compare_digest(hello.genesis_hash, genesis_hash):
        # Same chain id, another genesis (other validators, balances or parameters): the
        # two nodes would fork at height 1. Both hashes go in the log for the operator.
        raise PeerRefused(
            RefusalReason.WRONG_GENESIS,
            f"theirs={hello.genesis_hash.hex()} ours={genesis_hash.hex()}",
        )


def verify_peer_signature(
    identity_public: bytes, role: Role, transcript: bytes, signature: bytes
) -> None:
    """Raise PeerRefused(BAD_SIGNATURE) unless ``signature`` is the peer's over this run."""
    try:
        nacl.signing.VerifyKey(identity_public).verify(
            signature_message(role, transcript), signature
        )
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
        raise PeerRefused(RefusalReason.BAD_SIGNATURE, "transcript signature") from exc


async def perform_handshake(
    stream: trio.abc.Stream,
    *,
    identity: nacl.signing.SigningKey,
    chain_id: str,
    role: Role,
    allowed_identities: Collection[bytes],
    expected_identity: bytes | None,
    timeout_seconds: float,
    max_payload_bytes: int,
    hello_timeout_seconds: float | None = None,
    on_hello: Callable[[], None] | None = None,
    genesis_hash: bytes = NO_GENESIS_HASH,
) -> SecureChannel:
    """Run the handshake over ``stream`` within ``timeout_seconds``, the hello exchange
    within ``hello_timeout_seconds`` (None: no shorter deadline).

    Returns a SecureChannel whose ``peer_identity`` is the authenticated peer key, or
    raises PeerRefused naming why (transport failure mid-way is HANDSHAKE_CLOSED).
    """
    with trio.move_on_after(timeout_seconds):
        try:
            return await _handshake_steps(
                stream,
                identity=identity,
                chain_id=chain_id,
                role=role,
                allowed_identities=allowed_identities,
                expected_identity=expected_identity,
                max_payload_bytes=max_payload_bytes,
                hello_timeout_seconds=hello_timeout_seconds,
                on_hello=on_hello,
                genesis_hash=genesis_hash,
            )
        except LinkClosed as exc:
            raise PeerRefused(RefusalReason.HANDSHAKE_CLOSED, str(exc)) from exc
    raise PeerRefused(RefusalReason.HANDSHAKE_TIMEOUT, f"after {timeout_seconds}s")


async def _handshake_steps(
    stream: trio.abc.Stream,
    *,
    identity: nacl.signing.SigningKey,
    chain_id: str,
    role: Role,
    allowed_identities: Collection[bytes],
    expected_identity: bytes | None,
    max_payload_bytes: int,
    hello_timeout_seconds: float | None,
    on_hello: Callable[[], None] | None,
    genesis_hash: bytes = NO_GENESIS_HASH,
) -> SecureChannel:
    reader = RecordReader(stream)
    our_identity = bytes(identity.verify_key)
    ephemeral_secret, ephemeral_public = generate_ephemeral()
    our_hello = Hello(chain_id, ephemeral_public, our_identity,
                      genesis_hash=genesis_hash).encode()
    hello_deadline_seconds = math.inf if hello_timeout_seconds is None else hello_timeout_seconds
    with trio.move_on_after(hello_deadline_seconds) as hello_scope:
        await send_record(stream, encode_record(our_hello))
        _, their_hello = await reader.receive_record(HELLO_MAX_BYTES)
    if hello_scope.cancelled_caught:
        raise PeerRefused(RefusalReason.HELLO_TIMEOUT, f"after {hello_timeout_seconds}s")
    hello = Hello.decode(their_hello)
    check_hello(
        hello,
        chain_id=chain_id,
        our_identity=our_identity,
        allowed_identities=allowed_identities,
        expected_identity=expected_identity,
        genesis_hash=genesis_hash,
    )
    if on_hello is not None:
        on_hello()
    shared = x25519_shared_secret(ephemeral_secret, hello.ephemeral_public)
    if role is Role.INITIATOR:
        transcript = transcript_hash(our_hello, their_hello)
    else:
        transcript = transcript_hash(their_hello, our_hello)
    send_cipher, receive_cipher = derive_session_keys(shared, transcript).ciphers_for(role)

    signature = identity.sign(signature_message(role, transcript)).signature
    await send_record(stream, send_cipher.seal(FrameKind.AUTH, signature))
    prefix, body = await reader.receive_record(max_frame_body_bytes(ED25519_SIGNATURE_BYTES))
    kind, their_signature = receive_cipher.open(prefix, body)
    if kind is not FrameKind.AUTH or len(their_signature) != ED25519_SIGNATURE_BYTES:
        raise PeerRefused(RefusalReason.BAD_SIGNATURE, f"frame 0 is {kind.name}")
    verify_peer_signature(hello.identity_public, role.other, transcript, their_signature)
    return SecureChannel(
        stream, reader, send_cipher, receive_cipher, hello.identity_public, max_payload_bytes
    )
