"""Entry points the node's executor calls: deploy, execute, query.

    result = vm.deploy(state, source, address, context, gas_limit, args={...})
    result = vm.execute(state, address, "transfer", {"to": b"..", "amount": 5}, context, gas)
    result = vm.query(state, address, "balance_of", {"who": b".."}, context, gas)

`state` is any `StateView` (get(key) -> bytes | None) over the shard's committed state;
the VM never writes it. The executor applies `result.writes` (sorted by key; None means
delete) only if it accepts the transaction; on failure `writes` and `events` are empty and
`gas_used` is still charged. Receipts store `result.code` (an `ErrorCode`), `gas_used`,
`message`, `return_data` and `events`, and all of them are consensus data (see "What a
receipt holds" in vm/__init__.py): the message is the VM's own text, the same on every
node and every CPython patch release.

Stack: the VM counts every Python frame contract code can create (function calls, one
frame per level of comprehension nesting, the host frames of a cross-contract call) against
`gas.function_depth_max`, so a contract reaches CALL_DEPTH, never CPython's recursion limit;
a call uses at most ~300 Python frames below `execute` (a test pins the bound), and the VM
raises CPython's limit to at least `gas.recursion_limit_min` so that neither the host's
stack depth (up to ~2,000 frames) nor a compile of a callee mid-call changes an outcome. If
the interpreter's limit is hit anyway, or any exception the VM did not expect escapes, that
is `VMInternalError` (a node fault: halt the shard), never a receipt.

Threads: calls may run concurrently in several threads (one shard per worker thread, say);
each call takes a `Runtime` of its own from a small pool, and the shared caches (compiled
contracts, packed field names) only hold immutable values.

`engine="reference"` runs the same call on the AST-walking reference interpreter
(vm/reference.py); tests use it as an oracle.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgpack

from vm import codec, gas
from vm.contract import Contract, ContractCache, default_cache
from vm.errors import (
    ContractFailure,
    ContractValidationError,
    ErrorCode,
    OutOfGas,
    VMInternalError,
    failure_message,
)
from vm.runtime import Frame, Runtime, contract_exceptions, failure_code
from vm.state import BlockContext, Ctx, Event, StateView, address_bytes, code_key

constructor_name = "init"  # run by deploy only, never callable afterwards
if sys.getrecursionlimit() < gas.recursion_limit_min:
    sys.setrecursionlimit(gas.recursion_limit_min)  # at import; _run checks it again
Writes = tuple[tuple[bytes, bytes | None], ...]


class ExecutionResult(NamedTuple):
    """Outcome of a deploy, call or query. Immutable; a NamedTuple rather than a frozen
    dataclass because one is built per call and that costs a frozen dataclass ~1 us, about
    8% of a token transfer (bench/vm_bench.py)."""

    code: ErrorCode
    message: str
    return_data: bytes  # canonical msgpack of the returned value (None on failure)
    writes: Writes
    events: tuple[Event, ...]
    gas_used: int

    @property
    def ok(self) -> bool:
        return self.code is ErrorCode.OK

    @property
    def value(self) -> Any:
        return codec.decode(self.return_data)

    def canonical_bytes(self) -> bytes:
        """The deterministic part of this result with its write set (tests compare it; the
        node's receipt also holds the message, which is deterministic too)."""
        events = [[event.contract, event.name, event.data] for event in self.events]
        writes = [[key, value] for key, value in self.writes]
        record = [int(self.code), self.gas_used, self.return_data, writes, events]
        encoded: bytes = msgpack.packb(record, use_bin_type=True)
        return encoded


class _Engine:
    """Loads code and runs one contract frame, on the fast path or the reference."""

    def __init__(self, cache: ContractCache, context: BlockContext, reference: bool) -> None:
        self.cache = cache
        self.context = context
        self.reference = reference
        self.constructing = False

    def load(self, runtime: Runtime, address: bytes) -> Contract:
        """The code at `address`. The first load in a transaction charges the read and
        its bytes (`gas.code_load_bytes_per_gas`) (what a miss of the memory cache costs: a read
        of the persisted code, see vm/contract.py); later loads in the same transaction use
        the contract it holds, so no cache state can change what a transaction does."""
        loaded = runtime.loaded.get(address)
        if loaded is not None:
            return loaded  # type: ignore[no-any-return]
        key = code_key(address)
        overlay = runtime.journal.overlay
        source = overlay[key] if key in overlay else runtime.state.get(key)
        if source is None:
            raise ContractFailure("no contract at this address", ErrorCode.NO_SUCH_CONTRACT)
        runtime.charge(gas.storage_read_gas + len(source) // gas.code_load_bytes_per_gas)
        contract = self.cache.get(source)
        runtime.loaded[address] = contract
        return contract

    def __call__(
        self,
        runtime: Runtime,
        address: bytes,
        method: str,
        args: dict[str, Any],
        caller: Frame | None,
        read_only: bool,
    ) -> Any:
        contract = self.load(runtime, address)
        info = contract.info.functions.get(method)
        if method == constructor_name:
            # `init` runs once, from deploy (which sets the flag for exactly one frame);
            # neither a transaction nor a contract can call any `init` afterwards.
            if not self.constructing:
                info = None
            self.constructing = False
        if info is None or info.kind == "internal" or (read_only and info.kind != "view"):
            raise ContractFailure(f"no callable method {method!a}", ErrorCode.NO_SUCH_METHOD)
        _check_arguments(contract, method, args)
        context = self.context
        sender = caller.address if caller is not None else context.sender
        ctx = Ctx(sender, address, context.height, context.time, context.tx_hash, context.sender)
        inherited = caller.read_only if caller is not None else read_only
        frame = Frame(address, ctx, inherited or info.kind == "view")
        runtime.frames.append(frame)
        try:
            if self.reference:
                from vm.reference import call_function

                return call_function(runtime, contract, frame, method, args)
            namespace = runtime.namespace(address, contract)
            saved_ctx = namespace.get("ctx")
            namespace["ctx"] = ctx
            try:
                return namespace[method](**args)
            finally:
                namespace["ctx"] = saved_ctx  # a re-entrant call must not leave its ctx
        finally:
            runtime.frames.pop()


def _check_arguments(contract: Contract, method: str, args: dict[str, Any]) -> None:
    params, required = contract.signatures[method]
    if not (required <= args.keys() <= params):
        names = ", ".join(contract.info.functions[method].params)
        raise ContractFailure(f"{method} takes ({names})", ErrorCode.INVALID_ARGUMENT)


def _run(
    state: StateView,
    context: BlockContext,
    gas_limit: int,
    reference: bool,
    cache: ContractCache | None,
    body: Any,
) -> ExecutionResult:
    if not 0 <= gas_limit <= gas.gas_limit_tx_max:
        raise ValueError(f"gas_limit must be within 0..{gas.gas_limit_tx_max}")
    if sys.getrecursionlimit() < gas.recursion_limit_min:
        sys.setrecursionlimit(gas.recursion_limit_min)  # raised only, never lowered
    engine = _Engine(cache or default_cache, context, reference)
    runtime = _acquire()
    try:
        return _run_body(runtime, state, gas_limit, engine, body)
    finally:
        _release(runtime)


_pool: list[Runtime] = []
_pool_size_max = 4


def _acquire() -> Runtime:
    try:
        return _pool.pop()
    except IndexError:
        return Runtime()


def _release(runtime: Runtime) -> None:
    runtime.state = _nothing  # drop the reference to the caller's state view
    if len(_pool) < _pool_size_max:
        _pool.append(runtime)


class _Nothing:
    def get(self, key: bytes) -> bytes | None:
        return None


_nothing = _Nothing()


def _released(*args: Any) -> Any:
    raise AssertionError("runtime used after release")


def _run_body(
    runtime: Runtime, state: StateView, gas_limit: int, engine: _Engine, body: Any
) -> ExecutionResult:
    meter = runtime.meter
    runtime.begin(state, gas_limit, engine)
    try:
        value = body(runtime, engine)
        return_data = runtime.encode(value, gas.return_bytes_max)
        if len(return_data) > gas.return_bytes_max:
            raise ContractFailure("return value too large", ErrorCode.LIMIT_EXCEEDED)
        runtime.charge(len(return_data) // gas.bytes_per_gas)
    except OutOfGas:
        return _failure(ErrorCode.OUT_OF_GAS, "out of gas", gas_limit)
    except ContractFailure as exc:
        return _failure(exc.code, failure_message(exc), meter.used)
    except contract_exceptions as exc:
        return _failure(failure_code(exc), failure_message(exc), meter.used)
    except (RecursionError, MemoryError) as exc:
        raise VMInternalError(f"interpreter limit reached: {type(exc).__name__}") from exc
    except Exception as exc:
        # Nothing a contract can do gets here (the caps, the depth accounting and the
        # encodability checks turn every contract-caused condition into a ContractFailure):
        # an exception the VM did not expect is a node fault, never a receipt.
        raise VMInternalError(f"unexpected {type(exc).__name__} in the VM") from exc
    return ExecutionResult(
        ErrorCode.OK, "", return_data, runtime.journal.write_set(),
        tuple(runtime.journal.events), meter.used,
    )  # fmt: skip


def _failure(code: ErrorCode, message: str, gas_used: int) -> ExecutionResult:
    return ExecutionResult(code, message[:512], codec.encode(None, 1), (), (), gas_used)


def _check_address(address: bytes) -> None:
    if type(address) is not bytes or len(address) != address_bytes:
        raise ValueError(f"contract addresses are {address_bytes} bytes")


def execute(
    state: StateView,
    address: bytes,
    method: str,
    args: Mapping[str, Any],
    context: BlockContext,
    gas_limit: int,
    *,
    engine: str = "fast",
    cache: ContractCache | None = None,
) -> ExecutionResult:
    """Runs an exported (or view) method of the contract at `address`."""
    _check_address(address)

    def body(runtime: Runtime, run: _Engine) -> Any:
        runtime.charge(gas.contract_call_gas)  # the fixed cost of a call, as between contracts
        arguments = _copy_arguments(runtime, args)
        return run(runtime, address, method, arguments, None, False)

    return _run(state, context, gas_limit, engine == "reference", cache, body)


def query(
    state: StateView,
    address: bytes,
    method: str,
    args: Mapping[str, Any],
    context: BlockContext,
    gas_limit: int,
    *,
    engine: str = "fast",
    cache: ContractCache | None = None,
) -> ExecutionResult:
    """Runs a `@view` method read-only (any write or emit is ErrorCode.READ_ONLY)."""
    _check_address(address)

    def body(runtime: Runtime, run: _Engine) -> Any:
        runtime.charge(gas.contract_call_gas)
        arguments = _copy_arguments(runtime, args)
        return run(runtime, address, method, arguments, None, True)

    return _run(state, context, gas_limit, engine == "reference", cache, body)


def deploy(
    state: StateView,
    source: str,
    address: bytes,
    context: BlockContext,
    gas_limit: int,
    args: Mapping[str, Any] | None = None,
    *,
    engine: str = "fast",
    cache: ContractCache | None = None,
) -> ExecutionResult:
    """Validates `source`, stores it at `address` and runs its `init` (if exported) with
    `args`. Invalid source gives ErrorCode.INVALID_CONTRACT with the rule, line and column
    in the message."""
    _check_address(address)
    used_cache = cache or default_cache

    def body(runtime: Runtime, run: _Engine) -> Any:
        if type(source) is not str:
            raise ContractFailure("source must be str", ErrorCode.INVALID_CONTRACT)
        try:
            data = source.encode("utf-8")
        except UnicodeEncodeError:
            raise ContractFailure("source is not valid UTF-8", ErrorCode.INVALID_CONTRACT) from None
        runtime.charge(
            gas.contract_call_gas + gas.storage_write_gas + len(data) * gas.deploy_byte_gas
        )
        try:
            contract = used_cache.get(data)
        except ContractValidationError as exc:
            raise ContractFailure(str(exc), ErrorCode.INVALID_CONTRACT) from None
        key = code_key(address)
        if runtime.state.get(key) is not None or key in runtime.journal.overlay:
            raise ContractFailure("address already holds a contract", ErrorCode.INVALID_ARGUMENT)
        runtime.journal.put(key, data)
        init = contract.info.functions.get(constructor_name)
        if init is None or init.kind != "export":
            return None
        arguments = _copy_arguments(runtime, args or {})
        run.constructing = True
        return run(runtime, address, constructor_name, arguments, None, False)

    return _run(state, context, gas_limit, engine == "reference", used_cache, body)


def _copy_arguments(runtime: Runtime, args: Mapping[str, Any]) -> dict[str, Any]:
    # Keys that are not str cannot match a parameter: _check_arguments rejects them.
    if type(args) is not dict:
        if not isinstance(args, Mapping):
            raise ContractFailure("arguments must be a mapping", ErrorCode.INVALID_ARGUMENT)
        args = dict(args)
    try:
        copied = runtime.copy_value(args)
    except ContractFailure as exc:
        raise ContractFailure(str(exc), ErrorCode.INVALID_ARGUMENT) from None
    return copied  # type: ignore[no-any-return]
