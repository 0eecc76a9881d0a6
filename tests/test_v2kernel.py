"""cgroupsize under a real cgroup v2 kernel (user-mode Linux, see ``support/uml.py``).

The fixture trees in ``tests/fixtures/layouts`` say what v2 files look like;
these tests check that the kernel really enforces, and cgroupsize really
reads, the same layouts: a parent limit tighter than the leaf and the
reverse, ``memory.high`` below ``memory.max``, fractional ``cpu.max`` on the
leaf or a parent, a private cgroup namespace, an OOM kill counted in
``memory.events``, and java, node and python started through cgroupsize
reporting what ``cgroupsize --dry-run --json`` planned in the same cgroup.

Each test boots one guest (1 to 6 s). Results come back through files in
``$OUT`` on the host file system. Skipped, with the reason, where no UML
kernel can boot (not root and none prepared, no apt, no Debian mirror).
"""
from __future__ import annotations

import json
import re
import shlex
import shutil

import pytest

from tests.support import uml
from tests.support import MiB

pytestmark = pytest.mark.v2kernel

CG = "/sys/fs/cgroup"

# Shell helpers every guest script starts with.
PRELUDE = """
# nest P C: make $CG/P/C with the controllers enabled on the way down
nest() {
    mkdir -p "$CG/$1/$2"
    echo "+memory +cpu +pids" > "$CG/$1/cgroup.subtree_control"
}
"""


@pytest.fixture(scope="session")
def guest():
    reason = uml.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return uml


def run(guest, script, **kw):
    r = guest.run_in_guest(PRELUDE + script, **kw)
    assert r.status == 0, str(r)
    return r


def print_json(r, name="print.json"):
    assert name in r.files, f"{name} not written:\n{r}"
    try:
        return json.loads(r.files[name])
    except ValueError as e:
        raise AssertionError(f"{name} is not JSON ({e}):\n{r.files[name]}\n{r}") from None


# -- limits as the kernel enforces them ---------------------------------------------


@pytest.mark.parametrize("parent, leaf, limit, source", [
    ("300M", "400M", 300 * MiB, f"{CG}/p/memory.max"),   # the parent binds
    ("400M", "300M", 300 * MiB, f"{CG}/p/c/memory.max"),  # the leaf binds
    ("max", "max", None, None),
], ids=["parent-tighter", "leaf-tighter", "no-limit"])
def test_tightest_memory_max_on_the_way_up(guest, parent, leaf, limit, source):
    r = run(guest, f"""
nest p c
echo {parent} > $CG/p/memory.max
echo {leaf} > $CG/p/c/memory.max
echo $$ > $CG/p/c/cgroup.procs
cat /proc/self/cgroup > $OUT/proc-cgroup
$CGROUPSIZE --print --json > $OUT/print.json
""")
    assert r.files["proc-cgroup"] == "0::/p/c\n", str(r)
    data = print_json(r)
    assert data["cgroup"]["memory"] == "v2", data
    mem = data["memory"]
    assert mem["limit"] == limit, mem
    assert mem["state"] == ("limited" if limit else "unlimited"), mem
    assert mem["source"] == source, mem
    assert mem["dir"] == f"{CG}/p/c", mem


def test_memory_high_below_max_is_reported_apart_from_the_limit(guest):
    r = run(guest, """
nest p c
echo 200M > $CG/p/memory.high
echo 300M > $CG/p/c/memory.max
echo $$ > $CG/p/c/cgroup.procs
$CGROUPSIZE --print --json > $OUT/print.json
$CGROUPSIZE --print > $OUT/print.txt
""")
    mem = print_json(r)["memory"]
    assert mem["limit"] == 300 * MiB, mem
    assert mem["high"] == 200 * MiB, mem
    assert "200 MiB" in r.files["print.txt"], r.files["print.txt"]


