"""Ruby (MRI): malloc arenas, GC malloc limits and worker processes.

MRI reads no cgroup limit and has no heap cap to set. The plan, each
variable only if the user has not set it (figures from
benchmarks/nrp_matrix.py, Ruby 3.1, puma 5.6, real cgroups):

* ``MALLOC_ARENA_MAX=2`` (glibc) or ``MALLOC_CONF=narenas:<CPUs>`` (a
  preloaded jemalloc), see :mod:`cgroupsize.runtimes.processes`.
* ``RUBY_GC_MALLOC_LIMIT_MAX`` and ``RUBY_GC_OLDMALLOC_LIMIT_MAX`` when a
  process's share of the effective limit is below 1Gi: 16Mi, and 8Mi below
  512Mi (Ruby's defaults: 32Mi and 128Mi). Memory malloc'd by objects that
  reached the old generation (string bodies, parsed documents) is only
  returned by a major GC, which these limits trigger; on a job caching 64
  parsed documents the peak was 158 MiB by default and with 32Mi, 120 with
  16Mi, 59 with 8Mi, for 1.7x the time of that GC-bound loop (a serving app
  spends far less of its time in GC). They tune when GC runs, never a cap:
  a live set above them still fits. The names are the same from Ruby
  2.1 to 3.4 (gc.c, gc/default.c).
* ``WEB_CONCURRENCY`` for puma and unicorn (``puma``, ``bundle exec puma``,
  ``rails server``; ``CGROUPSIZE_WORKERS=always`` for any program):
  ``max(1, min(CPUs, limit // worker memory))``: one worker per CPU (the
  Rails puma.rb template), worker memory ``CGROUPSIZE_WORKER_MEMORY`` (384Mi:
  Heroku's Ruby sizes give 256-384 MB per worker); ``0`` for puma when that
  is 1 (single mode: 23 MiB instead of 29 at 512Mi / 1 CPU, no "single
  worker" warning). Not ``auto``: Puma's own ``auto`` truncates a fractional
  quota (1.5 -> 1, 0.5 -> 0) and reads only the root cgroup.

A process's share is the limit divided by ``CGROUPSIZE_PROCESSES`` or by the
worker count in effect (ours or the user's).
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import limit_text
from cgroupsize.runtimes.processes import arenas_plan, workers_plan
from cgroupsize.units import GiB, MiB, fmt_size

WORKER_MEMORY = 384 * MiB
CPU_TERM = (1, 0)  # workers = CPUs
GC_VARS = ("RUBY_GC_MALLOC_LIMIT_MAX", "RUBY_GC_OLDMALLOC_LIMIT_MAX")
GC_BELOW = 1 * GiB  # per-process share below which the malloc limits are lowered
GC_LIMITS = ((512 * MiB, 8 * MiB), (GC_BELOW, 16 * MiB))  # (share below, limit): measured


def gc_limit(share: int) -> int | None:
    """The malloc limit for a per-process share of memory, or None (Ruby's defaults)."""
    for below, limit in GC_LIMITS:
        if share < below:
            return limit
    return None


def gc_plan(p: Plan, limits: Limits, processes: int) -> None:
    limit = limits.memory_limit
    if limit is None:
        p.none("RUBY_GC_MALLOC_LIMIT_MAX", f"memory limit {limits.memory.state}", "GC malloc limits")
        return
    share = limit // max(1, processes)
    value = gc_limit(share)
    of = limit_text(limits) + (f" / {processes} processes" if processes > 1 else "")
    if value is None:
        p.none("RUBY_GC_MALLOC_LIMIT_MAX", f"{fmt_size(share)} per process ({of}): Ruby's defaults fit",
               "GC malloc limits")
        return
    why = (f"{fmt_size(share)} per process ({of}) is below {fmt_size(GC_BELOW)}: a major GC every "
           f"{fmt_size(value)} of malloc growth returns old objects' memory sooner")
    for name in GC_VARS:
        p.set_unless_user(name, str(value), why, "measured")


def plan(p: Plan, target: Target, limits: Limits) -> None:
    arenas_plan(p, limits)
    workers = workers_plan(p, target, limits, WORKER_MEMORY, CPU_TERM)
    gc_plan(p, limits, p.settings.processes or workers)
