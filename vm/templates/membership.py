"""Membership and subscription passes: time-bounded access by block time, renewal, and
cancellation with a pro-rata refund in integer arithmetic.

A provider creates plans (price per period, period length in seconds). A subscription's
payment is held here and earned by the provider second by second: `collect` (anyone) pays
the provider what has been earned so far, `cancel` pays the provider what has been earned
and refunds the subscriber the rest, at once. Payments are in the platform token
(vm/templates/token.py); subscribers approve this contract first.

Rounding rule: when a subscription holding `deposit` tokens for the `remaining` seconds
from `paid_until` to `end` is settled at time t, the provider earns
floor(deposit * (t - paid_until) / remaining) and the rest stays deposited; on
cancellation the subscriber is refunded the whole rest. So every rounding is in the
subscriber's favour, by less than one token unit per settlement, and the deposit is always
exactly what the provider has not been paid.

Methods:
    init(token_address)
    create_plan(price, period_seconds) -> plan id      provider = sender
    retire_plan(plan)                    provider; no new subscriptions or renewals
    subscribe(plan, periods)             pays price * periods; starts now, or extends the
                                         running subscription (renewal is the same call)
    cancel(plan)                         subscriber; access ends now; pro-rata refund
    collect(plan, subscriber)            anyone; pays the provider what is earned
    views: plan_of(plan) -> dict, subscription_of(plan, who) -> dict,
           is_active(plan, who) -> bool (now < end), expires_at(plan, who),
           earned_of(plan, who) -> what collect would pay now

Events: Configured(token), PlanCreated(plan, provider, price, period_seconds),
PlanRetired(plan), Subscribed(plan, subscriber, periods, paid, end),
Collected(plan, subscriber, provider, amount), Cancelled(plan, subscriber, refund, earned).

Errors (REVERT): "price must be positive", "bad period", "no such plan", "plan retired",
"bad periods", "only the provider", "not subscribed", "not active".

Invariants: this contract's token balance equals the sum of the deposits; for every
subscription, paid = earned by the provider + refunded + deposit; access ends at `end` by
block time without any transaction. Same-shard tested only: cross-shard txs do not exist yet.
"""

PERIODS_MAX = 1000

token = Value()
plans = Map()  # id -> {"provider", "price", "period", "retired"}
subs = Map()  # (plan, who) -> {"end", "paid_until", "deposit"}
plan_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


@export
def create_plan(price: int, period_seconds: int) -> int:
    require(price > 0, "price must be positive")
    require(period_seconds > 0, "bad period")
    number = plan_count.get(0) + 1
    plan_count.set(number)
    plans[number] = {"provider": ctx.sender, "price": price, "period": period_seconds,
                     "retired": False}
    emit("PlanCreated", plan=number, provider=ctx.sender, price=price,
         period_seconds=period_seconds)
    return number


def load_plan(plan: int) -> dict:
    entry = plans.get(plan)
    require(entry is not None, "no such plan")
    return entry


@export
def retire_plan(plan: int):
    entry = load_plan(plan)
    require(ctx.sender == entry["provider"], "only the provider")
    require(not entry["retired"], "plan retired")
    entry["retired"] = True
    plans[plan] = entry
    emit("PlanRetired", plan=plan)


def earned(entry: dict, now: int) -> int:
    until = min(now, entry["end"])
    if until <= entry["paid_until"]:
        return 0
    return entry["deposit"] * (until - entry["paid_until"]) // (entry["end"] -
                                                                 entry["paid_until"])


def settle(plan: int, who: bytes, entry: dict) -> int:
    """Moves what the provider earned up to now out of the deposit; returns it (the whole
    deposit once the term has ended: floor(d * r / r) == d)."""
    amount = earned(entry, ctx.time)
    entry["deposit"] = entry["deposit"] - amount
    entry["paid_until"] = max(entry["paid_until"], min(ctx.time, entry["end"]))
    return amount


def pay(to: bytes, amount: int):
    if amount > 0:
        call(token.get(), "transfer", to=to, amount=amount)


@export
def subscribe(plan: int, periods: int):
    entry = load_plan(plan)
    require(not entry["retired"], "plan retired")
    require(periods > 0 and periods <= PERIODS_MAX, "bad periods")
    cost = entry["price"] * periods
    key = (plan, ctx.sender)
    current = subs.get(key)
    earned_now = 0
    if current is None or current["end"] <= ctx.time:
        if current is not None:
            earned_now = settle(plan, ctx.sender, current)  # the whole past term
        current = {"end": ctx.time, "paid_until": ctx.time, "deposit": 0}
    else:
        earned_now = settle(plan, ctx.sender, current)
    current["end"] = current["end"] + periods * entry["period"]
    current["deposit"] = current["deposit"] + cost
    subs[key] = current
    emit("Subscribed", plan=plan, subscriber=ctx.sender, periods=periods, paid=cost,
         end=current["end"])
    if earned_now > 0:
        emit("Collected", plan=plan, subscriber=ctx.sender, provider=entry["provider"],
             amount=earned_now)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=cost)
    pay(entry["provider"], earned_now)


@export
def cancel(plan: int):
    entry = load_plan(plan)
    key = (plan, ctx.sender)
    current = subs.get(key)
    require(current is not None, "not subscribed")
    require(current["end"] > ctx.time, "not active")
    earned_now = settle(plan, ctx.sender, current)
    refund = current["deposit"]
    current["deposit"] = 0
    current["end"] = ctx.time
    current["paid_until"] = ctx.time
    subs[key] = current
    emit("Cancelled", plan=plan, subscriber=ctx.sender, refund=refund, earned=earned_now)
    pay(entry["provider"], earned_now)
    pay(ctx.sender, refund)


@export
def collect(plan: int, subscriber: bytes) -> int:
    entry = load_plan(plan)
    key = (plan, subscriber)
    current = subs.get(key)
    require(current is not None, "not subscribed")
    amount = settle(plan, subscriber, current)
    subs[key] = current
    emit("Collected", plan=plan, subscriber=subscriber, provider=entry["provider"],
         amount=amount)
    pay(entry["provider"], amount)
    return amount


@view
def plan_of(plan: int) -> dict:
    return load_plan(plan)


@view
def subscription_of(plan: int, who: bytes) -> dict:
    current = subs.get((plan, who))
    require(current is not None, "not subscribed")
    return current


@view
def is_active(plan: int, who: bytes) -> bool:
    current = subs.get((plan, who))
    return current is not None and ctx.time < current["end"]


@view
def expires_at(plan: int, who: bytes) -> int:
    current = subs.get((plan, who))
    if current is None:
        return 0
    return current["end"]


@view
def earned_of(plan: int, who: bytes) -> int:
    current = subs.get((plan, who))
    require(current is not None, "not subscribed")
    return earned(current, ctx.time)
