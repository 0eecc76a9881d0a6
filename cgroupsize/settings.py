"""The one table of settings.

Both doors read it: the fast entrypoint path (``cgroupsize CMD…``, settings
from ``CGROUPSIZE_*`` variables only) and the click command line (options,
each also readable from its variable). Names, variables, parsers and defaults
are declared once here so the two cannot drift.

Parsers raise :class:`SettingError`; the CLI turns it into one line naming the
setting and what it expects, exit 2 (user mistakes are errors; detection
problems are notices, never errors).
"""

from __future__ import annotations

from cgroupsize.model import knob_key
from cgroupsize.runtimes import REGISTRY

TYPE_CHECKING = False  # typing imports re: keep it off the entrypoint path
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

PREFIX = "CGROUPSIZE_"


class SettingError(ValueError):
    """A setting's value is not what it expects; ``str()`` is the one-line message."""

    def __init__(self, where: str, value: str, expects: str) -> None:
        self.where = where
        self.value = value
        self.expects = expects
        super().__init__(f"{where}: invalid value {value!r}: expected {expects}")


# -- value parsers -----------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Kubernetes resource.Quantity suffixes (k8s.io/apimachinery/pkg/api/resource):
# binary Ki..Ei and decimal k..E. Go's GOMEMLIMIT style "MiB" is accepted too.
_BINARY = {"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40, "pi": 1 << 50, "ei": 1 << 60}
_DECIMAL: dict[str, int] = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15, "e": 10**18}
_SIZE_PATTERN = r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kKmMgGtTpPeE]i?)?[bB]?\s*$"  # compiled on first use:
# `re` costs ~7 ms at start-up and the entrypoint path parses a size only when one is set


def parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError("one of 1/true/yes/on or 0/false/no/off")


def parse_size(text: str) -> int:
    """Bytes from ``536870912``, ``512Mi``, ``1.5Gi``, ``1G``, ``512MiB``.

    A lone ``m`` is refused: in a Kubernetes quantity it means *milli*
    (``512m`` is half a byte), while JVM users mean MiB; either reading would
    surprise someone.
    """
    import re

    m = re.match(_SIZE_PATTERN, text)
    if not m:
        raise ValueError("a size in bytes or a quantity like 512Mi, 1.5Gi, 2G")
    number, suffix = str(m.group(1)), str(m.group(2) or "")
    if suffix == "m":
        raise ValueError("a size like 512Mi or 512M ('m' means milli in Kubernetes quantities)")
    factor = _BINARY[suffix.lower()] if suffix.lower().endswith("i") else _DECIMAL.get(suffix.lower(), 1)
    whole, _, frac = number.partition(".")  # exact: no float (a 400-digit decimal is inf as a float)
    scale: int = 10 ** len(frac)
    value: int = (int(whole or "0") * scale + int(frac or "0")) * factor // scale
    if value <= 0:
        raise ValueError("a size greater than zero")
    if value >= 1 << 63:  # what a cgroup (int64) or any runtime could take
        raise ValueError("a size below 8Ei")
    return value


def parse_cpu(text: str) -> float:
    """CPUs from ``2``, ``1.5`` or Kubernetes millicores ``1500m``."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 1000 if t.endswith("m") else float(t)
    except ValueError:
        raise ValueError("a number of CPUs like 2, 1.5 or 1500m") from None
    if value != value or value in (float("inf"), float("-inf")) or value <= 0:
        raise ValueError("a number of CPUs greater than zero, like 2, 1.5 or 1500m")
    return value


def parse_ratio(text: str) -> float:
    """A fraction in (0, 1], or a percentage like ``75%``."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError("a fraction in (0, 1] such as 0.75, or a percentage such as 75%") from None
    if not 0 < value <= 1:
        raise ValueError("a fraction in (0, 1] such as 0.75, or a percentage such as 75%")
    return value


def parse_count(text: str) -> int:
    """A whole number >= 0 (``-vv`` style verbosity from the environment)."""
    t = text.strip()
    if not t.isdigit():
        raise ValueError("a whole number >= 0")
    return int(t)


def parse_positive(text: str) -> int:
    t = text.strip()
    if not t.isdigit() or int(t) < 1:
        raise ValueError("a whole number >= 1")
    return int(t)


