"""Secrets: the tool never shows the user's arguments or the values of variables the user set.

Containers carry passwords in arguments (``--password=…``) and in variables
(``DATABASE_URL``, ``JAVA_TOOL_OPTIONS=-Djavax.net.ssl.keyStorePassword=…``,
``NODE_OPTIONS``); whatever cgroupsize prints ends up in log aggregation. So:

- default output, ``-v`` and ``-vv`` (stderr) and ``--dry-run`` (text and
  JSON) show what the tool adds and why, never the user's part;
- ``--dry-run --json``'s ``env`` holds only variables the tool set or changed;
- errors name the command (``x: command not found``), never its arguments.

The hard case is a variable the tool *prepends* to: a script that starts the
JVM or node itself gets ``JAVA_TOOL_OPTIONS``/``NODE_OPTIONS`` = our flags +
the user's value. The exec'd environment must hold both; what is *shown* must
be our part only (``Plan.prepended`` holds exactly that), with a word that the
user's value follows.

Every case runs against the 512 MiB / 1.5 CPU fixture root, with fake
runtimes on PATH (scripts that exit 0) so exec works without java or node.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from tests.support import REPO, TOOL

FIXTURE_512 = os.path.join(os.path.dirname(__file__), "fixtures", "cli", "v2-512m")
SECRET = "hunter2-s3cr3t-token"

# (id, command, the user's environment): each puts the secret in arguments and variables
# the runtime's plan reads, and in ones it does not.
CASES = [
    ("java-direct", ["java", f"-Dpassword={SECRET}", "-jar", "app.jar", f"--token={SECRET}"],
     {"JAVA_TOOL_OPTIONS": f"-Dkey={SECRET}", "JDK_JAVA_OPTIONS": f"-Dother={SECRET}"}),
    ("jvm-script-prepend", ["./start-java.sh", f"--token={SECRET}"],
     {"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.keyStorePassword={SECRET}", "CGROUPSIZE_RUNTIME": "jvm"}),
    ("node-direct", ["node", f"--title={SECRET}", "server.js", SECRET], {"NODE_OPTIONS": f"--title={SECRET}"}),
    ("npm-prepend", ["npm", "start", f"--password={SECRET}"], {"NODE_OPTIONS": f"--title={SECRET}"}),
    ("python", ["python3", "app.py", f"--token={SECRET}"], {"GUNICORN_CMD_ARGS": f"--name={SECRET}",
                                                             "GLIBC_TUNABLES": f"x.{SECRET}=1"}),
    ("gunicorn", ["gunicorn", f"--name={SECRET}", "app:app"], {"GUNICORN_CMD_ARGS": f"--name={SECRET}"}),
    ("ruby", ["ruby", "app.rb", SECRET], {"RUBYOPT": f"-r{SECRET}"}),
    ("sh", ["sh", "-c", f"true {SECRET}"], {}),
]
COMMON_ENV = {"MY_TOKEN": SECRET, "DATABASE_URL": f"postgres://app:{SECRET}@db/app", "AWS_SECRET_ACCESS_KEY": SECRET}
IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def fake_bin(tmp_path_factory):
    """Fake runtimes (and a script that starts the JVM itself) that exit 0."""
    d = tmp_path_factory.mktemp("bin")
    for name in ("java", "node", "npm", "python3", "gunicorn", "ruby", "start-java.sh"):
        path = d / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return d


def run_tool(args, env_extra, fake_bin, cwd=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CGROUPSIZE_") and k not in ("JAVA_TOOL_OPTIONS", "NODE_OPTIONS")}
    env["PATH"] = f"{fake_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = REPO  # run from fake_bin: this checkout, installed or not
    env.update(COMMON_ENV)
    env.update(env_extra)
    proc = subprocess.run(TOOL + list(args), capture_output=True, text=True, env=env, timeout=60,
                          cwd=cwd or str(fake_bin))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, env


def assert_no_secret(proc, where):
    for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert SECRET not in text, f"{where}: the user's secret is on {stream}:\n{text}"


# -- --dry-run ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dry_run_text_shows_only_what_the_tool_adds(case, fake_bin):
    _, command, env = case
    proc, _ = run_tool(["--dry-run", "--root", FIXTURE_512, "--"] + command, env, fake_bin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "the dry run said nothing"
    assert_no_secret(proc, "--dry-run")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dry_run_json_shows_only_what_the_tool_adds(case, fake_bin):
    _, command, env = case
    proc, full_env = run_tool(["--dry-run", "--json", "--root", FIXTURE_512, "--"] + command, env, fake_bin)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # env: only variables the tool set or changed, never one the user set and we left alone.
    for name, value in data["env"].items():
        assert full_env.get(name) != value, f"env[{name}] is the user's own value, unchanged"
        assert name not in COMMON_ENV
    assert_no_secret(proc, "--dry-run --json")


@pytest.mark.parametrize("case", [c for c in CASES if c[0].endswith("-prepend")], ids=lambda c: c[0])
def test_dry_run_shows_the_prepended_part_only(case, fake_bin):
    """What we prepend is shown (it is ours); the user's value that follows is not."""
    _, command, env = case
    (variable,) = [k for k in env if k.endswith("_OPTIONS")]
    proc, _ = run_tool(["--dry-run", "--json", "--root", FIXTURE_512, "--"] + command, env, fake_bin)
    data = json.loads(proc.stdout)
    assert variable in data["env"], data["env"]
    shown = data["env"][variable]
    assert shown.startswith("-") and SECRET not in shown, shown
    text, _ = run_tool(["--dry-run", "--root", FIXTURE_512, "--"] + command, env, fake_bin)
    assert f"{variable}=" in text.stdout and SECRET not in text.stdout, text.stdout


