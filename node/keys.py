"""ed25519 key files for validators and client accounts.

Format: one line, the 32-byte seed in lowercase hex, followed by a newline. The file is
created with mode 0600 (owner read/write only) before the seed is written, so the secret
is never readable by others even for an instant; loading refuses a key file that group or
others can read, as ssh does, because a leaked validator key lets an attacker equivocate
in that validator's name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from consensus.errors import ConfigError
from consensus.types import Signer

seed_bytes = 32
key_file_mode = 0o600


def generate_seed() -> bytes:
    return os.urandom(seed_bytes)


def save_key(path: Path | str, seed: bytes, *, overwrite: bool = False) -> None:
    """Write ``seed`` as hex to ``path`` with mode 0600 (refuses to overwrite by default)."""
    if len(seed) != seed_bytes:
        raise ConfigError([f"key seed must be {seed_bytes} bytes, got {len(seed)}"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, key_file_mode)
    except FileExistsError as error:
        raise ConfigError([f"{path}: key file already exists"]) from error
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), key_file_mode)  # O_CREAT's mode is masked by umask
        handle.write(seed.hex() + "\n")


def load_seed(path: Path | str) -> bytes:
    """Read a key file; ConfigError naming the file if it is missing, readable by others or
    not a 32-byte hex seed."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read key file: {error}"]) from error
    problems = []
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        problems.append(f"{path}: key file mode is {oct(mode & 0o777)}; must be 0600")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != seed_bytes:
        problems.append(f"{path}: key file must hold a {seed_bytes}-byte seed in hex")
    if problems:
        raise ConfigError(problems)
    return seed


def load_signer(path: Path | str) -> Signer:
    return Signer(load_seed(path))
