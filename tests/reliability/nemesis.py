"""The nemesis: faults a running cluster's processes the way an operator's bad day would.

Faults, each recorded as a :class:`Fault` with its start and end (seconds since the run
started) so the checkers can attribute unavailability to a kind:

* ``kill``: SIGKILL one validator, restart it after a few seconds (a crash);
* ``pause``: SIGSTOP one validator, SIGCONT it after a few seconds; half the time the
  paused node is the primary of shard 0 (a GC pause, a stuck disk, a VM migration);
* ``power``: SIGKILL every validator at once, restart them all (a data-centre power cut as
  far as processes go: what the OS had not written is not lost here, since the page cache
  survives; the simulator's faulty disk covers lost unsynced writes);
* ``skew``: one validator's wall clock jumps ahead or behind by up to a minute, then back
  (the node's test-only ``AGORA_TEST_CLOCK_OFFSET_FILE``, read by the clock that stamps
  and bounds block timestamps; timers run on the monotonic clock, as an NTP step leaves
  them. libfaketime was tried first: its nanosleep hook fails with EINVAL after an offset
  change, which would fault the harness, not the node).

At most f validators are down or paused at once, except during ``power``. The schedule
comes from one ``random.Random(seed)``, so a run's fault plan is repeatable (its timing is
not: real processes on a shared machine).
"""

from __future__ import annotations

import dataclasses
import random
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from node.client import AgoraClient, RpcCallError, TransportError
from node.setup import LocalCluster

fault_kinds = ("kill", "pause", "power", "skew")
skew_seconds_max = 60
# A power cut is rarer than a single node's trouble.
kind_weights = {"kill": 3, "pause": 3, "skew": 2, "power": 1}


def clock_file(home: Path) -> Path:
    return home / "clock_offset_ms"


def prepare_clock_skew(cluster: LocalCluster) -> None:
    """Start every node of ``cluster`` with a clock offset file holding 0."""
    for index, home in enumerate(cluster.homes):
        clock_file(home).write_text("0\n")
        cluster.node_env[index] = {"AGORA_TEST_CLOCK_OFFSET_FILE": str(clock_file(home))}


@dataclasses.dataclass(slots=True)
class Fault:
    kind: str
    nodes: tuple[int, ...]
    start_s: float
    end_s: float | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Nemesis:
    """Runs the fault schedule in a thread until ``stop()``; ``heal()`` undoes everything."""

    def __init__(self, cluster: LocalCluster, kinds: Sequence[str], seed: int,
                 started: float, interval_seconds: float = 8.0,
                 fault_seconds: tuple[float, float] = (2.0, 5.0)) -> None:
        unknown = set(kinds) - set(fault_kinds)
        assert not unknown, f"unknown fault kinds {sorted(unknown)}"
        self.cluster = cluster
        self.kinds = tuple(kinds)
        self.rng = random.Random(seed)
        self.started = started
        self.interval_seconds = interval_seconds
        self.fault_seconds = fault_seconds
        self.validators = len(cluster.homes)
        self.faults_max = (self.validators - 1) // 3
        self.faults: list[Fault] = []
        self.killed: set[int] = set()
        self.paused: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.started

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="nemesis")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            assert not self._thread.is_alive(), "the nemesis did not stop"

    def heal(self) -> None:
        """Resume every paused node and restart every killed one."""
        with self._lock:
            for index in sorted(self.paused):
                self._signal(index, signal.SIGCONT)
            self.paused.clear()
            if self.killed:
                self.cluster.start(sorted(self.killed))
                self.killed.clear()
            for home in self.cluster.homes:
                if clock_file(home).exists():
                    clock_file(home).write_text("0\n")
            for fault in self.faults:
                if fault.end_s is None:
                    fault.end_s = self.now()

    def _run(self) -> None:
        if self.faults_max == 0 or not self.kinds:
            return  # one validator cannot lose any; nothing to do but watch
        while not self._stop.wait(self.interval_seconds * (0.5 + self.rng.random())):
            kind = self.rng.choices(self.kinds, [kind_weights[k] for k in self.kinds])[0]
            duration = self.rng.uniform(*self.fault_seconds)
            if kind == "kill":
                self._kill_one(duration)
            elif kind == "pause":
                self._pause_one(duration)
            elif kind == "skew":
                self._skew_one(duration)
            else:
                self._power_cut(duration)

    def _pick(self) -> int:
        return self.rng.randrange(self.validators)

    def _kill_one(self, duration: float) -> None:
        index = self._pick()
        fault = Fault("kill", (index,), self.now())
        with self._lock:
            self.faults.append(fault)
            self.cluster.kill(index, signal.SIGKILL)
            self.killed.add(index)
        self._stop.wait(duration)
        with self._lock:
            if index in self.killed:
                self.cluster.start([index])
                self.killed.discard(index)
            fault.end_s = self.now()

    def _pause_one(self, duration: float) -> None:
        primary = self._primary()
        chose_primary = primary is not None and self.rng.random() < 0.5
        index = primary if chose_primary and primary is not None else self._pick()
        fault = Fault("pause", (index,), self.now(),
                      detail="primary of shard 0" if chose_primary else "")
        with self._lock:
            self.faults.append(fault)
            self._signal(index, signal.SIGSTOP)
            self.paused.add(index)
        self._stop.wait(duration)
        with self._lock:
            if index in self.paused:
                self._signal(index, signal.SIGCONT)
                self.paused.discard(index)
            fault.end_s = self.now()

    def _power_cut(self, duration: float) -> None:
        nodes = tuple(range(self.validators))
        fault = Fault("power", nodes, self.now())
        with self._lock:
            self.faults.append(fault)
            for index in nodes:
                self.cluster.kill(index, signal.SIGKILL)
        self._stop.wait(min(duration, 2.0))
        with self._lock:
            self.cluster.start(list(nodes))
            fault.end_s = self.now()

    def _skew_one(self, duration: float) -> None:
        index = self._pick()
        offset = self.rng.choice((-1, 1)) * self.rng.randint(5, skew_seconds_max)
        fault = Fault("skew", (index,), self.now(), detail=f"{offset:+d} s")
        path = clock_file(self.cluster.homes[index])
        assert path.exists(), "prepare_clock_skew() before a run with skew faults"
        with self._lock:
            self.faults.append(fault)
            path.write_text(f"{offset * 1000}\n")
        self._stop.wait(duration)
        with self._lock:
            path.write_text("0\n")
            fault.end_s = self.now()

    def _signal(self, index: int, signum: int) -> None:
        process = self.cluster.processes.get(index)
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    def _primary(self) -> int | None:
        """The primary of shard 0 as a live, unpaused node sees it, if one answers."""
        for index in range(self.validators):
            if index in self.paused or index not in self.cluster.processes:
                continue
            try:
                with AgoraClient(self.cluster.rpc_urls[index], timeout_seconds=1.0) as client:
                    return int(client.status()["shards"][0]["primary"])
            except (RpcCallError, TransportError, OSError, KeyError):
                continue
        return None
