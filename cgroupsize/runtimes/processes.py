"""What Python and Ruby servers share: worker processes and glibc malloc arenas.

* ``WEB_CONCURRENCY`` for the servers that read it (gunicorn, uvicorn, puma,
  unicorn; any program with ``CGROUPSIZE_WORKERS=always``):
  ``max(1, min(cpu term, budget // worker memory))``, the cpu term ``a x
  CPUs + b`` per server (gunicorn's docs: ``2 x CPUs + 1``; one event loop
  or one puma worker per CPU), worker memory ``CGROUPSIZE_WORKER_MEMORY``
  (Heroku's figures). Nothing when there is neither a memory limit nor a CPU
  bound (we would only repeat the host). The user's ``WEB_CONCURRENCY`` or
  ``-w``/``--workers`` wins.
  puma with one worker runs in single mode instead (``WEB_CONCURRENCY=0``):
  cluster mode adds a master process (+6 MiB measured at 512Mi) and puma
  itself warns that one worker is "often a misconfiguration"; unicorn has no
  single mode and keeps at least 1.
* ``MALLOC_ARENA_MAX=2`` when there is a memory limit: glibc makes up to 8
  arenas per *host* core (mallopt(3), M_ARENA_MAX) and threaded servers bloat
  with them (Heroku's default for Ruby and Python; 16 Ruby threads: 168 ->
  120 MiB peak measured); not when ``GLIBC_TUNABLES`` sets
  ``glibc.malloc.arena_max`` or another allocator is preloaded.
* jemalloc preloaded (``LD_PRELOAD``, as Rails' Dockerfile does) and no
  ``MALLOC_CONF``: ``MALLOC_CONF=narenas:<CPUs>``: jemalloc makes 4 arenas
  per CPU it sees (the host's), each keeping its own dirty pages (jemalloc's
  ``opt.narenas``); a ``MALLOC_CONF`` of the user's is left whole.
"""
from __future__ import annotations

from cgroupsize.files import parse_uint
from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import cpu_text, limit_text
from cgroupsize.units import fmt_size

CPU_TERM = {"gunicorn": (2, 1), "uvicorn": (1, 0)}  # workers = a x CPUs + b
ARENAS = "2"  # MALLOC_ARENA_MAX (Heroku's Ruby and Python default)
OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")


def cpus_float(limits: Limits) -> float:
    """The CPUs this process may use, not rounded: the quota when it binds, else the count."""
    q = limits.cpu.quota.value
    return min(q, limits.cpu_count) if q else float(limits.cpu_count)


def cpu_bounded(limits: Limits) -> bool:
    """Whether our CPU figure is below what a library reading the host would use."""
    return limits.cpu.count_source is not None


def web_concurrency(limits: Limits, server: str | None, worker_memory: int,
                    default_term: tuple[int, int] = (2, 1)) -> tuple[int | None, str]:
    """``(workers, why)`` from CPUs and memory, or ``(None, why)`` when there is no limit at all."""
    mem = limits.memory_limit
    if mem is None and not cpu_bounded(limits):
        return None, "neither a memory limit nor a CPU bound"
    a, b = CPU_TERM.get(server or "", default_term)
    count = limits.cpu_count
    cpu = f"{a} x {count} CPUs + {b}" if b else f"{count} CPUs" if a == 1 else f"{a} x {count} CPUs"
    by_cpu = a * count + b
    if mem is None:
        return max(1, by_cpu), f"{cpu} = {by_cpu} ({cpu_text(limits)}; no memory limit)"
    by_mem = mem // worker_memory
    workers = max(1, min(by_cpu, by_mem))
    return workers, (f"min({cpu} = {by_cpu}, {limit_text(limits)} / {fmt_size(worker_memory)} per worker "
                     f"= {by_mem}), at least 1 ({cpu_text(limits)})")


def whole(text: str | None) -> int | None:
    """A positive whole number in ASCII digits, else None (``"²".isdigit()`` is True; ``int`` refuses it)."""
    n = parse_uint((text or "").strip(), 9)
    return n if n else None


def user_workers(argv: list[str], env: dict[str, str]) -> int | None:
    """Worker count the user gave gunicorn/uvicorn (``-w N``, ``--workers N``), else None."""
    for i, a in enumerate(argv):
        value = None
        if a in ("-w", "--workers") and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--workers="):
            value = a.split("=", 1)[1]
        elif a.startswith("-w") and len(a) > 2:
            value = a[2:]
        if whole(value):
            return whole(value)
    for t in env.get("GUNICORN_CMD_ARGS", "").split():
        if t.startswith("--workers=") and whole(t[10:]):
            return whole(t[10:])
    return None


def allocator_preloaded(env: dict[str, str]) -> str | None:
    preload = env.get("LD_PRELOAD", "")
    for name in OTHER_ALLOCATORS:
        if name in preload:
            return name
    return None


def workers_plan(p: Plan, target: Target, limits: Limits, default_memory: int,
                 cpu_term: tuple[int, int] = (2, 1)) -> int:
    """WEB_CONCURRENCY (Python and Ruby alike); returns the processes serving (>= 1)."""
    mode = p.settings.workers
    p.workers = whole(p.env.get("WEB_CONCURRENCY"))
    if mode == "off":
        p.none("WEB_CONCURRENCY", "CGROUPSIZE_WORKERS is off")
        return p.workers or 1
    if target.server is None and mode != "always":
        return p.workers or 1
    explicit = user_workers(p.argv[1:], p.env) if target.server else None
    if explicit:
        p.decide("WEB_CONCURRENCY", "left", None, f"the worker count is set on the {target.server} command line",
                 "user")
        p.workers = explicit
        return explicit
    workers, why = web_concurrency(limits, target.server, p.settings.worker_memory or default_memory, cpu_term)
    if workers is None:
        p.none("WEB_CONCURRENCY", why)
        return p.workers or 1
    value, note = str(workers), f"workers = {why}"
    if workers == 1 and target.server == "puma":
        value, note = "0", (f"puma single mode: one worker by the formula ({why}); cluster mode would add a "
                            "master process for nothing")
    if p.set_unless_user("WEB_CONCURRENCY", value, note, "limit"):
        p.workers = workers
    return p.workers or 1


def arenas_plan(p: Plan, limits: Limits) -> None:
    """MALLOC_ARENA_MAX for glibc's malloc, or MALLOC_CONF=narenas for a preloaded jemalloc."""
    if limits.memory_limit is None:
        p.none("MALLOC_ARENA_MAX", f"memory limit {limits.memory.state}")
        return
    other = allocator_preloaded(p.env)
    if other:
        p.none("MALLOC_ARENA_MAX", f"{other} is preloaded (LD_PRELOAD)")
        if other == "jemalloc":
            p.set_unless_user("MALLOC_CONF", f"narenas:{limits.cpu_count}",
                              f"jemalloc makes 4 arenas per host CPU; one per usable CPU ({cpu_text(limits)})",
                              "limit")
        return
    if "glibc.malloc.arena_max" in p.env.get("GLIBC_TUNABLES", ""):
        p.decide("MALLOC_ARENA_MAX", "left", None, "the user sets glibc.malloc.arena_max in GLIBC_TUNABLES",
                 "user")
        return
    p.set_unless_user("MALLOC_ARENA_MAX", ARENAS,
                      f"glibc would make up to 8 malloc arenas per host CPU; {limit_text(limits)}", "limit")
