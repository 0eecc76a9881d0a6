"""The command gets exactly what cgroupsize was given, plus what the tool documents.

Real subprocesses, started with an exact environment block (``execve`` through
ctypes, so that duplicates, entries without ``=`` and non-UTF-8 bytes can be
given), through each way of starting the tool:

- ``script``: the ``cgroupsize`` script pip installed beside this interpreter
  (pip rewrites its ``#!python -IB`` line to ``#!/path/python``, dropping the
  flags: pypa/pip#10661);
- ``script, #! flags kept``: the same script with its ``#!`` line rewritten
  the way setuptools' own ``build_scripts`` does it, keeping the flags;
- ``python -I -B -m``: the documented module form (its isolation is Python's
  own, so those rows held on 0.1.0 too: they pin the documented form down);
- ``python -m``: the plain module form (environment rows only: without ``-I``
  Python itself reads PYTHON* variables and the current directory).

The command prints its own ``/proc/self/environ``, so what is compared is
what the kernel handed it. To check an older tree, install it for an
interpreter (``pip install -e OLD``) and run this file with that interpreter
from OLD/tests: every row fails on 0.1.0 except the ``python -I -B -m`` ones,
PYTHONWARNINGS=error, PYTHONINSPECT=1 with a command that runs, known
``--skip`` spellings and NODE_OPTIONS with non-UTF-8 bytes (regression rows).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from cgroupsize import launch
from tests.support import REPO

PATH = b"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
DISABLE = b"CGROUPSIZE_DISABLE=1"

# execve(2) with exactly the given entries: argv is "--"-separated after the hex-encoded entries.
LAUNCHER = r"""
import ctypes, os, sys
i = sys.argv.index("--")
env = [bytes.fromhex(h) for h in sys.argv[1:i]]
argv = [os.fsencode(a) for a in sys.argv[i + 1:]]
libc = ctypes.CDLL(None, use_errno=True)
libc.execve(argv[0], (ctypes.c_char_p * (len(argv) + 1))(*argv, None),
            (ctypes.c_char_p * (len(env) + 1))(*env, None))
sys.exit(f"launcher: execve {argv[0]!r}: {os.strerror(ctypes.get_errno())}")
"""


def launch_with(block, argv, cwd="/", timeout=60):
    """Run ``argv`` (its [0] an absolute path) with exactly ``block`` as its environment."""
    return subprocess.run([sys.executable, "-c", LAUNCHER, *(e.hex() for e in block), "--", *argv],
                          capture_output=True, timeout=timeout, cwd=cwd)


def _installed_package_problem():
    """Why the -I forms would not run this checkout's package, or None."""
    proc = subprocess.run([sys.executable, "-I", "-c", "import cgroupsize; print(cgroupsize.__file__)"],
                          capture_output=True, text=True, cwd="/")
    if proc.returncode != 0:
        return "cgroupsize is not installed for this interpreter (-I ignores PYTHONPATH): pip install -e ."
    where = os.path.dirname(os.path.realpath(proc.stdout.strip()))
    if where != os.path.realpath(os.path.join(REPO, "cgroupsize")):
        return f"the cgroupsize installed for this interpreter is {where}, not this checkout: pip install -e ."
    return None


