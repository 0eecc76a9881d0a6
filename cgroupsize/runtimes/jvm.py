"""JVM (HotSpot): a memory budget that adds up, sized from what the application brings.

Why explicit flags rather than trusting ``-XX:+UseContainerSupport``: the
JVM's own detection misses nested parent limits (fixed by JDK-8322420) and
sub-path mount roots (JDK-8343191), was absent before 8u191/10 and for cgroup
v2 before 8u372/11.0.16/15, and until 17.0.5 took Kubernetes CPU *requests*
(shares) for a CPU count (JDK-8281181). Its default heap is also poor in both
directions: 25% of a 1 GiB container, while metaspace is unbounded and
direct memory may grow as large as the heap again.

The budget (every figure measured on JDK 17.0.15 with
``-XX:NativeMemoryTracking=summary`` in real memory cgroups; each region a
cap the JVM enforces or an assumption the plan states, with its source)::

    limit = heap + metaspace + code cache + direct memory + thread stacks
            + JVM internals + GC structures + headroom

* **metaspace** (``-XX:MaxMetaspaceSize``) from the classes the command line
  brings, counted in its jars and directories (:mod:`.jvm_classes`: ``-jar``
  with nested and ``Class-Path`` jars, ``-cp``, ``dir/*``, agents, module
  path): ``1.5 x (8Mi + classes x (2,000 B + 2 x class-file bytes))``.
  Measured: a loaded class costs ~1,000 B + 1.96 x its class-file bytes
  (5.8 KB for a 2.5 KB class, 12 KB for a 5.6 KB annotated one), hot
  methods add ~1 KB of profiling data; the JDK's own classes (CDS) 1-3.6 MiB.
  The 1.5 covers classes no jar holds (lambdas, proxies, reflection
  accessors); 1.2 when the limit is tight. ``CGROUPSIZE_JVM_CLASSES``
  declares the classes; when nothing can be counted (a script starts java,
  an unreadable jar), 15,000 are assumed and a notice says so.
* **thread stacks**: 200 threads (Tomcat's ``maxThreads``) plus the JVM's own
  (16 + 2 per CPU), or ``CGROUPSIZE_JVM_THREADS``, each costed at the stack
  it really touches: 256Ki (a pool thread touches 90-110Ki, HotSpot banging
  its 20 shadow pages; a 100-frame request 174Ki; 512 parked frames 220Ki),
  never more than ``-Xss``; thread stacks are not capped by any flag.
* **code cache** ``limit/20`` from 24Mi to HotSpot's own 240Mi
  (``-XX:ReservedCodeCacheSize``; a full one stops the JIT, nothing fails;
  measured 7.4Mi at start, 10-34Mi for server workloads).
* **direct memory** ``0.13 x limit`` from 72Mi (64Mi of buffers fit) to 1Gi
  (``-XX:MaxDirectMemorySize``; unset, NIO may allocate the heap's size
  again: canton-network/splice#434; 10Mi breaks Netty:
  cloudfoundry/java-buildpack-memory-calculator#20).
* **JVM internals** 32Mi + 512 B per class (CDS archive 12Mi, symbols,
  arenas, compiler peaks of ~14Mi, libjvm; Symbol + class malloc measured
  ~250 B per class); **GC structures** Serial 1Mi + 0.4% of the heap
  (card table and offset table, 1/512 each), Parallel 12Mi + 3.5%, G1/Z/
  Shenandoah 40Mi + 4% (38Mi + 3.8% measured); **headroom**
  ``CGROUPSIZE_JVM_HEADROOM`` (5%) for malloc arenas and native libraries.
* **heap** (``-Xmx``) is what is left, never less than what HotSpot takes by
  itself (``hotspot_heap``: half the limit below 249.6Mi, 124.8Mi rounded up
  to 126Mi up to 499Mi, a quarter above). When the rest does not fit, the
  heap shrinks first, down to that floor; then the code cache (to 8Mi), the
  assumed threads (to the JVM's own), the metaspace slack (to 1.2), the
  headroom (to half) and direct memory (to 16Mi). If even that does not fit,
  the limit is too small for the plan: a warning (``--strict`` refuses),
  HotSpot's own heap and the regions at their usual sizes (shrunk, they
  would only add ways to fail where plain java runs: 35k classes + 32Mi of
  direct buffers at 512Mi), except metaspace, capped at what the limit
  could hold beside the heap and every other region's floor (beyond that
  the kernel would kill the JVM anyway: now it says OutOfMemoryError), but
  never below what the classes take at the least (1,000 B + 2 x class-file
  bytes each).

Also: ``-XX:ActiveProcessorCount`` (our CPU count; skipped before 8u191),
``-XX:+UseSerialGC`` where the JVM itself would pick Serial for our figures
(fewer than 2 CPUs or under 1792Mi), ``-XX:+ExitOnOutOfMemoryError`` (a JVM
out of memory exits with its stack trace rather than limping;
``CGROUPSIZE_JVM_EXIT_ON_OOM=0``), ``CGROUPSIZE_HEAP_DUMP_DIR`` (a heap dump
per process and start time) and ``CGROUPSIZE_JVM_DIAGNOSTICS=1`` (native
memory summary and GC log to stderr).

The user's settings win wherever they are: the java command line up to the
main class, ``-jar`` or ``-m``, ``@argfiles``, ``-XX:VMOptionsFile``,
``-XX:Flags=`` files, ``JDK_JAVA_OPTIONS``, ``JAVA_TOOL_OPTIONS``,
``_JAVA_OPTIONS`` and, for scripts, ``JAVA_OPTS``; token by token. Where a
file of settings could not be read, only flags no setting can conflict with
are added. Flags go right after ``java`` (or in front of
``JAVA_TOOL_OPTIONS`` when a script starts the JVM), so the user's win.
"""
from __future__ import annotations

