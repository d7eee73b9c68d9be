"""The node persists compiled contract code in its LevelDB (vm.contract.CodeStore), so a
compile-cache miss after a restart is a read; a damaged entry reads as absent (the VM then
compiles the source again), never as code."""

from __future__ import annotations

from pathlib import Path

import vm
from node.node import _CodeStore
from storage.chain import ChainStore
from vm.contract import ContractCache
from vm.state import BlockContext, DictState

SOURCE = '''
@export
def init():
    pass

@view
def answer() -> int:
    return 42
'''


def _open(path: Path) -> ChainStore:
    return ChainStore.open(path, "code-test")


def test_compiled_code_survives_a_restart_and_gives_the_same_outcome(tmp_path: Path) -> None:
    state = DictState()
    address, ctx = b"\x11" * 32, BlockContext(b"\x22" * 32, 1, 1, b"\x33" * 32)
    store = _open(tmp_path / "db")
    try:
        first = ContractCache(code_store=_CodeStore(store))
        deployed = vm.deploy(state, SOURCE, address, ctx, 2_000_000, {}, cache=first)
        assert deployed.ok, deployed
        state.apply(deployed.writes)
        warm = vm.query(state, address, "answer", {}, ctx, 1_000_000, cache=first)
    finally:
        store.close()
    store = _open(tmp_path / "db")  # a restart: an empty cache over the same LevelDB
    try:
        cold = ContractCache(code_store=_CodeStore(store))
        again = vm.query(state, address, "answer", {}, ctx, 1_000_000, cache=cold)
        assert (again.ok, again.return_data, again.gas_used) == \
            (warm.ok, warm.return_data, warm.gas_used)
        assert any(True for _ in store._kv.iterate_prefix(b"k"))  # persisted, not recompiled
    finally:
        store.close()


def test_a_damaged_code_entry_reads_as_absent(tmp_path: Path) -> None:
    store = _open(tmp_path / "db")
    try:
        code = _CodeStore(store)
        code.put(b"some source hash", b"compiled bytes")
        assert code.get(b"some source hash") == b"compiled bytes"
        key = next(key for key, _ in store._kv.iterate_prefix(b"k"))
        store._kv.write_batch([(key, b"\x00" * 40)], sync=True)
        assert code.get(b"some source hash") is None
    finally:
        store.close()
