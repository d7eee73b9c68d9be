"""The last-signed record: what this validator signed, kept apart from the store, so that
no store damage or reset can make it sign twice (DESIGN.md, "Never sign twice").

What it holds, per shard and per kind of vote (``pre_prepare``, ``prepare``, ``commit``):
the digest signed at each ``(height, view)`` for the last ``entries_per_kind_max`` such
keys, and a *floor*: the highest key ever evicted. The rule, checked before a signed vote
leaves the node (:meth:`LastSignedRecord.check_and_record`):

* a key already recorded may be signed again only with the same digest (a retransmission);
* a key at or below the floor is refused (it may have been signed, with any digest);
* any other key is recorded, durably, before the vote is sent (one fsynced write per
  shard and batch of votes, after the WAL's).

Why that is safe: every key ever signed is either still recorded (then the digest is
compared) or was evicted, and eviction only drops keys <= the floor, all of which are
refused. The floor only grows. ``agora node reset-state`` deletes the store and keeps this
record, so after a reset the node still cannot sign a second digest for a (view, height)
it voted on, whatever peers send it (CometBFT keeps ``priv_validator_state.json`` across
``reset-state`` for the same reason).

Files: one per shard, ``HOME/last_signed/shard-<n>.bin``: a 32-byte SHA-256 of the payload,
then the canonical msgpack payload. Written to a temporary file, fsynced, renamed over the
old one, and the directory fsynced, so a crash leaves the old or the new record, never a
torn one. A record whose checksum fails is corrupt: the node refuses to start (it cannot
know what it signed), and the operator must not delete it to get going again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import msgpack

from consensus.errors import StorageCorruption

record_version = 1
entries_per_kind_max = 256
checksum_bytes = 32
kinds = ("pre_prepare", "prepare", "commit")
directory_name = "last_signed"


class Equivocation(Exception):
    """Signing this would contradict something this validator already signed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Vote:
    shard: int
    view: int
    height: int
    digest: bytes
    kind: str


class ShardRecord:
    """One shard's signed keys per kind, and the floor below which nothing is signed."""

    def __init__(self, entries_max: int = entries_per_kind_max) -> None:
        self.entries_max = entries_max
        self.entries: dict[str, dict[tuple[int, int], bytes]] = {kind: {} for kind in kinds}
        self.floors: dict[str, tuple[int, int]] = {kind: (-1, -1) for kind in kinds}

    def refusal(self, vote: Vote) -> str | None:
        """Why ``vote`` must not be signed, or None."""
        key = (vote.height, vote.view)
        known = self.entries[vote.kind].get(key)
        if known is not None:
            if known != vote.digest:
                return (f"shard {vote.shard}: already signed {vote.kind} {known.hex()[:16]} at "
                        f"view {vote.view} height {vote.height}, refusing "
                        f"{vote.digest.hex()[:16]}")
            return None
        if key <= self.floors[vote.kind]:
            return (f"shard {vote.shard}: {vote.kind} at view {vote.view} height {vote.height} "
                    f"is at or below the last-signed floor {self.floors[vote.kind]} "
                    "(height, view): it may have been signed before")
        return None

    def record(self, vote: Vote) -> bool:
        """Remember ``vote`` (already checked); True if the record changed."""
        entries = self.entries[vote.kind]
        key = (vote.height, vote.view)
        if key in entries:
            return False
        entries[key] = vote.digest
        while len(entries) > self.entries_max:
            lowest = min(entries)
            del entries[lowest]
            self.floors[vote.kind] = max(self.floors[vote.kind], lowest)
        return True

    def encode(self) -> bytes:
        payload = [record_version, [
            [kind, list(self.floors[kind]),
             [[height, view, digest]
              for (height, view), digest in sorted(self.entries[kind].items())]]
            for kind in kinds]]
        return msgpack.packb(payload, use_bin_type=True)

    @classmethod
    def decode(cls, payload: bytes, where: str, entries_max: int) -> ShardRecord:
        try:
            version, body = msgpack.unpackb(payload, raw=False)
            assert version == record_version, f"record version {version}"
            record = cls(entries_max)
            for kind, floor, entries in body:
                assert kind in kinds, f"unknown kind {kind!r}"
                record.floors[kind] = (int(floor[0]), int(floor[1]))
                record.entries[kind] = {(int(h), int(v)): bytes(d) for h, v, d in entries}
            return record
        except (ValueError, TypeError, AssertionError, msgpack.UnpackException) as error:
            raise StorageCorruption(f"{where}: last-signed record unreadable: {error}") from None


