"""Property tests (hypothesis) for every parser and for detection as a whole.

Arbitrary bytes never raise out of the library, and every answer stays in its
domain: a limit is positive or None (and below host memory), a CPU count is at
least 1, a quota is positive or None, ``to_dict()`` is JSON, every notice has
a code limits.py defines. Inputs are bytes decoded the way :class:`Files`
decodes them (UTF-8 with surrogateescape), plus structured strategies that
look like the real files: mountinfo lines with random fields, ``/proc/self/cgroup``
lines, cgroup files holding negative, huge, fractional, ``max``, blank and
NUL-laden numbers, whole fixture trees built from them.
"""
from __future__ import annotations

import math
import os
import posixpath
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from cgroupsize import settings as table
from cgroupsize.cgroups import mountinfo, proccgroup, v1, v2
from cgroupsize.cgroups.detect import Location, read_limits, relative
from cgroupsize.files import MAX_CPUS, Files, parse_cpu_list, parse_uint

from tests.support.trees import HOST, V1, V2, check_domain, write_tree

# Fixture trees are made and removed hundreds of times: on a tmpfs when there
# is one (unlink on this VM's ext4 with "discard" costs ~40 ms a tree).
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TREES = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def decoded(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


raw_text = st.binary(max_size=400).map(decoded)
any_text = st.one_of(raw_text, st.text(max_size=200))

NASTY = ["", " ", "\n", "\x00", "max", "-1", "0", "00", "-0", "+5", "1_000", "0x10", "1e9", "1.5", "²", "١٠٠",
         "１２", " 42 ", "42\n43", "\t7\t", "max max", "max 100000", "100000 0", "0 100000", "-5 100000",
         "150000 100000 extra", "9223372036854771712", "9223372036854775807", "18446744073709551615",
         "18446744073709551616", "9" * 21, "9" * 400, "9" * 5000, "4611686018427387904", "1",
         "nan", "inf", "-inf", "\udcff\udcfe", "max\x00", "1\x002"]

number_text = st.one_of(
    st.integers(min_value=1, max_value=2 ** 40).map(str),  # a good number, more often than not
    st.integers(min_value=1, max_value=2 ** 40).map(lambda n: f"{n} 100000"),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.integers(min_value=0, max_value=2 ** 64).map(str),
    st.floats().map(repr),
    st.sampled_from(NASTY),
    st.tuples(st.integers(-10, 2 ** 40), st.integers(-10, 2 ** 40)).map(lambda t: f"{t[0]} {t[1]}"),
    st.tuples(st.sampled_from(["max", "1", "-1", "²"]), st.integers(-10, 2 ** 64)).map(lambda t: f"{t[0]} {t[1]}"),
    raw_text,
)
cpu_list_text = st.one_of(
    st.lists(st.one_of(st.integers(-3, 70000).map(str),
                       st.tuples(st.integers(-3, 70000), st.integers(-3, 70000)).map(lambda t: f"{t[0]}-{t[1]}"),
                       st.tuples(st.integers(0, 64), st.integers(0, 64), st.integers(-1, 9)).map(
                           lambda t: f"{t[0]}-{t[1]}:{t[2]}"),
                       st.sampled_from(["", " ", "a", "-", "0-", "²", "1-²", "0-3:²"])),
             max_size=8).map(",".join),
    raw_text,
)
keyed_text = st.lists(st.tuples(st.sampled_from(["nr_throttled", "throttled_usec", "throttled_time", "oom_kill",
                                                 "hierarchical_memory_limit", "hierarchical_memsw_limit",
                                                 "nr_periods", "max", "low"]),
                                number_text.filter(lambda s: "\n" not in s)),
                      max_size=6).map(lambda kv: "\n".join(f"{k} {v}" for k, v in kv))


# -- the small parsers --------------------------------------------------------------------------


@FAST
@given(any_text, st.booleans())
@example("1 2 3:4 / /sys/fs/cgroup rw - cgroup2", True)
@example("1 2 3:4 /\\777 /a\\000b rw - cgroup c rw,memory", True)
def test_mountinfo_any_text(text, cgroup_only):
    mounts = mountinfo.parse(text, cgroup_only=cgroup_only)
    for m in mounts:
        assert isinstance(m.root, str) and isinstance(m.mount_point, str)
        assert all(isinstance(o, str) for o in m.super_options)
        if cgroup_only:
            assert m.fstype in ("cgroup", "cgroup2")


@FAST
@given(any_text)
def test_unescape_any_text(text):
    out = mountinfo.unescape(text)
    assert isinstance(out, str)
    if "\\" not in text:
        assert out == text


@FAST
@given(any_text)
@example("0::/\n0::relative\n1:memory,name=x:/a:b:c\n::\n")
def test_proc_cgroup_any_text(text):
    unified, v1 = proccgroup.parse(text)
    assert unified is None or unified.startswith("/")
    for controller, path in v1.items():
        assert controller and not controller.startswith("name=") and path.startswith("/")


@FAST
@given(cpu_list_text)
@example("0-65535," * 20)
@example("0-" + "9" * 5000)
@example("²")
@example("0-7:0")
def test_cpu_list_any_text(text):
    cpus = parse_cpu_list(text)
    assert cpus is None or (isinstance(cpus, set) and all(0 <= c < MAX_CPUS for c in cpus))


@FAST
@given(st.one_of(number_text, any_text))
def test_parse_uint(text):
    n = parse_uint(text)
    assert n is None or (isinstance(n, int) and n >= 0 and str(n) == text.lstrip("0").rjust(1, "0"))


@FAST
@given(st.one_of(st.sampled_from(["/", "/a", "/a/b", "/a/../b", "/docker/abc"]), any_text.map(lambda t: "/" + t)),
       st.one_of(st.sampled_from(["/", "", "/a", "/a/", "/..", "/docker/abc"]), any_text))
def test_relative(path, root):
    rel = relative(path, root)
    assert rel is None or (rel.startswith("/") and ".." not in rel.split("/"))


@FAST
@given(any_text.map(lambda t: "/" + t), st.one_of(st.sampled_from(["/", "/sys/fs/cgroup", ""]),
                                                  any_text.map(lambda t: "/" + t)))
def test_chain_terminates_and_ends_at_the_mount_point(directory, mount_point):
    chain = list(Location("v2", mount_point, directory).chain())
    assert chain[-1] == mount_point
    assert len(chain) <= directory.count("/") + 2


# -- the root seam -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_root():
    d = tempfile.mkdtemp(prefix="cgroupsize-props-")
    os.mkdir(os.path.join(d, "root"))
    yield os.path.join(d, "root")
    shutil.rmtree(d)


@FAST
@given(st.one_of(any_text, st.sampled_from(["..", "/..", "/../../etc/passwd", "../x", "/a/../../b", "//x",
                                            "\x00", "/proc/\x00/x"])))
def test_files_path_never_leaves_the_root(empty_root, inside):
    files = Files(empty_root)
    real = files.path(inside)
    assert real == empty_root + "/" or real.startswith(empty_root + "/")
    assert ".." not in real[len(empty_root):].split("/")
    assert files.read(inside) is None  # nothing there; never raises
    assert files.is_dir(inside) in (True, False)
    for n in files.notices:
        assert n.code in ("MALFORMED", "UNREADABLE")


# -- detection from whole fixture trees --------------------------------------------------------------

MOUNT_POINTS = ["/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset",
                "/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpu"]
CGROUP_PATHS = ["/", "/docker/abc", "/docker/abc/sub", "/kubepods/pod1/ctr", "/kubepods/pod1", "/../../x",
                "/docker/abcdef", "/init.scope"]
SUBDIRS = ["", "docker", "docker/abc", "docker/abc/sub", "kubepods", "kubepods/pod1", "kubepods/pod1/ctr",
           "init.scope"]
CGROUP_FILES = {
    "memory.max": number_text, "memory.high": number_text, "memory.swap.max": number_text,
    "memory.current": number_text, "memory.peak": number_text, "memory.events": keyed_text,
    "memory.limit_in_bytes": number_text, "memory.memsw.limit_in_bytes": number_text,
    "memory.use_hierarchy": st.sampled_from(["1", "0", "", "x"]), "memory.stat": keyed_text,
    "memory.usage_in_bytes": number_text, "memory.max_usage_in_bytes": number_text,
    "memory.oom_control": keyed_text,
    "cpu.max": number_text, "cpu.weight": number_text, "cpu.shares": number_text, "cpu.stat": keyed_text,
    "cpu.cfs_quota_us": number_text, "cpu.cfs_period_us": number_text,
    "cpuset.cpus.effective": cpu_list_text, "cpuset.effective_cpus": cpu_list_text, "cpuset.cpus": cpu_list_text,
    "cgroup.controllers": st.one_of(st.sets(st.sampled_from(["cpu", "memory", "cpuset", "io", "pids"])).map(
        " ".join), raw_text),
}

field = st.one_of(st.sampled_from(["1", "0:30", "rw,nosuid", "shared:7 master:1", "", "-"]),
                  st.text(alphabet="abc019:,/\\ ", max_size=12))
escaped_path = st.one_of(st.sampled_from(MOUNT_POINTS + CGROUP_PATHS), any_text.map(lambda t: "/" + t),
                         st.sampled_from(["/a\\040b", "/x\\011y", "/\\777", "relative", "", "/../outside"]))


# Strategies are built once, here: hypothesis validates a strategy each time
# one is made, and making them inside a composite per draw tripled the run time.
_fstype = st.sampled_from(["cgroup", "cgroup2", "cgroup2", "cgroup", "tmpfs", "9p", "cgroupx"])
_mount_root = st.one_of(st.sampled_from(["/", "/docker/abc", "/kubepods/pod1", "/.."]), escaped_path)
_mount_point = st.one_of(st.sampled_from(MOUNT_POINTS), escaped_path)
_super_options = st.lists(st.one_of(st.sampled_from(["rw", "ro", "memory", "cpu", "cpuacct", "cpuset",
                                                     "name=systemd", "nsdelegate"]), raw_text), max_size=5)
_line = st.builds(
    lambda root, point, optional, fstype, options: " ".join(
        ["35", "30", "0:31", root, point, "rw,nosuid"] + optional + ["-", fstype, "cgroup", ",".join(options)]),
    _mount_root, _mount_point, st.lists(field, max_size=3), _fstype, _super_options)
_canonical_lines = st.sampled_from(
    [line for line in (V1["proc/self/mountinfo"] + V2["proc/self/mountinfo"]).splitlines() if "cgroup" in line]
    + ["31 30 0:27 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory",
       "32 30 0:28 /docker/abc /sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu,cpuacct",
       "33 30 0:29 /docker/abc /sys/fs/cgroup/cpuset ro - cgroup cgroup rw,cpuset",
       "618 617 0:30 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup rw"])
mountinfo_line = st.one_of(
    _canonical_lines,
    _canonical_lines,
    _line,
    st.tuples(_line, st.floats(0, 1)).map(lambda t: t[0][:int(len(t[0]) * t[1])]),  # cut short
    raw_text,
)
proc_cgroup_line = st.one_of(
    st.sampled_from(["0::/", "0::/kubepods/pod1/ctr", "0::/docker/abc", "5:memory:/kubepods/pod1/ctr",
                     "4:cpu,cpuacct:/kubepods/pod1/ctr", "3:cpuset:/kubepods/pod1/ctr", "5:memory:/docker/abc",
                     "4:cpu,cpuacct:/docker/abc/sub", "3:cpuset:/"]),
    st.builds(lambda hid, controllers, path: f"{hid}:{controllers}:{path}",
              st.sampled_from(["0", "1", "4", "12", "", "x"]),
              st.sampled_from(["", "memory", "cpu,cpuacct", "cpuset", "name=systemd", "cpu", "memory,cpu", "freezer"]),
              st.one_of(st.sampled_from(CGROUP_PATHS + ["/a:b:c"]), escaped_path)),
    raw_text,
)

host_files = st.fixed_dictionaries({}, optional={
    "proc/meminfo": st.one_of(number_text.map(lambda n: f"MemTotal: {n} kB\n"),
                              number_text.map(lambda n: f"MemTotal: {n}\n"), raw_text,
                              st.just(HOST["proc/meminfo"])),
    "proc/self/status": st.one_of(cpu_list_text.map(lambda c: f"Name:\tx\nCpus_allowed_list:\t{c}\n"),
                                  raw_text, st.just(HOST["proc/self/status"])),
    "sys/devices/system/cpu/online": st.one_of(cpu_list_text, st.just("0-7\n")),
})

# One cgroup file: (mount point, sub directory, name, content).
_cgroup_file = st.sampled_from(sorted(CGROUP_FILES)).flatmap(
    lambda name: st.tuples(st.sampled_from(MOUNT_POINTS), st.sampled_from(SUBDIRS), st.just(name),
                           CGROUP_FILES[name]))


def _tree(host, lines, cg_lines, cgroup_files, make_dirs):
    files = dict(host)
    if make_dirs:  # every cgroup directory exists, so that detection gets past locating
        files.update({posixpath.join(m.lstrip("/"), sub, ""): None for m in MOUNT_POINTS for sub in SUBDIRS})
    files["proc/self/mountinfo"] = "\n".join(lines)
    files["proc/self/cgroup"] = "\n".join(cg_lines)
    for mount, sub, name, content in cgroup_files:
        base = mount.lstrip("/")
        files[posixpath.join(base, sub, name) if sub else posixpath.join(base, name)] = content
    return files


cgroup_tree = st.builds(_tree, host_files, st.lists(mountinfo_line, max_size=8),
                        st.lists(proc_cgroup_line, max_size=6), st.lists(_cgroup_file, min_size=3, max_size=30),
                        st.sampled_from([True] * 4 + [False]))


V1_MOUNTS = {"memory": "/sys/fs/cgroup/memory", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
             "cpuset": "/sys/fs/cgroup/cpuset"}
V1_NAMES = {"memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.use_hierarchy",
                       "memory.stat", "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"],
            "cpu,cpuacct": ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "cpu.stat"],
            "cpuset": ["cpuset.effective_cpus", "cpuset.cpus"]}
