"""Go: ``GOMEMLIMIT`` from the memory limit; ``GOMAXPROCS`` where the binary would miss the quota.

The Go runtime reads no memory limit at all: without ``GOMEMLIMIT`` the heap
grows to twice the live data (GOGC=100) and the kernel kills it. Since Go
1.25 it does follow the CPU quota (``max(2, ceil(quota))``, re-read as it
changes) but only the leaf cgroup's (golang/go#81180), only when the main
module's go line is 1.25+ (otherwise the build records
``DefaultGODEBUG=containermaxprocs=0``), and a set ``GOMAXPROCS`` stops the
updates. The plan:

* ``GOMEMLIMIT`` = ratio x limit, ratio ``CGROUPSIZE_GO_MEMLIMIT_RATIO``, else
  0.9 (automemlimit's default: "10% is the headroom for memory sources the Go
  runtime is unaware of"), 0.8 below 64Mi (stacks and C memory are a larger
  share there); in whole MiB. Not when ``GOMEMLIMIT`` or ``AUTOMEMLIMIT`` (the
  binary uses automemlimit, or the user turned it off) is set.
* ``GOMAXPROCS`` = our CPU count (ceil of the quota, as Go 1.25 rounds) only
  when the quota is what bounds it (cpusets and affinity every Go version
  sees) and the binary would not follow it: built before Go 1.25 (or with an
  unknown toolchain), ``containermaxprocs=0`` in its DefaultGODEBUG, or a
  quota its leaf-only reading misses (an ancestor's, an override).
  ``CGROUPSIZE_GO=always`` sets it whenever there is a CPU bound; a user's
  ``GODEBUG=containermaxprocs=0`` is an explicit "leave it" and is respected.
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import cpu_text, limit_text
from cgroupsize.units import MiB

RATIO = 0.9  # automemlimit's default
SMALL_RATIO = 0.8
SMALL_BELOW = 64 * MiB
FOLLOWS_QUOTA = (1, 25)  # Go 1.25: container-aware GOMAXPROCS


def memlimit(limit: int, ratio: float | None) -> tuple[int, float]:
    """``(bytes, ratio used)``: GOMEMLIMIT rounded down to whole MiB (at least 1MiB)."""
    if ratio is None:
        ratio = SMALL_RATIO if limit < SMALL_BELOW else RATIO
    return max(MiB, int(limit * ratio) // MiB * MiB), ratio


def follows_quota(target: Target, limits: Limits) -> tuple[bool, str]:
    """``(True, why)`` if the binary's runtime sets GOMAXPROCS from this quota itself."""
    v = target.go_version
    if v is None:
        return False, "the Go version is unknown"
    if v < FOLLOWS_QUOTA:
        return False, f"built with Go {v[0]}.{v[1]}{' or older' if v == (1, 17) else ''}, before 1.25"
    if "containermaxprocs=0" in target.go_godebug:
        return False, "built for an older go line (DefaultGODEBUG containermaxprocs=0)"
    if not limits.seen_at_leaf("cpu"):
        return False, "Go reads only its own cgroup's cpu.max, and the quota is not there"
    return True, f"Go {v[0]}.{v[1]} follows the quota itself"


def _user_memlimit(p: Plan) -> str | None:
    """Where the user set the Go memory limit: GOMEMLIMIT, or automemlimit's own AUTOMEMLIMIT."""
    for name in ("GOMEMLIMIT", "AUTOMEMLIMIT"):
        if p.user_set(name):
            return name
    return None


def plan(p: Plan, target: Target, limits: Limits) -> None:
    limit = limits.memory_limit
    if limit is None:
        p.none("GOMEMLIMIT", f"memory limit {limits.memory.state}")
    elif p.mine("GOMEMLIMIT", _user_memlimit(p)):
        value, ratio = memlimit(limit, p.settings.go_memlimit_ratio)
        p.set_env("GOMEMLIMIT", f"{value // MiB}MiB",
                  f"{ratio:g} x {limit_text(limits)}; the rest is for memory the Go runtime does not "
                  "manage (automemlimit's 10%)", "limit")
    _maxprocs(p, target, limits)


def _maxprocs(p: Plan, target: Target, limits: Limits) -> None:
    if not limits.cpu.quota_binds:
        p.none("GOMAXPROCS", "no CPU quota binds (cpusets and affinity every Go version sees)")
        return
    if not p.mine("GOMAXPROCS", p.user_set("GOMAXPROCS")):
        return
    if "containermaxprocs=0" in p.env.get("GODEBUG", ""):
        p.decide("GOMAXPROCS", "left", None, "the user turned Go's quota reading off in GODEBUG", "user")
        return
    follows, why = follows_quota(target, limits)
    if follows and p.settings.go != "always":
        p.none("GOMAXPROCS", f"{why} (setting it would stop Go 1.25's updates)")
        return
    reason = "CGROUPSIZE_GO=always" if follows else why
    p.set_env("GOMAXPROCS", str(limits.cpu_count), f"{cpu_text(limits)}; {reason}", "limit")
