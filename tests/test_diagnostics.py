"""Diagnostics: where the memory goes, what was killed, whether the quota binds, who waits.

Fixture trees under ``tests/fixtures/diagnostics/`` are fake roots (v1 and v2,
with and without the files: old kernels, no PSI, garbled and unreadable
files) plus ``expected.json``:

``given``
    where the memory and cpu cgroups are (version, mount point, our
    directory), the directory of the level that sets the limit / quota, and
    the limit in bytes: what ``--print`` hands :func:`diagnostics.collect`;
``expect``
    a subset of :meth:`Diagnostics.to_dict` (keys left out are not checked);
``notice_codes`` / ``absent_notice_codes`` / ``notice_texts``
    codes that must / must not appear (interpretations and read problems
    together) and phrases that must appear in the notices.

The expected figures were worked out by hand from the files and the kernel
documentation (cgroup-v2.rst, cgroup-v1/memory.rst, psi.rst), not copied
from the implementation's output.

Real kernels: a process OOM-killed in a real v1 memory cgroup on this
machine, and a CPU-bound one in a 0.1-CPU cgroup, are then counted; the same
plus real pressure figures under a real cgroup v2 kernel (user-mode Linux).
"""
from __future__ import annotations

import json
import math
import os
import posixpath
import random
import shutil
import sys

import pytest

from cgroupsize import watch
from cgroupsize.cgroups import detect, diagnostics
from cgroupsize.files import Files
from tests.support import MiB, TOOL
from tests.support import uml

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "diagnostics")
CASES = sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d)))


class Where:
    """The protocol diagnostics reads through: version, mount point, our directory, chain()."""

    def __init__(self, version, mount_point, directory):
        self.version, self.mount_point, self.dir = version, mount_point, directory

    def chain(self):
        d = self.dir
        while d != self.mount_point and d.startswith(self.mount_point.rstrip("/") + "/"):
            yield d
            d = posixpath.dirname(d)
        yield self.mount_point


def _load(name):
    with open(os.path.join(FIXTURES, name, "expected.json"), encoding="utf-8") as f:
        return json.load(f)


def _where(spec):
    return Where(spec["version"], spec["mount_point"], spec["dir"]) if spec else None


def diagnose(root, given):
    files = Files(root)
    diag = diagnostics.collect(files, _where(given["memory"]), _where(given["cpu"]), given["memory_where"],
                               given["cpu_where"], given["limit"])
    return diag, files


def _mismatches(expected, actual, path=""):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [(path, expected, actual)]
        out = []
        for key, want in expected.items():
            out += _mismatches(want, actual.get(key, "<missing>"), f"{path}.{key}" if path else key)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [(path, expected, actual)]
        pairs = enumerate(zip(expected, actual, strict=True))
        return [m for i, (w, a) in pairs for m in _mismatches(w, a, f"{path}[{i}]")]
    if isinstance(expected, float) or isinstance(actual, float):
        ok = isinstance(actual, (int, float)) and expected is not None and math.isclose(actual, expected, abs_tol=1e-9)
    else:
        ok = type(actual) is type(expected) and actual == expected
    return [] if ok else [(path, expected, actual)]


@pytest.mark.parametrize("name", CASES)
def test_fixture(name):
    exp = _load(name)
    diag, files = diagnose(os.path.join(FIXTURES, name), exp["given"])
    actual = diag.to_dict()
    notices = diag.notices + files.notices
    codes = [n.code for n in notices]
    texts = "\n".join(n.message for n in notices)
    problems = [f"  {p}: expected {w!r}, actual {a!r}" for p, w, a in _mismatches(exp["expect"], actual)]
    problems += [f"  notice {c} expected" for c in exp["notice_codes"] if c not in codes]
    problems += [f"  notice {c} must not appear" for c in exp["absent_notice_codes"] if c in codes]
    problems += [f"  no notice says {t!r}" for t in exp["notice_texts"] if t not in texts]
    assert not problems, f"{name}: {exp['description']}\n" + "\n".join(problems) + "\nnotices:\n" + texts


@pytest.mark.parametrize("name", CASES)
def test_fixture_is_a_root_detection_agrees_with(name):
    """The trees are whole roots: detection finds the cgroups ``given`` names, and --print can read them."""
    given = _load(name)["given"]
    locations = detect.locate(Files(os.path.join(FIXTURES, name)))
    for controller in ("memory", "cpu"):
        loc = locations[controller]
        assert (loc.version, loc.mount_point, loc.dir) == tuple(given[controller][k] for k in
                                                                ("version", "mount_point", "dir")), controller


def test_corpus_covers_versions_and_missing_files():
    given = [_load(n)["given"] for n in CASES]
    expect = [_load(n)["expect"] for n in CASES]
    assert len(CASES) >= 7
    assert {g["memory"]["version"] for g in given} == {"v1", "v2"}
    scopes = [e.get("diagnostics", {}).get("pressure_scope", {}).get("memory", "?") for e in expect]
    for version in ("v1", "v2"):
        mine = [_load(n) for n in CASES if _load(n)["given"]["memory"]["version"] == version]
        assert any("NO_PSI" in m["notice_codes"] for m in mine), f"{version}: no case without PSI"
        assert any("NO_PSI" not in m["notice_codes"] for m in mine), f"{version}: no case with PSI"
        assert any("DIAGNOSTICS_UNKNOWN" in m["notice_codes"] for m in mine), f"{version}: no case with files missing"
    assert "cgroup" in scopes and "system" in scopes


