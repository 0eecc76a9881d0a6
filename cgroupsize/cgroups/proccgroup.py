"""``/proc/self/cgroup`` (cgroups(7)): which cgroup the process is in, per hierarchy.

Each line is ``hierarchy-ID:controller-list:cgroup-path`` and is split into
exactly three fields: containerd's systemd-driver paths contain colons
(``…slice:cri-containerd:86ac…``, JDK-8272124, automaxprocs#31). On v2 only
the ``0::`` line counts; a stray v1 line (``1:freezer:/``) must not confuse it
(JDK-8287107).
"""
from __future__ import annotations

# The kernel prints a cgroup path into a PATH_MAX buffer (kernel/cgroup/cgroup.c, proc_cgroup_show):
# a longer one is not real, and walking its levels would cost time and memory without end.
PATH_MAX = 4096


def parse(text: str) -> tuple[str | None, dict[str, str]]:
    """Return ``(unified_path, {controller: path})``; ``unified_path`` is None without a ``0::`` line."""
    unified = None
    v1 = {}
    for line in text.split("\n"):
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/") or len(parts[2]) > PATH_MAX:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            unified = path
            continue
        for c in controllers.split(","):
            if c and not c.startswith("name="):
                v1[c] = path
    return unified, v1
