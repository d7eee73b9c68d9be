"""Where a subscription resumes after a reconnect: never past an event it has not yet
yielded, and it skips what it already yielded."""

from __future__ import annotations

from agora_sdk.client import _Resume
from agora_sdk.types import Event

STATUS = {"shard_count": 2, "shards": [{"shard": 0, "height": 40}, {"shard": 1, "height": 9}]}


def _event(shard: int, height: int, tx: int = 0) -> Event:
    return Event(b"", "Transfer", [], shard, height, tx, 0, b"\x00" * 32)


def test_live_only_is_pinned_to_the_next_height_of_the_subscribed_shard() -> None:
    one = _Resume(None, 1, None)
    one.resolve(STATUS)
    assert one.from_height() == 10
    every = _Resume(None, None, None)
    every.resolve(STATUS)
    assert every.from_height() == 10  # the lowest next height over the shards


def test_a_single_shard_resumes_from_its_last_height_and_skips_what_it_saw() -> None:
    resume = _Resume(b"\x01" * 32, None, 3)
    resume.resolve(STATUS)
    assert resume.from_height() == 3
    assert resume.fresh(_event(0, 5)) and resume.fresh(_event(0, 7))
    assert resume.from_height() == 7
    assert not resume.fresh(_event(0, 7)) and not resume.fresh(_event(0, 5))
    assert resume.fresh(_event(0, 7, tx=1))


def test_several_shards_resume_from_the_start_until_every_shard_was_seen() -> None:
    resume = _Resume(None, None, 2)
    resume.resolve(STATUS)
    assert resume.fresh(_event(0, 30))
    assert resume.from_height() == 2  # shard 1 may still have events from height 2 on
    assert resume.fresh(_event(1, 8))
    assert resume.from_height() == 8
    assert resume.fresh(_event(1, 8, tx=1)) and not resume.fresh(_event(0, 30))
