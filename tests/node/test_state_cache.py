"""The executor's state cache agrees with the store it sits in front of, and stays bounded."""

from __future__ import annotations

import random

from node.node import StateCache
from storage.chain import ChainStore
from storage.memory import MemoryStore
from storage.state_root import next_state_root

CHAIN = "agora-test"


def _finalize(store: ChainStore, height: int, writes: list[tuple[bytes, bytes | None]]) -> None:
    writes = sorted(dict(writes).items())
    root = next_state_root(store.state_root(0), height, writes)
    store.finalize_block(0, height, bytes([height % 256]) * 32, b"", b"", [], [], writes, root)


def test_the_cache_answers_like_the_store_across_finalized_blocks_and_evictions() -> None:
    store = ChainStore(MemoryStore(), CHAIN)
    cache = StateCache(store, 0, entries_max=16)
    rng = random.Random(7)
    keys = [b"k%02d" % index for index in range(40)]
    for height in range(60):
        for key in rng.sample(keys, 10):  # reads before the block: some miss, some hit
            assert cache.get(key) == store.get_state(0, key)
        writes = [(key, None if rng.random() < 0.2 else b"v%d" % height)
                  for key in rng.sample(keys, 6)]
        _finalize(store, height, writes)
        cache.finalized(sorted(dict(writes).items()))
        assert len(cache._entries) <= 16
    for key in keys:
        assert cache.get(key) == store.get_state(0, key)
    assert cache.hits and cache.misses


def test_a_key_read_again_is_served_from_memory_and_a_write_replaces_it() -> None:
    store = ChainStore(MemoryStore(), CHAIN)
    _finalize(store, 0, [(b"a", b"1")])
    cache = StateCache(store, 0, entries_max=4)
    assert cache.get(b"a") == b"1" and cache.get(b"absent") is None
    assert (cache.hits, cache.misses) == (0, 2)
    assert cache.get(b"a") == b"1" and cache.get(b"absent") is None
    assert (cache.hits, cache.misses) == (2, 2)
    _finalize(store, 1, [(b"a", None), (b"absent", b"2")])
    cache.finalized([(b"a", None), (b"absent", b"2")])
    assert cache.get(b"a") is None and cache.get(b"absent") == b"2"
    assert cache.misses == 2


def test_a_zero_sized_cache_reads_every_key_from_the_store() -> None:
    store = ChainStore(MemoryStore(), CHAIN)
    _finalize(store, 0, [(b"a", b"1")])
    cache = StateCache(store, 0, entries_max=0)
    assert [cache.get(b"a") for _ in range(3)] == [b"1"] * 3
    assert cache.misses == 3 and not cache._entries
