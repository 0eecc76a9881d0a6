"""Node.js: ``--max-old-space-size`` so V8's heap and Node's other memory fit the limit.

V8 sizes the old generation at half of what Node tells it (the cgroup limit
libuv reads: the leaf cgroup only, cgroup v2 only since libuv 1.45), at least
256Mi and at most 2-4Gi (research/sizing.md §2(b)): in a 256Mi container
``heap_size_limit`` is 262Mi, above the limit (nodejs/node#64646), while a
1Gi container uses only half (nodejs/node#35573). The young generation (3
semi-spaces) is sized from the same figure: 3Mi when Node sees a 256Mi limit,
48Mi when it misses it and sees the host (measured, Node 20).

The plan, for a limit B (sizing.md §2(e), tuned on a live-set-plus-churn
workload in real 256Mi/512Mi/1Gi cgroups: the old space fills and V8 stops
with "heap out of memory" at 80-83% of the limit, never a kernel OOM kill):

* ``--max-semi-space-size`` = B/128Mi MiB, from 1 to 16 (V8's own 64-bit
  maximum; not set from 2Gi up, where it is V8's choice too): explicit, so
  that the young generation (3 x that) does not depend on Node's detection.
* old space = ``min(ratio x B, B - 3 x semi-space - 40Mi)``, ratio
  ``CGROUPSIZE_NODE_HEAP_RATIO`` (0.8; the Node docs suggest 1536 of 2048,
  community entrypoints 75-80%); 40Mi for Node itself (malloc, libuv, the
  binary's pages: 25-30Mi measured) and a little off-heap Buffer space, the
  rest of the 20% being Buffers' and native addons'.
* below 75Mi that leaves under 32Mi: a warning (``--strict`` refuses), an
  old space of ``max(16Mi, B/4)`` and 1Mi semi-spaces.
* no memory limit: nothing (V8's own sizing from host memory stands).
* ``UV_THREADPOOL_SIZE`` = our CPU count where that is above libuv's fixed
  default of 4 (at most 128): the pool runs crypto, zlib and blocking fs and
  DNS work, and 4 threads leave CPUs idle in a 16-CPU container. Never
  lowered below 4: fs and DNS calls block without using a CPU
  (docs.libuv.org "Thread pool work scheduling"; read once at start-up, so it
  must be in the environment).

``node`` run directly gets the flags right after ``node`` (the user's later
flags win); npm, npx, yarn, pnpm and node scripts get them at the front of
``NODE_OPTIONS`` (which Node reads before its command line). The user's
setting is looked for in ``NODE_OPTIONS``, the ``#!`` line and the command
line before the script: ``--max-old-space-size`` (or ``_``),
``--max-old-space-size-percentage`` and ``--max-heap-size`` leave the heap
alone, ``--max-semi-space-size`` the young generation.
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import cpu_text, limit_text, split_options
from cgroupsize.units import MiB, fmt_size

THREADPOOL_DEFAULT = 4  # libuv's UV_THREADPOOL_SIZE default
THREADPOOL_MAX = 128  # libuv accepts up to 1024; more than this many CPUs is rare and the pool's stacks add up
NODE_ITSELF = 40 * MiB  # Node's own memory outside the V8 heap (25-30Mi measured) + slack
SEMI_PER = 128 * MiB  # one MiB of semi-space per 128Mi of limit ...
SEMI_MAX_MIB = 16  # ... up to V8's 64-bit default maximum (8MB x pointer size / 4)
SANE_MIN = 32 * MiB  # an old space below this is not a sane plan
FLOOR = 16 * MiB

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
    return max(1, min(SEMI_MAX_MIB, budget // SEMI_PER))


def old_space(budget: int, ratio: float) -> tuple[int, int, bool]:
    """``(old space bytes, semi-space MiB, sane?)`` for a per-process budget in bytes."""
    semi = semi_space_mib(budget)
    old = min(int(ratio * budget), budget - 3 * semi * MiB - NODE_ITSELF)
    if old >= SANE_MIN:
        return old, semi, True
    return max(FLOOR, budget // 4), 1, False


def plan(p: Plan, target: Target, limits: Limits) -> None:
    _threadpool(p, limits)
    limit = limits.memory_limit
    if limit is None:
        p.none("max-old-space-size", f"memory limit {limits.memory.state} (V8 sizes its heap itself)",
               "--max-old-space-size")
        return
    ratio = p.settings.node_heap_ratio or 0.8
    old, semi, sane = old_space(limit, ratio)
    heap_where = user_setting(target, p.argv, p.env, HEAP_FLAGS)
    if p.mine("max-old-space-size", heap_where, "the heap"):
        mib = max(1, old // MiB)
        if sane:
            why = (f"old space = min({ratio:g} x {limit_text(limits)}, "
                   f"limit - {3 * semi}Mi young generation - {fmt_size(NODE_ITSELF)} for Node itself)")
        else:
            why = (f"old space = max({fmt_size(FLOOR)}, a quarter of the {limit_text(limits)}): "
                   "too small for the usual reserve")
            p.warn(f"memory limit {fmt_size(limit)} is too small for a sane Node plan: old space "
                   f"{fmt_size(old)}", problem=True)
        p.flag("max-old-space-size", f"--max-old-space-size={mib}", why, "limit")
    if semi < SEMI_MAX_MIB and p.mine("max-semi-space-size", user_setting(target, p.argv, p.env, SEMI_FLAGS),
                                      "--max-semi-space-size"):
        p.flag("max-semi-space-size", f"--max-semi-space-size={semi}",
               f"young generation {3 * semi}Mi (one MiB of semi-space per {fmt_size(SEMI_PER)} of limit); "
               "V8 would take up to 48Mi if it misread the limit", "limit")
    p.place_flags(target.how == "direct", "NODE_OPTIONS", f"{target.name} starts node itself")


def _threadpool(p: Plan, limits: Limits) -> None:
    count = min(limits.cpu_count, THREADPOOL_MAX)
    if count <= THREADPOOL_DEFAULT:
        p.none("UV_THREADPOOL_SIZE", f"{limits.cpu_count} CPU(s), libuv's default of "
               f"{THREADPOOL_DEFAULT} threads stands")
    else:
        p.set_unless_user("UV_THREADPOOL_SIZE", str(count),
                          f"one libuv pool thread per usable CPU ({cpu_text(limits)}) instead of the fixed 4",
                          "limit")
