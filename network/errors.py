"""Errors of the network layer, split by who is at fault.

Every error raised by ``network/`` roots at :class:`NetworkError`:

* :class:`PeerRefused` - the remote side did something we refuse (unknown key, wrong
  chain id, low-order point, tampered/replayed/reordered/oversize frame, stalled
  handshake, duplicate link). The link is dropped and the reason counted; the process
  never crashes because of it.
* :class:`LinkClosed` - the transport ended (EOF, reset, write timeout). Not an attack,
  just a link to re-establish.
* :class:`PayloadTooLarge` - local misuse: the caller tried to send more than
  ``NetworkConfig.max_frame_bytes``. A bug in the caller, so it is raised, not counted.
* :class:`NetworkConfigError` - an invalid configuration; lists every bad field at once.

Reference: the split follows h11's LocalProtocolError / RemoteProtocolError.
"""

from __future__ import annotations

import enum


class RefusalReason(enum.Enum):
    """Why a peer (or one of its frames) was refused. Values are stable metric labels."""

    UNKNOWN_IDENTITY = "unknown_identity"  # identity key not in the genesis validator set
    UNEXPECTED_IDENTITY = "unexpected_identity"  # dialed validator i, got another key
    SELF_CONNECTION = "self_connection"  # the peer presented our own identity key
    WRONG_CHAIN_ID = "wrong_chain_id"
    WRONG_GENESIS = "wrong_genesis"  # same chain id, another genesis hash
    BAD_VERSION = "bad_version"  # unknown protocol version or magic
    MALFORMED_HELLO = "malformed_hello"
    LOW_ORDER_POINT = "low_order_point"  # X25519 point giving an all-zero shared secret
    BAD_SIGNATURE = "bad_signature"  # identity signature over the transcript is invalid
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    HANDSHAKE_CLOSED = "handshake_closed"  # the transport ended mid-handshake
    OVERSIZE_FRAME = "oversize_frame"  # length prefix above the limit (checked pre-read)
    TAMPERED_FRAME = "tampered_frame"  # frame failed to authenticate
    REPLAYED_FRAME = "replayed_frame"  # authenticates only under an already used counter
    REORDERED_FRAME = "reordered_frame"  # authenticates only under a future counter
    MALFORMED_FRAME = "malformed_frame"  # authenticated but unknown kind / too short
    DUPLICATE_LINK = "duplicate_link"  # second link to a peer lost the tie-break
    HELLO_TIMEOUT = "hello_timeout"  # no complete hello within hello_timeout_seconds
    # Inbound handshake slots (all, or those of the remote address) were full: the
    # connection that had made the least progress, oldest first, was closed for a newer one.
    TOO_MANY_HANDSHAKES = "too_many_handshakes"


class NetworkError(Exception):
    """Root of every error raised by the network layer."""


class PeerRefused(NetworkError):
    """The remote peer misbehaved (or lost a tie-break); the link must be dropped."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class LinkClosed(NetworkError):
    """The transport ended: EOF, reset, or a write that missed its deadline."""


class PayloadTooLarge(NetworkError, ValueError):
    """Local misuse: a payload above ``max_frame_bytes`` was handed to the network."""


class NetworkConfigError(NetworkError, ValueError):
    """An invalid :class:`~network.config.NetworkConfig`; ``problems`` lists every bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid network config: " + "; ".join(problems))
        self.problems = problems
