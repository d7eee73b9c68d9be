"""Contract templates: ordinary contracts in the VM subset, loaded with `load(name)`.

Names: token, nft, items, split, market, auction, rental, licence, dao, kyc, provenance,
swap. vm/templates/README.md is the map; each file's docstring is its reference.
"""

from __future__ import annotations

from pathlib import Path

_directory = Path(__file__).parent


def load(name: str) -> str:
    """Source of template `name` (e.g. "token", "nft")."""
    return (_directory / f"{name}.py").read_text(encoding="ascii")