@pytest.mark.parametrize("parent, leaf, quota, period, source", [
    ("max 100000", "50000 100000", 0.5, 100000, f"{CG}/p/c/cpu.max"),
    ("25000 50000", "max 100000", 0.5, 50000, f"{CG}/p/cpu.max"),
    ("150000 100000", "70000 100000", 0.7, 100000, f"{CG}/p/c/cpu.max"),
    ("max 100000", "max 100000", None, None, None),
], ids=["leaf-half", "parent-half-short-period", "leaf-0.7-under-parent-1.5", "no-quota"])
def test_fractional_cpu_max(guest, parent, leaf, quota, period, source):
    r = run(guest, f"""
nest p c
echo {parent} > $CG/p/cpu.max
echo {leaf} > $CG/p/c/cpu.max
echo $$ > $CG/p/c/cgroup.procs
nproc > $OUT/nproc
$CGROUPSIZE --print --json > $OUT/print.json
$CGROUPSIZE --print > $OUT/print.txt
""")
    cpu = print_json(r)["cpu"]
    assert cpu["quota"] == (pytest.approx(quota) if quota else None), cpu
    assert cpu["state"] == ("limited" if quota else "unlimited"), cpu
    if quota:
        assert cpu["period"] == period, cpu
        # JSON "source" is the count's; the text report names the quota's file.
        m = re.search(r"^\s*quota\s.*\s(/\S+)$", r.files["print.txt"], re.MULTILINE)
        assert m and m.group(1) == source, r.files["print.txt"]
    # The guest has one CPU: a fraction of it is still one thread.
    assert cpu["count"] == int(r.files["nproc"]) == 1, cpu


# -- a private cgroup namespace, as a container engine makes it ------------------------


def test_private_cgroup_namespace_remounted_as_an_engine_does(guest):
    # A container engine unshares the cgroup namespace and mounts cgroup2
    # inside it: the container's cgroup is the mount's root.
    r = run(guest, """
nest p c
echo 1G > $CG/p/memory.max
echo 256M > $CG/p/c/memory.max
echo "50000 100000" > $CG/p/c/cpu.max
echo $$ > $CG/p/c/cgroup.procs
unshare -Cm sh -c 'mount --make-rprivate / && umount /sys/fs/cgroup &&
    mount -t cgroup2 cgroup2 /sys/fs/cgroup && cat /proc/self/cgroup > $OUT/proc-cgroup &&
    $CGROUPSIZE --print --json > $OUT/print.json'
""")
    assert r.files["proc-cgroup"] == "0::/\n", str(r)
    data = print_json(r)
    assert data["memory"]["limit"] == 256 * MiB, data
    assert data["memory"]["dir"] == CG, data
    assert data["cpu"]["quota"] == pytest.approx(0.5), data
    assert data["notice_codes"] == [], data


def test_private_cgroup_namespace_under_the_inherited_mount(guest):
    # `unshare -C` alone: /proc/self/cgroup says "/", while the mount made
    # outside the namespace has its root two levels above ("/../.."), so the
    # names of the cgroup directories are not visible from here. A right
    # answer or an APPROXIMATE_PATH notice; never a silent wrong one.
    r = run(guest, """
nest p c
echo 1G > $CG/p/memory.max
echo 256M > $CG/p/c/memory.max
echo $$ > $CG/p/c/cgroup.procs
unshare -C sh -c 'cat /proc/self/cgroup > $OUT/proc-cgroup &&
    grep " cgroup2 " /proc/self/mountinfo > $OUT/mountinfo &&
    $CGROUPSIZE --print --json > $OUT/print.json'
""")
    assert r.files["proc-cgroup"] == "0::/\n", str(r)
    assert r.files["mountinfo"].split()[3] == "/../..", r.files["mountinfo"]
    data = print_json(r)
    if data["memory"]["limit"] != 256 * MiB:
        assert "APPROXIMATE_PATH" in data["notice_codes"], data


# -- an OOM kill, afterwards ---------------------------------------------------------


def test_oom_kill_is_counted_afterwards(guest):
    r = run(guest, """
nest p oom
echo 64M > $CG/p/oom/memory.max
if [ -e $CG/p/oom/memory.swap.max ]; then echo 0 > $CG/p/oom/memory.swap.max; fi
echo $$ > $CG/p/oom/cgroup.procs
$CGROUPSIZE --print --json > $OUT/before.json
status=0
$PYTHON -c 'b = bytearray(200 << 20); b[::4096] = b"x" * len(b[::4096])' || status=$?
echo $status > $OUT/status
cat $CG/p/oom/memory.events > $OUT/events
$CGROUPSIZE --print --json > $OUT/print.json
$CGROUPSIZE --print > $OUT/print.txt
""", mem="512M")
    assert r.files["status"].strip() == "137", str(r)  # SIGKILL from the OOM killer
    events = dict(line.split() for line in r.files["events"].splitlines())
    assert events["oom_kill"] == "1", r.files["events"]
    assert print_json(r, "before.json")["memory"]["oom_kills"] == 0
    mem = print_json(r)["memory"]
    assert mem["oom_kills"] == 1, mem
    assert mem["limit"] == 64 * MiB, mem
    # The text report says it too ("OOM kills 1", or the memory.events line "oom_kill 1").
    assert re.search(r"(?i)\boom[ _]kills?\s+1\b", r.files["print.txt"]), r.files["print.txt"]