def _installed_script():
    """pip's copy of bin/cgroupsize for this interpreter, if it is this checkout's."""
    script = os.path.join(os.path.dirname(sys.executable), "cgroupsize")
    if not os.path.isfile(script):
        return None, f"no cgroupsize script beside {sys.executable}: pip install -e ."
    with open(script, "rb") as f, open(os.path.join(REPO, "bin", "cgroupsize"), "rb") as g:
        if f.read().split(b"\n", 1)[1:] != g.read().split(b"\n", 1)[1:]:
            return None, f"{script} is not this checkout's bin/cgroupsize (stale install): pip install -e ."
    return script, None


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    """Name -> argv prefix of each way to start the tool (absolute paths: the block may lack PATH)."""
    problem = _installed_package_problem()
    if problem:
        pytest.skip(problem)
    script, why = _installed_script()
    kept = tmp_path_factory.mktemp("flags") / "cgroupsize"
    with open(os.path.join(REPO, "bin", "cgroupsize"), "rb") as f:
        first, body = f.read().split(b"\n", 1)
    # setuptools' build_scripts: "#!python FLAGS" -> "#!/path/to/python FLAGS" (flags kept)
    flags = re.match(rb"^#!.*python[0-9.]*([ \t].*)?$", first).group(1) or b""
    kept.write_bytes(b"#!" + os.fsencode(sys.executable) + flags + b"\n" + body)
    kept.chmod(0o755)
    return {
        "script": ([script] if script else None, why),
        "script, #! flags kept": ([str(kept)], None),
        "python -I -B -m": ([sys.executable, "-I", "-B", "-m", "cgroupsize"], None),
        "python -m": ([sys.executable, "-m", "cgroupsize"], None),
    }


def tool(forms, form):
    argv, why = forms[form]
    if argv is None:
        pytest.skip(why)
    return argv


def entries(stdout: bytes) -> list:
    assert stdout.endswith(b"\0") or stdout == b"", stdout
    return stdout.split(b"\0")[:-1]


ALL = ["script", "script, #! flags kept", "python -I -B -m", "python -m"]
ISOLATED = ["script, #! flags kept", "python -I -B -m"]  # the flags reach the interpreter
RESTARTS = ["script"] + ISOLATED  # pip's script restarts itself with the flags when it matters

# -- the environment: exactly the block received ---------------------------------------------------

ODD = [PATH, b"A=1", b"A=2", b"NO_EQUALS_SIGN", b"=x", b"", b"BYTES=\xff\xfe", b"LANG=C", b"Z=last"]

ENV_ROWS = {
    # id: (block, disabled)
    "C locale": ([PATH, b"LANG=C"], False),
    "C locale, disabled": ([PATH, b"LANG=C", DISABLE], True),
    "no locale": ([PATH], False),
    "no locale, disabled": ([PATH, DISABLE], True),
    "POSIX locale in LC_CTYPE": ([PATH, b"LC_CTYPE=POSIX"], False),
    "duplicates, no '=', '=x', empty, bytes": (ODD, False),
    "duplicates, no '=', '=x', empty, bytes, disabled": (ODD + [DISABLE], True),
    # pip's script restarts itself isolated when a PYTHON* variable is set: the block must survive that too
    "odd block and a Python variable": (ODD + [b"PYTHONSAFEPATH=1"], False),
    "odd block and a Python variable, disabled": (ODD + [b"PYTHONSAFEPATH=1", DISABLE], True),
}


@pytest.mark.parametrize("form", ALL)
@pytest.mark.parametrize("row", list(ENV_ROWS))
def test_environment_is_the_received_block(forms, form, row):
    """Disabled: byte for byte what was given. Otherwise the same, then the tool's CONTAINER_* only."""
    block, disabled = ENV_ROWS[row]
    if form == "python -m":
        block = block + [b"PYTHONPATH=" + os.fsencode(REPO)]
    proc = launch_with(block, tool(forms, form) + ["--", "/bin/cat", "/proc/self/environ"])
    assert proc.returncode == 0, proc.stderr
    got = entries(proc.stdout)
    if disabled:
        assert got == block
    else:
        ours = [e for e in got if e.startswith(b"CONTAINER_")]
        assert got == block + ours  # nothing else added, nothing changed, order kept
        assert any(e.startswith(b"CONTAINER_CPU_COUNT=") for e in ours), got
    assert proc.stderr == b""


# -- the tool is isolated from the application's Python variables and directory ----------------------


@pytest.fixture
def app(tmp_path):
    """An application directory whose modules would hijack a Python started there or with it on PYTHONPATH."""
    d = tmp_path / "app"
    d.mkdir()
    (d / "sitecustomize.py").write_text("import sys\nsys.stderr.write('SITECUSTOMIZE RAN\\n')\n")
    (d / "cgroupsize.py").write_text("raise SystemExit('SHADOWED: the application module was imported')\n")
    return d


