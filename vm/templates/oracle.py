"""Oracle price feed: an allow-list of reporters submits values; the feed answers the
median of fresh reports and refuses stale data; it can set the marketplace's circuit
breaker reference price.

Each reporter has one current report [value, time, height]; a new submission replaces it.
A report is fresh while ctx.time < its time + max_age_seconds. The answer is the median of
the fresh reports, and there must be at least `min_reports` of them, else every read
reverts "stale". Median rule: the values sorted ascending, the middle one for an odd
count, the lower of the two middle ones for an even count (always a value some reporter
actually submitted, and integer).

Circuit breaker: the marketplace (vm/templates/market.py) keeps a reference price per
collection, set by its governor with govern(["set_reference", collection, price]). To
take it from this feed, make this contract the market's governor; then anyone may call
`push_reference(market, collection)` to set the reference to the current median, and the
feed's admin still governs the market through `relay(market, action)`. (The market also
replaces its reference with each completed sale, so a keeper pushes the feed's value as
often as the marketplace wants the feed to rule.)

Methods:
    init(max_age_seconds, min_reports)   the deployer is the admin
    set_reporter(reporter, allowed)      admin; at most REPORTERS_MAX reporters; removing a
                                         reporter drops its report
    set_params(max_age_seconds, min_reports)     admin
    submit(value)                        reporter; value > 0
    push_reference(market, collection) -> price  anyone; needs a fresh median
    relay(market, action)                admin; forwards market.govern(action)
    set_admin(new_admin)                 admin
    views: price() -> median, latest() -> [median, fresh reports, oldest fresh time],
           report_of(reporter), reporters_of()

Events: Configured(admin, max_age_seconds, min_reports), ReporterSet(reporter, allowed),
Submitted(reporter, value), ReferencePushed(market, collection, price), Relayed(market,
action), AdminSet(admin).

Errors (REVERT): "bad params", "only the admin", "too many reporters", "not a reporter",
"value must be positive", "stale".

Invariants: only allowed reporters' reports count; an answer is always the median of at
least min_reports reports younger than max_age_seconds, never an older value. Same-shard
tested only: cross-shard txs do not exist yet (push_reference calls the market).
"""

REPORTERS_MAX = 16

admin = Value()
params = Value()  # [max_age_seconds, min_reports]
reporters = Value()  # list of reporters
reports = Map()  # reporter -> [value, time, height]


@export
def init(max_age_seconds: int, min_reports: int):
    check_params(max_age_seconds, min_reports)
    admin.set(ctx.sender)
    params.set([max_age_seconds, min_reports])
    reporters.set([])
    emit("Configured", admin=ctx.sender, max_age_seconds=max_age_seconds,
         min_reports=min_reports)


def check_params(max_age_seconds: int, min_reports: int):
    require(max_age_seconds > 0 and min_reports >= 1 and min_reports <= REPORTERS_MAX,
            "bad params")


def only_admin():
    require(ctx.sender == admin.get(), "only the admin")


@export
def set_reporter(reporter: bytes, allowed: bool):
    only_admin()
    current = reporters.get()
    if allowed and reporter not in current:
        require(len(current) < REPORTERS_MAX, "too many reporters")
        current.append(reporter)
    elif not allowed and reporter in current:
        current.remove(reporter)
        if reporter in reports:
            del reports[reporter]
    reporters.set(current)
    emit("ReporterSet", reporter=reporter, allowed=allowed)


@export
def set_params(max_age_seconds: int, min_reports: int):
    only_admin()
    check_params(max_age_seconds, min_reports)
    params.set([max_age_seconds, min_reports])
    emit("Configured", admin=admin.get(), max_age_seconds=max_age_seconds,
         min_reports=min_reports)


@export
def submit(value: int):
    require(ctx.sender in reporters.get(), "not a reporter")
    require(value > 0, "value must be positive")
    reports[ctx.sender] = [value, ctx.time, ctx.height]
    emit("Submitted", reporter=ctx.sender, value=value)


def answer() -> list:
    limits = params.get()
    values = []
    oldest = ctx.time
    for reporter in reporters.get():
        report = reports.get(reporter)
        if report is not None and ctx.time < report[1] + limits[0]:
            values.append(report[0])
            oldest = min(oldest, report[1])
    require(len(values) >= limits[1], "stale")
    values.sort()
    return [values[(len(values) - 1) // 2], len(values), oldest]


@export
def push_reference(market: bytes, collection: bytes) -> int:
    value = answer()[0]
    emit("ReferencePushed", market=market, collection=collection, price=value)
    call(market, "govern", action=["set_reference", collection, value])
    return value


@export
def relay(market: bytes, action: list):
    only_admin()
    emit("Relayed", market=market, action=action)
    call(market, "govern", action=action)


@export
def set_admin(new_admin: bytes):
    only_admin()
    admin.set(new_admin)
    emit("AdminSet", admin=new_admin)


@view
def price() -> int:
    return answer()[0]


@view
def latest() -> list:
    return answer()


@view
def report_of(reporter: bytes) -> list:
    return reports.get(reporter, [])


@view
def reporters_of() -> list:
    return reporters.get()
