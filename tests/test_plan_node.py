"""Node plans: old space, young generation and the reserve outside the heap over limits, processes,
user settings and off switches; real node reports the heap the plan chose, per worker too."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from cgroupsize.model import Value
from cgroupsize.runtimes import node
from tests.support.plans import FIXTURES, GiB, MiB, limits, plan, text

NODE = ["node", "server.js"]


def flags(p):
    return p.flags or p.prepended.get("NODE_OPTIONS", "").split()


@pytest.mark.parametrize(
    "fixture, expected",
    [
        ("small", ["--max-old-space-size=204", "--max-semi-space-size=2"]),  # 256Mi
        ("medium", ["--max-old-space-size=819", "--max-semi-space-size=16"]),  # 1Gi
        ("large", ["--max-old-space-size=6553", "--max-semi-space-size=16"]),  # 8Gi: 0.8 x limit binds
        ("none", []),
    ],
)
def test_flags_per_fixture(fixture, expected):
    p = plan(NODE, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "node"
    assert p.flags == expected
    assert p.argv == ["node", *expected, "server.js"]
    assert "NODE_OPTIONS" not in p.added
    assert not p.warnings


@pytest.mark.parametrize(
    "mib, old, semi",
    # semi-space: 16 from 1Gi, else one MiB per 128Mi as a power of two; old = min(0.8 B, B - 3 semi - reserve)
    [(128, 93, 1), (256, 204, 2), (384, 307, 2), (512, 409, 4), (768, 614, 4), (1024, 819, 16),
     (2048, 1638, 16), (4096, 3276, 16)],
)
def test_budget_per_limit(mib, old, semi):
    p = plan(NODE, lim=limits(mem=mib * MiB, cpus=2))
    assert p.decision("max-old-space-size").value == f"--max-old-space-size={old}"
    assert p.decision("max-semi-space-size").value == f"--max-semi-space-size={semi}"
    regions = {line.region: line.size for line in p.budget}
    assert regions["old space"] == old * MiB and regions["young generation"] == 3 * semi * MiB
    assert sum(regions.values()) == mib * MiB  # old + young + outside the heap = the limit
    assert regions["outside the heap"] >= node.reserve(mib * MiB, 0.15) - MiB


@pytest.mark.parametrize("mib", [68, 80, 96, 128, 200, 256, 384, 512, 768, 1024, 2048, 4096, 16384])
def test_old_space_properties(mib):
    budget = mib * MiB
    old, semi, sane = node.old_space(budget, 0.8)
    assert sane
    assert old + 3 * semi * MiB + node.reserve(budget, node.RESERVE_SHARE) <= budget
    assert old <= 0.8 * budget
    assert 1 <= semi <= 16
    assert semi == 16 if mib >= 1024 else semi <= 8
    assert semi & (semi - 1) == 0  # a power of two: V8 rounds the flag up to one


@pytest.mark.parametrize("mib, largest_safe", [(512, 416), (1024, 832), (2048, 1664)])
def test_old_space_below_the_measured_safe_size(mib, largest_safe):
    # benchmarks/nrp_matrix.py --only reserve: with Buffers of 10% of the limit, the largest old space whose
    # exhaustion still ended in V8's own error (one step more: an OOM kill)
    old, _, _ = node.old_space(mib * MiB, 0.8)
    assert old // MiB <= largest_safe


def test_live_set_target_at_512mi():
    old, semi, _ = node.old_space(512 * MiB, 0.8)
    assert old // MiB >= 400  # room for a 350 MiB live set and its garbage (measured: 368 completes at 409)


@pytest.mark.parametrize("mib", [32, 48, 64])
def test_too_small_degrades_and_warns(mib):
    p = plan(NODE, lim=limits(mem=mib * MiB, cpus=1))
    assert p.flags == [f"--max-old-space-size={max(16, mib // 4)}", "--max-semi-space-size=1"]
    assert p.problems and "too small for a sane Node plan" in p.warnings[0]


@pytest.mark.parametrize(
    "argv, env, settings, limit, old, semi, processes",
    [
        # CGROUPSIZE_PROCESSES=N: the limit / N each
        (NODE, {}, {"processes": "2"}, 1 * GiB, 409, 4, 2),
        (NODE, {}, {"processes": "4"}, 1 * GiB, 204, 2, 4),
        (NODE, {}, {"processes": "1"}, 1 * GiB, 819, 16, 1),
        # pm2-runtime -i N: (limit - 48Mi for pm2's daemon) / N; max = one per CPU; -1 = CPUs - 1
        (["pm2-runtime", "-i", "4", "app.js"], {}, {"runtime": "node"}, 1 * GiB, 195, 1, 4),
        (["pm2-runtime", "--instances", "4", "app.js"], {}, {"runtime": "node"}, 1 * GiB, 195, 1, 4),
        (["pm2-runtime", "-i", "max", "app.js"], {}, {"runtime": "node"}, 1 * GiB, 390, 2, 2),
        (["pm2-runtime", "-i", "-1", "app.js"], {}, {"runtime": "node"}, 1 * GiB, 780, 4, 1),
        # the user's WEB_CONCURRENCY: a cluster app's worker count
        (NODE, {"WEB_CONCURRENCY": "4"}, {}, 1 * GiB, 195, 1, 4),
        # CGROUPSIZE_PROCESSES wins over what the tool could work out
        (["pm2-runtime", "-i", "4", "app.js"], {}, {"runtime": "node", "processes": "2"}, 1 * GiB, 409, 4, 2),
    ],
)
def test_processes_share_the_limit(argv, env, settings, limit, old, semi, processes):
    p = plan(argv, env, lim=limits(mem=limit, cpus=2), **settings)
    assert f"--max-old-space-size={old}" in flags(p), p
    assert f"--max-semi-space-size={semi}" in flags(p)
    regions = {line.region: line.size for line in p.budget}
    assert ("other processes" in regions) == (processes > 1 or argv[0] == "pm2-runtime")
    assert sum(regions.values()) == limit


def test_cluster_web_concurrency_like_heroku():
    # CGROUPSIZE_WORKERS=always: min(CPUs, limit / 512Mi) workers, each sized for its share
    p = plan(NODE, lim=limits(mem=2 * GiB, cpus=4), workers="always")
    assert p.added["WEB_CONCURRENCY"] == "4" and p.workers == 4
    assert "--max-old-space-size=400" in p.flags  # (2Gi - 48Mi) / 4 = 500Mi each
    p = plan(NODE, lim=limits(mem=2 * GiB, cpus=2), workers="always")
    assert p.added["WEB_CONCURRENCY"] == "2"  # one per CPU
    p = plan(NODE, lim=limits(mem=2 * GiB, cpus=8), workers="always", worker_memory="1Gi")
    assert p.added["WEB_CONCURRENCY"] == "2"
    p = plan(NODE, lim=limits(mem=256 * MiB, cpus=8), workers="always")
    assert p.added["WEB_CONCURRENCY"] == "1"  # at least one
    assert "WEB_CONCURRENCY" not in plan(NODE).added  # auto: a Node app is not known to be a cluster app
    p = plan(NODE, {"WEB_CONCURRENCY": "3"}, lim=limits(mem=2 * GiB, cpus=4), workers="always")
    assert "WEB_CONCURRENCY" not in p.added and p.workers == 3  # the user's count is used, not replaced
    p = plan(NODE, lim=limits(mem=2 * GiB, cpus=4), workers="always", skip="WEB_CONCURRENCY")
    assert "WEB_CONCURRENCY" not in p.added and "--max-old-space-size=1638" in p.flags


@pytest.mark.parametrize("value, old", [("35%", 320), ("0.25", 372), ("0.05", 409)])  # 409: 0.8 x 512 binds
def test_reserve_setting(value, old):
    p = plan(NODE, lim=limits(mem=512 * MiB, cpus=1), node_reserve=value)
    assert f"--max-old-space-size={old}" in p.flags
    outside = [line for line in p.budget if line.region == "outside the heap"][0]
    assert outside.source == "user"


def test_reserve_is_in_the_dry_run_budget():
    p = plan(NODE, lim=limits(mem=512 * MiB, cpus=1))
    outside = [line for line in p.budget if line.region == "outside the heap"][0]
    assert outside.size == (512 - 409 - 12) * MiB and outside.source == "measured"


def test_worker_threads_notice():
    p = plan(NODE, lim=limits(mem=1 * GiB, cpus=2))
    assert any("worker_threads" in n and "CGROUPSIZE_PROCESSES" in n for n in p.notes)
    p = plan(NODE, lim=limits(mem=1 * GiB, cpus=2), processes="5")
    assert not any("worker_threads" in n for n in p.notes)


@pytest.mark.parametrize(
    "argv, env, where",
    [
        (["node", "--max-old-space-size=100", "app.js"], {}, "the command line"),
        (["node", "--max_old_space_size=100", "app.js"], {}, "the command line"),
        (["node", "--max-old-space-size-percentage=50", "app.js"], {}, "the command line"),
        (["node", "--max-heap-size=100", "app.js"], {}, "the command line"),
        (["node", "-r", "dotenv/config", "--max-old-space-size=100", "app.js"], {}, "the command line"),
        (NODE, {"NODE_OPTIONS": "--require x --max-old-space-size=300"}, "NODE_OPTIONS"),
        (NODE, {"NODE_OPTIONS": '--title "my app" --max_old_space_size=300'}, "NODE_OPTIONS"),
        (["npm", "start"], {"NODE_OPTIONS": "--max-old-space-size=300"}, "NODE_OPTIONS"),
    ],
)
def test_user_heap_wins(argv, env, where):
    p = plan(argv, env)
    assert not any(f.startswith("--max-old-space-size") for f in p.flags)
    assert "--max-old-space-size" not in p.prepended.get("NODE_OPTIONS", "")
    d = p.decision("max-old-space-size")
    assert d.action == "left" and d.source == "user" and where in d.reason
    assert "300" not in text(p) and "100" not in text(p)


@pytest.mark.parametrize(
    "argv",
    [
        ["node", "app.js", "--max-old-space-size=100"],  # the script's own arguments
        ["node", "-e", "--max-old-space-size=100"],  # the code to evaluate
        ["node", "-r", "--max-old-space-size=100", "app.js"],  # the module to require
    ],
)
def test_script_arguments_are_not_node_options(argv):
    assert "--max-old-space-size=819" in plan(argv).flags


def test_user_semi_space_wins():
    p = plan(["node", "--max-semi-space-size=32", "app.js"])
    assert p.flags == ["--max-old-space-size=819"]
    assert p.decision("max-semi-space-size").source == "user"


@pytest.mark.parametrize("launcher", ["npm", "npx", "yarn", "pnpm"])
def test_launchers_get_node_options_prepended(launcher):
    p = plan([launcher, "start"], {"NODE_OPTIONS": "--enable-source-maps"})
    assert p.flags == [] and p.argv == [launcher, "start"]
    assert p.env["NODE_OPTIONS"] == "--max-old-space-size=819 --max-semi-space-size=16 --enable-source-maps"
    assert p.prepended["NODE_OPTIONS"] == "--max-old-space-size=819 --max-semi-space-size=16"


def test_shebang_flags_count_as_the_users(tmp_path):
    script = tmp_path / "serve"
    script.write_text("#!/usr/bin/env -S node --max-old-space-size=64\nconsole.log(1)\n")
    script.chmod(0o755)
    p = plan(["serve"], {"PATH": str(tmp_path)})
    assert p.runtime == "node"
    assert p.decision("max-old-space-size").source == "user"
    assert p.prepended["NODE_OPTIONS"] == "--max-semi-space-size=16"


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"node": "0"}, []),
        ({"skip": "max-semi-space-size"}, ["--max-old-space-size=819"]),
        ({"skip": "--max_old_space_size"}, ["--max-semi-space-size=16"]),
        ({"skip": "max-old-space-size,max-semi-space-size"}, []),
        ({"node_heap_ratio": "0.5"}, ["--max-old-space-size=512", "--max-semi-space-size=16"]),
    ],
)
def test_off_switches_skip_and_ratio(settings, expected):
    assert plan(NODE, **settings).flags == expected


def test_no_limit_adds_nothing():
    p = plan(["npm", "start"], lim=limits(**FIXTURES["none"]))
    assert "NODE_OPTIONS" not in p.added and p.budget == []
    assert p.decision("max-old-space-size").action == "none"


@pytest.mark.parametrize("cpus, expected", [(0.5, None), (2, None), (4, None), (4.5, "5"), (8, "8"), (400, "128")])
def test_threadpool_follows_the_cpus_above_libuvs_default(cpus, expected):
    lim = limits(mem=1 * GiB, cpus=cpus)
    lim.cpu.host = Value(512, "/sys/devices/system/cpu/online", "0-511")
    p = plan(NODE, lim=lim)
    assert p.added.get("UV_THREADPOOL_SIZE") == expected


def test_threadpool_users_value_and_skip_win():
    p = plan(NODE, {"UV_THREADPOOL_SIZE": "2"}, lim=limits(mem=1 * GiB, cpus=8))
    assert "UV_THREADPOOL_SIZE" not in p.added and p.env["UV_THREADPOOL_SIZE"] == "2"
    assert p.decision("UV_THREADPOOL_SIZE").source == "user"
    p = plan(NODE, lim=limits(mem=1 * GiB, cpus=8), skip="UV_THREADPOOL_SIZE")
    assert "UV_THREADPOOL_SIZE" not in p.added
    p = plan(["npm", "start"], lim=limits(mem=None, cpus=8))  # no memory limit: the pool still follows the CPUs
    assert p.added["UV_THREADPOOL_SIZE"] == "8"


# -- real node: the heap each process or isolate gets is what the plan said ------------------------------

NODE_BIN = shutil.which("node")
HEAP_JS = """
const v8 = require('v8'), cluster = require('cluster'), { Worker, isMainThread } = require('worker_threads');
const mib = () => v8.getHeapStatistics().heap_size_limit / 1048576;
const mode = process.argv[2];
if (mode === 'cluster' && cluster.isPrimary) {
  let n = 0;
  const done = (m) => { console.log('worker', m); if (++n === 2) process.exit(0); };
  for (let i = 0; i < 2; i++) cluster.fork().on('message', done);
} else if (mode === 'cluster') {
  process.send(mib()); setTimeout(() => process.exit(0), 10);
} else if (mode === 'threads' && isMainThread) {
  console.log('main', mib());
  for (let i = 0; i < 2; i++) new Worker(__filename, { argv: ['threads'] });
} else {
  console.log('worker', mib());
}
"""


def _through_tool(argv, env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CGROUPSIZE_", "NODE_OPTIONS"))}
    proc = subprocess.run([sys.executable, "-m", "cgroupsize", "--", *argv], env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _dry_run(argv, env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CGROUPSIZE_", "NODE_OPTIONS"))}
    proc = subprocess.run([sys.executable, "-m", "cgroupsize", "--dry-run", "--json", "--", *argv],
                          env={**base, **env}, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.runtimes
@pytest.mark.skipif(NODE_BIN is None, reason="needs node")
@pytest.mark.parametrize("mode, processes", [("cluster", "3"), ("threads", "3")])
def test_real_node_heap_per_process_or_isolate(tmp_path, mode, processes):
    script = tmp_path / "heap.js"
    script.write_text(HEAP_JS)
    env = {"CGROUPSIZE_MEMORY_LIMIT": "1536Mi", "CGROUPSIZE_PROCESSES": processes}
    argv = ["node", str(script), mode]
    planned = _dry_run(argv, env)["argv"]
    old = int(next(a for a in planned if a.startswith("--max-old-space-size=")).split("=")[1])
    semi = int(next(a for a in planned if a.startswith("--max-semi-space-size=")).split("=")[1])
    assert old == node.old_space(1536 * MiB // 3, 0.8)[0] // MiB  # each of the 3 gets a third
    out = _through_tool(argv, env)
    reported = [float(line.split()[1]) for line in out.splitlines() if line.startswith("worker")]
    assert len(reported) == 2, out
    # V8's heap_size_limit is the old space plus three semi-spaces
    assert all(r == old + 3 * semi for r in reported), (out, old, semi)
