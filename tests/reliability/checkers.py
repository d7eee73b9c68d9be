"""Checkers: what must hold of a history and the final chains after the last heal.

Every checker returns a :class:`Verdict` (valid, and the evidence). They read the
cluster only through JSON-RPC (``agora_getBlock`` with full txs, ``agora_getReceipt``,
``agora_getAccount``) and the node logs, as an auditor would.

* ``agreement``: every node has the same block, state root and receipts root at every
  height of every shard that they all have.
* ``no_tx_twice``: no tx hash is in two blocks.
* ``acknowledged_writes``: every transfer acknowledged with an OK receipt is in the
  final chain with an OK receipt (no lost write); every ``fail`` did not take effect; no
  tx in the chain is one the workload did not send.
* ``conservation``: replaying the chain's OK receipts from the genesis balances gives the
  balances every node reports, the total changes only by fees, and no balance is ever
  negative.
* ``reads``: every read equals the balance after some finalized height, and those heights
  never go down per node and shard (reads are a monotonic view of a prefix of the order).
* ``logs``: no traceback, HALTED or CRITICAL line in any node's log.

:func:`unavailability` gives, per fault kind, the longest gap between two successful
writes that began while such a fault was active.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx

from ledger.sharding import shard_of_account
from tests.reliability.bank import Operation, account_balance_initial
from tests.reliability.nemesis import Fault

batch_calls_max = 100
log_alarms = ("Traceback", "HALTED", " CRITICAL ")
recovery_grace_seconds = 5.0


@dataclasses.dataclass(slots=True)
class Verdict:
    valid: bool
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)


def rpc_batch(url: str, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """Results of ``calls`` in order (JSON-RPC batches of at most 100); raises on an error."""
    results: list[Any] = []
    with httpx.Client(timeout=60.0) as http:
        for start in range(0, len(calls), batch_calls_max):
            chunk = calls[start:start + batch_calls_max]
            body = [{"jsonrpc": "2.0", "id": n, "method": method, "params": params}
                    for n, (method, params) in enumerate(chunk)]
            reply = http.post(url, json=body).json()
            assert isinstance(reply, list), reply
            by_id = {item["id"]: item for item in reply}
            for n in range(len(chunk)):
                item = by_id[n]
                if "error" in item:
                    raise AssertionError(f"{url} {chunk[n][0]}: {item['error']}")
                results.append(item["result"])
    return results


@dataclasses.dataclass(slots=True)
class FinalChains:
    """What the nodes hold at the end: blocks per node and shard, and node 0's receipts."""

    urls: list[str]
    shard_count: int
    blocks: dict[int, dict[int, list[dict[str, Any]]]]  # node -> shard -> blocks 1..top
    receipts: dict[bytes, dict[str, Any] | None]
    balances: dict[int, dict[bytes, int]]  # node -> address -> balance

    @classmethod
    def read(cls, urls: Sequence[str], shard_count: int, addresses: Iterable[bytes],
             tx_hashes: Iterable[bytes]) -> FinalChains:
        addresses, tx_hashes = list(addresses), list(tx_hashes)
        blocks: dict[int, dict[int, list[dict[str, Any]]]] = {}
        balances: dict[int, dict[bytes, int]] = {}
        for node, url in enumerate(urls):
            status = rpc_batch(url, [("agora_status", [])])[0]
            blocks[node] = {}
            for entry in status["shards"]:
                shard, top = entry["shard"], entry["height"]
                blocks[node][shard] = rpc_batch(
                    url, [("agora_getBlock", [shard, height, True])
                          for height in range(1, top + 1)])
            accounts = rpc_batch(url, [("agora_getAccount", [address.hex()])
                                       for address in addresses])
            balances[node] = {address: int(account["balance"])
                              for address, account in zip(addresses, accounts)}
        found = rpc_batch(urls[0], [("agora_getReceipt", [tx_hash.hex()])
                                    for tx_hash in tx_hashes])
        return cls(list(urls), shard_count, blocks, dict(zip(tx_hashes, found)), balances)


