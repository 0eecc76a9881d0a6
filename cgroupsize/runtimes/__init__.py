"""The registry of runtimes: one row each, the only list of them.

Each runtime module has ``plan(p, target, limits) -> None``: it fills the
:class:`cgroupsize.model.Plan` ``p`` (argv, env and settings already in it)
for the command :mod:`cgroupsize.identify` described in ``target``. Plans
read no files of their own beyond what ``target`` carries (the JVM's
``@argfiles`` through :func:`cgroupsize.files.read_text`), run nothing and
print nothing. Only the module of the runtime being started is imported.

``knobs`` are the flags and variables a runtime may add, in the spelling
``CGROUPSIZE_SKIP`` takes: the names ``--skip`` is checked against.
"""
from __future__ import annotations

from cgroupsize.model import Record

TYPE_CHECKING = False  # typing imports re: keep it off the entrypoint path
if TYPE_CHECKING:
    from types import ModuleType


class Runtime(Record):
    """One runtime: its module, the setting that switches it off, its knobs and settings."""

    __slots__ = ("name", "module", "switch", "knobs", "settings")
    name: str
    module: str
    switch: str
    knobs: tuple[str, ...]
    settings: tuple[str, ...]


_THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "BLIS_NUM_THREADS")

REGISTRY = {r.name: r for r in (
    Runtime("jvm", "cgroupsize.runtimes.jvm", "jvm",
            ("ActiveProcessorCount", "Xmx", "UseSerialGC", "MaxMetaspaceSize", "ReservedCodeCacheSize",
             "MaxDirectMemorySize", "ExitOnOutOfMemoryError", "HeapDumpOnOutOfMemoryError", "HeapDumpPath",
             "NativeMemoryTracking"),
            ("jvm_threads", "jvm_headroom", "jvm_classes", "jvm_exit_on_oom", "heap_dump_dir", "jvm_diagnostics")),
    Runtime("node", "cgroupsize.runtimes.node", "node",
            ("max-old-space-size", "max-semi-space-size", "UV_THREADPOOL_SIZE", "WEB_CONCURRENCY"),
            ("node_heap_ratio", "node_reserve", "processes", "workers", "worker_memory")),
    Runtime("python", "cgroupsize.runtimes.python", "python",
            ("WEB_CONCURRENCY", *_THREAD_POOLS, "PYTHON_CPU_COUNT", "LOKY_MAX_CPU_COUNT", "MALLOC_ARENA_MAX",
             "MALLOC_CONF"),
            ("workers", "worker_memory", "thread_rounding", "processes")),
    Runtime("ruby", "cgroupsize.runtimes.ruby", "ruby",
            ("MALLOC_ARENA_MAX", "MALLOC_CONF", "WEB_CONCURRENCY", "RUBY_GC_MALLOC_LIMIT_MAX",
             "RUBY_GC_OLDMALLOC_LIMIT_MAX"),
            ("workers", "worker_memory", "processes")),
    Runtime("go", "cgroupsize.runtimes.go", "go",
            ("GOMEMLIMIT", "GOMAXPROCS"),
            ("go_memlimit_ratio",)),
    Runtime("dotnet", "cgroupsize.runtimes.dotnet", "dotnet",
            ("DOTNET_GCHeapHardLimit", "DOTNET_PROCESSOR_COUNT"),
            ("dotnet_heap_ratio",)),
)}

# Set for any command (cgroupsize.planner), whatever the runtime.
GENERIC = ("CONTAINER_MEMORY_LIMIT", "CONTAINER_CPU_LIMIT", "CONTAINER_CPU_COUNT")


def all_knobs() -> list[str]:
    """Every knob the tool may add, generic ones first, each once."""
    seen: dict[str, None] = dict.fromkeys(GENERIC)
    for runtime in REGISTRY.values():
        seen.update(dict.fromkeys(runtime.knobs))
    return list(seen)


def load(name: str) -> ModuleType:
    """The module planning for runtime ``name`` (imported on first use)."""
    return __import__(REGISTRY[name].module, fromlist=["plan"])
