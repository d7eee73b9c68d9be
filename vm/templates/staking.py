"""Staking and rewards: stake a token, earn a fixed reward per block shared pro rata by
stake, unstake after a delay; total rewards never exceed the funded pool.

Stake and rewards are the same platform token (vm/templates/token.py) or two different
tokens (`reward_token_address`); stakers and funders approve this contract first.

How rewards accrue (integer arithmetic, the MasterChef accumulator): at every state change
`update()` allocates reward = min(reward_per_block * blocks since the last update,
funded - allocated) while anything is staked (no stake, no allocation: those blocks'
rewards stay in the pool), and adds floor(reward * SCALE / total_staked) to
`reward_per_share`. A staker's entitlement is kept in SCALE units without rounding
(owed += stake * (reward_per_share - the value at their last change)); a claim pays
floor(owed / SCALE) and keeps the remainder. So the sum of all entitlements never exceeds
what was allocated (the per-share floor only loses dust, which stays in the contract), and
allocation never exceeds what was funded.

Unstaking: `request_unstake(amount)` stops `amount` from earning at once and makes it
withdrawable `unstake_delay_blocks` blocks later (one pending request per staker; a new
request adds to it and restarts the delay).

Methods:
    init(token_address, reward_per_block, unstake_delay_blocks, reward_token_address=b"")
        deployer is the admin
    fund(amount)                  anyone; adds to the reward pool
    stake(amount)                 pays out pending rewards first
    request_unstake(amount)
    withdraw()                    after the delay; returns the pending unstake
    claim() -> amount             pays pending rewards
    set_reward_per_block(reward_per_block)      admin; from the next block on
    views: staker_of(who) -> dict, pending_reward(who), pool_of() -> dict, unallocated_of()

Events: Configured(token, reward_token, reward_per_block, unstake_delay_blocks),
Funded(funder, amount), Staked(who, amount), UnstakeRequested(who, amount, unlock_height),
Withdrawn(who, amount), RewardPaid(who, amount), RateSet(reward_per_block).

Errors (REVERT): "amount must be positive", "bad rate", "bad delay", "insufficient stake",
"nothing to withdraw", "too early", "nothing to claim", "only the admin".

Invariants: allocated <= funded; rewards paid + rewards owed <= allocated; the contract
holds exactly total staked + pending unstakes + funded - paid (in one token, or split over
the two). Same-shard tested only: cross-shard txs do not exist yet.
"""

SCALE = 1_000_000_000_000_000_000_000_000  # 10**24 (constants are literals)

stake_token = Value()
reward_token = Value()
admin = Value()
rate = Value()
delay = Value()
pool = Value()  # {"funded", "allocated", "paid", "per_share", "last_height", "staked"}
stakers = Map()  # who -> {"stake", "debt", "owed", "pending", "unlock"}; debt and
#                   owed in SCALE units (owed // SCALE is claimable)


@export
def init(token_address: bytes, reward_per_block: int, unstake_delay_blocks: int,
         reward_token_address: bytes = b""):
    require(reward_per_block >= 0, "bad rate")
    require(unstake_delay_blocks >= 0, "bad delay")
    rewards = reward_token_address
    if len(rewards) == 0:
        rewards = token_address
    stake_token.set(token_address)
    reward_token.set(rewards)
    admin.set(ctx.sender)
    rate.set(reward_per_block)
    delay.set(unstake_delay_blocks)
    pool.set({"funded": 0, "allocated": 0, "paid": 0, "per_share": 0,
              "last_height": ctx.height, "staked": 0})
    emit("Configured", token=token_address, reward_token=rewards,
         reward_per_block=reward_per_block, unstake_delay_blocks=unstake_delay_blocks)


def update() -> dict:
    state = pool.get()
    blocks = ctx.height - state["last_height"]
    if blocks > 0 and state["staked"] > 0:
        reward = min(rate.get() * blocks, state["funded"] - state["allocated"])
        state["allocated"] = state["allocated"] + reward
        state["per_share"] = state["per_share"] + reward * SCALE // state["staked"]
    if blocks > 0:
        state["last_height"] = ctx.height
    return state


