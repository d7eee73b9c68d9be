"""Real multi-process clusters on 127.0.0.1 for end-to-end tests.

Each cluster gets its own directory and a free block of ports, runs every validator as a
separate ``python -m node.cli node start`` process, and is always stopped (SIGTERM, then
SIGKILL) when the test ends. Waits poll a condition with a deadline; nothing sleeps for a
fixed time to "let things settle".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from node.client import Account, AgoraClient, RpcCallError, TransportError
from node.keys import load_seed
from node.setup import LocalCluster, free_port_block

T = TypeVar("T")
ports_per_cluster = 12
batch_calls_max = 100  # the RPC's default batch_length_max


def wait_until(condition: Callable[[], T], timeout_seconds: float, what: str,
               interval_seconds: float = 0.1) -> T:
    """Poll ``condition`` until it returns something truthy, or fail after the deadline."""
    deadline = time.monotonic() + timeout_seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (RpcCallError, TransportError, httpx.HTTPError, OSError) as error:
            last_error = error
        time.sleep(interval_seconds)
    raise AssertionError(f"timed out after {timeout_seconds}s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


@contextmanager
def running_cluster(directory: Path, validators: int = 4, shards: int = 1,
                    **consensus: Any) -> Iterator[TestCluster]:
    base = free_port_block(3 * validators)
    overrides = {"tick_interval_ms": 20, "view_change_timeout_ticks": 100,
                 "request_timeout_ticks": 25, "empty_block_interval_ms": 300, **consensus}
    local = LocalCluster(directory, validators, shards, p2p_port=base,
                         rpc_port=base + validators, metrics_port=base + 2 * validators,
                         consensus_overrides=overrides)
    cluster = TestCluster(local)
    try:
        local.start()
        local.wait_ready(timeout_seconds=60)
        yield cluster
    finally:
        local.stop()


class TestCluster:
    __test__ = False  # not a pytest class

    def __init__(self, local: LocalCluster) -> None:
        self.local = local
        self.clients = [AgoraClient(url, timeout_seconds=10.0) for url in local.rpc_urls]
        self.faucet = Account.from_seed(load_seed(local.directory / "faucet_key.hex"))

    def client(self, index: int) -> AgoraClient:
        return self.clients[index]

    def heights(self, shard: int = 0, indexes: list[int] | None = None) -> list[int]:
        chosen = indexes if indexes is not None else list(range(len(self.clients)))
        return [self.clients[i].status()["shards"][shard]["height"] for i in chosen]

    def send_batch(self, index: int, txs: list[Any]) -> list[Any]:
        """Submit txs in one JSON-RPC batch request; returns the per-call responses."""
        responses = []
        for start in range(0, len(txs), batch_calls_max):
            body = [{"jsonrpc": "2.0", "id": n, "method": "agora_sendTransaction",
                     "params": [tx.encoded().hex()]}
                    for n, tx in enumerate(txs[start:start + batch_calls_max], start)]
            response = httpx.post(self.local.rpc_urls[index], json=body, timeout=30.0)
            response.raise_for_status()
            reply = response.json()
            assert isinstance(reply, list), reply
            responses += sorted(reply, key=lambda item: item["id"])
        return responses


def assert_same_chain(cluster: TestCluster, shard: int, indexes: list[int]) -> None:
    """Every node has the same block hash, and computed the same state and receipts roots
    after executing it, at every height they all have."""
    top = min(cluster.heights(shard, indexes))
    assert top > 0
    for height in range(1, top + 1):
        blocks = [cluster.client(i).get_block(shard, height) for i in indexes]
        seen = {(block["hash"], block["executed_state_root"], block["executed_receipts_root"])
                for block in blocks}
        assert len(seen) == 1, f"nodes disagree at shard {shard} height {height}: {seen}"
        assert blocks[0]["executed_state_root"] is not None