V2_NAMES = ["memory.max", "memory.high", "memory.swap.max", "memory.current", "memory.peak", "memory.events",
            "cpu.max", "cpu.weight", "cpu.stat", "cpuset.cpus.effective"]


def _coherent(version, mode, path, values, host):
    """A tree whose mountinfo and /proc/self/cgroup agree, so detection reaches the values.

    ``mode``: "host" (mount root /, the full path below the mount point),
    "docker" (v1-style: mount root == our path, the mount point is our cgroup),
    "ns" (a private cgroup namespace: both "/"). ``values`` maps
    ``(level, name)`` to content; level 0 is the mount point, the deepest is ours.
    """
    files = dict(host)
    root, cg_path = {"host": ("/", path), "docker": (path, path), "ns": ("/", "/")}[mode]
    below = [p for p in path.split("/") if p] if mode == "host" else []
    levels = ["/".join(below[:i]) for i in range(len(below) + 1)]  # "", "kubepods", "kubepods/pod1", ...
    if version == "v2":
        files["proc/self/mountinfo"] = f"618 617 0:30 {root} /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
        files["proc/self/cgroup"] = f"0::{cg_path}\n"
        files["sys/fs/cgroup/cgroup.controllers"] = "cpuset cpu io memory pids\n"
        mounts = {"": ("sys/fs/cgroup", V2_NAMES)}
    else:
        files["proc/self/mountinfo"] = "".join(
            f"3{i} 30 0:2{i} {root} {point} rw,nosuid - cgroup cgroup rw,{h}\n"
            for i, (h, point) in enumerate(V1_MOUNTS.items()))
        files["proc/self/cgroup"] = "".join(f"{9 - i}:{h}:{cg_path}\n" for i, h in enumerate(V1_MOUNTS))
        mounts = {h: (point.lstrip("/"), V1_NAMES[h]) for h, point in V1_MOUNTS.items()}
    for (level, index), content in values.items():
        for point, names in mounts.values():
            name = names[index % len(names)]
            rel = levels[min(level, len(levels) - 1)]
            files[posixpath.join(point, rel, name)] = content
    for point, _ in mounts.values():  # every directory on the walk exists
        for rel in levels:
            files[posixpath.join(point, rel, "")] = None
    return files


