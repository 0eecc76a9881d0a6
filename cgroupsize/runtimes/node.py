"""Node.js: ``--max-old-space-size`` and ``--max-semi-space-size`` so every Node process fits its share.

V8 sizes the old generation at half of what Node tells it (the cgroup limit
libuv reads: the leaf cgroup only, cgroup v2 only since libuv 1.45), at least
256Mi and at most 2-4Gi: in a 256Mi container ``heap_size_limit`` is 262Mi,
above the limit (nodejs/node#64646), while a 1Gi container uses only half
(nodejs/node#35573).

The plan, for the effective limit L (``min(memory.max, memory.high)``), split
among N Node processes (measured with benchmarks/nrp_matrix.py, Node 20, real
cgroups, memory+swap = the limit):

* **per-process budget** B = L / N with N = ``CGROUPSIZE_PROCESSES``; or,
  for ``pm2-runtime -i N`` and for cluster apps (the user's
  ``WEB_CONCURRENCY``, or ours with ``CGROUPSIZE_WORKERS=always``),
  B = (L - 48Mi for the primary or pm2's daemon) / N. ``--max-old-space-size``
  is per isolate: every cluster worker and every ``worker_threads`` isolate
  gets the whole figure, and the flag overrides a worker's own
  ``resourceLimits`` (nodejs/node#43991): count the isolates in N.
* **young generation**: ``--max-semi-space-size`` = 16 (V8's 64-bit
  maximum) from a 1Gi budget, where it paid: on a JSON request loop with 256
  requests in flight 16 MiB did 1.4-2x the requests per CPU-second of 2-8
  MiB at 256Mi-1Gi, for at most 12 MiB more peak memory. Below 1Gi, one MiB per
  128Mi rounded down to a power of two (V8 rounds the flag up to one): 2 at
  256Mi, 4 at 512Mi. 8 at 512Mi gained nothing measurable and cost the live
  set 24 MiB (344 instead of 368 MiB). Always set, counted inside B
  (``heap_size_limit`` = old space + 3 semi-spaces).
* **reserve outside V8's heap** R = ``max(32Mi, CGROUPSIZE_NODE_RESERVE x
  B)`` (15%): Buffers and ArrayBuffers, native addons, compiled code, libuv,
  Node itself (25-30 MiB), and V8's overshoot of the old-space limit near
  exhaustion, which grows with the heap (measured: 8-24 MiB at 512Mi, 16-48
  at 1Gi, 67-131 at 2Gi beyond the Buffers and the young generation). With
  Buffers of 10% of the limit the largest old space that still ended in V8's
  own "heap out of memory" was 416/832/1664 MiB at 512Mi/1Gi/2Gi; one step
  more (16/32/64 MiB) was an OOM kill.
* **old space** = ``min(ratio x B, B - 3 x semi - R)``, ratio
  ``CGROUPSIZE_NODE_HEAP_RATIO`` (0.8; the Node docs suggest 1536 of 2048):
  204 MiB at 256Mi, 409 at 512Mi, 819 at 1Gi, 1638 at 2Gi, each below the
  measured limit above; at 512Mi a pure-heap live set of 368 MiB completes
  (plain node: 224). A service holding more than about 10% of its
  memory in Buffers raises the reserve: ``CGROUPSIZE_NODE_RESERVE=35%`` for
  30% (old space 308/617/1283 MiB; measured to end in V8's error).
* below about 68Mi that leaves under 32Mi: a warning (``--strict`` refuses),
  an old space of ``max(16Mi, B/4)`` and 1Mi semi-spaces.
* no memory limit: nothing (V8's own sizing from host memory stands).
* ``WEB_CONCURRENCY`` with ``CGROUPSIZE_WORKERS=always`` (a cluster app that
  forks that many workers): ``max(1, min(CPUs, L / worker memory))``, worker
  memory ``CGROUPSIZE_WORKER_MEMORY`` (512Mi: Heroku's Node buildpack
  ``WEB_MEMORY``); each worker's heap is then sized for its share.
* ``UV_THREADPOOL_SIZE`` = our CPU count where that is above libuv's fixed
  default of 4 (at most 128): never lowered below 4, since fs and DNS calls
  block without using a CPU (docs.libuv.org "Thread pool work scheduling").

``node`` run directly gets the flags right after ``node`` (the user's later
flags win); npm, npx, yarn, pnpm, pm2 and node scripts get them at the front
of ``NODE_OPTIONS`` (which Node reads before its command line, and which
cluster and pm2 workers inherit). The user's setting is looked for in
``NODE_OPTIONS``, the ``#!`` line and the command line before the script:
``--max-old-space-size`` (or ``_``), ``--max-old-space-size-percentage`` and
``--max-heap-size`` leave the heap alone, ``--max-semi-space-size`` the young
generation.
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import BudgetLine, Limits, Plan
from cgroupsize.runtimes.common import cpu_text, limit_text, split_options
from cgroupsize.runtimes.processes import whole
from cgroupsize.units import MiB, fmt_size

THREADPOOL_DEFAULT = 4  # libuv's UV_THREADPOOL_SIZE default
THREADPOOL_MAX = 128  # libuv accepts up to 1024; more than this many CPUs is rare and the pool's stacks add up
RESERVE_SHARE = 0.15  # of the budget outside V8's heap: Buffers, addons, code, libuv, V8's overshoot ...
RESERVE_MIN = 32 * MiB  # ... and never less than Node itself takes (25-30Mi measured)
SEMI_PER = 128 * MiB  # one MiB of semi-space per 128Mi of budget below ...
SEMI_FULL = 1 << 30  # ... 1Gi, from where it is 16: measured to pay (1.4-2x requests per CPU-second) ...
SEMI_MAX_MIB = 16  # ... V8's 64-bit default maximum (8MB x pointer size / 4)
SANE_MIN = 32 * MiB  # an old space below this is not a sane plan
FLOOR = 16 * MiB
PRIMARY = 48 * MiB  # a cluster primary or pm2's daemon: a Node process holding no application data
WORKER_MEMORY = 512 * MiB  # Heroku's Node buildpack WEB_MEMORY default
PM2 = ("pm2-runtime", "pm2", "pm2-docker")

HEAP_FLAGS = ("max-old-space-size", "max-old-space-size-percentage", "max-heap-size")
SEMI_FLAGS = ("max-semi-space-size",)
# node options whose value is the next argument (node --help)
_VALUE_OPTS = {"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions",
               "--input-type", "--title", "--env-file", "--inspect-port", "--debug-port", "--stack-size",
               "--openssl-config", "--icu-data-dir", "--redirect-warnings", "--dns-result-order"}
_SCRIPT_OPTS = {"-e", "--eval", "-p", "--print"}


def _name(token: str) -> str:
    """``--max_old_space_size=100`` -> ``max-old-space-size`` (V8 treats ``_`` and ``-`` alike)."""
    return token.lstrip("-").split("=", 1)[0].replace("_", "-")


def node_options(tokens: list[str], launcher: bool = False) -> list[str]:
    """The options among ``tokens``; with ``launcher``, only those before the script."""
    options = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if launcher and (t == "--" or not t.startswith("-") or t == "-"):
            break
        options.append(t)
        if launcher and (t in _VALUE_OPTS or t in _SCRIPT_OPTS):
            i += 2
            continue
        i += 1
    return options


def user_setting(target: Target, argv: list[str], env: dict[str, str], names: tuple[str, ...]) -> str | None:
    """Where the user set one of ``names`` (V8 flag names), or None."""
    sources: list[tuple[str, list[str], bool]] = [
        ("NODE_OPTIONS", split_options(env.get("NODE_OPTIONS", "")), False)]
    if target.interp_args:
        sources.append(("the #! line", target.interp_args, False))
    if target.how == "direct":
        sources.append(("the command line", argv[1:], True))
    for where, tokens, launcher in sources:
        for t in node_options(tokens, launcher):
            if t.startswith("--") and _name(t) in names:
                return where
    return None


def semi_space_mib(budget: int) -> int:
    """Semi-space MiB for a per-process budget: 16 from 1Gi, else one per 128Mi rounded down to a
    power of two (V8 rounds the flag up to one), from 1."""
    if budget >= SEMI_FULL:
        return SEMI_MAX_MIB
    target = budget // SEMI_PER
    semi = 1
    while semi * 2 <= target:
        semi *= 2
    return semi


def reserve(budget: int, share: float) -> int:
    """Bytes kept outside V8's heap (not counting the young generation)."""
    return max(RESERVE_MIN, int(share * budget))


