"""The validator node: the composition root that wires every layer together.

Task tree (one nursery, owned by :meth:`Node.run`)::

    Node.run
    ├── PeerManager.run              network/: encrypted links to the other validators
    ├── _network_loop                one intake task per peer: frames -> replica channels /
    │                                mempool, cheap checks before decoding and signatures
    ├── _gossip_loop                 batches of admitted client txs -> every peer
    ├── _tick_loop                   one Tick per tick interval to every replica
    ├── per shard s:
    │   ├── _replica_loop(s)         the only task that calls Replica.step
    │   ├── _proposer_loop(s)        cuts a block by size or time when the replica asks
    │   └── _executor_loop(s)        executes and finalizes committed blocks in order
    ├── RPC server                   node/rpc.py (hypercorn, trio worker)
    └── metrics server               node/metrics.py

Ordering contract of a replica's Output (consensus/events.py) is kept by
``_replica_loop``: records are appended to the LevelDB WAL (synced) before the messages
are handed to the network, and committed blocks go to the executor channel in order.

Bounds (all from config): the replica event channel (``consensus.event_queue_max``), the
executor channel (watermark window + sync batch), the gossip buffer, every peer queue
(network/: per peer, in frames and bytes, inbound and outbound), the mempool, RPC bodies
and connections. Peer intake (``_network_loop``) runs one task per peer, checks each
message's head before decoding it or checking a signature, and shares the signature
threads fairly (see ``_take_in`` and ``SignatureChecker``). A full replica channel drops network
messages and ticks with a counter (PBFT tolerates loss); proposals and execution results
never drop: the proposer waits, and execution results go through a list the replica loop
drains first, bounded by what was delivered.

Deadlock freedom: the replica loop waits on the WAL and on the executor channel; the
executor waits only on LevelDB; nothing waits on the replica loop except the proposer.

Execution off the event loop (DESIGN.md: "Execution never blocks the loop that serves
consensus messages, timers and RPC"): ``_executor_loop`` runs ``execute_block`` in a worker
thread (``trio.to_thread``, a limiter of one thread per shard) and awaits it, so PBFT
messages, ticks and RPC keep being served while a block executes. What the worker reads:
the shard's ``StateCache`` (only its executor loop touches it, and only between blocks),
LevelDB (thread-safe reads), the committed-tx index of its own shard (changed only by the
same executor loop after the worker returns) and a frozen set of the block's txs whose
signatures were already checked (computed on the loop before the worker starts). The GIL
still shares one core between the loop and the worker: blocks are bounded by the genesis
block gas limit, and the loop gets the interpreter every switch interval (5 ms).
``agora_call`` runs in a worker thread too (node/api.py), within a deadline and a
concurrency limit from ``[rpc]``.

Node faults halt the shard, never the process (issue #12): an exception out of executing
or finalizing a block (``ledger.types.ExecutionFault`` names the tx) marks the shard
halted (``ShardRuntime.halted``, ``halted`` in ``agora_status``, metric
``agora_shard_halted``), logs CRITICAL with shard, height and tx, and persists a halt
marker in the store; the shard's tasks then drain their channels and do nothing, and the
other shards keep running. On restart the marker is read back, so the node reports the
halt instead of executing the block again and crash-looping. To clear it, move the data
directory away and start the node: it catches up from its peers (README, "A halted
shard").
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import enum
import logging
import math
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import trio

from consensus import codec
from consensus.errors import DecodeError, PeerError
from consensus.events import (
    Executed,
    ExecutedRoot,
    MessageReceived,
    Output,
    Propose,
    RecoveredState,
    StableCheckpointRecord,
    Tick,
)
from consensus.precheck import peek_head, precheck
from consensus.records import decode_record, encode_record
from consensus.replica import Replica, ReplicaConfig
from consensus.types import (
    Block,
    BlockHeader,
    Checkpoint,
    CommitCertificate,
    CommittedBlock,
    Message,
    Signer,
    SyncRequest,
    SyncResponse,
    Transaction,
    decode_message,
    decode_transaction,
    encode_message,
    sign_message,
)
from ledger.committed import CommittedTxIndex
from node.config import NodeConfig, frame_overhead_bytes
from ledger.executor import fee_params, state_root_after
from ledger.native import balance_of
from ledger.types import ExecutionFault
from vm.contract import ContractCache
from node.genesis import Genesis
from node.last_signed import LastSignedRecord, entries_per_kind_max, votes_of
from storage.aio import AsyncChainStore
from storage.chain import ChainStore

logger = logging.getLogger(__name__)

gossip_batch_txs_max = 512
gossip_flush_interval_seconds = 0.01
gossip_batches_queued_max = 256
executed_roots_recovered = 256
sync_answer_threads_max = 2  # catch-up answers built at once (worker threads)
# Peer messages at least this large are decoded in a worker thread (decoding a full
# 2,000-tx PRE-PREPARE takes ~10 ms; a 16 MiB frame of 100,000 txs ~0.7 s).
decode_in_thread_bytes_min = 64 * 1024
# Worker threads for client signature checks outside the mempool (node/node.py
# SignatureChecker), shared FIFO by the gossip admission loop and the peer intake tasks.
signature_check_threads = 2


class WireKind(enum.IntEnum):
    """The first element of every peer payload: ``[kind, body]``."""

    CONSENSUS = 1
    TXS = 2


def encode_wire(kind: WireKind, body: Any) -> bytes:
    return codec.pack((int(kind), body))


@dataclass(slots=True)
class ShardRuntime:
    shard: int
    replica: Replica
    events_send: trio.MemorySendChannel[Any]
    events_receive: trio.MemoryReceiveChannel[Any]
    execute_send: trio.MemorySendChannel[CommittedBlock]
    execute_receive: trio.MemoryReceiveChannel[CommittedBlock]
    executed: deque[Executed] = field(default_factory=deque)
    proposal_wanted: int | None = None
    proposal_changed: trio.Event = field(default_factory=trio.Event)
    proposed: dict[int, list[bytes]] = field(default_factory=dict)  # height -> tx hashes
    last_view: int = 0
    dropped_events: int = 0
    state: StateCache | None = None  # set by Node._build_shard
    recent: RecentBlocks | None = None  # set by Node._build_shard
    # Why the shard halted, or None: its state root differs from a quorum's (the replica
    # halted), or a node fault in execution (module docstring). It never resumes by itself.
    halted: str | None = None
    executing_height: int | None = None  # the height a worker thread is executing
    # Header timestamp of the last finalized block (0: none yet), for /ready and metrics.
    last_block_timestamp_ms: int = 0


class Node:
    """One validator. Build with :meth:`open`, then ``await node.run()`` in a nursery."""

    def __init__(self, config: NodeConfig, genesis: Genesis, signer: Signer,
                 store: ChainStore, last_signed: LastSignedRecord | None = None) -> None:
        from ledger.executor import build_executor
        from node.mempool import Mempool
        from node.metrics import NodeMetrics

        self.config = config
        self.genesis = genesis
        self.signer = signer
        self.store = store
        # What this validator signed, kept apart from the store (node/last_signed.py);
        # Node.open always gives one, bare constructions in tests may not.
        self.last_signed = last_signed
        self.async_store = AsyncChainStore(store)
        self.index = config.node.node_index
        assert genesis.validator_keys[self.index] == signer.public_key, \
            "the node key is not validator %d of the genesis" % self.index
        from node.genesis import view_change_messages_bytes_max

        # Every message is bounded by construction: the view-change messages by n and the
        # window (not block size), catch-up answers by sync_response_bytes_max.
        assert view_change_messages_bytes_max(genesis) <= config.network.max_frame_bytes, \
            "the largest NEW-VIEW does not fit a frame"
        assert config.consensus.sync_response_bytes_max + frame_overhead_bytes <= \
            config.network.max_frame_bytes
        self.signatures = SignatureChecker(config.mempool.capacity_txs, signature_check_threads)
        self._decode_limiter = trio.CapacityLimiter(1)
        for shard in range(genesis.shard_count):
            self._ensure_genesis(shard)
        self.committed = CommittedTxIndex(
            genesis.shard_count, genesis.consensus.tx_validity_window_blocks,
            config.node.committed_index_txs,
            [store.last_height(shard) + 1 for shard in range(genesis.shard_count)],
            lookup=functools.partial(_stored_tx_location, store))
        self.fees = fee_params(genesis)
        self.mempool = Mempool(genesis.chain_id, genesis.shard_count, config.mempool,
                               is_committed=self.is_committed, fees=self.fees,
                               balance_of=self.committed_balance)
        # Worker threads: block execution (one per shard at a time anyway) and agora_call.
        self.execution_limiter = trio.CapacityLimiter(genesis.shard_count)
        self.call_limiter = trio.CapacityLimiter(config.rpc.call_concurrent_max)
        self.executors = {
            shard: build_executor(
                genesis, shard, is_committed=self.is_committed, is_verified=self.is_verified,
                contract_cache=ContractCache(config.node.contract_cache_entries,
                                             config.node.contract_cache_bytes_max,
                                             code_store=_CodeStore(store)))
            for shard in range(genesis.shard_count)}
        self.metrics = NodeMetrics()
        self.receipt_waiters: dict[bytes, list[trio.Event]] = {}
        self.block_listeners: list[trio.MemorySendChannel[dict[str, Any]]] = []
        self.started_trio = 0.0
        self.started_wall_ms = 0  # wall clock at run(), for readiness (node/health.py)
        self.txs_committed = {shard: 0 for shard in range(genesis.shard_count)}
        self.block_finalized = trio.Event()
        self.dropped: collections.Counter[str] = collections.Counter()
        self._gossip: list[bytes] = []
        self._gossip_wakeup = trio.Event()
        self._gossip_in_send, self._gossip_in_receive = trio.open_memory_channel[
            tuple[bytes, ...]](gossip_batches_queued_max)
        self.peer_manager: Any = None
        self._nursery: trio.Nursery | None = None
        self._sync_answers: collections.Counter[int] = collections.Counter()  # in flight
        self._sync_limiter = trio.CapacityLimiter(sync_answer_threads_max)
        self.sync_answers = 0  # catch-up answers sent, cumulative
        self.shards: dict[int, ShardRuntime] = {}
        for shard in range(genesis.shard_count):
            self.shards[shard] = self._build_shard(shard)
            self.mempool.set_shard_height(shard, store.last_height(shard))

    @classmethod
    def open(cls, config: NodeConfig) -> Node:
        from node.genesis import load_genesis
        from node.keys import load_signer

        genesis = load_genesis(config.node.resolve("genesis_file"))
        genesis.check_python_version()
        from consensus.errors import ConfigError
        from node.genesis import check_config_against_genesis

        problems = check_config_against_genesis(config, genesis)
        if problems:
            raise ConfigError(problems)
        signer = load_signer(config.node.resolve("key_file"))
        from node.consortium import resolve_node_index

        index = resolve_node_index(config.node.node_index, genesis, signer.public_key)
        config = dataclasses.replace(config, node=dataclasses.replace(
            config.node, node_index=index))
        data_dir = config.node.resolve("data_dir")
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        last_signed = LastSignedRecord.open(
            config.node.resolve("last_signed_dir"), range(genesis.shard_count),
            max(entries_per_kind_max, 2 * genesis.consensus.watermark_window_blocks))
        store = ChainStore.open(data_dir, genesis.chain_id)
        return cls(config, genesis, signer, store, last_signed)

    # -- construction ----------------------------------------------------------------------

    def replica_config(self, shard: int) -> ReplicaConfig:
        consensus = self.config.consensus
        params = self.genesis.consensus
        return ReplicaConfig(
            chain_id=self.genesis.chain_id,
            shard=shard,
            replica_id=self.index,
            validators=self.genesis.validator_keys,
            checkpoint_interval_blocks=params.checkpoint_interval_blocks,
            watermark_window_blocks=params.watermark_window_blocks,
            state_root_lag_blocks=params.state_root_lag_blocks,
            view_timeout_ticks=consensus.view_change_timeout_ticks,
            view_timeout_max_ticks=consensus.view_change_timeout_ticks * 16,
            sync_stall_ticks=consensus.request_timeout_ticks,
            sync_timeout_ticks=consensus.request_timeout_ticks,
            sync_blocks_max=min(consensus.sync_batch_blocks, 1024),
            block_txs_max=consensus.block_txs_max,
            genesis_state_root=self.genesis_state_root(shard),
        )

    def _build_shard(self, shard: int) -> ShardRuntime:
        config = self.replica_config(shard)
        recovered = self._recover(shard)
        replica = Replica(config, self.signer, recovered, self._validator_for(shard))
        events_send, events_receive = trio.open_memory_channel[Any](
            self.config.consensus.event_queue_max)
        execute_send, execute_receive = trio.open_memory_channel[CommittedBlock](
            config.watermark_window_blocks + config.sync_blocks_max)
        runtime = ShardRuntime(shard, replica, events_send, events_receive, execute_send,
                               execute_receive, last_view=replica.view, state=StateCache(
                                   self.store, shard, self.config.node.state_cache_entries),
                               recent=RecentBlocks(self.config.node.recent_blocks_cached,
                                                   self.config.node.recent_blocks_bytes_max),
                               last_block_timestamp_ms=recovered.finalized_timestamp_ms)
        halt = self.store.get_halt(shard)
        if halt is not None:
            runtime.halted = halt[1]
            logger.critical("node=%d shard=%d HALTED at height=%d (halt marker in the store; "
                            "see the README: agora store check, agora node reset-state): %s",
                            self.index, shard, halt[0], halt[1])
        elif replica.halted is not None:
            runtime.halted = replica.halted
        self.metrics.record_halted(shard, runtime.halted is not None)
        return runtime

    def _recover(self, shard: int) -> RecoveredState:
        records = []
        for raw in self.store.load_records(shard):
            records.append(decode_record(raw))
        checkpoint = self.store.get_stable_checkpoint(shard)
        if checkpoint is not None:
            records.insert(0, decode_record(checkpoint))
        height = self.store.last_height(shard)
        tip = self.store.get_block(shard, height) if height > 0 else None
        executed = []
        for past in range(max(1, height - executed_roots_recovered + 1), height + 1):
            roots = self.store.get_roots(shard, past)
            if roots is not None:
                executed.append(ExecutedRoot(past, *roots))
        if tip is None:
            return RecoveredState(tuple(records), 0, b"\x00" * 32, 0, tuple(executed))
        header = stored_header(tip.block_bytes)
        return RecoveredState(tuple(records), height, tip.block_hash, header.timestamp_ms,
                              tuple(executed), self._recent_links(shard, height))

    def _recent_links(self, shard: int, height: int) -> tuple[tuple[int, bytes, int], ...]:
        """(height, hash, timestamp) of the finalized blocks of the last watermark window
        below the tip: without them a restarted replica cannot re-sign its checkpoints
        above the stable one, nor check re-proposals of those heights against its chain
        (it would neither help a stuck window move nor prepare in the next view)."""
        window = self.genesis.consensus.watermark_window_blocks
        links = []
        for past in range(max(1, height - window), height):
            stored = self.store.get_block(shard, past)
            assert stored is not None, "get_block raises for a missing finalized block"
            links.append((past, stored.block_hash,
                          stored_header(stored.block_bytes).timestamp_ms))
        return tuple(links)

    def genesis_state_root(self, shard: int) -> bytes:
        from ledger.executor import genesis_state_writes
        from storage.state_root import EMPTY_STATE_ROOT, next_state_root

        return next_state_root(EMPTY_STATE_ROOT, 0, genesis_state_writes(self.genesis, shard))

    def _ensure_genesis(self, shard: int) -> None:
        """Finalize the shard's genesis (height 0: its initial state) on first start."""
        from ledger.executor import genesis_state_writes

        if self.store.finalized(shard) is not None:
            return
        writes = genesis_state_writes(self.genesis, shard)
        self.store.finalize_block(shard, 0, self.genesis.hash(), b"", b"", [], [], writes,
                                  self.genesis_state_root(shard))

    def is_committed(self, tx: Transaction) -> bool:
        return self.committed.is_committed(tx)

    def committed_balance(self, shard: int, address: bytes) -> int:
        """``address``'s native balance in ``shard``'s finalized state (fee admission)."""
        return balance_of(_StoreState(self.store, shard), address)

    def is_verified(self, tx_hash: bytes) -> bool:
        return self.mempool.is_verified(tx_hash) or tx_hash in self.signatures.valid

    @property
    def signature_checks(self) -> int:
        """Client tx signatures this node has checked (ed25519), cumulative. Each replica
        checks each tx once, whichever way it arrives (RPC, gossip or a proposal), so this
        stays near the number of distinct txs it has seen."""
        return self.signatures.checks + self.mempool.signature_checks

    def _validator_for(self, shard: int) -> Any:
        drift_ms_max = self.genesis.consensus.block_time_drift_ms_max
        fees = self.fees

        def validate(block: Block) -> str | None:
            if block.header.timestamp_ms > _now_ms() + drift_ms_max:
                return "block timestamp too far in the future"
            if fees.block_gas(block.txs) > fees.block_gas_limit:
                return "block asks for more gas than the block gas limit"
            for tx in block.txs:
                if not self.is_verified(tx.hash()) and not self.signatures.check_now(tx):
                    return "a transaction with a bad signature"
                if tx.chain_id != self.genesis.chain_id:
                    return "a transaction for another chain"
            return None

        return validate

    # -- running ---------------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        from node.metrics import serve_metrics
        from node.rpc import RpcServer

        self.peer_manager = self.build_peer_manager()
        self.started_trio = trio.current_time()
        self.started_wall_ms = _now_ms()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.peer_manager.run)
            nursery.start_soon(self._metrics_loop)
            nursery.start_soon(self._network_loop)
            nursery.start_soon(self._gossip_loop)
            nursery.start_soon(self._gossip_admission_loop)
            nursery.start_soon(self._tick_loop)
            for runtime in self.shards.values():
                nursery.start_soon(self._replica_loop, runtime)
                nursery.start_soon(self._proposer_loop, runtime)
                nursery.start_soon(self._executor_loop, runtime)
            if self.config.rpc.enabled:
                server = RpcServer(self.api(), self.config.rpc,
                                   lambda method, outcome: self.metrics.rpc_requests.labels(
                                       method, outcome).inc())
                from node.explorer import install as install_explorer

                install_explorer(server, self)  # agora_recentActivity and /explorer pages
                await nursery.start(server.serve)
            if self.config.metrics.enabled:
                await nursery.start(functools.partial(
                    serve_metrics, self.metrics.registry, self.config.metrics,
                    self.readiness))
            logger.info("node=%d started shards=%d chain=%s", self.index,
                        len(self.shards), self.genesis.chain_id)
            task_status.started()

    def build_peer_manager(self) -> Any:
        """The PeerManager of this node: [network] options, genesis keys and addresses (the
        address book: peers dial ours there; we bind network.listen_host/listen_port)."""
        from network.peer_manager import PeerManager

        addresses = {}
        for index, validator in enumerate(self.genesis.validators):
            host, _, port = validator.p2p_address.rpartition(":")
            addresses[index] = (host, int(port))
        return PeerManager(
            self.config.network.to_network_config(), self.signer_key(), self.index,
            self.genesis.chain_id, dict(enumerate(self.genesis.validator_keys)), addresses,
            genesis_hash=self.genesis.hash())

    def signer_key(self) -> Any:
        from node.keys import load_seed
        import nacl.signing

        return nacl.signing.SigningKey(load_seed(
            self.config.node.resolve("key_file")))

    def api(self) -> Any:
        from node.api import LocalNodeApi

        return LocalNodeApi(self)

    # -- replica ---------------------------------------------------------------------------

    async def _replica_loop(self, runtime: ShardRuntime) -> None:
        replica = runtime.replica
        if runtime.halted is None:
            await self._carry_out(runtime, replica.step(Tick()))
        async for event in runtime.events_receive:
            if runtime.halted is not None:
                # A halted shard steps nothing more; it still answers catch-up requests
                # from the blocks it finalized, so its peers can use them.
                runtime.executed.clear()
                if isinstance(event, MessageReceived) and \
                        isinstance(event.message, SyncRequest):
                    self._serve_sync(runtime.shard, event.message)
                continue
            while runtime.executed:
                await self._step(runtime, runtime.executed.popleft())
            if event is not None:
                await self._step(runtime, event)

    async def _step(self, runtime: ShardRuntime, event: Any) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, SyncRequest):
            self._maybe_serve_sync(runtime.shard, event.message)
            return
        out = runtime.replica.step(event)
        await self._carry_out(runtime, out)

    def _send(self, to: int | None, message: Message) -> None:
        """Hand one consensus message to the network (None: every peer). A payload above
        the frame limit is a bug in a bound, never a reason to stop: count it, say so."""
        from network.errors import PayloadTooLarge

        payload = encode_wire(WireKind.CONSENSUS, encode_message(message))
        try:
            if to is None:
                self.peer_manager.broadcast(payload)
            else:
                self.peer_manager.send(to, payload)
        except PayloadTooLarge as error:
            name = type(message).__name__
            self.dropped[f"oversize_{name}"] += 1
            logger.error("node=%d shard=%d not sent: a %s of %d bytes (%s)", self.index,
                         message.shard, name, len(payload), error)

    async def _carry_out(self, runtime: ShardRuntime, out: Output) -> None:
        shard, replica = runtime.shard, runtime.replica
        if out.persist:
            plain = [record for record in out.persist
                     if not isinstance(record, StableCheckpointRecord)]
            if plain:
                await self.async_store.append_records(shard, [encode_record(r) for r in plain])
            for record in out.persist:
                if isinstance(record, StableCheckpointRecord):
                    await self._compact_records(runtime, record)
        sends = out.send
        if self.last_signed is not None and sends:
            sends = await self._guard_votes(shard, sends)
        for send in sends:
            self._send(send.to, send.message)
        for item in out.deliver:
            await runtime.execute_send.send(item)
        if out.halted is not None and runtime.halted is None:
            runtime.halted = out.halted
            self.metrics.record_halted(shard, True)
            logger.critical("node=%d shard=%d HALTED: %s", self.index, shard, out.halted)
        if replica.view != runtime.last_view:
            self._on_view_changed(runtime)
        if out.proposal_wanted != runtime.proposal_wanted:
            runtime.proposal_wanted = out.proposal_wanted
            runtime.proposal_changed.set()
            runtime.proposal_changed = trio.Event()
        self.metrics.record_view(shard, replica.view, replica.stats.view_changes)

    def admit_votes(self, shard: int, sends: list[Any]) -> list[Any]:
        """The sends the last-signed record allows (their votes recorded in memory; the
        caller persists before sending); a refused send is dropped, counted and logged at
        CRITICAL: sending it would equivocate."""
        assert self.last_signed is not None
        allowed = []
        for send in sends:
            refusals = self.last_signed.admit(votes_of(send.message, self.index))
            if refusals:
                self.dropped["double_sign_refused"] += 1
                logger.critical("node=%d shard=%d REFUSED TO SIGN TWICE: %s", self.index,
                                shard, "; ".join(refusals))
                continue
            allowed.append(send)
        return allowed

    async def _guard_votes(self, shard: int, sends: list[Any]) -> list[Any]:
        """The hook of "never sign twice" (DESIGN.md): before a vote leaves the node, it is
        checked against and recorded (fsynced) in the last-signed record."""
        allowed = self.admit_votes(shard, sends)
        assert self.last_signed is not None
        if self.last_signed.is_dirty(shard):  # retransmissions change nothing
            await trio.to_thread.run_sync(self.last_signed.persist, shard)
        return allowed

    async def _compact_records(self, runtime: ShardRuntime, record: StableCheckpointRecord) -> None:
        """A stable checkpoint: store it, re-append the records still needed, drop the rest."""
        shard = runtime.shard
        keep_from = self.store.next_record_sequence(shard)
        live = [encode_record(r) for r in runtime.replica.durable_records()]
        await self.async_store.append_records(shard, live)
        await self.async_store.put_stable_checkpoint(
            shard, encode_record(record), prune_records_before=keep_from)

    def _on_view_changed(self, runtime: ShardRuntime) -> None:
        runtime.last_view = runtime.replica.view
        abandoned = [tx_hash for hashes in runtime.proposed.values() for tx_hash in hashes]
        runtime.proposed.clear()
        self.mempool.release(abandoned)
        logger.info("node=%d shard=%d view=%d", self.index, runtime.shard, runtime.last_view)

    def _maybe_serve_sync(self, shard: int, request: SyncRequest) -> None:
        """Answer a peer's catch-up request in a task of its own, outside the replica loop,
        at most ``sync_answers_per_peer_max`` at once per peer (more are dropped: the peer
        asks again after its timeout)."""
        peer = request.sender
        if self._sync_answers[peer] >= self.config.consensus.sync_answers_per_peer_max:
            self.dropped["sync_answers_per_peer_max"] += 1
            return
        assert self._nursery is not None, "sync requests arrive only while running"
        self._sync_answers[peer] += 1
        self._nursery.start_soon(self._serve_sync, shard, request)

    async def _serve_sync(self, shard: int, request: SyncRequest) -> None:
        """Answer a peer's catch-up request from the block store: at most
        ``sync_batch_blocks`` blocks and ``sync_response_bytes_max`` bytes from the height
        asked. Signature check, store reads, decoding, encoding and signing run in a worker
        thread (``sync_limiter``), so a large answer never holds up the event loop."""
        try:
            view = self.shards[shard].replica.view
            payload = await trio.to_thread.run_sync(
                self._build_sync_answer, shard, request, view, limiter=self._sync_limiter)
            if payload is None:
                self.dropped["sync_request_bad_signature"] += 1
                return
            self.sync_answers += 1
            self._send_payload(request.sender, payload, "SyncResponse")
        finally:
            self._sync_answers[request.sender] -= 1

    def _send_payload(self, to: int, payload: bytes, name: str) -> None:
        from network.errors import PayloadTooLarge

        try:
            self.peer_manager.send(to, payload)
        except PayloadTooLarge as error:
            self.dropped[f"oversize_{name}"] += 1
            logger.error("node=%d not sent: a %s of %d bytes (%s)", self.index, name,
                         len(payload), error)

    def _build_sync_answer(self, shard: int, request: SyncRequest, view: int) -> bytes | None:
        """The wire payload answering ``request`` (None if its signature is bad). Runs in a
        worker thread: it reads only the store (thread-safe) and immutable values."""
        if not request.has_valid_signature(self.genesis.validator_keys):
            return None
        blocks = read_sync_blocks(self.store, shard, request.height, min(
            request.count, self.config.consensus.sync_batch_blocks),
            self.config.consensus.sync_response_bytes_max,
            self.config.network.max_frame_bytes - frame_overhead_bytes)
        proof: tuple[Checkpoint, ...] = ()
        raw = self.store.get_stable_checkpoint(shard)
        if raw is not None:
            record = decode_record(raw)
            assert isinstance(record, StableCheckpointRecord)
            proof = record.proof
        response = sign_message(SyncResponse(
            self.genesis.chain_id, shard, view, request.height, self.index, tuple(blocks),
            proof, b""), self.signer)
        return encode_wire(WireKind.CONSENSUS, encode_message(response))

    # -- proposer --------------------------------------------------------------------------

    async def _proposer_loop(self, runtime: ShardRuntime) -> None:
        consensus = self.config.consensus
        while True:
            if runtime.proposal_wanted is None:
                await runtime.proposal_changed.wait()
                continue
            height = runtime.proposal_wanted
            # Cut a block when it is full, or when the block interval has passed with at
            # least one tx waiting, or at the empty-block interval (keeps views alive).
            deadline = trio.current_time() + consensus.block_interval_ms / 1000
            empty_deadline = trio.current_time() + consensus.empty_block_interval_ms / 1000
            while True:
                pending = self.mempool.pending_txs(runtime.shard)
                now = trio.current_time()
                if pending >= consensus.block_txs_max or (pending and now >= deadline) \
                        or now >= empty_deadline or runtime.proposal_wanted != height:
                    break
                await trio.sleep(min(0.005, consensus.block_interval_ms / 1000))
            if runtime.proposal_wanted != height:
                continue
            txs = self.mempool.take_batch(runtime.shard, consensus.block_txs_max,
                                          consensus.block_bytes_max,
                                          self.fees.block_gas_limit)
            runtime.proposed[height] = [tx.hash() for tx in txs]
            await runtime.events_send.send(Propose(tuple(txs), _now_ms()))
            # Wait for the replica to move on to the next height before cutting again.
            while runtime.proposal_wanted == height:
                await runtime.proposal_changed.wait()

    # -- executor --------------------------------------------------------------------------

    async def _executor_loop(self, runtime: ShardRuntime) -> None:
        """Execute and finalize committed blocks in order; a node fault halts the shard
        (module docstring), and a halted shard drains its channel without executing."""
        async for item in runtime.execute_receive:
            if runtime.halted is not None:
                continue
            try:
                await self._execute_and_finalize(runtime, item)
            except Exception as error:  # noqa: BLE001 - any fault here halts the shard
                self._halt(runtime, item.block.header.height, error)
            finally:
                runtime.executing_height = None

    async def _execute_and_finalize(self, runtime: ShardRuntime, item: CommittedBlock) -> None:
        shard = runtime.shard
        started = time.perf_counter()
        height = item.block.header.height
        state = runtime.state
        assert state is not None
        # Signatures checked on admission, read here on the loop: the worker never reads
        # the mempool, which the loop keeps changing.
        verified = frozenset(tx_hash for tx in item.block.txs
                             if self.is_verified(tx_hash := tx.hash()))
        executor = dataclasses.replace(self.executors[shard], is_verified=verified.__contains__)
        runtime.executing_height = height
        result = await trio.to_thread.run_sync(
            executor.execute_block, item.block, state, limiter=self.execution_limiter)
        state_root = state_root_after(self.store.state_root(shard), height, result)
        executed_at = time.perf_counter()
        await self.async_store.finalize_block(
            shard, height, item.block.hash(), codec.encode(item.block),
            codec.encode(item.certificate), result.txs_to_index,
            result.receipts_to_store, result.state_writes, state_root,
            receipts_root=result.receipts_root, events=result.events_to_index)
        state.finalized(result.state_writes)
        assert runtime.recent is not None
        runtime.recent.add(height, FinalizedBlock(
            item.block, item.certificate, (state_root, result.receipts_root)))
        self.committed.finalized(shard, height, [tx_hash for tx_hash, _ in
                                                 result.txs_to_index])
        self.metrics.record_block(
            shard, height, len(item.block.txs), executed_at - started,
            [receipt.status for receipt in result.receipts if receipt.status != 0])
        self.metrics.record_commit_latency(
            shard, max(0.0, _now_ms() - item.block.header.timestamp_ms) / 1000)
        self.txs_committed[shard] += len(item.block.txs)
        runtime.last_block_timestamp_ms = item.block.header.timestamp_ms
        self.metrics.record_block_timestamp(shard, item.block.header.timestamp_ms)
        runtime.executed.append(Executed(height, state_root, result.receipts_root))
        try:
            runtime.events_send.send_nowait(None)  # wake the replica loop
        except trio.WouldBlock:
            pass  # the loop is busy with queued events and drains executed first
        self._after_commit(runtime, item, result)

    def _halt(self, runtime: ShardRuntime, height: int, error: Exception) -> None:
        """Halt the shard on a node fault: log, mark, persist (module docstring)."""
        shard = runtime.shard
        tx = error.tx_hash.hex() if isinstance(error, ExecutionFault) else "unknown"
        cause = error.cause if isinstance(error, ExecutionFault) else error
        reason = (f"node fault at height {height} (tx {tx}): {type(cause).__name__}: "
                  f"{cause}")[:1000]
        runtime.halted = reason
        logger.critical("node=%d shard=%d height=%d tx=%s HALTED on a node fault; the other "
                        "shards keep running; to resync, move the data directory away and "
                        "restart: %s", self.index, shard, height, tx, reason,
                        exc_info=error)
        self.metrics.record_halted(shard, True)
        try:
            self.store.put_halt(shard, height, reason)
        except Exception as store_error:  # noqa: BLE001 - the halt stands in memory
            logger.critical("node=%d shard=%d could not persist the halt marker: %s",
                            self.index, shard, store_error)

    def _after_commit(self, runtime: ShardRuntime, item: CommittedBlock, result: Any) -> None:
        hashes = [tx.hash() for tx in item.block.txs]
        runtime.proposed.pop(item.block.header.height, None)
        self.mempool.remove_committed(hashes)
        self.mempool.set_shard_height(runtime.shard, item.block.header.height)
        for tx_hash in hashes:
            for waiter in self.receipt_waiters.pop(tx_hash, []):
                waiter.set()
        self.block_finalized.set()
        self.block_finalized = trio.Event()
        summary = {"shard": runtime.shard, "height": item.block.header.height,
                   "hash": item.block.hash().hex(), "txs": len(hashes),
                   "view": item.certificate.view}
        for listener in list(self.block_listeners):
            try:
                listener.send_nowait(summary)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self.block_listeners.remove(listener)

    # -- network ---------------------------------------------------------------------------

    async def _network_loop(self) -> None:
        """One intake task per peer (see ``_take_in``): a peer whose messages take long to
        decode or verify holds up only its own, and the network layer's per-peer queue
        then slows that peer's link (backpressure), not the others'."""
        async with trio.open_nursery() as nursery:
            for peer in range(len(self.genesis.validators)):
                if peer != self.index:
                    nursery.start_soon(self._peer_intake_loop, peer)

    async def _peer_intake_loop(self, peer: int) -> None:
        while True:
            try:
                payload = await self.peer_manager.receive_from(peer)
            except trio.EndOfChannel:
                return
            await self._take_in(peer, payload)

    async def _take_in(self, peer: int, payload: bytes) -> None:
        """One payload from ``peer``: cheap checks on the message head first (sender, view,
        height, window, size; consensus/precheck.py), then the full decode (in a worker
        thread when large), then the client signatures of a PRE-PREPARE (in a worker
        thread, shared fairly; see SignatureChecker). Every drop is counted by reason."""
        try:
            kind, body = _decode_wire(payload)
            if kind is WireKind.TXS:
                self._queue_gossip(body)
                return
            head = peek_head(body)
        except PeerError as error:
            self._drop(type(error).__name__, peer, error)
            return
        if head.sender != peer:
            self._drop("sender_is_not_link_peer", peer)
            return
        runtime = self.shards.get(head.shard)
        if runtime is None:
            self._drop("unknown_shard", peer)
            return
        reason = precheck(runtime.replica, head)
        if reason is not None:
            self._drop(reason.value, peer)
            return
        try:
            message = await self._decode_message(body)
        except PeerError as error:
            self._drop(type(error).__name__, peer, error)
            return
        assert (message.sender, message.shard) == (head.sender, head.shard)
        if not await self._preverify(message):
            self._drop("bad_client_signature", peer)
            return
        try:
            runtime.events_send.send_nowait(MessageReceived(message))
        except trio.WouldBlock:
            runtime.dropped_events += 1
            self._drop("replica_queue_full", peer)

    def _drop(self, reason: str, peer: int, error: Exception | None = None) -> None:
        self.dropped[reason] += 1
        logger.debug("node=%d dropped a message from peer=%d reason=%s %s", self.index, peer,
                     reason, error or "")

    async def _decode_message(self, body: bytes) -> Message:
        """Decode a consensus message; a large one in a worker thread (one at a time, FIFO,
        so peers take turns), so the event loop keeps serving ticks and other peers. The
        thread only reads the mempool (``known_txs``: one dict lookup per tx, atomic under
        the GIL) while the event loop may change it."""
        decode = functools.partial(decode_message, body, self.config.network.max_frame_bytes,
                                   known_txs=self.mempool.get)
        if len(body) < decode_in_thread_bytes_min:
            return decode()
        return await trio.to_thread.run_sync(decode, limiter=self._decode_limiter)

    async def _preverify(self, message: Message) -> bool:
        """Check a proposal's client signatures in a worker thread, off the event loop;
        False at the first bad one (the replica would refuse the proposal for it)."""
        from consensus.types import PrePrepare

        if not isinstance(message, PrePrepare):
            return True
        unknown = [tx for tx in message.block.txs if not self.mempool.is_verified(tx.hash())]
        if not unknown:
            return True
        return all(await self.signatures.check(unknown, stop_at_first_bad=True))

    def _queue_gossip(self, body: Any) -> None:
        if type(body) is not tuple or len(body) > gossip_batch_txs_max or \
                not all(type(raw) is bytes for raw in body):
            raise DecodeError("a tx gossip batch is a list of at most "
                              f"{gossip_batch_txs_max} encoded txs")
        try:
            self._gossip_in_send.send_nowait(body)
        except trio.WouldBlock:
            self.dropped["gossip_queue_full"] += 1

    async def _gossip_admission_loop(self) -> None:
        """Admit gossiped txs; their signatures are checked in a worker thread, a batch at
        a time, so the event loop keeps moving consensus messages meanwhile."""
        from node.mempool import RejectReason, TxRejected

        async for batch in self._gossip_in_receive:
            txs = []
            for raw in batch:
                try:
                    tx = decode_transaction(raw, self.config.mempool.tx_bytes_max)
                except DecodeError:
                    self.mempool.rejections[RejectReason.MALFORMED] += 1
                    continue
                if tx.hash() not in self.mempool and not self.is_committed(tx):
                    txs.append(tx)
            for tx, ok in zip(txs, await self.signatures.check(txs)):
                if not ok:
                    self.mempool.rejections[RejectReason.BAD_SIGNATURE] += 1
                    continue
                try:
                    self.mempool.add(tx, signature_checked=True)
                except TxRejected:
                    continue  # counted by the mempool under its reason

    def submit(self, tx: Transaction) -> bytes:
        """Admit a client tx (RPC) and queue it for gossip; TxRejected on failure."""
        tx_hash = self.mempool.add(tx, signature_checked=tx.hash() in self.signatures.valid)
        self._gossip.append(tx.encoded())
        if len(self._gossip) >= gossip_batch_txs_max:
            self._gossip_wakeup.set()
        return tx_hash

    async def _gossip_loop(self) -> None:
        while True:
            with trio.move_on_after(gossip_flush_interval_seconds):
                await self._gossip_wakeup.wait()
            self._gossip_wakeup = trio.Event()
            while self._gossip:
                batch = self._take_gossip_batch()
                payload = encode_wire(WireKind.TXS, tuple(batch))
                self._broadcast_payload(payload, "tx_gossip")

    def _take_gossip_batch(self) -> list[bytes]:
        """The next gossip batch: at most gossip_batch_txs_max txs and half a frame of bytes
        (at least one tx; one tx is at most mempool.tx_bytes_max, far below a frame)."""
        bytes_max = self.config.network.max_frame_bytes // 2
        count, total = 0, 0
        for raw in self._gossip[:gossip_batch_txs_max]:
            if count and total + len(raw) > bytes_max:
                break
            count, total = count + 1, total + len(raw)
        batch = self._gossip[:count]
        del self._gossip[:count]
        return batch

    def _broadcast_payload(self, payload: bytes, name: str) -> None:
        from network.errors import PayloadTooLarge

        try:
            self.peer_manager.broadcast(payload)
        except PayloadTooLarge as error:
            self.dropped[f"oversize_{name}"] += 1
            logger.error("node=%d not sent: a %s of %d bytes (%s)", self.index, name,
                         len(payload), error)

    def peer_refusals(self) -> dict[str, int]:
        """Peer links refused by reason (network/), as plain counts."""
        if self.peer_manager is None:
            return {}
        return {reason.value: count for reason, count in
                sorted(self.peer_manager.stats.refused.items(), key=lambda item: item[0].value)
                if count}

    async def _metrics_loop(self) -> None:
        for shard, runtime in self.shards.items():
            self.metrics.record_halted(shard, runtime.halted is not None)
            if runtime.last_block_timestamp_ms:
                self.metrics.record_block_timestamp(shard, runtime.last_block_timestamp_ms)
        while True:
            info = self.mempool.info()
            self.metrics.sync_mempool(info.shard_sizes_txs, info.size_bytes, info.rejections)
            self.metrics.sync_signature_checks(self.signature_checks)
            self.metrics.peers.set(len(self.peer_manager.connected_peers()))
            self.metrics.sync_peer_counts(self.peer_refusals(), self.dropped)
            for shard, runtime in self.shards.items():
                lag = runtime.replica.catchup_lag_blocks
                if lag is not None:  # unknown just after a start: no sample rather than 0
                    self.metrics.catchup_lag_blocks.labels(str(shard)).set(lag)
            await trio.sleep(1.0)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """(ready, body) for ``GET /ready`` (node/health.py)."""
        from node.health import readiness_report

        return readiness_report(self)

    async def _tick_loop(self) -> None:
        interval = self.config.consensus.tick_interval_ms / 1000
        while True:
            await trio.sleep(interval)
            for runtime in self.shards.values():
                try:
                    runtime.events_send.send_nowait(Tick())
                except trio.WouldBlock:
                    runtime.dropped_events += 1

    # -- queries used by the RPC layer -----------------------------------------------------

    async def wait_receipt(self, tx_hash: bytes, timeout_seconds: float) -> bytes | None:
        receipt = self.store.get_receipt(tx_hash)
        if receipt is not None:
            return receipt
        event = trio.Event()
        self.receipt_waiters.setdefault(tx_hash, []).append(event)
        with trio.move_on_after(timeout_seconds):
            await event.wait()
        waiters = self.receipt_waiters.get(tx_hash)
        if waiters is not None and event in waiters:
            waiters.remove(event)
            if not waiters:
                del self.receipt_waiters[tx_hash]
        return self.store.get_receipt(tx_hash)