def test_the_exec_still_gets_the_users_value_after_ours(fake_bin, tmp_path):
    """Showing less must not mean passing less: the program sees ours + the user's."""
    out = tmp_path / "env.txt"
    script = fake_bin / "start-node.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$NODE_OPTIONS" > {out}\n')
    script.chmod(0o755)
    proc, _ = run_tool(["--root", FIXTURE_512, "--runtime", "node", "--", str(script)],
                       {"NODE_OPTIONS": f"--title={SECRET}"}, fake_bin)
    assert proc.returncode == 0, proc.stderr
    value = out.read_text()
    assert value.startswith("--max-old-space-size=") and value.endswith(f" --title={SECRET}"), value
    assert_no_secret(proc, "exec")


# -- stderr of a real start: default, -v, -vv ------------------------------------------------------


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]], ids=["default", "-v", "-vv"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_start_never_echoes_arguments_or_values(case, verbosity, fake_bin):
    _, command, env = case
    args = (verbosity + ["--root", FIXTURE_512]) if verbosity else []
    extra = dict(env)
    if not verbosity:  # the fast door: no options at all, settings from the environment only
        extra["CGROUPSIZE_VERBOSE"] = "0"
    proc, _ = run_tool(args + ["--"] + command, extra, fake_bin)
    assert proc.returncode == 0, proc.stderr
    if verbosity:
        assert proc.stderr.strip(), "-v said nothing"
    assert_no_secret(proc, " ".join(verbosity) or "default")


def test_fast_door_verbose_from_environment(fake_bin):
    proc, _ = run_tool(["--", "npm", "start", SECRET], {"CGROUPSIZE_VERBOSE": "2",
                                                        "NODE_OPTIONS": f"--title={SECRET}"}, fake_bin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip()
    assert_no_secret(proc, "CGROUPSIZE_VERBOSE=2")


# -- errors and refusals -----------------------------------------------------------------------------


def test_command_not_found_names_the_command_only(fake_bin):
    proc, _ = run_tool(["--", "no-such-command-cgroupsize", f"--password={SECRET}"], {}, fake_bin)
    assert proc.returncode == 127
    assert proc.stderr.strip() == "cgroupsize: no-such-command-cgroupsize: command not found", proc.stderr
    assert_no_secret(proc, "command not found")


def test_not_executable_names_the_command_only(fake_bin, tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("x\n")
    proc, _ = run_tool(["--", str(f), SECRET], {"MY_TOKEN": SECRET}, fake_bin)
    assert proc.returncode == 126
    assert_no_secret(proc, "not executable")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_strict_refusal_never_echoes(case, fake_bin):
    """--strict with a memory limit too small for a sane plan: the refusal names settings, not values."""
    _, command, env = case
    proc, _ = run_tool(["--strict", "--memory-limit", "40Mi", "--root", FIXTURE_512, "--"] + command, env,
                       fake_bin)
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_secret(proc, "--strict")


def test_strict_detection_failure_never_echoes(fake_bin, tmp_path):
    proc, _ = run_tool(["--strict", "--root", str(tmp_path), "--", "npm", "start", SECRET],
                       {"NODE_OPTIONS": f"--title={SECRET}"}, fake_bin)
    assert proc.returncode == 1
    assert "(--strict)" in proc.stderr
    assert_no_secret(proc, "--strict detection")


def test_usage_error_never_echoes_the_command(fake_bin):
    proc, _ = run_tool(["--typo", "--", "npm", SECRET], {"NODE_OPTIONS": f"--title={SECRET}"}, fake_bin)
    assert proc.returncode == 2
    assert_no_secret(proc, "usage error")


def test_print_never_shows_the_environment(fake_bin):
    for args in (["--print"], ["--print", "--json"]):
        proc, _ = run_tool(args + ["--root", FIXTURE_512], {"NODE_OPTIONS": f"--title={SECRET}"}, fake_bin)
        assert proc.returncode == 0, proc.stderr
        assert_no_secret(proc, " ".join(args))
