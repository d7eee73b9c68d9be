"""Micro-benchmarks: the parts of a node alone, to compare with ``agora bench``.

    .venv/bin/python -m bench.micro [--validators 4] [--seconds 3] [--json PATH]

* **consensus core**: ``n`` :class:`consensus.replica.Replica` objects in one process, a
  tight loop that moves every message through the real codec (encode, decode) and lets
  each replica verify every signature, as a node does; execution is a toy hash (as in
  tests/consensus/scenario.py). One block at a time (no pipelining), empty blocks and
  blocks of 1000 txs. Reports blocks and messages delivered per CPU second for the whole
  group, i.e. with all ``n`` replicas sharing one core.
* **storage**: ``ChainStore.finalize_block`` on LevelDB via ``bench/storage_bench.py``.
* **VM**: ``transfer`` calls per second of the token and NFT templates via
  ``bench/vm_bench.py`` (which also compares against py-evm; see it for details).
* **ed25519**: verifications per second on one core (``V``, PyNaCl through
  ``consensus.types.verify_signature``, the node's call) and over all cores in parallel.
  Every replica verifies every client tx once, so with ``n`` replicas sharing ``C`` cores
  the machine cannot finalize more than ``C * V / n`` TPS: the bound RESULTS.md compares
  ``agora bench`` with.

Benchmarks never assert. The machine is shared: every figure is the best of ``--rounds``,
and the one-core figures (consensus core, V) are per CPU second of this process, so other
tenants' load mostly stays out of them; the parallel verification rate is wall-clock (it
is about what the whole machine does). Storage is wall-clock (it waits on fsync).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections import deque
from typing import Any

from consensus.events import Executed, MessageReceived, Propose, RecoveredState
from consensus.replica import Replica, ReplicaConfig
from consensus.types import (
    Signer,
    Transaction,
    decode_message,
    encode_message,
    verify_signature,
)

chain_id = "micro"
block_txs_sizes = (0, 1000)
verify_message_bytes = 200


# -- consensus core ----------------------------------------------------------------------


class ReplicaGroup:
    """``n`` replicas of one shard driven in-process; messages go through the codec."""

    def __init__(self, n: int, block_txs_max: int) -> None:
        self.signers = [Signer(hashlib.sha256(b"micro-replica-%d" % i).digest())
                        for i in range(n)]
        validators = tuple(signer.public_key for signer in self.signers)
        self.replicas = [
            Replica(ReplicaConfig(chain_id, 0, i, validators, checkpoint_interval_blocks=16,
                                  watermark_window_blocks=64,
                                  block_txs_max=max(1, block_txs_max)),
                    self.signers[i], RecoveredState())
            for i in range(n)]
        self.roots = [b"\x00" * 32] * n
        self.heights = [0] * n
        self.messages = 0
        self.clock_ms = 1_000
        self.events: deque[tuple[int, object]] = deque()

    def run_block(self, txs: tuple[Transaction, ...]) -> None:
        """The primary proposes; every event is processed until the group is quiet."""
        primary = self.replicas[0].primary(self.replicas[0].view)
        self.clock_ms += 10
        self.events.append((primary, Propose(txs, self.clock_ms)))
        while self.events:
            index, event = self.events.popleft()
            out = self.replicas[index].step(event)  # type: ignore[arg-type]
            for send in out.send:
                encoded = encode_message(send.message)
                targets = [send.to] if send.to is not None else [
                    other for other in range(len(self.replicas)) if other != index]
                for target in targets:
                    self.messages += 1
                    self.events.append((target, MessageReceived(decode_message(encoded))))
            for item in out.deliver:
                block_hash = item.block.hash()
                self.roots[index] = hashlib.sha256(self.roots[index] + block_hash).digest()
                self.heights[index] = item.block.header.height
                receipts_root = hashlib.sha256(b"r" + block_hash).digest()
                self.events.append((index, Executed(item.block.header.height,
                                                    self.roots[index], receipts_root)))


def unsigned_txs(count: int, salt: int) -> tuple[Transaction, ...]:
    """Distinct well-formed txs; replicas do not check client signatures (the mempool
    does), so a placeholder signature costs nothing here."""
    sender = hashlib.sha256(b"micro-sender").digest()
    return tuple(Transaction(chain_id, sender, salt * 1_000_000 + i, 10**9, 0, b"",
                             "transfer", b"\x92\xc4\x20" + sender + b"\x01", b"\x00" * 64)
                 for i in range(count))


def consensus_rates(n: int, txs_per_block: int, seconds: float) -> dict[str, float]:
    group = ReplicaGroup(n, txs_per_block)
    batches = [unsigned_txs(txs_per_block, salt) for salt in range(8)] if txs_per_block \
        else [()]
    group.run_block(batches[0])  # warm up
    blocks = 0
    messages_before = group.messages
    started = time.process_time()  # CPU seconds: other tenants of the machine stay out
    while time.process_time() - started < seconds:
        group.run_block(batches[blocks % len(batches)])
        blocks += 1
    elapsed = time.process_time() - started
    assert min(group.heights) == blocks + 1, f"replicas stalled at {group.heights}"
    return {"blocks_per_second": blocks / elapsed,
            "messages_per_second": (group.messages - messages_before) / elapsed,
            "txs_per_second": blocks * txs_per_block / elapsed}


# -- ed25519 ------------------------------------------------------------------------------


def verify_rate(seconds: float, cpu_time: bool = True) -> float:
    """Valid-signature verifications per second on this core, as the node checks them;
    per CPU second of this process by default (what a core does when it is ours), per
    wall-clock second with ``cpu_time=False``."""
    clock = time.process_time if cpu_time else time.perf_counter
    signers = [Signer(hashlib.sha256(b"v%d" % i).digest()) for i in range(64)]
    items = []
    for i in range(512):
        signer = signers[i % len(signers)]
        message = hashlib.sha256(b"m%d" % i).digest() * (verify_message_bytes // 32)
        items.append((signer.public_key, message, signer.sign(message)))
    done = 0
    started = clock()
    while clock() - started < seconds:
        for public_key, message, signature in items:
            if not verify_signature(public_key, message, signature):
                raise AssertionError("a valid signature failed to verify")
        done += len(items)
    return done / (clock() - started)


def _wall_verify_rate(seconds: float) -> float:
    return verify_rate(seconds, cpu_time=False)


def parallel_verify_rate(seconds: float, processes: int) -> float:
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.map(_wall_verify_rate, [seconds] * processes))


# -- storage and VM (delegated to the benchmarks that own them) ---------------------------


def storage_rates(blocks: int) -> dict[str, Any]:
    from bench import storage_bench

    out: dict[str, Any] = {}
    for tx_count in (100, 1000):
        directory = tempfile.mkdtemp(prefix="agora-micro-storage-")
        text = io.StringIO()
        try:
            with contextlib.redirect_stdout(text):
                storage_bench.run(directory, tx_count, blocks)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        found = re.search(r"blocks_per_second=\s*([\d.]+)\s+txs_per_second=\s*(\d+)",
                          text.getvalue())
        out[f"{tx_count}_txs_per_block"] = {
            "blocks_per_second": float(found.group(1)) if found else None,
            "txs_per_second": float(found.group(2)) if found else None,
            "raw": text.getvalue().strip()}
    return out


def vm_rates(calls: int, rounds: int) -> dict[str, Any]:
    try:
        from bench import vm_bench

        runs = {"token transfer": vm_bench.agora_token(calls * rounds),
                "nft transfer": vm_bench.agora_nft(calls * rounds)}
        return {name: round(rate) for name, rate in
                vm_bench._interleaved_best_rates(runs, calls, rounds).items()}
    except Exception as error:  # vm_bench is owned elsewhere and may change under us
        return {"error": f"bench/vm_bench.py could not be driven: {error!r}; "
                         "run `python -m bench.vm_bench` directly"}


# -- main ---------------------------------------------------------------------------------


def best(rounds: int, measure: Any) -> Any:
    results = [measure() for _ in range(rounds)]
    if isinstance(results[0], dict):
        key = next(iter(results[0]))
        return max(results, key=lambda result: result[key])
    return max(results)


def run(args: argparse.Namespace) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    result: dict[str, Any] = {"cpu_count": cores, "python": sys.version.split()[0],
                              "validators": args.validators, "rounds": args.rounds}
    v = best(args.rounds, lambda: verify_rate(args.seconds))
    result["ed25519_verify_per_second_one_core"] = round(v)
    result["ed25519_verify_per_second_all_cores"] = round(
        best(args.rounds, lambda: parallel_verify_rate(args.seconds, cores)))
    result["bound_tps_c_v_over_n"] = round(cores * v / args.validators)
    result["consensus"] = {
        f"{size}_txs_per_block": {name: round(value, 1) for name, value in best(
            args.rounds, lambda size=size: consensus_rates(args.validators, size,
                                                           args.seconds)).items()}
        for size in block_txs_sizes}
    if not args.skip_storage:
        result["storage_finalize"] = storage_rates(args.storage_blocks)
    if not args.skip_vm:
        result["vm_calls_per_second"] = vm_rates(args.vm_calls, args.rounds)
    return result


def render(result: dict[str, Any]) -> str:
    lines = ["| micro-benchmark | figure |", "|---|---|"]
    n, cores = result["validators"], result["cpu_count"]
    v = result["ed25519_verify_per_second_one_core"]
    lines.append(f"| ed25519 verify, one core (V) | {v:,} /s |")
    lines.append(f"| ed25519 verify, {cores} processes in parallel | "
                 f"{result['ed25519_verify_per_second_all_cores']:,} /s |")
    lines.append(f"| bound C*V/n (C={cores}, n={n}) | {result['bound_tps_c_v_over_n']:,} TPS |")
    for size, figures in result["consensus"].items():
        lines.append(f"| consensus core, {n} replicas on one core, {size.replace('_', ' ')} | "
                     f"{figures['blocks_per_second']:,.1f} blocks/s, "
                     f"{figures['messages_per_second']:,.0f} msgs/s"
                     + (f", {figures['txs_per_second']:,.0f} txs/s |"
                        if figures["txs_per_second"] else " |"))
    for size, figures in result.get("storage_finalize", {}).items():
        lines.append(f"| storage finalize (LevelDB, synced), {size.replace('_', ' ')} | "
                     f"{figures['blocks_per_second']} blocks/s, "
                     f"{figures['txs_per_second']:,.0f} txs/s |")
    for name, rate in result.get("vm_calls_per_second", {}).items():
        lines.append(f"| VM {name} | {rate:,} calls/s |" if isinstance(rate, int)
                     else f"| VM | {rate} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=4, help="n for the replica group "
                        "and the bound")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many")
    parser.add_argument("--storage-blocks", type=int, default=100)
    parser.add_argument("--vm-calls", type=int, default=2000)
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--skip-vm", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args)
    print(render(result))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=2)
            file.write("\n")


if __name__ == "__main__":
    main()
