"""The four images of ``docker/``, built from this checkout and run on a real Docker engine.

Once per session (see ``support/``): a private ``dockerd`` (own socket,
data-root, exec-root, pidfile; stopped by PID, nothing left behind), local
base images made with debootstrap (cached between runs) standing in for the
official ones, and a build context holding the wheels of this checkout,
click and psutil, as ``docker/README.rst`` tells users to make it. Every
image is built with the classic builder and with BuildKit, then run with
``--memory``/``--cpus``, as its non-root user, ``--read-only`` and without
network:

- ``cgroupsize --print --json`` shows the limits Docker set;
- the runtime itself reports what ``cgroupsize --dry-run --json`` planned
  (java's MaxHeapSize, node's heap_size_limit, python's and ruby's
  variables) when started through the image's ENTRYPOINT;
- ``docker stop`` (SIGTERM) reaches the runtime through tini and cgroupsize:
  the exit status is the one its handler chose;
- ``cgroupsize --print`` and ``--dry-run`` give the same answer through the
  ENTRYPOINT as without it.

Skipped, with the reason, where that cannot work: not root, no Docker
engine, no debootstrap or Debian mirror (when the base images are not
cached yet), no package index for the wheels.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import baseimage, dockerd
from tests.support import MiB, REPO

pytestmark = pytest.mark.docker

NAMES = ["jvm", "node", "python", "ruby"]
USERS = {"jvm": "10001", "node": "1000", "python": "10001", "ruby": "10001"}
MEMORY, CPUS = 512 * MiB, 1.5
LIMITS = ["--memory", "512m", "--cpus", "1.5"]
# Every container: no network, read-only root, the image's own (non-root) user.
RUN = ["run", "--rm", "--network", "none", "--read-only", *LIMITS]


def version() -> str:
    init = (Path(REPO) / "cgroupsize" / "__init__.py").read_text()
    m = re.search(r"""^__version__\s*=\s*["']([^"']+)""", init, re.MULTILINE)
    assert m, "no __version__ in cgroupsize/__init__.py"
    return m.group(1)


# -- session fixtures: engine, base images, build context, images ---------------------


@pytest.fixture(scope="session")
def engine():
    reason = dockerd.skip_reason() or baseimage.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with dockerd.Dockerd() as d:
        yield d


@pytest.fixture(scope="session")
def bases(engine):
    return baseimage.import_images(engine)


@pytest.fixture(scope="session")
def context(tmp_path_factory):
    """A build context with ``cgroupsize-wheels/``: this checkout's wheel, click's and psutil's."""
    ctx = tmp_path_factory.mktemp("docker-context")
    # Build from a copy: an in-tree build would leave build/ in the checkout.
    src = ctx.parent / "cgroupsize-src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "*.pyc"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir",
                        str(ctx / "cgroupsize-wheels"), str(src)],
                       capture_output=True, text=True, timeout=600, check=False)
    shutil.rmtree(src, ignore_errors=True)
    if r.returncode != 0 and re.search(r"(?i)connection|resolve|network|No matching distribution", r.stderr):
        pytest.skip(f"no package index for click and psutil wheels: {r.stderr.strip()[-300:]}")
    assert r.returncode == 0, r.stderr
    wheels = sorted(p.name for p in (ctx / "cgroupsize-wheels").iterdir())
    assert any(w.startswith(f"cgroupsize-{version()}-") for w in wheels), wheels
    return ctx


def build(engine, bases, context, name, buildkit):
    tag = f"cgroupsize-test/{name}:{'buildkit' if buildkit else 'classic'}"
    start = time.monotonic()
    r = engine.docker("build", "--network", "host", "-q", "-f", str(Path(REPO) / "docker" / f"{name}.Dockerfile"),
                      "--build-arg", f"BASE_IMAGE={bases[name]}",
                      "-t", tag, str(context), env={"DOCKER_BUILDKIT": "1" if buildkit else "0"},
                      check=False, timeout=900)
    return tag, r, time.monotonic() - start


@pytest.fixture(scope="session")
def builds(engine, bases, context):
    """Every image with both builders, built once, three at a time (the builds wait on the network
    about half of the time): {(name, buildkit): (tag, result, seconds)}. A failed build fails its tests."""
    jobs = [(name, kit) for kit in (False, True) for name in NAMES]
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {job: pool.submit(build, engine, bases, context, *job) for job in jobs}
        done = {job: f.result() for job, f in futures.items()}
    times = ", ".join(f"{n} {'BuildKit' if k else 'classic'} {done[n, k][2]:.0f} s" for n, k in jobs)
    print(f"\ndocker build times: {times}", file=sys.stderr)
    return done


