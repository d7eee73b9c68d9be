"""Event tickets (vm/templates/tickets.py): caps, capped resale with royalty, check-in
once, refunds on cancellation, escrow and conservation (same shard; see the docstring)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.templates.chain import account
from tests.templates.funds import TOKEN, Money, money_world

TICKETS = account("tickets-contract")
ORGANISER = account("organiser")
GATE = account("gate")
ALICE, BOB, CAROL = account("alice"), account("bob"), account("carol")
PEOPLE = [ORGANISER, GATE, ALICE, BOB, CAROL]
TIERS = [["floor", 100, 2], ["seat", 60, 3]]


def world() -> tuple[Money, int]:
    money = money_world(TICKETS, "tickets", PEOPLE, token_address=TOKEN)
    event = money.chain.ok(TICKETS, "create_event", ORGANISER,
                           starts_at=money.chain.time + 100, tiers=TIERS,
                           resale_cap_bp=12000, royalty_bp=1000)
    return money, event


def test_create_event_refuses_bad_terms() -> None:
    money, _ = world()
    chain = money.chain
    start = chain.time + 10
    chain.fails(TICKETS, "create_event", ORGANISER, "bad tiers", starts_at=start, tiers=[],
                resale_cap_bp=10000, royalty_bp=0)
    chain.fails(TICKETS, "create_event", ORGANISER, "bad tiers", starts_at=start,
                tiers=[["x", 0, 1]], resale_cap_bp=10000, royalty_bp=0)
    chain.fails(TICKETS, "create_event", ORGANISER, "bad cap", starts_at=start, tiers=TIERS,
                resale_cap_bp=9999, royalty_bp=0)
    chain.fails(TICKETS, "create_event", ORGANISER, "bad royalty", starts_at=start,
                tiers=TIERS, resale_cap_bp=10000, royalty_bp=10001)
    chain.fails(TICKETS, "create_event", ORGANISER, "start in the past", starts_at=chain.time,
                tiers=TIERS, resale_cap_bp=10000, royalty_bp=0)


def test_sale_resale_under_the_cap_with_royalty_and_check_in_once() -> None:
    money, event = world()
    chain = money.chain
    chain.fails(TICKETS, "buy", ALICE, "no such tier", event=event, tier=2)
    chain.fails(TICKETS, "buy", ALICE, "no such event", event=9, tier=0)
    first = chain.ok(TICKETS, "buy", ALICE, event=event, tier=0)
    chain.ok(TICKETS, "buy", BOB, event=event, tier=0)
    chain.fails(TICKETS, "buy", CAROL, "sold out", event=event, tier=0)
    assert chain.view(TICKETS, "resale_cap_of", ticket=first) == 120
    chain.fails(TICKETS, "list_resale", BOB, "not the holder", ticket=first, price=100)
    chain.fails(TICKETS, "list_resale", ALICE, "price above the cap", ticket=first, price=121)
    chain.fails(TICKETS, "list_resale", ALICE, "price must be positive", ticket=first, price=0)
    chain.fails(TICKETS, "buy_resale", CAROL, "not listed", ticket=first)
    chain.ok(TICKETS, "list_resale", ALICE, ticket=first, price=120)
    chain.fails(TICKETS, "buy_resale", ALICE, "holder may not buy", ticket=first)
    before = {who: money.balance(who) for who in (ALICE, CAROL, ORGANISER)}
    chain.ok(TICKETS, "buy_resale", CAROL, ticket=first)
    assert money.balance(CAROL) == before[CAROL] - 120
    assert money.balance(ALICE) == before[ALICE] + 108
    assert money.balance(ORGANISER) == before[ORGANISER] + 12
    assert chain.view(TICKETS, "ticket_of", ticket=first)["holder"] == CAROL
    chain.fails(TICKETS, "check_in", GATE, "not a gate", ticket=first, holder=CAROL)
    chain.ok(TICKETS, "set_gate", ORGANISER, event=event, gate=GATE, allowed=True)
    chain.fails(TICKETS, "check_in", GATE, "wrong holder", ticket=first, holder=ALICE)
    chain.ok(TICKETS, "check_in", GATE, ticket=first, holder=CAROL)
    chain.fails(TICKETS, "check_in", ORGANISER, "checked in", ticket=first, holder=CAROL)
    chain.fails(TICKETS, "list_resale", CAROL, "checked in", ticket=first, price=100)
    chain.fails(TICKETS, "withdraw", ORGANISER, "not started", event=event)
    chain.advance(seconds=100)
    chain.fails(TICKETS, "buy", CAROL, "event started", event=event, tier=1)
    chain.fails(TICKETS, "cancel_event", ORGANISER, "event started", event=event)
    chain.fails(TICKETS, "withdraw", ALICE, "only the organiser", event=event)
    organiser_before = money.balance(ORGANISER)
    chain.ok(TICKETS, "withdraw", ORGANISER, event=event)
    assert money.balance(ORGANISER) == organiser_before + 200
    chain.fails(TICKETS, "withdraw", ORGANISER, "already withdrawn", event=event)
    assert money.balance(TICKETS) == 0


def test_cancelled_event_refunds_each_holder_the_face_value_once() -> None:
    money, event = world()
    chain = money.chain
    ticket = chain.ok(TICKETS, "buy", ALICE, event=event, tier=1)
    chain.ok(TICKETS, "list_resale", ALICE, ticket=ticket, price=70)
    chain.ok(TICKETS, "buy_resale", BOB, ticket=ticket)
    chain.fails(TICKETS, "refund", BOB, "not cancelled", ticket=ticket)
    chain.fails(TICKETS, "cancel_event", ALICE, "only the organiser", event=event)
    chain.ok(TICKETS, "cancel_event", ORGANISER, event=event)
    chain.fails(TICKETS, "buy", CAROL, "event cancelled", event=event, tier=1)
    chain.fails(TICKETS, "refund", ALICE, "not the holder", ticket=ticket)
    bob_before = money.balance(BOB)
    chain.ok(TICKETS, "refund", BOB, ticket=ticket)
    assert money.balance(BOB) == bob_before + 60
    chain.fails(TICKETS, "refund", BOB, "already refunded", ticket=ticket)
    chain.advance(seconds=200)
    chain.fails(TICKETS, "withdraw", ORGANISER, "event cancelled", event=event)
    assert money.balance(TICKETS) == 0


STEP = st.tuples(st.sampled_from(["buy", "list", "resale", "checkin", "cancel", "refund",
                                  "wait", "withdraw"]),
                 st.sampled_from([ALICE, BOB, CAROL]), st.integers(0, 6), st.integers(1, 130))


@settings(max_examples=40, deadline=None)
@given(st.lists(STEP, min_size=3, max_size=25))
def test_value_is_conserved_and_escrow_matches_unrefunded_face_values(steps: list) -> None:
    money, event = world()
    chain = money.chain
    total = money.total()
    for action, who, number, price in steps:
        if action == "buy":
            chain.call(TICKETS, "buy", who, event=event, tier=number % 2)
        elif action == "list":
            chain.call(TICKETS, "list_resale", who, ticket=number, price=price)
        elif action == "resale":
            chain.call(TICKETS, "buy_resale", who, ticket=number)
        elif action == "checkin":
            chain.call(TICKETS, "check_in", ORGANISER, ticket=number, holder=who)
        elif action == "cancel":
            chain.call(TICKETS, "cancel_event", ORGANISER, event=event)
        elif action == "refund":
            chain.call(TICKETS, "refund", who, ticket=number)
        elif action == "withdraw":
            chain.call(TICKETS, "withdraw", ORGANISER, event=event)
        else:
            chain.advance(seconds=40)
        assert money.total() == total
        entry = chain.view(TICKETS, "event_of", event=event)
        assert money.balance(TICKETS) == (0 if entry["withdrawn"] else entry["escrow"])
        for tier, (_, _, supply) in enumerate(TIERS):
            assert chain.view(TICKETS, "sold_of", event=event, tier=tier) <= supply
    for name in ("CheckedIn", "Refunded"):
        seen = [data["ticket"] for data in chain.events_named(name, TICKETS)]
        assert len(seen) == len(set(seen))
    for resale in chain.events_named("Resold", TICKETS):
        assert resale["price"] <= 120 and resale["royalty"] == resale["price"] // 10
