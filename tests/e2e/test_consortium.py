"""Four members build a genesis from public cards only and run a network (#18 point 1).

Each member's key is made in its own home and never copied; the genesis is assembled from
the ``validator.json`` cards. A member started with another genesis is refused by every
peer in the handshake (both hashes in the log); given the right file, it joins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from node.client import AgoraClient
from node.setup import free_port_block
from tests.e2e.cluster import wait_until
from tests.e2e.processes import node_processes
from tests.node.agora_cli import ok

pytestmark = pytest.mark.e2e
members = 4
test_timeout_seconds = 90.0
fast = ("[consensus]\ntick_interval_ms = 20\nview_change_timeout_ticks = 100\n"
        "request_timeout_ticks = 25\nempty_block_interval_ms = 300\n")


def _prepare(root: Path) -> tuple[Path, list[Path], list[str]]:
    base = free_port_block(3 * members)
    homes, rpc_urls = [], []
    for index in range(members):
        home = root / f"org{index}"
        rpc = f"http://127.0.0.1:{base + members + index}"
        ok("keygen", "--validator", "--out", home, "--name", f"org{index}",
           "--p2p-address", f"127.0.0.1:{base + index}", "--rpc-address", rpc,
           "--metrics-port", str(base + 2 * members + index))
        config = home / "config.toml"
        config.write_text(_with_fast_consensus(config.read_text()))
        homes.append(home)
        rpc_urls.append(rpc)
    genesis = root / "genesis.json"
    ok("genesis", "new", genesis, "--chain-id", "consortium-e2e", "--shards", "1")
    for home in homes:
        ok("genesis", "add-validator", genesis, "--card", home / "validator.json")
    ok("genesis", "validate", genesis)
    for home in homes:
        (home / "genesis.json").write_text(genesis.read_text())
    return genesis, homes, rpc_urls


def _with_fast_consensus(text: str) -> str:
    """The test's faster pacing, replacing the [consensus] lines keygen wrote."""
    overrides = dict(line.split(" = ") for line in fast.splitlines()[1:])
    lines = [f"{key} = {overrides[key]}" if (key := line.split(" = ")[0]) in overrides
             else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(test_timeout_seconds)
def test_four_members_run_a_network_and_refuse_a_peer_with_another_genesis(
        tmp_path: Path) -> None:
    genesis, homes, rpc_urls = _prepare(tmp_path)
    good_hash = ok("genesis", "hash", genesis).strip()
    odd = homes[3] / "genesis.json"
    ok("genesis", "set", odd, "genesis_time_ms=1")  # member 3 got another file
    odd_hash = ok("genesis", "hash", odd).strip()
    with node_processes() as nodes:
        for home in homes:
            nodes.start(home)
        client = AgoraClient(rpc_urls[0], timeout_seconds=2.0)

        def refused_with_both_hashes() -> bool:
            nodes.check_alive()
            log = (homes[0] / "node.log").read_text(errors="replace")
            return any("wrong_genesis" in line and good_hash in line and odd_hash in line
                       for line in log.splitlines())

        wait_until(refused_with_both_hashes, 30, "node 0 to refuse member 3's genesis")
        assert client.status()["peer_refusals"].get("wrong_genesis", 0) > 0
        # Three of four are a quorum: the network runs without member 3.
        wait_until(lambda: client.status()["shards"][0]["height"] >= 2, 30, "blocks")
        assert 3 not in client.status()["peers"]

        nodes.stop(homes[3])
        odd.write_text(genesis.read_text())
        nodes.start(homes[3])
        late = AgoraClient(rpc_urls[3], timeout_seconds=2.0)

        def linked() -> bool:
            nodes.check_alive()  # a crash fails at once, with the node's log
            return len(late.status()["peers"]) == members - 1

        wait_until(linked, 60, "member 3 to link with every peer")
        target = client.status()["shards"][0]["height"]
        wait_until(lambda: late.status()["shards"][0]["height"] >= target, 60,
                   "member 3 to catch up")
