"""Benchmark report: figures from what the harness observed, as JSON, Markdown and a PNG.

Everything here is a pure function of the observations (submit times, blocks as first
seen, rejections, status before and after), so it is unit-tested without a cluster
(tests/bench/). Times are seconds since the load started (the harness's monotonic clock).

Definitions (the harness and RESULTS.md rely on them):

* *Measurement window*: ``[warmup_seconds, warmup_seconds + duration_seconds)``.
* *Committed TPS*: transactions in blocks whose finalization the harness saw inside the
  window, divided by the window length. Counted from finalized blocks, never from
  submissions; every tx in such a block counts (a failed receipt is still finalized).
* *Latency*: for the harness's own txs finalized inside the window, first-seen time of
  their block minus the time just before the HTTP request that submitted them (closed
  loop), or minus the time the tx fell due (open loop: a tx that waited for a free
  sender thread counts that wait, so a generator falling behind shows up as latency).
  The harness polls blocks, so a latency includes up to one poll interval of
  quantization.
* *Percentiles*: nearest rank (the smallest value with at least p% of values <= it).
* *Block interval*: difference of consecutive blocks' ``timestamp_ms`` (the proposer's
  clock) for blocks seen in the window, per shard.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

percentiles_reported = (50, 95, 99)
bucket_seconds_default = 1.0
smoothing_buckets = 5


@dataclass(frozen=True, slots=True)
class SeenBlock:
    shard: int
    height: int
    seen_seconds: float
    timestamp_ms: int
    view: int
    tx_hashes: tuple[bytes, ...]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (sorted or not); None for no values."""
    if not values:
        return None
    assert 0 <= p <= 100, f"percentile {p} out of range"
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary_ms(latencies_seconds: Sequence[float]) -> dict[str, float | int | None]:
    ordered = sorted(latencies_seconds)
    summary: dict[str, float | int | None] = {"count": len(ordered)}
    for p in percentiles_reported:
        value = percentile(ordered, p)
        summary[f"p{p}"] = None if value is None else round(value * 1000, 1)
    summary["max"] = round(ordered[-1] * 1000, 1) if ordered else None
    summary["mean"] = round(sum(ordered) / len(ordered) * 1000, 1) if ordered else None
    return summary


def in_window(seconds: float, window: tuple[float, float]) -> bool:
    return window[0] <= seconds < window[1]


def block_intervals_ms(blocks: Iterable[SeenBlock], window: tuple[float, float]
                       ) -> list[int]:
    """timestamp_ms(h) - timestamp_ms(h - 1) for each block h seen in the window whose
    predecessor was also seen (any time), over all shards."""
    by_key = {(block.shard, block.height): block for block in blocks}
    intervals = []
    for (shard, height), block in sorted(by_key.items()):
        previous = by_key.get((shard, height - 1))
        if previous is not None and in_window(block.seen_seconds, window):
            intervals.append(block.timestamp_ms - previous.timestamp_ms)
    return intervals


