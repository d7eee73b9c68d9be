"""The replay rule is a pure function of the chain: the same on a node that ran from
genesis and on one restarted at any height (issue #12 point 4).

Two executors per shard over two real LevelDB stores (``storage.chain.ChainStore``) run the
same random blocks: txs on their home shard, txs put in the other shard's block (a faulty
primary), copies within a block, replays inside and outside the validity window. Node A
runs from genesis with a large index; node B has a tiny index (two hashes per shard, so
most answers come from the store) and is closed and re-opened at random heights. Every
receipt and every state root must be the same on both.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.types import Block, BlockHeader, CommitCertificate, Transaction, tx_root
from ledger.committed import CommittedTxIndex
from ledger.executor import build_executor, genesis_state_writes, state_root_after
from ledger.sharding import home_shard
from node.genesis import Balance, Genesis, GenesisConsensus, Validator
from storage.chain import ChainStore
from storage.state_root import EMPTY_STATE_ROOT, next_state_root
from tests.node.txs import CHAIN_ID, make_tx, signer

SHARDS = 2
WINDOW = 6
SENDERS = [signer(index) for index in range(1, 7)]


def _genesis() -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, shard_count=SHARDS,
        validators=(Validator("v0", signer(999).public_key, "127.0.0.1:1", "127.0.0.1:2"),),
        balances=tuple(Balance(sender.public_key, 1000) for sender in SENDERS),
        consensus=GenesisConsensus(tx_validity_window_blocks=WINDOW))


class _Node:
    """The executor, replay index and store of one node, as node/node.py wires them."""

    def __init__(self, path: Path, index_txs_max: int) -> None:
        self.path, self.index_txs_max = path, index_txs_max
        self.genesis = _genesis()
        self.store = ChainStore.open(path, CHAIN_ID)
        for shard in range(SHARDS):
            if self.store.finalized(shard) is None:
                writes = genesis_state_writes(self.genesis, shard)
                self.store.finalize_block(shard, 0, bytes(32), b"", b"", [], [], writes,
                                          next_state_root(EMPTY_STATE_ROOT, 0, writes))
        self._build()

    def _build(self) -> None:
        store = self.store

        def lookup(tx_hash: bytes) -> tuple[int, int] | None:
            location = store.get_tx_location(tx_hash)
            return None if location is None else (location.shard, location.height)

        self.index = CommittedTxIndex(
            SHARDS, WINDOW, self.index_txs_max,
            [store.last_height(shard) + 1 for shard in range(SHARDS)], lookup)
        self.executors = [build_executor(self.genesis, shard,
                                         is_committed=self.index.is_committed)
                          for shard in range(SHARDS)]

    def restart(self) -> None:
        self.store.close()
        self.store = ChainStore.open(self.path, CHAIN_ID)
        self._build()

    def execute(self, shard: int, txs: tuple[Transaction, ...]) -> tuple[list[int], bytes]:
        height = self.store.last_height(shard) + 1
        header = BlockHeader(CHAIN_ID, shard, height, bytes(32), 0, 0, 1000 + height,
                             tx_root(txs), 0, bytes(32), bytes(32))
        block = Block(header, txs)
        store = self.store
        result = self.executors[shard].execute_block(
            block, _View(lambda key: store.get_state(shard, key)))
        root = state_root_after(store.state_root(shard), height, result)
        certificate = CommitCertificate(CHAIN_ID, shard, 0, height, block.hash(), ())
        store.finalize_block(shard, height, block.hash(), codec.encode(block),
                             codec.encode(certificate), result.txs_to_index,
                             result.receipts_to_store, result.state_writes, root,
                             receipts_root=result.receipts_root)
        self.index.finalized(shard, height, [tx_hash for tx_hash, _ in result.txs_to_index])
        return [receipt.status for receipt in result.receipts], root


class _View:
    def __init__(self, read):  # type: ignore[no-untyped-def]
        self.get = read


def _blocks(seed: int, count: int) -> list[tuple[int, tuple[Transaction, ...]]]:
    """Random blocks (shard, txs) with fresh txs, wrong-shard inclusions and replays."""
    rng = random.Random(seed)
    heights = [0] * SHARDS
    made: list[Transaction] = []
    blocks = []
    for _ in range(count):
        shard = rng.randrange(SHARDS)
        height = heights[shard] + 1
        heights[shard] = height
        txs: list[Transaction] = []
        for _ in range(rng.randint(0, 4)):
            if made and rng.random() < 0.5:
                txs.append(rng.choice(made))  # a replay, maybe on another shard
            else:
                sender = rng.choice(SENDERS)
                tx = make_tx(sender, nonce=len(made), args=(bytes(32), 1),
                             expiry_height=height + rng.randint(-1, WINDOW + 1))
                made.append(tx)
                txs.append(tx)
            if rng.random() < 0.1:
                txs.append(txs[-1])  # a copy in the same block
        blocks.append((shard, tuple(txs)))
    return blocks


def _run_pair(base: Path, seed: int, restarts: set[int]) -> int:
    """Execute the same random blocks on a node that never stops and on one restarted at
    ``restarts``; assert identical receipts, roots and replay answers; return how many
    replay checks the restarted node answered from the store."""
    steady, restarted = _Node(base / "a", 100_000), _Node(base / "b", 4)
    try:
        for step, (shard, txs) in enumerate(_blocks(seed, 40)):
            if step in restarts:
                restarted.restart()
            expected = steady.execute(shard, txs)
            assert restarted.execute(shard, txs) == expected, (seed, step, shard)
            for tx in txs:  # the rule, answered by either path, is the same
                assert steady.index.is_committed(tx) == restarted.index.is_committed(tx)
        return restarted.index.store_lookups
    finally:
        steady.store.close()
        restarted.store.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), restarts=st.sets(st.integers(0, 39), max_size=6))
def test_a_restarted_node_gives_the_same_receipts_and_roots_as_one_that_never_stopped(
        tmp_path_factory, seed: int, restarts: set[int]) -> None:  # type: ignore[no-untyped-def]
    _run_pair(tmp_path_factory.mktemp("replay"), seed, restarts)


def test_the_restarted_node_answers_replay_checks_from_the_store_too(tmp_path: Path) -> None:
    """The property above must exercise the disk path, not only the memory one: with
    restarts mid-run some answers come from the store (and still agree)."""
    assert sum(_run_pair(tmp_path / str(seed), seed, {10, 20, 30}) for seed in range(3)) > 0


def test_a_tx_put_in_another_shard_first_still_runs_on_its_home_shard_after_a_restart(
        tmp_path: Path) -> None:
    """The reproduced attack at unit level: WRONG_SHARD on shard 1 commits nothing, so
    the tx runs on shard 0 whether or not the node restarted in between."""
    tx = make_tx(SENDERS[0], nonce=1, args=(SENDERS[0].public_key, 1), expiry_height=WINDOW)
    home = home_shard(tx, SHARDS)
    nodes = [_Node(tmp_path / "a", 100_000), _Node(tmp_path / "b", 100_000)]
    try:
        results = []
        for index, node in enumerate(nodes):
            node.execute(home, ())
            if index == 1:
                node.restart()
            wrong = node.execute(1 - home, (tx,))
            right = node.execute(home, (tx,))
            again = node.execute(home, (tx,))
            results.append((wrong, right, again))
        assert results[0] == results[1]
        (wrong, right, again) = results[0]
        assert [wrong[0], right[0], again[0]] == [[101], [0], [104]]  # WRONG_SHARD, OK, replay
    finally:
        for node in nodes:
            node.store.close()
