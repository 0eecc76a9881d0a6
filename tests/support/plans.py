"""Fixture limits and a one-call planner for the table-driven plan tests.

Every fixture reads as a cgroup v2 container whose limits sit in its own
cgroup directory (what every runtime sees too); ``nested`` and ``override``
variants put the limit where a leaf-only reader would miss it. The
environment has a PATH that exists nowhere, so identification works from
argv[0]'s name alone and nothing on this machine leaks into a plan.
"""
from __future__ import annotations

from cgroupsize.model import CGROUP_FILE, LIMITED, SETTING, UNLIMITED, Limits, Notice, Value
from cgroupsize.planner import make_plan
from cgroupsize.settings import load

MiB = 1 << 20
GiB = 1 << 30
LEAF = "/sys/fs/cgroup/kubepods/pod1/ctr"
PARENT = "/sys/fs/cgroup/kubepods/pod1"
ENV = {"PATH": "/nonexistent-cgroupsize-test"}
HOST_CPUS = 16
HOST_MEMORY = 64 * GiB


def limits(mem=None, cpus=None, where="leaf", cpuset=None) -> Limits:
    """Limits with ``mem`` bytes and ``cpus`` CPUs of quota (None: no limit).

    ``where``: ``leaf`` (the limit files are in our own cgroup), ``parent``
    (an ancestor's: Go 1.25 and .NET < 8 miss it), ``override``
    (CGROUPSIZE_MEMORY_LIMIT / CGROUPSIZE_CPU_LIMIT).
    """
    d = {"leaf": LEAF, "parent": PARENT}.get(where)
    mem_src = f"{d}/memory.max" if d else "CGROUPSIZE_MEMORY_LIMIT"
    cpu_src = f"{d}/cpu.max" if d else "CGROUPSIZE_CPU_LIMIT"
    origin = CGROUP_FILE if d else SETTING
    lim = Limits()
    lim.memory.version = lim.cpu.version = "v2"
    lim.memory.dir = lim.cpu.dir = LEAF
    lim.memory.host = Value(HOST_MEMORY, "/proc/meminfo", "MemTotal")
    lim.cpu.host = Value(HOST_CPUS, "/sys/devices/system/cpu/online", f"0-{HOST_CPUS - 1}")
    if mem is not None:
        lim.memory.limit = Value(mem, mem_src, str(mem), d, origin)
        lim.memory.state = LIMITED
    else:
        lim.memory.limit = Value(None, f"{LEAF}/memory.max", "max", LEAF, CGROUP_FILE)
        lim.memory.state = UNLIMITED
    if cpus is not None:
        lim.cpu.quota = Value(float(cpus), cpu_src, f"{int(cpus * 100000)} 100000", d, origin)
        lim.cpu.period = Value(100000, cpu_src, None, d, origin)
        lim.cpu.state = LIMITED
    else:
        lim.cpu.state = UNLIMITED
    if cpuset is not None:
        lim.cpu.cpuset = Value(cpuset, f"{LEAF}/cpuset.cpus.effective", f"0-{cpuset - 1}", LEAF, CGROUP_FILE)
    if where == "override":
        lim.notices.append(Notice("OVERRIDE", "memory limit taken from CGROUPSIZE_MEMORY_LIMIT", "memory"))
    return lim


SMALL = {"mem": 256 * MiB, "cpus": 0.5}
MEDIUM = {"mem": 1 * GiB, "cpus": 2}
LARGE = {"mem": 8 * GiB, "cpus": 8}
NO_LIMIT = {"mem": None, "cpus": None}
FIXTURES = {"small": SMALL, "medium": MEDIUM, "large": LARGE, "none": NO_LIMIT}


def plan(argv, env=None, lim=None, **settings):
    """make_plan over ``ENV`` + ``env``; settings as strings (parsed like variables) or values."""
    full_env = {**ENV, **(env or {})}
    return make_plan(list(argv), full_env, lim if lim is not None else limits(**MEDIUM), load(full_env, settings))


