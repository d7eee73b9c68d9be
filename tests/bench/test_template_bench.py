"""bench/template_bench.py: every template's timed call runs and succeeds (no speed asserts)."""

from __future__ import annotations

import dataclasses

import pytest

from bench import template_bench
from bench.template_bench import TEMPLATES, CallFailed


def test_every_template_is_benchmarked_and_every_call_succeeds() -> None:
    # measure() raises CallFailed if any setup or timed call of any template fails.
    results = template_bench.measure(TEMPLATES, calls=20, rounds=2)
    assert tuple(results) == TEMPLATES and len(TEMPLATES) == 28
    for name, figures in results.items():
        assert figures["calls_per_second"] > 0, name
        assert figures["gas_per_call"] > 0, name
        assert figures["method"], name


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_timed_call_changes_state_and_emits_an_event(template: str) -> None:
    workload = template_bench.WORKLOADS[template](3)
    before = dict(workload.state.data)
    seconds, gas = template_bench.run_round(workload, 3)
    assert seconds >= 0 and gas > 0
    assert workload.state.data != before, f"{template}: the timed calls changed nothing"


def test_gas_is_deterministic() -> None:
    first = template_bench.measure(("token", "market"), calls=5, rounds=1)
    second = template_bench.measure(("token", "market"), calls=5, rounds=1)
    assert [f["gas_per_call"] for f in first.values()] == \
        [f["gas_per_call"] for f in second.values()]


def test_a_failing_call_raises_instead_of_being_timed() -> None:
    workload = template_bench.WORKLOADS["kyc"](4)
    # Registering the same identity twice fails ("already registered").
    workload.calls[1] = dataclasses.replace(workload.calls[1], args=workload.calls[0].args)
    with pytest.raises(CallFailed, match="already registered"):
        template_bench.run_round(workload, 4)


def test_running_out_of_prepared_calls_is_an_error() -> None:
    workload = template_bench.WORKLOADS["token"](2)
    template_bench.run_round(workload, 2)
    with pytest.raises(ValueError):
        template_bench.run_round(workload, 1)


def test_render_has_a_row_per_template() -> None:
    results = template_bench.measure(("token", "kyc"), calls=3, rounds=1)
    table = template_bench.render(results)
    assert table.splitlines()[0] == "| template | method | calls/s | gas per call |"
    assert "| token | transfer |" in table and "| kyc | register |" in table
