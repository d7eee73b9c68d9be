"""Mystery box (blind box): an outcome drawn by commit-reveal among three parties (the
buyer, the seller and an independent witness), with stated odds, forfeits for a party
that does not reveal, and the price held in escrow until the draw settles.

A seller creates a series: a price, a bond, a witness account and outcomes [[label,
weight], ...]; the odds of outcome i are weight_i / sum of weights, exactly (see "Odds").
A draw runs in heights:
  1. buy(series, commitment): the buyer pays the price into escrow and commits.
  2. commit(draw, commitment): the seller and the witness commit, each posting the series'
     bond, before commit_deadline = buy height + commit_blocks.
  3. reveal(draw, secret): once all three have committed, each reveals before
     reveal_deadline = commit_deadline + reveal_blocks. A commitment is
     sha256(draw as 8 bytes || party || secret) (vm.templates.box_commitment), secrets
     are 16..64 bytes. When the third secret is revealed the draw settles at once.
  4. settle(draw): anyone, once a deadline has passed without every reveal.

The outcome: seed = sha256(draw || sha256(buyer secret) || sha256(seller secret) ||
sha256(witness secret)); r = seed as a 256-bit integer mod the total weight; the outcome is
the first i with r < weight_0 + ... + weight_i.

Who can bias or predict it: no party knows the others' secrets before it has committed,
so nobody can choose a secret that steers the seed, and nobody can predict it until the
last reveal. The last revealer does learn the outcome first and may withhold; that is
what the forfeits price: a buyer who withholds loses the price to the seller; a seller or
witness who withholds loses its bond to the buyer, who is also refunded. Sellers should
set the bond at least at the value of the best outcome less the price, so withholding
never pays. Validators see only commitments and reveals: the seed uses no block data
(height, time, tx hash), so a proposer cannot bias it; one that censors reveals until the
deadline only triggers the forfeit rules, and reveal_blocks should outlast view changes.

Settlement (value conserved: price + bonds are paid out exactly once):
  - every reveal in: outcome drawn; price to the seller; bonds back to their posters;
  - seller or witness never committed by commit_deadline: price back to the buyer,
    any posted bond back to its poster;
  - reveal deadline passed, buyer did not reveal: price to the seller; each bond back to
    its poster;
  - reveal deadline passed, buyer revealed: price back to the buyer, plus the bond of each
    of seller and witness that did not reveal; revealers get their bonds back.

Odds: the modulo bias is below total_weight / 2**256 (total weight <= 2**32), i.e. none
that any test or user could measure; `pick(series, r)` is the exact mapping and
`odds_of(series)` states it.

Methods:
    init(token_address)
    create_series(price, bond, witness, outcomes, commit_blocks, reveal_blocks) -> series
        seller = sender; 1..OUTCOMES_MAX outcomes with weights >= 1; the witness is
        neither the seller nor empty
    buy(series, commitment) -> draw      buyer; not the seller or the witness
    commit(draw, commitment)             the seller or the witness; once; posts the bond
    reveal(draw, secret)                 a party; once
    settle(draw)                         anyone; after a deadline (see above)
    views: series_of(series) -> dict, draw_of(draw) -> dict, outcome_of(draw) -> [index,
           label], pick(series, r) -> index, odds_of(series) -> [[label, weight], total]

Events: Configured(token), SeriesCreated(series, seller, price, bond, witness, outcomes),
Bought(draw, series, buyer, price), Committed(draw, party), Revealed(draw, party),
Drawn(draw, buyer, outcome, label), Forfeited(draw, party, stake, to),
Settled(draw, how, buyer_paid, seller_paid, witness_paid).

Errors (REVERT): "bad outcomes", "bad price", "bad witness", "bad window", "no such series",
"parties must differ", "bad commitment", "no such draw", "not a party", "already committed",
"commit phase over", "commitments missing", "already revealed", "reveal phase over",
"bad secret", "wrong secret", "settled", "too early".

Invariants: each draw settles once and pays out exactly price + posted bonds; this
contract's balance equals the stakes of unsettled draws; an outcome exists only when all
three revealed, and it is pick(series, seed mod total). Same-shard tested only:
cross-shard txs do not exist yet.
"""

