"""cgroupsize as the process of a real container (runc, cgroup v1), end to end.

Each test starts one or more real OCI containers with real cgroup limits
(see ``tests/support/runc.py``) and runs ``python3 -m cgroupsize`` from this
checkout inside. Three groups:

- the harness itself, with plain commands (no cgroupsize needed);
- detection: ``cgroupsize --print --json`` must report the tightest limit
  the kernel enforces, in every layout a container engine produces;
- exec: ``cgroupsize -- CMD`` must exec the runtime (PID 1, exit code,
  signal dispositions) and the runtime must then report the size that
  ``cgroupsize --dry-run --json -- CMD`` announced in the same container.

Needs root, runc and a writable cgroup v1 hierarchy; skipped otherwise.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil

import pytest

from tests.support import runc as harness
from tests.support import GiB, MiB

runc_harness = harness.runc_harness  # the fixture

SKIP = harness.skip_reason()
pytestmark = [pytest.mark.runc, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

# CPUs a container can be given: this process's affinity (runc's children inherit it).
HOST_AFFINITY = sorted(os.sched_getaffinity(0))
HOST_CPUS = len(HOST_AFFINITY)
FIRST_CPU = HOST_AFFINITY[0]
TOOL = ["python3", "-m", "cgroupsize"]


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def expected_cpu_count(quota=None, cpus=None):
    """max(1, min(ceil(quota), cpuset size, host CPUs)): Limits.cpu_count's rule."""
    allowed = set(HOST_AFFINITY)
    if cpus is not None:
        allowed &= set(_cpu_list(cpus))
    bounds = [len(allowed)]
    if quota:
        bounds.append(math.ceil(quota - 1e-9))
    return max(1, min(bounds))


