"""Test contracts in-process, without a cluster: a fake one-shard chain for pytest.

The chain runs every transaction through the node's own block executor
(``ledger.executor``: the same prechecks, native ledger, contract VM, gas and receipts as
a validator), one block per call, over an in-memory state. It has several funded
accounts, block heights and block time you control, and decodes return values and events
into Python values::

    from agora_sdk.testing import TestChain

    def test_transfer():
        chain = TestChain()
        alice, bob = chain.accounts[:2]
        token = chain.deploy("token.py", sender=alice, token_name="Gold", amount=100)
        assert token.transfer(to=bob.address, amount=30, sender=alice).ok
        assert token.balance_of(who=bob.address) == 30
        assert token.events("Transfer")[-1].data["amount"] == 30

Under pytest the ``agora_chain`` fixture (``agora_sdk/pytest_plugin.py``, registered as
a pytest plugin when the package is installed) gives a fresh ``TestChain`` per test.

Calling ``contract.method(**args)`` sends a transaction for an ``@export`` method (and
returns a :class:`CallResult`) or runs a read-only query for a ``@view`` (and returns the
value, raising :class:`ViewFailed` if it fails); ``contract.call`` and ``contract.view``
do the same explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora_sdk.abi import ContractAbi, contract_abi
from consensus.types import Block, BlockHeader, Transaction, tx_root
from ledger.contracts import contract_address, deploy_args, deploy_method, encode_args, query
from ledger.executor import Executor, build_executor, genesis_state_writes
from ledger.types import Receipt, Status
from node.client import Account
from vm import codec as vm_codec
from vm import gas as vm_gas
from vm.state import DictState

default_accounts = 5
default_balance = 10**12
default_block_seconds = 1
default_start_time_ms = 1_700_000_000_000
default_gas_limit = vm_gas.gas_limit_tx_max
query_gas_limit = 5_000_000
tx_validity_window_blocks = 1_000


class ViewFailed(AssertionError):
    """A @view call failed (raised so that a test fails loudly)."""


@dataclass(frozen=True, slots=True)
class Event:
    contract: bytes
    name: str
    data: Any  # the decoded fields (a dict for contract events)
    height: int


@dataclass(frozen=True, slots=True)
class CallResult:
    """One transaction's outcome, decoded."""

    receipt: Receipt
    height: int
    value: Any  # the decoded return value (None if none or failed)
    events: tuple[Event, ...]

    @property
    def ok(self) -> bool:
        return self.receipt.status == Status.OK

    @property
    def status(self) -> str:
        return Status(self.receipt.status).name

    @property
    def error(self) -> str:
        return self.receipt.error

    @property
    def gas_used(self) -> int:
        return self.receipt.gas_used

    def expect_ok(self) -> CallResult:
        assert self.ok, f"{self.status}: {self.error}"
        return self


@dataclass(frozen=True, slots=True)
class _Balance:
    address: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class _Consensus:
    tx_validity_window_blocks: int
    gas_price: int = 0  # fees off by default: a contract's own tests rarely want them
    native_tx_gas: int = 1_000
    block_gas_limit: int = 20_000_000


@dataclass(frozen=True, slots=True)
class _Genesis:
    chain_id: str
    shard_count: int
    balances: tuple[_Balance, ...]
    issuers: tuple[bytes, ...]
    consensus: _Consensus
    fee_account: bytes = b""  # empty: fees are pooled in the shard

    def balances_of_shard(self, shard: int) -> list[_Balance]:
        return list(self.balances)


