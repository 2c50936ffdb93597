"""Custom layers come in through the `archspec.layers` entry-point group (examples/plugin)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
import archspec.layers as layers

PLUGIN = ROOT / "examples" / "plugin"
SPEC = "inputs: {x: [batch, seq, 16]}\nlayers:\n  - swiglu: 32\n  - {linear: 4}\n"


@pytest.fixture
def plugin_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make the example plugin discoverable as an installed distribution would be."""
    dist = tmp_path / "archspec_swiglu-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: archspec-swiglu\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[archspec.layers]\nswiglu = archspec_swiglu.layer\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PLUGIN))
    saved = dict(layers.registry())
    monkeypatch.setattr(layers, "_LOADED", False)
    yield
    layers._REGISTRY.clear()
    layers._REGISTRY.update(saved)
    for name in [m for m in sys.modules if m.startswith("archspec_swiglu")]:
        del sys.modules[name]


def test_plugin_layer_is_discovered_and_counted(plugin_installed: None) -> None:
    assert "swiglu" in layers.registry()
    a = archspec.analyze(archspec.load_text(SPEC))
    assert a.node("swiglu1").counts.params == 3 * 16 * 32


def test_plugin_layer_builds_and_emits(plugin_installed: None, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from archspec.backends.torch.pysrc import emit

    spec = archspec.load_text(SPEC)
    model = archspec.build(spec, seed=0)
    assert sum(p.numel() for p in model.parameters()) == archspec.analyze(spec).total_params
    (x,) = archspec.example_inputs(spec, sizes={"batch": 2, "seq": 3})
    assert model(x).shape == (2, 3, 4)
    source = emit([archspec.analyze(spec)])
    assert "class SwiGLUModule(nn.Module)" in source
    generated = tmp_path / "generated_swiglu.py"
    generated.write_text(source)
    module_spec = importlib.util.spec_from_file_location("generated_swiglu", generated)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)  # import the emitted file as a user would
    clone = module.Model()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone(x), model(x))


def test_plugin_uses_only_the_public_api() -> None:
    source = (PLUGIN / "archspec_swiglu" / "layer.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("from archspec", "import archspec"))]
    assert imports and all(line.startswith("from archspec.plugin import") for line in imports), imports


def test_plugin_layer_says_what_is_penalized(plugin_installed: None) -> None:
    torch = pytest.importorskip("torch")
    spec = archspec.load_text(
        "inputs: {x: [batch, seq, 16]}\nlayers:\n  - {name: ff, swiglu: 32, regularizer: {l2: 0.5}}\n"
    )
    model = archspec.build(spec, seed=0)
    want = 0.5 * sum(model.get_parameter(f"ff.{w}.weight").pow(2).sum() for w in ("w1", "w2", "w3"))
    assert torch.allclose(model.regularization_loss(), want)


def test_broken_plugin_is_one_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[archspec.layers]\nbroken = no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    layers.registry()
    monkeypatch.setattr(layers, "_LOADED", False)
    with pytest.raises(archspec.ArchspecError) as e:
        layers.registry()
    assert e.value.code == "plugin" and "no_such_module_anywhere" in str(e.value)
    monkeypatch.setattr(layers, "_LOADED", True)


def test_plugin_layer_costs_match_flop_counter(plugin_installed: None) -> None:
    pytest.importorskip("torch")
    from flopcount import step_flops

    spec = archspec.load_text(SPEC)
    a = archspec.analyze(spec, sizes={"batch": 2, "seq": 3})
    rows = 2 * 3
    assert a.macs == rows * (3 * 16 * 32 + 16 * 4)
    assert a.other_flops == rows * (2 * 32 + 4)  # silu and product, the linear's bias
    model = archspec.build(spec, seed=0).train()
    (x,) = archspec.example_inputs(spec, sizes={"batch": 2, "seq": 3})
    assert step_flops(lambda: model(x)) == (a.flops.forward, a.flops.backward)
