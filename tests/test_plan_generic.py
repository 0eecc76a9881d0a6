"""The plan around the runtimes: disable, unknown runtimes, the generic CONTAINER_* variables,
the Plan contract the CLI relies on, the library API, and the entrypoint path's imports."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import cgroupsize
from cgroupsize import api
from cgroupsize.planner import GENERIC, Plan, make_plan
from cgroupsize.settings import SettingError, Settings
from tests.support.plans import ENV, FIXTURES, GiB, MEDIUM, MiB, limits, plan
from tests.support import REPO



@pytest.mark.parametrize(
    "fixture, expected",
    [
        ("small", {"CONTAINER_MEMORY_LIMIT": str(256 * MiB), "CONTAINER_CPU_LIMIT": "0.5",
                   "CONTAINER_CPU_COUNT": "1"}),
        ("medium", {"CONTAINER_MEMORY_LIMIT": str(GiB), "CONTAINER_CPU_LIMIT": "2", "CONTAINER_CPU_COUNT": "2"}),
        ("large", {"CONTAINER_MEMORY_LIMIT": str(8 * GiB), "CONTAINER_CPU_LIMIT": "8", "CONTAINER_CPU_COUNT": "8"}),
        ("none", {"CONTAINER_CPU_COUNT": "16"}),
    ],
)
def test_unknown_runtime_gets_only_the_generic_variables(fixture, expected):
    p = plan(["/bin/some-native-server", "--flag"], lim=limits(**FIXTURES[fixture]))
    assert p.runtime is None
    assert p.added == expected and p.flags == [] and p.argv == ["/bin/some-native-server", "--flag"]
    assert "unknown runtime: only the generic CONTAINER_* variables are set" in p.notes
    assert all(k in p.env for k in expected)


def test_generic_variables_for_every_runtime_and_their_sources():
    for argv in (["java", "Main"], ["node", "x.js"], ["python3", "x.py"], ["ruby", "x.rb"], ["dotnet", "x.dll"]):
        p = plan(argv)
        assert set(GENERIC) <= set(p.added)
    p = plan(["x"], lim=limits(mem=GiB, cpus=1.333333))
    assert p.added["CONTAINER_CPU_LIMIT"] == "1.333"
    assert "CONTAINER_MEMORY_LIMIT=1073741824: 1Gi (/sys/fs/cgroup/kubepods/pod1/ctr/memory.max)" in p.notes


def test_cpuset_without_quota():
    p = plan(["x"], lim=limits(cpuset=3))
    assert p.added == {"CONTAINER_CPU_COUNT": "3"}


def test_generic_variables_never_override_the_user():
    p = plan(["x"], {"CONTAINER_MEMORY_LIMIT": "1", "CONTAINER_CPU_COUNT": "99"})
    assert p.added == {"CONTAINER_CPU_LIMIT": "2"}
    assert p.env["CONTAINER_MEMORY_LIMIT"] == "1" and p.env["CONTAINER_CPU_COUNT"] == "99"
    assert "left CONTAINER_CPU_COUNT alone: set by the user" in p.notes


def test_export_off_and_skip():
    assert plan(["x"], export="0").added == {}
    assert set(plan(["java", "Main"], export="0").added) == set()
    assert "CONTAINER_CPU_COUNT" not in plan(["x"], skip="CONTAINER_CPU_COUNT").added


def test_disable_changes_nothing():
    env = {"JAVA_TOOL_OPTIONS": "-Dx=1"}
    p = plan(["java", "-jar", "a.jar"], env, disable="1")
    assert p.argv == ["java", "-jar", "a.jar"] and p.env == {**ENV, **env}
    assert p.added == {} and p.flags == [] and p.runtime is None


def test_runtime_none_and_forced_runtime():
    p = plan(["java", "-jar", "a.jar"], runtime="none")
    assert p.runtime is None and p.flags == [] and set(p.added) == set(GENERIC)
    p = plan(["./entrypoint.sh"], runtime="node")
    assert p.runtime == "node" and "NODE_OPTIONS" in p.added


def test_settings_object_may_be_partial():
    """Settings built from a few values get the table's defaults for the rest."""
    p = make_plan(["node", "a.js"], dict(ENV), limits(**MEDIUM), Settings({"runtime": "auto"}))
    assert p.flags == plan(["node", "a.js"]).flags and p.flags[0].startswith("--max-old-space-size=")


