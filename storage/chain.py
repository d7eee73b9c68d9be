"""ChainStore: a node's blocks, indexes, receipts, per-shard state and consensus records.

The store works on already-encoded bytes plus the few fields it indexes by; it never
imports ``consensus/`` (it sits below it). One store per node data dir; every shard the
node hosts lives in it under key prefixes, through the same code path.

Key layout (``u32``/``u64`` = big-endian unsigned, so keys iterate in numeric order;
``hash`` = 32-byte SHA-256 digest; *sealed* = ``SHA256(key || payload) || payload``)::

    m                              -> sealed msgpack [schema_version, chain_id]
    b | shard u32 | height u64     -> sealed msgpack [block_hash, block_bytes,
                                        certificate_bytes, [[tx_hash, position], ...]]
    h | block_hash                 -> shard u32 | height u64
    t | tx_hash                    -> shard u32 | height u64 | position u32
    r | shard u32 | height u64     -> sealed msgpack [[position, receipt_bytes], ...]
    s | shard u32 | state_key      -> state value (raw)
    f | shard u32                  -> sealed msgpack [height, block_hash, state_root]
    w | shard u32 | sequence u64   -> sealed consensus record (opaque)
    p | shard u32                  -> u64 lowest sequence still kept (the prune floor)
    c | shard u32                  -> sealed stable checkpoint (opaque)
    x | shard u32 | height u64     -> sealed msgpack [state_root, receipts_root] after height
    a | shard u32                  -> sealed msgpack [height, reason]: the shard halted on
                                        a node fault executing that height (node/node.py)
    v | shard u32 | height u64     -> sealed msgpack [[tx_pos, event_pos, contract, name], ...]
                                      (the block's events, in order; only if it has any)
    e | shard u32 | u8 len | contract | height u64 | tx_pos u32 | event_pos u32
                                   -> event name (utf-8)
    n | shard u32 | u8 len | contract | u16 len | name utf-8 | height u64 | tx_pos u32 |
        event_pos u32              -> b""

The event index (``v``, ``e``, ``n``) is written in the block's batch from the
``events`` argument of ``finalize_block``; an event's data stays in its receipt
(``r|shard|height``), so the index keys are pointers and cost a few dozen bytes each.
``e`` answers "a contract's events by height", ``n`` "a contract's events of one name by
height", ``v`` "every event of a shard by height" and lets a stale block's index entries
be found and deleted. Blocks finalized by a build without the index have no entries
(additive keys: the schema version did not change).

Invariants (checked by ``check_invariants``; the cheap ones on open):

* The *finalized marker* ``f|shard`` names the highest finalized height. Blocks
  ``GENESIS_HEIGHT..marker`` are all present; nothing visible lies above it. A block, its
  indexes, receipts, state writes and the marker are written in ONE synced batch by
  ``finalize_block``, so a crash leaves either all of a height or none of it.
* On open, blocks above a marker (which only a foreign writer or a future non-atomic path
  could leave) are deleted with the index entries and receipts that point at them, and the
  marker's block must exist, pass its checksum and carry the marker's block hash.
* Reads are gated by the marker: a tx, receipt or block hash that points above it is
  reported as absent.
* Every sealed value carries a SHA-256 checksum over key and payload, so a damaged value,
  or a value moved to another key, raises :class:`StorageCorrupt` naming what it was.
  Block records are verified on every read; the index entries are small fixed-width
  pointers, checked by the block read they lead to. State values are not sealed (cost per
  write; the state root covers what was written, a Merkle tree will cover what is read —
  later issue).
* Record sequences per shard only grow, also across pruning and restarts (``p|shard``).
* The state root follows ``storage/state_root.py``; ``finalize_block`` recomputes it and
  asserts it equals the caller's (pair assertion with the executor).

A tx hash names one tx in the whole node (all shards): the executor's replay check
(``get_tx_location``) guarantees that before it finalizes, so ``finalize_block`` does not
pay a lookup per tx to re-check; ``check_invariants`` would find an overwritten entry.

Heights start at ``GENESIS_HEIGHT`` = 0: a shard's genesis (initial balances, templates)
is finalized as height 0 with its write set, so every state change goes through one path.

Concurrency: one writer per shard (that shard's executor / replica task); different
shards may write from different threads at once, and reads may run concurrently with
writes. ``finalize_block``, ``append_records`` and ``put_stable_checkpoint`` fsync, so
trio callers run them through ``trio.to_thread.run_sync`` with a limiter —
``storage/aio.py`` does exactly that. Point reads (state, tx index, receipts) cost about
10-30 us (bench/storage_bench.py) and may be called directly from trio tasks; reading a
large block (checksum over the whole block, ~1-4 ms for 1000 txs) goes through a thread
too (``AsyncChainStore.get_block``).

Not here yet: pruning old blocks, a Merkle tree over the state (proofs, state sync),
schema migrations (a new ``SCHEMA_VERSION`` refuses to open an old store).
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from storage.errors import StorageCorrupt, StorageIncompatible
from storage.kv import BatchOperation, KVReader, KVSnapshot, KVStore
from storage.state_root import DIGEST_BYTES, EMPTY_STATE_ROOT, StateWrite, next_state_root

logger = logging.getLogger(__name__)

# 2: receipts stored per block under r|shard|height (were one key per tx hash).
# 3 (2026-12-08): the WAL's prepared records carry the block and a new record kind exists,
# PRE-PREPAREs are signed without their block, and the event index (v, e, n) and compiled
# code (k) keys were added: a version-2 store is refused, not misread.
SCHEMA_VERSION = 3
GENESIS_HEIGHT = 0
SHARD_MAX = 2**32 - 1
HEIGHT_MAX = 2**64 - 1
POSITION_MAX = 2**32 - 1

_TAG_META = b"m"
_TAG_BLOCK = b"b"
_TAG_BLOCK_HASH = b"h"
_TAG_TX = b"t"
_TAG_RECEIPT = b"r"
_TAG_STATE = b"s"
_TAG_FINALIZED = b"f"
_TAG_RECORD = b"w"
_TAG_RECORD_FLOOR = b"p"
_TAG_CHECKPOINT = b"c"
_TAG_ROOTS = b"x"
_TAG_HALT = b"a"
_TAG_CODE = b"k"  # node-local compiled contract code (vm.contract.CodeStore), not chain data
_TAG_BLOCK_EVENTS = b"v"
_TAG_EVENT = b"e"
_TAG_EVENT_NAME = b"n"
CONTRACT_BYTES_MAX = 255
EVENT_NAME_BYTES_MAX = 2**16 - 1

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_SHARD_HEIGHT = struct.Struct(">IQ")
_TX_LOCATION = struct.Struct(">IQI")
_EVENT_POSITION = struct.Struct(">QII")  # height, tx position, event position
_U16 = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class FinalizedHeight:
    """A shard's finalized marker: the last finalized height, its block hash, state root."""

    height: int
    block_hash: bytes
    state_root: bytes