class SignatureChecker:
    """Checks client tx signatures outside the mempool (gossip, proposals), each tx once.

    ``check`` runs the ed25519 checks in a worker thread, off the event loop, under one
    FIFO limiter of ``signature_check_threads`` shared by every caller: the gossip
    admission loop and one intake task per peer, each with at most one call outstanding,
    so the callers take turns and no peer gets more than its share. A tx already being
    checked by another task (its gossip batch and a proposal carrying it arrive together)
    is waited for, not checked again. ``valid`` remembers the hashes that passed and
    ``rejected`` those that failed (both bounded, oldest forgotten first): a tx hash covers
    its signature, so the same hash always gets the same answer, and a replayed bad tx
    costs a dict lookup, not a signature check."""

    def __init__(self, entries_max: int, threads: int = 2) -> None:
        self.valid = VerifiedCache(entries_max)
        self.rejected = VerifiedCache(entries_max)
        self.checks = 0  # ed25519 checks made, cumulative
        self._running: dict[bytes, trio.Event] = {}
        self._limiter = trio.CapacityLimiter(threads)

    async def check(self, txs: list[Transaction], *,
                    stop_at_first_bad: bool = False) -> list[bool]:
        """Whether each tx's signature is valid, in order. With ``stop_at_first_bad`` (a
        proposal, which one bad tx makes invalid) checking stops at the first bad one and
        the txs not reached are reported False."""
        verdicts: dict[bytes, bool] = {}  # this call's answers; caches may forget theirs
        pending = {tx.hash(): tx for tx in txs}
        while pending and not (stop_at_first_bad and False in verdicts.values()):
            mine, theirs = [], set()
            for tx_hash, tx in list(pending.items()):
                if tx_hash in self.valid or tx_hash in self.rejected:
                    verdicts[tx_hash] = tx_hash in self.valid
                    del pending[tx_hash]
                elif tx_hash in self._running:
                    theirs.add(self._running[tx_hash])
                else:
                    mine.append(tx)
            if stop_at_first_bad and False in verdicts.values():
                break
            if mine:
                verdicts.update(await self._check_in_thread(mine, stop_at_first_bad))
                for tx_hash in verdicts:
                    pending.pop(tx_hash, None)
            for running in theirs:  # another task's check, which may stop early: the
                await running.wait()  # txs it did not reach are taken up on the next turn
        return [verdicts.get(tx.hash(), False) for tx in txs]

    async def _check_in_thread(self, txs: list[Transaction],
                               stop_at_first_bad: bool) -> dict[bytes, bool]:
        done = trio.Event()
        for tx in txs:
            self._running[tx.hash()] = done

        def verify() -> list[bool]:
            results = []
            for tx in txs:
                results.append(tx.has_valid_signature())
                if stop_at_first_bad and not results[-1]:
                    break
            return results

        try:
            results = await trio.to_thread.run_sync(verify, limiter=self._limiter)
            self.checks += len(results)
            for tx, ok in zip(txs, results):
                (self.valid if ok else self.rejected).add(tx.hash())
        finally:
            for tx in txs:
                del self._running[tx.hash()]
            done.set()
        return {tx.hash(): ok for tx, ok in zip(txs, results)}

    def check_now(self, tx: Transaction) -> bool:
        """Check one tx on the caller's thread (a proposal's stray tx)."""
        tx_hash = tx.hash()
        if tx_hash in self.valid:
            return True
        if tx_hash in self.rejected:
            return False
        self.checks += 1
        ok = tx.has_valid_signature()
        (self.valid if ok else self.rejected).add(tx_hash)
        return ok


