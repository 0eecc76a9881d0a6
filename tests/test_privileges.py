"""Privileges, read-only filesystems and exit status as a container sees it.

The tool must work as a non-root user, with a read-only root filesystem, no
``HOME``, no writable ``/tmp`` and under ``PYTHONDONTWRITEBYTECODE``; and the
exit status of the command it execs -- including ``128 + signal`` -- must be
what the container reports.

Unprivileged runs use a private mount namespace (``unshare --mount``), where
``/tmp`` and this checkout are made read-only, the interpreter is made
reachable for uid 65534 when it lives under a 0700 directory (pyenv in
``/root``), and the user is dropped with ``setpriv`` or ``runuser`` and an
empty environment (``env -i``: no ``HOME``). The mount namespace ends with
the process; nothing on the host changes. The read-only root filesystem is a
real one: a runc container (``tests/support/runc.py``) with ``root.readonly``
and, in the variant below, no ``/tmp`` mount at all.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from tests.support import MiB, REPO, TOOL
from tests.support import runc as harness

NOBODY = 65534
PATH = f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def _unshare_reason():
    if os.geteuid() != 0:
        return "needs root to make a mount namespace and drop privileges"
    for tool in ("unshare", "setpriv"):
        if shutil.which(tool) is None:
            return f"needs {tool}(1) (util-linux)"
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if proc.returncode != 0:
        return f"unshare --mount failed: {proc.stderr.decode(errors='replace').strip()}"
    return None


UNSHARE_SKIP = _unshare_reason()
needs_unshare = pytest.mark.skipif(UNSHARE_SKIP is not None, reason=UNSHARE_SKIP or "")


def _hidden_ancestor(path):
    """The outermost ancestor of ``path`` that others cannot enter (``/root`` is 0700), or None."""
    parts = os.path.realpath(path).split("/")[1:]
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return d
    return None


def _outermost(paths):
    """``paths`` without those inside another one of them (a bind mount carries its subtree)."""
    paths = sorted(set(paths))
    return [p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)]


def run_unprivileged(argv, *, env=None, user="setpriv", ro_tmp=True, readonly=(REPO,), timeout=60,
                     input=None):
    """Run ``argv`` as uid/gid 65534 with no supplementary groups and only ``env``.

    ``env`` defaults to PATH, PYTHONPATH (this checkout) and
    PYTHONDONTWRITEBYTECODE: no HOME, no TMPDIR, no USER. With ``ro_tmp``,
    ``/tmp`` is an empty read-only tmpfs; every path in ``readonly`` is
    remounted read-only.
    """
    if env is None:
        env = {"PATH": PATH, "PYTHONPATH": REPO, "PYTHONDONTWRITEBYTECODE": "1"}
    # The interpreter's prefix (pyenv: under the 0700 /root), the virtualenv
    # and this checkout (CI clones into a 0700 mktemp directory; a newcomer
    # may have both under /tmp) must stay reachable for uid 65534 and survive
    # the empty /tmp: bind each aside, cover its hidden ancestor with a 0755
    # tmpfs, and put it back at its own path.
    keep = []
    for path in _outermost(os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, REPO)):
        hidden = _hidden_ancestor(path)
        if hidden or (ro_tmp and path.startswith("/tmp/")):
            keep.append((path, hidden))
    spare = "/dev/shm" if os.path.isdir("/dev/shm") else None  # not under /tmp, which may be covered
    stashes = [tempfile.mkdtemp(prefix="cgroupsize-priv-", dir=spare) for _ in keep]
    q = shlex.quote
    lines = ["set -e", "umask 022"]
    for (path, _), stash in zip(keep, stashes, strict=True):
        lines.append(f"mount --bind {q(path)} {q(stash)}")
    for hidden in dict.fromkeys(h for _, h in keep if h):
        if not (ro_tmp and (hidden + "/").startswith("/tmp/")):
            lines.append(f"mount -t tmpfs -o mode=755,size=1m tmpfs {q(hidden)}")
    if ro_tmp:  # an empty /tmp, made read-only once what must live in it is back
        lines.append("mount -t tmpfs -o mode=1777,size=1m tmpfs /tmp")
    for (path, _), stash in zip(keep, stashes, strict=True):
        lines += [f"mkdir -p {q(path)}", f"mount --move {q(stash)} {q(path)}"]
    if ro_tmp:
        lines.append("mount -o remount,ro /tmp")
    for d in readonly:
        lines += [f"mount --bind {q(d)} {q(d)}", f"mount -o remount,bind,ro {q(d)}"]
    envs = " ".join(q(f"{k}={v}") for k, v in env.items())
    if user == "setpriv":
        drop = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups --"
    elif user == "runuser":
        drop = "runuser -u nobody --"
    else:  # pragma: no cover
        raise ValueError(user)
    lines.append(f'exec {drop} env -i {envs} "$@"')
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines),
                               "sh"] + list(argv), capture_output=True, text=True, timeout=timeout, cwd="/",
                              input=input)
    finally:
        for stash in stashes:
            os.rmdir(stash)


# -- non-root, no HOME, read-only /tmp and checkout ----------------------------------------------


@needs_unshare
@pytest.mark.parametrize("user", ["setpriv", "runuser"])
def test_entrypoint_as_nobody_with_nothing_writable(user):
    if user == "runuser" and shutil.which("runuser") is None:
        pytest.skip("no runuser(1)")
    probe = ("import os, sys; print(os.getuid(), os.getgid(), os.getgroups(), 'HOME' in os.environ, "
             "os.access('/tmp', os.W_OK), os.access(sys.argv[1], os.W_OK))")
    proc = run_unprivileged(TOOL + ["--", sys.executable, "-c", probe, REPO], user=user)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # The command ran as nobody, with no HOME, nothing writable where we looked.
    groups = "[]" if user == "setpriv" else f"[{NOBODY}]"  # runuser initgroups(3) nogroup
    assert proc.stdout.split("\n")[0] == f"{NOBODY} {NOBODY} {groups} False False False", proc.stdout


@needs_unshare
def test_print_and_dry_run_as_nobody():
    proc = run_unprivileged(TOOL + ["--print", "--json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["cpu"]["count"] >= 1
    assert data["memory"]["state"] in ("limited", "unlimited")  # the cgroupfs is world-readable
    assert "UNREADABLE" not in data["notice_codes"], data["notices"]
    proc = run_unprivileged(TOOL + ["--print"])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    proc = run_unprivileged(TOOL + ["-vv", "--dry-run", "--", "true"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


@needs_unshare
def test_usage_error_as_nobody_is_one_line():
    proc = run_unprivileged(TOOL + ["--memory-limit", "lots", "--", "true"])
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "--memory-limit" in proc.stderr, proc.stderr


@needs_unshare
def test_writes_nothing(tmp_path):
    """No file appears anywhere the tool could write: a copy of the package, not read-only, stays clean.

    Only ``PYTHONDONTWRITEBYTECODE`` stands between Python itself and
    ``__pycache__``; the tool adds nothing of its own (no cache, no state, no log).
    """
    top = tempfile.mkdtemp(prefix="cgroupsize-writes-")
    try:
        shutil.copytree(os.path.join(REPO, "cgroupsize"), os.path.join(top, "cgroupsize"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for d, _subs, files in os.walk(top):
            os.chmod(d, 0o777)  # writable by nobody on purpose
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        before = sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)
        env = {"PATH": PATH, "PYTHONPATH": top, "PYTHONDONTWRITEBYTECODE": "1", "HOME": top, "TMPDIR": top}
        for args in (["--", "true"], ["--print"], ["--print", "--json"], ["-v", "--", "true"],
                     ["--dry-run", "--json", "--", "true"]):
            proc = run_unprivileged(TOOL + args, env=env, readonly=(), ro_tmp=False)
            assert "Traceback" not in proc.stderr, (args, proc.stderr)
        after = sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)
        assert after == before
    finally:
        shutil.rmtree(top)


# -- no network, no helper process ----------------------------------------------------------------


def _strace_reason():
    if shutil.which("strace") is None:
        return "needs strace(1)"
    proc = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "true"], capture_output=True)
    return None if proc.returncode == 0 else f"strace cannot trace here: {proc.stderr.decode(errors='replace')}"


STRACE_SKIP = _strace_reason()


@pytest.mark.skipif(STRACE_SKIP is not None, reason=STRACE_SKIP or "")
@pytest.mark.parametrize("args", [
    ["--", "true"],
    ["--print"],
    ["--print", "--json"],
    ["-vv", "--", "true"],
    ["--dry-run", "--", "java", "-jar", "app.jar"],
    ["--dry-run", "--json", "--", "node", "server.js"],
    ["--dry-run", "--", "python3", "app.py"],
], ids=lambda a: " ".join(a))
def test_never_opens_the_network_nor_spawns(args, tmp_path):
    """Traced system calls: no socket of any kind, no fork/clone; one execve (the command's) at most."""
    trace = tmp_path / "trace"
    proc = subprocess.run(["strace", "-f", "-qq", "-o", str(trace),
                           "-e", "trace=%network,fork,vfork,clone,clone3,execve"] + TOOL + args,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr
    calls = [line for line in trace.read_text().splitlines() if "--- SIG" not in line and "+++" not in line]
    execs = [c for c in calls if "execve(" in c]
    others = [c for c in calls if "execve(" not in c]
    assert others == [], others
    assert len(execs) <= 2, execs  # python itself, then the command


# -- exit status: the command's, including 128 + signal ------------------------------------------


# Puts SIGINT and SIGQUIT back to their default before running the rest of argv. A parent
# that ignores them (a background job, nohup-style CI runners) passes the ignore on, and a
# shell cannot undo an ignore it inherited (POSIX "trap"): without this, "kill -INT $$"
# would do nothing there and the test would measure the runner, not the tool.
DEFAULT_SIGINT = [sys.executable, "-c", "import os, signal, sys\n"
                  "for s in (signal.SIGINT, signal.SIGQUIT):\n    signal.signal(s, signal.SIG_DFL)\n"
                  "os.execvp(sys.argv[1], sys.argv[1:])"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_shell_sees_128_plus_signal(sig):
    """``sh -c 'cgroupsize -- sh -c "kill -TERM \\$\\$"; echo $?'`` prints 143."""
    tool = " ".join(shlex.quote(a) for a in TOOL)
    script = f'{tool} -- sh -c "kill -{sig.name[3:]} \\$\\$"; echo $?'
    proc = subprocess.run(DEFAULT_SIGINT + ["sh", "-c", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.stdout.strip() == str(128 + sig), (proc.stdout, proc.stderr)


def test_parent_sees_death_by_signal():
    """The exec'd process dies of the signal itself (WIFSIGNALED), not an exit(143) of ours."""
    proc = subprocess.run(TOOL + ["--", "sh", "-c", "kill -TERM $$"], capture_output=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == -signal.SIGTERM, proc.stderr


def test_sigterm_before_exec_is_not_swallowed():
    """A SIGTERM that arrives while the tool itself is still running ends it by that signal."""
    child = subprocess.Popen(TOOL + ["--", "sleep", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, PYTHONPATH=REPO))
    try:
        child.send_signal(signal.SIGTERM)  # at once: Python is most likely still starting
        assert child.wait(timeout=30) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# -- a real container: read-only root, no /tmp, uid 65534, PID 1 -------------------------------------

runc_harness = harness.runc_harness  # the fixture
RUNC_SKIP = harness.skip_reason()
CONTAINER_TOOL = ["python3", "-m", "cgroupsize"]


def _strip_tmp(h, monkeypatch):
    """Bundles without the /tmp tmpfs: the read-only rootfs's empty /tmp remains, unwritable.

    HOME is set to nobody's ``/nonexistent``: runc puts HOME back from the
    container's passwd (or ``/``) when the config has none, so "no HOME"
    is tested with ``env -i`` above.
    """
    real_bundle = h.bundle

    def bundle(name, args, **kw):
        path = real_bundle(name, args, **kw)
        config_path = path / "config.json"
        config = json.loads(config_path.read_text())
        config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/tmp"]
        config["process"]["env"] = [e for e in config["process"]["env"] if not e.startswith("HOME=")] + [
            "HOME=/nonexistent"]
        assert config["root"]["readonly"] is True
        config_path.write_text(json.dumps(config, indent=2))
        return path

    monkeypatch.setattr(h, "bundle", bundle)


@pytest.mark.runc
@pytest.mark.skipif(RUNC_SKIP is not None, reason=RUNC_SKIP or "")
@pytest.mark.parametrize("uid", [NOBODY, 0])
def test_container_read_only_root_no_tmp(runc_harness, monkeypatch, uid):
    _strip_tmp(runc_harness, monkeypatch)
    probe = ("import os; print(os.getuid(), os.environ['HOME'], os.access('/tmp', os.W_OK), "
             "os.access('/', os.W_OK), os.environ.get('CONTAINER_MEMORY_LIMIT'))")
    r = runc_harness.run(CONTAINER_TOOL + ["--", "python3", "-c", probe], memory=256 * MiB, uid=uid, gid=uid)
    assert r.returncode == 0, str(r)
    assert "Traceback" not in r.stderr, str(r)
    uid_s, home, tmp_w, root_w, exported = r.stdout.split()
    assert (uid_s, home, tmp_w, root_w) == (str(uid), "/nonexistent", "False", "False"), str(r)
    r = runc_harness.run(CONTAINER_TOOL + ["--print", "--json"], memory=256 * MiB, uid=uid, gid=uid)
    assert r.returncode == 0, str(r)
    d = r.json()
    assert d["memory"]["limit"] == 256 * MiB and d["memory"]["state"] == "limited", str(r)


@pytest.mark.runc
@pytest.mark.skipif(RUNC_SKIP is not None, reason=RUNC_SKIP or "")
def test_container_exit_status_is_128_plus_signal_under_tini(runc_harness):
    """ENTRYPOINT ["tini", "--", "cgroupsize", "--"]: the command dies of SIGTERM, the container exits 143."""
    if shutil.which("tini") is None:
        pytest.skip("tini is not installed (apt-get install tini)")
    r = runc_harness.run(["tini", "--"] + CONTAINER_TOOL + ["--", "sh", "-c", "kill -TERM $$"], memory=256 * MiB)
    assert r.returncode == 128 + signal.SIGTERM, str(r)
    assert "Traceback" not in r.stderr, str(r)


@pytest.mark.runc
@pytest.mark.skipif(RUNC_SKIP is not None, reason=RUNC_SKIP or "")
def test_container_pid_1_gets_the_signal_and_its_status_is_the_containers(runc_harness, monkeypatch):
    """No init: the command is PID 1, ``runc kill`` reaches it directly and the container reports 128+sig.

    A PID 1 ignores signals it has no handler for (pid_namespaces(7)), so the
    command installs one for SIGTERM and exits with 128+15 from it, as a
    well-behaved server does; SIGKILL needs no handler (137).
    """
    names = []
    real_new_name = runc_harness.new_name

    def new_name():
        names.append(real_new_name())
        return names[-1]

    monkeypatch.setattr(runc_harness, "new_name", new_name)
    results = {}

    def handles(pid, sig):
        """Whether ``pid`` is ready for ``sig``: in its loop (it has started a ``sleep``, so its
        ``echo $$`` is written) and, for SIGTERM, with its ``trap`` set -- a PID 1 ignores a signal
        it set no handler for (SIGKILL needs none)."""
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                if not f.read().split():
                    return False
            with open(f"/proc/{pid}/status") as f:
                caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
        except (OSError, StopIteration, ValueError):
            return False
        return sig == "KILL" or bool(caught >> (getattr(signal, "SIG" + sig) - 1) & 1)

    def kill_when_running(sig, marker):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if names:
                st = subprocess.run(runc_harness._runc("state", names[-1]), capture_output=True, text=True)
                if st.returncode == 0 and json.loads(st.stdout).get("status") == "running":
                    pid = json.loads(st.stdout)["pid"]
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            cmdline = f.read()
                    except OSError:
                        cmdline = b""
                    if cmdline.startswith(b"sh\0") and marker in cmdline and handles(pid, sig):
                        results["pid"] = pid  # cgroupsize has exec'd sh, and sh has set its trap
                        subprocess.run(runc_harness._runc("kill", names[-1], sig), capture_output=True)
                        return
            time.sleep(0.05)

    script = 'trap "exit 143" TERM; echo $$; while :; do sleep 0.1; done # marker-term'
    t = threading.Thread(target=kill_when_running, args=("TERM", b"marker-term"))
    t.start()
    r = runc_harness.run(CONTAINER_TOOL + ["--", "sh", "-c", script], memory=256 * MiB, timeout=60)
    t.join()
    assert "pid" in results, str(r)
    assert r.stdout.strip() == "1", str(r)  # the command is PID 1: no wrapper process
    assert r.returncode == 143 and not r.timed_out, str(r)

    script = "echo $$; while :; do sleep 0.1; done # marker-kill"
    t = threading.Thread(target=kill_when_running, args=("KILL", b"marker-kill"))
    t.start()
    r = runc_harness.run(CONTAINER_TOOL + ["--", "sh", "-c", script], memory=256 * MiB, timeout=60)
    t.join()
    assert r.stdout.strip() == "1", str(r)
    assert r.returncode == 128 + signal.SIGKILL and not r.timed_out, str(r)