@dataclass(frozen=True, slots=True)
class BlockLocation:
    shard: int
    height: int


@dataclass(frozen=True, slots=True)
class TxLocation:
    shard: int
    height: int
    position: int


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A finalized block as stored: encoded block and certificate, plus its tx hashes."""

    shard: int
    height: int
    block_hash: bytes
    block_bytes: bytes
    certificate_bytes: bytes
    txs: tuple[tuple[bytes, int], ...]  # (tx_hash, position) in the order given


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """One event as the index knows it: where it is and what it is (data is in the receipt)."""

    shard: int
    height: int
    tx_position: int
    event_position: int
    contract: bytes
    name: str

    @property
    def position(self) -> tuple[int, int, int]:
        return (self.height, self.tx_position, self.event_position)


@dataclass(frozen=True, slots=True)
class EventPage:
    """What one bounded index scan found. ``resume_after`` is the position (height, tx,
    event) to continue after when the scan stopped at ``limit`` or ``scan_max`` before
    reaching ``to_height``; None when the range is exhausted."""

    events: tuple[IndexedEvent, ...]
    resume_after: tuple[int, int, int] | None


# Keys -------------------------------------------------------------------------------------


def _shard_prefix(tag: bytes, shard: int) -> bytes:
    return tag + _U32.pack(shard)


def _receipts_key(shard: int, height: int) -> bytes:
    return _TAG_RECEIPT + _SHARD_HEIGHT.pack(shard, height)


def _block_key(shard: int, height: int) -> bytes:
    return _TAG_BLOCK + _SHARD_HEIGHT.pack(shard, height)


def _roots_key(shard: int, height: int) -> bytes:
    return _TAG_ROOTS + _SHARD_HEIGHT.pack(shard, height)


def _block_events_key(shard: int, height: int) -> bytes:
    return _TAG_BLOCK_EVENTS + _SHARD_HEIGHT.pack(shard, height)


def _contract_part(contract: bytes) -> bytes:
    return bytes((len(contract),)) + contract


def _name_part(name: str) -> bytes:
    encoded = name.encode("utf-8")
    return _U16.pack(len(encoded)) + encoded


def _event_prefix(shard: int, contract: bytes, name: str | None) -> bytes:
    if name is None:
        return _shard_prefix(_TAG_EVENT, shard) + _contract_part(contract)
    return _shard_prefix(_TAG_EVENT_NAME, shard) + _contract_part(contract) + _name_part(name)


def _event_index_entries(shard: int, height: int,
                         events: Sequence[tuple[int, int, bytes, str]]
                         ) -> list[tuple[bytes, bytes]]:
    """The ``e`` (value: the name) and ``n`` (value: empty) entries of a block's events.
    Prefixes are built once per (contract, name) of the block: a block of 2,000 token
    transfers has one."""
    entries = []
    prefixes: dict[tuple[bytes, str], tuple[bytes, bytes, bytes]] = {}
    pack = _EVENT_POSITION.pack
    for tx_position, event_position, contract, name in events:
        cached = prefixes.get((contract, name))
        if cached is None:
            assert type(contract) is bytes and len(contract) <= CONTRACT_BYTES_MAX
            assert type(name) is str and len(name.encode()) <= EVENT_NAME_BYTES_MAX
            cached = (_event_prefix(shard, contract, None), _event_prefix(shard, contract, name),
                      name.encode())
            prefixes[(contract, name)] = cached
        position = pack(height, tx_position, event_position)  # struct.error if out of range
        entries.append((cached[0] + position, cached[2]))
        entries.append((cached[1] + position, b""))
    return entries


def _record_key(shard: int, sequence: int) -> bytes:
    return _TAG_RECORD + _U32.pack(shard) + _U64.pack(sequence)


def _height_of_block_key(key: bytes) -> int:
    return int(_U64.unpack_from(key, 1 + _U32.size)[0])


def _sequence_of_record_key(key: bytes) -> int:
    return int(_U64.unpack_from(key, 1 + _U32.size)[0])


# Sealed values ----------------------------------------------------------------------------


def _seal(key: bytes, payload: bytes) -> bytes:
    """Prefix a checksum binding ``payload`` to ``key`` (catches damage and misplacement)."""
    hasher = hashlib.sha256(key)
    hasher.update(payload)
    return hasher.digest() + payload


def _unseal(key: bytes, value: bytes, what: str, location: str) -> bytes:
    checksum, payload = value[:DIGEST_BYTES], value[DIGEST_BYTES:]
    hasher = hashlib.sha256(key)
    hasher.update(payload)
    if len(checksum) != DIGEST_BYTES or hasher.digest() != checksum:
        raise StorageCorrupt(
            f"{what}: checksum mismatch in store at {location} (key {key.hex()}): "
            "the stored value is damaged or was not written by this storage layer"
        )
    return payload


def _unpack(payload: bytes, what: str, location: str) -> Any:
    try:
        return msgpack.unpackb(payload, use_list=True, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException) as error:
        raise StorageCorrupt(
            f"{what}: undecodable value in store at {location}: {error}"
        ) from error


def _pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def _check_shard(shard: int) -> None:
    assert 0 <= shard <= SHARD_MAX, f"shard {shard} out of range 0..{SHARD_MAX}"


def _check_digest(digest: bytes, what: str) -> None:
    assert isinstance(digest, bytes) and len(digest) == DIGEST_BYTES, (
        f"{what} must be a {DIGEST_BYTES}-byte digest"
    )


# Reading ----------------------------------------------------------------------------------


class ChainReader:
    """Read access to a chain store, over a live KV store or a snapshot of one.

    Every read is gated by the shards' finalized markers in ``finalized``.
    """

    def __init__(
        self, kv: KVReader, location: str, finalized: Mapping[int, FinalizedHeight]
    ) -> None:
        self._reader = kv
        self._location = location
        self._finalized = finalized

    def finalized(self, shard: int) -> FinalizedHeight | None:
        """The shard's finalized marker, or None before its genesis is finalized."""
        return self._finalized.get(shard)

    def last_height(self, shard: int) -> int:
        """The shard's last finalized height (``GENESIS_HEIGHT - 1`` if none)."""
        marker = self._finalized.get(shard)
        return GENESIS_HEIGHT - 1 if marker is None else marker.height

    def state_root(self, shard: int) -> bytes:
        """The shard's state root after its last finalized block (or the empty root)."""
        marker = self._finalized.get(shard)
        return EMPTY_STATE_ROOT if marker is None else marker.state_root

    def shards(self) -> list[int]:
        """The shards that have finalized at least their genesis, ascending."""
        return sorted(self._finalized)

    def get_block(self, shard: int, height: int) -> StoredBlock | None:
        """The finalized block at (shard, height), checksum-verified, or None."""
        _check_shard(shard)
        if not GENESIS_HEIGHT <= height <= self.last_height(shard):
            return None
        block = self._read_block_record(shard, height)
        if block is None:
            raise StorageCorrupt(
                f"shard {shard} height {height}: block missing below the finalized height "
                f"{self.last_height(shard)} in store at {self._location}"
            )
        return block

    def iterate_blocks(
        self, shard: int, start_height: int = GENESIS_HEIGHT
    ) -> Iterator[StoredBlock]:
        """Yield the shard's finalized blocks from ``start_height`` up, in height order
        (catch-up serving); each is checksum-verified."""
        _check_shard(shard)
        last = self.last_height(shard)
        if start_height > last:
            return
        start_key = _block_key(shard, max(start_height, GENESIS_HEIGHT))
        expected = max(start_height, GENESIS_HEIGHT)
        for key, raw in self._reader.iterate_prefix(
            _shard_prefix(_TAG_BLOCK, shard), start=start_key
        ):
            height = _height_of_block_key(key)
            if height > last:
                return
            if height != expected:
                raise StorageCorrupt(
                    f"shard {shard} height {expected}: block missing below the finalized "
                    f"height {last} in store at {self._location}"
                )
            yield _decode_block(key, raw, shard, height, self._location)
            expected += 1
        if expected <= last:
            raise StorageCorrupt(
                f"shard {shard} height {expected}: block missing below the finalized "
                f"height {last} in store at {self._location}"
            )

    def get_block_location(self, block_hash: bytes) -> BlockLocation | None:
        raw = self._reader.get(_TAG_BLOCK_HASH + block_hash)
        if raw is None:
            return None
        shard, height = _SHARD_HEIGHT.unpack(raw)
        if height > self.last_height(shard):
            return None
        return BlockLocation(shard, height)

    def get_block_by_hash(self, block_hash: bytes) -> StoredBlock | None:
        location = self.get_block_location(block_hash)
        if location is None:
            return None
        block = self.get_block(location.shard, location.height)
        if block is not None and block.block_hash != block_hash:
            raise StorageCorrupt(
                f"shard {location.shard} height {location.height}: block hash index entry "
                f"{block_hash.hex()} points at a block with hash {block.block_hash.hex()}"
            )
        return block

    def get_tx_location(self, tx_hash: bytes) -> TxLocation | None:
        """Where a finalized tx sits: (shard, height, position in block), or None."""
        raw = self._reader.get(_TAG_TX + tx_hash)
        if raw is None:
            return None
        shard, height, position = _TX_LOCATION.unpack(raw)
        if height > self.last_height(shard):
            return None
        return TxLocation(shard, height, position)

    def get_receipt(self, tx_hash: bytes) -> bytes | None:
        """The encoded receipt of a finalized tx, or None.

        Receipts are stored per block (one sequential key per height), not per tx hash:
        keys spread at random over the whole key space made most of LevelDB's compaction
        work, in bursts that stalled every node at once (bench/RESULTS.md)."""
        location = self.get_tx_location(tx_hash)
        if location is None:
            return None
        key = _receipts_key(location.shard, location.height)
        raw = self._reader.get(key)
        if raw is None:
            return None
        what = (f"receipt of tx {tx_hash.hex()} (receipts of shard {location.shard} "
                f"height {location.height})")
        pairs = _unpack(_unseal(key, raw, what, self._location), what, self._location)
        for position, receipt in pairs:
            if position == location.position:
                return bytes(receipt)
        return None

    def get_block_receipts(self, shard: int, height: int) -> dict[int, bytes]:
        """The encoded receipts stored for a finalized block, by tx position."""
        _check_shard(shard)
        if height > self.last_height(shard):
            return {}
        key = _receipts_key(shard, height)
        raw = self._reader.get(key)
        if raw is None:
            return {}
        what = f"receipts of shard {shard} height {height}"
        pairs = _unpack(_unseal(key, raw, what, self._location), what, self._location)
        return {position: bytes(receipt) for position, receipt in pairs}

    def get_block_events(self, shard: int, height: int) -> tuple[IndexedEvent, ...]:
        """The events a finalized block emitted, in block order (from the index)."""
        _check_shard(shard)
        if height > self.last_height(shard):
            return ()
        key = _block_events_key(shard, height)
        raw = self._reader.get(key)
        if raw is None:
            return ()
        what = f"event index of shard {shard} height {height}"
        entries = _unpack(_unseal(key, raw, what, self._location), what, self._location)
        return tuple(IndexedEvent(shard, height, tx, event, bytes(contract), name)
                     for tx, event, contract, name in entries)

    def scan_events(self, shard: int, *, contract: bytes | None, name: str | None,
                    from_height: int, to_height: int,
                    after: tuple[int, int, int] | None, limit: int, scan_max: int
                    ) -> EventPage:
        """Events of ``shard`` in (height, tx, event) order within
        ``from_height..to_height`` (clipped to the finalized height), strictly after
        ``after`` if given, optionally of one ``contract`` and ``name``. Reads at most
        ``scan_max`` index entries and returns at most ``limit`` events."""
        _check_shard(shard)
        assert limit >= 1 and scan_max >= limit
        to_height = min(to_height, self.last_height(shard))
        start = (from_height, 0, 0) if after is None else max(
            (from_height, 0, 0), (after[0], after[1], after[2] + 1))
        if start[0] > to_height:
            return EventPage((), None)
        if contract is None:
            return self._scan_block_events(shard, name, start, to_height, limit, scan_max)
        return self._scan_contract_events(shard, contract, name, start, to_height, limit,
                                          scan_max)

    def _scan_contract_events(self, shard: int, contract: bytes, name: str | None,
                              start: tuple[int, int, int], to_height: int, limit: int,
                              scan_max: int) -> EventPage:
        if len(contract) > CONTRACT_BYTES_MAX:
            return EventPage((), None)
        prefix = _event_prefix(shard, contract, name)
        found: list[IndexedEvent] = []
        scanned = 0
        cut = len(prefix)
        for key, value in self._reader.iterate_prefix(
                prefix, start=prefix + _EVENT_POSITION.pack(*start)):
            height, tx, event = _EVENT_POSITION.unpack(key[cut:])
            if height > to_height:
                break
            scanned += 1
            event_name = name if name is not None else value.decode()
            found.append(IndexedEvent(shard, height, tx, event, contract, event_name))
            if len(found) >= limit or scanned >= scan_max:
                return EventPage(tuple(found), (height, tx, event))
        return EventPage(tuple(found), None)

    def _scan_block_events(self, shard: int, name: str | None, start: tuple[int, int, int],
                           to_height: int, limit: int, scan_max: int) -> EventPage:
        prefix = _shard_prefix(_TAG_BLOCK_EVENTS, shard)
        found: list[IndexedEvent] = []
        scanned = 0
        for key, _ in self._reader.iterate_prefix(prefix, start=_block_events_key(
                shard, start[0])):
            height = _height_of_block_key(key)
            if height > to_height:
                break
            for item in self.get_block_events(shard, height):
                if item.position < start:
                    continue
                scanned += 1
                if name is None or item.name == name:
                    found.append(item)
                if len(found) >= limit or scanned >= scan_max:
                    return EventPage(tuple(found), item.position)
        return EventPage(tuple(found), None)

    def get_state(self, shard: int, key: bytes) -> bytes | None:
        """The shard's current value for ``key``, or None."""
        _check_shard(shard)
        return self._reader.get(_shard_prefix(_TAG_STATE, shard) + key)

    def scan_state(self, shard: int, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Yield the shard's ``(key, value)`` pairs whose key starts with ``prefix``, ordered."""
        _check_shard(shard)
        shard_prefix = _shard_prefix(_TAG_STATE, shard)
        cut = len(shard_prefix)
        for key, value in self._reader.iterate_prefix(shard_prefix + prefix):
            yield key[cut:], value

    def get_roots(self, shard: int, height: int) -> tuple[bytes, bytes] | None:
        """(state root, receipts root) after finalized ``height``, or None."""
        if height > self.last_height(shard):
            return None
        key = _roots_key(shard, height)
        raw = self._reader.get(key)
        if raw is None:
            return None
        location = f"{self._location}: roots of shard {shard} height {height}"
        state_root, receipts_root = _unpack(_unseal(key, raw, "roots", location), "roots",
                                            location)
        return bytes(state_root), bytes(receipts_root)

    def get_code(self, key: bytes) -> bytes | None:
        """Compiled contract code this node cached (``vm.contract.CodeStore``): node-local,
        never hashed or served; a damaged entry reads as absent, so the VM compiles the
        source again (outcomes and gas do not depend on this cache)."""
        full_key = _TAG_CODE + key
        raw = self._reader.get(full_key)
        if raw is None:
            return None
        try:
            return _unseal(full_key, raw, "compiled code", self._location)
        except StorageCorrupt:
            return None

    def get_halt(self, shard: int) -> tuple[int, str] | None:
        """``(height, reason)`` if the shard halted on a node fault (``put_halt``)."""
        _check_shard(shard)
        key = _shard_prefix(_TAG_HALT, shard)
        raw = self._reader.get(key)
        if raw is None:
            return None
        height, reason = _unpack(_unseal(key, raw, f"shard {shard} halt marker",
                                         self._location), "halt marker", self._location)
        return int(height), str(reason)

    def get_stable_checkpoint(self, shard: int) -> bytes | None:
        """The shard's last stable-checkpoint record (opaque), or None."""
        _check_shard(shard)
        key = _shard_prefix(_TAG_CHECKPOINT, shard)
        raw = self._reader.get(key)
        if raw is None:
            return None
        return _unseal(key, raw, f"shard {shard} stable checkpoint", self._location)

    def load_records(self, shard: int) -> list[bytes]:
        """The shard's consensus records, oldest first."""
        return [record for _, record in self.load_record_entries(shard)]

    def load_record_entries(self, shard: int) -> list[tuple[int, bytes]]:
        """The shard's consensus records with their sequence numbers, oldest first."""
        _check_shard(shard)
        entries = []
        for key, raw in self._reader.iterate_prefix(_shard_prefix(_TAG_RECORD, shard)):
            sequence = _sequence_of_record_key(key)
            what = f"shard {shard} consensus record {sequence}"
            entries.append((sequence, _unseal(key, raw, what, self._location)))
        return entries

    def _read_block_record(self, shard: int, height: int) -> StoredBlock | None:
        key = _block_key(shard, height)
        raw = self._reader.get(key)
        if raw is None:
            return None
        return _decode_block(key, raw, shard, height, self._location)


def _decode_block(key: bytes, raw: bytes, shard: int, height: int, location: str) -> StoredBlock:
    what = f"shard {shard} height {height} block"
    fields = _unpack(_unseal(key, raw, what, location), what, location)
    block_hash, block_bytes, certificate_bytes, txs = fields
    return StoredBlock(
        shard=shard,
        height=height,
        block_hash=block_hash,
        block_bytes=block_bytes,
        certificate_bytes=certificate_bytes,
        txs=tuple((tx_hash, position) for tx_hash, position in txs),
    )


class ChainSnapshot(ChainReader):
    """A consistent, read-only view of a chain store; ``close()`` releases it."""

    def __init__(self, snapshot: KVSnapshot, location: str) -> None:
        super().__init__(snapshot, location, _load_markers(snapshot, location))
        self._snapshot = snapshot

    def close(self) -> None:
        self._snapshot.close()

    def __enter__(self) -> ChainSnapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _load_markers(kv: KVReader, location: str) -> dict[int, FinalizedHeight]:
    markers = {}
    for key, raw in kv.iterate_prefix(_TAG_FINALIZED):
        (shard,) = _U32.unpack_from(key, 1)
        what = f"shard {shard} finalized marker"
        height, block_hash, state_root = _unpack(_unseal(key, raw, what, location), what, location)
        markers[shard] = FinalizedHeight(height, block_hash, state_root)
    return markers


# Writing ----------------------------------------------------------------------------------


class ChainStore(ChainReader):
    """A node's chain store: the only writer of its KV store.

    Opening checks the meta key (chain id, schema version) and reconciles every shard's
    blocks with its finalized marker; see the module docstring.
    """

    def __init__(self, kv: KVStore, chain_id: str) -> None:
        self._kv = kv
        self._chain_id = chain_id
        _check_meta(kv, chain_id)
        markers = _load_markers(kv, kv.location)
        for shard in sorted(_shards_with_blocks(kv) | set(markers)):
            _reconcile_shard(kv, shard, markers.get(shard))
        super().__init__(kv, kv.location, markers)
        self._markers = markers
        logger.info(
            "chain_store_opened location=%s chain_id=%s finalized_heights=%s",
            kv.location,
            chain_id,
            {shard: marker.height for shard, marker in sorted(markers.items())},
        )
        self._record_next: dict[int, int] = {}
        self._shard_locks: dict[int, threading.Lock] = {}
        self._shard_locks_guard = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path | str, chain_id: str) -> ChainStore:
        """Open (creating if needed) the LevelDB chain store in ``data_dir``."""
        from storage.leveldb import LevelDBStore  # plyvel only for callers that want it

        kv = LevelDBStore(data_dir)
        try:
            return cls(kv, chain_id)
        except BaseException:
            kv.close()
            raise

    @property
    def chain_id(self) -> str:
        return self._chain_id

    def finalize_block(
        self,
        shard: int,
        height: int,
        block_hash: bytes,
        block_bytes: bytes,
        certificate_bytes: bytes,
        txs: Sequence[tuple[bytes, int]],
        receipts: Sequence[tuple[bytes, bytes]],
        state_writes: Sequence[StateWrite],
        state_root: bytes,
        *,
        receipts_root: bytes = b"",
        events: Sequence[tuple[int, int, bytes, str]] = (),
    ) -> FinalizedHeight:
        """Store a committed, executed block and everything it changed in ONE synced batch.

        ``txs`` are ``(tx_hash, position in block)``; ``receipts`` are
        ``(tx_hash, encoded receipt)`` for some or all of them; ``state_writes`` is the
        block's net write set (``value is None`` deletes); ``state_root`` must equal
        ``next_state_root(previous root, height, state_writes)``. ``events`` are
        ``(tx position, event position, contract, name)`` of the stored receipts' events,
        in block order: they go into the event index.
        """
        _check_shard(shard)
        _check_digest(block_hash, "block hash")
        _check_digest(state_root, "state root")
        assert type(block_bytes) is bytes and type(certificate_bytes) is bytes, (
            "block and certificate must be encoded bytes"
        )
        _check_block_contents(txs, receipts)
        with self._lock(shard):
            last = self.last_height(shard)
            assert height == last + 1, (
                f"shard {shard}: finalize height {height} but last finalized height is {last}"
            )
            expected_root = next_state_root(self.state_root(shard), height, state_writes)
            assert state_root == expected_root, (
                f"shard {shard} height {height}: caller's state root {state_root.hex()} != "
                f"{expected_root.hex()} computed from the write set"
            )
            marker = FinalizedHeight(height, block_hash, state_root)
            operations = _finalize_operations(
                shard, marker, block_bytes, certificate_bytes, txs, receipts, state_writes
            )
            roots_key = _roots_key(shard, height)
            operations.append((roots_key, _seal(roots_key, _pack([state_root, receipts_root]))))
            operations += _event_operations(shard, height, events)
            self._kv.write_batch(operations, sync=True)
            self._markers[shard] = marker
        return marker

    def append_records(self, shard: int, records: Sequence[bytes]) -> range:
        """Durably append consensus records (synced); return their sequence numbers.

        The replica persists what it signs here before sending it.
        """
        _check_shard(shard)
        with self._lock(shard):
            first = self._next_record_sequence(shard)
            operations: list[BatchOperation] = []
            for offset, record in enumerate(records):
                assert isinstance(record, bytes), "a consensus record must be bytes"
                key = _record_key(shard, first + offset)
                operations.append((key, _seal(key, record)))
            if operations:
                self._kv.write_batch(operations, sync=True)
            self._record_next[shard] = first + len(operations)
        return range(first, first + len(operations))

    def prune_records(self, shard: int, keep_from_sequence: int) -> None:
        """Delete the shard's records with sequence < ``keep_from_sequence``.

        Not synced: if a crash loses the prune, the old records come back and the replica
        skips them (they are below its stable checkpoint); the next synced write makes it
        durable anyway, LevelDB's log being append-only.
        """
        _check_shard(shard)
        with self._lock(shard):
            operations = self._prune_operations(shard, keep_from_sequence)
            self._kv.write_batch(operations, sync=False)

    def next_record_sequence(self, shard: int) -> int:
        """The sequence number the shard's next appended record will get."""
        _check_shard(shard)
        with self._lock(shard):
            return self._next_record_sequence(shard)

    def put_stable_checkpoint(
        self, shard: int, checkpoint: bytes, *, prune_records_before: int | None = None
    ) -> None:
        """Durably replace the shard's stable-checkpoint record (synced).

        With ``prune_records_before``, the records below that sequence are deleted in the
        same atomic batch, so the log is never pruned past a checkpoint that was not stored.
        """
        _check_shard(shard)
        key = _shard_prefix(_TAG_CHECKPOINT, shard)
        with self._lock(shard):
            operations: list[BatchOperation] = [(key, _seal(key, checkpoint))]
            if prune_records_before is not None:
                operations += self._prune_operations(shard, prune_records_before)
            self._kv.write_batch(operations, sync=True)

    def put_code(self, key: bytes, data: bytes) -> None:
        """Cache compiled contract code (``get_code``); not synced: losing it costs a
        compile, nothing else."""
        full_key = _TAG_CODE + key
        self._kv.write_batch([(full_key, _seal(full_key, data))], sync=False)

    def put_halt(self, shard: int, height: int, reason: str) -> None:
        """Durably mark the shard halted at ``height`` (synced). Nothing clears it: the
        operator moves the data directory away and the node catches up from its peers."""
        _check_shard(shard)
        key = _shard_prefix(_TAG_HALT, shard)
        with self._lock(shard):
            self._kv.write_batch([(key, _seal(key, _pack([height, reason])))], sync=True)

    def snapshot(self) -> ChainSnapshot:
        """A consistent read view (blocks, state, markers as of now); close it after use."""
        return ChainSnapshot(self._kv.snapshot(), self._kv.location)

    def check_invariants(self) -> None:
        """Full scan of every invariant in the module docstring (slow; tests, tooling)."""
        markers = _load_markers(self._kv, self._kv.location)
        assert markers == self._markers, "cached finalized markers differ from the store"
        for shard in sorted(_shards_with_blocks(self._kv) | set(markers)):
            _check_shard_blocks(self, shard, markers.get(shard))
        for shard in sorted(_shards_under(self._kv, _TAG_RECORD)):
            _check_shard_records(self._kv, shard)

    def close(self) -> None:
        self._kv.close()

    def __enter__(self) -> ChainStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _lock(self, shard: int) -> threading.Lock:
        with self._shard_locks_guard:
            return self._shard_locks.setdefault(shard, threading.Lock())

    def _next_record_sequence(self, shard: int) -> int:
        cached = self._record_next.get(shard)
        if cached is not None:
            return cached
        floor_raw = self._kv.get(_shard_prefix(_TAG_RECORD_FLOOR, shard))
        next_sequence = 0 if floor_raw is None else int(_U64.unpack(floor_raw)[0])
        for key, _ in self._kv.iterate_prefix(_shard_prefix(_TAG_RECORD, shard), reverse=True):
            next_sequence = max(next_sequence, _sequence_of_record_key(key) + 1)
            break
        self._record_next[shard] = next_sequence
        return next_sequence

    def _prune_operations(self, shard: int, keep_from_sequence: int) -> list[BatchOperation]:
        next_sequence = self._next_record_sequence(shard)
        assert 0 <= keep_from_sequence <= next_sequence, (
            f"shard {shard}: cannot keep records from {keep_from_sequence}, "
            f"the next record is {next_sequence}"
        )
        operations: list[BatchOperation] = []
        for key, _ in self._kv.iterate_prefix(_shard_prefix(_TAG_RECORD, shard)):
            if _sequence_of_record_key(key) >= keep_from_sequence:
                break
            operations.append((key, None))
        floor_key = _shard_prefix(_TAG_RECORD_FLOOR, shard)
        floor_raw = self._kv.get(floor_key)
        floor = 0 if floor_raw is None else int(_U64.unpack(floor_raw)[0])
        operations.append((floor_key, _U64.pack(max(floor, keep_from_sequence))))
        return operations


