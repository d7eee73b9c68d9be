"""The benchmark report's pure parts: percentiles, window accounting, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import (
    SeenBlock,
    block_intervals_ms,
    compute_report,
    markdown,
    percentile,
    plot,
    rolling_mean,
    timeseries,
)


def h(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1


def test_percentile_of_unsorted_and_small_samples() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([5.0], 99) == 5.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 51) == 2.0
    assert percentile([], 50) is None


def test_percentile_refuses_out_of_range() -> None:
    with pytest.raises(AssertionError):
        percentile([1.0], 101)


def test_rolling_mean_averages_the_trailing_width() -> None:
    assert rolling_mean([2, 4, 6, 8], 2) == [2, 3, 5, 7]
    assert rolling_mean([1, 2, 3], 5) == [1, 1.5, 2]


def blocks_fixture() -> tuple[list[SeenBlock], dict[bytes, float]]:
    # Shard 0: heights 1..4 seen at 0.5 s (warm-up), 2.5, 3.5, 12.5 (after the window).
    blocks = [
        SeenBlock(0, 1, 0.5, 1_000, 0, (h(1), h(2))),
        SeenBlock(0, 2, 2.5, 1_200, 0, (h(3), h(4), h(5))),
        SeenBlock(0, 3, 3.5, 1_500, 0, (h(6), h(99))),  # h(99) is not ours
        SeenBlock(0, 4, 12.5, 1_700, 1, (h(7),)),
        SeenBlock(1, 7, 3.0, 5_000, 0, ()),  # predecessor never seen: no interval
    ]
    submits = {h(1): 0.0, h(2): 0.1, h(3): 2.0, h(4): 2.3, h(5): 1.5, h(6): 3.0, h(7): 9.5,
               h(8): 9.9}
    return blocks, submits


def test_committed_counts_every_tx_of_blocks_finalized_in_the_window() -> None:
    blocks, submits = blocks_fixture()
    report = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                            duration_seconds=8.0)
    assert report["window_seconds"] == [2.0, 10.0]
    assert report["committed_txs"] == 5  # heights 2 and 3 of shard 0, the empty block
    assert report["committed_tps"] == pytest.approx(5 / 8, abs=0.1)
    assert report["committed_tps_by_shard"] == {"0": 0.6, "1": 0.0}
    assert report["blocks"]["count"] == 3
    assert report["blocks"]["by_shard"] == {"0": 2, "1": 1}


def test_latency_uses_only_our_txs_finalized_in_the_window() -> None:
    blocks, submits = blocks_fixture()
    latency = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                             duration_seconds=8.0)["latency_ms"]
    # h(3): 0.5 s, h(4): 0.2 s, h(5): 1.0 s, h(6): 0.5 s
    assert latency["count"] == 4
    assert latency["p50"] == 500.0
    assert latency["p99"] == 1000.0
    assert latency["max"] == 1000.0
    assert latency["mean"] == pytest.approx(550.0)


def test_submitted_in_window_counts_submit_times() -> None:
    blocks, submits = blocks_fixture()
    report = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                            duration_seconds=8.0)
    assert report["submitted_txs_in_window"] == 5  # 2.0, 2.3, 3.0, 9.5, 9.9


def test_block_interval_from_header_timestamps_of_consecutive_blocks() -> None:
    blocks, _ = blocks_fixture()
    assert block_intervals_ms(blocks, (2.0, 10.0)) == [200, 300]
    assert block_intervals_ms(blocks, (0.0, 100.0)) == [200, 300, 200]


def test_timeseries_buckets_commits_and_latency_by_seen_time() -> None:
    blocks, submits = blocks_fixture()
    series = timeseries(blocks, submits, submitted_per_bucket=[2, 0, 3], end_seconds=10.0)
    assert series["t_seconds"][:3] == [0.0, 1.0, 2.0]
    assert len(series["t_seconds"]) == 13  # up to the last block seen at 12.5 s
    assert series["committed_tps"][0] == 2 and series["committed_tps"][2] == 3
    assert series["committed_tps"][3] == 2
    assert series["submitted_tps"][:4] == [2, 0, 3, 0]
    assert series["latency_p50_ms"][2] == 500.0
    assert series["latency_p50_ms"][1] is None


def test_rejections_are_reported_by_reason() -> None:
    blocks, submits = blocks_fixture()
    report = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                            duration_seconds=8.0,
                            rejections={"MEMPOOL_FULL": 3, "EXPIRED": 1})
    assert report["rejected_total"] == 4
    assert list(report["rejected"]) == ["EXPIRED", "MEMPOOL_FULL"]


def test_empty_run_reports_nothing_rather_than_failing(tmp_path: Path) -> None:
    report = compute_report(blocks=[], submit_seconds={}, warmup_seconds=1.0,
                            duration_seconds=2.0)
    assert report["committed_tps"] == 0
    assert report["latency_ms"]["p50"] is None
    assert "| committed TPS (finalized blocks) | 0.0 |" in markdown(report)
    plot(report, str(tmp_path / "empty.png"))


def test_markdown_and_plot_render_a_report(tmp_path: Path) -> None:
    blocks, submits = blocks_fixture()
    report = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                            duration_seconds=8.0, rejections={"DUPLICATE": 2},
                            extra={"config": {"setup": "test", "workload": "w",
                                              "mode": "closed"}, "view_changes": 1})
    table = markdown(report)
    assert "| latency p50 / p95 / p99 / max (ms) | 500.0 / 1,000.0 / 1,000.0 / 1,000.0 |" \
        in table
    assert "DUPLICATE: 2" in table
    json.dumps(report)  # the report is plain JSON
    plot(report, str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 1000


def test_markdown_shows_the_fraction_of_the_verification_bound() -> None:
    blocks, submits = blocks_fixture()
    report = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                            duration_seconds=8.0, extra={"bound": {
                                "cpu_count": 2, "validators": 4,
                                "ed25519_verify_per_second_one_core": 10_000,
                                "bound_tps": 5_000, "fraction_reached": 0.125}})
    assert "| bound C*V/n (C=2, n=4, V=10,000/s measured) | 5,000 TPS; reached 12.5% |" \
        in markdown(report)


def test_markdown_shows_cpu_per_committed_tx() -> None:
    blocks, submits = blocks_fixture()
    report = compute_report(blocks=blocks, submit_seconds=submits, warmup_seconds=2.0,
                            duration_seconds=8.0, extra={"cpu": {
                                "harness_cpu_seconds": 2.0,
                                "harness_cpu_share_of_one_core": 0.25,
                                "node_cpu_seconds": [1.0, 1.0], "node_cpu_cores_busy": 0.25,
                                "node_cpu_ms_per_committed_tx": 400.0,
                                "tps_if_nodes_had_every_core": 5}})
    table = markdown(report)
    assert "| node CPU per committed tx (all nodes) | 400.00 ms; nodes kept 0.25 cores busy; " \
        "~5 TPS if they had every core |" in table
    assert "| harness CPU (load generator and block polling) | 25% of one core |" in table
