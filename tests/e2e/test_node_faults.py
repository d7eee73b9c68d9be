"""End-to-end: a transaction never stops a node (issue #12 point 1), and a node keeps
serving RPC while it executes blocks of maximum gas (issue #13 point 6).

Real validator processes on 127.0.0.1. The contract below once made the VM raise out of
``execute`` (recursion through nested comprehensions: r7 in the issue), which killed the
executor task and with it every node, again after every restart. Now every outcome of a
tx is a receipt or, for a genuine node fault, a halt of that one shard: either way every
process keeps running, the other shard keeps finalizing, and a restarted node starts and
reports the same state instead of crash-looping.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.sharding import shard_of_account
from node.client import Account, RpcCallError
from tests.e2e.cluster import running_cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

_inner = "f(n - 1)"
for _name in [f"v{index}" for index in range(8)]:
    _inner = f"[{_inner} for {_name} in range(1)][0]"
DEEP_SOURCE = f'''
@export
def init():
    pass

def f(n: int) -> int:
    if n == 0:
        return 0
    return {_inner}

@export
def go(n: int) -> int:
    return f(n)
'''

SPIN_SOURCE = '''
@export
def init():
    pass

@export
def burn(n: int) -> int:
    total = 0
    for i in range(n):
        total = total + i
    return total

@view
def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total = total + i
    return total
'''


def _account_in_shard_0() -> Account:
    while True:
        account = Account.generate()
        if shard_of_account(account.address, 2) == 0:
            return account


def test_a_contract_that_breaks_the_vm_never_stops_a_node(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=2) as cluster:
        client = cluster.client(0)
        mallory = _account_in_shard_0()
        funded = client.submit_and_wait(client.build_transfer(
            cluster.faucet, mallory.address, 10**11), timeout_seconds=30)
        assert funded["ok"], funded
        deploy = client.build_deploy(mallory, DEEP_SOURCE, shard=0, gas_limit=1_000_000)
        assert client.submit_and_wait(deploy, timeout_seconds=30)["ok"]
        call = client.build_contract_call(mallory, deploy.contract, "go", {"n": 120},
                                          gas_limit=10_000_000)
        client.submit(call)

        def outcome() -> str | None:
            """"halted" once every node halted shard 0, "receipt" once every node has
            the call's receipt (the VM turned the condition into a failed receipt)."""
            statuses = [cluster.client(i).status()["shards"][0] for i in range(4)]
            if all(shard["halted"] for shard in statuses):
                return "halted"
            receipts = [cluster.client(i).call("agora_getReceipt", call.hash().hex())
                        for i in range(4)]
            if all(receipts):
                assert len({(r["status"], r["gas_used"]) for r in receipts}) == 1
                return "receipt"
            return None

        result = wait_until(outcome, 60, "the call's outcome on every node")
        cluster.local.check_alive()  # every process is still running
        if result == "halted":
            reasons = {cluster.client(i).status()["shards"][0]["halted_reason"]
                       for i in range(4)}
            assert all(call.hash().hex() in reason for reason in reasons)
        # The other shard keeps finalizing on every node.
        before = cluster.heights(shard=1)
        wait_until(lambda: all(now > then + 2 for now, then in
                               zip(cluster.heights(shard=1), before)),
                   60, "shard 1 to move on on every node")
        # A restarted node starts, reports the same, and keeps running.
        cluster.local.kill(2)
        cluster.local.start([2])
        cluster.local.wait_ready(indexes=[2])
        status = cluster.client(2).status()["shards"][0]
        assert status["halted"] is (result == "halted")
        restarted_at = cluster.heights(shard=1, indexes=[2])[0]
        wait_until(lambda: cluster.heights(shard=1, indexes=[2])[0] > restarted_at + 2,
                   60, "the restarted node to finalize shard 1")
        cluster.local.check_alive()


def test_a_node_answers_rpc_while_it_executes_blocks_of_maximum_gas(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=1) as cluster:
        client = cluster.client(1)
        deploy = client.build_deploy(cluster.faucet, SPIN_SOURCE, gas_limit=1_000_000)
        assert client.submit_and_wait(deploy, timeout_seconds=30)["ok"]
        heavy = [client.build_contract_call(cluster.faucet, deploy.contract, "burn",
                                            {"n": 10**9}, gas_limit=10_000_000)
                 for _ in range(8)]
        for tx in heavy:
            client.submit(tx)
        answered = 0

        def all_executed() -> bool:
            nonlocal answered
            # Status and a read-only call (itself up to its gas cap, in a worker thread)
            # are answered while the max-gas blocks execute: the call runs out of gas, or
            # out of its deadline when it shares the core with those blocks.
            assert client.status()["shards"][0]["halted"] is False
            with pytest.raises(RpcCallError, match="OUT_OF_GAS|CALL_TIMEOUT"):
                client.view(deploy.contract, "spin", {"n": 10**9})
            answered += 1
            receipts = [client.call("agora_getReceipt", tx.hash().hex()) for tx in heavy]
            return all(receipts)

        wait_until(all_executed, 120, "the heavy txs to execute")
        assert answered >= 1
        for tx in heavy:
            receipt = client.call("agora_getReceipt", tx.hash().hex())
            assert (receipt["status_name"], receipt["gas_used"]) == ("OUT_OF_GAS", 10_000_000)
        cluster.local.check_alive()
