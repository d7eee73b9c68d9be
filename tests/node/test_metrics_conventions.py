"""Metrics follow Prometheus conventions, and the shipped Grafana dashboard only queries
metrics the node exports (#18 point 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from node.metrics import NodeMetrics

dashboard_path = Path(__file__).resolve().parents[2] / "configs" / "grafana" / \
    "agora-dashboard.json"
metric_name = re.compile(r"\b((?:agora|process|python)_[a-z0-9_]+)\b")


def _exported(metrics: NodeMetrics) -> dict[str, str]:
    """Every series name the registry exposes -> its family's type."""
    names = {}
    for family in metrics.registry.collect():
        names[family.name] = family.type
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"],
                    "info": ["_info"]}.get(family.type, [])
        for suffix in suffixes:
            names[family.name + suffix] = family.type
        for sample in family.samples:
            names[sample.name] = family.type
    return names


def _busy_metrics() -> NodeMetrics:
    metrics = NodeMetrics()
    metrics.record_block(0, 3, 2, 0.01, failed_statuses=[107])
    metrics.record_commit_latency(0, 0.1)
    metrics.record_view(0, 1, view_changes_total=1)
    metrics.sync_mempool([1], 100, {"DUPLICATE": 1})
    metrics.sync_peer_counts({"wrong_genesis": 2}, {"replica_queue_full": 1})
    metrics.record_halted(0, True)
    metrics.record_block_timestamp(0, 1_700_000_000_000)
    metrics.catchup_lag_blocks.labels("0").set(0)
    metrics.on_rpc_request("agora_status", "ok")
    return metrics


def test_counters_end_in_total_and_there_are_no_created_series() -> None:
    text = _busy_metrics().render().decode()
    assert "_created" not in text
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            assert all(sample.name.endswith("_total") for sample in family.samples), family
    assert 'agora_peer_refusals_total{reason="wrong_genesis"} 2.0' in text
    assert 'agora_peer_messages_dropped_total{reason="replica_queue_full"} 1.0' in text
    assert 'agora_txs_failed_total{shard="0",status="INSUFFICIENT_BALANCE"} 1.0' in text


def test_process_platform_gc_and_build_metrics_are_exported() -> None:
    text = _busy_metrics().render().decode()
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "python_info", "python_gc_collections_total", "agora_shard_halted",
                 "agora_last_block_timestamp_seconds", "agora_catchup_lag_blocks"):
        assert name in text, name
    build = [line for line in text.splitlines() if line.startswith("agora_build_info{")]
    assert len(build) == 1 and 'version="' in build[0] and 'commit="' in build[0]
    assert 'python="3.' in build[0] and build[0].endswith(" 1.0")


def test_every_dashboard_query_names_a_metric_the_node_exports() -> None:
    exported = _exported(_busy_metrics())
    dashboard = json.loads(dashboard_path.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel["targets"]]
    assert len(expressions) >= 15
    used = set()
    for expression in expressions:
        names = metric_name.findall(expression)
        assert names, f"no metric in {expression!r}"
        for name in names:
            assert name in exported, f"dashboard queries {name}, which the node does not export"
            used.add(name)
    assert {"agora_shard_halted", "agora_last_block_timestamp_seconds",
            "agora_catchup_lag_blocks", "agora_build_info"} <= used
