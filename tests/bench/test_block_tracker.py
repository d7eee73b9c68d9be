"""The bench's block tracker sees every block once, in order, and asks the node for few
heights when it is caught up."""

from __future__ import annotations

from typing import Any

from bench.harness import BlockTracker, LoadState


class ScriptedNode:
    """Answers agora_getBlock from a list of finalized heights (a unit-test stand-in
    for the node's JSON-RPC); records how many heights each poll asked for."""

    def __init__(self, shards: int) -> None:
        self.tips = [0] * shards
        self.asked: list[int] = []

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        self.asked.append(len(calls))
        replies = []
        for method, (shard, height, full) in calls:
            assert method == "agora_getBlock" and full is False
            block = None
            if 1 <= height <= self.tips[shard]:
                block = {"height": height, "txs": [bytes([shard, height]).hex() * 16],
                         "timestamp_ms": height, "view": 0}
            replies.append({"id": 0, "result": block})
        return replies

    def close(self) -> None:
        return None


def _tracker(shards: int) -> tuple[BlockTracker, ScriptedNode, LoadState]:
    state = LoadState(txs=[])
    tracker = BlockTracker(state, "http://127.0.0.1:9", [1] * shards, 0.05, 30.0)
    tracker.rpc.close()
    node = ScriptedNode(shards)
    tracker.rpc = node  # type: ignore[assignment]
    return tracker, node, state


def _drain(tracker: BlockTracker) -> None:
    for _ in range(100):
        if not tracker.poll_once():
            return
    raise AssertionError("the tracker never caught up")


def test_caught_up_polls_ask_for_two_heights_and_a_backlog_is_fetched_in_growing_steps(
        ) -> None:
    tracker, node, state = _tracker(shards=1)
    _drain(tracker)
    assert node.asked == [2]  # nothing yet: two heights asked
    node.tips[0] = 1
    _drain(tracker)
    assert node.asked[-1] == 2 and [block.height for block in state.blocks] == [1]
    node.tips[0] = 40  # a backlog of 39 blocks
    node.asked.clear()
    _drain(tracker)
    assert node.asked == [2, 4, 8, 16, 16]
    _drain(tracker)
    assert node.asked[-1] == 2  # back to two once caught up
    assert [block.height for block in state.blocks] == list(range(1, 41))


def test_every_shard_is_followed_in_order_without_gaps_or_repeats() -> None:
    tracker, node, state = _tracker(shards=3)
    for step in range(1, 30):
        node.tips = [step, step // 2, 3 * step]
        _drain(tracker)
    for shard, tip in enumerate(node.tips):
        heights = [block.height for block in state.blocks if block.shard == shard]
        assert heights == list(range(1, tip + 1))
