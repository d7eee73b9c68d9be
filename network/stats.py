"""Plain counters of the network layer; ``node/`` maps them onto prometheus metrics.

Invariant: every refusal, drop and link closure increments exactly one counter here, so
a metric never misses an event that the log reports. Counters only grow.
"""

from __future__ import annotations

import dataclasses
import enum

from network.errors import RefusalReason


class CloseReason(enum.Enum):
    """Why an established link ended. Values are stable metric labels."""

    PEER_CLOSED = "peer_closed"  # EOF or connection reset
    PEER_REFUSED = "peer_refused"  # the peer misbehaved; see NetworkStats.refused
    IDLE_TIMEOUT = "idle_timeout"  # nothing received for idle_timeout_seconds
    WRITE_TIMEOUT = "write_timeout"  # a frame write missed write_timeout_seconds
    SUPERSEDED = "superseded"  # replaced by a newer or tie-break-winning link
    SHUTDOWN = "shutdown"  # the manager stopped


def _zero_refusals() -> dict[RefusalReason, int]:
    return {reason: 0 for reason in RefusalReason}


def _zero_closes() -> dict[CloseReason, int]:
    return {reason: 0 for reason in CloseReason}


@dataclasses.dataclass(slots=True)
class NetworkStats:
    """Counters of one PeerManager. Mutable on purpose: they are bumped in place."""

    refused: dict[RefusalReason, int] = dataclasses.field(default_factory=_zero_refusals)
    links_closed: dict[CloseReason, int] = dataclasses.field(default_factory=_zero_closes)
    links_established: int = 0
    dial_failures: int = 0
    # Payloads dropped because the peer's send queue was full, keyed by peer index.
    send_dropped: dict[int, int] = dataclasses.field(default_factory=dict)
    frames_sent: int = 0
    frames_received: int = 0
    payload_bytes_sent: int = 0
    payload_bytes_received: int = 0

    def count_refusal(self, reason: RefusalReason) -> None:
        self.refused[reason] += 1

    def count_close(self, reason: CloseReason) -> None:
        self.links_closed[reason] += 1

    def count_send_drop(self, peer_index: int) -> None:
        self.send_dropped[peer_index] = self.send_dropped.get(peer_index, 0) + 1

    @property
    def send_dropped_total(self) -> int:
        return sum(self.send_dropped.values())
