"""Which runtime a command starts, from cheap reads only.

In order, the first that answers wins:

1. ``--runtime NAME`` / ``CGROUPSIZE_RUNTIME`` (the only way to say what a
   wrapper shell script starts);
2. argv[0]'s basename: the runtime itself (``java``, ``node``/``nodejs``,
   ``python3.12``, ``pypy3``, ``ruby``, ``dotnet``) or a launcher named after
   what it runs (``npm``/``npx``/``yarn``/``pnpm``, ``gunicorn``/``uvicorn``,
   ``puma``/``unicorn``/``bundle``/``rails``), with a look at its first
   arguments (``python -m gunicorn``, ``bundle exec puma``, ``rails server``);
3. the file argv[0] resolves to through PATH *from the new environment* (what
   exec will run): a ``#!`` line names the interpreter (``#!/usr/bin/env -S
   node --flags``, ``#!/usr/bin/python3``); an ELF binary is Go if it carries
   Go build info (the toolchain version, e.g. ``go1.24.3``, and the
   DefaultGODEBUG the module's go line implies), .NET if it is an apphost
   (``app`` next to ``app.runtimeconfig.json`` or ``app.dll``).

Reads are bounded: 512 bytes for the first line, the ELF section headers and
at most 1 MiB of ``.go.buildinfo`` (never a whole binary). Anything unreadable
or odd means "runtime unknown" plus a note, never an exception (DESIGN.md
principle 1: fail open). Only ``os`` is imported (not even ``re``, ~7 ms):
this runs on every container start.
"""
import os

from cgroupsize.launch import resolve  # the file exec will run: PATH from the new env

HEAD_BYTES = 512  # a #! line longer than this is not run by the kernel either (BINPRM_BUF_SIZE 256)
BUILDINFO_MAX = 1 << 20  # Go build info is a few KiB; big modules lists stay far below 1 MiB
BUILDINFO_SEARCH = 64 << 10  # no section headers: search this much of the data segment (Go's debug/buildinfo)
ARGFILE_MAX = 1 << 20  # a java @argfile larger than this is not read (fail open)
GO_MAGIC = b"\xff Go buildinf:"

# Names of the runtimes' own executables: flags can go on their command line.
_DIRECT = {"java": "jvm", "node": "node", "nodejs": "node", "dotnet": "dotnet"}
# ... and those followed by a version: python3, python3.12, pypy3, ruby3.3
_VERSIONED = (("python", "python"), ("pypy", "python"), ("ruby", "ruby"))

# Launchers whose name says what they run (their own interpreter is the runtime).
LAUNCHERS = {
    "npm": "node", "npx": "node", "yarn": "node", "yarnpkg": "node", "pnpm": "node", "pnpx": "node",
    "corepack": "node",
    "gunicorn": "python", "uvicorn": "python",
    "puma": "ruby", "unicorn": "ruby", "unicorn_rails": "ruby", "bundle": "ruby", "bundler": "ruby",
    "rails": "ruby", "rake": "ruby", "rackup": "ruby",
}

# Multi-process servers that take their worker count from WEB_CONCURRENCY.
SERVERS = {"gunicorn": "python", "uvicorn": "python", "puma": "ruby", "unicorn": "ruby",
           "unicorn_rails": "ruby"}

# python options that take the next argument as their value (python --help)
_PY_VALUE_OPTS = {"-W", "-X", "--check-hash-based-pycs"}
_RUBY_VALUE_OPTS = {"-I", "-r", "-C", "-E", "-e", "-x"}