def _python_rows(app):
    """id -> (variable, value, forms it holds for).

    Variables that act while the interpreter starts, before any line of the
    script runs, hold only where the interpreter itself gets -I.
    """
    return {
        "PYTHONPATH=app (sitecustomize, shadowing module)": ("PYTHONPATH", str(app), RESTARTS),
        "PYTHONPATH=. in the app directory": ("PYTHONPATH", ".", RESTARTS),
        "PYTHONINSPECT=1": ("PYTHONINSPECT", "1", RESTARTS),
        "PYTHONWARNINGS=error": ("PYTHONWARNINGS", "error", RESTARTS),
        "PYTHONHOME=/nonexistent": ("PYTHONHOME", "/nonexistent", ISOLATED),
        "PYTHONIOENCODING=bogus": ("PYTHONIOENCODING", "bogus-encoding", ISOLATED),
        "PYTHONMALLOC=bogus": ("PYTHONMALLOC", "bogus-allocator", ISOLATED),
        "PYTHONVERBOSE=1": ("PYTHONVERBOSE", "1", ISOLATED),
        "PYTHONPYCACHEPREFIX": ("PYTHONPYCACHEPREFIX", str(app / "pycache-prefix"), ISOLATED),
    }



@pytest.mark.parametrize("row, form", [(row, form) for row, (_, _, holds) in _python_rows(pathlib.Path("app")).items()
                                       for form in holds])
def test_python_variables_do_not_reach_the_tool(forms, form, row, app):
    """Run from the app directory with one variable set: the command runs and gets it untouched.

    The tool prints nothing (no sitecustomize, no import trace), is not
    shadowed and writes no .pyc. pip's script (flags dropped) runs the
    application's sitecustomize once before it restarts isolated, and cannot
    survive variables that are fatal before any code runs: those rows are for
    the forms whose interpreter gets -I.
    """
    name, value, _ = _python_rows(app)[row]
    block = [PATH, b"LANG=C.UTF-8", f"{name}={value}".encode()]
    show = f'printf "%s" "${name}"'
    proc = launch_with(block, tool(forms, form) + ["--", "/bin/sh", "-c", show], cwd=str(app))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == value  # the command got it, untouched
    stderr = proc.stderr.decode()
    assert "SHADOWED" not in stderr and "Traceback" not in stderr, stderr
    if form != "script":
        assert stderr == "", stderr
    else:
        assert stderr.replace("SITECUSTOMIZE RAN\n", "") == "", stderr
    assert not (app / "pycache-prefix").exists() or not any((app / "pycache-prefix").rglob("*.pyc"))


@pytest.mark.parametrize("form", RESTARTS)
def test_pythoninspect_keeps_127(forms, form):
    """PYTHONINSPECT=1 turned 'command not found' into a traceback, exit 1."""
    block = [PATH, b"PYTHONINSPECT=1"]
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *(e.hex() for e in block), "--",
                           *tool(forms, form), "--", "no-such-command-cgroupsize"],
                          capture_output=True, timeout=60, cwd="/", stdin=subprocess.DEVNULL)
    assert proc.returncode == 127, proc.stderr
    assert proc.stderr == b"cgroupsize: no-such-command-cgroupsize: command not found\n"


# -- exec errors say what failed ---------------------------------------------------------------------


def _elf_with_missing_loader(tmp_path):
    true = shutil.which("true") or "/bin/true"
    with open(true, "rb") as f:
        data = f.read()
    found = re.search(rb"/lib[^\0]*/ld-[^\0/]+\0", data)  # PT_INTERP: /lib64/ld-linux-x86-64.so.2, ld-musl...
    if not data.startswith(b"\x7fELF") or not found:
        return None
    loader = found.group()[:-1]
    bad = loader[:-1] + (b"X" if loader[-1:] != b"X" else b"Y")
    path = tmp_path / "elf-missing-loader"
    path.write_bytes(data.replace(loader + b"\0", bad + b"\0", 1))
    path.chmod(0o755)
    return path, bad


