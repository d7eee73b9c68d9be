"""An in-memory :class:`~storage.kv.KVStore` with LevelDB's semantics, for tests.

Invariants: ``_keys`` is the sorted list of exactly the keys of ``_values``; a batch is
validated completely before anything changes, so a failing batch changes nothing.
Snapshots and iterators copy what they can see when created (O(size) — fine for tests,
and it makes "sees the store as it was" trivially true). ``sync`` is accepted and
ignored: there is nothing to make durable.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from storage.errors import StorageClosed
from storage.kv import BatchOperation, check_key, prefix_upper_bound


class _SortedView:
    """Sorted keys plus a value map; the read half shared by store and snapshot."""

    __slots__ = ("_keys", "_values", "_closed", "_name")

    def __init__(self, keys: list[bytes], values: dict[bytes, bytes], name: str) -> None:
        self._keys = keys
        self._values = values
        self._closed = False
        self._name = name

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._values.get(check_key(key))

    def iterate_prefix(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        check_key(prefix)
        lower = prefix if start is None or check_key(start) < prefix else start
        upper = prefix_upper_bound(prefix)
        first = bisect.bisect_left(self._keys, lower)
        end = len(self._keys) if upper is None else bisect.bisect_left(self._keys, upper)
        # Copy now: an iterator reads the store as it was when created, like LevelDB's.
        items = [(key, self._values[key]) for key in self._keys[first:end]]
        if reverse:
            items.reverse()
        return iter(items)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosed(f"{self._name} is closed")


class MemorySnapshot(_SortedView):
    """A frozen copy of a :class:`MemoryStore`."""

    __slots__ = ()

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> MemorySnapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MemoryStore(_SortedView):
    """A sorted, atomic, snapshot-capable store held in a dict and a sorted key list."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__([], {}, "memory store")

    @property
    def location(self) -> str:
        return "<memory>"

    def write_batch(self, operations: Iterable[BatchOperation], *, sync: bool) -> None:
        self._check_open()
        batch = list(operations)
        for key, value in batch:
            check_key(key)
            if value is not None and not isinstance(value, bytes):
                raise TypeError(f"storage values must be bytes, got {type(value).__name__}")
        for key, value in batch:
            self._apply(key, value)

    def snapshot(self) -> MemorySnapshot:
        self._check_open()
        return MemorySnapshot(list(self._keys), dict(self._values), "memory snapshot")

    def close(self) -> None:
        self._closed = True

    def reopen(self) -> None:
        """Make a closed store usable again, as reopening a LevelDB dir would (tests)."""
        self._closed = False

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _apply(self, key: bytes, value: bytes | None) -> None:
        present = key in self._values
        if value is None:
            if present:
                del self._values[key]
                del self._keys[bisect.bisect_left(self._keys, key)]
            return
        if not present:
            bisect.insort(self._keys, key)
        self._values[key] = value
