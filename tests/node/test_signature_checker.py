"""The node's signature checker: each client signature checked once, however it arrives."""

from __future__ import annotations

import dataclasses

import trio

from node.node import SignatureChecker
from tests.node.txs import make_tx, signer


def _txs(count: int) -> list:
    return [make_tx(signer(1), nonce=nonce) for nonce in range(count)]


async def test_valid_and_forged_signatures_are_told_apart_in_order() -> None:
    good = _txs(3)
    forged = dataclasses.replace(good[1], nonce=99)  # signature of another tx
    checker = SignatureChecker(entries_max=100)
    assert await checker.check([good[0], forged, good[2]]) == [True, False, True]
    assert good[0].hash() in checker.valid and forged.hash() not in checker.valid
    assert checker.checks == 3


async def test_a_tx_checked_once_is_not_checked_again() -> None:
    txs = _txs(4)
    checker = SignatureChecker(entries_max=100)
    await checker.check(txs[:2])
    assert await checker.check(txs) == [True] * 4
    assert checker.checks == 4
    assert checker.check_now(txs[0]) and checker.checks == 5  # an explicit check counts


async def test_overlapping_checks_in_two_tasks_check_each_tx_once() -> None:
    """A gossip batch and a proposal carrying the same txs, checked at the same time."""
    txs = _txs(40)
    checker = SignatureChecker(entries_max=100)
    results: dict[str, list[bool]] = {}

    async def check(name: str, batch: list) -> None:
        results[name] = await checker.check(batch)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(check, "gossip", txs[:30])
        nursery.start_soon(check, "proposal", txs[10:] + txs[10:12])  # and a repeat
    assert results == {"gossip": [True] * 30, "proposal": [True] * 32}
    assert checker.checks == 40


async def test_a_forged_tx_is_not_remembered_and_fails_every_time() -> None:
    forged = dataclasses.replace(_txs(1)[0], nonce=7)
    checker = SignatureChecker(entries_max=100)
    assert await checker.check([forged]) == [False]
    assert await checker.check([forged]) == [False]
    assert not checker.check_now(forged)
    assert checker.checks == 3


def test_the_valid_cache_forgets_its_oldest_entries_first_and_stays_bounded() -> None:
    from node.node import VerifiedCache

    cache = VerifiedCache(entries_max=3)
    for index in range(5):
        cache.add(bytes([index]) * 32)
    assert len(cache) == 3
    assert [bytes([index]) * 32 in cache for index in range(5)] == [False, False, True, True,
                                                                    True]
