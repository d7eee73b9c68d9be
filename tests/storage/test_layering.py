"""storage/ imports nothing above it, and only storage/leveldb.py imports plyvel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STORAGE_DIR = Path(__file__).resolve().parents[2] / "storage"
LAYERS_ABOVE = {"consensus", "vm", "network", "node", "bench", "tests"}


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(STORAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_storage_module_imports_no_layer_above(path: Path) -> None:
    roots = {module.split(".")[0] for module in _imported_modules(path)}
    assert not roots & LAYERS_ABOVE, f"{path.name} imports {roots & LAYERS_ABOVE}"
    if path.name != "leveldb.py":
        assert "plyvel" not in roots, f"{path.name} imports plyvel; only leveldb.py may"
