"""``python -m tests.reliability``: one long reliability run, verdicts on stdout.

    .venv/bin/python -m tests.reliability --validators 4 --shards 1 --duration 600
    .venv/bin/python -m tests.reliability --validators 7 --shards 1 --duration 600
    .venv/bin/python -m tests.reliability --validators 4 --shards 2 --duration 600

Exits 1 if any checker fails; the report and history are in ``--dir``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.reliability.nemesis import fault_kinds
from tests.reliability.runner import RunOptions, run, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of faults")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", default=",".join(fault_kinds),
                        help=f"comma-separated, from {', '.join(fault_kinds)}")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the cluster, report.json and history.jsonl go")
    args = parser.parse_args(argv)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="agora-reliability-"))
    faults = tuple(kind for kind in args.faults.split(",") if kind)
    report = run(RunOptions(directory, args.validators, args.shards, args.duration,
                            args.seed, faults, args.workers))
    print(summary(report))
    print(f"report: {directory / 'report.json'}")
    return 0 if report["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