def _script(tmp_path, name, content, mode=0o755):
    path = tmp_path / name
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("form", ["script", "python -m"])
def test_exec_errors_name_what_failed(forms, form, tmp_path):
    """#! with a CR, a missing or unusable interpreter, a missing dynamic loader: 127/126, as bash and dash."""
    base = tool(forms, form)
    block = [PATH] + ([b"PYTHONPATH=" + os.fsencode(REPO)] if form == "python -m" else [])
    data = tmp_path / "data"
    data.write_text("not a program\n")
    cases = [
        (_script(tmp_path, "crlf", b"#!/bin/sh\r\necho hi\r\n"), 127, ["/bin/sh\\r", "carriage return"]),
        (_script(tmp_path, "missing", b"#!/no/such/interpreter -x\necho hi\n"), 127,
         ["/no/such/interpreter", "not found"]),
        (_script(tmp_path, "unusable", b"#!" + os.fsencode(data) + b"\n"), 126,
         [str(data), "permission denied"]),
    ]
    elf = _elf_with_missing_loader(tmp_path)
    if elf:
        cases.append((elf[0], 127, [elf[1].decode(), "dynamic loader", "missing"]))
    for path, status, needles in cases:
        proc = launch_with(block, base + ["--", str(path)])
        message = proc.stderr.decode()
        assert proc.returncode == status, (path.name, message)
        assert message.startswith(f"cgroupsize: {path}: ") and message.count("\n") == 1, message
        assert all(n in message for n in needles), (path.name, message)
    assert elf, "no dynamically linked true(1) to make a binary with a missing loader from"


def _no_shell_reason():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare(1) to hide /bin/sh in a private mount namespace"
    real = os.path.realpath(sys.executable)
    if real.startswith(("/usr/bin/", "/bin/")):
        return f"the interpreter ({real}) lives where the test hides /bin/sh"
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    return None if proc.returncode == 0 else f"unshare --mount failed: {proc.stderr.decode().strip()}"


@pytest.mark.skipif(_no_shell_reason() is not None, reason=_no_shell_reason() or "")
@pytest.mark.parametrize("form", ["script", "python -m"])
def test_script_without_shebang_and_no_shell_is_126(forms, form, tmp_path):
    """distroless: the file exists but there is no /bin/sh to run it as a script (was: 'command not found', 127)."""
    script = _script(tmp_path, "noshebang", b"echo hi\n")
    hide = " && ".join(f"mount -t tmpfs -o size=1m tmpfs {d}" for d in ("/bin", "/usr/bin")
                       if not os.path.islink(d))
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           hide + ' && test ! -e /bin/sh && exec "$@"', "sh"]
                          + tool(forms, form) + ["--", str(script)],
                          capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert proc.returncode == 126, proc.stderr
    assert proc.stderr == f"cgroupsize: {script}: cannot execute: it has no #! line and there is no /bin/sh " \
                          "to run it as a script\n"


@pytest.mark.skipif(_no_shell_reason() is not None, reason=_no_shell_reason() or "")
def test_without_proc_the_tool_says_so(forms, tmp_path):
    """/proc unmounted: the environment comes from os.environ, and a warning says so; the command runs."""
    env = dict(os.environ, PYTHONPATH=REPO, CGROUPSIZE_DISABLE="1", CGS_PROBE="kept")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'umount -l /proc && test ! -e /proc/self && exec "$@"', "sh"]
                          + tool(forms, "python -m") + ["--", "/bin/sh", "-c", 'printf "%s" "$CGS_PROBE"'],
                          capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert proc.returncode == 0 and proc.stdout == "kept", proc.stderr
    assert proc.stderr == ("cgroupsize: warning: /proc/self/environ is unreadable: the command gets the "
                           "environment as Python saw it\n")


# -- in-process: how the block is changed -----------------------------------------------------------------


