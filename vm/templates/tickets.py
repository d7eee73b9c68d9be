"""Event tickets: capped supply per tier, face-value escrow, resale capped by the organiser
with a royalty, check-in exactly once, refunds if the event is cancelled.

Payments are in the platform token (vm/templates/token.py): buyers approve this contract
first. A primary sale's face value stays in escrow here until the event starts, so a
cancelled event can refund every ticket; after the start the organiser withdraws the
escrow once (and can no longer cancel). A resale is paid straight from the buyer: the
royalty to the organiser, the rest to the reseller. The face value of a ticket stays in
escrow whatever it was resold for, and a refund pays the face value to the ticket's holder
at the time of the refund (the reseller already had the resale price).

Tickets move only by primary sale and capped resale (no free transfer, so the cap cannot
be dodged on-chain); a checked-in ticket cannot be resold.

Methods:
    init(token_address)
    create_event(starts_at, tiers, resale_cap_bp, royalty_bp) -> event id
        organiser = sender; tiers = [[name, face_price, supply], ...] (1..16 tiers,
        names <= 64 characters; a numbered seat is a tier of supply 1);
        resale_cap_bp >= 10000 (10000: no markup), royalty_bp <= 10000
    set_gate(event, gate, allowed)       organiser; a gate account may check tickets in
    buy(event, tier) -> ticket id        before the start; pays the face price into escrow
    list_resale(ticket, price)           holder; price <= face * resale_cap_bp // 10000
    unlist(ticket)                       holder
    buy_resale(ticket)                   pays royalty to the organiser, the rest to the seller
    check_in(ticket, holder)             organiser or gate; the holder must be `holder`;
                                         once per ticket (doors may open before the start)
    cancel_event(event)                  organiser; before the start
    refund(ticket)                       holder of a ticket of a cancelled event; once
    withdraw(event)                      organiser; at or after the start; once
    views: event_of(event) -> dict, ticket_of(ticket) -> dict, sold_of(event, tier),
           escrow_of(event), resale_cap_of(ticket) -> max resale price

Events: Configured(token),
EventCreated(event, organiser, starts_at, tiers, resale_cap_bp, royalty_bp),
GateSet(event, gate, allowed), TicketSold(ticket, event, tier, buyer, price),
ResaleListed(ticket, seller, price), ResaleUnlisted(ticket),
Resold(ticket, seller, buyer, price, royalty), CheckedIn(ticket, holder, by),
EventCancelled(event), Refunded(ticket, holder, amount), Withdrawn(event, organiser, amount).

Errors (REVERT): "bad tiers", "bad cap", "bad royalty", "start in the past", "no such event",
"no such tier", "sold out", "event started", "event cancelled", "no such ticket",
"not the holder", "price above the cap", "price must be positive", "not listed",
"holder may not buy", "checked in", "only the organiser", "not a gate", "wrong holder",
"not cancelled", "already refunded", "not started", "already withdrawn".

Invariants: sold_of(event, tier) <= the tier's supply; a ticket is checked in at most once
and refunded at most once; value is conserved: this contract's token balance equals the sum
of escrow_of(event) over events not yet withdrawn, where escrow is the face value of sold
tickets minus refunds; a resale price never exceeds the cap and price = royalty + proceeds.
Counterparties on different shards: tested same-shard only (cross-shard txs do not exist
yet); every method touches this contract and the token, so both must share a shard today.
"""

BASIS_POINTS = 10000
TIERS_MAX = 16
TIER_NAME_BYTES_MAX = 64

token = Value()
events = Map()  # id -> {"organiser", "starts_at", "tiers", "cap_bp", "royalty_bp",
#                        "cancelled", "withdrawn", "escrow"}
sold = Map()  # (event, tier) -> count
tickets = Map()  # id -> {"event", "tier", "holder", "face", "listed", "checked_in", "refunded"}
gates = Map()  # (event, gate) -> True
event_count = Value()
ticket_count = Value()


@export
def init(token_address: bytes):
    token.set(token_address)
    emit("Configured", token=token_address)


def check_tiers(tiers: list):
    require(len(tiers) > 0 and len(tiers) <= TIERS_MAX, "bad tiers")
    for tier in tiers:
        require(len(tier) == 3 and len(tier[0]) <= TIER_NAME_BYTES_MAX, "bad tiers")
        require(tier[1] > 0 and tier[2] > 0, "bad tiers")


@export
def create_event(starts_at: int, tiers: list, resale_cap_bp: int, royalty_bp: int) -> int:
    check_tiers(tiers)
    require(resale_cap_bp >= BASIS_POINTS, "bad cap")
    require(royalty_bp >= 0 and royalty_bp <= BASIS_POINTS, "bad royalty")
    require(starts_at > ctx.time, "start in the past")
    number = event_count.get(0) + 1
    event_count.set(number)
    events[number] = {"organiser": ctx.sender, "starts_at": starts_at, "tiers": tiers,
                      "cap_bp": resale_cap_bp, "royalty_bp": royalty_bp,
                      "cancelled": False, "withdrawn": False, "escrow": 0}
    emit("EventCreated", event=number, organiser=ctx.sender, starts_at=starts_at,
         tiers=tiers, resale_cap_bp=resale_cap_bp, royalty_bp=royalty_bp)
    return number


def load_event(event: int) -> dict:
    entry = events.get(event)
    require(entry is not None, "no such event")
    return entry


def load_ticket(ticket: int) -> dict:
    entry = tickets.get(ticket)
    require(entry is not None, "no such ticket")
    return entry


