"""The mempool: bounded, deduplicated, signature-checked-once, per-shard, fair to senders.

Invariants (``check_invariants``):

* Every admitted tx passed, in this order (cheap checks first, the ed25519 check last so
  a full or duplicate-flooded pool costs no signature work): size, decoding, chain id,
  hosted home shard, not pending, not committed (``is_committed`` callback from the
  executor), expiry inside ``(height, height + validity_window_blocks]`` of its home
  shard, capacity (total txs and bytes, per shard, per sender), signature.
* Each admitted tx is in exactly one place: a sender queue of its shard (*pending*) or
  the in-flight set (*taken*: handed to a proposal by ``take_batch``, not yet committed).
  Both count against capacity, so taking a batch never makes room for more.
* ``is_verified(h)`` is true exactly for pending and in-flight txs: a replica validating
  a block skips the signature check for those (the hash covers the signature, so the
  same hash means the same signed bytes). ``remove_committed`` forgets them.
* Nothing grows without bound: counts and bytes are capped by ``MempoolSection``.

Fairness: each shard keeps one FIFO queue per sender and a rotation of senders with
pending txs; ``take_batch`` takes one tx per sender per round (round-robin), so a sender
flooding the pool delays only itself. ``release`` puts in-flight txs back at the front of
their sender queues when a proposal is abandoned (view change). ``take_batch`` also
keeps a batch within the block gas limit (the sum of the txs' gas caps).

Every rejection raises :class:`TxRejected` (a ``ClientError``) with a machine ``reason``
and counts it in ``rejections``. Plain synchronous code: one trio task owns the pool.
"""

from __future__ import annotations

import collections
import enum
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

from consensus.errors import ClientError, DecodeError
from consensus.types import Transaction, check_transaction_shape, decode_transaction
from ledger.fees import FeeParams
from ledger.sharding import home_shard, shard_of_account
from node.config import MempoolSection
from vm.gas import gas_limit_tx_max

# Stale expiry-heap entries tolerated per shard before the heap is rebuilt.
expiry_heap_slack_entries = 1024


class RejectReason(enum.StrEnum):
    """Machine codes of admission failures (stable: clients match on them)."""

    MALFORMED = "MALFORMED"
    OVERSIZE = "OVERSIZE"
    WRONG_CHAIN = "WRONG_CHAIN"
    WRONG_SHARD = "WRONG_SHARD"
    DUPLICATE = "DUPLICATE"
    ALREADY_COMMITTED = "ALREADY_COMMITTED"
    EXPIRED = "EXPIRED"
    EXPIRY_TOO_FAR = "EXPIRY_TOO_FAR"
    MEMPOOL_FULL = "MEMPOOL_FULL"
    GAS_LIMIT_TOO_HIGH = "GAS_LIMIT_TOO_HIGH"
    INSUFFICIENT_FEE = "INSUFFICIENT_FEE"
    BAD_SIGNATURE = "BAD_SIGNATURE"


