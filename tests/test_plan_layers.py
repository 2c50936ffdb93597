"""Each layer type's memory rule against what autograd really saves (CPU, float32).

For every registered layer's examples (and a few settings the shipped specs use), at two sizes,
with the inputs carrying a gradient and not: the bytes of the distinct storages the layer's
rule names equal, exactly, the bytes of the distinct storages a real train-mode forward saves
(``saved_tensors_hooks``; parameters and buffers excluded)."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.layers import registry
from archspec.pipeline import analyze, load_text
from archspec.shapes import TensorType, tensor

torch = pytest.importorskip("torch")

from plan_measure import layer_spec, saved_storages  # noqa: E402

import archspec  # noqa: E402
from archspec.passes.memory import memory_graph  # noqa: E402

SIZES = [{"batch": 2, "seq": 5, "h": 9, "w": 11}, {"batch": 3, "seq": 7, "h": 12, "w": 8}]
SEQ = [tensor("batch", "seq", 16)]
# Settings the shipped specs use that the registry's examples do not cover.
EXTRA: list[tuple[str, dict[str, Any], list[TensorType]]] = [
    ("transformer_encoder_layer", {"heads": 4}, SEQ),
    (
        "transformer_encoder_layer",
        {"heads": 4, "activation": "gelu", "norm_first": True, "causal": True},
        SEQ,
    ),
    ("transformer_encoder_layer", {"heads": 2, "dropout": 0.2, "bias": False, "dim_feedforward": 8}, SEQ),
    ("transformer_decoder_layer", {"heads": 4, "norm_first": True}, [*SEQ, tensor("batch", 6, 16)]),
    ("multihead_attention", {"heads": 4, "dropout": 0.1, "causal": True}, SEQ),
    ("multihead_attention", {"heads": 2, "dropout": 0.1}, [*SEQ, tensor("batch", 6, 12)]),
    ("positional_encoding", {"kind": "learned", "max_len": 32, "dropout": 0.1}, SEQ),
    ("dropout", {"p": 1.0}, [tensor("batch", 6)]),
    ("dropout", {"p": 0.0}, [tensor("batch", 6)]),
    ("gru", {"hidden": 6, "layers": 2, "dropout": 0.1, "output": "last"}, [tensor("batch", "seq", 1)]),
    ("rnn", {"hidden": 5, "layers": 3, "dropout": 0.2}, [tensor("batch", "seq", 4)]),
    ("lstm", {"hidden": 7, "layers": 2, "dropout": 0.3, "output": "last"}, [tensor("batch", "seq", 3)]),
    ("lstm", {"hidden": 12, "bidirectional": True, "output": "hidden"}, [tensor("batch", "seq", 8)]),
    ("conv2d", {"out": 4, "kernel": 4, "padding": "same"}, [tensor("batch", 3, "h", "w")]),
    ("multiply", {}, [tensor("batch", 6), tensor("batch", 6)]),
]
CASES = [
    pytest.param(name, params, xs, id=f"{name}-{i}")
    for name, layer in sorted(registry().items())
    for i, (params, xs) in enumerate(layer.examples)
] + [pytest.param(n, p, xs, id=f"{n}-extra{i}") for i, (n, p, xs) in enumerate(EXTRA)]


def planned(spec: archspec.Spec, sizes: dict[str, int], grad: bool, attention: str = "fused") -> int:
    a = analyze(spec, sizes=sizes)
    g = memory_graph(a, act_bytes=4, device="cpu", input_grad=grad, attention=attention)  # type: ignore[arg-type]
    kept: dict[str, int] = {}
    for layer in g.layers:
        kept |= layer.kept
    return sum(kept.values())


@pytest.mark.parametrize("grad", [True, False], ids=["grad", "data"])
@pytest.mark.parametrize(("name", "params", "xs"), CASES)
def test_layer_memory_matches_autograd(
    name: str, params: dict[str, Any], xs: list[TensorType], grad: bool
) -> None:
    spec = load_text(layer_spec(name, params, xs), fmt="json")
    symbols = {str(d) for t in xs for d in t.shape if not isinstance(d, int)}
    for all_sizes in SIZES:
        sizes = {k: v for k, v in all_sizes.items() if k in symbols}
        module = archspec.build(spec, seed=0).train()
        inputs = archspec.example_inputs(spec, sizes=sizes)
        inputs = tuple(x.requires_grad_(grad) if x.is_floating_point() else x for x in inputs)
        measured = sum(saved_storages(module, inputs).values())
        assert planned(spec, sizes, grad) == measured, (sizes, measured)


ATTENTION = [c for c in CASES if "attention" in c.values[0] or "transformer" in c.values[0]]


@pytest.mark.parametrize(("name", "params", "xs"), ATTENTION)
def test_math_attention_memory_matches_autograd(
    name: str, params: dict[str, Any], xs: list[TensorType]
) -> None:
    """The math path of scaled dot-product attention (what eager attention code keeps)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    spec = load_text(layer_spec(name, params, xs), fmt="json")
    symbols = {str(d) for t in xs for d in t.shape if not isinstance(d, int)}
    sizes = {k: v for k, v in SIZES[0].items() if k in symbols}
    module = archspec.build(spec, seed=0).train()
    inputs = archspec.example_inputs(spec, sizes=sizes)
    with sdpa_kernel(SDPBackend.MATH):
        measured = sum(saved_storages(module, inputs).values())
    assert planned(spec, sizes, False, "math") == measured
