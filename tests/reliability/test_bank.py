"""The short reliability run of ``make test``: 4 validators, one shard, the bank workload
for 45 s under kills, pauses (of the primary half the time) and a power cut, then every
checker. The long runs are ``python -m tests.reliability`` (README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.runner import RunOptions, run, summary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def test_bank_under_kills_pauses_and_power_cuts_keeps_every_invariant(tmp_path: Path) -> None:
    report = run(RunOptions(tmp_path / "cluster", validators=4, shards=1,
                            duration_seconds=45, seed=7, fault_interval_seconds=7))
    text = summary(report)
    print(text)
    assert report["operations"].get("transfer_ok", 0) > 20, text
    assert report["operations"].get("read_ok", 0) > 10, text
    assert report["faults"], text
    failed = [name for name, verdict in report["verdicts"].items() if not verdict["valid"]]
    assert not failed, text
