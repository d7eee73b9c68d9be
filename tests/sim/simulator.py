"""A deterministic simulator for PBFT replicas (TigerBeetle's VOPR, Plenum's seeded sims).

One ``random.Random(seed)`` drives everything: the scenario, the keys, the network, the
faults, the workload and the Byzantine replicas. Time is virtual (milliseconds); events
sit in a heap ordered by ``(time, sequence number)``, so ties break by the order in which
they were scheduled, never by anything the interpreter chooses. Nothing iterates a set or
reads the wall clock, so the same seed always gives the same run, whatever
``PYTHONHASHSEED`` is; the trace hash (SHA-256 over every event handled, in order) proves it.

How it works
------------
- **Nodes and hosts.** Node ``i`` is validator ``i``; it runs one :class:`Host` per shard,
  and each host carries one ``Replica`` plus its durable state: the persisted records
  (minus pruned ones) and the block store (finalized blocks with their certificates and
  the execution roots). A crash drops the replica and everything volatile (the execution
  queue, a pending proposal, messages in flight to the node); a restart builds a new
  replica from ``RecoveredState``.
- **The shell.** After each ``step`` the host acts on the ``Output`` in the documented
  order: persist, send, deliver (execute after a delay, finalize into the block store, step
  ``Executed`` back in, in height order), prune, halted; ``proposal_wanted`` schedules a
  ``Propose`` with a few signed client transactions. ``SyncRequest`` is answered here from
  the block store, never by the replica.
- **Network.** Every message is encoded and decoded with the real codec. In the faulty
  period messages are delayed, lost, duplicated, held back (reordering) and cut by
  partitions, and nodes crash and restart, sometimes between persist and send.
- **Phases.** A faulty period, then the heal (partitions healed, crashed nodes restarted,
  loss, duplication and crashes off; Byzantine nodes stay Byzantine), then a liveness
  period that ends as soon as every honest replica has finalized new blocks, or fails
  when the bound (``Scenario.liveness_ms``) passes first.
- **Checkers, after every step.** ``check_invariants()`` of the stepped replica; agreement
  (honest replicas never finalize different blocks at one (shard, height)); certificate
  agreement (no two quorums of signed COMMITs, honest and Byzantine votes alike, for
  different blocks at one (shard, height), delivered or not); durability (the
  block store only grows, a restarted replica resumes at or above its stored tip);
  delivery order, chain links and commit certificates of delivered blocks; no equivocation
  by honest replicas, across restarts (outgoing PRE-PREPARE, PREPARE, COMMIT, CHECKPOINT);
  persist before send (an honest replica's PRE-PREPARE and PREPARE are in its records
  before they leave, its COMMIT's prepared certificate too); an honest replica never halts;
  liveness after the heal.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import struct
import time  # only to report how long a run took; never read inside the simulation
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from consensus import codec
from consensus.errors import DecodeError
from consensus.events import (
    Event,
    Executed,
    ExecutedRoot,
    MessageReceived,
    Output,
    PreparedRecord,
    Propose,
    Record,
    RecoveredState,
    StableCheckpointRecord,
    Tick,
    VoteRecord,
)
from consensus.replica import Replica, ReplicaConfig
from consensus.types import (
    Block,
    BlockRequest,
    BlockResponse,
    Checkpoint,
    Commit,
    CommittedBlock,
    Message,
    NewView,
    Prepare,
    PrePrepare,
    Signer,
    SyncRequest,
    SyncResponse,
    Transaction,
    ViewChange,
    decode_message,
    encode_message,
    new_view_bytes_max,
    sign_message,
    view_change_bytes_max,
)
from tests.sim.byzantine import Adversary
from tests.sim.scenario import Scenario, tick_ms

chain_id = "agora-sim"
genesis_time_ms = 1_700_000_000_000
genesis_root = bytes(32)
clients_count = 3
events_max = 2_000_000

# Event kinds; the value is also what the trace hash records.
TICK, MESSAGE, PROPOSE, EXECUTE, CRASH, RESTART, PARTITION, PARTITION_END, HEAL = range(9)
kind_names = ("tick", "message", "propose", "execute", "crash", "restart", "partition",
              "partition-end", "heal")


class SimFailure(Exception):
    """A checker found a broken rule; the message says which, where and when."""


@dataclass(slots=True)
class SimResult:
    seed: int
    failure: str | None
    trace_hash: str
    virtual_ms: int
    events: int
    scenario: str
    blocks_finalized: int = 0
    wall_seconds: float = 0.0  # not part of the run's identity
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None


class Host:
    """One replica slot (node, shard): the replica and its durable state."""

    def __init__(self, node: int, shard: int, signer: Signer) -> None:
        self.node = node
        self.shard = shard
        self.signer = signer
        self.replica: Replica | None = None
        # durable: survives crashes
        self.records: list[Record] = []
        self.store: list[CommittedBlock] = []  # index = height - 1
        self.roots: list[tuple[bytes, bytes]] = []  # state and receipts root, height - 1
        self.latest_proof: tuple[Checkpoint, ...] = ()
        self.persisted_votes: set[tuple[int, int, int, bytes]] = set()  # membership only
        self.persisted_prepared: set[tuple[int, int, bytes]] = set()
        self.store_tip_max = 0
        # volatile: lost in a crash
        self.execute_queue: deque[CommittedBlock] = deque()
        self.executing = False
        self.propose_pending = False
        self.delivered_tip = 0
        self.delivered_hash = bytes(32)
        self.last_timestamp_ms = 0
        self.sync_answered_ms: dict[int, int] = {}

    @property
    def name(self) -> str:
        return f"{self.node}/{self.shard}"

    def persist(self, record: Record) -> None:
        self.records.append(record)
        match record:
            case VoteRecord(message=message):
                self.persisted_votes.add((int(message.tag), message.view, message.height,
                                          message.digest))
            case PreparedRecord(certificate=certificate):
                pre_prepare = certificate.pre_prepare
                self.persisted_prepared.add((pre_prepare.view, pre_prepare.height,
                                             pre_prepare.digest))
            case StableCheckpointRecord(proof=proof):
                if proof and (not self.latest_proof or
                              proof[0].height > self.latest_proof[0].height):
                    self.latest_proof = proof

    def prune(self, height: int) -> None:
        """Drop records for heights at or below ``height``; keep the newest checkpoint."""
        kept: list[Record] = []
        for record in self.records:
            match record:
                case VoteRecord(message=message) if message.height <= height:
                    continue
                case PreparedRecord(certificate=c) if c.pre_prepare.height <= height:
                    continue
                case StableCheckpointRecord(proof=proof) if proof is not self.latest_proof:
                    continue
            kept.append(record)
        self.records = kept

    def recovered_state(self, window: int, links: int) -> RecoveredState:
        """What a restart is given: records, the store's tip, recent roots and hashes."""
        tip = len(self.store)
        if tip == 0:
            return RecoveredState(records=tuple(self.records))
        header = self.store[-1].block.header
        first = max(1, tip - window)
        executed = tuple(ExecutedRoot(height, *self.roots[height - 1])
                         for height in range(first, tip + 1))
        extra: dict[str, Any] = {}
        if "recent_blocks" in RecoveredState.__dataclass_fields__:
            extra["recent_blocks"] = tuple(
                (height, self.store[height - 1].block.hash(),
                 self.store[height - 1].block.header.timestamp_ms)
                for height in range(max(1, tip - links), tip))
        return RecoveredState(records=tuple(self.records), finalized_height=tip,
                              finalized_hash=self.store[-1].block.hash(),
                              finalized_timestamp_ms=header.timestamp_ms, executed=executed,
                              **extra)


