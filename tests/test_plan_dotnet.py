""".NET plans: set only what the runtime would miss (or always, when asked); hex heap limits."""
from __future__ import annotations

import pytest

from tests.support.plans import FIXTURES, GiB, MiB, limits, ours, plan

DOTNET = ["dotnet", "App.dll"]


@pytest.mark.parametrize("fixture", ["small", "medium", "large", "none"])
def test_limits_in_our_own_cgroup_are_left_to_dotnet(fixture):
    p = plan(DOTNET, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "dotnet" and ours(p) == {}


@pytest.mark.parametrize(
    "where, fixture, expected",
    [
        ("parent", "small", {"DOTNET_GCHeapHardLimit": "0xC000000", "DOTNET_PROCESSOR_COUNT": "1"}),
        ("parent", "medium", {"DOTNET_GCHeapHardLimit": "0x30000000", "DOTNET_PROCESSOR_COUNT": "2"}),
        ("override", "large", {"DOTNET_GCHeapHardLimit": "0x180000000", "DOTNET_PROCESSOR_COUNT": "8"}),
        ("parent", "none", {}),
    ],
)
def test_limits_the_runtime_would_miss(where, fixture, expected):
    p = plan(DOTNET, lim=limits(**FIXTURES[fixture], where=where))
    assert ours(p) == expected
    if expected:
        value = int(expected["DOTNET_GCHeapHardLimit"], 16)
        assert value == int(0.75 * FIXTURES[fixture]["mem"])
        assert any("in hexadecimal as .NET reads it" in n for n in p.notes)


def test_always():
    p = plan(DOTNET, lim=limits(mem=1 * GiB, cpus=1.5), dotnet="always")
    assert ours(p) == {"DOTNET_GCHeapHardLimit": "0x30000000", "DOTNET_PROCESSOR_COUNT": "2"}
    assert plan(DOTNET, lim=limits(mem=16 * MiB), dotnet="always").added["DOTNET_GCHeapHardLimit"] == \
        f"0x{20_000_000:X}"  # .NET's own 20MB floor


@pytest.mark.parametrize(
    "env",
    [
        {"DOTNET_GCHeapHardLimit": "0x10000000"},
        {"DOTNET_GCHeapHardLimitPercent": "0x32"},
        {"COMPlus_GCHeapHardLimit": "0x10000000"},
        {"DOTNET_GCHeapHardLimitSOH": "0x8000000"},
    ],
)
def test_users_heap_limit_wins(env):
    p = plan(DOTNET, env, lim=limits(mem=1 * GiB, cpus=2), dotnet="always")
    assert "DOTNET_GCHeapHardLimit" not in p.added
    assert any(n.startswith("left the GC heap limit alone: set by the user in") for n in p.notes)
    assert list(env.values())[0] not in "\n".join(p.notes)


def test_users_processor_count_wins_and_settings():
    p = plan(DOTNET, {"DOTNET_PROCESSOR_COUNT": "4"}, dotnet="always")
    assert "DOTNET_PROCESSOR_COUNT" not in p.added
    assert ours(plan(DOTNET, lim=limits(**FIXTURES["medium"], where="parent"), dotnet="off")) == {}
    p = plan(DOTNET, lim=limits(mem=1 * GiB, where="parent"), dotnet_heap_ratio="0.5")
    assert p.added["DOTNET_GCHeapHardLimit"] == "0x20000000"


def test_apphost_is_identified(tmp_path):
    make = tmp_path / "MyApp"
    from tests.support.plans import make_elf

    make_elf(make)  # a native binary without Go build info
    (tmp_path / "MyApp.runtimeconfig.json").write_text("{}")
    p = plan(["MyApp"], {"PATH": str(tmp_path)}, lim=limits(**FIXTURES["medium"], where="parent"))
    assert p.runtime == "dotnet" and "DOTNET_GCHeapHardLimit" in p.added
