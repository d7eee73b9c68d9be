"""Sharding rule, config parsing, genesis files and key files."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from consensus.errors import ConfigError
from consensus.types import Signer, Transaction
from node import config as config_module
from node.config import NodeConfig, load_config, parse_config
from node.genesis import Balance, Genesis, Validator, genesis_from_dict, load_genesis
from node.keys import load_seed, load_signer, save_key
from ledger.sharding import home_shard, shard_of_account


def test_shard_of_account_is_sha256_prefix_mod_count() -> None:
    address = bytes(range(32))
    expected = int.from_bytes(hashlib.sha256(address).digest()[:8], "big") % 7
    assert shard_of_account(address, 7) == expected
    assert shard_of_account(address, 1) == 0


def test_shard_of_account_spreads_addresses_over_shards() -> None:
    counts = [0, 0, 0, 0]
    for index in range(400):
        counts[shard_of_account(index.to_bytes(32, "big"), 4)] += 1
    assert min(counts) > 60


def _tx(sender: bytes, contract: bytes = b"") -> Transaction:
    return Transaction("c", sender, 0, 10, 0, contract, "transfer", b"\x90", b"\x00" * 64)


def test_home_shard_is_sender_shard_for_native_and_contract_shard_for_calls() -> None:
    sender, contract = b"\x01" * 32, b"\x02" * 32
    assert home_shard(_tx(sender), 16) == shard_of_account(sender, 16)
    assert home_shard(_tx(sender, contract), 16) == shard_of_account(contract, 16)


def test_empty_config_is_the_valid_local_default() -> None:
    assert parse_config("") == NodeConfig()
    assert NodeConfig().validate() == NodeConfig()


def test_config_round_trips_through_toml() -> None:
    config = parse_config('[network]\nlisten_host = "0.0.0.0"\nlisten_port = 7000\n'
                          '[rpc]\nport = 9000\n')
    assert (config.network.listen_host, config.network.listen_port) == ("0.0.0.0", 7000)
    assert parse_config(config.to_toml()) == config


def test_config_reports_every_bad_field_at_once() -> None:
    text = """
[node]
log_level = "LOUD"
node_index = -2
colour = "blue"
[rpc]
port = "eighty"
body_bytes_max = 0
[mempool]
capacity_txs = 10
shard_capacity_txs = 20
[nonsense]
x = 1
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    text_of_problems = "\n".join(caught.value.problems)
    for needle in ("node.log_level", "node.node_index", "node.colour", "rpc.port",
                   "rpc.body_bytes_max", "mempool.shard_capacity_txs", "[nonsense]"):
        assert needle in text_of_problems
    assert len(caught.value.problems) == 8  # sender_capacity_txs > shard_capacity_txs too


def test_config_checks_relations_between_fields() -> None:
    config = dataclasses.replace(
        NodeConfig(),
        consensus=config_module.ConsensusSection(empty_block_interval_ms=3000),
        network=config_module.NetworkSection(
            hello_timeout_seconds=9.0, max_pending_handshakes_per_address=100,
            inbound_queue_bytes=1024, listen_port=70000))
    problems = config.problems()
    for needle in ("empty_block_interval_ms", "network.hello_timeout_seconds",
                   "network.max_pending_handshakes_per_address", "network.inbound_queue_bytes",
                   "network.listen_port"):
        assert any(needle in problem for problem in problems), needle


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[rpc\n")
    with pytest.raises(ConfigError, match="node.toml"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_network_section_maps_onto_network_config() -> None:
    network = NodeConfig().network.to_network_config()
    assert network.max_frame_bytes == NodeConfig().network.max_frame_bytes
    network.validate()


def _genesis(validators: int = 4) -> Genesis:
    return Genesis(
        chain_id="agora-test", shard_count=2,
        validators=tuple(Validator(f"v{index}", Signer(bytes([index]) * 32).public_key,
                                   f"127.0.0.1:{26700 + index}", f"127.0.0.1:{8545 + index}")
                         for index in range(validators)),
        balances=(Balance(b"\x05" * 32, 100), Balance(b"\x06" * 32, 7)),
        issuers=(b"\x05" * 32,))


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_genesis_round_trips_through_json_and_toml(tmp_path: Path, suffix: str) -> None:
    genesis = _genesis()
    path = tmp_path / f"genesis{suffix}"
    genesis.save(path)
    loaded = load_genesis(path)
    assert loaded == genesis
    assert loaded.hash() == genesis.hash()
    assert loaded.quorum == 3


def test_genesis_hash_does_not_depend_on_balance_order() -> None:
    data = _genesis().to_dict()
    reordered = dict(data, balances=list(reversed(data["balances"])))
    assert genesis_from_dict(reordered).hash() == genesis_from_dict(data).hash()


def test_genesis_balances_of_shard_partition_the_balances() -> None:
    genesis = _genesis()
    owned = genesis.balances_of_shard(0) + genesis.balances_of_shard(1)
    assert sorted(owned, key=lambda item: item.address) == list(genesis.balances)


def test_genesis_reports_every_problem_at_once() -> None:
    data = _genesis(validators=2).to_dict()
    data["chain_id"] = ""
    data["shard_count"] = 0
    data["balances"].append({"address": "zz", "amount": -1})
    data["validators"][1]["public_key"] = data["validators"][0]["public_key"]
    data["consensus"]["checkpoint_interval_blocks"] = 0
    data["extra"] = 1
    with pytest.raises(ConfigError) as caught:
        genesis_from_dict(data)
    problems = "\n".join(caught.value.problems)
    for needle in ("chain_id", "shard_count", "tolerate no fault", "balances[2].address",
                   "balances[2].amount", "public keys must be unique",
                   "checkpoint_interval_blocks", "extra"):
        assert needle in problems


def test_genesis_checks_the_python_version() -> None:
    _genesis().check_python_version()
    with pytest.raises(ConfigError, match="requires Python 2.7"):
        dataclasses.replace(_genesis(), python_version="2.7").check_python_version()


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.key"
    save_key(path, b"\x07" * 32)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_seed(path) == b"\x07" * 32
    assert load_signer(path).public_key == Signer(b"\x07" * 32).public_key
    with pytest.raises(ConfigError, match="already exists"):
        save_key(path, b"\x08" * 32)


def test_key_file_readable_by_others_or_malformed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    path.write_text("abcd\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as caught:
        load_seed(path)
    assert len(caught.value.problems) == 2


def test_config_must_agree_with_the_genesis() -> None:
    from node.genesis import check_config_against_genesis

    genesis = _genesis()
    assert check_config_against_genesis(NodeConfig(), genesis) == []
    config = dataclasses.replace(
        NodeConfig(),
        node=config_module.NodeSection(node_index=4),
        mempool=config_module.MempoolSection(validity_window_blocks=5000))
    problems = check_config_against_genesis(config, genesis)
    assert len(problems) == 2
    assert any("validity_window_blocks" in problem for problem in problems)


def test_the_example_config_lists_every_option_with_its_default() -> None:
    """configs/node.example.toml is what operators read: it must not drift from the code."""
    import tomllib

    path = Path(__file__).resolve().parents[2] / "configs" / "node.example.toml"
    text = path.read_text()
    assert parse_config(text) == NodeConfig()
    raw = tomllib.loads(text)
    for section in dataclasses.fields(NodeConfig):
        listed = set(raw[section.name])
        options = {item.name for item in dataclasses.fields(getattr(NodeConfig(), section.name))}
        assert listed == options, f"[{section.name}]: {listed ^ options}"
