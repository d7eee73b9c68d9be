"""Received payloads waiting for the layer above: one queue per peer, bounded in bytes.

Why per peer and why in bytes. A frame may carry up to ``max_frame_bytes`` (16 MiB), so
a queue bounded only in frames (4,096 of them) could hold 64 GiB. Each peer's queue is
bounded by ``inbound_queue_frames`` *and* ``inbound_queue_bytes``; the total held is at
most (validators - 1) times that, plus one frame per link being read.

Full queue: backpressure, not drop. A link's reader waits until its own peer's queue has
room (the frame it holds is the one extra frame per link above). TCP then slows that
peer, and only that peer: the others have queues of their own. Dropping instead would
lose consensus messages that an honest but bursty peer sent (the votes of a full
pipeline), costing retransmissions and view changes; a peer that we stall for longer
than its ``write_timeout_seconds`` drops the link itself and redials, with its queued
payloads kept on its side. A slow consumer thus slows its peers rather than losing
their messages.

Two ways to consume: :meth:`InboundQueues.receive_from` (one consumer task per peer,
so a peer whose messages take long to process delays only its own) and
:meth:`InboundQueues.receive` (one consumer, served round-robin over the peers with
something queued, so one busy peer cannot starve the others). Per peer, payloads come
out in the order they arrived.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable

import trio


@dataclasses.dataclass(eq=False, slots=True)
class _PeerQueue:
    payloads: collections.deque[bytes] = dataclasses.field(default_factory=collections.deque)
    queued_bytes: int = 0
    room: trio.lowlevel.ParkingLot = dataclasses.field(default_factory=trio.lowlevel.ParkingLot)


class InboundQueues:
    """Per-peer inbound queues; see the module docstring for the contract."""

    def __init__(self, peers: Iterable[int], frames_max: int, bytes_max: int) -> None:
        assert frames_max > 0 and bytes_max > 0
        self.frames_max = frames_max
        self.bytes_max = bytes_max
        self._queues = {peer: _PeerQueue() for peer in sorted(peers)}
        self._order = list(self._queues)
        self._next = 0  # rotation position of receive()
        self._data = trio.lowlevel.ParkingLot()
        self._closed = False
        # Times a reader had to wait for room (backpressure applied), cumulative.
        self.waits = 0

    def queued_bytes(self, peer: int) -> int:
        return self._queues[peer].queued_bytes

    def queued_frames(self, peer: int) -> int:
        return len(self._queues[peer].payloads)

    def has_room(self, peer: int, payload_bytes: int) -> bool:
        """Whether a payload of this size fits in the peer's queue now. An empty queue
        takes any payload, so a frame larger than the byte bound cannot wedge a link
        (the config refuses such a bound anyway)."""
        queue = self._queues[peer]
        if not queue.payloads:
            return True
        return (len(queue.payloads) < self.frames_max
                and queue.queued_bytes + payload_bytes <= self.bytes_max)

    async def put(self, peer: int, payload: bytes) -> None:
        """Queue ``payload`` from ``peer``, waiting while its queue is full."""
        queue = self._queues[peer]
        if not self.has_room(peer, len(payload)):
            self.waits += 1
            while not self.has_room(peer, len(payload)):
                if self._closed:
                    raise trio.ClosedResourceError("inbound queues are closed")
                await queue.room.park()
        if self._closed:
            raise trio.ClosedResourceError("inbound queues are closed")
        queue.payloads.append(payload)
        queue.queued_bytes += len(payload)
        assert len(queue.payloads) <= self.frames_max or len(queue.payloads) == 1
        self._data.unpark_all()

    async def receive(self) -> tuple[int, bytes]:
        """The next ``(peer, payload)``, peers served in turn; EndOfChannel once closed
        and drained."""
        while True:
            for step in range(len(self._order)):
                position = (self._next + step) % len(self._order)
                peer = self._order[position]
                if self._queues[peer].payloads:
                    self._next = position + 1
                    return peer, self._pop(peer)
            if self._closed:
                raise trio.EndOfChannel
            await self._data.park()

    async def receive_from(self, peer: int) -> bytes:
        """The next payload from ``peer``; EndOfChannel once closed and drained."""
        queue = self._queues[peer]
        while not queue.payloads:
            if self._closed:
                raise trio.EndOfChannel
            await self._data.park()
        return self._pop(peer)

    def close(self) -> None:
        """No more payloads: waiting consumers get EndOfChannel once drained, waiting
        readers ClosedResourceError."""
        self._closed = True
        self._data.unpark_all()
        for queue in self._queues.values():
            queue.room.unpark_all()

    def __aiter__(self) -> InboundQueues:
        return self

    async def __anext__(self) -> tuple[int, bytes]:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def _pop(self, peer: int) -> bytes:
        queue = self._queues[peer]
        payload = queue.payloads.popleft()
        queue.queued_bytes -= len(payload)
        assert queue.queued_bytes >= 0
        queue.room.unpark_all()
        return payload