def _check_block_contents(
    txs: Sequence[tuple[bytes, int]], receipts: Sequence[tuple[bytes, bytes]]
) -> None:
    tx_hashes = set()
    positions = set()
    for tx_hash, position in txs:
        _check_digest(tx_hash, "tx hash")
        assert 0 <= position <= POSITION_MAX, f"tx position {position} out of range"
        tx_hashes.add(tx_hash)
        positions.add(position)
    assert len(tx_hashes) == len(txs), "a block lists the same tx hash twice"
    assert len(positions) == len(txs), "a block lists the same tx position twice"
    assert all(type(receipt) is bytes for _, receipt in receipts), "receipts must be bytes"
    receipt_hashes = {tx_hash for tx_hash, _ in receipts}
    assert len(receipt_hashes) == len(receipts), "a block has two receipts for one tx"
    assert receipt_hashes <= tx_hashes, "a receipt names a tx that is not in the block"


def _finalize_operations(
    shard: int,
    marker: FinalizedHeight,
    block_bytes: bytes,
    certificate_bytes: bytes,
    txs: Sequence[tuple[bytes, int]],
    receipts: Sequence[tuple[bytes, bytes]],
    state_writes: Sequence[StateWrite],
) -> list[BatchOperation]:
    height = marker.height
    block_key = _block_key(shard, height)
    record = _pack([marker.block_hash, block_bytes, certificate_bytes, [list(t) for t in txs]])
    operations: list[BatchOperation] = [
        (block_key, _seal(block_key, record)),
        (_TAG_BLOCK_HASH + marker.block_hash, _SHARD_HEIGHT.pack(shard, height)),
    ]
    operations += [
        (_TAG_TX + tx_hash, _TX_LOCATION.pack(shard, height, position)) for tx_hash, position in txs
    ]
    if receipts:
        position_of = dict(txs)
        pairs = sorted([position_of[tx_hash], receipt] for tx_hash, receipt in receipts)
        key = _receipts_key(shard, height)
        operations.append((key, _seal(key, _pack(pairs))))
    state_prefix = _shard_prefix(_TAG_STATE, shard)
    operations += [(state_prefix + key, value) for key, value in state_writes]
    marker_key = _shard_prefix(_TAG_FINALIZED, shard)
    marker_record = _pack([height, marker.block_hash, marker.state_root])
    operations.append((marker_key, _seal(marker_key, marker_record)))
    return operations


