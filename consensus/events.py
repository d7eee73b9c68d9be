"""What goes into a replica (events), what comes out (Output), and what it persists.

The shell's contract, in the order it must act on an :class:`Output` (etcd raft's
``Ready``):

1. ``persist``: write every record durably (fsync) **before** anything else. These are
   the votes the replica signed; a restart restores them, so a replica can never sign two
   different digests for one (view, height), nor forget a prepared certificate it sent
   a COMMIT for.
2. ``send``: hand the messages to the network (``to is None`` means every other replica).
3. ``deliver``: committed blocks, strictly in height order, each with its certificate:
   execute them, store them (finalize), then step ``Executed`` back in.
4. ``prune_records_through``: records for heights at or below it may be deleted (the
   newest ``StableCheckpointRecord`` must be kept).
5. ``halted``: the replica stopped (a determinism failure); say so loudly, keep no votes.

``proposal_wanted`` tells the shell that this replica is the primary and may propose the
given height now: answer with a :class:`Propose` event when a batch is ready (or empty
after the block interval).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from consensus.types import (
    Block,
    Checkpoint,
    CommittedBlock,
    Message,
    PreparedCertificate,
    PrePrepare,
    PrePrepareHead,
    Prepare,
    Transaction,
)

# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A decoded message from the network (its signature not yet checked)."""

    message: Message


@dataclass(frozen=True, slots=True)
class Tick:
    """One logical tick of time; every timeout is counted in ticks."""


@dataclass(frozen=True, slots=True)
class Propose:
    """A batch for the primary to propose at ``proposal_wanted``'s height."""

    txs: tuple[Transaction, ...]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Executed:
    """The shell executed and finalized ``height``; these are its results."""

    height: int
    state_root: bytes
    receipts_root: bytes


Event: TypeAlias = MessageReceived | Tick | Propose | Executed

# -- persistent records --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoteRecord:
    """A PRE-PREPARE or PREPARE this replica signed (a re-proposal whose body it does not
    hold yet is recorded by its head: the signature covers just that)."""

    message: PrePrepare | Prepare | PrePrepareHead


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A prepared certificate and its block, persisted before this replica sends its
    COMMIT (the certificate holds only the digest; a NEW-VIEW may need the body)."""

    certificate: PreparedCertificate
    block: Block


@dataclass(frozen=True, slots=True)
class ViewRecord:
    """The replica moved to ``view`` (in a view change to it, or running in it)."""

    view: int
    in_view_change: bool


@dataclass(frozen=True, slots=True)
class StableCheckpointRecord:
    """A quorum-proven checkpoint: the low watermark and its proof."""

    proof: tuple[Checkpoint, ...]


Record: TypeAlias = VoteRecord | PreparedRecord | ViewRecord | StableCheckpointRecord


# -- output --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    to: int | None  # None: broadcast to every other replica
    message: Message


@dataclass(slots=True)
class Output:
    persist: list[Record] = field(default_factory=list)
    send: list[Send] = field(default_factory=list)
    deliver: list[CommittedBlock] = field(default_factory=list)
    prune_records_through: int | None = None
    halted: str | None = None
    proposal_wanted: int | None = None

    def is_empty(self) -> bool:
        return not (self.persist or self.send or self.deliver or self.halted
                    or self.prune_records_through is not None)


# -- recovery ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutedRoot:
    height: int
    state_root: bytes
    receipts_root: bytes


@dataclass(frozen=True, slots=True)
class RecoveredState:
    """What a restarted replica is given: its durable records, and from the block store the
    finalized chain tip with the execution results of the last heights."""

    records: tuple[Record, ...] = ()
    finalized_height: int = 0
    finalized_hash: bytes = b"\x00" * 32
    finalized_timestamp_ms: int = 0
    executed: tuple[ExecutedRoot, ...] = ()
    # Recent finalized blocks below the tip, so re-proposals of those heights can be
    # checked against our chain: (height, block hash, timestamp_ms).
    recent_blocks: tuple[tuple[int, bytes, int], ...] = ()