def test_collect_never_raises_on_garbage(tmp_path):
    """Every file of every fixture replaced by random bytes, a few hundred times: no exception."""
    rng = random.Random(14)
    junk = [b"", b"\x00\xff", b"max", b"-1", b"some avg10=", b"some\n", b"oom_kill x\n",
            b"anon 99999999999999999999999", b"some avg10=1.2.3 avg60=-1 total=1\n", "anon ²\n".encode(),
            b"\n\n\n", b"total_rss 1\ntotal_cache"]
    for name in CASES:
        root = tmp_path / name
        shutil.copytree(os.path.join(FIXTURES, name), root)
        paths = [os.path.join(d, f) for d, _, fs in os.walk(root / "sys") for f in fs]
        paths += [os.path.join(d, f) for d, _, fs in os.walk(root / "proc") if "pressure" in d for f in fs]
        given = _load(name)["given"]
        for _ in range(40):
            for p in rng.sample(paths, min(len(paths), 4)):
                with open(p, "wb") as f:
                    f.write(rng.choice(junk) + bytes(rng.randrange(256) for _ in range(rng.randrange(8))))
            diag, _files = diagnose(str(root), given)
            json.dumps(diag.to_dict())  # plain data


@pytest.mark.parametrize("text, value", [
    ("0.00", 0.0), ("12.34", 12.34), ("100.00", 100.0), ("7", 7.0), ("0.5", 0.5),
    ("", None), (None, None), ("nan", None), ("1e3", None), ("-1.0", None), ("1_0.0", None), ("1.", None),
    ("²", None), (".5", None), ("1.2.3", None)])
def test_decimal(text, value):
    assert diagnostics.decimal(text) == value


def _psi_root(tmp_path, text):
    p = tmp_path / "proc" / "pressure"
    p.mkdir(parents=True, exist_ok=True)
    for res in ("memory", "cpu", "io"):
        (p / res).write_text(text)
    return Files(str(tmp_path))


@pytest.mark.parametrize("text, some, full", [
    ("some avg10=1.50 avg60=2.00 avg300=3.00 total=42\nfull avg10=0.10 avg60=0.20 avg300=0.30 total=7\n",
     {"avg10": 1.5, "avg60": 2.0, "total": 42}, {"avg10": 0.1, "avg60": 0.2, "total": 7}),
    ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", {"avg10": 0.0, "avg60": 0.0, "total": 0}, None),
    # fields in another order, an unknown field, a trailing blank line: keys are looked up
    ("some total=5 avg300=0.00 avg60=1.00 avg10=2.00 new=1\n\n", {"avg10": 2.0, "avg60": 1.0, "total": 5}, None),
])
def test_pressure_lines(tmp_path, text, some, full):
    p = diagnostics.read_pressure(_psi_root(tmp_path, text), None, None)["memory"]
    assert (p.some, p.full, p.scope, p.source) == (some, full, "system", "/proc/pressure/memory")


