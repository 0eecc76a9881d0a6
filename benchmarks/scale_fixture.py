"""Fixture roots for the scale check: a big host must not make detection slow.

``write(root, variant, size)`` lays out a ``--root`` tree (``proc/self/mountinfo``,
``proc/self/cgroup``, ``proc/self/status``, ``proc/meminfo``,
``sys/devices/system/cpu/online`` and the cgroup directories) and returns the
answer detection must give on it.

``size="large"``: 10,000 mountinfo lines as seen on a busy Kubernetes node
without a private mount namespace: overlay root filesystems, ``/proc`` and
``tmpfs`` mounts, bind mounts of ``/etc/hosts``/``resolv.conf``, secret and
projected-token tmpfs volumes and, for every other container, its own
``cgroup``/``cgroup2`` mounts (roots under ``/kubepods...``, mount points
under that container's rootfs: a parser that matches on "cgroup" has to look
at all of them). Optional fields (``shared:N master:M``), octal escapes and
hyphens in paths are mixed in. This process's cgroup is 30 levels deep, with
limits at a few levels and the tightest in the middle, so neither "leaf only"
nor "mount point only" gives the right answer.

``size="small"``: the same kind of host as a typical container sees it: ~30
mountinfo lines and a cgroup 3 levels deep.

``variant="v2"``: a unified hierarchy at ``/sys/fs/cgroup``.
``variant="v1"``: a hybrid v1 host (``cpu,cpuacct``, ``memory``, ``cpuset``... plus
an empty ``cgroup2`` at ``/sys/fs/cgroup/unified``), ``memory.use_hierarchy`` = 1.

Run as a script to write all four roots into a directory::

    python3 -m benchmarks.scale_fixture /tmp/scale
"""
from __future__ import annotations

import os
import random
import sys

MiB = 1 << 20
GiB = 1 << 30
HOST_MEMORY_KB = 64 * GiB // 1024
HOST_CPUS = "0-63"
V1_UNLIMITED = "9223372036854771712"  # LONG_MAX rounded down to 4 KiB pages

LARGE_LINES = 10_000
LARGE_DEPTH = 30
SMALL_DEPTH = 3

# Where the limits sit, per variant and size: {level (1 = first below the mount point): value}.
# The tightest limit is never at the leaf nor at the top.
LIMITS = {
    ("v2", "large"): {
        "memory.max": {5: 2 * GiB, 12: 768 * MiB, 25: 1 * GiB},
        "memory.high": {27: 700 * MiB},
        "memory.swap.max": {3: 0},
        "cpu.max": {8: (150000, 100000), 20: (400000, 100000), 29: (250000, 100000)},
    },
    ("v2", "small"): {
        "memory.max": {1: 2 * GiB, 2: 768 * MiB},
        "memory.high": {3: 700 * MiB},
        "memory.swap.max": {1: 0},
        "cpu.max": {2: (150000, 100000), 3: (250000, 100000)},
    },
    ("v1", "large"): {
        "memory.limit_in_bytes": {6: 2 * GiB, 17: 640 * MiB, 28: 1 * GiB},
        "memory.memsw.limit_in_bytes": {6: 2 * GiB, 17: 640 * MiB, 28: 1 * GiB},
        "cpu.cfs_quota_us": {9: 150000, 22: 300000},
    },
    ("v1", "small"): {
        "memory.limit_in_bytes": {1: 2 * GiB, 2: 640 * MiB},
        "memory.memsw.limit_in_bytes": {1: 2 * GiB, 2: 640 * MiB},
        "cpu.cfs_quota_us": {2: 150000, 3: 300000},
    },
}


def levels(depth: int, rng: random.Random) -> list:
    """Directory names from the top of the hierarchy down to our cgroup."""
    pod = "%08x_%04x_%04x_%04x_%012x" % tuple(rng.getrandbits(b) for b in (32, 16, 16, 16, 48))
    cid = "%064x" % rng.getrandbits(256)
    names = ["kubepods.slice", "kubepods-burstable.slice", f"kubepods-burstable-pod{pod}.slice",
             f"cri-containerd-{cid}.scope"]
    names += [f"nested-{i:02d}" for i in range(len(names) + 1, depth + 1)]
    return names[:depth]


