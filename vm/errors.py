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
  stack). The node must halt the shard rather than store a receipt.

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


class ReadOnlyViolation(ContractFailure):
    code = ErrorCode.READ_ONLY


class InvalidValue(ContractFailure):
    code = ErrorCode.INVALID_VALUE


class OutOfGas(BaseException):
    """Gas exhausted. A BaseException so no `except Exception` can swallow it; the meter
    stays tripped, so every later charge raises again."""

    code = ErrorCode.OUT_OF_GAS
