"""Ruby plans: malloc arenas or jemalloc arenas, GC malloc limits and puma/unicorn workers over limits,
processes, user settings and off switches; real ruby and puma see what the plan said."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.plans import FIXTURES, GiB, MiB, limits, ours, plan

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
GC8 = {"RUBY_GC_MALLOC_LIMIT_MAX": str(8 * MiB), "RUBY_GC_OLDMALLOC_LIMIT_MAX": str(8 * MiB)}
GC16 = {"RUBY_GC_MALLOC_LIMIT_MAX": str(16 * MiB), "RUBY_GC_OLDMALLOC_LIMIT_MAX": str(16 * MiB)}
A2 = {"MALLOC_ARENA_MAX": "2"}


@pytest.mark.parametrize(
    "argv, fixture, expected",
    [
        # a share of the limit below 512Mi: 8Mi malloc limits; below 1Gi: 16Mi; from 1Gi: Ruby's defaults
        (["ruby", "app.rb"], "small", {**A2, **GC8}),
        (["ruby", "app.rb"], "medium", A2),
        (["ruby", "app.rb"], "none", {}),
        # workers = min(CPUs, limit / 384Mi), at least 1; puma with one worker: single mode (0)
        (["puma", "-C", "config/puma.rb"], "small", {**A2, "WEB_CONCURRENCY": "0", **GC8}),
        (["puma"], "medium", {**A2, "WEB_CONCURRENCY": "2", **GC16}),  # 1Gi / 2 workers
        (["puma"], "large", {**A2, "WEB_CONCURRENCY": "8"}),  # 8Gi / 8 workers = 1Gi each
        (["puma"], "none", {}),
        (["bundle", "exec", "puma", "-C", "config/puma.rb"], "large", {**A2, "WEB_CONCURRENCY": "8"}),
        (["bundle", "exec", "rails", "server"], "medium", {**A2, "WEB_CONCURRENCY": "2", **GC16}),
        (["bin/rails", "s"], "small", {**A2, "WEB_CONCURRENCY": "0", **GC8}),
        (["ruby", "bin/rails", "server"], "medium", {**A2, "WEB_CONCURRENCY": "2", **GC16}),
        # unicorn has no single mode: at least one worker
        (["unicorn", "-c", "config/unicorn.rb"], "small", {**A2, "WEB_CONCURRENCY": "1", **GC8}),
        (["unicorn", "-c", "config/unicorn.rb"], "large", {**A2, "WEB_CONCURRENCY": "8"}),
        (["bundle", "exec", "sidekiq"], "large", A2),
        (["rails", "console"], "small", {**A2, **GC8}),
    ],
)
def test_plan_per_fixture(argv, fixture, expected):
    p = plan(argv, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "ruby"
    assert ours(p) == expected
    assert p.argv == argv


@pytest.mark.parametrize(
    "mem, cpus, env, settings, workers, gc",
    [
        (1 * GiB, 8, {}, {}, "2", 16 * MiB),  # 1Gi / 384Mi = 2 workers of 512Mi
        (3 * GiB, 8, {}, {}, "8", 8 * MiB),  # 8 workers of 384Mi
        (4 * GiB, 2, {}, {}, "2", None),  # 2 workers of 2Gi: defaults
        (512 * MiB, 1, {}, {}, "0", 16 * MiB),  # single mode: one process with all 512Mi
        (2 * GiB, 4, {"WEB_CONCURRENCY": "8"}, {}, None, 8 * MiB),  # the user's 8 workers: 256Mi each
        (2 * GiB, 4, {}, {"processes": "3"}, "4", 16 * MiB),  # CGROUPSIZE_PROCESSES: 3 processes share it
        (2 * GiB, 4, {}, {"worker_memory": "1Gi"}, "2", None),
        (2 * GiB, 4, {}, {"workers": "off"}, None, None),  # no count known: one process of 2Gi
    ],
)
def test_workers_and_gc_limits(mem, cpus, env, settings, workers, gc):
    p = plan(["puma"], env, lim=limits(mem=mem, cpus=cpus), **settings)
    assert p.added.get("WEB_CONCURRENCY") == workers
    assert p.added.get("RUBY_GC_MALLOC_LIMIT_MAX") == (str(gc) if gc else None)
    assert p.added.get("RUBY_GC_OLDMALLOC_LIMIT_MAX") == (str(gc) if gc else None)


def test_puma_single_mode_decision():
    p = plan(["puma"], lim=limits(mem=512 * MiB, cpus=1))
    d = p.decision("WEB_CONCURRENCY")
    assert d.action == "set" and d.value == "0" and "single mode" in d.reason
    assert p.workers == 1


@pytest.mark.parametrize("preload", [JEMALLOC, "/usr/local/lib/libjemalloc.so"])
@pytest.mark.parametrize("cpus, narenas", [(0.5, "1"), (2, "2"), (6.5, "7")])
def test_jemalloc_gets_narenas_from_the_cpus(preload, cpus, narenas):
    p = plan(["puma"], {"LD_PRELOAD": preload}, lim=limits(mem=2 * GiB, cpus=cpus))
    assert "MALLOC_ARENA_MAX" not in p.added
    assert p.decision("MALLOC_ARENA_MAX").action == "none"
    assert p.added["MALLOC_CONF"] == f"narenas:{narenas}"


@pytest.mark.parametrize(
    "env, settings",
    [({"MALLOC_CONF": "background_thread:true"}, {}), ({}, {"skip": "MALLOC_CONF"})],
)
def test_jemalloc_users_conf_and_skip_win(env, settings):
    p = plan(["puma"], {"LD_PRELOAD": JEMALLOC, **env}, **settings)
    assert "MALLOC_CONF" not in p.added
    assert p.env.get("MALLOC_CONF") == env.get("MALLOC_CONF")
    assert p.decision("MALLOC_CONF").action == "left"


def test_no_jemalloc_conf_without_a_memory_limit():
    p = plan(["puma"], {"LD_PRELOAD": JEMALLOC}, lim=limits(cpus=2))
    assert "MALLOC_CONF" not in p.added


@pytest.mark.parametrize("value", ["3", "auto"])
def test_users_web_concurrency_wins(value):
    p = plan(["puma"], {"WEB_CONCURRENCY": value})
    assert "WEB_CONCURRENCY" not in p.added and p.env["WEB_CONCURRENCY"] == value


@pytest.mark.parametrize("name", ["RUBY_GC_MALLOC_LIMIT_MAX", "RUBY_GC_OLDMALLOC_LIMIT_MAX"])
def test_users_gc_limit_and_skip_win(name):
    lim = limits(mem=256 * MiB, cpus=1)
    p = plan(["ruby", "app.rb"], {name: "67108864"}, lim=lim)
    assert name not in p.added and p.env[name] == "67108864"
    other = ({*GC8} - {name}).pop()
    assert p.added[other] == str(8 * MiB)
    p = plan(["ruby", "app.rb"], lim=lim, skip=name)
    assert name not in p.added and p.added[other] == str(8 * MiB)


def test_off_switch_and_worker_memory():
    assert ours(plan(["puma"], ruby="0")) == {}
    assert plan(["puma"], lim=limits(mem=2 * GiB, cpus=8), worker_memory="512Mi").added["WEB_CONCURRENCY"] == "4"
    assert "WEB_CONCURRENCY" not in plan(["puma"], workers="off").added


def test_ruby_script_by_shebang(tmp_path):
    script = tmp_path / "web"
    script.write_text("#!/usr/bin/env ruby\nrequire 'puma/cli'\n")
    script.chmod(0o755)
    p = plan([str(script)], {"PATH": "/nowhere"}, lim=limits(mem=768 * MiB, cpus=4))
    assert p.runtime == "ruby" and "WEB_CONCURRENCY" not in p.added  # not known to be a server
    p = plan([str(script)], {"PATH": "/nowhere"}, lim=limits(mem=768 * MiB, cpus=4), workers="always")
    assert p.added["WEB_CONCURRENCY"] == "2"


# -- real ruby and puma -------------------------------------------------------------------------------

RUBY = shutil.which("ruby")
PUMA = shutil.which("puma")
APP = Path(__file__).resolve().parent.parent / "benchmarks" / "workloads" / "nrp" / "puma_app.ru"


def _env(**extra):
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("CGROUPSIZE_", "RUBY_GC_", "MALLOC_", "WEB_CONCURRENCY", "LD_PRELOAD"))}
    return {**base, **extra}


@pytest.mark.runtimes
@pytest.mark.skipif(RUBY is None, reason="needs ruby")
@pytest.mark.parametrize("preload", [None, JEMALLOC])
def test_real_ruby_sees_the_variables(preload):
    if preload and not os.path.exists(preload):
        pytest.skip("needs libjemalloc2")
    env = _env(CGROUPSIZE_MEMORY_LIMIT="384Mi", CGROUPSIZE_CPU_LIMIT="2",
               **({"LD_PRELOAD": preload} if preload else {}))
    names = "MALLOC_ARENA_MAX MALLOC_CONF RUBY_GC_MALLOC_LIMIT_MAX RUBY_GC_OLDMALLOC_LIMIT_MAX"
    code = f"puts %w[{names}].map {{ |k| ENV[k].inspect }}.join(' ')"
    proc = subprocess.run([sys.executable, "-m", "cgroupsize", "--", "ruby", "-e", code], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    arenas, conf, malloc_max, oldmalloc_max = proc.stdout.split()
    assert (arenas, conf) == (('nil', '"narenas:2"') if preload else ('"2"', "nil"))
    assert malloc_max == oldmalloc_max == f'"{8 * MiB}"'


@pytest.mark.runtimes
@pytest.mark.skipif(PUMA is None, reason="needs puma (Debian: apt-get install puma)")
@pytest.mark.parametrize("memory, cpus, mode, workers", [("512Mi", "1", "single", None), ("1Gi", "2", "cluster", "2")])
def test_real_puma_boots_in_the_planned_mode(tmp_path, memory, cpus, mode, workers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "puma.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cgroupsize", "--", "puma", "-b", f"tcp://127.0.0.1:{port}",
                                 str(APP)], env=_env(CGROUPSIZE_MEMORY_LIMIT=memory, CGROUPSIZE_CPU_LIMIT=cpus),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Use Ctrl-C to stop" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        assert f"Puma starting in {mode} mode" in text, text
        if workers:
            assert f"Workers: {workers}" in text, text
        assert "single worker is often a misconfiguration" not in text
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
