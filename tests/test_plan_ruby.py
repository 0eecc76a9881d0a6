"""Ruby plans: malloc arenas and puma/unicorn workers over fixture limits."""
from __future__ import annotations

import pytest

from plan_fixtures import FIXTURES, GiB, MiB, limits, plan


def ours(p):
    return {k: v for k, v in p.added.items() if not k.startswith("CONTAINER_")}


@pytest.mark.parametrize(
    "argv, fixture, expected",
    [
        (["ruby", "app.rb"], "small", {"MALLOC_ARENA_MAX": "2"}),
        (["ruby", "app.rb"], "none", {}),
        # workers = min(CPUs, limit / 384Mi), at least 1
        (["puma", "-C", "config/puma.rb"], "small", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "1"}),
        (["puma"], "medium", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "2"}),
        (["puma"], "large", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "8"}),
        (["puma"], "none", {}),
        (["bundle", "exec", "puma", "-C", "config/puma.rb"], "large", {"MALLOC_ARENA_MAX": "2",
                                                                       "WEB_CONCURRENCY": "8"}),
        (["bundle", "exec", "rails", "server"], "medium", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "2"}),
        (["bin/rails", "s"], "medium", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "2"}),
        (["ruby", "bin/rails", "server"], "medium", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "2"}),
        (["unicorn", "-c", "config/unicorn.rb"], "large", {"MALLOC_ARENA_MAX": "2", "WEB_CONCURRENCY": "8"}),
        (["bundle", "exec", "sidekiq"], "large", {"MALLOC_ARENA_MAX": "2"}),
        (["rails", "console"], "large", {"MALLOC_ARENA_MAX": "2"}),
    ],
)
def test_plan_per_fixture(argv, fixture, expected):
    p = plan(argv, lim=limits(**FIXTURES[fixture]))
    assert p.runtime == "ruby"
    assert ours(p) == expected
    assert p.argv == argv


def test_memory_bounds_workers():
    p = plan(["puma"], lim=limits(mem=1 * GiB, cpus=8))
    assert p.added["WEB_CONCURRENCY"] == "2"  # 1Gi / 384Mi


@pytest.mark.parametrize("preload", ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
                                     "/usr/local/lib/libjemalloc.so"])
def test_jemalloc_means_no_arena_max(preload):
    p = plan(["puma"], {"LD_PRELOAD": preload})
    assert "MALLOC_ARENA_MAX" not in p.added
    assert "no MALLOC_ARENA_MAX: jemalloc is preloaded (LD_PRELOAD)" in p.notes
    assert p.added["WEB_CONCURRENCY"] == "2"


@pytest.mark.parametrize("value", ["3", "auto"])
def test_users_web_concurrency_wins(value):
    p = plan(["puma"], {"WEB_CONCURRENCY": value})
    assert "WEB_CONCURRENCY" not in p.added and p.env["WEB_CONCURRENCY"] == value


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
