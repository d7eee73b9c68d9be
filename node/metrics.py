"""Prometheus metrics of one node, in its own ``CollectorRegistry``.

A private registry (not prometheus-client's global one) lets several nodes live in one
test process without name clashes. The cores (replica, mempool, network) expose plain
statistics; this module maps them onto metrics (STYLE.md, "Logs, metrics, config").

Counters that mirror a core's own cumulative count (mempool rejections) are advanced by
the difference since the last sync, so the core stays the single source of truth.

Conventions (Prometheus' naming and instrumentation guides): cumulative counts are
counters, exposed with ``_total``; label values are names, never numbers (a receipt status
is ``INSUFFICIENT_BALANCE``, not ``107``); units are the last word (``_seconds``,
``_bytes``, ``_blocks``); no ``_created`` series (they double the series count for a
timestamp nobody graphs); the process, platform and GC collectors are registered, so
``process_resident_memory_bytes`` and ``python_gc_collections_total`` come with the node.
``agora_build_info{version,commit,python} 1`` identifies the build.

``serve_metrics`` serves ``GET /metrics`` (text exposition format), ``GET /health``
(liveness) and ``GET /ready`` (readiness, node/health.py) on their own port through
hypercorn's trio worker, with a minimal ASGI app around ``generate_latest``. The default
port is 26660 (CometBFT's), not 9100, which node_exporter owns on most hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
import json
from collections.abc import Callable

import prometheus_client
from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from node.config import MetricsSection
from node.logs import hypercorn_error_logger

# Seconds; PBFT commits on loopback take milliseconds, a WAN cluster up to seconds.
latency_buckets_seconds = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
execution_buckets_seconds = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class NodeMetrics:
    """Every metric of one node. Labels: ``shard`` (decimal string), ``reason``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        prometheus_client.disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        if GC_COLLECTOR is not None:
            GCCollector(registry=r)
        self.height = Gauge("agora_height", "Latest finalized height", ["shard"], registry=r)
        self.view = Gauge("agora_view", "Current PBFT view", ["shard"], registry=r)
        self.view_changes = Counter("agora_view_changes", "View changes started", ["shard"],
                                    registry=r)
        self.txs_committed = Counter("agora_txs_committed", "Transactions committed",
                                     ["shard"], registry=r)
        self.txs_failed = Counter("agora_txs_failed", "Committed transactions whose receipt "
                                  "is a failure, by status", ["shard", "status"], registry=r)
        self.txs_rejected = Counter("agora_txs_rejected", "Transactions refused at mempool "
                                    "admission, by reason", ["reason"], registry=r)
        self.mempool_txs = Gauge("agora_mempool_txs", "Transactions in the mempool", ["shard"],
                                 registry=r)
        self.tx_signature_checks = Counter(
            "agora_tx_signature_checks", "Client tx signatures checked (ed25519); each "
            "replica checks each tx once, however it arrives", registry=r)
        self.mempool_bytes = Gauge("agora_mempool_bytes", "Encoded bytes in the mempool",
                                   registry=r)
        self.peers = Gauge("agora_peers", "Connected validator peers", registry=r)
        self.commit_latency_seconds = Histogram(
            "agora_commit_latency_seconds", "From proposal to commit of a block", ["shard"],
            buckets=latency_buckets_seconds, registry=r)
        self.block_execution_seconds = Histogram(
            "agora_block_execution_seconds", "Time to execute one block", ["shard"],
            buckets=execution_buckets_seconds, registry=r)
        self.rpc_requests = Counter("agora_rpc_requests", "JSON-RPC calls by method and "
                                    "outcome", ["method", "outcome"], registry=r)
        self.peer_refusals = Counter("agora_peer_refusals", "Peer links refused, by reason",
                                     ["reason"], registry=r)
        self.peer_messages_dropped = Counter(
            "agora_peer_messages_dropped", "Peer messages dropped by the node, by reason",
            ["reason"], registry=r)
        self.shard_halted = Gauge("agora_shard_halted", "1 if the shard halted (its state "
                                  "root differs from a quorum's, or a node fault in "
                                  "execution; see agora status), else 0", ["shard"],
                                  registry=r)
        self.last_block_timestamp_seconds = Gauge(
            "agora_last_block_timestamp_seconds", "Header timestamp of the last finalized "
            "block (Unix seconds); time() minus this is the shard's block age", ["shard"],
            registry=r)
        self.catchup_lag_blocks = Gauge(
            "agora_catchup_lag_blocks", "Blocks between this replica's delivered height and "
            "the height f+1 peers vouch for (0 when caught up)", ["shard"], registry=r)
        self.build_info = Gauge("agora_build_info", "The running build (always 1)",
                                ["version", "commit", "python"], registry=r)
        from node.version import commit, python_version, version

        self.build_info.labels(version(), commit(), python_version()).set(1)
        self._rejections_seen: dict[str, int] = {}

    def record_block(self, shard: int, height: int, txs: int,
                     execution_seconds: float, failed_statuses: Iterable[int] = ()) -> None:
        label = str(shard)
        self.height.labels(label).set(height)
        self.txs_committed.labels(label).inc(txs)
        self.block_execution_seconds.labels(label).observe(execution_seconds)
        for status in failed_statuses:
            self.txs_failed.labels(label, _status_name(status)).inc()

    def record_halted(self, shard: int, halted: bool) -> None:
        self.shard_halted.labels(str(shard)).set(1 if halted else 0)

    def record_commit_latency(self, shard: int, seconds: float) -> None:
        self.commit_latency_seconds.labels(str(shard)).observe(seconds)

    def record_view(self, shard: int, view: int, view_changes_total: int | None = None) -> None:
        self.view.labels(str(shard)).set(view)
        if view_changes_total is not None:
            self._advance(self.view_changes.labels(str(shard)), f"vc/{shard}",
                          view_changes_total)

    def sync_mempool(self, shard_sizes_txs: Iterable[int], size_bytes: int,
                     rejections: Mapping[str, int] | Iterable[tuple[str, int]]) -> None:
        """Mirror the mempool's statistics (``Mempool.info()``)."""
        for shard, size in enumerate(shard_sizes_txs):
            self.mempool_txs.labels(str(shard)).set(size)
        self.mempool_bytes.set(size_bytes)
        items = rejections.items() if isinstance(rejections, Mapping) else rejections
        for reason, total in items:
            self._advance(self.txs_rejected.labels(str(reason)), f"rej/{reason}", total)

    def sync_signature_checks(self, total: int) -> None:
        self._advance(self.tx_signature_checks, "signature_checks", total)

    def _advance(self, counter: Any, key: str, total: int) -> None:
        delta = total - self._rejections_seen.get(key, 0)
        assert delta >= 0, f"{key}: a cumulative count went down"
        if delta:
            counter.inc(delta)
        self._rejections_seen[key] = total

    def on_rpc_request(self, method: str, outcome: str) -> None:
        """The ``RpcServer(on_request=...)`` hook."""
        self.rpc_requests.labels(method, outcome).inc()

    def set_peers(self, connected: int) -> None:
        self.peers.set(connected)

    def record_block_timestamp(self, shard: int, timestamp_ms: int) -> None:
        self.last_block_timestamp_seconds.labels(str(shard)).set(timestamp_ms / 1000)

    def sync_peer_counts(self, refusals: Mapping[str, int], dropped: Mapping[str, int]) -> None:
        """Mirror the network's refusal counts and the node's dropped-message counts."""
        for reason, total in sorted(refusals.items()):
            self._advance(self.peer_refusals.labels(reason), f"refused/{reason}", total)
        for reason, total in sorted(dropped.items()):
            self._advance(self.peer_messages_dropped.labels(reason), f"dropped/{reason}",
                          total)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _status_name(status: int) -> str:
    from ledger.types import Status

    try:
        return Status(status).name
    except ValueError:
        return f"UNKNOWN_{status}"


