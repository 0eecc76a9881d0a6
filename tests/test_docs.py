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
