"""Run a shell script under a real cgroup v2 kernel: user-mode Linux on this host's own files.

Hosts with a cgroup v1 (or hybrid) layout cannot make v2 memory or CPU limits:
a controller lives in one hierarchy only. User-mode Linux (UML) is a Linux
kernel that runs as an ordinary process; booted with ``rootfstype=hostfs
rootflags=/`` its root file system *is* the host's ``/``, so this interpreter,
this checkout, java and node run in it unchanged, under a kernel whose cgroup
v2 tree we mount and limit ourselves.

API (one function does the work)::

    from tests.support import uml

    reason = uml.skip_reason()          # None, or why no guest can boot here
    r = uml.run_in_guest('''
        mkdir $CG/app
        echo 256M > $CG/app/memory.max
        echo $$ > $CG/app/cgroup.procs
        $CGROUPSIZE --print --json > $OUT/limits.json
    ''', mem="1G", timeout=120)
    assert r.status == 0, r             # str(r) shows stdout, stderr, console tail
    limits = json.loads(r.files["limits.json"])

What the script sees (it runs as root, under ``/bin/sh -e``, as a child of
the guest's PID 1, in the root cgroup):

``$OUT``
    A directory on the host file system, empty at start. Everything written
    there comes back in ``GuestResult.files`` (text) and, with
    ``workdir=``, stays on disk. The console is *not* the channel for results:
    kernel messages (OOM reports...) interleave with it.
``$CG``
    ``/sys/fs/cgroup``: cgroup2 mounted, ``+memory +cpu +pids`` enabled in the
    root's ``cgroup.subtree_control`` (the UML kernel has ``cpu io memory
    pids``; there is no ``cpuset`` controller). Create children, write
    ``memory.max``, ``memory.high``, ``cpu.max``..., move ``$$`` in.
``$PYTHON``, ``$CGROUPSIZE``, ``$REPO``
    This interpreter, ``"$PYTHON -m cgroupsize"`` (unquoted use), and the
    checkout (also on ``PYTHONPATH``), so the guest runs this working tree.
``PATH``
    This interpreter's directory first, then the host's ``PATH``.

Facts worth knowing when writing a script: the guest has one CPU and no swap;
``/proc``, ``/sys``, ``/dev`` (devtmpfs) and a ``/dev/shm`` tmpfs are the
guest's own, every other path is the host's (read-write, as root: write only
under ``$OUT``); ``unshare`` and friends work (``unshare -C`` gives a private
cgroup namespace); an OOM kill ends only the process inside the limited cgroup.
The script's stdout and stderr go to files, never to the console.

A guest that hangs is killed (its whole process group) after ``timeout``
seconds, and ``GuestResult.status`` is then ``None``. Nothing is left behind:
UML's own runtime directory (``uml_dir``) and the work directory are
temporary unless ``workdir`` is given; a guest whose test process was killed
is killed by the next call (:func:`remove_stale`).

Which kernel: ``$CGROUPSIZE_UML`` if set, else Debian's ``linux.uml``
(package ``user-mode-linux``) if it boots here, else a newer UML from
Debian's archive prepared once into :data:`CACHE` (see
:func:`prepare_kernel`). Debian 12's UML 6.1 sizes the x86 FPU state for
AVX only: on hosts with AVX-512 or AMX its first user process dies with
"ptrace set fp regs failed, errno = 14" (Linux 6.13 made the size
dynamic, commit "um: switch to regset API and depend on XSTATE").
"""
from __future__ import annotations

import functools
import itertools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import REPO, kill_orphans, run_group

# Kept between runs: the prepared kernel (about 40 MB) and its libc.
CACHE = Path(os.environ.get("CGROUPSIZE_TEST_CACHE", "/var/cache/cgroupsize-tests")) / "uml"
# Debian suite a newer UML comes from when the installed one cannot boot here.
SUITE = os.environ.get("CGROUPSIZE_UML_SUITE", "forky")
DEFAULT_TIMEOUT = 180.0
_counter = itertools.count(1)


@dataclass
class GuestResult:
    """What one boot produced."""

    status: int | None  # the script's exit status; None: it never finished (timeout, panic)
    files: dict[str, str]  # $OUT's files (relative path -> text, undecodable bytes replaced)
    stdout: str
    stderr: str
    console: str  # kernel and console output, for diagnosis only
    elapsed: float  # seconds from starting the kernel to its exit
    out_dir: Path | None = None  # $OUT on the host when workdir= was given
    timed_out: bool = field(default=False)

    def __str__(self) -> str:
        tail = "\n".join(self.console.splitlines()[-25:])
        return (f"guest status {self.status} after {self.elapsed:.1f} s"
                f"{' (timed out)' if self.timed_out else ''}\n--- stdout\n{self.stdout}"
                f"\n--- stderr\n{self.stderr}\n--- console (last lines)\n{tail}")