class Target:
    """What identification found out about the command.

    ``how`` is ``"direct"`` when argv[0] is the runtime's own executable (so
    flags can go right after it), ``"script"`` when it is a script or
    launcher the runtime interprets (settings must travel in the
    environment), ``"binary"`` for a native program (Go, .NET apphost).
    ``interp_args`` are the options a ``#!`` line passes to the interpreter
    (user settings too); ``server`` names a WEB_CONCURRENCY server;
    ``go_version`` is ``(major, minor)`` of the toolchain a Go binary was
    built with (``(1, 17)`` means "1.17 or older": the pre-1.18 format);
    ``go_godebug`` the DefaultGODEBUG recorded in it; ``java_version`` is
    ``(feature, update)`` from the JDK's ``release`` file (``(8, 181)``,
    ``(17, 15)``) when it can be found.
    """

    __slots__ = ("runtime", "how", "name", "path", "interp_args", "server", "go_version", "go_godebug",
                 "java_version", "notes")

    def __init__(self, runtime=None, how=None, name="", path=None):
        self.runtime = runtime
        self.how = how
        self.name = name
        self.path = path
        self.interp_args = []
        self.server = None
        self.go_version = None
        self.go_godebug = ""
        self.java_version = None
        self.notes = []

    def __repr__(self):
        return (f"Target(runtime={self.runtime!r}, how={self.how!r}, name={self.name!r}, "
                f"server={self.server!r}, go_version={self.go_version!r})")


def identify(argv, env, forced: str = "auto") -> Target:
    """The runtime ``argv`` starts; ``forced`` is the ``runtime`` setting (``auto``, a name, ``none``)."""
    name = os.path.basename(argv[0]) if argv else ""
    target = Target(name=name)
    if forced == "none":
        target.notes.append("runtime: none (CGROUPSIZE_RUNTIME/--runtime): generic variables only")
        return target
    try:
        _by_name(target, argv) or _by_file(target, argv, env)
    except Exception as exc:  # a bug or an odd file must never block the start (principle 1)
        target.runtime = target.how = None
        target.notes.append(f"could not identify the runtime of {name!r} ({type(exc).__name__}); "
                            "treated as unknown")
    if forced not in (None, "", "auto"):
        if target.runtime != forced:
            target.how = "direct" if direct_runtime(name) == forced else "script"
            target.runtime = forced
            target.notes = [n for n in target.notes if not n.startswith("runtime unknown")]
            target.notes.append(f"runtime: {forced} (set by CGROUPSIZE_RUNTIME/--runtime)")
        else:
            target.notes.append(f"runtime: {forced} (set by CGROUPSIZE_RUNTIME/--runtime; "
                                "identification agrees)")
    if target.runtime == "jvm":
        try:
            target.java_version = java_version(argv, env, target.how)
        except Exception:  # the version only refines the plan; never block on it
            target.java_version = None
    return target


def direct_runtime(name: str):
    """The runtime whose own executable is called ``name``, or None.

    ``java``, ``node``/``nodejs``, ``dotnet``; ``python``/``pypy``/``ruby``
    with an optional version (``python3.12``; Python also with an ABI letter,
    ``python3.7m``).
    """
    if name in _DIRECT:
        return _DIRECT[name]
    for prefix, runtime in _VERSIONED:
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if runtime == "python" and rest[-1:] in ("d", "m", "u"):
                rest = rest[:-1]
            if not rest or all(part.isdigit() and part.isascii() for part in rest.split(".")):
                return runtime
    return None


def _by_name(target: Target, argv) -> bool:
    name = target.name
    runtime = direct_runtime(name)
    if runtime is not None:
        target.runtime, target.how = runtime, "direct"
        target.notes.append(f"runtime: {runtime} ({name} is its executable)")
        if runtime == "python":
            target.server = _python_server(argv[1:])
        elif runtime == "ruby":
            target.server = _ruby_server(argv[1:])
        return True
    runtime = LAUNCHERS.get(name)
    if runtime is not None:
        target.runtime, target.how = runtime, "script"
        target.server = _server_from(name, argv[1:])
        target.notes.append(f"runtime: {runtime} ({name} is a {runtime} launcher)")
        return True
    return False


def _server_from(name, args):
    """The WEB_CONCURRENCY server a launcher named ``name`` starts with ``args``, or None."""
    if name in SERVERS:
        return name
    if name in ("bundle", "bundler") and args[:1] == ["exec"]:
        return _server_from(os.path.basename(args[1]), args[2:]) if len(args) > 1 else None
    if name == "rails":
        # `rails server` / `rails s` runs puma, the default Rails server since 5.0
        return "puma" if args[:1] in (["server"], ["s"]) else None
    return None


