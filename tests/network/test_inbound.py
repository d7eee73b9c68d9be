"""Inbound queues bounded in bytes as well as frames (#12 point 7).

Unit tests drive network.inbound.InboundQueues directly; the last test runs three real
PeerManagers over TCP on 127.0.0.1: a peer that floods big frames into a receiver that
does not read is held at the byte bound (its reader waits), while another peer's payloads
still get through.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from network.config import NetworkConfig
from network.errors import NetworkConfigError
from network.inbound import InboundQueues
from network.peer_manager import LinkDirection
from tests.network.support import (
    CONDITION_TIMEOUT_SECONDS,
    fast_config,
    make_cluster,
    start,
    wait_until,
)


def test_inbound_byte_bound_must_hold_the_largest_frame() -> None:
    with pytest.raises(NetworkConfigError, match="inbound_queue_bytes"):
        NetworkConfig(max_frame_bytes=1024, inbound_queue_bytes=1000).validate()


async def test_a_full_peer_queue_makes_its_reader_wait_until_bytes_are_consumed() -> None:
    queues = InboundQueues([1, 2], frames_max=100, bytes_max=1000)
    await queues.put(1, bytes(600))
    put_done = trio.Event()

    async def put_second() -> None:
        await queues.put(1, bytes(600))  # 1,200 > 1,000 bytes: must wait
        put_done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(put_second)
        await trio.testing.wait_all_tasks_blocked()
        assert not put_done.is_set() and queues.waits == 1
        assert queues.queued_bytes(1) == 600
        # Another peer's queue is its own: it takes payloads while peer 1 is full.
        await queues.put(2, bytes(900))
        assert await queues.receive_from(2) == bytes(900)
        assert await queues.receive_from(1) == bytes(600)
        await put_done.wait()
    assert queues.queued_bytes(1) == 600 and queues.queued_frames(1) == 1


async def test_the_frame_bound_still_applies() -> None:
    queues = InboundQueues([1], frames_max=2, bytes_max=10_000)
    await queues.put(1, b"a")
    await queues.put(1, b"b")
    assert not queues.has_room(1, 0)


async def test_receive_serves_peers_in_turn_and_keeps_each_peers_order() -> None:
    queues = InboundQueues([1, 2, 3], frames_max=100, bytes_max=10_000)
    for number in range(3):
        await queues.put(1, b"one-%d" % number)
    await queues.put(2, b"two-0")
    await queues.put(3, b"three-0")
    received = [await queues.receive() for _ in range(5)]
    assert received == [(1, b"one-0"), (2, b"two-0"), (3, b"three-0"), (1, b"one-1"),
                        (1, b"one-2")]


async def test_close_ends_consumers_after_the_queue_is_drained() -> None:
    queues = InboundQueues([1], frames_max=10, bytes_max=100)
    await queues.put(1, b"last")
    queues.close()
    assert [item async for item in queues] == [(1, b"last")]
    with pytest.raises(trio.EndOfChannel):
        await queues.receive_from(1)
    with pytest.raises(trio.ClosedResourceError):
        await queues.put(1, b"late")


async def test_a_flooding_peer_is_held_at_the_byte_bound_and_others_still_get_through() -> None:
    """Peer 1 sends 12 frames of 64 KiB to peer 0, which does not read them: peer 0 holds
    at most inbound_queue_bytes (2 frames) of them, its reader for peer 1 waits, and a
    payload from peer 2 is delivered meanwhile; then every frame arrives, in order."""
    cluster = await make_cluster(3)
    frame_bytes = 64 * 1024
    receiver_config = fast_config(
        max_frame_bytes=frame_bytes,
        inbound_queue_bytes=2 * frame_bytes,
        send_queue_bytes=64 * frame_bytes,
        write_timeout_seconds=CONDITION_TIMEOUT_SECONDS,
        idle_timeout_seconds=CONDITION_TIMEOUT_SECONDS,
    )
    config = fast_config(max_frame_bytes=frame_bytes, send_queue_bytes=64 * frame_bytes,
                         write_timeout_seconds=CONDITION_TIMEOUT_SECONDS,
                         idle_timeout_seconds=CONDITION_TIMEOUT_SECONDS)
    receiver = cluster.manager(0, receiver_config)
    flooder, other = cluster.manager(1, config), cluster.manager(2, config)
    payloads = [bytes([number]) * frame_bytes for number in range(12)]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            for index, manager in enumerate((receiver, flooder, other)):
                await start(nursery, manager, cluster.listeners[index])
            # Wait for the links the tie-break keeps (dialed by the lower index): once
            # both ends hold them they are never replaced, so nothing sent is lost.
            outbound, inbound = LinkDirection.OUTBOUND, LinkDirection.INBOUND
            await wait_until(lambda: receiver.links() == {1: outbound, 2: outbound}
                             and flooder.links().get(0) is inbound
                             and other.links().get(0) is inbound)
            for payload in payloads:
                assert flooder.send(0, payload)
            await wait_until(lambda: receiver.receive_channel.waits >= 1)
            assert receiver.receive_channel.queued_bytes(1) <= 2 * frame_bytes
            assert other.send(0, b"not stuck behind peer 1")
            assert await receiver.receive_from(2) == b"not stuck behind peer 1"
            received = [await receiver.receive_from(1) for _ in payloads]
            assert received == payloads
            nursery.cancel_scope.cancel()
