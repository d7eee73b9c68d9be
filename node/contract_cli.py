"""``agora contract``: the contract developer's commands (check, abi, new, events).

* ``check FILE``: the VM's deploy-time validation, offline; errors as
  ``FILE:LINE:COLUMN: rule: detail`` (the format editors jump to), exit status 1.
* ``abi FILE``: methods, views, parameters and events as JSON (``agora_sdk/abi.py``).
* ``new NAME``: a directory with a contract template and its pytest test, which runs
  in-process on ``agora_sdk.testing`` (no cluster needed).
* ``events``: a contract's finalized events from a node, as JSON lines; ``--follow``
  keeps watching over WebSocket (replay from ``--from-height``, then live).

Registered on the main ``agora`` group by node/cli.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

default_rpc_url = "http://127.0.0.1:8545"

_template_contract = '''"""{name}: a counter anyone can increment; its owner can reset it.

Events: Incremented(who, by, value), Reset(who).
"""

count = Value()
owner = Value()


@export
def init(start: int = 0):
    owner.set(ctx.sender)
    count.set(start)


@export
def increment(by: int = 1) -> int:
    require(by > 0, "by must be positive")
    value = count.get(0) + by
    count.set(value)
    emit("Incremented", who=ctx.sender, by=by, value=value)
    return value


@export
def reset():
    require(ctx.sender == owner.get(), "only the owner")
    count.set(0)
    emit("Reset", who=ctx.sender)


@view
def current() -> int:
    return count.get(0)
'''

_template_test = '''"""Tests of {name}.py, in-process on a fake chain (no cluster): run `pytest`."""

from pathlib import Path

SOURCE = Path(__file__).with_name("{name}.py")


def test_increment_counts_and_emits(agora_chain):
    alice, bob = agora_chain.accounts[:2]
    counter = agora_chain.deploy(SOURCE, sender=alice, start=5)
    result = counter.increment(by=2, sender=bob)
    assert result.ok and result.value == 7
    assert counter.current() == 7
    event = counter.events("Incremented")[-1]
    assert event.data == {{"who": bob.address, "by": 2, "value": 7}}


def test_only_the_owner_resets(agora_chain):
    alice, bob = agora_chain.accounts[:2]
    counter = agora_chain.deploy(SOURCE, sender=alice)
    failed = counter.reset(sender=bob)
    assert failed.status == "REVERT" and failed.error == "only the owner"
    assert counter.reset(sender=alice).ok
    assert counter.current() == 0


def test_a_bad_amount_reverts_and_changes_nothing(agora_chain):
    counter = agora_chain.deploy(SOURCE, start=1)
    assert counter.increment(by=0).error == "by must be positive"
    assert counter.current() == 1
'''


@click.group("contract")
def contract() -> None:
    """Write, check and test contracts; read their events."""


@contract.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def check(file: str) -> None:
    """Validate FILE against the VM's allow-list (what a deploy would check)."""
    from vm.errors import ContractValidationError

    from agora_sdk.abi import contract_abi

    try:
        abi = contract_abi(Path(file).read_text(encoding="utf-8"))
    except ContractValidationError as error:
        click.echo(f"{file}:{error.line}:{error.column}: {error.rule}: {error.detail}",
                   err=True)
        sys.exit(1)
    views = sum(1 for method in abi.methods if method.kind == "view")
    click.echo(f"{file}: ok ({len(abi.methods) - views} methods, {views} views, "
               f"{len(abi.events)} events)")


@contract.command("abi")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def abi(file: str) -> None:
    """Print FILE's methods, views, parameters and events as JSON."""
    from vm.errors import ContractValidationError

    from agora_sdk.abi import contract_abi

    try:
        interface = contract_abi(Path(file).read_text(encoding="utf-8"))
    except ContractValidationError as error:
        click.echo(f"{file}:{error.line}:{error.column}: {error.rule}: {error.detail}",
                   err=True)
        sys.exit(1)
    click.echo(json.dumps(interface.to_json(), indent=2))


@contract.command("new")
@click.argument("name")
@click.option("--dir", "parent", default=".", show_default=True,
              type=click.Path(file_okay=False), help="where to create NAME/")
def new(name: str, parent: str) -> None:
    """Create NAME/ with NAME.py (a contract) and test_NAME.py (its tests)."""
    if not name.isidentifier() or not name.isascii() or name.startswith("_"):
        raise click.BadParameter("NAME must be a Python identifier (letters, digits, _)",
                                 param_hint="NAME")
    directory = Path(parent) / name
    if directory.exists():
        raise click.ClickException(f"{directory} already exists")
    directory.mkdir(parents=True)
    (directory / f"{name}.py").write_text(_template_contract.format(name=name))
    (directory / f"test_{name}.py").write_text(_template_test.format(name=name))
    click.echo(f"created {directory / (name + '.py')} and {directory / ('test_' + name + '.py')}")
    click.echo(f"test it: pytest {directory}")


@contract.command("events")
@click.option("--rpc", "rpc_url", default=default_rpc_url, show_default=True)
@click.option("--contract", "contract_hex", required=True, help="the contract's address")
@click.option("--name", default=None, help="only events of this name")
@click.option("--from-height", type=int, default=0, show_default=True)
@click.option("--follow", is_flag=True, help="keep watching for new events (WebSocket)")
@click.option("--count", type=int, default=None, help="with --follow: stop after N events")
def events(rpc_url: str, contract_hex: str, name: str | None, from_height: int,
           follow: bool, count: int | None) -> None:
    """Print a contract's events as JSON lines (decoded data in data_json)."""
    from agora_sdk.client import AgoraClient

    contract_address = bytes.fromhex(contract_hex.removeprefix("0x"))
    with AgoraClient(rpc_url) as client:
        if not follow:
            for event in client.iter_events(contract=contract_address, name=name,
                                            from_height=from_height):
                _print_event(event.raw)
            return
        printed = 0
        for event in client.subscribe_events(contract=contract_address, name=name,
                                             from_height=from_height):
            _print_event(event.raw)
            printed += 1
            if count is not None and printed >= count:
                return


def _print_event(raw: dict[str, Any]) -> None:
    click.echo(json.dumps(raw, sort_keys=True))
