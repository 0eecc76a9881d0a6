"""A private Docker engine for tests: started here, stopped by PID, nothing left behind.

:class:`Dockerd` runs ``dockerd`` with its own ``--host`` unix socket,
``--data-root``, ``--exec-root`` and ``--pidfile``, all under one temporary
directory, and without touching the host's network: ``--bridge none`` and
``--iptables=false`` (builds use ``--network host``, containers run with
``--network none``). Containers get cgroups under their own parent
(``--cgroup-parent``), so a system Docker engine, if there is one, is never
involved. :meth:`Dockerd.stop` sends SIGTERM to the daemon's PID (it stops the
containerd it started and the containers), waits, escalates to SIGKILL for
any process it started that is still there, removes the cgroup parent and
the temporary directory. A daemon whose test process was killed before it
could do that is stopped by the next run (:func:`remove_stale`).

Usage::

    from tests.support.dockerd import Dockerd, skip_reason

    with Dockerd() as d:
        d.docker("import", "rootfs.tar", "base:1")
        r = d.docker("run", "--rm", "--network", "none", "base:1", "true")

The client is Debian's ``docker`` from the same package as ``dockerd`` when
it is there (a newer client without the buildx plugin cannot use BuildKit),
with its own ``DOCKER_CONFIG`` so nothing is written to ``~/.docker``.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import gone, processes

CGROUP_ROOT = Path("/sys/fs/cgroup")


def dockerd_binary() -> str | None:
    return shutil.which("dockerd") or next(
        (p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.access(p, os.X_OK)), None)


def client_binary() -> str | None:
    """The docker CLI shipped with the daemon (same directory tree), else the one on PATH."""
    daemon = dockerd_binary()
    if daemon:
        prefix = Path(daemon).resolve().parent.parent
        for p in (prefix / "bin/docker", prefix / "sbin/docker"):
            if os.access(p, os.X_OK):
                return str(p)
    return shutil.which("docker")


def skip_reason() -> str | None:
    """Why a private engine cannot run here, or None."""
    if os.geteuid() != 0:
        return "a private Docker engine needs root"
    if dockerd_binary() is None or client_binary() is None:
        return "dockerd or the docker client is not installed (Debian package docker.io)"
    if not shutil.which("containerd") or not shutil.which("runc"):
        return "containerd or runc is not installed (dependencies of docker.io)"
    return None


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from /proc), deepest last."""
    by_parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        by_parent.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class DockerError(AssertionError):
    pass


def remove_stale() -> list[int]:
    """Stop the daemons of earlier test runs whose process is gone (killed before it could clean up).

    Only daemons this module started are touched: their ``--cgroup-parent`` is
    ``cgroupsize-test-docker-<pid of the test process>``, and that PID no longer exists.
    Returns the PIDs stopped.
    """
    stopped = []
    for pid, argv in processes():
        if os.path.basename(argv[0]) != "dockerd" or "--cgroup-parent" not in argv:
            continue
        parent = argv[argv.index("--cgroup-parent") + 1] if argv.index("--cgroup-parent") + 1 < len(argv) else ""
        owner = parent.removeprefix("cgroupsize-test-docker-")
        if parent == owner or not gone(owner):
            continue
        stale = Dockerd()
        stale.cgroup_parent = parent
        stale.proc = _Adopted(pid)
        pidfile = argv[argv.index("--pidfile") + 1] if "--pidfile" in argv else ""
        stale.dir = Path(pidfile).parent if pidfile.startswith("/tmp/csz-dockerd-") else None
        stale.log = open(os.devnull, "wb")  # noqa: SIM115 (closed in stop())
        stale.stop()
        stopped.append(pid)
    return stopped


