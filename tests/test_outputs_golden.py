"""Every shipped spec's text artifacts (summary, JSON, standalone source, DOT, Mermaid) against
golden copies: a refactor must not change what users get. Regenerate on purpose with
`pytest tests/test_outputs_golden.py --update-golden` and review the diff."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from conftest import ROOT, SPECS

from archspec.cli import main

GOLDEN = ROOT / "tests" / "golden" / "outputs"
KINDS = ("summary.txt", "summary.json", "py", "dot", "mmd")


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the artifacts name the spec by its path as given


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_text_artifacts_are_unchanged(spec: Path, tmp_path: Path, update_golden: bool) -> None:
    out = tmp_path / "out"
    argv = ["compile", str(spec.relative_to(ROOT)), "-o", str(out), "--quiet"]
    argv += ["--emit", "txt,json,py,dot,mmd"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(argv) == 0, err.getvalue()
    for kind in KINDS:
        (got,) = out.glob(f"*.{kind}")
        golden = GOLDEN / f"{spec.stem}.{kind}"
        if update_golden:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got.read_text())
        assert golden.exists(), f"no golden {golden.name}: run pytest --update-golden and review it"
        assert got.read_text() == golden.read_text(), f"{spec.name}: {kind} changed"


def test_every_golden_file_has_its_spec() -> None:
    """A golden copy nobody compares (its spec renamed or removed) would pass forever."""
    expected = {f"{spec.stem}.{kind}" for spec in SPECS for kind in KINDS}
    assert {p.name for p in GOLDEN.iterdir()} == expected


def test_no_artifact_carries_an_absolute_path(tmp_path: Path) -> None:
    """A spec given by its absolute path: the artifacts name it by its file name alone."""
    spec = tmp_path / "deep" / "folder" / "mlp.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text((ROOT / "specs" / "mlp.yaml").read_text())
    out = tmp_path / "out"
    argv = ["compile", str(spec), "-o", str(out), "--quiet", "--emit", "txt,json,py,dot,mmd"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(argv) == 0, err.getvalue()
    written = sorted(out.iterdir())
    assert len(written) == len(KINDS)
    for path in written:
        text = path.read_text()
        assert str(tmp_path) not in text, path.name
        assert "mlp.yaml" in text or path.suffix in (".dot", ".mmd"), path.name  # diagrams name no file