from cgroupsize.runtimes.common import (
    cpu_text,
    limit_text,
    split_argfile,
    split_options,
)
from cgroupsize.units import GiB, KiB, MiB, fmt_size

TYPE_CHECKING = False  # typing imports re: keep it off the entrypoint path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from cgroupsize.identify import Target
    from cgroupsize.model import BudgetLine, Limits, Plan
    from cgroupsize.runtimes.jvm_classes import ClassCount

# -- the budget's constants (measured; see the module docstring) --------------------
METASPACE_PER_CLASS = 2000  # bytes: ~1,000 measured + ~1,000 of profiling data once methods are hot
METASPACE_PER_BYTE = 2  # x class-file bytes (1.96 measured)
CLASS_BYTES_DEFAULT = 3200  # class-file bytes when unknown: the mean over Debian's packaged jars
JDK_METASPACE = 8 * MiB  # the JDK's own classes, mostly from the CDS archive (1-3.6Mi measured)
METASPACE_SLACK = 1.5
METASPACE_SLACK_MIN = 1.2
METASPACE_LEAST_PER_CLASS = 1000  # bytes per class measured before any method runs hot
# Classes generated at run time (proxies, lambdas, scripting engines, bytecode enhancement) are in
# no jar: where the limit has room, the cap leaves this much whatever the count (the OOM benchmark's
# workload defines 32Mi of them); a tight limit squeezes it back to the count's floor.
METASPACE_RUNTIME_MIN = 48 * MiB
METASPACE_CAP_MIN = 16 * MiB  # the least cap on a too-small limit (hello world commits ~1Mi, CDS aside)
DEFAULT_CLASSES = 15_000  # assumed when nothing can be counted (Spring Boot services load 15k-40k)
SERVER_THREADS = 200  # Tomcat's maxThreads
THREADS_FLOOR = 0  # assumed threads kept when the limit is tight (besides the JVM's own)
STACK_TOUCHED = 256 * KiB
STACK_DEFAULT = 1 * MiB  # HotSpot's ThreadStackSize on Linux x64 and aarch64
CODE_SHARE, CODE_MIN, CODE_MAX, CODE_FLOOR = 1 / 20, 24 * MiB, 240 * MiB, 8 * MiB  # tiered needs >= 2496K
DIRECT_SHARE, DIRECT_MIN, DIRECT_MAX, DIRECT_FLOOR = 0.13, 72 * MiB, 1 * GiB, 16 * MiB
INTERNALS = 32 * MiB
INTERNALS_PER_CLASS = 512
GC_COST = {  # (fixed, share of the heap)
    "Serial": (1 * MiB, 0.004),
    "Parallel": (12 * MiB, 0.035),
    "G1": (40 * MiB, 0.04),
    "Z": (40 * MiB, 0.04),
    "Shenandoah": (40 * MiB, 0.04),
    "Epsilon": (0, 0.0),
}
HEAP_FLOOR = 8 * MiB
HEAP_ALIGN = 2 * MiB  # HotSpot rounds the heap up to its alignment (2Mi for small heaps)
# HotSpot's own heap (arguments.cpp set_heap_size): MinRAMPercentage 50 below the default
# MaxHeapSize (ScaleForWordSize(96M) = 124.8M on 64-bit), else MaxRAMPercentage 25.
HOTSPOT_MAX_HEAP_DEFAULT = 96 * MiB * 13 // 10
SERVER_CLASS_MEMORY = 1792 * MiB  # 2 GiB - 256 MiB: os::is_server_class_machine()
TOOL_OPTIONS_MAX = 1023  # JDK 8 drops a longer JAVA_TOOL_OPTIONS silently (arguments.cpp)
DIAGNOSTICS = ("-XX:NativeMemoryTracking=summary", "-XX:+UnlockDiagnosticVMOptions", "-XX:+PrintNMTStatistics",
               "-XX:+DisplayVMOutputToStderr")
GC_LOG = "-Xlog:gc,gc+heap+exit:stderr"  # JDK 9+ unified logging; JDK 8 refuses -Xlog
GC_LOG_8 = "-XX:+PrintGCDetails"  # JDK 8: each collection and the heap at exit (to stderr with the above)

# -- recognising the user's settings -----------------------------------------------
# launcher options whose value is the next argument (java --help)
_VALUE_OPTS = {"-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path",
               "--add-modules", "--add-reads", "--add-exports", "--add-opens", "--limit-modules",
               "--patch-module", "--source", "--enable-native-access", "-d", "--describe-module"}
