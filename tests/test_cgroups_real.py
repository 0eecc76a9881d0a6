"""Detection against the real kernel: child cgroups with real limits on this v1 host."""
from __future__ import annotations

import os

import pytest

from tests.support.cgroups import Cgroup, print_json, skip_reason
from tests.support import MiB

pytestmark = [pytest.mark.cgroups, pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")]



@pytest.fixture
def cgroup():
    cg = Cgroup().make()
    try:
        yield cg
    finally:
        cg.remove()


def host_cpus():
    return len(os.sched_getaffinity(0))


def test_memory_limit(cgroup):
    cgroup.set("memory", "memory.limit_in_bytes", 300 * MiB)
    data, _ = print_json(cgroup)
    assert data["cgroup"]["memory"] == "v1"
    assert data["memory"]["limit"] == 300 * MiB
    assert data["memory"]["state"] == "limited"
    assert data["memory"]["source"] == f"/sys/fs/cgroup/memory/{cgroup.rel}/memory.limit_in_bytes"
    assert data["memory"]["usage"] > 0


def test_cpu_quota_fractional(cgroup):
    cgroup.set("cpu", "cpu.cfs_period_us", 100000).set("cpu", "cpu.cfs_quota_us", 50000)
    data, _ = print_json(cgroup)
    assert data["cgroup"]["cpu"] == "v1"
    assert data["cpu"]["quota"] == pytest.approx(0.5)
    assert data["cpu"]["count"] == 1
    assert data["cpu"]["source"] == f"/sys/fs/cgroup/cpu/{cgroup.rel}/cpu.cfs_quota_us"


@pytest.mark.skipif(host_cpus() < 2, reason="needs at least 2 CPUs to restrict a cpuset")
def test_cpuset(cgroup):
    cgroup.set("cpuset", "cpuset.cpus", "0")
    data, _ = print_json(cgroup)
    assert data["cpu"]["cpuset"] == 1
    assert data["cpu"]["affinity"] == 1  # the kernel applies the cpuset to affinity
    assert data["cpu"]["count"] == 1
    assert data["cpu"]["quota"] is None


def test_stricter_parent_wins(cgroup):
    cgroup.set("memory", "memory.limit_in_bytes", 200 * MiB)
    cgroup.set("cpu", "cpu.cfs_quota_us", 50000)
    inner = cgroup.child("inner").make()
    inner.set("memory", "memory.limit_in_bytes", 1024 * MiB)
    # v1 refuses a child quota above its parent's (EINVAL), so the leaf has none.
    data, _ = print_json(inner)
    assert data["memory"]["limit"] == 200 * MiB
    assert data["memory"]["source"] == f"/sys/fs/cgroup/memory/{cgroup.rel}/memory.limit_in_bytes"
    assert data["memory"]["dir"] == f"/sys/fs/cgroup/memory/{inner.rel}"
    assert data["cpu"]["quota"] == pytest.approx(0.5)
    assert data["cpu"]["source"] == f"/sys/fs/cgroup/cpu/{cgroup.rel}/cpu.cfs_quota_us"


def test_stricter_leaf_wins(cgroup):
    # JDK-8384138: the leaf's own quota must be folded into the minimum.
    cgroup.set("cpu", "cpu.cfs_quota_us", 200000)
    inner = cgroup.child("inner").make()
    inner.set("cpu", "cpu.cfs_quota_us", 100000)
    inner.set("memory", "memory.limit_in_bytes", 100 * MiB)
    data, _ = print_json(inner)
    assert data["cpu"]["quota"] == pytest.approx(1.0)
    assert data["cpu"]["source"] == f"/sys/fs/cgroup/cpu/{inner.rel}/cpu.cfs_quota_us"
    assert data["memory"]["limit"] == 100 * MiB


def test_no_limits(cgroup):
    data, _ = print_json(cgroup)
    assert data["memory"]["limit"] is None
    assert data["memory"]["state"] == "unlimited"
    assert data["cpu"]["quota"] is None
    assert data["cpu"]["count"] == host_cpus()
    assert data["notices"] == []


def test_limit_above_host_memory_is_no_limit(cgroup):
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) * 1024
    cgroup.set("memory", "memory.limit_in_bytes", total + 1024 * MiB)
    data, _ = print_json(cgroup)
    assert data["memory"]["limit"] is None
    assert "MEMORY_COVERS_MACHINE" in data["notice_codes"]


def test_text_report_names_the_source(cgroup):
    cgroup.set("memory", "memory.limit_in_bytes", 300 * MiB)
    proc = cgroup.run([__import__("sys").executable, "-m", "cgroupsize", "--print"])
    assert proc.returncode == 0
    assert "300 MiB" in proc.stdout
    assert f"/sys/fs/cgroup/memory/{cgroup.rel}/memory.limit_in_bytes" in proc.stdout
