"""The static core: committed docs are current, the JSON contract, no torch on the check path."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SPECS

import archspec
from archspec.cli import main
from archspec.docsgen.reference import layer_reference
from archspec.shapes import sym
from archspec.spec.schema import schema, schema_text


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_schema_is_committed_and_current(update_golden: bool) -> None:
    path = ROOT / "docs" / "archspec.schema.json"
    if update_golden:
        path.write_text(schema_text())
    assert path.read_text() == schema_text(), "run `archspec schema -o docs/archspec.schema.json`"


def test_layer_reference_is_current(update_golden: bool) -> None:
    path = ROOT / "docs" / "layers.md"
    if update_golden:
        path.write_text(layer_reference())
    assert path.read_text() == layer_reference(), "run `archspec layers --markdown > docs/layers.md`"


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_specs_validate_against_schema_and_have_modeline(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../docs/archspec.schema.json")
    jsonschema.validate(yaml.safe_load(text), schema())


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_checks(path: Path) -> None:
    code, out, err = cli("check", str(path))
    assert code == 0, err
    assert "Total params:" in out


def test_mlp_reproduces_seed_table() -> None:
    code, out, _ = cli("check", str(ROOT / "specs" / "mlp.yaml"), "--batch", "64")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    table = [
        (r[0], r[-3] + r[-2], r[-1]) for r in rows if len(r) >= 4 and r[1].startswith("(") and r[0] != "Layer"
    ]
    assert table == [
        ("fc1", "[64,516]", "66,564"),
        ("relu1", "[64,516]", "0"),
        ("fc2", "[64,516]", "266,772"),
        ("relu2", "[64,516]", "0"),
        ("fc3", "[64,1]", "517"),
    ]
    assert "Total params: 333,853" in out
    assert "Trainable params: 333,853" in out
    assert "Non-trainable params: 0" in out


def test_json_contract() -> None:
    code, out, _ = cli("check", str(ROOT / "specs" / "resnet18.yaml"), "--json", "--dim", "batch=8")
    assert code == 0
    data = json.loads(out)
    (m,) = data["models"]
    for key in (
        "name",
        "inputs",
        "outputs",
        "total_params",
        "trainable_params",
        "non_trainable_params",
        "buffers",
        "macs",
        "nodes",
    ):
        assert key in m
    assert m["inputs"] == {"x": {"shape": [8, 3, 224, 224], "dtype": "float32"}}
    assert m["total_params"] == 11_689_512
    for node in m["nodes"]:
        assert {"name", "type", "inputs", "output_shape", "params", "trainable"} <= set(node)
        assert all(isinstance(d, (int, str)) for d in node["output_shape"])
    by_name = {n["name"]: n for n in m["nodes"]}
    assert by_name["layer2.0.conv1"]["inputs"] == ["layer1.1.relu2"]  # the producing layer
    assert by_name["layer2.0.downsample.0"]["inputs"] == ["layer1.1.relu2"]
    assert by_name["fc"]["inputs"] == ["avgpool"]


def test_symbolic_dims_are_preserved() -> None:
    a = archspec.analyze(str(ROOT / "specs" / "resnet18.yaml"))
    assert a.node("layer1.0.conv1").out.shape == (sym("batch"), 64, 56, 56)


def test_python_api_load_and_analyze_text() -> None:
    spec = archspec.load_text("inputs: {x: [batch, 4]}\nlayers:\n  - linear: 3\n  - relu\n")
    a = archspec.analyze(spec)
    assert a.total_params == 15 and a.outputs["relu1"].shape == ("batch", 3)


def test_bad_dim_flag() -> None:
    code, _, err = cli("check", str(ROOT / "specs" / "mlp.yaml"), "--dim", "seq")
    assert code == 1 and "error[dim-size]" in err


def test_check_does_not_import_torch() -> None:
    code = (
        "import sys; from archspec.cli import main; "
        "rc = main(['check', 'specs/resnet50.yaml', '--json']); "
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_forward_references_are_sorted_and_graph_exports_to_networkx() -> None:
    spec = archspec.load_text(
        "inputs: {x: [batch, 4]}\n"
        "layers:\n"
        "  - {name: out, add: [a, b]}\n"
        "  - {name: a, linear: 4, inputs: x}\n"
        "  - {name: b, tanh, inputs: a}\n"
        "outputs: [out]\n"
    )
    a = archspec.analyze(spec)
    assert [n.name for n in a.graph.body()] == ["a", "b", "out"]
    g = a.graph.to_networkx()
    assert set(g.edges) == {("x", "a"), ("a", "b"), ("a", "out"), ("b", "out")}


def test_unseeded_builds_differ_and_seeded_builds_agree() -> None:
    torch = pytest.importorskip("torch")
    path = ROOT / "specs" / "mlp.yaml"
    a, b = archspec.build(path), archspec.build(path)
    assert not torch.equal(a.fc1.weight, b.fc1.weight)
    c, d = archspec.build(path, seed=5), archspec.build(path, seed=5)
    assert all(
        torch.equal(x, y) for x, y in zip(c.state_dict().values(), d.state_dict().values(), strict=True)
    )
    e = archspec.build(path, seed=6)
    assert not torch.equal(c.fc1.weight, e.fc1.weight)


def test_size_names_must_exist() -> None:
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.analyze(str(ROOT / "specs" / "mlp.yaml"), sizes={"btach": 2})
    assert e.value.code == "dim-size" and "did you mean 'batch'" in (e.value.hint or "")