coherent_tree = st.builds(
    _coherent,
    st.sampled_from(["v1", "v2"]),
    st.sampled_from(["host", "docker", "ns"]),
    st.sampled_from(["/kubepods/pod1/ctr", "/docker/abc", "/a", "/system.slice/x.scope/init"]),
    st.dictionaries(st.tuples(st.integers(0, 3), st.integers(0, 9)), st.one_of(number_text, number_text,
                                                                                 cpu_list_text, keyed_text),
                    max_size=20),
    st.one_of(st.just({k: v for k, v in HOST.items()}), host_files),
)


def _build(files: dict, top: str) -> str:
    root = os.path.join(top, "root")
    os.mkdir(root)
    for rel, content in sorted(files.items(), key=lambda kv: kv[1] is not None):  # directories first
        path = os.path.join(root, rel)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if content is None:
                continue  # "dir/": a directory, made above
            with open(path, "wb") as f:
                f.write(content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content)
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            pass  # "memory.max" as a file and as a directory on the same path: keep the first
    return root


class _Alarm:
    """A detection that blocks (a FIFO) must fail the test, not hang it."""

    def __enter__(self):
        def fire(signum, frame):
            raise TimeoutError("read_limits blocked")

        self.old = signal.signal(signal.SIGALRM, fire)
        signal.alarm(20)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


