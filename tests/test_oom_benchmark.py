"""The OOM benchmark's runner works, and cgroupsize's plan does not get Node OOM-killed.

Runs ``benchmarks/oom.py --quick --only node --no-search`` (one 256 MiB
container with Node alone, one through cgroupsize, live set 60% of the limit):
about 15 seconds.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.support.runc import skip_reason
from tests.support import REPO

KILLED = ("KILLED", "KILLED?")


def _reason():
    return skip_reason() or (None if shutil.which("node") else "needs node")


@pytest.mark.runc
@pytest.mark.runtimes
@pytest.mark.skipif(_reason() is not None, reason=_reason() or "")
def test_oom_benchmark_quick_node(tmp_path):
    out = tmp_path / "oom.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.oom", "--quick", "--only", "node",
         "--no-search", "--limits", "256", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "V8 heap limit" in proc.stdout, proc.stdout
    report = json.loads(out.read_text())
    assert report["with_tool"], report["plans"]
    [(limit, node)] = report["node"]
    assert limit == 256
    plain, tool = node["plain"], node["cgroupsize"]
    assert plain["outcome"] in ("ok", "js-OOM", *KILLED), plain
    # The tool's run may fail with a JS heap OOM (diagnosable) but never be OOM-killed.
    assert tool["outcome"] not in KILLED, tool
    assert tool["oom_kill"] == 0, tool
    # Its V8 heap fits the limit (V8's own default at 256 MiB is above it).
    assert float(tool["values"]["heapLimitMiB"]) < 256, tool
    assert tool["max_usage_mib"] <= 256
