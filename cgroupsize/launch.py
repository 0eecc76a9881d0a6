"""Exec the command: the one place with side effects (DESIGN.md principle 4).

The command replaces this process, so it keeps the PID, receives signals
directly and its exit status is the container's. Before exec we undo what
CPython changed: it sets SIGPIPE and SIGXFSZ to SIG_IGN at start-up, and an
ignored disposition survives execve(2) (subprocess has ``restore_signals``
for the same reason, bpo-1652). Python's buffers are not flushed by exec
(``os.exec*`` docs), so we flush them.
"""
from __future__ import annotations

import errno
import os
try:  # the C module: "import signal" pulls in enum (~5 ms) for nothing we need
    import _signal as signal
except ImportError:  # pragma: no cover - other interpreters
    import signal
import sys

NOT_FOUND = 127  # POSIX shell and tini: command not found
NOT_EXECUTABLE = 126  # found but cannot be executed
USAGE = 2
PROBLEM = 1  # --strict refused to start

# Seam for tests: the in-process exec can be replaced with a recorder.
_execve = os.execve


def error(message: str) -> None:
    """One line on stderr, prefixed with the tool's name."""
    try:
        sys.stderr.write(f"cgroupsize: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed (or None): nothing more we can do
        pass


def resolve(name: str, env: dict) -> str | None:
    """The file ``execvp`` would run for ``name``, using PATH from the *new* env.

    Mirrors os._execvpe's search so the result matches what exec does; returns
    the first candidate that exists (executable or not), or None.
    """
    if "/" in name:
        return name
    path = env.get("PATH", os.defpath)
    first_existing = None
    for d in path.split(os.pathsep):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            first_existing = first_existing or candidate
    return first_existing


def exec_command(argv: list, env: dict) -> int:
    """Replace this process with ``argv``; return an exit code only if that fails.

    Not found -> 127, not executable -> 126, as shells and tini do. A file
    without a ``#!`` line that the kernel refuses (ENOEXEC) is run through
    ``/bin/sh``, as execvp(3) does and Python's ``os.execvpe`` does not.
    """
    name = argv[0]
    path = resolve(name, env)
    if path is None:
        error(f"{name}: command not found")
        return NOT_FOUND
    _prepare()
    try:
        _execve(path, argv, env)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:
            try:
                _execve("/bin/sh", ["/bin/sh", path] + list(argv[1:]), env)
            except OSError as exc2:
                exc = exc2
        code = NOT_FOUND if exc.errno in (errno.ENOENT, errno.ENOTDIR) else NOT_EXECUTABLE
        error(f"{name}: {_reason(exc, code)}")
        return code
    except ValueError:  # embedded NUL byte in an argument or variable
        error(f"{name}: cannot execute: an argument or variable contains a NUL byte")
        return NOT_EXECUTABLE
    return 0  # only reached when _execve is a test double


def _reason(exc: OSError, code: int) -> str:
    if code == NOT_FOUND:
        return "command not found"
    if exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return (exc.strerror or str(exc)).lower()


def _prepare() -> None:
    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