class Node:
    def __init__(self, index: int, signer: Signer, shards: int) -> None:
        self.index = index
        self.signer = signer
        self.hosts = [Host(index, shard, signer) for shard in range(shards)]
        self.up = True
        self.incarnation = 0
        self.crash_after_persist = False
        self.adversary: Adversary | None = None
        self.honest = True
        self.broken: str | None = None  # test-only fault of an "honest" node
        self.decode_errors = 0


class Simulator:
    """One run: ``Simulator(seed).run()`` returns a :class:`SimResult`."""

    chain_id = chain_id

    def __init__(self, seed: int, verbose: bool = False,
                 log: Callable[[str], None] = print, **overrides: Any) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.scenario = Scenario.draw(seed, self.rng)
        if overrides:
            self.scenario = replace(self.scenario, **overrides)
        scenario = self.scenario
        assert len(scenario.byzantine) <= scenario.f, "at most f Byzantine replicas"
        self.verbose = verbose
        self._print = log
        self.now = 0
        self.sequence = 0
        self.heap: list[tuple[int, int, int, tuple[Any, ...]]] = []
        self.trace = hashlib.sha256()
        self.events = 0
        self.healed = False
        self.partition_epoch = 0
        self.group = [0] * scenario.validators
        signers = [Signer(self.rng.randbytes(32)) for _ in range(scenario.validators)]
        self.validators = tuple(signer.public_key for signer in signers)
        self.clients = [Signer(self.rng.randbytes(32)) for _ in range(clients_count)]
        self.tx_nonce = 0
        self.tx_valid: dict[bytes, bool] = {}
        # Blocks equivocating primaries proposed, by (shard, view, height): colluding
        # Byzantine backups vote for each of them.
        self.equivocated: dict[tuple[int, int, int], list[bytes]] = {}
        self.nodes = [Node(index, signer, scenario.shards) for index, signer in
                      enumerate(signers)]
        for node, behaviours in scenario.byzantine:
            self.nodes[node].adversary = Adversary(self, node, behaviours, signers[node])
            self.nodes[node].honest = False
        if scenario.broken is not None:
            broken_node, fault = scenario.broken
            assert self.nodes[broken_node].honest
            self.nodes[broken_node].broken = fault
        self.configs = [
            ReplicaConfig(
                chain_id=chain_id, shard=shard, replica_id=node.index,
                validators=self.validators,
                checkpoint_interval_blocks=scenario.checkpoint_interval_blocks,
                watermark_window_blocks=scenario.watermark_window_blocks,
                state_root_lag_blocks=scenario.state_root_lag_blocks,
                view_timeout_ticks=scenario.view_timeout_ticks,
                view_timeout_max_ticks=scenario.view_timeout_max_ticks,
                sync_blocks_max=16,
            )
            for node in self.nodes for shard in range(scenario.shards)]
        # checker state
        self.finalized: dict[tuple[int, int], tuple[bytes, str]] = {}  # (shard, h) -> digest
        self.votes: dict[tuple[int, int, int, int, int], bytes] = {}
        self.certificates_checked: set[tuple[int, int, bytes]] = set()  # membership only
        self.liveness_targets: dict[tuple[int, int], int] = {}
        self.commit_senders: dict[tuple[int, int, int, bytes], dict[int, None]] = {}
        self.certified: dict[tuple[int, int], tuple[bytes, int]] = {}  # -> (digest, view)
        self.heal_ms = scenario.faulty_ms
        self.deadline_ms = scenario.faulty_ms + scenario.liveness_ms()
        self.done = False
        self.counters: dict[str, int] = {}
        for node in self.nodes:
            for host in node.hosts:
                self._start_replica(node, host)

    # -- logging and counting ------------------------------------------------------------

    def log(self, text: str) -> None:
        if self.verbose:
            self._print(f"{self.now:>7}ms {text}")

    def count(self, what: str, amount: int = 1) -> None:
        self.counters[what] = self.counters.get(what, 0) + amount

    def fail(self, what: str) -> None:
        raise SimFailure(f"t={self.now}ms: {what}")

    # -- the event heap ------------------------------------------------------------------

    def schedule(self, at_ms: int, kind: int, *payload: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (at_ms, self.sequence, kind, payload))

    def run(self) -> SimResult:
        started = time.monotonic()
        failure = None
        try:
            self._plan()
            self._loop()
        except SimFailure as error:
            failure = str(error)
        except Exception:  # noqa: BLE001 - a replica crash is a finding, reported with its seed
            failure = f"t={self.now}ms: exception\n{traceback.format_exc()}"
        finalized = sum(len(h.store) for n in self.nodes if n.honest for h in n.hosts)
        for node in self.nodes:
            for host in node.hosts:
                if node.honest and host.replica is not None:
                    for reason, amount in sorted(host.replica.stats.ignored.items()):
                        self.count(f"ignored.{reason}", amount)
                    self.count("view_changes", host.replica.stats.view_changes)
        return SimResult(self.seed, failure, self.trace.hexdigest(), self.now, self.events,
                         self.scenario.describe(), finalized, time.monotonic() - started,
                         dict(sorted(self.counters.items())))

    def _loop(self) -> None:
        while self.heap and not self.done:
            at_ms, sequence, kind, payload = heapq.heappop(self.heap)
            if at_ms > self.deadline_ms:
                self.now = self.deadline_ms
                self._liveness_failure()
            self.now = at_ms
            self.events += 1
            if self.events > events_max:
                self.fail(f"the run exceeded {events_max} events (a message storm?)")
            self.trace.update(struct.pack(">QQB", at_ms, sequence, kind))
            self._handle(kind, payload)
        if not self.done:
            self._liveness_failure()

    def _handle(self, kind: int, payload: tuple[Any, ...]) -> None:
        if kind == TICK:
            self._on_tick()
        elif kind == MESSAGE:
            self._on_message(*payload)
        elif kind == PROPOSE:
            self._on_propose(*payload)
        elif kind == EXECUTE:
            self._on_execute(*payload)
        elif kind == CRASH:
            self._crash(*payload)
        elif kind == RESTART:
            self._restart(*payload)
        elif kind == PARTITION:
            self._partition(*payload)
        elif kind == PARTITION_END:
            self._partition_end(*payload)
        elif kind == HEAL:
            self._heal()
        else:
            raise AssertionError(kind)

    def _plan(self) -> None:
        """Schedule the ticks, the faults of the faulty period and the heal."""
        scenario, rng = self.scenario, self.rng
        self.log(f"scenario seed={self.seed}: {scenario.describe()}")
        self.schedule(tick_ms, TICK)
        self.schedule(scenario.faulty_ms, HEAL)
        end = max(1, scenario.faulty_ms - 100)
        if scenario.crashes:
            for _ in range(rng.randint(1, 2 * scenario.validators)):
                after_persist = scenario.crash_between_persist_and_send and rng.random() < 0.5
                self.schedule(rng.randrange(end), CRASH, rng.randrange(scenario.validators),
                              after_persist)
        elif scenario.crash_between_persist_and_send:
            for _ in range(rng.randint(1, scenario.validators)):
                self.schedule(rng.randrange(end), CRASH, rng.randrange(scenario.validators),
                              True)
        if scenario.partitions:
            for _ in range(rng.randint(1, 3)):
                self.schedule(rng.randrange(end), PARTITION, rng.randint(100, 800))

    # -- replicas ------------------------------------------------------------------------

    def _config(self, host: Host) -> ReplicaConfig:
        return self.configs[host.node * self.scenario.shards + host.shard]

    def _start_replica(self, node: Node, host: Host) -> None:
        config = self._config(host)
        window = config.watermark_window_blocks + config.state_root_lag_blocks
        recovered = host.recovered_state(window, config.watermark_window_blocks)
        host.replica = Replica(config, node.signer, recovered, self._validate_block)
        host.execute_queue.clear()
        host.executing = False
        host.propose_pending = False
        host.delivered_tip = len(host.store)
        host.delivered_hash = host.store[-1].block.hash() if host.store else bytes(32)
        # durability: the new replica resumes at or above what was finalized
        if host.replica.last_delivered < host.store_tip_max:
            self.fail(f"durability: {host.name} restarted at height "
                      f"{host.replica.last_delivered} below its finalized tip "
                      f"{host.store_tip_max}")
        host.replica.check_invariants()
        if host.replica.in_view_change:
            self.count("restarts_inside_view_change")

    def _step(self, node: Node, host: Host, event: Event) -> None:
        replica = host.replica
        assert replica is not None and node.up
        out = replica.step(event)
        replica.check_invariants()
        if replica.last_delivered < len(host.store):
            self.fail(f"durability: {host.name} last_delivered {replica.last_delivered} "
                      f"is below its block store tip {len(host.store)}")
        self._act(node, host, out)

    def _act(self, node: Node, host: Host, out: Output) -> None:
        """Carry out an Output in the documented order: persist, send, deliver, prune."""
        for record in out.persist:
            if node.broken == "forget_votes" and isinstance(record, VoteRecord):
                continue  # test-only: a shell that does not persist the votes it sends
            host.persist(record)
        if node.crash_after_persist and out.persist and (out.send or out.deliver):
            self.log(f"node {node.index} crashes after persisting, before sending")
            self.count("crashes_after_persist")
            self._crash(node.index, False)
            return
        for send in out.send:
            self._send_output(node, host, send.to, send.message)
        deliver = out.deliver
        if node.broken == "wrong_block":
            deliver = [self._broken_block(item) for item in deliver]
        for item in deliver:
            self._deliver(node, host, item)
        if out.prune_records_through is not None:
            host.prune(out.prune_records_through)
        if out.halted is not None and node.honest:
            self.fail(f"honest replica {host.name} halted: {out.halted}")
        if out.proposal_wanted is not None and not host.propose_pending and node.up:
            host.propose_pending = True
            delay = self.rng.randint(self.scenario.block_interval_ms // 2,
                                     self.scenario.block_interval_ms)
            self.schedule(self.now + delay, PROPOSE, node.index, host.shard, node.incarnation)

    def _validate_block(self, block: Block) -> str | None:
        """The shell's block check: client signatures (verified once, as the mempool does)."""
        for tx in block.txs:
            if tx.chain_id != chain_id:
                return "a transaction for another chain"
            key = tx.hash()
            valid = self.tx_valid.get(key)
            if valid is None:
                valid = self.tx_valid[key] = tx.has_valid_signature()
            if not valid:
                return "a transaction with a bad signature"
        return None

    # -- events --------------------------------------------------------------------------

    def _on_tick(self) -> None:
        for node in self.nodes:
            if not node.up:
                continue
            for host in node.hosts:
                if not node.up:
                    break
                self._step(node, host, Tick())
                if node.adversary is not None and node.up and host.replica is not None:
                    for to, message in node.adversary.on_tick(host):
                        self._send(node, host.shard, to, message, honest=False)
        if not self.done:
            self.schedule(self.now + tick_ms, TICK)

    def _on_propose(self, node_index: int, shard: int, incarnation: int) -> None:
        node = self.nodes[node_index]
        if not node.up or node.incarnation != incarnation:
            return
        host = node.hosts[shard]
        host.propose_pending = False
        txs = self._make_txs()
        timestamp = max(genesis_time_ms + self.now, host.last_timestamp_ms + 1)
        host.last_timestamp_ms = timestamp
        self.trace.update(b"".join(tx.hash() for tx in txs))
        self.log(f"{host.name} propose {len(txs)} txs")
        self._step(node, host, Propose(txs, timestamp))

    def _make_txs(self) -> tuple[Transaction, ...]:
        txs = []
        for _ in range(self.rng.randint(0, self.scenario.txs_per_block_max)):
            client = self.rng.choice(self.clients)
            self.tx_nonce += 1
            tx = Transaction(chain_id, client.public_key, self.tx_nonce, 1_000_000, 100_000,
                             b"", "transfer",
                             codec.pack([self.rng.choice(self.clients).public_key,
                                         self.rng.randint(1, 100)]), bytes(64))
            txs.append(replace(tx, signature=client.sign(tx.signing_bytes())))
        return tuple(txs)

    def _deliver(self, node: Node, host: Host, item: CommittedBlock) -> None:
        """Check a delivered block and queue it for execution."""
        block, certificate = item.block, item.certificate
        header = block.header
        height, digest = header.height, block.hash()
        self.log(f"{host.name} deliver h{height} {digest.hex()[:8]} v{certificate.view}")
        if node.honest:
            self._check_agreement(host, height, digest)
        if height != host.delivered_tip + 1:
            self.fail(f"{host.name} delivered height {height} after {host.delivered_tip}")
        if header.prev_hash != host.delivered_hash:
            self.fail(f"{host.name} delivered h{height} whose prev_hash does not link")
        key = (host.shard, height, digest)
        if key not in self.certificates_checked:
            config = self._config(host)
            if (certificate.chain_id, certificate.shard, certificate.height,
                    certificate.digest) != (chain_id, host.shard, height, digest):
                self.fail(f"{host.name} delivered h{height} with a certificate for another "
                          "block")
            why = certificate.verify(self.validators, config.quorum)
            if why is not None:
                self.fail(f"{host.name} delivered h{height} with a bad certificate: {why}")
            self.certificates_checked.add(key)
        host.delivered_tip, host.delivered_hash = height, digest
        host.execute_queue.append(item)
        self._maybe_execute(node, host)

    def _maybe_execute(self, node: Node, host: Host) -> None:
        if host.executing or not host.execute_queue:
            return
        host.executing = True
        self.schedule(self.now + self.rng.randint(1, 15), EXECUTE, node.index, host.shard,
                      node.incarnation)

    def _on_execute(self, node_index: int, shard: int, incarnation: int) -> None:
        node = self.nodes[node_index]
        if not node.up or node.incarnation != incarnation:
            return
        host = node.hosts[shard]
        host.executing = False
        item = host.execute_queue.popleft()
        height, digest = item.block.header.height, item.block.hash()
        if height != len(host.store) + 1:
            self.fail(f"{host.name} executes h{height} above its store tip {len(host.store)}")
        previous = host.roots[-1][0] if host.roots else genesis_root
        state_root = hashlib.sha256(previous + digest).digest()
        receipts_root = hashlib.sha256(b"r" + digest).digest()
        host.store.append(item)  # finalize: durable from here on
        host.roots.append((state_root, receipts_root))
        host.store_tip_max = max(host.store_tip_max, len(host.store))
        self.trace.update(state_root)
        if node.honest:
            self._check_agreement(host, height, digest)
            self._note_progress(host)
        self._step(node, host, Executed(height, state_root, receipts_root))
        if node.up and node.incarnation == incarnation:
            self._maybe_execute(node, host)

    # -- network -------------------------------------------------------------------------

    def _send_output(self, node: Node, host: Host, to: int | None, message: Message) -> None:
        if node.broken == "mute":
            return  # test-only: an "honest" node that never speaks (more than f faulty)
        if node.adversary is not None:
            from consensus.events import Send

            for target, item in node.adversary.transform(host, Send(to, message)):
                if isinstance(item, Commit) and item.sender == node.index and \
                        item.has_valid_signature(self.validators):
                    self._count_commit(host, item)  # Byzantine votes count in certificates
                self._send(node, host.shard, target, item, honest=False)
            return
        self._observe_outgoing(node, host, message)
        self._send(node, host.shard, to, message, honest=True)
        if node.broken == "equivocate" and isinstance(message, Prepare):
            # test-only: an "honest" replica that signs a second PREPARE with another digest
            twin = sign_message(replace(message, digest=self.rng.randbytes(32)), node.signer)
            self._observe_outgoing(node, host, twin)
            self._send(node, host.shard, to, twin, honest=True)

    def _send(self, node: Node, shard: int, to: int | None, message: Message | bytes,
              honest: bool) -> None:
        """Put a message (or raw bytes) on the wire to one node or every other node."""
        if isinstance(message, bytes):
            data = message
        else:
            try:
                data = encode_message(message)
            except ValueError as error:
                if honest:
                    self.fail(f"node {node.index} sent a message that cannot be encoded: "
                              f"{error}")
                self.count("unencodable")
                return
        decoded: Message | None
        try:
            decoded = decode_message(data)
        except DecodeError as error:
            if honest:
                self.fail(f"node {node.index} sent bytes that do not decode: {error}")
            decoded = None
        if honest and decoded != message:
            self.fail(f"node {node.index}: {type(message).__name__} changed in a codec "
                      "round trip")
        digest = hashlib.sha256(data).digest()[:8]
        scenario, rng = self.scenario, self.rng
        recipients = [i for i in range(scenario.validators) if i != node.index] \
            if to is None else [to]
        for target in recipients:
            if not 0 <= target < scenario.validators or target == node.index:
                if honest:
                    self.fail(f"node {node.index} sent to invalid recipient {target}")
                continue
            destination = self.nodes[target]
            if not destination.up or self.group[target] != self.group[node.index]:
                self.count("messages_cut")
                continue
            faulty = not self.healed
            if faulty and rng.randrange(1000) < scenario.loss_permille:
                self.count("messages_lost")
                continue
            at = self.now + self._delay(faulty)
            self.schedule(at, MESSAGE, target, shard, destination.incarnation, decoded, digest,
                          node.index)
            if faulty and rng.randrange(1000) < scenario.duplicate_permille:
                self.count("messages_duplicated")
                self.schedule(at + self._delay(faulty), MESSAGE, target, shard,
                              destination.incarnation, decoded, digest, node.index)

    def _delay(self, faulty: bool) -> int:
        delay = self.rng.randint(1, self.scenario.delay_ms_max)
        if faulty and self.rng.randrange(1000) < self.scenario.reorder_permille:
            delay *= self.rng.randint(2, 10)
        return delay

    def _on_message(self, target: int, shard: int, incarnation: int, message: Message | None,
                    digest: bytes, source: int) -> None:
        self.trace.update(struct.pack(">HH", target, source) + digest)
        node = self.nodes[target]
        if not node.up or node.incarnation != incarnation:
            self.count("messages_to_crashed")
            return
        if message is None:
            node.decode_errors += 1
            self.count("decode_errors")
            self.log(f"node {target} drops undecodable bytes from {source}")
            return
        if not 0 <= message.shard < self.scenario.shards:
            self.count("messages_for_unknown_shard")
            return
        host = node.hosts[message.shard]
        if self.verbose:
            self.log(f"{host.name} <- {source}: {describe(message)}")
        if node.adversary is not None:
            node.adversary.observe(host, message)
        if isinstance(message, SyncRequest):
            self._answer_sync(node, host, message)
            return
        self._step(node, host, MessageReceived(message))

    def _answer_sync(self, node: Node, host: Host, request: SyncRequest) -> None:
        """The shell answers SyncRequest from the block store (not the replica)."""
        config = self._config(host)
        if request.chain_id != chain_id or request.sender == node.index or \
                not request.has_valid_signature(self.validators):
            self.count("sync_requests_refused")
            return
        # Bounded work per peer, as a real shell does: one answer per requester per tick.
        last = host.sync_answered_ms.get(request.sender)
        if last is not None and self.now - last < tick_ms:
            self.count("sync_requests_rate_limited")
            return
        host.sync_answered_ms[request.sender] = self.now
        assert host.replica is not None
        count = min(request.count, config.sync_blocks_max)
        start = request.height
        blocks = tuple(host.store[start - 1: start - 1 + count]) if start >= 1 else ()
        response = SyncResponse(chain_id, host.shard, host.replica.view, start, node.index,
                                blocks, host.latest_proof, b"")
        honest = node.adversary is None
        if not honest:
            assert node.adversary is not None
            response = node.adversary.tamper_sync(host, response)
        response = sign_message(response, node.signer)
        self.count("sync_responses")
        self._send(node, host.shard, request.sender, response, honest=honest)

    # -- faults --------------------------------------------------------------------------

    def _crash(self, node_index: int, after_persist: bool) -> None:
        node = self.nodes[node_index]
        if self.healed or not node.up:
            return
        if after_persist:  # arm: the next Output with records crashes between persist and send
            node.crash_after_persist = True
            self.log(f"node {node_index} will crash between persist and send")
            return
        self.log(f"node {node_index} crashes")
        self.count("crashes")
        node.up = False
        node.crash_after_persist = False
        node.incarnation += 1
        for host in node.hosts:
            host.replica = None
            host.execute_queue.clear()
            host.executing = False
            host.propose_pending = False
        self.schedule(self.now + self.rng.randint(30, 400), RESTART, node_index,
                      node.incarnation)

    def _restart(self, node_index: int, incarnation: int) -> None:
        node = self.nodes[node_index]
        if node.up or node.incarnation != incarnation:
            return
        self.log(f"node {node_index} restarts")
        node.up = True
        for host in node.hosts:
            self._start_replica(node, host)

    def _partition(self, duration_ms: int) -> None:
        if self.healed:
            return
        n = self.scenario.validators
        if self.rng.random() < 0.5:
            isolated = self.rng.randrange(n)
            self.group = [1 if i == isolated else 0 for i in range(n)]
        else:
            self.group = [self.rng.randrange(2) for _ in range(n)]
        self.partition_epoch += 1
        self.log(f"partition {self.group}")
        self.count("partitions")
        self.schedule(self.now + duration_ms, PARTITION_END, self.partition_epoch)

    def _partition_end(self, epoch: int) -> None:
        if epoch == self.partition_epoch and not self.healed:
            self.group = [0] * self.scenario.validators
            self.log("partition healed")

    def _heal(self) -> None:
        self.log("heal: partitions healed, crashed nodes restart, loss off")
        self.healed = True
        self.group = [0] * self.scenario.validators
        for node in self.nodes:
            node.crash_after_persist = False
            if not node.up:
                node.up = True
                for host in node.hosts:
                    self._start_replica(node, host)
        for shard in range(self.scenario.shards):
            honest = [node.hosts[shard] for node in self.nodes if node.honest]
            target = max(len(host.store) for host in honest) + self.scenario.liveness_blocks
            for host in honest:
                if len(host.store) < target:
                    self.liveness_targets[(host.node, shard)] = target
        self.done = not self.liveness_targets

    # -- checkers ------------------------------------------------------------------------

    def _check_agreement(self, host: Host, height: int, digest: bytes) -> None:
        key = (host.shard, height)
        earlier = self.finalized.get(key)
        if earlier is None:
            self.finalized[key] = (digest, host.name)
        elif earlier[0] != digest:
            self.fail(f"agreement: shard {host.shard} height {height}: {host.name} has "
                      f"{digest.hex()[:16]} but {earlier[1]} has {earlier[0].hex()[:16]}")

    def _observe_outgoing(self, node: Node, host: Host, message: Message) -> None:
        """No equivocation by honest replicas, and persist before send."""
        if message.sender != node.index:
            self.fail(f"{host.name} sent a {type(message).__name__} as sender "
                      f"{message.sender}")
        match message:
            case PrePrepare() | Prepare() | Commit():
                self._check_vote(host, message)
            case NewView():
                self._check_bound(host, message, new_view_bytes_max(
                    len(self.nodes), self.scenario.watermark_window_blocks))
                for pre_prepare in message.pre_prepares:
                    self._check_vote(host, pre_prepare)
            case Checkpoint():
                key = (int(message.tag), message.shard, 0, message.height, message.sender)
                value = message.block_hash + message.state_root
                if self.votes.setdefault(key, value) != value:
                    self.fail(f"equivocation: {host.name} sent two CHECKPOINTs for "
                              f"h{message.height}")
            case ViewChange():
                self._check_bound(host, message, view_change_bytes_max(
                    len(self.nodes), self.scenario.watermark_window_blocks))
            case SyncRequest() | SyncResponse() | BlockRequest() | BlockResponse():
                pass

    def _check_bound(self, host: Host, message: Message, bytes_max: int) -> None:
        """View-change messages stay within the bound stated in consensus.types."""
        size = len(encode_message(message))
        if size > bytes_max:
            self.fail(f"{host.name} sent a {type(message).__name__} of {size} bytes, above "
                      f"its bound of {bytes_max}")

    def _check_vote(self, host: Host, message: PrePrepare | Prepare | Commit) -> None:
        key = (int(message.tag), message.shard, message.view, message.height, message.sender)
        if self.votes.setdefault(key, message.digest) != message.digest:
            self.fail(f"equivocation: {host.name} signed two {type(message).__name__}s for "
                      f"v{message.view} h{message.height}: {self.votes[key].hex()[:16]} and "
                      f"{message.digest.hex()[:16]}")
        if isinstance(message, Commit):
            self._count_commit(host, message)
            if (message.view, message.height, message.digest) not in host.persisted_prepared:
                self.fail(f"persist before send: {host.name} sent COMMIT v{message.view} "
                          f"h{message.height} without a persisted prepared certificate")
        elif (int(message.tag), message.view, message.height, message.digest) not in \
                host.persisted_votes:
            self.fail(f"persist before send: {host.name} sent {type(message).__name__} "
                      f"v{message.view} h{message.height} that is not in its records")

    def _count_commit(self, host: Host, commit: Commit) -> None:
        """Certificate agreement: a quorum of signed COMMITs for (view, height, digest) is a
        commit certificate; two for different blocks at one height break safety even if
        no replica delivered either yet (a syncing replica could be shown either)."""
        key = (commit.shard, commit.view, commit.height, commit.digest)
        senders = self.commit_senders.setdefault(key, {})
        if commit.sender in senders:
            return
        senders[commit.sender] = None
        if len(senders) != self._config(host).quorum:
            return
        place = (commit.shard, commit.height)
        earlier = self.certified.setdefault(place, (commit.digest, commit.view))
        if earlier[0] != commit.digest:
            self.fail(f"certificate agreement: shard {commit.shard} height {commit.height} "
                      f"has commit certificates for {earlier[0].hex()[:16]} (view "
                      f"{earlier[1]}) and {commit.digest.hex()[:16]} (view {commit.view}, "
                      f"signers {sorted(senders)})")

    def _note_progress(self, host: Host) -> None:
        key = (host.node, host.shard)
        target = self.liveness_targets.get(key)
        if target is not None and len(host.store) >= target:
            del self.liveness_targets[key]
            self.done = not self.liveness_targets

    def _liveness_failure(self) -> None:
        stuck = []
        for (node_index, shard), target in self.liveness_targets.items():
            host = self.nodes[node_index].hosts[shard]
            replica = host.replica
            state = "down" if replica is None else (
                f"view={replica.view} in_view_change={replica.in_view_change} "
                f"delivered={replica.last_delivered} low={replica.low} "
                f"view_changes={view_change_summary(replica)} "
                f"ignored={dict(sorted(replica.stats.ignored.items()))}")
            stuck.append(f"{host.name} finalized {len(host.store)} < {target} ({state})")
        self.fail(f"liveness: {self.scenario.liveness_ms()}ms after the heal at "
                  f"{self.heal_ms}ms: " + "; ".join(stuck))

    def _broken_block(self, item: CommittedBlock) -> CommittedBlock:
        """Test-only: a replica that finalizes a block other than the committed one."""
        header = item.block.header
        if header.height < 2:
            return item
        wrong = Block(replace(header, timestamp_ms=header.timestamp_ms + 1), item.block.txs)
        return CommittedBlock(wrong, item.certificate)


