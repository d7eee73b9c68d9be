"""A running PeerManager against hand-driven raw TCP peers that misbehave.

The test plays the other validators itself (with their real keys when it needs to pass
the handshake), so each refusal is provoked exactly once and its counter checked.
"""

from __future__ import annotations

import nacl.signing
import pytest
import trio

from network.config import NetworkConfig
from network.errors import PeerRefused, RefusalReason
from network.faults import FaultKind, FaultyStream, FrameFault
from network.framing import FrameKind, SecureChannel, encode_record
from network.handshake import Hello, Role, generate_ephemeral, perform_handshake
from network.peer_manager import LinkDirection, PeerManager
from network.stats import CloseReason
from tests.network.support import (
    CONDITION_TIMEOUT_SECONDS,
    HOST,
    TEST_CHAIN_ID,
    Cluster,
    fast_config,
    make_cluster,
    make_keys,
    start,
    wait_until,
)


async def connect(cluster: Cluster, index: int) -> trio.SocketStream:
    host, port = cluster.addresses[index]
    return await trio.open_tcp_stream(host, port)


async def handshake_as(
    stream: trio.abc.Stream,
    cluster: Cluster,
    key: nacl.signing.SigningKey,
    *,
    role: Role = Role.INITIATOR,
) -> SecureChannel:
    return await perform_handshake(
        stream,
        identity=key,
        chain_id=TEST_CHAIN_ID,
        role=role,
        allowed_identities=set(cluster.validators.values()),
        expected_identity=None,
        timeout_seconds=CONDITION_TIMEOUT_SECONDS,
        max_payload_bytes=1024,
    )


async def wait_closed_by_remote(stream: trio.abc.Stream) -> None:
    """Read (and discard) until the remote closes: EOF or reset both count."""
    try:
        while await stream.receive_some():
            pass
    except trio.BrokenResourceError:
        pass


async def run_alone(
    nursery: trio.Nursery, cluster: Cluster, index: int, config: NetworkConfig
) -> PeerManager:
    manager = cluster.manager(index, config)
    await start(nursery, manager, cluster.listeners[index])
    return manager


async def test_peer_with_an_unknown_key_is_refused_and_counted() -> None:
    cluster = await make_cluster(2, bound=1)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, fast_config())
            stream = await connect(cluster, 0)
            with pytest.raises(PeerRefused):
                await handshake_as(stream, cluster, nacl.signing.SigningKey.generate())
            await wait_until(lambda: manager.stats.refused[RefusalReason.UNKNOWN_IDENTITY] == 1)
            assert manager.connected_peers() == []
            nursery.cancel_scope.cancel()


async def test_low_order_ephemeral_point_is_refused() -> None:
    cluster = await make_cluster(2, bound=1)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, fast_config())
            stream = await connect(cluster, 0)
            hello = Hello(TEST_CHAIN_ID, bytes(32), cluster.validators[1])
            await stream.send_all(encode_record(hello.encode()))
            await wait_closed_by_remote(stream)
            assert manager.stats.refused[RefusalReason.LOW_ORDER_POINT] == 1
            nursery.cancel_scope.cancel()


