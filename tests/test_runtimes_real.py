"""The real runtimes, run with the planned argv and environment for a 512 MiB, 2-CPU limit:
what each one reports is what the plan meant.

Skipped only when the runtime's binary is not installed (the reason says which).
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.plans import MiB, limits, plan

pytestmark = pytest.mark.runtimes

LIMIT = 512 * MiB
LIM = limits(mem=LIMIT, cpus=2)


def need(binary):
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (not on PATH)")
    return path


def host_env(**extra):
    """This machine's environment without anything that would change the runtimes' answers."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CGROUPSIZE_", "CONTAINER_", "JAVA_", "JDK_JAVA_", "_JAVA_", "NODE_"))}
    env.update(extra)
    return env


def run(argv, env):
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (argv, out.stdout[-2000:], out.stderr[-2000:])
    return out


def flags_final(text):
    """``-XX:+PrintFlagsFinal`` output -> {name: value}."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "=":
            values[parts[1]] = parts[3]
    return values


def planned_size(flags, prefix):
    (flag,) = [f for f in flags if f.startswith(prefix)]
    return int(flag[len(prefix):-1]) * MiB


# -- JVM ------------------------------------------------------------------------------------------


def test_java_runs_with_the_planned_flags():
    need("java")
    p = plan(["java", "-XX:+PrintFlagsFinal", "-version"], host_env(), lim=LIM)
    assert p.argv[0] == "java" and p.argv[-2:] == ["-XX:+PrintFlagsFinal", "-version"]
    final = flags_final(run(p.argv, p.env).stdout)
    assert int(final["MaxHeapSize"]) == planned_size(p.flags, "-Xmx")
    assert final["ActiveProcessorCount"] == "2"
    assert final["UseSerialGC"] == "true"
    assert int(final["MaxMetaspaceSize"]) == planned_size(p.flags, "-XX:MaxMetaspaceSize=")
    assert int(final["ReservedCodeCacheSize"]) == planned_size(p.flags, "-XX:ReservedCodeCacheSize=")
    assert int(final["MaxDirectMemorySize"]) == planned_size(p.flags, "-XX:MaxDirectMemorySize=")
    # Metaspace and direct memory share one pool (jvm.py): heap and code cache plus either one
    # at its cap stays below the limit.
    fixed = sum(planned_size(p.flags, f) for f in ("-Xmx", "-XX:ReservedCodeCacheSize="))
    assert fixed + planned_size(p.flags, "-XX:MaxMetaspaceSize=") < LIMIT
    assert fixed + planned_size(p.flags, "-XX:MaxDirectMemorySize=") < LIMIT


def test_java_through_java_tool_options_when_a_script_starts_it(tmp_path):
    java = need("java")
    script = tmp_path / "start.sh"
    script.write_text(f"#!/bin/sh\nexec {java} -XX:+PrintFlagsFinal -version\n")
    script.chmod(0o755)
    p = plan([str(script)], host_env(JAVA_TOOL_OPTIONS="-Dfile.encoding=UTF-8"), lim=LIM, runtime="jvm")
    assert p.flags == [] and p.env["JAVA_TOOL_OPTIONS"].endswith(" -Dfile.encoding=UTF-8")
    out = run(p.argv, p.env)
    final = flags_final(out.stdout)
    assert "Picked up JAVA_TOOL_OPTIONS" in out.stderr
    assert int(final["MaxHeapSize"]) == planned_size(p.prepended["JAVA_TOOL_OPTIONS"].split(), "-Xmx")
    assert final["ActiveProcessorCount"] == "2"


@pytest.mark.parametrize("place", ["argv", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"])
def test_java_users_heap_wins(place):
    need("java")
    argv = ["java", "-XX:+PrintFlagsFinal", "-version"]
    if place == "argv":
        argv[1:1] = ["-Xmx100m"]
        env = host_env()
    else:
        env = host_env(**{place: "-Xmx100m"})
    p = plan(argv, env, lim=LIM)
    assert not any(f.startswith("-Xmx") for f in p.flags)
    final = flags_final(run(p.argv, p.env).stdout)
    assert int(final["MaxHeapSize"]) == 100 * MiB
    assert final["ActiveProcessorCount"] == "2"


def test_java_user_flag_after_ours_wins_even_if_we_added_one():
    """Computed flags go first: a later user flag on the command line overrides them."""
    need("java")
    p = plan(["java", "-XX:+PrintFlagsFinal", "-version"], host_env(), lim=LIM)
    argv = p.argv[:len(p.flags) + 1] + ["-XX:ActiveProcessorCount=1"] + p.argv[len(p.flags) + 1:]
    assert flags_final(run(argv, p.env).stdout)["ActiveProcessorCount"] == "1"


# -- Node -----------------------------------------------------------------------------------------

HEAP_JS = "console.log(require('v8').getHeapStatistics().heap_size_limit)"


def _old_and_young(flags):
    old = int([f for f in flags if f.startswith("--max-old-space-size=")][0].split("=")[1]) * MiB
    semi = int([f for f in flags if f.startswith("--max-semi-space-size=")][0].split("=")[1]) * MiB
    return old, 3 * semi


def test_node_heap_is_the_planned_old_space_plus_young_generation():
    need("node")
    p = plan(["node", "-e", HEAP_JS], host_env(), lim=LIM)
    assert p.argv[:1] == ["node"] and p.argv[-2:] == ["-e", HEAP_JS]
    limit = int(run(p.argv, p.env).stdout)
    old, young = _old_and_young(p.flags)
    assert limit <= LIMIT - 40 * MiB  # heap_size_limit = old space + young generation, inside the limit
    assert abs(limit - (old + young)) <= 4 * MiB, (limit, old, young)


def test_node_options_when_npm_like_launchers_start_node(tmp_path):
    node = need("node")
    script = tmp_path / "npm"
    script.write_text(f"#!/bin/sh\nexec {node} -e \"{HEAP_JS}\"\n")
    script.chmod(0o755)
    p = plan(["npm", "start"], host_env(PATH=f"{tmp_path}:{os.environ.get('PATH', '')}",
                                        NODE_OPTIONS="--enable-source-maps"), lim=LIM)
    assert p.flags == [] and p.env["NODE_OPTIONS"].endswith("--enable-source-maps")
    limit = int(run(p.argv, p.env).stdout)
    old, young = _old_and_young(p.prepended["NODE_OPTIONS"].split())
    assert abs(limit - (old + young)) <= 4 * MiB


def test_node_users_heap_wins():
    need("node")
    p = plan(["node", "--max-old-space-size=100", "-e", HEAP_JS], host_env(), lim=LIM)
    assert p.flags == ["--max-semi-space-size=4"]
    assert int(run(p.argv, p.env).stdout) == 100 * MiB + 3 * 4 * MiB


# -- Python ---------------------------------------------------------------------------------------

SEEN = ("PYTHON_CPU_COUNT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
        "BLIS_NUM_THREADS", "LOKY_MAX_CPU_COUNT", "MALLOC_ARENA_MAX", "WEB_CONCURRENCY",
        "CONTAINER_MEMORY_LIMIT", "CONTAINER_CPU_LIMIT", "CONTAINER_CPU_COUNT")
PY_JS = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {list(SEEN)!r}}} | " \
        "{'cpu_count': os.cpu_count()}))"


def test_python_child_sees_the_variables():
    python = sys.executable
    env = host_env()
    for k in SEEN:
        env.pop(k, None)
    p = plan([python, "-c", PY_JS], env, lim=LIM)
    assert p.runtime == "python"
    seen = json.loads(run(p.argv, p.env).stdout)
    for name, value in p.added.items():
        assert seen[name] == value
    assert seen["PYTHON_CPU_COUNT"] == "2" and seen["MALLOC_ARENA_MAX"] == "2"
    assert seen["CONTAINER_MEMORY_LIMIT"] == str(LIMIT)
    if sys.version_info >= (3, 13):  # PYTHON_CPU_COUNT is read by the interpreter itself
        assert seen["cpu_count"] == 2


def test_gunicorn_gets_web_concurrency():
    python = sys.executable
    env = host_env()
    env.pop("WEB_CONCURRENCY", None)
    p = plan([python, "-m", "gunicorn", "--version"], env, lim=LIM)
    assert p.added["WEB_CONCURRENCY"] == "2"  # min(2 x 2 + 1, 512Mi / 256Mi)
    code = [python, "-c", "import os; print(os.environ['WEB_CONCURRENCY'], os.environ['OMP_NUM_THREADS'])"]
    assert run(code, p.env).stdout.split() == ["2", "1"]


# -- Ruby (when installed) -----------------------------------------------------------------------


def test_ruby_child_sees_the_variables():
    need("ruby")
    env = host_env()
    for k in ("MALLOC_ARENA_MAX", "WEB_CONCURRENCY", "LD_PRELOAD"):
        env.pop(k, None)
    p = plan(["ruby", "-e", "puts ENV['MALLOC_ARENA_MAX'], ENV['CONTAINER_CPU_COUNT']"], env, lim=LIM)
    assert run(p.argv, p.env).stdout.split() == ["2", "2"]
