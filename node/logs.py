"""Logging set-up of a node process: text or JSON lines, per-module levels.

Levels: ``INFO`` (one level for everything) or a list such as ``consensus=debug,*=info``:
``*`` is the root level, every other name is a logger prefix (``consensus``,
``network.peer_manager``, ``hypercorn.error``). Unknown level names are a config problem.

Formats: ``text`` (``time level node=K logger message``) or ``json`` (one object per line
with ``time``, ``level``, ``logger``, ``node``, ``message`` and ``exc`` when there is a
traceback), for log shippers (Loki, Elasticsearch, Cloud Logging).

hypercorn logs its start-up line ("Running on ...") through ``hypercorn.error``; given the
string "-" it adds a stderr handler of its own *and* propagates to ours, so every line
appeared twice. Both servers hand it the Logger itself (:func:`hypercorn_error_logger`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log_formats = ("text", "json")
level_names = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
hypercorn_loggers = ("hypercorn.error", "hypercorn.access")


def parse_levels(spec: str) -> tuple[dict[str, str], list[str]]:
    """``consensus=debug,*=info`` -> ({"": "INFO", "consensus": "DEBUG"}, problems)."""
    levels: dict[str, str] = {}
    problems: list[str] = []
    for part in (item.strip() for item in spec.split(",")):
        if not part:
            continue
        name, separator, level = part.rpartition("=") if "=" in part else ("*", "=", part)
        name = "" if name.strip() in ("*", "") else name.strip()
        level = level.strip().upper()
        if level not in level_names:
            problems.append(f"log level {level!r} for {name or '*'!r} must be one of "
                            + ", ".join(level_names))
            continue
        levels[name] = level
    if not levels and not problems:
        problems.append("log level must not be empty")
    levels.setdefault("", "INFO")
    return levels, problems


class JsonFormatter(logging.Formatter):
    def __init__(self, node_label: str) -> None:
        super().__init__()
        self.node_label = node_label

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "node": self.node_label,
            "message": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=True)


def setup_logging(levels_spec: str, log_format: str, node_label: str) -> None:
    """Configure the root logger once for this process (replaces earlier handlers)."""
    levels, problems = parse_levels(levels_spec)
    if problems or log_format not in log_formats:
        raise ValueError("; ".join(problems) or f"log format must be one of {log_formats}")
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(node_label))
    else:
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s node={node_label} %(name)s %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(levels[""])
    for name, level in levels.items():
        if name:
            logging.getLogger(name).setLevel(level)


def hypercorn_error_logger() -> logging.Logger:
    """For ``hypercorn.Config.errorlog``: given a Logger (not "-"), hypercorn adds no handler
    of its own, so its lines reach the root handler once, in our format."""
    return logging.getLogger("hypercorn.error")
