"""Node metrics: private registries, mirrored counters, the HTTP endpoint."""

from __future__ import annotations

import httpx
import trio

from node.config import MetricsSection
from node.metrics import NodeMetrics, serve_metrics


def _sample(metrics: NodeMetrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_two_nodes_in_one_process_do_not_clash() -> None:
    first, second = NodeMetrics(), NodeMetrics()
    first.record_block(0, 5, 10, 0.01)
    second.record_block(0, 7, 3, 0.02)
    assert _sample(first, "agora_height", {"shard": "0"}) == 5
    assert _sample(second, "agora_height", {"shard": "0"}) == 7
    assert _sample(first, "agora_txs_committed_total", {"shard": "0"}) == 10


def test_mempool_sync_advances_rejections_by_the_difference() -> None:
    metrics = NodeMetrics()
    metrics.sync_mempool([3, 4], 700, {"DUPLICATE": 2})
    metrics.sync_mempool([1, 0], 100, (("DUPLICATE", 5), ("MEMPOOL_FULL", 1)))
    assert _sample(metrics, "agora_txs_rejected_total", {"reason": "DUPLICATE"}) == 5
    assert _sample(metrics, "agora_txs_rejected_total", {"reason": "MEMPOOL_FULL"}) == 1
    assert _sample(metrics, "agora_mempool_txs", {"shard": "0"}) == 1
    assert _sample(metrics, "agora_mempool_bytes", {}) == 100


def test_view_latency_and_failures_are_recorded() -> None:
    metrics = NodeMetrics()
    metrics.record_view(1, 3, view_changes_total=2)
    metrics.record_view(1, 4, view_changes_total=3)
    metrics.record_commit_latency(1, 0.2)
    metrics.record_block(1, 1, 2, 0.001, failed_statuses=[107, 107])
    assert _sample(metrics, "agora_view", {"shard": "1"}) == 4
    assert _sample(metrics, "agora_view_changes_total", {"shard": "1"}) == 3
    assert _sample(metrics, "agora_commit_latency_seconds_count", {"shard": "1"}) == 1
    assert _sample(metrics, "agora_txs_failed_total",
                   {"shard": "1", "status": "INSUFFICIENT_BALANCE"}) == 2


async def test_metrics_endpoint_serves_the_registry_over_http() -> None:
    metrics = NodeMetrics()
    metrics.record_block(0, 9, 1, 0.001)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve_metrics, metrics.registry,
                                        MetricsSection(port=0))
            async with httpx.AsyncClient(base_url=binds[0]) as client:
                response = await client.get("/metrics")
                assert response.status_code == 200
                assert 'agora_height{shard="0"} 9.0' in response.text
                assert (await client.get("/health")).text == "ok\n"
                assert (await client.get("/nope")).status_code == 404
            nursery.cancel_scope.cancel()


def test_rpc_hook_and_peers() -> None:
    metrics = NodeMetrics()
    metrics.on_rpc_request("agora_status", "ok")
    metrics.set_peers(3)
    assert _sample(metrics, "agora_rpc_requests_total",
                   {"method": "agora_status", "outcome": "ok"}) == 1
    assert _sample(metrics, "agora_peers", {}) == 3
