"""Benchmark workloads: account plans, spec generation, cross-shard share, signing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import workloads
from bench.workloads import Capabilities, WorkloadUnavailable
from consensus.types import decode_transaction
from ledger.sharding import home_shard, shard_of_account


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
        workloads.resolve("mix", "native_transfer=1,nft_mint=1",
                          Capabilities(contract_calls=False))
    with pytest.raises(WorkloadUnavailable, match="unknown workload"):
        workloads.resolve("bogus", None, Capabilities())


def test_default_mix_is_every_available_workload() -> None:
    assert workloads.resolve("mix", None, Capabilities(contract_calls=False)) == {
        "native_transfer": 1.0}
    assert set(workloads.resolve("mix", None, Capabilities())) == set(workloads.WORKLOADS)
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
    rows = workloads.availability_table(Capabilities(contract_calls=False))
    assert [row[0] for row in rows] == ["native_transfer", "token_transfer", "nft_mint",
                                        "nft_transfer", "marketplace_purchase"]
    assert rows[0][1] == "yes" and all(row[1].startswith("no: ") for row in rows[1:])
    assert all(row[1] == "yes" for row in workloads.availability_table(Capabilities()))


def test_token_transfers_are_signed_vm_calls_in_the_tokens_shard() -> None:
    from ledger.contracts import _decode_named_args

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


# -- collectible and marketplace workloads ----------------------------------------------


def _contract_in(shard: int, shard_count: int, salt: int) -> bytes:
    import hashlib

    return next(address for i in range(1000)
                if shard_of_account(address := hashlib.sha256(b"%d/%d" % (salt, i)).digest(),
                                    shard_count) == shard)


@pytest.fixture
def deployed() -> Iterator[workloads.AccountPlan]:
    """A 2-shard plan with the collectible and market workloads pointed at fake addresses
    (each sender's collection in its own shard, the market in shard 0)."""
    plan = workloads.make_account_plan(2, 4)
    collections = tuple(_contract_in(s.shard, 2, s.index) for s in plan.senders)
    mint, transfer, market = (workloads.WORKLOADS[name] for name in (
        "nft_mint", "nft_transfer", "marketplace_purchase"))
    assert isinstance(mint, workloads.NftMint) and isinstance(transfer, workloads.NftTransfer)
    assert isinstance(market, workloads.MarketplacePurchase)
    mint.collections = transfer.collections = collections
    market.market = _contract_in(0, 2, 999)
    try:
        yield plan
    finally:
        mint.collections = transfer.collections = None
        market.market = None


def _args(spec: workloads.TxSpec) -> dict[str, object]:
    return dict(spec.args)


def test_nft_mints_are_unique_in_the_senders_collection(deployed: workloads.AccountPlan
                                                         ) -> None:
    plan = deployed
    specs = workloads.generate_specs(plan, {"nft_mint": 1.0}, 400, 0.0, seed=3)
    mint = workloads.WORKLOADS["nft_mint"]
    assert isinstance(mint, workloads.NftMint) and mint.collections is not None
    tokens = [(spec.contract, _args(spec)["token"]) for spec in specs]
    assert len(set(tokens)) == len(specs) == len({t for _, t in tokens})
    for spec in specs:
        sender = plan.senders[spec.sender]
        args = _args(spec)
        assert spec.method == "mint" and spec.contract == mint.collections[sender.index]
        assert set(args) == {"to", "token", "royalty_bp"}
        assert args["token"] >> 32 == sender.index  # type: ignore[operator]
        assert args["token"] & 0xFFFFFFFF >= workloads.nft_mint_sequence_base  # type: ignore
        assert shard_of_account(args["to"], 2) == sender.shard  # type: ignore[arg-type]
        assert spec.gas_limit == workloads.nft_call_gas
    # sender k's mints count up from the base, in order
    first = [_args(spec)["token"] for spec in specs if spec.sender == 0][:3]
    assert first == [workloads.nft_token_id(0, workloads.nft_mint_sequence_base + k)
                     for k in range(3)]
    assert specs == workloads.generate_specs(plan, {"nft_mint": 1.0}, 400, 0.0, seed=3)
    assert specs != workloads.generate_specs(plan, {"nft_mint": 1.0}, 400, 0.0, seed=4)


def test_nft_transfers_move_each_pool_token_once_within_the_shard(
        deployed: workloads.AccountPlan) -> None:
    plan = deployed
    specs = workloads.generate_specs(plan, {"nft_transfer": 1.0}, 200, 0.0, seed=5)
    moved = [(spec.sender, _args(spec)["token"]) for spec in specs]
    assert len(set(moved)) == len(moved)
    for spec in specs:
        sender = plan.senders[spec.sender]
        args = _args(spec)
        assert spec.method == "transfer" and set(args) == {"to", "token"}
        assert args["to"] != sender.address
        assert shard_of_account(args["to"], 2) == sender.shard  # type: ignore[arg-type]
        assert args["token"] >> 32 == sender.index  # type: ignore[operator]
    needs = workloads.pool_needs(specs)
    assert needs.listings == 0 and sum(needs.nft_tokens.values()) == 200
    for index, count in needs.nft_tokens.items():  # tokens 0..count-1 of each sender
        assert sorted(t for s, t in moved if s == index) == [
            workloads.nft_token_id(index, k) for k in range(count)]
    assert specs == workloads.generate_specs(plan, {"nft_transfer": 1.0}, 200, 0.0, seed=5)


def test_purchases_buy_distinct_listings_from_one(deployed: workloads.AccountPlan) -> None:
    plan = deployed
    weights = {"native_transfer": 0.5, "marketplace_purchase": 0.5}
    specs = workloads.generate_specs(plan, weights, 300, 0.0, seed=9)
    buys = [spec for spec in specs if spec.workload == "marketplace_purchase"]
    market = workloads.WORKLOADS["marketplace_purchase"]
    assert isinstance(market, workloads.MarketplacePurchase)
    assert [_args(spec)["listing"] for spec in buys] == list(range(1, len(buys) + 1))
    assert all(spec.method == "buy" and spec.contract == market.market for spec in buys)
    # Buyers of the market's shard only: they pay their fees there (ledger/fees.py).
    assert {spec.sender for spec in buys} == {s.index for s in plan.of_shard(0)}
    assert workloads.pool_needs(specs).listings == len(buys)
    assert specs == workloads.generate_specs(plan, weights, 300, 0.0, seed=9)


def test_mixed_collectible_specs_sign_into_calls_of_the_right_shard(
        deployed: workloads.AccountPlan) -> None:
    from ledger.contracts import _decode_named_args

    plan = deployed
    weights = workloads.parse_mix("native_transfer=3,nft_mint=1,nft_transfer=1,"
                                  "marketplace_purchase=1")
    specs = workloads.generate_specs(plan, weights, 120, 0.0, seed=1)
    assert {spec.workload for spec in specs} == set(weights)
    job = workloads.SignJob("bench-chain", tuple(s.seed for s in plan.senders), (110, 220),
                            tuple(s.shard for s in plan.senders), specs)
    for spec, (_, tx_hex) in zip(specs, workloads.sign_specs(job), strict=True):
        tx = decode_transaction(bytes.fromhex(tx_hex))
        assert tx.has_valid_signature() and tx.method == spec.method
        if spec.workload in ("nft_mint", "nft_transfer"):
            assert home_shard(tx, 2) == plan.senders[spec.sender].shard
            assert _decode_named_args(tx.args) == dict(spec.args)
        elif spec.workload == "marketplace_purchase":
            assert home_shard(tx, 2) == 0


def test_collectible_and_market_workloads_need_setup() -> None:
    plan = workloads.make_account_plan(1, 2)
    for name in ("nft_mint", "nft_transfer", "marketplace_purchase"):
        with pytest.raises(WorkloadUnavailable, match="setup"):
            workloads.generate_specs(plan, {name: 1.0}, 1, 0.0)


def test_the_signing_pool_ends_with_its_workers_exited_not_killed() -> None:
    import multiprocessing

    from bench.harness import signing_pool

    for _ in range(3):
        with signing_pool(2) as pool:
            assert sorted(pool.imap(abs, range(-50, 0))) == list(range(1, 51))
            workers = list(pool._pool)
        assert all(worker.exitcode == 0 for worker in workers)  # terminate() gives -15
    assert not multiprocessing.active_children()


def test_the_open_loop_releases_a_whole_tick_of_txs_at_its_start() -> None:
    from bench.harness import open_loop_due

    assert open_loop_due(2500, 0.02, 0.0) == 50  # the first tick is due at once
    assert open_loop_due(2500, 0.02, 0.0199) == 50
    assert open_loop_due(2500, 0.02, 0.02) == 100
    assert open_loop_due(2500, 0.02, 10.0) == 25_050  # rate x elapsed, one tick ahead


def test_single_shard_contract_workloads_are_sent_by_senders_of_that_shard() -> None:
    """They pay their fees where the contract executes (ledger/fees.py)."""
    plan = workloads.make_account_plan(3, 4)
    token = workloads.WORKLOADS["token_transfer"]
    assert isinstance(token, workloads.TokenTransfer)
    token.contract = b"\x01" * 32
    try:
        specs = workloads.generate_specs(plan, {"token_transfer": 1.0,
                                                "native_transfer": 1.0}, 300, 0.0, seed=3)
    finally:
        token.contract = None
    token_senders = {spec.sender for spec in specs if spec.workload == "token_transfer"}
    native_senders = {spec.sender for spec in specs if spec.workload == "native_transfer"}
    assert token_senders == {sender.index for sender in plan.of_shard(0)}
    assert len(native_senders) == len(plan.senders)
