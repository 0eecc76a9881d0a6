"""Exec the command: the one place with side effects.

The command replaces this process, so it keeps the PID, receives signals
directly and its exit status is the container's. Before exec we undo what
CPython changed: it sets SIGPIPE and SIGXFSZ to SIG_IGN at start-up, and an
ignored disposition survives execve(2) (subprocess has ``restore_signals``
for the same reason, bpo-1652). Python's buffers are not flushed by exec
(``os.exec*`` docs), so we flush them.

The environment the command gets is the block this process received, read
raw from ``/proc/self/environ`` (duplicates, entries without ``=``, order and
bytes kept), not ``os.environ``: at start-up CPython puts
``LC_CTYPE=C.UTF-8`` into its own environment when the locale is C or POSIX
(PEP 538 locale coercion, even under ``-I``), and ``os.environ`` keeps one
value per name and drops entries it cannot parse. Only the variables the
plan sets are changed in that block.
"""
from __future__ import annotations

import errno
import os
import stat

try:  # the C module: "import signal" pulls in enum (~5 ms) for nothing we need
    import _signal as signal  # no stub (mypy: ignore_missing_imports): same API as signal
except ImportError:  # pragma: no cover - other interpreters
    import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing imports re; nothing below needs it at run time
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import BinaryIO

NOT_FOUND = 127  # POSIX shell and tini: command not found
NOT_EXECUTABLE = 126  # found but cannot be executed
USAGE = 2
PROBLEM = 1  # --strict refused to start
INTERRUPTED = 130  # SIGINT (Ctrl-C) before the command started: 128 + 2, as a shell shows it

ENVIRON_FILE = "/proc/self/environ"
# What PEP 538 coercion writes into LC_CTYPE (Python/pylifecycle.c, _TARGET_LOCALES).
COERCED = (b"C.UTF-8", b"C.utf8", b"UTF-8")


class Environment(dict[str, str]):
    """The environment to exec: ``entries`` is the raw block; the dict is the view ``getenv`` gives.

    The mapping (str -> str, first occurrence of a name wins, as for
    ``getenv(3)`` and ``os.environ``) is for looking things up (PATH) and for
    test doubles of :data:`_execve`; exec uses ``entries``; ``first`` is the
    same view in bytes. ``received`` is False when ``/proc/self/environ``
    could not be read and ``os.environb`` stood in for it (it may then hold
    the coerced ``LC_CTYPE``).
    """

    def __init__(self, entries: list[bytes], received: bool = True) -> None:
        super().__init__()
        self.entries = entries
        self.received = received
        self.plain = True  # no duplicates, every entry NAME=VALUE: os.execve can express it
        first: dict[bytes, bytes] = {}
        for entry in entries:
            name, eq, value = entry.partition(b"=")
            if not eq or not name or name in first:
                self.plain = False
            if eq and name not in first:
                first[name] = value
        self.first = first
        code = sys.getfilesystemencoding()
        self.update((k.decode(code, "surrogateescape"), v.decode(code, "surrogateescape")) for k, v in first.items())


def received_environment() -> Environment:
    """The environment block this process was started with, entry by entry, as bytes.

    Falls back to ``os.environb`` (one entry per name, LC_CTYPE possibly
    coerced) when ``/proc`` is not mounted or not readable.
    """
    try:
        with open(ENVIRON_FILE, "rb") as f:
            data = f.read()
    except OSError:
        return Environment([name + b"=" + value for name, value in os.environb.items()], received=False)
    entries = data.split(b"\0")
    if entries[-1] == b"":  # each entry ends with a NUL; an empty environment is b""
        entries.pop()
    return Environment(entries)


