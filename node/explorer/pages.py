"""The explorer's pages: pure functions from the RPC's JSON answers to escaped HTML.

Nothing here does IO; app.py fetches, these render. Each page works without JavaScript;
the overview's live chart and live cells are progressive enhancement (static/live.js).
Fields the RPC does not give yet are shown when it does: a receipt's ``fee``, a
cross-shard transaction's ``legs`` and ``decision``, and any other receipt field a later
version adds (rendered generically under "More receipt fields").
"""

from __future__ import annotations

from typing import Any

from node.explorer.decode import (
    address_link,
    block_link,
    decode_payload,
    decode_vm,
    format_time_ms,
    from_hex,
    named,
    native_arg_names,
    native_event_fields,
    render_value,
    short_hex,
    tx_link,
)
from node.explorer.html import Child, Safe, document, el, esc, fields, link, table

Json = Any
deploy_method = "_deploy"
# Receipt fields this page renders by name; any other field is listed generically.
known_receipt_fields = frozenset({
    "tx_hash", "status", "status_name", "ok", "gas_used", "error", "events", "result",
    "shard", "height", "position", "fee", "legs", "decision", "result_json"})


def _names(validators: list[Json]) -> dict[int, str]:
    return {item["index"]: item["name"] for item in validators or []}


def _validator(index: Any, names: dict[int, str]) -> Safe:
    if not isinstance(index, int):
        return esc("—")
    return esc(f"#{index} {names.get(index, '?')}")


def _status_badge(ok: bool | None, name: str | None) -> Safe:
    kind = "ok" if ok else "failed"
    return el("span", {"class": f"badge {kind}"}, name or "—")


# -- overview ----------------------------------------------------------------------------


def overview(status: Json, validators: list[Json], mempool: Json, latest: list[Json | None],
             statuses: list[Json | str]) -> Safe:
    """``statuses[i]``: validator i's agora_status, or why it could not be had."""
    names = _names(validators)
    shard_count = status["shard_count"]
    main = [
        el("h1", None, "Overview"),
        fields([("Chain", el("code", None, status["chain_id"])),
                ("Shards", str(shard_count)),
                ("This node", _validator(status.get("node_index"), names)),
                ("Transactions committed (this node's shards)", str(status["txs_committed"])),
                ("Uptime", f"{status.get('uptime_seconds', 0):.0f} s")]),
        el("h2", None, "Shards"),
        _shards_table(status, latest, names),
        _live_section(shard_count),
        el("h2", None, "Validators"),
        _validators_table(validators, statuses, shard_count),
        el("h2", None, "Mempool (this node)"),
        _mempool_fields(mempool),
    ]
    return document("Overview", main, scripts=("live.js",))


def _shards_table(status: Json, latest: list[Json | None], names: dict[int, str]) -> Safe:
    rows = []
    for item, block in zip(status["shards"], latest):
        shard = item["shard"]
        state = "halted" if item.get("halted") else (
            "view change" if item.get("in_view_change") else "ok")
        height = link(f"/explorer/shard/{shard}", str(item["height"]))
        rows.append([
            link(f"/explorer/shard/{shard}", f"shard {shard}"),
            el("span", {"id": f"s{shard}-height"}, height),
            el("span", {"id": f"s{shard}-view"}, str(item["view"])),
            _validator(item.get("primary"), names),
            el("span", {"id": f"s{shard}-time"},
               format_time_ms(block["timestamp_ms"] if block else None)),
            el("span", {"id": f"s{shard}-txs"}, str(block["tx_count"]) if block else "—"),
            el("span", {"id": f"s{shard}-tps"}, "—"),
            el("span", {"class": f"badge {'ok' if state == 'ok' else 'failed'}"}, state),
        ])
    return table(None, ["Shard", "Height", "View", "Primary", "Last block", "Txs in last block",
                        "Live TPS", "State"], rows, empty="This chain has no shards.",
                 id="shards")