OUTCOMES_MAX = 32
WEIGHT_TOTAL_MAX = 4_294_967_296  # 2**32
SECRET_BYTES_MIN = 16
SECRET_BYTES_MAX = 64
BLOCKS_MAX = 100_000
OPEN = 1
SETTLED = 2
BUYER = 0
SELLER = 1
WITNESS = 2

token = Value()
series_store = Map()  # id -> {"seller", "price", "bond", "witness", "outcomes", "total",
#                               "commit_blocks", "reveal_blocks"}
draws = Map()  # id -> {"series", "parties", "commits", "secrets", "stakes",
#                       "commit_deadline", "reveal_deadline", "status", "outcome"}
series_count = Value()
draw_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


@export
def create_series(price: int, bond: int, witness: bytes, outcomes: list, commit_blocks: int,
                  reveal_blocks: int) -> int:
    require(price > 0 and bond >= 0, "bad price")
    require(len(witness) > 0 and witness != ctx.sender, "bad witness")
    require(commit_blocks > 0 and reveal_blocks > 0 and commit_blocks <= BLOCKS_MAX and
            reveal_blocks <= BLOCKS_MAX, "bad window")
    require(len(outcomes) > 0 and len(outcomes) <= OUTCOMES_MAX, "bad outcomes")
    total = 0
    for outcome in outcomes:
        require(len(outcome) == 2 and outcome[1] >= 1, "bad outcomes")
        total = total + outcome[1]
    require(total <= WEIGHT_TOTAL_MAX, "bad outcomes")
    number = series_count.get(0) + 1
    series_count.set(number)
    series_store[number] = {"seller": ctx.sender, "price": price, "bond": bond,
                            "witness": witness, "outcomes": outcomes, "total": total,
                            "commit_blocks": commit_blocks, "reveal_blocks": reveal_blocks}
    emit("SeriesCreated", series=number, seller=ctx.sender, price=price, bond=bond,
         witness=witness, outcomes=outcomes)
    return number


def load_series(series: int) -> dict:
    entry = series_store.get(series)
    require(entry is not None, "no such series")
    return entry


def check_commitment(commitment: bytes):
    require(len(commitment) == 32, "bad commitment")


@export
def buy(series: int, commitment: bytes) -> int:
    entry = load_series(series)
    require(ctx.sender != entry["seller"] and ctx.sender != entry["witness"],
            "parties must differ")
    check_commitment(commitment)
    number = draw_count.get(0) + 1
    draw_count.set(number)
    commit_deadline = ctx.height + entry["commit_blocks"]
    draws[number] = {"series": series,
                     "parties": [ctx.sender, entry["seller"], entry["witness"]],
                     "commits": [commitment, b"", b""], "secrets": [b"", b"", b""],
                     "stakes": [entry["price"], 0, 0], "commit_deadline": commit_deadline,
                     "reveal_deadline": commit_deadline + entry["reveal_blocks"],
                     "status": OPEN, "outcome": -1}
    emit("Bought", draw=number, series=series, buyer=ctx.sender, price=entry["price"])
    emit("Committed", draw=number, party=ctx.sender)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address,
         amount=entry["price"])
    return number


def open_draw(draw: int) -> dict:
    entry = draws.get(draw)
    require(entry is not None, "no such draw")
    require(entry["status"] == OPEN, "settled")
    return entry


def role_of(entry: dict, who: bytes) -> int:
    parties = entry["parties"]
    require(who in parties, "not a party")
    return parties.index(who)


@export
def commit(draw: int, commitment: bytes):
    entry = open_draw(draw)
    role = role_of(entry, ctx.sender)
    require(len(entry["commits"][role]) == 0, "already committed")
    require(ctx.height < entry["commit_deadline"], "commit phase over")
    check_commitment(commitment)
    bond = series_store[entry["series"]]["bond"]
    entry["commits"][role] = commitment
    entry["stakes"][role] = bond
    draws[draw] = entry
    emit("Committed", draw=draw, party=ctx.sender)
    if bond > 0:
        call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=bond)


def all_committed(entry: dict) -> bool:
    return all([len(commitment) > 0 for commitment in entry["commits"]])


