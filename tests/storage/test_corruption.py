"""Values damaged behind the store's back (raw plyvel) are refused with clear messages."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from storage.chain import ChainStore, _block_key, _receipts_key
from storage.errors import StorageCorrupt
from tests.storage.blocks import finalize_next

CHAIN_ID = "agora-test"
MARKER_KEY_SHARD_0 = b"f" + (0).to_bytes(4, "big")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A LevelDB chain store with shard 0 finalized up to height 4, closed."""
    path = tmp_path / "db"
    with ChainStore.open(path, CHAIN_ID) as store:
        for _ in range(5):
            finalize_next(store, shard=0)
    return path


def _flip_last_byte(path: Path, key: bytes) -> None:
    db = plyvel.DB(str(path))
    try:
        value = db.get(key)
        assert value is not None
        db.put(key, value[:-1] + bytes([value[-1] ^ 0x01]), sync=True)
    finally:
        db.close()


def _raw(path: Path, action: str, key: bytes, value: bytes | None = None) -> bytes | None:
    db = plyvel.DB(str(path))
    try:
        if action == "get":
            result: bytes | None = db.get(key)
            return result
        if action == "delete":
            db.delete(key, sync=True)
        else:
            assert value is not None
            db.put(key, value, sync=True)
        return None
    finally:
        db.close()


def test_open_refuses_a_damaged_marker_block(data_dir: Path) -> None:
    _flip_last_byte(data_dir, _block_key(0, 4))
    with pytest.raises(StorageCorrupt, match="shard 0 height 4 block: checksum mismatch"):
        ChainStore.open(data_dir, CHAIN_ID)


def test_reading_a_damaged_older_block_refuses_naming_shard_and_height(data_dir: Path) -> None:
    _flip_last_byte(data_dir, _block_key(0, 1))
    with ChainStore.open(data_dir, CHAIN_ID) as store:
        assert store.get_block(0, 2) is not None
        with pytest.raises(StorageCorrupt, match="shard 0 height 1 block: checksum mismatch"):
            store.get_block(0, 1)
        with pytest.raises(StorageCorrupt, match="shard 0 height 1"):
            store.check_invariants()


def test_a_block_value_moved_to_another_height_is_refused(data_dir: Path) -> None:
    other = _raw(data_dir, "get", _block_key(0, 1))
    _raw(data_dir, "put", _block_key(0, 2), other)
    with ChainStore.open(data_dir, CHAIN_ID) as store:
        with pytest.raises(StorageCorrupt, match="shard 0 height 2 block: checksum mismatch"):
            store.get_block(0, 2)


def test_open_refuses_a_marker_whose_block_is_missing(data_dir: Path) -> None:
    _raw(data_dir, "delete", _block_key(0, 4))
    with pytest.raises(StorageCorrupt, match="shard 0 height 4: .*block is missing"):
        ChainStore.open(data_dir, CHAIN_ID)


def test_open_refuses_a_damaged_marker(data_dir: Path) -> None:
    _flip_last_byte(data_dir, MARKER_KEY_SHARD_0)
    with pytest.raises(StorageCorrupt, match="shard 0 finalized marker: checksum mismatch"):
        ChainStore.open(data_dir, CHAIN_ID)


def test_reading_a_damaged_receipt_refuses_naming_the_tx(data_dir: Path) -> None:
    with ChainStore.open(data_dir, CHAIN_ID) as store:
        block = store.get_block(0, 3)
        assert block is not None
        tx_hash = block.txs[0][0]
    _flip_last_byte(data_dir, _receipts_key(0, 3))
    with ChainStore.open(data_dir, CHAIN_ID) as store:
        with pytest.raises(StorageCorrupt, match=f"receipt of tx {tx_hash.hex()}"):
            store.get_receipt(tx_hash)


def test_a_damaged_consensus_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with ChainStore.open(path, CHAIN_ID) as store:
        store.append_records(2, [b"prepare", b"commit"])
    _flip_last_byte(path, b"w" + (2).to_bytes(4, "big") + (1).to_bytes(8, "big"))
    with ChainStore.open(path, CHAIN_ID) as store:
        with pytest.raises(StorageCorrupt, match="shard 2 consensus record 1"):
            store.load_records(2)