def _live_section(shard_count: int) -> Safe:
    return el("section", {"aria-labelledby": "live-heading", "class": "live"},
              el("h2", {"id": "live-heading"}, "Live throughput"),
              el("p", {"id": "live-status", "role": "status"},
                 "Live updates need JavaScript: the figures above are as of page load."),
              el("p", None, "Committed TPS over the last 10 s, all shards: ",
                 el("output", {"id": "tps-now", "aria-live": "polite"}, "—")),
              el("canvas", {"id": "tps-chart", "width": "760", "height": "200",
                            "role": "img", "data-shards": str(shard_count),
                            "data-blocks": "0", "data-txs": "0",
                            "aria-label": "Committed transactions per second, last 60 s"},
                 "Transactions per second chart (needs JavaScript)."))


def _validators_table(validators: list[Json], statuses: list[Json | str],
                      shard_count: int) -> Safe:
    rows = []
    for item, answer in zip(validators, statuses):
        common = [str(item["index"]), item["name"],
                  el("code", {"title": item["public_key"]}, short_hex(item["public_key"])),
                  el("code", None, item["rpc_address"] or "—")]
        if isinstance(answer, str):
            rows.append(common + [el("span", {"class": "badge failed"}, "unreachable"),
                                  answer, "—", "—"])
            continue
        shards = answer.get("shards", [])
        views = ", ".join(f"{s['shard']}:{s['view']}" for s in shards)
        halted = [str(s["shard"]) for s in shards if s.get("halted")]
        rows.append(common + [el("span", {"class": "badge ok"}, "reachable"),
                              f"{len(answer.get('peers', []))} of {len(validators) - 1}",
                              views or "—",
                              ("shards " + ", ".join(halted)) if halted else "none"])
    return table(None, ["#", "Name", "Public key", "RPC", "Status", "Peers",
                        "Views (shard:view)", "Halted"], rows,
                 empty="The genesis lists no validators.", id="validators")


def _mempool_fields(mempool: Json) -> Safe:
    rejections = ", ".join(f"{name}: {count}" for name, count in
                           sorted(mempool.get("rejections", {}).items())) or "none"
    per_shard = ", ".join(f"{shard}: {size}" for shard, size in
                          enumerate(mempool.get("shard_sizes_txs", []))) or "—"
    return fields([("Pending txs", str(mempool["size_txs"])),
                   ("Pending bytes", str(mempool["size_bytes"])),
                   ("In flight (proposed, not yet final)", str(mempool["in_flight_txs"])),
                   ("Pending per shard", per_shard),
                   ("Rejected since start", rejections)], id="mempool")


# -- blocks ------------------------------------------------------------------------------


def shard_blocks(shard: int, shard_count: int, top: int, blocks: list[Json | None],
                 validators: list[Json], page_size: int, first_height: int) -> Safe:
    """Blocks ``first_height`` down to ``first_height - page_size + 1`` of ``shard``."""
    names = _names(validators)
    tabs = el("p", {"class": "tabs"}, "Shards: ", [
        [el("strong", {"aria-current": "page"}, f"shard {s}") if s == shard
         else link(f"/explorer/shard/{s}", f"shard {s}"), " "] for s in range(shard_count)])
    rows = [[block_link(shard, b["height"], str(b["height"])),
             link(f"/explorer/block/{b['hash']}", el("code", None, short_hex(b["hash"]))),
             format_time_ms(b["timestamp_ms"]), str(b["tx_count"]), str(b["view"]),
             _validator(b["proposer"], names)] for b in blocks if b]
    pager = _pager(shard, top, first_height, page_size)
    main = [el("h1", None, f"Blocks of shard {shard}"), tabs,
            el("p", None, f"Finalized height: {top}. Newest first, {page_size} per page."),
            table(None, ["Height", "Hash", "Time", "Txs", "View", "Proposer"], rows,
                  empty="No blocks in this range yet: the shard has only its genesis state.",
                  id="blocks"),
            pager]
    return document(f"Shard {shard} blocks", main)


