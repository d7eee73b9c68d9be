"""Deploy-time compilation: validated, instrumented source -> `Contract`.

A `Contract` is immutable and holds no per-call state, so one compiled object serves every
call on every shard; `ContractCache` keeps the most recently used ones, keyed by source.
Module code runs once, at compile time, with empty builtins: it can only bind constants
and define functions. Each call later rebinds the functions to fresh globals
(`bind_globals`), so no state can leak from one call into another.
"""

from __future__ import annotations

import ast
import types
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from vm.errors import ContractValidationError
from vm.instrument import instrument
from vm.validate import ContractInfo, parse_quietly, validate_source

contract_cache_entries_max = 256


@dataclass(frozen=True, slots=True, eq=False)
class Contract:
    source: str
    info: ContractInfo
    tree: ast.Module  # as validated; the reference interpreter walks this
    functions: dict[str, tuple[types.CodeType, tuple[Any, ...] | None]]
    constants: dict[str, Any]
    signatures: dict[str, tuple[frozenset[str], frozenset[str]]]  # params, required params

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
    module = instrument(parse_quietly(source), info)  # the validated tree stays untouched
    try:
        code = compile(module, "<contract>", "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise ContractValidationError("compile", 0, 0, "the source does not compile") from None
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(code, namespace)  # noqa: S102 - validated code; binds constants and functions only
    functions = {}
    constants = {}
    for name, value in namespace.items():
        if name in info.functions:
            functions[name] = (value.__code__, value.__defaults__)
        elif name in info.constants:
            constants[name] = value
    signatures = {}
    for name, function in info.functions.items():
        defaults = functions[name][1] or ()
        required = function.params[: len(function.params) - len(defaults)]
        signatures[name] = (frozenset(function.params), frozenset(required))
    return Contract(source, info, tree, functions, constants, signatures)


class ContractCache:
    """Most recently used compiled contracts, keyed by their source bytes."""

    def __init__(self, entries_max: int = contract_cache_entries_max) -> None:
        self.entries_max = entries_max
        self.entries: OrderedDict[bytes, Contract] = OrderedDict()

    def get(self, source: bytes) -> Contract:
        contract = self.entries.get(source)
        if contract is not None:
            self.entries.move_to_end(source)
            return contract
        contract = compile_contract(source.decode("utf-8"))
        self.entries[source] = contract
        if len(self.entries) > self.entries_max:
            self.entries.popitem(last=False)
        return contract


default_cache = ContractCache()
