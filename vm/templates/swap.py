"""Escrow and atomic swap between two parties. Each party puts one leg into escrow: an
amount of a fungible token (vm/templates/token.py) or one collectible
(vm/templates/nft.py). Once both legs are in, each party claims the other's leg; if the
deadline passes with a leg missing, whoever deposited takes their own leg back.

A leg is ["token", token_contract, amount] or ["nft", collection, item]. Deposits pull
through the party's allowance (token) or approval/operator right (collectible).

Methods:
    open_swap(counterparty, give, take, deadline) -> swap id
        the sender is party A and gives `give`; the counterparty B gives `take`
    deposit(swap_id)      a party puts its leg into escrow, before the deadline, once
    claim(swap_id)        a party takes the other party's leg once both legs are in
    refund(swap_id)       a party takes its own leg back after the deadline, if the other
                          leg never came in
    cancel(swap_id)       party A, while nothing is deposited
    views: swap_of(id) -> dict, status_of(id) -> "open" | "funded" | "expired" | "closed"

Events: Opened(swap, party_a, party_b, give, take, deadline), Deposited(swap, party),
Claimed(swap, party, leg), Refunded(swap, party, leg), Cancelled(swap).

Errors (REVERT): "bad leg", "deadline in the past", "counterparty is the sender",
"no such swap", "not a party", "already deposited", "deadline passed", "not funded",
"already released", "nothing to refund", "too early", "other leg deposited",
"cancelled", "only party A", "has deposits".

Invariants: each deposited leg leaves escrow exactly once, either claimed by the other
party (only when both legs are in) or refunded to its depositor (only after the deadline
with the other leg missing), never both; the contract holds exactly the legs that are in
and not released.
"""

swaps = Map()
swap_count = Value()


def check_leg(leg: list):
    require(len(leg) == 3, "bad leg")
    require(leg[0] == "token" or leg[0] == "nft", "bad leg")
    if leg[0] == "token":
        require(leg[2] > 0, "bad leg")


@export
def open_swap(counterparty: bytes, give: list, take: list, deadline: int) -> int:
    check_leg(give)
    check_leg(take)
    require(deadline > ctx.time, "deadline in the past")
    require(counterparty != ctx.sender, "counterparty is the sender")
    number = swap_count.get(0) + 1
    swap_count.set(number)
    swaps[number] = {"parties": [ctx.sender, counterparty], "legs": [give, take],
                     "deposited": [False, False], "released": [False, False],
                     "deadline": deadline, "cancelled": False}
    emit("Opened", swap=number, party_a=ctx.sender, party_b=counterparty, give=give,
         take=take, deadline=deadline)
    return number


def load_swap(swap_id: int) -> list:
    """[entry, index of the sender among the parties]."""
    entry = swaps.get(swap_id)
    require(entry is not None, "no such swap")
    require(not entry["cancelled"], "cancelled")
    parties = entry["parties"]
    require(ctx.sender == parties[0] or ctx.sender == parties[1], "not a party")
    if ctx.sender == parties[0]:
        return [entry, 0]
    return [entry, 1]


def move_leg(leg: list, source: bytes, to: bytes):
    if leg[0] == "token":
        if source == ctx.address:
            call(leg[1], "transfer", to=to, amount=leg[2])
        else:
            call(leg[1], "transfer_from", source=source, to=to, amount=leg[2])
    elif source == ctx.address:
        call(leg[1], "transfer", to=to, token=leg[2])
    else:
        call(leg[1], "transfer_from", source=source, to=to, token=leg[2])


@export
def deposit(swap_id: int):
    loaded = load_swap(swap_id)
    entry = loaded[0]
    me = loaded[1]
    require(not entry["deposited"][me], "already deposited")
    require(ctx.time < entry["deadline"], "deadline passed")
    entry["deposited"][me] = True
    swaps[swap_id] = entry
    emit("Deposited", swap=swap_id, party=ctx.sender)
    move_leg(entry["legs"][me], ctx.sender, ctx.address)


@export
def claim(swap_id: int):
    loaded = load_swap(swap_id)
    entry = loaded[0]
    other = 1 - loaded[1]
    require(entry["deposited"][0] and entry["deposited"][1], "not funded")
    require(not entry["released"][other], "already released")
    entry["released"][other] = True
    swaps[swap_id] = entry
    emit("Claimed", swap=swap_id, party=ctx.sender, leg=other)
    move_leg(entry["legs"][other], ctx.address, ctx.sender)


@export
def refund(swap_id: int):
    loaded = load_swap(swap_id)
    entry = loaded[0]
    me = loaded[1]
    require(entry["deposited"][me] and not entry["released"][me], "nothing to refund")
    require(not entry["deposited"][1 - me], "other leg deposited")
    require(ctx.time >= entry["deadline"], "too early")
    entry["released"][me] = True
    swaps[swap_id] = entry
    emit("Refunded", swap=swap_id, party=ctx.sender, leg=me)
    move_leg(entry["legs"][me], ctx.address, ctx.sender)


@export
def cancel(swap_id: int):
    loaded = load_swap(swap_id)
    entry = loaded[0]
    require(loaded[1] == 0, "only party A")
    require(not entry["deposited"][0] and not entry["deposited"][1], "has deposits")
    entry["cancelled"] = True
    swaps[swap_id] = entry
    emit("Cancelled", swap=swap_id)


@view
def swap_of(swap_id: int) -> dict:
    entry = swaps.get(swap_id)
    require(entry is not None, "no such swap")
    return entry


@view
def status_of(swap_id: int) -> str:
    entry = swap_of(swap_id)
    released = entry["released"]
    in_escrow = [entry["deposited"][index] and not released[index] for index in range(2)]
    if entry["cancelled"] or (released[0] or released[1]) and not any(in_escrow):
        return "closed"
    if entry["deposited"][0] and entry["deposited"][1]:
        return "funded"
    if ctx.time >= entry["deadline"]:
        return "expired"
    return "open"
