"""A tiny hand-driven cluster for scenario tests of the PBFT rules.

Unlike the randomized simulator in ``tests/sim``, a scenario moves every message by hand:
``propose``, ``deliver`` (optionally filtered), ``drop``, ``partition``, ``tick``,
``crash``/``restart`` and then ``expect`` on what replicas did. The shell duties are the
simplest faithful ones: records are kept durably per replica, committed blocks are
executed at once with a toy state machine and ``Executed`` is stepped back in, and
``SyncRequest`` is answered from the durable block store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.events import (
    Executed,
    ExecutedRoot,
    MessageReceived,
    Output,
    Propose,
    Record,
    RecoveredState,
    StableCheckpointRecord,
    Tick,
)
from consensus.replica import Replica, ReplicaConfig
from consensus.types import (
    Block,
    BlockHeader,
    CommittedBlock,
    Message,
    PrePrepare,
    Signer,
    SyncRequest,
    SyncResponse,
    decode_message,
    encode_message,
    sign_message,
    tx_root,
    zero_digest,
)

chain_id = "scenario"


def signer_for(index: int) -> Signer:
    return Signer(hashlib.sha256(b"replica-%d" % index).digest())


def toy_roots(previous_root: bytes, block: Block) -> tuple[bytes, bytes]:
    state_root = hashlib.sha256(previous_root + block.hash()).digest()
    return state_root, hashlib.sha256(b"r" + block.hash()).digest()


@dataclass
class Envelope:
    source: int
    target: int
    message: Message


@dataclass
class Node:
    """One replica and its durable state."""

    index: int
    replica: Replica | None
    records: list[Record] = field(default_factory=list)
    store: list[CommittedBlock] = field(default_factory=list)  # finalized, height order
    roots: list[tuple[bytes, bytes]] = field(default_factory=list)  # after each height
    auto_execute: bool = True
    pending_execution: list[CommittedBlock] = field(default_factory=list)

    @property
    def height(self) -> int:
        return len(self.store)

    def state_root(self, genesis: bytes) -> bytes:
        return self.roots[-1][0] if self.roots else genesis


class Cluster:
    def __init__(self, n: int = 4, shard: int = 0, **overrides: int) -> None:
        self.signers = [signer_for(index) for index in range(n)]
        self.validators = tuple(signer.public_key for signer in self.signers)
        self.config_overrides = overrides
        self.shard = shard
        self.nodes = [Node(index, None) for index in range(n)]
        for node in self.nodes:
            node.replica = self._new_replica(node)
        self.network: list[Envelope] = []
        self.sent: list[Envelope] = []
        self.clock_ms = 1_000

    # -- setup -------------------------------------------------------------------------

    def config(self, index: int) -> ReplicaConfig:
        return ReplicaConfig(chain_id, self.shard, index, self.validators,
                             **self.config_overrides)  # type: ignore[arg-type]

    def _new_replica(self, node: Node) -> Replica:
        recovered = RecoveredState(
            records=tuple(node.records),
            finalized_height=node.height,
            finalized_hash=node.store[-1].block.hash() if node.store else b"\x00" * 32,
            finalized_timestamp_ms=node.store[-1].block.header.timestamp_ms if node.store
            else 0,
            executed=tuple(ExecutedRoot(h + 1, *node.roots[h])
                           for h in range(max(0, node.height - 16), node.height)),
            recent_blocks=tuple((item.block.header.height, item.block.hash(),
                                 item.block.header.timestamp_ms)
                                for item in node.store[-16:]),
        )
        return Replica(self.config(node.index), self.signers[node.index], recovered)

    def replica(self, index: int) -> Replica:
        replica = self.nodes[index].replica
        assert replica is not None, f"replica {index} is crashed"
        return replica

    @property
    def primary(self) -> int:
        live = [node.replica for node in self.nodes if node.replica is not None]
        return live[0].primary(max(replica.view for replica in live))

    # -- driving -----------------------------------------------------------------------

    def step(self, index: int, event: object) -> Output:
        node = self.nodes[index]
        if node.replica is None:
            return Output()
        out = node.replica.step(event)  # type: ignore[arg-type]
        self._carry_out(node, out)
        node.replica.check_invariants()
        return out

    def _carry_out(self, node: Node, out: Output) -> None:
        node.records.extend(out.persist)
        for send in out.send:
            targets = [send.to] if send.to is not None else [
                other for other in range(len(self.nodes)) if other != node.index]
            for target in targets:
                # Round trip through the real codec, as the network would.
                message = decode_message(encode_message(send.message))
                envelope = Envelope(node.index, target, message)
                self.network.append(envelope)
                self.sent.append(envelope)
        node.pending_execution.extend(out.deliver)
        if node.auto_execute:
            self.execute(node.index)

    def execute(self, index: int) -> None:
        node = self.nodes[index]
        genesis = self.config(index).genesis_state_root
        while node.pending_execution:
            item = node.pending_execution.pop(0)
            assert item.block.header.height == node.height + 1
            roots = toy_roots(node.state_root(genesis), item.block)
            node.store.append(item)
            node.roots.append(roots)
            self.step(index, Executed(item.block.header.height, *roots))

    def propose(self, txs: tuple = (), index: int | None = None) -> int:
        """The primary proposes; returns the height it proposed."""
        index = self.primary if index is None else index
        wanted = self.replica(index)._proposal_height()
        assert wanted is not None, f"replica {index} is not ready to propose"
        self.clock_ms += 10
        self.step(index, Propose(txs, self.clock_ms))
        return wanted

    def deliver(self, where: Callable[[Envelope], bool] = lambda envelope: True,
                rounds: int = 1000) -> int:
        """Deliver queued messages that match ``where`` until none is left."""
        delivered = 0
        for _ in range(rounds):
            batch = [envelope for envelope in self.network if where(envelope)]
            if not batch:
                return delivered
            self.network = [envelope for envelope in self.network if not where(envelope)]
            for envelope in batch:
                self._receive(envelope)
                delivered += 1
        raise AssertionError("messages kept flowing: livelock?")

    def _receive(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.target]
        if node.replica is None:
            return
        if isinstance(envelope.message, SyncRequest):
            self._serve_sync(node, envelope.message)
            return
        self.step(envelope.target, MessageReceived(envelope.message))

    def _serve_sync(self, node: Node, request: SyncRequest) -> None:
        blocks = tuple(node.store[request.height - 1: request.height - 1 + request.count])
        proofs = [record.proof for record in node.records
                  if isinstance(record, StableCheckpointRecord)]
        proof = max(proofs, key=lambda p: p[0].height) if proofs else ()
        response = sign_message(SyncResponse(
            chain_id, self.shard, 0, request.height, node.index, blocks, proof, b""),
            self.signers[node.index])
        self.network.append(Envelope(node.index, request.sender, response))

    def drop(self, where: Callable[[Envelope], bool]) -> int:
        before = len(self.network)
        self.network = [envelope for envelope in self.network if not where(envelope)]
        return before - len(self.network)

    def tick(self, count: int = 1, only: list[int] | None = None) -> None:
        for _ in range(count):
            for node in self.nodes:
                if node.replica is not None and (only is None or node.index in only):
                    self.step(node.index, Tick())

    def crash(self, index: int) -> None:
        self.nodes[index].replica = None
        self.nodes[index].pending_execution = []
        self.network = [envelope for envelope in self.network if envelope.target != index]

    def restart(self, index: int) -> None:
        node = self.nodes[index]
        assert node.replica is None
        node.replica = self._new_replica(node)

    def run_heights(self, count: int) -> None:
        """Propose and deliver everything, ``count`` times."""
        for _ in range(count):
            self.propose()
            self.deliver()

    # -- expectations ------------------------------------------------------------------

    def heights(self) -> list[int]:
        return [node.height for node in self.nodes]

    def assert_agreement(self) -> None:
        for height in range(1, max(self.heights()) + 1):
            hashes = {node.store[height - 1].block.hash() for node in self.nodes
                      if node.height >= height}
            assert len(hashes) == 1, f"disagreement at height {height}"


# -- small helpers for rule tests (additive) ----------------------------------------------


def of_type(*kinds: type) -> Callable[[Envelope], bool]:
    """Envelopes carrying one of the given message types."""
    return lambda envelope: isinstance(envelope.message, kinds)


def to(*targets: int) -> Callable[[Envelope], bool]:
    return lambda envelope: envelope.target in targets


def from_(*sources: int) -> Callable[[Envelope], bool]:
    return lambda envelope: envelope.source in sources


def all_of(*predicates: Callable[[Envelope], bool]) -> Callable[[Envelope], bool]:
    return lambda envelope: all(predicate(envelope) for predicate in predicates)


def ignored(replica: Replica, reason: object) -> int:
    """How often ``replica`` ignored a message for ``reason`` (an ``Ignored`` member)."""
    return replica.stats.ignored.get(reason.value, 0)  # type: ignore[attr-defined]


def sign_as(cluster: Cluster, index: int, message: Message) -> Message:
    """``message`` signed with replica ``index``'s key (to forge or build test messages)."""
    return sign_message(message, cluster.signers[index])