class TestChain:
    """A one-shard chain in memory; see the module docstring."""

    __test__ = False  # not a pytest test class

    def __init__(self, accounts: int = default_accounts, balance: int = default_balance,
                 chain_id: str = "agora-test", block_seconds: int = default_block_seconds,
                 start_time_ms: int = default_start_time_ms, gas_price: int = 0) -> None:
        self.accounts = tuple(Account.from_seed(bytes([index + 1]) * 32)
                              for index in range(accounts))
        self.genesis = _Genesis(chain_id, 1, tuple(_Balance(account.address, balance)
                                                   for account in self.accounts),
                                (self.accounts[0].address,),
                                _Consensus(tx_validity_window_blocks, gas_price))
        self.state = DictState()
        self.state.apply(genesis_state_writes(self.genesis, 0))
        self.executor: Executor = build_executor(self.genesis, 0)
        self.height = 0
        self.time_ms = start_time_ms
        self.block_seconds = block_seconds
        self.receipts: list[CallResult] = []
        self._nonce = 0
        self._previous_hash = b"\x00" * 32

    # -- time -----------------------------------------------------------------------

    def advance(self, blocks: int = 1, seconds: int | None = None) -> None:
        """Let ``blocks`` empty blocks pass (and ``seconds`` of block time, default
        ``blocks * block_seconds``)."""
        assert blocks >= 0
        self.height += blocks
        self.time_ms += 1000 * (blocks * self.block_seconds if seconds is None else seconds)

    # -- transactions ---------------------------------------------------------------

    def deploy(self, source: str | Path, *, sender: Account | None = None,
               gas_limit: int = default_gas_limit, **init_args: Any) -> DeployedContract:
        """Deploy ``source`` (text, or a path to a .py file); raises if the deploy fails."""
        text = _source_text(source)
        abi = contract_abi(text)
        sender = sender or self.accounts[0]
        nonce = self._next_nonce()
        address = contract_address(sender.address, nonce)
        result = self._execute(sender, address, deploy_method, deploy_args(text, init_args),
                               gas_limit, nonce)
        if not result.ok:
            raise AssertionError(f"deploy failed: {result.status}: {result.error}")
        return DeployedContract(self, address, abi)

    def send(self, sender: Account, contract: bytes, method: str, args: dict[str, Any],
             gas_limit: int = default_gas_limit) -> CallResult:
        """A contract call as a transaction in its own block."""
        return self._execute(sender, contract, method, encode_args(args), gas_limit,
                             self._next_nonce())

    def transfer(self, sender: Account, to: bytes, amount: int) -> CallResult:
        """A native-ledger transfer."""
        from consensus import codec

        return self._execute(sender, b"", "transfer", codec.pack((to, amount)), 0,
                             self._next_nonce())

    def view(self, contract: bytes, method: str, args: dict[str, Any],
             sender: Account | None = None) -> Any:
        caller = (sender or self.accounts[0]).address
        result = query(self.state, contract, method, dict(args), caller, self.height,
                       self.time_ms)
        if not result.ok:
            raise ViewFailed(f"{method}: {result.code.name}: {result.message}")
        return vm_codec.decode(bytes(result.return_data))

    def native_balance(self, address: bytes) -> int:
        from ledger.native import balance_of

        return balance_of(self.state, address)

    def events(self, contract: bytes | None = None, name: str | None = None) -> list[Event]:
        return [event for result in self.receipts for event in result.events
                if (contract is None or event.contract == contract)
                and (name is None or event.name == name)]

    def _next_nonce(self) -> int:
        self._nonce += 1
        return self._nonce

    def _execute(self, sender: Account, contract: bytes, method: str, args: bytes,
                 gas_limit: int, nonce: int) -> CallResult:
        self.advance(1)
        unsigned = Transaction(self.genesis.chain_id, sender.address, nonce,
                               self.height + 10, gas_limit, contract, method, args,
                               b"\x00" * 64)
        tx = sender.sign(unsigned)
        header = BlockHeader(self.genesis.chain_id, 0, self.height, self._previous_hash, 0, 0,
                             self.time_ms, tx_root((tx,)), 0, b"\x00" * 32, b"\x00" * 32)
        block = Block(header, (tx,))
        outcome = self.executor.execute_block(block, self.state)
        self.state.apply(outcome.state_writes)
        self._previous_hash = block.hash()
        receipt = outcome.receipts[0]
        result = CallResult(receipt, self.height, _decode(receipt.result),
                            tuple(Event(event.contract, event.name, _decode(event.data),
                                        self.height) for event in receipt.events))
        self.receipts.append(result)
        return result


class DeployedContract:
    """A contract on a :class:`TestChain`; methods from its ABI are attributes."""

    def __init__(self, chain: TestChain, address: bytes, abi: ContractAbi) -> None:
        self.chain = chain
        self.address = address
        self.abi = abi

    def call(self, method: str, *, sender: Account | None = None,
             gas_limit: int = default_gas_limit, **args: Any) -> CallResult:
        return self.chain.send(sender or self.chain.accounts[0], self.address, method, args,
                               gas_limit)

    def view(self, method: str, *, sender: Account | None = None, **args: Any) -> Any:
        return self.chain.view(self.address, method, args, sender)

    def events(self, name: str | None = None) -> list[Event]:
        return self.chain.events(self.address, name)

    def __getattr__(self, name: str) -> Any:
        method = self.abi.method(name)
        if method is None or name.startswith("_"):
            raise AttributeError(f"the contract has no @export or @view method {name!r}")
        if method.kind == "view":
            return lambda sender=None, **args: self.view(name, sender=sender, **args)
        return lambda sender=None, gas_limit=default_gas_limit, **args: self.call(
            name, sender=sender, gas_limit=gas_limit, **args)


def _decode(data: bytes) -> Any:
    return vm_codec.decode(data) if data else None


def _source_text(source: str | Path) -> str:
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".py")
                                    and "\n" not in source):
        return Path(source).read_text(encoding="utf-8")
    return source


__all__ = ["CallResult", "DeployedContract", "Event", "TestChain", "ViewFailed"]
