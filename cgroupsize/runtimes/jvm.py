"""JVM (HotSpot): an explicit heap from a non-heap budget, bounded regions, CPU count, GC.

Why explicit flags rather than trusting ``-XX:+UseContainerSupport``: the
JVM's own detection misses nested parent limits (fixed by JDK-8322420) and
sub-path mount roots (JDK-8343191), was absent before 8u191/10 and for cgroup
v2 before 8u372/11.0.16/15, and until 17.0.5 took Kubernetes CPU *requests*
(shares) for a CPU count (JDK-8281181). Its default heap is also poor in both
directions: 25% of a 1 GiB container, while its unbounded non-heap (metaspace,
direct memory defaulting to the heap size) can push past the limit.

The plan (research/sizing.md §1(e); every figure the user set wins):

* ``-Xmx`` = limit - non-heap budget, where the budget is

  - metaspace ``32Mi + limit/8``, at most 256Mi (``-XX:MaxMetaspaceSize``):
    typical Spring Boot apps load 60-100Mi (CF memory calculator README);
  - code cache ``limit/16``, from 16Mi to the JVM's own 240Mi
    (``-XX:ReservedCodeCacheSize``; when full the JIT stops, nothing fails);
  - direct memory ``limit/16``, from 8Mi to 256Mi (``-XX:MaxDirectMemorySize``;
    unset, the JVM allows as much as the heap: splice#434; 10Mi breaks
    Netty: java-buildpack-memory-calculator#20);
  - thread stacks: ``threads x stack``, threads ``limit/16Mi`` from 16 to 250
    (CF/Paketo assume 250 for servlet apps, 50 for reactive ones) or
    ``CGROUPSIZE_JVM_THREADS``; stack = the user's ``-Xss`` or the 1Mi default
    (``-Xss`` is never lowered: stacks are committed as they are touched, so a
    smaller one saves little and risks StackOverflowError);
  - JVM internals nobody bounds: 24Mi (the CDS archive ~12Mi, string tables,
    JIT arenas) plus metaspace/4 (symbols and class-parsing arenas grow with
    the classes: NMT on JDK 17 shows ~0.3 x metaspace), and the GC's own
    structures: Serial 1% of the heap, Parallel 2%, G1/ZGC/Shenandoah
    40Mi + 4% (NMT "GC" on JDK 17: 40Mi at a 64Mi heap, 100Mi at 1.5Gi,
    230Mi at 6Gi);
  - headroom ``CGROUPSIZE_JVM_HEADROOM`` x limit (5%) for native memory of
    libraries and malloc arenas.

  ``-XX:MaxMetaspaceSize`` and ``-XX:MaxDirectMemorySize`` are both set to one
  shared pool, the two budgets plus the headroom: either may outgrow its own
  budget into the others' (per-region caps failed workloads that ran without
  the tool: benchmarks/README.rst), neither grows past the limit unbounded.

  Where that leaves the heap under 40% of the limit, or under what HotSpot
  would take by itself (50% below 250Mi, 124.8Mi up to 500Mi, 25% above:
  cgroupsize never holds less than the default), metaspace, code cache and
  direct memory shrink together toward floors of 16Mi, 8Mi and 4Mi, instead
  of failing as the Cloud Foundry/Paketo calculators do (Paketo RFC 0007,
  "low profile"). If even the floors leave too little (below ~190Mi), a
  warning (``--strict`` refuses) and HotSpot's own heap size.

  Checked in real 256Mi/512Mi/1Gi v1 cgroups with heap, direct-buffer,
  class-loading and 200-deep-thread hogs (JDK 17): every bounded region ends
  in an OutOfMemoryError at 85-94% of the limit, never a kernel OOM kill,
  except 200 deep threads at 256Mi with every region full (16 threads are
  assumed there; ``CGROUPSIZE_JVM_THREADS``).
* ``-XX:ActiveProcessorCount`` = our CPU count (ceil of the quota, cpuset,
  affinity), always: right on every layout and JDK (skipped on JDKs older
  than 8u191, which would refuse the flag).
* ``-XX:+UseSerialGC`` where the JVM itself would pick Serial for our figures
  (fewer than 2 CPUs or under 1792Mi: ``os::is_server_class_machine``), unless
  the user chose a GC: a JVM misreading the limit would pick G1 and its ~40Mi
  of structures the budget does not hold.

Flags go right after ``java`` when we exec it, so the user's later flags win;
when a script starts the JVM they are prepended to ``JAVA_TOOL_OPTIONS``
(read by every JVM, before its command line). The user's settings are looked
for in the java command line up to the main class, ``-jar`` or ``-m`` (what
follows belongs to the application), ``@argfiles``, ``-XX:VMOptionsFile``,
``JDK_JAVA_OPTIONS``, ``JAVA_TOOL_OPTIONS``, ``_JAVA_OPTIONS`` and, for
scripts, ``JAVA_OPTS``; token by token, never by substring.
"""
from __future__ import annotations

