"""Configuration of the network layer: one frozen dataclass, defaults for a local cluster.

Invariants checked by :meth:`NetworkConfig.validate` (every bad field reported at once):
all sizes and durations positive, backoff initial <= max, keepalive interval shorter
than the idle timeout (else a healthy but quiet link would be dropped).

The node maps the ``[network]`` TOML section onto this class; CLI overrides live in
``node/`` only.
"""

from __future__ import annotations

import dataclasses

from network.errors import NetworkConfigError

MEBIBYTE_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Limits and deadlines of the peer links. Units are in the field names."""

    # Largest payload one frame may carry; a length prefix above it is refused before the
    # body is read, so a peer cannot make us allocate more than this per link.
    max_frame_bytes: int = 16 * MEBIBYTE_BYTES
    # The whole handshake (hello exchange, DH, signature exchange) must finish in this.
    handshake_timeout_seconds: float = 5.0
    # The hello exchange (the first record each way) must finish in this: an honest peer
    # writes its hello as soon as it is connected, so a connection that stays silent gives
    # its pre-handshake slot back quickly.
    hello_timeout_seconds: float = 1.0
    # Inbound connections mid-handshake at once, in all and per remote address. When a
    # newcomer finds them full, the one with the least progress (no hello yet, then from
    # the busiest address, then the oldest) is closed to make room; see peer_manager.py.
    max_pending_handshakes: int = 64
    max_pending_handshakes_per_address: int = 8
    dial_timeout_seconds: float = 5.0
    # Per-peer outbound queue; when full, send() drops the newest payload and counts it.
    send_queue_frames: int = 1024
    # ... and a byte bound on the same queue, so big payloads cannot pile up GiBs.
    send_queue_bytes: int = 64 * MEBIBYTE_BYTES
    # Each peer's inbound queue (network/inbound.py), in payloads and in payload bytes;
    # when full, that peer's link reader waits (backpressure on that peer only). The most
    # held is (validators - 1) * inbound_queue_bytes, plus one frame per link being read.
    inbound_queue_frames: int = 1024
    inbound_queue_bytes: int = 32 * MEBIBYTE_BYTES
    reconnect_backoff_initial_seconds: float = 0.1
    reconnect_backoff_max_seconds: float = 5.0
    # One frame write (the whole frame) must complete in this, else the link is closed.
    write_timeout_seconds: float = 10.0
    # A link idle for this long gets a ping frame so the peer's idle timer stays fed.
    keepalive_interval_seconds: float = 2.0
    # A link from which nothing (not even a ping) arrived for this long is closed.
    idle_timeout_seconds: float = 10.0
    # Bind address; None means the host, or the port, of our own entry in the address book
    # (the genesis). Peers always dial that entry: set these when the node listens
    # somewhere else that forwards to it (a NAT, a container's port mapping).
    listen_host: str | None = None
    listen_port: int | None = None

    def validate(self) -> NetworkConfig:
        """Return self if valid, else raise NetworkConfigError listing every problem."""
        problems: list[str] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in ("listen_host", "listen_port"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{field.name} must be a number, got {value!r}")
            elif value <= 0:
                problems.append(f"{field.name} must be > 0, got {value!r}")
        if problems:
            raise NetworkConfigError(problems)
        if self.reconnect_backoff_initial_seconds > self.reconnect_backoff_max_seconds:
            problems.append(
                "reconnect_backoff_initial_seconds must be <= reconnect_backoff_max_seconds"
            )
        if self.hello_timeout_seconds > self.handshake_timeout_seconds:
            problems.append("hello_timeout_seconds must be <= handshake_timeout_seconds")
        if self.max_pending_handshakes_per_address > self.max_pending_handshakes:
            problems.append(
                "max_pending_handshakes_per_address must be <= max_pending_handshakes"
            )
        if self.keepalive_interval_seconds >= self.idle_timeout_seconds:
            problems.append("keepalive_interval_seconds must be < idle_timeout_seconds")
        if self.send_queue_bytes < self.max_frame_bytes:
            problems.append(
                "send_queue_bytes must be >= max_frame_bytes (else big payloads never fit)"
            )
        if self.inbound_queue_bytes < self.max_frame_bytes:
            problems.append(
                "inbound_queue_bytes must be >= max_frame_bytes (else big payloads never fit)"
            )
        if self.max_frame_bytes >= 2**32 - 64:
            problems.append("max_frame_bytes must fit the 32-bit length prefix")
        if self.listen_host is not None and not isinstance(self.listen_host, str):
            problems.append(f"listen_host must be a string or None, got {self.listen_host!r}")
        if self.listen_port is not None and not (
            isinstance(self.listen_port, int) and 0 <= self.listen_port <= 65535
        ):
            problems.append(f"listen_port must be a port number or None, got {self.listen_port!r}")
        if problems:
            raise NetworkConfigError(problems)
        return self