@pytest.fixture(scope="session")
def images(builds):
    return {name: builds[name, False] for name in NAMES}


@pytest.fixture(params=NAMES)
def image(request, images):
    tag, r, _ = images[request.param]
    assert r.returncode == 0, f"docker build of docker/{request.param}.Dockerfile failed:\n{r.stdout}\n{r.stderr}"
    return request.param, tag


def docker_run(engine, tag, *args, options=(), check=True, timeout=300):
    r = engine.docker(*RUN, *options, tag, *args, check=False, timeout=timeout)
    if check:
        assert r.returncode == 0, f"docker run {tag} {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


def load_json(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        raise AssertionError(f"{what} printed no JSON ({e}):\n{text}") from None


# -- building ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_image_builds_with_buildkit(engine, builds, name):
    tag, r, _ = builds[name, True]
    if r.returncode != 0 and "buildx" in r.stderr:
        pytest.skip(f"this docker client cannot use BuildKit without the buildx plugin: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, f"BuildKit build of docker/{name}.Dockerfile failed:\n{r.stdout}\n{r.stderr}"
    out = docker_run(engine, tag, "cgroupsize", "--version").stdout
    assert version() in out, out


def test_default_cmd_runs(engine, image):
    name, tag = image
    r = docker_run(engine, tag)
    assert r.stdout.strip() or r.stderr.strip(), f"the default CMD of {name} printed nothing"
    assert "Traceback" not in r.stderr, r.stderr


def test_non_root_and_read_only(engine, image):
    name, tag = image
    r = docker_run(engine, tag, "sh", "-c", "id -u; touch /probe 2>/dev/null && echo writable || echo read-only")
    assert r.stdout.split() == [USERS[name], "read-only"], r.stdout


# -- limits and plans ---------------------------------------------------------------


def test_print_json_shows_the_limits(engine, image):
    _, tag = image
    data = load_json(docker_run(engine, tag, "cgroupsize", "--print", "--json").stdout, "cgroupsize --print --json")
    assert data["memory"]["limit"] == MEMORY, data["memory"]
    assert data["memory"]["state"] == "limited", data["memory"]
    assert data["cpu"]["quota"] == pytest.approx(CPUS), data["cpu"]
    assert data["cpu"]["count"] == min(2, os.cpu_count() or 1), data["cpu"]
    assert data["notice_codes"] == [], data["notices"]


COMMANDS = {
    "jvm": ["java", "-XX:+PrintFlagsFinal", "-version"],
    "node": ["node", "-e", 'console.log(require("v8").getHeapStatistics().heap_size_limit)'],
    "python": ["python", "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
    "ruby": ["ruby", "-rjson", "-e", "puts JSON.generate(ENV.to_h)"],
}


def java_size(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    assert m, f"not a JVM size: {text!r}"
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def planned(plan, prefix):
    """The last ``prefix<value>`` among the plan's argv and NODE_OPTIONS/JAVA_TOOL_OPTIONS."""
    tokens = (plan["env"].get("JAVA_TOOL_OPTIONS", "") + " " + plan["env"].get("NODE_OPTIONS", "")).split()
    found = None
    for t in tokens + plan["argv"][1:]:
        if t.startswith(prefix):
            found = t[len(prefix):]
    return found


def test_runtime_reports_what_the_plan_said(engine, image):
    name, tag = image
    cmd = COMMANDS[name]
    plan_run = docker_run(engine, tag, "--dry-run", "--json", "--", *cmd, options=["--entrypoint", "cgroupsize"])
    plan = load_json(plan_run.stdout, "cgroupsize --dry-run --json")
    out = docker_run(engine, tag, *cmd).stdout  # through tini and cgroupsize, as deployed
    assert plan["limits"]["memory"]["limit"] == MEMORY, plan["limits"]
    count = plan["limits"]["cpu"]["count"]
    if name == "jvm":
        final = dict(re.findall(r"^\s*\S+ (\w+)\s*=\s*(\S+)", out, re.MULTILINE))
        xmx = planned(plan, "-Xmx")
        assert xmx, plan
        heap = java_size(xmx)
        # HotSpot rounds the heap up to its alignment (a few MiB at most here).
        assert heap <= int(final["MaxHeapSize"]) < heap + 4 * MiB, (plan["argv"], final["MaxHeapSize"])
        assert final["ActiveProcessorCount"] == str(count), plan["argv"]
    elif name == "node":
        old = planned(plan, "--max-old-space-size=")
        assert old, plan
        assert int(old) * MiB <= int(out.strip()) < MEMORY, (plan["argv"], out)
    else:
        env = load_json(out, name)
        assert plan["env"], plan
        missing = {k: v for k, v in plan["env"].items() if env.get(k) != v}
        assert not missing, f"planned but not in {name}'s environment: {missing}"
        assert env["CONTAINER_MEMORY_LIMIT"] == str(MEMORY), env
        assert env["CONTAINER_CPU_COUNT"] == str(count), env


# -- signals ---------------------------------------------------------------------------

HANDLERS = {
    "jvm": ["java", "/t/Term.java"],
    "node": ["node", "-e", ("process.on('SIGTERM', () => process.exit(42)); console.log('ready');"
             " setInterval(() => {}, 1000)")],
    "python": ["python", "-c", ("import signal, sys, time\n"
               "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
               "print('ready', flush=True)\ntime.sleep(600)")],
    "ruby": ["ruby", "-e", "Signal.trap('TERM') { exit 42 }; puts 'ready'; $stdout.flush; sleep"],
}
JAVA_TERM = """public class Term {
    public static void main(String[] args) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(42)));
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(600_000);
    }
}
"""


def test_sigterm_reaches_the_runtime_through_tini_and_cgroupsize(engine, image, tmp_path):
    name, tag = image
    (tmp_path / "Term.java").write_text(JAVA_TERM)
    tmp_path.chmod(0o755)
    container = f"cgroupsize-test-term-{name}-{os.getpid()}"
    engine.docker("run", "-d", "--name", container, "--network", "none", "--read-only", *LIMITS,
                  "-v", f"{tmp_path}:/t:ro", tag, *HANDLERS[name])
    try:
        deadline = time.monotonic() + 120
        logs = ""
        while "ready" not in logs and time.monotonic() < deadline:
            logs = engine.docker("logs", container).stdout
            state = engine.docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip()
            assert state == "true" or "ready" in logs, f"{name} ended before it was ready:\n{logs}"
            time.sleep(0.3)
        assert "ready" in logs, f"{name} never printed ready:\n{logs}"
        # tini is PID 1; the runtime is its child: cgroupsize exec'd it, and nothing else runs.
        ps = engine.docker("exec", container, "cat", "/proc/1/comm", "/proc/1/task/1/children").stdout.split()
        assert ps[0] == "tini" and len(ps) == 2, ps
        comm = engine.docker("exec", container, "cat", f"/proc/{ps[1]}/comm").stdout.strip()
        assert comm in {"java", "node", "python", "python3", "ruby"}, comm
        engine.docker("stop", "-t", "60", container)
        status = engine.docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()
        assert status == "42", f"exit status {status}, not the handler's 42:\n{engine.docker('logs', container).stdout}"
    finally:
        engine.docker("rm", "-f", container, check=False)


# -- the ENTRYPOINT in front of cgroupsize itself -------------------------------------------


# What --print --json says about the container itself; usage, peaks, pressure and
# other live figures differ from one container to the next.
STABLE = {"memory": ("limit", "state", "high", "swap", "host", "source", "dir"),
          "cpu": ("quota", "state", "count", "host", "source", "period", "cpuset", "affinity", "weight", "dir")}


def stable(data):
    out = {part: {k: data.get(part, {}).get(k) for k in keys} for part, keys in STABLE.items()}
    return {**out, "cgroup": data.get("cgroup"), "notice_codes": data.get("notice_codes")}


def test_print_is_the_same_through_the_entrypoint(engine, image):
    _, tag = image
    direct = docker_run(engine, tag, "--print", "--json", options=["--entrypoint", "cgroupsize"]).stdout
    through = docker_run(engine, tag, "cgroupsize", "--print", "--json").stdout
    a, b = load_json(through, "through the ENTRYPOINT"), load_json(direct, "direct")
    assert stable(a) == stable(b)
    assert stable(a)["memory"]["limit"] == MEMORY, a


def test_dry_run_is_the_same_through_the_entrypoint(engine, image):
    name, tag = image
    cmd = COMMANDS[name]
    direct = docker_run(engine, tag, "--dry-run", "--json", "--", *cmd, options=["--entrypoint", "cgroupsize"])
    through = docker_run(engine, tag, "cgroupsize", "--dry-run", "--json", "--", *cmd)
    a, b = load_json(through.stdout, "through the ENTRYPOINT"), load_json(direct.stdout, "direct")
    for key in ("runtime", "argv", "env", "notes"):
        assert a.get(key) == b.get(key), f"{key} differs through the ENTRYPOINT:\n{a.get(key)}\n!=\n{b.get(key)}"
    text_direct = docker_run(engine, tag, "--dry-run", "--", *cmd, options=["--entrypoint", "cgroupsize"]).stdout
    text_through = docker_run(engine, tag, "cgroupsize", "--dry-run", "--", *cmd).stdout
    assert text_through == text_direct
