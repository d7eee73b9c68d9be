"""Micro-benchmark: ChainStore.finalize_block throughput on LevelDB (synced writes).

Usage: ``python -m bench.storage_bench [--blocks N] [--dir PATH]``

For blocks of 100 and 1000 txs it finalizes N blocks into a fresh LevelDB store and
prints blocks/s and txs/s, plus the share of time spent before the write (state root,
checksums, encoding). Sizes mimic real blocks: ~250 bytes per encoded tx, a ~120-byte
receipt per tx, two state writes per tx (40-byte key, 64-byte value), a 3-signature
certificate. Benchmarks never assert; numbers depend on the disk's fsync latency.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.chain import ChainStore
from storage.state_root import next_state_root

TX_BYTES = 250
RECEIPT_BYTES = 120
STATE_WRITES_PER_TX = 2
STATE_KEY_BYTES = 40
STATE_VALUE_BYTES = 64
CERTIFICATE_BYTES = 3 * 96


@dataclass(frozen=True, slots=True)
class BenchBlock:
    block_hash: bytes
    block_bytes: bytes
    txs: list[tuple[bytes, int]]
    receipts: list[tuple[bytes, bytes]]
    state_writes: list[tuple[bytes, bytes | None]]


def make_block(height: int, tx_count: int) -> BenchBlock:
    txs = [(hashlib.sha256(b"%d/%d" % (height, i)).digest(), i) for i in range(tx_count)]
    receipts = [(tx_hash, (tx_hash * 4)[:RECEIPT_BYTES]) for tx_hash, _ in txs]
    writes: dict[bytes, bytes | None] = {}
    for tx_hash, _ in txs:
        for w in range(STATE_WRITES_PER_TX):
            key = (b"acct/%d/" % w + tx_hash)[:STATE_KEY_BYTES]
            writes[key] = (tx_hash * 2)[:STATE_VALUE_BYTES]
    block_bytes = os.urandom(TX_BYTES * tx_count)
    return BenchBlock(
        block_hash=hashlib.sha256(block_bytes).digest(),
        block_bytes=block_bytes,
        txs=txs,
        receipts=receipts,
        state_writes=list(writes.items()),
    )


def run(directory: str, tx_count: int, block_count: int) -> None:
    blocks = [make_block(height, tx_count) for height in range(block_count)]
    certificate = os.urandom(CERTIFICATE_BYTES)
    store = ChainStore.open(directory, "agora-bench")
    root_seconds = 0.0
    started = time.perf_counter()
    for height, block in enumerate(blocks):
        root_started = time.perf_counter()
        root = next_state_root(store.state_root(0), height, block.state_writes)
        root_seconds += time.perf_counter() - root_started
        store.finalize_block(
            0,
            height,
            block.block_hash,
            block.block_bytes,
            certificate,
            block.txs,
            block.receipts,
            block.state_writes,
            root,
        )
    elapsed = time.perf_counter() - started
    read_microseconds = _read_latency_microseconds(store, blocks)
    store.close()
    print(
        f"txs_per_block={tx_count:5d} blocks={block_count:4d} "
        f"blocks_per_second={block_count / elapsed:8.1f} "
        f"txs_per_second={block_count * tx_count / elapsed:9.0f} "
        f"ms_per_block={1000 * elapsed / block_count:6.2f} "
        f"(caller's state root {100 * root_seconds / elapsed:4.1f}% of it)"
    )
    print("  read latency (us): " + " ".join(f"{k}={v:.1f}" for k, v in read_microseconds.items()))


def _read_latency_microseconds(store: ChainStore, blocks: list[BenchBlock]) -> dict[str, float]:
    """Mean latency of the reads trio tasks call directly (no thread hop)."""
    reads: dict[str, Callable[[int, BenchBlock], object]] = {
        "get_state": lambda _, b: store.get_state(0, b.state_writes[0][0]),
        "get_tx_location": lambda _, b: store.get_tx_location(b.txs[-1][0]),
        "get_receipt": lambda _, b: store.get_receipt(b.txs[-1][0]),
        "get_block": lambda height, _: store.get_block(0, height),
    }
    sample = list(enumerate(blocks))[:: max(1, len(blocks) // 50)]
    result = {}
    for name, read in reads.items():
        started = time.perf_counter()
        for height, block in sample:
            read(height, block)
        result[name] = 1e6 * (time.perf_counter() - started) / len(sample)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=200, help="blocks per size")
    parser.add_argument("--dir", default=None, help="parent dir for the LevelDB (default tmp)")
    arguments = parser.parse_args()
    for tx_count in (100, 1000):
        directory = tempfile.mkdtemp(prefix="agora-storage-bench-", dir=arguments.dir)
        try:
            run(directory, tx_count, arguments.blocks)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
