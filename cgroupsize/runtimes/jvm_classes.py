"""How many classes a java command line brings: zip central directories only, bounded.

Metaspace grows with the classes a JVM loads, so the plan sizes it from a
count rather than from the memory limit. What is counted, without starting
the JVM and without inflating a class:

* ``-jar X``: the ``.class`` entries of X, the jars its manifest
  ``Class-Path`` names (relative to X's directory), and the jars nested in X
  (Spring Boot's ``BOOT-INF/lib/*.jar``, ``WEB-INF/lib*/*.jar``): a nested
  jar is STORED (Spring Boot refuses compressed ones), so its central
  directory is read in place at its offset inside the outer file; a
  DEFLATED nested jar is estimated from its compressed size (one class per
  ``ESTIMATE_BYTES_PER_CLASS``: Debian's packaged jars hold 1,566 bytes of
  jar per class on average) and said so;
* ``-cp``/``-classpath``/``--class-path`` (else ``CLASSPATH``): jars,
  directories (walked), ``dir/*`` wildcards (the ``.jar``/``.JAR`` files in
  dir, as the java launcher expands them);
* ``-javaagent:X.jar[=options]`` (command line, ``JDK_JAVA_OPTIONS``,
  ``JAVA_TOOL_OPTIONS``);
* ``--module-path``/``-p``: jars, exploded module directories, directories
  of them.

Multi-release duplicates (``META-INF/versions/N/``), ``module-info`` and
``package-info`` are not classes the JVM loads separately and are skipped.
Every read is bounded (files visited, bytes read, a deadline); what could
not be counted is listed with the reason, and ``complete`` says whether the
total may be trusted.

Only ``os``, ``struct`` and ``time`` are imported (this runs on the
entrypoint path); a manifest is inflated by a small bounded decoder below
(never a class).
"""
from __future__ import annotations

import os
import struct
import time

from cgroupsize.runtimes.common import split_argfile, split_options

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing imports re, off the entrypoint path
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import BinaryIO

# What a small application makes the JDK itself load, measured on JDK 17.0.15 with
# -Xlog:class+load: hello world 406 classes, an HTTP server (com.sun.net.httpserver,
# java.util.logging, java.util.concurrent, NIO files, java.time, streams) 1,570.
JDK_BASELINE = 1600
# A deflated nested jar's classes, estimated from its compressed size; 1,024 is below
# the 1,566 bytes per class measured over Debian's packaged jars, so it counts high.
ESTIMATE_BYTES_PER_CLASS = 1024
NESTED_SUFFIXES = (".jar", ".JAR")


class Bounds:
    """What one count may spend: files visited, bytes read, wall-clock seconds."""

    __slots__ = ("bytes", "deadline", "files", "hit")

    def __init__(self, files: int = 50_000, read_bytes: int = 128 << 20, seconds: float = 1.0) -> None:
        self.files = files
        self.bytes = read_bytes
        self.deadline = time.monotonic() + seconds
        self.hit: str | None = None  # the first bound reached

    def take(self, files: int = 0, nbytes: int = 0) -> bool:
        """Spend ``files`` and ``nbytes``; False (and ``hit`` set) once any bound is exceeded."""
        if self.hit is not None:
            return False
        self.files -= files
        self.bytes -= nbytes
        if self.files < 0:
            self.hit = "the file-count bound"
        elif self.bytes < 0:
            self.hit = "the bytes-read bound"
        elif time.monotonic() > self.deadline:
            self.hit = "the time bound"
        return self.hit is None


