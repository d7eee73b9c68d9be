"""Every option of configs/node.example.toml changes what the node does (#12 point 8).

One row per option: a changed value and a probe that reads what the node *built from the
config* does or enforces. For each row two nodes are built, one from the defaults and one
with only that option changed (plus, where the config's rules require it, a companion
option that does not affect the probe); the probe must give different answers for them.
Behavioural probes where they are cheap (a cache that stops caching, a tick loop that
ticks at another rate under trio's MockClock, a proposer that cuts blocks at another time or size, a replica that gives up a
view after another number of ticks, a queue with another bound, a mempool that admits
another number of txs); for the network, RPC and metrics options the probe reads the
setting off the component the node builds (PeerManager, RpcServer), whose behaviour for
that setting is tested in tests/network and tests/node/test_rpc.py. The file options, the
listen address, the log level and where RPC and metrics are served (or not) are shown on a
real `agora node start` process in tests/e2e/test_config_options.py. A test checks that
every option of the example file has its row or test, so an option cannot be added
without showing what it does.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from consensus.events import Propose, Tick
from node.config import NodeConfig, load_config
from node.mempool import TxRejected
from node.node import Node
from node.setup import free_port_block, init_cluster
from tests.node.txs import make_tx, signer

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "node.example.toml"
CHAIN = "options-test"
SHARDS = 2

Probe = Callable[[Node], Any]


def _same_setting(section: str, key: str) -> Probe:
    """The value the component the node builds holds for this option."""
    if section == "network":
        return lambda node: getattr(node.build_peer_manager().config, key)
    if section in ("rpc", "metrics"):
        return lambda node: getattr(_rpc_or_metrics(node, section), key)
    raise AssertionError(section)


def _rpc_or_metrics(node: Node, section: str) -> Any:
    from node.rpc import RpcServer

    if section == "rpc":
        return RpcServer(node.api(), node.config.rpc, lambda method, outcome: None).config
    return node.config.metrics  # passed as is to node.metrics.serve_metrics


def _state_cache_hits(node: Node) -> int:
    state = node.shards[0].state
    assert state is not None
    state.get(b"some key")
    state.get(b"some key")
    return state.hits


def _recent_blocks_held(node: Node) -> int:
    recent = node.shards[0].recent
    assert recent is not None
    for height in range(1, 4):
        recent.add(height, _finalized(height))
    return len(recent)


def _finalized(height: int) -> Any:
    """A small, real finalized block (what the RPC's recent-block cache holds)."""
    from consensus.types import Block, BlockHeader
    from node.node import FinalizedBlock

    header = BlockHeader(CHAIN, 0, height, bytes(32), 0, 0, 0, bytes(32), 0, bytes(32),
                         bytes(32))
    return FinalizedBlock(Block(header, ()), None, None)  # type: ignore[arg-type]


def _store_lookups_for_a_committed_tx(node: Node) -> int:
    """A tx of a finalized block: the index answers from memory, or (0) from LevelDB."""
    tx = _txs_for_shard(0, 1)[0]
    node.committed.finalized(0, 1, [tx.hash()])
    assert node.is_committed(tx) in (True, False)
    return node.committed.store_lookups


def _txs_for_shard(shard: int, count: int, nonce: int = 0) -> list[Any]:
    """Txs from distinct senders whose home shard is ``shard`` (of the test's 2 shards)."""
    from ledger.sharding import home_shard

    txs: list[Any] = []
    index = 1000
    while len(txs) < count:
        tx = make_tx(signer(index), nonce=nonce, chain_id=CHAIN, expiry_height=50)
        index += 1
        if home_shard(tx, SHARDS) == shard:
            txs.append(tx)
    return txs


async def _ticks_in_one_second(node: Node) -> int:
    runtime = node.shards[0]
    with trio.move_on_after(1.0):
        await node._tick_loop()
    count = 0
    while True:
        try:
            runtime.events_receive.receive_nowait()
        except trio.WouldBlock:
            return count
        count += 1


async def _seconds_to_propose(node: Node, txs: int = 0) -> tuple[float, int]:
    """Virtual seconds from 'propose height 1' to the Propose, and its tx count."""
    runtime = node.shards[0]
    for tx in _txs_for_shard(0, txs):
        node.mempool.add(tx)
    runtime.proposal_wanted = 1
    async with trio.open_nursery() as nursery:
        nursery.start_soon(node._proposer_loop, runtime)
        started = trio.current_time()
        while True:
            event = await runtime.events_receive.receive()
            if isinstance(event, Propose):
                break
        nursery.cancel_scope.cancel()
    return round(trio.current_time() - started, 3), len(event.txs)


async def _block_interval(node: Node) -> float:
    return (await _seconds_to_propose(node, txs=1))[0]


async def _empty_block_interval(node: Node) -> float:
    return (await _seconds_to_propose(node, txs=0))[0]


async def _txs_in_a_block_of_small_txs(node: Node) -> int:
    return (await _seconds_to_propose(node, txs=5))[1]


def _ticks_until_view_change(node: Node) -> int:
    replica = node.shards[0].replica
    for ticks in range(1, 10_000):
        replica.step(Tick())
        if replica.in_view_change:
            return ticks
    raise AssertionError("no view change")


def _admitted_from_one_sender(node: Node) -> int:
    admitted = 0
    for nonce in range(40):
        try:
            node.mempool.add(make_tx(signer(4), nonce=nonce, chain_id=CHAIN, expiry_height=50))
        except TxRejected:
            break
        admitted += 1
    return admitted


def _admitted_from_many_senders(node: Node) -> int:
    """Txs admitted of 20 from distinct senders in each of the two shards."""
    admitted = 0
    for tx in _txs_for_shard(0, 20, nonce=1) + _txs_for_shard(1, 20, nonce=1):
        try:
            node.mempool.add(tx)
        except TxRejected:
            continue
        admitted += 1
    return admitted


def _admitted_bytes_of_big_txs(node: Node) -> int:
    admitted = 0
    for sender in range(20):
        tx = make_tx(signer(200 + sender), chain_id=CHAIN, expiry_height=50,
                     args=(b"x" * 20_000,))
        try:
            node.mempool.add(tx)
        except TxRejected:
            continue
        admitted += 1
    return admitted


def _admits_a_big_tx(node: Node) -> bool:
    tx = make_tx(signer(5), chain_id=CHAIN, expiry_height=50, args=(b"x" * 3000,))
    try:
        node.mempool.add(tx)
    except TxRejected:
        return False
    return True


def _admits_a_far_expiry(node: Node) -> bool:
    try:
        node.mempool.add(make_tx(signer(6), chain_id=CHAIN, expiry_height=800))
    except TxRejected:
        return False
    return True


def _sync_answers_refused(node: Node) -> int:
    """A peer with one catch-up answer in flight asks again: refused (counted) or served."""
    from types import SimpleNamespace

    started: list[Any] = []
    node._nursery = SimpleNamespace(  # type: ignore[assignment]
        start_soon=lambda *args: started.append(args))
    node._sync_answers[2] = 1
    node._maybe_serve_sync(0, SimpleNamespace(sender=2))  # type: ignore[arg-type]
    return node.dropped["sync_answers_per_peer_max"]


def _blocks_in_a_sync_answer(node: Node) -> int:
    """How many of 20 stored (small, real) blocks one catch-up answer carries."""
    from types import SimpleNamespace

    from consensus import codec
    from consensus.types import Block, BlockHeader, CommitCertificate
    from node.node import read_sync_blocks

    header = BlockHeader(CHAIN, 0, 1, bytes(32), 0, 0, 0, bytes(32), 0, bytes(32), bytes(32))
    stored = SimpleNamespace(
        block_bytes=codec.encode(Block(header, ())),
        certificate_bytes=codec.encode(CommitCertificate(CHAIN, 0, 0, 1, bytes(32), ())))
    store = SimpleNamespace(last_height=lambda shard: 20,
                            get_block=lambda shard, height: stored)
    return len(read_sync_blocks(store, 0, 1, 20,  # type: ignore[arg-type]
                                node.config.consensus.sync_response_bytes_max,
                                node.config.network.max_frame_bytes))


def _ready_check(name: str) -> Callable[[Node], Any]:
    """Whether shard 0's readiness check ``name`` passes in a fixed situation: the last
    block 20 s old, and f+1 peers vouching for a height 5 above what the replica has."""
    def probe(node: Node) -> Any:
        from node.health import readiness_checks

        runtime = node.shards[0]
        runtime.last_block_timestamp_ms = 1_000_000
        replica = runtime.replica
        replica._peer_heights.update(  # what PREPAREs and checkpoints from peers tell it
            {peer: replica.last_delivered + 5 for peer in range(1, 4)})
        return [check.ok for check in readiness_checks(node, now_ms=1_020_000)
                if check.name == name and check.shard == 0]
    return probe


def _contract_cache(node: Node) -> Any:
    """The compiled-contract cache the node built for shard 0's executor (its bounds are
    tested in tests/vm: eviction by count and by bytes)."""
    from ledger.types import ContractKind

    return node.executors[0].handlers[ContractKind.CONTRACT].cache  # type: ignore[attr-defined]


def _last_signed_folder(node: Node) -> str:
    assert node.last_signed is not None
    return node.last_signed.directory.name


# (section, option) -> (changed value, probe). Probes may be async (run under MockClock).
ROWS: dict[tuple[str, str], tuple[Any, Callable[[Node], Any]]] = {
    ("node", "state_cache_entries"): (0, _state_cache_hits),
    ("node", "committed_index_txs"): (0, _store_lookups_for_a_committed_tx),
    ("node", "recent_blocks_cached"): (2, _recent_blocks_held),
    ("node", "recent_blocks_bytes_max"): (1, _recent_blocks_held),
    ("node", "last_signed_dir"): ("signed_votes", _last_signed_folder),
    ("node", "contract_cache_entries"): (8, lambda node: _contract_cache(node).entries_max),
    ("node", "contract_cache_bytes_max"): (
        1024 * 1024, lambda node: _contract_cache(node).bytes_max),
    ("health", "block_age_seconds_max"): (10.0, _ready_check("block_age")),
    ("health", "catchup_lag_blocks_max"): (2, _ready_check("catching_up")),
    ("consensus", "tick_interval_ms"): (100, _ticks_in_one_second),
    ("consensus", "block_interval_ms"): (100, _block_interval),
    ("consensus", "empty_block_interval_ms"): (500, _empty_block_interval),
    ("consensus", "block_bytes_max"): (600, _txs_in_a_block_of_small_txs),
    ("consensus", "block_txs_max"): (
        1000, lambda node: node.shards[0].replica.config.block_txs_max),
    ("consensus", "view_change_timeout_ticks"): (40, _ticks_until_view_change),
    ("consensus", "request_timeout_ticks"): (
        20, lambda node: node.shards[0].replica.config.sync_stall_ticks),
    ("consensus", "sync_batch_blocks"): (
        32, lambda node: node.shards[0].replica.config.sync_blocks_max),
    ("consensus", "sync_answers_per_peer_max"): (1, _sync_answers_refused),
    ("consensus", "sync_response_bytes_max"): (1, _blocks_in_a_sync_answer),
    ("consensus", "event_queue_max"): (
        100, lambda node: node.shards[0].events_send.statistics().max_buffer_size),
    ("mempool", "capacity_txs"): (7, _admitted_from_many_senders),
    ("mempool", "shard_capacity_txs"): (5, _admitted_from_many_senders),
    ("mempool", "sender_capacity_txs"): (3, _admitted_from_one_sender),
    ("mempool", "capacity_bytes"): (100_000, _admitted_bytes_of_big_txs),
    ("mempool", "tx_bytes_max"): (2000, _admits_a_big_tx),
    ("mempool", "validity_window_blocks"): (500, _admits_a_far_expiry),
}
_NETWORK_CHANGED = {
    "max_frame_bytes": 32 * 1024 * 1024, "handshake_timeout_seconds": 3.0,
    "hello_timeout_seconds": 0.5, "max_pending_handshakes": 32,
    "max_pending_handshakes_per_address": 4, "dial_timeout_seconds": 3.0,
    "send_queue_frames": 100, "send_queue_bytes": 32 * 1024 * 1024,
    "inbound_queue_frames": 100, "inbound_queue_bytes": 16 * 1024 * 1024,
    "reconnect_backoff_initial_seconds": 0.2, "reconnect_backoff_max_seconds": 3.0,
    "write_timeout_seconds": 5.0, "keepalive_interval_seconds": 1.0,
    "idle_timeout_seconds": 6.0,
}
_RPC_CHANGED = {
    "body_bytes_max": 4096, "connections_max": 8, "keep_alive_timeout_seconds": 2.0,
    "batch_length_max": 10, "submit_wait_timeout_seconds_max": 10.0,
    "ws_subscriptions_max": 4, "ws_message_bytes_max": 4096, "ws_queue_messages_max": 16,
    "request_timeout_seconds": 20.0, "call_timeout_seconds": 1.0, "call_concurrent_max": 2,
    "ws_subscriber_stall_seconds": 5.0, "cors_allowed_origins": ("http://127.0.0.1:3000",),
    "events_page_max": 100, "events_scan_max": 5000, "simulate_gas_max": 1_000_000,
    "simulations_concurrent_max": 2,
}
for _key, _value in _NETWORK_CHANGED.items():
    ROWS[("network", _key)] = (_value, _same_setting("network", _key))
for _key, _value in _RPC_CHANGED.items():
    ROWS[("rpc", _key)] = (_value, _same_setting("rpc", _key))


def _explorer_setting(key: str) -> Probe:
    """What the explorer the node installs on its RPC server holds for this option (its
    bounds are exercised in tests/node/test_explorer_history.py, test_explorer_pages.py)."""
    def probe(node: Node) -> Any:
        from node.explorer import install
        from node.rpc import RpcServer

        server = RpcServer(node.api(), node.config.rpc, lambda method, outcome: None)
        install(server, node)
        if key == "enabled":
            return "/explorer" in server.mounts
        if key in ("page_size_max", "validator_timeout_seconds"):
            return getattr(server.mounts["/explorer"].config, key)  # type: ignore[attr-defined]
        handler: Any = server.methods["agora_recentActivity"].handler
        return getattr(handler.__self__.config, key)  # the RecentActivity's bounds

    return probe


_EXPLORER_CHANGED = {"enabled": False, "page_size_max": 10, "history_blocks_max": 16,
                     "history_txs_max": 100, "history_items_max": 5,
                     "validator_timeout_seconds": 0.5}
for _key, _value in _EXPLORER_CHANGED.items():
    ROWS[("explorer", _key)] = (_value, _explorer_setting(_key))

# Options the config's rules tie to a changed one: (section, option) -> companion values.
COMPANIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("mempool", "capacity_txs"): {"shard_capacity_txs": 7, "sender_capacity_txs": 7},
    ("mempool", "shard_capacity_txs"): {"sender_capacity_txs": 5},
    ("rpc", "request_timeout_seconds"): {"submit_wait_timeout_seconds_max": 10.0},
}

