"""The genesis's fee parameters: defaults, checks, files, and what `agora init` writes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from consensus.errors import ConfigError
from consensus.types import Signer
from ledger.sharding import shard_of_account
from node.genesis import Genesis, GenesisConsensus, Validator, genesis_from_dict, load_genesis
from node.keys import load_seed
from node.setup import init_cluster, local_gas_price
from vm.gas import gas_limit_tx_max


def _genesis(**consensus: int) -> Genesis:
    return Genesis("agora-test", 2, tuple(
        Validator(f"v{index}", Signer(bytes([index + 1]) * 32).public_key,
                  f"127.0.0.1:{26700 + index}", f"127.0.0.1:{8545 + index}")
        for index in range(4)), fee_account=b"\x07" * 32,
        consensus=GenesisConsensus(**consensus))


def test_a_zero_gas_price_is_valid_and_the_default() -> None:
    assert GenesisConsensus().gas_price == 0
    assert _genesis(gas_price=0).problems() == []


def test_fee_parameters_are_checked_with_every_other_problem() -> None:
    data = _genesis().to_dict()
    data["fee_account"] = "0102"
    data["consensus"] = dict(data["consensus"], gas_price=-1)
    with pytest.raises(ConfigError) as caught:
        genesis_from_dict(data)
    problems = caught.value.problems
    assert any("fee_account must be 32 bytes" in problem for problem in problems)
    assert any("gas_price must be a non-negative integer" in problem for problem in problems)


def test_the_block_gas_limit_must_hold_the_largest_tx() -> None:
    problems = _genesis(block_gas_limit=gas_limit_tx_max - 1).problems()
    assert any("block_gas_limit must be >=" in problem for problem in problems)
    problems = _genesis(native_tx_gas=gas_limit_tx_max * 3).problems()
    assert any("native_tx_gas must be <=" in problem for problem in problems)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_fee_parameters_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    genesis = _genesis(gas_price=5, block_gas_limit=30_000_000, native_tx_gas=700)
    genesis.save(tmp_path / f"genesis{suffix}")
    loaded = load_genesis(tmp_path / f"genesis{suffix}")
    assert loaded == genesis
    assert dataclasses.replace(genesis, fee_account=b"").hash() != genesis.hash()


def test_a_local_cluster_charges_fees_and_its_faucet_and_fee_account_are_in_shard_0(
        tmp_path: Path) -> None:
    init_cluster(tmp_path / "net", 4, 3, "agora-test", p2p_port=1000, rpc_port=2000,
                 metrics_port=3000)
    genesis = load_genesis(tmp_path / "net" / "genesis.json")
    assert genesis.consensus.gas_price == local_gas_price > 0
    faucet = Signer(load_seed(tmp_path / "net" / "faucet_key.hex")).public_key
    fee_account = Signer(load_seed(tmp_path / "net" / "fee_key.hex")).public_key
    assert genesis.fee_account == fee_account
    assert shard_of_account(faucet, 3) == shard_of_account(fee_account, 3) == 0
    assert [item.address for item in genesis.balances] == [faucet]
