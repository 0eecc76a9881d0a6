"""Every java command line plain java accepts is accepted through cgroupsize: a real JVM starts.

Each row runs ``cgroupsize --root <fixture> -- java <args> -XX:+PrintFlagsFinal -version`` (a
512 MiB, 1.5-CPU cgroup v2 fixture; other limits through CGROUPSIZE_MEMORY_LIMIT), asserts java
exits 0, and that the flags the JVM ends with are what ``--dry-run --json`` planned.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from tests.support import MiB

FIXTURE_512 = os.path.join(os.path.dirname(__file__), "fixtures", "cli", "v2-512m")
TOOL = [sys.executable, "-m", "cgroupsize", "--root", FIXTURE_512]
pytestmark = [pytest.mark.runtimes,
              pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")]


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CGROUPSIZE_") and k not in ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
                                                            "CLASSPATH")}
    env.update(extra or {})
    return env


def run(args, env=None, shell=False):
    cmd = " ".join(TOOL + args) if shell else TOOL + args
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(env), timeout=120, shell=shell,
                          executable="/bin/bash" if shell else None)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def final_flags(stdout):
    """PrintFlagsFinal as {name: value text}."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("=", ":="):
            out[parts[1]] = parts[3]
    return out


def planned(java_args, env=None):
    proc = run(["--dry-run", "--json", "--", "java", *java_args], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ours(plan):
    """The flags the plan put after java (what it shows before the user's <arg>s)."""
    return [a for a in plan["argv"][1:] if a != "<arg>"]


def check(plan, final):
    """The JVM ended with what the plan added (ours come first; a user's later flag may win)."""
    for f in ours(plan):
        if f.startswith("-Xmx"):
            assert int(final["MaxHeapSize"]) == int(f[4:-1]) * MiB
        elif f.startswith("-XX:") and "=" in f and f[-1] == "m":
            name, value = f[4:].split("=")
            assert int(final[name]) == int(value[:-1]) * MiB, name
        elif f.startswith("-XX:+"):
            assert final[f[5:]] == "true", f


def jar(path, classes):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(classes):
            z.writestr(f"p/C{i}.class", b"\0" * 1500)
    return str(path)


# (java arguments before -XX:+PrintFlagsFinal -version, environment, what must also hold)
ROWS = {
    "plain": ([], {}, None),
    "xms above the budget": (["-Xms400m"], {}, lambda f, p: int(f["MaxHeapSize"]) >= 400 * MiB),
    "xms and initial heap": (["-XX:InitialHeapSize=300m", "-XX:MinHeapSize=200m"], {}, None),
    "young generation": (["-Xmn300m"], {}, lambda f, p: int(f["MaxHeapSize"]) > 300 * MiB),
    "new size": (["-XX:NewSize=200m", "-XX:MaxNewSize=250m"], {}, None),
    "initial code cache": (["-XX:InitialCodeCacheSize=40m"], {"CGROUPSIZE_MEMORY_LIMIT": "256Mi"},
                           lambda f, p: int(f["ReservedCodeCacheSize"]) >= 40 * MiB),
    "min ram percentage": (["-XX:MinRAMPercentage=70"], {"CGROUPSIZE_MEMORY_LIMIT": "200Mi"},
                           lambda f, p: not any(a.startswith("-Xmx") for a in ours(p))),
    "min ram fraction": (["-XX:MinRAMFraction=2"], {}, lambda f, p: not any(a.startswith("-Xmx") for a in ours(p))),
    "initial ram percentage": (["-XX:InitialRAMPercentage=40"], {}, None),
    "max ram percentage": (["-XX:MaxRAMPercentage=60"], {}, lambda f, p: int(f["MaxHeapSize"]) > 300 * MiB),
    "g1 chosen": (["-XX:+UseG1GC"], {}, lambda f, p: f["UseG1GC"] == "true"),
    "parallel chosen": (["-XX:+UseParallelGC"], {}, lambda f, p: f["UseParallelGC"] == "true"),
    "z chosen": (["-XX:+UseZGC"], {}, lambda f, p: f["UseZGC"] == "true"),
    "gc in JAVA_TOOL_OPTIONS": ([], {"JAVA_TOOL_OPTIONS": "-XX:+UseParallelGC -Xms300m"}, None),
    "xms in JDK_JAVA_OPTIONS": ([], {"JDK_JAVA_OPTIONS": "-Xms450m"}, None),
    "gc in _JAVA_OPTIONS": ([], {"_JAVA_OPTIONS": "-XX:+UseG1GC"}, None),
    "user caps": (["-XX:MaxMetaspaceSize=64m", "-XX:ReservedCodeCacheSize=32m", "-XX:MaxDirectMemorySize=10m",
                   "-Xss512k"], {}, lambda f, p: f["MaxMetaspaceSize"] == str(64 * MiB)),
    "metaspace initial above our cap": (["-XX:MetaspaceSize=200m"], {}, None),
    "stack size": (["-XX:ThreadStackSize=2048"], {}, None),
    "exit on oom off": ([], {"CGROUPSIZE_JVM_EXIT_ON_OOM": "0"}, lambda f, p: f["ExitOnOutOfMemoryError"] == "false"),
    "crash on oom": (["-XX:+CrashOnOutOfMemoryError"], {}, lambda f, p: f["ExitOnOutOfMemoryError"] == "false"),
    "diagnostics": ([], {"CGROUPSIZE_JVM_DIAGNOSTICS": "1"}, lambda f, p: f["NativeMemoryTracking"] == '"summary"'
                    or f["NativeMemoryTracking"] == "summary"),
    "small limit": ([], {"CGROUPSIZE_MEMORY_LIMIT": "256Mi"}, lambda f, p: int(f["MaxHeapSize"]) >= 126 * MiB),
    "large limit": ([], {"CGROUPSIZE_MEMORY_LIMIT": "4Gi"}, None),
    "threads declared": ([], {"CGROUPSIZE_JVM_THREADS": "800"}, None),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_java_starts_with_what_the_plan_said(name):
    args, env, also = ROWS[name]
    plan = planned([*args, "-XX:+PrintFlagsFinal", "-version"], env)
    proc = run(["--", "java", *args, "-XX:+PrintFlagsFinal", "-version"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    final = final_flags(proc.stdout + proc.stderr)  # diagnostics send the VM's output to stderr
    check(plan, final)  # the plan never adds what the user set, so every flag of ours is in effect
    if also:
        assert also(final, plan), (name, ours(plan))


def test_flags_file_is_honoured(tmp_path):
    flags = tmp_path / "flags"
    flags.write_text("+UseParallelGC\nMaxHeapSize=200m\n")
    args = [f"-XX:Flags={flags}", "-XX:+PrintFlagsFinal", "-version"]
    plan = planned(args)
    assert not any(a.startswith(("-Xmx", "-XX:+UseSerialGC")) for a in ours(plan))
    proc = run(["--", "java", *args])
    assert proc.returncode == 0, proc.stderr
    final = final_flags(proc.stdout)
    assert final["UseParallelGC"] == "true" and int(final["MaxHeapSize"]) == 200 * MiB


def test_argfile_from_a_pipe(tmp_path):
    """``java @<(...)``: the tool does not read the pipe (java must find it full) and adds nothing it could
    conflict with."""
    proc = run(["--", "java", "@<(echo -Xms450m -XX:+UseG1GC -XX:InitialCodeCacheSize=40m)",
                "-XX:+PrintFlagsFinal", "-version"], shell=True)
    assert proc.returncode == 0, proc.stderr
    final = final_flags(proc.stdout)
    assert final["UseG1GC"] == "true" and int(final["InitialHeapSize"]) >= 450 * MiB  # aligned up to G1 regions
    assert final["ExitOnOutOfMemoryError"] == "true"  # what cannot conflict is still added


def test_argfile_too_large_to_read(tmp_path):
    big = tmp_path / "big.args"
    big.write_text("-XX:+UseParallelGC -Xms450m\n" + "# padding\n" * 200_000)
    assert big.stat().st_size > 1 << 20
    proc = run(["--", "java", f"@{big}", "-XX:+PrintFlagsFinal", "-version"])
    assert proc.returncode == 0, proc.stderr
    assert final_flags(proc.stdout)["UseParallelGC"] == "true"


def test_class_path_classes_enter_the_budget(tmp_path):
    path = jar(tmp_path / "app.jar", 20_000)
    plan = planned(["-cp", path, "-XX:+PrintFlagsFinal", "-version"])
    (meta,) = [b for b in plan["budget"] if b["region"] == "metaspace"]
    assert meta["source"] == "count" and "20000 classes counted" in meta["note"]
    proc = run(["--", "java", "-cp", path, "-XX:+PrintFlagsFinal", "-version"])
    assert proc.returncode == 0, proc.stderr
    assert int(final_flags(proc.stdout)["MaxMetaspaceSize"]) >= 20_000 * 5000 * 1.2


def test_heap_dump_dir(tmp_path):
    folder = tmp_path / "dumps"
    proc = run(["--", "java", "-XX:+PrintFlagsFinal", "-version"], {"CGROUPSIZE_HEAP_DUMP_DIR": str(folder)})
    assert proc.returncode == 0, proc.stderr
    final = final_flags(proc.stdout)
    assert folder.is_dir() and final["HeapDumpOnOutOfMemoryError"] == "true"
    assert final["HeapDumpPath"].startswith(str(folder) + "/java-%p-")


def test_unwritable_heap_dump_dir_is_one_line_exit_2(tmp_path):
    (tmp_path / "file").write_text("")
    proc = run(["--", "java", "-version"], {"CGROUPSIZE_HEAP_DUMP_DIR": str(tmp_path / "file" / "dumps")})
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "CGROUPSIZE_HEAP_DUMP_DIR" in proc.stderr


@pytest.mark.parametrize("limit", ["1", "2", "100Mi"])
def test_strict_refuses_every_too_small_limit(limit):
    proc = run(["--strict", "--", "java", "-version"], {"CGROUPSIZE_MEMORY_LIMIT": limit})
    assert proc.returncode != 0 and "too small for the JVM plan" in proc.stderr


def test_diagnostics_print_the_native_memory_summary_on_stderr():
    proc = run(["--", "java", "-version"], {"CGROUPSIZE_JVM_DIAGNOSTICS": "1"})
    assert proc.returncode == 0
    assert "Native Memory Tracking" in proc.stderr and "[gc" in proc.stderr
