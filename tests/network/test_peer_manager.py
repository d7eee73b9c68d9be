"""PeerManager over real TCP on 127.0.0.1: links, refusals, faults, reconnects, queues.

Every wait is on a condition and bounded by trio.fail_after; nothing sleeps a fixed time.
"""

from __future__ import annotations

import pytest
import trio

from network.config import NetworkConfig
from network.errors import NetworkConfigError, PayloadTooLarge, RefusalReason
from network.faults import FaultInjector, FaultKind, FrameFault
from network.peer_manager import LinkDirection, is_preferred_link
from network.stats import CloseReason
from tests.network.support import (
    CONDITION_TIMEOUT_SECONDS,
    HOST,
    fast_config,
    make_cluster,
    receive_from,
    send_until_received,
    start,
    start_settled_pair,
    wait_until,
)

# -- pure parts -------------------------------------------------------------------------


def test_lower_index_outbound_link_wins_a_simultaneous_dial() -> None:
    outbound, inbound = LinkDirection.OUTBOUND, LinkDirection.INBOUND
    # Node 0 talking to node 1: keep 0's outbound, i.e. 1's inbound.
    assert is_preferred(0, 1, new=outbound, current=inbound)
    assert not is_preferred(0, 1, new=inbound, current=outbound)
    assert is_preferred(1, 0, new=inbound, current=outbound)
    assert not is_preferred(1, 0, new=outbound, current=inbound)
    # The same dialer twice: the newer link wins (the dialer restarted).
    assert is_preferred(0, 1, new=inbound, current=inbound)
    assert is_preferred(1, 0, new=outbound, current=outbound)


def is_preferred(
    my_index: int, peer_index: int, *, new: LinkDirection, current: LinkDirection
) -> bool:
    return is_preferred_link(my_index, peer_index, new, current)


def test_config_validation_lists_every_bad_field() -> None:
    with pytest.raises(NetworkConfigError) as error:
        NetworkConfig(max_frame_bytes=0, send_queue_frames=-1, write_timeout_seconds=0).validate()
    assert len(error.value.problems) == 3
    with pytest.raises(NetworkConfigError) as error:
        NetworkConfig(
            reconnect_backoff_initial_seconds=9.0,
            reconnect_backoff_max_seconds=1.0,
            keepalive_interval_seconds=5.0,
            idle_timeout_seconds=5.0,
        ).validate()
    assert len(error.value.problems) == 2
    assert NetworkConfig().validate() == NetworkConfig()


async def test_full_send_queue_drops_the_newest_payload_and_counts_it() -> None:
    cluster = await make_cluster(2)
    sender = cluster.manager(0, fast_config(send_queue_frames=2))
    receiver = cluster.manager(1, fast_config())
    assert sender.send(1, b"first") and sender.send(1, b"second")
    assert not sender.send(1, b"third")
    assert sender.broadcast(b"fourth") == [1]
    assert sender.stats.send_dropped == {1: 2}
    # The byte bound applies as well as the frame bound.
    by_bytes = cluster.manager(0, fast_config(send_queue_bytes=64 * 1024))
    assert by_bytes.send(1, bytes(40 * 1024))
    assert not by_bytes.send(1, bytes(40 * 1024))
    assert by_bytes.stats.send_dropped == {1: 1}
    with pytest.raises(PayloadTooLarge):
        sender.send(1, bytes(sender.config.max_frame_bytes + 1))
    with pytest.raises(ValueError):
        sender.send(0, b"to ourselves")
    # What was queued before any link existed is delivered once the link is up.
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            await start(nursery, sender, cluster.listeners[0])
            await start(nursery, receiver, cluster.listeners[1])
            assert await receive_from(receiver, 0) == b"first"
            assert await receive_from(receiver, 0) == b"second"
            nursery.cancel_scope.cancel()


# -- links between managers -----------------------------------------------------------


async def test_full_inbound_channel_applies_backpressure_without_loss_or_reordering() -> None:
    cluster = await make_cluster(2)
    payloads = [f"payload {number}".encode() for number in range(200)]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            sender, receiver = await start_settled_pair(
                nursery, cluster, fast_config(), fast_config(inbound_queue_frames=2)
            )
            for payload in payloads:
                assert sender.send(1, payload)
            # Nobody reads yet: the sender still writes everything into TCP.
            await wait_until(lambda: sender.stats.payload_bytes_sent == sum(map(len, payloads)))
            received = [await receive_from(receiver, 0) for _ in payloads]
            assert received == payloads
            nursery.cancel_scope.cancel()


async def test_two_managers_connect_and_exchange_messages_both_ways() -> None:
    cluster = await make_cluster(2)
    managers = [cluster.manager(index, fast_config()) for index in range(2)]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            for index, manager in enumerate(managers):
                await start(nursery, manager, cluster.listeners[index])
            for manager in managers:
                await manager.wait_connected()
            await send_until_received(managers[0], managers[1], b"hello from 0")
            await send_until_received(managers[1], managers[0], b"hello from 1")
            big = bytes(range(256)) * 200
            await send_until_received(managers[0], managers[1], big)
            assert managers[0].connected_peers() == [1]
            assert managers[1].connected_peers() == [0]
            nursery.cancel_scope.cancel()


