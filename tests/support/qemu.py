"""Run a shell script under a real cgroup v2 kernel with pressure stall information: a qemu guest.

Debian's user-mode Linux kernels (:mod:`support.uml`) are built without
``CONFIG_PSI``, so they have no ``memory.pressure`` files. Debian's ordinary
amd64 kernel has PSI (enabled by default, booted with ``psi=1`` anyway). This
module boots it under ``qemu-system-x86_64`` with the host's
``/`` shared read-only over virtio-9p as the guest's root, so this interpreter
and this checkout run in it unchanged, as with UML.

API: the same as :mod:`support.uml` (``run_in_guest``, ``skip_reason``,
``GuestResult``, ``$OUT``/``$CG``/``$PYTHON``/``$CGROUPSIZE``/``$REPO``); see
its docstring. What differs: the guest has ``cpus`` CPUs (2 by default) and
every controller including ``cpuset``; the host's file system is *read-only*
except the work directory (``$OUT`` and the script's files, shared
read-write at the same path), ``/tmp`` included (a checkout there stays
visible); ``/run`` and ``/dev/shm`` are the guest's own tmpfs and
``$TMPDIR`` is ``/dev/shm``.

The kernel (``linux-image-*-amd64``) and ``busybox-static`` are fetched from
Debian once with apt's private sources and lists (nothing is installed on the
host) and prepared into :data:`CACHE`: the kernel image and a small initramfs
(busybox, the virtio and 9p modules, an ``/init`` that mounts the shares and
switches to the host's root). The host needs ``qemu-system-x86_64``.

Acceleration: KVM when ``/dev/kvm`` is usable and the CPU has VMX or SVM;
otherwise qemu's own emulator (TCG), about 10x slower: a boot plus one
``cgroupsize --print`` takes about 20 s. A ``/dev/kvm`` without VMX/SVM
(e.g. the ``kvm_pvm`` module of nested cloud machines) runs only kernels
built as PVM guests; Debian's stock kernel hangs right after decompression
there. ``$CGROUPSIZE_QEMU_ACCEL`` overrides the choice (qemu arguments).
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import kill_orphans, run_group, uml

GuestResult = uml.GuestResult
CACHE = uml.CACHE.parent / "qemu"
# Debian suite the kernel and busybox come from.
SUITE = os.environ.get("CGROUPSIZE_QEMU_SUITE", "bookworm")
QEMU = os.environ.get("CGROUPSIZE_QEMU", "qemu-system-x86_64")
DEFAULT_TIMEOUT = 180.0
# What mounting a virtio-9p share needs, leaves first (dependencies are added from each module's own list).
MODULES = ("virtio_pci", "9pnet_virtio", "9p")
_counter = itertools.count(1)

_RDINIT = """#!/bin/busybox sh
# PID 1 of the initramfs (written by tests/support/qemu.py): mount the host's / read-only
# and the work directory read-write at its own path, then run the test's init.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t devtmpfs devtmpfs /dev
for m in {modules}; do insmod /lib/modules/$m.ko || echo "insmod $m failed"; done
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $o,ro,cache=loose hostroot /newroot || {{ echo "no root share"; poweroff -f; }}
mount -t devtmpfs devtmpfs /newroot/dev
mount -t tmpfs tmpfs /newroot/run
mkdir -p "/newroot$cgs_work"
mount -t 9p -o $o,cache=none work "/newroot$cgs_work" || {{ echo "no work share"; poweroff -f; }}
exec switch_root /newroot /bin/sh "$cgs_init"
"""


def _depends(ko: Path) -> list[str]:
    """The modules ``ko`` needs (its ``.modinfo`` ``depends=`` entry)."""
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", ko.read_bytes())
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def _module_order(moddir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """``wanted`` and everything they depend on, each after its dependencies."""
    index = {p.name[:-3].replace("-", "_"): p for p in moddir.rglob("*.ko")}
    order: list[Path] = []

    def visit(name: str) -> None:
        path = index[name.replace("-", "_")]
        if path in order:
            return
        for dep in _depends(path):
            visit(dep)
        order.append(path)

    for name in wanted:
        visit(name)
    return order


def _cpio(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A ``newc`` cpio archive (what the kernel unpacks as an initramfs) of (name, mode, data)."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def _initramfs(root: Path) -> bytes:
    """The initramfs from the unpacked packages under ``root``: busybox, modules, /init."""
    moddir = next((root / "lib/modules").iterdir())
    mods = _module_order(moddir / "kernel", MODULES)
    entries = [(d, 0o40755, b"") for d in ("bin", "lib", "lib/modules", "dev", "proc", "sys", "newroot")]
    entries.append(("bin/busybox", 0o100755, (root / "bin/busybox").read_bytes()))
    entries += [(f"lib/modules/{p.name}", 0o100644, p.read_bytes()) for p in mods]
    init = _RDINIT.format(modules=" ".join(p.name[:-3] for p in mods))
    entries.append(("init", 0o100755, init.encode()))
    return _cpio(entries)


def _version(suite: str) -> str:
    """The cache entry's name: the suite and a digest of the initramfs' init and modules (a change rebuilds)."""
    return f"{suite}-{hashlib.sha256((_RDINIT + repr(MODULES)).encode()).hexdigest()[:12]}"


def prepare_kernel(dest: Path = CACHE, suite: str = SUITE) -> tuple[Path, Path]:
    """Fetch ``linux-image-amd64``'s kernel and ``busybox-static`` from Debian ``suite``; build the initramfs.

    Returns (kernel image, initramfs) under ``dest/<suite>-<digest>``. Raises
    ``RuntimeError`` (with apt's message) when that is not possible.
    """
    target = dest / _version(suite)
    if (target / "initrd.img").exists():
        return target / "vmlinuz", target / "initrd.img"
    stage = Path(tempfile.mkdtemp(prefix=f".{suite}-", dir=uml._mkdir(dest)))
    try:
        for sub in ("sources", "lists/partial", "apt-cache/archives/partial", "debs", "root"):
            (stage / sub).mkdir(parents=True)
        (stage / "sources" / "qemu.sources").write_text(
            f"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: {suite}\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
        opts = uml._apt_options(stage)
        uml._run(["apt-get", *opts, "update"], stage)
        deps = subprocess.run(["apt-cache", *opts, "depends", f"linux-image-amd64/{suite}"],
                              capture_output=True, text=True, check=False).stdout
        image = re.search(r"Depends: (linux-image-\S+-amd64)\b", deps)
        if image is None:
            raise RuntimeError(f"no kernel package behind linux-image-amd64 in {suite}: {deps.strip()[-300:]}")
        uml._run(["apt-get", *opts, "download", f"{image.group(1)}/{suite}", f"busybox-static/{suite}"],
                 stage / "debs")
        for deb in (stage / "debs").glob("*.deb"):
            uml._run(["dpkg-deb", "-x", str(deb), str(stage / "root")], stage)
        new = stage / "ready"
        new.mkdir()
        shutil.copy2(next((stage / "root/boot").glob("vmlinuz-*")), new / "vmlinuz")
        (new / "initrd.img").write_bytes(_initramfs(stage / "root"))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(new, target)
        return target / "vmlinuz", target / "initrd.img"
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# -- booting ----------------------------------------------------------------------


def accel() -> list[str]:
    """qemu's acceleration arguments: KVM when it can run a stock kernel here, else TCG."""
    if os.environ.get("CGROUPSIZE_QEMU_ACCEL"):
        return os.environ["CGROUPSIZE_QEMU_ACCEL"].split()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        flags = []
    if os.access("/dev/kvm", os.R_OK | os.W_OK) and {"vmx", "svm"} & set(flags):
        return ["-enable-kvm", "-cpu", "host"]
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


def _boot(kernel: tuple[Path, Path], init: Path, work: Path, mem: str, cpus: int,
          timeout: float) -> tuple[float, bool]:
    """Run the guest until it powers off or ``timeout``; its qemu process group is killed either way."""
    vmlinuz, initrd = kernel
    append = (f"console=ttyS0 rdinit=/init panic=-1 psi=1 quiet cgs_init={init} cgs_work={work}")
    cmd = [QEMU, "-name", f"cgroupsize-qemu-{os.getpid()}-{next(_counter)}", *accel(),
           "-m", mem, "-smp", str(cpus), "-nodefaults", "-no-user-config", "-display", "none",
           "-no-reboot", "-serial", f"file:{work / 'console.log'}",
           "-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append,
           "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
           "-device", "virtio-9p-pci,fsdev=root,mount_tag=hostroot",
           "-fsdev", f"local,id=work,path={work},security_model=none",
           "-device", "virtio-9p-pci,fsdev=work,mount_tag=work"]
    return run_group(cmd, work / "qemu.log", timeout)


def remove_stale() -> list[int]:
    """Kill guests of earlier test processes that died first (``-name cgroupsize-qemu-<dead pid>-<n>``)."""
    return kill_orphans("cgroupsize-qemu-", "cgroupsize-qemu-*-*")


def run_in_guest(script: str, mem: str = "1G", timeout: float = DEFAULT_TIMEOUT,
                 env: dict[str, str] | None = None, workdir: Path | None = None,
                 cpus: int = 2) -> GuestResult:
    """Boot a qemu guest, run ``script`` in it (see :mod:`support.uml`), power off, return the results.

    ``mem`` is the guest's RAM (qemu's ``-m``: ``512M``, ``1G``), ``cpus``
    its CPUs; ``env`` and ``workdir`` as in :func:`support.uml.run_in_guest`.
    Raises ``RuntimeError`` when no guest can boot here (check
    :func:`skip_reason` first).
    """
    kernel = find_kernel()
    if kernel is None:
        raise RuntimeError(skip_reason() or "no qemu guest kernel")
    remove_stale()
    keep = workdir is not None
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=f"cgroupsize-qemu-{os.getpid()}-"))
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    try:
        out = work / "out"
        out.mkdir()
        init = uml._write_init(work, out, script, {"PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": "/dev/shm", **(env or {})})
        elapsed, timed_out = _boot(kernel, init, work, mem, cpus, timeout)
        status_text = uml._text(work / "status").strip()
        return GuestResult(status=int(status_text) if status_text.isdigit() else None,
                           files=uml._read_tree(out), stdout=uml._text(work / "stdout"),
                           stderr=uml._text(work / "stderr"),
                           console=uml._text(work / "console.log") + uml._text(work / "qemu.log"),
                           elapsed=elapsed, out_dir=out if keep else None, timed_out=timed_out)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