def _event_operations(shard: int, height: int, events: Sequence[tuple[int, int, bytes, str]]
                      ) -> list[BatchOperation]:
    if not events:
        return []
    key = _block_events_key(shard, height)
    operations: list[BatchOperation] = [(key, _seal(key, _pack(events)))]
    operations += _event_index_entries(shard, height, events)
    return operations


# Opening: meta and reconciliation ---------------------------------------------------------


def _check_meta(kv: KVStore, chain_id: str) -> None:
    key = _TAG_META
    raw = kv.get(key)
    if raw is None:
        if next(kv.iterate_prefix(b""), None) is not None:
            raise StorageCorrupt(
                f"store at {kv.location} holds data but no meta key: "
                "it is not an Agora chain store, or it is damaged"
            )
        kv.write_batch([(key, _seal(key, _pack([SCHEMA_VERSION, chain_id])))], sync=True)
        return
    what = "store meta (schema version, chain id)"
    schema_version, stored_chain_id = _unpack(
        _unseal(key, raw, what, kv.location), what, kv.location
    )
    if schema_version != SCHEMA_VERSION:
        raise StorageIncompatible(
            f"store at {kv.location} has schema version {schema_version}, this build "
            f"reads version {SCHEMA_VERSION}: migrate it or use another data dir"
        )
    if stored_chain_id != chain_id:
        raise StorageIncompatible(
            f"store at {kv.location} belongs to chain {stored_chain_id!r}, but this node "
            f"runs chain {chain_id!r}: point the node at the data dir made for its chain"
        )


