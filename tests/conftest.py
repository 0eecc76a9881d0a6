"""Fixtures every test module may use."""
from __future__ import annotations

import pytest

from cgroupsize import launch


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str], dict[str, str]]]:
    """Record the tool's execve calls ``(path, argv, env)`` instead of replacing the test process."""
    calls: list[tuple[str, list[str], dict[str, str]]] = []

    def fake(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append((path, list(argv), dict(env)))

    monkeypatch.setattr(launch, "_execve", fake)
    return calls