async def test_four_managers_form_one_link_per_pair_and_broadcast() -> None:
    cluster = await make_cluster(4)
    managers = [cluster.manager(index, fast_config()) for index in range(4)]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            for index, manager in enumerate(managers):
                await start(nursery, manager, cluster.listeners[index])
            for manager in managers:
                await manager.wait_connected()

            def links_agree() -> bool:
                # Each pair holds one link: outbound at one end, inbound at the other.
                return all(
                    len(manager.links()) == 3
                    and managers[peer].links().get(manager.my_index) not in (None, direction)
                    for manager in managers
                    for peer, direction in manager.links().items()
                )

            await wait_until(links_agree)
            for manager in managers:
                for other in managers:
                    if other is not manager:
                        await send_until_received(
                            manager, other, f"{manager.my_index}->{other.my_index}".encode()
                        )
            for manager in managers:
                others = [index for index in range(4) if index != manager.my_index]
                assert manager.connected_peers() == others
            nursery.cancel_scope.cancel()


async def test_managers_with_different_chain_ids_refuse_each_other() -> None:
    cluster = await make_cluster(2)
    ours = cluster.manager(0, fast_config())
    theirs = cluster.manager(1, fast_config(), chain_id="some-other-chain")
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            await start(nursery, ours, cluster.listeners[0])
            await start(nursery, theirs, cluster.listeners[1])
            await wait_until(
                lambda: (
                    ours.stats.refused[RefusalReason.WRONG_CHAIN_ID] >= 1
                    and theirs.stats.refused[RefusalReason.WRONG_CHAIN_ID] >= 1
                )
            )
            assert ours.connected_peers() == theirs.connected_peers() == []
            assert ours.stats.links_established == theirs.stats.links_established == 0
            nursery.cancel_scope.cancel()


async def test_link_reconnects_after_the_remote_restarts() -> None:
    cluster = await make_cluster(2)
    survivor = cluster.manager(0, fast_config())
    first_life = cluster.manager(1, fast_config())
    port = cluster.addresses[1][1]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            await start(nursery, survivor, cluster.listeners[0])
            scope = await start(nursery, first_life, cluster.listeners[1])
            await survivor.wait_connected()
            await send_until_received(first_life, survivor, b"before restart")
            scope.cancel()
            await wait_until(lambda: survivor.connected_peers() == [])
            assert survivor.stats.links_closed[CloseReason.PEER_CLOSED] >= 1

            second_life = cluster.manager(1, fast_config())
            listeners = await trio.open_tcp_listeners(port, host=HOST)
            await start(nursery, second_life, listeners)
            await survivor.wait_connected()
            await second_life.wait_connected()
            await send_until_received(survivor, second_life, b"after restart")
            await send_until_received(second_life, survivor, b"and back")
            nursery.cancel_scope.cancel()


async def test_quiet_link_stays_up_on_keepalive_pings() -> None:
    config = fast_config(keepalive_interval_seconds=0.01, idle_timeout_seconds=0.5)
    cluster = await make_cluster(2)
    managers = [cluster.manager(index, config) for index in range(2)]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            for index, manager in enumerate(managers):
                await start(nursery, manager, cluster.listeners[index])
            await managers[0].wait_connected()
            established = managers[0].stats.links_established
            # 100 pings at 10 ms span about twice the 0.5 s idle timeout.
            frames_before = managers[0].stats.frames_received
            await wait_until(lambda: managers[0].stats.frames_received >= frames_before + 100)
            assert managers[0].stats.links_established == established
            assert managers[0].stats.links_closed[CloseReason.IDLE_TIMEOUT] == 0
            nursery.cancel_scope.cancel()


# -- faults on links between managers -------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (FaultKind.TAMPER, RefusalReason.TAMPERED_FRAME),
        (FaultKind.DUPLICATE, RefusalReason.REPLAYED_FRAME),
        (FaultKind.REORDER, RefusalReason.REORDERED_FRAME),
        (FaultKind.DROP, RefusalReason.REORDERED_FRAME),
    ],
    ids=lambda value: value.value,
)
async def test_faulted_frame_closes_the_link_is_counted_and_the_link_recovers(
    fault: FaultKind, reason: RefusalReason
) -> None:
    cluster = await make_cluster(2)
    # Fault the first frame after the handshake on node 0's first outbound stream. That
    # link always wins the tie-break (0 < 1), so the fault lands on a link that is used.
    injector = FaultInjector([FrameFault(fault, record_index=2)], only_peer=1)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            sender, receiver = await start_settled_pair(
                nursery, cluster, fast_config(), fast_config(), sender_wrapper=injector
            )

            async def keep_sending() -> None:
                while receiver.stats.refused[reason] == 0:
                    sender.send(1, b"probe")
                    await trio.sleep(0.01)

            nursery.start_soon(keep_sending)
            await wait_until(lambda: receiver.stats.refused[reason] == 1)
            assert [applied.kind for applied in injector.applied] == [fault]
            # The refusal is counted as the frame is read; the closure once the link's
            # tasks have ended, a moment later.
            await wait_until(lambda: receiver.stats.links_closed[CloseReason.PEER_REFUSED] == 1)
            # The injector faults only the first stream: the next link is clean.
            await send_until_received(sender, receiver, b"after the fault")
            await send_until_received(receiver, sender, b"and back")
            nursery.cancel_scope.cancel()
