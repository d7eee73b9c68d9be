from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.kv import KVStore
from storage.leveldb import LevelDBStore
from storage.memory import MemoryStore


@pytest.fixture(params=["memory", "leveldb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    store: KVStore = MemoryStore() if request.param == "memory" else LevelDBStore(tmp_path / "db")
    yield store
    store.close()
