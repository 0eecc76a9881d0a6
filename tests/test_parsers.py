"""Table-driven tests of the small parsers detection is built from."""
from __future__ import annotations

import pytest

from cgroupsize.cgroups import mountinfo, proccgroup
from cgroupsize.cgroups.detect import relative
from cgroupsize.files import parse_cpu_list


@pytest.mark.parametrize(
    "line, expected",
    [
        # L3: Docker v2 private namespace (elastic/apm-agent-java#2352)
        ("486 477 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw",
         ("/", "/sys/fs/cgroup", "cgroup2", ["rw"])),
        # several optional fields (automemlimit#26)
        ("35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:7 master:1 - cgroup none rw,seclabel,memory",
         ("/", "/sys/fs/cgroup/memory", "cgroup", ["rw", "seclabel", "memory"])),
        # hyphen in the root (dotnet/coreclr#13488)
        ("354 347 0:28 /system.slice/docker-654dd.scope /sys/fs/cgroup/cpuacct,cpu ro - cgroup cgroup rw,cpuacct,cpu",
         ("/system.slice/docker-654dd.scope", "/sys/fs/cgroup/cpuacct,cpu", "cgroup", ["rw", "cpuacct", "cpu"])),
        # octal escapes (golang/go cgroup_test v2-escaped)
        ("25 21 0:22 / /sys/fs/cgroup/tab\\011tab rw,nosuid - cgroup2 cgroup2 rw",
         ("/", "/sys/fs/cgroup/tab\ttab", "cgroup2", ["rw"])),
        ("25 21 0:22 /a\\040b\\134c /x rw - cgroup cgroup rw,memory",
         ("/a b\\c", "/x", "cgroup", ["rw", "memory"])),
    ],
)
def test_mountinfo_line(line, expected):
    (m,) = mountinfo.parse(line)
    assert (m.root, m.mount_point, m.fstype, m.super_options) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "1 2 3 - cgroup",  # too few fields before the separator
        "no separator cgroup at all here",
        # WSL 9p with spaces in super options: not cgroup, must not break parsing (automaxprocs#72)
        "1391 1160 0:151 / /Docker/host rw,noatime - 9p C:\\134Program\\040Files rw,dirsync,"
        "aname=drvfs;path=C:\\Program Files\\Docker;symlinkroot=/mnt/",
    ],
)
def test_mountinfo_junk_yields_no_cgroup_mounts(text):
    assert mountinfo.parse(text) == []


def test_mountinfo_keeps_order_and_skips_other_filesystems():
    text = "\n".join([
        "1 0 0:1 / / rw - overlay overlay rw,lowerdir=" + "/x:" * 3000,
        "2 1 0:2 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
        "3 1 0:3 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw",
    ])
    assert [m.mount_point for m in mountinfo.parse(text)] == ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"]


@pytest.mark.parametrize(
    "text, unified, v1",
    [
        ("0::/", "/", {}),
        ("1:freezer:/\n0::/user.slice/user-1000.slice/session-2.scope",  # JDK-8287107
         "/user.slice/user-1000.slice/session-2.scope", {"freezer": "/"}),
        # colons inside the path (JDK-8272124)
        ("11:memory:/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:86ac",
         None, {"memory": "/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:86ac"}),
        ("2:cpu,cpuacct:/docker\n1:name=systemd:/init.scope", None, {"cpu": "/docker", "cpuacct": "/docker"}),
        ("garbage\n\n:::\n4:memory:relative/path", None, {}),
    ],
)
def test_proc_cgroup(text, unified, v1):
    assert proccgroup.parse(text) == (unified, v1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0-3,8,10-11", {0, 1, 2, 3, 8, 10, 11}),
        ("0", {0}),
        ("0-7:2", {0, 2, 4, 6}),
        ("", set()),
        ("\n", set()),
        ("3-1", None),
        ("a-b", None),
        ("0-", None),
        ("-1", None),
        ("0-99999999", None),  # absurd ranges are refused, not allocated
    ],
)
def test_cpu_list(text, expected):
    assert parse_cpu_list(text) == expected


@pytest.mark.parametrize(
    "path, root, expected",
    [
        ("/docker/abc", "/", "/docker/abc"),
        ("/docker/abc", "/docker/abc", "/"),
        ("/docker/abc/sub", "/docker/abc", "/sub"),  # JDK testCgPathSubstring
        ("/docker/abcdef", "/docker/abc", None),  # not a component boundary
        ("/test", "/docker/abc", None),  # moved out (JDK-8343191)
        ("/../../x", "/", None),  # outside the namespace
        ("/", "/../..", None),
        ("/kubepods.slice/pod123/containerA", "/kubepods.slice/pod123/", "/containerA"),
    ],
)
def test_relative(path, root, expected):
    assert relative(path, root) == expected


def test_mountinfo_under_keeps_only_that_subtree():
    text = "\n".join([
        "2 1 0:2 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
        "3 1 0:3 / /sys/fs/cgroupx rw - cgroup cgroup rw,cpu",
        "4 1 0:4 /pod /run/containerd/x/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
        "5 1 0:5 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
    ])
    assert [m.mount_point for m in mountinfo.parse(text, under="/sys/fs/cgroup")] == [
        "/sys/fs/cgroup/memory", "/sys/fs/cgroup"]


def test_controller_mounted_only_outside_sys_fs_cgroup_is_still_found(tmp_path):
    """The /sys/fs/cgroup subset is parsed first; a controller it lacks sends detection to every mount."""
    from cgroupsize.cgroups.detect import read_limits

    files = {
        "proc/self/mountinfo": "\n".join([
            "30 23 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755",
            "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
            "33 30 0:29 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset",
            "40 23 0:31 / /memory rw - cgroup cgroup rw,memory",
        ]),
        "proc/self/cgroup": "4:memory:/app\n3:cpuset:/\n2:cpu,cpuacct:/\n",
        "proc/meminfo": "MemTotal: 16777216 kB\n",
        "memory/app/memory.limit_in_bytes": "268435456\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "sys/fs/cgroup/cpuset/cpuset.cpus": "0-7\n",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    limits = read_limits(str(tmp_path))
    assert limits.memory_limit == 268435456
    assert limits.memory.limit.source == "/memory/app/memory.limit_in_bytes"
    assert limits.memory.version == "v1" and limits.cpu.version == "v1"
