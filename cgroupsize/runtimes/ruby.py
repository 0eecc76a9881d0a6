"""Ruby (MRI): malloc arenas and worker processes.

MRI reads no cgroup limit and has no heap cap to set (its ``RUBY_GC_*``
variables tune frequency, not size, and their names change between
versions: left alone). The plan (research/sizing.md §3(e)); each variable
only if the user has not set it:

* ``MALLOC_ARENA_MAX=2`` when there is a memory limit, unless jemalloc (or
  another allocator) is preloaded or ``GLIBC_TUNABLES`` sets it: glibc makes
  up to 8 arenas per *host* core and threaded servers bloat with them
  (Heroku's Ruby buildpack default).
* ``WEB_CONCURRENCY`` for puma and unicorn (``puma``, ``bundle exec puma``,
  ``rails server``; ``CGROUPSIZE_WORKERS=always`` for any program):
  ``max(1, min(CPUs, limit // worker memory))``: one worker per CPU (the
  Rails puma.rb template), worker memory ``CGROUPSIZE_WORKER_MEMORY`` (384Mi:
  Heroku's Ruby sizes give 256-384 MB per worker). Not ``auto``: Puma's own
  ``auto`` truncates a fractional quota (1.5 -> 1, 0.5 -> 0) and reads only
  the root cgroup.
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.processes import arenas_plan, workers_plan
from cgroupsize.units import MiB

WORKER_MEMORY = 384 * MiB
CPU_TERM = (1, 0)  # workers = CPUs


def plan(p: Plan, target: Target, limits: Limits) -> None:
    arenas_plan(p, limits)
    workers_plan(p, target, limits, WORKER_MEMORY, CPU_TERM)