def test_pressure_prefers_the_cgroup_file_and_falls_back_per_resource(tmp_path):
    files = _psi_root(tmp_path, "some avg10=9.00 avg60=9.00 avg300=9.00 total=9\n")
    cg = tmp_path / "sys" / "fs" / "cgroup" / "app"
    cg.mkdir(parents=True)
    (cg / "memory.pressure").write_text("some avg10=1.00 avg60=1.00 avg300=1.00 total=1\n"
                                        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    loc = Where("v2", "/sys/fs/cgroup", "/sys/fs/cgroup/app")
    got = diagnostics.read_pressure(files, loc, loc)
    assert (got["memory"].scope, got["memory"].some["total"]) == ("cgroup", 1)
    assert (got["cpu"].scope, got["cpu"].source) == ("system", "/proc/pressure/cpu")
    v1 = Where("v1", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory")
    assert diagnostics.read_pressure(files, v1, v1)["memory"].scope == "system"  # v1 has no cgroup PSI files


def test_reclaimable_is_file_less_shmem():
    m = diagnostics.MemoryReport("v2", "/x")
    assert m.reclaimable is None
    m.stat["file"] = diagnostics.figure(100, "/x/memory.stat", "100")
    assert m.reclaimable == 100
    m.stat["shmem"] = diagnostics.figure(30, "/x/memory.stat", "30")
    assert m.reclaimable == 70
    m.stat["shmem"] = diagnostics.figure(300, "/x/memory.stat", "300")  # racing counters: never negative
    assert m.reclaimable == 0


def test_thresholds_are_inclusive_and_quiet_below():
    cpu = diagnostics.CpuReport("v2", "/x")
    cpu.periods = diagnostics.figure(100, "/x/cpu.stat", "100")
    cpu.throttled = diagnostics.figure(4, "/x/cpu.stat", "4")
    assert diagnostics.cpu_notices(cpu) == []
    cpu.throttled = diagnostics.figure(5, "/x/cpu.stat", "5")
    assert [n.code for n in diagnostics.cpu_notices(cpu)] == [diagnostics.CPU_THROTTLED]
    cpu.periods = diagnostics.figure(0, "/x/cpu.stat", "0")  # no quota: no periods, nothing to say
    assert diagnostics.cpu_notices(cpu) == []


def test_set_at_is_the_level_of_a_limit_a_cgroup_file_sets():
    """From the Value's level and origin, never from its source text."""
    from cgroupsize.model import CGROUP_FILE, HIERARCHICAL, SETTING, Value

    a = "/sys/fs/cgroup/a"
    assert diagnostics.set_at(Value(64 * MiB, f"{a}/memory.max", "67108864", a, CGROUP_FILE)) == a
    # a file named otherwise still sets it there (the level says so, not the name)
    assert diagnostics.set_at(Value(2.0, f"{a}/cpu.cfs_quota_us", "200000 / 100000", a, CGROUP_FILE)) == a
    assert diagnostics.set_at(Value(64 * MiB, f"{a}/memory.stat", "67108864", a, HIERARCHICAL)) is None
    assert diagnostics.set_at(Value(64 * MiB, "CGROUPSIZE_MEMORY", "64m", None, SETTING)) is None
    assert diagnostics.set_at(Value(None, f"{a}/memory.max", "max", a, CGROUP_FILE)) is None  # no limit
    assert diagnostics.set_at(Value()) is None


@pytest.mark.parametrize("name", CASES)
def test_print_reads_each_file_once_and_limits_carry_the_same_figures(monkeypatch, name):
    """Usage, peak, kills, weight and throttling are read once, by diagnostics, and shared with ``limits``."""
    given = _load(name)["given"]
    seen = []
    real = Files.read
    monkeypatch.setattr(Files, "read", lambda self, inside: (seen.append(inside), real(self, inside))[1])
    limits = detect.read_limits(os.path.join(FIXTURES, name))
    # (not memory.stat: v1 detection reads it for hierarchical_memory_limit, a limit)
    report_only = ("memory.current", "memory.peak", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
                   "memory.events", "memory.oom_control", "memory.failcnt", "cpu.stat", "cpu.weight", "cpu.shares")
    twice = sorted({p for p in seen if seen.count(p) > 1 and posixpath.basename(p) in report_only})
    assert twice == [], twice
    m, diag = limits.memory, limits.diagnostics
    c = diag.cpu
    assert m.usage is diag.memory.usage and m.peak is diag.memory.peak
    assert m.oom_kills is diag.memory.events["oom_kill"]
    assert m.usage.source is None or posixpath.dirname(m.usage.source) == (given["memory_where"]
                                                                           or given["memory"]["dir"])
    assert (limits.cpu.throttled, limits.cpu.throttled_usec) == (c.throttled, c.throttled_usec)
    weight = posixpath.join(given["cpu"]["dir"], "cpu.weight" if given["cpu"]["version"] == "v2" else "cpu.shares")
    has_weight = os.path.exists(os.path.join(FIXTURES, name, weight.lstrip("/")))
    assert limits.cpu.weight.source == (weight if has_weight else None)


def test_entrypoint_limits_read_no_diagnostics():
    limits = detect.read_limits(os.path.join(FIXTURES, "v2_docker_cache_kills_throttled"), diagnostics=False)
    assert limits.diagnostics is None
    assert [limits.memory.usage.source, limits.memory.oom_kills.source, limits.cpu.weight.source,
            limits.cpu.throttled.source] == [None] * 4


def test_no_typing_import_at_runtime():
    """--print must stay cheap: the module's types are for mypy only."""
    import subprocess

    probe = "import sys; import cgroupsize.cgroups.diagnostics; print('typing' in sys.modules)"
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=False,
                         cwd=os.path.dirname(HERE), timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# -- through the command line -----------------------------------------------------------

REPO = os.path.dirname(HERE)


def _tool(*args, timeout=60, **kw):
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
    env["PYTHONPATH"] = REPO
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout,
                          check=False, **kw)


@pytest.mark.parametrize("name", CASES)
def test_print_json_has_the_keys(name):
    """``--print --json --root`` finds the same levels as ``given`` and reports the same figures."""
    exp = _load(name)
    proc = _tool("--print", "--json", "--root", os.path.join(FIXTURES, name))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    problems = [f"  {p}: expected {w!r}, actual {a!r}" for p, w, a in _mismatches(exp["expect"], data)]
    codes = data["notice_codes"] + data["diagnostics"]["notice_codes"]
    texts = "\n".join(data["notices"] + data["diagnostics"]["notices"])
    problems += [f"  notice {c} expected" for c in exp["notice_codes"] if c not in codes]
    problems += [f"  no notice says {t!r}" for t in exp["notice_texts"] if t not in texts]
    assert not problems, f"{name}:\n" + "\n".join(problems)
    for key in ("memory.stat", "memory.events", "pressure", "ancestors"):
        assert key in data
    assert set(data["memory.stat"]) == {"anon", "file", "kernel", "sock", "shmem"}
    assert set(data["memory.events"]) == {"low", "high", "max", "oom", "oom_kill"}
    assert set(data["pressure"]) == {"memory", "cpu", "io"}


def test_print_text_shows_figures_sources_and_diagnosis():
    proc = _tool("--print", "--root", os.path.join(FIXTURES, "v2_docker_cache_kills_throttled"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "pressure (this cgroup: % of time some / all tasks stalled, last 10 s / last minute)" in out
    for line in ("  file       310 MiB (page cache; 298 MiB of it reclaimable)  /sys/fs/cgroup/memory.stat",
                 "  events     low 0, high 0, max 25, oom 2, oom_kill 2         /sys/fs/cgroup/memory.events",
                 "  throttled  410 of 1000 periods (41 %), 12.3 s               /sys/fs/cgroup/cpu.stat",
                 "  memory     some 23.4 / 12.0 %, full 5.2 / 2.0 %             /sys/fs/cgroup/memory.pressure"):
        assert line in out.splitlines(), out
    diagnosis = out.split("\ndiagnosis\n", 1)[1]
    assert diagnosis.startswith("  - page cache is 62 % of usage (298 MiB)"), out
    assert "2 OOM kills in this cgroup since it was created" in diagnosis
    assert "notices" not in diagnosis  # nothing went wrong reading


def test_print_text_without_psi_or_stat_says_unknown():
    proc = _tool("--print", "--root", os.path.join(FIXTURES, "v2_missing_garbled_unreadable"))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "  memory     unknown" in proc.stdout
    assert "no memory.stat breakdown in /sys/fs/cgroup" in proc.stdout
    assert "no pressure stall information" in proc.stdout


def test_garbled_diagnostics_files_do_not_make_strict_refuse(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(os.path.join(FIXTURES, "v2_docker_cache_kills_throttled"), root)
    cg = root / "sys" / "fs" / "cgroup"
    (cg / "memory.stat").write_text("anon lots\n")
    (cg / "memory.pressure").write_text("some avg10=x\n")
    proc = _tool("--strict", "--dry-run", "--root", str(root), "--", "true")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(_tool("--print", "--json", "--root", str(root)).stdout)
    assert data["memory.stat"]["anon"] is None and "MALFORMED" in data["diagnostics"]["notice_codes"]
    assert "MALFORMED" not in data["notice_codes"]  # detection itself had no problem


@pytest.mark.parametrize("name, rel", [("v2_docker_cache_kills_throttled", "memory.events"),
                                       ("v2_docker_cache_kills_throttled", "memory.current"),
                                       ("v2_docker_cache_kills_throttled", "cpu.stat"),
                                       ("v2_docker_cache_kills_throttled", "cpu.weight"),
                                       ("v1_docker_kmem_cache_kills", "memory.oom_control")])
def test_unreadable_diagnostics_file_does_not_make_strict_refuse(tmp_path, name, rel):
    """A directory where the file should be (UNREADABLE): a notice of the diagnostics, not of detection."""
    root = tmp_path / "root"
    shutil.copytree(os.path.join(FIXTURES, name), root)
    given = _load(name)["given"]
    victim = root / given["cpu" if rel.startswith("cpu") else "memory"]["dir"].lstrip("/") / rel
    victim.unlink()
    victim.mkdir()
    proc = _tool("--strict", "--dry-run", "--root", str(root), "--", "true")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    data = json.loads(_tool("--print", "--json", "--root", str(root)).stdout)
    assert "UNREADABLE" not in data["notice_codes"], data["notices"]
    unreadable = [t for t in data["diagnostics"]["notices"] if f"{rel}: not a regular file" in t]
    assert len(unreadable) == 1, data["diagnostics"]["notices"]  # read once, said once


def test_the_entrypoint_path_reads_no_diagnostics_file():
    import subprocess

    probe = (
        "import os, sys\n"
        "from cgroupsize import cli, launch\n"
        "seen = []\n"
        "real = os.open\n"
        "os.open = lambda p, *a, **k: (seen.append(os.fsdecode(p)), real(p, *a, **k))[1]\n"
        "launch._execve = lambda *a: None\n"
        "try:\n"
        "    cli.main(['--', 'true'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "os.open = real\n"
        "print('\\n'.join(seen))\n"
        "print('MODULE' if 'cgroupsize.cgroups.diagnostics' in sys.modules else 'none')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=60, check=False)
    lines = proc.stdout.splitlines()
    assert lines and lines[-1] == "none", proc.stdout + proc.stderr
    opened = [p for p in lines[:-1] if "/sys/fs/cgroup" in p or "/proc/pressure" in p]
    assert opened, proc.stdout + proc.stderr  # the limits were read...
    # (v1 memory.stat is read for hierarchical_memory_limit, a limit: once, and only on v1)
    names = ("memory.events", "oom_control", "cpu.stat", "pressure", "memory.failcnt", "kmem", "swap.current")
    assert [p for p in opened if any(n in p for n in names)] == []  # ...and nothing else
    stat = [p for p in opened if p.endswith("/memory.stat")]
    assert len(stat) <= 1 and all("/sys/fs/cgroup/memory/" in p for p in stat), stat


@pytest.mark.parametrize("args", [["--watch", "0"], ["--watch", "nan"], ["--watch", "x"],
                                  ["--watch", "1", "--", "true"], ["--print", "--watch"], ["--watch", "1", "--json"]])
def test_watch_user_mistakes_are_one_line_and_exit_2(args):
    proc = _tool(*args, "--root", os.path.join(FIXTURES, "v1_docker_kmem_cache_kills"))
    assert proc.returncode == 2, (proc.returncode, proc.stdout[:300], proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_watch_ctrl_c_exits_0():
    import signal
    import subprocess
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
    p = subprocess.Popen([*TOOL, "--watch", "0.2", "--root", os.path.join(FIXTURES, "v1_docker_kmem_cache_kills")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        line = p.stdout.readline()  # the first sample is out: the loop runs
        assert "usage=500Mi/512Mi(98%)" in line and "oom_kill=3" in line, line
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (p.returncode, err)
    assert "Traceback" not in err and err.strip() == ""


# -- real v1 cgroups on this machine ---------------------------------------------------

V1_MEMORY = "/sys/fs/cgroup/memory"
V1_CPU = "/sys/fs/cgroup/cpu"


@pytest.fixture
def v1_cgroups():
    from tests.support.cgroups import Cgroup, skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    parent = Cgroup().make()
    try:
        yield parent, parent.child("job").make()
    finally:
        parent.remove()


@pytest.mark.cgroups
def test_real_v1_oom_kill_is_counted_here_and_above(v1_cgroups):
    parent, job = v1_cgroups
    base = f"{V1_MEMORY}/{job.rel}"
    job.set("memory", "memory.limit_in_bytes", 32 * MiB)
    if os.path.exists(f"{base}/memory.memsw.limit_in_bytes"):  # no swapping out of the OOM
        job.set("memory", "memory.memsw.limit_in_bytes", 32 * MiB)
    proc = job.run([sys.executable, "-c", "b = b'x' * (200 << 20)"])
    assert proc.returncode == -9, f"expected an OOM kill (SIGKILL), got {proc.returncode}: {proc.stderr[-500:]}"

    files = Files("/")
    diag = diagnostics.collect(files, Where("v1", V1_MEMORY, base), None, base, None, 32 * MiB)
    m = diag.memory
    assert m.events["oom_kill"].value == 1, m.events["oom_kill"]
    assert m.events["oom_kill"].source == f"{base}/memory.oom_control"
    assert m.events["max"].source == f"{base}/memory.failcnt"  # a count (0 on 6.18 even here: a lower bound)
    assert m.under_oom.value == 0
    kills = [n.message for n in diag.notices if n.code == diagnostics.OOM_KILLS]
    assert kills == [f"1 OOM kill in this cgroup since it was created ({base}/memory.oom_control)"]
    # v1 counts the kill only where the process lived (mm/memcontrol.c memcg_memory_event).
    ancestors = {a.dir: a.oom_kill.value for a in m.ancestors}
    assert ancestors[f"{V1_MEMORY}/{parent.rel}"] == 0, ancestors
    assert diagnostics.ANCESTOR_OOM_KILLS not in [n.code for n in diag.notices]
    assert [n for n in files.notices] == []
    # ... and --print, run in the cgroup, finds it by itself and says so.
    from tests.support.cgroups import print_json

    data, _proc = print_json(job)
    assert data["memory"]["dir"] == base
    assert data["memory.events"]["oom_kill"] == 1, data["memory.events"]
    assert "1 OOM kill in this cgroup since it was created" in "\n".join(data["diagnostics"]["notices"])
    assert f"{V1_MEMORY}/{parent.rel}" in [a["dir"] for a in data["ancestors"]]


@pytest.mark.cgroups
def test_real_v1_sibling_kill_is_not_counted_in_the_parent(v1_cgroups):
    """Unlike v2, v1 keeps a kill in the killed process's own cgroup: a sibling's kill is invisible from here."""
    parent, job = v1_cgroups
    sibling = parent.child("replaced").make()
    sibling.set("memory", "memory.limit_in_bytes", 32 * MiB)
    if os.path.exists(f"{V1_MEMORY}/{sibling.rel}/memory.memsw.limit_in_bytes"):
        sibling.set("memory", "memory.memsw.limit_in_bytes", 32 * MiB)
    assert sibling.run([sys.executable, "-c", "b = b'x' * (200 << 20)"]).returncode == -9
    with open(f"{V1_MEMORY}/{sibling.rel}/memory.oom_control") as f:
        assert "oom_kill 1" in f.read()
    base = f"{V1_MEMORY}/{job.rel}"
    diag = diagnostics.collect(Files("/"), Where("v1", V1_MEMORY, base), None)
    assert diag.memory.events["oom_kill"].value == 0
    assert {a.dir: a.oom_kill.value for a in diag.memory.ancestors}[f"{V1_MEMORY}/{parent.rel}"] == 0
    assert diagnostics.ANCESTOR_OOM_KILLS not in [n.code for n in diag.notices]


@pytest.mark.cgroups
def test_real_v1_quota_throttling_is_counted(v1_cgroups):
    _parent, job = v1_cgroups
    job.set("cpu", "cpu.cfs_period_us", 100000).set("cpu", "cpu.cfs_quota_us", 10000)  # 0.1 CPU
    spin = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass"
    assert job.run([sys.executable, "-c", spin]).returncode == 0
    d = f"{V1_CPU}/{job.rel}"
    diag = diagnostics.collect(Files("/"), None, Where("v1", V1_CPU, d), None, d)
    c = diag.cpu
    assert c.periods.value >= 10 and c.throttled.value >= 5, (c.periods, c.throttled)
    assert c.share > 0.5  # a busy loop under 0.1 CPU is throttled in nearly every period
    assert c.throttled_usec.value > 500_000  # ~0.9 s of every second waited
    assert [n.code for n in diag.notices if n.code == diagnostics.CPU_THROTTLED] == [diagnostics.CPU_THROTTLED]


@pytest.mark.cgroups
def test_real_machine_pressure_parses_if_the_kernel_has_psi():
    if not os.path.exists("/proc/pressure/cpu"):
        pytest.skip("this kernel has no /proc/pressure (built without CONFIG_PSI or booted with psi=0)")
    files = Files("/")
    first = diagnostics.read_pressure(files, None, None)
    second = diagnostics.read_pressure(files, None, None)
    assert files.notices == []
    for res in ("memory", "cpu", "io"):
        a, b = first[res], second[res]
        assert a.scope == "system" and a.source == f"/proc/pressure/{res}"
        assert 0 <= a.some["avg10"] <= 100 and b.some["total"] >= a.some["total"]  # a counter


# -- a real cgroup v2 kernel (user-mode Linux) -------------------------------------------

V2_SCRIPT = """
mkdir -p $CG/app/job
echo "+memory +cpu +pids" > $CG/app/cgroup.subtree_control
echo 64M > $CG/app/job/memory.max
if [ -e $CG/app/job/memory.swap.max ]; then echo 0 > $CG/app/job/memory.swap.max; fi
echo $$ > $CG/app/job/cgroup.procs
uname -r > $OUT/kernel
if [ -e /proc/pressure/memory ]; then echo yes > $OUT/psi; else echo no > $OUT/psi; fi
$CGROUPSIZE --print --json > $OUT/before.json
# an OOM kill: 200 MiB in a 64 MiB cgroup without swap (direct reclaim first: memory stall time)
$PYTHON -c "b = b'x' * (200 << 20)" || echo $? > $OUT/oom-status
# page cache over the limit: reclaimed, never killed
head -c 100M /dev/zero > $OUT/big
cat $OUT/big > /dev/null
rm $OUT/big
# a busy loop under a 0.5-CPU quota (only there: everything is slower under it)
echo "50000 100000" > $CG/app/job/cpu.max
$PYTHON -c "
import time
end = time.monotonic() + 1.5
while time.monotonic() < end:
    pass
"
echo "max 100000" > $CG/app/job/cpu.max
$CGROUPSIZE --print --json > $OUT/after.json
$CGROUPSIZE --print > $OUT/after.txt
"""


@pytest.fixture(scope="module")
def v2_guest():
    """One guest for the v2 tests below: kill, page cache, throttling, with a probe before and after."""
    reason = uml.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    r = uml.run_in_guest(V2_SCRIPT, mem="512M", timeout=180)
    assert r.status == 0, str(r)
    return r, json.loads(r.files["before.json"]), json.loads(r.files["after.json"])


@pytest.mark.v2kernel
def test_real_v2_kill_and_throttling_are_counted(v2_guest):
    r, before, after = v2_guest
    assert r.files.get("oom-status", "").strip() == "137", str(r)
    job, app = "/sys/fs/cgroup/app/job", "/sys/fs/cgroup/app"
    assert before["memory.events"]["oom_kill"] == 0, before
    assert after["memory.events"]["oom_kill"] == 1, after
    assert after["memory.events"]["oom"] >= 1 and after["memory.events"]["max"] >= 1, after["memory.events"]
    assert after["diagnostics"]["sources"]["memory.events.oom_kill"] == f"{job}/memory.events"
    # v2 counts the kill in every level above too (hierarchical since 5.2); all of it is ours.
    assert {a["dir"]: a["oom_kill"] for a in after["ancestors"]} == {app: 1}, after["ancestors"]
    codes = after["diagnostics"]["notice_codes"]
    assert "OOM_KILLS" in codes and "ANCESTOR_OOM_KILLS" not in codes
    assert "1 OOM kill in this cgroup since it was created" in "\n".join(after["diagnostics"]["notices"])
    diagnosis = r.files["after.txt"].split("\ndiagnosis\n", 1)[-1]
    assert "  - 1 OOM kill in this cgroup since it was created" in diagnosis, r.files["after.txt"]
    stat = after["memory.stat"]
    assert all(isinstance(stat[k], int) for k in ("anon", "file", "kernel", "sock", "shmem")), stat
    assert stat["file"] > 0  # the page cache of the file just read
    t = after["diagnostics"]["throttling"]
    assert t["periods"] >= 10 and t["share"] > 0.5 and t["seconds"] > 0.5, t
    assert "CPU_THROTTLED" in codes
    assert not {"MALFORMED", "UNREADABLE"} & set(codes + after["notice_codes"]), after
    if r.files["psi"].strip() == "no":  # a kernel without CONFIG_PSI: said so, nothing invented
        assert after["pressure"] == {"memory": None, "cpu": None, "io": None}
        assert "NO_PSI" in codes


# Debian's user-mode Linux kernels have no CONFIG_PSI; its amd64 kernel (under qemu) has.
PSI_SCRIPT = """
mkdir -p $CG/app/job
echo "+memory +cpu +pids" > $CG/app/cgroup.subtree_control
echo 48M > $CG/app/job/memory.high
echo $$ > $CG/app/job/cgroup.procs
cat $CG/app/job/memory.pressure > $OUT/pressure.before
# 160 MiB touched under a 48 MiB memory.high without swap: reclaim, then throttling (both stall
# time). It runs until the kernel's 10 s average shows the stall (at most a minute), then is killed.
$PYTHON -c "b = b'x' * (160 << 20); import time; time.sleep(600)" &
hog=$!
i=0
while [ $i -lt 120 ] && grep -q "^some avg10=0.00 " $CG/app/job/memory.pressure; do sleep 0.5; i=$((i + 1)); done
kill $hog; wait $hog || true
cat $CG/app/job/memory.pressure > $OUT/pressure.raw
$CGROUPSIZE --print --json > $OUT/after.json
cat $CG/app/job/memory.pressure > $OUT/pressure.raw2
"""


def _psi_line(text, kind="some"):
    line = next(ln for ln in text.splitlines() if ln.startswith(kind + " "))
    return {k: float(v) for k, v in (f.split("=") for f in line.split()[1:])}


@pytest.mark.v2kernel
def test_real_v2_pressure_figures():
    try:
        from tests.support import qemu
    except ImportError:  # tests/ not a package
        from support import qemu
    reason = qemu.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    r = qemu.run_in_guest(PSI_SCRIPT, mem="512M", timeout=150, cpus=1)  # emulated CPUs are host threads
    assert r.status == 0, str(r)
    job = "/sys/fs/cgroup/app/job"
    before, raw, raw2 = (_psi_line(r.files[f]) for f in ("pressure.before", "pressure.raw", "pressure.raw2"))
    assert raw["total"] > before["total"], r.files  # the kernel itself saw the hog stall on memory
    after = json.loads(r.files["after.json"])
    some = after["pressure"]["memory"]["some"]
    assert isinstance(some["avg10"], float) and isinstance(some["total"], int), some
    # read from the cgroup's own file between the two reads of it (the counter only grows)
    assert raw["total"] <= some["total"] <= raw2["total"], (some, r.files)
    assert 0 < some["avg10"] <= 100 and raw["avg10"] > 0, (some, r.files)
    assert after["diagnostics"]["sources"]["pressure.memory"] == f"{job}/memory.pressure"
    assert after["diagnostics"]["pressure_scope"] == {"memory": "cgroup", "cpu": "cgroup", "io": "cgroup"}
    assert "NO_PSI" not in after["diagnostics"]["notice_codes"]


# -- --watch ---------------------------------------------------------------------------------


class Clock:
    """A fake clock and sleep: each sleep advances time and lets the test change the files."""

    def __init__(self, on_sleep=None, interrupt_after=None):
        self.now, self.sleeps, self.on_sleep, self.interrupt_after = 1000.0, 0, on_sleep, interrupt_after

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps += 1
        if self.interrupt_after is not None and self.sleeps >= self.interrupt_after:
            raise KeyboardInterrupt
        self.now += 2.0
        if self.on_sleep:
            self.on_sleep(self.sleeps)


@pytest.fixture
def v2_root(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(os.path.join(FIXTURES, "v2_docker_cache_kills_throttled"), root)
    return root


def _grow(root):
    cg = root / "sys" / "fs" / "cgroup"

    def step(n):  # +1 MiB and 10 more periods, 5 of them throttled, per 2 s
        (cg / "memory.current").write_text(str(480 * MiB + n * MiB) + "\n")
        (cg / "cpu.stat").write_text(f"nr_periods {1000 + 10 * n}\nnr_throttled {410 + 5 * n}\n"
                                     f"throttled_usec {12300000 + 300000 * n}\n")
    return step


def test_watch_lines_for_logs(v2_root):
    import io

    out, clock = io.StringIO(), Clock(_grow(v2_root))
    target = watch.find_target(str(v2_root))
    assert watch.run(target, 2.0, out=out, tty=False, samples=3, sleep=clock.sleep, clock=clock) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\x1b" not in out.getvalue()
    fields = [dict(f.split("=", 1) for f in ln.split()[1:]) for ln in lines]
    assert fields[0]["usage"] == "480Mi/512Mi(94%)" and fields[0]["growth"] == "-"
    assert fields[2]["usage"] == "482Mi/512Mi(94%)"
    assert fields[1]["growth"] == "+0.50MiB/s" and fields[2]["growth"] == "+0.50MiB/s"
    assert fields[0]["throttled"] == "-" and fields[1]["throttled"] == "50%"
    assert fields[0]["oom_kill"] == "2" and fields[0]["file"] == "310Mi" and fields[0]["psi.memory"] == "23.40/5.25"
    assert lines[0].split()[0].endswith("Z")  # a UTC timestamp first


def test_watch_redraws_in_place_on_a_terminal_and_restores_the_cursor(v2_root):
    import io

    out, clock = io.StringIO(), Clock(_grow(v2_root), interrupt_after=3)
    assert watch.run(watch.find_target(str(v2_root)), 2.0, out=out, tty=True, sleep=clock.sleep, clock=clock) == 0
    text = out.getvalue()
    assert text.startswith("\x1b[?25l") and text.endswith("\x1b[?25h")  # Ctrl-C: cursor back, status 0
    frames = text.split("\x1b[J")[:-1]
    assert len(frames) == 3
    n = frames[0].count("\n")
    assert all(f.startswith(f"\x1b[{n}F") for f in frames[1:])  # back up over the last frame, no scrolling
    assert "[" + "#" * 23 + ".] " in frames[2] and "482 MiB of 512 MiB" in frames[2]
    assert "growth +512 KiB/s over 4 s" in frames[2]
    assert "throttled in 50 % of periods in the last 2 s (0.3 s)" in frames[2]
    assert "since the cgroup was created: 41 % of periods (12.9 s)" in frames[2]
    assert "pressure % of the last 10 s stalled, some/full (this cgroup)" in frames[2]
    assert "         memory 23.4/5.2   cpu 40.0/0.0   io 0.1/0.0" in frames[2]
    assert all(len(x.replace("\x1b[K", "")) <= 79 for x in frames[2].split("\n")[1:-1])  # cut to the width


def test_watch_stops_quietly_when_the_reader_goes(v2_root):
    class Gone:
        def write(self, text):
            raise BrokenPipeError

        def flush(self):
            pass

        def isatty(self):
            return False

    assert watch.run(watch.find_target(str(v2_root)), 1.0, out=Gone(), samples=5, sleep=lambda s: None) == 0


def test_watch_keeps_nothing_that_grows(v2_root):
    import io

    (v2_root / "sys" / "fs" / "cgroup" / "cpu.stat").write_text("nr_periods x\n")  # a notice on every sample
    target = watch.find_target(str(v2_root))
    sampler = watch.Sampler(target, 0.1, Clock())
    for _ in range(2000):
        sampler.sample()
    assert len(sampler.ring) == sampler.ring.maxlen == watch.MAX_RING  # 60 s at 0.1 s would be 601
    assert len(sampler.files.notices) == 1  # this sample's only
    out = io.StringIO()
    assert watch.run(target, 0.1, out=out, tty=False, samples=3, sleep=lambda s: None) == 0


def test_watch_with_no_cgroup_files_still_draws(tmp_path):
    import io

    out = io.StringIO()
    target = watch.Target(str(tmp_path), Where("v2", "/sys/fs/cgroup", "/sys/fs/cgroup"), None)
    assert watch.run(target, 1.0, out=out, tty=True, samples=2, sleep=lambda s: None) == 0
    assert "pressure unknown (no PSI)" in out.getvalue()
    assert "OOM kills -   limit hits -" in out.getvalue()


def test_report_rows_name_each_figure_and_its_file():
    exp = _load("v2_k8s_hostns_pod_kills_system_psi")
    diag, _ = diagnose(os.path.join(FIXTURES, "v2_k8s_hostns_pod_kills_system_psi"), exp["given"])
    leaf = exp["given"]["memory"]["dir"]
    rows = {label: (value, source) for label, value, source in diagnostics.memory_rows(diag.memory)
            if label != "above"}
    assert rows["file"] == ("20 MiB (page cache; 20 MiB of it reclaimable)", f"{leaf}/memory.stat")
    assert rows["kernel"] == ("4.6 MiB (slab, kernel stacks, page tables)", f"{leaf}/memory.stat")
    assert rows["events"] == ("low 0, high 0, max 3, oom 1, oom_kill 1", f"{leaf}/memory.events")
    above = [(v, s) for label, v, s in diagnostics.memory_rows(diag.memory) if label == "above"]
    assert above[0] == (f"3 OOM kills in {exp['given']['memory_where'].rsplit('/', 1)[0]}",
                        exp['given']['memory_where'].rsplit('/', 1)[0] + "/memory.events")
    assert len(above) == 3
    assert diagnostics.cpu_rows(diag.cpu) == []  # no periods: no quota to be throttled by
    assert diagnostics.pressure_rows(diag.pressure)[1] == ("cpu", "some 55.0 / 51.1 %", "/proc/pressure/cpu")
    assert diagnostics.pressure_scope(diag.pressure) == "the whole machine"
    diag.pressure["memory"].scope = "cgroup"
    assert diagnostics.pressure_scope(diag.pressure) == "mixed"
    assert diagnostics.pressure_rows(diag.pressure)[1][1] == "some 55.0 / 51.1 % (machine)"
    assert diagnostics.pressure_scope({"memory": None, "cpu": None, "io": None}) == "unknown"


def test_report_json_is_json_dumps_character_for_character():
    """--print --json writes JSON without importing json (which imports re): same text as json.dumps(indent=2)."""
    from cgroupsize.report import to_json

    rng = random.Random(5)
    chars = ['a', '"', '\\', '\n', '\t', '\x00', '\x1f', '\x7f', 'é', '\udcff', '😀', '/', '\u2028', '\x08', '\r']

    def value(depth=0):
        kind = rng.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randrange(-10**20, 10**20)
        if kind == 2:
            return rng.choice([0.0, -0.0, 1.5, 1e300, 1e-300, 0.1, 0.41, float("nan"), float("inf"), float("-inf")])
        if kind in (3, 4, 5):
            return "".join(rng.choice(chars) for _ in range(rng.randrange(6)))
        if kind == 6:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 7:
            return tuple(value(depth + 1) for _ in range(rng.randrange(3)))
        return {"".join(rng.choice(chars) for _ in range(rng.randrange(4))): value(depth + 1)
                for _ in range(rng.randrange(4))}

    for _ in range(5000):
        obj = value()
        assert to_json(obj) == json.dumps(obj, indent=2) + "\n", repr(obj)
    for name in CASES:
        data = json.loads(_tool("--print", "--json", "--root", os.path.join(FIXTURES, name)).stdout)
        assert to_json(data) == json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize("args", [["--print"], ["--print", "--json"]])
def test_print_imports_neither_json_nor_re(args):
    import subprocess

    probe = ("import io, sys\nfrom cgroupsize import cli\nsys.stdout = io.StringIO()\n"
             f"try:\n    cli.main({args!r})\nexcept SystemExit:\n    pass\n"
             "sys.stdout = sys.__stdout__\n"
             "print(sorted(m for m in ('re', 'json', 'typing', 'click') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=REPO,
                          timeout=60, check=False)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_watch_width_of_an_unsized_terminal(monkeypatch):
    class Term:
        def fileno(self):
            return 1

    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((0, 0)))
    assert watch._width(Term()) == 79
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((120, 40)))
    assert watch._width(Term()) == 119
