"""The benchmark harness (bench/) stays runnable: every group declares its rows, uses only
archspec's public API, and a quick run of a small group goes from the groups to the report.
Nothing here asserts on time."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import archspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bench/ is a package of the checkout, not an installed one

from bench import groups  # noqa: E402
from bench.core import BenchError, Row, Run  # noqa: E402

MODULES = {name: groups.load(name) for name in groups.GROUPS}

# Rows the issues ask the report to show in one run (house issue item 5, deployment item 5).
REQUIRED = {
    "check_resnet50/whole_process",
    "analyze_resnet50/analyze",
    "analyze_resnet50/load_analyze",
    "build/mlp",
    "build/lstm",
    "build/resnet18",
    "forward/lstm_1",
    "onnx/resnet18",
    "compile/resnet18",
}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("name", groups.GROUPS)
def test_group_declares_its_rows(name: str) -> None:
    module = MODULES[name]
    assert module.ROWS, name
    assert len(set(module.ROWS)) == len(module.ROWS)
    assert all(key.startswith(f"{name}/") for key in module.ROWS)
    assert set(module.PROFILES) <= set(module.ROWS)
    assert callable(module.run) and module.ABOUT


def test_required_rows_are_declared() -> None:
    declared = {key for module in MODULES.values() for key in module.ROWS}
    assert not REQUIRED - declared


def test_groups_import_no_torch() -> None:
    code = "import sys, bench.run, bench.report; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# Not archspec's API but a client of it: the LSP protocol driver speaks to `archspec lsp` over
# stdio exactly as an editor does.
DRIVERS = {"from archspec.lsp.client import Client"}


def _archspec_uses(path: Path) -> list[tuple[str, int]]:
    """Every ``archspec.<name>`` the file reads, and every import from a submodule of archspec."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "archspec"
        ):
            found.append((node.attr, node.lineno))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("archspec"):
            found += [(f"from {node.module} import {a.name}", node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(f"import {a.name}", node.lineno) for a in node.names if a.name.startswith("archspec.")]
    return found


def test_bench_uses_only_public_api() -> None:
    files = sorted((ROOT / "bench").rglob("*.py"))
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for name, line in _archspec_uses(path)
        if name not in archspec.__all__ and name not in DRIVERS
    ]
    assert not bad, "bench/ must time archspec's public API only:\n" + "\n".join(bad)


def test_bench_files_are_short() -> None:
    long = {p.name: n for p in (ROOT / "bench").rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def test_run_refuses_undeclared_and_missing_rows() -> None:
    r = Run("demo", ("demo/a", "demo/b"), quick=True)
    r.add(Row("demo/a", "demo", "a", "—", "1", "", None, ""))
    with pytest.raises(BenchError, match="not declared"):
        r.add(Row("demo/c", "demo", "c", "—", "1", "", None, ""))
    with pytest.raises(BenchError, match="demo/b"):
        r.check_complete()


def test_quick_run_of_a_group_writes_the_report(tmp_path: Path) -> None:
    results, doc = tmp_path / "results.json", tmp_path / "performance.md"
    cmd = [sys.executable, "-m", "bench.run", "--quick", "--only", "gpt3", "--results", str(results)]
    p = subprocess.run([*cmd, "--doc", str(doc)], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(results.read_text(encoding="utf-8"))
    assert [row["key"] for row in data["rows"]] == list(MODULES["gpt3"].ROWS)
    assert data["errors"] == []
    text = doc.read_text(encoding="utf-8")
    for row in data["rows"]:
        assert row["what"] in text
    assert "174,604,259,328 params" in text  # what `archspec check` printed, carried into the report


def test_a_group_that_cannot_measure_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import group
    from bench.groups import gpt3

    monkeypatch.setattr(gpt3, "SPEC", "specs/no-such-spec.yaml")
    with pytest.raises(BenchError, match="no-such-spec"):
        group.measure("gpt3", quick=True)


def test_a_failed_group_fails_the_run_and_keeps_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import report
    from bench import run as bench_run

    doc = tmp_path / "performance.md"
    monkeypatch.setattr(report, "DOC", doc)
    monkeypatch.setattr(bench_run, "run_group", lambda name, quick, threads: ([], 0.0, f"{name} failed"))
    assert bench_run.main(["--results", str(tmp_path / "results.json")]) == 1
    assert not doc.exists()
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert len(data["errors"]) == len(groups.GROUPS)


def test_profile_command_runs() -> None:
    cmd = [sys.executable, "-m", "bench.profile", "scaling", "chain", "--nodes", "40", "--reps", "1"]
    p = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "garbage collector" in p.stdout
    assert "by cumulative time:" in p.stdout