class VerifiedCache:
    """Hashes of txs whose signatures this node checked outside the mempool (bounded)."""

    def __init__(self, entries_max: int) -> None:
        # OrderedDict, not dict: deleting a dict's oldest key via next(iter(d)) leaves
        # holes at the front that every later next(iter(d)) walks again.
        self._entries: collections.OrderedDict[bytes, None] = collections.OrderedDict()
        self._entries_max = entries_max

    def add(self, tx_hash: bytes) -> None:
        if len(self._entries) >= self._entries_max:
            self._entries.popitem(last=False)
        self._entries[tx_hash] = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._entries


@dataclass(frozen=True, slots=True)
class FinalizedBlock:
    """A finalized block as the RPC serves it: the block, its commit certificate and this
    node's (state root, receipts root) after executing it."""

    block: Block
    certificate: CommitCertificate
    roots: tuple[bytes, bytes]


class RecentBlocks:
    """The last ``entries_max`` finalized blocks of a shard, decoded, for the RPC: explorers,
    wallets and the bench poll the newest heights, and reading one from LevelDB meant a
    checksum over it and decoding every tx again. Holds only blocks whose finalize_block
    returned (durable); a height not here is read from the store. Bounded in count and in
    bytes (``bytes_max``, the blocks' encoded size): the newest block is always held."""

    def __init__(self, entries_max: int, bytes_max: int = 2**62) -> None:
        self._entries: collections.OrderedDict[int, FinalizedBlock] = collections.OrderedDict()
        self._sizes: dict[int, int] = {}
        self._entries_max = entries_max
        self._bytes_max = bytes_max
        self.size_bytes = 0

    def add(self, height: int, block: FinalizedBlock) -> None:
        if not self._entries_max:
            return
        size = _encoded_size(block.block)
        self.size_bytes += size - self._sizes.get(height, 0)
        self._entries[height], self._sizes[height] = block, size
        while len(self._entries) > self._entries_max or (
                self.size_bytes > self._bytes_max and len(self._entries) > 1):
            old, _ = self._entries.popitem(last=False)
            self.size_bytes -= self._sizes.pop(old)

    def get(self, height: int) -> FinalizedBlock | None:
        return self._entries.get(height)

    def __len__(self) -> int:
        return len(self._entries)


