"""The README stays true: first-screen commands, every setting documented, valid RST."""
from __future__ import annotations

import io
import os
import re

import pytest

from cgroupsize import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_first_screen_has_the_two_commands():
    first_screen = "\n".join(read("README.rst").splitlines()[:24])
    assert "pip install . && cgroupsize --print" in first_screen
    assert "pip install -e '.[test]' && python -m pytest" in first_screen


def test_ci_runs_the_readme_test_command():
    ci = read(".ci/run")
    assert "pip install -q -e '.[test]'" in ci
    assert re.search(r"^python3 -m pytest\b", ci, re.M)


def test_every_setting_is_documented():
    readme = read("README.rst")
    missing = [s.env for s in settings.SETTINGS if s.env not in readme]
    assert not missing, f"README.rst does not mention {missing}"


@pytest.mark.parametrize("name", ["README.rst", "docker/README.rst", "benchmarks/README.rst", "SECURITY.rst"])
def test_rst_renders_without_warnings(name):
    docutils_core = pytest.importorskip("docutils.core", reason="docutils is in the test extra")
    if not os.path.exists(os.path.join(ROOT, name)):
        pytest.fail(f"{name} is missing")
    err = io.StringIO()
    docutils_core.publish_string(read(name), writer_name="null",
                                 settings_overrides={"warning_stream": err, "report_level": 2})
    assert err.getvalue() == "", err.getvalue()


SPHINX_ROLES = ("func", "class", "meth", "mod", "attr", "doc", "data", "exc")


@pytest.mark.parametrize("name", sorted(f"docs/{n}" for n in os.listdir(os.path.join(ROOT, "docs"))
                                        if n.endswith(".rst")))
def test_docs_render_without_warnings(name):
    docutils_core = pytest.importorskip("docutils.core", reason="docutils is in the test extra")
    from docutils.parsers.rst import roles

    for role in SPHINX_ROLES:  # the cross-reference roles Sphinx adds; plain literals for docutils
        roles.register_generic_role(role, __import__("docutils.nodes", fromlist=["literal"]).literal)
    err = io.StringIO()
    docutils_core.publish_string(read(name), writer_name="null",
                                 settings_overrides={"warning_stream": err, "report_level": 2})
    assert err.getvalue() == "", err.getvalue()


def _text_files():
    """Every file of the repository (or unpacked sdist) that is text, outside the VCS and caches."""
    skip_dirs = {".git", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip_dirs and not d.endswith(".egg-info")]
        for name in files:
            path = os.path.join(top, name)
            try:
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, ROOT), f.read()
            except (UnicodeDecodeError, OSError):
                continue


# Documents a maintainer who clones the repository cannot read (spelt in pieces so this file passes).
PRIVATE = re.compile("|".join([r"\.\./" + "shared", "DESIGN" + r"\.md", "research" + "/",
                               r"\b(sizing|detection|ecosystem|real-kernels)" + r"\.md\b",
                               r"\b[Ii]ssue" + r" #?\d+\b", r"\(" + r"issue \d"]))
# Paths into the repository named in prose and code: each must exist.
REPO_PATH = re.compile(r"(?<![\w/.-])((?:docs|benchmarks|tests|docker|cgroupsize|\.ci)/[\w./-]*"
                       r"\.(?:py|rst|md|sh|json|yaml|toml|Dockerfile|java|js|rb))\b")


def test_repository_stands_alone():
    offenders = [f"{name}: {m.group(0)!r}" for name, text in _text_files() for m in PRIVATE.finditer(text)]
    assert offenders == []


def test_every_repository_path_named_exists():
    missing = set()
    for name, text in _text_files():
        if name.startswith("tests/fixtures/"):
            continue  # fixture trees name paths inside their own fake roots
        for m in REPO_PATH.finditer(text):
            path = m.group(1).rstrip(".")
            if "*" in path or "<" in path or path.endswith("/"):
                continue
            if not os.path.exists(os.path.join(ROOT, path)):
                missing.add(f"{name}: {path}")
    assert sorted(missing) == []