def _pager(shard: int, top: int, first: int, page_size: int) -> Safe:
    parts: list[Child] = []
    if first < top:
        newer = min(top, first + page_size)
        parts.append(link(f"/explorer/shard/{shard}?from={newer}", "← Newer", rel="prev"))
    if first - page_size >= 1:
        parts.append(link(f"/explorer/shard/{shard}?from={first - page_size}", "Older →",
                          rel="next"))
    return el("nav", {"class": "pager", "aria-label": "Pages"}, [[p, " "] for p in parts])


def block_page(block: Json, validators: list[Json], receipts: list[Json | None],
               page: int, page_size: int) -> Safe:
    names = _names(validators)
    shard, height = block["shard"], block["height"]
    certificate = block.get("certificate")
    signers = "—" if certificate is None else [
        [_validator(index, names), "; "] for index in certificate["signers"]]
    around = [block_link(shard, height - 1, "← previous") if height > 1 else None, " ",
              block_link(shard, height + 1, "next →")]
    header = fields([
        ("Shard", link(f"/explorer/shard/{shard}", str(shard))),
        ("Height", [str(height), " ", el("span", {"class": "around"}, around)]),
        ("Hash", el("code", None, block["hash"])),
        ("Previous hash", el("code", None, block["prev_hash"])),
        ("Time", format_time_ms(block["timestamp_ms"])),
        ("View", str(block["view"])),
        ("Proposer", _validator(block["proposer"], names)),
        ("Transactions", str(block["tx_count"])),
        ("Tx root", el("code", None, block["tx_root"])),
        (f"State root (after height {block['app_height']})",
         el("code", None, block["state_root"])),
        ("Receipts root (in header)", el("code", None, block["receipts_root"])),
        ("State root after this block (this node)", el("code", None,
                                                       block["executed_state_root"] or "—")),
        ("Receipts root of this block (this node)",
         el("code", None, block["executed_receipts_root"] or "—")),
        ("Commit certificate", "none (genesis)" if certificate is None else
         f"view {certificate['view']}, height {certificate['height']}, "
         f"{len(certificate['signers'])} signatures"),
        ("Signers", signers),
    ], id="block-header")
    start = page * page_size
    txs = block["txs"][start:start + page_size]
    rows = []
    for position, (tx, receipt) in enumerate(zip(txs, receipts), start):
        rows.append([str(position), tx_link(tx["hash"]), address_link(tx["sender"]),
                     address_link(tx["contract"]), tx["method"],
                     _status_badge(receipt and receipt["ok"],
                                   receipt["status_name"] if receipt else None),
                     str(receipt["gas_used"]) if receipt else "—"])
    pages = (block["tx_count"] + page_size - 1) // page_size
    pager: list[Child] = []
    if page > 0:
        pager.append(link(f"/explorer/block/{shard}/{height}?page={page - 1}", "← Previous txs",
                          rel="prev"))
    if page + 1 < pages:
        pager.append(link(f"/explorer/block/{shard}/{height}?page={page + 1}", "More txs →",
                          rel="next"))
    main = [el("h1", None, f"Block {height} of shard {shard}"), header,
            el("h2", None, "Transactions" + (f" (page {page + 1} of {pages})" if pages > 1
                                             else "")),
            table(None, ["#", "Hash", "Sender", "Contract", "Method", "Status", "Gas used"],
                  rows, empty="This block has no transactions.", id="block-txs"),
            el("nav", {"class": "pager", "aria-label": "Pages"}, [[p, " "] for p in pager])]
    return document(f"Block {shard}/{height}", main)


# -- a transaction -----------------------------------------------------------------------


