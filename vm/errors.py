"""Errors of the contract VM.

Who is at fault decides the class (see STYLE.md, "Types, errors, assertions"):

* `ContractValidationError`: the deployer sent source outside the allowed subset. Raised by
  `compile_contract`; it names the rule, the line and the column.
* `ContractFailure` and its subclasses: a contract call failed at run time. They never
  escape `execute`; they become an `ErrorCode` in the `ExecutionResult`, the call's writes
  are reverted and the gas is still charged. Only the `ErrorCode` (never the interpreter's
  message text) is meant to be stored in a receipt, because CPython messages differ between
  versions.
* `VMInternalError`: a node fault (an invariant of the VM broke, the interpreter ran out of
  stack, any exception the VM did not expect). The node must halt the shard rather than
  store a receipt. Nothing a contract (or a transaction's arguments) can do raises it:
  every contract-caused condition is an `ErrorCode` with a fixed VM message.

Receipt messages are consensus data (they are hashed into the receipts root), so they are
the VM's own text only, never CPython's or msgpack's: `failure_message` maps an exception
the interpreter raised in contract code to a fixed text chosen by its class (the class an
operation raises is stable across CPython versions, its message is not), and every message
the VM writes itself (`ContractFailure` and subclasses) is built from constants, ASCII
identifiers and integers. A revert message is the contract's own text (a str the contract
built, at most 256 code points, checked to be encodable as UTF-8).

`OutOfGas` derives from `BaseException` so that even host code written with
`except Exception` cannot swallow it; contracts have no `try` at all.
"""

from __future__ import annotations

import enum


class VMError(Exception):
    """Root of every error the VM raises on purpose."""


class ErrorCode(enum.IntEnum):
    """Outcome of a call, stored in receipts. Values are part of the consensus format."""

    OK = 0
    OUT_OF_GAS = 1
    REVERT = 2  # require()/revert() in the contract
    LIMIT_EXCEEDED = 3  # a size cap: int bits, container length, str bytes, writes...
    CALL_DEPTH = 4  # function or cross-contract nesting too deep
    RUNTIME_ERROR = 5  # ZeroDivision, KeyError, IndexError, TypeError... in contract code
    READ_ONLY = 6  # a view (or a call made from a view) tried to write or emit
    NO_SUCH_METHOD = 7  # method not exported, or not a view for a query
    NO_SUCH_CONTRACT = 8
    INVALID_ARGUMENT = 9  # arguments not canonical values, or wrong for the signature
    INVALID_VALUE = 10  # a value that cannot be stored, emitted or returned
    INVALID_CONTRACT = 11  # deploy: source rejected by the validator


class ContractValidationError(VMError):
    """Source rejected at deploy time; names the rule, line and column."""

    def __init__(self, rule: str, line: int, column: int, detail: str) -> None:
        self.rule = rule
        self.line = line
        self.column = column
        self.detail = detail
        super().__init__(f"{rule} at line {line}, column {column}: {detail}")


class VMInternalError(VMError):
    """A node fault (broken VM invariant, interpreter stack exhausted): halt, do not store."""


class ContractFailure(VMError):
    """A contract call failed; carries the code that goes into the receipt."""

    code: ErrorCode = ErrorCode.RUNTIME_ERROR

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Revert(ContractFailure):
    code = ErrorCode.REVERT


class LimitExceeded(ContractFailure):
    code = ErrorCode.LIMIT_EXCEEDED


class CallDepthExceeded(ContractFailure):
    code = ErrorCode.CALL_DEPTH


class ContractRuntimeError(ContractFailure):
    """A run-time error the VM itself detected in contract code (a wrong type for a
    builtin, a bad index type...); its message is the VM's own text."""

    code = ErrorCode.RUNTIME_ERROR


class ReadOnlyViolation(ContractFailure):
    code = ErrorCode.READ_ONLY


class InvalidValue(ContractFailure):
    code = ErrorCode.INVALID_VALUE


class OutOfGas(BaseException):
    """Gas exhausted. A BaseException so no `except Exception` can swallow it; the meter
    stays tripped, so every later charge raises again."""

    code = ErrorCode.OUT_OF_GAS


# Fixed receipt text for exceptions the interpreter raises inside contract code, by class
# (most specific first). Part of the consensus format, like ErrorCode.
_fixed_messages: tuple[tuple[type[BaseException], str], ...] = (
    (ZeroDivisionError, "division by zero"),
    (OverflowError, "integer overflow"),
    (ArithmeticError, "arithmetic error"),
    (KeyError, "key not found"),
    (IndexError, "index out of range"),
    (LookupError, "lookup error"),
    (UnicodeError, "invalid text encoding"),
    (TypeError, "wrong type of value"),
    (ValueError, "invalid value"),
    (AttributeError, "no such attribute"),
    (NameError, "local variable read before assignment"),
)


def failure_message(exc: BaseException) -> str:
    """The receipt message of a failed call: the VM's own text, never CPython's."""
    if isinstance(exc, OutOfGas):
        return "out of gas"
    if isinstance(exc, ContractFailure):
        return str(exc)
    for kind, message in _fixed_messages:
        if isinstance(exc, kind):
            return message
    return "runtime error"
