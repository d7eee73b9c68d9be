"""The block executor: runs a committed block's transactions against a shard's state.

``Executor.execute_block(block, state_view) -> BlockResult`` is a deterministic function of
the block, the state the view shows and the executor's genesis-derived parameters: no
wall clock, no floats, no set or dict order reaches the output. It never writes to the
view; the node finalizes ``BlockResult.state_writes`` in one storage batch.

How it works:

* Transactions run in block order over one block overlay, so a tx sees the writes of the
  txs before it. Each tx writes into its own ``TxState`` overlay, merged into the block
  overlay only if the tx succeeds: a failed tx changes nothing but still gets a receipt.
* Before dispatch every tx is checked in a fixed order (``_precheck``): chain id, home
  shard, expiry (``height <= expiry_height <= height + tx_validity_window_blocks``), replay
  (hash already committed, or twice in this block), signature. A correct primary never
  proposes such txs; a faulty one may, so they get failure receipts rather than halting.
* Dispatch is a table keyed by :class:`ContractKind`: ``NATIVE`` (``contract == b""``)
  goes to ``ledger.native``, ``CONTRACT`` to ``ledger.contracts`` (the VM).
* Fees (``ledger.fees``, when the genesis gas price is nonzero): after the precheck the
  sender must hold its tx's maximum fee (or the tx fails with ``INSUFFICIENT_FEE``,
  changing nothing), the handler runs, and the fee for the gas used is debited whether
  the tx succeeded or not; the block's fees are credited after its last tx. Precheck
  failures pay nothing.
* An exception escaping a handler is a node fault, never a tx outcome: it propagates out
  of ``execute_block`` and the node halts the shard (node/node.py). Every outcome a
  transaction can cause is a receipt.
* ``state_writes`` is the block's net write set, sorted by key (the order
  ``storage.state_root`` hashes in); ``receipts_root`` is the Merkle root
  (``consensus.types.merkle_root``) of the receipts' canonical bytes in block order.

Replay and the receipt store: a tx whose hash is already committed gets a receipt with
status ``ALREADY_COMMITTED`` in ``receipts`` (every tx has one, and the receipts root
covers them all), but ``BlockResult.receipts_to_store`` leaves it out so the original
receipt, stored under the same hash, is never overwritten. The same holds for every tx the
precheck refuses (``types.NOT_ADMITTED``): it is neither indexed nor stored, and counts as
committed nowhere (the replay rule in ``ledger.committed`` is per shard).

What the node must provide: a state view and an ``is_committed`` callback that reflect
every height executed before this one (including executed heights not yet finalized),
and ``is_verified`` from the mempool so signatures checked at admission are not checked
again (DESIGN.md, Performance).

Receipt status codes are part of the consensus format: 0..99 mirror ``vm.errors.ErrorCode``
(the VM's outcomes), 100 and up are the executor's and the native ledger's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consensus.types import Block, Transaction, merkle_root
from ledger.contracts import ContractHandler
from vm.contract import ContractCache
from ledger.fees import FeeParams, credit, prepay, settle
from ledger.native import NativeLedger, genesis_writes
from ledger.sharding import home_shard
from vm.errors import OutOfGas
from ledger.types import (
    BlockResult,
    CallContext,
    CallOutcome,
    NOT_ADMITTED,
    ContractKind,
    ExecutionFault,
    GenesisLike,
    Handler,
    Receipt,
    StateView,
    StateWrite,
    Status,
    TxState,
    contract_kind,
)


@dataclass(frozen=True, slots=True)
class ExecutorParams:
    chain_id: str
    shard: int
    shard_count: int
    tx_validity_window_blocks: int
    fees: FeeParams = FeeParams()


@dataclass(frozen=True, slots=True)
class Executor:
    """Executes blocks of one shard. ``handlers`` maps a contract kind to its handler."""

    params: ExecutorParams
    handlers: Mapping[ContractKind, Handler]
    is_committed: Callable[[Transaction], bool] = field(default=lambda tx: False)
    is_verified: Callable[[bytes], bool] = field(default=lambda tx_hash: False)

    def execute_block(self, block: Block, state_view: StateView) -> BlockResult:
        header = block.header
        params = self.params
        assert header.shard == params.shard, "block of another shard"
        overlay: dict[bytes, bytes | None] = {}
        seen: set[bytes] = set()
        receipts = []
        fees_collected = 0
        for position, tx in enumerate(block.txs):
            tx_hash = tx.hash()
            context = CallContext(params.shard, params.shard_count, header.height,
                                  header.timestamp_ms, tx_hash)
            try:
                receipt, fee = self._execute_tx(tx, context, state_view, overlay, seen)
            except (Exception, OutOfGas) as error:  # OutOfGas is a BaseException
                raise ExecutionFault(header.height, position, tx_hash, error) from error
            receipts.append(receipt)
            fees_collected += fee
            if receipt.status not in NOT_ADMITTED:
                seen.add(tx_hash)  # admitted: a second copy in this block is a replay
        credit(params.fees, fees_collected, overlay, state_view, params.shard,
               params.shard_count)
        encoded = tuple(receipt.encoded() for receipt in receipts)
        writes = tuple(sorted(overlay.items()))
        return BlockResult(tuple(receipts), encoded, writes, merkle_root(list(encoded)))

    def _execute_tx(self, tx: Transaction, context: CallContext, state_view: StateView,
                    overlay: dict[bytes, bytes | None], seen: set[bytes]
                    ) -> tuple[Receipt, int]:
        """The tx's receipt and the fee it paid."""
        failure = self._precheck(tx, context, seen)
        if failure is not None:
            return Receipt(context.tx_hash, failure.status, 0, failure.error, (), b""), 0
        handler = self.handlers.get(contract_kind(tx))
        if handler is None:
            return Receipt(context.tx_hash, Status.NO_HANDLER, 0,
                           "no handler for this kind of transaction", (), b""), 0
        fees = self.params.fees
        balance = 0
        if fees.charges_fees:
            paid = prepay(fees, tx, overlay, state_view)
            if paid is None:
                return Receipt(context.tx_hash, Status.INSUFFICIENT_FEE, 0,
                               f"sender cannot pay the maximum fee {fees.max_fee(tx)} "
                               f"(gas cap x price) in shard {self.params.shard}", (),
                               b""), 0
            balance = paid
        tx_state = TxState(state_view, overlay)
        outcome = handler(tx, context, tx_state)
        if outcome.status == Status.OK:
            overlay.update(tx_state.writes)
        fee = settle(fees, tx, outcome.gas_used, balance, overlay) \
            if fees.charges_fees else 0
        if outcome.status != Status.OK:
            return Receipt(context.tx_hash, outcome.status, outcome.gas_used, outcome.error,
                           (), b""), fee
        return Receipt(context.tx_hash, Status.OK, outcome.gas_used, "",
                       tuple(tx_state.events), outcome.result), fee

    def _precheck(self, tx: Transaction, context: CallContext,
                  seen: set[bytes]) -> CallOutcome | None:
        """Why ``tx`` must not run in this block, or None. The order is consensus."""
        params = self.params
        height = context.height
        if tx.chain_id != params.chain_id:
            return CallOutcome(Status.WRONG_CHAIN, error=f"tx is for chain {tx.chain_id!r}")
        if home_shard(tx, params.shard_count) != params.shard:
            return CallOutcome(Status.WRONG_SHARD, error="tx belongs to another shard")
        if tx.expiry_height < height:
            return CallOutcome(Status.EXPIRED, error=f"tx expired at height {tx.expiry_height}")
        if tx.expiry_height > height + params.tx_validity_window_blocks:
            return CallOutcome(Status.EXPIRY_TOO_FAR, error="expiry beyond the validity window")
        # The replay rule (ledger.committed): admitted earlier in this block, or on this
        # shard's chain inside the tx's validity window. is_committed answers that for the
        # home shard, which is this shard once the check above passed.
        if context.tx_hash in seen or self.is_committed(tx):
            return CallOutcome(Status.ALREADY_COMMITTED, error="tx is already committed")
        if not (self.is_verified(context.tx_hash) or tx.has_valid_signature()):
            return CallOutcome(Status.BAD_SIGNATURE, error="signature does not verify")
        return None


