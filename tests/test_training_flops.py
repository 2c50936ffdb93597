"""Model-level MACs and training FLOPs: published numbers, hand counts, and FlopCounterMode over a
real forward and backward step of whole specs (frozen parts, a gradient cut, ties included)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec.cli import main

SPECS = ROOT / "specs"


def check_json(path: Path, *args: str) -> dict[str, object]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["check", str(path), "--json", *args]) == 0
    model: dict[str, object] = json.loads(out.getvalue())["models"][0]
    return model


@pytest.mark.parametrize(
    ("spec", "macs"),
    [("resnet18", 1_814_073_344), ("resnet50", 4_089_184_256)],  # torchvision: 1.81 and 4.09 GFLOPS
)
def test_published_resnet_macs(spec: str, macs: int) -> None:
    assert check_json(SPECS / f"{spec}.yaml")["macs"] == macs


def test_json_reports_costs_per_model_and_node() -> None:
    m = check_json(SPECS / "mlp.yaml", "--batch", "2")
    # 128 -> 516 -> 516 -> 1 on 2 rows: the three products, then bias adds (1033) and ReLUs (1032)
    assert m["macs"] == 2 * (128 * 516 + 516 * 516 + 516)
    assert m["other_flops"] == 2 * (516 + 516 + 1) + 2 * (516 + 516)
    # backward: fc1's weight gradient only (the input needs none), fc2's and fc3's two each
    backward = 2 * (128 * 516 + 2 * 516 * 516 + 2 * 516)
    assert m["training_flops"] == {"forward": 2 * m["macs"], "backward": 2 * backward}  # type: ignore[operator]
    nodes = {n["name"]: n for n in m["nodes"]}  # type: ignore[attr-defined]
    assert (nodes["fc1"]["macs"], nodes["fc1"]["other_flops"]) == (2 * 128 * 516, 2 * 516)
    assert nodes["fc1"]["backward_flops"] == 2 * 2 * 128 * 516
    relu = nodes["relu1"]
    assert (relu["macs"], relu["other_flops"], relu["backward_flops"]) == (0, 1032, 0)


def test_frozen_discriminator_passes_gradients_but_learns_nothing() -> None:
    """The GAN's combined model: the generator learns; the frozen discriminator computes only the
    gradients w.r.t. its inputs (to reach the generator), none for its weights."""
    a = archspec.analyze(archspec.load(SPECS / "gan.yaml"), "gan")
    generator = 100 * 256 + 2 * 256 * 784  # the first layer's input needs no gradient
    discriminator = 784 * 1024 + 1024 * 1  # input gradients only
    assert a.flops.backward == 2 * (generator + discriminator)
    assert a.flops.forward == 2 * (100 * 256 + 256 * 784 + 784 * 1024 + 1024)


def test_a_step_function_cuts_the_gradient() -> None:
    a = archspec.analyze(archspec.load(SPECS / "perceptron.yaml"))
    assert (a.macs, a.flops.backward) == (2, 0)  # nothing before the step learns by backprop


# Against FlopCounterMode over a real training step -------------------------------------

torch = pytest.importorskip("torch")

from flopcount import step_flops  # noqa: E402

SMALL = {  # text edits that make a shipped spec quick to run, keeping its structure
    "resnet18": [("224, 224", "64, 64")],
    "transformer_encoder": [
        ("vocab: 30522", "vocab: 300"),
        ("d_model: 768", "d_model: 32"),
        ("heads: 12", "heads: 4"),
        ("depth: 12", "depth: 2"),
    ],
    "gpt2": [
        ("vocab: 50257", "vocab: 100"),
        ("d_model: 768", "d_model: 32"),
        ("heads: 12", "heads: 4"),
        ("depth: 12", "depth: 2"),
    ],
}
CASES = [
    ("mlp", None),
    ("lenet5", None),
    ("resnet18", None),
    ("gan", "gan"),
    ("dcgan", "dcgan"),
    ("transformer_encoder", None),
    ("gpt2", None),
    ("text_classifier", None),
    ("esn", None),
    ("perceptron", None),
    ("unet", None),
]


@pytest.mark.parametrize(("spec", "model"), CASES, ids=[c[0] for c in CASES])
def test_training_flops_match_flop_counter(spec: str, model: str | None) -> None:
    text = (SPECS / f"{spec}.yaml").read_text()
    for old, new in SMALL.get(spec, []):
        assert old in text, f"{spec}: '{old}' not found"
        text = text.replace(old, new)
    s = archspec.load_text(text, name=f"{spec}.yaml")
    symbols = {d for t in archspec.analyze(s, model).inputs.values() for d in t.symbols}
    sizes = {k: v for k, v in {"batch": 2, "seq": 6}.items() if k in symbols}
    a = archspec.analyze(s, model, sizes)
    module = archspec.build(s, model, seed=0).train()
    xs = archspec.example_inputs(s, model, sizes)
    forward, backward = step_flops(lambda: module(*xs))
    assert (a.flops.forward, a.flops.backward) == (forward, backward)
    assert a.flops.forward == 2 * a.macs
