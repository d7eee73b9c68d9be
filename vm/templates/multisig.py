"""Multisig wallet: m-of-n owners approve proposals (token and collectible transfers,
contract calls, owner and threshold changes), proposals expire at a block height.

The wallet is this contract's address: it holds whatever tokens (vm/templates/token.py) or
collectibles (vm/templates/nft.py) are sent to it. An owner proposes an action (and
approves it at once); other owners approve; once approvals by *current* owners reach the
threshold, any owner executes it, once, before its expiry height. Owner and threshold
changes are actions like any other, so they need the same m-of-n. Approvals by an owner
who was removed no longer count.

Actions (lists):
    ["transfer", token, to, amount]         token.transfer(to, amount) from the wallet
    ["transfer_item", collection, to, item] collection.transfer(to, item)
    ["call", target, method, payload]       target.method(action=payload): the VM subset
                                            has no ** in calls, so a called method takes a
                                            single `action` argument (market.govern, a
                                            DAO-style convention)
    ["add_owner", who], ["remove_owner", who], ["set_threshold", m]

Methods:
    init(owner_list, threshold_count)    1..OWNERS_MAX distinct owners; 1 <= threshold <= n
    propose(action, expires_height) -> proposal id     owner; approves it too
    approve(proposal), unapprove(proposal)             owner; while open
    execute(proposal) -> result          owner; threshold met; before expiry; once
    views: owners_of(), threshold_of(), proposal_of(id) -> dict, approvals_of(id) (current
           owners only), is_owner(who)

Events: Configured(owners, threshold), Proposed(proposal, proposer, action,
expires_height), Approved(proposal, owner), Unapproved(proposal, owner),
Executed(proposal, action), OwnerAdded(owner), OwnerRemoved(owner), ThresholdSet(threshold).

Errors (REVERT): "bad owners", "bad threshold", "only an owner", "bad action",
"expiry in the past", "no such proposal", "executed", "expired", "already approved",
"not approved", "not enough approvals", "already an owner", "not an owner",
"threshold above owners".

Invariants: 1 <= threshold <= number of owners <= OWNERS_MAX at all times; a proposal
executes at most once, only with threshold approvals from current owners, and never at or
after its expiry height. Same-shard tested only: cross-shard txs do not exist yet (a
transfer of a token on another shard would be a cross-shard leg).
"""

OWNERS_MAX = 16

owners = Value()
threshold = Value()
proposals = Map()  # id -> {"action", "proposer", "expires", "approvals", "executed"}
proposal_count = Value()


@export
def init(owner_list: list, threshold_count: int):
    check_owners(owner_list)
    require(threshold_count >= 1 and threshold_count <= len(owner_list), "bad threshold")
    owners.set(owner_list)
    threshold.set(threshold_count)
    emit("Configured", owners=owner_list, threshold=threshold_count)


def check_owners(owner_list: list):
    require(len(owner_list) >= 1 and len(owner_list) <= OWNERS_MAX, "bad owners")
    for index, who in enumerate(owner_list):
        require(len(who) == 32, "bad owners")
        require(owner_list.index(who) == index, "bad owners")


def only_owner():
    require(ctx.sender in owners.get(), "only an owner")


def check_action(action: list):
    require(len(action) >= 2, "bad action")
    verb = action[0]
    if verb == "transfer" or verb == "transfer_item":
        require(len(action) == 4 and action[3] >= 0, "bad action")
    elif verb == "call":
        require(len(action) == 4 and len(action[2]) > 0, "bad action")
    elif verb == "add_owner" or verb == "remove_owner":
        require(len(action) == 2 and len(action[1]) == 32, "bad action")
    elif verb == "set_threshold":
        require(len(action) == 2 and action[1] >= 1, "bad action")
    else:
        revert("bad action")


@export
def propose(action: list, expires_height: int) -> int:
    only_owner()
    check_action(action)
    require(expires_height > ctx.height, "expiry in the past")
    number = proposal_count.get(0) + 1
    proposal_count.set(number)
    proposals[number] = {"action": action, "proposer": ctx.sender, "expires": expires_height,
                         "approvals": [ctx.sender], "executed": False}
    emit("Proposed", proposal=number, proposer=ctx.sender, action=action,
         expires_height=expires_height)
    emit("Approved", proposal=number, owner=ctx.sender)
    return number


def open_proposal(proposal: int) -> dict:
    only_owner()
    entry = proposals.get(proposal)
    require(entry is not None, "no such proposal")
    require(not entry["executed"], "executed")
    require(ctx.height < entry["expires"], "expired")
    return entry


@export
def approve(proposal: int):
    entry = open_proposal(proposal)
    require(ctx.sender not in entry["approvals"], "already approved")
    entry["approvals"].append(ctx.sender)
    proposals[proposal] = entry
    emit("Approved", proposal=proposal, owner=ctx.sender)


@export
def unapprove(proposal: int):
    entry = open_proposal(proposal)
    require(ctx.sender in entry["approvals"], "not approved")
    entry["approvals"].remove(ctx.sender)
    proposals[proposal] = entry
    emit("Unapproved", proposal=proposal, owner=ctx.sender)


def counted(entry: dict) -> int:
    current = owners.get()
    return len([who for who in entry["approvals"] if who in current])


@export
def execute(proposal: int):
    entry = open_proposal(proposal)
    require(counted(entry) >= threshold.get(), "not enough approvals")
    entry["executed"] = True
    proposals[proposal] = entry
    action = entry["action"]
    emit("Executed", proposal=proposal, action=action)
    return perform(action)


def perform(action: list):
    verb = action[0]
    if verb == "transfer":
        return call(action[1], "transfer", to=action[2], amount=action[3])
    if verb == "transfer_item":
        return call(action[1], "transfer", to=action[2], token=action[3])
    if verb == "call":
        return call(action[1], action[2], action=action[3])
    current = owners.get()
    if verb == "add_owner":
        require(action[1] not in current, "already an owner")
        current.append(action[1])
        check_owners(current)
        owners.set(current)
        emit("OwnerAdded", owner=action[1])
    elif verb == "remove_owner":
        require(action[1] in current, "not an owner")
        current.remove(action[1])
        require(len(current) >= threshold.get(), "threshold above owners")
        owners.set(current)
        emit("OwnerRemoved", owner=action[1])
    else:
        require(action[1] <= len(current), "threshold above owners")
        threshold.set(action[1])
        emit("ThresholdSet", threshold=action[1])
    return None


@view
def owners_of() -> list:
    return owners.get()


@view
def threshold_of() -> int:
    return threshold.get()


@view
def proposal_of(proposal: int) -> dict:
    entry = proposals.get(proposal)
    require(entry is not None, "no such proposal")
    return entry


@view
def approvals_of(proposal: int) -> int:
    return counted(proposal_of(proposal))


@view
def is_owner(who: bytes) -> bool:
    return who in owners.get()
