#!/usr/bin/env python3
"""OOM benchmark: memory-hungry workloads in real runc containers, with and without cgroupsize.

For each memory limit (256 MiB, 512 MiB, 1 GiB by default) it runs, in a
fresh container whose memory limit and memory+swap limit are both the limit:

- **JVM** (``workloads/HeapHog.java``, compiled with ``javac`` into a temp
  dir): binary search for the largest live set (MiB of byte arrays, then
  garbage churn) that completes, with the JVM's defaults, with
  ``-XX:MaxRAMPercentage=75`` and through ``cgroupsize``; how the first
  failing size fails (Java ``OutOfMemoryError`` or the kernel's OOM killer);
  then a run with 200 threads parked on deep stacks and the heap 90% full
  (90% of what that configuration could hold).
- **Node** (``workloads/churn.js``): a live set of 60% of the limit in small
  objects plus garbage churn, plain ``node`` and through ``cgroupsize``.
- **Tuning** (not with ``--quick``): the largest ``-Xmx`` (through the tool,
  so with its metaspace/code/direct caps; 200 threads) and the largest
  ``--max-old-space-size`` whose heap exhaustion still ends in the runtime's
  own OutOfMemoryError rather than an OOM kill, beside what the tool planned.
- **Python** (``workloads/threads.py``): numpy matrix products on a default
  ``ThreadPoolExecutor`` under a 1-CPU quota, with and without the tool;
  wall time and ``cpu.stat`` throttling.

Each run reports the exit status, whether the kernel OOM-killed it (the
container cgroup's ``memory.oom_control`` ``oom_kill`` counter, read from
inside the container after the workload ended: a ``sh`` wrapper is the
container's init and outlives the killed runtime), the runtime's own OOM
message, the peak charge (``memory.max_usage_in_bytes``) and the wall time.

Needs root, runc, a writable cgroup v1 hierarchy, ``java``/``javac`` and
``node``; reuses ``tests/support/runc.py``. The default run takes about 8
minutes on a 2-CPU machine; ``--quick`` is a smoke run (256 MiB only, coarse
searches, no MaxRAMPercentage, threads or tuning runs; under a minute). Prints plain-text tables; ``--json``
saves every run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.support import runc as rh

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOADS = HERE / "workloads"


MiB = 1 << 20
TOOL = ["python3", "-m", "cgroupsize", "--"]
MARK = "@@oombench "

# The container's init: run the workload, then report what the cgroup saw.
# It outlives a runtime the OOM killer picked (the largest process), so the
# counters of a killed run are still read from inside the container.
WRAPPER = r"""
s=$(date +%s%N)
"$@"
rc=$?
e=$(date +%s%N)
m=/sys/fs/cgroup/memory
{
  echo "@@oombench rc $rc"
  echo "@@oombench wall_ns $((e - s))"
  echo "@@oombench max_usage $(cat $m/memory.max_usage_in_bytes)"
  echo "@@oombench failcnt $(cat $m/memory.failcnt)"
  echo "@@oombench oom_kill $(sed -n 's/^oom_kill //p' $m/memory.oom_control)"
  [ -r /sys/fs/cgroup/cpu/cpu.stat ] && sed 's/^/@@oombench cpu./' /sys/fs/cgroup/cpu/cpu.stat
  [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ] && \
    echo "@@oombench cpuacct_ns $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage)"
} >&2
exit $rc
"""


def memsw_supported() -> bool:
    memory = rh.controller_dir("memory")
    return bool(memory) and os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes"))


class Harness(rh.RuncHarness):
    """The tests' harness, plus ``memory.memsw.limit_in_bytes`` = the memory limit.

    With no memsw limit the kernel would swap (where there is swap) instead of
    OOM-killing at the limit.
    """

    def bundle(self, name, args, **options):
        bundle = super().bundle(name, args, **options)
        memory = options.get("memory")
        if memory is not None and memsw_supported():
            config_path = bundle / "config.json"
            config = json.loads(config_path.read_text())
            config["linux"]["resources"]["memory"]["swap"] = int(memory)
            config_path.write_text(json.dumps(config, indent=2))
        return bundle


# -- one run ------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    limit_mib: int
    argv: list
    returncode: int | None = None  # the workload's, as the wrapper shell saw it
    container_rc: int | None = None  # runc's
    timed_out: bool = False
    oom_kill: int | None = None
    failcnt: int | None = None
    max_usage_mib: float | None = None
    wall_s: float | None = None
    cpu: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # key=value pairs the workload printed
    outcome: str = ""
    error: str = ""  # the runtime's own OOM message, first line
    stderr_tail: str = ""
    stdout_tail: str = ""

    def short(self) -> str:
        peak = f"{self.max_usage_mib:.0f}" if self.max_usage_mib is not None else "?"
        return f"{self.outcome} (rc {self.returncode}, peak {peak} MiB, {self.wall_s or 0:.1f} s)"


JAVA_OOM = re.compile(r"java\.lang\.OutOfMemoryError[^\n]*")
NODE_OOM = re.compile(r"Reached heap limit|JavaScript heap out of memory|"
                      r"FATAL ERROR: [^\n]*(?:heap|Allocation failed)[^\n]*")
TOOL_FAILED = re.compile(r"^cgroupsize: (?:warning: cannot plan|internal error)", re.M)
KV = re.compile(r"\b([A-Za-z_]\w*)=([^\s]+)")


def classify(run: Run, stdout: str, stderr: str) -> str:
    if run.timed_out:
        return "timeout"
    if run.oom_kill:
        return "KILLED"
    if run.returncode is None and run.container_rc in (137, -9):
        return "KILLED?"  # the whole container went: no counters
    if run.returncode == 137:
        return "KILLED?"  # SIGKILL without an oom_kill count
    m = JAVA_OOM.search(stderr) or JAVA_OOM.search(stdout)
    if m:
        return "java-OOM"
    if NODE_OOM.search(stderr):
        return "js-OOM"
    if run.returncode == 3 and "StackOverflowError" in stdout:
        return "stack-overflow"
    if run.returncode == 4 and "GC thrash" in stdout:
        return "gc-thrash"
    if run.returncode == 0 and re.search(r"^OK\b", stdout, re.M):
        return "ok"
    return f"error rc={run.returncode}"


class Bench:
    def __init__(self, workdir: Path, timeout: float, verbose: bool):
        self.workdir = workdir
        self.harness = Harness(str(workdir / "bundles"))
        (workdir / "bundles").mkdir()
        self.timeout = timeout
        self.verbose = verbose
        self.extra_mounts: list[str] = []
        self.env: dict[str, str] = {}  # PYTHONPATH of a --rev snapshot
        self.runs: list[Run] = []

    def run(self, label, argv, limit_mib, *, cpu_quota=None, env=None, timeout=None) -> Run:
        r = self.harness.run(
            ["sh", "-c", WRAPPER, "sh", *argv], memory=limit_mib * MiB, cpu_quota=cpu_quota,
            env={**self.env, **(env or {})}, extra_mounts=self.extra_mounts, cwd="/tmp",
            timeout=timeout or self.timeout)
        run = Run(label=label, limit_mib=limit_mib, argv=list(argv), container_rc=r.returncode,
                  timed_out=r.timed_out)
        stderr_lines = []
        for line in r.stderr.splitlines():
            if line.startswith(MARK):
                key, _, value = line[len(MARK):].partition(" ")
                _record(run, key, value.strip())
            else:
                stderr_lines.append(line)
        stderr = "\n".join(stderr_lines)
        run.values = dict(KV.findall(r.stdout))
        run.outcome = classify(run, r.stdout, stderr)
        m = JAVA_OOM.search(stderr) or JAVA_OOM.search(r.stdout) or NODE_OOM.search(stderr)
        run.error = m.group(0).strip() if m else ""
        if TOOL_FAILED.search(stderr):  # fail-open: the runtime ran unsized
            run.outcome = "NO-PLAN " + run.outcome
        run.stderr_tail = _tail(stderr)
        run.stdout_tail = _tail(r.stdout)
        self.runs.append(run)
        if self.verbose:
            print(f"    {label} @ {limit_mib} MiB: {run.short()}", file=sys.stderr)
        return run

    def close(self):
        self.harness.cleanup()


def _record(run: Run, key: str, value: str):
    try:
        number = int(value)
    except ValueError:
        return
    if key == "rc":
        run.returncode = number
    elif key == "wall_ns":
        run.wall_s = number / 1e9
    elif key == "max_usage":
        run.max_usage_mib = number / MiB
    elif key == "failcnt":
        run.failcnt = number
    elif key == "oom_kill":
        run.oom_kill = number
    elif key.startswith("cpu."):
        run.cpu[key[4:]] = number
    elif key == "cpuacct_ns":
        run.cpu["usage_ns"] = number


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# -- the tool's plan ---------------------------------------------------------------------------


def tool_plan(bench: Bench, argv, limit_mib, cpu_quota=None):
    """``cgroupsize --dry-run --json`` in a container with these limits: (ok, summary, raw)."""
    r = bench.harness.run([*TOOL[:-1], "--dry-run", "--json", "--", *argv],
                          memory=limit_mib * MiB, cpu_quota=cpu_quota, env=bench.env,
                          extra_mounts=bench.extra_mounts, cwd="/tmp", timeout=60)
    if r.returncode != 0 or "cannot plan" in r.stderr or "internal error" in r.stderr:
        return False, (r.stderr.strip().splitlines() or ["no output"])[-1], r.stdout
    try:
        data = json.loads(r.stdout)
    except ValueError:
        return False, "dry-run output is not JSON", r.stdout
    return True, summarize_plan(data, argv), data


def summarize_plan(data, argv) -> str:
    """What the plan adds, as one line: new argv words and environment variables."""
    added = []
    new_argv = _find(data, ("argv", "command", "cmd"))
    if isinstance(new_argv, list):
        # (--dry-run shows the user's own words as placeholders such as "<arg>")
        added += [a for a in new_argv if a not in argv and not
                  (a.startswith("<") and a.endswith(">"))]
    env = _find(data, ("env", "environment"))
    if isinstance(env, dict):  # CONTAINER_*: the figures exported for the app, not sizing
        added += [f"{k}={v}" for k, v in env.items() if not k.startswith("CONTAINER_")]
    elif isinstance(env, list):
        added += [str(e) for e in env]
    return " ".join(added) if added else json.dumps(data)[:200]


def _find(data, keys):
    """First value under any of ``keys``, searching nested dicts breadth-first."""
    queue = [data]
    while queue:
        d = queue.pop(0)
        if isinstance(d, dict):
            for k in keys:
                if k in d:
                    return d[k]
            queue += [v for v in d.values() if isinstance(v, dict)]
    return None


# -- JVM --------------------------------------------------------------------------------


JVM_CONFIGS = {
    "defaults": [],
    "MaxRAMPercentage=75": ["-XX:MaxRAMPercentage=75"],
    "cgroupsize": None,  # through the tool
}


def java_argv(config, classes, *args):
    base = ["java", *(JVM_CONFIGS[config] or []), "-cp", classes, "HeapHog", *map(str, args)]
    return TOOL + base if JVM_CONFIGS[config] is None else base


@dataclass
class JvmResult:
    config: str
    limit_mib: int
    max_heap_mib: float | None = None
    max_live_mib: int | None = None
    max_live_run: dict | None = None
    first_fail_mib: int | None = None
    first_fail: str = ""
    first_fail_run: dict | None = None
    probes: list = field(default_factory=list)
    threads: dict | None = None


@dataclass
class JvmProfile:
    """The non-heap side of the JVM workload: what a small service has besides its heap."""
    churn_mib: int = 512
    threads: int = 20
    stack_kib: int = 64
    meta_mib: int = 32
    direct_mib: int = 8

    def args(self, live_mib, threads=None, stack_kib=None):
        return [live_mib, self.churn_mib, self.threads if threads is None else threads,
                self.stack_kib if stack_kib is None else stack_kib, self.meta_mib,
                self.direct_mib]


def jvm_search(bench: Bench, config, limit_mib, classes, prof: JvmProfile, step) -> JvmResult:
    """Largest live set (multiple of ``step`` MiB) the workload completes with."""
    res = JvmResult(config, limit_mib)
    label = f"jvm {config}"
    probe = bench.run(label, java_argv(config, classes, *prof.args(0)), limit_mib)
    res.probes.append((0, probe.outcome))
    if probe.outcome != "ok":
        res.max_live_mib, res.first_fail_mib, res.first_fail = None, 0, probe.short()
        res.first_fail_run = asdict(probe)
        return res
    res.max_heap_mib = float(probe.values.get("maxHeapMiB", 0)) or None
    lo, lo_run = 0, probe
    # Can't hold more than the heap; one step above it must fail (or the heap is huge).
    hi = int(min(limit_mib, res.max_heap_mib or limit_mib) // step + 1) * step
    hi_run = None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        run = bench.run(label, java_argv(config, classes, *prof.args(mid)), limit_mib)
        res.probes.append((mid, run.outcome))
        if run.outcome == "ok":
            lo, lo_run = mid, run
        else:
            hi, hi_run = mid, run
    if hi_run is None:  # never failed below hi: run hi itself to see how it fails
        hi_run = bench.run(label, java_argv(config, classes, *prof.args(hi)), limit_mib)
        res.probes.append((hi, hi_run.outcome))
        if hi_run.outcome == "ok":
            lo, lo_run = hi, hi_run
    res.max_live_mib, res.max_live_run = lo, asdict(lo_run)
    res.first_fail_mib, res.first_fail = hi, hi_run.outcome
    res.first_fail_run = asdict(hi_run)
    return res


def jvm_once(bench: Bench, config, limit_mib, classes, prof: JvmProfile) -> JvmResult:
    """No search: one run with a live set of half the heap the JVM chose (``--no-search``)."""
    res = JvmResult(config, limit_mib)
    probe = bench.run(f"jvm {config}", java_argv(config, classes, *prof.args(0)), limit_mib)
    res.max_heap_mib = float(probe.values.get("maxHeapMiB", 0)) or None
    live = int((res.max_heap_mib or 0) // 2)
    run = bench.run(f"jvm {config}", java_argv(config, classes, *prof.args(live)), limit_mib)
    res.probes = [(0, probe.outcome), (live, run.outcome)]
    if run.outcome == "ok":
        res.max_live_mib, res.max_live_run = live, asdict(run)
    else:
        res.first_fail_mib, res.first_fail, res.first_fail_run = live, run.outcome, asdict(run)
    return res


def jvm_threads(bench: Bench, res: JvmResult, classes, prof: JvmProfile, threads, stack_kib):
    """The heap 90% full (of what this configuration could hold) plus parked deep threads."""
    if not res.max_live_mib:
        return
    live = int(res.max_live_mib * 0.9)
    run = bench.run(f"jvm {res.config} threads",
                    java_argv(res.config, classes, *prof.args(live, threads, stack_kib)),
                    res.limit_mib)
    res.threads = {"live_mib": live, "threads": threads, "stack_kib": stack_kib, **asdict(run)}


def snapshot(rev: str, workdir: Path) -> tuple[str, str]:
    """``git archive REV`` of this repository into ``workdir/rev``: (directory, short sha).

    The default is the working tree, which others may be editing while a run
    of several minutes goes on; a snapshot keeps every run on one version.
    """
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, "cgroupsize"], check=True,
                         capture_output=True).stdout
    dest = workdir / "rev"
    dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    os.chmod(dest, 0o755)
    return str(dest), sha


def jvm_regions(bench: Bench, report, limit_mib, classes, prof: JvmProfile):
    """A small heap (50 MiB live) and more metaspace, or more direct memory, than the tool's cap
    for that region: defaults vs cgroupsize. Every such run is far inside the limit."""
    meta_cap = _planned(report, "java", limit_mib, "-XX:MaxMetaspaceSize=")
    direct_cap = _planned(report, "java", limit_mib, "-XX:MaxDirectMemorySize=")
    rows = []
    for what, meta, direct in (("metaspace", int((meta_cap or 0) * 1.25) + 8, prof.direct_mib),
                               ("direct", prof.meta_mib, int((direct_cap or 0) * 1.25) + 4)):
        if not (meta_cap and direct_cap):
            continue
        case = {"limit_mib": limit_mib, "region": what, "meta_mib": meta, "direct_mib": direct,
                "meta_cap": meta_cap, "direct_cap": direct_cap}
        for config in ("defaults", "cgroupsize"):
            run = bench.run(f"jvm {config} {what}", java_argv(
                config, classes, 50, prof.churn_mib, prof.threads, prof.stack_kib, meta, direct),
                limit_mib)
            case[config] = asdict(run)
        rows.append(case)
    return rows


def regions_table(cases) -> str:
    rows = []
    for c in cases:
        for config in ("defaults", "cgroupsize"):
            run = c[config]
            rows.append([c["limit_mib"], f"{c['region']}: {c['meta_mib']} MiB meta, "
                         f"{c['direct_mib']} MiB direct", config, run["outcome"],
                         _mib(run["max_usage_mib"]), run["error"].replace("java.lang.", "")[:60]])
    return table(["limit", "workload (50 MiB live)", "JVM", "outcome", "peak", "error"], rows)


def compile_java(workdir: Path) -> str:
    javac = shutil.which("javac")
    if not javac:
        raise SystemExit("javac not found (the JVM benchmark compiles workloads/HeapHog.java)")
    classes = workdir / "classes"
    classes.mkdir()
    subprocess.run([javac, "-d", str(classes), str(WORKLOADS / "HeapHog.java")], check=True)
    os.chmod(classes, 0o755)
    return str(classes)


# -- Node ---------------------------------------------------------------------------------


def node_argv(config, live_mib, churn_mib):
    argv = ["node", str(WORKLOADS / "churn.js"), str(live_mib), str(churn_mib)]
    return TOOL + argv if config == "cgroupsize" else argv


def node_runs(bench: Bench, limit_mib, live_fraction, churn_mib, with_tool):
    """The fixed run: a live set of ``live_fraction`` of the limit."""
    live = int(limit_mib * live_fraction)
    out = {"live_mib": live}
    for config in ("plain", "cgroupsize") if with_tool else ("plain",):
        out[config] = asdict(bench.run(f"node {config}", node_argv(config, live, churn_mib),
                                       limit_mib))
    return out


def node_search(bench: Bench, config, limit_mib, churn_mib, step) -> JvmResult:
    """Largest live set (multiple of ``step`` MiB) churn.js completes with, and how the next fails."""
    res = JvmResult(config, limit_mib)
    label = f"node {config}"
    lo, lo_run, hi, hi_run = 0, None, (limit_mib // step + 1) * step, None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        run = bench.run(label, node_argv(config, mid, churn_mib), limit_mib)
        res.probes.append((mid, run.outcome))
        res.max_heap_mib = res.max_heap_mib or float(run.values.get("heapLimitMiB", 0)) or None
        if run.outcome == "ok":
            lo, lo_run = mid, run
        else:
            hi, hi_run = mid, run
    res.max_live_mib = lo if lo_run else None
    res.max_live_run = asdict(lo_run) if lo_run else None
    res.first_fail_mib = hi
    res.first_fail = hi_run.outcome if hi_run else "none below the limit"
    res.first_fail_run = asdict(hi_run) if hi_run else None
    return res


# -- tuning: the largest heap setting whose exhaustion is still the runtime's own error ----------


@dataclass
class TuneResult:
    runtime: str
    limit_mib: int
    planned_mib: float | None  # what cgroupsize chose (V8 old space / -Xmx)
    largest_safe_mib: int | None = None
    safe_run: dict | None = None
    smallest_killed_mib: int | None = None
    killed_run: dict | None = None
    probes: list = field(default_factory=list)


def tune(bench: Bench, runtime, limit_mib, planned, argv_for, step) -> TuneResult:
    """Bisect the heap flag S: with a live set larger than any heap, the run must end in the
    runtime's own OOM (safe), not the kernel's OOM kill. ``argv_for(S)`` builds the command."""
    res = TuneResult(runtime, limit_mib, planned)
    lo, lo_run, hi, hi_run = 16, None, limit_mib + step, None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        run = bench.run(f"tune {runtime} S={mid}", argv_for(mid), limit_mib)
        res.probes.append((mid, run.outcome))
        if run.outcome in KILLED_OUTCOMES or run.outcome.startswith(("timeout", "error")):
            hi, hi_run = mid, run
        else:
            lo, lo_run = mid, run
    res.largest_safe_mib, res.safe_run = (lo, asdict(lo_run)) if lo_run else (None, None)
    res.smallest_killed_mib = hi if hi_run else None
    res.killed_run = asdict(hi_run) if hi_run else None
    return res


KILLED_OUTCOMES = ("KILLED", "KILLED?")


def tune_table(results) -> str:
    rows = []
    for r in results:
        safe, killed = r.safe_run or {}, r.killed_run or {}
        rows.append([r.limit_mib, r.runtime, _mib(r.planned_mib), _mib(r.largest_safe_mib),
                     f"{safe.get('outcome', '-')}, peak {_mib(safe.get('max_usage_mib'))}",
                     f"{_mib(r.smallest_killed_mib)}: {killed.get('outcome', '-')}"])
    return table(["limit", "flag", "planned", "largest safe", "there", "smallest unsafe"], rows)


def _planned(report, name, limit, flag):
    raw = report["plans"].get(f"{name}@{limit}", {}).get("raw")
    for word in (raw or {}).get("argv", []) if isinstance(raw, dict) else []:
        if word.startswith(flag):
            v = word[len(flag):].lower()
            return float(v[:-1]) * {"k": 1 / 1024, "m": 1, "g": 1024}[v[-1]] \
                if v[-1] in "kmg" else float(v)
    return None


# -- Python -------------------------------------------------------------------------------


def python_runs(bench: Bench, repeats, tasks, size, with_tool, limit_mib=1024):
    argv = ["python3", str(WORKLOADS / "threads.py"), str(tasks), str(size)]
    out = {"plain": [], "cgroupsize": []}
    for _ in range(repeats):
        out["plain"].append(asdict(bench.run("python", argv, limit_mib, cpu_quota=100_000,
                                             timeout=300)))
        if with_tool:
            out["cgroupsize"].append(asdict(bench.run("python cgroupsize", TOOL + argv, limit_mib,
                                                      cpu_quota=100_000, timeout=300)))
    return out


# -- tables -------------------------------------------------------------------------------------


def table(headers, rows) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def _mib(v):
    return "-" if v is None else f"{float(v):.0f}"


def _outcome(run):
    if not run:
        return "-"
    return f"{run['outcome']}, {_mib(run['max_usage_mib'])} MiB, {run['wall_s'] or 0:.1f}s"


def search_table(results, what="JVM config", heap="heap") -> str:
    rows = []
    for r in results:
        th = r.threads
        fail = r.first_fail_run or {}
        best = r.max_live_run or {}
        row = [r.limit_mib, r.config, _mib(r.max_heap_mib), _mib(r.max_live_mib),
               _mib(best.get("max_usage_mib"))]
        if what == "JVM config":  # the peak minus the heap the JVM had committed by the end
            committed = best.get("values", {}).get("committedHeapMiB")
            row.append(_mib(best["max_usage_mib"] - float(committed))
                       if committed and best.get("max_usage_mib") else "-")
        row.append(f"{r.first_fail_mib}: {r.first_fail} (peak {_mib(fail.get('max_usage_mib'))})"
                   if r.first_fail else "-")
        if what == "JVM config":
            row.append(f"{th['live_mib']}+{th['threads']}x{th['stack_kib']}K: {_outcome(th)}"
                       if th else "-")
        rows.append(row)
    headers = ["limit", what, heap, "max live", "peak@max"]
    if what == "JVM config":
        headers.append("non-heap")
    headers.append("first failing live: how")
    if what == "JVM config":
        headers.append("threads + 90% heap")
    return table(headers, rows)


def node_table(results) -> str:
    rows = []
    for limit, r in results:
        for key in ("plain", "cgroupsize"):
            run = r.get(key)
            if run:
                rows.append([limit, key, r["live_mib"], run["values"].get("heapLimitMiB", "?"),
                             run["outcome"], _mib(run["max_usage_mib"]),
                             f"{run['wall_s'] or 0:.1f}", run["returncode"]])
    return table(["limit", "node", "live", "V8 heap limit", "outcome", "peak", "wall s", "rc"], rows)


def python_table(res) -> str:
    rows = []
    for key in ("plain", "cgroupsize"):
        runs = res.get(key) or []
        if not runs:
            continue
        walls = [r["wall_s"] for r in runs if r["wall_s"]]
        v = runs[0]["values"]
        thr = [r["cpu"].get("nr_throttled", 0) for r in runs]
        per = [r["cpu"].get("nr_periods", 0) for r in runs]
        ttime = [r["cpu"].get("throttled_time", 0) / 1e9 for r in runs]
        usage = [r["cpu"].get("usage_ns", 0) / 1e9 for r in runs]
        rows.append([key, v.get("workers", "?"), v.get("blas_threads", "?"),
                     f"{statistics.median(walls):.2f}" if walls else "?",
                     f"{statistics.median(usage):.2f}",
                     f"{statistics.median(thr):.0f}/{statistics.median(per):.0f}",
                     f"{statistics.median(ttime):.2f}",
                     ",".join(r["outcome"] for r in runs)])
    return table(["python", "workers", "BLAS threads", "wall s", "CPU s", "throttled/periods",
                  "throttled s", "outcomes"], rows)


# -- main ---------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 256 MiB only, coarse searches, one Python repeat (under a minute)")
    p.add_argument("--only", action="append", choices=("jvm", "node", "python"),
                   help="run only these parts (repeatable)")
    p.add_argument("--limits", help="memory limits in MiB, comma-separated (default 256,512,1024)")
    p.add_argument("--no-tool", action="store_true", help="skip the runs through cgroupsize")
    p.add_argument("--no-search", action="store_true",
                   help="no binary searches: one JVM run at half its heap, the fixed Node run")
    p.add_argument("--threads", type=int, default=200, help="JVM threads run: thread count")
    p.add_argument("--stack-kib", type=int, default=128,
                   help="JVM threads run: stack in use per thread, KiB")
    p.add_argument("--meta-mib", type=int, default=32,
                   help="JVM runs: metaspace filled with hidden classes, MiB")
    p.add_argument("--direct-mib", type=int, default=8,
                   help="JVM runs: direct ByteBuffers, MiB")
    p.add_argument("--node-live", type=float, default=0.6,
                   help="Node live set as a fraction of the limit")
    p.add_argument("--tune", action=argparse.BooleanOptionalAction, default=None,
                   help="bisect the heap flag itself: the largest -Xmx (with the tool's other "
                        "flags) and --max-old-space-size whose exhaustion is not an OOM kill "
                        "(default: on, off with --quick)")
    p.add_argument("--rev", help="run cgroupsize from this git revision (e.g. HEAD) instead of "
                                 "the working tree")
    p.add_argument("--json", metavar="FILE", help="write every run to FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="print each run as it ends")
    args = p.parse_args(argv)

    if args.tune is None:
        args.tune = not args.quick
    reason = rh.skip_reason()
    if reason:
        print(f"oom benchmark: cannot run: {reason}", file=sys.stderr)
        return 77
    parts = set(args.only or ("jvm", "node", "python"))
    limits = ([int(x) for x in args.limits.split(",")] if args.limits
              else [256] if args.quick else [256, 512, 1024])
    churn = 128 if args.quick else 512  # MiB of garbage per run
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=rh.PREFIX + "oom-"))
    os.chmod(workdir, 0o755)
    report = {"limits": limits, "quick": args.quick, "plans": {}}
    bench = Bench(workdir, timeout=30 if args.quick else 60, verbose=args.verbose)
    try:
        rh.remove_stale()
        if args.rev:
            source, sha = snapshot(args.rev, workdir)
            bench.extra_mounts.append(source)
            bench.env["PYTHONPATH"] = source
            report["cgroupsize"] = f"git revision {sha}"
        else:
            report["cgroupsize"] = "working tree"
        print(f"cgroupsize: {report['cgroupsize']} of {REPO}")
        classes = None
        if "jvm" in parts:
            classes = compile_java(workdir)
            bench.extra_mounts.append(classes)
        # Does the tool have a plan yet? (ask once per runtime and limit)
        with_tool = python_tool = not args.no_tool
        if with_tool:
            for limit in limits:
                for name, probe_argv in (("java", ["java", "-version"]), ("node", ["node", "x.js"])):
                    if name == "java" and "jvm" not in parts or name == "node" and "node" not in parts:
                        continue
                    ok, summary, raw = tool_plan(bench, probe_argv, limit)
                    report["plans"][f"{name}@{limit}"] = {"ok": ok, "summary": summary, "raw": raw}
                    print(f"plan {name} @ {limit} MiB: {summary}")
                    if not ok:
                        with_tool = False
            if "python" in parts:
                ok, summary, raw = tool_plan(bench, ["python3", "x.py"], 1024, cpu_quota=100_000)
                report["plans"]["python@1024,1cpu"] = {"ok": ok, "summary": summary, "raw": raw}
                print(f"plan python @ 1024 MiB, 1 CPU: {summary}")
                python_tool = ok
            if not with_tool:
                print("cgroupsize has no plan yet: running the 'without the tool' columns only")
        report["with_tool"] = with_tool

        if "jvm" in parts:
            step = 16 if args.quick else 4
            prof = JvmProfile(churn_mib=churn, meta_mib=args.meta_mib, direct_mib=args.direct_mib)
            configs = [c for c in JVM_CONFIGS if with_tool or JVM_CONFIGS[c] is not None]
            if args.quick:
                configs = [c for c in configs if c != "MaxRAMPercentage=75"]
            results = []
            for limit in limits:
                for config in configs:
                    print(f"jvm {config} @ {limit} MiB ...", file=sys.stderr)
                    if args.no_search:
                        results.append(jvm_once(bench, config, limit, classes, prof))
                        continue
                    r = jvm_search(bench, config, limit, classes, prof,
                                   step if limit <= 512 else step * 2)
                    if not args.quick:
                        jvm_threads(bench, r, classes, prof, args.threads, args.stack_kib)
                    results.append(r)
            regions = []
            if with_tool and not args.quick and not args.no_search:
                for limit in limits:
                    print(f"jvm regions @ {limit} MiB ...", file=sys.stderr)
                    regions += jvm_regions(bench, report, limit, classes, prof)
            report["jvm_profile"] = asdict(prof)
            report["jvm"] = [asdict(r) for r in results]
            report["jvm_regions"] = regions
            print(f"\nJVM: largest live set (MiB of byte[]) that completes, besides "
                  f"{prof.threads} threads x {prof.stack_kib} KiB stack, {prof.meta_mib} MiB "
                  f"metaspace, {prof.direct_mib} MiB direct buffers and {prof.churn_mib} MiB churn;"
                  f"\nheap = Runtime.maxMemory(); peak = memory.max_usage_in_bytes")
            print(search_table(results))
            if regions:
                print("\nJVM: a non-heap region 25% above the tool's cap for it (-XX:MaxMetaspaceSize"
                      " / -XX:MaxDirectMemorySize), 50 MiB live")
                print(regions_table(regions))

        if "node" in parts:
            nres, searches = [], []
            configs = ("plain", "cgroupsize") if with_tool else ("plain",)
            for limit in limits:
                print(f"node @ {limit} MiB ...", file=sys.stderr)
                nres.append((limit, node_runs(bench, limit, args.node_live, churn, with_tool)))
                for config in configs if not args.no_search else ():
                    searches.append(node_search(bench, config, limit, churn,
                                                32 if args.quick else 8 if limit <= 512 else 16))
            report["node"] = nres
            report["node_search"] = [asdict(r) for r in searches]
            print(f"\nNode: live set {args.node_live:.0%} of the limit + {churn} MiB churn")
            print(node_table(nres))
            if searches:
                print(f"\nNode: largest live set (MiB of V8 heap) that completes, "
                      f"{churn} MiB churn")
                print(search_table(searches, "node", "V8 limit"))

        if args.tune and ("node" in parts or "jvm" in parts):
            tres = []
            prof = JvmProfile(churn_mib=churn, meta_mib=args.meta_mib, direct_mib=args.direct_mib)
            for limit in limits:
                if "node" in parts:
                    print(f"tune node @ {limit} MiB ...", file=sys.stderr)
                    tres.append(tune(
                        bench, "node --max-old-space-size", limit,
                        _planned(report, "node", limit, "--max-old-space-size="),
                        lambda S, limit=limit: ["node", f"--max-old-space-size={S}",
                                                str(WORKLOADS / "churn.js"), str(limit), "0"], 8))
                if "jvm" in parts:
                    print(f"tune jvm @ {limit} MiB ...", file=sys.stderr)
                    tres.append(tune(
                        bench, "cgroupsize java -Xmx", limit,
                        _planned(report, "java", limit, "-Xmx"),
                        lambda S, limit=limit: TOOL + ["java", f"-Xmx{S}m", "-cp", classes, "HeapHog",
                                                       *map(str, prof.args(limit, args.threads,
                                                                           args.stack_kib))], 8))
            report["tune"] = [asdict(r) for r in tres]
            print("\nTuning: largest heap flag (MiB) whose exhaustion ends in the runtime's own "
                  "OOM, not a kill\n(live set larger than any heap; JVM: the tool's other flags, "
                  f"{args.threads} threads x {args.stack_kib} KiB, {prof.meta_mib} MiB metaspace, "
                  f"{prof.direct_mib} MiB direct; Node: fill only)")
            print(tune_table(tres))

        if "python" in parts:
            print("python @ 1 CPU ...", file=sys.stderr)
            pres = python_runs(bench, 1 if args.quick else 3, 24 if args.quick else 128, 384,
                               with_tool=python_tool)
            report["python"] = pres
            print("\nPython: numpy matmuls on ThreadPoolExecutor(), 1.0-CPU quota "
                  "(cpu.cfs_quota_us=100000) on a "
                  f"{os.cpu_count()}-CPU host; median of {len(pres['plain'])}")
            print(python_table(pres))
    finally:
        bench.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(f"\n{len(bench.runs)} container runs in {report['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