@export
def set_gate(event: int, gate: bytes, allowed: bool):
    entry = load_event(event)
    require(ctx.sender == entry["organiser"], "only the organiser")
    if allowed:
        gates[(event, gate)] = True
    elif (event, gate) in gates:
        del gates[(event, gate)]
    emit("GateSet", event=event, gate=gate, allowed=allowed)


@export
def buy(event: int, tier: int) -> int:
    entry = load_event(event)
    require(not entry["cancelled"], "event cancelled")
    require(ctx.time < entry["starts_at"], "event started")
    require(tier >= 0 and tier < len(entry["tiers"]), "no such tier")
    count = sold.get((event, tier), 0)
    require(count < entry["tiers"][tier][2], "sold out")
    face = entry["tiers"][tier][1]
    sold[(event, tier)] = count + 1
    entry["escrow"] = entry["escrow"] + face
    events[event] = entry
    number = ticket_count.get(0) + 1
    ticket_count.set(number)
    tickets[number] = {"event": event, "tier": tier, "holder": ctx.sender, "face": face,
                       "listed": 0, "checked_in": False, "refunded": False}
    emit("TicketSold", ticket=number, event=event, tier=tier, buyer=ctx.sender, price=face)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=face)
    return number


def cap_of(entry: dict, event: dict) -> int:
    return entry["face"] * event["cap_bp"] // BASIS_POINTS


def tradable(ticket: int) -> list:
    entry = load_ticket(ticket)
    event = events[entry["event"]]
    require(not event["cancelled"], "event cancelled")
    require(not entry["checked_in"], "checked in")
    return [entry, event]


@export
def list_resale(ticket: int, price: int):
    pair = tradable(ticket)
    entry = pair[0]
    require(entry["holder"] == ctx.sender, "not the holder")
    require(price > 0, "price must be positive")
    require(price <= cap_of(entry, pair[1]), "price above the cap")
    entry["listed"] = price
    tickets[ticket] = entry
    emit("ResaleListed", ticket=ticket, seller=ctx.sender, price=price)


@export
def unlist(ticket: int):
    entry = load_ticket(ticket)
    require(entry["holder"] == ctx.sender, "not the holder")
    require(entry["listed"] > 0, "not listed")
    entry["listed"] = 0
    tickets[ticket] = entry
    emit("ResaleUnlisted", ticket=ticket)


@export
def buy_resale(ticket: int):
    pair = tradable(ticket)
    entry = pair[0]
    event = pair[1]
    price = entry["listed"]
    require(price > 0, "not listed")
    seller = entry["holder"]
    require(ctx.sender != seller, "holder may not buy")
    royalty = price * event["royalty_bp"] // BASIS_POINTS
    entry["holder"] = ctx.sender
    entry["listed"] = 0
    tickets[ticket] = entry
    emit("Resold", ticket=ticket, seller=seller, buyer=ctx.sender, price=price,
         royalty=royalty)
    currency = token.get()
    if royalty > 0:
        call(currency, "transfer_from", source=ctx.sender, to=event["organiser"],
             amount=royalty)
    if price > royalty:
        call(currency, "transfer_from", source=ctx.sender, to=seller, amount=price - royalty)


@export
def check_in(ticket: int, holder: bytes):
    entry = load_ticket(ticket)
    event = events[entry["event"]]
    allowed = ctx.sender == event["organiser"] or (entry["event"], ctx.sender) in gates
    require(allowed, "not a gate")
    require(not event["cancelled"], "event cancelled")
    require(entry["holder"] == holder, "wrong holder")
    require(not entry["checked_in"], "checked in")
    entry["checked_in"] = True
    entry["listed"] = 0
    tickets[ticket] = entry
    emit("CheckedIn", ticket=ticket, holder=holder, by=ctx.sender)


@export
def cancel_event(event: int):
    entry = load_event(event)
    require(ctx.sender == entry["organiser"], "only the organiser")
    require(not entry["cancelled"], "event cancelled")
    require(ctx.time < entry["starts_at"], "event started")
    entry["cancelled"] = True
    events[event] = entry
    emit("EventCancelled", event=event)


@export
def refund(ticket: int):
    entry = load_ticket(ticket)
    event = events[entry["event"]]
    require(event["cancelled"], "not cancelled")
    require(entry["holder"] == ctx.sender, "not the holder")
    require(not entry["refunded"], "already refunded")
    entry["refunded"] = True
    entry["listed"] = 0
    tickets[ticket] = entry
    event["escrow"] = event["escrow"] - entry["face"]
    events[entry["event"]] = event
    emit("Refunded", ticket=ticket, holder=ctx.sender, amount=entry["face"])
    call(token.get(), "transfer", to=ctx.sender, amount=entry["face"])


@export
def withdraw(event: int):
    entry = load_event(event)
    require(ctx.sender == entry["organiser"], "only the organiser")
    require(not entry["cancelled"], "event cancelled")
    require(ctx.time >= entry["starts_at"], "not started")
    require(not entry["withdrawn"], "already withdrawn")
    amount = entry["escrow"]
    entry["withdrawn"] = True
    entry["escrow"] = 0
    events[event] = entry
    emit("Withdrawn", event=event, organiser=ctx.sender, amount=amount)
    if amount > 0:
        call(token.get(), "transfer", to=ctx.sender, amount=amount)


@view
def event_of(event: int) -> dict:
    return load_event(event)


@view
def ticket_of(ticket: int) -> dict:
    return load_ticket(ticket)


@view
def sold_of(event: int, tier: int) -> int:
    return sold.get((event, tier), 0)


@view
def escrow_of(event: int) -> int:
    return load_event(event)["escrow"]


@view
def resale_cap_of(ticket: int) -> int:
    entry = load_ticket(ticket)
    return cap_of(entry, events[entry["event"]])
