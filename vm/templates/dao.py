"""DAO voting: members stake the platform token here; proposals are decided by staked
voting power fixed at the proposal's snapshot, with a quorum, one vote per account and
execution at most once after the deadline.

Voting power: every stake change writes a checkpoint [height, amount] for the account and
for the total (key b""). The snapshot of a proposal is the block height at which it was
made; the power used is the amount at the end of the last block *before* it, so stake
moved in or after the proposal's block does not count, and withdrawing later does not take
a cast vote back.

Execution: when the proposal has a target, `execute` calls `target.method(action=payload)`
(the VM has no `**` arguments, so governed contracts take a single `action` parameter;
the marketplace's `govern(action)` is one). A failing action fails the execution, which
then stays executable.

Methods:
    init(token_address, quorum_bp, voting_seconds)
    deposit(amount), withdraw(amount)             stake and unstake
    propose(description, target=b"", method="", payload=None) -> id   needs power > 0
    vote(proposal, support)                       0 against, 1 for, 2 abstain; once
    execute(proposal)                             anyone, once, after the deadline, if
                                                  passed (quorum reached and for > against)
    views: proposal_of(id) -> dict, state_of(id) -> "active" | "defeated" | "succeeded" |
           "executed", power_at(who, height), stake_of(who), vote_of(proposal, who)

Events: Configured(token, quorum_bp, voting_seconds), Deposited(who, amount),
Withdrawn(who, amount), Proposed(proposal, proposer, snapshot, deadline, description),
Voted(proposal, voter, support, power), Executed(proposal).

Errors (REVERT): "bad quorum", "bad voting period", "amount must be positive",
"insufficient stake", "no voting power", "no such proposal", "voting closed",
"already voted", "bad support", "voting not over", "already executed", "not passed".

Invariants: sum of stakes == total checkpoint == tokens held; each account votes at most
once per proposal with its snapshot power; tallies never exceed the snapshot total;
a proposal executes at most once and never before its deadline.
"""

BASIS_POINTS = 10000
TOTAL = b""

token = Value()
quorum = Value()
voting_period = Value()
stakes = Map()
checkpoints = Map()  # (who, index) -> [height, amount]
checkpoint_counts = Map()
proposals = Map()
votes = Map()  # (proposal, who) -> support
proposal_count = Value()


@export
def init(token_address: bytes, quorum_bp: int, voting_seconds: int):
    require(quorum_bp >= 0 and quorum_bp <= BASIS_POINTS, "bad quorum")
    require(voting_seconds > 0, "bad voting period")
    token.set(token_address)
    quorum.set(quorum_bp)
    voting_period.set(voting_seconds)
    emit("Configured", token=token_address, quorum_bp=quorum_bp,
         voting_seconds=voting_seconds)


def write_checkpoint(who: bytes, amount: int):
    count = checkpoint_counts.get(who, 0)
    if count > 0 and checkpoints[(who, count - 1)][0] == ctx.height:
        checkpoints[(who, count - 1)] = [ctx.height, amount]
        return
    checkpoints[(who, count)] = [ctx.height, amount]
    checkpoint_counts[who] = count + 1


def change_stake(who: bytes, delta: int):
    amount = stakes.get(who, 0) + delta
    require(amount >= 0, "insufficient stake")
    if amount == 0:
        del stakes[who]
    else:
        stakes[who] = amount
    write_checkpoint(who, amount)
    write_checkpoint(TOTAL, power_at(TOTAL, ctx.height + 1) + delta)


@export
def deposit(amount: int):
    require(amount > 0, "amount must be positive")
    change_stake(ctx.sender, amount)
    emit("Deposited", who=ctx.sender, amount=amount)
    call(token.get(), "transfer_from", source=ctx.sender, to=ctx.address, amount=amount)


@export
def withdraw(amount: int):
    require(amount > 0, "amount must be positive")
    change_stake(ctx.sender, -amount)
    emit("Withdrawn", who=ctx.sender, amount=amount)
    call(token.get(), "transfer", to=ctx.sender, amount=amount)


@view
def power_at(who: bytes, height: int) -> int:
    """Stake at the end of the last block before `height` (binary search)."""
    low = 0
    high = checkpoint_counts.get(who, 0)
    while low < high:
        middle = (low + high) // 2
        if checkpoints[(who, middle)][0] < height:
            low = middle + 1
        else:
            high = middle
    if low == 0:
        return 0
    return checkpoints[(who, low - 1)][1]


@export
def propose(description: str, target: bytes = b"", method: str = "",
            payload: list = None) -> int:
    require(power_at(ctx.sender, ctx.height) > 0, "no voting power")
    number = proposal_count.get(0) + 1
    proposal_count.set(number)
    deadline = ctx.time + voting_period.get()
    proposals[number] = {"proposer": ctx.sender, "description": description,
                         "target": target, "method": method, "payload": payload,
                         "snapshot": ctx.height, "deadline": deadline,
                         "total": power_at(TOTAL, ctx.height), "for": 0, "against": 0,
                         "abstain": 0, "executed": False}
    emit("Proposed", proposal=number, proposer=ctx.sender, snapshot=ctx.height,
         deadline=deadline, description=description)
    return number


def load_proposal(proposal: int) -> dict:
    entry = proposals.get(proposal)
    require(entry is not None, "no such proposal")
    return entry


@export
def vote(proposal: int, support: int):
    entry = load_proposal(proposal)
    require(ctx.time < entry["deadline"], "voting closed")
    require((proposal, ctx.sender) not in votes, "already voted")
    require(support == 0 or support == 1 or support == 2, "bad support")
    power = power_at(ctx.sender, entry["snapshot"])
    require(power > 0, "no voting power")
    votes[(proposal, ctx.sender)] = support
    column = ["against", "for", "abstain"][support]
    entry[column] = entry[column] + power
    proposals[proposal] = entry
    emit("Voted", proposal=proposal, voter=ctx.sender, support=support, power=power)


def passed(entry: dict) -> bool:
    turnout = entry["for"] + entry["against"] + entry["abstain"]
    quorum_met = turnout * BASIS_POINTS >= quorum.get() * entry["total"]
    return quorum_met and entry["for"] > entry["against"]


@export
def execute(proposal: int):
    entry = load_proposal(proposal)
    require(ctx.time >= entry["deadline"], "voting not over")
    require(not entry["executed"], "already executed")
    require(passed(entry), "not passed")
    entry["executed"] = True
    proposals[proposal] = entry
    emit("Executed", proposal=proposal)
    if len(entry["target"]) > 0:
        if entry["payload"] is None:
            call(entry["target"], entry["method"])
        else:
            call(entry["target"], entry["method"], action=entry["payload"])


@view
def proposal_of(proposal: int) -> dict:
    return load_proposal(proposal)


@view
def state_of(proposal: int) -> str:
    entry = load_proposal(proposal)
    if entry["executed"]:
        return "executed"
    if ctx.time < entry["deadline"]:
        return "active"
    if passed(entry):
        return "succeeded"
    return "defeated"


@view
def stake_of(who: bytes) -> int:
    return stakes.get(who, 0)


@view
def vote_of(proposal: int, who: bytes) -> int:
    return votes.get((proposal, who), -1)
