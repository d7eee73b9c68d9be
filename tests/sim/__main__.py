"""Run the deterministic simulator over many seeds.

    python -m tests.sim --seeds N [--first S] [--pinned] [--jobs J]
    python -m tests.sim --seed X [--set KEY=VALUE ...] [--verbose]

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

A pinned line may add ``key=value`` Scenario overrides after the seed (a schedule found by
a targeted sweep, e.g. forcing an equivocating primary); ``--set key=value`` replays it.

With ``--seed X`` one seed runs in this process; ``--verbose`` prints every event. The
last line is the trace hash, which must be the same on every run of that seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.sim.scenario import Scenario
from tests.sim.simulator import SimResult, run_simulation

pinned_path = Path(__file__).with_name("pinned_seeds.txt")
first_modulus = 10**6


# A run: a seed and scenario overrides as ``key=value`` strings (usually none).
Run = tuple[int, tuple[str, ...]]


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` strings to Scenario overrides: ints, true/false, and
    ``byzantine=0:equivocate/1:flood+forge`` (nodes separated by ``/``)."""
    fields = {field.name for field in dataclasses.fields(Scenario)}
    overrides: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields or not value:
            raise SystemExit(f"--set {item}: expected key=value with key one of "
                             f"{sorted(fields)}")
        if key == "byzantine":
            overrides[key] = tuple(
                (int(node), tuple(behaviours.split("+")))
                for node, _, behaviours in (part.partition(":") for part in value.split("/")))
        elif value in ("true", "false"):
            overrides[key] = value == "true"
        else:
            overrides[key] = int(value)
    return overrides


def pinned_seeds() -> list[Run]:
    """Runs from pinned_seeds.txt: one per line, ``seed [key=value ...]  # why pinned``."""
    runs: list[Run] = []
    if not pinned_path.exists():
        return runs
    for line in pinned_path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            parse_overrides(tuple(words[1:]))  # fail early on a bad line
            runs.append((int(words[0]), tuple(words[1:])))
    return runs


def first_from_git() -> tuple[int, str]:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10,
                             cwd=Path(__file__).resolve().parent).stdout.strip()
        return int(sha[:8], 16) % first_modulus, f"from git HEAD {sha[:10]}"
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0, "default, git unavailable"


def replay_command(seed: int, overrides: tuple[str, ...] = ()) -> str:
    sets = "".join(f" --set {item}" for item in overrides)
    return f"python -m tests.sim --seed {seed}{sets} --verbose"


def _run_quiet(run: Run) -> tuple[Run, SimResult]:
    seed, overrides = run
    return run, run_simulation(seed, **parse_overrides(overrides))


def run_many(runs: list[Run], jobs: int) -> list[tuple[Run, SimResult]]:
    if jobs <= 1 or len(runs) <= 1:
        return [_run_quiet(run) for run in runs]
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(processes=min(jobs, len(runs))) as pool:
        results = list(pool.imap_unordered(_run_quiet, runs, chunksize=1))
    return sorted(results, key=lambda item: runs.index(item[0]))


def main_one(seed: int, overrides: tuple[str, ...], verbose: bool) -> int:
    started = time.monotonic()
    result = run_simulation(seed, verbose=verbose, **parse_overrides(overrides))
    elapsed = time.monotonic() - started
    print(f"seed {seed}: {result.scenario}")
    print(f"virtual {result.virtual_ms}ms, {result.events} events, "
          f"{result.blocks_finalized} blocks finalized by honest replicas, {elapsed:.2f}s")
    print("counters: " + " ".join(f"{k}={v}" for k, v in result.stats.items()))
    if result.failure is not None:
        print(f"FAIL seed {seed}: {result.failure}")
        print(f"  replay: {replay_command(seed, overrides)}")
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
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="with --seed: override a Scenario field (as pinned seeds do)")
    parser.add_argument("--verbose", action="store_true", help="print every event")
    args = parser.parse_args(argv)

    if args.seed is not None:
        return main_one(args.seed, tuple(args.set), args.verbose)

    if args.first is None:
        first, origin = first_from_git()
    else:
        first, origin = args.first, "given"
    runs: list[Run] = [(seed, ()) for seed in range(first, first + args.seeds)]
    pinned = pinned_seeds() if args.pinned else []
    extra = [run for run in pinned if run not in runs]
    described = f"{first}..{first + args.seeds - 1} ({args.seeds} seeds, first {origin})" \
        if args.seeds else "no range"
    if args.pinned:
        shown = [" ".join((str(seed), *overrides)) for seed, overrides in extra]
        described += f" + pinned [{', '.join(shown)}]"
    print(f"tests.sim: seeds {described}, {args.jobs} jobs", flush=True)
    started = time.monotonic()
    results = run_many(runs + extra, args.jobs)
    elapsed = time.monotonic() - started
    failures = [(run, result) for run, result in results if not result.ok]
    for (seed, overrides), result in failures:
        assert result.failure is not None
        headline = result.failure.strip().splitlines()
        summary = headline[0] if len(headline) == 1 else f"{headline[0]} {headline[-1]}"
        print(f"FAIL seed {seed}: {summary[:400]}")
        print(f"  replay: {replay_command(seed, overrides)}")
    print(f"{len(results)} seeds, {len(failures)} failures ({elapsed:.1f}s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
