"""cgroupsize: make language runtimes fit the container they run in.

Public API (imported lazily so that ``cgroupsize CMD`` stays fast):

- :func:`read_limits` -- the memory and CPU limits of this process's cgroup.
- :func:`cpu_count` -- a cgroup-aware ``os.cpu_count()``.
- :func:`memory_limit` -- the hard memory limit in bytes, or ``None``.
- :func:`plan` -- the argv and environment cgroupsize would exec.
- :func:`apply` -- apply the Python plan to the running interpreter.
"""

__version__ = "0.1.0"

__all__ = ["read_limits", "cpu_count", "memory_limit", "plan", "apply", "Limits", "Plan"]

_LAZY = {
    "read_limits": "cgroupsize.cgroups.detect",
    "cpu_count": "cgroupsize.api",
    "memory_limit": "cgroupsize.api",
    "plan": "cgroupsize.api",
    "apply": "cgroupsize.api",
    "Limits": "cgroupsize.limits",
    "Plan": "cgroupsize.planner",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cgroupsize' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
