"""End-to-end: the block explorer in a real headless Chromium against a real cluster.

One 4-validator, 2-shard cluster of real processes for the module; transfers (one of them
cross-shard, which fails with a status name to show), the marketplace sale of ``agora
demo`` (deploys, a listing and a purchase) and a contract whose strings are markup; then
Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium) visits the
pages and the assertions are on what it rendered. ``make test`` installs the browser
(Makefile ``browser``). Screenshots go to ``$AGORA_SCREENSHOT_DIR`` when set (``make
screenshots`` refreshes the committed ones in bench/results/explorer/), else to a
temporary folder.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from ledger.sharding import shard_of_account
from node.client import Account, AgoraClient, RpcCallError
from node.demo import Demo
from tests.e2e.cluster import TestCluster, running_cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

chromium_path = "/usr/bin/chromium"
chromedriver_path = "/usr/bin/chromedriver"
page_wait_seconds = 20.0
window_width_px = 1280
shards = 2
# Slower empty blocks than the e2e default, so that the transfers of _populate stay inside
# agora_recentActivity's window (256 blocks per shard) for the whole module on a slow box.
empty_block_interval_ms = 600

payload = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
markup_contract = '''
# A contract whose strings try to become markup: <script>window.__pwned = 3</script>
@export
def shout(text: str):
    emit("Shout", text=text, html="<b>bold?</b>")

@export
def fail(text: str):
    revert(text)
'''


class RecordingDemo(Demo):
    """``agora demo``'s marketplace story, keeping every receipt by step name."""

    def __init__(self, client: AgoraClient, funder: Account) -> None:
        super().__init__(client, Console(file=io.StringIO(), width=100), funder=funder)
        self.receipts: dict[str, dict[str, Any]] = {}

    def _wait(self, tx: Any, what: str) -> dict[str, Any]:
        receipt = super()._wait(tx, what)
        self.receipts[what] = receipt
        return receipt


@dataclass(frozen=True)
class Chain:
    cluster: TestCluster
    url: str
    friend: bytes
    transfer_hashes: list[str]
    cross_shard_hash: str
    market: bytes
    buy_hash: str
    shout_hash: str
    revert_hash: str


def _account_in_shard(shard: int) -> Account:
    while True:
        account = Account.generate()
        if shard_of_account(account.address, shards) == shard:
            return account


