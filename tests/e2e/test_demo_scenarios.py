"""End-to-end: `agora demo --scenario tickets` and `--scenario mysterybox` on a real
local cluster (4 validator processes, 2 shards), one cluster for both stories."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from node.demo import run_demo
from tests.e2e.cluster import assert_same_chain, running_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_the_ticket_and_mystery_box_stories_conserve_value_on_every_node(
        tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=4, shards=2) as cluster:
        output = io.StringIO()
        console = Console(file=output, width=120)
        tickets = run_demo(cluster.local.rpc_urls[2], console, scenario="tickets",
                           funder=cluster.faucet)
        assert tickets == {"organiser": 12, "alice": 8, "bob": -20, "tickets": 0}
        box = run_demo(cluster.local.rpc_urls[1], console, scenario="mysterybox",
                       funder=cluster.faucet)
        assert (box["alice"], box["seller"], box["witness"], box["mysterybox"]) == \
            (300, -300, 0, 0)
        assert box["outcome"] in (0, 1, 2)
        text = output.getvalue()
        assert text.count("conserved") == 2 and "NOT CONSERVED" not in text
        assert "price above the cap" in text and "wrong secret" in text
        for shard in range(2):
            assert_same_chain(cluster, shard, [0, 1, 2, 3])
