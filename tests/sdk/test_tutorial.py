"""The README's tutorial, run command for command against a fresh local cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cluster import running_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]
TUTORIAL_RPC = "http://127.0.0.1:8545"


def tutorial_script() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("<!-- tutorial:start -->"):
                     readme.index("<!-- tutorial:end -->")]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the tutorial has no sh block"
    return "\n".join(blocks)


def test_the_readme_tutorial_runs_as_written(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster", validators=1, shards=1) as cluster:
        # A stand-in repository root: `.venv/bin/activate` puts this venv first on PATH,
        # and `cluster/` is the test cluster (where `make run` would put its files).
        root = tmp_path / "root"
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "activate").write_text(
            f'export PATH="{Path(sys.executable).parent}:$PATH"\n')
        (root / "cluster").symlink_to(cluster.local.directory)
        script = tutorial_script()
        assert TUTORIAL_RPC in script
        # Only the port differs: the test cluster takes free ports, not 8545.
        script = script.replace(TUTORIAL_RPC, cluster.local.rpc_urls[0])
        run = subprocess.run(["bash", "-e", "-c", script], cwd=root, capture_output=True,
                             text=True, timeout=240, env={**os.environ})
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-4000:]
    print(run.stdout)  # shown with pytest -s: the tutorial's own output
    assert "counter/counter.py: ok (3 methods, 1 views, 2 events)" in output
    assert "3 passed" in output
    assert re.search(r"^7$", run.stdout, flags=re.MULTILINE)  # `call ... current`
    assert re.search(r"^sent: True$", run.stdout, flags=re.MULTILINE)
    assert re.search(r"^\d+ Incremented 2 7$", run.stdout, flags=re.MULTILINE)
    assert re.search(r"^\d+ Incremented 3 10$", run.stdout, flags=re.MULTILINE)
