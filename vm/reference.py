"""Reference interpreter: walks the validated AST directly. Slow, simple, a test oracle.

It shares the `Runtime` (metered operators, builtins, methods, storage, journal) with the
fast path and re-implements everything the instrumentation does: control flow, scoping,
evaluation order, and the *static* gas. The relation tests assert, for every test contract:

* same error code, return value, write set and events as the fast path;
* `reference gas <= fast gas`, with equality when no block is left early: both charge the
  same per-statement costs (`instrument.statement_cost`), per-iteration costs and dynamic
  costs, but the fast path charges a whole block when it starts, while the reference
  charges each statement just before it runs.

Deep contract recursion uses several Python frames per contract frame here, so oracle
tests keep recursion shallow; the fast path is what enforces `gas.function_depth_max`.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Callable
from typing import Any

from vm.contract import Contract
from vm.instrument import (
    _binop_helpers,
    _compare_helpers,
    comprehension_costs,
    is_native_compare,
    loop_iteration_cost,
    python_frames,
    statement_cost,
)
from vm.runtime import Frame, Runtime, make_storage


class _Return:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_break = object()
_continue = object()

_unary: dict[type, Callable[[Any], Any]] = {
    ast.USub: lambda value: -value,
    ast.UAdd: lambda value: +value,
    ast.Invert: lambda value: ~value,
    ast.Not: lambda value: not value,
}
_native_compare: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
}  # fmt: skip


_python_frames_needed = 12_000


def call_function(
    runtime: Runtime, contract: Contract, frame: Frame, method: str, args: dict[str, Any]
) -> Any:
    # The walker uses ~10 Python frames per contract frame; give it room so that it hits
    # gas.function_depth_max (as the fast path does) rather than CPython's limit.
    previous = sys.getrecursionlimit()
    if previous < _python_frames_needed:
        sys.setrecursionlimit(_python_frames_needed)
    try:
        return _Interpreter(runtime, contract, frame).call(method, [], args)
    finally:
        if previous < _python_frames_needed:
            sys.setrecursionlimit(previous)


class _Interpreter:
    def __init__(self, runtime: Runtime, contract: Contract, frame: Frame) -> None:
        self.runtime = runtime
        self.contract = contract
        self.frame = frame
        self.functions = {
            node.name: node for node in contract.tree.body if isinstance(node, ast.FunctionDef)
        }
        self.storage = make_storage(runtime, frame.address, contract.info.storage)
        self.bindings = runtime.bindings

    # --- functions ---------------------------------------------------------------------
    def call(self, name: str, positional: list[Any], keywords: dict[str, Any]) -> Any:
        node = self.functions[name]
        runtime = self.runtime
        frames = python_frames(node)  # the same depth accounting as the fast path
        runtime.enter(frames)
        try:
            env = self._bind(node, positional, keywords)
            signal = self.block(node.body, env)
            return signal.value if isinstance(signal, _Return) else None
        finally:
            runtime.leave(frames)

    def _bind(
        self, node: ast.FunctionDef, positional: list[Any], keywords: dict[str, Any]
    ) -> dict[str, Any]:
        params = [argument.arg for argument in node.args.args]
        defaults = self.contract.functions[node.name][1] or ()
        if len(positional) > len(params):
            raise TypeError("too many positional arguments")
        env = dict(zip(params, positional))
        for key, value in keywords.items():
            if key not in params or key in env:
                raise TypeError(f"bad keyword argument {key}")
            env[key] = value
        for index, param in enumerate(params):
            if param not in env:
                default_index = index - (len(params) - len(defaults))
                if default_index < 0:
                    raise TypeError(f"missing argument {param}")
                env[param] = defaults[default_index]
        return env

    # --- statements --------------------------------------------------------------------
    def block(self, statements: list[ast.stmt], env: dict[str, Any]) -> Any:
        charge = self.runtime.charge
        for statement in statements:
            charge(statement_cost(statement))
            signal = self.statement(statement, env)
            if signal is not None:
                return signal
        return None

    def statement(self, node: ast.stmt, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Expr):
            self.expression(node.value, env)
        elif isinstance(node, ast.Assign):
            value = self.expression(node.value, env)
            for target in node.targets:
                self.assign(target, value, env)
        elif isinstance(node, ast.AnnAssign):
            assert node.value is not None
            self.assign(node.target, self.expression(node.value, env), env)
        elif isinstance(node, ast.AugAssign):
            self.augmented(node, env)
        elif isinstance(node, ast.Return):
            return _Return(None if node.value is None else self.expression(node.value, env))
        elif isinstance(node, ast.If):
            if self.expression(node.test, env):
                return self.block(node.body, env)
            return self.block(node.orelse, env) if node.orelse else None
        elif isinstance(node, ast.For):
            return self.for_loop(node, env)
        elif isinstance(node, ast.While):
            return self.while_loop(node, env)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                assert isinstance(target, ast.Subscript)
                container = self.expression(target.value, env)
                self.runtime.delitem(container, self.expression(target.slice, env))
        elif isinstance(node, ast.Break):
            return _break
        elif isinstance(node, ast.Continue):
            return _continue
        else:
            assert isinstance(node, ast.Pass), type(node)
        return None

    def for_loop(self, node: ast.For, env: dict[str, Any]) -> Any:
        iterable = self.expression(node.iter, env)
        for item in self.runtime.iterate(iterable, loop_iteration_cost(node)):
            self.assign(node.target, item, env)
            signal = self.block(node.body, env)
            if signal is _break:
                break
            if isinstance(signal, _Return):
                return signal
        return None

    def while_loop(self, node: ast.While, env: dict[str, Any]) -> Any:
        cost = loop_iteration_cost(node)
        while self.runtime.while_test(cost) and self.expression(node.test, env):
            signal = self.block(node.body, env)
            if signal is _break:
                break
            if isinstance(signal, _Return):
                return signal
        return None

    def assign(self, target: ast.expr, value: Any, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple):
            names = [element.id for element in target.elts]  # type: ignore[attr-defined]
            items = list(itertools.islice(iter(value), len(names) + 1))
            if len(items) != len(names):
                raise ValueError("wrong number of values to unpack")
            env.update(zip(names, items))
        else:
            assert isinstance(target, ast.Subscript)
            container = self.expression(target.value, env)
            self.runtime.setitem(container, self.expression(target.slice, env), value)

    def augmented(self, node: ast.AugAssign, env: dict[str, Any]) -> None:
        helper = self.bindings[_binop_helpers[type(node.op)]]
        target = node.target
        if isinstance(target, ast.Name):
            current = self.name(target.id, env)
            env[target.id] = helper(current, self.expression(node.value, env))
            return
        assert isinstance(target, ast.Subscript)
        container = self.expression(target.value, env)
        key = self.expression(target.slice, env)
        current = self.runtime.getitem(container, key)
        self.runtime.setitem(container, key, helper(current, self.expression(node.value, env)))

    # --- expressions -------------------------------------------------------------------
    def name(self, identifier: str, env: dict[str, Any]) -> Any:
        if identifier in env:
            return env[identifier]
        if identifier in self.contract.constants:
            return self.contract.constants[identifier]
        if identifier == "ctx":
            return self.frame.ctx
        raise NameError(f"name {identifier} is not bound")

    def expression(self, node: ast.expr, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.storage:
                return self.storage[node.id]
            return self.name(node.id, env)
        if isinstance(node, ast.BinOp):
            helper = self.bindings[_binop_helpers[type(node.op)]]
            return helper(self.expression(node.left, env), self.expression(node.right, env))
        if isinstance(node, ast.Call):
            return self.call_expression(node, env)
        if isinstance(node, ast.Compare):
            left = self.expression(node.left, env)
            right = self.expression(node.comparators[0], env)
            op = type(node.ops[0])
            if is_native_compare(node):
                return _native_compare[op](left, right)
            return self.bindings[_compare_helpers[op]](left, right)
        if isinstance(node, ast.Attribute):
            return getattr(self.frame.ctx, node.attr)  # the validator allows ctx fields only
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.BoolOp):
            return self.bool_operation(node, env)
        if isinstance(node, ast.UnaryOp):
            return _unary[type(node.op)](self.expression(node.operand, env))
        if isinstance(node, ast.IfExp):
            branch = node.body if self.expression(node.test, env) else node.orelse
            return self.expression(branch, env)
        if isinstance(node, ast.List):
            return [self.expression(element, env) for element in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.expression(element, env) for element in node.elts)
        if isinstance(node, ast.Dict):
            items = []
            for key, value in zip(node.keys, node.values):
                assert key is not None
                items.extend([self.expression(key, env), self.expression(value, env)])
            return self.runtime.make_dict(*items)
        if isinstance(node, (ast.ListComp, ast.DictComp)):
            return self.comprehension(node, env)
        raise AssertionError(f"validator let through {type(node).__name__}")

    def bool_operation(self, node: ast.BoolOp, env: dict[str, Any]) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.expression(operand, env)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def subscript(self, node: ast.Subscript, env: dict[str, Any]) -> Any:
        container = self.expression(node.value, env)
        index = node.slice
        if isinstance(index, ast.Slice):
            bounds = [
                None if part is None else self.expression(part, env)
                for part in (index.lower, index.upper, index.step)
            ]
            return self.runtime.slice(container, *bounds)
        return self.runtime.getitem(container, self.expression(index, env))

    def call_expression(self, node: ast.Call, env: dict[str, Any]) -> Any:
        func = node.func
        receiver = None
        if isinstance(func, ast.Attribute):
            receiver = self.expression(func.value, env)
        args = [self.expression(argument, env) for argument in node.args]
        keywords = {str(k.arg): self.expression(k.value, env) for k in node.keywords}
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id in self.storage:
                return getattr(receiver, func.attr)(*args, **keywords)
            return self.runtime.method(receiver, func.attr, *args, **keywords)
        assert isinstance(func, ast.Name)
        if func.id in self.functions:
            return self.call(func.id, args, keywords)
        return self.bindings[func.id](*args, **keywords)

    def comprehension(self, node: ast.ListComp | ast.DictComp, env: dict[str, Any]) -> Any:
        costs = comprehension_costs(node)
        results: list[Any] = []
        scope = dict(env)  # comprehension targets do not leak into the function

        def run(level: int) -> None:
            generator = node.generators[level]
            iterable = self.expression(generator.iter, scope)
            for item in self.runtime.iterate_capped(iterable, costs[level]):
                self.assign(generator.target, item, scope)
                if not all(self.expression(test, scope) for test in generator.ifs):
                    continue
                if level + 1 < len(node.generators):
                    run(level + 1)
                elif isinstance(node, ast.ListComp):
                    results.append(self.expression(node.elt, scope))
                else:
                    key = self.runtime.key(self.expression(node.key, scope))
                    results.append((key, self.expression(node.value, scope)))

        run(0)
        return results if isinstance(node, ast.ListComp) else dict(results)
