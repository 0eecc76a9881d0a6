"""Go plans: GOMEMLIMIT always (with a limit), GOMAXPROCS only where the binary misses the quota."""
from __future__ import annotations

import pytest

from cgroupsize.runtimes import go
from tests.support.plans import FIXTURES, MiB, go_buildinfo_blob, limits, make_elf, ours, plan

GODEBUG_OLD = "path\texample.com/app\nbuild\tDefaultGODEBUG=containermaxprocs=0,updatemaxprocs=0\n"


@pytest.fixture
def gobin(tmp_path):
    """``(name, env)`` of a Go binary on PATH built with ``version`` (and ``modinfo``)."""

    def build(version="go1.24.3", modinfo=None, old=False):
        blob = go_buildinfo_blob(version, modinfo, old=old) if modinfo else go_buildinfo_blob(version, old=old)
        make_elf(tmp_path / "server", blob)
        return ["server", "--port=80"], {"PATH": str(tmp_path)}

    return build


@pytest.mark.parametrize(
    "version, modinfo, fixture, expected",
    [
        ("go1.24.3", None, "small", {"GOMEMLIMIT": "230MiB", "GOMAXPROCS": "1"}),
        ("go1.24.3", None, "medium", {"GOMEMLIMIT": "921MiB", "GOMAXPROCS": "2"}),
        ("go1.24.3", None, "large", {"GOMEMLIMIT": "7372MiB", "GOMAXPROCS": "8"}),
        ("go1.24.3", None, "none", {}),
        ("go1.25.0", None, "medium", {"GOMEMLIMIT": "921MiB"}),  # Go 1.25 follows the quota itself
        ("go1.26.1", None, "large", {"GOMEMLIMIT": "7372MiB"}),
        ("go1.25.0", GODEBUG_OLD, "medium", {"GOMEMLIMIT": "921MiB", "GOMAXPROCS": "2"}),  # old go line
        ("devel go1.26-abcdef", None, "medium", {"GOMEMLIMIT": "921MiB"}),
        ("go1.16", "old", "medium", {"GOMEMLIMIT": "921MiB", "GOMAXPROCS": "2"}),  # pre-1.18 format
    ],
)
def test_plan_per_fixture(gobin, version, modinfo, fixture, expected):
    argv, env = gobin(version, None if modinfo == "old" else modinfo, old=modinfo == "old")
    p = plan(argv, env, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "go"
    assert ours(p) == expected
    assert p.argv == argv and p.flags == []


def test_go_125_misses_a_parent_quota(gobin):
    argv, env = gobin("go1.25.0")
    p = plan(argv, env, lim=limits(mem=1 << 30, cpus=2, where="parent"))
    assert p.added["GOMAXPROCS"] == "2"
    assert any("Go reads only its own cgroup's cpu.max" in n for n in p.notes)
    p = plan(argv, env, lim=limits(mem=1 << 30, cpus=2, where="override"))
    assert p.added["GOMAXPROCS"] == "2"


def test_cpuset_is_seen_by_every_go(gobin):
    argv, env = gobin("go1.20.1")
    p = plan(argv, env, lim=limits(mem=1 << 30, cpuset=2))
    assert "GOMAXPROCS" not in p.added
    assert any("no CPU quota binds" in n for n in p.notes)


@pytest.mark.parametrize(
    "env, kept",
    [
        ({"GOMEMLIMIT": "100MiB"}, "GOMEMLIMIT"),
        ({"AUTOMEMLIMIT": "0.8"}, "GOMEMLIMIT"),
        ({"AUTOMEMLIMIT": "off"}, "GOMEMLIMIT"),
        ({"GOMAXPROCS": "13"}, "GOMAXPROCS"),
        ({"GODEBUG": "containermaxprocs=0"}, "GOMAXPROCS"),
    ],
)
def test_user_settings_win(gobin, env, kept):
    argv, base = gobin("go1.24.3")
    p = plan(argv, {**base, **env})
    assert kept not in p.added
    assert any(n.startswith(f"left {kept} alone") for n in p.notes)
    for value in env.values():
        assert value not in "\n".join(p.notes)


@pytest.mark.parametrize("mib, expected", [(32, "25MiB"), (63, "50MiB"), (64, "57MiB"), (512, "460MiB")])
def test_small_limits_keep_more_headroom(mib, expected):
    value, _ = go.memlimit(mib * MiB, None)
    assert f"{value // MiB}MiB" == expected


def test_settings(gobin):
    argv, env = gobin("go1.26.0")
    p = plan(argv, env, go="always")
    assert p.added["GOMAXPROCS"] == "2" and any("CGROUPSIZE_GO=always" in n for n in p.notes)
    p = plan(argv, env, go="off")
    assert ours(p) == {}
    p = plan(argv, env, go_memlimit_ratio="0.5")
    assert p.added["GOMEMLIMIT"] == "512MiB"
    p = plan(argv, env, skip="GOMEMLIMIT")
    assert ours(p) == {}


def test_forced_go_runtime_with_unknown_version():
    p = plan(["./start.sh"], runtime="go")
    assert p.runtime == "go"
    assert ours(p) == {"GOMEMLIMIT": "921MiB", "GOMAXPROCS": "2"}
    assert any("the Go version is unknown" in n for n in p.notes)
