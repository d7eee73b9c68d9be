"""Vesting and timelock: linear vesting with a cliff, revocation of the unvested part by
the grantor, claims never above the vested amount.

A grantor funds a grant from their token allowance (vm/templates/token.py). Vested at
block time t, for a grant of `amount` starting at `start`:
    0                                   if t < start + cliff_seconds
    amount                              if t >= start + duration_seconds
    amount * (t - start) // duration    otherwise (integer, rounded down)
A timelock is a grant with cliff_seconds == duration_seconds (all at once). Revocation (if
the grant is revocable) freezes the grant at what has vested so far: the unvested rest goes
back to the grantor at once, and the beneficiary can still claim the vested part.

Methods:
    init(token_address)
    grant(beneficiary, amount, start, cliff_seconds, duration_seconds, revocable) -> id
        grantor = sender; 0 <= cliff <= duration, duration > 0; pulls `amount`
    claim(grant_id) -> amount paid          beneficiary; pays vested - claimed
    revoke(grant_id)                     grantor; revocable grants; once
    views: grant_of(grant_id) -> dict, vested_of(grant_id), claimable_of(grant_id)

Events: Configured(token), Granted(grant, grantor, beneficiary, amount, start,
cliff_seconds, duration_seconds, revocable), Claimed(grant, beneficiary, amount),
Revoked(grant, returned, vested).

Errors (REVERT): "amount must be positive", "bad schedule", "no such grant",
"only the beneficiary", "nothing to claim", "only the grantor", "not revocable",
"already revoked".

Invariants: claimed <= vested <= amount at all times; for every grant, amount = claimed +
returned to the grantor + still held; this contract's balance is the sum of what is held.
Same-shard tested only: cross-shard txs do not exist yet.
"""

token = Value()
grants = Map()  # id -> {"grantor", "beneficiary", "amount", "start", "cliff", "duration",
#                        "revocable", "revoked", "claimed"}
grant_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


@export
def grant(beneficiary: bytes, amount: int, start: int, cliff_seconds: int,
          duration_seconds: int, revocable: bool) -> int:
    require(amount > 0, "amount must be positive")
    require(duration_seconds > 0 and cliff_seconds >= 0 and cliff_seconds <= duration_seconds,
            "bad schedule")
    number = grant_count.get(0) + 1
    grant_count.set(number)
    grants[number] = {"grantor": ctx.sender, "beneficiary": beneficiary, "amount": amount,
                      "start": start, "cliff": cliff_seconds, "duration": duration_seconds,
                      "revocable": revocable, "revoked": False, "claimed": 0}
    emit("Granted", grant=number, grantor=ctx.sender, beneficiary=beneficiary, amount=amount,
         start=start, cliff_seconds=cliff_seconds, duration_seconds=duration_seconds,
         revocable=revocable)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=amount)
    return number


def load(grant_id: int) -> dict:
    entry = grants.get(grant_id)
    require(entry is not None, "no such grant")
    return entry


def vested(entry: dict, now: int) -> int:
    if entry["revoked"]:
        return entry["amount"]  # revocation cut the amount down to what had vested
    elapsed = now - entry["start"]
    if elapsed < entry["cliff"]:
        return 0
    if elapsed >= entry["duration"]:
        return entry["amount"]
    return entry["amount"] * elapsed // entry["duration"]


@export
def claim(grant_id: int) -> int:
    entry = load(grant_id)
    require(ctx.sender == entry["beneficiary"], "only the beneficiary")
    amount = vested(entry, ctx.time) - entry["claimed"]
    require(amount > 0, "nothing to claim")
    entry["claimed"] = entry["claimed"] + amount
    grants[grant_id] = entry
    emit("Claimed", grant=grant_id, beneficiary=ctx.sender, amount=amount)
    call(token.get(), "transfer", to=ctx.sender, amount=amount)
    return amount


@export
def revoke(grant_id: int):
    entry = load(grant_id)
    require(ctx.sender == entry["grantor"], "only the grantor")
    require(entry["revocable"], "not revocable")
    require(not entry["revoked"], "already revoked")
    vested_now = vested(entry, ctx.time)
    returned = entry["amount"] - vested_now
    entry["amount"] = vested_now
    entry["revoked"] = True
    grants[grant_id] = entry
    emit("Revoked", grant=grant_id, returned=returned, vested=vested_now)
    if returned > 0:
        call(token.get(), "transfer", to=ctx.sender, amount=returned)


@view
def grant_of(grant_id: int) -> dict:
    return load(grant_id)


@view
def vested_of(grant_id: int) -> int:
    return vested(load(grant_id), ctx.time)


@view
def claimable_of(grant_id: int) -> int:
    entry = load(grant_id)
    return vested(entry, ctx.time) - entry["claimed"]
