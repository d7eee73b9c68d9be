"""Benchmark workloads: account plans, spec generation, cross-shard share, signing."""

from __future__ import annotations

import pytest

from bench import workloads
from bench.workloads import Capabilities, WorkloadUnavailable
from consensus.types import decode_transaction
from node.sharding import home_shard, shard_of_account


def test_account_plan_gives_each_shard_its_senders_deterministically() -> None:
    plan = workloads.make_account_plan(3, 4)
    assert len(plan.senders) == 12
    for shard in range(3):
        senders = plan.of_shard(shard)
        assert len(senders) == 4
        assert all(shard_of_account(s.address, 3) == shard for s in senders)
    assert [s.index for s in plan.senders] == list(range(12))
    assert workloads.make_account_plan(3, 4) == plan


def test_same_shard_transfers_stay_in_the_senders_shard() -> None:
    plan = workloads.make_account_plan(2, 5)
    specs = workloads.generate_specs(plan, {"native_transfer": 1.0}, 200, 0.0, seed=1)
    for spec in specs:
        sender = plan.senders[spec.sender]
        recipient = spec.args[0]
        assert not spec.cross_shard
        assert shard_of_account(recipient, 2) == sender.shard
        assert recipient != sender.address


def test_cross_shard_share_is_honoured_and_recipients_are_elsewhere() -> None:
    plan = workloads.make_account_plan(2, 5)
    specs = workloads.generate_specs(plan, {"native_transfer": 1.0}, 4000, 0.25, seed=2)
    cross = [spec for spec in specs if spec.cross_shard]
    assert 0.20 < len(cross) / len(specs) < 0.30
    for spec in cross:
        assert shard_of_account(spec.args[0], 2) != plan.senders[spec.sender].shard


def test_cross_shard_share_means_nothing_with_one_shard() -> None:
    plan = workloads.make_account_plan(1, 3)
    specs = workloads.generate_specs(plan, {"native_transfer": 1.0}, 100, 1.0)
    assert not any(spec.cross_shard for spec in specs)


def test_senders_rotate_evenly_and_nonces_differ() -> None:
    plan = workloads.make_account_plan(1, 4)
    specs = workloads.generate_specs(plan, {"native_transfer": 1.0}, 40, 0.0)
    assert [spec.sender for spec in specs[:8]] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert len({spec.nonce for spec in specs}) == 40


def test_generation_is_reproducible_from_the_seed() -> None:
    plan = workloads.make_account_plan(2, 3)
    first = workloads.generate_specs(plan, {"native_transfer": 1.0}, 50, 0.5, seed=7)
    assert first == workloads.generate_specs(plan, {"native_transfer": 1.0}, 50, 0.5, seed=7)
    assert first != workloads.generate_specs(plan, {"native_transfer": 1.0}, 50, 0.5, seed=8)


def test_signed_txs_decode_verify_and_run_in_the_senders_shard() -> None:
    plan = workloads.make_account_plan(2, 3)
    specs = workloads.generate_specs(plan, {"native_transfer": 1.0}, 20, 0.5)
    job = workloads.SignJob("bench-chain", tuple(s.seed for s in plan.senders), (110, 220),
                            tuple(s.shard for s in plan.senders), specs)
    for spec, (tx_hash, tx_hex) in zip(specs, workloads.sign_specs(job), strict=True):
        tx = decode_transaction(bytes.fromhex(tx_hex))
        assert tx.hash() == tx_hash
        assert tx.has_valid_signature()
        assert tx.chain_id == "bench-chain" and tx.method == "transfer"
        shard = plan.senders[spec.sender].shard
        assert home_shard(tx, 2) == shard
        assert tx.expiry_height == (110, 220)[shard]


def test_contract_workloads_fail_clearly_until_the_node_serves_calls() -> None:
    with pytest.raises(WorkloadUnavailable, match="token_transfer: the node does not serve"):
        workloads.resolve("token_transfer", None, Capabilities(contract_calls=False))
    with pytest.raises(WorkloadUnavailable, match="nft_mint"):
        workloads.resolve("mix", "native_transfer=1,nft_mint=1", Capabilities())
    with pytest.raises(WorkloadUnavailable, match="unknown workload"):
        workloads.resolve("bogus", None, Capabilities())


def test_default_mix_is_every_available_workload() -> None:
    assert workloads.resolve("mix", None, Capabilities()) == {"native_transfer": 1.0}
    assert workloads.resolve("native_transfer", None, Capabilities()) == {
        "native_transfer": 1.0}


def test_parse_mix_normalises_weights() -> None:
    assert workloads.parse_mix("native_transfer=3,token_transfer=1") == {
        "native_transfer": 0.75, "token_transfer": 0.25}
    with pytest.raises(ValueError, match="unknown workload"):
        workloads.parse_mix("x=1")
    with pytest.raises(ValueError, match="positive"):
        workloads.parse_mix("native_transfer=0")


def test_availability_table_lists_every_workload() -> None:
    rows = workloads.availability_table(Capabilities())
    assert [row[0] for row in rows] == ["native_transfer", "token_transfer", "nft_mint",
                                        "marketplace_purchase"]
    assert rows[0][1] == "yes" and rows[1][1].startswith("no: ")


def test_token_transfers_are_signed_vm_calls_in_the_tokens_shard() -> None:
    from node.contracts import _decode_named_args

    token = workloads.WORKLOADS["token_transfer"]
    assert isinstance(token, workloads.TokenTransfer)
    plan = workloads.make_account_plan(2, 3)
    contract = next(bytes([i]) * 32 for i in range(256)
                    if shard_of_account(bytes([i]) * 32, 2) == 1)
    token.contract = contract
    try:
        specs = workloads.generate_specs(plan, {"token_transfer": 1.0}, 10, 0.0)
    finally:
        token.contract = None
    job = workloads.SignJob("bench-chain", tuple(s.seed for s in plan.senders), (110, 220),
                            tuple(s.shard for s in plan.senders), specs)
    for (tx_hash, tx_hex) in workloads.sign_specs(job):
        tx = decode_transaction(bytes.fromhex(tx_hex))
        assert tx.has_valid_signature() and tx.contract == contract
        assert home_shard(tx, 2) == 1 and tx.expiry_height == 220
        assert tx.gas_limit == workloads.token_call_gas
        args = _decode_named_args(tx.args)
        assert args is not None and args["amount"] == 1 and len(args["to"]) == 32
    with pytest.raises(WorkloadUnavailable, match="setup"):
        workloads.generate_specs(plan, {"token_transfer": 1.0}, 1, 0.0)
