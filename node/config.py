"""Node configuration: a TOML file parsed into one frozen dataclass per section.

Every bound the node applies (queue sizes, body sizes, connection counts, timeouts) is a
field here, with a default that works for the local cluster (``agora cluster up``), so an
empty file is a valid config. Units are the last word of each field name.

Loading (``load_config`` / ``parse_config``) reports every problem at once in one
:class:`consensus.errors.ConfigError`: unknown sections and keys (a typo must not silently
fall back to a default), wrong types, then each section's ``validate()`` (ranges and how
fields relate). CLI flags override the file in ``node/cli.py`` via ``dataclasses.replace``
on the parsed sections, followed by ``NodeConfig.validate()`` again.

Example::

    [node]
    home_dir = "~/.agora/node0"
    node_index = 0
    [network]
    listen_port = 26700
    [rpc]
    port = 8545
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path
from typing import Any

from consensus.errors import ConfigError

MEBIBYTE_BYTES = 1024 * 1024
port_max = 65535
log_levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _positive(section: str, owner: object, names: tuple[str, ...]) -> list[str]:
    problems = []
    for name in names:
        value = getattr(owner, name)
        if value <= 0:
            problems.append(f"{section}.{name} must be > 0, got {value!r}")
    return problems


def _port(section: str, name: str, value: int, allow_zero: bool = True) -> list[str]:
    low = 0 if allow_zero else 1
    if not low <= value <= port_max:
        return [f"{section}.{name} must be in {low}..{port_max}, got {value}"]
    return []


@dataclasses.dataclass(frozen=True, slots=True)
class NodeSection:
    """``[node]``: where this node keeps its files and which validator it is."""

    # Where the node's files are; relative to the folder of config.toml (`agora node start
    # --home`). The paths below, when relative, are relative to home_dir.
    home_dir: str = "."
    data_dir: str = "data"
    key_file: str = "node_key.hex"
    genesis_file: str = "genesis.json"
    # What this validator signed, per shard, kept apart from data_dir so that
    # `agora node reset-state` keeps it (node/last_signed.py). Never delete it.
    last_signed_dir: str = "last_signed"
    # The validator index; -1 (the default) derives it from the key's place in the genesis
    # (node/consortium.py), which is how it should be: a typed index can only be wrong.
    node_index: int = -1
    # One level ("INFO") or per logger prefix: "consensus=debug,network=warning,*=info".
    log_level: str = "INFO"
    # "text" (time level node logger message) or "json" (one object per line).
    log_format: str = "text"
    # State entries (key -> value) the executor keeps in memory per shard, updated as
    # blocks are finalized; 0 reads every key from LevelDB.
    state_cache_entries: int = 100_000
    # Hashes of recently finalized txs kept in memory for the replay check (node/committed.py);
    # 0 asks LevelDB every time.
    committed_index_txs: int = 400_000
    # Finalized blocks per shard kept decoded in memory for the RPC (agora_getBlock,
    # agora_getTransaction, latest and awaited blocks); older ones are read from LevelDB.
    # About 0.8 KB per tx held: 32 full blocks of block_txs_max 2,000 are ~50 MB.
    recent_blocks_cached: int = 32
    # ... and at most this many bytes of them (encoded size): 32 blocks of 2,000
    # transfers are ~11 MB, while blocks of 64 KB txs (4 MiB each) would be 128 MiB.
    recent_blocks_bytes_max: int = 16 * MEBIBYTE_BYTES
    # Compiled contracts kept in memory per shard (vm/contract.py ContractCache), bounded in
    # count and in estimated bytes (a compiled 48 KB contract holds about 1 MB). A miss
    # reads the compiled code this node persisted in LevelDB, or compiles the source.
    contract_cache_entries: int = 256
    contract_cache_bytes_max: int = 256 * MEBIBYTE_BYTES

    def validate(self) -> list[str]:
        problems = []
        if self.contract_cache_entries < 1:
            problems.append("node.contract_cache_entries must be >= 1, got "
                            f"{self.contract_cache_entries}")
        if self.contract_cache_bytes_max < 0:
            problems.append("node.contract_cache_bytes_max must be >= 0, got "
                            f"{self.contract_cache_bytes_max}")
        if self.recent_blocks_bytes_max < 0:
            problems.append("node.recent_blocks_bytes_max must be >= 0, got "
                            f"{self.recent_blocks_bytes_max}")
        if self.recent_blocks_cached < 0:
            problems.append("node.recent_blocks_cached must be >= 0, got "
                            f"{self.recent_blocks_cached}")
        if self.committed_index_txs < 0:
            problems.append("node.committed_index_txs must be >= 0, got "
                            f"{self.committed_index_txs}")
        if self.state_cache_entries < 0:
            problems.append("node.state_cache_entries must be >= 0, got "
                            f"{self.state_cache_entries}")
        if self.node_index < -1:
            problems.append(f"node.node_index must be >= 0 (or -1: derived from the key), "
                            f"got {self.node_index}")
        from node.logs import log_formats, parse_levels

        problems += [f"node.log_level: {problem}" for problem in parse_levels(self.log_level)[1]]
        if self.log_format not in log_formats:
            problems.append(f"node.log_format must be one of {', '.join(log_formats)}, "
                            f"got {self.log_format!r}")
        for name in ("home_dir", "data_dir", "key_file", "genesis_file", "last_signed_dir"):
            if not getattr(self, name):
                problems.append(f"node.{name} must not be empty")
        return problems

    def resolve(self, name: str) -> Path:
        """``home_dir / <field>`` (absolute fields stay as they are), ``~`` expanded."""
        return Path(self.home_dir).expanduser() / Path(getattr(self, name)).expanduser()


@dataclasses.dataclass(frozen=True, slots=True)
class NetworkSection:
    """``[network]``: peer links. Peers dial the address of this validator in the genesis
    (the genesis is the address book); ``listen_host`` and ``listen_port`` say where to bind
    when that is not the genesis address itself (a NAT, a container's port mapping). The
    fields after them mirror ``network.config.NetworkConfig`` (``to_network_config`` maps
    them)."""

    # Empty: the host of this validator's genesis address.
    listen_host: str = ""
    # 0: the port of this validator's genesis address.
    listen_port: int = 0
    # Every consensus message must fit: a VIEW-CHANGE / NEW-VIEW is at most
    # consensus.types.new_view_bytes_max(n, window) (292 KB for 4 validators and a window
    # of 64; checked against the genesis at start), a catch-up answer at most
    # consensus.sync_response_bytes_max, a PRE-PREPARE one block (consensus.block_bytes_max).
    max_frame_bytes: int = 16 * MEBIBYTE_BYTES
    handshake_timeout_seconds: float = 5.0
    # The hello exchange, the first record each way, must finish in this.
    hello_timeout_seconds: float = 1.0
    # Inbound connections mid-handshake, in all and per remote address; when full, the
    # least advanced one is closed for the newcomer (network/peer_manager.py).
    max_pending_handshakes: int = 64
    max_pending_handshakes_per_address: int = 8
    dial_timeout_seconds: float = 5.0
    send_queue_frames: int = 1024
    send_queue_bytes: int = 64 * MEBIBYTE_BYTES
    # Per peer; when a peer's queue is full its link reader waits (backpressure on that
    # peer only). At most (validators - 1) * inbound_queue_bytes are held.
    inbound_queue_frames: int = 1024
    inbound_queue_bytes: int = 32 * MEBIBYTE_BYTES
    reconnect_backoff_initial_seconds: float = 0.1
    reconnect_backoff_max_seconds: float = 5.0
    write_timeout_seconds: float = 10.0
    keepalive_interval_seconds: float = 2.0
    idle_timeout_seconds: float = 10.0

    def validate(self) -> list[str]:
        problems = _port("network", "listen_port", self.listen_port)
        problems += _positive("network", self, (
            "max_frame_bytes", "handshake_timeout_seconds", "hello_timeout_seconds",
            "max_pending_handshakes", "max_pending_handshakes_per_address",
            "dial_timeout_seconds", "send_queue_frames", "send_queue_bytes",
            "inbound_queue_frames", "inbound_queue_bytes",
            "reconnect_backoff_initial_seconds", "reconnect_backoff_max_seconds",
            "write_timeout_seconds", "keepalive_interval_seconds", "idle_timeout_seconds"))
        if self.reconnect_backoff_initial_seconds > self.reconnect_backoff_max_seconds:
            problems.append("network.reconnect_backoff_initial_seconds must be <= "
                            "network.reconnect_backoff_max_seconds")
        if self.keepalive_interval_seconds >= self.idle_timeout_seconds:
            problems.append("network.keepalive_interval_seconds must be < "
                            "network.idle_timeout_seconds")
        if self.hello_timeout_seconds > self.handshake_timeout_seconds:
            problems.append("network.hello_timeout_seconds must be <= "
                            "network.handshake_timeout_seconds")
        if self.max_pending_handshakes_per_address > self.max_pending_handshakes:
            problems.append("network.max_pending_handshakes_per_address must be <= "
                            "network.max_pending_handshakes")
        if self.max_frame_bytes >= 2**32 - 64:
            problems.append("network.max_frame_bytes must fit the 32-bit length prefix")
        for name in ("send_queue_bytes", "inbound_queue_bytes"):
            if getattr(self, name) < self.max_frame_bytes:
                problems.append(f"network.{name} must be >= network.max_frame_bytes")
        return problems

    def to_network_config(self) -> Any:
        """The ``network.config.NetworkConfig`` these fields describe."""
        from network.config import NetworkConfig

        names = {field.name for field in dataclasses.fields(NetworkConfig)}
        values = {name: getattr(self, name) for name in names if hasattr(self, name)}
        values["listen_host"] = self.listen_host or None
        values["listen_port"] = self.listen_port or None
        return NetworkConfig(**values)


# What a consensus message's envelope adds around its bounded body (wire kind, the
# message's own header fields and signature), with room to spare.
frame_overhead_bytes = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class ConsensusSection:
    """``[consensus]``: local pacing of the replicas. Parameters every validator must share
    (shard count, checkpoint interval, watermark window, state root lag, tx validity
    window) are in the genesis only."""

    tick_interval_ms: int = 50
    block_interval_ms: int = 200
    block_txs_max: int = 2000
    block_bytes_max: int = 4 * MEBIBYTE_BYTES
    request_timeout_ticks: int = 40
    # A view with no progress for this long is given up; each view that fails doubles it,
    # up to 16 times this (consensus/replica.py).
    view_change_timeout_ticks: int = 80
    sync_batch_blocks: int = 64
    # A catch-up answer holds at most sync_batch_blocks blocks and this many bytes (one
    # block always, if it fits the frame); must be below network.max_frame_bytes.
    sync_response_bytes_max: int = 8 * MEBIBYTE_BYTES
    # Catch-up answers being built at once for one peer; more requests from it are dropped.
    sync_answers_per_peer_max: int = 2
    # With nothing to propose, the primary still cuts an empty block this often, so the
    # backups' view timers see progress (must stay well under the view change timeout).
    empty_block_interval_ms: int = 1000
    # Bound of each replica's event channel; when full, peer messages and ticks drop.
    event_queue_max: int = 4096

    def validate(self) -> list[str]:
        problems = _positive("consensus", self, (
            "tick_interval_ms", "block_interval_ms", "block_txs_max", "block_bytes_max",
            "request_timeout_ticks", "view_change_timeout_ticks", "sync_batch_blocks",
            "sync_response_bytes_max", "sync_answers_per_peer_max",
            "empty_block_interval_ms", "event_queue_max"))
        if self.empty_block_interval_ms * 2 > self.view_change_timeout_ticks * \
                self.tick_interval_ms:
            problems.append("consensus.empty_block_interval_ms must be at most half the view "
                            "change timeout (view_change_timeout_ticks * tick_interval_ms)")
        if self.view_change_timeout_ticks < self.request_timeout_ticks:
            problems.append("consensus.view_change_timeout_ticks must be >= "
                            "consensus.request_timeout_ticks")
        if self.sync_batch_blocks > 1024:
            problems.append("consensus.sync_batch_blocks must be <= 1024 (SyncRequest bound)")
        return problems


@dataclasses.dataclass(frozen=True, slots=True)
class MempoolSection:
    """``[mempool]``: admission bounds."""

    capacity_txs: int = 100_000
    capacity_bytes: int = 256 * MEBIBYTE_BYTES
    shard_capacity_txs: int = 50_000
    sender_capacity_txs: int = 1000
    tx_bytes_max: int = 64 * 1024
    # A tx may expire at most this many blocks above the current height of its shard.
    validity_window_blocks: int = 1000

    def validate(self) -> list[str]:
        problems = _positive("mempool", self, (
            "capacity_txs", "capacity_bytes", "shard_capacity_txs", "sender_capacity_txs",
            "tx_bytes_max",
            "validity_window_blocks"))
        if self.shard_capacity_txs > self.capacity_txs:
            problems.append("mempool.shard_capacity_txs must be <= mempool.capacity_txs")
        if self.sender_capacity_txs > self.shard_capacity_txs:
            problems.append("mempool.sender_capacity_txs must be <= mempool.shard_capacity_txs")
        if self.tx_bytes_max > self.capacity_bytes:
            problems.append("mempool.tx_bytes_max must be <= mempool.capacity_bytes")
        return problems


@dataclasses.dataclass(frozen=True, slots=True)
class RpcSection:
    """``[rpc]``: the JSON-RPC / WebSocket server."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8545
    body_bytes_max: int = 1 * MEBIBYTE_BYTES
    # Concurrent HTTP requests plus open WebSocket sessions; more get 503 / close 1013.
    connections_max: int = 256
    # An idle keep-alive HTTP connection is closed after this (hypercorn).
    keep_alive_timeout_seconds: float = 5.0
    batch_length_max: int = 100
    submit_wait_timeout_seconds_max: float = 30.0
    ws_subscriptions_max: int = 64
    ws_message_bytes_max: int = 64 * 1024
    # Per-subscription outbound queue; a subscriber that falls this far behind is dropped.
    ws_queue_messages_max: int = 256
    # A subscriber whose queue stays full this long is told so and disconnected.
    ws_subscriber_stall_seconds: float = 10.0
    request_timeout_seconds: float = 60.0
    # agora_call runs in a worker thread: at most this many at once (more get a "busy"
    # error), each answered within this deadline (else a "timeout" error; the abandoned
    # call still ends by its gas cap, and keeps its slot until it does).
    call_concurrent_max: int = 4
    call_timeout_seconds: float = 2.0
    # Browser origins allowed to call the RPC (CORS); "*" allows any. Empty: no CORS headers.
    cors_allowed_origins: tuple[str, ...] = ()
    # agora_getEvents: events per page at most, and index entries read per call at most.
    events_page_max: int = 1000
    events_scan_max: int = 10_000
    # agora_simulate: gas a simulation may use at most; concurrent simulations at most.
    simulate_gas_max: int = 10_000_000
    simulations_concurrent_max: int = 4

    def validate(self) -> list[str]:
        problems = _port("rpc", "port", self.port)
        problems += _positive("rpc", self, (
            "body_bytes_max", "connections_max", "keep_alive_timeout_seconds",
            "batch_length_max",
            "submit_wait_timeout_seconds_max", "ws_subscriptions_max", "ws_message_bytes_max",
            "ws_queue_messages_max", "ws_subscriber_stall_seconds", "request_timeout_seconds",
            "call_concurrent_max", "call_timeout_seconds", "events_page_max",
            "events_scan_max", "simulate_gas_max", "simulations_concurrent_max"))
        if self.call_timeout_seconds >= self.request_timeout_seconds:
            problems.append("rpc.call_timeout_seconds must be < rpc.request_timeout_seconds")
        if self.events_scan_max < self.events_page_max:
            problems.append("rpc.events_scan_max must be >= rpc.events_page_max")
        if self.submit_wait_timeout_seconds_max >= self.request_timeout_seconds:
            problems.append("rpc.submit_wait_timeout_seconds_max must be < "
                            "rpc.request_timeout_seconds")
        return problems


@dataclasses.dataclass(frozen=True, slots=True)
class MetricsSection:
    """``[metrics]``: the Prometheus endpoint (``GET /metrics``)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    # CometBFT's Prometheus port; 9100 is node_exporter's on most hosts.
    port: int = 26660

    def validate(self) -> list[str]:
        return _port("metrics", "port", self.port)


@dataclasses.dataclass(frozen=True, slots=True)
class HealthSection:
    """``[health]``: when ``GET /ready`` answers 503 (``GET /health`` is liveness only)."""

    # Not ready when a shard's last finalized block (or the node's start, if later) is
    # older than this. The primary cuts an empty block every empty_block_interval_ms, so a
    # live shard is never more than a few seconds old.
    block_age_seconds_max: float = 30.0
    # Not ready while a shard is more than this many blocks behind what f+1 peers vouch for.
    catchup_lag_blocks_max: int = 8

    def validate(self) -> list[str]:
        problems = _positive("health", self, ("block_age_seconds_max",))
        if self.catchup_lag_blocks_max < 0:
            problems.append("health.catchup_lag_blocks_max must be >= 0, got "
                            f"{self.catchup_lag_blocks_max}")
        return problems


@dataclasses.dataclass(frozen=True, slots=True)
class ExplorerSection:
    """``[explorer]``: the block explorer's pages at ``/explorer`` on the RPC port
    (node/explorer/). Each page is a bounded number of RPC reads; these are the bounds."""

    enabled: bool = True
    # Blocks per page of a shard's block list, and txs per page of a block.
    page_size_max: int = 25
    # agora_recentActivity: heights scanned back from the tip, per shard and request.
    history_blocks_max: int = 256
    # agora_recentActivity: txs examined per request, over every shard scanned.
    history_txs_max: int = 20_000
    # agora_recentActivity: txs and events returned (each list).
    history_items_max: int = 50
    # The overview asks every validator's RPC for agora_status, each within this.
    validator_timeout_seconds: float = 1.0

    def validate(self) -> list[str]:
        return _positive("explorer", self, (
            "page_size_max", "history_blocks_max", "history_txs_max", "history_items_max",
            "validator_timeout_seconds"))


@dataclasses.dataclass(frozen=True, slots=True)
class NodeConfig:
    node: NodeSection = NodeSection()
    network: NetworkSection = NetworkSection()
    consensus: ConsensusSection = ConsensusSection()
    mempool: MempoolSection = MempoolSection()
    rpc: RpcSection = RpcSection()
    metrics: MetricsSection = MetricsSection()
    health: HealthSection = HealthSection()
    explorer: ExplorerSection = ExplorerSection()

    def problems(self) -> list[str]:
        problems: list[str] = []
        for field in dataclasses.fields(self):
            problems += getattr(self, field.name).validate()
        if (self.rpc.enabled and self.metrics.enabled and self.rpc.port != 0
                and (self.rpc.host, self.rpc.port) == (self.metrics.host, self.metrics.port)):
            problems.append("rpc and metrics must not listen on the same host:port")
        if self.consensus.sync_response_bytes_max + frame_overhead_bytes > \
                self.network.max_frame_bytes:
            problems.append("consensus.sync_response_bytes_max must be below "
                            "network.max_frame_bytes (less the message overhead)")
        return problems

    def validate(self) -> NodeConfig:
        """Return self if valid, else raise ConfigError listing every problem."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self

    def to_toml(self) -> str:
        """Render as TOML that ``parse_config`` reads back to an equal config."""
        lines: list[str] = []
        for field in dataclasses.fields(self):
            lines.append(f"[{field.name}]")
            section = getattr(self, field.name)
            for item in dataclasses.fields(section):
                lines.append(f"{item.name} = {_toml_value(getattr(section, item.name))}")
            lines.append("")
        return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot render {value!r} as TOML")


def _check_type(name: str, hint: Any, value: Any) -> tuple[Any, str | None]:
    """Coerce a TOML value to the field type; (value, problem or None)."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return None, f"{name} must be a list of strings, got {value!r}"
        return tuple(value), None
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - a new field type needs a rule here
        raise TypeError(f"{name}: unsupported config type {hint}")
    if not ok:
        return None, f"{name} must be {hint.__name__}, got {type(value).__name__} {value!r}"
    return value, None


def _parse_section(name: str, cls: type, raw: Any, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"[{name}] must be a table")
        return cls()
    hints = typing.get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key in sorted(raw):
        if key not in known:
            problems.append(f"{name}.{key} is not a known option")
            continue
        value, problem = _check_type(f"{name}.{key}", hints[key], raw[key])
        if problem:
            problems.append(problem)
        else:
            values[key] = value
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> NodeConfig:
    """Build and validate a NodeConfig from parsed TOML; ConfigError lists every problem."""
    problems: list[str] = []
    hints = typing.get_type_hints(NodeConfig)
    sections: dict[str, Any] = {}
    for name in sorted(data):
        if name not in hints:
            problems.append(f"[{name}] is not a known section")
            continue
        sections[name] = _parse_section(name, hints[name], data[name], problems)
    config = NodeConfig(**sections)
    problems += config.problems()
    if problems:
        raise ConfigError(problems)
    return config


def parse_config(text: str) -> NodeConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"config is not valid TOML: {error}"]) from error
    return config_from_dict(data)


def load_config(path: Path | str) -> NodeConfig:
    """Read and validate a TOML config file; a missing file is an error (not defaults)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read config: {error}"]) from error
    try:
        return parse_config(text)
    except ConfigError as error:
        raise ConfigError([f"{path}: {problem}" for problem in error.problems]) from None


