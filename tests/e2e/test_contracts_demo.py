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
        figures = run_demo(cluster.local.rpc_urls[1], Console(file=output, width=100))
        assert figures["seller"] == 8750 and figures["platform"] == 250
        assert (figures["rights holder"], figures["issuer (claimed)"],
                figures["channel"]) == (300, 400, 300)
        assert "conserved" in output.getvalue()
        # Every validator holds the same blocks and contract state in both shards.
        for shard in range(2):
            assert_same_chain(cluster, shard, [0, 1, 2, 3])
