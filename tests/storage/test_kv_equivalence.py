"""Hypothesis: the memory store and the LevelDB store behave identically (and like a
sorted dict) under random batches, prefix iterations and snapshots."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from storage.kv import KVSnapshot
from storage.leveldb import LevelDBStore
from storage.memory import MemoryStore

# Few distinct bytes, including the edges 0x00 and 0xff, so prefixes collide often.
keys = st.lists(st.sampled_from([0x00, 0x01, 0x61, 0xFE, 0xFF]), max_size=3).map(bytes)
values = st.binary(max_size=4)
operations = st.lists(st.tuples(keys, st.none() | values), max_size=8)


class KVEquivalence(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="agora-kv-")
        self.leveldb = LevelDBStore(self.directory)
        self.memory = MemoryStore()
        self.model: dict[bytes, bytes] = {}

    @rule(batch=operations, sync=st.booleans())
    def write_batch(self, batch: list[tuple[bytes, bytes | None]], sync: bool) -> None:
        self.leveldb.write_batch(batch, sync=sync)
        self.memory.write_batch(batch, sync=sync)
        for key, value in batch:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule(key=keys)
    def get(self, key: bytes) -> None:
        assert self.leveldb.get(key) == self.memory.get(key) == self.model.get(key)

    @rule(prefix=keys, start=st.none() | keys, reverse=st.booleans())
    def iterate(self, prefix: bytes, start: bytes | None, reverse: bool) -> None:
        from_leveldb = list(self.leveldb.iterate_prefix(prefix, start=start, reverse=reverse))
        from_memory = list(self.memory.iterate_prefix(prefix, start=start, reverse=reverse))
        expected = sorted(
            (key, value)
            for key, value in self.model.items()
            if key.startswith(prefix) and (start is None or key >= start)
        )
        if reverse:
            expected.reverse()
        assert from_leveldb == from_memory == expected

    @rule(target=snapshots)
    def take_snapshot(self) -> tuple[KVSnapshot, KVSnapshot, dict[bytes, bytes]]:
        return (self.leveldb.snapshot(), self.memory.snapshot(), dict(self.model))

    @rule(snapshot=snapshots, prefix=keys)
    def read_snapshot(
        self, snapshot: tuple[KVSnapshot, KVSnapshot, dict[bytes, bytes]], prefix: bytes
    ) -> None:
        leveldb_view, memory_view, model = snapshot
        expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
        assert list(leveldb_view.iterate_prefix(prefix)) == expected
        assert list(memory_view.iterate_prefix(prefix)) == expected
        assert leveldb_view.get(prefix) == memory_view.get(prefix) == model.get(prefix)

    @invariant()
    def everything_matches(self) -> None:
        assert list(self.leveldb.iterate_prefix(b"")) == list(self.memory.iterate_prefix(b""))

    def teardown(self) -> None:
        self.leveldb.close()
        shutil.rmtree(self.directory, ignore_errors=True)


KVEquivalence.TestCase.settings = settings(max_examples=100, stateful_step_count=25, deadline=None)
TestKVEquivalence = KVEquivalence.TestCase
