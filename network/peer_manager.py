"""The peer manager: one authenticated, encrypted link to every other validator.

What it owns:

* a listener on our address and a dial loop per other validator, reconnecting with
  capped exponential backoff (with jitter, so restarted clusters do not dial in lockstep);
* at most one registered link per peer. When two links to the same peer exist (both
  sides dialed at once, or a peer reconnected before we saw its old link die), the rule
  in :func:`is_preferred_link` decides which to keep; both ends apply it to the same two
  links, so they keep the same one;
* a bounded send queue per peer (``send_queue_frames`` and ``send_queue_bytes``). ``send``
  never blocks: when the queue is full the newest payload is dropped and counted. Queues
  outlive links, so what was queued while a peer was away is sent once it is back. Per
  peer, payloads arrive at most once and in send order; a link that dies may lose the
  payloads it was carrying (the layer above retransmits, as PBFT does anyway);
* a bounded inbound queue per peer (``inbound_queue_frames`` and ``inbound_queue_bytes``,
  network/inbound.py). When a peer's queue is full, that link's reader waits
  (backpressure flows back over TCP to that sender only, whose write deadline then drops
  the link if we stay stalled). Consumers take ``(peer_index, payload)`` round-robin over
  the peers (:attr:`PeerManager.receive_channel`) or one peer at a time
  (:meth:`PeerManager.receive_from`), so a busy peer cannot starve the others;
* counters in :class:`~network.stats.NetworkStats` for every refusal, drop and closure.

Every network await has a deadline: dial, handshake (and its hello exchange, sooner), each
frame write, and the idle timeout on reads (the peer sends a ping after
``keepalive_interval_seconds`` of quiet).

Pre-handshake slots. An inbound connection is unauthenticated until its handshake ends,
so anyone who can reach the port can open them. They are bounded in all
(``max_pending_handshakes``) and per remote address
(``max_pending_handshakes_per_address``), and a newcomer is never the one refused: when
the slots it would take are full, the pending connection that made the least progress is
closed instead (:func:`handshake_to_evict`: one whose hello has not passed its checks,
then one from the busiest address, then the oldest). A genesis validator writes its hello
as soon as it is connected, so within a round trip it has passed that check and only
another connection with a checked hello, older than it, could be closed first; idle or
dribbling sockets always go first, and also lose their slot at ``hello_timeout_seconds``.
So a flood of idle sockets, even from the validators' own address, cannot keep two
validators from linking; and a flood from one address holds at most its per-address share.
Both sides dial each other, so a link forms through whichever listener lets it in first.

It knows nothing of PBFT: payloads are opaque bytes. Model: CometBFT's p2p Switch and
MConnection (one connection per peer, per-peer send queues, ping/pong keepalive), made
smaller: one channel, no PEX (the genesis is the address book).

Task tree (all owned by :meth:`PeerManager.run`'s nursery): the listener (one handler task
per inbound connection), and one dial task per peer; a connection's task runs the
handshake, then the link's reader, with its writer in a child nursery.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence

import nacl.signing
import trio

from network.config import NetworkConfig
from network.errors import LinkClosed, PayloadTooLarge, PeerRefused, RefusalReason
from network.framing import FrameKind, SecureChannel
from network.handshake import CHAIN_ID_MAX_BYTES, NO_GENESIS_HASH, Role, perform_handshake
from network.inbound import InboundQueues
from network.stats import CloseReason, NetworkStats

logger = logging.getLogger(__name__)

BACKOFF_MULTIPLIER = 2.0
BACKOFF_JITTER_FRACTION = 0.5  # a wait is uniform in [(1 - f) * backoff, backoff]
assert 0.0 <= BACKOFF_JITTER_FRACTION < 1.0 and BACKOFF_MULTIPLIER > 1.0

# Wraps every raw TCP stream before the handshake; the int is the peer we dialed, or None
# for an inbound connection. Tests pass network.faults.FaultInjector here.
StreamWrapper = Callable[[trio.abc.Stream, "int | None"], trio.abc.Stream]


class LinkDirection(enum.Enum):
    OUTBOUND = "outbound"  # we dialed
    INBOUND = "inbound"  # they dialed


def is_preferred_link(
    my_index: int, peer_index: int, new: LinkDirection, current: LinkDirection
) -> bool:
    """Whether a new link to ``peer_index`` should replace the current one.

    Different directions (a simultaneous dial): keep the link dialed by the lower index,
    which both ends compute identically. Same direction: the dialer opened a second link,
    which it only does once it believes the first is dead (e.g. it restarted), so the
    newer one wins. Pure, so the tie-break is unit-tested without sockets.
    """
    assert my_index != peer_index
    if new is current:
        return True
    lower_dials = LinkDirection.OUTBOUND if my_index < peer_index else LinkDirection.INBOUND
    return new is lower_dials


@dataclasses.dataclass(eq=False, slots=True)
class PendingHandshake:
    """An inbound connection holding a pre-handshake slot."""

    remote_host: str
    started_seconds: float
    from_validator_host: bool = False  # the remote host is one of the genesis addresses
    hello_checked: bool = False  # its hello passed check_hello (chain id, known key)
    cancel_scope: trio.CancelScope = dataclasses.field(default_factory=trio.CancelScope)

    def mark_hello_checked(self) -> None:
        self.hello_checked = True


def handshake_to_evict(
    pending: Sequence[PendingHandshake], remote_host: str, per_address_max: int, total_max: int
) -> PendingHandshake | None:
    """Which pending handshake to close so a new connection from ``remote_host`` fits;
    None if it fits as things are. Pure, so the policy is unit-tested without sockets.

    The new connection's address at its cap: close the least advanced of that address's
    (hello not checked first, then the oldest). All slots full: close the least advanced
    of all: hello not checked first, then from a host that is not a validator's, then from
    the address holding the most slots, then the oldest.
    """
    same_address = [item for item in pending if item.remote_host == remote_host]
    if len(same_address) >= per_address_max:
        return min(same_address, key=lambda item: (item.hello_checked, item.started_seconds))
    if len(pending) < total_max:
        return None
    per_host: dict[str, int] = {}
    for item in pending:
        per_host[item.remote_host] = per_host.get(item.remote_host, 0) + 1
    return min(
        pending,
        key=lambda item: (
            item.hello_checked,
            item.from_validator_host,
            -per_host[item.remote_host],
            item.started_seconds,
        ),
    )


@dataclasses.dataclass(eq=False, slots=True)
class _Link:
    peer_index: int
    direction: LinkDirection
    channel: SecureChannel
    cancel_scope: trio.CancelScope = dataclasses.field(default_factory=trio.CancelScope)
    close_reason: CloseReason | None = None

    def close(self, reason: CloseReason) -> None:
        """Record the first reason and stop the link's tasks."""
        if self.close_reason is None:
            self.close_reason = reason
        self.cancel_scope.cancel()


