"""Nothing in a spec is executed: hostile names in every position that reaches generated code,
hostile expressions, hostile files and sizes. Each gives a clean located error or a safe artifact;
a canary file proves that nothing ran (check, build, compile, importing the emitted source)."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

import archspec
from archspec.backends.torch.pysrc import emit
from archspec.cli import main
from archspec.errors import ArchspecError

CANARY = "PWNED"
PAYLOADS = [
    f"input=[__import__('os').system('touch {CANARY}'), locals().get('input')][1]",
    f'x"); __import__("os").system("touch {CANARY}"); ("',
    f"x):\n    __import__('os').system('touch {CANARY}')\n    def f(y",
    "lambda",
    "True",
    "None",
    "net½",
    "append",
    "regularization_loss",
    "archspec_analysis",
    "_private",
    "a" * 300,
]


def _positions(payload: str) -> dict[str, dict[str, Any]]:
    """A spec per position where a name reaches code."""
    block = {"layers": [{"linear": 4}]}
    return {
        "block_input": {
            "blocks": {"b": {"inputs": [payload], "layers": [{"linear": 4}]}},
            "inputs": {"x": ["batch", 4]},
            "layers": ["b"],
        },
        "block_output": {
            "blocks": {"b": {"layers": [{"linear": 4}], "outputs": payload}},
            "inputs": {"x": ["batch", 4]},
            "layers": ["b"],
        },
        "model_input": {"inputs": {payload: ["batch", 4]}, "layers": [{"linear": 4}]},
        "node_name": {"inputs": {"x": ["batch", 4]}, "layers": [{"name": payload, "linear": 4}]},
        "reference": {"inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4, "inputs": payload}]},
        "model_output": {"inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4}], "outputs": payload},
        "spec_name": {"name": payload, "inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4}]},
        "block_name": {"blocks": {payload: block}, "inputs": {"x": ["batch", 4]}, "layers": [payload]},
        "model_name": {"models": {payload: {"inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4}]}}},
        "dim": {"inputs": {"x": [payload, 4]}, "layers": [{"linear": 4}]},
        "var": {"vars": {payload: 4}, "inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4}]},
        "doc": {"doc": payload, "inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4, "doc": payload}]},
        "tie": {"inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4}, {"linear": 4, "tie": payload}]},
        "init_param": {"inputs": {"x": ["batch", 4]}, "layers": [{"linear": 4, "init": {payload: "zeros"}}]},
        "block_arg": {
            "blocks": {"b": {"args": {payload: 4}, "layers": [{"linear": 4}]}},
            "inputs": {"x": ["batch", 4]},
            "layers": ["b"],
        },
    }


CASES = [(pos, i) for i in range(len(PAYLOADS)) for pos in _positions("x")]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _import_source(source: str, where: Path) -> None:
    """Run the emitted module as `import` would, in a fresh namespace."""
    code = compile(source, str(where / "emitted.py"), "exec")
    exec(code, {"__name__": "emitted"})  # the artifact itself, as a user would import it


@pytest.mark.parametrize(("position", "payload"), CASES, ids=[f"{p}-{i}" for p, i in CASES])
def test_hostile_names_never_execute(in_tmp: Path, position: str, payload: int) -> None:
    data = _positions(PAYLOADS[payload])[position]
    text = json.dumps(data)
    try:
        spec = archspec.load_text(text, name="hostile.json")
        analyses = [archspec.analyze(spec, m) for m in spec.model_names()]
        source = emit(analyses)
        _import_source(source, in_tmp)
        for m in spec.model_names():
            archspec.build(spec, m, seed=0)
    except ArchspecError as e:
        assert e.loc is not None and e.loc.file == "hostile.json", e.format()
    assert not (in_tmp / CANARY).exists()


def test_code_execution_spec_from_the_report_is_refused(in_tmp: Path) -> None:
    path = in_tmp / "pwn.yaml"
    path.write_text(
        "blocks:\n  b:\n"
        f'    inputs: ["{PAYLOADS[0]}"]\n'
        "    layers:\n      - linear: 4\n"
        "inputs: {x: [batch, 4]}\nlayers:\n  - b\n"
    )
    for argv in (["check", str(path)], ["compile", str(path), "-o", str(in_tmp / "out"), "--emit", "py"]):
        code, _, err = _cli(argv)
        assert code == 1 and "error[bad-name]" in err and "pwn.yaml:3:" in err
    assert not (in_tmp / CANARY).exists() and not (in_tmp / "out").exists()


def test_emitted_source_of_awkward_but_valid_names_imports(in_tmp: Path) -> None:
    """Names that are valid but collide with generated classes, keywords once capitalized, or
    the copied torch classes still give source that imports and runs."""
    text = (
        "name: 'True'\n"
        "blocks:\n"
        "  none: {layers: [{linear: 4}]}\n"
        "  Reshape: {layers: [{reshape: [2, 2]}, flatten]}\n"
        "  Sequential: {layers: [relu]}\n"
        "inputs: {x: [batch, 4]}\n"
        "layers: [none, Reshape, Sequential, {reshape: [2, 2]}, flatten]\n"
    )
    spec = archspec.load_text(text)
    source = emit([archspec.analyze(spec)])
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(source, "emitted.py", "exec"), namespace)
    torch = pytest.importorskip("torch")
    built = archspec.build(spec, seed=0)
    model = namespace[namespace["__all__"][0]]()
    model.load_state_dict(built.state_dict())
    x = torch.randn(2, 4)
    assert torch.equal(model(x), built(x))


@pytest.mark.parametrize(
    "expression",
    ["'a' * 10**17", "'%z' % 1", "'a' < 1", "-'a'", "1/0", "2**70", "min()", "int('5')", "((1", "x.y"],
)
def test_expressions_fail_cleanly_with_a_location(expression: str) -> None:
    text = f'inputs: {{x: [batch, 4]}}\nlayers:\n  - linear: "${expression}"\n'
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="e.yaml")
    assert err.value.code in ("expression", "schema") and err.value.loc is not None
    assert (err.value.loc.line, err.value.loc.file) == (3, "e.yaml")


def test_doubling_string_vars_are_bounded() -> None:
    names = [f"v{i}" for i in range(40)]
    lines = ["vars:", "  v0: 'ab'"] + [f"  {b}: ${a} + {a}" for a, b in itertools.pairwise(names)]
    text = "\n".join([*lines, "inputs: {x: [batch, 4]}", "layers: [relu]", ""])
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="d.yaml")
    assert err.value.code == "expression" and "1000 characters" in err.value.message


def test_loader_reads_at_most_the_limit_from_any_file() -> None:
    with pytest.raises(ArchspecError) as err:  # reads 8 MiB + 1 byte of the endless device
        archspec.load("/dev/zero")
    assert err.value.code == "file-too-large"


def test_load_takes_paths_and_load_text_takes_text(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("secret_token: hunter2\n")
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(str(secret))
    assert "hunter2" not in err.value.format() and "secret_token" not in err.value.format()
    with pytest.raises(ArchspecError) as err:
        archspec.load("inputs: {x: [batch, 4]}\nlayers: [relu]\n")
    assert err.value.code == "file-not-found" and "load_text" in (err.value.hint or "")
    assert archspec.load_text("inputs: {x: [batch, 4]}\nlayers: [relu]\n").model_names() == ["model"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: a\x01b\ninputs: {x: [batch, 4]}\nlayers: [relu]\n", 1),
        ('{"name": "a\\ud800", "inputs": {"x": ["batch", 4]}, "layers": ["relu"]}', 1),
        ('{"doc": "a\\u0000b", "inputs": {"x": ["batch", 4]}, "layers": ["relu"]}', 1),
        (
            "inputs: {ids: {shape: [batch, 4], dtype: int64, high: -5}}\n"
            "layers: [{embedding: {num: 9, dim: 2}}]\n",
            1,
        ),
        ("seed: 9999999999999999999\ninputs: {x: [batch, 4]}\nlayers: [relu]\n", 1),
        ("inputs: {x: [batch, 4]}\nlayers: [{linear: 3, init: {normal: {std: 'nan'}}}]\n", 2),
        ("inputs: {x: [batch, 4]}\nlayers: [{linear: 3, regularizer: {l1: 'inf'}}]\n", 2),
    ],
)
def test_odd_input_gives_a_located_error(text: str, line: int) -> None:
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="odd")
    assert err.value.loc is not None and err.value.loc.line == line, err.value.format()


NESTED = """
blocks:
  inner: {layers: [{linear: 4, repeat: 100000}]}
  outer: {layers: [{inner, repeat: 100000}]}
