"""Nothing lost: a failure at any write leaves existing artifacts byte-identical, no temp files."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from archspec.cli import main

EMIT = "py,json,txt,dot,mmd"
OLD = "inputs: {x: [batch, 8]}\nlayers:\n  - {name: fc, linear: 4}\n  - relu\n"
NEW = "inputs: {x: [batch, 8]}\nlayers:\n  - {name: fc, linear: 16}\n  - tanh\n"


def compile_(spec: Path, out: Path) -> int:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return main(["compile", str(spec), "-o", str(out), "--emit", EMIT, "--quiet"])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    spec, out = tmp_path / "net.yaml", tmp_path / "out"
    spec.write_text(OLD)
    assert compile_(spec, out) == 0
    spec.write_text(NEW)
    return spec, out, snapshot(out)


def count_calls(monkeypatch: pytest.MonkeyPatch, spec: Path, out: Path, target: str) -> int:
    calls = 0
    owner, name = target.rsplit(".", 1)
    obj = Path if owner == "Path" else os
    real = getattr(obj, name)

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(*a, **k)

    scratch = out.parent / "scratch"
    shutil.copytree(out, scratch)  # the same writes as over the real outputs
    monkeypatch.setattr(obj, name, counting)
    assert compile_(spec, scratch) == 0
    monkeypatch.setattr(obj, name, real)
    return calls


@pytest.mark.parametrize("target", ["os.replace", "Path.write_text", "os.link", "os.chmod"])
def test_failure_at_each_write_changes_nothing(built, monkeypatch: pytest.MonkeyPatch, target: str) -> None:  # type: ignore[no-untyped-def]
    spec, out, before = built
    n = count_calls(monkeypatch, spec, out, target)
    assert n > 0
    owner, name = target.rsplit(".", 1)
    obj = Path if owner == "Path" else os
    real = getattr(obj, name)
    for k in range(1, n + 1):
        calls = 0

        def failing(*a, **kw):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == k:
                raise OSError(28, "No space left on device (injected)")
            return real(*a, **kw)

        monkeypatch.setattr(obj, name, failing)
        code = compile_(spec, out)
        monkeypatch.setattr(obj, name, real)
        assert code == 1, f"{target} failure #{k} was not reported as an error"
        assert snapshot(out) == before, f"{target} failure #{k} changed the outputs"


def test_success_replaces_everything(built) -> None:  # type: ignore[no-untyped-def]
    spec, out, before = built
    assert compile_(spec, out) == 0
    after = snapshot(out)
    assert set(after) == set(before)
    assert all(after[n] != before[n] for n in after if n.endswith((".py", ".json")))


@pytest.mark.parametrize(
    "name", ["cycle.yaml", "python_tag.yaml", "add_mismatch.yaml", "billion_laughs.yaml"]
)
def test_broken_spec_writes_nothing(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    assert compile_(ROOT / "tests" / "broken" / name, out) == 1
    assert not out.exists()


def test_output_paths_come_only_from_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text('name: "../../etc/evil"\n' + OLD)
    out = tmp_path / "out"
    assert compile_(spec, out) == 0
    assert {p.parent for p in out.rglob("*")} == {out}
    assert not (tmp_path.parent / "etc").exists()
