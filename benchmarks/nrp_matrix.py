#!/usr/bin/env python3
"""Node, Ruby and Python matrix: real workloads in real v1 cgroups, plain vs through cgroupsize.

Every run gets a fresh cgroup (``cgroupsize-test-nrp-*`` in the memory, cpu
and cpuset v1 hierarchies) whose ``memory.limit_in_bytes`` and
``memory.memsw.limit_in_bytes`` are both the limit (no escape into swap) and,
where a row says so, a CFS quota. The workloads in ``workloads/nrp/`` are
written as applications, not as probes of the tool:

- **Node off-heap** (``cache_server.js``): a blob cache of Buffers of 0, 10
  and 30 % of the limit, then a session store that leaks until something
  stops it; 256 MiB to 2 GiB.
- **Node worker_threads** (``workers.js``): 4 workers, each growing its own
  heap; also with ``CGROUPSIZE_PROCESSES=5`` (one share per isolate).
- **Node semi-space** (``api_server.js``): an allocation-heavy JSON request
  loop with 256 requests in flight, ``--max-semi-space-size`` 1 to 32 MiB
  on top of the tool's plan (the user's flag wins), at 256 MiB, 512 MiB and
  1 GiB: requests per CPU-second, scavenges, peak.
- **Node live set** (``../churn.js``): the largest live set that completes
  at 512 MiB, plain and through the tool (bisected, 8 MiB steps).
- **Ruby allocation** (``report_jobs.rb``): 16 threads building reports;
  glibc arenas by default and with ``MALLOC_ARENA_MAX=2``,
  ``RUBY_GC_MALLOC_LIMIT_MAX``/``RUBY_GC_OLDMALLOC_LIMIT_MAX`` of 8/16/32 MB,
  jemalloc preloaded with and without ``MALLOC_CONF=narenas:2``: peak and
  jobs per CPU-second.
- **puma** (``puma_app.ru``, Debian's puma): single mode vs cluster mode with
  one worker vs the tool's plan at 512 MiB / 1 CPU: the mode from the boot
  log, peak, whether it served every request.
- **Python BLAS** (``scoring.py``): numpy matrix products as a request loop
  under 0.5, 1, 1.5 and 2 CPU quotas with 1 or 2 BLAS threads (the quota
  rounded down or up on this 2-CPU host), host idle and with another process
  keeping a CPU busy: wall time and p99.

Each run's outcome: ``ok``, the runtime's own error (``js-OOM`` with V8's
message, ``ruby-NoMemoryError``, ``py-MemoryError``), ``KILLED`` (exit 137
and the cgroup's ``oom_kill`` counter went up), ``timeout`` or ``error``.
The script then checks the rule itself: no cell where plain ends in the
runtime's own error or completes and cgroupsize ends in a kernel kill (exit
status 1 when one does).

Needs root and a writable cgroup v1 hierarchy (tests/support/cgroups.py);
node, ruby (and puma), python3 with numpy. ``--quick`` is a smoke subset
(about 25 s); the full matrix takes about 15 minutes on a 2-CPU machine.
``--rev REV`` runs cgroupsize from a git snapshot (as benchmarks/oom.py).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks import oom  # snapshot, summarize_plan, table, NODE_OOM
from tests.support.cgroups import CONTROLLERS, V1, Cgroup, skip_reason

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "workloads" / "nrp"


MiB = 1 << 20
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
KILLED = ("KILLED", "KILLED?")
OWN_ERRORS = ("js-OOM", "ruby-NoMemoryError", "py-MemoryError")
RUBY_NOMEM = re.compile(r"NoMemoryError|failed to allocate memory")
PY_NOMEM = re.compile(r"^MemoryError", re.MULTILINE)
KV = re.compile(r"\b([A-Za-z_]\w*)=([^\s]+)")
_serial = itertools.count()


class Matrix:
    """Runs commands in fresh limited cgroups and keeps every result (a dict per run)."""

    def __init__(self, workdir: Path, tool_path: str, verbose: bool):
        self.workdir = workdir
        self.tool_path = tool_path  # PYTHONPATH for the cgroupsize under test
        self.verbose = verbose
        self.cells: list[dict] = []
        self.plans: dict[str, str] = {}

    def env(self, extra=None, tool=False) -> dict:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TERM") if k in os.environ}
        if tool:
            env["PYTHONPATH"] = self.tool_path
        env.update(extra or {})
        return env

    def cgroup(self, limit_mib, cpus=None) -> Cgroup:
        cg = Cgroup(f"cgroupsize-test-nrp-{os.getpid()}-{next(_serial)}").make()
        cg.set("memory", "memory.limit_in_bytes", limit_mib * MiB)
        memsw = os.path.join(V1, "memory", cg.rel, "memory.memsw.limit_in_bytes")
        if os.path.exists(memsw):
            cg.set("memory", "memory.memsw.limit_in_bytes", limit_mib * MiB)
        if cpus:
            cg.set("cpu", "cpu.cfs_period_us", 100000)
            cg.set("cpu", "cpu.cfs_quota_us", int(cpus * 100000))
        return cg

    def start(self, cg: Cgroup, argv, env, log: Path) -> subprocess.Popen:
        procs = [os.path.join(V1, c, cg.rel, "cgroup.procs") for c in CONTROLLERS]

        def enter():
            os.setsid()  # its own process group: a timeout kills puma's workers too
            for p in procs:
                with open(p, "w") as f:
                    f.write("0")

        with open(log, "w") as out:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=enter, cwd=str(self.workdir))

    def finish(self, cg: Cgroup, proc: subprocess.Popen, timeout) -> tuple[int | None, bool]:
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            return None, True
        finally:
            _kill_group(proc)

    def run(self, part, config, argv, limit_mib, *, cpus=None, env=None, tool=False, timeout=120,
            key=None, during=None) -> dict:
        """One command in a fresh cgroup; ``during(proc, log)`` runs while it does (servers)."""
        full = [sys.executable, "-m", "cgroupsize", "--", *argv] if tool else list(argv)
        run_env = self.env(env, tool)
        cg = self.cgroup(limit_mib, cpus)
        log = self.workdir / f"run-{next(_serial)}.log"
        cell = {"part": part, "config": config, "limit_mib": limit_mib, "cpus": cpus,
                "key": key, "argv": [os.path.basename(a) if a.startswith("/") else a for a in argv],
                "env": env or {}, "tool": tool}
        try:
            if tool:
                cell["plan"] = self.plan(cg, argv, run_env)
            start = time.monotonic()
            proc = self.start(cg, full, run_env, log)
            extra = during(proc, log) if during else {}
            rc, timed_out = self.finish(cg, proc, timeout)
            cell["wall_s"] = round(time.monotonic() - start, 2)
            cell.update(_counters(cg))
        finally:
            _empty(cg)
            cg.remove()
        text = log.read_text(errors="replace")
        cell.update(rc=rc, timed_out=timed_out, values=dict(KV.findall(_last_values(text))), **extra)
        cell["outcome"], cell["error"] = classify(cell, text)
        cell["tail"] = "\n".join(text.strip().splitlines()[-4:])[-600:]
        self.cells.append(cell)
        if self.verbose:
            print(f"  {part} {config} @{limit_mib}M{f'/{cpus}cpu' if cpus else ''}: {cell['outcome']} "
                  f"peak {cell.get('peak_mib')} MiB, {cell['wall_s']} s", file=sys.stderr)
        return cell

    def plan(self, cg: Cgroup, argv, env) -> str:
        """What ``cgroupsize --dry-run --json`` plans in this cgroup, as one line (cached)."""
        ident = json.dumps([argv[0], sorted(env.items()), _limits_of(cg)])
        if ident not in self.plans:
            r = cg.run([sys.executable, "-m", "cgroupsize", "--dry-run", "--json", "--", *argv], env=env)
            try:
                self.plans[ident] = oom.summarize_plan(json.loads(r.stdout), argv)
            except ValueError:
                self.plans[ident] = "no plan: " + (r.stderr.strip().splitlines() or ["?"])[-1]
        return self.plans[ident]


def _limits_of(cg: Cgroup):
    return [Path(V1, c, cg.rel, f).read_text().strip()
            for c, f in (("memory", "memory.limit_in_bytes"), ("cpu", "cpu.cfs_quota_us"))]


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _empty(cg: Cgroup) -> None:
    """Kill what is left in the cgroup (only processes this run started can be there)."""
    procs = Path(V1, "memory", cg.rel, "cgroup.procs")
    for _ in range(50):
        pids = [int(p) for p in procs.read_text().split()] if procs.exists() else []
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _counters(cg: Cgroup) -> dict:
    mem = Path(V1, "memory", cg.rel)
    oom_kill = 0
    for line in (mem / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            oom_kill = int(line.split()[1])
    cpu = dict(line.split() for line in Path(V1, "cpu", cg.rel, "cpu.stat").read_text().splitlines())
    return {"peak_mib": round(int((mem / "memory.max_usage_in_bytes").read_text()) / MiB, 1),
            "oom_kill": oom_kill, "failcnt": int((mem / "memory.failcnt").read_text()),
            "throttled": int(cpu.get("nr_throttled", 0)), "periods": int(cpu.get("nr_periods", 0))}


def _last_values(text: str) -> str:
    """The key=value lines the workload printed; later lines win (progress lines)."""
    return " ".join(line for line in text.splitlines() if "=" in line and "FATAL" not in line)


def classify(cell: dict, text: str) -> tuple[str, str]:
    """(outcome, the runtime's own error message or '')."""
    rc = cell["rc"]
    m = oom.NODE_OOM.search(text) or RUBY_NOMEM.search(text) or PY_NOMEM.search(text)
    error = text[m.start():].splitlines()[0][:160] if m else ""
    if cell["timed_out"]:
        return "timeout", error
    if cell["oom_kill"] and rc in (-9, 137, None) or rc in (-9, 137) and cell["oom_kill"]:
        return "KILLED", ""
    if rc in (-9, 137):
        return "KILLED?", ""
    if cell["oom_kill"] and rc != 0:  # a child was killed and the parent gave up
        return "KILLED", error
    if m:
        return ("js-OOM" if oom.NODE_OOM.search(text) else
                "ruby-NoMemoryError" if RUBY_NOMEM.search(text) else "py-MemoryError"), error
    stopped = cell.get("stopped") and rc in (0, -15, 143)  # a server we stopped with SIGTERM
    if (rc == 0 or stopped) and re.search(r"^OK\b", text, re.MULTILINE):
        return "ok", ""
    return f"error rc={rc}", error


# -- Node ------------------------------------------------------------------------------------


def node_offheap(m: Matrix, limits, fractions, configs):
    for limit in limits:
        for frac in fractions:
            buffers = int(limit * frac)
            argv = ["node", str(WORK / "cache_server.js"), str(buffers)]
            for config in configs:
                m.run("node-offheap", config, argv, limit, tool=config != "plain", key=f"{limit}/{frac:.0%}",
                      timeout=240)
            if frac > 0.15 and "cgroupsize" in configs:  # the documented knob for Buffer-heavy services
                m.run("node-offheap", "cgroupsize NODE_RESERVE=35%", argv, limit, tool=True,
                      key=f"{limit}/{frac:.0%}", timeout=240, env={"CGROUPSIZE_NODE_RESERVE": "35%"})


def node_workers(m: Matrix, limits):
    argv = ["node", str(WORK / "workers.js"), "4"]
    for limit in limits:
        m.run("node-workers", "plain", argv, limit, key=str(limit), timeout=240)
        m.run("node-workers", "cgroupsize", argv, limit, tool=True, key=str(limit), timeout=240)
        m.run("node-workers", "cgroupsize PROCESSES=5", argv, limit, tool=True, key=f"{limit} p5",
              env={"CGROUPSIZE_PROCESSES": "5"}, timeout=240)


def node_semi(m: Matrix, limits, semis, seconds, repeats):
    for _, limit in itertools.product(range(repeats), limits):
        cache = str(int(limit * 0.15))
        for semi in [None, *semis]:
            flags = [f"--max-semi-space-size={semi}"] if semi else []
            argv = ["node", *flags, str(WORK / "api_server.js"), str(seconds), cache]
            m.run("node-semi", f"cgroupsize semi={semi or 'plan'}", argv, limit, tool=True,
                  key=f"{limit}/{semi or 'plan'}", timeout=60)
        m.run("node-semi", "plain", ["node", str(WORK / "api_server.js"), str(seconds), cache], limit,
              key=f"{limit}/plain", timeout=60)


def node_live(m: Matrix, limit, step):
    """Largest live set (MiB) churn.js completes with: plain and through the tool."""
    out = {}
    for config in ("plain", "cgroupsize"):
        lo, hi, fail = 0, limit, None
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            c = m.run("node-live", config, ["node", str(HERE / "workloads" / "churn.js"), str(mid), "256"],
                      limit, tool=config != "plain", key=f"{limit}/{mid}", timeout=120)
            if c["outcome"] == "ok":
                lo = mid
            else:
                hi, fail = mid, c["outcome"]
        out[config] = {"max_live_mib": lo, "first_fail_mib": hi, "first_fail": fail}
    return out


def node_reserve(m: Matrix, limits, fractions, step=16):
    """How much must stay outside V8's old space: the largest ``--max-old-space-size`` whose
    leak (cache_server.js after Buffers of a share of the limit) still ends in V8's own error."""
    out = []
    for limit, frac in itertools.product(limits, fractions):
        semi = max(1, min(16, limit // 64))
        lo, hi, lo_outcome, step = limit // 2, limit, None, max(step, limit // 32)
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            c = m.run("node-reserve", f"old={mid}", ["node", f"--max-old-space-size={mid}",
                      f"--max-semi-space-size={semi}", str(WORK / "cache_server.js"), str(int(limit * frac))],
                      limit, key=f"{limit}/{frac:.0%}/{mid}", timeout=300)
            if c["outcome"] in KILLED or c["outcome"].startswith(("timeout", "error")):
                hi = mid
            else:
                lo, lo_outcome = mid, c["outcome"]
        out.append({"limit_mib": limit, "buffers": f"{frac:.0%}", "semi_mib": semi, "largest_safe_old": lo,
                    "outcome_there": lo_outcome, "outside_old": limit - lo,
                    "outside_old_minus_buffers": limit - lo - int(limit * frac)})
    return out


# -- Ruby ------------------------------------------------------------------------------------


def ruby_configs(quick=False):
    a2 = {"MALLOC_ARENA_MAX": "2"}
    cfgs = [("glibc default", {}), ("MALLOC_ARENA_MAX=2", a2)]
    for mb in (8, 16, 32):
        v = str(mb * 1000 * 1000)
        cfgs.append((f"arenas 2 + malloc max {mb}MB",
                     {**a2, "RUBY_GC_MALLOC_LIMIT_MAX": v, "RUBY_GC_OLDMALLOC_LIMIT_MAX": v}))
    if os.path.exists(JEMALLOC):
        cfgs += [("jemalloc", {"LD_PRELOAD": JEMALLOC}),
                 ("jemalloc narenas:2", {"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": "narenas:2"}),
                 ("jemalloc narenas:1", {"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": "narenas:1"})]
    return cfgs[:2] if quick else cfgs


def ruby_alloc(m: Matrix, sweep_limit, pair_limits, seconds, repeats, quick=False):
    argv = ["ruby", str(WORK / "report_jobs.rb"), "16", str(seconds), "256"]
    for _ in range(repeats):
        for name, env in ruby_configs(quick):
            m.run("ruby-alloc", name, argv, sweep_limit, env=env, key=f"{sweep_limit}/{name}", timeout=60)
        m.run("ruby-alloc", "cgroupsize", argv, sweep_limit, tool=True, key=f"{sweep_limit}/cgroupsize",
              timeout=60)
        if os.path.exists(JEMALLOC) and not quick:
            m.run("ruby-alloc", "cgroupsize + jemalloc", argv, sweep_limit, tool=True, env={"LD_PRELOAD": JEMALLOC},
                  key=f"{sweep_limit}/cgroupsize jemalloc", timeout=60)
    for limit in pair_limits:
        for config in ("plain", "cgroupsize"):
            m.run("ruby-pair", config, argv, limit, tool=config != "plain", key=str(limit), timeout=60)


def ruby_gc(m: Matrix, limit, repeats, docs=6000):
    """doc_cache.rb (old-generation malloc garbage) with RUBY_GC_(OLD)MALLOC_LIMIT_MAX values."""
    argv = ["ruby", str(WORK / "doc_cache.rb"), str(docs)]
    for _ in range(repeats):
        for mib in (None, 32, 16, 8):
            v = str(mib * MiB) if mib else None
            env = {"MALLOC_ARENA_MAX": "2", **({"RUBY_GC_MALLOC_LIMIT_MAX": v, "RUBY_GC_OLDMALLOC_LIMIT_MAX": v}
                                                if v else {})}
            m.run("ruby-gc", f"malloc limits {mib or 'default'}{' MiB' if mib else ''}", argv, limit, env=env,
                  key=f"{limit}/{mib}", timeout=120)
        m.run("ruby-gc", "cgroupsize", argv, limit, tool=True, key=f"{limit}/cgroupsize", timeout=120)


def ruby_gc_table(m):
    groups: dict = {}
    for c in _cells(m, "ruby-gc"):
        groups.setdefault((c["limit_mib"], c["config"]), []).append(c)
    rows = [[limit, config, _f(_med(c["peak_mib"] for c in cs)),
             _f(_med(c["values"].get("secs") for c in cs), "{:.2f}"),
             _f(_med(c["values"].get("majorGc") for c in cs)), ",".join(sorted({c["outcome"] for c in cs})),
             cs[0].get("plan", "")[:70]] for (limit, config), cs in groups.items()]
    return table(["limit", "ruby", "peak", "s", "major GCs", "outcome", "plan"], rows)


def puma_runs(m: Matrix, limit=512, cpus=1.0, requests=300):
    if not shutil.which("puma"):
        print("puma: not installed, skipped", file=sys.stderr)
        return
    port = 20000 + os.getpid() % 20000
    argv = ["puma", "-b", f"tcp://127.0.0.1:{port}", str(WORK / "puma_app.ru")]
    for config, env, tool in (("single (WEB_CONCURRENCY=0)", {"WEB_CONCURRENCY": "0"}, False),
                              ("cluster, 1 worker", {"WEB_CONCURRENCY": "1"}, False),
                              ("cgroupsize", {}, True)):
        m.run("puma", config, argv, limit, cpus=cpus, env=env, tool=tool, key=f"{limit}/{cpus}",
              timeout=60, during=lambda proc, log: _serve(proc, log, port, requests))


def _serve(proc, log: Path, port, requests) -> dict:
    """Wait for puma to listen, send ``requests`` GETs, stop it; what the boot log said."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "Listening on" not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            return {"served": 0}
        time.sleep(0.1)
    time.sleep(0.5)  # cluster mode: the worker boots after the master listens
    served, start = 0, time.monotonic()
    for i in range(requests):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/items?page={i}", timeout=10) as r:
                served += r.status == 200 and b'"items"' in r.read()
        except OSError:
            pass
    rate = served / (time.monotonic() - start)
    text = log.read_text(errors="replace")
    mode = "cluster" if "cluster mode" in text else "single" if "single mode" in text else "?"
    workers = re.search(r"Workers: (\d+)", text)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    with open(log, "a") as f:  # served or not, puma stopped on our signal
        print("OK", file=f)
    return {"stopped": True, "served": served, "requests": requests, "req_per_s": round(rate), "mode": mode,
            "workers": int(workers.group(1)) if workers else 0,
            "single_worker_warning": "single worker is often a misconfiguration" in text}


# -- Python ----------------------------------------------------------------------------------


def python_blas(m: Matrix, quotas, requests, size, repeats, busy_modes, thread_counts=(1, 2)):
    argv = ["python3", str(WORK / "scoring.py"), str(requests), str(size)]
    for busy in busy_modes:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for _, quota in itertools.product(range(repeats), quotas):
                host = "busy" if busy else "idle"
                for threads in thread_counts:
                    env = {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
                    m.run("python-blas", f"{threads} thread(s)", argv, 1024, cpus=quota, env=env,
                          key=f"{quota}/{host}/{threads}", timeout=120)
                m.run("python-blas", "cgroupsize", argv, 1024, cpus=quota, tool=True,
                      key=f"{quota}/{host}/cgroupsize", timeout=120)
        finally:
            if spinner:
                spinner.kill()
                spinner.wait()


# -- tables and the rule ---------------------------------------------------------------------------


def table(headers, rows) -> str:
    return oom.table(headers, rows)


def _cells(m, part):
    return [c for c in m.cells if c["part"] == part]


def _med(values):
    values = [float(v) for v in values if v not in (None, "")]
    return statistics.median(values) if values else None


def _f(v, fmt="{:.0f}"):
    return "-" if v is None else fmt.format(v)


def offheap_table(m):
    rows = [[c["limit_mib"], c["key"].split("/")[1], c["config"], c["values"].get("heapLimitMiB", "?"),
             c["values"].get("heapUsedMiB", "-"), c["outcome"], _f(c.get("peak_mib")), c["wall_s"],
             c.get("plan", "")[:70]] for c in _cells(m, "node-offheap")]
    return table(["limit", "buffers", "node", "V8 limit", "heap reached", "outcome", "peak", "s", "plan"], rows)


def workers_table(m):
    rows = []
    for c in _cells(m, "node-workers"):
        w = re.findall(r"worker \d+ heapLimitMiB=([\d.]+)", c["tail"])
        rows.append([c["limit_mib"], c["config"], c["values"].get("heapLimitMiB", "?"), w[0] if w else "?",
                     c["outcome"], _f(c.get("peak_mib")), c["wall_s"]])
    return table(["limit", "node", "main V8 limit", "worker V8 limit", "outcome", "peak", "s"], rows)


def semi_table(m):
    groups: dict = {}
    for c in _cells(m, "node-semi"):
        groups.setdefault((c["limit_mib"], c["config"]), []).append(c)
    rows = []
    for (limit, config), cs in sorted(groups.items(), key=lambda kv: (kv[0][0], _semi_order(kv[0][1]))):
        rows.append([limit, config, cs[0]["values"].get("newSpaceMiB", "?"),
                     _f(_med(c["values"].get("opsPerCpuSec") for c in cs)),
                     _f(_med(c["values"].get("opsPerSec") for c in cs)),
                     _f(_med(c["values"].get("scavenges") for c in cs)),
                     _f(_med(c["values"].get("p99us") for c in cs)),
                     _f(_med(c.get("peak_mib") for c in cs)), ",".join(sorted({c["outcome"] for c in cs}))])
    return table(["limit", "node", "new space", "req/CPU-s", "req/s", "scavenges", "p99 us", "peak", "outcome"],
                 rows)


def _semi_order(config):
    v = config.rsplit("=", 1)[-1]
    return (0, 0) if config == "plain" else (1, 0) if v == "plan" else (2, int(v))


def ruby_table(m):
    groups: dict = {}
    for c in _cells(m, "ruby-alloc"):
        groups.setdefault(c["config"], []).append(c)
    rows = [[c0, cs[0]["limit_mib"], _f(_med(c["peak_mib"] for c in cs)),
             _f(_med(c["values"].get("jobsPerCpuSec") for c in cs)),
             _f(_med(c["values"].get("jobsPerSec") for c in cs)),
             ",".join(sorted({c["outcome"] for c in cs})), cs[0].get("plan", "")[:60]]
            for c0, cs in groups.items()]
    rows += [[f"{c['config']} (pair)", c["limit_mib"], _f(c.get("peak_mib")),
              c["values"].get("jobsPerCpuSec", "-"), c["values"].get("jobsPerSec", "-"), c["outcome"],
              c.get("plan", "")[:60]] for c in _cells(m, "ruby-pair")]
    return table(["ruby (16 threads)", "limit", "peak", "jobs/CPU-s", "jobs/s", "outcome", "plan"], rows)


def puma_table(m):
    rows = [[c["config"], c["limit_mib"], c["cpus"], c.get("mode", "?"), c.get("workers", "?"),
             f"{c.get('served', 0)}/{c.get('requests', '?')}", c.get("req_per_s", "-"), _f(c.get("peak_mib")),
             "yes" if c.get("single_worker_warning") else "no", c["outcome"]] for c in _cells(m, "puma")]
    return table(["puma", "limit", "CPUs", "mode", "workers", "served", "req/s", "peak", "1-worker warning",
                  "outcome"], rows)


def python_table(m):
    groups: dict = {}
    for c in _cells(m, "python-blas"):
        quota, host, _ = c["key"].split("/")
        groups.setdefault((float(quota), host, c["config"]), []).append(c)
    rows = []
    for (quota, host, config), cs in sorted(groups.items()):
        rows.append([quota, host, config, cs[0]["values"].get("blasThreads", "?"),
                     _f(_med(c["values"].get("wall") for c in cs), "{:.2f}"),
                     _f(_med(c["values"].get("p50ms") for c in cs), "{:.1f}"),
                     _f(_med(c["values"].get("p99ms") for c in cs), "{:.1f}"),
                     _f(_med(c["throttled"] for c in cs)), ",".join(sorted({c["outcome"] for c in cs}))])
    return table(["quota", "host", "python", "BLAS threads", "wall s", "p50 ms", "p99 ms", "throttled",
                  "outcome"], rows)


def rule_violations(m) -> list[str]:
    """Cells where plain completes or ends in its own error and cgroupsize is killed by the kernel."""
    plain = {}
    for c in m.cells:
        if not c["tool"]:
            plain.setdefault((c["part"], c["key"]), []).append(c)
    bad = []
    for c in m.cells:
        if not c["tool"] or c["outcome"] not in KILLED:
            continue
        base_key = c["key"].rsplit("/", 1)[0] + "/plain" if c["part"] == "node-semi" else \
            c["key"].split(" ")[0]
        for p in plain.get((c["part"], base_key), []) + plain.get((c["part"], c["key"]), []):
            if p["outcome"] == "ok" or p["outcome"] in OWN_ERRORS:
                bad.append(f"{c['part']} {c['key']}: plain {p['outcome']}, {c['config']} {c['outcome']}")
                break
    return bad


def tool_kills(m) -> list[str]:
    return [f"{c['part']} {c['key']} {c['config']}" for c in m.cells if c["tool"] and c["outcome"] in KILLED]


# -- main ----------------------------------------------------------------------------------------


PARTS = ("offheap", "workers", "semi", "live", "ruby", "rubygc", "puma", "python", "reserve")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke subset (about 25 s)")
    p.add_argument("--only", action="append", choices=PARTS, help="run only these parts (repeatable)")
    p.add_argument("--limits", help="Node off-heap limits in MiB, comma-separated (default 256,512,1024,2048)")
    p.add_argument("--buffers", help="Node Buffer shares of the limit in %%, comma-separated (default 0,10,30; "
                                     "reserve: 0,10)")
    p.add_argument("--repeats", type=int, default=2, help="repeats of the throughput runs (default 2)")
    p.add_argument("--rev", help="run cgroupsize from this git revision instead of the working tree")
    p.add_argument("--tool-path", metavar="DIR", help="run cgroupsize from this directory (a frozen copy holding "
                                                      "the cgroupsize package) instead of the working tree")
    p.add_argument("--json", metavar="FILE", help="write every run to FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="print each run as it ends")
    args = p.parse_args(argv)

    for sig in (signal.SIGTERM, signal.SIGINT):  # clean up cgroups and workloads when stopped
        signal.signal(sig, lambda *_: sys.exit(130))
    reason = skip_reason()
    if reason or not shutil.which("node"):
        print(f"nrp matrix: cannot run: {reason or 'node not found'}", file=sys.stderr)
        return 77
    parts = set(args.only or [p for p in PARTS if p != "reserve"])  # reserve: a tuning run, ask for it
    if args.quick and not args.only:
        parts = {"offheap", "ruby", "python"}
    repeats = 1 if args.quick else args.repeats
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="cgroupsize-nrp-"))
    os.chmod(workdir, 0o755)
    report: dict = {"quick": args.quick, "host_cpus": os.cpu_count(), "node": _version(["node", "--version"]),
                    "ruby": _version(["ruby", "-e", "print RUBY_VERSION"])}
    try:
        if args.rev:
            source, sha = oom.snapshot(args.rev, workdir)
            report["cgroupsize"] = f"git revision {sha}"
        elif args.tool_path:
            source, report["cgroupsize"] = args.tool_path, f"copy in {args.tool_path}"
        else:
            source, report["cgroupsize"] = str(REPO), "working tree"
        print(f"cgroupsize: {report['cgroupsize']} of {REPO}; node {report['node']}, ruby {report['ruby']}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        m = Matrix(workdir, source, args.verbose)
        limits = [int(x) for x in args.limits.split(",")] if args.limits else \
            [256] if args.quick else [256, 512, 1024, 2048]
        sections = []
        buffers = [int(x) / 100 for x in args.buffers.split(",")] if args.buffers else None
        if "offheap" in parts:
            node_offheap(m, limits, buffers or ([0.1] if args.quick else [0.0, 0.1, 0.3]), ("plain", "cgroupsize"))
            sections.append(("Node: Buffers of a share of the limit, then a heap that grows without end "
                             "(cache_server.js)", offheap_table(m)))
        if "workers" in parts:
            node_workers(m, [512, 1024])
            sections.append(("Node: 4 worker_threads, each growing its heap without end (workers.js)",
                             workers_table(m)))
        if "semi" in parts:
            node_semi(m, [512] if args.quick else [256, 512, 1024], [4, 16] if args.quick else [1, 2, 4, 8, 16, 32],
                      2, repeats)
            sections.append((f"Node: JSON request loop, 256 in flight, cache 15% of the limit; through cgroupsize "
                             f"with --max-semi-space-size=S (median of {repeats})", semi_table(m)))
        if "live" in parts:
            report["node_live"] = node_live(m, 512, 8)
            sections.append(("Node: largest live set completing at 512 MiB (churn.js, 256 MiB churn)",
                             table(["node", "max live", "first failing", "how"],
                                   [[k, v["max_live_mib"], v["first_fail_mib"], v["first_fail"]]
                                    for k, v in report["node_live"].items()])))
        if "reserve" in parts:
            report["node_reserve"] = node_reserve(m, limits, buffers or ([0.1] if args.quick else [0.0, 0.1]))
            rows = [list(r.values()) for r in report["node_reserve"]]
            sections.append(("Node: largest --max-old-space-size whose leak still ends in V8's error "
                             "(semi-space limit/64 MiB, 1-16)", table(list(report["node_reserve"][0]), rows)))
        if "ruby" in parts:
            ruby_alloc(m, 1024, [256], 1.5 if args.quick else 6, repeats, args.quick)
            sections.append((f"Ruby: 16 threads building reports, the last 256 kept (report_jobs.rb), "
                             f"median of {repeats}",
                             ruby_table(m)))
        if "rubygc" in parts:
            for limit in (512,) if args.quick else (512, 1024):
                ruby_gc(m, limit, repeats)
            sections.append((f"Ruby: 64 parsed documents cached (doc_cache.rb), median of {repeats}",
                             ruby_gc_table(m)))
        if "puma" in parts:
            puma_runs(m)
            sections.append(("puma 5 at 512 MiB / 1 CPU (puma_app.ru, 300 requests)", puma_table(m)))
        if "python" in parts:
            python_blas(m, [1.0] if args.quick else [0.5, 1.0, 1.5, 2.0], 60 if args.quick else 150, 384,
                        repeats if args.quick else max(3, repeats), [False] if args.quick else [False, True],
                        (1,) if args.quick else (1, 2))
            sections.append(("Python: numpy matmul request loop (scoring.py, 384x384), 1 GiB", python_table(m)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for title, text in sections:
        print(f"\n{title}\n{text}")
    bad = rule_violations(m)
    report.update(cells=m.cells, violations=bad, tool_kills=tool_kills(m),
                  seconds=round(time.monotonic() - started, 1))
    print(f"\nkernel kills through cgroupsize: {', '.join(report['tool_kills']) or 'none'}")
    print("rule (no cell where plain completes or ends in its own error and cgroupsize is OOM-killed): "
          + ("HOLDS" if not bad else "BROKEN:\n  " + "\n  ".join(bad)))
    print(f"{len(m.cells)} runs in {report['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 1 if bad else 0


def _version(argv) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
