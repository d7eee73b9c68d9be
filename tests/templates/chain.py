"""A tiny in-memory chain for template tests: deploy, call, view, events, block time.

`Chain` keeps a `DictState`, applies `result.writes` only when a call succeeds (as the
node's executor does), and advances height and time explicitly (`advance`). Every failed
call is checked on the spot: no writes, no events, and the state is byte-identical to what
it was before (`call` asserts it, so every test that expects a failure also checks that the
failure changed nothing).
"""

from __future__ import annotations

from typing import Any

import vm
from vm import ErrorCode, codec
from vm.state import DictState
from vm.templates import load

GAS_PER_CALL = 5_000_000
TIME_START_SECONDS = 1_700_000_000


def account(name: str) -> bytes:
    """A 32-byte account address derived from a short readable name."""
    raw = name.encode("ascii")
    assert len(raw) <= 32
    return raw.ljust(32, b".")


class Chain:
    def __init__(self) -> None:
        self.state = DictState()
        self.height = 1
        self.time = TIME_START_SECONDS
        self.events: list[tuple[bytes, str, dict[str, Any]]] = []
        self.tx_counter = 0

    # --- time ----------------------------------------------------------------------------
    def advance(self, seconds: int = 5, blocks: int = 1) -> None:
        assert seconds >= 0 and blocks >= 0
        self.time += seconds
        self.height += blocks

    def context(self, sender: bytes) -> vm.BlockContext:
        self.tx_counter += 1
        tx_hash = self.tx_counter.to_bytes(32, "big")
        return vm.BlockContext(sender=sender, height=self.height, time=self.time,
                               tx_hash=tx_hash)

    # --- calls ---------------------------------------------------------------------------
    def deploy(self, template: str, address: bytes, sender: bytes, /, **args: Any) -> bytes:
        return self.deploy_source(load(template), address, sender, **args)

    def deploy_source(self, source: str, address: bytes, sender: bytes, /,
                      **args: Any) -> bytes:
        result = vm.deploy(self.state, source, address, self.context(sender), GAS_PER_CALL,
                           args)
        assert result.ok, (result.code, result.message)
        self._apply(result)
        return address

    def deploy_fails(self, template: str, address: bytes, sender: bytes, reason: str, /,
                     **args: Any) -> vm.ExecutionResult:
        """Deploys expecting a failed `init` whose message contains `reason`."""
        before = dict(self.state.data)
        result = vm.deploy(self.state, load(template), address, self.context(sender),
                           GAS_PER_CALL, args)
        assert not result.ok and reason in result.message, (result.code, result.message)
        assert result.writes == () and self.state.data == before
        return result

    def call(self, address: bytes, method: str, sender: bytes, /,
             **args: Any) -> vm.ExecutionResult:
        before = dict(self.state.data)
        result = vm.execute(self.state, address, method, args, self.context(sender),
                            GAS_PER_CALL)
        if result.ok:
            self._apply(result)
        else:
            assert result.writes == () and result.events == ()
            assert self.state.data == before, "a failed call changed the state"
        return result

    def ok(self, address: bytes, method: str, sender: bytes, /, **args: Any) -> Any:
        """Calls and asserts success; returns the decoded return value."""
        result = self.call(address, method, sender, **args)
        assert result.ok, (method, result.code, result.message)
        return result.value

    def fails(self, address: bytes, method: str, sender: bytes, reason: str = "", /,
              code: ErrorCode = ErrorCode.REVERT, **args: Any) -> vm.ExecutionResult:
        """Calls, asserts the call failed with `code` (and `reason` in its message)."""
        result = self.call(address, method, sender, **args)
        assert result.code is code, (method, result.code, result.message)
        assert reason in result.message, (reason, result.message)
        return result

    def view(self, address: bytes, method: str, /, **args: Any) -> Any:
        result = vm.query(self.state, address, method, args, self.context(b"\0" * 32),
                          GAS_PER_CALL)
        assert result.ok, (method, result.code, result.message)
        return result.value

    def _apply(self, result: vm.ExecutionResult) -> None:
        # Every state change of a template emits an event (deploys store code: they count
        # as a change only when init wrote storage as well).
        storage_writes = [key for key, _ in result.writes if key.startswith(b"S")]
        assert not storage_writes or result.events, "a state change emitted no event"
        self.state.apply(result.writes)
        for event in result.events:
            self.events.append((event.contract, event.name, codec.decode(event.data)))

    # --- events --------------------------------------------------------------------------
    def events_named(self, name: str, contract: bytes | None = None) -> list[dict[str, Any]]:
        return [data for address, event, data in self.events
                if event == name and (contract is None or address == contract)]

    def snapshot(self) -> dict[bytes, bytes]:
        return dict(self.state.data)
