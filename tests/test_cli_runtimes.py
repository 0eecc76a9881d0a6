"""Identify, plan and exec end to end through the command line: under a fixture root with a 512 MiB limit,
the real runtimes report what ``--dry-run --json`` planned."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

FIXTURE_512 = os.path.join(os.path.dirname(__file__), "fixtures", "cli", "v2-512m")
TOOL = [sys.executable, "-m", "cgroupsize", "--root", FIXTURE_512]
pytestmark = pytest.mark.runtimes


def tool(*args):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CGROUPSIZE_") and k not in ("JAVA_TOOL_OPTIONS", "NODE_OPTIONS", "_JAVA_OPTIONS",
                                                            "JDK_JAVA_OPTIONS")}
    proc = subprocess.run(TOOL + list(args), capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def planned(*command):
    proc = tool("--dry-run", "--json", "--", *command)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def flag_mib(flags, prefix):
    """The MiB figure of one planned flag: ``-Xmx242m`` (JVM size) or ``--max-old-space-size=409`` (MiB)."""
    (value,) = [f[len(prefix):] for f in flags if f.startswith(prefix)]
    return int(value[:-1] if value.endswith("m") else value)


@pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
def test_java_max_heap_is_the_planned_xmx():
    plan = planned("java", "-XX:+PrintFlagsFinal", "-version")
    xmx = flag_mib(plan["argv"], "-Xmx")
    assert 0 < xmx * (1 << 20) < 512 << 20
    proc = tool("--", "java", "-XX:+PrintFlagsFinal", "-version")
    assert proc.returncode == 0, proc.stderr
    final = {line.split()[1]: line.split()[3] for line in proc.stdout.splitlines()
             if len(line.split()) >= 4 and line.split()[2] == "="}
    assert int(final["MaxHeapSize"]) == xmx << 20
    assert final["ActiveProcessorCount"] == "2"  # ceil(1.5 CPUs of quota)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_heap_is_the_planned_old_space():
    code = 'console.log(require("v8").getHeapStatistics().heap_size_limit)'
    plan = planned("node", "-e", code)
    old = flag_mib(plan["argv"], "--max-old-space-size=")
    proc = tool("--", "node", "-e", code)
    assert proc.returncode == 0, proc.stderr
    limit = int(proc.stdout.strip())
    # heap_size_limit = old space + the young generation (3 semi-spaces): within the 512 MiB limit
    assert old << 20 <= limit < 512 << 20


def test_python_sees_the_variables():
    proc = tool("--", sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))")
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)
    assert env["CONTAINER_MEMORY_LIMIT"] == str(512 << 20)
    assert env["CONTAINER_CPU_COUNT"] == "2"
    assert env["PYTHON_CPU_COUNT"] == "2"
    assert env["OMP_NUM_THREADS"] == "1"  # floor(1.5 CPUs of quota)