def check_agreement(chains: FinalChains) -> Verdict:
    disagreements = []
    heights: dict[int, list[int]] = {}
    for shard in range(chains.shard_count):
        per_node = [chains.blocks[node].get(shard, []) for node in sorted(chains.blocks)]
        heights[shard] = [len(blocks) for blocks in per_node]
        for index in range(min(heights[shard])):
            seen = {(blocks[index]["hash"], blocks[index]["executed_state_root"],
                     blocks[index]["executed_receipts_root"]) for blocks in per_node}
            if len(seen) != 1 or any(None in item for item in seen):
                disagreements.append({"shard": shard, "height": index + 1,
                                      "seen": sorted(map(str, seen))})
    return Verdict(not disagreements, {"heights": heights, "disagreements": disagreements[:10]})


def chain_index(chains: FinalChains) -> dict[bytes, list[tuple[int, int, int]]]:
    """Tx hash -> every (shard, height, position) holding it, from node 0's chains."""
    where: dict[bytes, list[tuple[int, int, int]]] = defaultdict(list)
    for shard, blocks in sorted(chains.blocks[0].items()):
        for block in blocks:
            for position, tx in enumerate(block["txs"]):
                where[bytes.fromhex(tx["hash"])].append((shard, block["height"], position))
    return where


def check_no_tx_twice(chains: FinalChains) -> Verdict:
    twice = {tx_hash.hex(): places for tx_hash, places in chain_index(chains).items()
             if len(places) > 1}
    return Verdict(not twice, {"txs_in_two_blocks": len(twice),
                               "examples": dict(list(twice.items())[:5])})


def check_acknowledged_writes(history: Sequence[Operation], chains: FinalChains) -> Verdict:
    index = chain_index(chains)
    sent = {op.tx_hash for op in history if op.kind == "transfer" and op.tx_hash}
    lost, failed_but_applied, resolved = [], [], Counter()
    for op in history:
        if op.kind != "transfer" or not op.tx_hash:
            continue
        receipt = chains.receipts.get(op.tx_hash)
        applied = receipt is not None and receipt.get("ok") is True
        if op.outcome == "ok" and not applied:
            lost.append(op.to_json())
        elif op.outcome == "fail" and applied:
            failed_but_applied.append(op.to_json())
        elif op.outcome == "info":
            resolved["info_applied" if applied else "info_not_applied"] += 1
    strangers = sorted(tx_hash.hex() for tx_hash in index if tx_hash not in sent)
    valid = not lost and not failed_but_applied and not strangers
    return Verdict(valid, {"lost": lost[:10], "lost_count": len(lost),
                           "failed_but_applied": failed_but_applied[:10],
                           "unknown_txs_in_chain": strangers[:10], **resolved})


@dataclasses.dataclass(slots=True)
class Timeline:
    """One account's balance after each finalized height of its shard where it changed."""

    heights: list[int]
    values: list[int]

    def first_height_with(self, value: int, at_least: int) -> int | None:
        """The lowest height >= ``at_least`` after which the balance is ``value``."""
        start = bisect.bisect_right(self.heights, at_least) - 1
        for position in range(max(start, 0), len(self.heights)):
            if self.values[position] == value:
                return max(self.heights[position], at_least)
        return None


def replay(history: Sequence[Operation], chains: FinalChains, addresses: Sequence[bytes]
           ) -> tuple[dict[bytes, Timeline], int, list[dict[str, Any]]]:
    """Balances after every height, from the genesis balances and the chain's receipts.
    Returns the timelines, the fees paid, and every point where a balance went negative."""
    by_hash = {op.tx_hash: op for op in history if op.kind == "transfer" and op.tx_hash}
    balances = {address: account_balance_initial for address in addresses}
    timelines = {address: Timeline([0], [account_balance_initial]) for address in addresses}
    fees, negative = 0, []
    for shard, blocks in sorted(chains.blocks[0].items()):
        for block in blocks:
            for tx in block["txs"]:
                tx_hash = bytes.fromhex(tx["hash"])
                op, receipt = by_hash.get(tx_hash), chains.receipts.get(tx_hash)
                if op is None or receipt is None or receipt["height"] != block["height"]:
                    continue  # a stranger (reported elsewhere) or the copy that did not run
                fee = int(receipt.get("fee", 0))
                fees += fee
                balances[op.sender] -= fee
                if receipt["ok"]:
                    balances[op.sender] -= op.amount
                    balances[op.recipient] += op.amount
                for address in {op.sender, op.recipient}:
                    if balances[address] < 0:
                        negative.append({"address": address.hex(), "shard": shard,
                                         "height": block["height"]})
                    timeline = timelines[address]
                    if timeline.heights[-1] == block["height"]:
                        timeline.values[-1] = balances[address]
                    else:
                        timeline.heights.append(block["height"])
                        timeline.values.append(balances[address])
    return timelines, fees, negative