# -- the guest's PID 1 ----------------------------------------------------------

_INIT = """#!/bin/sh
# PID 1 of the user-mode Linux guest (written by tests/support/uml.py).
PATH={path}; export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
echo "+memory +cpu +pids" > /sys/fs/cgroup/cgroup.subtree_control
OUT={out}; CG=/sys/fs/cgroup; PYTHON={python}; REPO={repo}
CGROUPSIZE="$PYTHON -m cgroupsize"; PYTHONPATH={repo}; HOME=/root
export OUT CG PYTHON REPO CGROUPSIZE PYTHONPATH HOME
{env}
cd "$OUT"
/bin/sh -e {script} > {work}/stdout 2> {work}/stderr < /dev/null
echo $? > {work}/status
sync
echo o > /proc/sysrq-trigger
sleep 10
"""


def _write_init(work: Path, out: Path, script: str, env: dict[str, str] | None) -> Path:
    """Write the guest's script and its PID 1; return the init's path."""
    (work / "script.sh").write_text(script)
    path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable),
                                          *os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)]))
    exports = "\n".join(f"{k}={shlex.quote(v)}; export {k}" for k, v in (env or {}).items())
    init = work / "init.sh"
    q = shlex.quote
    init.write_text(_INIT.format(path=q(path), out=q(str(out)), python=q(sys.executable),
                                 repo=q(str(REPO)), env=exports, script=q(str(work / "script.sh")),
                                 work=q(str(work))))
    init.chmod(0o755)
    return init


# -- booting ----------------------------------------------------------------------


def _boot(kernel: str, init: Path, work: Path, mem: str, timeout: float) -> tuple[float, bool]:
    """Run the kernel until it powers off or ``timeout``; its process group is killed either way."""
    uml_dir = work / "uml"
    uml_dir.mkdir()
    cmd = [kernel, f"mem={mem}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw",
           f"init={init}", "con=null", "con0=null,fd:1", f"umid=cgroupsize-{os.getpid()}-{next(_counter)}",
           f"uml_dir={uml_dir}/"]
    # UML's helper processes share its process group (its own session).
    return run_group(cmd, work / "console.log", timeout, {**os.environ, "TMPDIR": "/dev/shm"})


def remove_stale() -> list[int]:
    """Kill the guests of earlier test processes that died before their timeout could, remove their files.

    Only kernels this module started are touched: their ``umid`` is
    ``cgroupsize-<pid of the test process>-<n>`` and that PID no longer exists.
    """
    return kill_orphans("umid=cgroupsize-", "cgroupsize-uml-*-*")


def _read_tree(out: Path) -> dict[str, str]:
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            files[str(p.relative_to(out))] = p.read_bytes().decode("utf-8", "replace")
    return files