def parse_text(text: str) -> str:
    return text.strip()


def parse_fraction(text: str) -> float:
    """A fraction in [0, 1), or a percentage like ``5%`` (headroom: 0 is allowed)."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError("a fraction in [0, 1) such as 0.05, or a percentage such as 5%") from None
    if not 0 <= value < 1:
        raise ValueError("a fraction in [0, 1) such as 0.05, or a percentage such as 5%")
    return value


MODES = ("auto", "always", "off")


def parse_mode(text: str) -> str:
    """``auto`` (also 1/true/yes/on), ``always``, or ``off`` (also 0/false/no)."""
    t = text.strip().lower()
    if t in MODES:
        return t
    if t in _TRUE:
        return "auto"
    if t in _FALSE:
        return "off"
    raise ValueError("one of auto, always, off (or 1/0)")


def parse_list(text: str) -> frozenset[str]:
    """Names of knobs the tool adds (runtimes.all_knobs()), separated by commas or spaces,
    normalised by :func:`knob_key`. A name the tool does not know -- a typo, or a flag written
    with its value (``-Xmx242m``, ``Xmx=1g``) -- is refused, with the close matches: a typo
    must not silently leave a runtime sized after all."""
    from cgroupsize.runtimes import all_knobs

    words = text.replace(",", " ").split()
    known = {knob_key(k): k for k in all_knobs()}
    unknown = [w for w in words if "=" in w or knob_key(w) not in known]
    if unknown or not words:
        raise ValueError(_unknown_knobs(unknown, known))
    return frozenset(knob_key(w) for w in words)


def _unknown_knobs(unknown: list[str], known: dict[str, str]) -> str:
    """The message for names --skip does not know: each with its close matches among the knobs."""
    import difflib

    hint = "names of flags and variables the tool adds, without values, separated by commas"
    if not unknown:
        return hint + ", such as ActiveProcessorCount,MALLOC_ARENA_MAX"
    parts = []
    for word in unknown[:5]:
        close = difflib.get_close_matches(knob_key(word), list(known), n=3, cutoff=0.6)
        if not close:  # "-Xmx242m": the flag with its value; compare without the trailing value
            close = [k for k in known if knob_key(word).startswith(k)][:3]
        parts.append(f"{word} (did you mean {' or '.join(known[c] for c in close)}?)" if close else word)
    return f"{hint}; not one the tool adds: {', '.join(parts)}"


_PARSERS = {
    "bool": parse_bool,
    "size": parse_size,
    "cpu": parse_cpu,
    "ratio": parse_ratio,
    "count": parse_count,
    "int": parse_positive,
    "choice": parse_text,
    "text": parse_text,
    "fraction": parse_fraction,
    "mode": parse_mode,
    "list": parse_list,
}


class Setting:
    """One row of the table.

    ``option`` is the long command-line flag (None: environment only);
    ``choices`` restricts a ``choice`` setting.
    """

    __slots__ = ("name", "kind", "default", "help", "option", "choices")

    def __init__(self, name: str, kind: str, default: Any, help: str, option: str | None = None,
                 choices: tuple[str, ...] | None = None) -> None:
        self.name = name
        self.kind = kind
        self.default = default
        self.help = help
        self.option = option
        self.choices = choices

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()

    def parse(self, text: str, where: str | None = None) -> Any:
        """Parse ``text``; raise SettingError naming ``where`` (the variable or flag)."""
        where = where or self.env
        try:
            value = _PARSERS[self.kind](text)
        except ValueError as exc:
            raise SettingError(where, text, str(exc)) from None
        if self.choices and value not in self.choices:
            raise SettingError(where, text, "one of " + ", ".join(self.choices))
        return value


RUNTIMES = ("auto", *REGISTRY, "none")

SETTINGS = (
    # -- general ---------------------------------------------------------
    Setting("disable", "bool", False, "Exec the command unchanged: detect nothing, add nothing."),
    Setting("verbose", "count", 0, "Say on stderr what was detected and what was added (repeat for more).",
            option="--verbose"),
    Setting("strict", "bool", False, "Exit 1 instead of carrying on when limits cannot be detected "
            "or memory is too small for a sane plan.", option="--strict"),
    Setting("runtime", "choice", "auto", "Runtime the command starts (for wrapper scripts the tool cannot "
            "identify); 'none' adds only the generic variables.", option="--runtime", choices=RUNTIMES),
    Setting("memory_limit", "size", None, "Use this memory limit instead of the detected one "
            "(bytes or a quantity such as 512Mi; fed by the Kubernetes Downward API).",
            option="--memory-limit"),
    Setting("cpu_limit", "cpu", None, "Use this CPU limit instead of the detected quota "
            "(2, 1.5 or 1500m).", option="--cpu-limit"),
    Setting("export", "bool", True, "Export the detected figures as CONTAINER_MEMORY_LIMIT, "
            "CONTAINER_CPU_LIMIT and CONTAINER_CPU_COUNT for the application."),
    Setting("skip", "list", frozenset(), "Flags and variables never to add, separated by commas "
            "(e.g. ActiveProcessorCount,MALLOC_ARENA_MAX): the off switch for any single knob.",
            option="--skip"),
    Setting("processes", "int", None, "Processes of the runtime that share the memory limit (Node cluster "
            "or pm2 workers, worker_threads isolates, preforked servers): each is sized for its share."),
    # -- per runtime: an off switch first, then the few figures worth tuning -----
    Setting("jvm", "bool", True, "Size the JVM: a budget of heap, metaspace, code cache, direct memory, "
            "thread stacks and the JVM's own memory that adds up to the limit; -XX:ActiveProcessorCount, "
            "SerialGC where the JVM would choose it, -XX:+ExitOnOutOfMemoryError."),
    Setting("jvm_threads", "int", None, "Threads the JVM budget costs stacks for (default 200, Tomcat's "
            "workers, plus the JVM's own), each at the stack it really touches (256Ki, at most -Xss)."),
    Setting("jvm_headroom", "fraction", 0.05, "Share of the memory limit the JVM plan leaves unused "
            "for native memory nobody bounds (default 0.05, i.e. 5%)."),
    Setting("jvm_classes", "int", None, "Classes the application loads, for the JVM's metaspace budget "
            "(default: counted in the jars and directories the java command line names; 15000 when "
            "nothing can be counted; the JDK's own are always added)."),
    Setting("jvm_exit_on_oom", "bool", True, "Add -XX:+ExitOnOutOfMemoryError: a JVM out of memory exits "
            "with the error and its stack trace instead of limping on (0 leaves the JVM's default)."),
    Setting("heap_dump_dir", "text", None, "Directory for a JVM heap dump on OutOfMemoryError, one file "
            "per process and start time (created if missing; a dump is as large as the heap)."),
    Setting("jvm_diagnostics", "bool", False, "Print the JVM's native memory summary and a GC log to "
            "stderr at exit (Native Memory Tracking costs a little memory per allocation)."),
    Setting("node", "bool", True, "Size Node.js: --max-old-space-size and --max-semi-space-size so "
            "the heap and Node's other memory fit the limit."),
    Setting("node_heap_ratio", "ratio", 0.8, "Share of the memory limit for Node's old space "
            "(default 0.8; the young generation and the reserve outside the heap always stay outside it)."),
    Setting("node_reserve", "fraction", 0.15, "Share of each Node process's memory kept outside V8's heap "
            "for Buffers, native addons and compiled code, at least 32Mi (default 0.15; raise it for "
            "Buffer-heavy services, e.g. 35%)."),
    Setting("python", "bool", True, "Size Python: PYTHON_CPU_COUNT, numeric thread pools (OMP_NUM_THREADS, "
            "OPENBLAS_NUM_THREADS, ...), MALLOC_ARENA_MAX, WEB_CONCURRENCY for gunicorn/uvicorn."),
    Setting("thread_rounding", "choice", "floor", "How Python's thread-pool variables (OMP_NUM_THREADS, "
            "OPENBLAS_NUM_THREADS, ...) round a fractional CPU quota: floor (default) or ceil.",
            choices=("floor", "ceil")),
    Setting("ruby", "bool", True, "Size Ruby: MALLOC_ARENA_MAX (or jemalloc's narenas), GC malloc limits "
            "below 1Gi per process, WEB_CONCURRENCY for puma/unicorn."),
    Setting("workers", "mode", "auto", "WEB_CONCURRENCY: auto (only for the servers gunicorn, uvicorn, puma, "
            "unicorn), always (any Python or Ruby program; a Node cluster app), off."),
    Setting("worker_memory", "size", None, "Memory per worker process when computing WEB_CONCURRENCY "
            "(default 256Mi for Python, 384Mi for Ruby, 512Mi for Node)."),
    Setting("go", "mode", "auto", "Size Go: GOMEMLIMIT; GOMAXPROCS when the binary does not follow the "
            "quota itself (auto), even when it does (always), or nothing (off)."),
    Setting("go_memlimit_ratio", "ratio", None, "GOMEMLIMIT as a share of the memory limit "
            "(default 0.9, or 0.8 below 64Mi)."),
    Setting("dotnet", "mode", "auto", "Size .NET: DOTNET_GCHeapHardLimit and DOTNET_PROCESSOR_COUNT where "
            "the runtime would miss the limit (auto), whenever there is one (always), or never (off)."),
    Setting("dotnet_heap_ratio", "ratio", 0.75, "DOTNET_GCHeapHardLimit as a share of the memory limit "
            "(default 0.75, the runtime's own container default)."),
)

BY_NAME = {s.name: s for s in SETTINGS}
DEFAULT = "default"  # the origin of a value nobody set


class Settings:
    """Every setting's value, as attributes generated from the table, and where each came from.

    ``settings.jvm_threads`` is the value (the table's default when nobody
    set it); ``settings.origin("memory_limit")`` names where it came from:
    ``"default"``, the variable (``CGROUPSIZE_MEMORY_LIMIT``), the option
    (``--memory-limit``) or the keyword (``memory_limit=``).
    """

    __slots__ = ("_values", "_origins")

    def __init__(self, values: dict[str, Any] | None = None, origins: dict[str, str] | None = None) -> None:
        self._values = {s.name: s.default for s in SETTINGS}
        self._origins = {s.name: DEFAULT for s in SETTINGS}
        for name, value in (values or {}).items():
            self._check(name)
            self._values[name] = value
            self._origins[name] = (origins or {}).get(name, "keyword")

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}") from None

    @staticmethod
    def _check(name: str) -> None:
        if name not in BY_NAME:
            raise TypeError(f"unknown setting {name!r}; known: {', '.join(BY_NAME)}")

    def origin(self, name: str) -> str:
        return self._origins[name]

    def given(self, name: str) -> bool:
        """Whether someone set ``name`` (rather than the table's default standing)."""
        return self._origins[name] != DEFAULT

    def with_values(self, **values: Any) -> Settings:
        """A copy with ``values`` set (used as given, origin ``keyword``)."""
        copy = Settings(dict(self._values), dict(self._origins))
        for name, value in values.items():
            self._check(name)
            copy._values[name] = value
            copy._origins[name] = "keyword"
        return copy

    def skipped(self, knob: str) -> bool:
        """Whether ``knob`` (a flag or variable name) is listed in CGROUPSIZE_SKIP."""
        return knob_key(knob) in self._values["skip"]

    def switched_on(self, name: str) -> bool:
        """Whether a runtime's off switch (a bool or a mode setting) is on."""
        return self._values[name] not in (False, "off")

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if self.given(k))
        return f"Settings({given})"


def load(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None,
         where: Callable[[Setting], str] | None = None) -> Settings:
    """Settings from ``env``'s ``CGROUPSIZE_*`` variables, then ``overrides`` on top.

    A variable that is unset or blank leaves the default. ``overrides`` maps
    setting names to text (parsed as the variable would be; an error names
    ``where(setting)``: the option, or the keyword) or to a value used as
    given. Raises SettingError for a value that does not parse, TypeError for
    a name that is no setting.
    """
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for s in SETTINGS:
        text = env.get(s.env)
        if text is not None and text.strip() != "":
            values[s.name] = s.parse(text)
            origins[s.name] = s.env
    for name, value in (overrides or {}).items():
        Settings._check(name)
        setting = BY_NAME[name]
        origin = where(setting) if where else setting.env
        values[name] = setting.parse(value, origin) if isinstance(value, str) else value
        origins[name] = origin
    return Settings(values, origins)
