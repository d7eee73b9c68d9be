"""Shared helpers for the network tests: keys, configs, clusters, condition waits.

Listeners are pre-bound on port 0 so every manager knows every port before it starts.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import nacl.signing
import trio

from network.config import NetworkConfig
from network.faults import FaultInjector
from network.peer_manager import LinkDirection, PeerManager, StreamWrapper

TEST_CHAIN_ID = "agora-test"
# Every test waits on conditions under this bound, never on fixed sleeps.
CONDITION_TIMEOUT_SECONDS = 10.0


def make_keys(count: int) -> list[nacl.signing.SigningKey]:
    """Deterministic validator keys, so failures reproduce."""
    return [nacl.signing.SigningKey(bytes([index + 1]) * 32) for index in range(count)]


def fast_config(**overrides: object) -> NetworkConfig:
    """Short deadlines so the suite stays fast."""
    values: dict[object, object] = dict(
        handshake_timeout_seconds=2.0,
        dial_timeout_seconds=2.0,
        reconnect_backoff_initial_seconds=0.02,
        reconnect_backoff_max_seconds=0.2,
        write_timeout_seconds=2.0,
        keepalive_interval_seconds=1.0,
        idle_timeout_seconds=5.0,
        max_frame_bytes=64 * 1024,
    )
    values.update(overrides)
    return NetworkConfig(**values).validate()  # type: ignore[arg-type]


async def wait_until(predicate: Callable[[], bool], poll_seconds: float = 0.005) -> None:
    """Poll ``predicate`` until true; the caller bounds it with trio.fail_after."""
    while not predicate():
        await trio.sleep(poll_seconds)


HOST = "127.0.0.1"


@dataclasses.dataclass
class Cluster:
    """Keys, pre-bound listeners and address book for ``count`` validators."""

    keys: list[nacl.signing.SigningKey]
    listeners: dict[int, list[trio.SocketListener]]
    addresses: dict[int, tuple[str, int]]

    @property
    def validators(self) -> dict[int, bytes]:
        return {index: bytes(key.verify_key) for index, key in enumerate(self.keys)}

    def manager(
        self,
        index: int,
        config: NetworkConfig,
        *,
        chain_id: str = TEST_CHAIN_ID,
        stream_wrapper: StreamWrapper | None = None,
    ) -> PeerManager:
        return PeerManager(
            config,
            self.keys[index],
            index,
            chain_id,
            self.validators,
            self.addresses,
            stream_wrapper=stream_wrapper,
        )


async def _free_port() -> int:
    """A port nothing listens on (bound then released), so dials to it are refused."""
    (listener,) = await trio.open_tcp_listeners(0, host=HOST)
    port: int = listener.socket.getsockname()[1]
    await listener.aclose()
    return port


async def make_cluster(count: int, *, bound: int | None = None) -> Cluster:
    """``bound`` validators (default all) get a listener; the rest get a dead port."""
    bound = count if bound is None else bound
    listeners = {index: await trio.open_tcp_listeners(0, host=HOST) for index in range(bound)}
    addresses = {index: (HOST, listeners[index][0].socket.getsockname()[1]) for index in listeners}
    for index in range(bound, count):
        addresses[index] = (HOST, await _free_port())
    return Cluster(make_keys(count), listeners, addresses)


async def start(
    nursery: trio.Nursery, manager: PeerManager, listeners: list[trio.SocketListener]
) -> trio.CancelScope:
    """Run ``manager`` in its own cancel scope (to stop it alone); return once listening."""

    async def run_scoped(*, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                await inner.start(functools.partial(manager.run, listeners=listeners))
                task_status.started(scope)

    scope: trio.CancelScope = await nursery.start(run_scoped)
    return scope


async def receive_from(manager: PeerManager, peer_index: int) -> bytes:
    received_peer, payload = await manager.receive_channel.receive()
    assert received_peer == peer_index
    return payload


async def send_until_received(sender: PeerManager, receiver: PeerManager, payload: bytes) -> None:
    """Resend until one copy arrives: links may churn while they settle, and the
    network layer (like TCP under it) does not retransmit what a dying link lost."""
    with trio.move_on_after(CONDITION_TIMEOUT_SECONDS) as scope:
        async with trio.open_nursery() as nursery:

            async def resend() -> None:
                while True:
                    sender.send(receiver.my_index, payload)
                    await trio.sleep(0.05)

            nursery.start_soon(resend)
            # Skip stale copies of earlier payloads (and other senders' traffic).
            while await receiver.receive_channel.receive() != (sender.my_index, payload):
                pass
            nursery.cancel_scope.cancel()
    assert not scope.cancelled_caught, "payload never arrived"


async def start_settled_pair(
    nursery: trio.Nursery,
    cluster: Cluster,
    sender_config: NetworkConfig,
    receiver_config: NetworkConfig,
    sender_wrapper: FaultInjector | None = None,
) -> tuple[PeerManager, PeerManager]:
    """Start managers 0 and 1 so that 0's outbound link is the one kept, deterministically.

    Node 1 starts only after node 0 has dialed it (into its pre-bound listener), so 0's
    outbound link always exists; being dialed by the lower index, it wins the tie-break
    at both ends and is never replaced. Returns once both ends hold it: from then on
    nothing sent is lost to link churn.
    """
    observer = sender_wrapper or FaultInjector(only_peer=1)
    sender = cluster.manager(0, sender_config, stream_wrapper=observer)
    receiver = cluster.manager(1, receiver_config)
    await start(nursery, sender, cluster.listeners[0])
    await wait_until(lambda: observer.streams_wrapped == 1)
    await start(nursery, receiver, cluster.listeners[1])
    await wait_until(
        lambda: (
            sender.links() == {1: LinkDirection.OUTBOUND}
            and receiver.links() == {0: LinkDirection.INBOUND}
        )
    )
    return sender, receiver
