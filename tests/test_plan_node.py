"""Node plans: old space and semi-space over fixture limits; the user's settings win."""
from __future__ import annotations

import pytest

from cgroupsize.runtimes import node
from cgroupsize.model import Value
from plan_fixtures import FIXTURES, GiB, MiB, limits, plan, text

NODE = ["node", "server.js"]


@pytest.mark.parametrize(
    "fixture, flags",
    [
        ("small", ["--max-old-space-size=204", "--max-semi-space-size=2"]),
        ("medium", ["--max-old-space-size=819", "--max-semi-space-size=8"]),
        ("large", ["--max-old-space-size=6553"]),  # 16Mi semi-spaces: V8's own choice, not repeated
        ("none", []),
    ],
)
def test_flags_per_fixture(fixture, flags):
    p = plan(NODE, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "node"
    assert p.flags == flags
    assert p.argv == ["node", *flags, "server.js"]
    assert "NODE_OPTIONS" not in p.added
    assert not p.warnings


@pytest.mark.parametrize("mib", [75, 96, 128, 200, 256, 384, 512, 768, 1024, 2048, 4096, 16384])
def test_old_space_properties(mib):
    limit = mib * MiB
    old, semi, sane = node.old_space(limit, 0.8)
    assert sane
    assert old + 3 * semi * MiB + node.NODE_ITSELF <= limit  # heap + young generation + Node fit
    assert old <= 0.8 * limit
    assert 1 <= semi <= 16


@pytest.mark.parametrize("mib", [32, 48, 64, 74])
def test_too_small_degrades_and_warns(mib):
    p = plan(NODE, lim=limits(mem=mib * MiB, cpus=1))
    assert p.flags == [f"--max-old-space-size={max(16, mib // 4)}", "--max-semi-space-size=1"]
    assert p.problems and "too small for a sane Node plan" in p.warnings[0]


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
    assert f"left the heap alone: set by the user in {where}" in p.notes
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
    assert "left --max-semi-space-size alone: set by the user in the command line" in p.notes


@pytest.mark.parametrize("launcher", ["npm", "npx", "yarn", "pnpm"])
def test_launchers_get_node_options_prepended(launcher):
    p = plan([launcher, "start"], {"NODE_OPTIONS": "--enable-source-maps"})
    assert p.flags == [] and p.argv == [launcher, "start"]
    assert p.env["NODE_OPTIONS"] == "--max-old-space-size=819 --max-semi-space-size=8 --enable-source-maps"
    assert p.prepended["NODE_OPTIONS"] == "--max-old-space-size=819 --max-semi-space-size=8"


def test_shebang_flags_count_as_the_users(tmp_path):
    script = tmp_path / "serve"
    script.write_text("#!/usr/bin/env -S node --max-old-space-size=64\nconsole.log(1)\n")
    script.chmod(0o755)
    p = plan(["serve"], {"PATH": str(tmp_path)})
    assert p.runtime == "node"
    assert "left the heap alone: set by the user in the #! line" in p.notes
    assert p.prepended["NODE_OPTIONS"] == "--max-semi-space-size=8"


def test_off_switch_and_skip():
    assert plan(NODE, node="0").flags == []
    p = plan(NODE, skip="max-semi-space-size")
    assert p.flags == ["--max-old-space-size=819"]
    p = plan(NODE, skip="--max_old_space_size")
    assert p.flags == ["--max-semi-space-size=8"]


def test_ratio_setting():
    assert plan(NODE, lim=limits(mem=4 * GiB, cpus=2), node_heap_ratio="0.5").flags == [
        "--max-old-space-size=2048"]


def test_no_limit_adds_nothing():
    p = plan(["npm", "start"], lim=limits(**FIXTURES["none"]))
    assert "NODE_OPTIONS" not in p.added
    assert any("memory limit unlimited" in n for n in p.notes)


@pytest.mark.parametrize("cpus, expected", [(0.5, None), (2, None), (4, None), (4.5, "5"), (8, "8"), (400, "128")])
def test_threadpool_follows_the_cpus_above_libuvs_default(cpus, expected):
    lim = limits(mem=1 * GiB, cpus=cpus)
    lim.cpu.host = Value(512, "/sys/devices/system/cpu/online", "0-511")
    p = plan(NODE, lim=lim)
    assert p.added.get("UV_THREADPOOL_SIZE") == expected


def test_threadpool_users_value_and_skip_win():
    p = plan(NODE, {"UV_THREADPOOL_SIZE": "2"}, lim=limits(mem=1 * GiB, cpus=8))
    assert "UV_THREADPOOL_SIZE" not in p.added and p.env["UV_THREADPOOL_SIZE"] == "2"
    assert "left UV_THREADPOOL_SIZE alone: set by the user" in p.notes
    p = plan(NODE, lim=limits(mem=1 * GiB, cpus=8), skip="UV_THREADPOOL_SIZE")
    assert "UV_THREADPOOL_SIZE" not in p.added
    p = plan(["npm", "start"], lim=limits(mem=None, cpus=8))  # no memory limit: the pool still follows the CPUs
    assert p.added["UV_THREADPOOL_SIZE"] == "8"