def timeseries(blocks: Sequence[SeenBlock], submit_seconds: Mapping[bytes, float],
               submitted_per_bucket: Sequence[int] = (), end_seconds: float = 0.0,
               bucket_seconds: float = bucket_seconds_default) -> dict[str, list[Any]]:
    """Per bucket of ``bucket_seconds``: committed txs per second, our latency p50/p99 (ms)
    of txs finalized in the bucket, and submitted txs per second."""
    last = max([end_seconds, *(block.seen_seconds for block in blocks)], default=0.0)
    count = max(1, math.ceil(last / bucket_seconds))
    committed = [0] * count
    latencies: list[list[float]] = [[] for _ in range(count)]
    for block in blocks:
        bucket = min(count - 1, max(0, int(block.seen_seconds // bucket_seconds)))
        committed[bucket] += len(block.tx_hashes)
        for tx_hash in block.tx_hashes:
            submitted_at = submit_seconds.get(tx_hash)
            if submitted_at is not None:
                latencies[bucket].append(block.seen_seconds - submitted_at)
    submitted = list(submitted_per_bucket[:count]) + [0] * max(0, count - len(
        submitted_per_bucket))

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "bucket_seconds": bucket_seconds,
        "t_seconds": [round(i * bucket_seconds, 3) for i in range(count)],
        "committed_tps": [c / bucket_seconds for c in committed],
        "submitted_tps": [s / bucket_seconds for s in submitted],
        "latency_p50_ms": [ms(percentile(values, 50)) for values in latencies],
        "latency_p99_ms": [ms(percentile(values, 99)) for values in latencies],
    }


def compute_report(*, blocks: Sequence[SeenBlock], submit_seconds: Mapping[bytes, float],
                   warmup_seconds: float, duration_seconds: float,
                   rejections: Mapping[str, int] | None = None,
                   submitted_per_bucket: Sequence[int] = (),
                   extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The figures of one run (see the module docstring for definitions)."""
    assert duration_seconds > 0, "the measurement window must not be empty"
    window = (warmup_seconds, warmup_seconds + duration_seconds)
    in_blocks = [block for block in blocks if in_window(block.seen_seconds, window)]
    committed = sum(len(block.tx_hashes) for block in in_blocks)
    latencies = []
    for block in in_blocks:
        for tx_hash in block.tx_hashes:
            submitted_at = submit_seconds.get(tx_hash)
            if submitted_at is not None:
                latencies.append(block.seen_seconds - submitted_at)
    intervals = block_intervals_ms(blocks, window)
    per_shard = Counter(block.shard for block in in_blocks)
    per_shard_txs = Counter()
    for block in in_blocks:
        per_shard_txs[block.shard] += len(block.tx_hashes)
    nonempty = [len(block.tx_hashes) for block in in_blocks if block.tx_hashes]
    submitted_in_window = sum(1 for at in submit_seconds.values() if in_window(at, window))
    report: dict[str, Any] = {
        "window_seconds": [window[0], window[1]],
        "committed_txs": committed,
        "committed_tps": round(committed / duration_seconds, 1),
        "committed_tps_by_shard": {
            str(shard): round(per_shard_txs[shard] / duration_seconds, 1)
            for shard in sorted(per_shard)},
        "submitted_txs_in_window": submitted_in_window,
        "submitted_tps": round(submitted_in_window / duration_seconds, 1),
        "latency_ms": latency_summary_ms(latencies),
        "blocks": {
            "count": len(in_blocks),
            "by_shard": {str(shard): count for shard, count in sorted(per_shard.items())},
            "txs_per_block_mean": round(committed / len(in_blocks), 1) if in_blocks else None,
            "txs_per_nonempty_block_max": max(nonempty, default=0),
            "interval_ms_mean": round(sum(intervals) / len(intervals), 1) if intervals else None,
            "interval_ms_p50": percentile(intervals, 50),
            "interval_ms_p95": percentile(intervals, 95),
            "views_seen": sorted({block.view for block in in_blocks}),
        },
        "rejected": dict(sorted((rejections or {}).items())),
        "rejected_total": sum((rejections or {}).values()),
        "timeseries": timeseries(blocks, submit_seconds, submitted_per_bucket,
                                 window[1]),
    }
    report.update(extra or {})
    return report


# -- rendering ---------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(report: Mapping[str, Any]) -> str:
    """A two-column Markdown table of the headline figures."""
    latency = report["latency_ms"]
    blocks = report["blocks"]
    config = report.get("config", {})
    rows = [
        ("setup", config.get("setup", "-")),
        ("workload", config.get("workload", "-")),
        ("mode", config.get("mode", "-")),
        ("window", f"{report['window_seconds'][0]:.0f}-{report['window_seconds'][1]:.0f} s "
                   "after load start"),
        ("committed TPS (finalized blocks)", _fmt(report["committed_tps"])),
        ("committed TPS by shard", ", ".join(
            f"{shard}: {_fmt(tps)}" for shard, tps in report["committed_tps_by_shard"].items())
         or "-"),
        ("submitted TPS (accepted by RPC)", _fmt(report["submitted_tps"])),
        ("latency p50 / p95 / p99 / max (ms)", " / ".join(
            _fmt(latency[key]) for key in ("p50", "p95", "p99", "max"))),
        ("latency samples", _fmt(latency["count"])),
        ("blocks in window", _fmt(blocks["count"])),
        ("txs per block (mean / max)", f"{_fmt(blocks['txs_per_block_mean'])} / "
                                       f"{_fmt(blocks['txs_per_nonempty_block_max'])}"),
        ("block interval mean / p50 / p95 (ms)", " / ".join(
            _fmt(blocks[key]) for key in ("interval_ms_mean", "interval_ms_p50",
                                          "interval_ms_p95"))),
        ("view changes during run", _fmt(report.get("view_changes", "-"))),
        ("rejected at submission", _fmt(report["rejected_total"]) + (
            " (" + ", ".join(f"{k}: {v}" for k, v in report["rejected"].items()) + ")"
            if report["rejected"] else "")),
    ]
    if "bound" in report:
        bound = report["bound"]
        rows.append((f"bound C*V/n (C={bound['cpu_count']}, n={bound['validators']}, "
                     f"V={bound['ed25519_verify_per_second_one_core']:,}/s measured)",
                     f"{bound['bound_tps']:,} TPS; reached "
                     f"{bound.get('fraction_reached', 0):.1%}"
                     + (f" ({bound['fraction_if_nodes_had_every_core']:.1%} at the node CPU "
                        "per tx, had the nodes every core)"
                        if "fraction_if_nodes_had_every_core" in bound else "")))
    cpu = report.get("cpu") or {}
    if "node_cpu_ms_per_committed_tx" in cpu:
        rows.append(("node CPU per committed tx (all nodes)",
                     f"{cpu['node_cpu_ms_per_committed_tx']:.2f} ms; nodes kept "
                     f"{cpu['node_cpu_cores_busy']:.2f} cores busy; "
                     f"~{cpu['tps_if_nodes_had_every_core']:,} TPS if they had every core"))
    if "harness_cpu_share_of_one_core" in cpu:
        rows.append(("harness CPU (load generator and block polling)",
                     f"{cpu['harness_cpu_share_of_one_core']:.0%} of one core"))
    if "receipt_statuses_sample" in report:
        rows.append(("receipt statuses (sample)", ", ".join(
            f"{k}: {v}" for k, v in report["receipt_statuses_sample"].items()) or "-"))
    if "unfinalized_txs" in report:
        rows.append(("submitted but not seen finalized at end", _fmt(report["unfinalized_txs"])))
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"


def rolling_mean(values: Sequence[float], width: int) -> list[float]:
    """Mean of each value and the ``width - 1`` before it (fewer at the start)."""
    assert width >= 1
    out = []
    total = 0.0
    for index, value in enumerate(values):
        total += value
        if index >= width:
            total -= values[index - width]
        out.append(total / min(index + 1, width))
    return out


def plot(report: Mapping[str, Any], path: str, title: str = "agora bench") -> None:
    """PNG: committed and submitted TPS over time (top), latency p50/p99 (bottom); the
    warm-up is shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = report["timeseries"]
    t = series["t_seconds"]
    start, end = report["window_seconds"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                         constrained_layout=True)
    top.plot(t, series["committed_tps"], label="committed per 1 s bucket", color="C0",
             alpha=0.35, linewidth=1)
    top.plot(t, rolling_mean(series["committed_tps"], smoothing_buckets), color="C0",
             label=f"committed, {smoothing_buckets} s rolling mean")
    top.plot(t, rolling_mean(series["submitted_tps"], smoothing_buckets), color="C1",
             linestyle="--", label=f"submitted (accepted), {smoothing_buckets} s rolling mean")
    top.axhline(report["committed_tps"], color="k", linestyle=":", linewidth=1,
                label=f"window mean {report['committed_tps']:,.0f} TPS")
    top.set_ylabel("tx/s")
    top.legend(loc="lower right", fontsize=8)
    top.set_title(title, fontsize=10)
    for name, color in (("latency_p50_ms", "C2"), ("latency_p99_ms", "C3")):
        points = [(x, v) for x, v in zip(t, series[name], strict=True) if v is not None]
        bottom.plot([x for x, _ in points], [v for _, v in points], marker=".",
                    label=name.replace("latency_", "").replace("_ms", "") + " per bucket",
                    color=color)
    bottom.set_ylabel("submit -> finalized (ms)")
    bottom.set_xlabel("seconds since load start")
    bottom.legend(loc="upper right", fontsize=8)
    for axis in (top, bottom):
        axis.axvspan(0, start, color="grey", alpha=0.15, label=None)
        axis.axvline(end, color="grey", linestyle=":")
        axis.grid(True, alpha=0.3)
        axis.set_ylim(bottom=0)
    top.text(start / 2 if start else 0, 0, "warm-up", ha="center", va="bottom", fontsize=8,
             color="grey")
    figure.savefig(path, dpi=110)
    plt.close(figure)