# -XX flag name -> (what it decides, unit of a bare number; None: not a size)
_XX_KINDS: dict[str, tuple[str, int | None]] = {
    "MaxHeapSize": ("heap", 1), "MaxRAM": ("heap", 1), "ErgoHeapSizeLimit": ("heap", 1),
    "MaxRAMPercentage": ("heap", None), "MaxRAMFraction": ("heap", None),
    "MinRAMPercentage": ("heap", None), "MinRAMFraction": ("heap", None),
    "InitialRAMPercentage": ("heap", None), "InitialRAMFraction": ("heap", None),
    "InitialHeapSize": ("xms", 1), "MinHeapSize": ("min_heap", 1),
    "NewSize": ("young", 1), "MaxNewSize": ("young", 1),
    "ThreadStackSize": ("stack", KiB),
    "MaxMetaspaceSize": ("metaspace", 1), "MetaspaceSize": ("metaspace_initial", 1),
    "ReservedCodeCacheSize": ("code", 1), "InitialCodeCacheSize": ("code_initial", 1),
    "MaxDirectMemorySize": ("direct", 1),
    "ActiveProcessorCount": ("cpus", None),
    "HeapDumpPath": ("heap_dump", None), "NativeMemoryTracking": ("nmt", None),
    "OnOutOfMemoryError": ("on_oom", None),
}
_SWITCHES = {"HeapDumpOnOutOfMemoryError": "heap_dump", "ExitOnOutOfMemoryError": "on_oom",
             "CrashOnOutOfMemoryError": "on_oom", "AggressiveHeap": "heap"}
_GC_NAMES = {"UseSerialGC": "Serial", "UseParallelGC": "Parallel", "UseParallelOldGC": "Parallel",
             "UseG1GC": "G1", "UseZGC": "Z", "UseShenandoahGC": "Shenandoah", "UseEpsilonGC": "Epsilon",
             "UseConcMarkSweepGC": "G1"}  # CMS: budget like G1 (a concurrent collector's structures)


class UserSettings:
    """What the user set, kind -> (where, value); later sources override earlier ones.

    ``ram`` keeps the heap percentages and MaxRAM (by flag name) so the heap
    they give can be worked out; ``unread`` names a file of settings that
    could not be read (an @argfile, a -XX:Flags= file), else None.
    """

    __slots__ = ("found", "ram", "unread")

    def __init__(self) -> None:
        self.found: dict[str, tuple[str, int | str | None]] = {}
        self.ram: dict[str, float] = {}
        self.unread: str | None = None

    def add(self, kind: str, where: str, value: int | str | None = None) -> None:
        self.found[kind] = (where, value)

    def where(self, kind: str) -> str | None:
        entry = self.found.get(kind)
        return entry[0] if entry else None

    def size(self, kind: str) -> int | None:
        entry = self.found.get(kind)
        return entry[1] if entry and isinstance(entry[1], int) else None


def classify(token: str) -> tuple[str, int | str | None] | None:
    """``(kind, value)`` for a JVM option the plan cares about, else None.

    Kinds are those of ``_XX_KINDS``, ``_SWITCHES`` and ``gc``; values are
    bytes where they are sizes (None when unparsable), the GC name for gc,
    the text for other valued flags.
    """
    for prefix, kind in (("-Xmx", "heap"), ("-Xms", "xms"), ("-Xss", "stack"), ("-Xmn", "young")):
        if token.startswith(prefix):
            return kind, parse_jvm_size(token[4:])
    if not token.startswith("-XX:"):
        return None
    body = token[4:]
    sign = body[:1] if body[:1] in ("+", "-") else ""
    name, eq, value = body[len(sign):].partition("=")
    if not name.replace("_", "").isalnum():
        return None
    if name in _GC_NAMES:
        return ("gc", _GC_NAMES[name] if sign == "+" else None)
    if sign:
        return (_SWITCHES[name], None) if name in _SWITCHES and (sign == "+" or name != "AggressiveHeap") else None
    spec = _XX_KINDS.get(name)
    if spec is None or not eq:
        return None
    return spec[0], parse_jvm_size(value, spec[1]) if spec[1] else value


def _ram(token: str, found: UserSettings) -> None:
    """Keep MaxRAM and the heap percentages (``-XX:MaxRAMPercentage=75.0``) by name."""
    name, _, value = token[4:].partition("=")
    try:
        number = float(parse_jvm_size(value) or 0) if name in ("MaxRAM", "ErgoHeapSizeLimit") else float(value)
    except ValueError:
        return
    if 0 < number < (1 << 62) and (not name.endswith("Percentage") or number <= 100):  # java refuses the rest
        found.ram[name] = number


def scan(tokens: Iterable[str], where: str, found: UserSettings,
         read_file: Callable[[str], str | None] | None = None, launcher: bool = False) -> None:
    """Record the user's settings among ``tokens`` (from ``where``).

    ``launcher``: these are java launcher arguments: stop at the main class,
    ``-jar``, ``-m``/``--module`` (the rest is the application's), expand
    ``@argfiles`` in place (not nested, as the launcher does) and skip the
    values of options such as ``-cp``.
    """
    tokens = list(tokens)
    i, expand, argfile_end = 0, launcher, -1
    while i < len(tokens):
        t = tokens[i]
        src = "an @argfile" if i < argfile_end else where
        if launcher:
            if t == "--disable-@files":
                expand = False
            elif t.startswith("@") and not t.startswith("@@") and expand and i >= argfile_end:
                inner = _argfile(t[1:], found, read_file)
                tokens[i:i + 1] = inner
                argfile_end = i + len(inner)
                continue
            elif t in ("-jar", "-m", "--module") or t.startswith("--module=") or not t.startswith("-"):
                return
            elif t in _VALUE_OPTS:
                i += 2
                continue
        _token(t, src, found, read_file)
        i += 1


def _argfile(path: str, found: UserSettings, read_file: Callable[[str], str | None] | None) -> list[str]:
    text = read_file(path) if read_file else None
    if text is None:
        found.unread = found.unread or "an @argfile"
        return []
    return split_argfile(text)


