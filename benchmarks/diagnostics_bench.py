#!/usr/bin/env python3
"""What the diagnostics cost: ``--print`` against ``python -c pass``, and ``--watch`` over a long run.

Prints, in this order:

1. **print**: interleaved rounds (``--rounds``, 3 warm-up rounds dropped) of
   ``python -c pass``, ``python -m cgroupsize --print`` and ``... --print
   --json`` on this machine; each run is ``os.posix_spawn`` + ``os.wait4``
   timed with ``perf_counter_ns`` (and its CPU time from ``wait4``), output to
   /dev/null. Medians, quartiles and the ratio of each median to ``python -c
   pass`` (the target: at most 2x).
2. **collect**: ``diagnostics.collect()`` in-process on this machine's cgroups
   and on every fixture root under ``tests/fixtures/diagnostics`` (median of
   ``--calls``), how many files one call opens, and how many reads the whole
   of ``--print`` (``detect.read_limits``) makes, and of how many files more
   than once.
3. **watch**: ``watch.run()`` in-process on a copy of a fixture root whose
   ``memory.current`` and ``cpu.stat`` change every sample, drawn as on a
   terminal into /dev/null, with no sleep between samples (``--samples``,
   default 50,000: 28 hours at the default 2 s). Resident set size
   (VmRSS) and the interpreter's live allocations (tracemalloc) at ten
   checkpoints: flat numbers mean nothing grows with time.

``--tree DIR`` measures another checkout (a snapshot worktree, so that others'
edits do not change the code mid-run); the default is the one this script is
in. Numbers only: no thresholds are asserted here.

    python3 -m benchmarks.diagnostics_bench                   # everything
    python3 -m benchmarks.diagnostics_bench --only watch --samples 1000000
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _spawn_ns(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    """Wall time and CPU time (user + system, from wait4) of one run, in ns."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        took = time.perf_counter_ns() - start
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed with {status}")
    return took, int((usage.ru_utime + usage.ru_stime) * 1e9)


def bench_print(tree: str, rounds: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGROUPSIZE_")}
    env["PYTHONPATH"] = tree
    py = sys.executable
    commands = {"python -c pass": [py, "-c", "pass"],
                "cgroupsize --print": [py, "-m", "cgroupsize", "--print"],
                "cgroupsize --print --json": [py, "-m", "cgroupsize", "--print", "--json"]}
    wall: dict[str, list[int]] = {name: [] for name in commands}
    cpu: dict[str, list[int]] = {name: [] for name in commands}
    for i in range(rounds + 3):
        for name, argv in commands.items():
            w, c = _spawn_ns(argv, env)
            if i >= 3:
                wall[name].append(w)
                cpu[name].append(c)
    print(f"\n== print: {rounds} interleaved rounds, {py} ({sys.version.split()[0]}), tree {tree}")
    print("  (CPU = user + system time of the process: less disturbed than wall time on a busy machine)")
    print(f"  {'command':<28} {'wall ms':>8} {'q1':>6} {'q3':>6} {'x pass':>6} {'CPU ms':>7} {'x pass':>6}")
    base_w, base_c = statistics.median(wall["python -c pass"]), statistics.median(cpu["python -c pass"])
    for name in commands:
        q = statistics.quantiles(wall[name], n=4)
        mw, mc = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {name:<28} {mw / 1e6:8.1f} {q[0] / 1e6:6.1f} {q[2] / 1e6:6.1f} {mw / base_w:6.2f} "
              f"{mc / 1e6:7.1f} {mc / base_c:6.2f}")
    print("  target: --print within 2x python -c pass")