def text(p) -> str:
    """Everything a plan says about itself (for "never quotes the user" checks)."""
    return "\n".join(p.notes + p.warnings + p.problems)


# -- a synthetic Go binary: an ELF file with a .go.buildinfo section ----------------------------

GO_INFO_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"  # cmd/go/internal/modload
GO_INFO_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"


def _uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def go_buildinfo_blob(version="go1.24.3", modinfo="path\texample.com/app\nmod\texample.com/app\t(devel)\t\n",
                      old=False):
    """The contents of ``.go.buildinfo`` as Go 1.18+ writes it (``old``: the pre-1.18 pointer form)."""
    head = b"\xff Go buildinf:" + bytes([8, 0 if old else 2])
    head += b"\0" * (32 - len(head))
    if old:
        return head + b"\0" * 32
    mod = GO_INFO_START + modinfo.encode() + GO_INFO_END
    return head + _uvarint(len(version)) + version.encode() + _uvarint(len(mod)) + mod


def make_elf(path, blob=None, bits=64, order="little", sections=True, pad=0, name=b".go.buildinfo"):
    """Write an ELF executable holding ``blob`` in a section called ``name`` (or none: a C binary).

    ``sections=False`` leaves out the section headers (as ``sstrip`` does): the blob then sits at
    the start of a writable PT_LOAD segment. ``pad`` bytes of hole go before the section headers,
    as a large binary's text would (a sparse file).
    """
    import struct

    e = "<" if order == "little" else ">"
    is64 = bits == 64
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    blob = blob if blob is not None else b"\x90" * 64  # some "code"
    shstrtab = b"\0" + name + b"\0.shstrtab\0"
    phoff = ehsize
    data_off = 0x100
    str_off = data_off + len(blob)
    shoff = (str_off + len(shstrtab) + 15) // 16 * 16 + pad
    shnum = 3 if sections else 0
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if order == "little" else 2, 1, 0]) + b"\0" * 8
    if is64:
        ehdr = ident + struct.pack(e + "HHIQQQIHHHHHH", 2, 62, 1, 0x401000, phoff, shoff if sections else 0, 0,
                                   ehsize, phentsize, 1, shentsize, shnum, 2 if sections else 0)
        phdr = struct.pack(e + "IIQQQQQQ", 1, 6, data_off, 0x500000, 0x500000, len(blob), len(blob), 0x1000)
    else:
        ehdr = ident + struct.pack(e + "HHIIIIIHHHHHH", 2, 3, 1, 0x8049000, phoff, shoff if sections else 0, 0,
                                   ehsize, phentsize, 1, shentsize, shnum, 2 if sections else 0)
        phdr = struct.pack(e + "IIIIIIII", 1, data_off, 0x500000, 0x500000, len(blob), len(blob), 6, 0x1000)

    def shdr(name_off, type_, off, size):
        if is64:
            return struct.pack(e + "IIQQQQIIQQ", name_off, type_, 3, 0, off, size, 0, 0, 16, 0)
        return struct.pack(e + "IIIIIIIIII", name_off, type_, 3, 0, off, size, 0, 0, 16, 0)

    with open(path, "wb") as f:
        f.write(ehdr + phdr)
        f.seek(data_off)
        f.write(blob)
        f.write(shstrtab)
        if sections:
            f.seek(shoff)
            f.write(b"\0" * shentsize)
            f.write(shdr(1, 1, data_off, len(blob)))
            f.write(shdr(1 + len(name) + 1, 3, str_off, len(shstrtab)))
    import os

    os.chmod(path, 0o755)
    return path


def ours(p) -> dict:
    """The variables a plan added for its runtime (the generic CONTAINER_* ones left out)."""
    return {k: v for k, v in p.added.items() if not k.startswith("CONTAINER_")}
