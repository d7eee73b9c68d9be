"""Sandbox-escape, resource-exhaustion and non-determinism attempts.

Each case is rejected at deploy (the expected validator rule) or stopped at run time by
gas or a cap (the expected ErrorCode), quickly, and the process carries on. Cases that
compile are also run on the reference interpreter and must give the same code.
"""

from __future__ import annotations

import pytest

import vm
from tests.vm.helpers import CONTEXT, CONTRACT, body
from vm import ErrorCode
from vm.state import DictState

GAS_ATTACK = 5_000_000
E = ErrorCode


def module(source: str) -> str:
    return source


# (id, source, expected): expected is a validator rule (str) or an ErrorCode.
CASES: list[tuple[str, str, str | ErrorCode]] = [
    # --- class-hierarchy walks -------------------------------------------------------
    (
        "hierarchy_tuple_class_bases",
        body("return ().__class__.__bases__[0].__subclasses__()"),
        "underscore-name",
    ),
    ("hierarchy_str_mro", body('return "".__class__.__mro__'), "underscore-name"),
    ("hierarchy_list_class", body("x = []\nreturn x.__class__"), "underscore-name"),
    ("hierarchy_int_base", body("return (1).__class__.__base__"), "underscore-name"),
    ("hierarchy_ctx_class", body("return ctx.__class__"), "underscore-name"),
    ("hierarchy_type_call", body("return type(1)"), "call-target"),
    ("hierarchy_module_level", module("x = ().__class__\n"), "top-level"),
    # --- dunder and computed attribute access ----------------------------------------
    ("attr_getattr", body('return getattr(ctx, "sender")'), "call-target"),
    ("attr_ctx_dict", body("return ctx.__dict__"), "underscore-name"),
    ("attr_vars", body("return vars()"), "call-target"),
    ("attr_dir", body("return dir()"), "call-target"),
    ("attr_trailing_underscore", body("return ctx.sender_"), "underscore-name"),
    ("attr_unknown_ctx_field", body("return ctx.secret"), "attribute"),
    ("attr_bound_method_value", body("x = []\nf = x.pop\nreturn 1"), "attribute"),
    ("attr_method_self", body('return "a".upper.__self__'), "underscore-name"),
    ("attr_builtin_call_slot", body("return len.__call__"), "underscore-name"),
    ("attr_storage_as_value", module("m = Map()\n" + body("x = m\nreturn 1")), "storage-use"),
    (
        "attr_function_as_value",
        module("def helper():\n    return 1\n" + body("f = helper\nreturn 1")),
        "function-value",
    ),
    ("attr_builtin_as_value", body("f = len\nreturn 1"), "function-value"),
    ("attr_ctx_as_value", body("c = ctx\nreturn 1"), "ctx-use"),
    ("attr_int_from_bytes", body('return int.from_bytes(b"1", "big")'), "method-not-allowed"),
    # --- frame and traceback walking -------------------------------------------------
    ("frame_sys_getframe", body("return sys._getframe()"), "underscore-name"),
    ("frame_generator", body("return (x for x in [1]).gi_frame"), "node-not-allowed"),
    ("frame_function_code", module("def f():\n    return f.__code__\n"), "underscore-name"),
    ("frame_tb_frame", body("return ctx.tb_frame"), "attribute"),
    ("frame_lambda_globals", body("return (lambda: 0).__globals__"), "node-not-allowed"),
    ("frame_lambda", body("f = (lambda: 0)\nreturn 1"), "node-not-allowed"),
    # --- format-string field traversal -----------------------------------------------
    ("format_class_field", body('return "{0.__class__}".format(1)'), "method-not-allowed"),
    ("format_map", body('return "{x.y}".format_map({})'), "method-not-allowed"),
    ("format_fstring", body('x = 1\nreturn f"{x!r}"'), "node-not-allowed"),
    ("format_percent_str", body('return "%s" % "x"'), E.RUNTIME_ERROR),
    ("format_percent_mapping", body('return "%(a)s" % {"a": 1}'), E.RUNTIME_ERROR),
    ("format_percent_padding_bomb", body('return "%0999999999d" % 1'), E.RUNTIME_ERROR),
    ("format_builtin", body('return format(1, "x")'), "call-target"),
    # --- builtins and import smuggling -----------------------------------------------
    ("import_os", module("import os\n"), "node-not-allowed"),
    ("import_from", module("from os import system\n"), "node-not-allowed"),
    ("import_in_function", body("import os\nreturn 1"), "node-not-allowed"),
    ("import_dunder", body('return __import__("os")'), "underscore-name"),
    ("import_builtins_dict", body('return __builtins__["eval"]'), "underscore-name"),
    ("builtin_eval", body('return eval("1")'), "call-target"),
    ("builtin_exec", body('exec("x = 1")\nreturn 1'), "call-target"),
    ("builtin_open", body('return open("/etc/passwd")'), "call-target"),
    ("builtin_globals", body("return globals()"), "call-target"),
    ("builtin_compile", body('return compile("1", "f", "eval")'), "call-target"),
    ("builtin_print", body("print(1)\nreturn 1"), "call-target"),
    ("builtin_hash", body('return hash("x")'), "call-target"),
    ("builtin_id", body("return id([])"), "call-target"),
    ("builtin_repr", body("return repr(1)"), "call-target"),
    ("builtin_isinstance", body("return isinstance(1, 1)"), "call-target"),
    ("builtin_breakpoint", body("breakpoint()\nreturn 1"), "call-target"),
    ("builtin_shadowing", body("len = 3\nreturn len"), "reserved-name"),
    ("builtin_str_of_bytes_repr", body('return str(b"x")'), E.RUNTIME_ERROR),
    ("builtin_name_dunder", body("return __name__"), "underscore-name"),
    ("builtin_private_name", body("_x = 1\nreturn _x"), "underscore-name"),
    # --- decorators and metaclasses ----------------------------------------------------
    ("decorator_staticmethod", module("@staticmethod\ndef f():\n    return 1\n"), "decorator"),
    ("decorator_two", module("@export\n@view\ndef f():\n    return 1\n"), "decorator"),
    ("decorator_call", module("@export(1)\ndef f():\n    return 1\n"), "decorator"),
    ("decorator_attribute", module("@vm.export\ndef f():\n    return 1\n"), "decorator"),
    ("class_metaclass", module("class A(type):\n    pass\n"), "node-not-allowed"),
    ("class_with_metaclass_kw", module("class A(metaclass=B):\n    pass\n"), "node-not-allowed"),
    ("global_statement", body("global x\nreturn 1"), "node-not-allowed"),
    ("nonlocal_statement", body("nonlocal x\nreturn 1"), "node-not-allowed"),
    ("yield_from", module("def f():\n    yield from [1]\n"), "node-not-allowed"),
    ("await_expression", module("async def f():\n    await g()\n"), "node-not-allowed"),
    ("starred_assignment", body("a, *b = [1, 2, 3]\nreturn a"), "node-not-allowed"),
    ("delete_name", body("x = 1\ndel x"), "delete"),
    ("slice_assignment", body("x = [1]\nx[0:1] = [0] * 10"), "assign-target"),
    ("attribute_assignment", body("ctx.sender = b''"), "assign-target"),
    ("for_else", body("for i in range(3):\n    pass\nelse:\n    pass"), "loop-else"),
    ("keyword_defaults_not_constant", module("def f(a=[]):\n    return a\n"), "default-value"),
    ("async_function", module("async def f():\n    return 1\n"), "node-not-allowed"),
    ("generator_function", module("def f():\n    yield 1\n"), "node-not-allowed"),
    ("walrus", body("return (x := 1)"), "node-not-allowed"),
    ("match_statement", body("match 1:\n    case 1:\n        return 1"), "node-not-allowed"),
    ("star_call", module("def f(a):\n    return a\n" + body("return f(*[1])")), "node-not-allowed"),
    (
        "star_kwargs_call",
        module("def f(a):\n    return a\n" + body('return f(**{"a": 1})')),
        "star-arguments",
    ),
    ("star_parameters", module("def f(*a):\n    return a\n"), "star-arguments"),
    # --- Unicode-normalised identifiers ----------------------------------------------
    (
        "unicode_fullwidth_dunder",
        body("return ().\uff3f\uff3fclass\uff3f\uff3f"),
        "ascii-identifier",
    ),
    ("unicode_ligature_fi", body("\ufb01le = 1\nreturn 1"), "ascii-identifier"),
    (
        "unicode_math_bold_eval",
        body('return \U0001d41e\U0001d42f\U0001d41a\U0001d425("1")'),
        "ascii-identifier",
    ),
    (
        "unicode_fullwidth_getattr",
        body('return \uff47\uff45\uff54\uff41\uff54\uff54\uff52(1, "x")'),
        "ascii-identifier",
    ),
    ("unicode_fullwidth_import", body("return \uff3f\uff3fimport\uff3f\uff3f"), "ascii-identifier"),
    # Valid Python that NFKC-normalises to a dunder: `__ｃｌａｓｓ__` is `__class__`.
    (
        "unicode_nfkc_to_dunder",
        body("return ().__\uff43\uff4c\uff41\uff53\uff53__"),
        "ascii-identifier",
    ),
    ("unicode_nfkc_name_to_builtin", body("return \uff4c\uff45\uff4e([])"), "ascii-identifier"),
    # --- exception tricks -------------------------------------------------------------
    (
        "exception_try_except",
        body("try:\n    x = 1\nexcept:\n    pass\nreturn 1"),
        "node-not-allowed",
    ),
    ("exception_try_finally", body("try:\n    x = 1\nfinally:\n    return 1"), "node-not-allowed"),
    ("exception_raise", body("raise ValueError"), "node-not-allowed"),
    ("exception_assert", body("assert False"), "node-not-allowed"),
    ("exception_with", body("with x:\n    pass"), "node-not-allowed"),
    (
        "exception_try_call_cannot_catch_out_of_gas",
        module(
            "@export\ndef spin():\n    while True:\n        pass\n"
            + body('r = try_call(ctx.address, "spin")\nemit("Survived", ok=1)\nreturn r')
        ),
        E.OUT_OF_GAS,
    ),
    ("exception_zero_division", body("return 1 // 0"), E.RUNTIME_ERROR),
    # --- compute bombs ---------------------------------------------------------------
    ("compute_huge_power", body("return 2 ** 10 ** 9"), E.LIMIT_EXCEEDED),
    ("compute_power_tower", body("return 10 ** 10 ** 10"), E.LIMIT_EXCEEDED),
    ("compute_negative_base_power", body("return (-3) ** 100000"), E.LIMIT_EXCEEDED),
    ("compute_huge_shift", body("return 1 << 10 ** 9"), E.LIMIT_EXCEEDED),
    ("compute_repeated_squaring", body("x = 3\nwhile True:\n    x = x * x"), E.LIMIT_EXCEEDED),
    ("compute_augmented_squaring", body("x = 3\nwhile True:\n    x *= x"), E.LIMIT_EXCEEDED),
    ("compute_big_product", body("x = 1 << 1000\nreturn x * x"), E.LIMIT_EXCEEDED),
    ("compute_int_from_long_str", body('return int("9" * 5000)'), E.LIMIT_EXCEEDED),
    ("compute_negative_exponent_float", body("return 10 ** -1"), E.RUNTIME_ERROR),
    ("compute_len_of_huge_range", body("return len(range(10 ** 30))"), E.RUNTIME_ERROR),
    # --- memory bombs ----------------------------------------------------------------
    ("memory_str_doubling", body('s = "a"\nwhile True:\n    s = s + s'), E.LIMIT_EXCEEDED),
    ("memory_str_repeat", body('return "a" * 10 ** 9'), E.LIMIT_EXCEEDED),
    ("memory_list_repeat", body("return [0] * 10 ** 9"), E.LIMIT_EXCEEDED),
    ("memory_bytes_repeat", body('return b"x" * 10 ** 9'), E.LIMIT_EXCEEDED),
    ("memory_tuple_repeat", body("return (1,) * 10 ** 8"), E.LIMIT_EXCEEDED),
    ("memory_ljust", body('return "a".ljust(10 ** 9)'), E.LIMIT_EXCEEDED),
    ("memory_rjust", body('return "a".rjust(10 ** 9)'), E.LIMIT_EXCEEDED),
    ("memory_zfill", body('return "1".zfill(10 ** 9)'), E.LIMIT_EXCEEDED),
    ("memory_center", body('return "a".center(10 ** 9)'), "method-not-allowed"),
    (
        "memory_replace_growth",
        body('return ("ab" * 1000).replace("", "x" * 1000)'),
        E.LIMIT_EXCEEDED,
    ),
    ("memory_list_self_extend", body("x = [0]\nwhile True:\n    x.extend(x)"), E.LIMIT_EXCEEDED),
    ("memory_list_append_forever", body("x = []\nwhile True:\n    x.append(x)"), E.LIMIT_EXCEEDED),
    ("memory_list_of_range", body("return list(range(10 ** 9))"), E.LIMIT_EXCEEDED),
    ("memory_bytes_of_int", body("return bytes(10 ** 9)"), E.RUNTIME_ERROR),
    ("memory_comprehension_cap", body("return [[i] for i in range(10 ** 9)]"), E.LIMIT_EXCEEDED),
    (
        "memory_str_join_growth",
        body('s = "x" * 200000\nreturn ",".join([s] * 100)'),
        E.LIMIT_EXCEEDED,
    ),
    ("memory_hex_of_big_bytes", body('b = b"x" * 200000\nreturn b.hex()'), E.LIMIT_EXCEEDED),
    (
        "memory_aliased_compare",
        body("x = [[0] * 1000] * 1000\nreturn x == [[0] * 1000] * 1000"),
        E.OUT_OF_GAS,
    ),
    (
        "memory_nested_tuple_key_hash",
        body("t = (1,) * 1000\nt2 = (t,) * 1000\nd = {t2: 1}"),
        E.RUNTIME_ERROR,
    ),
    (
        "memory_storage_value_too_big",
        module("v = Value()\n" + body('v.set(b"x" * 100000)')),
        E.LIMIT_EXCEEDED,
    ),
    (
        "memory_storage_aliased_value",
        module("v = Value()\n" + body("x = [[0] * 1000] * 1000\nv.set(x)")),
        E.LIMIT_EXCEEDED,
    ),
    (
        "memory_too_many_writes",
        module("m = Map()\n" + body("for i in range(5000):\n    m[i] = i")),
        E.LIMIT_EXCEEDED,
    ),
    ("memory_too_many_events", body('for i in range(5000):\n    emit("E", i=i)'), E.LIMIT_EXCEEDED),
    (
        "memory_deep_nesting_compare",
        body("x = []\ny = []\nfor i in range(5000):\n    x = [x]\n    y = [y]\nreturn x == y"),
        E.LIMIT_EXCEEDED,
    ),
    (
        "memory_deep_nesting_sort",
        body("x = []\nfor i in range(5000):\n    x = [x]\nreturn sorted([x, x])"),
        E.LIMIT_EXCEEDED,
    ),
    (
        "memory_deep_nesting_stored",
        module("v = Value()\n" + body("x = []\nfor i in range(5000):\n    x = [x]\nv.set(x)")),
        E.LIMIT_EXCEEDED,
    ),
    (
        "memory_deep_nesting_returned",
        body('x = {}\nfor i in range(5000):\n    x = {"a": x}\nreturn x'),
        E.LIMIT_EXCEEDED,
    ),
    # --- unmetered C-level loops -------------------------------------------------------
    ("clevel_sum_huge_range", body("return sum(range(10 ** 9))"), E.LIMIT_EXCEEDED),
    ("clevel_max_huge_range", body("return max(range(10 ** 12))"), E.LIMIT_EXCEEDED),
    ("clevel_any_huge_range", body("return any(range(10 ** 12))"), E.LIMIT_EXCEEDED),
    ("clevel_sorted_huge", body("return sorted(list(range(100000)) * 1000)"), E.LIMIT_EXCEEDED),
    ("clevel_sorted_aliased", body("x = [[[1] * 1000] * 1000] * 10\ny = sorted(x)"), E.OUT_OF_GAS),
    (
        "clevel_in_aliased_list",
        body("x = [[[1] * 1000] * 1000] * 10\nreturn [2] in x"),
        E.OUT_OF_GAS,
    ),
    (
        "clevel_index_aliased_list",
        body("x = [[[1] * 1000] * 1000] * 10\nreturn x.index([2])"),
        E.OUT_OF_GAS,
    ),
    (
        "clevel_in_aliased_big_strings",
        body('s = "x" * 200000\nt = "x" * 199999 + "x"\nitems = [s] * 100000\nreturn t in items'),
        E.OUT_OF_GAS,
    ),
    (
        "clevel_count_aliased_big_bytes",
        body('s = b"x" * 200000\nitems = [s] * 100000\nreturn items.count(b"x" * 200000)'),
        E.OUT_OF_GAS,
    ),
    (
        "clevel_compare_lists_of_big_strings",
        body('s = "y" * 200000\nreturn [s] * 50000 == ["y" * 200000] * 50000'),
        E.OUT_OF_GAS,
    ),
    (
        "clevel_sort_aliased_big_strings",
        body('s = "z" * 200000\nreturn len(sorted([s] * 50000 + ["z" * 200000]))'),
        E.OUT_OF_GAS,
    ),
    (
        "clevel_join_many",
        body('return "".join(["ab"] * 100000 + ["c"] * 100000)'),
        E.LIMIT_EXCEEDED,
    ),
    # --- deep recursion and deeply nested expressions ----------------------------------
    (
        "recursion_self",
        module("def f(n):\n    return f(n + 1)\n" + body("return f(0)")),
        E.CALL_DEPTH,
    ),
    (
        "recursion_mutual",
        module("def f(n):\n    return g(n)\ndef g(n):\n    return f(n)\n" + body("return f(0)")),
        E.CALL_DEPTH,
    ),
    ("recursion_cross_contract", body('return call(ctx.address, "run")'), E.CALL_DEPTH),
    ("nesting_parentheses", body("return " + "(" * 1000 + "1" + ")" * 1000), "nesting-depth"),
    ("nesting_lists", body("return " + "[" * 100 + "]" * 100), "nesting-depth"),
    ("nesting_unary_chain", body("return " + "-" * 300 + "1"), "nesting-depth"),
    ("nesting_not_chain", body("return " + "not " * 300 + "1"), "nesting-depth"),
    ("nesting_long_sum", body("return " + "+".join(["1"] * 20000)), "statement-size"),
    (
        "nesting_blocks",
        body("".join("    " * i + "if True:\n" for i in range(70)) + "    " * 70 + "pass"),
        "nesting-depth",
    ),
    ("nesting_source_size", body("x = 1\n" * 20000), "source-size"),
    # --- infinite loops ------------------------------------------------------------------
    ("loop_while_true", body("while True:\n    pass"), E.OUT_OF_GAS),
    ("loop_for_huge_range", body("for i in range(10 ** 18):\n    pass"), E.OUT_OF_GAS),
    (
        "loop_comprehension_huge_range",
        body("return [0 for i in range(10 ** 18)]"),
        E.LIMIT_EXCEEDED,
    ),
    ("loop_dict_comprehension", body("return {i: i for i in range(10 ** 18)}"), E.LIMIT_EXCEEDED),
    (
        "loop_nested_comprehension",
        body("return [0 for i in range(10 ** 9) for j in range(10 ** 9)]"),
        E.LIMIT_EXCEEDED,
    ),
    ("loop_while_continue", body("i = 0\nwhile True:\n    i += 1\n    continue"), E.OUT_OF_GAS),
    # --- non-determinism -------------------------------------------------------------
    ("nondet_float_literal", body("return 1.5"), "float"),
    ("nondet_float_exponent", body("return 1e3"), "float"),
    ("nondet_complex", body("return 1j"), "constant"),
    ("nondet_true_division", body("return 1 / 2"), "true-division"),
    ("nondet_augmented_division", body("x = 1\nx /= 2"), "true-division"),
    ("nondet_set_literal", body("return {1, 2}"), "node-not-allowed"),
    ("nondet_set_comprehension", body("return {x for x in [1]}"), "node-not-allowed"),
    ("nondet_set_builtin", body("return set()"), "call-target"),
    ("nondet_time_import", module("import time\n"), "node-not-allowed"),
    ("nondet_random_call", body("return random()"), "call-target"),
    ("nondet_matmul", body("return 1 @ 2"), "operator"),
    ("nondet_is_identity", body("return [] is []"), "identity"),
    ("nondet_chained_compare", body("return 1 < 2 < 3"), "chained-comparison"),
    ("nondet_str_of_dict_keys", body("d = {1: 2}\nreturn str(d.keys())"), E.RUNTIME_ERROR),
    ("nondet_float_argument_rejected", body("return int(1)"), E.OK),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(source, expected, id=name) for name, source, expected in CASES],
)
def test_attack_is_rejected_or_stopped(source: str, expected: str | ErrorCode) -> None:
    if isinstance(expected, str):
        with pytest.raises(vm.ContractValidationError) as info:
            vm.compile_contract(source)
        assert info.value.rule == expected, str(info.value)
        assert info.value.line >= 0 and info.value.column >= 0
        return
    # The reference interpreter is ~20x slower; spinning it to exhaustion adds nothing the
    # oracle tests do not cover, so out-of-gas cases run on the fast path only.
    engines = ("fast",) if expected is ErrorCode.OUT_OF_GAS else ("fast", "reference")
    for engine in engines:
        state = DictState()
        deployed = vm.deploy(state, source, CONTRACT, CONTEXT, GAS_ATTACK, engine=engine)
        assert deployed.ok, deployed.message
        state.apply(deployed.writes)
        result = vm.execute(state, CONTRACT, "run", {}, CONTEXT, GAS_ATTACK, engine=engine)
        assert result.code is expected, (engine, result.message)
        assert result.gas_used <= GAS_ATTACK
        if expected is not ErrorCode.OK:
            assert result.writes == () and result.events == ()


def test_there_are_at_least_sixty_attack_cases() -> None:
    assert len(CASES) >= 60
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_rejection_names_rule_line_and_column() -> None:
    with pytest.raises(vm.ContractValidationError) as info:
        vm.compile_contract(body("x = 1\nreturn ().__class__"))
    assert (info.value.rule, info.value.line, info.value.column) == ("underscore-name", 4, 12)