from cgroupsize.identify import Target, read_text
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import cpu_text, limit_text, split_argfile, split_options
from cgroupsize.units import GiB, KiB, MiB, fmt_size

_JVM_FACTOR = {"k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}


def parse_jvm_size(text: str, unit: int = 1) -> int | None:
    """HotSpot size syntax: ``512m``, ``1G``, ``1048576`` (times ``unit`` when bare); None if odd."""
    t = text.strip()
    suffix = t[-1:].lower()
    digits = t[:-1] if suffix in _JVM_FACTOR else t
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits) * (_JVM_FACTOR[suffix] if suffix in _JVM_FACTOR else unit)


# -- the budget's constants (one place; the OOM benchmark tunes them) -------------
METASPACE_BASE = 32 * MiB
METASPACE_SHARE = 1 / 8
METASPACE_MAX = 256 * MiB
METASPACE_FLOOR = 16 * MiB  # a hello world needs ~8Mi; below this nothing real starts
CODE_SHARE = 1 / 16
CODE_MIN = 16 * MiB
CODE_MAX = 240 * MiB  # HotSpot's own ReservedCodeCacheSize with tiered compilation
CODE_FLOOR = 8 * MiB  # HotSpot refuses < 2496K with tiered; 8Mi keeps C1 useful
DIRECT_SHARE = 1 / 16
DIRECT_MIN = 8 * MiB
DIRECT_MAX = 256 * MiB
DIRECT_FLOOR = 4 * MiB
THREAD_PER = 16 * MiB  # one assumed thread per 16Mi of limit ...
THREADS_MIN = 16  # ... at least the JVM's own threads on a small box (GC, JIT, VM, signal, finalizer)
THREADS_MAX = 250  # ... at most the CF/Paketo servlet default
STACK_DEFAULT = 1 * MiB  # HotSpot's ThreadStackSize on Linux x64 and aarch64
INTERNALS = 24 * MiB
INTERNALS_PER_METASPACE = 1 / 4
GC_COST = {  # (fixed, share of heap)
    "Serial": (0, 0.01),
    "Parallel": (0, 0.02),
    "G1": (40 * MiB, 0.04),
    "Z": (40 * MiB, 0.04),
    "Shenandoah": (40 * MiB, 0.04),
    "Epsilon": (0, 0.0),
}
HEAP_MIN_SHARE = 0.4  # below this share of the limit, shrink the regions
HEAP_FLOOR = 8 * MiB
HEAP_ALIGN_MIB = 2  # HotSpot rounds -Xmx up to its heap alignment (2Mi for Serial/Parallel): so -Xmx is exact
# HotSpot's own heap for a limit (arguments.cpp set_heap_size): MinRAMPercentage 50 below
# the default MaxHeapSize (ScaleForWordSize(96M) = 124.8M on 64-bit), else MaxRAMPercentage 25.
HOTSPOT_MAX_HEAP_DEFAULT = 96 * MiB * 13 // 10
SERVER_CLASS_MEMORY = 1792 * MiB  # 2 GiB - 256 MiB: os::is_server_class_machine()
TOOL_OPTIONS_MAX = 1023  # JDK 8 drops a longer JAVA_TOOL_OPTIONS silently (arguments.cpp)

