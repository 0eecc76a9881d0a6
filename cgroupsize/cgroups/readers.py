"""Small readers the v1 and v2 modules share: the walk for the tightest limit, keyed files.

Each returns what it found as data (values with their file and level, and
whether some level could not be read or parsed), so that "no limit" and
"could not tell" stay apart without anyone counting notices.
"""
from __future__ import annotations

import posixpath

from cgroupsize.files import Files, parse_uint
from cgroupsize.model import CGROUP_FILE, Record, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from cgroupsize.cgroups.locate import Location

    Parse = Callable[[Files, str, str], int | None]


class Walk(Record):
    """The tightest value of one file over the walk from our cgroup to the mount point.

    ``seen`` counts the levels whose file is there (readable or not);
    ``doubt`` is True when some level's file could not be read or parsed:
    that level may hold the limit, so its absence elsewhere is "could not
    tell", not "no limit".
    """

    __slots__ = ("best", "seen", "doubt")
    DEFAULTS = {"best": Value, "seen": 0, "doubt": False}
    best: Value
    seen: int
    doubt: bool


class MemoryReading(Record):
    """What the memory files of the walk say: the hard limit's walk, ``memory.high``, swap.

    ``memsw`` is v1's memory+swap limit (v2: always empty; ``swap`` is direct).
    """

    __slots__ = ("limit", "high", "swap", "memsw")
    DEFAULTS = {"high": Value, "swap": Value, "memsw": Value}
    limit: Walk
    high: Value
    swap: Value
    memsw: Value


def tightest(files: Files, loc: Location, name: str, parse: Parse) -> Walk:
    """Smallest finite value of file ``name`` over ``loc.chain()``; its file and level are the source."""
    walk = Walk()
    for d in loc.chain():
        inside = posixpath.join(d, name)
        level = files.scoped()
        text = level.read_line(inside)
        value = parse(level, inside, text) if text is not None else None
        if text is not None or level.notices:
            walk.seen += 1
        walk.doubt = walk.doubt or bool(level.notices)
        files.notices.extend(level.notices)
        if value is not None and (walk.best.value is None or value < walk.best.value):
            walk.best = Value(value, inside, text, d, CGROUP_FILE)
    return walk


def figure(n: int, inside: str, raw: str | None) -> Value:
    """A figure read from cgroup file ``inside``; its level is the file's directory."""
    return Value(n, inside, raw, posixpath.dirname(inside), CGROUP_FILE)


def number(files: Files, inside: str, raw: str | None, shown: str | None = None) -> Value:
    """``raw`` (text from ``inside``) as a whole number: None is unknown; garbled is unknown plus
    a MALFORMED notice quoting ``shown`` (default ``raw``)."""
    if raw is None:
        return Value()
    n = parse_uint(raw)
    if n is None:
        files.malformed(inside, raw if shown is None else shown, "a whole number")
        return Value()
    return figure(n, inside, raw)


def int_file(files: Files, d: str, name: str) -> Value:
    """A whole number from a one-line file in directory ``d``: absent is unknown, garbled unknown plus a notice."""
    inside = posixpath.join(d, name)
    return number(files, inside, files.read_line(inside))


def flat_keyed(text: str | None) -> dict[str, str]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events) as a dict of strings; None gives {}."""
    fields = {}
    for line in (text or "").split("\n"):
        parts = line.split()
        if len(parts) == 2:
            fields[parts[0]] = parts[1]
    return fields


def keyed_number(files: Files, inside: str, fields: dict[str, str], key: str) -> Value:
    """The whole number for ``key`` in ``fields`` (read from ``inside``), as :func:`number`."""
    raw = fields.get(key)
    return number(files, inside, raw, f"{key} {raw}")


def keyed_value(files: Files, inside: str, key: str) -> Value:
    """The number for ``key`` in a flat-keyed file: absent is unknown, garbled unknown plus a notice."""
    return keyed_number(files, inside, flat_keyed(files.read(inside)), key)