Readiness = Callable[[], tuple[bool, dict[str, Any]]]


def metrics_app(registry: CollectorRegistry, readiness: Readiness | None = None) -> Any:
    """An ASGI app: ``GET /metrics``, ``GET /health`` and (given ``readiness``)
    ``GET /ready``; anything else is 404."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/metrics":
            await _respond(send, 200, CONTENT_TYPE_LATEST, generate_latest(registry))
        elif scope["method"] == "GET" and scope["path"] == "/health":
            await _respond(send, 200, "text/plain; charset=utf-8", b"ok\n")
        elif scope["method"] == "GET" and scope["path"] == "/ready" and readiness is not None:
            ready, body = readiness()
            await _respond(send, 200 if ready else 503, "application/json",
                           json.dumps(body).encode())
        else:
            await _respond(send, 404, "text/plain; charset=utf-8", b"not found\n")

    return app


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send: Any, status: int, content_type: str, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def serve_metrics(registry: CollectorRegistry, config: MetricsSection,
                        readiness: Readiness | None = None, *,
                        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
                        ) -> None:
    """Serve the metrics endpoint until cancelled; ``task_status`` gets the bound URLs."""
    hypercorn_config = HypercornConfig()
    hypercorn_config.bind = [f"{config.host}:{config.port}"]
    hypercorn_config.accesslog = None
    hypercorn_config.errorlog = hypercorn_error_logger()  # its lines once, in our format
    hypercorn_config.graceful_timeout = 1.0
    await serve(metrics_app(registry, readiness), hypercorn_config, task_status=task_status)
