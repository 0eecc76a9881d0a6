"""What every runtime plan shares: figures with their sources, and option splitting.

Nothing heavy is imported (not even ``re``, ~7 ms): this is on the entrypoint path.
"""
from __future__ import annotations

from cgroupsize.model import Limits
from cgroupsize.units import fmt_size


def limit_text(limits: Limits) -> str:
    """``512Mi limit (/sys/fs/cgroup/memory.max)``: the memory budget with its source."""
    budget = limits.memory.effective
    kind = "memory.high" if limits.memory.high_binds else "limit"
    return f"{fmt_size(budget.value)} {kind} ({budget.source})"


def cpu_text(limits: Limits) -> str:
    """``2 CPUs (quota 1.5 in /sys/fs/cgroup/cpu.max)`` or ``8 CPUs (no CPU limit)``."""
    count = limits.cpu_count
    source = limits.cpu.count_source
    noun = "CPU" if count == 1 else "CPUs"
    q = limits.cpu.quota
    if q.value is not None and (source is None or source == q.source):
        return f"{count} {noun} (quota {round(q.value, 3):g} in {q.source})"
    if source is None:
        return f"{count} {noun} (no CPU limit below the host's)"
    return f"{count} {noun} ({source})"


def split_options(text: str, comments: bool = False) -> list[str]:
    """Split an options variable the way runtimes do: whitespace, ``'...'``, ``"..."``, ``\\``.

    Good enough to find options in ``JAVA_TOOL_OPTIONS``, ``NODE_OPTIONS`` and
    ``@argfiles`` (with ``comments``: ``#`` at the start of a token runs to the
    end of the line, as in the java launcher's args.c); never raises (an
    unbalanced quote runs to the end).
    """
    tokens: list[str] = []
    current: list[str] = []
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


def split_argfile(text: str) -> list[str]:
    """Tokens of a java ``@argfile``: as :func:`split_options`, ``#`` comments dropped."""
    return split_options(text, comments=True)