def write(root: str, variant: str = "v2", size: str = "large", seed: int = 5) -> dict:
    """Write the fixture tree under ``root``; return the expected answer.

    The answer's keys: ``memory`` (bytes), ``memory_source``, ``memory_high``
    (v2) and ``memory_high_source``, ``swap``, ``cpu_quota`` (CPUs),
    ``cpu_source``, ``cpu_count``, ``cpuset``, ``cgroup_dir`` (our memory
    cgroup directory, as seen inside the root), ``depth`` and ``mountinfo_lines``.
    """
    if variant not in ("v1", "v2") or size not in ("small", "large"):
        raise ValueError(f"unknown fixture {variant}/{size}")
    rng = random.Random(f"{seed}-{variant}-{size}")
    depth = LARGE_DEPTH if size == "large" else SMALL_DEPTH
    names = levels(depth, rng)
    rel = "/" + "/".join(names)
    limits = LIMITS[(variant, size)]

    own = _own_mounts(variant)
    if size == "large":
        lines = _busy_host(rng, variant, LARGE_LINES - len(own))
        # Our own cgroup mounts last: as on a host where they were mounted
        # after everything else, the parser has to see every line first.
        lines += own
    else:
        lines = _container_base() + own
    _put(root, "proc/self/mountinfo", "\n".join(lines) + "\n")
    _put(root, "proc/meminfo", f"MemTotal:       {HOST_MEMORY_KB} kB\nMemFree:        {HOST_MEMORY_KB // 2} kB\n")
    _put(root, "proc/self/status", "Name:\tpython3\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7\n")
    _put(root, "sys/devices/system/cpu/online", HOST_CPUS + "\n")

    if variant == "v2":
        _put(root, "proc/self/cgroup", f"0::{rel}\n")
        return _v2_tree(root, names, limits, size, len(lines))
    _put(root, "proc/self/cgroup", "".join(
        f"{i}:{c}:{rel if c in ('cpu,cpuacct', 'memory', 'cpuset', 'pids') else '/'}\n"
        for i, c in enumerate(V1_HIERARCHIES, start=1)) + f"0::{rel}\n")
    return _v1_tree(root, names, limits, size, len(lines))


# -- mountinfo -------------------------------------------------------------------

V1_HIERARCHIES = ("blkio", "cpu,cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory",
                  "net_cls,net_prio", "perf_event", "pids", "rdma", "misc", "name=systemd")


def _container_base() -> list:
    return [
        "611 524 0:164 / / rw,relatime master:238 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC:"
        "/var/lib/docker/overlay2/l/DEF,upperdir=/var/lib/docker/overlay2/x/diff,workdir=/var/lib/docker/overlay2/x/work",
        "612 611 0:169 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
        "613 611 0:170 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64",
        "614 613 0:171 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666",
        "615 613 0:165 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw",
        "616 611 0:172 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro",
        "620 613 0:163 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,inode64",
        "621 611 254:1 /var/lib/docker/containers/1f2e/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda1 rw",
        "622 611 254:1 /var/lib/docker/containers/1f2e/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw",
        "623 611 254:1 /var/lib/docker/containers/1f2e/hosts /etc/hosts rw,relatime - ext4 /dev/vda1 rw",
        "624 612 0:169 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw",
        "625 612 0:169 /fs /proc/fs ro,nosuid,nodev,noexec,relatime - proc proc rw",
        "626 612 0:169 /irq /proc/irq ro,nosuid,nodev,noexec,relatime - proc proc rw",
        "627 612 0:169 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw",
        "628 612 0:169 /sysrq-trigger /proc/sysrq-trigger ro,nosuid,nodev,noexec,relatime - proc proc rw",
        "629 612 0:173 / /proc/acpi ro,relatime - tmpfs tmpfs ro,inode64",
        "630 612 0:170 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64",
        "631 612 0:170 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64",
        "632 612 0:170 /null /proc/timer_list rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64",
        "633 616 0:174 / /proc/scsi ro,relatime - tmpfs tmpfs ro,inode64",
        "634 616 0:175 / /sys/firmware ro,relatime - tmpfs tmpfs ro,inode64",
    ]


