"""Assembling a consortium's genesis from public keys only (``agora keygen --validator``,
``agora genesis ...``), and the local shortcut ``agora init`` builds on the same steps.

How a real consortium starts (the README's operator guide walks through it):

1. Each member runs ``agora keygen --validator --out HOME`` on its own machine. That
   writes ``HOME/node_key.hex`` (mode 0600; the private key never leaves the machine),
   ``HOME/config.toml`` (listening where the member said) and ``HOME/validator.json``, the
   *validator card*: name, public key, p2p endpoint and RPC endpoint. Only the card is
   shared.
2. One member (or each, independently: the result is the same file) runs
   ``agora genesis new``, ``add-validator --card`` per card (validator order is replica
   order), ``add-balance``, ``set KEY=VALUE``; ``agora genesis validate`` checks the whole
   and ``agora genesis hash`` prints the hash every member compares out of band.
3. Each member copies ``genesis.json`` into its HOME and starts. Peers whose genesis hash
   differs are refused in the handshake, naming both hashes.

The node's validator index is never typed: it is the position of its key in the genesis
(:func:`node_index_of`). A key that is not in the genesis is a clear error.

Edits to a draft genesis keep every check of a field's form (hex, types) but defer the
whole-file checks (at least 4 validators, ...) to ``validate``, so a genesis can be built
one validator at a time.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from consensus.errors import ConfigError
from consensus.types import Signer
from node.config import MetricsSection, NetworkSection, NodeConfig, NodeSection, RpcSection
from node.genesis import Balance, Genesis, Validator, genesis_from_dict, load_genesis
from node.keys import generate_seed, save_key

card_file_name = "validator.json"
key_file_name = "node_key.hex"
config_file_name = "config.toml"
genesis_file_name = "genesis.json"
card_fields = ("name", "public_key", "p2p_address", "rpc_address")


class KeyMismatch(ConfigError):
    """The node's key is not the validator its config or the genesis says it is."""


@dataclasses.dataclass(frozen=True, slots=True)
class ValidatorHome:
    """What ``create_validator_home`` wrote."""

    home: Path
    validator: Validator


def _split_host_port(text: str, what: str) -> tuple[str, int]:
    host, separator, port = text.removeprefix("http://").rpartition(":")
    if not (separator and host and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError([f"{what} must be host:port, got {text!r}"])
    return host, int(port)


def create_validator_home(home: Path, name: str, p2p_address: str, rpc_address: str,
                          metrics_port: int, *, listen_host: str | None = None,
                          seed: bytes | None = None, force: bool = False) -> ValidatorHome:
    """Write a new validator key (0600), its config and its public card into ``home``.

    Refuses (ConfigError) to overwrite an existing key unless ``force``: losing a
    validator's key by a typo is worse than a second command.
    """
    p2p_host, p2p_port = _split_host_port(p2p_address, "p2p address")
    rpc_host, rpc_port = _split_host_port(rpc_address, "rpc address")
    home.mkdir(parents=True, exist_ok=True)
    seed = seed if seed is not None else generate_seed()
    save_key(home / key_file_name, seed, overwrite=force)
    validator = Validator(name, Signer(seed).public_key, p2p_address, rpc_address)
    # Without --listen-host the node binds its genesis address (NetworkSection's empty
    # defaults), so editing the address in the genesis is enough; with it, the node binds
    # that host at the p2p port (a NAT or a container's port mapping).
    network = NetworkSection() if listen_host is None else NetworkSection(
        listen_host=listen_host, listen_port=p2p_port)
    config = NodeConfig(
        node=NodeSection(home_dir="."),
        network=network,
        rpc=RpcSection(host=listen_host or rpc_host, port=rpc_port),
        metrics=MetricsSection(host=listen_host or rpc_host, port=metrics_port),
    )
    (home / config_file_name).write_text(config.validate().to_toml())
    save_card(home / card_file_name, validator)
    return ValidatorHome(home, validator)


def save_card(path: Path, validator: Validator) -> None:
    card = {"name": validator.name, "public_key": validator.public_key.hex(),
            "p2p_address": validator.p2p_address, "rpc_address": validator.rpc_address}
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def load_card(path: Path | str) -> Validator:
    """Read a validator card; ConfigError naming the file and every problem."""
    path = Path(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError([f"{path}: cannot read validator card: {error}"]) from error
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str)
                                             for key in card_fields):
        raise ConfigError([f"{path}: a validator card is a JSON object with string fields "
                           + ", ".join(card_fields)])
    draft = genesis_from_dict({"chain_id": "card", "shard_count": 1, "python_version": "3.11",
                               "validators": [{key: data[key] for key in card_fields}]},
                              draft=True)
    return draft.validators[0]


