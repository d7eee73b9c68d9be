"""The block explorer and live dashboard, served by the node at ``/explorer`` on its RPC port.

Why served by the node rather than a process of its own: an operator already runs the
node and already exposes (or firewalls) its RPC port; the explorer adds no process, no
port and no config to keep in step, shares the RPC server's connection limit, and reads
through the node's own JSON-RPC method table in-process, so each page shows what any
client of that port can fetch and check. Its one addition to the API is
``agora_recentActivity`` (history.py), a bounded scan for an account's recent txs and a
contract's recent events, available to every client.

Layout:

* app.py: routes, the RPC batch behind each page (its module docstring lists the reads
  per page), static assets, status codes, time limit, Content-Security-Policy;
* pages.py: pure renderers from RPC JSON to HTML; html.py: structural escaping;
* decode.py: native and VM canonical msgpack to readable values;
* history.py: ``agora_recentActivity``;
* static/: explorer.css and live.js (the overview's live TPS chart, fed by the WebSocket
  ``newBlocks`` subscription on the same port). Shipped as package data: no CDN, nothing
  fetched at run time, no build step.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.node import Node
    from node.rpc import RpcServer


def install(server: RpcServer, node: Node) -> None:
    """Add ``agora_recentActivity`` to the server's methods and mount the pages (when
    ``[explorer] enabled``)."""
    from node.explorer.app import Explorer, mount_path
    from node.explorer.history import RecentActivity

    config = node.config.explorer
    server.methods["agora_recentActivity"] = RecentActivity(node, config).method()
    if config.enabled:
        # A page's reads go through the RPC as one batch (a page of reads and two more), so
        # the page is never longer than the batch the server accepts.
        page_size = max(1, min(config.page_size_max, server.config.batch_length_max - 2))
        explorer = Explorer(server.handle_payload, dataclasses.replace(
            config, page_size_max=page_size), server.config.request_timeout_seconds)
        server.mounts[mount_path] = explorer


__all__: list[Any] = ["install"]
