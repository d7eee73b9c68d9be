"""Fees: gas costs native balance (DESIGN.md, "Gas measures work"; issue #13 point 4).

Parameters come from the genesis (consensus format): ``gas_price`` native units per unit
of gas (0: no fees at all, nothing below applies), ``native_tx_gas`` the fixed gas of a
native-ledger tx, ``block_gas_limit`` and the genesis ``fee_account``.

Rules (every node applies them in the same order, so receipts and state roots agree):

* **Gas cap of a tx** (``gas_cap``): ``gas_limit`` for a contract tx; ``native_tx_gas``
  for a native tx, whose ``gas_limit`` field is not used (a native tx does a bounded,
  constant amount of work and always uses exactly ``native_tx_gas``). A block's txs may
  ask for at most ``block_gas_limit`` together: the proposer cuts blocks within it and a
  validator refuses a proposal over it (node/node.py).
* **Who pays, where.** A tx executes in its home shard (``ledger.sharding``) and its fee
  is paid there, from the sender's native balance in that shard's state. A native tx's
  home is the sender's shard, so its balance is always there. A contract tx's home is the
  contract's shard; a sender owned by another shard has no balance there (every key lives
  in exactly one shard) and cannot pay: with a nonzero price the mempool refuses such a tx
  (``INSUFFICIENT_FEE`` names both shards). Until two-phase commit lands (DESIGN.md,
  Sharding), a contract is called with fees by accounts of its own shard.
* **Check, run, debit.** Before the handler runs, the sender must hold
  ``gas_cap x gas_price``; if it does not, the tx fails with ``INSUFFICIENT_FEE``, uses no
  gas and changes nothing (the mempool already refused it at admission, so this happens
  only when the balance dropped since, or a faulty primary proposed it). After the
  handler, success or failure alike, the fee ``gas_used x gas_price`` is debited; the
  handler's writes are applied only on success. So a failed tx still pays its fee. A
  native tx (whose gas is always its cap) is debited *before* its handler runs, so a
  transfer can never spend the fee; a contract call cannot touch native balances (the
  VM's keys all start with ``b"S"`` or ``b"C"``, vm/state.py), so the balance the check
  read is still the balance to debit. (This is Ethereum's buy-gas-then-refund, without
  writing the refund.)
* **Txs that fail the executor's precheck pay nothing** (wrong chain or shard, expired,
  replayed, bad signature): they may not be the sender's doing (a replayed or forged tx
  would make the sender pay for someone else's action), so they use no gas.
* **Where the fee goes**, once per block after its last tx (the block's fees together): if
  the genesis names a ``fee_account`` owned by the executing shard, its balance is
  credited. Otherwise (no fee account, or one owned by another
  shard, or a credit that would overflow its balance) the fee is added to the shard's fee
  pool, the state key ``fee_pool_key`` (``b"fee/pool"``, a big-endian unsigned integer of
  any length) in that shard: those fees are out of circulation (burned) until cross-shard
  transfers can sweep them to the fee account. Read it with ``agora_getState``.
* **Value is conserved**: over all shards, balances + fee pools = the genesis balances +
  everything minted by issuers. tests/ledger/test_fees.py checks it over mixed blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import Transaction
from ledger.native import balance_key, balance_max, balance_prefix, encode_balance
from ledger.sharding import shard_of_account
from ledger.types import StateView

fee_pool_key = b"fee/pool"


@dataclass(frozen=True, slots=True)
class FeeParams:
    """The genesis's fee parameters, as one shard's executor applies them."""

    gas_price: int = 0
    native_tx_gas: int = 0
    block_gas_limit: int = 2**63 - 1
    fee_account: bytes = b""  # b"": none, fees go to the pool

    @property
    def charges_fees(self) -> bool:
        return self.gas_price > 0

    def gas_cap(self, tx: Transaction) -> int:
        """The most gas ``tx`` may use: what it counts against the block gas limit."""
        return self.native_tx_gas if tx.contract == b"" else tx.gas_limit

    def max_fee(self, tx: Transaction) -> int:
        """What the sender must hold to have ``tx`` admitted and executed."""
        return self.gas_cap(tx) * self.gas_price

    def block_gas(self, txs: tuple[Transaction, ...] | list[Transaction]) -> int:
        """The gas a block of ``txs`` asks for (the sum of their caps)."""
        return sum(self.gas_cap(tx) for tx in txs)


def prepay(params: FeeParams, tx: Transaction, overlay: dict[bytes, bytes | None],
           view: StateView) -> int | None:
    """Check that ``tx``'s sender holds its maximum fee, and debit a native tx's fee now
    (module docstring). The sender's balance before, or None if it cannot pay. Runs for
    every tx, so it is written flat (a few microseconds with ``settle``)."""
    key = balance_prefix + tx.sender
    value = overlay[key] if key in overlay else view.get(key)
    balance = 0 if value is None else int.from_bytes(value, "big")
    native = tx.contract == b""
    charge = (params.native_tx_gas if native else tx.gas_limit) * params.gas_price
    if balance < charge:
        return None
    if native:
        overlay[key] = (balance - charge).to_bytes(8, "big") if balance > charge else None
    return balance


def settle(params: FeeParams, tx: Transaction, gas_used: int, balance: int,
           overlay: dict[bytes, bytes | None]) -> int:
    """Debit a contract tx's fee from ``balance`` (what ``prepay`` returned); the fee."""
    fee = gas_used * params.gas_price
    if tx.contract == b"":
        return fee  # debited by prepay: a native tx uses exactly native_tx_gas
    assert 0 <= gas_used <= tx.gas_limit, "a handler used more gas than the tx allows"
    if fee:
        left = balance - fee
        overlay[balance_prefix + tx.sender] = left.to_bytes(8, "big") if left else None
    return fee


def credit(params: FeeParams, fees: int, overlay: dict[bytes, bytes | None],
           view: StateView, shard: int, shard_count: int) -> None:
    """Credit a block's ``fees`` to the fee account or the shard's pool (module doc)."""
    if not fees:
        return
    account = params.fee_account
    if account and shard_of_account(account, shard_count) == shard:
        key = balance_key(account)
        credited = _balance(overlay, view, key) + fees
        if credited <= balance_max:
            overlay[key] = encode_balance(credited)
            return
    overlay[fee_pool_key] = encode_pool(pool_of(_Layered(overlay, view)) + fees)


def _balance(overlay: dict[bytes, bytes | None], view: StateView, key: bytes) -> int:
    value = overlay[key] if key in overlay else view.get(key)
    return 0 if value is None else int.from_bytes(value, "big")


class _Layered:
    """The block overlay over the state view, as one view."""

    def __init__(self, overlay: dict[bytes, bytes | None], view: StateView) -> None:
        self._overlay, self._view = overlay, view

    def get(self, key: bytes) -> bytes | None:
        overlay = self._overlay
        return overlay[key] if key in overlay else self._view.get(key)


def pool_of(state: StateView) -> int:
    """The shard's fee pool (fees held out of circulation)."""
    value = state.get(fee_pool_key)
    return 0 if value is None else int.from_bytes(value, "big")


def encode_pool(amount: int) -> bytes:
    assert amount > 0
    return amount.to_bytes((amount.bit_length() + 7) // 8, "big")


__all__ = ["FeeParams", "credit", "fee_pool_key", "pool_of", "prepay", "settle"]