def _python_server(args):
    """``python [opts] -m gunicorn`` or ``python [opts] /path/gunicorn`` -> its name."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            mod = args[i + 1]
            return mod if mod in SERVERS and SERVERS[mod] == "python" else None
        if a.startswith("-m") and len(a) > 2:
            mod = a[2:]
            return mod if SERVERS.get(mod) == "python" else None
        if a in ("-c", "-") or a.startswith("-c"):
            return None
        if a in _PY_VALUE_OPTS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        base = os.path.basename(a)
        return base if SERVERS.get(base) == "python" else None
    return None


def _ruby_server(args):
    """``ruby [opts] [-S] puma|bin/rails server|/path/bundle exec puma`` -> the server."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-S":
            i += 1
            continue
        if a in ("-e",):
            return None
        if a in _RUBY_VALUE_OPTS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return _server_from(os.path.basename(a), args[i + 1:])
    return None


def java_version(argv, env, how):
    """``(feature, update)`` of the JDK that will run, from its ``release`` file, or None.

    ``java`` run directly: the ``release`` file two levels above the real
    path of the launcher (``$JDK/bin/java``); a script: ``$JAVA_HOME/release``.
    """
    home = None
    if how == "direct":
        path = resolve(argv[0], env)
        if path:
            home = os.path.dirname(os.path.dirname(os.path.realpath(path)))
    if home is None and env.get("JAVA_HOME"):
        home = env["JAVA_HOME"]
    if not home:
        return None
    text = read_text(os.path.join(home, "release"), 64 << 10)
    for line in (text or "").splitlines():
        if line.startswith("JAVA_VERSION="):
            value = line[13:].strip().strip('"')
            parts = _leading_numbers(value.replace("_", "."), ".")
            if not parts:
                return None
            if parts[0] == 1 and len(parts) >= 2:  # 1.8.0_181
                return parts[1], parts[3] if len(parts) > 3 else 0
            return parts[0], parts[2] if len(parts) > 2 else 0
    return None


def _leading_numbers(text: str, sep: str) -> list:
    """``"11.0.16.1+1"`` -> ``[11, 0, 16]``... the numbers before the first non-number part."""
    numbers = []
    for part in text.split(sep):
        digits = ""
        for c in part:
            if not ("0" <= c <= "9"):
                break
            digits += c
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) < len(part):
            break
    return numbers


# -- the file argv[0] runs -------------------------------------------------------


def _by_file(target: Target, argv, env) -> bool:
    name = target.name
    if not name:
        target.notes.append("runtime unknown: empty command")
        return False
    path = resolve(argv[0], env)
    if path is None:
        target.notes.append(f"runtime unknown: {name} is not on PATH")
        return False
    target.path = path
    try:
        with _open_regular(path) as f:
            if f is None:
                target.notes.append(f"runtime unknown: {path} is not a regular file")
                return False
            head = f.read(HEAD_BYTES)
            if head.startswith(b"#!"):
                return _by_shebang(target, head, argv)
            if head.startswith(b"\x7fELF"):
                return _by_elf(target, f, path)
    except OSError as exc:
        target.notes.append(f"runtime unknown: cannot read {path} ({exc.strerror or type(exc).__name__})")
        return False
    target.notes.append(f"runtime unknown: {path} is neither a #! script nor an ELF binary")
    return False