def _shards_with_blocks(kv: KVReader) -> set[int]:
    return _shards_under(kv, _TAG_BLOCK)


def _shards_under(kv: KVReader, tag: bytes) -> set[int]:
    """Shards with at least one key under ``tag | shard``, found with one seek per shard."""
    shards: set[int] = set()
    start = tag
    while True:
        first = next(kv.iterate_prefix(tag, start=start), None)
        if first is None:
            return shards
        (shard,) = _U32.unpack_from(first[0], 1)
        shards.add(shard)
        if shard == SHARD_MAX:
            return shards
        start = _shard_prefix(tag, shard + 1)


def _reconcile_shard(kv: KVStore, shard: int, marker: FinalizedHeight | None) -> None:
    """Verify the marker's block and delete whatever lies above the marker."""
    if marker is not None:
        key = _block_key(shard, marker.height)
        raw = kv.get(key)
        if raw is None:
            raise StorageCorrupt(
                f"shard {shard} height {marker.height}: the finalized marker names this "
                f"height but its block is missing in store at {kv.location}"
            )
        block = _decode_block(key, raw, shard, marker.height, kv.location)
        if block.block_hash != marker.block_hash:
            raise StorageCorrupt(
                f"shard {shard} height {marker.height}: stored block hash "
                f"{block.block_hash.hex()} differs from the finalized marker's "
                f"{marker.block_hash.hex()} in store at {kv.location}"
            )
    first_stale = GENESIS_HEIGHT if marker is None else marker.height + 1
    stale_prefix = _shard_prefix(_TAG_BLOCK, shard)
    stale = list(kv.iterate_prefix(stale_prefix, start=_block_key(shard, first_stale)))
    if not stale:
        return
    operations: list[BatchOperation] = []
    for key, raw in stale:
        operations += _stale_block_operations(kv, shard, key, raw)
    kv.write_batch(operations, sync=True)
    logger.warning(
        "shard=%d removed_blocks_above_finalized=%d first=%d last=%d",
        shard,
        len(stale),
        _height_of_block_key(stale[0][0]),
        _height_of_block_key(stale[-1][0]),
    )


