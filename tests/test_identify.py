"""Identification: argv[0]'s name, #! lines of real temp scripts, synthetic Go ELF files, odd files."""
from __future__ import annotations

import os

import pytest

from cgroupsize import binaries, files, identify
from tests.support.plans import go_buildinfo_blob, make_elf

NOWHERE = {"PATH": "/nonexistent-cgroupsize-test"}


def ident(argv, env=None, forced="auto"):
    return identify.identify(argv, env if env is not None else NOWHERE, forced)


@pytest.mark.parametrize(
    "argv, runtime, how, server",
    [
        (["java", "-jar", "app.jar"], "jvm", "direct", None),
        (["/opt/java/openjdk/bin/java", "-version"], "jvm", "direct", None),
        (["node", "server.js"], "node", "direct", None),
        (["nodejs", "server.js"], "node", "direct", None),
        (["python3.12", "app.py"], "python", "direct", None),
        (["python", "-m", "gunicorn", "app:app"], "python", "direct", "gunicorn"),
        (["python3", "-u", "-W", "ignore", "-m", "uvicorn", "app:app"], "python", "direct", "uvicorn"),
        (["python3", "-mgunicorn", "app:app"], "python", "direct", "gunicorn"),
        (["python3", "/usr/local/bin/gunicorn", "app:app"], "python", "direct", "gunicorn"),
        (["python3", "-c", "import gunicorn"], "python", "direct", None),
        (["python3", "-m", "celery", "worker"], "python", "direct", None),
        (["pypy3", "app.py"], "python", "direct", None),
        (["ruby", "app.rb"], "ruby", "direct", None),
        (["ruby3.3", "-S", "puma"], "ruby", "direct", "puma"),
        (["ruby", "bin/rails", "server"], "ruby", "direct", "puma"),
        (["dotnet", "App.dll"], "dotnet", "direct", None),
        (["npm", "start"], "node", "script", None),
        (["npx", "next", "start"], "node", "script", None),
        (["yarn", "start"], "node", "script", None),
        (["pnpm", "start"], "node", "script", None),
        (["gunicorn", "app:app"], "python", "script", "gunicorn"),
        (["/app/.venv/bin/uvicorn", "app:app"], "python", "script", "uvicorn"),
        (["puma", "-C", "config/puma.rb"], "ruby", "script", "puma"),
        (["unicorn", "-c", "u.rb"], "ruby", "script", "unicorn"),
        (["bundle", "exec", "puma"], "ruby", "script", "puma"),
        (["bundle", "exec", "rails", "s"], "ruby", "script", "puma"),
        (["bundle", "exec", "sidekiq"], "ruby", "script", None),
        (["bin/rails", "server"], "ruby", "script", "puma"),
        (["rails", "console"], "ruby", "script", None),
    ],
)
def test_by_name(argv, runtime, how, server):
    t = ident(argv)
    assert (t.runtime, t.how, t.server) == (runtime, how, server)
    assert t.notes and t.notes[0].startswith(f"runtime: {runtime}")


@pytest.mark.parametrize(
    "shebang, runtime, interp_args",
    [
        ("#!/usr/bin/env node", "node", []),
        ("#!/usr/bin/env -S node --max-old-space-size=100 --enable-source-maps", "node",
         ["--max-old-space-size=100", "--enable-source-maps"]),
        ("#!/usr/bin/env -Snode --trace-warnings", "node", ["--trace-warnings"]),
        ("#!/usr/bin/env -i PATH=/bin node", "node", []),
        ("#! /usr/bin/node", "node", []),
        ("#!/usr/local/bin/python3.12", "python", []),
        ("#!/usr/bin/env python3", "python", []),
        ("#!/app/.venv/bin/python -I", "python", ["-I"]),
        ("#!/usr/bin/ruby -w", "ruby", ["-w"]),
        ("#!/usr/bin/env ruby", "ruby", []),
        ("#!/usr/bin/env -S java --source 21 -Xmx64m", "jvm", ["--source", "21", "-Xmx64m"]),
    ],
)
def test_scripts_by_shebang(tmp_path, shebang, runtime, interp_args):
    script = tmp_path / "launch-app"
    script.write_text(shebang + "\nbody\n")
    script.chmod(0o755)
    t = ident(["launch-app", "arg"], {"PATH": f"/nonexistent:{tmp_path}"})
    assert (t.runtime, t.how, t.interp_args) == (runtime, "script", interp_args)
    assert t.path == str(script)


