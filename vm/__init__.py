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
  (keys: str, bytes, bool or ints of at most 60 bits: keys whose hashes cannot be built to
  collide), range. No floats, no sets.
* Storage: `m[k]`, `m[k] = v`, `del m[k]`, `k in m`, `m.get(k, d)`, `m.set/contains/delete`;
  `v.get(d)`, `v.set(x)` (None deletes). Reads return copies; storage cannot be iterated.
  Map keys may also be short tuples of scalars (they are encoded, never hashed).
* `x += y` rebinds (`x = x + y`), it never mutates in place; comparisons do not chain;
  `is` only compares with None. Host API: `ctx`, `require`, `revert`, `emit`, `call`,
  `try_call`, `sha256` (vm/builtins.py).

What a receipt holds (consensus data: hashed into the receipts root, so the same on every
node, whatever its caches, its stack depth or its CPython patch release):

* status: the `ErrorCode` (vm/errors.py), a consensus enum;
* gas used: a function of the transaction and the state only (static costs are fixed at
  compile time, every dynamic charge depends on values, never on caches or timing; code
  is charged once per transaction and contract whether or not it was cached);
* message: empty on success; otherwise the VM's own text, never CPython's or msgpack's: a
  fixed text per class of interpreter error (`errors.failure_message`), a VM message built
  from constants, ASCII identifiers and integers (names quoted with `ascii()`), a
  validation error's rule, line, column and fixed text, or the contract's own revert text
  (at most 256 code points, valid UTF-8: str literals with lone surrogates are rejected at
  deploy and every encoded value is checked);
* return data: canonical msgpack (vm/codec.py) of the returned value;
* events: contract address, an ASCII identifier, canonical msgpack of the fields.

Nothing else reaches a receipt. A condition a contract (or a transaction's arguments) can
cause is always one of these outcomes; an exception escaping `deploy`, `execute` or
`query` is `VMInternalError` (a node fault: halt the shard) or, for a host programming
error (a bad address type, a gas limit out of range), `ValueError`.

Gas measures work: every operation is charged at least in proportion to the CPU and memory
it takes, whatever its arguments' size, type or content (vm/gas.py has the schedule and
bench/gas_fidelity.py the adversarial catalogue that checks it against a token transfer).
"""

from vm.contract import CodeStore, Contract, ContractCache, DictCodeStore, compile_contract
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
    "BlockContext", "CodeStore", "Contract", "ContractCache", "ContractFailure",
    "ContractValidationError", "DictCodeStore",
    "DictState", "ErrorCode", "Event", "ExecutionResult", "OutOfGas", "StateView", "VMError",
    "VMInternalError", "code_key", "compile_contract", "contract_address", "deploy",
    "execute", "query", "storage_base",
]  # fmt: skip