def _populate(cluster: TestCluster) -> Chain:
    client = cluster.client(0)
    faucet = cluster.faucet
    home = shard_of_account(faucet.address, shards)
    friend = _account_in_shard(home).address
    transfers = [client.submit_and_wait(client.build_transfer(faucet, friend, amount))
                 for amount in (10, 20, 30)]
    assert all(receipt["ok"] for receipt in transfers)
    far = _account_in_shard(1 - home).address
    cross = client.submit_and_wait(client.build_transfer(faucet, far, 5))
    assert cross["status_name"] == "CROSS_SHARD"
    demo = RecordingDemo(AgoraClient(cluster.local.rpc_urls[1]), faucet)
    demo.run()
    markup = client.build_deploy(faucet, markup_contract, {}, shard=home)
    assert client.submit_and_wait(markup)["ok"]
    shout = client.submit_and_wait(client.build_contract_call(
        faucet, markup.contract, "shout", {"text": payload}))
    failed = client.submit_and_wait(client.build_contract_call(
        faucet, markup.contract, "fail", {"text": payload}))
    assert shout["ok"] and failed["status_name"] == "REVERT"
    return Chain(cluster, cluster.local.rpc_urls[0], friend,
                 [receipt["tx_hash"] for receipt in transfers], cross["tx_hash"],
                 demo.contracts["market"], demo.receipts["market.buy"]["tx_hash"],
                 shout["tx_hash"], failed["tx_hash"])


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with running_cluster(tmp_path_factory.mktemp("explorer") / "cluster", validators=4,
                         shards=shards, empty_block_interval_ms=empty_block_interval_ms
                         ) as cluster:
        yield _populate(cluster)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (chromium_path, chromedriver_path) if not Path(path).exists()]
    assert not missing, f"{missing} not installed: run `make browser` (apt-get install " \
                        "chromium chromium-driver)"
    profile = tempfile.mkdtemp(prefix="agora-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 f"--window-size={window_width_px},900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver_path),
                              options=options)
    driver.set_page_load_timeout(page_wait_seconds)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("AGORA_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("explorer-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shoot(driver: Any, folder: Path, name: str) -> None:
    """A full-page screenshot: the viewport is set to the page's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": window_width_px, "height": min(max(int(height), 600), 4000),
        "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.save_screenshot(str(folder / f"{name}.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _rows(driver: Any, table_id: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def _wait_for(what: str, condition: Any) -> Any:
    return wait_until(condition, page_wait_seconds, what, interval_seconds=0.1)


def test_overview_shows_shards_validators_mempool_and_a_live_tps_chart(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    browser.get(f"{chain.url}/explorer")
    assert browser.title.startswith("Overview")
    shard_rows = _rows(browser, "shards")
    assert [row[0] for row in shard_rows] == ["shard 0", "shard 1"]
    assert all(row[-1] == "ok" for row in shard_rows)
    validators = _rows(browser, "validators")
    assert len(validators) == 4 and all(row[4] == "reachable" for row in validators)
    assert all(row[5] == "3 of 3" and row[7] == "none" for row in validators)
    assert "Pending txs" in _text(browser, "#mempool")
    chart = browser.find_element("id", "tps-chart")
    _wait_for("the WebSocket feed", lambda: "Live:" in _text(browser, "#live-status"))
    # Transfers sent now must reach the chart: it counts txs of the finalized blocks the
    # node pushes over the WebSocket.
    client, faucet = chain.cluster.client(0), chain.cluster.faucet
    # Another account than chain.friend, whose page lists only the three transfers.
    target = _account_in_shard(shard_of_account(faucet.address, shards)).address
    sent = 0
    for size in (10, 25, 15):  # three bursts, each counted before the next is sent
        for n in range(size):
            client.submit(client.build_transfer(faucet, target, 1 + sent + n))
        sent += size
        _wait_for(f"the chart to count {sent} txs",
                  lambda total=sent: int(chart.get_attribute("data-txs")) >= total)
    assert int(chart.get_attribute("data-blocks")) >= 1
    assert float(_text(browser, "#tps-now")) > 0
    heights = [int(_text(browser, f"#s{shard}-height")) for shard in range(shards)]
    assert all(height >= 1 for height in heights)
    _shoot(browser, screenshots, "overview")


def test_search_by_keyboard_lands_on_the_purchase_and_shows_its_receipt(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{chain.url}/explorer")
    body = browser.find_element("tag name", "body")
    body.send_keys(Keys.TAB)  # the skip link comes first
    assert browser.switch_to.active_element.text == "Skip to content"
    for _ in range(6):
        if browser.switch_to.active_element.get_attribute("id") == "q":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    search = browser.switch_to.active_element
    assert search.get_attribute("id") == "q", "Tab never reached the search box"
    search.send_keys(chain.buy_hash.upper(), Keys.ENTER)
    _wait_for("the tx page", lambda: browser.current_url.endswith(f"/explorer/tx/"
                                                                     f"{chain.buy_hash}"))
    assert _text(browser, "#tx-hash") == chain.buy_hash
    fields = _text(browser, "#tx-fields")
    assert "OK" in fields and "buy" in fields and "Gas used" in fields
    receipt = chain.cluster.client(0).get_receipt(bytes.fromhex(chain.buy_hash))
    assert receipt is not None and f"Fee\n{receipt['fee']}" in fields  # gas x price
    assert chain.market.hex() in fields
    events = _text(browser, "table.events")
    assert "Transfer" in events  # the token moves of the sale, decoded
    _shoot(browser, screenshots, "tx")


def test_a_block_page_shows_header_certificate_and_txs_with_links(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{chain.url}/explorer/tx/{chain.buy_hash}")
    tx = chain.cluster.client(0).get_transaction(bytes.fromhex(chain.buy_hash))
    assert tx is not None
    browser.find_element(By.LINK_TEXT, f"{tx['shard']}/{tx['height']}").click()
    _wait_for("the block page", lambda: browser.title.startswith(f"Block {tx['shard']}/"))
    header = _text(browser, "#block-header")
    block = chain.cluster.client(0).get_block(tx["shard"], tx["height"])
    assert block is not None
    for value in (block["hash"], block["tx_root"], block["state_root"],
                  block["receipts_root"], block["prev_hash"]):
        assert value in header
    signers = len(block["certificate"]["signers"])
    assert signers >= 3 and f"{signers} signatures" in header
    assert "node" in header.split("Signers")[1]
    rows = _rows(browser, "block-txs")
    assert any(row[4] == "buy" and row[5] == "OK" for row in rows)
    _shoot(browser, screenshots, "block")


def test_shard_blocks_are_paginated_newest_first(chain: Chain, browser: Any,
                                                  screenshots: Path) -> None:
    from selenium.webdriver.common.by import By

    wait_until(lambda: chain.cluster.heights(0, [0])[0] > 30, 60, "30 blocks in shard 0")
    browser.get(f"{chain.url}/explorer/shard/0")
    first_page = [int(row[0]) for row in _rows(browser, "blocks")]
    assert len(first_page) == 25 and first_page == sorted(first_page, reverse=True)
    _shoot(browser, screenshots, "blocks")
    browser.find_element(By.LINK_TEXT, "Older →").click()
    _wait_for("the older page", lambda: "from=" in browser.current_url)
    second_page = [int(row[0]) for row in _rows(browser, "blocks")]
    assert second_page[0] == first_page[-1] - 1
    browser.find_element(By.LINK_TEXT, "← Newer").click()
    _wait_for("the newer page", lambda: [int(row[0]) for row in _rows(browser, "blocks")]
              [-1] == first_page[-1])


def test_an_account_shows_its_balance_and_recent_transfers(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    browser.get(f"{chain.url}/explorer/search?q=0x{chain.friend.hex()}")
    _wait_for("the account page", lambda: "/explorer/account/" in browser.current_url)
    balance = chain.cluster.client(0).balance(chain.friend)
    assert int(_text(browser, "#balance")) == balance >= 60
    rows = _rows(browser, "account-txs")
    hashes = {row[1] for row in rows}
    assert {f"{h[:8]}…{h[-8:]}" for h in chain.transfer_hashes} <= hashes
    assert all(row[2] == "recipient" and row[6] == "OK" for row in rows)
    _shoot(browser, screenshots, "account")


def test_a_contract_shows_its_template_methods_source_and_recent_events(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    browser.get(f"{chain.url}/explorer/account/{chain.market.hex()}")
    assert browser.title.startswith("Contract")
    assert "market" in _text(browser, "#account-fields")
    methods = {row[0]: row[1] for row in _rows(browser, "methods")}
    assert methods.get("buy") == "export" and "list_item" in methods
    events = _text(browser, "table.events")
    assert "Sold" in events and "Listed" in events, events
    txs = _rows(browser, "account-txs")
    assert any(row[5] == "buy" for row in txs)
    _shoot(browser, screenshots, "contract")


def test_recent_activity_is_bounded_and_says_what_it_scanned(chain: Chain) -> None:
    client = chain.cluster.client(2)  # any node answers alike
    full = client.call("agora_recentActivity", chain.friend.hex())
    assert full["blocks_per_shard"] == 256 and full["complete"]
    assert [item["hash"] for item in full["txs"]] == chain.transfer_hashes[::-1]
    assert [item["role"] for item in full["txs"]] == ["recipient"] * 3
    one = client.call("agora_recentActivity", chain.friend.hex(), 1)
    assert all(item["from_height"] == item["to_height"] for item in one["scanned"])
    capped = client.call("agora_recentActivity", chain.friend.hex(), 10**9)
    assert capped["blocks_per_shard"] == 256
    for bad in (["zz"], [chain.friend.hex(), 0], [chain.friend.hex(), "10"]):
        with pytest.raises(RpcCallError) as error:
            client.call("agora_recentActivity", *bad)
        assert error.value.code == -32602
    # A node describes the method it added, like every other one.
    names = {method["name"] for method in client.call("rpc.discover")["methods"]}
    assert "agora_recentActivity" in names and "agora_getBlock" in names


def test_markup_from_the_chain_is_shown_as_text_and_never_runs(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    from selenium.webdriver.common.by import By

    for tx_hash, where in ((chain.shout_hash, "table.events"), (chain.revert_hash,
                                                                 "#tx-fields")):
        raw = httpx.get(f"{chain.url}/explorer/tx/{tx_hash}", timeout=10).text
        assert "<script>window" not in raw and "<img src=x" not in raw
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in raw
        browser.get(f"{chain.url}/explorer/tx/{tx_hash}")
        assert "<script>window.__pwned = 1</script>" in _text(browser, where)
        main = browser.find_element(By.TAG_NAME, "main")
        assert not main.find_elements(By.TAG_NAME, "script")
        assert not main.find_elements(By.TAG_NAME, "img")
        assert browser.execute_script("return window.__pwned === undefined")
    _shoot(browser, screenshots, "markup_is_text")
    browser.get(f"{chain.url}/explorer/tx/{chain.cross_shard_hash}")
    assert "CROSS_SHARD" in _text(browser, "#tx-fields")


def test_unknown_hashes_and_an_unreachable_node_get_clear_messages(
        chain: Chain, browser: Any, screenshots: Path) -> None:
    unknown = "ab" * 32
    browser.get(f"{chain.url}/explorer/tx/{unknown}")
    assert "No committed transaction" in _text(browser, "#error")
    _shoot(browser, screenshots, "not_found")
    browser.get(f"{chain.url}/explorer/search?q={unknown}")
    assert "Nothing is known about this address" in _text(browser, "#nothing-known")
    browser.get(f"{chain.url}/explorer/search?q=not-a-hash")
    assert "Not a transaction hash" in _text(browser, "#error")
    # A validator going down: the overview of another node says so, and the live view of
    # the stopped node's own page says it lost the node.
    local = chain.cluster.local
    browser.get(f"{local.rpc_urls[3]}/explorer")
    _wait_for("the WebSocket feed", lambda: "Live:" in _text(browser, "#live-status"))
    local.kill(3, signal.SIGTERM)
    _wait_for("the live view to notice",
              lambda: "Node unreachable" in _text(browser, "#live-status"))
    browser.get(f"{chain.url}/explorer")
    validators = _rows(browser, "validators")
    assert validators[3][4] == "unreachable" and validators[0][4] == "reachable"
    _shoot(browser, screenshots, "validator_down")