def tx_page(tx: Json, receipt: Json | None) -> Safe:
    contract, method = tx["contract"], tx["method"]
    main: list[Child] = [el("h1", None, "Transaction")]
    rows: list[tuple[str, Child]] = [
        ("Hash", el("code", {"id": "tx-hash"}, tx["hash"])),
        ("Status", _status_badge(receipt["ok"], receipt["status_name"]) if receipt
         else "no receipt on this node"),
        ("Block", [block_link(tx["shard"], tx["height"]), f", position {tx['position']}"]),
        ("Sender", address_link(tx["sender"], tx["sender"])),
        ("Contract", address_link(contract, contract) if contract else address_link("")),
        ("Method", el("code", None, method)),
        ("Arguments", _args(contract, method, tx["args"])),
        ("Nonce", str(tx["nonce"])), ("Expiry height", str(tx["expiry_height"])),
        ("Gas limit", str(tx["gas_limit"])),
    ]
    if receipt is not None:
        rows += [("Gas used", str(receipt["gas_used"]))]
        if "fee" in receipt:
            rows.append(("Fee", render_value(receipt["fee"])))
        if receipt.get("error"):
            rows.append(("Error", el("q", {"class": "str error"}, receipt["error"])))
        if receipt.get("result"):
            rows.append(("Result", render_value(_result(contract, receipt["result"]))))
    rows.append(("Signature", el("code", {"class": "wrap"}, tx["signature"])))
    main.append(fields(rows, id="tx-fields"))
    if contract and method == deploy_method:
        main.append(_deploy_source(tx["args"]))
    if receipt is not None:
        main += [el("h2", None, "Events"), events_table(receipt["events"], with_tx=False)]
        main += _cross_shard(receipt)
        main += _more_fields(receipt)
    return document(f"Tx {tx['hash'][:16]}", main)


def _args(contract: str, method: str, args_hex: str) -> Safe:
    value = decode_payload(contract, args_hex)
    if not contract:
        value = named(value, native_arg_names)
    elif method == deploy_method and isinstance(value, dict) and "source" in value:
        value = {"args": value.get("args"), "source": f"({len(value['source'])} characters, "
                 "below)"}
    return render_value(value)


def _deploy_source(args_hex: str) -> Safe:
    value = decode_vm(from_hex(args_hex))
    source = value.get("source") if isinstance(value, dict) else None
    if not isinstance(source, str):
        return esc("")
    return el("details", {"class": "source"}, el("summary", None, "Deployed source"),
              el("pre", None, el("code", None, source)))


def _result(contract: str, result_hex: str) -> Any:
    return decode_payload(contract, result_hex) if contract else result_hex


def events_table(events: list[Json], with_tx: bool) -> Safe:
    rows = []
    for index, event in enumerate(events):
        data = decode_payload(event["contract"], event["data"])
        if event["contract"] == "":
            data = named(data, native_event_fields.get(event["name"], ()))
        row: list[Child] = [str(event.get("index", index)), address_link(event["contract"]),
                            el("code", None, event["name"]), render_value(data)]
        if with_tx:
            row = [format_time_ms(event.get("timestamp_ms")), tx_link(event["tx_hash"])] + row
        rows.append(row)
    headers = ["#", "Contract", "Event", "Data"]
    if with_tx:
        headers = ["Time", "Tx"] + headers
    return table(None, headers, rows, empty="No events.", **{"class": "events"})


def _cross_shard(receipt: Json) -> list[Child]:
    """Legs and the decision of a cross-shard tx, when the receipt carries them."""
    if "legs" not in receipt and "decision" not in receipt:
        return []
    out: list[Child] = [el("h2", None, "Cross-shard")]
    if "decision" in receipt:
        out.append(fields([("Decision", render_value(receipt["decision"]))]))
    legs = receipt.get("legs") or []
    if isinstance(legs, list) and all(isinstance(leg, dict) for leg in legs):
        keys = sorted({key for leg in legs for key in leg})
        out.append(table(None, keys, [[render_value(leg.get(key)) for key in keys]
                                      for leg in legs], empty="No legs.", id="legs"))
    else:
        out.append(render_value(legs))
    return out