class LastSignedRecord:
    """The record of every shard this node hosts, in ``directory``."""

    def __init__(self, directory: Path | str,
                 entries_max: int = entries_per_kind_max) -> None:
        self.directory = Path(directory)
        # Keys kept per shard and kind before the floor rises; at least two watermark
        # windows, so a view change never re-signs below the floor (only liveness would
        # suffer if it did: refusing is always safe).
        self.entries_max = entries_max
        self._shards: dict[int, ShardRecord] = {}
        self._dirty: set[int] = set()

    @classmethod
    def open(cls, directory: Path | str, shards: Iterable[int],
             entries_max: int = entries_per_kind_max) -> LastSignedRecord:
        """Load (verifying checksums) or start the record of ``shards``."""
        record = cls(directory, entries_max)
        record.directory.mkdir(parents=True, exist_ok=True)
        for shard in shards:
            record._shards[shard] = record._load(shard)
        return record

    def path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard}.bin"

    def admit(self, votes: Iterable[Vote]) -> list[str]:
        """Why ``votes`` must not be signed (nothing recorded then), or [] after recording
        them in memory; :meth:`persist` makes that durable before they are sent."""
        votes = list(votes)
        refusals = []
        for vote in votes:
            reason = self._shards[vote.shard].refusal(vote)
            if reason is not None:
                refusals.append(reason)
        if refusals:
            return refusals
        for vote in votes:
            if self._shards[vote.shard].record(vote):
                self._dirty.add(vote.shard)
        return []

    def is_dirty(self, shard: int) -> bool:
        return shard in self._dirty

    def persist(self, shard: int | None = None) -> None:
        """Write (fsync, rename, fsync the directory) ``shard``'s record, or every shard's,
        if it changed since its last write. Safe from a worker thread while other shards
        admit votes: each shard's file is written only by its own replica task."""
        for changed in sorted(self._dirty) if shard is None else [shard]:
            if changed in self._dirty:
                self._dirty.discard(changed)
                self._write(changed)

    def check_and_record(self, shard: int, view: int, height: int, digest: bytes,
                         kind: str) -> None:
        """Raise Equivocation if signing this would contradict the record; else record it
        durably (fsynced) before returning."""
        refusals = self.admit([Vote(shard, view, height, digest, kind)])
        if refusals:
            raise Equivocation(refusals[0])
        self.persist()

    # -- files ---------------------------------------------------------------------------

    def _load(self, shard: int) -> ShardRecord:
        path = self.path(shard)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return ShardRecord(self.entries_max)
        checksum, payload = raw[:checksum_bytes], raw[checksum_bytes:]
        if len(raw) < checksum_bytes or hashlib.sha256(payload).digest() != checksum:
            raise StorageCorruption(f"{path}: last-signed record fails its checksum; the node "
                                    "cannot know what it signed and will not start")
        return ShardRecord.decode(payload, str(path), self.entries_max)

    def _write(self, shard: int) -> None:
        payload = self._shards[shard].encode()
        path = self.path(shard)
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(hashlib.sha256(payload).digest() + payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def votes_of(message: object, my_index: int) -> list[Vote]:
    """The votes this node signs in ``message`` (its own PRE-PREPARE, PREPARE, COMMIT, and
    the PRE-PREPAREs of a NEW-VIEW it sends); other messages carry none."""
    from consensus.types import Commit, NewView, PrePrepare, Prepare

    if isinstance(message, NewView):
        return [vote for item in message.pre_prepares for vote in votes_of(item, my_index)]
    kind = {PrePrepare: "pre_prepare", Prepare: "prepare", Commit: "commit"}.get(
        type(message))
    if kind is None or getattr(message, "sender", None) != my_index:
        return []
    assert isinstance(message, (PrePrepare, Prepare, Commit))
    return [Vote(message.shard, message.view, message.height, message.digest, kind)]