def _cpu_list(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def assert_clean_run(result):
    assert not result.timed_out, str(result)
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.stderr, str(result)


# -- the harness itself (plain commands) --------------------------------------


def test_harness_applies_memory_limit_and_cgroup_path(runc_harness):
    r = runc_harness.run(["sh", "-c", "cat /proc/self/cgroup; "
                                      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; id -u"],
                         memory=256 * MiB)
    assert_clean_run(r)
    assert f":memory:{r.cgroups_path}\n" in r.stdout, str(r)
    assert r.stdout.split()[-2:] == [str(256 * MiB), "0"], str(r)


def test_harness_cpu_cpuset_user_and_env(runc_harness):
    r = runc_harness.run(
        ["sh", "-c", 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us '
                     '/sys/fs/cgroup/cpuset/cpuset.cpus; id -u; id -g; echo "$HELLO"'],
        cpu_quota=150_000, cpu_period=100_000, cpus=str(FIRST_CPU), uid=65534, gid=65534,
        env={"HELLO": "world"})
    assert_clean_run(r)
    assert r.stdout.split() == ["150000", "100000", str(FIRST_CPU), "65534", "65534", "world"], str(r)


def test_harness_nested_parent_and_cgroup_namespace(runc_harness):
    parent = runc_harness.parent_cgroup(memory=300 * MiB, cpu_quota=50_000)
    r = runc_harness.run(["sh", "-c", "grep :memory: /proc/self/cgroup; "
                                      "grep hierarchical_memory_limit /sys/fs/cgroup/memory/memory.stat"],
                         memory=1 * GiB, parent=parent, cgroupns=True)
    assert_clean_run(r)
    assert r.cgroups_path == f"/{parent}/{r.id}"
    assert r.stdout.split() == ["4:memory:/", "hierarchical_memory_limit", str(300 * MiB)], str(r)


def test_harness_runs_this_checkout_with_this_interpreter(runc_harness):
    r = runc_harness.run(["python3", "-c", "import sys, cgroupsize; print(sys.prefix); "
                                           "print(cgroupsize.__file__)"], uid=65534, gid=65534)
    assert_clean_run(r)
    prefix, module = r.stdout.split()
    assert module == os.path.join(harness.REPO, "cgroupsize", "__init__.py"), str(r)


def test_harness_exit_code_timeout_and_cleanup(tmp_path):
    h = harness.RuncHarness(tmp_path)
    try:
        parent = h.parent_cgroup(memory=64 * MiB)
        assert harness.leftovers(os.getpid())
        r = h.run(["sh", "-c", "echo out; echo err >&2; exit 7"], parent=parent)
        assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n"), str(r)
        r = h.run(["sleep", "600"], timeout=2, memory=64 * MiB)
        assert r.timed_out and r.returncode != 0, str(r)
    finally:
        h.cleanup()
    assert harness.leftovers(os.getpid()) == []
    assert [c for c in harness.runc_containers() if c.startswith(f"{harness.PREFIX}{os.getpid()}-")] == []


# -- detection: --print --json ----------------------------------------------------

# (id, run options, parent cgroup options, expected memory limit, expected quota)
SCENARIOS = [
    ("memory-only", dict(memory=256 * MiB), None, 256 * MiB, None),
    ("cpu-quota-fractional", dict(cpu_quota=150_000, cpu_period=100_000), None, None, 1.5),
    ("cpuset-only", dict(cpus=str(FIRST_CPU)), None, None, None),
    ("memory-and-cpu", dict(memory=512 * MiB, cpu_quota=100_000, cpu_period=200_000), None,
     512 * MiB, 0.5),
    # The parent carries the stricter limits and the whole hierarchy is visible
    # (mountinfo root "/", a systemd-slice-like layout): walk up and take the minimum.
    ("nested-parent-visible", dict(memory=1 * GiB, cgroup_mount="host"),
     dict(memory=300 * MiB, cpu_quota=50_000), 300 * MiB, 0.5),
    # Same cgroups behind the usual engine mount, which shows only the container's
    # own cgroup. Memory: v1 memory.stat hierarchical_memory_limit still tells.
    # CPU: the parent's 0.5 CPU quota is not visible from inside at all
    # so the container's own "no quota" is the answer.
    ("nested-parent-hidden", dict(memory=1 * GiB), dict(memory=300 * MiB, cpu_quota=50_000),
     300 * MiB, None),
    ("cgroupns", dict(memory=384 * MiB, cpu_quota=50_000, cgroupns=True), None, 384 * MiB, 0.5),
    ("cgroupns-nested", dict(memory=1 * GiB, cgroupns=True), dict(memory=300 * MiB),
     300 * MiB, None),
    ("no-limits", dict(), None, None, None),
    ("non-root", dict(memory=256 * MiB, cpu_quota=150_000, uid=65534, gid=65534), None,
     256 * MiB, 1.5),
]


@pytest.mark.parametrize("options, parent, memory, quota",
                         [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_print_json_reports_the_enforced_limits(runc_harness, options, parent, memory, quota):
    if parent is not None:
        options = dict(options, parent=runc_harness.parent_cgroup(**parent))
    r = runc_harness.run(TOOL + ["--print", "--json"], **options)
    assert_clean_run(r)
    d = r.json()
    assert d["cgroup"] == {"memory": "v1", "cpu": "v1"}, str(r)
    assert d["memory"]["limit"] == memory, str(r)
    assert d["memory"]["state"] == ("unlimited" if memory is None else "limited"), str(r)
    if memory is not None:
        assert d["memory"]["source"], str(r)
    if quota is None:
        assert d["cpu"]["quota"] is None, str(r)
    else:
        assert d["cpu"]["quota"] == pytest.approx(quota), str(r)
        assert d["cpu"]["state"] == "limited", str(r)
    assert d["cpu"]["count"] == expected_cpu_count(quota, options.get("cpus")), str(r)
    assert d["cpu"]["host"] == os.cpu_count(), str(r)


def test_print_json_memory_limit_above_host_memory_is_no_limit(runc_harness):
    above = (host_memory() + GiB) // (64 * 1024) * (64 * 1024)
    r = runc_harness.run(TOOL + ["--print", "--json"], memory=above)
    assert_clean_run(r)
    d = r.json()
    assert d["memory"]["limit"] is None, str(r)
    assert d["memory"]["state"] == "unlimited", str(r)
    assert "MEMORY_COVERS_MACHINE" in d["notice_codes"], str(r)


def test_print_json_without_cgroupfs_fails_open(runc_harness):
    """No /sys/fs/cgroup in the container: "could not tell", not a crash."""
    r = runc_harness.run(TOOL + ["--print", "--json"], memory=256 * MiB, cgroup_mount=None)
    assert_clean_run(r)
    d = r.json()
    assert d["memory"]["limit"] is None, str(r)
    assert d["memory"]["state"] == "unknown", str(r)
    assert "NO_CGROUP" in d["notice_codes"], str(r)
    assert d["cpu"]["count"] == HOST_CPUS, str(r)


# -- exec: the runtime takes over ------------------------------------------------------


def test_exec_replaces_the_tool_as_pid_1_and_keeps_the_exit_code(runc_harness):
    r = runc_harness.run(TOOL + ["--", "sh", "-c", "echo $$; grep SigIgn /proc/self/status; exit 3"],
                         memory=256 * MiB)
    assert r.returncode == 3, str(r)
    assert "Traceback" not in r.stderr, str(r)
    pid, sigign = r.stdout.splitlines()
    assert pid == "1", r  # one exec, no fork: the command is the container's init
    assert sigign.split() == ["SigIgn:", "0000000000000000"], r  # SIGPIPE/SIGXFSZ reset


def test_exec_command_not_found_is_127(runc_harness):
    r = runc_harness.run(TOOL + ["--", "no-such-command-cgroupsize"], memory=256 * MiB)
    assert r.returncode == 127, str(r)
    assert "no-such-command-cgroupsize" in r.stderr, str(r)
    assert "Traceback" not in r.stderr, str(r)


def test_tini_entrypoint_as_the_dockerfiles_use_it(runc_harness):
    """ENTRYPOINT ["tini", "--", "cgroupsize", "--"]: tini stays PID 1, the command is its child."""
    if shutil.which("tini") is None:
        pytest.skip("tini is not installed (apt-get install tini)")
    r = runc_harness.run(["tini", "--"] + TOOL + ["--", "sh", "-c", "echo $$ $PPID; exit 5"],
                         memory=256 * MiB)
    assert r.returncode == 5, str(r)
    pid, ppid = r.stdout.split()
    # tini's direct child: cgroupsize exec'd the command rather than forking it.
    assert ppid == "1" and pid != "1", str(r)
    assert "Traceback" not in r.stderr, str(r)


def test_downward_api_variables_stand_in_for_an_invisible_cgroup(runc_harness):
    """What docker/kubernetes.yaml delivers, in a container that shows no cgroupfs."""
    env = {"CGROUPSIZE_MEMORY_LIMIT": "1073741824", "CPU_MILLICORES": "1500",
           "CGROUPSIZE_CPU_LIMIT": "1500m"}
    r = runc_harness.run(TOOL + ["--print", "--json"], cgroup_mount=None, env=env)
    assert_clean_run(r)
    d = r.json()
    assert d["memory"]["limit"] == 1 * GiB, str(r)
    assert d["cpu"]["quota"] == pytest.approx(1.5), str(r)
    assert d["cpu"]["count"] == expected_cpu_count(1.5), str(r)
    assert "OVERRIDE" in d["notice_codes"], str(r)


SEP = "=== cgroupsize-test: exec ==="


def plan_then_exec(runc_harness, cmd, **options):
    """In one container: ``cgroupsize --dry-run --json -- CMD``, then ``cgroupsize -- CMD``.

    Returns (plan, stdout of the exec'd CMD, result).
    """
    script = (f'python3 -m cgroupsize --dry-run --json -- "$@" && echo "{SEP}" && '
              f'exec python3 -m cgroupsize -- "$@"')
    r = runc_harness.run(["sh", "-c", script, "sh"] + list(cmd), **options)
    assert_clean_run(r)
    plan_text, sep, out = r.stdout.partition(SEP + "\n")
    assert sep, f"--dry-run --json failed or printed no plan:\n{r}"
    try:
        plan = json.loads(plan_text)
    except ValueError as e:
        raise AssertionError(f"--dry-run --json printed no JSON ({e}):\n{r}") from None
    assert set(plan) >= {"runtime", "argv", "env", "notes", "limits"}, str(r)
    return plan, out, r


PY_ENV = ["python3", "-c", "import os, json; print(json.dumps(dict(os.environ)))"]


def test_python_gets_the_planned_environment(runc_harness):
    plan, out, r = plan_then_exec(runc_harness, PY_ENV, memory=512 * MiB, cpu_quota=150_000)
    assert plan["runtime"] == "python", str(r)
    assert plan["limits"]["memory"]["limit"] == 512 * MiB, str(r)
    assert plan["env"], f"the plan sets no variables for a limited Python:\n{r}"
    env = json.loads(out)
    missing = {k: v for k, v in plan["env"].items() if env.get(k) != v}
    assert not missing, f"planned but not in the child's environment: {missing}\n{r}"


def test_python_user_settings_win(runc_harness):
    user = {"WEB_CONCURRENCY": "7", "OMP_NUM_THREADS": "3", "MALLOC_ARENA_MAX": "4"}
    plan, out, r = plan_then_exec(runc_harness, PY_ENV, memory=512 * MiB, cpu_quota=150_000,
                                  env=user)
    env = json.loads(out)
    assert {k: env.get(k) for k in user} == user, str(r)
    assert not set(plan["env"]) & set(user), f"the plan overrides the user's variables:\n{r}"


_JAVA_SIZE = re.compile(r"^(\d+)([kKmMgGtT]?)$")


def java_size(text):
    m = _JAVA_SIZE.match(text)
    assert m, f"not a JVM size: {text!r}"
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[
        m.group(2).lower()]


def jvm_heap_flag(plan):
    """The heap setting the plan hands the JVM: ('bytes', n) or ('percent', p)."""
    tokens = list(plan["argv"][1:])
    for var in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"):
        tokens = shlex.split(plan["env"].get(var, "")) + tokens
    found = None
    for t in tokens:  # the JVM takes the last one
        if t.startswith("-Xmx"):
            found = ("bytes", java_size(t[4:]))
        elif t.startswith("-XX:MaxHeapSize="):
            found = ("bytes", java_size(t.split("=", 1)[1]))
        elif t.startswith("-XX:MaxRAMPercentage="):
            found = ("percent", float(t.split("=", 1)[1]))
    return found


@pytest.mark.runtimes
def test_jvm_max_heap_is_what_the_plan_says(runc_harness):
    limit = 768 * MiB
    plan, out, r = plan_then_exec(runc_harness, ["java", "-XX:+PrintFlagsFinal", "-version"],
                                  memory=limit, cpu_quota=150_000)
    assert plan["runtime"] == "jvm", str(r)
    m = re.search(r"^\s*size_t MaxHeapSize\s*=\s*(\d+)", out, re.M)
    assert m, f"no MaxHeapSize in java -XX:+PrintFlagsFinal output:\n{r}"
    max_heap = int(m.group(1))
    assert 0 < max_heap < limit, str(r)
    flag = jvm_heap_flag(plan)
    assert flag is not None, f"the plan sets no heap size for a {limit // MiB} MiB container:\n{r}"
    kind, value = flag
    wanted = value if kind == "bytes" else int(limit * value / 100)
    # HotSpot rounds the heap up to its alignment (2 MiB for Serial/Parallel,
    # the region size for G1: 1 MiB at this size).
    assert wanted <= max_heap < wanted + 4 * MiB, f"plan {flag}, JVM MaxHeapSize {max_heap}\n{r}"


def node_old_space(plan):
    tokens = shlex.split(plan["env"].get("NODE_OPTIONS", "")) + list(plan["argv"][1:])
    found = None
    for t in tokens:
        m = re.match(r"^--max[-_]old[-_]space[-_]size=(\d+)$", t)
        if m:
            found = int(m.group(1)) * MiB
    return found


@pytest.mark.runtimes
def test_node_heap_fits_the_limit(runc_harness):
    # 256 MiB is the case that breaks Node by default: V8's floor puts
    # heap_size_limit above the container's memory (nodejs/node#64646).
    limit = 256 * MiB
    plan, out, r = plan_then_exec(
        runc_harness, ["node", "-e", 'console.log(require("v8").getHeapStatistics().heap_size_limit)'],
        memory=limit)
    assert plan["runtime"] == "node", str(r)
    heap_limit = int(out.strip())
    assert 0 < heap_limit < limit, str(r)
    old = node_old_space(plan)
    assert old is not None, f"the plan sets no --max-old-space-size for a 256 MiB container:\n{r}"
    # heap_size_limit = old space + young generation (a few MiB at this size).
    assert old <= heap_limit < old + 64 * MiB, f"plan old space {old}, V8 {heap_limit}\n{r}"


# -- every scenario, every runtime: what the runtime reports is what the plan said ----------------

RUNTIME_COMMANDS = {
    "java": ["java", "-XX:+PrintFlagsFinal", "-version"],
    "node": ["node", "-e", 'console.log(require("v8").getHeapStatistics().heap_size_limit)'],
    "python3": PY_ENV,
}


@pytest.mark.runtimes
@pytest.mark.parametrize("runtime", sorted(RUNTIME_COMMANDS))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_every_scenario_runtime_reports_the_plan(runc_harness, scenario, runtime):
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} is not installed")
    _, options, parent, memory, _quota = scenario
    if parent is not None:
        options = dict(options, parent=runc_harness.parent_cgroup(**parent))
    plan, out, r = plan_then_exec(runc_harness, RUNTIME_COMMANDS[runtime], **options)
    assert plan["limits"]["memory"]["limit"] == memory, str(r)
    count = plan["limits"]["cpu"]["count"]
    if runtime == "java":
        final = dict(re.findall(r"^\s*\S+ (\w+)\s*=\s*(\S+)", out, re.M))
        assert final["ActiveProcessorCount"] == str(count), str(r)
        flag = jvm_heap_flag(plan)
        if memory is None:
            assert flag is None, f"a heap flag without a memory limit: {flag}\n{r}"
        else:
            assert flag and flag[0] == "bytes", str(r)
            assert flag[1] <= int(final["MaxHeapSize"]) < min(flag[1] + 4 * MiB, memory), str(r)
    elif runtime == "node":
        old = node_old_space(plan)
        if memory is None:
            assert old is None, str(r)
        else:
            assert old is not None and old <= int(out.strip()) < memory, str(r)
    else:
        env = json.loads(out)
        missing = {k: v for k, v in plan["env"].items() if env.get(k) != v}
        assert not missing, f"planned but not in the child's environment: {missing}\n{r}"
        assert env["CONTAINER_CPU_COUNT"] == str(count), str(r)