def inject(cluster: Cluster, target: int, message: Message) -> Output:
    """Step ``message`` into replica ``target`` as if it came from the network."""
    return cluster.step(target, MessageReceived(decode_message(encode_message(message))))


def within(*groups: list[int]) -> Callable[[Envelope], bool]:
    """Envelopes between replicas of one group (deliver these while partitioned)."""
    group_of = {index: number for number, group in enumerate(groups) for index in group}
    return lambda envelope: group_of.get(envelope.source, -1) == group_of.get(
        envelope.target, -2)


def partition(cluster: Cluster, *groups: list[int]) -> int:
    """Drop every queued envelope between replicas of different groups."""
    group_of = {index: number for number, group in enumerate(groups) for index in group}
    return cluster.drop(lambda envelope: group_of.get(envelope.source, -1)
                        != group_of.get(envelope.target, -2))


def sent(cluster: Cluster, kind: type, source: int | None = None,
         height: int | None = None) -> list[Message]:
    """Distinct messages of ``kind`` sent so far (a broadcast counts once)."""
    found: list[Message] = []
    for envelope in cluster.sent:
        message = envelope.message
        if not isinstance(message, kind) or (source is not None and envelope.source != source):
            continue
        if height is not None and message.height != height:
            continue
        if message not in found:
            found.append(message)
    return found