def _own_mounts(variant: str) -> list:
    if variant == "v2":
        return ["9990 616 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                "rw,nsdelegate,memory_recursiveprot"]
    out = ["9970 616 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755,inode64",
           "9971 9970 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 "
           "rw,nsdelegate"]
    for i, h in enumerate(V1_HIERARCHIES):
        point = "systemd" if h == "name=systemd" else h
        opts = "xattr,name=systemd" if h == "name=systemd" else h
        out.append(f"{9972 + i} 9970 0:{28 + i} / /sys/fs/cgroup/{point} rw,nosuid,nodev,noexec,relatime "
                   f"shared:{11 + i} - cgroup cgroup rw,{opts}")
    return out


def _busy_host(rng: random.Random, variant: str, count: int) -> list:
    """``count`` mountinfo lines of a node running many other containers."""
    lines = [
        "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard,errors=remount-ro",
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
        "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw",
        "25 22 0:5 / /dev rw,nosuid,relatime shared:3 - devtmpfs udev rw,size=32840384k,nr_inodes=8210096,mode=755",
        "26 25 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:4 - devpts devpts rw,gid=5,mode=620,ptmxmode=000",
        "27 22 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=6573624k,mode=755",
        "28 24 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:7 - securityfs securityfs rw",
        "29 25 0:25 / /dev/shm rw,nosuid,nodev shared:8 - tmpfs tmpfs rw,inode64",
        "30 22 254:15 / /mnt/my\\040data rw,relatime shared:30 - ext4 /dev/vdb rw",  # octal escape
        "31 22 254:16 / /srv/build-cache-2024 rw,relatime shared:31 - xfs /dev/vdc rw,attr2,inode64",  # hyphens
    ]
    mount_id = 100
    while len(lines) < count:
        cid = "%064x" % rng.getrandbits(256)
        pod = "%08x-%04x-%04x-%04x-%012x" % tuple(rng.getrandbits(b) for b in (32, 16, 16, 16, 48))
        rootfs = f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}/rootfs"
        cg = f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod.replace('-', '_')}.slice/" \
             f"cri-containerd-{cid}.scope"
        snapshots = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
        layers = ":".join(f"{snapshots}/{rng.randrange(1, 99999)}/fs"
                          for _ in range(rng.randrange(2, 7)))
        snap = rng.randrange(1, 99999)
        base = mount_id
        group = [
            f"{base} 27 0:{base} / {rootfs} rw,relatime shared:{base} - overlay overlay rw,lowerdir={layers},"
            f"upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/{snap}/fs,"
            f"workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/{snap}/work",
            f"{base + 1} {base} 0:{base + 1} / {rootfs}/proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
            f"{base + 2} {base} 0:{base + 2} / {rootfs}/dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755",
            f"{base + 3} 22 254:1 /var/lib/kubelet/pods/{pod}/etc-hosts {rootfs}/etc/hosts rw,relatime "
            f"shared:1 - ext4 /dev/vda1 rw,discard",
            f"{base + 4} 22 254:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{cid[:12]}/resolv.conf "
            f"{rootfs}/etc/resolv.conf rw,relatime shared:1 - ext4 /dev/vda1 rw,discard",
            f"{base + 5} 27 0:{base + 5} / /var/lib/kubelet/pods/{pod}/volumes/kubernetes.io~projected/"
            f"kube-api-access-{cid[:5]} rw,relatime shared:{base + 5} - tmpfs tmpfs rw,size={rng.randrange(1, 9)}G",
            f"{base + 6} {base} 0:{base + 5} / {rootfs}/var/run/secrets/kubernetes.io/serviceaccount ro,relatime "
            f"master:{base + 5} - tmpfs tmpfs rw,size=1G",
            f"{base + 7} {base} 0:{base + 7} / {rootfs}/sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro",
        ]
        if variant == "v2":
            group.append(f"{base + 8} {base + 7} 0:30 {cg} {rootfs}/sys/fs/cgroup ro,nosuid,nodev,noexec,"
                         f"relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot")
        else:
            group.append(f"{base + 8} {base + 7} 0:{base + 8} / {rootfs}/sys/fs/cgroup ro,nosuid - tmpfs tmpfs "
                         f"ro,mode=755")
            for j, h in enumerate(("cpu,cpuacct", "memory", "cpuset", "pids")):
                group.append(f"{base + 9 + j} {base + 8} 0:{29 + j} {cg} {rootfs}/sys/fs/cgroup/{h} ro,nosuid,"
                             f"nodev,noexec,relatime master:{11 + j} - cgroup cgroup rw,{h}")
        lines.extend(group)
        mount_id += 16
    return lines[:count]


# -- cgroup trees ------------------------------------------------------------------