def check_conservation(history: Sequence[Operation], chains: FinalChains,
                       addresses: Sequence[bytes]) -> Verdict:
    timelines, fees, negative = replay(history, chains, addresses)
    replayed = {address: timeline.values[-1] for address, timeline in timelines.items()}
    mismatched = {node: sorted(address.hex() for address in addresses
                               if balances[address] != replayed[address])
                  for node, balances in chains.balances.items()}
    mismatched = {node: found for node, found in mismatched.items() if found}
    total_initial = account_balance_initial * len(addresses)
    totals = {node: sum(balances.values()) for node, balances in chains.balances.items()}
    conserved = all(total + fees == total_initial for total in totals.values())
    negative_reads = [op.to_json() for op in history
                      if op.kind == "read" and op.outcome == "ok" and (op.value or 0) < 0]
    valid = conserved and not mismatched and not negative and not negative_reads
    return Verdict(valid, {"total_initial": total_initial, "totals": totals, "fees": fees,
                           "nodes_disagreeing_with_replay": mismatched,
                           "negative_balances": negative[:10],
                           "negative_reads": negative_reads[:10]})


def check_reads(history: Sequence[Operation], chains: FinalChains,
                addresses: Sequence[bytes]) -> Verdict:
    timelines, _fees, _negative = replay(history, chains, addresses)
    lower: dict[tuple[int, int], int] = defaultdict(int)  # (node, shard) -> height
    bad = []
    reads = sorted((op for op in history if op.kind == "read" and op.outcome == "ok"),
                   key=lambda op: (op.node, op.complete_s))
    for op in reads:
        shard = shard_of_account(op.sender, chains.shard_count)
        assert op.value is not None
        found = timelines[op.sender].first_height_with(op.value, lower[op.node, shard])
        if found is None:
            bad.append({**op.to_json(), "not_after_height": lower[op.node, shard]})
        else:
            lower[op.node, shard] = found
    return Verdict(not bad, {"reads": len(reads), "inconsistent": bad[:10],
                             "inconsistent_count": len(bad)})


def check_logs(homes: Sequence[Path]) -> Verdict:
    alarms = []
    for home in homes:
        log = home / "node.log"
        if not log.exists():
            continue
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            if any(alarm in line for alarm in log_alarms):
                alarms.append(f"{home.name}/node.log:{number}: {line[:300]}")
    return Verdict(not alarms, {"alarms": alarms[:20], "alarm_count": len(alarms)})


def unavailability(history: Sequence[Operation], faults: Sequence[Fault], end_s: float
                   ) -> dict[str, float]:
    """Per fault kind (and ``none``), the longest gap between successive acknowledged
    writes that overlaps a fault of that kind or the ``recovery_grace_seconds`` after it
    (a restarted node catches up, a view change finishes)."""
    done = sorted(op.complete_s for op in history if op.kind == "transfer" and op.outcome == "ok")
    marks = [0.0, *done, end_s]
    worst: dict[str, float] = defaultdict(float)
    for begin, end in zip(marks, marks[1:]):
        kinds = {fault.kind for fault in faults
                 if fault.start_s <= end and begin <= (
                     fault.end_s if fault.end_s is not None else end_s) + recovery_grace_seconds}
        for kind in kinds or {"none"}:
            worst[kind] = max(worst[kind], round(end - begin, 3))
    return dict(sorted(worst.items()))
