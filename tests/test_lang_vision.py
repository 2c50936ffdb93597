"""Issue 14, vision: the vision specs against the torchvision-layout references in
tests/references (equal counts; identical state_dict keys and shapes; equal outputs after copying
the weights with every tensor randomised, in eval mode and in training mode under one seed), the
layers they need (drop_path, layer_norm over one dim, depthwise convolution) against torch, every
new layer built and emitted as standalone source, and the channels-last hint. (Every shipped spec,
these included, is also exported to ONNX and verified at full size by tests/test_onnx.py.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import ROOT

import archspec
from archspec.errors import ArchspecError
from archspec.planner.specvars import load_with_vars

SPECS = ROOT / "specs"
COUNTS = {
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548,
    "convnext_tiny": 28_589_128,
    "swin_t": 28_288_354,
    "vit_b_16": 86_567_656,
}

# MACs at 224x224, batch 1 (FlopCounterMode / 2: convolutions, linears, attention's two products).
# torchvision's model cards give "GFLOPS" 0.30, 0.22, 0.39, 4.46, 4.49 and 17.56, which are these counts
# rounded: the cards count a multiply-add once, as here.
MACS = {
    "mobilenet_v2": 300_774_272,
    "mobilenet_v3_large": 216_589_760,
    "efficientnet_b0": 385_814_752,
    "convnext_tiny": 4_455_531_264,
    "swin_t": 4_490_566_656,
    "vit_b_16": 17_563_828_224,
}
GFLOPS = {
    "mobilenet_v2": 0.30,
    "mobilenet_v3_large": 0.22,
    "efficientnet_b0": 0.39,
    "convnext_tiny": 4.46,
    "swin_t": 4.49,
    "vit_b_16": 17.56,
}


@pytest.mark.parametrize(("name", "count"), sorted(COUNTS.items()))
def test_static_counts_are_the_published_ones(name: str, count: int) -> None:
    a = archspec.analyze(archspec.load(SPECS / f"{name}.yaml"))
    assert a.total_params == a.trainable_params == count


@pytest.mark.parametrize(("name", "macs"), sorted(MACS.items()))
def test_macs_are_torchvisions(name: str, macs: int) -> None:
    spec = archspec.load(SPECS / f"{name}.yaml")
    symbols = archspec.analyze(spec).symbols
    a = archspec.analyze(
        spec, sizes={k: v for k, v in {"batch": 1, "h": 224, "w": 224}.items() if k in symbols}
    )
    assert a.macs == macs
    assert round(macs / 1e9, 2) == GFLOPS[name]


# ---- outputs against the references ------------------------------------------------------------

torch = pytest.importorskip("torch")

from references import MODELS, convnext, efficientnet, mobilenet, swin, vit  # noqa: E402
from references._common import StochasticDepth  # noqa: E402


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Every parameter and float buffer random (running variances positive), so that the output
    depends on every layer: no zero head, no identity-like layer scale, no 0/1 BN statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)


# spec, its vars for the test, the reference at that config, the input's shape
# (small configs keep the test fast; dropout and drop-path rates are the full models', or raised so
# that training mode exercises them)
SMALL_SWIN = {"height": 36, "width": 44, "embed": 8, "heads1": 1, "heads2": 2, "heads3": 2, "heads4": 4}
SMALL_SWIN |= {"window": 4, "classes": 10, "depth3": 2}
SMALL_VIT = {"image_size": 32, "patch": 8, "width": 64, "depth": 2, "heads": 4, "mlp": 128}
REFERENCES: dict[str, tuple[dict[str, object], Callable[[], torch.nn.Module], tuple[int, ...]]] = {
    "mobilenet_v2": ({}, mobilenet.mobilenet_v2, (2, 3, 64, 48)),
    "mobilenet_v3_large": (
        {"classes": 10, "dropout": 0.5},
        lambda: mobilenet.MobileNetV3(num_classes=10, dropout=0.5),
        (3, 3, 64, 48),
    ),
    "efficientnet_b0": (
        {"classes": 10},
        lambda: efficientnet.EfficientNet(efficientnet.B0, num_classes=10),
        (3, 3, 64, 48),
    ),
    "convnext_tiny": (
        {"classes": 10, "image_size": 64, "stochastic_depth": 0.3},
        lambda: convnext.ConvNeXt(convnext.TINY, stochastic_depth_prob=0.3, num_classes=10),
        (3, 3, 64, 64),
    ),
    "swin_t": (
        {**SMALL_SWIN, "stochastic_depth": 0.3},
        lambda: swin.SwinTransformer(
            4, 8, [2, 2, 2, 2], [1, 2, 2, 4], 4, stochastic_depth_prob=0.3, num_classes=10
        ),
        (3, 3, 36, 44),
    ),
    "vit_b_16": (
        {**SMALL_VIT, "classes": 10, "dropout": 0.1, "attention_dropout": 0.1},
        lambda: vit.VisionTransformer(32, 8, 2, 4, 64, 128, 0.1, 0.1, num_classes=10),
        (3, 3, 32, 32),
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_outputs_equal_the_reference(name: str) -> None:
    values, make_ref, shape = REFERENCES[name]
    spec = load_with_vars(SPECS / f"{name}.yaml", values)  # type: ignore[arg-type]
    model, ref = archspec.build(spec, seed=0), make_ref()
    randomise(ref, 1)
    ours, theirs = model.state_dict(), ref.state_dict()
    assert [(k, v.shape) for k, v in ours.items()] == [(k, v.shape) for k, v in theirs.items()]
    model.load_state_dict(theirs, strict=True)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want, got = ref.eval()(x), model.eval()(x)
    assert got.shape == want.shape and want.abs().max().item() > 0.1
    assert (got - want).abs().max().item() <= 1e-5 * want.abs().max().item()
    # training mode under one seed: dropout and drop-path draw the same numbers in the same
    # order and batch norm uses batch statistics, so equal outputs check their semantics too
    torch.manual_seed(7)
    want = ref.train()(x)
    torch.manual_seed(7)
    got = model.train()(x)
    assert (got - want).abs().max().item() <= 1e-5 * want.abs().max().item()


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_full_size_keys_equal_the_reference_on_meta(name: str) -> None:
    """At full size, on the meta device (nothing allocated): the reference's count is the
    published one, and the spec's state_dict keys, shapes and dtypes are the reference's, in order."""
    make, count = MODELS[name]
    with torch.device("meta"):
        ref = make()
    assert sum(p.numel() for p in ref.parameters()) == count
    ours = archspec.build(SPECS / f"{name}.yaml", device="meta").state_dict()

    def table(sd: dict[str, torch.Tensor]) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
        return [(k, tuple(v.shape), v.dtype) for k, v in sd.items()]

    assert table(ours) == table(ref.state_dict())


def test_efficientnet_takes_any_input_size() -> None:
    spec = archspec.load(SPECS / "efficientnet_b0.yaml")
    model = archspec.build(spec, seed=0).eval()
    for h, w in ((33, 47), (96, 64)):
        a = archspec.analyze(spec, sizes={"batch": 1, "h": h, "w": w})
        assert a.out(a.graph.nodes["features"]).shape == (1, 1280, -(-h // 32), -(-w // 32))
        with torch.no_grad():
            assert model(torch.randn(1, 3, h, w)).shape == (1, 1000)


def test_initial_values_follow_the_references() -> None:
    """The spec's own init: ConvNeXt's layer scale 1e-6, ViT's class token zeros and position
    embedding N(0, 0.02) (the other layers' inits are torch's defaults, as the specs say)."""
    cnx = archspec.build(load_with_vars(SPECS / "convnext_tiny.yaml", {"image_size": 32}), seed=0)
    scale = cnx.get_parameter("features.5.8.layer_scale")
    assert scale.shape == (384, 1, 1) and bool((scale == 1e-6).all())
    small = load_with_vars(SPECS / "vit_b_16.yaml", {**SMALL_VIT, "image_size": 224, "patch": 4})
    v = archspec.build(small, seed=0)
    assert bool((v.get_parameter("class_token") == 0).all())
    pos = v.get_parameter("encoder.pos_embedding")
    assert pos.shape == (1, 56 * 56 + 1, 64) and 0.018 < pos.std().item() < 0.022


def test_mobilenet_v2_activations_are_relu6() -> None:
    model = archspec.build(SPECS / "mobilenet_v2.yaml", seed=0)
    kinds = {type(m).__name__ for m in model.modules()}
    assert sum(isinstance(m, torch.nn.ReLU6) for m in model.modules()) == 35 and "ReLU" not in kinds


# ---- layers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_drop_path_is_torchvisions_stochastic_depth(mode: str) -> None:
    spec = archspec.load_text(
        f"inputs: {{x: [batch, 4, 3, 3]}}\nlayers:\n  - drop_path: {{p: 0.4, mode: {mode}}}\n"
    )
    model = archspec.build(spec, seed=0)
    x = torch.randn(64, 4, 3, 3)
    assert torch.equal(model.eval()(x), x)
    torch.manual_seed(3)
    y = model.train()(x)
    kept = (y != 0).flatten(1).all(dim=1)
    dropped = (y == 0).flatten(1).all(dim=1)
    assert bool((kept | dropped).all())  # whole samples are kept or dropped
    assert torch.allclose(y[kept], x[kept] / 0.6)
    if mode == "batch":
        assert bool(kept.all()) or bool(dropped.all())
    else:
        torch.manual_seed(3)
        assert torch.equal(StochasticDepth(0.4).train()(x), y)
        assert 0 < int(kept.sum()) < 64


def test_layer_norm_over_channels_equals_two_permutes() -> None:
    text = "inputs: {x: [batch, 6, 5, 7]}\nlayers:\n  - layer_norm: {dim: 1, eps: 1.0e-6}\n"
    spec = archspec.load_text(text)
    model = archspec.build(spec, seed=0).eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        "layer_norm1.weight": (6,),
        "layer_norm1.bias": (6,),
    }
    randomise(model, 0)
    ln = torch.nn.LayerNorm(6, eps=1e-6)
    ln.load_state_dict({k.removeprefix("layer_norm1."): v for k, v in model.state_dict().items()})
    x = torch.randn(2, 6, 5, 7)
    with torch.no_grad():
        want = ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        assert torch.allclose(model(x), want, atol=1e-6)


def test_depthwise_convolution_infers_the_channels() -> None:
    text = "inputs: {x: [batch, 12, 9, 9]}\nlayers:\n  - {depthwise_conv2d: {kernel: 3, multiplier: 2}}\n"
    a = archspec.analyze(archspec.load_text(text))
    node = a.node("depthwise_conv2d1")
    assert node.out.shape == ("batch", 24, 7, 7) and node.counts.params == 24 * 9 + 24
    conv = archspec.build(archspec.load_text(text), seed=0).get_submodule("depthwise_conv2d1")
    assert isinstance(conv, torch.nn.Conv2d) and conv.groups == 12 and conv.out_channels == 24


EVERY_LAYER = """
models:
  maps:
    inputs: {x: [batch, 8, h, w]}
    layers:
      - {depthwise_conv2d: {kernel: 3, padding: 1}}
      - {layer_norm: {dim: 1}}
      - {group_norm: 4}
      - relu6
      - {instance_norm: {affine: true}}
      - hardswish
      - {prelu: {per_channel: true}}
      - hardsigmoid
      - {drop_path: 0.1}
      - elu
      - mish
      - softplus
      - {conv2d: {out: 8, kernel: 1}}
      - {glu: 1}
  volumes:
    inputs: {v: [batch, 2, 8, 16, 16]}
    layers:
      - {conv3d: {out: 4, kernel: 3, padding: 1}}
      - {depthwise_conv3d: {kernel: 3, padding: 1}}
      - {max_pool3d: 2}
      - {avg_pool3d: 2}
      - {adaptive_avg_pool3d: 1}
      - flatten
