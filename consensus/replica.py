"""The PBFT replica of one shard: a pure, synchronous state machine (sans-IO).

A ``Replica`` is changed only by ``step(event) -> Output``; it never reads a clock, a
socket or a disk. The shell carries out the Output in the order documented in
``consensus.events`` (persist, send, deliver). References are to Castro & Liskov,
"Practical Byzantine Fault Tolerance and Proactive Recovery", TOCS 2002 (PBFT).

How it works
------------
- **Normal case** (§4.2). The primary of shard ``s`` in view ``v`` is replica
  ``(v + s) mod n``. It proposes one block per height with a PRE-PREPARE; backups answer
  with PREPARE; a replica is *prepared* at a height with the PRE-PREPARE and
  ``quorum - 1`` matching PREPAREs from other replicas, then sends COMMIT; it has
  *committed* with ``quorum`` matching COMMITs. ``quorum = n - f`` with
  ``f = (n - 1) // 3`` (2f+1 when n = 3f+1). Committed blocks are delivered strictly in
  height order, each with its commit certificate.
- **Pipelining.** Heights ``low < h <= low + W`` may be in flight at once (the watermarks,
  §4.3). Blocks are hash-chained, so a backup prepares ``h`` only once it knows block
  ``h - 1`` of the same view (or the finalized chain) and ``prev_hash`` matches; and a
  replica sends COMMIT for ``h`` only once it sent COMMIT for ``h - 1`` (or ``h - 1`` is
  final). The second rule means every replica that helps commit ``h`` holds prepared
  certificates for all the heights below it, so the NEW-VIEW can stop at the first height
  without a prepared certificate without dropping anything that may have committed.
- **Execution after ordering.** The header at height ``h`` carries the state and receipts
  roots after executing ``h - L`` (``state_root_lag_blocks``), so the primary can propose
  ``h`` as soon as ``h - L`` is executed. A replica that has executed ``h - L`` checks the
  roots before it prepares; a committed header whose roots differ from ours, or a stable
  checkpoint whose root differs from ours, halts the replica: a determinism bug.
- **Checkpoints** (§4.3). After executing a height that is a multiple of K a replica
  broadcasts CHECKPOINT with the block hash and state root; ``quorum`` matching ones make
  it stable: the low watermark moves up and everything at or below it is forgotten.
- **View change** (§4.4). A replica that delivers nothing for ``view_timeout`` ticks moves
  to view ``v + 1`` and sends VIEW-CHANGE with its stable checkpoint proof and its
  highest-view prepared certificate per height; the timeout doubles for each view that
  fails, up to a cap, and is reset by progress. The new primary, with ``quorum``
  VIEW-CHANGEs, sends NEW-VIEW re-proposing, from the highest stable checkpoint up, the
  highest-view prepared block of each height while they chain; backups recompute the same
  choice from the same VIEW-CHANGEs and accept only an identical NEW-VIEW. ``f + 1``
  VIEW-CHANGEs for higher views make a replica join the view change (§4.5.2).
- **View-change messages carry digests, not blocks.** A prepared certificate is the
  PRE-PREPARE's head, the block header and the PREPAREs; a NEW-VIEW re-proposes by head.
  Their size depends on n and the window only (``types.view_change_bytes_max``). A replica
  that re-proposes or accepts a re-proposal takes the body from what it holds (its
  prepared block, the block it committed); otherwise it asks the replicas whose signatures
  show they held it (BLOCK-REQUEST, one at a time, rotating on the retransmit period) and
  neither prepares nor commits that height until it holds a body with that digest. A
  stale VIEW-CHANGE gets the NEW-VIEW again at most once per sender per retransmit period.
- **Persist before send.** Every PRE-PREPARE and PREPARE it signs, every prepared
  certificate before its COMMIT, every view move and every stable checkpoint are emitted as
  records ahead of the messages; a restarted replica refuses to sign a different digest for
  a (view, height) it signed before.
- **Catch-up.** When ``f + 1`` replicas show signed messages for heights it has not
  delivered and it makes no progress, or its low watermark is above its delivered height,
  it asks one peer at a time (rotating) for committed blocks with certificates, checks the
  chain links and certificates, and delivers them; the response's stable checkpoint proof
  moves its watermarks up. A valid certificate of a later view proves that view was
  installed by a quorum, so the replica adopts it unless it has voted for a later view.

Every message that is ignored is counted under a reason in ``stats.ignored``.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from consensus import codec
from consensus.events import (
    Event,
    Executed,
    MessageReceived,
    Output,
    PreparedRecord,
    Propose,
    Record,
    RecoveredState,
    Send,
    StableCheckpointRecord,
    Tick,
    ViewRecord,
    VoteRecord,
)
from consensus.types import (
    Block,
    BlockHeader,
    Checkpoint,
    Commit,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    Message,
    NewView,
    BlockRequest,
    BlockResponse,
    PreparedCertificate,
    PrePrepare,
    PrePrepareHead,
    Prepare,
    Signer,
    SyncRequest,
    SyncResponse,
    ViewChange,
    check_pre_prepare_body,
    sign_message,
    tx_root,
    verify_signature,
    zero_digest,
)

verified_cache_entries_max = 8192
executed_roots_extra = 2


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    chain_id: str
    shard: int
    replica_id: int
    validators: tuple[bytes, ...]
    checkpoint_interval_blocks: int = 4
    watermark_window_blocks: int = 8
    state_root_lag_blocks: int = 2
    view_timeout_ticks: int = 20
    view_timeout_max_ticks: int = 320
    sync_stall_ticks: int = 8
    sync_timeout_ticks: int = 8
    sync_blocks_max: int = 32
    block_txs_max: int = 1000
    genesis_state_root: bytes = zero_digest
    genesis_receipts_root: bytes = zero_digest

    def validate(self) -> list[str]:
        problems = []
        n = len(self.validators)
        if n < 1:
            problems.append("validators: at least one is needed")
        if not 0 <= self.replica_id < max(n, 1):
            problems.append(f"replica_id: {self.replica_id} is not a validator index")
        if self.shard < 0:
            problems.append("shard: must be >= 0")
        if self.checkpoint_interval_blocks < 1:
            problems.append("checkpoint_interval_blocks: must be >= 1")
        window, interval = self.watermark_window_blocks, self.checkpoint_interval_blocks
        if window < interval or window % max(interval, 1):
            problems.append("watermark_window_blocks: must be a multiple of the checkpoint "
                            "interval, at least one interval")
        if not 1 <= self.state_root_lag_blocks <= window:
            problems.append("state_root_lag_blocks: must be in 1..watermark_window_blocks")
        if self.view_timeout_ticks < 2:
            problems.append("view_timeout_ticks: must be >= 2")
        if self.view_timeout_max_ticks < self.view_timeout_ticks:
            problems.append("view_timeout_max_ticks: must be >= view_timeout_ticks")
        for name in ("sync_stall_ticks", "sync_timeout_ticks", "sync_blocks_max",
                     "block_txs_max"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: must be >= 1")
        if self.sync_blocks_max > 1024:
            problems.append("sync_blocks_max: must be <= 1024 (the wire limit)")
        return problems

    @property
    def n(self) -> int:
        return len(self.validators)

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    @property
    def quorum(self) -> int:
        return self.n - self.f


class Ignored(enum.Enum):
    """Why a message or event was ignored (the keys of ``stats.ignored``)."""

    HALTED = "halted"
    WRONG_CHAIN = "wrong_chain"
    WRONG_SHARD = "wrong_shard"
    UNKNOWN_SENDER = "unknown_sender"
    FROM_SELF = "from_self"
    BAD_SIGNATURE = "bad_signature"
    STALE_VIEW = "stale_view"
    STALE_CHECKPOINT = "stale_checkpoint"
    FUTURE_VIEW = "future_view"
    IN_VIEW_CHANGE = "in_view_change"
    NOT_PRIMARY = "not_primary"
    FROM_PRIMARY = "prepare_from_primary"
    OUT_OF_WINDOW = "out_of_window"
    DUPLICATE = "duplicate"
    EQUIVOCATION = "equivocation"
    CONFLICTS_WITH_VOTE = "conflicts_with_own_vote"
    INVALID_PROPOSAL = "invalid_proposal"
    INVALID_CHECKPOINT = "invalid_checkpoint"
    INVALID_VIEW_CHANGE = "invalid_view_change"
    INVALID_NEW_VIEW = "invalid_new_view"
    UNSOLICITED_SYNC = "unsolicited_sync"
    INVALID_SYNC = "invalid_sync"
    SYNC_REQUEST = "sync_request_for_shell"
    NOT_READY_TO_PROPOSE = "not_ready_to_propose"
    OVERSIZE_BATCH = "oversize_batch"
    UNKNOWN_BODY = "block_request_for_unknown_body"
    BODY_REQUESTS_EXCEEDED = "block_requests_exceeded"
    UNSOLICITED_BODY = "unsolicited_block_response"
    INVALID_BODY = "invalid_block_response"
    NEW_VIEW_RESENT_RECENTLY = "new_view_resent_recently"


@dataclass(slots=True)
class ReplicaStats:
    ignored: dict[str, int] = field(default_factory=dict)
    view_changes: int = 0
    new_views: int = 0
    blocks_delivered: int = 0
    blocks_synced: int = 0
    sync_requests: int = 0
    checkpoints_stable: int = 0
    body_requests: int = 0
    bodies_served: int = 0

    def count(self, reason: Ignored) -> None:
        self.ignored[reason.value] = self.ignored.get(reason.value, 0) + 1


@dataclass(slots=True)
class Slot:
    """Everything known about one height inside the watermark window."""

    height: int
    pre_prepare: PrePrepare | None = None  # accepted in the current view
    linked: bool = False  # the predecessor is known and prev_hash matches
    prepares: dict[int, Prepare] = field(default_factory=dict)  # current view, by sender
    commits: dict[int, Commit] = field(default_factory=dict)  # current view, by sender
    prepared: PreparedCertificate | None = None  # highest view; survives view changes
    prepared_block: Block | None = None  # the body of ``prepared``
    commit_sent_view: int = -1
    committed: CommittedBlock | None = None
    # A re-proposal of the current view whose body we do not hold yet, who to ask for it
    # (replicas whose signatures show they held it) and how many asks went out.
    awaiting: PrePrepareHead | None = None
    holders: tuple[int, ...] = ()
    asks: int = 0

    def reset_view_state(self) -> None:
        self.pre_prepare = None
        self.linked = False
        self.prepares = {}
        self.commits = {}
        self.awaiting, self.holders, self.asks = None, (), 0

    def body(self, digest: bytes) -> Block | None:
        """A block with hash ``digest`` that this slot holds, if any."""
        for block in (self.prepared_block,
                      self.pre_prepare.block if self.pre_prepare is not None else None,
                      self.committed.block if self.committed is not None else None):
            if block is not None and block.hash() == digest:
                return block
        return None


@dataclass(frozen=True, slots=True)
class _Link:
    """A block known to be at a height of the chain this replica builds on."""

    block_hash: bytes
    timestamp_ms: int | None  # None when only the hash is known (a checkpoint proof)


@dataclass(slots=True)
class _SyncState:
    peer: int
    from_height: int
    count: int
    ticks_left: int


def _vote_content(message: Message) -> object:
    """What a vote vouches for: two different ones from one signer are equivocation."""
    if isinstance(message, Checkpoint):
        return (message.block_hash, message.state_root)
    return getattr(message, "digest", None)


def compute_new_view(
    view_changes: Iterable[ViewChange], window: int
) -> tuple[int, tuple[Checkpoint, ...], list[BlockHeader]]:
    """The NEW-VIEW choice from a set of valid VIEW-CHANGEs (§4.4), a pure function.

    Start at the highest stable checkpoint; for each following height take the block (by
    its header) of the highest-view prepared certificate, as long as it chains onto the
    previous choice.
    """
    changes = sorted(view_changes, key=lambda vc: vc.sender)
    best = max(changes, key=lambda vc: (vc.height, -vc.sender))
    start, proof = best.height, best.checkpoint_proof
    previous = proof[0].block_hash if start > 0 else zero_digest
    chosen: list[BlockHeader] = []
    for height in range(start + 1, start + window + 1):
        candidates = [cert for vc in changes for cert in vc.prepared
                      if cert.pre_prepare.height == height]
        if not candidates:
            break
        pick = max(candidates, key=lambda cert: (cert.pre_prepare.view,
                                                 cert.pre_prepare.digest))
        if pick.header.prev_hash != previous:
            break
        chosen.append(pick.header)
        previous = pick.pre_prepare.digest
    return start, proof, chosen


def body_holders(view_changes: Iterable[ViewChange], height: int,
                 digest: bytes) -> tuple[int, ...]:
    """Replicas whose signatures in ``view_changes`` show they held the block ``digest``
    at ``height``: first the senders of VIEW-CHANGEs that carry its certificate (they
    were alive for this view change and keep the body with the certificate), then its
    proposer and the backups that prepared it."""
    senders: set[int] = set()
    signers: set[int] = set()
    for view_change in view_changes:
        for cert in view_change.prepared:
            if cert.pre_prepare.height == height and cert.pre_prepare.digest == digest:
                senders.add(view_change.sender)
                signers.add(cert.pre_prepare.sender)
                signers.update(prepare.sender for prepare in cert.prepares)
    return tuple(sorted(senders)) + tuple(sorted(signers - senders))


class Replica:
    """One shard's PBFT replica. Only ``step`` changes it; see the module docstring."""

    def __init__(
        self,
        config: ReplicaConfig,
        signer: Signer,
        recovered: RecoveredState = RecoveredState(),
        validate_block: Callable[[Block], str | None] | None = None,
    ) -> None:
        problems = config.validate()
        assert not problems, problems
        assert config.validators[config.replica_id] == signer.public_key, "key mismatch"
        self.config = config
        self._signer = signer
        self._validate_block = validate_block
        self.id = config.replica_id
        self.stats = ReplicaStats()
        self.halted: str | None = None

        self.view = 0
        self.in_view_change = False
        self.low = 0  # stable checkpoint height: the low watermark
        self._low_proof: tuple[Checkpoint, ...] = ()
        self._low_hash: bytes = zero_digest
        self.last_delivered = 0
        self.last_executed = 0
        self._links: dict[int, _Link] = {0: _Link(zero_digest, None)}
        self._link_floor = 0  # links are known for every delivered height above it
        self._executed: dict[int, tuple[bytes, bytes]] = {
            0: (config.genesis_state_root, config.genesis_receipts_root)}
        self._slots: dict[int, Slot] = {}
        # Roots a quorum signed for heights we have not executed yet, checked when we do:
        # app roots from delivered headers, state roots from adopted stable checkpoints.
        self._expected_app_roots: dict[int, tuple[bytes, bytes]] = {}
        self._expected_state_roots: dict[int, bytes] = {}
        self._checkpoints: dict[int, dict[int, Checkpoint]] = {}
        self._view_changes: dict[int, ViewChange] = {}  # latest per sender
        self._new_view_sent: NewView | None = None
        self._new_view_resent_to: set[int] = set()  # this retransmit period
        # Bodies served this retransmit period: (requester, height, digest).
        self._bodies_served: set[tuple[int, int, bytes]] = set()
        # What this replica signed: (tag, view, height) -> the PRE-PREPARE or PREPARE (a
        # re-proposal whose body it did not hold: its head).
        self._signed: dict[tuple[int, int, int], PrePrepare | Prepare | PrePrepareHead] = {}
        self._peer_heights: dict[int, int] = {}
        self._sync: _SyncState | None = None
        self._sync_rotation = 0
        self._ticks_without_progress = 0
        self._view_timeout_ticks = config.view_timeout_ticks
        self._sync_continue = False
        self._sync_backoff_ticks = 0  # after a response that did not fill the request
        self._verified: collections.OrderedDict[bytes, None] = collections.OrderedDict()
        # Work that recovery starts is handed out with the first step's Output.
        self._pending = Output()
        self._restore(recovered)

    # -- public --------------------------------------------------------------------------

    def primary(self, view: int) -> int:
        return (view + self.config.shard) % self.config.n

    @property
    def is_primary(self) -> bool:
        return self.primary(self.view) == self.id

    @property
    def catchup_lag_blocks(self) -> int | None:
        """How far the height f+1 peers vouch for is above what this replica delivered
        (0 when caught up): what catch-up still has to fetch; None until f+1 peers have
        vouched for a height since this replica started (it cannot know yet). Read-only,
        for the shell's readiness check and metrics."""
        if self.config.n == 1:
            return 0
        vouched = sorted(self._peer_heights.values(), reverse=True)
        if len(vouched) <= self.config.f:
            return None
        return max(0, vouched[self.config.f] - self.last_delivered)

    def step(self, event: Event) -> Output:
        out, self._pending = self._pending, Output()
        if self.halted is not None:
            if not isinstance(event, Tick):
                self.stats.count(Ignored.HALTED)
            out.halted = self.halted
            return out
        match event:
            case MessageReceived(message=message):
                self._on_message(message, out)
            case Tick():
                self._on_tick(out)
            case Propose():
                self._on_propose(event, out)
            case Executed():
                self._on_executed(event, out)
        if self.halted is None:
            self._maybe_deliver(out)
            self._maybe_sync(out)
            out.proposal_wanted = self._proposal_height()
        out.halted = self.halted
        return out

    def durable_records(self) -> list[Record]:
        """The records a restart still needs; after a stable checkpoint the shell may
        rewrite its log to just these (plus the checkpoint) and drop the rest."""
        records: list[Record] = [ViewRecord(self.view, self.in_view_change)]
        if self._low_proof:
            records.append(StableCheckpointRecord(self._low_proof))
        records.extend(VoteRecord(message) for _key, message in sorted(
            self._signed.items(), key=lambda item: item[0]))
        records.extend(PreparedRecord(slot.prepared, slot.prepared_block)
                       for _height, slot in sorted(self._slots.items())
                       if slot.prepared is not None and slot.prepared_block is not None)
        return records

    def check_invariants(self) -> None:
        config = self.config
        window = config.watermark_window_blocks
        assert self.last_executed <= self.last_delivered
        assert self.low % config.checkpoint_interval_blocks == 0
        assert len(self._slots) <= window
        for height, slot in self._slots.items():
            assert self.low < height <= self.low + window, (height, self.low)
            assert slot.height == height
            if slot.pre_prepare is not None:
                assert slot.pre_prepare.view == self.view
                assert slot.pre_prepare.digest == slot.pre_prepare.block.hash()
            assert len(slot.prepares) <= config.n and len(slot.commits) <= config.n
            if slot.prepared is not None:
                assert slot.prepared.pre_prepare.height == height
                assert slot.prepared_block is not None
                assert slot.prepared_block.hash() == slot.prepared.pre_prepare.digest
                assert slot.prepared.header == slot.prepared_block.header
            if slot.awaiting is not None:
                assert slot.pre_prepare is None and slot.awaiting.view == self.view
                assert slot.holders and self.id not in slot.holders
            if slot.committed is not None:
                assert slot.committed.certificate.height == height
        for height in range(max(self.low, self._link_floor, self._recent_floor()) + 1,
                            self.last_delivered + 1):
            assert height in self._links, ("delivered height without a link", height)
        assert len(self._checkpoints) <= window // config.checkpoint_interval_blocks + 1
        for by_sender in self._checkpoints.values():
            assert len(by_sender) <= config.n
        assert len(self._view_changes) <= config.n
        assert len(self._new_view_resent_to) <= config.n
        assert len(self._bodies_served) <= config.n * window
        assert len(self._signed) <= 2 * window + 2
        backlog = self.last_delivered - self.last_executed
        assert len(self._executed) <= window + config.state_root_lag_blocks + \
            executed_roots_extra + backlog + config.sync_blocks_max
        assert len(self._links) <= window + 2 + backlog + config.sync_blocks_max
        assert len(self._peer_heights) <= config.n
        assert all(height > self.last_executed for height in self._expected_app_roots)
        assert all(height > self.last_executed for height in self._expected_state_roots)
        assert len(self._expected_app_roots) <= backlog + config.state_root_lag_blocks
        assert len(self._expected_state_roots) <= \
            self.low // config.checkpoint_interval_blocks + 1
        assert len(self._verified) <= verified_cache_entries_max
        assert self._view_timeout_ticks <= config.view_timeout_max_ticks

    # -- recovery ------------------------------------------------------------------------

    def _restore(self, recovered: RecoveredState) -> None:
        self.last_delivered = self.last_executed = recovered.finalized_height
        self._links[recovered.finalized_height] = _Link(
            recovered.finalized_hash, recovered.finalized_timestamp_ms)
        self._link_floor = recovered.finalized_height
        for height, block_hash, timestamp_ms in sorted(recovered.recent_blocks):
            if height < recovered.finalized_height:
                self._links[height] = _Link(block_hash, timestamp_ms)
                self._link_floor = min(self._link_floor, height)
        for item in recovered.executed:
            self._executed[item.height] = (item.state_root, item.receipts_root)
        for record in recovered.records:
            match record:
                case ViewRecord(view=view, in_view_change=in_view_change):
                    if view > self.view or (view == self.view and not in_view_change):
                        self.view, self.in_view_change = view, in_view_change
                case StableCheckpointRecord(proof=proof):
                    if proof and proof[0].height > self.low:
                        self._set_low(proof[0].height, proof)
        for record in recovered.records:
            match record:
                case VoteRecord(message=message):
                    self._signed[(int(message.tag), message.view, message.height)] = message
                    if (isinstance(message, PrePrepare) and message.view == self.view
                            and not self.in_view_change and self._in_window(message.height)):
                        self._slot(message.height).pre_prepare = message
                case PreparedRecord(certificate=certificate, block=block):
                    height = certificate.pre_prepare.height
                    if self._in_window(height):
                        slot = self._slot(height)
                        if (slot.prepared is None or slot.prepared.pre_prepare.view
                                < certificate.pre_prepare.view):
                            slot.prepared, slot.prepared_block = certificate, block
        self._restore_head_votes()
        self._prune_signed()
        self._recreate_checkpoints(self._pending)
        if self.in_view_change:
            self._send_view_change(self._pending)
        for height in sorted(self._slots):
            self._maybe_link(height, self._pending)

    def _restore_head_votes(self) -> None:
        """A re-proposal we signed by its head before the restart: take it up again if we
        hold its body (our prepared block), else wait for the next view change."""
        if self.in_view_change:
            return
        for (tag, view, height), message in sorted(self._signed.items(),
                                                   key=lambda item: item[0]):
            if (tag != int(PrePrepare.tag) or view != self.view
                    or not isinstance(message, PrePrepareHead) or not self._in_window(height)):
                continue
            slot = self._slot(height)
            body = slot.body(message.digest)
            if slot.pre_prepare is None and body is not None:
                slot.pre_prepare = message.with_block(body)

    # -- dispatch ------------------------------------------------------------------------

    def _on_message(self, message: Message, out: Output) -> None:
        reason = self._common_guard(message)
        if reason is not None:
            self.stats.count(reason)
            return
        match message:
            case PrePrepare():
                self._on_pre_prepare(message, out)
            case Prepare():
                self._on_prepare(message, out)
            case Commit():
                self._on_commit(message, out)
            case Checkpoint():
                self._on_checkpoint(message, out)
            case ViewChange():
                self._on_view_change(message, out)
            case NewView():
                self._on_new_view(message, out)
            case SyncResponse():
                self._on_sync_response(message, out)
            case SyncRequest():
                self.stats.count(Ignored.SYNC_REQUEST)
            case BlockRequest():
                self._on_block_request(message, out)
            case BlockResponse():
                self._on_block_response(message, out)

    def _common_guard(self, message: Message) -> Ignored | None:
        if message.chain_id != self.config.chain_id:
            return Ignored.WRONG_CHAIN
        if message.shard != self.config.shard:
            return Ignored.WRONG_SHARD
        if not 0 <= message.sender < self.config.n:
            return Ignored.UNKNOWN_SENDER
        if message.sender == self.id:
            return Ignored.FROM_SELF
        return None

    # -- normal case ---------------------------------------------------------------------

    def _on_propose(self, event: Propose, out: Output) -> None:
        height = self._proposal_height()
        if height is None:
            self.stats.count(Ignored.NOT_READY_TO_PROPOSE)
            return
        if len(event.txs) > self.config.block_txs_max:
            self.stats.count(Ignored.OVERSIZE_BATCH)
            return
        previous = self._link(height - 1)
        assert previous is not None
        timestamp = max(event.timestamp_ms, previous.timestamp_ms or 0)
        app_height = max(0, height - self.config.state_root_lag_blocks)
        state_root, receipts_root = self._executed[app_height]
        header = BlockHeader(
            self.config.chain_id, self.config.shard, height, previous.block_hash, self.view,
            self.id, timestamp, tx_root(event.txs), app_height, state_root, receipts_root)
        block = Block(header, event.txs)
        pre_prepare = self._sign(PrePrepare(
            self.config.chain_id, self.config.shard, self.view, height, self.id, block.hash(),
            block, b""))
        self._record_vote(pre_prepare, out)
        out.send.append(Send(None, pre_prepare))
        slot = self._slot(height)
        slot.pre_prepare, slot.linked = pre_prepare, True
        self._maybe_prepared(height, out)

    def _proposal_height(self) -> int | None:
        if self.halted is not None or self.in_view_change or not self.is_primary:
            return None
        in_view = [height for height, slot in self._slots.items()
                   if slot.pre_prepare is not None or slot.awaiting is not None]
        height = max([self.last_delivered, self.low, *in_view]) + 1
        if height > self.low + self.config.watermark_window_blocks:
            return None
        if max(0, height - self.config.state_root_lag_blocks) not in self._executed:
            return None
        if self._link(height - 1) is None:
            return None
        if (int(PrePrepare.tag), self.view, height) in self._signed:
            # We proposed this height in this view before a restart, and that proposal no
            # longer stands here: another block would be equivocation. Wait for the view
            # change instead.
            return None
        return height

    def _on_pre_prepare(self, message: PrePrepare, out: Output) -> None:
        reason = self._view_guard(message.view, message.height)
        if reason is None and message.sender != self.primary(message.view):
            reason = Ignored.NOT_PRIMARY
        if reason is None:
            slot = self._slots.get(message.height)
            if slot is not None and slot.pre_prepare is not None:
                reason = self._repeat_reason(slot.pre_prepare, message)
        if reason is None and not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        if reason is None and self._invalid_proposal(message) is not None:
            reason = Ignored.INVALID_PROPOSAL
        if reason is None and not self._may_sign(Prepare, message.view, message.height,
                                                 message.digest):
            reason = Ignored.CONFLICTS_WITH_VOTE
        if reason is not None:
            self.stats.count(reason)
            return
        self._accept_pre_prepare(message, out)

    def _invalid_proposal(self, message: PrePrepare) -> str | None:
        header = message.block.header
        why = check_pre_prepare_body(message)
        if why is not None:
            return why
        if header.view != message.view or header.proposer != message.sender:
            return "a fresh proposal names the current view and its proposer"
        if len(message.block.txs) > self.config.block_txs_max:
            return "too many transactions"
        if header.app_height != max(0, header.height - self.config.state_root_lag_blocks):
            return "wrong app height"
        known = self._executed.get(header.app_height)
        if known is not None and known != (header.state_root, header.receipts_root):
            return "state or receipts root differs from ours"
        if self._validate_block is not None:
            return self._validate_block(message.block)
        return None

    def _accept_pre_prepare(self, message: PrePrepare, out: Output) -> None:
        slot = self._slot(message.height)
        slot.pre_prepare, slot.linked = message, False
        self._maybe_link(message.height, out)

    def _maybe_link(self, height: int, out: Output) -> None:
        """Check a pre-prepared block against its predecessor; then PREPARE (backups)."""
        while True:
            slot = self._slots.get(height)
            if slot is None or slot.pre_prepare is None or slot.linked:
                return
            previous = self._link(height - 1)
            header = slot.pre_prepare.block.header
            roots = self._executed.get(header.app_height)
            # Prepare only what we can check: the link to the block before, and the app
            # roots (known once we executed ``height - L``), so that no quorum of honest
            # replicas can commit a header with wrong roots.
            if previous is None or roots is None:
                return
            if header.prev_hash != previous.block_hash or (
                    previous.timestamp_ms is not None
                    and header.timestamp_ms < previous.timestamp_ms) or \
                    roots != (header.state_root, header.receipts_root):
                self.stats.count(Ignored.INVALID_PROPOSAL)
                slot.pre_prepare = None
                return
            slot.linked = True
            if slot.pre_prepare.sender != self.id:
                self._send_prepare(slot.pre_prepare, out)
            self._maybe_prepared(height, out)
            height += 1

    def _send_prepare(self, pre_prepare: PrePrepare, out: Output) -> None:
        key = (int(Prepare.tag), pre_prepare.view, pre_prepare.height)
        prepare = self._sign(Prepare(
            self.config.chain_id, self.config.shard, pre_prepare.view, pre_prepare.height,
            self.id, pre_prepare.digest, b""))
        if key not in self._signed:
            self._record_vote(prepare, out)
        out.send.append(Send(None, prepare))
        self._slots[pre_prepare.height].prepares[self.id] = prepare

    def _on_prepare(self, message: Prepare, out: Output) -> None:
        reason = self._view_guard(message.view, message.height)
        if reason is None and message.sender == self.primary(message.view):
            reason = Ignored.FROM_PRIMARY
        if reason is None:
            reason = self._vote_seen(self._slots.get(message.height), message, "prepares")
        if reason is None and not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        if reason is not None:
            self.stats.count(reason)
            return
        self._slot(message.height).prepares[message.sender] = message
        self._maybe_prepared(message.height, out)

    def _vote_seen(self, slot: Slot | None, message: Prepare | Commit,
                   kind: str) -> Ignored | None:
        if slot is None:
            return None
        votes: dict[int, Prepare] | dict[int, Commit] = getattr(slot, kind)
        earlier = votes.get(message.sender)
        if earlier is None:
            return None
        return self._repeat_reason(earlier, message)

    def _repeat_reason(self, earlier: Message, message: Message) -> Ignored:
        """Why a second message from one sender for one slot is ignored. Only a correctly
        signed conflicting message is evidence of equivocation by its signer."""
        if earlier == message:
            return Ignored.DUPLICATE
        if not self._verify(message):
            return Ignored.BAD_SIGNATURE
        return Ignored.DUPLICATE if _vote_content(earlier) == _vote_content(message) \
            else Ignored.EQUIVOCATION

    def _maybe_prepared(self, height: int, out: Output) -> None:
        slot = self._slots.get(height)
        if slot is None or slot.pre_prepare is None or not slot.linked:
            return
        if slot.prepared is None or slot.prepared.pre_prepare.view < self.view:
            pre_prepare = slot.pre_prepare
            matching = sorted(
                (prepare for prepare in slot.prepares.values()
                 if prepare.digest == pre_prepare.digest and prepare.sender != pre_prepare.sender),
                key=lambda prepare: prepare.sender)
            if len(matching) < self.config.quorum - 1:
                return
            slot.prepared = PreparedCertificate(
                pre_prepare.head(), pre_prepare.block.header,
                tuple(matching[: self.config.quorum - 1]))
            slot.prepared_block = pre_prepare.block
        self._maybe_send_commit(height, out)

    def _maybe_send_commit(self, height: int, out: Output) -> None:
        """COMMIT for ``height`` once it is prepared and so is its predecessor."""
        while True:
            slot = self._slots.get(height)
            if (slot is None or slot.prepared is None or slot.commit_sent_view == self.view
                    or slot.prepared.pre_prepare.view != self.view):
                return
            if not self._is_committing_or_final(height - 1):
                return
            assert slot.prepared_block is not None
            out.persist.append(PreparedRecord(slot.prepared, slot.prepared_block))
            digest = slot.prepared.pre_prepare.digest
            commit = self._sign(Commit(self.config.chain_id, self.config.shard, self.view,
                                       height, self.id, digest, b""))
            out.send.append(Send(None, commit))
            slot.commits[self.id] = commit
            slot.commit_sent_view = self.view
            self._maybe_committed(height)
            height += 1

    def _is_committing_or_final(self, height: int) -> bool:
        """We sent COMMIT for ``height`` in this view, or it is final. Requiring this (not
        merely "prepared") of ``h - 1`` before COMMIT for ``h`` makes every replica that
        commits ``h`` hold prepared certificates for the whole run of heights below it, so
        a NEW-VIEW, which stops at the first height without one, keeps ``h``."""
        if height <= max(self.last_delivered, self.low):
            return True
        slot = self._slots.get(height)
        if slot is None:
            return False
        return slot.committed is not None or slot.commit_sent_view == self.view

    def _on_commit(self, message: Commit, out: Output) -> None:
        reason = self._view_guard(message.view, message.height)
        if reason in (Ignored.OUT_OF_WINDOW, Ignored.FUTURE_VIEW, Ignored.STALE_VIEW,
                      Ignored.IN_VIEW_CHANGE):
            self._note_peer_height(message)
        if reason is None:
            reason = self._vote_seen(self._slots.get(message.height), message, "commits")
        if reason is None and not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        if reason is not None:
            self.stats.count(reason)
            return
        self._raise_peer_height(message.sender, message.height)
        self._slot(message.height).commits[message.sender] = message
        self._maybe_committed(message.height)

    def _note_peer_height(self, message: Commit | Checkpoint) -> None:
        """Signed evidence of a peer's progress, used only to decide to catch up."""
        if message.height > self._peer_heights.get(message.sender, 0) and \
                message.height > self.last_delivered and self._verify(message):
            self._raise_peer_height(message.sender, message.height)

    def _raise_peer_height(self, sender: int, height: int) -> None:
        if height > self._peer_heights.get(sender, 0):
            self._peer_heights[sender] = height

    def _maybe_committed(self, height: int) -> None:
        slot = self._slots.get(height)
        if (slot is None or slot.committed is not None or slot.prepared is None
                or slot.commit_sent_view != self.view):
            return
        digest = slot.prepared.pre_prepare.digest
        matching = sorted((commit for commit in slot.commits.values()
                           if commit.digest == digest), key=lambda commit: commit.sender)
        if len(matching) < self.config.quorum:
            return
        certificate = CommitCertificate(
            self.config.chain_id, self.config.shard, self.view, height, digest,
            tuple(CommitSignature(commit.sender, commit.signature)
                  for commit in matching[: self.config.quorum]))
        assert slot.prepared_block is not None
        slot.committed = CommittedBlock(slot.prepared_block, certificate)

    def _maybe_deliver(self, out: Output) -> None:
        while True:
            slot = self._slots.get(self.last_delivered + 1)
            if slot is None or slot.committed is None:
                return
            self._deliver(slot.committed, out)

    def _deliver(self, item: CommittedBlock, out: Output) -> None:
        header = item.block.header
        assert header.height == self.last_delivered + 1
        assert header.prev_hash == self._links[self.last_delivered].block_hash, "fork"
        roots = (header.state_root, header.receipts_root)
        known = self._executed.get(header.app_height)
        if known is not None and known != roots:
            self._halt(f"height {header.height} commits app roots of height "
                       f"{header.app_height} that differ from ours", out)
            return
        if header.app_height > self.last_executed:
            self._expected_app_roots[header.app_height] = roots
        out.deliver.append(item)
        self.last_delivered = header.height
        self._links[header.height] = _Link(item.block.hash(), header.timestamp_ms)
        self.stats.blocks_delivered += 1
        self._ticks_without_progress = 0
        self._view_timeout_ticks = self.config.view_timeout_ticks

    # -- execution and checkpoints -------------------------------------------------------

    def _on_executed(self, event: Executed, out: Output) -> None:
        assert event.height == self.last_executed + 1, "executed out of order"
        assert event.height <= self.last_delivered, "executed an undelivered height"
        self.last_executed = event.height
        self._executed[event.height] = (event.state_root, event.receipts_root)
        self._check_quorum_roots(event, out)
        if self.halted is not None:
            return
        interval = self.config.checkpoint_interval_blocks
        if event.height % interval == 0 and event.height > self.low:
            checkpoint = self._sign(Checkpoint(
                self.config.chain_id, self.config.shard, self.view, event.height, self.id,
                self._links[event.height].block_hash, event.state_root, b""))
            out.send.append(Send(None, checkpoint))
            if self._in_window(event.height):
                self._checkpoints.setdefault(event.height, {})[self.id] = checkpoint
                self._maybe_stable(event.height, out)
        self._prune_executed()
        self._maybe_link(event.height + self.config.state_root_lag_blocks, out)

    def _recreate_checkpoints(self, out: Output) -> None:
        """After a restart: our CHECKPOINTs for executed heights above the low watermark
        lived only in memory; sign them again (same content) so a quorum can still form."""
        interval = self.config.checkpoint_interval_blocks
        first = (self.low // interval + 1) * interval
        for height in range(first, self.last_executed + 1, interval):
            roots, link = self._executed.get(height), self._links.get(height)
            if roots is None or link is None or not self._in_window(height):
                continue
            checkpoint = self._sign(Checkpoint(
                self.config.chain_id, self.config.shard, self.view, height, self.id,
                link.block_hash, roots[0], b""))
            self._checkpoints.setdefault(height, {})[self.id] = checkpoint
            out.send.append(Send(None, checkpoint))

    def _check_quorum_roots(self, event: Executed, out: Output) -> None:
        """Compare what we computed with what a quorum signed for this height."""
        expected = self._expected_app_roots.pop(event.height, None)
        if expected is not None and expected != (event.state_root, event.receipts_root):
            self._halt(f"our roots after height {event.height} differ from those a quorum "
                       f"committed in height {event.height + self.config.state_root_lag_blocks}",
                       out)
            return
        stable = self._expected_state_roots.pop(event.height, None)
        if stable is not None and stable != event.state_root:
            self._halt(f"our state root at height {event.height} differs from the stable "
                       "checkpoint's", out)

    def _on_checkpoint(self, message: Checkpoint, out: Output) -> None:
        window = self.config.watermark_window_blocks
        reason = None
        if message.height <= self.low:
            reason = Ignored.STALE_CHECKPOINT
        elif message.height % self.config.checkpoint_interval_blocks:
            reason = Ignored.INVALID_CHECKPOINT
        elif message.height > self.low + window:
            self._note_peer_height(message)
            reason = Ignored.OUT_OF_WINDOW
        else:
            earlier = self._checkpoints.get(message.height, {}).get(message.sender)
            if earlier is not None:
                reason = self._repeat_reason(earlier, message)
        if reason is None and not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        if reason is not None:
            self.stats.count(reason)
            return
        self._raise_peer_height(message.sender, message.height)
        self._checkpoints.setdefault(message.height, {})[message.sender] = message
        self._maybe_stable(message.height, out)

    def _maybe_stable(self, height: int, out: Output) -> None:
        groups: dict[tuple[bytes, bytes], list[Checkpoint]] = {}
        for sender in sorted(self._checkpoints.get(height, {})):
            checkpoint = self._checkpoints[height][sender]
            groups.setdefault((checkpoint.block_hash, checkpoint.state_root), []).append(
                checkpoint)
        for group in groups.values():
            if len(group) >= self.config.quorum:
                self._adopt_checkpoint(tuple(group[: self.config.quorum]), out)
                return

    def _adopt_checkpoint(self, proof: tuple[Checkpoint, ...], out: Output) -> None:
        """Move the low watermark to a quorum-proven checkpoint (§4.3)."""
        height = proof[0].height
        if height <= self.low:
            return
        link = self._links.get(height)
        if link is not None and link.block_hash != proof[0].block_hash:
            self._halt(f"a quorum checkpointed another block at height {height}", out)
            return
        mine = self._executed.get(height)
        if mine is not None and mine[0] != proof[0].state_root:
            self._halt(f"our state root at height {height} differs from the quorum's", out)
            return
        if height > self.last_executed:
            self._expected_state_roots[height] = proof[0].state_root
        out.persist.append(StableCheckpointRecord(proof))
        out.prune_records_through = height
        self.stats.checkpoints_stable += 1
        self._set_low(height, proof)

    def _set_low(self, height: int, proof: tuple[Checkpoint, ...]) -> None:
        self.low, self._low_proof, self._low_hash = height, proof, proof[0].block_hash
        for old in [h for h in self._slots if h <= height]:
            del self._slots[old]
        for old in [h for h in self._checkpoints if h <= height]:
            del self._checkpoints[old]
        self._prune_signed()
        self._prune_links()
        self._prune_executed()

    def _prune_signed(self) -> None:
        for key in [key for key in self._signed if key[2] <= self.low or key[1] < self.view]:
            del self._signed[key]

    def _recent_floor(self) -> int:
        """Below this height neither links nor app roots are needed any more."""
        window = self.config.watermark_window_blocks
        return min(self.last_executed, max(self.low, self.last_delivered - window))

    def _prune_links(self) -> None:
        floor = self._recent_floor()
        for old in [h for h in self._links if h < floor]:
            del self._links[old]

    def _prune_executed(self) -> None:
        floor = self._recent_floor() - self.config.state_root_lag_blocks
        for old in [h for h in self._executed if h < floor]:
            del self._executed[old]
        self._prune_links()

    # -- view change ---------------------------------------------------------------------

    def _on_tick(self, out: Output) -> None:
        self._ticks_without_progress += 1
        self._sync_backoff_ticks = max(0, self._sync_backoff_ticks - 1)
        retransmit_ticks = max(2, self.config.view_timeout_ticks // 4)
        if self._ticks_without_progress % retransmit_ticks == 0:
            self._new_view_resent_to.clear()
            self._bodies_served.clear()
            if not self.in_view_change:
                self._retransmit_votes(out)
                self._ask_bodies(out)
        if self._sync is not None:
            self._sync.ticks_left -= 1
            if self._sync.ticks_left <= 0:
                self._sync = None
                self._sync_rotation += 1
        if self._ticks_without_progress < self._view_timeout_ticks:
            return
        if self.in_view_change and self._view_change_votes(self.view) < self.config.quorum:
            # PBFT §4.5.2: the timer that moves on to the next view only runs once a
            # quorum wants this one; until then, resend ours (it may have been lost), so
            # that one replica alone cannot race ahead of the others.
            self._ticks_without_progress = 0
            self._send_view_change(out)
            return
        self._start_view_change(self.view + 1, out)

    def _retransmit_votes(self, out: Output) -> None:
        """No progress for a while: resend what we signed for the undelivered heights of
        this view, and our checkpoints above the low watermark. The network may have lost a vote, or delivered it before the receiver
        entered the view; with n = 3f + 1 and f silent replicas every vote counts. The
        receivers count repeats as duplicates, so this is safe and bounded by the window."""
        for height, slot in sorted(self._slots.items()):
            if height <= self.last_delivered:
                continue
            own = [slot.pre_prepare if slot.pre_prepare is not None
                   and slot.pre_prepare.sender == self.id else None,
                   slot.prepares.get(self.id), slot.commits.get(self.id)]
            for message in own:
                if message is not None and message.view == self.view:
                    out.send.append(Send(None, message))
        # Our checkpoints above the low watermark too: if they were lost, the window
        # stays full and no primary can propose past it.
        for height, by_sender in sorted(self._checkpoints.items()):
            checkpoint = by_sender.get(self.id)
            if checkpoint is not None and height > self.low:
                out.send.append(Send(None, checkpoint))

    def _view_change_votes(self, view: int) -> int:
        """Replicas that gave up every view before ``view`` (a VIEW-CHANGE for it or later)."""
        return sum(1 for vc in self._view_changes.values() if vc.view >= view)

    def _start_view_change(self, view: int, out: Output) -> None:
        assert view > self.view or (view == self.view and not self.in_view_change)
        self.view, self.in_view_change = view, True
        self.stats.view_changes += 1
        self._ticks_without_progress = 0
        self._view_timeout_ticks = min(self._view_timeout_ticks * 2,
                                       self.config.view_timeout_max_ticks)
        self._enter_view_state()
        out.persist.append(ViewRecord(view, True))
        self._send_view_change(out)
        self._maybe_new_view(out)

    def _send_view_change(self, out: Output) -> None:
        """(Re)send our VIEW-CHANGE for the view we are changing to; after a restart it is
        rebuilt from the restored prepared certificates and checkpoint."""
        assert self.in_view_change
        own = self._view_changes.get(self.id)
        if own is None or own.view != self.view:
            prepared = tuple(slot.prepared for height, slot in sorted(self._slots.items())
                             if slot.prepared is not None and height > self.low)
            own = self._sign(ViewChange(
                self.config.chain_id, self.config.shard, self.view, self.low, self.id,
                self._low_proof, prepared, b""))
            self._view_changes[self.id] = own
        out.send.append(Send(None, own))

    def _enter_view_state(self) -> None:
        for slot in self._slots.values():
            slot.reset_view_state()
        self._new_view_sent = None
        self._prune_signed()

    def _on_view_change(self, message: ViewChange, out: Output) -> None:
        reason = None
        if message.view < self.view or (message.view == self.view and not self.in_view_change):
            reason = Ignored.STALE_VIEW
            if message.view == self.view and self._new_view_sent is not None:
                self._maybe_resend_new_view(message, out)
        else:
            earlier = self._view_changes.get(message.sender)
            if earlier is not None and earlier.view >= message.view:
                reason = Ignored.DUPLICATE if earlier == message else Ignored.STALE_VIEW
        if reason is None and not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        if reason is None and self._invalid_view_change(message) is not None:
            reason = Ignored.INVALID_VIEW_CHANGE
        if reason is not None:
            self.stats.count(reason)
            return
        self._view_changes[message.sender] = message
        self._maybe_join_view_change(out)
        self._maybe_new_view(out)

    def _maybe_resend_new_view(self, message: ViewChange, out: Output) -> None:
        """A replica still asks for the view we installed: it missed our NEW-VIEW. Send it
        again, at most once per sender per retransmit period (it is up to
        ``types.new_view_bytes_max`` bytes; a replay of old VIEW-CHANGEs must not turn
        into a stream of them)."""
        assert self._new_view_sent is not None
        if message.sender in self._new_view_resent_to:
            self.stats.count(Ignored.NEW_VIEW_RESENT_RECENTLY)
            return
        if self._verify(message):
            self._new_view_resent_to.add(message.sender)
            out.send.append(Send(message.sender, self._new_view_sent))

    def _maybe_join_view_change(self, out: Output) -> None:
        """f + 1 VIEW-CHANGEs for later views: join the smallest view they vouch for."""
        later = sorted((vc.view for vc in self._view_changes.values() if vc.view > self.view),
                       reverse=True)
        if len(later) >= self.config.f + 1:
            self._start_view_change(later[self.config.f], out)

    def _invalid_view_change(self, message: ViewChange) -> str | None:
        config = self.config
        why = self._invalid_checkpoint_proof(message.height, message.checkpoint_proof)
        if why is not None:
            return why
        previous = message.height
        for certificate in message.prepared:
            pre_prepare = certificate.pre_prepare
            if not previous < pre_prepare.height <= message.height + \
                    config.watermark_window_blocks:
                return "prepared certificates must be in increasing heights inside the window"
            previous = pre_prepare.height
            if pre_prepare.view >= message.view:
                return "a prepared certificate from a view not before the new one"
            why = self._invalid_prepared_certificate(certificate)
            if why is not None:
                return why
        return None

    def _invalid_checkpoint_proof(self, height: int, proof: tuple[Checkpoint, ...]) -> str | None:
        if height == 0:
            return None if not proof else "a checkpoint proof at height 0"
        if height % self.config.checkpoint_interval_blocks:
            return "a checkpoint height that is not a multiple of the interval"
        if len(proof) < self.config.quorum or len({c.sender for c in proof}) != len(proof):
            return "a checkpoint proof needs a quorum of distinct senders"
        first = proof[0]
        for checkpoint in proof:
            if (checkpoint.chain_id, checkpoint.shard, checkpoint.height) != (
                    self.config.chain_id, self.config.shard, height):
                return "a checkpoint for another chain, shard or height"
            if (checkpoint.block_hash, checkpoint.state_root) != (first.block_hash,
                                                                  first.state_root):
                return "checkpoints in a proof disagree"
            if not self._verify(checkpoint):
                return "a bad checkpoint signature"
        return None

    def _invalid_prepared_certificate(self, certificate: PreparedCertificate) -> str | None:
        pre_prepare = certificate.pre_prepare
        if (pre_prepare.chain_id, pre_prepare.shard) != (self.config.chain_id,
                                                         self.config.shard):
            return "a certificate for another chain or shard"
        if pre_prepare.sender != self.primary(pre_prepare.view):
            return "a pre-prepare not from its view's primary"
        header = certificate.header
        if header.hash() != pre_prepare.digest or (
                header.chain_id, header.shard, header.height) != (
                pre_prepare.chain_id, pre_prepare.shard, pre_prepare.height):
            return "a pre-prepare whose block header does not match"
        if not self._verify(pre_prepare):
            return "a bad pre-prepare signature"
        senders = set()
        for prepare in certificate.prepares:
            if (prepare.chain_id, prepare.shard, prepare.view, prepare.height,
                    prepare.digest) != (pre_prepare.chain_id, pre_prepare.shard,
                                        pre_prepare.view, pre_prepare.height,
                                        pre_prepare.digest):
                return "a prepare that does not match its pre-prepare"
            if prepare.sender == pre_prepare.sender or prepare.sender in senders:
                return "prepares must come from distinct backups"
            if not 0 <= prepare.sender < self.config.n or not self._verify(prepare):
                return "a bad prepare signature"
            senders.add(prepare.sender)
        if len(senders) < self.config.quorum - 1:
            return "too few prepares"
        return None

    def _maybe_new_view(self, out: Output) -> None:
        if (not self.in_view_change or self.primary(self.view) != self.id
                or self._new_view_sent is not None):
            return
        changes = sorted((vc for vc in self._view_changes.values() if vc.view == self.view),
                         key=lambda vc: vc.sender)
        if len(changes) < self.config.quorum:
            return
        changes = changes[: self.config.quorum]
        start, _proof, headers = compute_new_view(changes,
                                                  self.config.watermark_window_blocks)
        heads = tuple(
            self._sign(PrePrepareHead(self.config.chain_id, self.config.shard, self.view,
                                      start + 1 + index, self.id, header.hash(), b""))
            for index, header in enumerate(headers))
        new_view = self._sign(NewView(self.config.chain_id, self.config.shard, self.view,
                                      start, self.id, tuple(changes), heads, b""))
        for head in heads:
            slot = self._slots.get(head.height)
            body = slot.body(head.digest) if slot is not None else None
            self._record_vote(head if body is None else head.with_block(body), out)
        out.send.append(Send(None, new_view))
        self._install_new_view(new_view, out)
        self._new_view_sent = new_view

    def _on_new_view(self, message: NewView, out: Output) -> None:
        reason = None
        if message.view < self.view or (message.view == self.view and not self.in_view_change):
            reason = Ignored.STALE_VIEW
        elif message.sender != self.primary(message.view):
            reason = Ignored.NOT_PRIMARY
        elif not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        elif self._invalid_new_view(message) is not None:
            reason = Ignored.INVALID_NEW_VIEW
        if reason is not None:
            self.stats.count(reason)
            return
        self._install_new_view(message, out)

    def _invalid_new_view(self, message: NewView) -> str | None:
        senders = {vc.sender for vc in message.view_changes}
        if len(senders) != len(message.view_changes) or len(senders) < self.config.quorum:
            return "a NEW-VIEW needs a quorum of VIEW-CHANGEs from distinct replicas"
        for view_change in message.view_changes:
            if (view_change.chain_id, view_change.shard, view_change.view) != (
                    self.config.chain_id, self.config.shard, message.view):
                return "a VIEW-CHANGE for another chain, shard or view"
            if not 0 <= view_change.sender < self.config.n or not self._verify(view_change):
                return "a bad VIEW-CHANGE signature"
            why = self._invalid_view_change(view_change)
            if why is not None:
                return why
        start, _proof, headers = compute_new_view(message.view_changes,
                                                  self.config.watermark_window_blocks)
        if message.height != start or len(message.pre_prepares) != len(headers):
            return "the re-proposals differ from those the VIEW-CHANGEs determine"
        for index, (pre_prepare, header) in enumerate(zip(message.pre_prepares, headers)):
            if (pre_prepare.chain_id, pre_prepare.shard, pre_prepare.view, pre_prepare.height,
                    pre_prepare.sender, pre_prepare.digest) != (
                    self.config.chain_id, self.config.shard, message.view, start + 1 + index,
                    message.sender, header.hash()):
                return "a re-proposal differs from the one the VIEW-CHANGEs determine"
            if not self._verify(pre_prepare):
                return "a bad re-proposal signature"
        return None

    def _install_new_view(self, message: NewView, out: Output) -> None:
        self.view, self.in_view_change = message.view, False
        self.stats.new_views += 1
        self._ticks_without_progress = 0
        self._enter_view_state()
        out.persist.append(ViewRecord(message.view, False))
        start, proof, _blocks = compute_new_view(message.view_changes,
                                                 self.config.watermark_window_blocks)
        if start > self.low:
            self._adopt_checkpoint(proof, out)
            if self.halted is not None:
                return
        for head in message.pre_prepares:
            if not self._in_window(head.height):
                continue
            if head.sender != self.id and not self._may_sign(
                    Prepare, head.view, head.height, head.digest):
                self.stats.count(Ignored.CONFLICTS_WITH_VOTE)
                continue
            slot = self._slot(head.height)
            body = slot.body(head.digest)
            if body is not None:
                slot.pre_prepare, slot.linked = head.with_block(body), False
                continue
            holders = tuple(replica for replica in body_holders(
                message.view_changes, head.height, head.digest) if replica != self.id)
            if holders:  # else only we signed for it, and we lost it: wait for the timeout
                slot.awaiting, slot.holders, slot.asks = head, holders, 0
        self._ask_bodies(out)
        for height in sorted(self._slots):
            self._maybe_link(height, out)

    # -- block bodies for re-proposals ---------------------------------------------------

    def _ask_bodies(self, out: Output) -> None:
        """Ask for every re-proposed body we still lack, each from its next holder."""
        for height, slot in sorted(self._slots.items()):
            if slot.awaiting is None:
                continue
            peer = slot.holders[slot.asks % len(slot.holders)]
            slot.asks += 1
            request = self._sign(BlockRequest(self.config.chain_id, self.config.shard,
                                              self.view, height, self.id,
                                              slot.awaiting.digest, b""))
            out.send.append(Send(peer, request))
            self.stats.body_requests += 1

    def _on_block_request(self, message: BlockRequest, out: Output) -> None:
        slot = self._slots.get(message.height)
        body = slot.body(message.digest) if slot is not None else None
        key = (message.sender, message.height, message.digest)
        reason = None
        if body is None:
            reason = Ignored.UNKNOWN_BODY
        elif key in self._bodies_served or \
                len(self._bodies_served) >= self.config.n * self.config.watermark_window_blocks:
            reason = Ignored.BODY_REQUESTS_EXCEEDED
        elif not self._verify(message):
            reason = Ignored.BAD_SIGNATURE
        if reason is not None:
            self.stats.count(reason)
            return
        assert body is not None
        self._bodies_served.add(key)
        self.stats.bodies_served += 1
        out.send.append(Send(message.sender, self._sign(BlockResponse(
            self.config.chain_id, self.config.shard, self.view, message.height, self.id,
            body, b""))))

    def _on_block_response(self, message: BlockResponse, out: Output) -> None:
        """A body proves itself by its hash: no signature check is needed."""
        slot = self._slots.get(message.height)
        if slot is None or slot.awaiting is None or self.in_view_change:
            self.stats.count(Ignored.UNSOLICITED_BODY)
            return
        pre_prepare = slot.awaiting.with_block(message.block)
        if check_pre_prepare_body(pre_prepare) is not None:
            self.stats.count(Ignored.INVALID_BODY)
            return
        slot.pre_prepare, slot.linked = pre_prepare, False
        slot.awaiting, slot.holders, slot.asks = None, (), 0
        if pre_prepare.sender == self.id:
            self._record_vote(pre_prepare, out)
        self._maybe_link(message.height, out)

    # -- catch-up ------------------------------------------------------------------------

    def _maybe_sync(self, out: Output) -> None:
        if self._sync is not None or (self._sync_backoff_ticks > 0
                                      and not self._sync_continue):
            return
        vouched = sorted(self._peer_heights.values(), reverse=True)
        target = vouched[self.config.f] if len(vouched) > self.config.f else 0
        behind = self.low > self.last_delivered
        stalled = (target > self.last_delivered
                   and self._ticks_without_progress >= self.config.sync_stall_ticks)
        far = target > self.low + self.config.watermark_window_blocks
        more = self._sync_continue and target > self.last_delivered
        self._sync_continue = False
        if not (behind or stalled or far or more):
            return
        peers = sorted(peer for peer, height in self._peer_heights.items()
                       if height > self.last_delivered) or \
            [peer for peer in range(self.config.n) if peer != self.id]
        if not peers:
            return
        peer = peers[self._sync_rotation % len(peers)]
        count = self.config.sync_blocks_max
        request = self._sign(SyncRequest(self.config.chain_id, self.config.shard, self.view,
                                         self.last_delivered + 1, self.id, count, b""))
        out.send.append(Send(peer, request))
        self.stats.sync_requests += 1
        self._sync = _SyncState(peer, self.last_delivered + 1, count,
                                self.config.sync_timeout_ticks)

    def _on_sync_response(self, message: SyncResponse, out: Output) -> None:
        sync = self._sync
        if sync is None or message.sender != sync.peer or message.height != sync.from_height:
            self.stats.count(Ignored.UNSOLICITED_SYNC)
            return
        if not self._verify(message) or len(message.blocks) > sync.count:
            self.stats.count(Ignored.INVALID_SYNC)
            return
        self._sync = None
        delivered = 0
        for item in message.blocks:
            why = self._invalid_synced_block(item)
            if why is not None:
                self.stats.count(Ignored.INVALID_SYNC)
                break
            self._deliver_synced(item, out)
            if self.halted is not None:
                return
            delivered += 1
        if delivered == 0:
            self._sync_rotation += 1
        # Progress means there may be more: ask again at once (an answer may hold fewer
        # blocks than asked for, cut by the responder's byte budget). Otherwise wait a
        # sync timeout, so peers that cannot serve us are not asked in a loop (PBFT §6.2).
        self._sync_continue = delivered > 0
        if not self._sync_continue:
            self._sync_backoff_ticks = self.config.sync_timeout_ticks
        proof = message.checkpoint_proof
        if proof and proof[0].height > self.low and \
                self._invalid_checkpoint_proof(proof[0].height, proof) is None:
            self._adopt_checkpoint(proof, out)

    def _invalid_synced_block(self, item: CommittedBlock) -> str | None:
        header, certificate = item.block.header, item.certificate
        height = self.last_delivered + 1
        if (header.chain_id, header.shard, header.height) != (self.config.chain_id,
                                                              self.config.shard, height):
            return "not the next block"
        if header.prev_hash != self._links[self.last_delivered].block_hash:
            return "does not chain onto our last block"
        if (certificate.chain_id, certificate.shard, certificate.height,
                certificate.digest) != (self.config.chain_id, self.config.shard, height,
                                        item.block.hash()):
            return "certificate for another block"
        if tx_root(item.block.txs) != header.tx_root:
            return "tx root does not match"
        return certificate.verify(self.config.validators, self.config.quorum)

    def _deliver_synced(self, item: CommittedBlock, out: Output) -> None:
        self._deliver(item, out)
        if self.halted is not None:
            return
        self.stats.blocks_synced += 1
        view = item.certificate.view
        # A certificate of a view proves a quorum installed it: join it if it is later than
        # ours, or if it is the one we are changing to (we missed its NEW-VIEW); never go
        # back to a view before one we voted to leave.
        if view > self.view or (view == self.view and self.in_view_change):
            self.view, self.in_view_change = view, False
            self._ticks_without_progress = 0
            self._enter_view_state()
            out.persist.append(ViewRecord(view, False))
        slot = self._slots.get(item.block.header.height)
        if slot is not None:
            slot.committed = item

    # -- helpers -------------------------------------------------------------------------

    def _view_guard(self, view: int, height: int) -> Ignored | None:
        if view < self.view:
            return Ignored.STALE_VIEW
        if view > self.view:
            return Ignored.FUTURE_VIEW
        if self.in_view_change:
            return Ignored.IN_VIEW_CHANGE
        if not self._in_window(height):
            return Ignored.OUT_OF_WINDOW
        return None

    def _in_window(self, height: int) -> bool:
        return self.low < height <= self.low + self.config.watermark_window_blocks

    def _slot(self, height: int) -> Slot:
        assert self._in_window(height), (height, self.low)
        slot = self._slots.get(height)
        if slot is None:
            slot = self._slots[height] = Slot(height)
        return slot

    def _link(self, height: int) -> _Link | None:
        """The block this replica builds on at ``height``, if it knows it."""
        if height <= self.last_delivered:
            return self._links.get(height)
        slot = self._slots.get(height)
        if slot is not None and slot.pre_prepare is not None and slot.linked:
            header = slot.pre_prepare.block.header
            return _Link(slot.pre_prepare.digest, header.timestamp_ms)
        if height == self.low:
            return _Link(self._low_hash, None)
        return None

    def _sign(self, message: Message) -> Message:  # type: ignore[type-var]
        signed = sign_message(message, self._signer)
        return signed

    def _may_sign(self, kind: type, view: int, height: int, digest: bytes) -> bool:
        earlier = self._signed.get((int(kind.tag), view, height))  # type: ignore[attr-defined]
        return earlier is None or earlier.digest == digest

    def _record_vote(self, message: PrePrepare | Prepare, out: Output) -> None:
        key = (int(message.tag), message.view, message.height)
        earlier = self._signed.get(key)
        assert earlier is None or earlier.digest == message.digest, "equivocation"
        self._signed[key] = message
        out.persist.append(VoteRecord(message))

    def _verify(self, message: Message) -> bool:
        """Signature check with a bounded cache keyed by the hash of what was signed."""
        if not 0 <= message.sender < self.config.n:
            return False
        signing_bytes = message.signing_bytes()
        key = codec.digest(signing_bytes) + message.signature
        if key in self._verified:
            return True
        if not verify_signature(self.config.validators[message.sender], signing_bytes,
                                message.signature):
            return False
        if len(self._verified) >= verified_cache_entries_max:
            self._verified.popitem(last=False)  # the oldest
        self._verified[key] = None
        return True

    def _halt(self, reason: str, out: Output) -> None:
        self.halted = reason
        out.halted = reason


__all__ = ["Ignored", "Replica", "ReplicaConfig", "ReplicaStats", "compute_new_view"]
