"""The contract dev kit: `agora contract check/abi/new`, the ABI reader and the in-process
test chain (agora_sdk.testing) with its pytest fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agora_sdk.abi import contract_abi
from agora_sdk.testing import TestChain, ViewFailed
from node.cli import main

TEMPLATES = Path(__file__).resolve().parents[2] / "vm" / "templates"


def test_check_accepts_a_template_and_names_line_and_column_of_an_error(
        tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["contract", "check", str(TEMPLATES / "token.py")])
    assert good.exit_code == 0 and "ok (7 methods, 6 views, 4 events)" in good.output
    bad = tmp_path / "bad.py"
    bad.write_text("x = Value()\n\n@export\ndef f():\n    import os\n")
    result = runner.invoke(main, ["contract", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:5:5: " in result.output and "Import" in result.output
    floats = tmp_path / "floats.py"
    floats.write_text("@export\ndef f():\n    return 1.5\n")
    result = runner.invoke(main, ["contract", "check", str(floats)])
    assert result.exit_code == 1 and f"{floats}:3:12: " in result.output


def test_abi_lists_methods_views_parameters_and_events() -> None:
    result = CliRunner().invoke(main, ["contract", "abi", str(TEMPLATES / "token.py")])
    assert result.exit_code == 0
    abi = json.loads(result.output)
    transfer = next(item for item in abi["methods"] if item["name"] == "transfer")
    assert transfer["params"] == [{"name": "to", "type": "bytes"},
                                  {"name": "amount", "type": "int"}]
    assert transfer["returns"] == "bool"
    assert {item["name"] for item in abi["views"]} >= {"balance_of", "total_supply"}
    events = {item["name"]: item["fields"] for item in abi["events"]}
    assert events["Transfer"] == ["sender", "to", "amount"]
    init = next(item for item in abi["methods"] if item["name"] == "init")
    assert init["params"][2] == {"name": "kyc_registry", "type": "bytes", "default": "0x"}


@pytest.mark.parametrize("template", sorted(path.name for path in TEMPLATES.glob("*.py")
                                            if path.name != "__init__.py"))
def test_every_template_has_an_abi(template: str) -> None:
    abi = contract_abi((TEMPLATES / template).read_text())
    assert abi.methods


def test_new_makes_a_contract_whose_tests_pass_with_the_shipped_fixture(
        tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["contract", "new", "guestbook", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "guestbook" / "guestbook.py").exists()
    again = CliRunner().invoke(main, ["contract", "new", "guestbook", "--dir", str(tmp_path)])
    assert again.exit_code != 0 and "already exists" in again.output
    assert CliRunner().invoke(main, ["contract", "new", "not-a-name"]).exit_code != 0
    # The generated tests, run by a separate pytest as a user would (the fixture comes
    # from the installed package's pytest11 entry point, not from this repository).
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "guestbook")], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "3 passed" in run.stdout


def test_the_test_chain_runs_contracts_through_the_executor() -> None:
    chain = TestChain()
    alice, bob = chain.accounts[:2]
    token = chain.deploy(TEMPLATES / "token.py", sender=alice, token_name="Gold", amount=100)
    sent = token.transfer(to=bob.address, amount=30, sender=alice)
    assert sent.ok and sent.value is True and sent.gas_used > 0
    assert token.balance_of(who=bob.address) == 30
    assert token.events("Transfer")[-1].data == {"sender": alice.address, "to": bob.address,
                                                 "amount": 30}
    refused = token.transfer(to=bob.address, amount=1000, sender=alice)
    assert refused.status == "REVERT" and refused.error == "insufficient balance"
    assert refused.gas_used > 0 and token.balance_of(who=alice.address) == 70
    with pytest.raises(ViewFailed):
        token.view("no_such_view")
    with pytest.raises(AttributeError):
        token.no_such_method  # noqa: B018


def test_the_test_chain_has_heights_time_and_funded_accounts() -> None:
    chain = TestChain(accounts=3, balance=500)
    assert len(chain.accounts) == 3
    assert chain.native_balance(chain.accounts[2].address) == 500
    start = chain.height, chain.time_ms
    chain.advance(blocks=10, seconds=3600)
    assert (chain.height, chain.time_ms) == (start[0] + 10, start[1] + 3_600_000)
    moved = chain.transfer(chain.accounts[0], chain.accounts[1].address, 7)
    assert moved.ok and moved.height == start[0] + 11
    assert chain.native_balance(chain.accounts[1].address) == 507


def test_rental_expiry_follows_the_fake_chain_clock() -> None:
    """Block time in contracts is the chain's, so a test can move it."""
    source = ("t = Value()\n\n@export\ndef stamp():\n    t.set(ctx.time)\n\n"
              "@view\ndef stamped() -> int:\n    return t.get(0)\n")
    chain = TestChain()
    clock = chain.deploy(source)
    clock.stamp()
    first = clock.stamped()
    chain.advance(seconds=86_400)
    clock.stamp()
    assert clock.stamped() == first + 86_400 + chain.block_seconds
