"""The house rules, checked: every Python file stays under 400 lines, and the stages import only
downwards (a later stage may use an earlier one, never the reverse), so there are no import
cycles between them, not even through imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

MAX_LINES = 400
# The stages, in pipeline order: a module may import from its own stage or an earlier one.
STAGES = {
    "shapes": 0,
    "errors": 0,
    "layers": 1,
    "torchmods": 1,
    "spec": 2,
    "ir": 3,
    "plugin": 3,
    "passes": 4,
    "system": 5,
    "pipeline": 6,
    "backends": 7,
    "docsgen": 8,
    "planner": 8,
    "lsp": 9,
    "cli": 9,
}
# One deliberate exception: notebooks show an Analysis as its summary table (a report backend).
ALLOWED = {("passes", "backends.report")}


def _python_files() -> list[Path]:
    files = [*(ROOT / "archspec").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    return sorted(files)


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_over_the_line_budget(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (budget {MAX_LINES})"


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archspec"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("archspec"))
    return out


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_stages_import_only_downwards() -> None:
    wrong = []
    for path in (ROOT / "archspec").rglob("*.py"):
        here = _stage(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for target in _imports(path):
            there = _stage(target)
            upwards = here in STAGES and there in STAGES and STAGES[there] > STAGES[here]
            if upwards and not any(here == a and target.startswith(f"archspec.{b}") for a, b in ALLOWED):
                wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_stage_is_known() -> None:
    found = {p.name.removesuffix(".py") for p in (ROOT / "archspec").iterdir() if not p.name.startswith("_")}
    found -= {"py.typed", "__pycache__"}
    assert found <= set(STAGES) | {"__main__"}, found - set(STAGES)
