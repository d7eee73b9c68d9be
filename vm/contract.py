"""Deploy-time compilation: validated, instrumented source -> `Contract`, and its caches.

A `Contract` is immutable and holds no per-call state, so one compiled object serves every
call on every shard. Module code runs once, at compile time, with empty builtins: it can
only bind constants and define functions. Each call later rebinds the functions to fresh
globals (`bind_globals`), so no state can leak from one call into another.

Caching (node-local, never consensus data; outcomes and gas never depend on it):

* `ContractCache` keeps the most recently used contracts in memory, bounded both in entries
  and in estimated bytes (`memory_bytes`, 48 bytes per source byte plus 16 KB: a compiled
  contract holds 8 to 24 bytes per byte of source, measured with tracemalloc, now that the
  syntax tree is not kept, which made a 62 KB contract hold ~14 MB;
  tests/vm/test_gas_mechanisms.py checks the estimate stays above the measurement). The
  node sets both bounds from its config. Sources that failed validation are remembered too
  (a bounded map of digest -> error), so a failing deploy repeated is not re-validated.
* A `CodeStore` (optional, given by the node: a LevelDB-backed map) persists the marshalled
  code of every contract compiled here, keyed by the source digest and a fingerprint of
  the VM and the interpreter. Every node compiles each contract once, at its deploy, so a
  call that misses the memory cache is a read and a `marshal.loads` (4 to 14 ns per source
  byte, charged by the engine with the code load), not a compile (2 to 5 us per byte). A
  store that lacks the code (a node that lost it) compiles: slower, same outcome.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import marshal
import sys
import types
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vm.errors import ContractValidationError
from vm.instrument import instrument
from vm.validate import ContractInfo, FunctionInfo, parse_quietly, validate_source

contract_cache_entries_max = 256
contract_cache_bytes_max = 256 * 1024 * 1024
contract_bytes_per_source_byte = 48  # estimate of a compiled contract's memory (see above)
contract_bytes_fixed = 16 * 1024
failures_cached_max = 1024


# The reference interpreter (a test oracle) asks for the tree on every call: a few parsed
# trees are kept for it, never for the fast path.
_parse_for_reference = functools.lru_cache(maxsize=16)(parse_quietly)


def _vm_fingerprint() -> bytes:
    """Persisted code is valid only for the VM and the interpreter that compiled it."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode("ascii"))
    directory = Path(__file__).parent
    for name in ("validate.py", "instrument.py", "names.py", "gas.py", "contract.py"):
        digest.update((directory / name).read_bytes())
    return digest.digest()


_fingerprint = _vm_fingerprint()


class CodeStore(Protocol):
    """Node-local persistent map for compiled code (a LevelDB prefix, say)."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


class DictCodeStore:
    """A CodeStore over a dict, for tests and benchmarks."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value


@dataclass(frozen=True, slots=True, eq=False)
class Contract:
    source: str
    info: ContractInfo
    functions: dict[str, tuple[types.CodeType, tuple[Any, ...] | None]]
    constants: dict[str, Any]
    signatures: dict[str, tuple[frozenset[str], frozenset[str]]]  # params, required params

    @property
    def tree(self) -> ast.Module:
        """The validated tree (the reference interpreter walks it). Parsed on demand: the
        fast path never needs it, and keeping it would triple a cached contract's memory."""
        return _parse_for_reference(self.source)

    @property
    def memory_bytes(self) -> int:
        return contract_bytes_fixed + len(self.source) * contract_bytes_per_source_byte

    def bind_globals(self, bindings: dict[str, Any]) -> dict[str, Any]:
        """Fresh globals for one invocation: helpers, storage, ctx, constants, functions."""
        namespace = dict(bindings)
        namespace.update(self.constants)
        for name, (code, defaults) in self.functions.items():
            namespace[name] = types.FunctionType(code, namespace, name, defaults)
        return namespace


