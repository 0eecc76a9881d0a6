"""The package keeps the shape its maintainers rely on: short functions, the public API listed."""
from __future__ import annotations

import ast
from pathlib import Path

import cgroupsize
from tests.support import REPO

MAX_FUNCTION_LINES = 45


def _functions():
    for path in sorted((Path(REPO) / "cgroupsize").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(REPO), node


def test_no_function_is_longer_than_45_lines():
    long = [f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, node in _functions() if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_dir_lists_the_public_api_and_each_name_resolves():
    names = set(dir(cgroupsize))
    assert set(cgroupsize.__all__) <= names
    for name in cgroupsize.__all__:
        assert getattr(cgroupsize, name) is not None
