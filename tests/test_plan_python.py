"""Python plans: workers, thread pools, CPU count, malloc arenas over fixture limits."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.plans import FIXTURES, GiB, MiB, limits, ours, plan

THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
           "BLIS_NUM_THREADS")


def threads(n):
    return {name: str(n) for name in THREADS}


@pytest.mark.parametrize(
    "argv, fixture, expected",
    [
        # a plain program: CPU figures and arenas, no workers
        (["python3", "app.py"], "small", {**threads(1), "PYTHON_CPU_COUNT": "1", "LOKY_MAX_CPU_COUNT": "1",
                                          "MALLOC_ARENA_MAX": "2"}),
        (["python3", "app.py"], "medium", {**threads(2), "PYTHON_CPU_COUNT": "2", "LOKY_MAX_CPU_COUNT": "2",
                                           "MALLOC_ARENA_MAX": "2"}),
        (["python3", "app.py"], "large", {**threads(8), "PYTHON_CPU_COUNT": "8", "LOKY_MAX_CPU_COUNT": "8",
                                          "MALLOC_ARENA_MAX": "2"}),
        (["python3", "app.py"], "none", {}),
        # gunicorn: min(2 x CPUs + 1, limit / 256Mi); threads shared among the workers
        (["gunicorn", "app:app"], "small", {"WEB_CONCURRENCY": "1", **threads(1), "PYTHON_CPU_COUNT": "1",
                                            "LOKY_MAX_CPU_COUNT": "1", "MALLOC_ARENA_MAX": "2"}),
        (["gunicorn", "app:app"], "medium", {"WEB_CONCURRENCY": "4", **threads(1), "PYTHON_CPU_COUNT": "2",
                                             "LOKY_MAX_CPU_COUNT": "2", "MALLOC_ARENA_MAX": "2"}),
        (["gunicorn", "app:app"], "large", {"WEB_CONCURRENCY": "17", **threads(1), "PYTHON_CPU_COUNT": "8",
                                            "LOKY_MAX_CPU_COUNT": "8", "MALLOC_ARENA_MAX": "2"}),
        (["gunicorn", "app:app"], "none", {}),
        # uvicorn: one worker per CPU
        (["uvicorn", "app:app"], "large", {"WEB_CONCURRENCY": "8", **threads(1), "PYTHON_CPU_COUNT": "8",
                                           "LOKY_MAX_CPU_COUNT": "8", "MALLOC_ARENA_MAX": "2"}),
        (["python3", "-m", "uvicorn", "app:app"], "medium",
         {"WEB_CONCURRENCY": "2", **threads(1), "PYTHON_CPU_COUNT": "2", "LOKY_MAX_CPU_COUNT": "2",
          "MALLOC_ARENA_MAX": "2"}),
    ],
)
def test_plan_per_fixture(argv, fixture, expected):
    p = plan(argv, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "python"
    assert ours(p) == expected
    assert p.argv == argv and p.flags == []


def test_gunicorn_memory_bound():
    # 8 CPUs would allow 17 workers; 1Gi holds 4 of 256Mi
    p = plan(["gunicorn", "app:app"], lim=limits(mem=1 * GiB, cpus=8))
    assert p.added["WEB_CONCURRENCY"] == "4" and p.workers == 4
    assert p.added["OMP_NUM_THREADS"] == "2"  # 8 CPUs / 4 workers
    note = [n for n in p.notes if n.startswith("WEB_CONCURRENCY")][0]
    assert "2 x 8 CPUs + 1 = 17" in note and "1Gi limit" in note and "256Mi per worker = 4" in note


def test_memory_limit_without_cpu_limit():
    p = plan(["gunicorn", "app:app"], lim=limits(mem=512 * MiB))
    assert p.added["WEB_CONCURRENCY"] == "2"  # memory binds: 16 host CPUs would give 33
    assert p.added["OMP_NUM_THREADS"] == "8"  # 16 CPUs / 2 workers
    assert "PYTHON_CPU_COUNT" not in p.added  # no CPU bound: os.cpu_count() is right already


def test_cpu_limit_without_memory_limit():
    p = plan(["gunicorn", "app:app"], lim=limits(cpus=2))
    assert p.added["WEB_CONCURRENCY"] == "5"
    assert "MALLOC_ARENA_MAX" not in p.added  # nothing memory-related without a memory limit


def test_cpuset_counts_as_a_bound():
    p = plan(["python3", "train.py"], lim=limits(cpuset=4))
    assert p.added["OMP_NUM_THREADS"] == "4" and p.added["PYTHON_CPU_COUNT"] == "4"


def test_fractional_quota_rounds_threads_down_and_count_up():
    p = plan(["python3", "app.py"], lim=limits(mem=1 * GiB, cpus=2.5))
    assert p.added["OMP_NUM_THREADS"] == "2" and p.added["PYTHON_CPU_COUNT"] == "3"


@pytest.mark.parametrize(
    "argv, env, kept",
    [
        (["gunicorn", "app:app"], {"WEB_CONCURRENCY": "9"}, "WEB_CONCURRENCY"),
        (["python3", "app.py"], {"OMP_NUM_THREADS": "3"}, "OMP_NUM_THREADS"),
        (["python3", "app.py"], {"MKL_NUM_THREADS": "3"}, "MKL_NUM_THREADS"),
        (["python3", "app.py"], {"PYTHON_CPU_COUNT": "7"}, "PYTHON_CPU_COUNT"),
        (["python3", "app.py"], {"MALLOC_ARENA_MAX": "4"}, "MALLOC_ARENA_MAX"),
        (["python3", "app.py"], {"LOKY_MAX_CPU_COUNT": "1"}, "LOKY_MAX_CPU_COUNT"),
    ],
)
def test_user_variables_win(argv, env, kept):
    p = plan(argv, env)
    assert kept not in p.added and p.env[kept] == env[kept]
    assert f"left {kept} alone: set by the user" in p.notes
    assert env[kept] not in " ".join(n for n in p.notes if kept in n)


def test_users_web_concurrency_divides_the_threads():
    p = plan(["gunicorn", "app:app"], {"WEB_CONCURRENCY": "2"}, lim=limits(mem=4 * GiB, cpus=8))
    assert p.workers == 2 and p.added["OMP_NUM_THREADS"] == "4"


@pytest.mark.parametrize(
    "argv, env",
    [
        (["gunicorn", "-w", "3", "app:app"], {}),
        (["gunicorn", "--workers=3", "app:app"], {}),
        (["gunicorn", "-w3", "app:app"], {}),
        (["python3", "-m", "gunicorn", "--workers", "3", "app:app"], {}),
        (["gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "--bind=:80 --workers=3"}),
    ],
)
def test_workers_on_the_command_line(argv, env):
    p = plan(argv, env, lim=limits(mem=4 * GiB, cpus=8))
    assert "WEB_CONCURRENCY" not in p.added and p.workers == 3
    assert p.added["OMP_NUM_THREADS"] == "2"  # 8 CPUs / 3 workers, rounded down


def test_x_cpu_count_on_the_command_line():
    p = plan(["python3", "-X", "cpu_count=4", "app.py"])
    assert "PYTHON_CPU_COUNT" not in p.added
    assert "left PYTHON_CPU_COUNT alone: -X cpu_count is on the command line" in p.notes
    p = plan(["python3", "app.py", "-X", "cpu_count=4"])  # the script's argument
    assert p.added["PYTHON_CPU_COUNT"] == "2"


@pytest.mark.parametrize(
    "env, why",
    [
        ({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}, "jemalloc is preloaded"),
        ({"LD_PRELOAD": "libtcmalloc_minimal.so.4"}, "tcmalloc is preloaded"),
        ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"}, "GLIBC_TUNABLES"),
    ],
)
def test_other_allocator_means_no_arena_max(env, why):
    p = plan(["python3", "app.py"], env)
    assert "MALLOC_ARENA_MAX" not in p.added
    assert any(why in n for n in p.notes)


def test_workers_setting():
    assert "WEB_CONCURRENCY" not in plan(["gunicorn", "app:app"], workers="off").added
    p = plan(["python3", "serve.py"], workers="always")
    assert p.added["WEB_CONCURRENCY"] == "4"
    p = plan(["gunicorn", "app:app"], worker_memory="128Mi")
    assert p.added["WEB_CONCURRENCY"] == "5"


def test_off_switch_and_skip():
    p = plan(["gunicorn", "app:app"], python="0")
    assert set(p.added) == {"CONTAINER_MEMORY_LIMIT", "CONTAINER_CPU_LIMIT", "CONTAINER_CPU_COUNT"}
    p = plan(["python3", "app.py"], skip="MALLOC_ARENA_MAX,OMP_NUM_THREADS")
    assert "MALLOC_ARENA_MAX" not in p.added and "OMP_NUM_THREADS" not in p.added
    assert "MKL_NUM_THREADS" in p.added


def test_scripts_with_a_python_shebang(tmp_path):
    script = tmp_path / "celery"
    script.write_text("#!/usr/local/bin/python3.12\nimport sys\n")
    script.chmod(0o755)
    p = plan(["celery", "worker"], {"PATH": str(tmp_path)})
    assert p.runtime == "python" and "WEB_CONCURRENCY" not in p.added
    assert p.added["OMP_NUM_THREADS"] == "2"


@pytest.mark.parametrize(
    "argv, env, cpus, rounding, expected",
    [
        (["python3", "app.py"], {}, 1.5, "floor", "1"),
        (["python3", "app.py"], {}, 1.5, "ceil", "2"),
        (["python3", "app.py"], {}, 0.5, "floor", "1"),
        (["python3", "app.py"], {}, 0.5, "ceil", "1"),
        (["python3", "app.py"], {}, 2.5, "ceil", "3"),
        (["python3", "app.py"], {}, 4, "ceil", "4"),  # a whole quota: the same either way
        (["python3", "app.py"], {}, 4, "floor", "4"),
        # gunicorn -w 2 at 3 CPUs: 1.5 per worker
        (["gunicorn", "-w", "2", "app:app"], {}, 3, "floor", "1"),
        (["gunicorn", "-w", "2", "app:app"], {}, 3, "ceil", "2"),
        (["python3", "app.py"], {"OMP_NUM_THREADS": "8"}, 1.5, "ceil", "2"),  # the user's own variable stays
    ],
)
def test_thread_rounding_covers_every_pool(argv, env, cpus, rounding, expected):
    p = plan(argv, env, lim=limits(mem=2 * GiB, cpus=cpus), thread_rounding=rounding)
    for name in THREADS:
        if name in env:
            assert name not in p.added and p.decision(name).source == "user"
        else:
            assert p.added[name] == expected, name
            assert p.decision(name).source == "limit"


def test_thread_rounding_default_is_floor():
    p = plan(["python3", "app.py"], lim=limits(mem=2 * GiB, cpus=1.5))
    assert p.added["OPENBLAS_NUM_THREADS"] == "1"
    assert p.added["PYTHON_CPU_COUNT"] == "2"  # the CPU count itself is rounded up, as before


def test_thread_rounding_rejects_other_values():
    from cgroupsize.settings import SettingError, load

    with pytest.raises(SettingError, match="CGROUPSIZE_THREAD_ROUNDING"):
        load({"CGROUPSIZE_THREAD_ROUNDING": "nearest"}, {})


@pytest.mark.parametrize("processes, expected", [("1", "8"), ("3", "2"), ("8", "1"), ("16", "1")])
def test_processes_share_the_thread_pools(processes, expected):
    p = plan(["celery", "worker"], lim=limits(mem=4 * GiB, cpus=8), runtime="python", processes=processes)
    assert p.added.get("OMP_NUM_THREADS") == expected


@pytest.mark.parametrize("rounding, threads", [("floor", "1"), ("ceil", "2")])
def test_real_python_sees_the_pools(rounding, threads):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CGROUPSIZE_", "OMP_", "OPENBLAS_", "MKL_"))}
    env.update(CGROUPSIZE_CPU_LIMIT="1.5", CGROUPSIZE_THREAD_ROUNDING=rounding)
    code = "import os; print(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))"
    proc = subprocess.run([sys.executable, "-m", "cgroupsize", "--", sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    host = os.cpu_count() or 1
    # the variables are set only below the host's CPUs (a pool of the host's size is the library's own default)
    want = threads if int(threads) < host else "None"
    assert proc.stdout.split() == [want, want], proc.stdout
