"""What one simulation run looks like, drawn from its seed.

A :class:`Scenario` fixes the cluster (validators, shards, replica config), the fault mix
of the faulty period (delays, loss, duplication, partitions, crashes, crash between
persist and send) and the Byzantine replicas with their behaviours. ``Scenario.draw``
takes its values from the run's one ``random.Random`` before the run starts, so a seed
names a scenario; tests pin a field with ``dataclasses.replace`` and keep the rest.

Sizes are chosen so 300 seeds run in well under three minutes on two cores: most seeds are
small (n = 4, one or two shards), the costly ones (n = 7 with four shards) are rare and get
a shorter faulty period. Cost grows with n squared (every replica verifies every vote) times
the number of shards times the number of blocks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Behaviours a Byzantine replica can show (tests/sim/byzantine.py implements each).
BEHAVIOURS: tuple[str, ...] = (
    "equivocate",        # primary sends different blocks to different backups; votes twice
    "silent",            # as primary sends no PRE-PREPARE and no NEW-VIEW
    "mute",              # sends nothing at all (but keeps running)
    "forge",             # messages claiming another sender, garbage signatures
    "replay",            # re-sends old messages it saw, to random peers
    "invalid_proposal",  # bad tx root, prev hash, height, state root, timestamp, tx signature
    "bad_view_change",   # VIEW-CHANGE / NEW-VIEW with stale or forged certificates
    "huge_numbers",      # views and heights near 2**63
    "flood",             # bursts of validly signed junk votes, checkpoints, sync requests
    "garbage",           # undecodable bytes, truncated and bit-flipped encodings
    "bad_sync",          # answers sync requests with tampered blocks and certificates
)

# Test-only faults of a replica the checkers treat as honest: the checkers must catch them.
BROKEN: tuple[str, ...] = ("wrong_block", "equivocate", "forget_votes", "mute")

tick_ms = 10  # virtual milliseconds per Tick


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    validators: int
    shards: int
    byzantine: tuple[tuple[int, tuple[str, ...]], ...]  # (node, behaviours), at most f nodes
    # replica config
    checkpoint_interval_blocks: int
    watermark_window_blocks: int
    state_root_lag_blocks: int
    view_timeout_ticks: int
    view_timeout_max_ticks: int
    # network of the faulty period
    delay_ms_max: int
    loss_permille: int
    duplicate_permille: int
    reorder_permille: int  # a message is held back up to 10x the usual delay
    partitions: bool
    crashes: bool
    crash_between_persist_and_send: bool
    # workload and phases
    block_interval_ms: int
    txs_per_block_max: int
    faulty_ms: int
    liveness_blocks: int  # every honest replica finalizes this many blocks past the heal tip
    broken: tuple[int, str] | None = None  # test-only: (node, fault) the checkers must catch
    # Equivocating primaries fork the chain consistently per view (each side links) and
    # deliver NEW-VIEWs partially. Not drawn: drawing it would change every seed's
    # scenario and so every pinned seed; pytest and pinned overrides turn it on.
    fork_equivocation: bool = False

    @property
    def f(self) -> int:
        return (self.validators - 1) // 3

    @property
    def byzantine_nodes(self) -> tuple[int, ...]:
        return tuple(node for node, _ in self.byzantine)

    def liveness_ms(self) -> int:
        """How long after the heal every honest replica has to finalize new blocks.

        Worst case: every honest replica's view timeout is backed off to the cap, up to f
        Byzantine primaries in a row each cost a full timeout, a few more rounds of view
        change may be needed to align views, then catching up by sync.
        """
        timeout_ms = self.view_timeout_max_ticks * tick_ms
        return (self.f + 3) * timeout_ms + 40 * self.block_interval_ms + 2000

    def describe(self) -> str:
        byz = ", ".join(f"{node}:{'+'.join(b)}" for node, b in self.byzantine) or "none"
        faults = []
        if self.loss_permille:
            faults.append(f"loss={self.loss_permille}‰")
        if self.duplicate_permille:
            faults.append(f"dup={self.duplicate_permille}‰")
        if self.reorder_permille:
            faults.append(f"reorder={self.reorder_permille}‰")
        if self.partitions:
            faults.append("partitions")
        if self.crashes:
            faults.append("crashes")
        if self.crash_between_persist_and_send:
            faults.append("crash-after-persist")
        return (f"n={self.validators} shards={self.shards} byzantine=[{byz}] "
                f"K={self.checkpoint_interval_blocks} W={self.watermark_window_blocks} "
                f"L={self.state_root_lag_blocks} timeout={self.view_timeout_ticks}.."
                f"{self.view_timeout_max_ticks} delay<={self.delay_ms_max}ms "
                f"faults=[{' '.join(faults) or 'none'}] faulty={self.faulty_ms}ms "
                f"block_interval={self.block_interval_ms}ms"
                + (f" broken={self.broken}" if self.broken else ""))

    @staticmethod
    def draw(seed: int, rng: random.Random) -> Scenario:
        validators = rng.choices((1, 4, 7), weights=(8, 74, 18))[0]
        shards = rng.choices((1, 2, 3, 4), weights=(50, 30, 10, 10))[0]
        if validators == 7 and shards > 2 and rng.random() < 0.7:
            shards = 2
        f = (validators - 1) // 3
        byzantine_count = rng.choice((0, f, f)) if f else 0
        nodes = rng.sample(range(validators), byzantine_count)
        byzantine = []
        for node in sorted(nodes):
            count = rng.choice((1, 1, 2, 3))
            byzantine.append((node, tuple(sorted(rng.sample(BEHAVIOURS, count)))))
        interval = rng.choice((2, 4))
        window = interval * rng.choice((2, 3))
        lag = rng.choice((1, 2, 2, 3))
        # The view timeout must leave room for a few block intervals: an idle primary
        # proposes an empty block after one interval, which is what keeps a view alive.
        timeout = rng.choice((10, 15, 20))
        # Relative CPU per simulated second: every replica verifies every vote.
        cost = validators * validators * shards
        faulty_ms = rng.randrange(400, 1200)
        if cost > 40:
            faulty_ms = rng.randrange(300, 700)
        calm = rng.random() < 0.15  # some seeds run without network faults at all
        return Scenario(
            seed=seed,
            validators=validators,
            shards=shards,
            byzantine=tuple(byzantine),
            checkpoint_interval_blocks=interval,
            watermark_window_blocks=window,
            state_root_lag_blocks=lag,
            view_timeout_ticks=timeout,
            view_timeout_max_ticks=timeout * rng.choice((4, 4, 8)),
            delay_ms_max=rng.choice((5, 10, 20, 40)),
            loss_permille=0 if calm else rng.choice((0, 10, 50, 150)),
            duplicate_permille=0 if calm else rng.choice((0, 20, 100)),
            reorder_permille=0 if calm else rng.choice((0, 20, 100)),
            partitions=not calm and validators > 1 and rng.random() < 0.5,
            crashes=not calm and rng.random() < 0.6,
            crash_between_persist_and_send=not calm and rng.random() < 0.3,
            block_interval_ms=timeout * tick_ms * rng.choice((2, 3, 4)) // 10,
            txs_per_block_max=rng.choice((0, 1, 3)),
            faulty_ms=faulty_ms,
            liveness_blocks=2,
        )
