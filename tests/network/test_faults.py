"""The fault-injection stream itself, over trio's in-memory streams."""

from __future__ import annotations

import trio
import trio.testing

from network.errors import LinkClosed
from network.faults import FaultInjector, FaultKind, FaultyStream, FrameFault, RandomFaults
from network.framing import RecordReader, encode_record

RECORDS = [encode_record(bytes([index]) * (index + 1)) for index in range(5)]


async def _send_and_collect(faulty: FaultyStream, receiver: trio.abc.Stream) -> list[bytes]:
    # Written in awkward pieces: records must be reassembled before faults apply.
    data = b"".join(RECORDS)
    for start in range(0, len(data), 3):
        await faulty.send_all(data[start : start + 3])
    await faulty.aclose()
    reader = RecordReader(receiver)
    bodies: list[bytes] = []
    with trio.fail_after(5):
        while True:
            try:
                _, body = await reader.receive_record(1024)
            except LinkClosed:  # the end of stream ends the loop
                return bodies
            bodies.append(body)


async def _run(faults: list[FrameFault]) -> tuple[list[bytes], FaultyStream]:
    sender, receiver = trio.testing.memory_stream_pair()
    faulty = FaultyStream(sender, faults)
    return await _send_and_collect(faulty, receiver), faulty


def _body(index: int) -> bytes:
    return bytes([index]) * (index + 1)


async def test_records_pass_through_unchanged_without_faults() -> None:
    bodies, _ = await _run([])
    assert bodies == [_body(index) for index in range(5)]


async def test_drop_duplicate_and_reorder_rearrange_records() -> None:
    bodies, faulty = await _run(
        [
            FrameFault(FaultKind.DROP, 1),
            FrameFault(FaultKind.DUPLICATE, 2),
            FrameFault(FaultKind.REORDER, 3),
        ]
    )
    assert bodies == [_body(0), _body(2), _body(2), _body(4), _body(3)]
    assert [fault.kind for fault in faulty.applied] == [
        FaultKind.DROP,
        FaultKind.DUPLICATE,
        FaultKind.REORDER,
    ]


async def test_tamper_flips_one_body_byte_and_delay_waits(autojump_clock: object) -> None:
    started = trio.current_time()
    bodies, _ = await _run(
        [FrameFault(FaultKind.TAMPER, 4, tamper_body_offset=0), FrameFault(FaultKind.DELAY, 1, 7.0)]
    )
    assert bodies[4] == bytes([4 ^ 0x01]) + _body(4)[1:]
    assert bodies[:4] == [_body(index) for index in range(4)]
    assert trio.current_time() - started >= 7.0


async def test_random_faults_are_reproducible_from_the_seed() -> None:
    def injector() -> FaultInjector:
        plan = RandomFaults(seed=7, drop_probability=0.3, duplicate_probability=0.3)
        return FaultInjector(random_faults=plan, streams_to_fault=1)

    results = []
    for _ in range(2):
        wrap = injector()
        sender, receiver = trio.testing.memory_stream_pair()
        faulty = wrap(sender, None)
        assert isinstance(faulty, FaultyStream)
        assert wrap(sender, None) is sender  # only the first stream is faulted
        results.append(await _send_and_collect(faulty, receiver))
    assert results[0] == results[1]
    assert results[0][:2] == [_body(0), _body(1)]  # the handshake records are spared