async def test_a_dribbled_hello_is_dropped_at_the_hello_deadline() -> None:
    cluster = await make_cluster(2, bound=1)
    config = fast_config(hello_timeout_seconds=0.2)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, config)
            stream = await connect(cluster, 0)
            # Half a hello, then silence: the slot is given back at the hello deadline,
            # not at the (longer) handshake deadline.
            _, public = generate_ephemeral()
            record = encode_record(Hello(TEST_CHAIN_ID, public, cluster.validators[1]).encode())
            await stream.send_all(record[: len(record) // 2])
            await wait_closed_by_remote(stream)
            assert manager.stats.refused[RefusalReason.HELLO_TIMEOUT] == 1
            assert manager.stats.refused[RefusalReason.HANDSHAKE_TIMEOUT] == 0
            nursery.cancel_scope.cancel()


async def test_a_handshake_stalled_after_the_hello_is_dropped_at_its_deadline() -> None:
    cluster = await make_cluster(2, bound=1)
    config = fast_config(handshake_timeout_seconds=0.3, hello_timeout_seconds=0.2)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, config)
            stream = await connect(cluster, 0)
            # A whole, valid hello (a validator's public key is public), then no signature.
            _, public = generate_ephemeral()
            hello = Hello(TEST_CHAIN_ID, public, cluster.validators[1]).encode()
            await stream.send_all(encode_record(hello))
            await wait_closed_by_remote(stream)
            assert manager.stats.refused[RefusalReason.HANDSHAKE_TIMEOUT] == 1
            nursery.cancel_scope.cancel()


async def test_a_newcomer_takes_the_slot_of_the_oldest_idle_connection() -> None:
    """The slots are full of idle connections: a validator connecting now is not refused;
    the oldest idle connection is closed for it, and it links."""
    cluster = await make_cluster(2, bound=1)
    config = fast_config(max_pending_handshakes=2, max_pending_handshakes_per_address=2)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, config)
            oldest = await connect(cluster, 0)
            await wait_until(lambda: len(manager._pending_handshakes) == 1)
            newer = await connect(cluster, 0)
            await wait_until(lambda: len(manager._pending_handshakes) == 2)
            validator = await connect(cluster, 0)
            await wait_closed_by_remote(oldest)
            assert manager.stats.refused[RefusalReason.TOO_MANY_HANDSHAKES] == 1
            await handshake_as(validator, cluster, cluster.keys[1])
            await manager.wait_connected()
            await newer.aclose()
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("phase", ["hello", "frame"])
async def test_oversize_length_prefix_is_refused_before_the_body(phase: str) -> None:
    cluster = await make_cluster(2, bound=1)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, fast_config())
            stream = await connect(cluster, 0)
            if phase == "frame":
                await handshake_as(stream, cluster, cluster.keys[1])
            # 4 GiB announced, nothing sent: the manager must refuse without waiting.
            await stream.send_all(b"\xff\xff\xff\xff")
            await wait_closed_by_remote(stream)
            assert manager.stats.refused[RefusalReason.OVERSIZE_FRAME] == 1
            nursery.cancel_scope.cancel()


async def test_frame_tampered_on_a_raw_socket_closes_the_link_and_is_counted() -> None:
    cluster = await make_cluster(2, bound=1)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, fast_config())
            raw = await connect(cluster, 0)
            tampering = FaultyStream(raw, [FrameFault(FaultKind.TAMPER, record_index=3)])
            channel = await handshake_as(tampering, cluster, cluster.keys[1])
            await channel.send_frame(FrameKind.DATA, b"intact")
            assert await manager.receive_channel.receive() == (1, b"intact")
            await channel.send_frame(FrameKind.DATA, b"tampered")
            await wait_closed_by_remote(raw)
            assert manager.stats.refused[RefusalReason.TAMPERED_FRAME] == 1
            assert manager.stats.links_closed[CloseReason.PEER_REFUSED] == 1
            assert manager.connected_peers() == []
            nursery.cancel_scope.cancel()


async def test_silent_link_is_closed_at_the_idle_timeout() -> None:
    cluster = await make_cluster(2, bound=1)
    config = fast_config(keepalive_interval_seconds=0.05, idle_timeout_seconds=0.3)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, config)
            stream = await connect(cluster, 0)
            await handshake_as(stream, cluster, cluster.keys[1])
            await wait_closed_by_remote(stream)
            assert manager.stats.links_closed[CloseReason.IDLE_TIMEOUT] == 1
            nursery.cancel_scope.cancel()


