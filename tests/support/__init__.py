"""Harnesses shared by the tests and the benchmarks, and the constants they all use.

``cgroups`` (real v1 cgroups on this machine), ``runc`` (OCI containers),
``dockerd`` and ``baseimage`` (a private Docker engine and local base
images), ``uml`` (real cgroup v2 in user-mode Linux), ``plans`` (fixture
limits and a one-call planner), ``trees`` (fake roots for detection).
"""
from __future__ import annotations

import sys
from pathlib import Path

MiB = 1 << 20
GiB = 1 << 30
REPO = str(Path(__file__).resolve().parent.parent.parent)  # the checkout (or the unpacked sdist)
TOOL = [sys.executable, "-m", "cgroupsize"]  # the tool from this checkout, in a subprocess
