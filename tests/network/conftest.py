"""Shared helpers for the network tests: keys, configs, and condition waits."""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing
import pytest
import trio

from network.config import NetworkConfig

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


@pytest.fixture
def keys() -> list[nacl.signing.SigningKey]:
    return make_keys(4)
