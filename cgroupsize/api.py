"""Convenience functions for application start-up code."""
from __future__ import annotations


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
