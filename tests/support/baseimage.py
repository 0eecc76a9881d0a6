"""Local base images for the Docker tests, made with debootstrap and cached between runs.

No image registry is reachable where the tests run, so ``FROM
eclipse-temurin:...`` cannot be pulled. The Dockerfiles take their base
image as a build argument; these stand in for the official ones: Debian
``minbase`` plus the runtime, and, like the official jvm/node/ruby images, no
Python (the Dockerfiles must install it themselves):

=========  ==============================  =================================
name       packages added to minbase       stands in for
=========  ==============================  =================================
python     python3, python3-venv           python:3.12-slim-bookworm
jvm        openjdk-17-jre-headless         eclipse-temurin:21-jre-noble
node       nodejs                          node:22-bookworm-slim
ruby       ruby                            ruby:3.3-slim-bookworm
=========  ==============================  =================================

:func:`rootfs_tarballs` runs the missing debootstraps in parallel (about three
minutes for all four on two cores, once) and keeps each root file system as
a tarball in :data:`CACHE`, keyed by suite and package list; later runs only
``docker import`` them (seconds). Delete the directory to refresh them.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

CACHE = Path(os.environ.get("CGROUPSIZE_TEST_CACHE", "/var/cache/cgroupsize-tests")) / "base-images"
SUITE = "bookworm"
BASES = {
    "python": ["python3", "python3-venv"],
    "jvm": ["openjdk-17-jre-headless"],
    "node": ["nodejs"],
    "ruby": ["ruby"],
}
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def mirror() -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]:
        try:
            text = f.read_text()
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:(.*)$", stanza, re.MULTILINE)
            if uris and suites and SUITE in suites.group(1).split() and uris.group(1).startswith("http"):
                return uris.group(1).rstrip("/")
        for m in re.finditer(rf"^deb\s+(?:\[[^]]*\]\s+)?(http\S+)\s+{SUITE}\s", text, re.MULTILINE):
            return m.group(1).rstrip("/")
    return DEFAULT_MIRROR


def tarball(name: str) -> Path:
    key = hashlib.sha256(f"{SUITE} minbase {' '.join(sorted(BASES[name]))}".encode()).hexdigest()[:12]
    return CACHE / f"{SUITE}-{name}-{key}.tar"


def skip_reason() -> str | None:
    """Why base images cannot be made here, or None (cached tarballs need nothing but themselves)."""
    if all(tarball(n).exists() for n in BASES):
        return None
    if os.geteuid() != 0:
        return "debootstrap needs root to make the base images"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (Debian package debootstrap)"
    url = f"{mirror()}/dists/{SUITE}/Release"
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            r.read(64)
    except OSError as e:
        return f"the Debian mirror is not reachable for debootstrap ({url}: {e})"
    return None


def rootfs_tarballs() -> dict[str, Path]:
    """{name: tarball of its root file system}; debootstraps the missing ones, in parallel."""
    CACHE.mkdir(parents=True, exist_ok=True)
    todo = {n: tarball(n) for n in BASES if not tarball(n).exists()}
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE)) if todo else None
    try:
        procs = {}
        for name in todo:
            log = open(work / f"{name}.log", "wb")  # noqa: SIM115 (closed after the wait)
            procs[name] = (subprocess.Popen(
                ["debootstrap", "--variant=minbase", f"--include={','.join(BASES[name])}", SUITE,
                 str(work / name), mirror()], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT), log)
        failed = []
        for name, (proc, log) in procs.items():
            proc.wait()
            log.close()
            if proc.returncode != 0:
                failed.append(f"{name}: debootstrap exited {proc.returncode}:\n"
                              f"{(work / f'{name}.log').read_text(errors='replace')[-2000:]}")
                continue
            _clean_rootfs(work / name)
            partial = work / f"{name}.tar"
            subprocess.run(["tar", "-C", str(work / name), "--numeric-owner", "-cf", str(partial), "."],
                           check=True, capture_output=True)
            os.replace(partial, todo[name])
        if failed:
            raise RuntimeError("\n".join(failed))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return {n: tarball(n) for n in BASES}


def _clean_rootfs(root: Path) -> None:
    """What an image does not want: apt lists and caches of the bootstrap."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for p in (root / sub).glob("*"):
            if p.is_file():
                p.unlink()


def import_images(dockerd, prefix: str = "cgroupsize-test-base") -> dict[str, str]:
    """``docker import`` every base into ``dockerd``; returns {name: image tag}."""
    tags = {}
    for name, tar in rootfs_tarballs().items():
        tag = f"{prefix}/{name}:{SUITE}"
        dockerd.docker("import", "--change", 'CMD ["/bin/bash"]', str(tar), tag, timeout=600)
        tags[name] = tag
    return tags