def load_staker(who: bytes) -> dict:
    return stakers.get(who, {"stake": 0, "debt": 0, "owed": 0, "pending": 0, "unlock": 0})


def accrue(entry: dict, state: dict) -> dict:
    """Adds what the staker earned since their last change to `owed` (SCALE units)."""
    entry["owed"] = entry["owed"] + entry["stake"] * state["per_share"] - entry["debt"]
    return entry


def rebase(entry: dict, state: dict) -> dict:
    entry["debt"] = entry["stake"] * state["per_share"]
    return entry


@export
def fund(amount: int):
    require(amount > 0, "amount must be positive")
    state = update()
    state["funded"] = state["funded"] + amount
    pool.set(state)
    emit("Funded", funder=ctx.sender, amount=amount)
    call(reward_token.get(), "transfer_from", source=ctx.sender, to=ctx.address,
         amount=amount)


@export
def stake(amount: int):
    require(amount > 0, "amount must be positive")
    state = update()
    entry = accrue(load_staker(ctx.sender), state)
    entry["stake"] = entry["stake"] + amount
    state["staked"] = state["staked"] + amount
    stakers[ctx.sender] = rebase(entry, state)
    pool.set(state)
    emit("Staked", who=ctx.sender, amount=amount)
    call(stake_token.get(), "transfer_from", source=ctx.sender, to=ctx.address,
         amount=amount)


@export
def request_unstake(amount: int):
    require(amount > 0, "amount must be positive")
    state = update()
    entry = accrue(load_staker(ctx.sender), state)
    require(entry["stake"] >= amount, "insufficient stake")
    entry["stake"] = entry["stake"] - amount
    entry["pending"] = entry["pending"] + amount
    entry["unlock"] = ctx.height + delay.get()
    state["staked"] = state["staked"] - amount
    stakers[ctx.sender] = rebase(entry, state)
    pool.set(state)
    emit("UnstakeRequested", who=ctx.sender, amount=amount, unlock_height=entry["unlock"])


@export
def withdraw() -> int:
    entry = load_staker(ctx.sender)
    amount = entry["pending"]
    require(amount > 0, "nothing to withdraw")
    require(ctx.height >= entry["unlock"], "too early")
    entry["pending"] = 0
    stakers[ctx.sender] = entry
    emit("Withdrawn", who=ctx.sender, amount=amount)
    call(stake_token.get(), "transfer", to=ctx.sender, amount=amount)
    return amount


@export
def claim() -> int:
    state = update()
    entry = accrue(load_staker(ctx.sender), state)
    amount = entry["owed"] // SCALE
    require(amount > 0, "nothing to claim")
    entry["owed"] = entry["owed"] - amount * SCALE
    stakers[ctx.sender] = rebase(entry, state)
    state["paid"] = state["paid"] + amount
    pool.set(state)
    emit("RewardPaid", who=ctx.sender, amount=amount)
    call(reward_token.get(), "transfer", to=ctx.sender, amount=amount)
    return amount


@export
def set_reward_per_block(reward_per_block: int):
    require(ctx.sender == admin.get(), "only the admin")
    require(reward_per_block >= 0, "bad rate")
    pool.set(update())  # blocks so far earn at the old rate
    rate.set(reward_per_block)
    emit("RateSet", reward_per_block=reward_per_block)


@view
def staker_of(who: bytes) -> dict:
    return load_staker(who)


@view
def pending_reward(who: bytes) -> int:
    return accrue(load_staker(who), update())["owed"] // SCALE


@view
def pool_of() -> dict:
    return update()


@view
def unallocated_of() -> int:
    """Funded rewards not yet allocated to any block."""
    state = update()
    return state["funded"] - state["allocated"]
