"""SIGKILL a real process writing blocks to real LevelDB, reopen, check nothing is torn."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from storage.chain import ChainStore
from tests.storage.blocks import assert_chain_matches_replay
from tests.storage.crash_writer import CHAIN_ID, SHARDS

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD_DEADLINE_SECONDS = 30.0
TX_COUNT = 40  # big enough that a kill often lands inside a write batch
KILL_AFTER_BLOCKS = (1, 7, 23, 4, 50, 2)


def _pump_lines(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _run_and_kill(
    data_dir: Path, kill_after_blocks: int, heights_at_start: dict[int, int]
) -> dict[int, int]:
    """Start the writer, SIGKILL it once it reported ``kill_after_blocks`` new blocks.

    Returns the highest height the child reported finalized, per shard.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_writer", str(data_dir), str(TX_COUNT)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[bytes | None] = queue.Queue()
    assert child.stdout is not None
    pump = threading.Thread(target=_pump_lines, args=(child.stdout, lines), daemon=True)
    pump.start()
    reported = dict(heights_at_start)
    deadline = time.monotonic() + CHILD_DEADLINE_SECONDS
    try:
        while _new_blocks(reported, heights_at_start) < kill_after_blocks:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"writer reported {reported} within {CHILD_DEADLINE_SECONDS} s, "
                    f"fewer than {kill_after_blocks} new blocks"
                ) from None
            assert line is not None, f"writer exited early: {child.stderr.read()!r}"  # type: ignore[union-attr]
            _, shard, height = line.split()
            reported[int(shard)] = int(height)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=CHILD_DEADLINE_SECONDS)
        pump.join(timeout=CHILD_DEADLINE_SECONDS)  # ends at EOF, now that the child is gone
        assert child.stderr is not None
        child.stderr.close()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # Lines the child printed before it died but the loop above had not read yet: each
    # is a height whose synced finalize had returned, so it counts as reported too.
    while (line := lines.get_nowait()) is not None:
        _, shard, height = line.split()
        reported[int(shard)] = max(reported[int(shard)], int(height))
    return reported


def _new_blocks(reported: dict[int, int], heights_at_start: dict[int, int]) -> int:
    return sum(reported[shard] - heights_at_start[shard] for shard in SHARDS)


def test_sigkilled_writer_leaves_every_finalized_height_complete(tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    for kill_after_blocks in KILL_AFTER_BLOCKS:
        heights_at_start = {shard: -1 for shard in SHARDS}
        if data_dir.exists():
            with ChainStore.open(data_dir, CHAIN_ID) as store:
                heights_at_start = {shard: store.last_height(shard) for shard in SHARDS}
        reported = _run_and_kill(data_dir, kill_after_blocks, heights_at_start)
        with ChainStore.open(data_dir, CHAIN_ID) as store:
            for shard in SHARDS:
                # Every height the child reported is durable; at most one more got in.
                last = store.last_height(shard)
                assert reported[shard] <= last <= reported[shard] + 1
                assert_chain_matches_replay(store, shard, TX_COUNT)
                _assert_votes_precede_blocks(store.load_records(shard), shard, last)


def _assert_votes_precede_blocks(votes: list[bytes], shard: int, last: int) -> None:
    """A vote is persisted before its block is finalized; a kill between the two makes
    the restarted writer vote again for the same height, so distinct votes are compared."""
    distinct = list(dict.fromkeys(votes))
    expected = [b"vote/%d/%d" % (shard, height) for height in range(last + 1)]
    assert distinct[: last + 1] == expected
    assert distinct[last + 1 :] in ([], [b"vote/%d/%d" % (shard, last + 1)])