# -- recognising the user's settings -----------------------------------------------
# launcher options whose value is the next argument (java --help)
_VALUE_OPTS = {"-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path",
               "--add-modules", "--add-reads", "--add-exports", "--add-opens", "--limit-modules",
               "--patch-module", "--source", "--enable-native-access", "-d", "--describe-module"}
# -XX flag name -> (what it decides, unit of a bare number)
_XX_KINDS = {
    "MaxHeapSize": ("heap", 1), "MaxRAMPercentage": ("heap", None), "MaxRAMFraction": ("heap", None),
    "MaxRAM": ("heap", None), "AggressiveHeap": ("heap", None), "ErgoHeapSizeLimit": ("heap", None),
    "InitialHeapSize": ("xms", 1), "MinHeapSize": ("xms", 1),
    "ThreadStackSize": ("stack", KiB),
    "MaxMetaspaceSize": ("metaspace", 1),
    "ReservedCodeCacheSize": ("code", 1),
    "MaxDirectMemorySize": ("direct", 1),
    "ActiveProcessorCount": ("cpus", None),
}
_GC_NAMES = {"UseSerialGC": "Serial", "UseParallelGC": "Parallel", "UseParallelOldGC": "Parallel",
             "UseG1GC": "G1", "UseZGC": "Z", "UseShenandoahGC": "Shenandoah", "UseEpsilonGC": "Epsilon",
             "UseConcMarkSweepGC": "G1"}  # CMS: budget like G1 (a concurrent collector's structures)


class UserSettings:
    """What the user set, kind -> (where, value); later sources override earlier ones."""

    __slots__ = ("found", "unread")

    def __init__(self):
        self.found = {}
        self.unread = False  # an @argfile we could not (or would not: a pipe) read

    def add(self, kind, where, value=None):
        self.found[kind] = (where, value)

    def where(self, kind):
        entry = self.found.get(kind)
        return entry[0] if entry else None

    def value(self, kind):
        entry = self.found.get(kind)
        return entry[1] if entry else None


def classify(token: str):
    """``(kind, value)`` for a JVM option the plan cares about, else None.

    Kinds: heap, xms, stack, metaspace, code, direct, cpus, gc. Values are
    bytes where they are sizes (None when unparsable), the GC name for gc.
    """
    if token.startswith("-Xmx"):
        return "heap", parse_jvm_size(token[4:])
    if token.startswith("-Xms"):
        return "xms", parse_jvm_size(token[4:])
    if token.startswith("-Xss"):
        return "stack", parse_jvm_size(token[4:])
    if not token.startswith("-XX:"):
        return None
    body = token[4:]
    sign = body[:1] if body[:1] in ("+", "-") else ""
    name, eq, value = body[len(sign):].partition("=")
    value = value if eq else None
    if not name.replace("_", "").isalnum():
        return None
    if name in _GC_NAMES:
        return ("gc", _GC_NAMES[name] if sign == "+" else None)
    if name == "AggressiveHeap":
        return ("heap", None) if sign == "+" else None
    kind = _XX_KINDS.get(name)
    if kind is None or value is None:
        return None
    unit = kind[1]
    return kind[0], parse_jvm_size(value, unit) if unit else None


def scan(tokens, where, found: UserSettings, read_file=None, launcher=False):
    """Record the user's settings among ``tokens`` (from ``where``).

    ``launcher``: these are java launcher arguments: stop at the main class,
    ``-jar``, ``-m``/``--module`` (the rest is the application's), expand
    ``@argfiles`` in place (not nested, as the launcher does) and skip the
    values of options such as ``-cp``.
    """
    tokens = list(tokens)
    expand = launcher
    i = 0
    argfile_end = -1
    while i < len(tokens):
        t = tokens[i]
        src = "an @argfile" if i < argfile_end else where
        if launcher:
            if t == "--disable-@files":
                expand = False
                i += 1
                continue
            if t.startswith("@") and not t.startswith("@@") and expand and i >= argfile_end:
                text = read_file(t[1:]) if read_file else None
                if text is None:
                    found.unread = True
                inner = split_argfile(text) if text is not None else []
                tokens[i:i + 1] = inner
                argfile_end = i + len(inner)
                continue
            if t in ("-jar", "-m", "--module") or t.startswith("--module=") or not t.startswith("-"):
                return
            if t in _VALUE_OPTS:
                i += 2
                continue
        if t.startswith("-XX:VMOptionsFile=") and read_file:
            text = read_file(t.split("=", 1)[1])
            if text is not None:
                scan(split_argfile(text), "a VMOptionsFile", found)
        hit = classify(t)
        if hit:
            found.add(hit[0], src, hit[1])
        i += 1


