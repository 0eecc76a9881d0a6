"""The Node/Ruby/Python matrix runs, and its quick subset keeps the rule.

Runs ``benchmarks/nrp_matrix.py --quick`` (real v1 cgroups: Node with Buffers
of 10% of a 256 MiB limit and a leaking heap, plain and through cgroupsize;
Ruby threads with glibc's arenas and with the plan; numpy under a 1-CPU
quota): about 30 seconds. Figures are the benchmark's business; this checks
outcomes and what the plan set.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from tests.support.cgroups import skip_reason
from tests.support import REPO



def _reason():
    missing = [tool for tool in ("node", "ruby") if not shutil.which(tool)]
    try:
        import numpy  # noqa: F401
    except ImportError:
        missing.append("numpy")
    return skip_reason() or (f"needs {', '.join(missing)}" if missing else None)


@pytest.mark.cgroups
@pytest.mark.runtimes
@pytest.mark.skipif(_reason() is not None, reason=_reason() or "")
def test_quick_matrix(tmp_path):
    out = tmp_path / "nrp.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.nrp_matrix", "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rule (no cell where plain completes" in proc.stdout and "HOLDS" in proc.stdout, proc.stdout
    report = json.loads(out.read_text())
    cells = {(c["part"], c["config"]): c for c in report["cells"]}
    assert report["violations"] == [] and report["tool_kills"] == [], report["tool_kills"]

    node = cells[("node-offheap", "cgroupsize")]
    # The heap grows without end: through the tool it must stop in V8's own error, not a kill.
    assert node["outcome"] == "js-OOM", node["tail"]
    assert "heap out of memory" in node["error"] or "Reached heap limit" in node["error"], node
    assert node["oom_kill"] == 0 and node["peak_mib"] <= 256
    assert "--max-old-space-size=" in node["plan"]
    assert float(node["values"]["heapLimitMiB"]) < 256

    ruby = cells[("ruby-alloc", "cgroupsize")]
    assert ruby["outcome"] == "ok" and "MALLOC_ARENA_MAX=2" in ruby["plan"], ruby
    assert ruby["values"]["arenaMax"] == "2"

    python = cells[("python-blas", "cgroupsize")]
    assert python["outcome"] == "ok" and python["cpus"] == 1.0
    assert python["values"]["blasThreads"] in ("1", "1,1"), python["values"]  # the 1-CPU quota, not 2 host CPUs
    assert "OPENBLAS_NUM_THREADS=1" in python["plan"]