class StateCache:
    """A shard's finalized state as the executor reads it: LevelDB behind a bounded
    in-memory map of recently read or written keys (absent keys too, as None).

    Write-through: ``finalized`` applies each finalized block's writes, so the map never
    disagrees with the store. Only the executor loop reads it, and a block is executed
    only after the previous one is finalized. Least recently used entries go first."""

    def __init__(self, store: ChainStore, shard: int, entries_max: int) -> None:
        self._store, self._shard = store, shard
        self._entries_max = entries_max
        self._entries: collections.OrderedDict[bytes, bytes | None] = collections.OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: bytes) -> bytes | None:
        entries = self._entries
        try:
            value = entries[key]
        except KeyError:
            self.misses += 1
            value = self._store.get_state(self._shard, key)
            self._remember(key, value)
            return value
        self.hits += 1
        entries.move_to_end(key)
        return value

    def finalized(self, writes: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Apply a finalized block's state writes (value None: deleted)."""
        for key, value in writes:
            self._remember(key, value)

    def _remember(self, key: bytes, value: bytes | None) -> None:
        if not self._entries_max:
            return
        entries = self._entries
        entries[key] = value
        entries.move_to_end(key)
        if len(entries) > self._entries_max:
            entries.popitem(last=False)


def _encoded_size(block: Block) -> int:
    """About the canonical size of ``block``: its txs' (cached) encodings and a header."""
    return sum(len(tx.encoded()) for tx in block.txs) + 512


def stored_header(block_bytes: bytes) -> BlockHeader:
    """The header of a stored block, without decoding its transactions (a block is the
    canonical ``[header, txs]``; recovery reads a window of them)."""
    unpacker = msgpack.Unpacker(raw=False, use_list=False, strict_map_key=True,
                                max_buffer_size=max(1, len(block_bytes)))
    unpacker.feed(block_bytes)
    if unpacker.read_array_header() != 2:
        raise DecodeError("a stored block is [header, txs]")
    header = codec.from_plain(BlockHeader, unpacker.unpack())
    assert isinstance(header, BlockHeader)
    return header


def _stored_tx_location(store: ChainStore, tx_hash: bytes) -> tuple[int, int] | None:
    """Where the store indexed ``tx_hash``: (shard, height), for the replay rule."""
    location = store.get_tx_location(tx_hash)
    return None if location is None else (location.shard, location.height)


def read_sync_blocks(store: ChainStore, shard: int, first: int, count: int, bytes_max: int,
                     frame_bytes_max: int) -> list[CommittedBlock]:
    """Finalized blocks ``first, first + 1, ...`` of ``shard`` with their certificates: at
    most ``count`` of them and ``bytes_max`` bytes of stored block and certificate, except
    that the first block is given even above ``bytes_max`` when it fits
    ``frame_bytes_max`` (else a block bigger than the budget could never be fetched)."""
    blocks: list[CommittedBlock] = []
    total = 0
    last = min(store.last_height(shard), first + count - 1)
    for height in range(first, last + 1):
        stored = store.get_block(shard, height)
        if stored is None:
            break
        size = len(stored.block_bytes) + len(stored.certificate_bytes)
        limit = bytes_max if blocks else frame_bytes_max
        if total + size > limit:
            break
        total += size
        blocks.append(CommittedBlock(
            codec.decode_struct(Block, stored.block_bytes),
            codec.decode_struct(CommitCertificate, stored.certificate_bytes)))
    return blocks


class _CodeStore:
    """``vm.contract.CodeStore`` over the node's LevelDB: compiled code persisted at first
    compile, so a cache miss after a restart is a read, not a compile."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.get_code(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._store.put_code(key, value)


class _StoreState:
    """A shard's finalized state read straight from the store (thread-safe reads)."""

    def __init__(self, store: ChainStore, shard: int) -> None:
        self._store, self._shard = store, shard

    def get(self, key: bytes) -> bytes | None:
        return self._store.get_state(self._shard, key)


def _decode_wire(payload: bytes) -> tuple[WireKind, Any]:
    value = codec.unpack(payload)
    if not isinstance(value, tuple) or len(value) != 2 or not isinstance(value[0], int):
        raise DecodeError("a peer payload is [kind, body]")
    try:
        kind = WireKind(value[0])
    except ValueError as error:
        raise DecodeError(f"unknown payload kind {value[0]}") from error
    if kind is WireKind.CONSENSUS and not isinstance(value[1], bytes):
        raise DecodeError("a consensus payload carries message bytes")
    return kind, value[1]


class _ClockOffset:
    """A test-only offset added to the node's wall clock (block timestamps and their
    bound), read from the file named by ``AGORA_TEST_CLOCK_OFFSET_FILE`` (an integer of
    milliseconds) at most every ``reread_seconds``. Unset, as in production, it is 0. The
    reliability suite skews one node's clock with it; timers run on the monotonic clock and
    are untouched, as an NTP step would leave them."""

    reread_seconds = 0.1

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.offset_ms = 0
        self.read_at = -math.inf

    def now_ms(self) -> int:
        wall_ms = math.floor(time.time() * 1000)
        if self.path is None:
            return wall_ms
        now = time.monotonic()
        if now - self.read_at >= self.reread_seconds:
            self.read_at = now
            try:
                self.offset_ms = int(Path(self.path).read_text().strip() or 0)
            except (OSError, ValueError) as error:
                logger.warning("clock offset file %s unreadable, offset 0: %s", self.path, error)
                self.offset_ms = 0
        return wall_ms + self.offset_ms


_clock = _ClockOffset(os.environ.get("AGORA_TEST_CLOCK_OFFSET_FILE"))


def _now_ms() -> int:
    return _clock.now_ms()


__all__ = ["Node", "WireKind"]