def environment_for(added: Mapping[str, str] | None) -> Environment:
    """The received block with this process's own changes to ``os.environ`` and then ``added`` applied.

    A name whose value in ``added`` is what ``os.environ`` holds is no change
    (so a whole copy of ``os.environ`` adds nothing); PEP 538's LC_CTYPE is not
    a change either. A changed name replaces its first entry; its other
    entries go, so that no program sees the old value (bash takes the last).
    """
    env = received_environment()
    first = env.first
    before: Mapping[bytes, bytes] = getattr(os.environ, "_data", None) or os.environb  # _data: bytes (POSIX)
    now = dict(before)
    ctype = now.get(b"LC_CTYPE")
    if ctype in COERCED and first.get(b"LC_CTYPE") != ctype:
        if b"LC_CTYPE" in first:
            now[b"LC_CTYPE"] = first[b"LC_CTYPE"]
        else:
            del now[b"LC_CTYPE"]
    code = sys.getfilesystemencoding()
    for key, value in (added or {}).items():
        name, data = key.encode(code, "surrogateescape"), value.encode(code, "surrogateescape")
        if before.get(name) != data:
            now[name] = data
    changes: dict[bytes, bytes | None] = {k: v for k, v in now.items() if first.get(k) != v}
    changes.update((k, None) for k in first if k and k not in now)  # os.environ cannot hold an empty name
    if not changes:
        return env
    return Environment(_apply(env.entries, changes), env.received)


def _apply(entries: Iterable[bytes], changes: Mapping[bytes, bytes | None]) -> list[bytes]:
    """``entries`` with each changed name's first entry replaced (None: removed), new names at the end."""
    out, done = [], set()
    for entry in entries:
        name, eq, _ = entry.partition(b"=")
        if eq and name in changes:
            value = changes[name]
            if name not in done and value is not None:
                out.append(name + b"=" + value)
            done.add(name)
        else:
            out.append(entry)
    out += [name + b"=" + value for name, value in changes.items() if name not in done and value is not None]
    return out