def view_change_summary(replica: Replica) -> str:
    """Diagnostics only: which senders' VIEW-CHANGEs a replica holds, for which views."""
    held = getattr(replica, "_view_changes", {})
    return "{" + ",".join(f"{sender}:v{vc.view}" for sender, vc in sorted(held.items())) + "}"


def describe(message: Message) -> str:
    name = type(message).__name__
    head = f"{name} v{message.view} h{message.height} from {message.sender}"
    match message:
        case PrePrepare() | Prepare() | Commit():
            return f"{head} {message.digest.hex()[:8]}"
        case Checkpoint():
            return f"{head} {message.block_hash.hex()[:8]}"
        case ViewChange():
            return f"{head} prepared={len(message.prepared)}"
        case NewView():
            return f"{head} vcs={len(message.view_changes)} pps={len(message.pre_prepares)}"
        case SyncRequest():
            return f"{head} count={message.count}"
        case SyncResponse():
            return f"{head} blocks={len(message.blocks)} proof={len(message.checkpoint_proof)}"
        case BlockRequest():
            return f"{head} {message.digest.hex()[:8]}"
        case BlockResponse():
            return f"{head} {message.block.hash().hex()[:8]}"
    return head


def run_simulation(seed: int, verbose: bool = False, **overrides: Any) -> SimResult:
    """Run one seed; ``overrides`` replace fields of the drawn Scenario."""
    return Simulator(seed, verbose=verbose, **overrides).run()


__all__ = ["SimFailure", "SimResult", "Simulator", "describe", "run_simulation"]
