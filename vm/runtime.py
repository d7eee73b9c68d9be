"""The metered runtime: gas meter, operator helpers, builtins, methods, storage, host API.

Instrumented contract code (vm/instrument.py) and the reference interpreter
(vm/reference.py) both call into one `Runtime` per transaction, so they share every
dynamic charge and cap; they differ only in how static costs are charged (see vm/gas.py).

Invariants this module owns:

* Every helper checks the size of what it is about to build *before* building it, against
  the caps in vm/gas.py, and charges gas in proportion to that size.
* Operations whose C implementation walks nested containers (==, <, `in`, sorting, index,
  min/max/sum) first count the elements they may touch (`_deep_charge`), so an aliased
  structure like `[x] * n` cannot hide work from the meter.
* Dict keys (and Map keys) are scalars (int, str, bytes, bool) or short tuples of scalars,
  so hashing is bounded by the string caps.
* The values a contract can hold are None, bool, int, str, bytes, list, tuple, dict and
  range: functions, modules, types and exceptions are never reachable as values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from vm import codec, gas
from vm.errors import (
    CallDepthExceeded,
    ContractFailure,
    ContractRuntimeError,
    ErrorCode,
    InvalidValue,
    LimitExceeded,
    OutOfGas,
    ReadOnlyViolation,
)
from vm.state import Ctx, Event, Journal, StateView, storage_base

_scalar_types = frozenset({int, str, bytes, bool, type(None)})
_key_types = frozenset({int, str, bytes, bool})
_sized_types = frozenset({list, tuple, str, bytes, dict, range})
_sequence_types = frozenset({list, tuple, str, bytes})
_tuple_key_elements_max = 16
_flat_copy_entries_max = 16
_short_key_bytes_max = 64
_short_value_bytes_max = 64
_event_names_cached_max = 1024
_pack_bytes: Callable[[Any], bytes] = codec.encode_bytes
_decode_int = codec.decode_int_fast
_encode_int = codec.encode_int
_flat_types = frozenset({int, str, bytes, bool, type(None)})

# Python exceptions that contract code can trigger through allowed operations; they become
# ErrorCode.RUNTIME_ERROR. MemoryError and RecursionError are deliberately absent: the caps
# should make them impossible, so if one happens it is a node fault.
contract_exceptions = (
    ArithmeticError, LookupError, TypeError, ValueError, UnicodeError, AttributeError,
    NameError,  # UnboundLocalError: a local read before any assignment
)  # fmt: skip


class Meter:
    """Gas left; once negative it stays negative and every charge raises OutOfGas."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def reset(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def charge(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise OutOfGas()

    @property
    def used(self) -> int:
        return min(self.limit, self.limit - self.left)


namespaces_max = 256


class _EmptyState:
    def get(self, key: bytes) -> bytes | None:
        return None


def _no_engine(*args: Any) -> Any:
    raise AssertionError("Runtime used outside begin()")


def _int_charge(value: int) -> int:
    bits = value.bit_length()
    if bits > gas.int_bits_max:
        raise LimitExceeded(f"integer exceeds {gas.int_bits_max} bits")
    return gas.arith_gas + (bits >> 6)


def _check_key(key: Any) -> int:
    """Checks a key of an in-memory dict; returns the gas its hashing and comparing take.

    Only keys whose hashes a contract cannot steer into collisions: str and bytes (SipHash,
    keyed per process), bool, and ints of at most `gas.dict_key_int_bits_max` bits (they
    hash to themselves, so distinct keys have distinct hashes). Tuples and big ints hash
    deterministically, and keys built to collide would make every insert and lookup walk
    all the others at the price of one."""
    kind = type(key)
    if kind is str or kind is bytes:
        return len(key) // gas.bytes_per_gas  # hashed once per object, compared on a hit
    if kind is int:
        bits = key.bit_length()
        if bits <= 16:
            return 0
        if bits <= gas.dict_key_int_bits_max:
            return (bits - 16) * gas.dict_int_key_gas_per_bit
    elif kind is bool:
        return 0
    raise ContractRuntimeError(
        f"dict keys must be str, bytes, bool or an int of at most "
        f"{gas.dict_key_int_bits_max} bits"
    )


