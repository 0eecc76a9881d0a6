"""Harnesses shared by the tests and the benchmarks, and the constants they all use.

``cgroups`` (real v1 cgroups on this machine), ``runc`` (OCI containers),
``dockerd`` and ``baseimage`` (a private Docker engine and local base
images), ``uml`` (real cgroup v2 in user-mode Linux), ``plans`` (fixture
limits and a one-call planner), ``trees`` (fake roots for detection).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MiB = 1 << 20
GiB = 1 << 30
REPO = str(Path(__file__).resolve().parent.parent.parent)  # the checkout (or the unpacked sdist)
TOOL = [sys.executable, "-m", "cgroupsize"]  # the tool from this checkout, in a subprocess


def processes() -> Iterator[tuple[int, list[str]]]:
    """``(pid, argv)`` of every process this machine shows (those gone meanwhile are left out)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                yield int(entry), f.read().decode(errors="replace").split("\0")
        except OSError:
            continue


def gone(owner: str) -> bool:
    """Whether ``owner`` is the PID of a test process that no longer runs (its leftovers are stale)."""
    return owner.isdigit() and not os.path.exists(f"/proc/{owner}")


def kill_orphans(marker: str, temp_glob: str) -> list[int]:
    """Kill the process groups a dead test process left, and remove its temporary directories.

    A group leader whose argv has an item ``<marker><owner pid>-<n>`` (the guest
    names the harnesses give) belongs to that test process; a directory
    ``<prefix>-<owner pid>-<n>`` in the temp directory likewise.
    """
    killed = []
    for pid, argv in processes():
        owner = next((a[len(marker):].split("-")[0] for a in argv if a.startswith(marker)), "")
        try:
            if gone(owner) and os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
                killed.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    for stale in Path(tempfile.gettempdir()).glob(temp_glob):
        if gone(stale.name.split("-")[2]):
            shutil.rmtree(stale, ignore_errors=True)
    return killed


def run_group(cmd: list[str], output: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[float, bool]:
    """Run ``cmd`` in a session of its own, output to ``output``, until it ends or ``timeout``.

    The whole process group is killed either way (guests leave helper
    processes in it). Returns ``(seconds, timed out?)``.
    """
    start = time.monotonic()
    with open(output, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    return time.monotonic() - start, timed_out
