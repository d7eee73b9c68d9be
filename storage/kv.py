"""The narrow key-value interface every storage backend offers.

Four operations and nothing else: point ``get``, ordered ``iterate_prefix``, an atomic
``write_batch`` of puts and deletes (optionally synced to disk), and ``snapshot`` (a
consistent read view). ``storage/leveldb.py`` implements it over plyvel and
``storage/memory.py`` in memory for tests; both must behave identically, which
``tests/storage/test_kv_equivalence.py`` checks with Hypothesis.

Semantics both backends guarantee:

* Keys and values are ``bytes``; keys order bytewise (lexicographically, unsigned), so
  big-endian fixed-width integers in keys iterate in numeric order.
* A batch is a sequence of ``(key, value)`` operations where ``value is None`` deletes.
  Operations apply in order (a later operation on the same key wins) and the batch is
  all-or-nothing, also across a crash.
* ``sync=True`` returns only once the batch is durable (LevelDB fsyncs its log; this also
  makes every earlier unsynced batch durable, since the log is append-only).
* An iterator reads an implicit snapshot taken when it is created: writes made while it
  is being consumed are not seen.
* A snapshot sees the store as it was when taken, until it is closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeAlias

BatchOperation: TypeAlias = tuple[bytes, bytes | None]
"""``(key, value)``; ``value is None`` deletes ``key``."""


class KVReader(Protocol):
    """Read operations, shared by a live store and a snapshot."""

    def get(self, key: bytes) -> bytes | None:
        """Return the value stored under ``key``, or None."""
        ...

    def iterate_prefix(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix``, ordered by key.

        ``start`` (inclusive) skips keys below it; ``reverse`` yields highest first.
        """
        ...


class KVSnapshot(KVReader, Protocol):
    """A consistent read view; release it with ``close()`` (or use ``with``)."""

    def close(self) -> None: ...

    def __enter__(self) -> KVSnapshot: ...

    def __exit__(self, *exc_info: object) -> None: ...


class KVStore(KVReader, Protocol):
    """A live store: reads, atomic batches, snapshots."""

    @property
    def location(self) -> str:
        """Where the data lives, for error messages (a path, or ``<memory>``)."""
        ...

    def write_batch(self, operations: Iterable[BatchOperation], *, sync: bool) -> None:
        """Apply ``operations`` atomically, in order; durable on return if ``sync``."""
        ...

    def snapshot(self) -> KVSnapshot: ...

    def close(self) -> None: ...


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """Return the smallest key greater than every key starting with ``prefix``.

    None means "no bound" (the prefix is empty or all 0xff bytes).
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def check_key(key: object) -> bytes:
    """Reject non-bytes keys the way plyvel does, so both backends fail alike."""
    if not isinstance(key, bytes):
        raise TypeError(f"storage keys must be bytes, got {type(key).__name__}")
    return key
