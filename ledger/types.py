"""The ledger's shared types: receipts, status codes, the handler interface.

A leaf module: the executor, the native ledger and the contract dispatch all import it,
and it imports nothing of theirs, so the three never import each other in a cycle.

Receipt status codes are part of the consensus format: 0..99 mirror ``vm.errors.ErrorCode``
(the VM's outcomes), 100 and up are the executor's and the native ledger's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from consensus import codec
from consensus.types import Transaction

StateWrite = tuple[bytes, bytes | None]
_missing = object()


class Status(enum.IntEnum):
    """Receipt status codes. Never renumber: they are stored and hashed."""

    OK = 0
    OUT_OF_GAS = 1
    REVERT = 2
    LIMIT_EXCEEDED = 3
    CALL_DEPTH = 4
    RUNTIME_ERROR = 5
    READ_ONLY = 6
    NO_SUCH_METHOD = 7
    NO_SUCH_CONTRACT = 8
    INVALID_ARGUMENT = 9
    INVALID_VALUE = 10
    INVALID_CONTRACT = 11
    WRONG_CHAIN = 100
    WRONG_SHARD = 101
    EXPIRED = 102
    EXPIRY_TOO_FAR = 103
    ALREADY_COMMITTED = 104
    BAD_SIGNATURE = 105
    NO_HANDLER = 106
    INSUFFICIENT_BALANCE = 107
    NOT_ISSUER = 108
    BALANCE_OVERFLOW = 109
    CROSS_SHARD = 110
    INSUFFICIENT_FEE = 111


class ExecutionFault(Exception):
    """A node fault while executing a block (an exception no tx outcome accounts for: a
    VM invariant broke, the interpreter ran out of stack, a storage read failed). Never a
    receipt: the node halts the shard (DESIGN.md). Names the height and the tx."""

    def __init__(self, height: int, position: int, tx_hash: bytes, cause: BaseException
                 ) -> None:
        self.height = height
        self.position = position
        self.tx_hash = tx_hash
        self.cause = cause
        super().__init__(f"executing tx {tx_hash.hex()} (position {position}) at height "
                         f"{height}: {type(cause).__name__}: {cause}")


# Statuses of the executor's precheck: the tx was not admitted to this shard's chain.
NOT_ADMITTED = frozenset({Status.WRONG_CHAIN, Status.WRONG_SHARD, Status.EXPIRED,
                          Status.EXPIRY_TOO_FAR, Status.ALREADY_COMMITTED,
                          Status.BAD_SIGNATURE})


class ContractKind(enum.Enum):
    NATIVE = "native"
    CONTRACT = "contract"


def contract_kind(tx: Transaction) -> ContractKind:
    return ContractKind.NATIVE if tx.contract == b"" else ContractKind.CONTRACT


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    """An event a tx emitted; ``data`` is canonical msgpack (same shape as the VM's)."""

    contract: bytes
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one tx; stored under its hash as ``codec.encode(receipt)``."""

    tx_hash: bytes
    status: int
    gas_used: int
    error: str
    events: tuple[ReceiptEvent, ...]
    result: bytes  # canonical msgpack of the return value, b"" when there is none

    def encoded(self) -> bytes:
        """``codec.encode(self)``, packed as one plain tuple in a single msgpack call (one
        receipt per tx per node; the field-by-field encoder cost 3.5 us, this 0.7 us).
        Every field is a plain value the executor produced; tests/ledger/test_executor.py
        checks the bytes equal ``codec.encode`` for any receipt."""
        return codec.pack_trusted((
            self.tx_hash, int(self.status), self.gas_used, self.error,
            [(event.contract, event.name, event.data) for event in self.events],
            self.result))

    @property
    def is_ok(self) -> bool:
        return self.status == Status.OK


def decode_receipt(data: bytes) -> Receipt:
    return codec.decode_struct(Receipt, data)


@dataclass(frozen=True, slots=True)
class BlockResult:
    receipts: tuple[Receipt, ...]  # one per tx, in block order
    receipt_bytes: tuple[bytes, ...]  # canonical bytes of each receipt
    state_writes: tuple[StateWrite, ...]  # net, sorted by key
    receipts_root: bytes

    @property
    def receipts_to_store(self) -> tuple[tuple[bytes, bytes], ...]:
        """``(tx_hash, receipt bytes)`` for ChainStore.finalize_block: admitted txs only
        (a replay's receipt must not overwrite the original one under the same hash)."""
        return tuple((receipt.tx_hash, data) for receipt, data in
                     zip(self.receipts, self.receipt_bytes)
                     if receipt.status not in NOT_ADMITTED)

    @property
    def txs_to_index(self) -> tuple[tuple[bytes, int], ...]:
        """``(tx_hash, position)`` for ChainStore.finalize_block and the replay index:
        admitted txs only. A tx refused by the precheck (another chain or shard, outside
        its window, a replay, a bad signature) is not committed here: indexing it would
        make the replay rule depend on other shards' chains (ledger.committed)."""
        return tuple((receipt.tx_hash, position) for position, receipt in
                     enumerate(self.receipts) if receipt.status not in NOT_ADMITTED)


    @property
    def events_to_index(self) -> tuple[tuple[int, int, bytes, str], ...]:
        """``(tx position, event position, contract, name)`` of the stored receipts' events,
        for ChainStore.finalize_block's event index; replays left out."""
        return tuple((position, index, event.contract, event.name)
                     for position, receipt in enumerate(self.receipts)
                     if receipt.status != Status.ALREADY_COMMITTED
                     for index, event in enumerate(receipt.events))


class StateView(Protocol):
    """The shard's state as of the previous height (the VM's ``StateView`` shape)."""

    def get(self, key: bytes) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a handler knows about the tx and its block (never the wall clock)."""

    shard: int
    shard_count: int
    height: int
    time_ms: int
    tx_hash: bytes


@dataclass(frozen=True, slots=True)
class CallOutcome:
    status: int
    gas_used: int = 0
    error: str = ""
    result: bytes = b""


class TxState:
    """One tx's writes and events over the block overlay; merged only on success."""

    __slots__ = ("_base", "_block", "events", "writes")

    def __init__(self, base: StateView, block_overlay: dict[bytes, bytes | None]) -> None:
        self._base = base
        self._block = block_overlay
        self.writes: dict[bytes, bytes | None] = {}
        self.events: list[ReceiptEvent] = []

    def get(self, key: bytes) -> bytes | None:
        for layer in (self.writes, self._block):
            value = layer.get(key, _missing)
            if value is not _missing:
                return value  # type: ignore[return-value]
        return self._base.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def emit(self, contract: bytes, name: str, data: bytes) -> None:
        self.events.append(ReceiptEvent(contract, name, data))


Handler = Callable[[Transaction, CallContext, TxState], CallOutcome]


class GenesisLike(Protocol):
    """What the ledger reads of a genesis (``node.genesis.Genesis`` has this shape)."""

    chain_id: str
    shard_count: int
    fee_account: bytes

    @property
    def issuers(self) -> tuple[bytes, ...]: ...

    @property
    def consensus(self) -> object: ...

    def balances_of_shard(self, shard: int) -> list: ...
