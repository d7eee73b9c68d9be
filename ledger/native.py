"""The built-in native ledger (``contract == b""``): balances, transfers, issuer mints.

Key layout (in the state of the shard that owns the account, ``ledger.sharding``)::

    b"bal/" + address (32 bytes)  ->  balance as 8-byte big-endian unsigned

A missing key is a zero balance, and a balance that drops to zero is deleted, so the state
holds only funded accounts. Balances are at most ``balance_max`` (2**63 - 1, the canonical
codec's signed range) and every amount is checked against it: no silent wraparound.

Methods (``args`` is the canonical msgpack array of the arguments):

* ``transfer(to: bytes32, amount: int)``: move ``amount`` > 0 from the sender to ``to``.
  Event ``Transfer [from, to, amount]``.
* ``mint(to: bytes32, amount: int)``: create ``amount`` > 0 for ``to``; only the
  genesis ``issuers`` may call it (none means no mint ever). Event ``Mint [to, amount]``.

The ledger is nonce-free: replay protection is the executor's (tx hash within the
validity window). A transfer or mint to an account of another shard is cross-shard and
fails with ``CROSS_SHARD`` until two-phase commit lands. Native calls are not metered
(each does a bounded, constant amount of work): every one, successful or not, uses the
genesis's fixed ``native_tx_gas`` (``ledger.fees``).
"""

from __future__ import annotations

from collections.abc import Iterable

from consensus import codec
from consensus.errors import DecodeError
from consensus.types import Transaction
from ledger.types import CallContext, CallOutcome, StateView, Status, TxState
from ledger.sharding import shard_of_account

balance_prefix = b"bal/"
address_bytes = 32
balance_max = 2**63 - 1
native_contract = b""  # the events' ``contract`` field for the native ledger


def balance_key(address: bytes) -> bytes:
    assert len(address) == address_bytes, "an account address is 32 bytes"
    return balance_prefix + address


def encode_balance(amount: int) -> bytes:
    assert 0 < amount <= balance_max, "zero balances are deleted, not stored"
    return amount.to_bytes(8, "big")


def balance_of(state: StateView, address: bytes) -> int:
    value = state.get(balance_key(address))
    return 0 if value is None else int.from_bytes(value, "big")


def _put_balance(state: TxState, address: bytes, amount: int) -> None:
    state.put(balance_key(address), encode_balance(amount) if amount else None)


def genesis_writes(balances: Iterable[tuple[bytes, int]]) -> list[tuple[bytes, bytes]]:
    """Height-0 state writes for a shard's initial balances, sorted by key."""
    return sorted((balance_key(address), encode_balance(amount))
                  for address, amount in balances if amount > 0)


class NativeLedger:
    """The ``ContractKind.NATIVE`` handler; ``issuers`` come from the genesis."""

    __slots__ = ("gas", "issuers")

    def __init__(self, issuers: Iterable[bytes] = (), gas: int = 0) -> None:
        self.issuers = frozenset(issuers)
        self.gas = gas  # what every native tx uses

    def __call__(self, tx: Transaction, context: CallContext, state: TxState) -> CallOutcome:
        outcome = self._run(tx, context, state)
        return CallOutcome(outcome.status, self.gas, outcome.error, outcome.result)

    def _run(self, tx: Transaction, context: CallContext, state: TxState) -> CallOutcome:
        arguments = _decode_arguments(tx.args)
        if isinstance(arguments, CallOutcome):
            return arguments
        to, amount = arguments
        if shard_of_account(to, context.shard_count) != context.shard:
            return CallOutcome(Status.CROSS_SHARD,
                               error="recipient is in another shard (cross-shard transfers "
                                     "are not supported yet)")
        if tx.method == "transfer":
            return _transfer(tx.sender, to, amount, state)
        if tx.method == "mint":
            if tx.sender not in self.issuers:
                return CallOutcome(Status.NOT_ISSUER, error="sender is not a genesis issuer")
            return _mint(to, amount, state)
        return CallOutcome(Status.NO_SUCH_METHOD,
                           error=f"native ledger has no method {tx.method!r}")


def _decode_arguments(args: bytes) -> tuple[bytes, int] | CallOutcome:
    try:
        value = codec.unpack(args, 1024)
    except DecodeError as error:
        return CallOutcome(Status.INVALID_ARGUMENT, error=f"args are not canonical: {error}")
    if not (isinstance(value, tuple) and len(value) == 2):
        return CallOutcome(Status.INVALID_ARGUMENT, error="args must be [to, amount]")
    to, amount = value
    if not isinstance(to, bytes) or len(to) != address_bytes:
        return CallOutcome(Status.INVALID_ARGUMENT, error="to must be a 32-byte address")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= balance_max:
        return CallOutcome(Status.INVALID_ARGUMENT,
                           error=f"amount must be an integer in 1..{balance_max}")
    return to, amount


def _transfer(sender: bytes, to: bytes, amount: int, state: TxState) -> CallOutcome:
    balance = balance_of(state, sender)
    if balance < amount:
        return CallOutcome(Status.INSUFFICIENT_BALANCE,
                           error=f"balance {balance} is less than {amount}")
    if to != sender:
        received = balance_of(state, to) + amount
        if received > balance_max:
            return CallOutcome(Status.BALANCE_OVERFLOW, error="recipient balance would overflow")
        _put_balance(state, sender, balance - amount)
        _put_balance(state, to, received)
    state.emit(native_contract, "Transfer", codec.pack((sender, to, amount)))
    return CallOutcome(Status.OK)


def _mint(to: bytes, amount: int, state: TxState) -> CallOutcome:
    received = balance_of(state, to) + amount
    if received > balance_max:
        return CallOutcome(Status.BALANCE_OVERFLOW, error="recipient balance would overflow")
    _put_balance(state, to, received)
    state.emit(native_contract, "Mint", codec.pack((to, amount)))
    return CallOutcome(Status.OK)
