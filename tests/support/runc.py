"""Run a command as the process of a real OCI container, with real cgroup limits.

There is no Docker engine on the machines this project is tested on, but
there is ``runc`` and a writable cgroup v1 hierarchy. :class:`RuncHarness`
builds an OCI bundle from scratch in a temporary directory and runs
``runc run`` on it, non-interactively and with a timeout:

- the rootfs is an empty directory; the host's ``/usr``, ``/etc`` (and
  ``/bin``, ``/lib``... as bind mounts, or as the same symlinks when the host
  has merged ``/usr``) are mounted read-only, so ``sh``, ``java`` and ``node``
  are the host's;
- this interpreter's prefix (``sys.base_prefix``, ``sys.prefix``, any
  site-packages outside them) and the repository checkout are mounted
  read-only at their own paths, ``PATH`` starts with this interpreter's
  ``bin`` directory and ``PYTHONPATH`` is the checkout, so ``python3 -m
  cgroupsize`` inside the container runs this working tree. Directories on
  the way to those mount points are created in the rootfs with mode 755:
  ``/root`` is 700 on the host and the process may run as uid 65534;
- ``/proc``, ``/sys`` (ro), ``/sys/fs/cgroup`` (the ``cgroup`` mount, ro),
  ``/dev``, ``/dev/shm`` and a ``/tmp`` tmpfs, as a container engine does;
- limits: memory, CFS quota/period, cpuset; ``cgroupsPath`` is
  ``/<name>`` or ``/<parent>/<name>`` under a parent made with
  :meth:`RuncHarness.parent_cgroup` (with its own limits); optionally a
  private cgroup namespace; any uid/gid, env and args.

Cleanup is unconditional (:meth:`RuncHarness.cleanup`, called by the
``runc_harness`` fixture even when the test fails or the container timed
out): ``runc delete -f`` for every container started, then ``rmdir`` of every
cgroup directory the container or the test created, deepest first, in every
cgroup hierarchy mounted on the host (memory, cpu, cpuacct, cpuset, pids,
name=systemd, the v2 ``unified`` tree of a hybrid host...). All names are
``cgroupsize-test-runc-<pid>-<n>``; :func:`remove_stale` clears what a killed
test run left behind.

Usage::

    from tests.support.runc import runc_harness, skip_reason  # the fixture

    @pytest.mark.runc
    @pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
    def test_x(runc_harness):
        r = runc_harness.run(["cat", "/proc/self/cgroup"], memory=256 << 20)
        assert r.returncode == 0, r
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support import REPO  # the checkout the containers run

PREFIX = "cgroupsize-test-runc-"  # tests/support/cgroups.py uses cgroupsize-test-<pid>-<n>
CGROUP_ROOT = "/sys/fs/cgroup"
DEFAULT_TIMEOUT = 60.0
HOST_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_counter = itertools.count(1)


# -- can we run at all? ---------------------------------------------------------


def runc_binary() -> str | None:
    return shutil.which("runc") or next(
        (p for p in ("/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc")
         if os.access(p, os.X_OK)), None)


def cgroup_mounts() -> dict[str, str]:
    """Mounted cgroup hierarchies: ``{name: mount point}`` from /proc/self/mountinfo.

    v1 hierarchies are named by their controllers (``"cpu"``, ``"cpu,cpuacct"``,
    ``"name=systemd"``); a v2 mount is named ``""``. Only the first mount of
    each hierarchy counts.
    """
    found: dict[str, str] = {}
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields, post_fields = pre.split(), post.split()
        if len(fields) < 5 or len(post_fields) < 3:
            continue
        fstype, opts = post_fields[0], post_fields[2].split(",")
        point = fields[4].replace("\\040", " ")
        if fstype == "cgroup":
            name = ",".join(o for o in opts if o not in _MOUNT_OPTS)
        elif fstype == "cgroup2":
            name = ""
        else:
            continue
        found.setdefault(name, point)
    return found


_MOUNT_OPTS = {"rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime",
               "strictatime", "clone_children", "noprefix", "xattr", "cpuset_v2_mode"}


def controller_dir(controller: str) -> str | None:
    """Mount point of the v1 hierarchy carrying ``controller`` (e.g. ``"memory"``)."""
    for name, point in cgroup_mounts().items():
        if controller in name.split(","):
            return point
    return None


def skip_reason() -> str | None:
    """Why the runc tests cannot run here, or None when they can."""
    if sys.platform != "linux":
        return "runc tests need Linux"
    if os.geteuid() != 0:
        return "runc tests need root (they create cgroups and containers)"
    if runc_binary() is None:
        return "runc tests need the runc binary (apt-get install runc)"
    memory, cpu = controller_dir("memory"), controller_dir("cpu")
    if memory is None or cpu is None:
        return ("runc tests need cgroup v1 memory and cpu hierarchies "
                f"(found: {sorted(cgroup_mounts()) or 'none'})")
    for d in (memory, cpu):
        if not os.access(d, os.W_OK) or os.statvfs(d).f_flag & os.ST_RDONLY:
            return f"runc tests need a writable cgroupfs ({d} is read-only)"
    return None


# -- results ----------------------------------------------------------------------


class Result:
    """What a container run produced."""

    def __init__(self, container_id, args, returncode, stdout, stderr, timed_out, cgroups_path):
        self.id = container_id
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.cgroups_path = cgroups_path

    def __iter__(self):  # rc, out, err = harness.run(...)
        return iter((self.returncode, self.stdout, self.stderr))

    def json(self):
        """stdout parsed as JSON, with the whole run in the error if it is not."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stdout is not JSON ({e}):\n{self}") from None

    def __repr__(self):
        return (f"<container {self.id} {self.args!r}: exit {self.returncode}"
                f"{' (timed out)' if self.timed_out else ''}>\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")

    __str__ = __repr__