def _v2_tree(root, names, limits, size, n_lines) -> dict:
    mount = "/sys/fs/cgroup"
    dirs = [mount] + [mount + "/" + "/".join(names[:i]) for i in range(1, len(names) + 1)]
    controllers = "cpuset cpu io memory hugetlb pids rdma misc\n"
    for level, d in enumerate(dirs):
        _put(root, d + "/cgroup.controllers", controllers)
        if level == 0:
            _put(root, d + "/cpu.stat", "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n")
            continue  # the root cgroup has no memory.max or cpu.max
        for name in ("memory.max", "memory.high", "memory.swap.max"):
            value = limits[name].get(level)
            _put(root, f"{d}/{name}", ("max" if value is None else str(value)) + "\n")
        quota = limits["cpu.max"].get(level)
        _put(root, d + "/cpu.max", ("max 100000" if quota is None else "%d %d" % quota) + "\n")
        _put(root, d + "/cpu.weight", "100\n")
        _put(root, d + "/cpu.stat", "usage_usec 1000\nnr_periods 10\nnr_throttled %d\nthrottled_usec 50\n" % level)
        _put(root, d + "/memory.current", "%d\n" % (100 * MiB - level))
        _put(root, d + "/memory.peak", "%d\n" % (200 * MiB - level))
        _put(root, d + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
        _put(root, d + "/cpuset.cpus.effective", "0-7\n")
    mem_level = _tightest_level(limits["memory.max"])
    cpu_level = min(limits["cpu.max"], key=lambda lv: limits["cpu.max"][lv][0] / limits["cpu.max"][lv][1])
    high_level = _tightest_level(limits["memory.high"])
    quota = limits["cpu.max"][cpu_level][0] / limits["cpu.max"][cpu_level][1]
    return {
        "variant": "v2", "size": size, "depth": len(names), "mountinfo_lines": n_lines,
        "cgroup_dir": dirs[-1],
        "memory": limits["memory.max"][mem_level], "memory_source": dirs[mem_level] + "/memory.max",
        "memory_high": limits["memory.high"][high_level], "memory_high_source": dirs[high_level] + "/memory.high",
        "swap": 0,
        "cpu_quota": quota, "cpu_source": dirs[cpu_level] + "/cpu.max",
        "cpu_count": 2, "cpuset": 8,
    }


def _v1_tree(root, names, limits, size, n_lines) -> dict:
    def chain(point):
        mount = "/sys/fs/cgroup/" + point
        return [mount] + [mount + "/" + "/".join(names[:i]) for i in range(1, len(names) + 1)]

    mem, cpu, cpuset = chain("memory"), chain("cpu,cpuacct"), chain("cpuset")
    tightest = _tightest_level(limits["memory.limit_in_bytes"])
    for level, d in enumerate(mem):
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            value = limits[name].get(level)
            _put(root, f"{d}/{name}", (V1_UNLIMITED if value is None else str(value)) + "\n")
        _put(root, d + "/memory.use_hierarchy", "1\n")
        hier = min([v for lv, v in limits["memory.limit_in_bytes"].items() if lv <= level] or [int(V1_UNLIMITED)])
        hier_sw = min([v for lv, v in limits["memory.memsw.limit_in_bytes"].items() if lv <= level]
                      or [int(V1_UNLIMITED)])
        _put(root, d + "/memory.stat", f"cache 1000\nrss 2000\nhierarchical_memory_limit {hier}\n"
                                       f"hierarchical_memsw_limit {hier_sw}\ntotal_rss 2000\n")
        _put(root, d + "/memory.usage_in_bytes", "%d\n" % (100 * MiB - level))
        _put(root, d + "/memory.max_usage_in_bytes", "%d\n" % (200 * MiB - level))
        _put(root, d + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    for level, d in enumerate(cpu):
        quota = limits["cpu.cfs_quota_us"].get(level)
        _put(root, d + "/cpu.cfs_quota_us", ("-1" if quota is None else str(quota)) + "\n")
        _put(root, d + "/cpu.cfs_period_us", "100000\n")
        _put(root, d + "/cpu.shares", "1024\n")
        _put(root, d + "/cpu.stat", "nr_periods 10\nnr_throttled %d\nthrottled_time 50000\n" % level)
    for d in cpuset:
        _put(root, d + "/cpuset.cpus", "0-7\n")
        _put(root, d + "/cpuset.effective_cpus", "0-7\n")
    cpu_level = min(limits["cpu.cfs_quota_us"], key=limits["cpu.cfs_quota_us"].get)
    return {
        "variant": "v1", "size": size, "depth": len(names), "mountinfo_lines": n_lines,
        "cgroup_dir": mem[-1],
        "memory": limits["memory.limit_in_bytes"][tightest],
        "memory_source": mem[tightest] + "/memory.limit_in_bytes",
        "memory_high": None, "memory_high_source": None,
        "swap": 0,
        "cpu_quota": limits["cpu.cfs_quota_us"][cpu_level] / 100000,
        "cpu_source": cpu[cpu_level] + "/cpu.cfs_quota_us",
        "cpu_count": 2, "cpuset": 8,
    }


def _tightest_level(by_level: dict) -> int:
    return min(by_level, key=by_level.get)


def _put(root: str, inside: str, text: str) -> None:
    path = os.path.join(root, inside.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def write_all(directory: str) -> dict:
    """All four roots (``v2-small``, ``v2-large``, ``v1-small``, ``v1-large``) under ``directory``."""
    out = {}
    for variant in ("v2", "v1"):
        for size in ("small", "large"):
            name = f"{variant}-{size}"
            out[name] = (os.path.join(directory, name), write(os.path.join(directory, name), variant, size))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scale_fixture.py DIR")
    for name, (path, expected) in write_all(sys.argv[1]).items():
        print(f"{name}: {path}  {expected['mountinfo_lines']} mountinfo lines, depth {expected['depth']}, "
              f"memory {expected['memory']} from {expected['memory_source']}")