def user_settings(target, argv, env, read_file=None) -> UserSettings:
    """Every JVM setting the user made, in HotSpot's order of precedence (later wins).

    JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS (prepended by the launcher) < the
    command line < _JAVA_OPTIONS (arguments.cpp ``parse_vm_init_args``).
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


# -- the budget ---------------------------------------------------------------------


class Budget:
    """The heap and every non-heap region, in bytes, with what each came from."""

    __slots__ = ("limit", "heap", "metaspace", "code", "direct", "stack", "threads", "internals", "gc",
                 "gc_cost", "headroom", "shrunk", "usual", "sane", "user", "target")

    def non_heap(self):
        return (self.metaspace + self.code + self.direct + self.stack * self.threads + self.internals
                + self.gc_cost + self.headroom)


def _clamp(value, low, high):
    return max(low, min(high, value))


def predicted_gc(found: UserSettings, limit, cpus):
    """The collector the JVM will run: the user's, else the JVM's own choice for our figures."""
    if "gc" in found.found:
        return found.value("gc") or "G1", "user"  # "-XX:-UseXGC": unknown, budget the costlier
    if cpus < 2 or limit < SERVER_CLASS_MEMORY:
        return "Serial", "auto"
    return "G1", "auto"


def budget(limit: int, cpus: int, found: UserSettings, settings) -> Budget:
    """Size every region for ``limit`` bytes; the user's figures are taken as given."""
    b = Budget()
    b.limit = limit
    b.user = set()
    for kind in ("metaspace", "code", "direct", "stack"):
        if found.where(kind) is not None:
            b.user.add(kind)
    meta = found.value("metaspace")
    b.metaspace = meta if meta else _clamp(METASPACE_BASE + int(limit * METASPACE_SHARE), 0, METASPACE_MAX)
    code = found.value("code")
    b.code = code if code else _clamp(int(limit * CODE_SHARE), CODE_MIN, CODE_MAX)
    direct = found.value("direct")
    b.direct = direct if direct is not None and "direct" in b.user else \
        _clamp(int(limit * DIRECT_SHARE), DIRECT_MIN, DIRECT_MAX)
    b.stack = found.value("stack") or STACK_DEFAULT
    threads = settings.jvm_threads
    b.threads = threads if threads else _clamp(limit // THREAD_PER, THREADS_MIN, THREADS_MAX)
    b.gc = predicted_gc(found, limit, cpus)
    b.headroom = int(limit * settings.jvm_headroom)
    b.shrunk = 1.0
    b.usual = {}
    b.target = max(int(HEAP_MIN_SHARE * limit), hotspot_heap(limit))
    _solve(b)
    if b.heap < b.target:
        _shrink(b)
    b.sane = b.heap >= b.target
    b.heap = max(b.heap, hotspot_heap(limit), HEAP_FLOOR)
    return b


def hotspot_heap(limit: int) -> int:
    """The heap HotSpot picks by itself for ``limit`` (we never give less)."""
    half = limit // 2
    if half < HOTSPOT_MAX_HEAP_DEFAULT:
        return half
    return max(limit // 4, HOTSPOT_MAX_HEAP_DEFAULT)


def _solve(b: Budget) -> None:
    """heap = (limit - everything but the GC's share) / (1 + GC share of the heap)."""
    b.internals = INTERNALS + int(b.metaspace * INTERNALS_PER_METASPACE)
    fixed, share = GC_COST[b.gc[0]]
    rest = b.limit - (b.metaspace + b.code + b.direct + b.stack * b.threads + b.internals + b.headroom + fixed)
    b.heap = max(0, int(rest / (1 + share)))
    b.gc_cost = fixed + int(b.heap * share)


def _shrink(b: Budget) -> None:
    """Shrink our own metaspace, code cache and direct memory together (toward their floors)."""
    ours = [k for k in ("metaspace", "code", "direct") if k not in b.user]
    if not ours:
        return
    floors = {"metaspace": METASPACE_FLOOR, "code": CODE_FLOOR, "direct": DIRECT_FLOOR}
    start = {k: getattr(b, k) for k in ours}
    b.usual = start
    lo, hi = 0.0, 1.0  # bisect the common factor: the heap grows as it falls
    for _ in range(30):
        k = (lo + hi) / 2
        for name in ours:
            setattr(b, name, max(floors[name], int(start[name] * k)))
        _solve(b)
        if b.heap >= b.target:
            lo = k
        else:
            hi = k
    for name in ours:
        setattr(b, name, max(floors[name], int(start[name] * lo)))
    _solve(b)
    b.shrunk = lo


def _m(n: int, align: int = 1) -> str:
    """Bytes as a HotSpot size in whole MiB, rounded down to ``align`` MiB (at least that much)."""
    return f"{max(align, n // MiB // align * align)}m"


# -- the plan ----------------------------------------------------------------------


def plan(p: Plan, target: Target, limits: Limits) -> None:
    found = user_settings(target, p.argv, p.env, read_text)
    if found.unread:
        p.info("an @argfile was not read (missing, too large or not a regular file, such as a pipe java "
               "must still find full): settings in it come after ours and win")
    version = target.java_version
    if p.mine("ActiveProcessorCount", found.where("cpus"), "-XX:ActiveProcessorCount"):
        if version is not None and (version[0] < 8 or (version[0] == 8 and version[1] < 191)):
            p.none("ActiveProcessorCount", f"JDK {version[0]}u{version[1]} predates it (8u191)",
                   "-XX:ActiveProcessorCount")
        else:
            p.flag("ActiveProcessorCount", f"-XX:ActiveProcessorCount={limits.cpu_count}", cpu_text(limits),
                   "limit")
    if limits.memory_limit is None:
        p.none("Xmx", f"memory limit {limits.memory.state}", "memory flags")
    else:
        _memory(p, found, limits)
    p.place_flags(target.how == "direct", "JAVA_TOOL_OPTIONS", f"{target.name} starts the JVM itself")
    value = p.env.get("JAVA_TOOL_OPTIONS", "")
    if "JAVA_TOOL_OPTIONS" in p.added and len(value.encode()) > TOOL_OPTIONS_MAX and (
            version is None or version[0] <= 8):
        p.warn(f"JAVA_TOOL_OPTIONS is {len(value.encode())} bytes: JDK 8 ignores it above "
               f"{TOOL_OPTIONS_MAX + 1} bytes")


def _memory(p: Plan, found: UserSettings, limits: Limits) -> None:
    limit = limits.memory_limit
    assert limit is not None
    settings = p.settings
    b = budget(limit, limits.cpu_count, found, settings)
    gc, gc_from = b.gc
    if gc_from == "auto" and gc == "Serial" and p.mine("UseSerialGC", found.where("gc"), "the garbage collector"):
        p.flag("UseSerialGC", "-XX:+UseSerialGC",
               f"the JVM's own choice for {limits.cpu_count} CPU(s) and {fmt_size(limit)} (G1 needs 2 CPUs and "
               "1792Mi), made explicit so that a JVM misreading the limit does not pick G1 and its ~40Mi of GC "
               "structures", "default")
    elif gc_from == "user":
        p.decide("UseSerialGC", "left", None, f"chosen by the user in {found.where('gc')}", "user",
                 "the garbage collector")
    _heap(p, found, limits, b)
    _regions(p, found, b)


def _heap(p: Plan, found: UserSettings, limits: Limits, b: Budget) -> None:
    limit = b.limit
    regions = (f"metaspace {fmt_size(b.metaspace)}, code cache {fmt_size(b.code)}, "
               f"{b.threads} threads x {fmt_size(b.stack)} stack, direct {fmt_size(b.direct)}, "
               f"JVM internals {fmt_size(b.internals)}, {b.gc[0]} GC {fmt_size(b.gc_cost)}, "
               f"headroom {round(p.settings.jvm_headroom * 100, 1):g}%")
    if b.sane:
        heap_note = f"heap = {limit_text(limits)} - {fmt_size(b.non_heap())} non-heap ({regions})"
    else:
        heap_note = (f"what HotSpot would take itself for the {limit_text(limits)}; the non-heap budget "
                     f"alone is {fmt_size(b.non_heap())} ({regions})")
    heap_where = found.where("heap")
    if not p.mine("Xmx", heap_where, "the heap"):
        user_heap = found.value("heap")
        if user_heap and user_heap + b.non_heap() > limit:
            p.warn(f"the heap set by the user in {heap_where} leaves less than the "
                   f"{fmt_size(b.non_heap())} non-heap budget within the {fmt_size(limit)} limit: "
                   "the kernel may kill the JVM before it throws OutOfMemoryError")
    elif (found.value("xms") or 0) > b.heap:
        p.decide("Xmx", "left", None, f"the initial heap set by the user in {found.where('xms')} is above "
                 f"the {fmt_size(b.heap)} the budget allows", "user", "the heap")
        p.warn(f"the initial heap set by the user in {found.where('xms')} is above the "
               f"{fmt_size(b.heap)} heap the {fmt_size(limit)} limit allows after non-heap memory")
    else:
        heap = _m(b.heap, HEAP_ALIGN_MIB)
        p.flag("Xmx", f"-Xmx{heap}", heap_note, "limit")
    if b.shrunk < 1.0:
        usual = ", ".join(f"{k} {fmt_size(v)}" for k, v in b.usual.items())
        p.info(f"non-heap regions scaled down for a small container so the heap gets "
               f"{fmt_size(b.target)} (40% of the limit, and never less than HotSpot's own choice), "
               f"instead of failing as the CF/Paketo calculators do (Paketo RFC 0007); usually {usual}")
    if not b.sane:
        p.warn(f"memory limit {fmt_size(limit)} is too small for a sane JVM plan: even with metaspace "
               f"{fmt_size(b.metaspace)}, code cache {fmt_size(b.code)} and direct memory "
               f"{fmt_size(b.direct)} the {fmt_size(b.heap)} heap HotSpot would take itself does not fit "
               "beside the JVM's own memory", problem=True)


def _regions(p: Plan, found: UserSettings, b: Budget) -> None:
    # Metaspace and direct memory share one pool: their two budgets and the
    # headroom. Each may grow into the others' share, so an application that
    # needs more of one than budgeted still runs, while neither can grow past
    # the limit unbounded.
    pool = b.metaspace + b.direct + b.headroom
    shared = f"(its {{}} budget, or up to the {fmt_size(pool)} metaspace + direct + headroom pool)"
    for key, kind, value, label, why in (
            ("MaxMetaspaceSize", "metaspace", pool if "direct" not in b.user else b.metaspace, "metaspace",
             "bounded " + shared.format(fmt_size(b.metaspace)) +
             ", so class loading fails with OutOfMemoryError: Metaspace, not an OOM kill"),
            ("ReservedCodeCacheSize", "code", b.code, "code cache",
             "bounded (a full code cache stops the JIT; nothing fails)"),
            ("MaxDirectMemorySize", "direct", pool if "metaspace" not in b.user else b.direct, "direct memory",
             "bounded " + shared.format(fmt_size(b.direct)) +
             " (unset, NIO may allocate as much as the heap again)")):
        if p.mine(key, found.where(kind), f"-XX:{key}"):
            p.flag(key, f"-XX:{key}={_m(value)}", f"{label} {why}", "limit")
    if "stack" in b.user:
        p.info(f"thread stacks budgeted at the -Xss set by the user in {found.where('stack')}")