"""


@pytest.mark.parametrize("name", ["maps", "volumes"])
def test_built_and_standalone_source_agree(name: str) -> None:
    from archspec.backends.torch.pysrc import emit

    spec = archspec.load_text(EVERY_LAYER)
    a = archspec.analyze(spec, name, {"batch": 3, "h": 6, "w": 5} if name == "maps" else {"batch": 3})
    built = archspec.build(spec, name, seed=0).eval()
    namespace: dict[str, object] = {"__name__": "emitted"}
    exec(compile(emit([a]), "emitted.py", "exec"), namespace)  # generated by archspec, not a spec
    clone = namespace[name.capitalize()]().eval()  # type: ignore[operator]
    clone.load_state_dict(built.state_dict())
    (x,) = archspec.example_inputs(spec, name, dict(a.sizes), seed=1)
    with torch.no_grad():
        y = built(x)
        assert torch.equal(y, clone(x))
    assert list(y.shape) == {"maps": [3, 4, 6, 5], "volumes": [3, 4]}[name]
    assert sum(t.numel() for t in built.parameters()) == a.total_params


# ---- the channels-last hint -----------------------------------------------------------------------

KERAS_LIKE = """\
inputs:
  image: [batch, 64, 64, 3]
layers:
  - {conv2d: {out: 32, kernel: 3}}
  - relu
  - max_pool2d: 2
  - flatten
  - linear: 1