def old_space(budget: int, ratio: float, share: float = RESERVE_SHARE) -> tuple[int, int, bool]:
    """``(old space bytes, semi-space MiB, sane?)`` for a per-process budget in bytes."""
    semi = semi_space_mib(budget)
    old = min(int(ratio * budget), budget - 3 * semi * MiB - reserve(budget, share))
    if old >= SANE_MIN:
        return old, semi, True
    return max(FLOOR, budget // 4), 1, False


def pm2_instances(target: Target, argv: list[str], cpus: int) -> int | None:
    """N of ``pm2-runtime -i N`` / ``pm2 start -i N`` (``max``, ``0``: one per CPU; ``-1``: CPUs - 1)."""
    if target.name not in PM2:
        return None
    for i, a in enumerate(argv[1:], 1):
        value = a.split("=", 1)[1] if a.startswith("--instances=") else \
            argv[i + 1] if a in ("-i", "--instances") and i + 1 < len(argv) else None
        if value is None:
            continue
        v = value.strip()
        if v in ("max", "0"):
            return cpus
        if v.startswith("-") and whole(v[1:]):
            return max(1, cpus - (whole(v[1:]) or 0))
        return whole(v)
    return None


def processes(p: Plan, target: Target, limits: Limits, limit: int) -> tuple[int, int, str]:
    """``(N, per-process budget, why)``: how many Node processes share ``limit``."""
    n = p.settings.processes
    if n:
        return n, limit // n, f"CGROUPSIZE_PROCESSES={n}"
    pm2 = pm2_instances(target, p.argv, limits.cpu_count)
    if pm2:
        return pm2, max(limit - PRIMARY, limit // 2) // pm2, \
            f"{target.name} -i: {pm2} processes and pm2's daemon ({fmt_size(PRIMARY)})"
    workers = _cluster_workers(p, limits, limit)
    if workers:
        return workers, max(limit - PRIMARY, limit // 2) // workers, \
            f"WEB_CONCURRENCY={workers} cluster workers and the primary ({fmt_size(PRIMARY)})"
    return 1, limit, ""


def _cluster_workers(p: Plan, limits: Limits, limit: int) -> int | None:
    """The user's WEB_CONCURRENCY, or ours with CGROUPSIZE_WORKERS=always (Heroku's formula)."""
    user = whole(p.env.get("WEB_CONCURRENCY"))
    if user or p.settings.workers != "always":
        p.workers = user
        return user
    memory = p.settings.worker_memory or WORKER_MEMORY
    workers = max(1, min(limits.cpu_count, limit // memory))
    why = (f"cluster workers = min({limits.cpu_count} CPUs, {limit_text(limits)} / {fmt_size(memory)} "
           f"per worker = {limit // memory}), at least 1; CGROUPSIZE_WORKERS=always")
    if p.set_unless_user("WEB_CONCURRENCY", str(workers), why, "limit"):
        p.workers = workers
    return p.workers


def plan(p: Plan, target: Target, limits: Limits) -> None:
    _threadpool(p, limits)
    limit = limits.memory_limit
    if limit is None:
        p.none("max-old-space-size", f"memory limit {limits.memory.state} (V8 sizes its heap itself)",
               "--max-old-space-size")
        return
    count, budget, shared = processes(p, target, limits, limit)
    ratio = p.settings.node_heap_ratio or 0.8
    share = RESERVE_SHARE if p.settings.node_reserve is None else p.settings.node_reserve
    old, semi, sane = old_space(budget, ratio, share)
    of = f"{fmt_size(budget)} per process ({shared})" if shared else limit_text(limits)
    if p.mine("max-old-space-size", user_setting(target, p.argv, p.env, HEAP_FLAGS), "the heap"):
        _heap(p, old, semi, sane, of, ratio, share, budget)
    if p.mine("max-semi-space-size", user_setting(target, p.argv, p.env, SEMI_FLAGS), "--max-semi-space-size"):
        p.flag("max-semi-space-size", f"--max-semi-space-size={semi}",
               f"young generation {3 * semi}Mi inside the budget ({SEMI_MAX_MIB} from "
               f"{fmt_size(SEMI_FULL)}, else one MiB per {fmt_size(SEMI_PER)} of {of})", "measured")
    p.place_flags(target.how == "direct", "NODE_OPTIONS", f"{target.name} starts node itself")
    _budget(p, limit, shared, budget, old, semi, share)
    if not shared:
        p.info("worker_threads: every isolate gets this --max-old-space-size, which also overrides a worker's "
               "resourceLimits (nodejs/node#43991); with W workers set CGROUPSIZE_PROCESSES=W+1")


def _heap(p: Plan, old: int, semi: int, sane: bool, of: str, ratio: float, share: float, budget: int) -> None:
    mib = max(1, old // MiB)
    if sane:
        why = (f"old space = min({ratio:g} x {of}, that - {3 * semi}Mi young generation - "
               f"{fmt_size(reserve(budget, share))} outside the heap ({share:.0%}, at least {fmt_size(RESERVE_MIN)}: "
               "Buffers, addons, code; CGROUPSIZE_NODE_RESERVE))")
    else:
        why = f"old space = max({fmt_size(FLOOR)}, a quarter of {of}): too small for the usual reserve"
        p.warn(f"memory budget {fmt_size(budget)} is too small for a sane Node plan: old space "
               f"{fmt_size(old)}", problem=True)
    p.flag("max-old-space-size", f"--max-old-space-size={mib}", why, "limit")


def _budget(p: Plan, limit: int, shared: str, budget: int, old: int, semi: int, share: float) -> None:
    """The regions of one process's budget (and the other processes') for --dry-run."""
    heap = old // MiB * MiB
    young = 3 * semi * MiB
    p.budget.append(BudgetLine("old space", heap, "limit", "--max-old-space-size"))
    p.budget.append(BudgetLine("young generation", young, "measured", f"3 x {semi}Mi semi-spaces"))
    p.budget.append(BudgetLine("outside the heap", max(0, budget - heap - young),
                               "user" if p.settings.given("node_reserve") else "measured",
                               f"Buffers, addons, code, libuv: {share:.0%}, at least {fmt_size(RESERVE_MIN)}"))
    if budget < limit:
        p.budget.append(BudgetLine("other processes", limit - budget, "count", shared))


def _threadpool(p: Plan, limits: Limits) -> None:
    count = min(limits.cpu_count, THREADPOOL_MAX)
    if count <= THREADPOOL_DEFAULT:
        p.none("UV_THREADPOOL_SIZE", f"{limits.cpu_count} CPU(s), libuv's default of "
               f"{THREADPOOL_DEFAULT} threads stands")
    else:
        p.set_unless_user("UV_THREADPOOL_SIZE", str(count),
                          f"one libuv pool thread per usable CPU ({cpu_text(limits)}) instead of the fixed 4",
                          "limit")
