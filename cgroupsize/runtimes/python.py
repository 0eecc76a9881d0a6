"""CPython: CPU count, numeric thread pools, worker processes, malloc arenas.

CPython has no heap to cap; what goes wrong in containers is parallelism
sized from the host (research/sizing.md §4): ``os.cpu_count()`` counts host
CPUs, OpenBLAS/OpenMP/MKL start one thread per host CPU in every process
(OpenBLAS#6059, oneTBB#190: 20 s instead of 2), and gunicorn defaults to one
worker. The plan (sizing.md §4(e)); each variable only if the user has not
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
  ``BLIS_NUM_THREADS`` = ``max(1, floor(CPUs / workers))``: the quota itself
  (not rounded up: spinning OpenMP threads suffer most from throttling),
  shared among the worker processes; set when that is below the host's CPUs.
* ``PYTHON_CPU_COUNT`` (read by Python 3.13+; ``-X cpu_count`` on the
  command line wins) and ``LOKY_MAX_CPU_COUNT`` (joblib) = our CPU count,
  when it is below the host's.
* ``MALLOC_ARENA_MAX=2`` when there is a memory limit (glibc makes up to 8
  arenas per *host* core; Heroku's default), unless another allocator is
  preloaded (jemalloc, tcmalloc, mimalloc) or ``GLIBC_TUNABLES`` sets it.
"""
from cgroupsize.planner import Plan
from cgroupsize.runtimes.common import MiB, cpu_text, fmt_size, limit_text, left_alone, user_set

WORKER_MEMORY = 256 * MiB  # Heroku's Python buildpack: one worker per 256 MB
CPU_TERM = {"gunicorn": (2, 1), "uvicorn": (1, 0)}  # workers = a x CPUs + b
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "BLIS_NUM_THREADS")
ARENAS = "2"  # MALLOC_ARENA_MAX (Heroku's Ruby and Python default)
OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")


def cpus_float(limits) -> float:
    """The CPUs this process may use, not rounded: the quota when it binds, else the count."""
    q = limits.cpu_quota.value
    return min(q, limits.cpu_count) if q else float(limits.cpu_count)


def cpu_bounded(limits) -> bool:
    """Whether our CPU figure is below what a library reading the host would use."""
    return limits.cpu_source is not None


def web_concurrency(limits, server, worker_memory, default_term=(2, 1)):
    """``(workers, why)`` from CPUs and memory, or ``(None, why)`` when there is no limit at all."""
    mem = limits.memory_limit
    if mem is None and not cpu_bounded(limits):
        return None, "neither a memory limit nor a CPU bound"
    a, b = CPU_TERM.get(server, default_term)
    count = limits.cpu_count
    cpu = f"{a} x {count} CPUs + {b}" if b else f"{count} CPUs" if a == 1 else f"{a} x {count} CPUs"
    by_cpu = a * count + b
    if mem is None:
        return max(1, by_cpu), f"{cpu} = {by_cpu} ({cpu_text(limits)}; no memory limit)"
    by_mem = mem // worker_memory
    workers = max(1, min(by_cpu, by_mem))
    return workers, (f"min({cpu} = {by_cpu}, {limit_text(limits)} / {fmt_size(worker_memory)} per worker "
                     f"= {by_mem}), at least 1 ({cpu_text(limits)})")


def user_workers(argv, env):
    """Worker count the user gave gunicorn/uvicorn (``-w N``, ``--workers N``), else None."""
    for i, a in enumerate(argv):
        value = None
        if a in ("-w", "--workers") and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--workers="):
            value = a.split("=", 1)[1]
        elif a.startswith("-w") and a[2:].isdigit():
            value = a[2:]
        if value is not None and value.strip().isdigit():
            return int(value)
    for t in env.get("GUNICORN_CMD_ARGS", "").split():
        if t.startswith("--workers=") and t[10:].isdigit():
            return int(t[10:])
    return None


def allocator_preloaded(env) -> str | None:
    preload = env.get("LD_PRELOAD", "")
    for name in OTHER_ALLOCATORS:
        if name in preload:
            return name
    return None


def set_unless_user(p, settings, name, value, why) -> bool:
    """Set ``name`` unless skipped or the user's; ``why`` None: the caller writes the note."""
    if left_alone(p, settings, name, user_set(p.env, name)):
        return False
    p.set_env(name, value, why)
    return True