class TxRejected(ClientError):
    """A transaction was refused at admission; ``reason`` is the machine code."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


class MempoolFull(TxRejected):
    def __init__(self, message: str) -> None:
        super().__init__(RejectReason.MEMPOOL_FULL, message)


@dataclass(frozen=True, slots=True)
class _Entry:
    tx: Transaction
    tx_hash: bytes
    shard: int
    size_bytes: int
    gas_cap: int  # what it counts against the block gas limit (ledger.fees)


@dataclass(frozen=True, slots=True)
class MempoolInfo:
    size_txs: int
    size_bytes: int
    in_flight_txs: int
    shard_sizes_txs: tuple[int, ...]
    rejections: tuple[tuple[str, int], ...]  # (reason, count), sorted by reason


class _ShardQueue:
    """Pending txs of one shard: a FIFO per sender and a round-robin sender rotation."""

    __slots__ = ("by_sender", "rotation", "size_txs")

    def __init__(self) -> None:
        self.by_sender: dict[bytes, collections.deque[_Entry]] = {}
        self.rotation: collections.deque[bytes] = collections.deque()
        self.size_txs = 0

    def push(self, entry: _Entry, front: bool = False) -> None:
        queue = self.by_sender.get(entry.tx.sender)
        if queue is None:
            queue = self.by_sender[entry.tx.sender] = collections.deque()
            self.rotation.append(entry.tx.sender)
        if front:
            queue.appendleft(entry)
        else:
            queue.append(entry)
        self.size_txs += 1

    def remove(self, entry: _Entry) -> None:
        queue = self.by_sender[entry.tx.sender]
        queue.remove(entry)  # O(sender queue), bounded by sender_capacity_txs
        self.size_txs -= 1
        if not queue:
            del self.by_sender[entry.tx.sender]
            self.rotation.remove(entry.tx.sender)


class Mempool:
    """See the module docstring. ``shard_heights`` start at 0 (the genesis height)."""

    def __init__(
        self,
        chain_id: str,
        shard_count: int,
        config: MempoolSection,
        is_committed: Callable[[Transaction], bool] = lambda tx: False,
        hosted_shards: Iterable[int] | None = None,
        fees: FeeParams = FeeParams(),
        balance_of: Callable[[int, bytes], int] = lambda shard, address: 0,
    ) -> None:
        """``balance_of(shard, address)``: the committed native balance of ``address`` in
        ``shard``'s state (read only when ``fees`` charge)."""
        self.chain_id = chain_id
        self.shard_count = shard_count
        self.config = config
        self.is_committed = is_committed
        self.fees = fees
        self.balance_of = balance_of
        self.hosted_shards = frozenset(range(shard_count) if hosted_shards is None
                                       else hosted_shards)
        self.shard_heights = [0] * shard_count
        self.rejections: collections.Counter[str] = collections.Counter()
        self.signature_checks = 0  # ed25519 checks made by add (cumulative)
        self._entries: dict[bytes, _Entry] = {}  # pending and in flight, by tx hash
        self._in_flight: set[bytes] = set()
        self._in_flight_txs = [0] * shard_count  # per shard
        self._queues = [_ShardQueue() for _ in range(shard_count)]
        self._sender_txs: collections.Counter[bytes] = collections.Counter()
        self._sender_fees: collections.Counter[bytes] = collections.Counter()  # max fees
        self._size_bytes = 0
        # (expiry_height, tx_hash) per shard, so a height update evicts expired txs in
        # O(log n) each instead of scanning the pool every block.
        self._expiry_heaps: list[list[tuple[int, bytes]]] = [[] for _ in range(shard_count)]

    # -- admission ----------------------------------------------------------------------

    def add_bytes(self, data: bytes) -> Transaction:
        """Decode canonical tx bytes and admit the tx; TxRejected on any failure."""
        if len(data) > self.config.tx_bytes_max:
            self._reject(RejectReason.OVERSIZE,
                         f"tx is {len(data)} bytes, the limit is {self.config.tx_bytes_max}")
        try:
            tx = decode_transaction(data, self.config.tx_bytes_max)
        except DecodeError as error:
            self._reject(RejectReason.MALFORMED, f"not a canonical transaction: {error}")
        self.add(tx)
        return tx

    def add(self, tx: Transaction, *, signature_checked: bool = False) -> bytes:
        """Admit ``tx`` and return its hash; TxRejected (counted by reason) if refused.

        ``signature_checked``: the caller verified the signature already (in a worker
        thread, off the event loop); every other check still runs here."""
        try:
            check_transaction_shape(tx)
            encoded = tx.encoded()
        except (DecodeError, ValueError) as error:
            self._reject(RejectReason.MALFORMED, f"not a valid transaction: {error}")
        if len(encoded) > self.config.tx_bytes_max:
            self._reject(RejectReason.OVERSIZE,
                         f"tx is {len(encoded)} bytes, the limit is {self.config.tx_bytes_max}")
        entry = _Entry(tx, tx.hash(), home_shard(tx, self.shard_count), len(encoded),
                       self.fees.gas_cap(tx))
        self._check_identity(entry)
        self._check_expiry(entry)
        self._check_capacity(entry)
        self._check_fee(entry)
        if not signature_checked:
            self.signature_checks += 1
            if not tx.has_valid_signature():
                self._reject(RejectReason.BAD_SIGNATURE,
                             "signature does not verify for the sender")
        self._insert(entry)
        return entry.tx_hash

    def _check_identity(self, entry: _Entry) -> None:
        if entry.tx.chain_id != self.chain_id:
            self._reject(RejectReason.WRONG_CHAIN,
                         f"tx is for chain {entry.tx.chain_id!r}, this is {self.chain_id!r}")
        if entry.shard not in self.hosted_shards:
            self._reject(RejectReason.WRONG_SHARD,
                         f"tx belongs to shard {entry.shard}, not hosted by this node")
        if entry.tx_hash in self._entries:
            self._reject(RejectReason.DUPLICATE, "tx is already in the mempool")
        if self.is_committed(entry.tx):
            self._reject(RejectReason.ALREADY_COMMITTED, "tx is already committed")

    def _check_expiry(self, entry: _Entry) -> None:
        height = self.shard_heights[entry.shard]
        expiry = entry.tx.expiry_height
        if expiry <= height:
            self._reject(RejectReason.EXPIRED, f"tx expired at height {expiry}; shard "
                         f"{entry.shard} is at height {height}")
        window = self.config.validity_window_blocks
        if expiry > height + window:
            self._reject(RejectReason.EXPIRY_TOO_FAR,
                         f"expiry_height {expiry} is more than {window} blocks above "
                         f"shard {entry.shard} height {height}")

    def _check_capacity(self, entry: _Entry) -> None:
        config = self.config
        if len(self._entries) >= config.capacity_txs:
            self._full(f"mempool holds its maximum of {config.capacity_txs} txs")
        if self._size_bytes + entry.size_bytes > config.capacity_bytes:
            self._full(f"mempool holds its maximum of {config.capacity_bytes} bytes")
        if self._shard_count_txs(entry.shard) >= config.shard_capacity_txs:
            self._full(f"shard {entry.shard} queue holds its maximum of "
                       f"{config.shard_capacity_txs} txs")
        if self._sender_txs[entry.tx.sender] >= config.sender_capacity_txs:
            self._full(f"sender has {config.sender_capacity_txs} txs pending, the maximum")

    def _check_fee(self, entry: _Entry) -> None:
        tx = entry.tx
        if tx.contract and not 0 <= tx.gas_limit <= gas_limit_tx_max:
            self._reject(RejectReason.GAS_LIMIT_TOO_HIGH, f"gas_limit {tx.gas_limit} is "
                         f"above the per-tx maximum {gas_limit_tx_max}")
        fees = self.fees
        if not fees.charges_fees:
            return
        fee = fees.max_fee(tx)
        reserved = self._sender_fees[tx.sender]
        balance = self.balance_of(entry.shard, tx.sender)
        if balance >= reserved + fee:
            return
        message = (f"sender balance {balance} in shard {entry.shard} cannot cover the "
                   f"maximum fee {fee} (gas cap {entry.gas_cap} x price {fees.gas_price})")
        if reserved:
            message += f" plus {reserved} reserved by its {self._sender_txs[tx.sender]} " \
                       "pending txs"
        owner = shard_of_account(tx.sender, self.shard_count)
        if owner != entry.shard:
            message += (f"; the sender's account lives in shard {owner}, and a contract "
                        f"call pays its fee in the contract's shard ({entry.shard})")
        self._reject(RejectReason.INSUFFICIENT_FEE, message)

    def _full(self, message: str) -> NoReturn:
        self.rejections[RejectReason.MEMPOOL_FULL] += 1
        raise MempoolFull(message + "; retry later")

    def _reject(self, reason: RejectReason, message: str) -> NoReturn:
        self.rejections[reason] += 1
        raise TxRejected(reason, message)

    def _insert(self, entry: _Entry) -> None:
        self._entries[entry.tx_hash] = entry
        self._queues[entry.shard].push(entry)
        self._sender_txs[entry.tx.sender] += 1
        if self.fees.charges_fees:
            self._sender_fees[entry.tx.sender] += self.fees.max_fee(entry.tx)
        self._size_bytes += entry.size_bytes
        heapq.heappush(self._expiry_heaps[entry.shard], (entry.tx.expiry_height, entry.tx_hash))

    # -- queries ------------------------------------------------------------------------

    def is_verified(self, tx_hash: bytes) -> bool:
        """True if this exact signed tx passed the signature check here (pending or taken)."""
        return tx_hash in self._entries

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, tx_hash: bytes) -> Transaction | None:
        entry = self._entries.get(tx_hash)
        return None if entry is None else entry.tx

    def pending_txs(self, shard: int) -> int:
        """Txs of ``shard`` waiting to be taken into a proposal."""
        return self._queues[shard].size_txs

    def info(self) -> MempoolInfo:
        return MempoolInfo(
            size_txs=len(self._entries),
            size_bytes=self._size_bytes,
            in_flight_txs=len(self._in_flight),
            shard_sizes_txs=tuple(self._shard_count_txs(shard)
                                  for shard in range(self.shard_count)),
            rejections=tuple(sorted(self.rejections.items())))

    def _shard_count_txs(self, shard: int) -> int:
        return self._queues[shard].size_txs + self._in_flight_txs[shard]

    # -- proposals and commits ----------------------------------------------------------

    def take_batch(self, shard: int, max_txs: int, max_bytes: int,
                   max_gas: int | None = None) -> list[Transaction]:
        """Up to ``max_txs`` txs of ``shard`` totalling at most ``max_bytes`` encoded bytes
        and ``max_gas`` gas caps (the block gas limit; None: no limit), one per sender per
        round; they stay in the pool (in flight) until committed or released."""
        queue = self._queues[shard]
        batch: list[Transaction] = []
        batch_bytes = batch_gas = 0
        gas_max = max_gas if max_gas is not None else 2**63
        skipped: list[bytes] = []  # senders whose next tx does not fit in this batch
        while queue.rotation and len(batch) < max_txs:
            sender = queue.rotation.popleft()
            sender_queue = queue.by_sender[sender]
            entry = sender_queue[0]
            if batch_bytes + entry.size_bytes > max_bytes or \
                    batch_gas + entry.gas_cap > gas_max:
                skipped.append(sender)
                continue
            sender_queue.popleft()
            queue.size_txs -= 1
            self._in_flight.add(entry.tx_hash)
            self._in_flight_txs[shard] += 1
            batch.append(entry.tx)
            batch_bytes += entry.size_bytes
            batch_gas += entry.gas_cap
            if sender_queue:
                queue.rotation.append(sender)
            else:
                del queue.by_sender[sender]
        # Senders skipped for size go first next time: they lost their turn this round.
        queue.rotation.extendleft(reversed(skipped))
        return batch

    def release(self, tx_hashes: Iterable[bytes]) -> None:
        """Return in-flight txs (an abandoned proposal) to the front of their queues;
        those that expired meanwhile are dropped."""
        for tx_hash in reversed(list(tx_hashes)):
            if tx_hash in self._in_flight:
                entry = self._entries[tx_hash]
                if entry.tx.expiry_height <= self.shard_heights[entry.shard]:
                    del self._entries[tx_hash]
                    self._forget(entry)
                    continue
                self._in_flight.discard(tx_hash)
                self._in_flight_txs[entry.shard] -= 1
                queue = self._queues[entry.shard]
                queue.push(entry, front=True)
                # push() appended a new sender at the back; a returning one goes first.
                if queue.rotation[-1] == entry.tx.sender and len(
                        queue.by_sender[entry.tx.sender]) == 1:
                    queue.rotation.rotate(1)

    def remove_committed(self, tx_hashes: Iterable[bytes]) -> int:
        """Forget committed txs (pending or in flight); unknown hashes are ignored."""
        removed = 0
        shards = set()
        for tx_hash in tx_hashes:
            entry = self._entries.pop(tx_hash, None)
            if entry is None:
                continue
            self._forget(entry)
            shards.add(entry.shard)
            removed += 1
        for shard in sorted(shards):
            self._maybe_compact_expiry_heap(shard)
        return removed

    def _maybe_compact_expiry_heap(self, shard: int) -> None:
        """Drop heap entries of txs no longer here once they outnumber the live ones, so
        the heap stays O(pool size) rather than O(txs admitted in a validity window)."""
        heap = self._expiry_heaps[shard]
        if len(heap) <= 2 * self._shard_count_txs(shard) + expiry_heap_slack_entries:
            return
        heap[:] = [(entry.tx.expiry_height, entry.tx_hash) for entry in self._entries.values()
                   if entry.shard == shard]
        heapq.heapify(heap)

    def set_shard_height(self, shard: int, height: int) -> int:
        """Record the shard's latest finalized height; evict txs that expired. Returns the
        number evicted."""
        assert height >= self.shard_heights[shard], "shard heights only grow"
        self.shard_heights[shard] = height
        heap = self._expiry_heaps[shard]
        evicted = 0
        while heap and heap[0][0] <= height:
            _, tx_hash = heapq.heappop(heap)
            entry = self._entries.get(tx_hash)
            if entry is not None and tx_hash not in self._in_flight:
                del self._entries[tx_hash]
                self._forget(entry)
                evicted += 1
        return evicted

    def _forget(self, entry: _Entry) -> None:
        if entry.tx_hash in self._in_flight:
            self._in_flight.discard(entry.tx_hash)
            self._in_flight_txs[entry.shard] -= 1
        else:
            self._queues[entry.shard].remove(entry)
        self._sender_txs[entry.tx.sender] -= 1
        if not self._sender_txs[entry.tx.sender]:
            del self._sender_txs[entry.tx.sender]
        if self.fees.charges_fees:
            self._sender_fees[entry.tx.sender] -= self.fees.max_fee(entry.tx)
            if not self._sender_fees[entry.tx.sender]:
                del self._sender_fees[entry.tx.sender]
        self._size_bytes -= entry.size_bytes

    # -- checks -------------------------------------------------------------------------

    def check_invariants(self) -> None:
        pending = [entry for queue in self._queues for sender_queue in queue.by_sender.values()
                   for entry in sender_queue]
        pending_hashes = {entry.tx_hash for entry in pending}
        assert len(pending_hashes) == len(pending), "a tx is queued twice"
        assert not pending_hashes & self._in_flight, "a tx is both pending and in flight"
        assert pending_hashes | self._in_flight == set(self._entries), "index out of sync"
        assert self._size_bytes == sum(entry.size_bytes for entry in self._entries.values())
        assert len(self._entries) <= self.config.capacity_txs
        assert self._size_bytes <= self.config.capacity_bytes
        for shard, queue in enumerate(self._queues):
            assert set(queue.rotation) == set(queue.by_sender), f"shard {shard} rotation"
            assert len(queue.rotation) == len(queue.by_sender), f"shard {shard} rotation dup"
            assert all(queue.by_sender.values()), f"shard {shard} keeps an empty sender queue"
            assert queue.size_txs == sum(len(items) for items in queue.by_sender.values())
            for entry in (entry for items in queue.by_sender.values() for entry in items):
                assert entry.shard == shard
        for shard in range(self.shard_count):
            assert self._in_flight_txs[shard] == sum(
                1 for tx_hash in self._in_flight if self._entries[tx_hash].shard == shard)
        for shard, heap in enumerate(self._expiry_heaps):
            live = {tx_hash for _, tx_hash in heap}
            assert all(tx_hash in live for tx_hash, entry in self._entries.items()
                       if entry.shard == shard and tx_hash not in self._in_flight), \
                f"shard {shard}: a pending tx has no expiry heap entry"
        senders = collections.Counter(entry.tx.sender for entry in self._entries.values())
        assert senders == self._sender_txs, "per-sender counts out of sync"
        if self.fees.charges_fees:
            fees: collections.Counter[bytes] = collections.Counter()
            for entry in self._entries.values():
                fees[entry.tx.sender] += self.fees.max_fee(entry.tx)
            assert +fees == self._sender_fees, "per-sender reserved fees out of sync"