def detect_tree(files: dict):
    top = tempfile.mkdtemp(prefix="cgroupsize-props-", dir=SCRATCH)
    try:
        with _Alarm():
            limits = read_limits(_build(files, top))
    finally:
        shutil.rmtree(top)
    check_domain(limits)
    event(f"memory {limits.memory.state} ({limits.memory.version}), cpu {limits.cpu.state} ({limits.cpu.version})")
    return limits


@TREES
@given(cgroup_tree)
def test_read_limits_random_trees(files):
    detect_tree(files)


@TREES
@given(coherent_tree)
def test_read_limits_coherent_trees_with_random_values(files):
    """mountinfo and /proc/self/cgroup that agree, any values at any level of the walk."""
    detect_tree(files)


@TREES
@given(st.sampled_from(["v1", "v2"]), st.data())
def test_read_limits_known_layouts_with_random_values(name, data):
    """The fault-free v1/v2 layouts of test_faults, with any subset of files replaced by numbers or bytes."""
    base = dict(V1 if name == "v1" else V2)
    victims = data.draw(st.lists(st.sampled_from(sorted(base)), unique=True, max_size=len(base)))
    for rel in victims:
        name_ = posixpath.basename(rel)
        strategy = CGROUP_FILES.get(name_, raw_text)
        base[rel] = data.draw(st.one_of(strategy, st.binary(max_size=200)))
    detect_tree(base)


