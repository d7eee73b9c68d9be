"""A deployed marketplace world: token, KYC registry, collectible, revenue split, market."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.templates.chain import Chain, account

ISSUER = account("issuer")  # token issuer, collectible minter, market governor
RIGHTS = account("rights-holder")
CHANNEL = account("channel")
PLATFORM = account("platform-fees")
VERIFIER = account("verifier")
ALICE = account("alice")
BOB = account("bob")
CAROL = account("carol")
DAVE = account("dave-unverified")
TRADERS = [ALICE, BOB, CAROL]

TOKEN = account("token-contract")
KYC = account("kyc-contract")
NFT = account("nft-contract")
SPLIT = account("split-contract")
MARKET = account("market-contract")
AUCTION = account("auction-contract")
ALL_CONTRACTS = [TOKEN, KYC, NFT, SPLIT, MARKET, AUCTION]
HOLDERS = [ISSUER, RIGHTS, CHANNEL, PLATFORM, ALICE, BOB, CAROL, DAVE, *ALL_CONTRACTS]

FUNDS_EACH = 1_000_000
ROYALTY_BP = 1000  # 10 %
FEE_BP = 250  # 2.5 %


@dataclass
class World:
    chain: Chain = field(default_factory=Chain)

    def balance(self, who: bytes) -> int:
        return self.chain.view(TOKEN, "balance_of", who=who)

    def total_balances(self) -> int:
        return sum(self.balance(who) for who in HOLDERS)


def make_world(deviation_bp: int = 5000, cooldown: int = 3600, items: int = 4) -> World:
    """Everyone verified except DAVE; each trader funded and owning `items` collectibles
    (ALICE owns 1..items, BOB items+1.., ...), royalties to the 30/40/30 split."""
    world = World()
    chain = world.chain
    chain.deploy("kyc", KYC, ISSUER)
    chain.ok(KYC, "add_verifier", ISSUER, verifier=VERIFIER)
    chain.deploy("token", TOKEN, ISSUER, token_name="Gold", amount=10 * FUNDS_EACH,
                 kyc_registry=KYC)
    chain.deploy("nft", NFT, ISSUER)
    chain.deploy("split", SPLIT, ISSUER, token_address=TOKEN,
                 payee_list=[RIGHTS, ISSUER, CHANNEL])
    chain.deploy("market", MARKET, ISSUER, token_address=TOKEN, fee=FEE_BP, recipient=PLATFORM,
                 kyc_registry=KYC, deviation_bp=deviation_bp, cooldown=cooldown)
    chain.ok(MARKET, "govern", ISSUER, action=["allow_collection", NFT])
    chain.ok(MARKET, "govern", ISSUER, action=["register_split", SPLIT])
    item = 0
    for who in TRADERS:
        chain.ok(KYC, "register", VERIFIER, who=who, level=1)
        chain.ok(TOKEN, "transfer", ISSUER, to=who, amount=FUNDS_EACH)
        for _ in range(items):
            item += 1
            chain.ok(NFT, "mint", ISSUER, to=who, token=item, royalty_bp=ROYALTY_BP,
                     royalty_receiver=SPLIT)
    for who in [*TRADERS, DAVE]:
        chain.ok(NFT, "set_approval_for_all", who, operator=MARKET, approved=True)
        chain.ok(TOKEN, "approve", who, spender=MARKET, amount=10 * FUNDS_EACH)
    return world