def bench_collect(tree: str, calls: int) -> None:
    from cgroupsize.cgroups import detect, diagnostics
    from cgroupsize.files import Files

    class _Counting(Files):
        __slots__ = ("opened",)

        def __init__(self, root: str) -> None:
            super().__init__(root)
            self.opened: list[str] = []

        def read(self, inside: str) -> str | None:
            self.opened.append(inside)
            return super().read(inside)

    roots = [("this machine", "/")]
    fixtures = os.path.join(tree, "tests", "fixtures", "diagnostics")
    roots += [(name, os.path.join(fixtures, name)) for name in sorted(os.listdir(fixtures))
              if os.path.isdir(os.path.join(fixtures, name))]
    print(f"\n== collect: diagnostics.collect() in-process, median of {calls} calls")
    print(f"  {'root':<42} {'us/call':>8} {'files':>6} {'--print reads':>13} {'twice':>5}")
    for name, root in roots:
        where = detect.locate(Files(root))
        files = _Counting(root)
        diagnostics.collect(files, where.get("memory"), where.get("cpu"))
        ts = []
        for _ in range(calls):
            t = time.perf_counter_ns()
            diagnostics.collect(Files(root), where.get("memory"), where.get("cpu"))
            ts.append(time.perf_counter_ns() - t)
        reads = _print_reads(root)
        twice = len({p for p in reads if reads.count(p) > 1})
        print(f"  {name:<42} {statistics.median(ts) / 1e3:8.0f} {len(files.opened):6d} {len(reads):13d} {twice:5d}")


def _print_reads(root: str) -> list[str]:
    """The paths one ``--print`` reads (detection and diagnostics), in order, repeats included."""
    from cgroupsize.cgroups import detect
    from cgroupsize.files import Files

    reads: list[str] = []
    real = Files.read

    def counting(self: Files, inside: str) -> str | None:
        reads.append(inside)
        return real(self, inside)

    Files.read = counting  # type: ignore[method-assign]
    try:
        detect.read_limits(root)
    finally:
        Files.read = real  # type: ignore[method-assign]
    return reads


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def bench_watch(tree: str, samples: int) -> None:
    import tracemalloc

    from cgroupsize import watch

    src = os.path.join(tree, "tests", "fixtures", "diagnostics", "v2_docker_cache_kills_throttled")
    work = tempfile.mkdtemp(prefix="cgroupsize-watch-bench-")
    try:
        root = os.path.join(work, "root")
        shutil.copytree(src, root)
        cg = os.path.join(root, "sys", "fs", "cgroup")
        target = watch.find_target(root)
        checkpoints = max(1, samples // 10)
        state = {"n": 0, "t0": time.perf_counter()}
        rows: list[tuple[int, int, int, float]] = []
        tracemalloc.start()

        def step(_seconds: float) -> None:  # the "sleep": change the files, record a checkpoint
            n = int(state["n"]) + 1
            state["n"] = n
            with open(os.path.join(cg, "memory.current"), "w") as f:
                f.write(str((400 << 20) + (n % 1000) * 4096))
            if n % checkpoints == 0:  # live allocations of everything but this script's own bookkeeping
                snap = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, __file__), tracemalloc.Filter(False, tracemalloc.__file__)])
                traced = sum(stat.size for stat in snap.statistics("filename"))
                rows.append((n, _rss_kib(), traced, time.perf_counter() - state["t0"]))

        with open(os.devnull, "w") as out:
            watch.run(target, 2.0, out=out, tty=True, samples=samples, sleep=step)
        tracemalloc.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n== watch: {samples} samples drawn as on a terminal into /dev/null, no sleep")
    print(f"  {'samples':>9} {'VmRSS KiB':>10} {'traced KiB':>11} {'seconds':>8}")
    for n, rss, traced, secs in rows:
        print(f"  {n:9d} {rss:10d} {traced / 1024:11.1f} {secs:8.1f}")
    if len(rows) >= 3:
        mid = rows[len(rows) // 2]
        per = (rows[-1][3] - rows[0][3]) / max(1, rows[-1][0] - rows[0][0]) * 1e6  # tracemalloc included
        print(f"  second half ({mid[0]} -> {rows[-1][0]} samples): VmRSS {rows[-1][1] - mid[1]:+d} KiB, traced "
              f"{(rows[-1][2] - mid[2]) / 1024:+.1f} KiB; whole run: VmRSS {rows[-1][1] - rows[0][1]:+d} KiB; "
              f"{per:.0f} us per sample")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", default=os.path.dirname(HERE), help="checkout to measure (default: this one)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--samples", type=int, default=50_000)
    ap.add_argument("--only", choices=("print", "collect", "watch"))
    args = ap.parse_args(argv)
    tree = os.path.abspath(args.tree)
    sys.path.insert(0, tree)
    if args.only in (None, "print"):
        bench_print(tree, args.rounds)
    if args.only in (None, "collect"):
        bench_collect(tree, args.calls)
    if args.only in (None, "watch"):
        bench_watch(tree, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
