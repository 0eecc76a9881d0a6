"""cgroupsize: make language runtimes fit the container they run in.

The public API (imported on first use, so that ``cgroupsize CMD`` stays fast):

- :func:`read_limits` -- the memory and CPU limits of this process's cgroup.
- :func:`cpu_count` -- a cgroup-aware ``os.cpu_count()``.
- :func:`memory_limit` -- the memory budget in bytes, or ``None``.
- :func:`plan` -- the argv and environment cgroupsize would exec.
- :func:`apply` -- apply the Python plan to the running interpreter.
- :class:`Limits`, :class:`Plan`, :class:`Value`, :class:`Decision` -- the data model.
- :class:`SettingError`, :class:`Refused` -- a bad setting; ``--strict`` refusing.
"""
from __future__ import annotations

__version__ = "0.2.0"

__all__ = ["read_limits", "cpu_count", "memory_limit", "plan", "apply", "Limits", "Plan", "Value",
           "Decision", "SettingError", "Refused"]

_LAZY = {
    "read_limits": "cgroupsize.api",
    "cpu_count": "cgroupsize.api",
    "memory_limit": "cgroupsize.api",
    "plan": "cgroupsize.api",
    "apply": "cgroupsize.api",
    "Limits": "cgroupsize.model",
    "Plan": "cgroupsize.model",
    "Value": "cgroupsize.model",
    "Decision": "cgroupsize.model",
    "SettingError": "cgroupsize.settings",
    "Refused": "cgroupsize.recipe",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cgroupsize' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
