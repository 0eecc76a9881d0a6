"""Real v1 cgroups for tests: create child cgroups with limits, run a command inside, clean up.

This machine's cgroups are v1 (hybrid) and writable as root. Every cgroup a
test creates lives under ``/sys/fs/cgroup/<controller>/cgroupsize-test-*``
and is removed afterwards, deepest first, even when the test fails.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys

V1 = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "cpu", "cpuset")
_counter = itertools.count()


def skip_reason() -> str | None:
    """Why real-cgroup tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to create cgroups"
    for c in CONTROLLERS:
        if not os.path.isfile(os.path.join(V1, c, "cgroup.procs")):
            return f"no writable cgroup v1 {c} controller at {V1}/{c} (this test needs a v1 host)"
    if not os.access(os.path.join(V1, "memory"), os.W_OK):
        return f"{V1}/memory is not writable"
    return None


class Cgroup:
    """A nested cgroup path created in the memory, cpu and cpuset v1 hierarchies."""

    def __init__(self, name: str | None = None):
        self.rel = name or f"cgroupsize-test-{os.getpid()}-{next(_counter)}"
        self.created = []  # directories, in creation order

    def child(self, name: str) -> Cgroup:
        c = Cgroup(self.rel + "/" + name)
        c.created = self.created  # one list so cleanup removes the whole tree
        return c

    def make(self) -> Cgroup:
        for controller in CONTROLLERS:
            path = os.path.join(V1, controller, self.rel)
            if not os.path.isdir(path):
                os.makedirs(path)
                self.created.append(path)
            if controller == "cpuset":  # a new cpuset is empty: inherit the parent's
                for f in ("cpuset.cpus", "cpuset.mems"):
                    parent = os.path.join(os.path.dirname(path), f)
                    if not _read(os.path.join(path, f)):
                        _write(os.path.join(path, f), _read(parent))
        return self

    def set(self, controller: str, name: str, value) -> Cgroup:
        _write(os.path.join(V1, controller, self.rel, name), str(value))
        return self

    def run(self, argv, env=None, timeout=60) -> subprocess.CompletedProcess:
        """Run ``argv`` with the child moved into this cgroup before it execs."""
        procs = [os.path.join(V1, c, self.rel, "cgroup.procs") for c in CONTROLLERS]

        def enter():
            for p in procs:
                with open(p, "w") as f:
                    f.write("0")  # 0 = the writing process itself

        return subprocess.run(argv, env=env, preexec_fn=enter, capture_output=True, text=True, timeout=timeout)

    def remove(self) -> None:
        for path in sorted(set(self.created), key=lambda p: p.count("/"), reverse=True):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
        self.created.clear()


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _write(path, value):
    with open(path, "w") as f:
        f.write(value)


def print_json(cgroup: Cgroup, *extra):
    """``cgroupsize --print --json`` run inside ``cgroup``; returns (dict, completed process)."""
    import json

    proc = cgroup.run([sys.executable, "-m", "cgroupsize", "--print", "--json", *extra])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout), proc