@dataclasses.dataclass(eq=False, slots=True)
class _Peer:
    index: int
    identity: bytes
    address: tuple[str, int]
    queue_send: trio.MemorySendChannel[bytes]
    queue_receive: trio.MemoryReceiveChannel[bytes]
    queued_bytes: int = 0  # payload bytes in the queue, bounded by send_queue_bytes
    dial_failures_in_row: int = 0  # only the first of a streak is logged at INFO
    link: _Link | None = None


class PeerManager:
    """Links to every other validator; see the module docstring for the contract."""

    def __init__(
        self,
        config: NetworkConfig,
        identity: nacl.signing.SigningKey,
        my_index: int,
        chain_id: str,
        validators: Mapping[int, bytes],
        addresses: Mapping[int, tuple[str, int]],
        *,
        stream_wrapper: StreamWrapper | None = None,
        genesis_hash: bytes = NO_GENESIS_HASH,
    ) -> None:
        self.config = config.validate()
        self.genesis_hash = genesis_hash
        _check_validator_set(identity, my_index, chain_id, validators, addresses)
        self.my_index = my_index
        self.chain_id = chain_id
        self.stats = NetworkStats()
        self._identity = identity
        self._address = addresses[my_index]
        self._stream_wrapper = stream_wrapper
        self._index_by_identity = {key: index for index, key in validators.items()}
        self._peer_identities = frozenset(
            key for index, key in validators.items() if index != my_index
        )
        self._peers: dict[int, _Peer] = {}
        for index in sorted(validators):
            if index != my_index:
                queue_send, queue_receive = trio.open_memory_channel[bytes](
                    config.send_queue_frames
                )
                self._peers[index] = _Peer(
                    index, validators[index], addresses[index], queue_send, queue_receive
                )
        self._inbound = InboundQueues(
            self._peers, config.inbound_queue_frames, config.inbound_queue_bytes
        )
        self._links_changed = trio.Event()
        self._pending_handshakes: list[PendingHandshake] = []
        self._validator_hosts = frozenset(
            host for index, (host, _) in addresses.items() if index != my_index
        )
        self._log_prefix = f"node={my_index}"
        self.listen_port: int | None = None
        self._has_run = False

    # -- public API ------------------------------------------------------------------

    @property
    def receive_channel(self) -> InboundQueues:
        """``(peer_index, payload)`` from every peer, peers in turn (``receive()`` or
        ``async for``); ends (EndOfChannel) when :meth:`run` ends."""
        return self._inbound

    async def receive_from(self, peer_index: int) -> bytes:
        """The next payload from ``peer_index`` (in arrival order); EndOfChannel once
        :meth:`run` has ended. For one consumer task per peer."""
        return await self._inbound.receive_from(peer_index)

    async def run(
        self,
        *,
        listeners: list[trio.SocketListener] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen, dial everyone, keep links up; ready once listening. Runs until cancelled.

        ``listeners`` replaces binding our own address (tests pre-bind port 0 so every
        manager knows every port up front); the manager closes them on exit.
        """
        if self._has_run:
            raise RuntimeError("PeerManager.run may be called once (its channels close)")
        self._has_run = True
        if listeners is None:
            host = self.config.listen_host or self._address[0]
            port = self._address[1] if self.config.listen_port is None else self.config.listen_port
            listeners = await trio.open_tcp_listeners(port, host=host)
        self.listen_port = listeners[0].socket.getsockname()[1]
        logger.info("%s network listening port=%s", self._log_prefix, self.listen_port)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(trio.serve_listeners, self._handle_inbound, listeners)
                for peer in self._peers.values():
                    nursery.start_soon(self._dial_loop, peer)
                task_status.started()
        finally:
            self._inbound.close()
            logger.info("%s network stopped", self._log_prefix)

    def send(self, peer_index: int, payload: bytes) -> bool:
        """Queue ``payload`` for ``peer_index`` without blocking; False if dropped (full).

        Raises ValueError for an unknown peer or ourselves, PayloadTooLarge above
        ``max_frame_bytes``: both are bugs in the caller, not network conditions.
        """
        peer = self._peers.get(peer_index)
        if peer is None:
            raise ValueError(f"no peer with index {peer_index} (ours is {self.my_index})")
        if len(payload) > self.config.max_frame_bytes:
            raise PayloadTooLarge(f"{len(payload)} > {self.config.max_frame_bytes} bytes")
        if peer.queued_bytes + len(payload) > self.config.send_queue_bytes:
            return self._drop_send(peer_index)
        try:
            peer.queue_send.send_nowait(bytes(payload))
        except trio.WouldBlock:
            return self._drop_send(peer_index)
        peer.queued_bytes += len(payload)
        return True

    def _drop_send(self, peer_index: int) -> bool:
        self.stats.count_send_drop(peer_index)
        logger.debug("%s send queue full peer=%s dropped", self._log_prefix, peer_index)
        return False

    def broadcast(self, payload: bytes) -> list[int]:
        """Queue ``payload`` for every other validator; return the peers it was dropped for."""
        return [index for index in self._peers if not self.send(index, payload)]

    def connected_peers(self) -> list[int]:
        """Indexes of peers with an established link, ascending."""
        return [index for index, peer in self._peers.items() if peer.link is not None]

    def links(self) -> dict[int, LinkDirection]:
        """Direction of the established link to each connected peer (for status, tests)."""
        return {index: peer.link.direction for index, peer in self._peers.items() if peer.link}

    async def wait_connected(self, peers: Iterable[int] | None = None) -> None:
        """Return once every peer in ``peers`` (default: all) has a link. No deadline:
        the caller bounds it (``trio.fail_after``)."""
        wanted = set(self._peers if peers is None else peers)
        while not wanted.issubset(self.connected_peers()):
            await self._links_changed.wait()

    async def wait_links_changed(self) -> None:
        """Return at the next link registration or removal (for tests and status)."""
        await self._links_changed.wait()

    # -- connections -----------------------------------------------------------------

    async def _dial_loop(self, peer: _Peer) -> None:
        """Keep a link to ``peer`` while none exists, backing off after failures."""
        backoff_seconds = self.config.reconnect_backoff_initial_seconds
        while True:
            while peer.link is not None:
                await self._links_changed.wait()
            link_lifetime_seconds = await self._dial_once(peer)
            # A link that lived long enough proves the peer healthy: start over from the
            # initial backoff. A link that died at once counts as a failure, so two nodes
            # that keep refusing each other cannot spin.
            if link_lifetime_seconds >= self.config.reconnect_backoff_max_seconds:
                backoff_seconds = self.config.reconnect_backoff_initial_seconds
            jitter = 1.0 - BACKOFF_JITTER_FRACTION * random.random()
            await trio.sleep(backoff_seconds * jitter)
            backoff_seconds = min(
                backoff_seconds * BACKOFF_MULTIPLIER, self.config.reconnect_backoff_max_seconds
            )

    async def _dial_once(self, peer: _Peer) -> float:
        """Dial, handshake and run one link; return how long it was up (0.0 if never)."""
        host, port = peer.address
        try:
            with trio.fail_after(self.config.dial_timeout_seconds):
                raw = await trio.open_tcp_stream(host, port)
        except (OSError, trio.TooSlowError) as exc:
            self.stats.dial_failures += 1
            peer.dial_failures_in_row += 1
            level = logging.INFO if peer.dial_failures_in_row == 1 else logging.DEBUG
            logger.log(
                level,
                "%s dial failed peer=%s address=%s:%s attempt=%d error=%r",
                self._log_prefix,
                peer.index,
                host,
                port,
                peer.dial_failures_in_row,
                exc,
            )
            return 0.0
        peer.dial_failures_in_row = 0
        stream = self._wrap(raw, peer.index)
        try:
            channel = await self._handshake(stream, Role.INITIATOR, peer.identity)
            if channel is None:
                return 0.0
            started_seconds = trio.current_time()
            await self._run_link(channel, peer.index, LinkDirection.OUTBOUND)
            return trio.current_time() - started_seconds
        finally:
            await trio.aclose_forcefully(stream)

    async def _handle_inbound(self, raw: trio.SocketStream) -> None:
        """Serve one accepted connection: a pre-handshake slot, then the link."""
        stream = self._wrap(raw, None)
        try:
            pending = self._take_handshake_slot(_remote_host(raw))
            channel = None
            try:
                with pending.cancel_scope:
                    channel = await self._handshake(
                        stream, Role.RESPONDER, None, on_hello=pending.mark_hello_checked
                    )
            finally:
                if pending in self._pending_handshakes:  # not if it was evicted
                    self._pending_handshakes.remove(pending)
            if pending.cancel_scope.cancelled_caught:
                detail = f"closed for a newer connection (hello checked: {pending.hello_checked})"
                self._refuse(PeerRefused(RefusalReason.TOO_MANY_HANDSHAKES, detail), None, stream)
            elif channel is not None:
                peer_index = self._index_by_identity[channel.peer_identity]
                await self._run_link(channel, peer_index, LinkDirection.INBOUND)
        finally:
            await trio.aclose_forcefully(stream)

    def _take_handshake_slot(self, remote_host: str) -> PendingHandshake:
        """Register a new inbound connection, closing a less advanced one if it is full."""
        victim = handshake_to_evict(
            self._pending_handshakes,
            remote_host,
            self.config.max_pending_handshakes_per_address,
            self.config.max_pending_handshakes,
        )
        if victim is not None:
            # The slot is free from now on; the victim's task sees the cancellation at its
            # next checkpoint, closes the socket and counts the refusal.
            self._pending_handshakes.remove(victim)
            victim.cancel_scope.cancel()
        pending = PendingHandshake(
            remote_host, trio.current_time(), remote_host in self._validator_hosts
        )
        self._pending_handshakes.append(pending)
        return pending

    def _wrap(self, stream: trio.abc.Stream, peer_index: int | None) -> trio.abc.Stream:
        if self._stream_wrapper is None:
            return stream
        return self._stream_wrapper(stream, peer_index)

    async def _handshake(
        self,
        stream: trio.abc.Stream,
        role: Role,
        expected_identity: bytes | None,
        on_hello: Callable[[], None] | None = None,
    ) -> SecureChannel | None:
        """Run the handshake; on refusal count and log it and return None."""
        try:
            return await perform_handshake(
                stream,
                identity=self._identity,
                chain_id=self.chain_id,
                genesis_hash=self.genesis_hash,
                role=role,
                allowed_identities=self._peer_identities,
                expected_identity=expected_identity,
                timeout_seconds=self.config.handshake_timeout_seconds,
                max_payload_bytes=self.config.max_frame_bytes,
                hello_timeout_seconds=self.config.hello_timeout_seconds,
                on_hello=on_hello,
            )
        except PeerRefused as exc:
            peer_index = self._index_by_identity.get(expected_identity or b"")
            self._refuse(exc, peer_index, stream)
            return None

    def _refuse(
        self, exc: PeerRefused, peer_index: int | None, stream: trio.abc.Stream | None = None
    ) -> None:
        self.stats.count_refusal(exc.reason)
        # A peer that went away mid-handshake is routine, and what an unauthenticated flood
        # causes is logged at DEBUG so the flood cannot flood the log too (all are counted);
        # the rest are worth a look.
        level = logging.DEBUG if exc.reason in _QUIET_REFUSALS else logging.INFO
        logger.log(
            level,
            "%s peer refused reason=%s peer=%s remote=%s detail=%r",
            self._log_prefix,
            exc.reason.value,
            peer_index,
            _describe_remote(stream),
            exc.detail,
        )

    # -- links -----------------------------------------------------------------------

    async def _run_link(
        self, channel: SecureChannel, peer_index: int, direction: LinkDirection
    ) -> None:
        """Register the link (or refuse it as a duplicate) and serve it until it ends."""
        link = _Link(peer_index, direction, channel)
        if not self._register(link):
            return
        try:
            with link.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_loop, link)
                    await self._read_loop(link)
        finally:
            self._unregister(link)

    def _register(self, link: _Link) -> bool:
        peer = self._peers[link.peer_index]
        current = peer.link
        if current is not None:
            if not is_preferred_link(
                self.my_index, link.peer_index, link.direction, current.direction
            ):
                self._refuse(
                    PeerRefused(RefusalReason.DUPLICATE_LINK, f"keeping {current.direction.value}"),
                    link.peer_index,
                    link.channel.stream,
                )
                return False
            current.close(CloseReason.SUPERSEDED)
        peer.link = link
        self.stats.links_established += 1
        logger.info(
            "%s link up peer=%s direction=%s",
            self._log_prefix,
            link.peer_index,
            link.direction.value,
        )
        self._notify_links_changed()
        return True

    def _unregister(self, link: _Link) -> None:
        reason = link.close_reason or CloseReason.SHUTDOWN
        self.stats.count_close(reason)
        peer = self._peers[link.peer_index]
        if peer.link is link:
            peer.link = None
        logger.info(
            "%s link down peer=%s direction=%s reason=%s",
            self._log_prefix,
            link.peer_index,
            link.direction.value,
            reason.value,
        )
        self._notify_links_changed()

    def _notify_links_changed(self) -> None:
        self._links_changed.set()
        self._links_changed = trio.Event()

    async def _read_loop(self, link: _Link) -> None:
        """Deliver DATA frames upward; close on idle timeout, EOF or a refused frame."""
        try:
            while True:
                with trio.move_on_after(self.config.idle_timeout_seconds) as idle:
                    kind, payload = await link.channel.receive_frame()
                if idle.cancelled_caught:
                    link.close(CloseReason.IDLE_TIMEOUT)
                    return
                self.stats.frames_received += 1
                if kind is FrameKind.PING:
                    continue
                self.stats.payload_bytes_received += len(payload)
                await self._inbound.put(link.peer_index, payload)
        except PeerRefused as exc:
            self._refuse(exc, link.peer_index, link.channel.stream)
            link.close(CloseReason.PEER_REFUSED)
        except LinkClosed:
            link.close(CloseReason.PEER_CLOSED)

    async def _write_loop(self, link: _Link) -> None:
        """Send queued payloads, or a ping after a quiet keepalive interval."""
        peer = self._peers[link.peer_index]
        try:
            while True:
                kind, payload = FrameKind.PING, b""
                with trio.move_on_after(self.config.keepalive_interval_seconds):
                    payload = await peer.queue_receive.receive()
                    peer.queued_bytes -= len(payload)
                    kind = FrameKind.DATA
                with trio.move_on_after(self.config.write_timeout_seconds) as write:
                    await link.channel.send_frame(kind, payload)
                if write.cancelled_caught:
                    link.close(CloseReason.WRITE_TIMEOUT)
                    return
                self.stats.frames_sent += 1
                self.stats.payload_bytes_sent += len(payload)
        except LinkClosed:
            link.close(CloseReason.PEER_CLOSED)


def _check_validator_set(
    identity: nacl.signing.SigningKey,
    my_index: int,
    chain_id: str,
    validators: Mapping[int, bytes],
    addresses: Mapping[int, tuple[str, int]],
) -> None:
    """Raise ValueError listing every inconsistency between keys, addresses and us."""
    problems: list[str] = []
    if not 0 < len(chain_id.encode("utf-8")) <= CHAIN_ID_MAX_BYTES:
        problems.append(f"chain id must be 1..{CHAIN_ID_MAX_BYTES} utf-8 bytes")
    if validators.get(my_index) != bytes(identity.verify_key):
        problems.append(f"validators[{my_index}] is not our identity key")
    if missing := sorted(set(validators) - set(addresses)):
        problems.append(f"no address for validators {missing}")
    if len(set(validators.values())) != len(validators):
        problems.append("two validators share an identity key")
    if bad := sorted(index for index, key in validators.items() if len(key) != 32):
        problems.append(f"identity keys of validators {bad} are not 32 bytes")
    if problems:
        raise ValueError("invalid validator set: " + "; ".join(problems))


_QUIET_REFUSALS = frozenset(
    {
        RefusalReason.HANDSHAKE_CLOSED,
        RefusalReason.HANDSHAKE_TIMEOUT,
        RefusalReason.HELLO_TIMEOUT,
        RefusalReason.TOO_MANY_HANDSHAKES,
    }
)


def _remote_host(stream: trio.SocketStream) -> str:
    """The remote IP address of an accepted connection ('?' if the socket cannot say)."""
    try:
        return str(stream.socket.getpeername()[0])
    except OSError:
        return "?"


def _describe_remote(stream: trio.abc.Stream | None) -> str:
    """host:port of the remote end when the stream is (or wraps) a socket, else '?'."""
    while stream is not None and not isinstance(stream, trio.SocketStream):
        stream = getattr(stream, "inner", None)
    if stream is None:
        return "?"
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"