@TREES
@given(st.sampled_from(["v1", "v2"]), st.data())
def test_read_limits_known_layouts_with_odd_file_kinds(name, data):
    """Any file of a layout turned into a directory, a symlink loop, a FIFO or removed."""
    base = dict(V1 if name == "v1" else V2)
    kinds = data.draw(st.dictionaries(st.sampled_from(sorted(base)),
                                      st.sampled_from(["dir", "loop", "fifo", "gone"]), max_size=4))
    top = tempfile.mkdtemp(prefix="cgroupsize-props-", dir=SCRATCH)
    try:
        root = write_tree(os.path.join(top, "root"), base)
        for rel, kind in kinds.items():
            path = os.path.join(root, rel)
            os.unlink(path)
            if kind == "dir":
                os.mkdir(path)
            elif kind == "loop":
                os.symlink(os.path.basename(path), path)
            elif kind == "fifo":
                os.mkfifo(path)
        with _Alarm():
            limits = read_limits(root)
    finally:
        shutil.rmtree(top)
    check_domain(limits)
    always_read = {"proc/self/mountinfo", "proc/meminfo", "proc/self/status", "sys/devices/system/cpu/online"}
    if any(kind != "gone" for rel, kind in kinds.items() if rel in always_read):
        assert "UNREADABLE" in limits.notice_codes()


@FAST
@given(st.one_of(number_text, raw_text))
def test_each_cgroup_value_reader(text):
    """The per-file readers directly: a value in its domain or None, a notice when malformed."""
    files = Files("/nonexistent-root")
    for parse in (v2.size, v2.limit_size, v1.size):
        v = parse(files, "/x", text)
        assert v is None or (isinstance(v, int) and v >= 0)
    assert v2.limit_size(files, "/x", text) != 0
    assert v1.size(files, "/x", text) != 0


# -- settings: a positive value or ValueError, nothing else ------------------------------------------

