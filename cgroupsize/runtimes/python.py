"""CPython: CPU count, numeric thread pools, worker processes, malloc arenas.

CPython has no heap to cap; what goes wrong in containers is parallelism
sized from the host: ``os.cpu_count()`` counts host
CPUs, OpenBLAS/OpenMP/MKL start one thread per host CPU in every process
(OpenBLAS#6059, oneTBB#190: 20 s instead of 2), and gunicorn defaults to one
worker. The plan; each variable only if the user has not
set it:

* ``WEB_CONCURRENCY`` for gunicorn and uvicorn (``python -m gunicorn``,
  the ``gunicorn`` script; ``CGROUPSIZE_WORKERS=always`` for any program):
  ``max(1, min(cpu term, limit // worker memory))`` with the cpu term
  ``2 x CPUs + 1`` for gunicorn (its docs; Heroku's Python buildpack) and
  ``CPUs`` for uvicorn (one event loop per CPU); worker memory
  ``CGROUPSIZE_WORKER_MEMORY`` (256Mi, Heroku's figure). Nothing when there is
  neither a memory limit nor a CPU bound (we would only repeat the host).
* the thread pools of numeric libraries, ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMEXPR_NUM_THREADS``,
  ``BLIS_NUM_THREADS`` = ``max(1, floor(CPUs / processes))``: the quota
  shared among the worker processes (``CGROUPSIZE_PROCESSES`` or the worker
  count), set when that is below the host's CPUs. Rounded down by default:
  spinning OpenMP/OpenBLAS threads suffer most when the host is busy or the
  quota throttles (a numpy request loop with 2 threads took 3-4.5x as long
  as with 1 under 0.5-2 CPU quotas on a loaded 2-CPU host).
  ``CGROUPSIZE_THREAD_ROUNDING=ceil`` rounds up instead, for every one of
  these variables (the choice Go 1.25 made for GOMAXPROCS and automaxprocs'
  users ask for: automaxprocs#13, #78, #79; golang/go#76835).
* ``PYTHON_CPU_COUNT`` (read by Python 3.13+; ``-X cpu_count`` on the
  command line wins) and ``LOKY_MAX_CPU_COUNT`` (joblib) = our CPU count,
  when it is below the host's.
* ``MALLOC_ARENA_MAX=2`` when there is a memory limit (glibc makes up to 8
  arenas per *host* core; Heroku's default), unless another allocator is
  preloaded (jemalloc, tcmalloc, mimalloc) or ``GLIBC_TUNABLES`` sets it.
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import cpu_text
from cgroupsize.runtimes.processes import arenas_plan, cpu_bounded, cpus_float, workers_plan
from cgroupsize.units import MiB

WORKER_MEMORY = 256 * MiB  # Heroku's Python buildpack: one worker per 256 MB
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "BLIS_NUM_THREADS")


def pool_size(cpus: float, workers: int, rounding: str) -> int:
    """Threads per process: the CPUs shared among ``workers``, rounded ``floor`` or ``ceil``, at least 1."""
    share = cpus / workers
    whole = int(share + 1e-9)
    if rounding == "ceil" and share - whole > 1e-9:
        whole += 1
    return max(1, whole)


def threads_plan(p: Plan, argv: list[str], limits: Limits, workers: int) -> None:
    """Thread pools, PYTHON_CPU_COUNT, LOKY_MAX_CPU_COUNT."""
    host = limits.cpu.host.value
    rounding = p.settings.thread_rounding or "floor"
    per_process = pool_size(cpus_float(limits), workers, rounding)
    share = f" shared by {workers} processes" if workers > 1 else ""
    if (host is not None and per_process < host) or (host is None and (cpu_bounded(limits) or workers > 1)):
        how = "rounded down" if rounding == "floor" else "rounded up (CGROUPSIZE_THREAD_ROUNDING=ceil)"
        why = (f"{round(cpus_float(limits), 3):g} CPUs{share}, {how} ({cpu_text(limits)}); "
               "numeric libraries start one thread per host CPU otherwise")
        for name in THREAD_VARS:
            p.set_unless_user(name, str(per_process), why, "limit")
    else:
        p.none("OMP_NUM_THREADS", "no CPU bound below the host's", "thread-pool variables")
    if cpu_bounded(limits):
        count = str(limits.cpu_count)
        if _x_option(argv, "cpu_count"):
            p.decide("PYTHON_CPU_COUNT", "left", None, "-X cpu_count is on the command line", "user")
        else:
            p.set_unless_user("PYTHON_CPU_COUNT", count, f"os.cpu_count() on Python 3.13+: {cpu_text(limits)}",
                              "limit")
        p.set_unless_user("LOKY_MAX_CPU_COUNT", count, f"joblib/loky: {cpu_text(limits)}", "limit")


def _x_option(argv: list[str], name: str) -> bool:
    """Whether ``python -X name[=...]`` is among the interpreter's options."""
    args = argv[1:]
    for i, a in enumerate(args):
        if not a.startswith("-") or a in ("-c", "-m") or a.startswith(("-c", "-m")):
            return False
        value = args[i + 1] if a == "-X" and i + 1 < len(args) else a[2:] if a.startswith("-X") else None
        if value is not None and value.split("=", 1)[0] == name:
            return True
    return False


def plan(p: Plan, target: Target, limits: Limits) -> None:
    workers = workers_plan(p, target, limits, WORKER_MEMORY)
    threads_plan(p, p.argv if target.how == "direct" else [], limits, p.settings.processes or workers)
    arenas_plan(p, limits)
