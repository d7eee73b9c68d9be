"""py-spy collapsed stacks turned into per-function shares (bench/profile.py)."""

from __future__ import annotations

from bench.profile import render, summarize

_prefix = "<module> (node/cli.py:1);run (trio/_core/_run.py:10);"
raw = "\n".join([
    _prefix + "encode (consensus/codec.py:110);to_plain (consensus/codec.py:101) 6",
    _prefix + "encode (consensus/codec.py:111);pack (consensus/codec.py:61) 2",
    _prefix + "verify (nacl/signing.py:5) 2",
    "garbage line without a count",
]) + "\n"


def test_self_shares_are_innermost_frames_with_line_numbers_merged() -> None:
    summary = summarize(raw)
    assert summary["samples"] == 10
    assert summary["self_percent"][0] == ("to_plain (consensus/codec.py)", 60.0)
    assert ("verify (nacl/signing.py)", 20.0) in summary["self_percent"]


def test_inclusive_shares_count_a_function_once_per_stack_and_skip_the_boring() -> None:
    summary = summarize(raw)
    inclusive = dict(summary["inclusive_percent"])
    assert inclusive["encode (consensus/codec.py)"] == 80.0
    assert not any(name.startswith("<module>") for name in inclusive)
    assert "run (trio/_core/_run.py)" not in inclusive


def test_empty_profile_and_rendering() -> None:
    assert summarize("")["samples"] == 0
    text = render("node0", summarize(raw))
    assert text.startswith("## node0: 10 samples")
    assert "60.0%  to_plain (consensus/codec.py)" in text


def test_shares_by_source_file_count_each_stack_once() -> None:
    by_file = dict(summarize(raw)["by_file_percent"])
    assert by_file["consensus/codec.py"] == 80.0
    assert by_file["nacl/signing.py"] == 20.0
