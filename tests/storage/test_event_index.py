"""The event index: written in the block's batch, read with bounded scans, removed with a
stale block."""

from __future__ import annotations

from storage.chain import ChainStore, _event_operations
from storage.kv import KVStore
from storage.memory import MemoryStore
from storage.state_root import next_state_root
from tests.storage.blocks import make_block

CHAIN_ID = "agora-test"
TOKEN, MARKET = b"\x01" * 32, b"\x02" * 32


def _events_of(height: int) -> list[tuple[int, int, bytes, str]]:
    """Two txs per block: tx 0 emits Transfer then Approval on TOKEN, tx 1 Listed on
    MARKET (only on even heights)."""
    events = [(0, 0, TOKEN, "Transfer"), (0, 1, TOKEN, "Approval")]
    if height % 2 == 0:
        events.append((1, 0, MARKET, "Listed"))
    return events


def _store(kv: KVStore, heights: int) -> ChainStore:
    store = ChainStore(kv, CHAIN_ID)
    for height in range(heights + 1):
        block = make_block(0, height, tx_count=2)
        root = next_state_root(store.state_root(0), height, block.state_writes)
        store.finalize_block(0, height, block.block_hash, block.block_bytes,
                             block.certificate_bytes, block.txs, block.receipts,
                             block.state_writes, root,
                             events=_events_of(height) if height else ())
    return store


def _scan(store: ChainStore, **query: object) -> list[tuple[int, int, int, str]]:
    defaults: dict[str, object] = {"contract": None, "name": None, "from_height": 0,
                                   "to_height": 2**63 - 1, "after": None, "limit": 1000,
                                   "scan_max": 1000}
    page = store.scan_events(0, **{**defaults, **query})  # type: ignore[arg-type]
    return [(*event.position, event.name) for event in page.events]


def test_scans_by_contract_by_name_and_by_shard_in_height_order(kv: KVStore) -> None:
    store = _store(kv, 4)
    store.check_invariants()
    assert _scan(store, contract=TOKEN, name="Approval") == [
        (height, 0, 1, "Approval") for height in range(1, 5)]
    assert _scan(store, contract=TOKEN, from_height=2, to_height=3) == [
        (2, 0, 0, "Transfer"), (2, 0, 1, "Approval"), (3, 0, 0, "Transfer"),
        (3, 0, 1, "Approval")]
    assert _scan(store, contract=MARKET) == [(2, 1, 0, "Listed"), (4, 1, 0, "Listed")]
    everything = _scan(store)
    assert len(everything) == 10 and everything == sorted(everything)
    assert _scan(store, name="Listed") == [(2, 1, 0, "Listed"), (4, 1, 0, "Listed")]
    assert _scan(store, contract=b"\x03" * 32) == []


def test_pages_resume_after_the_last_position_without_gap_or_duplicate(kv: KVStore) -> None:
    store = _store(kv, 6)
    for contract in (TOKEN, None):
        expected = _scan(store, contract=contract)
        collected: list[tuple[int, int, int, str]] = []
        after = None
        while True:
            page = store.scan_events(0, contract=contract, name=None, from_height=0,
                                     to_height=100, after=after, limit=3, scan_max=3)
            collected += [(*event.position, event.name) for event in page.events]
            assert len(page.events) <= 3
            if page.resume_after is None:
                break
            after = page.resume_after
        assert collected == expected


def test_a_scan_stops_at_its_budget_even_when_nothing_matches(kv: KVStore) -> None:
    store = _store(kv, 6)
    page = store.scan_events(0, contract=None, name="Nothing", from_height=0, to_height=100,
                             after=None, limit=1, scan_max=4)
    assert page.events == () and page.resume_after is not None


def test_reads_are_gated_by_the_finalized_height() -> None:
    kv = MemoryStore()
    store = _store(kv, 2)
    # A writer that left height 3's index without finalizing it (reconcile removes it).
    kv.write_batch(_event_operations(0, 3, _events_of(3)), sync=True)
    assert all(position[0] <= 2 for position in _scan(store))
    assert store.get_block_events(0, 3) == ()


def test_event_index_of_a_block_above_the_marker_is_removed_on_open() -> None:
    from tests.storage.test_chain import _unfinalized_block_operations

    kv = MemoryStore()
    store = _store(kv, 2)
    kv.write_batch(_unfinalized_block_operations(0, 3) + _event_operations(
        0, 3, [(0, 0, b"\x09" * 32, "Ghost")]), sync=True)
    ChainStore(kv, CHAIN_ID)
    assert not [key for key, _ in kv.iterate_prefix(b"")
                if key.startswith((b"e", b"n")) and b"\x09" * 32 in key]
    assert kv.get(b"v" + (0).to_bytes(4, "big") + (3).to_bytes(8, "big")) is None