@pytest.fixture
def block(monkeypatch, tmp_path):
    """Make ``/proc/self/environ`` read as this process's environment plus ``extra`` entries."""
    def make(*extra):
        path = tmp_path / "environ"
        path.write_bytes(b"".join(k + b"=" + v + b"\0" for k, v in os.environb.items()) + b"".join(
            e + b"\0" for e in extra))
        monkeypatch.setattr(launch, "ENVIRON_FILE", str(path))
    return make


def test_set_variable_replaces_its_first_entry_and_drops_the_others(block, monkeypatch):
    monkeypatch.setenv("CGS_DUP", "1")
    monkeypatch.setenv("CGS_KEEP", "x")
    block(b"CGS_DUP=2")
    got = launch.environment_for({"CGS_DUP": "ours 1"}).entries
    assert [e for e in got if e.startswith(b"CGS_")] == [b"CGS_DUP=ours 1", b"CGS_KEEP=x"]
    assert got.count(b"CGS_DUP=ours 1") == 1


def test_a_whole_copy_of_os_environ_adds_nothing(block, monkeypatch):
    monkeypatch.setenv("CGS_DUP", "1")  # os.environ has the first of two, as after a real start
    block(b"CGS_DUP=1", b"CGS_DUP=2", b"NOEQ")
    before = launch.environment_for(None).entries
    assert launch.environment_for(dict(os.environ)).entries == before
    assert before[-3:] == [b"CGS_DUP=1", b"CGS_DUP=2", b"NOEQ"]


def test_pep538_lc_ctype_is_not_passed_on(block, monkeypatch):
    monkeypatch.delenv("LC_CTYPE", raising=False)
    block()
    monkeypatch.setenv("LC_CTYPE", "C.UTF-8")  # what CPython's coercion does at start-up
    assert not any(e.startswith(b"LC_CTYPE=") for e in launch.environment_for(dict(os.environ)).entries)


def test_changes_made_in_process_are_kept(block, monkeypatch):
    monkeypatch.setenv("CGS_GONE", "1")
    block()
    monkeypatch.delenv("CGS_GONE")
    monkeypatch.setenv("CGS_NEW", "2")
    got = launch.environment_for(None)
    assert b"CGS_NEW=2" in got.entries and not any(e.startswith(b"CGS_GONE=") for e in got.entries)
    assert got["CGS_NEW"] == "2"


def test_without_proc_the_environment_is_pythons(monkeypatch, tmp_path):
    monkeypatch.setattr(launch, "ENVIRON_FILE", str(tmp_path / "absent"))
    env = launch.environment_for({"CGS_X": "1"})
    assert not env.received and env["CGS_X"] == "1" and env.plain


@pytest.mark.parametrize("setenv, extra, plain", [
    ({}, (), True),
    ({"CGS_A": "1"}, (b"CGS_A=2",), False),  # os.environ holds the first of the two
    ({}, (b"NOEQ",), False),
    ({}, (b"=x",), False),
    ({}, (b"",), False),
    ({"CGS_B": os.fsdecode(b"\xff")}, (), True),  # not UTF-8: os.execve takes bytes
], ids=["usual", "duplicate", "no '='", "empty name", "empty entry", "bytes"])
def test_only_odd_blocks_need_libc_execve(block, monkeypatch, setenv, extra, plain):
    for name, value in setenv.items():
        monkeypatch.setenv(name, value)
    block(*extra)
    env = launch.environment_for(None)
    assert env.plain is plain
    assert env.entries[len(env.entries) - len(extra):] == list(extra)


# -- cgroupsize in front of cgroupsize ------------------------------------------------------------------


@pytest.mark.parametrize("outer, inner", [
    ("script", "by name on PATH"), ("script", "python -I -m cgroupsize"), ("script", "another name, same script"),
    ("python -m", "by name on PATH"), ("python -m", "python -I -m cgroupsize")])
