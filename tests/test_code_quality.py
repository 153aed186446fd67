"""The project's own checks, run by the same command as the tests: lint, format, types."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted():
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_finds_nothing():
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_contracts_hold():
    """The package map's arrows (pyproject's `[tool.importlinter]`, docs/architecture.md)."""
    result = run(
        sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_app_loads_no_dev_tool():
    """What production runs (`uvicorn bridge.app:app`, the workers) never imports the sandbox,
    the stand-ins or the simulators."""
    loaded = (
        "import sys, bridge.app, workers.runner; "
        "print(sorted({m for m in sys.modules if m.startswith('bridge.dev')}))"
    )
    result = run(sys.executable, "-c", loaded)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_top_of_the_package_holds_packages():
    """A newcomer finds a concept's home from the folder names: at most five modules sit loose at
    the top of `bridge`, besides `__init__`, `__main__` and `app`."""
    loose = {path.name for path in (ROOT / "bridge").glob("*.py")} - {"__init__.py", "__main__.py", "app.py"}
    assert len(loose) <= 5, sorted(loose)