@export
def reveal(draw: int, secret: bytes):
    entry = open_draw(draw)
    role = role_of(entry, ctx.sender)
    require(all_committed(entry), "commitments missing")
    require(len(entry["secrets"][role]) == 0, "already revealed")
    require(ctx.height < entry["reveal_deadline"], "reveal phase over")
    require(len(secret) >= SECRET_BYTES_MIN and len(secret) <= SECRET_BYTES_MAX, "bad secret")
    expected = sha256(draw.to_bytes(8, "big") + ctx.sender + secret)
    require(expected == entry["commits"][role], "wrong secret")
    entry["secrets"][role] = secret
    emit("Revealed", draw=draw, party=ctx.sender)
    if all([len(value) > 0 for value in entry["secrets"]]):
        finish(draw, entry)
    else:
        draws[draw] = entry


def choose(outcomes: list, r: int) -> int:
    upper = 0
    for index, outcome in enumerate(outcomes):
        upper = upper + outcome[1]
        if r < upper:
            return index
    revert("bad outcomes")


def finish(draw: int, entry: dict):
    terms = series_store[entry["series"]]
    secrets = entry["secrets"]
    seed = sha256(draw.to_bytes(8, "big") + sha256(secrets[BUYER]) + sha256(secrets[SELLER]) +
                  sha256(secrets[WITNESS]))
    index = choose(terms["outcomes"], int(seed.hex(), 16) % terms["total"])
    entry["outcome"] = index
    emit("Drawn", draw=draw, buyer=entry["parties"][BUYER], outcome=index,
         label=terms["outcomes"][index][0])
    stakes = entry["stakes"]
    pay_out(draw, entry, "drawn", [0, stakes[BUYER] + stakes[SELLER], stakes[WITNESS]])


def pay_out(draw: int, entry: dict, how: str, amounts: list):
    total = sum(amounts)
    require(total == sum(entry["stakes"]), "stakes not conserved")  # an assertion
    entry["status"] = SETTLED
    draws[draw] = entry
    emit("Settled", draw=draw, how=how, buyer_paid=amounts[BUYER],
         seller_paid=amounts[SELLER], witness_paid=amounts[WITNESS])
    for role in range(3):
        if amounts[role] > 0:
            call(token.get(), "transfer", to=entry["parties"][role], amount=amounts[role])


@export
def settle(draw: int):
    entry = open_draw(draw)
    stakes = entry["stakes"]
    if not all_committed(entry):
        require(ctx.height >= entry["commit_deadline"], "too early")
        pay_out(draw, entry, "not committed", stakes)
        return
    require(ctx.height >= entry["reveal_deadline"], "too early")
    revealed = [len(value) > 0 for value in entry["secrets"]]
    if not revealed[BUYER]:
        emit("Forfeited", draw=draw, party=entry["parties"][BUYER], stake=stakes[BUYER],
             to=entry["parties"][SELLER])
        pay_out(draw, entry, "buyer withheld",
                [0, stakes[SELLER] + stakes[BUYER], stakes[WITNESS]])
        return
    amounts = [stakes[BUYER], 0, 0]
    for role in [SELLER, WITNESS]:
        if revealed[role]:
            amounts[role] = stakes[role]
        else:
            amounts[BUYER] = amounts[BUYER] + stakes[role]
            emit("Forfeited", draw=draw, party=entry["parties"][role], stake=stakes[role],
                 to=entry["parties"][BUYER])
    pay_out(draw, entry, "seller or witness withheld", amounts)


@view
def series_of(series: int) -> dict:
    return load_series(series)


@view
def draw_of(draw: int) -> dict:
    entry = draws.get(draw)
    require(entry is not None, "no such draw")
    return entry


@view
def outcome_of(draw: int) -> list:
    entry = draw_of(draw)
    if entry["outcome"] < 0:
        return [-1, ""]
    label = series_store[entry["series"]]["outcomes"][entry["outcome"]][0]
    return [entry["outcome"], label]


@view
def pick(series: int, r: int) -> int:
    entry = load_series(series)
    require(r >= 0 and r < entry["total"], "bad outcomes")
    return choose(entry["outcomes"], r)


@view
def odds_of(series: int) -> list:
    entry = load_series(series)
    return [entry["outcomes"], entry["total"]]