def _token(t: str, src: str, found: UserSettings, read_file: Callable[[str], str | None] | None) -> None:
    """One JVM option: a setting, or a file of settings (VMOptionsFile, Flags) to read."""
    for prefix, what in (("-XX:VMOptionsFile=", "a VMOptionsFile"), ("-XX:Flags=", "a -XX:Flags file")):
        if t.startswith(prefix):
            text = read_file(t[len(prefix):]) if read_file else None
            if text is None:
                found.unread = found.unread or what
            elif prefix == "-XX:Flags=":  # .hotspotrc format: one flag a line, without -XX:
                for line in text.splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        _token("-XX:" + line.strip(), what, found, None)
            else:
                scan(split_argfile(text), what, found)
            return
    hit = classify(t)
    if hit:
        found.add(hit[0], src, hit[1])
        if t.startswith("-XX:") and hit[0] == "heap" and "=" in t:
            _ram(t, found)


def user_settings(target: Target, argv: list[str], env: Mapping[str, str],
                  read_file: Callable[[str], str | None] | None = None) -> UserSettings:
    """Every JVM setting the user made, in HotSpot's order of precedence (later wins).

    -XX:Flags files (read first by arguments.cpp) < JAVA_TOOL_OPTIONS <
    JDK_JAVA_OPTIONS (prepended by the launcher) < the command line <
    _JAVA_OPTIONS (arguments.cpp ``parse_vm_init_args``).
    """
    found = UserSettings()
    if target.how == "script":
        scan(split_options(env.get("JAVA_OPTS", "")), "JAVA_OPTS", found, read_file)
    scan(split_options(env.get("JAVA_TOOL_OPTIONS", "")), "JAVA_TOOL_OPTIONS", found, read_file)
    scan(split_options(env.get("JDK_JAVA_OPTIONS", "")), "JDK_JAVA_OPTIONS", found, read_file, launcher=True)
    if target.interp_args:
        scan(target.interp_args, "the #! line", found, read_file, launcher=True)
    if target.how == "direct":
        scan(argv[1:], "the command line", found, read_file, launcher=True)
    scan(split_options(env.get("_JAVA_OPTIONS", "")), "_JAVA_OPTIONS", found, read_file)
    return found


_JVM_FACTOR = {"k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}


def parse_jvm_size(text: str, unit: int = 1) -> int | None:
    """HotSpot size syntax: ``512m``, ``1G``, ``1048576`` (times ``unit`` when bare); None if odd."""
    t = text.strip()
    suffix = t[-1:].lower()
    digits = t[:-1] if suffix in _JVM_FACTOR else t
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits) * _JVM_FACTOR.get(suffix, unit)


# -- the calculator: regions with their sizes and sources ----------------------------------

COUNT, ASSUMPTION, USER, DEFAULT, LIMIT = "count", "assumption", "user", "default", "limit"


class Region:
    """One part of the budget: ``size`` bytes, ``floor`` it may shrink to, ``source``, ``note``."""

    __slots__ = ("floor", "name", "note", "size", "source")

    def __init__(self, name: str, size: int, source: str, note: str, floor: int | None = None) -> None:
        self.name, self.size, self.source, self.note = name, size, source, note
        self.floor = size if floor is None else min(floor, size)


class Needs:
    """What the budget is sized for: the limit, CPUs, the user's settings, classes, threads."""

    __slots__ = ("classes", "cpus", "found", "headroom", "limit", "threads")

    def __init__(self, limit: int, cpus: int, found: UserSettings, classes: Classes, threads: int | None,
                 headroom: float) -> None:
        self.limit, self.cpus, self.found, self.classes = limit, cpus, found, classes
        self.threads, self.headroom = threads, headroom


class Classes:
    """The classes metaspace is sized for: how many, their class-file bytes if known, from where."""

    __slots__ = ("app", "class_bytes", "note", "source", "unsized")

    def __init__(self, app: int, source: str, note: str, class_bytes: int = 0, unsized: int | None = None) -> None:
        self.app, self.source, self.note, self.class_bytes = app, source, note, class_bytes
        self.unsized = app if unsized is None else unsized


class Budget:
    """Every region, the heap last; ``gc`` (name, "user"/"auto"); ``sane``: it fits the limit."""

    __slots__ = ("gc", "heap", "limit", "regions", "sane", "squeezed", "users_floor")

    def __init__(self, limit: int, gc: tuple[str, str]) -> None:
        self.limit, self.gc = limit, gc
        self.regions: dict[str, Region] = {}
        self.heap = Region("heap", 0, LIMIT, "")
        self.sane = True
        self.squeezed: list[str] = []
        self.users_floor = False  # the heap's floor is the user's (-Xms, -Xmn), not HotSpot's

    def add(self, region: Region) -> None:
        self.regions[region.name] = region

    def non_heap(self) -> int:
        return sum(r.size for r in self.regions.values())

    def total(self) -> int:
        return self.non_heap() + self.heap.size