def test_plan_contract_for_the_cli():
    p = Plan(runtime=None, argv=["x", "y"], env={"A": "1"})  # what the CLI builds when planning fails
    assert (p.runtime, p.argv, p.env, p.added, p.flags, p.notes, p.warnings, p.problems) == \
        (None, ["x", "y"], {"A": "1"}, {}, [], [], [], [])
    assert not hasattr(p, "__dict__")  # a plain class with __slots__
    lim = limits(**MEDIUM)
    d = plan(["java", "-jar", "a.jar"], lim=lim).to_dict(lim)
    assert set(d) == {"runtime", "argv", "env", "decisions", "budget", "notes", "warnings", "limits"}
    assert d["runtime"] == "jvm" and d["env"]["CONTAINER_CPU_COUNT"] == "2" and d["limits"] == lim.to_dict()
    assert d["argv"] == ["java", *plan(["java", "-jar", "a.jar"], lim=lim).flags, "<arg>", "<arg>"]
    json.dumps(d)


def test_shown_forms_never_hold_the_users_values():
    lim = limits(**MEDIUM)
    p = plan(["java", "-Dpw=s3cr3t", "-jar", "a.jar"], {"JAVA_TOOL_OPTIONS": "-Dkey=s3cr3t"}, lim=lim)
    assert p.shown_argv() == ["java", *p.flags, "<arg>", "<arg>", "<arg>"]
    p = plan(["./run.sh", "--token=s3cr3t"], {"JAVA_TOOL_OPTIONS": "-Dkey=s3cr3t"}, lim=lim, runtime="jvm")
    shown = p.shown_env()
    assert shown["JAVA_TOOL_OPTIONS"] == p.prepended["JAVA_TOOL_OPTIONS"] + " <the user's options>"
    assert p.env["JAVA_TOOL_OPTIONS"].endswith("-Dkey=s3cr3t")  # what is exec'd keeps it
    d = p.to_dict(lim)
    assert "s3cr3t" not in json.dumps(d) and d["argv"] == ["./run.sh", "<arg>"]
    p = plan(["npm", "start"], lim=lim)  # nothing of the user's to hide: the value as set
    assert p.shown_env()["NODE_OPTIONS"] == p.env["NODE_OPTIONS"]


def test_warnings_and_problems():
    p = plan(["java", "Main"], lim=limits(mem=100 * MiB, cpus=1))
    assert p.problems and all(x in p.warnings for x in p.problems)


# -- the library API ---------------------------------------------------------------------------


def test_api_plan():
    for _ in range(2):  # the second call after cgroupsize.planner was imported: plan() is still the function
        p = cgroupsize.plan(["node", "app.js"], env={"PATH": "/nowhere"}, limits=limits(**MEDIUM))
    assert isinstance(p, cgroupsize.Plan)
    assert p.argv == ["node", *plan(["node", "app.js"]).flags, "app.js"] and len(p.flags) == 2
    p = api.plan(["node", "app.js"], env={"PATH": "/nowhere"}, limits=limits(**MEDIUM), skip="max-semi-space-size")
    assert [f.split("=")[0] for f in p.flags] == ["--max-old-space-size"]
    assert p.decision("max-semi-space-size").source == "skip"
    p = api.plan(["node", "app.js"], env={"PATH": "/nowhere", "CGROUPSIZE_NODE": "0"}, limits=limits(**MEDIUM))
    assert p.flags == []
    env = {"PATH": "/nowhere"}
    api.plan(["npm", "start"], env=env, limits=limits(**MEDIUM))
    assert env == {"PATH": "/nowhere"}  # never modified


def test_api_plan_bad_settings():
    with pytest.raises(TypeError, match="unknown setting"):
        api.plan(["x"], env={}, limits=limits(**MEDIUM), heap=1)
    with pytest.raises(SettingError, match="jvm_threads="):
        api.plan(["x"], env={}, limits=limits(**MEDIUM), jvm_threads="many")
    with pytest.raises(SettingError, match="CGROUPSIZE_JVM_HEADROOM"):
        api.plan(["x"], env={"CGROUPSIZE_JVM_HEADROOM": "2"}, limits=limits(**MEDIUM))


def test_api_plan_reads_limits_and_applies_overrides(monkeypatch):
    import cgroupsize.cgroups.detect as detect

    monkeypatch.setattr(detect, "read_limits", lambda root="/", diagnostics=True: limits())
    p = api.plan(["node", "a.js"], env={"PATH": "/nowhere", "CGROUPSIZE_MEMORY_LIMIT": "512Mi"})
    assert p.flags[0] == "--max-old-space-size=409"
    assert "CGROUPSIZE_MEMORY_LIMIT" in "\n".join(p.notes)
    p = api.plan(["x"], env={"PATH": "/nowhere"}, cpu_limit="1500m")
    assert p.added["CONTAINER_CPU_LIMIT"] == "1.5"


@pytest.fixture
def clean_environ(monkeypatch):
    """os.environ without our variables; apply() writes it directly, so it is restored afterwards."""
    saved = dict(os.environ)
    yield from _clean(monkeypatch)
    os.environ.clear()
    os.environ.update(saved)