inputs: {x: [batch, 4]}
layers: [outer]
"""
CALLS = """
models:
  big: {inputs: {x: [batch, 4]}, layers: [{linear: 4, repeat: 60000}]}
  caller: {inputs: {x: [batch, 4]}, layers: [big, big, big, big]}
"""
INDEXED = """
blocks:
  inner:
    args: {n: int}
    layers: [{linear: 4, repeat: $n}]
inputs: {x: [batch, 4]}
layers: [{inner: {n: "$100000 - index"}, repeat: 100000}]
"""


@pytest.mark.parametrize("text", [NESTED, CALLS, INDEXED], ids=["nested", "calls", "indexed"])
def test_node_budget_is_static_and_covers_the_whole_spec(text: str) -> None:
    with pytest.raises(ArchspecError) as err:  # 10^10 nodes: refused before expanding
        archspec.load_text(text, name="big.yaml")
    assert err.value.code == "limit" and err.value.loc is not None


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_emitted_file_imports_in_a_fresh_process(tmp_path: Path) -> None:
    spec = tmp_path / "weird.yaml"
    spec.write_text(
        'name: \'net½\'\ndoc: "tab\\tnul\\x07 and a \\"quote\\" \\\\ "\n'
        "blocks: {none: {layers: [{linear: 4, doc: 'line\\nbreak'}]}}\n"
        "inputs: {x: [batch, 4]}\nlayers: [none]\n"
    )
    code, _, err = _cli(["compile", str(spec), "-o", str(tmp_path / "out"), "--emit", "py", "--quiet"])
    assert code == 0, err
    (py,) = (tmp_path / "out").glob("*.py")
    env = {**os.environ, "PYTHONPATH": ""}
    r = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(py)!r})"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / CANARY).exists() and ROOT.exists()
