"""Native executables: which runtime an ELF binary carries, from bounded reads.

A Go binary carries build info (the toolchain version, e.g. ``go1.24.3``, and
the DefaultGODEBUG its module's go line implies) in ``.go.buildinfo``; a
.NET apphost has ``app.runtimeconfig.json`` or ``app.dll`` beside it. Reads
are bounded: the ELF section headers and at most 1 MiB of build info, never
a whole binary; anything odd is "unknown", never an exception.
"""
from __future__ import annotations

import os

from cgroupsize.model import Record
from cgroupsize.units import leading_numbers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Literal

    Unpack = Callable[[bytes, int, int], int]

BUILDINFO_MAX = 1 << 20  # Go build info is a few KiB; big modules lists stay far below 1 MiB
BUILDINFO_SEARCH = 64 << 10  # no section headers: search this much of the data segment (Go's debug/buildinfo)
GO_MAGIC = b"\xff Go buildinf:"


class Native(Record):
    """What an ELF binary is: ``runtime`` ("go", "dotnet" or None), a note, Go's version and DefaultGODEBUG."""

    __slots__ = ("runtime", "note", "go_version", "go_godebug")
    DEFAULTS = {"go_godebug": ""}
    runtime: str | None
    note: str
    go_version: tuple[int, int] | None
    go_godebug: str


def inspect_elf(f: BinaryIO, path: str, name: str) -> Native:
    """The runtime an open ELF file ``f`` (at ``path``, called ``name``) carries."""
    info = go_buildinfo(f)
    if info is not None:
        version, modinfo = info
        godebug = ""
        for line in modinfo.splitlines():
            if line.startswith("build\tDefaultGODEBUG="):
                godebug = line.split("=", 1)[1].strip()
        return Native("go", f"runtime: go ({name} is a Go binary built with {version})", go_version(version),
                      godebug)
    for sibling in (path + ".runtimeconfig.json", path + ".dll"):
        if os.path.isfile(sibling):
            return Native("dotnet", f"runtime: dotnet ({name} is a .NET apphost: "
                          f"{os.path.basename(sibling)} is beside it)")
    return Native(None, f"runtime unknown: {name} is a native binary without Go build info")


def go_version(text: str) -> tuple[int, int] | None:
    """``go1.24.3`` -> ``(1, 24)``; ``devel go1.26-abc`` -> ``(1, 26)``; unknown -> None."""
    at = text.find("go")
    while at >= 0:
        numbers = leading_numbers(text[at + 2:], ".")
        if len(numbers) >= 2:
            return numbers[0], numbers[1]
        at = text.find("go", at + 2)
    return None


def go_buildinfo(f: BinaryIO) -> tuple[str, str] | None:
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
    is64 = ehdr[4] == 2
    order: Literal["little", "big"] = "little" if ehdr[5] == 1 else "big"

    def u(data: bytes, off: int, size: int) -> int:
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


def _buildinfo_section(f: BinaryIO, ehdr: bytes, is64: bool, u: Unpack) -> bytes | None:
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

    def section(i: int) -> tuple[int, int, int]:  # (name offset, file offset, size)
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


def _buildinfo_search(f: BinaryIO, ehdr: bytes, is64: bool, u: Unpack) -> bytes | None:
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


def _varint_bytes(data: bytes, off: int) -> tuple[bytes | None, int]:
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
