"""bench/executor_bench.py runs its transfers to the end, and a failing tx stops it."""

from __future__ import annotations

import pytest

from bench import executor_bench


def test_the_executor_bench_runs_every_transfer_and_reports_cpu_per_tx(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.argv", ["executor_bench", "--blocks", "1", "--txs", "20",
                                     "--rounds", "1"])
    executor_bench.main()
    assert "us CPU per tx (best of 1 rounds of 1 blocks x 20 txs)" in capsys.readouterr().out


def test_a_failing_benchmark_tx_stops_the_run_instead_of_being_timed() -> None:
    chain = executor_bench.Chain()
    sender = executor_bench.Signer(b"\x05" * 32)
    no_contract = b"\x07" * 32
    with pytest.raises(SystemExit, match="failed"):
        chain.run([executor_bench._signed(sender, no_contract, "transfer", b"\x80", 1)])


def test_the_executor_bench_charges_fees_with_a_gas_price(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.argv", ["executor_bench", "--blocks", "1", "--txs", "20",
                                     "--rounds", "1", "--gas-price", "2"])
    executor_bench.main()
    out = capsys.readouterr().out
    assert "gas price 2:" in out and "fees collected 0" not in out
