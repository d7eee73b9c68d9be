"""One reliability run: a fresh cluster, the bank workload under the nemesis, a final heal,
then every checker. ``run()`` returns the report (also written to ``DIR/report.json``
with the history in ``DIR/history.jsonl``); the processes are always stopped."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

from node.client import AgoraClient, RpcCallError, TransportError
from node.setup import LocalCluster, free_port_block
from tests.reliability import checkers
from tests.reliability.bank import (
    Bank,
    Operation,
    bank_accounts,
    genesis_balances,
    unknown_outcome_codes,
)
from tests.reliability.nemesis import Nemesis, prepare_clock_skew

# Fast timers, as the end-to-end tests use: a 2 s view timeout, blocks every 300 ms idle.
consensus_overrides = {"tick_interval_ms": 20, "view_change_timeout_ticks": 100,
                       "request_timeout_ticks": 25, "empty_block_interval_ms": 300}
ready_seconds = 90.0
recovery_seconds_max = 30.0  # liveness: a write commits this soon after the final heal
convergence_seconds_max = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class RunOptions:
    directory: Path
    validators: int = 4
    shards: int = 1
    duration_seconds: float = 60.0
    seed: int = 1
    faults: tuple[str, ...] = ("kill", "pause", "power", "skew")
    workers: int = 4
    accounts_per_shard: int = 6
    fault_interval_seconds: float = 8.0


def run(options: RunOptions) -> dict[str, Any]:
    accounts = bank_accounts(options.shards, options.accounts_per_shard)
    base = free_port_block(3 * options.validators)
    cluster = LocalCluster(options.directory, options.validators, options.shards, fresh=True,
                           p2p_port=base, rpc_port=base + options.validators,
                           metrics_port=base + 2 * options.validators,
                           consensus_overrides=consensus_overrides,
                           extra_balances=genesis_balances(accounts))
    if "skew" in options.faults:
        prepare_clock_skew(cluster)
    try:
        cluster.start()
        cluster.wait_ready(timeout_seconds=ready_seconds)
        started = time.monotonic()
        bank = Bank(cluster.rpc_urls, accounts, options.shards, options.seed, options.workers)
        bank.started = started
        nemesis = Nemesis(cluster, options.faults, options.seed, started,
                          interval_seconds=options.fault_interval_seconds)
        bank.start()
        nemesis.start()
        threading.Event().wait(options.duration_seconds)
        nemesis.stop()
        bank.stop()
        nemesis.heal()
        healed_s = bank.now()
        cluster.wait_ready(timeout_seconds=ready_seconds)
        recovery_s = _probe_liveness(bank, cluster)
        tops = _converge(cluster, options.shards)
        verdicts = _check(bank, cluster, accounts, options)
        end_s = bank.now()
    finally:
        cluster.stop()
    report = {
        "options": {**dataclasses.asdict(options), "directory": str(options.directory)},
        "operations": _counts(bank.history),
        "faults": [fault.to_json() for fault in nemesis.faults],
        "healed_at_s": round(healed_s, 3),
        "recovery_after_heal_s": None if recovery_s is None else round(recovery_s, 3),
        "final_heights": tops,
        "unavailability_s": checkers.unavailability(bank.history, nemesis.faults, healed_s),
        "verdicts": {name: dataclasses.asdict(verdict) for name, verdict in verdicts.items()},
        "duration_s": round(end_s, 3),
    }
    report["verdicts"]["liveness"] = {
        "valid": recovery_s is not None,
        "evidence": {"recovery_after_heal_s": report["recovery_after_heal_s"],
                     "bound_s": recovery_seconds_max}}
    report["valid"] = all(item["valid"] for item in report["verdicts"].values())
    (options.directory / "report.json").write_text(json.dumps(report, indent=2))
    with open(options.directory / "history.jsonl", "w") as out:
        for op in bank.history:
            out.write(json.dumps(op.to_json()) + "\n")
    return report


def _probe_liveness(bank: Bank, cluster: LocalCluster) -> float | None:
    """Seconds from now until a fresh transfer commits (through any node), or None."""
    sender, recipient = bank.by_shard[0][0], bank.by_shard[0][1]
    began = time.monotonic()
    deadline = began + recovery_seconds_max
    attempt = 0
    while time.monotonic() < deadline:
        node = attempt % len(cluster.rpc_urls)
        attempt += 1
        op = Operation(-attempt, -1, "transfer", node, bank.now(), sender=sender.address,
                       recipient=recipient.address, amount=1)
        try:
            with AgoraClient(cluster.rpc_urls[node], timeout_seconds=10.0) as client:
                tx = client.build_transfer(sender, recipient.address, 1, expiry_blocks=200)
                op.tx_hash = tx.hash()
                receipt = client.submit_and_wait(tx, timeout_seconds=5.0)
            op.outcome = "ok" if receipt.get("ok") else "fail"
            op.detail = receipt.get("status_name", "")
        except RpcCallError as error:
            # A timeout may still commit (the checkers resolve it); a refusal is definite.
            op.outcome = "info" if error.code in unknown_outcome_codes else "fail"
            op.detail = f"probe rpc {error.code}: {error.message}"
        except TransportError as error:
            op.outcome, op.detail = "info", f"probe transport: {error}"
        op.complete_s = bank.now()
        bank.history.append(op)
        if op.outcome == "ok":
            return time.monotonic() - began
    return None


def _converge(cluster: LocalCluster, shard_count: int) -> dict[int, list[int]]:
    """Wait until every node holds every height that some node held when we started."""
    deadline = time.monotonic() + convergence_seconds_max
    target: dict[int, int] = {}
    for url in cluster.rpc_urls:
        with AgoraClient(url, timeout_seconds=10.0) as client:
            for entry in client.status()["shards"]:
                target[entry["shard"]] = max(target.get(entry["shard"], 0), entry["height"])
    while True:
        tops: dict[int, list[int]] = {shard: [] for shard in range(shard_count)}
        for url in cluster.rpc_urls:
            with AgoraClient(url, timeout_seconds=10.0) as client:
                for entry in client.status()["shards"]:
                    tops[entry["shard"]].append(entry["height"])
        if all(min(tops[shard]) >= target[shard] for shard in tops):
            return tops
        if time.monotonic() > deadline:
            raise AssertionError(f"nodes did not converge on {target}: {tops}")
        time.sleep(0.2)


def _check(bank: Bank, cluster: LocalCluster, accounts: list[Any], options: RunOptions
           ) -> dict[str, checkers.Verdict]:
    logs = checkers.check_logs(cluster.homes)  # before any stop signal reaches a log
    addresses = [account.address for account in accounts]
    sent = [op.tx_hash for op in bank.history if op.kind == "transfer" and op.tx_hash]
    chains = checkers.FinalChains.read(cluster.rpc_urls, options.shards, addresses, sent)
    return {
        "agreement": checkers.check_agreement(chains),
        "no_tx_twice": checkers.check_no_tx_twice(chains),
        "acknowledged_writes": checkers.check_acknowledged_writes(bank.history, chains),
        "conservation": checkers.check_conservation(bank.history, chains, addresses),
        "reads": checkers.check_reads(bank.history, chains, addresses),
        "logs": logs,
    }


def _counts(history: list[Operation]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in history:
        key = f"{op.kind}_{op.outcome}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def summary(report: dict[str, Any]) -> str:
    """A few lines for a person: the verdicts and the unavailability table."""
    lines = [f"valid: {report['valid']}  operations: {report['operations']}",
             f"faults: {len(report['faults'])}  recovery after heal: "
             f"{report['recovery_after_heal_s']} s  final heights: {report['final_heights']}"]
    for name, verdict in report["verdicts"].items():
        lines.append(f"  {name:20s} {'ok' if verdict['valid'] else 'FAILED'}"
                     + ("" if verdict["valid"] else f"  {json.dumps(verdict['evidence'])[:600]}"))
    lines.append("  longest unavailability (s) by fault kind: "
                 + ", ".join(f"{kind} {seconds}" for kind, seconds in
                             report["unavailability_s"].items()))
    return "\n".join(lines)
