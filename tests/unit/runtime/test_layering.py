"""Layers only point down: the pipelines and the lane runtime never import the service.

``router.service`` composes the pipelines; both share the lane runtime contract in ``router.runtime``.
An import the other way round (a pipeline reaching up for a service helper) would tie every pipeline
to the scheduler and make the layers circular, so every module's imports are read here, statically.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import router

ROUTER = Path(router.__file__).parent

FORBIDDEN = {
    "pipeline": ("router.service", "router.cli"),
    "runtime": ("router.service", "router.pipeline", "router.cli"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((ROUTER / package).rglob("*.py")):
        for line, name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROUTER.parent)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upper_layers(package: str) -> None:
    assert (ROUTER / package).is_dir()
    assert _violations(package, FORBIDDEN[package]) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from router.service.scheduler import Scheduler\nimport router.cli\n", encoding="utf-8")
    assert [name for _, name in _imports(module)] == [
        "router.service.scheduler", "router.service.scheduler.Scheduler", "router.cli"]