@pytest.mark.parametrize(
    "head, note",
    [
        ("#!/bin/sh\nexec java -jar app.jar\n", "is a sh script; say what it starts"),
        ("#!/bin/bash -e\n", "is a bash script"),
        ("#!\n", "empty #! line"),
        ("#!/usr/bin/env\n", "empty #! line"),
        ("echo no shebang\n", "neither a #! script nor an ELF binary"),
        ("", "neither a #! script nor an ELF binary"),
    ],
)
def test_unknown_scripts(tmp_path, head, note):
    script = tmp_path / "run"
    script.write_text(head)
    script.chmod(0o755)
    t = ident([str(script)])
    assert t.runtime is None
    assert note in t.notes[-1]


def test_wrapper_script_with_forced_runtime(tmp_path):
    script = tmp_path / "start.sh"
    script.write_text("#!/bin/sh\nexec java -jar /app.jar\n")
    script.chmod(0o755)
    t = ident([str(script)], forced="jvm")
    assert (t.runtime, t.how) == ("jvm", "script")
    assert "runtime: jvm (set by CGROUPSIZE_RUNTIME/--runtime)" in t.notes
    t = ident(["java", "-jar", "x"], forced="jvm")  # forcing what identification finds anyway
    assert (t.runtime, t.how) == ("jvm", "direct")
    t = ident(["java", "-jar", "x"], forced="none")
    assert t.runtime is None and "generic variables only" in t.notes[0]


def test_unreadable_file_fails_open(tmp_path, monkeypatch):
    script = tmp_path / "app"
    script.write_text("#!/usr/bin/env node\n")
    script.chmod(0o111)  # executable, not readable (root reads it anyway: refuse in open() too)
    real_open = os.open

    def guarded(path, *a, **k):
        if str(path) == str(script):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", guarded)
    t = ident([str(script)])
    assert t.runtime is None and f"cannot read {script} (Permission denied)" in t.notes[-1]


def test_directory_and_missing_files_fail_open(tmp_path):
    t = ident([str(tmp_path)])  # a directory
    assert t.runtime is None and "is not a regular file" in t.notes[-1]
    t = ident(["no-such-command"])
    assert t.runtime is None and "not on PATH" in t.notes[-1]
    t = ident([])
    assert t.runtime is None


def test_reading_errors_never_raise(tmp_path, monkeypatch):
    script = tmp_path / "app"
    make_elf(script, go_buildinfo_blob())

    def broken(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(binaries, "go_buildinfo", broken)
    t = ident([str(script)])
    assert t.runtime is None and "could not identify" in t.notes[-1]


def test_fifos_are_neither_blocked_on_nor_read(tmp_path):
    """A FIFO as the command or as a java @argfile: no hang, and its data stays for the program."""
    fifo = tmp_path / "app"
    os.mkfifo(fifo)
    t = ident([str(fifo)])  # no writer: a blocking open() would hang here
    assert t.runtime is None and "is not a regular file" in t.notes[-1]
    assert files.read_text(str(fifo)) is None
    r, w = os.pipe()
    os.write(w, b"-Xmx1g\n")
    os.close(w)
    try:
        assert files.read_text(f"/dev/fd/{r}") is None
        assert os.read(r, 100) == b"-Xmx1g\n"  # still there for java
    finally:
        os.close(r)


def test_resolve_uses_path_from_the_new_environment(tmp_path):
    bin1, bin2 = tmp_path / "a", tmp_path / "b"
    bin1.mkdir()
    bin2.mkdir()
    (bin1 / "tool").write_text("#!/usr/bin/env ruby\n")  # not executable: only a fallback
    (bin2 / "tool").write_text("#!/usr/bin/env node\n")
    (bin2 / "tool").chmod(0o755)
    assert identify.resolve("tool", {"PATH": f"{bin1}:{bin2}"}) == str(bin2 / "tool")
    assert identify.resolve("tool", {"PATH": str(bin1)}) == str(bin1 / "tool")
    assert ident(["tool"], {"PATH": f"{bin1}:{bin2}"}).runtime == "node"


# -- Go build info --------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("order", ["little", "big"])
@pytest.mark.parametrize("sections", [True, False])
def test_go_buildinfo(tmp_path, bits, order, sections):
    modinfo = ("path\texample.com/cmd/server\nmod\texample.com\tv1.2.3\th1:abc=\n"
               "build\tDefaultGODEBUG=containermaxprocs=0,updatemaxprocs=0\nbuild\tGOOS=linux\n")
    path = make_elf(tmp_path / "server", go_buildinfo_blob("go1.25.3", modinfo), bits=bits, order=order,
                    sections=sections)
    t = ident([str(path)])
    assert (t.runtime, t.how, t.go_version) == ("go", "binary", (1, 25))
    assert t.go_godebug == "containermaxprocs=0,updatemaxprocs=0"
    assert t.notes == ["runtime: go (server is a Go binary built with go1.25.3)"]


def test_go_buildinfo_pre_118_format(tmp_path):
    path = make_elf(tmp_path / "old", go_buildinfo_blob(old=True))
    t = ident([str(path)])
    assert (t.runtime, t.go_version) == ("go", (1, 17))
    assert "go1.17 or older" in t.notes[0]


def test_native_binary_without_go_is_unknown(tmp_path):
    path = make_elf(tmp_path / "cbin")
    t = ident([str(path)])
    assert t.runtime is None and "native binary without Go build info" in t.notes[0]
    # build info under another section name is still found in the writable segment, as Go does
    path = make_elf(tmp_path / "cbin2", go_buildinfo_blob(), name=b".data.rel.ro")
    assert ident([str(path)]).go_version == (1, 24)


@pytest.mark.parametrize(
    "blob",
    [
        b"\xff Go buildinf:\x08\x02",  # truncated header
        b"\xff Go buildinf:\x08\x02" + b"\0" * 16 + b"\xff\xff\xff\xff\x0f",  # length beyond the data
        b"\xff Go buildinf:\x08\x02" + b"\0" * 16 + b"\x00",  # empty version
        b"not go at all" * 8,
    ],
)
def test_malformed_buildinfo_is_not_go(tmp_path, blob):
    path = make_elf(tmp_path / "odd", blob)
    assert ident([str(path)]).runtime is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF",  # just the magic
        b"\x7fELF\x02\x01\x01" + b"\0" * 57,  # a header full of zeros
        b"\x7fELF\x03\x01" + b"\0" * 100,  # an unknown class
        b"\x7fELF\x02\x01\x01" + b"\0" * 33 + b"\xff" * 30,  # section headers far beyond the file
    ],
)
def test_truncated_or_garbled_elf_fails_open(tmp_path, data):
    path = tmp_path / "garbled"
    path.write_bytes(data)
    path.chmod(0o755)
    t = ident([str(path)])
    assert t.runtime is None and t.notes