def _stale_block_operations(
    kv: KVStore, shard: int, key: bytes, raw: bytes
) -> list[BatchOperation]:
    """Delete a block above the marker and the index entries and receipts pointing at it."""
    height = _height_of_block_key(key)
    operations: list[BatchOperation] = [(key, None)]
    try:
        block = _decode_block(key, raw, shard, height, kv.location)
    except StorageCorrupt:
        # A damaged unfinalized block: nothing it says can be trusted, so only it goes;
        # index entries it may have left stay invisible because reads are marker-gated.
        logger.warning("shard=%d height=%d removing_damaged_unfinalized_block", shard, height)
        return operations
    here = _SHARD_HEIGHT.pack(shard, height)
    hash_key = _TAG_BLOCK_HASH + block.block_hash
    if kv.get(hash_key) == here:
        operations.append((hash_key, None))
    for tx_hash, _ in block.txs:
        location = kv.get(_TAG_TX + tx_hash)
        if location is not None and location[: _SHARD_HEIGHT.size] == here:
            operations.append((_TAG_TX + tx_hash, None))
    operations.append((_receipts_key(shard, height), None))
    operations += _stale_event_operations(kv, shard, height)
    return operations


def _stale_event_operations(kv: KVStore, shard: int, height: int) -> list[BatchOperation]:
    """Delete a stale block's event index entries (found through its ``v`` list)."""
    key = _block_events_key(shard, height)
    raw = kv.get(key)
    if raw is None:
        return []
    operations: list[BatchOperation] = [(key, None)]
    try:
        what = f"event index of shard {shard} height {height}"
        entries = _unpack(_unseal(key, raw, what, kv.location), what, kv.location)
    except StorageCorrupt:
        logger.warning("shard=%d height=%d removing_damaged_unfinalized_event_list",
                       shard, height)
        return operations
    events = [(tx, event, bytes(contract), name) for tx, event, contract, name in entries]
    operations += [(index_key, None) for index_key, _ in
                   _event_index_entries(shard, height, events)]
    return operations


