"""Each layer's MACs, other FLOPs and backward MACs (docs/costs.md), against hand-written values
and against torch's FlopCounterMode on every registered layer's real module (whole specs:
test_training_flops.py)."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.layers import costs, registry
from archspec.shapes import TensorType, evaluate, tensor

SIZES = {"batch": 2, "seq": 5, "h": 9, "w": 11}


def shapes(xs: list[TensorType], sizes: dict[str, int]) -> list[tuple[int, ...]]:
    return [tuple(evaluate(d, sizes) for d in x.shape) for x in xs]


def layer_costs(name: str, params: dict[str, Any], xs: list[TensorType]) -> tuple[int, int]:
    """(MACs, other FLOPs) of one layer at SIZES."""
    layer = registry()[name]
    p = layer.Params.model_validate(params)
    out = layer.infer(p, xs)
    ins, (o,) = shapes(xs, SIZES), shapes([out], SIZES)
    return layer.macs(p, ins, o), layer.other_flops(p, ins, o)


# Hand-written expectations (beside the generated ones below) -----------------------------

HAND = [
    # linear 5 -> 7 on 2 rows: 2·5·7 MACs; the bias add is 1 other FLOP per output element
    ("linear", {"out": 7}, [tensor("batch", 5)], 70, 14),
    ("linear", {"out": 3, "bias": False}, [tensor("batch", "seq", 4)], 2 * 5 * 4 * 3, 0),
    # conv 3x3, 3 -> 8 channels on 9x11: output 2x8x7x9 = 1008 elements, each 3·3·3 MACs
    ("conv2d", {"out": 8, "kernel": 3}, [tensor("batch", 3, "h", "w")], 1008 * 27, 1008),
    # grouped: groups 4 over 4 channels, 3x3 dilated 'same': 2x8x9x11 outputs, 1·9 MACs each
    (
        "conv2d",
        {"out": 8, "kernel": 3, "padding": "same", "dilation": 2, "groups": 4},
        [tensor("batch", 4, "h", "w")],
        2 * 8 * 9 * 11 * 9,
        2 * 8 * 9 * 11,
    ),
    # transposed: each of the 2x10 input elements meets 16 output channels through 4x4
    ("conv_transpose2d", {"out": 16, "kernel": 4}, [tensor("batch", 10, 1, 1)], 20 * 16 * 16, 2 * 16 * 4 * 4),
    # attention d=16, 4 heads, 2x5 tokens: Q, K, V, out projections 4·10·16·16; QK^T and AV 2·2·5·5·16
    ("multihead_attention", {"heads": 4}, [tensor("batch", "seq", 16)], 10240 + 1600, 640 + 200 + 3 * 200),
    # LSTM 5 -> 8: per step and row 4·8·(5 + 8) MACs; cell 13 ops + 8 biases per hidden unit
    ("lstm", {"hidden": 8}, [tensor("batch", "seq", 5)], 4 * 8 * 13 * 10, 5 * 21 * 16),
    # encoder layer d=16, ff 64: attention as above, feed-forward 2·10·16·64
    (
        "transformer_encoder_layer",
        {"heads": 4, "dropout": 0.0},
        [tensor("batch", "seq", 16)],
        11840 + 20480,
        1440 + (10 * 64 + 160) + 640 + 2 * (160 + 7 * 160),
    ),
    # no MACs: normalization, pooling, merges, activations
    ("batch_norm", {}, [tensor("batch", 3, "h", "w")], 0, 2 * 594),
    ("layer_norm", {}, [tensor("batch", "seq", 8)], 0, 7 * 80),
    ("max_pool2d", {"kernel": 2}, [tensor("batch", 3, "h", "w")], 0, 2 * 3 * 4 * 5 * 4),
    ("avg_pool2d", {"kernel": 2}, [tensor("batch", 3, "h", "w")], 0, 2 * 3 * 4 * 5 * 5),
    ("global_avg_pool", {}, [tensor("batch", 3, "h", "w")], 0, 594 + 6),
    ("add", {}, [tensor("batch", "seq", 4)] * 3, 0, 2 * 40),
    ("multiply", {}, [tensor("batch", 6), tensor("batch", 6)], 0, 12),
    ("relu", {}, [tensor("batch", 6)], 0, 12),
    ("softmax", {}, [tensor("batch", 6)], 0, 36),
    ("embedding", {"num": 10, "dim": 4}, [tensor("batch", "seq", dtype="int64")], 0, 0),
    ("dropout", {}, [tensor("batch", 6)], 0, 0),
]


@pytest.mark.parametrize(("name", "params", "xs", "macs", "other"), HAND, ids=[h[0] for h in HAND])
def test_hand_written_costs(
    name: str, params: dict[str, Any], xs: list[TensorType], macs: int, other: int
) -> None:
    assert layer_costs(name, params, xs) == (macs, other)


def test_adaptive_pool_counts_each_window() -> None:
    # torch's windows over 9 rows into 2: [0, 5) and [4, 9); over 11 columns into 3: [0, 4),
    # [3, 8), [7, 11): 10 rows x 13 columns read, plus one division per output, per plane
    assert costs.adaptive_window([9, 11], [2, 3], planes=2 * 4) == 8 * 10 * 13 + 8 * 6


def test_one_rule_per_operation_inside_composite_layers() -> None:
    """A layer norm, a residual add or an activation costs the same inside a transformer layer
    as alone: the encoder layer's other FLOPs are its parts'."""
    x = [tensor("batch", "seq", 16)]
    hidden = [tensor("batch", "seq", 64)]
    parts = [
        layer_costs("multihead_attention", {"heads": 4}, x)[1],
        layer_costs("linear", {"out": 64}, x)[1],
        layer_costs("relu", {}, hidden)[1],
        layer_costs("linear", {"out": 16}, hidden)[1],
        2 * layer_costs("add", {}, x * 2)[1],
        2 * layer_costs("layer_norm", {}, x)[1],
    ]
    assert layer_costs("transformer_encoder_layer", {"heads": 4, "dim_feedforward": 64}, x)[1] == sum(parts)


# Every registered layer against FlopCounterMode ------------------------------------------

torch = pytest.importorskip("torch")

from flopcount import GROUPED_WEIGHT_GRADIENT, HIDDEN_FROM_COUNTER, counter_overcount, step_flops  # noqa: E402

from archspec.backends.torch.ops import call_fn, make_module  # noqa: E402

CASES = [
    pytest.param(layer, params, xs, id=f"{name}-{i}")
    for name, layer in sorted(registry().items())
    for i, (params, xs) in enumerate(layer.examples)
]
# (inputs require grad, parameters trainable): a middle layer, a first layer, a frozen layer
GRADS = {"middle": (True, True), "first": (False, True), "frozen": (True, False)}


def test_known_misses_name_registered_layers() -> None:
    assert set(HIDDEN_FROM_COUNTER) | set(GROUPED_WEIGHT_GRADIENT) <= set(registry())


@pytest.mark.parametrize("grads", GRADS)
@pytest.mark.parametrize(("layer", "params", "xs"), CASES)
def test_layer_costs_match_flop_counter(layer, params, xs, grads: str) -> None:  # type: ignore[no-untyped-def]
    """Forward MACs are FlopCounterMode's forward count halved, backward MACs its backward
    count halved, for inputs and parameters that do or do not require a gradient. The layers in
    HIDDEN_FROM_COUNTER are counted on the CPU kernels torch's counter sees (tests/flopcount.py)."""
    inputs_grad, trainable = GRADS[grads]
    hidden = layer.name in HIDDEN_FROM_COUNTER  # only these run on the kernels the counter sees
    p = layer.Params.model_validate(params)
    if layer.tensor(p) is not None:  # a parameter or buffer node computes nothing
        out = shapes([layer.infer(p, xs)], SIZES)[0]
        assert layer.macs(p, [], out) == 0 and layer.other_flops(p, [], out) == 0
        return
    ins, (out,) = shapes(xs, SIZES), shapes([layer.infer(p, xs)], SIZES)
    g = torch.Generator().manual_seed(0)
    tensors = []
    for x, shape in zip(xs, ins, strict=True):
        if x.dtype.startswith("int"):
            tensors.append(torch.randint(0, 5, shape, generator=g, dtype=getattr(torch, x.dtype)))
        elif x.dtype == "bool":  # a mask
            tensors.append(torch.rand(shape, generator=g) > 0.5)
        else:
            t = torch.randn(shape, generator=g, dtype=getattr(torch, x.dtype))
            tensors.append(t.requires_grad_(inputs_grad))
    ctor = layer.torch(p, xs)
    if ctor is None:
        fn = layer.torch_fn(p)
        forward, backward = step_flops(lambda: call_fn(fn, tensors), visible=hidden)
    else:
        module = make_module(ctor).train()  # eval mode may take fused paths the counter misses
        for name, w in module.named_parameters():
            w.requires_grad_(trainable and name not in layer.frozen)
        forward, backward = step_flops(lambda: module(*tensors), visible=hidden)
    flags = [inputs_grad and not x.dtype.startswith("int") for x in xs]
    weights = {name: trainable and name not in layer.frozen for name in layer.weights(p, xs)}
    macs, expected = layer.macs(p, ins, out), 0
    if layer.output_requires_grad(p, flags, any(weights.values())):
        expected = costs.backward_macs(layer.products(p, ins, out), flags, weights)
        groups = ctor.kwargs.get("groups", 1) if ctor is not None else 1  # a depthwise conv infers it
        expected += counter_overcount(layer.name, groups, macs, weights.get("weight", False))
    assert (forward, backward) == (2 * macs, 2 * expected)
