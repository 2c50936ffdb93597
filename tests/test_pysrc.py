"""The emitted standalone source, run where archspec cannot be imported, loads the
state_dict of ``archspec.build`` and gives identical outputs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import archspec
from archspec.backends.torch.pysrc import emit
from archspec.passes import analyze_all

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402

BIG = 300_000_000

RUNNER = textwrap.dedent(
    """
    import importlib.util, sys
    import torch
    sys.modules["archspec"] = None  # archspec must not be importable here
    spec = importlib.util.spec_from_file_location("generated", sys.argv[1])
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    data = torch.load(sys.argv[2])
    model = mod.__dict__[data["cls"]](*[mod.__dict__[c]() for c in data["deps"]])
    model.load_state_dict(data["state"])
    model.eval()
    with torch.no_grad():
        out = model(*data["inputs"])
    torch.save(out, sys.argv[3])
    """
)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_emitted_source_matches_build(path: Path, tmp_path: Path) -> None:
    spec = archspec.load(path)
    analyses = analyze_all(spec)
    if max(a.total_params for a in analyses) > BIG:
        pytest.skip("too large to materialize")
    source = emit(analyses)
    compile(source, "generated.py", "exec")  # it parses
    src_file = tmp_path / "generated.py"
    src_file.write_text(source)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    for a in analyses:
        module = archspec.build(spec, a.model, seed=3).eval()
        inputs = archspec.example_inputs(spec, a.model, {"batch": 2} if "batch" in a.symbols else {})
        with torch.no_grad():
            want = module(*inputs)
        deps = sorted({n.type for n in a.graph.body() if n.kind == "model"})
        cls = _class_of(source, a.model)
        data = {
            "cls": cls,
            "deps": [_class_of(source, d) for d in deps],
            "state": module.state_dict(),
            "inputs": inputs,
        }
        torch.save(data, tmp_path / "data.pt")
        result = subprocess.run(
            [sys.executable, str(runner), str(src_file), str(tmp_path / "data.pt"), str(tmp_path / "out.pt")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        got = torch.load(tmp_path / "out.pt")
        _assert_same(want, got)


def _class_of(source: str, model: str) -> str:
    name = "".join(p[:1].upper() + p[1:] for p in model.split("_") if p)
    assert f"class {name}(" in source, name
    return name


def _assert_same(want, got) -> None:  # type: ignore[no-untyped-def]
    if isinstance(want, tuple):
        for w, g in zip(want, got):
            _assert_same(w, g)
        return
    assert torch.equal(want, got)


@pytest.mark.parametrize(
    "doc",
    [
        'ends with a quote"',
        'has """ triple',
        "back\\\\slash\\\\",
        'x"""; import os; os.system(\'echo no\') #',
        "<b>x</b>\n\tnew",
    ],
)
def test_free_text_cannot_escape_the_generated_source(doc: str, tmp_path: Path) -> None:
    text = (
        f"name: {json.dumps(doc)}\ninputs: {{x: [batch, 4]}}\n"
        f"blocks:\n  b:\n    doc: {json.dumps(doc)}\n    layers: [relu]\n"
        f"layers:\n  - {{name: fc, linear: 2, doc: {json.dumps(doc)}}}\n  - b\n"
    )
    source = emit([archspec.analyze(archspec.load_text(text))])
    tree = ast.parse(source)  # it parses, and the text stayed inside strings and comments
    calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    assert not any(f.attr == "system" for f in calls)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"math", "torch"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_emitted_source_is_lint_clean(path: Path, tmp_path: Path) -> None:
    """No unused imports or names (pyflakes rules), and it compiles."""
    ruff = pytest.importorskip("ruff")
    del ruff
    source = emit(analyze_all(archspec.load(path)))
    out = tmp_path / f"{path.stem}.py"
    out.write_text(source)
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout


def test_non_persistent_buffers_stay_out_of_the_state_dict(tmp_path: Path) -> None:
    """``persistent: false`` keeps a buffer out of the state_dict in the built module (fx copies
    buffers as persistent ones) and in the emitted source, at the top level and in a block."""

    spec = archspec.load_text(
        textwrap.dedent(
            """
            name: buffers_net
            inputs: {x: [4, 4]}
            blocks:
              masked:
                inputs: [x]
                layers:
                  - {name: inner, buffer: {fill: causal_mask, size: 4, persistent: false}}
                  - {name: kept, buffer: {fill: causal_mask, size: 4}}
                  - {name: y1, where: [inner, x, x]}
                  - {name: y, where: [kept, y1, x]}
            layers:
              - {name: top, buffer: {fill: causal_mask, size: 4, persistent: false}}
              - {name: a, masked: {}, inputs: x}
              - {name: y, where: [top, a, x]}
            """
        )
    )
    built = archspec.build(spec)
    assert list(built.state_dict()) == ["a.kept"]
    assert {n for n, _ in built.named_buffers()} == {"top", "a.inner", "a.kept"}
    path = tmp_path / "m.py"
    path.write_text(emit(analyze_all(spec)))
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # our own generated source
    (made,) = [v for v in namespace.values() if isinstance(v, type) and v.__name__ == type(built).__name__]
    assert isinstance(made, type) and list(made().state_dict()) == ["a.kept"]
