"""Agora's network layer: authenticated, encrypted, length-framed links between validators.

Payloads are opaque bytes; this package knows nothing of PBFT. Layout:

* ``errors``       - NetworkError and its children, RefusalReason
* ``config``       - NetworkConfig (frozen, validated)
* ``stats``        - NetworkStats counters, CloseReason
* ``framing``      - records, frames, per-direction AEAD with counter nonces
* ``handshake``    - signed ephemeral X25519 key exchange (SecretConnection-like)
* ``peer_manager`` - PeerManager: listen, dial, reconnect, queues, one link per peer
* ``faults``       - fault injection for tests (tamper, drop, duplicate, reorder, delay)
"""

from network.config import NetworkConfig
from network.errors import (
    LinkClosed,
    NetworkConfigError,
    NetworkError,
    PayloadTooLarge,
    PeerRefused,
    RefusalReason,
)
from network.peer_manager import LinkDirection, PeerManager
from network.stats import CloseReason, NetworkStats

__all__ = [
    "CloseReason",
    "LinkClosed",
    "LinkDirection",
    "NetworkConfig",
    "NetworkConfigError",
    "NetworkError",
    "NetworkStats",
    "PayloadTooLarge",
    "PeerManager",
    "PeerRefused",
    "RefusalReason",
]
