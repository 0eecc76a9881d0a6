"""JVM plans: the budget's decisions over fixture limits, the user's settings in every place, switches."""
from __future__ import annotations

import os
import zipfile

import pytest
from hypothesis import example, given, settings, strategies as st

from cgroupsize.runtimes import jvm
from tests.support.plans import FIXTURES, GiB, LARGE, MEDIUM, MiB, SMALL, limits, plan, text

JAVA = ["java", "-jar", "app.jar"]  # app.jar does not exist: 0 classes counted, the JDK's own remain


def flag(p, knob):
    """The flag a plan added for ``knob`` (None if it added none)."""
    d = p.decision(knob)
    return d.value if d is not None and d.action == "flag" else None


def size_of(p, knob):
    """Bytes of the -Xmx / -XX:Name=NNNm flag the plan added for ``knob``."""
    value = flag(p, knob)
    return int(value.rsplit("=", 1)[-1].removeprefix("-Xmx")[:-1]) * MiB


def region(p, name):
    (line,) = [b for b in p.budget if b.region == name]
    return line


def make_jar(path, classes, class_size=2000):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(classes):
            z.writestr(f"p/C{i}.class", b"\0" * class_size)
    return str(path)


# -- the budget ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["small", "medium", "large"])
def test_every_cap_is_a_budget_line_and_they_add_up(fixture):
    lim = limits(**FIXTURES[fixture])
    p = plan(JAVA, lim=lim)
    assert p.runtime == "jvm" and not p.problems
    assert p.argv[1:len(p.flags) + 1] == p.flags and p.argv[-2:] == ["-jar", "app.jar"]  # ours first
    assert [b.region for b in p.budget] == ["heap", "metaspace", "code cache", "direct memory", "thread stacks",
                                            "JVM internals", "headroom", "GC structures"]
    assert sum(b.size for b in p.budget) <= lim.memory_limit
    assert size_of(p, "Xmx") == region(p, "heap").size
    # each cap the JVM enforces is exactly its own line: no cap handed to two regions
    assert size_of(p, "MaxMetaspaceSize") <= region(p, "metaspace").size < size_of(p, "MaxMetaspaceSize") + MiB
    assert size_of(p, "ReservedCodeCacheSize") <= region(p, "code cache").size
    assert size_of(p, "MaxDirectMemorySize") <= region(p, "direct memory").size
    assert region(p, "metaspace").source == "count"
    assert region(p, "thread stacks").source == "assumption"
    assert p.decision("Xmx").source == "limit"


def test_no_limit_no_memory_flags():
    p = plan(JAVA, lim=limits(mem=None, cpus=None))
    assert p.flags == ["-XX:ActiveProcessorCount=16", "-XX:+ExitOnOutOfMemoryError"]
    assert p.decision("Xmx").action == "none" and p.budget == []


@given(mib=st.integers(1, 256 * 1024), cpus=st.integers(1, 64), classes=st.integers(0, 200_000),
       threads=st.none() | st.integers(1, 5000), headroom=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
       stack_k=st.sampled_from([None, 228, 512, 1024, 8192]), gc=st.sampled_from([None, "G1", "Parallel", "Z"]))
@example(mib=256, cpus=1, classes=0, threads=None, headroom=0.05, stack_k=None, gc=None)
@example(mib=300, cpus=2, classes=0, threads=None, headroom=0.05, stack_k=None, gc=None)
@settings(max_examples=400, deadline=None)
def test_budget_adds_up_and_never_undercuts_hotspot(mib, cpus, classes, threads, headroom, stack_k, gc):
    limit = mib * MiB
    found = jvm.UserSettings()
    if stack_k:
        found.add("stack", "the command line", stack_k * 1024)
    if gc:
        found.add("gc", "the command line", gc)
    count = jvm.Classes(classes, "count", "counted", classes * 2000, 0)
    b = jvm.budget(jvm.Needs(limit, cpus, found, count, threads, headroom))
    assert b.heap.size >= jvm.hotspot_heap(limit)  # never less than the JVM would take by itself
    assert b.heap.size % (2 * MiB) == 0
    for r in b.regions.values():
        assert r.size >= r.floor >= 0
    if b.sane:  # every cap and every estimate together fit the limit
        assert b.total() <= limit
    else:  # too small even with every region at its floor: nothing shrunk (it would only add ways to fail)
        assert b.squeezed == [] and b.heap.size == max(jvm.hotspot_heap(limit), jvm.HEAP_FLOOR)
    if b.sane:
        assert b.regions["metaspace"].size >= int(jvm.metaspace_need(count) * jvm.METASPACE_SLACK_MIN)
    else:  # never more metaspace than the limit could hold beside the heap and the other floors
        others = sum(r.floor for k, r in b.regions.items() if k not in ("metaspace", "GC structures"))
        held = limit - b.heap.size - b.regions["GC structures"].size - others
        assert b.regions["metaspace"].size <= max(held, jvm.metaspace_least(count), jvm.METASPACE_CAP_MIN) + 2
        assert b.regions["metaspace"].size >= min(jvm.metaspace_least(count), int(
            jvm.metaspace_need(count) * jvm.METASPACE_SLACK))


