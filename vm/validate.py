"""Deploy-time validation of contract source against an allow-list.

How it works, in order (each step bounds the work of the next one):

1. Source size is capped (`gas.source_bytes_max`) before anything looks at it.
2. A token pass (the tokenizer is iterative) rejects non-ASCII identifiers *before* the
   parser NFKC-normalises them (so `ｆｏｏ` or a ligature cannot become another name),
   caps bracket nesting and tokens per logical line, so the parser and the recursive
   compiler only ever see shallow trees.
3. `ast.parse`, then an iterative depth check (`gas.ast_depth_max`).
4. An allow-list walk: every node type must be listed in `_allowed_nodes`, and each
   listed type has a rule for where it may appear. Names are checked against the module's
   own names, the function's locals and `vm.names`; methods against the per-type tables.

Anything not explicitly allowed is rejected with a `ContractValidationError` naming the
rule, the line and the column. The result is a `ContractInfo` describing the module.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
import warnings
from dataclasses import dataclass

from vm import gas, names
from vm.errors import ContractValidationError


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    name: str
    kind: str  # "export", "view" or "internal"
    params: tuple[str, ...]
    frames: int = 1  # Python frames one call holds: its own + comprehension nesting


@dataclass(frozen=True, slots=True)
class ContractInfo:
    functions: dict[str, FunctionInfo]
    storage: dict[str, str]  # declared name -> "Map" | "Value"
    constants: frozenset[str]


_binops = (
    ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
    ast.BitOr, ast.BitXor, ast.BitAnd,
)  # fmt: skip
_unaryops = (ast.Not, ast.USub, ast.UAdd, ast.Invert)
_cmpops = (
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)  # fmt: skip
_function_statements = (
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.If, ast.For,
    ast.While, ast.Break, ast.Continue, ast.Pass, ast.Delete,
)  # fmt: skip
_expressions = (
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.IfExp, ast.Constant,
    ast.Name, ast.List, ast.Tuple, ast.Dict, ast.Subscript, ast.Slice, ast.Attribute,
    ast.ListComp, ast.DictComp,
)  # fmt: skip
_contexts = (ast.Load, ast.Store, ast.Del)
_other = (
    ast.keyword,
    ast.comprehension,
    ast.arguments,
    ast.arg,
    ast.boolop,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
)
_allowed_nodes = (
    ast.Module,
    ast.FunctionDef,
    *_function_statements,
    *_expressions,
    *_contexts,
    *_other,
)
_constant_types = (int, str, bytes, bool, type(None))


def _fail(rule: str, node: ast.AST | None, detail: str) -> ContractValidationError:
    line = getattr(node, "lineno", 0) if node is not None else 0
    col = getattr(node, "col_offset", -1) + 1 if node is not None else 0
    return ContractValidationError(rule, line, col, detail)


_fields_by_type: dict[type, tuple[str, ...]] = {}


def children(node: ast.AST) -> list[ast.AST]:
    """ast.iter_child_nodes as a list, without its generators (deploy-time walks are
    metered work: they run once per node of every deployed source, several times)."""
    fields = _fields_by_type.get(type(node))
    if fields is None:
        fields = _fields_by_type[type(node)] = tuple(node._fields)
    found: list[ast.AST] = []
    for field in fields:
        value = getattr(node, field, None)
        if type(value) is list:
            found.extend([item for item in value if isinstance(item, ast.AST)])
        elif isinstance(value, ast.AST):
            found.append(value)
    return found


def walk(root: ast.AST) -> list[ast.AST]:
    """Every node under `root` (root included), like ast.walk, as a list."""
    nodes = [root]
    index = 0
    while index < len(nodes):
        nodes.extend(children(nodes[index]))
        index += 1
    return nodes


def validate_source(source: str) -> tuple[ast.Module, ContractInfo]:
    """Checks `source`; returns the parsed module and its description, or raises."""
    if not isinstance(source, str):
        raise ContractValidationError("source-type", 0, 0, "source must be str")
    if len(source.encode("utf-8", "surrogatepass")) > gas.source_bytes_max:
        raise ContractValidationError(
            "source-size", 0, 0, f"source exceeds {gas.source_bytes_max} bytes"
        )
    _check_tokens(source)
    try:
        tree = parse_quietly(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        line = getattr(exc, "lineno", 0) or 0
        col = getattr(exc, "offset", 0) or 0
        # CPython's message text differs between versions; the position is kept (the minor
        # version is a consensus parameter), the text is the VM's own.
        raise ContractValidationError("syntax", line, col, "invalid syntax") from None
    _check_depth(tree)
    info = _ModuleChecker(tree).check()
    return tree, info


def parse_quietly(source: str) -> ast.Module:
    """ast.parse without SyntaxWarning/DeprecationWarning noise on odd literals."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, mode="exec")


