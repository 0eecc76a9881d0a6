"""The command line: both doors, exit codes, exec behaviour, signals.

Exec is tested two ways: in-process with ``launch._execve`` replaced by a
recorder (what would be exec'd), and end to end in real subprocesses (what
the kernel and the exec'd program see).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from cgroupsize import cli
from tests.support import TOOL

FIXTURE_512 = os.path.join(os.path.dirname(__file__), "fixtures", "cli", "v2-512m")


def run_tool(*args, env=None, **kw):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(TOOL + list(args), capture_output=True, text=True, env=full_env, timeout=60, **kw)


def call_main(argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code


# -- the fast door ------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["true"], ["--", "true"], ["--", "true", "--print"]])
def test_fast_path_execs_the_command(execs, argv):
    assert call_main(argv) == 0
    (path, exec_argv, _env), = execs
    assert os.path.basename(path) == "true"
    assert exec_argv[0] == "true" and exec_argv[-1] == argv[-1]


def test_fast_path_imports_nothing_heavy():
    """The entrypoint path imports neither click nor psutil (nor json, subprocess...)."""
    probe = textwrap.dedent("""
        import sys
        from cgroupsize import cli, launch
        def fake(path, argv, env):
            sys.stdout.write(" ".join(sorted(sys.modules)))
        launch._execve = fake
        before = set(sys.modules)
        try:
            cli.main(["--", "true"])
        except SystemExit:
            pass
    """)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CGROUPSIZE_VERBOSE": "0"})
    loaded = set(proc.stdout.split())
    assert "cgroupsize.cgroups.detect" in loaded, proc.stderr  # the path really ran
    forbidden = {"click", "psutil", "subprocess", "json", "logging", "importlib.metadata", "dataclasses"}
    assert not forbidden & loaded, sorted(forbidden & loaded)


def test_disable_execs_unchanged(execs):
    os.environ["CGROUPSIZE_DISABLE"] = "1"
    try:
        assert call_main(["--", "java", "-version"]) in (0, 127)
    finally:
        del os.environ["CGROUPSIZE_DISABLE"]
    if execs:
        assert execs[0][1] == ["java", "-version"]


# -- usage errors: one line, exit 2 ------------------------------------------------------


@pytest.mark.parametrize(
    "args, env, needle",
    [
        (["--typo", "true"], {}, "--typo"),
        (["--dry-run"], {}, "missing command"),
        ([], {}, None),
        (["--memory-limit", "lots", "--dry-run", "true"], {}, "--memory-limit"),
        (["--memory-limit", "512m", "--dry-run", "true"], {}, "milli"),
        (["--cpu-limit", "-1", "--dry-run", "true"], {}, "--cpu-limit"),
        (["--runtime", "cobol", "--dry-run", "true"], {}, "--runtime"),
        (["true"], {"CGROUPSIZE_MEMORY_LIMIT": "12 parsecs"}, "CGROUPSIZE_MEMORY_LIMIT"),
        (["true"], {"CGROUPSIZE_STRICT": "maybe"}, "CGROUPSIZE_STRICT"),
        (["--print", "true"], {}, "--print takes no command"),
    ],
)
def test_usage_errors(args, env, needle):
    proc = run_tool(*args, env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    if needle is not None:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("cgroupsize: ") and needle in lines[0], proc.stderr
        assert "--help" in lines[0]


def test_help_and_version():
    proc = run_tool("--help")
    assert proc.returncode == 0
    assert "--print" in proc.stdout and "CGROUPSIZE_MEMORY_LIMIT" in proc.stdout
    proc = run_tool("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("cgroupsize ")


# -- exec end to end ----------------------------------------------------------------------


def test_not_found_is_127():
    proc = run_tool("--", "no-such-command-cgroupsize")
    assert proc.returncode == 127
    assert proc.stderr.strip().endswith("cgroupsize: no-such-command-cgroupsize: command not found")


def test_not_executable_is_126(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("not a program\n")
    proc = run_tool("--", str(f))
    assert proc.returncode == 126
    assert f"cgroupsize: {f}: permission denied" in proc.stderr


def test_directory_is_126(tmp_path):
    proc = run_tool("--", str(tmp_path))
    assert proc.returncode == 126


def test_script_without_shebang_runs_through_sh(tmp_path):
    script = tmp_path / "noshebang"
    script.write_text('echo "hello from $0 with $1"\n')
    script.chmod(0o755)
    proc = run_tool("--", str(script), "arg1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"hello from {script} with arg1"


def test_exit_status_is_the_commands():
    proc = run_tool("--", "sh", "-c", "exit 42")
    assert proc.returncode == 42


def _mask(*signals):
    return sum(1 << (s - 1) for s in signals)


@pytest.mark.parametrize("trap", ["", "trap '' PIPE XFSZ HUP"], ids=["as-started", "parent-ignores-some"])
def test_signal_dispositions_reset(trap):
    """The command ignores what the tool was started ignoring, except SIGPIPE and SIGXFSZ.

    CPython ignores SIGPIPE and SIGXFSZ itself; the exec'd program must not
    inherit that. Anything the parent ignored passes on as it would without
    the tool: SIGINT under a background job or a CI runner, glibc's internal
    signals 32 and 33 in a posix_spawn child (Python 3.13), SIGHUP under nohup.
    The shell prints the mask it hands over, then execs the tool.
    """
    script = f"{trap}\ngrep SigIgn /proc/self/status\nexec \"$@\""
    proc = subprocess.run(["sh", "-c", script, "sh", *TOOL, "--", "grep", "SigIgn", "/proc/self/status"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    given, seen = (int(line.split()[1], 16) for line in proc.stdout.splitlines())
    assert seen == given & ~_mask(signal.SIGPIPE, signal.SIGXFSZ), (hex(given), hex(seen))
    if trap:  # the shell really ignored them, so the test tests something
        assert given & _mask(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP) == _mask(
            signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP), hex(given)


def test_same_pid_and_signals_reach_the_command():
    child = subprocess.Popen(
        TOOL + ["--", sys.executable, "-c",
                "import os, sys, time; print(os.getpid(), flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid = int(child.stdout.readline())
        assert pid == child.pid  # exec'd in place: no wrapper process left
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_output_written_before_exec_is_not_lost():
    proc = run_tool("-v", "--", "true")
    assert proc.returncode == 0
    assert "CPUs usable" in proc.stderr  # the -v summary line, flushed before exec


# -- --print and --dry-run ------------------------------------------------------------------


def test_print_json_shape():
    proc = run_tool("--print", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"cgroup", "memory", "cpu", "notices"}
    assert set(data["memory"]) >= {"limit", "high", "swap", "host", "source"}
    assert set(data["cpu"]) >= {"quota", "count", "host", "source"}
    assert data["cpu"]["count"] >= 1


def test_print_nonexistent_root_is_unknown_not_error(tmp_path):
    proc = run_tool("--print", "--json", "--root", str(tmp_path))
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["memory"]["state"] == "unknown" and data["cpu"]["state"] == "unknown"
    assert "NO_CGROUP" in data["notice_codes"]


def test_strict_turns_detection_problems_into_exit_1(tmp_path):
    proc = run_tool("--strict", "--root", str(tmp_path), "--", "true")
    assert proc.returncode == 1
    assert "(--strict)" in proc.stderr
    proc = run_tool("--root", str(tmp_path), "--", "true")
    assert proc.returncode == 0


def test_dry_run_json_contract():
    proc = run_tool("--dry-run", "--json", "--root", FIXTURE_512, "--", "true")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"runtime", "argv", "env", "notes", "limits"}
    assert data["argv"][0] == "true"
    assert data["limits"]["memory"]["limit"] == 512 << 20
    assert data["limits"]["memory"]["source"] == "/sys/fs/cgroup/memory.max"
    assert data["limits"]["cpu"]["quota"] == 1.5
    assert data["env"].get("CONTAINER_MEMORY_LIMIT") == str(512 << 20)


def test_dry_run_override_names_its_source():
    proc = run_tool("--dry-run", "--json", "--root", FIXTURE_512, "--memory-limit", "256Mi",
                    "--cpu-limit", "500m", "--", "true")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["limits"]["memory"]["limit"] == 256 << 20
    assert data["limits"]["memory"]["source"] == "--memory-limit"
    assert data["limits"]["cpu"]["quota"] == 0.5
    assert data["limits"]["cpu"]["count"] == 1
    assert "OVERRIDE" in data["limits"]["notice_codes"]


def test_memory_override_from_environment(execs, monkeypatch):
    monkeypatch.setenv("CGROUPSIZE_MEMORY_LIMIT", "1.5Gi")
    monkeypatch.setenv("CGROUPSIZE_CPU_LIMIT", "1500m")
    monkeypatch.delenv("CONTAINER_MEMORY_LIMIT", raising=False)
    assert call_main(["--", "true"]) == 0
    env = execs[0][2]
    assert env["CONTAINER_MEMORY_LIMIT"] == str(3 << 29)
    assert env["CONTAINER_CPU_COUNT"] == str(min(2, len(os.sched_getaffinity(0))))


def test_user_value_of_generic_variable_wins(execs, monkeypatch):
    monkeypatch.setenv("CGROUPSIZE_MEMORY_LIMIT", "1Gi")
    monkeypatch.setenv("CONTAINER_MEMORY_LIMIT", "123")
    assert call_main(["--", "true"]) == 0
    assert execs[0][2]["CONTAINER_MEMORY_LIMIT"] == "123"


def test_verbose_never_echoes_user_arguments_or_values(monkeypatch):
    secret = "hunter2-secret-token"
    proc = run_tool("-vv", "--", "sh", "-c", f"true {secret}",
                    env={"JAVA_TOOL_OPTIONS": f"-Dpassword={secret}", "NODE_OPTIONS": f"--title={secret}",
                         "CGROUPSIZE_MEMORY_LIMIT": "512Mi"})
    assert proc.returncode == 0, proc.stderr
    assert secret not in proc.stderr
    assert proc.stderr.strip()  # it did say something


@pytest.mark.parametrize("argv", [["--", "java", "-jar", "app.jar"], ["--", "node", "app.js"],
                                  ["--", "python3", "-m", "gunicorn", "app:app"], ["--print", "--json"],
                                  ["--dry-run", "--", "npm", "start"]])
def test_no_helper_process_is_ever_run(fp, execs, argv, capsys):
    """Versions come from files (the JDK's release file, Go build info), never from running
    ``java -version``: pytest-subprocess records any command attempted (fail-open would hide
    an exception, so a catch-all is registered and the record must stay empty)."""
    fp.register([fp.any()], occurrences=100)  # any command "runs" and is recorded, none is real
    assert call_main(argv) == 0
    assert list(fp.calls) == []  # nothing was even attempted
    capsys.readouterr()


def test_a_reporting_bug_still_execs(execs, monkeypatch, capsys):
    """Fail open: -v output that breaks must not keep the command from starting."""
    from cgroupsize import report

    monkeypatch.setattr(report, "verbose_lines", lambda *a: 1 / 0)
    assert call_main(["-v", "--", "true"]) == 0
    assert execs and execs[0][1][0] == "true"
    assert "cannot report (ZeroDivisionError" in capsys.readouterr().err
