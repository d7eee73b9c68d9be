"""Fault injection for links: tamper with, drop, duplicate, reorder or delay records.

:class:`FaultyStream` wraps a trio stream and applies faults to the *records* it sends
(record 0 is the cleartext hello, record 1 the encrypted AUTH frame, records 2.. the
frames after the handshake; see ``network/framing.py``). Receiving passes through
untouched, so wrapping one end of a link faults one direction.

:class:`FaultInjector` is a ``PeerManager`` ``stream_wrapper``: it wraps the first
``streams_to_fault`` streams of a manager (inbound and outbound alike) with the same
faults, and later streams pass through, so a test can watch a link fail, be counted
and then reconnect cleanly. ``applied`` records each fault as it happens, so tests wait
on it instead of sleeping.

Faults are for tests and chaos runs only; nothing in production constructs them.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections.abc import Iterable
from typing import assert_never

import trio

from network.framing import LENGTH_PREFIX_BYTES


class FaultKind(enum.Enum):
    DROP = "drop"  # never sent
    DUPLICATE = "duplicate"  # sent twice in a row (a replay of the frame just sent)
    TAMPER = "tamper"  # one byte of the body flipped
    REORDER = "reorder"  # held back, sent after the next record (lost if none follows)
    DELAY = "delay"  # sent after delay_seconds (the writer is held meanwhile)


@dataclasses.dataclass(frozen=True, slots=True)
class FrameFault:
    """One fault on the record with index ``record_index`` of a stream."""

    kind: FaultKind
    record_index: int
    delay_seconds: float = 0.0
    # Byte of the body to flip for TAMPER; negative counts from the end (default: in the
    # AEAD tag, so the length prefix stays valid and only authentication fails).
    tamper_body_offset: int = -1


@dataclasses.dataclass(frozen=True, slots=True)
class RandomFaults:
    """Seeded random faults on every record from ``first_record_index`` on."""

    seed: int
    drop_probability: float = 0.0
    duplicate_probability: float = 0.0
    delay_probability: float = 0.0
    delay_seconds_max: float = 0.0
    first_record_index: int = 2  # leave the handshake alone by default


class FaultyStream(trio.abc.HalfCloseableStream):
    """A stream that applies faults to the records written through it."""

    def __init__(
        self,
        inner: trio.abc.Stream,
        faults: Iterable[FrameFault] = (),
        random_faults: RandomFaults | None = None,
        applied: list[FrameFault] | None = None,
    ) -> None:
        self.inner = inner
        self._faults = {fault.record_index: fault for fault in faults}
        self._random_faults = random_faults
        self._rng = random.Random(random_faults.seed if random_faults else 0)
        self.applied: list[FrameFault] = [] if applied is None else applied
        self._pending = bytearray()
        self._record_index = 0
        self._held: bytes | None = None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self._pending += data
        for record in self._take_complete_records():
            for delay_seconds, chunk in self._apply(record):
                if delay_seconds > 0:
                    await trio.sleep(delay_seconds)
                await self.inner.send_all(chunk)

    def _take_complete_records(self) -> list[bytes]:
        records = []
        while len(self._pending) >= LENGTH_PREFIX_BYTES:
            body_bytes = int.from_bytes(self._pending[:LENGTH_PREFIX_BYTES], "big")
            end = LENGTH_PREFIX_BYTES + body_bytes
            if len(self._pending) < end:
                break
            records.append(bytes(self._pending[:end]))
            del self._pending[:end]
        return records

    def _apply(self, record: bytes) -> list[tuple[float, bytes]]:
        """Return what to write for this record as (delay before, bytes) pairs."""
        index = self._record_index
        self._record_index += 1
        fault = self._faults.get(index) or self._random_fault(index)
        out: list[tuple[float, bytes]] = []
        if fault is None:
            out.append((0.0, record))
        else:
            self.applied.append(fault)
            out.extend(self._faulted(fault, record))
        if self._held is not None and (fault is None or fault.kind is not FaultKind.REORDER):
            out.append((0.0, self._held))
            self._held = None
        return out

    def _faulted(self, fault: FrameFault, record: bytes) -> list[tuple[float, bytes]]:
        match fault.kind:
            case FaultKind.DROP:
                return []
            case FaultKind.DUPLICATE:
                return [(0.0, record), (0.0, record)]
            case FaultKind.TAMPER:
                body = bytearray(record[LENGTH_PREFIX_BYTES:])
                body[fault.tamper_body_offset] ^= 0x01
                return [(0.0, record[:LENGTH_PREFIX_BYTES] + bytes(body))]
            case FaultKind.REORDER:
                self._held = record
                return []
            case FaultKind.DELAY:
                return [(fault.delay_seconds, record)]
            case _:
                assert_never(fault.kind)

    def _random_fault(self, index: int) -> FrameFault | None:
        config = self._random_faults
        if config is None or index < config.first_record_index:
            return None
        draw = self._rng.random()
        if draw < config.drop_probability:
            return FrameFault(FaultKind.DROP, index)
        draw -= config.drop_probability
        if draw < config.duplicate_probability:
            return FrameFault(FaultKind.DUPLICATE, index)
        draw -= config.duplicate_probability
        if draw < config.delay_probability:
            delay_seconds = self._rng.uniform(0.0, config.delay_seconds_max)
            return FrameFault(FaultKind.DELAY, index, delay_seconds=delay_seconds)
        return None

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def send_eof(self) -> None:
        if isinstance(self.inner, trio.abc.HalfCloseableStream):
            await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


class FaultInjector:
    """A PeerManager stream_wrapper faulting the first ``streams_to_fault`` streams."""

    def __init__(
        self,
        faults: Iterable[FrameFault] = (),
        *,
        random_faults: RandomFaults | None = None,
        streams_to_fault: int = 1,
        only_peer: int | None = None,
    ) -> None:
        self._faults = tuple(faults)
        self._random_faults = random_faults
        self._streams_left = streams_to_fault
        self._only_peer = only_peer  # fault only outbound streams to this peer
        self.applied: list[FrameFault] = []
        self.streams_wrapped = 0

    def __call__(self, stream: trio.abc.Stream, peer_index: int | None) -> trio.abc.Stream:
        if self._streams_left <= 0:
            return stream
        if self._only_peer is not None and peer_index != self._only_peer:
            return stream
        self._streams_left -= 1
        self.streams_wrapped += 1
        return FaultyStream(stream, self._faults, self._random_faults, self.applied)