"""


def test_a_channels_last_input_is_reported_at_its_line() -> None:
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(KERAS_LIKE, name="k.yaml")
    e = err.value
    assert e.code == "shape-mismatch" and e.loc is not None and e.loc.line == 2 and e.node == "image"
    assert "layout: channels_last" in (e.hint or "") and "max_pool2d1" in e.message
    fixed = KERAS_LIKE.replace("[batch, 64, 64, 3]", "{shape: [batch, 64, 64, 3], layout: channels_last}")
    assert archspec.analyze(archspec.load_text(fixed)).total_params == 32 * 27 + 32 + 32 * 31 * 31 + 1


@pytest.mark.parametrize(
    "text",
    [
        # a grey image flattened first: the convolution reads a layer's output, not the image
        "inputs: {x: [batch, 28, 28, 1]}\nlayers: [flatten, {linear: 3}, {conv2d: {out: 2, kernel: 1}}]\n",
        # a channels-first image whose error has nothing to do with its layout
        "inputs: {x: [batch, 3, 32, 32]}\nlayers: [{conv2d: {out: 4, kernel: 40}}]\n",
    ],
)
def test_other_errors_keep_their_place(text: str) -> None:
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text)
    assert "layout" not in (err.value.hint or "")
    assert err.value.loc is not None and err.value.loc.line == 2
