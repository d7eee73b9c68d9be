"""A minimal HTML builder in which escaping is structural.

Everything shown by the explorer comes from the chain, and much of it from whoever sent a
transaction: event names and fields, revert messages, contract source, method names. So
every ``str`` that reaches a page goes through ``html.escape``; only :class:`Safe` values,
built here from escaped parts, pass through as they are. Pages are assembled with
:func:`el` (an element with escaped attributes and children) and never by formatting
strings of markup around raw values.
"""

from __future__ import annotations

import html
from collections.abc import Iterable


class Safe(str):
    """Markup that is already escaped (built by this module)."""

    __slots__ = ()


Child = Safe | str | int | None | Iterable["Child"]

# Elements without content or closing tag (HTML Living Standard, "void elements").
_void = frozenset({"br", "hr", "img", "input", "link", "meta"})


def esc(value: object) -> Safe:
    """Escaped text for anything not already Safe (quotes too: safe inside attributes)."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape(str(value), quote=True))


def join(children: Child) -> Safe:
    if children is None:
        return Safe("")
    if isinstance(children, (str, int)):
        return esc(children)
    return Safe("".join(join(child) for child in children))


def el(tag: str, attrs: dict[str, object] | None = None, *children: Child) -> Safe:
    """``<tag attrs>children</tag>``; an attribute valued True is written bare, None or
    False left out. ``tag`` and attribute names are code, never data."""
    assert tag.isalnum() and all(name.replace("-", "").isalnum() for name in attrs or {})
    parts = [tag]
    for name, value in (attrs or {}).items():
        if value is True:
            parts.append(name)
        elif value is not None and value is not False:
            parts.append(f'{name}="{esc(value)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _void:
        assert not children, f"<{tag}> has no content"
        return Safe(opening)
    return Safe(f"{opening}{join(children)}</{tag}>")


def link(href: str, *children: Child, **attrs: object) -> Safe:
    return el("a", {"href": href, **attrs}, *children)


def table(caption: str | None, headers: list[str], rows: Iterable[list[Child]],
          empty: str = "Nothing to show.", **attrs: object) -> Safe:
    """A data table with a caption and column headers (``scope="col"``); a clear empty
    state instead of an empty table."""
    rows = list(rows)
    if not rows:
        return el("p", {"class": "empty"}, empty)
    head = el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in headers]))
    body = el("tbody", None, [el("tr", None, [el("td", None, cell) for cell in row])
                              for row in rows])
    return el("table", attrs, el("caption", None, caption) if caption else None, head, body)


def fields(pairs: Iterable[tuple[str, Child]], **attrs: object) -> Safe:
    """A definition list of label/value pairs (a record: a block header, a receipt)."""
    return el("dl", {"class": "fields", **attrs},
              [[el("dt", None, label), el("dd", None, value)] for label, value in pairs])


def document(title: str, main: Child, *, scripts: tuple[str, ...] = (),
             search_value: str = "") -> Safe:
    """The page frame: skip link, navigation with the search form, main, footer."""
    head = el("head", None,
              el("meta", {"charset": "utf-8"}),
              el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
              el("title", None, f"{title} · Agora explorer"),
              el("link", {"rel": "stylesheet", "href": "/explorer/static/explorer.css"}),
              [el("script", {"src": f"/explorer/static/{name}", "defer": True})
               for name in scripts])
    search = el("form", {"class": "search", "role": "search", "action": "/explorer/search",
                         "method": "get"},
                el("label", {"for": "q"}, "Search"),
                el("input", {"id": "q", "name": "q", "type": "search", "value": search_value,
                             "placeholder": "tx hash, block hash, address or height",
                             "maxlength": "200", "size": "48", "autocomplete": "off"}),
                el("button", {"type": "submit"}, "Go"))
    header = el("header", None,
                el("a", {"class": "skip", "href": "#main"}, "Skip to content"),
                el("nav", {"aria-label": "Explorer"},
                   link("/explorer", el("strong", None, "Agora explorer")),
                   link("/explorer/shard/0", "Blocks")),
                search)
    footer = el("footer", None, "Read-only view of this node's finalized chain, built from "
                "its JSON-RPC (", el("code", None, "POST /"), ") and WebSocket API.")
    body = el("body", None, header, el("main", {"id": "main", "tabindex": "-1"}, main), footer)
    return Safe("<!DOCTYPE html>\n" + el("html", {"lang": "en"}, head, body))
