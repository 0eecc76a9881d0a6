"""The entrypoint path stays small -- behaviour only, never timing.

- it runs inside a container limited to 32 MiB (a real v1 memory cgroup, swap
  closed off too) without hitting the limit;
- detection gives the right answer, from the right level, on a host with
  10,000 mountinfo lines and a cgroup 30 levels deep
  (``benchmarks/scale_fixture.py``);
- ``cgroupsize CMD`` opens each file at most once, starts no helper process
  and imports nothing heavy.

The figures themselves come from ``benchmarks/startup.py`` and are recorded in
``benchmarks/README.rst``.
"""
from __future__ import annotations

import builtins
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.cgroups import Cgroup, skip_reason
from cgroupsize import cli, launch
from cgroupsize.cgroups.detect import read_limits

from benchmarks import scale_fixture
from tests.support import MiB, TOOL

FORBIDDEN = ("click", "psutil", "subprocess", "json", "logging", "importlib.metadata")


# -- 32 MiB: a real memory cgroup ------------------------------------------------------


def _read(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def cgroup_32m():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    cg = Cgroup().make()
    try:
        base = f"/sys/fs/cgroup/memory/{cg.rel}"
        cg.set("memory", "memory.limit_in_bytes", 32 * MiB)
        if os.path.exists(f"{base}/memory.memsw.limit_in_bytes"):  # no swapping around the limit
            cg.set("memory", "memory.memsw.limit_in_bytes", 32 * MiB)
        yield cg, base
    finally:
        cg.remove()


def _oom_kills(base):
    for line in _read(f"{base}/memory.oom_control").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


@pytest.mark.cgroups
@pytest.mark.parametrize("args", [["--", "/bin/true"], ["--print", "--json"], ["--print"]],
                         ids=["exec", "print-json", "print"])
def test_runs_in_a_32_MiB_container(cgroup_32m, args):
    cg, base = cgroup_32m
    proc = cg.run(TOOL + args)
    peak = int(_read(f"{base}/memory.max_usage_in_bytes"))
    figures = (f"exit {proc.returncode}, peak {peak / MiB:.1f} MiB, failcnt {_read(base + '/memory.failcnt').strip()}"
               f", stderr: {proc.stderr.strip()[:400]}")
    assert proc.returncode == 0, figures
    assert "Traceback" not in proc.stderr, figures
    assert _oom_kills(base) == 0, figures
    assert int(_read(f"{base}/memory.failcnt")) == 0, figures  # never even pressed against the limit
    if os.path.exists(f"{base}/memory.memsw.failcnt"):
        assert int(_read(f"{base}/memory.memsw.failcnt")) == 0, figures
    if "--json" in args:
        data = json.loads(proc.stdout)
        # The tool sees the container it runs in.
        assert data["memory"]["limit"] == 32 * MiB, data["memory"]
        assert data["memory"]["source"] == f"{base}/memory.limit_in_bytes"
        assert data["memory"]["swap"] == 0


# -- scale: 10,000 mountinfo lines, 30 levels ------------------------------------------------


@pytest.fixture(scope="module")
def scale_roots(tmp_path_factory):
    return scale_fixture.write_all(str(tmp_path_factory.mktemp("scale")))


@pytest.mark.parametrize("name", ["v2-small", "v2-large", "v1-small", "v1-large"])
def test_scale_fixture_answers(scale_roots, name):
    root, expected = scale_roots[name]
    limits = read_limits(root)
    high_binds = (expected["memory_high"] or expected["memory"] + 1) < expected["memory"]
    assert [n.code for n in limits.notices] == (["MEMORY_HIGH_BINDS"] if high_binds else [])
    assert limits.memory.version == limits.cpu.version == expected["variant"]
    assert limits.memory.dir == expected["cgroup_dir"]
    # the tightest limit, from the level that sets it (neither the leaf nor the top)
    assert (limits.memory.limit.value, limits.memory.limit.source) == (expected["memory"], expected["memory_source"])
    assert (limits.memory.high.value, limits.memory.high.source) == (
        expected["memory_high"], expected["memory_high_source"])
    assert limits.memory.swap.value == expected["swap"]
    assert limits.cpu.quota.value == pytest.approx(expected["cpu_quota"])
    assert limits.cpu.quota.source == expected["cpu_source"]
    assert limits.cpu.cpuset.value == expected["cpuset"]
    assert limits.cpu_count == expected["cpu_count"]


def test_scale_fixture_is_what_it_says(scale_roots):
    root, expected = scale_roots["v2-large"]
    with open(os.path.join(root, "proc/self/mountinfo")) as f:
        lines = f.read().splitlines()
    assert len(lines) == expected["mountinfo_lines"] == 10_000
    assert sum(" - cgroup" in line for line in lines) > 1000  # other containers' cgroup mounts
    assert expected["depth"] == 30
    levels = expected["cgroup_dir"].count("/") - expected["memory_source"].count("/") + 1
    assert 0 < levels < 30  # the tightest memory limit is in the middle of the walk


@pytest.mark.parametrize("name", ["v2-large", "v1-large"])
def test_scale_fixture_through_the_cli(scale_roots, name):
    root, expected = scale_roots[name]
    proc = subprocess.run(TOOL + ["--root", root, "--print", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["memory"]["limit"] == expected["memory"]
    assert data["memory"]["source"] == expected["memory_source"]
    assert data["cpu"]["quota"] == pytest.approx(expected["cpu_quota"])
    assert data["cpu"]["count"] == expected["cpu_count"]


# -- the fast path: files once, no helper process, nothing heavy -----------------------------

RUNTIME_COMMANDS = [["true"], ["java", "-jar", "app.jar"], ["node", "server.js"], ["python3", "app.py"],
                    ["ruby", "app.rb"], ["dotnet", "app.dll"]]


@pytest.fixture
def fast_path(monkeypatch):
    """Run ``cli.main(["--", *argv])`` in-process; return the files it opened and what it exec'd."""
    for name in list(os.environ):
        if name.startswith("CGROUPSIZE_"):
            monkeypatch.delenv(name)
    opened, execs = [], []

    def forbidden(what):
        def fail(*args, **kwargs):
            raise AssertionError(f"the entrypoint path started a helper process: {what}{args[:2]!r}")
        return fail

    for name in ("Popen",):
        monkeypatch.setattr(subprocess, name, forbidden("subprocess." + name))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "spawnv", "spawnve",
                 "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, forbidden("os." + name))
    real_open, real_os_open = builtins.open, os.open

    def rec_open(file, *args, **kwargs):
        opened.append(os.fsdecode(file) if not isinstance(file, int) else file)
        return real_open(file, *args, **kwargs)

    def rec_os_open(path, *args, **kwargs):
        opened.append(os.fsdecode(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", rec_open)
    monkeypatch.setattr(io, "open", rec_open)
    monkeypatch.setattr(os, "open", rec_os_open)
    monkeypatch.setattr(launch, "_execve", lambda path, argv, env: execs.append((path, list(argv))))

    def run(argv):
        with pytest.raises(SystemExit):
            cli.main(["--", *argv])
        return opened, execs

    return run


@pytest.mark.parametrize("argv", RUNTIME_COMMANDS, ids=lambda a: a[0])
def test_fast_path_opens_each_file_once_and_spawns_nothing(fast_path, argv):
    opened, execs = fast_path(argv)
    twice = sorted({p for p in opened if opened.count(p) > 1})
    assert twice == [], f"opened more than once: {twice}"
    assert "/proc/self/mountinfo" in opened and "/proc/self/cgroup" in opened, opened
    assert len(execs) <= 1  # one exec, or 127 when the runtime is not installed here


@pytest.mark.parametrize("argv", RUNTIME_COMMANDS[1:], ids=lambda a: a[0])
def test_fast_path_imports_nothing_heavy_for_runtimes(tmp_path, argv):
    """Like tests/test_cli.py's check for ``true``, with runtimes that have a plan (fake ones on PATH)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("java", "node", "python3", "ruby", "dotnet"):
        (bindir / name).write_text("#!/bin/sh\nexit 0\n")
        (bindir / name).chmod(0o755)
    probe = textwrap.dedent("""
        import sys
        from cgroupsize import cli, launch
        def fake(path, argv, env):
            sys.stdout.write(" ".join(sorted(sys.modules)))
        launch._execve = fake
        try:
            cli.main(["--"] + sys.argv[1:])
        except SystemExit:
            pass
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    loaded = set(proc.stdout.split())
    assert "cgroupsize.cgroups.detect" in loaded, proc.stderr
    heavy = sorted(m for m in loaded if m in FORBIDDEN or m.split(".")[0] in ("click", "psutil"))
    assert heavy == [], f"{argv[0]}: the entrypoint path imported {heavy}"


def test_fast_path_imports_neither_re_nor_enum():
    """re (+7 ms) and enum (via signal, +5 ms) alone would break the 1.3x start-up budget."""
    probe = textwrap.dedent("""
        import sys
        from cgroupsize import cli, launch
        launch._execve = lambda path, argv, env: sys.stdout.write(" ".join(sorted(sys.modules)))
        try:
            cli.main(["--", "true"])
        except SystemExit:
            pass
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
    # -S: without site, so that only what cgroupsize itself imports is seen
    proc = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    loaded = set(proc.stdout.split())
    assert "cgroupsize.cgroups.detect" in loaded, proc.stderr
    assert not {"re", "enum"} & loaded, sorted({"re", "enum"} & loaded)