def _check_tokens(source: str) -> None:
    depth = 0
    tokens_on_line = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            line, col = token.start
            if token.type in (tokenize.NAME, tokenize.ERRORTOKEN) and not token.string.isascii():
                raise ContractValidationError(
                    "ascii-identifier", line, col + 1, f"non-ASCII name {token.string!a}"
                )
            if token.type == tokenize.ERRORTOKEN and not token.string.isspace():
                raise ContractValidationError("syntax", line, col + 1, "invalid token")
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
                if depth > gas.bracket_depth_max:
                    raise ContractValidationError(
                        "nesting-depth", line, col + 1, "brackets nested too deeply"
                    )
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
            tokens_on_line += 1
            if token.type == tokenize.NEWLINE:
                tokens_on_line = 0
            elif tokens_on_line > gas.source_tokens_per_line_max:
                raise ContractValidationError(
                    "statement-size", line, col + 1, "too many tokens in one statement"
                )
    except tokenize.TokenError:
        # Unbalanced brackets at the end of the source: every token before it passed the
        # checks above, so the parser may run and name the position of the error.
        return
    except (IndentationError, SyntaxError) as exc:
        line = getattr(exc, "lineno", 0) or 0
        raise ContractValidationError("syntax", line, 0, "invalid syntax") from None


def _check_depth(tree: ast.AST) -> None:
    """Depth cap, allowed node types and encodable str literals, in one walk."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > gas.ast_depth_max:
            raise _fail("nesting-depth", node, f"syntax tree deeper than {gas.ast_depth_max}")
        if not isinstance(node, _allowed_nodes):
            raise _fail("node-not-allowed", node, f"{type(node).__name__} is not allowed")
        if type(node) is ast.Constant and type(node.value) is str:
            _check_encodable(node)
        stack.extend([(child, depth + 1) for child in children(node)])


def _check_encodable(node: ast.Constant) -> None:
    """A str literal with a lone surrogate (`"\\ud800"`) could reach a receipt, which must
    be valid UTF-8: rejected here, so no contract can hold such a str."""
    try:
        node.value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("surrogate", node, "str literal holds a lone surrogate") from None


def _check_identifier(name: str, node: ast.AST) -> None:
    if not name.isascii() or not name.isidentifier():
        raise _fail("ascii-identifier", node, f"identifier {name!a} is not ASCII")
    if name.startswith("_") or name.endswith("_"):
        raise _fail("underscore-name", node, f"name {name!a} starts or ends with '_'")


def _is_constant_expression(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, _constant_types)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant) and type(node.operand.value) is int
    if isinstance(node, ast.Tuple):
        return all(_is_constant_expression(element) for element in node.elts)
    return False


class _ModuleChecker:
    """Walks the module: top-level declarations first, then each function body."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.functions: dict[str, FunctionInfo] = {}
        self.storage: dict[str, str] = {}
        self.constants: set[str] = set()
        # Kept up to date as names are declared (never rebuilt per lookup: validation must
        # stay linear in the source size, see test_validation_is_linear_in_source_size).
        self.module_names: set[str] = set()
        self.callable_names: set[str] = set(names.builtin_names | names.host_names)

    def check(self) -> ContractInfo:
        body = self.tree.body  # node types were checked by _check_depth
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            body = body[1:]  # the module docstring
        for statement in body:
            self._check_top_level(statement)
        for statement in body:
            if isinstance(statement, ast.FunctionDef):
                _FunctionChecker(self, statement).check()
        return ContractInfo(dict(self.functions), dict(self.storage), frozenset(self.constants))

    def _declare(self, name: str, node: ast.AST) -> None:
        _check_identifier(name, node)
        if name in names.reserved_names or name in self.module_names:
            raise _fail("reserved-name", node, f"name {name!a} is reserved or already defined")
        self.module_names.add(name)

    def _check_top_level(self, node: ast.stmt) -> None:
        if isinstance(node, ast.FunctionDef):
            self._declare(node.name, node)
            self.callable_names.add(node.name)
            self.functions[node.name] = FunctionInfo(
                node.name, _function_kind(node), tuple(arg.arg for arg in node.args.args)
            )
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                kind = _storage_kind(node.value)
                if kind is not None:
                    self._declare(target.id, target)
                    self.storage[target.id] = kind
                    return
                if _is_constant_expression(node.value):
                    self._declare(target.id, target)
                    self.constants.add(target.id)
                    return
        raise _fail(
            "top-level",
            node,
            "module level allows only functions, storage declarations and constants",
        )


def _storage_kind(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in names.storage_kinds
        and not node.args
        and not node.keywords
    ):
        return node.func.id
    return None


