"""Block execution: native ledger, receipts, failures, replay, determinism."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.types import Block, BlockHeader, Signer, Transaction, merkle_root, tx_root
from ledger.executor import Executor, build_executor, genesis_state_writes, state_root_after
from ledger.types import BlockResult, ContractKind, Receipt, ReceiptEvent, Status, decode_receipt
from node.genesis import Balance, Genesis, GenesisConsensus, Validator
from ledger.native import balance_key, balance_of
from ledger.sharding import shard_of_account
from tests.node.txs import CHAIN_ID, make_tx, signer

SHARDS = 2


class DictView:
    def __init__(self, writes: tuple[tuple[bytes, bytes | None], ...] = ()) -> None:
        self.data: dict[bytes, bytes] = {}
        self.apply(writes)

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: tuple[tuple[bytes, bytes | None], ...]) -> None:
        for key, value in writes:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


def _signers_in_shard(shard: int, count: int) -> list[Signer]:
    found = []
    index = 1
    while len(found) < count:
        candidate = signer(index)
        if shard_of_account(candidate.public_key, SHARDS) == shard:
            found.append(candidate)
        index += 1
    return found


ALICE, BOB, ISSUER = _signers_in_shard(0, 3)
(CAROL,) = _signers_in_shard(1, 1)


def _genesis() -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, shard_count=SHARDS,
        validators=(Validator("v0", signer(999).public_key, "127.0.0.1:1", "127.0.0.1:2"),),
        balances=(Balance(ALICE.public_key, 100), Balance(CAROL.public_key, 5)),
        issuers=(ISSUER.public_key,),
        consensus=GenesisConsensus(tx_validity_window_blocks=200))


def _block(txs: list[Transaction], height: int = 1) -> Block:
    header = BlockHeader(CHAIN_ID, 0, height, b"\x00" * 32, 0, 0, 1000, tx_root(tuple(txs)),
                         0, b"\x00" * 32, b"\x00" * 32)
    return Block(header, tuple(txs))


def _run(txs: list[Transaction], executor: Executor | None = None) -> tuple[BlockResult, DictView]:
    genesis = _genesis()
    view = DictView(genesis_state_writes(genesis, 0))
    result = (executor or build_executor(genesis, 0)).execute_block(_block(txs), view)
    view.apply(result.state_writes)
    return result, view


def _transfer(sender: Signer, to: Signer | bytes, amount: int, nonce: int = 0) -> Transaction:
    address = to if isinstance(to, bytes) else to.public_key
    return make_tx(sender, nonce=nonce, args=(address, amount))


def test_genesis_writes_hold_only_the_shards_accounts() -> None:
    writes = genesis_state_writes(_genesis(), 0)
    assert writes == ((balance_key(ALICE.public_key), (100).to_bytes(8, "big")),)


def test_transfer_moves_balance_and_emits_an_event() -> None:
    result, view = _run([_transfer(ALICE, BOB, 30)])
    (receipt,) = result.receipts
    assert receipt.status == Status.OK and receipt.is_ok
    assert balance_of(view, ALICE.public_key) == 70
    assert balance_of(view, BOB.public_key) == 30
    (event,) = receipt.events
    assert (event.contract, event.name) == (b"", "Transfer")
    assert codec.unpack(event.data) == (ALICE.public_key, BOB.public_key, 30)
    assert result.state_writes == tuple(sorted(result.state_writes))


def test_transfer_of_everything_deletes_the_balance_key() -> None:
    result, view = _run([_transfer(ALICE, BOB, 100)])
    assert (balance_key(ALICE.public_key), None) in result.state_writes
    assert balance_of(view, ALICE.public_key) == 0


def test_failed_tx_changes_nothing_but_gets_a_receipt() -> None:
    txs = [_transfer(ALICE, BOB, 500), _transfer(BOB, ALICE, 1), _transfer(ALICE, BOB, 10)]
    result, view = _run(txs)
    statuses = [receipt.status for receipt in result.receipts]
    assert statuses == [Status.INSUFFICIENT_BALANCE, Status.INSUFFICIENT_BALANCE, Status.OK]
    assert result.receipts[0].error == "balance 100 is less than 500"
    assert result.receipts[0].events == ()
    assert balance_of(view, ALICE.public_key) == 90


def test_later_txs_see_earlier_writes_in_the_same_block() -> None:
    result, view = _run([_transfer(ALICE, BOB, 60), _transfer(BOB, ALICE, 50)])
    assert [receipt.status for receipt in result.receipts] == [Status.OK, Status.OK]
    assert balance_of(view, BOB.public_key) == 10


def test_mint_only_for_issuers() -> None:
    mint = make_tx(ISSUER, method="mint", args=(BOB.public_key, 7))
    forged_mint = make_tx(ALICE, method="mint", args=(BOB.public_key, 7))
    result, view = _run([mint, forged_mint])
    assert [receipt.status for receipt in result.receipts] == [Status.OK, Status.NOT_ISSUER]
    assert balance_of(view, BOB.public_key) == 7


def test_bad_arguments_and_methods_are_failures() -> None:
    txs = [
        make_tx(ALICE, nonce=1, args=(BOB.public_key,)),
        make_tx(ALICE, nonce=2, args=(b"short", 1)),
        make_tx(ALICE, nonce=3, args=(BOB.public_key, 0)),
        make_tx(ALICE, nonce=4, args=(BOB.public_key, True)),
        make_tx(ALICE, nonce=5, method="burn", args=(BOB.public_key, 1)),
        dataclasses.replace(make_tx(ALICE, nonce=6), args=b"\xc1"),
    ]
    result, _ = _run(txs)
    assert [receipt.status for receipt in result.receipts] == [
        Status.INVALID_ARGUMENT] * 4 + [Status.NO_SUCH_METHOD, Status.BAD_SIGNATURE]


def test_cross_shard_transfer_is_refused_until_two_phase_commit() -> None:
    result, _ = _run([_transfer(ALICE, CAROL, 1)])
    assert result.receipts[0].status == Status.CROSS_SHARD
    assert result.state_writes == ()


def test_prechecks_reject_invalid_txs_in_a_fixed_order() -> None:
    good = _transfer(ALICE, BOB, 1)
    txs = [
        make_tx(ALICE, chain_id="other"),
        _transfer(CAROL, ALICE, 1),  # home shard 1, block of shard 0
        make_tx(ALICE, nonce=7, expiry_height=0),
        make_tx(ALICE, nonce=8, expiry_height=202),
        dataclasses.replace(good, signature=b"\x02" * 64),
        good,
        good,
    ]
    result, _ = _run(txs)
    assert [receipt.status for receipt in result.receipts] == [
        Status.WRONG_CHAIN, Status.WRONG_SHARD, Status.EXPIRED, Status.EXPIRY_TOO_FAR,
        Status.BAD_SIGNATURE, Status.OK, Status.ALREADY_COMMITTED]
    # Only the admitted tx is indexed and stored: a precheck refusal commits nothing.
    assert result.txs_to_index == ((good.hash(), 5),)
    assert [tx_hash for tx_hash, _ in result.receipts_to_store] == [good.hash()]


def test_committed_hashes_are_replays() -> None:
    tx = _transfer(ALICE, BOB, 1)
    executor = build_executor(_genesis(), 0, is_committed=lambda other: other.hash() == tx.hash())
    result, _ = _run([tx], executor)
    assert result.receipts[0].status == Status.ALREADY_COMMITTED
    assert result.receipts_to_store == ()


def test_verified_hashes_skip_the_signature_check() -> None:
    tx = dataclasses.replace(_transfer(ALICE, BOB, 1), signature=b"\x02" * 64)
    trusting = build_executor(_genesis(), 0, is_verified=lambda tx_hash: True)
    result, _ = _run([tx], trusting)
    assert result.receipts[0].status == Status.OK


def test_a_vm_handler_plugs_into_the_dispatch_table() -> None:
    executor = build_executor(_genesis(), 0)

    def fake_vm(tx, context, state):  # type: ignore[no-untyped-def]
        from ledger.types import CallOutcome

        state.put(b"S" + tx.contract + b"x\x00", b"\x01")
        return CallOutcome(Status.OK, gas_used=42, result=codec.pack(7))

    handlers = dict(executor.handlers)
    handlers[ContractKind.CONTRACT] = fake_vm
    executor = dataclasses.replace(executor, handlers=handlers)
    contract = next(bytes([index]) * 32 for index in range(256)
                    if shard_of_account(bytes([index]) * 32, SHARDS) == 0)
    result, _ = _run([make_tx(ALICE, contract=contract, method="buy")], executor)
    assert result.receipts[0].gas_used == 42
    assert result.state_writes == ((b"S" + contract + b"x\x00", b"\x01"),)


def test_receipts_round_trip_and_root_covers_them_in_order() -> None:
    result, _ = _run([_transfer(ALICE, BOB, 1, nonce=1), _transfer(ALICE, BOB, 2, nonce=2)])
    for receipt, data in zip(result.receipts, result.receipt_bytes):
        assert decode_receipt(data) == receipt
        assert isinstance(receipt, Receipt)
    assert result.receipts_root == merkle_root(list(result.receipt_bytes))


def test_execution_is_deterministic_and_roots_chain() -> None:
    txs = [_transfer(ALICE, BOB, amount, nonce=amount) for amount in range(1, 20)]
    first, _ = _run(txs)
    second, _ = _run(txs)
    assert first == second
    root = state_root_after(b"\x00" * 32, 1, first)
    assert root == state_root_after(b"\x00" * 32, 1, second)


def test_status_codes_below_100_are_the_vms_error_codes() -> None:
    from vm.errors import ErrorCode

    for code in ErrorCode:
        assert Status[code.name] == code.value
    assert all(status >= 100 for status in Status if status.name not in ErrorCode.__members__)


_events = st.builds(ReceiptEvent, st.binary(max_size=40), st.text(max_size=70),
                    st.binary(max_size=300))
_receipts = st.builds(
    Receipt, st.binary(min_size=32, max_size=32),
    st.sampled_from(list(Status)) | st.integers(0, 255),
    st.integers(0, 2**63 - 1), st.text(max_size=600),
    st.lists(_events, max_size=20).map(tuple), st.binary(max_size=300))


@settings(max_examples=300, deadline=None)
@given(_receipts)
def test_a_receipts_fast_encoding_is_its_canonical_encoding(receipt: Receipt) -> None:
    # Receipt.encoded packs a plain tuple in one call; stored receipts and the receipts
    # root depend on it being byte-for-byte codec.encode (fixed-width array headers past
    # 15 events, str vs bin, IntEnum status as its int).
    assert receipt.encoded() == codec.encode(receipt)
    assert decode_receipt(receipt.encoded()) == dataclasses.replace(
        receipt, status=int(receipt.status))
