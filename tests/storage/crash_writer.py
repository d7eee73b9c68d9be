"""Child process for test_crash.py: finalizes blocks on two shards until it is killed.

Usage: ``python -m tests.storage.crash_writer DATA_DIR TX_COUNT``. Resumes after the
store's finalized heights. Before each block it appends a consensus record (as a replica
persists its vote), and after each finalize it prints ``finalized SHARD HEIGHT`` — only
once the synced write has returned, so the parent may rely on every printed height.
"""

from __future__ import annotations

import sys

from storage.chain import ChainStore
from tests.storage.blocks import finalize_next

CHAIN_ID = "agora-crash-test"
SHARDS = (0, 1)
BLOCKS_MAX = 100_000  # a bound, so a parent that forgets to kill us does not run forever


def main() -> None:
    data_dir, tx_count = sys.argv[1], int(sys.argv[2])
    store = ChainStore.open(data_dir, CHAIN_ID)
    for _ in range(BLOCKS_MAX):
        for shard in SHARDS:
            height = store.last_height(shard) + 1
            store.append_records(shard, [b"vote/%d/%d" % (shard, height)])
            finalize_next(store, shard, tx_count)
            print(f"finalized {shard} {height}", flush=True)
    store.close()


if __name__ == "__main__":
    main()
