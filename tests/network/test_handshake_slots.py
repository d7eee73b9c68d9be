"""Unauthenticated connections cannot starve the validators of links (#12 point 6).

The eviction policy is a pure function, tested first; then real floods of idle sockets
over TCP on 127.0.0.1 against real PeerManagers. The flood comes from 127.0.0.1, the same
address as the validators, so the per-address cap alone cannot tell them apart: what lets
the validators through is that a connection whose hello passed its checks is never
closed for an idle one, and idle ones give their slot back at the hello deadline.
"""

from __future__ import annotations

import trio
import trio.testing

from network.errors import RefusalReason
from network.peer_manager import PendingHandshake, handshake_to_evict
from tests.network.support import (
    CONDITION_TIMEOUT_SECONDS,
    HOST,
    fast_config,
    make_cluster,
    start,
    wait_until,
)

FLOOD_SOCKETS_PER_LISTENER = 80  # more than the 64 slots, as in the reproduction


def _pending(host: str, started: float, *, checked: bool = False,
             validator_host: bool = False) -> PendingHandshake:
    return PendingHandshake(host, started, validator_host, checked)


def test_nothing_is_evicted_while_there_is_room() -> None:
    pending = [_pending("10.0.0.1", 1.0), _pending("10.0.0.2", 2.0)]
    assert handshake_to_evict(pending, "10.0.0.3", per_address_max=2, total_max=3) is None


def test_an_address_at_its_cap_loses_its_own_least_advanced_connection() -> None:
    checked = _pending("10.0.0.1", 1.0, checked=True)
    idle_old, idle_new = _pending("10.0.0.1", 2.0), _pending("10.0.0.1", 3.0)
    other = _pending("10.0.0.9", 0.5)
    pending = [checked, idle_old, idle_new, other]
    assert handshake_to_evict(pending, "10.0.0.1", per_address_max=3, total_max=64) is idle_old


def test_full_slots_lose_an_idle_connection_from_the_busiest_address_first() -> None:
    validator_checked = _pending("10.0.0.1", 0.0, checked=True, validator_host=True)
    validator_idle = _pending("10.0.0.1", 1.0, validator_host=True)
    flood = [_pending("10.6.6.6", 2.0 + number) for number in range(3)]
    lone = _pending("10.0.0.7", 1.5)
    pending = [validator_checked, validator_idle, *flood, lone]
    victim = handshake_to_evict(pending, "10.0.0.2", per_address_max=8, total_max=6)
    assert victim is flood[0]  # not a validator's host, busiest address, oldest there
    # Only checked hellos left: the oldest of them goes.
    checked = [_pending("10.6.6.6", 5.0, checked=True), _pending("10.0.0.1", 4.0, checked=True)]
    assert handshake_to_evict(checked, "10.0.0.2", per_address_max=8, total_max=2) is checked[1]


async def _hold_idle_sockets(port: int) -> None:
    """Keep one connection open, sending nothing; reopen it whenever it is closed."""
    while True:
        try:
            stream = await trio.open_tcp_stream(HOST, port)
        except OSError:
            await trio.sleep(0.01)
            continue
        async with stream:
            try:
                while await stream.receive_some(4096):
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass


async def test_a_flood_from_one_address_holds_at_most_its_per_address_share() -> None:
    cluster = await make_cluster(2, bound=1)
    config = fast_config(max_pending_handshakes=64, max_pending_handshakes_per_address=8)
    manager = cluster.manager(0, config)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            await start(nursery, manager, cluster.listeners[0])
            streams = [await trio.open_tcp_stream(*cluster.addresses[0]) for _ in range(20)]
            await wait_until(
                lambda: manager.stats.refused[RefusalReason.TOO_MANY_HANDSHAKES] == 12
            )
            assert len(manager._pending_handshakes) == 8
            for stream in streams:
                await stream.aclose()
            nursery.cancel_scope.cancel()


async def test_two_validators_link_through_a_flood_of_idle_sockets_on_both_listeners() -> None:
    """The issue's reproduction: 80 idle sockets per listener, reopened as soon as they
    are closed, in place before the validators start (default slot bounds). Before the fix
    the two never linked within 30 s. The hello deadline is set to the handshake deadline
    here so that what is tested is the slot policy alone (the hello deadline has its own
    test in test_refusals.py)."""
    cluster = await make_cluster(2)
    config = fast_config(hello_timeout_seconds=5.0, handshake_timeout_seconds=5.0)
    assert config.max_pending_handshakes < FLOOD_SOCKETS_PER_LISTENER
    managers = [cluster.manager(index, config) for index in range(2)]
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            for index in range(2):
                for _ in range(FLOOD_SOCKETS_PER_LISTENER):
                    nursery.start_soon(_hold_idle_sockets, cluster.addresses[index][1])
            # The flood is in place (the listeners' backlogs hold it before the managers
            # accept anything), then the validators start.
            await trio.testing.wait_all_tasks_blocked()
            for index, manager in enumerate(managers):
                await start(nursery, manager, cluster.listeners[index])
            for manager in managers:
                await manager.wait_connected()
            for manager in managers:
                flood_refusals = (manager.stats.refused[RefusalReason.TOO_MANY_HANDSHAKES]
                                  + manager.stats.refused[RefusalReason.HELLO_TIMEOUT])
                assert flood_refusals > 0  # the flood was there and was being turned away
                assert len(manager._pending_handshakes) <= config.max_pending_handshakes
            nursery.cancel_scope.cancel()