def test_cgroupsize_in_front_of_cgroupsize_adds_nothing(forms, outer, inner, tmp_path):
    """ENTRYPOINT ["tini", "--", "cgroupsize", "--"] + ``docker run IMAGE cgroupsize --dry-run -- CMD``.

    The outer run must add nothing: the inner one then plans CONTAINER_CPU_COUNT
    itself instead of leaving it alone as "set by the user".
    """
    script, why = forms["script"]
    if script is None:
        pytest.skip(why)
    outer_argv = tool(forms, outer)
    if inner == "another name, same script":  # recognised by the script itself (its own path)
        (tmp_path / "sizer").symlink_to(script[0])
        inner_argv = [str(tmp_path / "sizer")]
    elif inner == "by name on PATH":
        inner_argv = ["cgroupsize"]
    else:
        inner_argv = [sys.executable, "-I", "-m", "cgroupsize"]
    path = os.path.dirname(script[0]) + ":/usr/bin:/bin"
    block = [b"PATH=" + path.encode(), b"LANG=C.UTF-8"] + (
        [b"PYTHONPATH=" + os.fsencode(REPO)] if outer == "python -m" else [])
    proc = launch_with(block, outer_argv + ["--"] + inner_argv + ["--dry-run", "--json", "--", "/bin/true"])
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert "CONTAINER_CPU_COUNT" in plan["env"], plan["notes"]


# -- output: closed pipes, full disks, closed stdout; completion ---------------------------------------------

OUTPUTS = [["--print"], ["--print", "--json"], ["--help"], ["--version"], ["--dry-run", "--", "/bin/true"]]


@pytest.mark.parametrize("form", ["script", "python -m"])
@pytest.mark.parametrize("args", OUTPUTS, ids=lambda a: " ".join(a))
def test_output_into_a_closed_pipe_full_disk_or_closed_stdout(forms, form, args):
    """``cgroupsize --print | head -0``: 141 and nothing on stderr. /dev/full or ``>&-``: 1 and one line."""
    argv = tool(forms, form) + args
    env = dict(os.environ, PYTHONPATH=REPO)
    r, w = os.pipe()
    os.close(r)
    try:
        piped = subprocess.run(argv, stdout=w, stderr=subprocess.PIPE, text=True, timeout=60, env=env, cwd="/")
    finally:
        os.close(w)
    assert (piped.returncode, piped.stderr) == (141, "")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, env=env, cwd="/")
    assert proc.returncode == 1
    assert proc.stderr == "cgroupsize: cannot write to standard output: No space left on device\n"
    proc = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh"] + argv, stderr=subprocess.PIPE, text=True,
                          timeout=60, env=env, cwd="/")
    assert proc.returncode == 1
    assert proc.stderr == "cgroupsize: cannot write to standard output: standard output is closed\n"


@pytest.mark.parametrize("form", ["script", "python -m"])
def test_completion_only_without_arguments(forms, form):
    """A leftover _CGROUPSIZE_COMPLETE must not turn ``cgroupsize -v -- CMD`` into a completion script."""
    env = dict(os.environ, PYTHONPATH=REPO, _CGROUPSIZE_COMPLETE="bash_source")
    proc = subprocess.run(tool(forms, form) + ["-v", "--", "/bin/sh", "-c", "echo ran"], capture_output=True,
                          text=True, timeout=60, env=env, cwd="/")
    assert (proc.returncode, proc.stdout) == (0, "ran\n"), proc.stderr
    proc = subprocess.run(tool(forms, form), capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert proc.returncode == 0 and "_cgroupsize_completion" in proc.stdout, proc.stderr


# -- --skip names are checked -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, close", [("ActiveProcesorCount", "ActiveProcessorCount"), ("-Xmx242m", "Xmx"),
                                          ("Xmx=1g", "Xmx"), ("MALLOC_ARENA_MAXX", "MALLOC_ARENA_MAX"),
                                          ("no-such-knob", None)])
