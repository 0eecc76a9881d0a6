"""Table-driven tests of the settings table and its parsers."""
from __future__ import annotations

import pytest

from cgroupsize import settings
from cgroupsize.model import knob_key
from cgroupsize.settings import BY_NAME, SETTINGS, SettingError, load
from tests.support import GiB, MiB



@pytest.mark.parametrize(
    "text, expected",
    [
        ("536870912", 536870912),
        ("512Mi", 512 * MiB),
        ("512MiB", 512 * MiB),
        ("1.5Gi", 3 * GiB // 2),
        ("1G", 10**9),
        ("2g", 2 * 10**9),
        ("64Ki", 64 * 1024),
        (" 1Gi ", GiB),
        (".5Gi", GiB // 2),
    ],
)
def test_size(text, expected):
    assert BY_NAME["memory_limit"].parse(text) == expected


@pytest.mark.parametrize("text", ["512m", "", "abc", "-1Gi", "0", "1.5.2Gi", "12 Mi x", "1Zi", "0.1",
                                  "9" * 400 + ".5Mi", "8Ei", "16E"])
def test_size_refused_names_the_variable(text):
    with pytest.raises(SettingError) as err:
        BY_NAME["memory_limit"].parse(text)
    assert "CGROUPSIZE_MEMORY_LIMIT" in str(err.value)
    assert repr(text) in str(err.value)


def test_size_refuses_lone_m_with_a_reason():
    with pytest.raises(SettingError, match="milli"):
        BY_NAME["memory_limit"].parse("512m")


@pytest.mark.parametrize(
    "text, expected",
    [("2", 2.0), ("1.5", 1.5), ("1500m", 1.5), ("250m", 0.25), (" 4 ", 4.0)],
)
def test_cpu(text, expected):
    assert BY_NAME["cpu_limit"].parse(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "abc", "nan", "inf", "0m", "1.5x"])
def test_cpu_refused(text):
    with pytest.raises(SettingError, match="CGROUPSIZE_CPU_LIMIT"):
        BY_NAME["cpu_limit"].parse(text)


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("node_heap_ratio", "0.6", 0.6),
        ("node_heap_ratio", "60%", 0.6),
        ("node_heap_ratio", "1", 1.0),
        ("go_memlimit_ratio", "0.85", 0.85),
        ("jvm_headroom", "0", 0.0),
        ("jvm_headroom", "10%", 0.1),
        ("jvm_threads", "250", 250),
        ("worker_memory", "512Mi", 512 * MiB),
        ("jvm", "0", False),
        ("jvm", "off", False),
        ("jvm", "yes", True),
        ("go", "always", "always"),
        ("go", "1", "auto"),
        ("go", "off", "off"),
        ("dotnet", "false", "off"),
        ("workers", "always", "always"),
        ("runtime", "jvm", "jvm"),
        ("skip", "-XX:ActiveProcessorCount, MALLOC_ARENA_MAX",
         frozenset({"activeprocessorcount", "malloc-arena-max"})),
        ("skip", "Xmx max_old_space_size", frozenset({"xmx", "max-old-space-size"})),
    ],
)
def test_runtime_rows(name, text, expected):
    assert BY_NAME[name].parse(text) == expected


@pytest.mark.parametrize(
    "name, text",
    [
        ("node_heap_ratio", "0"),
        ("node_heap_ratio", "1.5"),
        ("node_heap_ratio", "lots"),
        ("jvm_headroom", "1"),
        ("jvm_headroom", "-0.1"),
        ("jvm_threads", "0"),
        ("jvm_threads", "many"),
        ("jvm", "maybe"),
        ("go", "sometimes"),
        ("runtime", "perl"),
        ("worker_memory", "256m"),
    ],
)
def test_runtime_rows_refused(name, text):
    with pytest.raises(SettingError) as err:
        BY_NAME[name].parse(text)
    assert BY_NAME[name].env in str(err.value)


def test_every_row_has_help_env_and_a_parseable_default():
    names = set()
    for s in SETTINGS:
        assert s.help and s.env == "CGROUPSIZE_" + s.name.upper()
        assert s.kind in settings._PARSERS
        assert s.name not in names
        names.add(s.name)


def test_every_runtime_has_an_off_switch():
    from cgroupsize.runtimes import REGISTRY

    for name, runtime in REGISTRY.items():
        assert name in settings.RUNTIMES
        assert BY_NAME[runtime.switch].parse("0") in (False, "off")
        assert set(runtime.settings) <= set(BY_NAME)


def test_options_only_on_general_rows():
    with_option = {s.name for s in SETTINGS if s.option}
    assert with_option <= {"verbose", "strict", "runtime", "memory_limit", "cpu_limit", "skip"}


def test_load_defaults_values_and_origins():
    values = load({})
    assert all(getattr(values, s.name) == s.default and values.origin(s.name) == "default" for s in SETTINGS)
    values = load({"CGROUPSIZE_JVM": "0", "CGROUPSIZE_JVM_THREADS": "200", "CGROUPSIZE_SKIP": "",
                   "CGROUPSIZE_NODE_HEAP_RATIO": " ", "UNRELATED": "x"})
    assert values.jvm is False and values.jvm_threads == 200
    assert values.origin("jvm_threads") == "CGROUPSIZE_JVM_THREADS"
    assert values.skip == frozenset() and values.node_heap_ratio == 0.8
    assert values.origin("node_heap_ratio") == "default"


def test_load_overrides_win_and_name_their_origin():
    values = load({"CGROUPSIZE_MEMORY_LIMIT": "1Gi"}, {"memory_limit": "512Mi"}, where=lambda s: s.option)
    assert values.memory_limit == 512 << 20 and values.origin("memory_limit") == "--memory-limit"
    with pytest.raises(SettingError, match="--memory-limit"):
        load({}, {"memory_limit": "lots"}, where=lambda s: s.option)
    with pytest.raises(TypeError, match="unknown setting"):
        load({}, {"no_such_setting": 1})
    with pytest.raises(AttributeError):
        _ = values.no_such_setting


def test_load_error_names_the_variable():
    with pytest.raises(SettingError, match="CGROUPSIZE_GO_MEMLIMIT_RATIO"):
        load({"CGROUPSIZE_GO_MEMLIMIT_RATIO": "2"})


@pytest.mark.parametrize(
    "name, key",
    [
        ("-XX:ActiveProcessorCount=2", "activeprocessorcount"),
        ("ActiveProcessorCount", "activeprocessorcount"),
        ("-XX:+UseSerialGC", "useserialgc"),
        ("--max_old_space_size=100", "max-old-space-size"),
        ("MALLOC_ARENA_MAX", "malloc-arena-max"),
        ("-Xmx", "xmx"),
    ],
)
def test_knob_key(name, key):
    assert knob_key(name) == key