def test_large_binary_is_not_read_whole(tmp_path, monkeypatch):
    """A 200 MiB (sparse) binary: only headers and the build info section are read."""
    path = make_elf(tmp_path / "big", go_buildinfo_blob("go1.23.4"), pad=200 << 20)
    assert path.stat().st_size > 200 << 20
    read = []
    real_open = open

    class Counting:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            data = self.f.read(n)
            read.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr("builtins.open", lambda *a, **k: Counting(real_open(*a, **k)))
    t = ident([str(path)])
    assert t.go_version == (1, 23)
    assert sum(read) < 64 << 10


def test_real_go_binary_if_present():
    """Any Go binary on this machine (docker, runc, containerd...): its toolchain version is read."""
    for name in ("docker", "runc", "containerd", "ctr", "kubectl", "go", "gofmt"):
        path = identify.resolve(name, os.environ)
        if path and os.path.isfile(path):
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            t = ident([path])
            assert t.runtime == "go" and t.go_version and t.go_version >= (1, 1), t.notes
            return
    pytest.skip("no Go binary on PATH (looked for docker, runc, containerd, ctr, kubectl, go, gofmt)")


# -- .NET apphost and java versions -------------------------------------------------------------


@pytest.mark.parametrize("sibling", ["MyApp.runtimeconfig.json", "MyApp.dll"])
def test_dotnet_apphost(tmp_path, sibling):
    path = make_elf(tmp_path / "MyApp")
    (tmp_path / sibling).write_text("{}")
    t = ident([str(path)])
    assert (t.runtime, t.how) == ("dotnet", "binary")


@pytest.mark.parametrize(
    "release, version",
    [
        ('JAVA_VERSION="17.0.15"', (17, 15)),
        ('JAVA_VERSION="1.8.0_181"', (8, 181)),
        ('JAVA_VERSION="21"', (21, 0)),
        ('IMPLEMENTOR="x"\nJAVA_VERSION="11.0.16.1"', (11, 16)),
        ("garbage", None),
    ],
)
def test_java_version_from_the_release_file(tmp_path, release, version):
    (tmp_path / "bin").mkdir()
    java = tmp_path / "bin" / "java"
    java.write_text("")
    java.chmod(0o755)
    (tmp_path / "release").write_text(release + "\n")
    assert ident(["java", "-version"], {"PATH": str(tmp_path / "bin")}).java_version == version
    # a script: $JAVA_HOME/release
    t = ident(["./run.sh"], {"PATH": "/nowhere", "JAVA_HOME": str(tmp_path)}, forced="jvm")
    assert t.java_version == version


def test_argfile_reader(tmp_path):
    f = tmp_path / "args"
    f.write_text("-Xmx1g")
    assert files.read_text(str(f)) == "-Xmx1g"
    assert files.read_text(str(tmp_path / "missing")) is None
    big = tmp_path / "big"
    big.write_bytes(b"x" * 100)
    assert files.read_text(str(big), limit=10) is None
