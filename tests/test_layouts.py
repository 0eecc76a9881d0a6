"""Real-world cgroup layouts as fixture trees, each with its expected answer.

Every directory under ``tests/fixtures/layouts/`` is a fake root (``proc/self/
mountinfo``, ``proc/self/cgroup``, ``proc/meminfo``, ``proc/self/status``,
``sys/devices/system/cpu/online`` and the cgroup files under the mount points)
plus ``expected.json``:

``description`` / ``source``
    what the layout is and where its lines come from (the
    upstream repository, issue or test that printed them);
``expect``
    a subset of the ``--print --json`` object (:meth:`Limits.to_dict`): every
    key given must match exactly (floats to 1e-9), keys left out are not checked;
``notice_codes`` / ``absent_notice_codes``
    notice codes that must / must not be reported.

The expectations were worked out by hand from the files and the algorithm of
docs/detection.rst, not copied from the implementation's output.
"""
import json
import math
import os
import subprocess
import sys

import pytest

import cgroupsize

HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUTS = os.path.join(HERE, "fixtures", "layouts")
REPO = os.path.dirname(HERE)
MIN_CASES = 34


def _case_names():
    if not os.path.isdir(LAYOUTS):
        return []
    return sorted(d for d in os.listdir(LAYOUTS) if os.path.isdir(os.path.join(LAYOUTS, d)))


CASES = _case_names()


def _load(name):
    with open(os.path.join(LAYOUTS, name, "expected.json"), encoding="utf-8") as f:
        return json.load(f)


def _mismatches(expected, actual, path=""):
    """Paths where ``actual`` differs from the subset ``expected``."""
    out = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [(path or "<root>", expected, actual)]
        for key, want in expected.items():
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                out.append((sub, want, "<missing key>"))
            else:
                out.extend(_mismatches(want, actual[key], sub))
        return out
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            ok = False
        elif isinstance(expected, float) or isinstance(actual, float):
            ok = math.isclose(actual, expected, rel_tol=0, abs_tol=1e-9)
        else:
            ok = actual == expected
    else:  # None, str, bool, list
        ok = type(actual) is type(expected) and actual == expected
    if not ok:
        out.append((path or "<root>", expected, actual))
    return out


def _check(name, exp, actual, how):
    problems = [f"  {p}: expected {w!r}, actual {a!r}" for p, w, a in _mismatches(exp["expect"], actual)]
    codes = actual.get("notice_codes") or []
    for code in exp.get("notice_codes", []):
        if code not in codes:
            problems.append(f"  notice {code!r} expected, actual notice_codes {codes!r}")
    for code in exp.get("absent_notice_codes", []):
        if code in codes:
            problems.append(f"  notice {code!r} must not be reported, actual notice_codes {codes!r}")
    if problems:
        msg = [f"layout {name!r} ({how}): {exp.get('description', '')}",
               f"  source: {exp.get('source', '')}"] + problems
        msg.append("  notices: " + json.dumps(actual.get("notices"), ensure_ascii=False))
        pytest.fail("\n".join(msg), pytrace=False)


@pytest.mark.parametrize("name", CASES)
def test_layout(name):
    exp = _load(name)
    limits = cgroupsize.read_limits(root=os.path.join(LAYOUTS, name))
    _check(name, exp, limits.to_dict(), "read_limits(root=…).to_dict()")


@pytest.mark.parametrize("name", CASES)
def test_layout_cli(name):
    exp = _load(name)
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for key in [k for k in env if k.startswith("CGROUPSIZE_")]:
        del env[key]
    proc = subprocess.run(
        [sys.executable, "-m", "cgroupsize", "--print", "--json", "--root", os.path.join(LAYOUTS, name)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert proc.returncode == 0, (
        f"layout {name!r}: cgroupsize --print --json exited {proc.returncode}\n"
        f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
    assert "Traceback" not in proc.stderr, f"layout {name!r}: traceback on stderr:\n{proc.stderr}"
    assert len(proc.stderr.strip().splitlines()) <= 5, f"layout {name!r}: noisy stderr:\n{proc.stderr}"
    try:
        actual = json.loads(proc.stdout)
    except ValueError as e:
        pytest.fail(f"layout {name!r}: stdout is not JSON ({e}):\n{proc.stdout[:2000]}", pytrace=False)
    _check(name, exp, actual, "cgroupsize --print --json --root")


def test_layout_corpus():
    assert len(CASES) >= MIN_CASES, f"expected at least {MIN_CASES} layouts, found {len(CASES)}: {CASES}"
    for name in CASES:
        path = os.path.join(LAYOUTS, name, "expected.json")
        assert os.path.isfile(path), f"layout {name!r} has no expected.json"
        exp = _load(name)
        for key in ("description", "source", "expect"):
            assert isinstance(exp.get(key), (str, dict)) and exp.get(key), \
                f"layout {name!r}: expected.json needs a non-empty {key!r}, got {exp.get(key)!r}"
        assert isinstance(exp["expect"], dict), f"layout {name!r}: 'expect' must be an object"
        for key in ("notice_codes", "absent_notice_codes"):
            assert isinstance(exp.get(key, []), list), f"layout {name!r}: {key!r} must be a list"
        for rel in ("proc/self/mountinfo", "proc/self/cgroup"):
            assert os.path.isfile(os.path.join(LAYOUTS, name, rel)), f"layout {name!r} lacks {rel}"