async def test_second_link_from_the_same_dialer_replaces_the_first() -> None:
    cluster = await make_cluster(2, bound=1)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, fast_config())
            old_stream = await connect(cluster, 0)
            await handshake_as(old_stream, cluster, cluster.keys[1])
            await manager.wait_connected()
            new_stream = await connect(cluster, 0)
            new_channel = await handshake_as(new_stream, cluster, cluster.keys[1])
            await wait_closed_by_remote(old_stream)
            assert manager.stats.links_closed[CloseReason.SUPERSEDED] == 1
            await new_channel.send_frame(FrameKind.DATA, b"on the new link")
            assert await manager.receive_channel.receive() == (1, b"on the new link")
            assert manager.links() == {1: LinkDirection.INBOUND}
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("manager_index", [0, 1])
async def test_simultaneous_dials_keep_the_link_dialed_by_the_lower_index(
    manager_index: int,
) -> None:
    """The manager dials the test's validator, and the test dials back at once."""
    cluster = await make_cluster(2)
    test_index = 1 - manager_index
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, manager_index, fast_config())
            accepted = await cluster.listeners[test_index][0].accept()
            await handshake_as(accepted, cluster, cluster.keys[test_index], role=Role.RESPONDER)
            await manager.wait_connected()
            assert manager.links() == {test_index: LinkDirection.OUTBOUND}

            dialed = await connect(cluster, manager_index)
            await handshake_as(dialed, cluster, cluster.keys[test_index])
            if manager_index == 0:
                # The manager's own outbound (dialed by 0) wins; ours is refused.
                await wait_closed_by_remote(dialed)
                assert manager.stats.refused[RefusalReason.DUPLICATE_LINK] == 1
                assert manager.links() == {test_index: LinkDirection.OUTBOUND}
            else:
                # Ours was dialed by 0, so it replaces the manager's outbound.
                await wait_closed_by_remote(accepted)
                assert manager.stats.links_closed[CloseReason.SUPERSEDED] == 1
                assert manager.links() == {test_index: LinkDirection.INBOUND}
            nursery.cancel_scope.cancel()


async def test_dialer_refuses_a_different_validator_at_the_address() -> None:
    cluster = await make_cluster(3, bound=2)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, fast_config())
            accepted = await cluster.listeners[1][0].accept()
            with pytest.raises(PeerRefused):
                # Validator 2's key answers at validator 1's address.
                await handshake_as(accepted, cluster, cluster.keys[2], role=Role.RESPONDER)
            await wait_until(lambda: manager.stats.refused[RefusalReason.UNEXPECTED_IDENTITY] == 1)
            nursery.cancel_scope.cancel()


async def test_link_to_a_peer_that_stops_reading_is_closed_at_the_write_timeout() -> None:
    cluster = await make_cluster(2, bound=1)
    config = fast_config(write_timeout_seconds=0.2, send_queue_frames=8)
    with trio.fail_after(CONDITION_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            manager = await run_alone(nursery, cluster, 0, config)
            stream = await connect(cluster, 0)
            await handshake_as(stream, cluster, cluster.keys[1])
            await manager.wait_connected()
            # We never read: once both socket buffers fill, the manager's write stalls.
            chunk = bytes(config.max_frame_bytes)
            while manager.stats.links_closed[CloseReason.WRITE_TIMEOUT] == 0:
                manager.send(1, chunk)
                await trio.sleep(0)
            assert manager.connected_peers() == []
            await stream.aclose()
            nursery.cancel_scope.cancel()


def test_manager_rejects_an_inconsistent_validator_set() -> None:
    keys = make_keys(2)
    validators = {0: bytes(keys[0].verify_key), 1: bytes(keys[0].verify_key)}
    with pytest.raises(ValueError) as error:
        PeerManager(fast_config(), keys[1], 1, "x" * 200, validators, {0: (HOST, 1)})
    message = str(error.value)
    for problem in ("chain id", "not our identity key", "no address", "share an identity"):
        assert problem in message