def _more_fields(receipt: Json) -> list[Child]:
    extra = sorted(key for key in receipt if key not in known_receipt_fields)
    if not extra:
        return []
    return [el("h2", None, "More receipt fields"),
            fields([(key, render_value(receipt[key])) for key in extra])]


# -- an account or contract -------------------------------------------------------------


def account_page(account: Json, code: str | None, contract_info: Json | None,
                 template: str | None, activity: Json) -> Safe:
    address = account["address"]
    is_contract = code is not None
    kind = "Contract" if is_contract else "Account"
    rows: list[tuple[str, Child]] = [
        ("Address", el("code", {"id": "address"}, address)),
        ("Shard", str(account["shard"])),
        ("Native balance", el("span", {"id": "balance"}, str(account["balance"]))),
    ]
    if is_contract:
        rows.append(("Template", template or "custom source (no template matches)"))
    main: list[Child] = [el("h1", None, kind), fields(rows, id="account-fields")]
    if is_contract:
        main += [el("h2", None, "Methods"), _methods(contract_info),
                 el("details", {"class": "source"}, el("summary", None, "Source"),
                    el("pre", None, el("code", None, code)))]
    txs = activity["txs"]
    if not txs and not is_contract and account["balance"] == 0:
        main.append(el("p", {"class": "empty", "id": "nothing-known"},
                       "Nothing is known about this address on this node: no balance, no "
                       "contract code, no transactions in the blocks scanned. If you were "
                       "looking for a transaction or block hash, this node does not have it."))
    main += [el("h2", None, "Recent transactions"), _coverage(activity),
             table(None, ["Time", "Tx", "Role", "Block", "Contract", "Method", "Status"],
                   [[format_time_ms(t["timestamp_ms"]), tx_link(t["hash"]), t["role"],
                     block_link(t["shard"], t["height"]), address_link(t["contract"]),
                     el("code", None, t["method"]),
                     _status_badge(t["status"] == 0, t["status_name"])] for t in txs],
                   empty="No transactions in the blocks scanned.", id="account-txs")]
    if is_contract:
        main += [el("h2", None, "Recent events"),
                 events_table(activity["events"], with_tx=True)]
    return document(f"{kind} {address[:16]}", main)


def _methods(info: Json | None) -> Safe:
    if info is None:
        return el("p", {"class": "empty"}, "The source does not validate on this node's VM.")
    rows = [[el("code", None, name), kind, ", ".join(params) or "—"]
            for name, kind, params in info]
    return table(None, ["Method", "Kind", "Parameters"], rows,
                 empty="This contract exports no methods.", id="methods")


def _coverage(activity: Json) -> Safe:
    ranges = "; ".join(
        f"shard {item['shard']}: " + (f"heights {item['from_height']}–{item['to_height']}"
                                      if item["from_height"] <= item["to_height"] else "none")
        for item in activity["scanned"])
    note = "" if activity["complete"] else " The scan stopped early at its bounds."
    return el("p", {"class": "note"}, f"Scanned up to the last {activity['blocks_per_shard']} "
              f"blocks of each shard ({ranges}), newest first.{note}")


# -- search and errors -------------------------------------------------------------------


def height_results(query: str, blocks: list[Json | None]) -> Safe:
    rows = [[block_link(b["shard"], b["height"]), el("code", None, short_hex(b["hash"])),
             format_time_ms(b["timestamp_ms"]), str(b["tx_count"])] for b in blocks if b]
    main = [el("h1", None, f"Height {query}"),
            table(None, ["Block", "Hash", "Time", "Txs"], rows,
                  empty=f"No shard has reached height {query} yet.", id="search-results")]
    return document(f"Height {query}", main, search_value=query)


def error_page(status: int, title: str, message: str, query: str = "") -> Safe:
    main = [el("h1", None, title), el("p", {"class": "error", "id": "error"}, message),
            el("p", None, link("/explorer", "Back to the overview"))]
    return document(f"{status} {title}", main, search_value=query)