def parse_shebang(head: bytes):
    """``(interpreter name, [its arguments])`` from a ``#!`` line, ``env`` resolved; None if odd.

    ``#!/usr/bin/env -S node --max-old-space-size=100`` -> ``("node",
    ["--max-old-space-size=100"])``; ``#!/usr/bin/env python3`` ->
    ``("python3", [])``; ``#!/usr/bin/ruby -w`` -> ``("ruby", ["-w"])``.
    Without ``-S`` the kernel hands the rest of the line to the interpreter
    as one argument; it is split here all the same, to see what it names.
    """
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    words = line.split()
    if not words:
        return None
    interp, args = os.path.basename(words[0]), words[1:]
    if interp == "env":
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-S", "--split-string"):
                i += 1
            elif a.startswith("-S") and len(a) > 2:  # -Snode --flags
                args[i] = a[2:]
            elif a in ("-u", "--unset", "-C", "--chdir"):
                i += 2
            elif a.startswith("-") or ("=" in a and not a.startswith("/")):
                i += 1  # env options (-i, --ignore-environment) and VAR=value assignments
            else:
                break
        if i >= len(args):
            return None
        interp, args = os.path.basename(args[i]), args[i + 1:]
    return interp, args


def _by_shebang(target: Target, head: bytes, argv) -> bool:
    parsed = parse_shebang(head)
    if parsed is None:
        target.notes.append(f"runtime unknown: {target.path} has an empty #! line")
        return False
    interp, args = parsed
    runtime = direct_runtime(interp)
    if runtime is None:
        target.notes.append(f"runtime unknown: {target.name} is a {interp} script; say what it starts "
                            "with CGROUPSIZE_RUNTIME or --runtime")
        return False
    target.runtime, target.how = runtime, "script"
    target.interp_args = args
    target.server = _server_from(target.name, argv[1:])
    target.notes.append(f"runtime: {runtime} ({target.name} is a {interp} script)")
    return True


# -- ELF: Go build info, .NET apphost ---------------------------------------------


def _by_elf(target: Target, f, path) -> bool:
    info = go_buildinfo(f)
    if info is not None:
        version, modinfo = info
        target.runtime, target.how = "go", "binary"
        target.go_version = go_version(version)
        for line in modinfo.splitlines():
            if line.startswith("build\tDefaultGODEBUG="):
                target.go_godebug = line.split("=", 1)[1].strip()
        target.notes.append(f"runtime: go ({target.name} is a Go binary built with {version})")
        return True
    for sibling in (path + ".runtimeconfig.json", path + ".dll"):
        if os.path.isfile(sibling):
            target.runtime, target.how = "dotnet", "binary"
            target.notes.append(f"runtime: dotnet ({target.name} is a .NET apphost: "
                                f"{os.path.basename(sibling)} is beside it)")
            return True
    target.notes.append(f"runtime unknown: {target.name} is a native binary without Go build info")
    return False


def go_version(text: str):
    """``go1.24.3`` -> ``(1, 24)``; ``devel go1.26-abc`` -> ``(1, 26)``; unknown -> None."""
    at = text.find("go")
    while at >= 0:
        numbers = _leading_numbers(text[at + 2:], ".")
        if len(numbers) >= 2:
            return numbers[0], numbers[1]
        at = text.find("go", at + 2)
    return None


def go_buildinfo(f):
    """``(version, modinfo)`` from an open ELF file's Go build info, or None.

    Finds ``.go.buildinfo`` through the section headers (the ELF header says
    where they are), else searches the first 64 KiB of the first writable
    PT_LOAD segment, as Go's debug/buildinfo does. Since Go 1.18 the header
    (16 bytes: magic, pointer size, flags) is followed, at offset 32, by the
    version and the module info as varint-length strings (flag bit 2); older
    binaries hold pointers instead and are reported as ``"go1.17 or older"``.
    """
    f.seek(0)
    ehdr = f.read(64)
    if len(ehdr) < 52 or ehdr[:4] != b"\x7fELF" or ehdr[4] not in (1, 2) or ehdr[5] not in (1, 2):
        return None
    is64, order = ehdr[4] == 2, "little" if ehdr[5] == 1 else "big"

    def u(data, off, size):
        return int.from_bytes(data[off:off + size], order)

    data = _buildinfo_section(f, ehdr, is64, u)
    if data is None:
        data = _buildinfo_search(f, ehdr, is64, u)
    if data is None or not data.startswith(GO_MAGIC) or len(data) < 32:
        return None
    if not data[15] & 2:
        return "go1.17 or older", ""
    version, off = _varint_bytes(data, 32)
    if not version:
        return None
    modinfo, _ = _varint_bytes(data, off)
    modinfo = modinfo or b""
    # modinfo is framed by 16-byte sentinels (debug/buildinfo: cmd/go/internal/modload infoStart/infoEnd)
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    return version.decode("utf-8", "replace"), modinfo.decode("utf-8", "replace")


