"""The KV contract of storage/kv.py, run against both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.errors import StorageClosed
from storage.kv import KVStore, prefix_upper_bound


def test_get_returns_none_for_absent_key(kv: KVStore) -> None:
    assert kv.get(b"absent") is None


def test_batch_puts_and_deletes_apply_in_order(kv: KVStore) -> None:
    kv.write_batch([(b"a", b"1"), (b"b", b"2"), (b"a", None), (b"b", b"3")], sync=True)
    assert kv.get(b"a") is None
    assert kv.get(b"b") == b"3"


def test_empty_value_is_stored_not_deleted(kv: KVStore) -> None:
    kv.write_batch([(b"a", b"")], sync=False)
    assert kv.get(b"a") == b""


def test_prefix_iteration_is_ordered_bytewise_and_bounded(kv: KVStore) -> None:
    keys = [b"p\xff", b"p\x00", b"p", b"q", b"o\xff", b"p\x01\x02", b"p\xff\xff"]
    kv.write_batch([(key, key) for key in keys], sync=False)
    assert [key for key, _ in kv.iterate_prefix(b"p")] == [
        b"p",
        b"p\x00",
        b"p\x01\x02",
        b"p\xff",
        b"p\xff\xff",
    ]
    assert [key for key, _ in kv.iterate_prefix(b"p\xff")] == [b"p\xff", b"p\xff\xff"]
    assert [key for key, _ in kv.iterate_prefix(b"")] == sorted(keys)


def test_prefix_iteration_honours_start_and_reverse(kv: KVStore) -> None:
    kv.write_batch([(b"k%d" % i, b"") for i in range(5)] + [(b"z", b"")], sync=False)
    assert [k for k, _ in kv.iterate_prefix(b"k", start=b"k2")] == [b"k2", b"k3", b"k4"]
    assert [k for k, _ in kv.iterate_prefix(b"k", reverse=True)][:2] == [b"k4", b"k3"]
    assert [k for k, _ in kv.iterate_prefix(b"k", start=b"k3", reverse=True)] == [b"k4", b"k3"]
    assert [k for k, _ in kv.iterate_prefix(b"k", start=b"a")] == [b"k%d" % i for i in range(5)]


def test_iterator_does_not_see_writes_made_while_it_is_consumed(kv: KVStore) -> None:
    kv.write_batch([(b"k1", b"old"), (b"k2", b"old")], sync=False)
    iterator = kv.iterate_prefix(b"k")
    first = next(iterator)
    kv.write_batch([(b"k2", b"new"), (b"k3", b"new")], sync=False)
    assert [first, *iterator] == [(b"k1", b"old"), (b"k2", b"old")]


def test_snapshot_sees_the_store_as_it_was(kv: KVStore) -> None:
    kv.write_batch([(b"a", b"1"), (b"b", b"1")], sync=False)
    with kv.snapshot() as snapshot:
        kv.write_batch([(b"a", b"2"), (b"b", None), (b"c", b"2")], sync=False)
        assert snapshot.get(b"a") == b"1"
        assert list(snapshot.iterate_prefix(b"")) == [(b"a", b"1"), (b"b", b"1")]
    assert list(kv.iterate_prefix(b"")) == [(b"a", b"2"), (b"c", b"2")]
    with pytest.raises(StorageClosed):
        snapshot.get(b"a")


def test_non_bytes_key_is_rejected_and_batch_changes_nothing(kv: KVStore) -> None:
    with pytest.raises(TypeError):
        kv.write_batch([(b"a", b"1"), ("b", b"2")], sync=False)  # type: ignore[list-item]
    assert kv.get(b"a") is None


def test_closed_store_refuses_use(kv: KVStore) -> None:
    kv.close()
    with pytest.raises(StorageClosed):
        kv.get(b"a")
    with pytest.raises(StorageClosed):
        kv.write_batch([(b"a", b"1")], sync=False)


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [(b"", None), (b"\xff\xff", None), (b"a", b"b"), (b"a\xff", b"b"), (b"\x00\xff\xff", b"\x01")],
)
def test_prefix_upper_bound(prefix: bytes, bound: bytes | None) -> None:
    assert prefix_upper_bound(prefix) == bound


def test_reverse_iteration_from_a_start_without_upper_bound(kv: KVStore) -> None:
    # Regression (found by test_kv_equivalence): plyvel drops keys in this case.
    kv.write_batch([(b"\x00", b""), (b"\x01", b""), (b"\xff\xff", b"")], sync=False)
    assert [k for k, _ in kv.iterate_prefix(b"", start=b"\x00", reverse=True)] == [
        b"\xff\xff",
        b"\x01",
        b"\x00",
    ]
    assert [k for k, _ in kv.iterate_prefix(b"\xff", reverse=True)] == [b"\xff\xff"]


def test_reverse_iteration_of_a_range_holding_only_its_start_key(kv: KVStore) -> None:
    # Regression (found by test_kv_equivalence): plyvel 1.5.1 returns nothing here.
    kv.write_batch([(b"a", b""), (b"c", b""), (b"e", b"")], sync=False)
    assert [k for k, _ in kv.iterate_prefix(b"c", reverse=True)] == [b"c"]
    assert [k for k, _ in kv.iterate_prefix(b"", start=b"e", reverse=True)] == [b"e"]


def test_iterator_reads_the_store_as_of_its_creation_not_its_first_use(kv: KVStore) -> None:
    kv.write_batch([(b"k1", b"old")], sync=False)
    forward = kv.iterate_prefix(b"k")
    backward = kv.iterate_prefix(b"k", reverse=True)
    kv.write_batch([(b"k1", None), (b"k2", b"new")], sync=False)
    assert list(forward) == list(backward) == [(b"k1", b"old")]


def test_a_leveldb_written_with_snappy_compression_still_opens_and_reads(
        tmp_path: Path) -> None:
    """Stores of earlier versions compressed their blocks; ours no longer do."""
    import plyvel

    from storage.leveldb import LevelDBStore

    old = plyvel.DB(str(tmp_path / "db"), create_if_missing=True, compression="snappy")
    for index in range(5000):
        old.put(b"k%05d" % index, b"old" * 30)
    old.compact_range()
    old.close()
    store = LevelDBStore(tmp_path / "db")
    try:
        store.write_batch([(b"k%05d" % index, b"new") for index in range(0, 5000, 2)],
                          sync=True)
        store._open_db().compact_range()  # rewrites the old blocks, uncompressed now
        assert store.get(b"k00001") == b"old" * 30 and store.get(b"k00002") == b"new"
    finally:
        store.close()
