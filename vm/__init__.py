"""Agora's contract VM: deterministic, gas-metered, sandboxed Python contracts.

Public API (see each module's docstring for the details it owns):

* `compile_contract(source) -> Contract` (vm/contract.py): validates the source against the
  allow-list (vm/validate.py) and instruments it for gas (vm/instrument.py). Raises
  `ContractValidationError` naming the rule, line and column.
* `deploy(state, source, address, context, gas_limit, args=None) -> ExecutionResult`,
  `execute(state, address, method, args, context, gas_limit) -> ExecutionResult`,
  `query(state, address, method, args, context, gas_limit) -> ExecutionResult`
  (vm/engine.py): run a call against a `StateView` (vm/state.py: `get(key) -> bytes|None`).
  The VM never writes state; it returns an ordered write set, events, gas used and an
  `ErrorCode` (vm/errors.py).
* Gas schedule and limits: vm/gas.py. Host API and builtins: vm/builtins.py. Storage key
  layout: vm/state.py. Canonical value encoding: vm/codec.py.
* Reference interpreter (test oracle): vm/reference.py.

A contract:

    balances = Map()          # persistent storage, namespaced by the contract address
    supply = Value()

    @export
    def init(amount: int):
        balances[ctx.sender] = amount
        supply.set(amount)

    @export
    def transfer(to: bytes, amount: int):
        have = balances.get(ctx.sender, 0)
        require(amount > 0 and have >= amount, "insufficient balance")
        balances[ctx.sender] = have - amount
        balances[to] = balances.get(to, 0) + amount
        emit("Transfer", sender=ctx.sender, to=to, amount=amount)

    @view
    def balance_of(who: bytes) -> int:
        return balances.get(who, 0)

The language, in short (vm/validate.py has the full allow-list):

* Module level: functions, storage declarations (`Map()`, `Value()`) and constants (int,
  str, bytes, bool, None, tuples of those). `@export` methods are callable by
  transactions and contracts, `@view` methods also by queries and never write or emit;
  undecorated functions are internal. `init`, if exported, runs once from `deploy`.
* Values: None, bool, int (<= `gas.int_bits_max` bits), str, bytes, list, tuple, dict
  (keys: int, str, bytes, bool or short tuples of those), range. No floats, no sets.
* Storage: `m[k]`, `m[k] = v`, `del m[k]`, `k in m`, `m.get(k, d)`, `m.set/contains/delete`;
  `v.get(d)`, `v.set(x)` (None deletes). Reads return copies; storage cannot be iterated.
* `x += y` rebinds (`x = x + y`), it never mutates in place; comparisons do not chain;
  `is` only compares with None. Host API: `ctx`, `require`, `revert`, `emit`, `call`,
  `try_call`, `sha256` (vm/builtins.py).
"""

from vm.contract import Contract, ContractCache, compile_contract
from vm.engine import ExecutionResult, deploy, execute, query
from vm.errors import (
    ContractFailure,
    ContractValidationError,
    ErrorCode,
    OutOfGas,
    VMError,
    VMInternalError,
)
from vm.state import (
    BlockContext,
    DictState,
    Event,
    StateView,
    code_key,
    contract_address,
    storage_base,
)

__all__ = [
    "BlockContext", "Contract", "ContractCache", "ContractFailure", "ContractValidationError",
    "DictState", "ErrorCode", "Event", "ExecutionResult", "OutOfGas", "StateView", "VMError",
    "VMInternalError", "code_key", "compile_contract", "contract_address", "deploy",
    "execute", "query", "storage_base",
]  # fmt: skip