size_like = st.one_of(
    st.from_regex(r"\A\s*(\d+(\.\d+)?|\.\d+)\s*([kKmMgGtTpPeE]i?)?[bB]?\s*\Z"),
    st.tuples(st.integers(-10, 2 ** 70), st.sampled_from(["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G",
                                                          "m", "MiB", "b", " ", "%", "x"])).map(
        lambda t: f"{t[0]}{t[1]}"),
    st.floats().map(lambda f: f"{f}Mi"),
    any_text,
)
cpu_like = st.one_of(st.floats().map(repr), st.floats().map(lambda f: f"{f}m"), st.integers(-5, 10 ** 6).map(
    lambda n: f"{n}m"), any_text, st.sampled_from(["inf", "nan", "-0", "1e-400", "1e309m", "m", "1500m", "0.5"]))
ratio_like = st.one_of(st.floats().map(repr), st.floats().map(lambda f: f"{f}%"), any_text,
                       st.sampled_from(["75%", "0", "1", "1.0000001", "nan", "nan%", "inf%", "100%", "0.75"]))


@FAST
@given(size_like)
@example("512m")
@example("0.0000001Ki")
@example("9" * 5000)
def test_parse_size_positive_int_or_value_error(text):
    try:
        value = table.parse_size(text)
    except ValueError:
        return
    assert isinstance(value, int) and value > 0


def test_parse_size_huge_decimal_is_a_value_error():
    """``float()`` of a 400-digit decimal is inf and ``int(inf)`` raises OverflowError, not ValueError.

    Fails today (cgroupsize/settings.py parse_size, the ``int(float(number) * factor)``
    line): ``CGROUPSIZE_MEMORY_LIMIT=999…9.5`` ends in "internal error" instead
    of a one-line usage error, exit 2.
    """
    with pytest.raises(ValueError):
        table.parse_size("9" * 400 + ".5Mi")


@FAST
@given(cpu_like)
def test_parse_cpu_positive_finite_or_value_error(text):
    try:
        value = table.parse_cpu(text)
    except ValueError:
        return
    assert isinstance(value, float) and value > 0 and math.isfinite(value)


@FAST
@given(ratio_like)
def test_parse_ratio_in_0_1_or_value_error(text):
    try:
        value = table.parse_ratio(text)
    except ValueError:
        return
    assert 0 < value <= 1


@FAST
@given(st.sampled_from(table.SETTINGS), st.one_of(any_text, size_like, cpu_like, ratio_like))
def test_every_setting_parses_or_raises_setting_error(setting, text):
    try:
        value = setting.parse(text)
    except table.SettingError as exc:
        message = str(exc)
        assert "\n" not in message.replace(repr(text), "")  # one line (the value itself is repr'd)
        assert message.startswith(setting.env + ": invalid value ")
        return
    if setting.kind == "bool":
        assert value in (True, False)
    elif setting.kind in ("size", "int"):
        assert isinstance(value, int) and value > 0
    elif setting.kind == "count":
        assert isinstance(value, int) and value >= 0
    elif setting.kind == "cpu":
        assert value > 0 and math.isfinite(value)
    elif setting.choices:
        assert value in setting.choices


@FAST
@given(st.dictionaries(st.sampled_from([s.env for s in table.SETTINGS]), st.one_of(any_text, size_like, cpu_like),
                       max_size=4))
def test_from_env_returns_or_raises_setting_error(env):
    env = {k: v.replace("\x00", "") for k, v in env.items()}
    try:
        values = table.load(env)
    except table.SettingError as exc:
        assert exc.where in env
        return
    assert all(hasattr(values, s.name) for s in table.SETTINGS)


def test_huge_decimal_setting_is_a_usage_error_not_an_internal_error():
    """The CLI contract for a bad CGROUPSIZE_* value: one line naming it, exit 2.

    Fails today: settings.parse_size raises OverflowError (see above), cli.main
    reports "internal error: OverflowError: cannot convert float infinity to
    integer" and execs the command unsized (exit 0).
    """
    proc = subprocess.run([sys.executable, "-m", "cgroupsize", "--", "true"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, CGROUPSIZE_MEMORY_LIMIT="9" * 400 + ".5Mi"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("cgroupsize: CGROUPSIZE_MEMORY_LIMIT: ")
    assert len(proc.stderr.splitlines()) == 1