_OPTS = st.sampled_from(["-Xmx", "-Xms", "-Xss", "-Xmn", "-XX:MaxRAMPercentage=", "-XX:MinRAMFraction=", "-XX:MaxRAM=",
                         "-XX:InitialCodeCacheSize=", "-XX:MaxMetaspaceSize=", "-XX:+UseG1GC", "-XX:-UseSerialGC",
                         "-XX:Flags=", "@", "-cp", "-jar", "-XX:ThreadStackSize=", "-XX:MinHeapSize=", ""])


@given(st.lists(st.tuples(_OPTS, st.text(max_size=12)), max_size=8), st.integers(1, 64 * 1024))
@settings(max_examples=300, deadline=None)
def test_any_command_line_gives_a_plan(parts, mib):
    p = plan(["java", *(o + v for o, v in parts), "-version"], lim=limits(mem=mib * MiB, cpus=2))
    assert p.runtime == "jvm"
    assert all(b.size >= 0 for b in p.budget)


@pytest.mark.parametrize("mib, heap", [(128, 64), (200, 100), (240, 120), (249, 126), (256, 126), (280, 126),
                                       (300, 126), (499, 126), (512, 128), (768, 192), (1024, 256), (2048, 512)])
def test_hotspot_heap_is_what_jdk17_picks(mib, heap):
    """PrintFlagsFinal MaxHeapSize of JDK 17.0.15 in a memory cgroup of ``mib`` (Serial and G1 alike)."""
    assert jvm.hotspot_heap(mib * MiB) == heap * MiB