def workers_plan(p, target, argv, limits, settings, default_memory, cpu_term=(2, 1)) -> int:
    """WEB_CONCURRENCY (Python and Ruby alike); returns the worker count in effect (>= 1)."""
    mode = settings.get("workers", "auto")
    user = p.env.get("WEB_CONCURRENCY", "").strip()
    if user.isdigit() and int(user) > 0:
        p.workers = int(user)
    if mode == "off":
        p.note("no WEB_CONCURRENCY: CGROUPSIZE_WORKERS is off")
        return p.workers or 1
    if target.server is None and mode != "always":
        return p.workers or 1
    explicit = user_workers(argv[1:], p.env) if target.server else None
    if explicit:
        p.note(f"the worker count is set on the {target.server} command line")
        p.workers = explicit
        return explicit
    worker_memory = settings.get("worker_memory") or default_memory
    workers, why = web_concurrency(limits, target.server, worker_memory, cpu_term)
    if workers is None:
        p.note(f"no WEB_CONCURRENCY: {why}")
        return p.workers or 1
    if set_unless_user(p, settings, "WEB_CONCURRENCY", str(workers), f"workers = {why}"):
        p.workers = workers
    return p.workers or 1


def threads_plan(p, argv, limits, settings, workers: int) -> None:
    """Thread pools, PYTHON_CPU_COUNT, LOKY_MAX_CPU_COUNT."""
    host = limits.host_cpus.value
    per_process = max(1, int(cpus_float(limits) / workers + 1e-9))  # rounded down
    share = f" shared by {workers} workers" if workers > 1 else ""
    if (host is not None and per_process < host) or (host is None and (cpu_bounded(limits) or workers > 1)):
        why = (f"{round(cpus_float(limits), 3):g} CPUs{share}, rounded down ({cpu_text(limits)}); "
               "numeric libraries start one thread per host CPU otherwise")
        done = [name for name in THREAD_VARS
                if set_unless_user(p, settings, name, str(per_process), None)]
        if done:
            p.note(f"{', '.join(done)}={per_process}: {why}")
    else:
        p.note("no thread-pool variables: no CPU bound below the host's")
    if cpu_bounded(limits):
        count = str(limits.cpu_count)
        if _x_option(argv, "cpu_count"):
            p.note("left PYTHON_CPU_COUNT alone: -X cpu_count is on the command line")
        else:
            set_unless_user(p, settings, "PYTHON_CPU_COUNT", count,
                            f"os.cpu_count() on Python 3.13+: {cpu_text(limits)}")
        set_unless_user(p, settings, "LOKY_MAX_CPU_COUNT", count, f"joblib/loky: {cpu_text(limits)}")


def arenas_plan(p, limits, settings) -> None:
    if limits.memory_limit is None:
        p.note(f"no MALLOC_ARENA_MAX: memory limit {limits.memory_state}")
        return
    other = allocator_preloaded(p.env)
    if other:
        p.note(f"no MALLOC_ARENA_MAX: {other} is preloaded (LD_PRELOAD)")
        return
    if "glibc.malloc.arena_max" in p.env.get("GLIBC_TUNABLES", ""):
        p.note("left MALLOC_ARENA_MAX alone: the user sets glibc.malloc.arena_max in GLIBC_TUNABLES")
        return
    set_unless_user(p, settings, "MALLOC_ARENA_MAX", ARENAS,
                    f"glibc would make up to 8 malloc arenas per host CPU; {limit_text(limits)}")


def _x_option(argv, name) -> bool:
    """Whether ``python -X name[=...]`` is among the interpreter's options."""
    args = argv[1:]
    for i, a in enumerate(args):
        if not a.startswith("-") or a in ("-c", "-m") or a.startswith(("-c", "-m")):
            return False
        value = args[i + 1] if a == "-X" and i + 1 < len(args) else a[2:] if a.startswith("-X") else None
        if value is not None and value.split("=", 1)[0] == name:
            return True
    return False


def plan(target, argv, env, limits, settings, read_file=None) -> Plan:
    p = Plan("python", argv, env)
    workers = workers_plan(p, target, argv, limits, settings, WORKER_MEMORY)
    threads_plan(p, argv if target.how == "direct" else [], limits, settings, workers)
    arenas_plan(p, limits, settings)
    return p