# Invariant checks (full scans) ------------------------------------------------------------


def _check_shard_blocks(reader: ChainReader, shard: int, marker: FinalizedHeight | None) -> None:
    kv = reader._reader
    last = GENESIS_HEIGHT - 1 if marker is None else marker.height
    expected_height = GENESIS_HEIGHT
    for key, raw in kv.iterate_prefix(_shard_prefix(_TAG_BLOCK, shard)):
        height = _height_of_block_key(key)
        assert height == expected_height, f"shard {shard}: block {expected_height} missing"
        assert height <= last, f"shard {shard}: block {height} above finalized {last}"
        block = _decode_block(key, raw, shard, height, reader._location)
        location = reader.get_block_location(block.block_hash)
        assert location == BlockLocation(shard, height), f"shard {shard} {height}: hash index"
        for tx_hash, position in block.txs:
            tx_location = reader.get_tx_location(tx_hash)
            assert tx_location == TxLocation(shard, height, position), (
                f"shard {shard} height {height}: tx index of {tx_hash.hex()} is {tx_location}"
            )
            reader.get_receipt(tx_hash)  # verifies the checksum if present
        _check_block_event_index(reader, shard, height)
        expected_height += 1
    assert expected_height == last + 1, f"shard {shard}: blocks end at {expected_height - 1}"
    if marker is not None:
        top = reader.get_block(shard, marker.height)
        assert top is not None and top.block_hash == marker.block_hash


def _check_block_event_index(reader: ChainReader, shard: int, height: int) -> None:
    """Every event of the block's ``v`` list has its ``e`` and ``n`` entries."""
    events = [(item.tx_position, item.event_position, item.contract, item.name)
              for item in reader.get_block_events(shard, height)]
    for key, value in _event_index_entries(shard, height, events):
        assert reader._reader.get(key) == value, (
            f"shard {shard} height {height}: event index entry {key.hex()} missing")


def _check_shard_records(kv: KVReader, shard: int) -> None:
    floor_raw = kv.get(_shard_prefix(_TAG_RECORD_FLOOR, shard))
    floor = 0 if floor_raw is None else int(_U64.unpack(floor_raw)[0])
    for key, _ in kv.iterate_prefix(_shard_prefix(_TAG_RECORD, shard)):
        sequence = _sequence_of_record_key(key)
        assert sequence >= floor, f"shard {shard}: record {sequence} below floor {floor}"