def new_genesis(chain_id: str, shard_count: int, genesis_time_ms: int = 0) -> Genesis:
    """A draft genesis without validators; ConfigError if a given field is out of range."""
    genesis = Genesis(chain_id, shard_count, (), genesis_time_ms=genesis_time_ms)
    problems = [problem for problem in genesis.problems()
                if not problem.startswith("validators")]
    if problems:
        raise ConfigError(problems)
    return genesis


def add_validator(genesis: Genesis, validator: Validator) -> Genesis:
    """Append ``validator`` (the next replica id); refuse a duplicate name or key."""
    problems = [f"validator name {validator.name!r} is already in the genesis"
                for item in genesis.validators if item.name == validator.name]
    problems += [f"public key {validator.public_key.hex()} is already validator "
                 f"{item.name!r}" for item in genesis.validators
                 if item.public_key == validator.public_key]
    problems += [problem.replace("validators[0]", "validator") for problem in
                 Genesis("x", 1, (validator,)).problems()
                 if problem.startswith("validators[0]")]
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(genesis, validators=(*genesis.validators, validator))


def add_balance(genesis: Genesis, address: bytes, amount: int, *,
                issuer: bool = False) -> Genesis:
    """Credit ``address`` with ``amount`` at genesis (optionally allowed to mint)."""
    if any(item.address == address for item in genesis.balances):
        raise ConfigError([f"address {address.hex()} already has a genesis balance"])
    balance = Balance(address, amount)
    problems = Genesis("x", 1, (), balances=(balance,)).problems()
    problems = [problem.replace("balances[0]", "balance") for problem in problems
                if problem.startswith(("balances[0]", "total"))]
    if problems:
        raise ConfigError(problems)
    balances = tuple(sorted((*genesis.balances, balance), key=lambda item: item.address))
    issuers = (*genesis.issuers, address) if issuer and address not in genesis.issuers \
        else genesis.issuers
    return dataclasses.replace(genesis, balances=balances, issuers=issuers)


def set_field(genesis: Genesis, assignment: str) -> Genesis:
    """Apply ``KEY=VALUE`` (``chain_id``, ``shard_count``, ``consensus.NAME``, ...); the
    value is parsed as the field's current type; ConfigError names a bad key or value."""
    key, separator, text = assignment.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ConfigError([f"expected KEY=VALUE, got {assignment!r}"])
    data = genesis.to_dict()
    settable = {name: value for name, value in data.items()
                if not isinstance(value, (list, dict))}
    settable.update({f"consensus.{name}": value for name, value in data["consensus"].items()})
    settable["issuers"] = data["issuers"]
    if key not in settable:
        raise ConfigError([f"{key} is not a settable genesis field; one of: "
                           + ", ".join(sorted(settable))])
    value = _parse_as(settable[key], text.strip(), key)
    if key.startswith("consensus."):
        data["consensus"][key.removeprefix("consensus.")] = value
    else:
        data[key] = value
    return genesis_from_dict(data, draft=True)


def _parse_as(current: Any, text: str, key: str) -> Any:
    if isinstance(current, bool):
        raise ConfigError([f"{key}: booleans are not settable here"])
    if isinstance(current, int):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ConfigError([f"{key} must be an integer, got {text!r}"]) from None
    if isinstance(current, list):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def node_index_of(genesis: Genesis, public_key: bytes) -> int:
    """The validator index of ``public_key`` in ``genesis``: where the key is, never typed."""
    for index, validator in enumerate(genesis.validators):
        if validator.public_key == public_key:
            return index
    raise KeyMismatch([f"this node's key {public_key.hex()} is not a validator of the genesis "
                       f"{genesis.chain_id!r} (hash {genesis.hash().hex()})"])


def resolve_node_index(configured: int, genesis: Genesis, public_key: bytes) -> int:
    """The node's index from its key; KeyMismatch if a configured index disagrees."""
    derived = node_index_of(genesis, public_key)
    if configured not in (-1, derived):
        raise KeyMismatch([f"node.node_index is {configured} but this node's key "
                           f"{public_key.hex()[:16]}... is validator {derived} "
                           f"({genesis.validators[derived].name!r}) of the genesis; remove "
                           "node_index from the config (it is derived from the key)"])
    return derived


def read_draft(path: Path | str) -> Genesis:
    return load_genesis(path, draft=True)


def write_genesis(path: Path | str, genesis: Genesis) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    genesis.save(path)


__all__ = ["add_balance", "add_validator", "create_validator_home", "load_card",
           "new_genesis", "node_index_of", "set_field"]
