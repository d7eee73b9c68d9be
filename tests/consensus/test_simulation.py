"""The deterministic simulator (tests/sim) on pinned seeds, and the simulator's own checks.

Seeds here are fixed: each configuration and each Byzantine behaviour runs one known
schedule. The many-seed sweep is ``python -m tests.sim`` (``make test`` runs it). The last
tests break a replica on purpose and expect the matching checker to fail the run: a
checker that cannot fail is worthless.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sim import BEHAVIOURS, run_simulation
from tests.sim.__main__ import pinned_seeds

repo_root = Path(__file__).resolve().parents[2]

calm: dict[str, Any] = {
    "loss_permille": 0, "duplicate_permille": 0, "reorder_permille": 0, "partitions": False,
    "crashes": False, "crash_between_persist_and_send": False}
lossy: dict[str, Any] = {
    "loss_permille": 30, "duplicate_permille": 50, "reorder_permille": 50, "delay_ms_max": 20,
    "partitions": False, "crashes": False, "crash_between_persist_and_send": False}
crashing: dict[str, Any] = {
    "loss_permille": 10, "duplicate_permille": 20, "reorder_permille": 20, "partitions": True,
    "crashes": True, "crash_between_persist_and_send": True}
short: dict[str, Any] = {"faulty_ms": 800, "byzantine": ()}


def assert_clean(seed: int, **overrides: Any) -> None:
    result = run_simulation(seed, **overrides)
    assert result.ok, (f"seed {seed} ({result.scenario}) failed: {result.failure}\n"
                       f"replay the drawn scenario: python -m tests.sim --seed {seed} --verbose")
    assert result.blocks_finalized > 0


@pytest.mark.parametrize("validators,shards", [(1, 1), (1, 4), (4, 1), (4, 2), (4, 4), (7, 1),
                                               (7, 2)])
def test_configuration_runs_clean_in_a_calm_network(validators: int, shards: int) -> None:
    assert_clean(100 + validators * 10 + shards, validators=validators, shards=shards,
                 **short, **calm)


@pytest.mark.parametrize("validators,shards", [(4, 1), (4, 3), (7, 1)])
def test_configuration_runs_clean_with_loss_duplication_and_reordering(
        validators: int, shards: int) -> None:
    assert_clean(200 + validators * 10 + shards, validators=validators, shards=shards,
                 **short, **lossy)


@pytest.mark.parametrize("seed", [301, 302, 303])
def test_crashes_partitions_and_crash_between_persist_and_send_keep_safety_and_liveness(
        seed: int) -> None:
    assert_clean(seed, validators=4, shards=2, **short, **crashing)


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_one_byzantine_replica_of_four_is_survived(behaviour: str) -> None:
    # Node 0 is the primary of shard 0 in view 0, so proposal attacks start at once.
    assert_clean(400 + BEHAVIOURS.index(behaviour), validators=4, shards=1, faulty_ms=1000,
                 byzantine=((0, (behaviour,)),), **lossy)


@pytest.mark.parametrize("pair", [("equivocate", "forge"), ("silent", "bad_view_change"),
                                  ("invalid_proposal", "replay"), ("flood", "huge_numbers"),
                                  ("garbage", "bad_sync")])
def test_two_byzantine_replicas_of_seven_are_survived(pair: tuple[str, str]) -> None:
    assert_clean(500 + len(pair[0]) * 7 + len(pair[1]), validators=7, shards=1,
                 faulty_ms=600, byzantine=((0, (pair[0],)), (1, (pair[1],))), **calm)


@pytest.mark.parametrize("validators,seed", [(4, 701), (4, 702), (7, 703), (7, 704)])
def test_colluding_primaries_that_fork_the_chain_cannot_break_safety(validators: int,
                                                                     seed: int) -> None:
    # f equivocating nodes: primaries show each side of the backups its own hash chain,
    # Byzantine backups vote for both sides, NEW-VIEWs reach only some backups.
    byzantine = ((0, ("equivocate",)),) if validators == 4 else \
        ((0, ("equivocate",)), (1, ("equivocate",)))
    assert_clean(seed, validators=validators, shards=2, faulty_ms=800, byzantine=byzantine,
                 fork_equivocation=True, **lossy)


def test_the_same_seed_gives_the_same_trace_hash() -> None:
    first = run_simulation(7)
    second = run_simulation(7)
    assert first.trace_hash == second.trace_hash
    assert first.events == second.events and first.virtual_ms == second.virtual_ms
    assert run_simulation(8).trace_hash != first.trace_hash


def _trace_in_subprocess(seed: int, hash_seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    completed = subprocess.run([sys.executable, "-m", "tests.sim", "--seed", str(seed)],
                               cwd=repo_root, env=env, capture_output=True, text=True,
                               timeout=120, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("trace ")]
    assert lines, completed.stdout + completed.stderr
    return lines[-1]


def test_the_trace_hash_does_not_depend_on_the_python_hash_seed() -> None:
    seed = 11
    assert _trace_in_subprocess(seed, "0") == _trace_in_subprocess(seed, "12345")


def test_a_replica_that_finalizes_another_block_fails_the_agreement_checker() -> None:
    result = run_simulation(601, validators=4, shards=1, broken=(1, "wrong_block"), **short,
                            **calm)
    assert result.failure is not None and "agreement" in result.failure, result.failure


def test_an_honest_replica_that_signs_two_prepares_fails_the_equivocation_checker() -> None:
    result = run_simulation(602, validators=4, shards=1, broken=(2, "equivocate"), **short,
                            **calm)
    assert result.failure is not None and "equivocation" in result.failure, result.failure


def test_a_shell_that_does_not_persist_votes_fails_the_persist_before_send_checker() -> None:
    result = run_simulation(603, validators=4, shards=1, broken=(1, "forget_votes"), **short,
                            **calm)
    assert result.failure is not None and "persist before send" in result.failure, \
        result.failure


def test_more_than_f_silent_replicas_fail_the_liveness_checker() -> None:
    result = run_simulation(604, validators=4, shards=1, faulty_ms=300,
                            byzantine=((0, ("mute",)),), broken=(1, "mute"), **calm)
    assert result.failure is not None and "liveness" in result.failure, result.failure


def test_pinned_seeds_file_parses() -> None:
    assert all(isinstance(seed, int) for seed, _overrides in pinned_seeds())


# -- a replica bug the simulator found, reduced to a hand-driven run -----------------------


def test_new_view_keeps_a_height_that_has_a_commit_certificate() -> None:
    """Every PREPARE of height 1 is lost; heights 2 and 3 prepare everywhere. The replica
    used to send COMMIT for height 3 anyway (it needed only height 2 prepared), so height 3
    had a commit certificate while nobody prepared height 1, and the NEW-VIEW of view 1,
    which stops at the first height without a prepared certificate, dropped it (pinned sim
    seeds 31255, 32028). Either no certificate forms, or the NEW-VIEW keeps the block."""
    from consensus.events import MessageReceived, Output, Propose, Tick
    from consensus.replica import Replica, ReplicaConfig
    from consensus.types import Commit, NewView, Prepare, PrePrepare, Signer, ViewChange

    def sent(out: Output, kind: type) -> list[Any]:
        return [send.message for send in out.send if isinstance(send.message, kind)]

    signers = [Signer(bytes([index + 1]) * 32) for index in range(4)]
    validators = tuple(signer.public_key for signer in signers)
    replicas = [Replica(ReplicaConfig("c", 0, index, validators, checkpoint_interval_blocks=2,
                                      watermark_window_blocks=6, state_root_lag_blocks=3,
                                      view_timeout_ticks=4, view_timeout_max_ticks=16),
                        signers[index]) for index in range(4)]
    pre_prepares = []
    for height in (1, 2, 3):
        pre_prepares += sent(replicas[0].step(Propose((), 1_000 + height)), PrePrepare)
    assert [pp.height for pp in pre_prepares] == [1, 2, 3]
    prepares = [prepare for backup in replicas[1:] for pp in pre_prepares
                for prepare in sent(backup.step(MessageReceived(pp)), Prepare)]
    commits = [commit for replica in replicas for prepare in prepares
               if prepare.height != 1 and prepare.sender != replica.id
               for commit in sent(replica.step(MessageReceived(prepare)), Commit)]
    certified = len({commit.sender for commit in commits if commit.height == 3}) >= \
        replicas[0].config.quorum
    view_changes = []
    for _ in range(20):
        for replica in replicas:
            view_changes += sent(replica.step(Tick()), ViewChange)
    new_views = [new_view for vc in view_changes if vc.sender != 1 and vc.view == 1
                 for new_view in sent(replicas[1].step(MessageReceived(vc)), NewView)]
    assert new_views
    reproposed = {pp.height: pp.digest for pp in new_views[0].pre_prepares}
    if certified:
        assert reproposed.get(3) == pre_prepares[2].digest, "a certified block was dropped"