def _text(p: Path) -> str:
    try:
        return p.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def run_in_guest(script: str, mem: str = "1G", timeout: float = DEFAULT_TIMEOUT,
                 env: dict[str, str] | None = None, workdir: Path | None = None,
                 kernel: str | None = None) -> GuestResult:
    """Boot a guest, run ``script`` in it (see the module docstring), power off, return the results.

    ``mem`` is the guest's RAM (UML's ``mem=``: ``512M``, ``1G``); ``env``
    adds variables for the script; ``workdir`` (an empty or new directory, e.g.
    pytest's ``tmp_path``) keeps the script, the console log and ``$OUT``
    after the call, otherwise all of it is removed. Raises ``RuntimeError``
    when no kernel can boot here (check :func:`skip_reason` first).
    """
    kernel = kernel or find_kernel()
    if kernel is None:
        raise RuntimeError(skip_reason() or "no user-mode Linux kernel")
    remove_stale()
    keep = workdir is not None
    work = Path(workdir) if keep else Path(tempfile.mkdtemp(prefix=f"cgroupsize-uml-{os.getpid()}-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    try:
        out = work / "out"
        out.mkdir()
        init = _write_init(work, out, script, env)
        elapsed, timed_out = _boot(kernel, init, work, mem, timeout)
        status_text = _text(work / "status").strip()
        return GuestResult(status=int(status_text) if status_text.isdigit() else None,
                           files=_read_tree(out), stdout=_text(work / "stdout"),
                           stderr=_text(work / "stderr"), console=_text(work / "console.log"),
                           elapsed=elapsed, out_dir=out if keep else None, timed_out=timed_out)
    finally:
        shutil.rmtree(work / "uml", ignore_errors=True)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


# -- finding (or preparing) a kernel that boots here ------------------------------


def _boots(kernel: str) -> bool:
    """True when ``kernel`` boots here and runs a user process (about one second)."""
    try:
        r = run_in_guest("echo ok > $OUT/ok\ncat $CG/cgroup.subtree_control > $OUT/controllers\n",
                         mem="256M", timeout=60, kernel=kernel)
    except OSError:
        return False
    return r.files.get("ok") == "ok\n" and "memory" in r.files.get("controllers", "")


def _apt_options(root: Path) -> list[str]:
    """apt options for a private list of sources and lists under ``root`` (the system's stay untouched)."""
    return ["-o", "Dir::Etc::sourcelist=/dev/null", "-o", f"Dir::Etc::sourceparts={root / 'sources'}",
            "-o", f"Dir::State::Lists={root / 'lists'}", "-o", f"Dir::Cache={root / 'apt-cache'}",
            "-o", "APT::Sandbox::User=root", "-qq"]


def prepare_kernel(dest: Path = CACHE, suite: str = SUITE) -> Path:
    """Fetch ``user-mode-linux`` and the ``libc6`` it needs from Debian ``suite`` into ``dest``.

    Uses apt with private sources and lists (nothing is installed on the
    host) and ``patchelf`` to point the kernel at that libc, since the newer
    UML needs a newer glibc than the host may have. Returns the kernel's path.
    Raises ``RuntimeError`` (with apt's message) when that is not possible.
    """
    final = dest / suite / "linux.uml"
    if final.exists():
        return final
    stage = Path(tempfile.mkdtemp(prefix=f".{suite}-", dir=_mkdir(dest)))
    try:
        for sub in ("sources", "lists/partial", "apt-cache/archives/partial", "debs", "root"):
            (stage / sub).mkdir(parents=True)
        (stage / "sources" / "uml.sources").write_text(
            f"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: {suite}\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
        opts = _apt_options(stage)
        _run(["apt-get", *opts, "update"], stage)
        _run(["apt-get", *opts, "download", f"user-mode-linux/{suite}", f"libc6/{suite}"], stage / "debs")
        for deb in (stage / "debs").glob("*.deb"):
            _run(["dpkg-deb", "-x", str(deb), str(stage / "root")], stage)
        libdir = stage / "root/usr/lib/x86_64-linux-gnu"
        kernel = stage / "root/usr/bin/linux.uml"
        target = dest / suite
        # The interpreter and rpath are absolute: patch them for where the files end up.
        _run(["patchelf", "--set-interpreter", str(target / "lib/ld-linux-x86-64.so.2"),
              "--set-rpath", str(target / "lib"), str(kernel)], stage)
        new = stage / "ready"
        (new / "lib").mkdir(parents=True)
        for name in ("ld-linux-x86-64.so.2", "libc.so.6"):
            shutil.copy2(libdir / name, new / "lib" / name)
        shutil.copy2(kernel, new / "linux.uml")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(new, target)
        return final
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _run(cmd: list[str], cwd: Path) -> None:
    r = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} ... failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}")


@functools.cache
def _find() -> tuple[str | None, str | None]:
    """(kernel, None) or (None, why not); prepares a kernel into CACHE when needed and allowed."""
    tried = []
    for candidate in (os.environ.get("CGROUPSIZE_UML"), shutil.which("linux.uml"), str(CACHE / SUITE / "linux.uml")):
        if candidate and os.access(candidate, os.X_OK) and candidate not in tried:
            tried.append(candidate)
            if _boots(candidate):
                return candidate, None
    if os.geteuid() != 0:
        return None, f"no user-mode Linux kernel boots here (tried {tried or 'none'}); preparing one needs root"
    missing = [t for t in ("apt-get", "dpkg-deb", "patchelf") if shutil.which(t) is None]
    if missing:
        return None, f"no user-mode Linux kernel boots here (tried {tried or 'none'}) and {', '.join(missing)} missing"
    try:
        kernel = str(prepare_kernel())
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        return None, f"no user-mode Linux kernel boots here (tried {tried or 'none'}); fetching one failed: {e}"
    if _boots(kernel):
        return kernel, None
    return None, f"no user-mode Linux kernel boots here (tried {tried + [kernel]})"


def find_kernel() -> str | None:
    """Path of a UML kernel that boots here (prepared once if needed), or None."""
    return _find()[0]


def skip_reason() -> str | None:
    """Why no guest can run here, or None. Boots a probe guest (and may prepare a kernel) once per process."""
    if sys.platform != "linux":
        return "user-mode Linux needs a Linux host"
    return _find()[1]


if __name__ == "__main__":  # python3 -m tests.support.uml: prepare and check the kernel (CI does this early)
    reason = skip_reason()
    print(reason or f"user-mode Linux kernel: {find_kernel()}")
    sys.exit(1 if reason else 0)
