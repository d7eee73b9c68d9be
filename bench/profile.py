"""Sampling profiles of node processes during ``agora bench --profile`` (py-spy).

py-spy is not a project dependency: install it into the venv for your own use
(``.venv/bin/pip install py-spy``). The harness starts ``py-spy record --format raw`` on
chosen node processes for part of the measurement window (``--nonblocking``, so the
nodes are never paused; the sampler still takes some CPU on a small machine) and this
module turns the collapsed stacks into shares of samples per function:

* *self*: the function was the innermost frame (where the CPU actually was);
* *inclusive*: the function was anywhere on the stack (what it and its callees cost);
* *by file*: some frame of that source file was on the stack (e.g. all of
  ``consensus/codec.py`` at once, whichever of its functions was called).

Function names drop line numbers, so all lines of one function add up.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_line_number = re.compile(r":\d+\)$")
_file_of_frame = re.compile(r"\(([^()]*?)(?::\d+)?\)$")
top_functions = 25
# Frames that are on nearly every stack and say nothing about where time goes.
_boring = ("<module>", "_run_code", "_run_module_as_main", "Command.", "Group.invoke",
           "Context.invoke", "run (trio/_core/_run.py)", "unrolled_run", "node_start")


def py_spy_path() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out_file: Path, rate_hz: int = 50
          ) -> subprocess.Popen[bytes]:
    executable = py_spy_path()
    assert executable is not None, "py-spy is not installed"
    return subprocess.Popen(
        [executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
         "--rate", str(rate_hz), "--nonblocking", "--format", "raw", "--output",
         str(out_file)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize(collapsed: str, top: int = top_functions) -> dict[str, Any]:
    """Shares (percent of samples) per function from py-spy's raw collapsed stacks:
    one line per distinct stack, ``frame;frame;...;innermost count``."""
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.strip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_line_number.sub(")", frame) for frame in stack.split(";")]
        self_samples[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        files = {found.group(1) for frame in frames if (found := _file_of_frame.search(frame))}
        for file in files:
            by_file[file] += count

    def shares(counter: Counter[str], skip_boring: bool) -> list[tuple[str, float]]:
        rows = [(name, round(100 * count / total, 1)) for name, count in counter.most_common()
                if not (skip_boring and any(word in name for word in _boring))]
        return rows[:top]

    if not total:
        return {"samples": 0, "self_percent": [], "inclusive_percent": [],
                "by_file_percent": []}
    return {"samples": total, "self_percent": shares(self_samples, False),
            "inclusive_percent": shares(inclusive, True),
            "by_file_percent": shares(by_file, True)}


def render(name: str, summary: dict[str, Any]) -> str:
    lines = [f"## {name}: {summary['samples']} samples", "", "self (innermost frame):"]
    lines += [f"  {share:5.1f}%  {function}" for function, share in summary["self_percent"]]
    lines += ["", "inclusive (anywhere on the stack):"]
    lines += [f"  {share:5.1f}%  {function}"
              for function, share in summary["inclusive_percent"]]
    lines += ["", "by source file (any of its frames on the stack):"]
    lines += [f"  {share:5.1f}%  {file}" for file, share in summary["by_file_percent"]]
    return "\n".join(lines) + "\n"
