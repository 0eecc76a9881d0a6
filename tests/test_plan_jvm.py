"""JVM plans: table-driven over fixture limits, user settings in every place, off switches."""
from __future__ import annotations

import os

import pytest

from cgroupsize.runtimes import jvm
from cgroupsize.settings import Settings
from plan_fixtures import FIXTURES, GiB, LARGE, MEDIUM, MiB, SMALL, limits, plan, text

JAVA = ["java", "-jar", "app.jar"]


@pytest.mark.parametrize(
    "fixture, flags",
    [
        ("small", ["-XX:ActiveProcessorCount=1", "-XX:+UseSerialGC", "-Xmx124m", "-XX:MaxMetaspaceSize=67m",
                   "-XX:ReservedCodeCacheSize=11m", "-XX:MaxDirectMemorySize=67m"]),
        ("medium", ["-XX:ActiveProcessorCount=2", "-XX:+UseSerialGC", "-Xmx550m", "-XX:MaxMetaspaceSize=275m",
                    "-XX:ReservedCodeCacheSize=64m", "-XX:MaxDirectMemorySize=275m"]),
        ("large", ["-XX:ActiveProcessorCount=8", "-Xmx6396m", "-XX:MaxMetaspaceSize=921m",
                   "-XX:ReservedCodeCacheSize=240m", "-XX:MaxDirectMemorySize=921m"]),
        ("none", ["-XX:ActiveProcessorCount=16"]),
    ],
)
def test_flags_per_fixture(fixture, flags):
    p = plan(JAVA, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "jvm"
    assert p.flags == flags
    assert p.argv == ["java", *flags, "-jar", "app.jar"]  # right after java, before the user's
    assert "JAVA_TOOL_OPTIONS" not in p.added
    assert not p.warnings and not p.problems


def test_heap_note_names_the_limit_source_and_every_region():
    p = plan(JAVA, lim=limits(**MEDIUM))
    (note,) = [n for n in p.notes if n.startswith("-Xmx")]
    assert "1Gi limit (/sys/fs/cgroup/kubepods/pod1/ctr/memory.max)" in note
    for word in ("metaspace", "code cache", "threads x 1Mi stack", "direct", "internals", "Serial GC", "headroom"):
        assert word in note


@pytest.mark.parametrize("mib", [128, 160, 192, 200, 256, 300, 384, 512, 768, 1024, 1536, 1792, 2048, 3072,
                                 4096, 8192, 16384, 65536])
@pytest.mark.parametrize("cpus", [1, 2, 8])
def test_budget_properties(mib, cpus):
    limit = mib * MiB
    b = jvm.budget(limit, cpus, jvm.UserSettings(), Settings({"jvm_headroom": 0.05}))
    assert b.heap >= jvm.hotspot_heap(limit)  # never less than the JVM would take itself
    if b.sane:  # every bounded region plus the estimates fits the limit
        assert b.heap + b.non_heap() <= limit
        assert b.heap >= 0.4 * limit
    assert b.metaspace >= jvm.METASPACE_FLOOR and b.code >= jvm.CODE_FLOOR and b.direct >= jvm.DIRECT_FLOOR
    assert b.gc[0] == ("G1" if cpus >= 2 and limit >= 1792 * MiB else "Serial")
    assert (mib >= 192) == b.sane


@pytest.mark.parametrize("cpus, mibs", [(1, range(128, 16385, 64)), (2, range(128, 1792, 32)),
                                        (2, range(1792, 16385, 64))])
def test_heap_grows_with_the_limit(cpus, mibs):
    """Within one collector (at 1792Mi with 2+ CPUs the JVM moves to G1 and its ~40Mi of structures)."""
    heaps = [jvm.budget(m * MiB, cpus, jvm.UserSettings(), Settings()).heap for m in mibs]
    assert heaps == sorted(heaps)


@pytest.mark.parametrize("mib", [32, 64, 128, 160])
def test_too_small_degrades_and_warns_never_fails(mib):
    p = plan(JAVA, lim=limits(mem=mib * MiB, cpus=1))
    heap = [f for f in p.flags if f.startswith("-Xmx")]
    assert heap == [f"-Xmx{mib // 2}m"]  # HotSpot's own 50%, as the JVM would take anyway
    # metaspace and direct memory at their floors (16Mi, 4Mi) share one pool with the 5% headroom
    pool = f"{(16 + 4) + int(mib * 0.05)}m"
    assert f"-XX:MaxMetaspaceSize={pool}" in p.flags and f"-XX:MaxDirectMemorySize={pool}" in p.flags
    assert "-XX:ReservedCodeCacheSize=8m" in p.flags
    assert p.problems and p.problems[0] in p.warnings
    assert "too small for a sane JVM plan" in p.warnings[0]


# -- the user's settings win, wherever they are -----------------------------------------------


@pytest.mark.parametrize(
    "argv, env, where",
    [
        (["java", "-Xmx1g", "-jar", "app.jar"], {}, "the command line"),
        (["java", "-XX:MaxHeapSize=1073741824", "-cp", "x", "Main"], {}, "the command line"),
        (["java", "-XX:MaxRAMPercentage=75.0", "-jar", "a.jar"], {}, "the command line"),
        (["java", "-XX:MaxRAM=2g", "-jar", "a.jar"], {}, "the command line"),
        (["java", "-XX:+AggressiveHeap", "-jar", "a.jar"], {}, "the command line"),
        (["java", "-XX:MaxRAMFraction=2", "-jar", "a.jar"], {}, "the command line"),
        (JAVA, {"JAVA_TOOL_OPTIONS": "-Dx=1 -Xmx300m"}, "JAVA_TOOL_OPTIONS"),
        (JAVA, {"JDK_JAVA_OPTIONS": "-XX:MaxRAMPercentage=80"}, "JDK_JAVA_OPTIONS"),
        (JAVA, {"_JAVA_OPTIONS": "'-XX:MaxRAM=1g'"}, "_JAVA_OPTIONS"),
    ],
)
def test_user_heap_wins(argv, env, where):
    p = plan(argv, env)
    assert not any(f.startswith("-Xmx") for f in p.flags)
    assert f"left the heap alone: set by the user in {where}" in p.notes
    assert "-XX:MaxMetaspaceSize=275m" in p.flags  # the other regions are still bounded


@pytest.mark.parametrize(
    "argv",
    [
        ["java", "-jar", "app.jar", "-Xmx1g"],  # after -jar x: the application's arguments
        ["java", "-cp", "lib/*", "com.example.Main", "-Xmx1g"],
        ["java", "-m", "app/com.example.Main", "-Xmx1g"],
        ["java", "--module=app", "-Xmx1g"],
        ["java", "-cp", "-Xmx1g", "Main"],  # the value of -cp, not an option
    ],
)
def test_application_arguments_are_not_the_users_jvm_settings(argv):
    p = plan(argv)
    assert "-Xmx550m" in p.flags


@pytest.mark.parametrize(
    "flag, kind, label",
    [
        ("-Xss2m", "stack", None),
        ("-XX:ThreadStackSize=2048", "stack", None),
        ("-XX:MaxMetaspaceSize=300m", "metaspace", "-XX:MaxMetaspaceSize"),
        ("-XX:ReservedCodeCacheSize=100m", "code", "-XX:ReservedCodeCacheSize"),
        ("-XX:MaxDirectMemorySize=0", "direct", "-XX:MaxDirectMemorySize"),
        ("-XX:ActiveProcessorCount=4", "cpus", "-XX:ActiveProcessorCount"),
        ("-XX:+UseG1GC", "gc", None),
    ],
)
@pytest.mark.parametrize("place", ["argv", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"])
def test_user_regions_win_everywhere(flag, kind, label, place):
    argv = ["java", flag, "-jar", "a.jar"] if place == "argv" else JAVA
    env = {} if place == "argv" else {place: flag}
    p = plan(argv, env)
    ours = [f for f in p.flags if jvm.classify(f) and jvm.classify(f)[0] == kind]
    assert ours == []
    if label:
        where = "the command line" if place == "argv" else place
        assert f"left {label} alone: set by the user in {where}" in p.notes
    assert any(f.startswith("-Xmx") for f in p.flags)


def test_user_regions_enter_the_budget():
    base = plan(JAVA, lim=limits(**LARGE))
    bigger = plan(["java", "-Xss4m", "-XX:MaxMetaspaceSize=1g", "-jar", "a.jar"], lim=limits(**LARGE))
    heap = {p: int([f for f in p.flags if f.startswith("-Xmx")][0][4:-1]) for p in (base, bigger)}
    # metaspace +768Mi, stacks 250 x 3Mi more, internals +768/4; G1 takes 4% of the heap on top
    assert heap[base] - heap[bigger] == pytest.approx(((1024 - 256) + 250 * 3 + (1024 - 256) / 4) / 1.04, abs=3)


def test_user_gc_choice_is_kept_and_budgeted():
    p = plan(["java", "-XX:+UseZGC", "-jar", "a.jar"], lim=limits(**SMALL))
    assert "-XX:+UseSerialGC" not in p.flags
    assert "left the garbage collector alone: chosen by the user in the command line" in p.notes
    assert any("Z GC" in n for n in p.notes)


def test_argfile_settings_are_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jvm.args").write_text("# memory\n-Xmx700m\n-XX:MaxDirectMemorySize=1g\n\"-Dname=a b\"\n")
    (tmp_path / "cp.args").write_text("-cp lib/x.jar com.example.Main -Xss9m\n")
    p = plan(["java", "@jvm.args", "@cp.args", "--flag"])
    assert not any(f.startswith(("-Xmx", "-XX:MaxDirectMemorySize")) for f in p.flags)
    assert "left the heap alone: set by the user in an @argfile" in p.notes
    assert "-Xss9m" not in text(p)  # after the main class inside an argfile: the application's


def test_argfile_in_jdk_java_options_and_disabled_argfiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "opts").write_text("-XX:MaxRAMPercentage=60")
    p = plan(JAVA, {"JDK_JAVA_OPTIONS": "@opts"})
    assert "left the heap alone: set by the user in an @argfile" in p.notes
    p = plan(["java", "--disable-@files", "-cp", "x", "@opts"])  # @opts is the main class now
    assert any(f.startswith("-Xmx") for f in p.flags)


def test_unreadable_argfile_fails_open(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = plan(["java", "@missing.args", "-jar", "a.jar"])
    assert any(f.startswith("-Xmx") for f in p.flags)
    assert any(n.startswith("an @argfile was not read") for n in p.notes)
    os.mkfifo(tmp_path / "fifo.args")
    p = plan(["java", "@fifo.args", "-jar", "a.jar"])  # neither blocks nor drains the pipe
    assert any(f.startswith("-Xmx") for f in p.flags)


def test_vm_options_file(tmp_path):
    f = tmp_path / "vm.options"
    f.write_text("-Xmx512m\n")
    p = plan(JAVA, {"JAVA_TOOL_OPTIONS": f"-XX:VMOptionsFile={f}"})
    assert "left the heap alone: set by the user in a VMOptionsFile" in p.notes


def test_initial_heap_above_the_budget_leaves_the_heap_alone():
    p = plan(["java", "-Xms900m", "-jar", "a.jar"], lim=limits(mem=512 * MiB, cpus=1))
    assert not any(f.startswith("-Xmx") for f in p.flags)
    assert any("initial heap set by the user in the command line" in w for w in p.warnings)
    assert not p.problems
    p = plan(["java", "-Xms64m", "-jar", "a.jar"], lim=limits(mem=512 * MiB, cpus=1))
    assert any(f.startswith("-Xmx") for f in p.flags)


def test_user_heap_too_big_for_the_limit_warns_without_its_value():
    p = plan(JAVA, {"JAVA_TOOL_OPTIONS": "-Xmx987m -Dtoken=hunter2"}, lim=limits(mem=1 * GiB, cpus=2))
    assert any("heap set by the user in JAVA_TOOL_OPTIONS" in w for w in p.warnings)
    assert "987" not in text(p) and "hunter2" not in text(p)
    assert not p.problems


def test_notes_never_quote_the_users_values():
    env = {"JAVA_TOOL_OPTIONS": "-Xmx333m -Dpassword=s3cr3t", "JDK_JAVA_OPTIONS": "-Xss7m -Dkey=abc123",
           "_JAVA_OPTIONS": "-XX:MaxDirectMemorySize=77m"}
    p = plan(["java", "-XX:MaxMetaspaceSize=99m", "-Dapi=zzz", "-jar", "a.jar"], env)
    for secret in ("333", "s3cr3t", "7m", "abc123", "77m", "99m", "zzz"):
        assert secret not in text(p)


# -- where the flags go -------------------------------------------------------------------------


def test_script_gets_java_tool_options_prepended():
    p = plan(["./bin/start-server.sh", "--port", "80"], {"JAVA_TOOL_OPTIONS": "-Dfile.encoding=UTF-8"},
             runtime="jvm")
    assert p.runtime == "jvm" and p.flags == []
    assert p.argv == ["./bin/start-server.sh", "--port", "80"]
    ours = p.prepended["JAVA_TOOL_OPTIONS"]
    assert ours.startswith("-XX:ActiveProcessorCount=2 -XX:+UseSerialGC -Xmx550m")
    assert p.env["JAVA_TOOL_OPTIONS"] == ours + " -Dfile.encoding=UTF-8"  # the user's last: theirs win
    assert p.added["JAVA_TOOL_OPTIONS"] == p.env["JAVA_TOOL_OPTIONS"]


def test_script_java_opts_count_as_the_users():
    p = plan(["catalina.sh", "run"], {"JAVA_OPTS": "-Xmx2g"}, runtime="jvm")
    assert "-Xmx" not in p.prepended["JAVA_TOOL_OPTIONS"]
    assert "left the heap alone: set by the user in JAVA_OPTS" in p.notes


def test_java_opts_is_not_read_by_java_itself():
    p = plan(JAVA, {"JAVA_OPTS": "-Xmx2g"})
    assert "-Xmx550m" in p.flags


def test_long_java_tool_options_warns_for_jdk8():
    p = plan(["run.sh"], {"JAVA_TOOL_OPTIONS": "-Dx=" + "a" * 1000}, runtime="jvm")
    assert any("JDK 8 ignores it" in w for w in p.warnings)


# -- off switches -------------------------------------------------------------------------------


def test_off_switch():
    p = plan(JAVA, jvm="0")
    assert p.flags == [] and p.argv == JAVA
    assert set(p.added) == {"CONTAINER_MEMORY_LIMIT", "CONTAINER_CPU_LIMIT", "CONTAINER_CPU_COUNT"}
    assert "CGROUPSIZE_JVM is off: nothing added for jvm" in p.notes


@pytest.mark.parametrize(
    "skip, gone",
    [
        ("ActiveProcessorCount", "-XX:ActiveProcessorCount="),
        ("-XX:+UseSerialGC", "-XX:+UseSerialGC"),
        ("Xmx", "-Xmx"),
        ("MaxMetaspaceSize,ReservedCodeCacheSize", "-XX:MaxMetaspaceSize="),
        ("MaxDirectMemorySize", "-XX:MaxDirectMemorySize="),
    ],
)
def test_skip_one_knob(skip, gone):
    p = plan(JAVA, skip=skip)
    assert not any(f.startswith(gone) for f in p.flags)
    assert len(p.flags) >= 4
    assert any("listed in CGROUPSIZE_SKIP" in n for n in p.notes)


def test_threads_and_headroom_settings_move_the_heap():
    lim = limits(mem=2 * GiB, cpus=1)  # Serial GC (1% of the heap), nothing scaled down
    base = int(plan(JAVA, lim=lim).flags[2][4:-1])
    assert int(plan(JAVA, lim=lim, jvm_threads="250").flags[2][4:-1]) == pytest.approx((base * 1.01 - 122) / 1.01, abs=2)
    assert int(plan(JAVA, lim=lim, jvm_headroom="0").flags[2][4:-1]) == pytest.approx((base * 1.01 + 102) / 1.01, abs=2)


def test_old_jdk_gets_no_active_processor_count(tmp_path):
    jdk = tmp_path / "jdk8"
    (jdk / "bin").mkdir(parents=True)
    java = jdk / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    (jdk / "release").write_text('JAVA_VERSION="1.8.0_181"\nOS_NAME="Linux"\n')
    p = plan(JAVA, {"PATH": str(jdk / "bin")})
    assert not any(f.startswith("-XX:ActiveProcessorCount") for f in p.flags)
    assert "no -XX:ActiveProcessorCount: JDK 8u181 predates it (8u191)" in p.notes
    (jdk / "release").write_text('JAVA_VERSION="1.8.0_372"\n')
    assert plan(JAVA, {"PATH": str(jdk / "bin")}).flags[0] == "-XX:ActiveProcessorCount=2"


@pytest.mark.parametrize(
    "token, expected",
    [
        ("-Xmx1g", ("heap", GiB)),
        ("-Xmx512M", ("heap", 512 * MiB)),
        ("-Xmx1gb", ("heap", None)),  # set (so the user's), size unreadable
        ("-XX:MaxHeapSize=2147483648", ("heap", 2 * GiB)),
        ("-XX:ThreadStackSize=512", ("stack", 512 * 1024)),
        ("-XX:+UseParallelGC", ("gc", "Parallel")),
        ("-XX:-UseG1GC", ("gc", None)),
        ("-XX:-AggressiveHeap", None),
        ("-XX:MaxMetaspaceSize", None),
        ("-Xmxfoo", ("heap", None)),
        ("-Dxmx=1", None),
        ("-XX:MaxRAMPercentage=75.0", ("heap", None)),
    ],
)
def test_classify(token, expected):
    assert jvm.classify(token) == expected


def test_user_settings_precedence_is_hotspots():
    """JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS < command line < _JAVA_OPTIONS: the last source wins."""
    from cgroupsize.identify import Target

    t = Target("jvm", "direct", "java")
    env = {"JAVA_TOOL_OPTIONS": "-Xss1m", "JDK_JAVA_OPTIONS": "-Xss2m", "_JAVA_OPTIONS": "-Xss4m"}
    found = jvm.user_settings(t, ["java", "-Xss3m", "Main"], env)
    assert found.found["stack"] == ("_JAVA_OPTIONS", 4 * MiB)
    del env["_JAVA_OPTIONS"]
    assert jvm.user_settings(t, ["java", "-Xss3m", "Main"], env).found["stack"] == ("the command line", 3 * MiB)


def test_plan_is_pure():
    env = {"JAVA_TOOL_OPTIONS": "-Dx=1"}
    argv = list(JAVA)
    before = dict(os.environ)
    plan(argv, env, runtime="jvm")
    assert env == {"JAVA_TOOL_OPTIONS": "-Dx=1"} and argv == JAVA and dict(os.environ) == before