@pytest.mark.parametrize("how", ["variable", "option"])
def test_unknown_skip_name_is_a_usage_error(forms, value, close, how):
    """A typo must not silently leave a runtime sized: exit 2, one line, the close matches."""
    env = dict(os.environ, PYTHONPATH=REPO)
    args = ["--", "/bin/true"]
    if how == "variable":
        env["CGROUPSIZE_SKIP"] = f"Xmx,{value}"
    else:
        args = [f"--skip=Xmx,{value}"] + args
    proc = subprocess.run(tool(forms, "python -m") + args, capture_output=True, text=True, timeout=60, env=env,
                          cwd="/")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and ("CGROUPSIZE_SKIP" if how == "variable" else "--skip") in lines[0], proc.stderr
    if close:
        assert f"{value} (did you mean {close}" in lines[0], lines
    else:
        assert value in lines[0] and "did you mean" not in lines[0], lines


def test_known_skip_names_in_every_spelling_are_accepted(forms):
    names = "-XX:ActiveProcessorCount, xmx --max_old_space_size,MALLOC_ARENA_MAX CONTAINER_CPU_COUNT"
    env = dict(os.environ, PYTHONPATH=REPO, CGROUPSIZE_SKIP=names)
    proc = subprocess.run(tool(forms, "python -m") + ["--", "/bin/true"], capture_output=True, text=True,
                          timeout=60, env=env, cwd="/")
    assert (proc.returncode, proc.stderr) == (0, "")


# -- hostile input: bounded (figures: benchmarks/startup.py --only hostile) ---------------------------------


def _scale_fixture():
    from benchmarks import scale_fixture

    return scale_fixture


def test_cgroup_mount_flood_keeps_the_answer(tmp_path):
    """50,000 other cgroup2 mounts after ours (not under /sys/fs/cgroup): the same limits, from the same files."""
    from cgroupsize.cgroups.detect import read_limits

    root = str(tmp_path / "root")
    expected = _scale_fixture().write(root, "v2", "small")
    before = read_limits(root)
    with open(os.path.join(root, "proc/self/mountinfo"), "a") as f:
        for i in range(50_000):
            f.write(f"{1000 + i} 30 0:{40 + i % 90} /pod{i} /host/ctr{i}/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    after = read_limits(root)
    assert after.memory.limit.value == before.memory.limit.value == expected["memory"]
    assert after.memory.limit.source == before.memory.limit.source == expected["memory_source"]
    assert after.cpu.count == before.cpu.count == expected["cpu_count"]


@pytest.mark.parametrize("content", ["one path", "many lines"])
def test_oversized_proc_self_cgroup_is_ignored_with_a_notice(tmp_path, content):
    """A /proc/self/cgroup no kernel writes (18 MB in the benchmark): a notice, the mount roots, no crash."""
    from cgroupsize.cgroups.detect import read_limits

    root = str(tmp_path / "root")
    _scale_fixture().write(root, "v2", "small")
    with open(os.path.join(root, "proc/self/cgroup"), "w") as f:
        if content == "one path":
            f.write("0::/" + "x/" * (200 << 10) + "\n")  # 400 KiB
        else:
            f.write("".join(f"{i + 1}:name=h{i}:/{'k' * 16}\n" for i in range(20_000)) + "0::/\n")
    codes = [n.code for n in read_limits(root).notices]
    assert "MALFORMED" in codes and "NO_CGROUP" in codes, codes


def test_cgroup_path_longer_than_path_max_is_not_walked(tmp_path):
    """Under the size cap but longer than the kernel can print: skipped (its 100,000 levels are not walked)."""
    from cgroupsize.cgroups import proccgroup

    assert proccgroup.parse("0::/" + "x/" * 100_000 + "\n") == (None, {})
    assert proccgroup.parse("0::/a/b\n") == ("/a/b", {})


# -- --root DIR: symlinks resolve inside DIR ----------------------------------------------------------------


def test_root_symlinks_resolve_inside_the_root(tmp_path):
    """As in the container: an absolute link starts again at DIR, ``..`` stops at it; never the machine's files."""
    from cgroupsize.cgroups.detect import read_limits

    root = tmp_path / "root"
    expected = _scale_fixture().write(str(root), "v2", "small")
    meminfo = root / "proc" / "meminfo"
    (root / "data").mkdir()
    os.replace(meminfo, root / "data" / "meminfo")
    meminfo.symlink_to("/data/meminfo")  # absolute: the root's /data, not the machine's
    status = root / "proc" / "self" / "status"
    status.unlink()
    status.symlink_to("../../../../../../../../../proc/self/status")  # climbs to the root's /proc/self/status
    limits = read_limits(str(root))
    with open(root / "data" / "meminfo") as f:
        total_kb = int(f.read().split()[1])
    assert limits.memory.host.value == total_kb * 1024  # the root's figure, through the absolute link
    assert limits.memory.limit.value == expected["memory"]
    assert any(n.code == "UNREADABLE" and "status" in n.message for n in limits.notices), limits.notices


def test_root_symlink_to_the_machine_is_not_followed(tmp_path):
    """A fixture whose /proc/meminfo links to /proc/meminfo: a loop inside the root, never the host's file."""
    from cgroupsize.files import Files

    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "meminfo").symlink_to("/proc/meminfo")
    (root / "etc").symlink_to("/etc")
    files = Files(str(root))
    assert files.read("/proc/meminfo") is None and files.read("/etc/hostname") is None
    # Inside the root each link points at itself: a loop (ELOOP), where the machine's files were read before.
    assert [n.code for n in files.notices] == ["UNREADABLE", "UNREADABLE"], files.notices
    assert all("symbolic links" in n.message for n in files.notices), files.notices