def _buildinfo_section(f, ehdr, is64, u):
    if is64:
        shoff, shentsize, shnum, shstrndx = u(ehdr, 40, 8), u(ehdr, 58, 2), u(ehdr, 60, 2), u(ehdr, 62, 2)
    else:
        shoff, shentsize, shnum, shstrndx = u(ehdr, 32, 4), u(ehdr, 46, 2), u(ehdr, 48, 2), u(ehdr, 50, 2)
    if not shoff or not shnum or shstrndx >= shnum or shentsize < (64 if is64 else 40) or shnum > 65535:
        return None
    f.seek(shoff)
    table = f.read(shnum * shentsize)
    if len(table) < shnum * shentsize:
        return None

    def section(i):  # (name offset, file offset, size)
        h = i * shentsize
        if is64:
            return u(table, h, 4), u(table, h + 24, 8), u(table, h + 32, 8)
        return u(table, h, 4), u(table, h + 16, 4), u(table, h + 20, 4)

    _, str_off, str_size = section(shstrndx)
    f.seek(str_off)
    names = f.read(min(str_size, 1 << 16))
    for i in range(shnum):
        name_off, off, size = section(i)
        if names[name_off:name_off + 14] == b".go.buildinfo\0":
            f.seek(off)
            return f.read(min(size, BUILDINFO_MAX))
    return None


def _buildinfo_search(f, ehdr, is64, u):
    if is64:
        phoff, phentsize, phnum = u(ehdr, 32, 8), u(ehdr, 54, 2), u(ehdr, 56, 2)
    else:
        phoff, phentsize, phnum = u(ehdr, 28, 4), u(ehdr, 42, 2), u(ehdr, 44, 2)
    if not phoff or not phnum or phentsize < (56 if is64 else 32):
        return None
    f.seek(phoff)
    table = f.read(phnum * phentsize)
    for i in range(min(phnum, len(table) // phentsize)):
        h = i * phentsize
        p_type = u(table, h, 4)
        flags = u(table, h + 4, 4) if is64 else u(table, h + 24, 4)
        if p_type == 1 and flags & 2:  # PT_LOAD, PF_W
            off = u(table, h + 8, 8) if is64 else u(table, h + 4, 4)
            f.seek(off)
            chunk = f.read(BUILDINFO_SEARCH)
            at = chunk.find(GO_MAGIC)
            while at >= 0 and at % 16:
                at = chunk.find(GO_MAGIC, at + 1)
            if at < 0:
                return None
            f.seek(off + at)
            return f.read(BUILDINFO_MAX)
    return None


def _varint_bytes(data, off):
    """A uvarint length and that many bytes (Go's binary.Uvarint framing), or (None, off)."""
    n = shift = 0
    while off < len(data):
        b = data[off]
        off += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if off + n > len(data):
                return None, off
            return data[off:off + n], off + n
        if shift > 63:
            break
    return None, off


# -- user files a runtime's settings may live in ----------------------------------


class _Nothing:
    """``with _open_regular(path) as f``: f is None for anything but a regular file."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _open_regular(path):
    """An open binary file if ``path`` is a regular file, else a context yielding None.

    Opened with O_NONBLOCK, then checked with fstat: a FIFO must neither
    block us (no writer yet) nor be read (its data is the program's: ``java
    @<(echo ...)`` gives java a pipe it must still find full).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o100000:  # S_ISREG
            os.close(fd)
            return _Nothing()
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: str, limit: int = ARGFILE_MAX) -> str | None:
    """A small regular text file (a java ``@argfile``), or None if missing, unreadable,
    too large or not a regular file (a pipe is left unread for the program)."""
    try:
        with _open_regular(path) as f:
            if f is None:
                return None
            data = f.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    return data.decode("utf-8", "replace")
