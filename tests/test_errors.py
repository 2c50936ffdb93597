"""Broken specs: each gives one located error (golden file), exit 1, and no traceback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from archspec.cli import main
from archspec.errors import CODES

BROKEN = sorted(p for p in (ROOT / "tests" / "broken").iterdir() if p.suffix in (".yaml", ".json", ".yml"))


def run_check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(path.relative_to(ROOT))])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("path", BROKEN, ids=[p.name for p in BROKEN])
def test_broken_spec_golden(path: Path, update_golden: bool) -> None:
    code, out, err = run_check(path)
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    first = err.splitlines()[0]
    assert first.startswith(f"tests/broken/{path.name}:"), first  # file:line:col
    golden = path.with_suffix(".err")
    if update_golden:
        golden.write_text(err)
    assert golden.exists(), f"no golden file {golden.name}: run pytest --update-golden and review it"
    assert err == golden.read_text()
    code_name = first.split("error[", 1)[1].split("]", 1)[0]
    assert code_name in CODES


def test_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 15


@pytest.mark.parametrize("name", ["cycle.yaml", "add_mismatch.yaml", "yaml_syntax.yaml"])
def test_cli_process_exits_1_without_traceback(name: str) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("ARCHSPEC_DEBUG", None)
    r = subprocess.run(
        [sys.executable, "-m", "archspec", "check", f"tests/broken/{name}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.count("error[") == 1


def test_error_codes_documented() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text()
    documented = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")}
    assert documented == set(CODES)
