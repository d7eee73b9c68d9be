"""Instrumentation: turns a validated module into metered Python code.

Rewrites (contract code cannot spell the `_`-prefixed helper names it introduces):

* every statement block starts with `_g(cost)`, the static cost of the statements in it
  (`statement_cost`); compound statements charge their header in the enclosing block;
* every function body becomes `_enter(k); try: <body> finally: _leave(k)` (call gas and
  the depth limit), where k counts the Python frames one call can hold (`python_frames`:
  the function's own and one per level of comprehension nesting);
* `for x in it` becomes `for x in _it(it, per_iteration)`, comprehensions use `_cit`
  (which also caps the items drawn), and
  `while test` becomes `while _wt(per_iteration) and test`;
* every binary operator becomes a metered helper (`a ** b` -> `_pow(a, b)`), augmented
  assignment rebinds through the same helper (`x += y` is `x = _add(x, y)`, never in
  place), comparisons go through helpers unless one side is a scalar literal or the
  operator is `is`, subscripts and slices go through `_getitem`/`_setitem`/`_delitem`/
  `_slice`, dict displays through `_mkdict` and dict-comprehension keys through `_key`;
* method calls `x.m(...)` become `_meth(x, "m", ...)` (per-type table), except on
  storage names, whose objects are metered themselves;
* decorators, annotations, docstrings and storage declarations are removed.

`statement_cost`, `loop_iteration_cost`, `comprehension_costs` and `is_native_compare` are
shared with the reference interpreter, which charges the same amounts as it goes.
"""

from __future__ import annotations

import ast
from typing import Any

from vm import gas
from vm.validate import ContractInfo, children, walk

_binop_helpers: dict[type, str] = {
    ast.Add: "_add", ast.Sub: "_sub", ast.Mult: "_mul", ast.FloorDiv: "_floordiv",
    ast.Mod: "_mod", ast.Pow: "_pow", ast.LShift: "_lshift", ast.RShift: "_rshift",
    ast.BitOr: "_bitor", ast.BitXor: "_bitxor", ast.BitAnd: "_bitand",
}  # fmt: skip
_compare_helpers: dict[type, str] = {
    ast.Eq: "_eq", ast.NotEq: "_ne", ast.Lt: "_lt", ast.LtE: "_le", ast.Gt: "_gt",
    ast.GtE: "_ge", ast.In: "_in", ast.NotIn: "_notin",
}  # fmt: skip
_scalar_constants = (int, str, bytes, bool, type(None))
# Position of every node the instrumentation adds (compile needs one; contract errors never
# show positions). Set at construction: fixing them afterwards walked the whole tree.
_at: dict[str, int] = {"lineno": 1, "col_offset": 0, "end_lineno": 1, "end_col_offset": 0}


def _count(nodes: list[Any]) -> int:
    total = 0
    for root in nodes:
        if root is None:
            continue
        for node in walk(root):
            if isinstance(node, (ast.expr, ast.stmt, ast.keyword)):
                total += 1
    return total


def statement_cost(node: ast.stmt) -> int:
    """Static gas of one statement, excluding the blocks nested in it."""
    if isinstance(node, ast.If):
        return gas.node_gas * (1 + _count([node.test]))
    if isinstance(node, ast.For):
        return gas.node_gas * (1 + _count([node.target, node.iter]))
    if isinstance(node, ast.While):
        return gas.node_gas
    return gas.node_gas * _count([node])


def loop_iteration_cost(node: ast.For | ast.While) -> int:
    if isinstance(node, ast.For):
        return gas.iteration_gas + gas.node_gas * _count([node.target])
    return gas.iteration_gas + gas.node_gas * _count([node.test])


def comprehension_costs(node: ast.ListComp | ast.DictComp) -> list[int]:
    """Per-item gas for each generator of a comprehension, outermost first."""
    costs = []
    generators = node.generators
    for index, generator in enumerate(generators):
        parts: list[Any] = [generator.target, *generator.ifs]
        if index + 1 < len(generators):
            parts.append(generators[index + 1].iter)
        elif isinstance(node, ast.ListComp):
            parts.append(node.elt)
        else:
            parts.extend([node.key, node.value])
        costs.append(gas.iteration_gas + gas.node_gas * _count(parts))
    return costs


