"""The last-signed record (node/last_signed.py): never sign two digests for one
(view, height), across restarts and resets (#18 point 6, DESIGN.md "Never sign twice")."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.errors import StorageCorruption
from node.last_signed import Equivocation, LastSignedRecord, Vote, votes_of

first, second = b"\x01" * 32, b"\x02" * 32


def test_a_second_digest_at_the_same_view_and_height_is_refused_after_a_reopen(
        tmp_path: Path) -> None:
    record = LastSignedRecord.open(tmp_path, [0, 1])
    record.check_and_record(0, 2, 7, first, "prepare")
    record.check_and_record(0, 2, 7, first, "prepare")  # a retransmission: fine
    reopened = LastSignedRecord.open(tmp_path, [0, 1])
    with pytest.raises(Equivocation, match="already signed prepare"):
        reopened.check_and_record(0, 2, 7, second, "prepare")
    reopened.check_and_record(0, 3, 7, second, "prepare")  # a later view: a new vote
    reopened.check_and_record(0, 2, 7, second, "commit")  # kinds are separate
    reopened.check_and_record(1, 2, 7, second, "prepare")  # so are shards


def test_evicted_keys_become_a_floor_below_which_nothing_is_signed(tmp_path: Path) -> None:
    record = LastSignedRecord.open(tmp_path, [0], entries_max=3)
    for height in range(1, 6):
        record.check_and_record(0, 0, height, first, "commit")
    with pytest.raises(Equivocation, match="floor"):
        record.check_and_record(0, 0, 2, first, "commit")  # evicted: cannot know
    record.check_and_record(0, 0, 5, first, "commit")
    record.check_and_record(0, 1, 3, second, "commit")  # (height 3, view 1) > floor (2, 0)
    reopened = LastSignedRecord.open(tmp_path, [0], entries_max=3)
    assert reopened.admit([Vote(0, 0, 1, first, "commit")])  # the floor was persisted


def test_a_damaged_record_refuses_to_load(tmp_path: Path) -> None:
    record = LastSignedRecord.open(tmp_path, [0])
    record.check_and_record(0, 0, 1, first, "pre_prepare")
    path = record.path(0)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageCorruption, match="checksum"):
        LastSignedRecord.open(tmp_path, [0])


def test_only_this_nodes_votes_are_recorded() -> None:
    from consensus.types import Prepare, Checkpoint

    mine = Prepare("c", 0, 1, 4, 2, first, b"")
    theirs = Prepare("c", 0, 1, 4, 3, first, b"")
    assert votes_of(mine, 2) == [Vote(0, 1, 4, first, "prepare")]
    assert votes_of(theirs, 2) == []
    assert votes_of(Checkpoint("c", 0, 1, 4, 2, first, first, b""), 2) == []