# Options shown on a real node process in tests/e2e/test_config_options.py.
SHOWN_BY_TESTS = {
    ("node", "home_dir"), ("node", "data_dir"), ("node", "key_file"),
    ("node", "genesis_file"), ("node", "node_index"),
    ("node", "log_level"), ("node", "log_format"),
    ("network", "listen_host"), ("network", "listen_port"),
    ("rpc", "enabled"), ("rpc", "host"), ("rpc", "port"),
    ("metrics", "enabled"), ("metrics", "host"), ("metrics", "port"),
}


def test_every_option_of_the_example_config_has_a_row_or_a_test() -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    options = {(section, key) for section, table in raw.items() for key in table}
    assert options == set(ROWS) | SHOWN_BY_TESTS, options ^ (set(ROWS) | SHOWN_BY_TESTS)
    assert not set(ROWS) & SHOWN_BY_TESTS


@pytest.fixture(scope="module")
def cluster_homes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = free_port_block(12)
    # No fees: the mempool probes admit txs from unfunded senders.
    return init_cluster(tmp_path_factory.mktemp("net"), 4, SHARDS, CHAIN, p2p_port=base,
                        rpc_port=base + 4, metrics_port=base + 8, gas_price=0)


def _open(home: Path, data: Path, **sections: dict[str, Any]) -> Node:
    config = load_config(home / "config.toml")
    changes = {"node": {"home_dir": str(home), "data_dir": str(data)}}
    for name, values in sections.items():
        changes[name] = {**changes.get(name, {}), **values}
    for name, values in changes.items():
        section = getattr(config, name)
        config = dataclasses.replace(config, **{name: dataclasses.replace(section, **values)})
    return Node.open(config.validate())


def _changed(section: str, key: str) -> dict[str, dict[str, Any]]:
    value, _ = ROWS[(section, key)]
    return {section: {key: value, **COMPANIONS.get((section, key), {})}}


@pytest.mark.parametrize(("section", "key"), sorted(ROWS))
async def test_changing_the_option_changes_what_the_node_does(
        section: str, key: str, cluster_homes: list[Path], tmp_path: Path,
        autojump_clock: trio.testing.MockClock) -> None:
    value, probe = ROWS[(section, key)]
    answers = []
    for sections in ({}, _changed(section, key)):
        node = _open(cluster_homes[0], tmp_path / f"data{len(answers)}", **sections)
        assert getattr(getattr(node.config, section), key) == (
            value if sections else getattr(getattr(NodeConfig(), section), key))
        answer = probe(node)
        if isinstance(answer, Awaitable):
            answer = await answer
        answers.append(answer)
        node.store.close()
    assert answers[0] != answers[1], f"{section}.{key}: {answers}"
