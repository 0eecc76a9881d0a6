"""Small helpers every runtime plan uses: sizes, option splitting, "did the user set it".

Nothing is imported (not even ``re``, ~7 ms): this is on the entrypoint path.
"""

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30


def fmt_size(n: int) -> str:
    """``536870912`` -> ``512Mi``; ``1610612736`` -> ``1.5Gi``; ``524288`` -> ``512Ki`` (for notes)."""
    for unit, factor in (("Gi", GiB), ("Mi", MiB), ("Ki", KiB)):
        if n >= factor:
            value = n / factor
            text = f"{value:.1f}".rstrip("0").rstrip(".") if value < 100 else str(round(value))
            return text + unit
    return f"{n}B"


def limit_text(limits) -> str:
    """``512Mi limit (/sys/fs/cgroup/memory.max)``: the figure with its source (principle 3)."""
    return f"{fmt_size(limits.memory_limit)} limit ({limits.memory.source})"


def cpu_text(limits) -> str:
    """``2 CPUs (quota 1.5 in /sys/fs/cgroup/cpu.max)`` or ``8 CPUs (no CPU limit)``."""
    count = limits.cpu_count
    source = limits.cpu_source
    noun = "CPU" if count == 1 else "CPUs"
    q = limits.cpu_quota
    if q.value is not None and (source is None or source == q.source):
        return f"{count} {noun} (quota {round(q.value, 3):g} in {q.source})"
    if source is None:
        return f"{count} {noun} (no CPU limit below the host's)"
    return f"{count} {noun} ({source})"


_LEAF_FILES = {"memory": ("memory.max", "memory.limit_in_bytes"), "cpu": ("cpu.max", "cpu.cfs_quota_us")}


def seen_at_leaf(limits, controller: str) -> bool:
    """Whether the limit comes from the process's own cgroup directory, as read plainly.

    A runtime that reads only its own cgroup (Go 1.25: golang/go#81180; .NET
    before 8: dotnet/runtime#93611; libuv) sees such a limit; it misses one
    set on an ancestor (or v1 ``hierarchical_memory_limit``), one given by
    CGROUPSIZE_MEMORY_LIMIT / --cpu-limit, and one read at the mount point
    because our own directory was not visible (APPROXIMATE_PATH).
    """
    value = limits.memory if controller == "memory" else limits.cpu_quota
    source = value.source or ""
    if not source.startswith("/") or source.rsplit("/", 1)[-1] not in _LEAF_FILES[controller]:
        return False
    if source.rsplit("/", 1)[0] != limits.cgroup_dirs.get(controller):
        return False
    return not any(n.code == "APPROXIMATE_PATH" and n.message.startswith(controller + ":")
                   for n in limits.notices)


def user_set(env, name: str) -> bool:
    """Whether the user set variable ``name`` (present and not blank)."""
    value = env.get(name)
    return value is not None and value.strip() != ""


def skipped(settings, key: str) -> bool:
    """Whether ``key`` (a flag or variable name) is listed in CGROUPSIZE_SKIP."""
    from cgroupsize.settings import knob_key

    return knob_key(key) in (settings.get("skip") or ())


def left_alone(p, settings, key: str, where, label: str | None = None) -> bool:
    """Whether the plan must leave ``key`` alone, with a note saying why.

    ``key`` is what CGROUPSIZE_SKIP names (a flag or variable); ``where`` is
    where the user set it (a place such as ``"JAVA_TOOL_OPTIONS"``, True for
    "set", None or False when not); ``label`` names it in the note.
    """
    label = label or key
    if skipped(settings, key):
        p.note(f"left {label} alone: listed in CGROUPSIZE_SKIP")
        return True
    if where:
        p.note(f"left {label} alone: set by the user" + ("" if where is True else f" in {where}"))
        return True
    return False


def split_options(text: str, comments: bool = False) -> list:
    """Split an options variable the way runtimes do: whitespace, ``'...'``, ``"..."``, ``\\``.

    Good enough to find options in ``JAVA_TOOL_OPTIONS``, ``NODE_OPTIONS`` and
    ``@argfiles`` (with ``comments``: ``#`` at the start of a token runs to the
    end of the line, as in the java launcher's args.c); never raises (an
    unbalanced quote runs to the end).
    """
    tokens = []
    current = []
    in_token = False
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < len(text) and text[i + 1] in '"\\':
                i += 1
                current.append(text[i])
            else:
                current.append(c)
        elif c in "'\"":
            quote = c
            in_token = True
        elif c == "#" and comments and not in_token:
            while i + 1 < len(text) and text[i + 1] != "\n":
                i += 1
        elif c == "\\" and i + 1 < len(text):
            i += 1
            current.append(text[i])
            in_token = True
        elif c.isspace():
            if in_token:
                tokens.append("".join(current))
                current = []
                in_token = False
        else:
            current.append(c)
            in_token = True
        i += 1
    if in_token:
        tokens.append("".join(current))
    return tokens


def split_argfile(text: str) -> list:
    """Tokens of a java ``@argfile``: as :func:`split_options`, ``#`` comments dropped."""
    return split_options(text, comments=True)


_JVM_FACTOR = {"k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}


def parse_jvm_size(text: str, unit: int = 1):
    """HotSpot size syntax: ``512m``, ``1G``, ``1048576`` (times ``unit`` when bare); None if odd."""
    t = text.strip()
    suffix = t[-1:].lower()
    digits = t[:-1] if suffix in _JVM_FACTOR else t
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits) * (_JVM_FACTOR[suffix] if suffix in _JVM_FACTOR else unit)
