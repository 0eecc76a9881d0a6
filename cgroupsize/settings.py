"""The one table of settings.

Both doors read it: the fast entrypoint path (``cgroupsize CMD…``, settings
from ``CGROUPSIZE_*`` variables only) and the click command line (options,
each also readable from its variable). Names, variables, parsers and defaults
are declared once here so the two cannot drift (DESIGN.md principle 5).

Parsers raise :class:`SettingError`; the CLI turns it into one line naming the
setting and what it expects, exit 2 (DESIGN.md principle 1: user mistakes are
errors, detection problems are not).
"""
from __future__ import annotations

import math
import re

PREFIX = "CGROUPSIZE_"


class SettingError(ValueError):
    """A setting's value is not what it expects; ``str()`` is the one-line message."""

    def __init__(self, where: str, value: str, expects: str):
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
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15, "e": 10**18}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kKmMgGtTpPeE]i?)?[bB]?\s*$")


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
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError("a size in bytes or a quantity like 512Mi, 1.5Gi, 2G")
    number, suffix = m.group(1), m.group(2) or ""
    if suffix == "m":
        raise ValueError("a size like 512Mi or 512M ('m' means milli in Kubernetes quantities)")
    factor = _BINARY[suffix.lower()] if suffix.lower().endswith("i") else _DECIMAL.get(suffix.lower(), 1)
    value = int(float(number) * factor) if "." in number else int(number) * factor
    if value <= 0:
        raise ValueError("a size greater than zero")
    return value


def parse_cpu(text: str) -> float:
    """CPUs from ``2``, ``1.5`` or Kubernetes millicores ``1500m``."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 1000 if t.endswith("m") else float(t)
    except ValueError:
        raise ValueError("a number of CPUs like 2, 1.5 or 1500m") from None
    if not math.isfinite(value) or value <= 0:
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


_PARSERS = {
    "bool": parse_bool,
    "size": parse_size,
    "cpu": parse_cpu,
    "ratio": parse_ratio,
    "count": parse_count,
    "int": parse_positive,
    "choice": parse_text,
    "text": parse_text,
}


class Setting:
    """One row of the table.

    ``option`` is the long command-line flag (None: environment only);
    ``choices`` restricts a ``choice`` setting.
    """

    __slots__ = ("name", "kind", "default", "help", "option", "choices")

    def __init__(self, name, kind, default, help, option=None, choices=None):
        self.name = name
        self.kind = kind
        self.default = default
        self.help = help
        self.option = option
        self.choices = choices

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()

    def parse(self, text: str, where: str | None = None):
        """Parse ``text``; raise SettingError naming ``where`` (the variable or flag)."""
        where = where or self.env
        try:
            value = _PARSERS[self.kind](text)
        except ValueError as exc:
            raise SettingError(where, text, str(exc)) from None
        if self.choices and value not in self.choices:
            raise SettingError(where, text, "one of " + ", ".join(self.choices))
        return value


RUNTIMES = ("auto", "jvm", "node", "python", "ruby", "go", "dotnet", "none")

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
)

BY_NAME = {s.name: s for s in SETTINGS}


def from_env(env) -> dict:
    """Every setting's value: its ``CGROUPSIZE_*`` variable if set (non-empty), else the default.

    Raises SettingError for the first variable that does not parse.
    """
    values = {}
    for s in SETTINGS:
        text = env.get(s.env)
        values[s.name] = s.default if text is None or text.strip() == "" else s.parse(text)
    return values