# -- runtimes report what the plan said ------------------------------------------------

COMMANDS = {
    "java": ["java", "-XX:+PrintFlagsFinal", "-version"],
    "node": ["node", "-e", 'console.log(require("v8").getHeapStatistics().heap_size_limit)'],
    "python": ["python3", "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
}


def java_size(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    assert m, f"not a JVM size: {text!r}"
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def planned_heap(plan):
    """-Xmx / -XX:MaxHeapSize from the plan (argv and JAVA_TOOL_OPTIONS; the last one wins)."""
    found = None
    for t in shlex.split(plan["env"].get("JAVA_TOOL_OPTIONS", "")) + plan["argv"][1:]:
        if t.startswith("-Xmx"):
            found = java_size(t[4:])
        elif t.startswith("-XX:MaxHeapSize="):
            found = java_size(t.split("=", 1)[1])
    return found


def planned_old_space(plan):
    found = None
    for t in shlex.split(plan["env"].get("NODE_OPTIONS", "")) + plan["argv"][1:]:
        m = re.fullmatch(r"--max[-_]old[-_]space[-_]size=(\d+)", t)
        if m:
            found = int(m.group(1)) * MiB
    return found


@pytest.fixture(scope="module")
def runtimes_run(guest):
    """One guest: a 768M parent limit over a 1G leaf, 1.5 CPUs; each runtime planned, then started."""
    present = {name: cmd for name, cmd in COMMANDS.items() if shutil.which(cmd[0])}
    lines = []
    for name, cmd in present.items():
        args = " ".join(shlex.quote(a) for a in cmd)
        lines.append(f"$CGROUPSIZE --dry-run --json -- {args} > $OUT/plan-{name}.json")
        lines.append(f"$CGROUPSIZE -- {args} > $OUT/out-{name}.txt")
    r = run(guest, """
nest p c
echo 768M > $CG/p/memory.max
echo 1G > $CG/p/c/memory.max
echo "150000 100000" > $CG/p/c/cpu.max
echo $$ > $CG/p/c/cgroup.procs
""" + "\n".join(lines) + "\n", mem="1536M", timeout=300)
    return present, r


@pytest.mark.parametrize("runtime", sorted(COMMANDS))
def test_runtime_reports_what_the_plan_said(runtimes_run, runtime):
    present, r = runtimes_run
    if runtime not in present:
        pytest.skip(f"{COMMANDS[runtime][0]} is not installed")
    plan = print_json(r, f"plan-{runtime}.json")
    out = r.files[f"out-{runtime}.txt"]
    assert plan["limits"]["memory"]["limit"] == 768 * MiB, plan["limits"]
    assert plan["limits"]["cpu"]["quota"] == pytest.approx(1.5), plan["limits"]
    count = plan["limits"]["cpu"]["count"]
    if runtime == "java":
        final = dict(re.findall(r"^\s*\S+ (\w+)\s*=\s*(\S+)", out, re.MULTILINE))
        heap = planned_heap(plan)
        assert heap is not None, plan
        # HotSpot rounds the heap up to its alignment (at most a few MiB here).
        assert heap <= int(final["MaxHeapSize"]) < heap + 4 * MiB, (plan["argv"], final["MaxHeapSize"])
        assert final["ActiveProcessorCount"] == str(count), plan["argv"]
    elif runtime == "node":
        old = planned_old_space(plan)
        assert old is not None, plan
        assert old <= int(out.strip()) < 768 * MiB, (plan, out)
    else:
        env = json.loads(out)
        assert plan["env"], plan
        missing = {k: v for k, v in plan["env"].items() if env.get(k) != v}
        assert not missing, f"planned but not in the child's environment: {missing}"
        assert env["CONTAINER_MEMORY_LIMIT"] == str(768 * MiB)
        assert env["CONTAINER_CPU_COUNT"] == str(count)
