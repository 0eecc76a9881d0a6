"""The library: what application start-up code and supervisors call."""
from __future__ import annotations

import os
import sys

from cgroupsize.model import Limits, Plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping


def read_limits(root: str = "/") -> Limits:
    """Memory and CPU limits of this process's cgroup (every figure with its source)."""
    from cgroupsize.cgroups.detect import read_limits as detect

    return detect(root)


def cpu_count(root: str = "/") -> int:
    """A cgroup-aware ``os.cpu_count()``: CPUs this process can really keep busy.

    The minimum of the CPU quota (rounded up), the cgroup's cpuset, the
    process's affinity and the online CPUs; at least 1. Never derived from
    CPU shares or weights (Kubernetes requests), which are not limits.
    """
    return read_limits(root).cpu_count


def memory_limit(root: str = "/") -> int | None:
    """The memory budget of this process's cgroup in bytes: ``min(memory.max, memory.high)``.

    None when there is no limit (or none below the host's memory), or when it
    cannot be told; ``read_limits(root).memory.state`` says which.
    """
    return read_limits(root).memory_limit


def plan(argv: list[str], env: Mapping[str, str] | None = None, limits: Limits | None = None,
         **settings: Any) -> Plan:
    """What cgroupsize would exec for ``argv``: a :class:`cgroupsize.model.Plan`.

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

    ``p.argv``/``p.env`` are complete; ``p.flags`` are the flags cgroupsize
    added and ``p.added`` the variables it set (their full new values),
    ``p.decisions`` every choice with its reason and source (``p.notes`` the
    same as text), ``p.warnings`` what deserves attention. A bad setting
    raises :class:`cgroupsize.settings.SettingError`, ``strict=True`` with a
    problem :class:`cgroupsize.recipe.Refused`; nothing found in /proc or /sys
    ever raises.
    """
    from cgroupsize.recipe import prepare

    env = dict(os.environ if env is None else env)
    return prepare(list(argv), env, settings, where=lambda s: f"{s.name}=", limits=limits)[1]


def apply(limits: Limits | None = None, **settings: Any) -> dict[str, Any]:
    """Apply the Python plan to this process: call it first thing at start-up.

    Sets in ``os.environ``, never over a value already there, what
    ``cgroupsize python ...`` would set: the numeric libraries' thread pools
    (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``...: they take effect for
    numpy, scipy or torch imported *after* this call), ``PYTHON_CPU_COUNT``,
    ``LOKY_MAX_CPU_COUNT``, and for the processes this one starts
    ``MALLOC_ARENA_MAX``, ``WEB_CONCURRENCY`` and the ``CONTAINER_*`` figures.
    Returns ``{"workers": N, "env": {set...}, "notes": [...], "warnings": [...]}``;
    ``workers`` is the ``WEB_CONCURRENCY`` figure (the user's if set), at
    least 1 -- in a ``gunicorn.conf.py``: ``workers = cgroupsize.apply()["workers"]``.

    Keyword arguments are settings, as for :func:`plan`. A bad setting raises
    SettingError; anything else that goes wrong sets nothing and is reported in
    ``warnings``: start-up code is never stopped by this call.
    """
    from cgroupsize.runtimes.processes import whole
    from cgroupsize.settings import SettingError

    result: dict[str, Any] = {"workers": 1, "env": {}, "notes": [], "warnings": []}
    try:
        settings.setdefault("runtime", "python")
        settings.setdefault("workers", "always")
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
        p = plan(argv, env=dict(os.environ), limits=limits, **settings)
    except SettingError:
        raise
    except Exception as exc:
        result["warnings"].append(f"cgroupsize.apply: nothing set ({type(exc).__name__}: {exc})")
        return result
    for name, value in p.added.items():
        if name not in os.environ:
            os.environ[name] = value
            result["env"][name] = value
    result["workers"] = p.workers or whole(os.environ.get("WEB_CONCURRENCY")) or 1
    result["notes"] = p.notes
    result["warnings"] = list(p.warnings)
    return result
