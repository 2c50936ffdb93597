"""Broken specs: each gives one located error (golden file), exit 1, and no traceback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from conftest import ROOT

from archspec.cli import main
from archspec.errors import CODES, ArchspecError, ErrorCode

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
    assert err.count("error[") == 1, "one error per broken spec"


def test_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 15


def test_every_golden_error_has_its_spec() -> None:
    """A golden .err whose spec was renamed or removed would be compared by no test."""
    errs = {p.stem for p in (ROOT / "tests" / "broken").glob("*.err")}
    assert errs == {p.stem for p in BROKEN}


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
    """docs/errors.md lists every code with its meaning, as archspec.errors.CODES does."""
    doc = (ROOT / "docs" / "errors.md").read_text()
    rows = [line.split("|")[1:3] for line in doc.splitlines() if line.startswith("| `")]
    documented = {code.strip().strip("`"): meaning.strip() for code, meaning in rows}
    assert documented == CODES


def test_error_codes_are_the_literal_type() -> None:
    """``ErrorCode`` (what mypy checks every ``ArchspecError(code, ...)`` against) and CODES (what
    is documented) name the same codes."""
    assert sorted(get_args(ErrorCode)) == sorted(CODES)


def test_unknown_code_is_refused_at_runtime() -> None:
    with pytest.raises(ValueError, match="unregistered error code 'shape-missmatch'"):
        ArchspecError("shape-missmatch", "a plugin's typo")  # type: ignore[arg-type]
