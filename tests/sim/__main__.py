"""Run the deterministic simulator over many seeds.

    python -m tests.sim --seeds N [--first S] [--pinned] [--jobs J]
    python -m tests.sim --seed X [--verbose]

Runs seeds ``S .. S + N - 1`` (and with ``--pinned`` every seed in
``tests/sim/pinned_seeds.txt``) in ``J`` worker processes (default: every CPU), prints which
seeds ran, one line per failure with the command that replays it, and the summary line
``N seeds, F failures (T s)``; the exit status is 1 if any seed failed.

Which seeds ``make test`` runs: without ``--first`` the range starts at a number derived
from the git HEAD commit (``int(sha[:8], 16) % 10**6``), printed with the range. The
choice: a fixed range would only ever test the same 300 schedules, while a range drawn
from the clock would make a rerun of the same commit test different seeds, so a red CI
run could turn green on retry. Deriving it from HEAD gives both: every commit explores
new schedules (like TigerBeetle's VOPR fleet, on a small scale), and rerunning a commit
reruns exactly the same seeds. Seeds that ever failed go into ``pinned_seeds.txt`` with a
comment and run on every ``--pinned`` invocation. Without git the range starts at 0.

With ``--seed X`` one seed runs in this process; ``--verbose`` prints every event. The
last line is the trace hash, which must be the same on every run of that seed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.sim.simulator import SimResult, run_simulation

pinned_path = Path(__file__).with_name("pinned_seeds.txt")
first_modulus = 10**6


def pinned_seeds() -> list[int]:
    """Seeds from pinned_seeds.txt: one per line, ``seed  # why it is pinned``."""
    seeds: list[int] = []
    if not pinned_path.exists():
        return seeds
    for line in pinned_path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            seeds.append(int(text))
    return seeds


def first_from_git() -> tuple[int, str]:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10,
                             cwd=Path(__file__).resolve().parent).stdout.strip()
        return int(sha[:8], 16) % first_modulus, f"from git HEAD {sha[:10]}"
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0, "default, git unavailable"


def replay_command(seed: int) -> str:
    return f"python -m tests.sim --seed {seed} --verbose"


def _run_quiet(seed: int) -> SimResult:
    return run_simulation(seed)


def run_many(seeds: list[int], jobs: int) -> list[SimResult]:
    if jobs <= 1 or len(seeds) <= 1:
        return [_run_quiet(seed) for seed in seeds]
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(processes=min(jobs, len(seeds))) as pool:
        results = list(pool.imap_unordered(_run_quiet, seeds, chunksize=1))
    return sorted(results, key=lambda result: seeds.index(result.seed))


def main_one(seed: int, verbose: bool) -> int:
    started = time.monotonic()
    result = run_simulation(seed, verbose=verbose)
    elapsed = time.monotonic() - started
    print(f"seed {seed}: {result.scenario}")
    print(f"virtual {result.virtual_ms}ms, {result.events} events, "
          f"{result.blocks_finalized} blocks finalized by honest replicas, {elapsed:.2f}s")
    print("counters: " + " ".join(f"{k}={v}" for k, v in result.stats.items()))
    if result.failure is not None:
        print(f"FAIL seed {seed}: {result.failure}")
        print(f"  replay: {replay_command(seed)}")
    print(f"1 seeds, {0 if result.ok else 1} failures ({elapsed:.1f}s)")
    print(f"trace {result.trace_hash}")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=0, help="how many seeds to run")
    parser.add_argument("--first", type=int, default=None,
                        help="first seed of the range (default: derived from git HEAD)")
    parser.add_argument("--pinned", action="store_true",
                        help="also run the seeds in tests/sim/pinned_seeds.txt")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the CPU count)")
    parser.add_argument("--seed", type=int, default=None, help="run this one seed")
    parser.add_argument("--verbose", action="store_true", help="print every event")
    args = parser.parse_args(argv)

    if args.seed is not None:
        return main_one(args.seed, args.verbose)

    if args.first is None:
        first, origin = first_from_git()
    else:
        first, origin = args.first, "given"
    seeds = list(range(first, first + args.seeds))
    pinned = pinned_seeds() if args.pinned else []
    extra = [seed for seed in pinned if seed not in seeds]
    described = f"{first}..{first + args.seeds - 1} ({args.seeds} seeds, first {origin})" \
        if args.seeds else "no range"
    if args.pinned:
        described += f" + pinned {extra}"
    print(f"tests.sim: seeds {described}, {args.jobs} jobs", flush=True)
    started = time.monotonic()
    results = run_many(seeds + extra, args.jobs)
    elapsed = time.monotonic() - started
    failures = [result for result in results if not result.ok]
    for result in failures:
        assert result.failure is not None
        headline = result.failure.strip().splitlines()
        summary = headline[0] if len(headline) == 1 else f"{headline[0]} {headline[-1]}"
        print(f"FAIL seed {result.seed}: {summary[:400]}")
        print(f"  replay: {replay_command(result.seed)}")
    print(f"{len(results)} seeds, {len(failures)} failures ({elapsed:.1f}s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