def python_frames(node: ast.FunctionDef) -> int:
    """Python frames one call of this function can hold at once: its own plus one per
    level of comprehension nesting (each list or dict comprehension runs in a frame of its
    own in CPython 3.11; nesting is counted lexically, which over-counts a comprehension
    in another's first iterable: conservative, and the same on every node)."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(node, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (ast.ListComp, ast.DictComp)):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend([(child, depth) for child in children(item)])
    return 1 + deepest


def is_native_compare(node: ast.Compare) -> bool:
    """Comparisons that are O(1) or bounded by a literal need no helper."""
    op = node.ops[0]
    if isinstance(op, (ast.Is, ast.IsNot)):
        return True
    if isinstance(op, (ast.In, ast.NotIn)):
        return False
    sides = (node.left, node.comparators[0])
    return any(
        isinstance(side, ast.Constant) and isinstance(side.value, _scalar_constants)
        for side in sides
    )


def _name(identifier: str) -> ast.Name:
    return ast.Name(**_at, id=identifier, ctx=ast.Load())


def _call(helper: str, *args: ast.expr) -> ast.Call:
    return ast.Call(**_at, func=_name(helper), args=list(args), keywords=[])


def _constant(value: Any) -> ast.Constant:
    return ast.Constant(**_at, value=value)


class _Instrumenter(ast.NodeTransformer):
    def __init__(self, info: ContractInfo) -> None:
        self.info = info
        self.temporaries = 0

    # --- module and functions -----------------------------------------------------------
    def visit_Module(self, node: ast.Module) -> ast.Module:
        body: list[ast.stmt] = []
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef):
                body.append(self.visit_FunctionDef(statement))
            elif isinstance(statement, ast.Assign):
                target = statement.targets[0]
                if isinstance(target, ast.Name) and target.id not in self.info.storage:
                    body.append(statement)  # a constant
        return ast.Module(body=body, type_ignores=[])

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        for argument in node.args.args:
            argument.annotation = None
        frames = _constant(self.info.functions[node.name].frames)
        guarded = ast.Try(**_at,
            body=self._block(node.body),
            handlers=[],
            orelse=[],
            finalbody=[ast.Expr(**_at, value=_call("_leave", frames))],
        )
        return ast.FunctionDef(**_at,
            name=node.name,
            args=node.args,
            body=[ast.Expr(**_at, value=_call("_enter", frames)), guarded],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )

    def _block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        cost = sum(statement_cost(statement) for statement in statements)
        body: list[ast.stmt] = [ast.Expr(**_at, value=_call("_g", _constant(cost)))]
        for statement in statements:
            result = self.visit(statement)
            body.extend(result if isinstance(result, list) else [result])
        return body

    # --- statements --------------------------------------------------------------------
    def visit_If(self, node: ast.If) -> ast.If:
        test = self.visit(node.test)
        orelse = self._block(node.orelse) if node.orelse else []
        return ast.If(**_at, test=test, body=self._block(node.body), orelse=orelse)

    def visit_For(self, node: ast.For) -> ast.For:
        iterator = _call("_it", self.visit(node.iter), _constant(loop_iteration_cost(node)))
        body = self._block(node.body)
        return ast.For(**_at, target=node.target, iter=iterator, body=body, orelse=[])

    def visit_While(self, node: ast.While) -> ast.While:
        test = ast.BoolOp(**_at,
            op=ast.And(),
            values=[_call("_wt", _constant(loop_iteration_cost(node))), self.visit(node.test)],
        )
        return ast.While(**_at, test=test, body=self._block(node.body), orelse=[])

    def visit_Assign(self, node: ast.Assign) -> Any:
        value = self.visit(node.value)
        if len(node.targets) == 1 and not isinstance(node.targets[0], ast.Subscript):
            return self._store(node.targets[0], value)
        # Python evaluates the value before the subscript target; a temporary keeps that.
        temporary = self._temporary()
        statements: list[ast.stmt] = [
            ast.Assign(**_at, targets=[ast.Name(**_at, id=temporary, ctx=ast.Store())], value=value)
        ]
        for target in node.targets:
            statements.append(self._store(target, _name(temporary)))
        return statements

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        assert node.value is not None  # the validator requires a value
        return self.visit_Assign(ast.Assign(**_at, targets=[node.target], value=node.value))

    def _is_map(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and self.info.storage.get(node.id) == "Map"

    def _map_method(self, name: str, method: str, *args: ast.expr) -> ast.Call:
        """A direct call on a storage Map (statically known: storage names cannot be
        rebound); charges exactly what the generic helper would."""
        func = ast.Attribute(**_at, value=_name(name), attr=method, ctx=ast.Load())
        return ast.Call(**_at, func=func, args=list(args), keywords=[])

    def _store(self, target: ast.expr, value: ast.expr) -> ast.stmt:
        if isinstance(target, ast.Subscript):
            if self._is_map(target.value):
                assert isinstance(target.value, ast.Name)
                call = self._map_method(target.value.id, "set", self.visit(target.slice), value)
                return ast.Expr(**_at, value=call)
            call = _call("_setitem", self.visit(target.value), self.visit(target.slice), value)
            return ast.Expr(**_at, value=call)
        return ast.Assign(**_at, targets=[target], value=value)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        helper = _binop_helpers[type(node.op)]
        value = self.visit(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            return ast.Assign(**_at,
                targets=[ast.Name(**_at, id=target.id, ctx=ast.Store())],
                value=_call(helper, _name(target.id), value),
            )
        assert isinstance(target, ast.Subscript)
        container, key = self._temporary(), self._temporary()
        current = _call("_getitem", _name(container), _name(key))
        store_container = ast.Name(**_at, id=container, ctx=ast.Store())
        store_key = ast.Name(**_at, id=key, ctx=ast.Store())
        update = _call("_setitem", _name(container), _name(key), _call(helper, current, value))
        return [
            ast.Assign(**_at, targets=[store_container], value=self.visit(target.value)),
            ast.Assign(**_at, targets=[store_key], value=self.visit(target.slice)),
            ast.Expr(**_at, value=update),
        ]

    def visit_Delete(self, node: ast.Delete) -> list[ast.stmt]:
        statements: list[ast.stmt] = []
        for target in node.targets:
            assert isinstance(target, ast.Subscript)
            call = _call("_delitem", self.visit(target.value), self.visit(target.slice))
            statements.append(ast.Expr(**_at, value=call))
        return statements

    def _temporary(self) -> str:
        self.temporaries += 1
        return f"_t{self.temporaries}"

    # --- expressions -------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> ast.Call:
        helper = _binop_helpers[type(node.op)]
        return _call(helper, self.visit(node.left), self.visit(node.right))

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        if is_native_compare(node):
            return ast.Compare(**_at,
                left=self.visit(node.left),
                ops=node.ops,
                comparators=[self.visit(node.comparators[0])],
            )
        helper = _compare_helpers[type(node.ops[0])]
        return _call(helper, self.visit(node.left), self.visit(node.comparators[0]))

    def visit_Subscript(self, node: ast.Subscript) -> ast.Call:
        container = self.visit(node.value)
        index = node.slice
        if isinstance(index, ast.Slice):
            bounds = [
                self.visit(part) if part is not None else _constant(None)
                for part in (index.lower, index.upper, index.step)
            ]
            return _call("_slice", container, *bounds)
        if self._is_map(node.value):
            assert isinstance(node.value, ast.Name)
            return self._map_method(node.value.id, "getitem", self.visit(index))
        return _call("_getitem", container, self.visit(index))

    def visit_Dict(self, node: ast.Dict) -> ast.Call:
        items: list[ast.expr] = []
        for key, value in zip(node.keys, node.values):
            assert key is not None  # `**` was rejected by the validator
            items.extend([self.visit(key), self.visit(value)])
        return _call("_mkdict", *items)

    def visit_Call(self, node: ast.Call) -> ast.Call:
        args = [self.visit(argument) for argument in node.args]
        keywords = [ast.keyword(**_at, arg=k.arg, value=self.visit(k.value)) for k in node.keywords]
        func = node.func
        if isinstance(func, ast.Attribute):
            receiver = func.value
            if isinstance(receiver, ast.Name) and receiver.id in self.info.storage:
                return ast.Call(**_at, func=func, args=args, keywords=keywords)
            return ast.Call(**_at,
                func=_name("_meth"),
                args=[self.visit(receiver), _constant(func.attr), *args],
                keywords=keywords,
            )
        return ast.Call(**_at, func=func, args=args, keywords=keywords)

    def visit_ListComp(self, node: ast.ListComp) -> ast.ListComp:
        return ast.ListComp(**_at, elt=self.visit(node.elt), generators=self._generators(node))

    def visit_DictComp(self, node: ast.DictComp) -> ast.DictComp:
        return ast.DictComp(**_at,
            key=_call("_key", self.visit(node.key)),
            value=self.visit(node.value),
            generators=self._generators(node),
        )

    def _generators(self, node: ast.ListComp | ast.DictComp) -> list[ast.comprehension]:
        generators = []
        for generator, cost in zip(node.generators, comprehension_costs(node)):
            generators.append(
                ast.comprehension(
                    target=generator.target,
                    iter=_call("_cit", self.visit(generator.iter), _constant(cost)),
                    ifs=[self.visit(condition) for condition in generator.ifs],
                    is_async=0,
                )
            )
        return generators


def instrument(tree: ast.Module, info: ContractInfo) -> ast.Module:
    """Returns a metered module. It reuses (and may change) nodes of `tree`: pass a tree of
    its own (compile_contract parses the source a second time, faster than a deep copy)."""
    instrumented: ast.Module = _Instrumenter(info).visit(tree)
    return instrumented
