"""The LevelDB backend of :class:`~storage.kv.KVStore`, over plyvel.

One LevelDB database per node data dir; shards are key prefixes chosen by the layer
above (``storage/chain.py``), never separate databases or code paths.

Choices and why:

* ``paranoid_checks=True``: LevelDB refuses to open a database whose files it finds
  corrupt, and we turn that into :class:`StorageCorrupt` (halt), not a silent repair.
* ``verify_checksums=True`` on reads: LevelDB checks its own block CRCs when it reads a
  block from a file. Application-level checksums (``storage/chain.py``) sit on top of this
  and also catch values written wrong by a bug or edited by hand.
* A bloom filter (10 bits/key) makes point lookups of absent keys (tx index, receipts)
  cost no disk read in the common case.
* No block compression (``compression=None``): nearly every byte stored is a hash, a
  signature or a key, which snappy cannot shrink, and compressing every flushed and
  compacted block took 14% of a node's CPU under load (``perf``, bench/RESULTS.md).
  LevelDB marks compression per block, so databases written with snappy still read.
* LevelDB holds a lock file in the dir: a second open (another process, or a forgotten
  handle) fails with :class:`StorageError` naming the dir, instead of corrupting it.

Thread-safety: plyvel DB handles may be used from several threads (LevelDB serialises
writers and groups concurrent synced writes into one fsync).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import plyvel

from storage.errors import StorageClosed, StorageCorrupt, StorageError
from storage.kv import BatchOperation, check_key, prefix_upper_bound

BLOOM_FILTER_BITS_PER_KEY = 10
BLOCK_CACHE_BYTES = 64 * 1024 * 1024
WRITE_BUFFER_BYTES = 16 * 1024 * 1024


def _iterate(
    source: Any, prefix: bytes, start: bytes | None, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    """Iterate a plyvel DB or snapshot over ``prefix`` (plyvel cannot mix prefix+start).

    The plyvel iterator is created here, not on first ``next()``, so its implicit snapshot
    is taken when the caller asks for the iterator, as the KV contract says.
    """
    check_key(prefix)
    lower = prefix if start is None or check_key(start) < prefix else start
    upper = prefix_upper_bound(prefix)
    if reverse:
        # plyvel 1.5.1 drops the start key of a reverse range when it is the only key in
        # the range (see test_kv.py), so bound only the top and stop below ``lower`` here.
        iterator = source.iterator(stop=upper, reverse=True, verify_checksums=True)
        return _take_while_at_least(iterator, lower)
    iterator = source.iterator(start=lower, stop=upper, verify_checksums=True)
    return _drain(iterator)


def _drain(iterator: Any) -> Iterator[tuple[bytes, bytes]]:
    with iterator:
        yield from iterator


def _take_while_at_least(iterator: Any, lower: bytes) -> Iterator[tuple[bytes, bytes]]:
    with iterator:
        for key, value in iterator:
            if key < lower:
                return
            yield key, value


class LevelDBSnapshot:
    """A consistent read view of a :class:`LevelDBStore`."""

    __slots__ = ("_snapshot", "_closed")

    def __init__(self, snapshot: Any) -> None:
        self._snapshot = snapshot
        self._closed = False

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        value: bytes | None = self._snapshot.get(check_key(key), verify_checksums=True)
        return value

    def iterate_prefix(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        return _iterate(self._snapshot, prefix, start, reverse)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._snapshot.close()

    def __enter__(self) -> LevelDBSnapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosed("LevelDB snapshot is closed")


class LevelDBStore:
    """A :class:`~storage.kv.KVStore` over one LevelDB database directory."""

    __slots__ = ("_db", "_path")

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._db = _open_db(self._path)

    @property
    def location(self) -> str:
        return str(self._path)

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._open_db().get(check_key(key), verify_checksums=True)
        return value

    def iterate_prefix(
        self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        return _iterate(self._open_db(), prefix, start, reverse)

    def write_batch(self, operations: Iterable[BatchOperation], *, sync: bool) -> None:
        batch = self._open_db().write_batch(sync=sync)
        for key, value in operations:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        # Nothing reaches the database before write(): an exception above drops the batch.
        batch.write()

    def snapshot(self) -> LevelDBSnapshot:
        return LevelDBSnapshot(self._open_db().snapshot())

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LevelDBStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open_db(self) -> Any:
        if self._db.closed:
            raise StorageClosed(f"LevelDB store at {self._path} is closed")
        return self._db


def _open_db(path: Path) -> Any:
    path.mkdir(parents=True, exist_ok=True)
    try:
        return plyvel.DB(
            str(path),
            create_if_missing=True,
            paranoid_checks=True,
            bloom_filter_bits=BLOOM_FILTER_BITS_PER_KEY,
            lru_cache_size=BLOCK_CACHE_BYTES,
            write_buffer_size=WRITE_BUFFER_BYTES,
            compression=None,
        )
    except plyvel.CorruptionError as error:
        raise StorageCorrupt(f"LevelDB at {path} is corrupt: {error}") from error
    except plyvel.IOError as error:
        raise StorageError(
            f"cannot open LevelDB at {path} (is another process using this data dir?): {error}"
        ) from error
