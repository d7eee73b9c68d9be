"""Contract transactions: the VM plugged into the executor's dispatch table.

Transactions with ``contract != b""`` are contract transactions, ordered and executed in
the contract's shard (``ledger.sharding.home_shard``):

- **Deploy**: ``method == "_deploy"`` (a name no contract can export: the VM forbids a
  leading underscore), ``contract == contract_address(sender, nonce)`` and ``args`` the VM
  encoding of ``{"source": str, "args": {...init arguments...}}``. The address is derived,
  so nobody can deploy at an address someone else will use; a client that wants its
  contracts side by side in one shard (contracts call each other only within a shard)
  picks the nonce so the address lands there (``find_deploy_nonce``).
- **Call**: ``method`` an exported method, ``args`` the VM encoding of a dict of named
  arguments.

Threads: the node executes blocks and ``agora_call`` in worker threads. Each executor
has a ContractHandler with a compiled-contract cache of its own (one shard's blocks run one
at a time); queries share ``query_cache``, which takes a lock (a cache is an LRU map that
moves entries on every hit, so two threads must never use one at once).

``args`` of contract transactions use the VM's canonical encoding (vm/codec.py: maps with
sorted keys, big ints), not the consensus codec; the transaction signs the bytes, so both
are fixed once signed. The receipt carries the VM's error code (statuses 0..99 mirror
``vm.errors.ErrorCode``), gas used, the message and the return value. Block time for
contracts is the header timestamp in whole seconds, never the wall clock.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import vm
from consensus.types import Transaction
from ledger.types import CallContext, CallOutcome, Status, TxState
from ledger.sharding import shard_of_account
from vm import codec as vm_codec
from vm import gas as vm_gas
from vm.contract import Contract, ContractCache
from vm.errors import VMError
from vm.state import BlockContext

deploy_method = "_deploy"
query_gas_max = 5_000_000  # read-only calls over RPC
args_elements_max = 100_000
_address_domain = b"agora/contract-address/v1"


def contract_address(sender: bytes, nonce: int) -> bytes:
    """The address a deploy by ``sender`` with ``nonce`` creates."""
    return hashlib.sha256(_address_domain + sender + nonce.to_bytes(8, "big")).digest()


def find_deploy_nonce(sender: bytes, shard: int, shard_count: int, start: int = 0) -> int:
    """The first nonce >= ``start`` whose contract address lies in ``shard``."""
    nonce = start
    while shard_of_account(contract_address(sender, nonce), shard_count) != shard:
        nonce += 1
    return nonce


def encode_args(args: dict[str, Any]) -> bytes:
    return vm_codec.encode(args, args_elements_max)


def deploy_args(source: str, init_args: dict[str, Any] | None = None) -> bytes:
    return encode_args({"source": source, "args": dict(init_args or {})})


def _fail(status: int, message: str, gas_used: int = 0) -> CallOutcome:
    return CallOutcome(status, gas_used, message[:512], b"")


def _decode_named_args(data: bytes) -> dict[str, Any] | None:
    try:
        value = vm_codec.decode(data)
    except (VMError, ValueError, TypeError):
        return None
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        return None
    return value


class LockedContractCache(ContractCache):
    """A ContractCache several threads may share (queries run in worker threads)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def get(self, source: bytes) -> Contract:
        with self._lock:
            return super().get(source)


query_cache = LockedContractCache()


class ContractHandler:
    """``handlers[ContractKind.CONTRACT]`` of the executor: deploy and call via the VM.
    ``cache``: compiled contracts (None: the VM's default; see "Threads" above)."""

    def __init__(self, cache: ContractCache | None = None) -> None:
        self.cache = cache

    def __call__(self, tx: Transaction, context: CallContext, state: TxState) -> CallOutcome:
        if not 0 <= tx.gas_limit <= vm_gas.gas_limit_tx_max:
            return _fail(Status.LIMIT_EXCEEDED,
                         f"gas_limit must be within 0..{vm_gas.gas_limit_tx_max}")
        args = _decode_named_args(tx.args)
        if args is None:
            return _fail(Status.INVALID_ARGUMENT, "contract args must be a VM-encoded map of "
                         "named arguments")
        block = BlockContext(tx.sender, context.height, context.time_ms // 1000,
                             context.tx_hash)
        if tx.method == deploy_method:
            if tx.contract != contract_address(tx.sender, tx.nonce):
                return _fail(Status.INVALID_ARGUMENT, "a deploy's contract must be "
                             "contract_address(sender, nonce)")
            source, init_args = args.get("source"), args.get("args", {})
            if set(args) - {"source", "args"} or not isinstance(source, str) or \
                    not isinstance(init_args, dict):
                return _fail(Status.INVALID_ARGUMENT, "deploy args are {source: str, "
                             "args: map}")
            result = vm.deploy(state, source, tx.contract, block, tx.gas_limit, init_args,
                               cache=self.cache)
        else:
            result = vm.execute(state, tx.contract, tx.method, args, block, tx.gas_limit,
                                cache=self.cache)
        if not result.ok:
            return _fail(int(result.code), result.message, result.gas_used)
        for key, value in result.writes:
            state.put(key, value)
        for event in result.events:
            state.emit(event.contract, event.name, event.data)
        return CallOutcome(Status.OK, result.gas_used, "", result.return_data)


def query(state: Any, contract: bytes, method: str, args: dict[str, Any], sender: bytes,
          height: int, time_ms: int) -> Any:
    """A read-only call (``@view``) against committed state; returns the VM result."""
    block = BlockContext(sender, height, time_ms // 1000, b"\x00" * 32)
    return vm.query(state, contract, method, args, block, query_gas_max, cache=query_cache)
