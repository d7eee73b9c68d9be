"""Length-prefixed records and authenticated-encrypted frames over a trio stream.

Wire format. Everything on a link is a *record*: a 4-byte big-endian length, then that
many body bytes. The first record in each direction is the cleartext handshake hello
(see ``network/handshake.py``); every later record is a *frame*: the body is
ChaCha20-Poly1305 (IETF) ciphertext of ``kind (1 byte) || payload`` with the 4-byte
length prefix as associated data.

Invariants:

* The length prefix is checked against the limit *before* the body is read, and the
  body is accumulated from what actually arrives, so a peer can never make us allocate
  more than ``max_frame_bytes`` plus overhead per link, whatever prefix it sends.
* Each direction has its own key and its own 64-bit counter, used as the nonce
  (4 zero bytes || counter, little-endian, as CometBFT's SecretConnection). A
  frame authenticates only under the counter it was sealed with, so a replayed,
  reordered, dropped-then-continued or tampered frame fails and the link is dropped.
* Keys are per session (derived from ephemeral X25519), so a (key, nonce) pair is never
  reused across sessions even though counters restart at zero.

When a frame fails to authenticate we try the counters just around the expected one
(``COUNTER_DIAGNOSIS_WINDOW_FRAMES`` each way) purely to name the failure (replayed vs
reordered vs tampered) in counters and logs; the link is dropped in every case. The
extra work happens at most once per link, as the link is then closed.

Deadlines: the methods here carry none; the caller wraps every await in a trio cancel
scope (handshake deadline, write timeout, idle timeout).
"""

from __future__ import annotations

import dataclasses
import enum

import nacl.bindings
import nacl.exceptions
import trio

from network.errors import LinkClosed, PeerRefused, RefusalReason

LENGTH_PREFIX_BYTES = 4
AEAD_TAG_BYTES = nacl.bindings.crypto_aead_chacha20poly1305_ietf_ABYTES
AEAD_KEY_BYTES = nacl.bindings.crypto_aead_chacha20poly1305_ietf_KEYBYTES
AEAD_NONCE_BYTES = nacl.bindings.crypto_aead_chacha20poly1305_ietf_NPUBBYTES
FRAME_KIND_BYTES = 1
FRAME_OVERHEAD_BYTES = FRAME_KIND_BYTES + AEAD_TAG_BYTES
RECEIVE_CHUNK_BYTES = 64 * 1024
COUNTER_DIAGNOSIS_WINDOW_FRAMES = 8
COUNTER_LIMIT_FRAMES = 2**64

assert AEAD_TAG_BYTES == 16 and AEAD_KEY_BYTES == 32 and AEAD_NONCE_BYTES == 12


class FrameKind(enum.IntEnum):
    """Tag inside the encrypted body; authenticated, so a peer cannot forge a kind."""

    DATA = 0  # an opaque payload for the layer above
    PING = 1  # keepalive, empty payload, never delivered upward
    AUTH = 2  # the handshake's identity signature; only ever frame 0


_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


def encode_record(body: bytes) -> bytes:
    """Prefix ``body`` with its 4-byte big-endian length."""
    assert len(body) < 2 ** (8 * LENGTH_PREFIX_BYTES)
    return len(body).to_bytes(LENGTH_PREFIX_BYTES, "big") + body


def max_frame_body_bytes(max_payload_bytes: int) -> int:
    """The largest record body a frame carrying ``max_payload_bytes`` may have."""
    return max_payload_bytes + FRAME_OVERHEAD_BYTES