def make_block(cluster: Cluster, height: int, view: int, proposer: int, prev_hash: bytes,
               timestamp_ms: int = 5_000) -> Block:
    """A well-formed block whose app roots are those the cluster executed."""
    lag = cluster.config(0).state_root_lag_blocks
    app_height = max(0, height - lag)
    roots = (zero_digest, zero_digest)
    known = max(cluster.nodes, key=lambda node: node.height).roots
    if 0 < app_height <= len(known):
        roots = known[app_height - 1]
    header = BlockHeader(chain_id, cluster.shard, height, prev_hash, view, proposer,
                         timestamp_ms, tx_root(()), app_height, *roots)
    return Block(header, ())


def make_pre_prepare(cluster: Cluster, block: Block, sender: int | None = None,
                     view: int | None = None) -> PrePrepare:
    sender = block.header.proposer if sender is None else sender
    view = block.header.view if view is None else view
    message = PrePrepare(chain_id, cluster.shard, view, block.header.height, sender,
                         block.hash(), block, b"")
    return sign_as(cluster, sender, message)  # type: ignore[return-value]


def vote(cluster: Cluster, kind: type, sender: int, height: int, digest: bytes,
         view: int = 0) -> Message:
    return sign_as(cluster, sender, kind(chain_id, cluster.shard, view, height, sender,
                                         digest, b""))