def _check_storage_key(key: Any) -> None:
    """A Map key is encoded to bytes before any hashing, so short tuples are fine."""
    kind = type(key)
    if kind in _key_types:
        return
    if kind is tuple and len(key) <= _tuple_key_elements_max:
        for element in key:
            if type(element) not in _key_types:
                break
        else:
            return
    raise ContractRuntimeError("keys must be int, str, bytes, bool or a short tuple of those")


def _sized_length(value: Any) -> int:
    if type(value) not in _sized_types:
        raise ContractRuntimeError(f"expected a sized container, got {type(value).__name__}")
    return len(value)


def _check_length(length: int) -> int:
    if length > gas.container_elements_max:
        raise LimitExceeded(f"container exceeds {gas.container_elements_max} elements")
    return length


def _check_text(length: int) -> int:
    if length > gas.str_bytes_max:
        raise LimitExceeded(f"str/bytes exceeds {gas.str_bytes_max}")
    return length


class Frame:
    """One contract invocation: the contract, its address, ctx, and whether it may write."""

    __slots__ = ("address", "ctx", "read_only")

    def __init__(self, address: bytes, ctx: Ctx, read_only: bool) -> None:
        self.address = address
        self.ctx = ctx
        self.read_only = read_only


class Runtime:
    """All state of one transaction's execution: meter, journal, call stack, caches."""

    def __init__(self) -> None:
        # A Runtime is reused from transaction to transaction (see engine._acquire), so the
        # bound helpers below and the per-address namespaces are built once, not per call.
        self.meter = Meter(0)
        self.charge = self.meter.charge
        self.state: StateView = _EmptyState()
        self.journal = Journal()
        self.function_depth = 0
        self.frames: list[Frame] = []
        self.loaded: dict[bytes, Any] = {}  # address -> Contract loaded in this transaction
        self.invoke_contract: Callable[..., Any] = _no_engine
        self.bindings = self._make_bindings()
        self.namespaces: OrderedDict[bytes, tuple[object, dict[str, Any]]] = OrderedDict()
        self.event_names: set[str] = set()  # names already checked; membership only

    def begin(self, state: StateView, gas_limit: int, invoke: Callable[..., Any]) -> None:
        """Starts a transaction: fresh meter, journal and call stack."""
        self.state = state
        self.meter.reset(gas_limit)
        self.journal = Journal()
        self.function_depth = 0
        self.frames = []
        self.loaded = {}
        self.invoke_contract = invoke

    def namespace(self, address: bytes, contract: Any) -> dict[str, Any]:
        """Globals of `contract` at `address`, bound to this runtime. Contract code cannot
        write its globals (no `global` statement, constants are immutable), so one
        namespace can serve every call; the caller sets and restores `ctx`."""
        entry = self.namespaces.get(address)
        if entry is not None and entry[0] is contract:
            return entry[1]
        namespace: dict[str, Any] = contract.bind_globals(self.bindings)
        namespace.update(make_storage(self, address, contract.info.storage))
        self.namespaces[address] = (contract, namespace)
        if len(self.namespaces) > namespaces_max:
            self.namespaces.popitem(last=False)
        return namespace

    # --- bindings ---------------------------------------------------------------------
    def _make_bindings(self) -> dict[str, Any]:
        """Names the instrumented code sees (helpers start with `_`, which contracts
        cannot spell) plus the metered builtins and host functions."""
        bindings: dict[str, Any] = {
            "_g": self.charge, "_enter": self.enter, "_leave": self.leave,
            "_it": self.iterate, "_cit": self.iterate_capped, "_wt": self.while_test,
            "_add": self.add, "_sub": self.sub, "_mul": self.mul, "_floordiv": self.floordiv,
            "_mod": self.mod, "_pow": self.pow, "_lshift": self.lshift,
            "_rshift": self.rshift, "_bitor": self.bitor, "_bitxor": self.bitxor,
            "_bitand": self.bitand,
            "_eq": self.eq, "_ne": self.ne, "_lt": self.lt, "_le": self.le, "_gt": self.gt,
            "_ge": self.ge, "_in": self.contains, "_notin": self.not_contains,
            "_getitem": self.getitem, "_setitem": self.setitem, "_delitem": self.delitem,
            "_slice": self.slice, "_meth": self.method, "_mkdict": self.make_dict,
            "_key": self.key,
        }  # fmt: skip
        bindings.update(self.builtins())
        bindings.update(self.host_functions())
        return bindings

    # --- control ----------------------------------------------------------------------
    def enter(self, frames: int = 1) -> None:
        """A contract function starts; it can hold `frames` Python frames at once (see
        instrument.python_frames). The depth counts every Python frame contract code can
        create, so the VM's limit, not CPython's, is the one a contract reaches."""
        self.charge(gas.function_call_gas)
        depth = self.function_depth + frames
        if depth > gas.function_depth_max:
            raise CallDepthExceeded("function calls nested too deeply")
        self.function_depth = depth

    def leave(self, frames: int = 1) -> None:
        self.function_depth -= frames

    def iterate(self, iterable: Any, cost: int) -> Any:
        if type(iterable) not in _sized_types:
            raise ContractRuntimeError(f"cannot iterate over {type(iterable).__name__}")
        charge = self.charge
        try:
            for item in iterable:
                charge(cost)
                yield item
        except RecursionError:
            raise
        except RuntimeError:  # a dict changed size while being iterated
            raise ContractFailure("container changed during iteration") from None

    def iterate_capped(self, iterable: Any, cost: int) -> Any:
        """Iteration inside a comprehension, whose result grows with every item: capped,
        and each item also pays `element_gas` for its place in the result. One generator
        (not one wrapping `iterate`): each item resumes it once."""
        if type(iterable) not in _sized_types:
            raise ContractRuntimeError(f"cannot iterate over {type(iterable).__name__}")
        charge = self.charge
        cost += gas.element_gas
        items = 0
        try:
            for item in iterable:
                charge(cost)
                items += 1
                if items > gas.container_elements_max:
                    raise LimitExceeded("comprehension exceeds the container size cap")
                yield item
        except RecursionError:
            raise
        except RuntimeError:  # a dict changed size while being iterated
            raise ContractFailure("container changed during iteration") from None

    def while_test(self, cost: int) -> bool:
        self.charge(cost)
        return True

    # --- arithmetic -------------------------------------------------------------------
    def add(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            result = a + b
            self.charge(_int_charge(result))
            return result
        kind = type(a)
        if kind is bool or type(b) is bool:
            return self.add(int(a), int(b)) if type(a) in (int, bool) else self._type_error(a)
        if kind is not type(b) or kind not in _sequence_types:
            raise ContractRuntimeError("unsupported operand types for +")
        length = len(a) + len(b)
        self._charge_sequence(kind, length)
        return a + b

    def _charge_sequence(self, kind: type, length: int) -> None:
        if kind is str or kind is bytes:
            self.charge(gas.arith_gas + _check_text(length) // gas.bytes_per_gas)
        else:
            self.charge(gas.arith_gas + _check_length(length) * gas.element_gas)

    def _type_error(self, value: Any) -> Any:
        raise ContractRuntimeError(f"unsupported operand type {type(value).__name__}")

    def _ints(self, a: Any, b: Any) -> tuple[int, int]:
        if type(a) not in (int, bool) or type(b) not in (int, bool):
            raise ContractRuntimeError("operands must be integers")
        return int(a), int(b)

    def sub(self, a: Any, b: Any) -> int:
        if type(a) is not int or type(b) is not int:
            a, b = self._ints(a, b)  # from here on both are int
        result = a - b
        self.charge(_int_charge(result))
        return result  # type: ignore[no-any-return]

    def mul(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            result = a * b  # inputs are <= int_bits_max, so this is cheap before the check
            self.charge(_int_charge(result))
            return result
        if type(a) in (int, bool) and type(b) in _sequence_types:
            a, b = b, a
        if type(a) in _sequence_types and type(b) in (int, bool):
            count = max(int(b), 0)
            if count > gas.container_elements_max * 64:
                raise LimitExceeded("repeat count too large")
            self._charge_sequence(type(a), len(a) * count)
            return a * count
        a, b = self._ints(a, b)  # from here on both are int
        return self.mul(a, b)

    def floordiv(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        self.charge(_int_charge(a) + (b.bit_length() >> 6))
        quotient: int = a // b
        return quotient

    def mod(self, a: Any, b: Any) -> int:
        # Only integers: `str % x` is printf formatting, which would reach repr().
        a, b = self._ints(a, b)  # from here on both are int
        self.charge(_int_charge(a) + (b.bit_length() >> 6))
        remainder: int = a % b
        return remainder

    def pow(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        if b < 0:
            raise ContractRuntimeError("negative exponent")
        if a not in (0, 1, -1):
            # |a| >= 2, so the result has at least (bits(a) - 1) * b + 1 bits.
            if b > gas.int_bits_max or (a.bit_length() - 1) * b >= gas.int_bits_max:
                raise LimitExceeded("power result too large")
            self.charge(gas.arith_gas * (b.bit_length() + 1) * (1 + (a.bit_length() * b >> 6)))
        result = a**b
        self.charge(_int_charge(result))
        return result  # type: ignore[no-any-return]

    def lshift(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        if b < 0:
            raise ContractRuntimeError("negative shift count")
        if a != 0 and (b > gas.int_bits_max or a.bit_length() + b > gas.int_bits_max):
            raise LimitExceeded("shift result too large")
        result = a << min(b, gas.int_bits_max)
        self.charge(_int_charge(result))
        return result  # type: ignore[no-any-return]

    def rshift(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        if b < 0:
            raise ContractRuntimeError("negative shift count")
        result = a >> min(b, gas.int_bits_max + 1)
        self.charge(_int_charge(a))
        return result  # type: ignore[no-any-return]

    def bitor(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        result = a | b
        self.charge(_int_charge(result))
        return result  # type: ignore[no-any-return]

    def bitxor(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        result = a ^ b
        self.charge(_int_charge(result))
        return result  # type: ignore[no-any-return]

    def bitand(self, a: Any, b: Any) -> int:
        a, b = self._ints(a, b)  # from here on both are int
        result = a & b
        self.charge(_int_charge(result))
        return result  # type: ignore[no-any-return]

    # --- comparisons ------------------------------------------------------------------
    def _deep_charge(self, value: Any) -> int:
        """Charges for every element a C-level walk of `value` could touch (aliases
        included, as often as they are reached) and returns that weight."""
        kind = type(value)
        if kind is int or kind is bool or value is None or kind is range:
            return 1
        if kind is str or kind is bytes:
            weight = 1 + len(value) // gas.bytes_per_gas
            self.charge(weight)
            return weight
        weight = self.weigh(value)
        self.charge(weight * gas.element_gas)
        return weight

    def weigh(self, value: Any) -> int:
        """codec.count_elements of any value a contract can hold, within the gas left (a
        value heavier than the gas left trips the meter)."""
        budget = max(self.meter.left, 0) // gas.element_gas + 1
        try:
            return codec.count_elements(value, budget, allow_range=True)
        except codec.BudgetExceeded:
            self.charge(budget * gas.element_gas)  # more than the gas left: OutOfGas
            raise

    def sort_charge(self, items: Any) -> None:
        """Sorting n items of total weight W compares each item O(log n) times, each
        comparison walking at most the lighter item: W * log2(n) elements."""
        length = len(items)
        weight = max(self._deep_charge(items), length)  # a range or str weighs its length
        self.charge(weight * max(length.bit_length(), 1) * gas.element_gas)

    def _compare_charge(self, a: Any, b: Any) -> None:
        if type(a) in _scalar_types and type(b) in _scalar_types:
            self.charge(gas.arith_gas)
            if type(a) is str or type(a) is bytes:
                self.charge(len(a) // gas.bytes_per_gas)
            return
        self.charge(gas.arith_gas)
        self._deep_charge(a)
        self._deep_charge(b)

    def eq(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            self.charge(gas.arith_gas)
            return a == b
        self._compare_charge(a, b)
        return bool(a == b)

    def ne(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            self.charge(gas.arith_gas)
            return a != b
        self._compare_charge(a, b)
        return bool(a != b)

    def lt(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            self.charge(gas.arith_gas)
            return a < b
        self._compare_charge(a, b)
        return bool(a < b)

    def le(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            self.charge(gas.arith_gas)
            return a <= b
        self._compare_charge(a, b)
        return bool(a <= b)

    def gt(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            self.charge(gas.arith_gas)
            return a > b
        self._compare_charge(a, b)
        return bool(a > b)

    def ge(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            self.charge(gas.arith_gas)
            return a >= b
        self._compare_charge(a, b)
        return bool(a >= b)

    def contains(self, item: Any, container: Any) -> bool:
        kind = type(container)
        if kind is MapStore:
            return bool(container.contains(item))
        self.charge(gas.arith_gas)
        if kind is dict:
            cost = _check_key(item)
            if cost:
                self.charge(cost)
            return item in container
        if kind is str or kind is bytes:
            if type(item) is not kind:
                raise ContractRuntimeError("`in` on str/bytes takes a str/bytes")
            self.charge(search_gas(len(container), len(item)))
            return item in container
        if kind is range:
            # Only an int (or bool) can equal a member; CPython would compare any other
            # value with every member in turn, at the price of one comparison.
            if type(item) is int or type(item) is bool:
                return item in container
            return False
        if kind is list or kind is tuple:
            self._deep_charge(container)
            self._deep_charge(item)
            return item in container
        raise ContractRuntimeError(f"`in` is not supported on {kind.__name__}")

    def not_contains(self, item: Any, container: Any) -> bool:
        return not self.contains(item, container)

    # --- subscripts -------------------------------------------------------------------
    def getitem(self, container: Any, key: Any) -> Any:
        kind = type(container)
        if kind is MapStore:
            return container.getitem(key)
        self.charge(gas.arith_gas)
        if kind is dict:
            cost = _check_key(key)
            if cost:
                self.charge(cost)
            return container[key]
        if kind in _sequence_types or kind is range:
            if type(key) is not int and type(key) is not bool:
                raise ContractRuntimeError("indices must be integers")
            return container[key]
        raise ContractRuntimeError(f"{kind.__name__} is not subscriptable")

    def setitem(self, container: Any, key: Any, value: Any) -> None:
        kind = type(container)
        if kind is MapStore:
            container.set(key, value)
            return
        self.charge(gas.arith_gas)
        if kind is dict:
            cost = _check_key(key)
            if cost:
                self.charge(cost)
            if key not in container:
                _check_length(len(container) + 1)
            container[key] = value
        elif kind is list:
            if type(key) is not int and type(key) is not bool:
                raise ContractRuntimeError("indices must be integers")
            container[key] = value
        else:
            raise ContractRuntimeError(f"{kind.__name__} does not support item assignment")

    def delitem(self, container: Any, key: Any) -> None:
        kind = type(container)
        if kind is MapStore:
            container.delete(key)
            return
        self.charge(gas.arith_gas)
        if kind is dict:
            cost = _check_key(key)
            if cost:
                self.charge(cost)
            del container[key]
        elif kind is list:
            if type(key) is not int:
                raise ContractRuntimeError("indices must be integers")
            self.charge(len(container) * gas.element_gas // 8)
            del container[key]
        else:
            raise ContractRuntimeError(f"{kind.__name__} does not support item deletion")

    def slice(self, container: Any, lower: Any, upper: Any, step: Any) -> Any:
        kind = type(container)
        if kind not in _sequence_types and kind is not range:
            raise ContractRuntimeError(f"{kind.__name__} cannot be sliced")
        for bound in (lower, upper, step):
            if bound is not None and type(bound) is not int:
                raise ContractRuntimeError("slice bounds must be integers")
        selected = slice(lower, upper, step)
        length = len(range(*selected.indices(len(container))))
        self._charge_sequence(kind if kind is not range else list, length)
        return container[selected]

    def key(self, key: Any) -> Any:
        """A key about to go into or be looked up in an in-memory dict: checked, charged."""
        cost = _check_key(key)
        if cost:
            self.charge(cost)
        return key

    def make_dict(self, *items: Any) -> dict[Any, Any]:
        self.charge(gas.arith_gas + len(items) * gas.element_gas)
        result: dict[Any, Any] = {}
        key = self.key
        for index in range(0, len(items), 2):
            result[key(items[index])] = items[index + 1]
        return result

    # --- methods ----------------------------------------------------------------------
    def method(self, receiver: Any, name: str, /, *args: Any, **kwargs: Any) -> Any:
        table = _method_tables.get(type(receiver))
        implementation = table.get(name) if table is not None else None
        if implementation is None:
            raise ContractRuntimeError(f"{type(receiver).__name__} has no allowed method {name}")
        self.charge(gas.builtin_call_gas)
        return implementation(self, receiver, *args, **kwargs)

    # --- builtins and host functions live in vm/builtins.py ----------------------------
    def builtins(self) -> dict[str, Any]:
        from vm.builtins import make_builtins

        return make_builtins(self)

    def host_functions(self) -> dict[str, Any]:
        from vm.builtins import make_host_functions

        return make_host_functions(self)

    # --- cross-contract calls ---------------------------------------------------------
    def call_contract(self, address: Any, method: Any, args: dict[str, Any], catch: bool) -> Any:
        """A nested call. Arguments and results cross the boundary as canonical bytes, so
        caller and callee never share a mutable object. With `catch`, a failure rolls back
        the callee's writes and events and returns `[False, error_code]`; out of gas is
        never caught (the meter stays tripped)."""
        self.charge(gas.contract_call_gas)
        if type(address) is not bytes or type(method) is not str:
            raise ContractRuntimeError("call(address: bytes, method: str, **args)")
        if len(self.frames) >= gas.contract_call_depth_max:
            raise CallDepthExceeded("cross-contract calls nested too deeply")
        args = self.copy_value(args)
        mark = self.journal.mark()
        depth = self.function_depth
        if depth + gas.contract_call_frames > gas.function_depth_max:
            raise CallDepthExceeded("function calls nested too deeply")
        self.function_depth = depth + gas.contract_call_frames  # the host frames between
        frames = len(self.frames)
        try:
            result = self.invoke_contract(self, address, method, args, self.frames[-1], False)
        except (ContractFailure, *contract_exceptions) as exc:
            if not catch:
                raise
            self.journal.rollback(mark)
            self.function_depth = depth
            del self.frames[frames:]
            return [False, int(failure_code(exc))]
        self.function_depth = depth
        result = self.copy_value(result)
        return [True, result] if catch else result

    def copy_value(self, value: Any) -> Any:
        """A private copy of a canonical value (arguments, results across contracts)."""
        if type(value) is dict and len(value) <= _flat_copy_entries_max:
            # Fast path for the common flat argument dict: scalars are immutable, so a
            # shallow copy is a full copy; the charge mirrors the encoded size.
            size = 0
            for key, element in value.items():
                kind = type(element)
                if type(key) is not str or kind not in _flat_types:
                    break
                if kind is int:
                    if element.bit_length() > 64:
                        break
                    size += 9
                elif kind is str or kind is bytes:
                    if kind is str and not element.isascii():
                        break  # the encoder checks it is valid Unicode (no lone surrogate)
                    size += len(element) + 5
                else:
                    size += 1
                size += len(key) + 1
            else:
                self.charge(size // gas.bytes_per_gas)
                return dict(value)
        data = self.encode(value, gas.return_bytes_max)
        if len(data) > gas.return_bytes_max:
            raise LimitExceeded("value crossing a contract boundary is too large")
        self.charge(len(data) // gas.bytes_per_gas)
        copy, weight = codec.decode_weighed(data)
        self.charge(weight * gas.element_gas)
        return copy

    def encode(self, value: Any, budget_elements: int) -> bytes:
        """codec.encode, charging element_gas per unit of the value's weight (the walks
        that check and pack it); the caller charges for the bytes."""
        if type(value) is int:
            return _encode_int(value)  # weight 1: the byte charge covers it
        data, weight = codec.encode_weighed(value, budget_elements)
        self.charge(weight * gas.element_gas)
        return data

    # --- storage ----------------------------------------------------------------------
    def storage_read(self, key: bytes) -> Any:
        overlay = self.journal.overlay
        data = overlay[key] if key in overlay else self.state.get(key)
        if data is None:
            self.charge(gas.storage_read_gas)
            return None
        self.charge(gas.storage_read_gas + len(data) * gas.storage_byte_gas)
        if len(data) < _short_value_bytes_max:
            # A scalar or a few elements: the byte charge covers the walk. Most stored
            # values are ints (balances, counters), decoded without the general unpacker.
            number = _decode_int(data)
            return number if number is not None else codec.decode(data)
        value, weight = codec.decode_weighed(data)
        self.charge(weight * gas.element_gas)
        return value

    def storage_has(self, key: bytes) -> bool:
        overlay = self.journal.overlay
        data = overlay[key] if key in overlay else self.state.get(key)
        self.charge(gas.storage_read_gas)
        return data is not None

    def storage_write(self, key: bytes, value: Any) -> None:
        self.require_writable("storage write")
        if value is None:
            data = None
            size = 0
        else:
            data = self.encode(value, gas.value_bytes_max)
            size = len(data)
            if size > gas.value_bytes_max:
                raise LimitExceeded(f"stored value exceeds {gas.value_bytes_max} bytes")
        # State growth is priced per byte stored. What this transaction already wrote under
        # the same key was charged then, so only growth beyond it is charged again; a delete
        # pays the base charge only (it stores nothing).
        previous = self.journal.overlay.get(key)
        stored = 0 if data is None else size + len(key)
        charged = 0 if previous is None else len(previous) + len(key)
        self.charge(
            gas.storage_write_gas + max(stored - charged, 0) * gas.storage_write_byte_gas
        )
        self.journal.put(key, data)

    def require_writable(self, what: str) -> None:
        if self.frames[-1].read_only:
            raise ReadOnlyViolation(f"{what} in a read-only call")

    def storage_key(self, base: bytes, key: Any) -> bytes:
        if type(key) is bytes and len(key) <= _short_key_bytes_max:
            return base + _pack_bytes(key)
        _check_storage_key(key)
        encoded = codec.encode(key, gas.key_bytes_max)
        if len(encoded) > gas.key_bytes_max:
            raise LimitExceeded(f"storage key exceeds {gas.key_bytes_max} bytes")
        return base + encoded

    def emit_event(self, name: str, fields: dict[str, Any]) -> None:
        self.require_writable("emit")
        if name not in self.event_names:
            # ASCII only: what isidentifier() accepts beyond ASCII follows the Unicode
            # database, which changes between CPython versions.
            if type(name) is not str or not name.isascii() or not name.isidentifier() \
                    or len(name) > 64:
                raise InvalidValue(
                    "event name must be an ASCII identifier of at most 64 characters"
                )
            if len(self.event_names) < _event_names_cached_max:
                self.event_names.add(name)
        journal = self.journal
        if len(journal.events) >= gas.events_per_tx_max:
            raise LimitExceeded("too many events in one transaction")
        data = self.encode(fields, gas.event_bytes_max)
        if len(data) > gas.event_bytes_max:
            raise LimitExceeded(f"event exceeds {gas.event_bytes_max} bytes")
        self.charge(gas.event_gas + len(data) * gas.event_byte_gas)
        journal.events.append(Event(self.frames[-1].address, name, data))


class MapStore:
    """A contract's `Map()`: persistent, typed by canonical msgpack, copies on read."""

    __slots__ = ("base", "runtime")

    def __init__(self, runtime: Runtime, base: bytes) -> None:
        self.runtime = runtime
        self.base = base

    def get(self, key: Any, default: Any = None) -> Any:
        runtime = self.runtime
        value = runtime.storage_read(runtime.storage_key(self.base, key))
        return default if value is None else value

    def getitem(self, key: Any) -> Any:
        runtime = self.runtime
        value = runtime.storage_read(runtime.storage_key(self.base, key))
        if value is None:
            raise ContractRuntimeError("missing map key")
        return value

    def set(self, key: Any, value: Any) -> None:
        if value is None:
            raise InvalidValue("cannot store None; use delete")
        runtime = self.runtime
        runtime.storage_write(runtime.storage_key(self.base, key), value)

    def contains(self, key: Any) -> bool:
        runtime = self.runtime
        return runtime.storage_has(runtime.storage_key(self.base, key))

    def delete(self, key: Any) -> None:
        runtime = self.runtime
        runtime.storage_write(runtime.storage_key(self.base, key), None)


class ValueStore:
    """A contract's `Value()`: one persistent value (None until set)."""

    __slots__ = ("key", "runtime")

    def __init__(self, runtime: Runtime, key: bytes) -> None:
        self.runtime = runtime
        self.key = key

    def get(self, default: Any = None) -> Any:
        value = self.runtime.storage_read(self.key)
        return default if value is None else value

    def set(self, value: Any) -> None:
        self.runtime.storage_write(self.key, value)


def make_storage(runtime: Runtime, address: bytes, storage: dict[str, str]) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    for name, kind in storage.items():
        base = storage_base(address, name)
        objects[name] = MapStore(runtime, base) if kind == "Map" else ValueStore(runtime, base)
    return objects


def failure_code(exc: BaseException) -> ErrorCode:
    if isinstance(exc, OutOfGas):
        return ErrorCode.OUT_OF_GAS
    if isinstance(exc, ContractFailure):
        return exc.code
    return ErrorCode.RUNTIME_ERROR


from vm.methods import method_tables as _method_tables
from vm.methods import search_gas