# -- finding (or preparing) what boots here ---------------------------------------


def _host_reason() -> str | None:
    if sys.platform != "linux":
        return "a qemu guest here needs a Linux host"
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (Debian package qemu-system-x86)"
    return None


@functools.cache
def _find() -> tuple[tuple[Path, Path] | None, str | None]:
    """(kernel and initramfs, None) or (None, why not); prepares them into CACHE when needed."""
    reason = _host_reason()
    if reason:
        return None, reason
    ready = CACHE / _version(SUITE)
    if (ready / "initrd.img").exists():
        kernel = (ready / "vmlinuz", ready / "initrd.img")
    else:
        missing = [t for t in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(t) is None]
        if os.geteuid() != 0 or missing:
            return None, f"no qemu guest kernel in {ready}; preparing one needs root and {missing or 'apt'}"
        try:
            kernel = prepare_kernel()
        except (RuntimeError, OSError, StopIteration, KeyError, subprocess.TimeoutExpired) as e:
            return None, f"no qemu guest kernel in {ready}; fetching one failed: {e!r}"
    return kernel, None


def find_kernel() -> tuple[Path, Path] | None:
    """(kernel image, initramfs) of the guest, prepared once if needed, or None."""
    return _find()[0]


@functools.cache
def skip_reason() -> str | None:
    """Why no qemu guest can run here, or None. Boots a probe guest (and may prepare a kernel) once per process."""
    reason = _find()[1]
    if reason:
        return reason
    r = run_in_guest("echo ok > $OUT/ok\n", mem="256M", timeout=60, cpus=1)
    if r.files.get("ok") != "ok\n":
        return f"the qemu guest did not run a script here:\n{r}"
    return None


if __name__ == "__main__":  # python3 -m tests.support.qemu: prepare and check the guest (CI can do this early)
    why = skip_reason()
    print(why or f"qemu guest kernel: {find_kernel()}")
    sys.exit(1 if why else 0)
