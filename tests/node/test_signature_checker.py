"""The node's signature checker: each client signature checked once, however it arrives."""

from __future__ import annotations

import dataclasses

import trio
import trio.testing

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
    assert checker.check_now(txs[0]) and checker.checks == 4  # remembered: no new check


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


async def test_a_forged_tx_is_remembered_so_a_replay_costs_no_check() -> None:
    """#12 point 5: a replayed proposal full of bad signatures must cost nothing."""
    forged = dataclasses.replace(_txs(1)[0], nonce=7)
    checker = SignatureChecker(entries_max=100)
    assert await checker.check([forged]) == [False]
    assert await checker.check([forged]) == [False]
    assert not checker.check_now(forged)
    assert checker.checks == 1
    assert forged.hash() in checker.rejected


async def test_a_proposal_check_stops_at_the_first_bad_signature() -> None:
    txs = _txs(50)
    forged = dataclasses.replace(txs[0], nonce=99)
    checker = SignatureChecker(entries_max=100)
    assert await checker.check([forged, *txs], stop_at_first_bad=True) == [False] * 51
    assert checker.checks == 1
    # Once a tx is known bad, a proposal carrying it costs no check at all.
    assert not all(await checker.check([*txs, forged], stop_at_first_bad=True))
    assert checker.checks == 1


async def test_txs_a_stopped_check_did_not_reach_are_checked_by_a_task_waiting_on_them() -> None:
    """Gossip waits on txs a proposal's check holds; that check stops at a bad tx; the
    gossip task must check the rest itself rather than report them bad."""
    txs = _txs(20)
    forged = dataclasses.replace(txs[0], nonce=99)
    checker = SignatureChecker(entries_max=100, threads=1)
    results: dict[str, list[bool]] = {}

    async def check(name: str, batch: list, stop: bool) -> None:
        results[name] = await checker.check(batch, stop_at_first_bad=stop)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(check, "proposal", [forged, *txs], True)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(check, "gossip", txs, False)
    assert results["gossip"] == [True] * 20
    assert results["proposal"] == [False] * 21
    assert checker.checks == 21


async def test_the_bad_signature_memory_is_bounded() -> None:
    forged = [dataclasses.replace(tx, nonce=1000 + tx.nonce) for tx in _txs(5)]
    checker = SignatureChecker(entries_max=3)
    assert await checker.check(forged) == [False] * 5
    assert len(checker.rejected) == 3


def test_the_valid_cache_forgets_its_oldest_entries_first_and_stays_bounded() -> None:
    from node.node import VerifiedCache

    cache = VerifiedCache(entries_max=3)
    for index in range(5):
        cache.add(bytes([index]) * 32)
    assert len(cache) == 3
    assert [bytes([index]) * 32 in cache for index in range(5)] == [False, False, True, True,
                                                                    True]