# -- a value the tool cannot use: that part is skipped, never quoted --------------------------------------------

ODD_VALUES = {
    # id: (argv, variables); the value must appear in no message
    "gunicorn -w '¹²³'": (["gunicorn", "-w", "¹²³", "app:app"], {}),
    "WEB_CONCURRENCY='²'": (["gunicorn", "app:app"], {"WEB_CONCURRENCY": "²"}),
    "JAVA_TOOL_OPTIONS not UTF-8, java started by a script": (
        ["run-app"], {"JAVA_TOOL_OPTIONS": os.fsdecode(b"-Dx=\xff\xfe"), "CGROUPSIZE_RUNTIME": "jvm"}),
    "NODE_OPTIONS not UTF-8": (["node", "server.js"], {"NODE_OPTIONS": os.fsdecode(b"--title=\xff")}),
}


@pytest.mark.parametrize("row", list(ODD_VALUES))
def test_odd_values_keep_the_plan_and_are_never_quoted(forms, row, tmp_path):
    """The command runs with the CONTAINER_* variables at least; no message quotes the odd value."""
    argv, variables = ODD_VALUES[row]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / argv[0]).write_text("#!/bin/sh\ncat /proc/self/environ\n")
    (bindir / argv[0]).chmod(0o755)
    env = dict(os.environ, PYTHONPATH=REPO, PATH=f"{bindir}:{os.environ['PATH']}", CGROUPSIZE_MEMORY_LIMIT="1Gi",
               **variables)
    proc = subprocess.run(tool(forms, "python -m") + ["-vv", "--"] + argv, capture_output=True, timeout=60,
                          env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert b"CONTAINER_MEMORY_LIMIT=1073741824" in proc.stdout.split(b"\0")
    odd = [os.fsencode(v) for v in variables.values() if not v.isascii()] + [
        a.encode() for a in argv if not a.isascii()]
    for value in odd:
        assert value not in proc.stderr, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_a_planning_failure_keeps_the_generic_variables_and_quotes_nothing(monkeypatch, capsys):
    """A runtime's plan that raises (a value it could not parse): generic variables still set, no value shown."""
    from cgroupsize import cli
    from cgroupsize.runtimes import go

    def broken(p, target, limits):
        int("SECRET-VALUE-42x")

    monkeypatch.setattr(go, "plan", broken)
    execs = []
    monkeypatch.setattr(launch, "_execve", lambda path, argv, env: execs.append((argv, dict(env))))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--runtime", "go", "--", "/bin/true"])
    assert exit_.value.code == 0
    (argv, env), = execs
    assert argv == ["/bin/true"] and "CONTAINER_CPU_COUNT" in env
    err = capsys.readouterr().err
    assert "SECRET-VALUE" not in err and "ValueError at test_transparency.py:" in err, err
