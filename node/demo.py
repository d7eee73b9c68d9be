"""``agora demo``: marketplace stories on a running cluster, narrated.

Scenarios (``agora demo --scenario NAME``): ``marketplace`` (the default, below),
``tickets`` (a capped resale with royalty, a refused overpriced
resale and double check-in, a cancelled event refunding the holder) and ``mysterybox``
(a three-party commit-reveal draw, then a draw the seller
withholds, which forfeits the seller's bond to the buyer). Each prints where the value went,
read back from chain state, and checks that it is conserved.

The marketplace scenario deploys the templates (KYC registry, platform token, collectible, 30/40/30 revenue split,
marketplace) side by side in one shard, mints a collectible with a 10 % royalty paid to the
split, lists it, buys it with tokens, and shows where every token of the price went:
the seller's proceeds, the platform fee, and the royalty divided 30/40/30 between the
rights holder, the issuer and the channel, then claimed. Every step is a signed
transaction committed by the validators; every figure printed is read back from chain
state with read-only calls.

Fees: every tx pays ``gas used x gas price`` in native units (ledger/fees.py). Given a
funding account (``agora demo`` uses the local cluster's faucet), the demo gives each of
its people native funds first, then prints the gas each used and the fees each paid,
read back from their native balances. Its people and contracts live in the funder's
shard, where their fees are paid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from node.client import Account, AgoraClient
from vm import codec as vm_codec

templates_dir = Path(__file__).resolve().parents[1] / "vm" / "templates"
demo_shard = 0  # the shard of the local cluster's faucet (node/setup.py)
native_funds = 10**8  # per person, for fees
price = 10_000
royalty_bp = 1_000
fee_bp = 250
buyer_funds = 100_000


class DemoFailed(RuntimeError):
    pass


class Demo:
    cast: tuple[str, ...] = ("issuer", "verifier", "rights holder", "channel", "platform",
                             "alice", "bob")

    def __init__(self, client: AgoraClient, console: Console,
                 funder: Account | None = None) -> None:
        self.client = client
        self.console = console
        self.funder = funder
        shard_count = client.chain()[1]
        self.people = {name: _account_in_shard(demo_shard, shard_count) for name in self.cast}
        self.contracts: dict[str, bytes] = {}
        self.gas_used: dict[str, int] = {name: 0 for name in self.people}

    def fund(self) -> None:
        """Give every person ``native_funds`` from the funder, for their fees."""
        if self.funder is None:
            return
        txs = [self.client.build_transfer(self.funder, account.address, native_funds,
                                          nonce=index)
               for index, account in enumerate(self.people.values())]
        for tx, name in zip(txs, self.people):
            self._wait(tx, f"fund {name}")

    def address(self, name: str) -> bytes:
        return self.people[name].address

    def deploy(self, template: str, by: str, **init: Any) -> bytes:
        source = (templates_dir / f"{template}.py").read_text()
        tx = self.client.build_deploy(self.people[by], source, init, shard=demo_shard)
        self.gas_used[by] += int(self._wait(tx, f"deploy {template}").get("gas_used", 0))
        self.contracts[template] = tx.contract
        self.console.print(f"  deployed [bold]{template}[/] at {tx.contract.hex()[:16]}…")
        return tx.contract

    def send(self, contract: str, method: str, by: str, **args: Any) -> Any:
        tx = self.client.build_contract_call(self.people[by], self.contracts[contract],
                                             method, args)
        receipt = self._wait(tx, f"{contract}.{method}")
        self.gas_used[by] += int(receipt.get("gas_used", 0))
        result = receipt.get("result") or ""
        return vm_codec.decode(bytes.fromhex(result)) if result else None

    def view(self, contract: str, method: str, **args: Any) -> Any:
        return self.client.view(self.contracts[contract], method, args)

    def _wait(self, tx: Any, what: str) -> dict[str, Any]:
        receipt = self.client.submit_and_wait(tx, timeout_seconds=30)
        if not receipt.get("ok"):
            raise DemoFailed(f"{what} failed: {receipt.get('status_name')}: "
                             f"{receipt.get('error')}")
        return receipt

    def balance(self, name: str) -> int:
        who = self.contracts[name] if name in self.contracts else self.address(name)
        return int(self.view("token", "balance_of", who=who))

    def run(self) -> dict[str, int]:
        out = self.console
        out.rule("Agora demo: a collectible sale with royalty and a 30/40/30 split")
        if self.funder is not None:
            out.print(f"0. Funding the seven people with {native_funds:,} native units each "
                      "for their fees")
            self.fund()
        out.print("1. Deploying the templates in shard 0")
        self.deploy("kyc", "issuer")
        self.send("kyc", "add_verifier", "issuer", verifier=self.address("verifier"))
        self.deploy("token", "issuer", token_name="Gold", amount=10 * buyer_funds,
                    kyc_registry=self.contracts["kyc"])
        self.deploy("nft", "issuer")
        self.deploy("split", "issuer", token_address=self.contracts["token"],
                    payee_list=[self.address("rights holder"), self.address("issuer"),
                                self.address("channel")])
        self.deploy("market", "issuer", token_address=self.contracts["token"], fee=fee_bp,
                    recipient=self.address("platform"), kyc_registry=self.contracts["kyc"],
                    deviation_bp=5000, cooldown=3600)
        self.send("market", "govern", "issuer", action=["allow_collection",
                                                         self.contracts["nft"]])
        self.send("market", "govern", "issuer", action=["register_split",
                                                         self.contracts["split"]])
        out.print("2. KYC for the traders, tokens for the buyer, a collectible for the seller")
        for trader in ("alice", "bob"):
            self.send("kyc", "register", "verifier", who=self.address(trader), level=1)
        self.send("token", "transfer", "issuer", to=self.address("bob"), amount=buyer_funds)
        self.send("nft", "mint", "issuer", to=self.address("alice"), token=1,
                  royalty_bp=royalty_bp, royalty_receiver=self.contracts["split"])
        self.send("nft", "set_approval_for_all", "alice", operator=self.contracts["market"],
                  approved=True)
        self.send("token", "approve", "bob", spender=self.contracts["market"],
                  amount=buyer_funds)
        out.print(f"3. Alice lists collectible #1 for {price} Gold; Bob buys it")
        listing = self.send("market", "list_item", "alice", collection=self.contracts["nft"],
                            item=1, price=price)
        bought = self.send("market", "buy", "bob", listing=listing)
        if bought is not True:
            raise DemoFailed(f"the purchase did not go through: buy returned {bought!r}")
        owner = self.view("nft", "owner_of", token=1)
        out.print(f"   collectible #1 now belongs to "
                  f"{'Bob' if owner == self.address('bob') else owner.hex()}")
        out.print("4. The payees claim their share of the royalty (pull-based)")
        owed = {name: int(self.view("split", "owed", who=self.address(name)))
                for name in ("rights holder", "issuer", "channel")}
        issuer_before = self.balance("issuer")
        for name in owed:
            self.send("split", "claim", name)
        figures = {
            "price": price, "royalty": price * royalty_bp // 10_000,
            "fee": price * fee_bp // 10_000,
            "seller": self.balance("alice"), "platform": self.balance("platform"),
            "rights holder": self.balance("rights holder"),
            "issuer (claimed)": self.balance("issuer") - issuer_before,
            "channel": self.balance("channel"), "buyer left": self.balance("bob"),
        }
        self._report(figures, owed)
        figures["fees"] = self._report_fees()
        return figures

    def _report_fees(self) -> int:
        """Print each person's gas and fees (funds minus native balance); the total."""
        if self.funder is None:
            return 0
        table = Table(title="Fees paid (native units, read back from native balances)")
        for column, justify in (("person", "left"), ("gas used", "right"),
                                ("fees paid", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        total_gas = total_fees = 0
        for name, account in self.people.items():
            fees = native_funds - self.client.balance(account.address)
            total_gas += self.gas_used[name]
            total_fees += fees
            table.add_row(name, f"{self.gas_used[name]:,}", f"{fees:,}")
        table.add_row("total", f"{total_gas:,}", f"{total_fees:,}")
        self.console.print(table)
        if total_gas:
            self.console.print(f"gas price: {total_fees / total_gas:g} native units per gas")
        return total_fees

    def _report(self, figures: dict[str, int], owed: dict[str, int]) -> None:
        table = Table(title="Where the price went (read back from chain state)")
        table.add_column("account")
        table.add_column("Gold", justify="right")
        table.add_row("Alice, seller (price - royalty - fee)", str(figures["seller"]))
        table.add_row("platform fee (2.5 %)", str(figures["platform"]))
        table.add_row("royalty to the split (10 %)", str(figures["royalty"]))
        table.add_row("  rights holder (30 %)", str(figures["rights holder"]))
        table.add_row("  issuer (40 %)", str(figures["issuer (claimed)"]))
        table.add_row("  channel (30 %)", str(figures["channel"]))
        table.add_row("Bob, buyer, left of 100,000", str(figures["buyer left"]))
        self.console.print(table)
        paid = figures["seller"] + figures["platform"] + figures["rights holder"] + \
            figures["issuer (claimed)"] + figures["channel"]
        self.console.print(f"seller + fee + royalty shares = {paid} = the price {price}: "
                           f"{'conserved' if paid == price else 'NOT CONSERVED'}")
        if paid != price or list(owed.values()) != [300, 400, 300]:
            raise DemoFailed(f"unexpected figures: {figures}, owed {owed}")


class Story(Demo):
    """What the scenarios beyond the marketplace share: a token, refusals shown as such,
    waiting for heights, and a table of who gained or lost what."""

    def fund_people(self) -> None:
        if self.funder is not None:
            self.console.print(f"0. Funding the {len(self.people)} people with "
                               f"{native_funds:,} native units each for their fees")
            self.fund()

    def expect_revert(self, contract: str, method: str, by: str, reason: str,
                      **args: Any) -> None:
        """Sends a call that must be refused with `reason`; the refusal changes nothing."""
        tx = self.client.build_contract_call(self.people[by], self.contracts[contract],
                                             method, args)
        receipt = self.client.submit_and_wait(tx, timeout_seconds=30)
        error = str(receipt.get("error") or "")
        if receipt.get("ok") or reason not in error:
            raise DemoFailed(f"{contract}.{method} should have been refused with "
                             f"{reason!r}: {receipt}")
        self.console.print(f"   refused as it should be: {contract}.{method} -> {error!r}")

    def block_time_seconds(self) -> int:
        latest = self.client.latest_block(demo_shard)
        return 0 if latest is None else int(latest["timestamp_ms"]) // 1000

    def wait_for_height(self, height: int, timeout_seconds: float = 120.0) -> None:
        """Waits (the primary cuts an empty block every second) until `height` exists."""
        import time

        deadline = time.monotonic() + timeout_seconds
        while True:
            latest = self.client.latest_block(demo_shard)
            if latest is not None and int(latest["height"]) >= height:
                return
            if time.monotonic() > deadline:
                raise DemoFailed(f"shard {demo_shard} did not reach height {height} "
                                 f"within {timeout_seconds:.0f} s")
            time.sleep(0.2)

    def holdings(self, names: tuple[str, ...]) -> dict[str, int]:
        return {name: self.balance(name) for name in names}

    def report_moves(self, title: str, before: dict[str, int], after: dict[str, int],
                     notes: dict[str, str]) -> dict[str, int]:
        table = Table(title=title)
        table.add_column("account")
        table.add_column("before", justify="right")
        table.add_column("after", justify="right")
        table.add_column("change", justify="right")
        table.add_column("why")
        moves = {name: after[name] - before[name] for name in before}
        for name in before:
            table.add_row(name, str(before[name]), str(after[name]), f"{moves[name]:+d}",
                          notes.get(name, ""))
        self.console.print(table)
        total = sum(moves.values())
        self.console.print(f"sum of changes = {total}: "
                           f"{'conserved' if total == 0 else 'NOT CONSERVED'}")
        if total != 0:
            raise DemoFailed(f"value not conserved: {moves}")
        return moves


class TicketsStory(Story):
    """Tickets with a capped resale, a royalty, check-in once, and a cancellation refund."""

    cast = ("organiser", "gate", "alice", "bob")
    face_price = 100
    cap_bp = 12_000
    royalty_bp = 1_000

    def run(self) -> dict[str, int]:
        out = self.console
        out.rule("Agora demo: event tickets with a capped resale, a royalty and a refund")
        self.fund_people()
        out.print("1. Deploying the token and the tickets template in shard 0")
        self.deploy("token", "organiser", token_name="Gold", amount=10 * buyer_funds)
        self.deploy("tickets", "organiser", token_address=self.contracts["token"])
        for fan in ("alice", "bob"):
            self.send("token", "transfer", "organiser", to=self.address(fan),
                      amount=buyer_funds)
            self.send("token", "approve", fan, spender=self.contracts["tickets"],
                      amount=buyer_funds)
        starts_at = self.block_time_seconds() + 3600
        event = self.send("tickets", "create_event", "organiser", starts_at=starts_at,
                          tiers=[["floor", self.face_price, 2]],
                          resale_cap_bp=self.cap_bp, royalty_bp=self.royalty_bp)
        self.send("tickets", "set_gate", "organiser", event=event,
                  gate=self.address("gate"), allowed=True)
        names = ("organiser", "alice", "bob", "tickets")
        before = self.holdings(names)
        out.print(f"2. Alice buys a floor ticket at face value {self.face_price} (into escrow)")
        ticket = self.send("tickets", "buy", "alice", event=event, tier=0)
        out.print("3. Alice tries to resell above the organiser's 120 % cap, then at the cap")
        self.expect_revert("tickets", "list_resale", "alice", "price above the cap",
                           ticket=ticket, price=121)
        self.send("tickets", "list_resale", "alice", ticket=ticket, price=120)
        out.print("4. Bob buys the resale: 10 % royalty to the organiser, the rest to Alice")
        self.send("tickets", "buy_resale", "bob", ticket=ticket)
        out.print("5. The gate checks Bob in; a second check-in is refused")
        self.send("tickets", "check_in", "gate", ticket=ticket, holder=self.address("bob"))
        self.expect_revert("tickets", "check_in", "gate", "checked in", ticket=ticket,
                           holder=self.address("bob"))
        out.print("6. The organiser cancels the event; Bob, the holder, is refunded the face "
                  "value")
        self.send("tickets", "cancel_event", "organiser", event=event)
        self.send("tickets", "refund", "bob", ticket=ticket)
        self.expect_revert("tickets", "refund", "bob", "already refunded", ticket=ticket)
        after = self.holdings(names)
        return self.report_moves("Where the value went (read back from chain state)", before,
                                 after, {
                                     "organiser": "royalty 12 on the 120 resale",
                                     "alice": "paid 100, resold for 120 less the royalty",
                                     "bob": "paid 120, refunded the 100 face value",
                                     "tickets": "escrow: 100 in, 100 refunded"})


class MysteryBoxStory(Story):
    """A blind box drawn by three-party commit-reveal, and a withheld reveal forfeited."""

    cast = ("seller", "witness", "alice")
    price = 100
    bond = 400
    outcomes = [["common", 70], ["rare", 25], ["legendary", 5]]
    # Generous windows: empty blocks (1 s apart by default) keep coming while a loaded
    # machine is slow to answer, and every commit and reveal must land inside them.
    window_blocks = 20
    next_draw = 1  # the contract numbers draws 1, 2, ... (a fresh deployment)

    def commit_all(self, draw: int, secrets_by_name: dict[str, bytes]) -> None:
        from vm.templates import box_commitment

        for name in ("seller", "witness"):
            self.send("mysterybox", "commit", name, draw=draw,
                      commitment=box_commitment(draw, self.address(name),
                                                secrets_by_name[name]))

    def buy(self, series: int, secrets_by_name: dict[str, bytes]) -> int:
        from vm.templates import box_commitment

        next_draw = self.next_draw
        self.next_draw += 1
        draw = self.send("mysterybox", "buy", "alice", series=series,
                         commitment=box_commitment(next_draw, self.address("alice"),
                                                   secrets_by_name["alice"]))
        if draw != next_draw:
            raise DemoFailed(f"expected draw {next_draw}, got {draw}")
        return int(draw)

    def run(self) -> dict[str, int]:
        import secrets

        out = self.console
        out.rule("Agora demo: a mystery box drawn by buyer, seller and witness together")
        self.fund_people()
        out.print("1. Deploying the token and the mystery box in shard 0")
        self.deploy("token", "seller", token_name="Gold", amount=10 * buyer_funds)
        self.deploy("mysterybox", "seller", token_address=self.contracts["token"])
        for name in ("witness", "alice"):
            self.send("token", "transfer", "seller", to=self.address(name), amount=buyer_funds)
        for name in ("seller", "witness", "alice"):
            self.send("token", "approve", name, spender=self.contracts["mysterybox"],
                      amount=buyer_funds)
        series = self.send("mysterybox", "create_series", "seller", price=self.price,
                           bond=self.bond, witness=self.address("witness"),
                           outcomes=self.outcomes, commit_blocks=self.window_blocks,
                           reveal_blocks=self.window_blocks)
        odds = ", ".join(f"{label} {weight} %" for label, weight in self.outcomes)
        out.print(f"   series {series}: price {self.price}, bond {self.bond}, odds {odds}")
        names = ("seller", "witness", "alice", "mysterybox")
        before = self.holdings(names)
        out.print("2. Alice buys a box and commits; the seller and the witness commit "
                  "(posting bonds); all three reveal")
        first = {name: secrets.token_bytes(32) for name in ("seller", "witness", "alice")}
        draw = self.buy(series, first)
        self.commit_all(draw, first)
        self.expect_revert("mysterybox", "reveal", "alice", "wrong secret", draw=draw,
                           secret=b"not my secret at all")
        for name in ("alice", "witness", "seller"):
            self.send("mysterybox", "reveal", name, draw=draw, secret=first[name])
        index, label = self.view("mysterybox", "outcome_of", draw=draw)
        out.print(f"   draw {draw}: outcome {index} [bold]{label}[/] (seed from all three "
                  "secrets, no block data)")
        out.print("3. A second box: the seller commits but never reveals")
        second = {name: secrets.token_bytes(32) for name in ("seller", "witness", "alice")}
        withheld = self.buy(series, second)
        self.commit_all(withheld, second)
        for name in ("alice", "witness"):
            self.send("mysterybox", "reveal", name, draw=withheld, secret=second[name])
        deadline = int(self.view("mysterybox", "draw_of", draw=withheld)["reveal_deadline"])
        self.expect_revert("mysterybox", "settle", "alice", "too early", draw=withheld)
        out.print(f"   waiting for the reveal deadline (height {deadline})")
        self.wait_for_height(deadline)
        self.send("mysterybox", "settle", "alice", draw=withheld)
        out.print("   settled: Alice refunded the price plus the seller's forfeited bond")
        after = self.holdings(names)
        moves = self.report_moves("Where the value went (read back from chain state)",
                                  before, after, {
                                      "seller": "+100 for box 1, -400 bond forfeited on box 2",
                                      "witness": "bonds returned both times",
                                      "alice": "-100 for box 1, +400 seller's bond on box 2",
                                      "mysterybox": "holds nothing once both draws settle"})
        if moves["alice"] != self.bond - self.price or moves["mysterybox"] != 0:
            raise DemoFailed(f"unexpected moves: {moves}")
        return {**moves, "outcome": int(index)}


scenarios = ("marketplace", "tickets", "mysterybox")


def _account_in_shard(shard: int, shard_count: int) -> Account:
    from ledger.sharding import shard_of_account

    while True:
        account = Account.generate()
        if shard_of_account(account.address, shard_count) == shard:
            return account


def run_demo(rpc_url: str, console: Console | None = None, scenario: str = "marketplace",
             funder: Account | None = None) -> dict[str, int]:
    """Runs one scenario against the node at ``rpc_url``; returns its figures. ``funder``
    pays the people's fees (None: the chain must charge no fees)."""
    client, out = AgoraClient(rpc_url), console or Console()
    stories = {"marketplace": Demo, "tickets": TicketsStory, "mysterybox": MysteryBoxStory}
    if scenario not in stories:
        raise DemoFailed(f"unknown scenario {scenario!r}; choose one of {', '.join(scenarios)}")
    return stories[scenario](client, out, funder).run()
