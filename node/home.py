"""A node's home directory and its config as the operator gave it: file, then environment.

Precedence (lowest first): defaults, ``HOME/config.toml``, environment variables
``AGORA_<SECTION>_<KEY>`` (``AGORA_RPC_PORT=8600``, ``AGORA_NODE_LOG_FORMAT=json``), then
CLI flags (node/cli.py). ``AGORA_HOME`` names the home when ``--home`` is not given. A
variable whose section is known but whose key is not is a config problem (a typo must not
be ignored); variables of other prefixes (``AGORA_BUILD_COMMIT``) are not config.

Values are read as TOML values when they parse as one (``8600``, ``true``,
``["a:1", "b:2"]``), else as a plain string (``json``, ``127.0.0.1``).

Errors: :class:`HomeError` (missing or unreadable home: exit code 5 in the CLI) and
:class:`consensus.errors.ConfigError` (every problem of the file and the environment).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consensus.errors import AgoraError, ConfigError
from node.config import NodeConfig, config_from_dict

env_prefix = "AGORA_"
home_variable = "AGORA_HOME"
config_file_name = "config.toml"


class HomeError(AgoraError):
    """The node's home directory is missing, not a directory, or unreadable."""


def check_home(home: Path) -> Path:
    """``home`` resolved, if it is a readable directory with a config.toml; else HomeError."""
    if not home.exists():
        raise HomeError(f"home {home} does not exist (agora keygen --validator --out {home} "
                        "or agora init creates one)")
    if not home.is_dir():
        raise HomeError(f"home {home} is not a directory")
    config = home / config_file_name
    if not os.access(home, os.R_OK | os.X_OK):
        raise HomeError(f"home {home} is not readable by this user")
    if not config.is_file():
        raise HomeError(f"home {home} has no {config_file_name}")
    if not os.access(config, os.R_OK):
        raise HomeError(f"{config} is not readable by this user")
    return home.resolve()


def env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``{section: {key: value}}`` from ``AGORA_<SECTION>_<KEY>`` variables, and problems."""
    sections = {field.name: field.type for field in dataclasses.fields(NodeConfig)}
    hints = typing.get_type_hints(NodeConfig)
    overrides: dict[str, dict[str, Any]] = {}
    problems = []
    for name in sorted(environ):
        if not name.startswith(env_prefix) or name == home_variable:
            continue
        section, _, key = name[len(env_prefix):].lower().partition("_")
        if section not in sections:
            continue
        known = {field.name for field in dataclasses.fields(hints[section])}
        if key not in known:
            problems.append(f"{name}: {section}.{key} is not a known option")
            continue
        overrides.setdefault(section, {})[key] = _env_value(environ[name])
    return overrides, problems


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def load_home_config(home: Path, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """The config of the node in ``home``: file plus environment, validated, home_dir set."""
    home = check_home(home)
    path = home / config_file_name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise HomeError(f"{path}: cannot read: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from error
    overrides, problems = env_overrides(os.environ if environ is None else environ)
    for section, values in overrides.items():
        table = data.setdefault(section, {})
        if isinstance(table, dict):
            table.update(values)
    try:
        config = config_from_dict(data)
    except ConfigError as error:
        raise ConfigError([f"{path}: {problem}" for problem in error.problems]
                          + problems) from None
    if problems:
        raise ConfigError(problems)
    # ``node.home_dir`` is read relative to the home (the config's folder): "." is the home.
    return dataclasses.replace(config, node=dataclasses.replace(
        config.node, home_dir=str((home / config.node.home_dir).resolve())))


def resolve_home(given: str | None) -> Path:
    """``--home`` if given, else ``$AGORA_HOME``; HomeError if neither."""
    text = given or os.environ.get(home_variable)
    if not text:
        raise HomeError(f"no home directory: pass --home DIR or set {home_variable}")
    return Path(text).expanduser()
