"""``agora demo``: a marketplace sale on a running cluster, narrated.

Deploys the templates (KYC registry, platform token, collectible, 30/40/30 revenue split,
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
    def __init__(self, client: AgoraClient, console: Console,
                 funder: Account | None = None) -> None:
        self.client = client
        self.console = console
        self.funder = funder
        shard_count = client.chain()[1]
        self.people = {name: _account_in_shard(demo_shard, shard_count) for name in (
            "issuer", "verifier", "rights holder", "channel", "platform", "alice", "bob")}
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


def _account_in_shard(shard: int, shard_count: int) -> Account:
    from ledger.sharding import shard_of_account

    while True:
        account = Account.generate()
        if shard_of_account(account.address, shard_count) == shard:
            return account


def run_demo(rpc_url: str, console: Console | None = None,
             funder: Account | None = None) -> dict[str, int]:
    """Run the demo against ``rpc_url``; ``funder`` pays the people's fees (None: the
    chain must charge no fees)."""
    return Demo(AgoraClient(rpc_url), console or Console(), funder).run()
