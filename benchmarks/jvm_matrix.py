#!/usr/bin/env python3
"""JVM matrix: application-like Java workloads in real containers, plain java vs cgroupsize vs Paketo.

Every cell is one workload at one memory limit in one mode, in a fresh ``runc``
container whose ``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes``
are both the limit (``oom.Harness``); ``oom.Bench`` runs it under a ``sh``
wrapper that reports the exit status, ``memory.oom_control``'s ``oom_kill``,
``memory.failcnt``, ``memory.max_usage_in_bytes`` (the peak) and the wall time.

Modes:

- ``plain``: ``java ...`` with JDK 17's defaults (container support on).
- ``cgroupsize``: ``python3 -m cgroupsize -- java ...`` from a snapshot of
  ``--rev`` (default HEAD); the flags it adds come from ``--dry-run --json``
  run in the same container shape.
- ``paketo``: the flags of Paketo's memory calculator (paketo-buildpacks/libjvm,
  ``calc/`` and ``helper/memory_calculator.go``), computed here and passed in
  ``JAVA_TOOL_OPTIONS`` as the buildpack does; a limit it cannot fit is a
  ``refused`` cell (the buildpack's helper fails and the app never starts).

Workloads (``workloads/jvm/``, compiled with ``javac`` into a temporary
directory at run time): ``app.App`` loads generated application classes
(five per feature: entity, DTO, repository, service, controller; compiled once
from ``feature.java.tmpl`` and copied under new names by rewriting the class
files' constant pools) from a plain class path (a directory plus jars) or from
a Spring Boot-style fat jar (``BOOT-INF/classes`` + stored ``BOOT-INF/lib/*.jar``,
read in place by ``boot.NestedJarClassLoader``), parks request threads on deep
stacks, holds direct ``ByteBuffer``s and fills a ``SoftReference`` cache to
``-Xmx``. Then the verdict: every cell where plain ``java`` completes and
cgroupsize does not, every kernel kill through cgroupsize, and the heap-only
probe (the largest live set ``workloads/HeapHog.java`` completes with at 1 GiB,
32 MiB steps).

Needs root, ``runc``, a writable cgroup v1 hierarchy, ``java``/``javac``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

from benchmarks import oom  # containers, counters, the --rev snapshot

HERE = Path(__file__).resolve().parent

rh = oom.rh
SRC = HERE / "workloads" / "jvm"
MiB = 1 << 20
LIMITS = (256, 512, 1024, 2048)
MODES = ("plain", "cgroupsize", "paketo")
# cgroupsize with what the workload brings beyond the plan's default assumptions declared
# (CGROUPSIZE_JVM_THREADS): only for workloads that declare something; not run by default.
ALL_MODES = (*MODES, "declared")
PER_MODULE = 1000  # generated classes per jar (200 features x 5 classes)
FRAMES = 512  # Workers.deep() frames per request thread (~200 KiB of stack touched)


# -- workloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """``layout``: ``base`` (the app alone), ``cp`` (-cp dir:lib/*) or ``boot`` (-jar fat jar)."""
    layout: str
    classes: int
    args: tuple
    about: str
    declare: tuple = ()  # (variable, value) pairs for the "declared" mode


def _cache(*more):
    return ("--cache", "1.5", *more)


def _threads(n):
    return (("CGROUPSIZE_JVM_THREADS", str(n)),)


WORKLOADS = {
    **{f"cp-{k}k": Workload("cp", k * 1000, ("--components",),
                            f"{k}k classes from a class path directory + jars")
       for k in (5, 20, 35, 50)},
    **{f"boot-{k}k": Workload("boot", k * 1000, ("--components",),
                              f"{k}k classes from a fat jar's nested jars")
       for k in (5, 20, 35, 50)},
    "threads-300": Workload("base", 0, _cache("--threads", "300", "--frames", str(FRAMES)),
                            "300 deep request threads + soft cache", _threads(300)),
    "threads-800": Workload("base", 0, _cache("--threads", "800", "--frames", str(FRAMES)),
                            "800 deep request threads + soft cache", _threads(800)),
    "direct-64": Workload("base", 0, _cache("--direct", "64"), "64 MiB direct buffers + soft cache"),
    "direct-256": Workload("base", 0, _cache("--direct", "256"),
                           "256 MiB direct buffers + soft cache"),
    "soft-cache": Workload("base", 0, _cache(), "soft cache filling the heap"),
    "mix-20k": Workload("boot", 20000, ("--components", "--direct", "64", *_cache(
        "--threads", "100", "--frames", str(FRAMES))),
        "20k classes (fat jar) + 64 MiB direct + 100 threads + soft cache", _threads(100)),
    "mix-35k": Workload("boot", 35000, ("--components", "--direct", "32", *_cache(
        "--threads", "300", "--frames", str(FRAMES))),
        "35k classes (fat jar) + 32 MiB direct + 300 threads + soft cache", _threads(300)),
    # not in the default matrix: deliberate failures for the smoke test
    "heap-over": Workload("base", 0, ("--retain", "400"), "400 MiB held strongly (over any small heap)"),
}
DEFAULT_WORKLOADS = [w for w in WORKLOADS if w != "heap-over"]
QUICK_WORKLOADS = ["soft-cache", "heap-over"]


# -- building the workloads ---------------------------------------------------------------------


NOUNS = ("Order", "Invoice", "Customer", "Shipment", "Payment", "Product", "Account", "Ticket",
         "Booking", "Supplier", "Warehouse", "Contract", "Refund", "Coupon", "Review", "Address")
TEMPLATE_PKG, TEMPLATE_NAME, TEMPLATE_SEED = "tmpl/zzpkg", "Zzname", 4242424242


class Build:
    """Everything compiled and packaged for one run, under ``root`` (bind-mounted read-only)."""

    def __init__(self, root: Path):
        self.root = root
        self.base = root / "base"  # app.* alone
        self.cp_classes = root / "cp-classes"  # app.* + module 0 (the application's own code)
        self.template: dict[str, bytes] = {}
        self.heaphog = ""
        self.module_jars: list[Path] = []

    def compile(self):
        """javac the app, the launcher and one feature; HeapHog for the heap-only probe."""
        javac = shutil.which("javac")
        if not javac:
            raise SystemExit("javac not found (the JVM matrix compiles workloads/jvm/*)")
        src = self.root / "src" / TEMPLATE_PKG
        src.mkdir(parents=True)
        text = (SRC / "feature.java.tmpl").read_text()
        parts = re.split(r"^//// FILE: (\S+)\n", text, flags=re.MULTILINE)[1:]
        for name, body in zip(parts[::2], parts[1::2], strict=True):
            body = (body.replace("PKG", TEMPLATE_PKG.replace("/", "."))
                    .replace("NAME", TEMPLATE_NAME).replace("SEED", str(TEMPLATE_SEED)))
            (src / name.replace("NAME", TEMPLATE_NAME)).write_text(body)
        out = self.root / "javac"
        sources = [*map(str, src.glob("*.java")), *map(str, SRC.glob("app/*.java")),
                   *map(str, SRC.glob("boot/*.java"))]
        subprocess.run([javac, "-d", str(out), *sources], check=True)
        for f in (out / TEMPLATE_PKG).glob("*.class"):
            self.template[f.name[:-len(".class")]] = f.read_bytes()
        shutil.copytree(out / "app", self.base / "app")
        shutil.copytree(out / "app", self.cp_classes / "app")
        self.boot_classes = out / "boot"

    def feature(self, module: int, index: int) -> tuple[str, dict[str, bytes]]:
        """The five class files of one feature: (controller class name, {path: bytes})."""
        pkg = f"com/example/m{module:02d}/p{index // 4:02d}"  # 20 classes per package
        name = f"{NOUNS[index % len(NOUNS)]}{module * 200 + index}"
        seed = 1000 + module * 7919 + index * 104729
        files = {}
        for cls, data in self.template.items():
            files[f"{pkg}/{cls.replace(TEMPLATE_NAME, name)}.class"] = rename_class(
                data, {TEMPLATE_PKG: pkg, TEMPLATE_NAME: name}, TEMPLATE_SEED, seed)
        return f"{pkg.replace('/', '.')}.{name}Controller", files

    def module(self, module: int) -> tuple[list[str], dict[str, bytes]]:
        controllers, files = [], {}
        for i in range(PER_MODULE // 5):
            c, f = self.feature(module, i)
            controllers.append(c)
            files.update(f)
        return controllers, files

    def make_modules(self, count: int):
        """Module 0 into the class path directory; modules 1.. as lib/module-NN.jar."""
        lib = self.root / "lib"
        lib.mkdir(exist_ok=True)
        for m in range(len(self.module_jars), count):
            controllers, files = self.module(m)
            index = ("\n".join(controllers) + "\n").encode()
            if m == 0:
                for path, data in files.items():
                    p = self.cp_classes / path
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_bytes(data)
                p = self.cp_classes / "META-INF/app/components.idx"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(index)
                self.module_jars.append(self.cp_classes)
                continue
            jar = lib / f"module-{m:02d}.jar"
            with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
                z.writestr("META-INF/app/components.idx", index)
                for path, data in files.items():
                    z.writestr(path, data)
            self.module_jars.append(jar)

    def cp_layout(self, classes: int) -> str:
        """``dir:lib/*`` with exactly ``classes`` generated classes (jars hard-linked per layout)."""
        modules = classes // PER_MODULE
        self.make_modules(modules)
        lib = self.root / f"cp-{classes}" / "lib"
        if not lib.exists():
            lib.mkdir(parents=True)
            for jar in self.module_jars[1:modules]:
                os.link(jar, lib / jar.name)
        return f"{self.cp_classes}:{lib}/*"

    def fat_jar(self, classes: int) -> str:
        """A Spring Boot-style executable jar with ``classes`` generated classes."""
        modules = classes // PER_MODULE
        self.make_modules(modules)
        jar = self.root / f"boot-{classes}.jar"
        if jar.exists():
            return str(jar)
        with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: boot.BootLauncher\n"
                                               "Start-Class: app.App\n")
            for f in sorted(self.boot_classes.glob("*.class")):
                z.write(f, f"boot/{f.name}")
            for f in sorted(self.cp_classes.rglob("*")):
                if f.is_file():
                    z.write(f, f"BOOT-INF/classes/{f.relative_to(self.cp_classes)}")
            for m in self.module_jars[1:modules]:
                z.write(m, f"BOOT-INF/lib/{m.name}", compress_type=zipfile.ZIP_STORED)
        return str(jar)

    def argv(self, w: Workload) -> list[str]:
        if w.layout == "cp":
            return ["java", "-cp", self.cp_layout(w.classes), "app.App", *w.args]
        if w.layout == "boot":
            return ["java", "-jar", self.fat_jar(w.classes), *w.args]
        return ["java", "-cp", str(self.base), "app.App", *w.args]

    def app_paths(self, w: Workload) -> list[str]:
        """What a buildpack would see as the application (Paketo explodes a fat jar)."""
        self.argv(w)  # built
        if w.layout == "cp":
            return [str(self.cp_classes), str(self.root / f"cp-{w.classes}" / "lib")]
        if w.layout == "boot":
            return [self.fat_jar(w.classes)]
        return [str(self.base)]


def rename_class(data: bytes, names: dict[str, str], seed_from: int, seed_to: int) -> bytes:
    """A class file with every constant-pool string's ``names`` replaced (and one long constant).

    Constant-pool entries are length-prefixed and referred to by index only, so a
    UTF-8 entry may change length without touching the rest of the file.
    """
    out = bytearray(data[:10])
    count = struct.unpack_from(">H", data, 8)[0]
    p, i = 10, 1
    sizes = {3: 4, 4: 4, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4,
             19: 2, 20: 2}
    while i < count:
        tag = data[p]
        if tag == 1:
            n = struct.unpack_from(">H", data, p + 1)[0]
            s = data[p + 3:p + 3 + n]
            for old, new in names.items():
                s = s.replace(old.encode(), new.encode())
            out += bytes([1]) + struct.pack(">H", len(s)) + s
            p += 3 + n
        elif tag in (5, 6):  # long, double: two slots
            v = data[p + 1:p + 9]
            if tag == 5 and struct.unpack(">q", v)[0] == seed_from:
                v = struct.pack(">q", seed_to)
            out += bytes([tag]) + v
            p += 9
            i += 1
        else:
            out += data[p:p + 1 + sizes[tag]]
            p += 1 + sizes[tag]
        i += 1
    return bytes(out + data[p:])


# -- Paketo's memory calculator -----------------------------------------------------------------


PAKETO_CLASS_SIZE = 5_800  # bytes per loaded class (calc/calculator.go ClassSize)
PAKETO_CLASS_OVERHEAD = 14_000_000  # calc/calculator.go ClassOverhead
PAKETO_LOAD_FACTOR = 0.35  # helper/memory_calculator.go ClassLoadFactor
PAKETO_THREADS = 250  # helper/memory_calculator.go DefaultThreadCount
PAKETO_CODE_CACHE = 240 * MiB  # calc/reserved_code_cache.go
PAKETO_DIRECT = 10 * MiB  # calc/direct_memory.go
PAKETO_STACK = 1 * MiB  # calc/stack.go


def paketo_size(value: int) -> str:
    """calc/size.go Size.String(): whole KiB, in the largest unit that divides it."""
    k = value // 1024
    for unit, div in (("T", 1 << 30), ("G", 1 << 20), ("M", 1 << 10)):
        if k and k % div == 0:
            return f"{k // div}{unit}"
    return f"{k}K" if k else "0"


def paketo_flags(limit: int, jvm_classes: int, app_classes: int) -> tuple[list[str] | None, str]:
    """The flags libjvm's helper puts in JAVA_TOOL_OPTIONS, or (None, its error)."""
    loaded = int((jvm_classes + app_classes) * PAKETO_LOAD_FACTOR)
    metaspace = PAKETO_CLASS_OVERHEAD + PAKETO_CLASS_SIZE * loaded
    fixed = PAKETO_DIRECT + metaspace + PAKETO_CODE_CACHE + PAKETO_STACK * PAKETO_THREADS
    why = (f"loaded classes 0.35 x ({jvm_classes} JVM + {app_classes} app) = {loaded}; "
           f"fixed regions {fixed / MiB:.0f} MiB (direct 10M, metaspace "
           f"{metaspace / MiB:.0f}M, code cache 240M, 250 x 1M stacks)")
    if fixed > limit:
        return None, f"refused: {why} > {limit / MiB:.0f} MiB limit"
    flags = [f"-XX:MaxDirectMemorySize={paketo_size(PAKETO_DIRECT)}", f"-Xmx{paketo_size(limit - fixed)}",
             f"-XX:MaxMetaspaceSize={paketo_size(metaspace)}",
             f"-XX:ReservedCodeCacheSize={paketo_size(PAKETO_CODE_CACHE)}",
             f"-Xss{paketo_size(PAKETO_STACK)}"]
    return flags, why


def jvm_class_count() -> int:
    """Classes in the JDK's lib/modules image (libjvm counts the same with its jimage reader)."""
    java = shutil.which("java")
    home = Path(os.path.realpath(java)).parent.parent if java else None
    jimage = shutil.which("jimage") or (str(home / "bin" / "jimage") if home else None)
    try:
        out = subprocess.run([jimage, "list", str(home / "lib" / "modules")], capture_output=True,
                             text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError, TypeError):
        return 26588  # OpenJDK 17.0.15's full JDK image
    return sum(1 for line in out.splitlines() if line.strip().endswith(".class"))


def app_class_count(paths) -> int:
    """.class files under directories and in jars, nested jars included (an exploded fat jar)."""
    total = 0
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        for f in files:
            if f.suffix == ".class":
                total += 1
            elif f.suffix == ".jar":
                total += _jar_classes(zipfile.ZipFile(f))
    return total


def _jar_classes(z: zipfile.ZipFile) -> int:
    n = 0
    for name in z.namelist():
        if name.endswith(".class"):
            n += 1
        elif name.endswith(".jar"):
            import io
            n += _jar_classes(zipfile.ZipFile(io.BytesIO(z.read(name))))
    return n


# -- running cells -------------------------------------------------------------------------------


OOME_SPACES = (("Java heap space", "heap"), ("GC overhead", "heap"), ("Metaspace", "metaspace"),
               ("Compressed class space", "class-space"), ("direct buffer memory", "direct"),
               ("Direct buffer memory", "direct"), ("native thread", "thread"))


def outcome(run: oom.Run) -> str:
    """completed / OOME:<space> / kernel-kill / timeout / other: ..., from an oom.Run."""
    base = run.outcome
    if base.startswith("NO-PLAN"):
        return "other: cgroupsize failed open"
    if base == "ok":
        return "completed"
    if base in oom.KILLED_OUTCOMES:
        return "kernel-kill"
    if base == "java-OOM":
        for text, space in OOME_SPACES:
            if text in run.error:
                return f"OOME:{space}"
        if "UncaughtExceptionHandler" in run.error:
            return "OOME:unreported"  # the JVM could not print it (metaspace full, in practice)
        return "OOME:other"
    if base == "timeout":
        return "timeout"
    if base == "gc-thrash":
        return "other: GC thrash"
    if run.returncode == 137 and run.failcnt:
        return "kernel-kill"
    return f"other: rc={run.returncode}"


@dataclass
class Cell:
    workload: str
    limit_mib: int
    mode: str
    outcome: str = ""
    peak_mib: float | None = None
    wall_s: float | None = None
    oom_kill: int | None = None
    failcnt: int | None = None
    flags: str = ""  # what the mode added: cgroupsize's --dry-run, Paketo's flags
    values: dict = field(default_factory=dict)
    error: str = ""
    tail: str = ""
    argv: list = field(default_factory=list)
    plan: list = field(default_factory=list)  # cgroupsize --dry-run notes: its assumptions
    warnings: list = field(default_factory=list)  # cgroupsize --dry-run warnings

    def warned(self) -> bool:
        """Did the plan say the limit is too small for it (outside its assumptions)?"""
        return bool(self.warnings) or "cgroupsize: warning:" in self.tail

    def short(self) -> str:
        o = {"completed": "ok", "kernel-kill": "KILL", "refused": "refused"}.get(
            self.outcome, self.outcome.replace("OOME:", "OOME "))
        if self.outcome == "refused":
            return o
        peak = f" {self.peak_mib:.0f}M" if self.peak_mib is not None else ""
        return f"{o}{peak} {self.wall_s or 0:.0f}s"


class Matrix:
    def __init__(self, bench: oom.Bench, build: Build, timeout: float, modes):
        self.bench, self.build, self.timeout = bench, build, timeout
        self.jvm_classes = jvm_class_count() if "paketo" in modes else None
        self._app_classes: dict[str, int] = {}

    def app_classes(self, w: Workload) -> int:
        key = "|".join(self.build.app_paths(w))
        if key not in self._app_classes:
            self._app_classes[key] = app_class_count(self.build.app_paths(w))
        return self._app_classes[key]

    def cell(self, name: str, limit_mib: int, mode: str) -> Cell | None:
        w = WORKLOADS[name]
        argv = self.build.argv(w)
        cell = Cell(name, limit_mib, mode, argv=argv)
        env = None
        if mode == "declared" and not w.declare:
            return None  # the same cell as "cgroupsize"
        if mode in ("cgroupsize", "declared"):
            env = dict(w.declare) if mode == "declared" else None
            # tool_plan reads only .harness, .env and .extra_mounts of the bench
            view = SimpleNamespace(harness=self.bench.harness, extra_mounts=self.bench.extra_mounts,
                                   env={**self.bench.env, **(env or {})})
            ok, summary, data = oom.tool_plan(view, argv, limit_mib)
            cell.flags = summary if ok else f"no plan: {summary}"
            if env:
                cell.flags = " ".join(f"{k}={v}" for k, v in env.items()) + ": " + cell.flags
            cell.plan = data.get("notes", []) if ok and isinstance(data, dict) else []
            cell.warnings = data.get("warnings", []) if ok and isinstance(data, dict) else []
            argv = oom.TOOL + argv
        elif mode == "paketo":
            flags, why = paketo_flags(limit_mib * MiB, self.jvm_classes, self.app_classes(w))
            if flags is None:
                cell.outcome, cell.flags = "refused", why
                return cell
            cell.flags = " ".join(flags)
            env = {"JAVA_TOOL_OPTIONS": cell.flags}
        run = self.bench.run(f"{name} {mode}", argv, limit_mib, env=env, timeout=self.timeout)
        cell.outcome = outcome(run)
        cell.peak_mib, cell.wall_s = run.max_usage_mib, run.wall_s
        cell.oom_kill, cell.failcnt = run.oom_kill, run.failcnt
        cell.values, cell.error = run.values, run.error
        cell.tail = run.stderr_tail if cell.outcome != "completed" else run.stdout_tail
        return cell

    def heap_probe(self, mode: str, limit_mib: int, step: int = 32) -> dict:
        """Largest live set (a multiple of ``step`` MiB) HeapHog completes with: 4 threads,
        no extra metaspace or direct memory, 512 MiB of churn."""
        def argv_of(live):
            return ["java", "-cp", self.build.heaphog, "HeapHog", str(live), "512", "4", "64", "0", "0"]

        env, flags = None, ""
        if mode == "paketo":
            fl, why = paketo_flags(limit_mib * MiB, self.jvm_classes,
                                   app_class_count([self.build.heaphog]))
            if fl is None:
                return {"mode": mode, "limit_mib": limit_mib, "max_live_mib": None, "flags": why}
            flags = " ".join(fl)
            env = {"JAVA_TOOL_OPTIONS": flags}
        elif mode == "cgroupsize":
            ok, summary, _ = oom.tool_plan(self.bench, argv_of(0), limit_mib)
            flags = summary if ok else f"no plan: {summary}"
        def wrap(argv):
            return oom.TOOL + argv if mode == "cgroupsize" else argv

        lo, hi, probes, fail = 0, (limit_mib // step + 1) * step, [], None
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            run = self.bench.run(f"heap-probe {mode} {mid}", wrap(argv_of(mid)), limit_mib,
                                 env=env, timeout=self.timeout)
            o = outcome(run)
            probes.append({"live_mib": mid, "outcome": o, "peak_mib": run.max_usage_mib,
                           "heap_mib": run.values.get("maxHeapMiB")})
            if o == "completed":
                lo = mid
            else:
                hi, fail = mid, o
        return {"mode": mode, "limit_mib": limit_mib, "max_live_mib": lo, "first_fail_mib": hi,
                "first_fail": fail, "flags": flags, "probes": probes}


# -- report -----------------------------------------------------------------------------------


def tables(cells: list[Cell], workloads, limits, modes) -> str:
    by = {(c.workload, c.limit_mib, c.mode): c for c in cells}
    out = []
    for limit in limits:
        rows = [[w] + [by[(w, limit, m)].short() if (w, limit, m) in by else "-" for m in modes]
                for w in workloads]
        out.append(f"{limit} MiB (outcome, peak memory.max_usage_in_bytes, wall time)\n"
                   + oom.table(["workload", *modes], rows))
        for mode in ("cgroupsize", "declared", "paketo"):
            flags: dict[str, list[str]] = {}
            refused = []
            for w in workloads:
                c = by.get((w, limit, mode))
                if c is not None and c.outcome == "refused":
                    refused.append(w)
                elif c is not None:
                    flags.setdefault(c.flags, []).append(w)
            if refused:
                out[-1] += (f"\n  {mode} refused {len(refused)} of {len(workloads)}: its fixed "
                            "regions (240M code cache, 250 x 1M stacks, metaspace) exceed the limit")
            for text, names in flags.items():
                which = "all" if len(names) == len(workloads) else ", ".join(names)
                out[-1] += f"\n  {mode} ({which}): {text}"
    return "\n\n".join(out)


def verdict(cells: list[Cell], probes: list[dict]) -> dict:
    """The rule: nothing plain java completes fails through cgroupsize; no kill through it."""
    by = {(c.workload, c.limit_mib, c.mode): c for c in cells}
    broken, kills, paketo_broken, declared = [], [], [], []
    for (w, limit, mode), c in sorted(by.items()):
        plain = by.get((w, limit, "plain"))
        if mode in ("cgroupsize", "declared"):
            what = "cgroupsize" if mode == "cgroupsize" else "cgroupsize (declared)"
            if plain and plain.outcome == "completed" and c.outcome != "completed":
                (broken if mode == "cgroupsize" else declared).append(
                    f"{w} @ {limit} MiB: plain completed ({plain.short()}), "
                    f"{what} {c.short()} [{c.flags}]")
            if c.outcome == "kernel-kill":
                note = "; the plan warned the limit is too small" if c.warned() else ""
                kills.append(f"{w} @ {limit} MiB: {what} {c.short()}, plain "
                             f"{plain.short() if plain else '-'}{note} [{c.flags}]")
        if mode == "paketo" and plain and plain.outcome == "completed" and c.outcome != "completed":
            paketo_broken.append(f"{w} @ {limit} MiB: paketo {c.short()}")
    probe = {p["mode"]: p.get("max_live_mib") for p in probes}
    return {"plain_completes_cgroupsize_fails": broken, "cgroupsize_kernel_kills": kills,
            "plain_completes_declared_fails": declared,
            "plain_completes_paketo_fails": paketo_broken, "heap_only_live_mib": probe,
            "heap_only_target_met": (probe.get("cgroupsize") or 0) >= 576
            if "cgroupsize" in probe else None}


def print_verdict(v: dict, probe_limit: int) -> None:
    print("\nVerdict (the rule: a workload plain java completes also completes through cgroupsize;"
          " no kernel kill through it)")
    for key, title in (("plain_completes_cgroupsize_fails", "plain completes, cgroupsize does not"),
                       ("plain_completes_declared_fails",
                        "plain completes, cgroupsize with the workload's threads declared does not"),
                       ("cgroupsize_kernel_kills", "kernel kills through cgroupsize"),
                       ("plain_completes_paketo_fails",
                        "(for comparison) plain completes, Paketo's formula does not")):
        items = v.get(key, [])
        print(f"  {title}: {len(items)}")
        for item in items:
            print(f"    - {item}")
    if v["heap_only_live_mib"]:
        live = ", ".join(f"{m} {x} MiB" for m, x in v["heap_only_live_mib"].items())
        print(f"  heap-only live set at {probe_limit} MiB: {live}"
              + ("" if v["heap_only_target_met"] is None else
                 f" (cgroupsize target >= 576: {'met' if v['heap_only_target_met'] else 'MISSED'})"))


# -- main -----------------------------------------------------------------------------------------


def _csv(text, allowed=None, conv=str):
    items = [conv(x.strip()) for x in text.split(",") if x.strip()]
    bad = [x for x in items if allowed is not None and x not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(map(str, bad))} "
                                         f"(choose from {', '.join(allowed)})")
    return items


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limits", type=lambda s: _csv(s, conv=int),
                   help="memory limits in MiB, comma-separated (default 256,512,1024,2048)")
    p.add_argument("--modes", type=lambda s: _csv(s, ALL_MODES), default=list(MODES),
                   help="plain,cgroupsize,paketo (the default) and declared: cgroupsize with "
                        "CGROUPSIZE_JVM_THREADS set to the workload's threads, where it has any")
    p.add_argument("--workloads", type=lambda s: _csv(s, list(WORKLOADS)),
                   help=f"comma-separated, from: {', '.join(WORKLOADS)}")
    p.add_argument("--rev", default="HEAD", help="git revision cgroupsize runs from (default HEAD)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: soft-cache and heap-over at 192 MiB, no heap-only probe")
    p.add_argument("--probe", action=argparse.BooleanOptionalAction, default=None,
                   help="the heap-only live-set probe (default: on, off with --quick)")
    p.add_argument("--probe-limit", type=int, default=1024, help="MiB (default 1024)")
    p.add_argument("--jobs", type=int, default=1, help="cells run at once (default 1; wall "
                                                       "times are only comparable at 1)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per cell (default 300)")
    p.add_argument("--json", metavar="FILE", help="write every cell (rewritten after each one)")
    p.add_argument("--report", nargs="+", metavar="JSON",
                   help="run nothing: print the tables and verdict of saved runs (later files' "
                        "cells and probes replace earlier ones: e.g. plain/paketo from one run, "
                        "cgroupsize from a newer revision)")
    p.add_argument("-v", "--verbose", action="store_true", help="print each cell as it ends")
    args = p.parse_args(argv)
    if args.limits is None:
        args.limits = [192] if args.quick else list(LIMITS)
    if args.workloads is None:
        args.workloads = QUICK_WORKLOADS if args.quick else DEFAULT_WORKLOADS
    if args.probe is None:
        args.probe = not args.quick
    return args


def report_only(paths) -> int:
    """Tables and verdict of saved runs, merged in order."""
    cells: dict = {}
    probes: dict = {}
    revs, limits, workloads, modes = [], [], [], []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            print(f"jvm matrix: cannot read {path}: {e}", file=sys.stderr)
            return 2
        for c in data.get("cells", []):
            cell = Cell(**c)
            if cell.outcome == "OOME:other" and "UncaughtExceptionHandler" in cell.error:
                cell.outcome = "OOME:unreported"  # classified before that case was named
            cells[(cell.workload, cell.limit_mib, cell.mode)] = cell
            for seen, x in ((limits, cell.limit_mib), (workloads, cell.workload), (modes, cell.mode)):
                if x not in seen:
                    seen.append(x)
        probes.update({p["mode"]: p for p in data.get("probes", [])})
        if data.get("cgroupsize") and "cgroupsize" in data.get("modes", []):
            revs.append(data["cgroupsize"])
    print(f"cgroupsize: {revs[-1] if revs else '-'}; from {', '.join(map(str, paths))}")
    modes = [m for m in ALL_MODES if m in modes]
    print(tables(list(cells.values()), workloads, sorted(limits), modes))
    v = verdict(list(cells.values()), list(probes.values()))
    print_verdict(v, next((p["limit_mib"] for p in probes.values()), 1024))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report:
        return report_only(args.report)
    reason = rh.skip_reason()
    if reason:
        print(f"jvm matrix: cannot run: {reason}", file=sys.stderr)
        return 77
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=rh.PREFIX + "jvm-"))
    os.chmod(workdir, 0o755)
    bench = oom.Bench(workdir, timeout=args.timeout, verbose=args.verbose)
    report: dict = {"limits": args.limits, "modes": args.modes, "workloads": args.workloads,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "workload_about": {w: WORKLOADS[w].about for w in args.workloads}}
    cells: list[Cell] = []
    try:
        rh.remove_stale()
        if {"cgroupsize", "declared"} & set(args.modes):
            source, sha = oom.snapshot(args.rev, workdir)
            bench.extra_mounts.append(source)
            bench.env["PYTHONPATH"] = source
            report["cgroupsize"] = sha
            print(f"cgroupsize: git revision {sha}")
        build = Build(workdir / "build")
        build.compile()
        bench.extra_mounts.append(str(build.root))
        if args.probe:
            build.heaphog = oom.compile_java(build.root)
        matrix = Matrix(bench, build, args.timeout, args.modes)
        report["jvm_classes"] = matrix.jvm_classes
        t = time.monotonic()
        for name in args.workloads:
            build.argv(WORKLOADS[name])  # generate and package before any timing
        report["build_s"] = round(time.monotonic() - t, 1)
        print(f"built workloads in {report['build_s']:.0f} s", file=sys.stderr)
        jobs = [(w, limit, m) for limit in args.limits for w in args.workloads for m in args.modes]

        def one(job):
            c = matrix.cell(*job)
            if c is None:
                return None
            cells.append(c)
            if args.verbose:
                print(f"  {c.workload} @ {c.limit_mib} {c.mode}: {c.short()}  {c.flags}",
                      file=sys.stderr)
            _save(args.json, report, cells, [])
            return c

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(one, jobs))
        probes = []
        if args.probe:
            for m in [m for m in args.modes if m != "declared"]:  # it declares nothing
                print(f"heap-only probe {m} @ {args.probe_limit} MiB ...", file=sys.stderr)
                probes.append(matrix.heap_probe(m, args.probe_limit))
        report["seconds"] = round(time.monotonic() - started, 1)
        order = {k: i for i, k in enumerate(jobs)}
        cells.sort(key=lambda c: order[(c.workload, c.limit_mib, c.mode)])
        print(tables(cells, args.workloads, args.limits, args.modes))
        if probes:
            print(f"\nHeap-only probe at {args.probe_limit} MiB (HeapHog: live set + 512 MiB churn, "
                  "4 threads; largest live set in 32 MiB steps)")
            print(oom.table(["mode", "max live MiB", "first failing", "flags"],
                            [[p["mode"], p.get("max_live_mib"),
                              f"{p.get('first_fail_mib')}: {p.get('first_fail')}", p["flags"]]
                             for p in probes]))
        report["verdict"] = verdict(cells, probes)
        print_verdict(report["verdict"], args.probe_limit)
        print(f"\n{len(bench.runs)} container runs in {report['seconds']:.0f} s")
        _save(args.json, report, cells, probes)
    finally:
        bench.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


_save_lock = threading.Lock()


def _save(path, report, cells, probes):
    if not path:
        return
    with _save_lock:
        data = {**report, "cells": [asdict(c) for c in list(cells)], "probes": probes}
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, default=str))
        tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