def compile_contract(source: str) -> Contract:
    """Validates and instruments `source`; raises ContractValidationError."""
    tree, info = validate_source(source)
    # The validated tree is not kept (the reference interpreter parses again on demand), so
    # the instrumentation may reuse its nodes: one parse per deploy, not two.
    module = instrument(tree, info)
    try:
        code = compile(module, "<contract>", "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError, RecursionError):
        raise ContractValidationError("compile", 0, 0, "the source does not compile") from None
    return _contract(source, info, code)


def _contract(source: str, info: ContractInfo, code: types.CodeType) -> Contract:
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(code, namespace)  # noqa: S102 - validated code; binds constants and functions only
    functions = {}
    constants = {}
    for name, value in namespace.items():
        if name in info.functions:
            functions[name] = (value.__code__, value.__defaults__)
        elif name in info.constants:
            constants[name] = value
    return _assembled(source, info, functions, constants)


def _assembled(
    source: str,
    info: ContractInfo,
    functions: dict[str, tuple[types.CodeType, tuple[Any, ...] | None]],
    constants: dict[str, Any],
) -> Contract:
    signatures = {}
    for name, function in info.functions.items():
        defaults = functions[name][1] or ()
        required = function.params[: len(function.params) - len(defaults)]
        signatures[name] = (frozenset(function.params), frozenset(required))
    return Contract(source, info, functions, constants, signatures)


def _persisted(contract: Contract) -> bytes:
    """What the code store keeps: everything a Contract holds but its source, in marshal
    (code objects, and constants, which are ints, str, bytes, bools, None and tuples)."""
    info = contract.info
    described = tuple((f.name, f.kind, f.params, f.frames) for f in info.functions.values())
    record = (described, tuple(info.storage.items()), tuple(sorted(info.constants)))
    return marshal.dumps((record, contract.functions, contract.constants))


def _restored(source: str, data: bytes) -> Contract | None:
    try:
        (described, storage, constant_names), functions, constants = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None  # a damaged entry: compile instead
    info = ContractInfo(
        {
            name: FunctionInfo(name, kind, tuple(params), frames)
            for name, kind, params, frames in described
        },
        dict(storage),
        frozenset(constant_names),
    )
    return _assembled(source, info, functions, constants)


class ContractCache:
    """Compiled contracts by source: most recently used first, bounded in entries and in
    estimated bytes; backed by an optional persistent `CodeStore` (keyed by digest)."""

    def __init__(
        self,
        entries_max: int = contract_cache_entries_max,
        bytes_max: int = contract_cache_bytes_max,
        code_store: CodeStore | None = None,
    ) -> None:
        assert entries_max >= 1 and bytes_max >= 0
        self.entries_max = entries_max
        self.bytes_max = bytes_max
        self.code_store = code_store
        self.entries: OrderedDict[bytes, Contract] = OrderedDict()
        self.bytes_used = 0
        self.failures: OrderedDict[bytes, ContractValidationError] = OrderedDict()
        self.compiles = 0  # statistics: how often a miss had to compile

    def get(self, source: bytes) -> Contract:
        """The compiled contract for `source` (UTF-8); raises ContractValidationError.

        Keyed by the source bytes themselves (a state view hands out the same bytes object
        for a contract, whose hash Python caches): a digest per call would cost a SHA-256
        of the whole source on the hottest path. The digest is computed on a miss only."""
        contract = self.entries.get(source)
        if contract is not None:
            self.entries.move_to_end(source)
            return contract
        digest = hashlib.sha256(source).digest()
        failure = self.failures.get(digest)
        if failure is not None:
            raise ContractValidationError(failure.rule, failure.line, failure.column,
                                          failure.detail)
        contract = self._load(digest, source)
        self._insert(source, contract)
        return contract

    def _load(self, digest: bytes, source: bytes) -> Contract:
        store_key = _fingerprint + digest
        if self.code_store is not None:
            data = self.code_store.get(store_key)
            if data is not None:
                restored = _restored(source.decode("utf-8"), data)
                if restored is not None:
                    return restored
        self.compiles += 1
        try:
            contract = compile_contract(source.decode("utf-8"))
        except ContractValidationError as exc:
            self.failures[digest] = exc
            if len(self.failures) > failures_cached_max:
                self.failures.popitem(last=False)
            raise
        if self.code_store is not None:
            self.code_store.put(store_key, _persisted(contract))
        return contract

    def _insert(self, source: bytes, contract: Contract) -> None:
        self.entries[source] = contract
        self.bytes_used += contract.memory_bytes
        while len(self.entries) > 1 and (
            len(self.entries) > self.entries_max or self.bytes_used > self.bytes_max
        ):
            _, evicted = self.entries.popitem(last=False)
            self.bytes_used -= evicted.memory_bytes


default_cache = ContractCache()