def hotspot_heap(limit: int, max_pct: float = 25.0, min_pct: float = 50.0) -> int:
    """The heap HotSpot picks by itself for ``limit`` (arguments.cpp), rounded up to its alignment."""
    low = int(limit * min_pct / 100)
    heap = low if low < HOTSPOT_MAX_HEAP_DEFAULT else max(int(limit * max_pct / 100), HOTSPOT_MAX_HEAP_DEFAULT)
    return -(-heap // HEAP_ALIGN) * HEAP_ALIGN


def user_heap(limit: int, found: UserSettings) -> int | None:
    """The heap the user's settings give (an -Xmx, or HotSpot's rule with their percentages), or None."""
    if found.where("heap") is None:
        return None
    size = found.size("heap")
    ram = found.ram
    if size is not None and "MaxRAM" not in ram and "ErgoHeapSizeLimit" not in ram:
        return size
    memory = min(limit, int(ram["MaxRAM"])) if ram.get("MaxRAM") else limit
    max_pct = ram.get("MaxRAMPercentage") or (100 / ram["MaxRAMFraction"] if ram.get("MaxRAMFraction") else 25.0)
    min_pct = ram.get("MinRAMPercentage") or (100 / ram["MinRAMFraction"] if ram.get("MinRAMFraction") else 50.0)
    heap = hotspot_heap(memory, max_pct, min_pct)
    return min(heap, int(ram["ErgoHeapSizeLimit"])) if ram.get("ErgoHeapSizeLimit") else heap


def predicted_gc(found: UserSettings, limit: int, cpus: int) -> tuple[str, str]:
    """The collector the JVM will run: the user's, else the JVM's own choice for our figures."""
    if "gc" in found.found:
        name = found.found["gc"][1]
        return (name if isinstance(name, str) else "G1"), "user"  # "-XX:-UseXGC": budget the costlier
    if cpus < 2 or limit < SERVER_CLASS_MEMORY:
        return "Serial", "auto"
    return "G1", "auto"


def own_threads(cpus: int) -> int:
    """The JVM's own threads: main, VM, GC workers, JIT compilers, signal, finalizer... (11-14 at 2 CPUs)."""
    return 16 + 2 * min(cpus, 32)


def metaspace_need(classes: Classes) -> int:
    """Metaspace the classes take: the JDK's own plus per class 2,000 B + 2 x class-file bytes."""
    per_class = METASPACE_PER_CLASS * classes.app + METASPACE_PER_BYTE * classes.class_bytes
    return JDK_METASPACE + per_class + METASPACE_PER_BYTE * CLASS_BYTES_DEFAULT * classes.unsized


def metaspace_least(classes: Classes) -> int:
    """Metaspace the classes take at the least (measured, before methods run hot; no slack)."""
    return JDK_METASPACE + METASPACE_LEAST_PER_CLASS * classes.app + METASPACE_PER_BYTE * (
        classes.class_bytes + CLASS_BYTES_DEFAULT * classes.unsized)


def _metaspace(n: Needs) -> Region:
    found = n.found
    if found.where("metaspace"):
        return Region("metaspace", found.size("metaspace") or 0, USER, f"set in {found.where('metaspace')}")
    need = metaspace_need(n.classes)
    floor = max(int(need * METASPACE_SLACK_MIN), found.size("metaspace_initial") or 0)
    size = max(int(need * METASPACE_SLACK), METASPACE_RUNTIME_MIN, floor)  # a tight limit squeezes it to floor
    return Region("metaspace", size, n.classes.source, n.classes.note, floor)


def _touched(n: Needs) -> int:
    """Stack one thread costs: 256Ki touched, never more than -Xss (a deep -Xss: a quarter of it)."""
    stack = n.found.size("stack") or STACK_DEFAULT
    return min(stack, max(STACK_TOUCHED, stack // 4))


def _thread_note(threads: int, n: Needs) -> str:
    return (f"{threads} threads + {own_threads(n.cpus)} of the JVM's own x {fmt_size(_touched(n))} touched "
            "(CGROUPSIZE_JVM_THREADS)")


def _threads(n: Needs) -> Region:
    touched, own = _touched(n), own_threads(n.cpus)
    if n.threads:
        return Region("thread stacks", (n.threads + own) * touched, USER, _thread_note(n.threads, n))
    return Region("thread stacks", (SERVER_THREADS + own) * touched, ASSUMPTION, _thread_note(SERVER_THREADS, n),
                  (THREADS_FLOOR + own) * touched)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _sized(n: Needs, name: str, kind: str, share: float, low: int, high: int, floor: int, why: str) -> Region:
    """A region we cap: the user's size, else ``share`` of the limit within [low, high]."""
    where = n.found.where(kind)
    if where:
        return Region(name, n.found.size(kind) or 0, USER, f"set in {where}")
    least = n.found.size(kind + "_initial") or 0  # InitialCodeCacheSize: the JVM refuses a smaller reserve
    size = max(_clamp(int(n.limit * share), low, high), least)
    return Region(name, size, DEFAULT, why, max(floor, least))


def budget(n: Needs) -> Budget:
    """Size every region for ``n.limit``; the user's figures are taken as given."""
    b = Budget(n.limit, predicted_gc(n.found, n.limit, n.cpus))
    b.add(_metaspace(n))
    b.add(_sized(n, "code cache", "code", CODE_SHARE, CODE_MIN, CODE_MAX, CODE_FLOOR,
                 "limit/20 (-XX:ReservedCodeCacheSize)"))
    b.add(_sized(n, "direct memory", "direct", DIRECT_SHARE, DIRECT_MIN, DIRECT_MAX, DIRECT_FLOOR,
                 "13% of the limit (-XX:MaxDirectMemorySize)"))
    b.add(_threads(n))
    total = n.classes.app + jvm_baseline()
    b.add(Region("JVM internals", INTERNALS + INTERNALS_PER_CLASS * total, DEFAULT,
                 f"32Mi + 512 B x {total} classes"))
    headroom = int(n.limit * n.headroom)
    b.add(Region("headroom", headroom, DEFAULT if n.headroom == 0.05 else USER,
                 f"{round(n.headroom * 100, 1):g}% (CGROUPSIZE_JVM_HEADROOM)", headroom // 2))
    _fit(b, n)
    return b


def jvm_baseline() -> int:
    from cgroupsize.runtimes.jvm_classes import JDK_BASELINE

    return JDK_BASELINE


def _heap_floor(n: Needs) -> tuple[int, str]:
    """The least heap: HotSpot's own, the user's -Xms, 1.5 x the user's young generation."""
    floor = max(hotspot_heap(n.limit), HEAP_FLOOR)
    why = "HotSpot's own heap for this limit"
    xms = max(n.found.size("xms") or 0, n.found.size("min_heap") or 0)
    young = (n.found.size("young") or 0) * 3 // 2
    if max(xms, young) > floor:
        floor = -(-max(xms, young) // HEAP_ALIGN) * HEAP_ALIGN
        why = "the initial heap set by the user" if xms >= young else "the young generation set by the user"
    return floor, why


def _gc_region(b: Budget, heap: int) -> Region:
    fixed, share = GC_COST[b.gc[0]]
    return Region("GC structures", fixed + int(heap * share), DEFAULT, f"{b.gc[0]}: {fmt_size(fixed)} + "
                  f"{share * 100:g}% of the heap")


def _room(b: Budget) -> int:
    """The heap the other regions leave: (limit - regions - GC fixed) / (1 + GC share)."""
    fixed, share = GC_COST[b.gc[0]]
    rest = b.limit - sum(r.size for k, r in b.regions.items() if k != "GC structures") - fixed
    return int(rest / (1 + share))  # negative when the regions alone exceed the limit


SQUEEZE_ORDER = ("code cache", "thread stacks", "metaspace", "headroom", "direct memory")


def _fit(b: Budget, n: Needs) -> None:
    """The heap takes what is left; below its floor our regions shrink in order, then it is too small."""
    floor, why = _heap_floor(n)
    b.users_floor = why != "HotSpot's own heap for this limit"
    given = user_heap(n.limit, n.found)
    want = given if given is not None else floor
    before = {name: (r.size, r.note) for name, r in b.regions.items()}
    _squeeze(b, n, want)
    room = _room(b)
    b.sane = room >= want
    if not b.sane:  # shrinking cannot make it fit: it would only add ways to fail (a 16Mi direct cap...)
        for name in b.squeezed:
            b.regions[name].size, b.regions[name].note = before[name]
        b.squeezed = []
        _cap_metaspace(b, want, n.classes)
    if given is not None:
        b.heap = Region("heap", given, USER, f"set in {n.found.where('heap')}")
    elif b.sane:
        b.heap = Region("heap", max(floor, room // HEAP_ALIGN * HEAP_ALIGN), LIMIT, "what the other regions leave")
    else:
        b.heap = Region("heap", floor, DEFAULT, why)
    b.add(_gc_region(b, b.heap.size))


def _cap_metaspace(b: Budget, heap: int, classes: Classes) -> None:
    """On a limit too small for the plan, no more metaspace than the limit could ever hold.

    That is the limit less the heap and every other region at its floor:
    metaspace beyond it would end in a kernel kill whatever the others do,
    so the cap turns that death into an OutOfMemoryError: Metaspace.
    """
    m = b.regions["metaspace"]
    if m.source == USER:
        return
    fixed, share = GC_COST[b.gc[0]]
    others = sum(r.floor for k, r in b.regions.items() if k not in ("metaspace", "GC structures"))
    left = b.limit - heap - int(heap * share) - fixed - others
    # never below what the classes take at the least: an application that does not fill its
    # heap still runs, as it does with plain java
    least = metaspace_least(classes)
    if max(left, least) < m.size:
        m.size = m.floor = max(left, least, METASPACE_CAP_MIN)
        m.note += ", capped at what the limit can hold (an OutOfMemoryError: Metaspace, not a kernel kill)"


def _squeeze(b: Budget, n: Needs, want: int) -> None:
    """Shrink our regions in SQUEEZE_ORDER toward their floors until the heap gets ``want``."""
    share = GC_COST[b.gc[0]][1]
    for name in SQUEEZE_ORDER:
        if _room(b) >= want:
            break
        r = b.regions[name]
        cut = min(r.size - r.floor, int((want - _room(b)) * (1 + share)) + 2)
        if cut > 0 and r.source != USER:
            r.size -= cut
            if name == "thread stacks":  # fewer threads assumed, whole ones
                kept = r.size // _touched(n) - own_threads(n.cpus)
                r.size, r.note = (kept + own_threads(n.cpus)) * _touched(n), _thread_note(kept, n)
            r.note += ", shrunk: the limit is tight"
            b.squeezed.append(name)


# -- classes: counted, declared or assumed ------------------------------------------------


def classes_for(target: Target, argv: list[str], env: Mapping[str, str], declared: int | None,
                found: UserSettings, read_file: Callable[[str], str | None]) -> Classes:
    """The classes to size metaspace for, and where the figure came from."""
    if declared:
        return Classes(declared, USER, f"{declared} classes (CGROUPSIZE_JVM_CLASSES) + the JDK's own")
    if found.where("metaspace"):
        return Classes(0, USER, "not counted: metaspace set by the user")
    if target.how != "direct":
        return Classes(DEFAULT_CLASSES, ASSUMPTION, f"{DEFAULT_CLASSES} classes assumed: {target.name} starts java "
                       "itself, its class path is unknown (CGROUPSIZE_JVM_CLASSES)")
    from cgroupsize.runtimes import jvm_classes

    count = jvm_classes.count(argv[1:], env, read_file=read_file)
    return _from_count(count)


def _from_count(count: ClassCount) -> Classes:
    if count.complete:
        what = f"{count.app} classes counted + the JDK's own ({count.baseline})"
        if count.estimated:
            what += f"; {count.estimated} of them estimated from compressed nested jars"
        return Classes(count.app, COUNT, what, count.class_bytes, count.estimated)
    missed = "; ".join(f"{what}: {why}" for what, why in count.missed[:3])
    app = max(count.app, DEFAULT_CLASSES)
    return Classes(app, ASSUMPTION, f"{app} classes assumed ({count.app} counted; not counted: {missed}) "
                   "(CGROUPSIZE_JVM_CLASSES)", count.class_bytes, app - (count.app - count.estimated))


# -- the renderer: flags, decisions, the budget table ------------------------------------


def plan(p: Plan, target: Target, limits: Limits) -> None:
    """Fill ``p`` for a JVM: CPU count, the memory budget's flags, OOM behaviour, diagnostics."""
    from cgroupsize.files import read_text

    found = user_settings(target, p.argv, p.env, read_text)
    if found.unread:
        p.info(f"{found.unread} was not read (missing, too large, or a pipe java must still find full): "
               "settings in it come after ours and win; flags it could conflict with are left out")
    _cpu(p, target, found, limits)
    if limits.memory_limit is None:
        p.none("Xmx", f"memory limit {limits.memory.state}", "memory flags")
    else:
        _memory(p, target, found, limits, read_text)
    _on_oom(p, target, found)
    _diagnostics(p, target, found)
    p.place_flags(target.how == "direct", "JAVA_TOOL_OPTIONS", f"{target.name} starts the JVM itself")
    value = p.env.get("JAVA_TOOL_OPTIONS", "")
    version = target.java_version
    if "JAVA_TOOL_OPTIONS" in p.added and len(value.encode()) > TOOL_OPTIONS_MAX and (
            version is None or version[0] <= 8):
        p.warn(f"JAVA_TOOL_OPTIONS is {len(value.encode())} bytes: JDK 8 ignores it above "
               f"{TOOL_OPTIONS_MAX + 1} bytes")


def _before(target: Target, update: int) -> bool:
    """Whether the JDK is known to be 8 older than 8u``update`` (or 7 and older)."""
    v = target.java_version
    return v is not None and (v[0] < 8 or (v[0] == 8 and v[1] < update))


def _cpu(p: Plan, target: Target, found: UserSettings, limits: Limits) -> None:
    """CPU: explicit, whatever the JDK would detect (JDK-8281181: shares taken for CPUs before 17.0.5)."""
    if not p.mine("ActiveProcessorCount", found.where("cpus"), "-XX:ActiveProcessorCount"):
        return
    v = target.java_version
    if _before(target, 191) and v is not None:
        p.none("ActiveProcessorCount", f"JDK {v[0]}u{v[1]} predates it (8u191)", "-XX:ActiveProcessorCount")
        return
    p.flag("ActiveProcessorCount", f"-XX:ActiveProcessorCount={limits.cpu_count}", cpu_text(limits), LIMIT)


def _memory(p: Plan, target: Target, found: UserSettings, limits: Limits,
            read_file: Callable[[str], str | None]) -> None:
    limit = limits.memory_limit
    assert limit is not None
    s = p.settings
    classes = classes_for(target, p.argv, p.env, getattr(s, "jvm_classes", None), found, read_file)
    b = budget(Needs(limit, limits.cpu_count, found, classes, s.jvm_threads, s.jvm_headroom))
    _gc_flag(p, b, found, limits)
    _heap_flag(p, b, found, limits)
    _region_flags(p, b, found)
    p.budget = [_line(r) for r in (b.heap, *b.regions.values())]
    if b.squeezed:
        whose = "the heap set by the user" if found.where("heap") or b.users_floor else "HotSpot's own heap"
        p.info(f"the limit is tight: {', '.join(b.squeezed)} shrunk to leave room for {whose} (the heap gives "
               "way first, down to HotSpot's own)")
    if not b.sane:
        _too_small(p, b, found)


def _line(r: Region) -> BudgetLine:
    from cgroupsize.model import BudgetLine

    return BudgetLine(r.name, r.size, r.source, r.note)


def _gc_flag(p: Plan, b: Budget, found: UserSettings, limits: Limits) -> None:
    gc, how = b.gc
    if how == "user":
        p.decide("UseSerialGC", "left", None, f"chosen by the user in {found.where('gc')}", USER,
                 "the garbage collector")
    elif gc == "Serial" and p.mine("UseSerialGC", found.where("gc"), "the garbage collector"):
        if found.unread:
            p.none("UseSerialGC", f"{found.unread} was not read and may select a collector (two are refused)")
            return
        p.flag("UseSerialGC", "-XX:+UseSerialGC",
               f"the JVM's own choice for {limits.cpu_count} CPU(s) and {fmt_size(b.limit)} (G1 needs 2 CPUs and "
               "1792Mi), made explicit so that a JVM misreading the limit does not pick G1 and its ~40Mi of GC "
               "structures", DEFAULT)


def _heap_flag(p: Plan, b: Budget, found: UserSettings, limits: Limits) -> None:
    where = found.where("heap")
    if not p.mine("Xmx", where, "the heap"):
        if where and not b.sane:
            p.warn(f"the heap set by the user in {where} leaves less than the {fmt_size(b.non_heap())} the "
                   f"other regions need within the {fmt_size(b.limit)} limit: the kernel may kill the JVM "
                   "before it throws OutOfMemoryError")
        return
    if found.unread:
        p.none("Xmx", f"{found.unread} was not read and may set an initial heap above it (java would refuse)",
               "the heap")
        return
    heap = f"-Xmx{b.heap.size // MiB}m"
    if b.sane:
        why = f"heap = {limit_text(limits)} - {fmt_size(b.non_heap())} for the other regions (the budget table)"
    else:
        why = f"{b.heap.note}; the other regions need {fmt_size(b.non_heap())} of the {limit_text(limits)}"
    p.flag("Xmx", heap, why, b.heap.source)


_FLAGS = (("MaxMetaspaceSize", "metaspace", "metaspace",
           "class loading fails with OutOfMemoryError: Metaspace, not a kernel OOM kill"),
          ("ReservedCodeCacheSize", "code", "code cache", "a full code cache stops the JIT; nothing fails"),
          ("MaxDirectMemorySize", "direct", "direct memory", "unset, NIO may allocate as much as the heap again"))


def _region_flags(p: Plan, b: Budget, found: UserSettings) -> None:
    for key, kind, name, why in _FLAGS:
        r = b.regions[name]
        if not p.mine(key, found.where(kind), f"-XX:{key}"):
            continue
        if key == "ReservedCodeCacheSize" and found.unread:
            p.none(key, f"{found.unread} was not read and may set a larger InitialCodeCacheSize (java would "
                   "refuse)", f"-XX:{key}")
            continue
        p.flag(key, f"-XX:{key}={max(1, r.size // MiB)}m", f"{name}: {r.note}; bounded: {why}", r.source)
    if found.where("stack"):
        p.info(f"thread stacks costed at the -Xss set by the user in {found.where('stack')}")


def _too_small(p: Plan, b: Budget, found: UserSettings) -> None:
    if found.where("heap"):
        return  # the user's heap: warned about in _heap_flag
    regions = ", ".join(f"{r.name} {fmt_size(r.size)}" for r in b.regions.values())
    if b.users_floor:  # the user's -Xms/-Xmn: their choice, said plainly but not refused
        p.warn(f"{b.heap.note} needs a {fmt_size(b.heap.size)} heap: with {regions} that is "
               f"{fmt_size(b.total())}, over the {fmt_size(b.limit)} limit")
        return
    p.warn(f"memory limit {fmt_size(b.limit)} is too small for the JVM plan: the {fmt_size(b.heap.size)} heap "
           f"({b.heap.note}) and {regions} need {fmt_size(b.total())}", problem=True)


def _on_oom(p: Plan, target: Target, found: UserSettings) -> None:
    """-XX:+ExitOnOutOfMemoryError (on by default) and a heap dump per process when asked for."""
    s = p.settings
    if getattr(s, "jvm_exit_on_oom", True) is False:
        p.none("ExitOnOutOfMemoryError", "CGROUPSIZE_JVM_EXIT_ON_OOM is off")
    elif _before(target, 92):
        p.none("ExitOnOutOfMemoryError", "the JDK predates it (8u92)")
    elif p.mine("ExitOnOutOfMemoryError", found.where("on_oom"), "what the JVM does on OutOfMemoryError"):
        p.flag("ExitOnOutOfMemoryError", "-XX:+ExitOnOutOfMemoryError",
               "a JVM out of memory exits with the error and its stack trace instead of limping on "
               "(CGROUPSIZE_JVM_EXIT_ON_OOM=0 keeps the JVM's default)", DEFAULT)
    folder = getattr(s, "heap_dump_dir", None)
    if folder and p.mine("HeapDumpOnOutOfMemoryError", found.where("heap_dump"), "heap dumps"):
        path = heap_dump_path(folder)
        p.flag("HeapDumpOnOutOfMemoryError", "-XX:+HeapDumpOnOutOfMemoryError",
               "CGROUPSIZE_HEAP_DUMP_DIR: a dump as large as the heap when the heap runs out", USER)
        p.flag("HeapDumpPath", f"-XX:HeapDumpPath={path}", "one file per process (%p: the pid) and start time",
               USER)


def heap_dump_path(folder: str) -> str:
    """``folder/java-%p-<UTC start time>.hprof``; the folder is created (SettingError if not writable)."""
    import os
    import time

    try:
        os.makedirs(folder, exist_ok=True)
        writable = os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        from cgroupsize.settings import SettingError

        raise SettingError("CGROUPSIZE_HEAP_DUMP_DIR", folder, "a directory the JVM can write")
    return os.path.join(os.path.abspath(folder), time.strftime("java-%%p-%Y%m%dT%H%M%SZ.hprof", time.gmtime()))


def _diagnostics(p: Plan, target: Target, found: UserSettings) -> None:
    """CGROUPSIZE_JVM_DIAGNOSTICS=1: the native memory summary and a GC log, on stderr at exit."""
    if not getattr(p.settings, "jvm_diagnostics", False):
        return
    v = target.java_version
    if p.mine("NativeMemoryTracking", found.where("nmt"), "-XX:NativeMemoryTracking"):
        for flag in (*DIAGNOSTICS, GC_LOG_8 if v is not None and v[0] <= 8 else GC_LOG):
            p.flag("NativeMemoryTracking", flag, "CGROUPSIZE_JVM_DIAGNOSTICS: the native memory summary and the GC "
                   "log go to stderr (NMT costs a little memory per allocation and some start-up time)", USER)