class _Adopted:
    """The little of Popen that :meth:`Dockerd.stop` uses, for a daemon another run started."""

    def __init__(self, pid: int):
        self.pid = pid

    def poll(self) -> int | None:
        return None if _alive(self.pid) else 0

    def send_signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout or 30)
        while _alive(self.pid):
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("dockerd", timeout or 30)
            time.sleep(0.1)
        return 0

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Dockerd:
    """One private ``dockerd``; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, start_timeout: float = 60.0):
        self.start_timeout = start_timeout
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.cgroup_parent = f"cgroupsize-test-docker-{os.getpid()}"
        self.client = client_binary()
        self.env: dict[str, str] = {}

    # -- life cycle ------------------------------------------------------------

    def start(self) -> Dockerd:
        remove_stale()
        # Short path: containerd's sockets live under the exec-root (108-byte limit).
        self.dir = Path(tempfile.mkdtemp(prefix="csz-dockerd-", dir="/tmp"))
        for sub in ("data", "exec", "config"):
            (self.dir / sub).mkdir()
        self.socket = self.dir / "docker.sock"
        self.pidfile = self.dir / "docker.pid"
        cmd = [dockerd_binary(), "--host", f"unix://{self.socket}", "--data-root", str(self.dir / "data"),
               "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.pidfile),
               "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
               "--cgroup-parent", self.cgroup_parent, "--storage-driver", "overlay2",
               "--config-file", str(self._config())]
        self.log = open(self.dir / "dockerd.log", "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}",
                    "DOCKER_CONFIG": str(self.dir / "config"), "DOCKER_CLI_HINTS": "false"}
        self.env.pop("DOCKER_CONTEXT", None)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_text()
                self.stop()
                raise DockerError(f"dockerd exited ({self.proc.returncode}):\n{log[-3000:]}")
            if self.socket.exists() and self.docker("version", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        log = self.log_text()
        self.stop()
        raise DockerError(f"dockerd did not answer within {self.start_timeout} s:\n{log[-3000:]}")

    def _config(self) -> Path:
        # An empty daemon.json of our own: the host's /etc/docker/daemon.json is not ours to read.
        p = self.dir / "daemon.json"
        p.write_text("{}\n")
        return p

    def stop(self) -> None:
        """SIGTERM to dockerd (which stops containers and its containerd), then clean up."""
        if self.proc is not None:
            started = [self.proc.pid] + _children(self.proc.pid)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            deadline = time.monotonic() + 10
            while any(_alive(p) for p in started[1:]) and time.monotonic() < deadline:
                time.sleep(0.1)
            for pid in started[1:]:  # only processes this daemon started
                if _alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.proc = None
            self.log.close()
        self._remove_cgroups()
        if self.dir is not None:
            self._unmount_under(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _remove_cgroups(self) -> None:
        """rmdir the cgroup parent (and anything left in it), deepest first, in every hierarchy."""
        if not CGROUP_ROOT.is_dir():
            return
        for hierarchy in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()]:
            top = hierarchy / self.cgroup_parent
            if not top.is_dir():
                continue
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                try:
                    d.rmdir()
                except OSError:
                    pass
            try:
                top.rmdir()
            except OSError:
                pass

    @staticmethod
    def _unmount_under(root: Path) -> None:
        """Unmount anything a killed daemon left mounted under ``root`` (overlay, shm), deepest first."""
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        prefix = str(root) + "/"
        for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)

    def log_text(self) -> str:
        try:
            return (self.dir / "dockerd.log").read_text(errors="replace")
        except (OSError, TypeError):
            return ""

    def __enter__(self) -> Dockerd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the client --------------------------------------------------------------

    def docker(self, *args: str, check: bool = True, timeout: float = 600, input: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the docker client against this daemon; ``check`` raises DockerError with its output."""
        r = subprocess.run([self.client, *args], env={**self.env, **(env or {})}, capture_output=True,
                           text=True, timeout=timeout, input=input, check=False)
        if check and r.returncode != 0:
            raise DockerError(f"docker {' '.join(args)[:300]} exited {r.returncode}:\n"
                              f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r