def _function_kind(node: ast.FunctionDef) -> str:
    if len(node.decorator_list) > 1:
        raise _fail("decorator", node, "at most one decorator (export or view)")
    if not node.decorator_list:
        return "internal"
    decorator = node.decorator_list[0]
    if not isinstance(decorator, ast.Name) or decorator.id not in names.decorator_names:
        raise _fail("decorator", decorator, "only @export and @view are allowed")
    return decorator.id


class _FunctionChecker:
    """Checks one function body: statements, expressions, names, calls and methods."""

    def __init__(self, module: _ModuleChecker, node: ast.FunctionDef) -> None:
        self.module = module
        self.node = node
        self.locals: set[str] = set()
        self.comprehension_depth = 0
        self.frames = 1

    def check(self) -> None:
        node = self.node
        arguments = node.args
        if arguments.vararg or arguments.kwarg or arguments.kwonlyargs or arguments.posonlyargs:
            raise _fail("star-arguments", node, "only plain positional parameters are allowed")
        for default in arguments.defaults:
            if not _is_constant_expression(default):
                raise _fail("default-value", default, "parameter defaults must be constants")
        for argument in arguments.args:
            self._bind(argument.arg, argument)
            if argument.annotation is not None:
                self._annotation(argument.annotation)
        if node.returns is not None:
            self._annotation(node.returns)
        for child in walk(node):
            if type(child) is ast.Name and isinstance(child.ctx, (ast.Store, ast.Del)):
                self._bind(child.id, child)
        for statement in node.body:
            self._statement(statement)
        info = self.module.functions[node.name]
        self.module.functions[node.name] = dataclasses.replace(info, frames=self.frames)

    def _bind(self, name: str, node: ast.AST) -> None:
        _check_identifier(name, node)
        if name in names.reserved_names or name in self.module.module_names:
            raise _fail("reserved-name", node, f"cannot assign to reserved name {name!a}")
        self.locals.add(name)

    # --- statements -------------------------------------------------------------------
    def _statement(self, node: ast.stmt) -> None:
        if not isinstance(node, _function_statements):
            raise _fail("statement-not-allowed", node, f"{type(node).__name__} not allowed here")
        if isinstance(node, (ast.For, ast.While)) and node.orelse:
            raise _fail("loop-else", node, "else on loops is not allowed")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._target(target)
            self._expression(node.value)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, (ast.Name, ast.Subscript)):
                raise _fail("assign-target", node.target, "augmented target must be a name")
            self._target(node.target)
            self._binop(node.op, node)
            self._expression(node.value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is None or not isinstance(node.target, ast.Name):
                raise _fail("assign-target", node, "annotated assignment needs a name and value")
            self._annotation(node.annotation)
            self._expression(node.value)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if not isinstance(target, ast.Subscript):
                    raise _fail("delete", target, "only `del container[key]` is allowed")
                self._target(target)
        elif isinstance(node, ast.For):
            self._target(node.target)
            self._expression(node.iter)
            self._body(node.body)
        elif isinstance(node, (ast.If, ast.While)):
            self._expression(node.test)
            self._body(node.body)
            self._body(node.orelse)
        elif isinstance(node, (ast.Expr, ast.Return)) and node.value is not None:
            self._expression(node.value)

    def _body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self._statement(statement)

    def _annotation(self, node: ast.expr) -> None:
        # Annotations are stripped before compiling; still only plain names are accepted.
        for child in walk(node):
            if not isinstance(child, (ast.Name, ast.Subscript, ast.Tuple, ast.Load, ast.Constant)):
                raise _fail("annotation", child, "annotations may only name types")
            if isinstance(child, ast.Name):
                _check_identifier(child.id, child)

    def _target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            return  # bound and checked in check()
        if isinstance(node, ast.Tuple):
            for element in node.elts:
                if not isinstance(element, ast.Name):
                    raise _fail("assign-target", element, "unpack only into plain names")
            return
        if isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):
                raise _fail("assign-target", node, "slice assignment is not allowed")
            self._container(node.value)
            self._expression(node.slice)
            return
        raise _fail("assign-target", node, f"cannot assign to {type(node).__name__}")

    # --- expressions ------------------------------------------------------------------
    def _expression(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.Name):
            self._load_name(node)
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.Attribute):
            self._attribute(node)
        elif isinstance(node, ast.BinOp):
            self._binop(node.op, node)
            self._expression(node.left)
            self._expression(node.right)
        elif isinstance(node, ast.Compare):
            self._compare(node)
        elif isinstance(node, ast.Subscript):
            self._container(node.value)
            self._expression(node.slice)
        elif isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise _fail("star-arguments", node, "`**` unpacking is not allowed")
            self._expressions([*node.keys, *node.values])  # type: ignore[list-item]
        elif isinstance(node, (ast.ListComp, ast.DictComp)):
            self._comprehension(node)
        elif isinstance(node, ast.Slice):
            self._expressions([part for part in (node.lower, node.upper, node.step) if part])
        elif isinstance(node, (ast.BoolOp, ast.UnaryOp, ast.IfExp, ast.List, ast.Tuple)):
            self._expressions([c for c in children(node) if isinstance(c, ast.expr)])
        else:
            raise _fail("expression-not-allowed", node, f"{type(node).__name__} not allowed")

    def _expressions(self, nodes: list[ast.expr]) -> None:
        for child in nodes:
            self._expression(child)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if type(value) is float:
            raise _fail("float", node, "floats are not allowed; use integers or fixed point")
        if not isinstance(value, _constant_types):
            raise _fail("constant", node, f"{type(value).__name__} literals are not allowed")
        if type(value) is int and value.bit_length() > gas.int_bits_max:
            raise _fail("int-size", node, "integer literal too large")

    def _load_name(self, node: ast.Name) -> None:
        name = node.id
        _check_identifier(name, node)
        if name in self.locals or name in self.module.constants:
            return
        if name == "ctx":
            raise _fail("ctx-use", node, "use ctx fields (ctx.sender...), not ctx itself")
        if name in self.module.storage:
            raise _fail("storage-use", node, "storage is used by subscript, `in` or method")
        if name in self.module.functions or name in names.reserved_names:
            raise _fail("function-value", node, f"{name!a} may only be called")
        raise _fail("unknown-name", node, f"name {name!a} is not defined")

    def _container(self, node: ast.expr) -> None:
        """The base of a subscript or right side of `in`: storage names are fine here."""
        if isinstance(node, ast.Name) and node.id in self.module.storage:
            return
        self._expression(node)

    def _binop(self, op: ast.operator, node: ast.AST) -> None:
        if isinstance(op, ast.Div):
            raise _fail("true-division", node, "`/` gives floats; use `//`")
        if not isinstance(op, _binops):
            raise _fail("operator", node, f"operator {type(op).__name__} is not allowed")

    def _compare(self, node: ast.Compare) -> None:
        if len(node.ops) > 1:
            raise _fail("chained-comparison", node, "write `a < b and b < c` instead")
        self._expression(node.left)
        for op, right in zip(node.ops, node.comparators):
            is_none = isinstance(right, ast.Constant) and right.value is None
            if isinstance(op, (ast.Is, ast.IsNot)) and not is_none:
                raise _fail("identity", node, "`is` only compares with None")
            if isinstance(op, (ast.In, ast.NotIn)):
                self._container(right)
            else:
                self._expression(right)

    def _attribute(self, node: ast.Attribute) -> None:
        _check_identifier(node.attr, node)
        is_ctx = isinstance(node.value, ast.Name) and node.value.id == "ctx"
        if is_ctx and node.attr in names.ctx_fields:
            return
        raise _fail("attribute", node, f"attribute {node.attr!a} is not allowed")

    def _call(self, node: ast.Call) -> None:
        self._call_target(node.func)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _fail("star-arguments", keyword, "`**` arguments are not allowed")
            _check_identifier(keyword.arg, keyword)
            self._expression(keyword.value)
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise _fail("star-arguments", argument, "`*` arguments are not allowed")
            self._expression(argument)

    def _call_target(self, func: ast.expr) -> None:
        if isinstance(func, ast.Name):
            _check_identifier(func.id, func)
            if func.id not in self.module.callable_names:
                raise _fail("call-target", func, f"{func.id!a} is not a callable name")
            return
        if isinstance(func, ast.Attribute):
            _check_identifier(func.attr, func)
            receiver = func.value
            if isinstance(receiver, ast.Name) and receiver.id in self.module.storage:
                kind = self.module.storage[receiver.id]
                if func.attr not in names.methods_by_type[kind]:
                    raise _fail("method-not-allowed", func, f"{kind} has no method {func.attr!a}")
                return
            if func.attr not in names.method_names:
                raise _fail("method-not-allowed", func, f"method {func.attr!a} is not allowed")
            self._expression(receiver)
            return
        raise _fail("call-target", func, "only names and methods may be called")

    def _comprehension(self, node: ast.ListComp | ast.DictComp) -> None:
        # Each comprehension runs in a frame of its own: count the lexical nesting (see
        # instrument.python_frames, which the reference interpreter uses; a test checks
        # they agree).
        self.comprehension_depth += 1
        self.frames = max(self.frames, 1 + self.comprehension_depth)
        self._comprehension_parts(node)
        self.comprehension_depth -= 1

    def _comprehension_parts(self, node: ast.ListComp | ast.DictComp) -> None:
        for generator in node.generators:
            if generator.is_async:
                raise _fail("async", node, "async comprehensions are not allowed")
            self._target(generator.target)
            self._expression(generator.iter)
            self._expressions(list(generator.ifs))
        if isinstance(node, ast.ListComp):
            self._expression(node.elt)
        else:
            self._expression(node.key)
            self._expression(node.value)
