#!/usr/bin/env python3
"""How much does ``cgroupsize`` add to a container's start?

Prints, in this order:

1. **startup**: interleaved rounds (A B C D E F G, A B C ..., ``--rounds``, 3
   warm-up rounds dropped) of ``python -c pass``, ``cgroupsize /bin/true``,
   ``python -m cgroupsize /bin/true``, ``cgroupsize --print``,
   ``cgroupsize --print --json``, ``sh benchmarks/entrypoint.sh /bin/true``
   (the run-java.sh-style baseline) and ``/bin/true``; medians, quartiles and
   the ratio of each median to ``python -c pass``; the targets. Also, in the
   interleaved rounds only: ``cgroupsize /bin/true`` with ``PYTHONPATH`` set
   (pip drops the script's ``-IB``, so it starts itself again isolated: two
   interpreter starts), with ``LANG=C`` (PEP 538 coercion; the exec'd block is
   read from /proc/self/environ either way) and ``python -I -B -m cgroupsize``;
   then what libc's execve through ctypes costs (used only when the
   environment has duplicate names or entries without ``=``).
   Each run is ``os.posix_spawn`` + ``os.wait4`` timed with ``perf_counter_ns``,
   output to /dev/null. ``--hyperfine`` runs the same commands through
   ``hyperfine -N --warmup`` (not interleaved) instead.
2. **peak memory before exec**: the child's ``ru_maxrss`` as GNU ``time -f %M``
   reports it (Linux keeps the pre-exec high-water mark across execve, fs/exec.c
   ``setmax_mm_hiwater_rss``, so for ``cgroupsize /bin/true`` it is the tool's
   own peak RSS; VmHWM in /proc/PID/status is reset by the exec and cannot show
   it; and ``wait4`` straight from this process would not do either: a
   vfork/fork child starts from *this* process's high-water mark), and, as root
   on a v1 host, ``memory.max_usage_in_bytes`` of a fresh memory cgroup the
   command runs in (what a container's memory limit is charged).
3. **imports**: ``-X importtime`` of the fast path: modules beyond a bare
   ``python -c pass`` and the top self-times (median of several runs), for
   ``cgroupsize /bin/true`` and ``cgroupsize --print``.
4. **files**: what ``cgroupsize /bin/true`` opens (``strace -f``, or an
   in-process recorder without strace), each data file's count (any file
   opened twice is flagged), the processes it starts and the execs it makes.
5. **scale**: ``read_limits(root)`` in-process on the small and the large
   fixture roots of ``benchmarks/scale_fixture.py`` (10,000 mountinfo lines,
   a cgroup 30 levels deep), and the same as a whole process.
6. **hostile**: peak RSS (as in 2.) and wall time of ``cgroupsize --root ROOT
   --print --json`` and ``cgroupsize -v --root ROOT -- /bin/true`` on roots
   built to hurt: an 18 MB ``/proc/self/cgroup`` (one huge path; 600,000
   lines) and a mountinfo with 300,000 cgroup lines; targets: <= 48 MiB and
   <= 1 s each.

What is measured: by default a virtualenv (``--venv``, default
``$TMPDIR/cgroupsize-startup-venv``) with this working tree installed by pip, as a container
image would have it: byte-compiled, with pip's ``cgroupsize`` console script,
and without whatever the base interpreter's site-packages run at start-up.
``--no-venv`` measures ``--python`` (default: this interpreter) and the
``cgroupsize`` on PATH instead (``python -m cgroupsize`` if there is none).

    python3 -m benchmarks.startup                 # everything, 30 rounds
    python3 -m benchmarks.startup --rounds 100 --only startup
    python3 -m benchmarks.startup --hyperfine
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENTRYPOINT_SH = os.path.join(HERE, "entrypoint.sh")
V1_MEMORY = "/sys/fs/cgroup/memory"
SECTIONS = ("startup", "memory", "imports", "files", "scale", "hostile")

# Targets, as ratios of medians to ``python -c pass``.
TARGETS = {"cgroupsize /bin/true": 1.3, "cgroupsize --print": 4.0}
# Rows run only in the interleaved start-up rounds: label -> (argv after the tool, variables added).
VARIANTS = {
    "cgroupsize /bin/true, PYTHONPATH set": (["/bin/true"], {"PYTHONPATH": "/nonexistent-app-dir"}),
    "cgroupsize /bin/true, LANG=C": (["/bin/true"], {"LANG": "C", "LC_ALL": ""}),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="rounds run first and dropped (default 3)")
    ap.add_argument("--venv", default=os.path.join(tempfile.gettempdir(), "cgroupsize-startup-venv"),
                    help="virtualenv to create or refresh with this working tree (default: "
                         "$TMPDIR/cgroupsize-startup-venv)")
    ap.add_argument("--no-venv", action="store_true", help="measure --python and the cgroupsize on PATH as they are")
    ap.add_argument("--python", default=sys.executable, help="interpreter (with --no-venv; base of --venv)")
    ap.add_argument("--rev", help="install this git revision into the venv instead of the working tree")
    ap.add_argument("--hyperfine", action="store_true", help="time with hyperfine -N --warmup (not interleaved)")
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    ap.add_argument("--scale-iterations", type=int, default=200, help="in-process read_limits() calls per case")
    ap.add_argument("--json-out", metavar="FILE", help="also write every figure as JSON")
    args = ap.parse_args(argv)
    sections = args.only or SECTIONS

    t = Target.make(args)
    print(f"# cgroupsize start-up benchmark, {datetime.date.today()}, {platform.node() or 'host'}: "
          f"{os.cpu_count()} CPUs, Linux {platform.release()}, Python {t.version}")
    load = os.getloadavg()
    t.notes.append(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
                   "(other work on the machine shows as spread: compare ratios, rerun when busy)")
    for line in t.notes:
        print(f"# {line}")
    print()
    report = {"date": str(datetime.date.today()), "python": t.version, "cpus": os.cpu_count(),
              "kernel": platform.release(), "notes": t.notes}
    if "startup" in sections:
        report["startup"] = startup(t, args)
    if "memory" in sections:
        report["memory"] = memory(t, report.get("startup"))
    if "imports" in sections:
        report["imports"] = imports(t)
    if "files" in sections:
        report["files"] = files(t)
    if "scale" in sections:
        report["scale"] = scale(t, args.scale_iterations, args.rounds)
    if "hostile" in sections:
        report["hostile"] = hostile(t)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2, default=str)
    return 0


# -- what is measured --------------------------------------------------------------


class Target:
    """The interpreter, the console script and the environment the children get."""

    def __init__(self, python, script, env, notes, version):
        self.python = python
        self.script = script  # argv prefix for "cgroupsize"
        self.env = env
        self.notes = notes
        self.version = version
        self.cwd = tempfile.mkdtemp(prefix="cgroupsize-bench-")  # so -m finds the installed package

    @classmethod
    def make(cls, args):
        notes = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
        if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
            notes.append("PYTHONDONTWRITEBYTECODE dropped from the children's environment")
        if args.no_venv:
            python = args.python
            found = shutil.which("cgroupsize", path=os.path.dirname(python) + os.pathsep + env.get("PATH", ""))
            if found:
                script = [found]
                notes.append(f"console script: {found}")
            else:
                script = [python, "-m", "cgroupsize"]
                notes.append("no cgroupsize console script found: 'cgroupsize' below is 'python -m cgroupsize'")
            probe = subprocess.run([python, "-c", "import cgroupsize"], env=env, cwd="/", capture_output=True)
            if probe.returncode != 0:
                env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
                notes.append(f"cgroupsize is not installed for {python}: PYTHONPATH={REPO}")
        else:
            python, script = _venv(args.venv, args.python, env, notes, args.rev)
        version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                                 env=env, capture_output=True, text=True).stdout.strip()
        notes.append(f"interpreter: {python}")
        return cls(python, script, env, notes, version)


def _venv(venv, base, env, notes, rev=None):
    """Create ``venv`` if needed and install the project into it (byte-compiled, like an image)."""
    python = os.path.join(venv, "bin", "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    source, what = REPO, "this working tree"
    if rev:
        import io
        import tarfile

        sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", rev], check=True, capture_output=True,
                             text=True).stdout.strip()
        source, what = tempfile.mkdtemp(prefix="cgroupsize-rev-"), f"git revision {sha}"
        tar = subprocess.run(["git", "-C", REPO, "archive", rev], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            t.extractall(source)
    if not os.path.exists(python):
        subprocess.run([base, "-m", "venv", "--clear", venv], check=True, env=env)
        subprocess.run(pip + [source], check=True, env=env, cwd="/")
    else:
        subprocess.run(pip + ["--force-reinstall", "--no-deps", source], check=True, env=env, cwd="/")
    notes.append(f"venv {venv}: {what} installed by pip (byte-compiled, with its console script)")
    return python, [os.path.join(venv, "bin", "cgroupsize")]


def commands(t: Target):
    """Label -> argv, in the order they run within a round."""
    py, tool = t.python, t.script
    return {
        "python -c pass": [py, "-c", "pass"],
        "cgroupsize /bin/true": tool + ["/bin/true"],
        "python -m cgroupsize /bin/true": [py, "-m", "cgroupsize", "/bin/true"],
        "cgroupsize --print": tool + ["--print"],
        "cgroupsize --print --json": tool + ["--print", "--json"],
        "sh entrypoint.sh /bin/true": ["/bin/sh", ENTRYPOINT_SH, "/bin/true"],
        "/bin/true": ["/bin/true"],
    }


def spawn(argv, env, cwd, stdout=os.devnull):
    """Run ``argv`` to completion; (wall ns, exit status, ru_maxrss KiB, user+system CPU ms)."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    # posix_spawn has no cwd: run from the neutral directory so "-m" finds the installed package.
    here = os.getcwd()
    os.chdir(cwd)
    try:
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(path, argv, env, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter_ns() - t0
    finally:
        os.chdir(here)
    return elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss, (usage.ru_utime + usage.ru_stime) * 1e3


# -- 1. start-up time ----------------------------------------------------------------


def startup(t: Target, args) -> dict:
    cmds = commands(t)
    if args.hyperfine:
        _check(t, cmds, {})
        return _hyperfine(t, cmds, args)
    envs = {label: t.env for label in cmds}
    for label, (rest, extra) in VARIANTS.items():
        cmds[label] = t.script + rest
        envs[label] = {k: v for k, v in {**t.env, **extra}.items() if v != ""}
    cmds["python -I -B -m cgroupsize /bin/true"] = [t.python, "-I", "-B", "-m", "cgroupsize", "/bin/true"]
    envs["python -I -B -m cgroupsize /bin/true"] = t.env
    _check(t, cmds, envs)
    times = {k: [] for k in cmds}
    cpu = {k: [] for k in cmds}
    for r in range(args.warmup + args.rounds):
        for label, argv in cmds.items():
            ns, _, _, cpu_ms = spawn(argv, envs[label], t.cwd)
            if r >= args.warmup:
                times[label].append(ns / 1e6)
                cpu[label].append(cpu_ms)
    print(f"## start-up: {args.rounds} interleaved rounds after {args.warmup} warm-up rounds "
          "(posix_spawn + wait4, ms)")
    result = _table(times, "interleaved", cpu)
    result["ctypes_execve_ms"] = _ctypes_cost(t)
    return result


def _check(t: Target, cmds, envs) -> None:
    """One checked run of each command, so that a broken one is seen."""
    for label, argv in cmds.items():
        proc = subprocess.run(argv, env=envs.get(label, t.env), cwd=t.cwd, capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            print(f"# note: {label} exited {proc.returncode}: {proc.stderr.strip()[:300]}")


_CTYPES = ("import time; t0 = time.perf_counter(); import ctypes; ctypes.CDLL(None).execve; "
           "print((time.perf_counter() - t0) * 1e3)")


def _ctypes_cost(t: Target) -> float:
    """Median ms of ``import ctypes`` + ``CDLL(None)``: what an odd environment block adds before exec."""
    runs = [float(subprocess.run([t.python, "-I", "-c", _CTYPES], env=t.env, cwd=t.cwd, capture_output=True,
                                 text=True, check=True).stdout) for _ in range(9)]
    ms = statistics.median(runs)
    print(f"libc execve through ctypes (only for a block with duplicate names or entries without '='): "
          f"+{ms:.2f} ms (median of 9: import ctypes, CDLL(None))")
    print()
    return ms


def _hyperfine(t, cmds, args):
    hf = shutil.which("hyperfine")
    if not hf:
        sys.exit("hyperfine is not installed (apt-get install hyperfine)")
    out = os.path.join(t.cwd, "hyperfine.json")
    argv = [hf, "-N", "--warmup", str(max(args.warmup, 5)), "--runs", str(args.rounds), "--export-json", out,
            "--style", "none"]
    for label, cmd in cmds.items():
        argv += ["-n", label, " ".join(cmd)]
    subprocess.run(argv, env=t.env, cwd=t.cwd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        data = json.load(f)
    times = {r["command"]: [x * 1e3 for x in r["times"]] for r in data["results"]}
    print(f"## start-up: hyperfine -N, {args.rounds} runs each (one command after the other, ms)")
    return _table(times, "hyperfine")


def _table(times, method, cpu=None) -> dict:
    """Wall-clock medians and ratios (the targets); with ``cpu``, user+system CPU medians beside them.

    CPU time hardly grows when other work shares the machine, wall time does:
    when the two ratios disagree much, the machine was busy.
    """
    base = statistics.median(times["python -c pass"])
    cpu_base = statistics.median(cpu["python -c pass"]) if cpu else None
    rows = {}
    print(f"{'command':<34} {'median':>8} {'p25':>8} {'p75':>8} {'ratio':>7}"
          + (f" {'cpu':>7} {'ratio':>6}" if cpu else "") + "  target (wall ratio)")
    for label, ts in times.items():
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
        med = statistics.median(ts)
        ratio = med / base
        target = TARGETS.get(label)
        verdict = "" if target is None else f"<= {target}x: {'met' if ratio <= target else 'MISSED'}"
        row = {"median_ms": med, "p25_ms": q[0], "p75_ms": q[2], "ratio": ratio, "runs": len(ts)}
        extra = ""
        if cpu:
            c = statistics.median(cpu[label])
            row.update(cpu_ms=c, cpu_ratio=c / cpu_base)
            extra = f" {c:7.2f} {c / cpu_base:5.2f}x"
        print(f"{label:<34} {med:8.2f} {q[0]:8.2f} {q[2]:8.2f} {ratio:6.2f}x{extra}  {verdict}")
        rows[label] = row
    print()
    return {"method": method, "rows": rows}


# -- 2. peak memory before exec ----------------------------------------------------------


def memory(t: Target, started) -> dict:
    print("## peak memory before exec")
    cmds = commands(t)
    result = {"maxrss_kib": {}, "cgroup_max_usage_bytes": {}}
    measure, how = _maxrss_method(t)
    for label, argv in cmds.items():
        result["maxrss_kib"][label] = statistics.median(measure(argv) for _ in range(5))
    why = _v1_memory_unavailable()
    if why is None:
        for label, argv in cmds.items():
            result["cgroup_max_usage_bytes"][label] = statistics.median(_cgroup_peak(argv, t) for _ in range(5))
    else:
        print(f"(cgroup figure skipped: {why})")
    print(f"{'command':<34} {'ru_maxrss':>10} {'cgroup peak':>12}")
    for label in cmds:
        rss = result["maxrss_kib"].get(label)
        cg = result["cgroup_max_usage_bytes"].get(label)
        print(f"{label:<34} {_mib(rss * 1024) if rss else '-':>10} {_mib(cg) if cg else '-':>12}")
    print(f"ru_maxrss: {how}, median of 5; Linux keeps the pre-exec high-water mark across execve, so for")
    print("'... /bin/true' it is the RSS cgroupsize itself reached (shared libpython pages included).")
    print("cgroup peak: memory.max_usage_in_bytes of a fresh v1 memory cgroup the command ran in (median of 5):")
    print("what a container's memory limit is charged, pre-exec included (files already cached elsewhere are not).")
    print()
    return result


_FORK_EXEC = ("import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[2:])\n"
              "print(os.wait4(pid, 0)[2].ru_maxrss)")


def _maxrss_method(t: Target):
    """A way to get a command's ru_maxrss from a *small* parent, and its description.

    The child of a fork or vfork starts with its parent's high-water mark, so
    the parent must be small: GNU time (~1 MiB), else a bare ``python -S``
    (~7 MiB, which then is the floor of every figure).
    """
    gnu = "/usr/bin/time"
    probe = subprocess.run([gnu, "--version"], capture_output=True) if os.access(gnu, os.X_OK) else None
    if probe is not None and b"GNU" in probe.stdout + probe.stderr:
        def measure(argv):
            out = os.path.join(t.cwd, "maxrss")
            spawn([gnu, "-f", "%M", "-o", out] + argv, t.env, t.cwd)
            with open(out) as f:
                return int(f.read().split()[-1])
        return measure, "GNU time -f %M"

    def measure(argv):
        out = os.path.join(t.cwd, "maxrss")
        spawn([t.python, "-S", "-c", _FORK_EXEC] + [argv[0] if "/" in argv[0] else shutil.which(argv[0])] + argv,
              t.env, t.cwd, stdout=out)
        with open(out) as f:
            return int(f.read().split()[-1])
    return measure, "wait4() in a bare 'python -S' parent (its own ~7 MiB is the floor; install GNU time)"


def _mib(n):
    return f"{n / (1 << 20):.1f} MiB"


def _v1_memory_unavailable():
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.isfile(os.path.join(V1_MEMORY, "memory.max_usage_in_bytes")):
        return f"no v1 memory controller at {V1_MEMORY}"
    return None


def _cgroup_peak(argv, t: Target) -> int:
    """memory.max_usage_in_bytes after running ``argv`` alone in a new v1 memory cgroup."""
    path = os.path.join(V1_MEMORY, f"cgroupsize-bench-{os.getpid()}")
    os.mkdir(path)
    try:
        # A tiny sh moves itself into the cgroup, then execs the command: nothing of
        # this (big) Python process is copied into the cgroup by a fork.
        mover = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path] + argv
        spawn(mover, t.env, t.cwd)
        with open(os.path.join(path, "memory.max_usage_in_bytes")) as f:
            return int(f.read())
    finally:
        for _ in range(50):
            try:
                os.rmdir(path)
                break
            except OSError:  # the last task is still leaving
                time.sleep(0.01)


# -- 3. imports ---------------------------------------------------------------------------

_OF_NOTE = ("click", "psutil", "subprocess", "json", "logging", "importlib.metadata", "dataclasses", "inspect",
            "typing", "re", "enum", "signal", "math", "__future__", "locale", "platform", "datetime")
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _importtime(argv, t, runs=7):
    """({module: median self us} in import order, {module: the module that imported it})."""
    samples = {}
    order = []
    parents = {}
    for _ in range(runs):
        proc = subprocess.run(argv[:1] + ["-X", "importtime"] + argv[1:], env=t.env, cwd=t.cwd,
                              capture_output=True, text=True)
        lines = [(len(m.group(3)), m.group(4), int(m.group(1))) for m in _IMPORT_LINE.finditer(proc.stderr)]
        for i, (depth, name, us) in enumerate(lines):
            if name not in samples:
                samples[name] = []
                order.append(name)
                # importtime prints a module's imports before the module itself, one level deeper
                parents[name] = next((n for d, n, _ in lines[i + 1:] if d < depth), "top level")
            samples[name].append(us)
    return {n: statistics.median(samples[n]) for n in order}, parents


def imports(t: Target) -> dict:
    print("## imports (python -X importtime, median self-time of 7 runs, us)")
    bare = _importtime([t.python, "-c", "pass"], t)[0]
    script = _script_as_python_argv(t)
    out = {"bare_python_total_us": sum(bare.values())}
    for label, extra in (("cgroupsize /bin/true", ["/bin/true"]), ("cgroupsize --print", ["--print"])):
        mods, parents = _importtime(script + extra, t)
        beyond = {n: us for n, us in mods.items() if n not in bare}
        top = sorted(beyond.items(), key=lambda kv: -kv[1])[:10]
        total = sum(beyond.values())
        print(f"{label}: {len(beyond)} modules beyond python -c pass, {total / 1000:.1f} ms of self time")
        for name, us in top:
            print(f"  {us / 1000:6.2f} ms  {name}")
        heavy = [n for n in beyond if n in _OF_NOTE]
        print("  of note (imported by): " + (", ".join(f"{n} ({parents[n]})" for n in heavy) or "none"))
        out[label] = {"modules": list(beyond), "total_us": total, "top": top}
    print()
    return out


def _script_as_python_argv(t: Target):
    """``cgroupsize`` as [python, SCRIPT] so that -X options can be passed."""
    if len(t.script) == 1:
        return [t.python, t.script[0]]
    return list(t.script)


# -- 4. files ---------------------------------------------------------------------------

_TRACE = re.compile(r'^(\d+)\s+(openat|open|execve|clone3?|fork|vfork)'
                    r'\((?:AT_FDCWD, )?"?([^",]*)"?.*?\)\s+=\s+(-?\d+)(.*)$')

_PROBE = r"""
import builtins, io, os, sys
opened = []
real_open, real_os_open = builtins.open, os.open
def rec_open(file, *a, **k):
    opened.append(str(file)); return real_open(file, *a, **k)
def rec_os_open(path, *a, **k):
    opened.append(str(path)); return real_os_open(path, *a, **k)
builtins.open = io.open = rec_open
os.open = rec_os_open
from cgroupsize import cli, launch
execs = []
launch._execve = lambda path, argv, env: execs.append(path)
try:
    cli.main(["--", "/bin/true"])
except SystemExit:
    pass
sys.stdout.write(repr((opened, execs)))
"""


# Files read for --print's report (usage, peak, OOM kills, throttling, weight) that no plan uses.
_DIAGNOSTICS = ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control", "memory.current",
                "memory.peak", "memory.events", "cpu.stat", "cpu.shares", "cpu.weight")


def files(t: Target) -> dict:
    strace = shutil.which("strace")
    if strace:
        print("## files opened by cgroupsize /bin/true (strace -f)")
        log = os.path.join(t.cwd, "strace.log")
        subprocess.run([strace, "-f", "-qq", "-o", log, "-e", "trace=openat,open,execve,clone,clone3,fork,vfork"]
                       + t.script + ["/bin/true"], env=t.env, cwd=t.cwd, capture_output=True)
        opened, missing, execs, forks = [], [], [], 0
        with open(log) as f:
            for line in f:
                m = _TRACE.match(line)
                if not m:
                    continue
                call, path, rc = m.group(2), m.group(3), int(m.group(4))
                if call in ("openat", "open"):
                    (opened if rc >= 0 else missing).append(path)
                elif call == "execve" and rc == 0:
                    execs.append(path)
                elif call.startswith(("clone", "fork", "vfork")) and rc > 0:
                    forks += 1
    else:
        print("## files opened by cgroupsize /bin/true (in-process recorder: strace is not installed)")
        proc = subprocess.run([t.python, "-c", _PROBE], env=t.env, cwd=t.cwd, capture_output=True, text=True)
        opened, execs = eval(proc.stdout or "([], [])")  # our own repr() from _PROBE
        missing, forks = [], None
    data = [p for p in opened if p.startswith(("/proc/", "/sys/"))]
    startup = [p for p in opened if not p.startswith(("/proc/", "/sys/"))]
    counts = {}
    for p in data:
        counts[p] = counts.get(p, 0) + 1
    twice = sorted(p for p, n in counts.items() if n > 1)
    missing_data = [p for p in missing if p.startswith(("/proc/", "/sys/"))]
    print(f"/proc and /sys files read: {len(data)} opens of {len(counts)} files; "
          f"{len(missing_data)} absent ones tried; {len(startup)} other opens (interpreter start, imports)")
    for p, n in counts.items():
        note = "   (diagnostics for --print only)" if p.endswith(_DIAGNOSTICS) else ""
        print(f"  {'TWICE ' if n > 1 else ''}{n}x {p}{note}")
    for p in missing_data:
        print(f"  absent: {p}")
    print(f"opened twice: {', '.join(twice) if twice else 'none'}")
    print(f"of which diagnostics only --print shows: {sum(p.endswith(_DIAGNOSTICS) for p in counts)}")
    print(f"execs: {' -> '.join(execs) or '?'}; helper processes started: "
          f"{'unknown (no strace)' if forks is None else forks}")
    print()
    return {"data": counts, "absent": missing_data, "twice": twice, "other_opens": len(startup),
            "execs": execs, "forks": forks}


# -- 5. scale -------------------------------------------------------------------------------

_SCALE_PROBE = r"""
import sys, time, statistics
root, n = sys.argv[1], int(sys.argv[2])
from cgroupsize.cgroups.detect import read_limits
ts = []
for _ in range(n):
    t0 = time.perf_counter_ns(); read_limits(root); ts.append(time.perf_counter_ns() - t0)
print(statistics.median(ts) / 1e6)
"""

_SCALE_ONCE = "import sys; from cgroupsize.cgroups.detect import read_limits; read_limits(sys.argv[1])"


def scale(t: Target, iterations, rounds) -> dict:
    from benchmarks import scale_fixture

    print(f"## scale: read_limits(root) on fixture roots (benchmarks/scale_fixture.py): in-process median of "
          f"{iterations} calls; whole process 'python -c \"read_limits(root)\"', {rounds} interleaved rounds")
    tmp = tempfile.mkdtemp(prefix="cgroupsize-scale-")
    roots = scale_fixture.write_all(tmp)
    result = {}
    whole = {name: [] for name in roots}
    for r in range(rounds + 3):  # interleaved, 3 warm-up rounds
        for name, (root, _) in roots.items():
            ns = spawn([t.python, "-c", _SCALE_ONCE, root], t.env, t.cwd)[0]
            if r >= 3:
                whole[name].append(ns / 1e6)
    print(f"{'fixture':<10} {'lines':>6} {'depth':>5} {'in-process':>11} {'whole process':>14}")
    for name, (root, expected) in roots.items():
        proc = subprocess.run([t.python, "-c", _SCALE_PROBE, root, str(iterations)], env=t.env, cwd=t.cwd,
                              capture_output=True, text=True, check=True)
        inproc = float(proc.stdout)
        result[name] = {"lines": expected["mountinfo_lines"], "depth": expected["depth"],
                        "in_process_ms": inproc, "whole_process_ms": statistics.median(whole[name])}
        print(f"{name:<10} {expected['mountinfo_lines']:>6} {expected['depth']:>5} {inproc:9.3f}ms "
              f"{result[name]['whole_process_ms']:12.2f}ms")
    for variant in ("v2", "v1"):
        small, large = result[f"{variant}-small"], result[f"{variant}-large"]
        r_in = large["in_process_ms"] / small["in_process_ms"]
        r_whole = large["whole_process_ms"] / small["whole_process_ms"]
        result[f"{variant}-ratio"] = {"in_process": r_in, "whole_process": r_whole}
        print(f"{variant} large/small: in-process {r_in:.1f}x, whole process {r_whole:.2f}x "
              f"(target <= 2x: {'met' if r_in <= 2 else 'MISSED'} in-process, "
              f"{'met' if r_whole <= 2 else 'MISSED'} whole process)")
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    return result



# -- 6. hostile input -------------------------------------------------------------------------

HOSTILE_TARGETS = {"rss_mib": 48, "seconds": 1.0}


def _hostile_roots(top: str) -> dict:
    """Name -> fixture root: the small v2 container of scale_fixture with one file made huge."""
    from benchmarks import scale_fixture

    def root(name, rel, write):
        path = os.path.join(top, name)
        scale_fixture.write(path, "v2", "small")
        with open(os.path.join(path, rel), "a" if rel.endswith("mountinfo") else "w") as f:
            write(f)
        return path

    def one_path(f):
        f.write("0::/" + "x/" * (9 << 20) + "\n")  # 18 MiB

    def many_lines(f):
        for i in range(600_000):
            f.write(f"{i + 1}:name=h{i}:/{'k' * 16}\n")  # ~18 MB
        f.write("0::/\n")

    def cgroup_mounts(f):
        for i in range(300_000):
            f.write(f"{1000 + i} 30 0:{40 + i % 90} /pod{i} /host/ctr{i}/sys/fs/cgroup rw,nosuid shared:{i} "
                    f"- cgroup2 cgroup2 rw,nsdelegate\n")

    return {"18 MB /proc/self/cgroup, one path": root("one-path", "proc/self/cgroup", one_path),
            "18 MB /proc/self/cgroup, 600k lines": root("many-lines", "proc/self/cgroup", many_lines),
            "mountinfo + 300k cgroup lines": root("mounts", "proc/self/mountinfo", cgroup_mounts)}


def hostile(t: Target) -> dict:
    print(f"## hostile input: peak RSS and wall time (median of 3); targets <= {HOSTILE_TARGETS['rss_mib']} MiB, "
          f"<= {HOSTILE_TARGETS['seconds']:g} s")
    top = tempfile.mkdtemp(prefix="cgroupsize-hostile-")
    measure, how = _maxrss_method(t)
    result = {}
    print(f"{'input':<38} {'command':<26} {'exit':>4} {'peak RSS':>10} {'wall':>8}  verdict")
    try:
        for name, root in _hostile_roots(top).items():
            for label, rest in (("--print --json", ["--print", "--json"]),
                                ("-v -- /bin/true", ["-v", "--", "/bin/true"])):
                argv = t.script + ["--root", root] + rest
                runs = [spawn(argv, t.env, t.cwd) for _ in range(3)]
                wall = statistics.median(r[0] for r in runs) / 1e9
                rss = statistics.median(measure(argv) for _ in range(3)) / 1024
                ok = rss <= HOSTILE_TARGETS["rss_mib"] and wall <= HOSTILE_TARGETS["seconds"]
                print(f"{name:<38} {label:<26} {runs[0][1]:>4} {rss:7.1f} MiB {wall:6.2f} s  "
                      f"{'met' if ok else 'MISSED'}")
                result[f"{name} | {label}"] = {"rss_mib": rss, "seconds": wall, "exit": runs[0][1]}
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f"peak RSS: {how}")
    print()
    return result


if __name__ == "__main__":
    sys.exit(main())
