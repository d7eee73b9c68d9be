"""State view protocol, key layout, the per-transaction journal, events and contexts.

Key layout (all keys are bytes; a contract address is 32 bytes):

    code of a contract:        b"C" + address                    -> source, UTF-8
    a `Value()` named n:       b"S" + address + n + b"\\x00"       -> canonical msgpack
    entry k of a `Map()` n:    b"S" + address + n + b"\\x00" + canonical_msgpack(k)

Storage names are ASCII identifiers (no NUL), so the layout is prefix-free per contract
and every key of a contract starts with b"S" + address: the node can place a contract's
state in the shard of its address and iterate it by prefix.

The VM never writes to the state view. A `Journal` overlays the view for one transaction;
`mark()`/`rollback()` give nested rollback for cross-contract calls; `write_set()` returns
the writes sorted by key (a value of None is a delete).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from vm import gas
from vm.errors import LimitExceeded

address_bytes = 32
code_prefix = b"C"
storage_prefix = b"S"


class StateView(Protocol):
    """What the VM reads: the shard's committed state (or an overlay of it)."""

    def get(self, key: bytes) -> bytes | None: ...


class DictState:
    """A StateView over a dict, for tests, the benchmark and the reference interpreter."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data: dict[bytes, bytes] = dict(data or {})

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: tuple[tuple[bytes, bytes | None], ...]) -> None:
        for key, value in writes:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


def contract_address(deployer: bytes, nonce: int) -> bytes:
    """A suggested address for a contract deployed by `deployer` with tx nonce `nonce`
    (the executor may choose another scheme; the VM only needs 32 distinct bytes)."""
    return hashlib.sha256(b"agora/contract" + deployer + nonce.to_bytes(8, "big")).digest()


def code_key(address: bytes) -> bytes:
    return code_prefix + address


def storage_base(address: bytes, name: str) -> bytes:
    return storage_prefix + address + name.encode("ascii") + b"\x00"


class Event(NamedTuple):
    """One `emit(name, **fields)`; `data` is the canonical msgpack of the fields dict.
    (A NamedTuple: immutable like a frozen dataclass, and cheaper to build per event.)"""

    contract: bytes
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What the executor knows about the transaction and its block (never the wall clock)."""

    sender: bytes
    height: int
    time: int  # block timestamp from the header, seconds
    tx_hash: bytes


class Ctx:
    """The `ctx` a contract frame sees. `sender` is the caller (the tx sender, or the calling
    contract for a nested call); `origin` is always the tx sender.

    A plain slotted class rather than a frozen dataclass: one is built per call on the hot
    path, and contracts cannot assign attributes anyway (the validator rejects it)."""

    __slots__ = ("address", "height", "origin", "sender", "time", "tx_hash")

    def __init__(
        self, sender: bytes, address: bytes, height: int, time: int, tx_hash: bytes, origin: bytes
    ) -> None:
        self.sender = sender
        self.address = address
        self.height = height
        self.time = time
        self.tx_hash = tx_hash
        self.origin = origin


_missing = object()


def _stored_bytes(key: bytes, value: Any) -> int:
    return 0 if value is None else len(key) + len(value)


class Journal:
    """Pending writes and events of one transaction, with nested rollback."""

    __slots__ = ("bytes_written", "events", "overlay", "undo")

    def __init__(self) -> None:
        self.overlay: dict[bytes, bytes | None] = {}
        self.undo: list[tuple[bytes, Any]] = []
        self.events: list[Event] = []
        # Key and value bytes the overlay holds (deletes hold none), capped per transaction
        # by gas.write_bytes_per_tx_max: what one transaction can add to the state.
        self.bytes_written = 0

    def mark(self) -> tuple[int, int]:
        return len(self.undo), len(self.events)

    def rollback(self, mark: tuple[int, int]) -> None:
        undo_length, events_length = mark
        overlay = self.overlay
        while len(self.undo) > undo_length:
            key, previous = self.undo.pop()
            self.bytes_written -= _stored_bytes(key, overlay[key])
            if previous is _missing:
                del overlay[key]
            else:
                overlay[key] = previous
                self.bytes_written += _stored_bytes(key, previous)
        del self.events[events_length:]

    def put(self, key: bytes, value: bytes | None) -> None:
        overlay = self.overlay
        previous = overlay.get(key, _missing)
        if previous is _missing and len(overlay) >= gas.writes_per_tx_max:
            raise LimitExceeded("too many writes in one transaction")
        written = self.bytes_written
        if value is not None:
            written += len(key) + len(value)
        if previous is not _missing and previous is not None:
            written -= len(key) + len(previous)
        if written > gas.write_bytes_per_tx_max:
            raise LimitExceeded(f"more than {gas.write_bytes_per_tx_max} bytes written")
        self.bytes_written = written
        self.undo.append((key, previous))
        overlay[key] = value

    def write_set(self) -> tuple[tuple[bytes, bytes | None], ...]:
        return tuple(sorted(self.overlay.items()))