def error(message: str) -> None:
    """One line on stderr, prefixed with the tool's name."""
    try:
        sys.stderr.write(f"cgroupsize: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed (or None): nothing more we can do
        pass


def resolve(name: str, env: Mapping[str, str]) -> str | None:
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


def exec_command(argv: Sequence[str], added: Mapping[str, str] | None = None) -> int:
    """Replace this process with ``argv``; return an exit status only if that fails.

    The environment is the received one with ``added`` set (see
    :func:`environment_for`): with nothing added, byte-identical. Not found
    -> 127, not executable -> 126, as shells and tini do. A file without a
    ``#!`` line that the kernel refuses (ENOEXEC) is run through ``/bin/sh``,
    as execvp(3) does and Python's ``os.execvpe`` does not.
    """
    name = argv[0]
    env = environment_for(added)
    if not env.received:
        error(f"warning: {ENVIRON_FILE} is unreadable: the command gets the environment as Python saw it")
    path = resolve(name, env)
    if path is None:
        error(f"{name}: command not found")
        return NOT_FOUND
    _prepare()
    try:
        try:
            _execve(path, list(argv), env)
        except OSError as exc:
            if exc.errno != errno.ENOEXEC:
                raise
            return _run_with_sh(name, path, list(argv), env)
    except OSError as exc:
        code, reason = _explain(path, exc)
        error(f"{name}: {reason}")
        return code
    except ValueError:  # embedded NUL byte in an argument
        error(f"{name}: cannot execute: an argument contains a NUL byte")
        return NOT_EXECUTABLE
    return 0  # only reached when _execve is a test double


def _run_with_sh(name: str, path: str, argv: list[str], env: Environment) -> int:
    """A file the kernel cannot run (no ``#!``, not a binary): ``/bin/sh FILE ARGS``, as execvp(3) does."""
    try:
        _execve("/bin/sh", ["/bin/sh", path] + argv[1:], env)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            error(f"{name}: cannot execute: it has no #! line and there is no /bin/sh to run it as a script")
            return NOT_EXECUTABLE
        raise
    return 0


def _explain(path: str, exc: OSError) -> tuple[int, str]:
    """Exit status and message for a failed exec of ``path``, naming what really failed.

    ENOENT for a file that exists means its interpreter is missing: the one
    in its ``#!`` line (often ``/bin/sh\\r``: Windows line endings) or, for a
    binary, its dynamic loader (built for musl, run on glibc). 127 for
    something missing, 126 for something that cannot run, as bash and dash.
    """
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if not os.path.exists(path):
            return NOT_FOUND, "no such file or directory"
        kind, interpreter = _interpreter(path)
        if kind == "#!":
            shown = _shown(interpreter)
            if interpreter.endswith(b"\r"):
                return NOT_FOUND, (f"bad interpreter {shown}: its #! line ends with a carriage return "
                                   "(Windows line endings)")
            if not os.path.exists(interpreter):
                return NOT_FOUND, f"bad interpreter {shown} (named in its #! line): not found"
            return NOT_EXECUTABLE, f"bad interpreter {shown}: {_strerror(exc)}"
        if kind == "ELF":
            return NOT_FOUND, f"cannot execute: its dynamic loader {_shown(interpreter)} is missing"
        return NOT_FOUND, "cannot execute: a file it needs is missing"
    if exc.errno == errno.EACCES:
        if os.path.isdir(path):
            return NOT_EXECUTABLE, "is a directory"
        kind, interpreter = _interpreter(path)
        if kind == "#!" and os.access(path, os.X_OK):
            return NOT_EXECUTABLE, f"bad interpreter {_shown(interpreter)}: permission denied"
        return NOT_EXECUTABLE, "permission denied"
    return NOT_EXECUTABLE, _strerror(exc)


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _shown(name: bytes) -> str:
    """A path from a file, printable: control characters escaped (a CR shows as ``\\r``)."""
    text = name.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _interpreter(path: str) -> tuple[str | None, bytes]:
    """What the kernel would start ``path`` with: ("#!", interpreter), ("ELF", loader) or (None, b"")."""
    try:  # O_NONBLOCK and regular files only: opening a FIFO would wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None, b""
            head = f.read(256)  # BINPRM_BUF_SIZE: the kernel reads no more of a #! line
            if head.startswith(b"#!"):
                line = head[2:].split(b"\n", 1)[0].lstrip(b" \t")
                return "#!", line.split(b" ", 1)[0].split(b"\t", 1)[0]
            if head.startswith(b"\x7fELF"):
                return "ELF", _elf_interpreter(f, head)
    except (OSError, ValueError, IndexError):
        pass
    return None, b""


def _elf_interpreter(f: BinaryIO, head: bytes) -> bytes:
    """The PT_INTERP path of an ELF file (32 or 64 bit, either byte order), or b"" for a static one."""
    import struct

    wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
    if wide:
        phoff, = struct.unpack_from(order + "Q", head, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x36)
    else:
        phoff, = struct.unpack_from(order + "I", head, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x2A)
    f.seek(phoff)
    table = f.read(phentsize * min(phnum, 256))
    for i in range(0, len(table) - phentsize + 1, phentsize):
        if struct.unpack_from(order + "I", table, i)[0] != 3:  # PT_INTERP
            continue
        layout = "Q16xQ" if wide else "I8xI"  # p_offset, (p_vaddr, p_paddr), p_filesz
        offset, size = struct.unpack_from(order + layout, table, i + (8 if wide else 4))
        f.seek(offset)
        loader: bytes = f.read(min(size, 4096))
        return loader.rstrip(b"\0")
    return b""


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


def _exec_block(path: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
    """execve(2) with exactly ``env.entries`` when ``env`` is an :class:`Environment`.

    ``os.execve`` takes a mapping: it cannot pass two entries of one name, an
    entry without ``=`` or one with an empty name, so only those blocks go
    through libc's execve by ctypes (imported only then: it costs start-up time).
    """
    if not isinstance(env, Environment):
        os.execve(path, list(argv), env)  # never returns: it raises or becomes the command
    elif env.plain:
        block = dict(entry.split(b"=", 1) for entry in env.entries)
        os.execve(path, list(argv), block)
    else:
        _libc_execve(path, argv, env.entries)


def _libc_execve(path: str, argv: Sequence[str], entries: list[bytes]) -> None:
    """execve(2) through libc, for an environment block os.execve cannot express."""
    args = [os.fsencode(a) for a in argv]
    if any(b"\0" in a for a in args):
        raise ValueError("embedded null byte")
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    c_argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)
    c_env = (ctypes.c_char_p * (len(entries) + 1))(*entries, None)
    libc.execve(os.fsencode(path), c_argv, c_env)
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code), path)


# Seam for tests: the in-process exec can be replaced with a recorder (path, argv, env mapping).
_execve: Callable[[str, Sequence[str], Mapping[str, str]], None] = _exec_block
