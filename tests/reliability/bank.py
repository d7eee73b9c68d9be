"""The bank workload and its history.

Accounts are funded in the genesis (``extra_balances``), a fixed number per shard, and
money moves between accounts of one shard (a transfer across shards is refused until
cross-shard transactions exist; then ``cross_shard`` lets the workload pick any pair).
Workers are threads; each repeats: pick a random node and either

* a **transfer** of a random amount (one in ten far above any balance, so it must fail)
  with ``agora_sendTransactionAndWait``, or
* a **read** of one account's balance with ``agora_getAccount``,

and records an :class:`Operation`: when it was invoked and completed (monotonic seconds
since the run started), which node served it, and its outcome, Jepsen style:

* ``ok``: the node acknowledged the write with an OK receipt, or answered the read;
* ``fail``: it certainly did not happen (refused at admission, a failed receipt, or the
  connection was refused before the request was sent);
* ``info``: unknown (a timeout or a broken connection after sending): the checkers decide
  from the final chains.

Retries would hide what the checkers must see, so nothing is retried.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from ledger.sharding import shard_of_account
from node.client import Account, AgoraClient, RpcCallError, TransportError
from node.genesis import Balance

# Enough for a long run's fees too (a native transfer pays native_tx_gas x gas price,
# 1,000 on a local cluster): a drained account would fail its transfers for the wrong
# reason and hide the cluster's liveness.
account_balance_initial = 10**11
transfer_amount_max = 500
overdraft_amount = 10**14  # above the whole bank: such a transfer must fail
write_wait_seconds = 4.0
rpc_timeout_seconds = 6.0
# JSON-RPC errors after which the tx may still commit: the wait ran out (-32011), or the
# server failed mid-request (-32603). Every other refusal is definite.
unknown_outcome_codes = (-32011, -32603)


@dataclasses.dataclass(slots=True)
class Operation:
    op_id: int
    worker: int
    kind: str  # "transfer" | "read"
    node: int
    invoke_s: float
    complete_s: float = 0.0
    outcome: str = "info"  # "ok" | "fail" | "info"
    sender: bytes = b""
    recipient: bytes = b""
    amount: int = 0
    tx_hash: bytes = b""
    value: int | None = None  # a read's balance
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        plain = dataclasses.asdict(self)
        for name in ("sender", "recipient", "tx_hash"):
            plain[name] = plain[name].hex()
        return plain


def bank_accounts(shard_count: int, per_shard: int) -> list[Account]:
    """``per_shard`` accounts in every shard, from fixed seeds (the same run to run)."""
    found: dict[int, list[Account]] = {shard: [] for shard in range(shard_count)}
    counter = 0
    while any(len(accounts) < per_shard for accounts in found.values()):
        seed = hashlib.sha256(b"agora-reliability-bank-%d" % counter).digest()
        counter += 1
        account = Account.from_seed(seed)
        shard = shard_of_account(account.address, shard_count)
        if len(found[shard]) < per_shard:
            found[shard].append(account)
    return [account for shard in range(shard_count) for account in found[shard]]


def genesis_balances(accounts: Sequence[Account]) -> tuple[Balance, ...]:
    return tuple(Balance(account.address, account_balance_initial) for account in accounts)


class Bank:
    """The workers and the history they write; ``stop()`` ends them."""

    def __init__(self, rpc_urls: Sequence[str], accounts: Sequence[Account], shard_count: int,
                 seed: int, workers: int = 4, cross_shard: bool = False) -> None:
        self.rpc_urls = list(rpc_urls)
        self.accounts = list(accounts)
        self.shard_count = shard_count
        self.cross_shard = cross_shard
        self.seed = seed
        self.worker_count = workers
        self.history: list[Operation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_id = 0
        self.started = time.monotonic()
        self.by_shard: dict[int, list[Account]] = {}
        for account in self.accounts:
            shard = shard_of_account(account.address, shard_count)
            self.by_shard.setdefault(shard, []).append(account)

    def now(self) -> float:
        return time.monotonic() - self.started

    def start(self) -> None:
        for worker in range(self.worker_count):
            thread = threading.Thread(target=self._run, args=(worker,), daemon=True,
                                      name=f"bank-worker-{worker}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=rpc_timeout_seconds + write_wait_seconds + 5)
            assert not thread.is_alive(), f"{thread.name} did not stop"

    def _record(self, op: Operation) -> None:
        with self._lock:
            self.history.append(op)

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _run(self, worker: int) -> None:
        rng = random.Random(self.seed * 1000 + worker)
        clients = [AgoraClient(url, timeout_seconds=rpc_timeout_seconds)
                   for url in self.rpc_urls]
        try:
            while not self._stop.is_set():
                node = rng.randrange(len(clients))
                if rng.random() < 0.7:
                    self._transfer(worker, node, clients[node], rng)
                else:
                    self._read(worker, node, clients[node], rng)
        finally:
            for client in clients:
                client.close()

    def _pick_pair(self, rng: random.Random) -> tuple[Account, Account]:
        if self.cross_shard:
            return tuple(rng.sample(self.accounts, 2))  # type: ignore[return-value]
        group = self.by_shard[rng.choice(sorted(self.by_shard))]
        sender, recipient = rng.sample(group, 2)
        return sender, recipient

    def _transfer(self, worker: int, node: int, client: AgoraClient,
                  rng: random.Random) -> None:
        sender, recipient = self._pick_pair(rng)
        amount = overdraft_amount if rng.random() < 0.1 else rng.randint(1, transfer_amount_max)
        op = Operation(self._new_id(), worker, "transfer", node, self.now(),
                       sender=sender.address, recipient=recipient.address, amount=amount)
        try:
            # Expiry from a fixed window over the node's own latest height: a node behind
            # gives an earlier expiry, which only shortens the tx's life.
            tx = client.build_transfer(sender, recipient.address, amount, expiry_blocks=200)
            op.tx_hash = tx.hash()
        except (RpcCallError, TransportError, httpx.HTTPError, OSError) as error:
            op.outcome, op.detail = "fail", f"could not build: {error}"
            op.complete_s = self.now()
            self._record(op)
            self._idle(rng)
            return
        try:
            receipt = client.submit_and_wait(tx, timeout_seconds=write_wait_seconds)
            op.outcome = "ok" if receipt.get("ok") else "fail"
            op.detail = receipt.get("status_name", "")
        except RpcCallError as error:
            # A refusal at admission is definite; a wait that ran out is not.
            op.outcome = "info" if error.code in unknown_outcome_codes else "fail"
            op.detail = f"rpc {error.code} {error.reason}: {error.message}"
        except TransportError as error:
            op.outcome = "fail" if _never_sent(error) else "info"
            op.detail = f"transport: {error}"
        op.complete_s = self.now()
        self._record(op)

    def _read(self, worker: int, node: int, client: AgoraClient, rng: random.Random) -> None:
        account = rng.choice(self.accounts)
        op = Operation(self._new_id(), worker, "read", node, self.now(),
                       sender=account.address)
        try:
            op.value = client.balance(account.address)
            op.outcome = "ok"
        except (RpcCallError, TransportError, httpx.HTTPError, OSError) as error:
            op.outcome, op.detail = "fail", f"read failed: {error}"
            self._idle(rng)
        op.complete_s = self.now()
        self._record(op)

    def _idle(self, rng: random.Random) -> None:
        """After an error, back off a little so a dead node is not hammered in a loop."""
        self._stop.wait(0.05 + rng.random() * 0.1)


def _never_sent(error: TransportError) -> bool:
    cause = error.__cause__
    return isinstance(cause, httpx.ConnectError) or "connect" in str(error).lower() and \
        "refused" in str(error).lower()
