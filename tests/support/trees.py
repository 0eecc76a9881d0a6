"""Fake roots for detection: a tree of files under a directory, and what any sane answer keeps.

``write_tree(root, files)`` writes ``{relative path: content}`` (``None`` for an
empty directory); ``HOST``, ``V1`` and ``V2`` are a host's /proc and /sys files
and the two fault-free layouts the fault and property tests start from;
``check_domain(limits)`` asserts the invariants every answer keeps, whatever
the files said.
"""
from __future__ import annotations

import json
import math
import os

from cgroupsize import model
from tests.support import GiB, MiB

NOTICE_CODES = frozenset(v for k, v in vars(model).items() if isinstance(v, str) and k == v and k.isupper())


# -- fixture roots -----------------------------------------------------------------


def write_tree(root, files: dict) -> str:
    """Create ``root/<path>`` for each ``{path: text-or-bytes}``; return ``root``."""
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        with open(path, "wb") as f:
            f.write(data)
    return root


HOST = {
    "proc/meminfo": "MemTotal:       16384000 kB\nMemFree:         8000000 kB\n",
    "proc/self/status": "Name:\tjava\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7\n",
    "sys/devices/system/cpu/online": "0-7\n",
}

# cgroup v1 (hybrid), the host's tree mounted with root "/", our cgroup three
# levels down: the walk crosses a parent with its own, looser limit.
V1 = dict(HOST, **{
    "proc/self/mountinfo": "\n".join([
        "24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw",
        "30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755",
        "31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:7 - cgroup cgroup rw,memory",
        "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct",
        "33 30 0:29 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset",
        "34 30 0:30 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw",
    ]) + "\n",
    "proc/self/cgroup": "5:memory:/kubepods/pod1/ctr\n4:cpu,cpuacct:/kubepods/pod1/ctr\n"
                        "3:cpuset:/kubepods/pod1/ctr\n1:name=systemd:/x\n0::/kubepods/pod1/ctr\n",
    "sys/fs/cgroup/unified/cgroup.controllers": "\n",
    "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
    "sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes": f"{GiB}\n",
    "sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes": f"{512 * MiB}\n",
    "sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.usage_in_bytes": f"{100 * MiB}\n",
    "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
    "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    "sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_quota_us": "150000\n",
    "sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_period_us": "100000\n",
    "sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr/cpu.shares": "1024\n",
    "sys/fs/cgroup/cpuset/kubepods/pod1/ctr/cpuset.effective_cpus": "0-3\n",
})

# cgroup v2, the same shape.
V2 = dict(HOST, **{
    "proc/self/mountinfo": "611 524 0:164 / / rw - overlay overlay rw\n"
                           "618 617 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
    "proc/self/cgroup": "0::/kubepods/pod1/ctr\n",
    "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
    "sys/fs/cgroup/kubepods/pod1/memory.max": f"{GiB}\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/cgroup.controllers": "cpuset cpu memory\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/memory.max": f"{512 * MiB}\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/memory.high": "max\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/memory.swap.max": "0\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/memory.current": f"{100 * MiB}\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/cpu.max": "150000 100000\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/cpu.weight": "100\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/cpuset.cpus.effective": "0-3\n",
})


def check_domain(limits):
    """Domain invariants every answer keeps, whatever the files said (shared with test_properties)."""
    host_mem = limits.memory.host.value
    mem = limits.memory.limit.value
    budget = limits.memory_limit  # min(memory.max, memory.high): what plans size for
    for value in (mem, budget):
        assert value is None or (isinstance(value, int) and value > 0), value
        if value is not None and host_mem:
            assert value < host_mem, (value, host_mem)
    assert mem is None or (budget is not None and budget <= mem), (budget, mem)
    assert limits.memory.state in ("limited", "unlimited", "unknown")
    assert (limits.memory.state == "limited") == (mem is not None), (limits.memory.state, mem)
    count = limits.cpu_count
    assert isinstance(count, int) and count >= 1, count
    if limits.cpu.host.value:
        assert count <= limits.cpu.host.value
    quota = limits.cpu.quota.value
    assert quota is None or (quota > 0 and math.isfinite(quota)), quota
    assert limits.cpu.state in ("limited", "unlimited", "unknown")
    assert (limits.cpu.state == "limited") == (quota is not None), (limits.cpu.state, quota)
    for v in (limits.cpu.cpuset, limits.cpu.affinity, limits.cpu.host, limits.memory.host):
        assert v.value is None or (isinstance(v.value, int) and v.value >= 1), v
    for v in (limits.memory.swap, limits.memory.usage, limits.memory.peak, limits.memory.oom_kills, limits.memory.high,
              limits.cpu.throttled, limits.cpu.throttled_usec, limits.cpu.weight, limits.cpu.period):
        assert v.value is None or (isinstance(v.value, int) and v.value >= 0), v
    for n in limits.notices:
        assert n.code in NOTICE_CODES, n
        assert isinstance(n.message, str) and n.message, n
    data = limits.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["cpu"]["count"] == count
