"""Typed results of the SDK: receipts, blocks, events and accounts with decoded values.

Each type is built from the RPC's JSON (``from_json``) and keeps that JSON in ``raw``;
bytes are ``bytes``, contract values are decoded from their canonical hex (exact: big ints
are ints, bytes are bytes, never the lossy JSON form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vm import codec as vm_codec

Json = Any


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def decode_value(hex_text: str) -> Any:
    """A canonical value from its hex (None for empty: no value). Native-ledger event data
    (a plain msgpack array) decodes the same way."""
    return vm_codec.decode(_bytes(hex_text)) if hex_text else None


@dataclass(frozen=True, slots=True)
class Event:
    contract: bytes
    name: str
    data: Any  # decoded: a dict of fields for contract events, a list for native ones
    shard: int | None = None
    height: int | None = None
    tx_position: int | None = None
    event_position: int | None = None
    tx_hash: bytes | None = None
    raw: dict[str, Json] = field(default_factory=dict, compare=False, repr=False)

    @property
    def position(self) -> tuple[int, int, int]:
        assert self.height is not None and self.tx_position is not None
        assert self.event_position is not None
        return (self.height, self.tx_position, self.event_position)

    @classmethod
    def from_json(cls, raw: dict[str, Json]) -> Event:
        tx_hash = raw.get("tx_hash")
        return cls(_bytes(raw["contract"]), raw["name"], decode_value(raw["data"]),
                   raw.get("shard"), raw.get("height"), raw.get("tx_position"),
                   raw.get("event_position"), None if tx_hash is None else _bytes(tx_hash),
                   raw)


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: bytes
    status: int
    status_name: str
    gas_used: int
    error: str
    events: tuple[Event, ...]
    result: Any  # the decoded return value
    shard: int | None
    height: int | None
    position: int | None
    raw: dict[str, Json] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 0

    @classmethod
    def from_json(cls, raw: dict[str, Json]) -> Receipt:
        return cls(_bytes(raw["tx_hash"]), raw["status"], raw["status_name"], raw["gas_used"],
                   raw["error"], tuple(Event.from_json(item) for item in raw["events"]),
                   decode_value(raw["result"]), raw.get("shard"), raw.get("height"),
                   raw.get("position"), raw)


@dataclass(frozen=True, slots=True)
class Block:
    hash: bytes
    shard: int
    height: int
    prev_hash: bytes
    timestamp_ms: int
    proposer: int
    view: int
    tx_hashes: tuple[bytes, ...]
    raw: dict[str, Json] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Json]) -> Block:
        hashes = tuple(_bytes(item if isinstance(item, str) else item["hash"])
                       for item in raw["txs"])
        return cls(_bytes(raw["hash"]), raw["shard"], raw["height"], _bytes(raw["prev_hash"]),
                   raw["timestamp_ms"], raw["proposer"], raw["view"], hashes, raw)


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as the chain sees it (``agora_getAccount``)."""

    address: bytes
    shard: int
    balance: int
    raw: dict[str, Json] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Json]) -> AccountInfo:
        return cls(_bytes(raw["address"]), raw["shard"], int(raw["balance"]), raw)


@dataclass(frozen=True, slots=True)
class Simulation:
    """What ``agora_simulate`` found: the receipt the tx would get, and where."""

    receipt: Receipt
    gas_limit: int
    signed: bool

    @classmethod
    def from_json(cls, raw: dict[str, Json]) -> Simulation:
        return cls(Receipt.from_json({**raw, "position": None}), raw["gas_limit"],
                   raw["signed"])