# -- the harness ------------------------------------------------------------------


class RuncHarness:
    """Builds bundles, runs containers, and removes everything it made.

    ``state_root`` is runc's ``--root`` (None: runc's default, /run/runc, so that
    a leaked container shows in a plain ``runc list``).
    """

    def __init__(self, workdir, state_root=None):
        self.workdir = Path(workdir)
        self.state_root = str(state_root) if state_root else None
        self.runc = runc_binary()
        self._containers: list[str] = []
        self._cgroups: list[str] = []  # relative paths, parents before children

    # names and cgroups

    def new_name(self) -> str:
        return f"{PREFIX}{os.getpid()}-{next(_counter)}"

    def parent_cgroup(self, memory=None, cpu_quota=None, cpu_period=100_000, cpus=None):
        """Create a cgroup to nest containers under, with its own limits.

        ``memory`` in bytes; ``cpu_quota``/``cpu_period`` in microseconds;
        ``cpus`` a cpuset list. The directory is created in every mounted v1
        hierarchy (as runc does, so a container can be nested under it in all
        of them) and removed by :meth:`cleanup`. Returns its name.
        """
        name = self.new_name()
        self._cgroups.append(name)
        for hierarchy, point in cgroup_mounts().items():
            if hierarchy == "":
                continue  # the hybrid host's controller-less v2 tree: runc handles it
            path = os.path.join(point, name)
            os.mkdir(path)
            if "cpuset" in hierarchy.split(","):
                # A new v1 cpuset starts empty and cannot take tasks: copy the parent.
                for f in ("cpuset.cpus", "cpuset.mems"):
                    _write(os.path.join(path, f), _read(os.path.join(point, f)))
        if memory is not None:
            _write(os.path.join(controller_dir("memory"), name, "memory.limit_in_bytes"), memory)
        if cpu_quota is not None:
            cpu = os.path.join(controller_dir("cpu"), name)
            _write(os.path.join(cpu, "cpu.cfs_period_us"), cpu_period)
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), cpu_quota)
        if cpus is not None:
            _write(os.path.join(controller_dir("cpuset"), name, "cpuset.cpus"), cpus)
        return name

    # bundles

    def mounts_for_python(self) -> list[str]:
        """Host directories the container needs to run this interpreter and the repo."""
        wanted = {sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)), str(REPO)}
        for p in site.getsitepackages() + [site.getusersitepackages()]:
            if os.path.isdir(p):
                wanted.add(p)
        for p in sys.path:  # .pth and editable installs outside the prefix
            if p and os.path.isdir(p) and not _under_any(
                    os.path.realpath(p), [tempfile.gettempdir(), str(self.workdir)]):
                wanted.add(os.path.realpath(p))
        outside = [p for p in wanted if not _under_any(p, HOST_DIRS)]
        # Keep the outermost: a path below another one is already mounted.
        return sorted(p for p in outside if not _under_any(p, [q for q in outside if q != p]))

    def bundle(self, name, args, *, memory=None, cpu_quota=None, cpu_period=None,
               cpus=None, parent=None, cgroupns=False, uid=0, gid=0, env=None,
               cwd="/", cgroup_mount="runc", extra_mounts=(), rootfs_readonly=True):
        """Write ``<workdir>/<name>/config.json`` and the rootfs; return the bundle dir.

        ``cgroup_mount``: ``"runc"`` is the ``cgroup`` mount every engine uses
        (on v1 each hierarchy shows only the container's own cgroup; with a
        cgroup namespace, a fresh cgroupfs rooted there); ``"host"``
        bind-mounts the host's whole ``/sys/fs/cgroup`` read-only, so the
        container's ancestors are visible (a systemd-slice-like layout);
        ``None`` mounts no cgroupfs at all.
        """
        bundle = self.workdir / name
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        mounts = [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
        ]
        if cgroup_mount == "runc":
            mounts.append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                           "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
        elif cgroup_mount == "host":
            # One read-only bind per hierarchy (an "rbind,ro" of /sys/fs/cgroup
            # would leave the submounts writable; "rro" needs Linux 5.12).
            mounts.append({"destination": CGROUP_ROOT, "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "noexec", "nodev", "mode=755", "size=64k"]})
            for point in sorted(cgroup_mounts().values()):
                mounts.append({"destination": point, "type": "bind", "source": point,
                               "options": ["bind", "ro", "nosuid", "noexec", "nodev"]})
        elif cgroup_mount is not None:
            raise ValueError(f"cgroup_mount: {cgroup_mount!r} (expected 'runc', 'host' or None)")
        for d in HOST_DIRS:
            if os.path.islink(d):  # merged /usr: /bin -> usr/bin
                os.symlink(os.readlink(d), rootfs / d.lstrip("/"))
            elif os.path.isdir(d):
                mounts.append(_bind(d))
        for d in list(self.mounts_for_python()) + list(extra_mounts):
            mounts.append(_bind(d))
        for m in mounts:
            # Make every mount point (and the way to it) exist, world-readable.
            _makedirs_755(rootfs, m["destination"])
        _makedirs_755(rootfs, "/root")  # 700 on the host; HOME for uid 0

        python_bin = os.path.dirname(sys.executable)
        full_env = {
            "PATH": f"{python_bin}:{PATH}",
            "HOME": "/root" if uid == 0 else "/tmp",
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
        }
        full_env.update(env or {})

        resources = {"devices": [{"allow": False, "access": "rwm"}]}
        if memory is not None:
            resources["memory"] = {"limit": int(memory)}
        cpu = {}
        if cpu_quota is not None:
            cpu["quota"] = int(cpu_quota)
            cpu["period"] = int(cpu_period or 100_000)
        elif cpu_period is not None:
            cpu["period"] = int(cpu_period)
        if cpus is not None:
            cpu["cpus"] = str(cpus)
        if cpu:
            resources["cpu"] = cpu
        namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
        if cgroupns:
            namespaces.append({"type": "cgroup"})
        config = {
            "ociVersion": "1.0.2-dev",
            "process": {
                "terminal": False,
                "user": {"uid": int(uid), "gid": int(gid)},
                "args": list(args),
                "env": [f"{k}={v}" for k, v in full_env.items()],
                "cwd": cwd,
                "capabilities": {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                                 for k in ("bounding", "effective", "permitted")},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": True,
            },
            "root": {"path": "rootfs", "readonly": rootfs_readonly},
            "hostname": "cgroupsize-test",
            "mounts": mounts,
            "linux": {
                "cgroupsPath": f"/{parent}/{name}" if parent else f"/{name}",
                "resources": resources,
                "namespaces": namespaces,
                "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                  "/proc/sysrq-trigger"],
            },
        }
        (bundle / "config.json").write_text(json.dumps(config, indent=2))
        return bundle

    # running

    def _runc(self, *args):
        cmd = [self.runc]
        if self.state_root:
            cmd += ["--root", self.state_root]
        return cmd + list(args)

    def run(self, args, *, timeout=DEFAULT_TIMEOUT, **bundle_options) -> Result:
        """Run ``args`` in a new container; return its :class:`Result`.

        Keyword arguments are those of :meth:`bundle`: ``memory`` (bytes),
        ``cpu_quota``/``cpu_period`` (µs), ``cpus`` (cpuset list), ``parent``
        (a name from :meth:`parent_cgroup`), ``cgroupns``, ``uid``, ``gid``,
        ``env``, ``cwd``. The container is deleted before this returns.
        """
        name = self.new_name()
        parent = bundle_options.get("parent")
        cgroups_path = f"{parent}/{name}" if parent else name
        self._cgroups.append(cgroups_path)
        self._containers.append(name)
        bundle = self.bundle(name, args, **bundle_options)
        proc = subprocess.Popen(
            self._runc("run", "--bundle", str(bundle), name),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            subprocess.run(self._runc("kill", name, "KILL"), capture_output=True, timeout=10)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self._delete(name)
        return Result(name, list(args), proc.returncode, out.decode(errors="replace"),
                      err.decode(errors="replace"), timed_out, "/" + cgroups_path)

    def _delete(self, name):
        subprocess.run(self._runc("delete", "-f", name), capture_output=True, timeout=30)

    def cleanup(self):
        """Delete every container and cgroup this harness made. Raises if any remain."""
        problems = []
        for name in reversed(self._containers):
            try:
                self._delete(name)
            except (OSError, subprocess.SubprocessError) as e:
                problems.append(f"runc delete -f {name}: {e}")
        for rel in sorted(set(self._cgroups), key=lambda p: -p.count("/")):
            problems += remove_cgroup(rel)
        self._containers.clear()
        self._cgroups.clear()
        if problems:
            raise RuntimeError("cleanup left things behind:\n" + "\n".join(problems))


# -- cgroup removal -------------------------------------------------------------------


def remove_cgroup(rel: str, attempts: int = 50) -> list[str]:
    """rmdir ``rel`` (and anything below it, deepest first) in every hierarchy.

    Returns what could not be removed. Processes still inside (a container
    runc failed to kill) are sent SIGKILL; EBUSY right after they exit is
    retried for a few seconds.
    """
    problems = []
    for point in cgroup_mounts().values():
        top = os.path.join(point, rel.strip("/"))
        if not os.path.isdir(top):
            continue
        dirs = [top] + [os.path.join(d, s) for d, subs, _ in os.walk(top) for s in subs]
        for d in sorted(dirs, key=lambda p: -p.count("/")):
            for attempt in range(attempts):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or attempt == attempts - 1:
                        problems.append(f"rmdir {d}: {e}")
                        break
                    _kill_procs(d)
                    time.sleep(0.1)
    return problems


def _kill_procs(cgroup_dir):
    try:
        pids = _read(os.path.join(cgroup_dir, "cgroup.procs")).split()
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def leftovers(pid: int | None = None) -> list[str]:
    """Cgroup directories named ``cgroupsize-test-runc-<pid>-*`` (any pid when None)."""
    stem = f"{PREFIX}{pid}-" if pid is not None else PREFIX
    found = []
    for point in cgroup_mounts().values():
        try:
            found += [os.path.join(point, n) for n in os.listdir(point) if n.startswith(stem)]
        except OSError:
            pass
    return sorted(found)


def runc_containers(state_root=None) -> list[str]:
    """IDs of runc containers named ``cgroupsize-test-runc-*``."""
    cmd = [runc_binary()] + (["--root", str(state_root)] if state_root else []) + [
        "list", "-q"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    return [n for n in out.split() if n.startswith(PREFIX)]


def remove_stale(state_root=None) -> None:
    """Remove containers and cgroups left by test runs whose process is gone."""

    def dead(name):
        try:
            pid = int(name[len(PREFIX):].split("-")[0])
        except ValueError:
            return False
        return pid != os.getpid() and not os.path.exists(f"/proc/{pid}")

    for cid in runc_containers(state_root):
        if dead(cid):
            cmd = [runc_binary()] + (["--root", str(state_root)] if state_root else [])
            subprocess.run(cmd + ["delete", "-f", cid], capture_output=True, timeout=30)
    for d in leftovers():
        name = os.path.basename(d)
        if dead(name):
            remove_cgroup(name)


# -- helpers ------------------------------------------------------------------------------


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _bind(path):
    return {"destination": path, "type": "bind", "source": path,
            "options": ["rbind", "ro", "nosuid", "nodev"]}


def _under_any(path, roots):
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _makedirs_755(rootfs: Path, dest: str):
    cur = rootfs
    for part in Path(dest).relative_to("/").parts:
        cur = cur / part
        if cur.is_symlink():
            return  # e.g. /lib64 -> usr/lib64: the target is mounted
        if not cur.exists():
            cur.mkdir()
        cur.chmod(0o755)


# -- pytest ----------------------------------------------------------------------------------


_stale_removed = False


@pytest.fixture
def runc_harness():
    """A :class:`RuncHarness` whose containers and cgroups are removed after the test."""
    global _stale_removed
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    if not _stale_removed:  # once per session: what a killed run left behind
        _stale_removed = True
        remove_stale()
    # Bundles under a short private dir: runc's state/socket paths have length limits.
    workdir = tempfile.mkdtemp(prefix=PREFIX)
    os.chmod(workdir, 0o755)
    harness = RuncHarness(workdir)
    try:
        yield harness
    finally:
        try:
            harness.cleanup()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
