"""End-to-end: contracts deployed and called as transactions on a real cluster."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from node.demo import run_demo
from tests.e2e.cluster import assert_same_chain, running_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_the_demo_sale_pays_royalty_fee_and_the_30_40_30_split_on_every_node(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=2) as cluster:
        output = io.StringIO()
        figures = run_demo(cluster.local.rpc_urls[1], Console(file=output, width=100),
                           funder=cluster.faucet)
        assert figures["seller"] == 8750 and figures["platform"] == 250
        assert figures["fees"] > 0 and "Fees paid" in output.getvalue()
        assert (figures["rights holder"], figures["issuer (claimed)"],
                figures["channel"]) == (300, 400, 300)
        assert "conserved" in output.getvalue()
        # Every validator holds the same blocks and contract state in both shards.
        for shard in range(2):
            assert_same_chain(cluster, shard, [0, 1, 2, 3])


def _agora(*args: str) -> dict:
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    return json.loads(result.stdout)


def test_agora_deploy_and_call_commands_work_against_a_cluster(tmp_path: Path) -> None:
    from node.client import Account

    with running_cluster(tmp_path / "cluster", validators=4, shards=2) as cluster:
        rpc, key = cluster.local.rpc_urls[0], str(cluster.local.directory / "faucet_key.hex")
        source = str(Path(__file__).parents[2] / "vm" / "templates" / "token.py")
        # Shard 0: the faucet's, where it pays its fees (ledger/fees.py); the call goes
        # through node 3, which forwards nothing: every node hosts every shard.
        deployed = _agora("deploy", "--rpc", rpc, "--key", key, "--source", source,
                          "--args", '{"token_name": "Gold", "amount": 1000}', "--shard", "0")
        assert deployed["receipt"]["ok"]
        address = deployed["address"]
        friend = "0x" + Account.generate().address.hex()
        sent = _agora("call", "--rpc", cluster.local.rpc_urls[3], "--key", key, "--contract",
                      address, "--method", "transfer", "--args",
                      f'{{"to": "{friend}", "amount": 40}}')
        assert sent["ok"] and sent["shard"] == 0
        balance = _agora("call", "--rpc", cluster.local.rpc_urls[3], "--contract", address,
                         "--method", "balance_of", "--args", f'{{"who": "{friend}"}}')
        assert balance == 40
