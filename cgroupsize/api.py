"""Convenience functions for application start-up code and supervisors."""
from __future__ import annotations

import os


def cpu_count(root: str = "/") -> int:
    """A cgroup-aware ``os.cpu_count()``: CPUs this process can really keep busy.

    The minimum of the CPU quota (rounded up), the cgroup's cpuset, the
    process's affinity and the online CPUs; at least 1. Never derived from
    CPU shares or weights (Kubernetes requests), which are not limits.
    """
    from cgroupsize.cgroups.detect import read_limits

    return read_limits(root).cpu_count


def memory_limit(root: str = "/") -> int | None:
    """The tightest hard memory limit on this process's cgroup, in bytes.

    None when there is no limit (or none below the host's memory), or when it
    cannot be told; ``read_limits(root).memory_state`` says which.
    """
    from cgroupsize.cgroups.detect import read_limits

    return read_limits(root).memory_limit


def _resolve(env, overrides) -> dict:
    from cgroupsize.settings import resolve

    return resolve(env, overrides, where=lambda setting: f"{setting.name}=")


def _limits(values):
    from cgroupsize.cgroups.detect import read_limits

    limits = read_limits()
    limits.override_from(values)
    return limits


def plan(argv, env=None, limits=None, **settings):
    """What cgroupsize would exec for ``argv``: a :class:`cgroupsize.planner.Plan`.

    For a supervisor that starts runtimes itself::

        p = cgroupsize.plan(["java", "-jar", "worker.jar"])
        subprocess.Popen(p.argv, env=p.env)

    ``env`` is the environment the command would get (default: a copy of
    ``os.environ``; never modified); its ``CGROUPSIZE_*`` variables are the
    settings, and keyword arguments override them by name (``runtime="jvm"``,
    ``jvm_threads=250``, ``memory_limit="512Mi"``, ``skip="MALLOC_ARENA_MAX"``;
    strings are parsed as the variables are, other values used as given).
    ``limits`` defaults to this process's cgroup limits, with the
    ``memory_limit``/``cpu_limit`` settings applied over them.

    ``plan.argv``/``plan.env`` are complete; ``plan.added`` and ``plan.flags``
    are what cgroupsize added, ``plan.notes`` why, ``plan.warnings`` what
    deserves attention. A bad setting raises :class:`cgroupsize.settings.SettingError`;
    nothing found in /proc or /sys ever raises.
    """
    from cgroupsize.planner import make_plan

    env = dict(os.environ if env is None else env)
    values = _resolve(env, settings)
    if limits is None:
        limits = _limits(values)
    return make_plan(list(argv), env, limits, values)


def apply(limits=None, **settings) -> dict:
    """Apply the Python plan to this process: call it first thing at start-up.

    Sets in ``os.environ``, never over a value already there, what
    ``cgroupsize python ...`` would set: the numeric libraries' thread pools
    (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ...;
    they take effect if numpy, scipy, torch and friends are imported *after*
    this call), ``PYTHON_CPU_COUNT``, ``LOKY_MAX_CPU_COUNT``,
    ``MALLOC_ARENA_MAX`` and ``WEB_CONCURRENCY`` (those last ones reach the
    processes this one starts: this interpreter and its malloc have already
    read theirs), and the ``CONTAINER_*`` figures. Returns::

        {"workers": 3,          # worker processes for a web server (>= 1)
         "env": {...},          # the variables this call set
         "notes": [...],        # why, one line each
         "warnings": [...]}

    ``workers`` is the ``WEB_CONCURRENCY`` figure: the user's if set, else
    ``min(2 x CPUs + 1, memory limit / 256Mi)``, at least 1, and 1 when the
    container has neither a memory limit nor a CPU limit (gunicorn's own
    default). In a ``gunicorn.conf.py``::

        import cgroupsize
        workers = cgroupsize.apply()["workers"]

    Keyword arguments are settings, as for :func:`plan` (``worker_memory="512Mi"``,
    ``python=False``...). A bad setting raises SettingError; anything else
    goes wrong, nothing is set and the reason is in ``warnings``: start-up
    code is never stopped by this call.
    """
    import sys

    result = {"workers": 1, "env": {}, "notes": [], "warnings": []}
    try:
        settings.setdefault("runtime", "python")
        settings.setdefault("workers", "always")
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
        p = plan(argv, env=dict(os.environ), limits=limits, **settings)
    except Exception as exc:
        from cgroupsize.settings import SettingError

        if isinstance(exc, SettingError):
            raise
        result["warnings"].append(f"cgroupsize.apply: nothing set ({type(exc).__name__}: {exc})")
        return result
    for name, value in p.added.items():
        if name not in os.environ:
            os.environ[name] = value
            result["env"][name] = value
    user = os.environ.get("WEB_CONCURRENCY", "").strip()
    result["workers"] = p.workers or (int(user) if user.isdigit() and int(user) > 0 else 1)
    result["notes"] = list(p.notes)
    result["warnings"] = list(p.warnings)
    return result
