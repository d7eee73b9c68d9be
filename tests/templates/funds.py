"""A chain with one platform token and funded accounts, for the value-moving templates.

`money_world(contract, template, people, **init)` deploys the token (issuer ISSUER), funds
each person with `funds` tokens, deploys `template` at `contract` and has every person
approve it for all their funds. `Money.total()` sums the token balances of everyone the
test knows about, so a conservation check is one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.templates.chain import Chain, account

ISSUER = account("issuer")
TOKEN = account("token-contract")
FUNDS = 1_000_000


@dataclass
class Money:
    chain: Chain
    holders: list[bytes] = field(default_factory=list)

    def balance(self, who: bytes, token: bytes = TOKEN) -> int:
        return self.chain.view(token, "balance_of", who=who)

    def total(self, token: bytes = TOKEN) -> int:
        return sum(self.balance(who, token) for who in self.holders)

    def supply(self, token: bytes = TOKEN) -> int:
        return self.chain.view(token, "total_supply")


def money_world(contract: bytes, template: str, people: list[bytes], funds: int = FUNDS,
                deployer: bytes = ISSUER, **init: Any) -> Money:
    chain = Chain()
    chain.deploy("token", TOKEN, ISSUER, token_name="Gold", amount=funds * (len(people) + 1))
    for who in people:
        chain.ok(TOKEN, "transfer", ISSUER, to=who, amount=funds)
    chain.deploy(template, contract, deployer, **init)
    for who in [ISSUER, *people]:
        chain.ok(TOKEN, "approve", who, spender=contract, amount=funds * (len(people) + 1))
    holders = list(dict.fromkeys([ISSUER, *people, contract]))
    return Money(chain, holders)
