"""The JVM matrix benchmark runs and classifies outcomes right (a smoke run, not the figures).

``benchmarks/jvm_matrix.py --quick --modes plain`` at a deliberately tiny
128 MiB limit, two cells (about 20 seconds): 300 request threads on deep
stacks plus a heap-filling cache cannot fit (~70 MiB of touched stacks, a 64 MiB
heap and the JVM itself), so the kernel kills it; 400 MiB held strongly cannot
fit the 64 MiB heap, so the JVM throws ``OutOfMemoryError: Java heap space``
first. The pure parts (class-file renaming, Paketo's formula) are checked without
containers.
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys

import pytest

from benchmarks import jvm_matrix
from tests.support import MiB, REPO
from tests.support.runc import skip_reason


def _reason():
    return skip_reason() or (None if shutil.which("javac") and shutil.which("java")
                             else "needs java and javac (JDK 17)")


@pytest.mark.cgroups
@pytest.mark.runc
@pytest.mark.runtimes
@pytest.mark.skipif(_reason() is not None, reason=_reason() or "")
def test_quick_run_classifies_a_kill_and_a_heap_oome(tmp_path):
    out = tmp_path / "matrix.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.jvm_matrix", "--quick", "--modes", "plain",
         "--limits", "128", "--workloads", "threads-300,heap-over", "--json", str(out)],
        check=False, capture_output=True, text=True, timeout=180, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verdict" in proc.stdout, proc.stdout
    cells = {c["workload"]: c for c in json.loads(out.read_text())["cells"]}
    kill, oome = cells["threads-300"], cells["heap-over"]
    assert kill["outcome"] == "kernel-kill", kill
    assert kill["oom_kill"] >= 1, kill
    assert kill["peak_mib"] <= 128, kill
    assert oome["outcome"] == "OOME:heap", oome
    assert "Java heap space" in oome["error"], oome
    assert not oome["oom_kill"], oome


def test_outcome_names_the_space():
    run = jvm_matrix.oom.Run(label="x", limit_mib=64, argv=[], returncode=1, outcome="java-OOM",
                             error="java.lang.OutOfMemoryError: Metaspace")
    assert jvm_matrix.outcome(run) == "OOME:metaspace"
    run.error = ("java.lang.OutOfMemoryError: Cannot reserve 1048576 bytes of direct buffer memory "
                 "(allocated: 10485760, limit: 10485760)")
    assert jvm_matrix.outcome(run) == "OOME:direct"
    run.error = "java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory"
    assert jvm_matrix.outcome(run) == "OOME:thread"
    run.outcome, run.returncode, run.oom_kill = "KILLED", 137, 1
    assert jvm_matrix.outcome(run) == "kernel-kill"


def test_paketo_formula():
    # 1 GiB, 26,588 JDK + 50,020 app classes: metaspace 14 MB + 5,800 B x 0.35 x 76,608
    flags, why = jvm_matrix.paketo_flags(1024 * MiB, 26588, 50020)
    metaspace = 14_000_000 + 5_800 * int(0.35 * (26588 + 50020))
    heap = 1024 * MiB - 10 * MiB - metaspace - 240 * MiB - 250 * MiB
    assert flags == ["-XX:MaxDirectMemorySize=10M", f"-Xmx{heap // 1024}K",
                     f"-XX:MaxMetaspaceSize={metaspace // 1024}K",
                     "-XX:ReservedCodeCacheSize=240M", "-Xss1M"], why
    # 512 MiB: the fixed regions alone (565 MiB) do not fit; libjvm's helper fails.
    flags, why = jvm_matrix.paketo_flags(512 * MiB, 26588, 20)
    assert flags is None and why.startswith("refused"), why


def test_rename_class_keeps_the_class_file_valid():
    # A minimal class file: magic, version, 4 constant-pool slots (Utf8, Class, Long), rest.
    cp = (b"\x01" + struct.pack(">H", 10) + b"tmpl/zzpkg"
          + b"\x07\x00\x01" + b"\x05" + struct.pack(">q", 4242424242))
    data = b"\xca\xfe\xba\xbe\x00\x00\x00\x3d" + struct.pack(">H", 5) + cp + b"REST"
    out = jvm_matrix.rename_class(data, {"tmpl/zzpkg": "com/example/m01/p02"}, 4242424242, 7)
    expect = (b"\x01" + struct.pack(">H", 19) + b"com/example/m01/p02"
              + b"\x07\x00\x01" + b"\x05" + struct.pack(">q", 7))
    assert out == data[:10] + expect + b"REST"