class RecordReader:
    """Reads whole records from a stream, keeping bytes that arrive past a record."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def receive_exactly(self, byte_count: int) -> bytes:
        """Return exactly ``byte_count`` bytes; raise LinkClosed on EOF or reset."""
        while len(self._buffer) < byte_count:
            try:
                chunk = await self._stream.receive_some(RECEIVE_CHUNK_BYTES)
            except _TRANSPORT_ERRORS as exc:
                raise LinkClosed(f"receive failed: {exc!r}") from exc
            if not chunk:
                raise LinkClosed("end of stream")
            self._buffer += chunk
        data = bytes(self._buffer[:byte_count])
        del self._buffer[:byte_count]
        return data

    async def receive_record(self, max_body_bytes: int) -> tuple[bytes, bytes]:
        """Return ``(length_prefix, body)``; refuse an oversize prefix before the body."""
        prefix = await self.receive_exactly(LENGTH_PREFIX_BYTES)
        body_bytes = int.from_bytes(prefix, "big")
        if body_bytes > max_body_bytes:
            raise PeerRefused(
                RefusalReason.OVERSIZE_FRAME, f"length {body_bytes} > limit {max_body_bytes}"
            )
        return prefix, await self.receive_exactly(body_bytes)


async def send_record(stream: trio.abc.SendStream, data: bytes) -> None:
    """Write already-encoded record bytes; raise LinkClosed if the transport broke."""
    try:
        await stream.send_all(data)
    except _TRANSPORT_ERRORS as exc:
        raise LinkClosed(f"send failed: {exc!r}") from exc


def _nonce(counter: int) -> bytes:
    assert 0 <= counter < COUNTER_LIMIT_FRAMES
    return bytes(4) + counter.to_bytes(8, "little")


def _decrypt(key: bytes, counter: int, prefix: bytes, body: bytes) -> bytes | None:
    try:
        return nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
            body, prefix, _nonce(counter), key
        )
    except nacl.exceptions.CryptoError:
        return None


@dataclasses.dataclass(slots=True)
class FrameCipher:
    """One direction of a session: a key and the counter of the next frame.

    Pure (no IO), so the crypto is unit-tested without sockets.
    """

    key: bytes
    counter: int = 0

    def __post_init__(self) -> None:
        assert len(self.key) == AEAD_KEY_BYTES

    def seal(self, kind: FrameKind, payload: bytes) -> bytes:
        """Return the whole record (prefix and ciphertext) for the next frame."""
        body_bytes = FRAME_KIND_BYTES + len(payload) + AEAD_TAG_BYTES
        prefix = body_bytes.to_bytes(LENGTH_PREFIX_BYTES, "big")
        ciphertext = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            bytes((kind,)) + payload, prefix, _nonce(self.counter), self.key
        )
        self.counter += 1
        return prefix + ciphertext

    def open(self, prefix: bytes, body: bytes) -> tuple[FrameKind, bytes]:
        """Authenticate and decrypt the next frame, or raise PeerRefused naming why."""
        plaintext = _decrypt(self.key, self.counter, prefix, body)
        if plaintext is None:
            raise PeerRefused(self._diagnose_failure(prefix, body), f"counter {self.counter}")
        self.counter += 1
        if not plaintext or plaintext[0] not in FrameKind._value2member_map_:
            raise PeerRefused(RefusalReason.MALFORMED_FRAME, "unknown or missing frame kind")
        return FrameKind(plaintext[0]), plaintext[FRAME_KIND_BYTES:]

    def _diagnose_failure(self, prefix: bytes, body: bytes) -> RefusalReason:
        """Name a failed frame: sealed under an old counter, a future one, or neither."""
        for distance in range(1, COUNTER_DIAGNOSIS_WINDOW_FRAMES + 1):
            older = self.counter - distance
            if older >= 0 and _decrypt(self.key, older, prefix, body) is not None:
                return RefusalReason.REPLAYED_FRAME
            newer = self.counter + distance
            if _decrypt(self.key, newer, prefix, body) is not None:
                return RefusalReason.REORDERED_FRAME
        return RefusalReason.TAMPERED_FRAME


class SecureChannel:
    """An authenticated, encrypted, framed duplex link to one identified peer.

    Built only by ``network.handshake.perform_handshake``. One task may send while
    another receives; two concurrent senders (or receivers) are a bug (trio's streams
    raise BusyResourceError). No deadlines inside: the caller owns them.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        reader: RecordReader,
        send_cipher: FrameCipher,
        receive_cipher: FrameCipher,
        peer_identity: bytes,
        max_payload_bytes: int,
    ) -> None:
        self.stream = stream
        self.peer_identity = peer_identity
        self.max_payload_bytes = max_payload_bytes
        self._reader = reader
        self._send_cipher = send_cipher
        self._receive_cipher = receive_cipher

    async def send_frame(self, kind: FrameKind, payload: bytes) -> None:
        """Seal and write one frame; the caller checked the payload size."""
        assert len(payload) <= self.max_payload_bytes
        await send_record(self.stream, self._send_cipher.seal(kind, payload))

    async def receive_frame(self) -> tuple[FrameKind, bytes]:
        """Read, authenticate and decrypt the next frame (PING and DATA only)."""
        prefix, body = await self._reader.receive_record(
            max_frame_body_bytes(self.max_payload_bytes)
        )
        if len(body) < FRAME_OVERHEAD_BYTES:
            raise PeerRefused(RefusalReason.MALFORMED_FRAME, f"body of {len(body)} bytes")
        kind, payload = self._receive_cipher.open(prefix, body)
        if kind is FrameKind.AUTH:
            raise PeerRefused(RefusalReason.MALFORMED_FRAME, "AUTH frame after handshake")
        return kind, payload

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)
