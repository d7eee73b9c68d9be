"""Crowdfunding / presale: a goal and a deadline; if the goal is met by the deadline the
creator claims the funds once, otherwise each backer takes their pledge back once.

Pledges are in the platform token (vm/templates/token.py); backers approve this contract
first. Pledges are accepted until the deadline (block time, exclusive) and may exceed the
goal. Nothing can be claimed or refunded before the deadline.

Methods:
    init(token_address)
    create(goal, deadline, title="") -> campaign id     creator = sender
    pledge(campaign, amount)             before the deadline
    claim(campaign)                      creator; at/after the deadline; goal met; once
    refund(campaign)                     backer; at/after the deadline; goal missed; once
    views: campaign_of(campaign) -> dict, pledged_of(campaign, backer), state_of(campaign)
           -> "funding" | "succeeded" | "failed" | "claimed"

Events: Configured(token), Created(campaign, creator, goal, deadline, title),
Pledged(campaign, backer, amount, raised), Claimed(campaign, creator, amount),
Refunded(campaign, backer, amount).

Errors (REVERT): "goal must be positive", "deadline in the past", "title too long",
"no such campaign", "amount must be positive", "deadline passed", "too early",
"only the creator", "goal not met", "already claimed", "goal met", "nothing to refund".

Invariants: this contract's balance equals the sum over campaigns of raised minus claimed
minus refunded; a campaign pays out either to its creator (once, all of it) or back to its
backers (each once, exactly their pledges), never both. Same-shard tested only: cross-shard
txs do not exist yet.
"""

TITLE_BYTES_MAX = 200

token = Value()
campaigns = Map()  # id -> {"creator", "goal", "deadline", "raised", "claimed", "title"}
pledges = Map()  # (campaign, backer) -> amount still pledged
campaign_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


@export
def create(goal: int, deadline: int, title: str = "") -> int:
    require(goal > 0, "goal must be positive")
    require(deadline > ctx.time, "deadline in the past")
    require(len(title) <= TITLE_BYTES_MAX, "title too long")
    number = campaign_count.get(0) + 1
    campaign_count.set(number)
    campaigns[number] = {"creator": ctx.sender, "goal": goal, "deadline": deadline,
                         "raised": 0, "claimed": False, "title": title}
    emit("Created", campaign=number, creator=ctx.sender, goal=goal, deadline=deadline,
         title=title)
    return number


def load(campaign: int) -> dict:
    entry = campaigns.get(campaign)
    require(entry is not None, "no such campaign")
    return entry


@export
def pledge(campaign: int, amount: int):
    entry = load(campaign)
    require(amount > 0, "amount must be positive")
    require(ctx.time < entry["deadline"], "deadline passed")
    entry["raised"] = entry["raised"] + amount
    campaigns[campaign] = entry
    pledges[(campaign, ctx.sender)] = pledges.get((campaign, ctx.sender), 0) + amount
    emit("Pledged", campaign=campaign, backer=ctx.sender, amount=amount,
         raised=entry["raised"])
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=amount)


@export
def claim(campaign: int):
    entry = load(campaign)
    require(ctx.sender == entry["creator"], "only the creator")
    require(ctx.time >= entry["deadline"], "too early")
    require(entry["raised"] >= entry["goal"], "goal not met")
    require(not entry["claimed"], "already claimed")
    entry["claimed"] = True
    campaigns[campaign] = entry
    emit("Claimed", campaign=campaign, creator=ctx.sender, amount=entry["raised"])
    call(token.get(), "transfer", to=ctx.sender, amount=entry["raised"])


@export
def refund(campaign: int):
    entry = load(campaign)
    require(ctx.time >= entry["deadline"], "too early")
    require(entry["raised"] < entry["goal"], "goal met")
    amount = pledges.get((campaign, ctx.sender), 0)
    require(amount > 0, "nothing to refund")
    del pledges[(campaign, ctx.sender)]
    emit("Refunded", campaign=campaign, backer=ctx.sender, amount=amount)
    call(token.get(), "transfer", to=ctx.sender, amount=amount)


@view
def campaign_of(campaign: int) -> dict:
    return load(campaign)


@view
def pledged_of(campaign: int, backer: bytes) -> int:
    return pledges.get((campaign, backer), 0)


@view
def state_of(campaign: int) -> str:
    entry = load(campaign)
    if entry["claimed"]:
        return "claimed"
    if ctx.time < entry["deadline"]:
        return "funding"
    if entry["raised"] >= entry["goal"]:
        return "succeeded"
    return "failed"