def _clean(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("CGROUPSIZE_", "CONTAINER_")) or name in (
                "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "BLIS_NUM_THREADS", "PYTHON_CPU_COUNT", "LOKY_MAX_CPU_COUNT", "MALLOC_ARENA_MAX",
                "WEB_CONCURRENCY", "LD_PRELOAD", "GUNICORN_CMD_ARGS"):
            monkeypatch.delenv(name)
    yield monkeypatch


def test_apply_sets_the_python_plan_in_this_process(clean_environ):
    clean_environ.setenv("MKL_NUM_THREADS", "7")
    result = cgroupsize.apply(limits=limits(mem=2 * GiB, cpus=4))
    assert set(result) == {"workers", "env", "notes", "warnings"}
    assert result["workers"] == 8  # min(2 x 4 + 1, 2Gi / 256Mi)
    assert os.environ["WEB_CONCURRENCY"] == "8" == result["env"]["WEB_CONCURRENCY"]
    assert os.environ["OMP_NUM_THREADS"] == "1" == result["env"]["OMP_NUM_THREADS"]  # 4 CPUs / 8 workers
    assert os.environ["MKL_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in result["env"]
    assert os.environ["PYTHON_CPU_COUNT"] == "4" and os.environ["MALLOC_ARENA_MAX"] == "2"
    assert os.environ["CONTAINER_CPU_COUNT"] == "4"
    assert result["notes"]


def test_apply_workers(clean_environ):
    assert cgroupsize.apply(limits=limits())["workers"] == 1  # no limits at all: gunicorn's default
    clean_environ.setenv("WEB_CONCURRENCY", "6")
    result = cgroupsize.apply(limits=limits(mem=GiB, cpus=2))
    assert result["workers"] == 6 and "WEB_CONCURRENCY" not in result["env"]
    result = cgroupsize.apply(limits=limits(mem=GiB, cpus=2), python=False)
    assert result["workers"] == 6


def test_apply_fails_open_but_not_on_user_errors(clean_environ, monkeypatch):
    with pytest.raises(SettingError):
        cgroupsize.apply(limits=limits(**MEDIUM), worker_memory="lots")
    import cgroupsize.planner as plan_module

    monkeypatch.setattr(plan_module, "make_plan", lambda *a: 1 / 0)
    result = cgroupsize.apply(limits=limits(**MEDIUM))
    assert result["workers"] == 1 and result["env"] == {}
    assert "ZeroDivisionError" in result["warnings"][0]
    assert "OMP_NUM_THREADS" not in os.environ


def test_apply_in_a_gunicorn_config_file(tmp_path):
    """The documented use: ``workers = cgroupsize.apply()["workers"]`` in gunicorn.conf.py."""
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("import cgroupsize, os\nworkers = cgroupsize.apply()['workers']\n"
                    "print(workers, os.environ.get('OMP_NUM_THREADS'), os.environ.get('CONTAINER_CPU_COUNT'))\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CGROUPSIZE_", "CONTAINER_", "WEB_CONCURRENCY", "OMP_"))}
    env.update(PYTHONPATH=REPO, CGROUPSIZE_CPU_LIMIT="1", CGROUPSIZE_MEMORY_LIMIT="512Mi")
    out = subprocess.run([sys.executable, str(conf)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    workers, omp, count = out.stdout.split()
    assert (workers, omp, count) == ("2", "1", "1")


# -- the entrypoint path stays fast --------------------------------------------------------------

HEAVY = ("click", "psutil", "subprocess", "json", "logging", "dataclasses", "typing", "importlib.metadata",
         "shlex", "inspect", "pathlib", "re", "enum")  # re: ~7 ms, and enum with it (benchmarks/README.rst)


def test_planning_imports_nothing_heavy(tmp_path):
    script = tmp_path / "app"
    script.write_text("#!/usr/bin/env node\n")
    script.chmod(0o755)
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from cgroupsize.planner import make_plan\n"
        "from cgroupsize.settings import load\n"
        "from cgroupsize.model import Limits, MemoryLimits, Value\n"
        "lim = Limits(memory=MemoryLimits(limit=Value(1 << 30, '/m'), state='limited'))\n"
        f"for argv in (['java', '-jar', 'a'], ['node', 'a'], ['python3', '-m', 'gunicorn'], ['puma'],\n"
        f"             ['dotnet', 'a'], ['{script}'], ['{sys.executable}'], ['npm']):\n"
        "    env = {'PATH': '/usr/bin:/bin', 'JAVA_TOOL_OPTIONS': '-Xss1m'}\n"
        "    make_plan(argv, env, lim, load(env))\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print(' '.join(new))\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": REPO}, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.split()
    assert "cgroupsize.runtimes.jvm" in loaded
    assert [m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY] == []
