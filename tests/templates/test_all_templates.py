"""Every template compiles, documents each callable method, and agrees with the oracle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vm
from tests.templates.market_setup import ALICE, BOB, MARKET, NFT, make_world
from vm.contract import compile_contract
from vm.templates import NAMES, load

TEMPLATES = list(NAMES)


def test_every_template_file_is_named_and_there_are_28_marketplace_templates() -> None:
    directory = Path(vm.__file__).parent / "templates"
    files = sorted(path.stem for path in directory.glob("*.py") if path.stem != "__init__")
    assert files == sorted(NAMES)
    assert len([name for name in NAMES if name != "receipt_roots"]) == 28


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_compiles_and_documents_every_method(name: str) -> None:
    source = load(name)
    contract = compile_contract(source)
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert "Events:" in docstring and "Errors" in docstring and "Invariants" in docstring
    for function in contract.info.functions.values():
        if function.kind != "internal" and function.name != "init":
            assert function.name in docstring, (name, function.name)


def test_a_multi_contract_sale_gives_the_same_result_on_the_reference_interpreter() -> None:
    world = make_world()
    chain = world.chain
    listing = chain.ok(MARKET, "list_item", ALICE, collection=NFT, item=1, price=10_000)
    context = chain.context(BOB)
    fast = vm.execute(chain.state, MARKET, "buy", {"listing": listing}, context, 5_000_000)
    reference = vm.execute(chain.state, MARKET, "buy", {"listing": listing}, context,
                           5_000_000, engine="reference")
    assert fast.ok and reference.ok
    assert (fast.writes, fast.events, fast.return_data) == (
        reference.writes, reference.events, reference.return_data)
    assert reference.gas_used <= fast.gas_used


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(vm.__file__).parent / "templates" / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(example, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    assert capsys.readouterr().out.strip().endswith("250")


def _new_template_examples() -> tuple[str, list[str]]:
    readme = (Path(vm.__file__).parent / "templates" / "README.md").read_text()
    section = readme.split("## Templates 13 to 28", 1)[1].split("## Known limits", 1)[0]
    prelude = section.split("```python prelude\n", 1)[1].split("```", 1)[0]
    examples = [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]
    return prelude, examples


def test_the_readme_has_an_example_for_each_of_the_sixteen_new_templates() -> None:
    assert len(_new_template_examples()[1]) == 16


@pytest.mark.parametrize("index", range(16))
def test_each_new_template_example_runs(index: int) -> None:
    prelude, examples = _new_template_examples()
    namespace: dict[str, object] = {}
    code = compile(prelude + examples[index], f"README.md example {index + 13}", "exec")
    exec(code, namespace)  # noqa: S102 - our own documentation