class ClassCount:
    """A class count with its provenance.

    ``app``: classes found in what the command line names; ``baseline``: the
    JDK's own for a small application; ``counted``: (what, classes) per
    source; ``missed``: (what, why) for what could not be counted;
    ``estimated``: classes in ``app`` that were estimated, not counted;
    ``class_bytes``: the class-file bytes of the ``app - estimated``
    classes counted (metaspace grows with them).
    """

    __slots__ = ("app", "baseline", "class_bytes", "counted", "estimated", "missed")

    def __init__(self) -> None:
        self.app = 0
        self.class_bytes = 0
        self.baseline = JDK_BASELINE
        self.counted: list[tuple[str, int]] = []
        self.missed: list[tuple[str, str]] = []
        self.estimated = 0

    @property
    def total(self) -> int:
        return self.app + self.baseline

    @property
    def complete(self) -> bool:
        """Whether everything the command line names was counted (estimates count as counted)."""
        return not self.missed

    def add(self, what: str, n: int, nbytes: int = 0) -> None:
        self.app += n
        self.class_bytes += nbytes
        self.counted.append((what, n))

    def miss(self, what: str, why: str) -> None:
        self.missed.append((what, why))


# -- zip central directories -----------------------------------------------------

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_STORED, _DEFLATED = 0, 8


class ZipError(Exception):
    """Not a zip we can read (truncated, corrupt, or a bound was reached)."""


class Entry:
    """One central-directory entry: name, method, sizes, its local header's position in the file."""

    __slots__ = ("csize", "method", "name", "offset", "usize")

    def __init__(self, name: bytes, method: int, csize: int, usize: int, offset: int) -> None:
        self.name, self.method, self.csize, self.usize, self.offset = name, method, csize, usize, offset


def _read_at(f: BinaryIO, pos: int, n: int, bounds: Bounds) -> bytes:
    if pos < 0 or n < 0 or not bounds.take(nbytes=n):
        raise ZipError(bounds.hit or "bad offset")
    f.seek(pos)
    data: bytes = f.read(n)
    if len(data) != n:
        raise ZipError("truncated")
    return data


def _find_eocd(f: BinaryIO, start: int, end: int, bounds: Bounds) -> tuple[int, bytes]:
    """The end-of-central-directory record of the zip in ``[start, end)``: (position, its bytes)."""
    for span in (22, 22 + 0xFFFF):  # no comment (the usual case), else the longest comment allowed
        span = min(span, end - start)
        tail = _read_at(f, end - span, span, bounds)
        at = tail.rfind(_EOCD)
        # the record's comment length must reach the end exactly (a comment may hold "PK\5\6")
        while at >= 0 and (len(tail) - at < 22 or 22 + struct.unpack_from("<H", tail, at + 20)[0] != len(tail) - at):
            at = tail.rfind(_EOCD, 0, at)
        if at >= 0:
            return end - span + at, tail[at:at + 22]
        if span == end - start:
            break
    raise ZipError("no end of central directory (not a zip)")


def _directory(f: BinaryIO, start: int, end: int, bounds: Bounds) -> tuple[int, int, int, int]:
    """(entries, central directory position, its size, zip base) of the zip in ``[start, end)``.

    Offsets in a zip are relative to its first byte; a prefix (the launch
    script of a Spring Boot "fully executable" jar) shifts them, so the base
    is found as zip readers do: the directory ends where the end record starts.
    """
    pos, rec = _find_eocd(f, start, end, bounds)
    _, _, _, count, size, offset, _ = struct.unpack("<4HIIH", rec[4:22])
    if count == 0xFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF:
        count, size, offset, pos = _zip64_end(f, start, pos, bounds)
    base = pos - size - offset  # the zip's first byte: start, unless a prefix precedes it
    if base < start or base + offset + size > pos or count > size // 46 + 1:
        raise ZipError("central directory out of range")
    return count, base + offset, size, base


def _zip64_end(f: BinaryIO, start: int, pos: int, bounds: Bounds) -> tuple[int, int, int, int]:
    """(entries, directory size, directory offset, record position) from the zip64 end record."""
    if pos - 20 - 56 < start:
        raise ZipError("zip64 without its end record")
    loc = _read_at(f, pos - 20, 20, bounds)
    if loc[:4] != _EOCD64_LOCATOR:
        raise ZipError("zip64 without a locator")
    at = pos - 20 - 56  # the record precedes its locator (no extensible data: what writers emit)
    rec64 = _read_at(f, at, 56, bounds)
    if rec64[:4] != _EOCD64:
        (rel,) = struct.unpack_from("<Q", loc, 8)
        at = start + rel
        rec64 = _read_at(f, at, 56, bounds) if at + 56 <= pos else b""
        if rec64[:4] != _EOCD64:
            raise ZipError("zip64 end record missing")
    count, size, offset = struct.unpack_from("<QQQ", rec64, 32)
    return count, size, offset, at