@pytest.mark.parametrize("mib", range(240, 310, 2))
def test_never_below_hotspots_own_heap_at_256_to_300(mib):
    p = plan(JAVA, lim=limits(mem=mib * MiB, cpus=1))
    assert size_of(p, "Xmx") >= (126 if mib >= 250 else mib // 2) * MiB


def test_heap_only_application_at_1gi_keeps_a_576mi_live_set():
    """Serial completes a live set of ~93% of -Xmx (measured with 0.1.0: 512 of -Xmx550m)."""
    p = plan(JAVA, lim=limits(mem=1 * GiB, cpus=2))
    assert size_of(p, "Xmx") * 0.93 >= 576 * MiB


def test_heap_grows_with_the_limit():
    heaps = [size_of(plan(JAVA, lim=limits(mem=m * MiB, cpus=1)), "Xmx") for m in range(128, 8192, 64)]
    assert heaps == sorted(heaps)


def test_too_small_keeps_the_usual_caps(tmp_path):
    """35k classes + the JDK's at 512Mi do not fit with a heap: the direct-memory cap is not cut to 16Mi,
    metaspace gets what the limit can hold (more than the classes need, less than the slack would ask)."""
    p = plan(["java", "-cp", make_jar(tmp_path / "a.jar", 35_000, 2600), "Main"], lim=limits(mem=512 * MiB, cpus=2))
    assert p.problems
    assert size_of(p, "MaxDirectMemorySize") == 72 * MiB and size_of(p, "Xmx") == 128 * MiB
    assert 35_000 * (2000 + 2 * 2600) < size_of(p, "MaxMetaspaceSize") < (512 - 128 - 64) * MiB
    assert "capped at what the limit can hold" in region(p, "metaspace").note


@pytest.mark.parametrize("mem", [1, 2, 1000, 32 * MiB, 100 * MiB])
def test_too_small_is_a_problem_at_one_byte_as_at_two(mem):
    p = plan(JAVA, lim=limits(mem=mem, cpus=1))
    assert p.problems and p.problems[0] in p.warnings
    assert "too small for the JVM plan" in p.problems[0]
    assert size_of(p, "Xmx") == max(jvm.hotspot_heap(mem), jvm.HEAP_FLOOR)  # what the JVM takes anyway


# -- classes ---------------------------------------------------------------------------------------------


def test_metaspace_follows_the_counted_classes(tmp_path):
    small = plan(["java", "-jar", make_jar(tmp_path / "s.jar", 10_000)], lim=limits(mem=2 * GiB, cpus=1))
    big = plan(["java", "-jar", make_jar(tmp_path / "b.jar", 30_000)], lim=limits(mem=2 * GiB, cpus=1))
    grown = size_of(big, "MaxMetaspaceSize") - size_of(small, "MaxMetaspaceSize")
    per_class = (jvm.METASPACE_PER_CLASS + 2 * 2000) * jvm.METASPACE_SLACK
    assert grown == pytest.approx(20_000 * per_class, rel=0.01)
    assert region(big, "metaspace").source == "count"
    assert "30000 classes counted" in region(big, "metaspace").note
    # the heap paid for it (and for the JVM's per-class internals), not the code cache or direct memory
    assert size_of(big, "ReservedCodeCacheSize") == size_of(small, "ReservedCodeCacheSize")
    assert size_of(big, "MaxDirectMemorySize") == size_of(small, "MaxDirectMemorySize")
    internals = 20_000 * jvm.INTERNALS_PER_CLASS
    assert size_of(small, "Xmx") - size_of(big, "Xmx") == pytest.approx((grown + internals) / 1.004, abs=4 * MiB)


def test_metaspace_leaves_room_for_classes_made_at_run_time(tmp_path):
    """Proxies, lambdas and scripting engines make classes no jar holds: where the limit has room, a small
    count does not cap below that."""
    p = plan(["java", "-jar", make_jar(tmp_path / "s.jar", 100)], lim=limits(mem=512 * MiB, cpus=1))
    assert size_of(p, "MaxMetaspaceSize") >= jvm.METASPACE_RUNTIME_MIN


def test_35k_classes_at_512mi_get_their_metaspace(tmp_path):
    """Plain java runs 35k classes at 512Mi (peak ~270Mi); the plan must not cap them below their need."""
    p = plan(["java", "-cp", make_jar(tmp_path / "a.jar", 35_000, 1900), "Main"], lim=limits(mem=512 * MiB, cpus=2))
    assert size_of(p, "MaxMetaspaceSize") >= 35_000 * 4.8 * 1024 * 1.2  # 4.7 KiB per class measured by jvm-bench
    assert size_of(p, "Xmx") >= 126 * MiB


def test_declared_classes_override_the_count(tmp_path):
    p = plan(["java", "-jar", make_jar(tmp_path / "a.jar", 10)], jvm_classes="40000", lim=limits(**LARGE))
    assert region(p, "metaspace").source == "user"
    assert size_of(p, "MaxMetaspaceSize") >= 40_000 * 8000 * 1.5


def test_no_count_possible_assumes_generously_and_says_so(tmp_path):
    (tmp_path / "bad.jar").write_bytes(b"not a jar")
    for p in (plan(["java", "-cp", str(tmp_path / "bad.jar"), "Main"], lim=limits(**LARGE)),
              plan(["./start.sh"], runtime="jvm", lim=limits(**LARGE))):
        line = region(p, "metaspace")
        assert line.source == "assumption" and "15000 classes assumed" in line.note
        assert "CGROUPSIZE_JVM_CLASSES" in line.note
        assert size_of(p, "MaxMetaspaceSize") >= 15_000 * 8000 * 1.5


def test_users_metaspace_is_not_counted_for():
    p = plan(["java", "-XX:MaxMetaspaceSize=300m", "-jar", "a.jar"], lim=limits(**LARGE))
    assert flag(p, "MaxMetaspaceSize") is None
    assert region(p, "metaspace").size == 300 * MiB and region(p, "metaspace").source == "user"


# -- threads -------------------------------------------------------------------------------------------


def test_threads_default_to_a_server_and_cost_touched_stack():
    line = region(plan(JAVA, lim=limits(**MEDIUM)), "thread stacks")
    assert line.source == "assumption"
    assert line.size == (200 + jvm.own_threads(2)) * 256 * 1024


def test_declared_threads_shrink_the_heap_first():
    lim = limits(mem=512 * MiB, cpus=2)
    base = plan(JAVA, lim=lim)
    more = plan(JAVA, lim=lim, jvm_threads="400")
    assert region(more, "thread stacks").source == "user"
    assert size_of(more, "MaxMetaspaceSize") == size_of(base, "MaxMetaspaceSize")
    assert size_of(more, "ReservedCodeCacheSize") == size_of(base, "ReservedCodeCacheSize")
    assert size_of(base, "Xmx") - size_of(more, "Xmx") == pytest.approx(200 * 256 * 1024, abs=3 * MiB)
    most = plan(JAVA, lim=lim, jvm_threads="1000")  # the heap is at HotSpot's floor: now the others give way
    assert size_of(most, "Xmx") == 128 * MiB
    assert size_of(most, "ReservedCodeCacheSize") < size_of(base, "ReservedCodeCacheSize")


def test_users_stack_size_bounds_the_cost():
    p = plan(["java", "-Xss180k", "-jar", "a.jar"])
    assert region(p, "thread stacks").size == (200 + jvm.own_threads(2)) * 180 * 1024
    p = plan(["java", "-Xss4m", "-jar", "a.jar"])
    assert region(p, "thread stacks").size == (200 + jvm.own_threads(2)) * 1 * MiB


# -- the user's settings win, wherever they are -----------------------------------------------------------


@pytest.mark.parametrize(
    "argv, env, where",
    [
        (["java", "-Xmx1g", "-jar", "app.jar"], {}, "the command line"),
        (["java", "-XX:MaxHeapSize=1073741824", "-cp", "x", "Main"], {}, "the command line"),
        (["java", "-XX:MaxRAMPercentage=75.0", "-jar", "a.jar"], {}, "the command line"),
        (["java", "-XX:MinRAMPercentage=60", "-jar", "a.jar"], {}, "the command line"),
        (["java", "-XX:MinRAMFraction=2", "-jar", "a.jar"], {}, "the command line"),
        (["java", "-XX:InitialRAMPercentage=50", "-jar", "a.jar"], {}, "the command line"),
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
    d = p.decision("Xmx")
    assert d.action == "left" and d.source == "user" and d.reason == f"set by the user in {where}"
    assert flag(p, "MaxMetaspaceSize") is not None  # the other regions are still bounded


@pytest.mark.parametrize("token, heap", [("-XX:MaxRAMPercentage=75", 768), ("-XX:MaxRAMFraction=2", 512),
                                         ("-XX:MinRAMPercentage=80", 256), ("-Xmx300m", 300),
                                         ("-XX:MaxRAM=512m", 128), ("-XX:InitialRAMPercentage=10", 256)])
def test_users_heap_enters_the_budget(token, heap):
    p = plan(["java", token, "-jar", "a.jar"], lim=limits(mem=1 * GiB, cpus=2))
    assert region(p, "heap").size == heap * MiB and region(p, "heap").source == "user"


@pytest.mark.parametrize("token", ["-XX:MaxRAMPercentage=nan", "-XX:MaxRAMPercentage=inf", "-XX:MinRAMFraction=0",
                                   "-XX:MaxRAMPercentage=-5", "-XX:MaxRAM=zz", "-XX:MaxRAMFraction=1e400"])
def test_odd_heap_settings_are_the_users_and_never_break_the_plan(token):
    p = plan(["java", token, "-jar", "a.jar"], lim=limits(mem=1 * GiB, cpus=2))
    assert p.decision("Xmx").source == "user"
    assert region(p, "heap").size == 256 * MiB  # HotSpot's own rule: java refuses the odd value anyway


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
    assert plan(argv).decision("Xmx").action == "flag"


@pytest.mark.parametrize(
    "flag_, knob",
    [
        ("-Xss2m", None),
        ("-XX:ThreadStackSize=2048", None),
        ("-XX:MaxMetaspaceSize=300m", "MaxMetaspaceSize"),
        ("-XX:ReservedCodeCacheSize=100m", "ReservedCodeCacheSize"),
        ("-XX:MaxDirectMemorySize=0", "MaxDirectMemorySize"),
        ("-XX:ActiveProcessorCount=4", "ActiveProcessorCount"),
        ("-XX:+UseG1GC", "UseSerialGC"),
        ("-XX:+CrashOnOutOfMemoryError", "ExitOnOutOfMemoryError"),
        ("-XX:OnOutOfMemoryError=kill", "ExitOnOutOfMemoryError"),
    ],
)
@pytest.mark.parametrize("place", ["argv", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"])
def test_user_regions_win_everywhere(flag_, knob, place):
    argv = ["java", flag_, "-jar", "a.jar"] if place == "argv" else JAVA
    env = {} if place == "argv" else {place: flag_}
    p = plan(argv, env, lim=limits(mem=1 * GiB, cpus=1))
    if knob:
        d = p.decision(knob)
        assert d.action == "left" and d.source == "user"
        assert d.reason.endswith("the command line" if place == "argv" else place)
    assert flag(p, "Xmx") is not None


def test_flags_file_is_read(tmp_path):
    f = tmp_path / "flags"
    f.write_text("# comment\n+UseParallelGC\nMaxHeapSize=300m\n")
    p = plan(["java", f"-XX:Flags={f}", "-jar", "a.jar"], lim=limits(mem=512 * MiB, cpus=1))
    assert flag(p, "UseSerialGC") is None and flag(p, "Xmx") is None
    assert p.decision("Xmx").reason == "set by the user in a -XX:Flags file"
    assert region(p, "GC structures").note.startswith("Parallel")


@pytest.mark.parametrize("argv", [["java", "@missing.args", "-jar", "a.jar"],
                                  ["java", "-XX:Flags=/nonexistent/flags", "-jar", "a.jar"]])
def test_unread_settings_file_adds_only_what_cannot_conflict(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = plan(argv, lim=limits(mem=512 * MiB, cpus=1))
    for knob in ("Xmx", "UseSerialGC", "ReservedCodeCacheSize"):  # -Xms, a GC, InitialCodeCacheSize in it
        assert p.decision(knob).action == "none", knob
    for knob in ("ActiveProcessorCount", "MaxMetaspaceSize", "MaxDirectMemorySize", "ExitOnOutOfMemoryError"):
        assert flag(p, knob) is not None, knob


def test_fifo_argfile_is_neither_read_nor_blocking(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo.args")
    p = plan(["java", "@fifo.args", "-jar", "a.jar"])
    assert p.decision("Xmx").action == "none"


def test_initial_code_cache_above_ours_raises_the_reserve():
    p = plan(["java", "-XX:InitialCodeCacheSize=64m", "-jar", "a.jar"], lim=limits(mem=256 * MiB, cpus=1))
    assert size_of(p, "ReservedCodeCacheSize") >= 40 * MiB


def test_initial_heap_above_the_budget_sets_the_heap_to_it():
    p = plan(["java", "-Xms400m", "-jar", "a.jar"], lim=limits(mem=512 * MiB, cpus=1))
    assert size_of(p, "Xmx") == 400 * MiB  # java refuses -Xms above -Xmx: never below it
    assert not p.problems
    p = plan(["java", "-Xms900m", "-jar", "a.jar"], lim=limits(mem=512 * MiB, cpus=1))
    assert size_of(p, "Xmx") == 900 * MiB and p.warnings and not p.problems


def test_young_generation_keeps_an_old_one():
    p = plan(["java", "-Xmn300m", "-jar", "a.jar"], lim=limits(mem=512 * MiB, cpus=1))
    assert size_of(p, "Xmx") >= 450 * MiB


def test_argfile_settings_are_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jvm.args").write_text("# memory\n-Xmx700m\n-XX:MaxDirectMemorySize=1g\n\"-Dname=a b\"\n")
    (tmp_path / "cp.args").write_text("-cp lib/x.jar com.example.Main -Xss9m\n")
    p = plan(["java", "@jvm.args", "@cp.args", "--flag"])
    assert flag(p, "Xmx") is None and flag(p, "MaxDirectMemorySize") is None
    assert p.decision("Xmx").reason == "set by the user in an @argfile"
    assert "-Xss9m" not in text(p)


def test_vm_options_file(tmp_path):
    f = tmp_path / "vm.options"
    f.write_text("-Xmx512m\n")
    p = plan(JAVA, {"JAVA_TOOL_OPTIONS": f"-XX:VMOptionsFile={f}"})
    assert p.decision("Xmx").reason == "set by the user in a VMOptionsFile"


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


# -- deaths that explain themselves ----------------------------------------------------------------


def test_exit_on_out_of_memory_by_default_with_an_off_switch():
    assert flag(plan(JAVA), "ExitOnOutOfMemoryError") == "-XX:+ExitOnOutOfMemoryError"
    assert plan(JAVA, jvm_exit_on_oom="0").decision("ExitOnOutOfMemoryError").action == "none"
    assert plan(JAVA, skip="ExitOnOutOfMemoryError").decision("ExitOnOutOfMemoryError").action == "left"


def test_heap_dump_dir_is_created_with_a_path_per_process(tmp_path):
    folder = tmp_path / "dumps" / "deep"
    p = plan(JAVA, heap_dump_dir=str(folder))
    assert folder.is_dir()
    assert flag(p, "HeapDumpOnOutOfMemoryError") == "-XX:+HeapDumpOnOutOfMemoryError"
    path = flag(p, "HeapDumpPath").split("=", 1)[1]
    assert path.startswith(str(folder) + "/java-%p-") and path.endswith("Z.hprof")


def test_unwritable_heap_dump_dir_is_a_user_mistake(tmp_path):
    from cgroupsize.settings import SettingError

    (tmp_path / "file").write_text("")
    with pytest.raises(SettingError, match="CGROUPSIZE_HEAP_DUMP_DIR"):
        plan(JAVA, heap_dump_dir=str(tmp_path / "file" / "sub"))


def test_diagnostics_switch():
    p = plan(JAVA, jvm_diagnostics="1")
    for f in ("-XX:NativeMemoryTracking=summary", "-XX:+PrintNMTStatistics", "-Xlog:gc,gc+heap+exit:stderr"):
        assert f in p.flags
    assert "-XX:NativeMemoryTracking=summary" not in plan(JAVA).flags


def test_diagnostics_on_jdk8_log_gc_without_xlog(tmp_path):
    jdk = tmp_path / "jdk8"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").write_text("#!/bin/sh\n")
    (jdk / "bin" / "java").chmod(0o755)
    (jdk / "release").write_text('JAVA_VERSION="1.8.0_372"\n')
    p = plan(JAVA, {"PATH": str(jdk / "bin")}, jvm_diagnostics="1")
    assert "-XX:+PrintGCDetails" in p.flags and not any(f.startswith("-Xlog") for f in p.flags)


# -- where the flags go -------------------------------------------------------------------------


def test_script_gets_java_tool_options_prepended():
    p = plan(["./bin/start-server.sh", "--port", "80"], {"JAVA_TOOL_OPTIONS": "-Dfile.encoding=UTF-8"},
             runtime="jvm")
    assert p.runtime == "jvm" and p.flags == []
    assert p.argv == ["./bin/start-server.sh", "--port", "80"]
    ours = p.prepended["JAVA_TOOL_OPTIONS"]
    assert ours.startswith("-XX:ActiveProcessorCount=2 -XX:+UseSerialGC -Xmx")
    assert p.env["JAVA_TOOL_OPTIONS"] == ours + " -Dfile.encoding=UTF-8"  # the user's last: theirs win


def test_script_java_opts_count_as_the_users():
    p = plan(["catalina.sh", "run"], {"JAVA_OPTS": "-Xmx2g"}, runtime="jvm")
    assert "-Xmx" not in p.prepended["JAVA_TOOL_OPTIONS"]
    assert p.decision("Xmx").reason == "set by the user in JAVA_OPTS"


def test_java_opts_is_not_read_by_java_itself():
    assert plan(JAVA, {"JAVA_OPTS": "-Xmx2g"}).decision("Xmx").action == "flag"


def test_long_java_tool_options_warns_for_jdk8():
    p = plan(["run.sh"], {"JAVA_TOOL_OPTIONS": "-Dx=" + "a" * 1000}, runtime="jvm")
    assert any("JDK 8 ignores it" in w for w in p.warnings)


# -- off switches -------------------------------------------------------------------------------


def test_off_switch():
    p = plan(JAVA, jvm="0")
    assert p.flags == [] and p.argv == JAVA


@pytest.mark.parametrize("skip, knob", [("ActiveProcessorCount", "ActiveProcessorCount"),
                                        ("-XX:+UseSerialGC", "UseSerialGC"), ("Xmx", "Xmx"),
                                        ("MaxMetaspaceSize", "MaxMetaspaceSize"),
                                        ("MaxDirectMemorySize", "MaxDirectMemorySize")])
def test_skip_one_knob(skip, knob):
    p = plan(JAVA, skip=skip)
    d = p.decision(knob)
    assert d.action == "left" and d.source == "skip"
    assert len(p.flags) >= 4


def test_old_jdk_gets_no_active_processor_count(tmp_path):
    jdk = tmp_path / "jdk8"
    (jdk / "bin").mkdir(parents=True)
    java = jdk / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    (jdk / "release").write_text('JAVA_VERSION="1.8.0_181"\nOS_NAME="Linux"\n')
    p = plan(JAVA, {"PATH": str(jdk / "bin")})
    assert p.decision("ActiveProcessorCount").action == "none"
    (jdk / "release").write_text('JAVA_VERSION="1.8.0_60"\n')
    assert plan(JAVA, {"PATH": str(jdk / "bin")}).decision("ExitOnOutOfMemoryError").action == "none"
    (jdk / "release").write_text('JAVA_VERSION="1.8.0_372"\n')
    assert flag(plan(JAVA, {"PATH": str(jdk / "bin")}), "ActiveProcessorCount") == "-XX:ActiveProcessorCount=2"


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
        ("-XX:MaxRAMPercentage=75.0", ("heap", "75.0")),
        ("-XX:MinRAMFraction=4", ("heap", "4")),
        ("-XX:InitialCodeCacheSize=64m", ("code_initial", 64 * MiB)),
        ("-Xmn100m", ("young", 100 * MiB)),
        ("-XX:+HeapDumpOnOutOfMemoryError", ("heap_dump", None)),
    ],
)
def test_classify(token, expected):
    assert jvm.classify(token) == expected


def test_user_settings_precedence_is_hotspots(tmp_path):
    """-XX:Flags < JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS < command line < _JAVA_OPTIONS: the last wins."""
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


def test_20k_classes_at_256mi_keep_what_they_take_at_the_least(tmp_path):
    """Plain java runs 20k classes at 256Mi (~94 MiB of metaspace): a too-small plan caps no lower."""
    p = plan(["java", "-cp", make_jar(tmp_path / "a.jar", 20_000, 2600), "Main"], lim=limits(mem=256 * MiB, cpus=1))
    assert p.problems and size_of(p, "Xmx") == 126 * MiB
    assert size_of(p, "MaxMetaspaceSize") >= 20_000 * (1000 + 2 * 2600)


def test_64mi_of_direct_buffers_fit_at_256mi():
    """Plain java runs 64 MiB of direct buffers beside a full heap at 256Mi (its direct limit: the heap)."""
    p = plan(JAVA, lim=limits(mem=256 * MiB, cpus=1))
    assert size_of(p, "MaxDirectMemorySize") > 64 * MiB and size_of(p, "Xmx") == 126 * MiB and not p.problems


def test_small_fixture_shrinks_in_order():
    """256Mi, 1 CPU: the heap sits at HotSpot's 126Mi; code cache, threads, metaspace slack, direct gave way."""
    p = plan(JAVA, lim=limits(**SMALL))
    assert size_of(p, "Xmx") >= 126 * MiB and not p.problems
    assert region(p, "code cache").size == jvm.CODE_FLOOR
    assert any(d.reason.startswith("the limit is tight") for d in p.decisions)