def state_root_after(previous_root: bytes, height: int, result: BlockResult) -> bytes:
    """The shard's state root after ``result`` (``storage.state_root`` rule)."""
    from storage.state_root import next_state_root

    return next_state_root(previous_root, height, result.state_writes)


def build_executor(genesis: GenesisLike, shard: int, *,
                   is_committed: Callable[[Transaction], bool] = lambda tx: False,
                   is_verified: Callable[[bytes], bool] = lambda tx_hash: False,
                   contract_cache: ContractCache | None = None) -> Executor:
    """An executor for ``shard`` of ``genesis`` with the native ledger and the contract VM
    registered. ``contract_cache``: compiled contracts (default: the VM's bounds, no
    persisted code); node-local, so nothing it holds changes an outcome or a gas figure."""
    fees = fee_params(genesis)
    window = genesis.consensus.tx_validity_window_blocks  # type: ignore[attr-defined]
    params = ExecutorParams(genesis.chain_id, shard, genesis.shard_count, window, fees)
    handlers: dict[ContractKind, Handler] = {
        ContractKind.NATIVE: NativeLedger(genesis.issuers, fees.native_tx_gas),
        ContractKind.CONTRACT: ContractHandler(contract_cache or ContractCache())}
    return Executor(params, handlers, is_committed, is_verified)


def fee_params(genesis: GenesisLike) -> FeeParams:
    """The genesis's fee parameters (``ledger.fees``)."""
    consensus: Any = genesis.consensus
    return FeeParams(consensus.gas_price, consensus.native_tx_gas, consensus.block_gas_limit,
                     genesis.fee_account)


def genesis_state_writes(genesis: GenesisLike, shard: int) -> tuple[StateWrite, ...]:
    """The height-0 write set of ``shard``: its initial balances, sorted by key."""
    pairs = [(item.address, item.amount) for item in genesis.balances_of_shard(shard)]
    return tuple(genesis_writes(pairs))