def _zip64_extra(extra: bytes, csize: int, usize: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset from the zip64 extra field (id 1) where the 32-bit fields are full."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        if tag == 1:
            values = extra[i + 4:i + 4 + size]
            j = 0
            out = []
            for v in (usize, csize, offset):
                if v == 0xFFFFFFFF and j + 8 <= len(values):
                    v = struct.unpack_from("<Q", values, j)[0]
                    j += 8
                out.append(v)
            return out[1], out[0], out[2]
        i += 4 + size
    return csize, usize, offset


_CEN = struct.Struct("<4s6xH8xIIHHH8xI")  # signature, method, sizes, name/extra/comment lengths, offset


def scan_zip(f: BinaryIO, start: int, end: int, bounds: Bounds) -> tuple[int, int, list[Entry]]:
    """(classes, their class-file bytes, the other entries a count needs: jars and the manifest).

    One pass over the central directory of the zip in ``[start, end)`` of
    ``f``, kept tight: a 100 MB fat jar holds ~70,000 entries.
    """
    count, cd_at, cd_size, base = _directory(f, start, end, bounds)
    data = _read_at(f, cd_at, cd_size, bounds)
    unpack, i, n, nbytes = _CEN.unpack_from, 0, 0, 0
    other: list[Entry] = []
    for _ in range(count):
        sig, method, csize, usize, nlen, xlen, clen, offset = unpack(data, i)
        if sig != _CENTRAL:
            raise ZipError("corrupt central directory")
        name = data[i + 46:i + 46 + nlen]
        if 0xFFFFFFFF in (csize, usize, offset):
            csize, usize, offset = _zip64_extra(data[i + 46 + nlen:i + 46 + nlen + xlen], csize, usize, offset)
        i += 46 + nlen + xlen + clen
        if name.endswith(b".class"):
            if not name.startswith(b"META-INF/") and not name.endswith(_NOT_CLASSES):
                n += 1
                nbytes += usize
        elif name.endswith((b".jar", b".JAR")) or name == b"META-INF/MANIFEST.MF":
            other.append(Entry(name, method, csize, usize, base + offset))
    if i > len(data):
        raise ZipError("corrupt central directory")
    return n, nbytes, other


# Not classes the JVM loads on their own (a '-' never occurs in a class name).
_NOT_CLASSES = (b"module-info.class", b"package-info.class")


def _data_at(f: BinaryIO, entry: Entry, bounds: Bounds) -> int:
    """Where an entry's data starts: after its local header (name and extra lengths there)."""
    local = _read_at(f, entry.offset, 30, bounds)
    if local[:4] != _LOCAL:
        raise ZipError("corrupt local header")
    nlen, xlen = struct.unpack_from("<HH", local, 26)
    return int(entry.offset + 30 + nlen + xlen)


# -- inflating a manifest (RFC 1951), bounded ------------------------------------


class _Bits:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def get(self, n: int) -> int:
        value = 0
        for k in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ZipError("truncated deflate stream")
            value |= ((self.data[byte] >> (self.pos & 7)) & 1) << k
            self.pos += 1
        return value


def _huffman(lengths: Sequence[int]) -> dict[tuple[int, int], int]:
    """Canonical Huffman code: (length, code) -> symbol."""
    table: dict[tuple[int, int], int] = {}
    code = 0
    for bits in range(1, 16):
        for sym, n in enumerate(lengths):
            if n == bits:
                table[(bits, code)] = sym
                code += 1
        code <<= 1
    return table


def _symbol(bits: _Bits, table: dict[tuple[int, int], int]) -> int:
    code = 0
    for n in range(1, 16):
        code = (code << 1) | bits.get(1)
        sym = table.get((n, code))
        if sym is not None:
            return sym
    raise ZipError("bad Huffman code")


_LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
             131, 163, 195, 227, 258]
_LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
_DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
              2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
_DIST_EXTRA = [0, 0, 0, 0] + [k // 2 for k in range(2, 28)]
_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]


def _dynamic_tables(bits: _Bits) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    hlit, hdist, hclen = bits.get(5) + 257, bits.get(5) + 1, bits.get(4) + 4
    code_lengths = [0] * 19
    for k in range(hclen):
        code_lengths[_ORDER[k]] = bits.get(3)
    table = _huffman(code_lengths)
    lengths: list[int] = []
    while len(lengths) < hlit + hdist:
        sym = _symbol(bits, table)
        if sym < 16:
            lengths.append(sym)
        elif sym == 16:
            if not lengths:
                raise ZipError("bad code lengths")
            lengths += [lengths[-1]] * (3 + bits.get(2))
        else:
            lengths += [0] * ((3 + bits.get(3)) if sym == 17 else (11 + bits.get(7)))
    return _huffman(lengths[:hlit]), _huffman(lengths[hlit:hlit + hdist])


_FIXED = (_huffman([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8), _huffman([5] * 30))


def _block(bits: _Bits, out: bytearray, lit: dict[tuple[int, int], int],
           dist: dict[tuple[int, int], int], limit: int) -> None:
    while True:
        sym = _symbol(bits, lit)
        if sym < 256:
            out.append(sym)
        elif sym == 256:
            return
        else:
            k = sym - 257
            if k >= len(_LEN_BASE):
                raise ZipError("bad length code")
            length = _LEN_BASE[k] + bits.get(_LEN_EXTRA[k])
            d = _symbol(bits, dist)
            if d >= len(_DIST_BASE):
                raise ZipError("bad distance code")
            back = _DIST_BASE[d] + bits.get(_DIST_EXTRA[d])
            if back > len(out):
                raise ZipError("distance too far back")
            for _ in range(length):
                out.append(out[-back])
        if len(out) > limit:
            raise ZipError("inflated data over its bound")


def inflate(data: bytes, limit: int = 1 << 20) -> bytes:
    """Raw DEFLATE data inflated, at most ``limit`` bytes (for manifests only)."""
    bits = _Bits(data)
    out = bytearray()
    final = 0
    while not final:
        final, kind = bits.get(1), bits.get(2)
        if kind == 0:
            bits.pos = (bits.pos + 7) & ~7
            at = bits.pos >> 3
            (n,) = struct.unpack_from("<H", data, at) if at + 4 <= len(data) else (-1,)
            if n < 0 or at + 4 + n > len(data):
                raise ZipError("truncated stored block")
            out += data[at + 4:at + 4 + n]
            bits.pos = (at + 4 + n) * 8
        elif kind == 1:
            _block(bits, out, _FIXED[0], _FIXED[1], limit)
        elif kind == 2:
            lit, dist = _dynamic_tables(bits)
            _block(bits, out, lit, dist, limit)
        else:
            raise ZipError("bad block type")
        if len(out) > limit:
            raise ZipError("inflated data over its bound")
    return bytes(out)


MANIFEST_MAX = 256 << 10  # compressed bytes of a manifest we inflate


def manifest_attribute(text: str, name: str) -> str | None:
    """The value of main attribute ``name`` (continuation lines joined), or None."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]
        elif not raw:
            break  # the main section ends at the first blank line
        else:
            lines.append(raw)
    key = name.lower() + ":"
    for line in lines:
        if line.lower().startswith(key):
            return line[len(key):].strip()
    return None


# -- counting ----------------------------------------------------------------------


class _Counter:
    """One count: the bounds, the result, and helpers per kind of class path entry."""

    def __init__(self, cwd: str, bounds: Bounds) -> None:
        self.cwd = cwd
        self.bounds = bounds
        self.result = ClassCount()
        self.seen: set[str] = set()

    def path(self, p: str) -> str:
        return os.path.normpath(os.path.join(self.cwd, p))

    def jar(self, label: str, path: str, nested: bool = False, manifest: bool = False) -> None:
        """Count a jar (its nested jars with ``nested``; its manifest Class-Path with ``manifest``)."""
        real = self.path(path)
        if real in self.seen:
            return
        self.seen.add(real)
        if not os.path.lexists(real):
            self.result.add(label + " (does not exist: java skips it)", 0)
            return
        if not self.bounds.take(files=1):
            self.result.miss(label, f"not read: {self.bounds.hit} was reached")
            return
        try:
            f = _open_regular(real)
            if f is None:
                self.result.miss(label, "not a regular file")
                return
            with f:
                n, extra = self._zip(f, 0, os.fstat(f.fileno()).st_size, label, nested, manifest)
        except OSError as exc:
            self.result.miss(label, f"unreadable ({exc.strerror or type(exc).__name__})")
            return
        except (ZipError, struct.error, ValueError) as exc:
            self.result.miss(label, f"not a readable jar ({exc})")
            return
        self.result.add(label, *n)
        for child in extra:  # jars or directories, relative to this jar's directory
            self.entry(f"{label}: Class-Path entry", os.path.join(os.path.dirname(real), child))

    def _zip(self, f: BinaryIO, start: int, end: int, label: str, nested: bool,
             manifest: bool) -> tuple[tuple[int, int], list[str]]:
        """(classes, their bytes) in the zip at ``[start, end)`` (nested jars added), its Class-Path."""
        n, nbytes, other = scan_zip(f, start, end, self.bounds)
        class_path: list[str] = []
        for e in other:
            if manifest and e.name == b"META-INF/MANIFEST.MF":
                class_path = self._class_path(f, e)
            elif nested and e.name != b"META-INF/MANIFEST.MF":
                self._nested(f, e, label)
        return (n, nbytes), class_path

    def _nested(self, f: BinaryIO, e: Entry, label: str) -> None:
        """A jar inside a jar: read in place when STORED, estimated when compressed."""
        what = f"{label}: nested {e.name.decode('utf-8', 'replace').rsplit('/', 1)[-1]}"
        if not self.bounds.take(files=1):
            self.result.miss(what, f"not read: {self.bounds.hit} was reached")
            return
        if e.method != _STORED:
            guess = max(1, e.csize // ESTIMATE_BYTES_PER_CLASS)
            self.result.add(what + " (compressed: estimated from its size)", guess)
            self.result.estimated += guess
            return
        try:
            at = _data_at(f, e, self.bounds)
            n, _ = self._zip(f, at, at + e.csize, what, False, False)
        except (ZipError, struct.error, ValueError) as exc:
            self.result.miss(what, f"not a readable jar ({exc})")
            return
        self.result.add(what, *n)

    def _class_path(self, f: BinaryIO, e: Entry) -> list[str]:
        """The manifest's Class-Path entries (relative URLs), inflated within bounds."""
        if e.csize > MANIFEST_MAX:
            return []
        raw = _read_at(f, _data_at(f, e, self.bounds), e.csize, self.bounds)
        data = raw if e.method == _STORED else inflate(raw) if e.method == _DEFLATED else b""
        value = manifest_attribute(data.decode("utf-8", "replace"), "Class-Path")
        return [_url_path(u) for u in (value or "").split() if not u.startswith(("http:", "https:"))]

    def directory(self, label: str, path: str) -> None:
        """Count the ``.class`` files under a directory, walking within the bounds."""
        real = self.path(path)
        if real in self.seen:
            return
        self.seen.add(real)
        n = nbytes = 0
        stack = [real]
        while stack:
            try:
                with os.scandir(stack.pop()) as it:
                    for d in it:
                        if not self.bounds.take(files=1):
                            self.result.add(label + " (partly)", n, nbytes)
                            self.result.miss(label, f"walk stopped: {self.bounds.hit} was reached")
                            return
                        if d.is_dir(follow_symlinks=False):
                            stack.append(d.path)
                        elif d.name.endswith(".class") and d.name not in ("module-info.class", "package-info.class"):
                            n += 1
                            nbytes += d.stat().st_size
            except OSError as exc:
                self.result.miss(label, f"a directory is unreadable ({exc.strerror or type(exc).__name__})")
        self.result.add(label, n, nbytes)

    def entry(self, label: str, item: str, module_dir: bool = False) -> None:
        """One class path or module path entry: a jar, a directory, ``dir/*``."""
        if item == "":
            item = "."  # an empty class path entry is the current directory
        if item == "*" or item.endswith(("/*", os.sep + "*")):
            self.wildcard(label, item[:-1] or ".")
        elif os.path.isdir(self.path(item)):
            if module_dir:
                self.module_dir(label, item)
            else:
                self.directory(label + " (directory)", item)
        elif os.path.exists(self.path(item)):
            self.jar(label, item)
        else:
            self.result.add(label + " (does not exist: java skips it)", 0)

    def wildcard(self, label: str, folder: str) -> None:
        """``dir/*``: every ``.jar``/``.JAR`` in dir (not recursive), as the launcher expands it."""
        try:
            names = sorted(os.listdir(self.path(folder)))
        except OSError as exc:
            self.result.miss(label, f"unreadable ({exc.strerror or type(exc).__name__})")
            return
        for name in names:
            if name.endswith(NESTED_SUFFIXES):
                self.jar(f"{label} (wildcard)", os.path.join(folder, name))

    def module_dir(self, label: str, folder: str) -> None:
        """A module path directory: an exploded module itself, else jars and exploded modules in it."""
        real = self.path(folder)
        if os.path.isfile(os.path.join(real, "module-info.class")):
            self.directory(label + " (exploded module)", folder)
            return
        try:
            names = sorted(os.listdir(real))
        except OSError as exc:
            self.result.miss(label, f"unreadable ({exc.strerror or type(exc).__name__})")
            return
        for name in names:
            child = os.path.join(folder, name)
            if name.endswith(NESTED_SUFFIXES):
                self.jar(f"{label} (module jar)", child)
            elif os.path.isdir(self.path(child)):
                self.directory(f"{label} (exploded module)", child)


def _open_regular(path: str) -> BinaryIO | None:
    """``path`` opened for reading if it is a regular file, else None (a FIFO neither blocks nor drains)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o100000:  # S_ISREG
            os.close(fd)
            return None
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _url_path(url: str) -> str:
    """A manifest Class-Path URL (``lib/a%20b.jar``, ``file:/x.jar``) as a file path."""
    url = url.removeprefix("file:")
    out = bytearray()
    i = 0
    raw = url.encode()
    while i < len(raw):
        if raw[i:i + 1] == b"%" and i + 2 < len(raw) and _is_hex(raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def _is_hex(b: bytes) -> bool:
    return len(b) == 2 and all(c in b"0123456789abcdefABCDEF" for c in b)


# -- the command line ------------------------------------------------------------------

# launcher options with a value in the next argument that do not name classes
_OTHER_VALUE_OPTS = {"--upgrade-module-path", "--add-modules", "--add-reads", "--add-exports", "--add-opens",
                     "--limit-modules", "--patch-module", "--source", "--enable-native-access", "-d",
                     "--describe-module"}
_CP_OPTS = ("-cp", "-classpath", "--class-path")
_MP_OPTS = ("-p", "--module-path")


class Launch:
    """What a java launcher command line names: class path, module path, -jar, agents."""

    __slots__ = ("agents", "class_path", "jar", "main", "module_path", "unread")

    def __init__(self) -> None:
        self.class_path: str | None = None
        self.module_path: list[str] = []
        self.jar: str | None = None
        self.agents: list[str] = []
        self.main = False  # a main class or module was named
        self.unread = False  # an @argfile could not be read


def _option_value(args: Sequence[str], i: int, names: tuple[str, ...]) -> tuple[str | None, int]:
    """``-cp X`` / ``--class-path=X``: (value, next index), or (None, i) when args[i] is not one."""
    a = args[i]
    if a in names:
        return (args[i + 1], i + 2) if i + 1 < len(args) else ("", i + 1)
    for name in names:
        if name.startswith("--") and a.startswith(name + "="):
            return a[len(name) + 1:], i + 1
    return None, i


def parse_launcher(args: Sequence[str], read_file: Callable[[str], str | None] | None = None) -> Launch:
    """The class-naming options among java launcher ``args`` (argfiles expanded, not nested)."""
    out = Launch()
    tokens = list(args)
    i, expand, argfile_end = 0, True, -1
    while i < len(tokens):
        a = tokens[i]
        if a == "--disable-@files":
            expand = False
        elif a.startswith("@") and not a.startswith("@@") and expand and i >= argfile_end:
            text = read_file(a[1:]) if read_file else None
            out.unread = out.unread or text is None
            inner = split_argfile(text) if text is not None else []
            tokens[i:i + 1] = inner
            argfile_end = i + len(inner)
            continue
        cp, j = _option_value(tokens, i, _CP_OPTS)
        mp, k = _option_value(tokens, i, _MP_OPTS)
        if cp is not None:
            out.class_path, i = cp, j
            continue
        if mp is not None:
            out.module_path.append(mp)
            i = k
            continue
        if a.startswith("-javaagent:"):
            out.agents.append(a[len("-javaagent:"):].split("=", 1)[0])
        elif a == "-jar":
            out.jar = tokens[i + 1] if i + 1 < len(tokens) else None
            return out
        elif a in ("-m", "--module") or a.startswith("--module=") or not a.startswith("-"):
            out.main = True
            return out
        elif a in _OTHER_VALUE_OPTS:
            i += 1
        i += 1
    return out


def count(args: Sequence[str], env: Mapping[str, str], cwd: str | None = None,
          read_file: Callable[[str], str | None] | None = None, bounds: Bounds | None = None) -> ClassCount:
    """Count the classes ``java args`` brings (``args``: what follows ``java``) plus the JDK baseline.

    ``env`` supplies ``CLASSPATH`` (used without ``-cp``/``-jar``) and
    ``JDK_JAVA_OPTIONS``/``JAVA_TOOL_OPTIONS`` (searched for agents; the
    former also for a class path); ``read_file`` reads ``@argfiles`` (None
    if unreadable). Never raises for bad files: they are listed in ``missed``.
    """
    c = _Counter(cwd or os.getcwd(), bounds or Bounds())
    pre = split_options(env.get("JDK_JAVA_OPTIONS", ""))
    launch = parse_launcher([*pre, *args], read_file)
    tool = parse_launcher(split_options(env.get("JAVA_TOOL_OPTIONS", "")))
    if launch.unread:
        c.result.miss("an @argfile", "not read (missing, too large or a pipe): its class path is unknown")
    for n, agent in enumerate([*tool.agents, *launch.agents], 1):
        c.jar(f"-javaagent {n}", agent)
    if launch.jar is not None:
        c.jar("-jar", launch.jar, nested=True, manifest=True)
    else:
        _class_path(c, launch, env)
    for n, item in enumerate(os.pathsep.join(launch.module_path).split(os.pathsep) if launch.module_path else [], 1):
        c.entry(f"--module-path entry {n}", item, module_dir=True)
    return c.result


def _class_path(c: _Counter, launch: Launch, env: Mapping[str, str]) -> None:
    """The class path entries: ``-cp``, else ``CLASSPATH``, else the current directory."""
    if launch.class_path is not None:
        source, value = "-cp", launch.class_path
    elif env.get("CLASSPATH"):
        source, value = "CLASSPATH", env["CLASSPATH"]
    elif launch.main and not launch.module_path:
        source, value = "the default class path", "."
        if c.path(".") == os.sep:
            c.result.miss("the default class path", "the current directory is / (not walked)")
            return
    else:
        return
    for n, item in enumerate(value.split(os.pathsep), 1):
        c.entry(f"{source} entry {n}", item)
