"""Where each controller lives: mountinfo + /proc/self/cgroup -> a :class:`Location` per controller.

Accounts for:

- v1, v2 and hybrid hosts, decided per controller: a controller bound to a v1
  hierarchy is v1 (the kernel binds each controller to one hierarchy only);
  otherwise v2 if a ``cgroup2`` mount lists it in ``cgroup.controllers``.
  Not ``statfs``: fixture trees must work, and a hybrid host's controller-less
  unified mount must not be taken for v2 (JDK-8245543).
- mount points from mountinfo, never assumed; duplicate mounts resolved in
  favour of the one under ``/sys/fs/cgroup`` (JDK-8293472).
- the cgroup path made relative to the mount's root on component boundaries
  (moby#34584, envoy#47321); outside the root, with ``..``, or gone by the
  time we look, the mount point is read instead and the location is marked
  approximate (JDK-8343191).
- cost that does not grow with the host: the mounts under /sys/fs/cgroup are
  parsed first; a 10,000-line mountinfo (a Kubernetes node lists every
  container's mounts) is parsed whole only when they leave a question open.
"""
from __future__ import annotations

import posixpath

from cgroupsize.cgroups import mountinfo, proccgroup
from cgroupsize.files import Files
from cgroupsize.model import APPROXIMATE_PATH, NO_CGROUP, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

    from cgroupsize.cgroups.mountinfo import Mount

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"
PREFERRED = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "cpu", "cpuset")
_V1_RELEVANT = ("memory", "cpu", "cpuacct", "cpuset")


class Location(Record):
    """Where one controller lives: version, mount point, our directory under it, and whether
    that directory is only approximate (the mount point read in its place)."""

    __slots__ = ("version", "mount_point", "dir", "approximate")
    DEFAULTS = {"approximate": False}
    version: str
    mount_point: str
    dir: str
    approximate: bool

    def chain(self) -> Iterator[str]:
        """Directories from ours up to and including the mount point."""
        d = self.dir
        # rstrip: with a mount point of "" or "/" (a malformed mountinfo line),
        # ``mount_point + "/"`` would be "/" or "//": the first never stops
        # matching and dirname("/") is "/" -- an endless walk.
        prefix = self.mount_point.rstrip("/") + "/"
        while d != self.mount_point and d.startswith(prefix):
            yield d
            parent = posixpath.dirname(d)
            if parent == d:
                break
            d = parent
        yield self.mount_point


def locate(files: Files) -> dict[str, Location | None]:
    """``{controller: Location | None}`` for memory, cpu and cpuset."""
    text = files.read(MOUNTINFO)
    if text is None:
        files.notice(NO_CGROUP, f"cannot read {MOUNTINFO}: cgroup limits unknown")
        return dict.fromkeys(CONTROLLERS)
    cg_text = files.read(PROC_CGROUP)
    if cg_text is None:
        files.notice(NO_CGROUP, f"cannot read {PROC_CGROUP}: using the cgroup mount roots")
        cg_text = ""
    paths = proccgroup.parse(cg_text)
    quick = files.scoped()  # its notices count only if the quick answer stands
    result = _resolve(quick, mountinfo.parse(text, under=PREFERRED), paths)
    if result is not None:
        files.notices.extend(quick.notices)
        return result
    return _resolve(files, mountinfo.parse(text), paths, complete=True) or dict.fromkeys(CONTROLLERS)


def _resolve(files: Files, mounts: list[Mount], paths: tuple[str | None, dict[str, str]],
             complete: bool = False) -> dict[str, Location | None] | None:
    """Locations from ``mounts``; None when an incomplete list cannot answer for sure."""
    unified_path, v1_paths = paths
    v1_mounted = any(m.fstype == "cgroup" and set(m.super_options) & set(_V1_RELEVANT) for m in mounts)
    unified = _prefer([m for m in mounts if m.fstype == "cgroup2"])
    offered: set[str] | str | None = None
    if unified is not None:
        line = files.read_line(posixpath.join(unified.mount_point, "cgroup.controllers"))
        if line is None and not v1_mounted and not complete:
            return None  # whether v1 is mounted elsewhere decides: look at every mount
        # Without cgroup.controllers, a host with no v1 controllers is pure v2.
        offered = set(line.split()) if line is not None else (None if v1_mounted else "all")
    result: dict[str, Location | None] = {}
    for controller in CONTROLLERS:
        v1 = _prefer([m for m in mounts if m.fstype == "cgroup" and controller in m.super_options])
        if v1 is not None:
            result[controller] = _map(files, "v1", v1, v1_paths.get(controller), controller)
        elif unified is not None and (offered == "all" or (offered and controller in offered)):
            result[controller] = _map(files, "v2", unified, unified_path, controller)
        elif not complete:
            return None  # it may be mounted outside /sys/fs/cgroup
        else:
            result[controller] = None
    return result


def _prefer(candidates: list[Mount]) -> Mount | None:
    """The mount under /sys/fs/cgroup if there is one, else the first (JDK-8293472)."""
    for m in candidates:
        if m.mount_point == PREFERRED or m.mount_point.startswith(PREFERRED + "/"):
            return m
    return candidates[0] if candidates else None


def _map(files: Files, version: str, mount: Mount, path: str | None, controller: str) -> Location | None:
    """Our directory for ``controller`` under ``mount``; the mount point, approximate, where it is not visible.

    The directory can be gone by the time we read it (the process was moved
    and its old cgroup removed), or a mountinfo line can name a mount point
    the root does not have: every limit file would then be "missing", which
    reads as "no limit" -- a confident wrong answer. One stat in the usual
    case: our directory existing implies its mount point does.
    """
    rel = relative(path, mount.root) if path is not None else None
    if rel is None:
        files.notice(APPROXIMATE_PATH, f"{controller}: our cgroup {path!r} is not visible under the {version} "
                     f"mount {mount.mount_point} (root {mount.root!r}); read the mount point instead, so the "
                     "figure is approximate", controller)
    elif rel != "/":
        directory = posixpath.join(mount.mount_point, rel.lstrip("/"))
        if files.is_dir(directory):
            return Location(version, mount.mount_point, directory)
        files.notice(APPROXIMATE_PATH, f"{controller}: our cgroup directory {directory} does not exist (any "
                     f"more); read the mount point {mount.mount_point} instead, so the figure is approximate",
                     controller)
    if not files.is_dir(mount.mount_point):
        files.notice(NO_CGROUP, f"{controller}: the {version} mount point {mount.mount_point} "
                     "listed in mountinfo is not a readable directory", controller)
        return None
    return Location(version, mount.mount_point, mount.mount_point, rel != "/")


def relative(path: str, root: str) -> str | None:
    """``path`` relative to the mount ``root`` on a component boundary, or None.

    ``/docker/abc/sub`` under root ``/docker/abc`` is ``/sub``; under root
    ``/docker/ab`` it is not under the root at all.
    """
    if ".." in path.split("/") or ".." in root.split("/"):
        return None
    root = root.rstrip("/")
    if not root:
        return path
    if path == root:
        return "/"
    if path.startswith(root + "/"):
        return path[len(root):]
    return None
